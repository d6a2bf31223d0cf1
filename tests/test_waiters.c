/*
** test_waiters: the graph's waiter table across the lives of a node,
** white-box through waiters.c's test hook.
**
** A node lives many times: computed, released (an intermediate, or a
** result given back), computed again. The finisher of one life reads the
** node's WAITERS flag right after it publishes the node's state and then
** tells the waiters; between the two it may be held up (preempted) while
** the node is read, released and taken up by a new compute, whose waiters
** then sit in the same list. The hook holds that finisher at exactly that
** point, so the interleaving that a loaded machine makes once in millions
** of rounds happens every time, in order.
**
** Tasks, the hook and helper threads never assert: they record into
** atomics, and the test thread asserts afterwards.
*/
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "dusk.h"
#include "src/run.h"
#include "testutil.h"

/* A gate, and a task that waits until its gate (udata) is open and counts
   the runs that reached it; its value is 1. */
typedef struct gate {
  atomic_int open, entered;
} gate;

static int t_gated(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)args, (void)nargs;
  gate *gt = dusk_task_udata(t);
  atomic_fetch_add(&gt->entered, 1);
  while (!atomic_load(&gt->open))
    sched_yield();
  *out = dusk_i64(1);
  return 0;
}

/* 1 + the sum of the arguments. */
static int t_sum(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  *out = dusk_i64(tu_sum1(args, nargs));
  return 0;
}

static void count_call(dusk_node *n, int code, void *udata) {
  (void)n, (void)code;
  atomic_fetch_add((atomic_int *)udata, 1);
}

/* The hook: the first notice of held_node waits until the test lets it go. */
static dusk_node *held_node;
static atomic_int notice_held, notice_go;

static void hold_first_notice(dusk_node *n) {
  if (n != held_node || atomic_exchange(&notice_held, 1))
    return;
  while (!atomic_load(&notice_go))
    sched_yield();
}

typedef struct waiter_thread {
  pthread_t thread;
  dusk_node *node;
  atomic_int rc;
} waiter_thread;

static void *wait_node(void *arg) {
  waiter_thread *w = arg;
  atomic_store(&w->rc, dusk_wait(w->node));
  return NULL;
}

/*
** t's first life (t's argument is gated by gt): started, a callback
** counting into *calls put up WAITERS, the gate opened; its finisher is
** held before its notice. Then t is read and given back: no waiter holds
** that life, so t is free for a new one. The gate is closed again.
*/
static void first_life_held(dusk_graph *g, dusk_node *t, gate *gt,
                            atomic_int *calls) {
  held_node = t;
  atomic_store(&notice_held, 0);
  atomic_store(&notice_go, 0);
  dusk__set_notice_hook(hold_first_notice);
  ck_assert_int_eq(dusk_start(g, 1, &t), DUSK_OK);
  ck_assert_int_eq(dusk_on_done(t, count_call, calls), DUSK_OK);
  ck_assert_int_eq(tu_ldi(calls), 0);
  atomic_store(&gt->open, 1);
  while (!atomic_load(&notice_held))
    sched_yield();
  atomic_store(&gt->open, 0);
  ck_assert_int_eq(dusk_wait(t), DUSK_OK);
  dusk_release(t);
  ck_assert_int_eq(dusk_status(t), DUSK_NOT_STARTED);
}

/*
** The finisher of t's first life sees WAITERS (a callback registered while
** t waited) and is held before its notice. Meanwhile t is read, released
** and started again, and a wait registers on that second life, which stays
** gated. The late notice of the first life then goes out: it must answer
** the callback (registered in that life) and leave the second life's wait
** registered, with the flag up for that life's finisher. Telling the wait
** that t finished would have it settle t while t is still claimed, and
** return DUSK_ETASK for a task that never fails.
*/
START_TEST(test_lives_late_notice_leaves_later_waiters) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  gate gt = {0, 0};
  atomic_int calls = 0;
  dusk_node *a = dusk_call(g, t_gated, &gt, 0, NULL);
  dusk_node *t = dusk_call(g, t_sum, NULL, 1, &a);
  first_life_held(g, t, &gt, &calls);

  /* Life 2, gated again, with a wait registered on it: t holds the start's
     keep and the wait's ref. */
  ck_assert_int_eq(dusk_start(g, 1, &t), DUSK_OK);
  waiter_thread w = {.node = t, .rc = 1};
  ck_assert_int_eq(pthread_create(&w.thread, NULL, wait_node, &w), 0);
  while (atomic_load(&t->refs) < 2)
    sched_yield();

  /* The late notice of life 1. */
  atomic_store(&notice_go, 1);
  while (tu_ldi(&calls) == 0)
    sched_yield();
  ck_assert_int_eq(tu_ldi(&calls), 1);
  ck_assert_msg(node_flags(t) & DUSK__WAITERS,
                "the late notice took the second life's waiter");
  ck_assert_int_eq(dusk_status(t), DUSK_WAITING);
  ck_assert_int_eq(tu_ldi(&w.rc), 1); /* still waiting */

  /* Life 2 ends: its own finisher answers the wait. */
  atomic_store(&gt.open, 1);
  pthread_join(w.thread, NULL);
  ck_assert_int_eq(tu_ldi(&w.rc), DUSK_OK);
  dusk_value v;
  ck_assert_int_eq(dusk_take(t, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 2);
  ck_assert_int_eq(tu_ldi(&calls), 1);
  dusk__set_notice_hook(NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

/*
** Callbacks wait for the life they were registered in, or, registered on
** an idle node, for the next one. On one worker: t's first finisher is
** held before its notice; t is read and given back, a callback is put on
** it while idle, t is started again (gated) and a second callback is put
** on that life. The late notice answers only the first life's callback;
** the worker then goes on to the second life's gate, which says the
** notice is over. The other two are called when the second life ends.
*/
START_TEST(test_lives_late_notice_skips_later_callbacks) {
  dusk_pool *p = tu_pool(1);
  dusk_graph *g = tu_graph(p);
  gate gt = {0, 0};
  atomic_int first = 0, idle = 0, second = 0;
  dusk_node *a = dusk_call(g, t_gated, &gt, 0, NULL);
  dusk_node *t = dusk_call(g, t_sum, NULL, 1, &a);
  first_life_held(g, t, &gt, &first);
  ck_assert_int_eq(dusk_on_done(t, count_call, &idle), DUSK_OK);
  ck_assert_int_eq(dusk_start(g, 1, &t), DUSK_OK);
  ck_assert_int_eq(dusk_status(t), DUSK_WAITING);
  ck_assert_int_eq(dusk_on_done(t, count_call, &second), DUSK_OK);

  atomic_store(&notice_go, 1); /* the late notice of the first life */
  while (atomic_load(&gt.entered) < 2)
    sched_yield();
  ck_assert_int_eq(tu_ldi(&first), 1);
  ck_assert_msg(tu_ldi(&idle) == 0 && tu_ldi(&second) == 0,
                "a late notice called callbacks of a later life "
                "(idle %d, second %d)", tu_ldi(&idle), tu_ldi(&second));
  ck_assert_int_eq(dusk_status(t), DUSK_WAITING);

  atomic_store(&gt.open, 1);
  ck_assert_int_eq(dusk_wait(t), DUSK_OK);
  while (tu_ldi(&idle) == 0 || tu_ldi(&second) == 0)
    sched_yield();
  ck_assert_int_eq(tu_ldi(&first), 1);
  ck_assert_int_eq(tu_ldi(&idle), 1);
  ck_assert_int_eq(tu_ldi(&second), 1);
  dusk__set_notice_hook(NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

static Suite *waiters_suite(void) {
  Suite *s = suite_create("waiters");
  TCase *tc = tcase_create("lives");
  tcase_add_test(tc, test_lives_late_notice_leaves_later_waiters);
  tcase_add_test(tc, test_lives_late_notice_skips_later_callbacks);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(waiters_suite)
