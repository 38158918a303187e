#include "flowmetrics/merge_policy.hpp"

namespace flowmetrics {

std::string_view to_string(MergePolicy policy) noexcept {
  switch (policy) {
    case MergePolicy::replace: return "replace";
    case MergePolicy::aggregate: return "aggregate";
  }
  return "unknown";
}

std::optional<MergePolicy> parse_merge_policy(std::string_view text) noexcept {
  if (text == "replace") return MergePolicy::replace;
  if (text == "aggregate") return MergePolicy::aggregate;
  return std::nullopt;
}

}  // namespace flowmetrics
