#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "flowmetrics/agent_options.hpp"
#include "flowmetrics/error.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "pipeline/aggregate_writer.hpp"

namespace flowmetrics::commands {

// How a command wants its database: `required` fails at once when it cannot connect (the
// MetricsAgent constructor's contract); `in_background` keeps trying on a thread of its own
// while the spool takes the input (`flowmetrics serve`).
enum class DatabaseStart { required, in_background };

// The collector's side of the database, which may not be there yet. Owns the MetricsAgent
// once one could be made, and the thread that keeps trying until then: capped exponential
// backoff with jitter, one log line per change of state (not per attempt), the indexes created
// before the first write. As the pipeline's AggregateWriter it reports a batch as transiently
// failed (server_unreachable, never failed for good) until connected, so the writers keep
// everything in the spool and retry it with their own backoff.
//
// Thread safety: every method may be called from any thread.
class DatabaseLink final : public pipeline::AggregateWriter {
 public:
  struct Options {
    std::string uri, database, collection;
    AgentOptions agent;
    bool create_indexes = true;
    // The wait before attempt n+1 is drawn from [ceiling/2, ceiling], the ceiling doubling from
    // `first_retry` up to `max_retry`: collectors restarted together do not retry in step.
    std::chrono::milliseconds first_retry{500};
    std::chrono::milliseconds max_retry{30'000};
  };

  // What /readyz and /metrics show.
  struct Status {
    bool connected = false;
    std::uint64_t failed_attempts = 0;
    std::string last_error;  // empty when connected or before the first failure
    std::chrono::system_clock::time_point unreachable_since{};
  };

  // Tries once, now. `required`: throws flowmetrics::Error as the MetricsAgent constructor and
  // create_metrics_indexes() do. `in_background`: throws only Error(invalid_argument) (a
  // malformed URI or name, which no wait can fix); any other failure is logged and retried on
  // the link's thread.
  DatabaseLink(Options options, DatabaseStart start);
  ~DatabaseLink() override;  // close()
  DatabaseLink(const DatabaseLink&) = delete;
  DatabaseLink& operator=(const DatabaseLink&) = delete;

  // Until connected: every item fails with a retryable errc::server_unreachable, nothing sent.
  // Throws Error(agent_closed) after close(), as MetricsAgent does.
  UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) override;
  // MetricsAgent::upsert_rollups once connected; unconnected, as write().
  UpsertResult write_rollups(std::span<const KeyedAggregate> written, const WriteStamp* stamp) override;

  bool connected() const noexcept { return agent_.load() != nullptr; }
  // The connected agent, or null while connecting. Valid until close().
  MetricsAgent* agent() const noexcept { return agent_.load(); }
  Status status() const;

  // Stops connecting (waits for an attempt in progress) and closes the agent. Idempotent.
  void close() noexcept;

 private:
  void run();
  void attempt();  // connects and makes the indexes, or throws flowmetrics::Error
  void failed(const Error& error);
  // The answer while unconnected: every item transiently failed, nothing sent (or throws
  // agent_closed once closed).
  UpsertResult not_connected(std::size_t items);

  const Options options_;
  std::atomic<MetricsAgent*> agent_{nullptr};  // set once, to owned_, when it is ready
  std::unique_ptr<MetricsAgent> candidate_;    // connected but indexes not made yet; the link's thread only
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::unique_ptr<MetricsAgent> owned_;  // guarded by mu_ (agent_ points into it once set)
  Status status_;                        // guarded by mu_
  std::optional<errc> last_code_;        // guarded by mu_: the state last logged
  bool stopping_ = false;                // guarded by mu_
  bool closed_ = false;                  // guarded by mu_
  std::thread thread_;
};

}  // namespace flowmetrics::commands
