/*
** hdf5_rowsum: the row sums of an HDF5 dataset, as dask.delayed's classic
** example computes them, in C.
**
** The Python it follows opens a file, makes one delayed task per row that
** reads the row and sums it, and one delayed sum over the rows:
**
**     dset = h5py.File("myfile.hdf5")["/X"]
**     rows = [delayed(sum_row)(i) for i in range(dset.shape[0])]
**     total = delayed(sum)(rows).compute()
**
** Here the rows come in blocks (--rows-per-task, 1 by default: the graph
** above), and the graph takes one of two forms, after the limit on dusk's
** resource class "hdf5" and the size of the blocks (below):
**
**   fused, with no limit, or with blocks of fewer than 8 rows: one
**     read_sum_block task per block reads the block's rows and sums them,
**     as the seed's sum_row does; with --write-rows, read_sum_write_block
**     also stores each row's sum in a new dataset (dask's to_hdf5 step);
**   split, with a limit and blocks of 8 rows or more: a read_block task
**     reads the rows into a buffer, which dusk gives back (to be used by
**     a later read) as soon as a sum_block task has summed it; with
**     --write-rows a row_sums task hands the row sums to a write_block
**     task.
**
** A tree of "add" tasks, two by two, then adds the blocks. The answer is
** checked against a sequential read of the same blocks, with the same read
** code, summed in the same order, so the two must agree to the last bit;
** --write-rows reads the stored row sums back and compares them too.
**
** Why two forms. Every task that calls HDF5 is in the class "hdf5", and the
** pool runs at most --hdf5-limit of them at once; a task holds its slot
** for as long as it runs. Under a limit, a large block's sum is therefore
** a task of its own, in no class: the read gives its slot back as soon as
** the rows are in memory, and the next read starts while a worker sums
** them. With no limit there is no slot to give back, and splitting only
** costs: a second node per block, a buffer allocated, handed from task to
** task and freed, and a sum that runs wherever a worker picks it up, often
** on the other core, away from the rows in cache. A small block's sum is
** shorter than that hand-off, so small blocks are fused under a limit too
** (10,000 rows one at a time on 2 threads at a limit of 1: 34 ms fused,
** 49 to 59 split, 33 on one thread). The fused task reuses a buffer (a
** reader's, below) and sums the rows straight after reading them. It is in
** the class "hdf5" all the same, because it calls HDF5.
**
** HDF5 and threads. Debian's serial libhdf5 is built thread-safe, which
** means one global lock taken by every API call: calls never overlap
** whatever the limit, and the limit only decides whether the workers queue
** inside HDF5 or in dusk. A worker that finds the class full does not
** wait: it runs other work, the sums above all, and the read starts as
** soon as a slot frees. Builds without that lock (the parallel ones, and
** any configured without --enable-threadsafe) must never be called from two
** threads at once; H5is_library_threadsafe() says which build is linked,
** and on one without the lock the limit is forced to 1 (so the split
** form), with a note. Main opens the file and the dataset once, before the
** compute, and only closes them after it; the tasks share those ids.
**
** Reading. A read selects its rows with a hyperslab in a dataspace of the
** file's, and describes the memory it reads into with a dataspace of its
** own. A reader makes the two once and reuses them read after read
** (making and closing them for each row cost a third of the read of a row
** of 1,000 doubles), along with a buffer for a block. The input keeps the
** readers no read is using: a compute makes as many as reads ran at once
** (one per worker at most), and the sequential check and later computes
** take them again. So the tasks and the check read with the same code,
** into memory already touched (a fresh page costs tens of microseconds on
** bench/hdf5's machine: a buffer of 32 rows, 64 of them).
**
** The default limit depends on the block, from measurement (2 threads,
** bench/RESULTS-hdf5.md and the runs noted here). Two threads that call
** HDF5 at once queue on its global lock, a mutex and a condition variable:
** the one that waits sleeps and is woken for nearly every call (some
** 18,000 futex calls for 10,000 rows), which on this virtual machine costs
** more than reading a row. A limit keeps the queue in dusk instead, whose
** workers run other work meanwhile. Small blocks are all reads and lock
** traffic: at one row per task a limit of 1 took 0.37 times as long as
** none on 10,000 rows (33.0 against 88.1 ms). Large blocks have sums worth
** overlapping with the next read, which no limit allows best: at 32 rows a
** block no limit took 0.61 times as long (12.7 against 20.7 ms). Single
** runs at 2 to 32 rows a block (compute, ms, no limit against a limit of
** 1, split) put the turn at about 8: 2 rows 42-65 / 27-39, 4 rows 35-48 /
** 31-33, 8 rows 27-28 / 20-31, 16 rows 14-21 / 21-37. So with no
** --hdf5-limit, blocks under 8 rows get a limit of 1, larger ones none.
**
** Threads. For blocks under 8 rows one worker does best of all: the reads
** are serial under HDF5's lock whatever dusk does, the sums are a tenth of
** the work, and passing the slot between two workers costs more than the
** sums they could share (1,000 rows one at a time: 3.3 ms on one thread,
** 4.4 on two at a limit of 1). So with no --threads (and no
** DUSK_NUM_THREADS) such blocks run on one worker, larger ones on one per
** core.
**
** Speed (bench/RESULTS-hdf5.md, medians against a sequential loop over the
** same blocks with the same read code, on 1,000 and 10,000 rows, one run):
** at the defaults, blocks of 32 rows (2 threads, no limit) take 1.25 and
** 0.96 times the loop and are 98 and 133 times faster than dask's version;
** one row per task, the seed's graph (one thread), takes 1.41 and 1.26
** times the loop and is 45 and 60 times faster than dask. On two threads at
** a limit of 1 the seed's graph takes 1.89 and 1.45 times the loop.
**
** Usage:
**   hdf5_rowsum [--rows-per-task N] [--threads N] [--hdf5-limit N]
**               [--dot FILE] [--trace FILE] [--write-rows] [FILE [DATASET]]
**
**   FILE, DATASET      a 2-D floating-point dataset (default DATASET: /X).
**                      Without FILE the program writes the demo file
**                      hdf5_rowsum_demo.h5 into the working directory (/X:
**                      1000 x 1000 random doubles, contiguous, fixed seed)
**                      and uses it.
**   --rows-per-task N  rows read and summed by one task (default 1)
**   --threads N        worker threads (0: one per core, or
**                      DUSK_NUM_THREADS; default: 1 for blocks of fewer
**                      than 8 rows unless DUSK_NUM_THREADS is set, 0 for
**                      larger ones)
**   --hdf5-limit N     at most N tasks that call HDF5 at once (0: no
**                      limit; default: 1 for blocks of fewer than 8 rows,
**                      none for larger ones; forced to 1 when the linked
**                      HDF5 is not thread-safe)
**   --dot FILE         draw the graph after the compute: .svg, .png or .pdf
**                      through graphviz's dot, any other name as DOT text
**   --trace FILE       record every task of the compute into FILE, as
**                      Chrome trace-event JSON (Perfetto, chrome://tracing)
**   --write-rows       write the row sums into DATASET_rowsums (/X_rowsums),
**                      replacing it if present, and check them
**
** Exit status: 0 when the total checks out; 2 for bad input (an option, a
** missing or unreadable file, a dataset that is missing, not 2-D, empty or
** not of floating point), with a one-line message on stderr; 1 when
** something fails at run time.
*/
#define _POSIX_C_SOURCE 200809L

#include "dusk.h"

#include <hdf5.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define PROG "hdf5_rowsum"
#define DEMO_FILE "hdf5_rowsum_demo.h5"
#define DEMO_DATASET "/X"
#define DEMO_ROWS 1000
#define DEMO_COLS 1000
#define DEMO_SEED 42
#define HDF5_CLASS "hdf5" /* the resource class of the tasks that call HDF5 */
/* --hdf5-limit when none is given: 1 for blocks under AUTO_ROWS rows,
   else none (measured, see the top). */
#define DEFAULT_LIMIT (-1)
#define AUTO_ROWS 8

/* Blocks of `rows` rows are small: reads dominate, a sum is not worth a
   task of its own, and one worker does best (see the top). */
static int small_block(unsigned long long rows) { return rows < AUTO_ROWS; }

/* The limit used when none is given, for blocks of `rows` rows. */
static int default_limit(unsigned long long rows) {
  return small_block(rows) ? 1 : 0;
}

enum { EXIT_BAD_INPUT = 2 };

/* ============================================================ the input */

/*
** What the tasks share: the open dataset, its shape and the dataset the
** row sums go to, read-only while a compute runs; and the readers of the
** dataset (below) that no read uses now. Callers set path and name, the
** ids to H5I_INVALID_HID, and the rest to zero (an initializer does).
*/
#define KEPT_READERS 16 /* idle readers kept, at most (see reader_give()) */
#define KEPT_BUFFERS 16 /* block buffers kept, at most (see buffer_give()) */

typedef struct input {
  const char *path, *name;
  hid_t file;                  /* H5I_INVALID_HID until opened */
  hid_t dset;                  /* the 2-D dataset               */
  hid_t rowsums;               /* --write-rows: the 1-D output  */
  hsize_t rows, cols;
  _Atomic(void *) kept[KEPT_READERS];  /* idle readers, or NULL         */
  _Atomic(void *) spare[KEPT_BUFFERS]; /* idle block buffers, or NULL   */
} input;

/* One of n slots' idle things, or NULL when all are empty. Any thread. */
static void *spare_take(_Atomic(void *) *slots, int n) {
  void *x = NULL;
  for (int i = 0; i < n && x == NULL; i++)
    x = atomic_exchange(&slots[i], NULL);
  return x;
}

/* Put x in an empty one of n slots; false when all are full. Any thread. */
static bool spare_put(_Atomic(void *) *slots, int n, void *x) {
  for (int i = 0; i < n; i++) {
    void *none = NULL;
    if (atomic_compare_exchange_strong(&slots[i], &none, x))
      return true;
  }
  return false;
}

#if defined(__GNUC__)
#define PRINTF_LIKE __attribute__((format(printf, 1, 2)))
#else
#define PRINTF_LIKE
#endif

/* A one-line message for bad input; returns EXIT_BAD_INPUT. */
static int bad_input(const char *fmt, ...) PRINTF_LIKE;
static int bad_input(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, PROG ": ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return EXIT_BAD_INPUT;
}

static const char *class_text(H5T_class_t c) {
  switch (c) {
  case H5T_INTEGER: return "integers";
  case H5T_STRING: return "strings";
  case H5T_COMPOUND: return "compound records";
  case H5T_ENUM: return "enumerations";
  case H5T_ARRAY: return "arrays";
  case H5T_VLEN: return "variable-length sequences";
  case H5T_REFERENCE: return "references";
  case H5T_OPAQUE: return "opaque data";
  case H5T_BITFIELD: return "bit fields";
  case H5T_TIME: return "times";
  default: return "values of an unknown class";
  }
}

/*
** Dataspaces this program holds open. HDF5 1.10 counts open files and
** objects (H5Fget_obj_count) but not dataspaces, and the readers keep
** theirs from task to task, so each dataspace made here is counted by
** counted() and each close by space_close(), and main checks at the end
** that none is left. Any thread.
*/
static atomic_long spaces_open;

/* s, a dataspace just made (or, when < 0, a failure), counted. */
static hid_t counted(hid_t s) {
  if (s >= 0)
    atomic_fetch_add_explicit(&spaces_open, 1, memory_order_relaxed);
  return s;
}

/* Close s, made through counted(); nothing when s < 0. */
static void space_close(hid_t s) {
  if (s >= 0 && H5Sclose(s) >= 0)
    atomic_fetch_sub_explicit(&spaces_open, 1, memory_order_relaxed);
}

static void close_readers(input *in);
static void free_buffers(input *in);

/* Close what open_input() and make_rowsums() opened, and the readers and
   buffers kept; safe to repeat. */
static void close_input(input *in) {
  close_readers(in);
  free_buffers(in);
  if (in->rowsums >= 0)
    H5Dclose(in->rowsums);
  if (in->dset >= 0)
    H5Dclose(in->dset);
  if (in->file >= 0)
    H5Fclose(in->file);
  in->rowsums = in->dset = in->file = H5I_INVALID_HID;
}

/* Check that the open dataset is a non-empty 2-D float dataset. */
static int check_shape(input *in) {
  hid_t space = counted(H5Dget_space(in->dset));
  hid_t type = H5Dget_type(in->dset);
  int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  hsize_t dims[2] = {0, 0};
  if (rank == 2)
    H5Sget_simple_extent_dims(space, dims, NULL);
  if (type >= 0)
    H5Tclose(type);
  space_close(space);
  if (rank < 0 || cls == H5T_NO_CLASS)
    return bad_input("%s: cannot read the shape and type of %s", in->path,
                     in->name);
  if (rank != 2)
    return bad_input("%s: %s has %d dimension%s, expected 2", in->path,
                     in->name, rank, rank == 1 ? "" : "s");
  if (cls != H5T_FLOAT)
    return bad_input("%s: %s holds %s, not floating-point numbers", in->path,
                     in->name, class_text(cls));
  if (dims[0] == 0 || dims[1] == 0)
    return bad_input("%s: %s is empty (%" PRIuMAX " x %" PRIuMAX ")",
                     in->path, in->name, (uintmax_t)dims[0],
                     (uintmax_t)dims[1]);
  in->rows = dims[0];
  in->cols = dims[1];
  return 0;
}

/*
** Open in->path and in->name, writable when `write`, and check the
** dataset. Returns 0, or EXIT_BAD_INPUT after a one-line message; on
** failure everything it opened is closed again.
*/
static int open_input(input *in, int write) {
  FILE *f = fopen(in->path, "rb"); /* errno says why better than HDF5 does */
  if (f == NULL)
    return bad_input("cannot open %s: %s", in->path, strerror(errno));
  fclose(f);
  if (H5Fis_hdf5(in->path) <= 0)
    return bad_input("%s is not an HDF5 file", in->path);
  in->file = H5Fopen(in->path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY,
                     H5P_DEFAULT);
  if (in->file < 0)
    return bad_input("cannot open %s%s", in->path,
                     write ? " for writing" : "");
  /* H5Lexists fails, rather than saying no, when a parent group is absent */
  if (in->name[0] == '\0' || H5Lexists(in->file, in->name, H5P_DEFAULT) <= 0) {
    close_input(in);
    return bad_input("%s: no dataset %s", in->path, in->name);
  }
  in->dset = H5Dopen2(in->file, in->name, H5P_DEFAULT);
  if (in->dset < 0) {
    close_input(in);
    return bad_input("%s: %s is not a dataset", in->path, in->name);
  }
  int rc = check_shape(in);
  if (rc != 0)
    close_input(in);
  return rc;
}

/*
** --write-rows: (re)create the 1-D dataset `name` of in->rows doubles.
** Returns 0, or 1 after a message.
*/
static int make_rowsums(input *in, const char *name) {
  htri_t there = H5Lexists(in->file, name, H5P_DEFAULT);
  if (there > 0 && H5Ldelete(in->file, name, H5P_DEFAULT) < 0) {
    fprintf(stderr, PROG ": %s: cannot replace %s\n", in->path, name);
    return 1;
  }
  hid_t space = counted(H5Screate_simple(1, &in->rows, NULL));
  if (space >= 0)
    in->rowsums = H5Dcreate2(in->file, name, H5T_IEEE_F64LE, space,
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  space_close(space);
  if (in->rowsums < 0) {
    fprintf(stderr, PROG ": %s: cannot create %s\n", in->path, name);
    return 1;
  }
  return 0;
}

/* ============================================================ reading */

/*
** Keep HDF5 from printing its error stack on this thread: our messages say
** what failed. A thread-safe HDF5 keeps one error stack, and so one such
** setting, per thread, so each worker that calls it must say so once;
** main's call in main() covers only main. Any thread.
*/
static void quiet_hdf5(void) {
  static _Thread_local int quiet;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
  }
}

/*
** A reader reads blocks of up to `most` rows with dataspaces it made once:
** one of the file's, whose selection each read moves to the block's rows,
** and one of memory for `most` rows. Making and closing the two for every
** read cost a third of the read of a row of 1,000 doubles (0.6 of 1.9 us on
** bench/hdf5's machine). It also owns a buffer for a block and its row
** sums, made when first asked for. One thread at a time uses a reader.
*/
typedef struct reader {
  hid_t file_space, mem_space;
  hsize_t most;     /* the rows mem_space holds */
  hsize_t selected; /* the rows of mem_space selected now */
  double *buf;      /* most * cols values, then most row sums; or NULL */
} reader;

/* Close what reader_open() made, and free the buffer; safe to repeat. */
static void reader_close(reader *r) {
  space_close(r->mem_space);
  space_close(r->file_space);
  free(r->buf);
  r->file_space = r->mem_space = H5I_INVALID_HID;
  r->buf = NULL;
}

/* Make r's dataspaces for blocks of up to `most` rows. Returns 0, or -1
   with nothing left open. */
static int reader_open(reader *r, const input *in, hsize_t most) {
  hsize_t size[2] = {most, in->cols};
  quiet_hdf5();
  *r = (reader){.most = most, .selected = most};
  r->file_space = counted(H5Dget_space(in->dset));
  r->mem_space = counted(H5Screate_simple(2, size, NULL));
  if (r->file_space >= 0 && r->mem_space >= 0)
    return 0;
  reader_close(r);
  H5Eclear2(H5E_DEFAULT); /* as reader_read() does */
  return -1;
}

/*
** A reader of in for blocks of up to `most` rows: an idle one that was
** kept, made larger if need be, or a new one. NULL when one cannot be made.
** Give it back with reader_give(). Any thread.
*/
static reader *reader_take(input *in, hsize_t most) {
  reader *r = spare_take(in->kept, KEPT_READERS);
  if (r != NULL && r->most >= most)
    return r;
  if (r != NULL)
    reader_close(r);
  else if ((r = malloc(sizeof *r)) == NULL)
    return NULL;
  if (reader_open(r, in, most) == 0)
    return r;
  free(r);
  return NULL;
}

/*
** Keep r, idle, for the next reader_take(), with its dataspaces and its
** buffer: so a compute makes as many readers as reads ever ran at once
** (one per worker at most), and a compute or a sequential check after it
** makes none. Beyond KEPT_READERS kept, r is closed. Any thread.
*/
static void reader_give(input *in, reader *r) {
  if (spare_put(in->kept, KEPT_READERS, r))
    return;
  reader_close(r);
  free(r);
}

/* Close the readers kept; no read may run. */
static void close_readers(input *in) {
  for (reader *r; (r = spare_take(in->kept, KEPT_READERS)) != NULL;) {
    reader_close(r);
    free(r);
  }
}

/*
** Read rows [first, first + count) into buf (count * cols doubles; count at
** most r->most): select them in the file's dataspace (and the first count
** rows of memory's, when the count changes), then read. Returns 0 or -1.
** Any thread, but on an HDF5 that is not thread-safe never two at once
** (the "hdf5" class's limit of 1 sees to that).
*/
static int reader_read(reader *r, const input *in, hsize_t first,
                       hsize_t count, double *buf) {
  hsize_t start[2] = {first, 0}, size[2] = {count, in->cols};
  hsize_t origin[2] = {0, 0};
  quiet_hdf5();
  if (count != r->selected) {
    if (H5Sselect_hyperslab(r->mem_space, H5S_SELECT_SET, origin, NULL,
                            size, NULL) >= 0)
      r->selected = count;
    else
      r->selected = 0; /* select again next time */
  }
  if (r->selected == count &&
      H5Sselect_hyperslab(r->file_space, H5S_SELECT_SET, start, NULL, size,
                          NULL) >= 0 &&
      H5Dread(in->dset, H5T_NATIVE_DOUBLE, r->mem_space, r->file_space,
              H5P_DEFAULT, buf) >= 0)
    return 0;
  /* Empty this thread's error stack now: HDF5 1.10 frees a thread's stack
     but not the messages on it when the thread ends, and a worker may make
     no other HDF5 call (each call empties it first) before it ends. */
  H5Eclear2(H5E_DEFAULT);
  return -1;
}

/* n * per doubles, uninitialised; NULL when too many or out of memory. */
static double *doubles(hsize_t n, hsize_t per) {
  if (per == 0 || n > SIZE_MAX / sizeof(double) / per)
    return NULL;
  return malloc((size_t)(n * per) * sizeof(double));
}

/* r's buffer, made now if need be: r->most rows, then r->most row sums.
   NULL when too large or out of memory. */
static double *reader_buffer(reader *r, const input *in) {
  if (r->buf == NULL)
    r->buf = doubles(r->most, in->cols + 1);
  return r->buf;
}

/* Write sums[0..count-1] to rows [first, first + count) of in->rowsums;
   the threads as reader_read(). */
static int write_rows(const input *in, hsize_t first, hsize_t count,
                      const double *sums) {
  herr_t rc = -1;
  quiet_hdf5();
  hid_t file_space = counted(H5Dget_space(in->rowsums));
  hid_t mem_space = counted(H5Screate_simple(1, &count, NULL));
  if (file_space >= 0 && mem_space >= 0 &&
      H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &first, NULL, &count,
                          NULL) >= 0)
    rc = H5Dwrite(in->rowsums, H5T_NATIVE_DOUBLE, mem_space, file_space,
                  H5P_DEFAULT, sums);
  space_close(mem_space);
  space_close(file_space);
  return rc < 0 ? -1 : 0;
}

/*
** The sum of each of `count` rows of `cols` values, left to right, into
** sums[] when it is not NULL; returns the rows' sums added in order. The
** sequential check uses the same function, so both add in the same order.
*/
static double sum_rows(const double *buf, hsize_t count, hsize_t cols,
                       double *sums) {
  double total = 0;
  for (hsize_t r = 0; r < count; r++) {
    const double *row = buf + r * cols;
    double s = 0;
    for (hsize_t c = 0; c < cols; c++)
      s += row[c];
    if (sums != NULL)
      sums[r] = s;
    total += s;
  }
  return total;
}

/* ============================================================ the tasks */

/* A block of rows, what one task reads. Lives until the graph is freed. */
typedef struct block {
  input *in;
  hsize_t first, count;
  hsize_t most;     /* rows per block: the readers' size */
  int write;        /* fused: also store the row sums */
} block;

/* Fail t with "rows F..L: why". */
static int block_fail(dusk_task *t, const block *b, const char *why) {
  return dusk_fail(t, "rows %ju..%ju: %s", (uintmax_t)b->first,
                   (uintmax_t)(b->first + b->count - 1), why);
}

/*
** The fused task, in the class "hdf5", when the class has no limit: read
** the block's rows into a reader's buffer and return their sum, added in
** sum_rows()'s order; with b->write, store each row's sum as well.
*/
static int read_sum_block(dusk_task *t, const dusk_value *args, int nargs,
                          dusk_value *out) {
  (void)args, (void)nargs;
  const block *b = dusk_task_udata(t);
  reader *r = reader_take(b->in, b->most);
  double *buf = r != NULL ? reader_buffer(r, b->in) : NULL;
  const char *why = r == NULL     ? "cannot make a reader"
                    : buf == NULL ? "out of memory"
                    : reader_read(r, b->in, b->first, b->count, buf) != 0
                        ? "reading failed"
                        : NULL;
  if (why == NULL) {
    double *sums = b->write ? buf + r->most * b->in->cols : NULL;
    *out = dusk_f64(sum_rows(buf, b->count, b->in->cols, sums));
    if (sums != NULL && write_rows(b->in, b->first, b->count, sums) != 0)
      why = "writing the sums failed";
  }
  if (r != NULL)
    reader_give(b->in, r);
  return why == NULL ? 0 : block_fail(t, b, why);
}

/*
** The split form's block buffers. dusk releases a read task's buffer once
** the sum that reads it has run; buffer_give() keeps it for the next read
** (up to KEPT_BUFFERS per input) rather than free it, so that reads write
** into memory used before: on two workers a read into fresh memory took up
** to a millisecond where one into a kept buffer took 20 to 100 us. Any
** thread.
*/
typedef struct buffer {
  input *in;
  size_t cap; /* doubles */
  double data[];
} buffer;

/* A buffer of n doubles for in: a kept one if large enough, else new. */
static double *buffer_take(input *in, size_t n) {
  buffer *b = spare_take(in->spare, KEPT_BUFFERS);
  if (b != NULL && b->cap >= n)
    return b->data;
  free(b);
  if (n > (SIZE_MAX - sizeof *b) / sizeof(double) ||
      (b = malloc(sizeof *b + n * sizeof(double))) == NULL)
    return NULL;
  b->in = in;
  b->cap = n;
  return b->data;
}

/* The free function of a block's value: keep its buffer, or free it. */
static void buffer_give(void *data) {
  buffer *b = (buffer *)((char *)data - offsetof(buffer, data));
  if (!spare_put(b->in->spare, KEPT_BUFFERS, b))
    free(b);
}

/* Free the buffers kept; no block value may be left. */
static void free_buffers(input *in) {
  for (void *b; (b = spare_take(in->spare, KEPT_BUFFERS)) != NULL;)
    free(b);
}

/*
** The split form's read, in the class "hdf5": read the block's rows into a
** buffer and return it (count * cols doubles, given back by dusk once its
** reader has run). A reader lends its dataspaces only: the buffer must
** outlive this task.
*/
static int read_block(dusk_task *t, const dusk_value *args, int nargs,
                      dusk_value *out) {
  (void)args, (void)nargs;
  const block *b = dusk_task_udata(t);
  hsize_t cols = b->in->cols;
  double *buf = cols > 0 && b->count <= SIZE_MAX / cols
                    ? buffer_take(b->in, (size_t)(b->count * cols))
                    : NULL;
  reader *r = buf != NULL ? reader_take(b->in, b->most) : NULL;
  const char *why = buf == NULL ? "out of memory"
                    : r == NULL ? "cannot make a reader"
                    : reader_read(r, b->in, b->first, b->count, buf) != 0
                        ? "reading failed"
                        : NULL;
  if (r != NULL)
    reader_give(b->in, r);
  if (why != NULL) {
    if (buf != NULL)
      buffer_give(buf);
    return block_fail(t, b, why);
  }
  *out = dusk_ptr(buf, (size_t)(b->count * b->in->cols) * sizeof *buf,
                  buffer_give);
  return 0;
}

/* Sum each row of the block read into args[0], and return the block's sum. */
static int sum_block(dusk_task *t, const dusk_value *args, int nargs,
                     dusk_value *out) {
  (void)nargs;
  const block *b = dusk_task_udata(t);
  *out = dusk_f64(sum_rows(args[0].ptr, b->count, b->in->cols, NULL));
  return 0;
}

/* --write-rows: return the sum of each row of the block in args[0]. */
static int row_sums(dusk_task *t, const dusk_value *args, int nargs,
                    dusk_value *out) {
  (void)nargs;
  const block *b = dusk_task_udata(t);
  double *sums = doubles(b->count, 1);
  if (sums == NULL)
    return block_fail(t, b, "out of memory");
  sum_rows(args[0].ptr, b->count, b->in->cols, sums);
  *out = dusk_ptr(sums, (size_t)b->count * sizeof *sums, free);
  return 0;
}

/*
** --write-rows, in the class "hdf5": store the row sums in args[0], and
** return their sum, added in sum_rows()'s order.
*/
static int write_block(dusk_task *t, const dusk_value *args, int nargs,
                       dusk_value *out) {
  (void)nargs;
  const block *b = dusk_task_udata(t);
  const double *sums = args[0].ptr;
  if (write_rows(b->in, b->first, b->count, sums) != 0)
    return block_fail(t, b, "writing the sums failed");
  double total = 0;
  for (hsize_t r = 0; r < b->count; r++)
    total += sums[r];
  *out = dusk_f64(total);
  return 0;
}

static int add(dusk_task *t, const dusk_value *args, int nargs,
               dusk_value *out) {
  (void)t, (void)nargs;
  *out = dusk_f64(args[0].f64 + args[1].f64);
  return 0;
}

/* ============================================================ the graph */

/* The graph of one row sum, and what it took to build. */
typedef struct rowsum {
  dusk_graph *g;
  block *blocks;
  size_t nblocks;
  int fused;         /* one task per block */
  dusk_node *total;  /* NULL when building failed */
  size_t tasks;
} rowsum;

static size_t block_count(const input *in, hsize_t rows_per_task) {
  return (size_t)((in->rows + rows_per_task - 1) / rows_per_task);
}

/*
** Add neighbours two by two until one node is left, an odd one out moving
** up a level, in place in level[0..n-1]. tree_sum() below adds numbers in
** exactly this order. NULL when an add cannot be made (out of memory; the
** thread's last error says so).
*/
static dusk_node *add_tree(dusk_graph *g, dusk_node **level, size_t n) {
  for (; n > 1; n = (n + 1) / 2)
    for (size_t i = 0; i < n; i += 2)
      if ((level[i / 2] = i + 1 < n
                              ? dusk_delayed(g, add, level[i], level[i + 1])
                              : level[i]) == NULL)
        return NULL;
  return level[0];
}

static double tree_sum(double *v, size_t n) {
  for (; n > 1; n = (n + 1) / 2)
    for (size_t i = 0; i < n; i += 2)
      v[i / 2] = i + 1 < n ? v[i] + v[i + 1] : v[i];
  return v[0];
}

/* A call to fn that calls HDF5: in the class "hdf5". NULL on failure. */
static dusk_node *hdf5_call(dusk_graph *g, const char *name, dusk_fn fn,
                            block *b, int nargs, dusk_node *const *args) {
  dusk_node *n = dusk_call_named(g, name, fn, b, nargs, args);
  return n != NULL && dusk_set_resource(n, HDF5_CLASS) == DUSK_OK ? n : NULL;
}

/*
** The nodes of block b. Fused: one read_sum_block (read_sum_write_block
** with write). Split: read_block, then sum_block (or, with write, row_sums
** and write_block). Returns the last, or NULL when one cannot be made (the
** thread's last error says why).
*/
static dusk_node *block_nodes(dusk_graph *g, block *b, int fused, int write) {
  if (fused)
    return hdf5_call(g, write ? "read_sum_write_block" : "read_sum_block",
                     read_sum_block, b, 0, NULL);
  dusk_node *rows = hdf5_call(g, "read_block", read_block, b, 0, NULL);
  if (rows == NULL)
    return NULL;
  if (!write)
    return dusk_call_named(g, "sum_block", sum_block, b, 1, &rows);
  dusk_node *sums = dusk_call_named(g, "row_sums", row_sums, b, 1, &rows);
  return sums == NULL ? NULL
                      : hdf5_call(g, "write_block", write_block, b, 1, &sums);
}

/*
** Build the row sum of `in` in a new graph on `pool`: the nodes of each
** block of rows_per_task rows, fused unless the pool has a limit for the
** class "hdf5" and the blocks have AUTO_ROWS rows or more (see the top),
** then the tree of adds. Returns 0, or 1 after
** a message; rowsum_free() releases what it made either way.
*/
static int rowsum_build(rowsum *rs, input *in, hsize_t rows_per_task,
                        int write, dusk_pool *pool) {
  memset(rs, 0, sizeof *rs);
  hsize_t most = in->rows < rows_per_task ? in->rows : rows_per_task;
  rs->fused = dusk_pool_limit(pool, HDF5_CLASS) == 0 ||
              small_block(rows_per_task);
  rs->nblocks = block_count(in, rows_per_task);
  rs->blocks = malloc(rs->nblocks * sizeof *rs->blocks);
  dusk_node **level = malloc(rs->nblocks * sizeof *level);
  rs->g = dusk_graph_new();
  if (rs->blocks == NULL || level == NULL || rs->g == NULL) {
    free(level);
    fprintf(stderr, PROG ": out of memory building the graph\n");
    return 1;
  }
  dusk_graph_set_pool(rs->g, pool);
  size_t i = 0;
  for (; i < rs->nblocks; i++) {
    block *b = &rs->blocks[i];
    *b = (block){.in = in, .first = (hsize_t)i * most, .most = most,
                 .write = write};
    b->count = in->rows - b->first < most ? in->rows - b->first : most;
    if ((level[i] = block_nodes(rs->g, b, rs->fused, write)) == NULL)
      break;
  }
  if (i == rs->nblocks) /* every block's nodes made */
    rs->total = add_tree(rs->g, level, rs->nblocks);
  free(level);
  if (rs->total == NULL) {
    const char *why = NULL;
    dusk_last_error(&why);
    fprintf(stderr, PROG ": building the graph: %s\n", why);
    return 1;
  }
  rs->tasks = dusk_graph_size(rs->g);
  return 0;
}

static void rowsum_free(rowsum *rs) {
  dusk_graph_free(rs->g); /* first: the tasks point into rs->blocks */
  free(rs->blocks);
  memset(rs, 0, sizeof *rs);
}

/* ================================================== the sequential check */

/*
** The same blocks read and summed one after the other on this thread, with
** one reader (kept, as the tasks' are) for them all; the block sums added
** in the tree's order: the answer dusk must match exactly. When row_sums is
** not NULL it receives every row's sum. Returns 0 or -1.
*/
static int sum_sequentially(input *in, hsize_t rows_per_task, double *total,
                            double *row_sums) {
  size_t n = block_count(in, rows_per_task);
  hsize_t most = in->rows < rows_per_task ? in->rows : rows_per_task;
  reader *r = reader_take(in, most);
  double *buf = r != NULL ? reader_buffer(r, in) : NULL;
  double *blocks = malloc(n * sizeof *blocks);
  int rc = buf != NULL && blocks != NULL ? 0 : -1;
  for (size_t i = 0; i < n && rc == 0; i++) {
    hsize_t first = (hsize_t)i * most;
    hsize_t count = in->rows - first < most ? in->rows - first : most;
    rc = reader_read(r, in, first, count, buf);
    if (rc == 0)
      blocks[i] = sum_rows(buf, count, in->cols,
                           row_sums != NULL ? row_sums + first : NULL);
  }
  if (rc == 0)
    *total = tree_sum(blocks, n);
  free(blocks);
  if (r != NULL)
    reader_give(in, r);
  return rc;
}

/* --write-rows: read the stored row sums back and compare them. */
static int check_rowsums(const input *in, const double *expect) {
  double *back = malloc((size_t)in->rows * sizeof *back);
  int ok = back != NULL &&
           H5Dread(in->rowsums, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                   H5P_DEFAULT, back) >= 0 &&
           memcmp(back, expect, (size_t)in->rows * sizeof *back) == 0;
  free(back);
  return ok ? 0 : -1;
}

/* ============================================================ the demo */

/* splitmix64: a small, good generator with a fixed seed, for the demo. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/*
** Write the demo file: /X, DEMO_ROWS x DEMO_COLS doubles uniform in [0, 1),
** stored contiguously (as dask's to_hdf5 made the seed's). Returns 0, or 1
** after a message.
*/
static int make_demo(void) {
  hsize_t dims[2] = {DEMO_ROWS, DEMO_COLS};
  double *x = malloc(sizeof(double) * DEMO_ROWS * DEMO_COLS);
  if (x == NULL) {
    fprintf(stderr, PROG ": out of memory making the demo data\n");
    return 1;
  }
  uint64_t state = DEMO_SEED;
  for (size_t i = 0; i < (size_t)DEMO_ROWS * DEMO_COLS; i++)
    x[i] = (double)(next_random(&state) >> 11) * 0x1.0p-53;
  herr_t rc = -1;
  hid_t file = H5Fcreate(DEMO_FILE, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = counted(H5Screate_simple(2, dims, NULL));
  hid_t dset = file >= 0 && space >= 0
                   ? H5Dcreate2(file, DEMO_DATASET, H5T_IEEE_F64LE, space,
                                H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                   : H5I_INVALID_HID;
  if (dset >= 0)
    rc = H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  if (dset >= 0)
    H5Dclose(dset);
  space_close(space);
  if (file >= 0 && H5Fclose(file) < 0)
    rc = -1;
  free(x);
  if (rc < 0) {
    fprintf(stderr, PROG ": cannot write the demo file %s\n", DEMO_FILE);
    return 1;
  }
  printf("wrote the demo file %s: %s, %d x %d random doubles\n", DEMO_FILE,
         DEMO_DATASET, DEMO_ROWS, DEMO_COLS);
  return 0;
}

/* ============================================================ options */

typedef struct options {
  hsize_t rows_per_task;
  int threads;
  int hdf5_limit;
  const char *dot, *trace;
  int write_rows;
  const char *path, *name;
} options;

static const char usage[] =
    "usage: " PROG " [--rows-per-task N] [--threads N] [--hdf5-limit N]\n"
    "       [--dot FILE] [--trace FILE] [--write-rows] [FILE [DATASET]]\n";

/* A whole number from lo to hi in text, else -1. */
static long long parse_count(const char *text, long long lo, long long hi) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
    return -1;
  return v;
}

/*
** Option opt's value `text`, a whole number from lo to hi (`range` says
** which in words), into *v. Returns 0, or EXIT_BAD_INPUT after a message.
*/
static int number(const char *opt, const char *text, long long lo,
                  long long hi, const char *range, long long *v) {
  *v = parse_count(text, lo, hi);
  return *v >= 0 ? 0
                 : bad_input("%s wants a whole number %s, not '%s'", opt,
                             range, text);
}

/* Does option a take a value? */
static int takes_value(const char *a) {
  return strcmp(a, "--rows-per-task") == 0 || strcmp(a, "--threads") == 0 ||
         strcmp(a, "--hdf5-limit") == 0 || strcmp(a, "--dot") == 0 ||
         strcmp(a, "--trace") == 0;
}

/* Returns 0, EXIT_BAD_INPUT after a message, or -1 for --help. */
static int parse_options(options *o, int argc, char **argv) {
  *o = (options){.rows_per_task = 1, .threads = -1,
                 .hdf5_limit = DEFAULT_LIMIT, .name = DEMO_DATASET};
  int files = 0;
  long long v = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (takes_value(a) && i + 1 >= argc)
      return bad_input("%s wants a value", a);
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return -1;
    } else if (strcmp(a, "--rows-per-task") == 0) {
      if (number(a, argv[++i], 1, INT64_MAX, "from 1 up", &v) != 0)
        return EXIT_BAD_INPUT;
      o->rows_per_task = (hsize_t)v;
    } else if (strcmp(a, "--threads") == 0) {
      if (number(a, argv[++i], 0, 1024, "from 0 (one per core) to 1024",
                 &v) != 0)
        return EXIT_BAD_INPUT;
      o->threads = (int)v;
    } else if (strcmp(a, "--hdf5-limit") == 0) {
      if (number(a, argv[++i], 0, INT_MAX, "from 0 (no limit) up", &v) != 0)
        return EXIT_BAD_INPUT;
      o->hdf5_limit = (int)v;
    } else if (strcmp(a, "--dot") == 0) {
      o->dot = argv[++i];
    } else if (strcmp(a, "--trace") == 0) {
      o->trace = argv[++i];
    } else if (strcmp(a, "--write-rows") == 0) {
      o->write_rows = 1;
    } else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0) {
      return bad_input("unknown option %s (try --help)", a);
    } else if (files == 0) {
      o->path = a;
      files++;
    } else if (files == 1) {
      o->name = a;
      files++;
    } else {
      return bad_input("too many arguments: %s", a);
    }
  }
  if (o->path != NULL && o->path[0] == '\0')
    return bad_input("the file name is empty");
  if (o->hdf5_limit == DEFAULT_LIMIT)
    o->hdf5_limit = default_limit(o->rows_per_task);
  if (o->threads < 0) /* none given: one worker for small blocks (top) */
    o->threads = small_block(o->rows_per_task) && !getenv("DUSK_NUM_THREADS")
                     ? 1
                     : 0;
  return 0;
}

/* ============================================================ main */

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
** How many HDF5 handles this process still holds open: files and objects
** in them (datasets, groups, attributes, named datatypes), and the
** dataspaces it made (counted(): HDF5 1.10 offers no count of those). Main
** checks that none is left at the end, on every path, so that a leaked
** handle fails the tests.
*/
static ssize_t open_handles(void) {
  return H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) +
         (ssize_t)atomic_load(&spaces_open);
}

/*
** The limit to use: `limit`, or 1 with a note when the linked HDF5 is not
** thread-safe (or cannot say) and `limit` would let two tasks call it at
** once. Correctness first: such a build has no lock of its own.
*/
static int safe_limit(int limit) {
  hbool_t safe = 0;
  if (limit == 1 || (H5is_library_threadsafe(&safe) >= 0 && safe))
    return limit;
  fprintf(stderr, PROG ": note: this HDF5 is not thread-safe, so "
                  "--hdf5-limit %d becomes 1\n", limit);
  return 1;
}

/*
** A pool of `threads` workers (0: the default count) that runs at most
** `limit` tasks of the class "hdf5" at once (0: no limit; see
** safe_limit()). NULL after a message.
*/
static dusk_pool *start_pool(int threads, int limit) {
  dusk_pool *pool = dusk_pool_new(threads);
  limit = safe_limit(limit);
  /* No limit: no class either, so that the tags cost nothing. */
  int rc = pool == NULL ? dusk_last_error(NULL)
           : limit > 0  ? dusk_pool_set_limit(pool, HDF5_CLASS, limit)
                        : DUSK_OK;
  if (rc == DUSK_OK)
    return pool;
  const char *why = NULL;
  dusk_last_error(&why);
  fprintf(stderr, PROG ": cannot start the threads: %s\n",
          why != NULL && why[0] != '\0' ? why : dusk_strerror(rc));
  dusk_pool_free(pool);
  return NULL;
}

/* Draw the computed graph into path: an image through dot, else DOT text. */
static int draw(rowsum *rs, const char *path) {
  const char *dot = strrchr(path, '.');
  int image = dot != NULL && (strcmp(dot, ".svg") == 0 ||
                              strcmp(dot, ".png") == 0 ||
                              strcmp(dot, ".pdf") == 0);
  int rc;
  if (image) {
    rc = dusk_visualize(rs->g, &rs->total, 1, path);
  } else {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
      fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
      return 1;
    }
    rc = dusk_write_dot(rs->g, &rs->total, 1, f, NULL);
    if (fclose(f) != 0 && rc == DUSK_OK)
      rc = DUSK_EIO;
  }
  if (rc != DUSK_OK) {
    const char *why = NULL;
    dusk_last_error(&why);
    fprintf(stderr, PROG ": drawing %s: %s\n", path,
            why != NULL && why[0] != '\0' ? why : dusk_strerror(rc));
    return 1;
  }
  printf("graph:     %s\n", path);
  return 0;
}

/* Print what was computed and how long it took. */
static void report(const rowsum *rs, const input *in, const options *o,
                   dusk_pool *pool, double build_s, double compute_s) {
  hsize_t per_task = o->rows_per_task < in->rows ? o->rows_per_task : in->rows;
  const char *up_to = in->rows % per_task != 0 ? "up to " : "";
  printf("dataset:   %s %s, %ju x %ju\n", in->path, in->name,
         (uintmax_t)in->rows, (uintmax_t)in->cols);
  printf("rows:      %ju\n", (uintmax_t)in->rows);
  size_t per_block = rs->fused ? 1 : o->write_rows ? 3 : 2;
  const char *names =
      rs->fused ? (o->write_rows ? "read_sum_write_block" : "read_sum_block")
      : o->write_rows ? "each of read_block, row_sums, write_block"
                      : "each of read_block, sum_block";
  printf("tasks:     %zu (%zu %s of %s%ju row%s, %zu add)\n", rs->tasks,
         rs->nblocks, names, up_to, (uintmax_t)per_task,
         per_task == 1 ? "" : "s", rs->tasks - per_block * rs->nblocks);
  printf("form:      %s\n",
         rs->fused ? "fused: one task per block reads and sums it"
                   : "split (an hdf5 limit, large blocks): a read task, in "
                     "the class hdf5, and a sum task per block");
  printf("threads:   %d\n", dusk_pool_size(pool));
  int limit = dusk_pool_limit(pool, HDF5_CLASS);
  printf("hdf5 limit: %d (%s)\n", limit,
         limit == 0 ? "no limit" : "tasks that call HDF5 at once, at most");
  printf("build:     %.3f ms\n", build_s * 1e3);
  printf("compute:   %.3f ms\n", compute_s * 1e3);
  printf("per task:  %.3f us (build and compute)\n",
         (build_s + compute_s) * 1e6 / (double)rs->tasks);
}

/*
** Compute rs's total into *v, tracing it into o->trace when given; *secs
** gets the compute's time. Returns 0, or 1 after a message.
*/
static int compute(rowsum *rs, const options *o, dusk_value *v,
                   double *secs) {
  const char *why = NULL;
  if (o->trace != NULL && dusk_trace_start(o->trace) != DUSK_OK) {
    dusk_last_error(&why);
    fprintf(stderr, PROG ": %s\n", why);
    return 1;
  }
  double t0 = seconds();
  int rc = dusk_compute(rs->g, rs->total, v);
  *secs = seconds() - t0;
  if (rc != DUSK_OK) {
    if (o->trace != NULL)
      dusk_trace_stop();
    fprintf(stderr, PROG ": %s\n", dusk_errmsg(rs->total));
    return 1;
  }
  if (o->trace != NULL && dusk_trace_stop() != DUSK_OK) {
    dusk_last_error(&why);
    fprintf(stderr, PROG ": %s: %s\n", o->trace, why);
    return 1;
  }
  return 0;
}

/*
** Compute the row sum built in rs, check it against the sequential read
** (and the stored row sums), and print the figures. Returns the exit code.
*/
static int run(rowsum *rs, input *in, const options *o,
               double build_s, dusk_pool *pool) {
  dusk_value v;
  double compute_s = 0;
  if (compute(rs, o, &v, &compute_s) != 0)
    return 1;
  double *row_sums = NULL;
  if (o->write_rows &&
      (row_sums = malloc((size_t)in->rows * sizeof *row_sums)) == NULL) {
    fprintf(stderr, PROG ": out of memory for the check\n");
    return 1;
  }
  double expect = 0, t0 = seconds();
  int seq = sum_sequentially(in, o->rows_per_task, &expect, row_sums);
  double seq_s = seconds() - t0;
  int rows_ok =
      !o->write_rows || (seq == 0 && check_rowsums(in, row_sums) == 0);
  free(row_sums);
  if (seq != 0) {
    fprintf(stderr, PROG ": the sequential read failed\n");
    return 1;
  }
  report(rs, in, o, pool, build_s, compute_s);
  printf("total:     %.17g\n", v.f64);
  printf("check:     %s a sequential read of the same blocks (%.3f ms)\n",
         v.f64 == expect ? "ok, equal to" : "WRONG, differs from",
         seq_s * 1e3);
  if (o->trace != NULL)
    printf("trace:     %s\n", o->trace);
  if (o->write_rows)
    printf("row sums:  %s_rowsums %s\n", in->name,
           rows_ok ? "written and read back: ok" : "WRONG when read back");
  if (v.f64 != expect)
    fprintf(stderr, PROG ": total %.17g, the sequential read gives %.17g\n",
            v.f64, expect);
  if (!rows_ok)
    fprintf(stderr, PROG ": the stored row sums differ from the computed\n");
  return v.f64 == expect && rows_ok ? 0 : 1;
}

/*
** Everything after the options: the demo file, the input, the graph, the
** run. Returns the exit code; every HDF5 handle it opened is closed again.
*/
static int rowsum_file(options *o) {
  if (o->path == NULL) {
    if (make_demo() != 0)
      return 1;
    o->path = DEMO_FILE;
  }
  input in = {.path = o->path, .name = o->name, .file = H5I_INVALID_HID,
              .dset = H5I_INVALID_HID, .rowsums = H5I_INVALID_HID};
  int rc = open_input(&in, o->write_rows);
  if (rc != 0)
    return rc;
  char *out_name = NULL;
  if (o->write_rows) {
    size_t len = strlen(in.name) + sizeof "_rowsums";
    out_name = malloc(len);
    if (out_name != NULL)
      snprintf(out_name, len, "%s_rowsums", in.name);
    rc = out_name != NULL ? make_rowsums(&in, out_name) : 1;
  }
  dusk_pool *pool = rc == 0 ? start_pool(o->threads, o->hdf5_limit) : NULL;
  if (rc == 0 && pool == NULL)
    rc = 1;
  rowsum rs = {0};
  if (rc == 0) {
    double t0 = seconds();
    rc = rowsum_build(&rs, &in, o->rows_per_task, o->write_rows, pool);
    double build_s = seconds() - t0;
    if (rc == 0)
      rc = run(&rs, &in, o, build_s, pool);
    if (rc == 0 && o->dot != NULL)
      rc = draw(&rs, o->dot);
  }
  rowsum_free(&rs);
  dusk_pool_free(pool);
  free(out_name);
  close_input(&in);
  return rc;
}

#ifndef HDF5_ROWSUM_NO_MAIN /* bench/hdf5 includes this file for its tasks */
int main(int argc, char **argv) {
  options o;
  int rc = parse_options(&o, argc, argv);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's stack */
  rc = rowsum_file(&o);
  ssize_t left = open_handles();
  if (left != 0) {
    fprintf(stderr, PROG ": %zd HDF5 handle(s) left open\n", left);
    rc = 1;
  }
  return rc;
}
#endif
