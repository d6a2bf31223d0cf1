/*
** The Chase-Lev deque alone: order, growth, and the owner/thief races, with
** every item accounted for exactly once.
*/
#include "scheduler/sched.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#ifdef DUSK_TEST_SANITIZED
enum { RACE_ITEMS = 5000, RACE_ROUNDS = 3 };
#else
enum { RACE_ITEMS = 50000, RACE_ROUNDS = 6 };
#endif

static void *item(long i) { return (void *)(intptr_t)(16 * (i + 1)); }
static long index_of(void *x) { return (long)((intptr_t)x / 16 - 1); }

START_TEST(test_order_lifo_for_owner_fifo_for_thief) {
  dusk__deque q;
  ck_assert_int_eq(dusk__deque_init(&q, 16), 0);
  for (long i = 0; i < 5; i++)
    ck_assert_int_eq(dusk__deque_push(&q, item(i)), 0);
  ck_assert_int_eq(dusk__deque_size(&q), 5);
  ck_assert_ptr_eq(dusk__deque_steal(&q), item(0)); /* oldest */
  ck_assert_ptr_eq(dusk__deque_pop(&q), item(4));   /* newest */
  ck_assert_ptr_eq(dusk__deque_pop(&q), item(3));
  ck_assert_ptr_eq(dusk__deque_steal(&q), item(1));
  ck_assert_ptr_eq(dusk__deque_pop(&q), item(2));
  ck_assert_ptr_null(dusk__deque_pop(&q));
  ck_assert_ptr_eq(dusk__deque_steal(&q), DUSK__STEAL_EMPTY);
  ck_assert_int_eq(dusk__deque_size(&q), 0);
  dusk__deque_destroy(&q);
}
END_TEST

START_TEST(test_order_growth_keeps_every_item) {
  dusk__deque q;
  ck_assert_int_eq(dusk__deque_init(&q, 1), 0);
  /* Interleave steals so the live window wraps around the ring as it grows. */
  long stolen = 0;
  for (long i = 0; i < 10000; i++) {
    ck_assert_int_eq(dusk__deque_push(&q, item(i)), 0);
    if (i % 3 == 0) {
      ck_assert_ptr_eq(dusk__deque_steal(&q), item(stolen));
      stolen++;
    }
  }
  for (long i = 9999; i >= stolen; i--)
    ck_assert_ptr_eq(dusk__deque_pop(&q), item(i));
  ck_assert_ptr_null(dusk__deque_pop(&q));
  dusk__deque_destroy(&q);
}
END_TEST

/* The owner alone (no thieves): a stack, through growth and back to empty
   many times, and empty pops leave it usable. */
START_TEST(test_order_alone_is_a_stack) {
  dusk__deque q;
  ck_assert_int_eq(dusk__deque_init(&q, 2), 0);
  for (int round = 0; round < 3; round++) {
    ck_assert_ptr_null(dusk__deque_pop_alone(&q));
    for (long i = 0; i < 1000; i++) {
      ck_assert_int_eq(dusk__deque_push(&q, item(i)), 0);
      if (i % 4 == 3) /* pop one of every four as we go */
        ck_assert_ptr_eq(dusk__deque_pop_alone(&q), item(i));
    }
    ck_assert_int_eq(dusk__deque_size(&q), 750);
    for (long i = 999; i >= 0; i--)
      if (i % 4 != 3)
        ck_assert_ptr_eq(dusk__deque_pop_alone(&q), item(i));
    ck_assert_ptr_null(dusk__deque_pop_alone(&q));
    ck_assert_int_eq(dusk__deque_size(&q), 0);
  }
  dusk__deque_destroy(&q);
}
END_TEST

/* ------------------------------------------------------------ races */

typedef struct race {
  dusk__deque q;
  atomic_int *seen; /* how often each item was taken */
  atomic_int stop;
  atomic_long taken;
} race;

static void take(race *r, void *x) {
  atomic_fetch_add(&r->seen[index_of(x)], 1);
  atomic_fetch_add(&r->taken, 1);
}

static void *thief(void *arg) {
  race *r = arg;
  while (!atomic_load(&r->stop)) {
    void *x = dusk__deque_steal(&r->q);
    if (x != DUSK__STEAL_EMPTY && x != DUSK__STEAL_RETRY)
      take(r, x);
  }
  for (;;) { /* drain what is left after the owner stopped */
    void *x = dusk__deque_steal(&r->q);
    if (x == DUSK__STEAL_EMPTY)
      break;
    if (x != DUSK__STEAL_RETRY)
      take(r, x);
  }
  return NULL;
}

/* The owner pushes in bursts and pops some back while three thieves steal:
   every item must be taken exactly once, including the contested last ones. */
static void run_race(int burst) {
  race r;
  ck_assert_int_eq(dusk__deque_init(&r.q, 2), 0); /* small: it must grow */
  r.seen = calloc(RACE_ITEMS, sizeof *r.seen);
  ck_assert_ptr_nonnull(r.seen);
  atomic_init(&r.stop, 0);
  atomic_init(&r.taken, 0);
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, thief, &r);
  long next = 0;
  while (next < RACE_ITEMS) {
    for (int i = 0; i < burst && next < RACE_ITEMS; i++)
      ck_assert_int_eq(dusk__deque_push(&r.q, item(next++)), 0);
    for (int i = 0; i < burst / 2; i++) {
      void *x = dusk__deque_pop(&r.q);
      if (x)
        take(&r, x);
    }
  }
  for (void *x; (x = dusk__deque_pop(&r.q));)
    take(&r, x);
  atomic_store(&r.stop, 1);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  ck_assert_int_eq(atomic_load(&r.taken), RACE_ITEMS);
  for (long i = 0; i < RACE_ITEMS; i++)
    ck_assert_msg(atomic_load(&r.seen[i]) == 1, "item %ld taken %d times", i,
                  atomic_load(&r.seen[i]));
  free(r.seen);
  dusk__deque_destroy(&r.q);
}

START_TEST(test_race_each_item_taken_once) {
  for (int round = 0; round < RACE_ROUNDS; round++)
    run_race(1 + round % 4); /* bursts of 1..4: the deque is mostly near empty */
}
END_TEST

START_TEST(test_race_growth_under_steals) {
  for (int round = 0; round < RACE_ROUNDS; round++)
    run_race(500 + 100 * round); /* large bursts: growth while stealing */
}
END_TEST

static Suite *deque_suite(void) {
  Suite *s = suite_create("deque");
  TCase *tc = tcase_create("order");
  tcase_add_test(tc, test_order_lifo_for_owner_fifo_for_thief);
  tcase_add_test(tc, test_order_growth_keeps_every_item);
  tcase_add_test(tc, test_order_alone_is_a_stack);
  suite_add_tcase(s, tc);
  tc = tcase_create("race");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_race_each_item_taken_once);
  tcase_add_test(tc, test_race_growth_under_steals);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(deque_suite)
