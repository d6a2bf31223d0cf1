/*
** uthash set up for dusk: it allocates through the dusk allocator and, when
** that fails, leaves the element out and sets dusk__hash_oom instead of
** exiting (uthash's HASH_NONFATAL_OOM mode). Callers clear the flag before an
** add and check it after. Include this instead of <uthash.h>.
*/
#ifndef DUSK_SRC_UTHASH_DUSK_H
#define DUSK_SRC_UTHASH_DUSK_H

#include "src/alloc.h"

extern _Thread_local int dusk__hash_oom;

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) dusk__malloc(sz)
#define uthash_free(ptr, sz) dusk__free(ptr)
#define uthash_nonfatal_oom(elt) (dusk__hash_oom = 1)

#include <uthash.h>

#endif
