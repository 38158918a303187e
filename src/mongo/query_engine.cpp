#include "mongo/query_engine.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "mongo/filter_match.hpp"
#include "mongo/rollups.hpp"

namespace flowmetrics::mongo {
namespace {

using Clock = ConnectionPool::Clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxTopLimit = 10'000;
constexpr std::size_t kMaxSeriesLimit = 1'000;
constexpr std::size_t kMaxPoints = 10'000;

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw Error(errc::invalid_argument, "query: " + field + ": " + why);
}

// The five stored sums of one group.
struct Sums {
  double bytes = 0, packets = 0, flows = 0, count = 0, value = 0;
  void add(const Sums& o) {
    bytes += o.bytes;
    packets += o.packets;
    flows += o.flows;
    count += o.count;
    value += o.value;
  }
  // The measure; rates divide by `seconds`.
  double get(Measure m, double seconds) const {
    switch (m) {
      case Measure::bytes: return bytes;
      case Measure::packets: return packets;
      case Measure::flows: return flows;
      case Measure::value: return value;
      case Measure::count: return count;
      case Measure::bps: return seconds > 0 ? bytes * 8 / seconds : 0;
      case Measure::pps: return seconds > 0 ? packets / seconds : 0;
    }
    return 0;
  }
};

// One grouped row as a tier returns it: the bucket it came from (documents' timestamp, or
// the totals document's bucket) and the raw value text of each requested field.
struct Row {
  std::int64_t timestamp_ms = 0;
  std::vector<std::string> values;
  Sums sums;
};
using RowSink = std::function<void(Row&&)>;

struct Segment {
  QueryTier tier;
  std::int64_t from_ms;
  std::int64_t to_ms;
};

std::int64_t ceil_to(std::int64_t ms, std::int64_t width) {
  const std::int64_t f = floor_to(ms, width);
  return f == ms || f > TierCoverage::kNever - width ? f : f + width;
}

// [a, b) (whole buckets of `width`) cut into the pieces a tier with `coverage` answers
// (covered) and the rest, in order.
struct Piece {
  bool covered;
  std::int64_t from_ms;
  std::int64_t to_ms;
};
std::vector<Piece> cover(const TierCoverage& coverage, std::int64_t a, std::int64_t b, std::int64_t width) {
  const std::int64_t low =
      coverage.horizon == TierCoverage::kNone ? a : std::clamp(ceil_to(coverage.horizon, width), a, b);
  // Covered: [low, early_end) and [late_start, b).
  const std::int64_t early_end =
      coverage.before == TierCoverage::kNone ? low : std::clamp(floor_to(coverage.before, width), low, b);
  const std::int64_t late_start =
      coverage.from >= b ? b : std::clamp(ceil_to(std::max(coverage.from, low), width), early_end, b);
  std::vector<Piece> pieces;
  auto add = [&](bool covered, std::int64_t x, std::int64_t y) {
    if (x < y) pieces.push_back({covered, x, y});
  };
  add(false, a, low);
  add(true, low, early_end);
  add(false, early_end, late_start);
  add(true, late_start, b);
  return pieces;
}

// Splits [from, to) into pieces, each answered exactly by one tier: whole hours from an hour
// tier, whole minutes from a minute totals tier, the rest from the minute collection.
std::vector<Segment> plan(const QuerySource& source, std::int64_t from, std::int64_t to, bool totals, bool hours) {
  // A range that reaches now may end at the end of the current hour instead: no document has a
  // later timestamp than now (one stamped in the future by a skewed exporter would be counted),
  // and whole hours and minutes are what the rollup tiers answer.
  if (to >= source.now_ms && source.now_ms > 0) to = ceil_to(to, hours ? kHourMs : kMinuteMs);
  std::vector<Segment> out;
  auto push = [&](QueryTier tier, std::int64_t a, std::int64_t b) {
    if (a >= b) return;
    if (!out.empty() && out.back().tier == tier && out.back().to_ms == a) {
      out.back().to_ms = b;
    } else {
      out.push_back({tier, a, b});
    }
  };
  // Whole minutes [a, b): minute totals where covered, else the minute collection.
  auto minutes = [&](std::int64_t a, std::int64_t b) {
    if (a >= b) return;
    if (!totals) return push(QueryTier::minute, a, b);
    for (const Piece& p : cover(source.coverage.minute_totals, a, b, kMinuteMs)) {
      push(p.covered ? QueryTier::minute_totals : QueryTier::minute, p.from_ms, p.to_ms);
    }
  };
  const std::int64_t m1 = std::min(ceil_to(from, kMinuteMs), to);
  const std::int64_t m2 = std::max(floor_to(to, kMinuteMs), m1);
  push(QueryTier::minute, from, m1);
  if (hours) {
    const std::int64_t h1 = std::min(ceil_to(m1, kHourMs), m2);
    const std::int64_t h2 = std::max(floor_to(m2, kHourMs), h1);
    const QueryTier tier = totals ? QueryTier::hour_totals : QueryTier::hour;
    minutes(m1, h1);
    for (const Piece& p : cover(totals ? source.coverage.hour_totals : source.coverage.hour, h1, h2, kHourMs)) {
      if (p.covered) {
        push(tier, p.from_ms, p.to_ms);
      } else {
        minutes(p.from_ms, p.to_ms);
      }
    }
    minutes(h2, m2);
  } else {
    minutes(m1, m2);
  }
  push(QueryTier::minute, m2, to);
  return out;
}

// Runs `work` on a pooled connection, retrying transient failures until the deadline.
void with_connection(const QuerySource& source, const std::function<void(mongoc_client_t*)>& work) {
  milliseconds backoff(50);
  for (;;) {
    std::optional<DriverError> failure;
    try {
      Lease lease = source.pool->acquire(source.deadline);
      try {
        work(lease.client().get());
        return;
      } catch (const DriverError& e) {
        if (e.connection_broken) lease.mark_broken();
        if (!e.transient) throw_error(e);
        failure = e;
      }
    } catch (const Error& e) {
      const auto code = static_cast<errc>(e.code().value());
      const bool transient =
          code == errc::server_unreachable || code == errc::network_error || code == errc::pool_wait_timeout;
      if (!transient) throw;
      failure = DriverError{.code = code, .message = e.what(), .transient = true};
    }
    if (Clock::now() + backoff >= source.deadline) {
      throw Error(errc::deadline_exceeded, "query: deadline exceeded; last error: " + failure->message);
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(1000));
  }
}

double number(const bson_iter_t* it) {
  if (BSON_ITER_HOLDS_DOUBLE(it)) return bson_iter_double(it);
  if (BSON_ITER_HOLDS_NUMBER(it)) return static_cast<double>(bson_iter_as_int64(it));
  return 0;
}

std::string text_of(const bson_iter_t* it) {
  if (BSON_ITER_HOLDS_UTF8(it)) return bson_iter_utf8(it, nullptr);
  if (BSON_ITER_HOLDS_NUMBER(it)) return std::to_string(bson_iter_as_int64(it));
  return {};  // a missing field (null): the group of documents without it
}

void read_sums(const bson_t* doc, Sums& sums) {
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return;
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    if (key == "b") sums.bytes = number(&it);
    if (key == "p") sums.packets = number(&it);
    if (key == "f") sums.flows = number(&it);
    if (key == "c") sums.count = number(&it);
    if (key == "v") sums.value = number(&it);
  }
}

void check_cursor(mongoc_cursor_t* cursor, const std::string& what) {
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) throw translate(error, what);
}

void append_sum(bson_t* group, const char* name, const char* field) {
  bson_t sum;
  bson_append_document_begin(group, name, -1, &sum);
  BSON_APPEND_UTF8(&sum, "$sum", field);
  bson_append_document_end(group, &sum);
}

const char* measure_field(Measure m) {
  switch (m) {
    case Measure::bytes:
    case Measure::bps: return "b";
    case Measure::packets:
    case Measure::pps: return "p";
    case Measure::flows: return "f";
    case Measure::count: return "c";
    case Measure::value: return "v";
  }
  return "b";
}

const char* stored_field(Measure m) {
  switch (m) {
    case Measure::bytes:
    case Measure::bps: return "$bytes";
    case Measure::packets:
    case Measure::pps: return "$packets";
    case Measure::flows: return "$flows";
    case Measure::count: return "$count";
    case Measure::value: return "$value";
  }
  return "$bytes";
}

struct FiveTupleRead {
  Measure measure = Measure::bytes;  // the one sum computed
  std::vector<FlowField> fields;
  bool by_time = false;
  // Server-side $sort and $limit on this measure (one segment, no folding needed).
  std::optional<std::pair<Measure, std::size_t>> sort_limit;
};

// [$match time range + filter] [$group by fields (and timestamp)] [$sort, $limit]
BsonPtr five_tuple_pipeline(const Segment& segment, const Filter& filter, const FiveTupleRead& read,
                            bool grouped_by_fields) {
  BsonPtr pipeline = make_bson();
  bson_t stages, stage, match, range, group, id;
  BSON_APPEND_ARRAY_BEGIN(pipeline.get(), "pipeline", &stages);
  BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
  BSON_APPEND_DOCUMENT_BEGIN(&match, "timestamp", &range);
  BSON_APPEND_DATE_TIME(&range, "$gte", segment.from_ms);
  BSON_APPEND_DATE_TIME(&range, "$lt", segment.to_ms);
  bson_append_document_end(&match, &range);
  append_filter(&match, filter);
  bson_append_document_end(&stage, &match);
  bson_append_document_end(&stages, &stage);

  BSON_APPEND_DOCUMENT_BEGIN(&stages, "1", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
  if (!grouped_by_fields && !read.by_time) {
    BSON_APPEND_NULL(&group, "_id");
  } else {
    BSON_APPEND_DOCUMENT_BEGIN(&group, "_id", &id);
    if (grouped_by_fields) {
      for (std::size_t i = 0; i < read.fields.size(); ++i) {
        const std::string ref = "$" + std::string(to_string(read.fields[i]));
        bson_append_utf8(&id, ("k" + std::to_string(i)).c_str(), -1, ref.c_str(), -1);
      }
    }
    if (read.by_time) BSON_APPEND_UTF8(&id, "t", "$timestamp");
    bson_append_document_end(&group, &id);
  }
  // One accumulator: FerretDB v1.24 computes only the first accumulator of a $group and
  // returns 0 for the others (README, "FerretDB").
  append_sum(&group, measure_field(read.measure), stored_field(read.measure));
  bson_append_document_end(&stage, &group);
  bson_append_document_end(&stages, &stage);

  if (grouped_by_fields && read.sort_limit) {
    bson_t sort;
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "2", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$sort", &sort);
    bson_append_int32(&sort, measure_field(read.sort_limit->first), -1, -1);
    bson_append_document_end(&stage, &sort);
    bson_append_document_end(&stages, &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "3", &stage);
    BSON_APPEND_INT64(&stage, "$limit", static_cast<std::int64_t>(read.sort_limit->second));
    bson_append_document_end(&stages, &stage);
  }
  bson_append_array_end(pipeline.get(), &stages);
  return pipeline;
}

std::string tier_collection(const std::string& minute, QueryTier tier) {
  switch (tier) {
    case QueryTier::minute: return minute;
    case QueryTier::hour: return hour_collection(minute);
    case QueryTier::minute_totals:
    case QueryTier::hour_totals: break;  // sharded: see run_totals
  }
  return minute;
}

void run_aggregate(const QuerySource& source, QueryTier tier, const BsonPtr& pipeline, std::size_t key_count,
                   bool by_time, const RowSink& sink, QueryStats& stats) {
  const std::string name = tier_collection(source.collection, tier);
  with_connection(source, [&](mongoc_client_t* client) {
    std::vector<Row> rows;  // delivered only once the whole cursor succeeded (a retry starts over)
    CollectionPtr collection(mongoc_client_get_collection(client, source.database.c_str(), name.c_str()));
    CursorPtr cursor(
        mongoc_collection_aggregate(collection.get(), MONGOC_QUERY_NONE, pipeline.get(), nullptr, nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      Row row;
      row.values.resize(key_count);
      read_sums(doc, row.sums);
      bson_iter_t it, id;
      if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &id)) {
        while (bson_iter_next(&id)) {
          const std::string_view key = bson_iter_key(&id);
          if (key == "t") {
            row.timestamp_ms = bson_iter_date_time(&id);
          } else if (key.size() > 1 && key[0] == 'k') {
            const std::size_t index = static_cast<std::size_t>(std::stoul(std::string(key.substr(1))));
            if (index < key_count) row.values[index] = text_of(&id);
          }
        }
      }
      rows.push_back(std::move(row));
    }
    check_cursor(cursor.get(), "aggregate " + source.database + "." + name);
    for (Row& row : rows) sink(std::move(row));
  });
  (void)by_time;
  ++stats.commands;
}

// Reads the totals documents of one dimension for every bucket of the segment: one find per
// shard collection the segment touches (rollups.hpp), the whole shard when the segment covers
// it, else the buckets in range by `t`. FerretDB v1 decodes every document of a shard either
// way, which is why a shard holds at most an hour of minutes or a day of hours.
void run_totals(const QuerySource& source, const Segment& segment, std::optional<FlowField> field, const RowSink& sink,
                QueryStats& stats) {
  const TotalsTier tier = segment.tier == QueryTier::hour_totals ? TotalsTier::hour : TotalsTier::minute;
  const std::int64_t shard_width = totals_shard_width(tier);
  const std::string_view dimension = totals_dimension(field);
  for (std::int64_t shard = floor_to(segment.from_ms, shard_width); shard < segment.to_ms; shard += shard_width) {
    const std::string name = totals_collection(source.collection, tier, dimension, shard);
    BsonPtr filter = make_bson();
    if (segment.from_ms > shard || segment.to_ms < shard + shard_width) {
      bson_t range;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "t", &range);
      BSON_APPEND_DATE_TIME(&range, "$gte", std::max(segment.from_ms, shard));
      BSON_APPEND_DATE_TIME(&range, "$lt", std::min(segment.to_ms, shard + shard_width));
      bson_append_document_end(filter.get(), &range);
    }
    with_connection(source, [&](mongoc_client_t* client) {
      std::vector<Row> rows;
      std::uint64_t documents = 0;
      CollectionPtr collection(mongoc_client_get_collection(client, source.database.c_str(), name.c_str()));
      CursorPtr cursor(mongoc_collection_find_with_opts(collection.get(), filter.get(), nullptr, nullptr));
      const bson_t* doc = nullptr;
      while (mongoc_cursor_next(cursor.get(), &doc)) {
        ++documents;
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, "t") || !BSON_ITER_HOLDS_DATE_TIME(&it)) continue;
        const std::int64_t bucket = bson_iter_date_time(&it);
        std::optional<TotalsEntries> entries;
        if (bson_iter_init_find(&it, doc, "d") && BSON_ITER_HOLDS_BINARY(&it)) {
          bson_subtype_t subtype;
          std::uint32_t length = 0;
          const std::uint8_t* data = nullptr;
          bson_iter_binary(&it, &subtype, &length, &data);
          entries = unpack_totals(std::string_view(reinterpret_cast<const char*>(data), length));
        }
        if (!entries) {
          throw Error(errc::server_error, "query: " + source.database + "." + name + " holds a totals document (" +
                                              std::to_string(bucket) + ") that is not readable");
        }
        for (const auto& [value, s] : *entries) {
          Row row;
          row.timestamp_ms = bucket;
          if (field) row.values.push_back(render_totals_value(field, value));
          row.sums = Sums{static_cast<double>(s.bytes), static_cast<double>(s.packets), static_cast<double>(s.flows),
                          static_cast<double>(s.count), s.value};
          rows.push_back(std::move(row));
        }
      }
      check_cursor(cursor.get(), "find " + source.database + "." + name);
      for (Row& row : rows) sink(std::move(row));
      stats.documents_examined = stats.documents_examined.value_or(0) + documents;
    });
    ++stats.commands;
  }
}

// Folds an address text into its prefix ("10.1.2.0/24") when the dimension asks for one.
std::string fold(const Dimension& dimension, const std::string& value) {
  if (!is_address_field(dimension.field) || (!dimension.ipv4_prefix && !dimension.ipv6_prefix)) return value;
  unsigned char bytes[16] = {};
  int family = AF_INET;
  std::optional<std::uint8_t> length = dimension.ipv4_prefix;
  std::size_t size = 4;
  if (inet_pton(AF_INET, value.c_str(), bytes) != 1) {
    if (inet_pton(AF_INET6, value.c_str(), bytes) != 1) return value;
    family = AF_INET6;
    length = dimension.ipv6_prefix;
    size = 16;
  }
  if (!length) return value;
  for (std::size_t i = 0; i < size; ++i) {
    const int bits = std::clamp(static_cast<int>(*length) - static_cast<int>(8 * i), 0, 8);
    bytes[i] &= static_cast<unsigned char>(bits == 0 ? 0 : (0xff << (8 - bits)) & 0xff);
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, text, sizeof text);
  return std::string(text) + "/" + std::to_string(*length);
}

bool has_prefix(const Dimension& d) {
  return d.ipv4_prefix.has_value() || d.ipv6_prefix.has_value();
}

void validate_range(const TimeRange& range) {
  if (range.from_ms >= range.to_ms) bad("range", "'from' must be before 'to'");
}

void validate_dimension(const Dimension& d, const std::string& field) {
  if (!is_address_field(d.field) && has_prefix(d)) bad(field, "only an address field takes a prefix length");
  if (d.ipv4_prefix && *d.ipv4_prefix > 32) bad(field, "an IPv4 prefix length is 0-32");
  if (d.ipv6_prefix && *d.ipv6_prefix > 128) bad(field, "an IPv6 prefix length is 0-128");
}

struct Timer {
  Clock::time_point start = Clock::now();
  std::chrono::microseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  }
};

void note_tiers(QueryStats& stats, const std::vector<Segment>& segments) {
  for (QueryTier tier : {QueryTier::hour_totals, QueryTier::hour, QueryTier::minute_totals, QueryTier::minute}) {
    if (std::any_of(segments.begin(), segments.end(), [&](const Segment& s) { return s.tier == tier; })) {
      stats.tiers.push_back(tier);
    }
  }
}

// Reads every segment, grouped by `fields` (and by bucket when `by_time`), into `sink`.
void read_segments(const QuerySource& source, const std::vector<Segment>& segments, const Filter& filter,
                   const FiveTupleRead& read, const RowSink& sink, QueryStats& stats) {
  for (const Segment& segment : segments) {
    if (segment.tier == QueryTier::minute || segment.tier == QueryTier::hour) {
      run_aggregate(source, segment.tier, five_tuple_pipeline(segment, filter, read, !read.fields.empty()),
                    read.fields.size(), read.by_time, sink, stats);
    } else {
      run_totals(source, segment, read.fields.empty() ? std::nullopt : std::optional(read.fields[0]), sink, stats);
    }
  }
}

// Sorts groups by value (largest first), equal values by their texts.
template <class Entry>
void order(std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;
  });
}

}  // namespace

TopResult run_top(const QuerySource& source, const TopQuery& query) {
  const Timer timer;
  if (query.dimensions.empty()) bad("dimensions", "at least one dimension is needed");
  for (std::size_t i = 0; i < query.dimensions.size(); ++i) {
    validate_dimension(query.dimensions[i], "dimensions");
    for (std::size_t j = 0; j < i; ++j) {
      if (query.dimensions[j].field == query.dimensions[i].field) {
        bad("dimensions", std::string(to_string(query.dimensions[i].field)) + " appears twice");
      }
    }
  }
  if (query.limit < 1 || query.limit > kMaxTopLimit) bad("limit", "must be 1-10000");
  validate_range(query.range);

  TopResult result;
  result.dimensions = query.dimensions;
  result.measure = query.measure;
  const bool totals = query.filter.empty() && query.dimensions.size() == 1;
  const std::vector<Segment> segments = plan(source, query.range.from_ms, query.range.to_ms, totals, true);
  note_tiers(result.stats, segments);

  FiveTupleRead read;
  read.measure = query.measure;
  for (const Dimension& d : query.dimensions) read.fields.push_back(d.field);
  const bool folding = std::any_of(query.dimensions.begin(), query.dimensions.end(), has_prefix);
  const double seconds = static_cast<double>(query.range.to_ms - query.range.from_ms) / 1000.0;

  std::map<std::vector<std::string>, Sums> groups;
  Sums total;
  auto collect = [&](Row&& row) {
    for (std::size_t i = 0; i < row.values.size(); ++i) row.values[i] = fold(query.dimensions[i], row.values[i]);
    groups[std::move(row.values)].add(row.sums);
  };

  const bool single_five_tuple = segments.size() == 1 && segments[0].tier != QueryTier::minute_totals &&
                                 segments[0].tier != QueryTier::hour_totals;
  bool sorted_by_server = false;
  if (single_five_tuple && !folding) {
    // The server sorts and limits (to twice the limit), and a second, ungrouped $group gives
    // the total. The server breaks ties its own way: when the values at the limit and at the
    // end of what came back are equal, which groups make the limit is not settled, and every
    // group is read instead.
    const std::size_t fetched = std::min(2 * query.limit, kMaxTopLimit * 2);
    read.sort_limit = std::pair(query.measure, fetched);
    std::vector<double> values;
    read_segments(
        source, segments, query.filter, read,
        [&](Row&& row) {
          values.push_back(row.sums.get(query.measure, 1.0));
          collect(std::move(row));
        },
        result.stats);
    const bool settled = values.size() < fetched || values[query.limit - 1] != values.back();
    if (settled) {
      sorted_by_server = true;
      FiveTupleRead whole;
      whole.measure = query.measure;
      run_aggregate(
          source, segments[0].tier, five_tuple_pipeline(segments[0], query.filter, whole, false), 0, false,
          [&](Row&& row) { total.add(row.sums); }, result.stats);
    } else {
      groups.clear();
      read.sort_limit.reset();
    }
  }
  if (!sorted_by_server) {
    read_segments(source, segments, query.filter, read, collect, result.stats);
    for (const auto& [values, sums] : groups) total.add(sums);
  }

  std::vector<std::pair<std::vector<std::string>, double>> ranked;
  ranked.reserve(groups.size());
  for (const auto& [values, sums] : groups) ranked.emplace_back(values, sums.get(query.measure, seconds));
  order(ranked);
  result.total = total.get(query.measure, seconds);
  double shown = 0;
  for (std::size_t i = 0; i < ranked.size() && i < query.limit; ++i) {
    TopRow row{ranked[i].first, ranked[i].second, result.total > 0 ? ranked[i].second / result.total : 0.0};
    shown += row.value;
    result.rows.push_back(std::move(row));
  }
  result.other = std::max(0.0, result.total - shown);
  result.stats.elapsed = timer.elapsed();
  return result;
}

SeriesResult run_series(const QuerySource& source, const SeriesQuery& query) {
  const Timer timer;
  validate_range(query.range);
  if (query.split_by) validate_dimension(*query.split_by, "split_by");
  if (query.split_by && (query.limit < 1 || query.limit > kMaxSeriesLimit)) bad("limit", "must be 1-1000");
  const std::int64_t span = query.range.to_ms - query.range.from_ms;
  std::int64_t step_ms = 0;
  if (query.step) {
    step_ms = query.step->count() * 1000;
    if (step_ms <= 0 || step_ms % kMinuteMs != 0) bad("step", "must be a whole number of minutes");
  } else {
    if (query.points < 1 || query.points > kMaxPoints) bad("points", "must be 1-10000");
    static constexpr std::int64_t kSteps[] = {1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440};
    step_ms = kSteps[std::size(kSteps) - 1] * kMinuteMs;
    for (const std::int64_t minutes : kSteps) {
      const std::int64_t candidate = minutes * kMinuteMs;
      const std::int64_t bins =
          ceil_to(query.range.to_ms, candidate) / candidate - floor_to(query.range.from_ms, candidate) / candidate;
      if (bins <= static_cast<std::int64_t>(query.points)) {
        step_ms = candidate;
        break;
      }
    }
  }
  const std::int64_t first = floor_to(query.range.from_ms, step_ms);
  const std::int64_t last = ceil_to(query.range.to_ms, step_ms);
  const std::size_t bins = static_cast<std::size_t>((last - first) / step_ms);
  if (bins > kMaxPoints) bad(query.step ? "step" : "points", "the range holds more than 10000 bins of this step");
  (void)span;

  SeriesResult result;
  result.measure = query.measure;
  result.split_by = query.split_by;
  result.step = std::chrono::seconds(step_ms / 1000);
  for (std::size_t i = 0; i < bins; ++i) result.bin_starts_ms.push_back(first + static_cast<std::int64_t>(i) * step_ms);

  const bool totals = query.filter.empty();
  const bool hours = step_ms % kHourMs == 0;
  const std::vector<Segment> segments = plan(source, first, last, totals, hours);
  note_tiers(result.stats, segments);
  const double bin_seconds = static_cast<double>(step_ms) / 1000.0;
  const double range_seconds = static_cast<double>(last - first) / 1000.0;

  FiveTupleRead read;
  read.measure = query.measure;
  read.by_time = true;
  if (query.split_by) read.fields.push_back(query.split_by->field);
  // bin -> folded value -> sums
  std::vector<std::map<std::string, Sums>> per_bin(bins);
  read_segments(
      source, segments, query.filter, read,
      [&](Row&& row) {
        const std::int64_t bin = (floor_to(row.timestamp_ms, step_ms) - first) / step_ms;
        if (bin < 0 || bin >= static_cast<std::int64_t>(bins)) return;
        const std::string value = query.split_by ? fold(*query.split_by, row.values[0]) : std::string();
        per_bin[static_cast<std::size_t>(bin)][value].add(row.sums);
      },
      result.stats);

  auto make_series = [&](std::vector<std::string> values, bool other,
                         const std::function<bool(const std::string&)>& in) {
    Series series;
    series.values = std::move(values);
    series.other = other;
    Sums whole;
    for (const auto& bin : per_bin) {
      Sums sums;
      for (const auto& [value, s] : bin) {
        if (in(value)) sums.add(s);
      }
      whole.add(sums);
      series.points.push_back(sums.get(query.measure, bin_seconds));
    }
    series.total = whole.get(query.measure, range_seconds);
    return series;
  };

  if (!query.split_by) {
    result.series.push_back(make_series({}, false, [](const std::string&) { return true; }));
  } else {
    std::map<std::string, Sums> overall;
    for (const auto& bin : per_bin) {
      for (const auto& [value, s] : bin) overall[value].add(s);
    }
    std::vector<std::pair<std::string, double>> ranked;
    for (const auto& [value, s] : overall) ranked.emplace_back(value, s.get(query.measure, range_seconds));
    order(ranked);
    std::map<std::string, bool> top;
    for (std::size_t i = 0; i < ranked.size() && i < query.limit; ++i) {
      top[ranked[i].first] = true;
      const std::string value = ranked[i].first;
      result.series.push_back(make_series({value}, false, [&value](const std::string& v) { return v == value; }));
    }
    result.series.push_back(make_series({}, true, [&top](const std::string& v) { return !top.contains(v); }));
  }
  result.stats.elapsed = timer.elapsed();
  return result;
}

}  // namespace flowmetrics::mongo
