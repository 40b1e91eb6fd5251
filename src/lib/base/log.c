#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "xalloc.h"

static bool use_syslog;
static bool use_stderr = true;
static enum log_level max = LOG_LEVEL_INFO;
static char *context;

void log_open(const char *ident, bool to_syslog, bool to_stderr, enum log_level max_level)
{
	use_syslog = to_syslog;
	use_stderr = to_stderr;
	max = max_level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
	if (use_stderr)
		fprintf(stderr, "nodehook: %s: %s%s\n", level_names[level], ctx, msg);
	free(msg);
	errno = saved;
}
