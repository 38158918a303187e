#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/flow_key.hpp"
#include "flowmetrics/metric.hpp"

namespace flowmetrics::pipeline {

// What submit() did with a batch. Compares equal to its outcome (`admission == Admission::full`).
struct Admission {
  enum Outcome : std::uint8_t {
    accepted,   // valid records are in the spool (on disk per the fsync policy); the rest rejected
    duplicate,  // the idempotency key was seen before: nothing taken, the earlier answer returned
    full,       // the spool is full: nothing taken or counted; push back and try again later
    io_error,   // the spool cannot write (error says why): nothing taken or counted; push back
  };
  Admission(Outcome o = accepted, std::string why = {}) : outcome(o), error(std::move(why)) {}  // NOLINT
  friend bool operator==(const Admission& a, Outcome o) noexcept { return a.outcome == o; }

  Outcome outcome;
  std::string error;  // io_error: the failed call, its file and the errno text
};

// An acknowledging input's idempotency key, and the answer to give for it.
struct Acknowledgement {
  std::string key;     // empty: none
  std::string answer;  // in: this request's answer; out, on `duplicate`: the first one's
};

// Where inputs hand their parsed records. Implemented by Pipeline; an input never knows
// what is behind it. Thread-safe.
class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Takes `metrics` (parsed, not yet validated): each is either accepted (appended to the
  // spool, from which it is aggregated and written) or rejected and counted by reason.
  // `input` labels the counters ("tcp", "http", "netflow", "ingest"). Never blocks on the
  // database. With an `acknowledgement` key, a key seen within the window is not applied again.
  virtual Admission submit(std::span<Metric> metrics, std::string_view input,
                           Acknowledgement* acknowledgement = nullptr) = 0;

  // Takes records the input already turned into binary keys at its edge (make_flow_key;
  // the decoders and the JSON parser do): each is appended to the spool as it is, never
  // validated again. Rejections the edge found are counted with reject(). Outcomes as
  // submit(). Never blocks on the database. The Pipeline takes them as they are; this default,
  // for sinks that only know Metrics (tests' fakes), renders each to a Metric and submit()s.
  virtual Admission submit_flows(std::span<const FlowUpdate> updates, std::string_view input);
  // As submit_flows(), taking the vector: the Pipeline keeps it as the spooled batch instead of
  // copying every record. `updates` is left empty when accepted, and holds the records again
  // when refused (full, io_error). This default copies.
  virtual Admission submit_flows_owned(std::vector<FlowUpdate>&& updates, std::string_view input) {
    const Admission admission = submit_flows(std::span<const FlowUpdate>(updates), input);
    if (admission != Admission::full && admission != Admission::io_error) updates.clear();
    return admission;
  }

  // Records an input's rejection that happened before a Metric existed (bad JSON, a line
  // too long), counted under `reason`.
  virtual void reject(std::string_view input, std::string_view reason, std::size_t count = 1) = 0;

  // True while the spool is full or stopped by an I/O error: submit() would refuse.
  virtual bool saturated() const = 0;
  // The I/O error that stops the spool ("fsync <file>: <errno text>"), nullopt while it writes.
  virtual std::optional<std::string> io_error() const { return std::nullopt; }

  // Blocks until the spool has room (and writes) or `timeout` passes; returns whether it has.
  // Inputs that can push back (TCP stops reading) call this before taking more.
  virtual bool wait_for_capacity(std::chrono::milliseconds timeout) = 0;

  // Counts records an input had to drop because its protocol cannot push back, under
  // `reason`: "spool_full", or "spool_error" while the spool is stopped by an I/O error.
  virtual void drop(std::string_view input, std::size_t count, std::string_view reason) = 0;
};

}  // namespace flowmetrics::pipeline
