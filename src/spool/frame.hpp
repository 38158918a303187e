#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace flowmetrics::spool {

// A spool file is a sequence of frames, each a 32-byte header and a payload:
//   offset 0  u32 magic "FMSF"        offset 12 u8  type
//   offset 4  u32 payload length      offset 13 u8  checksum: 1 CRC-32C (written since records
//   offset 8  u32 checksum of bytes                 version 2), 0 zlib's CRC-32 (read only)
//             12..32 and the payload  offset 14 2 bytes zero
//                                     offset 16 u64 sequence (unique, increasing in the spool)
//                                     offset 24 i64 append time, ms since the Unix epoch
// All integers little-endian. See docs/durability.md.
enum class FrameType : std::uint8_t {
  records = 1,  // a RecordBatch: records one input handed over at once
  flush = 2,    // a FlushMarker: a writer took entries of its partition to write them
};

inline constexpr std::size_t kFrameHeaderBytes = 32;
inline constexpr char kChecksumCrc32c = 1;
inline constexpr std::uint32_t kMaxFramePayload = 256u << 20;

struct FrameHeader {
  FrameType type = FrameType::records;
  std::uint32_t length = 0;
  std::uint64_t sequence = 0;
  std::int64_t time_ms = 0;
};

// The clock frames are stamped with: milliseconds since the Unix epoch.
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends a whole frame to `out`.
void encode_frame(std::string& out, FrameType type, std::uint64_t sequence, std::int64_t time_ms,
                  std::string_view payload);

enum class FrameCheck : std::uint8_t {
  ok,          // a whole, intact frame starts at data[0]
  incomplete,  // the bytes end before the frame does (a truncated tail)
  damaged,     // not a frame: wrong magic, impossible length or a CRC mismatch
};

// Checks whether `data` starts with an intact frame; fills `header` when it does.
FrameCheck check_frame(std::span<const char> data, FrameHeader& header);

}  // namespace flowmetrics::spool
