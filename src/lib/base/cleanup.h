/* Scope-bound cleanup helpers (GNU C cleanup attribute).
 *
 * Ownership rule: a variable declared with a _cleanup_ macro owns what it points to until the
 * end of its scope, unless ownership is moved out with TAKE_PTR()/TAKE_FD(). Declare cleanup
 * variables at the point of acquisition, and never mix them with goto in one function (GCC
 * compiles a goto over an initialisation silently; clang rejects it, hence the clang build). */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		typeof(p) _taken_ = (p);                                                           \
		(p) = NULL;                                                                        \
		_taken_;                                                                           \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken_fd_ = (fd);                                                             \
		(fd) = -1;                                                                         \
		_taken_fd_;                                                                        \
	})

/* Defines func##p(type *p) that calls func(*p) when *p is non-NULL. */
// NOLINTBEGIN(bugprone-macro-parentheses): type is a type name, which cannot be parenthesized
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			(void)func(*p);                                                            \
	}
// NOLINTEND(bugprone-macro-parentheses)

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* close() that keeps errno, so that a cleanup on an error path does not clobber it. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		(void)fclose(*f);
		errno = saved;
	}
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		(void)closedir(*d);
		errno = saved;
	}
}

/* A NULL-terminated vector of strings. */
static inline char **strv_free(char **v)
{
	if (v) {
		for (char **s = v; *s; s++)
			free(*s);
		free(v);
	}
	return NULL;
}

static inline void strv_freep(char ***v)
{
	*v = strv_free(*v);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_ _cleanup_(strv_freep)
