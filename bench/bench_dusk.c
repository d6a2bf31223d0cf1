/*
** The five workloads with dusk, written as a user would write them.
**
** Values flow as arguments: W2's task k is dusk_delayed(g, inc, prev), W3's
** inner task dusk_delayed(g, add, left, right), W4's cell
** dusk_delayed(g, wave, up, left), the W1 and W5 sinks one call with all n
** nodes as arguments. A task's own parameter, such as a leaf's index, rides
** in udata (dusk_call), which costs no node; with --literal (printed as
** dusk-literal) it is instead a dusk_literal() node passed as the task's
** argument, as dask.delayed(f)(i) would have it, one more node per leaf.
** Each run makes a graph on a pool of THREADS workers made once per process
** (outside the timing), builds, computes the last node, reads its answer
** and frees the graph; the timing covers all of that. With --phases
** (printed as dusk-phases) statistics are on, and the result line splits
** the compute into dusk's own phases: prepare, run, settle.
*/
#include "dusk.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static dusk_pool *pool;

static int setup(const bench_case *c) {
  if (c->variant == 2) /* --phases: the compute's own phase times */
    dusk_set_stats(1, NULL);
  pool = dusk_pool_new(c->threads);
  if (!pool)
    bench_die("dusk_pool_new(%d): %s", c->threads,
              dusk_strerror(dusk_last_error(NULL)));
  return 0;
}

static void teardown(void) { dusk_pool_free(pool); }

/* ------------------------------------------------------------ the tasks */

/* The task's parameter: its literal argument, else its udata. */
static int64_t index_of(dusk_task *t, const dusk_value *args, int nargs) {
  return nargs ? args[0].i64 : (int64_t)(intptr_t)dusk_task_udata(t);
}

static void *as_udata(int64_t i) { return (void *)(intptr_t)i; }

static int leaf(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  *out = dusk_i64(bench_fanin_leaf(index_of(t, args, nargs)));
  return 0;
}

static int ident(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  *out = dusk_i64(index_of(t, args, nargs));
  return 0;
}

static int busy(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  *out = dusk_i64(bench_busy(index_of(t, args, nargs)));
  return 0;
}

static int sum(dusk_task *t, const dusk_value *args, int nargs,
               dusk_value *out) {
  int64_t s = 0;
  (void)t;
  for (int i = 0; i < nargs; i++)
    s += args[i].i64;
  *out = dusk_i64(s);
  return 0;
}

static int zero(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  (void)t, (void)args, (void)nargs;
  *out = dusk_i64(0);
  return 0;
}

static int inc(dusk_task *t, const dusk_value *args, int nargs,
               dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(args[0].i64 + 1);
  return 0;
}

static int add(dusk_task *t, const dusk_value *args, int nargs,
               dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(args[0].i64 + args[1].i64);
  return 0;
}

/* The larger of the neighbours that exist, plus 1; (0,0) has none: 0. */
static int wave(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  int64_t m = -1;
  (void)t;
  for (int i = 0; i < nargs; i++)
    if (args[i].i64 > m)
      m = args[i].i64;
  *out = dusk_i64(m + 1);
  return 0;
}

/* ------------------------------------------------------------- helpers */

static dusk_graph *new_graph(void) {
  dusk_graph *g = dusk_graph_new();
  if (!g)
    bench_die("dusk_graph_new: %s", dusk_strerror(dusk_last_error(NULL)));
  dusk_graph_set_pool(g, pool);
  return g;
}

/* A node a build call returned, or the end of the benchmark. */
static dusk_node *must(dusk_node *n) {
  const char *msg;
  if (!n) {
    int rc = dusk_last_error(&msg);
    bench_die("building: %s: %s", dusk_strerror(rc), msg);
  }
  return n;
}

/* Compute `root`, read its answer, free the graph. */
static int64_t compute_free(dusk_graph *g, dusk_node *root) {
  dusk_value v;
  bench_lap(BENCH_LAP_BUILT);
  int rc = dusk_compute(g, root, &v);
  if (rc != DUSK_OK)
    bench_die("dusk_compute: %s: %s", dusk_strerror(rc),
              dusk_errmsg(root) ? dusk_errmsg(root) : "");
  if (v.kind != DUSK_I64)
    bench_die("dusk_compute: the result is not an int64 (kind %d)", v.kind);
  int64_t answer = v.i64;
  bench_lap(BENCH_LAP_RAN);
  dusk_stats st;
  if (dusk_graph_stats(g, &st) == DUSK_OK)
    bench_lap_split(st.prepare_s * 1e9, st.run_s * 1e9, st.settle_s * 1e9);
  dusk_graph_free(g);
  return answer;
}

/* ----------------------------------------------------------- workloads */

/*
** A task with its own parameter i: in udata, or, with --literal, as the
** argument of a literal node made for it, the way dask.delayed(f)(i) reads.
*/
static dusk_node *indexed(dusk_graph *g, const bench_case *c, dusk_fn fn,
                          int64_t i) {
  if (c->variant != 1)
    return must(dusk_call(g, fn, as_udata(i), 0, NULL));
  dusk_node *arg = must(dusk_literal(g, dusk_i64(i)));
  return must(dusk_call(g, fn, NULL, 1, &arg));
}

/* W1 and W5: n independent calls and one call that takes them all. */
static int64_t fanin_of(const bench_case *c, dusk_fn task) {
  dusk_graph *g = new_graph();
  dusk_node **parts = bench_xmalloc((uint64_t)c->n * sizeof *parts);
  for (int64_t i = 0; i < c->n; i++)
    parts[i] = indexed(g, c, task, i);
  dusk_node *total =
      must(dusk_call_named(g, "sum", sum, NULL, (int)c->n, parts));
  free(parts);
  return compute_free(g, total);
}

static int64_t fanin(const bench_case *c) { return fanin_of(c, leaf); }
static int64_t busy_all(const bench_case *c) { return fanin_of(c, busy); }

static int64_t chain(const bench_case *c) {
  dusk_graph *g = new_graph();
  dusk_node *prev = must(dusk_delayed(g, zero));
  for (int64_t k = 1; k < c->n; k++)
    prev = must(dusk_delayed(g, inc, prev));
  return compute_free(g, prev);
}

/*
** Level by level, as in every program here: pairs (2j, 2j+1) of a level are
** added by a new call; an odd last one moves up unchanged.
*/
static int64_t tree(const bench_case *c) {
  dusk_graph *g = new_graph();
  int64_t len = c->n;
  dusk_node **level = bench_xmalloc((uint64_t)len * sizeof *level);
  for (int64_t i = 0; i < len; i++)
    level[i] = indexed(g, c, ident, i);
  while (len > 1) {
    int64_t half = len / 2;
    for (int64_t j = 0; j < half; j++)
      level[j] = must(dusk_delayed(g, add, level[2 * j], level[2 * j + 1]));
    if (len & 1)
      level[half] = level[len - 1];
    len = half + (len & 1);
  }
  dusk_node *root = level[0];
  free(level);
  return compute_free(g, root);
}

static int64_t wavefront(const bench_case *c) {
  dusk_graph *g = new_graph();
  int64_t s = c->side;
  dusk_node **cell = bench_xmalloc((uint64_t)(s * s) * sizeof *cell);
  for (int64_t i = 0; i < s; i++) {
    for (int64_t j = 0; j < s; j++) {
      dusk_node **r = &cell[i * s + j];
      if (i && j)
        *r = dusk_delayed(g, wave, r[-s], r[-1]);
      else if (i)
        *r = dusk_delayed(g, wave, r[-s]);
      else if (j)
        *r = dusk_delayed(g, wave, r[-1]);
      else
        *r = dusk_delayed(g, wave);
      must(*r);
    }
  }
  dusk_node *last = cell[s * s - 1];
  free(cell);
  return compute_free(g, last);
}

int main(int argc, char **argv) {
  static const bench_runtime rt = {
      "dusk", setup, teardown, {fanin, chain, tree, wavefront, busy_all}, 0};
  static const bench_runtime literal = {
      "dusk-literal", setup, teardown, {fanin, chain, tree, wavefront, busy_all}, 0};
  static const bench_runtime phases = {
      "dusk-phases", setup, teardown, {fanin, chain, tree, wavefront, busy_all}, 0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--literal"))
      return bench_main(&literal, argc, argv);
    if (!strcmp(argv[i], "--phases"))
      return bench_main(&phases, argc, argv);
  }
  return bench_main(&rt, argc, argv);
}
