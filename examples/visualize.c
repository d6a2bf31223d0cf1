/*
** visualize: look at a graph, as dask's visualize() shows one.
**
** The graph has the shape of a row sum: one task per row of a matrix,
** "load-i", reads row i (its index is a literal) and sums it; a tree of
** "add" nodes adds the row sums two by two; "total" is the answer.
**
**     0 -> load-0 \
**                   add \
**     1 -> load-1 /      \
**                         add -> total
**     2 -> load-2 \      /
**                   add /
**     3 -> load-3 /
**
** It computes it with statistics on (dusk_set_stats()) and a trace, prints
** what the compute did and where its time went, and draws it:
**
**   graph.dot         the DOT text (dusk_visualize() with a .dot name, or
**                     dusk_write_dot() to any FILE *)
**   graph.svg         drawn by graphviz's `dot`, when it is installed
**   graph-durations.dot, .svg
**                     the same, each task labelled with how long it took
**   trace.json        every task on a track per worker, with arrows along
**                     the dependencies: open it in https://ui.perfetto.dev
**                     or chrome://tracing
**   graph-large.svg   the same shape with 20,000 rows: too large to draw
**                     node by node, so it is collapsed into one node per
**                     kind of node ("load ×20000") with their states and
**                     the total and mean time of each kind
**
** Colours: boxes are literals; green is "done" (ran; its result already
** freed because nothing needs it any more), dark green "kept" (the result
** you asked for, held until dusk_release()), red "failed", orange "not run"
** (because of a failure), white "idle" (never computed).
**
** Usage: visualize [rows]   (default 8)
*/
#include "dusk.h"

#include <stdio.h>
#include <stdlib.h>

enum { COLS = 1000 };

/* ============================================================== work */

/* Row i of the matrix a[i][j] = (31 i + 17 j) mod 101, summed. */
static int64_t row_sum(int64_t i) {
  int64_t s = 0;
  for (int64_t j = 0; j < COLS; j++)
    s += (31 * i + 17 * j) % 101;
  return s;
}

/* ============================================================== tasks */

static int load(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(row_sum(args[0].i64));
  return 0;
}

static int add(dusk_task *t, const dusk_value *args, int nargs,
               dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(args[0].i64 + args[1].i64);
  return 0;
}

static int total(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t, (void)nargs;
  *out = args[0];
  return 0;
}

/* ============================================================== graph */

/* The row sum of `rows` rows; NULL when out of memory. */
static dusk_node *build(dusk_graph *g, int rows) {
  dusk_node **level = malloc((size_t)rows * sizeof *level);
  if (level == NULL)
    return NULL;
  for (int i = 0; i < rows; i++) {
    dusk_node *index = dusk_literal(g, dusk_i64(i));
    level[i] = dusk_delayed(g, load, index); /* NULL if index is NULL */
    dusk_set_name(level[i], "load-%d", i);
  }
  /* Add neighbours until one node is left; an odd one out moves up. */
  for (int n = rows; n > 1; n = (n + 1) / 2)
    for (int i = 0; i < n; i += 2)
      level[i / 2] = i + 1 < n ? dusk_delayed(g, add, level[i], level[i + 1])
                               : level[i];
  dusk_node *answer = dusk_delayed(g, total, level[0]);
  free(level);
  return answer;
}

/* Draw the graph into path; a missing or failing `dot` is not fatal. */
static int draw(dusk_graph *g, dusk_node *answer, const char *path,
                const dusk_dot_options *opt) {
  int rc = dusk_visualize_opt(g, &answer, 1, path, opt);
  const char *why = NULL;
  dusk_last_error(&why);
  if (rc == DUSK_OK) {
    printf("wrote %s\n", path);
    return 0;
  }
  if (rc == DUSK_EIO) { /* no graphviz, or it failed: say so, go on */
    printf("did not write %s: %s\n", path, why);
    return 0;
  }
  fprintf(stderr, "visualize: %s: %s\n", path, why);
  return 1;
}

/* Print what the last compute of g did. */
static void report(dusk_graph *g) {
  dusk_stats s;
  if (dusk_graph_stats(g, &s) == DUSK_OK)
    dusk_stats_print(&s, stdout);
}

/*
** Build, compute and check the row sum of `rows` rows, tracing the compute
** into `trace` (unless NULL), then draw it: paths[i] plain, then
** timed[i] with durations.
*/
static int run(int rows, const char *trace, const char *const *paths,
               const char *const *timed, int npaths) {
  dusk_graph *g = dusk_graph_new();
  dusk_node *answer = g != NULL ? build(g, rows) : NULL;
  if (answer == NULL) {
    fprintf(stderr, "visualize: building: %s\n",
            dusk_strerror(dusk_last_error(NULL)));
    dusk_graph_free(g);
    return 1;
  }
  if (trace && dusk_trace_start_flags(trace, DUSK_TRACE_FLOWS) != DUSK_OK)
    printf("did not write %s: %s\n", trace,
           dusk_strerror(dusk_last_error(NULL)));
  dusk_value v;
  int rc = dusk_compute(g, answer, &v);
  if (trace && dusk_trace_stop() == DUSK_OK)
    printf("wrote %s\n", trace);
  if (rc != DUSK_OK) {
    fprintf(stderr, "visualize: %s\n", dusk_errmsg(answer));
    dusk_graph_free(g);
    return 1;
  }
  int64_t expect = 0;
  for (int i = 0; i < rows; i++)
    expect += row_sum(i);
  printf("%d rows, %zu nodes: total %lld (%s)\n", rows, dusk_graph_size(g),
         (long long)v.i64, v.i64 == expect ? "ok" : "WRONG");
  report(g);
  int failed = v.i64 != expect;
  dusk_dot_options durations = {.durations = 1};
  for (int i = 0; i < npaths; i++) {
    failed |= draw(g, answer, paths[i], NULL);
    failed |= draw(g, answer, timed[i], &durations);
  }
  dusk_graph_free(g);
  return failed;
}

int main(int argc, char **argv) {
  int rows = argc > 1 ? atoi(argv[1]) : 8;
  if (rows < 1) {
    fprintf(stderr, "usage: visualize [rows]   (rows >= 1)\n");
    return 2;
  }
  static const char *const small[] = {"graph.dot", "graph.svg"};
  static const char *const small_timed[] = {"graph-durations.dot",
                                            "graph-durations.svg"};
  static const char *const large[] = {"graph-large.dot", "graph-large.svg"};
  static const char *const large_timed[] = {"graph-large-durations.dot",
                                            "graph-large-durations.svg"};
  dusk_set_stats(1, NULL); /* DUSK_STATS=1 would also log each compute */
  int failed = run(rows, "trace.json", small, small_timed, 2);
  failed |= run(20000, NULL, large, large_timed, 2);
  return failed ? 1 : 0;
}
