#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ under AddressSanitizer and
# UndefinedBehaviorSanitizer, then runs each for a bounded time from its seed corpus
# (fuzz/corpus/<target>/). Fails on the first crash, leak, sanitizer report or timeout;
# the input that caused it is left in build-fuzz/artifacts/.
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default 30 s, every target)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(netflow_v5_fuzzer netflow_v9_fuzzer ipfix_fuzzer json_record_fuzzer json_body_fuzzer
  filter_parser_fuzzer)

cxx=$(command -v clang++ || command -v clang++-14 || true)
[ -n "$cxx" ] || { echo "fuzz: clang++ not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }
build="$root/build-fuzz"
CXX="$cxx" cmake -S "$root/fuzz" -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j "$(nproc)" -- -k 0 "${targets[@]}" >/dev/null

mkdir -p "$build/artifacts"
for target in "${targets[@]}"; do
  # New inputs go to build-fuzz/corpus/<target>; the checked-in seeds are only read.
  work="$build/corpus/$target"
  mkdir -p "$work"
  log="$build/$target.log"
  if ! "$build/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$work" "$root/fuzz/corpus/$target" \
      >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (log: $log, input: $build/artifacts/)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $target ok: ${runs:-?} executions in ${seconds} s, corpus $(find "$work" -type f | wc -l) inputs"
done
