#!/usr/bin/env bash
# Starts or stops mongo-java-server (H2 MVStore file backend) on loopback, for the benchmarks.
#   bench/servers/mongo-java-server.sh start STATE_DIR [PORT]   prints the MongoDB URI once it answers
#   bench/servers/mongo-java-server.sh stop STATE_DIR
#   bench/servers/mongo-java-server.sh jar                      builds if needed, prints the jar's path
# The jar is built with Maven from bench/servers/mongo-java-server/ and cached in
# .tools/mongo-java-server/, keyed by a hash of the pom and the sources.
# Data: STATE_DIR/data/mongo-java-server.mv; log: STATE_DIR/server.log; pid: STATE_DIR/server.pid.
# Environment: MONGO_JAVA_SERVER_BACKEND=memory for the in-memory backend (default h2),
#              MONGO_JAVA_SERVER_COMMIT_DELAY_MS=N for the MVStore auto-commit delay (H2 default 1000),
#              MONGO_JAVA_SERVER_JAVA_OPTS for the JVM (default: none).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
project="$root/bench/servers/mongo-java-server"
cache="$root/.tools/mongo-java-server"
usage="usage: mongo-java-server.sh start STATE_DIR [PORT] | stop STATE_DIR | jar"
command=${1:?$usage}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prints the path of the launcher jar, building it first when the pom or a source changed.
jar_path() {
  local want jar build
  want=$(cd "$project" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  jar="$cache/mongo-java-server-launcher-$want.jar"
  if [ ! -s "$jar" ]; then
    command -v mvn >/dev/null 2>&1 || { echo "mongo-java-server.sh: Maven (mvn) is needed to build $jar" >&2; return 1; }
    mkdir -p "$cache"
    (
      flock 9  # two starts at once build once
      if [ ! -s "$jar" ]; then
        echo "mongo-java-server.sh: building mongo-java-server launcher into ${jar#"$root/"}" >&2
        build="$cache/build-$want"
        rm -rf "$build" && mkdir -p "$build"
        cp -r "$project/pom.xml" "$project/src" "$build/"
        if ! (cd "$build" && mvn -q -B package >"$build/maven.log" 2>&1); then
          cat "$build/maven.log" >&2
          echo "mongo-java-server.sh: Maven build failed (log: $build/maven.log)" >&2
          exit 1
        fi
        cp "$build/target/mongo-java-server-launcher.jar" "$jar.tmp" && mv "$jar.tmp" "$jar"
        rm -rf "$build"
      fi
    ) 9>"$cache/build.lock" || return 1
  fi
  echo "$jar"
}

case "$command" in
  jar)
    jar_path
    ;;
  start)
    dir=${2:?$usage}
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      echo "mongo-java-server.sh: a server (pid $(cat "$dir/server.pid")) already runs on $dir; stop it first" >&2
      exit 1
    fi
    jar=$(jar_path)
    command -v java >/dev/null 2>&1 || { echo "mongo-java-server.sh: java (17 or newer) is needed" >&2; exit 1; }
    mkdir -p "$dir/data"
    port=${3:-$(free_port)}
    case "${MONGO_JAVA_SERVER_BACKEND:-h2}" in
      h2) backend=(--data "$dir/data/mongo-java-server.mv")
          [ -z "${MONGO_JAVA_SERVER_COMMIT_DELAY_MS:-}" ] || backend+=(--commit-delay-ms "$MONGO_JAVA_SERVER_COMMIT_DELAY_MS") ;;
      memory) backend=(--memory) ;;
      *) echo "mongo-java-server.sh: MONGO_JAVA_SERVER_BACKEND is h2 or memory" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086  # JAVA_OPTS is a word list on purpose
    java ${MONGO_JAVA_SERVER_JAVA_OPTS:-} -jar "$jar" --listen "127.0.0.1:$port" "${backend[@]}" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/server.pid"
    for _ in $(seq 1 300); do
      if grep -q '^ready ' "$dir/server.log" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "mongodb://127.0.0.1:$port/"
        exit 0
      fi
      kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || { cat "$dir/server.log" >&2; rm -f "$dir/server.pid"; exit 1; }
      sleep 0.1
    done
    echo "mongo-java-server.sh: mongo-java-server did not listen on 127.0.0.1:$port within 30 s (log: $dir/server.log)" >&2
    exit 1
    ;;
  stop)
    dir=${2:?$usage}
    if [ -f "$dir/server.pid" ]; then
      pid=$(cat "$dir/server.pid")
      kill "$pid" 2>/dev/null || true
      # the shutdown hook closes the clients and the MVStore; give it time before forcing
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "mongo-java-server.sh: $pid did not stop within 15 s; killing it (the store may lose its last second)" >&2
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$dir/server.pid"
    fi
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
