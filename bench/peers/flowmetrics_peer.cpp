// flowmetrics_peer: the benchmark suite's flowmetrics peer, the library's public API used as
// the README shows it (contract in bench/peers/README.md).
//
//   flowmetrics_peer --uri URI --db DB --collection COLL --workload FILE.tsv --batch B
//                    --concurrency C [--skip-indexes] [--filter fields|id]
//                    [--policy replace|aggregate]
//
// One MetricsAgent with the default pool options (max 150, min 25, idle 1 h); C threads take
// consecutive batches of B metrics from a shared counter, one batch_upsert_metrics call per
// batch. --filter is accepted and ignored: flowmetrics always finds documents by _id.
// Prints one JSON line on stdout; exits 1 on any error, with the reason on stderr.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "flowmetrics/metrics_agent.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string uri, db, collection, workload;
  std::size_t batch = 1000;
  std::size_t concurrency = 1;
  bool skip_indexes = false;
  flowmetrics::MergePolicy policy = flowmetrics::MergePolicy::replace;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "flowmetrics_peer: " << message << '\n';
  std::exit(1);
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Args parse_args(int argc, char** argv) {
  const char* usage =
      "usage: flowmetrics_peer --uri URI --db DB --collection COLL --workload FILE --batch B --concurrency C "
      "[--skip-indexes] [--filter fields|id] [--policy replace|aggregate]";
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--skip-indexes") {
      args.skip_indexes = true;
      continue;
    }
    if (i + 1 == argc) fail(usage);
    const std::string_view value = argv[++i];
    if (flag == "--uri") {
      args.uri = value;
    } else if (flag == "--db") {
      args.db = value;
    } else if (flag == "--collection") {
      args.collection = value;
    } else if (flag == "--workload") {
      args.workload = value;
    } else if (flag == "--batch" || flag == "--concurrency") {
      const auto n = parse_number<std::size_t>(value);
      if (!n || *n == 0) fail(std::string(flag) + " must be a positive integer");
      (flag == "--batch" ? args.batch : args.concurrency) = *n;
    } else if (flag == "--filter") {
      if (value != "fields" && value != "id") fail("--filter must be fields or id");
    } else if (flag == "--policy") {
      const auto policy = flowmetrics::parse_merge_policy(value);
      if (!policy) fail("--policy must be replace or aggregate");
      args.policy = *policy;
    } else {
      fail(usage);
    }
  }
  if (args.uri.empty() || args.db.empty() || args.collection.empty() || args.workload.empty()) fail(usage);
  return args;
}

std::vector<flowmetrics::Metric> load_workload(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open workload " + path);
  std::vector<flowmetrics::Metric> metrics;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::string_view fields[7];
    std::size_t count = 0;
    std::string_view rest = line;
    while (count < 7) {
      const auto tab = rest.find('\t');
      fields[count++] = rest.substr(0, tab);
      if (tab == std::string_view::npos) break;
      rest.remove_prefix(tab + 1);
    }
    const auto sport = count == 7 ? parse_number<int>(fields[2]) : std::nullopt;
    const auto dport = count == 7 ? parse_number<int>(fields[3]) : std::nullopt;
    const auto ms = count == 7 ? parse_number<long long>(fields[5]) : std::nullopt;
    const auto value = count == 7 ? parse_number<double>(fields[6]) : std::nullopt;
    if (!sport || !dport || !ms || !value) fail(path + ":" + std::to_string(number) + ": not a workload line");
    metrics.push_back({std::string(fields[0]), std::string(fields[1]), *sport, *dport, std::string(fields[4]),
                       flowmetrics::Timestamp(std::chrono::milliseconds(*ms)), *value});
  }
  return metrics;
}

std::pair<double, double> cpu_times() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) fail("getrusage failed");
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

std::string describe(const flowmetrics::UpsertError& error) {
  std::string text = error.what();
  const auto& result = error.result();
  text += " (" + std::to_string(result.failed) + " failed, " + std::to_string(result.rejected) + " rejected)";
  for (std::size_t i = 0; i < std::min<std::size_t>(result.errors.size(), 3); ++i) {
    text += "; item " + std::to_string(result.errors[i].index) + ": " + result.errors[i].message;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  try {
    flowmetrics::AgentOptions options;
    options.merge_policy = args.policy;
    flowmetrics::MetricsAgent agent(args.uri, args.db, args.collection, options);
    if (!args.skip_indexes) agent.create_metrics_indexes();
    const std::vector<flowmetrics::Metric> metrics = load_workload(args.workload);
    if (metrics.empty()) fail("workload " + args.workload + " holds no metrics");
    const std::size_t batches = (metrics.size() + args.batch - 1) / args.batch;

    std::vector<double> latencies(batches);
    std::vector<Clock::time_point> starts(batches), ends(batches);
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> written{0};
    std::mutex error_mutex;
    std::string first_error;  // guarded by error_mutex

    const auto [user0, sys0] = cpu_times();
    {
      std::vector<std::jthread> workers;
      for (std::size_t w = 0; w < args.concurrency; ++w) {
        workers.emplace_back([&] {
          for (std::size_t i; (i = next.fetch_add(1)) < batches;) {
            const std::span<const flowmetrics::Metric> batch =
                std::span(metrics).subspan(i * args.batch, std::min(args.batch, metrics.size() - i * args.batch));
            std::string error;
            starts[i] = Clock::now();
            try {
              const auto result = agent.batch_upsert_metrics(batch);
              written += result.upserted + result.matched;
            } catch (const flowmetrics::UpsertError& e) {
              error = describe(e);
            } catch (const flowmetrics::Error& e) {
              error = e.what();
            }
            ends[i] = Clock::now();
            latencies[i] = std::chrono::duration<double, std::milli>(ends[i] - starts[i]).count();
            if (!error.empty()) {
              const std::lock_guard lock(error_mutex);
              if (first_error.empty()) first_error = "batch " + std::to_string(i) + ": " + error;
              next = batches;  // stop the other workers
              return;
            }
          }
        });
      }
    }
    const auto [user1, sys1] = cpu_times();
    if (!first_error.empty()) fail(first_error);

    const auto first = *std::min_element(starts.begin(), starts.end());
    const auto last = *std::max_element(ends.begin(), ends.end());
    std::sort(latencies.begin(), latencies.end());
    agent.close();

    std::printf(
        "{\"peer\": \"flowmetrics\", \"metrics\": %zu, \"batches\": %zu, \"seconds\": %.6f, \"p50_ms\": %.3f, "
        "\"p99_ms\": %.3f, \"documents_written\": %zu, \"cpu_user_s\": %.6f, \"cpu_sys_s\": %.6f}\n",
        metrics.size(), batches, std::chrono::duration<double>(last - first).count(), percentile(latencies, 0.50),
        percentile(latencies, 0.99), written.load(), user1 - user0, sys1 - sys0);
  } catch (const flowmetrics::Error& e) {
    fail(e.what());
  }
  return 0;
}
