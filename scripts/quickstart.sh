#!/usr/bin/env bash
# The one command for a fresh machine: installs everything, builds, starts the embedded
# FerretDB and runs the seed example against it (or against MONGODB_URI when set), then loads
# a generated workload of 10,000 records through the collector (`flowmetrics ingest`), and ends
# by printing the top talkers of that workload (`flowmetrics top`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The generated records span 2024-11-25T10:20:00Z to 10:24:00Z (scripts/gen_workload.py). They
# go to their own collection: the per-minute totals the queries read are kept for two days
# behind the newest data of a collection (docs/rollups.md, "Retention"), and the seed example's
# record in metrics_db.metrics is stamped now, which would leave the 2024 minutes none.
quick=(--set database.collection=quickstart)
top=(top --by source_ip -n 10 --from 2024-11-25T10:20:00Z --to 2024-11-25T10:24:00Z "${quick[@]}")
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
if [ -n "${MONGODB_URI:-}" ]; then
  echo "quickstart: using MONGODB_URI"
  "$root/build/examples/seed_usage"
  python3 "$root/scripts/gen_workload.py" --records 10000 |
    "$root/build/apps/flowmetrics" ingest - --set spool.directory="$root/.tools/quickstart-spool" "${quick[@]}"
  echo "quickstart: flowmetrics ${top[*]}"
  "$root/build/apps/flowmetrics" "${top[@]}"
  exit
fi
state="$root/.tools/quickstart-db"
"$root/scripts/ferretdb.sh" stop "$state"
# Each run starts from an empty database and spool, so that a second run prints the same
# table rather than twice the sums.
rm -rf "$state/data" "$root/.tools/quickstart-spool"
uri=$("$root/scripts/ferretdb.sh" start "$state")
trap '"$root/scripts/ferretdb.sh" stop "$state"' EXIT
echo "quickstart: embedded FerretDB at $uri (data in .tools/quickstart-db/data)"
MONGODB_URI="$uri" "$root/build/examples/seed_usage"
echo "quickstart: 10,000 generated records through the collector (flowmetrics ingest)"
python3 "$root/scripts/gen_workload.py" --records 10000 |
  MONGODB_URI="$uri" "$root/build/apps/flowmetrics" ingest - --set spool.directory="$root/.tools/quickstart-spool" "${quick[@]}"
echo "quickstart: flowmetrics ${top[*]}"
MONGODB_URI="$uri" "$root/build/apps/flowmetrics" "${top[@]}"
echo 'quickstart: web console: run  uri=$(./scripts/ferretdb.sh start .tools/quickstart-db); MONGODB_URI=$uri build/apps/flowmetrics console --listen 127.0.0.1:8080 --set database.collection=quickstart  and open http://127.0.0.1:8080/?from=2024-11-25T10:20:00Z&to=2024-11-25T11:20:00Z'
