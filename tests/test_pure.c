/*
** test_pure: pure calls and literals (dusk_call_pure, dusk_delayed_pure,
** dusk_literal_pure), proved through the public API.
**
** One TCase per group of promises: identical pure calls share one node
** whose task runs once; literals count by their contents (integers and
** doubles by bits, sized pointers by bytes, unsized ones by address);
** anything else that differs (function, udata, order, number) makes another
** node, and ordinary calls are never shared; a node found is shared in its
** state (kept, taken, failed and retried, cancelled); names; bad inputs
** refused as dusk_call() refuses them; threads making the same call at once
** get one node; running out of memory builds and remembers nothing; a large
** table (grown by uthash) still finds every node, and is freed with the
** graph (AddressSanitizer's leak check in the sanitizer build).
**
** Tasks count their runs in atomics; the test thread asserts. Pools are
** made inside each test.
*/
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dusk.h"
#include "src/alloc.h"
#include "testutil.h"

/* ====================================================== tasks */

static atomic_int g_runs; /* runs of t_inc and t_pair */

/* 1 + the sum of the arguments, counted. */
static int t_inc(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  atomic_fetch_add(&g_runs, 1);
  *out = dusk_i64(tu_sum1(args, nargs));
  return 0;
}

/* The arguments as decimal digits, in order (1, 2 -> 12), counted. */
static int t_pair(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  atomic_fetch_add(&g_runs, 1);
  int64_t r = 0;
  for (int i = 0; i < nargs; i++)
    r = r * 10 + tu_get(&args[i]);
  *out = dusk_i64(r);
  return 0;
}

/* Fails on its first run, succeeds (42) after; counted. */
static atomic_int g_flaky;
static int t_flaky(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)args, (void)nargs;
  if (atomic_fetch_add(&g_flaky, 1) == 0)
    return dusk_fail(t, "first try");
  *out = dusk_i64(42);
  return 0;
}

/* A malloc'd copy of the text, its bytes the literal's (size with NUL). */
static dusk_value text(const char *s, void (*free_fn)(void *)) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  memcpy(p, s, n);
  return dusk_ptr(p, n, free_fn);
}

static atomic_int g_freed;
static void count_free(void *p) {
  free(p);
  atomic_fetch_add(&g_freed, 1);
}

/* The checked fixture of most TCases: a graph g on a 1-thread pool, and
   the counters at zero. A test that frees g early sets it to NULL. */
static dusk_pool *g_pool;
static dusk_graph *g;

static void setup(void) {
  g_pool = tu_pool(1);
  g = tu_graph(g_pool);
  atomic_store(&g_runs, 0);
  atomic_store(&g_flaky, 0);
  atomic_store(&g_freed, 0);
}

static void teardown(void) {
  dusk_graph_free(g);
  dusk_pool_free(g_pool);
}

/* ====================================================== share */

START_TEST(test_share_identical_calls_one_node_one_run) {
  dusk_node *x = dusk_literal(g, dusk_i64(4));
  dusk_node *a = dusk_call_pure(g, t_inc, NULL, 1, &x);
  dusk_node *b = dusk_call_pure(g, t_inc, NULL, 1, &x);
  dusk_node *c = dusk_delayed_pure(g, t_inc, x);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_eq(a, b);
  ck_assert_ptr_eq(a, c);
  ck_assert_uint_eq(dusk_graph_size(g), 2);
  /* Both holders as arguments of one consumer: still one run of a. */
  dusk_node *sum = dusk_delayed(g, t_inc, a, b, c);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 1 + 3 * 5);
  ck_assert_int_eq(tu_ldi(&g_runs), 2); /* a once, sum once */
  /* Found again after the compute: the same node, and it is not rerun. */
  dusk_node *d = dusk_delayed_pure(g, t_inc, x);
  ck_assert_ptr_eq(d, a);
  ck_assert_int_eq(dusk_compute(g, d, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 5);
  ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&g_runs), 3); /* a ran for its own compute, once */
}
END_TEST

START_TEST(test_share_no_arguments_and_chains) {
  dusk_node *z1 = dusk_delayed_pure(g, t_inc);
  dusk_node *z2 = dusk_call_pure(g, t_inc, NULL, 0, NULL);
  ck_assert_ptr_eq(z1, z2);
  /* Two chains built apart on equal inputs collapse into one. */
  dusk_node *u = dusk_literal(g, dusk_i64(1)),
            *w = dusk_literal(g, dusk_i64(1));
  dusk_node *cu = u, *cw = w;
  for (int i = 0; i < 10; i++) {
    cu = dusk_delayed_pure(g, t_inc, cu, z1);
    cw = dusk_delayed_pure(g, t_inc, cw, z2);
    ck_assert_ptr_eq(cu, cw);
  }
  ck_assert_uint_eq(dusk_graph_size(g), 3 + 10);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, cw, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 1 + 10 * 2);
  ck_assert_int_eq(tu_ldi(&g_runs), 11);
}
END_TEST

START_TEST(test_share_ordinary_calls_never_shared) {
  dusk_node *x = dusk_literal(g, dusk_i64(4));
  dusk_node *a = dusk_call(g, t_inc, NULL, 1, &x);
  dusk_node *b = dusk_call(g, t_inc, NULL, 1, &x);
  dusk_node *c = dusk_delayed(g, t_inc, x);
  ck_assert_ptr_ne(a, b);
  ck_assert_ptr_ne(a, c);
  /* A pure call does not find an ordinary node; it builds its own. */
  dusk_node *d = dusk_call_pure(g, t_inc, NULL, 1, &x);
  ck_assert_ptr_ne(d, a);
  ck_assert_ptr_ne(d, b);
  ck_assert_ptr_ne(d, c);
  ck_assert_uint_eq(dusk_graph_size(g), 5);
  /* And an ordinary call after it is still a new node. */
  ck_assert_ptr_ne(dusk_call(g, t_inc, NULL, 1, &x), d);
  ck_assert_int_eq(dusk_compute_many(g, 4, (dusk_node *[]){a, b, c, d}, NULL),
                   DUSK_OK);
  ck_assert_int_eq(tu_ldi(&g_runs), 4);
}
END_TEST

/* ====================================================== literals */

/* Is f(a) the same pure node as f(b)? Both built on g. */
static int shared(dusk_node *a, dusk_node *b) {
  dusk_node *fa = dusk_delayed_pure(g, t_inc, a);
  dusk_node *fb = dusk_delayed_pure(g, t_inc, b);
  ck_assert_ptr_nonnull(fa);
  ck_assert_ptr_nonnull(fb);
  return fa == fb;
}

START_TEST(test_literals_numbers_by_bits) {
  dusk_node *i5 = dusk_literal(g, dusk_i64(5)),
            *j5 = dusk_literal(g, dusk_i64(5));
  dusk_node *i6 = dusk_literal(g, dusk_i64(6));
  dusk_node *f5 = dusk_literal(g, dusk_f64(5.0)),
            *h5 = dusk_literal(g, dusk_f64(5.0));
  dusk_node *f6 = dusk_literal(g, dusk_f64(6.0));
  dusk_node *zp = dusk_literal(g, dusk_f64(0.0)),
            *zn = dusk_literal(g, dusk_f64(-0.0));
  dusk_node *n1 = dusk_literal(g, dusk_f64(NAN)),
            *n2 = dusk_literal(g, dusk_f64(NAN));
  ck_assert(i5 != j5);
  ck_assert(shared(i5, j5));  /* same contents, two nodes */
  ck_assert(!shared(i5, i6)); /* different values          */
  ck_assert(shared(f5, h5));
  ck_assert(!shared(f5, f6));
  ck_assert(!shared(i5, f5)); /* 5 and 5.0: other kinds    */
  ck_assert(!shared(zp, zn)); /* 0.0 and -0.0: other bits  */
  ck_assert(shared(n1, n2));  /* the same NaN, the same bits */
  dusk_value none = {.kind = DUSK_NONE};
  ck_assert(shared(dusk_literal(g, none), dusk_literal(g, none)));
  ck_assert(!shared(dusk_literal(g, none), i5));
}
END_TEST

START_TEST(test_literals_pointers_by_bytes_or_address) {
  dusk_node *s1 = dusk_literal(g, text("hello", count_free));
  dusk_node *s2 = dusk_literal(g, text("hello", count_free));
  dusk_node *s3 = dusk_literal(g, text("hellp", count_free));
  dusk_node *s4 = dusk_literal(g, text("hell", count_free));
  ck_assert(shared(s1, s2));  /* sized: the same bytes          */
  ck_assert(!shared(s1, s3)); /* one byte differs               */
  ck_assert(!shared(s1, s4)); /* a prefix: another size         */
  /* Unsized: by address. Two buffers of equal bytes are two values; one
     address in two nodes is one. */
  static char b1[] = "same", b2[] = "same";
  dusk_node *u1 = dusk_literal(g, dusk_ptr(b1, 0, NULL));
  dusk_node *u2 = dusk_literal(g, dusk_ptr(b2, 0, NULL));
  dusk_node *u3 = dusk_literal(g, dusk_ptr(b1, 0, NULL));
  ck_assert(!shared(u1, u2));
  ck_assert(shared(u1, u3));
  /* The same address with and without a size: other values. */
  dusk_node *sized = dusk_literal(g, dusk_ptr(b1, sizeof b1, NULL));
  ck_assert(!shared(u1, sized));
  /* Free functions do not count: the bytes are what the task reads. */
  dusk_node *owned = dusk_literal(g, text("same", count_free));
  ck_assert(shared(sized, owned));
  dusk_node *nul = dusk_literal(g, dusk_ptr(NULL, 8, NULL));
  dusk_node *nul2 = dusk_literal(g, dusk_ptr(NULL, 8, NULL));
  ck_assert(shared(nul, nul2)); /* NULL with a size: by address */
  dusk_graph_free(g);
  g = NULL; /* freed here: the teardown frees nothing */
  ck_assert_int_eq(atomic_load(&g_freed), 5); /* each text, once */
}
END_TEST

START_TEST(test_literals_pure_literal_found_and_released_once) {
  dusk_node *a = dusk_literal_pure(g, dusk_i64(7));
  ck_assert_ptr_eq(dusk_literal_pure(g, dusk_i64(7)), a);
  ck_assert_ptr_ne(dusk_literal_pure(g, dusk_i64(8)), a);
  ck_assert_ptr_ne(dusk_literal_pure(g, dusk_f64(7.0)), a);
  ck_assert_ptr_ne(dusk_literal(g, dusk_i64(7)), a); /* not a pure one */
  ck_assert_ptr_ne(dusk_literal_pure(g, dusk_i64(7)),
                   dusk_delayed_pure(g, t_inc)); /* literals are not calls */
  ck_assert_str_eq(dusk_name(a), "literal");
  dusk_node *s = dusk_literal_pure(g, text("abc", count_free));
  ck_assert_ptr_nonnull(s);
  /* Found: the copy handed in is released at once, exactly once. */
  ck_assert_ptr_eq(dusk_literal_pure(g, text("abc", count_free)), s);
  ck_assert_int_eq(atomic_load(&g_freed), 1);
  ck_assert_ptr_ne(dusk_literal_pure(g, text("abd", count_free)), s);
  ck_assert_int_eq(atomic_load(&g_freed), 1);
  /* The very pointer handed again with its free: the node already holds
     it and releases it once, with the graph. */
  dusk_value v = text("xyz", count_free);
  dusk_node *x = dusk_literal_pure(g, v);
  ck_assert_ptr_eq(dusk_literal_pure(g, v), x);
  ck_assert_int_eq(atomic_load(&g_freed), 1);
  /* Held without a free, handed again with one: a node of its own, which
     calls that free once (no leak, no double free for ASan to find). */
  char *q = malloc(4);
  memcpy(q, "qqq", 4);
  dusk_node *q1 = dusk_literal_pure(g, dusk_ptr(q, 4, NULL));
  dusk_node *q2 = dusk_literal_pure(g, dusk_ptr(q, 4, count_free));
  ck_assert_ptr_ne(q1, q2);
  /* Handed again without a free: the remembered node (q2 is not). */
  ck_assert_ptr_eq(dusk_literal_pure(g, dusk_ptr(q, 4, NULL)), q1);
  ck_assert_int_eq(atomic_load(&g_freed), 1);
  size_t size = dusk_graph_size(g);
  dusk_graph_free(g);
  g = NULL; /* freed here: the teardown frees nothing */
  ck_assert_uint_eq(size, 10);
  /* "abc", "abd", "xyz" and q: each once. */
  ck_assert_int_eq(atomic_load(&g_freed), 5);
}
END_TEST

/* ====================================================== differ */

START_TEST(test_differ_fn_udata_order_nargs) {
  dusk_node *one = dusk_literal(g, dusk_i64(1)),
            *two = dusk_literal(g, dusk_i64(2));
  int u1, u2;
  dusk_node *base =
      dusk_call_pure(g, t_pair, &u1, 2, (dusk_node *[]){one, two});
  ck_assert_ptr_eq(dusk_call_pure(g, t_pair, &u1, 2, (dusk_node *[]){one, two}),
                   base);
  dusk_node *fn = dusk_call_pure(g, t_inc, &u1, 2, (dusk_node *[]){one, two});
  dusk_node *ud = dusk_call_pure(g, t_pair, &u2, 2, (dusk_node *[]){one, two});
  dusk_node *nul =
      dusk_call_pure(g, t_pair, NULL, 2, (dusk_node *[]){one, two});
  dusk_node *rev = dusk_call_pure(g, t_pair, &u1, 2, (dusk_node *[]){two, one});
  dusk_node *fewer = dusk_call_pure(g, t_pair, &u1, 1, &one);
  dusk_node *more =
      dusk_call_pure(g, t_pair, &u1, 3, (dusk_node *[]){one, two, two});
  dusk_node *all[] = {base, fn, ud, nul, rev, fewer, more};
  enum { N = sizeof all / sizeof all[0] };
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      ck_assert_msg(all[i] != all[j], "pure calls %d and %d shared", i, j);
  ck_assert_uint_eq(dusk_graph_size(g), 2 + N);
  dusk_value out[N];
  ck_assert_int_eq(dusk_compute_many(g, N, all, out), DUSK_OK);
  ck_assert_int_eq(out[0].i64, 12);
  ck_assert_int_eq(out[4].i64, 21); /* the order reached the task */
  ck_assert_int_eq(out[6].i64, 122);
  ck_assert_int_eq(tu_ldi(&g_runs), N);
}
END_TEST

START_TEST(test_differ_a_call_is_not_its_value) {
  /* An argument that is a call counts by its node, even when its result
     equals a literal's. */
  dusk_node *five = dusk_literal(g, dusk_i64(5));
  dusk_node *four = dusk_literal(g, dusk_i64(4));
  dusk_node *inc4 = dusk_delayed(g, t_inc, four); /* 5, once computed */
  ck_assert_int_eq(dusk_compute(g, inc4, NULL), DUSK_OK);
  ck_assert(!shared(five, inc4));
  dusk_node *other = dusk_delayed(g, t_inc, four); /* equal, not pure */
  ck_assert(!shared(inc4, other));
}
END_TEST

/* ====================================================== state */

START_TEST(test_state_kept_result_is_shared) {
  dusk_node *x = dusk_literal(g, dusk_i64(1));
  dusk_node *a = dusk_delayed_pure(g, t_inc, x);
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
  dusk_node *b = dusk_delayed_pure(g, t_inc, x);
  ck_assert_ptr_eq(b, a);
  ck_assert_int_eq(dusk_status(b), DUSK_DONE);
  /* Taken through one holder, gone for the other; computing runs it again. */
  dusk_value taken;
  ck_assert_int_eq(dusk_take(b, &taken), DUSK_OK);
  ck_assert_int_eq(taken.i64, 2);
  ck_assert_int_eq(dusk_take(a, &v), DUSK_ENORESULT);
  ck_assert_int_eq(tu_ldi(&g_runs), 1);
  ck_assert_int_eq(dusk_compute(g, a, &v), DUSK_OK);
  ck_assert_int_eq(tu_ldi(&g_runs), 2);
}
END_TEST

START_TEST(test_state_failed_node_found_then_retried) {
  dusk_node *a = dusk_delayed_pure(g, t_flaky);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_ETASK);
  /* The same call finds the failed node, its error intact; building
     runs nothing. */
  dusk_node *b = dusk_delayed_pure(g, t_flaky);
  ck_assert_ptr_eq(b, a);
  ck_assert_int_eq(dusk_status(b), DUSK_FAILED);
  ck_assert_int_eq(dusk_errcode(b), DUSK_ETASK);
  ck_assert(tu_has(dusk_errmsg(b), "first try"));
  ck_assert_int_eq(tu_ldi(&g_flaky), 1);
  /* dusk_wait answers with the failure, without rerunning. */
  ck_assert_int_eq(dusk_wait(b), DUSK_ETASK);
  ck_assert_int_eq(tu_ldi(&g_flaky), 1);
  /* dusk_compute retries it; then its error is gone. */
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, b, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 42);
  ck_assert_int_eq(tu_ldi(&g_flaky), 2);
  ck_assert_ptr_null(dusk_errmsg(a));
  ck_assert_ptr_eq(dusk_delayed_pure(g, t_flaky), a);
}
END_TEST

START_TEST(test_state_cancelled_node_found_stays_cancelled) {
  dusk_node *a = dusk_delayed_pure(g, t_inc);
  ck_assert_int_eq(dusk_cancel(a), DUSK_OK);
  dusk_node *b = dusk_delayed_pure(g, t_inc);
  ck_assert_ptr_eq(b, a);
  ck_assert_int_eq(dusk_compute(g, b, NULL), DUSK_ECANCELED);
  ck_assert_int_eq(dusk_status(b), DUSK_CANCELLED);
  ck_assert_int_eq(tu_ldi(&g_runs), 0);
}
END_TEST

/* ====================================================== names */

START_TEST(test_names_first_name_stays) {
  dusk_node *x = dusk_literal(g, dusk_i64(1)),
            *y = dusk_literal(g, dusk_i64(2));
  dusk_node *a = dusk_delayed_pure(g, t_inc, x);
  ck_assert_str_eq(dusk_name(a), "t_inc");
  /* Found by an unnamed and a differently named pure call: unchanged. */
  ck_assert_ptr_eq(dusk_call_pure(g, t_inc, NULL, 1, &x), a);
  ck_assert_ptr_eq(dusk_call_pure_named(g, "other", t_inc, NULL, 1, &x), a);
  ck_assert_str_eq(dusk_name(a), "t_inc");
  /* Built unnamed: "call", as dusk_call(); found by dusk_delayed_pure. */
  dusk_node *b = dusk_call_pure(g, t_inc, NULL, 1, &y);
  ck_assert_str_eq(dusk_name(b), "call");
  ck_assert_ptr_eq(dusk_delayed_pure(g, t_inc, y), b);
  ck_assert_str_eq(dusk_name(b), "call");
  /* Built with a name of its own. */
  dusk_node *c =
      dusk_call_pure_named(g, "load", t_inc, NULL, 2, (dusk_node *[]){x, y});
  ck_assert_str_eq(dusk_name(c), "load");
  /* Renaming the node renames it for every holder; it is still found. */
  dusk_set_name(a, "renamed-%d", 1);
  dusk_node *again = dusk_delayed_pure(g, t_inc, x);
  ck_assert_ptr_eq(again, a);
  ck_assert_str_eq(dusk_name(again), "renamed-1");
}
END_TEST

/* ====================================================== errors */

/* The message after its "who: " prefix. */
static const char *after_prefix(const char *msg) {
  const char *colon = strchr(msg, ':');
  return colon ? colon + 1 : msg;
}

START_TEST(test_errors_refused_as_dusk_call) {
  dusk_graph *h = dusk_graph_new();
  dusk_node *x = dusk_literal(g, dusk_i64(1));
  dusk_node *foreign = dusk_literal(h, dusk_i64(1));
  struct {
    dusk_graph *g;
    dusk_fn fn;
    int nargs;
    dusk_node *const *args;
    const char *says;
  } bad[] = {
      {NULL, t_inc, 1, &x, "graph is NULL"},
      {g, NULL, 1, &x, "function is NULL"},
      {g, t_inc, -1, &x, "-1 arguments"},
      {g, t_inc, 2, NULL, "2 arguments"},
      {g, t_inc, 2, (dusk_node *[]){x, NULL}, "argument 1 is NULL"},
      {g, t_inc, 2, (dusk_node *[]){foreign, x},
       "argument 0 is a node of another graph"},
  };
  size_t size = dusk_graph_size(g);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *msg = NULL;
    ck_assert_ptr_null(
        dusk_call(bad[i].g, bad[i].fn, NULL, bad[i].nargs, bad[i].args));
    ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
    char plain[256];
    snprintf(plain, sizeof plain, "%s", after_prefix(msg));
    ck_assert_ptr_null(
        dusk_call_pure(bad[i].g, bad[i].fn, NULL, bad[i].nargs, bad[i].args));
    ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
    ck_assert_msg(strncmp(msg, "call_pure: ", 11) == 0, "case %zu: %s", i, msg);
    ck_assert_str_eq(after_prefix(msg), plain);
    ck_assert_msg(tu_has(msg, bad[i].says), "case %zu: %s", i, msg);
    ck_assert_ptr_null(dusk_call_pure_named(bad[i].g, "n", bad[i].fn, NULL,
                                            bad[i].nargs, bad[i].args));
    ck_assert_int_eq(dusk_last_error(NULL), DUSK_EINVAL);
  }
  ck_assert_ptr_null(dusk_delayed_pure(g, t_inc, x, NULL));
  ck_assert_int_eq(dusk_last_error(NULL), DUSK_EINVAL);
  ck_assert_uint_eq(dusk_graph_size(g), size); /* nothing built */
  /* Nothing remembered either: the next good call builds one node. */
  dusk_node *a = dusk_delayed_pure(g, t_inc, x);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(dusk_graph_size(g), size + 1);
  dusk_graph_free(h);
}
END_TEST

START_TEST(test_errors_refused_literal_released) {
  const char *msg = NULL;
  ck_assert_ptr_null(dusk_literal_pure(NULL, text("v", count_free)));
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "literal_pure: the graph is NULL"));
  ck_assert_int_eq(atomic_load(&g_freed), 1);
  dusk_value weird = {.kind = (dusk_kind)42};
  ck_assert_ptr_null(dusk_literal_pure(g, weird));
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert(tu_has(msg, "unknown value kind 42"));
  ck_assert_uint_eq(dusk_graph_size(g), 0);
}
END_TEST

/* ====================================================== threads */

enum { BUILDERS = 4 };

typedef struct race {
  dusk_graph *g;
  pthread_barrier_t start;
  int rounds;
  dusk_node *got[BUILDERS][2]; /* each thread's last f(lit), g(f, f) */
  atomic_int mismatches;       /* a thread saw two nodes for one call */
  atomic_int failures;         /* a call or compute failed            */
} race;

static race g_race;

/*
** Each thread makes its own literal of 7 (another node each time) and the
** pure calls on it, over and over, and computes the top one: every thread
** must get the same two nodes, and each must run once.
*/
static void *racer(void *arg) {
  int k = (int)(intptr_t)arg;
  race *r = &g_race;
  pthread_barrier_wait(&r->start);
  for (int i = 0; i < r->rounds; i++) {
    dusk_node *lit = dusk_literal(r->g, dusk_i64(7));
    dusk_node *f = lit ? dusk_delayed_pure(r->g, t_inc, lit) : NULL;
    dusk_node *top = f ? dusk_delayed_pure(r->g, t_pair, f, f) : NULL;
    if (!top) {
      atomic_fetch_add(&r->failures, 1);
      continue;
    }
    if (i > 0 && (f != r->got[k][0] || top != r->got[k][1]))
      atomic_fetch_add(&r->mismatches, 1);
    r->got[k][0] = f;
    r->got[k][1] = top;
    if (i % 16 == 0) {
      dusk_value v;
      if (dusk_compute(r->g, top, &v) != DUSK_OK || v.i64 != 88)
        atomic_fetch_add(&r->failures, 1);
    }
  }
  return NULL;
}

START_TEST(test_threads_same_call_at_once_one_node) {
  dusk_pool *p = tu_pool(2);
  int repeats = (int)tu_scaled(50, 5);
  for (int rep = 0; rep < repeats; rep++) {
    race *r = &g_race;
    memset(r->got, 0, sizeof r->got);
    r->g = tu_graph(p);
    r->rounds = 200;
    atomic_store(&r->mismatches, 0);
    atomic_store(&r->failures, 0);
    atomic_store(&g_runs, 0);
    pthread_barrier_init(&r->start, NULL, BUILDERS);
    pthread_t th[BUILDERS];
    for (int k = 0; k < BUILDERS; k++)
      pthread_create(&th[k], NULL, racer, (void *)(intptr_t)k);
    for (int k = 0; k < BUILDERS; k++)
      pthread_join(th[k], NULL);
    pthread_barrier_destroy(&r->start);
    ck_assert_int_eq(tu_ldi(&r->failures), 0);
    ck_assert_int_eq(tu_ldi(&r->mismatches), 0);
    for (int k = 1; k < BUILDERS; k++) {
      ck_assert_ptr_eq(r->got[k][0], r->got[0][0]);
      ck_assert_ptr_eq(r->got[k][1], r->got[0][1]);
    }
    /* Every literal, and two calls. */
    ck_assert_uint_eq(dusk_graph_size(r->g), BUILDERS * 200 + 2);
    ck_assert_int_eq(tu_ldi(&g_runs), 2); /* each ran once */
    dusk_graph_free(r->g);
  }
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== memory */

/*
** For each allocation of a pure call on a fresh graph made to fail (once,
** or from then on): the call is refused with DUSK_ENOMEM and builds
** nothing, or succeeds; with memory back, the call builds one node, and
** the next finds it, so the table never kept a stale entry. A call that
** finds its node allocates nothing: it succeeds while every allocation
** fails.
*/
static long memory_point(long n, int sticky, int literal) {
  atomic_store(&g_freed, 0);
  dusk_graph *mg = dusk_graph_new();
  ck_assert_ptr_nonnull(mg);
  dusk_node *x = dusk_literal(mg, dusk_i64(3));
  ck_assert_ptr_nonnull(x);
  dusk__alloc_fail_after(n, sticky);
  dusk_node *a = literal ? dusk_literal_pure(mg, text("m", count_free))
                         : dusk_delayed_pure(mg, t_inc, x);
  long failed = dusk__alloc_fail_after(0, 0);
  if (a == NULL) {
    ck_assert_int_eq(dusk_last_error(NULL), DUSK_ENOMEM);
    ck_assert_int_eq(atomic_load(&g_freed), literal); /* v released */
    if (!literal) /* a refused literal may leave an unused node (api.c) */
      ck_assert_uint_eq(dusk_graph_size(mg), 1);
  }
  size_t size = dusk_graph_size(mg);
  dusk_node *b = literal ? dusk_literal_pure(mg, text("m", count_free))
                         : dusk_delayed_pure(mg, t_inc, x);
  ck_assert_ptr_nonnull(b);
  if (a != NULL)
    ck_assert_ptr_eq(b, a);
  else
    ck_assert_uint_eq(dusk_graph_size(mg), size + 1);
  dusk__alloc_fail_after(1, 1); /* every allocation fails */
  dusk_node *c = literal ? dusk_literal_pure(mg, text("m", count_free))
                         : dusk_delayed_pure(mg, t_inc, x);
  long nothing = dusk__alloc_fail_after(0, 0);
  ck_assert_ptr_eq(c, b);
  ck_assert_int_eq(nothing, 0);
  dusk_graph_free(mg);
  /* Each copy of "m" released once: the refused or found ones, the kept. */
  if (literal)
    ck_assert_int_eq(atomic_load(&g_freed), 3);
  return failed;
}

static void memory_sweep(int sticky, int literal) {
  long n = 1;
  while (memory_point(n, sticky, literal) > 0)
    n++;
  printf("pure: a %s on a new graph: %ld allocation points (%s)\n",
         literal ? "pure literal" : "pure call", n - 1,
         sticky ? "sticky" : "single");
  ck_assert_int_gt(n - 1, 2); /* the entry, the table, its buckets... */
}

START_TEST(test_memory_call_single) { memory_sweep(0, 0); }
END_TEST

START_TEST(test_memory_call_sticky) { memory_sweep(1, 0); }
END_TEST

START_TEST(test_memory_literal_single) { memory_sweep(0, 1); }
END_TEST

START_TEST(test_memory_literal_sticky) { memory_sweep(1, 1); }
END_TEST

/* ====================================================== table */

/*
** Many entries make uthash grow its buckets several times; every node is
** still found afterwards, and the table is freed with the graph (the
** sanitizer build's leak check would report it otherwise).
*/
START_TEST(test_table_grows_and_finds_all) {
  enum { N = 5000 };
  dusk_node **calls = malloc(N * sizeof *calls);
  dusk_node **lits = malloc(N * sizeof *lits);
  for (int i = 0; i < N; i++) {
    lits[i] = dusk_literal_pure(g, dusk_i64(i));
    calls[i] = dusk_delayed_pure(g, t_inc, lits[i]);
    ck_assert_ptr_nonnull(calls[i]);
  }
  ck_assert_uint_eq(dusk_graph_size(g), 2 * N);
  for (int i = N - 1; i >= 0; i--) {
    ck_assert_ptr_eq(dusk_literal_pure(g, dusk_i64(i)), lits[i]);
    dusk_node *other = dusk_literal(g, dusk_i64(i)); /* by contents */
    ck_assert_ptr_eq(dusk_delayed_pure(g, t_inc, other), calls[i]);
  }
  ck_assert_uint_eq(dusk_graph_size(g), 3 * N);
  free(calls);
  free(lits);
}
END_TEST

/* ====================================================== suite */

static Suite *pure_suite(void) {
  Suite *s = suite_create("pure");
  TCase *tc = tcase_create("share");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_share_identical_calls_one_node_one_run);
  tcase_add_test(tc, test_share_no_arguments_and_chains);
  tcase_add_test(tc, test_share_ordinary_calls_never_shared);
  suite_add_tcase(s, tc);
  tc = tcase_create("literals");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_literals_numbers_by_bits);
  tcase_add_test(tc, test_literals_pointers_by_bytes_or_address);
  tcase_add_test(tc, test_literals_pure_literal_found_and_released_once);
  suite_add_tcase(s, tc);
  tc = tcase_create("differ");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_differ_fn_udata_order_nargs);
  tcase_add_test(tc, test_differ_a_call_is_not_its_value);
  suite_add_tcase(s, tc);
  tc = tcase_create("state");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_state_kept_result_is_shared);
  tcase_add_test(tc, test_state_failed_node_found_then_retried);
  tcase_add_test(tc, test_state_cancelled_node_found_stays_cancelled);
  suite_add_tcase(s, tc);
  tc = tcase_create("names");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_names_first_name_stays);
  suite_add_tcase(s, tc);
  tc = tcase_create("errors");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_errors_refused_as_dusk_call);
  tcase_add_test(tc, test_errors_refused_literal_released);
  suite_add_tcase(s, tc);
  tc = tcase_create("threads");
  tcase_add_test(tc, test_threads_same_call_at_once_one_node);
  suite_add_tcase(s, tc);
  tc = tcase_create("memory");
  tcase_add_test(tc, test_memory_call_single);
  tcase_add_test(tc, test_memory_call_sticky);
  tcase_add_test(tc, test_memory_literal_single);
  tcase_add_test(tc, test_memory_literal_sticky);
  suite_add_tcase(s, tc);
  tc = tcase_create("table");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_table_grows_and_finds_all);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(pure_suite)
