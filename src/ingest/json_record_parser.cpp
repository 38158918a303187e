#include "ingest/json_record_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include "flowmetrics/validation.hpp"

// The On-Demand API is used rather than DOM because DOM converts every number while it
// parses, so one out-of-range number anywhere (1e400, a 25-digit counter) fails the whole
// document without saying which field it was. On-Demand converts a number only when asked,
// which gives per-field reasons, but it also checks only what is read: every value,
// including unknown fields, is therefore read to its end (validate()).

namespace flowmetrics::ingest {

std::string_view to_string(RejectReason reason) noexcept {
  switch (reason) {
    case RejectReason::none: return "none";
    case RejectReason::invalid_json: return "invalid_json";
    case RejectReason::not_an_object: return "not_an_object";
    case RejectReason::missing_field: return "missing_field";
    case RejectReason::wrong_type: return "wrong_type";
    case RejectReason::invalid_ip: return "invalid_ip";
    case RejectReason::invalid_port: return "invalid_port";
    case RejectReason::invalid_protocol: return "invalid_protocol";
    case RejectReason::invalid_timestamp: return "invalid_timestamp";
    case RejectReason::invalid_value: return "invalid_value";
    case RejectReason::line_too_long: return "line_too_long";
    case RejectReason::too_deep: return "too_deep";
  }
  return "unknown";
}

namespace {

namespace ondemand = simdjson::ondemand;
using ondemand::json_type;

// Inputs up to this size use the thread's buffers, kept for the next call; larger inputs get
// buffers freed after the call, so one huge body does not pin memory in every thread.
constexpr std::size_t kReusableBytes = std::size_t{256} << 10;

// Number timestamps below this are seconds, from it on milliseconds.
constexpr std::uint64_t kMillisecondsFrom = 100'000'000'000;

// system_clock counts int64 nanoseconds: 2262-04-11T23:47:16.854775807Z is its last instant.
constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;
constexpr std::int64_t kMaxNanosInLastSecond = std::numeric_limits<std::int64_t>::max() % 1'000'000'000;

enum Field : unsigned {
  kSourceIp,
  kDestIp,
  kSourcePort,
  kDestPort,
  kProtocol,
  kTimestamp,
  kValue,
  kPackets,
  kBytes,
  kFlows
};
constexpr std::array<std::string_view, 10> kFieldNames{"source_ip", "dest_ip", "source_port", "dest_port", "protocol",
                                                       "timestamp", "value",   "packets",     "bytes",     "flows"};
constexpr unsigned kRequiredFields = 7;  // the first seven of kFieldNames

// ---- Results and messages -------------------------------------------------------------

ParseResult reject(RejectReason reason, std::string message) {
  return ParseResult{reason, std::move(message)};
}

ParseResult too_deep();

ParseResult syntax_error(simdjson::error_code error) {
  if (error == simdjson::DEPTH_ERROR) return too_deep();
  return reject(RejectReason::invalid_json, std::string("not valid JSON: ") + simdjson::error_message(error));
}

ParseResult too_deep() {
  return reject(RejectReason::too_deep, "JSON nested deeper than " + std::to_string(kMaxJsonNesting) +
                                            " levels of objects and arrays (the record counts as one)");
}

// Damage that makes the rest of the input unreadable: it wins over a field's problem.
bool is_malformed(const ParseResult& result) {
  return result.reason == RejectReason::invalid_json || result.reason == RejectReason::too_deep;
}

ParseResult trailing_content() {
  return reject(RejectReason::invalid_json, "not valid JSON: unexpected content after the value");
}

// Input quoted in a message: at most 40 bytes, anything but printable ASCII as \xNN, so a
// hostile line cannot put control characters or half a UTF-8 sequence into a log.
std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  for (char c : text.substr(0, kMax)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  out += text.size() > kMax ? "'..." : "'";
  return out;
}

std::string_view type_name(json_type type) {
  switch (type) {
    case json_type::object: return "an object";
    case json_type::array: return "an array";
    case json_type::string: return "a string";
    case json_type::number: return "a number";
    case json_type::boolean: return "a boolean";
    case json_type::null: return "null";
  }
  return "an unknown type";
}

std::string field_message(Field field, std::string_view problem) {
  return std::string(kFieldNames[field]) + ": " + std::string(problem);
}

// ---- Number text ---------------------------------------------------------------------

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_json_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  return text;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? : On-Demand reports a malformed number and
// an out-of-range one alike, and only the first is a JSON error.
bool is_json_number(std::string_view text) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i - start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

bool is_integer_literal(std::string_view number) {
  return number.find_first_of(".eE") == std::string_view::npos;
}

// The integer part (saturating at UINT64_MAX) and the first nine fraction digits of a JSON
// number, read from its text so that binary rounding never moves a timestamp across a
// millisecond (1732530000.123 as a double is 1732530000.12299990654).
struct Decimal {
  bool negative = false;
  bool zero = true;
  std::uint64_t whole = 0;
  std::int64_t nanos = 0;
};

Decimal split_decimal(std::string_view number) {
  Decimal d;
  d.negative = number.front() == '-';
  if (d.negative) number.remove_prefix(1);
  const std::size_t dot = number.find('.');
  const std::size_t exp_at = number.find_first_of("eE");
  const std::string_view mantissa = number.substr(0, exp_at);
  const std::string_view int_digits = mantissa.substr(0, dot);
  const std::string_view frac_digits = dot == std::string_view::npos ? std::string_view{} : mantissa.substr(dot + 1);
  std::int64_t exponent = 0;
  if (exp_at != std::string_view::npos) {
    std::string_view e = number.substr(exp_at + 1);
    const bool negative_exp = e.front() == '-';
    if (e.front() == '+' || e.front() == '-') e.remove_prefix(1);
    for (char c : e) exponent = std::min<std::int64_t>(exponent * 10 + (c - '0'), 1'000'000'000);  // far past any use
    if (negative_exp) exponent = -exponent;
  }
  // Digit k of int_digits + frac_digits; the decimal point sits before digit `point`.
  const auto count = static_cast<std::int64_t>(int_digits.size() + frac_digits.size());
  const auto int_count = static_cast<std::int64_t>(int_digits.size());
  auto digit = [&](std::int64_t k) -> unsigned {
    if (k < 0 || k >= count) return 0;
    const char c =
        k < int_count ? int_digits[static_cast<std::size_t>(k)] : frac_digits[static_cast<std::size_t>(k - int_count)];
    return static_cast<unsigned>(c - '0');
  };
  std::int64_t first = 0;  // first significant digit
  while (first < count && digit(first) == 0) ++first;
  if (first == count) return d;
  d.zero = false;
  const std::int64_t point = int_count + exponent;
  if (point - first > 20) {  // more than 20 integer digits overflows uint64
    d.whole = std::numeric_limits<std::uint64_t>::max();
    return d;
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (std::int64_t k = first; k < point; ++k) {
    d.whole = d.whole > (kMax - digit(k)) / 10 ? kMax : d.whole * 10 + digit(k);
  }
  for (std::int64_t k = point; k < point + 9; ++k) d.nanos = d.nanos * 10 + digit(k);
  return d;
}

// ---- Timestamps -----------------------------------------------------------------------

struct Instant {
  bool in_range = false;
  std::int64_t nanos_since_epoch = 0;
};

Instant make_instant(std::int64_t seconds, std::int64_t nanos) {
  if (seconds < 0 || seconds > kMaxSeconds || (seconds == kMaxSeconds && nanos > kMaxNanosInLastSecond)) return {};
  return {true, seconds * 1'000'000'000 + nanos};
}

Instant epoch_number_instant(std::string_view number) {
  const Decimal d = split_decimal(number);
  if (d.negative && !d.zero) return {};
  if (d.whole < kMillisecondsFrom) return make_instant(static_cast<std::int64_t>(d.whole), d.nanos);
  if (d.whole / 1000 > static_cast<std::uint64_t>(kMaxSeconds)) return {};
  return make_instant(static_cast<std::int64_t>(d.whole / 1000),
                      static_cast<std::int64_t>(d.whole % 1000) * 1'000'000 + d.nanos / 1000);
}

// text[pos, pos + count) as a number, or -1 when one of them is not a digit.
int read_digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return -1;
  int n = 0;
  for (char c : text.substr(pos, count)) {
    if (!is_digit(c)) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Seconds east of UTC for "Z" or "+HH:MM" / "-HH:MM", which must be all of `text`.
std::optional<std::int64_t> rfc3339_offset(std::string_view text) {
  if (text == "Z" || text == "z") return 0;
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return std::nullopt;
  const int hours = read_digits(text, 1, 2);
  const int minutes = read_digits(text, 4, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return std::nullopt;
  const std::int64_t offset = hours * 3600 + minutes * 60;
  return text[0] == '-' ? -offset : offset;
}

// YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM), by hand: strptime depends on the
// locale and std::chrono::parse is not in this standard library yet.
std::optional<Instant> rfc3339_instant(std::string_view text) {
  const int year = read_digits(text, 0, 4), month = read_digits(text, 5, 2), day = read_digits(text, 8, 2);
  const int hour = read_digits(text, 11, 2), minute = read_digits(text, 14, 2), second = read_digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t start = ++pos;
    for (std::int64_t scale = 100'000'000; pos < text.size() && is_digit(text[pos]); ++pos, scale /= 10) {
      nanos += (text[pos] - '0') * scale;  // digits past the ninth have scale 0: truncated
    }
    if (pos == start) return std::nullopt;
  }
  const auto offset = rfc3339_offset(text.substr(pos));
  if (!offset) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days{date}.time_since_epoch().count();
  return make_instant(days * 86'400 + hour * 3600 + minute * 60 + second - *offset, nanos);
}

// ---- Reading JSON -----------------------------------------------------------------------

// Reads `value` to its end, checking that it is well-formed JSON; `depth` counts the
// objects and arrays around it. Nothing is skipped, because On-Demand checks only what is
// read: a skipped "[1,,2]" would pass.
ParseResult validate(ondemand::value value, std::size_t depth) {
  json_type type{};
  if (auto error = value.type().get(type)) return syntax_error(error);
  switch (type) {
    case json_type::object: {
      if (depth + 1 > kMaxJsonNesting) return too_deep();
      ondemand::object object;
      if (auto error = value.get_object().get(object)) return syntax_error(error);
      for (auto entry : object) {
        ondemand::field field;
        std::string_view key;
        if (auto error = std::move(entry).get(field)) return syntax_error(error);
        if (auto error = field.unescaped_key().get(key)) return syntax_error(error);
        if (auto result = validate(field.value(), depth + 1); !result.ok()) return result;
      }
      return {};
    }
    case json_type::array: {
      if (depth + 1 > kMaxJsonNesting) return too_deep();
      ondemand::array array;
      if (auto error = value.get_array().get(array)) return syntax_error(error);
      for (auto element : array) {
        ondemand::value item;
        if (auto error = std::move(element).get(item)) return syntax_error(error);
        if (auto result = validate(item, depth + 1); !result.ok()) return result;
      }
      return {};
    }
    case json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text)) return syntax_error(error);
      return {};
    }
    case json_type::number: {
      const std::string_view token = trim(value.raw_json_token());
      if (is_json_number(token)) return {};
      return reject(RejectReason::invalid_json, "not valid JSON: malformed number " + quote(token));
    }
    case json_type::boolean:
    case json_type::null: {
      // Checked as text: get_bool() reports "tru" as a type error, which misleads.
      const std::string_view token = trim(value.raw_json_token());
      if (token == "true" || token == "false" || token == "null") return {};
      return reject(RejectReason::invalid_json, "not valid JSON: malformed literal " + quote(token));
    }
  }
  return syntax_error(simdjson::TAPE_ERROR);
}

// wrong_type for a field whose value has another JSON type, once that value is known to be
// valid JSON: invalid_json wins.
ParseResult wrong_type(Field field, ondemand::value value, json_type type, std::string_view expected,
                       std::size_t depth) {
  if (auto result = validate(value, depth); !result.ok()) return result;
  return reject(RejectReason::wrong_type,
                field_message(field, "expected " + std::string(expected) + ", got " + std::string(type_name(type))));
}

// The text of a number value, or invalid_json when it is not a JSON number.
ParseResult number_text(Field field, ondemand::value& value, std::string_view& text) {
  text = trim(value.raw_json_token());
  if (is_json_number(text)) return {};
  return reject(RejectReason::invalid_json, field_message(field, "malformed number " + quote(text)));
}

// A JSON integer literal in [low, high]; anything else (80.0, 1e20, 1e400, -1) is `reason`.
ParseResult read_integer(Field field, ondemand::value& value, std::int64_t low, std::int64_t high, RejectReason reason,
                         std::int64_t& out) {
  std::string_view text;
  if (auto result = number_text(field, value, text); !result.ok()) return result;
  std::int64_t n = 0;
  if (!is_integer_literal(text) || value.get_int64().get(n) != simdjson::SUCCESS || n < low || n > high) {
    return reject(reason, field_message(field, quote(text) + " is not an integer " + std::to_string(low) + "-" +
                                                   std::to_string(high)));
  }
  out = n;
  return {};
}

ParseResult read_ip(Field field, ondemand::value value, json_type type, std::size_t depth, std::string& out) {
  if (type != json_type::string) return wrong_type(field, value, type, "a string", depth);
  std::string_view text;
  if (auto error = value.get_string().get(text)) return syntax_error(error);
  if (!normalize_ip(text)) {
    return reject(RejectReason::invalid_ip, field_message(field, quote(text) + " is not an IPv4 or IPv6 address"));
  }
  out.assign(text);
  return {};
}

ParseResult read_port(Field field, ondemand::value value, json_type type, std::size_t depth, int& out) {
  if (type != json_type::number) return wrong_type(field, value, type, "an integer 0-65535", depth);
  std::int64_t port = 0;
  auto result = read_integer(field, value, 0, 65535, RejectReason::invalid_port, port);
  if (result.ok()) out = static_cast<int>(port);
  return result;
}

ParseResult read_protocol(ondemand::value value, json_type type, std::size_t depth, std::string& out) {
  if (type == json_type::number) {
    std::int64_t number = 0;
    auto result = read_integer(kProtocol, value, 0, 255, RejectReason::invalid_protocol, number);
    if (result.ok()) out = std::to_string(number);
    return result;
  }
  if (type != json_type::string) return wrong_type(kProtocol, value, type, "a string or an integer 0-255", depth);
  std::string_view text;
  if (auto error = value.get_string().get(text)) return syntax_error(error);
  if (!normalize_protocol(text)) {
    return reject(RejectReason::invalid_protocol,
                  field_message(kProtocol, quote(text) + " is not a known protocol name or a number 0-255"));
  }
  out.assign(text);
  return {};
}

ParseResult read_timestamp(ondemand::value value, json_type type, std::size_t depth, Timestamp& out) {
  std::string_view text;
  std::optional<Instant> instant;
  if (type == json_type::string) {
    if (auto error = value.get_string().get(text)) return syntax_error(error);
    instant = rfc3339_instant(text);
  } else if (type == json_type::number) {
    if (auto result = number_text(kTimestamp, value, text); !result.ok()) return result;
    instant = epoch_number_instant(text);
  } else {
    return wrong_type(kTimestamp, value, type, "an RFC 3339 string or a number", depth);
  }
  if (!instant) {
    return reject(RejectReason::invalid_timestamp,
                  field_message(kTimestamp, quote(text) + " is not an RFC 3339 time such as 2024-11-25T10:20:00Z"));
  }
  if (!instant->in_range) {
    return reject(RejectReason::invalid_timestamp,
                  field_message(kTimestamp, quote(text) + " is outside 1970-01-01T00:00:00Z..2262-04-11T23:47:16Z"));
  }
  out =
      Timestamp{std::chrono::duration_cast<Timestamp::duration>(std::chrono::nanoseconds{instant->nanos_since_epoch})};
  return {};
}

ParseResult read_value(ondemand::value value, json_type type, std::size_t depth, double& out) {
  if (type != json_type::number) return wrong_type(kValue, value, type, "a number", depth);
  std::string_view text;
  if (auto result = number_text(kValue, value, text); !result.ok()) return result;
  double number = 0;
  if (value.get_double().get(number) != simdjson::SUCCESS || !std::isfinite(number)) {
    return reject(RejectReason::invalid_value, field_message(kValue, quote(text) + " is not a finite double"));
  }
  out = number;
  return {};
}

ParseResult read_counter(Field field, ondemand::value value, json_type type, std::size_t depth, std::uint64_t& out) {
  if (type == json_type::null) return validate(value, depth);  // absent
  if (type != json_type::number) return wrong_type(field, value, type, "a non-negative integer", depth);
  std::string_view text;
  if (auto result = number_text(field, value, text); !result.ok()) return result;
  std::uint64_t n = 0;
  if (!is_integer_literal(text) || value.get_uint64().get(n) != simdjson::SUCCESS) {
    return reject(RejectReason::invalid_value,
                  field_message(field, quote(text) + " is not an integer 0-18446744073709551615"));
  }
  out = n;
  return {};
}

ParseResult read_field(Field field, ondemand::value value, std::size_t depth, Metric& metric) {
  json_type type{};
  if (auto error = value.type().get(type)) return syntax_error(error);
  switch (field) {
    case kSourceIp: return read_ip(field, value, type, depth, metric.source_ip);
    case kDestIp: return read_ip(field, value, type, depth, metric.dest_ip);
    case kSourcePort: return read_port(field, value, type, depth, metric.source_port);
    case kDestPort: return read_port(field, value, type, depth, metric.dest_port);
    case kProtocol: return read_protocol(value, type, depth, metric.protocol);
    case kTimestamp: return read_timestamp(value, type, depth, metric.timestamp);
    case kValue: return read_value(value, type, depth, metric.value);
    case kPackets: return read_counter(field, value, type, depth, metric.packets);
    case kBytes: return read_counter(field, value, type, depth, metric.bytes);
    case kFlows: return read_counter(field, value, type, depth, metric.flows);
  }
  return validate(value, depth);
}

std::optional<Field> find_field(std::string_view key) {
  for (unsigned i = 0; i < kFieldNames.size(); ++i) {
    if (kFieldNames[i] == key) return static_cast<Field>(i);
  }
  return std::nullopt;
}

// Reads a record's fields into `metric`; `depth` counts the object and what encloses it.
// Reads to the object's end even after a bad field, so that invalid JSON later in the
// line still wins (see the header).
ParseResult parse_object(ondemand::object object, std::size_t depth, Metric& metric) {
  unsigned seen = 0;
  ParseResult first_problem;
  for (auto entry : object) {
    ondemand::field field;
    std::string_view key;
    if (auto error = std::move(entry).get(field)) return syntax_error(error);
    if (auto error = field.unescaped_key().get(key)) return syntax_error(error);
    const auto known = find_field(key);
    if (known && (seen & (1u << *known)) != 0) {
      return reject(RejectReason::invalid_json, field_message(*known, "field appears more than once"));
    }
    if (known) seen |= 1u << *known;
    auto result = known ? read_field(*known, field.value(), depth, metric) : validate(field.value(), depth);
    if (is_malformed(result)) return result;
    if (!result.ok() && first_problem.ok()) first_problem = std::move(result);
  }
  if (!first_problem.ok()) return first_problem;
  for (unsigned i = 0; i < kRequiredFields; ++i) {
    if ((seen & (1u << i)) == 0) {
      return reject(RejectReason::missing_field, "missing required field '" + std::string(kFieldNames[i]) + "'");
    }
  }
  return {};
}

// ---- Padded input -----------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the input, and a std::string_view line
// has no such slack: the line is copied into a padded buffer owned with the parser.
struct Workspace {
  ondemand::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
  bool busy = false;

  simdjson::simdjson_result<ondemand::document> iterate(std::string_view text) {
    const std::size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (needed > capacity) {
      buffer.reset(new (std::nothrow) char[needed]);
      capacity = buffer ? needed : 0;
      if (!buffer) return simdjson::MEMALLOC;
    }
    if (!text.empty()) std::memcpy(buffer.get(), text.data(), text.size());
    std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);  // read, so defined
    return parser.iterate(buffer.get(), text.size(), capacity);
  }
};

// The calling thread's workspace, or a private one when that is in use further up the
// stack (a callback parsing again) or the input is too big to keep its buffers for.
class WorkspaceLease {
 public:
  explicit WorkspaceLease(std::size_t input_bytes) {
    thread_local Workspace shared;
    if (!shared.busy && input_bytes <= kReusableBytes) {
      workspace_ = &shared;
      shared.busy = true;
    } else {
      owned_ = std::make_unique<Workspace>();
      workspace_ = owned_.get();
    }
  }
  ~WorkspaceLease() {
    if (!owned_) workspace_->busy = false;
  }
  WorkspaceLease(const WorkspaceLease&) = delete;
  WorkspaceLease& operator=(const WorkspaceLease&) = delete;

  Workspace* operator->() const noexcept { return workspace_; }

 private:
  std::unique_ptr<Workspace> owned_;
  Workspace* workspace_ = nullptr;
};

// True when nothing but whitespace follows what has been read.
bool at_end(ondemand::document& doc) {
  const char* location = nullptr;
  return doc.current_location().get(location) == simdjson::OUT_OF_BOUNDS;
}

bool is_blank(std::string_view line) {
  return trim(line).empty();
}

// A root that is not an object: not_an_object when it is valid JSON, invalid_json otherwise.
ParseResult non_object_root(ondemand::document& doc, json_type type, std::string_view line) {
  ParseResult valid;
  if (type == json_type::array) {
    ondemand::value value;
    if (auto error = doc.get_value().get(value)) return syntax_error(error);
    valid = validate(value, 0);
    if (valid.ok() && !at_end(doc)) valid = trailing_content();
  } else if (type == json_type::string) {
    std::string_view text;
    if (auto error = doc.get_string().get(text)) return syntax_error(error);
    if (!at_end(doc)) valid = trailing_content();
  } else {
    // A scalar root must be the whole line.
    const std::string_view token = trim(line);
    if (!is_json_number(token) && token != "true" && token != "false" && token != "null") {
      valid = reject(RejectReason::invalid_json, "not valid JSON: " + quote(token));
    }
  }
  if (!valid.ok()) return valid;
  return reject(RejectReason::not_an_object, "expected a JSON object, got " + std::string(type_name(type)));
}

std::size_t parse_ndjson_body(std::string_view body, const std::function<void(std::size_t, Metric&&)>& on_record,
                              const std::function<void(std::size_t, const ParseResult&)>& on_reject) {
  std::size_t index = 0;
  while (!body.empty()) {
    const std::size_t newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body.remove_prefix(newline == std::string_view::npos ? body.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) continue;
    Metric metric;
    const ParseResult result = parse_json_record(line, metric);
    if (result.ok()) {
      on_record(index, std::move(metric));
    } else {
      on_reject(index, result);
    }
    ++index;
  }
  return index;
}

std::size_t parse_array_body(std::string_view body, const std::function<void(std::size_t, Metric&&)>& on_record,
                             const std::function<void(std::size_t, const ParseResult&)>& on_reject) {
  auto whole_body_rejected = [&](const ParseResult& result) {
    on_reject(0, result);
    return std::size_t{1};
  };
  WorkspaceLease workspace(body.size());
  ondemand::document doc;
  if (auto error = workspace->iterate(body).get(doc)) return whole_body_rejected(syntax_error(error));
  // First pass: On-Demand finds damage (a truncated body) only when it gets there, and no
  // element may be delivered from a body that is not JSON.
  ondemand::value root;
  if (auto error = doc.get_value().get(root)) return whole_body_rejected(syntax_error(error));
  if (auto result = validate(root, 0); !result.ok()) return whole_body_rejected(result);
  if (!at_end(doc)) return whole_body_rejected(trailing_content());

  doc.rewind();
  ondemand::array array;
  if (auto error = doc.get_array().get(array)) return whole_body_rejected(syntax_error(error));
  std::size_t index = 0;
  for (auto element : array) {
    ondemand::value value;
    json_type type{};
    if (auto error = std::move(element).get(value)) {  // cannot happen after the first pass
      on_reject(index, syntax_error(error));
      return index + 1;
    }
    if (auto error = value.type().get(type)) {
      on_reject(index, syntax_error(error));
      return index + 1;
    }
    ondemand::object object;
    if (type != json_type::object || value.get_object().get(object) != simdjson::SUCCESS) {
      on_reject(index, reject(RejectReason::not_an_object, "element " + std::to_string(index) +
                                                               ": expected a JSON object, got " +
                                                               std::string(type_name(type))));
    } else {
      Metric metric;
      ParseResult result = parse_object(object, 2, metric);
      if (result.ok()) {
        on_record(index, std::move(metric));
      } else {
        on_reject(index, result);
      }
    }
    ++index;
  }
  return index;
}

}  // namespace

ParseResult parse_json_record(std::string_view line, Metric& metric) {
  WorkspaceLease workspace(line.size());
  ondemand::document doc;
  if (auto error = workspace->iterate(line).get(doc)) return syntax_error(error);
  json_type type{};
  if (auto error = doc.type().get(type)) return syntax_error(error);
  if (type != json_type::object) return non_object_root(doc, type, line);
  ondemand::object object;
  if (auto error = doc.get_object().get(object)) return syntax_error(error);
  Metric parsed;
  ParseResult result = parse_object(object, 1, parsed);
  if (is_malformed(result)) return result;
  if (!at_end(doc)) return trailing_content();
  if (result.ok()) metric = std::move(parsed);
  return result;
}

std::optional<std::int64_t> json_timestamp_ms(std::string_view text, bool quoted) {
  std::optional<Instant> instant = quoted ? rfc3339_instant(text) : epoch_number_instant(text);
  if (!instant || !instant->in_range) return std::nullopt;
  return instant->nanos_since_epoch / 1'000'000;  // not negative: floor
}

std::size_t parse_json_body(std::string_view body, const std::function<void(std::size_t, Metric&&)>& on_record,
                            const std::function<void(std::size_t, const ParseResult&)>& on_reject) {
  const std::string_view start = trim(body);
  if (!start.empty() && start.front() == '[') return parse_array_body(body, on_record, on_reject);
  return parse_ndjson_body(body, on_record, on_reject);
}

}  // namespace flowmetrics::ingest
