#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace flowmetrics::mongo {

// Striped locks over key hashes, so that writers in one process never update the same
// document at the same moment. Needed only on servers whose updates are not atomic per
// document: FerretDB v1 reads, changes and rewrites a document without a check, so two
// concurrent $inc on one key lose one of them.
class KeyLockTable {
 public:
  static constexpr std::size_t kStripes = 4096;

  // Holds the stripes of a set of keys; taken in ascending order, so two guards never
  // deadlock.
  class Guard {
   public:
    Guard(KeyLockTable& table, std::span<const std::uint64_t> hashes);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    KeyLockTable& table_;
    std::vector<std::size_t> stripes_;
  };

 private:
  std::array<std::mutex, kStripes> stripes_;
};

}  // namespace flowmetrics::mongo
