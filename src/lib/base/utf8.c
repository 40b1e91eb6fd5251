#include "utf8.h"

#include <string.h>

#include "xalloc.h"

size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret)
{
	*ret = 0xfffd;
	unsigned n;
	uint32_t c, min;
	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*ret = c;
	return n;
}

size_t utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		/* Annotations are nearly always ASCII: skip it eight bytes at a time. */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			p += 8;
		}
		if (p == end)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		uint32_t c;
		size_t n = utf8_decode(p, (size_t)(end - p), &c);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

char *utf8_sanitize(const char *s, size_t len, size_t *ret_len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	char *out = xmalloc(3 * len + 1), *o = out;
	while (p < end) {
		uint32_t c;
		size_t n = utf8_decode(p, (size_t)(end - p), &c);
		if (n == 0) {
			o += utf8_encode(0xfffd, o);
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	return out;
}

char *utf8_go_quote(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	static const char special[] = "\"\\\a\b\f\n\r\t\v", escaped[] = "\"\\abfnrtv";
	size_t len = strlen(s);
	const unsigned char *end = (const unsigned char *)s + len;
	char *out = xmalloc(len * 4 + 3), *o = out;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		const char *sp = strchr(special, *p);
		uint32_t rune = 0;
		size_t n = utf8_decode(p, (size_t)(end - p), &rune);
		if (sp) {
			*o++ = '\\';
			*o++ = escaped[sp - special];
		} else if (*p < 0x20 || *p == 0x7f || n == 0) {
			/* other control characters, and bytes that are not UTF-8 */
			n = 1;
			o = stpcpy(o, "\\x");
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		} else if (p[0] == 0xc2 && p[1] < 0xa0) {
			/* C1 control characters, U+0080 to U+009F */
			o = stpcpy(o, "\\u00");
			*o++ = hex[p[1] >> 4];
			*o++ = hex[p[1] & 0xf];
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}
