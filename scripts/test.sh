#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs ctest,
# then each fuzz target on a fixed set of inputs (scripts/fuzz.sh --runs).
# Integration tests start their own FerretDB on loopback, or use MONGODB_URI when set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j 2 "$@"
# The libFuzzer targets (fuzz/) under ASan and UBSan, the same 20,000 inputs each on every
# run (fixed seed, checked-in seeds only): a timed run would test whatever a loaded machine
# got through. Fails on any crash.
"$root/scripts/fuzz.sh" --runs 20000
