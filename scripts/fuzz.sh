#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ under AddressSanitizer and
# UndefinedBehaviorSanitizer, then runs each from its seed corpus (fuzz/corpus/<target>/).
# Fails on the first crash, leak, sanitizer report or timeout; the input that caused it is
# left in build-fuzz/artifacts/.
#   scripts/fuzz.sh [seconds-per-target] [target...]   explore: a bounded time each (default
#                                                      30 s), random seed, corpus kept in
#                                                      build-fuzz/corpus/<target>
#   scripts/fuzz.sh --runs N [target...]               repeatable: N inputs each, seed
#                                                      $FLOWMETRICS_FUZZ_SEED (default 1), from
#                                                      the checked-in seeds only
# scripts/test.sh uses --runs: the same inputs on every run and every machine, however loaded,
# so the suite's result never depends on what a random 20 s happened to find (exploring is
# the first form's job; a finding becomes a seed and then fails every run until fixed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=""
seconds=30
if [ "${1:-}" = "--runs" ]; then
  runs=${2:?usage: fuzz.sh --runs N [target...]}
  shift 2
elif [ $# -gt 0 ]; then
  seconds=$1
  shift
fi
targets=("$@")
((${#targets[@]})) || targets=(netflow_v5_fuzzer netflow_v9_fuzzer ipfix_fuzzer sflow_fuzzer json_record_fuzzer json_body_fuzzer
  filter_parser_fuzzer)

cxx=$(command -v clang++ || command -v clang++-14 || true)
[ -n "$cxx" ] || { echo "fuzz: clang++ not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }
build="$root/build-fuzz"
CXX="$cxx" cmake -S "$root/fuzz" -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j "$(nproc)" -- -k 0 "${targets[@]}" >/dev/null

mkdir -p "$build/artifacts"
scratch=""
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  log="$build/$target.log"
  if [ -n "$runs" ]; then
    # A fresh, empty corpus directory each time: inputs found by earlier runs do not change
    # what this one does. The per-input timeout only catches hangs, so it is generous.
    scratch=$(mktemp -d "$build/scratch-$target.XXXXXX")
    work="$scratch"
    bound=(-runs="$runs" -seed="${FLOWMETRICS_FUZZ_SEED:-1}" -timeout=120)
  else
    # New inputs go to build-fuzz/corpus/<target>; the checked-in seeds are only read.
    work="$build/corpus/$target"
    mkdir -p "$work"
    bound=(-max_total_time="$seconds" -timeout=10)
  fi
  if ! "$build/$target" "${bound[@]}" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$target-" "$work" "$root/fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (log: $log, input: $build/artifacts/)" >&2
    exit 1
  fi
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  if [ -n "$runs" ]; then
    echo "fuzz: $target ok: ${executed:-?} executions (seed ${FLOWMETRICS_FUZZ_SEED:-1})"
    rm -rf "$scratch"
    scratch=""
  else
    echo "fuzz: $target ok: ${executed:-?} executions in ${seconds} s, corpus $(find "$work" -type f | wc -l) inputs"
  fi
done
