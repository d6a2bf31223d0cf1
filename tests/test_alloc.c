/*
** test_alloc: every allocation of a representative scenario made to fail.
**
** The idea is SQLite's fault tests (malloc.test) and Lua's ltests.c: run a
** scenario that touches the whole API once with no failure, counting the
** allocations it makes; then for N = 1, 2, 3, ... up to that count run it
** again with the N-th allocation failing (and, in the sticky mode, every one
** after it), through the allocator's test hook dusk__alloc_fail_after().
** Each time, every public call must succeed or report DUSK_ENOMEM (a refused
** builder returns NULL with dusk_last_error() == DUSK_ENOMEM), nothing may
** crash or hang, every counted value must be released exactly once, the
** graph must still free, and once failures are off the very same graph must
** compute the right values and messages.
**
** The scenario (scenario_fail): a 1-thread pool and a graph; literals of
** every kind, two of them counted boxes; calls of arity 0, 1, 2, 3 and 10
** (more than the inline argument slots), and a fan of 300 boxed calls summed
** by one call (several node chunks, a claimed list that grows, dependents
** in cells); pure literals (a counted box made twice: one node, the second
** box released at once) and pure calls (made twice: one node, which must
** hold once memory is back; one of them on the pure literal); dusk_delayed
** names and dusk_set_name; statistics on for the whole scenario (every task
** timed into the per-chunk tables, every compute counted, read back with
** dusk_graph_stats); a compute of one target; dusk_compute_many of several
** targets, one of them a task that computes a nested graph from inside the
** task on the same 1-thread pool; a compute_many with a failing task among
** its needs; dusk_errmsg/dusk_errcode of the failed and the not-run nodes;
** dusk_take and dusk_release; dusk_write_dot with durations into a
** tmpfile; then a second
** pool and graph made, computed and freed while failures go on. Then
** (scenario_recover) failures are turned off and the first graph is
** completed, computed, checked, drawn and freed.
**
** dusk keeps some memory process-wide for reuse (computes, slabs, argument
** arrays), so a point means something else with warm caches than in a fresh
** process. Hence two sweeps of each mode: "single" and "sticky" run every
** point in the test process after a warm-up run; "cold_single" and
** "cold_sticky" run every point in a child process forked from a process
** that has not used dusk yet, so that the first allocations of the caches
** fail too. A cold sweep goes on past a failing point, reports each (up to
** ten), and fails at the end.
**
** The count of allocation points is found by search (the hook reports how
** many allocations failed: none once N is past the last one). DUSK_ALLOC_N=n
** with DUSK_ALLOC_STICKY=0|1 replays one point (CK_RUN_CASE picks warm or
** cold). In sanitizer builds, if the count is large, a stride of the points
** is swept; the test prints how many points it swept.
**
** Two smaller cases: "names" (dusk_delayed under a failure keeps the name it
** promises, or is refused) and "default_pool" (no memory at the default
** pool's first use: once memory is back, the graph computes).
*/
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dusk.h"
#include "src/alloc.h"
#include "testutil.h"

/* ====================================================== where we are */

/* The point being swept, for messages and for the watchdog. */
static atomic_long g_point;
static atomic_int g_sticky;
static _Atomic(const char *) g_step = "";
static atomic_long g_progress; /* bumped at each step */

/*
** A check that names the point and the step, so that a failure can be
** replayed with DUSK_ALLOC_N and DUSK_ALLOC_STICKY.
*/
#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      char what_[512];                                                        \
      snprintf(what_, sizeof what_, __VA_ARGS__);                             \
      fail_now(#cond, what_);                                                 \
    }                                                                         \
  } while (0)

/*
** In a child of the cold sweep (g_child_fd >= 0) a failure goes to the
** parent through a pipe; in the test process, to Check.
*/
static int g_child_fd = -1;

static void fail_now(const char *cond, const char *what) {
  char msg[1024];
  snprintf(msg, sizeof msg, "point N=%ld %s, step %s: %s: %s",
           atomic_load(&g_point), atomic_load(&g_sticky) ? "sticky" : "single",
           atomic_load(&g_step), cond, what);
  if (g_child_fd >= 0) {
    ssize_t w = write(g_child_fd, msg, strlen(msg));
    (void)w;
    _exit(1);
  }
  ck_abort_msg("%s", msg);
}

static void step(const char *name) {
  atomic_store(&g_step, name);
  atomic_fetch_add(&g_progress, 1);
}

/*
** A hang shows as no step for a long time: say which point hung, then
** abort (Check reports the signal), rather than wait for Check's timeout,
** which would not say where.
*/
static atomic_int g_watch_stop;

static void *watchdog_main(void *arg) {
  (void)arg;
  double limit = TU_SANITIZED ? 60000 : 20000;
  long last = -1;
  double since = tu_now_ms();
  while (!atomic_load(&g_watch_stop)) {
    tu_sleep_ms(50);
    long now = atomic_load(&g_progress);
    if (now != last) {
      last = now;
      since = tu_now_ms();
    } else if (tu_now_ms() - since > limit) {
      fprintf(stderr,
              "test_alloc: no progress for %.0f s at point N=%ld (%s), step "
              "%s: a hang\n",
              limit / 1000, atomic_load(&g_point),
              atomic_load(&g_sticky) ? "sticky" : "single",
              atomic_load(&g_step));
      abort();
    }
  }
  return NULL;
}

static pthread_t watchdog_start(void) {
  pthread_t th;
  atomic_store(&g_watch_stop, 0);
  ck_assert_int_eq(pthread_create(&th, NULL, watchdog_main, NULL), 0);
  return th;
}

static void watchdog_stop(pthread_t th) {
  atomic_store(&g_watch_stop, 1);
  pthread_join(th, NULL);
}

/* ====================================================== tasks */

/*
** Problems seen on worker threads, where Check must not assert: counted,
** and the first one described, for the test thread to report.
*/
static atomic_long g_violations;
static char g_violation[256];

static void violation(const char *what, int code) {
  if (atomic_fetch_add(&g_violations, 1) == 0)
    snprintf(g_violation, sizeof g_violation, "%s (code %d)", what, code);
}

/* 1 + the sum of the arguments, as a DUSK_I64. */
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

/* t_sum under a name of its own: the pure calls are the first to name it,
   so building their node allocates. */
static int t_pure(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  return t_sum(t, args, nargs, out);
}

/* Writes a counted box, then fails: dusk must release the box. */
static int t_fail(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  *out = tu_box_new(666);
  return dusk_fail(t, "boom %d", 7);
}

/*
** A nested compute: build in the task's own graph a counted-box literal 10,
** b = t_sum(a) and c = t_box(b, a) (22), compute c from inside the task
** (on the 1-thread pool: the waiting worker runs b and c itself), take c's
** result out, and return args[0] + 22. Under allocation failures every call
** must succeed or report DUSK_ENOMEM; the task then returns that code.
*/
static int t_nest(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  dusk_graph *g = dusk_task_graph(t);
  dusk_value box = tu_box_new(10);
  tu_box *raw = box.ptr;
  dusk_node *a = dusk_literal(g, box);
  if (a == NULL) {
    int code = dusk_last_error(NULL);
    if (code != DUSK_ENOMEM)
      violation("nested literal refused without DUSK_ENOMEM", code);
    if (atomic_load(&raw->state) == TU_BOX_LIVE)
      violation("a refused nested literal kept its value", 0);
    return DUSK_ENOMEM;
  }
  dusk_node *b = dusk_delayed(g, t_sum, a);
  dusk_node *c = b != NULL ? dusk_delayed(g, t_box, b, a) : NULL;
  if (c == NULL) {
    int code = dusk_last_error(NULL);
    if (code != DUSK_ENOMEM)
      violation("nested call refused without DUSK_ENOMEM", code);
    return DUSK_ENOMEM;
  }
  dusk_value v;
  int rc = dusk_compute(g, c, &v);
  if (rc != DUSK_OK) {
    if (rc != DUSK_ENOMEM)
      violation("nested compute: neither DUSK_OK nor DUSK_ENOMEM", rc);
    if (v.kind != DUSK_NONE)
      violation("nested compute failed but *out is not DUSK_NONE", v.kind);
    return rc;
  }
  int64_t inner = tu_get(&v);
  if (inner != 22)
    violation("nested compute: wrong value", (int)inner);
  dusk_value mine;
  int trc = dusk_take(c, &mine);
  if (trc != DUSK_OK)
    violation("nested take of a kept result failed", trc);
  else
    dusk_value_clear(&mine);
  *out = dusk_i64((nargs > 0 ? tu_get(&args[0]) : 0) + inner);
  return 0;
}

/* ====================================================== the scenario */

enum {
  S_LIT_I,  /* 5                                           */
  S_LIT_F,  /* 2.5                                         */
  S_LIT_B1, /* box 100                                     */
  S_LIT_B2, /* box 1000                                    */
  S_LIT_N,  /* DUSK_NONE                                   */
  S_LP1,    /* dusk_literal_pure(box 100)                  */
  S_LP2,    /* the same again: S_LP1's node                */
  S_C0,     /* t_box()                          = box 1    */
  S_C1,     /* t_sum(LIT_I)                     = 6        */
  S_C2,     /* t_box(C1, LIT_B1)                = box 107  */
  S_C3,     /* t_box(C0, C2, LIT_F)             = box 111  */
  S_WIDE,   /* t_sum of ten (one of them NONE)  = 1233     */
  S_BAD,    /* t_fail(C1)                       fails      */
  S_AFTER,  /* t_sum(BAD, C3)                   not run    */
  S_NEST,   /* t_nest(C2)                       = 129      */
  S_FAN,    /* t_sum of FAN_N t_box(LIT_B1)     = 30301    */
  S_P1,     /* dusk_delayed_pure(t_pure, LIT_I) = 6        */
  S_P2,     /* the same again: S_P1's node      = 6        */
  S_P3,     /* dusk_call_pure(t_box, P2, LP2)   = box 107  */
  S_N
};

/* The fan: enough nodes for several chunks, a claimed list that grows,
   dependents in cells, and one call with many arguments. */
enum { FAN_N = 300 };

static const int64_t k_expect[S_N] = {
    [S_C0] = 1,      [S_C1] = 6,   [S_C2] = 107, [S_C3] = 111,
    [S_WIDE] = 1233, [S_NEST] = 129, [S_FAN] = 1 + FAN_N * 101,
    [S_P1] = 6,      [S_P2] = 6,   [S_P3] = 107};

typedef struct scen {
  dusk_pool *pool;
  dusk_graph *g;
  dusk_node *n[S_N];
  dusk_node *fan[FAN_N];
  int a_ok; /* the first compute (of C3) succeeded */
} scen;

static int has(const scen *s, int a, int b, int c) {
  return (a < 0 || s->n[a]) && (b < 0 || s->n[b]) && (c < 0 || s->n[c]);
}

/* A literal holding a counted box: refused, the box must be released. */
static dusk_node *box_literal(scen *s, int64_t v) {
  dusk_value box = tu_box_new(v);
  tu_box *raw = box.ptr;
  dusk_node *n = dusk_literal(s->g, box);
  if (n == NULL)
    CHECK(atomic_load(&raw->state) == TU_BOX_DEAD,
          "a refused literal did not release its value exactly once");
  return n;
}

/* A pure literal of a counted box: refused, or the node of an equal box
   found, the box must be released at once. */
static dusk_node *box_literal_pure(scen *s, int64_t v, dusk_node *same) {
  dusk_value box = tu_box_new(v);
  tu_box *raw = box.ptr;
  dusk_node *n = dusk_literal_pure(s->g, box);
  if (n == NULL || n == same)
    CHECK(atomic_load(&raw->state) == TU_BOX_DEAD,
          "a pure literal refused or found kept its value");
  return n;
}

static dusk_node *build_slot(scen *s, int k) {
  dusk_graph *g = s->g;
  dusk_node **n = s->n;
  switch (k) {
  case S_LIT_I:
    return dusk_literal(g, dusk_i64(5));
  case S_LIT_F:
    return dusk_literal(g, dusk_f64(2.5));
  case S_LIT_B1:
    return box_literal(s, 100);
  case S_LIT_B2:
    return box_literal(s, 1000);
  case S_LIT_N: {
    dusk_value none = dusk_i64(0);
    none.kind = DUSK_NONE;
    return dusk_literal(g, none);
  }
  case S_LP1:
  case S_LP2:
    return box_literal_pure(s, 100, n[k == S_LP1 ? S_LP2 : S_LP1]);
  case S_C0:
    return dusk_delayed(g, t_box);
  case S_C1:
    return has(s, S_LIT_I, -1, -1) ? dusk_delayed(g, t_sum, n[S_LIT_I]) : NULL;
  case S_C2:
    if (!has(s, S_C1, S_LIT_B1, -1))
      return NULL;
    return dusk_call(g, t_box, NULL, 2, (dusk_node *[]){n[S_C1], n[S_LIT_B1]});
  case S_C3:
    if (!has(s, S_C0, S_C2, S_LIT_F))
      return NULL;
    return dusk_delayed(g, t_box, n[S_C0], n[S_C2], n[S_LIT_F]);
  case S_WIDE: {
    if (!has(s, S_LIT_I, S_LIT_F, S_LIT_B1) || !has(s, S_LIT_B2, S_C0, S_C1) ||
        !has(s, S_C2, S_LIT_N, -1))
      return NULL;
    dusk_node *args[10] = {n[S_LIT_I], n[S_LIT_F], n[S_LIT_B1], n[S_LIT_B2],
                           n[S_C0],    n[S_C1],    n[S_C2],     n[S_LIT_I],
                           n[S_C1],    n[S_LIT_N]};
    return dusk_call_named(g, "wide", t_sum, NULL, 10, args);
  }
  case S_BAD:
    return has(s, S_C1, -1, -1) ? dusk_delayed(g, t_fail, n[S_C1]) : NULL;
  case S_AFTER:
    return has(s, S_BAD, S_C3, -1)
               ? dusk_delayed(g, t_sum, n[S_BAD], n[S_C3])
               : NULL;
  case S_NEST:
    return has(s, S_C2, -1, -1) ? dusk_delayed(g, t_nest, n[S_C2]) : NULL;
  case S_FAN:
    for (int i = 0; i < FAN_N; i++)
      if (s->fan[i] == NULL)
        return NULL;
    return dusk_call(g, t_sum, NULL, FAN_N, s->fan);
  case S_P1:
  case S_P2:
    return has(s, S_LIT_I, -1, -1) ? dusk_delayed_pure(g, t_pure, n[S_LIT_I])
                                   : NULL;
  case S_P3:
    if (!has(s, S_P2, S_LP2, -1))
      return NULL;
    return dusk_call_pure(g, t_box, NULL, 2,
                          (dusk_node *[]){n[S_P2], n[S_LP2]});
  }
  return NULL;
}

/* Could slot k be built now (its arguments exist)? */
static int buildable(const scen *s, int k) {
  switch (k) {
  case S_C1:
    return has(s, S_LIT_I, -1, -1);
  case S_C2:
    return has(s, S_C1, S_LIT_B1, -1);
  case S_C3:
    return has(s, S_C0, S_C2, S_LIT_F);
  case S_WIDE:
    return has(s, S_LIT_I, S_LIT_F, S_LIT_B1) &&
           has(s, S_LIT_B2, S_C0, S_C1) && has(s, S_C2, S_LIT_N, -1);
  case S_BAD:
  case S_NEST:
    return has(s, k == S_BAD ? S_C1 : S_C2, -1, -1);
  case S_AFTER:
    return has(s, S_BAD, S_C3, -1);
  case S_FAN:
    return has(s, S_LIT_B1, -1, -1);
  case S_P1:
  case S_P2:
    return has(s, S_LIT_I, -1, -1);
  case S_P3:
    return has(s, S_P2, S_LP2, -1);
  default:
    return 1;
  }
}

static void build_all(scen *s, int must) {
  for (int k = 0; k < S_N; k++) {
    if (s->n[k] != NULL || !buildable(s, k))
      continue;
    if (k == S_FAN) {
      step("build fan");
      for (int i = 0; i < FAN_N; i++) {
        if (s->fan[i] != NULL)
          continue;
        size_t before = dusk_graph_size(s->g);
        s->fan[i] = dusk_delayed(s->g, t_box, s->n[S_LIT_B1]);
        if (must)
          CHECK(s->fan[i] != NULL, "fan %d not built with failures off", i);
        if (s->fan[i] == NULL) {
          CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "fan %d: code %d", i,
                dusk_last_error(NULL));
          CHECK(dusk_graph_size(s->g) == before,
                "a call refused for memory changed the graph");
        }
      }
    }
    step("build");
    size_t before = dusk_graph_size(s->g);
    s->n[k] = build_slot(s, k);
    if (must)
      CHECK(s->n[k] != NULL, "slot %d not built with failures off (%s)", k,
            dusk_strerror(dusk_last_error(NULL)));
    if (s->n[k] == NULL) {
      CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "slot %d: code %d", k,
            dusk_last_error(NULL));
      /* A refused call changes nothing (a refused literal may leave an
         unused node behind: see dusk_literal in src/api.c). */
      if (k >= S_C0)
        CHECK(dusk_graph_size(s->g) == before,
              "a call refused for memory changed the graph (%zu -> %zu)",
              before, dusk_graph_size(s->g));
    }
  }
  /* A pure call or literal made twice is one node, whenever both exist
     (also when the first was refused and made later). */
  CHECK(!s->n[S_P1] || !s->n[S_P2] || s->n[S_P1] == s->n[S_P2],
        "a pure call made twice gave two nodes");
  CHECK(!s->n[S_LP1] || !s->n[S_LP2] || s->n[S_LP1] == s->n[S_LP2],
        "a pure literal made twice gave two nodes");
}

/* The node's name: after a rename, the new one or (no memory) the old. */
static void check_rename(dusk_node *n, const char *want, const char *old) {
  const char *name = dusk_name(n);
  CHECK(name != NULL && (strcmp(name, want) == 0 || strcmp(name, old) == 0),
        "name \"%s\", want \"%s\" or \"%s\"", name ? name : "(null)", want,
        old);
}

static void rename_nodes(scen *s) {
  step("set_name");
  if (s->n[S_C2]) {
    char old[64];
    snprintf(old, sizeof old, "%s", dusk_name(s->n[S_C2]));
    dusk_set_name(s->n[S_C2], "sum-%d", 2);
    check_rename(s->n[S_C2], "sum-2", old);
  }
  if (s->n[S_WIDE]) {
    char old[64];
    snprintf(old, sizeof old, "%s", dusk_name(s->n[S_WIDE]));
    dusk_set_name(s->n[S_WIDE], "%s", "wide%s%n%x");
    check_rename(s->n[S_WIDE], "wide%s%n%x", old);
  }
}

/* rc is allowed, and *out agrees with it. */
static void check_result(int rc, int want_fail, const dusk_value *out,
                         int slot) {
  if (want_fail)
    CHECK(rc == DUSK_ETASK || rc == DUSK_ENOMEM, "rc %d (%s)", rc,
          dusk_strerror(rc));
  else
    CHECK(rc == DUSK_OK || rc == DUSK_ENOMEM, "rc %d (%s)", rc,
          dusk_strerror(rc));
  if (rc != DUSK_OK) {
    CHECK(out->kind == DUSK_NONE, "a failed compute gave an out of kind %d",
          out->kind);
  } else if (slot >= 0) {
    CHECK(tu_get(out) == k_expect[slot], "slot %d: %lld, want %lld", slot,
          (long long)tu_get(out), (long long)k_expect[slot]);
  }
}

/*
** The statistics of the last compute that ran something (this one may
** have failed for memory before it could, or found its results kept):
** present once one has, and consistent.
*/
static void check_stats(dusk_graph *g) {
  dusk_stats st;
  int src = dusk_graph_stats(g, &st);
  CHECK(src == DUSK_OK || src == DUSK_ENORESULT, "graph_stats: %d", src);
  if (src != DUSK_OK)
    return;
  CHECK(st.tasks + st.not_run == st.nodes && st.failed <= st.tasks,
        "%llu tasks + %llu not run != %llu nodes",
        (unsigned long long)st.tasks, (unsigned long long)st.not_run,
        (unsigned long long)st.nodes);
  CHECK(st.nodes > 0 && st.wall_s > 0, "%llu nodes in %g s",
        (unsigned long long)st.nodes, st.wall_s);
}

/* Every node that failed has a message, and only those. */
static void check_messages(scen *s) {
  step("errmsg");
  for (int k = 0; k < S_N; k++) {
    dusk_node *n = s->n[k];
    if (n == NULL)
      continue;
    int code = dusk_errcode(n);
    const char *msg = dusk_errmsg(n);
    CHECK(code == DUSK_OK || code == DUSK_ETASK || code == DUSK_ENOMEM,
          "slot %d: errcode %d", k, code);
    CHECK((code != DUSK_OK) == (msg != NULL),
          "slot %d: errcode %d but errmsg %s", k, code, msg ? msg : "NULL");
    if (msg != NULL)
      CHECK(msg[0] != '\0', "slot %d: an empty message", k);
  }
}

/* Up to S_N nodes of the scenario that exist, from the list given. */
static int gather(const scen *s, const int *slots, int n, dusk_node **out,
                  int *which) {
  int k = 0;
  for (int i = 0; i < n; i++)
    if (s->n[slots[i]] != NULL) {
      which[k] = slots[i];
      out[k++] = s->n[slots[i]];
    }
  return k;
}

static void computes(scen *s) {
  dusk_value out[S_N];
  dusk_node *nodes[S_N];
  int which[S_N];
  /* One target. */
  s->a_ok = 0;
  if (s->n[S_C3]) {
    step("compute C3");
    out[0] = dusk_i64(-1);
    int rc = dusk_compute(s->g, s->n[S_C3], &out[0]);
    check_result(rc, 0, &out[0], S_C3);
    s->a_ok = rc == DUSK_OK;
    check_stats(s->g);
  }
  /* Several, one of which computes a nested graph. */
  static const int many[] = {S_WIDE, S_NEST, S_C2, S_FAN, S_P3};
  int k = gather(s, many, 5, nodes, which);
  if (k > 0) {
    step("compute_many wide,nest,c2,fan,p3");
    for (int i = 0; i < k; i++)
      out[i] = dusk_i64(-1);
    int rc = dusk_compute_many(s->g, k, nodes, out);
    for (int i = 0; i < k; i++)
      check_result(rc, 0, &out[i], which[i]);
  }
  /* Several, with a failing task among their needs. */
  static const int failing[] = {S_AFTER, S_C1, S_WIDE};
  k = gather(s, failing, 3, nodes, which);
  if (k > 0) {
    step("compute_many after,c1,wide");
    for (int i = 0; i < k; i++)
      out[i] = dusk_i64(-1);
    int rc = dusk_compute_many(s->g, k, nodes, out);
    for (int i = 0; i < k; i++)
      check_result(rc, s->n[S_AFTER] != NULL, &out[i], which[i]);
    check_stats(s->g);
  }
  check_messages(s);
  /* Take and release. */
  if (s->n[S_C3]) {
    step("take");
    dusk_value v;
    int rc = dusk_take(s->n[S_C3], &v);
    if (s->a_ok)
      CHECK(rc == DUSK_OK, "take of a kept result: %d (%s)", rc,
            dusk_strerror(rc));
    else
      CHECK(rc == DUSK_OK || rc == DUSK_ENORESULT, "take: %d", rc);
    if (rc == DUSK_OK) {
      CHECK(tu_get(&v) == 111 && tu_box_live(&v), "taken: %lld",
            (long long)tu_get(&v));
      dusk_value_clear(&v);
    } else {
      CHECK(v.kind == DUSK_NONE, "a refused take gave a value");
    }
  }
  step("release");
  dusk_release(s->n[S_WIDE]);
  dusk_release(s->n[S_C2]);
  dusk_release(s->n[S_NEST]);
  dusk_release(s->n[S_FAN]);
  dusk_release(s->n[S_LIT_B1]);
}

/* dusk_write_dot into a tmpfile: DUSK_OK, or DUSK_ENOMEM and nothing written. */
static void draw(scen *s, int must) {
  static const int all[] = {S_AFTER, S_WIDE, S_NEST, S_LIT_B2, S_C3, S_FAN};
  dusk_node *nodes[S_N];
  int which[S_N];
  int k = gather(s, all, 6, nodes, which);
  if (k == 0)
    return;
  step("write_dot");
  FILE *f = tmpfile();
  CHECK(f != NULL, "tmpfile");
  dusk_dot_options o = {.durations = 1};
  int rc = dusk_write_dot(s->g, nodes, k, f, &o);
  long size = ftell(f);
  fclose(f);
  if (must)
    CHECK(rc == DUSK_OK, "write_dot: %d", rc);
  CHECK(rc == DUSK_OK || rc == DUSK_ENOMEM, "write_dot: %d (%s)", rc,
        dusk_strerror(rc));
  if (rc == DUSK_OK) {
    CHECK(size > 0, "write_dot succeeded but wrote nothing");
  } else {
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "last error %d",
          dusk_last_error(NULL));
    CHECK(size == 0, "write_dot failed for memory after writing %ld bytes",
          size);
  }
}

/*
** A second pool and graph, made, computed, and freed with kept results,
** all while failures go on: freeing must work whatever failed before.
*/
static void second_graph(void) {
  step("second pool");
  dusk_pool *p = dusk_pool_new(2);
  if (p == NULL) {
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "pool_new: %d",
          dusk_last_error(NULL));
    return;
  }
  CHECK(dusk_pool_size(p) == 2, "pool size %d", dusk_pool_size(p));
  step("second graph");
  dusk_graph *g = dusk_graph_new();
  if (g == NULL) {
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "graph_new: %d",
          dusk_last_error(NULL));
    dusk_pool_free(p);
    return;
  }
  dusk_graph_set_pool(g, p);
  dusk_value box = tu_box_new(7);
  tu_box *raw = box.ptr;
  dusk_node *l = dusk_literal(g, box);
  if (l == NULL)
    CHECK(atomic_load(&raw->state) == TU_BOX_DEAD,
          "a refused literal kept its value");
  dusk_node *x = l ? dusk_delayed(g, t_box, l) : NULL;
  dusk_node *y = x ? dusk_delayed(g, t_box, x, l) : NULL;
  if (y != NULL) {
    step("second compute");
    dusk_value out[2];
    int rc = dusk_compute_many(g, 2, (dusk_node *[]){y, x}, out);
    CHECK(rc == DUSK_OK || rc == DUSK_ENOMEM, "rc %d", rc);
    if (rc == DUSK_OK)
      CHECK(tu_get(&out[0]) == 16 && tu_get(&out[1]) == 8, "%lld %lld",
            (long long)tu_get(&out[0]), (long long)tu_get(&out[1]));
  } else {
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "build: %d",
          dusk_last_error(NULL));
  }
  step("second free");
  dusk_graph_free(g);
  dusk_pool_free(p);
}

/* Everything, with failures on (the caller armed the hook). */
static void scenario_fail(scen *s) {
  memset(s, 0, sizeof *s);
  dusk_set_stats(1, NULL);
  step("pool_new");
  s->pool = dusk_pool_new(1);
  if (s->pool == NULL)
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "pool_new: %d",
          dusk_last_error(NULL));
  step("graph_new");
  s->g = dusk_graph_new();
  if (s->g == NULL) {
    CHECK(dusk_last_error(NULL) == DUSK_ENOMEM, "graph_new: %d",
          dusk_last_error(NULL));
  } else {
    dusk_graph_set_pool(s->g, s->pool);
    build_all(s, 0);
    rename_nodes(s);
    if (s->pool != NULL)
      computes(s);
    draw(s, 0);
  }
  second_graph();
}

/* Failures off: the same graph completes, computes right, and frees. */
static void scenario_recover(scen *s) {
  step("recover");
  if (s->pool == NULL) {
    s->pool = dusk_pool_new(1);
    CHECK(s->pool != NULL, "pool_new with failures off");
  }
  if (s->g == NULL) {
    s->g = dusk_graph_new();
    CHECK(s->g != NULL, "graph_new with failures off");
  }
  dusk_graph_set_pool(s->g, s->pool);
  build_all(s, 1);
  rename_nodes(s);
  CHECK(strcmp(dusk_name(s->n[S_C2]), "sum-2") == 0, "name %s",
        dusk_name(s->n[S_C2]));
  CHECK(strcmp(dusk_name(s->n[S_WIDE]), "wide%s%n%x") == 0, "name %s",
        dusk_name(s->n[S_WIDE]));
  /* dusk_delayed names nodes after their function; under memory failures
     the name may fall back to "call" (src/api.c dusk_call_named). */
  const char *c3 = dusk_name(s->n[S_C3]);
  CHECK(strcmp(c3, "t_box") == 0 || strcmp(c3, "call") == 0, "name %s", c3);
  CHECK(s->n[S_P1] == s->n[S_P2] && s->n[S_LP1] == s->n[S_LP2],
        "pure nodes made twice are two");

  step("recover compute");
  static const int good[] = {S_C3, S_WIDE, S_NEST, S_C2, S_C0,
                             S_C1, S_FAN,  S_P1,   S_P3};
  enum { NGOOD = sizeof good / sizeof good[0] };
  dusk_node *nodes[S_N];
  dusk_value out[S_N];
  for (int i = 0; i < NGOOD; i++)
    nodes[i] = s->n[good[i]];
  int rc = dusk_compute_many(s->g, NGOOD, nodes, out);
  CHECK(rc == DUSK_OK, "compute with failures off: %d (%s): %s", rc,
        dusk_strerror(rc), dusk_errmsg(s->n[S_NEST]) ? dusk_errmsg(s->n[S_NEST])
                                                     : "");
  for (int i = 0; i < NGOOD; i++)
    CHECK(tu_get(&out[i]) == k_expect[good[i]], "slot %d: %lld, want %lld",
          good[i], (long long)tu_get(&out[i]), (long long)k_expect[good[i]]);

  step("recover failure");
  dusk_value o = dusk_i64(-1);
  rc = dusk_compute(s->g, s->n[S_AFTER], &o);
  CHECK(rc == DUSK_ETASK, "compute of AFTER: %d", rc);
  CHECK(o.kind == DUSK_NONE, "out of a failed compute");
  const char *bad = dusk_errmsg(s->n[S_BAD]);
  const char *after = dusk_errmsg(s->n[S_AFTER]);
  CHECK((tu_has(bad, "t_fail#") || tu_has(bad, "call#")) &&
            tu_has(bad, "failed: boom 7"),
        "errmsg(BAD) = %s", bad ? bad : "(null)");
  CHECK(tu_has(after, "not run: upstream") && tu_has(after, "boom 7"),
        "errmsg(AFTER) = %s", after ? after : "(null)");
  CHECK(dusk_errcode(s->n[S_BAD]) == DUSK_ETASK, "errcode(BAD) = %d",
        dusk_errcode(s->n[S_BAD]));
  CHECK(dusk_errcode(s->n[S_AFTER]) == DUSK_ETASK, "errcode(AFTER) = %d",
        dusk_errcode(s->n[S_AFTER]));
  CHECK(dusk_errmsg(s->n[S_C3]) == NULL, "C3 has a message");

  step("recover take");
  dusk_value v;
  rc = dusk_take(s->n[S_C3], &v);
  CHECK(rc == DUSK_OK && tu_get(&v) == 111, "take: %d, %lld", rc,
        (long long)tu_get(&v));
  dusk_value_clear(&v);
  CHECK(dusk_take(s->n[S_C3], &v) == DUSK_ENORESULT, "second take");
  draw(s, 1);

  step("recover stats");
  dusk_stats st;
  CHECK(dusk_graph_stats(s->g, &st) == DUSK_OK, "graph_stats: %d",
        dusk_last_error(NULL));
  CHECK(st.code == DUSK_ETASK && st.failed == 1, "the last compute: code %d, "
        "%llu failed", st.code, (unsigned long long)st.failed);
  dusk_set_stats(0, NULL);

  step("recover free");
  dusk_graph_free(s->g);
  dusk_pool_free(s->pool);
  s->g = NULL;
  s->pool = NULL;
}

/* Counted values: each released exactly once; task-side problems: none. */
static void check_clean(void) {
  CHECK(tu_ldl(&g_violations) == 0, "%ld problems on workers; the first: %s",
        tu_ldl(&g_violations), g_violation);
  CHECK(tu_ldl(&tu_st.live) == 0, "%ld counted values never released",
        tu_ldl(&tu_st.live));
  CHECK(tu_ldl(&tu_st.bad_frees) == 0, "%ld double or foreign frees",
        tu_ldl(&tu_st.bad_frees));
  CHECK(tu_ldl(&tu_st.dead_reads) == 0, "%ld reads of released values",
        tu_ldl(&tu_st.dead_reads));
  CHECK(tu_ldl(&tu_st.overflow) == 0, "the box arena was too small");
  CHECK(tu_ldl(&tu_st.frees) == tu_ldl(&tu_st.allocs), "%ld made, %ld freed",
        tu_ldl(&tu_st.allocs), tu_ldl(&tu_st.frees));
}

/*
** One run at point n (0: no failure). Returns how many allocations failed:
** 0 when the scenario made fewer than n allocations.
*/
static long run_point(long n, int sticky) {
  atomic_store(&g_point, n);
  atomic_store(&g_sticky, sticky);
  tu_reset(4096);
  atomic_store(&g_violations, 0);
  g_violation[0] = '\0';
  scen s;
  dusk__alloc_fail_after(n, sticky);
  scenario_fail(&s);
  long failed = dusk__alloc_fail_after(0, 0);
  scenario_recover(&s);
  check_clean();
  if (n > 0 && !sticky)
    CHECK(failed <= 1, "%ld allocations failed in single mode", failed);
  return failed;
}

/*
** The same in a child process, so that dusk's process-wide caches (kept
** computes, slabs, the spare argument array) are cold and their first
** allocations are swept too. The child reports through a pipe: the number
** of failed allocations, or the message of the check that failed. A hang
** ends the child by SIGALRM, whose handler reports the step it was in.
** The test process itself starts no thread (ThreadSanitizer forbids a
** child of a multi-threaded process to start threads).
*/
static void on_alarm(int sig) {
  (void)sig;
  const char *st = atomic_load(&g_step);
  char msg[256] = "hang (no end after the alarm) at step ";
  size_t len = strlen(msg), k = strlen(st);
  if (k > sizeof msg - len - 1)
    k = sizeof msg - len - 1;
  memcpy(msg + len, st, k);
  ssize_t w = write(g_child_fd, msg, len + k);
  (void)w;
  _exit(2);
}

static long g_cold_errors;
static char g_cold_first[1400];

static long run_point_cold(long n, int sticky) {
  int pfd[2];
  ck_assert_int_eq(pipe(pfd), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(pfd[0]);
    g_child_fd = pfd[1];
    signal(SIGALRM, on_alarm);
    alarm(TU_SANITIZED ? 120 : 30);
    long failed = run_point(n, sticky);
    char ok[32];
    int len = snprintf(ok, sizeof ok, "ok %ld", failed);
    ssize_t w = write(pfd[1], ok, (size_t)len);
    _exit(w == len ? 0 : 3);
  }
  close(pfd[1]);
  char msg[1100];
  size_t got = 0;
  ssize_t r;
  while (got < sizeof msg - 1 &&
         (r = read(pfd[0], msg + got, sizeof msg - 1 - got)) > 0)
    got += (size_t)r;
  msg[got] = '\0';
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  long failed = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      sscanf(msg, "ok %ld", &failed) == 1)
    return failed;
  /* Go on to the next point, so that one run reports every failing point
     (up to a few); the test fails at the end. */
  char line[1400];
  snprintf(line, sizeof line, "cold point N=%ld %s: the child %s %d: %s", n,
           sticky ? "sticky" : "single",
           WIFSIGNALED(status) ? "died of signal" : "exited with",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
           msg[0] ? msg : "(no message)");
  printf("alloc: FAILED %s\n", line);
  fflush(stdout);
  if (g_cold_errors++ == 0)
    snprintf(g_cold_first, sizeof g_cold_first, "%s", line);
  ck_assert_msg(g_cold_errors < 10, "%ld cold points failed; the first: %s",
                g_cold_errors, g_cold_first);
  return 1; /* the point was reached */
}

typedef long (*runner)(long n, int sticky);

/*
** The number of allocation points of a clean run: the largest n at which
** an allocation still fails, found by doubling then bisecting (the runs
** are deterministic: a 1-thread pool, and caches warm, or cold, each time).
*/
static long count_points(runner run) {
  long lo = 0, hi = 1; /* failures at lo (or lo == 0), none at hi */
  while (run(hi, 0) > 0) {
    lo = hi;
    hi *= 2;
    ck_assert_msg(hi < 10000000, "no end to the allocations");
  }
  while (hi - lo > 1) {
    long mid = lo + (hi - lo) / 2;
    if (run(mid, 0) > 0)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : dflt;
}

static void sweep(int sticky, int cold) {
  const char *mode = sticky ? "sticky" : "single";
  const char *caches = cold ? "cold" : "warm";
  runner run = cold ? run_point_cold : run_point;
  pthread_t wd;
  memset(&wd, 0, sizeof wd);
  if (!cold) {
    wd = watchdog_start();
    run_point(0, 0); /* warm up the process-wide caches */
  }
  long replay = env_long("DUSK_ALLOC_N", 0);
  if (replay > 0) {
    int st = (int)env_long("DUSK_ALLOC_STICKY", sticky);
    long failed = run(replay, st);
    printf("alloc: replayed %s point %ld (%s): %ld allocation(s) failed\n",
           caches, replay, st ? "sticky" : "single", failed);
  } else {
    double t0 = tu_now_ms();
    long count = count_points(run);
    ck_assert_msg(count > 0, "the scenario made no allocation");
    /* The budget: every point in normal builds; in sanitizer builds a
       stride when there are many. */
    long max_points = TU_SANITIZED ? (cold ? 200 : 1500) : LONG_MAX;
    long stride =
        count > max_points ? (count + max_points - 1) / max_points : 1;
    stride = env_long("DUSK_ALLOC_STRIDE", stride);
    long swept = 0, reached = 0;
    for (long n = 1; n <= count; n += stride) {
      long failed = run(n, sticky);
      swept++;
      reached += failed > 0;
    }
    /* Past the last point nothing fails. */
    ck_assert_int_eq(run(count + 1, sticky), 0);
    printf("alloc: %ld allocation points in the scenario (%s caches); %s "
           "mode swept %ld point(s) (stride %ld), %ld of them failed an "
           "allocation, in %.0f ms\n",
           count, caches, mode, swept, stride, reached, tu_now_ms() - t0);
    /* Deterministic runs reach every point they sweep. */
    ck_assert_msg(reached * 10 >= swept * 9,
                  "only %ld of %ld points failed an allocation", reached,
                  swept);
  }
  if (!cold)
    watchdog_stop(wd);
  tu_done();
  ck_assert_msg(g_cold_errors == 0, "%ld cold point(s) failed; the first: %s",
                g_cold_errors, g_cold_first);
}

START_TEST(test_single_each_allocation_fails) { sweep(0, 0); }
END_TEST

START_TEST(test_sticky_all_after_fail) { sweep(1, 0); }
END_TEST

START_TEST(test_cold_single_each_allocation_fails) { sweep(0, 1); }
END_TEST

START_TEST(test_cold_sticky_all_after_fail) { sweep(1, 1); }
END_TEST

/* ====================================================== names */

/*
** dusk_delayed() names the node after its function. When memory runs out
** while recording that name, the call must either be refused with
** DUSK_ENOMEM or give a node with the promised name, not a node silently
** named "call".
*/
START_TEST(test_names_delayed_keeps_its_name) {
  dusk_pool *p = tu_pool(1);
  long points = 0;
  for (long n = 1; n < 100; n++) {
    dusk_graph *g = tu_graph(p);
    dusk_node *l = dusk_literal(g, dusk_i64(1));
    ck_assert_ptr_nonnull(l);
    dusk__alloc_fail_after(n, 0);
    dusk_node *c = dusk_delayed(g, t_sum, l);
    long failed = dusk__alloc_fail_after(0, 0);
    if (c == NULL)
      ck_assert_msg(dusk_last_error(NULL) == DUSK_ENOMEM,
                    "point %ld: refused with %d", n, dusk_last_error(NULL));
    else
      ck_assert_msg(strcmp(dusk_name(c), "t_sum") == 0,
                    "point %ld: dusk_delayed(g, t_sum, l) succeeded under a "
                    "memory failure, named \"%s\"",
                    n, dusk_name(c));
    dusk_graph_free(g);
    if (failed == 0) {
      points = n - 1;
      break;
    }
  }
  printf("alloc: dusk_delayed on a new graph: %ld allocation points\n",
         points);
  ck_assert_int_gt(points, 0);
  dusk_pool_free(p);
}
END_TEST

/* ====================================================== resources */

static atomic_int rs_in, rs_most;

/* A limited task: counts how many run at once. */
static int t_limited(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  int now = atomic_fetch_add(&rs_in, 1) + 1;
  int most = atomic_load(&rs_most);
  while (now > most && !atomic_compare_exchange_weak(&rs_most, &most, now))
    ;
  for (volatile int i = 0; i < 20000; i++)
    ;
  atomic_fetch_sub(&rs_in, 1);
  *out = dusk_i64(1);
  return 0;
}

/*
** Resource classes under memory failures: tagging (a class name copied per
** graph, an entry per node), a limit on a pool (its class record), and a
** compute that parks tasks (the parked queue grows). Each call succeeds or
** reports DUSK_ENOMEM; the limit is never exceeded; once memory is back the
** same graph and pool compute the right sum within the limit.
*/
START_TEST(test_resources_each_allocation_fails) {
  enum { N = 40 };
  long points = 0;
  for (long n = 1; n < 1000; n++) {
    dusk_pool *p = tu_pool(2);
    dusk_graph *g = tu_graph(p);
    dusk_node *nodes[N];
    for (int i = 0; i < N; i++)
      ck_assert_ptr_nonnull(nodes[i] = dusk_call(g, t_limited, NULL, 0, NULL));
    dusk_node *sum = dusk_call(g, t_sum, NULL, N, nodes);
    ck_assert_ptr_nonnull(sum);
    atomic_store(&rs_most, 0);
    dusk__alloc_fail_after(n, 0);
    int rc = dusk_pool_set_limit(p, "io", 1);
    ck_assert_msg(rc == DUSK_OK || rc == DUSK_ENOMEM, "point %ld: limit %d",
                  n, rc);
    bool all_tagged = true;
    for (int i = 0; i < N; i++) {
      int t = dusk_set_resource(nodes[i], "io");
      all_tagged &= t == DUSK_OK;
      ck_assert_msg(t == DUSK_OK || t == DUSK_ENOMEM, "point %ld: tag %d", n,
                    t);
      ck_assert(t != DUSK_OK || strcmp(dusk_resource(nodes[i]), "io") == 0);
    }
    int c = dusk_compute(g, sum, NULL);
    ck_assert_msg(c == DUSK_OK || c == DUSK_ENOMEM, "point %ld: compute %d",
                  n, c);
    long failed = dusk__alloc_fail_after(0, 0);
    if (rc == DUSK_OK && all_tagged) /* an untagged task runs freely */
      ck_assert_int_le(atomic_load(&rs_most), 1);
    /* Memory is back: everything again, and the right answer. */
    ck_assert_int_eq(dusk_pool_set_limit(p, "io", 1), DUSK_OK);
    for (int i = 0; i < N; i++)
      ck_assert_int_eq(dusk_set_resource(nodes[i], "io"), DUSK_OK);
    atomic_store(&rs_most, 0);
    dusk_value v;
    ck_assert_int_eq(dusk_compute(g, sum, &v), DUSK_OK);
    ck_assert_int_eq(v.i64, N + 1); /* t_sum: 1 + the sum */
    ck_assert_int_le(atomic_load(&rs_most), 1);
    dusk_graph_free(g);
    dusk_pool_free(p);
    if (failed == 0) {
      points = n - 1;
      break;
    }
  }
  printf("alloc: resource classes: %ld allocation points\n", points);
  ck_assert_int_gt(points, 0);
}
END_TEST

/* ====================================================== default pool */

typedef struct dp_report {
  int rc_fail, rc_again, rc_third;
  int kind;
  int64_t value;
} dp_report;

/*
** The default pool is made on first use. If memory runs out right then,
** the compute reports DUSK_ENOMEM; once memory is back, the same graph
** must compute (issue 7: "computed again once memory is back"). Run in a
** child process, since the default pool is made once per process.
*/
START_TEST(test_default_pool_made_when_memory_is_back) {
  int pfd[2];
  ck_assert_int_eq(pipe(pfd), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(pfd[0]);
    dp_report r = {0};
    dusk_graph *g = dusk_graph_new();
    dusk_node *l = g ? dusk_literal(g, dusk_i64(41)) : NULL;
    dusk_node *n = l ? dusk_delayed(g, t_sum, l) : NULL;
    if (n == NULL)
      _exit(3);
    dusk_value out;
    dusk__alloc_fail_after(1, 1);
    r.rc_fail = dusk_compute(g, n, &out);
    dusk__alloc_fail_after(0, 0);
    r.rc_again = dusk_compute(g, n, &out);
    r.kind = out.kind;
    r.value = out.i64;
    dusk_graph *g2 = dusk_graph_new();
    r.rc_third = dusk_compute(g2, dusk_delayed(g2, t_sum), NULL);
    _exit(write(pfd[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 4);
  }
  close(pfd[1]);
  dp_report r;
  ssize_t got = read(pfd[0], &r, sizeof r);
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                    got == (ssize_t)sizeof r,
                "child failed: status %d", status);
  ck_assert_msg(r.rc_fail == DUSK_ENOMEM,
                "compute with no memory for the default pool: %d", r.rc_fail);
  ck_assert_msg(r.rc_again == DUSK_OK,
                "the same graph, memory back: %d (%s); the default pool was "
                "never made again",
                r.rc_again, dusk_strerror(r.rc_again));
  ck_assert_int_eq(r.kind, DUSK_I64);
  ck_assert_int_eq(r.value, 42);
  ck_assert_int_eq(r.rc_third, DUSK_OK);
}
END_TEST

/* ====================================================== suite */

static Suite *alloc_suite(void) {
  Suite *s = suite_create("alloc");
  double timeout = TU_SANITIZED ? 900 : 300;
  TCase *tc;

  tc = tcase_create("single");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_single_each_allocation_fails);
  suite_add_tcase(s, tc);

  tc = tcase_create("sticky");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_sticky_all_after_fail);
  suite_add_tcase(s, tc);

  tc = tcase_create("cold_single");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_cold_single_each_allocation_fails);
  suite_add_tcase(s, tc);

  tc = tcase_create("cold_sticky");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_cold_sticky_all_after_fail);
  suite_add_tcase(s, tc);

  tc = tcase_create("names");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_names_delayed_keeps_its_name);
  suite_add_tcase(s, tc);

  tc = tcase_create("resources");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_resources_each_allocation_fails);
  suite_add_tcase(s, tc);

  tc = tcase_create("default_pool");
  tcase_set_timeout(tc, timeout);
  tcase_add_test(tc, test_default_pool_made_when_memory_is_back);
  suite_add_tcase(s, tc);

  return s;
}

TU_MAIN(alloc_suite)
