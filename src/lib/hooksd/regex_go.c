#include "regex_go.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "strbuf.h"
#include "utf8.h"
#include "xalloc.h"

static void sb_putc(struct strbuf *b, char c)
{
	strbuf_putn(b, &c, 1);
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Go reads a backslash before any ASCII character that is not a letter or digit (punctuation,
 * but also space and control characters) as that character. */
static bool is_go_literal_escape(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 0x80 && !(u >= '0' && u <= '9') && !((u | 0x20) >= 'a' && (u | 0x20) <= 'z');
}

static int reject(struct nh_error **err, const char *pattern, const char *what, const char *at,
		  size_t at_len)
{
	return nh_error_set(err, EINVAL, "error parsing regexp: %s: `%.*s` in `%s`", what,
			    (int)at_len, at, pattern);
}

/* Translates one escape starting at p[0] == '\\'. Returns the number of bytes consumed, or a
 * negative errno. in_class: Go allows fewer escapes inside a character class. */
static int translate_escape(const char *pattern, const char *p, bool in_class, struct strbuf *out,
			    struct nh_error **err)
{
	char c = p[1];
	if (c == '\0')
		return reject(err, pattern, "trailing backslash at end of expression", p, 1);

	/* Octal: Go reads \0 plus up to two more octal digits, or \1-\7 followed by at least one
	 * octal digit. A lone \1-\9 would be a backreference, which RE2 does not have. */
	if (c == '0' || (c >= '1' && c <= '7' && is_octal(p[2]))) {
		size_t n = 2;
		unsigned value = (unsigned)(c - '0');
		while (n < 4 && is_octal(p[n])) {
			value = value * 8 + (unsigned)(p[n] - '0');
			n++;
		}
		char buf[16];
		int k = snprintf(buf, sizeof(buf), "\\x{%x}", value);
		strbuf_putn(out, buf, (size_t)k);
		return (int)n;
	}
	if (c >= '1' && c <= '9')
		return reject(err, pattern,
			      "invalid escape sequence (backreferences are not supported)", p, 2);

	switch (c) {
	case 'v': /* Go: vertical tab. PCRE2: any vertical white space. */
		strbuf_putn(out, "\\x{0b}", 6);
		return 2;
	case 'x': {
		if (p[2] == '{') {
			size_t n = 3;
			while (is_hex(p[n]))
				n++;
			if (n == 3 || p[n] != '}')
				return reject(err, pattern, "invalid escape sequence", p, n);
			strbuf_putn(out, p, n + 1);
			return (int)(n + 1);
		}
		if (!is_hex(p[2]) || !is_hex(p[3]))
			return reject(err, pattern, "invalid escape sequence", p, 2);
		strbuf_putn(out, p, 4);
		return 4;
	}
	case 'p':
	case 'P': {
		size_t n = 2;
		if (p[2] == '{') {
			n = 3;
			while (p[n] && p[n] != '}')
				n++;
			if (p[n] != '}')
				return reject(err, pattern, "invalid character class range", p, n);
			n++;
		} else if (p[2] != '\0') {
			n = 3;
		} else {
			return reject(err, pattern, "invalid character class range", p, 2);
		}
		strbuf_putn(out, p, n);
		return (int)n;
	}
	case 's':
		/* Go: [\t\n\f\r ]. PCRE2's \s also matches the vertical tab. */
		if (in_class)
			strbuf_puts(out, "\\t\\n\\f\\r\\x20");
		else
			strbuf_puts(out, "[\\t\\n\\f\\r\\x20]");
		return 2;
	case 'S':
		/* In a class, the complement is spelled out as ranges (classes do not nest). */
		if (in_class)
			strbuf_puts(out, "\\x00-\\x08\\x0b\\x0e-\\x1f\\x21-\\x{10ffff}");
		else
			strbuf_puts(out, "[^\\t\\n\\f\\r\\x20]");
		return 2;
	case 'a':
	case 'f':
	case 't':
	case 'n':
	case 'r':
	case 'd':
	case 'D':
	case 'w':
	case 'W':
		strbuf_putn(out, p, 2);
		return 2;
	case 'A':
	case 'z':
	case 'b':
	case 'B':
		if (in_class)
			return reject(err, pattern, "invalid escape sequence", p, 2);
		strbuf_putn(out, p, 2);
		return 2;
	default:
		if (is_go_literal_escape(c)) {
			strbuf_putn(out, p, 2);
			return 2;
		}
		return reject(err, pattern, "invalid escape sequence", p, 2);
	}
}

/* Parses a Go repeat {n}, {n,}, {n,m} at p. Returns its length, or 0 if p does not start one
 * (Go then reads '{' as a literal). Sets *too_big if a count exceeds REGEX_GO_REPEAT_MAX. */
static size_t parse_repeat(const char *p, bool *too_big)
{
	size_t n = 1;
	unsigned long count = 0;
	bool have_digit = false;
	*too_big = false;
	while (p[n] >= '0' && p[n] <= '9') {
		count = count * 10 + (unsigned long)(p[n] - '0');
		if (count > REGEX_GO_REPEAT_MAX)
			*too_big = true, count = REGEX_GO_REPEAT_MAX + 1;
		have_digit = true;
		n++;
	}
	if (!have_digit)
		return 0;
	if (p[n] == ',') {
		n++;
		count = 0;
		while (p[n] >= '0' && p[n] <= '9') {
			count = count * 10 + (unsigned long)(p[n] - '0');
			if (count > REGEX_GO_REPEAT_MAX)
				*too_big = true, count = REGEX_GO_REPEAT_MAX + 1;
			n++;
		}
	}
	if (p[n] != '}')
		return 0;
	return n + 1;
}

/* Checks a "(?" group opener at p and returns its length, or a negative errno. Go accepts
 * non-capturing groups (?:re), flag groups (?flags) and (?flags:re) with flags from "imsU", and
 * named groups (?P<name>re) and (?<name>re); every other PCRE extension is refused. */
static int check_group_opener(const char *pattern, const char *p, struct strbuf *out,
			      struct nh_error **err)
{
	if (p[2] == 'P' && p[3] == '<') {
		strbuf_putn(out, p, 4);
		return 4;
	}
	if (p[2] == '<' && p[3] != '=' && p[3] != '!') {
		strbuf_putn(out, p, 3);
		return 3;
	}
	if (p[2] == ':') {
		strbuf_putn(out, p, 3);
		return 3;
	}
	size_t n = 2;
	bool seen_minus = false, seen_flag = false;
	for (;; n++) {
		char c = p[n];
		if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
			seen_flag = true;
			continue;
		}
		if (c == '-' && !seen_minus) {
			seen_minus = true;
			seen_flag = false;
			continue;
		}
		if ((c == ')' || c == ':') && (seen_flag || !seen_minus) && n > 2) {
			strbuf_putn(out, p, n + 1);
			return (int)(n + 1);
		}
		break;
	}
	return reject(err, pattern, "invalid or unsupported Perl syntax", p, n + 1 > 3 ? 3 : n + 1);
}

/* Rewrites a Go pattern into an equivalent PCRE2 pattern, or rejects it. */
static int translate(const char *pattern, struct strbuf *out, struct nh_error **err)
{
	const char *p = pattern;
	bool in_class = false;
	/* After a repetition operator (and its optional lazy '?'), another one is an error in Go
	 * ("invalid nested repetition operator"); PCRE2 would read it as possessive. */
	bool after_repeat = false, lazy_allowed = false;

	while (*p) {
		if (p[0] == '\\' && p[1] == 'Q') {
			const char *end = strstr(p + 2, "\\E");
			size_t n = end ? (size_t)(end - p) + 2 : strlen(p);
			strbuf_putn(out, p, n);
			p += n;
			after_repeat = lazy_allowed = false;
			continue;
		}
		if (p[0] == '\\') {
			int n = translate_escape(pattern, p, in_class, out, err);
			if (n < 0)
				return n;
			p += n;
			after_repeat = lazy_allowed = false;
			continue;
		}
		if (in_class) {
			if (p[0] == '[' && p[1] == ':') {
				const char *end = strstr(p + 2, ":]");
				if (end) {
					strbuf_putn(out, p, (size_t)(end - p) + 2);
					p = end + 2;
					continue;
				}
			}
			if (p[0] == ']')
				in_class = false;
			sb_putc(out, *p++);
			continue;
		}

		bool too_big = false;
		size_t repeat_len = p[0] == '{' ? parse_repeat(p, &too_big) : 0;
		bool is_repeat = p[0] == '*' || p[0] == '+' || p[0] == '?' || repeat_len > 0;
		if (is_repeat) {
			if (p[0] == '?' && lazy_allowed) {
				sb_putc(out, *p++);
				lazy_allowed = false;
				continue;
			}
			if (after_repeat)
				return reject(err, pattern, "invalid nested repetition operator", p,
					      repeat_len ? repeat_len : 1);
			if (too_big)
				return reject(err, pattern, "invalid repeat count", p, repeat_len);
			size_t n = repeat_len ? repeat_len : 1;
			strbuf_putn(out, p, n);
			p += n;
			after_repeat = lazy_allowed = true;
			continue;
		}
		after_repeat = lazy_allowed = false;

		switch (p[0]) {
		case '[':
			in_class = true;
			sb_putc(out, *p++);
			if (*p == '^')
				sb_putc(out, *p++);
			if (*p == ']')
				sb_putc(out, *p++);
			continue;
		case '(':
			if (p[1] == '*')
				return reject(err, pattern,
					      "missing argument to repetition operator", p + 1, 1);
			if (p[1] == '?') {
				int n = check_group_opener(pattern, p, out, err);
				if (n < 0)
					return n;
				p += n;
				continue;
			}
			break;
		case '{':
			/* Not a repeat: a literal brace in Go. Escape it so PCRE2 agrees. */
			strbuf_putn(out, "\\{", 2);
			p++;
			continue;
		default:
			break;
		}
		sb_putc(out, *p++);
	}
	if (in_class)
		return reject(err, pattern, "missing closing ]", pattern, strlen(pattern));
	if (!out->s)
		strbuf_putn(out, "", 0);
	return 0;
}

int regex_go_compile(const char *pattern, pcre2_code **ret, struct nh_error **err)
{
	struct strbuf tr = {0};
	int r = translate(pattern, &tr, err);
	if (r < 0) {
		free(tr.s);
		return r;
	}
	_cleanup_free_ char *translated = tr.s;

	int code = 0;
	PCRE2_SIZE offset = 0;
	_cleanup_pcre2_ pcre2_code *re = pcre2_compile(
	    (PCRE2_SPTR)translated, tr.len,
	    PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_CIRCUMFLEX | PCRE2_NEVER_BACKSLASH_C,
	    &code, &offset, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			// NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy): a 14-byte literal into a 256-byte buffer
			strcpy((char *)msg, "unknown error");
		return nh_error_set(err, EINVAL, "error parsing regexp: %s: `%s`", (char *)msg,
				    pattern);
	}
	uint32_t backrefs = 0;
	if (pcre2_pattern_info(re, PCRE2_INFO_BACKREFMAX, &backrefs) == 0 && backrefs > 0)
		return nh_error_set(err, EINVAL,
				    "error parsing regexp: backreferences are not supported: `%s`",
				    pattern);
	*ret = TAKE_PTR(re);
	return 0;
}

static pcre2_match_context *match_context(void)
{
	static pcre2_match_context *ctx;
	if (!ctx) {
		ctx = pcre2_match_context_create(NULL);
		if (!ctx)
			abort();
		pcre2_set_match_limit(ctx, REGEX_GO_MATCH_LIMIT);
		pcre2_set_depth_limit(ctx, REGEX_GO_DEPTH_LIMIT);
	}
	return ctx;
}

int regex_go_match_utf8(const pcre2_code *re, const char *subject, size_t len,
			struct nh_error **err)
{
	/* One ovector pair is enough to learn whether it matched; reused across calls. */
	static pcre2_match_data *md;
	if (!md) {
		md = pcre2_match_data_create(1, NULL);
		if (!md)
			abort();
	}
	/* The subject is valid UTF-8 (the caller's promise): PCRE2 need not scan it again for
	 * every pattern, which was the largest part of matching a hooks.d directory. */
	int rc =
	    pcre2_match(re, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_UTF_CHECK, md, match_context());
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT)
		return nh_error_set(err, E2BIG,
				    "regular expression too expensive to match (limit %u steps)",
				    REGEX_GO_MATCH_LIMIT);
	PCRE2_UCHAR msg[256];
	if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
		// NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy): a 14-byte literal into a 256-byte buffer
		strcpy((char *)msg, "unknown error");
	return nh_error_set(err, EINVAL, "regular expression match failed: %s", (char *)msg);
}

int regex_go_match(const pcre2_code *re, const char *subject, size_t len, struct nh_error **err)
{
	if (utf8_valid(subject, len))
		return regex_go_match_utf8(re, subject, len, err);
	size_t clean_len = 0;
	_cleanup_free_ char *clean = utf8_sanitize(subject, len, &clean_len);
	return regex_go_match_utf8(re, clean, clean_len, err);
}
