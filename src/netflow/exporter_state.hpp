#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "flowmetrics/metric.hpp"
#include "netflow/flow_decoder.hpp"
#include "netflow/record_decoder.hpp"
#include "netflow/template_cache.hpp"

namespace flowmetrics::netflow {

// A data set that arrived before its template, with what is needed to decode it later.
struct HeldSet {
  std::uint16_t template_id = 0;
  std::vector<std::uint8_t> body;
  RecordContext context;
  std::int64_t held_at_ms = 0;
};

// Everything the decoder keeps about one exporter (address, source id / domain, version).
struct ExporterState {
  explicit ExporterState(std::size_t max_templates) : templates(max_templates) {}

  ExporterStats stats;
  TemplateCache templates;
  ExporterContext context;
  bool have_sequence = false;
  std::uint32_t next_sequence = 0;
  std::deque<HeldSet> held;
  std::size_t held_bytes = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t last_log_ms = kNoTime;
  std::uint64_t unlogged = 0;  // malformed datagrams not logged since the last warning
};

// What one decode call works with besides the exporter.
struct DecodeEnv {
  const DecoderOptions& options;
  std::vector<FlowUpdate>& out;
  std::int64_t received_ms;
  std::size_t& held_total;  // bytes held over all exporters
};

// Compares `sequence` with the expected one and counts a gap (see FlowDecoder's comment).
void check_sequence(ExporterState& state, std::uint32_t sequence);
// Sets the sequence number the next datagram should carry.
inline void expect_sequence(ExporterState& state, std::uint32_t next) {
  state.next_sequence = next;
  state.have_sequence = true;
}

// Compiles and stores template `id` from the field specifiers at the start of `specs`
// (unchanged refreshes cost a comparison). Sets `consumed` to the specifier bytes. Returns
// false for malformed specifiers or a full cache. Ids of newly compiled templates are added
// to `learned`.
bool learn_template(ExporterState& state, std::uint16_t id, std::span<const std::uint8_t> specs,
                    std::size_t field_count, std::size_t scope_fields, bool ipfix, bool options, std::size_t& consumed,
                    std::vector<std::uint16_t>& learned);

// Decodes data set `body` for template `id` now, or holds it when the template is unknown.
// Returns the records decoded, or -1 when the set was held or dropped; sets `malformed`.
std::int64_t decode_or_hold(ExporterState& state, std::uint16_t id, std::span<const std::uint8_t> body,
                            const RecordContext& context, DecodeEnv& env, bool& malformed);

// Decodes the held sets whose templates are in `learned`.
void release_held(ExporterState& state, const std::vector<std::uint16_t>& learned, DecodeEnv& env);

// Drops held sets older than `cutoff_ms` (counted as dropped_no_template).
void expire_held(ExporterState& state, std::int64_t cutoff_ms, std::size_t& held_total);

}  // namespace flowmetrics::netflow
