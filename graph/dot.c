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
** Durations. Asked for, a call that ran while statistics or a trace were
** on shows how long its task took, read from the side table of task
** timings (graph.h, filled by src/stats.c); a group shows the total and
** the mean of its members that have one.
**
** Everything that allocates happens before the first byte is written, so a
** call that runs out of memory writes nothing.
*/
#include "graph/graph.h"
#include "src/alloc.h"
#include "src/core.h"
#include "src/uthash_dusk.h"

#include <assert.h>
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

/* The order of the states in the legend and in group labels: worst first. */
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
    return atomic_load_explicit(&n->run, memory_order_relaxed) ? S_DONE
                                                               : S_IDLE;
  case DUSK__DONE:
    return atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__KEEP
               ? S_KEPT
               : S_DONE;
  case DUSK__FAILED:
    return atomic_load_explicit(&n->kind, memory_order_relaxed) == DUSK__FAIL_OWN ? S_FAILED
                                                                  : S_NOTRUN;
  default: /* CLAIMING, CLAIMED, RUNNING */
    return S_RUNNING;
  }
}

static bool is_literal(const dusk_node *n) {
  return atomic_load_explicit(&n->flags, memory_order_relaxed) & DUSK__LITERAL;
}

/*
** How long n's task took when it last ran timed, in seconds; negative when
** it has no duration to show: not a call that ran (state s), or not timed.
*/
static double duration_of(const dusk_node *n, int s) {
  if (s != S_DONE && s != S_KEPT && s != S_FAILED)
    return -1;
  const dusk__timing *t = dusk__node_timing(n);
  return t && t->start ? (double)t->seconds : -1;
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
  bool durations;    /* show how long tasks took                         */
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
  size_t npages = (size_t)((w->nids + PAGE - 1) >> PAGE_BITS);
  if (!(w->pages = dusk__calloc(npages, sizeof *w->pages)))
    return -1;
  w->npages = npages;
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
    bool bracket = len > 0 && name[len - 1] == ']';
    size_t digits_end = len - bracket, k = digits_end;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
      k--;
    if (k == digits_end || k < 2) /* no digits, or nothing before them */
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
  uint32_t index;     /* in groups.at                                    */
  bool cut;           /* some member's stem is longer than the label     */
  bool literal;
  bool target;        /* holds a requested node                          */
  uint64_t count;
  uint64_t states[NSTATES];
  uint64_t timed;     /* members with a duration, and its total          */
  double seconds;
} group;

typedef struct edge {
  UT_hash_handle hh;
  uint64_t key;       /* from << 32 | to, group indexes                  */
  uint64_t count;
} edge;

typedef struct groups {
  group *table;       /* by key (uthash)                                 */
  group **at;         /* by index, in the order made                     */
  size_t n, cap;
  edge *edges;        /* by key (uthash); iterates in the order made     */
  char *buf;          /* the key being looked up                         */
  size_t bufcap;
} groups;

static void group_free(group *gr) {
  if (gr->label != gr->key + 1)
    dusk__free(gr->label);
  dusk__free(gr->key);
  dusk__free(gr);
}

static void groups_free(groups *gs) {
  HASH_CLEAR(hh, gs->table);
  for (size_t i = 0; i < gs->n; i++)
    group_free(gs->at[i]);
  edge *e, *tmp;
  HASH_ITER(hh, gs->edges, e, tmp) {
    HASH_DEL(gs->edges, e);
    dusk__free(e);
  }
  dusk__free(gs->at);
  dusk__free(gs->buf);
  memset(gs, 0, sizeof *gs);
}

/*
** The key of n's group, into gs->buf; its length, or 0 when out of memory.
** By name: 'L' or 'C' (literal or call), then the stem. By function: 'L'
** and the value's kind, or 'C' and the function pointer.
*/
static size_t group_key(groups *gs, const dusk_node *n, const char *stem,
                        size_t stemlen, bool by_fn) {
  bool lit = is_literal(n);
  size_t len = 1 + (by_fn ? sizeof n->fn : stemlen);
  if (len > gs->bufcap) {
    char *b = dusk__realloc(gs->buf, len);
    if (!b)
      return 0;
    gs->buf = b;
    gs->bufcap = len;
  }
  gs->buf[0] = lit ? 'L' : 'C';
  if (!by_fn)
    memcpy(gs->buf + 1, stem, stemlen);
  else if (lit)
    memset(gs->buf + 1, atomic_load_explicit(&n->kind, memory_order_relaxed), sizeof n->fn);
  else
    memcpy(gs->buf + 1, &n->fn, sizeof n->fn);
  return len;
}

/* A new group for the key in gs->buf, whose first member is n. */
static group *group_new(groups *gs, size_t keylen, const dusk_node *n,
                        const char *stem, size_t stemlen, bool by_fn) {
  if (gs->n == gs->cap) {
    size_t cap = 2 * gs->cap + 16;
    group **at = dusk__realloc(gs->at, cap * sizeof *at);
    if (!at)
      return NULL;
    gs->at = at;
    gs->cap = cap;
  }
  group *gr = dusk__calloc(1, sizeof *gr);
  if (!gr || !(gr->key = dusk__malloc(keylen))) {
    dusk__free(gr);
    return NULL;
  }
  memcpy(gr->key, gs->buf, keylen);
  gr->keylen = keylen;
  gr->label = gr->key + 1; /* by name, the key is the label */
  gr->labellen = stemlen;
  if (by_fn && !(gr->label = dusk__malloc(stemlen + 1))) {
    gr->label = gr->key + 1;
    group_free(gr);
    return NULL;
  }
  if (by_fn)
    memcpy(gr->label, stem, stemlen);
  gr->literal = is_literal(n);
  gr->index = (uint32_t)gs->n;
  dusk__hash_oom = 0;
  HASH_ADD_KEYPTR(hh, gs->table, gr->key, gr->keylen, gr);
  if (dusk__hash_oom) {
    group_free(gr);
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
  while (k > 0 && k < gr->labellen &&
         ((unsigned char)gr->label[k] & 0xC0) == 0x80)
    k--; /* not inside a UTF-8 sequence */
  gr->labellen = k;
  gr->cut = true;
}

enum { GROUPED, TOO_MANY, NOMEM };

/* Give each node of the walk a group: by name, or by function. */
static int assign(walk *w, groups *gs, bool by_fn) {
  if (!w->gid && !(w->gid = dusk__malloc(w->n * sizeof *w->gid)))
    return NOMEM;
  group *gr = NULL;
  for (size_t i = 0; i < w->n; i++) {
    const dusk_node *n = w->list[i];
    const char *name = name_of(w, n);
    size_t stemlen = stem_length(name);
    size_t keylen = group_key(gs, n, name, stemlen, by_fn);
    if (!keylen)
      return NOMEM;
    /* Neighbours in the walk often share a group: try the last one first. */
    if (!gr || gr->keylen != keylen || memcmp(gr->key, gs->buf, keylen)) {
      HASH_FIND(hh, gs->table, gs->buf, keylen, gr);
      if (!gr && !by_fn && gs->n == MAX_GROUPS)
        return TOO_MANY;
      if (!gr && !(gr = group_new(gs, keylen, n, name, stemlen, by_fn)))
        return NOMEM;
    }
    if (by_fn)
      share_label(gr, name, stemlen);
    w->gid[i] = gr->index;
    gr->count++;
    gr->target |= i < w->ntargets;
    if (!gr->literal) {
      int st = state_of(n);
      gr->states[st]++;
      double d = w->durations ? duration_of(n, st) : -1;
      if (d >= 0) {
        gr->timed++;
        gr->seconds += d;
      }
    }
  }
  return GROUPED;
}

/* Count the edges between each pair of groups; -1 when out of memory. */
static int count_edges(const walk *w, groups *gs) {
  edge *e = NULL;
  for (size_t i = 0; i < w->n; i++) {
    const dusk_node *n = w->list[i];
    dusk_node *const *args = dusk__args(n);
    for (int a = 0; a < n->nargs; a++) {
      uint64_t key = (uint64_t)w->gid[index_of(w, args[a])] << 32 | w->gid[i];
      if (!e || e->key != key) {
        HASH_FIND(hh, gs->edges, &key, sizeof key, e);
        if (!e) {
          if (!(e = dusk__calloc(1, sizeof *e)))
            return -1;
          e->key = key;
          dusk__hash_oom = 0;
          HASH_ADD(hh, gs->edges, key, sizeof key, e);
          if (dusk__hash_oom) {
            dusk__free(e);
            return -1;
          }
        }
      }
      e->count++;
    }
  }
  return 0;
}

/* Group the walk's nodes and their edges: GROUPED or NOMEM. */
static int collapse(walk *w, groups *gs) {
  int rc = assign(w, gs, false);
  if (rc == TOO_MANY) {
    groups_free(gs);
    rc = assign(w, gs, true);
  }
  if (rc == GROUPED && count_edges(w, gs) != 0)
    rc = NOMEM;
  return rc;
}

/* ---------------------------------------------------------------- text */

#define ELLIPSIS "\xe2\x80\xa6"    /* … */
#define TIMES "\xc3\x97"           /* × */
#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for what is not text */

/* The length of the valid UTF-8 sequence of two to four bytes at s, or 0. */
static size_t utf8_length(const unsigned char *s, size_t avail) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (avail < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[k] & 0xC0) != 0x80)
      return 0;
  return len;
}

/*
** Write len bytes of s (at most max, then "…") as the inside of a DOT
** string, so that graphviz shows them as they are. In such a string a
** quote ends it and a backslash starts an escape (\n, \l, and \N, \G for
** names), so both are escaped; graphviz decodes HTML entities in labels, so
** '&' is written as "&amp;"; a newline is the line break "\n"; and what is
** not UTF-8 text (which graphviz rejects) becomes U+FFFD.
*/
static void put_text(FILE *f, const char *s, size_t len, size_t max) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    if (i >= max) {
      fputs(ELLIPSIS, f);
      return;
    }
    unsigned char c = u[i];
    size_t k = c < 0x80 ? 1 : utf8_length(u + i, len - i);
    if (c == '"' || c == '\\')
      putc_unlocked('\\', f), putc_unlocked(c, f);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '&')
      fputs("&amp;", f);
    else if (c == '\t')
      putc_unlocked(' ', f);
    else if (k == 0 || c < 0x20 || c == 0x7F)
      fputs(REPLACEMENT, f), k = 1;
    else if (k == 1)
      putc_unlocked(c, f);
    else
      fwrite(u + i, 1, k, f);
    i += k;
  }
}

static void put_str(FILE *f, const char *s) {
  put_text(f, s, strlen(s), MAX_LABEL);
}

/* A literal's value in a few characters: the number, or "ptr" and size. */
static void value_text(const dusk_node *n, char *buf, size_t size) {
  dusk_value v = dusk__node_value(n);
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  switch (v.kind) {
  case DUSK_I64:
    snprintf(buf, size, "%" PRId64, v.i64);
    break;
  case DUSK_F64:
    snprintf(buf, size, "%g", v.f64);
    break;
  case DUSK_PTR:
    if (v.size < 1024) {
      snprintf(buf, size, v.size ? "ptr %zu B" : "ptr", v.size);
    } else {
      double x = (double)v.size;
      int u = 0;
      for (; x >= 1024 && u < 4; u++)
        x /= 1024;
      snprintf(buf, size, "ptr %.1f %s", x, unit[u]);
    }
    break;
  default:
    snprintf(buf, size, "none");
  }
}

/* --------------------------------------------------------------- write */

static void put_header(FILE *f, const dusk_dot_options *o) {
  static const char *const dir[] = {"LR", "TB", "BT", "RL"};
  fprintf(f,
          "digraph dusk {\n"
          "  graph [rankdir=%s, fontname=\"Helvetica\", fontsize=10];\n"
          "  node [fontname=\"Helvetica\", fontsize=11, style=filled, "
          "fillcolor=white, color=\"#333333\"];\n"
          "  edge [color=\"#555555\", arrowsize=0.6, fontname=\"Helvetica\", "
          "fontsize=9];\n",
          dir[o->rankdir]);
}

/* A table of the states present, with their counts; nothing if all idle. */
static void put_legend(FILE *f, const uint64_t *states) {
  uint64_t computed = 0;
  for (int s = 0; s < NSTATES; s++)
    computed += s == S_IDLE ? 0 : states[s];
  if (!computed)
    return;
  fputs("  legend [shape=plaintext, style=solid, class=\"legend\", "
        "label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" "
        "cellpadding=\"3\"><tr>",
        f);
  for (int k = 0; k < NSTATES; k++) {
    int s = legend_order[k];
    if (states[s])
      fprintf(f, "<td bgcolor=\"%s\">%s %" PRIu64 "</td>", look[s].fill,
              look[s].text, states[s]);
  }
  fputs("</tr></table>>];\n", f);
}

/* One node of the expanded picture; counts its state into states. */
static void put_node(FILE *f, walk *w, const dusk_node *n, bool target,
                     uint64_t *states) {
  char label[160], value[64];
  fprintf(f, "  n%" PRIu64 " [label=\"", dusk__node_id(n));
  uint16_t flags = atomic_load_explicit(&n->flags, memory_order_relaxed);
  if (flags & DUSK__LITERAL) {
    value_text(n, value, sizeof value);
    if (flags & DUSK__NAMED) {
      put_str(f, name_of(w, n));
      fputs("\\n", f);
    }
    fprintf(f, "%s\", tooltip=\"", value);
    put_str(f, dusk__label(n, label, sizeof label));
    fprintf(f, ": %s\", shape=box, class=\"literal\", fillcolor=\"%s\"",
            value, LITERAL_FILL);
  } else {
    int s = state_of(n);
    states[s]++;
    put_str(f, name_of(w, n));
    double d = w->durations ? duration_of(n, s) : -1;
    if (d >= 0) {
      char text[32];
      dusk__format_seconds(d, text, sizeof text);
      fprintf(f, "\\n%s", text);
    }
    fputs("\", tooltip=\"", f);
    const char *why = s == S_FAILED ? dusk_errmsg(n) : NULL;
    if (why) {
      put_str(f, why);
    } else {
      put_str(f, dusk__label(n, label, sizeof label));
      fprintf(f, ": %s", look[s].text);
    }
    fprintf(f, "\", class=\"%s\", fillcolor=\"%s\"", look[s].css,
            look[s].fill);
  }
  fputs(target ? ", penwidth=2];\n" : "];\n", f);
}

static void write_expanded(FILE *f, walk *w, const dusk_dot_options *o) {
  uint64_t states[NSTATES] = {0};
  put_header(f, o);
  for (size_t i = 0; i < w->n; i++)
    put_node(f, w, w->list[i], i < w->ntargets, states);
  for (size_t i = 0; i < w->n; i++) {
    const dusk_node *n = w->list[i];
    dusk_node *const *args = dusk__args(n);
    for (int a = 0; a < n->nargs; a++)
      fprintf(f, "  n%" PRIu64 " -> n%" PRIu64 ";\n", dusk__node_id(args[a]),
              dusk__node_id(n));
  }
  put_legend(f, states);
  fputs("}\n", f);
}

/* The state a group is coloured by: the worst, else done or all kept. */
static int group_state(const group *gr) {
  const uint64_t *s = gr->states;
  if (s[S_FAILED] || s[S_NOTRUN] || s[S_RUNNING])
    return s[S_FAILED] ? S_FAILED : s[S_NOTRUN] ? S_NOTRUN : S_RUNNING;
  if (s[S_DONE] || s[S_KEPT])
    return s[S_DONE] ? S_DONE : S_KEPT;
  return S_IDLE;
}

/* "total 1.20 s, mean 1.20 ms" of the members that have a duration. */
static void put_group_durations(FILE *f, const group *gr) {
  char total[32], mean[32];
  dusk__format_seconds(gr->seconds, total, sizeof total);
  dusk__format_seconds(gr->seconds / (double)gr->timed, mean, sizeof mean);
  if (gr->count == 1)
    fprintf(f, "\\n%s", total);
  else if (gr->timed == gr->count)
    fprintf(f, "\\ntotal %s, mean %s", total, mean);
  else /* some members were not timed: say of how many */
    fprintf(f, "\\ntotal %s, mean %s (of %" PRIu64 ")", total, mean,
            gr->timed);
}

/*
** "add ×999", and below it the counts of the states when not all idle, and
** the durations when asked for.
*/
static void put_group_label(FILE *f, const group *gr) {
  put_text(f, gr->label, gr->labellen, MAX_LABEL);
  if (gr->cut)
    fputs(ELLIPSIS, f);
  if (gr->count > 1)
    fprintf(f, " " TIMES "%" PRIu64, gr->count);
  if (gr->literal || gr->states[S_IDLE] == gr->count)
    return;
  const char *sep = "\\n";
  for (int k = 0; k < NSTATES; k++) {
    int s = legend_order[k];
    if (gr->states[s]) {
      fprintf(f, "%s%" PRIu64 " %s", sep, gr->states[s], look[s].text);
      sep = ", ";
    }
  }
  if (gr->timed)
    put_group_durations(f, gr);
}

static void put_group(FILE *f, const group *gr) {
  fprintf(f, "  g%" PRIu32 " [label=\"", gr->index);
  put_group_label(f, gr);
  if (gr->literal) {
    fprintf(f, "\", shape=box, class=\"group literal\", fillcolor=\"%s\"",
            LITERAL_FILL);
  } else {
    int s = group_state(gr);
    fprintf(f, "\", class=\"group %s\", fillcolor=\"%s\"", look[s].css,
            look[s].fill);
  }
  fputs(gr->count > 1 ? ", peripheries=2" : "", f);
  fputs(gr->target ? ", penwidth=2];\n" : "];\n", f);
}

/* An edge's width grows with the digits of its multiplicity. */
static void put_group_edge(FILE *f, const edge *e) {
  fprintf(f, "  g%" PRIu32 " -> g%" PRIu32, (uint32_t)(e->key >> 32),
          (uint32_t)e->key);
  if (e->count > 1) {
    int digits = 0;
    for (uint64_t c = e->count; c; c /= 10)
      digits++;
    int tenths = digits > 7 ? 40 : 10 + 5 * (digits - 1);
    fprintf(f, " [label=\"" TIMES "%" PRIu64 "\", penwidth=%d.%d]", e->count,
            tenths / 10, tenths % 10);
  }
  fputs(";\n", f);
}

static void write_collapsed(FILE *f, const walk *w, const groups *gs,
                            const dusk_dot_options *o) {
  uint64_t states[NSTATES] = {0};
  put_header(f, o);
  fprintf(f,
          "  label=\"collapsed: %zu nodes in %zu groups\"; labelloc=t;\n",
          w->n, gs->n);
  for (size_t i = 0; i < gs->n; i++) {
    put_group(f, gs->at[i]);
    for (int s = 0; s < NSTATES; s++)
      states[s] += gs->at[i]->states[s];
  }
  for (const edge *e = gs->edges; e; e = e->hh.next)
    put_group_edge(f, e);
  put_legend(f, states);
  fputs("}\n", f);
}

/* ----------------------------------------------------------------- API */

int dusk__dot_check(const char *who, dusk_graph *g, dusk_node *const *nodes,
                    int count, const dusk_dot_options *opt) {
  if (!g)
    return dusk__set_error(DUSK_EINVAL, "%s: the graph is NULL", who);
  if (count < 1)
    return dusk__set_error(DUSK_EINVAL, "%s: count is %d; give at least one "
                           "node", who, count);
  if (!nodes)
    return dusk__set_error(DUSK_EINVAL, "%s: nodes is NULL", who);
  for (int i = 0; i < count; i++) {
    if (!nodes[i])
      return dusk__set_error(DUSK_EINVAL, "%s: node %d is NULL", who, i);
    if (dusk__graph_of(nodes[i]) != g)
      return dusk__set_error(DUSK_EINVAL, "%s: node %d is a node of another "
                             "graph", who, i);
  }
  if (opt && ((int)opt->rankdir < DUSK_DOT_LR || (int)opt->rankdir > DUSK_DOT_RL))
    return dusk__set_error(DUSK_EINVAL, "%s: rankdir %d is not a "
                           "dusk_dot_rankdir", who, (int)opt->rankdir);
  if (opt && ((int)opt->view < DUSK_DOT_AUTO || (int)opt->view > DUSK_DOT_COLLAPSED))
    return dusk__set_error(DUSK_EINVAL, "%s: view %d is not a dusk_dot_view",
                           who, (int)opt->view);
  return DUSK_OK;
}

int dusk_write_dot(dusk_graph *g, dusk_node *const *nodes, int count,
                   FILE *out, const dusk_dot_options *opt) {
  int rc = dusk__dot_check("write_dot", g, nodes, count, opt);
  if (rc != DUSK_OK)
    return rc;
  if (!out)
    return dusk__set_error(DUSK_EINVAL, "write_dot: out is NULL");
  dusk_dot_options o = opt ? *opt : (dusk_dot_options){0};
  size_t threshold = o.threshold ? o.threshold : DUSK_DOT_THRESHOLD;
  walk w = {.g = g, .durations = o.durations != 0};
  groups gs = {0};
  bool collapsed = false;
  if (walk_run(&w, nodes, count) != 0) {
    rc = DUSK_ENOMEM;
  } else {
    collapsed = o.view == DUSK_DOT_COLLAPSED ||
                (o.view == DUSK_DOT_AUTO && w.n > threshold);
    if (collapsed && collapse(&w, &gs) != GROUPED)
      rc = DUSK_ENOMEM;
  }
  if (rc == DUSK_ENOMEM) {
    dusk__set_error(rc, "write_dot: out of memory (%zu nodes found)", w.n);
  } else {
    flockfile(out);
    if (collapsed)
      write_collapsed(out, &w, &gs, &o);
    else
      write_expanded(out, &w, &o);
    funlockfile(out);
    if (fflush(out) != 0 || ferror(out))
      rc = dusk__set_error(DUSK_EIO, "write_dot: writing failed: %s",
                           strerror(errno));
  }
  groups_free(&gs);
  walk_free(&w);
  return rc;
}
