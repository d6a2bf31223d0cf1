/*
** The five workloads as a oneTBB flow graph (Debian libtbb-dev).
**
** The idiom is TBB's dependency graph: one continue_node per task, an edge
** from each argument's node to its consumer, and the values in slots of a
** shared array (a continue_node passes only "done" messages; it fires once
** every predecessor has sent one). The roots are started with try_put, and
** wait_for_all() returns when the graph is quiet. Each node is its own heap
** object, as in TBB's examples. The thread count is set with global_control
** (max_allowed_parallelism counts the main thread, which also runs tasks
** while it waits).
*/
#include "harness.h"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>

#include <memory>
#include <vector>

namespace flow = oneapi::tbb::flow;
using msg = flow::continue_msg;
using node = flow::continue_node<msg>;

static std::unique_ptr<oneapi::tbb::global_control> limit;

static int setup(const bench_case *c) {
  limit = std::make_unique<oneapi::tbb::global_control>(
      oneapi::tbb::global_control::max_allowed_parallelism,
      static_cast<size_t>(c->threads));
  return 0;
}

static void teardown() { limit.reset(); }

/* A node whose body runs f(); a heap object, owned by the caller's vector. */
template <typename F>
static std::unique_ptr<node> make_node(flow::graph &g, F f) {
  return std::make_unique<node>(g, [f](const msg &) {
    f();
    return msg();
  });
}

/* Start the roots, wait until the graph is quiet. */
static void run(flow::graph &g, const std::vector<node *> &roots) {
  bench_lap(BENCH_LAP_BUILT);
  for (node *r : roots)
    r->try_put(msg());
  g.wait_for_all();
  bench_lap(BENCH_LAP_RAN);
}

/* W1 and W5: n independent nodes, each an edge into one summing sink. */
template <bool Busy>
static int64_t fanin_of(const bench_case *c) {
  const int64_t n = c->n;
  std::vector<int64_t> v(static_cast<size_t>(n));
  int64_t total = 0;
  flow::graph g; /* declared first: destroyed after its nodes */
  auto sink = make_node(g, [&] {
    int64_t s = 0;
    for (int64_t x : v)
      s += x;
    total = s;
  });
  std::vector<std::unique_ptr<node>> leaves;
  std::vector<node *> roots;
  leaves.reserve(static_cast<size_t>(n));
  roots.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    int64_t *slot = &v[static_cast<size_t>(i)];
    leaves.push_back(make_node(g, [slot, i] {
      *slot = Busy ? bench_busy(i) : bench_fanin_leaf(i);
    }));
    flow::make_edge(*leaves.back(), *sink);
    roots.push_back(leaves.back().get());
  }
  run(g, roots);
  return total;
}

static int64_t fanin(const bench_case *c) { return fanin_of<false>(c); }
static int64_t busy(const bench_case *c) { return fanin_of<true>(c); }

static int64_t chain(const bench_case *c) {
  const int64_t n = c->n;
  std::vector<int64_t> v(static_cast<size_t>(n));
  flow::graph g;
  std::vector<std::unique_ptr<node>> nodes;
  nodes.reserve(static_cast<size_t>(n));
  nodes.push_back(make_node(g, [p = v.data()] { *p = 0; }));
  for (int64_t k = 1; k < n; k++) {
    nodes.push_back(make_node(g, [p = &v[static_cast<size_t>(k)]] {
      *p = p[-1] + 1;
    }));
    flow::make_edge(*nodes[static_cast<size_t>(k - 1)], *nodes.back());
  }
  run(g, {nodes.front().get()});
  return v.back();
}

/*
** Level by level, as in every program here: pairs (2j, 2j+1) of a level are
** added into a new slot; an odd last one moves up unchanged.
*/
static int64_t tree(const bench_case *c) {
  struct elem {
    node *n;
    int64_t *slot;
  };
  const int64_t n = c->n;
  std::vector<int64_t> v(static_cast<size_t>(2 * n));
  std::vector<elem> level(static_cast<size_t>(n));
  flow::graph g;
  std::vector<std::unique_ptr<node>> nodes;
  std::vector<node *> roots;
  nodes.reserve(static_cast<size_t>(2 * n));
  roots.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    int64_t *slot = &v[static_cast<size_t>(i)];
    nodes.push_back(make_node(g, [slot, i] { *slot = i; }));
    level[static_cast<size_t>(i)] = {nodes.back().get(), slot};
    roots.push_back(nodes.back().get());
  }
  int64_t *next = &v[static_cast<size_t>(n)];
  for (size_t len = static_cast<size_t>(n); len > 1;) {
    size_t half = len / 2;
    for (size_t j = 0; j < half; j++) {
      elem a = level[2 * j], b = level[2 * j + 1];
      int64_t *r = next++;
      nodes.push_back(make_node(g, [a, b, r] { *r = *a.slot + *b.slot; }));
      flow::make_edge(*a.n, *nodes.back());
      flow::make_edge(*b.n, *nodes.back());
      level[j] = {nodes.back().get(), r};
    }
    if (len & 1)
      level[half] = level[len - 1];
    len = half + (len & 1);
  }
  run(g, roots);
  return *level[0].slot;
}

/* Each cell's node has an edge from the cells above and to the left. */
static int64_t wavefront(const bench_case *c) {
  const int64_t s = c->side;
  std::vector<int64_t> v(static_cast<size_t>(s * s));
  flow::graph g;
  std::vector<std::unique_ptr<node>> nodes;
  nodes.reserve(static_cast<size_t>(s * s));
  for (int64_t i = 0; i < s; i++) {
    for (int64_t j = 0; j < s; j++) {
      int64_t *r = &v[static_cast<size_t>(i * s + j)];
      const int64_t *up = i ? r - s : nullptr, *left = j ? r - 1 : nullptr;
      nodes.push_back(make_node(g, [r, up, left] {
        int64_t m = -1;
        if (up && *up > m)
          m = *up;
        if (left && *left > m)
          m = *left;
        *r = m + 1;
      }));
      if (i)
        flow::make_edge(*nodes[static_cast<size_t>((i - 1) * s + j)],
                        *nodes.back());
      if (j)
        flow::make_edge(*nodes[static_cast<size_t>(i * s + j - 1)],
                        *nodes.back());
    }
  }
  run(g, {nodes.front().get()});
  return v.back();
}

int main(int argc, char **argv) {
  static const bench_runtime tbb = {
      "tbb", setup, teardown, {fanin, chain, tree, wavefront, busy}, 0};
  return bench_main(&tbb, argc, argv);
}
