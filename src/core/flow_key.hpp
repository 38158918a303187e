#pragma once

// The collector's binary flow key: what a record is aggregated under, from the decoder (or
// the JSON parser) to the document that is written.
//
// Why collector-internal (src/core/, not include/flowmetrics/): the public API names a
// document with Metric and MetricKey, whose canonical text is the document `_id` and stays
// exactly as it is for library users. FlowKey's layout is tied to the spool's v2 records
// (spool/spooled_records.hpp) and to the aggregation map's slot; publishing it would freeze
// both. It converts to MetricKey (render_metric_key) once, when a document is built, so a
// library user never sees it and nothing they compile against changes.
//
// Contract:
// - A FlowKey is canonical: two keys are equal (byte for byte, all 48 bytes) exactly when
//   their rendered MetricKeys are equal. The only way to make one from untrusted input is
//   make_flow_key() / parse_ip(): they validate once, at the edge, and return the key or a
//   rejection reason. Nothing after the edge validates again.
// - Addresses keep the family they arrived in. An IPv4 address is stored in bytes 0..3
//   (network order) and zeros; an IPv6 address in all 16 bytes. An IPv4-mapped or
//   IPv4-compatible IPv6 address (::ffff:1.2.3.4) stays IPv6, exactly as normalize_ip()
//   keeps it today, and renders through inet_ntop(AF_INET6) like it.
// - Rendering (render_metric_key, render_document_id) is byte-identical to
//   make_metric_key() + encode_document_id() on the same record's text.
// - hash_flow_key() is computed once per record; the partition comes from its high bits
//   (partition_of), the map's slot and tag from its low bits, so neither starves the other.
//   It is stable across processes and runs: spool flush markers name partitions.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "flowmetrics/metric.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {

// One address as it travels: 16 bytes and whether they are IPv6.
struct FlowAddress {
  std::array<std::uint8_t, 16> bytes{};  // IPv4: bytes 0..3, the rest zero
  bool v6 = false;

  // From 4 bytes in network order (the wire form of NetFlow IE 8/12, sFlow's address).
  static FlowAddress ipv4(const std::uint8_t* four) noexcept {
    FlowAddress a;
    std::memcpy(a.bytes.data(), four, 4);
    return a;
  }
  // From 16 bytes in network order (IE 27/28). Mapped IPv4 stays IPv6 (see above).
  static FlowAddress ipv6(const std::uint8_t* sixteen) noexcept {
    FlowAddress a;
    std::memcpy(a.bytes.data(), sixteen, 16);
    a.v6 = true;
    return a;
  }
};

// 48 bytes, no implicit padding: compared and hashed as six 64-bit words.
struct FlowKey {
  std::array<std::uint8_t, 16> source_ip{};  // network order; IPv4 in bytes 0..3, rest zero
  std::array<std::uint8_t, 16> dest_ip{};
  std::int64_t timestamp_ms = 0;  // exact on the way in; the bucket's start in the map
  std::uint16_t source_port = 0;
  std::uint16_t dest_port = 0;
  std::uint8_t protocol = 0;          // IANA number
  std::uint8_t families = 0;          // kSourceV6 | kDestV6
  std::uint8_t reserved[2] = {0, 0};  // always zero

  static constexpr std::uint8_t kSourceV6 = 1;
  static constexpr std::uint8_t kDestV6 = 2;

  bool source_v6() const noexcept { return (families & kSourceV6) != 0; }
  bool dest_v6() const noexcept { return (families & kDestV6) != 0; }

  friend bool operator==(const FlowKey& a, const FlowKey& b) noexcept {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 48, "FlowKey is six words: the spool and the map rely on it");

// What one record adds to its key's aggregate (MetricAggregate::add of a Metric with these
// counters). 80 bytes.
struct FlowUpdate {
  FlowKey key;
  double value = 0.0;  // finite (checked at the edge)
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t flows = 0;
};

// Why the edge refused a record. The label (rejection_label) is the counter label of
// flowmetrics_records_rejected_total, the same labels as before.
enum class KeyRejection : std::uint8_t {
  none = 0,
  invalid_ip,
  invalid_port,
  invalid_protocol,
  invalid_timestamp,
  invalid_value,
};
std::string_view rejection_label(KeyRejection reason) noexcept;

// The latest timestamp a key may carry: 9999-12-31T23:59:59.999Z (make_metric_key's bound).
inline constexpr std::int64_t kMaxFlowTimestampMs = 253'402'300'799'999;

// Builds a key from binary fields (the decoders' edge). Refuses a timestamp outside
// 0..kMaxFlowTimestampMs (invalid_timestamp); every other field is valid by its type.
// Inline: the decoders call it once per record.
[[nodiscard]] inline KeyRejection make_flow_key(const FlowAddress& source, const FlowAddress& dest,
                                                std::uint16_t source_port, std::uint16_t dest_port,
                                                std::uint8_t protocol, std::int64_t timestamp_ms,
                                                FlowKey& key) noexcept {
  if (timestamp_ms < 0 || timestamp_ms > kMaxFlowTimestampMs) return KeyRejection::invalid_timestamp;
  key.source_ip = source.bytes;
  key.dest_ip = dest.bytes;
  if (!source.v6) std::memset(key.source_ip.data() + 4, 0, 12);
  if (!dest.v6) std::memset(key.dest_ip.data() + 4, 0, 12);
  key.timestamp_ms = timestamp_ms;
  key.source_port = source_port;
  key.dest_port = dest_port;
  key.protocol = protocol;
  key.families = static_cast<std::uint8_t>((source.v6 ? FlowKey::kSourceV6 : 0) | (dest.v6 ? FlowKey::kDestV6 : 0));
  key.reserved[0] = key.reserved[1] = 0;
  return KeyRejection::none;
}

// Builds a key from a Metric (the library's and the text inputs' edge): the same checks,
// in the same order, as make_metric_key(), including the value's. Never throws.
[[nodiscard]] KeyRejection make_flow_key(const Metric& metric, FlowKey& key) noexcept;
// As above, filling a whole update (key and counters).
[[nodiscard]] KeyRejection make_flow_update(const Metric& metric, FlowUpdate& update) noexcept;

// An address from text, accepting exactly what normalize_ip() accepts (dotted quad, or
// IPv6 text, mapped forms included); nullopt otherwise. Allocation-free.
[[nodiscard]] std::optional<FlowAddress> parse_ip(std::string_view text) noexcept;

// The key's canonical text form (what make_metric_key() gives for the same record) and its
// document `_id` (encode_document_id of it). Called once per document, when it is built.
[[nodiscard]] MetricKey render_metric_key(const FlowKey& key);
// The canonical text of one address of the key (inet_ntop's form).
[[nodiscard]] std::string render_ip(const std::array<std::uint8_t, 16>& bytes, bool v6);
// The canonical protocol text for an IANA number: "TCP", "UDP", ... or its decimal form.
[[nodiscard]] std::string_view protocol_text(std::uint8_t number) noexcept;
// The key's canonical text form parsed back: the replay of a v1 spool record, whose key was
// stored as canonical text. nullopt when the text is not canonical (a damaged record).
[[nodiscard]] std::optional<FlowKey> flow_key_from_metric_key(const MetricKey& key) noexcept;

// A well-mixed 64-bit hash of all 48 bytes, stable across processes, runs and builds.
[[nodiscard]] std::uint64_t hash_flow_key(const FlowKey& key) noexcept;

// Which of `count` partitions a key with this hash belongs to: from the hash's high 32 bits
// (multiply-shift), leaving the low bits to the map. Stable: flush markers name partitions.
[[nodiscard]] inline std::size_t partition_of(std::uint64_t hash, std::size_t count) noexcept {
  return static_cast<std::size_t>(((hash >> 32) * static_cast<std::uint64_t>(count)) >> 32);
}

// The key with its timestamp moved to the start of its bucket (`width_ms` > 0; 0 keeps it).
[[nodiscard]] inline FlowKey bucketed(FlowKey key, std::int64_t width_ms) noexcept {
  if (width_ms > 0) key.timestamp_ms -= ((key.timestamp_ms % width_ms) + width_ms) % width_ms;
  return key;
}

}  // namespace flowmetrics
