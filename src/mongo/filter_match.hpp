#pragma once

#include "flowmetrics/filter.hpp"
#include "mongo/handles.hpp"

namespace flowmetrics::mongo {

// Appends the conditions of `filter` to a $match document being built (nothing for an empty
// filter), as one `$and` member so that it combines with the time range beside it:
//   address host      {source_ip: "<stored text>"}          (the text the key was stored with)
//   address prefix    {source_ip_hex: {$gte: lo, $lte: hi}}  (address_sort_key() bounds)
//   port range        {dest_port: p} or {dest_port: {$gte: lo, $lte: hi}}
//   protocol          {protocol: "<stored name>"}           ("TCP", or the number's text)
//   eq/in             one condition or {$or: [...]};  ne/not_in  {$nor: [...]}
//   and/or/not        {$and: [...]}, {$or: [...]}, {$nor: [x]}
// Only operators FerretDB v1 evaluates are used. A prefix matches only documents that carry
// the *_hex fields (written since this version; README, "Querying").
void append_filter(bson_t* match, const Filter& filter);

}  // namespace flowmetrics::mongo
