#include "strv.h"

#include <string.h>

#include "xalloc.h"

size_t strv_length(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_push(char ***v, char *s)
{
	size_t n = strv_length(*v);
	*v = xreallocarray(*v, n + 2, sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

char *strv_join(const char *const *items, size_t n, const char *sep)
{
	size_t len = 1, sep_len = strlen(sep);
	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + (i ? sep_len : 0);
	char *out = xmalloc(len), *p = out;
	for (size_t i = 0; i < n; i++) {
		if (i) {
			memcpy(p, sep, sep_len);
			p += sep_len;
		}
		size_t item_len = strlen(items[i]);
		memcpy(p, items[i], item_len);
		p += item_len;
	}
	*p = '\0';
	return out;
}
