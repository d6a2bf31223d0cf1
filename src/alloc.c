/*
** The allocator: the C library's malloc with a fault-injection hook for
** tests. The hook costs one relaxed atomic load per allocation when off.
*/
#include "src/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_long countdown; /* 0: off; else allocations left until one fails */
static atomic_int sticky;
static atomic_long failures;

static int should_fail(void) {
  if (atomic_load_explicit(&countdown, memory_order_relaxed) == 0)
    return 0;
  long left = atomic_fetch_sub(&countdown, 1);
  if (left == 1) {
    if (atomic_load(&sticky))
      atomic_store(&countdown, 1); /* the next one fails too */
    atomic_fetch_add(&failures, 1);
    return 1;
  }
  if (left <= 0) { /* raced past zero with another thread: undo */
    atomic_store(&countdown, 0);
    return 0;
  }
  return 0;
}

long dusk__alloc_fail_after(long n, int stick) {
  atomic_store(&sticky, stick);
  atomic_store(&countdown, n < 0 ? 0 : n);
  return atomic_exchange(&failures, 0);
}

void *dusk__malloc(size_t n) {
  return should_fail() ? NULL : malloc(n ? n : 1);
}

void *dusk__calloc(size_t count, size_t size) {
  return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *dusk__realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void *dusk__aligned(size_t align, size_t n) {
  if (should_fail())
    return NULL;
  void *p = NULL;
  return posix_memalign(&p, align, n) == 0 ? p : NULL;
}

void dusk__free(void *p) { free(p); }

char *dusk__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = dusk__malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* Set by uthash when it cannot allocate (see src/uthash_dusk.h). */
_Thread_local int dusk__hash_oom;

/*
** Large arrays (1 MiB and up) are mapped directly, 2 MiB aligned, with huge
** pages asked for: a fresh one costs a fault per 2 MiB, the same every time.
** Through malloc, the first reuse of a freed large array came from the heap
** in 4 KiB pages, a fault each: a million-task compute paid tens of ns a
** task for it the second time it ran, and not after.
*/
enum { BIG = 1u << 20, HUGE_PAGE = 2u << 20 };

static size_t big_length(size_t n) {
  return (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

void *dusk__malloc_big(size_t n) {
  if (n < BIG)
    return dusk__malloc(n);
  if (should_fail())
    return NULL;
  size_t len = big_length(n);
  char *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* Keep the 2 MiB aligned part; the head and the tail go back. */
  size_t head = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
  if (head)
    munmap(p, head);
  munmap(p + head + len, HUGE_PAGE - head);
  p += head;
#ifdef MADV_HUGEPAGE
  madvise(p, len, MADV_HUGEPAGE);
#endif
  return p;
}

void dusk__free_big(void *p, size_t n) {
  if (!p)
    return;
  if (n < BIG)
    dusk__free(p);
  else
    munmap(p, big_length(n));
}
