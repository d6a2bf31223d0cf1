/*
** What the files of a compute share: compute.c (claiming, wiring, the
** compute's life), exec.c (running and finishing tasks), waiters.c (the
** graph's waiter table) and cancel.c. The inline helpers are on the path
** of every task; the rest is declared here and argued where it is defined.
*/
#ifndef DUSK_SRC_RUN_H
#define DUSK_SRC_RUN_H

#include "src/core.h"

#include <sched.h>

/*
** node.deps while a compute owns the node: a pointer with tags in its low
** four bits. The pointer is the one dependent (DEPS_ONE), the first of two
** (DEPS_TWO: node.val holds the second), or the first cell of a list of
** three or more, or NULL. While the node is set up, node.val holds the
** second of two dependents, or else counts them (its value slot is free
** until the node has run).
*/
enum {
  DEPS_ONE = 1,    /* the pointer is the one dependent                  */
  DEPS_TWO = 2,    /* the pointer is the first of two; node.val the other */
  DEPS_TARGET = 4, /* the node is a target of its compute               */
  DEPS_WAITS = 8,  /* set-up: it waits on a node of another compute     */
  DEPS_TAGS = 15,
};

/* A dependent in a list; cells come from the compute's arena. */
typedef struct cell { /* 16-byte aligned: its address carries four tags */
  _Alignas(16) dusk_node *node;
  struct cell *next;
} cell;

/*
** The dependents of a claimed node, taken before its value slot is written
** (finishing stores a result, or a failure's cause, there).
*/
typedef struct dependents {
  uintptr_t deps;  /* node.deps                                        */
  uintptr_t other; /* node.val: the second of two, or the count        */
} dependents;

static inline dependents dependents_of(const dusk_node *n) {
  return (dependents){n->deps, n->deps & DEPS_TWO ? (uintptr_t)n->val.ptr
                                                  : (uintptr_t)n->val.i64};
}

static inline int dependents_count(dependents d) {
  return d.deps & DEPS_TWO ? 2 : (int)d.other;
}

static inline int node_state(const dusk_node *n) {
  return atomic_load_explicit(&n->state, memory_order_acquire);
}

static inline uint16_t node_flags(const dusk_node *n) {
  return atomic_load_explicit(&n->flags, memory_order_relaxed);
}

/* Wait a moment for another thread's few instructions. */
static inline void cpu_wait(void) { sched_yield(); }

/* Take a ref on a node that has a result; false if its last ref is going. */
static inline bool try_retain(dusk_node *n) {
  int r = atomic_load_explicit(&n->refs, memory_order_relaxed);
  while (r > 0)
    if (atomic_compare_exchange_weak(&n->refs, &r, r + 1))
      return true;
  return false;
}

/* Drop a ref; the last one frees a result and makes the node IDLE again. */
static inline void release(dusk_node *n) {
  if (node_flags(n) & DUSK__LITERAL)
    return;
  if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (node_state(n) == DUSK__DONE) {
    dusk__node_clear_value(n);
    atomic_store_explicit(&n->state, DUSK__IDLE, memory_order_release);
  }
}

static inline void release_args(dusk_node *n) {
  dusk_node *const *args = dusk__args(n);
  for (int i = 0; i < n->nargs; i++)
    release(args[i]);
}

/*
** True when n failed only because a compute stopped before n, or a node
** upstream of n, could run ("not run: the compute stopped"): its failure is
** no answer, and the next compute or wait that needs n runs it.
*/
static inline bool not_run(const dusk_node *n) {
  return node_state(n) == DUSK__FAILED && (node_flags(n) & DUSK__NOT_RUN);
}

/*
** True when n, FAILED, failed by a cancel: a cancel finished it, or its
** task stopped for one (returned DUSK_ECANCELED). Read from how it failed,
** not from the CANCELLED flag, which a dusk_cancel() that finds the node
** finished sets for a moment before it takes it back; at rest the two
** agree (dusk__finish, dusk_cancel). A node taken up again meanwhile has
** neither that kind nor that code (its pending count is no error code).
*/
static inline bool failed_by_cancel(const dusk_node *n) {
  int how = atomic_load_explicit(&n->kind, memory_order_relaxed);
  return how == DUSK__FAIL_CANCELLED ||
         (how == DUSK__FAIL_OWN &&
          atomic_load_explicit(&n->pending, memory_order_relaxed) ==
              DUSK_ECANCELED);
}

/*
** A node cancelled while it waits is finished at once (dusk_cancel), but
** its arguments still count it down; CANCEL_BIAS added to its pending keeps
** it from ever reaching zero, and reaching the bias says its arguments are
** all done: it is then handed to a worker, which only releases them.
*/
enum { CANCEL_BIAS = 1 << 29 };

/* Count down a consumer by k; true when it has nothing left to wait for. */
static inline bool count_down_by(dusk_node *d, int k) {
  int old = atomic_fetch_sub_explicit(&d->pending, k, memory_order_acq_rel);
  return old == k || old == CANCEL_BIAS + k;
}

static inline bool count_down(dusk_node *d) { return count_down_by(d, 1); }

/* ---- exec.c */

/* Mark r failed, caused by `cause` (the first failure wins). given_up: the
   cause is a node another compute did not run, so r is to be tried again. */
void dusk__mark_failed_by(dusk__run *r, int code, dusk_node *cause,
                          bool given_up);

/* A failure of r's own (a task, a cancel, no memory): an answer. */
static inline void mark_failed(dusk__run *r, int code, dusk_node *cause) {
  dusk__mark_failed_by(r, code, cause, false);
}

/* The full fence of the side that registers a waiter (see exec.c). */
void dusk__heavy_barrier(void);

/* Store n's final state; returns its flags as read after the store. */
uint16_t dusk__publish_state(dusk_node *n, uint8_t state);

/* Queue d on its compute's pool, or run it here if that takes memory that
   is not there. */
void dusk__push_or_run(dusk_node *d);

/*
** n ran (or was skipped): take the refs of its dependents d (taken by
** dependents_of() before n's value slot was written), publish its state,
** wake waiters, count down its dependents. Returns one that is ready, for
** the caller to run next. in_pool: the caller is a worker.
*/
dusk_node *dusk__finish(dusk_node *n, int state, dependents d, bool in_pool);

/* Record how n failed (DUSK__FAIL_*), its code and the node that caused it. */
void dusk__set_failure(dusk_node *n, int how, int code, dusk_node *cause);

/* Record n as cancelled (its kind, its cause, its message). */
void dusk__record_cancel(dusk_node *n);

/* Count down what this thread has deferred (see exec.c). */
void dusk__publish_deferred(void);

/* Is the calling thread inside a task (a compute nested in one)? Tasks
   run on workers (and, only when a queue could not grow, on the thread
   that finished their last argument), so: is it a worker of any pool. A
   worker outside a task is in a callback, treated the same. */
static inline bool dusk__in_task(void) { return dusk__own_pool != NULL; }

/* ---- waiters.c */

/* Register (consumer or, when NULL, the run itself) as a waiter on n, which
   another compute runs. Returns false if n finished meanwhile; *nomem is
   set when there was no memory to register. */
bool dusk__add_waiter(dusk__run *r, dusk_node *n, dusk_node *consumer,
                      int *nomem);

/* Undo a registration if it is still there; true if it was. */
bool dusk__remove_waiter(dusk__run *r, dusk_node *n, dusk_node *consumer);

/* Tell the waiters and callbacks of n's life `life` (the compute that ran
   n; NULL: none, a cancel of an idle node) that n finished. Those of a
   later life stay. */
void dusk__notify_waiters(dusk_node *n, const dusk__run *life, bool failed);

/* r claimed n, whose WAITERS flag is up: callbacks registered while n was
   idle wait for r's life. */
void dusk__waiters_claimed(dusk_node *n, dusk__run *r);

/*
** Test hook (tests/test_waiters.c): hook(n) is called at the start of every
** notice of n, before the graph lock is taken: where a finisher may be held
** up while the node moves on. NULL (the default): none.
*/
typedef void (*dusk__notice_hook)(dusk_node *n);
void dusk__set_notice_hook(dusk__notice_hook hook);

/* ---- compute.c */

/* One target of r finished; the last one ends the compute. */
void dusk__target_finished(dusk__run *r);

#endif
