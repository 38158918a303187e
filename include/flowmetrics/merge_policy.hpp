#pragma once

#include <optional>
#include <string_view>

namespace flowmetrics {

// How a metric combines with what is already stored under its key.
enum class MergePolicy {
  // The value is set: the last write wins (the behaviour of the system description).
  replace,
  // The value is summed; count, min and max and the packets/bytes/flows counters are kept.
  aggregate,
};

std::string_view to_string(MergePolicy policy) noexcept;
std::optional<MergePolicy> parse_merge_policy(std::string_view text) noexcept;

}  // namespace flowmetrics
