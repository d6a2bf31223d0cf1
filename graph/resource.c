/*
** Resource classes of nodes: which named class ("hdf5") a node's task
** belongs to, so that the scheduler can hold the tasks of a class to the
** limit set on the pool (scheduler/limit.c).
**
** A node has no room for a class, and few nodes have one: the graph keeps a
** table from node to class, and the flag LIMITED on the node says that it
** has an entry, so that a task without a class costs one flag test. Each
** class name is copied once per graph, however many nodes carry it. A graph
** that uses one class name only (the common case: "hdf5") answers without
** the table or its lock: a tagged node carries that name.
*/
#include "graph/graph.h"
#include "src/alloc.h"
#include "src/uthash_dusk.h"

#include <string.h>

typedef struct dusk__rname {
  UT_hash_handle hh;
  char name[];
} rname;

typedef struct dusk__rtag {
  const dusk_node *node;
  const char *name; /* an rname's */
  UT_hash_handle hh;
} rtag;

/* The graph's copy of name, made if needed. With g->lock held. */
static const char *intern(dusk_graph *g, const char *name) {
  rname *r = NULL;
  HASH_FIND_STR(g->rnames, name, r);
  if (r)
    return r->name;
  size_t len = strlen(name);
  if (!(r = dusk__malloc(sizeof *r + len + 1)))
    return NULL;
  memcpy(r->name, name, len + 1);
  dusk__hash_oom = 0;
  HASH_ADD_STR(g->rnames, name, r);
  if (dusk__hash_oom) {
    dusk__free(r);
    return NULL;
  }
  /* Before any node carries it (tag() sets LIMITED after, a release). */
  int k = atomic_fetch_add_explicit(&g->nrnames, 1, memory_order_relaxed);
  atomic_store_explicit(&g->rone, k == 0 ? r->name : NULL,
                        memory_order_release);
  return r->name;
}

/* Tag n with name (the graph's copy), or untag it (NULL). With g->lock. */
static int tag(dusk_graph *g, dusk_node *n, const char *name) {
  rtag *t = NULL;
  HASH_FIND_PTR(g->rtags, &n, t);
  if (!name) {
    if (t) {
      atomic_fetch_and(&n->flags, (uint16_t)~DUSK__LIMITED);
      HASH_DEL(g->rtags, t);
      dusk__free(t);
    }
    return 0;
  }
  if (t) {
    t->name = name;
    return 0;
  }
  if (!(t = dusk__malloc(sizeof *t)))
    return -1;
  t->node = n;
  t->name = name;
  dusk__hash_oom = 0;
  HASH_ADD_PTR(g->rtags, node, t);
  if (dusk__hash_oom) {
    dusk__free(t);
    return -1;
  }
  atomic_fetch_or(&n->flags, DUSK__LIMITED); /* after the entry exists */
  return 0;
}

int dusk__graph_set_resource(dusk_graph *g, dusk_node *n, const char *name) {
  pthread_mutex_lock(&g->lock);
  const char *copy = name ? intern(g, name) : NULL;
  int rc = name && !copy ? -1 : tag(g, n, copy);
  pthread_mutex_unlock(&g->lock);
  return rc;
}

const char *dusk__graph_resource(dusk_graph *g, const dusk_node *n) {
  /* Acquire: a name interned before n was tagged is seen (rone). */
  if (!(atomic_load_explicit(&n->flags, memory_order_acquire) & DUSK__LIMITED))
    return NULL;
  const char *one = atomic_load_explicit(&g->rone, memory_order_acquire);
  if (one)
    return one;
  pthread_mutex_lock(&g->lock);
  rtag *t = NULL;
  HASH_FIND_PTR(g->rtags, &n, t);
  const char *name = t ? t->name : NULL;
  pthread_mutex_unlock(&g->lock);
  return name;
}

void dusk__graph_free_resources(dusk_graph *g) {
  rtag *t, *ttmp;
  HASH_ITER(hh, g->rtags, t, ttmp) {
    HASH_DEL(g->rtags, t);
    dusk__free(t);
  }
  rname *r, *rtmp;
  HASH_ITER(hh, g->rnames, r, rtmp) {
    HASH_DEL(g->rnames, r);
    dusk__free(r);
  }
}
