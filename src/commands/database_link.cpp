#include "commands/database_link.hpp"

#include <spdlog/spdlog.h>

#include <random>

namespace flowmetrics::commands {
namespace {

using std::chrono::milliseconds;

bool is(const Error& error, errc code) {
  return error.code() == make_error_code(code);
}

double seconds(milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

DatabaseLink::DatabaseLink(Options options, DatabaseStart start) : options_(std::move(options)) {
  try {
    attempt();
  } catch (const Error& e) {
    if (start == DatabaseStart::required || is(e, errc::invalid_argument)) throw;
    failed(e);
    thread_ = std::thread([this] { run(); });
  }
}

DatabaseLink::~DatabaseLink() {
  close();
}

void DatabaseLink::attempt() {
  // A pool that opened but could not make the indexes is kept: the next attempt only retries
  // the indexes, instead of opening every connection again.
  if (!candidate_) {
    candidate_ = std::make_unique<MetricsAgent>(options_.uri, options_.database, options_.collection, options_.agent);
  }
  if (options_.create_indexes) candidate_->create_metrics_indexes();
  std::lock_guard lock(mu_);
  owned_ = std::move(candidate_);
  agent_.store(owned_.get());
  const std::string indexes = options_.create_indexes ? ", indexes in place" : "";
  if (status_.failed_attempts == 0) {
    spdlog::info("database: connected{}", indexes);
  } else {
    const auto waited = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started_);
    spdlog::info("database: connected after {} failed attempts in {:.1f} s{}; writing what the spool holds",
                 status_.failed_attempts, seconds(waited), indexes);
  }
  status_.connected = true;
  status_.last_error.clear();
}

void DatabaseLink::failed(const Error& error) {
  std::lock_guard lock(mu_);
  if (status_.failed_attempts == 0) status_.unreachable_since = std::chrono::system_clock::now();
  ++status_.failed_attempts;
  status_.last_error = error.what();
  const auto code = static_cast<errc>(error.code().value());
  if (last_code_ == code) return;  // the same state again: the log already says so
  if (!last_code_) {
    spdlog::warn(
        "database: not connected: {}; inputs keep accepting into the spool while the collector retries in the "
        "background ({:g} s doubling to {:g} s)",
        error.what(), seconds(options_.first_retry), seconds(options_.max_retry));
  } else {
    spdlog::warn("database: still not connected, now: {}", error.what());
  }
  last_code_ = code;
}

void DatabaseLink::run() {
  std::mt19937_64 random(std::random_device{}());
  milliseconds ceiling = options_.first_retry;
  std::unique_lock lock(mu_);
  for (;;) {
    std::uniform_int_distribution<milliseconds::rep> draw(ceiling.count() / 2, ceiling.count());
    if (stop_cv_.wait_for(lock, milliseconds(draw(random)), [this] { return stopping_; })) return;
    lock.unlock();
    bool connected = false;
    try {
      attempt();
      connected = true;
    } catch (const Error& e) {
      failed(e);
    } catch (const std::exception& e) {
      // Nothing may leave the thread; an unexpected failure is one more failed attempt.
      failed(Error(errc::server_error, e.what()));
    }
    if (connected) return;
    lock.lock();
    ceiling = std::min(ceiling * 2, options_.max_retry);
  }
}

UpsertResult DatabaseLink::write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) {
  if (MetricsAgent* agent = agent_.load()) return agent->upsert_aggregates(batch, std::nullopt, stamp);
  return not_connected(batch.size());
}

UpsertResult DatabaseLink::write_rollups(std::span<const KeyedAggregate> written, const WriteStamp* stamp) {
  if (MetricsAgent* agent = agent_.load()) return agent->upsert_rollups(written, std::nullopt, stamp);
  return not_connected(written.size());
}

UpsertResult DatabaseLink::not_connected(std::size_t items) {
  {
    std::lock_guard lock(mu_);
    if (closed_) throw Error(errc::agent_closed, "the database link is closed");
  }
  // Nothing was sent, so the outcome is known; status() says why there is no connection.
  UpsertResult result;
  result.input = result.failed = items;
  result.errors.reserve(items);
  for (std::size_t i = 0; i < items; ++i) {
    result.errors.push_back(ItemError{i, errc::server_unreachable, {}, "the database is not connected yet", false});
  }
  return result;
}

DatabaseLink::Status DatabaseLink::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void DatabaseLink::close() noexcept {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (MetricsAgent* agent = agent_.load()) agent->close();
}

}  // namespace flowmetrics::commands
