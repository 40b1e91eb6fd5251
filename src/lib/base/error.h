/* Errors as values.
 *
 * A fallible function takes `struct nh_error **err` last, returns >= 0 on success and -errno on
 * failure with *err set. The error is created where the failure happens (nh_error_set), gains
 * context on the way up (nh_error_wrap) and is printed once, by main (through log.h).
 *
 * Ownership rule: whoever holds a non-NULL *err owns it and frees it with nh_error_free(). A
 * function must not overwrite an error that is already set: rollback after a failure uses its
 * own local error, and reports it (or drops it) without touching the first. */
#pragma once

#include <stdarg.h>

#include "cleanup.h"

struct nh_error {
	int errnum; /* a positive errno value; never 0 */
	char *msg;
};

/* Sets *err to a new error (unless err is NULL or *err is already set) and returns -errnum.
 * errnum 0 is mapped to EIO so that the return value always reads as a failure. */
int nh_error_set(struct nh_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like nh_error_set(), appending ": strerror(errnum)". */
int nh_error_set_errno(struct nh_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes "<context>: " to *err's message. Returns -(*err)->errnum (or -EIO if unset). */
int nh_error_wrap(struct nh_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends text to *err's message ("; the record stays for ..."). Returns -(*err)->errnum. */
int nh_error_append(struct nh_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct nh_error *nh_error_free(struct nh_error *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nh_error *, nh_error_free)

#define _cleanup_error_ _cleanup_(nh_error_freep)
