/*
** bench_hdf5: one timed run of hdf5_rowsum's reduction, of a sequential C
** loop over the same blocks, or of one read of the whole dataset, for
** bench/hdf5/run.py.
**
** The dusk runs use the example's own code: this file includes
** examples/hdf5_rowsum.c (without its main) and builds, computes and frees
** the example's graph with its tasks and its tree of adds, on a pool made
** as the example makes its own (start_pool: the resource class "hdf5" and
** its limit, which also picks the graph's form: fused with no limit, split
** with one). The sequential loop is the example's check, which reads with
** the same code as the tasks (a reader: dataspaces made once, one buffer).
**
** Usage: bench_hdf5 [--warm] [--hdf5-limit N] MODE FILE DATASET
**                   ROWS_PER_TASK THREADS
**
**   dusk          the example's graph
**   seq           the example's sequential check: the same blocks read one
**                 after another with one reader (its dataspaces and its
**                 buffer reused), summed in the same order
**   whole         one H5Dread of the whole dataset, then the same sums
**   --warm        run the same case once, untimed, in the same process
**                 first
**   --hdf5-limit  dusk: at most N tasks that call HDF5 at once (0: no
**                 limit); the example's default when not given
**
** Prints one line:
**   MODE ROWS ROWS_PER_TASK THREADS TASKS BUILD_NS COMPUTE_NS FREE_NS TOTAL
** (MODE for dusk: dusk-limitN, the limit the pool ran with; 0 is none)
** where BUILD_NS and COMPUTE_NS are the graph's phases (the loops' whole
** time is COMPUTE_NS) and TOTAL is the answer (%.17g); a dusk total that
** differs from the sequential loop's is an error (exit 1).
*/
#define HDF5_ROWSUM_NO_MAIN
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function" /* the example's CLI */
#endif
#include "hdf5_rowsum.c"

#include <malloc.h>

typedef struct result {
  size_t tasks;
  double build_s, compute_s, free_s, total;
} result;

static int run_dusk(input *in, hsize_t rpt, dusk_pool *pool,
                    result *r) {
  rowsum rs;
  double t0 = seconds();
  int rc = rowsum_build(&rs, in, rpt, 0, pool);
  double t1 = seconds();
  dusk_value v = {0};
  if (rc == 0 && dusk_compute(rs.g, rs.total, &v) != DUSK_OK) {
    fprintf(stderr, "bench_hdf5: %s\n", dusk_errmsg(rs.total));
    rc = 1;
  }
  double t2 = seconds();
  r->tasks = rs.tasks;
  r->total = v.f64;
  rowsum_free(&rs);
  double t3 = seconds();
  r->build_s = t1 - t0;
  r->compute_s = t2 - t1;
  r->free_s = t3 - t2;
  return rc;
}

static int run_seq(input *in, hsize_t rpt, result *r) {
  double t0 = seconds();
  int rc = sum_sequentially(in, rpt, &r->total, NULL);
  r->compute_s = seconds() - t0;
  r->tasks = block_count(in, rpt);
  return rc;
}

static int run_whole(const input *in, result *r) {
  double t0 = seconds();
  double *buf = doubles(in->rows, in->cols);
  int rc = buf != NULL && H5Dread(in->dset, H5T_NATIVE_DOUBLE, H5S_ALL,
                                  H5S_ALL, H5P_DEFAULT, buf) >= 0
               ? 0
               : -1;
  if (rc == 0)
    r->total = sum_rows(buf, in->rows, in->cols, NULL);
  free(buf);
  r->compute_s = seconds() - t0;
  r->tasks = 1;
  return rc;
}

int main(int argc, char **argv) {
  int warm = argc > 1 && strcmp(argv[1], "--warm") == 0;
  argv += warm;
  argc -= warm;
  long long limit = DEFAULT_LIMIT;
  if (argc > 2 && strcmp(argv[1], "--hdf5-limit") == 0) {
    limit = parse_count(argv[2], 0, INT_MAX);
    argv += 2;
    argc -= 2;
  }
  if (argc != 6) {
    fprintf(stderr, "usage: bench_hdf5 [--warm] [--hdf5-limit N] "
                    "dusk|seq|whole FILE DATASET ROWS_PER_TASK THREADS\n");
    return 2;
  }
  const char *mode = argv[1];
  long long rpt = parse_count(argv[4], 1, INT64_MAX);
  long long threads = parse_count(argv[5], 0, 1024);
  int is_dusk = strcmp(mode, "dusk") == 0;
  if (limit == DEFAULT_LIMIT && rpt > 0) /* none given: the example's */
    limit = default_limit((unsigned long long)rpt);
  if (rpt < 0 || threads < 0 || limit < 0 ||
      (!is_dusk && strcmp(mode, "seq") != 0 && strcmp(mode, "whole") != 0))
    return bad_input("bad arguments; run without any for the usage");
  /* As bench/harness.c does: keep freed memory for reuse, for every mode
     alike, so that the timed run does not pay for fresh pages. */
  if (getenv("BENCH_NO_MALLOPT") == NULL) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  input in = {.path = argv[2], .name = argv[3], .file = H5I_INVALID_HID,
              .dset = H5I_INVALID_HID, .rowsums = H5I_INVALID_HID};
  int rc = open_input(&in, 0);
  if (rc != 0)
    return rc;
  dusk_pool *pool = is_dusk ? start_pool((int)threads, (int)limit) : NULL;
  if (is_dusk && pool == NULL) {
    close_input(&in);
    return 1;
  }
  result r = {0};
  for (int run = warm ? 0 : 1; run < 2 && rc == 0; run++) {
    r = (result){0};
    rc = is_dusk ? run_dusk(&in, (hsize_t)rpt, pool, &r)
         : strcmp(mode, "seq") == 0 ? run_seq(&in, (hsize_t)rpt, &r)
                                    : run_whole(&in, &r);
  }
  double expect = 0;
  if (rc == 0 && is_dusk &&
      (sum_sequentially(&in, (hsize_t)rpt, &expect, NULL) != 0 ||
       expect != r.total)) {
    fprintf(stderr, "bench_hdf5: %s total %.17g, the sequential loop's "
                    "%.17g\n", mode, r.total, expect);
    rc = 1;
  }
  char name[32]; /* dusk-limitN: the limit the pool ran with */
  snprintf(name, sizeof name, is_dusk ? "%s-limit%d" : "%s", mode,
           is_dusk ? dusk_pool_limit(pool, HDF5_CLASS) : 0);
  if (rc == 0)
    printf("%s %ju %lld %d %zu %.0f %.0f %.0f %.17g\n", name,
           (uintmax_t)in.rows, rpt, is_dusk ? dusk_pool_size(pool) : 1,
           r.tasks, r.build_s * 1e9, r.compute_s * 1e9, r.free_s * 1e9,
           r.total);
  else
    fprintf(stderr, "bench_hdf5: %s failed\n", mode);
  dusk_pool_free(pool);
  close_input(&in);
  return rc == 0 ? 0 : 1;
}
