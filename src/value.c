/* Values: constructors and release. */
#include "dusk.h"

/* The external definitions of the inline constructors in dusk.h. */
extern inline dusk_value dusk_i64(int64_t x);
extern inline dusk_value dusk_f64(double x);
extern inline dusk_value dusk_ptr(void *p, size_t size,
                                  void (*free_fn)(void *));

void dusk_value_clear(dusk_value *v) {
  if (!v)
    return;
  if (v->kind == DUSK_PTR && v->free && v->ptr)
    v->free(v->ptr);
  *v = (dusk_value){.kind = DUSK_NONE};
}
