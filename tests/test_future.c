/*
** test_future: the futures section of dusk.h, proved through the public API.
**
** One TCase per group of promises: submitting (eager tasks), futures as
** arguments, dusk_start, dusk_status, waiting (wait, wait_for, get),
** wait_any, callbacks, cancellation, futures shared between threads, a
** recursive Fibonacci of futures, maps and reductions.
**
** The main tool is the gate: a task that, once started, waits until the
** test opens its gate. While it is shut the test knows exactly what is
** running and what cannot have finished, so states, timeouts, orders of
** completion and cancellation are deterministic. A gate gives up after
** GATE_MS and records that it did, so that a library bug fails the test
** instead of hanging it; Check's timeout catches any other hang.
**
** Tasks, callbacks and helper threads never assert: they record into
** atomics, and the test thread asserts afterwards. Pools are made inside
** each test. Sizes shrink in sanitizer builds (DUSK_TEST_SANITIZED).
*/
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dusk.h"
#include "testutil.h"

/* How long a gate stays shut before its task gives up (ms). */
#define GATE_MS 10000.0

/* The test thread, to tell where a callback ran. Set by each test. */
static pthread_t g_test_thread;

/* ====================================================== common tasks */

/* udata: an atomic_int run counter or NULL. Result: 1 + sum of the args. */
static int t_count(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  int64_t s = tu_sum1(args, nargs);
  *out = dusk_i64(s);
  return 0;
}

/* t_count with its result in a counted box. */
static int t_box(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  int64_t s = tu_sum1(args, nargs);
  *out = tu_box_new(s);
  return 0;
}

/* t_count for dusk_delayed() and dusk_future(), which pass no udata. */
static atomic_int g_grun;
static int t_grun(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  atomic_fetch_add(&g_grun, 1);
  int64_t s = tu_sum1(args, nargs);
  *out = dusk_i64(s);
  return 0;
}

/* The arguments as decimal digits, in the order given: 1,2,3 -> 123. */
static int t_digits(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)t;
  int64_t r = 0;
  for (int i = 0; i < nargs; i++)
    r = r * 10 + tu_get(&args[i]);
  *out = dusk_i64(r);
  return 0;
}

/* Fails with "kaboom"; udata: a run counter or NULL. */
static int t_kaboom(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  return dusk_fail(t, "kaboom");
}

/* Returns DUSK_EIO, a code of its own; udata: a run counter or NULL. */
static int t_eio(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  atomic_int *runs = dusk_task_udata(t);
  if (runs != NULL)
    atomic_fetch_add(runs, 1);
  return DUSK_EIO;
}

/*
** The gate task: udata is a gate. It counts its run, says it started,
** waits until the test opens the gate (at most GATE_MS), and returns
** value + the sum of its arguments, boxed when asked. With watch_cancel it
** also stops waiting when dusk_task_cancelled() becomes true; then it
** writes a box (which dusk must release) and returns DUSK_ECANCELED. With
** fail it fails after the gate: DUSK_ETASK through dusk_fail(), or fail.
*/
typedef struct gate {
  atomic_int open;
  atomic_int runs;
  atomic_int started;
  atomic_int finished;
  atomic_int timed_out;       /* the gate stayed shut GATE_MS       */
  atomic_int saw_cancel;      /* it stopped because it was cancelled */
  atomic_int cancel_at_start; /* dusk_task_cancelled() at its start  */
  int64_t value;
  int boxed;
  int watch_cancel;
  int fail;
} gate;

static int t_gate(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  gate *gt = dusk_task_udata(t);
  atomic_fetch_add(&gt->runs, 1);
  if (dusk_task_cancelled(t))
    atomic_store(&gt->cancel_at_start, 1);
  atomic_store(&gt->started, 1);
  double end = tu_now_ms() + GATE_MS;
  int stopped = 0;
  while (!atomic_load(&gt->open)) {
    if (gt->watch_cancel && dusk_task_cancelled(t)) {
      atomic_store(&gt->saw_cancel, 1);
      stopped = 1;
      break;
    }
    if (tu_now_ms() > end) {
      atomic_store(&gt->timed_out, 1);
      break;
    }
    tu_sleep_ms(0.2);
  }
  int64_t s = gt->value;
  for (int i = 0; i < nargs; i++)
    s += tu_get(&args[i]);
  int rc = 0;
  if (stopped) {
    *out = gt->boxed ? tu_box_new(s) : dusk_i64(s);
    rc = DUSK_ECANCELED;
  } else if (gt->fail == DUSK_ETASK) {
    rc = dusk_fail(t, "the gate failed as asked");
  } else if (gt->fail != 0) {
    rc = gt->fail;
  } else {
    *out = gt->boxed ? tu_box_new(s) : dusk_i64(s);
  }
  atomic_store(&gt->finished, 1);
  return rc;
}

static void gate_open(gate *gt) { atomic_store(&gt->open, 1); }

static int gate_started(gate *gt) {
  return tu_wait_flag(&gt->started, GATE_MS);
}

/* No gate of gs[0..n-1] gave up waiting. A macro: the caller's line. */
#define assert_gates_ok(gs, n)                                                \
  do {                                                                        \
    for (int gi_ = 0; gi_ < (n); gi_++)                                       \
      ck_assert_msg(atomic_load(&(gs)[gi_].timed_out) == 0,                   \
                    "gate %d stayed shut for %.0f ms", gi_, GATE_MS);         \
  } while (0)

/* No box freed twice or read after its free; the arena was big enough. */
#define assert_boxes_clean()                                                  \
  do {                                                                        \
    ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);                            \
    ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);                           \
    ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);                             \
  } while (0)

static dusk_node *lit(dusk_graph *g, int64_t v) {
  dusk_node *n = dusk_literal(g, dusk_i64(v));
  ck_assert_ptr_nonnull(n);
  return n;
}

/* Spin-wait (sleeping 100 us a round) until *a >= n or ms pass. */
static int wait_at_least(atomic_int *a, int n, double ms) {
  double end = tu_now_ms() + ms;
  while (atomic_load(a) < n) {
    if (tu_now_ms() > end)
      return 0;
    tu_sleep_ms(0.1);
  }
  return 1;
}

/* Spin-wait until dusk_status(n) == s or ms pass. */
static int wait_status(dusk_node *n, dusk_state s, double ms) {
  double end = tu_now_ms() + ms;
  while (dusk_status(n) != s) {
    if (tu_now_ms() > end)
      return 0;
    tu_sleep_ms(0.1);
  }
  return 1;
}

/* A compute, wait or get on a helper thread. */
enum { BG_COMPUTE, BG_WAIT, BG_GET };
typedef struct bg {
  int op;
  dusk_graph *g;
  dusk_node *n;
  int rc;
  dusk_value out;
  atomic_int done;
} bg;

static void *bg_main(void *arg) {
  bg *b = arg;
  b->out = dusk_i64(-1);
  switch (b->op) {
  case BG_COMPUTE:
    b->rc = dusk_compute(b->g, b->n, &b->out);
    break;
  case BG_WAIT:
    b->rc = dusk_wait(b->n);
    break;
  default:
    b->rc = dusk_get(b->n, &b->out);
    break;
  }
  atomic_store(&b->done, 1);
  return NULL;
}

/* Callbacks record what they were called with. */
typedef struct cbrec {
  atomic_int calls;
  atomic_int code;
  atomic_int wrong_node;     /* called with another node than expect */
  atomic_int on_test_thread; /* the last call ran on the test thread  */
  dusk_node *expect;
} cbrec;

static void cb_record(dusk_node *n, int code, void *udata) {
  cbrec *r = udata;
  if (n != r->expect)
    atomic_fetch_add(&r->wrong_node, 1);
  atomic_store(&r->code, code);
  atomic_store(&r->on_test_thread,
               pthread_equal(pthread_self(), g_test_thread) ? 1 : 0);
  atomic_fetch_add(&r->calls, 1);
}

/* A callback's promise "exactly once": wait for it, then a little longer
   for a second call that must not come. */
#define assert_called_once(r)                                                 \
  do {                                                                        \
    ck_assert_msg(wait_at_least(&(r)->calls, 1, GATE_MS),                     \
                  "callback never called");                                   \
    tu_sleep_ms(20);                                                          \
    ck_assert_int_eq(tu_ldi(&(r)->calls), 1);                                 \
    ck_assert_int_eq(tu_ldi(&(r)->wrong_node), 0);                            \
  } while (0)

/* ====================================================== submit */

START_TEST(test_submit_runs_without_compute) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0, druns = 0;
  dusk_node *f = dusk_submit(g, t_count, &runs, 0, NULL);
  ck_assert_ptr_nonnull(f);
  ck_assert_msg(tu_wait_flag(&runs, GATE_MS),
                "a submitted task did not run without a compute");
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  dusk_value out = dusk_i64(-1);
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert_int_eq(out.kind, DUSK_I64);
  ck_assert_int_eq(out.i64, 1);
  ck_assert_int_eq(tu_ldi(&runs), 1);

  /* Its delayed argument is started too, and each runs once. */
  atomic_store(&runs, 0);
  dusk_node *d = dusk_call(g, t_count, &druns, 0, NULL);
  dusk_node *args[2] = {d, lit(g, 10)};
  dusk_node *f2 = dusk_submit(g, t_count, &runs, 2, args);
  ck_assert_ptr_nonnull(f2);
  ck_assert_msg(tu_wait_flag(&runs, GATE_MS),
                "a future with a delayed argument did not run");
  ck_assert_int_eq(tu_ldi(&druns), 1);
  ck_assert_int_eq(dusk_get(f2, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 12);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  ck_assert_int_eq(tu_ldi(&druns), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_submit_results_in_order) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int d3runs = 0, f4runs = 0;
  dusk_node *l1 = lit(g, 1), *l2 = lit(g, 2), *l5 = lit(g, 5);
  dusk_node *d3 = dusk_call(g, t_count, &d3runs, 1, &l2); /* 3, delayed */
  dusk_node *l3 = lit(g, 3);
  dusk_node *f4 = dusk_submit(g, t_count, &f4runs, 1, &l3); /* 4, future */
  ck_assert_ptr_nonnull(d3);
  ck_assert_ptr_nonnull(f4);
  /* Literals, a delayed node, a future, and a repeated argument. */
  dusk_node *f = dusk_future(g, t_digits, l1, l2, d3, f4, l5, d3);
  ck_assert_ptr_nonnull(f);
  ck_assert_str_eq(dusk_name(f), "t_digits");
  dusk_value out;
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 123453);
  ck_assert_int_eq(tu_ldi(&d3runs), 1);
  ck_assert_int_eq(tu_ldi(&f4runs), 1);

  /* dusk_future() with no arguments, and dusk_submit_named(). */
  atomic_store(&g_grun, 0);
  dusk_node *z = dusk_future(g, t_grun);
  ck_assert_ptr_nonnull(z);
  dusk_node *nm = dusk_submit_named(g, "named", t_count, NULL, 1, &z);
  ck_assert_ptr_nonnull(nm);
  ck_assert_str_eq(dusk_name(nm), "named");
  ck_assert_int_eq(dusk_get(nm, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 2);
  ck_assert_int_eq(tu_ldi(&g_grun), 1);

  /* Many futures, then one future over all of them, in order. */
  enum { N = 200 };
  dusk_node *fs[N];
  for (int i = 0; i < N; i++) {
    dusk_node *li = lit(g, i);
    fs[i] = dusk_submit(g, t_count, NULL, 1, &li);
    ck_assert_ptr_nonnull(fs[i]);
  }
  dusk_node *all = dusk_submit(g, t_count, NULL, N, fs);
  ck_assert_ptr_nonnull(all);
  for (int i = N - 1; i >= 0; i--) {
    ck_assert_int_eq(dusk_get(fs[i], &out), DUSK_OK);
    ck_assert_int_eq(out.i64, i + 1);
  }
  ck_assert_int_eq(dusk_get(all, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 1 + N * (N + 1) / 2);
  dusk_node *tail[3] = {fs[7], fs[3], fs[9]};
  dusk_node *ord = dusk_submit(g, t_digits, NULL, 3, tail);
  ck_assert_int_eq(dusk_get(ord, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 8 * 100 + 4 * 10 + 10);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_submit_refuses_bad_calls) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *l = lit(g, 1);
  dusk_node *other = lit(g2, 2);
  dusk_node *with_null[2] = {l, NULL};
  dusk_node *with_other[2] = {l, other};
  size_t size = dusk_graph_size(g), size2 = dusk_graph_size(g2);
  for (int w = 0; w < 8; w++) {
    dusk_node *got = (dusk_node *)1;
    switch (w) {
    case 0:
      got = dusk_submit(NULL, t_count, &runs, 1, &l);
      break;
    case 1:
      got = dusk_submit(g, NULL, &runs, 1, &l);
      break;
    case 2:
      got = dusk_submit(g, t_count, &runs, -1, &l);
      break;
    case 3:
      got = dusk_submit(g, t_count, &runs, 1, NULL);
      break;
    case 4:
      got = dusk_submit(g, t_count, &runs, 2, with_null);
      break;
    case 5:
      got = dusk_submit(g, t_count, &runs, 2, with_other);
      break;
    case 6:
      got = dusk_submit_named(g, "named", NULL, &runs, 1, &l);
      break;
    case 7:
      got = dusk_future(g, t_grun, l, other);
      break;
    }
    ck_assert_msg(got == NULL, "case %d: a bad submit was accepted", w);
    const char *msg = NULL;
    ck_assert_msg(dusk_last_error(&msg) == DUSK_EINVAL,
                  "case %d: last error is not DUSK_EINVAL", w);
    ck_assert_msg(msg != NULL && msg[0] != '\0', "case %d: no message", w);
    ck_assert_msg(dusk_graph_size(g) == size && dusk_graph_size(g2) == size2,
                  "case %d: a refused submit changed a graph", w);
  }
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_submit_keeps_result) {
  tu_reset(64);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0, cruns = 0;
  dusk_node *l = lit(g, 41);
  dusk_node *f = dusk_submit(g, t_box, &runs, 1, &l);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  ck_assert_int_eq(dusk_status(f), DUSK_DONE);
  /* Kept: a compute of it, or of a consumer, reads it without a rerun. */
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, f, &out), DUSK_OK);
  ck_assert(tu_box_live(&out));
  ck_assert_int_eq(tu_get(&out), 42);
  dusk_node *c = dusk_call(g, t_box, &cruns, 1, &f);
  ck_assert_int_eq(dusk_compute(g, c, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), 43);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  ck_assert_int_eq(tu_ldi(&cruns), 1);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 2);
  /* Until dusk_release(): then it is not started, its box freed. */
  dusk_release(f);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 1);
  ck_assert_int_eq(dusk_status(f), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_ready(f), 0);
  /* dusk_take() moves a future's result out. */
  dusk_node *f2 = dusk_submit(g, t_box, &runs, 1, &l);
  ck_assert_int_eq(dusk_wait(f2), DUSK_OK);
  dusk_value mine;
  ck_assert_int_eq(dusk_take(f2, &mine), DUSK_OK);
  ck_assert_int_eq(tu_get(&mine), 42);
  ck_assert_int_eq(dusk_status(f2), DUSK_NOT_STARTED);
  dusk_value_clear(&mine);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), 3);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 3);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== args */

/* A future that is done, passed to dusk_delayed, dusk_call, dusk_submit. */
START_TEST(test_args_done_future) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int fr = 0, br = 0, cr = 0;
  atomic_store(&g_grun, 0);
  dusk_node *l = lit(g, 5);
  dusk_node *f = dusk_submit(g, t_count, &fr, 1, &l);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  dusk_node *a = dusk_delayed(g, t_grun, f);
  dusk_node *b = dusk_call(g, t_count, &br, 1, &f);
  dusk_node *c = dusk_submit(g, t_count, &cr, 1, &f);
  ck_assert(a != NULL && b != NULL && c != NULL);
  dusk_value out;
  ck_assert_int_eq(dusk_compute(g, a, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 7);
  ck_assert_int_eq(dusk_compute(g, b, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 7);
  ck_assert_int_eq(dusk_get(c, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 7);
  dusk_node *abc[3] = {a, b, c};
  dusk_node *all = dusk_call(g, t_count, NULL, 3, abc);
  ck_assert_int_eq(dusk_compute(g, all, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 22);
  ck_assert_int_eq(tu_ldi(&fr), 1);
  ck_assert_int_eq(tu_ldi(&g_grun), 1);
  ck_assert_int_eq(tu_ldi(&br), 1);
  ck_assert_int_eq(tu_ldi(&cr), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** A future that is running (gated) when computes and a submit need it:
** they wait for it, and it runs once. Also a compute of the future itself.
*/
START_TEST(test_args_running_future) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 4; rep++) {
    dusk_graph *g = tu_graph(p);
    gate gf = {.value = 5};
    atomic_int br = 0, cr = 0;
    atomic_store(&g_grun, 0);
    dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert(gate_started(&gf));
    dusk_node *a = dusk_delayed(g, t_grun, f);
    dusk_node *b = dusk_call(g, t_count, &br, 1, &f);
    dusk_node *c = dusk_submit(g, t_count, &cr, 1, &f);
    ck_assert(a != NULL && b != NULL && c != NULL);
    bg ba = {.op = BG_COMPUTE, .g = g, .n = a};
    bg bb = {.op = BG_COMPUTE, .g = g, .n = b};
    bg bf = {.op = BG_COMPUTE, .g = g, .n = f};
    pthread_t tha, thb, thf;
    ck_assert_int_eq(pthread_create(&tha, NULL, bg_main, &ba), 0);
    ck_assert_int_eq(pthread_create(&thb, NULL, bg_main, &bb), 0);
    ck_assert_int_eq(pthread_create(&thf, NULL, bg_main, &bf), 0);
    /* While the gate is shut, everyone waits: the consumers are claimed
       and wait for their argument. */
    ck_assert_int_eq(dusk_status(c), DUSK_WAITING);
    ck_assert(wait_status(a, DUSK_WAITING, GATE_MS));
    ck_assert(wait_status(b, DUSK_WAITING, GATE_MS));
    tu_sleep_ms(20);
    ck_assert_int_eq(dusk_status(f), DUSK_RUNNING);
    ck_assert_int_eq(tu_ldi(&ba.done) + tu_ldi(&bb.done) + tu_ldi(&bf.done),
                     0);
    ck_assert_int_eq(tu_ldi(&g_grun) + tu_ldi(&br) + tu_ldi(&cr), 0);
    gate_open(&gf);
    pthread_join(tha, NULL);
    pthread_join(thb, NULL);
    pthread_join(thf, NULL);
    ck_assert_int_eq(ba.rc, DUSK_OK);
    ck_assert_int_eq(bb.rc, DUSK_OK);
    ck_assert_int_eq(bf.rc, DUSK_OK);
    ck_assert_int_eq(ba.out.i64, 6);
    ck_assert_int_eq(bb.out.i64, 6);
    ck_assert_int_eq(bf.out.i64, 5);
    dusk_value out;
    ck_assert_int_eq(dusk_get(c, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 6);
    ck_assert_int_eq(tu_ldi(&gf.runs), 1);
    ck_assert_int_eq(tu_ldi(&g_grun), 1);
    ck_assert_int_eq(tu_ldi(&br), 1);
    ck_assert_int_eq(tu_ldi(&cr), 1);
    assert_gates_ok(&gf, 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/*
** A future still waiting for its own (gated) argument when computes of its
** consumers start: it runs once, after its argument.
*/
START_TEST(test_args_waiting_future) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 4; rep++) {
    dusk_graph *g = tu_graph(p);
    gate ga = {.value = 10};
    atomic_int fr = 0, br = 0, cr = 0;
    dusk_node *a = dusk_submit(g, t_gate, &ga, 0, NULL);
    dusk_node *f = dusk_submit(g, t_count, &fr, 1, &a);
    ck_assert(a != NULL && f != NULL);
    ck_assert(gate_started(&ga));
    ck_assert_int_eq(dusk_status(f), DUSK_WAITING);
    dusk_node *b = dusk_call(g, t_count, &br, 1, &f);
    dusk_node *fb[2] = {f, b};
    dusk_node *c = dusk_call(g, t_count, &cr, 2, fb);
    bg bb = {.op = BG_COMPUTE, .g = g, .n = b};
    bg bc = {.op = BG_GET, .g = g, .n = c};
    pthread_t thb, thc;
    ck_assert_int_eq(pthread_create(&thb, NULL, bg_main, &bb), 0);
    ck_assert_int_eq(pthread_create(&thc, NULL, bg_main, &bc), 0);
    ck_assert(wait_status(b, DUSK_WAITING, GATE_MS));
    ck_assert(wait_status(c, DUSK_WAITING, GATE_MS));
    ck_assert_int_eq(tu_ldi(&fr), 0);
    gate_open(&ga);
    pthread_join(thb, NULL);
    pthread_join(thc, NULL);
    ck_assert_int_eq(bb.rc, DUSK_OK);
    ck_assert_int_eq(bb.out.i64, 12);
    ck_assert_int_eq(bc.rc, DUSK_OK);
    ck_assert_int_eq(bc.out.i64, 1 + 11 + 12);
    ck_assert_int_eq(dusk_wait(f), DUSK_OK);
    ck_assert_int_eq(tu_ldi(&ga.runs), 1);
    ck_assert_int_eq(tu_ldi(&fr), 1);
    /* b is an intermediate of c's compute. Seeing b WAITING says only that
       one of the two computes claimed it: if c's compute claimed it, ran it
       and freed it before b's compute linked to it, b's compute runs it
       again, as the header says (no compute ran it, no result was held).
       What must hold: never more than once per compute. */
    ck_assert_int_ge(tu_ldi(&br), 1);
    ck_assert_int_le(tu_ldi(&br), 2);
    ck_assert_int_eq(tu_ldi(&cr), 1);
    assert_gates_ok(&ga, 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== start */

START_TEST(test_start_returns_at_once) {
  enum { K = 4 };
  dusk_pool *p = tu_pool(K);
  dusk_graph *g = tu_graph(p);
  gate gs[K];
  memset(gs, 0, sizeof gs);
  dusk_node *nodes[K];
  for (int i = 0; i < K; i++) {
    gs[i].value = 100 + i;
    nodes[i] = dusk_call(g, t_gate, &gs[i], 0, NULL);
    ck_assert_ptr_nonnull(nodes[i]);
  }
  atomic_int eruns = 0;
  dusk_node *unneeded = dusk_call(g, t_count, &eruns, K, nodes);
  ck_assert_ptr_nonnull(unneeded);
  double t0 = tu_now_ms();
  ck_assert_int_eq(dusk_start(g, K, nodes), DUSK_OK);
  double took = tu_now_ms() - t0;
  /* It returned with every gate shut, so it did not wait for them. */
  ck_assert_msg(took < 2000, "dusk_start took %.0f ms", took);
  for (int i = 0; i < K; i++)
    ck_assert_int_eq(tu_ldi(&gs[i].finished), 0);
  /* All run at once, one per worker. */
  for (int i = 0; i < K; i++) {
    ck_assert(gate_started(&gs[i]));
    ck_assert_int_eq(dusk_status(nodes[i]), DUSK_RUNNING);
    ck_assert_int_eq(dusk_ready(nodes[i]), 0);
  }
  for (int i = 0; i < K; i++)
    gate_open(&gs[i]);
  for (int i = 0; i < K; i++) {
    ck_assert_int_eq(dusk_wait(nodes[i]), DUSK_OK);
    dusk_value out;
    ck_assert_int_eq(dusk_get(nodes[i], &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 100 + i);
    ck_assert_int_eq(dusk_status(nodes[i]), DUSK_DONE);
  }
  /* Kept: computing them again runs nothing. Only what was asked ran. */
  dusk_value outs[K];
  ck_assert_int_eq(dusk_compute_many(g, K, nodes, outs), DUSK_OK);
  for (int i = 0; i < K; i++) {
    ck_assert_int_eq(outs[i].i64, 100 + i);
    ck_assert_int_eq(tu_ldi(&gs[i].runs), 1);
  }
  ck_assert_int_eq(tu_ldi(&eruns), 0);
  ck_assert_int_eq(dusk_status(unneeded), DUSK_NOT_STARTED);
  assert_gates_ok(gs, K);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_start_bad_args) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *a = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_node *other = dusk_call(g2, t_count, &runs, 0, NULL);
  dusk_node *with_null[2] = {a, NULL};
  dusk_node *with_other[2] = {a, other};
  ck_assert_int_eq(dusk_start(NULL, 1, &a), DUSK_EINVAL);
  ck_assert_int_eq(dusk_start(g, 1, NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_start(g, -1, &a), DUSK_EINVAL);
  ck_assert_int_eq(dusk_start(g, 2, with_null), DUSK_EINVAL);
  ck_assert_int_eq(dusk_start(g, 2, with_other), DUSK_EINVAL);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  ck_assert_int_eq(dusk_status(a), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_status(other), DUSK_NOT_STARTED);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_pool_free(p);
}
END_TEST

/* t_kaboom once a gate has started (or it waited GATE_MS for it). */
typedef struct kaboom_after {
  atomic_int runs;
  gate *after;
} kaboom_after;

static int t_kaboom_after(dusk_task *t, const dusk_value *args, int nargs,
                          dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  kaboom_after *k = dusk_task_udata(t);
  atomic_fetch_add(&k->runs, 1);
  tu_wait_flag(&k->after->started, GATE_MS);
  return dusk_fail(t, "kaboom");
}

/*
** dusk_start({S, F, B}) where F(S) fails while B's argument A is held
** running by its gate (F fails only once A has started, whichever of the
** two ready nodes, S or A, a worker takes first): S keeps its result, B
** does not run in the start. B's failure is no answer (it only did not
** run): a wait runs it then.
*/
START_TEST(test_start_failure_stops_others) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate ga = {.value = 1};
  atomic_int sruns = 0, bruns = 0;
  kaboom_after fk = {.after = &ga};
  atomic_int *fruns = &fk.runs;
  dusk_node *s = dusk_call(g, t_count, &sruns, 0, NULL);
  dusk_node *f = dusk_call(g, t_kaboom_after, &fk, 1, &s);
  dusk_node *a = dusk_call(g, t_gate, &ga, 0, NULL);
  dusk_node *b = dusk_call(g, t_count, &bruns, 1, &a);
  dusk_node *nodes[3] = {s, f, b};
  ck_assert_int_eq(dusk_start(g, 3, nodes), DUSK_OK);
  ck_assert(gate_started(&ga));
  ck_assert_int_eq(dusk_wait(f), DUSK_ETASK);
  ck_assert(tu_has(dusk_errmsg(f), "kaboom"));
  gate_open(&ga);
  ck_assert_int_eq(dusk_wait_any(&b, 1, -1), 0); /* finished; not rerun */
  ck_assert_int_eq(dusk_status(b), DUSK_FAILED);
  ck_assert_int_eq(dusk_ready(b), 1);
  ck_assert_int_eq(tu_ldi(&bruns), 0);
  ck_assert_int_eq(tu_ldi(&ga.runs), 1);
  const char *m = dusk_errmsg(b);
  ck_assert_msg(tu_has(m, "not run: the compute stopped after") &&
                    tu_has(m, "kaboom"),
                "b says %s", m ? m : "(null)");
  ck_assert_int_eq(dusk_wait(b), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&bruns), 1);
  ck_assert_int_eq(tu_ldi(&ga.runs), 2); /* A's result went with the stop */
  /* S succeeded before F failed: kept. */
  ck_assert_int_eq(dusk_status(s), DUSK_DONE);
  dusk_value out;
  ck_assert_int_eq(dusk_get(s, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 1);
  ck_assert_int_eq(tu_ldi(&sruns), 1);
  ck_assert_int_eq(tu_ldi(fruns), 1);
  assert_gates_ok(&ga, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== status */

START_TEST(test_status_states) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  ck_assert_int_eq(dusk_status(NULL), DUSK_NOT_STARTED);
  dusk_node *l = lit(g, 3);
  ck_assert_int_eq(dusk_status(l), DUSK_DONE);
  ck_assert_int_ne(dusk_ready(l), 0);

  atomic_int runs = 0;
  dusk_node *d = dusk_call(g, t_count, &runs, 0, NULL);
  ck_assert_int_eq(dusk_status(d), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_ready(d), 0);

  /* RUNNING while gated; its consumer WAITING meanwhile. */
  gate ga = {.value = 1};
  dusk_node *a = dusk_submit(g, t_gate, &ga, 0, NULL);
  ck_assert(gate_started(&ga));
  ck_assert_int_eq(dusk_status(a), DUSK_RUNNING);
  ck_assert_int_eq(dusk_ready(a), 0);
  dusk_node *b = dusk_submit(g, t_count, &runs, 1, &a);
  ck_assert_int_eq(dusk_status(b), DUSK_WAITING);
  ck_assert_int_eq(dusk_ready(b), 0);
  /* A delayed consumer under dusk_start(): WAITING too. */
  dusk_node *c = dusk_call(g, t_count, &runs, 1, &a);
  ck_assert_int_eq(dusk_status(c), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_start(g, 1, &c), DUSK_OK);
  ck_assert_int_eq(dusk_status(c), DUSK_WAITING);
  tu_sleep_ms(20);
  ck_assert_int_eq(dusk_status(a), DUSK_RUNNING);
  ck_assert_int_eq(dusk_status(b), DUSK_WAITING);
  ck_assert_int_eq(dusk_status(c), DUSK_WAITING);
  gate_open(&ga);
  ck_assert_int_eq(dusk_wait(b), DUSK_OK);
  ck_assert_int_eq(dusk_wait(c), DUSK_OK);
  ck_assert_int_eq(dusk_status(a), DUSK_DONE); /* a future keeps its result */
  ck_assert_int_eq(dusk_status(b), DUSK_DONE);
  ck_assert_int_eq(dusk_status(c), DUSK_DONE);
  ck_assert_int_ne(dusk_ready(b), 0);

  /* FAILED: its own failure, and a consumer's upstream failure. */
  dusk_node *f = dusk_submit(g, t_kaboom, NULL, 0, NULL);
  dusk_node *fc = dusk_submit(g, t_count, &runs, 1, &f);
  ck_assert_int_eq(dusk_wait(f), DUSK_ETASK);
  ck_assert_int_ne(dusk_wait(fc), DUSK_OK);
  ck_assert_int_eq(dusk_status(f), DUSK_FAILED);
  ck_assert_int_eq(dusk_status(fc), DUSK_FAILED);
  ck_assert_int_ne(dusk_ready(f), 0);
  ck_assert_int_ne(dusk_ready(fc), 0);

  /* CANCELLED. */
  dusk_node *x = dusk_call(g, t_count, &runs, 0, NULL);
  ck_assert_int_eq(dusk_cancel(x), DUSK_OK);
  ck_assert_int_eq(dusk_status(x), DUSK_CANCELLED);
  ck_assert_int_ne(dusk_ready(x), 0);

  /* Back to NOT_STARTED when the result is released or taken. */
  dusk_release(b);
  ck_assert_int_eq(dusk_status(b), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_ready(b), 0);
  dusk_value mine;
  ck_assert_int_eq(dusk_take(a, &mine), DUSK_OK);
  ck_assert_int_eq(mine.i64, 1);
  ck_assert_int_eq(dusk_status(a), DUSK_NOT_STARTED);
  ck_assert_int_eq(tu_ldi(&runs), 2); /* b and c */
  assert_gates_ok(&ga, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== wait */

START_TEST(test_wait_computes_not_started) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0, druns = 0;
  dusk_node *d = dusk_call(g, t_count, &druns, 0, NULL);
  dusk_node *e = dusk_call(g, t_count, &runs, 1, &d);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  ck_assert_int_eq(dusk_wait(e), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  ck_assert_int_eq(tu_ldi(&druns), 1);
  ck_assert_int_eq(dusk_status(e), DUSK_DONE);
  dusk_value out;
  ck_assert_int_eq(dusk_get(e, &out), DUSK_OK); /* kept: no rerun */
  ck_assert_int_eq(out.i64, 2);
  ck_assert_int_eq(dusk_wait(e), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  /* dusk_get() of a node not started computes it too. */
  dusk_node *h = dusk_call(g, t_count, &runs, 1, &e);
  ck_assert_int_eq(dusk_get(h, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 3);
  ck_assert_int_eq(tu_ldi(&runs), 2);
  ck_assert_int_eq(tu_ldi(&druns), 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_wait_failed_not_rerun) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0, eruns = 0;
  dusk_node *f = dusk_submit(g, t_kaboom, &runs, 0, NULL);
  ck_assert_int_eq(dusk_wait(f), DUSK_ETASK);
  ck_assert_int_eq(dusk_wait(f), DUSK_ETASK);
  ck_assert_int_eq(dusk_wait_for(f, 0), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  ck_assert(tu_has(dusk_errmsg(f), "kaboom"));
  ck_assert_int_eq(dusk_errcode(f), DUSK_ETASK);
  dusk_value out = dusk_i64(5);
  ck_assert_int_eq(dusk_get(f, &out), DUSK_ETASK);
  ck_assert_int_eq(out.kind, DUSK_NONE);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  /* A task's own code is the node's code. */
  dusk_node *e = dusk_call(g, t_eio, &eruns, 0, NULL);
  ck_assert_int_eq(dusk_wait(e), DUSK_EIO);
  ck_assert_int_eq(dusk_wait(e), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&eruns), 1);
  /* dusk_compute() retries. */
  ck_assert_int_eq(dusk_compute(g, f, NULL), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&runs), 2);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** c(x, y): y fails while x's argument w is held by its gate, so x does not
** run. c failed for y's failure (an answer: a wait returns it and runs
** nothing), not for x's stop, although x comes first.
*/
START_TEST(test_wait_upstream_failure_is_answer) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gs[2] = {{.value = 1}, {.value = 1, .fail = DUSK_ETASK}};
  atomic_int xruns = 0, cruns = 0;
  dusk_node *w = dusk_call(g, t_gate, &gs[0], 0, NULL);
  dusk_node *x = dusk_call(g, t_count, &xruns, 1, &w);
  dusk_node *y = dusk_call(g, t_gate, &gs[1], 0, NULL);
  dusk_node *xy[2] = {x, y};
  dusk_node *c = dusk_call(g, t_count, &cruns, 2, xy);
  ck_assert_int_eq(dusk_start(g, 1, &c), DUSK_OK);
  ck_assert(gate_started(&gs[0]) && gate_started(&gs[1]));
  gate_open(&gs[1]);
  ck_assert_int_eq(dusk_wait_any(&y, 1, -1), 0);
  gate_open(&gs[0]);
  ck_assert_int_eq(dusk_wait_any(&c, 1, -1), 0);
  ck_assert_int_eq(tu_ldi(&xruns), 0);
  const char *m = dusk_errmsg(c);
  ck_assert_msg(tu_has(m, "not run: upstream") &&
                    tu_has(m, "the gate failed as asked"),
                "c says %s", m ? m : "(null)");
  ck_assert_int_eq(dusk_wait(c), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&gs[1].runs), 1);
  ck_assert_int_eq(tu_ldi(&cruns), 0);
  assert_gates_ok(gs, 2);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_wait_get_borrows) {
  tu_reset(16);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *l = lit(g, 9);
  dusk_node *f = dusk_submit(g, t_box, &runs, 1, &l);
  dusk_value out;
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert(tu_box_live(&out));
  ck_assert_int_eq(tu_get(&out), 10);
  dusk_value again;
  ck_assert_int_eq(dusk_get(f, &again), DUSK_OK);
  ck_assert_ptr_eq(again.ptr, out.ptr); /* the same kept value */
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 0);
  dusk_release(f);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 1);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  /* A literal: done, its value. */
  ck_assert_int_eq(dusk_get(l, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 9);
  ck_assert_int_eq(dusk_wait(l), DUSK_OK);
  /* NULL is a cheap caller mistake. */
  ck_assert_int_eq(dusk_wait(NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_wait_for(NULL, 10), DUSK_EINVAL);
  ck_assert_int_eq(dusk_get(NULL, &out), DUSK_EINVAL);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_wait_for_timeout) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gf = {.value = 7};
  dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
  ck_assert(gate_started(&gf));
  double t0 = tu_now_ms();
  ck_assert_int_eq(dusk_wait_for(f, 50), DUSK_ETIMEDOUT);
  double took = tu_now_ms() - t0;
  ck_assert_msg(took >= 45 && took < 5000, "wait_for(50) took %.1f ms", took);
  ck_assert_int_eq(dusk_wait_for(f, 0), DUSK_ETIMEDOUT);
  /* It goes on running. */
  ck_assert_int_eq(dusk_status(f), DUSK_RUNNING);
  gate_open(&gf);
  ck_assert_int_eq(dusk_wait_for(f, 10000), DUSK_OK);
  ck_assert_int_eq(dusk_wait_for(f, 0), DUSK_OK);
  ck_assert_int_eq(dusk_wait_for(f, -1), DUSK_OK);
  dusk_value out;
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 7);
  ck_assert_int_eq(tu_ldi(&gf.runs), 1);

  /* A delayed node is started by wait_for, and goes on after a timeout. */
  gate gd = {.value = 8};
  dusk_node *d = dusk_call(g, t_gate, &gd, 0, NULL);
  ck_assert_int_eq(dusk_wait_for(d, 30), DUSK_ETIMEDOUT);
  ck_assert_msg(gate_started(&gd), "wait_for did not start the node");
  ck_assert_int_eq(dusk_wait_for(d, 1), DUSK_ETIMEDOUT);
  gate_open(&gd);
  ck_assert_int_eq(dusk_wait_for(d, -1), DUSK_OK);
  ck_assert_int_eq(dusk_get(d, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 8);
  ck_assert_int_eq(tu_ldi(&gd.runs), 1);
  assert_gates_ok(&gf, 1);
  assert_gates_ok(&gd, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== wait_any */

/* Open the gates in a known order: wait_any returns each in turn. */
START_TEST(test_wait_any_known_order) {
  enum { K = 6 };
  static const int order[K] = {3, 0, 5, 1, 4, 2};
  dusk_pool *p = tu_pool(K);
  dusk_graph *g = tu_graph(p);
  gate gs[K];
  memset(gs, 0, sizeof gs);
  dusk_node *arr[K];
  for (int i = 0; i < K; i++) {
    gs[i].value = i;
    arr[i] = dusk_submit(g, t_gate, &gs[i], 0, NULL);
    ck_assert_ptr_nonnull(arr[i]);
  }
  for (int i = 0; i < K; i++)
    ck_assert(gate_started(&gs[i]));
  ck_assert_int_eq(dusk_wait_any(arr, K, 20), DUSK_ETIMEDOUT);
  dusk_node *opened[K];
  for (int i = 0; i < K; i++)
    opened[i] = arr[order[i]];
  int count = K;
  for (int step = 0; step < K; step++) {
    gate_open(&gs[order[step]]);
    int expect = -1;
    for (int j = 0; j < count; j++)
      if (arr[j] == opened[step])
        expect = j;
    int r = dusk_wait_any(arr, count, 10000);
    ck_assert_msg(r == expect, "step %d: wait_any gave %d, not %d", step, r,
                  expect);
    ck_assert_int_ne(dusk_ready(arr[r]), 0);
    dusk_value out;
    ck_assert_int_eq(dusk_get(arr[r], &out), DUSK_OK);
    ck_assert_int_eq(out.i64, order[step]);
    /* As completed: drop it, keep the order of the rest. */
    memmove(&arr[r], &arr[r + 1], (size_t)(count - r - 1) * sizeof arr[0]);
    count--;
    if (count > 0)
      ck_assert_int_eq(dusk_wait_any(arr, count, 0), DUSK_ETIMEDOUT);
  }
  assert_gates_ok(gs, K);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* Several finished: the lowest index. Not started: started. */
START_TEST(test_wait_any_lowest_and_starts) {
  enum { K = 5 };
  dusk_pool *p = tu_pool(4);
  dusk_graph *g = tu_graph(p);
  gate gs[K];
  memset(gs, 0, sizeof gs);
  dusk_node *arr[K];
  for (int i = 0; i < K; i++) {
    if (i % 2 == 1)
      gate_open(&gs[i]);
    arr[i] = dusk_submit(g, t_gate, &gs[i], 0, NULL);
  }
  ck_assert_int_eq(dusk_wait(arr[1]), DUSK_OK);
  ck_assert_int_eq(dusk_wait(arr[3]), DUSK_OK);
  ck_assert_int_eq(dusk_wait_any(arr, K, 10000), 1);
  ck_assert_int_eq(dusk_wait_any(arr + 2, K - 2, 10000), 1); /* arr[3] */
  for (int i = 0; i < K; i++)
    gate_open(&gs[i]);
  for (int i = 0; i < K; i++)
    ck_assert_int_eq(dusk_wait(arr[i]), DUSK_OK);
  ck_assert_int_eq(dusk_wait_any(arr, K, 10000), 0);
  /* A literal is finished; a failed node is finished. */
  gate gm = {0};
  dusk_node *mixed[2] = {dusk_call(g, t_gate, &gm, 0, NULL), lit(g, 1)};
  ck_assert_int_eq(dusk_wait_any(mixed, 2, -1), 1);
  dusk_node *withfail[2] = {mixed[0], dusk_submit(g, t_kaboom, NULL, 0, NULL)};
  ck_assert_int_eq(dusk_wait_any(withfail, 2, -1), 1);
  gate_open(&gm);
  ck_assert_int_eq(dusk_wait(mixed[0]), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&gm.runs), 1);

  /* Not started nodes are started: the quick one finishes first, the
     gated one runs too. */
  gate gd = {0}, gq = {.value = 4};
  gate_open(&gq);
  dusk_node *lazy[2] = {dusk_call(g, t_gate, &gd, 0, NULL),
                        dusk_call(g, t_gate, &gq, 0, NULL)};
  ck_assert_int_eq(dusk_wait_any(lazy, 2, -1), 1);
  ck_assert_msg(gate_started(&gd), "wait_any did not start every node");
  gate_open(&gd);
  ck_assert_int_eq(dusk_wait(lazy[0]), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&gd.runs), 1);
  ck_assert_int_eq(tu_ldi(&gq.runs), 1);
  assert_gates_ok(gs, K);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** wait_any on a node that another thread's compute runs as an intermediate:
** it may finish, and its result be freed (idle again, no compute left to
** run it), while wait_any is setting up. wait_any must then run it, not
** wait for the callback of a node that no compute will run (it hung for
** ever: test_mixed under ASan). The window is narrow: many rounds, and
** the wait has a deadline, so that the old fault shows as ETIMEDOUT.
*/
START_TEST(test_wait_any_intermediate_freed) {
  dusk_pool *p = tu_pool(2);
  long rounds = tu_scaled(4000, 400), timed_out = 0;
  for (long r = 0; r < rounds; r++) {
    dusk_graph *g = tu_graph(p);
    dusk_node *n = dusk_call(g, t_count, NULL, 0, NULL);
    dusk_node *m = dusk_call(g, t_count, NULL, 1, &n);
    ck_assert(n != NULL && m != NULL);
    bg b = {.op = BG_COMPUTE, .g = g, .n = m};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bg_main, &b), 0);
    if (r & 1) /* half the time, let the compute get ahead */
      sched_yield();
    int i = dusk_wait_any(&n, 1, 1000);
    timed_out += i == DUSK_ETIMEDOUT;
    ck_assert_msg(i == 0 || i == DUSK_ETIMEDOUT, "round %ld: wait_any gave %d",
                  r, i);
    pthread_join(th, NULL);
    ck_assert_int_eq(b.rc, DUSK_OK);
    ck_assert_int_eq(b.out.i64, 2); /* n is 1, m is n + 1 */
    dusk_graph_free(g);
  }
  ck_assert_msg(timed_out == 0, "wait_any timed out in %ld of %ld rounds",
                timed_out, rounds);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_wait_any_bad_args) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_node *arr[2] = {lit(g, 1), NULL};
  ck_assert_int_eq(dusk_wait_any(NULL, 1, 10), DUSK_EINVAL);
  ck_assert_int_eq(dusk_wait_any(arr, 0, 10), DUSK_EINVAL);
  ck_assert_int_eq(dusk_wait_any(arr, -1, 10), DUSK_EINVAL);
  ck_assert_int_eq(dusk_wait_any(arr, 2, 10), DUSK_EINVAL);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** Many threads in dusk_wait_any() on the same nodes at once. Each round,
** all waiters wait on arr[0..K-1-r], the test opens the gate of the last
** one, and every waiter must return its index.
*/
enum { WA_K = 4, WA_WAITERS = 8 };
typedef struct wa_ctx {
  dusk_node **arr;
  pthread_barrier_t *bar;
  int result[WA_K];
} wa_ctx;

static void *wa_main(void *arg) {
  wa_ctx *c = arg;
  for (int r = 0; r < WA_K; r++) {
    pthread_barrier_wait(c->bar); /* the round begins */
    c->result[r] = dusk_wait_any(c->arr, WA_K - r, 20000);
    pthread_barrier_wait(c->bar); /* the round is over */
  }
  return NULL;
}

START_TEST(test_wait_any_many_waiters) {
  dusk_pool *p = tu_pool(WA_K);
  int reps = TU_SANITIZED ? 2 : 5;
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    gate gs[WA_K];
    memset(gs, 0, sizeof gs);
    dusk_node *arr[WA_K];
    for (int i = 0; i < WA_K; i++) {
      gs[i].value = i;
      arr[i] = dusk_submit(g, t_gate, &gs[i], 0, NULL);
      ck_assert_ptr_nonnull(arr[i]);
    }
    pthread_barrier_t bar;
    ck_assert_int_eq(pthread_barrier_init(&bar, NULL, WA_WAITERS + 1), 0);
    wa_ctx ctx[WA_WAITERS];
    pthread_t th[WA_WAITERS];
    for (int w = 0; w < WA_WAITERS; w++) {
      ctx[w] = (wa_ctx){.arr = arr, .bar = &bar};
      ck_assert_int_eq(pthread_create(&th[w], NULL, wa_main, &ctx[w]), 0);
    }
    for (int r = 0; r < WA_K; r++) {
      pthread_barrier_wait(&bar);
      tu_sleep_ms(10); /* let them all wait */
      gate_open(&gs[WA_K - 1 - r]);
      pthread_barrier_wait(&bar);
    }
    for (int w = 0; w < WA_WAITERS; w++)
      pthread_join(th[w], NULL);
    pthread_barrier_destroy(&bar);
    for (int w = 0; w < WA_WAITERS; w++)
      for (int r = 0; r < WA_K; r++)
        ck_assert_msg(ctx[w].result[r] == WA_K - 1 - r,
                      "rep %d waiter %d round %d: got %d, not %d", rep, w, r,
                      ctx[w].result[r], WA_K - 1 - r);
    for (int i = 0; i < WA_K; i++)
      ck_assert_int_eq(tu_ldi(&gs[i].runs), 1);
    assert_gates_ok(gs, WA_K);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* A thread that waits for any of one node, without a time limit. */
typedef struct any1 {
  dusk_node *n;
  atomic_int waiting;
  int rc;
} any1;

static void *any1_main(void *arg) {
  any1 *a = arg;
  atomic_store(&a->waiting, 1);
  a->rc = dusk_wait_any(&a->n, 1, -1);
  return NULL;
}

/*
** Without a time limit, wait_any never times out: not even when the node
** that woke it is taken up again before it looks. Here it waits for an
** intermediate whose consumer reads it, and frees it, at once; wait_any
** then starts it anew. (It used to answer DUSK_ETIMEDOUT "none finished in
** -1 ms".)
*/
START_TEST(test_wait_any_node_freed_before_it_looks) {
  dusk_pool *p = tu_pool(1);
  int reps = (int)tu_scaled(20, 5);
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    gate ga = {.value = 1};
    dusk_node *a = dusk_call(g, t_gate, &ga, 0, NULL);
    dusk_node *b = dusk_call(g, t_count, NULL, 1, &a);
    ck_assert_int_eq(dusk_start(g, 1, &b), DUSK_OK);
    ck_assert(gate_started(&ga));
    any1 w = {.n = a};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, any1_main, &w), 0);
    ck_assert(tu_wait_flag(&w.waiting, GATE_MS));
    tu_sleep_ms(5); /* let it wait */
    gate_open(&ga);
    pthread_join(th, NULL);
    ck_assert_msg(w.rc == 0, "rep %d: wait_any gave %d", rep, w.rc);
    ck_assert_int_eq(dusk_wait(b), DUSK_OK);
    ck_assert_int_eq(dusk_wait(a), DUSK_OK);
    assert_gates_ok(&ga, 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== callbacks */

START_TEST(test_callbacks_before_completion) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gf = {.value = 3};
  dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
  cbrec r = {.expect = f};
  ck_assert_int_eq(dusk_on_done(f, cb_record, &r), DUSK_OK);
  ck_assert(gate_started(&gf));
  tu_sleep_ms(10);
  ck_assert_int_eq(tu_ldi(&r.calls), 0); /* not before it finishes */
  gate_open(&gf);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  assert_called_once(&r);
  ck_assert_int_eq(tu_ldi(&r.code), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&r.on_test_thread), 0); /* on the worker */
  /* The result is published before the callback runs. */
  dusk_value out;
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 3);
  assert_gates_ok(&gf, 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&r.calls), 1); /* not again at graph_free */
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_callbacks_after_completion) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *f = dusk_submit(g, t_count, NULL, 0, NULL);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  cbrec r = {.expect = f};
  ck_assert_int_eq(dusk_on_done(f, cb_record, &r), DUSK_OK);
  /* Called at once, on this thread, before dusk_on_done returned. */
  ck_assert_int_eq(tu_ldi(&r.calls), 1);
  ck_assert_int_eq(tu_ldi(&r.on_test_thread), 1);
  ck_assert_int_eq(tu_ldi(&r.code), DUSK_OK);
  /* A literal is always finished. */
  dusk_node *l = lit(g, 1);
  cbrec rl = {.expect = l};
  ck_assert_int_eq(dusk_on_done(l, cb_record, &rl), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&rl.calls), 1);
  ck_assert_int_eq(tu_ldi(&rl.code), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&rl.on_test_thread), 1);
  /* Bad arguments: nothing registered, never called. */
  cbrec rb = {.expect = f};
  ck_assert_int_eq(dusk_on_done(NULL, cb_record, &rb), DUSK_EINVAL);
  ck_assert_int_eq(dusk_on_done(f, NULL, &rb), DUSK_EINVAL);
  tu_sleep_ms(20);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&r.calls), 1);
  ck_assert_int_eq(tu_ldi(&rl.calls), 1);
  ck_assert_int_eq(tu_ldi(&rb.calls), 0);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_callbacks_on_failure) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gf = {.fail = DUSK_ETASK}, ge = {.fail = DUSK_EIO};
  dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
  dusk_node *e = dusk_submit(g, t_gate, &ge, 0, NULL);
  dusk_node *dep = dusk_submit(g, t_count, NULL, 1, &f);
  cbrec rf = {.expect = f}, re = {.expect = e}, rd = {.expect = dep};
  ck_assert_int_eq(dusk_on_done(f, cb_record, &rf), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(e, cb_record, &re), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(dep, cb_record, &rd), DUSK_OK);
  gate_open(&gf);
  gate_open(&ge);
  ck_assert_int_eq(dusk_wait(f), DUSK_ETASK);
  ck_assert_int_eq(dusk_wait(e), DUSK_EIO);
  int dep_rc = dusk_wait(dep);
  ck_assert_int_ne(dep_rc, DUSK_OK);
  assert_called_once(&rf);
  assert_called_once(&re);
  assert_called_once(&rd);
  ck_assert_int_eq(tu_ldi(&rf.code), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&re.code), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&rd.code), dep_rc);
  /* Registered after the failure: at once, with the code. */
  cbrec late = {.expect = e};
  ck_assert_int_eq(dusk_on_done(e, cb_record, &late), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&late.calls), 1);
  ck_assert_int_eq(tu_ldi(&late.code), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&late.on_test_thread), 1);
  assert_gates_ok(&gf, 1);
  assert_gates_ok(&ge, 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&rf.calls) + tu_ldi(&re.calls) + tu_ldi(&rd.calls),
                   3);
  dusk_pool_free(p);
}
END_TEST

/* On a delayed node: waits for a compute to run it. */
START_TEST(test_callbacks_delayed_node) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *d = dusk_call(g, t_count, &runs, 0, NULL);
  cbrec r = {.expect = d};
  ck_assert_int_eq(dusk_on_done(d, cb_record, &r), DUSK_OK);
  tu_sleep_ms(30);
  ck_assert_int_eq(tu_ldi(&runs), 0); /* registering started nothing */
  ck_assert_int_eq(tu_ldi(&r.calls), 0);
  ck_assert_int_eq(dusk_compute(g, d, NULL), DUSK_OK);
  assert_called_once(&r);
  ck_assert_int_eq(tu_ldi(&r.code), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&r.calls), 1);
  dusk_pool_free(p);
}
END_TEST

/*
** Many callbacks on one node, registered from several threads while it
** completes: each is called exactly once, whether it was registered before
** or after the node finished.
*/
enum { CB_THREADS = 8 };
typedef struct cb_ctx {
  dusk_node *n;
  cbrec *recs;
  int count;
  atomic_int *registered;
  pthread_barrier_t *bar;
  int failures;
  int before, after; /* registered when the node was (not) ready */
} cb_ctx;

static void *cb_reg_main(void *arg) {
  cb_ctx *c = arg;
  pthread_barrier_wait(c->bar);
  for (int i = 0; i < c->count; i++) {
    if (dusk_ready(c->n))
      c->after++;
    else
      c->before++;
    if (dusk_on_done(c->n, cb_record, &c->recs[i]) != DUSK_OK)
      c->failures++;
    atomic_fetch_add(c->registered, 1);
    if (i % 4 == 3)
      tu_sleep_ms(0.05);
  }
  return NULL;
}

START_TEST(test_callbacks_contention) {
  g_test_thread = pthread_self();
  int per = (int)tu_scaled(200, 40);
  int total = per * CB_THREADS;
  int reps = TU_SANITIZED ? 2 : 5;
  int before = 0, after = 0;
  dusk_pool *p = tu_pool(2);
  cbrec *recs = calloc((size_t)total, sizeof *recs);
  ck_assert_ptr_nonnull(recs);
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    gate gf = {.value = 1};
    dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
    memset(recs, 0, (size_t)total * sizeof *recs);
    for (int i = 0; i < total; i++)
      recs[i].expect = f;
    atomic_int registered = 0;
    pthread_barrier_t bar;
    ck_assert_int_eq(pthread_barrier_init(&bar, NULL, CB_THREADS), 0);
    cb_ctx ctx[CB_THREADS];
    pthread_t th[CB_THREADS];
    for (int t = 0; t < CB_THREADS; t++) {
      ctx[t] = (cb_ctx){.n = f, .recs = recs + t * per, .count = per,
                        .registered = &registered, .bar = &bar};
      ck_assert_int_eq(pthread_create(&th[t], NULL, cb_reg_main, &ctx[t]), 0);
    }
    /* Finish the node halfway through the registrations. */
    ck_assert(wait_at_least(&registered, total / 2, GATE_MS));
    gate_open(&gf);
    for (int t = 0; t < CB_THREADS; t++)
      pthread_join(th[t], NULL);
    pthread_barrier_destroy(&bar);
    ck_assert_int_eq(dusk_wait(f), DUSK_OK);
    for (int t = 0; t < CB_THREADS; t++) {
      ck_assert_int_eq(ctx[t].failures, 0);
      before += ctx[t].before;
      after += ctx[t].after;
    }
    for (int i = 0; i < total; i++)
      ck_assert_msg(wait_at_least(&recs[i].calls, 1, GATE_MS),
                    "rep %d: callback %d never called", rep, i);
    tu_sleep_ms(20);
    for (int i = 0; i < total; i++) {
      ck_assert_msg(tu_ldi(&recs[i].calls) == 1,
                    "rep %d: callback %d called %d times", rep, i,
                    tu_ldi(&recs[i].calls));
      ck_assert_int_eq(tu_ldi(&recs[i].code), DUSK_OK);
      ck_assert_int_eq(tu_ldi(&recs[i].wrong_node), 0);
    }
    assert_gates_ok(&gf, 1);
    dusk_graph_free(g);
    for (int i = 0; i < total; i++)
      ck_assert_int_eq(tu_ldi(&recs[i].calls), 1);
  }
  /* The test means something only if the node finished among them. */
  ck_assert_msg(before > 0 && after > 0,
                "registered %d before and %d after completion", before,
                after);
  free(recs);
  dusk_pool_free(p);
}
END_TEST

/* dusk_graph_free() calls what is still registered, with DUSK_ECANCELED. */
/* A slow task whose end is recorded: udata is an atomic_int set to 1 when
   it returns (after about 50 ms). */
static int t_slow_then_mark(dusk_task *t, const dusk_value *args, int nargs,
                            dusk_value *out) {
  (void)args, (void)nargs;
  tu_sleep_ms(50);
  *out = dusk_i64(7);
  atomic_store((atomic_int *)dusk_task_udata(t), 1);
  return 0;
}

static void cb_mark(dusk_node *n, int code, void *udata) {
  (void)n;
  atomic_store((atomic_int *)udata, code == DUSK_OK ? 1 : -1);
}

/*
** The header: dusk_graph_free waits for started nodes that still run. Free
** the graph right after submitting: the task must have finished and its
** callback fired (with DUSK_OK, not a cancel) by the time free returns.
*/
START_TEST(test_callbacks_graph_free_waits_for_futures) {
  dusk_pool *p = tu_pool(2);
  for (int rep = 0; rep < 3; rep++) {
    dusk_graph *g = tu_graph(p);
    atomic_int ended = 0, called = 0;
    dusk_node *f = dusk_submit(g, t_slow_then_mark, &ended, 0, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(dusk_on_done(f, cb_mark, &called), DUSK_OK);
    dusk_graph_free(g);
    ck_assert_int_eq(atomic_load(&ended), 1);
    ck_assert_int_eq(atomic_load(&called), 1);
  }
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_callbacks_graph_free_cancels) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *d = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_node *d2 = dusk_call(g, t_count, &runs, 1, &d);
  dusk_node *f = dusk_submit(g, t_count, NULL, 0, NULL);
  cbrec rd = {.expect = d}, rd2 = {.expect = d2}, rf = {.expect = f};
  ck_assert_int_eq(dusk_on_done(d, cb_record, &rd), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(d2, cb_record, &rd2), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(f, cb_record, &rf), DUSK_OK);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  assert_called_once(&rf);
  ck_assert_int_eq(tu_ldi(&rd.calls), 0);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&rd.calls), 1);
  ck_assert_int_eq(tu_ldi(&rd.code), DUSK_ECANCELED);
  ck_assert_int_eq(tu_ldi(&rd.on_test_thread), 1);
  ck_assert_int_eq(tu_ldi(&rd2.calls), 1);
  ck_assert_int_eq(tu_ldi(&rd2.code), DUSK_ECANCELED);
  ck_assert_int_eq(tu_ldi(&rf.calls), 1);
  ck_assert_int_eq(tu_ldi(&rf.code), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  dusk_pool_free(p);
}
END_TEST

/*
** A node that did not run because its compute stopped after a failure
** elsewhere: its callback is called once, with that failure's code, when
** the compute gives it up; that is no answer, so a later wait runs it and
** returns DUSK_OK, and calls the callback no more. dusk_start({F, B}): F
** fails with DUSK_EIO while B's argument A is held by its gate, so B
** cannot have finished before the gate opens.
*/
START_TEST(test_callbacks_not_run_gets_the_failure) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gs[2] = {{.value = 1}, {.fail = DUSK_EIO}}; /* A, F */
  atomic_int bruns = 0;
  dusk_node *a = dusk_call(g, t_gate, &gs[0], 0, NULL);
  dusk_node *f = dusk_call(g, t_gate, &gs[1], 0, NULL);
  dusk_node *b = dusk_call(g, t_count, &bruns, 1, &a);
  cbrec r = {.expect = b};
  ck_assert_int_eq(dusk_on_done(b, cb_record, &r), DUSK_OK);
  ck_assert_int_eq(dusk_start(g, 2, (dusk_node *[]){f, b}), DUSK_OK);
  ck_assert(gate_started(&gs[0]) && gate_started(&gs[1]));
  gate_open(&gs[1]);
  ck_assert_int_eq(dusk_wait(f), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&r.calls), 0); /* B still waits for A */
  gate_open(&gs[0]);
  assert_called_once(&r);
  ck_assert_int_eq(tu_ldi(&r.code), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&r.on_test_thread), 0);
  ck_assert_int_eq(tu_ldi(&bruns), 0);
  ck_assert_int_eq(dusk_status(b), DUSK_FAILED);
  ck_assert_msg(tu_has(dusk_errmsg(b), "not run"), "b says %s",
                dusk_errmsg(b) ? dusk_errmsg(b) : "(null)");
  ck_assert_int_eq(dusk_wait(b), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&bruns), 1);
  dusk_value out;
  ck_assert_int_eq(dusk_get(b, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 2);
  ck_assert_int_eq(tu_ldi(&r.calls), 1);
  assert_gates_ok(gs, 2);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&r.calls), 1); /* not again at graph_free */
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== cancel */

/*
** B waits on a gated A; B is cancelled, then A finishes: B never runs, its
** dependents (a future submitted before, a delayed node computed after)
** fail with DUSK_ECANCELED naming B, and B stays cancelled.
*/
START_TEST(test_cancel_before_running) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate ga = {.value = 1};
  atomic_int bruns = 0, druns = 0, cruns = 0;
  dusk_node *a = dusk_submit(g, t_gate, &ga, 0, NULL);
  dusk_node *b = dusk_submit(g, t_count, &bruns, 1, &a);
  dusk_set_name(b, "victim");
  dusk_node *d = dusk_submit(g, t_count, &druns, 1, &b);
  ck_assert(gate_started(&ga));
  ck_assert_int_eq(dusk_status(b), DUSK_WAITING);
  cbrec rb = {.expect = b}, rdep = {.expect = d};
  ck_assert_int_eq(dusk_on_done(b, cb_record, &rb), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(d, cb_record, &rdep), DUSK_OK);
  ck_assert_int_eq(dusk_cancel(b), DUSK_OK);
  /* Finished at once: no need to wait for its argument. */
  ck_assert_int_eq(dusk_status(b), DUSK_CANCELLED);
  ck_assert_int_ne(dusk_ready(b), 0);
  ck_assert_int_eq(dusk_wait_for(b, 1000), DUSK_ECANCELED);
  assert_called_once(&rb);
  ck_assert_int_eq(tu_ldi(&ga.open), 0);
  gate_open(&ga);
  ck_assert_int_eq(dusk_wait(a), DUSK_OK);
  ck_assert_int_eq(dusk_wait(b), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_wait(d), DUSK_ECANCELED);
  ck_assert_msg(tu_has(dusk_errmsg(d), "victim"),
                "the dependent's message does not name the cancelled node: %s",
                dusk_errmsg(d) != NULL ? dusk_errmsg(d) : "(null)");
  ck_assert_int_eq(dusk_errcode(d), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_status(d), DUSK_CANCELLED);
  assert_called_once(&rb);
  assert_called_once(&rdep);
  ck_assert_int_eq(tu_ldi(&rb.code), DUSK_ECANCELED);
  ck_assert_int_eq(tu_ldi(&rdep.code), DUSK_ECANCELED);
  /* A consumer built later fails too; B stays cancelled. */
  dusk_node *c = dusk_call(g, t_count, &cruns, 1, &b);
  dusk_value out = dusk_i64(5);
  ck_assert_int_eq(dusk_compute(g, c, &out), DUSK_ECANCELED);
  ck_assert_int_eq(out.kind, DUSK_NONE);
  ck_assert(tu_has(dusk_errmsg(c), "victim"));
  ck_assert_int_eq(dusk_status(c), DUSK_CANCELLED);
  ck_assert_int_eq(dusk_compute(g, b, NULL), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_status(b), DUSK_CANCELLED);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&bruns), 0);
  ck_assert_int_eq(tu_ldi(&druns), 0);
  ck_assert_int_eq(tu_ldi(&cruns), 0);
  ck_assert_int_eq(tu_ldi(&ga.runs), 1);
  assert_gates_ok(&ga, 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldi(&rb.calls), 1);
  ck_assert_int_eq(tu_ldi(&rdep.calls), 1);
  dusk_pool_free(p);
}
END_TEST

/* A delayed node under dusk_start(), waiting on a gated argument. */
START_TEST(test_cancel_started_delayed) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate ga = {.value = 1};
  atomic_int bruns = 0;
  dusk_node *a = dusk_call(g, t_gate, &ga, 0, NULL);
  dusk_node *b = dusk_call(g, t_count, &bruns, 1, &a);
  ck_assert_int_eq(dusk_start(g, 1, &b), DUSK_OK);
  ck_assert(gate_started(&ga));
  ck_assert_int_eq(dusk_status(b), DUSK_WAITING);
  ck_assert_int_eq(dusk_cancel(b), DUSK_OK);
  gate_open(&ga);
  ck_assert_int_eq(dusk_wait(b), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_status(b), DUSK_CANCELLED);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&bruns), 0);
  ck_assert_int_eq(tu_ldi(&ga.runs), 1);
  assert_gates_ok(&ga, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A lazy node never started: cancelled, a later compute of a dependent
   fails naming it. */
START_TEST(test_cancel_lazy_not_started) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0, eruns = 0;
  dusk_node *d = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_set_name(d, "lazybones");
  dusk_node *e = dusk_call(g, t_count, &eruns, 1, &d);
  dusk_node *l = lit(g, 1);
  dusk_node *de[2] = {l, e};
  dusk_node *top = dusk_call(g, t_count, &eruns, 2, de);
  ck_assert_int_eq(dusk_cancel(d), DUSK_OK);
  ck_assert_int_eq(dusk_status(d), DUSK_CANCELLED);
  ck_assert_int_eq(dusk_status(e), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ECANCELED);
  ck_assert(tu_has(dusk_errmsg(top), "lazybones"));
  ck_assert_int_eq(dusk_compute(g, e, NULL), DUSK_ECANCELED);
  ck_assert(tu_has(dusk_errmsg(e), "lazybones"));
  ck_assert_int_eq(dusk_wait(d), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_compute(g, d, NULL), DUSK_ECANCELED);
  dusk_node *f = dusk_submit(g, t_count, &eruns, 1, &d);
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(dusk_wait(f), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_status(d), DUSK_CANCELLED);
  tu_sleep_ms(20);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  ck_assert_int_eq(tu_ldi(&eruns), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A running task: DUSK_EBUSY; it sees dusk_task_cancelled() and stops. */
START_TEST(test_cancel_running) {
  tu_reset(16);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gc = {.value = 1, .watch_cancel = 1, .boxed = 1};
  dusk_node *f = dusk_submit(g, t_gate, &gc, 0, NULL);
  ck_assert(gate_started(&gc));
  ck_assert_int_eq(tu_ldi(&gc.cancel_at_start), 0);
  tu_sleep_ms(10);
  ck_assert_int_eq(tu_ldi(&gc.saw_cancel), 0); /* not before the cancel */
  ck_assert_int_eq(dusk_cancel(f), DUSK_EBUSY);
  ck_assert_msg(tu_wait_flag(&gc.finished, GATE_MS),
                "the cancelled task did not stop");
  ck_assert_int_eq(tu_ldi(&gc.saw_cancel), 1);
  ck_assert_int_eq(tu_ldi(&gc.open), 0); /* it stopped early */
  /* What the task returned is its code; the box it wrote is released. */
  ck_assert_int_eq(dusk_wait(f), DUSK_ECANCELED);
  ck_assert_int_ne(dusk_ready(f), 0);
  ck_assert_int_eq(dusk_cancel(f), DUSK_EINVAL); /* finished now */

  /* A task that does not look goes on, and succeeds. */
  gate gi = {.value = 2, .boxed = 1};
  dusk_node *h = dusk_submit(g, t_gate, &gi, 0, NULL);
  ck_assert(gate_started(&gi));
  ck_assert_int_eq(dusk_cancel(h), DUSK_EBUSY);
  tu_sleep_ms(10);
  ck_assert_int_eq(tu_ldi(&gi.finished), 0);
  gate_open(&gi);
  ck_assert_int_eq(dusk_wait(h), DUSK_OK);
  dusk_value out;
  ck_assert_int_eq(dusk_get(h, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), 2);
  ck_assert_int_eq(tu_ldi(&gi.runs), 1);
  assert_gates_ok(&gi, 1);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), 2);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), 2);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

START_TEST(test_cancel_finished_refused) {
  tu_reset(16);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *f = dusk_submit(g, t_box, NULL, 0, NULL);
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  ck_assert_int_eq(dusk_cancel(f), DUSK_EINVAL);
  /* The result stays. */
  ck_assert_int_eq(dusk_status(f), DUSK_DONE);
  dusk_value out;
  ck_assert_int_eq(dusk_get(f, &out), DUSK_OK);
  ck_assert(tu_box_live(&out));
  dusk_node *x = dusk_submit(g, t_kaboom, NULL, 0, NULL);
  ck_assert_int_eq(dusk_wait(x), DUSK_ETASK);
  ck_assert_int_eq(dusk_cancel(x), DUSK_EINVAL);
  ck_assert_int_eq(dusk_wait(x), DUSK_ETASK);
  dusk_node *c = dusk_call(g, t_count, NULL, 0, NULL);
  ck_assert_int_eq(dusk_cancel(c), DUSK_OK);
  ck_assert_int_eq(dusk_cancel(c), DUSK_EINVAL); /* already finished */
  ck_assert_int_eq(dusk_cancel(lit(g, 1)), DUSK_EINVAL);
  ck_assert_int_eq(dusk_cancel(NULL), DUSK_EINVAL);
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* A thread that cancels a node once a shared flag says go. */
typedef struct canceller {
  dusk_node *n;
  atomic_int *go;
  int rc;
} canceller;

static void *cancel_main(void *arg) {
  canceller *c = arg;
  while (!atomic_load(c->go))
    ;
  c->rc = dusk_cancel(c->n);
  return NULL;
}

/*
** A cancelled node stays cancelled: a second dusk_cancel() says
** DUSK_EINVAL (finished) and changes nothing; two at once each say DUSK_OK
** or DUSK_EINVAL, and the node stays cancelled. (A second cancel used to
** clear the flag of the first, and the next compute ran the node.)
*/
START_TEST(test_cancel_twice_stays_cancelled) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *x = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_node *y = dusk_call(g, t_count, &runs, 1, &x);
  ck_assert_int_eq(dusk_cancel(x), DUSK_OK);
  ck_assert_int_eq(dusk_cancel(x), DUSK_EINVAL);
  ck_assert_int_eq(dusk_status(x), DUSK_CANCELLED);
  ck_assert_int_eq(dusk_compute(g, x, NULL), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_compute(g, y, NULL), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_wait(x), DUSK_ECANCELED);
  ck_assert_int_eq(tu_ldi(&runs), 0);
  for (int rep = 0; rep < 200; rep++) {
    atomic_int go = 0;
    dusk_node *z = dusk_call(g, t_count, &runs, 0, NULL);
    canceller c[2] = {{z, &go, 1}, {z, &go, 1}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
      ck_assert_int_eq(pthread_create(&th[k], NULL, cancel_main, &c[k]), 0);
    atomic_store(&go, 1);
    for (int k = 0; k < 2; k++)
      pthread_join(th[k], NULL);
    ck_assert_msg((c[0].rc == DUSK_OK || c[1].rc == DUSK_OK) &&
                      (c[0].rc == DUSK_OK || c[0].rc == DUSK_EINVAL) &&
                      (c[1].rc == DUSK_OK || c[1].rc == DUSK_EINVAL),
                  "rep %d: cancels gave %d and %d", rep, c[0].rc, c[1].rc);
    ck_assert_int_eq(dusk_compute(g, z, NULL), DUSK_ECANCELED);
  }
  ck_assert_int_eq(tu_ldi(&runs), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** Two threads cancel a node that waits for a gated argument at once. Only
** one may finish it: both used to, and its compute then never drained
** (dusk_graph_free() hung) and its dependents were counted down twice.
*/
START_TEST(test_cancel_waiting_twice_at_once) {
  dusk_pool *p = tu_pool(2);
  int reps = (int)tu_scaled(300, 30);
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    gate ga = {.value = 1};
    atomic_int go = 0, runs = 0;
    dusk_node *a = dusk_submit(g, t_gate, &ga, 0, NULL);
    dusk_node *b = dusk_submit(g, t_count, &runs, 1, &a);
    dusk_node *c = dusk_submit(g, t_count, &runs, 1, &b);
    ck_assert(gate_started(&ga));
    canceller cc[2] = {{b, &go, 1}, {b, &go, 1}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
      ck_assert_int_eq(pthread_create(&th[k], NULL, cancel_main, &cc[k]), 0);
    atomic_store(&go, 1);
    for (int k = 0; k < 2; k++)
      pthread_join(th[k], NULL);
    ck_assert_msg(cc[0].rc == DUSK_OK || cc[1].rc == DUSK_OK,
                  "rep %d: cancels gave %d and %d", rep, cc[0].rc, cc[1].rc);
    gate_open(&ga);
    ck_assert_int_eq(dusk_wait(c), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_errcode(c), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_wait(a), DUSK_OK);
    ck_assert_int_eq(tu_ldi(&runs), 0);
    assert_gates_ok(&ga, 1);
    dusk_graph_free(g); /* hung when both finished b */
  }
  dusk_pool_free(p);
}
END_TEST

/*
** A cancel that finds the task running (DUSK_EBUSY) while the task does
** not look comes too late: the task succeeds, and the node is not
** cancelled for later computes. (The flag used to stay, and the next
** compute after the result was released failed as cancelled.)
*/
START_TEST(test_cancel_too_late_dropped) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gs = {.value = 3};
  atomic_int runs = 0;
  dusk_node *s = dusk_call(g, t_gate, &gs, 0, NULL);
  dusk_node *d = dusk_call(g, t_count, &runs, 1, &s);
  ck_assert_int_eq(dusk_start(g, 1, &d), DUSK_OK);
  ck_assert(gate_started(&gs));
  ck_assert_int_eq(dusk_cancel(s), DUSK_EBUSY);
  gate_open(&gs);
  dusk_value out;
  ck_assert_int_eq(dusk_get(d, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), 4);
  dusk_release(d); /* s's result went with its last reader: s is idle */
  ck_assert_int_eq(dusk_status(s), DUSK_NOT_STARTED);
  ck_assert_int_eq(dusk_compute(g, d, &out), DUSK_OK);
  ck_assert_int_eq(tu_get(&out), 4);
  ck_assert_int_eq(tu_ldi(&gs.runs), 2);
  ck_assert_int_eq(tu_ldi(&runs), 2);
  assert_gates_ok(&gs, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** A node cancelled while it is queued (ready, its worker busy) fails as
** cancelled, DUSK_ECANCELED, also when another task of its compute fails
** first. (It used to be skipped as "not run: the compute stopped", with
** that task's code.)
*/
START_TEST(test_cancel_queued_after_a_failure) {
  dusk_pool *p = tu_pool(1);
  int failed_first = 0;
  for (int rep = 0; rep < 8; rep++) {
    dusk_graph *g = tu_graph(p);
    gate busy = {.value = 0};
    atomic_int runs = 0;
    dusk_node *hold = dusk_submit(g, t_gate, &busy, 0, NULL);
    ck_assert(gate_started(&busy)); /* the only worker is taken */
    dusk_node *f = dusk_call(g, t_kaboom, NULL, 0, NULL);
    dusk_node *n = dusk_call(g, t_count, &runs, 0, NULL);
    dusk_node *both[2] = {rep % 2 ? n : f, rep % 2 ? f : n};
    ck_assert_int_eq(dusk_start(g, 2, both), DUSK_OK);
    ck_assert_int_eq(dusk_status(n), DUSK_WAITING);
    ck_assert_int_eq(dusk_cancel(n), DUSK_OK);
    gate_open(&busy);
    int rf = dusk_wait(f); /* ETASK if it ran first, else stopped */
    ck_assert(rf == DUSK_ETASK || rf == DUSK_ECANCELED);
    failed_first += rf == DUSK_ETASK;
    ck_assert_int_eq(dusk_wait(n), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_status(n), DUSK_CANCELLED);
    ck_assert_int_eq(tu_ldi(&runs), 0);
    ck_assert_int_eq(dusk_wait(hold), DUSK_OK);
    assert_gates_ok(&busy, 1);
    dusk_graph_free(g);
  }
  ck_assert_int_gt(failed_first, 0); /* the case above did happen */
  dusk_pool_free(p);
}
END_TEST

typedef struct bigjob {
  dusk_graph *g;
  dusk_node *top;
  int rc;
  atomic_int done;
} bigjob;

static void *bigjob_main(void *arg) {
  bigjob *j = arg;
  j->rc = dusk_compute(j->g, j->top, NULL);
  atomic_store(&j->done, 1);
  return NULL;
}

/*
** Cancel a node as soon as a compute claims it, while that compute still
** sets itself up: here a node read by a thousand consumers, each also
** needing a chain, so that the compute wires consumers to it long after
** claiming it. The compute fails as cancelled, nothing runs that needs it,
** and it settles (dusk_graph_free() returns). A cancel may finish a waiting
** node only once its compute is wired: before, it wrote the node's count
** and read its list of dependents while the set-up was still writing them.
*/
START_TEST(test_cancel_while_setting_up) {
  dusk_pool *p = tu_pool(2);
  int m = (int)tu_scaled(1000, 100), len = (int)tu_scaled(200, 20);
  for (int rep = 0; rep < 4; rep++) {
    dusk_graph *g = tu_graph(p);
    atomic_int xruns = 0, cruns = 0;
    dusk_node *x = dusk_call(g, t_count, &xruns, 0, NULL);
    dusk_node **c = malloc((size_t)m * sizeof *c);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < m; i++) {
      dusk_node *y = dusk_call(g, t_count, NULL, 0, NULL);
      for (int k = 0; k < len; k++)
        y = dusk_call(g, t_count, NULL, 1, &y);
      dusk_node *xy[2] = {x, y};
      c[i] = dusk_call(g, t_count, &cruns, 2, xy);
    }
    bigjob j = {g, dusk_call(g, t_count, NULL, m, c), 1, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bigjob_main, &j), 0);
    while (dusk_status(x) == DUSK_NOT_STARTED && !atomic_load(&j.done))
      ;
    if (atomic_load(&j.done)) { /* it all ran before we saw x claimed */
      pthread_join(th, NULL);
      ck_assert_int_eq(j.rc, DUSK_OK);
      dusk_graph_free(g);
      free(c);
      continue;
    }
    int rc = dusk_cancel(x);
    pthread_join(th, NULL);
    ck_assert_msg(rc == DUSK_OK || rc == DUSK_EBUSY || rc == DUSK_EINVAL,
                  "rep %d: cancel gave %d", rep, rc);
    if (rc == DUSK_OK && j.rc == DUSK_OK) {
      /* Preempted between the two calls: the compute ended before the
         cancel, which then cancelled an idle node. */
      ck_assert_int_eq(tu_ldi(&xruns), 1);
    } else if (rc == DUSK_OK) {
      ck_assert_int_eq(j.rc, DUSK_ECANCELED);
      ck_assert_int_eq(tu_ldi(&xruns), 0);
      ck_assert_int_eq(tu_ldi(&cruns), 0);
      ck_assert_int_eq(dusk_status(x), DUSK_CANCELLED);
    }
    dusk_graph_free(g);
    free(c);
  }
  dusk_pool_free(p);
}
END_TEST

/* Spins about udata microseconds, then 1 + the sum of its arguments. */
static int t_spin_us(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  double end = tu_now_ms() + (double)(intptr_t)dusk_task_udata(t) / 1e3;
  while (tu_now_ms() < end)
    ;
  *out = dusk_i64(tu_sum1(args, nargs));
  return 0;
}

/*
** Cancel a node (of one argument, or two) just as its arguments finish,
** again and again. Whatever the timing, the answer says what happened:
** DUSK_OK, the node never runs after it and stays cancelled (its
** dependent fails, unless the node had run before); DUSK_EINVAL, it was not
** cancelled; DUSK_EBUSY, it ran to the end, or its worker saw the cancel
** as it was about to start it and did not. (A cancel whose flag the worker
** saw first used to answer DUSK_EINVAL and leave the node uncancelled; one
** that finished a node while its arguments drained let a worker finish it
** a second time; and one that met the node's task finishing could cancel
** it idle afterwards without the flag that keeps it cancelled.)
*/
START_TEST(test_cancel_racing_arguments) {
  dusk_pool *p = tu_pool(2);
  int reps = (int)tu_scaled(3000, 300);
  uint64_t rs = 12345;
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    int nargs = 1 + rep % 2;
    atomic_int bruns = 0, cruns = 0;
    dusk_node *a[2];
    for (int k = 0; k < nargs; k++)
      a[k] = dusk_call(g, t_spin_us, (void *)(intptr_t)(20 + k), 0, NULL);
    dusk_node *b = dusk_call(g, t_count, &bruns, nargs, a);
    dusk_node *c = dusk_call(g, t_count, &cruns, 1, &b);
    ck_assert_int_eq(dusk_start(g, 1, &c), DUSK_OK);
    double end = tu_now_ms() + (15 + tu_rand_below(&rs, 12)) / 1e3;
    while (tu_now_ms() < end)
      ;
    int rc = dusk_cancel(b);
    int ran = tu_ldi(&bruns);
    int w = dusk_wait(c);
    dusk_state sb = dusk_status(b);
    ck_assert_msg(w == DUSK_OK || w == DUSK_ECANCELED, "rep %d: wait %d", rep,
                  w);
    ck_assert_msg(dusk_errcode(c) == (w == DUSK_OK ? DUSK_OK : DUSK_ECANCELED),
                  "rep %d: code of c %d", rep, dusk_errcode(c));
    if (rc == DUSK_OK) {
      ck_assert_msg(tu_ldi(&bruns) == ran && sb == DUSK_CANCELLED &&
                        (ran || w == DUSK_ECANCELED),
                    "rep %d: cancel OK, b ran %d then %d, state %d, wait %d",
                    rep, ran, tu_ldi(&bruns), (int)sb, w);
      /* For good: even when it ran before, and had no result any more. */
      ck_assert_msg(dusk_compute(g, b, NULL) == DUSK_ECANCELED &&
                        tu_ldi(&bruns) == ran,
                    "rep %d: b cancelled, computed again it ran %d times",
                    rep, tu_ldi(&bruns));
    }
    else if (rc == DUSK_EINVAL)
      ck_assert_msg(tu_ldi(&bruns) == 1 && w == DUSK_OK &&
                        sb != DUSK_CANCELLED,
                    "rep %d: cancel EINVAL, b ran %d, state %d, wait %d", rep,
                    tu_ldi(&bruns), (int)sb, w);
    else /* it ran; or its worker saw the cancel just before it started */
      ck_assert_msg(rc == DUSK_EBUSY &&
                        (tu_ldi(&bruns) == 1
                             ? sb != DUSK_CANCELLED && w == DUSK_OK
                             : sb == DUSK_CANCELLED && w == DUSK_ECANCELED),
                    "rep %d: cancel %d, b ran %d, state %d, wait %d", rep, rc,
                    tu_ldi(&bruns), (int)sb, w);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* Counted boxes: a cancel in every position leaks nothing. */
START_TEST(test_cancel_no_leaks) {
  tu_reset(256);
  dusk_pool *p = tu_pool(3);
  for (int rep = 0; rep < 3; rep++) {
    dusk_graph *g = tu_graph(p);
    gate ga = {.value = 1, .boxed = 1};
    gate gr = {.value = 2, .boxed = 1, .watch_cancel = 1};
    dusk_node *a = dusk_submit(g, t_gate, &ga, 0, NULL);
    dusk_node *b = dusk_submit(g, t_box, NULL, 1, &a);
    dusk_node *c = dusk_submit(g, t_box, NULL, 1, &b);
    dusk_node *ac[2] = {a, c};
    dusk_node *e = dusk_call(g, t_box, NULL, 2, ac);
    dusk_node *k = dusk_call(g, t_box, NULL, 1, &a);
    dusk_node *run = dusk_submit(g, t_gate, &gr, 1, &a);
    dusk_node *lazy = dusk_call(g, t_box, NULL, 0, NULL);
    dusk_node *lazy2 = dusk_call(g, t_box, NULL, 1, &lazy);
    ck_assert(gate_started(&ga));
    ck_assert_int_eq(dusk_cancel(b), DUSK_OK);
    ck_assert_int_eq(dusk_cancel(lazy), DUSK_OK);
    gate_open(&ga);
    ck_assert(gate_started(&gr));
    ck_assert_int_eq(dusk_cancel(run), DUSK_EBUSY);
    ck_assert_int_eq(dusk_wait(run), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_wait(c), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_compute(g, e, NULL), DUSK_ECANCELED);
    ck_assert_int_eq(dusk_compute(g, lazy2, NULL), DUSK_ECANCELED);
    dusk_value out;
    ck_assert_int_eq(dusk_compute(g, k, &out), DUSK_OK);
    ck_assert_int_eq(tu_get(&out), 2);
    assert_gates_ok(&ga, 1);
    assert_gates_ok(&gr, 1);
    dusk_graph_free(g);
    ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  }
  ck_assert_int_eq(tu_ldl(&tu_st.allocs), 3 * 3); /* a, run's, k */
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  assert_boxes_clean();
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== shared */

enum { SH_THREADS = 8 };

/* Several threads dusk_get() one future, and one delayed node. */
START_TEST(test_shared_threads_get) {
  dusk_pool *p = tu_pool(2);
  int reps = TU_SANITIZED ? 2 : 5;
  for (int rep = 0; rep < reps; rep++) {
    for (int lazy = 0; lazy < 2; lazy++) {
      dusk_graph *g = tu_graph(p);
      gate gf = {.value = 77 + lazy};
      dusk_node *f = lazy ? dusk_call(g, t_gate, &gf, 0, NULL)
                          : dusk_submit(g, t_gate, &gf, 0, NULL);
      bg b[SH_THREADS];
      pthread_t th[SH_THREADS];
      for (int i = 0; i < SH_THREADS; i++) {
        b[i] = (bg){.op = i % 3 == 2 ? BG_WAIT : BG_GET, .g = g, .n = f};
        ck_assert_int_eq(pthread_create(&th[i], NULL, bg_main, &b[i]), 0);
      }
      ck_assert(gate_started(&gf));
      tu_sleep_ms(10);
      gate_open(&gf);
      for (int i = 0; i < SH_THREADS; i++)
        pthread_join(th[i], NULL);
      for (int i = 0; i < SH_THREADS; i++) {
        ck_assert_int_eq(b[i].rc, DUSK_OK);
        if (b[i].op == BG_GET)
          ck_assert_int_eq(b[i].out.i64, 77 + lazy);
      }
      ck_assert_int_eq(tu_ldi(&gf.runs), 1);
      assert_gates_ok(&gf, 1);
      dusk_graph_free(g);
    }
  }
  dusk_pool_free(p);
}
END_TEST

/* Several computes at once, on threads, need one running future. */
START_TEST(test_shared_between_computes) {
  enum { C = 4 };
  dusk_pool *p = tu_pool(2);
  int reps = TU_SANITIZED ? 2 : 5;
  for (int rep = 0; rep < reps; rep++) {
    dusk_graph *g = tu_graph(p);
    gate gf = {.value = 10};
    dusk_node *f = dusk_submit(g, t_gate, &gf, 0, NULL);
    atomic_int cr[C];
    dusk_node *c[C];
    bg b[C];
    pthread_t th[C];
    for (int i = 0; i < C; i++) {
      atomic_init(&cr[i], 0);
      c[i] = dusk_call(g, t_count, &cr[i], 1, &f);
      b[i] = (bg){.op = BG_COMPUTE, .g = g, .n = c[i]};
      ck_assert_int_eq(pthread_create(&th[i], NULL, bg_main, &b[i]), 0);
    }
    ck_assert(gate_started(&gf));
    dusk_node *sum = dusk_call(g, t_count, NULL, C, c);
    ck_assert_int_eq(dusk_start(g, 1, &sum), DUSK_OK);
    tu_sleep_ms(10);
    gate_open(&gf);
    dusk_value outs[C];
    ck_assert_int_eq(dusk_compute_many(g, C, c, outs), DUSK_OK);
    for (int i = 0; i < C; i++) {
      pthread_join(th[i], NULL);
      ck_assert_int_eq(b[i].rc, DUSK_OK);
      ck_assert_int_eq(b[i].out.i64, 11);
      ck_assert_int_eq(outs[i].i64, 11);
    }
    dusk_value out;
    ck_assert_int_eq(dusk_get(sum, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 1 + 11 * C);
    ck_assert_int_eq(tu_ldi(&gf.runs), 1);
    for (int i = 0; i < C; i++)
      ck_assert_int_eq(tu_ldi(&cr[i]), 1);
    assert_gates_ok(&gf, 1);
    dusk_graph_free(g);
  }
  dusk_pool_free(p);
}
END_TEST

/* Open a gate after a pause, from a thread of its own. */
typedef struct opener {
  gate *g;
  double after_ms;
} opener;

static void *open_later(void *arg) {
  opener *o = arg;
  tu_sleep_ms(o->after_ms);
  gate_open(o->g);
  return NULL;
}

/*
** The wind-down of the two tests below: M(N, G) with N(H), and a start of
** {M, F} that stops when F fails (DUSK_EIO); H then finishes, and N is
** given up, held by M while G runs. wind_n() builds H, F and N;
** wind_down() builds M on the caller's G, starts, and returns once F has
** failed and H is let go. gstarted: G's gate's started flag, awaited
** before F fails, or NULL.
*/
typedef struct winding {
  gate gh, gf;
  atomic_int nruns;
  dusk_node *f, *n, *m;
} winding;

static dusk_node *wind_n(dusk_graph *g, winding *w) {
  *w = (winding){.gh = {.value = 1}, .gf = {.fail = DUSK_EIO}};
  dusk_node *h = dusk_call(g, t_gate, &w->gh, 0, NULL);
  w->f = dusk_call(g, t_gate, &w->gf, 0, NULL);
  w->n = dusk_call(g, t_count, &w->nruns, 1, &h);
  ck_assert(h != NULL && w->f != NULL && w->n != NULL);
  return w->n;
}

static void wind_down(dusk_graph *g, winding *w, dusk_node *gn,
                      atomic_int *gstarted) {
  w->m = dusk_call(g, t_count, NULL, 2, (dusk_node *[]){w->n, gn});
  ck_assert_int_eq(dusk_start(g, 2, (dusk_node *[]){w->m, w->f}), DUSK_OK);
  ck_assert(gate_started(&w->gh) && gate_started(&w->gf));
  ck_assert(!gstarted || tu_wait_flag(gstarted, GATE_MS));
  gate_open(&w->gf);
  ck_assert_int_eq(dusk_wait(w->f), DUSK_EIO);
  gate_open(&w->gh); /* N is given up; M holds it while G runs */
}

/*
** A compute waits out another compute's wind-down. A started compute stops
** after F fails and gives up N, which it still holds: N's consumer M waits
** for G, held by its gate. A compute of N finds N given up and not yet free
** to run again; that is no answer, and no try either: it waits until the
** stopped compute is done with N (G opens, from another thread, a second
** later), then runs N and succeeds. A compute that counted those waits as
** tries would have given up (64 of them take about half a second) with
** F's failure, which N does not need.
*/
START_TEST(test_shared_waits_out_a_wind_down) {
  g_test_thread = pthread_self();
  dusk_pool *p = tu_pool(3);
  dusk_graph *g = tu_graph(p);
  gate gg = {.value = 1};
  winding w;
  dusk_node *n = wind_n(g, &w);
  cbrec rn = {.expect = n};
  ck_assert_int_eq(dusk_on_done(n, cb_record, &rn), DUSK_OK);
  wind_down(g, &w, dusk_call(g, t_gate, &gg, 0, NULL), &gg.started);
  ck_assert(wait_at_least(&rn.calls, 1, GATE_MS));
  ck_assert_int_eq(tu_ldi(&rn.code), DUSK_EIO);

  opener o = {&gg, 1000};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, open_later, &o), 0);
  dusk_value out = dusk_i64(-1);
  ck_assert_int_eq(dusk_compute(g, n, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 2);
  ck_assert_int_eq(tu_ldi(&gg.finished), 1); /* it waited for G */
  ck_assert_int_eq(tu_ldi(&w.nruns), 1);
  pthread_join(th, NULL);
  ck_assert_int_eq(dusk_wait_any(&w.m, 1, -1), 0);
  ck_assert_int_eq(tu_ldi(&rn.calls), 1);
  assert_gates_ok(&gg, 1);
  assert_gates_ok(&w.gh, 1);
  assert_gates_ok(&w.gf, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* A task that, once N ended "not run", computes N inside itself. */
typedef struct nester {
  dusk_node *n;
  atomic_int rc, done;
} nester;

static int t_compute_n(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)args, (void)nargs;
  nester *x = dusk_task_udata(t);
  double end = tu_now_ms() + GATE_MS;
  while (dusk_status(x->n) != DUSK_FAILED && tu_now_ms() < end)
    tu_sleep_ms(0.2);
  dusk_value v;
  int rc = dusk_compute(dusk_task_graph(t), x->n, &v);
  atomic_store(&x->rc, rc);
  atomic_store(&x->done, 1);
  *out = dusk_i64(1);
  return rc == DUSK_OK ? 0 : rc;
}

/*
** The other side of waiting out a wind-down: a compute nested in a task of
** the compute that stopped, where that task is what the wind-down waits
** for. M(N, G) with N(H); a start of {M, F} stops when F fails, H then
** finishes and N is given up, held by M, which waits for G; G's task
** computes N. Waiting until M lets go of N would wait for G itself, for
** ever: inside a task, the wait is bounded (64 tries), so the nested
** compute returns F's failure, G fails, M lets go, and a compute of N from
** outside then runs it.
*/
START_TEST(test_shared_nested_wind_down_is_bounded) {
  dusk_pool *p = tu_pool(3);
  dusk_graph *g = tu_graph(p);
  winding w;
  nester x = {.n = wind_n(g, &w)};
  wind_down(g, &w, dusk_call(g, t_compute_n, &x, 0, NULL), NULL);
  ck_assert(wait_at_least(&x.done, 1, GATE_MS));
  ck_assert_int_eq(tu_ldi(&x.rc), DUSK_EIO);
  ck_assert_int_eq(tu_ldi(&w.nruns), 0);
  ck_assert_int_eq(dusk_wait_any(&w.m, 1, -1), 0); /* the stopped one ends */
  dusk_value out = dusk_i64(-1);
  ck_assert_int_eq(dusk_compute(g, w.n, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 2);
  ck_assert_int_eq(tu_ldi(&w.nruns), 1);
  assert_gates_ok(&w.gh, 1);
  assert_gates_ok(&w.gf, 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** A started compute's target, waited for, released and computed again
** before the start had settled: the start must not touch the keep of the
** node's next life. It used to look at the target's state when it settled
** and, finding it not DONE (claimed again), drop "its" keep, which was the
** new compute's: a kept node with no ref, freed under its reader or spun
** on for ever. Many rounds, since the start settles microseconds after its
** target finishes; each round takes the kept value.
*/
START_TEST(test_start_settles_only_its_own_life) {
  dusk_pool *p = tu_pool(2);
  long rounds = tu_scaled(6000, 600);
  dusk_graph *g = tu_graph(p);
  atomic_int runs = 0;
  dusk_node *a = dusk_call(g, t_count, &runs, 0, NULL);
  dusk_node *t = dusk_call(g, t_count, &runs, 1, &a);
  for (long r = 0; r < rounds; r++) {
    ck_assert_int_eq(dusk_start(g, 1, &t), DUSK_OK);
    ck_assert_int_eq(dusk_wait(t), DUSK_OK);
    dusk_release(t); /* possibly before the start has settled */
    dusk_value out = dusk_i64(-1);
    ck_assert_int_eq(dusk_compute(g, t, &out), DUSK_OK); /* kept again */
    ck_assert_int_eq(out.i64, 2);
    /* A moment for the start to settle, if it has not: then t, kept by
       the compute, must still have its value to take. */
    tu_sleep_ms(0.01);
    ck_assert_msg(dusk_status(t) == DUSK_DONE, "round %ld: t is %d", r,
                  (int)dusk_status(t));
    ck_assert_int_eq(dusk_take(t, &out), DUSK_OK);
    ck_assert_int_eq(out.i64, 2);
  }
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== fib */

/*
** fib(n): a task that submits fib(n-1) and fib(n-2) as futures on its own
** graph and waits for both with dusk_get(). On one worker, the waiting
** worker must run the children itself.
*/
static atomic_long g_fib_runs, g_fib_errors;

static int t_fib(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  atomic_fetch_add(&g_fib_runs, 1);
  if (nargs != 1 || args[0].kind != DUSK_I64) {
    atomic_fetch_add(&g_fib_errors, 1);
    return dusk_fail(t, "bad arguments");
  }
  int64_t n = args[0].i64;
  if (n < 2) {
    *out = dusk_i64(n);
    return 0;
  }
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *n1 = dusk_literal(g, dusk_i64(n - 1));
  dusk_node *n2 = dusk_literal(g, dusk_i64(n - 2));
  dusk_node *a = n1 != NULL ? dusk_future(g, t_fib, n1) : NULL;
  dusk_node *b = n2 != NULL ? dusk_submit(g, t_fib, NULL, 1, &n2) : NULL;
  if (a == NULL || b == NULL) {
    atomic_fetch_add(&g_fib_errors, 1);
    return dusk_fail(t, "fib(%lld): could not submit", (long long)n);
  }
  dusk_value va = dusk_i64(0), vb = dusk_i64(0);
  int ra = dusk_get(a, &va);
  int rb = dusk_get(b, &vb);
  if (ra != DUSK_OK || rb != DUSK_OK) {
    atomic_fetch_add(&g_fib_errors, 1);
    return dusk_fail(t, "fib(%lld): %s", (long long)n,
                     dusk_strerror(ra != DUSK_OK ? ra : rb));
  }
  *out = dusk_i64(va.i64 + vb.i64);
  dusk_release(a);
  dusk_release(b);
  return 0;
}

static void fib_run(int threads, int depth, int64_t expect, int lazy_top) {
  dusk_pool *p = tu_pool(threads);
  dusk_graph *g = tu_graph(p);
  atomic_store(&g_fib_runs, 0);
  atomic_store(&g_fib_errors, 0);
  dusk_node *n = lit(g, depth);
  dusk_node *top =
      lazy_top ? dusk_delayed(g, t_fib, n) : dusk_future(g, t_fib, n);
  ck_assert_ptr_nonnull(top);
  dusk_value out = dusk_i64(-1);
  int rc = lazy_top ? dusk_compute(g, top, &out) : dusk_get(top, &out);
  ck_assert_msg(rc == DUSK_OK, "fib(%d): %s: %s", depth, dusk_strerror(rc),
                dusk_errmsg(top) != NULL ? dusk_errmsg(top) : "");
  ck_assert_int_eq(out.i64, expect);
  ck_assert_int_eq(tu_ldl(&g_fib_errors), 0);
  /* calls(n) = 2 fib(n+1) - 1: each future ran once. */
  int64_t f0 = 0, f1 = 1;
  for (int i = 0; i < depth + 1; i++) {
    int64_t f2 = f0 + f1;
    f0 = f1;
    f1 = f2;
  }
  ck_assert_int_eq(tu_ldl(&g_fib_runs), 2 * f0 - 1);
  dusk_graph_free(g);
  dusk_pool_free(p);
}

START_TEST(test_fib_one_thread) {
  fib_run(1, 20, 6765, 0);
  fib_run(1, 12, 144, 1);
}
END_TEST

START_TEST(test_fib_two_threads) {
  fib_run(2, 20, 6765, 0);
  fib_run(2, 12, 144, 1);
}
END_TEST

/* ====================================================== map */

typedef struct maprec {
  int64_t begin, end;
  atomic_int *hits;  /* per index of [begin, end)               */
  int64_t *len_at;   /* the length of the chunk starting there  */
  atomic_int calls;
  atomic_int bad;    /* bad arguments, a range out of [begin, end) */
} maprec;

/* The map task: counts each index it covers; result: its first index. */
static int t_range(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  maprec *m = dusk_task_udata(t);
  atomic_fetch_add(&m->calls, 1);
  if (nargs != 2 || args[0].kind != DUSK_I64 || args[1].kind != DUSK_I64) {
    atomic_fetch_add(&m->bad, 1);
    return dusk_fail(t, "bad arguments");
  }
  int64_t b = args[0].i64, e = args[1].i64;
  if (b < m->begin || e > m->end || e <= b) {
    atomic_fetch_add(&m->bad, 1);
    return dusk_fail(t, "bad range");
  }
  m->len_at[b - m->begin] = e - b; /* one task per start, else hits say */
  for (int64_t i = b; i < e; i++)
    atomic_fetch_add(&m->hits[i - m->begin], 1);
  *out = dusk_i64(b);
  return 0;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The number of chunks the header promises. */
static int64_t expect_chunks(int64_t n, int64_t chunk, int workers) {
  if (n == 0)
    return 0;
  int64_t c = chunk != 0 ? chunk : ceil_div(n, workers);
  return ceil_div(n, c);
}

typedef struct map_case {
  int workers;
  int64_t begin, end, chunk;
} map_case;

static const map_case map_cases[] = {
    {4, 0, 10, 0},   {4, 0, 8, 0},   {4, 0, 3, 0},     {4, 0, 1, 0},
    {4, 0, 9, 0},    {4, 5, 105, 0}, {4, -7, 7, 0},    {3, 0, 10, 0},
    {1, 0, 10, 0},   {4, 0, 10, 3},  {4, 0, 10, 1},    {4, 0, 10, 10},
    {4, 0, 10, 1000}, {4, 0, 10, 4}, {2, 0, 100001, 0}, {4, -50, 1000, 7},
};

START_TEST(test_map_chunk_counts) {
  int ncases = (int)(sizeof map_cases / sizeof map_cases[0]);
  for (int k = 0; k < ncases; k++) {
    const map_case *mc = &map_cases[k];
    dusk_pool *p = tu_pool(mc->workers);
    dusk_graph *g = tu_graph(p);
    maprec m = {0};
    int64_t want = expect_chunks(mc->end - mc->begin, mc->chunk, mc->workers);
    int got = dusk_map(g, t_range, &m, mc->begin, mc->end, mc->chunk, NULL, 0);
    ck_assert_msg(got == want,
                  "case %d: %d workers, [%lld, %lld) chunk %lld: %d chunks, "
                  "not %lld",
                  k, mc->workers, (long long)mc->begin, (long long)mc->end,
                  (long long)mc->chunk, got, (long long)want);
    ck_assert_uint_eq(dusk_graph_size(g), 0); /* counting builds nothing */
    dusk_node **nodes = calloc((size_t)want + 1, sizeof *nodes);
    ck_assert_ptr_nonnull(nodes);
    /* max one short: refused, nothing built. */
    if (want > 0) {
      ck_assert_int_eq(dusk_map(g, t_range, &m, mc->begin, mc->end, mc->chunk,
                                nodes, (int)want - 1),
                       DUSK_EINVAL);
      ck_assert_uint_eq(dusk_graph_size(g), 0);
    }
    ck_assert_int_eq(dusk_map(g, t_range, &m, mc->begin, mc->end, mc->chunk,
                              nodes, (int)want + 1),
                     want);
    for (int i = 0; i < want; i++)
      ck_assert_ptr_nonnull(nodes[i]);
    free(nodes);
    dusk_graph_free(g);
    dusk_pool_free(p);
  }
}
END_TEST

START_TEST(test_map_ranges_cover) {
  int ncases = (int)(sizeof map_cases / sizeof map_cases[0]);
  for (int k = 0; k < ncases; k++) {
    const map_case *mc = &map_cases[k];
    int64_t n = mc->end - mc->begin;
    dusk_pool *p = tu_pool(mc->workers);
    dusk_graph *g = tu_graph(p);
    maprec m = {.begin = mc->begin, .end = mc->end};
    m.hits = calloc((size_t)n, sizeof *m.hits);
    m.len_at = calloc((size_t)n, sizeof *m.len_at);
    ck_assert(m.hits != NULL && m.len_at != NULL);
    int count =
        dusk_map(g, t_range, &m, mc->begin, mc->end, mc->chunk, NULL, 0);
    ck_assert_int_gt(count, 0);
    dusk_node **nodes = calloc((size_t)count, sizeof *nodes);
    ck_assert_int_eq(dusk_map(g, t_range, &m, mc->begin, mc->end, mc->chunk,
                              nodes, count),
                     count);
    /* Delayed: nothing runs until they are started. */
    tu_sleep_ms(5);
    ck_assert_int_eq(tu_ldi(&m.calls), 0);
    ck_assert_int_eq(dusk_start(g, count, nodes), DUSK_OK);
    int64_t chunk = mc->chunk != 0 ? mc->chunk : ceil_div(n, mc->workers);
    int64_t expect_b = mc->begin;
    for (int i = 0; i < count; i++) {
      dusk_value out;
      ck_assert_int_eq(dusk_get(nodes[i], &out), DUSK_OK);
      /* The chunks come in order, each `chunk` long but the last. */
      ck_assert_msg(out.i64 == expect_b, "case %d chunk %d starts at %lld",
                    k, i, (long long)out.i64);
      int64_t len = m.len_at[expect_b - mc->begin];
      int64_t want = i + 1 < count ? chunk : mc->end - expect_b;
      ck_assert_msg(len == want, "case %d chunk %d: %lld long, not %lld", k,
                    i, (long long)len, (long long)want);
      expect_b += len;
    }
    ck_assert_int_eq(expect_b, mc->end);
    for (int64_t i = 0; i < n; i++)
      ck_assert_msg(tu_ldi(&m.hits[i]) == 1, "case %d: index %lld hit %d",
                    k, (long long)(mc->begin + i), tu_ldi(&m.hits[i]));
    ck_assert_int_eq(tu_ldi(&m.calls), count);
    ck_assert_int_eq(tu_ldi(&m.bad), 0);
    free(nodes);
    free(m.hits);
    free(m.len_at);
    dusk_graph_free(g);
    dusk_pool_free(p);
  }
}
END_TEST

START_TEST(test_map_empty) {
  dusk_pool *p = tu_pool(4);
  dusk_graph *g = tu_graph(p);
  maprec m = {0};
  dusk_node *nodes[2] = {NULL, NULL};
  ck_assert_int_eq(dusk_map(g, t_range, &m, 5, 5, 0, NULL, 0), 0);
  ck_assert_int_eq(dusk_map(g, t_range, &m, 5, 5, 3, nodes, 0), 0);
  ck_assert_int_eq(dusk_map(g, t_range, &m, -3, -3, 0, nodes, 2), 0);
  ck_assert_ptr_null(nodes[0]);
  ck_assert_uint_eq(dusk_graph_size(g), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_map_bad_args) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  maprec m = {0};
  dusk_node *nodes[16];
  ck_assert_int_eq(dusk_map(NULL, t_range, &m, 0, 10, 0, nodes, 16),
                   DUSK_EINVAL);
  ck_assert_int_eq(dusk_map(g, NULL, &m, 0, 10, 0, nodes, 16), DUSK_EINVAL);
  ck_assert_int_eq(dusk_map(g, t_range, &m, 10, 0, 0, nodes, 16),
                   DUSK_EINVAL);
  ck_assert_int_eq(dusk_map(g, t_range, &m, 0, 10, -1, nodes, 16),
                   DUSK_EINVAL);
  ck_assert_int_eq(dusk_map(g, t_range, &m, 0, 10, 1, nodes, 9),
                   DUSK_EINVAL);
  ck_assert_int_eq(dusk_map(g, t_range, &m, 0, 10, 1, nodes, 0),
                   DUSK_EINVAL);
  ck_assert_uint_eq(dusk_graph_size(g), 0);
  ck_assert_int_eq(tu_ldi(&m.calls), 0);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== reduce */

/*
** Values carry (sum << 6) | depth: leaves have depth 0, and each call has
** depth 1 + the deepest of its arguments, so the root's depth is the
** tree's. The reduction task also counts its calls and their fan-ins.
*/
typedef struct redrec {
  atomic_int calls;
  atomic_int sum_fanin_minus_1;
  atomic_int min_fanin, max_fanin;
} redrec;

static int t_rsum(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  redrec *r = dusk_task_udata(t);
  atomic_fetch_add(&r->calls, 1);
  atomic_fetch_add(&r->sum_fanin_minus_1, nargs - 1);
  int cur = atomic_load(&r->min_fanin);
  while (nargs < cur && !atomic_compare_exchange_weak(&r->min_fanin, &cur,
                                                      nargs))
    ;
  cur = atomic_load(&r->max_fanin);
  while (nargs > cur && !atomic_compare_exchange_weak(&r->max_fanin, &cur,
                                                      nargs))
    ;
  int64_t sum = 0, depth = 0;
  for (int i = 0; i < nargs; i++) {
    sum += args[i].i64 >> 6;
    if ((args[i].i64 & 63) > depth)
      depth = args[i].i64 & 63;
  }
  *out = dusk_i64((sum << 6) | (depth + 1));
  return 0;
}

static int t_leaf(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  *out = dusk_i64((int64_t)(intptr_t)dusk_task_udata(t) << 6);
  return 0;
}

/* ceil(log_k n) for n >= 1: the smallest L with k^L >= n. */
static int ceil_log(int64_t n, int k) {
  int l = 0;
  for (int64_t p = 1; p < n; p *= k)
    l++;
  return l;
}

START_TEST(test_reduce_sums) {
  static const int ns[] = {1, 2, 7, 8, 9, 100, 1000};
  static const int ks[] = {0, 2, 3, 8};
  dusk_pool *p = tu_pool(2);
  for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
    for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
      int n = ns[a], k = ks[b], keff = k == 0 ? 8 : k;
      dusk_graph *g = tu_graph(p);
      dusk_node **leaves = calloc((size_t)n, sizeof *leaves);
      ck_assert_ptr_nonnull(leaves);
      /* Leaves of every kind: literals, delayed nodes, futures. */
      for (int i = 0; i < n; i++) {
        int64_t v = i + 1;
        if (i % 3 == 0)
          leaves[i] = dusk_literal(g, dusk_i64(v << 6));
        else if (i % 3 == 1)
          leaves[i] = dusk_call(g, t_leaf, (void *)(intptr_t)v, 0, NULL);
        else
          leaves[i] = dusk_submit(g, t_leaf, (void *)(intptr_t)v, 0, NULL);
        ck_assert_ptr_nonnull(leaves[i]);
      }
      redrec r = {.min_fanin = 1 << 30};
      dusk_node *root = dusk_reduce(g, t_rsum, &r, leaves, n, k);
      ck_assert_msg(root != NULL, "reduce(%d, %d) refused", n, k);
      tu_sleep_ms(1);
      ck_assert_int_eq(tu_ldi(&r.calls), 0); /* delayed */
      dusk_value out;
      ck_assert_int_eq(dusk_compute(g, root, &out), DUSK_OK);
      int64_t sum = out.i64 >> 6;
      int depth = (int)(out.i64 & 63);
      ck_assert_msg(sum == (int64_t)n * (n + 1) / 2,
                    "reduce(%d, %d): sum %lld", n, k, (long long)sum);
      ck_assert_msg(depth == ceil_log(n, keff),
                    "reduce(%d, %d): depth %d, not ceil(log_%d %d) = %d", n,
                    k, depth, keff, n, ceil_log(n, keff));
      /* Each input is consumed once: the fan-ins add up to n - 1. */
      ck_assert_int_eq(tu_ldi(&r.sum_fanin_minus_1), n - 1);
      if (n > 1) {
        ck_assert_msg(tu_ldi(&r.min_fanin) >= 2 &&
                          tu_ldi(&r.max_fanin) <= keff,
                      "reduce(%d, %d): fan-in from %d to %d", n, k,
                      tu_ldi(&r.min_fanin), tu_ldi(&r.max_fanin));
        ck_assert_int_ge(tu_ldi(&r.calls), (int)ceil_div(n - 1, keff - 1));
        /* Level by level: at most ceil(m / k) calls on a level of m. */
        int most = 0;
        for (int64_t m = n; m > 1; m = ceil_div(m, keff))
          most += (int)ceil_div(m, keff);
        ck_assert_int_le(tu_ldi(&r.calls), most);
      } else {
        ck_assert_int_eq(tu_ldi(&r.calls), 0);
      }
      free(leaves);
      dusk_graph_free(g);
    }
  }
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_reduce_bad_args) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  dusk_graph *g2 = tu_graph(p);
  redrec r = {0};
  dusk_node *ls[3] = {lit(g, 1), lit(g, 2), lit(g, 3)};
  dusk_node *with_null[3] = {ls[0], NULL, ls[2]};
  dusk_node *with_other[3] = {ls[0], lit(g2, 5), ls[2]};
  size_t size = dusk_graph_size(g);
  struct {
    dusk_graph *g;
    dusk_fn fn;
    dusk_node *const *nodes;
    int count, split;
  } bad[] = {
      {g, t_rsum, ls, 0, 2},        {g, t_rsum, ls, -1, 2},
      {g, t_rsum, ls, 3, 1},        {g, t_rsum, ls, 3, -1},
      {NULL, t_rsum, ls, 3, 2},     {g, NULL, ls, 3, 2},
      {g, t_rsum, with_null, 3, 2}, {g, t_rsum, NULL, 3, 2},
      {g, t_rsum, with_other, 3, 2},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dusk_node *got =
        dusk_reduce(bad[i].g, bad[i].fn, &r, bad[i].nodes, bad[i].count,
                    bad[i].split);
    ck_assert_msg(got == NULL, "case %zu: a bad reduce was accepted", i);
    ck_assert_msg(dusk_last_error(NULL) == DUSK_EINVAL,
                  "case %zu: last error is not DUSK_EINVAL", i);
  }
  ck_assert_uint_eq(dusk_graph_size(g), size);
  ck_assert_int_eq(tu_ldi(&r.calls), 0);
  dusk_graph_free(g);
  dusk_graph_free(g2);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== suite */

static Suite *future_suite(void) {
  Suite *s = suite_create("future");
  double slow = TU_SANITIZED ? 600 : 120;
  TCase *tc;

  tc = tcase_create("submit");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_submit_runs_without_compute);
  tcase_add_test(tc, test_submit_results_in_order);
  tcase_add_test(tc, test_submit_refuses_bad_calls);
  tcase_add_test(tc, test_submit_keeps_result);
  suite_add_tcase(s, tc);

  tc = tcase_create("args");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_args_done_future);
  tcase_add_test(tc, test_args_running_future);
  tcase_add_test(tc, test_args_waiting_future);
  suite_add_tcase(s, tc);

  tc = tcase_create("start");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_start_returns_at_once);
  tcase_add_test(tc, test_start_bad_args);
  tcase_add_test(tc, test_start_failure_stops_others);
  suite_add_tcase(s, tc);

  tc = tcase_create("status");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_status_states);
  suite_add_tcase(s, tc);

  tc = tcase_create("wait");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_wait_computes_not_started);
  tcase_add_test(tc, test_wait_failed_not_rerun);
  tcase_add_test(tc, test_wait_upstream_failure_is_answer);
  tcase_add_test(tc, test_wait_get_borrows);
  tcase_add_test(tc, test_wait_for_timeout);
  suite_add_tcase(s, tc);

  tc = tcase_create("wait_any");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_wait_any_known_order);
  tcase_add_test(tc, test_wait_any_lowest_and_starts);
  tcase_add_test(tc, test_wait_any_bad_args);
  tcase_add_test(tc, test_wait_any_intermediate_freed);
  tcase_add_test(tc, test_wait_any_many_waiters);
  tcase_add_test(tc, test_wait_any_node_freed_before_it_looks);
  suite_add_tcase(s, tc);

  tc = tcase_create("callbacks");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_callbacks_before_completion);
  tcase_add_test(tc, test_callbacks_after_completion);
  tcase_add_test(tc, test_callbacks_on_failure);
  tcase_add_test(tc, test_callbacks_delayed_node);
  tcase_add_test(tc, test_callbacks_contention);
  tcase_add_test(tc, test_callbacks_graph_free_cancels);
  tcase_add_test(tc, test_callbacks_graph_free_waits_for_futures);
  tcase_add_test(tc, test_callbacks_not_run_gets_the_failure);
  suite_add_tcase(s, tc);

  tc = tcase_create("cancel");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_cancel_before_running);
  tcase_add_test(tc, test_cancel_started_delayed);
  tcase_add_test(tc, test_cancel_lazy_not_started);
  tcase_add_test(tc, test_cancel_running);
  tcase_add_test(tc, test_cancel_finished_refused);
  tcase_add_test(tc, test_cancel_twice_stays_cancelled);
  tcase_add_test(tc, test_cancel_waiting_twice_at_once);
  tcase_add_test(tc, test_cancel_too_late_dropped);
  tcase_add_test(tc, test_cancel_racing_arguments);
  tcase_add_test(tc, test_cancel_queued_after_a_failure);
  tcase_add_test(tc, test_cancel_while_setting_up);
  tcase_add_test(tc, test_cancel_no_leaks);
  suite_add_tcase(s, tc);

  tc = tcase_create("shared");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_shared_threads_get);
  tcase_add_test(tc, test_shared_between_computes);
  tcase_add_test(tc, test_shared_waits_out_a_wind_down);
  tcase_add_test(tc, test_shared_nested_wind_down_is_bounded);
  tcase_add_test(tc, test_start_settles_only_its_own_life);
  suite_add_tcase(s, tc);

  tc = tcase_create("fib");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_fib_one_thread);
  tcase_add_test(tc, test_fib_two_threads);
  suite_add_tcase(s, tc);

  tc = tcase_create("map");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_map_chunk_counts);
  tcase_add_test(tc, test_map_ranges_cover);
  tcase_add_test(tc, test_map_empty);
  tcase_add_test(tc, test_map_bad_args);
  suite_add_tcase(s, tc);

  tc = tcase_create("reduce");
  tcase_set_timeout(tc, slow);
  tcase_add_test(tc, test_reduce_sums);
  tcase_add_test(tc, test_reduce_bad_args);
  suite_add_tcase(s, tc);

  return s;
}

TU_MAIN(future_suite)
