#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/flow_key.hpp"
#include "flowmetrics/metric.hpp"
#include "netflow/flow_decoder.hpp"
#include "netflow/template_cache.hpp"

namespace flowmetrics::netflow {

inline constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();

// The fields of one flow record the decoder uses, as read from the wire.
struct FlowRecord {
  std::uint8_t src[16];
  std::uint8_t dst[16];
  std::uint8_t src_family = 0;  // 0 (absent), 4 or 6
  std::uint8_t dst_family = 0;
  std::uint8_t protocol = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  bool has_octets = false;
  bool has_packets = false;
  bool has_start_uptime = false;
  bool has_end_uptime = false;
  std::uint64_t octets = 0;
  std::uint64_t packets = 0;
  std::uint64_t octets_total = 0;
  std::uint64_t packets_total = 0;
  std::uint32_t start_uptime = 0;  // ms of the exporter's uptime (IE 22 / 21)
  std::uint32_t end_uptime = 0;
  std::int64_t start_ms = kNoTime;  // absolute, ms since the Unix epoch
  std::int64_t end_ms = kNoTime;
  std::int64_t system_init_ms = kNoTime;
  std::uint64_t start_delta_us = 0;  // IE 158/159, +1 so that 0 means absent
  std::uint64_t end_delta_us = 0;
  std::uint64_t sampling_interval = 0;  // 0: absent
  std::uint64_t sampling_packet_interval = 0;
  std::uint64_t sampling_packet_space = 0;
};

// What one export datagram's header says, needed to turn a record's times into wall time.
struct RecordContext {
  std::int64_t export_ms = 0;       // the header's export time
  std::int64_t received_ms = 0;     // when the datagram arrived (last resort timestamp)
  bool uptime_from_header = false;  // v5/v9: IE 21/22 are relative to the header's sysUptime
  std::uint32_t sys_uptime_ms = 0;
  std::uint64_t sampling_num = 1;  // bytes and packets are multiplied by num / den
  std::uint64_t sampling_den = 1;
};

// What an exporter's options data has told us, kept between datagrams.
struct ExporterContext {
  std::uint64_t sampling_num = 1;
  std::uint64_t sampling_den = 1;
  std::int64_t system_init_ms = kNoTime;  // IPFIX IE 160, for IE 21/22
};

// The outcome of one data set.
struct DataSetResult {
  std::size_t records = 0;  // data records decoded (flow and options data)
  std::size_t metrics = 0;  // of them, turned into metrics
  bool malformed = false;   // a record ran past the set's end
};

// Appends the binary key and counters for `record` (which has both addresses) to `out`:
// the key is built from the wire fields as they are (make_flow_key), never as text.
void append_update(const FlowRecord& record, const RecordContext& context, const ExporterContext& exporter,
                   const DecoderOptions& options, std::vector<FlowUpdate>& out);

// Decodes every data record of `body` (a data set without its 4-byte header) with
// `compiled`: flow records become metrics in `out`, options data records update `exporter`
// (sampling, system init time). Trailing bytes shorter than a record are padding.
DataSetResult decode_data_set(const Template& compiled, std::span<const std::uint8_t> body,
                              const RecordContext& context, ExporterContext& exporter, const DecoderOptions& options,
                              std::vector<FlowUpdate>& out);

}  // namespace flowmetrics::netflow
