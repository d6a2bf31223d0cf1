/*
** The benchmark harness shared by every C and C++ program in bench/.
**
** Each program (bench_dusk, bench_plain, bench_omp, bench_tbb) writes the five
** workloads of shared/BENCH.md in its runtime's own idiom and hands them to
** bench_main() as a bench_runtime. The harness owns everything else, so that
** the programs differ only in the part being measured: the command line,
** the sizes, the answer each workload must produce, the clock, the peak RSS,
** the calibrated busy loop of W5, and the one line of output.
**
** A workload function builds its graph, runs it, frees it, and returns the
** answer; the harness times that whole call. It may call bench_lap() after
** building and after running, which splits the figure into build, run and
** free for whoever is tuning that runtime.
*/
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bench_workload {
  BENCH_W1_FANIN,
  BENCH_W2_CHAIN,
  BENCH_W3_TREE,
  BENCH_W4_WAVEFRONT,
  BENCH_W5_BUSY,
  BENCH_NWORKLOADS
} bench_workload;

/* One run to make: what the workload function needs to know. */
typedef struct bench_case {
  bench_workload workload;
  int threads;    /* worker threads asked for on the command line         */
  int64_t n;      /* W1, W5: independent tasks; W2: chain length;
                     W3: leaves; W4: cells (side * side)                  */
  int64_t side;   /* W4 only: the grid is side x side                       */
  int64_t tasks;  /* tasks the workload runs, the divisor of ns_per_task    */
  int variant;    /* 1 with --malloc (bench_plain) or --literal (bench_dusk),
                     2 with --phases (bench_dusk)                         */
} bench_case;

typedef int64_t (*bench_fn)(const bench_case *c);

typedef struct bench_runtime {
  const char *name;
  /* Before any timing, once per process: start pools, set thread limits.
     Returns 0, or non-zero after printing why on stderr. May be NULL. */
  int (*setup)(const bench_case *c);
  void (*teardown)(void); /* may be NULL */
  bench_fn run[BENCH_NWORKLOADS];
  /* The runtime keeps its own freed memory for reuse (dusk does): run it
     as a user's program would, without the harness's mallopt. */
  int manages_memory;
} bench_runtime;

/*
** Parse `[--warm] [--malloc|--literal] WORKLOAD THREADS [N]`, run the case once
** (twice with --warm, timing only the second), check the answer and print
** the result line. Returns the process exit status: 0, 1 for a wrong answer,
** 2 for a usage or runtime error.
*/
int bench_main(const bench_runtime *rt, int argc, char **argv);

/* Mark the end of graph construction (BENCH_LAP_BUILT) or of execution. */
enum { BENCH_LAP_BUILT, BENCH_LAP_RAN };
void bench_lap(int which);

/* Split execution into the runtime's own phases (ns): preparing, running,
   settling. The result line then shows build/prepare/run/settle/free. */
void bench_lap_split(double prepare_ns, double run_ns, double settle_ns);

/* The W1 leaf: task i returns 2*i+1. */
static inline int64_t bench_fanin_leaf(int64_t i) { return 2 * i + 1; }

/*
** The W5 task body: spin about 200 us of dependent integer arithmetic
** (calibrated once per process, or taken from BENCH_SPIN_ITERS so that every
** program of one run spins the same amount), then return i plus the spin's
** result, which is the same for every task but unknown to the compiler.
*/
int64_t bench_busy(int64_t i);

/* Abort the process with status 2 after a runtime reported an error. */
void bench_die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* Exit-free allocation for the benchmarks: out of memory is fatal here. */
void *bench_xmalloc(uint64_t size);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_HARNESS_H */
