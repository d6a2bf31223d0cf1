/*
** test_mixed: random DAGs under failures, cancellations, futures, nested
** computes and several threads at once, checked against a reference.
**
** Each seed makes a DAG of up to 160 nodes (literals, and calls of 0 to 5
** earlier nodes whose value is a hash of their index and their arguments'
** values, so that a wrong or stale argument shows). Calls may fail with a
** code of their own (DUSK_ETASK through dusk_fail(), or DUSK_EIO); be
** futures, submitted while the graph is built, so that later calls take
** running futures as arguments; compute a small graph of their own inside
** the task (new nodes in the same graph, a graph of their own on the same
** pool, or a future in the same graph that they wait for), which may fail
** in turn; or spin a while watching dusk_task_cancelled(), stopping with
** DUSK_ECANCELED when they see it. Then, on a pool of 1, 2, 4 or 8 workers:
**
** - the futures are collected with dusk_wait, dusk_get, dusk_wait_any and
**   dusk_on_done;
** - one thread runs random steps, each checked exactly: computes of one
**   node or many, waits, gets, starts (collected as they complete),
**   cancels of idle nodes (the return code is known), starts cancelled
**   while they run, callbacks, releases and takes;
** - rounds in which two to four outside threads compute, wait for and
**   start overlapping targets at once while another thread cancels random
**   nodes, watchers first.
**
** The rule for every compute, wait and start: a target whose cone (what it
** needs that has no result) holds no failing and no cancelled node
** succeeds with the reference value; one whose cone holds a failing node,
** or a node cancelled before, fails; a failure's code is one of the codes
** of the bad nodes in the cones of the targets of that call (one failure
** stops the whole call). A cancel during a round may or may not come in
** time: what dusk_cancel() said decides. DUSK_OK: the node never runs
** again and stays cancelled; DUSK_EBUSY: the task ran on, and the node is
** cancelled only if its task saw it and stopped. Between steps the graph
** is brought to rest and checked: every node with a result has the
** reference value and no node that needs a failing one has one; the boxes
** alive are exactly those of literals and kept results; cancelled nodes
** never ran after their cancel; no task saw a wrong argument; at the end
** every callback was called once and nothing leaks.
**
** Overlap: when two computes share a node and the one that claimed it
** stops for a failure the other does not need, the other must not fail for
** it: a node that only did not run ("not run: the compute stopped") is no
** answer, and a compute or a wait that needs it runs it again. A started
** compute (dusk_start, dusk_submit) is not tried again: its targets end
** failed as not run, and collecting them (a wait) runs them. Any result
** that breaks the rule fails the test, in a step of one thread or where
** calls overlap. "At rest" also reads one internal, the
** graph's count of computes not yet settled (see at_rest()).
**
** Seeds: each run prints its seeds; DUSK_TEST_SEED=<seed> replays one (the
** DAG, the steps and the targets; not the thread timing);
** DUSK_TEST_SEEDS=<n> runs n; DUSK_TEST_LONG=1 runs 20 times the default
** count with no time limit. By default "mixed" runs up to 4000 seeds and
** stops after about 40 s (1500 and 45 s in sanitizer builds).
*/
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dusk.h"
#include "testutil.h"
#include "graph/graph.h" /* struct dusk_graph: active, see at_rest() */

#define MAXARGS 5
#define MAXT 8      /* targets of one step        */
#define MAXNK 8     /* nodes of a nested graph    */
#define MAXREG 48   /* callbacks per seed         */
#define MAXCANCEL 8 /* cancels per round          */
#define MAXTHREADS 4
#define QUIET_MS 30000.0

enum { CODE_TASK = 1, CODE_IO = 2, CODE_CANCEL = 4, CODE_OTHER = 8 };
enum { NEST_NONE, NEST_SAME, NEST_OWN, NEST_FUTURE };

typedef struct mnode {
  int index;
  int is_call;
  int nargs;
  int args[MAXARGS];
  int boxed;  /* a boxed result (a call) or a box (a literal)          */
  int fcode;  /* 0, or the code it fails with                          */
  int future; /* submitted while the graph is built                    */
  int nest;   /* NEST_*: computes a graph of nk nodes inside its task   */
  int nk;
  int watch;  /* spins this many microseconds, watching for a cancel  */
  uint64_t expect;
  atomic_int runs;
} mnode;

/* A callback registration and what it saw. */
typedef struct cbrec {
  dusk_node *n;
  int node;
  int canc_before; /* the node was cancelled when it was registered */
  atomic_int calls;
  atomic_int code;
  atomic_int wrong_node;
} cbrec;

typedef struct mdag {
  uint64_t seed;
  int n, workers, cancels;
  mnode *rn;
  dusk_node **node;
  char (*name)[24];
  int boxed_lits;
  /* The reference, fixed by the seed. */
  unsigned char *bad;   /* fails, or needs a node that fails       */
  unsigned char *codes; /* CODE_* of the failing nodes it needs    */
  /* The model: the graph at rest, and the cancels of the current step. */
  unsigned char *kept, *failed, *canc, *catt;
  unsigned char *answer; /* failed, and a wait takes it as its answer */
  int *oldcode, *runs_at_cancel;
  unsigned char *reach;
  dusk_graph *g;
  dusk_pool *pool;
  cbrec reg[MAXREG];
  int nreg;
} mdag;

/* What tasks read: the DAG of this seed and its pool. */
static mnode *g_rn;
static dusk_pool *g_pool;
static atomic_long g_bad_args;   /* a task saw a wrong argument          */
static atomic_long g_bad_first;  /* the first: node * 8 + argument + 1   */
static atomic_llong g_bad_value; /* and the value it saw                 */
static atomic_long g_bad_nested; /* a nested compute went wrong          */
static atomic_long g_saw_cancel; /* watchers that stopped on a cancel    */
static atomic_long g_nested_runs;

/* Counts over a test, printed at its end. */
typedef struct stats {
  long seeds, steps, ops, rounds, futures, callbacks;
  long cancel_ok, cancel_busy, cancel_inval;
  long take_busy;
} stats;
static stats st;

#define SEEDFMT "seed 0x%016" PRIx64 " (%d nodes, %d workers): "
#define SEEDARGS(d) (d)->seed, (d)->n, (d)->workers

/* ------------------------------------------------------------ tasks */

/* The value of a nested graph of k leaves: 1 + sum of (1 + j). */
static int64_t nested_value(int k) {
  return 1 + k + (int64_t)k * (k - 1) / 2;
}

static int sub_boxed; /* udata of a nested task whose result is a box */

/* A task of a nested graph: 1 + the sum of its arguments, boxed when its
   udata is &sub_boxed; with an mnode as udata it fails with its code. */
static int sub_task(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  void *u = dusk_task_udata(t);
  if (u != NULL && u != &sub_boxed) {
    const mnode *me = u;
    dusk_fail(t, "sub-boom{%d}", me->index);
    return me->fcode;
  }
  int64_t s = tu_sum1(args, nargs);
  *out = u != NULL ? tu_box_new(s) : dusk_i64(s);
  return 0;
}

/* ------------------------------------------------------------ watchdog */

/*
** A hang fails with a report instead of being killed by a timeout: every
** thread says what it blocks in (doing() before the call, done_with() on
** its result), and a watchdog that sees a thread blocked in one call for
** STALL_MS (DUSK_TEST_STALL_MS sets another) prints the seed and what each
** thread is blocked in, then aborts.
** Slots: 0 the test's thread, 1 + k the round's thread k, then the pools'
** workers (nested computes), in the order they first block.
*/
enum { SLOTS = 48, WORKER_SLOTS = 1 + MAXTHREADS + 1 };
#define STALL_MS (TU_SANITIZED ? 300000.0 : 150000.0)
static double g_stall_ms; /* STALL_MS, or DUSK_TEST_STALL_MS (to try it) */

typedef struct slot {
  _Atomic(const char *) what; /* NULL: not blocked */
  atomic_int node;
  _Atomic double since;
} slot;

static slot g_slots[SLOTS];
static atomic_int g_next_slot = WORKER_SLOTS;
static _Thread_local int my_slot = -1;
static _Atomic uint64_t g_seed_now;
static atomic_int g_watch_stop;

static void doing(const char *what, int node) {
  if (my_slot < 0) { /* a worker of a pool, first time */
    int k = atomic_fetch_add(&g_next_slot, 1);
    my_slot = k < SLOTS ? k : SLOTS - 1;
  }
  slot *sl = &g_slots[my_slot];
  atomic_store(&sl->node, node);
  atomic_store(&sl->since, tu_now_ms());
  atomic_store(&sl->what, what);
}

static int done_with(int rc) {
  if (my_slot >= 0)
    atomic_store(&g_slots[my_slot].what, NULL);
  return rc;
}

/* What the calling thread was blocked in: a worker that helps while it
   waits may run a task that blocks in turn; the outer call is put back
   when the inner returns. */
typedef struct blocked {
  const char *what;
  int node;
  double since;
} blocked;

static blocked blocked_get(void) {
  if (my_slot < 0)
    return (blocked){NULL, 0, 0};
  slot *sl = &g_slots[my_slot];
  return (blocked){atomic_load(&sl->what), atomic_load(&sl->node),
                   atomic_load(&sl->since)};
}

static void blocked_put(blocked b) {
  slot *sl = &g_slots[my_slot];
  atomic_store(&sl->node, b.node);
  atomic_store(&sl->since, b.since);
  atomic_store(&sl->what, b.what);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  while (!atomic_load(&g_watch_stop)) {
    tu_sleep_ms(50);
    double now = tu_now_ms();
    int stalled = 0;
    for (int k = 0; k < SLOTS; k++)
      stalled |= atomic_load(&g_slots[k].what) != NULL &&
                 now - atomic_load(&g_slots[k].since) > g_stall_ms;
    if (!stalled)
      continue;
    printf("test_mixed: HANG at seed 0x%016" PRIx64
           " (replay with DUSK_TEST_SEED); blocked calls:\n",
           atomic_load(&g_seed_now));
    for (int k = 0; k < SLOTS; k++) {
      const char *w = atomic_load(&g_slots[k].what);
      if (w)
        printf("  slot %d (%s): %s, node %d (-1: none), for %.1f s\n", k,
               k == 0 ? "test" : k < WORKER_SLOTS ? "round" : "worker", w,
               atomic_load(&g_slots[k].node),
               (now - atomic_load(&g_slots[k].since)) / 1e3);
    }
    fflush(stdout);
    abort();
  }
  return NULL;
}

/*
** Compute a graph of me->nk leaves under one sum, inside a task: new nodes
** of the task's own graph, a graph of its own on the same pool, or a future
** in the task's graph that it waits for. A failing node's nested graph has
** a failing leaf. Returns the code of the nested compute; *val its value.
*/
static int run_nested(dusk_task *t, const mnode *me, int64_t *val) {
  int own = me->nest == NEST_OWN;
  dusk_graph *g = own ? dusk_graph_new() : dusk_task_graph(t);
  if (g == NULL) {
    atomic_fetch_add(&g_bad_nested, 1);
    return dusk_fail(t, "no graph");
  }
  if (own)
    dusk_graph_set_pool(g, g_pool);
  atomic_fetch_add(&g_nested_runs, 1);
  dusk_node *leaf[MAXNK];
  int refused = 0;
  for (int j = 0; j < me->nk; j++) {
    /* Boxed literals only in a graph of its own: they live with the graph. */
    dusk_node *lit =
        dusk_literal(g, own && (j & 1) ? tu_box_new(j) : dusk_i64(j));
    void *u = me->fcode && j == me->nk / 2 ? (void *)me
              : (j & 2)                    ? (void *)&sub_boxed
                                           : NULL;
    leaf[j] = lit != NULL ? dusk_call(g, sub_task, u, 1, &lit) : NULL;
    refused |= leaf[j] == NULL;
  }
  dusk_node *top = NULL;
  if (!refused)
    top = me->nest == NEST_FUTURE
              ? dusk_submit(g, sub_task, &sub_boxed, me->nk, leaf)
              : dusk_call(g, sub_task, &sub_boxed, me->nk, leaf);
  dusk_value v;
  int rc = DUSK_ENOMEM;
  blocked outer = blocked_get();
  if (top != NULL)
    rc = (doing(me->nest == NEST_FUTURE ? "nested get" : "nested compute",
                me->index),
          done_with(me->nest == NEST_FUTURE ? dusk_get(top, &v)
                                            : dusk_compute(g, top, &v)));
  if (rc == DUSK_OK) {
    *val = tu_get(&v);
    if (*val != nested_value(me->nk) || me->fcode != 0)
      atomic_fetch_add(&g_bad_nested, 1);
    dusk_release(top);
  } else if (top == NULL || rc != me->fcode ||
             !tu_has(dusk_errmsg(top), "sub-boom{")) {
    atomic_fetch_add(&g_bad_nested, 1);
  }
  if (own) {
    doing("nested graph_free", me->index);
    dusk_graph_free(g);
  }
  blocked_put(outer);
  return rc;
}

/* Spin for about us microseconds; 1 when the task was cancelled meanwhile. */
static int watch_for_cancel(dusk_task *t, int us) {
  double end = tu_now_ms() + us / 1000.0;
  do {
    if (dusk_task_cancelled(t))
      return 1;
    sched_yield();
  } while (tu_now_ms() < end);
  return 0;
}

static int m_task(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  mnode *me = dusk_task_udata(t);
  atomic_fetch_add(&me->runs, 1);
  if (nargs != me->nargs)
    atomic_fetch_add(&g_bad_args, 1);
  uint64_t h = tu_hash_start(me->index, 777);
  for (int k = 0; k < nargs; k++) {
    uint64_t v = (uint64_t)tu_get(&args[k]);
    if (k < me->nargs && v != g_rn[me->args[k]].expect &&
        atomic_fetch_add(&g_bad_args, 1) == 0) {
      atomic_store(&g_bad_value, (long long)v);
      atomic_store(&g_bad_first, (long)me->index * 8 + k + 1);
    }
    h = tu_hash_step(h, v, k);
  }
  if (me->watch && watch_for_cancel(t, me->watch)) {
    atomic_fetch_add(&g_saw_cancel, 1);
    *out = tu_box_new(-1); /* what a failing task wrote is released */
    dusk_fail(t, "node<%d> saw its cancel", me->index);
    return DUSK_ECANCELED;
  }
  if (me->nest) {
    int64_t sub = 0;
    int rc = run_nested(t, me, &sub);
    if (rc != DUSK_OK) {
      dusk_fail(t, "boom{%d} in its nested compute", me->index);
      return rc;
    }
    h = tu_hash_step(h, (uint64_t)sub, nargs);
  } else if (me->fcode) {
    dusk_fail(t, "boom{%d}", me->index);
    return me->fcode;
  }
  *out = me->boxed ? tu_box_new((int64_t)h) : dusk_i64((int64_t)h);
  return 0;
}

/* ------------------------------------------------------------ the DAG */

static int code_bit(int code) {
  switch (code) {
  case DUSK_ETASK:
    return CODE_TASK;
  case DUSK_EIO:
    return CODE_IO;
  case DUSK_ECANCELED:
    return CODE_CANCEL;
  default:
    return CODE_OTHER;
  }
}

static void *zalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  ck_assert_ptr_nonnull(p);
  return p;
}

/* Make the DAG of a seed and its reference values. */
static void gen(mdag *d, uint64_t seed, int maxn) {
  memset(d, 0, sizeof *d);
  d->seed = seed;
  uint64_t rs = seed;
  int n = tu_rand_below(&rs, 4) == 0 ? 1 + tu_rand_below(&rs, 24)
                                     : 1 + tu_rand_below(&rs, maxn);
  static const int fail_pm[] = {0, 0, 10, 30, 80};
  static const int fut_pct[] = {0, 10, 30, 60};
  static const int nest_pct[] = {0, 3, 10};
  static const int watch_pct[] = {0, 5, 20};
  int lit_pct = 5 * tu_rand_below(&rs, 7);
  int window = 2 + tu_rand_below(&rs, 31);
  int near_pct = 30 + tu_rand_below(&rs, 60);
  int fpm = fail_pm[tu_rand_below(&rs, 5)];
  int fut = fut_pct[tu_rand_below(&rs, 4)];
  int nest = nest_pct[tu_rand_below(&rs, 3)];
  int watch = watch_pct[tu_rand_below(&rs, 3)];
  d->cancels = tu_rand_below(&rs, 3); /* none, a few, many */
  d->n = n;
  d->rn = zalloc((size_t)n, sizeof *d->rn);
  d->node = zalloc((size_t)n, sizeof *d->node);
  d->name = zalloc((size_t)n, sizeof *d->name);
  d->bad = zalloc((size_t)n, 1);
  d->codes = zalloc((size_t)n, 1);
  d->kept = zalloc((size_t)n, 1);
  d->failed = zalloc((size_t)n, 1);
  d->answer = zalloc((size_t)n, 1);
  d->canc = zalloc((size_t)n, 1);
  d->catt = zalloc((size_t)n, 1);
  d->reach = zalloc((size_t)n, 1);
  d->oldcode = zalloc((size_t)n, sizeof(int));
  d->runs_at_cancel = zalloc((size_t)n, sizeof(int));
  for (int i = 0; i < n; i++) {
    mnode *r = &d->rn[i];
    r->index = i;
    snprintf(d->name[i], sizeof d->name[i], "node<%d>", i);
    if (i > 0 && tu_rand_below(&rs, 100) < lit_pct) {
      r->boxed = tu_rand_below(&rs, 2);
      r->expect = tu_rand(&rs) >> 1;
      d->boxed_lits += r->boxed;
      continue;
    }
    r->is_call = 1;
    r->nargs = i == 0 ? 0 : tu_rand_below(&rs, MAXARGS + 1);
    r->boxed = tu_rand_below(&rs, 2);
    if (tu_rand_below(&rs, 1000) < fpm)
      r->fcode = tu_rand_below(&rs, 2) ? DUSK_ETASK : DUSK_EIO;
    r->future = tu_rand_below(&rs, 100) < fut;
    if (tu_rand_below(&rs, 100) < nest) {
      r->nest = 1 + tu_rand_below(&rs, 3);
      r->nk = 1 + tu_rand_below(&rs, MAXNK);
    }
    if (tu_rand_below(&rs, 100) < watch)
      r->watch = 5 + tu_rand_below(&rs, 80);
    d->bad[i] = r->fcode != 0;
    d->codes[i] = r->fcode ? (unsigned char)code_bit(r->fcode) : 0;
    uint64_t h = tu_hash_start(i, 777);
    for (int k = 0; k < r->nargs; k++) {
      int a = tu_rand_below(&rs, 100) < near_pct
                  ? i - 1 - tu_rand_below(&rs, i < window ? i : window)
                  : tu_rand_below(&rs, i);
      r->args[k] = a;
      d->bad[i] |= d->bad[a];
      d->codes[i] |= d->codes[a];
      h = tu_hash_step(h, d->rn[a].expect, k);
    }
    if (r->nest)
      h = tu_hash_step(h, (uint64_t)nested_value(r->nk), r->nargs);
    r->expect = h;
  }
}

static void dag_free(mdag *d) {
  free(d->rn);
  free(d->node);
  free(d->name);
  free(d->bad);
  free(d->codes);
  free(d->kept);
  free(d->failed);
  free(d->answer);
  free(d->canc);
  free(d->catt);
  free(d->reach);
  free(d->oldcode);
  free(d->runs_at_cancel);
}

/* Build the nodes; futures start at once, while later nodes are built. */
static void build(mdag *d) {
  d->g = tu_graph(d->pool);
  for (int i = 0; i < d->n; i++) {
    mnode *r = &d->rn[i];
    if (!r->is_call) {
      dusk_value v = r->boxed ? tu_box_new((int64_t)r->expect)
                              : dusk_i64((int64_t)r->expect);
      d->node[i] = dusk_literal(d->g, v);
    } else {
      dusk_node *args[MAXARGS];
      for (int k = 0; k < r->nargs; k++)
        args[k] = d->node[r->args[k]];
      d->node[i] = r->future ? dusk_submit_named(d->g, d->name[i], m_task, r,
                                                 r->nargs, args)
                             : dusk_call_named(d->g, d->name[i], m_task, r,
                                               r->nargs, args);
    }
    ck_assert_msg(d->node[i] != NULL, SEEDFMT "node %d refused", SEEDARGS(d),
                  i);
  }
}

/* Does v hold node i's reference value, in the right kind? */
static int value_ok(const mdag *d, int i, const dusk_value *v) {
  const mnode *r = &d->rn[i];
  return v->kind == (r->boxed ? DUSK_PTR : DUSK_I64) &&
         (uint64_t)tu_get(v) == r->expect;
}

/* ------------------------------------------------------------ at rest */

static long boxes_held(const mdag *d) {
  long want = d->boxed_lits;
  for (int i = 0; i < d->n; i++)
    want += d->rn[i].is_call && d->rn[i].boxed &&
            dusk_status(d->node[i]) == DUSK_DONE;
  return want;
}

/*
** Wait until the graph is at rest and check it: no node waits or runs;
** every node with a result has the right one (dusk_get keeps it, so that
** what is held stays held); the boxes alive are exactly the literals' and
** those results'. Then record the state: kept, failed (and with what),
** and which nodes are cancelled for good (a cancel that returned DUSK_OK,
** or a watcher that saw its cancel and stopped).
*/
static void at_rest(mdag *d, const char *where) {
  double end = tu_now_ms() + QUIET_MS;
  /* The one internal this suite reads. A wait returns as soon as its node
     is finished, but the compute that ran it (a start's) settles a moment
     later, on the worker that finished its last target: until then it
     holds references (a failed node it holds is not retried) and keeps
     targets (one released meanwhile is kept again). Nothing public waits
     for that, so rest means: no compute left unsettled. */
  while (atomic_load(&d->g->active) != 0) {
    ck_assert_msg(tu_now_ms() < end, SEEDFMT "%s: %d computes never settle",
                  SEEDARGS(d), where, atomic_load(&d->g->active));
    tu_sleep_ms(0.05);
  }
  for (int i = 0; i < d->n; i++) {
    dusk_state s;
    while ((s = dusk_status(d->node[i])) == DUSK_WAITING ||
           s == DUSK_RUNNING) {
      ck_assert_msg(tu_now_ms() < end, SEEDFMT "%s: node %d still %s",
                    SEEDARGS(d), where, i,
                    s == DUSK_WAITING ? "waits" : "runs");
      tu_sleep_ms(0.05);
    }
  }
  for (int i = 0; i < d->n; i++) {
    if (!d->rn[i].is_call || dusk_status(d->node[i]) != DUSK_DONE)
      continue;
    dusk_value v;
    int rc = (doing("at-rest get", i), done_with(dusk_get(d->node[i], &v)));
    /* A result a drained cancel was still reading may go just before. */
    if (rc != DUSK_OK && dusk_status(d->node[i]) != DUSK_DONE)
      continue;
    ck_assert_msg(rc == DUSK_OK && value_ok(d, i, &v),
                  SEEDFMT "%s: node %d holds a wrong result (get %d)",
                  SEEDARGS(d), where, i, rc);
  }
  long want;
  while (tu_ldl(&tu_st.live) != (want = boxes_held(d))) {
    ck_assert_msg(tu_now_ms() < end,
                  SEEDFMT "%s: %ld boxes alive, %ld held by the graph",
                  SEEDARGS(d), where, tu_ldl(&tu_st.live), want);
    tu_sleep_ms(0.05);
  }
  for (int i = 0; i < d->n; i++) {
    if (!d->rn[i].is_call)
      continue;
    dusk_state s = dusk_status(d->node[i]);
    d->kept[i] = s == DUSK_DONE;
    d->failed[i] = s == DUSK_FAILED || s == DUSK_CANCELLED;
    d->oldcode[i] = dusk_errcode(d->node[i]);
    /* A node that only did not run because its compute stopped is no
       answer: a wait runs it again. */
    d->answer[i] = d->failed[i] &&
                   !tu_has(dusk_errmsg(d->node[i]), " not run: the compute");
    if (d->catt[i] && s == DUSK_CANCELLED && !d->canc[i] &&
        !tu_has(dusk_errmsg(d->node[i]), "not run")) {
      d->canc[i] = 1; /* cancelled itself, not for a reason upstream */
      d->runs_at_cancel[i] = tu_ldi(&d->rn[i].runs);
    }
    d->catt[i] = 0;
    ck_assert_msg(!d->kept[i] || !d->bad[i],
                  SEEDFMT "%s: node %d has a result but needs a failing node",
                  SEEDARGS(d), where, i);
    if (d->canc[i]) {
      ck_assert_msg(s == DUSK_CANCELLED && d->oldcode[i] == DUSK_ECANCELED,
                    SEEDFMT "%s: cancelled node %d is %d (code %d)",
                    SEEDARGS(d), where, i, (int)s, d->oldcode[i]);
      ck_assert_msg(tu_ldi(&d->rn[i].runs) == d->runs_at_cancel[i],
                    SEEDFMT "%s: node %d ran after its cancel", SEEDARGS(d),
                    where, i);
    }
  }
  long first = tu_ldl(&g_bad_first) - 1;
  ck_assert_msg(tu_ldl(&g_bad_args) == 0,
                SEEDFMT "%s: %ld tasks saw wrong arguments; first node %ld "
                        "argument %ld (node %d) was %lld (kind of value: "
                        "%s)",
                SEEDARGS(d), where, tu_ldl(&g_bad_args), first / 8, first % 8,
                first >= 0 ? d->rn[first / 8].args[first % 8] : -1,
                (long long)atomic_load(&g_bad_value),
                first >= 0 && d->rn[d->rn[first / 8].args[first % 8]].boxed
                    ? "box"
                    : "i64");
  ck_assert_msg(tu_ldl(&g_bad_nested) == 0,
                SEEDFMT "%s: %ld nested computes went wrong", SEEDARGS(d),
                where, tu_ldl(&g_bad_nested));
}

/* ------------------------------------------------------------ the rule */

typedef struct verdict {
  int must_ok;     /* nothing bad in the cone: it succeeds           */
  int must_fail;   /* a failing or cancelled node in the cone: fails */
  unsigned codes;  /* CODE_* a failure may carry                     */
} verdict;

/*
** What the graph at rest promises for target t: its cone is what it
** needs through nodes without a result. A wait does not retry a target
** that failed: it answers with the old code.
*/
static verdict judge(mdag *d, int t, int is_wait) {
  verdict v = {0, 0, 0};
  if (!d->rn[t].is_call || d->kept[t]) {
    v.must_ok = 1;
    return v;
  }
  v.codes = d->codes[t];
  v.must_fail = d->bad[t];
  memset(d->reach, 0, (size_t)d->n);
  d->reach[t] = 1;
  for (int i = t; i >= 0; i--) {
    if (!d->reach[i])
      continue;
    if (d->canc[i]) {
      v.codes |= CODE_CANCEL;
      v.must_fail = 1;
    }
    if (d->catt[i])
      v.codes |= CODE_CANCEL;
    for (int k = 0; k < d->rn[i].nargs; k++) {
      int a = d->rn[i].args[k];
      if (d->rn[a].is_call && !d->kept[a])
        d->reach[a] = 1;
    }
  }
  if (is_wait && d->answer[t])
    v.codes |= (unsigned)code_bit(d->oldcode[t]);
  v.must_ok = !v.must_fail && !(v.codes & CODE_CANCEL) &&
              !(is_wait && d->answer[t]);
  return v;
}

/* need[i] = 1 for the calls a compute of the targets runs (at rest). */
static void needed(mdag *d, const int *tg, int nt, unsigned char *need) {
  memset(need, 0, (size_t)d->n);
  for (int j = 0; j < nt; j++)
    need[tg[j]] = 1;
  for (int i = d->n - 1; i >= 0; i--) {
    if (!need[i])
      continue;
    if (!d->rn[i].is_call || d->kept[i]) {
      need[i] = 0;
      continue;
    }
    for (int k = 0; k < d->rn[i].nargs; k++)
      need[d->rn[i].args[k]] = 1;
  }
}

/* ------------------------------------------------------------ steps */

enum { OP_COMPUTE, OP_MANY, OP_WAIT, OP_GET, OP_START, OP_KINDS };
enum { COLLECT_WAIT, COLLECT_GET, COLLECT_ANY, COLLECT_KINDS };

/* One call and what it gave, recorded wherever it ran, judged at rest. */
typedef struct op {
  int kind, collect, nt;
  int tg[MAXT];
  int rc;        /* compute, compute_many, wait, get; start: its own code */
  int rcs[MAXT]; /* each target's code (a start's, as collected)          */
  int wrong;     /* a wrong value, a bad index, an out not cleared        */
  int unready;   /* wait_any's node was not ready (another call may have
                    taken it up again meanwhile)                          */
} op;

static int pick_node(mdag *d, uint64_t *rs) {
  return tu_rand_below(rs, 3) == 0
             ? d->n - 1 - tu_rand_below(rs, d->n < 8 ? d->n : 8)
             : tu_rand_below(rs, d->n);
}

/* Up to max distinct targets, drawn from hot (when given) half the time. */
static int pick_targets(mdag *d, uint64_t *rs, int *out, int max,
                        const int *hot, int nhot) {
  int want = 1 + tu_rand_below(rs, max < d->n ? max : d->n);
  int got = 0;
  for (int tries = 0; got < want && tries < 4 * want; tries++) {
    int c = nhot > 0 && tu_rand_below(rs, 2) ? hot[tu_rand_below(rs, nhot)]
                                             : pick_node(d, rs);
    int dup = 0;
    for (int j = 0; j < got; j++)
      dup |= out[j] == c;
    if (!dup)
      out[got++] = c;
  }
  return got;
}

/* Collect the codes of started targets: waits, gets, or as they complete. */
static void collect(mdag *d, op *o) {
  if (o->collect != COLLECT_ANY) {
    for (int j = 0; j < o->nt; j++) {
      dusk_value v = dusk_i64(-1);
      doing(o->collect == COLLECT_GET ? "collect get" : "collect wait",
            o->tg[j]);
      o->rcs[j] = done_with(o->collect == COLLECT_GET
                                ? dusk_get(d->node[o->tg[j]], &v)
                                : dusk_wait(d->node[o->tg[j]]));
      if (o->collect == COLLECT_GET &&
          (o->rcs[j] == DUSK_OK ? !value_ok(d, o->tg[j], &v)
                                : v.kind != DUSK_NONE))
        o->wrong = 1;
    }
    return;
  }
  dusk_node *set[MAXT];
  int pos[MAXT], left = o->nt;
  for (int j = 0; j < left; j++) {
    set[j] = d->node[o->tg[j]];
    pos[j] = j;
  }
  while (left > 0) {
    doing("collect wait_any", o->tg[pos[0]]);
    int i = done_with(dusk_wait_any(set, left, -1));
    if (i < 0 || i >= left) {
      o->wrong = 1;
      for (int j = 0; j < left; j++)
        o->rcs[pos[j]] = (doing("collect wait", o->tg[pos[j]]),
                          done_with(dusk_wait(set[j])));
      return;
    }
    o->unready |= !dusk_ready(set[i]);
    o->rcs[pos[i]] = (doing("collect wait", o->tg[pos[i]]),
                      done_with(dusk_wait(set[i])));
    set[i] = set[left - 1];
    pos[i] = pos[left - 1];
    left--;
  }
}

/* Run a step; no assertions here: it may run on an outside thread. */
static void do_op(mdag *d, op *o) {
  dusk_node *tn[MAXT];
  dusk_value outs[MAXT];
  for (int j = 0; j < o->nt; j++) {
    tn[j] = d->node[o->tg[j]];
    outs[j] = dusk_i64(-1);
  }
  switch (o->kind) {
  case OP_COMPUTE:
  case OP_MANY:
    doing(o->kind == OP_COMPUTE ? "compute" : "compute_many", o->tg[0]);
    o->rc = done_with(o->kind == OP_COMPUTE
                          ? dusk_compute(d->g, tn[0], &outs[0])
                          : dusk_compute_many(d->g, o->nt, tn, outs));
    for (int j = 0; j < o->nt; j++) {
      o->rcs[j] = o->rc;
      if (o->rc == DUSK_OK ? !value_ok(d, o->tg[j], &outs[j])
                           : outs[j].kind != DUSK_NONE)
        o->wrong = 1;
    }
    break;
  case OP_WAIT:
  case OP_GET:
    doing(o->kind == OP_WAIT ? "wait" : "get", o->tg[0]);
    o->rc = done_with(o->kind == OP_WAIT ? dusk_wait(tn[0])
                                         : dusk_get(tn[0], &outs[0]));
    o->rcs[0] = o->rc;
    if (o->kind == OP_GET &&
        (o->rc == DUSK_OK ? !value_ok(d, o->tg[0], &outs[0])
                          : outs[0].kind != DUSK_NONE))
      o->wrong = 1;
    break;
  default:
    o->rc = (doing("start", o->tg[0]), done_with(dusk_start(d->g, o->nt, tn)));
    collect(d, o);
    break;
  }
}

static void make_op(mdag *d, uint64_t *rs, op *o, const int *hot, int nhot) {
  memset(o, 0, sizeof *o);
  o->kind = tu_rand_below(rs, OP_KINDS);
  o->collect = tu_rand_below(rs, COLLECT_KINDS);
  int single = o->kind == OP_COMPUTE || o->kind == OP_WAIT || o->kind == OP_GET;
  o->nt = pick_targets(d, rs, o->tg, single ? 1 : MAXT, hot, nhot);
}

static const char *const op_names[] = {"compute", "compute_many", "wait",
                                       "get", "start"};

/* A result that breaks the rule: shown with what the targets say. */
static void deviation(mdag *d, const op *o, int j, int overlapped,
                      const char *where, const char *what) {
  dusk_node *n = d->node[o->tg[j]];
  dusk_state s = dusk_status(n);
  const char *m =
      s == DUSK_FAILED || s == DUSK_CANCELLED ? dusk_errmsg(n) : NULL;
  ck_assert_msg(0, SEEDFMT "%s: %s of node %d (target %d of %d%s) gave %d: "
                           "%s; message: %s",
                SEEDARGS(d), where, op_names[o->kind], o->tg[j], j, o->nt,
                overlapped ? ", calls overlapping" : "", o->rcs[j], what,
                m ? m : "(none)");
}

/*
** Judge a step against the graph at rest before it, and the cancels made
** while it ran (d->catt). A compute_many or a start stops as a whole: a
** target may fail with what another target needs.
*/
static void judge_op(mdag *d, const op *o, int overlapped, const char *where) {
  verdict v[MAXT];
  int all_ok = 1, any_fail = 0;
  unsigned all_codes = 0;
  int is_wait = o->kind == OP_WAIT || o->kind == OP_GET;
  int group = o->kind == OP_MANY || o->kind == OP_START;
  st.ops++;
  for (int j = 0; j < o->nt; j++) {
    v[j] = judge(d, o->tg[j], is_wait);
    all_ok &= v[j].must_ok;
    any_fail |= v[j].must_fail;
    all_codes |= v[j].codes;
  }
  ck_assert_msg(!o->wrong, SEEDFMT "%s: %s of %d targets gave a wrong value "
                                   "or index",
                SEEDARGS(d), where, op_names[o->kind], o->nt);
  ck_assert_msg(!o->unready || overlapped,
                SEEDFMT "%s: wait_any gave a node that is not finished",
                SEEDARGS(d), where);
  if (o->kind == OP_START)
    ck_assert_msg(o->rc == DUSK_OK, SEEDFMT "%s: start gave %d", SEEDARGS(d),
                  where, o->rc);
  for (int j = 0; j < o->nt; j++) {
    int rc = o->rcs[j];
    int ok = v[j].must_ok && (!group || all_ok);
    int fail = o->kind == OP_MANY ? any_fail : v[j].must_fail;
    unsigned codes = group ? all_codes : v[j].codes;
    if (rc == DUSK_OK && fail) {
      deviation(d, o, j, 0, where, "success, but a cone holds a bad node");
      return;
    }
    if (rc != DUSK_OK && (ok || !(code_bit(rc) & codes))) {
      deviation(d, o, j, overlapped, where,
                ok ? "a failure, but the cones are clean"
                   : "a code that no bad node in the cones carries");
      return;
    }
  }
}

/* ------------------------------------------------------------ callbacks */

static void on_done_cb(dusk_node *n, int code, void *udata) {
  cbrec *c = udata;
  if (n != c->n)
    atomic_fetch_add(&c->wrong_node, 1);
  atomic_store(&c->code, code);
  atomic_fetch_add(&c->calls, 1);
}

/* Register a callback on node i (at rest, or on a running future). */
static void add_callback(mdag *d, int i, int at_rest) {
  if (d->nreg == MAXREG)
    return;
  cbrec *c = &d->reg[d->nreg++];
  c->n = d->node[i];
  c->node = i;
  c->canc_before = d->canc[i];
  atomic_init(&c->calls, 0);
  atomic_init(&c->code, 1);
  atomic_init(&c->wrong_node, 0);
  ck_assert_int_eq(dusk_on_done(c->n, on_done_cb, c), DUSK_OK);
  st.callbacks++;
  if (!at_rest)
    return;
  /* A finished node is called back at once, on this thread. */
  int finished = !d->rn[i].is_call || d->kept[i] || d->failed[i];
  ck_assert_msg(tu_ldi(&c->calls) == finished,
                SEEDFMT "callback on node %d: %d calls at once, finished %d",
                SEEDARGS(d), i, tu_ldi(&c->calls), finished);
  if (finished)
    ck_assert_msg(tu_ldi(&c->code) == (d->failed[i] ? d->oldcode[i] : 0),
                  SEEDFMT "callback on node %d: code %d", SEEDARGS(d), i,
                  tu_ldi(&c->code));
}

/* After the graph is freed: each called once, with a code that fits. */
static void check_callbacks(mdag *d) {
  for (int r = 0; r < d->nreg; r++) {
    cbrec *c = &d->reg[r];
    int code = tu_ldi(&c->code);
    ck_assert_msg(tu_ldi(&c->calls) == 1 && tu_ldi(&c->wrong_node) == 0,
                  SEEDFMT "callback %d on node %d: %d calls, %d wrong node",
                  SEEDARGS(d), r, c->node, tu_ldi(&c->calls),
                  tu_ldi(&c->wrong_node));
    ck_assert_msg(code != DUSK_OK || !d->bad[c->node],
                  SEEDFMT "callback on node %d said OK; it needs a failing "
                          "node",
                  SEEDARGS(d), c->node);
    ck_assert_msg(!c->canc_before || code == DUSK_ECANCELED,
                  SEEDFMT "callback on cancelled node %d said %d",
                  SEEDARGS(d), c->node, code);
    ck_assert_msg(code == DUSK_OK || code == DUSK_ETASK || code == DUSK_EIO ||
                      code == DUSK_ECANCELED,
                  SEEDFMT "callback on node %d said %d", SEEDARGS(d), c->node,
                  code);
  }
}

/* ------------------------------------------------------------ futures */

/*
** The futures submitted while building, collected four ways, judged
** against a graph with nothing kept and nothing cancelled. They overlap:
** each is a compute of its own.
*/
static void phase_futures(mdag *d, uint64_t *rs) {
  int nf = 0;
  for (int i = 0; i < d->n; i++)
    nf += d->rn[i].is_call && d->rn[i].future;
  if (nf == 0)
    return;
  op *ops = zalloc((size_t)nf, sizeof *ops);
  dusk_node **any = zalloc((size_t)nf, sizeof *any);
  int *anyop = zalloc((size_t)nf, sizeof *anyop);
  int nany = 0, k = 0;
  for (int i = 0; i < d->n; i++) {
    if (!d->rn[i].is_call || !d->rn[i].future)
      continue;
    op *o = &ops[k++];
    o->kind = OP_START;
    o->nt = 1;
    o->tg[0] = i;
    o->collect = tu_rand_below(rs, 4);
    if (o->collect == 3) { /* a callback, then a wait */
      add_callback(d, i, 0);
      o->collect = COLLECT_WAIT;
    }
    if (o->collect == COLLECT_ANY) {
      any[nany] = d->node[i];
      anyop[nany++] = k - 1;
    }
  }
  /* As they complete: the ready one leaves the set, until none is left. */
  while (nany > 0) {
    doing("futures wait_any", ops[anyop[0]].tg[0]);
    int i = done_with(dusk_wait_any(any, nany, -1));
    ck_assert_msg(i >= 0 && i < nany && dusk_ready(any[i]),
                  SEEDFMT "wait_any over %d futures gave %d", SEEDARGS(d),
                  nany, i);
    ops[anyop[i]].rcs[0] =
        (doing("futures wait", ops[anyop[i]].tg[0]), done_with(dusk_wait(any[i])));
    any[i] = any[nany - 1];
    anyop[i] = anyop[nany - 1];
    nany--;
  }
  for (int j = 0; j < nf; j++)
    if (ops[j].collect != COLLECT_ANY)
      collect(d, &ops[j]);
  at_rest(d, "futures");
  /* Judge against the graph they started on: nothing kept, none cancelled. */
  unsigned char *kept = zalloc((size_t)d->n, 1);
  memcpy(kept, d->kept, (size_t)d->n);
  memset(d->kept, 0, (size_t)d->n);
  for (int j = 0; j < nf; j++)
    judge_op(d, &ops[j], 1, "futures");
  memcpy(d->kept, kept, (size_t)d->n);
  free(kept);
  st.futures += nf;
  free(ops);
  free(any);
  free(anyop);
}

/* ------------------------------------------------------------ one thread */

/*
** Count a cancel's answer. DUSK_OK or DUSK_EBUSY: the node may fail as
** cancelled in the calls that ran meanwhile (catt). DUSK_OK: it never runs
** again; it is cancelled for good (later[i]) once those calls are judged.
*/
static void note_cancel(mdag *d, int i, int rc, int runs,
                        unsigned char *later) {
  st.cancel_ok += rc == DUSK_OK;
  st.cancel_busy += rc == DUSK_EBUSY;
  st.cancel_inval += rc == DUSK_EINVAL;
  if (rc == DUSK_OK || rc == DUSK_EBUSY)
    d->catt[i] = 1;
  if (rc == DUSK_OK && !d->canc[i] && !later[i]) {
    later[i] = 1;
    d->runs_at_cancel[i] = runs;
  }
}

static void cancel_for_good(mdag *d, const unsigned char *later) {
  for (int i = 0; i < d->n; i++)
    d->canc[i] |= later[i];
}

/*
** Cancels at rest: the code is known from the state. A node that was idle
** is cancelled at once and for good; a second cancel changes nothing.
*/
static void step_cancel(mdag *d, uint64_t *rs) {
  int m = 1 + tu_rand_below(rs, 3);
  unsigned char *later = zalloc((size_t)d->n, 1);
  for (int c = 0; c < m; c++) {
    int i = pick_node(d, rs);
    dusk_state s = dusk_status(d->node[i]);
    int want = d->rn[i].is_call && s == DUSK_NOT_STARTED ? DUSK_OK
                                                         : DUSK_EINVAL;
    int rc = dusk_cancel(d->node[i]);
    ck_assert_msg(rc == want, SEEDFMT "cancel of node %d (state %d) gave %d",
                  SEEDARGS(d), i, (int)s, rc);
    note_cancel(d, i, rc, tu_ldi(&d->rn[i].runs), later);
    if (rc == DUSK_OK) {
      ck_assert_int_eq(dusk_status(d->node[i]), DUSK_CANCELLED);
      ck_assert_int_eq(dusk_cancel(d->node[i]), DUSK_EINVAL);
      ck_assert_int_eq(dusk_status(d->node[i]), DUSK_CANCELLED);
      const char *msg = dusk_errmsg(d->node[i]);
      ck_assert_msg(tu_has(msg, d->name[i]) && tu_has(msg, "cancelled"),
                    SEEDFMT "cancelled node %d says %s", SEEDARGS(d), i,
                    msg ? msg : "(null)");
    }
  }
  cancel_for_good(d, later);
  free(later);
}

/* Releases and takes at rest: a kept result goes, a taken one is right. */
static void step_release(mdag *d, uint64_t *rs) {
  for (int i = 0; i < d->n; i++) {
    if (!d->rn[i].is_call || tu_rand_below(rs, 3) != 0)
      continue;
    if (!tu_rand_below(rs, 2)) {
      dusk_release(d->node[i]);
      continue;
    }
    dusk_value v = dusk_i64(-1);
    int rc = dusk_take(d->node[i], &v);
    if (rc == DUSK_EBUSY && d->kept[i]) { /* a started call still settles */
      st.take_busy++;
      continue;
    }
    ck_assert_msg(rc == (d->kept[i] ? DUSK_OK : DUSK_ENORESULT),
                  SEEDFMT "take of node %d (kept %d) gave %d", SEEDARGS(d), i,
                  d->kept[i], rc);
    if (rc == DUSK_OK) {
      ck_assert_msg(value_ok(d, i, &v), SEEDFMT "taken node %d is wrong",
                    SEEDARGS(d), i);
      dusk_value_clear(&v);
    } else {
      ck_assert_int_eq(v.kind, DUSK_NONE);
    }
  }
}

/*
** Each run count against what a step must run (exactly) or may run. A
** start that stopped for a failure leaves targets that did not run, and
** collecting them (a wait each) runs them again: a node they need may then
** run once in the start and once in each wait.
*/
static void check_runs(mdag *d, const op *o, const int *before, int exact,
                       const char *where) {
  int times = o->kind == OP_START && !exact ? 1 + o->nt : 1;
  unsigned char *need = zalloc((size_t)d->n, 1);
  int tg[MAXT], nt = 0;
  for (int j = 0; j < o->nt; j++) /* a wait does not rerun a failed target */
    if (!((o->kind == OP_WAIT || o->kind == OP_GET) && d->answer[o->tg[j]]))
      tg[nt++] = o->tg[j];
  needed(d, tg, nt, need);
  for (int i = 0; i < d->n; i++) {
    int ran = tu_ldi(&d->rn[i].runs) - before[i];
    int bad = d->bad[i] && !d->rn[i].fcode;
    ck_assert_msg(ran <= times * need[i] && !(bad && ran) &&
                      (!exact || ran == need[i]),
                  SEEDFMT "%s: %s: node %d ran %d times, needed %d%s",
                  SEEDARGS(d), where, op_names[o->kind], i, ran, need[i],
                  bad ? " (it needs a failing node)" : "");
  }
  free(need);
}

/* A start, and cancels of what it needs while it runs. */
static void step_start_cancel(mdag *d, uint64_t *rs, op *o) {
  memset(o, 0, sizeof *o);
  o->kind = OP_START;
  o->collect = tu_rand_below(rs, COLLECT_KINDS);
  o->nt = pick_targets(d, rs, o->tg, 4, NULL, 0);
  unsigned char *need = zalloc((size_t)d->n, 1);
  unsigned char *later = zalloc((size_t)d->n, 1);
  needed(d, o->tg, o->nt, need);
  dusk_node *tn[MAXT];
  for (int j = 0; j < o->nt; j++)
    tn[j] = d->node[o->tg[j]];
  o->rc = (doing("start", o->tg[0]), done_with(dusk_start(d->g, o->nt, tn)));
  int m = 1 + tu_rand_below(rs, 3);
  for (int c = 0; c < m; c++) {
    int i = pick_node(d, rs);
    for (int k = 0; k < d->n && !need[i]; k++) /* the first needed after i */
      i = (i + 1) % d->n;
    if (!need[i])
      break;
    if (tu_rand_below(rs, 2))
      sched_yield();
    int rc = dusk_cancel(d->node[i]);
    ck_assert_msg(rc == DUSK_OK || rc == DUSK_EBUSY || rc == DUSK_EINVAL,
                  SEEDFMT "cancel of running node %d gave %d", SEEDARGS(d), i,
                  rc);
    note_cancel(d, i, rc, tu_ldi(&d->rn[i].runs), later);
  }
  collect(d, o);
  judge_op(d, o, 0, "start and cancel");
  cancel_for_good(d, later);
  free(later);
  free(need);
}

/* Steps of one thread, each judged exactly against the graph at rest. */
static void phase_steps(mdag *d, uint64_t *rs, int nsteps) {
  int *before = zalloc((size_t)d->n, sizeof *before);
  char where[48];
  for (int s = 0; s < nsteps; s++) {
    st.steps++;
    int what = tu_rand_below(rs, 10);
    snprintf(where, sizeof where, "step %d", s);
    for (int i = 0; i < d->n; i++)
      before[i] = tu_ldi(&d->rn[i].runs);
    if (what == 0 && d->cancels) {
      step_cancel(d, rs);
    } else if (what == 1 && d->cancels) {
      op o;
      step_start_cancel(d, rs, &o);
      check_runs(d, &o, before, 0, where);
    } else if (what == 2) {
      step_release(d, rs);
    } else if (what == 3) {
      for (int c = 0; c < 3; c++)
        add_callback(d, pick_node(d, rs), 1);
    } else {
      op o;
      make_op(d, rs, &o, NULL, 0);
      do_op(d, &o);
      judge_op(d, &o, 0, where);
      int ok = 1;
      for (int j = 0; j < o.nt; j++)
        ok &= o.rcs[j] == DUSK_OK;
      check_runs(d, &o, before, ok, where);
      /* A wait answers with the old failure of a failed target; any other
         failed target names itself and blames a bad node it needs. */
      int t = o.tg[0];
      if ((o.kind == OP_WAIT || o.kind == OP_GET) && d->answer[t])
        ck_assert_msg(o.rc == d->oldcode[t],
                      SEEDFMT "%s: %s of failed node %d gave %d, not %d",
                      SEEDARGS(d), where, op_names[o.kind], t, o.rc,
                      d->oldcode[t]);
      else if (o.nt == 1 && o.rc != DUSK_OK && o.kind != OP_START) {
        const char *m = dusk_errmsg(d->node[t]);
        /* A node it failed through may have been run again since: its
           message is gone, and the message says so. */
        ck_assert_msg(tu_has(m, d->name[t]) &&
                          (tu_has(m, "boom{") || tu_has(m, "cancel") ||
                           tu_has(m, " failed (it was run again since)")),
                      SEEDFMT "%s: %s of node %d failed (%d) saying %s",
                      SEEDARGS(d), where, op_names[o.kind], t, o.rc,
                      m ? m : "(null)");
      }
    }
    at_rest(d, where);
  }
  free(before);
}

/* ------------------------------------------------------------ rounds */

typedef struct mthread {
  mdag *d;
  atomic_int *go;
  op ops[2];
  int nops;
  /* the canceller */
  int is_canceller, ncancel;
  int cnode[MAXCANCEL], crc[MAXCANCEL], cruns[MAXCANCEL];
  uint64_t rs;
  int slot; /* its watchdog slot is 1 + slot */
} mthread;

static void *round_main(void *arg) {
  mthread *m = arg;
  mdag *d = m->d;
  my_slot = 1 + m->slot;
  while (!atomic_load(m->go))
    sched_yield();
  if (!m->is_canceller) {
    for (int k = 0; k < m->nops; k++)
      do_op(d, &m->ops[k]);
    return NULL;
  }
  for (int c = 0; c < m->ncancel; c++) {
    for (int spin = tu_rand_below(&m->rs, 40); spin > 0; spin--)
      sched_yield();
    int i = m->cnode[c];
    m->crc[c] = (doing("cancel", i), done_with(dusk_cancel(d->node[i])));
    m->cruns[c] = tu_ldi(&d->rn[i].runs);
  }
  return NULL;
}

/* A call node for the canceller, watchers first. */
static int pick_victim(mdag *d, uint64_t *rs) {
  for (int tries = 0; tries < 8; tries++) {
    int i = pick_node(d, rs);
    if (d->rn[i].is_call && (d->rn[i].watch || tries >= 4))
      return i;
  }
  return pick_node(d, rs);
}

/*
** Two to four threads run one or two steps each at once, on targets drawn
** half the time from a small shared set, while (in seeds with cancels)
** another thread cancels; then everything is judged at rest.
*/
static void phase_round(mdag *d, uint64_t *rs, int r) {
  mthread th[MAXTHREADS + 1];
  pthread_t tid[MAXTHREADS + 1];
  atomic_int go = 0;
  int hot[6], nhot = 1 + tu_rand_below(rs, 6);
  for (int k = 0; k < nhot; k++)
    hot[k] = pick_node(d, rs);
  int nth = 2 + tu_rand_below(rs, MAXTHREADS - 1);
  int total = nth + (d->cancels ? 1 : 0);
  memset(th, 0, sizeof th);
  for (int k = 0; k < total; k++) {
    mthread *m = &th[k];
    m->d = d;
    m->go = &go;
    m->slot = k;
    m->rs = tu_rand(rs);
    if (k < nth) {
      m->nops = 1 + tu_rand_below(rs, 2);
      for (int o = 0; o < m->nops; o++)
        make_op(d, rs, &m->ops[o], hot, nhot);
    } else {
      m->is_canceller = 1;
      m->ncancel = 1 + tu_rand_below(rs, d->cancels == 2 ? MAXCANCEL : 2);
      for (int c = 0; c < m->ncancel; c++)
        m->cnode[c] = pick_victim(d, rs);
    }
    ck_assert_int_eq(pthread_create(&tid[k], NULL, round_main, m), 0);
  }
  atomic_store(&go, 1);
  doing("joining the round's threads", -1);
  for (int k = 0; k < total; k++)
    pthread_join(tid[k], NULL);
  done_with(0);
  st.rounds++;
  char where[32];
  snprintf(where, sizeof where, "round %d", r);
  /* The cancels: any answer, but each decides what may happen. */
  unsigned char *later = zalloc((size_t)d->n, 1);
  for (int k = nth; k < total; k++)
    for (int c = 0; c < th[k].ncancel; c++) {
      int i = th[k].cnode[c], rc = th[k].crc[c];
      ck_assert_msg(rc == DUSK_OK || rc == DUSK_EBUSY || rc == DUSK_EINVAL,
                    SEEDFMT "%s: cancel of node %d gave %d", SEEDARGS(d),
                    where, i, rc);
      ck_assert_msg(rc != DUSK_OK || d->rn[i].is_call,
                    SEEDFMT "%s: cancel of a literal gave OK", SEEDARGS(d),
                    where);
      note_cancel(d, i, rc, th[k].cruns[c], later);
    }
  for (int k = 0; k < nth; k++)
    for (int o = 0; o < th[k].nops; o++)
      judge_op(d, &th[k].ops[o], 1, where);
  cancel_for_good(d, later);
  free(later);
  at_rest(d, where);
}

/* ------------------------------------------------------------ a seed */

static void run_seed(mdag *d, dusk_pool *pool, int workers) {
  uint64_t rs = tu_mix64(d->seed ^ 0x5eedULL);
  /* Boxes: a run of a call makes at most one, of a nested graph a few;
     each call runs at most once a call of a step, and there are fewer than
     48 of those. */
  size_t per_run = 0;
  for (int i = 0; i < d->n; i++)
    per_run += 1 + (d->rn[i].nest ? MAXNK + 1 : 0);
  tu_reset(per_run * 48 + 1024);
  atomic_store(&g_bad_args, 0);
  atomic_store(&g_bad_first, 0);
  atomic_store(&g_bad_nested, 0);
  g_rn = d->rn;
  g_pool = pool;
  d->pool = pool;
  d->workers = workers;
  build(d);
  phase_futures(d, &rs);
  at_rest(d, "built");
  phase_steps(d, &rs, 4 + tu_rand_below(&rs, 8));
  int rounds = 1 + tu_rand_below(&rs, 3);
  for (int r = 0; r < rounds; r++)
    phase_round(d, &rs, r);
  phase_steps(d, &rs, 2);
  /* Release all: only the literals' boxes stay, until the graph goes. */
  for (int i = 0; i < d->n; i++)
    dusk_release(d->node[i]);
  at_rest(d, "all released");
  ck_assert_int_eq(tu_ldl(&tu_st.live), d->boxed_lits);
  for (int i = 0; i < d->n; i++)
    ck_assert_msg(!d->bad[i] || d->rn[i].fcode || tu_ldi(&d->rn[i].runs) == 0,
                  SEEDFMT "node %d ran although it needs a failing node",
                  SEEDARGS(d), i);
  doing("graph_free", -1);
  dusk_graph_free(d->g);
  done_with(0);
  check_callbacks(d);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
}

/* ------------------------------------------------------------ the test */

static const int k_workers[4] = {1, 2, 4, 8};

START_TEST(test_mixed_match_reference) {
  tu_seeds s;
  tu_seeds_init(&s, "test_mixed", TU_SANITIZED ? 1500 : 4000,
                TU_SANITIZED ? 45000 : 40000);
  memset(&st, 0, sizeof st);
  dusk_pool *pools[4];
  for (int w = 0; w < 4; w++)
    pools[w] = tu_pool(k_workers[w]);
  double t0 = tu_now_ms();
  my_slot = 0;
  const char *stall = getenv("DUSK_TEST_STALL_MS");
  g_stall_ms = stall && atof(stall) > 0 ? atof(stall) : STALL_MS;
  atomic_store(&g_watch_stop, 0);
  pthread_t watchdog;
  ck_assert_int_eq(pthread_create(&watchdog, NULL, watchdog_main, NULL), 0);
  uint64_t seed;
  while (tu_seeds_next(&s, &seed)) {
    atomic_store(&g_seed_now, seed);
    mdag d;
    gen(&d, seed, 160);
    int w = (int)(tu_mix64(seed ^ 0x900dULL) % 4);
    printf("mixed seed 0x%016" PRIx64 " nodes %d workers %d\n", seed, d.n,
           k_workers[w]);
    fflush(stdout);
    run_seed(&d, pools[w], k_workers[w]);
    dag_free(&d);
    st.seeds++;
  }
  printf("test_mixed: %ld seeds passed in %.1f s: %ld steps, %ld rounds, "
         "%ld calls judged, %ld futures, %ld callbacks, %ld nested computes, "
         "cancels %ld ok / %ld busy / %ld refused, %ld watchers stopped, "
         "%ld takes busy\n",
         st.seeds, (tu_now_ms() - t0) / 1e3, st.steps, st.rounds, st.ops,
         st.futures, st.callbacks, tu_ldl(&g_nested_runs), st.cancel_ok,
         st.cancel_busy, st.cancel_inval, tu_ldl(&g_saw_cancel), st.take_busy);
  for (int w = 0; w < 4; w++)
    dusk_pool_free(pools[w]);
  atomic_store(&g_watch_stop, 1);
  pthread_join(watchdog, NULL);
  tu_done();
}
END_TEST

static Suite *mixed_suite(void) {
  Suite *s = suite_create("mixed");
  TCase *tc = tcase_create("mixed");
  tcase_set_timeout(tc, TU_SANITIZED ? 900 : 300);
  tcase_add_test(tc, test_mixed_match_reference);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(mixed_suite)
