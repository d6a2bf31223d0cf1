/*
** Futures: nodes started at once, and the ways to wait for any node.
**
** There is no separate future type. Starting a node is a compute that no
** one waits for (src/compute.c settles it when its last target finishes);
** waiting for a node is a compute of it, which waits for the compute that
** runs it rather than running it again; a callback is one more kind of
** waiter on the node. Maps and reductions only build delayed nodes.
*/
#include "src/core.h"
#include "src/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static int state_of(const dusk_node *n) {
  return atomic_load_explicit(&n->state, memory_order_acquire);
}

static int64_t deadline_after(long timeout_ms) {
  if (timeout_ms < 0)
    return 0;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec +
         (int64_t)timeout_ms * 1000000 + 1; /* never 0: that means "none" */
}

/* ---------------------------------------------------------------- start */

int dusk_start(dusk_graph *g, int n, dusk_node *const *nodes) {
  return dusk__compute(g, n, nodes, NULL, 0, DUSK__ASYNC);
}

dusk_node *dusk_submit_named(dusk_graph *g, const char *name, dusk_fn fn,
                             void *udata, int nargs, dusk_node *const *args) {
  dusk_node *n = dusk_call_named(g, name, fn, udata, nargs, args);
  if (n && dusk_start(g, 1, &n) != DUSK_OK)
    return NULL; /* the error is set; the node stays, unstarted and unseen */
  return n;
}

dusk_node *dusk_submit(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                       dusk_node *const *args) {
  return dusk_submit_named(g, NULL, fn, udata, nargs, args);
}

/* --------------------------------------------------------------- status */

dusk_state dusk_status(const dusk_node *n) {
  if (!n)
    return DUSK_NOT_STARTED;
  switch (state_of(n)) {
  case DUSK__CLAIMING:
  case DUSK__CLAIMED:
    return DUSK_WAITING;
  case DUSK__RUNNING:
    return DUSK_RUNNING;
  case DUSK__DONE:
    return DUSK_DONE;
  case DUSK__FAILED:
    return dusk_errcode(n) == DUSK_ECANCELED ? DUSK_CANCELLED : DUSK_FAILED;
  default:
    return DUSK_NOT_STARTED;
  }
}

int dusk_ready(const dusk_node *n) {
  dusk_state s = dusk_status(n);
  return s == DUSK_DONE || s == DUSK_FAILED || s == DUSK_CANCELLED;
}

/* -------------------------------------------------------------- waiting */

static int wait_until(dusk_node *n, dusk_value *out, int64_t deadline) {
  if (out)
    *out = (dusk_value){.kind = DUSK_NONE};
  if (!n)
    return dusk__set_error(DUSK_EINVAL, "wait: NULL node");
  /* Finished: its failure is the answer, unless it did not run (its
     compute stopped for a failure elsewhere): then it runs now. */
  if (state_of(n) == DUSK__FAILED && dusk__failure_answers(n)) {
    int code = dusk_errcode(n);
    if (code != DUSK_OK)
      return code;
    /* Taken up again by another compute since: wait for that one. */
  }
  return dusk__compute(dusk_node_graph(n), 1, &n, out, deadline,
                       DUSK__NO_RETRY);
}

int dusk_wait(dusk_node *n) { return wait_until(n, NULL, 0); }

int dusk_wait_for(dusk_node *n, long timeout_ms) {
  return wait_until(n, NULL, deadline_after(timeout_ms));
}

int dusk_get(dusk_node *n, dusk_value *out) { return wait_until(n, out, 0); }

int dusk_on_done(dusk_node *n, dusk_done_fn cb, void *udata) {
  if (!n || !cb)
    return dusk__set_error(DUSK_EINVAL, "on_done: NULL %s",
                           n ? "callback" : "node");
  int rc = dusk__on_done(n, cb, udata);
  return rc ? dusk__set_error(rc, "on_done: out of memory") : DUSK_OK;
}

/*
** wait_any: one event, signalled by a callback on every node. The event is
** shared by the waiter and the callbacks, which may fire long after the
** waiter has gone (a node that finishes later), so it counts its holders
** and the last one frees it.
*/
typedef struct event {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int holders;
  atomic_int fired;
  dusk__pool *helper; /* the pool whose worker waits by helping, or NULL */
} event;

static void event_drop(event *e) {
  pthread_mutex_lock(&e->lock);
  int left = --e->holders;
  pthread_mutex_unlock(&e->lock);
  if (left == 0) {
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    dusk__free(e);
  }
}

static void event_fire(dusk_node *n, int code, void *udata) {
  (void)n, (void)code;
  event *e = udata;
  pthread_mutex_lock(&e->lock);
  atomic_store(&e->fired, 1);
  pthread_cond_broadcast(&e->cond);
  dusk__pool *pool = e->helper;
  pthread_mutex_unlock(&e->lock);
  if (pool)
    dusk__pool_notify(pool);
  event_drop(e);
}

static int event_fired(void *arg) { return atomic_load(&((event *)arg)->fired); }

static event *event_new(int holders, dusk__pool *helper) {
  event *e = dusk__malloc(sizeof *e);
  if (!e)
    return NULL;
  pthread_mutex_init(&e->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&e->cond, &ca);
  pthread_condattr_destroy(&ca);
  e->holders = holders;
  atomic_init(&e->fired, 0);
  e->helper = helper;
  return e;
}

static void event_wait(event *e, int64_t deadline) {
  if (e->helper) {
    dusk__pool_help_until(e->helper, event_fired, e, deadline);
    return;
  }
  struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
  pthread_mutex_lock(&e->lock);
  while (!atomic_load(&e->fired)) {
    if (!deadline)
      pthread_cond_wait(&e->cond, &e->lock);
    else if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) == ETIMEDOUT)
      break;
  }
  pthread_mutex_unlock(&e->lock);
}

static int first_ready(dusk_node *const *nodes, int count) {
  for (int i = 0; i < count; i++)
    if (state_of(nodes[i]) == DUSK__DONE || state_of(nodes[i]) == DUSK__FAILED)
      return i;
  return -1;
}

/*
** One round of wait_any: register a callback on every node, start what no
** compute runs, and wait until one fires or the deadline passes. DUSK_OK,
** or the error of a start or DUSK_ENOMEM.
**
** Callbacks first: a node another compute runs may finish and, an
** intermediate, have its result freed before we register; it is then idle
** with no compute left to run it, and a callback on it alone would wait
** for ever. Registered first, a node either finishes after (the callback
** fires) or is seen idle after (and started here).
*/
static int wait_round(dusk_node *const *nodes, int count, int64_t deadline) {
  dusk__pool *pool = dusk__graph_pool(dusk_node_graph(nodes[0]));
  event *e = event_new(1, pool && dusk__pool_worker(pool) >= 0 ? pool : NULL);
  if (!e)
    return dusk__set_error(DUSK_ENOMEM, "wait_any: out of memory");
  for (int k = 0; k < count; k++) {
    pthread_mutex_lock(&e->lock);
    e->holders++;
    pthread_mutex_unlock(&e->lock);
    if (dusk__on_done(nodes[k], event_fire, e) != DUSK_OK) {
      event_drop(e); /* not registered: its hold goes */
      event_drop(e);
      return dusk__set_error(DUSK_ENOMEM, "wait_any: out of memory");
    }
  }
  /* Start what no compute runs (unless one has fired: we return at once) */
  for (int k = 0; k < count && !atomic_load(&e->fired); k++)
    if (state_of(nodes[k]) == DUSK__IDLE) {
      int rc = dusk_start(dusk_node_graph(nodes[k]), 1, &nodes[k]);
      if (rc) { /* the callbacks keep the event until they fire */
        event_drop(e);
        return rc;
      }
    }
  event_wait(e, deadline);
  event_drop(e);
  return DUSK_OK;
}

int dusk_wait_any(dusk_node *const *nodes, int count, long timeout_ms) {
  if (!nodes || count < 1)
    return dusk__set_error(DUSK_EINVAL, "wait_any: %d nodes at %p", count,
                           (const void *)nodes);
  for (int i = 0; i < count; i++)
    if (!nodes[i])
      return dusk__set_error(DUSK_EINVAL, "wait_any: node %d is NULL", i);
  int64_t deadline = deadline_after(timeout_ms);
  /* A node whose callback fired may be taken up again by another compute
     (a failure retried, a freed intermediate recomputed) before we look:
     then wait again, until the deadline if there is one. */
  for (int round = 0;; round++) {
    int i = first_ready(nodes, count);
    if (i >= 0)
      return i;
    if (round > 0 && deadline && dusk__now() >= deadline)
      return dusk__set_error(DUSK_ETIMEDOUT, "wait_any: none finished in "
                                             "%ld ms", timeout_ms);
    int rc = wait_round(nodes, count, deadline);
    if (rc)
      return rc;
  }
}

/* ------------------------------------------------------ maps, reductions */

int dusk_map(dusk_graph *g, dusk_fn fn, void *udata, int64_t begin,
             int64_t end, int64_t chunk, dusk_node **nodes, int max) {
  if (!g || !fn || end < begin || chunk < 0)
    return dusk__set_error(DUSK_EINVAL, "map: %s", !g ? "NULL graph"
                                                   : !fn ? "NULL function"
                                                   : end < begin ? "end < begin"
                                                                 : "chunk < 0");
  /* Unsigned: the span of any int64 range fits, without overflow. */
  uint64_t span = (uint64_t)end - (uint64_t)begin, step = (uint64_t)chunk;
  if (step == 0) { /* the seed's rule of thumb: one chunk per worker */
    dusk__pool *p = dusk__graph_pool(g);
    uint64_t workers = p ? (uint64_t)dusk__pool_size(p) : 1;
    step = span ? span / workers + (span % workers != 0) : 1;
  }
  uint64_t count = span / step + (span % step != 0);
  if (count > INT32_MAX)
    return dusk__set_error(DUSK_EINVAL, "map: %llu chunks",
                           (unsigned long long)count);
  chunk = (int64_t)step;
  if (!nodes)
    return (int)count;
  if ((uint64_t)max < count || max < 0)
    return dusk__set_error(DUSK_EINVAL, "map: %llu chunks, room for %d",
                           (unsigned long long)count, max);
  for (int64_t i = 0; i < (int64_t)count; i++) {
    int64_t lo = (int64_t)((uint64_t)begin + (uint64_t)i * step);
    int64_t hi = (uint64_t)end - (uint64_t)lo > step ? (int64_t)((uint64_t)lo + step)
                                              : end;
    dusk_node *range[2] = {dusk_literal(g, dusk_i64(lo)),
                           dusk_literal(g, dusk_i64(hi))};
    if (!range[0] || !range[1] ||
        !(nodes[i] = dusk_call_named(g, "map", fn, udata, 2, range)))
      return dusk__set_error(DUSK_ENOMEM, "map: out of memory");
  }
  return (int)count;
}

dusk_node *dusk_reduce(dusk_graph *g, dusk_fn fn, void *udata,
                       dusk_node *const *nodes, int count, int split_every) {
  if (split_every == 0)
    split_every = 8;
  if (!g || !fn || !nodes || count < 1 || split_every < 2) {
    dusk__set_error(DUSK_EINVAL, "reduce: %d nodes, split_every %d", count,
                    split_every);
    return NULL;
  }
  for (int i = 0; i < count; i++)
    if (!nodes[i] || dusk_node_graph(nodes[i]) != g) {
      dusk__set_error(DUSK_EINVAL, "reduce: node %d is %s", i,
                      nodes[i] ? "of another graph" : "NULL");
      return NULL;
    }
  if (count == 1) /* nothing to combine */
    return nodes[0];
  dusk_node **level = dusk__malloc((size_t)count * sizeof *level);
  if (!level) {
    dusk__set_error(DUSK_ENOMEM, "reduce: out of memory");
    return NULL;
  }
  for (int i = 0; i < count; i++)
    level[i] = nodes[i];
  /* Each pass replaces groups of split_every by one call, in place. */
  int len = count;
  do {
    int out = 0;
    for (int i = 0; i < len; i += split_every) {
      int k = len - i < split_every ? len - i : split_every;
      dusk_node *c = k == 1 ? level[i] /* a lone one waits for the next level */
                            : dusk_call_named(g, "reduce", fn, udata, k,
                                              &level[i]);
      if (!c) {
        dusk__free(level);
        return NULL; /* dusk_call set the error */
      }
      level[out++] = c;
    }
    len = out;
  } while (len > 1);
  dusk_node *root = level[0];
  dusk__free(level);
  return root;
}
