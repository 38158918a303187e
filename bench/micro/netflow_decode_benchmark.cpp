// NetFlow v5 / v9 / IPFIX decode cost per flow record (FlowDecoder::decode, no sockets).
//   build/bench/micro/bench_netflow_decode [--benchmark_repetitions=5]
// ns_per_record is CPU time per record; the budget for decode plus aggregation is
// 250 ns per record (0.25 CPU-seconds per million).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "flowmetrics/validation.hpp"
#include "netflow/flow_decoder.hpp"
#include "packet_builder.hpp"

namespace {

using namespace flowmetrics;
using namespace flowmetrics::netflow;
using test::kExportSecs;
using test::PacketBuilder;

// Distinct addresses and ports per record, as real traffic has.
const char* address(int i, char* text) {
  std::snprintf(text, 16, "10.%u.%u.%u", static_cast<unsigned char>(i / 65536), static_cast<unsigned char>(i / 256),
                static_cast<unsigned char>(i));
  return text;
}

std::vector<std::uint8_t> v5_datagram(std::uint32_t sequence) {
  auto b = test::v5_header(30, 100'000, kExportSecs, 0, sequence);
  char src[16];
  for (int i = 0; i < 30; ++i) {
    test::v5_record(b, address(static_cast<int>(sequence) + i, src), "192.168.200.17",
                    static_cast<std::uint16_t>(1024 + i), 443, 6, 12, 9000, 90'000, 99'000);
  }
  return b.build();
}

// softflowd's v9 / IPFIX IPv4 template: addresses, sysUpTime start/end, counters,
// interfaces, ports, protocol, TCP flags, IP version, ToS (IPFIX: flowStart/EndSysUpTime).
void softflowd_fields(PacketBuilder& b) {
  b.fields({{8, 4},
            {12, 4},
            {22, 4},
            {21, 4},
            {1, 4},
            {2, 4},
            {10, 4},
            {14, 4},
            {7, 2},
            {11, 2},
            {4, 1},
            {6, 1},
            {60, 1},
            {5, 1}});
}

void softflowd_record(PacketBuilder& b, int i) {
  char src[16];
  b.ipv4(address(i, src)).ipv4("192.168.200.17").u32(50'000).u32(59'000).u32(9000).u32(12).u32(1).u32(2);
  b.u16(static_cast<std::uint16_t>(1024 + i % 60000)).u16(443).u8(6).u8(0x1b).u8(4).u8(0);
}

// v9 as nfreplay sends it: the template before every 8 records.
std::vector<std::uint8_t> v9_datagram(std::uint32_t sequence, int records, bool with_template) {
  auto b = test::v9_header(60'000, kExportSecs, sequence, 1);
  if (with_template) {
    b.begin_set(0).u16(256).u16(14);
    softflowd_fields(b);
    b.end_set(4);
  }
  b.begin_set(256);
  for (int i = 0; i < records; ++i) softflowd_record(b, static_cast<int>(sequence) * records + i);
  b.end_set(4);
  return b.build();
}

std::vector<std::uint8_t> ipfix_datagram(std::uint32_t sequence, int records, bool with_template) {
  auto b = test::ipfix_header(kExportSecs, sequence, 1);
  if (with_template) {
    b.begin_set(2).u16(1024).u16(14);
    softflowd_fields(b);
    b.end_set();
    b.begin_set(3).u16(256).u16(2).u16(1).fields({{143, 4}, {160, 8}}).end_set();
    b.begin_set(256).u32(1).u64(std::uint64_t{kExportSecs} * 1000 - 3'600'000).end_set();
  }
  b.begin_set(1024);
  for (int i = 0; i < records; ++i) softflowd_record(b, static_cast<int>(sequence) * records + i);
  b.end_set();
  return b.build();
}

// Decodes `datagrams` round-robin into binary records, as the collector does; with `key`,
// also hashes each record's key as the aggregation step does (the decoder built the key).
void run(benchmark::State& state, const std::vector<std::vector<std::uint8_t>>& datagrams, bool key = false) {
  FlowDecoder decoder;
  const auto exporter = test::exporter_v4("192.0.2.1");
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(kExportSecs + 1));
  std::vector<FlowUpdate> out;
  for (const auto& d : datagrams) decoder.decode(exporter, d, now, out);  // learn the templates
  out.clear();
  std::size_t records = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    decoder.decode(exporter, datagrams[i], now, out);
    if (++i == datagrams.size()) i = 0;
    if (key) {
      for (const FlowUpdate& u : out) benchmark::DoNotOptimize(hash_flow_key(u.key));
    }
    records += out.size();
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.counters["ns_per_record"] =
      benchmark::Counter(static_cast<double>(records) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

std::vector<std::vector<std::uint8_t>> many(auto make) {
  std::vector<std::vector<std::uint8_t>> datagrams;
  for (std::uint32_t s = 0; s < 256; ++s) datagrams.push_back(make(s));
  return datagrams;
}

void BM_V5(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return v5_datagram(s * 30); }));
}
BENCHMARK(BM_V5);

void BM_V9_Data24(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return v9_datagram(s, 24, s == 0); }));
}
BENCHMARK(BM_V9_Data24);

void BM_V9_TemplateEvery8(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return v9_datagram(s, 8, true); }));
}
BENCHMARK(BM_V9_TemplateEvery8);

void BM_V9_Data24_WithKey(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return v9_datagram(s, 24, s == 0); }), true);
}
BENCHMARK(BM_V9_Data24_WithKey);

void BM_Ipfix_Data24(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return ipfix_datagram(s * 24, 24, s == 0); }));
}
BENCHMARK(BM_Ipfix_Data24);

void BM_Ipfix_TemplateEvery8(benchmark::State& state) {
  run(state, many([](std::uint32_t s) { return ipfix_datagram(s * 8, 8, true); }));
}
BENCHMARK(BM_Ipfix_TemplateEvery8);

}  // namespace

BENCHMARK_MAIN();
