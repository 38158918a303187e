#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flowmetrics/merge_policy.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/write_stamp.hpp"
#include "mongo/handles.hpp"

namespace flowmetrics::mongo {

// The stored document layout (README, "Document layout"):
//   _id          encode_document_id(key)
//   source_ip, dest_ip, source_port (int32), dest_port (int32), protocol, timestamp (date)
//   value        replace: the last value; aggregate: the sum
//   count, min, max                      aggregate only (count as int64)
//   packets, bytes, flows (int64)        aggregate: sums, always present;
//                                        replace: the last values, present when non-zero

//   source_ip_hex, dest_ip_hex           address_sort_key() of each address
//   _applied     {<stream>: sequence} for stamped writes (write_stamp.hpp)

// A fixed-width form of an address that sorts like the address within its family, so that a
// CIDR prefix is a string range: '4' and 8 lower-case hex digits for IPv4, '6' and 32 for
// IPv6 ("10.0.0.1" -> "40a000001"). The family digit keeps the families apart ("::ffff:10.0.0.1"
// is an IPv6 address). "?" for text that is not an address (never for a validated key).
std::string address_sort_key(std::string_view address);

// The whole document, as inserted when the key is new (with `_applied` when stamped).
BsonPtr build_document(const KeyedAggregate& item, MergePolicy policy, const WriteStamp* stamp = nullptr);
// {_id: id}; stamped: {_id: id, "_applied.<stream>": {$not: {$gte: sequence}}}, which
// matches only a document this stamp (or a later one of its stream) has not reached yet.
BsonPtr build_id_filter(const KeyedAggregate& item, const WriteStamp* stamp = nullptr);
// What an existing document receives: the whole document again (replace) or
// $inc/$min/$max with the key fields under $setOnInsert (aggregate). Stamped, replace
// becomes a $set of the same fields (a replacement would erase other streams' stamps), and
// both $set "_applied.<stream>".
BsonPtr build_update(const KeyedAggregate& item, MergePolicy policy, const WriteStamp* stamp = nullptr);

// An upper bound of the bytes one operation adds to a bulk write command, for splitting.
std::size_t estimated_operation_bytes(const KeyedAggregate& item) noexcept;

// The stripe of the update locks (key_locks.hpp) a document's updates hold.
inline std::uint64_t lock_hash(const KeyedAggregate& item) noexcept {
  return hash_key(item.key);
}

}  // namespace flowmetrics::mongo
