#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/flow_key.hpp"
#include "flowmetrics/metric.hpp"

namespace flowmetrics::netflow {

// Which flow time becomes the metric's timestamp.
enum class FlowTime : std::uint8_t { end, start };

struct DecoderOptions {
  FlowTime timestamp = FlowTime::end;
  // Scale bytes and packets by the sampling interval (v5 header, v9/IPFIX options data).
  bool apply_sampling = true;
  // Data sets that arrive before their template wait this long, then count as
  // dropped_no_template. Zero: never held (dropped at once).
  std::chrono::milliseconds template_wait{10'000};
  // Bytes of data sets held per exporter while waiting for templates; beyond it the oldest
  // held set is dropped (counted as dropped_no_template).
  std::size_t max_held_bytes_per_exporter = 1 << 20;
  // Bytes held over all exporters; beyond it the arriving exporter's oldest sets are dropped.
  std::size_t max_held_bytes_total = 16 << 20;
  // Exporters (address, source id / domain, version) tracked at once. Datagrams from further
  // exporters are counted on one entry named "overflow" and not decoded.
  std::size_t max_exporters = 1024;
  // Templates (including options templates) cached per exporter; further new template ids
  // are refused and the template set counted as malformed. With at most kMaxTemplateFields
  // fields per template, a template takes at most a few KiB.
  std::size_t max_templates_per_exporter = 512;
  // An exporter silent this long is forgotten (templates and counters) by expire(). Zero:
  // never.
  std::chrono::seconds exporter_timeout{3600};
};

// Counters for one exporter: one (address, source id / observation domain) pair.
struct ExporterStats {
  std::string exporter;                   // "192.0.2.1" or "[2001:db8::1]" (IPv4-mapped IPv6 shown as IPv4)
  std::uint32_t domain = 0;               // v9 source id / IPFIX observation domain (0 for v5)
  std::uint16_t version = 0;              // 5, 9 or 10 (0: datagrams too short or of unknown version)
  std::uint64_t packets = 0;              // datagrams decoded (including malformed ones)
  std::uint64_t records = 0;              // flow records turned into metrics
  std::uint64_t sequence_gaps = 0;        // export datagrams (v9) or records (v5, IPFIX) missed
  std::uint64_t unknown_templates = 0;    // data sets that arrived before their template (held)
  std::uint64_t dropped_no_template = 0;  // of those, data sets dropped: template not seen in time
  std::uint64_t malformed = 0;            // datagrams that failed to decode (in whole or part)
  std::uint64_t templates = 0;            // template records received (including refreshes)
};

// Decodes NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) datagrams into binary flow
// keys with counters (core/flow_key.hpp): source/destination address, ports, protocol number, the flow's
// end (or start) time as the timestamp, bytes as `value` and `bytes`, packets as `packets`,
// and `flows` = 1 per flow record. Templates are cached per exporter. Never throws for bad
// input and never reads outside the datagram: a malformed datagram is counted (and logged,
// rate-limited) against its exporter. Not thread-safe: one decoder per receiving thread.
//
// Details:
// - Addresses keep their wire form and family (IE 8/12 IPv4, IE 27/28 IPv6, mapped IPv4
//   included); rendered, they are the text flowmetrics::normalize_ip gives. Records without
//   both a source and a destination address (options data, for instance) are not metrics.
// - Times: absolute IEs 150-157 when present, else sysUpTime-relative IE 22/21 (v5/v9:
//   against the header's sysUptime; IPFIX: against IE 160 systemInitTimeMilliseconds from the
//   record or the exporter's options data), else IE 158/159 deltas; a record with no usable
//   time takes the header's export time.
// - Sampling: the v5 header's interval (low 14 bits, any mode) and the latest options data
//   of the exporter (IE 34, 50, or 305/306 as (interval + space) / interval) scale bytes and
//   packets, per exporter, not per sampler id. A flow record carrying its own interval uses it.
// - Sequence numbers: a forward jump below 2^20 counts as missed units (a reordered datagram
//   counts once as a gap); a backward jump or a larger forward one is taken as an exporter
//   restart and only resynchronises. An IPFIX message with held data sets leaves the next
//   expected number unknown (its record count is unknown).
// - Memory is bounded by the options' caps: exporters, templates per exporter, held bytes.
class FlowDecoder {
 public:
  explicit FlowDecoder(DecoderOptions options = {});
  ~FlowDecoder();
  FlowDecoder(const FlowDecoder&) = delete;
  FlowDecoder& operator=(const FlowDecoder&) = delete;

  // Decodes one datagram received from `exporter` at `received`, appending one FlowUpdate per
  // flow record to `out` (data sets held earlier for this exporter's new templates included).
  void decode(const sockaddr_storage& exporter, std::span<const std::uint8_t> datagram,
              std::chrono::system_clock::time_point received, std::vector<FlowUpdate>& out);
  // As above, rendering each record as a Metric with canonical text (tests, tools): the
  // collector keeps the binary form.
  void decode(const sockaddr_storage& exporter, std::span<const std::uint8_t> datagram,
              std::chrono::system_clock::time_point received, std::vector<Metric>& out);

  // Drops held data sets older than template_wait (counted) and forgets exporters silent
  // for exporter_timeout. Call about once a second.
  void expire(std::chrono::system_clock::time_point now);

  // A snapshot of every exporter's counters.
  std::vector<ExporterStats> stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace flowmetrics::netflow
