#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "flowmetrics/agent_options.hpp"
#include "flowmetrics/pool_stats.hpp"
#include "mongo/client.hpp"

namespace flowmetrics::mongo {

class ConnectionPool;

// A connection on loan from the pool. The destructor gives it back; mark_broken() makes the
// pool close it instead, so a connection that failed is never handed out again.
class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Client& client() noexcept { return *client_; }
  void mark_broken() noexcept { broken_ = true; }

 private:
  friend class ConnectionPool;
  Lease(ConnectionPool* pool, Client client) : pool_(pool), client_(std::move(client)) {}

  ConnectionPool* pool_;
  std::optional<Client> client_;
  bool broken_ = false;
};

// A bounded pool of single-threaded clients with the semantics the driver's own pool lacks:
// it opens `min_size` connections at start and keeps at least that many, closes
// connections idle longer than `max_idle_time` down to `min_size`, never opens more than
// `max_size` (callers wait up to `wait_queue_timeout`), pings idle connections every
// `health_check_interval` and replaces the ones that fail.
//
// Thread-safe. One maintenance thread does the idle reaping, health checks and
// replenishing; the pool must outlive every Lease.
class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens min_size connections, each verified with a ping, then starts maintenance.
  // Throws Error(server_unreachable) (or the driver's error) when one cannot be opened.
  ConnectionPool(const mongoc_uri_t* uri, PoolOptions options, std::string hosts);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Lends a connection: an idle one (most recently used first), else a new one while
  // fewer than max_size are open, else waits. Throws Error(pool_wait_timeout) after
  // wait_queue_timeout, Error(deadline_exceeded) at `deadline`, Error(agent_closed) once
  // close() began, or the driver's error when a new connection cannot be opened.
  Lease acquire(Clock::time_point deadline);
  // Lends an idle connection without opening or waiting; std::nullopt when none is idle.
  std::optional<Lease> try_acquire();

  PoolStats stats() const;
  const PoolOptions& options() const noexcept { return options_; }
  // The error of the last failed connection attempt or health check, empty when the last
  // one succeeded.
  std::string last_error() const;

  // Refuses new acquisitions, waits until every lease is back, closes all connections and
  // joins the maintenance thread. Idempotent.
  void close() noexcept;

 private:
  friend class Lease;
  struct IdleConnection {
    Client client;
    Clock::time_point idle_since;
    Clock::time_point last_checked;
  };

  void release(Client client, bool broken) noexcept;
  std::optional<Client> open_connection(DriverError& error);  // called without mu_ held
  void maintenance_loop();
  void reap_idle(std::vector<Client>& to_close);  // requires mu_
  void check_health();
  void replenish();
  void record_wait(Clock::duration waited);  // requires mu_

  const UriPtr uri_;  // our own copy
  const PoolOptions options_;
  const std::string hosts_;

  std::mutex close_mu_;  // serialises close()
  mutable std::mutex mu_;
  std::condition_variable returned_;     // a lease came back or a slot freed up
  std::condition_variable maintenance_;  // wakes the maintenance thread early
  // Guarded by mu_:
  std::vector<IdleConnection> idle_;  // oldest first; acquire takes from the back
  std::size_t open_ = 0;              // idle + leased + being opened or checked
  std::size_t in_use_ = 0;
  std::size_t waiting_ = 0;
  bool closing_ = false;
  PoolStats counters_;
  std::string last_error_;
  std::thread maintenance_thread_;
};

}  // namespace flowmetrics::mongo
