/*
** Statistics: what each compute did and where its time went, and how long
** each task took; off by default, and free when off (the one relaxed load
** per task of dusk__diag, shared with the progress bar and the trace).
**
** Counts. A compute's counts are kept in its record, in one slot per
** worker (core.h), so that workers do not contend for a counter: each adds
** to its own slot and the slots are summed when the compute ends. The
** steals and parks are the pool's own counters, read when the compute
** starts and when it ends.
**
** Live results. Peak memory is a property of the moment, not of a worker:
** the sum of per-worker counts says how many results exist now, but their
** per-worker peaks add up to no moment at all. So the graph keeps one count
** of the results it holds (an atomic, touched only while statistics are
** on, once when a result is stored and once when it leaves), and each
** compute keeps the highest value it saw as it stored a result, per
** worker: the peak is the highest of those. A result counted is flagged
** (COUNTED), and only a flagged result is taken out of the count when it is
** freed or moved out (graph/graph.c), so that switching statistics on or
** off between the two never leaves the count wrong.
**
** Task times. The side table of timings (graph.h) hangs off each chunk of
** 255 nodes: the node has no room left, and a table per chunk is found from
** the node's address with no lookup and no lock. It is made by the first
** worker to time one of the chunk's nodes (a compare-and-swap decides
** between two).
**
** Which compute a graph reports: the last one to end that ran something of
** its own; see dusk_graph_stats() in dusk.h.
*/
#include "src/core.h"
#include "src/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *stats_log;

void dusk_set_stats(int on, FILE *log) {
  pthread_mutex_lock(&log_lock);
  stats_log = on ? log : NULL;
  pthread_mutex_unlock(&log_lock);
  if (on)
    atomic_fetch_or(&dusk__diag, DUSK__DIAG_STATS);
  else
    atomic_fetch_and(&dusk__diag, ~DUSK__DIAG_STATS);
}

void dusk__stats_init(void) {
  const char *s = getenv("DUSK_STATS");
  if (s && *s && strcmp(s, "0") != 0)
    dusk_set_stats(1, stderr);
}

/* --------------------------------------------------------- one compute */

static dusk__stat_slot *my_slot(dusk__run *r) {
  int w = dusk__pool_worker(r->pool);
  return &r->stats.slot[(unsigned)(w + 1) % DUSK__STAT_SLOTS];
}

/* Raise *peak to v if it is lower. */
static void raise_to(atomic_size_t *peak, size_t v) {
  size_t old = atomic_load_explicit(peak, memory_order_relaxed);
  while (old < v && !atomic_compare_exchange_weak_explicit(
                        peak, &old, v, memory_order_relaxed,
                        memory_order_relaxed))
    ;
}

/*
** The slots are zeroed here, by the thread that starts the compute; the
** workers' counts into them happen after they took its nodes, and its end
** reads them after its last node finished: both ordered by the compute.
*/
void dusk__stats_begin(dusk__run *r) {
  dusk__run_stats *st = &r->stats;
  st->on = DUSK__DIAG_ON() & DUSK__DIAG_STATS;
  if (st->on && !st->slot) {
    st->slot = dusk__malloc(DUSK__STAT_SLOTS * sizeof *st->slot);
    st->on = st->slot != NULL; /* no memory: this compute keeps none */
  }
  if (!st->on)
    return;
  st->t0 = dusk__now();
  st->t_ready = st->t_done = 0;
  dusk__pool_get_stats(r->pool, &st->pool);
  for (int i = 0; i < DUSK__STAT_SLOTS; i++) {
    dusk__stat_slot *s = &st->slot[i];
    atomic_store_explicit(&s->tasks, 0, memory_order_relaxed);
    atomic_store_explicit(&s->failed, 0, memory_order_relaxed);
    atomic_store_explicit(&s->peak_live, 0, memory_order_relaxed);
    atomic_store_explicit(&s->peak_bytes, 0, memory_order_relaxed);
  }
}

void dusk__stats_ready(dusk__run *r) {
  if (r->stats.on)
    r->stats.t_ready = dusk__now();
}

/* By the last finisher, before it wakes the caller (who reads it). */
void dusk__stats_done(dusk__run *r) {
  if (r->stats.on)
    r->stats.t_done = dusk__now();
}

/*
** n finished in state `state` while statistics were on. A task that ran
** is counted in its compute (if that one keeps statistics); a result it
** stored is counted in the graph, before it is published, so that no
** reader can free it uncounted.
*/
void dusk__stats_finish(dusk_node *n, int state) {
  bool done = state == DUSK__DONE;
  if (!done && atomic_load_explicit(&n->kind, memory_order_relaxed) !=
                   DUSK__FAIL_OWN)
    return; /* it did not run */
  dusk__run *r = dusk__run_of(n);
  dusk__stat_slot *slot = r->stats.on ? my_slot(r) : NULL;
  if (slot) {
    atomic_fetch_add_explicit(&slot->tasks, 1, memory_order_relaxed);
    if (!done)
      atomic_fetch_add_explicit(&slot->failed, 1, memory_order_relaxed);
  }
  if (!done)
    return;
  dusk_graph *g = dusk__graph_of(n);
  size_t bytes = dusk__node_value(n).size;
  atomic_fetch_or_explicit(&n->flags, DUSK__COUNTED, memory_order_relaxed);
  size_t live = atomic_fetch_add_explicit(&g->live, 1, memory_order_relaxed);
  size_t held = bytes ? atomic_fetch_add_explicit(&g->live_bytes, bytes,
                                                  memory_order_relaxed)
                       : atomic_load_explicit(&g->live_bytes,
                                              memory_order_relaxed);
  if (slot) {
    raise_to(&slot->peak_live, live + 1);
    raise_to(&slot->peak_bytes, held + bytes);
  }
}

void dusk__stats_free(dusk__run *r) {
  dusk__free(r->stats.slot);
  r->stats.slot = NULL;
}

/* Sum the slots and the pool's counters into s. */
static void gather(dusk__run *r, dusk_stats *s) {
  dusk__run_stats *st = &r->stats;
  for (int i = 0; i < DUSK__STAT_SLOTS; i++) {
    dusk__stat_slot *k = &st->slot[i];
    s->tasks += atomic_load_explicit(&k->tasks, memory_order_relaxed);
    s->failed += atomic_load_explicit(&k->failed, memory_order_relaxed);
    size_t live = atomic_load_explicit(&k->peak_live, memory_order_relaxed);
    size_t bytes = atomic_load_explicit(&k->peak_bytes, memory_order_relaxed);
    s->peak_live = live > s->peak_live ? live : s->peak_live;
    s->peak_bytes = bytes > s->peak_bytes ? bytes : s->peak_bytes;
  }
  s->nodes = r->ntotal;
  s->not_run = s->nodes > s->tasks ? s->nodes - s->tasks : 0;
  dusk__pool_stats now;
  dusk__pool_get_stats(r->pool, &now);
  s->steals = now.steals - st->pool.steals;
  s->parks = now.parks - st->pool.parks;
  s->threads = dusk__pool_size(r->pool);
}

/*
** The compute ends (its caller settled it, or its last finisher did, for
** one no one waits for): record its statistics in the graph, which the
** compute still holds, and log them.
*/
void dusk__stats_end(dusk__run *r, int code) {
  dusk__run_stats *st = &r->stats;
  if (!st->on || r->ntotal == 0)
    return; /* off, or it ran nothing of its own */
  dusk_stats s = {.code = code};
  gather(r, &s);
  int64_t end = dusk__now();
  int64_t ready = st->t_ready ? st->t_ready : st->t0;
  int64_t done = st->t_done ? st->t_done : end; /* done before it waited */
  s.wall_s = (double)(end - st->t0) / 1e9;
  s.prepare_s = (double)(ready - st->t0) / 1e9;
  s.run_s = (double)(done - ready) / 1e9;
  s.settle_s = (double)(end - done) / 1e9;
  dusk_graph *g = r->g;
  pthread_mutex_lock(&g->lock);
  g->stats = s;
  g->has_stats = true;
  pthread_mutex_unlock(&g->lock);
  pthread_mutex_lock(&log_lock);
  if (stats_log)
    dusk_stats_print(&s, stats_log);
  pthread_mutex_unlock(&log_lock);
}

/* --------------------------------------------------------- task times */

void dusk__stats_time(dusk_node *n, int tid, int64_t start, int64_t end) {
  dusk__chunk *c = dusk__chunk_of(n);
  dusk__timing *t = atomic_load_explicit(&c->times, memory_order_acquire);
  if (!t) {
    dusk__timing *fresh = dusk__calloc(DUSK__CHUNK_NODES, sizeof *fresh);
    if (!fresh)
      return; /* no memory: this task goes untimed */
    t = NULL;
    if (atomic_compare_exchange_strong_explicit(&c->times, &t, fresh,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
      t = fresh;
    } else {
      dusk__free(fresh); /* another worker made it first: t is theirs */
    }
  }
  t[n - (dusk_node *)(c + 1)] = (dusk__timing){
      .start = start > 0 ? start : 1,
      .seconds = (float)((double)(end - start) / 1e9),
      .tid = tid,
  };
}

/* ---------------------------------------------------------------- API */

int dusk_graph_stats(dusk_graph *g, dusk_stats *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!g || !out)
    return dusk__set_error(DUSK_EINVAL, "graph_stats: NULL %s",
                           g ? "out" : "graph");
  pthread_mutex_lock(&g->lock);
  bool has = g->has_stats;
  if (has)
    *out = g->stats;
  pthread_mutex_unlock(&g->lock);
  if (!has)
    return dusk__set_error(DUSK_ENORESULT, "graph_stats: no compute of this "
                                           "graph has run with statistics on "
                                           "(dusk_set_stats, DUSK_STATS=1)");
  return DUSK_OK;
}

void dusk__format_seconds(double s, char *buf, size_t size) {
  static const char *const unit[] = {"ns", "us", "ms", "s"};
  double x = s * 1e9;
  int u = 0;
  for (; u < 3 && x >= 999.5; u++)
    x /= 1000;
  snprintf(buf, size,
           u == 0 || x >= 99.95 ? "%.0f %s" : x >= 9.995 ? "%.1f %s"
                                                         : "%.2f %s",
           x, unit[u]);
}

static void format_bytes(size_t n, char *buf, size_t size) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) {
    snprintf(buf, size, "%zu B", n);
    return;
  }
  double x = (double)n;
  int u = 0;
  for (; u < 4 && x >= 1024; u++)
    x /= 1024;
  snprintf(buf, size, "%.*f %s", x >= 100 ? 0 : x >= 10 ? 1 : 2, x, unit[u]);
}

int dusk_stats_print(const dusk_stats *s, FILE *f) {
  if (!s || !f)
    return dusk__set_error(DUSK_EINVAL, "stats_print: NULL %s",
                           s ? "file" : "stats");
  char wall[32], prep[32], run[32], settle[32], bytes[32];
  dusk__format_seconds(s->wall_s, wall, sizeof wall);
  dusk__format_seconds(s->prepare_s, prep, sizeof prep);
  dusk__format_seconds(s->run_s, run, sizeof run);
  dusk__format_seconds(s->settle_s, settle, sizeof settle);
  format_bytes(s->peak_bytes, bytes, sizeof bytes);
  int rc = fprintf(
      f,
      "dusk stats: %" PRIu64 " tasks run, %" PRIu64 " failed, %" PRIu64
      " not run | wall %s (prepare %s, run %s, settle %s) | %d threads, "
      "%" PRIu64 " steals, %" PRIu64 " parks | peak %zu results, %s%s%s\n",
      s->tasks, s->failed, s->not_run, wall, prep, run, settle, s->threads,
      s->steals, s->parks, s->peak_live, bytes, s->code ? " | " : "",
      s->code ? dusk_strerror(s->code) : "");
  if (rc < 0 || fflush(f) != 0)
    return dusk__set_error(DUSK_EIO, "stats_print: writing failed");
  return DUSK_OK;
}
