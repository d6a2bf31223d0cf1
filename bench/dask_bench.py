#!/usr/bin/python3
"""The five workloads of shared/BENCH.md with dask.delayed, threaded scheduler.

Run it with Debian's interpreter, /usr/bin/python3, which sees python3-dask
(the python3 first on the PATH may not). The command line and the result line
are those of the C programs (see README.md):

    dask_bench.py [--warm] WORKLOAD THREADS [N]
    -> dask WORKLOAD THREADS TASKS NS_PER_TASK PEAK_RSS_KB ANSWER

Each workload is written as a dask user would: delayed(f)(i) for a task of
its own parameter, values flowing as arguments (W2's task k is
delayed(inc)(prev)), and one dask.compute(..., scheduler="threads",
num_workers=THREADS) of the last node. The timing covers building, computing
and dropping the graph.

The default sizes are small (2,000 to 10,000 tasks), since dask spends about
0.2 ms to 2 ms per task, and building a delayed graph is quadratic in its
depth: every delayed call merges the graphs of its arguments (a 20,000-task
chain takes over a minute to build). The per-task figure does not shrink with
size. --warm runs the workload untimed first at a quarter of the size: that
loads dask's lazily imported modules and starts the scheduler's thread pool,
which is all a dask process warms up.

W5's task spins about 200 us in numpy (np.sin over 16,384 doubles, repeated):
pure Python arithmetic would hold the GIL and could not use a second core,
while numpy releases it inside each call, so this is the idiomatic way to give
dask CPU work it can run in parallel. The number of repetitions is calibrated
once, or taken from DASK_SPIN_REPS so that every process of one run spins the
same amount.
"""

import os
import resource
import sys
import time

import dask
import numpy as np
from dask import delayed

DEFAULT_N = {"W1": 10000, "W2": 2000, "W3": 4096, "W4": 2500, "W5": 2000}
NAMES = {"fanin": "W1", "chain": "W2", "tree": "W3", "wavefront": "W4",
         "busy": "W5"}
BUSY_NS = 200000
SPIN_IN = np.linspace(0.0, 1.0, 16384)
spin_reps = 1


# ------------------------------------------------------------- the tasks

def leaf(i):
    return 2 * i + 1


def ident(i):
    return i


def zero():
    return 0


def inc(x):
    return x + 1


def add(a, b):
    return a + b


def wave(*neighbours):
    """The larger of the neighbours that exist, plus 1; (0,0) has none."""
    return max(neighbours, default=-1) + 1


def busy(i):
    out = np.empty_like(SPIN_IN)
    for _ in range(spin_reps):
        np.sin(SPIN_IN, out=out)
    return i + int(out[-1] <= 1.0)  # sin is at most 1: always i + 1


def calibrate():
    """Repetitions for about 200 us of CPU: the fastest of 5 timings of 50
    calls, in thread CPU time so that other work on the machine does not
    shorten the spin."""
    out = np.empty_like(SPIN_IN)
    best = None
    for _ in range(5):
        t = time.thread_time_ns()
        for _ in range(50):
            np.sin(SPIN_IN, out=out)
        t = (time.thread_time_ns() - t) / 50
        best = t if best is None else min(best, t)
    return max(1, round(BUSY_NS / best))


# ----------------------------------------------------------- the workloads

def side_of(n):
    s = 1
    while (s + 1) * (s + 1) <= n:
        s += 1
    return s


def size_case(w, n):
    """(tasks, expected answer) of workload w at size n."""
    if w == "W1":
        return n + 1, n * n
    if w == "W2":
        return n, n - 1
    if w == "W3":
        return 2 * n - 1, n * (n - 1) // 2
    if w == "W4":
        s = side_of(n)
        return s * s, 2 * (s - 1)
    return n + 1, n * (n - 1) // 2 + n


def build(w, n):
    """The last node of workload w at size n."""
    if w in ("W1", "W5"):
        task = delayed(leaf if w == "W1" else busy)
        return delayed(sum)([task(i) for i in range(n)])
    if w == "W2":
        x = delayed(zero)()
        for _ in range(1, n):
            x = delayed(inc)(x)
        return x
    if w == "W3":
        level = [delayed(ident)(i) for i in range(n)]
        while len(level) > 1:
            nxt = [delayed(add)(level[2 * j], level[2 * j + 1])
                   for j in range(len(level) // 2)]
            if len(level) & 1:
                nxt.append(level[-1])
            level = nxt
        return level[0]
    s = side_of(n)
    grid = [[None] * s for _ in range(s)]
    for i in range(s):
        for j in range(s):
            preds = []
            if i:
                preds.append(grid[i - 1][j])
            if j:
                preds.append(grid[i][j - 1])
            grid[i][j] = delayed(wave)(*preds)
    return grid[s - 1][s - 1]


def run_once(w, n, threads):
    """Build, compute and drop one graph; (answer, nanoseconds)."""
    t = time.perf_counter_ns()
    root = build(w, n)
    (answer,) = dask.compute(root, scheduler="threads", num_workers=threads)
    del root
    return answer, time.perf_counter_ns() - t


# -------------------------------------------------------------------- main

def usage():
    sys.stderr.write("usage: dask_bench.py [--warm] WORKLOAD THREADS [N]\n"
                     "       dask_bench.py --calibrate\n")
    sys.exit(2)


def parse_workload(s):
    s = s.lower().replace("-", "").replace("_", "")
    for name, label in NAMES.items():
        if s in (name, label.lower(), label.lower() + name):
            return label
    sys.stderr.write("dask_bench: unknown workload %r\n" % s)
    sys.exit(2)


def main(argv):
    global spin_reps
    warm = "--warm" in argv
    if "--calibrate" in argv:
        print(calibrate())
        return 0
    pos = [a for a in argv if not a.startswith("--")]
    if len(pos) not in (2, 3) or len(pos) != len(argv) - warm:
        usage()
    w = parse_workload(pos[0])
    threads = int(pos[1])
    n = int(pos[2]) if len(pos) == 3 else DEFAULT_N[w]
    if threads < 1 or n < 1:
        usage()
    if w == "W5":
        env = os.environ.get("DASK_SPIN_REPS")
        spin_reps = int(env) if env else calibrate()
    tasks, expected = size_case(w, n)
    if warm:
        run_once(w, max(1, n // 4), threads)
    answer, ns = run_once(w, n, threads)
    if answer != expected:
        sys.stderr.write("dask %s: wrong answer %d, expected %d\n"
                         % (w, answer, expected))
        return 1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("dask %s %d %d %.1f %d %d" % (w, threads, tasks, ns / tasks, rss,
                                        answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
