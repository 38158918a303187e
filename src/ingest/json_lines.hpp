#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "core/flow_key.hpp"
#include "ingest/json_record_parser.hpp"

namespace flowmetrics::ingest {

// Many NDJSON lines per parse call, straight into binary records (FlowUpdate): the bulk path
// of `flowmetrics ingest`.
//
// The lines of a chunk go through simdjson's document stream (dom::parser::parse_many), whose
// kernel is picked at run time for this CPU (kernel(): "icelake", "haswell", ...), unlike
// On-Demand, which the library's headers compile for the build's baseline target only (the
// portable "fallback" on x86-64). A line is taken from the stream only when it is exactly one
// document that is a plainly good record: the seven required fields once each with their
// usual types, no escapes, no nested unknown fields. Every other line (a bad one, and the
// unusual good ones) goes through parse_json_record, so what is accepted or rejected, and why,
// is exactly what parse_json_record says (the differential test checks it).
// Not thread-safe: one per thread.
class JsonLineParser {
 public:
  JsonLineParser();

  // `lines` are non-blank lines without their line ends, each a view into `chunk`, in order.
  // Appends one FlowUpdate per good line to `out` and one reason per bad line to `rejected`.
  void parse(std::string_view chunk, std::span<const std::string_view> lines, std::vector<FlowUpdate>& out,
             std::vector<RejectReason>& rejected);

  // The simdjson kernel the stream runs on this machine.
  static std::string_view kernel();
  // Lines taken from the stream so far (the rest went through parse_json_record).
  std::uint64_t streamed() const noexcept { return streamed_; }

 private:
  bool take(simdjson::dom::element element, std::string_view line, FlowUpdate& update);
  void slow(std::string_view line, std::vector<FlowUpdate>& out, std::vector<RejectReason>& rejected);

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::uint64_t streamed_ = 0;
};

}  // namespace flowmetrics::ingest
