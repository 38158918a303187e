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
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" }, "source_ip_hex" : "40a000001", )"
            R"("dest_ip_hex" : "40a000002", "value" : 5.0, "packets" : 3, "bytes" : 400 })");
}

TEST(BuildDocument, AggregateStoresSumCountMinMaxAndCounters) {
  EXPECT_EQ(json(build_document(sample(), MergePolicy::aggregate)),
            R"({ "_id" : "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000", "source_ip" : "10.0.0.1", )"
            R"("dest_ip" : "10.0.0.2", "source_port" : 5353, "dest_port" : 53, "protocol" : "UDP", )"
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" }, "source_ip_hex" : "40a000001", )"
            R"("dest_ip_hex" : "40a000002", "value" : 7.0, "count" : 2, "min" : 2.0, )"
            R"("max" : 5.0, "packets" : 3, "bytes" : 400, "flows" : 0 })");
}

TEST(BuildUpdate, AggregateIncrementsAndKeepsExtremes) {
  EXPECT_EQ(json(build_update(sample(), MergePolicy::aggregate)),
            R"({ "$inc" : { "value" : 7.0, "count" : 2, "packets" : 3, "bytes" : 400, "flows" : 0 }, )"
            R"("$min" : { "min" : 2.0 }, "$max" : { "max" : 5.0 }, "$setOnInsert" : { "source_ip" : "10.0.0.1", )"
            R"("dest_ip" : "10.0.0.2", "source_port" : 5353, "dest_port" : 53, "protocol" : "UDP", )"
            R"("timestamp" : { "$date" : "2024-11-25T10:20:00Z" } }, )"
            R"("$set" : { "source_ip_hex" : "40a000001", "dest_ip_hex" : "40a000002" } })");
}

TEST(AddressSortKey, SortsLikeTheAddressWithinItsFamily) {
  EXPECT_EQ(address_sort_key("10.0.0.1"), "40a000001");
  EXPECT_EQ(address_sort_key("255.255.255.255"), "4ffffffff");
  EXPECT_EQ(address_sort_key("2001:db8::1"), "620010db8000000000000000000000001");
  EXPECT_EQ(address_sort_key("::ffff:10.0.0.1"), "600000000000000000000ffff0a000001");
  EXPECT_EQ(address_sort_key("not an address"), "?");
  EXPECT_LT(address_sort_key("10.0.0.9"), address_sort_key("10.0.0.10"));
}

TEST(BuildIdFilter, FiltersOnTheIdOnly) {
  EXPECT_EQ(json(build_id_filter(sample())), R"({ "_id" : "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000" })");
}

}  // namespace
}  // namespace flowmetrics::mongo
