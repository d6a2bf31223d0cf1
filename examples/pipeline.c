/*
** pipeline: a small data pipeline with dusk, to copy from.
**
** Weather stations send temperature readings. We load them in chunks,
** clean each chunk (drop readings from broken sensors and impossible
** values), merge the clean chunks, run two analyses on the merged data
** (per-station means, and a heat report), and summarise both:
**
**     load[0]  load[1]  ...  load[7]        eight loads, in parallel
**        |        |             |
**     clean    clean    ...  clean           each needs its own chunk
**         \       |           /
**               merge                        needs all clean chunks
**              /      \
**      per_station   heat_report            both share merge's result
**              \      /
**             summarise                      the one result we ask for
**
** The recipe is the same for any program:
**
**   1. Keep your computation in plain C functions (the "work" section).
**   2. Wrap each one in a small task function with dusk's signature: read
**      the arguments, call the plain function, hand the result to dusk
**      (the "tasks" section).
**   3. Build the graph: dusk_delayed(g, fn, args...) records a call and
**      runs nothing. Passing a node as an argument records a dependency.
**   4. dusk_compute() the node you want. dusk runs what it needs, each
**      call once, in parallel where the graph allows, and frees each
**      intermediate result as soon as its last consumer is done: here each
**      raw chunk is freed right after it is cleaned, and the merged table
**      after both analyses have read it.
**
** Build and run: cmake -B build && cmake --build build && build/examples/pipeline
** It prints the summary and exits 0 when it matches a plain sequential run.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dusk.h"

/* ============================================================== data */

enum { NCHUNKS = 8, ROWS_PER_CHUNK = 50000, NSTATIONS = 6 };

static const char *const station_names[NSTATIONS] = {
    "Tromso", "Bergen", "Zurich", "Lisbon", "Seville", "Valletta"};

#define BAD_SENSOR 1u /* the station flagged this reading as unreliable */

typedef struct record {
  int station;
  double temp_c;
  unsigned flags;
} record;

/* A table owns its rows (one allocation: free() releases it all). */
typedef struct table {
  size_t n;
  record rows[];
} table;

static table *table_new(size_t n) {
  table *t = malloc(sizeof *t + n * sizeof(record));
  if (t != NULL)
    t->n = 0;
  return t;
}

static size_t table_bytes(const table *t) {
  return sizeof *t + t->n * sizeof(record);
}

typedef struct station_stats {
  size_t count[NSTATIONS];
  double mean_c[NSTATIONS];
} station_stats;

typedef struct heat {
  size_t readings;
  size_t hot; /* readings of 30 C or more */
  double max_c;
  int max_station;
} heat;

typedef struct summary {
  size_t rows_kept;
  int warmest, coldest;
  double warmest_c, coldest_c;
  double hot_share; /* fraction of readings of 30 C or more */
  double max_c;
  int max_station;
} summary;

/* ============================================================== work */

/*
** The plain functions: no dusk in sight. Each returns a new object, or
** NULL when out of memory.
*/

/* "Load" chunk c: generated here, as a file or a database would give it. */
static table *load_chunk(int c) {
  static const double base_c[NSTATIONS] = {3.0, 9.5, 11.0, 18.0, 21.0, 20.5};
  table *t = table_new(ROWS_PER_CHUNK);
  if (t == NULL)
    return NULL;
  uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1);
  for (size_t i = 0; i < ROWS_PER_CHUNK; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    record *r = &t->rows[t->n++];
    r->station = (int)(x % NSTATIONS);
    double noise = (double)((x >> 16) % 2001) / 100.0 - 10.0; /* +-10 C */
    double phase = (double)i / ROWS_PER_CHUNK; /* a year, as a triangle */
    double season = 8.0 * (phase < 0.5 ? 4.0 * phase - 1.0 : 3.0 - 4.0 * phase);
    r->temp_c = base_c[r->station] + season + noise;
    r->flags = (x >> 40) % 97 == 0 ? BAD_SENSOR : 0;
    if ((x >> 48) % 1009 == 0)
      r->temp_c = 999.9; /* a glitch: the sensor's "no value" marker */
  }
  return t;
}

/* Keep the readings we trust. */
static table *clean(const table *in) {
  table *out = table_new(in->n);
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < in->n; i++) {
    const record *r = &in->rows[i];
    if ((r->flags & BAD_SENSOR) == 0 && r->temp_c > -60 && r->temp_c < 60)
      out->rows[out->n++] = *r;
  }
  return out;
}

static table *merge(const table *const *parts, int nparts) {
  size_t n = 0;
  for (int i = 0; i < nparts; i++)
    n += parts[i]->n;
  table *out = table_new(n);
  if (out == NULL)
    return NULL;
  for (int i = 0; i < nparts; i++) {
    memcpy(out->rows + out->n, parts[i]->rows, parts[i]->n * sizeof(record));
    out->n += parts[i]->n;
  }
  return out;
}

static station_stats *per_station(const table *t) {
  station_stats *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  double sum[NSTATIONS] = {0};
  for (size_t i = 0; i < t->n; i++) {
    s->count[t->rows[i].station]++;
    sum[t->rows[i].station] += t->rows[i].temp_c;
  }
  for (int k = 0; k < NSTATIONS; k++)
    s->mean_c[k] = s->count[k] > 0 ? sum[k] / (double)s->count[k] : 0.0;
  return s;
}

static heat *heat_report(const table *t) {
  heat *h = calloc(1, sizeof *h);
  if (h == NULL)
    return NULL;
  h->max_c = -1e300;
  h->max_station = -1;
  for (size_t i = 0; i < t->n; i++) {
    const record *r = &t->rows[i];
    h->readings++;
    h->hot += r->temp_c >= 30.0;
    if (r->temp_c > h->max_c) {
      h->max_c = r->temp_c;
      h->max_station = r->station;
    }
  }
  return h;
}

static summary *summarise(const station_stats *s, const heat *h) {
  summary *out = calloc(1, sizeof *out);
  if (out == NULL)
    return NULL;
  out->warmest = out->coldest = 0;
  for (int k = 0; k < NSTATIONS; k++) {
    out->rows_kept += s->count[k];
    if (s->mean_c[k] > s->mean_c[out->warmest])
      out->warmest = k;
    if (s->mean_c[k] < s->mean_c[out->coldest])
      out->coldest = k;
  }
  out->warmest_c = s->mean_c[out->warmest];
  out->coldest_c = s->mean_c[out->coldest];
  out->hot_share = h->readings > 0 ? (double)h->hot / (double)h->readings : 0;
  out->max_c = h->max_c;
  out->max_station = h->max_station;
  return out;
}

/* ============================================================== tasks */

/*
** The task wrappers. A task gets its arguments' values (borrowed: dusk
** owns them and keeps them alive while the task runs), writes its result
** to *out, and returns 0. The result is handed to dusk with the function
** that frees it; dusk calls it exactly once, when no one needs the value
** any more. On trouble a task returns dusk_fail(t, "why"), and everything
** downstream of it is not run.
*/

static int load_task(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)args;
  (void)nargs;
  const int *chunk = dusk_task_udata(t); /* given to dusk_call() */
  table *tb = load_chunk(*chunk);
  if (tb == NULL)
    return dusk_fail(t, "out of memory loading chunk %d", *chunk);
  *out = dusk_ptr(tb, table_bytes(tb), free);
  return 0;
}

static int clean_task(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)nargs;
  table *tb = clean(args[0].ptr);
  if (tb == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(tb, table_bytes(tb), free);
  return 0;
}

static int merge_task(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  const table *parts[NCHUNKS];
  if (nargs > NCHUNKS)
    return dusk_fail(t, "%d parts, at most %d", nargs, NCHUNKS);
  for (int i = 0; i < nargs; i++)
    parts[i] = args[i].ptr;
  table *tb = merge(parts, nargs);
  if (tb == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(tb, table_bytes(tb), free);
  return 0;
}

static int per_station_task(dusk_task *t, const dusk_value *args, int nargs,
                            dusk_value *out) {
  (void)nargs;
  station_stats *s = per_station(args[0].ptr);
  if (s == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(s, sizeof *s, free);
  return 0;
}

static int heat_task(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)nargs;
  const table *tb = args[0].ptr;
  if (tb->n == 0)
    return dusk_fail(t, "no readings left after cleaning");
  heat *h = heat_report(tb);
  if (h == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(h, sizeof *h, free);
  return 0;
}

static int summarise_task(dusk_task *t, const dusk_value *args, int nargs,
                          dusk_value *out) {
  (void)nargs;
  summary *s = summarise(args[0].ptr, args[1].ptr);
  if (s == NULL)
    return dusk_fail(t, "out of memory");
  *out = dusk_ptr(s, sizeof *s, free);
  return 0;
}

/* ============================================================== main */

/* The same pipeline as plain sequential calls, to check dusk's answer. */
static summary *run_sequentially(void) {
  const table *cleaned[NCHUNKS];
  for (int c = 0; c < NCHUNKS; c++) {
    table *raw = load_chunk(c);
    cleaned[c] = raw != NULL ? clean(raw) : NULL;
    free(raw);
    if (cleaned[c] == NULL)
      return NULL;
  }
  table *all = merge(cleaned, NCHUNKS);
  for (int c = 0; c < NCHUNKS; c++)
    free((void *)cleaned[c]);
  if (all == NULL)
    return NULL;
  station_stats *s = per_station(all);
  heat *h = heat_report(all);
  free(all);
  summary *out = s != NULL && h != NULL ? summarise(s, h) : NULL;
  free(s);
  free(h);
  return out;
}

static void print_summary(const summary *s) {
  printf("readings kept after cleaning: %zu of %d\n", s->rows_kept,
         NCHUNKS * ROWS_PER_CHUNK);
  printf("warmest station on average:   %s (%.2f C)\n",
         station_names[s->warmest], s->warmest_c);
  printf("coldest station on average:   %s (%.2f C)\n",
         station_names[s->coldest], s->coldest_c);
  printf("readings of 30 C or more:     %.2f %%\n", 100.0 * s->hot_share);
  printf("hottest reading:              %.2f C at %s\n", s->max_c,
         station_names[s->max_station]);
}

int main(void) {
  /*
  ** A graph computes on the default pool (one worker per core, or
  ** DUSK_NUM_THREADS) unless given another with dusk_graph_set_pool().
  */
  dusk_graph *g = dusk_graph_new();
  if (g == NULL) {
    fprintf(stderr, "pipeline: %s\n", dusk_strerror(dusk_last_error(NULL)));
    return 1;
  }

  /*
  ** Build the graph. Nothing runs yet. The loads take no node arguments;
  ** the chunk number goes in udata, which must outlive the compute (here:
  ** a static array). dusk_call_named() is dusk_delayed() with udata.
  */
  static const int chunk_ids[NCHUNKS] = {0, 1, 2, 3, 4, 5, 6, 7};
  dusk_node *cleaned[NCHUNKS];
  for (int c = 0; c < NCHUNKS; c++) {
    dusk_node *raw =
        dusk_call_named(g, "load", load_task, (void *)&chunk_ids[c], 0, NULL);
    dusk_set_name(raw, "load[%d]", c); /* names appear in error messages */
    cleaned[c] = dusk_delayed(g, clean_task, raw);
    dusk_set_name(cleaned[c], "clean[%d]", c);
  }
  /* An argument list built at run time: dusk_call() copies the array. */
  dusk_node *merged = dusk_call_named(g, "merge", merge_task, NULL, NCHUNKS,
                                      cleaned);
  dusk_node *stats = dusk_delayed(g, per_station_task, merged);
  dusk_node *hot = dusk_delayed(g, heat_task, merged);
  dusk_node *report = dusk_delayed(g, summarise_task, stats, hot);
  if (report == NULL) { /* a NULL argument anywhere above ends up here */
    const char *why = NULL;
    dusk_last_error(&why);
    fprintf(stderr, "pipeline: building the graph: %s\n", why);
    dusk_graph_free(g);
    return 1;
  }

  /*
  ** Run it. On success `out` is borrowed: the graph keeps the summary
  ** until dusk_release(report) or dusk_graph_free(g). Every intermediate
  ** (raw and clean chunks, the merged table, the two analyses) has already
  ** been freed.
  */
  dusk_value out;
  int rc = dusk_compute(g, report, &out);
  if (rc != DUSK_OK) {
    /* dusk_errmsg names the node that failed and why, e.g.
       "summarise_task#.. not run: upstream heat_task#.. failed: ..." */
    fprintf(stderr, "pipeline: %s: %s\n", dusk_strerror(rc),
            dusk_errmsg(report));
    dusk_graph_free(g);
    return 1;
  }
  const summary *result = out.ptr;
  print_summary(result);

  /* Check the answer against the same steps run one after the other. */
  summary *expect = run_sequentially();
  int ok = expect != NULL && result->rows_kept == expect->rows_kept &&
           result->warmest == expect->warmest &&
           result->coldest == expect->coldest &&
           result->warmest_c == expect->warmest_c &&
           result->coldest_c == expect->coldest_c &&
           result->hot_share == expect->hot_share &&
           result->max_c == expect->max_c &&
           result->max_station == expect->max_station &&
           result->rows_kept > 0 &&
           result->rows_kept < (size_t)NCHUNKS * ROWS_PER_CHUNK &&
           result->max_c < 60; /* the glitches were cleaned out */
  free(expect);
  printf("%s\n", ok ? "ok: matches the sequential run"
                    : "WRONG: differs from the sequential run");

  dusk_graph_free(g); /* frees the summary too */
  return ok ? 0 : 1;
}
