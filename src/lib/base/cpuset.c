#include "cpuset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void cpuset_clear(struct cpuset *s)
{
	free(s->words);
	*s = (struct cpuset){0};
}

static void grow(struct cpuset *s, size_t n_words)
{
	if (n_words <= s->n_words)
		return;
	s->words = xreallocarray(s->words, n_words, sizeof(uint64_t));
	memset(s->words + s->n_words, 0, (n_words - s->n_words) * sizeof(uint64_t));
	s->n_words = n_words;
}

void cpuset_add(struct cpuset *s, unsigned cpu)
{
	grow(s, cpu / 64 + 1);
	// NOLINTNEXTLINE(clang-analyzer-core.NullDereference): grow() leaves words allocated with n_words > cpu / 64; words is NULL only while n_words is 0
	s->words[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

/* Adds first..last (inclusive, first <= last) a 64-bit word at a time. */
static void add_range(struct cpuset *s, unsigned first, unsigned last)
{
	grow(s, last / 64 + 1);
	for (unsigned w = first / 64; w <= last / 64; w++) {
		unsigned lo = w == first / 64 ? first % 64 : 0;
		unsigned hi = w == last / 64 ? last % 64 : 63;
		uint64_t mask = (hi == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (hi + 1)) - 1) &
				~((UINT64_C(1) << lo) - 1);
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference): as in cpuset_add, grow() left words allocated past last / 64
		s->words[w] |= mask;
	}
}

void cpuset_remove(struct cpuset *s, unsigned cpu)
{
	if (cpu / 64 < s->n_words)
		s->words[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool cpuset_has(const struct cpuset *s, unsigned cpu)
{
	return cpu / 64 < s->n_words && (s->words[cpu / 64] >> (cpu % 64)) & 1;
}

size_t cpuset_count(const struct cpuset *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_words; i++)
		n += (size_t)__builtin_popcountll(s->words[i]);
	return n;
}

bool cpuset_is_empty(const struct cpuset *s)
{
	for (size_t i = 0; i < s->n_words; i++)
		if (s->words[i])
			return false;
	return true;
}

static uint64_t word_at(const struct cpuset *s, size_t i)
{
	return i < s->n_words ? s->words[i] : 0;
}

bool cpuset_equal(const struct cpuset *a, const struct cpuset *b)
{
	size_t n = a->n_words > b->n_words ? a->n_words : b->n_words;
	for (size_t i = 0; i < n; i++)
		if (word_at(a, i) != word_at(b, i))
			return false;
	return true;
}

bool cpuset_intersects(const struct cpuset *a, const struct cpuset *b)
{
	size_t n = a->n_words < b->n_words ? a->n_words : b->n_words;
	for (size_t i = 0; i < n; i++)
		if (a->words[i] & b->words[i])
			return true;
	return false;
}

bool cpuset_is_subset(const struct cpuset *sub, const struct cpuset *super)
{
	for (size_t i = 0; i < sub->n_words; i++)
		if (sub->words[i] & ~word_at(super, i))
			return false;
	return true;
}

int cpuset_last(const struct cpuset *s)
{
	for (size_t i = s->n_words; i-- > 0;)
		if (s->words[i])
			return (int)(i * 64 + 63 - (size_t)__builtin_clzll(s->words[i]));
	return -1;
}

void cpuset_copy(struct cpuset *dst, const struct cpuset *src)
{
	cpuset_clear(dst);
	grow(dst, src->n_words);
	if (src->n_words)
		memcpy(dst->words, src->words, src->n_words * sizeof(uint64_t));
}

void cpuset_union(struct cpuset *dst, const struct cpuset *src)
{
	grow(dst, src->n_words);
	for (size_t i = 0; i < src->n_words; i++)
		dst->words[i] |= src->words[i];
}

void cpuset_subtract(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < dst->n_words; i++)
		dst->words[i] &= ~word_at(src, i);
}

void cpuset_intersect(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < dst->n_words; i++)
		dst->words[i] &= word_at(src, i);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims white space at both ends; returns the length of the remaining text. */
static const char *trim(const char *s, size_t *ret_len)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*ret_len = n;
	return s;
}

/* Reads a decimal CPU number; returns the digits consumed, or 0 if none or too large. */
static size_t read_cpu(const char *p, const char *end, unsigned *ret)
{
	size_t n = 0;
	unsigned long v = 0;
	while (p + n < end && p[n] >= '0' && p[n] <= '9') {
		v = v * 10 + (unsigned long)(p[n] - '0');
		if (v >= CPUSET_MAX_CPUS)
			return 0;
		n++;
	}
	if (n > 0)
		*ret = (unsigned)v;
	return n;
}

int cpuset_parse_list(const char *s, struct cpuset *ret, struct nh_error **err)
{
	size_t len;
	const char *p = trim(s, &len), *end = p + len;
	_cleanup_cpuset_ struct cpuset set = {0};

	if (len > CPUSET_MAX_LIST_LEN)
		return nh_error_set(err, EINVAL, "invalid CPU list: %zu bytes, longer than %u", len,
				    CPUSET_MAX_LIST_LEN);
	while (p < end) {
		unsigned first = 0, last = 0;
		size_t n = read_cpu(p, end, &first);
		if (n == 0)
			return nh_error_set(
			    err, EINVAL,
			    "invalid CPU list '%s': expected a CPU number below %u at '%.*s'", s,
			    CPUSET_MAX_CPUS, (int)(end - p), p);
		p += n;
		last = first;
		if (p < end && *p == '-') {
			p++;
			n = read_cpu(p, end, &last);
			if (n == 0)
				return nh_error_set(
				    err, EINVAL, "invalid CPU list '%s': bad range end at '%.*s'",
				    s, (int)(end - p), p);
			p += n;
			if (last < first)
				return nh_error_set(
				    err, EINVAL, "invalid CPU list '%s': range %u-%u is reversed",
				    s, first, last);
		}
		add_range(&set, first, last);
		if (p == end)
			break;
		if (*p != ',' || p + 1 == end)
			return nh_error_set(err, EINVAL, "invalid CPU list '%s': unexpected '%.*s'",
					    s, (int)(end - p), p);
		p++;
	}
	*ret = set;
	set = (struct cpuset){0};
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cpuset_parse_mask(const char *s, struct cpuset *ret, struct nh_error **err)
{
	size_t len;
	const char *p = trim(s, &len);
	if (len == 0)
		return nh_error_set(err, EINVAL, "invalid CPU mask '%s': empty", s);

	/* Walk groups from the right: the last group holds CPUs 0-31. */
	_cleanup_cpuset_ struct cpuset set = {0};
	unsigned group = 0;
	size_t end = len;
	for (;;) {
		size_t start = end;
		while (start > 0 && p[start - 1] != ',')
			start--;
		size_t digits = end - start;
		if (digits == 0 || digits > 8)
			return nh_error_set(
			    err, EINVAL,
			    "invalid CPU mask '%s': each group needs 1 to 8 hex digits", s);
		uint32_t value = 0;
		for (size_t i = start; i < end; i++) {
			int h = hex_value(p[i]);
			if (h < 0)
				return nh_error_set(
				    err, EINVAL, "invalid CPU mask '%s': '%c' is not a hex digit",
				    s, p[i]);
			value = value << 4 | (uint32_t)h;
		}
		for (unsigned bit = 0; bit < 32; bit++) {
			if (!(value >> bit & 1))
				continue;
			unsigned cpu = group * 32 + bit;
			if (cpu >= CPUSET_MAX_CPUS)
				return nh_error_set(err, EINVAL,
						    "invalid CPU mask '%s': CPU %u is beyond %u", s,
						    cpu, CPUSET_MAX_CPUS);
			cpuset_add(&set, cpu);
		}
		if (start == 0)
			break;
		end = start - 1;
		group++;
		if (group * 32 >= CPUSET_MAX_CPUS && end > 0)
			return nh_error_set(err, EINVAL, "invalid CPU mask '%s': too many groups",
					    s);
	}
	*ret = set;
	set = (struct cpuset){0};
	return 0;
}

char *cpuset_format_list(const struct cpuset *s)
{
	size_t cap = 64, len = 0;
	char *out = xmalloc(cap);
	out[0] = '\0';
	int last = cpuset_last(s);
	for (int c = 0; c <= last; c++) {
		if (!cpuset_has(s, (unsigned)c))
			continue;
		int e = c;
		while (e + 1 <= last && cpuset_has(s, (unsigned)(e + 1)))
			e++;
		char item[32];
		int n = e > c ? snprintf(item, sizeof(item), "%s%d-%d", len ? "," : "", c, e)
			      : snprintf(item, sizeof(item), "%s%d", len ? "," : "", c);
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, item, (size_t)n + 1);
		len += (size_t)n;
		c = e;
	}
	return out;
}

char *cpuset_format_mask(const struct cpuset *s, unsigned n_cpus)
{
	int last = cpuset_last(s);
	unsigned bits = n_cpus;
	if (last >= 0 && (unsigned)last + 1 > bits)
		bits = (unsigned)last + 1;
	unsigned groups = bits ? (bits + 31) / 32 : 1;
	char *out = xmalloc(groups * 9 + 1), *p = out;
	for (unsigned g = groups; g-- > 0;) {
		uint32_t value = 0;
		for (unsigned bit = 0; bit < 32; bit++)
			if (cpuset_has(s, g * 32 + bit))
				value |= UINT32_C(1) << bit;
		/* The kernel pads the top group only to the digits its CPUs need: "3" on a
		 * 2-CPU node, "ff,ffffffff" with 40 CPUs. */
		int width = 8;
		if (g + 1 == groups && bits)
			width = (int)((bits - g * 32 + 3) / 4);
		p += sprintf(p, "%0*x", width, value);
		if (g > 0)
			*p++ = ',';
	}
	*p = '\0';
	return out;
}
