/*
** test_stress: large graphs, many pools, many threads, deep nesting.
**
** Each test has an outcome the header defines, and checks it:
**
** - ten_million: ten million nodes as a reduction tree (9.4 million leaf
**   tasks under sums of 16), built, computed and freed; the root is the
**   number of leaves. (test_compute's scale case is a chain; this is the
**   wide shape: millions of ready tasks at once.)
** - chain_nested: a chain of a million whose every 1000th task builds a
**   small graph inside the task's own graph and computes it (a nested
**   compute), built on a thread with a small stack.
** - pool_cycles: a pool made and freed 1,000 times, with a compute on each;
**   no thread is left behind.
** - eight_threads: eight outside threads compute overlapping targets of one
**   graph at once, round after round. A node kept from an earlier round
**   runs no more; a node that all eight request in a round runs exactly
**   once in it; any other node runs at most once per compute that needs it,
**   and not at all if none needs it; every value is right; and when the
**   round is over only the kept results are alive.
** - eight_threads_failures: the same with failing tasks: computes that need
**   one fail, those that succeed are right, and after each round every
**   node that needs no failing task computes again on its own (a failed
**   node is retried) and, all released, no result is alive.
** - pool_free_after_compute: a pool freed as soon as computes on it have
**   returned; the graph then computes on another pool.
** - free_while_queued: graphs computed and freed, over and over, while
**   another thread's compute on another graph keeps the same pool busy.
** - nested_deep: computes nested twenty deep on a 1-thread pool, each
**   level in a graph of its own and next to a fan of siblings; then a
**   failure at the bottom travels up all twenty levels in the messages.
** - live_futures, live_futures_callbacks: a hundred thousand futures alive
**   at once (all behind a shut gate, some needing others), then got in a
**   random order and checked, each run once; with a dusk_on_done() on every
**   one and some failing, each callback is called once with the right code.
**   Prints the time and the peak RSS, which must stay under 2 KiB a future
**   and 64 MiB (not under the sanitizers).
** - free_while_futures_run: the graph freed just as twenty thousand
**   futures start to run: the free waits for them all, their callbacks say
**   DUSK_OK, those of lazy nodes DUSK_ECANCELED, no result is left.
**
** Sizes shrink by DUSK_TEST_SCALE (0.1 by default in sanitizer builds); each
** test prints the sizes it used. Randomized parts print their seed;
** DUSK_TEST_SEED replays one.
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

/* ====================================================== common */

/* 1 + the sum of the arguments (i64 or boxes), as a DUSK_I64. */
static int t_sum(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  int64_t s = tu_sum1(args, nargs);
  *out = dusk_i64(s);
  return 0;
}

/* The same in a counted box. */
static int t_box(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  int64_t s = tu_sum1(args, nargs);
  *out = tu_box_new(s);
  return 0;
}

static int t_kaboom(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  return dusk_fail(t, "kaboom");
}

static uint64_t seed_from_env(uint64_t dflt) {
  const char *s = getenv("DUSK_TEST_SEED");
  return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : dflt;
}

/* ====================================================== ten million */

/* A leaf: 1. The sums add their arguments (no +1), so the root is the
   number of leaves. */
static int t_one(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  *out = dusk_i64(1);
  return 0;
}

static int t_add(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < nargs; i++)
    s += args[i].i64;
  *out = dusk_i64(s);
  return 0;
}

enum { FANIN = 16 };

START_TEST(test_ten_million_tree) {
  long total = tu_scaled(10000000, 100000);
  /* leaves + leaves/16 + leaves/256 + ... is about total. */
  long leaves = total / 16 * 15;
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  double t0 = tu_now_ms();
  dusk_node **level = malloc((size_t)leaves * sizeof *level);
  ck_assert_ptr_nonnull(level);
  /* No ck_assert per node: each one costs Check a write. */
  long refused = 0;
  for (long i = 0; i < leaves; i++)
    refused += (level[i] = dusk_call(g, t_one, NULL, 0, NULL)) == NULL;
  ck_assert_int_eq(refused, 0);
  long len = leaves, depth = 0;
  while (len > 1) {
    long out = 0;
    for (long i = 0; i < len; i += FANIN) {
      int k = (int)(len - i < FANIN ? len - i : FANIN);
      level[out] = dusk_call(g, t_add, NULL, k, &level[i]);
      refused += level[out] == NULL;
      out++;
    }
    ck_assert_int_eq(refused, 0);
    len = out;
    depth++;
  }
  dusk_node *root = level[0];
  free(level);
  size_t nodes = dusk_graph_size(g);
  double t1 = tu_now_ms();
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, root, &v), DUSK_OK);
  ck_assert_int_eq(v.kind, DUSK_I64);
  ck_assert_int_eq(v.i64, leaves);
  double t2 = tu_now_ms();
  long rss = tu_maxrss_kb();
  dusk_graph_free(g);
  double t3 = tu_now_ms();
  printf("stress: ten_million: %zu nodes (%ld leaf tasks, %ld levels of "
         "sums of %d): build %.0f ms, compute %.0f ms, free %.0f ms, peak "
         "RSS %ld MiB\n",
         nodes, leaves, depth, FANIN, t1 - t0, t2 - t1, t3 - t2, rss / 1024);
  ck_assert_uint_ge(nodes, (size_t)(total - total / 100));
  if (!TU_SANITIZED && tu_scale() == 1.0) {
    /* 200 bytes a node (node, arguments, the claimed list) and 64 MiB. */
    long bound_kb = (long)((double)nodes * 200.0 / 1024.0) + 64 * 1024;
    ck_assert_msg(rss <= bound_kb, "peak RSS %ld KiB > %ld KiB", rss,
                  bound_kb);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== chain nested */

static atomic_long g_nested_done;
static atomic_long g_nested_errors;

/*
** A link of the chain: args[0] + 1; every 1000th link (udata non-NULL) also
** builds, in the task's own graph, a literal 5, b = t_sum(a), c = t_box(a),
** d = t_sum(b, c) = 1 + 6 + 6 = 13, computes d from inside the task, and
** adds it.
*/
static int t_link(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  int64_t x = nargs > 0 ? args[0].i64 : 0;
  if (dusk_task_udata(t) != NULL) {
    dusk_graph *g = dusk_task_graph(t);
    dusk_node *a = dusk_literal(g, dusk_i64(5));
    dusk_node *b = dusk_delayed(g, t_sum, a);
    dusk_node *c = dusk_delayed(g, t_box, a);
    dusk_node *d = dusk_delayed(g, t_sum, b, c);
    dusk_value v;
    int rc = d != NULL ? dusk_compute(g, d, &v) : DUSK_ENOMEM;
    if (rc != DUSK_OK || v.i64 != 13) {
      atomic_fetch_add(&g_nested_errors, 1);
      return dusk_fail(t, "nested: %s", dusk_strerror(rc));
    }
    dusk_release(d);
    atomic_fetch_add(&g_nested_done, 1);
    x += 13;
  }
  *out = dusk_i64(x + 1);
  return 0;
}

typedef struct chain_job {
  long n;
  dusk_pool *pool;
  int rc;
  int64_t result;
  size_t size;
} chain_job;

static void *chain_main(void *arg) {
  chain_job *j = arg;
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, j->pool);
  dusk_node *prev = dusk_literal(g, dusk_i64(0));
  for (long i = 1; i <= j->n && prev != NULL; i++)
    prev = dusk_call(g, t_link, i % 1000 == 0 ? (void *)1 : NULL, 1, &prev);
  dusk_value out = dusk_i64(-1);
  j->rc = prev != NULL ? dusk_compute(g, prev, &out) : -100;
  j->result = out.i64;
  j->size = dusk_graph_size(g);
  dusk_graph_free(g);
  return NULL;
}

START_TEST(test_chain_nested_every_1000th) {
  tu_reset(4096);
  long n = tu_scaled(1000000, 100000);
  chain_job j = {.n = n, .pool = tu_pool(2)};
  atomic_store(&g_nested_done, 0);
  atomic_store(&g_nested_errors, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, TU_SANITIZED ? 2u << 20 : 512u << 10);
  double t0 = tu_now_ms();
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, &attr, chain_main, &j), 0);
  pthread_join(th, NULL);
  pthread_attr_destroy(&attr);
  long nested = n / 1000;
  printf("stress: chain_nested: a chain of %ld with %ld nested computes: "
         "%.0f ms\n",
         n, nested, tu_now_ms() - t0);
  ck_assert_int_eq(j.rc, DUSK_OK);
  ck_assert_int_eq(tu_ldl(&g_nested_errors), 0);
  ck_assert_int_eq(tu_ldl(&g_nested_done), nested);
  ck_assert_int_eq(j.result, n + 13 * nested);
  /* 1 + n chain nodes, and 4 nodes built by each nested compute. */
  ck_assert_uint_eq(j.size, (size_t)(1 + n + 4 * nested));
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  dusk_pool_free(j.pool);
  tu_done();
}
END_TEST

/* ====================================================== pool cycles */

START_TEST(test_pool_cycles) {
  long cycles = tu_scaled(1000, 200);
  int before = tu_thread_baseline();
  double t0 = tu_now_ms();
  for (long i = 0; i < cycles; i++) {
    int nt = 1 + (int)(i % 4);
    dusk_pool *p = tu_pool(nt);
    ck_assert_int_eq(dusk_pool_size(p), nt);
    dusk_graph *g = tu_graph(p);
    /* A diamond over a fan of 12: 1 + 12 + 2 + 1 tasks. */
    dusk_node *src = dusk_delayed(g, t_sum);
    dusk_node *fan[12];
    for (int k = 0; k < 12; k++)
      fan[k] = dusk_delayed(g, t_sum, src);
    dusk_node *left = dusk_call(g, t_sum, NULL, 12, fan);
    dusk_node *right = dusk_call(g, t_sum, NULL, 6, fan + 6);
    dusk_node *top = dusk_delayed(g, t_sum, left, right);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, top, &v), DUSK_OK);
    /* src 1; fan 2 each; left 25; right 13; top 39. */
    ck_assert_int_eq(v.i64, 39);
    dusk_graph_free(g);
    dusk_pool_free(p);
  }
  printf("stress: pool_cycles: %ld pools of 1 to 4 threads made, used and "
         "freed: %.0f ms\n",
         cycles, tu_now_ms() - t0);
  ck_assert_int_eq(tu_thread_count(), before);
}
END_TEST

/* ====================================================== eight threads */

enum { ET_THREADS = 8, ET_MAXARGS = 4, ET_COMMON = 6, ET_OWN = 10 };

typedef struct et_node {
  int nargs;
  int arg[ET_MAXARGS];
  int boxed;
  int fails;   /* its task fails                 */
  int tainted; /* it fails, or needs one that does */
  int64_t expect;
  atomic_int runs;
} et_node;

typedef struct et_graph {
  int n;
  et_node *info;
  dusk_node **node;
  dusk_graph *g;
} et_graph;

static int t_et(dusk_task *t, const dusk_value *args, int nargs,
                dusk_value *out) {
  et_node *me = dusk_task_udata(t);
  atomic_fetch_add(&me->runs, 1);
  /* A value that depends on the order of the arguments. */
  uint64_t s = 7;
  for (int i = 0; i < nargs; i++)
    s = s * 31 + (uint64_t)tu_get(&args[i]);
  s &= 0xffffffffffffULL;
  *out = me->boxed ? tu_box_new((int64_t)s) : dusk_i64((int64_t)s);
  if (me->fails) /* what it wrote must be released */
    return dusk_fail(t, "et kaboom");
  return 0;
}

static void et_build(et_graph *e, dusk_pool *p, int n, uint64_t seed,
                     int fail_one_in) {
  e->n = n;
  e->info = calloc((size_t)n, sizeof *e->info);
  e->node = calloc((size_t)n, sizeof *e->node);
  ck_assert(e->info && e->node);
  e->g = tu_graph(p);
  uint64_t rs = seed;
  for (int i = 0; i < n; i++) {
    et_node *x = &e->info[i];
    x->nargs = i == 0 ? 0 : tu_rand_below(&rs, (i < ET_MAXARGS ? i : ET_MAXARGS) + 1);
    x->boxed = tu_rand_below(&rs, 3) == 0;
    /* Failing nodes among the last fifth, so that few others need them. */
    x->fails = fail_one_in > 0 && i >= n - n / 5 &&
               tu_rand_below(&rs, fail_one_in) == 0;
    x->tainted = x->fails;
    dusk_node *args[ET_MAXARGS];
    uint64_t s = 7;
    for (int k = 0; k < x->nargs; k++) {
      /* Mostly recent nodes (deep), sometimes anywhere (wide). */
      int a = tu_rand_below(&rs, 4) != 0 && i > 20
                  ? i - 1 - tu_rand_below(&rs, 20)
                  : tu_rand_below(&rs, i);
      x->arg[k] = a;
      args[k] = e->node[a];
      s = s * 31 + (uint64_t)e->info[a].expect;
      x->tainted |= e->info[a].tainted;
    }
    x->expect = (int64_t)(s & 0xffffffffffffULL);
    e->node[i] = dusk_call(e->g, t_et, x, x->nargs, args);
    ck_assert_ptr_nonnull(e->node[i]);
  }
}

/* need[i] = 1 when node i is one of targets[] or needed by one. */
static void et_needs(const et_graph *e, const int *targets, int nt,
                     char *need) {
  memset(need, 0, (size_t)e->n);
  for (int k = 0; k < nt; k++)
    need[targets[k]] = 1;
  for (int i = e->n - 1; i >= 0; i--)
    if (need[i])
      for (int k = 0; k < e->info[i].nargs; k++)
        need[e->info[i].arg[k]] = 1;
}

typedef struct et_thread {
  et_graph *e;
  pthread_barrier_t *barrier;
  int targets[ET_COMMON + ET_OWN];
  int nt;
  int rc, wrong;
} et_thread;

static void *et_main(void *arg) {
  et_thread *me = arg;
  et_graph *e = me->e;
  dusk_node *nodes[ET_COMMON + ET_OWN];
  dusk_value outs[ET_COMMON + ET_OWN];
  for (int k = 0; k < me->nt; k++)
    nodes[k] = e->node[me->targets[k]];
  pthread_barrier_wait(me->barrier);
  me->rc = dusk_compute_many(e->g, me->nt, nodes, outs);
  me->wrong = 0;
  if (me->rc == DUSK_OK)
    for (int k = 0; k < me->nt; k++)
      me->wrong += tu_get(&outs[k]) != e->info[me->targets[k]].expect;
  return NULL;
}

START_TEST(test_eight_threads_overlapping_targets) {
  int n = (int)tu_scaled(400, 200);
  int rounds = (int)tu_scaled(300, 60);
  uint64_t seed = seed_from_env(0x8e1647a3ULL);
  printf("stress: eight_threads: seed 0x%" PRIx64 ", %d nodes, %d rounds, "
         "%d threads on a pool of 4\n",
         seed, n, rounds, ET_THREADS);
  fflush(stdout);
  tu_reset((size_t)n * (size_t)rounds * ET_THREADS + 64);
  dusk_pool *p = tu_pool(4);
  et_graph e;
  et_build(&e, p, n, seed, 0);
  char *kept = calloc((size_t)n, 1);
  char *need = calloc((size_t)n, 1);
  int *needers = calloc((size_t)n, sizeof *needers);
  int *before = calloc((size_t)n, sizeof *before);
  ck_assert(kept && need && needers && before);
  uint64_t rs = tu_mix64(seed);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, ET_THREADS);
  long once_checked = 0, kept_checked = 0;
  for (int round = 0; round < rounds; round++) {
    et_thread th[ET_THREADS];
    pthread_t tid[ET_THREADS];
    int common[ET_COMMON];
    for (int k = 0; k < ET_COMMON; k++)
      common[k] = tu_rand_below(&rs, n);
    memset(needers, 0, (size_t)n * sizeof *needers);
    char *all = calloc((size_t)n, 1);
    ck_assert_ptr_nonnull(all);
    for (int k = 0; k < ET_COMMON; k++)
      all[common[k]] = 1;
    for (int t = 0; t < ET_THREADS; t++) {
      th[t] = (et_thread){.e = &e, .barrier = &barrier};
      for (int k = 0; k < ET_COMMON; k++)
        th[t].targets[th[t].nt++] = common[k];
      for (int k = 0; k < ET_OWN; k++)
        th[t].targets[th[t].nt++] = tu_rand_below(&rs, n);
      for (int k = th[t].nt - 1; k > 0; k--) { /* each its own order */
        int j = tu_rand_below(&rs, k + 1);
        int x = th[t].targets[k];
        th[t].targets[k] = th[t].targets[j];
        th[t].targets[j] = x;
      }
      et_needs(&e, th[t].targets, th[t].nt, need);
      for (int i = 0; i < n; i++)
        needers[i] += need[i];
    }
    for (int i = 0; i < n; i++)
      before[i] = tu_ldi(&e.info[i].runs);
    for (int t = 0; t < ET_THREADS; t++)
      ck_assert_int_eq(pthread_create(&tid[t], NULL, et_main, &th[t]), 0);
    for (int t = 0; t < ET_THREADS; t++)
      pthread_join(tid[t], NULL);
    for (int t = 0; t < ET_THREADS; t++) {
      ck_assert_msg(th[t].rc == DUSK_OK, "round %d thread %d: rc %d", round,
                    t, th[t].rc);
      ck_assert_msg(th[t].wrong == 0, "round %d thread %d: %d wrong values",
                    round, t, th[t].wrong);
    }
    /* Counted first, asserted once: each ck_assert costs Check a write. */
    int bad_node = -1, bad_ran = 0;
    const char *bad_why = "";
    for (int i = 0; i < n && bad_node < 0; i++) {
      int ran = tu_ldi(&e.info[i].runs) - before[i];
      if (kept[i]) {
        kept_checked++;
        if (ran != 0)
          bad_why = "was kept, yet ran";
      } else if (all[i]) {
        once_checked++;
        if (ran != 1)
          bad_why = "was requested by all threads, yet did not run once";
      } else if (ran > needers[i]) {
        bad_why = "ran more often than computes needed it";
      }
      if (bad_why[0] != '\0') {
        bad_node = i;
        bad_ran = ran;
      }
    }
    ck_assert_msg(bad_node < 0,
                  "round %d: node %d %s: ran %d times, needed by %d "
                  "computes",
                  round, bad_node, bad_why, bad_ran,
                  bad_node >= 0 ? needers[bad_node] : 0);
    /* Every target is kept now; only kept results are alive. */
    for (int t = 0; t < ET_THREADS; t++)
      for (int k = 0; k < th[t].nt; k++)
        kept[th[t].targets[k]] = 1;
    long boxed_kept = 0;
    for (int i = 0; i < n; i++)
      boxed_kept += kept[i] && e.info[i].boxed;
    ck_assert_msg(tu_ldl(&tu_st.live) == boxed_kept,
                  "round %d: %ld results alive, %ld kept", round,
                  tu_ldl(&tu_st.live), boxed_kept);
    /* Give back about half of what is kept, some by taking it. */
    for (int i = 0; i < n; i++) {
      if (!kept[i] || tu_rand_below(&rs, 2) == 0)
        continue;
      if (tu_rand_below(&rs, 4) == 0) {
        dusk_value v;
        ck_assert_int_eq(dusk_take(e.node[i], &v), DUSK_OK);
        ck_assert_int_eq(tu_get(&v), e.info[i].expect);
        dusk_value_clear(&v);
      } else {
        dusk_release(e.node[i]);
      }
      kept[i] = 0;
    }
    free(all);
  }
  pthread_barrier_destroy(&barrier);
  printf("stress: eight_threads: %ld node-rounds checked to run once, %ld "
         "kept ones checked to run not at all\n",
         once_checked, kept_checked);
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
  dusk_graph_free(e.g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  dusk_pool_free(p);
  free(e.info);
  free(e.node);
  free(kept);
  free(need);
  free(needers);
  free(before);
  tu_done();
}
END_TEST

/*
** The same with failing tasks among the nodes. A compute whose targets need
** a failing task fails; one whose targets do not succeeds, also when it
** waited for a node that a failing compute gave up (it is tried again), and
** its values are right. Whatever happened, once the round is over each target
** that needs no failing task computes right on the test thread (a failed
** node is retried), and when every result is released none is alive: no
** reference was lost or given back twice.
*/
START_TEST(test_eight_threads_failures_retried_refs_intact) {
  int n = (int)tu_scaled(300, 150);
  int rounds = (int)tu_scaled(300, 60);
  uint64_t seed = seed_from_env(0x5eedfa11ULL);
  printf("stress: eight_threads_failures: seed 0x%" PRIx64 ", %d nodes, %d "
         "rounds, %d threads on a pool of 4\n",
         seed, n, rounds, ET_THREADS);
  fflush(stdout);
  tu_reset((size_t)n * (size_t)rounds * (ET_THREADS + 1) + 64);
  dusk_pool *p = tu_pool(4);
  et_graph e;
  et_build(&e, p, n, seed, 12);
  int tainted = 0;
  for (int i = 0; i < n; i++)
    tainted += e.info[i].tainted;
  uint64_t rs = tu_mix64(seed);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, ET_THREADS);
  long failed_right = 0, ok = 0;
  for (int round = 0; round < rounds; round++) {
    et_thread th[ET_THREADS];
    pthread_t tid[ET_THREADS];
    int common[ET_COMMON];
    for (int k = 0; k < ET_COMMON; k++)
      common[k] = tu_rand_below(&rs, n);
    for (int t = 0; t < ET_THREADS; t++) {
      th[t] = (et_thread){.e = &e, .barrier = &barrier};
      /* Half the threads share the common targets. */
      for (int k = 0; t % 2 == 0 && k < ET_COMMON; k++)
        th[t].targets[th[t].nt++] = common[k];
      for (int k = 0; k < ET_OWN; k++)
        th[t].targets[th[t].nt++] = tu_rand_below(&rs, n);
    }
    for (int t = 0; t < ET_THREADS; t++)
      ck_assert_int_eq(pthread_create(&tid[t], NULL, et_main, &th[t]), 0);
    for (int t = 0; t < ET_THREADS; t++)
      pthread_join(tid[t], NULL);
    for (int t = 0; t < ET_THREADS; t++) {
      int needs_failure = 0;
      for (int k = 0; k < th[t].nt; k++)
        needs_failure |= e.info[th[t].targets[k]].tainted;
      ck_assert_msg(!needs_failure || th[t].rc != DUSK_OK,
                    "round %d thread %d: a compute that needs a failing "
                    "task succeeded",
                    round, t);
      ck_assert_msg(th[t].rc == DUSK_OK || th[t].rc == DUSK_ETASK,
                    "round %d thread %d: rc %d", round, t, th[t].rc);
      ck_assert_msg(th[t].rc != DUSK_OK || th[t].wrong == 0,
                    "round %d thread %d: %d wrong values", round, t,
                    th[t].wrong);
      ck_assert_msg(needs_failure || th[t].rc == DUSK_OK,
                    "round %d thread %d: a compute that needs no failing "
                    "task failed",
                    round, t);
      ok += th[t].rc == DUSK_OK;
      failed_right += needs_failure;
    }
    /* Each target that needs no failing task computes now, and right. */
    int bad = -1, bad_rc = 0;
    for (int t = 0; t < ET_THREADS && bad < 0; t++)
      for (int k = 0; k < th[t].nt && bad < 0; k++) {
        int i = th[t].targets[k];
        dusk_value v;
        int rc = dusk_compute(e.g, e.node[i], &v);
        if (e.info[i].tainted ? rc == DUSK_OK
                              : rc != DUSK_OK || tu_get(&v) != e.info[i].expect) {
          bad = i;
          bad_rc = rc;
        }
      }
    ck_assert_msg(bad < 0,
                  "round %d: node %d (%s) computed alone after the round: "
                  "%d (%s): %s",
                  round, bad,
                  bad >= 0 && e.info[bad].tainted ? "needs a failing task"
                                                  : "needs none",
                  bad_rc, dusk_strerror(bad_rc),
                  bad >= 0 && dusk_errmsg(e.node[bad]) ? dusk_errmsg(e.node[bad])
                                                       : "");
    for (int i = 0; i < n; i++)
      dusk_release(e.node[i]);
    ck_assert_msg(tu_ldl(&tu_st.live) == 0,
                  "round %d: %ld results alive after releasing all", round,
                  tu_ldl(&tu_st.live));
    ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
    ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  }
  pthread_barrier_destroy(&barrier);
  printf("stress: eight_threads_failures: %d of %d nodes need a failing "
         "task; %ld computes succeeded, %ld failed as they must\n",
         tainted, n, ok, failed_right);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
  dusk_graph_free(e.g);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  dusk_pool_free(p);
  free(e.info);
  free(e.node);
  tu_done();
}
END_TEST

/* ====================================================== pool freed */

typedef struct bg_compute {
  dusk_graph *g;
  dusk_node *n;
  int rc;
  int64_t v;
} bg_compute;

static void *bg_compute_main(void *arg) {
  bg_compute *b = arg;
  dusk_value out = dusk_i64(-1);
  b->rc = dusk_compute(b->g, b->n, &out);
  b->v = tu_get(&out);
  return NULL;
}

/*
** Build a fan of width leaves over src and a sum of them; returns the sum
** node. Its value is 1 + width * 2 (each leaf is 1 + src, src is 1).
*/
static dusk_node *fan_sum(dusk_graph *g, int width, int boxed) {
  dusk_node *src = dusk_delayed(g, t_sum);
  dusk_node **leaves = malloc((size_t)width * sizeof *leaves);
  ck_assert_ptr_nonnull(leaves);
  for (int i = 0; i < width; i++)
    leaves[i] = boxed && i % 2 ? dusk_delayed(g, t_box, src)
                               : dusk_delayed(g, t_sum, src);
  dusk_node *sum = dusk_call(g, t_sum, NULL, width, leaves);
  free(leaves);
  ck_assert_ptr_nonnull(sum);
  return sum;
}

START_TEST(test_pool_free_right_after_compute) {
  long reps = tu_scaled(300, 60);
  tu_reset(1 << 16);
  int before = tu_thread_baseline();
  dusk_pool *spare = tu_pool(2);
  for (long i = 0; i < reps; i++) {
    dusk_pool *p = tu_pool(1 + (int)(i % 4));
    dusk_graph *g = tu_graph(p);
    dusk_graph *g2 = tu_graph(p);
    dusk_node *a = fan_sum(g, 64, 1);
    dusk_node *b = fan_sum(g2, 32, 1);
    /* Two computes on the pool at once, from two threads. */
    bg_compute bc = {.g = g2, .n = b};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bg_compute_main, &bc), 0);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 1 + 64 * 2);
    pthread_join(th, NULL);
    /* Both returned: free the pool at once. */
    dusk_pool_free(p);
    ck_assert_int_eq(bc.rc, DUSK_OK);
    ck_assert_int_eq(bc.v, 1 + 32 * 2);
    /* The kept results are intact, and the graph computes on another pool. */
    ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 1 + 64 * 2);
    dusk_graph_set_pool(g, spare);
    dusk_node *c = dusk_delayed(g, t_sum, a, a);
    ck_assert_int_eq(dusk_compute(g, c, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 1 + 2 * (1 + 64 * 2));
    dusk_graph_free(g);
    dusk_graph_free(g2);
    ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  }
  dusk_pool_free(spare);
  printf("stress: pool_free_after_compute: %ld pools freed right after two "
         "computes returned\n",
         reps);
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_thread_count(), before);
  tu_done();
}
END_TEST

/* ====================================================== free while queued */

typedef struct busy {
  dusk_pool *pool;
  atomic_int stop;
  atomic_int in_compute;
  long rounds, bad;
  int width;
} busy;

/* Compute big fans on another graph until told to stop. */
static void *busy_main(void *arg) {
  busy *b = arg;
  while (!atomic_load(&b->stop)) {
    dusk_graph *g = dusk_graph_new();
    dusk_graph_set_pool(g, b->pool);
    dusk_node *s = fan_sum(g, b->width, 1);
    dusk_value v;
    atomic_store(&b->in_compute, 1);
    int rc = dusk_compute(g, s, &v);
    atomic_store(&b->in_compute, 0);
    if (rc != DUSK_OK || v.i64 != 1 + 2 * (int64_t)b->width)
      b->bad++;
    dusk_graph_free(g);
    b->rounds++;
  }
  return NULL;
}

START_TEST(test_pool_free_graph_freed_while_other_queued) {
  long reps = tu_scaled(400, 80);
  tu_reset(1 << 20);
  dusk_pool *p = tu_pool(2);
  busy b = {.pool = p, .width = (int)tu_scaled(20000, 2000)};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, busy_main, &b), 0);
  ck_assert(tu_wait_flag(&b.in_compute, 30000));
  long during = 0, failed_freed = 0;
  for (long i = 0; i < reps; i++) {
    dusk_graph *g = tu_graph(p);
    dusk_node *s = fan_sum(g, 50, 1);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, s, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, 1 + 2 * 50);
    if (i % 3 == 0) { /* and a failed compute, freed at once too */
      dusk_node *bad = dusk_delayed(g, t_kaboom);
      dusk_node *top = dusk_delayed(g, t_sum, bad, s);
      ck_assert_int_eq(dusk_compute(g, top, NULL), DUSK_ETASK);
      failed_freed++;
    }
    during += atomic_load(&b.in_compute);
    dusk_graph_free(g); /* the other graph's work is queued meanwhile */
  }
  atomic_store(&b.stop, 1);
  pthread_join(th, NULL);
  printf("stress: free_while_queued: %ld graphs freed (%ld after a failure), "
         "%ld of them while the other thread's compute of %d tasks was "
         "under way; it finished %ld computes\n",
         reps, failed_freed, during, b.width + 2, b.rounds);
  ck_assert_int_eq(b.bad, 0);
  ck_assert_int_gt(b.rounds, 0);
  ck_assert_int_gt(during, 0);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.overflow), 0);
  dusk_pool_free(p);
  tu_done();
}
END_TEST

/* ====================================================== nested deep */

enum { NEST_DEPTH = 20, NEST_FAN = 5 };

static dusk_pool *g_nest_pool;
static atomic_long g_nest_runs;
static atomic_int g_nest_fail_at_bottom;

/* A sibling leaf: 1. */
static int t_leaf(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  atomic_fetch_add(&g_nest_runs, 1);
  *out = dusk_i64(1);
  return 0;
}

/*
** Level k > 0 makes a graph of its own on the same 1-thread pool: a node
** of level k-1 and NEST_FAN leaves, and computes them together; returns
** 1 + the child's value + the leaves' (1 each). Level 0 returns 1, or
** fails when asked to. A failure is passed up with its message.
*/
static int t_level(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)args;
  (void)nargs;
  atomic_fetch_add(&g_nest_runs, 1);
  intptr_t level = (intptr_t)dusk_task_udata(t);
  if (level == 0) {
    if (atomic_load(&g_nest_fail_at_bottom))
      return dusk_fail(t, "bottom kaboom");
    *out = dusk_i64(1);
    return 0;
  }
  dusk_graph *g = dusk_graph_new();
  if (g == NULL)
    return dusk_fail(t, "level %d: no graph", (int)level);
  dusk_graph_set_pool(g, g_nest_pool);
  dusk_node *nodes[1 + NEST_FAN];
  nodes[0] = dusk_call(g, t_level, (void *)(level - 1), 0, NULL);
  for (int i = 0; i < NEST_FAN; i++)
    nodes[1 + i] = dusk_call(g, t_leaf, NULL, 0, NULL);
  dusk_value v[1 + NEST_FAN];
  int rc = dusk_compute_many(g, 1 + NEST_FAN, nodes, v);
  if (rc != DUSK_OK) {
    const char *m = dusk_errmsg(nodes[0]);
    int r = dusk_fail(t, "level %d: %s", (int)level, m ? m : "(no message)");
    dusk_graph_free(g);
    return r;
  }
  int64_t s = 1;
  for (int i = 0; i < 1 + NEST_FAN; i++)
    s += v[i].i64;
  dusk_graph_free(g);
  *out = dusk_i64(s);
  return 0;
}

START_TEST(test_nested_deep_twenty_levels_one_thread) {
  g_nest_pool = tu_pool(1);
  dusk_graph *g = tu_graph(g_nest_pool);
  /* Success: level k is 1 + level(k-1) + NEST_FAN, level 0 is 1. */
  atomic_store(&g_nest_runs, 0);
  atomic_store(&g_nest_fail_at_bottom, 0);
  dusk_node *top = dusk_call(g, t_level, (void *)NEST_DEPTH, 0, NULL);
  dusk_value v;
  double t0 = tu_now_ms();
  ck_assert_int_eq(dusk_compute(g, top, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 1 + NEST_DEPTH * (1 + NEST_FAN));
  ck_assert_int_eq(tu_ldl(&g_nest_runs), 1 + NEST_DEPTH * (1 + NEST_FAN));
  /* Failure at the bottom: every level fails, naming the one below. */
  atomic_store(&g_nest_runs, 0);
  atomic_store(&g_nest_fail_at_bottom, 1);
  dusk_node *top2 = dusk_call(g, t_level, (void *)NEST_DEPTH, 0, NULL);
  dusk_node *after = dusk_delayed(g, t_sum, top2);
  ck_assert_int_eq(dusk_compute(g, after, NULL), DUSK_ETASK);
  const char *m = dusk_errmsg(top2);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(tu_has(m, "bottom kaboom"), "message: %s", m);
  for (int k = 1; k <= NEST_DEPTH; k++) {
    char want[32];
    snprintf(want, sizeof want, "level %d: ", k);
    ck_assert_msg(tu_has(m, want), "no \"%s\" in: %s", want, m);
  }
  ck_assert_msg(tu_has(dusk_errmsg(after), "not run: upstream"),
                "after: %s", dusk_errmsg(after));
  printf("stress: nested_deep: %d levels on a 1-thread pool, %d tasks each "
         "way: %.0f ms\n",
         NEST_DEPTH, 1 + NEST_DEPTH * (1 + NEST_FAN), tu_now_ms() - t0);
  dusk_graph_free(g);
  dusk_pool_free(g_nest_pool);
}
END_TEST

/* ====================================================== live futures */

/*
** A gate: a task that waits until the test opens it (a minute at most,
** then it gives up and says so), so that everything submitted after it and
** needing it stays alive, waiting, until then.
*/
static atomic_int g_gate_open, g_gate_gave_up;

static int t_gate(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t, (void)args, (void)nargs;
  double end = tu_now_ms() + 60000;
  while (!atomic_load(&g_gate_open)) {
    if (tu_now_ms() > end) {
      atomic_store(&g_gate_gave_up, 1);
      break;
    }
    tu_sleep_ms(0.2);
  }
  *out = dusk_i64(0);
  return 0;
}

/*
** A future of the crowd: a hash of its index and its arguments' values
** (after the gate's), boxed or not; it may fail, and then so does every
** future that needs it.
*/
typedef struct lfut {
  int nargs;
  int args[2];
  int boxed, fails, tainted, spin_us;
  uint64_t expect;
  atomic_int calls, code; /* what its callback saw */
} lfut;

static lfut *g_lf;
static atomic_long g_lf_runs, g_lf_bad;

static int t_lfut(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  lfut *me = dusk_task_udata(t);
  long i = me - g_lf;
  atomic_fetch_add(&g_lf_runs, 1);
  uint64_t h = tu_mix64((uint64_t)i);
  int first = nargs - me->nargs; /* the gate, when there is one */
  for (int k = first; k < nargs; k++) {
    uint64_t v = (uint64_t)tu_get(&args[k]);
    if (v != g_lf[me->args[k - first]].expect)
      atomic_fetch_add(&g_lf_bad, 1);
    h = tu_mix64(h ^ v);
  }
  if (me->spin_us) {
    double end = tu_now_ms() + me->spin_us / 1e3;
    while (tu_now_ms() < end)
      ;
  }
  if (me->fails)
    return dusk_fail(t, "future %ld fails", i);
  *out = me->boxed ? tu_box_new((int64_t)(h >> 1)) : dusk_i64((int64_t)(h >> 1));
  return 0;
}

/* n futures, each needing up to two earlier ones (close by half the
   time), every fail_every-th failing (0: none); references computed. */
static lfut *lfut_gen(long n, uint64_t seed, long fail_every) {
  lfut *lf = calloc((size_t)n, sizeof *lf);
  ck_assert_ptr_nonnull(lf);
  uint64_t rs = seed;
  for (long i = 0; i < n; i++) {
    lfut *f = &lf[i];
    f->nargs = i == 0 ? 0 : tu_rand_below(&rs, 3);
    f->boxed = tu_rand_below(&rs, 4) == 0;
    f->fails = fail_every && tu_rand_below(&rs, (int)fail_every) == 0;
    f->tainted = f->fails;
    uint64_t h = tu_mix64((uint64_t)i);
    for (int k = 0; k < f->nargs; k++) {
      long a = tu_rand_below(&rs, 2) ? i - 1 - tu_rand_below(&rs, i < 64 ? (int)i : 64)
                                     : tu_rand_below(&rs, (int)i);
      f->args[k] = (int)a;
      f->tainted |= lf[a].tainted;
      h = tu_mix64(h ^ lf[a].expect);
    }
    f->expect = h >> 1;
  }
  return lf;
}

/* Submit future i of the crowd, after the gate when there is one. */
static dusk_node *lfut_submit(dusk_graph *g, dusk_node *const *fut,
                              dusk_node *gate, long i) {
  dusk_node *args[3];
  int k = 0;
  if (gate != NULL)
    args[k++] = gate;
  for (int j = 0; j < g_lf[i].nargs; j++)
    args[k++] = fut[g_lf[i].args[j]];
  return dusk_submit(g, t_lfut, &g_lf[i], k, args);
}

/* A crowd of n futures on a pool of 4, all behind one shut gate. */
typedef struct crowd {
  long n;
  uint64_t seed;
  dusk_pool *p;
  dusk_graph *g;
  dusk_node *gate;
  dusk_node **fut;
} crowd;

static void lfut_done(dusk_node *n, int code, void *udata);

/* Make the crowd's references, pool, graph and gate; submit every future
   (with a callback each when asked); nothing can run yet. */
static void crowd_submit(crowd *c, long n, uint64_t seed, long fail_every,
                         int callbacks) {
  c->n = n;
  c->seed = seed;
  tu_reset((size_t)n + 64);
  g_lf = lfut_gen(n, seed, fail_every);
  atomic_store(&g_lf_runs, 0);
  atomic_store(&g_lf_bad, 0);
  atomic_store(&g_gate_open, 0);
  atomic_store(&g_gate_gave_up, 0);
  c->p = tu_pool(4);
  c->g = tu_graph(c->p);
  c->fut = malloc((size_t)n * sizeof *c->fut);
  ck_assert_ptr_nonnull(c->fut);
  c->gate = dusk_submit(c->g, t_gate, NULL, 0, NULL);
  ck_assert_ptr_nonnull(c->gate);
  long refused = 0;
  for (long i = 0; i < n; i++) {
    c->fut[i] = lfut_submit(c->g, c->fut, c->gate, i);
    refused += c->fut[i] == NULL ||
               (callbacks &&
                dusk_on_done(c->fut[i], lfut_done, &g_lf[i]) != DUSK_OK);
  }
  ck_assert_int_eq(refused, 0);
}

/* After the graph is freed: nothing left, nothing wrong; give all back. */
static void crowd_end(crowd *c) {
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.frees), tu_ldl(&tu_st.allocs));
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.dead_reads), 0);
  ck_assert_int_eq(tu_ldl(&g_lf_bad), 0);
  ck_assert_int_eq(atomic_load(&g_gate_gave_up), 0);
  free(c->fut);
  free(g_lf);
  dusk_pool_free(c->p);
  tu_done();
}

static void lfut_done(dusk_node *n, int code, void *udata) {
  (void)n;
  lfut *f = udata;
  atomic_store(&f->code, code);
  atomic_fetch_add(&f->calls, 1);
}

/*
** A hundred thousand futures alive at once: every one needs a gate that
** stays shut until all are submitted, and up to two earlier futures, so
** none can finish before the last is submitted. Then the gate opens; a
** few are collected as they complete (dusk_wait_any), all are got in a
** random order and checked; each ran once; the graph is freed and no
** result is left. With callbacks, every future also has a dusk_on_done()
** and one in a thousand fails: every callback is called once, with
** DUSK_OK or DUSK_ETASK as the reference says, and so is every get.
*/
static void live_futures(int with_callbacks) {
  crowd c;
  double t0 = tu_now_ms();
  crowd_submit(&c, tu_scaled(100000, 5000), seed_from_env(0x11fe5eedULL),
               with_callbacks ? 1000 : 0, with_callbacks);
  long n = c.n;
  dusk_node **fut = c.fut;
  double t1 = tu_now_ms();
  /* All alive: none ran, each waits (for the gate, or for its arguments). */
  ck_assert_int_eq(tu_ldl(&g_lf_runs), 0);
  long waiting = 0;
  for (long i = 0; i < n; i++)
    waiting += dusk_status(fut[i]) == DUSK_WAITING;
  ck_assert_int_eq(waiting, n);
  long rss_alive = tu_maxrss_kb();
  atomic_store(&g_gate_open, 1);
  /* A few as they complete, then all, in a random order. */
  dusk_node *few[8];
  for (int k = 0; k < 8; k++)
    few[k] = fut[n - 1 - k * (n / 8)];
  for (int left = 8; left > 0; left--) {
    int k = dusk_wait_any(few, left, -1);
    ck_assert_msg(k >= 0 && k < left, "wait_any gave %d", k);
    few[k] = few[left - 1];
  }
  uint64_t rs = c.seed ^ 0x5a5a;
  long *order = malloc((size_t)n * sizeof *order);
  ck_assert_ptr_nonnull(order);
  for (long i = 0; i < n; i++)
    order[i] = i;
  for (long i = n - 1; i > 0; i--) {
    long j = tu_rand_below(&rs, (int)(i + 1));
    long x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  long wrong = 0, first_wrong = -1;
  for (long k = 0; k < n; k++) {
    long i = order[k];
    dusk_value v = dusk_i64(-1);
    int rc = dusk_get(fut[i], &v);
    int ok = g_lf[i].tainted
                 ? rc == DUSK_ETASK && v.kind == DUSK_NONE
                 : rc == DUSK_OK &&
                       v.kind == (g_lf[i].boxed ? DUSK_PTR : DUSK_I64) &&
                       (uint64_t)tu_get(&v) == g_lf[i].expect;
    if (!ok && wrong++ == 0)
      first_wrong = i;
  }
  double t2 = tu_now_ms();
  ck_assert_msg(wrong == 0, "seed 0x%" PRIx64 ": %ld futures wrong, first %ld",
                c.seed, wrong, first_wrong);
  long ran = 0, tainted = 0, failing = 0;
  for (long i = 0; i < n; i++) { /* a task runs when its arguments did */
    int args_ok = 1;
    for (int k = 0; k < g_lf[i].nargs; k++)
      args_ok &= !g_lf[g_lf[i].args[k]].tainted;
    ran += args_ok;
    tainted += g_lf[i].tainted;
    failing += g_lf[i].fails;
  }
  ck_assert_int_eq(tu_ldl(&g_lf_runs), ran); /* each once; none downstream
                                                 of a failure */
  if (with_callbacks) /* all called by now: each future finished */
    for (long i = 0; i < n; i++)
      ck_assert_msg(tu_ldi(&g_lf[i].calls) == 1 &&
                        tu_ldi(&g_lf[i].code) ==
                            (g_lf[i].tainted ? DUSK_ETASK : DUSK_OK),
                    "future %ld: %d calls, code %d", i,
                    tu_ldi(&g_lf[i].calls), tu_ldi(&g_lf[i].code));
  long rss = tu_maxrss_kb();
  dusk_graph_free(c.g);
  double t3 = tu_now_ms();
  printf("stress: live_futures%s: %ld futures alive at once (seed 0x%" PRIx64
         "; %ld fail, %ld need a failure): submit %.0f ms, run and get "
         "%.0f ms, free %.0f ms; peak RSS %ld MiB with all waiting, %ld MiB "
         "in all\n",
         with_callbacks ? " with callbacks" : "", n, c.seed, failing, tainted,
         t1 - t0, t2 - t1, t3 - t2, rss_alive / 1024, rss / 1024);
  if (!TU_SANITIZED && tu_scale() == 1.0) {
    /* A live future holds its node and a small compute record: 2 KiB a
       future and 64 MiB in all (it took 5 KiB before the record shrank). */
    long bound_kb = n * 2 + 64 * 1024;
    ck_assert_msg(rss_alive <= bound_kb, "peak RSS %ld KiB > %ld KiB",
                  rss_alive, bound_kb);
  }
  free(order);
  crowd_end(&c);
}

START_TEST(test_live_futures_100k) { live_futures(0); }
END_TEST

START_TEST(test_live_futures_100k_callbacks) { live_futures(1); }
END_TEST

/*
** The graph freed while tens of thousands of futures run: they wait behind
** a gate, each spins a little when it runs, and each has a callback; lazy
** nodes that no one starts have callbacks too. The gate opens and the
** graph is freed at once: dusk_graph_free() waits for every started future
** to finish (each ran once, its callback said DUSK_OK), calls the lazy
** nodes' callbacks with DUSK_ECANCELED, and leaves no result.
*/
START_TEST(test_graph_free_while_futures_run) {
  long lazy = 100;
  crowd c;
  crowd_submit(&c, tu_scaled(20000, 2000), seed_from_env(0xf5eef5eeULL), 0,
               1);
  for (long i = 0; i < c.n; i++) /* each runs a little while */
    g_lf[i].spin_us = 2 + (int)(i % 7);
  lfut *lz = calloc((size_t)lazy, sizeof *lz);
  ck_assert_ptr_nonnull(lz);
  long refused = 0;
  for (long i = 0; i < lazy; i++) {
    dusk_node *z = dusk_call(c.g, t_lfut, &g_lf[i], 0, NULL);
    refused += z == NULL || dusk_on_done(z, lfut_done, &lz[i]) != DUSK_OK;
  }
  ck_assert_int_eq(refused, 0);
  atomic_store(&g_gate_open, 1);
  double t0 = tu_now_ms();
  long ran_at_free = tu_ldl(&g_lf_runs);
  dusk_graph_free(c.g);
  double t1 = tu_now_ms();
  ck_assert_int_eq(tu_ldl(&g_lf_runs), c.n); /* all ran; the lazy ones not */
  for (long i = 0; i < c.n; i++)
    ck_assert_msg(tu_ldi(&g_lf[i].calls) == 1 &&
                      tu_ldi(&g_lf[i].code) == DUSK_OK,
                  "future %ld: %d calls, code %d", i, tu_ldi(&g_lf[i].calls),
                  tu_ldi(&g_lf[i].code));
  for (long i = 0; i < lazy; i++)
    ck_assert_msg(tu_ldi(&lz[i].calls) == 1 &&
                      tu_ldi(&lz[i].code) == DUSK_ECANCELED,
                  "lazy node %ld: %d calls, code %d", i, tu_ldi(&lz[i].calls),
                  tu_ldi(&lz[i].code));
  printf("stress: free_while_futures_run: %ld futures, %ld of them had run "
         "when the free began, which took %.0f ms; peak RSS %ld MiB\n",
         c.n, ran_at_free, t1 - t0, tu_maxrss_kb() / 1024);
  free(lz);
  crowd_end(&c);
}
END_TEST

/* ====================================================== suite */

static Suite *stress_suite(void) {
  Suite *s = suite_create("stress");
  double timeout = TU_SANITIZED ? 900 : 300;
  TCase *tc;

  tc = tcase_create("ten_million");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_ten_million_tree);
  suite_add_tcase(s, tc);

  tc = tcase_create("chain_nested");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_chain_nested_every_1000th);
  suite_add_tcase(s, tc);

  tc = tcase_create("pool_cycles");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_pool_cycles);
  suite_add_tcase(s, tc);

  tc = tcase_create("eight_threads");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_eight_threads_overlapping_targets);
  suite_add_tcase(s, tc);

  tc = tcase_create("eight_threads_failures");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_eight_threads_failures_retried_refs_intact);
  suite_add_tcase(s, tc);

  tc = tcase_create("pool_free");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_pool_free_right_after_compute);
  tcase_add_test(tc, test_pool_free_graph_freed_while_other_queued);
  suite_add_tcase(s, tc);

  tc = tcase_create("live_futures");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_live_futures_100k);
  suite_add_tcase(s, tc);

  tc = tcase_create("live_futures_callbacks");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_live_futures_100k_callbacks);
  suite_add_tcase(s, tc);

  tc = tcase_create("free_while_futures_run");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_graph_free_while_futures_run);
  suite_add_tcase(s, tc);

  tc = tcase_create("nested_deep");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_nested_deep_twenty_levels_one_thread);
  suite_add_tcase(s, tc);

  return s;
}

TU_MAIN(stress_suite)
