#include "core/thread_guard.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace flowmetrics {
namespace {

std::atomic<std::uint64_t> escaped{0};

}  // namespace

void count_escaped_exception(std::string_view where, std::string_view what) noexcept {
  escaped.fetch_add(1, std::memory_order_relaxed);
  // stderr, not the collector's logger: the core library has none, and this must work even
  // when logging itself is what failed.
  std::fprintf(stderr, "flowmetrics: %.*s: unexpected exception (a bug, please report it): %.*s\n",
               static_cast<int>(where.size()), where.data(), static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
}

void run_guarded(std::string_view thread, OnEscape on_escape, const std::function<void()>& body) noexcept {
  try {
    body();
    return;
  } catch (const std::exception& e) {
    count_escaped_exception(thread, e.what());
  } catch (...) {
    count_escaped_exception(thread, "an exception not derived from std::exception");
  }
  if (on_escape == OnEscape::exit_now) {
    std::fprintf(stderr, "flowmetrics: %.*s cannot go on: exiting\n", static_cast<int>(thread.size()), thread.data());
    std::fflush(stderr);
    std::_Exit(70);
  }
  if (on_escape == OnEscape::stop_process) {
    std::fprintf(stderr, "flowmetrics: %.*s cannot go on: stopping the process as SIGTERM does\n",
                 static_cast<int>(thread.size()), thread.data());
    std::fflush(stderr);
    ::kill(::getpid(), SIGTERM);  // process-directed, so serve's signal thread receives it
  }
}

std::uint64_t escaped_exceptions() noexcept {
  return escaped.load(std::memory_order_relaxed);
}

}  // namespace flowmetrics
