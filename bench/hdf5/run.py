#!/usr/bin/python3
"""HDF5 row sums: hdf5_rowsum's reduction against a sequential C loop and the
seed's dask.delayed version, side by side in one run.

    /usr/bin/python3 bench/hdf5/run.py [--reps R] [--block B] [--threads T]
        [--sizes 1000,10000] [--no-build] [--out FILE]

From anywhere; it works in the repository root. It configures and builds
build-bench-hdf5/ (cmake -S bench/hdf5 -B build-bench-hdf5
-DCMAKE_BUILD_TYPE=Release: dusk, hdf5_make and bench_hdf5), writes the
datasets once (build-bench-hdf5/data/rows-N.h5, /X: N x 1000 random doubles,
contiguous), then for each repetition, each size, runs each case in turn, one
process per run, each timed after an untimed warm-up of the same case in the
same process. The cases:

  seq, 1 row       the sequential C loop over the same blocks as dusk at
                   rows-per-task 1 (the example's own check)
  seq, B rows      the same over blocks of B rows
  whole            one H5Dread of the whole dataset, then the same sums
  dusk, 1 row,     the example's graph at a limit of 1 on its resource
    limit 1        class "hdf5" (at most 1 of the tasks that call HDF5 at
                   once; the example's default for such small blocks),
                   fused: one task per row reads and sums it, T threads
  dusk, 1 row,     no limit on the class, so the fused form: one task per
    no limit       row that reads and sums it (the seed's graph), T threads
  dusk, 1 row,     the same on one thread (no limit: fused); the
                   example's default for blocks under 8 rows
    1 thread
  dusk, B rows,    blocks of B rows, T threads, limit 1 (split: a read
                   task in the class and a sum task per block)
    limit 1
  dusk, B rows,    the same with no limit (fused; the example's default
                   for blocks of 8 rows or more)
    no limit
  dask             the seed: delayed(sum_row)(i) per row reading with h5py,
                   delayed(sum)(rows), threaded scheduler, T workers

Every total is checked: each dusk run against the sequential loop over the
same blocks (to the last bit, by bench_hdf5 itself), every run against the
whole read to within 1e-12 relative (the order of additions differs).

Writes bench/RESULTS-hdf5.md (or --out) with the machine, the command, the
medians and ranges, limit 1 against no limit, and the issue's targets: dusk
build + compute within 1.5x of the sequential loop over the same blocks, and
at least 40x faster than dask, at either limit. Raw lines go to
build-bench-hdf5/bench-raw.txt.
"""

import argparse
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build-bench-hdf5")
PYTHON = "/usr/bin/python3"
COLS = 1000

TARGET_VS_SEQ = 1.5
TARGET_VS_DASK = 40.0


def log(msg):
    print(msg, flush=True)


def sh(cmd):
    return subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)


def build():
    for cmd in (["cmake", "-S", "bench/hdf5", "-B", "build-bench-hdf5",
                 "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", "build-bench-hdf5", "-j2", "--target",
                 "bench_hdf5", "hdf5_make"]):
        log("$ " + " ".join(cmd))
        r = sh(cmd)
        if r.returncode:
            sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
            sys.exit("bench/hdf5: %s failed" % cmd[1])


def programs():
    bench = os.path.join(BUILD, "bench_hdf5")
    make = os.path.join(BUILD, "dusk", "examples", "hdf5_make")
    for p in (bench, make):
        if not os.path.exists(p):
            sys.exit("bench/hdf5: %s is missing (run without --no-build)" % p)
    return bench, make


def dataset(make, rows):
    """build-bench-hdf5/data/rows-N.h5 with /X, made once."""
    data = os.path.join(BUILD, "data")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(data, "rows-%d.h5" % rows)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        if os.path.exists(tmp):
            os.remove(tmp)
        r = subprocess.run([make, tmp, "/X", "random", str(rows), str(COLS)],
                           text=True, capture_output=True)
        if r.returncode:
            sys.exit("bench/hdf5: hdf5_make: " + r.stderr.strip())
        os.rename(tmp, path)
    return path


def cases(bench, block, threads):
    """(key, label, argv without the file) for each case, in run order."""
    def c(mode, rpt, t, limit=1):
        lim = ["--hdf5-limit", str(limit)] if mode == "dusk" else []
        return [bench, "--warm"] + lim + [mode, "FILE", "/X", str(rpt),
                                          str(t)]
    return [
        ("seq1", "sequential C loop, 1 row per block", c("seq", 1, 1)),
        ("seqB", "sequential C loop, %d rows per block" % block,
         c("seq", block, 1)),
        ("whole", "one H5Dread of the whole dataset", c("whole", 1, 1)),
        ("dusk1", "**dusk, 1 row per task** (the seed's graph), limit 1 "
         "(fused)",
         c("dusk", 1, threads)),
        ("dusk1nolimit", "**dusk, 1 row per task**, no limit (fused)",
         c("dusk", 1, threads, 0)),
        ("dusk1t1", "**dusk, 1 row per task**, 1 thread (fused; the "
         "default)",
         c("dusk", 1, 1, 0)),
        ("duskB", "**dusk, %d rows per task**, limit 1 (split)" % block,
         c("dusk", block, threads)),
        ("duskBnolimit", "**dusk, %d rows per task**, no limit (fused; "
         "the default)" % block,
         c("dusk", block, threads, 0)),
        ("dask", "dask.delayed (the seed), threaded scheduler",
         [PYTHON, os.path.join(HERE, "dask_rowsum.py"), "--warm", "FILE",
          "/X", str(threads)]),
    ]


def parse(line):
    f = line.split()
    return {"mode": f[0], "rows": int(f[1]), "rpt": int(f[2]),
            "threads": int(f[3]), "tasks": int(f[4]), "build": float(f[5]),
            "compute": float(f[6]), "free": float(f[7]),
            "total": float(f[8])}


def run_one(argv, timeout):
    try:
        r = subprocess.run(argv, text=True, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    if r.returncode != 0:
        err = r.stderr.strip().splitlines()
        return None, "exit %d: %s" % (r.returncode, err[-1] if err else "")
    lines = r.stdout.strip().splitlines()
    if not lines:
        return None, "no output"
    return parse(lines[-1]), None


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_all(args, the_cases, files):
    results, failures, loads = {}, [], []
    raw = open(os.path.join(BUILD, "bench-raw.txt"), "w")
    for rep in range(1, args.reps + 1):
        log("--- repetition %d of %d" % (rep, args.reps))
        for rows in args.sizes:
            for key, _, argv in the_cases:
                argv = [files[rows] if a == "FILE" else a for a in argv]
                loads.append(loadavg())
                res, err = run_one(argv, args.timeout)
                if err:
                    failures.append((rep, rows, key, err))
                    log("  %-12s %6d  FAILED %s" % (key, rows, err))
                    continue
                res["rep"] = rep
                results.setdefault((key, rows), []).append(res)
                raw.write("%d %s %s\n" % (rep, key, " ".join(
                    str(res[k]) for k in ("rows", "rpt", "threads", "tasks",
                                          "build", "compute", "free",
                                          "total"))))
                raw.flush()
                log("  %-12s %6d  %9.3f ms  (build %.3f, compute %.3f)" % (
                    key, rows, (res["build"] + res["compute"]) / 1e6,
                    res["build"] / 1e6, res["compute"] / 1e6))
    raw.close()
    return results, failures, loads


# ------------------------------------------------------------- statistics

def wall(r):
    return r["build"] + r["compute"]


def med(results, key, rows, f=wall):
    v = [f(r) for r in results.get((key, rows), [])]
    return statistics.median(v) if v else None


def spread(results, key, rows):
    v = [wall(r) for r in results.get((key, rows), [])]
    return (min(v), max(v)) if v else (None, None)


def ratio(results, a, b, rows):
    x, y = med(results, a, rows), med(results, b, rows)
    return x / y if x and y else None


def rep_ratios(results, a, b, rows):
    """a / b within each repetition (the two ran next to each other)."""
    x = {r["rep"]: wall(r) for r in results.get((a, rows), [])}
    y = {r["rep"]: wall(r) for r in results.get((b, rows), [])}
    q = [x[k] / y[k] for k in x if k in y]
    return (min(q), max(q)) if q else (None, None)


def check_totals(results, sizes):
    """Every total within 1e-12 of the whole read's; returns the misfits."""
    bad = []
    for rows in sizes:
        ref = [r["total"] for r in results.get(("whole", rows), [])]
        if not ref:
            continue
        for (key, n), rs in results.items():
            if n != rows:
                continue
            for r in rs:
                if abs(r["total"] - ref[0]) > 1e-12 * abs(ref[0]):
                    bad.append((key, rows, r["rep"], r["total"], ref[0]))
    return bad


def ms(x):
    return "–" if x is None else ("%.2f" % (x / 1e6) if x < 1e9
                                  else "{:,.0f}".format(x / 1e6))


def times(x):
    """A ratio, to three figures below 100 (39.6× is no 40×)."""
    if x is None:
        return "–"
    return ("%.2f×" if x < 10 else "%.1f×" if x < 100 else "%.0f×") % x


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
    versions = subprocess.run(
        [PYTHON, "-c", "import dask, h5py, numpy; print(dask.__version__, "
         "h5py.__version__, numpy.__version__)"], text=True,
        capture_output=True).stdout.split() or ["?", "?", "?"]
    hdf5 = "?"
    try:
        with open("/usr/include/hdf5/serial/H5public.h") as f:
            for line in f:
                if line.startswith("#define H5_VERS_INFO"):
                    hdf5 = line.split('"')[1]
    except OSError:
        pass
    threadsafe = "?"
    try:
        with open("/usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.settings") as f:
            for line in f:
                if "Threadsafety" in line:
                    threadsafe = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return [
        ("cores (nproc)", first(["nproc"])),
        ("CPU", model),
        ("memory", mem),
        ("kernel", "%s %s" % (platform.system(), platform.release())),
        ("compiler", first(["gcc", "--version"])),
        ("HDF5", "%s (Debian serial; its build says thread safety: %s)" % (
            hdf5, threadsafe)),
        ("Python / dask / h5py / numpy", "%s / %s" % (
            platform.python_version(), " / ".join(versions))),
    ]


def report(args, the_cases, results, failures, loads, command, started,
           elapsed):
    L = []
    add = L.append
    add("# HDF5 row sums: dusk, a sequential C loop, dask.delayed")
    add("")
    add("Written by `bench/hdf5/run.py` on %s, in %.0f s. Command, from the "
        "repository root:" % (started.strftime("%Y-%m-%d %H:%M %Z").strip(),
                              elapsed))
    add("")
    add("    " + command)
    add("")
    add("The seed's workload: the sum of every row of `/X`, a contiguous "
        "dataset of N × %d random float64: each row (or block of rows) "
        "read with a hyperslab and summed (dask: one task that does both; "
        "dusk: the same, one task in the class `hdf5`, the fused form, "
        "except for blocks of 8 rows or more at a limit: a read task in the "
        "class and a sum task, the split form), then a sum of the rows "
        "(dusk: a tree of "
        "adds, two by two). The sequential loops read with the same code as "
        "dusk's tasks (dataspaces made once, one buffer). "
        "%d repetition(s), "
        "interleaved (each repetition: each size, each case in turn), one "
        "process per run, each timed after an untimed warm-up of the same "
        "case in the same process. Times are **medians** in milliseconds, "
        "graph building plus computing (the loops: their whole time); dusk "
        "at %d threads unless said. \"limit 1\": at most one of the tasks "
        "that call HDF5 (dusk's resource class `hdf5`) runs at once; \"no "
        "limit\": the class has none. How each case is written: "
        "`bench/hdf5/README.md`." % (COLS, args.reps, args.threads))
    add("")
    add("The machine is shared with other engineers running builds and "
        "tests (the load average during the run is under Machine, below): "
        "single runs vary a lot, which is why the cases are interleaved, so "
        "that the load falls on every case alike, and why the figures are "
        "medians, with the range of each run and of each ratio within a "
        "repetition.")
    add("")
    for rows in args.sizes:
        add("## %s rows × %s columns (%.0f MB)" % (
            "{:,}".format(rows), "{:,}".format(COLS), rows * COLS * 8 / 1e6))
        add("")
        add("| case | tasks | build | compute | build + compute | min–max "
            "| per task (µs) | ÷ its sequential loop | dask ÷ it |")
        add("|---|---|---|---|---|---|---|---|---|")
        for key, label, _ in the_cases:
            rs = results.get((key, rows))
            if not rs:
                add("| %s | – | – | – | – | – | – | – | – |" % label)
                continue
            tasks = rs[0]["tasks"]
            w = med(results, key, rows)
            lo, hi = spread(results, key, rows)
            seq = {"dusk1": "seq1", "dusk1nolimit": "seq1",
                   "dusk1t1": "seq1", "duskB": "seqB",
                   "duskBnolimit": "seqB"}.get(key)
            vs_seq = times(ratio(results, key, seq, rows)) if seq else ""
            vs_dask = (times(ratio(results, "dask", key, rows))
                       if key.startswith("dusk") else "")
            add("| %s | %s | %s | %s | **%s** | %s–%s | %.2f | %s | %s |" % (
                label, "{:,}".format(tasks),
                ms(med(results, key, rows, lambda r: r["build"])),
                ms(med(results, key, rows, lambda r: r["compute"])),
                ms(w), ms(lo), ms(hi), w / tasks / 1e3, vs_seq, vs_dask))
        add("")
    add("## The issue's targets")
    add("")
    add("Median ratio, with the range of the per-repetition ratio (the two "
        "cases ran next to each other), at %d threads with a limit of 1 "
        "(fused at 1 row per task, split at larger blocks) and with none "
        "(fused), and for 1 row per task on 1 thread (fused). The example's "
        "defaults are one worker at 1 row per task (blocks under 8 rows), "
        "and %d threads with no limit at larger blocks." % (args.threads,
                                                           args.threads))
    add("")
    add("| target | size | limit 1 | met | no limit | met | 1 thread | met |")
    add("|---|---|---|---|---|---|---|---|")

    def cell(a, b, rows, ok):
        r = ratio(results, a, b, rows)
        lo, hi = rep_ratios(results, a, b, rows)
        return "%s (%s–%s) | %s" % (
            times(r), times(lo), times(hi),
            "–" if r is None else ("yes" if ok(r) else "**no**"))
    within = lambda r: r <= TARGET_VS_SEQ
    faster = lambda r: r >= TARGET_VS_DASK
    for rows in args.sizes:
        n = "{:,}".format(rows)
        for key, seq, what, one in (
                ("dusk1", "seq1", "dusk, 1 row per task", "dusk1t1"),
                ("duskB", "seqB", "dusk, %d rows per task" % args.block,
                 None)):
            add("| %s within %.1f× of the sequential loop | %s rows | %s | "
                "%s | %s |" % (what, TARGET_VS_SEQ, n,
                               cell(key, seq, rows, within),
                               cell(key + "nolimit", seq, rows, within),
                               cell(one, seq, rows, within) if one
                               else "– | –"))
        for key, what, one in (("dusk1", "dusk, 1 row per task", "dusk1t1"),
                               ("duskB", "dusk, %d rows per task"
                                % args.block, None)):
            add("| %s at least %.0f× faster than dask | %s rows | %s | %s | "
                "%s |" % (what, TARGET_VS_DASK, n,
                          cell("dask", key, rows, faster),
                          cell("dask", key + "nolimit", rows, faster),
                          cell("dask", one, rows, faster) if one
                          else "– | –"))
    add("")
    add("## Limit 1 against no limit (dusk, %d threads)" % args.threads)
    add("")
    add("| size | rows per task | limit 1 | no limit | limit 1 ÷ no limit "
        "(per-repetition range) |")
    add("|---|---|---|---|---|")
    for rows in args.sizes:
        for key, rpt in (("dusk1", 1), ("duskB", args.block)):
            lo, hi = rep_ratios(results, key, key + "nolimit", rows)
            add("| %s rows | %d | %s ms | %s ms | %s (%s–%s) |" % (
                "{:,}".format(rows), rpt, ms(med(results, key, rows)),
                ms(med(results, key + "nolimit", rows)),
                times(ratio(results, key, key + "nolimit", rows)),
                times(lo), times(hi)))
    add("")
    bad = check_totals(results, args.sizes)
    add("Totals: every dusk run matched the sequential loop over the same "
        "blocks to the last bit (bench_hdf5 exits 1 otherwise, and such a "
        "run is listed below as failed); %s" % (
            "every run agreed with the whole read to 1e-12." if not bad else
            "**%d runs disagreed with the whole read**: %s" % (
                len(bad), "; ".join("%s %d rows rep %d: %.17g vs %.17g" % b
                                    for b in bad[:5]))))
    add("")
    if failures:
        add("**Failed runs** (left out of the figures):")
        add("")
        for rep, rows, key, err in failures:
            add("- repetition %d, %d rows, %s: %s" % (rep, rows, key, err))
        add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    for k, v in machine():
        add("| %s | %s |" % (k, v))
    add("| load average (1 min) during the run | %.2f–%.2f, median %.2f |" % (
        min(loads), max(loads), statistics.median(loads)) if loads else
        "| load average | ? |")
    add("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7,
                    help="repetitions (default 7; the figures are medians)")
    ap.add_argument("--block", type=int, default=32,
                    help="rows per task of the blocked case (default 32)")
    ap.add_argument("--threads", type=int, default=2,
                    help="dusk's threads and dask's workers (default 2)")
    ap.add_argument("--sizes", default="1000,10000",
                    help="rows of the datasets (default 1000,10000)")
    ap.add_argument("--no-build", action="store_true",
                    help="use what build-bench-hdf5/ holds")
    ap.add_argument("--timeout", type=int, default=120,
                    help="seconds per run")
    ap.add_argument("--out", help="where to write the report "
                    "(default bench/RESULTS-hdf5.md)")
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    out = args.out or os.path.join(ROOT, "bench", "RESULTS-hdf5.md")
    command = " ".join(shlex.quote(a) for a in
                       ["/usr/bin/python3", "bench/hdf5/run.py"] +
                       sys.argv[1:])
    r = subprocess.run([PYTHON, "-c", "import dask, h5py"],
                       capture_output=True)
    if r.returncode:
        sys.exit("bench/hdf5: %s cannot import dask and h5py (apt-get "
                 "install python3-dask python3-h5py)" % PYTHON)
    if not args.no_build:
        build()
    bench, make = programs()
    files = {rows: dataset(make, rows) for rows in args.sizes}
    the_cases = cases(bench, args.block, args.threads)
    started = datetime.datetime.now().astimezone()
    t0 = time.time()
    results, failures, loads = run_all(args, the_cases, files)
    text = report(args, the_cases, results, failures, loads, command,
                  started, time.time() - t0)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text + "\n")
    log("")
    log(text)
    log("wrote %s" % os.path.relpath(out, ROOT))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
