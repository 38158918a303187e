#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace flowmetrics::spool {

// When appended frames reach the disk itself, not just the page cache. Every policy survives a
// crash of the agent's process (kill -9): frames are written with write(2) before anything is
// acknowledged, and the kernel keeps them. The policies differ on power loss or a kernel crash:
//   batch     fsync before each acknowledgement: nothing acknowledged is lost;
//   interval  fsync every fsync_interval: up to that much acknowledged input may be lost;
//   none      the kernel writes back when it likes (typically within 30 s).
// Flush markers (see docs/durability.md) are fsynced under every policy, so what the database
// holds never gets ahead of what the spool can replay.
enum class FsyncPolicy : std::uint8_t { batch, interval, none };

constexpr std::string_view to_string(FsyncPolicy policy) noexcept {
  switch (policy) {
    case FsyncPolicy::batch: return "batch";
    case FsyncPolicy::interval: return "interval";
    case FsyncPolicy::none: return "none";
  }
  return "batch";
}

constexpr std::optional<FsyncPolicy> parse_fsync_policy(std::string_view text) noexcept {
  if (text == "batch") return FsyncPolicy::batch;
  if (text == "interval") return FsyncPolicy::interval;
  if (text == "none") return FsyncPolicy::none;
  return std::nullopt;
}

}  // namespace flowmetrics::spool
