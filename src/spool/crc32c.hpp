#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowmetrics::spool {

// CRC-32C (Castagnoli, iSCSI: reflected polynomial 0x82F63B78), the checksum of v2 spool
// frames. Runs on SSE4.2's crc32 instruction when the CPU has it (checked once, at run time:
// the build targets baseline x86-64) and on a table otherwise; both give the same value.
// Chain calls by passing the previous result as `crc` (start with 0).
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

inline std::uint32_t crc32c(std::uint32_t crc, std::string_view bytes) noexcept {
  return crc32c(crc, bytes.data(), bytes.size());
}

// Which implementation crc32c() uses on this machine: "sse4.2" or "table".
const char* crc32c_implementation() noexcept;

}  // namespace flowmetrics::spool
