#include "mongo/batch_planner.hpp"

#include <algorithm>

#include "mongo/documents.hpp"

namespace flowmetrics::mongo {

std::vector<BatchRange> plan_batches(std::span<const KeyedAggregate> items, std::size_t max_operations,
                                     std::size_t max_bytes) {
  max_operations = std::max<std::size_t>(max_operations, 1);
  std::vector<BatchRange> ranges;
  std::size_t begin = 0;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::size_t size = estimated_operation_bytes(items[i]);
    const bool full = i - begin == max_operations || (i > begin && bytes + size > max_bytes);
    if (full) {
      ranges.push_back({begin, i});
      begin = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (begin < items.size()) ranges.push_back({begin, items.size()});
  return ranges;
}

}  // namespace flowmetrics::mongo
