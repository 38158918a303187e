// Times single batch_upsert_metrics calls: each repetition writes `--metrics` new keys into
// a fresh collection (the insert path), then the same keys again (the update path), and
// reports the median metrics/s of each over the repetitions.
//
//   bench_upsert_call [--metrics N] [--repetitions R] [--policy replace|aggregate] [--new-keys-only]
//   --new-keys-only skips the update pass, which costs O(documents) per key on FerretDB.
//   MONGODB_URI selects the server (default mongodb://127.0.0.1:27017/).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "flowmetrics/metrics_agent.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<flowmetrics::Metric> make_metrics(int count, double value) {
  std::vector<flowmetrics::Metric> metrics;
  metrics.reserve(static_cast<std::size_t>(count));
  const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'732'530'000'000));
  for (int i = 0; i < count; ++i) {
    metrics.push_back({"10.0." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256),
                       "192.168.1." + std::to_string(i % 256), 1024 + i % 60000, 443, "TCP", ts, value});
  }
  return metrics;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 10'000;
  int repetitions = 5;
  bool new_keys_only = false;
  flowmetrics::AgentOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--new-keys-only") {
      new_keys_only = true;
      continue;
    }
    if (i + 1 == argc) break;
    ++i;
    if (flag == "--metrics") count = std::atoi(argv[i]);
    if (flag == "--repetitions") repetitions = std::atoi(argv[i]);
    if (flag == "--policy") options.merge_policy = *flowmetrics::parse_merge_policy(argv[i]);
  }
  const char* env = std::getenv("MONGODB_URI");
  const std::string uri = env != nullptr ? env : "mongodb://127.0.0.1:27017/";
  try {
    std::vector<double> inserts, updates;
    const auto first = make_metrics(count, 1.0);
    const auto second = make_metrics(count, 2.0);
    for (int r = 0; r < repetitions; ++r) {
      flowmetrics::MetricsAgent agent(
          uri, "flowmetrics_bench",
          "upsert_call_" + std::to_string(r) + "_" + std::to_string(Clock::now().time_since_epoch().count()), options);
      agent.create_metrics_indexes();
      auto start = Clock::now();
      (void)agent.batch_upsert_metrics(first);
      inserts.push_back(count / std::chrono::duration<double>(Clock::now() - start).count());
      if (new_keys_only) continue;
      start = Clock::now();
      (void)agent.batch_upsert_metrics(second);
      updates.push_back(count / std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::cout << "one call of " << count << " metrics (" << flowmetrics::to_string(options.merge_policy) << "), "
              << repetitions << " repetitions, median [min, max]:\n";
    std::cout << "  new keys:      " << static_cast<long>(median(inserts)) << " metrics/s ["
              << static_cast<long>(*std::min_element(inserts.begin(), inserts.end())) << ", "
              << static_cast<long>(*std::max_element(inserts.begin(), inserts.end())) << "]\n";
    if (updates.empty()) return 0;
    std::cout << "  existing keys: " << static_cast<long>(median(updates)) << " metrics/s ["
              << static_cast<long>(*std::min_element(updates.begin(), updates.end())) << ", "
              << static_cast<long>(*std::max_element(updates.begin(), updates.end())) << "]\n";
  } catch (const flowmetrics::Error& e) {
    std::cerr << "bench_upsert_call: " << e.what() << '\n';
    return 1;
  }
}
