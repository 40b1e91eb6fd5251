#include "strbuf.h"

#include <string.h>

#include "xalloc.h"

void strbuf_putn(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	// NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): b->s is allocated whenever cap > 0, and the first call always allocates
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_putn(b, s, strlen(s));
}
