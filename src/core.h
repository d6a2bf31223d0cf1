/*
** What src/ files share: the compute ("run") record, error records, waiters,
** and the thread-local "last error" of refused calls.
*/
#ifndef DUSK_SRC_CORE_H
#define DUSK_SRC_CORE_H

#include "graph/graph.h"
#include "scheduler/sched.h"

#include <pthread.h>

/* The extra states of a node, beyond those of graph.h. */
enum {
  DUSK__CLAIMING = 7, /* a compute is setting the node up: wait a moment */
};

/* How a FAILED node failed (node.kind while FAILED). */
enum { DUSK__FAIL_OWN, DUSK__FAIL_UPSTREAM, DUSK__FAIL_STOPPED,
       DUSK__FAIL_CANCELLED /* its code is DUSK_ECANCELED: pending may still
                               be counted down by its arguments */ };

/*
** Statistics of one compute (src/stats.c), kept while they are on. Workers
** count into a slot of their own (worker w into slot (w + 1) % SLOTS, so a
** slot is shared only in pools of more than SLOTS - 1 workers), summed when
** the compute ends. A slot fills a cache line (padded rather than aligned:
** the slots come from malloc), so workers do not share lines.
*/
enum { DUSK__STAT_SLOTS = 16 };
typedef struct dusk__stat_slot {
  atomic_ullong tasks, failed;
  atomic_size_t peak_live, peak_bytes;
  char pad[64 - 2 * sizeof(atomic_ullong) - 2 * sizeof(atomic_size_t)];
} dusk__stat_slot;

typedef struct dusk__run_stats {
  bool on;                   /* they were on when the compute started     */
  int64_t t0, t_ready, t_done; /* started, first task queued, last done   */
  dusk__pool_stats pool;     /* the pool's counters when it started      */
  dusk__stat_slot *slot;     /* DUSK__STAT_SLOTS of them, made the first
                                time statistics are on (a compute record
                                lives as long as a future: kept small)    */
} dusk__run_stats;

/*
** One compute: the nodes it claimed, how many targets are still to finish,
** whether it failed, and how its caller waits.
*/
typedef struct dusk__run {
  dusk_graph *g;
  dusk__pool *pool;
  atomic_int failed;          /* 0, or the first error code              */
  _Atomic(dusk_node *) cause; /* the node that failed first              */
  atomic_int targets_left;
  atomic_int done;
  bool helper;                /* the caller is a worker of pool: it helps */
  bool async;                 /* no one waits: the last finisher settles  */
  bool no_retry;              /* failed targets are answers, not retried  */
  bool winding;               /* the last link found a failed node that
                                 another compute still winds down        */
  bool wound;                 /* a link of the set-up found such a node:
                                 waiting for it is not a try (compute.c) */
  atomic_bool again;          /* the first failure was a node another
                                 compute gave up on: try the compute again */
  size_t ntotal;              /* claimed nodes, for the progress bar     */
  atomic_size_t ndone;        /* finished ones, counted while it is on   */
  int64_t start;              /* when it started, with the progress bar  */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  dusk_node **order;          /* claimed, in order: [0, norder) (tagged) */
  size_t norder, cap;
  size_t nready;              /* then order[0, nready) are ready nodes   */
  dusk__batch batch;          /* how the pool reads them (no copy)       */
  struct dusk__cells *cells;  /* arena of dependent lists (kept)         */
  struct dusk__cells *cells_cur;
  struct dusk__link *log;     /* links to nodes of no one or of others   */
  size_t nlog, logcap;
  dusk__run_stats stats;
} dusk__run;

/* Set the thread's last error (printf-style); returns code. */
int dusk__set_error(int code, const char *fmt, ...) DUSK__PRINTF(2, 3);

/* The pool a graph computes on (the default pool when it has none). */
dusk__pool *dusk__graph_pool(dusk_graph *g);

/* ThreadSanitizer builds take the plain fences (it cannot see membarrier). */
#if defined(__SANITIZE_THREAD__)
#define DUSK__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DUSK__TSAN 1
#endif
#endif
#ifndef DUSK__TSAN
#define DUSK__TSAN 0
#endif

/* Choose the fences of finishing (see compute.c); before any pool runs. */
void dusk__fences_init(void);

/*
** Compute nodes[0..n-1]: wait for them until the deadline (CLOCK_MONOTONIC
** ns; 0: none; DUSK_ETIMEDOUT after it, the compute goes on), or with
** DUSK__ASYNC return once started. With DUSK__NO_RETRY a target that failed
** is not run again (a wait). outs (may be NULL) as in dusk_compute_many().
*/
enum { DUSK__ASYNC = 1, DUSK__NO_RETRY = 2 }; /* modes, or-ed */
int dusk__compute(dusk_graph *g, int n, dusk_node *const *nodes,
                  dusk_value *outs, int64_t deadline, int mode);

/* Register cb to run when n finishes, or run it now if it has. */
int dusk__on_done(dusk_node *n, dusk_done_fn cb, void *udata);

/* Diagnostics (src/diag.c): which are on, read once per task. */
enum { DUSK__DIAG_PROGRESS = 1, DUSK__DIAG_TRACE = 2, DUSK__DIAG_STATS = 4 };
extern atomic_int dusk__diag;

/* Off the hot path: what runs only while diagnostics are on. */
#if defined(__GNUC__)
#define DUSK__COLD __attribute__((noinline, cold))
#else
#define DUSK__COLD
#endif

/* The diagnostics that are on: one relaxed load. A build with DUSK_NO_DIAG
   defined compiles the hooks out; bench/ measures it beside the normal
   build, to show that diagnostics cost nothing while they are off. */
#ifdef DUSK_NO_DIAG
#define DUSK__DIAG_ON() 0
#else
#define DUSK__DIAG_ON() atomic_load_explicit(&dusk__diag, memory_order_relaxed)
#endif
int64_t dusk__now(void); /* CLOCK_MONOTONIC, ns */
void dusk__diag_init(void); /* DUSK_PROGRESS, DUSK_TRACE, DUSK_STATS; once */
void dusk__progress(size_t done, size_t total, int64_t start, bool last);

/* n's task ran on trace thread tid from start to now, with these diag bits
   (TRACE, STATS) on: record its timing, trace it. */
void dusk__diag_task(dusk_node *n, int diag, int tid, int64_t start);
void dusk__trace_task(const dusk_node *n, int tid, int64_t start, int64_t end);

/* Statistics (src/stats.c), each a no-op for a compute started without. */
void dusk__stats_init(void);                       /* DUSK_STATS; once   */
void dusk__stats_begin(dusk__run *r);              /* set up             */
void dusk__stats_free(dusk__run *r);               /* the record goes    */
void dusk__stats_ready(dusk__run *r);              /* first task queued  */
void dusk__stats_done(dusk__run *r);               /* last target done   */
void dusk__stats_end(dusk__run *r, int code);      /* before run_put     */
void dusk__stats_finish(dusk_node *n, int state);  /* statistics are on  */
void dusk__stats_time(dusk_node *n, int tid, int64_t start, int64_t end);

/* "1.24 ms", "42.0 us", "812 ns", "3.10 s": three figures and a unit. */
void dusk__format_seconds(double s, char *buf, size_t size);

/* Run one node and whatever becomes ready that it can run next. */
void dusk__exec(void *item);

/* "name#id", or the node's own name: into buf, which is returned. */
const char *dusk__label(const dusk_node *n, char *buf, size_t size);

/* Store msg (taken, also on failure; NULL: none) as n's error record. */
void dusk__store_error(dusk_graph *g, const dusk_node *n, int code, char *msg);

/* A printf-style string from the dusk allocator, or NULL. */
char *dusk__format(const char *fmt, ...) DUSK__PRINTF(1, 2);

/* Free every error record of g. */
void dusk__free_errors(dusk_graph *g);

/* Forget n's error record, if any. With g->lock held. */
void dusk__forget_error(dusk_graph *g, dusk_node *n);

/* Free every error and waiter record of g. */
void dusk__free_records(dusk_graph *g);

/*
** graph/dot.c: check the arguments of dusk_write_dot() but `out`. DUSK_OK,
** or DUSK_EINVAL with the last error set, its message starting with who.
*/
int dusk__dot_check(const char *who, dusk_graph *g, dusk_node *const *nodes,
                    int count, const dusk_dot_options *opt);

#endif
