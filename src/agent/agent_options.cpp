#include "flowmetrics/merge_policy.hpp"

#include "flowmetrics/error.hpp"
#include "flowmetrics/write_concern.hpp"

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

namespace flowmetrics {

WriteConcern WriteConcern::members(int count) {
  if (count < 1 || count > kMaxMembers) {
    throw Error(errc::invalid_argument,
                "a write concern needs 1 to " + std::to_string(kMaxMembers) + " members, got " + std::to_string(count));
  }
  WriteConcern concern;
  concern.members_ = count;
  return concern;
}

std::optional<WriteConcern> WriteConcern::parse(std::string_view text) noexcept {
  if (text == "majority") return majority();
  if (text.empty() || text.size() > 2 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int count = 0;
  for (const char c : text) count = count * 10 + (c - '0');
  if (count < 1) return std::nullopt;
  WriteConcern concern;
  concern.members_ = count;
  return concern;
}

std::string WriteConcern::to_string() const {
  return is_majority() ? std::string("majority") : std::to_string(members_);
}

}  // namespace flowmetrics
