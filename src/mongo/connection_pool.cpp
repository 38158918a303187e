#include "mongo/connection_pool.hpp"

#include <algorithm>

#include "core/thread_guard.hpp"

namespace flowmetrics::mongo {
namespace {

using std::chrono::milliseconds;

// How often the maintenance thread looks at the pool: often enough to honour a short idle
// timeout or health interval, never busier than every 10 ms nor lazier than every second.
milliseconds maintenance_tick(const PoolOptions& options) {
  auto tick = std::min(options.max_idle_time / 4, options.health_check_interval / 2);
  return std::clamp<milliseconds>(tick, milliseconds(10), milliseconds(1000));
}

}  // namespace

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), client_(std::move(other.client_)), broken_(other.broken_) {
  other.client_.reset();
}

Lease::~Lease() {
  if (pool_ != nullptr && client_) pool_->release(std::move(*client_), broken_);
}

ConnectionPool::ConnectionPool(const mongoc_uri_t* uri, PoolOptions options, std::string hosts)
    : uri_(mongoc_uri_copy(uri)), options_(options), hosts_(std::move(hosts)) {
  std::vector<Client> opened;
  opened.reserve(options_.min_size);
  for (std::size_t i = 0; i < options_.min_size; ++i) {
    DriverError error;
    auto client = open_connection(error);
    if (!client) {
      throw Error(error.code, "cannot open connection " + std::to_string(i + 1) + " of minPoolSize " +
                                  std::to_string(options_.min_size) + " to " + hosts_ + ": " + error.message);
    }
    opened.push_back(std::move(*client));
  }
  const auto now = Clock::now();
  for (auto& client : opened) idle_.push_back(IdleConnection{std::move(client), now, now});
  open_ = idle_.size();
  counters_.created = idle_.size();
  // Carry on: without maintenance the pool still serves, only idle connections are no longer
  // pinged, reaped or replenished.
  maintenance_thread_ = std::thread(
      [this] { run_guarded("connection pool maintenance", OnEscape::carry_on, [this] { maintenance_loop(); }); });
}

ConnectionPool::~ConnectionPool() {
  close();
}

std::optional<Client> ConnectionPool::open_connection(DriverError& error) {
  return Client::open(uri_.get(), error);
}

void ConnectionPool::record_wait(Clock::duration waited) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(waited);
  counters_.total_wait_time += ns;
  counters_.max_wait_time = std::max(counters_.max_wait_time, ns);
}

Lease ConnectionPool::acquire(Clock::time_point deadline) {
  const auto start = Clock::now();
  const auto queue_deadline = std::min(deadline, start + options_.wait_queue_timeout);
  std::unique_lock lock(mu_);
  for (;;) {
    if (closing_) throw Error(errc::agent_closed, "the agent is closed");
    if (!idle_.empty()) {
      Client client = std::move(idle_.back().client);
      idle_.pop_back();
      ++in_use_;
      ++counters_.checkouts;
      record_wait(Clock::now() - start);
      return Lease(this, std::move(client));
    }
    if (open_ < options_.max_size) {
      ++open_;  // reserve the slot so concurrent callers cannot overshoot max_size
      ++in_use_;
      lock.unlock();
      DriverError error;
      auto client = open_connection(error);
      lock.lock();
      if (!client) {
        --open_;
        --in_use_;
        ++counters_.create_failures;
        last_error_ = error.message;
        returned_.notify_one();
        throw Error(error.code, "cannot open a connection to " + hosts_ + ": " + error.message);
      }
      ++counters_.created;
      ++counters_.checkouts;
      record_wait(Clock::now() - start);
      return Lease(this, std::move(*client));
    }
    ++waiting_;
    const bool woken = returned_.wait_until(lock, queue_deadline,
                                            [this] { return closing_ || !idle_.empty() || open_ < options_.max_size; });
    --waiting_;
    if (!woken) {
      ++counters_.wait_timeouts;
      record_wait(Clock::now() - start);
      const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
      if (queue_deadline == deadline && deadline < start + options_.wait_queue_timeout) {
        throw Error(errc::deadline_exceeded, "deadline passed after " + std::to_string(waited) +
                                                 " ms waiting for a connection (all " +
                                                 std::to_string(options_.max_size) + " in use)");
      }
      throw Error(errc::pool_wait_timeout,
                  "all " + std::to_string(options_.max_size) + " connections (maxPoolSize) stayed in use for " +
                      std::to_string(waited) +
                      " ms (waitQueueTimeoutMS=" + std::to_string(options_.wait_queue_timeout.count()) + ")");
    }
  }
}

std::optional<Lease> ConnectionPool::try_acquire() {
  std::lock_guard lock(mu_);
  if (closing_ || idle_.empty()) return std::nullopt;
  Client client = std::move(idle_.back().client);
  idle_.pop_back();
  ++in_use_;
  ++counters_.checkouts;
  return Lease(this, std::move(client));
}

void ConnectionPool::release(Client client, bool broken) noexcept {
  std::unique_lock lock(mu_);
  --in_use_;
  if (broken || closing_) {
    --open_;
    if (broken) ++counters_.closed_broken;
    lock.unlock();
    { Client closing = std::move(client); }  // disconnect outside the lock
    returned_.notify_all();
    maintenance_.notify_one();  // replenish to min_size
    return;
  }
  const auto now = Clock::now();
  idle_.push_back(IdleConnection{std::move(client), now, now});
  lock.unlock();
  returned_.notify_one();
}

void ConnectionPool::reap_idle(std::vector<Client>& to_close) {
  const auto now = Clock::now();
  // idle_ is ordered by idle_since (oldest first) because releases append.
  while (!idle_.empty() && open_ > options_.min_size && now - idle_.front().idle_since >= options_.max_idle_time) {
    to_close.push_back(std::move(idle_.front().client));
    idle_.erase(idle_.begin());
    --open_;
    ++counters_.closed_idle;
  }
}

void ConnectionPool::check_health() {
  // Take one due connection at a time out of idle_, ping it without the lock, and put it
  // back in age order: a health check is not use and must not reset its idleness.
  const auto started = Clock::now();
  for (;;) {
    std::optional<IdleConnection> due;
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      auto it = std::find_if(idle_.begin(), idle_.end(), [&](const IdleConnection& c) {
        return started - c.last_checked >= options_.health_check_interval;
      });
      if (it == idle_.end()) return;
      due.emplace(std::move(*it));
      idle_.erase(it);
      ++counters_.health_checks;
    }
    DriverError error;
    const bool healthy = due->client.ping(error);
    std::unique_lock lock(mu_);
    if (healthy && !closing_) {
      due->last_checked = Clock::now();
      auto position = std::upper_bound(idle_.begin(), idle_.end(), due->idle_since,
                                       [](Clock::time_point t, const IdleConnection& c) { return t < c.idle_since; });
      idle_.insert(position, std::move(*due));
      lock.unlock();
      returned_.notify_one();
      continue;
    }
    --open_;
    if (!healthy) {
      ++counters_.closed_broken;
      last_error_ = error.message;
    }
    lock.unlock();
    due.reset();  // disconnect outside the lock
    returned_.notify_all();
  }
}

void ConnectionPool::replenish() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (closing_ || open_ >= options_.min_size) return;
      ++open_;
    }
    DriverError error;
    auto client = open_connection(error);
    std::unique_lock lock(mu_);
    if (!client) {
      --open_;
      ++counters_.create_failures;
      last_error_ = error.message;
      return;  // the next tick tries again
    }
    ++counters_.created;
    last_error_.clear();
    if (closing_) {
      --open_;
      return;  // `client` is destroyed after `lock` is released
    }
    const auto now = Clock::now();
    idle_.push_back(IdleConnection{std::move(*client), now, now});
    lock.unlock();
    returned_.notify_one();
  }
}

void ConnectionPool::maintenance_loop() {
  const auto tick = maintenance_tick(options_);
  std::unique_lock lock(mu_);
  while (!closing_) {
    maintenance_.wait_for(lock, tick);
    if (closing_) break;
    std::vector<Client> to_close;
    reap_idle(to_close);
    lock.unlock();
    to_close.clear();
    check_health();
    replenish();
    lock.lock();
  }
}

PoolStats ConnectionPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats stats = counters_;
  stats.open = open_;
  stats.in_use = in_use_;
  stats.idle = idle_.size();
  stats.waiting = waiting_;
  return stats;
}

std::string ConnectionPool::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void ConnectionPool::close() noexcept {
  std::lock_guard close_lock(close_mu_);
  {
    std::unique_lock lock(mu_);
    closing_ = true;
    maintenance_.notify_all();
    returned_.notify_all();
    returned_.wait(lock, [this] { return in_use_ == 0; });
  }
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  std::vector<IdleConnection> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
    open_ -= idle.size();
  }
}

}  // namespace flowmetrics::mongo
