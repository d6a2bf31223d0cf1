/*
** Written only from dusk.h and DESIGN.md's contract: checks, against the
** installed library, that a graph is lazy, runs a diamond's shared part once,
** keeps the requested result, names a failed node, computes from inside a
** task on a one-thread pool, shares work between threads computing at once,
** and handles a chain of a million nodes and a graph of ten million within
** 2 GB. Exit 0 when all hold.
*/
#include <dusk.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static atomic_int runs;

static int one(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n;
  atomic_fetch_add(&runs, 1);
  *out = dusk_i64(1);
  return 0;
}

static int add(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < n; i++)
    s += a[i].i64;
  atomic_fetch_add(&runs, 1);
  *out = dusk_i64(s);
  return 0;
}

static int broken(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n, (void)out;
  return dusk_fail(t, "no such file: %s", "x.h5");
}

static int inc(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  *out = dusk_i64(n ? a[0].i64 + 1 : 0);
  return 0;
}

/* A task that builds and computes a graph of its own. */
static int nested(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n;
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *x = dusk_delayed(g, inc);
  dusk_node *y = dusk_delayed(g, inc, x);
  dusk_value v;
  int rc = dusk_compute(g, y, &v);
  *out = dusk_i64(v.i64);
  return rc;
}

typedef struct shared {
  dusk_graph *g;
  dusk_node *top;
  int64_t got;
} shared;

static void *compute_thread(void *arg) {
  shared *s = arg;
  dusk_value v;
  s->got = dusk_compute(s->g, s->top, &v) == DUSK_OK ? v.i64 : -1;
  return NULL;
}

static int big_graphs(void) {
  int bad = 0;
  dusk_graph *g = dusk_graph_new();
  dusk_node *c = dusk_delayed(g, inc);
  for (int i = 1; i < 1000000; i++)
    c = dusk_delayed(g, inc, c);
  dusk_value v;
  bad |= dusk_compute(g, c, &v) != DUSK_OK || v.i64 != 999999;
  dusk_graph_free(g);
  g = dusk_graph_new();
  dusk_node *lit = dusk_literal(g, dusk_i64(1));
  for (int i = 0; i < 10000000 && !bad; i++)
    bad |= !dusk_delayed(g, inc, lit);
  bad |= dusk_graph_size(g) != 10000001;
  dusk_graph_free(g);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("chain of 1e6 and 1e7 nodes: peak RSS %ld MB\n", ru.ru_maxrss / 1024);
  return bad | (ru.ru_maxrss > 2L * 1024 * 1024);
}

int main(void) {
  int bad = 0;
  dusk_graph *g = dusk_graph_new();
  dusk_node *s = dusk_delayed(g, one);
  dusk_node *l = dusk_delayed(g, add, s), *r = dusk_delayed(g, add, s, s);
  dusk_node *top = dusk_delayed(g, add, l, r);
  bad |= atomic_load(&runs) != 0; /* lazy */
  dusk_value v;
  bad |= dusk_compute(g, top, &v) != DUSK_OK || v.i64 != 3;
  bad |= atomic_load(&runs) != 4; /* the shared one ran once */
  bad |= dusk_compute(g, top, &v) != DUSK_OK || atomic_load(&runs) != 4;
  dusk_node *f = dusk_delayed(g, broken), *after = dusk_delayed(g, add, f);
  bad |= dusk_compute(g, after, &v) != DUSK_ETASK;
  char m[256];
  snprintf(m, sizeof m, "%s", dusk_errmsg(after) ? dusk_errmsg(after) : "");
  bad |= !strstr(m, "broken") || !strstr(m, "no such file");
  dusk_graph_free(g);

  /* Nested compute on one thread; two threads computing one graph. */
  dusk_pool *solo = dusk_pool_new(1);
  g = dusk_graph_new();
  dusk_graph_set_pool(g, solo);
  dusk_node *nest = dusk_delayed(g, nested);
  bad |= dusk_compute(g, nest, &v) != DUSK_OK || v.i64 != 1;
  atomic_store(&runs, 0);
  s = dusk_delayed(g, one);
  dusk_node *top2 = dusk_delayed(g, add, dusk_delayed(g, add, s), s);
  shared sh[2] = {{g, top2, 0}, {g, top2, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, compute_thread, &sh[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  bad |= sh[0].got != 2 || sh[1].got != 2 || atomic_load(&runs) != 3;
  dusk_graph_free(g);
  dusk_pool_free(solo);

  bad |= big_graphs();
  printf("%s: %s\n", bad ? "FAILED" : "ok", m);
  return bad;
}
