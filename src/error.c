/*
** Error texts. The codes are an X-macro table in dusk.h; dusk_strerror is
** derived from it. Calls refused before any node exists to carry the reason
** leave it in a thread-local buffer, the errno model (dusk_last_error).
*/
#include "src/core.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local int last_code;
static _Thread_local char last_msg[256];

const char *dusk_strerror(int code) {
  switch (code) {
#define DUSK__TEXT(name, value, text)                                         \
  case value:                                                                 \
    return text;
    DUSK_ERRORS(DUSK__TEXT)
#undef DUSK__TEXT
  }
  return "unknown error code";
}

int dusk__set_error(int code, const char *fmt, ...) {
  last_code = code;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
  if (len < 0)
    snprintf(last_msg, sizeof last_msg, "%s", dusk_strerror(code));
  return code;
}

int dusk_last_error(const char **msg) {
  if (msg)
    *msg = last_msg;
  return last_code;
}
