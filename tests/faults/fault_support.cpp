#include "fault_support.hpp"

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

namespace flowmetrics::testing {

using namespace std::chrono_literals;

const char* to_string(Merge merge) {
  return merge == Merge::aggregate ? "aggregate" : "replace";
}

Record make_record(std::int64_t flow, std::int64_t timestamp_ms, double value, std::int64_t packets, std::int64_t bytes,
                   std::int64_t bucket_ms) {
  const std::string src = "10." + std::to_string((flow / 62'500) % 250) + "." + std::to_string((flow / 250) % 250) +
                          "." + std::to_string(flow % 250);
  const int sport = 1024 + static_cast<int>(flow % 7);
  Record r;
  r.value = value;
  r.packets = packets;
  r.bytes = bytes;
  r.line = R"({"source_ip":")" + src + R"(","dest_ip":"192.168.0.1","source_port":)" + std::to_string(sport) +
           R"(,"dest_port":443,"protocol":"tcp","timestamp":)" + std::to_string(timestamp_ms) + R"(,"value":)" +
           std::to_string(value) + R"(,"packets":)" + std::to_string(packets) + R"(,"bytes":)" + std::to_string(bytes) +
           "}";
  const std::int64_t stored_ts = bucket_ms > 0 ? timestamp_ms - timestamp_ms % bucket_ms : timestamp_ms;
  r.id = src + "|192.168.0.1|" + std::to_string(sport) + "|443|TCP|" + std::to_string(stored_ts);
  return r;
}

Record make_invalid_record(std::size_t variant) {
  static const char* kBad[] = {
      R"({"source_ip":"10.0.0.999","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","timestamp":1732530000000,"value":1})",
      R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","value":1})",
      R"(not json at all)",
      R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":70000,"dest_port":2,"protocol":"tcp","timestamp":1732530000000,"value":1})",
  };
  Record r;
  r.line = kBad[variant % 4];
  return r;
}

std::vector<Record> make_workload(const WorkloadSpec& spec) {
  std::vector<Record> records;
  records.reserve(spec.records);
  std::mt19937 rng(spec.seed);
  const std::int64_t lanes = static_cast<std::int64_t>(std::max<std::size_t>(1, spec.lanes));
  const std::int64_t flows_per_lane = std::max<std::int64_t>(1, spec.flows / lanes);
  const std::int64_t span_ms = spec.bucket_ms > 0 ? 4 * spec.bucket_ms : 240'000;
  for (std::size_t i = 0; i < spec.records; ++i) {
    if (spec.invalid_every != 0 && i % spec.invalid_every == spec.invalid_every - 1) {
      records.push_back(make_invalid_record(i / spec.invalid_every));
      continue;
    }
    const std::int64_t lane = static_cast<std::int64_t>(i) % lanes;
    const std::int64_t flow = spec.first_flow + lane + lanes * static_cast<std::int64_t>(rng() % flows_per_lane);
    const std::int64_t ts = kBaseMs + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span_ms));
    const double value = 0.5 * static_cast<double>(rng() % 2000);
    const std::int64_t packets = rng() % 100, bytes = rng() % 100'000;
    records.push_back(make_record(flow, ts, value, packets, bytes, spec.bucket_ms));
  }
  return records;
}

std::string ndjson(const std::vector<Record>& records, std::size_t begin, std::size_t end, std::size_t lane,
                   std::size_t lanes) {
  std::string body;
  for (std::size_t i = begin; i < end && i < records.size(); ++i) {
    if (i % lanes != lane) continue;
    body += records[i].line;
    body += '\n';
  }
  return body;
}

void ExpectedTotals::add(const Record& record) {
  if (!record.valid()) return;
  Expected& e = documents_[record.id];
  e.sum += record.value;
  e.min = std::min(e.min, record.value);
  e.max = std::max(e.max, record.value);
  e.last = record.value;
  ++e.count;
  e.packets += record.packets;
  e.bytes += record.bytes;
  ++records_;
}

void ExpectedTotals::add(const std::vector<Record>& records, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end && i < records.size(); ++i) add(records[i]);
}

Comparison compare(const std::map<std::string, StoredMetric>& stored, const ExpectedTotals& expected, Merge merge) {
  Comparison c;
  c.documents = stored.size();
  c.stored_records = merge == Merge::aggregate ? 0 : -1;
  std::size_t listed = 0;
  const auto note = [&](const std::string& text) {
    if (listed++ < 10) c.problems += text + "\n";
  };
  for (const auto& [id, d] : stored) {
    if (merge == Merge::aggregate) c.stored_records += d.count;
    const auto it = expected.documents().find(id);
    if (it == expected.documents().end()) {
      ++c.extra;
      note("unexpected document " + id + " (value " + std::to_string(d.value) + ", count " + std::to_string(d.count) +
           ")");
      continue;
    }
    const Expected& e = it->second;
    std::ostringstream diff;
    if (merge == Merge::aggregate) {
      if (d.value != e.sum || d.count != e.count || d.min != e.min || d.max != e.max || d.packets != e.packets ||
          d.bytes != e.bytes) {
        diff << id << ": stored value/count/min/max/packets/bytes " << d.value << "/" << d.count << "/" << d.min << "/"
             << d.max << "/" << d.packets << "/" << d.bytes << ", expected " << e.sum << "/" << e.count << "/" << e.min
             << "/" << e.max << "/" << e.packets << "/" << e.bytes;
      }
    } else if (d.value != e.last) {
      diff << id << ": stored value " << d.value << ", expected the last one sent, " << e.last;
    }
    if (!diff.str().empty()) {
      ++c.wrong;
      note(diff.str());
    }
  }
  for (const auto& [id, e] : expected.documents()) {
    if (stored.count(id) == 0) {
      ++c.missing;
      note("missing document " + id + " (" + std::to_string(e.count) + " records)");
    }
  }
  return c;
}

Comparison read_and_compare(const std::string& uri, const std::string& collection, const ExpectedTotals& expected,
                            Merge merge) {
  try {
    return compare(read_metrics(uri, collection), expected, merge);
  } catch (const std::exception& e) {
    Comparison c = compare({}, expected, merge);
    c.problems = std::string("read failed: ") + e.what() + "\n" + c.problems;
    return c;
  }
}

Comparison wait_for_exact(const std::string& uri, const std::string& collection, const ExpectedTotals& expected,
                          Merge merge, std::chrono::seconds stall) {
  const auto started = std::chrono::steady_clock::now();
  const auto hang_guard = started + 40min;
  auto last_change = started;
  auto interval = std::chrono::milliseconds(500);
  Comparison c;
  std::tuple<std::int64_t, std::size_t, std::size_t, std::size_t, std::size_t> seen{-2, 0, 0, 0, 0};
  for (;;) {
    c = read_and_compare(uri, collection, expected, merge);
    if (c.exact() || (merge == Merge::aggregate && c.stored_records > expected.records())) return c;
    const auto now = std::chrono::steady_clock::now();
    const auto state = std::make_tuple(c.stored_records, c.documents, c.missing, c.extra, c.wrong);
    if (state != seen) {
      seen = state;
      last_change = now;
    }
    if (now - last_change > stall || now > hang_guard) {
      c.problems = "no change for " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - last_change).count()) +
                   " s after " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - started).count()) +
                   " s of waiting\n" + c.problems;
      return c;
    }
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 3 / 2, std::chrono::milliseconds(5000));
  }
}

int stop_agent(CollectorProcess& agent, std::chrono::seconds timeout) {
  agent.process().signal(SIGTERM);
  if (const auto code = agent.process().wait(timeout)) return *code;
  kill_agent(agent);
  return -1;
}

void kill_agent(CollectorProcess& agent) {
  agent.process().signal(SIGKILL);
  agent.process().wait(30s);
}

HttpAnswer post_records(httplib::Client& client, const std::string& body, const std::string& idempotency_key) {
  httplib::Headers headers;
  if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
  HttpAnswer answer;
  auto response = client.Post("/v1/metrics", headers, body, "application/x-ndjson");
  if (!response) return answer;
  answer.status = response->status;
  answer.body = response->body;
  answer.retry_after = response->get_header_value("Retry-After");
  answer.replayed = response->get_header_value("Idempotent-Replayed") == "true";
  std::smatch m;
  if (std::regex_search(answer.body, m, std::regex(R"("accepted"\s*:\s*(\d+))"))) answer.accepted = std::stoll(m[1]);
  if (std::regex_search(answer.body, m, std::regex(R"("rejected"\s*:\s*(\d+))"))) answer.rejected = std::stoll(m[1]);
  return answer;
}

std::pair<int, std::string> http_get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  auto response = client.Get(path);
  if (!response) return {-1, {}};
  return {response->status, response->body};
}

std::uintmax_t directory_bytes(const std::filesystem::path& directory) {
  std::error_code ec;
  std::uintmax_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

std::uint32_t fault_seed(const std::string& test) {
  std::uint32_t seed = 0;
  if (const char* text = std::getenv("FLOWMETRICS_FAULT_SEED"); text != nullptr && *text != '\0') {
    seed = static_cast<std::uint32_t>(std::stoul(text));
  } else {
    seed = std::random_device{}();
  }
  std::cout << "[ seed     ] " << test << ": " << seed << " (FLOWMETRICS_FAULT_SEED=" << seed << " repeats it)\n"
            << std::flush;
  return seed;
}

void print_fault_result(const std::string& test, std::size_t sent, std::int64_t acknowledged,
                        const Comparison& final_read, const ExpectedTotals& expected, double seconds,
                        const std::string& extra) {
  std::ostringstream line;
  line << "FAULT-RESULT " << test << " sent=" << sent << " acknowledged=" << acknowledged;
  if (final_read.stored_records >= 0) {
    line << " written=" << final_read.stored_records << " difference=" << final_read.stored_records - acknowledged;
  } else {
    line << " written=n/a(replace)";
  }
  line << " documents=" << final_read.documents << "/" << expected.documents().size()
       << " missing=" << final_read.missing << " extra=" << final_read.extra << " wrong=" << final_read.wrong
       << " wall=" << static_cast<long>(seconds * 10) / 10.0 << "s";
  if (!extra.empty()) line << " " << extra;
  std::cout << line.str() << std::endl;
}

}  // namespace flowmetrics::testing
