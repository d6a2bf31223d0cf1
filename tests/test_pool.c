/*
** The pool alone, with plain items: each item runs once, work pushed to an
** idle pool wakes it, an idle pool uses no CPU, a waiting worker helps, and
** pools come and go cleanly.
*/
#include "scheduler/sched.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* An item: a counter slot and, optionally, children to push from the worker. */
typedef struct job {
  atomic_int runs;
  int children; /* push this many fresh jobs from inside the worker */
  struct job *kids;
} job;

static dusk__pool *current_pool;
static atomic_long total_runs;

static void run_job(void *x) {
  job *j = x;
  if (!j) /* the pool says a worker ran dry */
    return;
  atomic_fetch_add(&j->runs, 1);
  atomic_fetch_add(&total_runs, 1);
  for (int i = 0; i < j->children; i++)
    dusk__pool_push(current_pool, &j->kids[i]);
}

static dusk__pool *make_pool(int n) {
  int err = 0;
  dusk__pool *p = dusk__pool_new(n, run_job, &err);
  ck_assert_ptr_nonnull(p);
  current_pool = p;
  return p;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait until total_runs reaches n, failing after a generous timeout. */
static void await_runs(long n) {
  double t0 = now();
  while (atomic_load(&total_runs) < n) {
    ck_assert_msg(now() - t0 < 30, "only %ld of %ld items ran",
                  atomic_load(&total_runs), n);
    usleep(200);
  }
}

START_TEST(test_run_each_item_once) {
  for (int threads = 1; threads <= 4; threads++) {
    atomic_store(&total_runs, 0);
    dusk__pool *p = make_pool(threads);
    enum { N = 20000 };
    job *jobs = calloc(N, sizeof *jobs);
    for (int i = 0; i < N / 2; i++) /* one at a time from outside */
      ck_assert_int_eq(dusk__pool_push(p, &jobs[i]), 0);
    void **many = malloc(N / 2 * sizeof *many);
    for (int i = 0; i < N / 2; i++)
      many[i] = &jobs[N / 2 + i];
    ck_assert_int_eq(dusk__pool_push_many(p, many, N / 2), 0);
    await_runs(N);
    dusk__pool_free(p);
    for (int i = 0; i < N; i++)
      ck_assert_int_eq(atomic_load(&jobs[i].runs), 1);
    ck_assert_int_eq(atomic_load(&total_runs), N);
    free(many);
    free(jobs);
  }
}
END_TEST

/* Items as run, in order, by a pool of run_logged. */
enum { N_LOGGED = 3000 };
static void *logged[N_LOGGED];
static atomic_int nlogged;

static void run_logged(void *x) {
  if (!x) /* the worker ran dry */
    return;
  int k = atomic_fetch_add(&nlogged, 1);
  if (k < N_LOGGED)
    logged[k] = x;
}

/*
** Items handed over from outside run in the order given on one worker,
** both ways (copied into the inbox, lent as a batch): a worker takes a
** chunk of the inbox at a time, and pushing it onto its deque first to
** last ran each chunk backwards (the deque pops what came last). A compute
** hands its ready tasks over in the order they were built, which is often
** the order their data lies in.
*/
START_TEST(test_run_inbox_order_kept_on_one_worker) {
  static char items[N_LOGGED];
  void **v = malloc(N_LOGGED * sizeof *v);
  for (int i = 0; i < N_LOGGED; i++)
    v[i] = &items[i];
  for (int lent = 0; lent < 2; lent++) {
    atomic_store(&nlogged, 0);
    int err = 0;
    dusk__pool *p = dusk__pool_new(1, run_logged, &err);
    ck_assert_ptr_nonnull(p);
    dusk__batch b = {0};
    if (lent)
      dusk__pool_push_batch(p, &b, v, N_LOGGED);
    else
      ck_assert_int_eq(dusk__pool_push_many(p, v, N_LOGGED), 0);
    dusk__pool_free(p); /* runs what is queued first */
    ck_assert_int_eq(atomic_load(&nlogged), N_LOGGED);
    int first_out = -1;
    for (int i = 0; i < N_LOGGED && first_out < 0; i++)
      if (logged[i] != &items[i])
        first_out = i;
    ck_assert_msg(first_out < 0, "%s: item %d ran at place %d",
                  lent ? "lent" : "copied",
                  first_out < 0 ? 0 : (int)((char *)logged[first_out] - items),
                  first_out);
  }
  free(v);
}
END_TEST

START_TEST(test_run_items_pushed_by_workers) {
  atomic_store(&total_runs, 0);
  dusk__pool *p = make_pool(3);
  enum { ROOTS = 100, KIDS = 100 };
  job *roots = calloc(ROOTS, sizeof *roots);
  job *kids = calloc(ROOTS * KIDS, sizeof *kids);
  for (int i = 0; i < ROOTS; i++) {
    roots[i].children = KIDS;
    roots[i].kids = &kids[i * KIDS];
  }
  for (int i = 0; i < ROOTS; i++)
    dusk__pool_push(p, &roots[i]);
  await_runs(ROOTS + ROOTS * KIDS);
  dusk__pool_free(p);
  for (int i = 0; i < ROOTS * KIDS; i++)
    ck_assert_int_eq(atomic_load(&kids[i].runs), 1);
  dusk__pool_stats st;
  free(roots);
  free(kids);
  (void)st;
}
END_TEST

START_TEST(test_run_free_runs_what_is_queued) {
  atomic_store(&total_runs, 0);
  dusk__pool *p = make_pool(2);
  enum { N = 5000 };
  job *jobs = calloc(N, sizeof *jobs);
  for (int i = 0; i < N; i++)
    dusk__pool_push(p, &jobs[i]);
  dusk__pool_free(p); /* no wait before: free must still run them all */
  ck_assert_int_eq(atomic_load(&total_runs), N);
  free(jobs);
}
END_TEST

/* ---------------------------------------------------------- sleep/wake */

START_TEST(test_wake_after_idle) {
  atomic_store(&total_runs, 0);
  dusk__pool *p = make_pool(2);
  job jobs[50] = {0};
  for (int round = 0; round < 50; round++) {
    usleep(2000 + (round % 5) * 3000); /* let the workers spin out and park */
    dusk__pool_push(p, &jobs[round]);
    await_runs(round + 1); /* a lost wake-up would time out here */
  }
  dusk__pool_stats st;
  dusk__pool_get_stats(p, &st);
  /* They did sleep in between. On a loaded machine (a sanitizer build
     beside other tests) spinning out can outlast those pauses: longer
     ones then, up to two seconds in all. */
  job more[20] = {0};
  for (int k = 0; k < 20 && st.parks == 0; k++) {
    usleep(100000);
    dusk__pool_push(p, &more[k]);
    await_runs(50 + k + 1);
    dusk__pool_get_stats(p, &st);
  }
  ck_assert_uint_gt(st.parks, 0);
  dusk__pool_free(p);
}
END_TEST

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

START_TEST(test_wake_idle_pool_uses_no_cpu) {
  atomic_store(&total_runs, 0);
  dusk__pool *p = make_pool(2);
  job j = {0};
  dusk__pool_push(p, &j);
  await_runs(1);
  usleep(100000); /* past the spinning phase */
  double c0 = cpu_seconds(), t0 = now();
  usleep(500000);
  double used = cpu_seconds() - c0, wall = now() - t0;
  /* Two spinning workers would use about 2 * wall. */
  ck_assert_msg(used < 0.02 * wall + 0.01, "idle pool used %.3f s CPU in %.3f s",
                used, wall);
  dusk__pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------- help */

static atomic_int flag;
static atomic_int helper_done;
static job helped[200];

static int flag_set(void *arg) { return atomic_load((atomic_int *)arg); }

/* A job that waits for `flag` by helping; the flag is set by another job it
   pushes itself, so on one thread it completes only if help runs work. */
static void setter_run(void *x);
static job setter;

static void run_help(void *x) {
  if (!x)
    return;
  if (x == &setter) {
    setter_run(x);
    return;
  }
  if (x == (void *)&flag) {
    for (int i = 0; i < 200; i++)
      dusk__pool_push(current_pool, &helped[i]);
    dusk__pool_push(current_pool, &setter);
    dusk__pool_help(current_pool, flag_set, &flag);
    atomic_store(&helper_done, 1);
    return;
  }
  run_job(x);
}

static void setter_run(void *x) {
  (void)x;
  atomic_store(&flag, 1);
  dusk__pool_notify(current_pool);
}

START_TEST(test_help_runs_other_work_on_one_thread) {
  for (int threads = 1; threads <= 2; threads++) {
    atomic_store(&flag, 0);
    atomic_store(&helper_done, 0);
    atomic_store(&total_runs, 0);
    for (int i = 0; i < 200; i++)
      atomic_store(&helped[i].runs, 0);
    int err = 0;
    dusk__pool *p = dusk__pool_new(threads, run_help, &err);
    current_pool = p;
    dusk__pool_push(p, (void *)&flag);
    double t0 = now();
    while (!atomic_load(&helper_done))
      ck_assert_msg(now() - t0 < 30, "help never returned"), usleep(500);
    await_runs(200);
    dusk__pool_free(p);
    for (int i = 0; i < 200; i++)
      ck_assert_int_eq(atomic_load(&helped[i].runs), 1);
  }
}
END_TEST

START_TEST(test_help_worker_index) {
  int err = 0;
  dusk__pool *p = dusk__pool_new(2, run_job, &err);
  ck_assert_int_eq(dusk__pool_worker(p), -1); /* not from the test thread */
  ck_assert_int_eq(dusk__pool_size(p), 2);
  dusk__pool_free(p);
}
END_TEST

/* ----------------------------------------------------------- lifecycle */

START_TEST(test_lifecycle_create_free_many_times) {
  for (int i = 0; i < 200; i++) {
    atomic_store(&total_runs, 0);
    dusk__pool *p = make_pool(1 + i % 4);
    job j = {0};
    if (i % 2)
      dusk__pool_push(p, &j);
    dusk__pool_free(p);
    ck_assert_int_eq(atomic_load(&total_runs), i % 2);
  }
}
END_TEST

static Suite *pool_suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("run");
  tcase_add_test(tc, test_run_each_item_once);
  tcase_add_test(tc, test_run_inbox_order_kept_on_one_worker);
  tcase_add_test(tc, test_run_items_pushed_by_workers);
  tcase_add_test(tc, test_run_free_runs_what_is_queued);
  suite_add_tcase(s, tc);
  tc = tcase_create("wake");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_wake_after_idle);
  tcase_add_test(tc, test_wake_idle_pool_uses_no_cpu);
  suite_add_tcase(s, tc);
  tc = tcase_create("help");
  tcase_add_test(tc, test_help_runs_other_work_on_one_thread);
  tcase_add_test(tc, test_help_worker_index);
  suite_add_tcase(s, tc);
  tc = tcase_create("lifecycle");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_lifecycle_create_free_many_times);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(pool_suite)
