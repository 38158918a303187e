#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flowmetrics {

// How many replica-set members must have a write before the server acknowledges it ("w").
// Parsed once, where options are read, so that writers only render it. Unacknowledged writes
// (w=0) are not offered: what they did could not be accounted for.
class WriteConcern {
 public:
  static constexpr int kMaxMembers = 99;

  // "majority", the default.
  constexpr WriteConcern() noexcept = default;
  static constexpr WriteConcern majority() noexcept { return WriteConcern(); }
  // `count` members, 1 to kMaxMembers; throws flowmetrics::Error (invalid_argument) otherwise.
  static WriteConcern members(int count);
  // "majority" or a decimal count "1" to "99"; nullopt for anything else. Never throws.
  static std::optional<WriteConcern> parse(std::string_view text) noexcept;

  bool is_majority() const noexcept { return members_ == 0; }
  int member_count() const noexcept { return members_; }  // 0 for majority
  std::string to_string() const;                          // as parse() reads it

  friend bool operator==(const WriteConcern&, const WriteConcern&) = default;

 private:
  int members_ = 0;  // 0: majority
};

}  // namespace flowmetrics
