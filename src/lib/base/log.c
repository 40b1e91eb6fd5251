#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cleanup.h"
#include "fileio.h"
#include "json_util.h"
#include "utf8.h"
#include "xalloc.h"

static bool use_syslog;
static enum log_stderr_format stderr_format = LOG_STDERR_PLAIN;
static enum log_level stderr_max = LOG_LEVEL_INFO;
static enum log_level max = LOG_LEVEL_INFO;
static char *runtime_log;
static bool runtime_log_json;
static char *context;

void log_open(const struct log_sinks *sinks)
{
	use_syslog = sinks->syslog_ident != NULL;
	stderr_format = sinks->stderr_format;
	stderr_max = sinks->stderr_max;
	max = sinks->max;
	free(runtime_log);
	runtime_log = sinks->runtime_log ? xstrdup(sinks->runtime_log) : NULL;
	runtime_log_json = sinks->runtime_log_json;
	if (use_syslog)
		openlog(sinks->syslog_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (use_syslog)
		closelog();
	use_syslog = false;
	free(context);
	context = NULL;
}

void log_set_context(const char *container_id, const char *stage)
{
	free(context);
	context = NULL;
	if (container_id && stage)
		context = xasprintf("id=%s stage=%s: ", container_id, stage);
	else if (container_id)
		context = xasprintf("id=%s: ", container_id);
	else if (stage)
		context = xasprintf("stage=%s: ", stage);
}

static const char *const level_names[LOG_LEVEL__MAX] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_priority[LOG_LEVEL__MAX] = {
    [LOG_LEVEL_ERROR] = LOG_ERR,
    [LOG_LEVEL_WARNING] = LOG_WARNING,
    [LOG_LEVEL_INFO] = LOG_INFO,
    [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

/* Appends one line to the runtime's --log, in the format runc writes there. */
static void write_runtime_log(const char *msg)
{
	_cleanup_close_ int fd =
	    open(runtime_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_free_ char *line = NULL;
	_cleanup_free_ char *full = xasprintf("nodehook: %s", msg);
	if (runtime_log_json) {
		/* JSON strings are UTF-8: a byte that is not (from a file name) becomes U+FFFD, as
		 * Go's encoding/json writes it. */
		size_t len = 0;
		_cleanup_free_ char *valid = utf8_sanitize(full, strlen(full), &len);
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "level", json_object_new_string("error"));
		json_object_object_add(o, "msg", json_object_new_string_len(valid, (int)len));
		json_object_object_add(o, "time", json_object_new_string(when));
		line = xasprintf("%s\n", json_to_string(o, NULL));
	} else {
		/* logrus' text format, as runc writes it: the value quoted as Go's %q does, so that
		 * a '"' or a newline in the message cannot break the line. */
		_cleanup_free_ char *quoted = utf8_go_quote(full);
		line = xasprintf("time=\"%s\" level=error msg=%s\n", when, quoted);
	}
	(void)write_all(fd, line, strlen(line));
}

static void write_stderr(enum log_level level, const char *ctx, const char *msg)
{
	switch (stderr_format) {
	case LOG_STDERR_TAGGED:
		fprintf(stderr, "nodehook: %s: %s%s\n", level_names[level], ctx, msg);
		break;
	case LOG_STDERR_PLAIN:
		if (level == LOG_LEVEL_ERROR)
			fprintf(stderr, "nodehook: %s\n", msg);
		else
			fprintf(stderr, "nodehook: %s: %s\n", level_names[level], msg);
		break;
	case LOG_STDERR_OFF:
	default:
		break;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < 0 || level >= LOG_LEVEL__MAX || level > max)
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	const char *ctx = context ? context : "";
	if (use_syslog)
		syslog(syslog_priority[level], "%s%s", ctx, msg);
	if (runtime_log && level == LOG_LEVEL_ERROR)
		write_runtime_log(msg);
	if (level <= stderr_max)
		write_stderr(level, ctx, msg);
	free(msg);
	errno = saved;
}
