#include "mongo/documents.hpp"

#include <gtest/gtest.h>

namespace flowmetrics::mongo {
namespace {

KeyedAggregate sample() {
  KeyedAggregate item;
  item.key = MetricKey{"10.0.0.1", "10.0.0.2", 5353, 53, "UDP", 1'732'530'000'000};
  item.id = encode_document_id(item.key);
  item.aggregate.add(Metric{"", "", 0, 0, "", {}, 2.0, 1, 100, 0});
  item.aggregate.add(Metric{"", "", 0, 0, "", {}, 5.0, 2, 300, 0});
  return item;
}

std::string json(const BsonPtr& doc) {
  char* text = bson_as_relaxed_extended_json(doc.get(), nullptr);
  std::string out(text);
  bson_free(text);
  return out;
}

TEST(BuildDocument, ReplaceStoresTheLastValueAndTheKeyFields) {
  EXPECT_EQ(json(build_document(sample(), MergePolicy::replace)),
            R"({ "_id" : "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000", "source_ip" : "10.0.0.1", )"
            R"("dest_ip" : "10.0.0.2", "source_port" : 5353, "dest_port" : 53, "protocol" : "UDP", )"
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" }, "value" : 5.0, "packets" : 3, "bytes" : 400 })");
}

TEST(BuildDocument, AggregateStoresSumCountMinMaxAndCounters) {
  EXPECT_EQ(json(build_document(sample(), MergePolicy::aggregate)),
            R"({ "_id" : "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000", "source_ip" : "10.0.0.1", )"
            R"("dest_ip" : "10.0.0.2", "source_port" : 5353, "dest_port" : 53, "protocol" : "UDP", )"
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" }, "value" : 7.0, "count" : 2, "min" : 2.0, )"
            R"("max" : 5.0, "packets" : 3, "bytes" : 400, "flows" : 0 })");
}

TEST(BuildUpdate, AggregateIncrementsAndKeepsExtremes) {
  EXPECT_EQ(json(build_update(sample(), MergePolicy::aggregate)),
            R"({ "$inc" : { "value" : 7.0, "count" : 2, "packets" : 3, "bytes" : 400, "flows" : 0 }, )"
            R"("$min" : { "min" : 2.0 }, "$max" : { "max" : 5.0 }, "$setOnInsert" : { "source_ip" : "10.0.0.1", )"
            R"("dest_ip" : "10.0.0.2", "source_port" : 5353, "dest_port" : 53, "protocol" : "UDP", )"
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" } } })");
}

TEST(BuildIdFilter, FiltersOnTheIdOnly) {
  EXPECT_EQ(json(build_id_filter(sample())), R"({ "_id" : "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000" })");
}

}  // namespace
}  // namespace flowmetrics::mongo
