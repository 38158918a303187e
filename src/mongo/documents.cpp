#include "mongo/documents.hpp"

#include <arpa/inet.h>

#include <limits>

namespace flowmetrics::mongo {
namespace {

int length(const std::string& s) {
  return static_cast<int>(s.size());
}

std::int64_t to_int64(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(value > kMax ? kMax : value);
}

void append_address_keys(bson_t* doc, const MetricKey& key) {
  const std::string source = address_sort_key(key.source_ip);
  const std::string dest = address_sort_key(key.dest_ip);
  BSON_APPEND_UTF8(doc, "source_ip_hex", source.c_str());
  BSON_APPEND_UTF8(doc, "dest_ip_hex", dest.c_str());
}

void append_key_fields(bson_t* doc, const MetricKey& key) {
  BSON_APPEND_UTF8(doc, "source_ip", key.source_ip.c_str());
  BSON_APPEND_UTF8(doc, "dest_ip", key.dest_ip.c_str());
  BSON_APPEND_INT32(doc, "source_port", key.source_port);
  BSON_APPEND_INT32(doc, "dest_port", key.dest_port);
  BSON_APPEND_UTF8(doc, "protocol", key.protocol.c_str());
  BSON_APPEND_DATE_TIME(doc, "timestamp", key.timestamp_ms);
}

void append_counters(bson_t* doc, const MetricAggregate& a, bool always) {
  if (always || a.packets != 0) BSON_APPEND_INT64(doc, "packets", to_int64(a.packets));
  if (always || a.bytes != 0) BSON_APPEND_INT64(doc, "bytes", to_int64(a.bytes));
  if (always || a.flows != 0) BSON_APPEND_INT64(doc, "flows", to_int64(a.flows));
}

std::string applied_field(const WriteStamp& stamp) {
  return "_applied." + stamp.stream;
}

void append_stamp(bson_t* doc, const WriteStamp& stamp) {
  bson_t child;
  BSON_APPEND_DOCUMENT_BEGIN(doc, "_applied", &child);
  bson_append_int64(&child, stamp.stream.c_str(), length(stamp.stream), to_int64(stamp.sequence));
  bson_append_document_end(doc, &child);
}

void append_replace_fields(bson_t* doc, const MetricAggregate& a, bool all_counters) {
  BSON_APPEND_DOUBLE(doc, "value", a.last);
  append_counters(doc, a, all_counters);
}

}  // namespace

std::string address_sort_key(std::string_view address) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string text(address);
  unsigned char bytes[16];
  std::size_t size = 0;
  char family = '?';
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    size = 4;
    family = '4';
  } else if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    size = 16;
    family = '6';
  } else {
    return "?";  // never for a validated key; sorts apart from both families
  }
  std::string key(1 + 2 * size, family);
  for (std::size_t i = 0; i < size; ++i) {
    key[1 + 2 * i] = kHex[bytes[i] >> 4];
    key[2 + 2 * i] = kHex[bytes[i] & 0xf];
  }
  return key;
}

BsonPtr build_document(const KeyedAggregate& item, MergePolicy policy, const WriteStamp* stamp) {
  BsonPtr doc = make_bson();
  bson_append_utf8(doc.get(), "_id", 3, item.id.c_str(), length(item.id));
  append_key_fields(doc.get(), item.key);
  append_address_keys(doc.get(), item.key);
  const MetricAggregate& a = item.aggregate;
  if (policy == MergePolicy::replace) {
    append_replace_fields(doc.get(), a, stamp != nullptr);
  } else {
    BSON_APPEND_DOUBLE(doc.get(), "value", a.sum);
    BSON_APPEND_INT64(doc.get(), "count", to_int64(a.count));
    BSON_APPEND_DOUBLE(doc.get(), "min", a.min);
    BSON_APPEND_DOUBLE(doc.get(), "max", a.max);
    append_counters(doc.get(), a, true);
  }
  if (stamp != nullptr) append_stamp(doc.get(), *stamp);
  return doc;
}

namespace {

BsonPtr id_filter(const std::string& id, const WriteStamp* stamp) {
  BsonPtr filter = make_bson();
  bson_append_utf8(filter.get(), "_id", 3, id.c_str(), length(id));
  if (stamp != nullptr) {
    const std::string field = applied_field(*stamp);
    bson_t condition, negated;
    bson_append_document_begin(filter.get(), field.c_str(), length(field), &condition);
    BSON_APPEND_DOCUMENT_BEGIN(&condition, "$not", &negated);
    BSON_APPEND_INT64(&negated, "$gte", to_int64(stamp->sequence));
    bson_append_document_end(&condition, &negated);
    bson_append_document_end(filter.get(), &condition);
  }
  return filter;
}

}  // namespace

BsonPtr build_id_filter(const KeyedAggregate& item, const WriteStamp* stamp) {
  return id_filter(item.id, stamp);
}

BsonPtr build_update(const KeyedAggregate& item, MergePolicy policy, const WriteStamp* stamp) {
  const MetricAggregate& a = item.aggregate;
  BsonPtr update = make_bson();
  bson_t child;
  if (policy == MergePolicy::replace) {
    if (stamp == nullptr) return build_document(item, policy);
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &child);
    append_key_fields(&child, item.key);
    append_address_keys(&child, item.key);
    append_replace_fields(&child, a, true);
    const std::string field = applied_field(*stamp);
    bson_append_int64(&child, field.c_str(), length(field), to_int64(stamp->sequence));
    bson_append_document_end(update.get(), &child);
    return update;
  }
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$inc", &child);
  BSON_APPEND_DOUBLE(&child, "value", a.sum);
  BSON_APPEND_INT64(&child, "count", to_int64(a.count));
  append_counters(&child, a, true);
  bson_append_document_end(update.get(), &child);
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$min", &child);
  BSON_APPEND_DOUBLE(&child, "min", a.min);
  bson_append_document_end(update.get(), &child);
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$max", &child);
  BSON_APPEND_DOUBLE(&child, "max", a.max);
  bson_append_document_end(update.get(), &child);
  // Only reached when a document vanished between the insert and the update (a TTL
  // deletion): the upsert then recreates it whole.
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$setOnInsert", &child);
  append_key_fields(&child, item.key);
  bson_append_document_end(update.get(), &child);
  // $set rather than $setOnInsert: a document written before the field existed gains it at
  // its next update.
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &child);
  append_address_keys(&child, item.key);
  if (stamp != nullptr) {
    const std::string field = applied_field(*stamp);
    bson_append_int64(&child, field.c_str(), length(field), to_int64(stamp->sequence));
  }
  bson_append_document_end(update.get(), &child);
  return update;
}

std::size_t estimated_operation_bytes(const KeyedAggregate& item) noexcept {
  // Field names, types and numbers of the largest form (an aggregate update, which repeats
  // the key fields) come to well under 400 bytes; the strings appear at most twice.
  const MetricKey& k = item.key;
  // The two address sort keys add at most 2 x (33 + 20) bytes.
  return 510 + 2 * (item.id.size() + k.source_ip.size() + k.dest_ip.size() + k.protocol.size());
}

}  // namespace flowmetrics::mongo
