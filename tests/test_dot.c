/*
** test_dot: pictures of graphs (dusk_write_dot, dusk_visualize).
**
** One TCase per promise of the header: the DOT of small graphs is valid and
** shows what it should (valid), any name survives (names), colours follow
** the states after a compute that failed (states), large pictures collapse
** into groups (collapse), a million nodes collapse into a small DOT that
** graphviz draws at once (large), files are written and `dot` is run, or a
** clear error is given (visualize), calls that ran timed carry how long
** they took and groups their total and mean (durations), and bad arguments
** or no memory are refused (errors).
**
** Validity is judged by graphviz itself: the DOT is parsed with
** `dot -Tcanon` and must give no warning, and names are read back from the
** SVG that `dot` draws. Where `dot` is not installed those checks are
** skipped with a note (CI installs graphviz); the textual checks remain.
*/
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dusk.h"
#include "src/alloc.h"
#include "testutil.h"

/* ============================================================ helpers */

static int inc(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)t;
  int64_t s = 1;
  for (int i = 0; i < n; i++)
    s += a[i].kind == DUSK_I64 ? a[i].i64 : 0;
  *out = dusk_i64(s);
  return 0;
}

static int add(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  return inc(t, a, n, out);
}

static int boom(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  (void)a, (void)n, (void)out;
  return dusk_fail(t, "disk on fire");
}

/* Is graphviz's dot on the PATH? Says so once when it is not. */
static int have_dot(void) {
  static int known = -1;
  if (known < 0) {
    known = system("command -v dot >/dev/null 2>&1") == 0;
    if (!known)
      printf("note: graphviz `dot` is not installed: graphviz checks "
             "skipped\n");
  }
  return known;
}

/* A fresh directory for the test's files (removed by clean_dir). */
static char *make_dir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/test_dot-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  return dir;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  return remove(path);
}

/* Remove dir and what is in it (no shell: a test may have changed PATH). */
static void clean_dir(const char *dir) {
  ck_assert_int_eq(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The number of entries of dir (but . and ..). */
static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.');
  closedir(d);
  return n;
}

/* The whole of a file, NUL-terminated; *size its length. NULL: missing. */
static char *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  if (size)
    *size = (size_t)n;
  return s;
}

static void spit(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* The DOT of nodes[0..n-1], in a string to free; rc the return code. */
static char *dot_of(dusk_graph *g, dusk_node *const *nodes, int n,
                    const dusk_dot_options *o, int *rc) {
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  ck_assert_ptr_nonnull(f);
  int r = dusk_write_dot(g, nodes, n, f, o);
  fclose(f);
  if (rc)
    *rc = r;
  else
    ck_assert_int_eq(r, DUSK_OK);
  return buf;
}

/*
** Run `dot <flag>` on the DOT text; 1 when it exits 0 and prints nothing on
** stderr (not even a warning), else 0 (and what it said is printed). The
** output goes to `out` when not NULL.
*/
static int dot_accepts(const char *text, const char *flag, const char *out) {
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/test_dot-run-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char in[128], err[128], cmd[512];
  snprintf(in, sizeof in, "%s/in.dot", dir);
  snprintf(err, sizeof err, "%s/err.txt", dir);
  spit(in, text);
  snprintf(cmd, sizeof cmd, "dot %s '%s' -o '%s' 2>'%s'", flag, in,
           out ? out : "/dev/null", err);
  int status = system(cmd);
  size_t errsize = 0;
  char *said = slurp(err, &errsize);
  if (status != 0 || errsize != 0)
    printf("dot %s said (status %d): %s\n", flag, status, said);
  free(said);
  clean_dir(dir);
  return status == 0 && errsize == 0;
}

/* The line of the DOT that draws node n ("  n12 [..."), in a static buffer. */
static const char *line_of(const char *dot, const dusk_node *n) {
  static char line[4096];
  char head[40];
  snprintf(head, sizeof head, "\n  n%llu [",
           (unsigned long long)dusk_node_id(n));
  const char *at = strstr(dot, head);
  if (at == NULL)
    return NULL;
  at++;
  size_t len = strcspn(at, "\n");
  ck_assert_uint_lt(len, sizeof line);
  memcpy(line, at, len);
  line[len] = '\0';
  return line;
}

/* The number of nodes drawn node by node: lines "  n<digits> [". */
static int node_lines(const char *dot) {
  int n = 0;
  for (const char *p = dot; (p = strstr(p, "\n  n")) != NULL;) {
    p += 4;
    size_t digits = strspn(p, "0123456789");
    n += digits > 0 && strncmp(p + digits, " [", 2) == 0;
  }
  return n;
}

/* How often sub occurs in s. */
static int occurrences(const char *s, const char *sub) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
    n++;
  return n;
}

/* The fill colour the legend gives a state ("kept", "not run"), or "". */
static const char *legend_fill(const char *dot, const char *state) {
  static char fill[32];
  char tail[64];
  snprintf(tail, sizeof tail, "\">%s ", state);
  const char *at = strstr(dot, tail);
  fill[0] = '\0';
  if (at == NULL)
    return fill;
  const char *start = at;
  while (start > dot && *(start - 1) != '"')
    start--;
  snprintf(fill, sizeof fill, "%.*s", (int)(at - start), start);
  return fill;
}

/* The value of attribute attr="..." in a line, in a static buffer. */
static const char *attr(const char *line, const char *name) {
  static char value[1024];
  char key[64];
  snprintf(key, sizeof key, "%s=\"", name);
  const char *at = line;
  while (at != NULL && (at = strstr(at, key)) != NULL &&
         at != line && at[-1] != ' ' && at[-1] != '[')
    at++; /* "color=" inside "fillcolor=" */
  value[0] = '\0';
  if (at == NULL)
    return value;
  at += strlen(key);
  size_t k = 0;
  while (at[0] && at[0] != '"' && k + 2 < sizeof value) {
    if (at[0] == '\\' && at[1])
      value[k++] = *at++;
    value[k++] = *at++;
  }
  value[k] = '\0';
  return value;
}

static dusk_pool *pool;

static dusk_graph *new_graph(void) { return tu_graph_with_pool(2, &pool); }

static void free_graph(dusk_graph *g) { tu_graph_with_pool_free(g, &pool); }

/*
** The row-sum shape: `rows` literals, a "load-i" per row, a tree of "add",
** a "total". 3 * rows nodes.
*/
static dusk_node *row_sum(dusk_graph *g, long rows) {
  dusk_node **level = malloc((size_t)rows * sizeof *level);
  for (long i = 0; i < rows; i++) {
    level[i] = dusk_delayed(g, inc, dusk_literal(g, dusk_i64(i)));
    dusk_set_name(level[i], "load-%ld", i);
  }
  for (long n = rows; n > 1; n = (n + 1) / 2)
    for (long i = 0; i < n; i += 2)
      level[i / 2] = i + 1 < n ? dusk_delayed(g, add, level[i], level[i + 1])
                               : level[i];
  dusk_node *total = dusk_delayed(g, inc, level[0]);
  dusk_set_name(total, "total");
  free(level);
  ck_assert_ptr_nonnull(total);
  return total;
}

/* ============================================================== valid */

START_TEST(test_valid_small_graph_shape) {
  dusk_graph *g = new_graph();
  static char bytes[80];
  dusk_node *i = dusk_literal(g, dusk_i64(-42));
  dusk_node *f = dusk_literal(g, dusk_f64(2.5));
  dusk_node *p = dusk_literal(g, dusk_ptr(bytes, sizeof bytes, NULL));
  dusk_node *big = dusk_literal(g, dusk_ptr(bytes, 1536, NULL));
  dusk_node *raw = dusk_literal(g, dusk_ptr(bytes, 0, NULL));
  dusk_node *a = dusk_delayed(g, inc, i, f);
  dusk_node *b = dusk_delayed(g, add, a, p, big, raw);
  dusk_node *c = dusk_call(g, inc, NULL, 2, (dusk_node *[]){b, b});
  dusk_node *unused = dusk_delayed(g, inc, a); /* not needed by c */
  char *dot = dot_of(g, &c, 1, NULL, NULL);

  ck_assert(strncmp(dot, "digraph ", 8) == 0);
  ck_assert(tu_has(dot, "rankdir=LR"));
  /* Calls: ellipses (the default shape) labelled with their names. */
  ck_assert_str_eq(attr(line_of(dot, a), "label"), "inc");
  ck_assert_str_eq(attr(line_of(dot, b), "label"), "add");
  ck_assert_str_eq(attr(line_of(dot, c), "label"), "call");
  ck_assert(!tu_has(line_of(dot, a), "shape="));
  /* Literals: boxes showing their values. */
  ck_assert(tu_has(line_of(dot, i), "shape=box"));
  ck_assert_str_eq(attr(line_of(dot, i), "label"), "-42");
  ck_assert_str_eq(attr(line_of(dot, f), "label"), "2.5");
  ck_assert_str_eq(attr(line_of(dot, p), "label"), "ptr 80 B");
  ck_assert_str_eq(attr(line_of(dot, big), "label"), "ptr 1.5 KiB");
  ck_assert_str_eq(attr(line_of(dot, raw), "label"), "ptr");
  /* Only what c needs, one edge per argument, from argument to consumer. */
  ck_assert_ptr_null(line_of(dot, unused));
  ck_assert_int_eq(occurrences(dot, " -> "), 2 + 4 + 2);
  char edge[64];
  snprintf(edge, sizeof edge, "  n%llu -> n%llu;\n",
           (unsigned long long)dusk_node_id(b),
           (unsigned long long)dusk_node_id(c));
  ck_assert_int_eq(occurrences(dot, edge), 2); /* c(b, b) */
  /* The requested node stands out; nothing computed: no legend. */
  ck_assert(tu_has(line_of(dot, c), "penwidth=2"));
  ck_assert(!tu_has(line_of(dot, b), "penwidth"));
  ck_assert(!tu_has(dot, "legend"));
  if (have_dot())
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_valid_options_and_views_parse) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 10);
  dusk_node *other = dusk_delayed(g, inc, dusk_literal(g, dusk_i64(7)));
  dusk_node *both[] = {total, other};
  static const char *const dir[] = {"LR", "TB", "BT", "RL"};
  for (int r = 0; r < 4; r++)
    for (int v = 0; v < 3; v++) {
      dusk_dot_options o = {.rankdir = (dusk_dot_rankdir)r,
                            .view = (dusk_dot_view)v};
      char *dot = dot_of(g, both, 2, &o, NULL);
      char want[32];
      snprintf(want, sizeof want, "rankdir=%s", dir[r]);
      ck_assert_msg(tu_has(dot, want), "rankdir %d", r);
      /* 32 nodes: only COLLAPSED collapses them. */
      ck_assert_int_eq(tu_has(dot, "collapsed:"), v == DUSK_DOT_COLLAPSED);
      if (have_dot())
        ck_assert(dot_accepts(dot, "-Tcanon", NULL));
      free(dot);
    }
  /* Both targets are drawn, with what each needs. */
  char *dot = dot_of(g, both, 2, NULL, NULL);
  ck_assert_ptr_nonnull(line_of(dot, total));
  ck_assert_ptr_nonnull(line_of(dot, other));
  ck_assert_int_eq(node_lines(dot), 32);
  free(dot);
  free_graph(g);
}
END_TEST

/* ============================================================== names */

START_TEST(test_names_any_name_survives) {
  static const char *const names[] = {
      "say \"hi\"",
      "back\\slash \\N \\n \\l \\G",
      "two\nlines",
      "a & b &amp; <tag> {x|y}",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82",
      "trailing backslash \\",
      "\"",
  };
  /* What graphviz shows of each, line by line, as SVG text (XML-escaped). */
  static const char *const shown[][2] = {
      {"say &quot;hi&quot;", NULL},
      {"back\\slash \\N \\n \\l \\G", NULL},
      {"two", "lines"},
      {"a &amp; b &amp;amp; &lt;tag&gt; {x|y}", NULL},
      {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82", NULL},
      {"trailing backslash \\", NULL},
      {"&quot;", NULL},
  };
  enum { N = sizeof names / sizeof names[0] };
  dusk_graph *g = new_graph();
  dusk_node *n[N];
  for (int i = 0; i < N; i++) {
    n[i] = dusk_delayed(g, inc);
    dusk_set_name(n[i], "%s", names[i]);
  }
  dusk_node *top = dusk_call(g, inc, NULL, N, n);
  dusk_set_name(top, "top");
  dusk_dot_options o = {.view = DUSK_DOT_EXPANDED};
  char *dot = dot_of(g, &top, 1, &o, NULL);
  /* In the DOT itself: quotes and backslashes escaped, the name intact. */
  ck_assert(tu_has(dot, "label=\"say \\\"hi\\\"\""));
  ck_assert(tu_has(dot, "label=\"back\\\\slash \\\\N \\\\n \\\\l \\\\G\""));
  ck_assert(tu_has(dot, "label=\"two\\nlines\""));
  ck_assert(tu_has(dot, "label=\"a &amp; b &amp;amp; <tag> {x|y}\""));
  ck_assert(tu_has(dot, "label=\"trailing backslash \\\\\""));
  ck_assert(tu_has(dot, "label=\"\\\"\""));
  ck_assert(!tu_has(dot, "\n\n")); /* no raw newline inside a string */
  if (have_dot()) {
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
    char *dir = make_dir();
    char svgpath[128];
    snprintf(svgpath, sizeof svgpath, "%s/names.svg", dir);
    ck_assert(dot_accepts(dot, "-Tsvg", svgpath));
    char *svg = slurp(svgpath, NULL);
    for (int i = 0; i < N; i++)
      for (int k = 0; k < 2 && shown[i][k]; k++) {
        char text[256];
        snprintf(text, sizeof text, ">%s</text>", shown[i][k]);
        ck_assert_msg(tu_has(svg, text), "name %d: %s not in the SVG", i,
                      text);
      }
    free(svg);
    clean_dir(dir);
  }
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_names_bad_bytes_and_long_names_stay_valid) {
  dusk_graph *g = new_graph();
  dusk_node *a = dusk_delayed(g, inc);
  dusk_set_name(a, "latin1 caf\xe9, cut \xe6\x97, ctl \x01\x7f tab\tend");
  char longname[1000];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  dusk_node *b = dusk_delayed(g, inc, a);
  dusk_set_name(b, "%s", longname);
  char *dot = dot_of(g, &b, 1, NULL, NULL);
  ck_assert_str_eq(attr(line_of(dot, a), "label"),
                   "latin1 caf\xef\xbf\xbd, cut \xef\xbf\xbd\xef\xbf\xbd, "
                   "ctl \xef\xbf\xbd\xef\xbf\xbd tab end");
  const char *label = attr(line_of(dot, b), "label");
  ck_assert_uint_lt(strlen(label), 300); /* cut, and marked so */
  ck_assert(tu_has(label, "xxxx\xe2\x80\xa6"));
  if (have_dot())
    ck_assert(dot_accepts(dot, "-Tcanon", NULL)); /* no UTF-8 warning */
  free(dot);
  free_graph(g);
}
END_TEST

/* ============================================================= states */

START_TEST(test_states_colours_after_a_failed_compute) {
  dusk_graph *g = new_graph();
  dusk_node *x = dusk_literal(g, dusk_i64(1));
  dusk_node *kept = dusk_delayed(g, inc, x);
  ck_assert_int_eq(dusk_compute(g, kept, NULL), DUSK_OK);
  dusk_node *ran = dusk_delayed(g, inc, x);      /* runs, then is freed */
  dusk_node *bad = dusk_delayed(g, boom, ran);   /* fails               */
  dusk_node *after = dusk_delayed(g, inc, bad);  /* not run             */
  dusk_node *last = dusk_delayed(g, add, after, kept);
  dusk_node *idle = dusk_delayed(g, inc, x);     /* never computed      */
  ck_assert_int_eq(dusk_compute(g, last, NULL), DUSK_ETASK);
  dusk_node *all[] = {last, idle};
  char *dot = dot_of(g, all, 2, NULL, NULL);

  struct {
    dusk_node *n;
    const char *css, *legend;
  } want[] = {{kept, "kept", "kept"},   {ran, "done", "done"},
              {bad, "failed", "failed"}, {after, "not-run", "not run"},
              {last, "not-run", "not run"}, {idle, "idle", "idle"}};
  const char *fills[6];
  for (int k = 0; k < 6; k++) {
    const char *line = line_of(dot, want[k].n);
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(attr(line, "class"), want[k].css);
    char *fill = strdup(attr(line, "fillcolor"));
    /* The legend names each state with the node's colour. */
    ck_assert_str_eq(legend_fill(dot, want[k].legend), fill);
    fills[k] = fill;
  }
  /* Five states, five colours. */
  for (int k = 0; k < 6; k++)
    for (int j = 0; j < k; j++)
      if (strcmp(want[k].css, want[j].css) != 0)
        ck_assert_str_ne(fills[k], fills[j]);
  for (int k = 0; k < 6; k++)
    free((void *)fills[k]);
  /* The failed node's tooltip says why; the legend counts the states. */
  ck_assert(tu_has(attr(line_of(dot, bad), "tooltip"), "disk on fire"));
  ck_assert(tu_has(dot, ">failed 1<"));
  ck_assert(tu_has(dot, ">not run 2<"));
  ck_assert(tu_has(dot, ">kept 1<"));
  ck_assert(tu_has(dot, ">done 1<"));
  ck_assert(tu_has(dot, ">idle 1<"));
  if (have_dot())
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
  free(dot);

  /* Released, the kept result is done; collapsed, the states are counted. */
  dusk_release(kept);
  dusk_dot_options o = {.view = DUSK_DOT_COLLAPSED};
  dot = dot_of(g, all, 2, &o, NULL);
  ck_assert(tu_has(dot, "label=\"inc " "\xc3\x97" "4\\n1 not run, 2 done, "
                        "1 idle\", class=\"group not-run\""));
  ck_assert(tu_has(dot, "label=\"boom\\n1 failed\", class=\"group failed\""));
  free(dot);
  dot = dot_of(g, &kept, 1, NULL, NULL);
  ck_assert_str_eq(attr(line_of(dot, kept), "class"), "done");
  free(dot);
  free_graph(g);
}
END_TEST

/* =========================================================== collapse */

START_TEST(test_collapse_automatic_above_threshold) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 200); /* 600 nodes */
  char *dot = dot_of(g, &total, 1, NULL, NULL);
  ck_assert(tu_has(dot, "collapsed: 600 nodes in 4 groups"));
  ck_assert_int_eq(node_lines(dot), 0);
  free(dot);
  dusk_dot_options o = {.threshold = 600}; /* not above: drawn in full */
  dot = dot_of(g, &total, 1, &o, NULL);
  ck_assert(!tu_has(dot, "collapsed"));
  ck_assert_int_eq(node_lines(dot), 600);
  free(dot);
  o = (dusk_dot_options){.view = DUSK_DOT_EXPANDED};
  dot = dot_of(g, &total, 1, &o, NULL);
  ck_assert_int_eq(node_lines(dot), 600);
  free(dot);
  o = (dusk_dot_options){.threshold = 599};
  dot = dot_of(g, &total, 1, &o, NULL);
  ck_assert(tu_has(dot, "collapsed"));
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_collapse_groups_counts_and_edges) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 100);
  ck_assert_int_eq(dusk_compute(g, total, NULL), DUSK_OK);
  dusk_dot_options o = {.view = DUSK_DOT_COLLAPSED};
  char *dot = dot_of(g, &total, 1, &o, NULL);
  /* Groups with their sizes and states; the target's group stands out. */
  ck_assert(tu_has(dot, "label=\"load \xc3\x97" "100\\n100 done\""));
  ck_assert(tu_has(dot, "label=\"add \xc3\x97" "99\\n99 done\""));
  ck_assert(tu_has(dot, "label=\"literal \xc3\x97" "100\", shape=box"));
  ck_assert(tu_has(dot, "label=\"total\\n1 kept\", class=\"group kept\""));
  ck_assert(tu_has(dot, "penwidth=2]"));
  /* Edges between groups, with their multiplicities. */
  ck_assert(tu_has(dot, "  g3 -> g2 [label=\"\xc3\x97" "100\""));
  ck_assert(tu_has(dot, "  g2 -> g1 [label=\"\xc3\x97" "100\""));
  ck_assert(tu_has(dot, "  g1 -> g1 [label=\"\xc3\x97" "98\""));
  ck_assert(tu_has(dot, "  g1 -> g0;"));
  ck_assert_int_eq(occurrences(dot, " -> "), 4);
  ck_assert(tu_has(dot, ">done 199<"));
  if (have_dot())
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_collapse_stems_of_names) {
  dusk_graph *g = new_graph();
  static const char *const names[] = {"load-1",    "load-22",  "blk[3]",
                                      "blk[40]",   "x#7",      "x#8",
                                      "a-1-2",     "a-3-4",    "v2-0",
                                      "-5",        "plain",    "#",
                                      "n[2]x",     "trail-"};
  static const char *const groups[] = {
      "\"load \xc3\x97" "2\"", "\"blk \xc3\x97" "2\"", "\"x \xc3\x97" "2\"",
      "\"a \xc3\x97" "2\"", "\"v2\"", "\"-5\"", "\"plain\"", "\"#\"",
      "\"n[2]x\"", "\"trail-\""};
  enum { N = sizeof names / sizeof names[0] };
  dusk_node *n[N];
  for (int i = 0; i < N; i++) {
    n[i] = dusk_delayed(g, inc);
    dusk_set_name(n[i], "%s", names[i]);
  }
  dusk_node *top = dusk_call(g, inc, NULL, N, n);
  dusk_set_name(top, "top");
  dusk_dot_options o = {.view = DUSK_DOT_COLLAPSED};
  char *dot = dot_of(g, &top, 1, &o, NULL);
  for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
    char want[64];
    snprintf(want, sizeof want, "[label=%s", groups[k]);
    ck_assert_msg(tu_has(dot, want), "no group %s", groups[k]);
  }
  ck_assert(tu_has(dot, "in 11 groups"));
  free(dot);

  /* dusk_delayed() nodes group by function, and inc and add stay apart. */
  dusk_node *a = dusk_delayed(g, inc), *b = dusk_delayed(g, inc);
  dusk_node *c = dusk_delayed(g, add, a, b);
  dot = dot_of(g, &c, 1, &o, NULL);
  ck_assert(tu_has(dot, "[label=\"inc \xc3\x97" "2\""));
  ck_assert(tu_has(dot, "[label=\"add\""));
  ck_assert(tu_has(dot, "g1 -> g0 [label=\"\xc3\x97" "2\""));
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_collapse_unnumbered_names_group_by_function) {
  /* Names without a separated number make a group each; past a couple of
     hundred, the picture groups by function instead. */
  dusk_graph *g = new_graph();
  enum { N = 1000 };
  dusk_node **n = malloc(N * sizeof *n);
  for (int i = 0; i < N; i++) {
    n[i] = dusk_delayed(g, inc);
    dusk_set_name(n[i], "item%d", i);
  }
  dusk_node *top = dusk_call(g, add, NULL, N, n);
  dusk_set_name(top, "top");
  char *dot = dot_of(g, &top, 1, NULL, NULL);
  ck_assert(tu_has(dot, "in 2 groups"));
  ck_assert(tu_has(dot, "[label=\"item\xe2\x80\xa6 \xc3\x97" "1000\""));
  ck_assert(tu_has(dot, "[label=\"top\""));
  ck_assert(tu_has(dot, "g1 -> g0 [label=\"\xc3\x97" "1000\""));
  free(dot);
  free(n);
  free_graph(g);
}
END_TEST

/* ============================================================== large */

START_TEST(test_large_million_nodes_collapse_small_and_render) {
  long rows = tu_scaled(1000000 / 3, 1000);
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, rows);
  char *dir = make_dir();
  char path[128];
  snprintf(path, sizeof path, "%s/large.dot", dir);
  FILE *f = fopen(path, "w");
  double t0 = tu_now_ms();
  ck_assert_int_eq(dusk_write_dot(g, &total, 1, f, NULL), DUSK_OK);
  double write_ms = tu_now_ms() - t0;
  fclose(f);
  size_t size = 0;
  char *dot = slurp(path, &size);
  printf("large: %zu nodes: DOT %zu bytes written in %.0f ms\n",
         dusk_graph_size(g), size, write_ms);
  ck_assert_uint_le(size, 4096);
  char want[64];
  snprintf(want, sizeof want, "collapsed: %ld nodes in 4 groups", 3 * rows);
  ck_assert(tu_has(dot, want));
  snprintf(want, sizeof want, "load \xc3\x97%ld\"", rows);
  ck_assert(tu_has(dot, want));
  ck_assert_msg(write_ms < (TU_SANITIZED ? 20000 : 5000), "%.0f ms",
                write_ms);
  if (have_dot()) {
    char svg[160];
    snprintf(svg, sizeof svg, "%s/large.svg", dir);
    t0 = tu_now_ms();
    ck_assert(dot_accepts(dot, "-Tsvg", svg));
    double render_ms = tu_now_ms() - t0;
    printf("large: dot -Tsvg drew it in %.0f ms\n", render_ms);
    ck_assert_msg(render_ms < 10000, "%.0f ms", render_ms);
  }
  free(dot);
  clean_dir(dir);
  free_graph(g);
}
END_TEST

START_TEST(test_large_deep_chain_walks_without_recursion) {
  long depth = tu_scaled(1000000, 10000);
  dusk_graph *g = new_graph();
  dusk_node *n = dusk_literal(g, dusk_i64(0));
  for (long i = 0; i < depth; i++)
    n = dusk_delayed(g, inc, n);
  char *dot = dot_of(g, &n, 1, NULL, NULL);
  char want[64];
  snprintf(want, sizeof want, "[label=\"inc \xc3\x97%ld\"", depth);
  ck_assert(tu_has(dot, want));
  snprintf(want, sizeof want, "g0 -> g0 [label=\"\xc3\x97%ld\"", depth - 1);
  ck_assert(tu_has(dot, want));
  free(dot);
  free_graph(g);
}
END_TEST

/* ========================================================== visualize */

START_TEST(test_visualize_writes_dot_and_renders) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 4);
  ck_assert_int_eq(dusk_compute(g, total, NULL), DUSK_OK);
  char *dir = make_dir();
  char path[256];
  /* .dot: the same text as dusk_write_dot(), even in an odd file name. */
  snprintf(path, sizeof path, "%s/-odd name 'q' \"d\".dot", dir);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, path), DUSK_OK);
  char *text = slurp(path, NULL), *want = dot_of(g, &total, 1, NULL, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_str_eq(text, want);
  free(text);
  free(want);
  /* Options reach the file. */
  dusk_dot_options o = {.rankdir = DUSK_DOT_TB, .view = DUSK_DOT_COLLAPSED};
  snprintf(path, sizeof path, "%s/g.GV", dir);
  ck_assert_int_eq(dusk_visualize_opt(g, &total, 1, path, &o), DUSK_OK);
  text = slurp(path, NULL);
  ck_assert(tu_has(text, "rankdir=TB") && tu_has(text, "collapsed"));
  free(text);
  if (have_dot()) {
    static const char *const ext[] = {"svg", "png", "pdf", "SVG"};
    static const char *const magic[] = {"<?xml", "\x89PNG", "%PDF", "<?xml"};
    for (int k = 0; k < 4; k++) {
      snprintf(path, sizeof path, "%s/-a \"b\" 'c' $(x).%s", dir, ext[k]);
      ck_assert_int_eq(dusk_visualize(g, &total, 1, path), DUSK_OK);
      size_t size = 0;
      char *out = slurp(path, &size);
      ck_assert_ptr_nonnull(out);
      ck_assert_uint_gt(size, 100);
      ck_assert_msg(memcmp(out, magic[k], strlen(magic[k])) == 0, "%s",
                    ext[k]);
      if (k == 0)
        ck_assert(tu_has(out, "load&#45;3") && tu_has(out, "total"));
      free(out);
    }
  }
  /* Nothing but the outputs is left behind: no temporary files. */
  ck_assert_int_eq(count_files(dir), have_dot() ? 6 : 2);
  clean_dir(dir);
  free_graph(g);
}
END_TEST

/* Put a `dot` that prints and exits with code into dir, first on PATH. */
static void fake_dot(const char *dir, const char *says, int code) {
  char path[128], script[256];
  snprintf(path, sizeof path, "%s/bin", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/bin/dot", dir);
  snprintf(script, sizeof script, "#!/bin/sh\necho '%s' >&2\nexit %d\n",
           says, code);
  spit(path, script);
  chmod(path, 0755);
  snprintf(path, sizeof path, "%s/bin", dir);
  setenv("PATH", path, 1); /* Check forks each test: only this test sees it */
}

START_TEST(test_visualize_missing_or_failing_dot) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 4);
  char *dir = make_dir();
  char path[128];
  snprintf(path, sizeof path, "%s/old.svg", dir);
  spit(path, "the old picture");
  const char *msg = NULL;

  /* No dot on the PATH: a clear error, the old file untouched. */
  char empty[128];
  snprintf(empty, sizeof empty, "%s/empty", dir);
  mkdir(empty, 0755);
  setenv("PATH", empty, 1);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, path), DUSK_EIO);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EIO);
  ck_assert_msg(tu_has(msg, "visualize:") && tu_has(msg, "not on the PATH"),
                "%s", msg);
  /* .dot needs no graphviz. */
  char dotpath[128];
  snprintf(dotpath, sizeof dotpath, "%s/ok.dot", dir);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, dotpath), DUSK_OK);

  /* A dot that fails: its words and exit code in the message. */
  fake_dot(dir, "Error: layout exploded", 3);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, path), DUSK_EIO);
  dusk_last_error(&msg);
  ck_assert_msg(tu_has(msg, "exit 3") && tu_has(msg, "layout exploded"),
                "%s", msg);
  /* A dot that says it worked but wrote nothing. */
  fake_dot(dir, "fine", 0);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, path), DUSK_EIO);
  dusk_last_error(&msg);
  ck_assert_msg(tu_has(msg, "wrote nothing"), "%s", msg);

  char *old = slurp(path, NULL);
  ck_assert_str_eq(old, "the old picture");
  free(old);
  /* old.svg, ok.dot, empty/, bin/: no temporary file left. */
  ck_assert_int_eq(count_files(dir), 4);

  /* A directory that does not exist. */
  snprintf(dotpath, sizeof dotpath, "%s/no/such/dir/x.dot", dir);
  ck_assert_int_eq(dusk_visualize(g, &total, 1, dotpath), DUSK_EIO);
  dusk_last_error(&msg);
  ck_assert_msg(tu_has(msg, "cannot create"), "%s", msg);
  clean_dir(dir);
  free_graph(g);
}
END_TEST

/* ========================================================== durations */

/* Busy for at least 2 ms of the monotonic clock. */
static int slow(dusk_task *t, const dusk_value *a, int n, dusk_value *out) {
  double end = tu_now_ms() + 2;
  while (tu_now_ms() < end)
    ;
  return inc(t, a, n, out);
}

/* The seconds shown under a label ("load-3\n1.24 ms"), or -1 if none. */
static double shown_seconds(const char *label) {
  const char *nl = strstr(label, "\\n");
  if (nl == NULL)
    return -1;
  char *end = NULL;
  double x = strtod(nl + 2, &end);
  static const struct {
    const char *unit;
    double scale;
  } units[] = {{" ns", 1e-9}, {" us", 1e-6}, {" ms", 1e-3}, {" s", 1}};
  for (size_t i = 0; end != nl + 2 && i < 4; i++)
    if (strcmp(end, units[i].unit) == 0)
      return x * units[i].scale;
  return -1;
}

START_TEST(test_durations_on_the_calls_that_ran) {
  dusk_graph *g = new_graph();
  dusk_set_stats(1, NULL);
  dusk_node *x = dusk_literal(g, dusk_i64(1));
  dusk_node *s = dusk_delayed(g, slow, x);
  dusk_node *bad = dusk_delayed(g, boom, s);
  dusk_node *after = dusk_delayed(g, inc, bad);
  dusk_node *idle = dusk_delayed(g, inc, x);
  ck_assert_int_eq(dusk_compute(g, after, NULL), DUSK_ETASK);
  dusk_set_stats(0, NULL);
  dusk_node *all[] = {after, idle};
  dusk_dot_options o = {.durations = 1};
  char *dot = dot_of(g, all, 2, &o, NULL);
  /* The slow call shows at least its 2 ms; the failed one ran too. */
  double secs = shown_seconds(attr(line_of(dot, s), "label"));
  ck_assert_msg(secs >= 0.002 && secs < 60, "%s",
                attr(line_of(dot, s), "label"));
  ck_assert(tu_has(attr(line_of(dot, s), "label"), "slow\\n"));
  ck_assert(shown_seconds(attr(line_of(dot, bad), "label")) >= 0);
  /* Not run, never run, literals: no duration. */
  ck_assert_str_eq(attr(line_of(dot, after), "label"), "inc");
  ck_assert_str_eq(attr(line_of(dot, idle), "label"), "inc");
  ck_assert_str_eq(attr(line_of(dot, x), "label"), "1");
  if (have_dot()) {
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
    char *dir = make_dir();
    char svg[128];
    snprintf(svg, sizeof svg, "%s/d.svg", dir);
    ck_assert(dot_accepts(dot, "-Tsvg", svg));
    char *text = slurp(svg, NULL);
    ck_assert(tu_has(text, ">slow</text>"));
    ck_assert(tu_has(text, " ms</text>"));
    free(text);
    clean_dir(dir);
  }
  free(dot);
  /* Not asked for: the same picture as before. */
  dot = dot_of(g, all, 2, NULL, NULL);
  ck_assert_str_eq(attr(line_of(dot, s), "label"), "slow");
  free(dot);
  free_graph(g);
}
END_TEST

START_TEST(test_durations_from_a_trace_and_in_groups) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 100);
  char *dir = make_dir();
  char path[128];
  snprintf(path, sizeof path, "%s/t.json", dir);
  ck_assert_int_eq(dusk_trace_start(path), DUSK_OK); /* a trace times too */
  ck_assert_int_eq(dusk_compute(g, total, NULL), DUSK_OK);
  ck_assert_int_eq(dusk_trace_stop(), DUSK_OK);
  dusk_dot_options o = {.view = DUSK_DOT_COLLAPSED, .durations = 1};
  char *dot = dot_of(g, &total, 1, &o, NULL);
  ck_assert(tu_has(dot, "label=\"load \xc3\x97" "100\\n100 done\\ntotal "));
  ck_assert(tu_has(dot, "label=\"add \xc3\x97" "99\\n99 done\\ntotal "));
  ck_assert_int_eq(occurrences(dot, ", mean "), 2);
  /* One member: its own duration, no total. */
  const char *at = strstr(dot, "label=\"total\\n1 kept\\n");
  ck_assert_ptr_nonnull(at);
  ck_assert(!tu_has(dot, "literal \xc3\x97" "100\\n"));
  if (have_dot())
    ck_assert(dot_accepts(dot, "-Tcanon", NULL));
  free(dot);
  /* A group of which some ran timed says of how many. */
  dusk_release(total);
  dusk_node *more = dusk_delayed(g, add, total, dusk_delayed(g, add));
  ck_assert_int_eq(dusk_compute(g, more, NULL), DUSK_OK); /* untimed */
  dot = dot_of(g, &more, 1, &o, NULL);
  ck_assert_msg(tu_has(dot, "(of 99)"), "%s", dot);
  free(dot);
  clean_dir(dir);
  free_graph(g);
}
END_TEST

/* ============================================================= errors */

static void expect_einval(int rc, const char *prefix, const char *about) {
  const char *msg = NULL;
  ck_assert_int_eq(rc, DUSK_EINVAL);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EINVAL);
  ck_assert_msg(tu_has(msg, prefix) && tu_has(msg, about), "message: %s",
                msg);
}

START_TEST(test_errors_bad_arguments_write_nothing) {
  dusk_graph *g = new_graph(), *h = dusk_graph_new();
  dusk_node *a = dusk_delayed(g, inc), *x = dusk_delayed(h, inc);
  FILE *f = tmpfile();
  dusk_dot_options bad_dir = {.rankdir = (dusk_dot_rankdir)4};
  dusk_dot_options bad_view = {.view = (dusk_dot_view)-1};
  expect_einval(dusk_write_dot(NULL, &a, 1, f, NULL), "write_dot", "graph");
  expect_einval(dusk_write_dot(g, &a, 1, NULL, NULL), "write_dot", "out");
  expect_einval(dusk_write_dot(g, &a, 0, f, NULL), "write_dot", "count");
  expect_einval(dusk_write_dot(g, &a, -1, f, NULL), "write_dot", "count");
  expect_einval(dusk_write_dot(g, NULL, 1, f, NULL), "write_dot", "nodes");
  expect_einval(dusk_write_dot(g, (dusk_node *[]){a, NULL}, 2, f, NULL),
                "write_dot", "node 1 is NULL");
  expect_einval(dusk_write_dot(g, (dusk_node *[]){a, x}, 2, f, NULL),
                "write_dot", "another graph");
  expect_einval(dusk_write_dot(g, &a, 1, f, &bad_dir), "write_dot",
                "rankdir");
  expect_einval(dusk_write_dot(g, &a, 1, f, &bad_view), "write_dot", "view");
  ck_assert_int_eq(ftell(f), 0);
  expect_einval(dusk_visualize(NULL, &a, 1, "x.svg"), "visualize", "graph");
  expect_einval(dusk_visualize(g, &x, 1, "x.svg"), "visualize",
                "another graph");
  expect_einval(dusk_visualize(g, &a, 1, NULL), "visualize", "path");
  expect_einval(dusk_visualize(g, &a, 1, "picture.jpg"), "visualize",
                ".svg");
  expect_einval(dusk_visualize(g, &a, 1, "no-extension"), "visualize",
                ".svg");
  expect_einval(dusk_visualize(g, &a, 1, "dir.svg/file"), "visualize",
                ".svg");
  expect_einval(dusk_visualize_opt(g, &a, 1, "x.dot", &bad_view),
                "visualize", "view");
  ck_assert_int_eq(access("x.svg", F_OK), -1);
  ck_assert_int_eq(dusk_write_dot(g, &a, 1, f, NULL), DUSK_OK);
  ck_assert_int_gt(ftell(f), 0);
  fclose(f);
  dusk_graph_free(h);
  free_graph(g);
}
END_TEST

START_TEST(test_errors_write_failure_is_eio) {
  FILE *f = fopen("/dev/full", "w");
  if (f == NULL) {
    printf("note: no /dev/full: write failure not tested\n");
    return;
  }
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 4);
  const char *msg = NULL;
  ck_assert_int_eq(dusk_write_dot(g, &total, 1, f, NULL), DUSK_EIO);
  ck_assert_int_eq(dusk_last_error(&msg), DUSK_EIO);
  ck_assert_msg(tu_has(msg, "write_dot: writing failed"), "%s", msg);
  fclose(f);
  free_graph(g);
}
END_TEST

START_TEST(test_errors_out_of_memory_at_each_allocation) {
  dusk_graph *g = new_graph();
  dusk_node *total = row_sum(g, 200); /* 600 nodes: collapsed */
  dusk_node *small = row_sum(g, 4);
  for (int sticky = 0; sticky <= 1; sticky++)
    for (int which = 0; which < 2; which++) {
      dusk_node *n = which ? small : total;
      char *want = dot_of(g, &n, 1, NULL, NULL);
      int failures = 0;
      for (long k = 1;; k++) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        dusk__alloc_fail_after(k, sticky);
        int rc = dusk_write_dot(g, &n, 1, f, NULL);
        long failed = dusk__alloc_fail_after(0, 0);
        fclose(f);
        if (rc == DUSK_OK) {
          ck_assert_int_eq(failed, 0);
          ck_assert_str_eq(buf, want); /* nothing lost on the way */
          free(buf);
          break;
        }
        const char *msg = NULL;
        ck_assert_int_eq(rc, DUSK_ENOMEM);
        ck_assert_int_eq(dusk_last_error(&msg), DUSK_ENOMEM);
        ck_assert(tu_has(msg, "out of memory"));
        ck_assert_uint_eq(size, 0); /* a failed call writes nothing */
        ck_assert_int_gt(failed, 0);
        failures++;
        free(buf);
        ck_assert_int_lt(k, 10000);
      }
      ck_assert_int_gt(failures, which ? 1 : 5);
      free(want);
    }
  free_graph(g);
}
END_TEST

static Suite *dot_suite(void) {
  Suite *s = suite_create("dot");
  TCase *tc = tcase_create("valid");
  tcase_add_test(tc, test_valid_small_graph_shape);
  tcase_add_test(tc, test_valid_options_and_views_parse);
  suite_add_tcase(s, tc);
  tc = tcase_create("names");
  tcase_add_test(tc, test_names_any_name_survives);
  tcase_add_test(tc, test_names_bad_bytes_and_long_names_stay_valid);
  suite_add_tcase(s, tc);
  tc = tcase_create("states");
  tcase_add_test(tc, test_states_colours_after_a_failed_compute);
  suite_add_tcase(s, tc);
  tc = tcase_create("collapse");
  tcase_add_test(tc, test_collapse_automatic_above_threshold);
  tcase_add_test(tc, test_collapse_groups_counts_and_edges);
  tcase_add_test(tc, test_collapse_stems_of_names);
  tcase_add_test(tc, test_collapse_unnumbered_names_group_by_function);
  suite_add_tcase(s, tc);
  tc = tcase_create("large");
  tcase_add_test(tc, test_large_million_nodes_collapse_small_and_render);
  tcase_add_test(tc, test_large_deep_chain_walks_without_recursion);
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  tc = tcase_create("visualize");
  tcase_add_test(tc, test_visualize_writes_dot_and_renders);
  tcase_add_test(tc, test_visualize_missing_or_failing_dot);
  suite_add_tcase(s, tc);
  tc = tcase_create("durations");
  tcase_add_test(tc, test_durations_on_the_calls_that_ran);
  tcase_add_test(tc, test_durations_from_a_trace_and_in_groups);
  suite_add_tcase(s, tc);
  tc = tcase_create("errors");
  tcase_add_test(tc, test_errors_bad_arguments_write_nothing);
  tcase_add_test(tc, test_errors_write_failure_is_eio);
  tcase_add_test(tc, test_errors_out_of_memory_at_each_allocation);
  suite_add_tcase(s, tc);
  return s;
}

TU_MAIN(dot_suite)
