#!/usr/bin/env bash
# Builds the web console (web/) and writes the C++ source that embeds it into the binary.
#   scripts/build-web.sh OUT_CPP      (CMake runs it when web/ changes)
# Installs the pinned npm packages (package-lock.json) with `npm ci` when they changed, bundles
# with esbuild into the directory beside OUT_CPP, then web/embed.mjs writes OUT_CPP.
# Node and npm come from Debian (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
web="$root/web"
out_cpp=${1:?usage: build-web.sh OUT_CPP}
dist="$(dirname "$out_cpp")/web-dist"
command -v npm >/dev/null 2>&1 || { echo "build-web.sh: node and npm are missing; run scripts/install-deps.sh" >&2; exit 1; }

# npm ci wipes node_modules: run it only when the lock file differs from what was installed.
stamp="$web/node_modules/.flowmetrics-lock.sha256"
want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

mkdir -p "$dist"
(cd "$web" && ./node_modules/.bin/esbuild src/main.js --bundle --minify --format=esm --target=es2020 \
  --legal-comments=eof --log-level=warning --outfile="$dist/console.js")
cp "$web/index.html" "$web/favicon.svg" "$dist/"
node "$web/embed.mjs" "$dist" "$out_cpp.tmp"
mv "$out_cpp.tmp" "$out_cpp"
