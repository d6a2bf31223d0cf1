/*
** The graph's waiter table: who to tell when a node finishes. A compute
** that needs a node another compute runs registers one of its nodes (or
** itself, for a target) as a waiter, and takes a ref on the result; the
** finisher counts that node down (compute.c argues the protocol). A
** callback (dusk_on_done) is a waiter too. The table maps a node to its list
** of waiters; it is a uthash table under the graph lock, and a node in it
** carries the WAITERS flag, which is what a finisher reads.
**
** A finisher stores the node's final state, then reads WAITERS; a
** registrant sets WAITERS, then reads the state. One sees the other (the
** fences are in exec.c). Both hold the graph lock while they touch the
** list, and the finisher counts down waiting nodes under it, so that a
** registration can be undone exactly (compute.c's undo).
**
** Lives. A node lives many times (computed, released, computed again), and
** its finisher takes the graph lock only after it has published the node's
** state: held up in between, it may come to the list when the node has
** been read, released and taken up by a new compute, whose waiters are
** listed by then. So a compute's waiter names the life it waits for (the
** compute that runs the node), and a finisher answers only the waiters of
** its own life; the others stay, and so does the flag, for their own
** finisher. A waiter's ref holds its life (a DONE node with a ref does not
** go IDLE; a FAILED one is not taken up again, see compute.c's claim), so
** the life it names is still running or finished, never reused. A callback
** holds nothing; it names the life it was registered in, or none when the
** node was idle: then the compute that claims the node next stamps it with
** its own (dusk__waiters_claimed), so a late finisher of an earlier life
** never calls it. A life a callback names is never reused before its
** finisher has called it: that finisher saw the flag (the callback was
** listed while the life ran, or stamped before it ran) and a compute ends
** only after the finishes of its nodes.
*/
#include "src/run.h"
#include "src/uthash_dusk.h"

typedef struct dusk__waiter {
  struct dusk__waiter *next;
  dusk_node *consumer; /* a node of another compute, or NULL: a target */
  dusk__run *run;      /* NULL: a callback                               */
  dusk__run *life;     /* the compute that runs the node; NULL: a callback
                          registered while no compute did (claim stamps it) */
  dusk_done_fn cb;
  void *udata;
} waiter;

typedef struct dusk__wlist {
  const dusk_node *node;
  waiter *first;
  UT_hash_handle hh;
} wlist;

/*
** Announce a registration on n: set WAITERS, fence, and read n's state
** (the registrant's half of the handshake). With g->lock held.
*/
static int announce(dusk_node *n) {
  atomic_fetch_or_explicit(&n->flags, DUSK__WAITERS, memory_order_seq_cst);
  dusk__heavy_barrier();
  return atomic_load_explicit(&n->state, memory_order_seq_cst);
}

/*
** Put *w (filled in) at the head of n's list, made from *fresh if n has
** none. Each one taken is set to NULL; false when out of memory (nothing
** taken, or only *fresh). With g->lock held.
*/
static bool enlist(dusk_graph *g, const dusk_node *n, waiter **w,
                   wlist **fresh) {
  wlist *l = NULL;
  HASH_FIND_PTR(g->waiters, &n, l);
  if (!l && *fresh) {
    l = *fresh;
    l->node = n;
    l->first = NULL;
    dusk__hash_oom = 0;
    HASH_ADD_PTR(g->waiters, node, l);
    if (dusk__hash_oom)
      return false;
    *fresh = NULL;
  }
  if (!l)
    return false;
  (*w)->next = l->first;
  l->first = *w;
  *w = NULL;
  return true;
}

/*
** Register (consumer or, when NULL, the run itself) as a waiter on n, which
** another compute runs. Returns false if n finished meanwhile.
**
** The ref is taken before the life is read: from then on n stays in the
** life it is in, and its run is that life's (read after its state: a
** claim stores the run before CLAIMED). Until then n may have finished and
** been taken up again (nothing held it): found between two lives (IDLE,
** or being claimed), we look again. Any life we name finishes after our
** announce, so its finisher sees the flag and comes for us.
*/
bool dusk__add_waiter(dusk__run *r, dusk_node *n, dusk_node *consumer,
                      int *nomem) {
  waiter *w = dusk__malloc(sizeof *w);
  wlist *fresh = dusk__malloc(sizeof *fresh);
  dusk_graph *g = r->g;
  bool held = false, added = false;
  pthread_mutex_lock(&g->lock);
  int s = announce(n);
  if (s == DUSK__CLAIMED || s == DUSK__RUNNING) {
    atomic_fetch_add(&n->refs, 1); /* the result stays until we read it */
    held = true;
    s = atomic_load_explicit(&n->state, memory_order_seq_cst);
    dusk__run *life = dusk__run_of(n);
    if (s != DUSK__IDLE && s != DUSK__CLAIMING) {
      if (w)
        *w = (waiter){.consumer = consumer, .run = r, .life = life};
      if (w && enlist(g, n, &w, &fresh))
        added = true;
      else
        *nomem = 1;
    }
  }
  pthread_mutex_unlock(&g->lock);
  if (held && !added)
    release(n); /* out of the lock: it may free a result of a new life */
  dusk__free(w);
  dusk__free(fresh);
  return added;
}

/* Undo a registration if it is still there; true if it was. */
bool dusk__remove_waiter(dusk__run *r, dusk_node *n, dusk_node *consumer) {
  dusk_graph *g = r->g;
  bool found = false;
  pthread_mutex_lock(&g->lock);
  wlist *l = NULL;
  HASH_FIND_PTR(g->waiters, &n, l);
  for (waiter **p = l ? &l->first : NULL; p && *p; p = &(*p)->next) {
    if ((*p)->run == r && (*p)->consumer == consumer) {
      waiter *w = *p;
      *p = w->next;
      dusk__free(w);
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return found;
}

/* The test hook (see run.h): one relaxed load per notice while unset. */
static _Atomic(dusk__notice_hook) notice_hook;

void dusk__set_notice_hook(dusk__notice_hook hook) {
  atomic_store(&notice_hook, hook);
}

/*
** Take from l the waiters and callbacks of life, in their order; NULL when
** there are none. Those of other lives stay in l.
*/
static waiter *take_life(wlist *l, const dusk__run *life) {
  waiter *taken = NULL, **tail = &taken;
  for (waiter **p = &l->first; *p;) {
    waiter *w = *p;
    if (w->life != life) {
      p = &w->next;
      continue;
    }
    *p = w->next;
    w->next = NULL;
    *tail = w;
    tail = &w->next;
  }
  return taken;
}

/*
** Tell the waiters and callbacks of n's life `life` (the compute that ran
** it; NULL: none, a cancel of an idle node) that n finished. The graph
** lock is held while counting down, so that a compute undoing its set-up
** sees either the registration or its effect; nodes that became ready are
** pushed after.
*/
void dusk__notify_waiters(dusk_node *n, const dusk__run *life, bool failed) {
  dusk_graph *g = dusk__graph_of(n);
  dusk__notice_hook hook =
      atomic_load_explicit(&notice_hook, memory_order_relaxed);
  if (hook)
    hook(n);
  pthread_mutex_lock(&g->lock);
  wlist *l = NULL;
  HASH_FIND_PTR(g->waiters, &n, l);
  waiter *w = l ? take_life(l, life) : NULL;
  if (l && !l->first) {
    HASH_DEL(g->waiters, l);
    dusk__free(l);
    l = NULL;
  }
  if (!l) /* no one left: a later waiter puts it up again */
    atomic_fetch_and(&n->flags, (uint16_t)~DUSK__WAITERS);
  waiter *ready = NULL, *targets = NULL, *calls = NULL;
  int code = failed ? dusk_errcode(n) : DUSK_OK;
  bool given_up = failed && not_run(n);
  while (w) {
    waiter *next = w->next;
    if (!w->run) {
      w->next = calls;
      calls = w;
      w = next;
      continue;
    }
    if (failed)
      dusk__mark_failed_by(w->run, code ? code : DUSK_ETASK, n, given_up);
    if (!w->consumer) {
      w->next = targets;
      targets = w;
    } else if (count_down(w->consumer)) {
      w->next = ready;
      ready = w;
    } else {
      dusk__free(w);
    }
    w = next;
  }
  pthread_mutex_unlock(&g->lock);
  for (waiter *next; ready; ready = next) {
    next = ready->next;
    dusk__push_or_run(ready->consumer);
    dusk__free(ready);
  }
  for (waiter *next; calls; calls = next) {
    next = calls->next;
    calls->cb(n, code, calls->udata);
    dusk__free(calls);
  }
  for (waiter *next; targets; targets = next) {
    next = targets->next;
    dusk__target_finished(targets->run);
    dusk__free(targets);
  }
}

/* ------------------------------------------------------------ callbacks */

int dusk__on_done(dusk_node *n, dusk_done_fn cb, void *udata) {
  dusk_graph *g = dusk__graph_of(n);
  waiter *w = dusk__malloc(sizeof *w);
  wlist *fresh = dusk__malloc(sizeof *fresh);
  int rc = DUSK_OK;
  bool now = false;
  int s;
  /* Being claimed: its life is not known yet (a claim stamps callbacks
     before it publishes CLAIMED). A moment, then look again. */
  for (;;) {
    pthread_mutex_lock(&g->lock);
    s = announce(n);
    if (s != DUSK__CLAIMING)
      break;
    pthread_mutex_unlock(&g->lock);
    cpu_wait();
  }
  if (s == DUSK__DONE || s == DUSK__FAILED) {
    now = true;
  } else {
    /* The life it waits for: the compute that runs n, or none yet (IDLE;
       read after CLAIMED, the claim stored its run before). */
    dusk__run *life = s == DUSK__IDLE ? NULL : dusk__run_of(n);
    if (w)
      *w = (waiter){.cb = cb, .udata = udata, .life = life};
    if (!w || !enlist(g, n, &w, &fresh))
      rc = DUSK_ENOMEM;
  }
  pthread_mutex_unlock(&g->lock);
  dusk__free(w);
  dusk__free(fresh);
  if (now)
    cb(n, node_state(n) == DUSK__FAILED ? dusk_errcode(n) : DUSK_OK, udata);
  return rc;
}

/*
** r has claimed n and n's WAITERS flag is up: callbacks registered while n
** was idle now wait for this life. The registrant put the flag up before
** it read IDLE, under the graph lock, and the claim read the flag after
** its CAS (both sequentially consistent): one that read IDLE is listed by
** the time we get the lock.
*/
void dusk__waiters_claimed(dusk_node *n, dusk__run *r) {
  dusk_graph *g = dusk__graph_of(n);
  pthread_mutex_lock(&g->lock);
  wlist *l = NULL;
  HASH_FIND_PTR(g->waiters, &n, l);
  for (waiter *w = l ? l->first : NULL; w; w = w->next)
    if (!w->run && !w->life)
      w->life = r;
  pthread_mutex_unlock(&g->lock);
}

/* ------------------------------------------------------------ freeing */

void dusk__free_records(dusk_graph *g) {
  dusk__free_errors(g);
  wlist *l, *ltmp;
  HASH_ITER(hh, g->waiters, l, ltmp) {
    HASH_DEL(g->waiters, l);
    for (waiter *w = l->first, *next; w; w = next) {
      next = w->next;
      if (!w->run) /* a callback whose node never finished */
        w->cb((dusk_node *)l->node, DUSK_ECANCELED, w->udata);
      dusk__free(w);
    }
    dusk__free(l);
  }
}
