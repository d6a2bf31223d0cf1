#!/usr/bin/python3
"""The seed's row sum with dask.delayed, for bench/hdf5/run.py.

    /usr/bin/python3 dask_rowsum.py [--warm] FILE DATASET THREADS

One delayed task per row that reads the row with h5py and sums it, one
delayed sum over them, computed with the threaded scheduler:

    rows = [delayed(sum_row)(i) for i in range(n)]
    total = delayed(sum)(rows)
    total.compute(scheduler="threads", num_workers=THREADS)

(dask.array.from_array would be another program: the seed is delayed.)
--warm runs the same case once, untimed, in the same process first. Prints
one line as bench_hdf5 does:

    dask ROWS 1 THREADS TASKS BUILD_NS COMPUTE_NS 0 TOTAL

Run it with Debian's /usr/bin/python3 (python3-dask, python3-h5py).
"""

import sys
import time

import h5py
from dask import delayed


def once(dset, threads):
    def sum_row(i):
        return dset[i].sum()  # h5py reads row i; numpy sums it

    t0 = time.perf_counter()
    rows = [delayed(sum_row)(i) for i in range(dset.shape[0])]
    total = delayed(sum)(rows)
    t1 = time.perf_counter()
    value = total.compute(scheduler="threads", num_workers=threads)
    t2 = time.perf_counter()
    return len(rows) + 1, t1 - t0, t2 - t1, float(value)


def main(argv):
    warm = len(argv) > 1 and argv[1] == "--warm"
    args = argv[1 + warm:]
    if len(args) != 3:
        sys.exit("usage: dask_rowsum.py [--warm] FILE DATASET THREADS")
    path, name, threads = args[0], args[1], int(args[2])
    with h5py.File(path, "r") as f:
        dset = f[name]
        if warm:
            once(dset, threads)
        tasks, build, compute, value = once(dset, threads)
        print("dask %d 1 %d %d %.0f %.0f 0 %.17g" % (
            dset.shape[0], threads, tasks, build * 1e9, compute * 1e9, value))


if __name__ == "__main__":
    main(sys.argv)
