/* Logging for the entry points (library code logs at debug at most, through log_debug()).
 *
 * Every line carries the context set with log_set_context() (container id and stage) and goes to
 * syslog (journald reads it where present) and, unless disabled, to stderr. Never to stdout:
 * runtimes parse it. The logger saves and restores errno. */
#pragma once

#include <errno.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL__MAX,
	LOG_LEVEL__INVALID = -EINVAL,
};

/* Opens syslog under `ident` and sets which sinks are used. Before this, logging goes to stderr
 * only. max_level: lines above it are dropped. */
void log_open(const char *ident, bool to_syslog, bool to_stderr, enum log_level max_level);
void log_close(void);

/* Context prefixed to every line: "id=<id> stage=<stage>: ". Strings are copied; NULL clears. */
void log_set_context(const char *container_id, const char *stage);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
