#define NH_ERROR_C /* error.h: the definitions, not the analyzer's wrappers */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

__attribute__((format(printf, 4, 0))) static int
set_va(struct nh_error **err, int errnum, bool with_strerror, const char *fmt, va_list ap)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0)
		errnum = EIO;
	if (!err || *err)
		return -errnum;

	char *msg = xvasprintf(fmt, ap);
	if (with_strerror) {
		char *full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	struct nh_error *e = xmalloc(sizeof(*e));
	e->errnum = errnum;
	e->msg = msg;
	*err = e;
	return -errnum;
}

int nh_error_set(struct nh_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_va(err, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int nh_error_set_errno(struct nh_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_va(err, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int nh_error_wrap(struct nh_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	char *prefix = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", prefix, (*err)->msg);
	free(prefix);
	free((*err)->msg);
	(*err)->msg = msg;
	return -(*err)->errnum;
}

int nh_error_append(struct nh_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	char *suffix = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s%s", (*err)->msg, suffix);
	free(suffix);
	free((*err)->msg);
	(*err)->msg = msg;
	return -(*err)->errnum;
}

struct nh_error *nh_error_free(struct nh_error *e)
{
	if (e) {
		free(e->msg);
		free(e);
	}
	return NULL;
}
