// Query latency and the write-side cost of the rollups, against a live server.
//
//   query_benchmark --uri URI --flows F --minutes M [--rollups on|off] [--repetitions R]
//                   [--five-tuple-hours on|off]   (default: the agent's, off on FerretDB)
//                   [--every K --dense D]   (write every K-th minute only, and every minute
//                                  within D minutes of either end: a day of 2,000 flows with
//                                  --minutes 1440 --every 60 --dense 60. Every hour and every
//                                  minute a 24 h query reads then holds its 2,000 values, as in
//                                  a real day, in 24 + 2 x 60 writes)
//                   [--ranges 1h,24h,7d] [--queries top10,top10_filtered,series60]
//                   [--write off]   (query what an earlier run with the same arguments wrote)
//                   [--timeout-minutes N]   (the agent's operation timeout, default 10)
//
// Writes F active flows for each of M minutes ending at the current minute (F x M minute
// documents) the way the pipeline does -- upsert_aggregates per flush of one minute, then
// upsert_rollups, under one stamp -- and reports the write rate and the process CPU per
// million records; then times top-10 (unfiltered by source_ip: the totals tiers; filtered:
// the five-tuple tiers) and a 60-point series for the last 1 h, 24 h and 7 d, each range
// ending now and starting at a whole minute, as `flowmetrics top --last` asks (ranges longer
// than the data are still asked: the tiers are planned on the range, not on the data).
// Prints one JSON object per line (bench/query/run.py collects them).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "flowmetrics/filter.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "flowmetrics/query.hpp"

using namespace flowmetrics;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri = "mongodb://127.0.0.1:27017/", collection = "query_bench";
  std::size_t flows = 2000, minutes = 60, repetitions = 5, every = 1, dense = 0;
  bool rollups = true, write = true;
  std::optional<bool> five_tuple_hours;
  std::string ranges = "1h,24h,7d", queries = "top10,top10_filtered,series60";
  // A whole-collection query on FerretDB at a million documents takes minutes, more under load.
  std::chrono::minutes timeout(10);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--uri") uri = value;
    if (key == "--collection") collection = value;
    if (key == "--flows") flows = std::stoul(value);
    if (key == "--minutes") minutes = std::stoul(value);
    if (key == "--repetitions") repetitions = std::stoul(value);
    if (key == "--every") every = std::max<std::size_t>(1, std::stoul(value));
    if (key == "--rollups") rollups = value == "on";
    if (key == "--five-tuple-hours") five_tuple_hours = value == "on";
    if (key == "--dense") dense = std::stoul(value);
    if (key == "--write") write = value == "on";
    if (key == "--ranges") ranges = value;
    if (key == "--queries") queries = value;
    if (key == "--timeout-minutes") timeout = std::chrono::minutes(std::stol(value));
  }
  AgentOptions options;
  options.merge_policy = MergePolicy::aggregate;
  options.rollups.enabled = rollups;
  options.rollups.five_tuple_hours = five_tuple_hours;
  options.rollups.minute_totals_retention.reset();  // every minute kept, however long the run
  options.operation_timeout = timeout;
  options.pool.min_size = 1;
  MetricsAgent agent(uri, "flowmetrics_bench", collection, options);
  agent.create_metrics_indexes();

  const std::int64_t kMinute = 60'000;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::int64_t last_minute = now - now % kMinute;
  const std::int64_t first_minute = last_minute - static_cast<std::int64_t>(minutes - 1) * kMinute;
  std::mt19937 rng(42);
  struct Flow {
    std::string source, dest;
    std::uint16_t sport, dport;
    std::string protocol;
  };
  std::vector<Flow> active;
  for (std::size_t f = 0; f < flows; ++f) {
    active.push_back(
        {"10." + std::to_string(f / 65536 % 256) + "." + std::to_string(f / 256 % 256) + "." + std::to_string(f % 256),
         "192.168." + std::to_string(rng() % 16) + "." + std::to_string(rng() % 256),
         static_cast<std::uint16_t>(1024 + rng() % 60000),
         static_cast<std::uint16_t>(std::vector<int>{53, 80, 443, 8080, 22}[rng() % 5]),
         rng() % 3 == 0 ? "UDP" : "TCP"});
  }
  const double cpu_before = cpu_seconds();
  const auto write_start = Clock::now();
  std::uint64_t sequence = 0;
  std::size_t written = 0;
  const auto dense_ms = static_cast<std::int64_t>(dense) * kMinute;
  for (std::int64_t t = first_minute; t <= last_minute; t += kMinute) {
    const bool kept = (t - first_minute) % (static_cast<std::int64_t>(every) * kMinute) == 0 ||
                      t < first_minute + dense_ms || t > last_minute - dense_ms;
    if (!kept) continue;
    ++written;
    if (!write) continue;
    std::vector<KeyedAggregate> batch;
    batch.reserve(active.size());
    for (const Flow& f : active) {
      MetricKey key{f.source, f.dest, f.sport, f.dport, f.protocol, t};
      MetricAggregate a;
      a.add(Metric{f.source, f.dest, f.sport, f.dport, f.protocol,
                   std::chrono::system_clock::time_point(std::chrono::milliseconds(t)), 1.0, 1 + rng() % 100,
                   64 + rng() % 100'000, 1});
      std::string id = encode_document_id(key);
      batch.push_back(KeyedAggregate{std::move(key), std::move(id), a});
    }
    const WriteStamp stamp{"bench-p0", ++sequence};
    for (std::size_t begin = 0; begin < batch.size(); begin += 5'000) {
      const std::size_t end = std::min(batch.size(), begin + 5'000);
      agent.upsert_aggregates(std::span(batch).subspan(begin, end - begin), std::nullopt, &stamp);
    }
    agent.upsert_rollups(batch, std::nullopt, &stamp);
  }
  const double write_seconds = std::chrono::duration<double>(Clock::now() - write_start).count();
  const double records = static_cast<double>(flows * written);
  if (write) {
    std::printf(
        "{\"kind\": \"write\", \"rollups\": %s, \"documents\": %zu, \"records_per_s\": %.1f, \"cpu_s_per_million\": "
        "%.2f}\n",
        rollups ? "true" : "false", flows * written, records / write_seconds,
        (cpu_seconds() - cpu_before) / records * 1e6);
    std::fflush(stdout);
  }

  const Filter filter = parse_filter("dest_port = 443 and protocol = tcp");
  const auto in = [](const std::string& list, const std::string& item) {
    return ("," + list + ",").find("," + item + ",") != std::string::npos;
  };
  for (const auto& [name, length] : std::vector<std::pair<std::string, std::int64_t>>{
           {"1h", 60 * kMinute}, {"24h", 1440 * kMinute}, {"7d", 7 * 1440 * kMinute}}) {
    if (!in(ranges, name)) continue;
    for (const std::string kind : {"top10", "top10_filtered", "series60"}) {
      if (!in(queries, kind)) continue;
      std::vector<double> ms;
      std::string tiers;
      for (std::size_t r = 0; r < repetitions; ++r) {
        // As `--last`: ends now, starts at the first whole minute within the length.
        const std::int64_t to =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const std::int64_t start_ms = to - length;
        const std::int64_t from = start_ms % kMinute == 0 ? start_ms : start_ms - start_ms % kMinute + kMinute;
        const auto start = Clock::now();
        QueryStats stats;
        if (kind == "series60") {
          SeriesQuery q;
          q.range = {from, to};
          q.points = 60;
          stats = agent.series(q).stats;
        } else {
          TopQuery q;
          q.dimensions = {parse_dimension("source_ip")};
          q.range = {from, to};
          if (kind == "top10_filtered") q.filter = filter;
          stats = agent.top(q).stats;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        tiers.clear();
        for (QueryTier t : stats.tiers) tiers += (tiers.empty() ? "" : "+") + std::string(to_string(t));
      }
      std::printf(
          "{\"kind\": \"%s\", \"range\": \"%s\", \"rollups\": %s, \"documents\": %zu, \"p50_ms\": %.1f, "
          "\"p95_ms\": %.1f, \"repetitions\": %zu, \"tiers\": \"%s\"}\n",
          kind.c_str(), name.c_str(), rollups ? "true" : "false", flows * written, percentile(ms, 0.5),
          percentile(ms, 0.95), repetitions, tiers.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
