/*
** Node storage: chunks of 255 nodes and an arena for argument arrays, both
** owned by the graph and freed with it; and the names of nodes.
**
** Each thread keeps the chunk and the arena block it is carving for the graph
** it built on last (a thread-local cache keyed by the graph's serial number,
** so a freed graph whose address is reused is never mistaken for it). Only
** taking a new chunk or block takes the graph lock. A thread keeps the
** ranges of its last four graphs, so alternating between graphs wastes
** nothing.
**
** Names. dusk_delayed() names a node after its function; rather than a
** pointer in every node, the graph maps each function to its name once (a
** uthash table), and only a node whose name differs from its function's
** carries one of its own, in a second table.
*/
#include "graph/graph.h"
#include "src/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "src/uthash_dusk.h"

enum { ARENA_BLOCK = 64 * 1024, SMALL_CHUNKS = 4, SMALL_BLOCKS = 4 };

typedef struct dusk__fname {
  dusk_fn fn;
  const char *name;
  UT_hash_handle hh;
} fname;

typedef struct dusk__nname {
  const dusk_node *node;
  char *name;
  UT_hash_handle hh;
} nname;

static atomic_ullong next_serial = 1;

typedef struct builder {
  uint64_t serial; /* of the graph this range belongs to; 0: none */
  dusk_node *cur, *end;
  char *arena, *arena_end;
  dusk_fn last_fn; /* the last function named, and its name */
  const char *last_name;
} builder;

/*
** A thread builds on up to CACHED graphs without losing its ranges; moving
** to one more drops the least recently adopted range (at most one chunk and
** one arena block stay unused in that graph). A range is never handed back,
** since its graph may have been freed meanwhile.
*/
enum { CACHED = 4 };
static _Thread_local builder cache[CACHED];
static _Thread_local unsigned evict;
#define tls (cache[0])

int dusk__graph_init(dusk_graph *g) {
  memset(g, 0, sizeof *g);
  if (pthread_mutex_init(&g->lock, NULL) != 0)
    return -1;
  if (dusk__pure_init(g) != 0) {
    pthread_mutex_destroy(&g->lock);
    return -1;
  }
  g->serial = atomic_fetch_add(&next_serial, 1);
  return 0;
}

/* ------------------------------------------------------------- storage */

/* Make cache[0] the range of g: find it among the cached, or start one. */
static void adopt(dusk_graph *g) {
  builder b = {0};
  int i = 1;
  while (i < CACHED && cache[i].serial != g->serial)
    i++;
  if (i < CACHED) {
    b = cache[i];
  } else {
    i = 1 + (int)(evict++ % (CACHED - 1));
    b.serial = g->serial; /* empty: the first node takes a chunk */
  }
  cache[i] = cache[0];
  cache[0] = b;
}

/*
** With g->lock held: a chunk for g. The first few are allocated one by one,
** so that a small graph stays small; after that they are carved from 2 MiB
** slabs (one page fault each where huge pages are on), which are kept for
** reuse when the graph is freed.
*/
static dusk__chunk *chunk_alloc(dusk_graph *g) {
  if (g->nsmall < SMALL_CHUNKS) {
    dusk__chunk *c = dusk__aligned(DUSK__CHUNK_SIZE, DUSK__CHUNK_SIZE);
    if (c) {
      g->nsmall++;
      c->in_slab = 0;
    }
    return c;
  }
  if (g->slab_cur == g->slab_end) {
    char *slab = dusk__slab_get();
    if (!slab)
      return NULL;
    g->slab_cur = slab;
    g->slab_end = slab + DUSK__SLAB_SIZE;
  }
  dusk__chunk *c = (dusk__chunk *)g->slab_cur;
  g->slab_cur += DUSK__CHUNK_SIZE;
  c->in_slab = 1;
  return c;
}

static int new_chunk(dusk_graph *g) {
  pthread_mutex_lock(&g->lock);
  dusk__chunk *c = chunk_alloc(g);
  if (!c) {
    pthread_mutex_unlock(&g->lock);
    return -1;
  }
  c->graph = g;
  c->used = 0;
  atomic_init(&c->times, NULL); /* a slab's chunk may hold an old one's */
  c->first_id = g->next_id;
  g->next_id += DUSK__CHUNK_NODES;
  c->next = g->chunks;
  g->chunks = c;
  pthread_mutex_unlock(&g->lock);
  tls.cur = (dusk_node *)(c + 1);
  tls.end = tls.cur + DUSK__CHUNK_NODES;
  return 0;
}

/*
** Argument arrays. Small ones are carved from blocks: the first few blocks
** are allocated alone, later ones are slabs (kept for reuse like the node
** chunks, since a graph of two-argument calls has as many bytes of arrays as
** of nodes). An array larger than a quarter block gets its own allocation.
*/
static void *big_alloc(dusk_graph *g, size_t n) {
  dusk__block *b = dusk__malloc(sizeof *b);
  void *data = b ? dusk__malloc_big(n) : NULL;
  if (!data) {
    dusk__free(b);
    return NULL;
  }
  b->size = n;
  b->data = data;
  pthread_mutex_lock(&g->lock);
  b->next = g->blocks;
  g->blocks = b;
  pthread_mutex_unlock(&g->lock);
  return data;
}

static void *arena_refill(dusk_graph *g, size_t n);

static inline void *arena_alloc(dusk_graph *g, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if ((size_t)(tls.arena_end - tls.arena) < n)
    return arena_refill(g, n);
  void *p = tls.arena;
  tls.arena += n;
  return p;
}

/* arena_alloc() when the block is used up (n rounded already). */
static void *arena_refill(dusk_graph *g, size_t n) {
  bool shared = n <= ARENA_BLOCK / 4;
  if (!shared) /* an array of its own, exactly sized, header apart */
    return big_alloc(g, n);
  bool slab = atomic_load_explicit(&g->nblocks, memory_order_relaxed) >=
              SMALL_BLOCKS;
  size_t size = slab ? DUSK__SLAB_SIZE : ARENA_BLOCK;
  dusk__block *b = slab ? dusk__slab_get() : dusk__malloc(size);
  if (!b)
    return NULL;
  b->size = slab ? 0 : size; /* 0: a slab, given back to the cache */
  b->data = NULL;
  pthread_mutex_lock(&g->lock);
  b->next = g->blocks;
  g->blocks = b;
  pthread_mutex_unlock(&g->lock);
  if (shared)
    atomic_fetch_add_explicit(&g->nblocks, 1, memory_order_relaxed);
  char *start = (char *)b + ((sizeof *b + 15) & ~(size_t)15);
  tls.arena = start + n; /* the rest serves later calls */
  tls.arena_end = (char *)b + size;
  return start;
}

/* dusk__node_new(), inlined into the builders of this file. */
static inline dusk_node *node_make(dusk_graph *g, dusk_fn fn, void *udata,
                                   int nargs, dusk_node *const *args,
                                   uint16_t flags) {
  if (tls.serial != g->serial)
    adopt(g);
  dusk_node **argv = NULL;
  if (nargs > 1) {
    argv = arena_alloc(g, (size_t)nargs * sizeof *argv);
    if (!argv)
      return NULL;
    if (nargs <= 4) /* the usual few: no call to memcpy */
      for (int i = 0; i < nargs; i++)
        argv[i] = args[i];
    else
      memcpy(argv, args, (size_t)nargs * sizeof *argv);
  }
  if (tls.cur == tls.end && new_chunk(g) != 0)
    return NULL; /* the argument array stays in the arena, unused */
  dusk_node *n = tls.cur++;
  dusk__chunk_of(n)->used++;
  /* Not shared yet: plain stores, atomics included. */
  *n = (dusk_node){.fn = fn, .udata = udata, .nargs = nargs};
  atomic_init(&n->flags, flags);
  if (nargs == 1)
    n->arg1 = args[0];
  else
    n->argv = argv;
  return n;
}

dusk_node *dusk__node_new(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                          dusk_node *const *args, uint16_t flags) {
  return node_make(g, fn, udata, nargs, args, flags);
}

static int name_fn(dusk_graph *g, dusk_fn fn, const char *name);

/* dusk__call_new() when fn is not known by `name` on this thread's last
   call: what naming needs is allocated first, so a failure builds nothing. */
static dusk_node *call_new_named(dusk_graph *g, const char *name, dusk_fn fn,
                                 void *udata, int nargs,
                                 dusk_node *const *args) {
  int own = name_fn(g, fn, name);
  char *copy = own == 1 ? dusk__strdup(name) : NULL;
  if (own < 0 || (own == 1 && !copy))
    return NULL;
  dusk_node *n = node_make(g, fn, udata, nargs, args, 0);
  if (!n) {
    dusk__free(copy);
    return NULL;
  }
  if (copy && dusk__graph_adopt_name(g, n, copy) != 0)
    atomic_fetch_or(&n->flags, DUSK__ANON); /* uthash could not grow */
  return n;
}

dusk_node *dusk__call_new(dusk_graph *g, const char *name, dusk_fn fn,
                          void *udata, int nargs, dusk_node *const *args) {
  if (!name)
    return node_make(g, fn, udata, nargs, args, DUSK__ANON);
  if (tls.last_fn == fn && tls.last_name == name && tls.serial == g->serial)
    return node_make(g, fn, udata, nargs, args, 0); /* named as last time */
  return call_new_named(g, name, fn, udata, nargs, args);
}

size_t dusk__graph_count(dusk_graph *g) {
  size_t count = 0;
  pthread_mutex_lock(&g->lock);
  for (dusk__chunk *c = g->chunks; c; c = c->next)
    count += c->used;
  pthread_mutex_unlock(&g->lock);
  return count;
}

size_t dusk__graph_bound(dusk_graph *g) {
  pthread_mutex_lock(&g->lock);
  size_t bound = (size_t)g->next_id;
  pthread_mutex_unlock(&g->lock);
  return bound;
}

uint64_t dusk__node_id(const dusk_node *n) {
  const dusk__chunk *c = dusk__chunk_of(n);
  return c->first_id + (uint64_t)(n - (const dusk_node *)(c + 1));
}

/* -------------------------------------------------------------- values */

int dusk__node_set_boxed(dusk_node *n, const dusk_value *v) {
  dusk__box *b = dusk__malloc(sizeof *b);
  if (!b)
    return -1;
  *b = (dusk__box){v->ptr, v->size, v->free};
  atomic_store_explicit(&n->kind, (uint8_t)v->kind, memory_order_relaxed);
  n->val.ptr = b;
  atomic_store_explicit(&dusk__graph_of(n)->boxes, true, memory_order_relaxed);
  atomic_fetch_or_explicit(&n->flags, DUSK__BOXED, memory_order_relaxed);
  return 0;
}

/*
** The live count (statistics): a result stored while statistics were on is
** flagged COUNTED and counted in its graph (src/stats.c); whatever takes it
** out of the graph, freed or moved out, takes it out of the count, so the
** count stays exact however statistics are switched meanwhile.
*/
void dusk__node_uncount(dusk_node *n) {
  if (!(atomic_load_explicit(&n->flags, memory_order_relaxed) &
        DUSK__COUNTED) ||
      !(atomic_fetch_and_explicit(&n->flags, (uint16_t)~DUSK__COUNTED,
                                  memory_order_relaxed) &
        DUSK__COUNTED))
    return;
  dusk_graph *g = dusk__graph_of(n);
  atomic_fetch_sub_explicit(&g->live, 1, memory_order_relaxed);
  size_t bytes = dusk__node_value(n).size;
  if (bytes)
    atomic_fetch_sub_explicit(&g->live_bytes, bytes, memory_order_relaxed);
}

void dusk__node_clear_held(dusk_node *n) {
  uint16_t flags = atomic_load_explicit(&n->flags, memory_order_relaxed);
  if (flags & DUSK__COUNTED)
    dusk__node_uncount(n);
  if (flags & DUSK__BOXED) {
    dusk__box *b = n->val.ptr;
    if (b->free && b->ptr)
      b->free(b->ptr);
    dusk__free(b);
    atomic_fetch_and_explicit(&n->flags, (uint16_t)~DUSK__BOXED,
                              memory_order_relaxed);
  }
  atomic_store_explicit(&n->kind, DUSK_NONE, memory_order_relaxed);
  n->val.i64 = 0;
}

/* --------------------------------------------------------------- names */

/*
** Record fn's name (the first name given wins). 0: fn is called `name`;
** 1: fn has another name, so a node needs one of its own; -1: no memory.
** Remembered as this thread's last name, which dusk__call_new() asks first.
*/
static int name_fn(dusk_graph *g, dusk_fn fn, const char *name) {
  pthread_mutex_lock(&g->lock);
  fname *f = NULL;
  HASH_FIND(hh, g->fnames, &fn, sizeof fn, f);
  if (!f) {
    f = dusk__malloc(sizeof *f);
    if (f) {
      f->fn = fn;
      f->name = name;
      dusk__hash_oom = 0;
      HASH_ADD(hh, g->fnames, fn, sizeof fn, f);
      if (dusk__hash_oom) { /* uthash could not grow and left f out */
        dusk__free(f);
        f = NULL;
      }
    }
  }
  pthread_mutex_unlock(&g->lock);
  if (!f)
    return -1;
  if (f->name != name && strcmp(f->name, name) != 0)
    return 1;
  if (tls.serial == g->serial) {
    tls.last_fn = fn;
    tls.last_name = name;
  }
  return 0;
}

int dusk__graph_set_name(dusk_graph *g, dusk_node *n, const char *name) {
  char *copy = dusk__strdup(name);
  if (!copy)
    return -1;
  return dusk__graph_adopt_name(g, n, copy);
}

int dusk__graph_adopt_name(dusk_graph *g, dusk_node *n, char *copy) {
  pthread_mutex_lock(&g->lock);
  nname *e = NULL;
  HASH_FIND_PTR(g->nnames, &n, e);
  if (e) {
    dusk__free(e->name);
    e->name = copy;
  } else if ((e = dusk__malloc(sizeof *e))) {
    e->node = n;
    e->name = copy;
    dusk__hash_oom = 0;
    HASH_ADD_PTR(g->nnames, node, e);
    if (dusk__hash_oom) {
      dusk__free(e);
      e = NULL;
      dusk__free(copy);
    } else {
      atomic_fetch_or(&n->flags, DUSK__NAMED);
    }
  } else {
    dusk__free(copy);
  }
  pthread_mutex_unlock(&g->lock);
  return e ? 0 : -1;
}

const char *dusk__graph_name(dusk_graph *g, const dusk_node *n) {
  uint16_t flags = atomic_load_explicit(&n->flags, memory_order_relaxed);
  if (flags & DUSK__LITERAL)
    if (!(flags & DUSK__NAMED))
      return "literal";
  const char *name = NULL;
  pthread_mutex_lock(&g->lock);
  if (flags & DUSK__NAMED) {
    nname *e = NULL;
    HASH_FIND_PTR(g->nnames, &n, e);
    name = e ? e->name : NULL;
  }
  if (!name && (flags & DUSK__ANON))
    name = "call";
  if (!name) {
    fname *f = NULL;
    dusk_fn fn = n->fn;
    HASH_FIND(hh, g->fnames, &fn, sizeof fn, f);
    name = f ? f->name : "call";
  }
  pthread_mutex_unlock(&g->lock);
  return name;
}

/* ------------------------------------------------------------- freeing */

void dusk__graph_destroy(dusk_graph *g) {
  /* Only boxed values own anything: without any, no node needs a look. */
  bool boxes = atomic_load_explicit(&g->boxes, memory_order_relaxed);
  for (dusk__chunk *c = boxes ? g->chunks : NULL; c; c = c->next) {
    dusk_node *nodes = (dusk_node *)(c + 1);
    for (uint32_t i = 0; i < c->used; i++) /* nodes [0, used) were built */
      if (atomic_load_explicit(&nodes[i].state, memory_order_relaxed) ==
          DUSK__DONE)
        dusk__node_clear_value(&nodes[i]);
  }
  /* Chunks are listed newest first and a slab is carved front to back, so
     a slab's first chunk comes after all its others: give it back then. */
  for (dusk__chunk *c = g->chunks, *next; c; c = next) {
    next = c->next;
    dusk__free(atomic_load_explicit(&c->times, memory_order_relaxed));
    if (!c->in_slab)
      dusk__free(c);
    else if (((uintptr_t)c & (DUSK__SLAB_SIZE - 1)) == 0)
      dusk__slab_put(c);
  }
  for (dusk__block *b = g->blocks, *next; b; b = next) {
    next = b->next;
    if (b->data)
      dusk__free_big(b->data, b->size);
    if (b->size)
      dusk__free(b);
    else
      dusk__slab_put(b);
  }
  fname *f, *ftmp;
  HASH_ITER(hh, g->fnames, f, ftmp) {
    HASH_DEL(g->fnames, f);
    dusk__free(f);
  }
  nname *e, *etmp;
  HASH_ITER(hh, g->nnames, e, etmp) {
    HASH_DEL(g->nnames, e);
    dusk__free(e->name);
    dusk__free(e);
  }
  dusk__graph_free_resources(g);
  dusk__pure_destroy(g);
  for (int i = 0; i < CACHED; i++)
    if (cache[i].serial == g->serial)
      memset(&cache[i], 0, sizeof cache[i]);
  pthread_mutex_destroy(&g->lock);
}

/* ---------------------------------------------------------------- slabs */

/*
** A process-wide cache of free slabs. Returning the memory of a large graph
** to the system only to fault it in again for the next one costs more than
** the work itself (about 4 us a page here), so up to CACHED_SLABS slabs are
** kept for the next graph of any thread.
*/
enum { CACHED_SLABS = 128 };
static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static void *free_slabs[CACHED_SLABS];
static int nfree_slabs;

void *dusk__slab_get(void) {
  void *s = NULL;
  pthread_mutex_lock(&slab_lock);
  if (nfree_slabs > 0)
    s = free_slabs[--nfree_slabs];
  pthread_mutex_unlock(&slab_lock);
  if (s)
    return s;
  s = dusk__aligned(DUSK__SLAB_SIZE, DUSK__SLAB_SIZE);
#ifdef MADV_HUGEPAGE
  if (s)
    madvise(s, DUSK__SLAB_SIZE, MADV_HUGEPAGE);
#endif
  return s;
}

void dusk__slab_put(void *s) {
  pthread_mutex_lock(&slab_lock);
  if (nfree_slabs < CACHED_SLABS) {
    free_slabs[nfree_slabs++] = s;
    s = NULL;
  }
  pthread_mutex_unlock(&slab_lock);
  dusk__free(s);
}
