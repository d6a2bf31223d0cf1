/*
** The benchmark harness: command line, sizes, answers, clock, peak RSS, the
** W5 busy loop, and the result line. See harness.h and README.md.
**
** One repetition per process, so that the peak RSS printed is that of one
** graph. BENCH.md's figures are warm (the first graph in a process pays
** 1.3 to 3.7 times more for fresh pages and lazily started threads), so
** --warm runs the same case once untimed before the timed run.
**
** The busy loop is a chain of dependent multiply-xorshift steps: it has no
** closed form for the compiler to find and no memory traffic to share
** between the cores, so a perfect runtime doubles its throughput at 2
** threads. Its length is calibrated once; the runner calibrates it once for
** the whole run and passes it to every program in BENCH_SPIN_ITERS, so that
** the 1-thread and 2-thread processes spin the same amount.
*/
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <errno.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BUSY_NS 200000.0 /* the target length of one W5 task */

static const struct {
  const char *label, *name;
  int64_t default_n;
} workloads[BENCH_NWORKLOADS] = {
    {"W1", "fanin", 1000000},
    {"W2", "chain", 1000000},
    {"W3", "tree", 1048576},
    {"W4", "wavefront", 1000000},
    {"W5", "busy", 2000},
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

void *bench_xmalloc(uint64_t size) {
  void *p = malloc(size ? (size_t)size : 1);
  if (!p)
    bench_die("out of memory (%" PRIu64 " bytes)", size);
  return p;
}

/* ------------------------------------------------------------ busy loop */

/* Read through a volatile so that the compiler cannot fold the spin. */
static volatile uint64_t spin_seed = 0x9e3779b97f4a7c15u;
static uint64_t spin_iters;
static int64_t spin_value; /* what every spin returns, for the answer */
static volatile uint64_t spin_sink; /* where calibration's results go */

/* noipa: else gcc finds the function pure and drops calls whose result is
   unused, such as the calibration's. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#elif defined(__GNUC__)
__attribute__((noinline))
#endif
static uint64_t spin(uint64_t iters, uint64_t x) {
  for (uint64_t k = 0; k < iters; k++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    x ^= x >> 29;
  }
  return x;
}

int64_t bench_busy(int64_t i) {
  /* The mask keeps the sum of 2,000 results far from overflow. */
  return i + (int64_t)(spin(spin_iters, spin_seed) & 0xffff);
}

/* This thread's CPU time: what a spin costs, whoever else shares the core. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
** Iterations for about 200 us of CPU: double the count until one spin takes
** 20 ms, and keep the fastest of three such measurements. CPU time, not wall
** time, so that a machine shared with other work does not shorten the spin.
*/
static uint64_t calibrate(void) {
  uint64_t k = 1024, best = UINT64_MAX;
  for (;;) {
    uint64_t t = cpu_ns();
    spin_sink = spin(k, spin_seed);
    if (cpu_ns() - t >= 20000000u || k >= (UINT64_C(1) << 40))
      break;
    k *= 2;
  }
  for (int r = 0; r < 3; r++) {
    uint64_t t = cpu_ns();
    spin_sink = spin(k, spin_seed);
    t = cpu_ns() - t;
    if (t < best)
      best = t;
  }
  return (uint64_t)((double)k * BUSY_NS / (double)best) + 1;
}

static void setup_spin(void) {
  const char *env = getenv("BENCH_SPIN_ITERS");
  char *end;
  if (env && *env) {
    errno = 0;
    spin_iters = strtoull(env, &end, 10);
    if (errno || *end || spin_iters == 0)
      bench_die("BENCH_SPIN_ITERS=%s is not a positive whole number", env);
  } else {
    spin_iters = calibrate();
  }
  spin_value = (int64_t)(spin(spin_iters, spin_seed) & 0xffff);
}

/* --------------------------------------------------------- command line */

static int parse_workload(const char *s) {
  for (int w = 0; w < BENCH_NWORKLOADS; w++) {
    size_t ll = strlen(workloads[w].label);
    if (!strcmp(s, workloads[w].name))
      return w;
    if ((s[0] == 'W' || s[0] == 'w') && !strncmp(s + 1, workloads[w].label + 1,
                                                 ll - 1)) {
      const char *rest = s + ll; /* "W1", "W1fanin", "w1-fanin" */
      if (*rest == '-' || *rest == '_')
        rest++;
      if (!*rest || !strcmp(rest, workloads[w].name))
        return w;
    }
  }
  return -1;
}

static int64_t parse_int(const char *s, const char *what) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < 1)
    bench_die("%s must be a positive whole number, not '%s'", what, s);
  return (int64_t)v;
}

static void usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [--warm] [--malloc|--literal|--phases] WORKLOAD THREADS [N]\n"
          "       %s --calibrate\n"
          "WORKLOAD: W1|fanin W2|chain W3|tree W4|wavefront W5|busy\n"
          "N: W1, W5 independent tasks; W2 chain length; W3 leaves;\n"
          "   W4 cells (the grid side is the whole square root of N).\n"
          "Prints: runtime workload threads tasks ns_per_task peak_rss_kb "
          "answer [build/run/free ns per task]\n",
          prog, prog);
}

/* The tasks of a case and the answer its last task must return. */
static int64_t size_case(bench_case *c) {
  int64_t n = c->n;
  switch (c->workload) {
  case BENCH_W1_FANIN:
    c->tasks = n + 1;
    return n * n; /* sum of the first n odd numbers */
  case BENCH_W2_CHAIN:
    c->tasks = n;
    return n - 1;
  case BENCH_W3_TREE:
    c->tasks = 2 * n - 1; /* n leaves and n-1 inner tasks */
    return n * (n - 1) / 2;
  case BENCH_W4_WAVEFRONT:
    c->side = 1;
    while ((c->side + 1) * (c->side + 1) <= n)
      c->side++;
    c->n = c->side * c->side;
    c->tasks = c->n;
    return 2 * (c->side - 1); /* the longest path from (0,0) */
  default:
    c->tasks = n + 1;
    return n * (n - 1) / 2 + n * spin_value;
  }
}

/* ---------------------------------------------------------------- timing */

static uint64_t lap_at[2];
static double lap_split[3]; /* prepare, run, settle within execution */

void bench_lap(int which) {
  if (which == BENCH_LAP_BUILT || which == BENCH_LAP_RAN)
    lap_at[which] = now_ns();
}

void bench_lap_split(double prepare_ns, double run_ns, double settle_ns) {
  lap_split[0] = prepare_ns;
  lap_split[1] = run_ns;
  lap_split[2] = settle_ns;
}

static int64_t run_once(const bench_runtime *rt, const bench_case *c,
                        uint64_t *ns) {
  lap_at[0] = lap_at[1] = 0;
  lap_split[0] = lap_split[1] = lap_split[2] = 0;
  uint64_t t0 = now_ns();
  int64_t answer = rt->run[c->workload](c);
  uint64_t t1 = now_ns();
  *ns = t1 - t0;
  /* Turn the laps into phase lengths, or 0 when a phase was not marked. */
  if (lap_at[0] && lap_at[1]) {
    lap_at[1] -= lap_at[0];
    lap_at[0] -= t0;
  } else {
    lap_at[0] = lap_at[1] = 0;
  }
  return answer;
}

/*
** Ask glibc to keep freed memory: blocks up to 32 MB (its ceiling) come from
** the heap instead of fresh mappings, and the heap is never trimmed. So the
** timed run of --warm reuses the warm-up's pages in every program alike,
** as BENCH.md's warm figures assume. BENCH_NO_MALLOPT=1 turns this off,
** and so does a runtime's manages_memory. dusk runs with it like the others:
** it maps its own large arrays and keeps its own slabs, so the setting only
** reaches the benchmark's own arrays (the pointers it builds calls from).
*/
static void keep_freed_memory(const bench_runtime *rt) {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
  const char *off = getenv("BENCH_NO_MALLOPT");
  if ((off && *off && strcmp(off, "0")) || rt->manages_memory)
    return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, INT32_MAX);
#endif
}

static long peak_rss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void print_line(const bench_runtime *rt, const bench_case *c,
                       uint64_t ns, int64_t answer) {
  double per = (double)ns / (double)c->tasks;
  printf("%s %s %d %" PRId64 " %.1f %ld %" PRId64, rt->name,
         workloads[c->workload].label, c->threads, c->tasks, per,
         peak_rss_kb(), answer);
  if (lap_at[0]) {
    uint64_t freeing = ns - lap_at[0] - lap_at[1];
    double n = (double)c->tasks;
    printf(" %.1f", (double)lap_at[0] / n);
    if (lap_split[1] > 0)
      printf("/%.1f/%.1f/%.1f", lap_split[0] / n, lap_split[1] / n,
             lap_split[2] / n);
    else
      printf("/%.1f", (double)lap_at[1] / n);
    printf("/%.1f", (double)freeing / n);
  }
  putchar('\n');
  fflush(stdout);
}

int bench_main(const bench_runtime *rt, int argc, char **argv) {
  bench_case c = {0};
  int warm = 0, npos = 0;
  const char *pos[3];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--warm")) {
      warm = 1;
    } else if (!strcmp(argv[i], "--malloc") || !strcmp(argv[i], "--literal")) {
      c.variant = 1;
    } else if (!strcmp(argv[i], "--phases")) {
      c.variant = 2;
    } else if (!strcmp(argv[i], "--calibrate")) {
      printf("%" PRIu64 "\n", calibrate());
      return 0;
    } else if (argv[i][0] == '-' || npos == 3) {
      usage(argv[0]);
      return 2;
    } else {
      pos[npos++] = argv[i];
    }
  }
  if (npos < 2) {
    usage(argv[0]);
    return 2;
  }
  int w = parse_workload(pos[0]);
  if (w < 0)
    bench_die("unknown workload '%s'", pos[0]);
  c.workload = (bench_workload)w;
  c.threads = (int)parse_int(pos[1], "THREADS");
  c.n = npos == 3 ? parse_int(pos[2], "N") : workloads[w].default_n;
  if (c.workload == BENCH_W5_BUSY)
    setup_spin();
  int64_t expected = size_case(&c);

  keep_freed_memory(rt);
  if (rt->setup && rt->setup(&c) != 0)
    return 2;
  uint64_t ns;
  int64_t answer;
  if (warm && (answer = run_once(rt, &c, &ns)) != expected) {
    fprintf(stderr, "%s %s: wrong answer %" PRId64 ", expected %" PRId64 "\n",
            rt->name, workloads[w].label, answer, expected);
    return 1;
  }
  answer = run_once(rt, &c, &ns);
  if (rt->teardown)
    rt->teardown();
  if (answer != expected) {
    fprintf(stderr, "%s %s: wrong answer %" PRId64 ", expected %" PRId64 "\n",
            rt->name, workloads[w].label, answer, expected);
    return 1;
  }
  print_line(rt, &c, ns, answer);
  return 0;
}
