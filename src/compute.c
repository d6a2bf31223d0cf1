/*
** Compute: claim what the targets need, wire it up, run it on the pool,
** free intermediates as their last consumer finishes, and report.
**
** The idea. Building records only arguments. A compute walks back from its
** targets (a queue in memory order, see walk()) and claims every node that
** has no result and that no other compute is running; those are its nodes.
** For each it counts the arguments it must wait for (pending) and the
** consumers that will read its result (refs), and lists who to notify when
** it finishes (its dependents within this compute). Nodes with nothing to
** wait for go to the pool. A finishing task releases its arguments (the last
** reader frees an intermediate), stores its result, and counts down its
** dependents; one that reaches zero runs next on the same worker, the others
** are pushed where idle workers can steal them.
**
** Overlapping computes. A node claimed by another compute is not run again:
** this compute registers as a waiter on it (the graph's waiter table) and
** takes a ref on its result, and that compute's worker counts down our
** consumer when the node finishes. A node that still holds a result (kept,
** or not yet read by all consumers of another compute) is used as it is,
** after taking a ref on it; one whose last ref is being dropped right now is
** waited out (a few instructions) and claimed afresh.
**
** The protocols, argued:
** - Claiming is a CAS from IDLE (or quiescent FAILED) to CLAIMING; the
**   claimer sets run and pending, then publishes CLAIMED with release. Others
**   that see CLAIMING wait for CLAIMED, so they never read a stale run.
** - pending starts at 1 + nargs (a bias of one, plus every argument), and the
**   bias is removed only after every list of dependents is complete: no node
**   of a compute can start, whoever counts it down, before it is wired.
** - refs are added before the bias of the same node is removed, and a node
**   releases its arguments only after it ran, which is after all of them
**   finished and so after their refs were added.
** - Waiters: the finisher stores its final state (seq_cst), then reads the
**   WAITERS flag (seq_cst); a registrant sets the flag (seq_cst), then reads
**   the state. One of them sees the other. Both hold the graph lock while
**   they touch the waiter list, and the finisher counts down waiting nodes
**   under it, so a registration can be undone exactly. A waiter names the
**   life of the node it waits for: a finisher held up until the node lives
**   again answers only the waiters of its own life (waiters.c).
** - A compute ends when its last target finishes. Every node it claimed is
**   an ancestor of a target, so it finished before that; a finisher touches
**   nothing of the compute after counting down the targets.
**
** Failures. A compute stops at its first failure: its remaining nodes
** finish as FAILED without running (exec.c). Such a node carries NOT_RUN:
** its failure is no answer for anyone else. Another compute that waited on
** it is tried again (dusk__compute) and claims it; a wait that finds it
** failed runs it too (only a failure of its own, or upstream, is a wait's
** answer).
**
** The files. This one claims, wires and ends computes; exec.c runs and
** finishes their tasks; waiters.c keeps the graph's waiter table (computes
** waiting on others' nodes, and callbacks); cancel.c cancels. run.h is what
** they share.
*/
#include "src/run.h"
#include "src/alloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct dusk__cells {
  struct dusk__cells *next;
  size_t used, cap;
  bool slab; /* from the slab cache, and given back to it */
  cell cell[];
} cells;

static void cells_free(cells *b) {
  if (b->slab)
    dusk__slab_put(b);
  else
    dusk__free(b);
}

static void settle_async(dusk__run *r);
static void run_put(dusk__run *r);

/* The last target finished. A caller that waits is woken; a compute that no
   one waits for (started, or whose waiter timed out) is settled here. */
static void finish_run(dusk__run *r) {
  dusk__pool *pool = r->pool;
  bool helper = r->helper;
  dusk__stats_done(r);
  pthread_mutex_lock(&r->lock);
  atomic_store(&r->done, 1);
  bool async = r->async;
  if (!async)
    pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock); /* r may be gone from here on */
  if (async) {
    settle_async(r);
    dusk__stats_end(r, atomic_load(&r->failed));
    run_put(r);
  } else if (helper) {
    dusk__pool_notify(pool);
  }
}

void dusk__target_finished(dusk__run *r) {
  if (atomic_fetch_sub_explicit(&r->targets_left, 1, memory_order_acq_rel) == 1)
    finish_run(r);
}

/* ------------------------------------------------------------ claiming */

/*
** The claimed nodes live in one array, order[0, norder), in the order they
** were claimed; the walk reads it as its queue (see walk()). An entry
** carries tags in its low bits (nodes are aligned).
*/
enum { ENTRY_READY = 1, ENTRY_WALKED = 2, ENTRY_TAGS = 3 };

static inline dusk_node *entry_node(dusk_node *e) {
  return (dusk_node *)((uintptr_t)e & ~(uintptr_t)ENTRY_TAGS);
}

/* From this many entries on (1 MiB), the list is sized for the graph. */
enum { WHOLE_GRAPH_ENTRIES = 1 << 17 };

static int grow_claimed(dusk__run *r) {
  size_t cap = r->cap ? 2 * r->cap : 16;
  /* A walk claims a node at most once. Once the list is large, size it for
     every node of the graph rather than copy it at each doubling: a large
     array is mapped, and its pages cost only as they are first used. */
  if (cap >= WHOLE_GRAPH_ENTRIES) {
    size_t all = dusk__graph_bound(r->g);
    if (all > cap)
      cap = all;
  }
  dusk_node **o = dusk__malloc_big(cap * sizeof *o);
  if (!o)
    return -1;
  if (r->norder)
    memcpy(o, r->order, r->norder * sizeof *o);
  dusk__free_big(r->order, r->cap * sizeof *o);
  r->order = o;
  r->cap = cap;
  return 0;
}

static inline int push_claimed(dusk__run *r, dusk_node *n) {
  if (r->norder == r->cap && grow_claimed(r) != 0)
    return -1;
  r->order[r->norder++] = n;
  return 0;
}

enum claim_result { CLAIMED_NOW, NOT_CLAIMABLE, CLAIM_NOMEM };

/*
** Take a failed node for a new life: FAILED to CLAIMING, only when no one
** holds a ref on it. Checked and claimed under the graph lock, under which
** fail_link() takes its refs, so that no ref is ever taken on a node being
** taken up again.
*/
static bool take_failed(dusk__run *r, dusk_node *n) {
  dusk_graph *g = r->g;
  uint8_t expect = DUSK__FAILED;
  pthread_mutex_lock(&g->lock);
  /* Acquire: the last reader's release of its ref comes before us. */
  bool mine = atomic_load_explicit(&n->refs, memory_order_acquire) == 0 &&
              atomic_compare_exchange_strong(&n->state, &expect,
                                             DUSK__CLAIMING);
  /* The refs we read may be older than the FAILED we claimed: another
     compute may have claimed it before we took the lock and finished it
     since (its readers hold refs, its finisher may still read it).
     Having read that FAILED, we see its refs now: if any, not ours. */
  if (mine && atomic_load(&n->refs) != 0) {
    atomic_store(&n->state, DUSK__FAILED);
    mine = false;
  }
  pthread_mutex_unlock(&g->lock);
  return mine;
}

/* A failed node taken up again forgets its failure. */
static void forget_failure(dusk__run *r, dusk_node *n) {
  dusk_graph *g = r->g;
  pthread_mutex_lock(&g->lock);
  dusk__forget_error(g, n);
  pthread_mutex_unlock(&g->lock);
  atomic_store_explicit(&n->kind, DUSK_NONE, memory_order_relaxed);
}

/* Claim n for r if it has no result and no compute: IDLE, or FAILED with no
   reader left (a failure is retried by the next compute that needs it). */
static inline enum claim_result claim(dusk__run *r, dusk_node *n, int s) {
  uint8_t expect = (uint8_t)s;
  if (s == DUSK__FAILED ? !take_failed(r, n)
                        : !atomic_compare_exchange_strong(&n->state, &expect,
                                                          DUSK__CLAIMING))
    return NOT_CLAIMABLE;
  if (push_claimed(r, n) != 0) {
    atomic_store_explicit(&n->state, (uint8_t)s, memory_order_release);
    return CLAIM_NOMEM;
  }
  if (s == DUSK__FAILED)
    forget_failure(r, n);
  atomic_store_explicit(&n->run, r, memory_order_relaxed);
  n->deps = 0;
  n->val.i64 = 0; /* no dependents yet (see DEPS_TWO) */
  /* Read after the CAS, both sequentially consistent: a callback that
     found n idle has put WAITERS up by now (dusk__waiters_claimed). */
  uint16_t flags = atomic_load_explicit(&n->flags, memory_order_seq_cst);
  uint16_t life = DUSK__SHARED | DUSK__NOT_RUN;
  if (flags & life) /* a new life: none of these holds yet */
    atomic_fetch_and(&n->flags, (uint16_t)~life);
  if (flags & DUSK__WAITERS)
    dusk__waiters_claimed(n, r);
  atomic_store_explicit(&n->pending, 1 + n->nargs, memory_order_relaxed);
  atomic_store_explicit(&n->state, DUSK__CLAIMED, memory_order_release);
  return CLAIMED_NOW;
}

/* How a consumer in r gets the result of one argument. */
enum link { LINK_NONE, LINK_LOCAL, LINK_HELD, LINK_WAIT, LINK_FAILED,
            LINK_NOMEM };

/*
** A failed node that is not rerun: its consumer releases its arguments
** when it is skipped, so a ref is taken here as for any other link. The ref
** also keeps it failed, its code readable: a compute retries a failed node
** only when no one holds a ref (claim), and both decide under the graph
** lock. False when it was taken up again meanwhile: look again.
*/
static bool fail_link(dusk_node *n) {
  dusk_graph *g = dusk__graph_of(n);
  pthread_mutex_lock(&g->lock);
  bool failed = atomic_load_explicit(&n->state, memory_order_relaxed) ==
                DUSK__FAILED;
  if (failed)
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&g->lock);
  return failed;
}

/*
** Decide how r gets n's result for `consumer` (NULL: n is a target): claim
** it, take a ref on the result it has, or wait for the compute that runs it.
*/
static enum link link_to(dusk__run *r, dusk_node *n, dusk_node *consumer) {
  if (node_flags(n) & DUSK__LITERAL)
    return LINK_NONE;
  for (;;) {
    int s = node_state(n);
    switch (s) {
    case DUSK__IDLE:
    case DUSK__FAILED: {
      /* Cancelled stays cancelled; a wait takes a failure as its answer,
         unless the node did not run (its compute stopped for a failure
         elsewhere): that is no answer. */
      bool keep = s == DUSK__FAILED &&
                  (failed_by_cancel(n) ||
                   (!consumer && r->no_retry && dusk__failure_answers(n)));
      enum claim_result c = keep ? NOT_CLAIMABLE : claim(r, n, s);
      if (c == CLAIMED_NOW)
        return LINK_LOCAL;
      if (c == CLAIM_NOMEM)
        return LINK_NOMEM;
      /* Failed and not ours to rerun, or another compute still winds it
         down (its readers hold refs): then we would have run it again, so
         the compute is tried again soon. */
      if (s == DUSK__FAILED && node_state(n) == DUSK__FAILED && fail_link(n)) {
        r->winding = !keep;
        r->wound |= r->winding;
        return LINK_FAILED;
      }
      continue;
    }
    case DUSK__CLAIMING:
      cpu_wait();
      continue;
    case DUSK__CLAIMED:
    case DUSK__RUNNING: {
      if (dusk__run_of(n) == r)
        return LINK_LOCAL;
      int nomem = 0;
      if (dusk__add_waiter(r, n, consumer, &nomem))
        return LINK_WAIT;
      if (nomem)
        return LINK_NOMEM;
      continue; /* it finished meanwhile */
    }
    case DUSK__DONE:
      if (try_retain(n))
        return LINK_HELD;
      cpu_wait(); /* its last ref is being dropped: it becomes IDLE */
      continue;
    }
  }
}

/* ------------------------------------------------------------- wiring */

/* A cell from r's arena; NULL when out of memory. Blocks are kept. */
static cell *cell_new(dusk__run *r) {
  cells *b = r->cells_cur;
  if (!b || b->used == b->cap) {
    b = b ? b->next : r->cells;
    if (!b) { /* the first block is small; later ones are slabs */
      bool slab = r->cells != NULL;
      b = slab ? dusk__slab_get() : dusk__malloc(sizeof *b + 4096 * sizeof(cell));
      if (!b)
        return NULL;
      b->slab = slab;
      b->cap = slab ? (DUSK__SLAB_SIZE - sizeof *b) / sizeof(cell) : 4096;
      b->next = NULL;
      if (r->cells_cur)
        r->cells_cur->next = b;
      else
        r->cells = b;
    }
    b->used = 0;
    r->cells_cur = b;
  }
  return &b->cell[b->used++];
}

/* Record c as a dependent of a, both claimed by r. -1 when out of memory. */
static int add_dependent(dusk__run *r, dusk_node *a, dusk_node *c) {
  uintptr_t tags = a->deps & DEPS_TAGS, ptr = a->deps & ~(uintptr_t)DEPS_TAGS;
  if (!ptr) {
    a->deps = tags | DEPS_ONE | (uintptr_t)c;
    a->val.i64 = 1;
  } else if (tags & DEPS_ONE) { /* two fit in the node: no cells */
    a->deps = (tags & ~(uintptr_t)DEPS_ONE) | DEPS_TWO | ptr;
    a->val.ptr = c;
  } else {
    cell *e = cell_new(r);
    if (!e)
      return -1;
    if (tags & DEPS_TWO) { /* the two become a list of three */
      cell *first = cell_new(r), *second = cell_new(r);
      if (!first || !second)
        return -1;
      *first = (cell){(dusk_node *)ptr, NULL};
      *second = (cell){a->val.ptr, first};
      ptr = (uintptr_t)second;
      tags &= ~(uintptr_t)DEPS_TWO;
      a->val.i64 = 2;
    }
    *e = (cell){c, (cell *)ptr};
    a->deps = tags | (uintptr_t)e;
    a->val.i64++;
  }
  return 0;
}

/*
** The set-up log: every link that took a ref or registered a waiter (or found
** a failed node), so that a set-up that runs out of memory can be undone
** exactly. Local links need no entry: their nodes are in the claimed list.
** Room for one more entry is made before each link, so logging never fails.
*/
typedef struct dusk__link {
  dusk_node *node;
  dusk_node *consumer; /* NULL: the node is a target */
  uint8_t kind;        /* enum link */
} link_entry;

static int reserve_log(dusk__run *r) {
  if (r->nlog < r->logcap)
    return 0;
  size_t cap = r->logcap ? 2 * r->logcap : 8;
  link_entry *l = dusk__realloc(r->log, cap * sizeof *l);
  if (!l)
    return -1;
  r->log = l;
  r->logcap = cap;
  return 0;
}

static enum link link_logged(dusk__run *r, dusk_node *n, dusk_node *consumer) {
  if (reserve_log(r) != 0)
    return LINK_NOMEM;
  r->winding = false;
  enum link k = link_to(r, n, consumer);
  if (k == LINK_HELD || k == LINK_WAIT || k == LINK_FAILED ||
      (k == LINK_LOCAL && !consumer))
    r->log[r->nlog++] = (link_entry){n, consumer, (uint8_t)k};
  return k;
}

/*
** Walk back from the claimed targets, claiming what they need, in one pass:
** each claimed node learns how many arguments it waits for (pending), and
** each argument it waits for in this compute lists it as a dependent. A node
** with nothing to wait for is ready. A node that waits on another compute
** keeps a bias of one in pending (that compute may count it down any time),
** lifted by gather_ready() once everything is wired.
**
** The order follows memory. Claimed nodes are walked in the order they were
** claimed (a queue), except that an argument claimed just now that was
** built shortly before its consumer (within NEAR bytes below it) is walked
** at once. Graphs are built arguments first, so this reads memory mostly
** backwards in sequence: a tree level by level, a chain from its end, a grid
** row by row (a row's left neighbours at once, the row above in the queue,
** in order). Depth first instead climbs a grid column by column, and going
** at once to any last argument takes a tree down its spines: one cache and
** TLB miss per node either way.
*/
enum { NEAR = 4096 };

static int walk_node(dusk__run *r, size_t i, size_t *then) {
  dusk_node *c = entry_node(r->order[i]);
  dusk_node *const *args = dusk__args(c);
  int avail = 0;
  *then = SIZE_MAX;
  /* Ask for the arguments' lines together: their misses overlap instead
     of following one another. */
  for (int j = 0; j < c->nargs && j < 8; j++)
    __builtin_prefetch(args[j], 1);
  for (int j = 0; j < c->nargs; j++) {
    if (j + 8 < c->nargs)
      __builtin_prefetch(args[j + 8], 1);
    dusk_node *a = args[j];
    /* The common cases first, without a log entry: a node this compute
       claimed already (c is its second consumer or more), and an idle one
       to claim. Anything else takes the general link. */
    int s = node_state(a);
    enum link k;
    if (s == DUSK__CLAIMED && dusk__run_of(a) == r) {
      k = LINK_LOCAL;
    } else if (s == DUSK__IDLE && claim(r, a, s) == CLAIMED_NOW) {
      k = LINK_LOCAL;
      if ((uintptr_t)c - (uintptr_t)a < NEAR) /* built just before c */
        *then = r->norder - 1;
    } else {
      k = link_logged(r, a, c);
    }
    switch (k) {
    case LINK_LOCAL:
      if (add_dependent(r, a, c) != 0)
        return DUSK_ENOMEM;
      break;
    case LINK_WAIT:
      c->deps |= DEPS_WAITS;
      break;
    case LINK_FAILED: {
      int code = dusk_errcode(a);
      dusk__mark_failed_by(r, code ? code : DUSK_ETASK, a,
                           not_run(a) || r->winding);
      avail++; /* it will not be waited for */
      break;
    }
    case LINK_NONE:
    case LINK_HELD:
      avail++;
      break;
    case LINK_NOMEM:
      return DUSK_ENOMEM;
    }
  }
  if (*then != SIZE_MAX) /* walked next, out of turn */
    r->order[*then] = (dusk_node *)((uintptr_t)r->order[*then] | ENTRY_WALKED);
  if (c->deps & DEPS_WAITS) {
    if (avail) /* cannot reach zero: the bias stays */
      atomic_fetch_sub_explicit(&c->pending, avail, memory_order_relaxed);
  } else {
    /* No one else counts it down: no atomic, and no bias needed, since
       nothing it waits for runs before the walk is over. */
    atomic_store_explicit(&c->pending, c->nargs - avail,
                          memory_order_relaxed);
    if (avail == c->nargs) { /* ready: tag its entry */
      r->order[i] = (dusk_node *)((uintptr_t)r->order[i] | ENTRY_READY);
      r->nready++;
    }
  }
  return 0;
}

static int walk(dusk__run *r) {
  for (size_t head = 0; head < r->norder; head++) {
    if ((uintptr_t)r->order[head] & ENTRY_WALKED)
      continue;
    for (size_t i = head; i != SIZE_MAX;) {
      int rc = walk_node(r, i, &i);
      if (rc)
        return rc;
    }
  }
  return 0;
}

/*
** After a successful walk the claimed list is no longer needed: move the
** ready nodes (tagged) to its front, then lift the bias of the nodes that
** wait on other computes and add those that have nothing left to wait for.
** Nothing here allocates or fails. The ready nodes are order[0, nready).
*/
static void gather_ready(dusk__run *r) {
  size_t k = 0;
  for (size_t i = 0; i < r->norder; i++)
    if ((uintptr_t)r->order[i] & ENTRY_READY)
      r->order[k++] = entry_node(r->order[i]);
  /* A node that waits on several nodes of other computes has an entry for
     each. Take each one's flag first, marking the entry that took it (in
     its consumer pointer; nodes are aligned): while a bias is left, no one
     can make the node ready, so it is still ours to read. Only then count
     down, once each: from the first count on, a node may run, finish, and
     be taken up by another compute, and must not be read again. */
  for (size_t i = 0; i < r->nlog; i++) {
    link_entry *e = &r->log[i];
    dusk_node *c = e->consumer;
    if (e->kind != LINK_WAIT || !c || !(c->deps & DEPS_WAITS))
      continue;
    c->deps &= ~(uintptr_t)DEPS_WAITS;
    e->consumer = (dusk_node *)((uintptr_t)c | 1);
  }
  for (size_t i = 0; i < r->nlog; i++) {
    link_entry *e = &r->log[i];
    if (!((uintptr_t)e->consumer & 1))
      continue;
    dusk_node *c = (dusk_node *)((uintptr_t)e->consumer & ~(uintptr_t)1);
    e->consumer = c;
    if (count_down(c)) /* k < norder: c is a claimed node not yet listed */
      r->order[k++] = c;
  }
  r->nready = k;
}

/*
** Out of memory while setting up: give back every ref taken, withdraw every
** registration, and finish every claimed node as FAILED without counting
** anything down (other computes that wait on one of them learn it failed).
*/
static void undo(dusk__run *r) {
  for (size_t i = 0; i < r->nlog; i++) {
    link_entry *e = &r->log[i];
    if (e->kind == LINK_WAIT && dusk__remove_waiter(r, e->node, e->consumer) &&
        !e->consumer)
      atomic_fetch_sub(&r->targets_left, 1); /* it will never fire now */
    if (e->kind == LINK_HELD || e->kind == LINK_WAIT || e->kind == LINK_FAILED)
      release(e->node);
  }
  for (size_t i = 0; i < r->norder; i++) {
    dusk_node *n = entry_node(r->order[i]);
    bool target = n->deps & DEPS_TARGET;
    if (target)
      atomic_fetch_sub(&r->targets_left, 1);
    n->deps = 0;
    dusk__set_failure(n, DUSK__FAIL_STOPPED, DUSK_ENOMEM, NULL);
    atomic_fetch_or(&n->flags, DUSK__NOT_RUN);
    atomic_fetch_add(&n->refs, 1); /* no compute claims it before we are done */
    dusk__finish(n, DUSK__FAILED, (dependents){0, 0}, false);
    if (target && (atomic_fetch_and(&n->flags, (uint16_t)~DUSK__KEEP) &
                   DUSK__KEEP))
      release(n); /* the keep it took: a failed node keeps nothing */
    release(n);
  }
}

/* ---------------------------------------------------------- the compute */

/*
** Finished computes are kept for reuse, process-wide: their arrays are sized
** for the last graph, and faulting such arrays in afresh for every compute
** costs more than the compute. The first BIG_RUNS kept keep arrays of up to
** KEEP_ENTRIES; the others, there for futures (one record each while they
** run), keep only small ones, so that many of them hold little memory.
*/
enum { CACHED_RUNS = 64, BIG_RUNS = 4 };
static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
static dusk__run *cached_runs[CACHED_RUNS];
static int ncached_runs;

static dusk__run *run_get(dusk_graph *g) {
  dusk__pool *pool = dusk__graph_pool(g);
  if (!pool)
    return NULL;
  dusk__run *r = NULL;
  pthread_mutex_lock(&runs_lock);
  if (ncached_runs > 0)
    r = cached_runs[--ncached_runs];
  pthread_mutex_unlock(&runs_lock);
  if (!r) {
    if (!(r = dusk__calloc(1, sizeof *r)))
      return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca; /* deadlines are CLOCK_MONOTONIC */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
  }
  r->g = g;
  r->pool = pool;
  atomic_fetch_add(&g->active, 1); /* dusk_graph_free waits for it */
  atomic_store(&r->failed, 0);
  atomic_store(&r->cause, NULL);
  atomic_store(&r->targets_left, 1); /* a bias until set up */
  atomic_store(&r->done, 0);
  r->async = false;
  atomic_store_explicit(&r->again, false, memory_order_relaxed);
  r->wound = false;
  r->helper = dusk__pool_worker(pool) >= 0;
  r->norder = r->nlog = r->nready = 0;
  r->cells_cur = NULL;
  return r;
}

static void run_free(dusk__run *r) {
  dusk__free_big(r->order, r->cap * sizeof *r->order);
  for (cells *b = r->cells, *next; b; b = next) {
    next = b->next;
    cells_free(b);
  }
  dusk__free(r->log);
  dusk__stats_free(r);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  dusk__free(r);
}

enum { KEEP_ENTRIES = 1 << 16, KEEP_BLOCKS = 2, SMALL_ENTRIES = 256 };

/*
** When the pool has taken the last ready node of a large compute, the
** claimed list has served its purpose: give it back at once rather than at
** the end, so that it is not part of the peak while, say, a wide sum reads
** its million arguments.
*/
static void give_back_order(dusk__batch *b) {
  dusk__run *r = (dusk__run *)((char *)b - offsetof(dusk__run, batch));
  dusk__free_big(r->order, r->cap * sizeof *r->order);
  r->order = NULL;
  r->cap = r->norder = 0;
}

/* Keep what is small for the next compute; give large arrays back (they
   are backed by huge pages, so getting them again costs little), so that
   memory used once for a large graph is not held for good. */
static void trim(dusk__run *r, bool big) {
  size_t keep = big ? KEEP_ENTRIES : SMALL_ENTRIES;
  if (r->cap > keep) {
    dusk__free_big(r->order, r->cap * sizeof *r->order);
    r->order = NULL;
    r->cap = 0;
  }
  if (r->logcap > keep) {
    dusk__free(r->log);
    r->log = NULL;
    r->logcap = 0;
  }
  if (!big) {
    for (cells *x = r->cells, *next; x; x = next) {
      next = x->next;
      cells_free(x);
    }
    r->cells = NULL;
    return;
  }
  cells *b = r->cells;
  for (int i = 1; b && i < KEEP_BLOCKS; i++)
    b = b->next;
  if (b) {
    for (cells *x = b->next, *next; x; x = next) {
      next = x->next;
      cells_free(x);
    }
    b->next = NULL;
  }
}

static void run_put(dusk__run *r) {
  dusk_graph *g = r->g;
  pthread_mutex_lock(&runs_lock);
  if (ncached_runs < CACHED_RUNS) {
    trim(r, ncached_runs < BIG_RUNS);
    cached_runs[ncached_runs++] = r;
    r = NULL;
  }
  pthread_mutex_unlock(&runs_lock);
  if (r)
    run_free(r);
  atomic_fetch_sub(&g->active, 1); /* g may be freed from here on */
}

static int run_done(void *arg) {
  return atomic_load_explicit(&((dusk__run *)arg)->done, memory_order_acquire);
}

/*
** Wait for r until the deadline (0: none). True when r is done; false when
** the deadline passed first, in which case r is handed to its last finisher
** (async) and must not be touched any more.
*/
static bool wait_run(dusk__run *r, int64_t deadline) {
  if (r->helper) {
    dusk__pool_help_until(r->pool, run_done, r, deadline);
  } else {
    /* A worker of another pool must not sit on counts. */
    dusk__publish_deferred();
    bool bar = DUSK__DIAG_ON() & DUSK__DIAG_PROGRESS;
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->done)) {
      int64_t until = deadline;
      if (bar) { /* wake to redraw ten times a second */
        pthread_mutex_unlock(&r->lock);
        dusk__progress(atomic_load(&r->ndone), r->ntotal, r->start, false);
        pthread_mutex_lock(&r->lock);
        int64_t tick = dusk__now() + 100000000;
        until = deadline && deadline < tick ? deadline : tick;
      }
      if (!until) {
        pthread_cond_wait(&r->cond, &r->lock);
      } else {
        struct timespec ts = {until / 1000000000, until % 1000000000};
        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT &&
            deadline && dusk__now() >= deadline)
          break;
      }
    }
    pthread_mutex_unlock(&r->lock);
  }
  /* finish_run() may still hold r->lock: taking it settles who owns r. */
  pthread_mutex_lock(&r->lock);
  bool done = atomic_load(&r->done);
  if (!done)
    r->async = true;
  pthread_mutex_unlock(&r->lock);
  return done;
}

/* Link the targets: claim them, or hold the results they have. */
static int link_targets(dusk__run *r, int n, dusk_node *const *nodes) {
  for (int i = 0; i < n; i++) {
    dusk_node *t = nodes[i];
    atomic_fetch_add(&r->targets_left, 1); /* before a waiter can fire */
    enum link k = link_logged(r, t, NULL);
    if (k == LINK_NOMEM) {
      atomic_fetch_sub(&r->targets_left, 1);
      return DUSK_ENOMEM;
    }
    if (k == LINK_HELD || k == LINK_WAIT) /* another compute made it */
      atomic_fetch_or(&t->flags, DUSK__SHARED);
    if (k == LINK_LOCAL && !(t->deps & DEPS_TARGET)) {
      t->deps |= DEPS_TARGET;
      atomic_fetch_or(&t->flags, DUSK__KEEP);
      atomic_fetch_add(&t->refs, 1); /* the keep */
    } else if (k != LINK_WAIT)
      atomic_fetch_sub(&r->targets_left, 1);
    if (k == LINK_FAILED) { /* a wait takes a failure as it is, unless the
                               node did not run: then it tries again */
      int code = dusk_errcode(t);
      dusk__mark_failed_by(r, code ? code : DUSK_ETASK, t,
                           not_run(t) || r->winding);
    }
  }
  return 0;
}

/*
** A failed compute gives back the keep of a target it made, unless another
** compute also asked for that node (SHARED, set when it linked to it): that
** one may already have handed the result to its caller, counting on the keep
** it found. Keep and SHARED live in one atomic, so the check is exact.
*/
static bool drop_keep(dusk_node *t) {
  uint16_t f = atomic_load(&t->flags);
  bool failed = node_state(t) == DUSK__FAILED; /* no value was handed out */
  while ((f & DUSK__KEEP) && (failed || !(f & DUSK__SHARED)))
    if (atomic_compare_exchange_weak(&t->flags, &f,
                                     (uint16_t)(f & ~DUSK__KEEP)))
      return true;
  return false;
}

/* After the compute: keep or give back each target's result, fill outs. */
static int settle(dusk__run *r, int n, dusk_node *const *nodes,
                  dusk_value *outs) {
  int rc = atomic_load(&r->failed);
  for (int i = 0; i < n && !rc; i++)
    if (node_state(nodes[i]) != DUSK__DONE)
      rc = dusk_errcode(nodes[i]) ? dusk_errcode(nodes[i]) : DUSK_ETASK;
  /* Targets we claimed keep their result unless the compute failed; refs
     taken on results others made become keeps, or are given back. */
  for (size_t i = 0; i < r->nlog; i++) {
    link_entry *e = &r->log[i];
    if (e->consumer)
      continue;
    if (e->kind == LINK_FAILED) {
      release(e->node);
    } else if (e->kind == LINK_LOCAL) {
      if (rc && drop_keep(e->node))
        release(e->node);
    } else if (rc ||
               (atomic_fetch_or(&e->node->flags, DUSK__KEEP) & DUSK__KEEP)) {
      release(e->node);
    }
  }
  for (int i = 0; outs && i < n; i++)
    outs[i] = rc ? (dusk_value){.kind = DUSK_NONE}
                 : dusk__node_value(nodes[i]);
  return rc;
}

static int check_targets(dusk_graph *g, int n, dusk_node *const *nodes) {
  if (!g)
    return dusk__set_error(DUSK_EINVAL, "compute: the graph is NULL");
  if (n < 0 || (n > 0 && !nodes))
    return dusk__set_error(DUSK_EINVAL, "compute: %d nodes at %p", n,
                           (const void *)nodes);
  for (int i = 0; i < n; i++) {
    if (!nodes[i])
      return dusk__set_error(DUSK_EINVAL, "compute: node %d is NULL", i);
    if (dusk__graph_of(nodes[i]) != g)
      return dusk__set_error(DUSK_EINVAL,
                             "compute: node %d belongs to another graph", i);
  }
  return 0;
}

/*
** A compute no one waits for keeps each target that succeeded (a started
** future keeps its result whatever happened to the others) and gives back
** the refs it took on targets that failed.
**
** Its own targets (LINK_LOCAL) may have been waited for, released and
** claimed afresh by now, and their keep be another compute's: a target
** whose life is no longer ours (its run is another's) is left alone. The
** keep is taken first and its life looked at after: should a new compute
** have claimed the node and kept it in between, that keep is given back.
*/
static void drop_own_keep(dusk__run *r, dusk_node *t) {
  if (dusk__run_of(t) != r)
    return;
  if (!(atomic_fetch_and(&t->flags, (uint16_t)~DUSK__KEEP) & DUSK__KEEP))
    return;
  if (dusk__run_of(t) == r)
    release(t);
  else
    atomic_fetch_or(&t->flags, DUSK__KEEP); /* a new life's: put back */
}

static void settle_async(dusk__run *r) {
  for (size_t i = 0; i < r->nlog; i++) {
    link_entry *e = &r->log[i];
    if (e->consumer)
      continue;
    dusk_node *t = e->node;
    if (e->kind == LINK_FAILED) {
      release(t);
      continue;
    }
    bool done = node_state(t) == DUSK__DONE;
    if (e->kind == LINK_LOCAL) {
      if (!done)
        drop_own_keep(r, t);
    } else if (!done ||
               (atomic_fetch_or(&t->flags, DUSK__KEEP) & DUSK__KEEP)) {
      release(t);
    }
  }
}

/* Whether and how to try a compute again. */
enum again { AGAIN_NO, AGAIN_TRY, AGAIN_WAIT };

/*
** One attempt of dusk__compute(); *again says whether to try once more:
** AGAIN_WAIT when what it needed is being wound down by a compute that
** stopped (that ends: waiting for it is not a try), AGAIN_TRY when another
** compute gave up a node it needed while it waited.
*/
static int compute_once(dusk_graph *g, int n, dusk_node *const *nodes,
                        dusk_value *outs, int64_t deadline, int mode,
                        enum again *again) {
  bool async = mode & DUSK__ASYNC;
  int rc;
  *again = AGAIN_NO;
  dusk__run *r = run_get(g);
  if (!r)
    return dusk__set_error(DUSK_ENOMEM, "compute: out of memory");
  dusk__stats_begin(r);
  r->no_retry = mode & DUSK__NO_RETRY;
  atomic_fetch_add(&g->setting_up, 1); /* before the first claim */
  rc = link_targets(r, n, nodes);
  if (!rc)
    rc = walk(r);
  if (rc) {
    undo(r);
    atomic_fetch_sub_explicit(&g->setting_up, 1, memory_order_release);
    if (atomic_fetch_sub(&r->targets_left, 1) != 1)
      wait_run(r, 0); /* a waiter already taken by its finisher still fires */
    run_put(r);
    return dusk__set_error(rc, "compute: out of memory while setting up");
  }
  r->ntotal = r->norder;
  atomic_store_explicit(&r->ndone, 0, memory_order_relaxed);
  r->start = DUSK__DIAG_ON() & DUSK__DIAG_PROGRESS ? dusk__now() : 0;
  gather_ready(r);
  atomic_fetch_sub_explicit(&g->setting_up, 1, memory_order_release);
  r->batch.done = r->cap > KEEP_ENTRIES ? give_back_order : NULL;
  r->async = async; /* before the bias goes: the last finisher reads it */
  dusk__stats_ready(r);
  dusk__pool_push_batch(r->pool, &r->batch, (void *const *)r->order,
                        r->nready);
  if (atomic_fetch_sub(&r->targets_left, 1) == 1) {
    if (async) { /* all done already: settle here */
      settle_async(r);
      dusk__stats_end(r, atomic_load(&r->failed));
      run_put(r);
      return DUSK_OK;
    }
  } else if (async) {
    return DUSK_OK; /* the last finisher settles it */
  } else if (!wait_run(r, deadline)) {
    return dusk__set_error(DUSK_ETIMEDOUT, "compute: not done in time");
  }
  if (r->start && !r->helper) /* the progress bar's last line */
    dusk__progress(r->ntotal, r->ntotal, r->start, true);
  rc = settle(r, n, nodes, outs);
  if (rc && atomic_load_explicit(&r->again, memory_order_relaxed))
    *again = r->wound ? AGAIN_WAIT : AGAIN_TRY;
  dusk__stats_end(r, rc);
  run_put(r);
  return rc;
}

static int never(void *arg) {
  (void)arg;
  return 0;
}

/*
** Wait a little before trying a compute again: the compute that gave up a
** node we need may still be winding it down. A worker runs other tasks
** meanwhile (what it waits for may be queued behind it).
*/
static void back_off(dusk_graph *g, int tries) {
  int64_t ns = tries < 10 ? (int64_t)20000 << tries : 10000000;
  dusk__pool *pool = dusk__graph_pool(g);
  if (pool && dusk__pool_worker(pool) >= 0) {
    dusk__pool_help_until(pool, never, NULL, dusk__now() + ns);
  } else {
    struct timespec ts = {0, (long)ns};
    nanosleep(&ts, NULL);
  }
}

/*
** A compute that failed only because a node it needed was given up by
** another compute (that one stopped after a failure of its own before the
** node could run) is tried again, so that a compute fails only for a
** failure among what it needs. While the compute that stopped still winds
** such a node down (its readers hold refs), the next try waits: that ends
** when its tasks that still run end, so it is not counted, unless this
** compute runs inside a task (see below). Other computes giving up what
** this one waits for over and over could go on without end: after
** MAX_TRIES such tries the failure is returned.
*/
enum { MAX_TRIES = 64 };

int dusk__compute(dusk_graph *g, int n, dusk_node *const *nodes,
                  dusk_value *outs, int64_t deadline, int mode) {
  int rc = check_targets(g, n, nodes);
  for (int i = 0; outs && nodes && i < n; i++) /* n is trusted with nodes */
    outs[i] = (dusk_value){.kind = DUSK_NONE};
  if (rc)
    return rc;
  enum again again;
  for (int tries = 0, counted = 0;; tries++) {
    rc = compute_once(g, n, nodes, outs, deadline, mode, &again);
    if (again == AGAIN_NO || (deadline && dusk__now() >= deadline))
      return rc;
    /* Inside a task, a wind-down is waited for only so long: the stopped
       compute may be waiting for this very task (the task is an argument
       of the consumer that holds the node), and would never end. */
    if ((again == AGAIN_TRY || dusk__in_task()) && ++counted == MAX_TRIES)
      return rc;
    if (tries > 0)
      back_off(g, tries);
  }
}

int dusk_compute_many(dusk_graph *g, int n, dusk_node *const *nodes,
                      dusk_value *outs) {
  return dusk__compute(g, n, nodes, outs, 0, 0);
}

int dusk_compute(dusk_graph *g, dusk_node *n, dusk_value *out) {
  return dusk_compute_many(g, 1, &n, out);
}

/* ------------------------------------------------------ kept results */

void dusk_release(dusk_node *n) {
  if (!n || (node_flags(n) & DUSK__LITERAL))
    return;
  if (atomic_fetch_and(&n->flags, (uint16_t)~DUSK__KEEP) & DUSK__KEEP)
    release(n);
}

int dusk_take(dusk_node *n, dusk_value *out) {
  if (out)
    *out = (dusk_value){.kind = DUSK_NONE};
  if (!n || !out)
    return dusk__set_error(DUSK_EINVAL, "take: NULL %s", n ? "out" : "node");
  if (node_flags(n) & DUSK__LITERAL)
    return dusk__set_error(DUSK_EINVAL, "take: a literal's value stays "
                                        "with the graph");
  if (node_state(n) != DUSK__DONE ||
      !(atomic_fetch_and(&n->flags, (uint16_t)~DUSK__KEEP) & DUSK__KEEP))
    return dusk__set_error(DUSK_ENORESULT, "take: the node keeps no result");
  int one = 1;
  if (!atomic_compare_exchange_strong(&n->refs, &one, 0)) {
    atomic_fetch_or(&n->flags, DUSK__KEEP);
    return dusk__set_error(DUSK_EBUSY, "take: a running compute still "
                                       "reads the result");
  }
  dusk__node_uncount(n);
  *out = dusk__node_value(n);
  if (node_flags(n) & DUSK__BOXED) {
    dusk__free(n->val.ptr);
    atomic_fetch_and(&n->flags, (uint16_t)~DUSK__BOXED);
  }
  atomic_store_explicit(&n->kind, DUSK_NONE, memory_order_relaxed);
  n->val.i64 = 0;
  atomic_store_explicit(&n->state, DUSK__IDLE, memory_order_release);
  return DUSK_OK;
}

