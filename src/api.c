/*
** The public entry points for graphs, nodes and pools: argument checks,
** ownership of values handed in, and the default pool.
*/
#include "src/core.h"
#include "src/alloc.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_THREADS = 1024 };

/* ------------------------------------------------------------- graphs */

dusk_graph *dusk_graph_new(void) {
  dusk_graph *g = dusk__malloc(sizeof *g);
  if (!g || dusk__graph_init(g) != 0) {
    dusk__free(g);
    dusk__set_error(DUSK_ENOMEM, "graph_new: out of memory");
    return NULL;
  }
  return g;
}

void dusk_graph_free(dusk_graph *g) {
  if (!g)
    return;
  /* A started compute (a future) may still be finishing, or settling after
     its last node was seen done: wait for it to let go of g. */
  for (int spins = 0; atomic_load(&g->active) > 0; spins++)
    if (spins < 100)
      sched_yield();
    else
      usleep(1000); /* a long-running future: do not burn a core */
  dusk__free_records(g);
  dusk__graph_destroy(g);
  dusk__free(g);
}

size_t dusk_graph_size(const dusk_graph *g) {
  return g ? dusk__graph_count((dusk_graph *)g) : 0;
}

/* A value fit for a literal of g; if not, it is released (it was handed
   to us) and the error set. */
static inline bool check_literal(const char *who, dusk_graph *g, dusk_value v) {
  if (g && v.kind >= DUSK_NONE && v.kind <= DUSK_PTR)
    return true;
  dusk__set_error(DUSK_EINVAL,
                  g ? "%s: unknown value kind %d"
                    : "%s: the graph is NULL (kind %d)",
                  who, (int)v.kind);
  if (v.free && v.ptr) /* whatever its kind: it was handed to us */
    v.free(v.ptr);
  return false;
}

/* The literal of a checked value; on failure v is released. */
static inline dusk_node *build_literal(const char *who, dusk_graph *g,
                                       dusk_value v) {
  dusk_node *n = dusk__node_new(g, NULL, NULL, 0, NULL, DUSK__LITERAL);
  if (!n || dusk__node_set_value(n, &v) != 0) {
    dusk_value_clear(&v);
    dusk__set_error(DUSK_ENOMEM, "%s: out of memory", who);
    return NULL; /* a node made before the failure stays unused in g */
  }
  atomic_store_explicit(&n->state, DUSK__DONE, memory_order_release);
  return n;
}

dusk_node *dusk_literal(dusk_graph *g, dusk_value v) {
  return check_literal("literal", g, v) ? build_literal("literal", g, v)
                                        : NULL;
}

static inline bool check_call(const char *who, dusk_graph *g, dusk_fn fn,
                              int nargs, dusk_node *const *args) {
  if (!g)
    return dusk__set_error(DUSK_EINVAL, "%s: the graph is NULL", who), false;
  if (!fn)
    return dusk__set_error(DUSK_EINVAL, "%s: the function is NULL", who),
           false;
  if (nargs < 0 || (nargs > 0 && !args))
    return dusk__set_error(DUSK_EINVAL, "%s: %d arguments at %p", who, nargs,
                           (const void *)args),
           false;
  for (int i = 0; i < nargs; i++) {
    if (!args[i])
      return dusk__set_error(DUSK_EINVAL, "%s: argument %d is NULL", who, i),
             false;
    if (dusk__graph_of(args[i]) != g)
      return dusk__set_error(DUSK_EINVAL,
                             "%s: argument %d is a node of another graph",
                             who, i),
             false;
  }
  return true;
}

/* The call, its arguments checked; NULL (DUSK_ENOMEM) builds nothing. */
static inline dusk_node *build_call(const char *who, dusk_graph *g,
                                    const char *name, dusk_fn fn, void *udata,
                                    int nargs, dusk_node *const *args) {
  dusk_node *n = dusk__call_new(g, name, fn, udata, nargs, args);
  if (!n)
    dusk__set_error(DUSK_ENOMEM, "%s: out of memory", who);
  return n;
}

dusk_node *dusk_call_named(dusk_graph *g, const char *name, dusk_fn fn,
                           void *udata, int nargs, dusk_node *const *args) {
  if (!check_call("call", g, fn, nargs, args))
    return NULL;
  return build_call("call", g, name, fn, udata, nargs, args);
}

dusk_node *dusk_call(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                     dusk_node *const *args) {
  return dusk_call_named(g, NULL, fn, udata, nargs, args);
}

/* ------------------------------------------------- pure calls, literals */

/* What builds a pure node that was not found (graph/pure.c calls it). */
typedef struct pure_ctx {
  dusk_graph *g;
  const char *name;
  const dusk__sig *sig;
} pure_ctx;

static dusk_node *make_call(void *ctx) {
  const pure_ctx *c = ctx;
  const dusk__sig *s = c->sig;
  return build_call("call_pure", c->g, c->name, s->fn, s->udata, s->nargs,
                    s->args);
}

dusk_node *dusk_call_pure_named(dusk_graph *g, const char *name, dusk_fn fn,
                                void *udata, int nargs,
                                dusk_node *const *args) {
  if (!check_call("call_pure", g, fn, nargs, args))
    return NULL;
  dusk__sig s = {.fn = fn, .udata = udata, .nargs = nargs, .args = args};
  pure_ctx c = {.g = g, .name = name, .sig = &s};
  dusk_node *n = NULL;
  if (dusk__pure_get(g, &s, make_call, &c, &n) < 0)
    dusk__set_error(DUSK_ENOMEM, "call_pure: out of memory");
  return n;
}

dusk_node *dusk_call_pure(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                          dusk_node *const *args) {
  return dusk_call_pure_named(g, NULL, fn, udata, nargs, args);
}

static dusk_node *make_literal(void *ctx) {
  const pure_ctx *c = ctx;
  return build_literal("literal_pure", c->g, c->sig->lit);
}

/*
** v has the contents of n, a literal found: release v, but not the very
** pointer n holds. If n holds it without a free function and v has one, v
** gets a node of its own, so that its free is still called once.
*/
static dusk_node *settle_literal(dusk_graph *g, dusk_node *n, dusk_value v) {
  dusk_value have = dusk__node_value(n);
  if (v.kind != DUSK_PTR || !v.ptr || v.ptr != have.ptr) {
    dusk_value_clear(&v);
    return n;
  }
  if (v.free && !have.free)
    return build_literal("literal_pure", g, v);
  return n;
}

dusk_node *dusk_literal_pure(dusk_graph *g, dusk_value v) {
  if (!check_literal("literal_pure", g, v))
    return NULL;
  dusk__sig s = {.lit = v};
  pure_ctx c = {.g = g, .sig = &s};
  dusk_node *n = NULL;
  int found = dusk__pure_get(g, &s, make_literal, &c, &n);
  if (found < 0) {
    dusk_value_clear(&v);
    dusk__set_error(DUSK_ENOMEM, "literal_pure: out of memory");
    return NULL;
  }
  return found ? settle_literal(g, n, v) : n; /* build_literal took v */
}

void dusk_set_name(dusk_node *n, const char *fmt, ...) {
  if (!n || !fmt)
    return;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0)
    return;
  char *s = dusk__malloc((size_t)len + 1);
  if (!s)
    return;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)len + 1, fmt, ap);
  va_end(ap);
  dusk__graph_adopt_name(dusk__graph_of(n), n, s); /* takes s */
}

const char *dusk_name(const dusk_node *n) {
  return n ? dusk__graph_name(dusk__graph_of(n), n) : NULL;
}

uint64_t dusk_node_id(const dusk_node *n) { return n ? dusk__node_id(n) : 0; }

dusk_graph *dusk_node_graph(const dusk_node *n) {
  return n ? dusk__graph_of(n) : NULL;
}

/* -------------------------------------------------------------- pools */

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* The size of the default pool: DUSK_NUM_THREADS, else the cores. */
static int default_size(void) {
  const char *env = getenv("DUSK_NUM_THREADS");
  if (!env || !*env)
    return cores();
  char *end = NULL;
  errno = 0;
  long n = strtol(env, &end, 10);
  if (errno || *end || n < 1 || n > MAX_THREADS) {
    fprintf(stderr,
            "dusk: DUSK_NUM_THREADS=\"%s\" is not a whole number from 1 to "
            "%d; using %d threads (the cores)\n",
            env, MAX_THREADS, cores());
    return cores();
  }
  return (int)n;
}

static pthread_once_t fences_once = PTHREAD_ONCE_INIT;

/* Once per process, before the first pool: fences and diagnostics. */
static void init_once(void) {
  dusk__fences_init();
  dusk__diag_init();
}

dusk_pool *dusk_pool_new(int nthreads) {
  pthread_once(&fences_once, init_once);
  if (nthreads < 0 || nthreads > MAX_THREADS) {
    dusk__set_error(DUSK_EINVAL, "pool_new: %d threads (0 to %d)", nthreads,
                    MAX_THREADS);
    return NULL;
  }
  int err = 0;
  dusk_pool *p = dusk__pool_new(nthreads ? nthreads : default_size(),
                                dusk__exec, &err);
  if (!p)
    dusk__set_error(err, "pool_new: %s", dusk_strerror(err));
  return p;
}

void dusk_pool_free(dusk_pool *p) { dusk__pool_free(p); }

int dusk_pool_size(const dusk_pool *p) { return p ? dusk__pool_size(p) : 0; }

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(dusk_pool *) default_pool;

/* Made on first use; if that fails (no memory, no threads), the next use
   tries again. */
dusk_pool *dusk_default_pool(void) {
  dusk_pool *p = atomic_load(&default_pool);
  if (p)
    return p;
  pthread_once(&fences_once, init_once);
  pthread_mutex_lock(&default_lock);
  int err = 0;
  if (!(p = atomic_load(&default_pool))) {
    p = dusk__pool_new(default_size(), dusk__exec, &err);
    atomic_store(&default_pool, p);
  }
  pthread_mutex_unlock(&default_lock);
  if (!p)
    dusk__set_error(err ? err : DUSK_ENOMEM, "default pool: %s",
                    dusk_strerror(err ? err : DUSK_ENOMEM));
  return p;
}

void dusk_graph_set_pool(dusk_graph *g, dusk_pool *p) {
  if (g)
    g->pool = p;
}

dusk__pool *dusk__graph_pool(dusk_graph *g) {
  return g->pool ? g->pool : dusk_default_pool();
}
