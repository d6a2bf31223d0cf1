/*
** Rendering: dusk_visualize() writes the DOT of a graph (graph/dot.c) and
** has graphviz's `dot` draw it into an SVG, PNG or PDF file.
**
** `dot` is started with posix_spawnp(), found on the PATH, with no shell in
** between, so a file name with spaces, quotes or a leading dash is one
** argument like any other. The DOT goes to a temporary file rather than a
** pipe: a `dot` that dies early would make our next write raise SIGPIPE,
** and a library must not touch the process's signal handling to avoid it.
** What `dot` prints on stderr comes back through a pipe, read to its end
** before waiting for the child, so a chatty `dot` never blocks on a full
** pipe; its first line goes into the error message.
**
** A failed call leaves `path` as it was: the output is written to a new file
** beside it and renamed over it only when complete.
*/
#include "src/core.h"
#include "src/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The format `dot` is asked for ("dot" for DOT itself), or NULL. */
static const char *format_of(const char *path) {
  static const char *const known[][2] = {
      {"svg", "svg"}, {"png", "png"}, {"pdf", "pdf"}, {"dot", "dot"},
      {"gv", "dot"}};
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash + 1 : path, '.');
  if (!dot)
    return NULL;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcasecmp(dot + 1, known[i][0]) == 0)
      return known[i][1];
  return NULL;
}

/* A name for a new file beside path, unique in this process; NULL: no memory. */
static char *beside(const char *path) {
  static atomic_uint serial;
  size_t size = strlen(path) + 64;
  char *s = dusk__malloc(size);
  if (s)
    snprintf(s, size, "%s.dusk-%ld-%u.tmp", path, (long)getpid(),
             atomic_fetch_add(&serial, 1));
  return s;
}

/* Replace the last error's message with "visualize: " and it. */
static int reword(int rc) {
  const char *msg = NULL;
  char copy[256];
  dusk_last_error(&msg);
  snprintf(copy, sizeof copy, "%s", msg ? msg : "");
  const char *colon = strstr(copy, ": "); /* drop "write_dot: " */
  return dusk__set_error(rc, "visualize: %s", colon ? colon + 2 : copy);
}

/* Write the DOT to f and close it; DUSK_OK or an error with its message. */
static int write_and_close(FILE *f, const char *name, dusk_graph *g,
                           dusk_node *const *nodes, int count,
                           const dusk_dot_options *opt) {
  int rc = dusk_write_dot(g, nodes, count, f, opt);
  if (rc != DUSK_OK)
    reword(rc);
  if (fclose(f) != 0 && rc == DUSK_OK)
    rc = dusk__set_error(DUSK_EIO, "visualize: writing %s: %s", name,
                         strerror(errno));
  return rc;
}

/* Move the finished file tmp to path; tmp is removed on failure. */
static int move_into_place(const char *tmp, const char *path) {
  if (rename(tmp, path) == 0)
    return DUSK_OK;
  int e = errno;
  unlink(tmp);
  return dusk__set_error(DUSK_EIO, "visualize: cannot rename %s to %s: %s",
                         tmp, path, strerror(e));
}

static int write_dot_file(dusk_graph *g, dusk_node *const *nodes, int count,
                          const char *path, const dusk_dot_options *opt) {
  char *tmp = beside(path);
  if (!tmp)
    return dusk__set_error(DUSK_ENOMEM, "visualize: out of memory");
  int rc;
  FILE *f = fopen(tmp, "wx"); /* x: a new file, never someone else's */
  if (!f)
    rc = dusk__set_error(DUSK_EIO, "visualize: cannot create %s: %s", tmp,
                         strerror(errno));
  else if ((rc = write_and_close(f, tmp, g, nodes, count, opt)) != DUSK_OK)
    unlink(tmp);
  else
    rc = move_into_place(tmp, path);
  dusk__free(tmp);
  return rc;
}

/* ------------------------------------------------------------- spawning */

/* Read fd to its end, keeping the first line (at most size - 1 bytes). */
static void read_first_line(int fd, char *line, size_t size) {
  size_t have = 0;
  char buf[4096];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    for (ssize_t i = 0; i < r && have + 1 < size; i++)
      line[have++] = buf[i];
  }
  line[have] = '\0';
  line[strcspn(line, "\r\n")] = '\0';
}

/*
** Run argv (argv[0] looked up on the PATH) with stdin and stdout on
** /dev/null and wait for it. 0 when it exited with 0 (or when its status
** cannot be known because the process ignores SIGCHLD); else -1, and why in
** why[] (with the first line it printed on stderr).
*/
static int run(char *const argv[], char *why, size_t size) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(why, size, "cannot make a pipe: %s", strerror(errno));
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, pipe;
  sigemptyset(&none);
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &pipe);
  pid_t pid;
  int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(fds[1]);
  if (e != 0) {
    close(fds[0]);
    if (e == ENOENT)
      snprintf(why, size, "graphviz's `%s` is not on the PATH: install "
               "graphviz, or write a .dot file", argv[0]);
    else
      snprintf(why, size, "cannot start `%s`: %s", argv[0], strerror(e));
    return -1;
  }
  char said[200];
  read_first_line(fds[0], said, sizeof said);
  close(fds[0]);
  int status = 0;
  pid_t w;
  while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
    ;
  if (w < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
    return 0; /* w < 0: ECHILD, SIGCHLD ignored; the caller checks the file */
  if (WIFEXITED(status))
    snprintf(why, size, "`%s %s` failed (exit %d)%s%s", argv[0], argv[1],
             WEXITSTATUS(status), *said ? ": " : "", said);
  else
    snprintf(why, size, "`%s %s` was killed by signal %d%s%s", argv[0],
             argv[1], WIFSIGNALED(status) ? WTERMSIG(status) : 0,
             *said ? ": " : "", said);
  return -1;
}

/* A temporary file for the DOT, opened for writing; NULL with rc set. */
static FILE *temp_dot(char *name, size_t size, int *rc) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = "/tmp";
  if ((size_t)snprintf(name, size, "%s%s/dusk-XXXXXX.dot",
                       dir[0] == '-' ? "./" : "", dir) >= size) {
    *rc = dusk__set_error(DUSK_EIO, "visualize: TMPDIR is too long");
    return NULL;
  }
  int fd = mkstemps(name, 4);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (!f) {
    *rc = dusk__set_error(DUSK_EIO, "visualize: cannot create a file in "
                          "%s: %s", dir, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(name);
    }
  }
  return f;
}

static int render(dusk_graph *g, dusk_node *const *nodes, int count,
                  const char *path, const char *format,
                  const dusk_dot_options *opt) {
  char dotfile[4096];
  int rc = DUSK_OK;
  FILE *f = temp_dot(dotfile, sizeof dotfile, &rc);
  if (!f)
    return rc;
  rc = write_and_close(f, dotfile, g, nodes, count, opt);
  char *out = rc == DUSK_OK ? beside(path) : NULL;
  char *oarg = out ? dusk__malloc(strlen(out) + 3) : NULL;
  if (rc == DUSK_OK && !oarg)
    rc = dusk__set_error(DUSK_ENOMEM, "visualize: out of memory");
  if (rc == DUSK_OK) {
    char targ[16], why[512];
    snprintf(targ, sizeof targ, "-T%s", format);
    sprintf(oarg, "-o%s", out); /* attached: a name may start with '-' */
    char *argv[] = {"dot", targ, oarg, dotfile, NULL};
    struct stat st;
    if (run(argv, why, sizeof why) != 0)
      rc = dusk__set_error(DUSK_EIO, "visualize: %s", why);
    else if (stat(out, &st) != 0 || st.st_size == 0)
      rc = dusk__set_error(DUSK_EIO, "visualize: `dot %s` wrote nothing to "
                           "%s", targ, out);
    else
      rc = move_into_place(out, path);
    if (rc != DUSK_OK)
      unlink(out);
  }
  unlink(dotfile);
  dusk__free(oarg);
  dusk__free(out);
  return rc;
}

int dusk_visualize_opt(dusk_graph *g, dusk_node *const *nodes, int count,
                       const char *path, const dusk_dot_options *opt) {
  int rc = dusk__dot_check("visualize", g, nodes, count, opt);
  if (rc != DUSK_OK)
    return rc;
  if (!path)
    return dusk__set_error(DUSK_EINVAL, "visualize: path is NULL");
  const char *format = format_of(path);
  if (!format)
    return dusk__set_error(DUSK_EINVAL, "visualize: \"%s\": name a .svg, "
                           ".png, .pdf, .dot or .gv file", path);
  if (strcmp(format, "dot") == 0)
    return write_dot_file(g, nodes, count, path, opt);
  return render(g, nodes, count, path, format, opt);
}

int dusk_visualize(dusk_graph *g, dusk_node *const *nodes, int count,
                   const char *path) {
  return dusk_visualize_opt(g, nodes, count, path, NULL);
}
