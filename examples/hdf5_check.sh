#!/bin/sh
# The tests of hdf5_rowsum (see examples/CMakeLists.txt), one case per run:
#
#   hdf5_check.sh ROWSUM MAKE DIR demo [OPTION ...]
#       the demo: no file given, in an empty DIR; it must write its demo file
#       there and check out, at the default limit (see below) unless told
#   hdf5_check.sh ROWSUM MAKE DIR total|total32 ROWS COLS TASKS [OPTION ...]
#       a ROWS x COLS dataset of small whole numbers (f64, or f32), whose
#       total is exact in any order: the total printed must be hdf5_make's,
#       the task count TASKS; with --write-rows it runs twice (the second
#       replaces the first run's row sums); with --hdf5-limit N the pool
#       must say that its limit is N
#   hdf5_check.sh ROWSUM MAKE DIR dot [OPTION ...]
#       --dot writes DOT text with a node per task of an 8 x 4 dataset, one
#       row per task, each named for its form
#   hdf5_check.sh ROWSUM MAKE DIR trace [OPTION ...]
#       --trace writes Chrome trace-event JSON with an event per task (8 x 4,
#       2 rows per task), each named for its form
#   hdf5_check.sh ROWSUM MAKE DIR readfail [OPTION ...]
#       reading fails in the tasks (the data of a 6 x 3 dataset lives in an
#       external raw file, deleted before the run): exit code exactly 1,
#       stderr one line naming the task of the form (read_sum_block or
#       read_block) and the rows whose read failed (no HDF5 error stack),
#       and no handle left open (the program checks that itself, dataspaces
#       included)
#   hdf5_check.sh ROWSUM MAKE DIR bad SETUP PATTERN [ARG ...]
#       bad input: exit code exactly 2, and stderr exactly one line that
#       matches PATTERN (grep -E); SETUP: none, text (notes.txt), file
#       (t.h5 holding /X, 4 x 3, and the one of /V (1-D), /C (3-D), /S
#       (scalar), /I (integers), /E (0 x 5), /Z (4 x 0), /G (a group) that
#       the arguments name)
#
# Every case but bad checks the form the program says it ran in: split (a
# read task and a sum task per block) with a limit (--hdf5-limit N > 0) and
# blocks of 8 rows or more, fused (one task per block reads and sums it)
# otherwise. With no --hdf5-limit the program picks the limit: 1 for blocks
# of fewer than 8 rows (the default is 1 row), none for larger ones.
#
# It works in DIR (emptied first; removed when the case passes) and exits 0
# when the case passes, 1 with the reason otherwise.
set -u
rowsum=$1 make=$2 dir=$3 mode=$4
shift 4

fail() {
  echo "FAIL: $*"
  for f in out err; do
    [ -s "$dir/$f" ] && { echo "--- std$f:"; cat "$dir/$f"; }
  done
  exit 1
}

# has FILE PATTERN: FILE has a line matching the extended regex PATTERN
has() { grep -E -q -e "$2" "$1"; }

make_file() { # make_file NAME KIND DIM...: add a dataset to t.h5
  "$make" t.h5 "$@" >/dev/null || fail "hdf5_make t.h5 $*"
}

rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || fail "cannot make $dir"

# The limit asked for (empty: none given), and the form it makes.
limit=
case " $* " in *" --hdf5-limit "*)
  limit=$(echo " $* " | sed 's/.* --hdf5-limit \([^ ]*\) .*/\1/') ;;
esac
per_task=1
case " $* " in *" --rows-per-task "*)
  per_task=$(echo " $* " | sed 's/.* --rows-per-task \([^ ]*\) .*/\1/') ;;
esac
case $per_task in *[!0-9]* | '' | 0) per_task=1 ;; esac # bad: not used
chosen=
if [ -z "$limit" ]; then # the program's choice
  if [ "$per_task" -lt 8 ]; then chosen=1; else chosen=0; fi
  limit=$chosen
fi
case $limit in *[!0-9]* | '') limit=0 ;; esac
form=fused
[ "$limit" -gt 0 ] && [ "$per_task" -ge 8 ] && form=split
blocks8=$(((8 + per_task - 1) / per_task)) # blocks of an 8-row dataset

# has_form: the program's output says it ran in the expected form
has_form() { has out "^form: +$form[ :]"; }

# count_tasks FILE WHAT BEFORE AFTER BLOCKS: FILE has, for each task of the
# form's graph of BLOCKS blocks, one line matching BEFORE name AFTER (WHAT
# names them in the message)
count_tasks() {
  tasks="read_sum_block:$5 add:$(($5 - 1))"
  [ $form = split ] && tasks="read_block:$5 sum_block:$5 add:$(($5 - 1))"
  for task in $tasks; do
    n=$(grep -c "$3${task%:*}$4" "$1")
    [ "$n" -eq "${task#*:}" ] ||
      fail "$1 has $n ${task%:*} $2, expected ${task#*:}"
  done
}

case $mode in
demo)
  "$rowsum" "$@" >out 2>err
  rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc, expected 0"
  [ -f hdf5_rowsum_demo.h5 ] || fail "no demo file in the working directory"
  has out '^rows: +1000$' || fail "not 1000 rows"
  has out '^check: +ok' || fail "the check did not pass"
  has_form || fail "the form is not $form"
  if [ -n "$chosen" ]; then
    has out "^hdf5 limit: +$chosen " || fail "the default is not $chosen"
  fi
  # No --threads: one worker for blocks under 8 rows (the default, 1 row)
  case " $* " in *" --threads "*) ;; *)
    if [ -z "${DUSK_NUM_THREADS:-}" ] && [ "$per_task" -lt 8 ]; then
      has out '^threads: +1$' || fail "the default is not one worker"
    fi ;;
  esac
  case " $* " in *" --write-rows "*)
    has out '^row sums: .*ok' || fail "the row sums did not check out" ;;
  esac
  ;;
total | total32)
  rows=$1 cols=$2 tasks=$3
  shift 3
  kind=f64
  [ "$mode" = total32 ] && kind=f32
  expect=$("$make" t.h5 /X $kind "$rows" "$cols") || fail "hdf5_make"
  expect=${expect#total }
  runs=1
  case " $* " in *" --write-rows "*) runs=2 ;; esac
  for run in $(seq $runs); do
    "$rowsum" "$@" t.h5 /X >out 2>err
    rc=$?
    [ $rc -eq 0 ] || fail "run $run: exit code $rc, expected 0"
    has out "^total: +$expect\$" || fail "run $run: total is not $expect"
    has out "^rows: +$rows\$" || fail "run $run: not $rows rows"
    has out "^tasks: +$tasks " || fail "run $run: not $tasks tasks"
    has out '^check: +ok' || fail "run $run: the check did not pass"
    has_form || fail "run $run: the form is not $form"
    if [ -n "$limit" ]; then
      has out "^hdf5 limit: +$limit " || fail "run $run: the limit is not $limit"
    fi
    if [ $runs -eq 2 ]; then
      has out '^row sums: +/X_rowsums written and read back: ok' ||
        fail "run $run: the row sums did not check out"
    fi
  done
  ;;
dot)
  make_file /X f64 8 4
  "$rowsum" "$@" --dot graph.dot t.h5 >out 2>err || fail "exit code $?"
  has_form || fail "the form is not $form"
  has graph.dot '^digraph' || fail "graph.dot is not DOT"
  count_tasks graph.dot nodes '\[label="' '"' $blocks8
  ;;
trace)
  make_file /X f64 8 4
  case " $* " in *" --rows-per-task "*) ;; *) # 2 rows per task, fused
    set -- "$@" --rows-per-task 2 && blocks8=4 ;;
  esac
  "$rowsum" "$@" --trace trace.json t.h5 >out 2>err || fail "exit code $?"
  has_form || fail "the form is not $form"
  has out '^trace: +trace.json$' || fail "the trace is not reported"
  head -n 1 trace.json | grep -q '^{"displayTimeUnit"' ||
    fail "trace.json does not open as a trace"
  tail -n 1 trace.json | grep -q '^]}$' || fail "trace.json is not closed"
  count_tasks trace.json events '"name":"' '","cat":"task","ph":"X"' $blocks8
  ;;
readfail)
  "$make" t.h5 /X external 6 3 >/dev/null || fail "hdf5_make external"
  [ -f X.raw ] || fail "hdf5_make wrote no X.raw"
  rm -f X.raw
  "$rowsum" "$@" t.h5 >out 2>err
  rc=$?
  [ $rc -eq 1 ] || fail "exit code $rc, expected 1"
  lines=$(wc -l <err)
  [ "$lines" -eq 1 ] || fail "stderr has $lines lines, expected 1"
  task=read_sum_block
  [ $form = split ] && task=read_block
  has err "^hdf5_rowsum: .*\\b$task#[0-9]+ failed: rows [0-9]+\\.\\.[0-9]+: reading failed\$" ||
    fail "stderr does not name the failed $task"
  ;;
bad)
  setup=$1 pattern=$2
  shift 2
  case $setup in
  none) ;;
  text) echo "not HDF5" >notes.txt ;;
  file) # /X, and the wrong kind of dataset the arguments name
    make_file /X f64 4 3
    for a in "$@"; do
      case $a in
      /V) make_file /V f64 10 ;;
      /C) make_file /C f64 2 3 4 ;;
      /S) make_file /S f64 ;;
      /I) make_file /I i32 4 4 ;;
      /E) make_file /E f64 0 5 ;;
      /Z) make_file /Z f64 4 0 ;;
      /G) make_file /G group ;;
      esac
    done
    ;;
  esac
  "$rowsum" "$@" >out 2>err
  rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  lines=$(wc -l <err)
  [ "$lines" -eq 1 ] || fail "stderr has $lines lines, expected 1"
  has err "^hdf5_rowsum: .*$pattern" || fail "stderr does not match: $pattern"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
cd / && rm -rf "$dir"
echo "ok"
