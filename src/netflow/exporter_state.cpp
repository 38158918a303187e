#include "netflow/exporter_state.hpp"

#include <algorithm>

namespace flowmetrics::netflow {
namespace {

// Sequence jumps at or beyond this are exporter restarts, not loss.
constexpr std::uint32_t kMaxPlausibleGap = 1u << 20;

void drop_front(ExporterState& state, std::size_t& held_total) {
  const std::size_t bytes = state.held.front().body.size();
  state.held_bytes -= bytes;
  held_total -= bytes;
  state.held.pop_front();
  ++state.stats.dropped_no_template;
}

}  // namespace

void check_sequence(ExporterState& state, std::uint32_t sequence) {
  if (!state.have_sequence) return;
  const std::uint32_t ahead = sequence - state.next_sequence;  // modulo 2^32: wraps are fine
  if (ahead != 0 && ahead < kMaxPlausibleGap) state.stats.sequence_gaps += ahead;
}

bool learn_template(ExporterState& state, std::uint16_t id, std::span<const std::uint8_t> specs,
                    std::size_t field_count, std::size_t scope_fields, bool ipfix, bool options, std::size_t& consumed,
                    std::vector<std::uint16_t>& learned) {
  const std::size_t bytes = specifier_bytes(specs, field_count, ipfix);
  if (bytes == 0) return false;
  consumed = bytes;
  ++state.stats.templates;
  if (state.templates.unchanged(id, specs.first(bytes), options)) return true;
  Template compiled;
  std::size_t used = 0;
  if (!compile_template(specs.first(bytes), field_count, scope_fields, ipfix, options, compiled, used)) return false;
  if (!state.templates.put(id, std::move(compiled))) return false;
  if (!state.held.empty()) learned.push_back(id);
  return true;
}

std::int64_t decode_or_hold(ExporterState& state, std::uint16_t id, std::span<const std::uint8_t> body,
                            const RecordContext& context, DecodeEnv& env, bool& malformed) {
  if (const Template* compiled = state.templates.find(id)) {
    const DataSetResult result = decode_data_set(*compiled, body, context, state.context, env.options, env.out);
    state.stats.records += result.metrics;
    malformed = malformed || result.malformed;
    return static_cast<std::int64_t>(result.records);
  }
  ++state.stats.unknown_templates;
  const std::size_t per_exporter = env.options.max_held_bytes_per_exporter;
  const std::size_t total = env.options.max_held_bytes_total;
  if (env.options.template_wait.count() <= 0 || body.size() > per_exporter || body.size() > total) {
    ++state.stats.dropped_no_template;
    return -1;
  }
  while (!state.held.empty() &&
         (state.held_bytes + body.size() > per_exporter || env.held_total + body.size() > total)) {
    drop_front(state, env.held_total);
  }
  if (env.held_total + body.size() > total) {  // other exporters hold the room
    ++state.stats.dropped_no_template;
    return -1;
  }
  state.held.push_back(HeldSet{id, std::vector<std::uint8_t>(body.begin(), body.end()), context, env.received_ms});
  state.held_bytes += body.size();
  env.held_total += body.size();
  return -1;
}

void release_held(ExporterState& state, const std::vector<std::uint16_t>& learned, DecodeEnv& env) {
  if (learned.empty() || state.held.empty()) return;
  std::deque<HeldSet> waiting;
  for (HeldSet& set : state.held) {
    const Template* compiled = std::find(learned.begin(), learned.end(), set.template_id) != learned.end()
                                   ? state.templates.find(set.template_id)
                                   : nullptr;
    if (compiled == nullptr) {
      waiting.push_back(std::move(set));
      continue;
    }
    const DataSetResult result = decode_data_set(*compiled, set.body, set.context, state.context, env.options, env.out);
    state.stats.records += result.metrics;
    if (result.malformed) ++state.stats.malformed;
    state.held_bytes -= set.body.size();
    env.held_total -= set.body.size();
  }
  state.held = std::move(waiting);
}

void expire_held(ExporterState& state, std::int64_t cutoff_ms, std::size_t& held_total) {
  while (!state.held.empty() && state.held.front().held_at_ms <= cutoff_ms) drop_front(state, held_total);
}

}  // namespace flowmetrics::netflow
