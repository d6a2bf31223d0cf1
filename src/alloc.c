/*
** The allocator: the C library's malloc with a fault-injection hook for
** tests. The hook costs one relaxed atomic load per allocation when off.
*/
#include "src/alloc.h"

#include <stdatomic.h>
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

void *dusk__malloc_big(size_t n) {
  if (n < (1u << 20))
    return dusk__malloc(n);
  size_t huge = 2u << 20;
  void *p = dusk__aligned(huge, (n + huge - 1) & ~(huge - 1));
#ifdef MADV_HUGEPAGE
  if (p) /* one fault per 2 MiB instead of one per 4 KiB, where allowed */
    madvise(p, (n + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
  return p;
}
