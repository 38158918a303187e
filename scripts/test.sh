#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs ctest,
# then each fuzz target for 20 s (scripts/fuzz.sh).
# Integration tests start their own FerretDB on loopback, or use MONGODB_URI when set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j 2 "$@"
# The libFuzzer targets (fuzz/), 20 s each under ASan and UBSan; fails on any crash.
"$root/scripts/fuzz.sh" 20
