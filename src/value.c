/* Values: constructors and release. */
#include "dusk.h"

dusk_value dusk_i64(int64_t x) {
  return (dusk_value){.kind = DUSK_I64, .i64 = x};
}

dusk_value dusk_f64(double x) {
  return (dusk_value){.kind = DUSK_F64, .f64 = x};
}

dusk_value dusk_ptr(void *p, size_t size, void (*free_fn)(void *)) {
  return (dusk_value){.kind = DUSK_PTR, .ptr = p, .size = size,
                      .free = free_fn};
}

void dusk_value_clear(dusk_value *v) {
  if (!v)
    return;
  if (v->kind == DUSK_PTR && v->free && v->ptr)
    v->free(v->ptr);
  *v = (dusk_value){.kind = DUSK_NONE};
}
