/*
** What graph/ offers the rest of dusk: node storage owned by a graph, the
** argument edges recorded when a call is built, and names.
**
** A node is 64 bytes, one cache line. Nodes live in 16 KiB chunks aligned to
** their size, so the chunk, and with it the graph and the node's number, is
** found from the node's address by masking: no back pointers. Argument arrays
** live in a per-graph arena; a call with one argument keeps it inline.
** Building is lock-free in the common case: each thread carves nodes from a
** chunk it took for itself (a thread-local cache), and takes the graph lock
** only for a new chunk.
**
** The dependents of a node (who consumes it) are not recorded here: a compute
** derives them for the part of the graph it needs (see src/compute.c), so
** building stays cheap and several threads can build at once without locks.
**
** Pure calls and literals (graph/pure.c) are found again by a table of their
** own, under a lock of their own; ordinary building never touches either.
*/
#ifndef DUSK_GRAPH_GRAPH_H
#define DUSK_GRAPH_GRAPH_H

#include "dusk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The life of a node (node.state). */
enum {
  DUSK__IDLE,    /* no result, not claimed by a compute                  */
  DUSK__CLAIMED, /* claimed by a compute: waiting for its arguments      */
  DUSK__RUNNING, /* its task runs                                         */
  DUSK__DONE,    /* has a result (literals are always DONE)              */
  DUSK__FAILED,  /* failed or not run; an error record says why          */
};

/* node.flags */
enum {
  DUSK__LITERAL = 1u << 0, /* a literal: fn is NULL, value owned by the graph */
  DUSK__BOXED = 1u << 1,   /* the value is a dusk__box (ptr with size/free)   */
  DUSK__KEEP = 1u << 2,    /* a compute asked for it: holds one ref            */
  DUSK__NAMED = 1u << 3,   /* has a name of its own in the graph's name table  */
  DUSK__WAITERS = 1u << 4, /* has waiters in the graph's waiter table          */
  DUSK__ANON = 1u << 7,    /* built by dusk_call(): named "call"                */
  DUSK__CANCELLED = 1u << 5, /* dusk_cancel() was called                       */
  DUSK__SHARED = 1u << 8,  /* a target of more than one compute (compute.c)    */
  DUSK__NOT_RUN = 1u << 10, /* failed only because a compute stopped before
                               it or a node upstream could run: no answer,
                               a wait or compute runs it (compute.c)       */
  DUSK__LIMITED = 1u << 11, /* tagged with a resource class (resource.c)    */
  DUSK__COUNTED = 1u << 14, /* its result is in the graph's live count (stats) */
};

/* A pointer value with a size or a free function, kept out of the node. */
typedef struct dusk__box {
  void *ptr;
  size_t size;
  void (*free)(void *);
} dusk__box;

struct dusk__run;

struct dusk_node {
  dusk_fn fn;           /* NULL for a literal                              */
  void *udata;          /* given to the task                               */
  union {               /* the arguments: inline when there is one         */
    dusk_node **argv;
    dusk_node *arg1;
  };
  uintptr_t deps;       /* the dependents in the claiming compute (tagged)  */
  union {               /* the result (a dusk__box * when BOXED)           */
    int64_t i64;
    double f64;
    void *ptr;
  } val;
  _Atomic(struct dusk__run *) run; /* the compute that claimed it (relaxed:
                                      read by others only to compare)      */
  int32_t nargs;
  atomic_int pending;    /* arguments not yet done, plus a bias while set up */
  atomic_int refs;       /* consumers still to read the result, plus a keep */
  _Atomic uint8_t state;
  _Atomic uint8_t kind;  /* dusk_kind of the result (relaxed)              */
  _Atomic uint16_t flags;
};

_Static_assert(sizeof(struct dusk_node) == 64, "a node is one cache line");

#define DUSK__CHUNK_SIZE 16384
#define DUSK__CHUNK_NODES (DUSK__CHUNK_SIZE / 64 - 1)
#define DUSK__SLAB_SIZE (2u << 20)

/* 2 MiB, aligned to 2 MiB, from a process-wide cache; NULL when out of memory. */
void *dusk__slab_get(void);
void dusk__slab_put(void *slab);

/*
** When a task last ran while statistics or a trace were on: its start
** (CLOCK_MONOTONIC ns; 0: never), how long it took, and the trace's number
** of the thread that ran it. Written by that thread before the node
** finishes, so whoever sees the node finished may read it.
*/
typedef struct dusk__timing {
  int64_t start;
  float seconds;
  int32_t tid;
} dusk__timing;

/* The first cache line of a chunk; nodes follow. */
typedef struct dusk__chunk {
  dusk_graph *graph;
  uint64_t first_id;
  struct dusk__chunk *next;
  uint32_t used;         /* nodes handed out, for freeing                   */
  uint32_t in_slab;      /* carved from a slab, not allocated alone        */
  /* The timings of its nodes, made when the first one is timed (the side
     table of src/stats.c: nodes have no room for it), or NULL. */
  _Atomic(dusk__timing *) times;
  char pad[64 - 40];
} dusk__chunk;

_Static_assert(sizeof(dusk__chunk) == 64, "a chunk header is one cache line");

/* A block of the argument arena. */
typedef struct dusk__block {
  struct dusk__block *next;
  size_t size; /* 0: a slab */
  void *data;  /* a large array allocated apart, or NULL */
} dusk__block;

struct dusk_graph {
  pthread_mutex_t lock;   /* guards everything below that is not atomic   */
  uint64_t serial;        /* unique per graph in this process              */
  dusk__chunk *chunks;    /* every chunk, newest first                     */
  dusk__block *blocks;    /* every arena block                             */
  uint64_t next_id;
  int nsmall;             /* chunks allocated alone                        */
  atomic_int nblocks;     /* shared argument blocks (a hint: any thread)   */
  atomic_bool boxes;      /* a value was ever boxed (owns memory)          */
  atomic_int active;      /* computes not yet settled (futures included)  */
  atomic_int setting_up;  /* computes still claiming and wiring (compute.c) */
  char *slab_cur, *slab_end; /* the slab chunks are carved from           */
  struct dusk__fname *fnames;  /* fn -> name for dusk_call_named (uthash) */
  struct dusk__nname *nnames;  /* node -> name of its own (uthash)         */
  struct dusk__err *errors;    /* node -> error record (uthash)             */
  struct dusk__wlist *waiters; /* node -> list of waiters (uthash)         */
  struct dusk__rtag *rtags;    /* node -> resource class (uthash)          */
  struct dusk__rname *rnames;  /* the class names used, one copy each      */
  _Atomic(const char *) rone;  /* the only class name used, while there is
                                  one (resource.c); NULL otherwise        */
  atomic_int nrnames;          /* how many: 0, 1 or more                  */
  dusk_pool *pool;        /* NULL: the default pool                        */
  pthread_mutex_t pure_lock;  /* guards pure; taken before lock            */
  struct dusk__pure *pure;    /* pure calls and literals (graph/pure.c)    */
  /* Statistics (src/stats.c): the results stored while they were on and
     not freed since (nodes flagged COUNTED), and the last compute's. */
  atomic_size_t live, live_bytes;
  bool has_stats;         /* under lock, with stats                        */
  dusk_stats stats;
};

/* The compute that claimed n (or last claimed it). */
static inline struct dusk__run *dusk__run_of(const dusk_node *n) {
  return atomic_load_explicit(&((dusk_node *)n)->run, memory_order_relaxed);
}

static inline dusk__chunk *dusk__chunk_of(const dusk_node *n) {
  return (dusk__chunk *)((uintptr_t)n & ~(uintptr_t)(DUSK__CHUNK_SIZE - 1));
}

static inline dusk_graph *dusk__graph_of(const dusk_node *n) {
  return dusk__chunk_of(n)->graph;
}

static inline dusk_node *const *dusk__args(const dusk_node *n) {
  return n->nargs == 1 ? &n->arg1 : n->argv;
}

/* 0, or -1 when out of memory. */
int dusk__graph_init(dusk_graph *g);

/* Free the nodes' results, the storage and the tables (not g itself). */
void dusk__graph_destroy(dusk_graph *g);

/*
** A new node with its argument array copied in, zeroed but for fn, udata,
** nargs, args and flags. NULL when out of memory. Any thread.
*/
dusk_node *dusk__node_new(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                          dusk_node *const *args, uint16_t flags);

/*
** A call node: dusk__node_new() for fn, named `name` (NULL: anonymous,
** "call"). The name is not copied unless fn is known by another one (then
** the node gets a name of its own). NULL when out of memory: nothing is
** built. Any thread.
*/
dusk_node *dusk__call_new(dusk_graph *g, const char *name, dusk_fn fn,
                          void *udata, int nargs, dusk_node *const *args);

/* The number of nodes built (a walk over the chunks). */
size_t dusk__graph_count(dusk_graph *g);

/* At least the number of nodes built, at once: the slots of the chunks
   handed out. */
size_t dusk__graph_bound(dusk_graph *g);

/* The node's number. */
uint64_t dusk__node_id(const dusk_node *n);

/* Give n the name `copy` (taken, also on failure); -1 when out of memory. */
int dusk__graph_adopt_name(dusk_graph *g, dusk_node *n, char *copy);

/* Give n a name of its own (copied); -1 when out of memory. */
int dusk__graph_set_name(dusk_graph *g, dusk_node *n, const char *name);

/* The node's name; never NULL. */
const char *dusk__graph_name(dusk_graph *g, const dusk_node *n);

/*
** Tag n with the resource class `name` (copied once per graph; NULL: none).
** 0, or -1 when out of memory (n keeps its old class). Any thread.
*/
int dusk__graph_set_resource(dusk_graph *g, dusk_node *n, const char *name);

/* n's resource class, or NULL; the string lives as long as g. */
const char *dusk__graph_resource(dusk_graph *g, const dusk_node *n);

/* Free the resource tables (with the graph). */
void dusk__graph_free_resources(dusk_graph *g);

/* Whether a wait takes n's failure (n is FAILED) as its answer: a failure
   of its own, upstream or a cancel is one; not running because a compute
   stopped for a failure elsewhere (NOT_RUN) is not, and the wait runs n.
   A node that ends cancelled never has NOT_RUN (a claim clears it). The
   CANCELLED flag is not asked: a dusk_cancel() that finds the node
   finished sets it for a moment before it takes it back (cancel.c). */
static inline bool dusk__failure_answers(const dusk_node *n) {
  uint16_t f = atomic_load_explicit(&n->flags, memory_order_relaxed);
  return !(f & DUSK__NOT_RUN);
}

/* Write the node's value into *v (borrowed), field by field: a task's
   arguments are filled so, once per argument, and a whole dusk_value built
   apart and copied in would be read back from the stack before its parts
   were written out (a stalled store forward on every argument). */
static inline void dusk__node_value_to(const dusk_node *n, dusk_value *v) {
  v->kind =
      (dusk_kind)atomic_load_explicit(&n->kind, memory_order_relaxed);
  if (atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__BOXED) {
    const dusk__box *b = (const dusk__box *)n->val.ptr;
    v->ptr = b->ptr;
    v->size = b->size;
    v->free = b->free;
  } else {
    v->i64 = n->val.i64;
    v->size = 0;
    v->free = NULL;
  }
}

/* The node's value as a dusk_value (borrowed). */
static inline dusk_value dusk__node_value(const dusk_node *n) {
  dusk_value v;
  dusk__node_value_to(n, &v);
  return v;
}

/* The slow halves of the two below: a boxed value (graph.c). */
int dusk__node_set_boxed(dusk_node *n, const dusk_value *v);
void dusk__node_clear_held(dusk_node *n);

/* Store *v as n's value; -1 when out of memory (v is then not stored).
   Inline: it runs once per task, and a plain value is two stores. By
   pointer, and read field by field: a task has just written *v, and a
   copy would read it back in wider pieces than were stored (a stall). */
static inline int dusk__node_set_value(dusk_node *n, const dusk_value *v) {
  if (v->kind == DUSK_PTR && (v->size || v->free))
    return dusk__node_set_boxed(n, v);
  atomic_store_explicit(&n->kind, (uint8_t)v->kind, memory_order_relaxed);
  n->val.i64 = v->kind == DUSK_NONE ? 0 : v->i64;
  return 0;
}

/* Release n's value (calling its free) and make it DUSK_NONE. */
static inline void dusk__node_clear_value(dusk_node *n) {
  if (atomic_load_explicit(&n->flags, memory_order_relaxed) &
      (DUSK__COUNTED | DUSK__BOXED)) {
    dusk__node_clear_held(n);
    return;
  }
  atomic_store_explicit(&n->kind, DUSK_NONE, memory_order_relaxed);
  n->val.i64 = 0;
}

/* ---- pure calls and literals (graph/pure.c) ---- */

/*
** What a pure node is known by: a call's function, udata and arguments in
** order (fn not NULL), or a literal's value (fn NULL). Borrowed pointers.
*/
typedef struct dusk__sig {
  dusk_fn fn;
  void *udata;
  int nargs;
  dusk_node *const *args;
  dusk_value lit;
} dusk__sig;

/* Builds the node of a signature not found; NULL when it cannot. */
typedef dusk_node *(*dusk__pure_make)(void *ctx);

/* Set up and tear down g's pure table and its lock: 0, or -1. */
int dusk__pure_init(dusk_graph *g);
void dusk__pure_destroy(dusk_graph *g);

/*
** The node of g known by s: the one found (returns 1), or else the one
** make(ctx) builds, which is remembered (returns 0; *out is NULL when make
** failed, and then nothing is remembered). -1 when the table is out of
** memory: make was not called and nothing changed. Any thread: the pure
** lock is held throughout, so make must not make pure nodes of g itself.
*/
int dusk__pure_get(dusk_graph *g, const dusk__sig *s, dusk__pure_make make,
                   void *ctx, dusk_node **out);
/* n's result leaves the graph: take it out of the live count, if in it. */
void dusk__node_uncount(dusk_node *n);

/* The timing of n, or NULL when none of its chunk's nodes was timed. */
static inline dusk__timing *dusk__node_timing(const dusk_node *n) {
  dusk__chunk *c = dusk__chunk_of(n);
  dusk__timing *t = atomic_load_explicit(&c->times, memory_order_acquire);
  return t ? &t[n - (const dusk_node *)(c + 1)] : NULL;
}

#endif
