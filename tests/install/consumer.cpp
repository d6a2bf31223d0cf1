// dusk.h from C++, against the installed library: the header compiles as
// C++ (its value constructors are inline functions), and a small graph of
// literals and calls computes. Exit 0 when it does.
#include <dusk.h>

#include <cstdio>

static int add(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < n; i++)
    s += a[i].i64;
  *out = dusk_i64(s);
  return 0;
}

int main() {
  dusk_graph *g = dusk_graph_new();
  dusk_node *x = dusk_literal(g, dusk_i64(40));
  dusk_node *y = dusk_literal(g, dusk_f64(0.5));
  dusk_node *args[] = {x, x};
  dusk_node *sum = dusk_call(g, add, nullptr, 2, args);
  dusk_value v = dusk_ptr(nullptr, 0, nullptr);
  int rc = dusk_compute(g, sum, &v);
  bool ok = rc == DUSK_OK && v.kind == DUSK_I64 && v.i64 == 80 && y != nullptr;
  dusk_graph_free(g);
  std::printf("consumer.cpp: %s (rc %d, value %lld)\n", ok ? "ok" : "FAILED",
              rc, (long long)v.i64);
  return ok ? 0 : 1;
}
