#pragma once

#include <cstdint>
#include <span>

#include "netflow/exporter_state.hpp"

namespace flowmetrics::netflow {

// Decodes a NetFlow v9 datagram (RFC 3954): template, options template and data flowsets.
// Returns nullptr on success, or a short description of what is malformed; flowsets before
// the damage are still decoded.
const char* decode_v9(ExporterState& state, std::span<const std::uint8_t> datagram, DecodeEnv& env);

}  // namespace flowmetrics::netflow
