#include "mongo/totals_codec.hpp"

#include <bit>
#include <cmath>
#include <cstring>

namespace flowmetrics::mongo {
namespace {

void put_uvarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_uvarint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

constexpr double kWholeLimit = 4611686018427387904.0;  // 2^62

void put_value(std::string& out, double v) {
  if (v >= 0 && v < kWholeLimit && std::floor(v) == v) {
    put_uvarint(out, static_cast<std::uint64_t>(v) * 2);
    return;
  }
  out.push_back('\x01');
  const auto bits = std::bit_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

bool get_value(std::string_view& in, double& v) {
  std::uint64_t word = 0;
  if (!get_uvarint(in, word)) return false;
  if (word % 2 == 0) {
    v = static_cast<double>(word / 2);
    return true;
  }
  if (word != 1 || in.size() < 8) return false;
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(8);
  v = std::bit_cast<double>(bits);
  return true;
}

}  // namespace

void TotalsSums::add(const TotalsSums& other) noexcept {
  bytes += other.bytes;
  packets += other.packets;
  flows += other.flows;
  count += other.count;
  value += other.value;
}

std::string pack_totals(const TotalsEntries& entries) {
  std::string out;
  out.reserve(2 + entries.size() * 16);
  put_uvarint(out, entries.size());
  for (const auto& [key, sums] : entries) {
    put_uvarint(out, key.size());
    out += key;
    put_uvarint(out, sums.bytes);
    put_uvarint(out, sums.packets);
    put_uvarint(out, sums.flows);
    put_uvarint(out, sums.count);
    put_value(out, sums.value);
  }
  return out;
}

std::optional<TotalsEntries> unpack_totals(std::string_view in) {
  std::uint64_t n = 0;
  // Each entry takes at least 6 bytes: a count larger than that is damage, not a reason to
  // reserve memory.
  if (!get_uvarint(in, n) || n > in.size() / 6) return std::nullopt;
  TotalsEntries entries;
  entries.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t length = 0;
    if (!get_uvarint(in, length) || length > in.size()) return std::nullopt;
    std::string key(in.substr(0, length));
    in.remove_prefix(length);
    TotalsSums sums;
    if (!get_uvarint(in, sums.bytes) || !get_uvarint(in, sums.packets) || !get_uvarint(in, sums.flows) ||
        !get_uvarint(in, sums.count) || !get_value(in, sums.value)) {
      return std::nullopt;
    }
    entries.emplace_back(std::move(key), sums);
  }
  if (!in.empty()) return std::nullopt;
  return entries;
}

TotalsEntries merge_totals(const TotalsEntries& a, const TotalsEntries& b) {
  TotalsEntries out;
  out.reserve(a.size() + b.size());
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() || j != b.end()) {
    if (j == b.end() || (i != a.end() && i->first < j->first)) {
      out.push_back(*i++);
    } else if (i == a.end() || j->first < i->first) {
      out.push_back(*j++);
    } else {
      out.push_back(*i++);
      out.back().second.add(j++->second);
    }
  }
  return out;
}

}  // namespace flowmetrics::mongo
