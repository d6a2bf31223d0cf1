/*
** The pool: worker threads, each owning a work-stealing deque, plus an
** inbox for items that come from threads outside the pool.
**
** A worker looks for work in this order: its own deque (LIFO, so that a
** successor runs while its inputs are still in cache and chains finish
** before new roots start, which keeps memory low), then the inbox (a chunk at
** a time, moved to its own deque where others can steal it), then the other
** workers' deques (random victim, oldest item: usually the largest piece of
** unstarted work). Finding nothing, it spins briefly, then parks.
**
** Sleep and wake (no lost wake-ups, no busy waiting). A parking worker reads
** the epoch, announces itself in nsleep (a seq_cst RMW), looks for work once
** more, and only then waits until the epoch moves. A producer publishes its
** item, issues a full fence, and reads nsleep; if someone is parked it bumps
** the epoch under the lock and signals. Either the producer sees the sleeper
** or the sleeper's last look sees the item: the two seq_cst steps cannot both
** miss. A worker that pushes the successor it is about to pop itself wakes
** nobody unless its deque holds more than that one item: a chain then never
** pays for a wake-up, and nothing is stranded, since an awake owner always
** drains its own deque.
**
** Lock order: inbox_lock and park_lock are never held together; the locks
** of limits (limit.c) are taken alone.
*/
#include "scheduler/sched.h"
#include "src/alloc.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ROUNDS = 64, SPIN_PAUSES = 32, INBOX_CHUNK = 512 };

typedef struct worker {
  _Alignas(64) dusk__deque q;
  dusk__pool *pool;
  int index;
  uint64_t rng;
  pthread_t thread;
  atomic_ullong run, steals, parks; /* statistics: written by the worker
                                       only (bump), read by anyone */
} worker;

/* Count one on a counter that only this thread writes: a load and a store,
   no locked instruction on the path of every task. */
static void bump(atomic_ullong *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

struct dusk_pool {
  int n;
  dusk__run_fn run;
  worker *w;

  pthread_mutex_t inbox_lock; /* guards the inbox ring and batches */
  void **inbox;
  size_t inbox_head, inbox_len, inbox_cap;
  dusk__batch *batches, *last_batch; /* lent arrays, first come first out */
  _Alignas(64) atomic_size_t inbox_count; /* hint for lock-free peeking */

  _Alignas(64) pthread_mutex_t park_lock;
  pthread_cond_t park_cond;
  atomic_uint epoch;
  atomic_int nsleep;
  atomic_int stop;

  dusk__limits limits;        /* resource classes (limit.c)               */
};

static _Thread_local worker *self;
_Thread_local const dusk__pool *dusk__own_pool; /* self->pool, or NULL */

/* ------------------------------------------------------------- parking */

static bool inbox_nonempty(dusk__pool *p) {
  return atomic_load_explicit(&p->inbox_count, memory_order_acquire) > 0;
}

static bool any_work(dusk__pool *p) {
  if (inbox_nonempty(p))
    return true;
  for (int i = 0; i < p->n; i++)
    if (dusk__deque_size(&p->w[i].q) > 0)
      return true;
  return false;
}

/* Wake `all` or one parked worker, if any is parked. Call after publishing. */
static void wake(dusk__pool *p, bool all) {
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&p->nsleep, memory_order_relaxed) == 0)
    return;
  pthread_mutex_lock(&p->park_lock);
  atomic_fetch_add(&p->epoch, 1);
  if (all)
    pthread_cond_broadcast(&p->park_cond);
  else
    pthread_cond_signal(&p->park_cond);
  pthread_mutex_unlock(&p->park_lock);
}

/* After a worker pushed onto its own deque: wake another, unless it is the
   pool's only worker (then no one else takes from its deque, and it is
   awake: the fence and the look at nsleep would buy nothing). */
static void wake_others(dusk__pool *p, bool all) {
  if (p->n > 1)
    wake(p, all);
}

void dusk__pool_notify(dusk__pool *p) {
  pthread_mutex_lock(&p->park_lock);
  atomic_fetch_add(&p->epoch, 1);
  pthread_cond_broadcast(&p->park_cond);
  pthread_mutex_unlock(&p->park_lock);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep until the epoch moves, unless work, stop or done() shows up first,
   or until the deadline (CLOCK_MONOTONIC ns; 0: none). */
static void park(worker *w, int (*done)(void *), void *arg, int64_t deadline) {
  dusk__pool *p = w->pool;
  unsigned seen = atomic_load(&p->epoch);
  atomic_fetch_add(&p->nsleep, 1);
  if (!any_work(p) && !atomic_load(&p->stop) && !(done && done(arg))) {
    bump(&w->parks);
    struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
    pthread_mutex_lock(&p->park_lock);
    while (atomic_load(&p->epoch) == seen)
      if (!deadline)
        pthread_cond_wait(&p->park_cond, &p->park_lock);
      else if (pthread_cond_timedwait(&p->park_cond, &p->park_lock, &ts))
        break;
    pthread_mutex_unlock(&p->park_lock);
  }
  atomic_fetch_sub(&p->nsleep, 1);
}

/* ---------------------------------------------------------- finding work */

static uint64_t next_rand(worker *w) { /* xorshift64 */
  uint64_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return w->rng = x;
}

/* How many items to take from the inbox at once: a share, so that every
   worker gets some, but not so many that the tail is left to one. */
static size_t chunk_of(dusk__pool *p, size_t avail) {
  size_t k = avail / (size_t)(2 * p->n);
  return k < 1 ? 1 : k > INBOX_CHUNK ? INBOX_CHUNK : k;
}

/* With inbox_lock held: the next item of the inbox, or NULL. */
static void *inbox_next(dusk__pool *p) {
  dusk__batch *b = p->batches;
  if (b) {
    void *x = b->items[b->next++];
    if (b->next == b->n) { /* done with it: the lender may reuse it */
      p->batches = b->link;
      if (!p->batches)
        p->last_batch = NULL;
      if (b->done)
        b->done(b);
    }
    return x;
  }
  if (!p->inbox_len)
    return NULL;
  void *x = p->inbox[p->inbox_head];
  p->inbox_head = (p->inbox_head + 1) % p->inbox_cap;
  p->inbox_len--;
  return x;
}

/*
** Take a chunk of the inbox: return its first item, and push the rest onto
** our deque last first, so that they run in the inbox's order too (a deque
** pops what was pushed last). The order a compute hands its ready tasks
** over in is the order they were built in, often the order their data lies
** in: the rows of a file, read ahead by the library that reads them.
** Popped in reverse, every read of a row missed HDF5's read-ahead.
*/
static void *take_inbox(worker *w) {
  dusk__pool *p = w->pool;
  if (!inbox_nonempty(p))
    return NULL;
  void *grab[INBOX_CHUNK];
  pthread_mutex_lock(&p->inbox_lock);
  size_t avail = atomic_load_explicit(&p->inbox_count, memory_order_relaxed);
  size_t k = chunk_of(p, avail), taken = 0;
  while (taken < k && (grab[taken] = inbox_next(p)) != NULL)
    taken++;
  atomic_fetch_sub_explicit(&p->inbox_count, taken, memory_order_release);
  pthread_mutex_unlock(&p->inbox_lock);
  size_t left = taken; /* grab[1, left) are still to be pushed */
  while (left > 1 && dusk__deque_push(&w->q, grab[left - 1]) == 0)
    left--;
  for (size_t i = 1; i < left; i++) /* no memory to queue them: run them */
    w->pool->run(grab[i]);
  if (dusk__deque_size(&w->q) > 1)
    wake_others(p, false); /* there is more than we will do next */
  return taken ? grab[0] : NULL;
}

static void *steal_round(worker *w) {
  dusk__pool *p = w->pool;
  if (p->n < 2)
    return NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool retry = false;
    int start = (int)(next_rand(w) % (uint64_t)p->n);
    for (int i = 0; i < p->n; i++) {
      worker *v = &p->w[(start + i) % p->n];
      if (v == w)
        continue;
      void *x = dusk__deque_steal(&v->q);
      if (x == DUSK__STEAL_RETRY)
        retry = true;
      else if (x != DUSK__STEAL_EMPTY) {
        bump(&w->steals);
        return x;
      }
    }
    if (!retry)
      break;
  }
  return NULL;
}

/* The next item of w's own deque. A pool of one worker has no thief to
   race: its worker pops without a fence. */
static void *pop(worker *w) {
  return w->pool->n == 1 ? dusk__deque_pop_alone(&w->q)
                         : dusk__deque_pop(&w->q);
}

static void *find_work(worker *w) {
  void *x = pop(w);
  if (!x) { /* dry: let the user publish what it deferred, which may push */
    w->pool->run(NULL);
    x = pop(w);
  }
  if (!x)
    x = take_inbox(w);
  if (!x)
    x = steal_round(w);
  return x;
}

/* Look for work a while before parking: work often comes back at once. */
static void *find_work_spinning(worker *w, int (*done)(void *), void *arg) {
  for (int round = 0; round < SPIN_ROUNDS; round++) {
    void *x = find_work(w);
    if (x || (done && done(arg)) || atomic_load(&w->pool->stop))
      return x;
    if (round < SPIN_ROUNDS / 2)
      for (int i = 0; i < SPIN_PAUSES; i++)
        cpu_relax();
    else
      sched_yield();
  }
  return NULL;
}

static void run_item(worker *w, void *x) {
  bump(&w->run);
  w->pool->run(x);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  self = w;
  dusk__own_pool = w->pool;
  for (;;) {
    void *x = find_work_spinning(w, NULL, NULL);
    if (x) {
      run_item(w, x);
      continue;
    }
    if (atomic_load(&w->pool->stop) && !any_work(w->pool))
      break;
    park(w, NULL, NULL, 0);
  }
  self = NULL;
  dusk__own_pool = NULL;
  return NULL;
}

void dusk__pool_help_until(dusk__pool *p, int (*done)(void *), void *arg,
                           int64_t deadline) {
  worker *w = self;
  (void)p;
  while (!done(arg) && !(deadline && now_ns() >= deadline)) {
    void *x = find_work_spinning(w, done, arg);
    if (x)
      run_item(w, x);
    else if (!done(arg))
      park(w, done, arg, deadline);
  }
}

void dusk__pool_help(dusk__pool *p, int (*done)(void *), void *arg) {
  dusk__pool_help_until(p, done, arg, 0);
}

/* ---------------------------------------------------------------- pushing */

int dusk__pool_worker(const dusk__pool *p) {
  return self && self->pool == p ? self->index : -1;
}

static int inbox_append(dusk__pool *p, void *const *items, size_t n) {
  pthread_mutex_lock(&p->inbox_lock);
  if (p->inbox_len + n > p->inbox_cap) {
    size_t cap = p->inbox_cap ? p->inbox_cap : 64;
    while (cap < p->inbox_len + n)
      cap *= 2;
    void **ring = dusk__malloc(cap * sizeof *ring);
    if (!ring) {
      pthread_mutex_unlock(&p->inbox_lock);
      return -1;
    }
    for (size_t i = 0; i < p->inbox_len; i++)
      ring[i] = p->inbox[(p->inbox_head + i) % p->inbox_cap];
    dusk__free(p->inbox);
    p->inbox = ring;
    p->inbox_cap = cap;
    p->inbox_head = 0;
  }
  for (size_t i = 0; i < n; i++)
    p->inbox[(p->inbox_head + p->inbox_len + i) % p->inbox_cap] = items[i];
  p->inbox_len += n;
  atomic_fetch_add_explicit(&p->inbox_count, n, memory_order_release);
  pthread_mutex_unlock(&p->inbox_lock);
  return 0;
}

static void inbox_lend(dusk__pool *p, dusk__batch *b, void *const *items,
                       size_t n) {
  b->items = items;
  b->n = n;
  b->next = 0;
  b->link = NULL;
  pthread_mutex_lock(&p->inbox_lock);
  if (p->last_batch)
    p->last_batch->link = b;
  else
    p->batches = b;
  p->last_batch = b;
  atomic_fetch_add_explicit(&p->inbox_count, n, memory_order_release);
  pthread_mutex_unlock(&p->inbox_lock);
}

void dusk__pool_push_batch(dusk__pool *p, dusk__batch *b, void *const *items,
                           size_t n) {
  if (n == 0)
    return;
  worker *w = self && self->pool == p ? self : NULL;
  size_t pushed = 0;
  if (w) /* the first item ends on top: run first, as from the inbox */
    while (pushed < n && dusk__deque_push(&w->q, items[n - 1 - pushed]) == 0)
      pushed++;
  if (pushed < n) /* from outside, or the deque could not grow */
    inbox_lend(p, b, items, n - pushed);
  if (w && pushed == n)
    wake_others(p, n > 1);
  else
    wake(p, n > 1);
}

int dusk__pool_push_many(dusk__pool *p, void *const *items, size_t n) {
  if (n == 0)
    return 0;
  worker *w = self && self->pool == p ? self : NULL;
  if (!w) {
    if (inbox_append(p, items, n) != 0)
      return -1;
    wake(p, n > 1);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (dusk__deque_push(&w->q, items[n - 1 - i]) != 0)
      return -1; /* the caller still owns items[0 .. n-1-i] */
  wake_others(p, n > 1);
  return 0;
}

int dusk__pool_push(dusk__pool *p, void *item) {
  return dusk__pool_push_many(p, &item, 1);
}

int dusk__pool_push_next(dusk__pool *p, void *item) {
  worker *w = self && self->pool == p ? self : NULL;
  if (!w)
    return dusk__pool_push(p, item);
  if (dusk__deque_push(&w->q, item) != 0)
    return -1;
  if (dusk__deque_size(&w->q) > 1)
    wake_others(p, false);
  return 0;
}

dusk__limits *dusk__pool_limits(dusk__pool *p) { return &p->limits; }

/* ------------------------------------------------------------- lifecycle */

dusk__pool *dusk__pool_new(int nthreads, dusk__run_fn run, int *err) {
  *err = -2;
  dusk__pool *p = dusk__calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->w = dusk__aligned(64, (size_t)nthreads * sizeof(worker));
  if (!p->w) {
    dusk__free(p);
    return NULL;
  }
  memset(p->w, 0, (size_t)nthreads * sizeof(worker));
  p->run = run;
  dusk__limits_init(&p->limits);
  pthread_mutex_init(&p->inbox_lock, NULL);
  pthread_mutex_init(&p->park_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->park_cond, &ca);
  pthread_condattr_destroy(&ca);
  int made = 0;
  for (; made < nthreads; made++) {
    worker *w = &p->w[made];
    w->pool = p;
    w->index = made;
    w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(made + 1);
    if (dusk__deque_init(&w->q, 256) != 0)
      break;
  }
  if (made == nthreads) {
    p->n = nthreads;
    int started = 0;
    for (; started < nthreads; started++)
      if (pthread_create(&p->w[started].thread, NULL, worker_main,
                         &p->w[started]) != 0)
        break;
    if (started == nthreads)
      return p;
    *err = -8;
    p->n = started; /* stop and join those that did start */
  }
  atomic_store(&p->stop, 1);
  dusk__pool_notify(p);
  for (int i = 0; i < p->n; i++)
    pthread_join(p->w[i].thread, NULL);
  for (int i = 0; i < made; i++)
    dusk__deque_destroy(&p->w[i].q);
  dusk__limits_destroy(&p->limits);
  pthread_mutex_destroy(&p->inbox_lock);
  pthread_mutex_destroy(&p->park_lock);
  pthread_cond_destroy(&p->park_cond);
  dusk__free(p->w);
  dusk__free(p);
  return NULL;
}

void dusk__pool_free(dusk__pool *p) {
  if (!p)
    return;
  atomic_store(&p->stop, 1);
  dusk__pool_notify(p);
  for (int i = 0; i < p->n; i++)
    pthread_join(p->w[i].thread, NULL);
  for (int i = 0; i < p->n; i++)
    dusk__deque_destroy(&p->w[i].q);
  dusk__limits_destroy(&p->limits);
  pthread_mutex_destroy(&p->inbox_lock);
  pthread_mutex_destroy(&p->park_lock);
  pthread_cond_destroy(&p->park_cond);
  dusk__free(p->inbox);
  dusk__free(p->w);
  dusk__free(p);
}

int dusk__pool_size(const dusk__pool *p) { return p->n; }

void dusk__pool_get_stats(dusk__pool *p, dusk__pool_stats *s) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < p->n; i++) {
    s->run += atomic_load_explicit(&p->w[i].run, memory_order_relaxed);
    s->steals += atomic_load_explicit(&p->w[i].steals, memory_order_relaxed);
    s->parks += atomic_load_explicit(&p->w[i].parks, memory_order_relaxed);
  }
}
