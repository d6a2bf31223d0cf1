/*
** fuzz_api: a libFuzzer harness in which the input bytes drive a sequence
** of API calls on one graph, checked against a model.
**
** The first byte picks the pool (1 or 2 workers; both are made once per
** process). Then each operation is an opcode byte and its operands: make a
** literal (an integer, a double, or a pointer whose free is counted), make a
** call of one of a fixed set of tasks (summing, boxing, failing with a
** message, failing with a bare code, computing a nested graph from inside
** the task) with arguments picked from the nodes made so far, sometimes a
** NULL or a node of another graph; make either of them pure (a pure call
** made again at once must give the same node, without allocating; a pure
** node found must be one the model knows, with the same value); name a
** node with bytes of the input;
** compute one node or several; release; take; read errmsg, errcode and the
** name; write the DOT of some nodes to /dev/null; and make the allocator
** fail (the N-th allocation from now, once or from then on) and stop
** failing.
**
** The model knows each node's value and whether it needs a failing task,
** and which nodes keep a result. With memory failures off, a compute of
** nodes that need no failing task succeeds with the model's values, one
** that needs one fails, dusk_take moves a kept value out and finds nothing
** otherwise; with failures on, a call may also answer DUSK_ENOMEM. Refused
** calls return DUSK_EINVAL. When the input ends the graphs are freed and
** every counted pointer must have been freed exactly once (a second free is
** a double free for AddressSanitizer; one missing is counted). A broken
** rule prints what it saw and aborts, which libFuzzer reports as a crash.
**
** Built only with clang and -DDUSK_FUZZ=ON; tests/run_fuzz.sh builds and
** runs it. The seed corpus is tests/fuzz_corpus/.
*/
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dusk.h"
#include "src/alloc.h"

#define FUZZ_CHECK(cond, ...)                                                 \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_api: %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
      abort();                                                                \
    }                                                                         \
  } while (0)

/* ------------------------------------------------------------ values */

static atomic_long g_live; /* counted pointers not yet freed */

static void counted_free(void *p) {
  atomic_fetch_sub(&g_live, 1);
  free(p);
}

static dusk_value counted(int64_t v) {
  int64_t *p = malloc(sizeof *p);
  if (p == NULL)
    abort();
  *p = v;
  atomic_fetch_add(&g_live, 1);
  return dusk_ptr(p, sizeof *p, counted_free);
}

static uint64_t get(const dusk_value *v) {
  switch (v->kind) {
  case DUSK_I64:
    return (uint64_t)v->i64;
  case DUSK_F64:
    return (uint64_t)(int64_t)v->f64;
  case DUSK_PTR:
    return v->ptr != NULL ? (uint64_t) * (const int64_t *)v->ptr : 0;
  default:
    return 0;
  }
}

/* ------------------------------------------------------------ tasks */

static uint64_t sum1(const dusk_value *args, int nargs) {
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++)
    s += get(&args[i]);
  return s;
}

static int t_add(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  *out = dusk_i64((int64_t)sum1(args, nargs));
  return 0;
}

static int t_box(dusk_task *t, const dusk_value *args, int nargs,
                 dusk_value *out) {
  (void)t;
  *out = counted((int64_t)sum1(args, nargs));
  return 0;
}

static int t_fail(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)args;
  (void)nargs;
  *out = counted(13); /* must be released although the task fails */
  return dusk_fail(t, "%s", "fuzz %s failure");
}

static int t_code(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  (void)t;
  (void)args;
  (void)nargs;
  (void)out;
  return DUSK_EINVAL; /* a bare code, no message */
}

/* Nested: in the task's own graph, b = t_add(literal 3) = 4, computed here. */
static int t_nest(dusk_task *t, const dusk_value *args, int nargs,
                  dusk_value *out) {
  dusk_graph *g = dusk_task_graph(t);
  dusk_node *a = dusk_literal(g, counted(3));
  dusk_node *b = a != NULL ? dusk_delayed(g, t_add, a) : NULL;
  if (b == NULL)
    return dusk_last_error(NULL);
  dusk_value v;
  int rc = dusk_compute(g, b, &v);
  if (rc != DUSK_OK)
    return rc;
  uint64_t inner = get(&v);
  dusk_release(b);
  *out = dusk_i64((int64_t)(sum1(args, nargs) + inner));
  return 0;
}

enum { F_ADD, F_BOX, F_FAIL, F_CODE, F_NEST, NFN };
static const dusk_fn k_fns[NFN] = {t_add, t_box, t_fail, t_code, t_nest};

/* ------------------------------------------------------------ model */

enum { MAXN = 64, MAXARGS = 10 };

typedef struct mnode {
  dusk_node *node;
  int literal;
  int fails;      /* needs a failing task                    */
  int kept;       /* keeps a result (after a compute)        */
  uint64_t value; /* when it does not fail                   */
} mnode;

typedef struct fuzz {
  const uint8_t *p, *end;
  dusk_graph *g, *g2;
  dusk_pool *pool;  /* g's */
  dusk_node *other; /* a node of g2 */
  mnode m[MAXN];
  int n;
  int armed; /* memory failures may happen */
} fuzz;

static int byte(fuzz *f) { return f->p < f->end ? *f->p++ : 0; }
static int more(const fuzz *f) { return f->p < f->end; }

static mnode *pick(fuzz *f) { return f->n ? &f->m[byte(f) % f->n] : NULL; }

static void add_node(fuzz *f, dusk_node *n, int literal, int fails,
                     uint64_t value) {
  if (n == NULL) {
    int code = dusk_last_error(NULL);
    FUZZ_CHECK(f->armed && code == DUSK_ENOMEM, "refused: %d", code);
    return;
  }
  f->m[f->n++] = (mnode){n, literal, fails, 0, value};
}

/* A pure node: one the model knows, found again, or a new one. */
static void add_pure(fuzz *f, dusk_node *n, int literal, int fails,
                     uint64_t value) {
  for (int i = 0; n != NULL && i < f->n; i++) {
    if (f->m[i].node != n)
      continue;
    FUZZ_CHECK(f->m[i].literal == literal && f->m[i].fails == fails &&
                   f->m[i].value == value,
               "a pure node found for another value: %llu, model %llu",
               (unsigned long long)value, (unsigned long long)f->m[i].value);
    return;
  }
  add_node(f, n, literal, fails, value);
}

static void op_literal(fuzz *f, int kind, int pure) {
  int8_t v = (int8_t)byte(f);
  if (f->n == MAXN)
    return;
  dusk_value val = kind == 0   ? dusk_i64(v)
                   : kind == 1 ? dusk_f64(v + 0.5)
                               : counted(v);
  uint64_t model = get(&val);
  if (pure)
    add_pure(f, dusk_literal_pure(f->g, val), 1, 0, model);
  else
    add_node(f, dusk_literal(f->g, val), 1, 0, model);
}

static dusk_node *call_pure(fuzz *f, int named, dusk_fn fn, int nargs,
                            dusk_node *const *args) {
  return named ? dusk_call_pure_named(f->g, "pure%s", fn, NULL, nargs, args)
               : dusk_call_pure(f->g, fn, NULL, nargs, args);
}

static void op_call(fuzz *f, int pure) {
  int fn = byte(f) % NFN;
  int shape = byte(f);
  int nargs = shape % 6 == 5 ? MAXARGS : shape % 6;
  int bad = (shape >> 4) % 8; /* 1: a NULL argument, 2: another graph's */
  dusk_node *args[MAXARGS];
  int fails = fn == F_FAIL || fn == F_CODE;
  uint64_t s = 1;
  for (int i = 0; i < nargs; i++) {
    mnode *a = pick(f);
    if (a == NULL)
      return;
    args[i] = a->node;
    fails |= a->fails;
    s += a->value;
  }
  if (f->n == MAXN)
    return;
  if (nargs > 0 && (bad == 1 || bad == 2)) {
    args[nargs - 1] = bad == 1 ? NULL : f->other;
    size_t size = dusk_graph_size(f->g);
    dusk_node *n = pure ? call_pure(f, shape & 0x80, k_fns[fn], nargs, args)
                        : dusk_call(f->g, k_fns[fn], NULL, nargs, args);
    FUZZ_CHECK(n == NULL && dusk_last_error(NULL) == DUSK_EINVAL,
               "a bad argument was not refused");
    FUZZ_CHECK(dusk_graph_size(f->g) == size, "a refused call built a node");
    return;
  }
  if (fn == F_NEST)
    s += 4; /* the nested graph's value */
  if (pure) {
    dusk_node *n = call_pure(f, shape & 0x80, k_fns[fn], nargs, args);
    if (n != NULL) /* found: no allocation, so even under failures */
      FUZZ_CHECK(call_pure(f, !(shape & 0x80), k_fns[fn], nargs, args) == n,
                 "a pure call made again gave another node");
    add_pure(f, n, 0, fails, s);
    return;
  }
  dusk_node *n = shape & 0x80 ? dusk_call(f->g, k_fns[fn], NULL, nargs, args)
                              : dusk_call_named(f->g, "fuzz%s", k_fns[fn],
                                                NULL, nargs, args);
  add_node(f, n, 0, fails, s);
}

static void op_name(fuzz *f) {
  mnode *a = pick(f);
  int len = byte(f) % 40;
  char buf[48];
  int k = 0;
  while (k < len && more(f))
    buf[k++] = (char)byte(f);
  buf[k] = '\0';
  if (a == NULL)
    return;
  char old[64];
  snprintf(old, sizeof old, "%s", dusk_name(a->node));
  dusk_set_name(a->node, "%s", buf);
  const char *now = dusk_name(a->node);
  FUZZ_CHECK(now != NULL, "no name");
  FUZZ_CHECK(strcmp(now, buf) == 0 ||
                 (f->armed && strncmp(now, old, sizeof old - 1) == 0),
             "name \"%s\", set \"%s\"", now, buf);
}

/* Compute k nodes (1: dusk_compute) and check against the model. */
static void op_compute(fuzz *f, int many) {
  int k = many ? 1 + byte(f) % 5 : 1;
  mnode *t[5];
  dusk_node *nodes[5];
  int fails = 0;
  for (int i = 0; i < k; i++) {
    if ((t[i] = pick(f)) == NULL)
      return;
    nodes[i] = t[i]->node;
    fails |= t[i]->fails;
  }
  dusk_value outs[5];
  int rc = many ? dusk_compute_many(f->g, k, nodes, outs)
                : dusk_compute(f->g, nodes[0], &outs[0]);
  if (!f->armed)
    FUZZ_CHECK((rc != DUSK_OK) == fails, "compute: %d (%s), model fails %d",
               rc, dusk_strerror(rc), fails);
  else
    FUZZ_CHECK(rc == DUSK_OK || rc == DUSK_ENOMEM || fails,
               "compute under memory failures: %d", rc);
  for (int i = 0; i < k; i++) {
    if (rc != DUSK_OK) {
      FUZZ_CHECK(outs[i].kind == DUSK_NONE, "out of a failed compute");
      continue;
    }
    FUZZ_CHECK(get(&outs[i]) == t[i]->value, "value %llu, model %llu",
               (unsigned long long)get(&outs[i]),
               (unsigned long long)t[i]->value);
    if (!t[i]->literal)
      t[i]->kept = 1;
  }
}

static void op_release(fuzz *f) {
  mnode *a = pick(f);
  if (a == NULL)
    return;
  dusk_release(a->node);
  a->kept = 0;
}

static void op_take(fuzz *f) {
  mnode *a = pick(f);
  if (a == NULL)
    return;
  dusk_value v;
  int rc = dusk_take(a->node, &v);
  if (a->literal) {
    FUZZ_CHECK(rc == DUSK_EINVAL, "take of a literal: %d", rc);
  } else if (a->kept) {
    FUZZ_CHECK(rc == DUSK_OK, "take of a kept result: %d", rc);
    FUZZ_CHECK(get(&v) == a->value, "taken %llu, model %llu",
               (unsigned long long)get(&v), (unsigned long long)a->value);
    dusk_value_clear(&v);
  } else {
    FUZZ_CHECK(rc == DUSK_ENORESULT, "take of nothing kept: %d", rc);
  }
  if (rc != DUSK_OK)
    FUZZ_CHECK(v.kind == DUSK_NONE, "a refused take gave a value");
  a->kept = 0;
}

static void op_inspect(fuzz *f) {
  mnode *a = pick(f);
  if (a == NULL)
    return;
  int code = dusk_errcode(a->node);
  const char *msg = dusk_errmsg(a->node);
  FUZZ_CHECK((code != DUSK_OK) == (msg != NULL), "errcode %d, errmsg %s",
             code, msg ? msg : "NULL");
  if (msg != NULL)
    FUZZ_CHECK(strlen(msg) > 0, "an empty message");
  /* A failure is the task's (DUSK_ETASK, or t_code's DUSK_EINVAL), a
     stopped compute's, or memory's. */
  FUZZ_CHECK(code == DUSK_OK || code == DUSK_ETASK || code == DUSK_EINVAL ||
                 code == DUSK_ENOMEM,
             "errcode %d", code);
  FUZZ_CHECK(dusk_name(a->node) != NULL, "no name");
  FUZZ_CHECK(dusk_node_graph(a->node) == f->g, "the node's graph");
}

static FILE *g_devnull;

static void op_dot(fuzz *f) {
  int k = 1 + byte(f) % 4;
  dusk_node *nodes[4];
  for (int i = 0; i < k; i++) {
    mnode *a = pick(f);
    if (a == NULL)
      return;
    nodes[i] = a->node;
  }
  int view = byte(f) % 3;
  dusk_dot_options o = {.view = (dusk_dot_view)view, .threshold = 4};
  int rc = dusk_write_dot(f->g, nodes, k, g_devnull, &o);
  FUZZ_CHECK(rc == DUSK_OK || (f->armed && rc == DUSK_ENOMEM),
             "write_dot: %d", rc);
}

/* Refused calls with another graph's node and hostile counts. */
static void op_refused(fuzz *f) {
  int which = byte(f) % 4;
  dusk_value out = dusk_i64(1);
  int rc = 0;
  switch (which) {
  case 0:
    rc = dusk_compute(f->g, f->other, &out);
    break;
  case 1:
    rc = dusk_compute_many(f->g, -1 - byte(f), NULL, NULL);
    break;
  case 2:
    rc = dusk_write_dot(f->g, &f->other, 1, g_devnull, NULL);
    break;
  case 3:
    rc = dusk_call(f->g, t_add, NULL, -1 - byte(f), NULL) == NULL
             ? dusk_last_error(NULL)
             : 0;
    break;
  }
  FUZZ_CHECK(rc == DUSK_EINVAL, "refused call %d: %d", which, rc);
  if (which == 0)
    FUZZ_CHECK(out.kind == DUSK_NONE, "out of a refused compute");
}

/* Put a node in a resource class ("a", "b") or in none. */
static void op_resource(fuzz *f) {
  static const char *const names[3] = {"a", "b", NULL};
  mnode *a = pick(f);
  const char *name = names[byte(f) % 3];
  if (a == NULL)
    return;
  int rc = dusk_set_resource(a->node, name);
  if (a->literal)
    FUZZ_CHECK(rc == DUSK_EINVAL, "a literal took a class: %d", rc);
  else
    FUZZ_CHECK(rc == DUSK_OK || (f->armed && rc == DUSK_ENOMEM),
               "set_resource: %d", rc);
  if (rc == DUSK_OK)
    FUZZ_CHECK(name ? dusk_resource(a->node) != NULL &&
                          strcmp(dusk_resource(a->node), name) == 0
                    : dusk_resource(a->node) == NULL,
               "the class read back is not the one set");
}

/* A limit (0 to 2) for class "a" or "b" on the graph's pool. */
static void op_limit(fuzz *f) {
  int b = byte(f);
  const char *name = b & 1 ? "a" : "b";
  int limit = (b >> 1) % 3;
  int rc = dusk_pool_set_limit(f->pool, name, limit);
  FUZZ_CHECK(rc == DUSK_OK || (f->armed && rc == DUSK_ENOMEM),
             "pool_set_limit: %d", rc);
  if (rc == DUSK_OK)
    FUZZ_CHECK(dusk_pool_limit(f->pool, name) == limit, "limit read back");
}

static void op_arm(fuzz *f) {
  int b = byte(f);
  f->armed = 1;
  dusk__alloc_fail_after(1 + (b >> 1) % 48, b & 1);
}

static void op_disarm(fuzz *f) {
  dusk__alloc_fail_after(0, 0);
  f->armed = 0;
}

/* ------------------------------------------------------------ the driver */

static dusk_pool *g_pools[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (g_pools[0] == NULL) {
    g_pools[0] = dusk_pool_new(1);
    g_pools[1] = dusk_pool_new(2);
    g_devnull = fopen("/dev/null", "w");
    if (!g_pools[0] || !g_pools[1] || !g_devnull)
      abort();
  }
  if (size == 0)
    return 0;
  static fuzz f;
  memset(&f, 0, sizeof f);
  f.p = data + 1;
  f.end = data + size;
  f.g = dusk_graph_new();
  f.g2 = dusk_graph_new();
  if (!f.g || !f.g2)
    abort();
  f.pool = g_pools[data[0] & 1];
  dusk_graph_set_pool(f.g, f.pool);
  dusk_graph_set_pool(f.g2, g_pools[0]);
  f.other = dusk_literal(f.g2, counted(99));
  while (more(&f)) {
    int op = byte(&f) % 16;
    switch (op) {
    case 0:
    case 1: /* 1: pure */
      op_literal(&f, byte(&f) % 3, op == 1);
      break;
    case 2:
    case 3:
    case 4: /* 4: pure */
      op_call(&f, op == 4);
      break;
    case 5:
      op_name(&f);
      break;
    case 6:
    case 7:
      op_compute(&f, 0);
      break;
    case 8:
      op_compute(&f, 1);
      break;
    case 9:
      op_release(&f);
      break;
    case 10:
      op_take(&f);
      break;
    case 11:
      op_inspect(&f);
      break;
    case 12:
      op_dot(&f);
      break;
    case 13:
      op_refused(&f);
      break;
    case 14:
      op_arm(&f);
      break;
    case 15:
      op_disarm(&f);
      break;
    case 16:
      op_resource(&f);
      break;
    case 17:
      op_limit(&f);
      break;
    }
  }
  op_disarm(&f);
  /* Memory is back: everything that needs no failing task computes. */
  for (int i = 0; i < f.n; i++) {
    dusk_value v;
    int rc = dusk_compute(f.g, f.m[i].node, &v);
    FUZZ_CHECK((rc != DUSK_OK) == f.m[i].fails,
               "final compute of node %d: %d (%s), model fails %d: %s", i, rc,
               dusk_strerror(rc), f.m[i].fails,
               dusk_errmsg(f.m[i].node) ? dusk_errmsg(f.m[i].node) : "");
    if (rc == DUSK_OK)
      FUZZ_CHECK(get(&v) == f.m[i].value, "final value of node %d", i);
  }
  dusk_graph_free(f.g);
  dusk_graph_free(f.g2);
  long live = atomic_load(&g_live);
  FUZZ_CHECK(live == 0, "%ld counted values never freed", live);
  return 0;
}
