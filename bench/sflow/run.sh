#!/usr/bin/env bash
# The sFlow benchmark: flowmetrics serve against pmacct's sfacctd and goflow2 on the same
# recorded sFlow v5 stream over loopback (bench/sflow/measure.py says how).
#   bench/sflow/run.sh                                   3 repetitions, 200k samples/s for 10 s each
#   bench/sflow/run.sh --repetitions 1 --seconds 5       a quick look
# Any other option is passed to measure.py (--rate, --keys, --samples-per-datagram,
# --collectors flowmetrics,flowmetrics-nofsync,sfacctd,goflow2). BUILD_DIR picks the build
# (default build/, made by scripts/build.sh). Writes the runs to docs/benchmarks/sflow.json
# and prints the table for docs/benchmarks/sflow.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
if [ -z "${BUILD_DIR:-}" ]; then "$root/scripts/build.sh" >/dev/null; fi
cmake --build "$build" --target flowmetrics_cli sflow_replay >/dev/null

# goflow2 from the Go module proxy into .tools/bin (pmacct's sfacctd: install-deps.sh).
if ! command -v go >/dev/null 2>&1; then PATH="/usr/local/go/bin:$PATH"; fi
goflow2="$root/.tools/bin/goflow2"
if [ ! -x "$goflow2" ]; then
  GOBIN="$root/.tools/bin" go install github.com/netsampler/goflow2/v2/cmd/goflow2@v2.2.6
fi

# flowmetrics serve needs a database to start; nothing is written to it during the runs.
state=$(mktemp -d /tmp/sflow-bench-db-XXXXXX)
trap '"$root/scripts/ferretdb.sh" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
uri=$("$root/scripts/ferretdb.sh" start "$state")

python3 "$root/bench/sflow/measure.py" --replay "$build/bench/sflow/sflow_replay" \
  --flowmetrics "$build/apps/flowmetrics" --uri "$uri" --goflow2 "$goflow2" \
  --json "$root/docs/benchmarks/sflow.json" "$@"
