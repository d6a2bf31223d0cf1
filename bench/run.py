#!/usr/bin/python3
"""Build the benchmark programs, run them interleaved, write RESULTS.md.

    bench/run.sh [--quick] [--reps R] [--no-build] [--out FILE]
                 [--runtimes dusk,omp,...] [--workloads W1,W2,...]

Run from anywhere; it works in the repository root. It configures and builds
build-bench/ (cmake -S . -B build-bench -DDUSK_BUILD_BENCH=ON
-DCMAKE_BUILD_TYPE=Release), calibrates W5's busy loop once for the whole
run, then for each repetition, each workload, each thread count (1, 2) runs
each runtime in turn, in an order shuffled afresh each time (a fixed seed:
the same order on every run of the script), one process per run, each with
--warm (one untimed run first in the same process: BENCH.md's figures are
warm). Interleaving spreads the drift of a shared machine over every
runtime alike; shuffling spreads what a run leaves behind for the next one
(a fixed order had one runtime always follow the same one, and the same
binary measured up to a quarter slower in one place than in another).

Full mode: the sizes of BENCH.md, 5 repetitions, writes bench/RESULTS.md.
--quick: a tenth of the sizes, 3 repetitions, writes build-bench/
RESULTS-quick.md, for development. The raw result lines go to
build-bench/bench-raw.txt.
"""

import argparse
import datetime
import os
import re
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build-bench")
PYTHON = "/usr/bin/python3"

WORKLOADS = ["W1", "W2", "W3", "W4", "W5"]
WNAMES = {"W1": "W1 fanin", "W2": "W2 chain", "W3": "W3 tree",
          "W4": "W4 wavefront", "W5": "W5 busy"}
THREADS = [1, 2]

# name, how to run it, thread counts, workloads, what BENCH.md calls it
RUNTIMES = [
    ("plain", ["bench_plain"], [1], WORKLOADS,
     "plain loop, direct calls (the limit; W5: static split)"),
    ("plain-malloc", ["bench_plain", "--malloc"], [1], WORKLOADS,
     "plain loop, one malloc per node"),
    ("dusk", ["bench_dusk"], THREADS, WORKLOADS, "**dusk**"),
    ("dusk-literal", ["bench_dusk", "--literal"], THREADS, ["W1", "W3"],
     "dusk, leaf index as a literal node"),
    ("dusk-nodiag", ["bench_dusk_nodiag"], THREADS, WORKLOADS[:4],
     "dusk, diagnostics compiled out"),
    ("dusk-phases", ["bench_dusk", "--phases"], THREADS, WORKLOADS[:4],
     "dusk, statistics on (for its phases)"),
    ("omp", ["bench_omp"], THREADS, WORKLOADS,
     "OpenMP tasks with `depend` (gcc)"),
    ("tbb", ["bench_tbb"], THREADS, WORKLOADS, "oneTBB flow graph"),
    ("dask", [PYTHON, os.path.join(BENCH, "dask_bench.py")], THREADS,
     WORKLOADS, "dask.delayed, threaded scheduler"),
]

# N per workload (see README.md); the full C sizes are BENCH.md's.
C_FULL = {"W1": 1000000, "W2": 1000000, "W3": 1048576, "W4": 1000000,
          "W5": 2000}
DASK_FULL = {"W1": 10000, "W2": 2000, "W3": 4096, "W4": 2500, "W5": 2000}
SIZES = {
    "full": {"c": C_FULL, "dask": DASK_FULL},
    "quick": {"c": {"W1": 100000, "W2": 100000, "W3": 131072,
                    "W4": 102400, "W5": 400},
              "dask": {"W1": 2000, "W2": 500, "W3": 1024, "W4": 400,
                       "W5": 200}},
}

def threads_of(name, threads, w):
    """The plain loop runs W5 at 1 and 2 threads too: the tasks split in
    equal shares, the speedup the machine allows at that moment."""
    return THREADS if name == "plain" and w == "W5" else threads


TARGET_NS = 100.0
TARGET_SPEEDUP = 1.9
TARGET_RSS_KB = 128 * 1024
TARGET_VS_DASK = 1000.0


def log(msg):
    print(msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, **kw)


# ------------------------------------------------------------------ build

def build(programs):
    """Configure and build; returns {program: path} of those that built."""
    cmd = ["cmake", "-S", ".", "-B", "build-bench", "-DDUSK_BUILD_BENCH=ON",
           "-DCMAKE_BUILD_TYPE=Release"]
    log("$ " + " ".join(cmd))
    r = sh(cmd)
    if r.returncode:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        sys.exit("bench: cmake configure failed")
    built = {}
    for p in programs:
        r = sh(["cmake", "--build", "build-bench", "-j2", "--target", p])
        path = os.path.join(BUILD, "bench", p)
        if r.returncode == 0 and os.path.exists(path):
            built[p] = path
        else:
            lines = (r.stdout + r.stderr).strip().splitlines()
            log("bench: %s did not build: %s" % (
                p, " | ".join(lines[-3:]) if lines else "no such target"))
    return built


def find_built(programs):
    out = {}
    for p in programs:
        path = os.path.join(BUILD, "bench", p)
        if os.path.exists(path):
            out[p] = path
    return out


# ---------------------------------------------------------------- running

def parse_line(line):
    f = line.split()
    return {"runtime": f[0], "workload": f[1], "threads": int(f[2]),
            "tasks": int(f[3]), "ns": float(f[4]), "rss_kb": int(f[5]),
            "answer": int(f[6]), "phases": f[7] if len(f) > 7 else ""}


def run_one(argv, env, timeout):
    try:
        r = subprocess.run(argv, env=env, text=True, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    if r.returncode != 0:
        err = r.stderr.strip().splitlines()
        return None, "exit %d: %s" % (r.returncode, err[-1] if err else "")
    lines = r.stdout.strip().splitlines()
    if not lines:
        return None, "no output"
    return parse_line(lines[-1]), None


def calibrate(built, env):
    r = subprocess.run([built["bench_plain"], "--calibrate"], text=True,
                       capture_output=True, env=env)
    env["BENCH_SPIN_ITERS"] = r.stdout.strip()
    r = subprocess.run([PYTHON, os.path.join(BENCH, "dask_bench.py"),
                        "--calibrate"], text=True, capture_output=True)
    if r.returncode == 0:
        env["DASK_SPIN_REPS"] = r.stdout.strip()
    log("W5 calibration: BENCH_SPIN_ITERS=%s DASK_SPIN_REPS=%s" % (
        env.get("BENCH_SPIN_ITERS"), env.get("DASK_SPIN_REPS", "?")))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_all(args, runtimes, built, env):
    results, failures, loads = [], [], []
    raw = open(os.path.join(BUILD, "bench-raw.txt"), "w")
    sizes = SIZES[args.mode]
    shuffle = random.Random(20261130).shuffle
    for rep in range(1, args.reps + 1):
        log("--- repetition %d of %d" % (rep, args.reps))
        for w in args.workloads:
            for t in THREADS:
                order = list(runtimes)
                shuffle(order)
                for name, cmd, threads, works, _ in order:
                    if t not in threads_of(name, threads, w) or \
                            w not in works:
                        continue
                    n = sizes["dask" if name == "dask" else "c"][w]
                    prog = cmd[0] if name == "dask" else built[cmd[0]]
                    argv = [prog] + cmd[1:] + ["--warm", w, str(t), str(n)]
                    loads.append(loadavg())
                    res, err = run_one(argv, env,
                                       args.timeout * (3 if name == "dask"
                                                       else 1))
                    if err:
                        failures.append((rep, name, w, t, err))
                        log("  %-12s %s %d  FAILED %s" % (name, w, t, err))
                        continue
                    res["runtime"], res["rep"] = name, rep
                    results.append(res)
                    raw.write("%d %s\n" % (rep, " ".join(
                        str(res[k]) for k in ("runtime", "workload",
                                              "threads", "tasks", "ns",
                                              "rss_kb", "answer",
                                              "phases"))))
                    raw.flush()
                    log("  %-12s %s %d  %12.1f ns/task  %8d kB  %s" % (
                        name, w, t, res["ns"], res["rss_kb"], res["phases"]))
    raw.close()
    return results, failures, loads


# ------------------------------------------------------------- statistics

class Stats:
    def __init__(self, results):
        self.by = {}
        for r in results:
            self.by.setdefault((r["runtime"], r["workload"], r["threads"]),
                               []).append(r)

    def ns(self, rt, w, t):
        return [r["ns"] for r in self.by.get((rt, w, t), [])]

    def median(self, rt, w, t):
        v = self.ns(rt, w, t)
        return statistics.median(v) if v else None

    def rss(self, rt, w, t):
        v = [r["rss_kb"] for r in self.by.get((rt, w, t), [])]
        return statistics.median(v) if v else None

    def phases(self, rt, w, t):
        """The median of each phase (ns per task) over the repetitions."""
        rows = [[float(x) for x in r["phases"].split("/")]
                for r in self.by.get((rt, w, t), []) if r["phases"]]
        if not rows or len({len(x) for x in rows}) != 1:
            return None
        return [statistics.median(col) for col in zip(*rows)]

    def ratio_range(self, a, b, w, t):
        """a's time over b's, per repetition: (min, max), or None."""
        x = {r["rep"]: r["ns"] for r in self.by.get((a, w, t), [])}
        y = {r["rep"]: r["ns"] for r in self.by.get((b, w, t), [])}
        q = [x[k] / y[k] for k in x if k in y]
        return (min(q), max(q)) if q else None

    def tasks(self, rt, w):
        for t in THREADS:
            for r in self.by.get((rt, w, t), []):
                return r["tasks"]
        return None

    def speedup(self, rt):
        """Median 1-thread time over median 2-thread time, and the range of
        the per-repetition ratios (pairs run next to each other)."""
        m1, m2 = self.median(rt, "W5", 1), self.median(rt, "W5", 2)
        if not m1 or not m2:
            return None, None, None
        one = {r["rep"]: r["ns"] for r in self.by[(rt, "W5", 1)]}
        two = {r["rep"]: r["ns"] for r in self.by[(rt, "W5", 2)]}
        ratios = [one[k] / two[k] for k in one if k in two]
        return m1 / m2, min(ratios), max(ratios)

    def rep_ratios(self, rt):
        one = {r["rep"]: r["ns"] for r in self.by.get((rt, "W5", 1), [])}
        two = {r["rep"]: r["ns"] for r in self.by.get((rt, "W5", 2), [])}
        return {k: one[k] / two[k] for k in one if k in two}

    def vs_split(self, rt):
        """Median over the repetitions of the runtime's speedup divided by
        the plain split's in the same repetition: the share of what the
        machine allowed at that moment that the runtime obtained."""
        mine, split = self.rep_ratios(rt), self.rep_ratios("plain")
        q = [mine[k] / split[k] for k in mine if k in split]
        return statistics.median(q) if q else None


def fmt_ns(x):
    if x is None:
        return "–"
    if x >= 10000:
        return "{:,.0f}".format(x)
    if x >= 100:
        return "%.0f" % x
    return "%.1f" % x


def cell(st, rt, w, threads):
    return " / ".join(fmt_ns(st.median(rt, w, t)) for t in threads)


def range_cell(st, rt, w, threads):
    parts = []
    for t in threads:
        v = st.ns(rt, w, t)
        parts.append("%s–%s" % (fmt_ns(min(v)), fmt_ns(max(v))) if v
                     else "–")
    return " / ".join(parts)


# ----------------------------------------------------------------- report

def machine():
    def first(cmd):
        try:
            out = subprocess.run(cmd, text=True, capture_output=True).stdout
            return out.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GB" % (int(line.split()[1]) / 1024 / 1024)
    try:
        import dask
        dask_v = dask.__version__
    except ImportError:
        dask_v = "not importable"
    tbb_v = {}
    try:
        with open("/usr/include/oneapi/tbb/version.h") as f:
            for line in f:
                p = line.split()
                if len(p) == 3 and p[0] == "#define" and p[1] in (
                        "TBB_VERSION_MAJOR", "TBB_VERSION_MINOR",
                        "TBB_VERSION_PATCH"):
                    tbb_v[p[1]] = p[2]
    except OSError:
        pass
    tbb_v = ".".join(tbb_v[k] for k in ("TBB_VERSION_MAJOR",
                                        "TBB_VERSION_MINOR",
                                        "TBB_VERSION_PATCH")
                     if k in tbb_v) or "?"
    return [
        ("cores (nproc)", first(["nproc"])),
        ("CPU", model),
        ("memory", mem),
        ("kernel", "%s %s" % (platform.system(), platform.release())),
        ("compiler", first(["gcc", "--version"])),
        ("oneTBB", tbb_v),
        ("Python / dask", "%s / %s" % (platform.python_version(), dask_v)),
    ]


def targets(st):
    """Lines of (what, measured, target, ok) for dusk against BENCH.md."""
    rows = []
    for w in WORKLOADS[:4]:
        for t in THREADS:
            m = st.median("dusk", w, t)
            rows.append(("%s at %d thread%s" % (WNAMES[w], t, "s" * (t > 1)),
                         fmt_ns(m) + " ns" if m else "–",
                         "≤ %.0f ns" % TARGET_NS,
                         m is not None and m <= TARGET_NS))
    s, _, _ = st.speedup("dusk")
    split, _, _ = st.speedup("plain")
    rows.append(("W5 speedup at 2 threads" + (
        " (the plain split's: %.2f)" % split if split else ""),
                 "%.2f" % s if s else "–",
                 "≥ %.1f" % TARGET_SPEEDUP, s is not None and s >= TARGET_SPEEDUP))
    rss = [st.rss("dusk", "W1", t) for t in THREADS]
    rss = [r for r in rss if r]
    peak = max(rss) if rss else None
    ntasks = st.tasks("dusk", "W1")
    full = ntasks == C_FULL["W1"] + 1
    rows.append(("W1 peak RSS%s" % ("" if full else
                                    " (at %s tasks, not 1,000,001)" % ntasks),
                 "%.1f MB" % (peak / 1024) if peak else "–",
                 "≤ 128 MB", peak is not None and peak <= TARGET_RSS_KB))
    worst = None
    for w in WORKLOADS[:4]:
        for t in THREADS:
            a, b = st.median("dask", w, t), st.median("dusk", w, t)
            if a and b:
                worst = a / b if worst is None else min(worst, a / b)
    rows.append(("faster than dask.delayed per task, W1 to W4 (least)",
                 "%.0f×" % worst if worst else "–",
                 "≥ %.0f×" % TARGET_VS_DASK,
                 worst is not None and worst >= TARGET_VS_DASK))
    return rows


def sizes_text(mode):
    s = SIZES[mode]
    c, d = s["c"], s["dask"]

    def one(sz):
        return ", ".join("%s %s" % (w, "{:,}".format(sz[w]))
                         for w in WORKLOADS)
    return one(c), one(d)


def report(args, runtimes, st, failures, loads, command, started, elapsed):
    L = []
    add = L.append
    title = "Benchmark results" + (" (quick mode)" if args.mode == "quick"
                                   else "")
    add("# " + title)
    add("")
    add("Written by `bench/run.py` on %s, in %.0f s. Command, from the "
        "repository root:" % (started.strftime("%Y-%m-%d %H:%M %Z").strip(),
                              elapsed))
    add("")
    add("    " + command)
    add("")
    add("%d repetition%s, interleaved (each repetition: each workload, each "
        "thread count, each runtime in turn, in an order shuffled afresh "
        "each time), one process per run, each "
        "timed after one untimed warm-up run of the same case in the same "
        "process. Figures are nanoseconds per task, **medians**, graph "
        "construction, execution and freeing together; `a / b` is 1 / 2 "
        "threads. The workloads and the peers' reference figures are in "
        "`shared/BENCH.md`; how each program is written is in "
        "`bench/README.md`." % (args.reps, "s" * (args.reps != 1)))
    add("")
    add("| runtime | W1 fanin | W2 chain | W3 tree | W4 wavefront "
        "| W5 speedup |")
    add("|---|---|---|---|---|---|")
    for name, _, threads, works, label in runtimes:
        cells = [cell(st, name, w, threads) if w in works else "–"
                 for w in WORKLOADS[:4]]
        s, _, _ = st.speedup(name)
        add("| %s | %s | %s |" % (label, " | ".join(cells),
                                  "%.2f" % s if s else "—"))
    add("")
    add("## Spread: min–max over the repetitions (1 / 2 threads)")
    add("")
    add("| runtime | W1 fanin | W2 chain | W3 tree | W4 wavefront "
        "| W5 busy |")
    add("|---|---|---|---|---|---|")
    for name, _, threads, works, _ in runtimes:
        cells = [range_cell(st, name, w, threads_of(name, threads, w))
                 if w in works else "–"
                 for w in WORKLOADS]
        add("| %s | %s |" % (name, " | ".join(cells)))
    add("")
    add("## W5 busy: ns per task (median) and speedup")
    add("")
    add("Speedup = median time at 1 thread / median time at 2 threads; the "
        "range is that of the ratio within each repetition. The plain row "
        "splits the tasks in two equal shares on two threads: no runtime "
        "can do better, so its speedup is what the shared machine allowed "
        "during this run. \"÷ split\" is the median, over the repetitions, "
        "of each runtime's speedup divided by the split's in the same "
        "repetition: 1.00 is all the machine allowed.")
    add("")
    add("| runtime | 1 thread | 2 threads | speedup | range | ÷ split |")
    add("|---|---|---|---|---|---|")
    for name, _, threads, works, _ in runtimes:
        if "W5" not in works or 2 not in threads_of(name, threads, "W5"):
            continue
        s, lo, hi = st.speedup(name)
        q = st.vs_split(name)
        add("| %s | %s | %s | %s | %s | %s |" % (
            name, fmt_ns(st.median(name, "W5", 1)),
            fmt_ns(st.median(name, "W5", 2)),
            "%.2f" % s if s else "–",
            "%.2f–%.2f" % (lo, hi) if s else "–",
            "%.2f" % q if q else "–"))
    add("")
    add("## Peak RSS of W1 fanin (median, MB; 1 / 2 threads)")
    add("")
    add("Peak resident set of the whole process (warm-up run included, the "
        "graph freed between), from getrusage.")
    add("")
    add("| runtime | tasks | peak RSS |")
    add("|---|---|---|")
    for name, _, threads, works, _ in runtimes:
        if "W1" not in works:
            continue
        v = [st.rss(name, "W1", t) for t in threads]
        add("| %s | %s | %s |" % (
            name, "{:,}".format(st.tasks(name, "W1") or 0),
            " / ".join("%.1f" % (x / 1024) if x else "–" for x in v)))
    add("")
    add("## Diagnostics off cost nothing: compiled in against compiled out")
    add("")
    add("dusk as shipped (progress bar, traces and statistics compiled in, "
        "all off) against the same sources built with `DUSK_NO_DIAG`, which "
        "removes the hooks (`bench_dusk_nodiag`), in the same repetitions. "
        "A ratio of 1.00 is no cost; the range is that of the ratio within "
        "each repetition, which shows the noise of the machine.")
    add("")
    add("| workload | threads | compiled in, off | compiled out | ratio | "
        "range |")
    add("|---|---|---|---|---|---|")
    for w in WORKLOADS[:4]:
        for t in THREADS:
            a, b = st.median("dusk", w, t), st.median("dusk-nodiag", w, t)
            rr = st.ratio_range("dusk", "dusk-nodiag", w, t)
            add("| %s | %d | %s | %s | %s | %s |" % (
                WNAMES[w], t, fmt_ns(a), fmt_ns(b),
                "%.2f" % (a / b) if a and b else "–",
                "%.2f–%.2f" % rr if rr else "–"))
    add("")
    add("## Where dusk's time goes: its phases (ns per task, medians)")
    add("")
    add("From `bench_dusk --phases`: statistics on, and each compute's own "
        "split read from `dusk_graph_stats`: build (making the graph), "
        "prepare (claiming and wiring what the target needs), run (first "
        "task queued to the last one finished), settle (handing the result "
        "back), free (`dusk_graph_free`). Statistics time every task (two "
        "clock reads) and count live results, which lengthens the run phase "
        "only; so \"run, stats off\" is dusk's total from the main table "
        "less the other four phases.")
    add("")
    add("| workload | threads | build | prepare | run, stats on | "
        "run, stats off | settle | free | total, stats off |")
    add("|---|---|---|---|---|---|---|---|---|")
    for w in WORKLOADS[:4]:
        for t in THREADS:
            ph = st.phases("dusk-phases", w, t)
            total = st.median("dusk", w, t)
            if not ph or len(ph) != 5:
                continue
            off = total - (ph[0] + ph[1] + ph[3] + ph[4]) if total else None
            add("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                WNAMES[w], t, fmt_ns(ph[0]), fmt_ns(ph[1]), fmt_ns(ph[2]),
                fmt_ns(off), fmt_ns(ph[3]), fmt_ns(ph[4]), fmt_ns(total)))
    add("")
    add("## dusk against BENCH.md's targets")
    add("")
    add("| what | measured | target | met |")
    add("|---|---|---|---|")
    for what, got, want, ok in targets(st):
        add("| %s | %s | %s | %s |" % (what, got, want,
                                       "yes" if ok else "**no**"))
    add("")
    add("## dusk against dask.delayed, per task (dask ns / dusk ns)")
    add("")
    add("W1 to W4, where the figure is the runtime's own cost; dask's at its "
        "smaller sizes.")
    add("")
    add("| workload | 1 thread | 2 threads |")
    add("|---|---|---|")
    for w in WORKLOADS[:4]:
        r = []
        for t in THREADS:
            a, b = st.median("dask", w, t), st.median("dusk", w, t)
            r.append("{:,.0f}×".format(a / b) if a and b else "–")
        add("| %s | %s |" % (WNAMES[w], " | ".join(r)))
    add("")
    for line in hdf5_section():
        add(line)
    c_sizes, d_sizes = sizes_text(args.mode)
    add("## Sizes")
    add("")
    add("- C and C++ programs (N): %s. Tasks: W1 and W5 N+1, W2 N, "
        "W3 2N−1 (N leaves, N−1 additions), W4 N." % c_sizes)
    add("- dask (N): %s; smaller because dask costs 0.1 to 2 ms per task "
        "and builds deep graphs in quadratic time, so its figure is per "
        "task at that size." % d_sizes)
    add("")
    add("## Machine")
    add("")
    for k, v in machine():
        add("- %s: %s" % (k, v))
    if loads:
        add("- load average (1 min) sampled before each run: median %.2f, "
            "max %.2f (2 cores, shared with other work)"
            % (statistics.median(loads), max(loads)))
    add("")
    if failures:
        add("## Runs that failed")
        add("")
        for rep, name, w, t, err in failures:
            add("- repetition %d, %s %s at %d thread%s: %s"
                % (rep, name, w, t, "s" * (t > 1), err))
        add("")
    return "\n".join(L)


def hdf5_section():
    """The HDF5 row sums' targets, from bench/RESULTS-hdf5.md (written by
    bench/hdf5/run.py, a run of its own), as lines; [] when it is missing."""
    path = os.path.join(BENCH, "RESULTS-hdf5.md")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read().splitlines()
    written = next((l for l in text if l.startswith("Written by")), "")
    when = re.search(r" on (.+? UTC), in ([0-9,.]+ s)", written)
    try:
        i = text.index("## The issue's targets")
    except ValueError:
        return []
    j = next((k for k in range(i + 1, len(text))
              if text[k].startswith("## ")), len(text))
    L = ["## HDF5 row sums (bench/RESULTS-hdf5.md)", "",
         "The seed's HDF5 reduction (`examples/hdf5_rowsum.c`) against a "
         "sequential C loop and dask.delayed is measured by its own command, "
         "`/usr/bin/python3 bench/hdf5/run.py`, into `bench/RESULTS-hdf5.md` "
         "(all its cases side by side in one run%s). Its targets, copied "
         "from there:" % (", on %s, in %s" % when.groups() if when else ""),
         ""]
    L += [l for l in text[i + 1:j] if l.startswith("|")]
    L.append("")
    return L


def print_summary(runtimes, st):
    log("")
    log("%-14s %22s %22s %22s %22s %8s" % ("runtime", "W1 fanin",
                                            "W2 chain", "W3 tree",
                                            "W4 wavefront", "W5 x"))
    for name, _, threads, works, _ in runtimes:
        cells = [cell(st, name, w, threads) if w in works else "–"
                 for w in WORKLOADS[:4]]
        s, _, _ = st.speedup(name)
        log("%-14s %22s %22s %22s %22s %8s" % (
            (name,) + tuple(cells) + ("%.2f" % s if s else "—",)))
    log("")
    log("dusk/dask per task (how many times faster dusk is):")
    for w in WORKLOADS[:4]:
        parts = []
        for t in THREADS:
            a, b = st.median("dask", w, t), st.median("dusk", w, t)
            parts.append("%d thread%s %s" % (
                t, "s" * (t > 1),
                "{:,.0f}×".format(a / b) if a and b else "–"))
        log("  %-13s %s" % (WNAMES[w], ", ".join(parts)))


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a tenth of the sizes, 3 repetitions")
    ap.add_argument("--reps", type=int, help="repetitions (5, quick: 3)")
    ap.add_argument("--no-build", action="store_true",
                    help="use what build-bench/ holds")
    ap.add_argument("--runtimes", help="comma list, e.g. dusk,omp")
    ap.add_argument("--workloads", help="comma list, e.g. W1,W5")
    ap.add_argument("--timeout", type=int, default=300,
                    help="seconds per C run (dask: 3 times that)")
    ap.add_argument("--out", help="where to write the report")
    args = ap.parse_args()
    args.mode = "quick" if args.quick else "full"
    if args.reps is None:
        args.reps = 3 if args.quick else 5
    args.workloads = (args.workloads.upper().split(",") if args.workloads
                      else WORKLOADS)
    wanted = args.runtimes.split(",") if args.runtimes else None
    out = args.out or (os.path.join(BENCH, "RESULTS.md") if not args.quick
                       else os.path.join(BUILD, "RESULTS-quick.md"))
    command = os.environ.get("BENCH_COMMAND") or " ".join(
        shlex.quote(a) for a in ["bench/run.py"] + sys.argv[1:])

    runtimes = [r for r in RUNTIMES if not wanted or r[0] in wanted]
    programs = sorted({r[1][0] for r in runtimes if r[0] != "dask"})
    built = find_built(programs) if args.no_build else build(programs)
    if "bench_plain" not in built:
        built.update(find_built(["bench_plain"]))
    if "bench_plain" not in built:
        sys.exit("bench: bench_plain is needed to calibrate W5")
    r = subprocess.run([PYTHON, "-c", "import dask, numpy"],
                       capture_output=True)
    have_dask = r.returncode == 0
    if not have_dask:
        log("bench: %s cannot import dask and numpy (apt-get install "
            "python3-dask): no dask runs" % PYTHON)
    runtimes = [r for r in runtimes
                if (r[0] == "dask" and have_dask) or r[1][0] in built]

    env = dict(os.environ)
    calibrate(built, env)
    started = datetime.datetime.now().astimezone()
    t0 = time.time()
    results, failures, loads = run_all(args, runtimes, built, env)
    st = Stats(results)
    text = report(args, runtimes, st, failures, loads, command, started,
                  time.time() - t0)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text + "\n")
    print_summary(runtimes, st)
    log("")
    log("wrote %s (raw lines: %s)" % (os.path.relpath(out, ROOT),
                                      os.path.relpath(os.path.join(
                                          BUILD, "bench-raw.txt"), ROOT)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
