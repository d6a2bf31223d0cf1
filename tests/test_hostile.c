/*
** test_hostile: every public function of include/dusk.h, called wrong.
**
** A table of cases: NULL handles, NULL functions, negative and huge
** counts (INT_MAX with a NULL array), nodes of another graph, options out
** of range, names with format characters and names of a mebibyte, codes
** nobody defined. Each case runs on a fresh thread, whose last error starts
** as DUSK_OK and "", so that every case proves its own message. A case
** names what it expects: the return value; the code dusk_last_error() then
** gives, with a message that says what was wrong (or, for a documented
** no-op, no error at all); and that a refused call changed no graph.
**
** Then the tasks' side (a task that fails without a format, returns a value
** of an unknown kind, or an unknown code), names full of '%' and of a
** mebibyte through messages and DOT, and DUSK_NUM_THREADS values such as
** "abc", "-1", "0", "100000" and "" in child processes (the default pool is
** made once per process), each of which must fall back to the cores with a
** warning, or take the number, never fail silently.
**
** Functions that take a pointer and return one (dusk_name(NULL),
** dusk_node_graph(NULL), dusk_task_udata(NULL), ...) return NULL or 0 for
** NULL; the cases check that they do not crash and return exactly that.
*/
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dusk.h"
#include "testutil.h"

/* ====================================================== tasks */

static int t_sum(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  int64_t s = tu_sum1(args, nargs);
  *out = dusk_i64(s);
  return 0;
}

/* Fails with a message full of format characters, given through "%s". */
static int t_fail_pct(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  return dusk_fail(t, "%s", "%s%n%x%%");
}

/*
** Fails with a NULL format: the format argument is declared printf-like, so
** the compiler is told to look away; dusk must not crash and the code's
** text stands in for the message.
*/
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
static const char *volatile g_null_fmt = NULL;

static int t_fail_null_fmt(dusk_task *t, const dusk_value *args, int nargs,
                           dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  return dusk_fail(t, g_null_fmt);
}

static void set_name_null_fmt(dusk_node *n) { dusk_set_name(n, g_null_fmt); }

static int fail_null_task(void) { return dusk_fail(NULL, "%d", 1); }
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* A mebibyte of text, for names and messages. */
enum { BIG = 1 << 20 };
static char *g_big;

static void big_make(void) {
  if (g_big == NULL) {
    g_big = malloc(BIG + 1);
    ck_assert_ptr_nonnull(g_big);
    for (int i = 0; i < BIG; i++)
      g_big[i] = (char)('a' + i % 26);
    g_big[BIG] = '\0';
  }
}

static int t_fail_big(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)args;
  (void)nargs;
  (void)out;
  return dusk_fail(t, "%s", g_big);
}

/* Writes a counted box but says it is of kind 77, and returns 0. */
static int t_bad_kind(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  *out = tu_box_new(5);
  out->kind = (dusk_kind)77;
  return 0;
}

/* Returns a code that is not a DUSK_E* (positive). */
static int t_positive(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  *out = tu_box_new(6);
  return 12345;
}

/* Returns INT_MIN. */
static int t_int_min(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  (void)out;
  return INT_MIN;
}

static void on_done_cb(dusk_node *n, int code, void *udata) {
  (void)n;
  (void)code;
  atomic_fetch_add((atomic_int *)udata, 1);
}

/* ====================================================== the fixture */

/*
** What the cases work on, made by each test (not an unchecked fixture:
** Check forks each test). g computes on a 1-thread pool; g2 is "another
** graph"; lit is a literal, call an uncomputed call, kept a computed call
** that keeps its result, other a node of g2.
*/
typedef struct fixture {
  dusk_pool *pool;
  dusk_graph *g, *g2;
  dusk_node *lit, *call, *kept, *other;
  FILE *file; /* a tmpfile for DOT */
} fixture;

static fixture F;

static void fx_up(void) {
  memset(&F, 0, sizeof F);
  tu_reset(256);
  F.pool = tu_pool(1);
  F.g = tu_graph(F.pool);
  F.g2 = tu_graph(F.pool);
  F.lit = dusk_literal(F.g, dusk_i64(4));
  F.call = dusk_delayed(F.g, t_sum, F.lit);
  F.kept = dusk_delayed(F.g, t_sum, F.lit, F.lit);
  F.other = dusk_literal(F.g2, dusk_i64(8));
  ck_assert(F.lit && F.call && F.kept && F.other);
  ck_assert_int_eq(dusk_compute(F.g, F.kept, NULL), DUSK_OK);
  F.file = tmpfile();
  ck_assert_ptr_nonnull(F.file);
}

static void fx_down(void) {
  fclose(F.file);
  dusk_graph_free(F.g);
  dusk_graph_free(F.g2);
  dusk_pool_free(F.pool);
  ck_assert_int_eq(tu_ldl(&tu_st.live), 0);
  ck_assert_int_eq(tu_ldl(&tu_st.bad_frees), 0);
  tu_done();
}

/* ====================================================== the table */

enum {
  LAST_NONE = 1, /* a documented no-op: the last error stays DUSK_OK, "" */
  LAST_ANY = 2,  /* not checked                                           */
};

enum { RET_NULL = 0, RET_PTR = 1 };
#define BAD_OUT 999999 /* a case's own check failed (see its comment) */

typedef struct hcase {
  const char *name;
  long (*run)(void);
  long want;       /* the return: a code, RET_NULL/RET_PTR, or 0 for void */
  int last;        /* the code dusk_last_error() gives then, or LAST_*     */
  const char *msg; /* a part of its message, or NULL                      */
} hcase;

#define CODE(fn, expr)                                                        \
  static long fn(void) { return (long)(expr); }
#define PTR(fn, expr)                                                         \
  static long fn(void) { return (expr) != NULL ? RET_PTR : RET_NULL; }
#define VOID(fn, stmt)                                                        \
  static long fn(void) {                                                      \
    stmt;                                                                     \
    return 0;                                                                 \
  }

static dusk_node *const k_null_node[1] = {NULL};

/* ---- values and errors */

static long strerror_unknown(void) {
  static const int known[] = {DUSK_OK,        DUSK_EINVAL,    DUSK_ENOMEM,
                              DUSK_ETASK,     DUSK_ECANCELED, DUSK_ETIMEDOUT,
                              DUSK_ENORESULT, DUSK_EBUSY,     DUSK_ETHREAD,
                              DUSK_EIO};
  static const int unknown[] = {1,  2,       100,     -10,    -11,
                                -99, INT_MIN, INT_MAX, 12345, -12345};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = dusk_strerror(unknown[i]);
    if (s == NULL || s[0] == '\0')
      return BAD_OUT;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
      if (strcmp(s, dusk_strerror(known[k])) == 0)
        return BAD_OUT; /* an unknown code must not read as a known one */
  }
  return 0;
}

VOID(value_clear_null, dusk_value_clear(NULL))

/* An unknown kind is not released (its ptr is not known to be one), and
   becomes DUSK_NONE. */
static long value_clear_unknown_kind(void) {
  dusk_value v = dusk_i64(3);
  v.kind = (dusk_kind)77;
  dusk_value_clear(&v);
  return v.kind == DUSK_NONE ? 0 : BAD_OUT;
}

CODE(last_error_null_msg, dusk_last_error(NULL))

/* ---- graphs and literals */

VOID(graph_free_null, dusk_graph_free(NULL))
CODE(graph_size_null, dusk_graph_size(NULL))
VOID(graph_set_pool_null, dusk_graph_set_pool(NULL, F.pool))

/* A refused literal releases its value at once, exactly once. */
static long literal_refused(dusk_graph *g, dusk_kind kind) {
  dusk_value v = tu_box_new(1);
  tu_box *b = v.ptr;
  v.kind = kind;
  dusk_node *n = dusk_literal(g, v);
  if (atomic_load(&b->state) != TU_BOX_DEAD)
    return BAD_OUT;
  return n != NULL ? RET_PTR : RET_NULL;
}

static long literal_null_graph(void) { return literal_refused(NULL, DUSK_PTR); }
static long literal_kind_77(void) {
  return literal_refused(F.g, (dusk_kind)77);
}
static long literal_kind_neg(void) {
  return literal_refused(F.g, (dusk_kind)-1);
}
static long literal_null_ptr_with_free(void) {
  return dusk_literal(F.g, dusk_ptr(NULL, 0, tu_box_free)) != NULL
             ? RET_PTR
             : RET_NULL;
}

/* ---- calls */

PTR(call_null_graph, dusk_call(NULL, t_sum, NULL, 1, &F.lit))
PTR(call_null_fn, dusk_call(F.g, NULL, NULL, 1, &F.lit))
PTR(call_neg_nargs, dusk_call(F.g, t_sum, NULL, -1, &F.lit))
PTR(call_int_min_nargs, dusk_call(F.g, t_sum, NULL, INT_MIN, &F.lit))
PTR(call_int_max_null_args, dusk_call(F.g, t_sum, NULL, INT_MAX, NULL))
PTR(call_one_null_args, dusk_call(F.g, t_sum, NULL, 1, NULL))
PTR(call_null_arg, dusk_call(F.g, t_sum, NULL, 2,
                             (dusk_node *[]){F.lit, NULL}))
PTR(call_other_graph, dusk_call(F.g, t_sum, NULL, 2,
                                (dusk_node *[]){F.lit, F.other}))
PTR(call_zero_args_non_null, dusk_call(F.g, t_sum, NULL, 0, &F.lit))
PTR(call_zero_args_null, dusk_call(F.g, t_sum, NULL, 0, NULL))
PTR(call_named_null_fn, dusk_call_named(F.g, "x", NULL, NULL, 0, NULL))
PTR(call_named_other, dusk_call_named(F.g, "x", t_sum, NULL, 1, &F.other))
PTR(delayed_other, dusk_delayed(F.g, t_sum, F.lit, F.other))
PTR(delayed_null_graph, dusk_delayed((dusk_graph *)NULL, t_sum, F.lit))

/* A NULL name is "call"; a name with format characters is kept as it is. */
static long call_named_null_name(void) {
  dusk_node *n = dusk_call_named(F.g, NULL, t_sum, NULL, 0, NULL);
  return n != NULL && strcmp(dusk_name(n), "call") == 0 ? 0 : BAD_OUT;
}
static long call_named_pct_name(void) {
  dusk_node *n = dusk_call_named(F.g, "%s%n%x", t_sum, NULL, 1, &F.lit);
  return n != NULL && strcmp(dusk_name(n), "%s%n%x") == 0 ? 0 : BAD_OUT;
}

/* ---- names and nodes */

VOID(set_name_null_node, dusk_set_name(NULL, "%s", "x"))

/* A NULL format leaves the name as it was. */
static long set_name_null_fmt_keeps(void) {
  dusk_set_name(F.call, "%s", "before");
  set_name_null_fmt(F.call);
  return strcmp(dusk_name(F.call), "before") == 0 ? 0 : BAD_OUT;
}

static long set_name_pct(void) {
  dusk_set_name(F.call, "%s", "%s%n%x%%");
  return strcmp(dusk_name(F.call), "%s%n%x%%") == 0 ? 0 : BAD_OUT;
}

static long set_name_big(void) {
  dusk_set_name(F.call, "%s", g_big);
  const char *n = dusk_name(F.call);
  return n != NULL && strlen(n) == BIG && strcmp(n, g_big) == 0 ? 0 : BAD_OUT;
}

PTR(name_null, dusk_name(NULL))
CODE(node_id_null, dusk_node_id(NULL))
PTR(node_graph_null, dusk_node_graph(NULL))

/* ---- tasks, outside a task */

PTR(task_udata_null, dusk_task_udata(NULL))
PTR(task_graph_null, dusk_task_graph(NULL))
PTR(task_node_null, dusk_task_node(NULL))
CODE(fail_null, fail_null_task())
CODE(task_cancelled_null, dusk_task_cancelled(NULL))

/* ---- pools */

PTR(pool_new_neg, dusk_pool_new(-1))
PTR(pool_new_1025, dusk_pool_new(1025))
PTR(pool_new_int_min, dusk_pool_new(INT_MIN))
PTR(pool_new_int_max, dusk_pool_new(INT_MAX))
VOID(pool_free_null, dusk_pool_free(NULL))
CODE(pool_size_null, dusk_pool_size(NULL))

/* ---- compute */

/* rc, after checking that every out became DUSK_NONE. */
static long outs_none(int rc, const dusk_value *outs, int n) {
  for (int i = 0; i < n; i++)
    if (outs[i].kind != DUSK_NONE)
      return BAD_OUT;
  return rc;
}

static long compute_null_graph(void) {
  dusk_value out = dusk_i64(1);
  return outs_none(dusk_compute(NULL, F.call, &out), &out, 1);
}
static long compute_null_node(void) {
  dusk_value out = dusk_i64(1);
  return outs_none(dusk_compute(F.g, NULL, &out), &out, 1);
}
static long compute_other_graph(void) {
  dusk_value out = dusk_i64(1);
  return outs_none(dusk_compute(F.g, F.other, &out), &out, 1);
}
CODE(compute_null_out, dusk_compute(F.g, F.lit, NULL))

static long many_neg(void) {
  dusk_value outs[2] = {dusk_i64(1), dusk_i64(2)};
  return dusk_compute_many(F.g, -1, (dusk_node *[]){F.lit, F.call}, outs);
}
CODE(many_int_min, dusk_compute_many(F.g, INT_MIN, &F.lit, NULL))
CODE(many_int_max_null, dusk_compute_many(F.g, INT_MAX, NULL, NULL))
CODE(many_one_null_nodes, dusk_compute_many(F.g, 1, NULL, NULL))
CODE(many_null_graph, dusk_compute_many(NULL, 1, &F.call, NULL))
static long many_null_entry(void) {
  dusk_value outs[2] = {dusk_i64(1), dusk_i64(2)};
  return outs_none(
      dusk_compute_many(F.g, 2, (dusk_node *[]){F.call, NULL}, outs), outs,
      2);
}
static long many_other_entry(void) {
  dusk_value outs[2] = {dusk_i64(1), dusk_i64(2)};
  return outs_none(
      dusk_compute_many(F.g, 2, (dusk_node *[]){F.call, F.other}, outs),
      outs, 2);
}

/* ---- kept results */

VOID(release_null, dusk_release(NULL))
/* Releasing a literal, an uncomputed call, or twice, changes nothing. */
static long release_noops(void) {
  dusk_release(F.lit);
  dusk_release(F.call);
  dusk_release(F.kept);
  dusk_release(F.kept);
  dusk_value out;
  if (dusk_compute(F.g, F.lit, &out) != DUSK_OK || out.i64 != 4)
    return BAD_OUT;
  return 0;
}

static long take_null_node(void) {
  dusk_value out = dusk_i64(1);
  int rc = dusk_take(NULL, &out);
  return out.kind == DUSK_NONE ? rc : BAD_OUT;
}
CODE(take_null_out, dusk_take(F.kept, NULL))
CODE(take_literal, dusk_take(F.lit, &(dusk_value){0}))
CODE(take_uncomputed, dusk_take(F.call, &(dusk_value){0}))
PTR(errmsg_null, dusk_errmsg(NULL))
PTR(errmsg_uncomputed, dusk_errmsg(F.call))
CODE(errcode_null, dusk_errcode(NULL))

/* ---- DOT */

/* rc, after checking that nothing was written. */
static long dot_nothing(int rc) {
  fflush(F.file);
  return ftell(F.file) == 0 ? rc : BAD_OUT;
}

static long dot_null_graph(void) {
  return dot_nothing(dusk_write_dot(NULL, &F.call, 1, F.file, NULL));
}
static long dot_null_nodes(void) {
  return dot_nothing(dusk_write_dot(F.g, NULL, 1, F.file, NULL));
}
static long dot_count_zero(void) {
  return dot_nothing(dusk_write_dot(F.g, &F.call, 0, F.file, NULL));
}
static long dot_count_neg(void) {
  return dot_nothing(dusk_write_dot(F.g, &F.call, -1, F.file, NULL));
}
static long dot_count_int_min(void) {
  return dot_nothing(dusk_write_dot(F.g, &F.call, INT_MIN, F.file, NULL));
}
static long dot_int_max_null(void) {
  return dot_nothing(dusk_write_dot(F.g, NULL, INT_MAX, F.file, NULL));
}
static long dot_null_entry(void) {
  return dot_nothing(dusk_write_dot(F.g, (dusk_node *[]){F.call, NULL}, 2,
                                    F.file, NULL));
}
static long dot_other_graph(void) {
  return dot_nothing(dusk_write_dot(F.g, &F.other, 1, F.file, NULL));
}
CODE(dot_null_out, dusk_write_dot(F.g, &F.call, 1, NULL, NULL))
static long dot_bad_rankdir(void) {
  dusk_dot_options o = {.rankdir = (dusk_dot_rankdir)99};
  return dot_nothing(dusk_write_dot(F.g, &F.call, 1, F.file, &o));
}
static long dot_neg_rankdir(void) {
  dusk_dot_options o = {.rankdir = (dusk_dot_rankdir)-1};
  return dot_nothing(dusk_write_dot(F.g, &F.call, 1, F.file, &o));
}
static long dot_bad_view(void) {
  dusk_dot_options o = {.view = (dusk_dot_view)7};
  return dot_nothing(dusk_write_dot(F.g, &F.call, 1, F.file, &o));
}
/* A huge threshold is an ordinary option. */
static long dot_huge_threshold(void) {
  dusk_dot_options o = {.threshold = SIZE_MAX};
  return dusk_write_dot(F.g, &F.call, 1, F.file, &o);
}

CODE(vis_null_path, dusk_visualize(F.g, &F.call, 1, NULL))
CODE(vis_empty_path, dusk_visualize(F.g, &F.call, 1, ""))
CODE(vis_bad_ext, dusk_visualize(F.g, &F.call, 1, "/tmp/dusk-hostile.txt"))
CODE(vis_no_ext, dusk_visualize(F.g, &F.call, 1, "/tmp/dusk-hostile"))
CODE(vis_null_graph, dusk_visualize(NULL, &F.call, 1, "/tmp/x.dot"))
CODE(vis_other, dusk_visualize(F.g, &F.other, 1, "/tmp/x.dot"))
CODE(vis_no_dir, dusk_visualize(F.g, &F.call, 1,
                                "/nonexistent-dusk-dir/sub/x.dot"))
static long vis_opt_bad(void) {
  dusk_dot_options o = {.view = (dusk_dot_view)-5};
  return dusk_visualize_opt(F.g, &F.call, 1, "/tmp/x.dot", &o);
}

/* ---- futures */

CODE(start_null_graph, dusk_start(NULL, 1, &F.call))
CODE(start_neg, dusk_start(F.g, -1, &F.call))
CODE(start_int_max_null, dusk_start(F.g, INT_MAX, NULL))
CODE(start_null_entry, dusk_start(F.g, 1, k_null_node))
CODE(start_other, dusk_start(F.g, 1, &F.other))
PTR(submit_null_graph, dusk_submit(NULL, t_sum, NULL, 0, NULL))
PTR(submit_null_fn, dusk_submit(F.g, NULL, NULL, 0, NULL))
PTR(submit_neg, dusk_submit(F.g, t_sum, NULL, -1, NULL))
PTR(submit_int_max_null, dusk_submit(F.g, t_sum, NULL, INT_MAX, NULL))
PTR(submit_other, dusk_submit_named(F.g, "x", t_sum, NULL, 1, &F.other))
PTR(future_other, dusk_future(F.g, t_sum, F.other))
CODE(status_null, dusk_status(NULL))
CODE(ready_null, dusk_ready(NULL))
CODE(wait_null, dusk_wait(NULL))
CODE(wait_for_null, dusk_wait_for(NULL, 0))
CODE(wait_for_null_forever, dusk_wait_for(NULL, -1))
static long get_null(void) {
  dusk_value out = dusk_i64(1);
  int rc = dusk_get(NULL, &out);
  return out.kind == DUSK_NONE ? rc : BAD_OUT;
}
CODE(wait_any_null, dusk_wait_any(NULL, 1, 0))
CODE(wait_any_zero, dusk_wait_any(&F.call, 0, 0))
CODE(wait_any_neg, dusk_wait_any(&F.call, -1, 0))
CODE(wait_any_int_max_null, dusk_wait_any(NULL, INT_MAX, 0))
CODE(wait_any_null_entry, dusk_wait_any(k_null_node, 1, 0))
static atomic_int g_cb_calls;
CODE(on_done_null_node, dusk_on_done(NULL, on_done_cb, &g_cb_calls))
CODE(on_done_null_cb, dusk_on_done(F.call, NULL, NULL))
CODE(cancel_null, dusk_cancel(NULL))
CODE(cancel_literal, dusk_cancel(F.lit))
CODE(cancel_done, dusk_cancel(F.kept))
CODE(map_null_graph, dusk_map(NULL, t_sum, NULL, 0, 10, 1, NULL, 0))
CODE(map_null_fn, dusk_map(F.g, NULL, NULL, 0, 10, 1, NULL, 0))
CODE(map_end_before, dusk_map(F.g, t_sum, NULL, 10, 0, 1, NULL, 0))
CODE(map_neg_chunk, dusk_map(F.g, t_sum, NULL, 0, 10, -1, NULL, 0))
CODE(map_too_many, dusk_map(F.g, t_sum, NULL, 0, INT64_MAX, 1, NULL, 0))
CODE(map_extremes, dusk_map(F.g, t_sum, NULL, INT64_MIN, INT64_MAX, 1, NULL,
                            0))
static long map_no_room(void) {
  dusk_node *nodes[2] = {NULL, NULL};
  return dusk_map(F.g, t_sum, NULL, 0, 10, 1, nodes, 2);
}
static long map_neg_max(void) {
  dusk_node *nodes[2] = {NULL, NULL};
  return dusk_map(F.g, t_sum, NULL, 0, 10, 5, nodes, -1);
}
PTR(reduce_null_graph, dusk_reduce(NULL, t_sum, NULL, &F.lit, 1, 0))
PTR(reduce_null_fn, dusk_reduce(F.g, NULL, NULL, &F.lit, 1, 0))
PTR(reduce_null_nodes, dusk_reduce(F.g, t_sum, NULL, NULL, 1, 0))
PTR(reduce_zero, dusk_reduce(F.g, t_sum, NULL, &F.lit, 0, 0))
PTR(reduce_neg_count, dusk_reduce(F.g, t_sum, NULL, &F.lit, -1, 0))
PTR(reduce_int_max_null, dusk_reduce(F.g, t_sum, NULL, NULL, INT_MAX, 0))
PTR(reduce_split_one, dusk_reduce(F.g, t_sum, NULL, &F.lit, 1, 1))
PTR(reduce_split_neg, dusk_reduce(F.g, t_sum, NULL, &F.lit, 1, -3))
PTR(reduce_null_entry, dusk_reduce(F.g, t_sum, NULL, k_null_node, 1, 0))
PTR(reduce_other, dusk_reduce(F.g, t_sum, NULL, &F.other, 1, 0))

/* ---- the tables */

#define E DUSK_EINVAL

static const hcase k_values[] = {
    {"strerror of unknown codes", strerror_unknown, 0, LAST_NONE, NULL},
    {"value_clear(NULL)", value_clear_null, 0, LAST_NONE, NULL},
    {"value_clear of kind 77", value_clear_unknown_kind, 0, LAST_NONE, NULL},
    {"last_error(NULL) on a fresh thread", last_error_null_msg, DUSK_OK,
     LAST_NONE, NULL},
};

static const hcase k_graphs[] = {
    {"graph_free(NULL)", graph_free_null, 0, LAST_NONE, NULL},
    {"graph_size(NULL)", graph_size_null, 0, LAST_NONE, NULL},
    {"graph_set_pool(NULL, p)", graph_set_pool_null, 0, LAST_NONE, NULL},
    {"literal(NULL graph)", literal_null_graph, RET_NULL, E, "graph"},
    {"literal of kind 77", literal_kind_77, RET_NULL, E, "kind"},
    {"literal of kind -1", literal_kind_neg, RET_NULL, E, "kind"},
    {"literal ptr NULL with a free", literal_null_ptr_with_free, RET_PTR,
     LAST_NONE, NULL},
    {"call(NULL graph)", call_null_graph, RET_NULL, E, "graph"},
    {"call(NULL fn)", call_null_fn, RET_NULL, E, "function"},
    {"call nargs -1", call_neg_nargs, RET_NULL, E, "-1"},
    {"call nargs INT_MIN", call_int_min_nargs, RET_NULL, E, "arguments"},
    {"call nargs INT_MAX, args NULL", call_int_max_null_args, RET_NULL, E,
     "arguments"},
    {"call nargs 1, args NULL", call_one_null_args, RET_NULL, E,
     "arguments"},
    {"call with a NULL argument", call_null_arg, RET_NULL, E, "argument 1"},
    {"call with a node of another graph", call_other_graph, RET_NULL, E,
     "another graph"},
    {"call nargs 0, args not NULL", call_zero_args_non_null, RET_PTR,
     LAST_NONE, NULL},
    {"call nargs 0, args NULL", call_zero_args_null, RET_PTR, LAST_NONE,
     NULL},
    {"call_named(NULL fn)", call_named_null_fn, RET_NULL, E, "function"},
    {"call_named, another graph", call_named_other, RET_NULL, E,
     "another graph"},
    {"call_named(NULL name)", call_named_null_name, 0, LAST_NONE, NULL},
    {"call_named(\"%s%n%x\")", call_named_pct_name, 0, LAST_NONE, NULL},
    {"delayed, another graph", delayed_other, RET_NULL, E, "another graph"},
    {"delayed(NULL graph)", delayed_null_graph, RET_NULL, E, "graph"},
};

static const hcase k_names[] = {
    {"set_name(NULL)", set_name_null_node, 0, LAST_NONE, NULL},
    {"set_name(n, NULL format)", set_name_null_fmt_keeps, 0, LAST_NONE, NULL},
    {"set_name(n, \"%s\", \"%s%n%x%%\")", set_name_pct, 0, LAST_NONE, NULL},
    {"set_name(n, \"%s\", 1 MiB)", set_name_big, 0, LAST_NONE, NULL},
    {"name(NULL)", name_null, RET_NULL, LAST_NONE, NULL},
    {"node_id(NULL)", node_id_null, 0, LAST_NONE, NULL},
    {"node_graph(NULL)", node_graph_null, RET_NULL, LAST_NONE, NULL},
    {"task_udata(NULL)", task_udata_null, RET_NULL, LAST_NONE, NULL},
    {"task_graph(NULL)", task_graph_null, RET_NULL, LAST_NONE, NULL},
    {"task_node(NULL)", task_node_null, RET_NULL, LAST_NONE, NULL},
    {"fail(NULL, ...)", fail_null, DUSK_ETASK, LAST_ANY, NULL},
    {"task_cancelled(NULL)", task_cancelled_null, 0, LAST_NONE, NULL},
};

static const hcase k_pools[] = {
    {"pool_new(-1)", pool_new_neg, RET_NULL, E, "-1"},
    {"pool_new(1025)", pool_new_1025, RET_NULL, E, "1025"},
    {"pool_new(INT_MIN)", pool_new_int_min, RET_NULL, E, "threads"},
    {"pool_new(INT_MAX)", pool_new_int_max, RET_NULL, E, "threads"},
    {"pool_free(NULL)", pool_free_null, 0, LAST_NONE, NULL},
    {"pool_size(NULL)", pool_size_null, 0, LAST_NONE, NULL},
};

static const hcase k_compute[] = {
    {"compute(NULL graph)", compute_null_graph, E, E, "graph"},
    {"compute(NULL node)", compute_null_node, E, E, "NULL"},
    {"compute, another graph", compute_other_graph, E, E, "another graph"},
    {"compute, out NULL", compute_null_out, DUSK_OK, LAST_NONE, NULL},
    {"compute_many n -1", many_neg, E, E, "-1"},
    {"compute_many n INT_MIN", many_int_min, E, E, "nodes"},
    {"compute_many n INT_MAX, nodes NULL", many_int_max_null, E, E, "nodes"},
    {"compute_many n 1, nodes NULL", many_one_null_nodes, E, E, "nodes"},
    {"compute_many(NULL graph)", many_null_graph, E, E, "graph"},
    {"compute_many, a NULL node", many_null_entry, E, E, "node 1"},
    {"compute_many, another graph", many_other_entry, E, E, "another graph"},
    {"release(NULL)", release_null, 0, LAST_NONE, NULL},
    {"release of literal, uncomputed, twice", release_noops, 0, LAST_NONE,
     NULL},
    {"take(NULL node)", take_null_node, E, E, "node"},
    {"take(n, NULL out)", take_null_out, E, E, "out"},
    {"take of a literal", take_literal, E, E, "literal"},
    {"take of an uncomputed node", take_uncomputed, DUSK_ENORESULT,
     DUSK_ENORESULT, "no result"},
    {"errmsg(NULL)", errmsg_null, RET_NULL, LAST_NONE, NULL},
    {"errmsg of an uncomputed node", errmsg_uncomputed, RET_NULL, LAST_NONE,
     NULL},
    {"errcode(NULL)", errcode_null, DUSK_OK, LAST_NONE, NULL},
};

static const hcase k_dot[] = {
    {"write_dot(NULL graph)", dot_null_graph, E, E, "graph"},
    {"write_dot(nodes NULL)", dot_null_nodes, E, E, "nodes"},
    {"write_dot count 0", dot_count_zero, E, E, "count"},
    {"write_dot count -1", dot_count_neg, E, E, "count"},
    {"write_dot count INT_MIN", dot_count_int_min, E, E, "count"},
    {"write_dot count INT_MAX, nodes NULL", dot_int_max_null, E, E, "nodes"},
    {"write_dot, a NULL node", dot_null_entry, E, E, "node 1"},
    {"write_dot, another graph", dot_other_graph, E, E, "another graph"},
    {"write_dot(out NULL)", dot_null_out, E, E, "out"},
    {"write_dot rankdir 99", dot_bad_rankdir, E, E, "rankdir"},
    {"write_dot rankdir -1", dot_neg_rankdir, E, E, "rankdir"},
    {"write_dot view 7", dot_bad_view, E, E, "view"},
    {"write_dot threshold SIZE_MAX", dot_huge_threshold, DUSK_OK, LAST_NONE,
     NULL},
    {"visualize(path NULL)", vis_null_path, E, E, "path"},
    {"visualize(path \"\")", vis_empty_path, E, E, NULL},
    {"visualize(\".txt\")", vis_bad_ext, E, E, NULL},
    {"visualize(no extension)", vis_no_ext, E, E, NULL},
    {"visualize(NULL graph)", vis_null_graph, E, E, "graph"},
    {"visualize, another graph", vis_other, E, E, "another graph"},
    {"visualize into a missing directory", vis_no_dir, DUSK_EIO, DUSK_EIO,
     NULL},
    {"visualize_opt view -5", vis_opt_bad, E, E, "view"},
};

static const hcase k_futures[] = {
    {"start(NULL graph)", start_null_graph, E, E, "graph"},
    {"start n -1", start_neg, E, E, "-1"},
    {"start n INT_MAX, nodes NULL", start_int_max_null, E, E, "nodes"},
    {"start, a NULL node", start_null_entry, E, E, "NULL"},
    {"start, another graph", start_other, E, E, "another graph"},
    {"submit(NULL graph)", submit_null_graph, RET_NULL, E, "graph"},
    {"submit(NULL fn)", submit_null_fn, RET_NULL, E, "function"},
    {"submit nargs -1", submit_neg, RET_NULL, E, "-1"},
    {"submit nargs INT_MAX, args NULL", submit_int_max_null, RET_NULL, E,
     "arguments"},
    {"submit_named, another graph", submit_other, RET_NULL, E,
     "another graph"},
    {"future, another graph", future_other, RET_NULL, E, "another graph"},
    {"status(NULL)", status_null, DUSK_NOT_STARTED, LAST_NONE, NULL},
    {"ready(NULL)", ready_null, 0, LAST_NONE, NULL},
    {"wait(NULL)", wait_null, E, E, NULL},
    {"wait_for(NULL, 0)", wait_for_null, E, E, NULL},
    {"wait_for(NULL, -1)", wait_for_null_forever, E, E, NULL},
    {"get(NULL)", get_null, E, E, NULL},
    {"wait_any(NULL)", wait_any_null, E, E, "nodes"},
    {"wait_any count 0", wait_any_zero, E, E, "0"},
    {"wait_any count -1", wait_any_neg, E, E, "-1"},
    {"wait_any count INT_MAX, nodes NULL", wait_any_int_max_null, E, E,
     "nodes"},
    {"wait_any, a NULL node", wait_any_null_entry, E, E, "node 0"},
    {"on_done(NULL node)", on_done_null_node, E, E, "node"},
    {"on_done(NULL callback)", on_done_null_cb, E, E, "callback"},
    {"cancel(NULL)", cancel_null, E, E, "NULL"},
    {"cancel of a literal", cancel_literal, E, E, "literal"},
    {"cancel of a done node", cancel_done, E, E, "finished"},
    {"map(NULL graph)", map_null_graph, E, E, "graph"},
    {"map(NULL fn)", map_null_fn, E, E, "function"},
    {"map end < begin", map_end_before, E, E, "end"},
    {"map chunk -1", map_neg_chunk, E, E, "chunk"},
    {"map of INT64_MAX chunks", map_too_many, E, E, "chunks"},
    {"map from INT64_MIN to INT64_MAX", map_extremes, E, E, NULL},
    {"map, too little room", map_no_room, E, E, "room"},
    {"map, max -1", map_neg_max, E, E, "room"},
    {"reduce(NULL graph)", reduce_null_graph, RET_NULL, E, NULL},
    {"reduce(NULL fn)", reduce_null_fn, RET_NULL, E, NULL},
    {"reduce(nodes NULL)", reduce_null_nodes, RET_NULL, E, NULL},
    {"reduce count 0", reduce_zero, RET_NULL, E, NULL},
    {"reduce count -1", reduce_neg_count, RET_NULL, E, NULL},
    {"reduce count INT_MAX, nodes NULL", reduce_int_max_null, RET_NULL, E,
     NULL},
    {"reduce split_every 1", reduce_split_one, RET_NULL, E, "split_every"},
    {"reduce split_every -3", reduce_split_neg, RET_NULL, E, "split_every"},
    {"reduce, a NULL node", reduce_null_entry, RET_NULL, E, NULL},
    {"reduce, another graph", reduce_other, RET_NULL, E, "another graph"},
};

#undef E

/* ---- running a table */

typedef struct hrun {
  const hcase *c;
  long got;
  int code_before, msg_before_empty;
  int code;
  char msg[256];
} hrun;

static void *hrun_main(void *arg) {
  hrun *r = arg;
  const char *m = NULL;
  r->code_before = dusk_last_error(&m);
  r->msg_before_empty = m != NULL && m[0] == '\0';
  r->got = r->c->run();
  m = NULL;
  r->code = dusk_last_error(&m);
  snprintf(r->msg, sizeof r->msg, "%s", m != NULL ? m : "(NULL)");
  return NULL;
}

static void run_table(const char *what, const hcase *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const hcase *c = &cases[i];
    rewind(F.file);
    ck_assert_int_eq(ftruncate(fileno(F.file), 0), 0);
    size_t size = dusk_graph_size(F.g), size2 = dusk_graph_size(F.g2);
    hrun r = {.c = c};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, hrun_main, &r), 0);
    pthread_join(th, NULL);
    ck_assert_msg(r.code_before == DUSK_OK && r.msg_before_empty,
                  "%s: a fresh thread's last error is not DUSK_OK, \"\"",
                  c->name);
    ck_assert_msg(r.got != BAD_OUT, "%s: the case's own check failed",
                  c->name);
    ck_assert_msg(r.got == c->want, "%s: returned %ld, want %ld", c->name,
                  r.got, c->want);
    if (c->last == LAST_NONE) {
      ck_assert_msg(r.code == DUSK_OK && r.msg[0] == '\0',
                    "%s: a no-op set the last error %d \"%s\"", c->name,
                    r.code, r.msg);
    } else if (c->last != LAST_ANY) {
      ck_assert_msg(r.code == c->last,
                    "%s: dusk_last_error() is %d (%s), want %d: \"%s\"",
                    c->name, r.code, dusk_strerror(r.code), c->last, r.msg);
      ck_assert_msg(r.msg[0] != '\0' && strcmp(r.msg, "(NULL)") != 0,
                    "%s: no message", c->name);
      if (c->msg != NULL)
        ck_assert_msg(strstr(r.msg, c->msg) != NULL,
                      "%s: the message \"%s\" does not say \"%s\"", c->name,
                      r.msg, c->msg);
    }
    /* A refused builder changes no graph. */
    if (c->last != LAST_NONE && c->last != LAST_ANY)
      ck_assert_msg(dusk_graph_size(F.g) == size &&
                        dusk_graph_size(F.g2) == size2,
                    "%s: a refused call changed a graph (%zu -> %zu nodes)",
                    c->name, size, dusk_graph_size(F.g));
  }
  /* The graph still computes after all that. */
  dusk_value out;
  ck_assert_int_eq(dusk_compute(F.g, F.kept, &out), DUSK_OK);
  ck_assert_int_eq(out.i64, 9);
  printf("hostile: %s: %zu cases\n", what, n);
}

#define RUN_TABLE(what, t) run_table(what, t, sizeof t / sizeof t[0])

START_TEST(test_api_values) {
  fx_up();
  RUN_TABLE("values and errors", k_values);
  fx_down();
}
END_TEST

START_TEST(test_api_graphs_and_calls) {
  fx_up();
  RUN_TABLE("graphs, literals, calls", k_graphs);
  fx_down();
}
END_TEST

START_TEST(test_api_names_nodes_tasks) {
  big_make();
  fx_up();
  RUN_TABLE("names, nodes, tasks", k_names);
  fx_down();
}
END_TEST

START_TEST(test_api_pools) {
  fx_up();
  RUN_TABLE("pools", k_pools);
  fx_down();
}
END_TEST

START_TEST(test_api_compute_and_results) {
  fx_up();
  RUN_TABLE("compute, results", k_compute);
  fx_down();
}
END_TEST

START_TEST(test_api_dot) {
  fx_up();
  RUN_TABLE("DOT and visualize", k_dot);
  fx_down();
}
END_TEST

START_TEST(test_api_futures) {
  fx_up();
  RUN_TABLE("futures", k_futures);
  ck_assert_int_eq(tu_ldi(&g_cb_calls), 0);
  fx_down();
}
END_TEST

/*
** dusk_compute_many(g, INT_MAX, NULL, outs): the nodes are missing, so the
** call is refused; it must not write INT_MAX values into outs, which the
** caller sized for the nodes it meant to pass (here 4).
*/
START_TEST(test_api_many_huge_count_with_outs) {
  fx_up();
  dusk_value outs[4];
  for (int i = 0; i < 4; i++)
    outs[i] = dusk_i64(7);
  int rc = dusk_compute_many(F.g, INT_MAX, NULL, outs);
  ck_assert_int_eq(rc, DUSK_EINVAL);
  rc = dusk_compute_many(F.g, -5, NULL, outs);
  ck_assert_int_eq(rc, DUSK_EINVAL);
  fx_down();
}
END_TEST

/* ====================================================== hostile tasks */

/* Tasks that misbehave: each compute fails cleanly with a message. */
START_TEST(test_tasks_misbehave) {
  big_make();
  fx_up();
  typedef struct {
    const char *name;
    dusk_fn fn;
  } mtask;
  const mtask tasks[] = {
      {"dusk_fail(t, NULL)", t_fail_null_fmt},
      {"dusk_fail(t, \"%s\", \"%s%n%x%%\")", t_fail_pct},
      {"dusk_fail(t, \"%s\", 1 MiB)", t_fail_big},
      {"a value of kind 77", t_bad_kind},
      {"returns 12345", t_positive},
      {"returns INT_MIN", t_int_min},
  };
  for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
    dusk_node *bad = dusk_call_named(F.g, "%s%n%x", tasks[i].fn, NULL, 1,
                                     &F.lit);
    dusk_node *after = dusk_delayed(F.g, t_sum, bad, F.kept);
    ck_assert(bad != NULL && after != NULL);
    dusk_value out = dusk_i64(1);
    int rc = dusk_compute(F.g, after, &out);
    ck_assert_msg(rc != DUSK_OK, "%s: the compute succeeded", tasks[i].name);
    ck_assert_msg(out.kind == DUSK_NONE, "%s: out of a failed compute",
                  tasks[i].name);
    const char *m = dusk_errmsg(bad);
    const char *ma = dusk_errmsg(after);
    ck_assert_msg(m != NULL && m[0] != '\0', "%s: no message", tasks[i].name);
    ck_assert_msg(tu_has(m, "%s%n%x"), "%s: the message does not name the "
                  "node: %.200s", tasks[i].name, m);
    ck_assert_msg(tu_has(ma, "not run") && tu_has(ma, "%s%n%x"),
                  "%s: the dependent's message: %.200s", tasks[i].name,
                  ma ? ma : "(null)");
    ck_assert_msg(dusk_errcode(bad) == rc || dusk_errcode(bad) == DUSK_ETASK,
                  "%s: errcode %d, compute %d", tasks[i].name,
                  dusk_errcode(bad), rc);
    if (tasks[i].fn == t_fail_pct)
      ck_assert_msg(tu_has(m, "%s%n%x%%"), "message: %s", m);
    if (tasks[i].fn == t_fail_big)
      ck_assert_msg(strlen(m) >= BIG, "a message of %zu bytes", strlen(m));
    if (tasks[i].fn == t_positive || tasks[i].fn == t_int_min)
      ck_assert_int_eq(rc, tasks[i].fn == t_positive ? 12345 : INT_MIN);
    /* The failed nodes draw, whatever their names and messages. */
    rewind(F.file);
    ck_assert_int_eq(ftruncate(fileno(F.file), 0), 0);
    ck_assert_int_eq(dusk_write_dot(F.g, &after, 1, F.file, NULL), DUSK_OK);
    ck_assert_int_gt(ftell(F.file), 0);
    /* The value a task handed over is released, even of a bad kind. */
    ck_assert_msg(tu_ldl(&tu_st.live) == 0,
                  "%s: %ld counted values not released", tasks[i].name,
                  tu_ldl(&tu_st.live));
  }
  fx_down();
}
END_TEST

/* A name of a mebibyte: kept whole, cut in messages and in DOT labels. */
START_TEST(test_tasks_huge_name) {
  big_make();
  fx_up();
  dusk_node *n = dusk_delayed(F.g, t_fail_pct, F.lit);
  dusk_set_name(n, "%s", g_big);
  ck_assert_uint_eq(strlen(dusk_name(n)), BIG);
  ck_assert_int_eq(dusk_compute(F.g, n, NULL), DUSK_ETASK);
  const char *m = dusk_errmsg(n);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(tu_has(m, "%s%n%x%%"), "message: %.300s", m);
  ck_assert_int_eq(dusk_write_dot(F.g, &n, 1, F.file, NULL), DUSK_OK);
  long size = ftell(F.file);
  printf("hostile: DOT of a node named with 1 MiB: %ld bytes\n", size);
  ck_assert_msg(size > 0 && size < 64 * 1024,
                "DOT of one node with a 1 MiB name is %ld bytes (labels are "
                "cut at 200 bytes)",
                size);
  fx_down();
}
END_TEST

/* ====================================================== DUSK_NUM_THREADS */

typedef struct child_report {
  int default_size;
  int pool0_size;
  int computed;
} child_report;

static int cores_now(int *alt) {
  cpu_set_t set;
  *alt = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
  return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* In the child: make the default pool, compute on it, report. */
static int num_threads_child(int fd) {
  child_report r = {0};
  dusk_pool *d = dusk_default_pool();
  r.default_size = d != NULL ? dusk_pool_size(d) : -1;
  dusk_graph *g = dusk_graph_new();
  dusk_node *l = dusk_literal(g, dusk_i64(1));
  dusk_value out;
  r.computed = dusk_compute(g, dusk_delayed(g, t_sum, l), &out) == DUSK_OK &&
               out.i64 == 2;
  dusk_graph_free(g);
  dusk_pool *p0 = dusk_pool_new(0);
  r.pool0_size = p0 != NULL ? dusk_pool_size(p0) : -1;
  dusk_pool_free(p0);
  return write(fd, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1;
}

/* Run the child in a new image with DUSK_NUM_THREADS=env; stderr to err. */
static child_report run_child(const char *env, char *err, size_t errlen) {
  child_report rep;
  memset(&rep, 0, sizeof rep);
  int pfd[2];
  ck_assert_int_eq(pipe(pfd), 0);
  FILE *errf = tmpfile();
  ck_assert_ptr_nonnull(errf);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char fd[16];
    snprintf(fd, sizeof fd, "%d", pfd[1]);
    close(pfd[0]);
    dup2(fileno(errf), 2);
    setenv("DUSK_TEST_HOSTILE_CHILD", fd, 1);
    setenv("DUSK_NUM_THREADS", env, 1);
    execl("/proc/self/exe", "test_hostile", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  ssize_t got = read(pfd[0], &rep, sizeof rep);
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  fflush(errf);
  rewind(errf);
  size_t n = fread(err, 1, errlen - 1, errf);
  err[n] = '\0';
  fclose(errf);
  ck_assert_msg(got == (ssize_t)sizeof rep && WIFEXITED(status) &&
                    WEXITSTATUS(status) == 0,
                "child for DUSK_NUM_THREADS=\"%s\" failed (status %d): %s",
                env, status, err);
  return rep;
}

enum { CORES_WARN, CORES_MAYBE_WARN, TAKEN_OR_WARN, TAKEN };

START_TEST(test_num_threads_hostile_values) {
  static const struct {
    const char *env;
    int expect;
    int n; /* TAKEN, TAKEN_OR_WARN: the number if taken */
  } cases[] = {
      {"abc", CORES_WARN, 0},
      {"-1", CORES_WARN, 0},
      {"0", CORES_WARN, 0},
      {"100000", CORES_WARN, 0},
      {"1025", CORES_WARN, 0},
      {"99999999999999999999", CORES_WARN, 0},
      {"-99999999999999999999", CORES_WARN, 0},
      {"2147483648", CORES_WARN, 0},
      {"4294967297", CORES_WARN, 0},
      {"0x10", CORES_WARN, 0},
      {"1e3", CORES_WARN, 0},
      {"3 threads", CORES_WARN, 0},
      {"%s%n%x", CORES_WARN, 0},
      {"", CORES_MAYBE_WARN, 0},
      {" 7", TAKEN_OR_WARN, 7},
      {"7 ", TAKEN_OR_WARN, 7},
      {"+7", TAKEN_OR_WARN, 7},
      {"07", TAKEN_OR_WARN, 7},
      {"5", TAKEN, 5},
      {"1", TAKEN, 1},
  };
  int alt, cores = cores_now(&alt);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[2048];
    const char *env = cases[i].env;
    child_report r = run_child(env, err, sizeof err);
    int is_cores = r.default_size == cores || r.default_size == alt;
    int warned = err[0] != '\0';
    printf("hostile: DUSK_NUM_THREADS=\"%s\": %d thread(s)%s\n", env,
           r.default_size, warned ? ", with a warning" : "");
    ck_assert_msg(r.computed, "DUSK_NUM_THREADS=\"%s\": no compute", env);
    ck_assert_msg(r.pool0_size == r.default_size,
                  "DUSK_NUM_THREADS=\"%s\": pool_new(0) has %d, default %d",
                  env, r.pool0_size, r.default_size);
    switch (cases[i].expect) {
    case CORES_WARN:
      ck_assert_msg(is_cores, "DUSK_NUM_THREADS=\"%s\": %d threads, %d cores",
                    env, r.default_size, cores);
      ck_assert_msg(warned, "DUSK_NUM_THREADS=\"%s\": no warning", env);
      ck_assert_msg(strstr(err, "DUSK_NUM_THREADS") != NULL,
                    "the warning does not name the variable: %s", err);
      break;
    case CORES_MAYBE_WARN:
      ck_assert_msg(is_cores, "DUSK_NUM_THREADS=\"%s\": %d threads, %d cores",
                    env, r.default_size, cores);
      break;
    case TAKEN:
      ck_assert_msg(r.default_size == cases[i].n && !warned,
                    "DUSK_NUM_THREADS=\"%s\": %d threads: %s", env,
                    r.default_size, err);
      break;
    case TAKEN_OR_WARN:
      ck_assert_msg(r.default_size == cases[i].n || (is_cores && warned),
                    "DUSK_NUM_THREADS=\"%s\": %d threads, no warning", env,
                    r.default_size);
      if (r.default_size == cases[i].n && cases[i].n != cores)
        ck_assert_msg(!warned, "DUSK_NUM_THREADS=\"%s\" taken, but warned: %s",
                      env, err);
      break;
    }
  }
}
END_TEST

/* ====================================================== suite */

static Suite *hostile_suite(void) {
  Suite *s = suite_create("hostile");
  double timeout = TU_SANITIZED ? 600 : 120;
  TCase *tc;

  tc = tcase_create("api");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_api_values);
  tcase_add_test(tc, test_api_graphs_and_calls);
  tcase_add_test(tc, test_api_names_nodes_tasks);
  tcase_add_test(tc, test_api_pools);
  tcase_add_test(tc, test_api_compute_and_results);
  tcase_add_test(tc, test_api_dot);
  tcase_add_test(tc, test_api_futures);
  tcase_add_test(tc, test_api_many_huge_count_with_outs);
  suite_add_tcase(s, tc);

  tc = tcase_create("tasks");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_tasks_misbehave);
  tcase_add_test(tc, test_tasks_huge_name);
  suite_add_tcase(s, tc);

  tc = tcase_create("num_threads");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_num_threads_hostile_values);
  suite_add_tcase(s, tc);

  return s;
}

int main(void) {
  const char *child = getenv("DUSK_TEST_HOSTILE_CHILD");
  if (child != NULL)
    return num_threads_child(atoi(child));
  return tu_run(hostile_suite());
}
