/*
** Errors. The codes are an X-macro table in dusk.h; dusk_strerror is
** derived from it. Calls refused before any node exists to carry the reason
** leave it in a thread-local buffer, the errno model (dusk_last_error).
** A node that failed has a record in its graph (a uthash table keyed by the
** node): its code and message. A node that did not run gets its message
** only when asked, from the node that caused it (kept in its value slot
** while it is FAILED), so a failure early in a large compute costs one
** record, not one per node it stopped.
*/
#include "src/core.h"
#include "src/uthash_dusk.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct dusk__err {
  const dusk_node *node;
  int code;
  char *msg;
  UT_hash_handle hh;
} err;

static int node_state(const dusk_node *n) {
  return atomic_load_explicit(&n->state, memory_order_acquire);
}

static int kind_of(const dusk_node *n) {
  return atomic_load_explicit(&n->kind, memory_order_relaxed);
}

static uint16_t node_flags(const dusk_node *n) {
  return atomic_load_explicit(&n->flags, memory_order_relaxed);
}

static _Thread_local int last_code;
static _Thread_local char last_msg[256];

const char *dusk_strerror(int code) {
  switch (code) {
#define DUSK__TEXT(name, value, text)                                         \
  case value:                                                                 \
    return text;
    DUSK_ERRORS(DUSK__TEXT)
#undef DUSK__TEXT
  }
  return "unknown error code";
}

int dusk__set_error(int code, const char *fmt, ...) {
  last_code = code;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
  if (len < 0)
    snprintf(last_msg, sizeof last_msg, "%s", dusk_strerror(code));
  return code;
}

int dusk_last_error(const char **msg) {
  if (msg)
    *msg = last_msg;
  return last_code;
}

/* ------------------------------------------------- node error records */

const char *dusk__label(const dusk_node *n, char *buf, size_t size) {
  dusk_graph *g = dusk__graph_of(n);
  const char *name = dusk__graph_name(g, n);
  if (node_flags(n) & DUSK__NAMED)
    snprintf(buf, size, "%s", name);
  else
    snprintf(buf, size, "%s#%llu", name,
             (unsigned long long)dusk__node_id(n));
  return buf;
}

/* With g->lock held. */
static err *find_error(dusk_graph *g, const dusk_node *n) {
  err *e = NULL;
  HASH_FIND_PTR(g->errors, &n, e);
  return e;
}

void dusk__forget_error(dusk_graph *g, dusk_node *n) {
  err *e = find_error(g, n);
  if (e) {
    HASH_DEL(g->errors, e);
    dusk__free(e->msg);
    dusk__free(e);
  }
}

/* Store msg as n's error record (msg is taken, also on failure). */
void dusk__store_error(dusk_graph *g, const dusk_node *n, int code,
                        char *msg) {
  err *e = dusk__malloc(sizeof *e);
  pthread_mutex_lock(&g->lock);
  err *old = find_error(g, n);
  if (old) {
    HASH_DEL(g->errors, old);
    dusk__free(old->msg);
    dusk__free(old);
  }
  if (e && msg) {
    e->node = n;
    e->code = code;
    e->msg = msg;
    dusk__hash_oom = 0;
    HASH_ADD_PTR(g->errors, node, e);
    if (dusk__hash_oom) {
      dusk__free(e);
      dusk__free(msg);
    }
  } else {
    dusk__free(e);
    dusk__free(msg);
  }
  pthread_mutex_unlock(&g->lock);
}

char *dusk__format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0)
    return NULL;
  char *s = dusk__malloc((size_t)len + 1);
  if (s) {
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
  }
  return s;
}

/* Follow "not run: upstream" links to the first node that did not fail
   because of an argument (bounded, in case a link was recomputed since).
   Under the graph lock: a failed node is taken up again only under it
   (compute.c), and then its value slot holds no cause but a count or a
   dependent, which must not be followed. */
static const dusk_node *root_cause(dusk_graph *g, const dusk_node *n) {
  pthread_mutex_lock(&g->lock);
  for (int hops = 0; hops < 1 << 20; hops++) {
    if (node_state(n) != DUSK__FAILED ||
        atomic_load_explicit(&n->kind, memory_order_relaxed) !=
            DUSK__FAIL_UPSTREAM)
      break;
    const dusk_node *c = n->val.ptr;
    if (!c || c == n)
      break;
    n = c;
  }
  pthread_mutex_unlock(&g->lock);
  return n;
}

/* The message of an own failure, or NULL. */
static const char *own_message(dusk_graph *g, const dusk_node *n) {
  if (!n)
    return NULL;
  pthread_mutex_lock(&g->lock);
  err *e = find_error(g, n);
  pthread_mutex_unlock(&g->lock);
  return e ? e->msg : NULL;
}

/*
** A node that did not run gets its message when first asked: "upstream" and
** the message of the node that failed, when a failed argument stopped it;
** "the compute stopped after" and that message, when the compute stopped
** (for it, or for an argument of it) before it could run.
*/
static char *not_run_message(dusk_graph *g, const dusk_node *n) {
  char self[128];
  dusk__label(n, self, sizeof self);
  const dusk_node *root = root_cause(g, n);
  /* The flag decides (a wait runs such a node again): the links it was
     stopped through may have failed for real since. */
  bool stopped = atomic_load_explicit(&n->flags, memory_order_relaxed) &
                 DUSK__NOT_RUN;
  if (!stopped) {
    int how = root != n && node_state(root) == DUSK__FAILED ? kind_of(root)
                                                            : -1;
    const char *why = how == DUSK__FAIL_OWN || how == DUSK__FAIL_CANCELLED
                          ? own_message(g, root)
                          : NULL;
    if (why || root == n)
      return dusk__format("%s not run: upstream %s", self,
                          why ? why : "failed");
    char up[128]; /* the node that failed was taken up again since */
    return dusk__format("%s not run: upstream %s failed (it was run again "
                        "since)", self, dusk__label(root, up, sizeof up));
  }
  const dusk_node *first = kind_of(root) == DUSK__FAIL_STOPPED ? root->val.ptr
                                                            : NULL;
  const char *why = own_message(g, first);
  int code = dusk_errcode(n);
  if (why)
    return dusk__format("%s not run: the compute stopped after %s", self, why);
  return dusk__format("%s not run: the compute stopped (%s)", self,
                dusk_strerror(code));
}

const char *dusk_errmsg(const dusk_node *n) {
  if (!n || node_state(n) != DUSK__FAILED)
    return NULL;
  dusk_graph *g = dusk__graph_of(n);
  const char *msg = own_message(g, n);
  if (msg)
    return msg;
  dusk__store_error(g, n, dusk_errcode(n), not_run_message(g, n));
  msg = own_message(g, n);
  return msg ? msg : "not run (no memory for the message)";
}

/*
** The code lives in the node's pending count while it is FAILED; a compute
** that takes the node up again (a retry) reuses that count. So the code is
** read between two looks at the state: if the node left FAILED meanwhile,
** it did not fail in its last compute (yet): DUSK_OK.
*/
int dusk_errcode(const dusk_node *n) {
  if (!n || node_state(n) != DUSK__FAILED)
    return DUSK_OK;
  int code = kind_of(n) == DUSK__FAIL_CANCELLED
                 ? DUSK_ECANCELED
                 : atomic_load_explicit(&n->pending, memory_order_acquire);
  atomic_thread_fence(memory_order_acquire); /* the reads before the look */
  return node_state(n) == DUSK__FAILED ? code : DUSK_OK;
}


void dusk__free_errors(dusk_graph *g) {
  err *x, *tmp;
  HASH_ITER(hh, g->errors, x, tmp) {
    HASH_DEL(g->errors, x);
    dusk__free(x->msg);
    dusk__free(x);
  }
}
