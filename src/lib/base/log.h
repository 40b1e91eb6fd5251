/* The one output path for messages: errors, warnings, notes. Library code logs at debug at most
 * (log_debug); what a user reads is said by the entry points, through the sinks set here.
 *
 * Sinks, chosen by the entry point with log_open():
 * - syslog (journald reads it where present), every line with the context set by
 *   log_set_context() (container id and stage);
 * - stderr, in one of two formats: tagged, "nodehook: <level>: <context><message>" (the hook,
 *   whose stderr a runtime may keep), or plain, "nodehook: <message>" and "nodehook: warning:
 *   <message>" (the operator commands and the runtime wrapper);
 * - the runtime's --log file (the runtime wrapper): errors only, one line each in the format runc
 *   writes there, JSON ({"level":"error","msg":"nodehook: ...","time":"..."}) or logfmt
 *   (time="..." level=error msg="nodehook: ...").
 * Never stdout: runtimes parse it. Before log_open(), lines go to stderr, plain. The logger saves
 * and restores errno. */
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

enum log_stderr_format {
	LOG_STDERR_OFF,
	LOG_STDERR_PLAIN,
	LOG_STDERR_TAGGED,
};

struct log_sinks {
	const char *syslog_ident; /* NULL: no syslog */
	enum log_stderr_format stderr_format;
	enum log_level stderr_max; /* lines above it do not reach stderr */
	enum log_level max;	   /* lines above it reach no sink */
	const char *runtime_log;   /* NULL: none; copied */
	bool runtime_log_json;
};

void log_open(const struct log_sinks *sinks);

/* Closes syslog and clears the context. stderr and the runtime log stay as they were: a message
 * after this (an exec that failed) still reaches them. */
void log_close(void);

/* Context prefixed to every syslog and tagged stderr line: "id=<id> stage=<stage>: ". Strings
 * are copied; NULL clears. */
void log_set_context(const char *container_id, const char *stage);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
