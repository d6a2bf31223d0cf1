#!/usr/bin/env bash
# Build the libFuzzer harness tests/fuzz_api.c (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) in a build directory of its own, and run it for
# a bounded time from the seed corpus tests/fuzz_corpus/.
#
#   tests/run_fuzz.sh [seconds]     default 60 (or $FUZZ_TIME)
#
# New inputs go to $FUZZ_BUILD_DIR/corpus (default build-fuzz/corpus), never
# into the repository; a crashing input is left in $FUZZ_BUILD_DIR as
# crash-*, leak-* or timeout-*, and the script fails. Replay one with
#   build-fuzz/tests/fuzz_api build-fuzz/crash-<sha1>
# Prints the number of inputs run and the rate.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-${FUZZ_TIME:-60}}"
dir="${FUZZ_BUILD_DIR:-build-fuzz}"

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DDUSK_FUZZ=ON -DDUSK_BUILD_EXAMPLES=OFF \
  -DDUSK_WERROR=ON >/dev/null
cmake --build "$dir" --target fuzz_api -j"$(nproc)"

mkdir -p "$dir/corpus"
log="$dir/fuzz.log"
set +e
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  "$dir/tests/fuzz_api" -max_total_time="$secs" -timeout=20 \
  -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" \
  "$dir/corpus" tests/fuzz_corpus >"$log" 2>&1
rc=$?
set -e

# The log has a line per new input: show how it started and ended, any
# report of a failure, and the statistics.
grep -E '^(INFO: Seed|INFO: Loaded|#[0-9]+[[:space:]]+INITED)' "$log" || true
grep -E '^#[0-9]+[[:space:]]+(pulse|DONE)' "$log" | tail -n 1 || true
grep -E -A40 '^(==[0-9]+==|fuzz_api: |SUMMARY|.*runtime error)' "$log" |
  grep -v -E '^stat::' | head -n 60 || true
grep -E '^(Done|stat::)' "$log" || true
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
if [ -n "$runs" ] && [ -n "$rate" ]; then
  echo "fuzz_api: $runs inputs run, $rate per second ($((rate * 60)) per minute)"
fi
if [ "$rc" -ne 0 ]; then
  echo "fuzz_api: FAILED (exit $rc); the input is in $dir/ (see $log)"
fi
exit "$rc"
