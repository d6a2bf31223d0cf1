/*
** test_random: random DAGs computed by dusk and by a plain loop must agree.
**
** Each seed makes a DAG of up to 10,000 nodes: literals (integers, doubles,
** counted boxes) and calls of arity 0 to 6 whose arguments are earlier
** nodes, half the time close by (deep graphs) and otherwise from anywhere
** (wide ones). A call's value is a hash of its own index and its arguments'
** values in order, so a wrong argument, a wrong order or a stale value shows.
** The same DAG is computed on pools of 1, 2, 4 and 8 workers, with random
** sets of targets (dusk_compute_many), kept results reused, taken and
** released, and two threads computing at once; the values are compared with
** a sequential evaluation and the run counts with what each compute needs.
** The failure variant lets random calls fail and checks that exactly the
** targets downstream of a failing node fail, naming one of them.
**
** Seeds: each run prints its seeds; DUSK_TEST_SEED=<seed> replays one (the
** DAG, the targets and the order of the checks; not the thread timing),
** DUSK_TEST_SEEDS=<count> runs that many, DUSK_TEST_LONG=1 twenty times the
** default, in full. By default "dags" runs up to 150 seeds and "failures"
** up to 100, stopping after about 18 s and 10 s. The graphs have up to
** 10,000 nodes, scaled by DUSK_TEST_SCALE (0.1 by default in sanitizer
** builds).
*/
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dusk.h"
#include "testutil.h"

#define MAXARGS 6
#define MAXTARGETS 32

enum { LIT_I64, LIT_F64, LIT_BOX };

typedef struct rnode {
  int index;
  int is_call;
  int nargs;
  int args[MAXARGS];
  int boxed;    /* a call: its result is a counted box              */
  int lit_kind; /* a literal: LIT_*                                 */
  int fails;    /* a call that always fails                         */
  int tainted;  /* fails, or needs a node that fails                */
  uint64_t expect;
  atomic_int runs;
} rnode;

typedef struct rdag {
  uint64_t seed;
  int n;
  rnode *rn;
  dusk_node **node;
  int boxed_literals;
} rdag;

/* The DAG being computed, read by the tasks to check their arguments. */
static rnode *g_rn;
static atomic_long g_task_bad; /* a task saw a wrong argument count or value */

static int rnd_task(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  rnode *me = dusk_task_udata(t);
  atomic_fetch_add(&me->runs, 1);
  if (nargs != me->nargs)
    atomic_fetch_add(&g_task_bad, 1);
  uint64_t h = tu_hash_start(me->index, 12345);
  for (int k = 0; k < nargs; k++) {
    uint64_t v = (uint64_t)tu_get(&args[k]);
    if (k < me->nargs && v != g_rn[me->args[k]].expect)
      atomic_fetch_add(&g_task_bad, 1);
    h = tu_hash_step(h, v, k);
  }
  if (me->fails)
    return dusk_fail(t, "boom{%d}", me->index);
  *out = me->boxed ? tu_box_new((int64_t)h) : dusk_i64((int64_t)h);
  return 0;
}

/* ------------------------------------------------------------ generation */

/* Make the DAG of a seed and evaluate it sequentially. */
static void rdag_gen(rdag *d, uint64_t seed, int maxn, int with_failures) {
  memset(d, 0, sizeof *d);
  d->seed = seed;
  uint64_t rs = seed;
  int n = tu_rand_below(&rs, 4) == 0 ? 1 + tu_rand_below(&rs, 64)
                                     : 1 + tu_rand_below(&rs, maxn);
  int lit_pct = 5 * tu_rand_below(&rs, 7);   /* 0..30 % literals      */
  int window = 2 + tu_rand_below(&rs, 63);   /* locality of arguments  */
  int near_pct = 30 + tu_rand_below(&rs, 60); /* how often close by    */
  int fail_permille = 0;
  if (with_failures) {
    static const int choices[] = {1, 3, 10, 30};
    fail_permille = choices[tu_rand_below(&rs, 4)];
  }
  d->n = n;
  d->rn = calloc((size_t)n, sizeof *d->rn);
  d->node = calloc((size_t)n, sizeof *d->node);
  ck_assert(d->rn != NULL && d->node != NULL);
  for (int i = 0; i < n; i++) {
    rnode *r = &d->rn[i];
    r->index = i;
    if (i > 0 && tu_rand_below(&rs, 100) < lit_pct) {
      r->lit_kind = tu_rand_below(&rs, 3);
      if (r->lit_kind == LIT_F64)
        r->expect = (uint64_t)(int64_t)(tu_rand_below(&rs, 2000001) - 1000000);
      else
        r->expect = tu_rand(&rs);
      d->boxed_literals += r->lit_kind == LIT_BOX;
      continue;
    }
    r->is_call = 1;
    r->nargs = i == 0 ? 0 : tu_rand_below(&rs, MAXARGS + 1);
    r->boxed = tu_rand_below(&rs, 2);
    r->fails = tu_rand_below(&rs, 1000) < fail_permille;
    r->tainted = r->fails;
    uint64_t h = tu_hash_start(i, 12345);
    for (int k = 0; k < r->nargs; k++) {
      int a = tu_rand_below(&rs, 100) < near_pct
                  ? i - 1 - tu_rand_below(&rs, i < window ? i : window)
                  : tu_rand_below(&rs, i);
      r->args[k] = a;
      r->tainted |= d->rn[a].tainted;
      h = tu_hash_step(h, d->rn[a].expect, k);
    }
    r->expect = h;
  }
}

static void rdag_free(rdag *d) {
  free(d->rn);
  free(d->node);
}

/* Build the DAG's nodes in a new graph on pool p. */
static dusk_graph *rdag_build(rdag *d, dusk_pool *p, int named) {
  dusk_graph *g = tu_graph(p);
  for (int i = 0; i < d->n; i++) {
    rnode *r = &d->rn[i];
    atomic_store(&r->runs, 0);
    if (!r->is_call) {
      dusk_value v = r->lit_kind == LIT_I64   ? dusk_i64((int64_t)r->expect)
                     : r->lit_kind == LIT_F64 ? dusk_f64((double)(int64_t)r->expect)
                                              : tu_box_new((int64_t)r->expect);
      d->node[i] = dusk_literal(g, v);
    } else {
      dusk_node *args[MAXARGS];
      for (int k = 0; k < r->nargs; k++)
        args[k] = d->node[r->args[k]];
      d->node[i] = dusk_call(g, rnd_task, r, r->nargs, args);
    }
    ck_assert_msg(d->node[i] != NULL, "seed 0x%016" PRIx64 ": node %d refused",
                  d->seed, i);
    if (named)
      dusk_set_name(d->node[i], "node<%d>", i);
  }
  ck_assert_uint_eq(dusk_graph_size(g), (size_t)d->n);
  return g;
}

/* Distinct random targets; returns how many. */
static int pick_targets(rdag *d, uint64_t *rs, int *out, int max) {
  int want = 1 + tu_rand_below(rs, max < d->n ? max : d->n);
  int got = 0;
  for (int tries = 0; got < want && tries < 4 * want; tries++) {
    int c = tu_rand_below(rs, 4) == 0 ? d->n - 1 - tu_rand_below(rs, d->n < 8 ? d->n : 8)
                                      : tu_rand_below(rs, d->n);
    int dup = 0;
    for (int j = 0; j < got; j++)
      dup |= out[j] == c;
    if (!dup)
      out[got++] = c;
  }
  return got;
}

/*
** need[i] = 1 for the calls a compute of the targets must run: those
** reachable from a target through nodes that have no kept result.
*/
static void calls_needed(const rdag *d, const int *targets, int nt,
                         const char *kept, char *need) {
  memset(need, 0, (size_t)d->n);
  char *reach = calloc((size_t)d->n, 1);
  for (int j = 0; j < nt; j++)
    reach[targets[j]] = 1;
  for (int i = d->n - 1; i >= 0; i--) {
    if (!reach[i] || !d->rn[i].is_call || kept[i])
      continue;
    need[i] = 1;
    for (int k = 0; k < d->rn[i].nargs; k++)
      reach[d->rn[i].args[k]] = 1;
  }
  free(reach);
}

/* Does v hold what node i must compute, with the right kind? */
static int value_ok(const rdag *d, int i, const dusk_value *v) {
  const rnode *r = &d->rn[i];
  dusk_kind want = r->is_call ? (r->boxed ? DUSK_PTR : DUSK_I64)
                   : r->lit_kind == LIT_I64 ? DUSK_I64
                   : r->lit_kind == LIT_F64 ? DUSK_F64
                                            : DUSK_PTR;
  return v->kind == want && (uint64_t)tu_get(v) == r->expect;
}

static long kept_boxes(const rdag *d, const char *kept) {
  long n = d->boxed_literals;
  for (int i = 0; i < d->n; i++)
    n += kept[i] && d->rn[i].is_call && d->rn[i].boxed;
  return n;
}

#define SEEDFMT "seed 0x%016" PRIx64 " (%d nodes, %d workers): "

static const int k_workers[4] = {1, 2, 4, 8};

/* ------------------------------------------------------------ dags */

typedef struct bg_many {
  dusk_graph *g;
  int n;
  dusk_node **nodes;
  dusk_value *outs;
  int rc;
} bg_many;

static void *bg_many_main(void *arg) {
  bg_many *b = arg;
  b->rc = dusk_compute_many(b->g, b->n, b->nodes, b->outs);
  return NULL;
}

/*
** One seed on one pool: rounds of compute_many on random targets with
** exact run counts, takes and releases, then two threads at once.
*/
static void run_dag(rdag *d, dusk_pool *p, int workers, uint64_t rs) {
  int n = d->n;
  tu_reset((size_t)n * 12 + 256);
  atomic_store(&g_task_bad, 0);
  g_rn = d->rn;
  dusk_graph *g = rdag_build(d, p, 0);
  char *kept = calloc((size_t)n, 1), *need = calloc((size_t)n, 1);
  int *before = calloc((size_t)n, sizeof *before);
  int tg[MAXTARGETS];
  dusk_node *tn[MAXTARGETS];
  dusk_value outs[MAXTARGETS];

  for (int round = 0; round < 3; round++) {
    int nt = pick_targets(d, &rs, tg, MAXTARGETS);
    for (int j = 0; j < nt; j++)
      tn[j] = d->node[tg[j]];
    calls_needed(d, tg, nt, kept, need);
    for (int i = 0; i < n; i++)
      before[i] = tu_ldi(&d->rn[i].runs);
    int rc = nt == 1 && round == 2 ? dusk_compute(g, tn[0], &outs[0])
                                   : dusk_compute_many(g, nt, tn, outs);
    ck_assert_msg(rc == DUSK_OK, SEEDFMT "round %d: compute returned %d (%s)",
                  d->seed, n, workers, round, rc, dusk_strerror(rc));
    for (int j = 0; j < nt; j++)
      ck_assert_msg(value_ok(d, tg[j], &outs[j]),
                    SEEDFMT "round %d: wrong value for node %d", d->seed, n,
                    workers, round, tg[j]);
    for (int i = 0; i < n; i++) {
      int ran = tu_ldi(&d->rn[i].runs) - before[i];
      ck_assert_msg(ran == need[i],
                    SEEDFMT "round %d: node %d ran %d times, needed %d%s",
                    d->seed, n, workers, round, i, ran, need[i],
                    kept[i] ? " (kept)" : "");
    }
    for (int j = 0; j < nt; j++)
      kept[tg[j]] |= d->rn[tg[j]].is_call;
    ck_assert_msg(tu_ldl(&tu_st.live) == kept_boxes(d, kept),
                  SEEDFMT "round %d: %ld boxes live, %ld kept", d->seed, n,
                  workers, round, tu_ldl(&tu_st.live),
                  kept_boxes(d, kept));
    /* Take some kept results out, release others. */
    for (int j = 0; j < nt; j++) {
      int i = tg[j];
      if (!kept[i] || tu_rand_below(&rs, 3) != 0)
        continue;
      if (tu_rand_below(&rs, 2)) {
        dusk_value v;
        ck_assert_int_eq(dusk_take(d->node[i], &v), DUSK_OK);
        ck_assert_msg(value_ok(d, i, &v), SEEDFMT "taken value of %d wrong",
                      d->seed, n, workers, i);
        dusk_value_clear(&v);
      } else {
        dusk_release(d->node[i]);
      }
      kept[i] = 0;
    }
    ck_assert_int_eq(tu_ldl(&tu_st.live), kept_boxes(d, kept));
  }

  /* Two threads at once on different targets: values only. */
  int ta[MAXTARGETS], tb[MAXTARGETS];
  dusk_node *na[MAXTARGETS], *nb[MAXTARGETS];
  dusk_value oa[MAXTARGETS], ob[MAXTARGETS];
  int nta = pick_targets(d, &rs, ta, MAXTARGETS);
  int ntb = pick_targets(d, &rs, tb, MAXTARGETS);
  for (int j = 0; j < nta; j++)
    na[j] = d->node[ta[j]];
  for (int j = 0; j < ntb; j++)
    nb[j] = d->node[tb[j]];
  bg_many bm = {.g = g, .n = nta, .nodes = na, .outs = oa};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, bg_many_main, &bm), 0);
  int rcb = dusk_compute_many(g, ntb, nb, ob);
  pthread_join(th, NULL);
  ck_assert_msg(bm.rc == DUSK_OK && rcb == DUSK_OK,
                SEEDFMT "concurrent computes returned %d and %d", d->seed, n,
                workers, bm.rc, rcb);
  for (int j = 0; j < nta; j++)
    ck_assert_msg(value_ok(d, ta[j], &oa[j]),
                  SEEDFMT "concurrent: wrong value for node %d", d->seed, n,
                  workers, ta[j]);
  for (int j = 0; j < ntb; j++)
    ck_assert_msg(value_ok(d, tb[j], &ob[j]),
                  SEEDFMT "concurrent: wrong value for node %d", d->seed, n,
                  workers, tb[j]);
  for (int j = 0; j < nta; j++)
    kept[ta[j]] |= d->rn[ta[j]].is_call;
  for (int j = 0; j < ntb; j++)
    kept[tb[j]] |= d->rn[tb[j]].is_call;
  ck_assert_msg(tu_ldl(&tu_st.live) == kept_boxes(d, kept),
                SEEDFMT "after concurrent computes: %ld boxes live, %ld kept",
                d->seed, n, workers, tu_ldl(&tu_st.live),
                kept_boxes(d, kept));

  /* Release everything: only the literals' boxes remain until the end. */
  for (int i = 0; i < n; i++)
    dusk_release(d->node[i]);
  ck_assert_int_eq(tu_ldl(&tu_st.live), d->boxed_literals);
  ck_assert_msg(tu_ldl(&g_task_bad) == 0,
                SEEDFMT "%ld tasks saw wrong arguments", d->seed, n, workers,
                tu_ldl(&g_task_bad));
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
  free(kept);
  free(need);
  free(before);
}

START_TEST(test_dags_match_sequential) {
  int maxn = (int)tu_scaled(10000, 500);
  tu_seeds s;
  tu_seeds_init(&s, "test_random dags", 150, 18000);
  dusk_pool *pools[4];
  for (int w = 0; w < 4; w++)
    pools[w] = tu_pool(k_workers[w]);
  uint64_t seed;
  while (tu_seeds_next(&s, &seed)) {
    rdag d;
    rdag_gen(&d, seed, maxn, 0);
    printf("dags seed 0x%016" PRIx64 " nodes %d\n", seed, d.n);
    fflush(stdout);
    for (int w = 0; w < 4; w++)
      run_dag(&d, pools[w], k_workers[w], tu_mix64(seed ^ (uint64_t)(w + 1)));
    rdag_free(&d);
  }
  printf("test_random dags: %ld seed(s) passed\n", s.done);
  for (int w = 0; w < 4; w++)
    dusk_pool_free(pools[w]);
  tu_done();
}
END_TEST

/* ------------------------------------------------------------ failures */

/* anc[i] = 1 for t and everything t needs. */
static void ancestors(const rdag *d, int t, char *anc) {
  memset(anc, 0, (size_t)d->n);
  anc[t] = 1;
  for (int i = t; i >= 0; i--)
    if (anc[i] && d->rn[i].is_call)
      for (int k = 0; k < d->rn[i].nargs; k++)
        anc[d->rn[i].args[k]] = 1;
}

/*
** The message of a failed target t must blame a failing node that t needs:
** it must mention one, by name ("node<k>") or by what it said ("boom{k}"),
** and every node it mentions must be t or one of t's ancestors, and every
** "boom{k}" a failing ancestor. Returns 0 when so, else the offending k
** (-1: no failing ancestor mentioned, -2: no message).
*/
static int check_blame(const rdag *d, int t, const char *msg, char *anc) {
  if (msg == NULL)
    return -2;
  ancestors(d, t, anc);
  int found = 0;
  static const char *const marks[2] = {"boom{", "node<"};
  for (int m = 0; m < 2; m++) {
    size_t len = strlen(marks[m]);
    for (const char *p = strstr(msg, marks[m]); p != NULL;
         p = strstr(p + 1, marks[m])) {
      long k = strtol(p + len, NULL, 10);
      if (k < 0 || k >= d->n || !anc[k] || (m == 0 && !d->rn[k].fails))
        return k < 0 ? -3 : (int)k;
      found |= d->rn[k].fails;
    }
  }
  return found ? 0 : -1;
}

static void run_failures(rdag *d, dusk_pool *p, int workers, uint64_t rs) {
  int n = d->n;
  int tg[MAXTARGETS];
  dusk_node *tn[MAXTARGETS];
  dusk_value outs[MAXTARGETS];
  int nt = pick_targets(d, &rs, tg, 24);
  /* Each compute may rerun what is not kept: room for nt + 2 full runs. */
  tu_reset((size_t)n * (size_t)(nt + 3) + 256);
  atomic_store(&g_task_bad, 0);
  g_rn = d->rn;
  dusk_graph *g = rdag_build(d, p, 1);
  char *kept = calloc((size_t)n, 1), *anc = calloc((size_t)n, 1);
  int any_tainted = 0;
  for (int j = 0; j < nt; j++) {
    tn[j] = d->node[tg[j]];
    any_tainted |= d->rn[tg[j]].tainted;
  }

  /* One target at a time: exactly the tainted ones fail. */
  for (int j = 0; j < nt; j++) {
    int t = tg[j];
    dusk_value out = dusk_i64(-1);
    int rc = dusk_compute(g, tn[j], &out);
    if (d->rn[t].tainted) {
      ck_assert_msg(rc == DUSK_ETASK,
                    SEEDFMT "node %d needs a failing node: compute gave %d",
                    d->seed, n, workers, t, rc);
      ck_assert_msg(out.kind == DUSK_NONE, SEEDFMT "failed, *out not NONE",
                    d->seed, n, workers);
      ck_assert_msg(dusk_errcode(tn[j]) != DUSK_OK,
                    SEEDFMT "node %d failed with errcode OK", d->seed, n,
                    workers, t);
      const char *m = dusk_errmsg(tn[j]);
      char own[32];
      snprintf(own, sizeof own, "node<%d>", t);
      ck_assert_msg(tu_has(m, own), SEEDFMT "message of %d: %s", d->seed, n,
                    workers, t, m ? m : "(null)");
      int blame = check_blame(d, t, m, anc);
      ck_assert_msg(blame == 0,
                    SEEDFMT "message of %d blames %d, not a failing ancestor: %s",
                    d->seed, n, workers, t, blame, m ? m : "(null)");
    } else {
      ck_assert_msg(rc == DUSK_OK, SEEDFMT "node %d failed (%d): %s", d->seed,
                    n, workers, t, rc,
                    dusk_errmsg(tn[j]) ? dusk_errmsg(tn[j]) : "(null)");
      ck_assert_msg(value_ok(d, t, &out), SEEDFMT "wrong value for node %d",
                    d->seed, n, workers, t);
      ck_assert_ptr_null(dusk_errmsg(tn[j]));
      kept[t] = d->rn[t].is_call;
      if (tu_rand_below(&rs, 2)) {
        dusk_release(tn[j]);
        kept[t] = 0;
      }
    }
    ck_assert_msg(tu_ldl(&tu_st.live) == kept_boxes(d, kept),
                  SEEDFMT "after target %d: %ld boxes live, %ld kept", d->seed,
                  n, workers, t, tu_ldl(&tu_st.live), kept_boxes(d, kept));
  }

  /* All targets at once: an error iff one is tainted; then nothing new kept. */
  for (int j = 0; j < nt; j++)
    outs[j] = dusk_i64(-1);
  int rc = dusk_compute_many(g, nt, tn, outs);
  if (any_tainted) {
    ck_assert_msg(rc == DUSK_ETASK, SEEDFMT "compute_many gave %d", d->seed,
                  n, workers, rc);
    for (int j = 0; j < nt; j++)
      ck_assert_msg(outs[j].kind == DUSK_NONE,
                    SEEDFMT "compute_many failed, out %d not NONE", d->seed, n,
                    workers, j);
    for (int j = 0; j < nt; j++)
      if (d->rn[tg[j]].tainted) {
        const char *m = dusk_errmsg(tn[j]);
        int blame = check_blame(d, tg[j], m, anc);
        /* With several targets the compute may stop, after a failure that
           another target needs, before this target's own failing ancestor
           ran: the message then says so and names that failure. */
        if (blame > 0 && d->rn[blame].fails && tu_has(m, "compute stopped after"))
          blame = 0;
        ck_assert_msg(blame == 0 || blame == -2,
                      SEEDFMT "compute_many: %d blames %d", d->seed, n,
                      workers, tg[j], blame);
      }
  } else {
    ck_assert_msg(rc == DUSK_OK, SEEDFMT "compute_many gave %d", d->seed, n,
                  workers, rc);
    for (int j = 0; j < nt; j++) {
      ck_assert(value_ok(d, tg[j], &outs[j]));
      kept[tg[j]] |= d->rn[tg[j]].is_call;
    }
  }
  ck_assert_msg(tu_ldl(&tu_st.live) == kept_boxes(d, kept),
                SEEDFMT "after compute_many: %ld boxes live, %ld kept",
                d->seed, n, workers, tu_ldl(&tu_st.live),
                kept_boxes(d, kept));

  /* A node that needs a failing node never ran, in any compute. */
  for (int i = 0; i < n; i++)
    if (d->rn[i].tainted && !d->rn[i].fails)
      ck_assert_msg(tu_ldi(&d->rn[i].runs) == 0,
                    SEEDFMT "node %d ran although it needs a failing node",
                    d->seed, n, workers, i);
  ck_assert_msg(tu_ldl(&g_task_bad) == 0,
                SEEDFMT "%ld tasks saw wrong arguments", d->seed, n, workers,
                tu_ldl(&g_task_bad));
  dusk_graph_free(g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
  free(kept);
  free(anc);
}

START_TEST(test_failures_exactly_downstream) {
  int maxn = (int)tu_scaled(10000, 500);
  tu_seeds s;
  tu_seeds_init(&s, "test_random failures", 100, 10000);
  dusk_pool *pools[4];
  for (int w = 0; w < 4; w++)
    pools[w] = tu_pool(k_workers[w]);
  uint64_t seed;
  while (tu_seeds_next(&s, &seed)) {
    rdag d;
    rdag_gen(&d, seed, maxn, 1);
    printf("failures seed 0x%016" PRIx64 " nodes %d\n", seed, d.n);
    fflush(stdout);
    for (int w = 0; w < 4; w++)
      run_failures(&d, pools[w], k_workers[w],
                   tu_mix64(seed ^ (uint64_t)(w + 101)));
    rdag_free(&d);
  }
  printf("test_random failures: %ld seed(s) passed\n", s.done);
  for (int w = 0; w < 4; w++)
    dusk_pool_free(pools[w]);
  tu_done();
}
END_TEST

static Suite *random_suite(void) {
  Suite *s = suite_create("random");
  double timeout = TU_SANITIZED ? 900 : 300;
  TCase *tc;

  tc = tcase_create("dags");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_dags_match_sequential);
  suite_add_tcase(s, tc);

  tc = tcase_create("failures");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_failures_exactly_downstream);
  suite_add_tcase(s, tc);

  return s;
}

TU_MAIN(random_suite)
