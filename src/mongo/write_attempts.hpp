#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "flowmetrics/error.hpp"
#include "mongo/connection_pool.hpp"
#include "mongo/error_translation.hpp"

namespace flowmetrics::mongo {

// The one retry policy of the writers (bulk_writer's minute documents, totals_writer's
// rollups): attempts on pooled connections until every document has an outcome or the
// deadline comes, with a jittered exponential backoff (20 ms doubling to 2 s) after a failure.
// `Writer` provides:
//   bool done() const                                   every document has its outcome
//   ChunkResult& result()                               where the retries are counted
//   std::optional<DriverError> attempt(Client&)        one pass over the pending documents
//   void fail_pending(errc, const std::string&)         gives the pending ones up
// An attempt that ends without an error but leaves documents pending (a race with another
// writer moved them back) is repeated at once, a few times, before it counts as a failure.
template <class Writer>
void run_write_attempts(ConnectionPool& pool, Writer& writer, ConnectionPool::Clock::time_point deadline) {
  using Clock = ConnectionPool::Clock;
  using std::chrono::milliseconds;
  thread_local std::minstd_rand jitter(std::random_device{}());
  milliseconds backoff(20);
  std::size_t quick_rounds = 0;
  for (std::size_t attempt = 0; !writer.done(); ++attempt) {
    if (attempt > 0) ++writer.result().retries;
    std::optional<DriverError> failure;
    try {
      Lease lease = pool.acquire(deadline);
      failure = writer.attempt(lease.client());
      if (failure && failure->connection_broken) lease.mark_broken();
    } catch (const Error& e) {
      // No connection could be had: the pool's wait timed out, the deadline passed, the
      // agent closed, or the server refused a new connection.
      const auto code = static_cast<errc>(e.code().value());
      if (code == errc::agent_closed || code == errc::deadline_exceeded || Clock::now() >= deadline) {
        writer.fail_pending(code, e.what());
        return;
      }
      failure = DriverError{.code = code, .message = e.what(), .transient = true, .not_sent = true};
    }
    if (!failure) {
      if (writer.done()) return;
      if (++quick_rounds <= 8) continue;
      failure = DriverError{.message = "repeated races with other writers"};
    }
    const auto pause = backoff + milliseconds(jitter() % (backoff.count() / 2 + 1));
    if (Clock::now() + pause >= deadline) {
      writer.fail_pending(errc::deadline_exceeded, "deadline exceeded while retrying; last error: " + failure->message);
      return;
    }
    std::this_thread::sleep_for(pause);
    backoff = std::min(backoff * 2, milliseconds(2000));
  }
}

}  // namespace flowmetrics::mongo
