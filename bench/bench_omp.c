/*
** The five workloads as OpenMP tasks with `depend` clauses (gcc, libgomp).
**
** The idiom: one thread of a parallel region creates every task in a
** `single` block; each task names the result slots it reads (`in`) and the
** one it writes (`out`), and the runtime orders the tasks by those
** addresses. The slots live in one array per graph, so a task's node is its
** slot's address. The W1 and W5 sinks wait on all n slots with an OpenMP 5.0
** iterator in their depend clause, the only way to name a million
** predecessors in one task.
**
** Expect libgomp to run new tasks at once (undeferred) when too many are
** queued for the team: on one thread W1 and W3 then never hold the whole
** graph, which makes them fast; at two threads they are not (BENCH.md).
*/
#include "harness.h"

#include <omp.h>
#include <stdlib.h>

static int threads;

static int setup(const bench_case *c) {
  threads = c->threads;
  omp_set_dynamic(0);
  return 0;
}

static int64_t sum(const int64_t *v, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++)
    s += v[i];
  return s;
}

/* W1 and W5: n independent tasks, then one that sums their n slots. */
static int64_t fanin_of(const bench_case *c, int busy) {
  int64_t n = c->n, total = 0, *v = bench_xmalloc((uint64_t)n * sizeof *v);
#pragma omp parallel num_threads(threads)
#pragma omp single
  {
    for (int64_t i = 0; i < n; i++) {
#pragma omp task depend(out : v[i]) firstprivate(i)
      v[i] = busy ? bench_busy(i) : bench_fanin_leaf(i);
    }
#pragma omp task depend(iterator(k = 0 : n), in : v[k]) shared(total)
    total = sum(v, n);
  }
  free(v);
  return total;
}

static int64_t fanin(const bench_case *c) { return fanin_of(c, 0); }
static int64_t busy(const bench_case *c) { return fanin_of(c, 1); }

static int64_t chain(const bench_case *c) {
  int64_t n = c->n, *v = bench_xmalloc((uint64_t)n * sizeof *v);
#pragma omp parallel num_threads(threads)
#pragma omp single
  {
#pragma omp task depend(out : v[0])
    v[0] = 0;
    for (int64_t k = 1; k < n; k++) {
#pragma omp task depend(in : v[k - 1]) depend(out : v[k]) firstprivate(k)
      v[k] = v[k - 1] + 1;
    }
  }
  int64_t last = v[n - 1];
  free(v);
  return last;
}

/*
** Level by level, as in every program here: pairs (2j, 2j+1) of a level are
** added into a new slot; an odd last one moves up unchanged. `level` holds
** the slot of each element of the level being reduced.
*/
static int64_t tree(const bench_case *c) {
  int64_t n = c->n, len = n, used = n;
  int64_t *v = bench_xmalloc((uint64_t)(2 * n) * sizeof *v);
  int64_t **level = bench_xmalloc((uint64_t)n * sizeof *level);
#pragma omp parallel num_threads(threads)
#pragma omp single
  {
    for (int64_t i = 0; i < n; i++) {
      level[i] = &v[i];
#pragma omp task depend(out : v[i]) firstprivate(i)
      v[i] = i;
    }
    while (len > 1) {
      int64_t half = len / 2;
      for (int64_t j = 0; j < half; j++) {
        int64_t *a = level[2 * j], *b = level[2 * j + 1], *r = &v[used++];
#pragma omp task depend(in : a[0], b[0]) depend(out : r[0])
        *r = *a + *b;
        level[j] = r;
      }
      if (len & 1)
        level[half] = level[len - 1];
      len = half + (len & 1);
    }
  }
  int64_t root = *level[0];
  free(level);
  free(v);
  return root;
}

/* Each cell's task reads the cells above and to the left that exist. */
static int64_t wavefront(const bench_case *c) {
  int64_t s = c->side, *g = bench_xmalloc((uint64_t)(s * s) * sizeof *g);
#pragma omp parallel num_threads(threads)
#pragma omp single
  for (int64_t i = 0; i < s; i++) {
    for (int64_t j = 0; j < s; j++) {
      /* The neighbours' addresses exist only for the cells that have them. */
      int64_t *r = &g[i * s + j], *up = i ? r - s : r, *left = j ? r - 1 : r;
      if (i && j) {
#pragma omp task depend(in : up[0], left[0]) depend(out : r[0])
        *r = (*up > *left ? *up : *left) + 1;
      } else if (i) {
#pragma omp task depend(in : up[0]) depend(out : r[0])
        *r = *up + 1;
      } else if (j) {
#pragma omp task depend(in : left[0]) depend(out : r[0])
        *r = *left + 1;
      } else {
#pragma omp task depend(out : r[0])
        *r = 0;
      }
    }
  }
  int64_t last = g[s * s - 1];
  free(g);
  return last;
}

static const bench_runtime omp = {
    "omp", setup, NULL, {fanin, chain, tree, wavefront, busy}, 0};

int main(int argc, char **argv) { return bench_main(&omp, argc, argv); }
