/*
** hdf5_make: write small HDF5 datasets for the tests and the benchmark of
** hdf5_rowsum, and print their exact total.
**
** Usage: hdf5_make FILE NAME KIND [DIM ...]
**
**   FILE   created if absent, else opened for writing; NAME is replaced
**          if it is already there
**   KIND   f64, f32, i32: element k (in row-major order) is k % 10, so
**          every sum of them is exact in floating point whatever the order;
**          random: f64 uniform in [0, 1) from a fixed seed;
**          external: f64 as above, stored outside FILE, in the raw file
**          NAME.raw in the working directory (the slashes of NAME made
**          underscores): delete it, and reading fails after opening
**          worked, as a failing disk would make it;
**          group: a group, not a dataset (no DIMs)
**   DIM    0 to 3 extents: none is a scalar; 0 is allowed (an empty
**          dataset). Stored contiguously (but see external).
**
** Prints "total T" (the sum of every element, %.17g, added in row-major
** order) and exits 0; exits 1 with a message when something fails.
*/
#define _POSIX_C_SOURCE 200809L

#include <hdf5.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static int fail(const char *what) {
  fprintf(stderr, "hdf5_make: %s\n", what);
  return 1;
}

/* The values of KIND for n elements, as doubles; NULL when out of memory. */
static double *values(const char *kind, size_t n, double *total) {
  double *x = malloc((n > 0 ? n : 1) * sizeof *x);
  uint64_t state = 7;
  *total = 0;
  for (size_t k = 0; x != NULL && k < n; k++) {
    x[k] = strcmp(kind, "random") == 0
               ? (double)(next_random(&state) >> 11) * 0x1.0p-53
               : (double)(k % 10);
    *total += x[k];
  }
  return x;
}

static hid_t file_type(const char *kind) {
  if (strcmp(kind, "f32") == 0)
    return H5T_IEEE_F32LE;
  if (strcmp(kind, "i32") == 0)
    return H5T_STD_I32LE;
  return H5T_IEEE_F64LE;
}

/*
** The creation properties of a dataset of KIND with n elements: default,
** or for "external" its raw file (NAME.raw, see the top) in raw[].
*/
static hid_t creation(const char *kind, const char *name, size_t n,
                      char *raw, size_t size) {
  if (strcmp(kind, "external") != 0)
    return H5P_DEFAULT;
  snprintf(raw, size, "%s.raw", name[0] == '/' ? name + 1 : name);
  for (char *c = raw; *c != '\0'; c++)
    if (*c == '/')
      *c = '_';
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t bytes = (hsize_t)(n * sizeof(double));
  if (p >= 0 && H5Pset_external(p, raw, 0, bytes) < 0) {
    H5Pclose(p);
    p = H5I_INVALID_HID;
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 7)
    return fail("usage: hdf5_make FILE NAME f64|f32|i32|random|group "
                "[DIM ...]");
  const char *path = argv[1], *name = argv[2], *kind = argv[3];
  int group = strcmp(kind, "group") == 0;
  if (!group && strcmp(kind, "f64") != 0 && strcmp(kind, "f32") != 0 &&
      strcmp(kind, "i32") != 0 && strcmp(kind, "random") != 0 &&
      strcmp(kind, "external") != 0)
    return fail("KIND is f64, f32, i32, random, external or group");
  int rank = argc - 4;
  hsize_t dims[3] = {0, 0, 0};
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    char *end = NULL;
    errno = 0;
    unsigned long long d = strtoull(argv[4 + i], &end, 10);
    if (errno != 0 || *end != '\0' || end == argv[4 + i] || d > 1u << 30)
      return fail("a DIM is a whole number up to 2^30");
    dims[i] = d;
    n *= (size_t)d;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t file = access(path, F_OK) == 0
                   ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)
                   : H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0)
    return fail("cannot open or create FILE");
  if (H5Lexists(file, name, H5P_DEFAULT) > 0)
    H5Ldelete(file, name, H5P_DEFAULT);
  herr_t rc = -1;
  double total = 0;
  if (group) {
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = g >= 0 ? H5Gclose(g) : -1;
  } else {
    double *x = values(kind, n, &total);
    char raw[256];
    hid_t dcpl = creation(kind, name, n, raw, sizeof raw);
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(rank, dims, NULL);
    hid_t dset = x != NULL && space >= 0 && dcpl >= 0
                     ? H5Dcreate2(file, name, file_type(kind), space,
                                  H5P_DEFAULT, dcpl, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    if (dset >= 0)
      rc = n == 0 ? 0
                  : H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                             H5P_DEFAULT, x);
    if (dset >= 0)
      H5Dclose(dset);
    if (space >= 0)
      H5Sclose(space);
    if (dcpl >= 0 && dcpl != H5P_DEFAULT)
      H5Pclose(dcpl);
    free(x);
  }
  if (H5Fclose(file) < 0)
    rc = -1;
  if (rc < 0)
    return fail("cannot write the dataset");
  printf("total %.17g\n", total);
  return 0;
}
