/*
** dusk_cancel(): a node cancelled before it runs fails as cancelled, and so
** does everything that needs it; a running task sees the request through
** dusk_task_cancelled() and may stop.
**
** Against the worker. dusk_cancel() sets CANCELLED, then (full fence) reads
** the state; the worker stores RUNNING, then (fence) reads the flag. If the
** cancel saw CLAIMED, the worker sees the flag and does not run the task;
** if the worker missed the flag, the cancel sees RUNNING and says so
** (DUSK_EBUSY). A node still waiting for its arguments is finished at once
** as cancelled: CANCEL_BIAS on its pending count keeps its arguments'
** count-downs from making it ready, and the one that drains it hands it to
** a worker only to release its arguments (exec.c).
*/
#include "src/run.h"

/*
** Take back our request from a node found finished (s: DONE, or FAILED not
** as cancelled), which it came too late for. Not with a bare clear: between
** our reading s and the clear, a DONE intermediate may lose its last ref
** and go IDLE, a FAILED one be retried (take_failed), and the new compute's
** worker see our flag and cancel the node, which we would then answer
** DUSK_EINVAL and uncancel. So the node is held in the life we saw while
** we clear: a DONE one by a ref (it cannot go IDLE), a FAILED one by the
** graph lock (take_failed claims under it). False when it has moved on
** (look again: then our request may have taken effect).
*/
static bool retract(dusk_node *n, int s) {
  bool same;
  if (s == DUSK__DONE) {
    if (!try_retain(n)) { /* its last ref is going: it becomes IDLE */
      cpu_wait();
      return false;
    }
    /* Still DONE: the same life (a new one would have seen our flag). */
    same = node_state(n) == DUSK__DONE;
    if (same)
      atomic_fetch_and(&n->flags, (uint16_t)~DUSK__CANCELLED);
    release(n);
    return same;
  }
  dusk_graph *g = dusk__graph_of(n);
  pthread_mutex_lock(&g->lock);
  same = node_state(n) == DUSK__FAILED && !failed_by_cancel(n);
  if (same)
    atomic_fetch_and(&n->flags, (uint16_t)~DUSK__CANCELLED);
  pthread_mutex_unlock(&g->lock);
  return same;
}

int dusk_cancel(dusk_node *n) {
  if (!n || (node_flags(n) & DUSK__LITERAL))
    return dusk__set_error(DUSK_EINVAL, "cancel: %s",
                           n ? "a literal is always done" : "NULL node");
  int before = node_state(n); /* running now: the answer is EBUSY */
  /* Whether a cancel came before: a finished node keeps its flag then. */
  bool again = atomic_fetch_or_explicit(&n->flags, DUSK__CANCELLED,
                                        memory_order_seq_cst) &
               DUSK__CANCELLED;
  dusk__heavy_barrier();
  for (;;) {
    int s = node_state(n);
    uint8_t idle = DUSK__IDLE;
    if ((s == DUSK__IDLE || s == DUSK__CLAIMED) &&
        !(node_flags(n) & DUSK__CANCELLED)) {
      /* Its task was running and finished since: that finish dropped our
         request as too late (before any reader ran, so we see the drop).
         The node has no result again, or a new compute: ask anew. */
      atomic_fetch_or_explicit(&n->flags, DUSK__CANCELLED,
                               memory_order_seq_cst);
      dusk__heavy_barrier();
      continue;
    }
    switch (s) {
    case DUSK__CLAIMING:
      cpu_wait();
      continue;
    case DUSK__CLAIMED: {
      /* Still waiting for arguments? Then finish it now (see CANCEL_BIAS);
         if it became ready meanwhile, its worker will see the flag. Only
         the cancel that adds the bias finishes it: one at the same time
         finds the bias there and leaves the node to it. While its compute
         is still set up (its pending count and its list of dependents are
         being written), it is left to its worker too. Which compute that
         is cannot be asked safely (it may end, and its record go, at any
         moment): while any compute of the graph is being set up, the node
         is left to its worker. */
      if (atomic_load_explicit(&dusk__graph_of(n)->setting_up,
                               memory_order_acquire) != 0)
        return DUSK_OK;
      int p = atomic_load(&n->pending);
      while (p > 0 && p < CANCEL_BIAS &&
             !atomic_compare_exchange_weak(&n->pending, &p, p + CANCEL_BIAS))
        ;
      if (p >= CANCEL_BIAS)
        return again ? dusk__set_error(DUSK_EINVAL, "cancel: the node is "
                                                    "cancelled already")
                     : DUSK_OK;
      if (p > 0) {
        dusk__run *r = dusk__run_of(n);
        atomic_fetch_add(&r->targets_left, 1); /* held until it drains */
        mark_failed(r, DUSK_ECANCELED, n);
        dependents ds = dependents_of(n);
        dusk__record_cancel(n);
        dusk_node *next = dusk__finish(n, DUSK__FAILED, ds, false);
        if (next)
          dusk__push_or_run(next);
      }
      return DUSK_OK;
    }
    case DUSK__RUNNING:
      return dusk__set_error(DUSK_EBUSY, "cancel: the task is running");
    case DUSK__IDLE: /* never started: fail it as cancelled, for good */
      if (!atomic_compare_exchange_strong(&n->state, &idle, DUSK__CLAIMING))
        continue;
      dusk__record_cancel(n);
      if (dusk__publish_state(n, DUSK__FAILED) & DUSK__WAITERS)
        dusk__notify_waiters(n, NULL, true);
      return DUSK_OK;
    default: { /* DONE or FAILED: too late, or stopped by a cancel */
      /* Its worker may have seen our flag before we saw its state: it then
         never ran (cancelled), or its task saw it and stopped. Either way
         the flag stays: it keeps the node cancelled (link_to). Otherwise
         we undo our own request only, never an earlier cancel's. */
      int how = atomic_load_explicit(&n->kind, memory_order_relaxed);
      bool failed = s == DUSK__FAILED;
      bool cancelled = failed && how == DUSK__FAIL_CANCELLED;
      bool stopped = failed && how == DUSK__FAIL_OWN &&
                     dusk_errcode(n) == DUSK_ECANCELED;
      if (cancelled && !again)
        return DUSK_OK;
      if (!again && !cancelled && !stopped && !retract(n, s))
        continue;
      if (before == DUSK__RUNNING || (stopped && !again))
        return dusk__set_error(DUSK_EBUSY, "cancel: the task was running");
      return dusk__set_error(DUSK_EINVAL, "cancel: the node has finished");
    }
    }
  }
}
