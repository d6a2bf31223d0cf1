/*
** DOT output: the picture of what some nodes need, in graphviz's language,
** in the look of dask's visualize(): calls as ellipses named after their
** function, literals as boxes showing their value, an arrow from each
** argument to its consumer, and, once something was computed, colours for
** the state of each node.
**
** The walk. Only arguments are recorded, so the part to draw is found by
** walking back from the requested nodes, breadth first. The list of nodes
** found is also the queue (the walk appends to it and reads it in order), so
** there is no stack to overflow however deep the graph: a chain of a million
** calls is a list of a million pointers. Whether a node was found already,
** and where it is in the list, is kept per node number in a table of pages
** that are made as the walk touches them: node numbers are dense, so this
** is an array lookup, and a small picture of a huge graph costs only the
** pages it touches.
**
** Large graphs. graphviz's `dot` lays out a few hundred nodes in about a
** second and ten thousand in half a minute or more, and such a picture is
** unreadable anyway. Above a threshold the picture is collapsed, as dask's
** high-level graphs are: nodes are grouped by their name without a trailing
** number ("load-17" is a "load"), each group is one node with its size and
** its states, and each pair of groups one edge with its multiplicity (uthash
** tables, allocated through the dusk allocator). Should names still make too
** many groups (each node named "x1", "x2", ...), nodes are grouped by their
** function instead. A million nodes collapse to a few kilobytes.
**
** Everything that allocates happens before the first byte is written, so a
** call that runs out of memory writes nothing.
*/
#include "graph/graph.h"
#include "src/alloc.h"
#include "src/core.h"
#include "src/uthash_dusk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum {
  PAGE_BITS = 12,       /* node numbers per page of the index: 4096 */
  PAGE = 1 << PAGE_BITS,
  MAX_GROUPS = 200,     /* more groups by name: group by function   */
  MAX_LABEL = 200,      /* bytes of a name shown before "…"         */
};

/* ------------------------------------------------------------- states */

/* What a picture shows of a call node. */
enum { S_IDLE, S_RUNNING, S_DONE, S_KEPT, S_FAILED, S_NOTRUN, NSTATES };

static const struct {
  const char *text; /* in tooltips, group labels and the legend */
  const char *css;  /* the class, for styling SVG output        */
  const char *fill;
} look[NSTATES] = {
    [S_IDLE] = {"idle", "idle", "white"},
    [S_RUNNING] = {"running", "running", "#fee391"},
    [S_DONE] = {"done", "done", "#c7e9c0"},
    [S_KEPT] = {"kept", "kept", "#74c476"},
    [S_FAILED] = {"failed", "failed", "#fb6a4a"},
    [S_NOTRUN] = {"not run", "not-run", "#fdd0a2"},
};

/* Only the order of the legend and of group labels: the worst state first. */
static const int legend_order[NSTATES] = {S_FAILED, S_NOTRUN, S_RUNNING,
                                          S_KEPT,   S_DONE,   S_IDLE};

#define LITERAL_FILL "#f0f0f0"

/*
** A node's state for the picture. A node that ran and whose result was
** freed is IDLE again, like one that never ran; it is told apart by n->run,
** which a compute sets when it claims the node and never clears (see
** claim() in src/compute.c). Reads plain fields: callers promise that no
** compute runs meanwhile.
*/
static int state_of(const dusk_node *n) {
  switch (atomic_load_explicit(&n->state, memory_order_acquire)) {
  case DUSK__IDLE:
    return n->run ? S_DONE : S_IDLE;
  case DUSK__DONE:
    return atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__KEEP
               ? S_KEPT
               : S_DONE;
  case DUSK__FAILED:
    return n->kind == DUSK__FAIL_OWN ? S_FAILED : S_NOTRUN;
  default: /* CLAIMING, CLAIMED, RUNNING */
    return S_RUNNING;
  }
}

static bool is_literal(const dusk_node *n) {
  return atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__LITERAL;
}

/* --------------------------------------------------------------- walk */

typedef struct walk {
  dusk_graph *g;
  dusk_node **list;  /* the nodes to draw, breadth first from the targets */
  uint32_t *gid;     /* collapsed: the group of list[i]                   */
  size_t n, cap, ntargets;
  uint32_t **pages;  /* node number -> 1 + its index in list; 0: unseen  */
  size_t npages;
  uint64_t nids;     /* node numbers below this exist                    */
  dusk_fn last_fn;   /* the name of the last function looked up          */
  const char *last_name;
} walk;

static void walk_free(walk *w) {
  for (size_t i = 0; i < w->npages; i++)
    dusk__free(w->pages[i]);
  dusk__free(w->pages);
  dusk__free(w->list);
  dusk__free(w->gid);
}

/* Where n's index lives, its page made if needed; NULL when out of memory. */
static uint32_t *slot(walk *w, const dusk_node *n) {
  uint64_t id = dusk__node_id(n);
  assert(id < w->nids);
  uint32_t **page = &w->pages[id >> PAGE_BITS];
  if (!*page && !(*page = dusk__calloc(PAGE, sizeof **page)))
    return NULL;
  return &(*page)[id & (PAGE - 1)];
}

/* The index in list of a node already found. */
static size_t index_of(const walk *w, const dusk_node *n) {
  uint64_t id = dusk__node_id(n);
  return w->pages[id >> PAGE_BITS][id & (PAGE - 1)] - 1;
}

/* Append n to the list unless it is there; -1 when out of memory. */
static int visit(walk *w, dusk_node *n) {
  uint32_t *s = slot(w, n);
  if (!s)
    return -1;
  if (*s)
    return 0;
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 256;
    dusk_node **list = cap < UINT32_MAX
                           ? dusk__realloc(w->list, cap * sizeof *list)
                           : NULL;
    if (!list)
      return -1;
    w->list = list;
    w->cap = cap;
  }
  w->list[w->n++] = n;
  *s = (uint32_t)w->n;
  return 0;
}

/* Find every node that targets[0..count-1] need; -1 when out of memory. */
static int walk_run(walk *w, dusk_node *const *targets, int count) {
  pthread_mutex_lock(&w->g->lock);
  w->nids = w->g->next_id;
  pthread_mutex_unlock(&w->g->lock);
  w->npages = (size_t)((w->nids + PAGE - 1) >> PAGE_BITS);
  w->pages = dusk__calloc(w->npages, sizeof *w->pages);
  if (!w->pages)
    return -1;
  for (int i = 0; i < count; i++)
    if (visit(w, targets[i]) != 0)
      return -1;
  w->ntargets = w->n;
  for (size_t i = 0; i < w->n; i++) { /* w->n grows as arguments are found */
    const dusk_node *n = w->list[i];
    dusk_node *const *args = dusk__args(n);
    for (int a = 0; a < n->nargs; a++)
      if (visit(w, args[a]) != 0)
        return -1;
  }
  return 0;
}

/*
** dusk_name(n), remembering the last function's name: nodes named after
** their function (most of a large graph) then cost no lock.
*/
static const char *name_of(walk *w, const dusk_node *n) {
  uint16_t f = atomic_load_explicit(&n->flags, memory_order_relaxed);
  bool by_fn = !(f & (DUSK__NAMED | DUSK__LITERAL | DUSK__ANON));
  if (by_fn && w->last_name && n->fn == w->last_fn)
    return w->last_name;
  const char *name = dusk__graph_name(w->g, n);
  if (by_fn) {
    w->last_fn = n->fn;
    w->last_name = name;
  }
  return name;
}

/* ------------------------------------------------------------- groups */

/*
** The length of name without its trailing numbers: "-<digits>",
** "#<digits>" or "[<digits>]", repeatedly ("block-3-7" is a "block"), but
** never down to nothing.
*/
static size_t stem_length(const char *name) {
  size_t len = strlen(name);
  for (;;) {
    size_t end = len, k = len;
    bool bracket = end > 0 && name[end - 1] == ']';
    if (bracket)
      k--;
    size_t digits_end = k;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
      k--;
    if (k == digits_end || k < 2)
      return len;
    char sep = name[k - 1];
    if (bracket ? sep != '[' : sep != '-' && sep != '#')
      return len;
    len = k - 1;
  }
}

typedef struct group {
  UT_hash_handle hh;
  char *key;          /* what its members share (see group_key)          */
  size_t keylen;
  char *label;        /* the common start of its members' stems          */
  size_t labellen;
  bool cut;           /* some member's stem is longer than the label     */
  bool literal;
  bool target;        /* holds a requested node                          */
  uint64_t count;
  uint64_t states[NSTATES];
} group;

typedef struct edge {
  UT_hash_handle hh;
  uint64_t key;       /* from << 32 | to, group indexes                  */
  uint64_t count;
} edge;

typedef struct groups {
  group *table;       /* by key (uthash); iterates in order made         */
  group **at;         /* by index                                        */
  size_t n, cap;
  edge *edges;        /* by key (uthash); iterates in order made         */
  char *buf;          /* the key being looked up                         */
  size_t bufcap;
} groups;

static void groups_free(groups *gs) {
  group *gr, *gtmp;
  HASH_ITER(hh, gs->table, gr, gtmp) {
    HASH_DEL(gs->table, gr);
    if (gr->label != gr->key + 1)
      dusk__free(gr->label);
    dusk__free(gr->key);
    dusk__free(gr);
  }
  edge *e, *etmp;
  HASH_ITER(hh, gs->edges, e, etmp) {
    HASH_DEL(gs->edges, e);
    dusk__free(e);
  }
  dusk__free(gs->at);
  dusk__free(gs->buf);
  memset(gs, 0, sizeof *gs);
}

static int reserve(groups *gs, size_t n) {
  if (n <= gs->bufcap)
    return 0;
  char *b = dusk__realloc(gs->buf, n);
  if (!b)
    return -1;
  gs->buf = b;
  gs->bufcap = n;
  return 0;
}

/*
** The key of n's group into gs->buf; its length, or 0 when out of memory.
** By name: 'L' or 'C' (literal or call), then the stem. By function: 'L'
** and the value's kind, or 'C' and the function pointer.
*/
static size_t group_key(groups *gs, const dusk_node *n, const char *stem,
                        size_t stemlen, bool by_fn) {
  bool lit = is_literal(n);
  size_t len = 1 + (by_fn ? sizeof n->fn : stemlen);
  if (reserve(gs, len) != 0)
    return 0;
  gs->buf[0] = lit ? 'L' : 'C';
  if (!by_fn)
    memcpy(gs->buf + 1, stem, stemlen);
  else if (lit)
    memset(gs->buf + 1, n->kind, sizeof n->fn);
  else
    memcpy(gs->buf + 1, &n->fn, sizeof n->fn);
  return len;
}

static group *group_new(groups *gs, size_t keylen, const dusk_node *n,
                        const char *stem, size_t stemlen, bool by_fn) {
  group *gr = dusk__calloc(1, sizeof *gr);
  char *key = dusk__malloc(keylen);
  char *label = by_fn ? dusk__malloc(stemlen + 1) : key + 1;
  group **at = gs->n < gs->cap ? gs->at
                               : dusk__realloc(gs->at, (2 * gs->cap + 16) *
                                                           sizeof *gs->at);
  if (at && at != gs->at) {
    gs->at = at;
    gs->cap = 2 * gs->cap + 16;
  }
  if (!gr || !key || !label || !at) {
    dusk__free(gr);
    dusk__free(key);
    if (label != key + 1)
      dusk__free(label);
    return NULL;
  }
  memcpy(key, gs->buf, keylen);
  if (by_fn)
    memcpy(label, stem, stemlen);
  gr->key = key;
  gr->keylen = keylen;
  gr->label = label;
  gr->labellen = stemlen;
  gr->literal = is_literal(n);
  dusk__hash_oom = 0;
  HASH_ADD_KEYPTR(hh, gs->table, gr->key, gr->keylen, gr);
  if (dusk__hash_oom) {
    if (label != key + 1)
      dusk__free(label);
    dusk__free(key);
    dusk__free(gr);
    return NULL;
  }
  gs->at[gs->n++] = gr;
  return gr;
}

/* Shorten gr's label to what it shares with stem, at a character's start. */
static void share_label(group *gr, const char *stem, size_t stemlen) {
  size_t k = 0;
  while (k < gr->labellen && k < stemlen && gr->label[k] == stem[k])
    k++;
  if (k == gr->labellen && k == stemlen)
    return;
  while (k > 0 && ((unsigned char)gr->label[k] & 0xC0) == 0x80)
    k--; /* not inside a UTF-8 sequence */
  gr->labellen = k;
  gr->cut = true;
}

enum { GROUPED, TOO_MANY, NOMEM };

/* Give each node of the walk a group; by name, or by function. */
static int assign(walk *w, groups *gs, bool by_fn) {
  w->gid = w->gid ? w->gid : dusk__malloc(w->n * sizeof *w->gid);
  if (!w->gid)
    return NOMEM;
  group *last = NULL;
  for (size_t i = 0; i < w->n; i++) {
    const dusk_node *n = w->list[i];
    const char *name = name_of(w, n);
    size_t stemlen = stem_length(name);
    size_t keylen = group_key(gs, n, name, stemlen, by_fn);
    if (!keylen)
      return NOMEM;
    group *gr = last;
    if (!gr || gr->keylen != keylen || memcmp(gr->key, gs->buf, keylen)) {
      HASH_FIND(hh, gs->table, gs->buf, keylen, gr);
      if (!gr && gs->n == MAX_GROUPS && !by_fn)
        return TOO_MANY;
      if (!gr && !(gr = group_new(gs, keylen, n, name, stemlen, by_fn)))
        return NOMEM;
    }
    if (by_fn)
      share_label(gr, name, stemlen);
    last = gr;
    w->gid[i] = (uint32_t)(gr - gr + (HASH_COUNT(gs->table), 0)); /* set below */
    gr->count++;
    gr->target |= i < w->ntargets;
    if (!gr->literal)
      gr->states[state_of(n)]++;
  }
  return GROUPED;
}
