#!/usr/bin/env bash
# Starts or stops the embedded FerretDB (SQLite backend) on loopback.
#   scripts/ferretdb.sh start STATE_DIR [PORT]   prints the MongoDB URI once it answers
#   scripts/ferretdb.sh stop STATE_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server="$root/.tools/bin/ferretdb-server"
command=${1:?usage: ferretdb.sh start|stop STATE_DIR [PORT]}
dir=${2:?usage: ferretdb.sh start|stop STATE_DIR [PORT]}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$command" in
  start)
    [ -x "$server" ] || { echo "ferretdb.sh: $server is missing; run scripts/install-deps.sh" >&2; exit 1; }
    mkdir -p "$dir/data"
    port=${3:-$(free_port)}
    "$server" --listen "127.0.0.1:$port" --sqlite-dir "$dir/data" --log-level error >"$dir/ferretdb.log" 2>&1 &
    echo $! >"$dir/ferretdb.pid"
    for _ in $(seq 1 100); do
      # The server's own "ready" line, not just an open port: another process could hold it.
      if grep -q "^ready mongodb://127.0.0.1:$port/" "$dir/ferretdb.log" 2>/dev/null; then
        echo "mongodb://127.0.0.1:$port/"
        exit 0
      fi
      kill -0 "$(cat "$dir/ferretdb.pid")" 2>/dev/null || { cat "$dir/ferretdb.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "ferretdb.sh: FerretDB did not listen on 127.0.0.1:$port within 10 s" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/ferretdb.pid" ]; then
      pid=$(cat "$dir/ferretdb.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/ferretdb.pid"
    fi
    ;;
  *)
    echo "usage: ferretdb.sh start|stop STATE_DIR [PORT]" >&2
    exit 2
    ;;
esac
