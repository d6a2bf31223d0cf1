/*
** The graph alone: node storage, argument edges, names, values, and
** building from several threads at once. Nothing is computed here.
*/
#include "graph/graph.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int noop(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n, (void)out;
  return 0;
}

static int other(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n, (void)out;
  return 0;
}

START_TEST(test_storage_nodes_are_one_cache_line) {
  ck_assert_uint_eq(sizeof(struct dusk_node), 64);
  dusk_graph *g = dusk_graph_new();
  dusk_node *a = dusk_delayed(g, noop);
  ck_assert_uint_eq((uintptr_t)a % 64, 0);
  dusk_graph_free(g);
}
END_TEST

START_TEST(test_storage_ids_graph_and_size) {
  dusk_graph *g = dusk_graph_new(), *h = dusk_graph_new();
  enum { N = 5000 }; /* spans small chunks and slabs */
  dusk_node **v = malloc(N * sizeof *v);
  for (int i = 0; i < N; i++) {
    v[i] = dusk_delayed(g, noop);
    ck_assert_ptr_nonnull(v[i]);
    ck_assert_ptr_eq(dusk_node_graph(v[i]), g);
    if (i)
      ck_assert_uint_gt(dusk_node_id(v[i]), dusk_node_id(v[i - 1]));
  }
  dusk_node *x = dusk_delayed(h, noop);
  ck_assert_ptr_eq(dusk_node_graph(x), h);
  ck_assert_uint_eq(dusk_graph_size(g), N);
  ck_assert_uint_eq(dusk_graph_size(h), 1);
  free(v);
  dusk_graph_free(g);
  dusk_graph_free(h);
}
END_TEST

START_TEST(test_storage_arguments_recorded_in_order) {
  dusk_graph *g = dusk_graph_new();
  dusk_node *a = dusk_literal(g, dusk_i64(1)), *b = dusk_delayed(g, noop);
  dusk_node *one = dusk_delayed(g, noop, a);
  dusk_node *three = dusk_delayed(g, noop, b, a, b);
  ck_assert_int_eq(one->nargs, 1);
  ck_assert_ptr_eq(dusk__args(one)[0], a);
  ck_assert_int_eq(three->nargs, 3);
  ck_assert_ptr_eq(dusk__args(three)[0], b);
  ck_assert_ptr_eq(dusk__args(three)[1], a);
  ck_assert_ptr_eq(dusk__args(three)[2], b);
  dusk_node *wide[100];
  for (int i = 0; i < 100; i++)
    wide[i] = i % 2 ? a : b;
  dusk_node *w = dusk_call(g, noop, NULL, 100, wide);
  wide[0] = NULL; /* the array was copied */
  ck_assert_ptr_eq(dusk__args(w)[0], b);
  ck_assert_ptr_eq(dusk__args(w)[99], a);
  dusk_graph_free(g);
}
END_TEST

START_TEST(test_storage_graphs_alternate_on_one_thread) {
  /* Building on two graphs in turn must not waste a chunk per switch. */
  dusk_graph *g = dusk_graph_new(), *h = dusk_graph_new();
  for (int i = 0; i < 10000; i++) {
    ck_assert_ptr_nonnull(dusk_delayed(g, noop));
    ck_assert_ptr_nonnull(dusk_delayed(h, noop));
  }
  int chunks = 0;
  for (dusk__chunk *c = g->chunks; c; c = c->next)
    chunks++;
  ck_assert_int_le(chunks, 10000 / DUSK__CHUNK_NODES + 2);
  dusk_graph_free(g);
  dusk_graph_free(h);
}
END_TEST

/* ----------------------------------------------------------------- names */

START_TEST(test_names_from_function_and_set_name) {
  dusk_graph *g = dusk_graph_new();
  dusk_node *a = dusk_delayed(g, noop), *b = dusk_delayed(g, other, a);
  dusk_node *c = dusk_call(g, noop, NULL, 0, NULL);
  dusk_node *d = dusk_call(g, other, NULL, 0, NULL);
  dusk_node *lit = dusk_literal(g, dusk_i64(3));
  ck_assert_str_eq(dusk_name(a), "noop");
  ck_assert_str_eq(dusk_name(b), "other");
  ck_assert_str_eq(dusk_name(c), "call"); /* dusk_call() gives no name */
  ck_assert_str_eq(dusk_name(d), "call");
  ck_assert_str_eq(dusk_name(lit), "literal");
  dusk_set_name(a, "load-%d", 17);
  ck_assert_str_eq(dusk_name(a), "load-17");
  ck_assert_str_eq(dusk_name(b), "other"); /* others keep theirs */
  dusk_set_name(a, "%s", "again");
  ck_assert_str_eq(dusk_name(a), "again");
  dusk_set_name(lit, "x");
  ck_assert_str_eq(dusk_name(lit), "x");
  dusk_set_name(NULL, "ignored");
  dusk_graph_free(g);
}
END_TEST

START_TEST(test_names_same_function_two_names) {
  dusk_graph *g = dusk_graph_new();
  dusk_node *a = dusk_call_named(g, "first", noop, NULL, 0, NULL);
  dusk_node *b = dusk_call_named(g, "second", noop, NULL, 0, NULL);
  ck_assert_str_eq(dusk_name(a), "first");
  ck_assert_str_eq(dusk_name(b), "second");
  dusk_node *c = dusk_call(g, other, NULL, 0, NULL);
  ck_assert_str_eq(dusk_name(c), "call");
  dusk_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- values */

static atomic_int freed;
static void count_free(void *p) {
  free(p);
  atomic_fetch_add(&freed, 1);
}

START_TEST(test_values_round_trip_and_free_once) {
  atomic_store(&freed, 0);
  dusk_graph *g = dusk_graph_new();
  dusk_node *i = dusk_literal(g, dusk_i64(-5));
  dusk_node *f = dusk_literal(g, dusk_f64(2.5));
  int *mem = malloc(sizeof *mem);
  dusk_node *p = dusk_literal(g, dusk_ptr(mem, sizeof *mem, count_free));
  dusk_node *raw = dusk_literal(g, dusk_ptr(&freed, 0, NULL));
  dusk_value v = dusk__node_value(i);
  ck_assert_int_eq(v.kind, DUSK_I64);
  ck_assert_int_eq(v.i64, -5);
  v = dusk__node_value(f);
  ck_assert_int_eq(v.kind, DUSK_F64);
  ck_assert(v.f64 == 2.5);
  v = dusk__node_value(p);
  ck_assert_int_eq(v.kind, DUSK_PTR);
  ck_assert_ptr_eq(v.ptr, mem);
  ck_assert_uint_eq(v.size, sizeof *mem);
  ck_assert(v.free == count_free);
  v = dusk__node_value(raw);
  ck_assert_ptr_eq(v.ptr, &freed);
  ck_assert(v.free == NULL);
  dusk_graph_free(g);
  ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

/* The library's external definitions, called through pointers the
   compiler cannot see through, make the values the inline ones make. */
static dusk_value (*volatile make_i64)(int64_t) = dusk_i64;
static dusk_value (*volatile make_f64)(double) = dusk_f64;
static dusk_value (*volatile make_ptr)(void *, size_t,
                                       void (*)(void *)) = dusk_ptr;

static void same_value(dusk_value a, dusk_value b) {
  ck_assert_int_eq(a.kind, b.kind);
  ck_assert(a.i64 == b.i64);
  ck_assert_uint_eq(a.size, b.size);
  ck_assert(a.free == b.free);
}

START_TEST(test_values_exported_constructors_match) {
  int x = 0;
  same_value(make_i64(-7), dusk_i64(-7));
  ck_assert_int_eq(make_i64(INT64_MIN).i64, INT64_MIN);
  same_value(make_f64(-0.25), dusk_f64(-0.25));
  ck_assert(make_f64(-0.25).f64 == -0.25);
  same_value(make_ptr(&x, sizeof x, count_free),
             dusk_ptr(&x, sizeof x, count_free));
  dusk_value p = make_ptr(&x, 0, NULL);
  ck_assert_int_eq(p.kind, DUSK_PTR);
  ck_assert_ptr_eq(p.ptr, &x);
  ck_assert_uint_eq(p.size, 0);
  ck_assert(p.free == NULL);
  /* and a node hands a task the value it holds, field by field */
  dusk_graph *g = dusk_graph_new();
  int *mem = malloc(sizeof *mem);
  dusk_node *boxed = dusk_literal(g, dusk_ptr(mem, sizeof *mem, count_free));
  dusk_node *plain = dusk_literal(g, dusk_f64(1.5));
  dusk_value v = {.kind = DUSK_NONE};
  dusk__node_value_to(boxed, &v);
  same_value(v, dusk__node_value(boxed));
  ck_assert_ptr_eq(v.ptr, mem);
  dusk__node_value_to(plain, &v);
  same_value(v, dusk_f64(1.5));
  dusk_graph_free(g);
}
END_TEST

START_TEST(test_values_bad_literal_is_released) {
  atomic_store(&freed, 0);
  dusk_graph *g = dusk_graph_new();
  dusk_value bad = dusk_ptr(malloc(4), 4, count_free);
  ck_assert_ptr_null(dusk_literal(NULL, bad));
  ck_assert_int_eq(atomic_load(&freed), 1);
  const char *msg = NULL;
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert_ptr_nonnull(strstr(msg, "NULL"));
  dusk_value weird = {.kind = (dusk_kind)42};
  ck_assert_ptr_null(dusk_literal(g, weird));
  ck_assert_int_eq(dusk_last_error(NULL), DUSK_EINVAL);
  dusk_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------- threads */

enum { BUILDERS = 4, PER_BUILDER = 20000 };
static dusk_graph *shared;
static dusk_node *built[BUILDERS][PER_BUILDER];

static void *builder(void *arg) {
  int k = (int)(intptr_t)arg;
  dusk_node *prev = dusk_literal(shared, dusk_i64(k));
  for (int i = 0; i < PER_BUILDER; i++) {
    prev = built[k][i] = dusk_delayed(shared, noop, prev);
    if (i % 1000 == 0)
      dusk_set_name(prev, "b%d-%d", k, i);
  }
  return NULL;
}

START_TEST(test_threads_build_one_graph_at_once) {
  shared = dusk_graph_new();
  pthread_t th[BUILDERS];
  for (int k = 0; k < BUILDERS; k++)
    pthread_create(&th[k], NULL, builder, (void *)(intptr_t)k);
  for (int k = 0; k < BUILDERS; k++)
    pthread_join(th[k], NULL);
  ck_assert_uint_eq(dusk_graph_size(shared), BUILDERS * (PER_BUILDER + 1));
  /* Every node distinct, with a distinct id, and its argument intact. */
  uint64_t *ids = malloc(BUILDERS * PER_BUILDER * sizeof *ids);
  int n = 0;
  for (int k = 0; k < BUILDERS; k++)
    for (int i = 0; i < PER_BUILDER; i++) {
      dusk_node *x = built[k][i];
      ck_assert_int_eq(x->nargs, 1);
      if (i)
        ck_assert_ptr_eq(dusk__args(x)[0], built[k][i - 1]);
      ids[n++] = dusk_node_id(x);
    }
  /* Counted in a plain loop and asserted once: a check assertion per pair
     (five million) is a message to the runner each, which took seconds. */
  int same = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n && j < i + 64; j++)
      same += ids[i] == ids[j];
  ck_assert_int_eq(same, 0);
  char name[32];
  snprintf(name, sizeof name, "b%d-%d", 2, 3000);
  ck_assert_str_eq(dusk_name(built[2][3000]), name);
  free(ids);
  dusk_graph_free(shared);
}
END_TEST

static Suite *graph_suite(void) {
  Suite *s = suite_create("graph");
  TCase *tc = tcase_create("storage");
  tcase_add_test(tc, test_storage_nodes_are_one_cache_line);
  tcase_add_test(tc, test_storage_ids_graph_and_size);
  tcase_add_test(tc, test_storage_arguments_recorded_in_order);
  tcase_add_test(tc, test_storage_graphs_alternate_on_one_thread);
  suite_add_tcase(s, tc);
  tc = tcase_create("names");
  tcase_add_test(tc, test_names_from_function_and_set_name);
  tcase_add_test(tc, test_names_same_function_two_names);
  suite_add_tcase(s, tc);
  tc = tcase_create("values");
  tcase_add_test(tc, test_values_round_trip_and_free_once);
  tcase_add_test(tc, test_values_bad_literal_is_released);
  tcase_add_test(tc, test_values_exported_constructors_match);
  suite_add_tcase(s, tc);
  tc = tcase_create("threads");
  tcase_add_test(tc, test_threads_build_one_graph_at_once);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(graph_suite)
