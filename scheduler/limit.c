/*
** Limits: at most N items of a named class run at once on a pool (a
** resource class: "hdf5", "gpu", "net"), and no worker ever blocks for one.
**
** The idea is a counting semaphore whose waiters are items, not threads. A
** worker about to run a limited item enters its class: when a slot is free
** it takes it and runs the item; when none is, the item is parked in the
** class's queue and the worker goes on with other work. A worker that
** leaves a class with items parked hands its slot straight to the oldest
** one, which it returns to the caller to push onto the pool like any other
** ready item, or to run at once: the slot travels with the item, so nothing
** can take it meanwhile, and a parked item is never stranded, since every
** slot holder (running, or on its way to run) leaves sooner or later. The
** caller must remember that such an item holds a slot (it must leave
** without entering). Raising a limit lets every parked item try again.
**
** `running` counts the holders: items running, and items handed a slot on
** their way to a worker. A class exists from the first limit set on it and
** lives as long as its pool, so a pointer to it stays valid while items of
** the pool run. With limit 0 (no limit) holders are still counted, so that
** a limit set later starts from the truth.
**
** Lock order: a class's lock is taken alone; the table lock only to find or
** add a class.
*/
#include "scheduler/sched.h"
#include "src/alloc.h"
#include "src/uthash_dusk.h"

#include <string.h>

struct dusk__limit {
  UT_hash_handle hh;
  pthread_mutex_t lock;
  int limit;                /* 0: no limit                                 */
  int running;              /* slot holders                                */
  void **q;                 /* parked items, a ring, oldest at head        */
  size_t head, len, cap;
  char name[];
};

int dusk__limits_init(dusk__limits *ls) {
  ls->head = NULL;
  atomic_init(&ls->any, false);
  return pthread_mutex_init(&ls->lock, NULL) == 0 ? 0 : -1;
}

void dusk__limits_destroy(dusk__limits *ls) {
  dusk__limit *l, *tmp;
  HASH_ITER(hh, ls->head, l, tmp) {
    HASH_DEL(ls->head, l);
    pthread_mutex_destroy(&l->lock);
    dusk__free(l->q);
    dusk__free(l);
  }
  pthread_mutex_destroy(&ls->lock);
}

dusk__limit *dusk__limit_find(dusk__limits *ls, const char *name) {
  dusk__limit *l = NULL;
  pthread_mutex_lock(&ls->lock);
  HASH_FIND_STR(ls->head, name, l);
  pthread_mutex_unlock(&ls->lock);
  return l;
}

/* The class called name, made if it does not exist; NULL when out of memory. */
static dusk__limit *find_or_add(dusk__limits *ls, const char *name) {
  pthread_mutex_lock(&ls->lock);
  dusk__limit *l = NULL;
  HASH_FIND_STR(ls->head, name, l);
  if (!l) {
    size_t len = strlen(name);
    if ((l = dusk__calloc(1, sizeof *l + len + 1))) {
      memcpy(l->name, name, len + 1);
      pthread_mutex_init(&l->lock, NULL);
      dusk__hash_oom = 0;
      HASH_ADD_STR(ls->head, name, l);
      if (dusk__hash_oom) {
        pthread_mutex_destroy(&l->lock);
        dusk__free(l);
        l = NULL;
      } else {
        atomic_store_explicit(&ls->any, true, memory_order_relaxed);
      }
    }
  }
  pthread_mutex_unlock(&ls->lock);
  return l;
}

int dusk__limit_set(dusk__limits *ls, const char *name, int limit,
                    dusk__limit **out) {
  dusk__limit *l = find_or_add(ls, name);
  if (!l)
    return -1;
  pthread_mutex_lock(&l->lock);
  l->limit = limit;
  pthread_mutex_unlock(&l->lock);
  *out = l;
  return 0;
}

int dusk__limit_get(dusk__limits *ls, const char *name) {
  dusk__limit *l = dusk__limit_find(ls, name);
  if (!l)
    return 0;
  pthread_mutex_lock(&l->lock);
  int limit = l->limit;
  pthread_mutex_unlock(&l->lock);
  return limit;
}

static bool slot_free(const dusk__limit *l) {
  return l->limit == 0 || l->running < l->limit;
}

/* Append item to the ring, doubling it when full; -1 when out of memory. */
static int park(dusk__limit *l, void *item) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    void **q = dusk__malloc(cap * sizeof *q);
    if (!q)
      return -1;
    for (size_t i = 0; i < l->len; i++)
      q[i] = l->q[(l->head + i) % l->cap];
    dusk__free(l->q);
    l->q = q;
    l->cap = cap;
    l->head = 0;
  }
  l->q[(l->head + l->len++) % l->cap] = item;
  return 0;
}

static void *unpark(dusk__limit *l) {
  void *item = l->q[l->head];
  l->head = (l->head + 1) % l->cap;
  l->len--;
  return item;
}

int dusk__limit_enter(dusk__limit *l, void *item) {
  int rc = DUSK__LIMIT_ENTERED;
  pthread_mutex_lock(&l->lock);
  if (slot_free(l) && l->len == 0)
    l->running++;
  else
    rc = park(l, item) == 0 ? DUSK__LIMIT_PARKED : DUSK__LIMIT_NOMEM;
  pthread_mutex_unlock(&l->lock);
  return rc;
}

void *dusk__limit_leave(dusk__limit *l) {
  void *next = NULL;
  pthread_mutex_lock(&l->lock);
  /* Hand the slot on, unless the limit was lowered below the holders. */
  if (l->len && (l->limit == 0 || l->running <= l->limit))
    next = unpark(l);
  else
    l->running--;
  pthread_mutex_unlock(&l->lock);
  return next;
}

void *dusk__limit_wake(dusk__limit *l) {
  void *next = NULL;
  pthread_mutex_lock(&l->lock);
  if (l->len && slot_free(l))
    next = unpark(l); /* it enters again: a slot is free, or it parks */
  pthread_mutex_unlock(&l->lock);
  return next;
}
