/*
** Diagnostics: a progress bar for computes and a trace of every task, both
** off by default and nearly free when off (one relaxed load of a global
** per task; see dusk__diag in core.h).
**
** The progress bar is drawn by the thread that waits for a compute (dask's
** ProgressBar is drawn by the caller too): it wakes ten times a second,
** reads how many of the compute's tasks have finished, and redraws one line
** on stderr with a carriage return. When stderr is not a terminal it writes
** only the final line, so that logs are not filled with redraws.
**
** The trace is Chrome's trace-event format (Perfetto, chrome://tracing): one
** complete event ("ph":"X") per task, on a track per worker. Each thread
** records into a buffer of its own, under a lock of its own that only the
** writer of the file contends for; full buffers and, at the end, every
** buffer are written out under the trace lock. Lock order: a buffer's lock,
** then the trace lock. Events that race with dusk_trace_stop() may be lost.
**
** Flows (DUSK_TRACE_FLOWS) are the format's arrows between events: a pair
** "s" (start) and "f" (finish, "bp":"e": bound to the event around it) with
** one id per dependency. A viewer binds each to the event of the same
** thread that encloses its time, so both are placed in the middle of their
** tasks, where no neighbouring event can claim them. They are recorded by
** the consumer, when its task has run: its arguments' tasks finished before
** it started, and their threads and times are in the side table of task
** timings (src/stats.c), which the trace fills as statistics do. An
** argument whose task ran before the trace started, or never (a literal),
** has no arrow.
*/
#include "src/core.h"
#include "src/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

atomic_int dusk__diag;

int64_t dusk__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------- progress */

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static dusk_progress_fn progress_fn;
static void *progress_udata;

void dusk_set_progress(int on, dusk_progress_fn fn, void *udata) {
  pthread_mutex_lock(&progress_lock);
  progress_fn = fn;
  progress_udata = udata;
  pthread_mutex_unlock(&progress_lock);
  if (on)
    atomic_fetch_or(&dusk__diag, DUSK__DIAG_PROGRESS);
  else
    atomic_fetch_and(&dusk__diag, ~DUSK__DIAG_PROGRESS);
}

static void draw_bar(size_t done, size_t total, double elapsed, bool last) {
  enum { WIDTH = 40 };
  int pct = total ? (int)(100 * done / total) : 100;
  char bar[WIDTH + 1];
  int fill = pct * WIDTH / 100;
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, ' ', (size_t)(WIDTH - fill));
  bar[WIDTH] = '\0';
  bool tty = isatty(STDERR_FILENO);
  if (!tty && !last)
    return;
  fprintf(stderr, "%s[%s] | %3d%% Completed | %5.1fs%s", tty ? "\r" : "", bar,
          pct, elapsed, last ? "\n" : "");
  fflush(stderr);
}

void dusk__progress(size_t done, size_t total, int64_t start, bool last) {
  double elapsed = (double)(dusk__now() - start) / 1e9;
  pthread_mutex_lock(&progress_lock);
  dusk_progress_fn fn = progress_fn;
  void *udata = progress_udata;
  pthread_mutex_unlock(&progress_lock);
  if (fn)
    fn(done, total, elapsed, udata);
  else
    draw_bar(done, total, elapsed, last);
}

/* ---------------------------------------------------------------- trace */

/* A task's event, or a flow: from thread tid at `start` to thread `to` at
   `end` (to is -1 for a task). */
typedef struct event {
  int64_t start, end;
  uint64_t id; /* a task's node, or a flow's own number */
  int tid, to;
  char name[44]; /* copied: the graph may be gone when it is written */
} event;

enum { EVENTS = 4096 };

typedef struct buffer {
  pthread_mutex_t lock;
  struct buffer *next;
  int n;
  event ev[EVENTS];
} buffer;

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *trace_file;
static _Atomic int64_t trace_t0; /* read by workers for flows: relaxed */
static atomic_bool trace_flows;
static atomic_ullong next_flow;
static bool trace_first; /* no event written yet: no comma before it */
static buffer *buffers;  /* every thread's, for the final flush */
static int named_tids[64];
static _Thread_local buffer *mine;

static void write_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static double since_t0(int64_t t) {
  return (double)(t - atomic_load_explicit(&trace_t0, memory_order_relaxed)) /
         1e3;
}

/* With trace_lock held: the two halves of a flow. */
static void write_flow(const event *e) {
  fprintf(trace_file,
          "%s{\"name\":\"argument\",\"cat\":\"dependency\",\"ph\":\"s\","
          "\"id\":%llu,\"pid\":1,\"tid\":%d,\"ts\":%.3f},\n"
          "{\"name\":\"argument\",\"cat\":\"dependency\",\"ph\":\"f\","
          "\"bp\":\"e\",\"id\":%llu,\"pid\":1,\"tid\":%d,\"ts\":%.3f}",
          trace_first ? "" : ",\n", (unsigned long long)e->id, e->tid,
          since_t0(e->start), (unsigned long long)e->id, e->to,
          since_t0(e->end));
  trace_first = false;
}

/* With trace_lock held. */
static void write_events(buffer *b) {
  for (int i = 0; i < b->n && trace_file; i++) {
    event *e = &b->ev[i];
    if (e->to >= 0) {
      write_flow(e);
      continue;
    }
    if (e->tid >= 0 && e->tid < 64 && !named_tids[e->tid]) {
      named_tids[e->tid] = 1;
      fprintf(trace_file,
              "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
              "\"args\":{\"name\":\"%s %d\"}}",
              trace_first ? "" : ",\n", e->tid,
              e->tid ? "dusk worker" : "outside the pool", e->tid);
      trace_first = false;
    }
    fprintf(trace_file, "%s{\"name\":", trace_first ? "" : ",\n");
    write_json_string(trace_file, e->name);
    fprintf(trace_file,
            ",\"cat\":\"task\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,"
            "\"dur\":%.3f,\"args\":{\"node\":%llu}}",
            e->tid, since_t0(e->start), (double)(e->end - e->start) / 1e3,
            (unsigned long long)e->id);
    trace_first = false;
  }
  b->n = 0;
}

/* The thread's buffer, made on first use; NULL when out of memory. */
static buffer *my_buffer(void) {
  buffer *b = mine;
  if (!b) {
    if (!(b = dusk__calloc(1, sizeof *b)))
      return NULL;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_lock(&trace_lock);
    b->next = buffers;
    buffers = b;
    pthread_mutex_unlock(&trace_lock);
    mine = b;
  }
  return b;
}

/* A slot for one more event, with b->lock held; writes b out when full. */
static event *next_event(buffer *b) {
  if (b->n == EVENTS) {
    pthread_mutex_lock(&trace_lock);
    write_events(b);
    pthread_mutex_unlock(&trace_lock);
  }
  return &b->ev[b->n++];
}

/* With b->lock held: a flow from each argument whose task was traced. */
static void add_flows(buffer *b, const dusk_node *n, int tid, int64_t mid) {
  int64_t t0 = atomic_load_explicit(&trace_t0, memory_order_relaxed);
  dusk_node *const *args = dusk__args(n);
  for (int i = 0; i < n->nargs; i++) {
    uint16_t f = atomic_load_explicit(&args[i]->flags, memory_order_relaxed);
    const dusk__timing *t =
        f & DUSK__LITERAL ? NULL : dusk__node_timing(args[i]);
    if (!t || t->start < t0)
      continue; /* not run, or not in this trace */
    int64_t from = t->start + (int64_t)((double)t->seconds * 0.5e9);
    *next_event(b) = (event){from, mid, atomic_fetch_add(&next_flow, 1),
                             t->tid, tid, {0}};
  }
}

void dusk__trace_task(const dusk_node *n, int tid, int64_t start,
                      int64_t end) {
  buffer *b = my_buffer();
  if (!b)
    return; /* no memory: this event is not traced */
  const char *name = dusk__graph_name(dusk__graph_of(n), n);
  pthread_mutex_lock(&b->lock);
  event *e = next_event(b);
  *e = (event){start, end, dusk__node_id(n), tid, -1, {0}};
  snprintf(e->name, sizeof e->name, "%s", name);
  if (atomic_load_explicit(&trace_flows, memory_order_relaxed))
    add_flows(b, n, tid, start + (end - start) / 2);
  pthread_mutex_unlock(&b->lock);
}

void dusk__diag_task(dusk_node *n, int diag, int tid, int64_t start) {
  int64_t end = dusk__now();
  dusk__stats_time(n, tid, start, end);
  if (diag & DUSK__DIAG_TRACE)
    dusk__trace_task(n, tid, start, end);
}

static bool env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

int dusk_trace_start(const char *path) {
  return dusk_trace_start_flags(path, 0);
}

int dusk_trace_start_flags(const char *path, unsigned flags) {
  if (!path)
    return dusk__set_error(DUSK_EINVAL, "trace: NULL path");
  if (flags & ~DUSK_TRACE_FLOWS)
    return dusk__set_error(DUSK_EINVAL, "trace: unknown flags 0x%x",
                           flags & ~DUSK_TRACE_FLOWS);
  FILE *f = fopen(path, "w");
  if (!f)
    return dusk__set_error(DUSK_EIO, "trace: cannot write %s", path);
  dusk_trace_stop();
  pthread_mutex_lock(&trace_lock);
  trace_file = f;
  atomic_store_explicit(&trace_t0, dusk__now(), memory_order_relaxed);
  atomic_store_explicit(&trace_flows,
                        (flags & DUSK_TRACE_FLOWS) ||
                            env_on("DUSK_TRACE_FLOWS"),
                        memory_order_relaxed);
  trace_first = true;
  memset(named_tids, 0, sizeof named_tids);
  fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
  pthread_mutex_unlock(&trace_lock);
  atomic_fetch_or(&dusk__diag, DUSK__DIAG_TRACE);
  return DUSK_OK;
}

int dusk_trace_stop(void) {
  atomic_fetch_and(&dusk__diag, ~DUSK__DIAG_TRACE);
  pthread_mutex_lock(&trace_lock);
  buffer *all = buffers; /* the list only grows at its head */
  bool tracing = trace_file != NULL;
  pthread_mutex_unlock(&trace_lock);
  if (!tracing)
    return DUSK_OK;
  /* Lock order: a buffer's lock, then the trace lock (as a full buffer is
     written). A task still finishing now waits for its buffer. */
  for (buffer *b = all; b; b = b->next) {
    pthread_mutex_lock(&b->lock);
    pthread_mutex_lock(&trace_lock);
    write_events(b);
    pthread_mutex_unlock(&trace_lock);
    pthread_mutex_unlock(&b->lock);
  }
  pthread_mutex_lock(&trace_lock);
  FILE *f = trace_file;
  if (!f) { /* another thread stopped it meanwhile */
    pthread_mutex_unlock(&trace_lock);
    return DUSK_OK;
  }
  fputs("\n]}\n", f);
  trace_file = NULL;
  pthread_mutex_unlock(&trace_lock);
  return fclose(f) == 0 ? DUSK_OK
                        : dusk__set_error(DUSK_EIO, "trace: write failed");
}

/* ------------------------------------------------------ the environment */

static void trace_at_exit(void) { dusk_trace_stop(); }

void dusk__diag_init(void) {
  if (env_on("DUSK_PROGRESS"))
    dusk_set_progress(1, NULL, NULL);
  dusk__stats_init();
  const char *t = getenv("DUSK_TRACE");
  if (t && *t) {
    if (dusk_trace_start(t) == DUSK_OK)
      atexit(trace_at_exit);
    else
      fprintf(stderr, "dusk: DUSK_TRACE=\"%s\": cannot write it\n", t);
  }
}
