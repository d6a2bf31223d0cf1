/*
** Diagnostics: the progress bar and its callback reach 100% and end their
** line; the trace is valid JSON with one complete event per task run, and
** with flows, one pair of flow events per dependency between two traced
** tasks, each inside its task's event; the statistics of a compute count
** exactly what ran, failed and did not run, the peak of live results and
** their bytes, and times that add up; with statistics off there are none.
*/
#include "dusk.h"
#include "testutil.h"

#include <check.h>
#include <ctype.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n;
  *out = dusk_i64(1);
  return 0;
}

static int add(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < n; i++)
    s += a[i].i64;
  *out = dusk_i64(s);
  return 0;
}

static int boom(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n, (void)out;
  return dusk_fail(t, "no");
}

/* A fan-in of `width` unit tasks: width + 1 tasks. */
static dusk_node *fan(dusk_graph *g, int width, const char *name) {
  dusk_node **v = malloc((size_t)width * sizeof *v);
  for (int i = 0; i < width; i++) {
    v[i] = dusk_delayed(g, unit);
    if (name)
      dusk_set_name(v[i], "%s", name);
  }
  dusk_node *s = dusk_call_named(g, "sum", add, NULL, width, v);
  free(v);
  return s;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static int count(const char *s, const char *sub) {
  int k = 0;
  for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
    k++;
  return k;
}

/* stderr sent to a fresh file, until captured() gives back what was said. */
typedef struct capture {
  char path[32];
  int fd, saved;
} capture;

static void capture_stderr(capture *c) {
  snprintf(c->path, sizeof c->path, "/tmp/dusk-stderr-XXXXXX");
  c->fd = mkstemp(c->path);
  ck_assert_int_ge(c->fd, 0);
  fflush(stderr);
  c->saved = dup(2);
  dup2(c->fd, 2);
}

/* stderr back as it was; what it said meanwhile, to free. */
static char *captured(capture *c) {
  fflush(stderr);
  dup2(c->saved, 2);
  close(c->saved);
  close(c->fd);
  char *s = slurp(c->path);
  unlink(c->path);
  return s;
}

/* ------------------------------------------------------------ progress */

static atomic_size_t last_done, last_total;
static atomic_int calls;

static void record(size_t done, size_t total, double seconds, void *u) {
  (void)seconds, (void)u;
  atomic_store(&last_done, done);
  atomic_store(&last_total, total);
  atomic_fetch_add(&calls, 1);
}

START_TEST(test_progress_callback_reaches_total) {
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_set_progress(1, record, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 5000, NULL), NULL), DUSK_OK);
  ck_assert_int_ge(atomic_load(&calls), 1);
  ck_assert_uint_eq(atomic_load(&last_total), 5001);
  ck_assert_uint_eq(atomic_load(&last_done), 5001);
  /* Off: no more calls. */
  dusk_set_progress(0, NULL, NULL);
  int before = atomic_load(&calls);
  ck_assert_int_eq(dusk_compute(g, fan(g, 100, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(atomic_load(&calls), before);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_progress_bar_one_line_when_not_a_terminal) {
  capture c;
  capture_stderr(&c);
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_set_progress(1, NULL, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 20000, NULL), NULL), DUSK_OK);
  dusk_set_progress(0, NULL, NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
  char *s = captured(&c);
  ck_assert_msg(strstr(s, "100% Completed"), "bar: %s", s);
  ck_assert_int_eq(count(s, "\n"), 1); /* one line, ended */
  ck_assert_int_eq(count(s, "\r"), 0); /* no redraws into a file */
  ck_assert(s[strlen(s) - 1] == '\n');
  free(s);
}
END_TEST

/* ---------------------------------------------------------------- trace */

/* A strict little JSON checker: returns the end of one value, or NULL. */
static const char *json_value(const char *p);

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
    p++;
  return p;
}

static const char *json_string(const char *p) {
  if (*p++ != '"')
    return NULL;
  for (; *p && *p != '"'; p++) {
    if ((unsigned char)*p < 0x20)
      return NULL;
    if (*p == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!isxdigit((unsigned char)p[i]))
            return NULL;
        p += 4;
      } else if (!strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
  }
  return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p) {
  char *end;
  strtod(p, &end);
  return end == p ? NULL : end;
}

static const char *json_value(const char *p) {
  p = ws(p);
  if (*p == '"')
    return json_string(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close)
      return p + 1;
    for (;;) {
      if (close == '}') {
        if (!(p = json_string(ws(p))) || *(p = ws(p)) != ':')
          return NULL;
        p++;
      }
      if (!(p = json_value(p)))
        return NULL;
      p = ws(p);
      if (*p == close)
        return p + 1;
      if (*p++ != ',')
        return NULL;
    }
  }
  return json_number(p);
}

START_TEST(test_trace_valid_json_one_event_per_task) {
  char path[] = "/tmp/dusk-trace-XXXXXX";
  close(mkstemp(path));
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  ck_assert_int_eq(dusk_trace_start(path), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 9000, "odd \"name\"\\\n"), NULL),
                   DUSK_OK); /* 9001 tasks, more than one buffer */
  dusk_node *f = dusk_delayed(g, boom), *after = dusk_delayed(g, add, f);
  ck_assert_int_ne(dusk_compute(g, after, NULL), DUSK_OK); /* 1 run, 1 not */
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 10, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK); /* stopping twice: no-op */
  dusk_graph_free(g);
  dusk_pool_free(p);
  char *s = slurp(path);
  unlink(path);
  const char *end = json_value(s);
  ck_assert_msg(end && *ws(end) == '\0', "not valid JSON near: %.80s",
                end ? end : s);
  ck_assert_int_eq(count(s, "\"ph\":\"X\""), 9001 + 1);
  ck_assert_int_ge(count(s, "\"thread_name\""), 1);
  ck_assert_int_eq(count(s, "odd \\\"name\\\"\\\\\\u000a"), 9000);
  free(s);
}
END_TEST

/* The header: a new start stops the old trace first. Both files must be
   complete JSON, each with only the tasks run while it was the trace. */
START_TEST(test_trace_restart_closes_the_old_one) {
  char a[] = "/tmp/dusk-trace-a-XXXXXX", b[] = "/tmp/dusk-trace-b-XXXXXX";
  close(mkstemp(a));
  close(mkstemp(b));
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  ck_assert_int_eq(dusk_trace_start(a), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 30, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_start(b), DUSK_OK); /* closes a */
  ck_assert_int_eq(dusk_compute(g, fan(g, 20, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  dusk_graph_free(g);
  dusk_pool_free(p);
  const char *path[2] = {a, b};
  int want[2] = {31, 21};
  for (int i = 0; i < 2; i++) {
    char *s = slurp(path[i]);
    unlink(path[i]);
    const char *end = json_value(s);
    ck_assert_msg(end && *ws(end) == '\0', "%s: not valid JSON", path[i]);
    ck_assert_int_eq(count(s, "\"ph\":\"X\""), want[i]);
    free(s);
  }
}
END_TEST

START_TEST(test_trace_bad_arguments) {
  ck_assert_int_eq(dusk_trace_start(NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_trace_start("/nonexistent-dir/x/trace.json"), DUSK_EIO);
  const char *msg = NULL;
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EIO);
  ck_assert_ptr_nonnull(strstr(msg, "nonexistent"));
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
}
END_TEST

/* ---------------------------------------------------------------- flows */

static dusk_pool *pool;

/* A graph on a pool of two workers of its own, and its end. */
#define new_graph() tu_graph_with_pool(2, &pool)
#define free_graph(g) tu_graph_with_pool_free((g), &pool)

/* The number after "key": in s, or -1 when s has no such key. */
static double field(const char *s, const char *key) {
  char k[32];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *at = strstr(s, k);
  return at ? strtod(at + strlen(k), NULL) : -1;
}

typedef struct span {
  int tid;
  double ts, dur;
} span;

/* One event per line: the task events, and the flow halves of kind ph. */
static int events_of(char *text, const char *ph, span *out, double *ids,
                     int max) {
  char want[16];
  snprintf(want, sizeof want, "\"ph\":\"%s\"", ph);
  int n = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, want))
      continue;
    ck_assert_int_lt(n, max);
    out[n] = (span){(int)field(line, "tid"), field(line, "ts"),
                    field(line, "dur")};
    if (ids)
      ids[n] = field(line, "id");
    n++;
  }
  return n;
}

/* Is the point (tid, ts) strictly inside one of the task events? */
static int inside_a_task(const span *tasks, int ntasks, int tid, double ts) {
  for (int i = 0; i < ntasks; i++)
    if (tasks[i].tid == tid && ts > tasks[i].ts &&
        ts < tasks[i].ts + tasks[i].dur)
      return 1;
  return 0;
}

/* A tree of `add` over `leaves` unit calls: 2 * leaves - 1 calls, and
   2 * (leaves - 1) edges between calls. */
static dusk_node *tree(dusk_graph *g, int leaves) {
  dusk_node **v = malloc((size_t)leaves * sizeof *v);
  for (int i = 0; i < leaves; i++)
    v[i] = dusk_delayed(g, unit);
  for (int n = leaves; n > 1; n = (n + 1) / 2)
    for (int i = 0; i < n; i += 2)
      v[i / 2] = i + 1 < n ? dusk_delayed(g, add, v[i], v[i + 1]) : v[i];
  dusk_node *top = v[0];
  free(v);
  return top;
}

/* Trace one compute of `target` into a file; its text, to free. */
static char *trace_of(dusk_graph *g, dusk_node *target, unsigned flags) {
  char path[] = "/tmp/dusk-flows-XXXXXX";
  close(mkstemp(path));
  ck_assert_int_eq(dusk_trace_start_flags(path, flags), DUSK_OK);
  dusk_compute(g, target, NULL);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  char *s = slurp(path);
  unlink(path);
  const char *end = json_value(s);
  ck_assert_msg(end && *ws(end) == '\0', "not valid JSON near: %.80s",
                end ? end : s);
  return s;
}

START_TEST(test_flows_one_pair_per_edge_inside_the_tasks) {
  enum { LEAVES = 300, CALLS = 2 * LEAVES - 1, EDGES = 2 * (LEAVES - 1) };
  dusk_graph *g = new_graph();
  /* A leaf reading a literal: no arrow from a literal. */
  dusk_node *lit = dusk_literal(g, dusk_i64(5));
  dusk_node *top = dusk_delayed(g, add, tree(g, LEAVES), lit);
  char *s = trace_of(g, top, DUSK_TRACE_FLOWS);
  ck_assert_int_eq(count(s, "\"ph\":\"X\""), CALLS + 1);
  ck_assert_int_eq(count(s, "\"ph\":\"s\""), EDGES + 1);
  ck_assert_int_eq(count(s, "\"ph\":\"f\""), EDGES + 1);
  ck_assert_int_eq(count(s, "\"bp\":\"e\""), EDGES + 1);
  /* Each id starts once and finishes once; each half lies inside a task
     of its thread. */
  static span tasks[CALLS + 1], starts[EDGES + 1], ends[EDGES + 1];
  static double sid[EDGES + 1], fid[EDGES + 1];
  char *copy = strdup(s);
  ck_assert_int_eq(events_of(copy, "X", tasks, NULL, CALLS + 1), CALLS + 1);
  free(copy);
  copy = strdup(s);
  ck_assert_int_eq(events_of(copy, "s", starts, sid, EDGES + 1), EDGES + 1);
  free(copy);
  copy = strdup(s);
  ck_assert_int_eq(events_of(copy, "f", ends, fid, EDGES + 1), EDGES + 1);
  free(copy);
  for (int i = 0; i < EDGES + 1; i++) {
    int found = 0;
    for (int j = 0; j < EDGES + 1; j++)
      found += fid[j] == sid[i];
    ck_assert_msg(found == 1, "flow %.0f finishes %d times", sid[i], found);
    for (int j = 0; j < i; j++)
      ck_assert(sid[j] != sid[i]);
    ck_assert_msg(inside_a_task(tasks, CALLS + 1, starts[i].tid, starts[i].ts),
                  "flow %.0f starts outside its task", sid[i]);
    ck_assert_msg(inside_a_task(tasks, CALLS + 1, ends[i].tid, ends[i].ts),
                  "flow %.0f finishes outside its task", fid[i]);
    /* It leaves before it arrives: the argument ran first. */
    for (int j = 0; j < EDGES + 1; j++)
      if (fid[j] == sid[i])
        ck_assert(starts[i].ts < ends[j].ts);
  }
  free(s);
  free_graph(g);
}
END_TEST

START_TEST(test_flows_only_when_asked_and_only_within_the_trace) {
  dusk_graph *g = new_graph();
  /* Not asked: no flows. */
  char *s = trace_of(g, tree(g, 8), 0);
  ck_assert_int_eq(count(s, "\"ph\":\"X\""), 15);
  ck_assert_int_eq(count(s, "\"ph\":\"s\""), 0);
  free(s);
  /* An argument computed before the trace: its consumer has no arrow from
     it, but has one from the argument that runs in the trace. */
  dusk_set_stats(1, NULL); /* times the early one too */
  dusk_node *early = dusk_delayed(g, unit);
  ck_assert_int_eq(dusk_compute(g, early, NULL), DUSK_OK);
  dusk_set_stats(0, NULL);
  dusk_node *late = dusk_delayed(g, unit);
  s = trace_of(g, dusk_delayed(g, add, early, late), DUSK_TRACE_FLOWS);
  ck_assert_int_eq(count(s, "\"ph\":\"X\""), 2);
  ck_assert_int_eq(count(s, "\"ph\":\"s\""), 1);
  ck_assert_int_eq(count(s, "\"ph\":\"f\""), 1);
  free(s);
  /* The environment asks for them in every trace. */
  setenv("DUSK_TRACE_FLOWS", "1", 1); /* Check forks: this test only */
  s = trace_of(g, tree(g, 4), 0);
  ck_assert_int_eq(count(s, "\"ph\":\"s\""), 6);
  free(s);
  unsetenv("DUSK_TRACE_FLOWS");
  /* Refused before the file is tried: EINVAL, not EIO. */
  ck_assert_int_eq(dusk_trace_start_flags("/nonexistent-dir/t.json", 2),
                   DUSK_EINVAL);
  ck_assert_int_eq(dusk_trace_start_flags(NULL, DUSK_TRACE_FLOWS),
                   DUSK_EINVAL);
  free_graph(g);
}
END_TEST

/* ---------------------------------------------------------------- stats */

enum { BYTES = 1000 };

/* A sized pointer of BYTES bytes. */
static int blob(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n;
  void *p = malloc(BYTES);
  *out = dusk_ptr(p, BYTES, free);
  return p ? 0 : dusk_fail(t, "no memory");
}

/* A sized pointer of 7 bytes, whatever its arguments. */
static int seven(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n;
  void *p = malloc(7);
  *out = dusk_ptr(p, 7, free);
  return p ? 0 : dusk_fail(t, "no memory");
}

/* `width` calls of fn feeding one call of top. */
static dusk_node *fan_of(dusk_graph *g, dusk_fn fn, dusk_fn top, int width) {
  dusk_node **v = malloc((size_t)width * sizeof *v);
  for (int i = 0; i < width; i++)
    v[i] = dusk_call(g, fn, NULL, 0, NULL);
  dusk_node *s = dusk_call(g, top, NULL, width, v);
  free(v);
  return s;
}

static dusk_stats stats_of(dusk_graph *g) {
  dusk_stats s;
  ck_assert_int_eq(dusk_graph_stats(g, &s), DUSK_OK);
  return s;
}

/* The times are not negative and add up to about the wall time. */
static void check_times(const dusk_stats *s) {
  ck_assert(s->wall_s > 0);
  ck_assert(s->prepare_s >= 0 && s->run_s >= 0 && s->settle_s >= 0);
  double sum = s->prepare_s + s->run_s + s->settle_s;
  ck_assert_msg(sum <= s->wall_s * 1.0001 && sum >= s->wall_s * 0.5,
                "%g + %g + %g vs %g", s->prepare_s, s->run_s, s->settle_s,
                s->wall_s);
}

static dusk_graph *stats_graph(void) {
  dusk_set_stats(1, NULL);
  return new_graph();
}

static void stats_done(dusk_graph *g) {
  dusk_set_stats(0, NULL);
  free_graph(g);
}

/* What dusk_stats_print() writes of s, to free. */
static char *printed(const dusk_stats *s) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  ck_assert_int_eq(dusk_stats_print(s, f), DUSK_OK);
  fclose(f);
  return text;
}

START_TEST(test_stats_counts_a_fan_in_exactly) {
  enum { W = 5000 };
  dusk_graph *g = stats_graph();
  ck_assert_int_eq(dusk_compute(g, fan(g, W, NULL), NULL), DUSK_OK);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.nodes, W + 1);
  ck_assert_uint_eq(s.tasks, W + 1);
  ck_assert_uint_eq(s.failed, 0);
  ck_assert_uint_eq(s.not_run, 0);
  ck_assert_uint_eq(s.peak_live, W); /* all W, then the sum frees them */
  ck_assert_uint_eq(s.peak_bytes, 0); /* numbers have no size */
  ck_assert_int_eq(s.threads, 2);
  ck_assert_int_eq(s.code, DUSK_OK);
  check_times(&s);
  stats_done(g);
}
END_TEST

START_TEST(test_stats_chain_holds_few_results) {
  enum { DEPTH = 20000 };
  dusk_graph *g = stats_graph();
  dusk_node *n = dusk_literal(g, dusk_i64(0));
  for (int i = 0; i < DEPTH; i++)
    n = dusk_delayed(g, add, n);
  ck_assert_int_eq(dusk_compute(g, n, NULL), DUSK_OK);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.tasks, DEPTH);
  ck_assert_uint_le(s.peak_live, 3);
  ck_assert_uint_ge(s.peak_live, 1);
  check_times(&s);
  stats_done(g);
}
END_TEST

/*
** Bytes of sized results; the live count includes results kept from an
** earlier compute, and forgets them once taken or released.
*/
START_TEST(test_stats_peak_bytes_and_kept_results) {
  enum { W = 300, V = 100 };
  dusk_graph *g = stats_graph();
  dusk_node *a = fan_of(g, blob, seven, W);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.tasks, W + 1);
  ck_assert_uint_eq(s.peak_live, W);
  ck_assert_uint_eq(s.peak_bytes, (size_t)W * BYTES);
  /* a's result (7 bytes) is kept while b computes. */
  dusk_node *b = fan_of(g, blob, seven, V);
  ck_assert_int_eq(dusk_compute(g, b, NULL), DUSK_OK);
  s = stats_of(g);
  ck_assert_uint_eq(s.peak_live, V + 1);
  ck_assert_uint_eq(s.peak_bytes, (size_t)V * BYTES + 7);
  /* Taken and released: neither is held any more. */
  dusk_value v;
  ck_assert_int_eq(dusk_take(a, &v), DUSK_OK);
  dusk_value_clear(&v);
  dusk_release(b);
  ck_assert_int_eq(dusk_compute(g, fan_of(g, blob, seven, V), NULL), DUSK_OK);
  s = stats_of(g);
  ck_assert_uint_eq(s.peak_live, V);
  ck_assert_uint_eq(s.peak_bytes, (size_t)V * BYTES);
  stats_done(g);
}
END_TEST

START_TEST(test_stats_failures_and_nodes_not_run) {
  dusk_graph *g = stats_graph();
  dusk_node *a = dusk_delayed(g, unit);
  dusk_node *bad = dusk_delayed(g, boom, a);
  dusk_node *c = dusk_delayed(g, add, bad);
  dusk_node *d = dusk_delayed(g, add, c, a);
  ck_assert_int_eq(dusk_compute(g, d, NULL), DUSK_ETASK);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.nodes, 4);
  ck_assert_uint_eq(s.tasks, 2);
  ck_assert_uint_eq(s.failed, 1);
  ck_assert_uint_eq(s.not_run, 2);
  ck_assert_int_eq(s.code, DUSK_ETASK);
  /* a's result was freed when the compute stopped. */
  ck_assert_uint_eq(s.peak_live, 1);
  check_times(&s);
  /* The line says it failed. */
  char *text = printed(&s);
  ck_assert_msg(strstr(text, "2 tasks run, 1 failed, 2 not run") &&
                    strstr(text, dusk_strerror(DUSK_ETASK)),
                "%s", text);
  free(text);
  stats_done(g);
}
END_TEST

START_TEST(test_stats_off_means_none) {
  dusk_graph *g = new_graph();
  dusk_stats s;
  memset(&s, 0xff, sizeof s);
  ck_assert_int_eq(dusk_compute(g, fan(g, 100, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_graph_stats(g, &s), DUSK_ENORESULT);
  const char *msg = NULL;
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_ENORESULT);
  ck_assert_ptr_nonnull(strstr(msg, "statistics"));
  ck_assert_uint_eq(s.tasks, 0);
  ck_assert(s.wall_s == 0);
  ck_assert_int_eq(dusk_graph_stats(NULL, &s), DUSK_EINVAL);
  ck_assert_int_eq(dusk_graph_stats(g, NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_stats_print(NULL, stderr), DUSK_EINVAL);
  ck_assert_int_eq(dusk_stats_print(&s, NULL), DUSK_EINVAL);
  /* On for one compute, off for the next: the graph keeps the first. */
  dusk_set_stats(1, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 10, NULL), NULL), DUSK_OK);
  dusk_set_stats(0, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 20, NULL), NULL), DUSK_OK);
  ck_assert_uint_eq(stats_of(g).tasks, 11);
  free_graph(g);
}
END_TEST

/* Computes that run nothing of their own leave the statistics alone. */
START_TEST(test_stats_last_compute_that_ran_something) {
  dusk_graph *g = stats_graph();
  dusk_node *a = fan(g, 50, NULL);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK);
  dusk_stats first = stats_of(g);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK); /* kept: runs nothing */
  ck_assert_int_eq(dusk_wait(a), DUSK_OK);
  dusk_stats again = stats_of(g);
  ck_assert(memcmp(&first, &again, sizeof first) == 0);
  /* Refused: nothing recorded either. */
  ck_assert_int_eq(dusk_compute(g, NULL, NULL), DUSK_EINVAL);
  again = stats_of(g);
  ck_assert(memcmp(&first, &again, sizeof first) == 0);
  /* A future: its own compute, recorded by the worker that finishes it,
     just after its waiters are woken: look until it is there. */
  dusk_node *f = dusk_submit(g, add, NULL, 3,
                             (dusk_node *[]){dusk_delayed(g, unit),
                                             dusk_delayed(g, unit), a});
  ck_assert_int_eq(dusk_wait(f), DUSK_OK);
  dusk_stats s = stats_of(g);
  for (long i = 0; s.nodes != 3 && i < 100000000; i++) {
    sched_yield();
    s = stats_of(g);
  }
  ck_assert_uint_eq(s.nodes, 3);
  ck_assert_uint_eq(s.tasks, 3);
  stats_done(g);
}
END_TEST

/* A task that computes a fan of 30 on its own graph, from inside. */
static int nested(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n;
  dusk_graph *g = dusk_task_graph(t);
  dusk_value v;
  int rc = dusk_compute(g, fan(g, 30, NULL), &v);
  *out = dusk_i64(rc == DUSK_OK ? v.i64 : -1);
  return rc;
}

/* The nested compute ends first: the graph reports the outer one. */
START_TEST(test_stats_nested_compute_ends_first) {
  dusk_graph *g = stats_graph();
  dusk_node *top = dusk_delayed(g, add, dusk_delayed(g, nested),
                                dusk_delayed(g, unit));
  dusk_value v;
  ck_assert_int_eq(dusk_compute(g, top, &v), DUSK_OK);
  ck_assert_int_eq(v.i64, 31);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.nodes, 3);
  ck_assert_uint_eq(s.tasks, 3);
  stats_done(g);
}
END_TEST

START_TEST(test_stats_print_names_every_field) {
  dusk_graph *g = stats_graph();
  ck_assert_int_eq(dusk_compute(g, fan_of(g, blob, seven, 2048), NULL),
                   DUSK_OK);
  dusk_stats s = stats_of(g);
  char *text = printed(&s);
  static const char *const want[] = {
      "dusk stats: 2049 tasks run, 0 failed, 0 not run | wall ",
      "(prepare ", ", run ", ", settle ", "| 2 threads, ", " steals, ",
      " parks | peak 2048 results, 1.95 MiB\n"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_msg(strstr(text, want[i]), "no \"%s\" in: %s", want[i], text);
  ck_assert_int_eq(count(text, "\n"), 1);
  free(text);
  FILE *full = fopen("/dev/full", "w");
  if (full) {
    ck_assert_int_eq(dusk_stats_print(&s, full), DUSK_EIO);
    fclose(full);
  }
  stats_done(g);
}
END_TEST

/* DUSK_STATS=1: on from the first pool, a line on stderr per compute. */
START_TEST(test_stats_environment_logs_each_compute) {
  capture c;
  capture_stderr(&c);
  setenv("DUSK_STATS", "1", 1); /* Check forks: this test only */
  dusk_pool *p = tu_pool(2);
  dusk_graph *g = tu_graph(p);
  dusk_node *a = fan(g, 100, NULL);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, a, NULL), DUSK_OK); /* runs nothing */
  ck_assert_int_eq(dusk_compute(g, fan(g, 10, NULL), NULL), DUSK_OK);
  ck_assert_uint_eq(stats_of(g).tasks, 11);
  dusk_set_stats(0, NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
  char *s = captured(&c);
  ck_assert_int_eq(count(s, "dusk stats: "), 2);
  ck_assert_int_eq(count(s, "\n"), 2);
  ck_assert_ptr_nonnull(strstr(s, "dusk stats: 101 tasks run"));
  ck_assert_ptr_nonnull(strstr(s, "dusk stats: 11 tasks run"));
  free(s);
}
END_TEST

/*
** The live count stays exact while computes overlap and statistics are
** switched on and off: afterwards, with everything released, a chain holds
** only its own result at a time.
*/
typedef struct overlap {
  dusk_graph *g;
  dusk_node **shared;
  int n, rounds;
} overlap;

static void *overlap_main(void *arg) {
  overlap *o = arg;
  for (int r = 0; r < o->rounds; r++) {
    dusk_node *top = dusk_call(o->g, add, NULL, o->n, o->shared);
    dusk_compute(o->g, top, NULL);
    dusk_release(top);
    if (r % 3 == 0)
      dusk_set_stats(r % 2, NULL);
  }
  return NULL;
}

START_TEST(test_stats_live_count_exact_under_overlap) {
  enum { N = 64, ROUNDS = 200 };
  dusk_graph *g = stats_graph();
  dusk_node *shared[N];
  for (int i = 0; i < N; i++)
    shared[i] = dusk_delayed(g, blob);
  overlap o = {g, shared, N, ROUNDS};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, overlap_main, &o);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++)
    dusk_release(shared[i]);
  dusk_set_stats(1, NULL);
  dusk_node *n = dusk_delayed(g, seven);
  for (int i = 0; i < 100; i++)
    n = dusk_delayed(g, seven, n);
  ck_assert_int_eq(dusk_compute(g, n, NULL), DUSK_OK);
  dusk_stats s = stats_of(g);
  ck_assert_uint_eq(s.tasks, 101);
  ck_assert_uint_eq(s.peak_live, 1);
  ck_assert_uint_eq(s.peak_bytes, 7);
  stats_done(g);
}
END_TEST

static Suite *diag_suite(void) {
  Suite *s = suite_create("diag");
  TCase *tc = tcase_create("progress");
  tcase_add_test(tc, test_progress_callback_reaches_total);
  tcase_add_test(tc, test_progress_bar_one_line_when_not_a_terminal);
  suite_add_tcase(s, tc);
  tc = tcase_create("trace");
  tcase_add_test(tc, test_trace_valid_json_one_event_per_task);
  tcase_add_test(tc, test_trace_bad_arguments);
  tcase_add_test(tc, test_trace_restart_closes_the_old_one);
  suite_add_tcase(s, tc);
  tc = tcase_create("flows");
  tcase_add_test(tc, test_flows_one_pair_per_edge_inside_the_tasks);
  tcase_add_test(tc, test_flows_only_when_asked_and_only_within_the_trace);
  suite_add_tcase(s, tc);
  tc = tcase_create("stats");
  tcase_add_test(tc, test_stats_counts_a_fan_in_exactly);
  tcase_add_test(tc, test_stats_chain_holds_few_results);
  tcase_add_test(tc, test_stats_peak_bytes_and_kept_results);
  tcase_add_test(tc, test_stats_failures_and_nodes_not_run);
  tcase_add_test(tc, test_stats_off_means_none);
  tcase_add_test(tc, test_stats_last_compute_that_ran_something);
  tcase_add_test(tc, test_stats_nested_compute_ends_first);
  tcase_add_test(tc, test_stats_print_names_every_field);
  tcase_add_test(tc, test_stats_environment_logs_each_compute);
  tcase_add_test(tc, test_stats_live_count_exact_under_overlap);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(diag_suite)
