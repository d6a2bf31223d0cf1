/*
** futures: eager tasks with dusk, to copy from.
**
** The same exercises as Python's multiprocessing.Pool and
** concurrent.futures, in three parts:
**
**   (a) map_async: eight tasks that each sleep 50 to 200 ms, run through a
**       map on a pool of eight threads. Sleeping needs no core, so the
**       whole map takes about as long as its longest task, not the sum.
**   (b) MPMD ("multiple programs"): three different functions submitted at
**       once, and their results gathered.
**   (c) a future as an argument: f2 applied to the future of f1. With
**       concurrent.futures, executor.submit(f2, executor.submit(f1, 7))
**       hands f2 the Future object instead of 49, and f2 fails (TypeError);
**       you must block on .result() first. Here it simply works. Then an
**       as-completed loop with dusk_wait_any().
**
** What to know first. A dusk node is either delayed or a future, and there
** is only one node type: what differs is what starts it.
**
**   dusk_delayed(g, fn, args...)   records a call; it runs when a compute
**                                  (or a wait) needs it.
**   dusk_future(g, fn, args...)    records the same call and starts it at
**                                  once: it runs as soon as its arguments
**                                  are ready, with no one waiting.
**   dusk_start(g, n, nodes)        starts delayed nodes (map_async).
**
** Passing any node, delayed or future, as an argument records a
** dependency. dusk_get() waits for a node and borrows its result, which
** the node keeps until dusk_release() or the graph is freed; a node never
** runs twice because two consumers or two threads wait for it.
**
** Build and run: cmake -B build && cmake --build build && build/examples/futures
** It prints what it measured and exits 0 when every result is right.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep under -std=c11 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dusk.h"

/* ============================================================== work */

/* The plain functions: no dusk in sight. */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1e3);
  ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ; /* interrupted by a signal: sleep the rest */
}

/* How many primes there are below n. */
static int64_t count_primes(int64_t n) {
  int64_t count = 0;
  for (int64_t k = 2; k < n; k++) {
    int prime = 1;
    for (int64_t d = 2; d * d <= k && prime; d++)
      prime = k % d != 0;
    count += prime;
  }
  return count;
}

/* 1 + 1/2 + ... + 1/n. */
static double harmonic(int64_t n) {
  double h = 0;
  for (int64_t k = n; k >= 1; k--) /* smallest terms first: less rounding */
    h += 1.0 / (double)k;
  return h;
}

/* "hello, <name>!" in a new string, or NULL when out of memory. */
static char *greeting(const char *name) {
  size_t n = strlen(name) + sizeof "hello, !";
  char *s = malloc(n);
  if (s != NULL)
    snprintf(s, n, "hello, %s!", name);
  return s;
}

static int64_t f1(int64_t x) { return x * x; }
static int64_t f2(int64_t y) { return y + 1; }

/* ============================================================== tasks */

/*
** The task wrappers: read the arguments (borrowed), write the result to
** *out, return 0, or return dusk_fail(t, "why").
*/

/*
** (a) A map task gets two I64 arguments, the first and one-past-last index
** of its chunk, and udata (the same for every chunk: here the table of
** how long each index sleeps). It returns the milliseconds it slept.
*/
static int sleepy_chunk(dusk_task *t, const dusk_value *args, int nargs,
                        dusk_value *out) {
  (void)nargs;
  const double *sleep_for = dusk_task_udata(t);
  double t0 = now_ms();
  for (int64_t i = args[0].i64; i < args[1].i64; i++)
    sleep_ms(sleep_for[i]);
  *out = dusk_f64(now_ms() - t0);
  return 0;
}

/* A reduction task: it must take any number of partial results. */
static int add_f64(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)t;
  double s = 0;
  for (int i = 0; i < nargs; i++)
    s += args[i].f64;
  *out = dusk_f64(s);
  return 0;
}

/* (b) Three different programs. */
static int count_primes_task(dusk_task *t, const dusk_value *args, int nargs,
                             dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(count_primes(args[0].i64));
  return 0;
}

static int harmonic_task(dusk_task *t, const dusk_value *args, int nargs,
                         dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_f64(harmonic(args[0].i64));
  return 0;
}

static int greeting_task(dusk_task *t, const dusk_value *args, int nargs,
                         dusk_value *out) {
  (void)nargs;
  char *s = greeting(args[0].ptr);
  if (s == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(s, strlen(s) + 1, free); /* dusk frees it when done */
  return 0;
}

/* (c) f1 and f2, and a task that sleeps as long as its argument says. */
static int f1_task(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(f1(args[0].i64));
  return 0;
}

static int f2_task(dusk_task *t, const dusk_value *args, int nargs,
                   dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_i64(f2(args[0].i64)); /* args[0] is f1's result, not a future */
  return 0;
}

static int nap_task(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)t, (void)nargs;
  sleep_ms((double)args[0].i64);
  *out = dusk_i64(args[0].i64);
  return 0;
}

/* ============================================================== parts */

enum { NSLEEPERS = 8 };

/* (a) Sleeping tasks through a map: the time of the longest, not the sum. */
static int part_a(dusk_graph *g, int workers) {
  static double sleep_for[NSLEEPERS];
  double sum = 0, longest = 0;
  for (int i = 0; i < NSLEEPERS; i++) {
    sleep_for[i] = 50.0 + 150.0 * i / (NSLEEPERS - 1); /* 50 to 200 ms */
    sum += sleep_for[i];
    longest = sleep_for[i] > longest ? sleep_for[i] : longest;
  }

  /*
  ** One delayed call per chunk of [0, 8). Chunk size 0 picks
  ** ceil(8 / workers): with eight workers, one index per chunk. With
  ** nodes NULL, dusk_map() only says how many chunks there will be.
  */
  dusk_node *chunks[NSLEEPERS];
  int n = dusk_map(g, sleepy_chunk, sleep_for, 0, NSLEEPERS, 0, chunks,
                   NSLEEPERS);
  if (n < 0) {
    fprintf(stderr, "futures: map: %s\n", dusk_strerror(n));
    return 1;
  }
  printf("(a) %d sleeping tasks in %d chunks on %d workers\n", NSLEEPERS, n,
         workers);

  /* map_async: start them all and return at once. */
  double t0 = now_ms();
  int rc = dusk_start(g, n, chunks);
  if (rc != DUSK_OK) {
    fprintf(stderr, "futures: start: %s\n", dusk_strerror(rc));
    return 1;
  }
  printf("    dusk_start returned after %.1f ms\n", now_ms() - t0);

  /*
  ** A tree reduction of the chunks' times (eight at a time: one call
  ** here). It is delayed; dusk_get() computes it, and since the chunks
  ** are already running, it waits for them instead of running them again.
  */
  dusk_node *slept = dusk_reduce(g, add_f64, NULL, chunks, n, 0);
  dusk_value total;
  rc = slept != NULL ? dusk_get(slept, &total) : dusk_last_error(NULL);
  double wall = now_ms() - t0;
  if (rc != DUSK_OK) {
    fprintf(stderr, "futures: (a): %s\n", dusk_strerror(rc));
    return 1;
  }
  for (int i = 0; i < n; i++) {
    dusk_value v;
    dusk_get(chunks[i], &v); /* done: returns at once */
    printf("    chunk %d slept %6.1f ms (asked %5.1f)\n", i, v.f64,
           sleep_for[i]);
  }
  int ok = wall < 0.7 * sum && wall >= longest * 0.95 &&
           total.f64 >= sum * 0.95;
  printf("    all of them took %.1f ms; the longest asks %.0f, the sum "
         "%.0f (slept %.1f in all): %s\n",
         wall, longest, sum, total.f64, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}

/* (b) Three different functions submitted at once, results gathered. */
static int part_b(dusk_graph *g) {
  /* Futures start at once; literals give them their inputs. */
  dusk_node *primes = dusk_future(g, count_primes_task,
                                  dusk_literal(g, dusk_i64(20000)));
  dusk_node *harm = dusk_future(g, harmonic_task,
                                dusk_literal(g, dusk_i64(1000000)));
  static char name[] = "dusk";
  dusk_node *hello = dusk_future(
      g, greeting_task, dusk_literal(g, dusk_ptr(name, sizeof name, NULL)));
  if (primes == NULL || harm == NULL || hello == NULL) {
    fprintf(stderr, "futures: (b): %s\n",
            dusk_strerror(dusk_last_error(NULL)));
    return 1;
  }
  /* Gather: each dusk_get() waits for its future; the order is free. */
  dusk_value vp, vh, vs;
  int rc = dusk_get(hello, &vs);
  if (rc == DUSK_OK)
    rc = dusk_get(primes, &vp);
  if (rc == DUSK_OK)
    rc = dusk_get(harm, &vh);
  if (rc != DUSK_OK) {
    fprintf(stderr, "futures: (b): %s\n", dusk_strerror(rc));
    return 1;
  }
  double dh = vh.f64 - harmonic(1000000);
  int ok = vp.i64 == count_primes(20000) && dh < 1e-12 && dh > -1e-12 &&
           strcmp(vs.ptr, "hello, dusk!") == 0 && vp.i64 == 2262;
  printf("(b) primes below 20000: %lld; H(1000000) = %.6f; \"%s\": %s\n",
         (long long)vp.i64, vh.f64, (const char *)vs.ptr,
         ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}

/* (c) f2 of the future of f1; then results as they complete. */
static int part_c(dusk_graph *g) {
  dusk_node *fut1 = dusk_future(g, f1_task, dusk_literal(g, dusk_i64(7)));
  dusk_node *fut2 = dusk_future(g, f2_task, fut1); /* a future as argument */
  dusk_value v;
  int rc = fut2 != NULL ? dusk_get(fut2, &v) : dusk_last_error(NULL);
  if (rc != DUSK_OK) {
    fprintf(stderr, "futures: (c): %s\n", dusk_strerror(rc));
    return 1;
  }
  int ok = v.i64 == f2(f1(7));
  printf("(c) f2(f1(7)) through futures: %lld: %s\n", (long long)v.i64,
         ok ? "ok" : "WRONG");

  /*
  ** As completed: wait for any, handle it, drop it from the array, wait
  ** again. The naps are submitted longest first, so they finish in about
  ** the reverse order.
  */
  enum { NNAPS = 5 };
  static const int64_t nap_ms[NNAPS] = {160, 120, 80, 40, 10};
  dusk_node *pending[NNAPS];
  int npending = 0, seen[NNAPS] = {0};
  for (int i = 0; i < NNAPS; i++) {
    pending[i] = dusk_future(g, nap_task, dusk_literal(g, dusk_i64(nap_ms[i])));
    if (pending[i] == NULL) {
      fprintf(stderr, "futures: (c): %s\n",
              dusk_strerror(dusk_last_error(NULL)));
      return 1;
    }
    npending++;
  }
  printf("    as completed:");
  while (npending > 0) {
    int i = dusk_wait_any(pending, npending, -1);
    if (i < 0) {
      fprintf(stderr, "\nfutures: wait_any: %s\n", dusk_strerror(i));
      return 1;
    }
    rc = dusk_get(pending[i], &v);
    for (int k = 0; k < NNAPS; k++)
      if (rc == DUSK_OK && v.i64 == nap_ms[k])
        seen[k]++;
    printf(" %lld ms", (long long)v.i64);
    pending[i] = pending[--npending]; /* drop it: order does not matter */
  }
  int all = 1;
  for (int k = 0; k < NNAPS; k++)
    all &= seen[k] == 1;
  printf(": %s\n", all ? "ok" : "WRONG");
  return ok && all ? 0 : 1;
}

/* ============================================================== main */

int main(void) {
  /*
  ** Eight workers, whatever the number of cores: sleeping tasks need
  ** threads, not cores. The graph uses this pool instead of the default.
  */
  enum { WORKERS = 8 };
  dusk_pool *pool = dusk_pool_new(WORKERS);
  dusk_graph *g = dusk_graph_new();
  if (pool == NULL || g == NULL) {
    fprintf(stderr, "futures: %s\n", dusk_strerror(dusk_last_error(NULL)));
    dusk_graph_free(g);
    dusk_pool_free(pool);
    return 1;
  }
  dusk_graph_set_pool(g, pool);

  int failed = part_a(g, WORKERS);
  failed |= part_b(g);
  failed |= part_c(g);

  /* Free the graph (and every result it keeps) before its pool. */
  dusk_graph_free(g);
  dusk_pool_free(pool);
  printf("%s\n", failed ? "WRONG" : "ok: every result is right");
  return failed ? 1 : 0;
}
