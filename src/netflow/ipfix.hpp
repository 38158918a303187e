#pragma once

#include <cstdint>
#include <span>

#include "netflow/exporter_state.hpp"

namespace flowmetrics::netflow {

// Decodes an IPFIX message (RFC 7011): template sets (2), options template sets (3) with
// withdrawals, and data sets (>= 256) with variable-length and enterprise fields.
// Returns nullptr on success, or a short description of what is malformed; sets before the
// damage are still decoded.
const char* decode_ipfix(ExporterState& state, std::span<const std::uint8_t> message, DecodeEnv& env);

}  // namespace flowmetrics::netflow
