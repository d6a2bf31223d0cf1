/*
** The one allocator of dusk. Every allocation of the library goes through
** these functions, so that a test can make the N-th allocation fail and check
** that each public call then returns DUSK_ENOMEM and loses nothing (the idea
** of SQLite's fault tests and Lua's ltests.c).
**
** This header is a leaf: graph/ and scheduler/ may include it, it includes
** nothing of dusk.
*/
#ifndef DUSK_SRC_ALLOC_H
#define DUSK_SRC_ALLOC_H

#include <stddef.h>

void *dusk__malloc(size_t n);
void *dusk__calloc(size_t count, size_t size);
void *dusk__realloc(void *p, size_t n);
void *dusk__aligned(size_t align, size_t n);
void dusk__free(void *p);
char *dusk__strdup(const char *s);

/* For large arrays: from 1 MiB up, mapped apart, 2 MiB aligned, on huge
   pages where the system allows it. Freed with dusk__free_big and the same
   size (smaller ones come from malloc). */
void *dusk__malloc_big(size_t n);
void dusk__free_big(void *p, size_t n);

/*
** Test hook: from now on, the countdown-th allocation (1: the next one) and,
** when sticky, every one after it fails. 0 turns failures off. Returns the
** number of allocations that failed since the last call.
*/
long dusk__alloc_fail_after(long countdown, int sticky);

#endif
