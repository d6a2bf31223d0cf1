/*
** Small helpers shared by the dusk test suites.
**
** The idea: tests observe the library only from outside, through the public
** API and through what the task functions and the values' free functions
** record. Tasks run on worker threads, where Check must not assert, so they
** record into atomics and the test thread asserts afterwards.
**
** Counted boxes are the tool for the memory semantics. A box is a pointer
** value whose free function is counted: how many boxes exist, how many are
** live now, the highest number live at once, and how many frees were wrong
** (a second free of one box, or a pointer that is no box). The boxes live in
** one arena that the test owns and its free function only marks them dead,
** so that a task reading an argument that dusk already freed is detected and
** counted (tu_box_get) instead of being undefined behaviour.
**
** Everything here is static: each test program is one translation unit.
** The helpers that assert (tu_pool, tu_graph, ...) use Check, so they are
** for the test thread only, never for a task on a worker.
*/
#ifndef DUSK_TESTUTIL_H
#define DUSK_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dusk.h"

/* ------------------------------------------------------------ test scale */

#if defined(DUSK_TEST_SANITIZED) || defined(__SANITIZE_ADDRESS__) ||         \
    defined(__SANITIZE_THREAD__)
#define TU_SANITIZED 1
#else
#define TU_SANITIZED 0
#endif

/*
** The factor by which tests scale their sizes: DUSK_TEST_SCALE when set to a
** positive number, else 0.1 in sanitizer builds (5 to 15 times slower), else 1.
*/
static inline double tu_scale(void) {
  const char *s = getenv("DUSK_TEST_SCALE");
  if (s != NULL && *s != '\0') {
    char *end = NULL;
    double x = strtod(s, &end);
    if (end != s && x > 0)
      return x;
  }
  return TU_SANITIZED ? 0.1 : 1.0;
}

/* n scaled by tu_scale(), but at least min. */
static inline long tu_scaled(long n, long min) {
  double v = (double)n * tu_scale();
  if (v < (double)min)
    return min;
  return (long)v;
}

/* ------------------------------------------------------------ time, CPU */

static inline double tu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void tu_sleep_ms(double ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1e3);
  ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* User plus system CPU time of the whole process, in milliseconds. */
static inline double tu_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Peak resident set size of this process, in kilobytes. */
static inline long tu_maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Threads of this process now (entries of /proc/self/task); -1 if unknown. */
static inline int tu_thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static inline void *tu_noop_thread(void *arg) { return arg; }

/*
** The thread count to compare against later: first start and join one
** thread, so that helpers a runtime starts with the first thread (such as
** ThreadSanitizer's background thread) are already counted.
*/
static inline int tu_thread_baseline(void) {
  pthread_t th;
  if (pthread_create(&th, NULL, tu_noop_thread, NULL) == 0)
    pthread_join(th, NULL);
  return tu_thread_count();
}

/* Spin-wait (sleeping 100 us a round) until *flag is non-zero or ms pass. */
static inline int tu_wait_flag(atomic_int *flag, double ms) {
  double end = tu_now_ms() + ms;
  while (atomic_load(flag) == 0) {
    if (tu_now_ms() > end)
      return 0;
    tu_sleep_ms(0.1);
  }
  return 1;
}

/* ------------------------------------------------------------ random */

/* splitmix64: a good 64-bit mix and a small, fast generator. */
static inline uint64_t tu_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* The value a random DAG's node computes: a hash of its index (salted per
   suite) and its arguments' values in order, so that a wrong or reordered
   argument shows in every node downstream. */
static inline uint64_t tu_hash_start(int index, uint64_t salt) {
  return tu_mix64((uint64_t)index * 0x9e3779b97f4a7c15ULL + salt);
}

static inline uint64_t tu_hash_step(uint64_t h, uint64_t v, int k) {
  return tu_mix64(h ^ (v + (uint64_t)k * 0x2545f4914f6cdd1dULL));
}

static inline uint64_t tu_rand(uint64_t *state) {
  *state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = *state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline int tu_rand_below(uint64_t *state, int n) {
  return (int)(tu_rand(state) % (uint64_t)n);
}

/*
** The seeds of a randomized test. DUSK_TEST_SEED=<seed> replays one;
** DUSK_TEST_SEEDS=<n> runs n in full; DUSK_TEST_LONG=1 runs twenty times
** the default count in full; otherwise up to the default count, stopping
** once budget_ms have passed (after one seed at least). The seeds follow
** from a base mixed from the time and the process id, and are printed by
** the caller so that a failure can be replayed.
*/
typedef struct tu_seeds {
  uint64_t base;
  long count, done;
  int replay;
  double deadline;
} tu_seeds;

static inline void tu_seeds_init(tu_seeds *s, const char *what, long dflt,
                                 double budget_ms) {
  const char *one = getenv("DUSK_TEST_SEED");
  const char *many = getenv("DUSK_TEST_SEEDS");
  const char *lng = getenv("DUSK_TEST_LONG");
  memset(s, 0, sizeof *s);
  s->count = dflt;
  s->deadline = tu_now_ms() + budget_ms;
  s->base = tu_mix64((uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid());
  if (one != NULL && *one != '\0') {
    s->base = strtoull(one, NULL, 0);
    s->count = 1;
    s->replay = 1;
  } else if (many != NULL && *many != '\0') {
    s->count = strtol(many, NULL, 0);
    s->deadline = 1e300; /* an explicit count runs in full */
  } else if (lng != NULL && *lng != '\0' && *lng != '0') {
    s->count = 20 * dflt;
    s->deadline = 1e300;
  }
  printf("%s: %s %ld seed(s); replay one with DUSK_TEST_SEED\n", what,
         s->replay ? "replaying" : "up to", s->count);
  fflush(stdout);
}

/* The next seed into *seed; 0 when the count or the time is spent. */
static inline int tu_seeds_next(tu_seeds *s, uint64_t *seed) {
  if (s->done >= s->count || (s->done > 0 && tu_now_ms() > s->deadline))
    return 0;
  *seed = s->replay ? s->base : tu_mix64(s->base + (uint64_t)s->done);
  s->done++;
  return 1;
}

/* ------------------------------------------------------------ counted boxes */

enum { TU_BOX_UNUSED = 0, TU_BOX_LIVE = 1, TU_BOX_DEAD = 2 };

typedef struct tu_box {
  atomic_int state; /* TU_BOX_* */
  int64_t v;
} tu_box;

typedef struct tu_stats {
  tu_box *arena;
  size_t cap;
  atomic_size_t next;
  atomic_long allocs;    /* boxes made                                  */
  atomic_long frees;     /* boxes freed once, correctly                 */
  atomic_long live;      /* allocs - frees                              */
  atomic_long peak;      /* the highest live seen                      */
  atomic_long bad_frees; /* a box freed twice, or a pointer not a box   */
  atomic_long dead_reads; /* a task read a box that was already freed   */
  atomic_long overflow;  /* the arena was too small                     */
} tu_stats;

static tu_stats tu_st;

/*
** Make room for cap boxes and zero every counter. Call at the start of a
** test, and again only when no box is live (the arena may move).
*/
static inline void tu_reset(size_t cap) {
  if (cap > tu_st.cap || tu_st.arena == NULL) {
    free(tu_st.arena);
    tu_st.arena = calloc(cap, sizeof(tu_box));
    tu_st.cap = tu_st.arena != NULL ? cap : 0;
  } else {
    memset(tu_st.arena, 0, tu_st.cap * sizeof(tu_box));
  }
  atomic_store(&tu_st.next, 0);
  atomic_store(&tu_st.allocs, 0);
  atomic_store(&tu_st.frees, 0);
  atomic_store(&tu_st.live, 0);
  atomic_store(&tu_st.peak, 0);
  atomic_store(&tu_st.bad_frees, 0);
  atomic_store(&tu_st.dead_reads, 0);
  atomic_store(&tu_st.overflow, 0);
}

/* Give the arena back (end of a test). */
static inline void tu_done(void) {
  free(tu_st.arena);
  tu_st.arena = NULL;
  tu_st.cap = 0;
}

static inline int tu_is_box(const void *p) {
  const tu_box *b = p;
  return tu_st.arena != NULL && b >= tu_st.arena && b < tu_st.arena + tu_st.cap;
}

/* The free function of counted boxes. */
static inline void tu_box_free(void *p) {
  tu_box *b = p;
  int expect = TU_BOX_LIVE;
  if (!tu_is_box(p) ||
      !atomic_compare_exchange_strong(&b->state, &expect, TU_BOX_DEAD)) {
    atomic_fetch_add(&tu_st.bad_frees, 1);
    return;
  }
  atomic_fetch_add(&tu_st.frees, 1);
  atomic_fetch_sub(&tu_st.live, 1);
}

/*
** A new counted box holding v, as a dusk value whose free is tu_box_free.
** When the arena is full the value is DUSK_NONE and `overflow` counts it.
*/
static inline dusk_value tu_box_new(int64_t v) {
  size_t i = atomic_fetch_add(&tu_st.next, 1);
  if (i >= tu_st.cap) {
    atomic_fetch_add(&tu_st.overflow, 1);
    dusk_value none = {0};
    none.kind = DUSK_NONE;
    return none;
  }
  tu_box *b = &tu_st.arena[i];
  b->v = v;
  atomic_store(&b->state, TU_BOX_LIVE);
  atomic_fetch_add(&tu_st.allocs, 1);
  long live = atomic_fetch_add(&tu_st.live, 1) + 1;
  long peak = atomic_load(&tu_st.peak);
  while (live > peak && !atomic_compare_exchange_weak(&tu_st.peak, &peak, live))
    ;
  return dusk_ptr(b, sizeof *b, tu_box_free);
}

/* Is the value a box that is still live? */
static inline int tu_box_live(const dusk_value *v) {
  return v->kind == DUSK_PTR && tu_is_box(v->ptr) &&
         atomic_load(&((tu_box *)v->ptr)->state) == TU_BOX_LIVE;
}

/*
** The integer in a value: a box's content, a DUSK_I64, a DUSK_F64
** truncated; 0 for anything else. Reading a box that was freed counts a
** dead read.
*/
static inline int64_t tu_get(const dusk_value *v) {
  switch (v->kind) {
  case DUSK_I64:
    return v->i64;
  case DUSK_F64:
    return (int64_t)v->f64;
  case DUSK_PTR:
    if (tu_is_box(v->ptr)) {
      tu_box *b = v->ptr;
      if (atomic_load(&b->state) != TU_BOX_LIVE)
        atomic_fetch_add(&tu_st.dead_reads, 1);
      return b->v;
    }
    return 0;
  default:
    return 0;
  }
}

/* 1 + the sum of the arguments: the body of the suites' counting tasks. */
static inline int64_t tu_sum1(const dusk_value *args, int nargs) {
  int64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += tu_get(&args[i]);
  return s;
}

/*
** Loads as functions, not macros, so that a failed ck_assert prints
** "tu_ldl(&tu_st.live) == 1" rather than the expansion of atomic_load.
*/
static inline int tu_ldi(atomic_int *a) { return atomic_load(a); }
static inline long tu_ldl(atomic_long *a) { return atomic_load(a); }

/* ---------------------------------------------------------- graphs */

/*
** A new pool of n workers (0: the default size). Fails the test when it
** cannot be made, or when it has other than n workers.
*/
static inline dusk_pool *tu_pool(int n) {
  dusk_pool *p = dusk_pool_new(n);
  ck_assert_msg(p != NULL, "dusk_pool_new(%d) failed: %s", n,
                dusk_strerror(dusk_last_error(NULL)));
  if (n > 0)
    ck_assert_int_eq(dusk_pool_size(p), n);
  return p;
}

/* A new graph that computes on p (NULL: the default pool). Fails the test
   when it cannot be made. */
static inline dusk_graph *tu_graph(dusk_pool *p) {
  dusk_graph *g = dusk_graph_new();
  ck_assert_msg(g != NULL, "dusk_graph_new() failed: %s",
                dusk_strerror(dusk_last_error(NULL)));
  dusk_graph_set_pool(g, p);
  return g;
}

/* A graph on a new pool of `threads` workers of its own (*pool). */
static inline dusk_graph *tu_graph_with_pool(int threads, dusk_pool **pool) {
  *pool = tu_pool(threads);
  return tu_graph(*pool);
}

/* Free what tu_graph_with_pool() made. */
static inline void tu_graph_with_pool_free(dusk_graph *g, dusk_pool **pool) {
  dusk_graph_free(g);
  dusk_pool_free(*pool);
  *pool = NULL;
}

/* ------------------------------------------------------------ main */

/*
** Run the suite s (the TCase in CK_RUN_CASE only, when it is set: the
** ctest registration runs one TCase a test) and free it. EXIT_SUCCESS when
** no test failed, else EXIT_FAILURE.
*/
static inline int tu_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The main() of a suite's program: TU_MAIN(compute_suite). */
#define TU_MAIN(suite_fn)                                                     \
  int main(void) { return tu_run(suite_fn()); }

/* ------------------------------------------------------------ text */

/* Does s (maybe NULL) contain sub? */
static inline int tu_has(const char *s, const char *sub) {
  return s != NULL && strstr(s, sub) != NULL;
}

#endif /* DUSK_TESTUTIL_H */
