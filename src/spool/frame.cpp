#include "spool/frame.hpp"

#include <zlib.h>

#include "spool/crc32c.hpp"

#include <bit>
#include <cstring>

namespace flowmetrics::spool {
namespace {

constexpr std::uint32_t kMagic = 0x46534d46;  // "FMSF" read as little-endian

template <typename T>
void put(char* at, T value) {
  std::memcpy(at, &value, sizeof(T));  // the platforms we build on are little-endian
}

template <typename T>
T get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// Frames written before version 2 carry zlib's CRC-32 (byte 13 = 0); they are still read.
std::uint32_t checksum_v1(const char* header, std::string_view payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(header + 12), kFrameHeaderBytes - 12);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  return static_cast<std::uint32_t>(crc);
}

std::uint32_t checksum(const char* header, std::string_view payload) {
  if (header[13] == 0) return checksum_v1(header, payload);
  return crc32c(crc32c(0, header + 12, kFrameHeaderBytes - 12), payload);
}

}  // namespace

static_assert(std::endian::native == std::endian::little, "the spool format is little-endian");

void encode_frame(std::string& out, FrameType type, std::uint64_t sequence, std::int64_t time_ms,
                  std::string_view payload) {
  char header[kFrameHeaderBytes] = {};
  put<std::uint32_t>(header, kMagic);
  put<std::uint32_t>(header + 4, static_cast<std::uint32_t>(payload.size()));
  header[12] = static_cast<char>(type);
  header[13] = static_cast<char>(kChecksumCrc32c);
  put<std::uint64_t>(header + 16, sequence);
  put<std::int64_t>(header + 24, time_ms);
  put<std::uint32_t>(header + 8, checksum(header, payload));
  out.append(header, kFrameHeaderBytes);
  out.append(payload);
}

FrameCheck check_frame(std::span<const char> data, FrameHeader& header) {
  if (data.size() < 4) return FrameCheck::incomplete;
  if (get<std::uint32_t>(data.data()) != kMagic) return FrameCheck::damaged;
  if (data.size() < kFrameHeaderBytes) return FrameCheck::incomplete;
  const char* h = data.data();
  const auto length = get<std::uint32_t>(h + 4);
  const auto type = static_cast<std::uint8_t>(h[12]);
  if (length > kMaxFramePayload || (type != 1 && type != 2) || (h[13] != 0 && h[13] != kChecksumCrc32c) || h[14] != 0 ||
      h[15] != 0) {
    return FrameCheck::damaged;
  }
  if (data.size() < kFrameHeaderBytes + length) return FrameCheck::incomplete;
  if (get<std::uint32_t>(h + 8) != checksum(h, std::string_view(h + kFrameHeaderBytes, length))) {
    return FrameCheck::damaged;
  }
  header.type = static_cast<FrameType>(type);
  header.length = length;
  header.sequence = get<std::uint64_t>(h + 16);
  header.time_ms = get<std::int64_t>(h + 24);
  return FrameCheck::ok;
}

}  // namespace flowmetrics::spool
