/*
** Written only from dusk.h and DESIGN.md's contract: checks, against the
** installed library, that a graph is lazy, runs a diamond's shared part once,
** keeps the requested result, and names a failed node. Exit 0 when all hold.
*/
#include <dusk.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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
  const char *m = dusk_errmsg(after);
  bad |= !m || !strstr(m, "broken") || !strstr(m, "no such file");
  printf("%s: %s\n", bad ? "FAILED" : "ok", m ? m : "(no message)");
  dusk_graph_free(g);
  return bad;
}
