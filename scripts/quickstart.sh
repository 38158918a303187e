#!/usr/bin/env bash
# The one command for a fresh machine: installs everything, builds, starts the embedded
# FerretDB and runs the seed example against it (or against MONGODB_URI when set).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
if [ -n "${MONGODB_URI:-}" ]; then
  echo "quickstart: using MONGODB_URI"
  "$root/build/examples/seed_usage"
  exit
fi
state="$root/.tools/quickstart-db"
"$root/scripts/ferretdb.sh" stop "$state"
uri=$("$root/scripts/ferretdb.sh" start "$state")
trap '"$root/scripts/ferretdb.sh" stop "$state"' EXIT
echo "quickstart: embedded FerretDB at $uri (data in .tools/quickstart-db/data)"
MONGODB_URI="$uri" "$root/build/examples/seed_usage"
