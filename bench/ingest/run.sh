#!/usr/bin/env bash
# JSON lines through `flowmetrics ingest`, CPU per million lines with the database out of the
# measurement: 1,000,000 lines over 1,000 five-tuples in one hour bucket, so that the load
# parses, validates, spools (fsync = "batch" by default) and aggregates a million records and
# writes only 1,000 documents. Each repetition gets its own spool directory and collection,
# and counts only when ingest reports every line written.
#   bench/ingest/run.sh [REPETITIONS [FSYNC]]       default 3 batch
# BUILD_DIR picks the build (default build/, made by scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
repetitions=${1:-3}
fsync=${2:-batch}
"$root/scripts/install-deps.sh" >/dev/null
if [ -z "${BUILD_DIR:-}" ]; then "$root/scripts/build.sh" >/dev/null; fi
cmake --build "$build" --target flowmetrics_cli >/dev/null

work=$(mktemp -d /tmp/ingest-bench-XXXXXX)
trap '"$root/scripts/ferretdb.sh" stop "$work/db" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
uri=$("$root/scripts/ferretdb.sh" start "$work/db")
python3 - "$work/lines.jsonl" <<'PY'
import random, sys
random.seed(13)
keys = [(f"10.{i // 250}.{i % 250}.1", f"172.16.{i % 200}.9", 1024 + i, (80, 443, 53)[i % 3], ("TCP", "UDP", 6)[i % 3])
        for i in range(1000)]
with open(sys.argv[1], "w") as f:
    for n in range(1_000_000):
        s, d, sp, dp, p = keys[random.randrange(1000)]
        proto = p if isinstance(p, int) else f'"{p}"'
        f.write(f'{{"source_ip":"{s}","dest_ip":"{d}","source_port":{sp},"dest_port":{dp},"protocol":{proto},'
                f'"timestamp":{1732530000 + n % 3000},"value":{n % 97}.5,"packets":3,"bytes":{n % 1500}}}\n')
PY
for i in $(seq 1 "$repetitions"); do
  out=$( { /usr/bin/time -f "cpu %U %S" "$build/apps/flowmetrics" ingest "$work/lines.jsonl" \
      --set database.uri="$uri" --set database.database=ingest_bench --set database.collection="run_$i" \
      --set spool.directory="$work/spool_$i" --set spool.fsync="$fsync" --set pipeline.bucket_seconds=3600 \
      --set log.level=warn; } 2>&1 | tr '\r' '\n')
  echo "$out" | grep -E "^flowmetrics ingest: received" | tail -1
  echo "$out" | grep -q "received 1000000, accepted 1000000, rejected 0, written 1000000, failed 0" ||
    { echo "run $i: not every line written; not counted" >&2; continue; }
  echo "$out" | awk -v i="$i" '/^cpu /{printf "run %d: %.3f CPU-s per million lines (user %s, sys %s)\n", i, $2 + $3, $2, $3}'
done
