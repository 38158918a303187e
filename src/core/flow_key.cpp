#include "core/flow_key.hpp"

#include <arpa/inet.h>

#include <chrono>
#include <cmath>

#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

// The canonical names of protocol_number()'s table, indexed by number; empty: decimal.
struct ProtocolTexts {
  std::array<std::string_view, 256> text{};
  std::array<char, 256 * 4> decimal{};
  ProtocolTexts() {
    for (int n = 0; n < 256; ++n) {
      char* d = &decimal[static_cast<std::size_t>(n) * 4];
      std::size_t len = 0;
      if (n >= 100) d[len++] = static_cast<char>('0' + n / 100);
      if (n >= 10) d[len++] = static_cast<char>('0' + n / 10 % 10);
      d[len++] = static_cast<char>('0' + n % 10);
      text[static_cast<std::size_t>(n)] = std::string_view(d, len);
    }
    // normalize_protocol is the one table of names: ask it once per number.
    for (int n = 0; n < 256; ++n) {
      const auto canonical = normalize_protocol(text[static_cast<std::size_t>(n)]);
      if (canonical && *canonical != text[static_cast<std::size_t>(n)]) names[static_cast<std::size_t>(n)] = *canonical;
    }
    for (int n = 0; n < 256; ++n) {
      if (!names[static_cast<std::size_t>(n)].empty())
        text[static_cast<std::size_t>(n)] = names[static_cast<std::size_t>(n)];
    }
  }
  std::array<std::string, 256> names;
};

const ProtocolTexts& protocol_texts() {
  static const ProtocolTexts texts;
  return texts;
}

std::size_t format_ipv4(const std::uint8_t* address, char* text) noexcept {
  char* p = text;
  for (int i = 0; i < 4; ++i) {
    unsigned v = address[i];
    if (v >= 100) {
      *p++ = static_cast<char>('0' + v / 100);
      v %= 100;
      *p++ = static_cast<char>('0' + v / 10);
      *p++ = static_cast<char>('0' + v % 10);
    } else if (v >= 10) {
      *p++ = static_cast<char>('0' + v / 10);
      *p++ = static_cast<char>('0' + v % 10);
    } else {
      *p++ = static_cast<char>('0' + v);
    }
    if (i < 3) *p++ = '.';
  }
  return static_cast<std::size_t>(p - text);
}

std::uint64_t word(const FlowKey& key, std::size_t i) noexcept {
  std::uint64_t w;
  std::memcpy(&w, reinterpret_cast<const char*>(&key) + 8 * i, 8);
  return w;
}

// 64x64 -> 128-bit multiply folded to 64 bits (wyhash's mum): every input bit reaches
// every output bit in one multiply.
std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
  __extension__ using u128 = unsigned __int128;  // GCC and Clang on 64-bit targets
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

constexpr std::uint64_t kSecret[7] = {0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL,
                                      0x589965cc75374cc3ULL, 0x1d8e4e27c47d124fULL, 0x9e3779b97f4a7c15ULL,
                                      0xbf58476d1ce4e5b9ULL};

}  // namespace

std::string_view rejection_label(KeyRejection reason) noexcept {
  switch (reason) {
    case KeyRejection::none: return "";
    case KeyRejection::invalid_ip: return "invalid_ip";
    case KeyRejection::invalid_port: return "invalid_port";
    case KeyRejection::invalid_protocol: return "invalid_protocol";
    case KeyRejection::invalid_timestamp: return "invalid_timestamp";
    case KeyRejection::invalid_value: return "invalid_value";
  }
  return "invalid_value";
}

KeyRejection make_flow_key(const Metric& metric, FlowKey& key) noexcept {
  const auto source = parse_ip(metric.source_ip);
  if (!source) return KeyRejection::invalid_ip;
  const auto dest = parse_ip(metric.dest_ip);
  if (!dest) return KeyRejection::invalid_ip;
  if (metric.source_port < 0 || metric.source_port > 65535 || metric.dest_port < 0 || metric.dest_port > 65535) {
    return KeyRejection::invalid_port;
  }
  std::optional<int> protocol;
  try {
    protocol = protocol_number(metric.protocol);
  } catch (...) {  // std::bad_alloc of a 16-character string
    return KeyRejection::invalid_protocol;
  }
  if (!protocol) return KeyRejection::invalid_protocol;
  if (!std::isfinite(metric.value)) return KeyRejection::invalid_value;
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(metric.timestamp.time_since_epoch()).count();
  return make_flow_key(*source, *dest, static_cast<std::uint16_t>(metric.source_port),
                       static_cast<std::uint16_t>(metric.dest_port), static_cast<std::uint8_t>(*protocol), ms, key);
}

KeyRejection make_flow_update(const Metric& metric, FlowUpdate& update) noexcept {
  const KeyRejection reason = make_flow_key(metric, update.key);
  if (reason != KeyRejection::none) return reason;
  update.value = metric.value;
  update.packets = metric.packets;
  update.bytes = metric.bytes;
  update.flows = metric.flows;
  return KeyRejection::none;
}

namespace {

// A dotted quad exactly as glibc's inet_pton(AF_INET) takes it: four decimal octets of at most
// 255, no leading zero, nothing else. False for anything else, which then goes to inet_pton
// itself: this only saves the copy and the call for the common case.
bool parse_dotted_quad(std::string_view text, std::uint8_t* out) noexcept {
  if (text.size() < 7 || text.size() > 15) return false;
  std::size_t octet = 0;
  unsigned value = 0;
  std::size_t digits = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      if (digits == 1 && value == 0) return false;  // a leading zero
      value = value * 10 + static_cast<unsigned>(c - '0');
      if (value > 255) return false;
      ++digits;
    } else if (c == '.') {
      if (digits == 0 || octet == 3) return false;
      out[octet++] = static_cast<std::uint8_t>(value);
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || octet != 3) return false;
  out[3] = static_cast<std::uint8_t>(value);
  return true;
}

}  // namespace

std::optional<FlowAddress> parse_ip(std::string_view address) noexcept {
  FlowAddress a;
  if (parse_dotted_quad(address, a.bytes.data())) return a;
  // normalize_ip's rules, without its strings: inet_pton on a NUL-terminated copy.
  if (address.empty() || address.size() > INET6_ADDRSTRLEN) return std::nullopt;
  if (address.find('\0') != std::string_view::npos) return std::nullopt;
  char text[INET6_ADDRSTRLEN + 1] = {};
  address.copy(text, address.size());
  if (inet_pton(AF_INET, text, a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, text, a.bytes.data()) != 1) return std::nullopt;
  a.v6 = true;
  return a;
}

std::string render_ip(const std::array<std::uint8_t, 16>& bytes, bool v6) {
  char text[INET6_ADDRSTRLEN];
  if (!v6) return std::string(text, format_ipv4(bytes.data(), text));
  // inet_ntop is what normalize_ip printed with: the same text, mapped forms included.
  if (inet_ntop(AF_INET6, bytes.data(), text, sizeof(text)) == nullptr) return {};
  return std::string(text);
}

std::string_view protocol_text(std::uint8_t number) noexcept {
  return protocol_texts().text[number];
}

MetricKey render_metric_key(const FlowKey& key) {
  MetricKey out;
  out.source_ip = render_ip(key.source_ip, key.source_v6());
  out.dest_ip = render_ip(key.dest_ip, key.dest_v6());
  out.source_port = key.source_port;
  out.dest_port = key.dest_port;
  out.protocol = std::string(protocol_text(key.protocol));
  out.timestamp_ms = key.timestamp_ms;
  return out;
}

std::optional<FlowKey> flow_key_from_metric_key(const MetricKey& text) noexcept {
  const auto source = parse_ip(text.source_ip);
  const auto dest = parse_ip(text.dest_ip);
  if (!source || !dest) return std::nullopt;
  std::optional<int> protocol;
  try {
    protocol = protocol_number(text.protocol);
  } catch (...) {
    return std::nullopt;
  }
  if (!protocol) return std::nullopt;
  FlowKey key;
  if (make_flow_key(*source, *dest, text.source_port, text.dest_port, static_cast<std::uint8_t>(*protocol),
                    text.timestamp_ms, key) != KeyRejection::none) {
    return std::nullopt;
  }
  return key;
}

std::uint64_t hash_flow_key(const FlowKey& key) noexcept {
  const std::uint64_t a = mum(word(key, 0) ^ kSecret[0], word(key, 1) ^ kSecret[1]);
  const std::uint64_t b = mum(word(key, 2) ^ kSecret[2], word(key, 3) ^ kSecret[3]);
  const std::uint64_t c = mum(word(key, 4) ^ kSecret[4], word(key, 5) ^ kSecret[5]);
  return mum(a ^ (b << 1 | b >> 63) ^ kSecret[6], c ^ kSecret[5]);
}

}  // namespace flowmetrics
