#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace flowmetrics {

// What a thread's last-resort catch does once an exception has escaped the thread's own
// error handling (a bug: the thread's errors are meant to be values or caught where they occur).
enum class OnEscape {
  // Log, count, and let the thread end: for threads whose loss costs nothing the process must
  // stop for (one TCP connection, one periodic sync that the next append redoes).
  carry_on,
  // Log, count, and ask the process to stop as SIGTERM does (kill(getpid(), SIGTERM)): `serve`
  // stops its inputs and drains what it can; what is not written stays in the spool for the
  // next start. For threads the collector cannot work without (writers, consumer, receivers).
  stop_process,
  // Log, count and end the process at once with status 70 (EX_SOFTWARE): for the thread that
  // turns SIGTERM into a graceful stop, without which the process could not be stopped cleanly.
  exit_now,
};

// Runs `body` on the calling thread. An exception that leaves it is caught, written to stderr
// as one line naming `thread` and the exception's what(), counted in escaped_exceptions(), and
// handled as `on_escape` says, instead of reaching std::terminate. Never throws.
void run_guarded(std::string_view thread, OnEscape on_escape, const std::function<void()>& body) noexcept;

// Exceptions caught by run_guarded() (and by the HTTP server's exception handler, which calls
// count_escaped_exception()) since the process started; /metrics shows it as
// flowmetrics_escaped_exceptions_total. Thread-safe.
std::uint64_t escaped_exceptions() noexcept;

// Logs and counts an exception caught at a last-resort boundary that is not a thread's entry
// (the HTTP server's handler boundary). Call inside a catch block or with the exception's text.
void count_escaped_exception(std::string_view where, std::string_view what) noexcept;

}  // namespace flowmetrics
