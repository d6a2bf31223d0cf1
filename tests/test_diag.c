/*
** Diagnostics: the progress bar and its callback reach 100% and end their
** line; the trace is valid JSON with one complete event per task run.
*/
#include "dusk.h"

#include <check.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t, (void)a, (void)n;
  *out = dusk_i64(1);
  return 0;
}

static int add(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  int64_t s = 0;
  for (int i = 0; i < n; i++)
    s += a[i].i64;
  *out = dusk_i64(s);
  return 0;
}

static int boom(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n, (void)out;
  return dusk_fail(t, "no");
}

/* A fan-in of `width` unit tasks: width + 1 tasks. */
static dusk_node *fan(dusk_graph *g, int width, const char *name) {
  dusk_node **v = malloc((size_t)width * sizeof *v);
  for (int i = 0; i < width; i++) {
    v[i] = dusk_delayed(g, unit);
    if (name)
      dusk_set_name(v[i], "%s", name);
  }
  dusk_node *s = dusk_call_named(g, "sum", add, NULL, width, v);
  free(v);
  return s;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static int count(const char *s, const char *sub) {
  int k = 0;
  for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
    k++;
  return k;
}

/* ------------------------------------------------------------ progress */

static atomic_size_t last_done, last_total;
static atomic_int calls;

static void record(size_t done, size_t total, double seconds, void *u) {
  (void)seconds, (void)u;
  atomic_store(&last_done, done);
  atomic_store(&last_total, total);
  atomic_fetch_add(&calls, 1);
}

START_TEST(test_progress_callback_reaches_total) {
  dusk_pool *p = dusk_pool_new(2);
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, p);
  dusk_set_progress(1, record, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 5000, NULL), NULL), DUSK_OK);
  ck_assert_int_ge(atomic_load(&calls), 1);
  ck_assert_uint_eq(atomic_load(&last_total), 5001);
  ck_assert_uint_eq(atomic_load(&last_done), 5001);
  /* Off: no more calls. */
  dusk_set_progress(0, NULL, NULL);
  int before = atomic_load(&calls);
  ck_assert_int_eq(dusk_compute(g, fan(g, 100, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(atomic_load(&calls), before);
  dusk_graph_free(g);
  dusk_pool_free(p);
}
END_TEST

START_TEST(test_progress_bar_one_line_when_not_a_terminal) {
  char path[] = "/tmp/dusk-progress-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  dusk_pool *p = dusk_pool_new(2);
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, p);
  dusk_set_progress(1, NULL, NULL);
  ck_assert_int_eq(dusk_compute(g, fan(g, 20000, NULL), NULL), DUSK_OK);
  dusk_set_progress(0, NULL, NULL);
  dusk_graph_free(g);
  dusk_pool_free(p);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  char *s = slurp(path);
  unlink(path);
  ck_assert_msg(strstr(s, "100% Completed"), "bar: %s", s);
  ck_assert_int_eq(count(s, "\n"), 1); /* one line, ended */
  ck_assert_int_eq(count(s, "\r"), 0); /* no redraws into a file */
  ck_assert(s[strlen(s) - 1] == '\n');
  free(s);
}
END_TEST

/* ---------------------------------------------------------------- trace */

/* A strict little JSON checker: returns the end of one value, or NULL. */
static const char *json_value(const char *p);

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
    p++;
  return p;
}

static const char *json_string(const char *p) {
  if (*p++ != '"')
    return NULL;
  for (; *p && *p != '"'; p++) {
    if ((unsigned char)*p < 0x20)
      return NULL;
    if (*p == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!isxdigit((unsigned char)p[i]))
            return NULL;
        p += 4;
      } else if (!strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
  }
  return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p) {
  char *end;
  strtod(p, &end);
  return end == p ? NULL : end;
}

static const char *json_value(const char *p) {
  p = ws(p);
  if (*p == '"')
    return json_string(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close)
      return p + 1;
    for (;;) {
      if (close == '}') {
        if (!(p = json_string(ws(p))) || *(p = ws(p)) != ':')
          return NULL;
        p++;
      }
      if (!(p = json_value(p)))
        return NULL;
      p = ws(p);
      if (*p == close)
        return p + 1;
      if (*p++ != ',')
        return NULL;
    }
  }
  return json_number(p);
}

START_TEST(test_trace_valid_json_one_event_per_task) {
  char path[] = "/tmp/dusk-trace-XXXXXX";
  close(mkstemp(path));
  dusk_pool *p = dusk_pool_new(2);
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, p);
  ck_assert_int_eq(dusk_trace_start(path), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 9000, "odd \"name\"\\\n"), NULL),
                   DUSK_OK); /* 9001 tasks, more than one buffer */
  dusk_node *f = dusk_delayed(g, boom), *after = dusk_delayed(g, add, f);
  ck_assert_int_ne(dusk_compute(g, after, NULL), DUSK_OK); /* 1 run, 1 not */
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 10, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK); /* stopping twice: no-op */
  dusk_graph_free(g);
  dusk_pool_free(p);
  char *s = slurp(path);
  unlink(path);
  const char *end = json_value(s);
  ck_assert_msg(end && *ws(end) == '\0', "not valid JSON near: %.80s",
                end ? end : s);
  ck_assert_int_eq(count(s, "\"ph\":\"X\""), 9001 + 1);
  ck_assert_int_ge(count(s, "\"thread_name\""), 1);
  ck_assert_int_eq(count(s, "odd \\\"name\\\"\\\\\\u000a"), 9000);
  free(s);
}
END_TEST

/* The header: a new start stops the old trace first. Both files must be
   complete JSON, each with only the tasks run while it was the trace. */
START_TEST(test_trace_restart_closes_the_old_one) {
  char a[] = "/tmp/dusk-trace-a-XXXXXX", b[] = "/tmp/dusk-trace-b-XXXXXX";
  close(mkstemp(a));
  close(mkstemp(b));
  dusk_pool *p = dusk_pool_new(2);
  dusk_graph *g = dusk_graph_new();
  dusk_graph_set_pool(g, p);
  ck_assert_int_eq(dusk_trace_start(a), DUSK_OK);
  ck_assert_int_eq(dusk_compute(g, fan(g, 30, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_start(b), DUSK_OK); /* closes a */
  ck_assert_int_eq(dusk_compute(g, fan(g, 20, NULL), NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  dusk_graph_free(g);
  dusk_pool_free(p);
  const char *path[2] = {a, b};
  int want[2] = {31, 21};
  for (int i = 0; i < 2; i++) {
    char *s = slurp(path[i]);
    unlink(path[i]);
    const char *end = json_value(s);
    ck_assert_msg(end && *ws(end) == '\0', "%s: not valid JSON", path[i]);
    ck_assert_int_eq(count(s, "\"ph\":\"X\""), want[i]);
    free(s);
  }
}
END_TEST

START_TEST(test_trace_bad_arguments) {
  ck_assert_int_eq(dusk_trace_start(NULL), DUSK_EINVAL);
  ck_assert_int_eq(dusk_trace_start("/nonexistent-dir/x/trace.json"), DUSK_EIO);
  const char *msg = NULL;
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EIO);
  ck_assert_ptr_nonnull(strstr(msg, "nonexistent"));
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
}
END_TEST

int main(void) {
  Suite *s = suite_create("diag");
  TCase *tc = tcase_create("progress");
  tcase_add_test(tc, test_progress_callback_reaches_total);
  tcase_add_test(tc, test_progress_bar_one_line_when_not_a_terminal);
  suite_add_tcase(s, tc);
  tc = tcase_create("trace");
  tcase_add_test(tc, test_trace_valid_json_one_event_per_task);
  tcase_add_test(tc, test_trace_bad_arguments);
  tcase_add_test(tc, test_trace_restart_closes_the_old_one);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
