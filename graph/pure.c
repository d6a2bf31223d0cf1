/*
** Pure calls: the table that makes the same call, made twice, give the same
** node (dask's delayed(..., pure=True)), and the same for literals.
**
** A pure call is known by its function, its udata, and its arguments in
** order. An argument that is a literal counts by its contents, not by the
** node that holds it, so that two literals of 5 made apart still make one
** call: integers and doubles by their bits, a pointer with a known size by
** the bytes behind it, a pointer without one by its address. Any other
** argument counts by its node. Since a pure call is looked up before it is
** built, a chain of pure calls on equal inputs collapses link by link.
** Literals of dusk_literal_pure() are in the same table, known by their
** contents alone (their signature has no function).
**
** The table is uthash keyed by a signature (dusk__sig) whose bytes are not
** its identity (pointers to arguments, literal contents behind pointers),
** so the hash is computed here and given to uthash (the _BYHASHVALUE
** macros), and the comparison is ours (HASH_KEYCMP, defined before uthash
** is included, in this file only).
**
** Locking. The table has a lock of its own, held across the lookup and the
** building of a node that was not found, so that threads making the same
** pure call at once get one node. It cannot be the graph lock: building a
** node takes that one for a new chunk, and naming takes it too. Lock order:
** the pure lock, then the graph lock. Ordinary calls take neither.
**
** A miss adds its entry before the node is built and fills it in after, so
** that running out of memory in the table builds nothing, and a build that
** fails takes the entry out again: the table never names a node that does
** not exist. Nothing compares the entry meanwhile: the lock is held.
*/
#include "graph/graph.h"
#include "src/alloc.h"

#include <stdbool.h>
#include <string.h>

static bool same_sig(const dusk__sig *a, const dusk__sig *b);

#define HASH_KEYCMP(a, b, n)                                                   \
  (same_sig((const dusk__sig *)(a), (const dusk__sig *)(b)) ? 0 : 1)
#include "src/uthash_dusk.h"

typedef struct dusk__pure {
  dusk__sig key; /* the node's own: its argument array, its value */
  dusk_node *node;
  UT_hash_handle hh;
} entry;

_Static_assert(sizeof(dusk_fn) == sizeof(uint64_t) ||
                   sizeof(dusk_fn) == sizeof(uint32_t),
               "a function pointer is hashed as a word");

/* ------------------------------------------------------------- hashing */

static uint64_t mix(uint64_t h, uint64_t x) {
  h = (h ^ x) * 0xff51afd7ed558ccdULL;
  return h ^ (h >> 32);
}

/* A pointer whose bytes count: it has a size, and is not NULL. */
static bool has_bytes(const dusk_value *v) { return v->size && v->ptr; }

static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n) {
  h = mix(h, n);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = mix(h, w);
  }
  uint64_t tail = 0;
  memcpy(&tail, p, n);
  return mix(h, tail);
}

static uint64_t hash_value(uint64_t h, const dusk_value *v) {
  h = mix(h, (uint64_t)v->kind);
  switch (v->kind) {
  case DUSK_I64:
  case DUSK_F64: /* by their bits: the union read as i64 */
    return mix(h, (uint64_t)v->i64);
  case DUSK_PTR:
    return has_bytes(v) ? hash_bytes(h, v->ptr, v->size)
                        : mix(h, (uint64_t)(uintptr_t)v->ptr);
  default:
    return h;
  }
}

static bool is_literal(const dusk_node *n) {
  return atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__LITERAL;
}

static uint64_t hash_sig(const dusk__sig *s) {
  if (!s->fn)
    return hash_value(1, &s->lit);
  uint64_t fn = 0;
  memcpy(&fn, &s->fn, sizeof s->fn);
  uint64_t h =
      mix(mix(mix(2, fn), (uint64_t)(uintptr_t)s->udata), (uint64_t)s->nargs);
  for (int i = 0; i < s->nargs; i++) {
    const dusk_node *a = s->args[i];
    if (is_literal(a)) {
      dusk_value v = dusk__node_value(a);
      h = hash_value(mix(h, 3), &v);
    } else {
      h = mix(mix(h, 4), (uint64_t)(uintptr_t)a);
    }
  }
  return h;
}

/* ---------------------------------------------------------- comparing */

/* The same contents, as hashed: equal values hash alike. */
static bool same_value(const dusk_value *a, const dusk_value *b) {
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case DUSK_I64:
  case DUSK_F64:
    return a->i64 == b->i64;
  case DUSK_PTR:
    if (has_bytes(a) != has_bytes(b) || a->size != b->size)
      return false;
    return a->ptr == b->ptr ||
           (has_bytes(a) && memcmp(a->ptr, b->ptr, a->size) == 0);
  default:
    return true;
  }
}

static bool same_arg(const dusk_node *a, const dusk_node *b) {
  if (a == b)
    return true;
  if (!is_literal(a) || !is_literal(b))
    return false;
  dusk_value va = dusk__node_value(a), vb = dusk__node_value(b);
  return same_value(&va, &vb);
}

static bool same_sig(const dusk__sig *a, const dusk__sig *b) {
  if (a->fn != b->fn)
    return false;
  if (!a->fn)
    return same_value(&a->lit, &b->lit);
  if (a->udata != b->udata || a->nargs != b->nargs)
    return false;
  for (int i = 0; i < a->nargs; i++)
    if (!same_arg(a->args[i], b->args[i]))
      return false;
  return true;
}

/* The signature of a built node, pointing into the node itself. */
static dusk__sig sig_of(const dusk_node *n) {
  if (is_literal(n))
    return (dusk__sig){.lit = dusk__node_value(n)};
  return (dusk__sig){.fn = n->fn,
                     .udata = n->udata,
                     .nargs = n->nargs,
                     .args = n->nargs ? dusk__args(n) : NULL};
}

/* ------------------------------------------------------------- the table */

int dusk__pure_init(dusk_graph *g) {
  g->pure = NULL;
  return pthread_mutex_init(&g->pure_lock, NULL) == 0 ? 0 : -1;
}

void dusk__pure_destroy(dusk_graph *g) {
  entry *e, *tmp;
  HASH_ITER(hh, g->pure, e, tmp) {
    HASH_DEL(g->pure, e);
    dusk__free(e);
  }
  pthread_mutex_destroy(&g->pure_lock);
}

/* With the pure lock held: add s's entry, build its node, fill it in. */
static int add(dusk_graph *g, const dusk__sig *s, unsigned hash,
               dusk__pure_make make, void *ctx, dusk_node **out) {
  entry *e = dusk__malloc(sizeof *e);
  if (!e)
    return -1;
  e->key = *s; /* the caller's, until the node exists */
  e->node = NULL;
  dusk__hash_oom = 0;
  HASH_ADD_KEYPTR_BYHASHVALUE(hh, g->pure, &e->key, sizeof e->key, hash, e);
  if (dusk__hash_oom) { /* uthash could not grow and left e out */
    dusk__free(e);
    return -1;
  }
  dusk_node *n = make(ctx);
  if (!n) {
    HASH_DEL(g->pure, e);
    dusk__free(e);
    *out = NULL;
    return 0;
  }
  e->node = n;
  e->key = sig_of(n); /* the same contents, now pointing into the node */
  *out = n;
  return 0;
}

int dusk__pure_get(dusk_graph *g, const dusk__sig *s, dusk__pure_make make,
                   void *ctx, dusk_node **out) {
  uint64_t h = hash_sig(s);
  unsigned hash = (unsigned)(h ^ (h >> 32));
  pthread_mutex_lock(&g->pure_lock);
  entry *e = NULL;
  HASH_FIND_BYHASHVALUE(hh, g->pure, s, sizeof *s, hash, e);
  int rc = 1;
  if (e)
    *out = e->node;
  else
    rc = add(g, s, hash, make, ctx, out);
  pthread_mutex_unlock(&g->pure_lock);
  return rc;
}
