/*
** dusk: lazy task graphs for C.
**
** This header is the whole contract: what is not declared here is not API.
**
** The model in a few sentences. A graph owns nodes. A literal node holds a
** value; a call node holds a function and its argument nodes. Building a call
** runs nothing: it only records that the call needs its arguments. Computing
** a node runs, on a pool of worker threads, exactly the calls it needs that
** have no result yet, each once, each after all of its arguments, and frees
** every intermediate result as soon as its last consumer in that compute has
** run. The requested results stay in the graph until dusk_release().
**
** Threads. Unless a comment says otherwise, any thread may call any function,
** also a running task, and several threads may build and compute on one graph
** at once. A graph must not be freed while another thread uses it.
*/
#ifndef DUSK_H
#define DUSK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DUSK_VERSION_MAJOR 0
#define DUSK_VERSION_MINOR 1
#define DUSK_VERSION_PATCH 0
#define DUSK_VERSION "0.1.0"

#if defined(_WIN32)
#define DUSK_API
#elif defined(__GNUC__)
#define DUSK_API __attribute__((visibility("default")))
#else
#define DUSK_API
#endif

#if defined(__GNUC__)
#define DUSK__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DUSK__PRINTF(f, a)
#endif

/*
** Error codes: 0 is success, every error is negative. The table is written
** once; the enum and dusk_strerror() are both derived from it.
*/
#define DUSK_ERRORS(X)                                                        \
  X(DUSK_OK, 0, "success")                                                    \
  X(DUSK_EINVAL, -1, "invalid argument")                                      \
  X(DUSK_ENOMEM, -2, "out of memory")                                         \
  X(DUSK_ETASK, -3, "a task failed")                                          \
  X(DUSK_ECANCELED, -4, "cancelled")                                          \
  X(DUSK_ETIMEDOUT, -5, "timed out")                                          \
  X(DUSK_ENORESULT, -6, "no result: the node is not computed or kept")        \
  X(DUSK_EBUSY, -7, "the result is in use by a running compute")             \
  X(DUSK_ETHREAD, -8, "could not start a thread")                            \
  X(DUSK_EIO, -9, "input/output failed: a file or a helper program")

typedef enum dusk_code {
#define DUSK__ENUM(name, value, text) name = value,
  DUSK_ERRORS(DUSK__ENUM)
#undef DUSK__ENUM
} dusk_code;

typedef struct dusk_graph dusk_graph; /* owns its nodes and their results     */
typedef struct dusk_node dusk_node;   /* borrowed; valid until dusk_graph_free */
typedef struct dusk_task dusk_task;   /* the running task's context            */
typedef struct dusk_pool dusk_pool;   /* worker threads                        */

/* ---------------------------------------------------------------- values */

typedef enum dusk_kind { DUSK_NONE, DUSK_I64, DUSK_F64, DUSK_PTR } dusk_kind;

/*
** A value: a 64-bit integer, a double, or a pointer with an optional size and
** an optional function that releases it. A value handed to dusk with a
** non-NULL `free` is released by dusk exactly once, even when the call that
** received it fails.
*/
typedef struct dusk_value {
  dusk_kind kind;
  union {
    int64_t i64;
    double f64;
    void *ptr;
  };
  size_t size;             /* bytes behind ptr when known, else 0    */
  void (*free)(void *ptr); /* releases ptr; NULL: nothing to release */
} dusk_value;

/*
** Make a value. Inline, so that a task's `*out = dusk_i64(x)` is written
** straight into *out: a value made by a call is copied back from the stack
** before the call's stores are out, which stalls every task. The library
** also exports each by name, for code that cannot use the header.
*/
DUSK_API inline dusk_value dusk_i64(int64_t x) {
  dusk_value v = {DUSK_I64, {0}, 0, 0};
  v.i64 = x;
  return v;
}

DUSK_API inline dusk_value dusk_f64(double x) {
  dusk_value v = {DUSK_F64, {0}, 0, 0};
  v.f64 = x;
  return v;
}

/* A pointer; size and free_fn as in dusk_value (0 and NULL: neither). */
DUSK_API inline dusk_value dusk_ptr(void *p, size_t size,
                                    void (*free_fn)(void *)) {
  dusk_value v = {DUSK_PTR, {0}, size, free_fn};
  v.ptr = p;
  return v;
}

/*
** Release what a value owns (call v->free(v->ptr) when both are set) and
** make it DUSK_NONE. For values the caller owns, such as one from dusk_take().
** NULL: no-op.
*/
DUSK_API void dusk_value_clear(dusk_value *v);

/* --------------------------------------------------------------- errors */

/* Static text for a code; never NULL, never allocates. */
DUSK_API const char *dusk_strerror(int code);

/*
** The code of the last call on this thread that failed without a node to
** carry the reason (a refused dusk_call(), dusk_literal(), dusk_pool_new(),
** dusk_graph_new()), and, when msg is not NULL, its message. The message is
** owned by the thread and valid until its next dusk call. DUSK_OK and ""
** when no call has failed yet on this thread.
*/
DUSK_API int dusk_last_error(const char **msg);

/* ---------------------------------------------------------------- tasks */

/*
** A task reads its arguments (borrowed: they belong to dusk and stay valid
** until the task returns), writes its result into *out (handed to dusk, which
** releases it), and returns 0, or an error code. dusk_fail() sets the message
** and returns DUSK_ETASK, so a task can say `return dusk_fail(t, "...")`.
** *out starts as DUSK_NONE. When a task fails, whatever it wrote to *out is
** released. A task may build nodes and compute or wait on them.
*/
typedef int (*dusk_fn)(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out);

/* The udata given to dusk_call(); NULL for dusk_delayed(). */
DUSK_API void *dusk_task_udata(dusk_task *t);

/* The graph and the node the task runs for. */
DUSK_API dusk_graph *dusk_task_graph(dusk_task *t);
DUSK_API dusk_node *dusk_task_node(dusk_task *t);

/*
** Record why the task failed (printf-style) and return DUSK_ETASK. A later
** call replaces the message. The message reaches dusk_errmsg() only when the
** task returns non-zero. Thread: the task's own, while it runs.
*/
DUSK_API int dusk_fail(dusk_task *t, const char *fmt, ...) DUSK__PRINTF(2, 3);

/* ---------------------------------------------------------------- graphs */

/*
** A new, empty graph that computes on the default pool. NULL when out of
** memory (dusk_last_error() says DUSK_ENOMEM).
*/
DUSK_API dusk_graph *dusk_graph_new(void);

/*
** Free the graph, its nodes, and every result still held (each value's free
** is called once). Nodes started with dusk_start() or dusk_submit() that are
** still running are waited for first. NULL: no-op. Threads: not from a task
** of g; no compute on g may still be waited for, and no other thread may use
** g; nodes are invalid afterwards.
*/
DUSK_API void dusk_graph_free(dusk_graph *g);

/* Number of nodes built in g so far. */
DUSK_API size_t dusk_graph_size(const dusk_graph *g);

/*
** A node holding v. The graph owns v from now on, even when this fails: on
** failure v is released and NULL is returned (DUSK_EINVAL for a NULL graph or
** an unknown kind, DUSK_ENOMEM). Literals are always "done": computing one
** runs nothing and returns v.
*/
DUSK_API dusk_node *dusk_literal(dusk_graph *g, dusk_value v);

/*
** A call of fn with the results of args[0..nargs-1], in that order, and
** udata (dusk_task_udata()). Nothing runs. Every argument must be a node of
** g; the same node may appear more than once. args is copied, so it may be a
** temporary. Returns NULL and changes nothing on a NULL graph or function,
** nargs < 0, nargs > 0 with args NULL, a NULL argument, or an argument from
** another graph (DUSK_EINVAL), or when out of memory (DUSK_ENOMEM); see
** dusk_last_error(). The node is named "call" until dusk_set_name().
** Misuse not detected: an argument pointer that is not a node at all.
*/
DUSK_API dusk_node *dusk_call(dusk_graph *g, dusk_fn fn, void *udata, int nargs,
                              dusk_node *const *args);

/*
** dusk_call() with a name. `name` is not copied: it must outlive the graph
** (a string literal). dusk_delayed() passes the function's name.
*/
DUSK_API dusk_node *dusk_call_named(dusk_graph *g, const char *name, dusk_fn fn,
                                    void *udata, int nargs,
                                    dusk_node *const *args);

/*
** dusk_delayed(g, fn, a, b, ...): the call fn(a, b, ...), counted for you and
** named after fn, with udata NULL. dusk_delayed(g, fn) is a call with no
** arguments. Each argument must be a dusk_node pointer.
*/
#define DUSK__HEAD(first, ...) first
#define DUSK__TAIL(first, ...) __VA_ARGS__
#define DUSK__NAME(first, ...) #first
#define DUSK__ARGV(...) ((dusk_node *const[]){DUSK__TAIL(__VA_ARGS__, NULL)})
#define DUSK__DELAYED(call, g, ...)                                           \
  call((g), DUSK__NAME(__VA_ARGS__, ~), DUSK__HEAD(__VA_ARGS__, ~), NULL,     \
       (int)(sizeof DUSK__ARGV(__VA_ARGS__) / sizeof(dusk_node *)) - 1,       \
       DUSK__ARGV(__VA_ARGS__))
#define dusk_delayed(g, ...) DUSK__DELAYED(dusk_call_named, g, __VA_ARGS__)

/*
** A pure call (dask's delayed(..., pure=True)): dusk_call(), except that
** when a pure call of g built a node for the same fn and udata on the same
** arguments before, that node is returned and nothing is built. Arguments
** are the same when they are the same node, or literals of the same
** contents: the same kind, and for I64 and F64 the same bits (so 0.0 and
** -0.0 differ, a NaN matches itself), for a pointer with a size (and not
** NULL) the same size and bytes, for a pointer without one the same
** address; free functions do not count. Order and number count: f(a, b) is
** neither f(b, a) nor f(a). Only nodes built by pure calls are found:
** dusk_call() always builds a new node, and is not slowed by any of this.
** fn must depend on its arguments alone: one run serves every caller.
** The node found is shared in whatever state it is in. A kept result is
** shared too: dusk_take() or dusk_release() by one caller drops it for all
** (a later compute runs the node again). A failed node stays failed, and
** dusk_errmsg() keeps its message, until a compute that needs it runs it
** again: dusk_compute() retries a failed node, dusk_wait() returns its
** error without rerunning it. A cancelled node stays cancelled. It keeps
** the name it was built with: the name given to a call that finds a node
** is not used (dusk_set_name() renames the one node).
** Returns NULL and builds and remembers nothing, as dusk_call() and with
** the same checks (DUSK_EINVAL, DUSK_ENOMEM; see dusk_last_error()). A call
** that finds its node allocates nothing.
** Cost: the arguments are hashed and compared, a pointer literal with a
** size by all its bytes, each time; the bytes must not change while g
** lives (they are the graph's).
** Threads: any; pure calls and literals of one graph take a lock of the
** graph's in turn, so threads that make the same pure call at once get one
** node.
*/
DUSK_API dusk_node *dusk_call_pure(dusk_graph *g, dusk_fn fn, void *udata,
                                   int nargs, dusk_node *const *args);

/* dusk_call_pure() with a name, as dusk_call_named() (used only when the
   node is built). dusk_delayed_pure() passes the function's name. */
DUSK_API dusk_node *dusk_call_pure_named(dusk_graph *g, const char *name,
                                         dusk_fn fn, void *udata, int nargs,
                                         dusk_node *const *args);

/* dusk_delayed_pure(g, fn, a, b, ...): dusk_delayed() made a pure call. */
#define dusk_delayed_pure(g, ...)                                             \
  DUSK__DELAYED(dusk_call_pure_named, g, __VA_ARGS__)

/*
** dusk_literal(), except that when a dusk_literal_pure() of g holds a value
** of the same contents (as for dusk_call_pure()), that node is returned.
** Ownership: the graph owns v from now on, even when this fails. When a
** node is found, v is released at once (its free is called), unless v's
** pointer is the very pointer the node holds: the node releases it, once.
** If the node holds that pointer without a free function while v has one,
** v gets a node of its own (not remembered), which calls its free, once.
** Returns NULL as dusk_literal() (DUSK_EINVAL, DUSK_ENOMEM): then nothing
** is remembered. Literals made apart already count as one argument of a
** pure call; this one saves the nodes and the memory of copies.
** Threads: as dusk_call_pure().
*/
DUSK_API dusk_node *dusk_literal_pure(dusk_graph *g, dusk_value v);

/*
** Name a node (printf-style) for messages and pictures. The text is copied.
** Names need not be unique. A NULL node is ignored; when out of memory the
** node keeps its old name. Threads: not at the same time as a compute that
** reads the node's name (an error message being written for it).
*/
DUSK_API void dusk_set_name(dusk_node *n, const char *fmt, ...)
    DUSK__PRINTF(2, 3);

/*
** The node's name: the one given, or the function's name for dusk_delayed(),
** "call" for dusk_call(), "literal" for literals. Owned by the graph.
*/
DUSK_API const char *dusk_name(const dusk_node *n);

/* A number for the node, unique within its graph. */
DUSK_API uint64_t dusk_node_id(const dusk_node *n);

/* The graph that owns the node. */
DUSK_API dusk_graph *dusk_node_graph(const dusk_node *n);

/* ----------------------------------------------------------------- pools */

/*
** A pool of nthreads worker threads; 0: the default size (DUSK_NUM_THREADS,
** else the number of cores). NULL when nthreads is negative or above 1024
** (DUSK_EINVAL), out of memory, or a thread cannot start (DUSK_ETHREAD).
** Idle workers sleep: an idle pool uses no CPU.
*/
DUSK_API dusk_pool *dusk_pool_new(int nthreads);

/*
** Stop and join the workers, after they have run what was queued. NULL:
** no-op. Threads: not from one of the pool's own tasks; no graph may compute
** on it afterwards (give such graphs another pool first).
*/
DUSK_API void dusk_pool_free(dusk_pool *p);

/* The number of worker threads. */
DUSK_API int dusk_pool_size(const dusk_pool *p);

/*
** The pool made on first use for graphs that were given none. Its size comes
** from DUSK_NUM_THREADS, else the number of cores; a value that is not a
** whole number from 1 to 1024 falls back to the cores with a warning on
** stderr. It lives until the process ends. NULL if it cannot be made.
*/
DUSK_API dusk_pool *dusk_default_pool(void);

/*
** Compute g's nodes on p from now on; NULL: the default pool. Threads: not
** while a compute on g is running.
*/
DUSK_API void dusk_graph_set_pool(dusk_graph *g, dusk_pool *p);

/* ------------------------------------------------------ resource classes */

/*
** Resource classes: a limit on how many tasks that use one resource run at
** once (a library that is not thread-safe, such as HDF5; a disk; a licence
** server). Tag the nodes whose tasks use it with the class's name and give
** the pool a limit for that name: the pool then never runs more than
** `limit` tasks of the class at once. A worker never blocks for a slot: it
** sets the task aside and runs other work, and the task starts, oldest
** first, when a task of its class ends. Classes without a limit run freely.
** A task must not wait (a nested compute, dusk_wait) for a task of a class
** whose slots it and others like it hold: that would wait for ever, as a
** lock taken twice would.
*/

/*
** Put n's task in the class `resource` (1 to 255 characters, copied; NULL:
** in no class). Returns DUSK_OK; DUSK_EINVAL (NULL n, a literal, a bad
** name); DUSK_EBUSY (a compute has n: change it before or after);
** DUSK_ENOMEM (n keeps its class). Threads: any.
*/
DUSK_API int dusk_set_resource(dusk_node *n, const char *resource);

/* n's resource class (borrowed; valid until the graph is freed), or NULL. */
DUSK_API const char *dusk_resource(const dusk_node *n);

/*
** At most `limit` tasks of class `resource` run at once on p (NULL: the
** default pool); 0: no limit. It counts for tasks that start from now on;
** raising it lets waiting tasks start at once. Returns DUSK_OK, DUSK_EINVAL
** (negative limit, a bad name), DUSK_ENOMEM. Threads: any, any time.
*/
DUSK_API int dusk_pool_set_limit(dusk_pool *p, const char *resource,
                                 int limit);

/* The limit of `resource` on p (NULL: the default pool); 0 when none. */
DUSK_API int dusk_pool_limit(dusk_pool *p, const char *resource);

/* -------------------------------------------------------------- compute */

/*
** Run what `n` needs, then `n`, on the graph's pool, and wait for it.
** Returns DUSK_OK; DUSK_ETASK (a task failed: see dusk_errmsg(n)), or the
** code the failing task returned; DUSK_EINVAL (NULL g or n, n of another
** graph); DUSK_ENOMEM. out may be NULL.
** Ownership: on success *out is borrowed from the node, and the node keeps
** its result until dusk_release(n) or dusk_take(n); computing it again runs
** nothing. On failure *out is DUSK_NONE, and every result this compute made
** is released; results kept before stay kept.
** Threads: any thread, also a task; a worker that waits runs other tasks.
** Computes that overlap share work: a node that another compute is running,
** or that still has its result, is not run again. A compute fails only for
** a failure among what it needs: when another compute stops after a failure
** of its own and gives up a node this one waits for ("not run: the compute
** stopped"), this compute runs that node itself, once the other compute is
** done with it (its tasks that still run have ended). Should other computes
** keep giving up what this one needs, it tries 64 times, then returns the
** failure. A compute called from inside a task waits for such a node only
** that long too (64 tries, about half a second), then fails with the other
** compute's failure: the other compute may be waiting for that very task.
*/
DUSK_API int dusk_compute(dusk_graph *g, dusk_node *n, dusk_value *out);

/*
** dusk_compute() for n nodes at once, sharing what they have in common;
** outs (may be NULL) receives their results in order. Returns the first
** error; then every out is DUSK_NONE and this compute keeps no result.
*/
DUSK_API int dusk_compute_many(dusk_graph *g, int n, dusk_node *const *nodes,
                               dusk_value *outs);

/*
** Drop the result that n keeps after a compute (its free is called, now or,
** if a running compute still reads it, when that compute is done with it).
** No kept result, a literal, or NULL: no-op.
*/
DUSK_API void dusk_release(dusk_node *n);

/*
** Move n's kept result to the caller, who then owns it (dusk_value_clear()).
** The node no longer has a result: computing it again runs it again.
** Returns DUSK_OK; DUSK_EINVAL (NULL, or a literal, whose value stays with
** the graph); DUSK_ENORESULT (nothing kept); DUSK_EBUSY (a running compute
** still reads the result; try after it).
*/
DUSK_API int dusk_take(dusk_node *n, dusk_value *out);

/*
** Why n failed in its last compute, or NULL if it did not: "inc#3 failed:
** <what the task said>", or for a node that did not run because of another,
** "sum#9 not run: upstream inc#3 failed: <...>". Owned by the graph, valid
** until n is computed again or the graph is freed.
*/
DUSK_API const char *dusk_errmsg(const dusk_node *n);

/* The error code of n's last compute: DUSK_OK when it did not fail. */
DUSK_API int dusk_errcode(const dusk_node *n);

/* ---- futures: eager tasks, waiting, callbacks, maps and reductions ---- */

/*
** Delayed and future are one node type. What differs is only what starts a
** node: a delayed node runs when a compute needs it; a future is started at
** once (dusk_submit(), or dusk_start() on any nodes) and runs as soon as its
** arguments are ready, with no one waiting. Either kind may be an argument
** of the other: a compute that needs a future that is running waits for it,
** and one that is done is read, never run twice. A started node keeps its
** result, like a computed one, until dusk_release() or dusk_take().
*/

/* What a node is doing (dusk_status()). */
typedef enum dusk_state {
  DUSK_NOT_STARTED, /* no result, no compute: not yet, or freed after use */
  DUSK_WAITING,     /* claimed by a compute, waiting for its arguments    */
  DUSK_RUNNING,     /* its task runs                                        */
  DUSK_DONE,        /* it has its result (literals are always done)         */
  DUSK_FAILED,      /* it failed, or did not run because of a failure       */
  DUSK_CANCELLED,   /* it was cancelled, or needed a cancelled node         */
} dusk_state;

/*
** Start computing nodes[0..n-1] and return at once (dask's persist,
** map_async). Each keeps its result when done. Returns DUSK_OK, DUSK_EINVAL
** (as dusk_compute_many()), DUSK_ENOMEM. A failure of one task stops the
** others started by the same call, as in a compute; results made by it that
** succeeded are kept. A target that did not run because of the stop ends
** DUSK_FAILED, its message "not run: the compute stopped after ...", and
** its callbacks see that code; that is no answer of its own, so a wait
** (dusk_wait(), dusk_get()) on it runs it then.
*/
DUSK_API int dusk_start(dusk_graph *g, int n, dusk_node *const *nodes);

/*
** dusk_call() started at once: a future. NULL as dusk_call(), or when it
** cannot be started (DUSK_ENOMEM). dusk_future(g, fn, a, b) is to
** dusk_submit() what dusk_delayed() is to dusk_call().
*/
DUSK_API dusk_node *dusk_submit(dusk_graph *g, dusk_fn fn, void *udata,
                                int nargs, dusk_node *const *args);
DUSK_API dusk_node *dusk_submit_named(dusk_graph *g, const char *name,
                                      dusk_fn fn, void *udata, int nargs,
                                      dusk_node *const *args);
#define dusk_future(g, ...) DUSK__DELAYED(dusk_submit_named, g, __VA_ARGS__)

/* What n is doing now; DUSK_NOT_STARTED for NULL. A snapshot: it may change
   as soon as it is read. */
DUSK_API dusk_state dusk_status(const dusk_node *n);

/* Non-zero when n is finished: done, failed or cancelled. */
DUSK_API int dusk_ready(const dusk_node *n);

/*
** Wait until n is finished and return its code: DUSK_OK, or the error of
** its failure (see dusk_errmsg()). A node that is not started is computed;
** a running one is waited for; a failed one is not retried (dusk_compute()
** retries), except one that only did not run because the compute that had
** it stopped after another node's failure: that is no answer, and it runs
** now. Afterwards n keeps its result, as after dusk_compute().
** Threads: any; a worker that waits runs other tasks meanwhile.
*/
DUSK_API int dusk_wait(dusk_node *n);

/*
** dusk_wait() for at most timeout_ms milliseconds (negative: no limit).
** DUSK_ETIMEDOUT when n is not finished by then; it goes on running.
*/
DUSK_API int dusk_wait_for(dusk_node *n, long timeout_ms);

/* dusk_wait(), then n's result (borrowed, as from dusk_compute()). */
DUSK_API int dusk_get(dusk_node *n, dusk_value *out);

/*
** Wait until one of nodes[0..count-1] is finished and return its index (the
** lowest, if several are), starting those not started; DUSK_ETIMEDOUT after
** timeout_ms milliseconds (negative: no limit); DUSK_EINVAL for bad
** arguments; DUSK_ENOMEM. For as-completed loops: wait, handle the node,
** drop it from the array, wait again.
*/
DUSK_API int dusk_wait_any(dusk_node *const *nodes, int count,
                           long timeout_ms);

/*
** Call cb(n, code, udata) exactly once, when n finishes (code DUSK_OK, or
** its error: DUSK_ECANCELED when cancelled), or at once on this thread if
** it has finished already. It is called on the worker that finished n,
** right after n's result is published; it must not block for long. If the
** graph is freed first, it is called from dusk_graph_free() with
** DUSK_ECANCELED. Registering on a node that is not started waits for a
** compute to run it; on a running one, for that run to finish (not an
** earlier run's, however late its worker is). A node that did not run
** because its compute stopped after a failure elsewhere finishes with that
** failure's code here, although a later wait or compute runs it.
** Returns DUSK_OK, DUSK_EINVAL (NULL n or cb), DUSK_ENOMEM (nothing
** registered, cb never called).
*/
typedef void (*dusk_done_fn)(dusk_node *n, int code, void *udata);
DUSK_API int dusk_on_done(dusk_node *n, dusk_done_fn cb, void *udata);

/*
** Cancel n. A node that has not started will never run: it fails with
** DUSK_ECANCELED, its dependents fail naming it, and it stays cancelled for
** later computes; cancelling it again changes nothing. Returns DUSK_OK (it
** will not run), DUSK_EBUSY (its task is running: it goes on, and can stop
** early by checking dusk_task_cancelled(); if it then fails with
** DUSK_ECANCELED the node stays cancelled, if it succeeds the cancel came
** too late and is dropped; when the cancel meets the task's start, its
** worker may also stop it before it runs), DUSK_EINVAL (NULL, a literal, or
** already finished, also when cancelled before). Two cancels of one node at
** once may both return DUSK_OK.
*/
DUSK_API int dusk_cancel(dusk_node *n);

/* Non-zero when the running task's node was cancelled. Task thread only. */
DUSK_API int dusk_task_cancelled(dusk_task *t);

/*
** A map over the index range [begin, end) in chunks: one delayed call of fn
** per chunk, whose arguments are two I64 literals, the chunk's first and
** one-past-last index (udata is passed to every call). chunk 0 picks
** ceil(N / workers of the graph's pool). Writes the nodes to nodes[0..] and
** returns their number; with nodes NULL returns only the number. Start them
** with dusk_start() (map_async) or compute them. Returns DUSK_EINVAL for a
** NULL graph or fn, end < begin, chunk < 0, or max smaller than needed;
** DUSK_ENOMEM.
*/
DUSK_API int dusk_map(dusk_graph *g, dusk_fn fn, void *udata, int64_t begin,
                      int64_t end, int64_t chunk, dusk_node **nodes, int max);

/*
** A tree reduction of nodes[0..count-1] with fn: calls of fn on at most
** split_every nodes each, level by level, down to one node, which is
** returned (delayed); one node is returned as it is. split_every 0: 8. fn must combine any number of
** partial results (2 to split_every) the way it combines inputs, as dask's
** reductions do. NULL for count < 1, split_every 1 or negative, a NULL
** graph, fn or node (DUSK_EINVAL), or no memory (DUSK_ENOMEM).
*/
DUSK_API dusk_node *dusk_reduce(dusk_graph *g, dusk_fn fn, void *udata,
                                dusk_node *const *nodes, int count,
                                int split_every);

/* ---- progress and traces ---- */

/*
** A progress bar for computes, on stderr like dask's ProgressBar:
** "[########            ] |  42% Completed |   1.3s", redrawn ten times a
** second by the thread that waits for a compute (on a terminal; elsewhere
** only the final line is written) and ended with a newline. With fn, fn is
** called instead (done and total tasks, seconds elapsed), from the waiting
** thread. on 0 turns it off. DUSK_PROGRESS=1 in the environment turns the
** built-in bar on when the first pool starts. Computes waited for by a
** worker (nested) and started ones (futures) draw nothing. Any thread.
*/
typedef void (*dusk_progress_fn)(size_t done, size_t total, double seconds,
                                 void *udata);
DUSK_API void dusk_set_progress(int on, dusk_progress_fn fn, void *udata);

/*
** Record every task run from now on into path, as Chrome trace-event JSON
** (open it in Perfetto or chrome://tracing): one complete event per task
** (its name, node id, start and duration) on a track per worker.
** dusk_trace_stop() writes what is buffered and closes the file; a new
** start stops the old trace first. DUSK_TRACE=path in the environment
** starts one when the first pool starts, stopped at exit. Returns DUSK_OK,
** DUSK_EINVAL (NULL path), DUSK_EIO (cannot write). Any thread.
*/
DUSK_API int dusk_trace_start(const char *path);
DUSK_API int dusk_trace_stop(void);

/*
** dusk_trace_start() with flags. DUSK_TRACE_FLOWS adds an arrow for each
** dependency between two tasks of the trace (Chrome flow events, "ph" "s"
** and "f", bound to the two tasks' events): from the event of the task that
** made an argument to the event of the task that read it. DUSK_TRACE_FLOWS=1
** in the environment adds the arrows to every trace. Returns as
** dusk_trace_start(), and DUSK_EINVAL for an unknown flag.
*/
#define DUSK_TRACE_FLOWS 1u
DUSK_API int dusk_trace_start_flags(const char *path, unsigned flags);

/* ---- statistics ---- */

/*
** What one compute did and where its time went (dask's Profiler in brief).
**
** The counts are of the calls this compute ran itself: `nodes` it had to
** run (nodes already computed, or run by another compute, are not its
** own), of which `tasks` ran (a task that failed, or could not start for
** want of memory, counts), `failed` failed, and `not_run` did not run
** (stopped by a failure, or cancelled).
**
** steals and parks are the pool's during the compute: how many tasks
** workers took from one another, and how many times a worker found nothing
** to do and went to sleep. Computes running alongside on the same pool
** are counted together.
**
** peak_live is the most results of tasks the graph held at once while the
** compute ran, sampled each time one of its tasks stored its result; it
** counts the compute's intermediates and targets, and also results kept
** from earlier computes and those of computes running alongside on the
** same graph. peak_bytes is the same for the bytes of results whose size is
** known (dusk_ptr() with a size); other results count 0 bytes. Only results
** stored while statistics were on are counted.
**
** Times, in seconds: wall_s from the call to its return; prepare_s finding
** and wiring what the targets need, before the first task is queued;
** run_s from then until the last target finished; settle_s from then until
** the call returned (waking the caller, keeping the results).
*/
typedef struct dusk_stats {
  uint64_t nodes, tasks, failed, not_run;
  uint64_t steals, parks;
  size_t peak_live, peak_bytes;
  double wall_s, prepare_s, run_s, settle_s;
  int threads; /* the pool's workers */
  int code;    /* what the compute returned (DUSK_OK, DUSK_ETASK, ...) */
} dusk_stats;

/*
** Collect statistics of every compute from now on (on non-zero), or stop
** (on 0). With log, a line per compute (dusk_stats_print()) is written to
** it as the compute ends, from the thread that ends it. DUSK_STATS=1 in the
** environment turns them on, logging to stderr, when the first pool
** starts. Also records how long each task takes, for dusk_dot_options'
** durations. Off, they cost nothing measurable; on, a few atomic counts
** and two clock reads per task. A compute that is running when they are
** switched has partial statistics. Any thread.
*/
DUSK_API void dusk_set_stats(int on, FILE *log);

/*
** The statistics of g's last compute: the last one to end, among those
** that had at least one node of their own to run and started while
** statistics were on. Waiting for a node that another compute runs
** (dusk_wait(), or computing it again while it runs) or that is done runs
** nothing of its own and leaves them as they were; so does a compute that
** could not start (bad arguments, no memory while setting up). A started
** compute (dusk_start(), dusk_submit(): one per call) ends when its last
** node finishes, recorded by the worker that finished it just after the
** node's waiters were woken: a thread that waited for that node may find
** them there a moment later. A task's nested compute on g is one of them,
** and ends before the task's own compute.
** Returns DUSK_OK; DUSK_EINVAL (NULL g or out); DUSK_ENORESULT (no such
** compute yet: *out is zeroed). Any thread.
*/
DUSK_API int dusk_graph_stats(dusk_graph *g, dusk_stats *out);

/*
** Write s as one line to f: "dusk stats: 1001 tasks run, 0 failed, 0 not
** run | wall 12.3 ms (prepare 0.41 ms, run 11.7 ms, settle 42.0 us) | 2
** threads, 3 steals, 2 parks | peak 1000 results, 7.81 MiB", and when the
** compute failed, " | " and dusk_strerror() of its code.
** Returns DUSK_OK, DUSK_EINVAL (NULL s or f), DUSK_EIO (writing failed).
*/
DUSK_API int dusk_stats_print(const dusk_stats *s, FILE *f);

/* ---- seeing the graph ---- */

/*
** How dusk_write_dot() draws. Every field's zero is its default, so
** `dusk_dot_options o = {0};` (or a NULL pointer) asks for the defaults.
**
** rankdir: the direction the arrows point, from arguments to their
** consumers: left to right (the default), top to bottom, bottom to top (as
** dask draws), right to left.
**
** view: DUSK_DOT_AUTO (the default) draws every node up to `threshold`
** nodes and collapses a larger picture; DUSK_DOT_EXPANDED always draws every
** node; DUSK_DOT_COLLAPSED always collapses. A collapsed picture draws one
** node per group of nodes that share a name once a trailing "-<digits>",
** "#<digits>" or "[<digits>]" is stripped ("load-17" and "load-18" are
** "load ×2"; nodes of dusk_delayed() are named after their function, so
** they group by function), with how many nodes of each state it holds, and
** one edge per pair of groups, labelled with how many edges it stands for.
** When names still give more than a couple of hundred groups, nodes are
** grouped by their function instead. graphviz's `dot` takes seconds for a
** thousand nodes and minutes for ten thousand; a collapsed million-node
** graph is about a kilobyte of DOT that it draws at once.
**
** threshold: DUSK_DOT_AUTO collapses a picture of more than this many
** nodes; 0: DUSK_DOT_THRESHOLD.
**
** durations: label each call with how long its task took when it last ran
** while statistics (dusk_set_stats()) or a trace were on ("load-3" over
** "1.24 ms"); a collapsed group shows the total and the mean of its
** members that have one. Calls without one are drawn as usual.
*/
typedef enum dusk_dot_rankdir {
  DUSK_DOT_LR,
  DUSK_DOT_TB,
  DUSK_DOT_BT,
  DUSK_DOT_RL
} dusk_dot_rankdir;

typedef enum dusk_dot_view {
  DUSK_DOT_AUTO,
  DUSK_DOT_EXPANDED,
  DUSK_DOT_COLLAPSED
} dusk_dot_view;

#define DUSK_DOT_THRESHOLD 500

typedef struct dusk_dot_options {
  dusk_dot_rankdir rankdir;
  dusk_dot_view view;
  size_t threshold;
  int durations; /* non-zero: show how long tasks took (see below) */
} dusk_dot_options;

/*
** Write, in graphviz's DOT language, the part of g that nodes[0..count-1]
** need: those nodes and every node they depend on, however deep (the walk
** uses no recursion). Calls are ellipses labelled with their names
** (dusk_name()), literals are boxes that show their value (the number, or
** "ptr" and its size), and each argument has an arrow to its consumer.
** Nodes are coloured by their state now, and carry it as a class (for CSS
** in SVG output) and in a tooltip: "idle" (never computed), "running",
** "done" (it ran; its result was freed when nothing needed it any more, or
** a consumer still holds it), "kept" (the result a compute was asked for,
** held until dusk_release(); see dusk_compute()), "failed" (its task
** failed; the tooltip is dusk_errmsg()), "not run" (a failure upstream, or
** the compute stopping, kept it from running). A legend counts the states
** once anything has been computed. Any name gives valid DOT: quotes,
** backslashes, newlines, '&' and non-ASCII text are written so that the
** drawing shows the name as it is (invalid UTF-8 and control characters as
** U+FFFD; labels past 200 bytes are cut with "…").
** Returns DUSK_OK; DUSK_EINVAL (NULL g or out, count < 1, nodes NULL, a NULL
** node, a node of another graph, an option out of range); DUSK_ENOMEM;
** DUSK_EIO (writing to out failed). Every error sets dusk_last_error(). It
** writes nothing when it fails before writing (bad arguments, no memory).
** Ownership: out stays the caller's; it is flushed, not closed.
** Threads: any thread, but only while no compute runs on g and no thread
** renames the drawn nodes: the states and names it reads would be torn.
*/
DUSK_API int dusk_write_dot(dusk_graph *g, dusk_node *const *nodes, int count,
                            FILE *out, const dusk_dot_options *opt);

/*
** Draw what nodes[0..count-1] need into the file `path`, in the format its
** extension names: ".svg", ".png" or ".pdf" run graphviz's `dot` (found on
** the PATH, started without a shell, so any file name works); ".dot" or
** ".gv" write the DOT text only. Defaults as dusk_write_dot() with NULL
** options; dusk_visualize_opt() takes options.
** Returns DUSK_OK; DUSK_EINVAL (as dusk_write_dot(), or a NULL path, or
** another extension); DUSK_ENOMEM; DUSK_EIO (the file cannot be written,
** `dot` is not on the PATH, or it failed: dusk_last_error() says which,
** with what `dot` printed). On failure `path` is left as it was: the output
** is written beside it and renamed into place when complete.
** Threads: as dusk_write_dot(); the calling thread waits for `dot`.
*/
DUSK_API int dusk_visualize(dusk_graph *g, dusk_node *const *nodes, int count,
                            const char *path);

/* dusk_visualize() with options; NULL: the defaults. */
DUSK_API int dusk_visualize_opt(dusk_graph *g, dusk_node *const *nodes,
                                int count, const char *path,
                                const dusk_dot_options *opt);

#ifdef __cplusplus
}
#endif

#endif /* DUSK_H */
