/*
** The public face of resource classes: tagging nodes (graph/resource.c)
** and limits on pools (scheduler/limit.c). The scheduling itself is in
** src/compute.c (dusk__exec).
*/
#include "src/core.h"

#include <string.h>

enum { NAME_MAX_LEN = 255 };

/* DUSK_OK, or DUSK_EINVAL with the last error set. */
static int check_name(const char *who, const char *name) {
  if (!name)
    return dusk__set_error(DUSK_EINVAL, "%s: the resource name is NULL", who);
  size_t len = strnlen(name, NAME_MAX_LEN + 1);
  if (len == 0 || len > NAME_MAX_LEN)
    return dusk__set_error(DUSK_EINVAL,
                           "%s: a resource name has 1 to %d characters", who,
                           NAME_MAX_LEN);
  return DUSK_OK;
}

int dusk_set_resource(dusk_node *n, const char *resource) {
  if (!n)
    return dusk__set_error(DUSK_EINVAL, "set_resource: NULL node");
  if (atomic_load(&n->flags) & DUSK__LITERAL)
    return dusk__set_error(DUSK_EINVAL,
                           "set_resource: a literal runs no task");
  if (resource && check_name("set_resource", resource) != DUSK_OK)
    return DUSK_EINVAL;
  int s = atomic_load(&n->state);
  if (s == DUSK__CLAIMING || s == DUSK__CLAIMED || s == DUSK__RUNNING)
    return dusk__set_error(DUSK_EBUSY, "set_resource: a compute has the node");
  if (dusk__graph_set_resource(dusk__graph_of(n), n, resource) != 0)
    return dusk__set_error(DUSK_ENOMEM, "set_resource: out of memory");
  return DUSK_OK;
}

const char *dusk_resource(const dusk_node *n) {
  return n ? dusk__graph_resource(dusk__graph_of(n), n) : NULL;
}

/* p, or the default pool; NULL with the last error set. */
static dusk_pool *pool_or_default(dusk_pool *p) {
  return p ? p : dusk_default_pool();
}

int dusk_pool_set_limit(dusk_pool *p, const char *resource, int limit) {
  if (check_name("pool_set_limit", resource) != DUSK_OK)
    return DUSK_EINVAL;
  if (limit < 0)
    return dusk__set_error(DUSK_EINVAL, "pool_set_limit: limit %d < 0",
                           limit);
  if (!(p = pool_or_default(p)))
    return dusk_last_error(NULL);
  dusk__limit *l;
  if (dusk__limit_set(dusk__pool_limits(p), resource, limit, &l) != 0)
    return dusk__set_error(DUSK_ENOMEM, "pool_set_limit: out of memory");
  for (void *w; (w = dusk__limit_wake(l));) /* they try again */
    if (dusk__pool_push(p, w) != 0)
      dusk__exec(w);
  return DUSK_OK;
}

int dusk_pool_limit(dusk_pool *p, const char *resource) {
  if (!resource || !(p = pool_or_default(p)))
    return 0;
  return dusk__limit_get(dusk__pool_limits(p), resource);
}
