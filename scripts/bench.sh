#!/usr/bin/env bash
# The benchmark suite: installs its extra dependencies (the Go peer from the Go module proxy,
# pymongo and matplotlib from PyPI into .tools/bench-venv, mongo-java-server from Maven
# Central), builds, and runs bench/run.py, which writes docs/benchmarks/.
#   scripts/bench.sh            the quick size (under 10 minutes on 2 cores)
#   scripts/bench.sh --full     larger workloads and collections (1M documents)
#   scripts/bench.sh --uri mongodb://...   also against your own MongoDB
#   scripts/bench.sh --self-check          only the check of the checker (under a minute)
# Every run's collection is read back and checked against its workload before its figure
# counts, and every suite run starts with the self-check (bench/run.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
if ! command -v go >/dev/null 2>&1; then PATH="/usr/local/go/bin:$PATH"; fi
mkdir -p "$root/.tools/bench"
(cd "$root/bench/peers/go" && go build -o "$root/.tools/bench/peer-go" .)
[ -x "$root/.tools/bench-venv/bin/python" ] || python3 -m venv "$root/.tools/bench-venv"
"$root/.tools/bench-venv/bin/pip" install -q -r "$root/bench/peers/python/requirements.txt" -r "$root/bench/requirements.txt"
exec "$root/.tools/bench-venv/bin/python" "$root/bench/run.py" "$@"
