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

/* For the clang static analyzer only (clang-tidy's clang-analyzer-*, scan-build): it looks at
 * one file at a time and cannot see in error.c that these never return >= 0, so it follows
 * "failure" paths that return 0 with nothing set. Real builds never define __clang_analyzer__;
 * error.c defines NH_ERROR_C to keep its definitions plain. */
#if defined(__clang_analyzer__) && !defined(NH_ERROR_C)
static inline int nh_error_negative_(int r)
{
	return r < 0 ? r : -1; /* never taken: error.c maps 0 to EIO */
}
#define nh_error_set(...) nh_error_negative_(nh_error_set(__VA_ARGS__))
#define nh_error_set_errno(...) nh_error_negative_(nh_error_set_errno(__VA_ARGS__))
#define nh_error_wrap(...) nh_error_negative_(nh_error_wrap(__VA_ARGS__))
#define nh_error_append(...) nh_error_negative_(nh_error_append(__VA_ARGS__))
#endif
