/*
** Resource classes: tasks tagged with a class never run more than the
** pool's limit for it at once (counted by the tasks themselves), a worker
** never blocks for a slot while other work waits, raising a limit starts
** waiting tasks, failures and cancellations give every slot back, and bad
** calls are refused with a clear error.
*/
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What the limited tasks count: how many are in at once, the most seen. */
typedef struct meter {
  atomic_int in, most, runs;
  atomic_int gate;       /* tasks wait until it is set (if wait_gate)   */
  atomic_int cpu_done;   /* unlimited tasks that ended                   */
  int cpu_total;         /* gated tasks wait for that many to end       */
  int wait_gate, timed_out;
  double hold_ms;
} meter;

static meter g_m;

static void meter_reset(void) { memset(&g_m, 0, sizeof g_m); }

static void note_in(void) {
  int now = atomic_fetch_add(&g_m.in, 1) + 1;
  int most = atomic_load(&g_m.most);
  while (now > most && !atomic_compare_exchange_weak(&g_m.most, &most, now))
    ;
  atomic_fetch_add(&g_m.runs, 1);
}

/* Wait (up to 30 s) until *a is at least n; true if it got there. */
static int wait_at_least(atomic_int *a, int n) {
  double until = tu_now_ms() + 30000;
  while (atomic_load(a) < n && tu_now_ms() < until)
    tu_sleep_ms(1);
  return atomic_load(a) >= n;
}

/* A limited task: counts itself in, holds its slot a while, returns 1. */
static int t_io(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  note_in();
  if (g_m.wait_gate && !tu_wait_flag(&g_m.gate, 30000))
    g_m.timed_out = 1;
  if (g_m.cpu_total && !wait_at_least(&g_m.cpu_done, g_m.cpu_total))
    g_m.timed_out = 1; /* waited for every unlimited task to end */
  if (g_m.hold_ms > 0)
    tu_sleep_ms(g_m.hold_ms);
  atomic_fetch_sub(&g_m.in, 1);
  *out = dusk_i64(1);
  return 0;
}

static int t_cpu(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  atomic_fetch_add(&g_m.cpu_done, 1);
  *out = dusk_i64(1);
  return 0;
}

static int t_sum(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < nargs; i++)
    s += args[i].i64;
  *out = dusk_i64(s);
  return 0;
}

static int t_fail(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  return dusk_fail(t, "broken on purpose");
}

/* n tasks of class `cls` (NULL: none) and their sum. */
static dusk_node *fan(dusk_graph *g, int n, dusk_fn fn, const char *cls,
                      dusk_node **nodes) {
  for (int i = 0; i < n; i++) {
    nodes[i] = dusk_call(g, fn, NULL, 0, NULL);
    ck_assert_ptr_nonnull(nodes[i]);
    if (cls)
      ck_assert_int_eq(dusk_set_resource(nodes[i], cls), DUSK_OK);
  }
  return dusk_call(g, t_sum, NULL, n, nodes);
}

/* ====================================================== limit */

START_TEST(test_limit_never_exceeded) {
  for (int limit = 1; limit <= 3; limit++) {
    meter_reset();
    g_m.hold_ms = 2;
    dusk_pool *p = tu_pool(4);
    ck_assert_int_eq(dusk_pool_set_limit(p, "io", limit), DUSK_OK);
    ck_assert_int_eq(dusk_pool_limit(p, "io"), limit);
    dusk_graph *g = tu_graph(p);
    dusk_node *nodes[60];
    dusk_node *sum = fan(g, 60, t_io, "io", nodes);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 60);
    ck_assert_int_eq(tu_ldi(&g_m.runs), 60);
    ck_assert_msg(tu_ldi(&g_m.most) <= limit, "%d ran at once, limit %d",
                  tu_ldi(&g_m.most), limit);
    ck_assert_int_eq(tu_ldi(&g_m.in), 0);
    dusk_graph_free(g);
    dusk_pool_free(p);
  }
}
END_TEST

/*
** A graph that uses two class names: the first one named ("cpu", no limit)
** must not stand for the other ("io", limit 1). A graph of one name answers
** a node's class without its table; a second name must end that.
*/
START_TEST(test_limit_second_name_in_a_graph) {
  meter_reset();
  g_m.hold_ms = 2;
  dusk_pool *p = tu_pool(4);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  dusk_graph *g = tu_graph(p);
  dusk_node *first = dusk_call(g, t_cpu, NULL, 0, NULL);
  ck_assert_int_eq(dusk_set_resource(first, "cpu"), DUSK_OK);
  dusk_node *nodes[40];
  dusk_node *sum = fan(g, 40, t_io, "io", nodes);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 40);
  ck_assert_int_eq(dusk_compute(g, first, &v), DUSK_OK);
  ck_assert_str_eq(dusk_resource(first), "cpu");
  ck_assert_str_eq(dusk_resource(nodes[0]), "io");
  ck_assert_msg(tu_ldi(&g_m.most) == 1, "%d io tasks ran at once, limit 1",
                tu_ldi(&g_m.most));
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* Without a limit the same tasks do run side by side: the meter works. */
START_TEST(test_limit_none_runs_side_by_side) {
  meter_reset();
  g_m.hold_ms = 20;
  dusk_pool *p = tu_pool(4);
  dusk_graph *g = tu_graph(p);
  dusk_node *nodes[16];
  dusk_node *sum = fan(g, 16, t_io, "io", nodes); /* tagged, no limit */
  ck_assert_int_eq(dusk_pool_limit(p, "io"), 0);
  ck_assert_int_eq(dusk_compute(g, sum, NULL), DUSK_OK);
  ck_assert_int_ge(tu_ldi(&g_m.most), 2);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

typedef struct bg {
  dusk_graph *g;
  dusk_node *n;
  int rc;
  int64_t v;
} bg;

static void *bg_main(void *arg) {
  bg *b = arg;
  dusk_value v = {.kind = DUSK_NONE};
  b->rc = dusk_compute(b->g, b->n, &v);
  b->v = v.i64;
  return NULL;
}

/* The limit is the pool's: computes of several graphs on several threads
   share it. */
START_TEST(test_limit_shared_by_graphs_and_threads) {
  meter_reset();
  g_m.hold_ms = 1;
  dusk_pool *p = tu_pool(4);
  ck_assert_int_eq(dusk_pool_set_limit(p, "hdf5", 2), DUSK_OK);
  enum { T = 4, N = 30 };
  dusk_graph *gs[T];
  bg b[T];
  pthread_t th[T];
  dusk_node *nodes[T][N];
  for (int i = 0; i < T; i++) {
    gs[i] = tu_graph(p);
    b[i] = (bg){.g = gs[i], .n = fan(gs[i], N, t_io, "hdf5", nodes[i])};
  }
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, bg_main, &b[i]), 0);
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    ck_assert_int_eq(b[i].rc, DUSK_OK);
    ck_assert_int_eq(b[i].v, N);
  }
  ck_assert_int_le(tu_ldi(&g_m.most), 2);
  ck_assert_int_eq(tu_ldi(&g_m.runs), T * N);
  for (int i = 0; i < T; i++)
    dusk_graph_free(gs[i]);
  dusk_pool_free(p);
}
END_TEST

/* Two classes are limited apart; untagged tasks are not limited. */
START_TEST(test_limit_classes_apart) {
  meter_reset();
  dusk_pool *p = tu_pool(2);
  ck_assert_int_eq(dusk_pool_set_limit(p, "a", 1), DUSK_OK);
  ck_assert_int_eq(dusk_pool_set_limit(p, "b", 5), DUSK_OK);
  ck_assert_int_eq(dusk_pool_limit(p, "a"), 1);
  ck_assert_int_eq(dusk_pool_limit(p, "b"), 5);
  ck_assert_int_eq(dusk_pool_limit(p, "c"), 0);
  dusk_graph *g = tu_graph(p);
  dusk_node *n = dusk_call(g, t_cpu, NULL, 0, NULL);
  ck_assert_ptr_null(dusk_resource(n));
  ck_assert_int_eq(dusk_set_resource(n, "a"), DUSK_OK);
  ck_assert_str_eq(dusk_resource(n), "a");
  ck_assert_int_eq(dusk_set_resource(n, "b"), DUSK_OK);
  ck_assert_str_eq(dusk_resource(n), "b");
  ck_assert_int_eq(dusk_set_resource(n, NULL), DUSK_OK);
  ck_assert_ptr_null(dusk_resource(n));
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, n, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** A task with a gate of its own (udata: a held). A tagged one counts itself
** into the meter and records how many tagged tasks were in when it started,
** itself included; an untagged one only holds its worker while shut.
*/
typedef struct held {
  atomic_int gate, started, runs, seen, timed_out;
  int gated;
} held;

static int t_held(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  held *h = dusk_task_udata(t);
  int tagged = dusk_resource(dusk_task_node(t)) != NULL;
  if (tagged) {
    note_in();
    atomic_store(&h->seen, atomic_load(&g_m.in));
  }
  atomic_fetch_add(&h->runs, 1);
  atomic_store(&h->started, 1);
  if (h->gated && !tu_wait_flag(&h->gate, 30000))
    atomic_store(&h->timed_out, 1);
  if (tagged)
    atomic_fetch_sub(&g_m.in, 1);
  *out = dusk_i64(1);
  return 0;
}

/* Sets its flag (udata); returns 1 + the sum of its arguments. */
static int t_flag(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  atomic_store((atomic_int *)dusk_task_udata(t), 1);
  int64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += args[i].i64;
  *out = dusk_i64(s);
  return 0;
}

/*
** A limit lowered below the tasks of its class that run counts only for
** tasks that start afterwards: those go on, and a new one waits until fewer
** than the new limit run. Deterministic on three workers: A and B (limit 3)
** hold two, and every step runs on the third or on the worker that A or B
** frees, in an order the test knows:
**  - D is tried on the free worker right after its argument X (the node a
**    task finishes runs next there); S, started once X ran, can only run
**    after that. With the old limit D would have started: 2 < 3.
**  - K then holds the free worker. When A ends, its worker gives its slot
**    back before it runs ZA (A's consumer); no other worker is free to run
**    ZA first. One task still runs: not under the limit, D still waits.
**  - When B ends, D takes its slot and sees no other task of the class.
*/
START_TEST(test_limit_lowered_counts_for_later_tasks) {
  meter_reset();
  dusk_pool *p = tu_pool(3);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 3), DUSK_OK);
  dusk_graph *g = tu_graph(p);
  held a = {.gated = 1}, b = {.gated = 1}, d = {0}, k = {.gated = 1};
  atomic_int x_ran = 0, s_ran = 0, za_ran = 0, zb_ran = 0;
  dusk_node *na = dusk_call(g, t_held, &a, 0, NULL);
  dusk_node *nb = dusk_call(g, t_held, &b, 0, NULL);
  ck_assert_int_eq(dusk_set_resource(na, "io"), DUSK_OK);
  ck_assert_int_eq(dusk_set_resource(nb, "io"), DUSK_OK);
  dusk_node *za = dusk_call(g, t_flag, &za_ran, 1, &na);
  dusk_node *zb = dusk_call(g, t_flag, &zb_ran, 1, &nb);
  ck_assert_int_eq(dusk_start(g, 2, (dusk_node *[]){za, zb}), DUSK_OK);
  ck_assert(tu_wait_flag(&a.started, 30000));
  ck_assert(tu_wait_flag(&b.started, 30000));

  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  ck_assert_int_eq(dusk_pool_limit(p, "io"), 1);
  ck_assert_int_eq(dusk_status(na), DUSK_RUNNING); /* not stopped */
  ck_assert_int_eq(dusk_status(nb), DUSK_RUNNING);

  dusk_node *x = dusk_call(g, t_flag, &x_ran, 0, NULL);
  dusk_node *nd = dusk_call(g, t_held, &d, 1, &x);
  ck_assert_int_eq(dusk_set_resource(nd, "io"), DUSK_OK);
  ck_assert_int_eq(dusk_start(g, 1, &nd), DUSK_OK);
  ck_assert(tu_wait_flag(&x_ran, 30000));
  dusk_node *s = dusk_call(g, t_flag, &s_ran, 0, NULL);
  ck_assert_int_eq(dusk_start(g, 1, &s), DUSK_OK);
  ck_assert_int_eq(dusk_wait(s), DUSK_OK);
  ck_assert_msg(tu_ldi(&d.runs) == 0,
                "D started with %d tasks of its class in, limit 1",
                tu_ldi(&d.seen));
  ck_assert(dusk_status(nd) != DUSK_RUNNING && !dusk_ready(nd));

  dusk_node *nk = dusk_call(g, t_held, &k, 0, NULL); /* no class */
  ck_assert_int_eq(dusk_start(g, 1, &nk), DUSK_OK);
  ck_assert(tu_wait_flag(&k.started, 30000));
  atomic_store(&a.gate, 1);
  ck_assert_int_eq(dusk_wait(za), DUSK_OK);
  ck_assert_msg(tu_ldi(&d.runs) == 0,
                "D started with %d tasks of its class in, limit 1",
                tu_ldi(&d.seen));

  atomic_store(&b.gate, 1);
  ck_assert_int_eq(dusk_wait(nd), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&d.runs), 1);
  ck_assert_int_eq(tu_ldi(&d.seen), 1);
  atomic_store(&k.gate, 1);
  dusk_value v;
  ck_assert_int_eq(dusk_get(za, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 2);
  ck_assert_int_eq(dusk_get(zb, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 2);
  ck_assert_int_eq(dusk_wait(nk), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&a.runs), 1);
  ck_assert_int_eq(tu_ldi(&b.runs), 1);
  ck_assert(!tu_ldi(&a.timed_out) && !tu_ldi(&b.timed_out) &&
            !tu_ldi(&k.timed_out));
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== no_block */

/*
** Limit 1 on two workers. Started first, the limited tasks take one worker
** (the one that runs holds it until every unlimited task has ended) and the
** other worker sets the rest aside. Then unlimited tasks are computed: only
** that second worker can run them. Had it blocked waiting for a slot, the
** first task would wait for ever (here: time out after 30 s).
*/
START_TEST(test_no_block_other_work_runs) {
  meter_reset();
  enum { IO = 6, CPU = 200 };
  g_m.cpu_total = CPU;
  dusk_pool *p = tu_pool(2);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  dusk_graph *g = tu_graph(p);
  dusk_node *io[IO], *cpu[CPU];
  dusk_node *io_sum = fan(g, IO, t_io, "io", io);
  dusk_node *cpu_sum = fan(g, CPU, t_cpu, NULL, cpu);
  ck_assert_int_eq(dusk_start(g, IO, io), DUSK_OK);
  /* Wait until one runs and the others were seen by the other worker. */
  ck_assert(wait_at_least(&g_m.runs, 1));
  tu_sleep_ms(20);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, cpu_sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, CPU);
  ck_assert_int_eq(dusk_compute(g, io_sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, IO);
  ck_assert_msg(!g_m.timed_out, "a worker blocked while other work waited");
  ck_assert_int_eq(tu_ldi(&g_m.most), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* Raising the limit starts waiting tasks at once: three get in together. */
START_TEST(test_no_block_raise_starts_waiting) {
  meter_reset();
  g_m.wait_gate = 1;
  dusk_pool *p = tu_pool(4);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  dusk_graph *g = tu_graph(p);
  dusk_node *io[6];
  dusk_node *sum = fan(g, 6, t_io, "io", io);
  ck_assert_int_eq(dusk_start(g, 1, &sum), DUSK_OK);
  ck_assert(wait_at_least(&g_m.in, 1));
  tu_sleep_ms(30);
  ck_assert_int_eq(tu_ldi(&g_m.in), 1); /* the others wait */
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 3), DUSK_OK);
  ck_assert(wait_at_least(&g_m.in, 3));
  ck_assert_int_eq(tu_ldi(&g_m.in), 3);
  atomic_store(&g_m.gate, 1);
  dusk_value v;
  ck_assert_int_eq(dusk_get(sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 6);
  ck_assert_int_le(tu_ldi(&g_m.most), 3);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== failures */

/*
** A compute whose limited tasks wait behind a failure stops; the waiting
** tasks are finished without running and hand their slots on, so a later
** compute with the same limit runs (a lost slot would make it hang).
*/
START_TEST(test_failures_give_slots_back) {
  meter_reset();
  g_m.hold_ms = 1;
  dusk_pool *p = tu_pool(3);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  for (int round = 0; round < 20; round++) {
    dusk_graph *g = tu_graph(p);
    dusk_node *nodes[21];
    for (int i = 0; i < 20; i++) {
      nodes[i] = dusk_call(g, t_io, NULL, 0, NULL);
      ck_assert_int_eq(dusk_set_resource(nodes[i], "io"), DUSK_OK);
    }
    nodes[20] = dusk_call(g, t_fail, NULL, 0, NULL);
    ck_assert_int_eq(dusk_set_resource(nodes[20], "io"), DUSK_OK);
    dusk_node *sum = dusk_call(g, t_sum, NULL, 21, nodes);
    ck_assert_int_eq(dusk_compute(g, sum, NULL), DUSK_ETASK);
    dusk_node *ok = dusk_call(g, t_sum, NULL, 20, nodes);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, ok, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 20);
    dusk_graph_free(g);
  }
  ck_assert_int_le(tu_ldi(&g_m.most), 1);
  dusk_pool_free(p);
}
END_TEST

/* Cancelling a task that waits for a slot: its compute ends cancelled, and
   the slots are all there afterwards. */
START_TEST(test_failures_cancel_waiting) {
  meter_reset();
  g_m.wait_gate = 1;
  dusk_pool *p = tu_pool(2);
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
  dusk_graph *g = tu_graph(p);
  dusk_node *io[4];
  for (int i = 0; i < 4; i++) {
    io[i] = dusk_call(g, t_io, NULL, 0, NULL);
    ck_assert_int_eq(dusk_set_resource(io[i], "io"), DUSK_OK);
  }
  ck_assert_int_eq(dusk_start(g, 4, io), DUSK_OK);
  ck_assert(wait_at_least(&g_m.in, 1));
  tu_sleep_ms(20);
  int cancelled = -1;
  for (int i = 0; i < 4 && cancelled < 0; i++)
    if (dusk_status(io[i]) == DUSK_WAITING) {
      ck_assert_int_eq(dusk_cancel(io[i]), DUSK_OK);
      cancelled = i;
    }
  ck_assert_int_ge(cancelled, 0);
  atomic_store(&g_m.gate, 1);
  ck_assert_int_eq(dusk_wait(io[cancelled]), DUSK_ECANCELED);
  for (int i = 0; i < 4; i++)
    dusk_wait(io[i]);
  /* Everything that did not run can run now, one at a time. */
  dusk_node *sum = dusk_call(g, t_sum, NULL, 3,
                             (dusk_node *[]){io[(cancelled + 1) % 4],
                                             io[(cancelled + 2) % 4],
                                             io[(cancelled + 3) % 4]});
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 3);
  ck_assert_int_le(tu_ldi(&g_m.most), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== errors */

START_TEST(test_errors_bad_calls) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *lit = dusk_literal(g, dusk_i64(1));
  dusk_node *n = dusk_call(g, t_cpu, NULL, 0, NULL);
  const char *msg = NULL;
  char long_name[300];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  ck_assert_int_eq(dusk_set_resource(NULL, "io"), DUSK_EINVAL);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "NULL node"));
  ck_assert_int_eq(dusk_set_resource(lit, "io"), DUSK_EINVAL);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "literal"));
  ck_assert_int_eq(dusk_set_resource(n, ""), DUSK_EINVAL);
  ck_assert_int_eq(dusk_set_resource(n, long_name), DUSK_EINVAL);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "1 to 255"));
  ck_assert_int_eq(dusk_set_resource(n, "%s%n"), DUSK_OK); /* just a name */
  ck_assert_str_eq(dusk_resource(n), "%s%n");
  ck_assert_ptr_null(dusk_resource(NULL));
  ck_assert_ptr_null(dusk_resource(lit));
  ck_assert_int_eq(dusk_pool_set_limit(p, "io", -1), DUSK_EINVAL);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "-1"));
  ck_assert_int_eq(dusk_pool_set_limit(p, NULL, 1), DUSK_EINVAL);
  ck_assert_int_eq(dusk_pool_set_limit(p, "", 1), DUSK_EINVAL);
  ck_assert_int_eq(dusk_pool_set_limit(p, long_name, 1), DUSK_EINVAL);
  ck_assert_int_eq(dusk_pool_limit(p, NULL), 0);
  ck_assert_int_eq(dusk_pool_limit(p, "io"), 0); /* nothing was set */
  /* A node that a compute has is busy. */
  meter_reset();
  g_m.wait_gate = 1;
  dusk_node *io = dusk_call(g, t_io, NULL, 0, NULL);
  ck_assert_int_eq(dusk_start(g, 1, &io), DUSK_OK);
  ck_assert(tu_wait_flag(&g_m.in, 30000));
  ck_assert_int_eq(dusk_set_resource(io, "io"), DUSK_EBUSY);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EBUSY);
  atomic_store(&g_m.gate, 1);
  ck_assert_int_eq(dusk_wait(io), DUSK_OK);
  ck_assert_int_eq(dusk_set_resource(io, "io"), DUSK_OK); /* done: fine */
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* The default pool takes limits too (p NULL). */
START_TEST(test_errors_default_pool) {
  meter_reset();
  g_m.hold_ms = 1;
  ck_assert_int_eq(dusk_pool_set_limit(NULL, "dflt", 1), DUSK_OK);
  ck_assert_int_eq(dusk_pool_limit(NULL, "dflt"), 1);
  dusk_graph *g = tu_graph(NULL);
  dusk_node *nodes[20];
  dusk_node *sum = fan(g, 20, t_io, "dflt", nodes);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 20);
  ck_assert_int_le(tu_ldi(&g_m.most), 1);
  ck_assert_int_eq(dusk_pool_set_limit(NULL, "dflt", 0), DUSK_OK);
  dusk_graph_free(g);
}
END_TEST

static Suite *resource_suite(void) {
  Suite *s = suite_create("resource");
  int slow = TU_SANITIZED ? 300 : 120;
  TCase *tc = tcase_create("limit");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_limit_never_exceeded);
  tcase_add_test(tc, test_limit_second_name_in_a_graph);
  tcase_add_test(tc, test_limit_none_runs_side_by_side);
  tcase_add_test(tc, test_limit_shared_by_graphs_and_threads);
  tcase_add_test(tc, test_limit_classes_apart);
  tcase_add_test(tc, test_limit_lowered_counts_for_later_tasks);
  suite_add_tcase(s, tc);
  tc = tcase_create("no_block");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_no_block_other_work_runs);
  tcase_add_test(tc, test_no_block_raise_starts_waiting);
  suite_add_tcase(s, tc);
  tc = tcase_create("failures");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_failures_give_slots_back);
  tcase_add_test(tc, test_failures_cancel_waiting);
  suite_add_tcase(s, tc);
  tc = tcase_create("errors");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_errors_bad_calls);
  tcase_add_test(tc, test_errors_default_pool);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(resource_suite)
