/* A growing NUL-terminated byte string, for code that builds text piece by piece (the Go regex
 * translation, the irqbalance file).
 *
 * Ownership rule: s belongs to the buffer until the caller takes it (TAKE_PTR(b.s)) or frees
 * it; a zeroed struct strbuf is empty. */
#pragma once

#include <stddef.h>

struct strbuf {
	char *s;
	size_t len, cap;
};

/* Appends n bytes of s (which may hold NULs); b->s stays NUL-terminated. */
void strbuf_putn(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
