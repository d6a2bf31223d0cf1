/*
** Running and finishing tasks: what a worker does with a claimed node.
**
** A worker pops a node whose arguments are all done (pending reached zero)
** and runs its task with the arguments' values, in the order given. Then it
** releases the arguments (the last reader frees an intermediate), stores the
** result, publishes the node's final state, wakes waiters of other computes,
** and counts down the node's dependents: one that becomes ready runs next on
** the same worker, while its inputs are in cache; the others are pushed where
** idle workers can steal them. How the nodes were claimed and wired, and the
** invariants that make this safe, are argued at the top of compute.c.
**
** Failures. A task that fails marks its compute failed. From then on no task
** of that compute starts: popped nodes are finished as FAILED without running
** ("not run"), so every claimed node still finishes, every ref is released
** and every intermediate freed, and the caller wakes. The message of a node
** that did not run is made when asked for (dusk_errmsg), from the node that
** caused it, stored in the node's value slot while it is FAILED.
*/
#include "src/run.h"
#include "src/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/membarrier.h>
#endif

struct dusk_task {
  dusk_node *node;
  dusk_graph *graph;
  char *msg;
};

/* ------------------------------------------------------------ run state */

/*
** Mark r failed, caused by `cause`. The first failure wins; its cause is
** published before the flag, so that whoever sees the compute failed also
** sees which node failed. A later one waits until the flag is out (a few
** instructions): its caller goes on to count down dependents, and one of
** them must not run because the flag was not yet there to stop it. When the
** first cause is a node another compute gave up (it did not run: given_up),
** the failure is no answer, and r is to be tried again (dusk__compute).
*/
void dusk__mark_failed_by(dusk__run *r, int code, dusk_node *cause,
                          bool given_up) {
  dusk_node *none = NULL;
  if (atomic_compare_exchange_strong(&r->cause, &none, cause)) {
    atomic_store_explicit(&r->again, given_up, memory_order_relaxed);
    atomic_store(&r->failed, code); /* publishes again */
  } else {
    while (atomic_load(&r->failed) == 0)
      cpu_wait();
  }
}

/* ------------------------------------------------------------ finishing */

/*
** Finishing a node is a store (its state) followed by a load (its WAITERS
** flag), and registering a waiter is the mirror image; one side must see
** the other, which takes a full fence on both sides (Dekker). Finishing
** happens for every task, registering rarely, so where Linux offers it the
** finisher only stops the compiler from reordering and the registrant pays
** for both with membarrier(2), which runs a full fence on every thread of
** the process (the asymmetric fence of liburcu and Folly). Elsewhere, and
** under ThreadSanitizer, which cannot see membarrier, both sides fence.
*/
#if defined(__linux__) && defined(SYS_membarrier) && !DUSK__TSAN
#define HAVE_MEMBARRIER 1
#else
#define HAVE_MEMBARRIER 0
#endif

static bool heavy; /* set once, before any pool exists */

void dusk__fences_init(void) {
#if HAVE_MEMBARRIER
  heavy = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                  0, 0) == 0;
#endif
}

void dusk__heavy_barrier(void) {
#if HAVE_MEMBARRIER
  if (heavy && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
                       0) == 0)
    return;
#endif
  atomic_thread_fence(memory_order_seq_cst);
}

/* Store n's final state; returns its flags as read after the store. */
uint16_t dusk__publish_state(dusk_node *n, uint8_t state) {
  if (heavy) {
    atomic_store_explicit(&n->state, state, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    return atomic_load_explicit(&n->flags, memory_order_relaxed);
  }
  atomic_store_explicit(&n->state, state, memory_order_seq_cst);
  return atomic_load_explicit(&n->flags, memory_order_seq_cst);
}

void dusk__push_or_run(dusk_node *d) {
  if (dusk__pool_push(dusk__run_of(d)->pool, d) != 0)
    dusk__exec(d); /* no memory to queue it: run it here */
}

/*
** Deferred counts. When many tasks feed one consumer (a sum of a million
** values), counting it down for each is one contended atomic per task, the
** cache line bouncing between workers. Instead a worker counts locally while
** the consumer stays the same and publishes the sum with one atomic when it
** moves on to another consumer or when its deque runs dry (the pool calls
** dusk__exec(NULL) then, before it steals or sleeps). The consumer cannot
** run before all its counts arrive anyway; the delay is bounded by the run
** of one worker's deque.
*/
static _Thread_local dusk_node *deferred;
static _Thread_local int deferred_count;

/* Count down what this thread deferred; returns the node that this made
   ready, if any. */
static dusk_node *take_deferred(void) {
  dusk_node *d = deferred;
  int k = deferred_count;
  deferred = NULL;
  deferred_count = 0;
  return d && count_down_by(d, k) ? d : NULL;
}

void dusk__publish_deferred(void) {
  dusk_node *d = take_deferred();
  if (d)
    dusk__push_or_run(d);
}

/*
** Defer one count of d; false when it must be counted now (not on a worker:
** no one would publish it). Moving on from another node publishes its
** counts; if that makes it ready, it is *ready, for the caller to run next
** (where the pool's LIFO order would have taken it anyway) rather than
** pushed and popped again.
*/
static bool defer_count(dusk_node *d, bool in_pool, dusk_node **ready) {
  if (!in_pool || !dusk__pool_mine(dusk__run_of(d)->pool))
    return false;
  if (deferred != d)
    *ready = take_deferred();
  deferred = d;
  deferred_count++;
  return true;
}

/* Count down d; true when it became ready and is to run next, which it
   does unless the caller already has one (*next): then it is pushed. */
static inline void count_down_to(dusk_node *d, dusk_node **next) {
  if (!count_down(d))
    return;
  if (!*next)
    *next = d;
  else
    dusk__push_or_run(d);
}

/* The progress bar's count and the statistics of a finish: apart, so that
   with diagnostics off a finish pays one load and one branch for them. */
static DUSK__COLD void finish_diag(dusk__run *r, dusk_node *n, int state,
                                   int diag) {
  if (diag & DUSK__DIAG_PROGRESS)
    atomic_fetch_add_explicit(&r->ndone, 1, memory_order_relaxed);
  if (diag & DUSK__DIAG_STATS)
    dusk__stats_finish(n, state);
}

/*
** n ran (or was skipped): take the refs of its dependents, publish its
** state, wake waiters, count down its dependents. Returns one dependent
** that is ready, for the caller to run next; the others are pushed.
** Touches nothing of the compute afterwards except through
** dusk__target_finished(), which is last.
*/
dusk_node *dusk__finish(dusk_node *n, int state, dependents ds, bool in_pool) {
  dusk__run *r = dusk__run_of(n);
  bool failed = state == DUSK__FAILED;
  int diag = DUSK__DIAG_ON();
  if (diag)
    finish_diag(r, n, state, diag);
  /* The readers in this compute: added before the result is published, so
     that another compute never sees DONE with no ref on it. */
  int ndeps = dependents_count(ds);
  if (ndeps)
    atomic_fetch_add_explicit(&n->refs, ndeps, memory_order_relaxed);
  uint16_t flags = dusk__publish_state(n, (uint8_t)state);
  /* A cancel keeps its flag only on a node that ends cancelled: one that
     came while the task ran (DUSK_EBUSY), or as the node was being
     skipped, came too late unless the task stopped for it; the node is not
     cancelled for later computes. Cleared before any reader is counted
     down: no compute can take the node up again before. */
  if ((flags & DUSK__CANCELLED) && !(failed && failed_by_cancel(n)))
    atomic_fetch_and(&n->flags, (uint16_t)~DUSK__CANCELLED);
  if (flags & DUSK__WAITERS)
    dusk__notify_waiters(n, r, failed);
  uintptr_t deps = ds.deps;
  dusk_node *first = (dusk_node *)(deps & ~(uintptr_t)DEPS_TAGS);
  dusk_node *next = NULL;
  if (deps & DEPS_ONE) {
    /* With many arguments, defer the count if the last one we deferred was
       for first too. With one, count it all the same: the atomic is what
       orders us against a dusk_cancel() that finishes it while it waits. */
    if (!(first->nargs > 1 && defer_count(first, in_pool, &next)))
      count_down_to(first, &next);
  } else if (deps & DEPS_TWO) {
    /* The later one first, as a list would have it. */
    count_down_to((dusk_node *)ds.other, &next);
    count_down_to(first, &next);
  } else {
    /* Read each cell before counting down: the count that makes the last
       target ready can end the compute, and its cells are then reused. */
    for (cell *e = (cell *)first, *after; e; e = after) {
      dusk_node *d = e->node;
      after = e->next;
      count_down_to(d, &next);
    }
  }
  if (deps & DEPS_TARGET)
    dusk__target_finished(r);
  return next;
}

void dusk__set_failure(dusk_node *n, int how, int code, dusk_node *cause) {
  atomic_store_explicit(&n->kind, (uint8_t)how, memory_order_relaxed);
  n->val.ptr = cause;
  atomic_store_explicit(&n->pending, code, memory_order_relaxed);
}

/* The node will not run: the compute stopped, or an argument failed. */
static dusk_node *skip(dusk_node *n) {
  dusk__run *r = dusk__run_of(n);
  dependents ds = dependents_of(n);
  dusk_node *const *args = dusk__args(n);
  /* The first argument that failed for a reason of its own, else the
     first that failed. */
  dusk_node *cause = NULL;
  for (int i = 0; i < n->nargs && !(cause && !not_run(cause)); i++)
    if (node_state(args[i]) == DUSK__FAILED && (!cause || !not_run(args[i])))
      cause = args[i];
  /* Not run, unless an argument failed for a reason of its own. Its code
     is read while we hold our ref on it: once released, it may be taken up
     again, and then it has none (and n would say DUSK_ETASK instead). */
  uint16_t why = cause && !not_run(cause) ? 0 : DUSK__NOT_RUN;
  int up = cause ? dusk_errcode(cause) : 0;
  release_args(n);
  int code = atomic_load(&r->failed);
  if (why)
    atomic_fetch_or(&n->flags, why);
  if (cause) {
    int why_code = up ? up : code ? code : DUSK_ETASK;
    dusk__set_failure(n, DUSK__FAIL_UPSTREAM, why_code, cause);
  } else
    dusk__set_failure(n, DUSK__FAIL_STOPPED, code, atomic_load(&r->cause));
  return dusk__finish(n, DUSK__FAILED, ds, true);
}

/* ------------------------------------------------------ failure records */

void dusk__record_cancel(dusk_node *n) {
  char label[128];
  /* pending stays its arguments' count (see CANCEL_BIAS) */
  atomic_store_explicit(&n->kind, DUSK__FAIL_CANCELLED, memory_order_relaxed);
  n->val.ptr = n;
  char *msg = dusk__format("%s cancelled", dusk__label(n, label, sizeof label));
  dusk__store_error(dusk__graph_of(n), n, DUSK_ECANCELED, msg);
}

static void record_task_failure(dusk_node *n, int rc, char *task_msg) {
  char label[128];
  char *msg = dusk__format("%s failed: %s", dusk__label(n, label, sizeof label),
                     task_msg ? task_msg : dusk_strerror(rc));
  dusk__free(task_msg);
  dusk__set_failure(n, DUSK__FAIL_OWN, rc, n);
  dusk__store_error(dusk__graph_of(n), n, rc, msg);
}

/* -------------------------------------------------------------- tasks */

void *dusk_task_udata(dusk_task *t) { return t ? t->node->udata : NULL; }
dusk_graph *dusk_task_graph(dusk_task *t) { return t ? t->graph : NULL; }
dusk_node *dusk_task_node(dusk_task *t) { return t ? t->node : NULL; }

int dusk_fail(dusk_task *t, const char *fmt, ...) {
  if (!t)
    return DUSK_ETASK;
  va_list ap;
  va_start(ap, fmt);
  int len = fmt ? vsnprintf(NULL, 0, fmt, ap) : -1;
  va_end(ap);
  char *s = len >= 0 ? dusk__malloc((size_t)len + 1) : NULL;
  if (s) {
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
  }
  dusk__free(t->msg);
  t->msg = s; /* NULL when out of memory: the code's text is used */
  return DUSK_ETASK;
}

enum { INLINE_ARGS = 8 };

/*
** The argument array of a task with many arguments. The process keeps the
** last one, so that a wide reduction does not fault in fresh pages on every
** compute (up to a size); whoever takes it owns it until it gives it back (a task that
** nests a compute keeps it meanwhile, and the tasks it runs allocate their
** own). One for the whole process, not one per thread: a worker that ran a
** wide task once must not hold its array for good.
*/
typedef struct spare {
  size_t cap;
  dusk_value *v; /* allocated on its own: exactly cap values, no header */
} spare;

static _Atomic(spare *) kept_args;
enum { KEEP_ARGS = 1 << 16 }; /* values: 2 MiB */

static void spare_free(spare *s) {
  if (s) {
    dusk__free_big(s->v, s->cap * sizeof(dusk_value));
    dusk__free(s);
  }
}

static dusk_value *args_get(int n, spare **owner) {
  spare *s = atomic_exchange(&kept_args, NULL);
  if (!s || s->cap < (size_t)n) {
    spare_free(s);
    if (!(s = dusk__malloc(sizeof *s)))
      return NULL;
    s->cap = (size_t)n;
    if (!(s->v = dusk__malloc_big((size_t)n * sizeof(dusk_value)))) {
      dusk__free(s);
      return NULL;
    }
  }
  *owner = s;
  return s->v;
}

/* Keep it for the next wide task, unless it is large: huge pages make a
   fresh one cheap (one fault per 2 MiB), and holding tens of megabytes
   between computes would raise every later peak by as much. */
static void args_put(spare *s) {
  if (s->cap > KEEP_ARGS)
    spare_free(s);
  else
    spare_free(atomic_exchange(&kept_args, s));
}

/* n cannot run for want of memory: it fails, and its compute stops. */
static dusk_node *fail_for_memory(dusk_node *n) {
  dependents ds = dependents_of(n);
  mark_failed(dusk__run_of(n), DUSK_ENOMEM, n);
  release_args(n);
  record_task_failure(n, DUSK_ENOMEM, NULL);
  return dusk__finish(n, DUSK__FAILED, ds, true);
}

/* Run n's task. Returns a dependent to run next, or NULL. */
static dusk_node *run_task(dusk_node *n) {
  dusk__run *r = dusk__run_of(n);
  dependents ds = dependents_of(n); /* before the value slot is set */
  /* Its dependents are read when it finishes: start fetching them now. */
  __builtin_prefetch((const void *)(ds.deps & ~(uintptr_t)DEPS_TAGS), 1);
  if (ds.deps & DEPS_TWO)
    __builtin_prefetch((const void *)ds.other, 1);
  dusk_value local[INLINE_ARGS];
  dusk_value *argv = local;
  spare *owner = NULL;
  if (n->nargs > INLINE_ARGS && !(argv = args_get(n->nargs, &owner)))
    return fail_for_memory(n);
  dusk_node *const *args = dusk__args(n);
  for (int i = 0; i < n->nargs; i++)
    dusk__node_value_to(args[i], &argv[i]);
  dusk_task t = {n, r->g, NULL};
  dusk_value out = {.kind = DUSK_NONE};
  int timed = DUSK__DIAG_ON() & (DUSK__DIAG_TRACE | DUSK__DIAG_STATS);
  int64_t began = timed ? dusk__now() : 0;
  int rc = n->fn(&t, argv, n->nargs, &out);
  if (timed)
    dusk__diag_task(n, timed, dusk__pool_worker(r->pool) + 1, began);
  if (argv != local)
    args_put(owner);
  release_args(n);
  if (rc == 0 && (out.kind < DUSK_NONE || out.kind > DUSK_PTR)) {
    rc = DUSK_EINVAL;
    t.msg = dusk__format("the task returned a value of unknown kind %d",
                         (int)out.kind);
    if (out.free && out.ptr) /* handed to us: released, whatever its kind */
      out.free(out.ptr);
    out = (dusk_value){.kind = DUSK_NONE};
  }
  if (rc == 0 && dusk__node_set_value(n, &out) != 0)
    rc = DUSK_ENOMEM;
  if (rc != 0) {
    /* What a failing task wrote is released: a pointer, or a value of no
       known kind that still carries a free function. */
    if (out.kind != DUSK_I64 && out.kind != DUSK_F64 && out.free && out.ptr)
      out.free(out.ptr);
    mark_failed(r, rc, n);
    record_task_failure(n, rc, t.msg);
    return dusk__finish(n, DUSK__FAILED, ds, true);
  }
  if (t.msg) /* a message with no failure */
    dusk__free(t.msg);
  return dusk__finish(n, DUSK__DONE, ds, true);
}

/*
** Cancellation. dusk_cancel() sets CANCELLED, then (full fence) reads the
** state; the worker stores RUNNING, then (fence) reads the flag. If cancel
** saw CLAIMED, the worker sees the flag and does not run the task; if the
** worker missed the flag, cancel sees RUNNING and says so (DUSK_EBUSY).
*/
static bool cancel_requested(dusk_node *n) {
  return dusk__publish_state(n, DUSK__RUNNING) & DUSK__CANCELLED;
}

static dusk_node *cancel_now(dusk_node *n) {
  dusk__run *r = dusk__run_of(n);
  dependents ds = dependents_of(n);
  release_args(n);
  mark_failed(r, DUSK_ECANCELED, n);
  dusk__record_cancel(n);
  return dusk__finish(n, DUSK__FAILED, ds, true);
}

/*
** Resource classes (scheduler/limit.c). A task of a class with a limit on
** its pool takes a slot first; finding none, it is parked and the worker
** goes on with other work. The task that gives a slot back hands it to the
** oldest parked one, which its worker then runs at once (it holds the slot).
*/
static bool run_failed(dusk_node *n) {
  return atomic_load_explicit(&dusk__run_of(n)->failed, memory_order_relaxed);
}

/* The class whose slot n must take before it runs, or NULL: none, or its
   compute failed (then it is skipped, which needs no slot). One flag test
   for a task in no class, and one load more for a tagged task on a pool
   with no class: tagging costs nothing until a limit is set. */
static dusk__limit *limit_of(dusk_node *n) {
  if (!(node_flags(n) & DUSK__LIMITED) || run_failed(n))
    return NULL;
  dusk__limits *ls = dusk__pool_limits(dusk__run_of(n)->pool);
  if (!dusk__limits_any(ls)) /* no class on this pool: nothing to look up */
    return NULL;
  const char *name = dusk__graph_resource(dusk__graph_of(n), n);
  return name ? dusk__limit_find(ls, name) : NULL;
}

/* Take a slot of l for *n; false when *n was parked (*n is then NULL) or
   failed for want of memory (*n is then the node to run next). */
static bool enter(dusk__limit *l, dusk_node **n) {
  switch (dusk__limit_enter(l, *n)) {
  case DUSK__LIMIT_ENTERED:
    return true;
  case DUSK__LIMIT_PARKED:
    *n = NULL;
    return false;
  default:
    *n = fail_for_memory(*n);
    return false;
  }
}

/* Give l's slot back: returns the parked node that now holds it, to run
   next (next is pushed then), or else next. */
static dusk_node *pass_slot(dusk__limit *l, dusk_node *next,
                            dusk__limit **held) {
  dusk_node *w = dusk__limit_leave(l);
  if (!w)
    return next;
  if (next)
    dusk__push_or_run(next);
  *held = l;
  return w;
}

void dusk__exec(void *item) {
  dusk_node *n = item;
  if (!n) { /* the worker ran dry */
    dusk__publish_deferred();
    return;
  }
  dusk__limit *held = NULL; /* the slot handed to n by the task before it */
  while (n) {
    dusk__limit *l = held;
    held = NULL;
    if (node_state(n) == DUSK__FAILED ||
        atomic_load_explicit(&n->pending, memory_order_acquire) >=
            CANCEL_BIAS) { /* cancelled while it waited */
      /* Its arguments may drain before the canceller has finished it: let
         it (a few instructions), then only release them. */
      while (node_state(n) != DUSK__FAILED)
        cpu_wait();
      dusk__run *r = dusk__run_of(n);
      release_args(n);
      dusk__target_finished(r); /* the hold dusk_cancel took on its compute */
      n = NULL;
    } else if (!l && (l = limit_of(n)) && !enter(l, &n)) {
      l = NULL; /* parked, or failed: it holds no slot */
    } else if (cancel_requested(n)) {
      /* A cancel first: a node cancelled while it waited in a queue fails
         as cancelled even when its compute has stopped meanwhile. */
      n = cancel_now(n);
    } else if (run_failed(n)) {
      n = skip(n);
    } else {
      n = run_task(n);
    }
    if (l)
      n = pass_slot(l, n, &held);
  }
}

int dusk_task_cancelled(dusk_task *t) {
  return t && (node_flags(t->node) & DUSK__CANCELLED);
}

