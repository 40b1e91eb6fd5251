/* Allocation that aborts on OOM: a hook or wrapper that runs out of memory cannot do anything
 * useful, and checking every small allocation would hide the real error paths. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* They never return NULL: said so that static analysis (and the compiler) know it too. */
#define XALLOC_NONNULL __attribute__((returns_nonnull))

void *xmalloc(size_t n) XALLOC_NONNULL;
void *xcalloc(size_t n, size_t size) XALLOC_NONNULL;
void *xrealloc(void *p, size_t n) XALLOC_NONNULL;
/* Grows an array of `size`-byte elements to hold at least `need` elements. */
void *xreallocarray(void *p, size_t n, size_t size) XALLOC_NONNULL;
char *xstrdup(const char *s) XALLOC_NONNULL;
char *xstrndup(const char *s, size_t n) XALLOC_NONNULL;
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))) XALLOC_NONNULL;
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0))) XALLOC_NONNULL;
