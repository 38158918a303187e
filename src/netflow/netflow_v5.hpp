#pragma once

#include <cstdint>
#include <span>

#include "netflow/exporter_state.hpp"

namespace flowmetrics::netflow {

// Decodes a NetFlow v5 datagram (24-byte header, `count` 48-byte records) into env.out.
// Returns nullptr on success, or a short description of what is malformed (nothing is
// decoded from a malformed datagram).
const char* decode_v5(ExporterState& state, std::span<const std::uint8_t> datagram, DecodeEnv& env);

}  // namespace flowmetrics::netflow
