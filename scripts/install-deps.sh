#!/usr/bin/env bash
# Installs what flowmetrics needs to build and test: Debian packages (skipped when already
# present) and the embedded FerretDB server, built from the Go module proxy into .tools/bin.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build pkg-config git
  libmongoc-dev libbson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev prometheus-cpp-dev libcli11-dev
  libsimdjson-dev libcpp-httplib-dev libabsl-dev
  iproute2 procps python3 curl
  softflowd nfdump python3-scapy
  pmacct nfdump-sflow
  clang ccache
  lintian systemd dpkg-dev file man-db adduser
  chromium
)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The web console is bundled with npm at build time; any node 18+ with its npm will do (Debian's
# when none is there). Its browser tests drive Debian's chromium with Playwright for Python.
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing node and npm from Debian"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm >/dev/null
fi
if ! python3 -c 'import playwright' 2>/dev/null; then
  echo "install-deps: installing Playwright for Python (pip; it drives /usr/bin/chromium)"
  python3 -m pip --version >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-pip >/dev/null
  python3 -m pip install -q --disable-pip-version-check playwright==1.65.2 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages playwright==1.65.2
fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$candidate/go" ] && PATH="$candidate:$PATH"
  done
fi
command -v go >/dev/null 2>&1 || { echo "install-deps: Go 1.22 or newer is needed to build FerretDB" >&2; exit 1; }

server="$root/.tools/bin/ferretdb-server"
stamp="$root/.tools/ferretdb-server.stamp"
want=$(cat "$root/tools/ferretdb-server/go.mod" "$root/tools/ferretdb-server/go.sum" "$root/tools/ferretdb-server/main.go" | sha256sum | cut -d' ' -f1)
if [ ! -x "$server" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: building FerretDB v1.24.2 (embedded) into .tools/bin"
  mkdir -p "$root/.tools/bin"
  (cd "$root/tools/ferretdb-server" && go build -trimpath -o "$server" .)
  echo "$want" > "$stamp"
fi
