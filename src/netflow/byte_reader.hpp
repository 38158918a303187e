#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowmetrics::netflow {

// Big-endian loads from raw bytes. The caller has checked that the bytes exist.
inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
// An unsigned big-endian number of 1-8 bytes (IPFIX reduced-size encoding, RFC 7011 6.2).
inline std::uint64_t load_be(const std::uint8_t* p, std::size_t length) noexcept {
  switch (length) {  // the usual sizes without a loop
    case 1: return p[0];
    case 2: return load_be16(p);
    case 4: return load_be32(p);
    case 8: return load_be64(p);
    default: break;
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < length; ++i) value = (value << 8) | p[i];
  return value;
}

// A bounds-checked cursor over a datagram. Every read checks the remaining length first and
// reports failure instead of reading past the end; it never throws.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) noexcept : data_(bytes.data()), size_(bytes.size()) {}

  std::size_t remaining() const noexcept { return size_ - pos_; }
  std::size_t position() const noexcept { return pos_; }
  const std::uint8_t* current() const noexcept { return data_ + pos_; }
  bool has(std::size_t n) const noexcept { return n <= size_ - pos_; }

  bool u8(std::uint8_t& v) noexcept {
    if (!has(1)) return false;
    v = data_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) noexcept {
    if (!has(2)) return false;
    v = load_be16(data_ + pos_);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) noexcept {
    if (!has(4)) return false;
    v = load_be32(data_ + pos_);
    pos_ += 4;
    return true;
  }
  bool skip(std::size_t n) noexcept {
    if (!has(n)) return false;
    pos_ += n;
    return true;
  }
  // The next `n` bytes as a span, advancing past them; false when fewer remain.
  bool bytes(std::size_t n, std::span<const std::uint8_t>& out) noexcept {
    if (!has(n)) return false;
    out = {data_ + pos_, n};
    pos_ += n;
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace flowmetrics::netflow
