/*
** test_compute: the semantics of DESIGN.md, proved through the public API.
**
** One TCase per semantic (lazy, once, order, memory, results, errors,
** nested, threads, scale, idle, num_threads) and per group of header
** promises (values, nodes, tasks, pools). Each test names the behaviour it
** proves and is built so that it fails when that behaviour is broken: run
** counters show what ran, tickets taken at the start and end of each task
** show the order, counted boxes (testutil.h) show when each result was
** freed, and getrusage() shows memory and CPU.
**
** Tasks run on worker threads and never assert: they record into atomics,
** and the test thread asserts afterwards. Pools are made inside each test.
** Sizes shrink by DUSK_TEST_SCALE (0.1 by default in sanitizer builds).
*/
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dusk.h"
#include "testutil.h"

/* ====================================================== common tasks */

/*
** The generic task: udata is an atomic_int run counter or NULL. Result:
** 1 + the sum of its arguments, as a DUSK_I64.
*/
static int t_count(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += (uint64_t)tu_get(&args[i]);
  *out = dusk_i64((int64_t)s);
  return 0;
}

/* t_count with the result in a counted box. */
static int t_box(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += (uint64_t)tu_get(&args[i]);
  *out = tu_box_new((int64_t)s);
  return 0;
}

/* x + 1 for a chain; no bookkeeping, so that large graphs stay cheap. */
static int t_inc(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  *out = dusk_i64(nargs > 0 ? args[0].i64 + 1 : 0);
  return 0;
}

/*
** A task with full bookkeeping: udata is a tn. It takes a ticket when it
** starts and one when it ends (one global clock), counts its runs, and
** returns 1 + the sum of its arguments, boxed when tn.boxed.
*/
static atomic_long g_ticket;

typedef struct tn {
  atomic_int runs;
  atomic_long start; /* ticket at the last start, 0: never */
  atomic_long end;   /* ticket at the last end               */
  int boxed;
} tn;

static int t_node(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  tn *me = dusk_task_udata(t);
  atomic_store(&me->start, atomic_fetch_add(&g_ticket, 1) + 1);
  atomic_fetch_add(&me->runs, 1);
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += (uint64_t)tu_get(&args[i]);
  *out = me->boxed ? tu_box_new((int64_t)s) : dusk_i64((int64_t)s);
  atomic_store(&me->end, atomic_fetch_add(&g_ticket, 1) + 1);
  return 0;
}

/* A task that always fails with a message naming its udata (an int). */
static int t_kaboom(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  intptr_t k = (intptr_t)dusk_task_udata(t);
  return dusk_fail(t, "kaboom %d", (int)k);
}

/* No box freed twice or read after its free; the arena was big enough. A
   macro, so that a failure reports the caller's line. */
#define assert_boxes_clean()                                                  \
  do {                                                                        \
    ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);                            \
    ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);                           \
    ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);                             \
  } while (0)

/* ====================================================== random DAGs */

/*
** A DAG of t_node calls: node i takes up to maxargs earlier nodes, half of
** the time from the last 16 (deep) and otherwise from anywhere (wide).
** expect[i] is what node i must compute, evaluated here in plain C.
*/
#define DAG_MAXARGS 6
typedef struct dag {
  int n;
  dusk_node **node;
  tn *info;
  int *nargs;
  int (*arg)[DAG_MAXARGS];
  uint64_t *expect;
  char *has_consumer;
} dag;

static void dag_build(dag *d, dusk_graph *g, int n, int maxargs, int boxed,
                      uint64_t seed) {
  d->n = n;
  d->node = calloc((size_t)n, sizeof *d->node);
  d->info = calloc((size_t)n, sizeof *d->info);
  d->nargs = calloc((size_t)n, sizeof *d->nargs);
  d->arg = calloc((size_t)n, sizeof *d->arg);
  d->expect = calloc((size_t)n, sizeof *d->expect);
  d->has_consumer = calloc((size_t)n, 1);
  ck_assert(d->node && d->info && d->nargs && d->arg && d->expect &&
            d->has_consumer);
  uint64_t rs = seed;
  for (int i = 0; i < n; i++) {
    int k = i == 0 ? 0 : tu_rand_below(&rs, (i < maxargs ? i : maxargs) + 1);
    dusk_node *args[DAG_MAXARGS];
    uint64_t s = 1;
    for (int j = 0; j < k; j++) {
      int a = tu_rand_below(&rs, 2) == 0 && i > 16
                  ? i - 1 - tu_rand_below(&rs, 16)
                  : tu_rand_below(&rs, i);
      d->arg[i][j] = a;
      args[j] = d->node[a];
      s += d->expect[a];
      d->has_consumer[a] = 1;
    }
    d->nargs[i] = k;
    d->expect[i] = s;
    d->info[i].boxed = boxed;
    d->node[i] = dusk_call(g, t_node, &d->info[i], k, args);
    ck_assert_ptr_nonnull(d->node[i]);
  }
}

static void dag_free(dag *d) {
  free(d->node);
  free(d->info);
  free(d->nargs);
  free(d->arg);
  free(d->expect);
  free(d->has_consumer);
}

/* mark[i] = 1 for the targets and everything they need. */
static void dag_needed(const dag *d, const char *target, char *mark) {
  memset(mark, 0, (size_t)d->n);
  for (int i = d->n - 1; i >= 0; i--) {
    if (target[i])
      mark[i] = 1;
    if (mark[i])
      for (int j = 0; j < d->nargs[i]; j++)
        mark[d->arg[i][j]] = 1;
  }
}

/* ====================================================== values */

static atomic_int g_plain_frees;
static void plain_free(void *p) {
  atomic_fetch_add(&g_plain_frees, 1);
  free(p);
}

START_TEST(test_values_constructors) {
  dusk_value a = dusk_i64(-42);
  ck_assert_int_eq(a.kind, DUSK_I64);
  ck_assert_int_eq(a.i64, -42);
  ck_assert(a.free == NULL);
  dusk_value b = dusk_f64(2.5);
  ck_assert_int_eq(b.kind, DUSK_F64);
  ck_assert(b.f64 == 2.5);
  ck_assert(b.free == NULL);
  int x = 0;
  dusk_value c = dusk_ptr(&x, sizeof x, NULL);
  ck_assert_int_eq(c.kind, DUSK_PTR);
  ck_assert_ptr_eq(c.ptr, &x);
  ck_assert_uint_eq(c.size, sizeof x);
  ck_assert(c.free == NULL);
}
END_TEST

START_TEST(test_values_clear_frees_once) {
  atomic_store(&g_plain_frees, 0);
  dusk_value v = dusk_ptr(malloc(16), 16, plain_free);
  ck_assert(v.free == plain_free);
  dusk_value_clear(&v);
  ck_assert_int_eq(tu_ldi(&g_plain_frees), 1);
  ck_assert_int_eq(v.kind, DUSK_NONE);
  dusk_value_clear(&v); /* now NONE: nothing to release */
  ck_assert_int_eq(tu_ldi(&g_plain_frees), 1);
  dusk_value_clear(NULL);
  dusk_value i = dusk_i64(3);
  dusk_value_clear(&i);
  ck_assert_int_eq(i.kind, DUSK_NONE);
  ck_assert_int_eq(tu_ldi(&g_plain_frees), 1);
}
END_TEST

START_TEST(test_values_strerror) {
  int codes[] = {DUSK_OK,        DUSK_EINVAL,    DUSK_ENOMEM,
                 DUSK_ETASK,     DUSK_ECANCELED, DUSK_ETIMEDOUT,
                 DUSK_ENORESULT, DUSK_EBUSY,     DUSK_ETHREAD};
  int n = (int)(sizeof codes / sizeof codes[0]);
  for (int i = 0; i < n; i++) {
    const char *s = dusk_strerror(codes[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_gt((int)strlen(s), 0);
    if (codes[i] != DUSK_OK)
      ck_assert_int_lt(codes[i], 0);
    for (int j = 0; j < i; j++)
      ck_assert_str_ne(s, dusk_strerror(codes[j]));
  }
  ck_assert_ptr_nonnull(dusk_strerror(12345));
  ck_assert_ptr_nonnull(dusk_strerror(-12345));
}
END_TEST

/* ====================================================== lazy */

START_TEST(test_lazy_build_runs_nothing) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *lit = dusk_literal(g, dusk_i64(1));
  dusk_node *prev = dusk_call(g, t_count, &runs, 1, &lit);
  dusk_node *first = prev;
  for (int i = 0; i < 200; i++) {
    dusk_node *args[2] = {prev, first};
    prev = dusk_call(g, t_count, &runs, 2, args);
    ck_assert_ptr_nonnull(prev);
  }
  dusk_node *nothing = dusk_delayed(g, t_count);
  ck_assert_ptr_nonnull(nothing);
  ck_assert_uint_eq(dusk_graph_size(g), 203);
  tu_sleep_ms(100); /* time for an eager pool to misbehave */
  ck_assert_int_eq(tu_ldi(&runs), 0);
  /* The counter works: computing runs the 201 calls that the end needs. */
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, prev, &out), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 201);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** Each refused call runs on a fresh thread, whose last error starts as
** DUSK_OK and "", so that every case proves its own message.
*/
typedef struct refusal {
  int which;
  dusk_graph *g;
  dusk_node *lit, *other;
  dusk_node *got;
  int code_before;
  int msg_before_empty;
  int code;
  int msg_null;
  char msg[256];
} refusal;

enum { REFUSALS = 11 };

static void *refuse_thread(void *arg) {
  refusal *r = arg;
  const char *m = NULL;
  r->code_before = dusk_last_error(&m);
  r->msg_before_empty = m != NULL && m[0] == '\0';
  dusk_node *with_null[2] = {r->lit, NULL};
  dusk_node *with_other[2] = {r->lit, r->other};
  dusk_value bad = tu_box_new(5);
  switch (r->which) {
  case 0:
    r->got = dusk_call(r->g, NULL, NULL, 0, NULL);
    break;
  case 1:
    r->got = dusk_call(r->g, t_count, NULL, -1, &r->lit);
    break;
  case 2:
    r->got = dusk_call(r->g, t_count, NULL, 1, NULL);
    break;
  case 3:
    r->got = dusk_call(r->g, t_count, NULL, 2, with_null);
    break;
  case 4:
    r->got = dusk_call(r->g, t_count, NULL, 2, with_other);
    break;
  case 5:
    r->got = dusk_call(NULL, t_count, NULL, 1, &r->lit);
    break;
  case 6:
    r->got = dusk_call_named(r->g, "named", NULL, NULL, 1, &r->lit);
    break;
  case 7:
    r->got = dusk_delayed(r->g, t_count, r->lit, r->other);
    break;
  case 8:
    r->got = dusk_call_named(r->g, "named", t_count, NULL, 1, &r->other);
    break;
  case 9: /* a literal for no graph: refused, and its value released */
    r->got = dusk_literal(NULL, bad);
    bad.kind = DUSK_NONE;
    break;
  case 10: /* a literal of an unknown kind: refused, value released */
    bad.kind = (dusk_kind)77;
    r->got = dusk_literal(r->g, bad);
    bad.kind = DUSK_NONE;
    break;
  }
  if (bad.kind == DUSK_PTR)
    tu_box_free(bad.ptr);
  m = NULL;
  r->code = dusk_last_error(&m);
  r->msg_null = m == NULL;
  snprintf(r->msg, sizeof r->msg, "%s", m != NULL ? m : "");
  return NULL;
}

START_TEST(test_lazy_refuses_bad_calls) {
  tu_reset(64);
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *lit = dusk_literal(g, dusk_i64(1));
  dusk_node *other = dusk_literal(g2, dusk_i64(2));
  dusk_node *one = dusk_call(g, t_count, &runs, 1, &lit);
  ck_assert_ptr_nonnull(one);
  size_t size = dusk_graph_size(g);
  size_t size2 = dusk_graph_size(g2);
  for (int w = 0; w < REFUSALS; w++) {
    refusal r = {.which = w, .g = g, .lit = lit, .other = other};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, refuse_thread, &r), 0);
    pthread_join(th, NULL);
    ck_assert_msg(r.code_before == DUSK_OK && r.msg_before_empty,
                  "case %d: a fresh thread's last error is not DUSK_OK, \"\"",
                  w);
    ck_assert_msg(r.got == NULL, "case %d: a bad call was accepted", w);
    ck_assert_msg(r.code == DUSK_EINVAL, "case %d: last error %d, not EINVAL",
                  w, r.code);
    ck_assert_msg(!r.msg_null && r.msg[0] != '\0',
                  "case %d: no message from dusk_last_error", w);
    ck_assert_msg(dusk_graph_size(g) == size && dusk_graph_size(g2) == size2,
                  "case %d: a refused call changed a graph", w);
  }
  /* The two refused literals were released, each exactly once. */
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), REFUSALS);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), REFUSALS);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  /* Nothing ran, and the graph still works. */
  ck_assert_int_eq(tu_ldi(&runs), 0);
  dusk_node *two = dusk_call(g, t_count, &runs, 1, &one);
  ck_assert_ptr_nonnull(two);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, two, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 3);
  ck_assert_int_eq(tu_ldi(&runs), 2);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_lazy_call_without_args) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *a = dusk_call(g, t_count, &runs, 0, NULL);
  ck_assert_ptr_nonnull(a);
  dusk_node *b = dusk_delayed(g, t_count);
  ck_assert_ptr_nonnull(b);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, a, &out), DUSK_OK);
  ck_assert_int_eq(out.kind, DUSK_I64);
  ck_assert_int_eq(out.i64, 1);
  ck_assert_int_eq(dusk_compute(g, b, NULL), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_lazy_literal_owned_once) {
  tu_reset(16);
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *l = dusk_literal(g, tu_box_new(9));
  ck_assert_ptr_nonnull(l);
  dusk_value none = dusk_i64(0);
  none.kind = DUSK_NONE;
  ck_assert_ptr_nonnull(dusk_literal(g, none)); /* a value owning nothing */
  atomic_int runs = 0;
  dusk_node *c = dusk_call(g, t_count, &runs, 1, &l);
  /* Computing a literal runs nothing and returns its value. */
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, l, &out), DUSK_OK);
  ck_assert_int_eq(out.kind, DUSK_PTR);
  ck_assert_int_eq(tu_get(&out), 9);
  ck_assert_int_eq(dusk_compute(g, c, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 10);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  /* A literal is not released by a compute, a release, or a take. */
  dusk_release(l);
  dusk_value taken;
  ck_assert_int_eq(dusk_take(l, &taken), DUSK_EINVAL);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 0);
  ck_assert_int_eq(dusk_compute(g, l, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), 9);
  /* The graph releases it, once. */
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 1);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== nodes */

START_TEST(test_nodes_names_and_ids) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  dusk_node *l = dusk_literal(g, dusk_i64(1));
  dusk_node *a = dusk_delayed(g, t_count, l);
  dusk_node *b = dusk_call(g, t_count, NULL, 1, &l);
  dusk_node *c = dusk_call_named(g, "custom", t_count, NULL, 1, &l);
  dusk_node *d = dusk_delayed(g, t_inc, a);
  ck_assert_str_eq(dusk_name(l), "literal");
  ck_assert_str_eq(dusk_name(a), "t_count");
  ck_assert_str_eq(dusk_name(b), "call");
  ck_assert_str_eq(dusk_name(c), "custom");
  ck_assert_str_eq(dusk_name(d), "t_inc");
  char buf[32];
  snprintf(buf, sizeof buf, "step");
  dusk_set_name(b, "%s[%d]", buf, 7);
  buf[0] = 'X'; /* the text was copied */
  ck_assert_str_eq(dusk_name(b), "step[7]");
  dusk_set_name(b, "again");
  ck_assert_str_eq(dusk_name(b), "again");
  dusk_set_name(NULL, "ignored");
  dusk_node *all[5] = {l, a, b, c, d};
  for (int i = 0; i < 5; i++) {
    ck_assert_ptr_eq(dusk_node_graph(all[i]), g);
    for (int j = 0; j < i; j++)
      ck_assert(dusk_node_id(all[i]) != dusk_node_id(all[j]));
  }
  ck_assert_uint_eq(dusk_graph_size(g), 5);
  ck_assert_uint_eq(dusk_graph_size(g2), 0);
  dusk_node *e = dusk_literal(g2, dusk_i64(0));
  ck_assert_ptr_eq(dusk_node_graph(e), g2);
  ck_assert_uint_eq(dusk_graph_size(g2), 1);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_graph_free(NULL);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== tasks */

typedef struct ctx_seen {
  _Atomic(void *) udata;
  _Atomic(void *) graph;
  _Atomic(void *) node;
  atomic_int fail_code;
} ctx_seen;

static ctx_seen g_seen;

static int t_context(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)args;
  (void)nargs;
  atomic_store(&g_seen.udata, dusk_task_udata(t));
  atomic_store(&g_seen.graph, (void *)dusk_task_graph(t));
  atomic_store(&g_seen.node, (void *)dusk_task_node(t));
  *out = dusk_i64(1);
  return 0;
}

START_TEST(test_tasks_context) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  int marker = 0;
  dusk_node *n = dusk_call(g, t_context, &marker, 0, NULL);
  ck_assert_int_eq(dusk_compute(g, n, NULL), DUSK_OK);
  ck_assert_ptr_eq(atomic_load(&g_seen.udata), &marker);
  ck_assert_ptr_eq(atomic_load(&g_seen.graph), g);
  ck_assert_ptr_eq(atomic_load(&g_seen.node), n);
  /* dusk_delayed() gives udata NULL. */
  atomic_store(&g_seen.udata, (void *)&marker);
  dusk_node *m = dusk_delayed(g, t_context);
  ck_assert_int_eq(dusk_compute(g, m, NULL), DUSK_OK);
  ck_assert_ptr_null(atomic_load(&g_seen.udata));
  ck_assert_ptr_eq(atomic_load(&g_seen.node), m);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== once */

START_TEST(test_once_diamond) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 50; rep++) {
    dusk_graph *g = tu_graph(p);
    atomic_int ra = 0, rb = 0, rc = 0, rd = 0;
    dusk_node *a = dusk_call(g, t_count, &ra, 0, NULL);
    dusk_node *b = dusk_call(g, t_count, &rb, 1, &a);
    dusk_node *c = dusk_call(g, t_count, &rc, 1, &a);
    dusk_node *bc[2] = {b, c};
    dusk_node *d = dusk_call(g, t_count, &rd, 2, bc);
    dusk_value out;
    ck_assert_int_eq(dusk_compute(g, d, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 5);
    ck_assert_int_eq(tu_ldi(&ra), 1);
    ck_assert_int_eq(tu_ldi(&rb), 1);
    ck_assert_int_eq(tu_ldi(&rc), 1);
    ck_assert_int_eq(tu_ldi(&rd), 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_once_repeated_argument) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0, rb = 0;
  dusk_node *a = dusk_call(g, t_count, &ra, 0, NULL);
  dusk_node *aaa[3] = {a, a, a};
  dusk_node *b = dusk_call(g, t_count, &rb, 3, aaa);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, b, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 4);
  ck_assert_int_eq(tu_ldi(&ra), 1);
  ck_assert_int_eq(tu_ldi(&rb), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A random DAG: every needed node runs once, no other node runs. */
START_TEST(test_once_only_needed) {
  tu_reset(64 * 1024);
  int workers[3] = {1, 2, 4};
  for (int w = 0; w < 3; w++) {
    dusk_pool *p = tu_pool(workers[w]);
    for (int rep = 0; rep < 10; rep++) {
      dusk_graph *g = tu_graph(p);
      dag d;
      int n = (int)tu_scaled(2000, 200);
      dag_build(&d, g, n, 4, rep & 1, 1000 + (uint64_t)(w * 100 + rep));
      uint64_t rs = 77 + (uint64_t)rep;
      char *target = calloc((size_t)n, 1), *need = calloc((size_t)n, 1);
      int nt = 1 + tu_rand_below(&rs, 8);
      dusk_node *tn_[8];
      int ti[8];
      for (int i = 0; i < nt; i++) {
        ti[i] = tu_rand_below(&rs, n);
        tn_[i] = d.node[ti[i]];
        target[ti[i]] = 1;
      }
      dag_needed(&d, target, need);
      dusk_value outs[8];
      ck_assert_int_eq(dusk_compute_many(g, nt, tn_, outs), DUSK_OK);
      for (int i = 0; i < nt; i++)
        ck_assert_uint_eq((uint64_t)tu_get(&outs[i]), d.expect[ti[i]]);
      for (int i = 0; i < n; i++)
        ck_assert_msg(tu_ldi(&d.info[i].runs) == need[i],
                      "node %d ran %d times, needed %d (workers %d)", i,
                      tu_ldi(&d.info[i].runs), need[i], workers[w]);
      dusk_graph_free(g);
      dag_free(&d);
      free(target);
      free(need);
      ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
      assert_boxes_clean();
      tu_reset(64 * 1024);
    }
    dusk_pool_free(p);
  }
  tu_done();
}
END_TEST

/* A node that consumes a needed node but is not needed itself never runs. */
START_TEST(test_once_unneeded_consumer) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0, rb = 0, rx = 0, ry = 0;
  dusk_node *a = dusk_call(g, t_count, &ra, 0, NULL);
  dusk_node *x = dusk_call(g, t_count, &rx, 1, &a); /* not needed */
  dusk_node *b = dusk_call(g, t_count, &rb, 1, &a);
  dusk_node *y = dusk_call(g, t_count, &ry, 1, &x); /* not needed */
  (void)y;
  ck_assert_int_eq(dusk_compute(g, b, NULL), DUSK_OK);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&ra), 1);
  ck_assert_int_eq(tu_ldi(&rb), 1);
  ck_assert_int_eq(tu_ldi(&rx), 0);
  ck_assert_int_eq(tu_ldi(&ry), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== order */

typedef struct seen_args {
  atomic_int ok;
  atomic_int nargs;
} seen_args;

static int t_check_args(dusk_task *t, const dusk_value *args, int nargs,
                        dusk_value *out) {
  seen_args *s = dusk_task_udata(t);
  /* Expected: 10, 11 (a call), 2.5, &s (a pointer), 14 (a call), 15. */
  int ok = nargs == 6 && args[0].kind == DUSK_I64 && args[0].i64 == 10 &&
           args[1].kind == DUSK_I64 && args[1].i64 == 11 &&
           args[2].kind == DUSK_F64 && args[2].f64 == 2.5 &&
           args[3].kind == DUSK_PTR && args[3].ptr == (void *)s &&
           args[3].size == 3 && args[4].kind == DUSK_I64 &&
           args[4].i64 == 14 && args[5].kind == DUSK_I64 && args[5].i64 == 15;
  atomic_store(&s->nargs, nargs);
  atomic_store(&s->ok, ok ? 1 : 2);
  *out = dusk_i64(0);
  return 0;
}

static int t_const(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)args;
  (void)nargs;
  *out = dusk_i64((int64_t)(intptr_t)dusk_task_udata(t));
  return 0;
}

START_TEST(test_order_args_in_given_order) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 20; rep++) {
    dusk_graph *g = tu_graph(p);
    seen_args s = {0};
    dusk_node *args[6] = {
        dusk_literal(g, dusk_i64(10)),
        dusk_call(g, t_const, (void *)(intptr_t)11, 0, NULL),
        dusk_literal(g, dusk_f64(2.5)),
        dusk_literal(g, dusk_ptr(&s, 3, NULL)),
        dusk_call(g, t_const, (void *)(intptr_t)14, 0, NULL),
        dusk_literal(g, dusk_i64(15)),
    };
    dusk_node *n = dusk_call(g, t_check_args, &s, 6, args);
    ck_assert_int_eq(dusk_compute(g, n, NULL), DUSK_OK);
    ck_assert_int_eq(tu_ldi(&s.nargs), 6);
    ck_assert_msg(tu_ldi(&s.ok) == 1, "arguments not in the given order");
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/*
** Every task starts after each of its arguments ended: arg.end < node.start
** on one global clock, for every edge of random DAGs on 2 and 4 workers.
*/
START_TEST(test_order_after_all_args) {
  int workers[2] = {2, 4};
  tu_reset(64 * 1024);
  for (int w = 0; w < 2; w++) {
    dusk_pool *p = tu_pool(workers[w]);
    for (int rep = 0; rep < 5; rep++) {
      dusk_graph *g = tu_graph(p);
      dag d;
      int n = (int)tu_scaled(3000, 300);
      dag_build(&d, g, n, 5, 1, 555 + (uint64_t)(rep * 10 + w));
      /* Request the sinks: everything runs, intermediates are freed. */
      int nt = 0;
      for (int i = 0; i < n; i++)
        nt += !d.has_consumer[i];
      dusk_node **tg = calloc((size_t)nt, sizeof *tg);
      int *ti = calloc((size_t)nt, sizeof *ti);
      nt = 0;
      for (int i = 0; i < n; i++)
        if (!d.has_consumer[i]) {
          ti[nt] = i;
          tg[nt++] = d.node[i];
        }
      dusk_value *outs = calloc((size_t)nt, sizeof *outs);
      ck_assert_int_eq(dusk_compute_many(g, nt, tg, outs), DUSK_OK);
      for (int i = 0; i < nt; i++)
        ck_assert_uint_eq((uint64_t)tu_get(&outs[i]), d.expect[ti[i]]);
      for (int i = 0; i < n; i++) {
        ck_assert_int_eq(tu_ldi(&d.info[i].runs), 1);
        for (int j = 0; j < d.nargs[i]; j++) {
          int a = d.arg[i][j];
          ck_assert_msg(tu_ldl(&d.info[a].end) <
                            tu_ldl(&d.info[i].start),
                        "node %d started before its argument %d ended", i, a);
        }
      }
      /* Only the requested results are still live. */
      ck_assert_int_eq(tu_ldl(&tu_st.live), nt);
      assert_boxes_clean();
      dusk_graph_free(g);
      ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
      dag_free(&d);
      free(tg);
      free(ti);
      free(outs);
      tu_reset(64 * 1024);
    }
    dusk_pool_free(p);
  }
  tu_done();
}
END_TEST

/* ====================================================== memory */

/*
** a -> b -> c on one worker: when c starts, a is already freed (b, its last
** consumer, is done), and b is still live.
*/
static atomic_long g_parent_dead; /* a step saw its own argument freed */

static int t_step_early(dusk_task *t, const dusk_value *args, int nargs,
                        dusk_value *out) {
  (void)t;
  int64_t v = 0;
  if (nargs > 0) {
    if (!tu_box_live(&args[0]))
      atomic_fetch_add(&g_parent_dead, 1);
    v = tu_get(&args[0]);
  }
  *out = tu_box_new(v + 1);
  return 0;
}

START_TEST(test_memory_freed_after_last_consumer) {
  int n = (int)tu_scaled(2000, 200);
  tu_reset((size_t)n + 16);
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  atomic_store(&g_parent_dead, 0);
  /*
  ** A chain where box i is made by step i. When step i starts, box i-2 must
  ** be dead: step i-1 was its last consumer and has finished. On one worker
  ** that means at most two boxes are ever live: the argument and the new
  ** result. And no step may see its argument already freed.
  */
  dusk_node *prev = dusk_call(g, t_step_early, NULL, 0, NULL);
  for (int i = 1; i < n; i++)
    prev = dusk_call(g, t_step_early, NULL, 1, &prev);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, prev, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), n);
  ck_assert_int_eq(tu_ldl(&g_parent_dead), 0);
  /* One worker: at most the argument and the new result were ever live. */
  ck_assert_int_le(tu_ldl(&tu_st.peak), 2);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 1); /* the kept result */
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), n);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/*
** A value consumed by an early and by a late task lives until the late one
** has run, and not longer: the late task sees it live, and once it is done
** the value is gone before the next task of the compute starts.
*/
typedef struct late_probe {
  atomic_int src_live_in_late;
  atomic_int src_live_after; /* read by a task that runs after late */
  atomic_int late_ran, after_ran;
  tu_box *src;
} late_probe;
static late_probe g_late;

static int t_late(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  g_late.src = nargs > 1 ? args[1].ptr : NULL;
  atomic_store(&g_late.src_live_in_late,
               nargs > 1 && tu_box_live(&args[1]) ? 1 : 2);
  atomic_store(&g_late.late_ran, 1);
  *out = tu_box_new(nargs > 0 ? tu_get(&args[0]) + tu_get(&args[1]) : 0);
  return 0;
}

static int t_after(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)t;
  tu_box *src = g_late.src;
  atomic_store(&g_late.src_live_after,
               src != NULL && tu_ldi(&src->state) == TU_BOX_LIVE ? 1 : 2);
  atomic_store(&g_late.after_ran, 1);
  *out = tu_box_new(nargs > 0 ? tu_get(&args[0]) : 0);
  return 0;
}

START_TEST(test_memory_lives_until_last_consumer) {
  tu_reset(4096);
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  memset(&g_late, 0, sizeof g_late);
  /* src -> early; early -> c1 -> ... -> c100; (c100, src) -> late -> after */
  dusk_node *src = dusk_call(g, t_box, NULL, 0, NULL);
  dusk_node *prev = dusk_call(g, t_box, NULL, 1, &src);
  for (int i = 0; i < 100; i++)
    prev = dusk_call(g, t_box, NULL, 1, &prev);
  dusk_node *ls[2] = {prev, src};
  dusk_node *late = dusk_call(g, t_late, NULL, 2, ls);
  dusk_node *after = dusk_call(g, t_after, NULL, 1, &late);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, after, &out), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&g_late.late_ran), 1);
  ck_assert_int_eq(tu_ldi(&g_late.after_ran), 1);
  ck_assert_msg(tu_ldi(&g_late.src_live_in_late) == 1,
                "a value was freed before its last consumer ran");
  ck_assert_msg(tu_ldi(&g_late.src_live_after) == 2,
                "a value outlived its last consumer into the next task");
  ck_assert_int_eq(tu_get(&out), 102 + 1);
  assert_boxes_clean();
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* A chain of a million boxes holds O(1) of them at once. */
START_TEST(test_memory_chain_constant) {
  long n = tu_scaled(1000000, 10000);
  tu_reset((size_t)n + 16);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *prev = dusk_call(g, t_box, NULL, 0, NULL);
  for (long i = 1; i < n; i++) {
    prev = dusk_call(g, t_box, NULL, 1, &prev);
    if (prev == NULL)
      ck_abort_msg("dusk_call failed at %ld", i);
  }
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, prev, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), n);
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), n);
  ck_assert_msg(tu_ldl(&tu_st.peak) <= 4,
                "a chain of %ld held %ld results at once", n,
                tu_ldl(&tu_st.peak));
  ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
  assert_boxes_clean();
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/*
** source -> W chains of length L -> sink: at most about W + workers
** results at once, however the scheduler orders the chains.
*/
START_TEST(test_memory_fanout_bounded) {
  int W = 64;
  int L = (int)tu_scaled(300, 30);
  int workers[2] = {2, 4};
  for (int w = 0; w < 2; w++) {
    tu_reset((size_t)W * (size_t)L + 16);
    dusk_pool *p = tu_pool(workers[w]);
    dusk_graph *g = tu_graph(p);
    dusk_node *src = dusk_call(g, t_box, NULL, 0, NULL);
    dusk_node **ends = calloc((size_t)W, sizeof *ends);
    for (int c = 0; c < W; c++) {
      dusk_node *prev = dusk_call(g, t_box, NULL, 1, &src);
      for (int i = 1; i < L; i++)
        prev = dusk_call(g, t_box, NULL, 1, &prev);
      ends[c] = prev;
    }
    dusk_node *sink = dusk_call(g, t_box, NULL, W, ends);
    dusk_value out;
    ck_assert_int_eq(dusk_compute(g, sink, &out), DUSK_OK);
    ck_assert_int_eq(tu_get(&out), 1 + (int64_t)W * (1 + L));
    long bound = W + 2L * workers[w] + 2;
    ck_assert_msg(tu_ldl(&tu_st.peak) <= bound,
                  "fan-out of %d held %ld results (bound %ld, %d workers)", W,
                  tu_ldl(&tu_st.peak), bound, workers[w]);
    ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
    assert_boxes_clean();
    dusk_graph_free(g);
    ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
    free(ends);
    dusk_pool_free(p);
  }
  tu_done();
}
END_TEST

/* A kept result is not freed when a later compute uses it. */
START_TEST(test_memory_kept_survives_later_compute) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0, rb = 0;
  dusk_node *a = dusk_call(g, t_box, &ra, 0, NULL);
  dusk_node *b = dusk_call(g, t_box, &rb, 1, &a);
  dusk_node *c = dusk_call(g, t_box, NULL, 1, &b);
  dusk_value va, vc;
  ck_assert_int_eq(dusk_compute(g, a, &va), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, c, &vc), DUSK_OK);
  ck_assert_int_eq(tu_get(&vc), 3);
  ck_assert_int_eq(tu_ldi(&ra), 1);
  ck_assert(tu_box_live(&va)); /* a is kept, b was an intermediate */
  ck_assert_int_eq(tu_ldl(&tu_st.live), 2);
  dusk_value taken;
  ck_assert_int_eq(dusk_take(a, &taken), DUSK_OK);
  ck_assert_ptr_eq(taken.ptr, va.ptr);
  dusk_value_clear(&taken);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* Freeing a graph frees every literal and kept result exactly once. */
START_TEST(test_memory_graph_free_releases_all) {
  tu_reset(256);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *lits[10];
  for (int i = 0; i < 10; i++)
    lits[i] = dusk_literal(g, tu_box_new(i));
  dusk_node *calls[10];
  for (int i = 0; i < 10; i++)
    calls[i] = dusk_call(g, t_box, NULL, 10 - i, lits + i);
  ck_assert_int_eq(dusk_compute_many(g, 5, calls, NULL), DUSK_OK);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 15);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 15);
  assert_boxes_clean();
  /* A graph never computed frees its literals too. */
  g = tu_graph(p);
  for (int i = 0; i < 10; i++)
    lits[i] = dusk_literal(g, tu_box_new(i));
  dusk_call(g, t_box, NULL, 10, lits);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 25);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== results */

START_TEST(test_results_kept_until_release) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0, rb = 0;
  dusk_node *a = dusk_call(g, t_box, &ra, 0, NULL);
  dusk_node *b = dusk_call(g, t_box, &rb, 1, &a);
  dusk_value v1, v2;
  ck_assert_int_eq(dusk_compute(g, b, &v1), DUSK_OK);
  ck_assert_int_eq(tu_get(&v1), 2);
  ck_assert(tu_box_live(&v1));
  ck_assert_uint_eq(v1.size, sizeof(tu_box));
  /* Computing again runs nothing and returns the same result. */
  ck_assert_int_eq(dusk_compute(g, b, &v2), DUSK_OK);
  ck_assert_ptr_eq(v2.ptr, v1.ptr);
  ck_assert_int_eq(tu_ldi(&ra), 1);
  ck_assert_int_eq(tu_ldi(&rb), 1);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
  /* Release frees it once; a second release is a no-op. */
  dusk_release(b);
  ck_assert(!tu_box_live(&v1));
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 2);
  dusk_release(b);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 2);
  /* Now computing again runs it again. */
  ck_assert_int_eq(dusk_compute(g, b, &v2), DUSK_OK);
  ck_assert_int_eq(tu_get(&v2), 2);
  ck_assert_int_eq(tu_ldi(&rb), 2);
  ck_assert_int_eq(tu_ldi(&ra), 2);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_results_take_moves_out) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0;
  dusk_node *a = dusk_call(g, t_box, &ra, 0, NULL);
  dusk_value v, taken;
  ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
  ck_assert_int_eq(dusk_take(a, &taken), DUSK_OK);
  ck_assert_int_eq(taken.kind, DUSK_PTR);
  ck_assert_ptr_eq(taken.ptr, v.ptr);
  ck_assert(taken.free == tu_box_free);
  ck_assert(tu_box_live(&taken)); /* moved, not freed */
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT);
  dusk_release(a); /* nothing kept: no-op */
  ck_assert(tu_box_live(&taken));
  /* The graph no longer owns it: freeing the graph leaves it alone... */
  dusk_value again;
  ck_assert_int_eq(dusk_compute(g, a, &again), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&ra), 2); /* ...and computing reruns */
  ck_assert_ptr_ne(again.ptr, taken.ptr);
  dusk_graph_free(g);
  ck_assert(tu_box_live(&taken));
  ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
  dusk_value_clear(&taken);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_results_take_errors) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *l = dusk_literal(g, dusk_i64(5));
  dusk_node *a = dusk_call(g, t_count, NULL, 1, &l);
  dusk_value v;
  ck_assert_int_eq(dusk_take(NULL, &v), DUSK_EINVAL);
  ck_assert_int_eq(dusk_take(l, &v), DUSK_EINVAL);
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT); /* never computed */
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK);
  dusk_release(a);
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT); /* released */
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK);
  ck_assert_int_eq(dusk_take(a, &v), DUSK_OK);
  ck_assert_int_eq(v.kind, DUSK_I64);
  ck_assert_int_eq(v.i64, 6);
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT); /* taken */
  /* The literal stayed with the graph. */
  ck_assert_int_eq(dusk_compute(g, l, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 5);
  dusk_release(NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A task that waits at a gate, then reads its first argument. */
typedef struct gate {
  atomic_int started, open;
  atomic_int arg_live;
  atomic_long arg_value;
} gate;

static int t_gate(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  gate *gt = dusk_task_udata(t);
  atomic_store(&gt->started, 1);
  tu_wait_flag(&gt->open, 60000);
  atomic_store(&gt->arg_live, nargs > 0 && tu_box_live(&args[0]) ? 1 : 2);
  atomic_store(&gt->arg_value, nargs > 0 ? tu_get(&args[0]) : -1);
  *out = dusk_i64(nargs > 0 ? tu_get(&args[0]) * 10 : 0);
  return 0;
}

typedef struct bg_compute {
  dusk_graph *g;
  dusk_node *n;
  int rc;
  dusk_value out;
} bg_compute;

static void *bg_compute_main(void *arg) {
  bg_compute *c = arg;
  c->rc = dusk_compute(c->g, c->n, &c->out);
  return NULL;
}

START_TEST(test_results_take_busy_while_read) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gt = {0};
  dusk_node *a = dusk_call(g, t_box, NULL, 0, NULL);
  dusk_node *b = dusk_call(g, t_gate, &gt, 1, &a);
  dusk_value va;
  ck_assert_int_eq(dusk_compute(g, a, &va), DUSK_OK);
  bg_compute bc = {.g = g, .n = b};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, bg_compute_main, &bc), 0);
  ck_assert(tu_wait_flag(&gt.started, 30000));
  dusk_value taken = dusk_i64(-1);
  int rc = dusk_take(a, &taken);
  atomic_store(&gt.open, 1);
  pthread_join(th, NULL);
  ck_assert_int_eq(rc, DUSK_EBUSY);
  ck_assert_int_eq(bc.rc, DUSK_OK);
  ck_assert_int_eq(bc.out.i64, 10);
  ck_assert_int_eq(tu_ldi(&gt.arg_live), 1);
  /* After the compute, a is still kept and can be taken. */
  ck_assert_int_eq(dusk_take(a, &taken), DUSK_OK);
  ck_assert_ptr_eq(taken.ptr, va.ptr);
  ck_assert(tu_box_live(&taken));
  dusk_value_clear(&taken);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_results_release_deferred_while_read) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gt = {0};
  dusk_node *a = dusk_call(g, t_box, NULL, 0, NULL);
  dusk_node *b = dusk_call(g, t_gate, &gt, 1, &a);
  dusk_value va;
  ck_assert_int_eq(dusk_compute(g, a, &va), DUSK_OK);
  bg_compute bc = {.g = g, .n = b};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, bg_compute_main, &bc), 0);
  ck_assert(tu_wait_flag(&gt.started, 30000));
  dusk_release(a); /* b still reads it: freed when b is done with it */
  int live_after_release = tu_box_live(&va);
  atomic_store(&gt.open, 1);
  pthread_join(th, NULL);
  ck_assert_int_eq(bc.rc, DUSK_OK);
  ck_assert_msg(live_after_release, "released while a running task read it");
  ck_assert_int_eq(tu_ldi(&gt.arg_live), 1);
  ck_assert_int_eq(tu_ldl(&gt.arg_value), 1);
  /* Once the compute is done with it, it is freed, once. */
  ck_assert(!tu_box_live(&va));
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 1);
  dusk_value v;
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_results_compute_invalid) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *a = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_node *x = dusk_call(g2, t_count, &runs, 0, NULL);
  dusk_value out = dusk_i64(99);
  ck_assert_int_eq(dusk_compute(NULL, a, &out), DUSK_EINVAL);
  ck_assert_int_eq(dusk_compute(g, NULL, &out), DUSK_EINVAL);
  ck_assert_int_eq(dusk_compute(g, x, &out), DUSK_EINVAL);
  dusk_node *mixed[2] = {a, x};
  ck_assert_int_eq(dusk_compute_many(g, 2, mixed, NULL), DUSK_EINVAL);
  dusk_node *withnull[2] = {a, NULL};
  ck_assert_int_eq(dusk_compute_many(g, 2, withnull, NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_compute_many(NULL, 1, &a, NULL), DUSK_EINVAL);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK); /* out may be NULL */
  ck_assert_int_eq(tu_ldi(&runs), 1);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_results_compute_many) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int ra = 0, rb = 0, rc = 0;
  dusk_node *l = dusk_literal(g, dusk_i64(100));
  dusk_node *a = dusk_call(g, t_box, &ra, 1, &l);
  dusk_node *b = dusk_call(g, t_box, &rb, 1, &a);
  dusk_node *ab[2] = {a, b};
  dusk_node *c = dusk_call(g, t_box, &rc, 2, ab);
  dusk_node *req[4] = {c, l, a, b};
  dusk_value outs[4];
  ck_assert_int_eq(dusk_compute_many(g, 4, req, outs), DUSK_OK);
  ck_assert_int_eq(tu_get(&outs[0]), 1 + 101 + 102);
  ck_assert_int_eq(outs[1].i64, 100);
  ck_assert_int_eq(tu_get(&outs[2]), 101);
  ck_assert_int_eq(tu_get(&outs[3]), 102);
  ck_assert_int_eq(tu_ldi(&ra), 1);
  ck_assert_int_eq(tu_ldi(&rb), 1);
  ck_assert_int_eq(tu_ldi(&rc), 1);
  /* All three are kept; outs NULL is allowed. */
  ck_assert_int_eq(tu_ldl(&tu_st.live), 3);
  ck_assert_int_eq(dusk_compute_many(g, 4, req, NULL), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&ra) + tu_ldi(&rb) + tu_ldi(&rc), 3);
  ck_assert_int_eq(dusk_compute_many(g, 0, NULL, NULL), DUSK_OK);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== errors */

static atomic_int g_fail_wrote;

/* Writes a box into *out, then fails: the box must be released. */
static int t_fail_after_write(dusk_task *t, const dusk_value *args, int nargs,
                              dusk_value *out) {
  (void)args;
  (void)nargs;
  *out = tu_box_new(1);
  atomic_store(&g_fail_wrote, 1);
  int rc = dusk_fail(t, "first %s", "message");
  int rc2 = dusk_fail(t, "wrote then kaboom %d", 7); /* replaces the first */
  return rc == DUSK_ETASK ? rc2 : 0;
}

/* Calls dusk_fail() but returns 0: a success, with no message. */
static int t_fail_then_succeed(dusk_task *t, const dusk_value *args,
                               int nargs, dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)dusk_fail(t, "changed my mind");
  *out = dusk_i64(8);
  return 0;
}

START_TEST(test_errors_message_names_node) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *f = dusk_call(g, t_kaboom, (void *)(intptr_t)42, 0, NULL);
  dusk_set_name(f, "origin");
  dusk_value out = dusk_i64(123);
  ck_assert_int_eq(dusk_compute(g, f, &out), DUSK_ETASK);
  ck_assert_int_eq(out.kind, DUSK_NONE);
  const char *m = dusk_errmsg(f);
  ck_assert_msg(tu_has(m, "origin") && tu_has(m, "kaboom 42"),
                "message: %s", m ? m : "(null)");
  ck_assert_int_eq(dusk_errcode(f), DUSK_ETASK);
  /* A task that wrote its result and then failed: the result is released,
     and the message is the last one given. */
  dusk_node *w = dusk_delayed(g, t_fail_after_write);
  ck_assert_int_eq(dusk_compute(g, w, NULL), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&g_fail_wrote), 1);
  m = dusk_errmsg(w);
  ck_assert_msg(tu_has(m, "t_fail_after_write") &&
                    tu_has(m, "wrote then kaboom 7") &&
                    !tu_has(m, "first message"),
                "message: %s", m ? m : "(null)");
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), 1);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  dusk_value v;
  ck_assert_int_eq(dusk_take(w, &v), DUSK_ENORESULT);
  assert_boxes_clean();
  /* A node that did not fail has no message. */
  dusk_node *ok = dusk_delayed(g, t_count);
  ck_assert_int_eq(dusk_compute(g, ok, NULL), DUSK_OK);
  ck_assert_ptr_null(dusk_errmsg(ok));
  ck_assert_int_eq(dusk_errcode(ok), DUSK_OK);
  /* dusk_fail() followed by return 0 is a success: no message. */
  dusk_node *fine = dusk_delayed(g, t_fail_then_succeed);
  dusk_value v8;
  ck_assert_int_eq(dusk_compute(g, fine, &v8), DUSK_OK);
  ck_assert_int_eq(v8.i64, 8);
  ck_assert_ptr_null(dusk_errmsg(fine));
  ck_assert_int_eq(dusk_errcode(fine), DUSK_OK);
  dusk_graph_free(g);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_errors_dependent_names_upstream) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int rmid = 0, rtop = 0;
  dusk_node *origin = dusk_call(g, t_kaboom, (void *)(intptr_t)5, 0, NULL);
  dusk_set_name(origin, "origin");
  dusk_node *middle = dusk_call(g, t_count, &rmid, 1, &origin);
  dusk_set_name(middle, "middle");
  dusk_node *top = dusk_call(g, t_count, &rtop, 1, &middle);
  dusk_set_name(top, "top");
  dusk_value out = dusk_i64(1);
  ck_assert_int_eq(dusk_compute(g, top, &out), DUSK_ETASK);
  ck_assert_int_eq(out.kind, DUSK_NONE);
  ck_assert_int_eq(tu_ldi(&rmid), 0);
  ck_assert_int_eq(tu_ldi(&rtop), 0);
  const char *m = dusk_errmsg(top);
  ck_assert_msg(tu_has(m, "top") && tu_has(m, "upstream") &&
                    tu_has(m, "origin") && tu_has(m, "kaboom 5"),
                "dependent's message: %s", m ? m : "(null)");
  ck_assert_int_ne(dusk_errcode(top), DUSK_OK);
  m = dusk_errmsg(origin);
  ck_assert_msg(tu_has(m, "origin") && tu_has(m, "kaboom 5"),
                "failed node's message: %s", m ? m : "(null)");
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

static int t_timeout_code(dusk_task *t, const dusk_value *args, int nargs,
                          dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  (void)out;
  return DUSK_ETIMEDOUT;
}

START_TEST(test_errors_task_code_returned) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *n = dusk_delayed(g, t_timeout_code);
  dusk_set_name(n, "slowpoke");
  atomic_int runs = 0;
  dusk_node *d = dusk_call(g, t_count, &runs, 1, &n);
  ck_assert_int_eq(dusk_compute(g, n, NULL), DUSK_ETIMEDOUT);
  ck_assert_int_eq(dusk_errcode(n), DUSK_ETIMEDOUT);
  ck_assert_msg(tu_has(dusk_errmsg(n), "slowpoke"), "message: %s",
                dusk_errmsg(n) ? dusk_errmsg(n) : "(null)");
  ck_assert_int_eq(dusk_compute(g, d, NULL), DUSK_ETIMEDOUT);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  ck_assert_msg(tu_has(dusk_errmsg(d), "slowpoke"), "message: %s",
                dusk_errmsg(d) ? dusk_errmsg(d) : "(null)");
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** No new task of a compute starts after a failure. One worker, so "after"
** is exact: the failing task and the library's reaction to it happen on
** the only worker before it picks its next task. P makes F and the heads of
** K chains ready at once; every chain step counts itself as late if F
** already failed. The test means something only if chains remain to run
** when F fails, which depends on the order the library runs P's ready
** dependents (it follows the walk, which follows memory): F is built at
** several places among the chains, a graph each, and at least one of them
** must have F fail with work left; none may start a task late.
*/
typedef struct stopper {
  atomic_int failed;
  atomic_long ran;
  atomic_long late;
  atomic_long ran_before_fail;
} stopper;
static stopper g_stop;

static int t_stop_step(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)t;
  if (tu_ldi(&g_stop.failed))
    atomic_fetch_add(&g_stop.late, 1);
  atomic_fetch_add(&g_stop.ran, 1);
  *out = tu_box_new(nargs > 0 ? tu_get(&args[0]) + 1 : 0);
  return 0;
}

static int t_stop_fail(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  atomic_store(&g_stop.ran_before_fail, tu_ldl(&g_stop.ran));
  atomic_store(&g_stop.failed, 1);
  return dusk_fail(t, "stop here");
}

START_TEST(test_errors_no_task_starts_after_failure) {
  enum { K = 40, L = 50 };
  const int where[] = {K / 2, 0, K - 1, K / 4, 3 * K / 4};
  int meaningful = 0;
  dusk_pool *p = tu_pool(1);
  for (size_t w = 0; w < sizeof where / sizeof *where; w++) {
    tu_reset((size_t)(K * L + 16));
    dusk_graph *g = tu_graph(p);
    memset(&g_stop, 0, sizeof g_stop);
    dusk_node *src = dusk_call(g, t_box, NULL, 0, NULL);
    dusk_node *sink_args[K + 1];
    dusk_node *f = NULL;
    for (int c = 0; c < K; c++) {
      if (c == where[w]) {
        f = dusk_call(g, t_stop_fail, NULL, 1, &src);
        dusk_set_name(f, "stopper");
      }
      dusk_node *prev = dusk_call(g, t_stop_step, NULL, 1, &src);
      for (int i = 1; i < L; i++)
        prev = dusk_call(g, t_stop_step, NULL, 1, &prev);
      sink_args[c] = prev;
    }
    sink_args[K] = f;
    dusk_node *sink = dusk_call(g, t_box, NULL, K + 1, sink_args);
    ck_assert_int_eq(dusk_compute(g, sink, NULL), DUSK_ETASK);
    ck_assert_int_eq(tu_ldi(&g_stop.failed), 1);
    meaningful += tu_ldl(&g_stop.ran_before_fail) <= (long)K * L - L;
    ck_assert_msg(tu_ldl(&g_stop.late) == 0,
                  "F built at chain %d: %ld tasks started after a failure "
                  "(%ld had run before)",
                  where[w], tu_ldl(&g_stop.late),
                  tu_ldl(&g_stop.ran_before_fail));
    /* Every result this compute made is released. */
    ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
    ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
    ck_assert_msg(tu_has(dusk_errmsg(sink), "stopper"), "message: %s",
                  dusk_errmsg(sink) ? dusk_errmsg(sink) : "(null)");
    assert_boxes_clean();
    dusk_graph_free(g);
    tu_done();
  }
  /* Some place of F left chains to run when it failed. */
  ck_assert_msg(meaningful > 0, "precondition: F ran after every chain step "
                                "wherever it was built");
  dusk_pool_free(p);
}
END_TEST

/*
** On several workers, a failure amid running branches: compute returns,
** every result it made is released, results kept before stay kept.
*/
static atomic_long g_branch_ran;

static int t_branch(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)t;
  atomic_fetch_add(&g_branch_ran, 1);
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += (uint64_t)tu_get(&args[i]);
  *out = tu_box_new((int64_t)s);
  return 0;
}

static int t_fail_later(dusk_task *t, const dusk_value *args, int nargs,
                        dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  /* Let the branches get going first (bounded wait: one worker is fine). */
  double end = tu_now_ms() + 200;
  while (tu_ldl(&g_branch_ran) < 50 && tu_now_ms() < end)
    sched_yield();
  return dusk_fail(t, "midway");
}

START_TEST(test_errors_results_released) {
  int K = 20, L = (int)tu_scaled(200, 40);
  int workers[3] = {1, 2, 4};
  for (int w = 0; w < 3; w++) {
    for (int rep = 0; rep < 5; rep++) {
      tu_reset((size_t)(K * L + 64));
      atomic_store(&g_branch_ran, 0);
      dusk_pool *p = tu_pool(workers[w]);
      dusk_graph *g = tu_graph(p);
      dusk_node *kept = dusk_call(g, t_box, NULL, 0, NULL);
      dusk_value vk;
      ck_assert_int_eq(dusk_compute(g, kept, &vk), DUSK_OK);
      dusk_node **ends = calloc((size_t)K + 1, sizeof *ends);
      for (int c = 0; c < K; c++) {
        dusk_node *prev = dusk_call(g, t_branch, NULL, 1, &kept);
        for (int i = 1; i < L; i++)
          prev = dusk_call(g, t_branch, NULL, 1, &prev);
        ends[c] = prev;
      }
      ends[K] = dusk_call(g, t_fail_later, NULL, 0, NULL);
      dusk_set_name(ends[K], "midway_fail");
      dusk_node *sink = dusk_call(g, t_branch, NULL, K + 1, ends);
      ck_assert_int_eq(dusk_compute(g, sink, NULL), DUSK_ETASK);
      ck_assert_msg(tu_has(dusk_errmsg(sink), "midway_fail"), "message: %s",
                    dusk_errmsg(sink) ? dusk_errmsg(sink) : "(null)");
      /* Only the result kept before is live, and it is still kept. */
      ck_assert_int_eq(tu_ldl(&tu_st.live), 1);
      ck_assert(tu_box_live(&vk));
      dusk_value v;
      ck_assert_int_eq(dusk_compute(g, kept, &v), DUSK_OK);
      ck_assert_ptr_eq(v.ptr, vk.ptr);
      ck_assert_int_eq(tu_ldl(&tu_st.allocs),
                       1 + tu_ldl(&g_branch_ran));
      assert_boxes_clean();
      dusk_graph_free(g);
      ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
      free(ends);
      dusk_pool_free(p);
    }
  }
  tu_done();
}
END_TEST

static int t_fail_once(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)args;
  (void)nargs;
  atomic_int *calls = dusk_task_udata(t);
  if (atomic_fetch_add(calls, 1) == 0)
    return dusk_fail(t, "first try fails");
  *out = dusk_i64(40);
  return 0;
}

START_TEST(test_errors_compute_again_retries) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int calls = 0, rtop = 0;
  dusk_node *f = dusk_call(g, t_fail_once, &calls, 0, NULL);
  dusk_node *top = dusk_call(g, t_count, &rtop, 1, &f);
  ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ETASK);
  ck_assert_ptr_nonnull(dusk_errmsg(top));
  ck_assert_int_eq(tu_ldi(&calls), 1);
  ck_assert_int_eq(tu_ldi(&rtop), 0);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, top, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 41);
  ck_assert_int_eq(tu_ldi(&calls), 2);
  ck_assert_int_eq(tu_ldi(&rtop), 1);
  ck_assert_ptr_null(dusk_errmsg(top));
  ck_assert_int_eq(dusk_errcode(top), DUSK_OK);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** top(f) failed for f's failure; f was run again since, and succeeded.
** top's message, made when first asked, cannot quote f any more and says
** so; top's failure is still a wait's answer, and a compute retries it.
*/
START_TEST(test_errors_cause_run_again_since) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int calls = 0, rtop = 0;
  dusk_node *f = dusk_call_named(g, "flaky", t_fail_once, &calls, 0, NULL);
  dusk_node *top = dusk_call_named(g, "after", t_count, &rtop, 1, &f);
  ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ETASK);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, f, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 40);
  const char *m = dusk_errmsg(top);
  ck_assert_msg(tu_has(m, "after") && tu_has(m, "not run: upstream flaky") &&
                    tu_has(m, "failed (it was run again since)"),
                "top says %s", m ? m : "(null)");
  ck_assert_int_eq(dusk_wait(top), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&rtop), 0);
  ck_assert_int_eq(dusk_compute(g, top, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 41);
  ck_assert_int_eq(tu_ldi(&calls), 2);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_errors_compute_many_keeps_nothing) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *ok = dusk_call(g, t_box, NULL, 0, NULL);
  dusk_node *ok2 = dusk_call(g, t_box, NULL, 1, &ok);
  dusk_node *bad = dusk_call(g, t_kaboom, (void *)(intptr_t)3, 0, NULL);
  dusk_node *req[3] = {ok, ok2, bad};
  dusk_value outs[3] = {dusk_i64(1), dusk_i64(2), dusk_i64(3)};
  ck_assert_int_eq(dusk_compute_many(g, 3, req, outs), DUSK_ETASK);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(outs[i].kind, DUSK_NONE);
  dusk_value v;
  ck_assert_int_eq(dusk_take(ok, &v), DUSK_ENORESULT);
  ck_assert_int_eq(dusk_take(ok2, &v), DUSK_ENORESULT);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_msg(tu_has(dusk_errmsg(bad), "kaboom 3"), "message: %s",
                dusk_errmsg(bad) ? dusk_errmsg(bad) : "(null)");
  assert_boxes_clean();
  dusk_graph_free(g);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* Failures on many workers, over and over: every compute returns. */
START_TEST(test_errors_nothing_hangs) {
  dusk_pool *p = tu_pool(4);
  int reps = (int)tu_scaled(200, 20);
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    dusk_node *leaves[64];
    for (int i = 0; i < 64; i++)
      leaves[i] = i == rep % 64
                      ? dusk_call(g, t_kaboom, (void *)(intptr_t)i, 0, NULL)
                      : dusk_call(g, t_count, NULL, 0, NULL);
    dusk_node *mids[8];
    for (int i = 0; i < 8; i++)
      mids[i] = dusk_call(g, t_count, NULL, 8, leaves + 8 * i);
    dusk_node *top = dusk_call(g, t_count, NULL, 8, mids);
    ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ETASK);
    char want[32];
    snprintf(want, sizeof want, "kaboom %d", rep % 64);
    ck_assert_msg(tu_has(dusk_errmsg(top), want), "message: %s",
                  dusk_errmsg(top) ? dusk_errmsg(top) : "(null)");
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== nested */

/*
** Level k builds two nodes of level k-1 in its own graph and computes them;
** level 0 returns 1. So level k returns 2^k and runs 2^(k+1) - 1 tasks.
*/
static atomic_long g_nest_runs;
static atomic_long g_nest_errors;
static atomic_int g_nest_many; /* compute the children together */

static int t_nest(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  atomic_fetch_add(&g_nest_runs, 1);
  intptr_t level = (intptr_t)dusk_task_udata(t);
  if (level == 0) {
    *out = dusk_i64(1);
    return 0;
  }
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *kids[2];
  for (int i = 0; i < 2; i++)
    kids[i] = dusk_call(g, t_nest, (void *)(level - 1), 0, NULL);
  if (kids[0] == NULL || kids[1] == NULL) {
    atomic_fetch_add(&g_nest_errors, 1);
    return dusk_fail(t, "could not build");
  }
  dusk_value v[2];
  int rc;
  if (tu_ldi(&g_nest_many)) {
    rc = dusk_compute_many(g, 2, kids, v);
  } else {
    rc = dusk_compute(g, kids[0], &v[0]);
    if (rc == DUSK_OK)
      rc = dusk_compute(g, kids[1], &v[1]);
  }
  if (rc != DUSK_OK) {
    atomic_fetch_add(&g_nest_errors, 1);
    return dusk_fail(t, "nested compute: %s", dusk_strerror(rc));
  }
  int64_t s = v[0].i64 + v[1].i64;
  dusk_release(kids[0]);
  dusk_release(kids[1]);
  *out = dusk_i64(s);
  return 0;
}

START_TEST(test_nested_one_thread) {
  int depth = 6;
  for (int many = 0; many < 2; many++) {
    dusk_pool *p = tu_pool(1);
    dusk_graph *g = tu_graph(p);
    atomic_store(&g_nest_runs, 0);
    atomic_store(&g_nest_errors, 0);
    atomic_store(&g_nest_many, many);
    dusk_node *top = dusk_call(g, t_nest, (void *)(intptr_t)depth, 0, NULL);
    dusk_value out;
    ck_assert_int_eq(dusk_compute(g, top, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 1 << depth);
    ck_assert_int_eq(tu_ldl(&g_nest_errors), 0);
    ck_assert_int_eq(tu_ldl(&g_nest_runs), (2 << depth) - 1);
    dusk_graph_free(g);
    dusk_pool_free(p);
  }
}
END_TEST

START_TEST(test_nested_many_workers) {
  int depth = 7;
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 5; rep++) {
    dusk_graph *g = tu_graph(p);
    atomic_store(&g_nest_runs, 0);
    atomic_store(&g_nest_errors, 0);
    atomic_store(&g_nest_many, rep & 1);
    /* Several nested tops at once, over a shared sink. */
    dusk_node *tops[4];
    for (int i = 0; i < 4; i++)
      tops[i] = dusk_call(g, t_nest, (void *)(intptr_t)depth, 0, NULL);
    dusk_node *sum = dusk_call(g, t_count, NULL, 4, tops);
    dusk_value out;
    ck_assert_int_eq(dusk_compute(g, sum, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 1 + 4 * (1 << depth));
    ck_assert_int_eq(tu_ldl(&g_nest_errors), 0);
    ck_assert_int_eq(tu_ldl(&g_nest_runs), 4 * ((2 << depth) - 1));
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* Level k computes one node of level k-1: nesting k deep on one thread. */
static int t_nest_line(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)args;
  (void)nargs;
  intptr_t level = (intptr_t)dusk_task_udata(t);
  atomic_fetch_add(&g_nest_runs, 1);
  if (level == 0) {
    *out = dusk_i64(0);
    return 0;
  }
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *kid = dusk_call(g, t_nest_line, (void *)(level - 1), 0, NULL);
  dusk_value v;
  int rc = kid != NULL ? dusk_compute(g, kid, &v) : DUSK_ENOMEM;
  if (rc != DUSK_OK) {
    atomic_fetch_add(&g_nest_errors, 1);
    return dusk_fail(t, "level %d: %s", (int)level, dusk_strerror(rc));
  }
  dusk_value mine = dusk_i64(-1000000);
  if (dusk_take(kid, &mine) != DUSK_OK)
    atomic_fetch_add(&g_nest_errors, 1);
  *out = dusk_i64(mine.i64 + 1);
  return 0;
}

START_TEST(test_nested_deep) {
  int depth = (int)tu_scaled(100, 30);
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  atomic_store(&g_nest_runs, 0);
  atomic_store(&g_nest_errors, 0);
  dusk_node *top =
      dusk_call(g, t_nest_line, (void *)(intptr_t)depth, 0, NULL);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, top, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, depth);
  ck_assert_int_eq(tu_ldl(&g_nest_runs), depth + 1);
  ck_assert_int_eq(tu_ldl(&g_nest_errors), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A task that computes on a graph of its own, on the same one-thread pool. */
static dusk_pool *g_inner_pool;

static int t_inner_graph(dusk_task *t, const dusk_value *args, int nargs,
                         dusk_value *out) {
  (void)args;
  (void)nargs;
  dusk_graph *g = dusk_graph_new();
  if (g == NULL)
    return dusk_fail(t, "no graph");
  dusk_graph_set_pool(g, g_inner_pool);
  dusk_node *prev = dusk_call(g, t_count, NULL, 0, NULL);
  for (int i = 0; i < 99; i++)
    prev = dusk_call(g, t_count, NULL, 1, &prev);
  dusk_value v;
  int rc = dusk_compute(g, prev, &v);
  int64_t r = v.i64;
  dusk_graph_free(g);
  if (rc != DUSK_OK)
    return dusk_fail(t, "inner compute: %s", dusk_strerror(rc));
  *out = dusk_i64(r);
  return 0;
}

START_TEST(test_nested_other_graph) {
  g_inner_pool = tu_pool(1);
  dusk_graph *g = tu_graph(g_inner_pool);
  dusk_node *a = dusk_delayed(g, t_inner_graph);
  dusk_node *b = dusk_delayed(g, t_inner_graph);
  dusk_node *ab = dusk_delayed(g, t_count, a, b);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, ab, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 201);
  dusk_graph_free(g);
  dusk_pool_free(g_inner_pool);
}
END_TEST

/* An inner failure reaches the outer compute through the task. */
static int t_inner_fails(dusk_task *t, const dusk_value *args, int nargs,
                         dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *bad = dusk_call(g, t_kaboom, (void *)(intptr_t)9, 0, NULL);
  dusk_node *dep = dusk_call(g, t_count, NULL, 1, &bad);
  int rc = dusk_compute(g, dep, NULL);
  if (rc == DUSK_OK)
    return dusk_fail(t, "inner compute succeeded");
  const char *m = dusk_errmsg(dep);
  return dusk_fail(t, "inner: %s", m != NULL ? m : "(no message)");
}

START_TEST(test_nested_inner_failure) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *outer = dusk_delayed(g, t_inner_fails);
  dusk_node *top = dusk_delayed(g, t_count, outer);
  ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ETASK);
  const char *m = dusk_errmsg(outer);
  ck_assert_msg(tu_has(m, "inner: ") && tu_has(m, "kaboom 9"), "message: %s",
                m ? m : "(null)");
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== threads */

enum { TS_THREADS = 4, TS_SHARED = 300, TS_OWN = 200 };

typedef struct ts_shared {
  pthread_barrier_t barrier;
  dusk_graph *g;
  dag d; /* the shared part, built by the test thread */
} ts_shared;

typedef struct ts_thread {
  ts_shared *sh;
  int id;
  tn own[TS_OWN];
  int rc_build, rc_compute, mismatches;
} ts_thread;

static void *ts_main(void *arg) {
  ts_thread *me = arg;
  ts_shared *sh = me->sh;
  dag *d = &sh->d;
  uint64_t rs = 99 + (uint64_t)me->id;
  pthread_barrier_wait(&sh->barrier);
  /* Build on the shared graph while the others build and compute. */
  dusk_node *own[TS_OWN];
  uint64_t expect[TS_OWN];
  for (int j = 0; j < TS_OWN; j++) {
    int s = tu_rand_below(&rs, d->n);
    dusk_node *args[2] = {d->node[s], j > 0 ? own[j - 1] : d->node[s]};
    own[j] = dusk_call(sh->g, t_node, &me->own[j], 2, args);
    if (own[j] == NULL) {
      me->rc_build = -1;
      return NULL;
    }
    expect[j] = 1 + d->expect[s] + (j > 0 ? expect[j - 1] : d->expect[s]);
  }
  /* Request all shared nodes (so each runs once) and the own end. */
  int nt = d->n + 1;
  dusk_node **req = calloc((size_t)nt, sizeof *req);
  int *idx = calloc((size_t)nt, sizeof *idx);
  dusk_value *outs = calloc((size_t)nt, sizeof *outs);
  for (int i = 0; i < d->n; i++)
    idx[i] = i;
  for (int i = d->n - 1; i > 0; i--) { /* shuffle */
    int k = tu_rand_below(&rs, i + 1);
    int tmp = idx[i];
    idx[i] = idx[k];
    idx[k] = tmp;
  }
  for (int i = 0; i < d->n; i++)
    req[i] = d->node[idx[i]];
  req[d->n] = own[TS_OWN - 1];
  me->rc_compute = dusk_compute_many(sh->g, nt, req, outs);
  if (me->rc_compute == DUSK_OK) {
    for (int i = 0; i < d->n; i++)
      me->mismatches += (uint64_t)tu_get(&outs[i]) != d->expect[idx[i]];
    me->mismatches += (uint64_t)tu_get(&outs[d->n]) != expect[TS_OWN - 1];
  }
  free(req);
  free(idx);
  free(outs);
  return NULL;
}

START_TEST(test_threads_shared_part_runs_once) {
  int reps = (int)tu_scaled(10, 3);
  tu_reset(TS_SHARED + 16);
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < reps; rep++) {
    ts_shared sh;
    ts_thread th[TS_THREADS];
    pthread_t tid[TS_THREADS];
    memset(th, 0, sizeof th);
    sh.g = tu_graph(p);
    dag_build(&sh.d, sh.g, TS_SHARED, 3, rep & 1, 4242 + (uint64_t)rep);
    pthread_barrier_init(&sh.barrier, NULL, TS_THREADS);
    for (int i = 0; i < TS_THREADS; i++) {
      th[i].sh = &sh;
      th[i].id = i + rep * TS_THREADS;
      ck_assert_int_eq(pthread_create(&tid[i], NULL, ts_main, &th[i]), 0);
    }
    for (int i = 0; i < TS_THREADS; i++)
      pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&sh.barrier);
    for (int i = 0; i < TS_THREADS; i++) {
      ck_assert_int_eq(th[i].rc_build, 0);
      ck_assert_int_eq(th[i].rc_compute, DUSK_OK);
      ck_assert_int_eq(th[i].mismatches, 0);
      for (int j = 0; j < TS_OWN; j++)
        ck_assert_int_eq(tu_ldi(&th[i].own[j].runs), 1);
    }
    for (int i = 0; i < TS_SHARED; i++)
      ck_assert_msg(tu_ldi(&sh.d.info[i].runs) == 1,
                    "shared node %d ran %d times", i,
                    tu_ldi(&sh.d.info[i].runs));
    ck_assert_uint_eq(dusk_graph_size(sh.g), TS_SHARED + TS_THREADS * TS_OWN);
    assert_boxes_clean();
    dusk_graph_free(sh.g);
    ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
    dag_free(&sh.d);
    tu_reset(TS_SHARED + 16);
  }
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* Several threads build long chains on one graph at once, then compute. */
typedef struct cb_thread {
  pthread_barrier_t *barrier;
  dusk_graph *g;
  dusk_node *root;
  int n;
  uint64_t *ids;
  int rc;
  int64_t result;
} cb_thread;

static void *cb_main(void *arg) {
  cb_thread *c = arg;
  pthread_barrier_wait(c->barrier);
  dusk_node *prev = c->root;
  for (int i = 0; i < c->n; i++) {
    prev = dusk_call(c->g, t_inc, NULL, 1, &prev);
    if (prev == NULL) {
      c->rc = -100;
      return NULL;
    }
    c->ids[i] = dusk_node_id(prev);
  }
  pthread_barrier_wait(c->barrier);
  dusk_value out;
  c->rc = dusk_compute(c->g, prev, &out);
  c->result = c->rc == DUSK_OK ? out.i64 : -1;
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

START_TEST(test_threads_concurrent_build) {
  int n = (int)tu_scaled(50000, 5000);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *root = dusk_literal(g, dusk_i64(1000));
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, TS_THREADS);
  cb_thread c[TS_THREADS];
  pthread_t tid[TS_THREADS];
  uint64_t *ids = calloc((size_t)n * TS_THREADS, sizeof *ids);
  for (int i = 0; i < TS_THREADS; i++) {
    c[i] = (cb_thread){.barrier = &barrier, .g = g, .root = root, .n = n,
                       .ids = ids + (size_t)i * (size_t)n};
    ck_assert_int_eq(pthread_create(&tid[i], NULL, cb_main, &c[i]), 0);
  }
  for (int i = 0; i < TS_THREADS; i++)
    pthread_join(tid[i], NULL);
  pthread_barrier_destroy(&barrier);
  for (int i = 0; i < TS_THREADS; i++) {
    ck_assert_int_eq(c[i].rc, DUSK_OK);
    ck_assert_int_eq(c[i].result, 1000 + n);
  }
  ck_assert_uint_eq(dusk_graph_size(g), 1 + (size_t)n * TS_THREADS);
  qsort(ids, (size_t)n * TS_THREADS, sizeof *ids, cmp_u64);
  for (size_t i = 1; i < (size_t)n * TS_THREADS; i++)
    ck_assert_msg(ids[i] != ids[i - 1], "two nodes share id %llu",
                  (unsigned long long)ids[i]);
  free(ids);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** Two computes overlap on a node that is not kept: B starts while A runs
** the slow node S, so S is "running in another compute" and must not run
** again. S waits until B's own branch Y has run (so B's compute is under
** way), then a little longer, then returns.
*/
typedef struct overlap {
  atomic_int s_started, y_ran, s_runs;
} overlap;
static overlap g_ov;

static int t_slow(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  atomic_fetch_add(&g_ov.s_runs, 1);
  atomic_store(&g_ov.s_started, 1);
  tu_wait_flag(&g_ov.y_ran, 20000);
  tu_sleep_ms(TU_SANITIZED ? 300 : 100);
  *out = dusk_i64(7);
  return 0;
}

static int t_ysig(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  atomic_store(&g_ov.y_ran, 1);
  *out = dusk_i64(100);
  return 0;
}

START_TEST(test_threads_overlap_running_node) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 3; rep++) {
    memset(&g_ov, 0, sizeof g_ov);
    dusk_graph *g = tu_graph(p);
    dusk_node *s = dusk_delayed(g, t_slow);
    dusk_node *y = dusk_delayed(g, t_ysig);
    dusk_node *ta = dusk_delayed(g, t_count, s);
    dusk_node *tb = dusk_delayed(g, t_count, s, y);
    bg_compute a = {.g = g, .n = ta}, b = {.g = g, .n = tb};
    pthread_t tha, thb;
    ck_assert_int_eq(pthread_create(&tha, NULL, bg_compute_main, &a), 0);
    ck_assert(tu_wait_flag(&g_ov.s_started, 30000));
    ck_assert_int_eq(pthread_create(&thb, NULL, bg_compute_main, &b), 0);
    pthread_join(tha, NULL);
    pthread_join(thb, NULL);
    ck_assert_int_eq(a.rc, DUSK_OK);
    ck_assert_int_eq(b.rc, DUSK_OK);
    ck_assert_int_eq(a.out.i64, 8);
    ck_assert_int_eq(b.out.i64, 108);
    ck_assert_int_eq(tu_ldi(&g_ov.s_runs), 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* Fails once the slow node S has started (so that its compute stops while
   S runs). */
static int t_fail_after_s(dusk_task *t, const dusk_value *args, int nargs,
                          dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  tu_wait_flag(&g_ov.s_started, 20000);
  return dusk_fail(t, "unrelated failure");
}

/*
** A gives up a node that B waits for: A claims S and M = S + 1 and a task F
** that fails while S runs; B needs M and its own Y, and registers on M while
** A runs S. When S is done, A has stopped, so M is not run ("the compute
** stopped"); B needs no failing task, so it must not fail: it computes M
** (and S) again itself. Every other round B is a started future that is
** then waited for: the wait runs what was given up.
*/
static void *bg_start_get_main(void *arg) {
  bg_compute *c = arg;
  c->rc = dusk_start(c->g, 1, &c->n);
  if (c->rc == DUSK_OK)
    c->rc = dusk_get(c->n, &c->out);
  return NULL;
}

START_TEST(test_threads_overlap_given_up_node_retried) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 4; rep++) {
    memset(&g_ov, 0, sizeof g_ov);
    dusk_graph *g = tu_graph(p);
    dusk_node *s = dusk_delayed(g, t_slow);
    dusk_node *m = dusk_delayed(g, t_inc, s);
    dusk_node *y = dusk_delayed(g, t_ysig);
    dusk_node *f = dusk_delayed(g, t_fail_after_s);
    dusk_node *ta = dusk_delayed(g, t_count, m, f);
    dusk_node *tb = dusk_delayed(g, t_count, m, y);
    bg_compute a = {.g = g, .n = ta}, b = {.g = g, .n = tb};
    pthread_t tha, thb;
    ck_assert_int_eq(pthread_create(&tha, NULL, bg_compute_main, &a), 0);
    ck_assert(tu_wait_flag(&g_ov.s_started, 30000));
    ck_assert_int_eq(pthread_create(&thb, NULL,
                                    rep % 2 ? bg_start_get_main
                                            : bg_compute_main,
                                    &b),
                     0);
    pthread_join(tha, NULL);
    pthread_join(thb, NULL);
    ck_assert_int_eq(a.rc, DUSK_ETASK);
    ck_assert_msg(b.rc == DUSK_OK, "B failed: %s",
                  dusk_errmsg(tb) ? dusk_errmsg(tb) : "?");
    ck_assert_int_eq(b.out.i64, 7 + 1 + 100 + 1);
    /* S ran for A (its result was never used) and again for B, unless B's
       registration came after M was given up. */
    ck_assert_int_ge(tu_ldi(&g_ov.s_runs), 1);
    ck_assert_int_le(tu_ldi(&g_ov.s_runs), 2);
    ck_assert_int_eq(dusk_status(m), DUSK_NOT_STARTED); /* B freed it */
    dusk_release(tb);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== scale */

typedef struct chain_job {
  long n;
  int rc_build, rc_compute;
  int64_t result;
  long maxrss_kb;
  dusk_pool *pool;
} chain_job;

/* Build, compute and free a chain of n, then build and free one unrun. */
static void *chain_main(void *arg) {
  chain_job *j = arg;
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, j->pool);
  dusk_node *prev = dusk_literal(g, dusk_i64(0));
  for (long i = 0; i < j->n && prev != NULL; i++)
    prev = dusk_call(g, t_inc, NULL, 1, &prev);
  j->rc_build = prev != NULL ? 0 : -1;
  dusk_value out = dusk_i64(-1);
  if (prev != NULL)
    j->rc_compute = dusk_compute(g, prev, &out);
  j->result = out.i64;
  dusk_graph_free(g);
  g = dusk_graph_new();
  prev = dusk_literal(g, dusk_i64(0));
  for (long i = 0; i < j->n && prev != NULL; i++)
    prev = dusk_call(g, t_inc, NULL, 1, &prev);
  if (prev == NULL)
    j->rc_build = -2;
  dusk_graph_free(g);
  return NULL;
}

/*
** A chain of a million, built, computed and freed on a thread with a small
** stack (512 KiB): any recursion over the chain overflows it.
*/
START_TEST(test_scale_chain_million_no_recursion) {
  chain_job j = {.n = tu_scaled(1000000, 100000), .pool = tu_pool(2)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, TU_SANITIZED ? 2u << 20 : 512u << 10);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, &attr, chain_main, &j), 0);
  pthread_join(th, NULL);
  pthread_attr_destroy(&attr);
  ck_assert_int_eq(j.rc_build, 0);
  ck_assert_int_eq(j.rc_compute, DUSK_OK);
  ck_assert_int_eq(j.result, j.n);
  dusk_pool_free(j.pool);
}
END_TEST

/* Ten million nodes (a chain, computed) within 2 GB of peak RSS. */
START_TEST(test_scale_ten_million_nodes) {
  long n = tu_scaled(10000000, 200000);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  double t0 = tu_now_ms();
  dusk_node *prev = dusk_literal(g, dusk_i64(0));
  for (long i = 1; i < n && prev != NULL; i++)
    prev = dusk_call(g, t_inc, NULL, 1, &prev);
  ck_assert_ptr_nonnull(prev);
  ck_assert_uint_eq(dusk_graph_size(g), (size_t)n);
  double t1 = tu_now_ms();
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, prev, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, n - 1);
  double t2 = tu_now_ms();
  long rss = tu_maxrss_kb();
  dusk_graph_free(g);
  double t3 = tu_now_ms();
  printf("scale: %ld nodes: build %.0f ms, compute %.0f ms, free %.0f ms, "
         "peak RSS %ld MiB (%.0f bytes/node)\n",
         n, t1 - t0, t2 - t1, t3 - t2, rss / 1024,
         (double)rss * 1024.0 / (double)n);
  if (!TU_SANITIZED) {
    /* 2 GB for ten million: 200 bytes a node, plus 64 MiB to start. */
    long bound_kb = (long)((double)n * 200.0 / 1024.0) + 64 * 1024;
    ck_assert_msg(rss <= bound_kb, "peak RSS %ld KiB > %ld KiB for %ld nodes",
                  rss, bound_kb, n);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== idle */

static double busy_cpu_over(double ms) {
  double c0 = tu_cpu_ms();
  tu_sleep_ms(ms);
  return tu_cpu_ms() - c0;
}

START_TEST(test_idle_pool_uses_no_cpu) {
  double bound = TU_SANITIZED ? 90 : 30;
  int before = tu_thread_baseline();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *prev = dusk_call(g, t_count, NULL, 0, NULL);
  for (int i = 0; i < 10000; i++)
    prev = dusk_call(g, t_count, NULL, 1, &prev);
  ck_assert_int_eq(dusk_compute(g, prev, NULL), DUSK_OK);
  ck_assert_int_eq(tu_thread_count() - before, 2);
  double cpu = busy_cpu_over(300);
  ck_assert_msg(cpu < bound, "an idle pool of 2 used %.1f ms CPU in 300 ms",
                cpu);
  /* Idle again after more work, and idle when never used. */
  dusk_release(prev);
  ck_assert_int_eq(dusk_compute(g, prev, NULL), DUSK_OK);
  cpu = busy_cpu_over(300);
  ck_assert_msg(cpu < bound, "after a second compute: %.1f ms CPU", cpu);
  dusk_pool *q = tu_pool(2);
  cpu = busy_cpu_over(300);
  ck_assert_msg(cpu < bound, "two idle pools: %.1f ms CPU", cpu);
  dusk_pool_free(q);
  dusk_graph_free(g);
  dusk_pool_free(p);
  ck_assert_int_eq(tu_thread_count(), before);
}
END_TEST

START_TEST(test_idle_default_pool_uses_no_cpu) {
  double bound = TU_SANITIZED ? 90 : 30;
  dusk_graph *g = dusk_graph_new();
  dusk_node *prev = dusk_call(g, t_count, NULL, 0, NULL);
  for (int i = 0; i < 1000; i++)
    prev = dusk_call(g, t_count, NULL, 1, &prev);
  ck_assert_int_eq(dusk_compute(g, prev, NULL), DUSK_OK);
  ck_assert_ptr_nonnull(dusk_default_pool());
  double cpu = busy_cpu_over(300);
  ck_assert_msg(cpu < bound, "the idle default pool used %.1f ms CPU", cpu);
  dusk_graph_free(g);
}
END_TEST

/* ====================================================== pools */

START_TEST(test_pools_sizes_and_threads) {
  int before = tu_thread_baseline();
  dusk_pool *p = tu_pool(3);
  dusk_graph *g = tu_graph(p);
  ck_assert_int_eq(dusk_compute(g, dusk_delayed(g, t_count), NULL), DUSK_OK);
  ck_assert_int_eq(tu_thread_count() - before, 3);
  /* Back to the default pool. */
  dusk_graph_set_pool(g, NULL);
  ck_assert_int_eq(dusk_compute(g, dusk_delayed(g, t_count), NULL), DUSK_OK);
  dusk_graph_free(g);
  dusk_pool_free(p);
  dusk_pool_free(NULL);
  ck_assert_ptr_nonnull(dusk_default_pool());
  ck_assert_ptr_eq(dusk_default_pool(), dusk_default_pool());
  ck_assert_int_ge(dusk_pool_size(dusk_default_pool()), 1);
}
END_TEST

START_TEST(test_pools_bad_sizes) {
  const char *m = NULL;
  ck_assert_ptr_null(dusk_pool_new(-1));
  ck_assert_int_eq(dusk_last_error(&m), DUSK_EINVAL);
  ck_assert(m != NULL && m[0] != '\0');
  ck_assert_ptr_null(dusk_pool_new(1025));
  ck_assert_int_eq(dusk_last_error(NULL), DUSK_EINVAL);
}
END_TEST

/* ====================================================== num_threads */

typedef struct child_report {
  int default_size;
  int pool0_size;
  int thread_delta;
  int computed;
} child_report;

static int cores_now(int *alt) {
  cpu_set_t set;
  *alt = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
  return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/*
** The child's side, in a fresh process (main() calls it when
** DUSK_TEST_NUM_THREADS_CHILD names the pipe to report on): make the default
** pool, report its size, the threads it started, and dusk_pool_new(0)'s size.
*/
static int num_threads_child(int fd) {
  child_report r = {0};
  int before = tu_thread_baseline();
  dusk_pool *d = dusk_default_pool();
  r.default_size = d != NULL ? dusk_pool_size(d) : -1;
  dusk_graph *g = dusk_graph_new();
  r.computed = dusk_compute(g, dusk_delayed(g, t_count), NULL) == DUSK_OK;
  dusk_graph_free(g);
  r.thread_delta = tu_thread_count() - before;
  dusk_pool *p0 = dusk_pool_new(0);
  r.pool0_size = p0 != NULL ? dusk_pool_size(p0) : -1;
  dusk_pool_free(p0);
  return write(fd, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1;
}

/*
** Run num_threads_child() with DUSK_NUM_THREADS set to env (NULL: unset) in
** a new process image, since the default pool is made once per process and
** threads do not survive fork (this works with CK_FORK=no too). The child's
** stderr is captured into err.
*/
static child_report run_child(const char *env, char *err, size_t errlen) {
  child_report rep;
  memset(&rep, 0, sizeof rep);
  int pfd[2];
  ck_assert_int_eq(pipe(pfd), 0);
  FILE *errf = tmpfile();
  ck_assert_ptr_nonnull(errf);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char fd[16];
    snprintf(fd, sizeof fd, "%d", pfd[1]);
    close(pfd[0]);
    dup2(fileno(errf), 2);
    setenv("DUSK_TEST_NUM_THREADS_CHILD", fd, 1);
    if (env != NULL)
      setenv("DUSK_NUM_THREADS", env, 1);
    else
      unsetenv("DUSK_NUM_THREADS");
    execl("/proc/self/exe", "test_compute", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  ssize_t got = read(pfd[0], &rep, sizeof rep);
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  fflush(errf);
  rewind(errf);
  size_t n = fread(err, 1, errlen - 1, errf);
  err[n] = '\0';
  fclose(errf);
  ck_assert_msg(got == (ssize_t)sizeof rep && WIFEXITED(status) &&
                    WEXITSTATUS(status) == 0,
                "child for DUSK_NUM_THREADS=%s failed (status %d): %s",
                env ? env : "(unset)", status, err);
  return rep;
}

START_TEST(test_num_threads_env_sets_size) {
  char err[1024];
  child_report r = run_child("3", err, sizeof err);
  ck_assert_int_eq(r.default_size, 3);
  ck_assert_int_eq(r.computed, 1);
  ck_assert_int_eq(r.thread_delta, 3);
  ck_assert_int_eq(r.pool0_size, 3);
  ck_assert_msg(err[0] == '\0', "unexpected warning: %s", err);
  r = run_child("1", err, sizeof err);
  ck_assert_int_eq(r.default_size, 1);
  ck_assert_int_eq(r.thread_delta, 1);
}
END_TEST

START_TEST(test_num_threads_unset_uses_cores) {
  char err[1024];
  int alt, cores = cores_now(&alt);
  child_report r = run_child(NULL, err, sizeof err);
  ck_assert_msg(r.default_size == cores || r.default_size == alt,
                "default pool of %d threads, %d cores", r.default_size, cores);
  ck_assert_int_eq(r.thread_delta, r.default_size);
  ck_assert_int_eq(r.pool0_size, r.default_size);
  ck_assert_msg(err[0] == '\0', "unexpected warning: %s", err);
}
END_TEST

START_TEST(test_num_threads_invalid_falls_back) {
  const char *bad[] = {"abc", "0", "-2", "1025", "3x", "1.5"};
  int alt, cores = cores_now(&alt);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[1024];
    child_report r = run_child(bad[i], err, sizeof err);
    ck_assert_msg(r.default_size == cores || r.default_size == alt,
                  "DUSK_NUM_THREADS=%s: %d threads, %d cores", bad[i],
                  r.default_size, cores);
    ck_assert_int_eq(r.computed, 1);
    ck_assert_msg(err[0] != '\0', "DUSK_NUM_THREADS=%s: no warning", bad[i]);
  }
}
END_TEST

/* ====================================================== suite */

static Suite *compute_suite(void) {
  Suite *s = suite_create("compute");
  double slow = TU_SANITIZED ? 900 : 300;
  TCase *tc;

  tc = tcase_create("values");
  tcase_add_test(tc, test_values_constructors);
  tcase_add_test(tc, test_values_clear_frees_once);
  tcase_add_test(tc, test_values_strerror);
  suite_add_tcase(s, tc);

  tc = tcase_create("lazy");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_lazy_build_runs_nothing);
  tcase_add_test(tc, test_lazy_refuses_bad_calls);
  tcase_add_test(tc, test_lazy_call_without_args);
  tcase_add_test(tc, test_lazy_literal_owned_once);
  suite_add_tcase(s, tc);

  tc = tcase_create("nodes");
  tcase_add_test(tc, test_nodes_names_and_ids);
  suite_add_tcase(s, tc);

  tc = tcase_create("tasks");
  tcase_add_test(tc, test_tasks_context);
  suite_add_tcase(s, tc);

  tc = tcase_create("once");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_once_diamond);
  tcase_add_test(tc, test_once_repeated_argument);
  tcase_add_test(tc, test_once_only_needed);
  tcase_add_test(tc, test_once_unneeded_consumer);
  suite_add_tcase(s, tc);

  tc = tcase_create("order");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_order_args_in_given_order);
  tcase_add_test(tc, test_order_after_all_args);
  suite_add_tcase(s, tc);

  tc = tcase_create("memory");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_memory_freed_after_last_consumer);
  tcase_add_test(tc, test_memory_lives_until_last_consumer);
  tcase_add_test(tc, test_memory_chain_constant);
  tcase_add_test(tc, test_memory_fanout_bounded);
  tcase_add_test(tc, test_memory_kept_survives_later_compute);
  tcase_add_test(tc, test_memory_graph_free_releases_all);
  suite_add_tcase(s, tc);

  tc = tcase_create("results");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_results_kept_until_release);
  tcase_add_test(tc, test_results_take_moves_out);
  tcase_add_test(tc, test_results_take_errors);
  tcase_add_test(tc, test_results_take_busy_while_read);
  tcase_add_test(tc, test_results_release_deferred_while_read);
  tcase_add_test(tc, test_results_compute_invalid);
  tcase_add_test(tc, test_results_compute_many);
  suite_add_tcase(s, tc);

  tc = tcase_create("errors");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_errors_message_names_node);
  tcase_add_test(tc, test_errors_dependent_names_upstream);
  tcase_add_test(tc, test_errors_task_code_returned);
  tcase_add_test(tc, test_errors_no_task_starts_after_failure);
  tcase_add_test(tc, test_errors_results_released);
  tcase_add_test(tc, test_errors_compute_again_retries);
  tcase_add_test(tc, test_errors_cause_run_again_since);
  tcase_add_test(tc, test_errors_compute_many_keeps_nothing);
  tcase_add_test(tc, test_errors_nothing_hangs);
  suite_add_tcase(s, tc);

  tc = tcase_create("nested");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_nested_one_thread);
  tcase_add_test(tc, test_nested_many_workers);
  tcase_add_test(tc, test_nested_deep);
  tcase_add_test(tc, test_nested_other_graph);
  tcase_add_test(tc, test_nested_inner_failure);
  suite_add_tcase(s, tc);

  tc = tcase_create("threads");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_threads_shared_part_runs_once);
  tcase_add_test(tc, test_threads_concurrent_build);
  tcase_add_test(tc, test_threads_overlap_running_node);
  tcase_add_test(tc, test_threads_overlap_given_up_node_retried);
  suite_add_tcase(s, tc);

  tc = tcase_create("scale");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_scale_chain_million_no_recursion);
  tcase_add_test(tc, test_scale_ten_million_nodes);
  suite_add_tcase(s, tc);

  tc = tcase_create("idle");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_idle_pool_uses_no_cpu);
  tcase_add_test(tc, test_idle_default_pool_uses_no_cpu);
  suite_add_tcase(s, tc);

  tc = tcase_create("pools");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_pools_sizes_and_threads);
  tcase_add_test(tc, test_pools_bad_sizes);
  suite_add_tcase(s, tc);

  tc = tcase_create("num_threads");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_num_threads_env_sets_size);
  tcase_add_test(tc, test_num_threads_unset_uses_cores);
  tcase_add_test(tc, test_num_threads_invalid_falls_back);
  suite_add_tcase(s, tc);

  return s;
}

int main(void) {
  const char *child = getenv("DUSK_TEST_NUM_THREADS_CHILD");
  if (child != NULL)
    return num_threads_child(atoi(child));
  return tu_run(compute_suite());
}
