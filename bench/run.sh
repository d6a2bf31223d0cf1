#!/bin/sh
# Build the benchmarks, run them all interleaved, write bench/RESULTS.md.
# Usage: bench/run.sh [--quick] [--reps R] [--no-build] [--out FILE] ...
# (see bench/run.py --help). Debian's python3 is the one that sees dask.
BENCH_COMMAND="bench/run.sh${*:+ $*}" exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
