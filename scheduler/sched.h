/*
** What the scheduler offers the rest of dusk: work-stealing deques and a pool
** of workers that run opaque items. The scheduler knows nothing of graphs:
** an item is a non-NULL pointer, and the pool hands each item it is given to
** one call of the pool's run function, exactly once.
*/
#ifndef DUSK_SCHEDULER_SCHED_H
#define DUSK_SCHEDULER_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ----------------------------------------------------------- the deque */

/*
** A growable Chase-Lev deque of pointers (Chase and Lev, SPAA 2005), with
** the C11 memory orders of Le, Pop, Cohen and Zappa Nardelli (PPoPP 2013).
** One owner pushes and pops at the bottom; any thread steals at the top.
*/
typedef struct dusk__ring dusk__ring;
typedef struct dusk__deque {
  _Alignas(64) atomic_llong top;    /* thieves' end, advanced by CAS       */
  _Alignas(64) atomic_llong bottom; /* owner's end                          */
  _Atomic(dusk__ring *) ring;       /* the live array                       */
  dusk__ring *retired;              /* older arrays, freed with the deque   */
} dusk__deque;

#define DUSK__STEAL_EMPTY ((void *)0)
#define DUSK__STEAL_RETRY ((void *)1) /* lost a race: the deque may not be empty */

int dusk__deque_init(dusk__deque *q, long capacity); /* 0, or -1 when out of memory */
void dusk__deque_destroy(dusk__deque *q);
int dusk__deque_push(dusk__deque *q, void *item); /* owner; -1 when out of memory */
void *dusk__deque_pop(dusk__deque *q);            /* owner; NULL when empty */
void *dusk__deque_pop_alone(dusk__deque *q);      /* the same, with no thieves */
void *dusk__deque_steal(dusk__deque *q);          /* any thread */
long dusk__deque_size(dusk__deque *q);            /* a snapshot; any thread */

/* ------------------------------------------------------------ the pool */

typedef struct dusk_pool dusk__pool;

/*
** The pool's run function: run(item) for every item pushed, and run(NULL)
** on a worker whose own deque has run dry, before it looks elsewhere or
** sleeps: the user may have deferred work (counts to publish) until then.
*/
typedef void (*dusk__run_fn)(void *item);

/* Items lent to the pool without a copy (see dusk__pool_push_batch). */
typedef struct dusk__batch {
  void *const *items;
  size_t n, next;
  struct dusk__batch *link;
  /* Set by the lender, or NULL: called (under the pool's inbox lock) once
     the last item has been taken, when items[] may be given back. */
  void (*done)(struct dusk__batch *b);
} dusk__batch;

/*
** Start nthreads workers that call run(item) for every item pushed.
** NULL when out of memory or a thread cannot start; *err says which
** (-2 memory, -8 thread, matching DUSK_ENOMEM and DUSK_ETHREAD).
*/
dusk__pool *dusk__pool_new(int nthreads, dusk__run_fn run, int *err);

/* Run what is queued, then stop and join the workers. */
void dusk__pool_free(dusk__pool *p);

int dusk__pool_size(const dusk__pool *p);

/* The index of the calling thread among p's workers, or -1. */
int dusk__pool_worker(const dusk__pool *p);

/* The pool the calling thread is a worker of, or NULL (set by pool.c). */
extern _Thread_local const dusk__pool *dusk__own_pool;

/* Is the calling thread one of p's workers? (dusk__pool_worker() >= 0,
   inline: it is asked on the path of every task.) */
static inline bool dusk__pool_mine(const dusk__pool *p) {
  return p && dusk__own_pool == p;
}

/*
** Queue one item. On a worker of p it goes to that worker's own deque
** (run next, LIFO); from any other thread to the pool's inbox. Returns 0, or
** -1 when out of memory (the item is not queued).
*/
int dusk__pool_push(dusk__pool *p, void *item);

/* Like dusk__pool_push(), for the item the calling worker will run next: it
   wakes a sleeper only when the deque holds more than this item. */
int dusk__pool_push_next(dusk__pool *p, void *item);

/* Queue n items at once; from outside the pool this takes one lock. */
int dusk__pool_push_many(dusk__pool *p, void *const *items, size_t n);

/*
** Queue n items without copying them and without allocating: on a worker of
** p onto its deque (what does not fit goes the other way), from outside as
** a batch in the inbox that workers take chunks of. items[] and *b must stay
** valid until every item has been taken, e.g. until every item has run.
*/
void dusk__pool_push_batch(dusk__pool *p, dusk__batch *b, void *const *items,
                           size_t n);

/*
** On a worker of p: run queued items until done(arg) is true. Whoever makes
** done() true must then call dusk__pool_notify() so that a worker parked
** meanwhile looks again. Must not be called from outside the pool.
*/
void dusk__pool_help(dusk__pool *p, int (*done)(void *), void *arg);

/* dusk__pool_help() that also returns at the deadline (CLOCK_MONOTONIC ns;
   0: none). */
void dusk__pool_help_until(dusk__pool *p, int (*done)(void *), void *arg,
                           int64_t deadline);

/* Wake every parked worker (they check their work and done() again). */
void dusk__pool_notify(dusk__pool *p);

/* ------------------------------------------------------------ limits */

/*
** Resource classes (scheduler/limit.c): at most `limit` items of a class run
** at once; an item that finds no slot is parked instead of blocking its
** worker, and handed a slot when one is given back.
*/
typedef struct dusk__limit dusk__limit;
typedef struct dusk__limits { /* a pool's classes, by name */
  atomic_bool any;              /* a class exists: read without the lock */
  pthread_mutex_t lock;
  dusk__limit *head;
} dusk__limits;

int dusk__limits_init(dusk__limits *ls); /* 0, or -1 */
void dusk__limits_destroy(dusk__limits *ls);

/* The class called name, or NULL if no limit was ever set on it. */
dusk__limit *dusk__limit_find(dusk__limits *ls, const char *name);

/* Whether any class exists: when none does, no item needs a lookup (one
   relaxed load; a class made meanwhile counts for items started after). */
static inline bool dusk__limits_any(dusk__limits *ls) {
  return atomic_load_explicit(&ls->any, memory_order_relaxed);
}

/* Set name's limit (0: none), making the class; -1 when out of memory.
   Raising it frees slots: call dusk__limit_wake() until it returns NULL. */
int dusk__limit_set(dusk__limits *ls, const char *name, int limit,
                    dusk__limit **out);

/* name's limit; 0 when none is set. */
int dusk__limit_get(dusk__limits *ls, const char *name);

enum { DUSK__LIMIT_ENTERED, DUSK__LIMIT_PARKED, DUSK__LIMIT_NOMEM };

/* Take a slot for item, or park it: ENTERED, PARKED (the caller lets go of
   item: it comes back from leave or wake), NOMEM (neither happened). */
int dusk__limit_enter(dusk__limit *l, void *item);

/* Give back a slot. Returns a parked item that now holds it (the caller
   runs it, and it leaves without entering), or NULL. */
void *dusk__limit_leave(dusk__limit *l);

/* After raising a limit: a parked item to push (it enters again), or NULL
   once none is parked or no slot is free. */
void *dusk__limit_wake(dusk__limit *l);

/* The classes of pool p. */
dusk__limits *dusk__pool_limits(dusk__pool *p);

/* Counters for statistics and tests. */
typedef struct dusk__pool_stats {
  uint64_t run, steals, parks;
} dusk__pool_stats;
void dusk__pool_get_stats(dusk__pool *p, dusk__pool_stats *s);

#endif
