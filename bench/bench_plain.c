/*
** The limits: the five workloads as plain sequential loops, no runtime.
**
** Two forms, each on one thread whatever THREADS says (but see W5 below):
**
**   default    direct calls. Each task is a function that the compiler may
**              not inline, called in a loop in dependency order; its result
**              goes to a slot of one preallocated array. This is the cost of
**              the work itself plus a call and a store: no runtime can beat
**              it on one thread.
**   --malloc   one malloc per node. The graph is built first as nodes that
**              hold a function pointer, a parameter, their argument nodes and
**              their result, then run in creation order (which is a
**              topological order), then freed node by node. This is about the
**              least a runtime that materializes the graph has to do.
*/
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* ------------------------------------------------------------ the tasks */

NOINLINE static int64_t leaf(int64_t i) { return bench_fanin_leaf(i); }
NOINLINE static int64_t ident(int64_t i) { return i; }
NOINLINE static int64_t zero(void) { return 0; }
NOINLINE static int64_t inc(int64_t x) { return x + 1; }
NOINLINE static int64_t add(int64_t a, int64_t b) { return a + b; }
NOINLINE static int64_t busy(int64_t i) { return bench_busy(i); }

NOINLINE static int64_t sum(const int64_t *v, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++)
    s += v[i];
  return s;
}

/* A missing neighbour is -1, so (0,0) returns 0 and an edge cell 1 + its one
   neighbour. */
NOINLINE static int64_t wave(int64_t up, int64_t left) {
  return (up > left ? up : left) + 1;
}

/* ------------------------------------------------------- direct calls */

static int64_t direct_fanin(const bench_case *c) {
  int64_t n = c->n, *v = bench_xmalloc((uint64_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = leaf(i);
  int64_t s = sum(v, n);
  free(v);
  return s;
}

static int64_t direct_chain(const bench_case *c) {
  int64_t n = c->n, *v = bench_xmalloc((uint64_t)n * sizeof *v);
  v[0] = zero();
  for (int64_t k = 1; k < n; k++)
    v[k] = inc(v[k - 1]);
  int64_t last = v[n - 1];
  free(v);
  return last;
}

/*
** Level by level: pairs (2j, 2j+1) of a level are added into the next; an
** odd last element moves up unchanged. n leaves make n-1 additions.
*/
static int64_t direct_tree(const bench_case *c) {
  int64_t n = c->n, *v = bench_xmalloc((uint64_t)(2 * n + 64) * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = ident(i);
  int64_t start = 0, len = n;
  while (len > 1) {
    int64_t next = start + len, half = len / 2;
    for (int64_t j = 0; j < half; j++)
      v[next + j] = add(v[start + 2 * j], v[start + 2 * j + 1]);
    if (len & 1)
      v[next + half] = v[start + len - 1];
    start = next;
    len = half + (len & 1);
  }
  int64_t root = v[start];
  free(v);
  return root;
}

static int64_t direct_wavefront(const bench_case *c) {
  int64_t s = c->side, *g = bench_xmalloc((uint64_t)(s * s) * sizeof *g);
  for (int64_t i = 0; i < s; i++)
    for (int64_t j = 0; j < s; j++)
      g[i * s + j] = wave(i ? g[(i - 1) * s + j] : -1, j ? g[i * s + j - 1] : -1);
  int64_t last = g[s * s - 1];
  free(g);
  return last;
}

/* W5's share of one thread: tasks [lo, hi). */
typedef struct share {
  int64_t *v, lo, hi;
  pthread_t thread;
} share;

static void *busy_share(void *arg) {
  share *sh = arg;
  for (int64_t i = sh->lo; i < sh->hi; i++)
    sh->v[i] = busy(i);
  return NULL;
}

/*
** W5 is the one workload that the plain loop also runs on THREADS threads:
** the tasks split into equal contiguous shares, one per thread, the main
** thread taking the first. No runtime can beat this split on equal tasks,
** so its speedup is what the machine allows at that moment, the yardstick
** for the runtimes' W5 speedups on a shared machine.
*/
static int64_t direct_busy(const bench_case *c) {
  int64_t n = c->n, *v = bench_xmalloc((uint64_t)n * sizeof *v);
  int t = c->threads;
  share *sh = bench_xmalloc((uint64_t)t * sizeof *sh);
  for (int k = 0; k < t; k++) {
    sh[k] = (share){v, n * k / t, n * (k + 1) / t, 0};
    if (k && pthread_create(&sh[k].thread, NULL, busy_share, &sh[k]))
      bench_die("pthread_create failed");
  }
  busy_share(&sh[0]);
  for (int k = 1; k < t; k++)
    pthread_join(sh[k].thread, NULL);
  int64_t s = sum(v, n);
  free(sh);
  free(v);
  return s;
}

/* --------------------------------------------------- one malloc per node */

typedef struct pnode pnode;
typedef int64_t (*pfn)(pnode *const *args, int64_t nargs, int64_t param);

struct pnode {
  pfn fn;
  int64_t param; /* the task's own input, such as the leaf's index */
  int64_t value;
  int64_t nargs;
  pnode *args[]; /* the argument nodes, in order */
};

/* A graph: its nodes in creation order, which is a topological order. */
typedef struct pgraph {
  pnode **nodes;
  int64_t len;
} pgraph;

static void pgraph_init(pgraph *g, int64_t tasks) {
  g->nodes = bench_xmalloc((uint64_t)tasks * sizeof *g->nodes);
  g->len = 0;
}

static pnode *pnode_new(pgraph *g, pfn fn, int64_t param, int64_t nargs,
                        pnode *const *args) {
  pnode *p = bench_xmalloc(sizeof *p + (uint64_t)nargs * sizeof *args);
  p->fn = fn;
  p->param = param;
  p->nargs = nargs;
  if (nargs)
    memcpy(p->args, args, (size_t)nargs * sizeof *args);
  g->nodes[g->len++] = p;
  return p;
}

/* Build done; run every node in order, free them, return the last value. */
static int64_t pgraph_run_free(pgraph *g) {
  bench_lap(BENCH_LAP_BUILT);
  for (int64_t k = 0; k < g->len; k++) {
    pnode *p = g->nodes[k];
    p->value = p->fn(p->args, p->nargs, p->param);
  }
  int64_t last = g->nodes[g->len - 1]->value;
  bench_lap(BENCH_LAP_RAN);
  for (int64_t k = 0; k < g->len; k++)
    free(g->nodes[k]);
  free(g->nodes);
  return last;
}

static int64_t p_leaf(pnode *const *a, int64_t na, int64_t i) {
  (void)a, (void)na;
  return bench_fanin_leaf(i);
}
static int64_t p_ident(pnode *const *a, int64_t na, int64_t i) {
  (void)a, (void)na;
  return i;
}
static int64_t p_busy(pnode *const *a, int64_t na, int64_t i) {
  (void)a, (void)na;
  return bench_busy(i);
}
static int64_t p_sum(pnode *const *a, int64_t na, int64_t unused) {
  int64_t s = 0;
  (void)unused;
  for (int64_t i = 0; i < na; i++)
    s += a[i]->value;
  return s;
}
/* The chain's first task (no argument) returns 0, every other one x + 1. */
static int64_t p_inc(pnode *const *a, int64_t na, int64_t unused) {
  (void)unused;
  return na ? a[0]->value + 1 : 0;
}
/* Zero to two neighbours: the larger plus 1; (0,0) returns 0. */
static int64_t p_wave(pnode *const *a, int64_t na, int64_t unused) {
  int64_t m = -1;
  (void)unused;
  for (int64_t i = 0; i < na; i++)
    if (a[i]->value > m)
      m = a[i]->value;
  return m + 1;
}

/* W1 and W5: n independent nodes and a sink that takes them all. */
static int64_t malloc_fanin_of(const bench_case *c, pfn task) {
  pgraph g;
  pgraph_init(&g, c->tasks);
  for (int64_t i = 0; i < c->n; i++)
    pnode_new(&g, task, i, 0, NULL);
  pnode_new(&g, p_sum, 0, c->n, g.nodes);
  return pgraph_run_free(&g);
}

static int64_t malloc_fanin(const bench_case *c) {
  return malloc_fanin_of(c, p_leaf);
}

static int64_t malloc_busy(const bench_case *c) {
  return malloc_fanin_of(c, p_busy);
}

static int64_t malloc_chain(const bench_case *c) {
  pgraph g;
  pgraph_init(&g, c->tasks);
  pnode *prev = pnode_new(&g, p_inc, 0, 0, NULL);
  for (int64_t k = 1; k < c->n; k++)
    prev = pnode_new(&g, p_inc, 0, 1, &prev);
  return pgraph_run_free(&g);
}

static int64_t malloc_tree(const bench_case *c) {
  pgraph g;
  int64_t len = c->n;
  pnode **level = bench_xmalloc((uint64_t)len * sizeof *level);
  pgraph_init(&g, c->tasks);
  for (int64_t i = 0; i < len; i++)
    level[i] = pnode_new(&g, p_ident, i, 0, NULL);
  while (len > 1) {
    int64_t half = len / 2;
    for (int64_t j = 0; j < half; j++)
      level[j] = pnode_new(&g, p_sum, 0, 2, level + 2 * j);
    if (len & 1)
      level[half] = level[len - 1];
    len = half + (len & 1);
  }
  free(level);
  return pgraph_run_free(&g);
}

static int64_t malloc_wavefront(const bench_case *c) {
  pgraph g;
  int64_t s = c->side;
  pgraph_init(&g, c->tasks);
  for (int64_t i = 0; i < s; i++) {
    for (int64_t j = 0; j < s; j++) {
      pnode *in[2];
      int64_t na = 0;
      if (i)
        in[na++] = g.nodes[(i - 1) * s + j];
      if (j)
        in[na++] = g.nodes[i * s + j - 1];
      pnode_new(&g, p_wave, 0, na, in);
    }
  }
  return pgraph_run_free(&g);
}

/* ------------------------------------------------------------------ main */

static const bench_runtime plain = {
    "plain", NULL, NULL,
    {direct_fanin, direct_chain, direct_tree, direct_wavefront, direct_busy}, 0};

static const bench_runtime plain_malloc = {
    "plain-malloc", NULL, NULL,
    {malloc_fanin, malloc_chain, malloc_tree, malloc_wavefront, malloc_busy}, 0};

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--malloc"))
      return bench_main(&plain_malloc, argc, argv);
  return bench_main(&plain, argc, argv);
}
