/*
** The work-stealing deque of Chase and Lev ("Dynamic circular work-stealing
** deque", SPAA 2005), with the C11 memory orders proven correct by Le, Pop,
** Cohen and Zappa Nardelli ("Correct and efficient work-stealing for weak
** memory models", PPoPP 2013).
**
** The owner pushes and pops at the bottom without locks; thieves take from
** the top with one CAS. Only when one item is left do the owner and a thief
** race, and the same CAS on top decides it. The ring grows by doubling; an
** old ring may still be read by a thief that loaded it before the swap, so it
** is kept until the deque is destroyed (the rings add up to less than twice
** the largest one).
*/
#include "scheduler/sched.h"
#include "src/alloc.h"

struct dusk__ring {
  long long mask;           /* capacity - 1; capacity a power of two */
  dusk__ring *next_retired; /* chain of rings this one replaced      */
  _Atomic(void *) slot[];
};

static dusk__ring *ring_new(long long capacity) {
  dusk__ring *r = dusk__malloc(sizeof *r + (size_t)capacity * sizeof(void *));
  if (!r)
    return NULL;
  r->mask = capacity - 1;
  r->next_retired = NULL;
  return r;
}

static void *ring_get(dusk__ring *r, long long i) {
  return atomic_load_explicit(&r->slot[i & r->mask], memory_order_relaxed);
}

static void ring_put(dusk__ring *r, long long i, void *x) {
  atomic_store_explicit(&r->slot[i & r->mask], x, memory_order_relaxed);
}

int dusk__deque_init(dusk__deque *q, long capacity) {
  long long cap = 16;
  while (cap < capacity)
    cap <<= 1;
  dusk__ring *r = ring_new(cap);
  if (!r)
    return -1;
  atomic_init(&q->top, 0);
  atomic_init(&q->bottom, 0);
  atomic_init(&q->ring, r);
  q->retired = NULL;
  return 0;
}

void dusk__deque_destroy(dusk__deque *q) {
  dusk__free(atomic_load_explicit(&q->ring, memory_order_relaxed));
  for (dusk__ring *r = q->retired, *next; r; r = next) {
    next = r->next_retired;
    dusk__free(r);
  }
  q->retired = NULL;
}

/* Owner only. Copy the live items [t, b) into a ring twice the size. */
static dusk__ring *grow(dusk__deque *q, dusk__ring *old, long long t,
                        long long b) {
  dusk__ring *r = ring_new(2 * (old->mask + 1));
  if (!r)
    return NULL;
  for (long long i = t; i < b; i++)
    ring_put(r, i, ring_get(old, i));
  old->next_retired = q->retired;
  q->retired = old;
  /* Release: a thief that loads the new ring sees the copied slots. */
  atomic_store_explicit(&q->ring, r, memory_order_release);
  return r;
}

/* Owner only. */
int dusk__deque_push(dusk__deque *q, void *item) {
  long long b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
  long long t = atomic_load_explicit(&q->top, memory_order_acquire);
  dusk__ring *r = atomic_load_explicit(&q->ring, memory_order_relaxed);
  if (b - t > r->mask && !(r = grow(q, r, t, b)))
    return -1;
  ring_put(r, b, item);
  /* Release publishes slot b, and everything the owner wrote into the item
     before pushing it, to the thief that reads this bottom. */
  atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
  return 0;
}

/* Owner only. NULL when empty or when a thief won the last item. */
void *dusk__deque_pop(dusk__deque *q) {
  long long b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
  dusk__ring *r = atomic_load_explicit(&q->ring, memory_order_relaxed);
  atomic_store_explicit(&q->bottom, b, memory_order_relaxed);
  /* The full fence orders the claim of slot b before reading top: either a
     thief sees the smaller bottom, or we see its larger top. */
  atomic_thread_fence(memory_order_seq_cst);
  long long t = atomic_load_explicit(&q->top, memory_order_relaxed);
  if (t > b) { /* empty: restore */
    atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
    return NULL;
  }
  void *x = ring_get(r, b);
  if (t == b) { /* the last item: race the thieves for it on top */
    if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed))
      x = NULL;
    atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
  }
  return x;
}

/*
** Owner only, on a deque no thread ever steals from (the one worker of a
** pool of one: it has no one to steal from it). Then only the owner moves
** bottom and no one moves top, so the fence and the race for the last item
** of dusk__deque_pop() have nothing to order: this is a plain stack pop.
*/
void *dusk__deque_pop_alone(dusk__deque *q) {
  long long b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
  long long t = atomic_load_explicit(&q->top, memory_order_relaxed);
  if (t > b)
    return NULL;
  dusk__ring *r = atomic_load_explicit(&q->ring, memory_order_relaxed);
  atomic_store_explicit(&q->bottom, b, memory_order_relaxed);
  return ring_get(r, b);
}

/* Any thread. An item, DUSK__STEAL_EMPTY, or DUSK__STEAL_RETRY. */
void *dusk__deque_steal(dusk__deque *q) {
  long long t = atomic_load_explicit(&q->top, memory_order_acquire);
  atomic_thread_fence(memory_order_seq_cst);
  long long b = atomic_load_explicit(&q->bottom, memory_order_acquire);
  if (t >= b)
    return DUSK__STEAL_EMPTY;
  dusk__ring *r = atomic_load_explicit(&q->ring, memory_order_acquire);
  void *x = ring_get(r, t);
  if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
    return DUSK__STEAL_RETRY;
  return x;
}

long dusk__deque_size(dusk__deque *q) {
  long long b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
  long long t = atomic_load_explicit(&q->top, memory_order_relaxed);
  return b > t ? (long)(b - t) : 0;
}
