#pragma once

#include <string>

#include "mongo/client.hpp"

namespace flowmetrics::mongo {

// What the library needs to know about the server it talks to.
struct ServerProfile {
  std::string version;           // the MongoDB version the server reports
  std::string ferretdb_version;  // non-empty when the server is FerretDB
  bool is_ferretdb() const { return !ferretdb_version.empty(); }
};

// Reads buildInfo. Throws the translated driver error.
ServerProfile detect_server(Client& client);

// FerretDB v1's SQLite backend keeps one of its 100 SQLite connections per update
// statement until the whole update command ends, so more than 100 statements in flight at
// once (summed over concurrent commands) deadlock it. Ten per command leaves room for ten
// concurrent writers.
inline constexpr std::size_t kFerretDbUpdateBatchLimit = 10;

}  // namespace flowmetrics::mongo
