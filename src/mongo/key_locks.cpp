#include "mongo/key_locks.hpp"

#include <algorithm>

namespace flowmetrics::mongo {

KeyLockTable::Guard::Guard(KeyLockTable& table, std::span<const std::uint64_t> hashes) : table_(table) {
  stripes_.reserve(hashes.size());
  for (std::uint64_t hash : hashes) stripes_.push_back(static_cast<std::size_t>(hash % kStripes));
  std::sort(stripes_.begin(), stripes_.end());
  stripes_.erase(std::unique(stripes_.begin(), stripes_.end()), stripes_.end());
  for (std::size_t stripe : stripes_) table_.stripes_[stripe].lock();
}

KeyLockTable::Guard::~Guard() {
  for (auto it = stripes_.rbegin(); it != stripes_.rend(); ++it) table_.stripes_[*it].unlock();
}

}  // namespace flowmetrics::mongo
