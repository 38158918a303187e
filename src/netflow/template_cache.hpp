#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace flowmetrics::netflow {

// What a template field means to the decoder. Everything not listed is skipped.
enum class FieldKind : std::uint8_t {
  skip,
  src_v4,                    // IE 8
  dst_v4,                    // IE 12
  src_v6,                    // IE 27
  dst_v6,                    // IE 28
  src_port,                  // IE 7
  dst_port,                  // IE 11
  protocol,                  // IE 4
  octets,                    // IE 1 octetDeltaCount (v9 IN_BYTES)
  packets,                   // IE 2 packetDeltaCount (v9 IN_PKTS)
  octets_total,              // IE 85 octetTotalCount (used when IE 1 is absent)
  packets_total,             // IE 86 packetTotalCount (used when IE 2 is absent)
  end_uptime,                // IE 21 flowEndSysUpTime / LAST_SWITCHED (ms)
  start_uptime,              // IE 22 flowStartSysUpTime / FIRST_SWITCHED (ms)
  start_seconds,             // IE 150
  end_seconds,               // IE 151
  start_millis,              // IE 152
  end_millis,                // IE 153
  start_micros,              // IE 154 (NTP timestamp)
  end_micros,                // IE 155 (NTP timestamp)
  start_nanos,               // IE 156 (NTP timestamp)
  end_nanos,                 // IE 157 (NTP timestamp)
  start_delta_micros,        // IE 158 flowStartDeltaMicroseconds (before export time)
  end_delta_micros,          // IE 159 flowEndDeltaMicroseconds
  system_init_millis,        // IE 160 systemInitTimeMilliseconds
  sampling_interval,         // IE 34 samplingInterval, IE 50 samplerRandomInterval
  sampling_packet_interval,  // IE 305 samplingPacketInterval
  sampling_packet_space,     // IE 306 samplingPacketSpace
};

// Field length meaning "variable" in an IPFIX template (RFC 7011 section 7).
inline constexpr std::uint16_t kVariableLength = 65535;
// Templates with more fields than this are refused as malformed: no real exporter comes
// close, and it bounds a template's memory.
inline constexpr std::size_t kMaxTemplateFields = 256;

// One step of a compiled template. For a fixed-length template `offset` is the field's
// position in the record and only interesting fields are listed; for a variable-length
// template every field is listed in order (runs of skipped fixed fields merged) and `offset`
// is unused.
struct FieldOp {
  std::uint16_t offset = 0;
  std::uint16_t length = 0;  // kVariableLength: a 1- or 3-byte length prefix precedes the value
  FieldKind kind = FieldKind::skip;
};

// A template compiled for decoding: data records are read with this flat list alone.
struct Template {
  std::vector<FieldOp> ops;
  std::vector<std::uint8_t> definition;  // the field specifiers as received, to spot unchanged refreshes
  std::uint32_t min_length = 0;          // the record length (fixed) or its lower bound (variable)
  bool variable = false;
  bool options = false;
  bool has_addresses = false;  // records can become metrics (a source and a destination address)
};

// Compiles a template from its field specifiers as they appear on the wire: `field_count`
// (type, length) pairs for v9 (`ipfix` false) or IPFIX field specifiers with the enterprise
// bit and number (`ipfix` true). The first `scope_fields` fields (options templates) are
// skipped. Returns false when the specifiers are truncated, too many, or describe an
// unusable record (zero length; a variable length in v9). Never reads outside `specs`;
// `consumed` is set to the bytes the specifiers occupy.
bool compile_template(std::span<const std::uint8_t> specs, std::size_t field_count, std::size_t scope_fields,
                      bool ipfix, bool options, Template& out, std::size_t& consumed);

// The bytes `field_count` field specifiers occupy at the start of `specs` (4 each, 8 for an
// IPFIX enterprise field), or 0 when they do not fit.
std::size_t specifier_bytes(std::span<const std::uint8_t> specs, std::size_t field_count, bool ipfix);

// The templates of one exporter (one address and source id / observation domain), keyed by
// template id, at most `capacity` of them. Not thread-safe.
class TemplateCache {
 public:
  explicit TemplateCache(std::size_t capacity) : capacity_(capacity) {}

  const Template* find(std::uint16_t id) const {
    auto it = templates_.find(id);
    return it == templates_.end() ? nullptr : &it->second;
  }
  // True when `definition` is what template `id` already holds (a refresh with no change).
  bool unchanged(std::uint16_t id, std::span<const std::uint8_t> definition, bool options) const;
  // Adds or replaces template `id`; false when the cache is full and `id` is new.
  bool put(std::uint16_t id, Template&& compiled);
  void withdraw(std::uint16_t id) { templates_.erase(id); }
  // Withdraws every template (options false) or every options template (options true).
  void withdraw_all(bool options);
  std::size_t size() const { return templates_.size(); }

 private:
  std::size_t capacity_;
  std::unordered_map<std::uint16_t, Template> templates_;
};

}  // namespace flowmetrics::netflow
