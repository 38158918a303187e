#!/usr/bin/env bash
# The NetFlow benchmark: flowmetrics serve against pmacct's nfacctd, goflow2 and nfcapd on the
# same recorded v9 and IPFIX streams over loopback (bench/netflow/measure.py says how).
#   bench/netflow/run.sh                       3 repetitions, 500k records/s for 10 s each
#   bench/netflow/run.sh --repetitions 1 --seconds 5    a quick look
# Any other option is passed to measure.py (--rate, --keys, --protocols 9,10,
# --collectors flowmetrics,flowmetrics-nofsync,nfacctd,goflow2,nfcapd). BUILD_DIR picks the
# build (default build/, made by scripts/build.sh). Writes the runs to
# docs/benchmarks/netflow.json and prints the table for docs/benchmarks/netflow.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
if [ -z "${BUILD_DIR:-}" ]; then "$root/scripts/build.sh" >/dev/null; fi
cmake --build "$build" --target flowmetrics_cli netflow_replay >/dev/null

# pmacct (nfacctd) from Debian; goflow2 from the Go module proxy into .tools/bin.
if ! command -v nfacctd >/dev/null 2>&1 && [ ! -x /usr/sbin/nfacctd ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq pmacct >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then PATH="/usr/local/go/bin:$PATH"; fi
goflow2="$root/.tools/bin/goflow2"
if [ ! -x "$goflow2" ]; then
  GOBIN="$root/.tools/bin" go install github.com/netsampler/goflow2/v2/cmd/goflow2@v2.2.6
fi

# flowmetrics serve needs a database to start; nothing is written to it during the runs.
state=$(mktemp -d /tmp/netflow-bench-db-XXXXXX)
trap '"$root/scripts/ferretdb.sh" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
uri=$("$root/scripts/ferretdb.sh" start "$state")

python3 "$root/bench/netflow/measure.py" --replay "$build/bench/netflow/netflow_replay" \
  --flowmetrics "$build/apps/flowmetrics" --uri "$uri" --goflow2 "$goflow2" \
  --json "$root/docs/benchmarks/netflow.json" "$@"
