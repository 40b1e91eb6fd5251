/* regex_go: Go regexp semantics on PCRE2. The table in data/regex_go.test holds the syntax and
 * matching rules; this file adds what a table cannot hold: long subjects, invalid UTF-8 and the
 * cost limit. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#include "cleanup.h"
#include "regex_go.h"
#include "xalloc.h"

/* What bounds a match is PCRE2's match limit (REGEX_GO_MATCH_LIMIT steps): a pathological
 * pattern must come back E2BIG, and any other result means the match ended within the limit.
 * Time is not a verdict (a loaded 2-CPU machine running sanitizer builds can take seconds); a
 * match slower than this is only reported, as a TAP comment. */
#define SLOW_SECONDS 2.0

static pcre2_code *compile_ok(const char *pattern)
{
	pcre2_code *re = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = regex_go_compile(pattern, &re, &err);
	if (r < 0)
		fail_msg("compile `%s`: %s", pattern, err ? err->msg : "(no message)");
	assert_non_null(re);
	return re;
}

/* Matches and returns the result; *ret_seconds is the time the match took. */
static int match_timed(const pcre2_code *re, const char *subject, size_t len, struct nh_error **err,
		       double *ret_seconds)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = regex_go_match(re, subject, len, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ret_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return r;
}

static void report_slow(const char *pattern, size_t len, double seconds)
{
	if (seconds > SLOW_SECONDS)
		print_message(
		    "# `%s` on %zu bytes took %.2f s (reported only: the step limit bounds "
		    "it)\n",
		    pattern, len, seconds);
}

static void split_tabs(const char *line, char **fields, size_t max, size_t *ret_n)
{
	size_t n = 0;
	const char *p = line;
	while (*p && n < max) {
		const char *tab = strchr(p, '\t');
		size_t len = tab ? (size_t)(tab - p) : strlen(p);
		fields[n++] = xstrndup(p, len);
		if (!tab)
			break;
		p = tab;
		while (*p == '\t')
			p++;
	}
	*ret_n = n;
}

/* Checks one table line; returns NULL, or what went wrong. */
static char *check_row(const char *line, void *ctx)
{
	char *f[3] = {NULL, NULL, NULL};
	size_t n = 0;
	split_tabs(line, f, 3, &n);
	_cleanup_free_ char *pattern_src = f[0];
	_cleanup_free_ char *subject_src = f[1];
	_cleanup_free_ char *expected = f[2];
	if (n != 3)
		return xstrdup("expected 3 TAB-separated fields");
	const char *pattern = strcmp(pattern_src, "(empty)") == 0 ? "" : pattern_src;

	_cleanup_pcre2_ pcre2_code *re = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = regex_go_compile(pattern, &re, &err);
	if (strncmp(expected, "reject ", 7) == 0) {
		if (r >= 0)
			return xasprintf("`%s` compiled, Go rejects it", pattern);
		if (r != -EINVAL || !err || re)
			return xasprintf("`%s`: r=%d, want -EINVAL with an error", pattern, r);
		if (strncmp(err->msg, "error parsing regexp: ", 22) != 0 ||
		    !strstr(err->msg, expected + 7))
			return xasprintf("`%s`: error '%s' lacks '%s'", pattern, err->msg,
					 expected + 7);
		return NULL;
	}
	int want = strcmp(expected, "match") == 0 ? 1 : strcmp(expected, "nomatch") == 0 ? 0 : -1;
	if (want < 0)
		return xasprintf("bad expectation '%s'", expected);
	if (r < 0)
		return xasprintf("`%s` rejected (%s), Go accepts it", pattern, err->msg);
	size_t len = 0;
	_cleanup_free_ char *subject = tu_unescape(subject_src, &len);
	r = regex_go_match(re, subject, len, &err);
	if (r != want)
		return xasprintf("`%s` on \"%s\": got %d %s, want %s", pattern, subject_src, r,
				 err ? err->msg : "", expected);
	return NULL;
}

/* A group of table lines: every line is checked, and all failures are reported. */
static void test_table_group(void **state)
{
	tu_check_lines(*state, 0, check_row, NULL);
}

static void assert_too_expensive(const char *pattern, const char *subject, size_t len)
{
	_cleanup_pcre2_ pcre2_code *re = compile_ok(pattern);
	_cleanup_error_ struct nh_error *err = NULL;
	double seconds = 0;
	int r = match_timed(re, subject, len, &err, &seconds);
	assert_int_equal(r, -E2BIG);
	assert_non_null(err);
	assert_int_equal(err->errnum, E2BIG);
	assert_string_equal(err->msg,
			    "regular expression too expensive to match (limit 100000 steps)");
	report_slow(pattern, len, seconds);
}

/* A subject of n copies of c followed by tail. */
static char *repeated(char c, size_t n, const char *tail, size_t *ret_len)
{
	size_t tail_len = strlen(tail);
	char *s = xmalloc(n + tail_len + 1);
	memset(s, c, n);
	memcpy(s + n, tail, tail_len + 1);
	*ret_len = n + tail_len;
	return s;
}

static void test_alternation_blowup_is_an_error(void **state)
{
	size_t len = 0;
	_cleanup_free_ char *s = repeated('a', 50 * 1024, "b", &len);
	assert_too_expensive("^(a|a)+$", s, len);
	/* Short subjects hit the limit too: the cost is exponential, not linear. */
	_cleanup_free_ char *shorter = repeated('a', 40, "b", &len);
	assert_too_expensive("^(a|a)+$", shorter, len);
}

static void test_nested_plus_blowup_is_an_error(void **state)
{
	size_t len = 0;
	/* The final y is there so that PCRE2's required-character shortcut cannot answer early. */
	_cleanup_free_ char *s = repeated('x', 50 * 1024, "zy", &len);
	assert_too_expensive("(x+x+)+y", s, len);
}

static void test_nested_plus_without_required_char_is_fast(void **state)
{
	size_t len = 0;
	_cleanup_free_ char *s = repeated('x', 50 * 1024, "", &len);
	_cleanup_pcre2_ pcre2_code *re = compile_ok("(x+x+)+y");
	_cleanup_error_ struct nh_error *err = NULL;
	double seconds = 0;
	int r = match_timed(re, s, len, &err, &seconds);
	/* Go says no match; an E2BIG would be acceptable, a match or a hang is not. */
	if (r < 0)
		assert_int_equal(r, -E2BIG);
	else
		assert_int_equal(r, 0);
	report_slow("(x+x+)+y", len, seconds);
}

static void test_plain_patterns_on_long_subjects(void **state)
{
	size_t len = 0;
	_cleanup_free_ char *s = repeated('a', 50 * 1024, "", &len);
	static const char *const matching[] = {"^a+$", "^[a-z0-9.-]*$", "a$", "^a*a$", "(?s)^.*$"};
	for (size_t i = 0; i < sizeof(matching) / sizeof(*matching); i++) {
		_cleanup_pcre2_ pcre2_code *re = compile_ok(matching[i]);
		_cleanup_error_ struct nh_error *err = NULL;
		double seconds = 0;
		int r = match_timed(re, s, len, &err, &seconds);
		if (r != 1)
			fail_msg("`%s` on 50 KiB: %d %s", matching[i], r, err ? err->msg : "");
		report_slow(matching[i], len, seconds);
	}
	_cleanup_pcre2_ pcre2_code *re = compile_ok("b");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(regex_go_match(re, s, len, &err), 0);
	assert_null(err);
}

/* Subjects are not validated: an invalid UTF-8 annotation must neither crash nor fail. The valid
 * parts still match. */
static void test_invalid_utf8_subjects(void **state)
{
	static const struct {
		const char *subject;
		size_t len;
	} subjects[] = {
	    {"\xff", 1},
	    {"\xc3", 1},
	    {"\xe2\x84", 2},
	    {"\xed\xa0\x80", 3},
	    {"\xf8\x88\x80\x80\x80", 5},
	    {"a\xffz", 3},
	    {"\xc0\xaf", 2},
	    {"\xf4\x90\x80\x80", 4},
	};
	static const char *const patterns[] = {".",	"^.$",	"[^a]",	 "\\w",
					       "(?i)x", "^.*$", "\\xff", "z"};
	for (size_t p = 0; p < sizeof(patterns) / sizeof(*patterns); p++) {
		_cleanup_pcre2_ pcre2_code *re = compile_ok(patterns[p]);
		for (size_t s = 0; s < sizeof(subjects) / sizeof(*subjects); s++) {
			_cleanup_error_ struct nh_error *err = NULL;
			int r = regex_go_match(re, subjects[s].subject, subjects[s].len, &err);
			if (r < 0)
				fail_msg("`%s` on invalid UTF-8 #%zu: %s", patterns[p], s,
					 err->msg);
		}
	}
	_cleanup_pcre2_ pcre2_code *z = compile_ok("z");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(regex_go_match(z, "a\xffz", 3, &err), 1);
	assert_int_equal(regex_go_match(z, "a\xff", 2, &err), 0);
	assert_null(err);
}

/* The subject is a byte range, not a C string. */
static void test_subject_length_is_honoured(void **state)
{
	_cleanup_pcre2_ pcre2_code *re = compile_ok("^ab$");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(regex_go_match(re, "abc", 2, &err), 1);
	assert_int_equal(regex_go_match(re, "ab\0", 3, &err), 0);
	_cleanup_pcre2_ pcre2_code *nul = compile_ok("a\\x00b");
	assert_int_equal(regex_go_match(nul, "xa\0b", 4, &err), 1);
	assert_null(err);
}

static void test_invalid_utf8_pattern_is_rejected(void **state)
{
	static const char *const patterns[] = {"\xff", "a\xc3", "[\xe2\x84]"};
	for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
		pcre2_code *re = NULL;
		_cleanup_error_ struct nh_error *err = NULL;
		assert_int_equal(regex_go_compile(patterns[i], &re, &err), -EINVAL);
		assert_null(re);
		assert_non_null(err);
		assert_true(strncmp(err->msg, "error parsing regexp: ", 22) == 0);
	}
}

/* The error names the offending pattern, so that a message about a file is actionable. */
static void test_error_names_the_pattern(void **state)
{
	pcre2_code *re = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(regex_go_compile("^cpu(a)\\1$", &re, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "`^cpu(a)\\1$`"));
	err = nh_error_free(err);
	assert_int_equal(regex_go_compile("(unclosed", &re, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "`(unclosed`"));
}

/* Compiled once, matched many times: the match state must not leak between calls. */
static void test_repeated_matches_are_independent(void **state)
{
	_cleanup_pcre2_ pcre2_code *re = compile_ok("^team-(rt|batch)$");
	_cleanup_error_ struct nh_error *err = NULL;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(regex_go_match(re, "team-rt", 7, &err), 1);
		assert_int_equal(regex_go_match(re, "team-rtx", 8, &err), 0);
	}
	size_t len = 0;
	_cleanup_free_ char *s = repeated('a', 40, "b", &len);
	_cleanup_pcre2_ pcre2_code *bad = compile_ok("^(a|a)+$");
	assert_int_equal(regex_go_match(bad, s, len, &err), -E2BIG);
	err = nh_error_free(err);
	/* After hitting the limit, ordinary matching works as before. */
	assert_int_equal(regex_go_match(re, "team-batch", 10, &err), 1);
	assert_null(err);
}

int main(void)
{
	struct tu_suite s = {0};
	tu_suite_add_records(&s, "regex_go.test", test_table_group);
	tu_suite_add_test(&s, test_alternation_blowup_is_an_error);
	tu_suite_add_test(&s, test_nested_plus_blowup_is_an_error);
	tu_suite_add_test(&s, test_nested_plus_without_required_char_is_fast);
	tu_suite_add_test(&s, test_plain_patterns_on_long_subjects);
	tu_suite_add_test(&s, test_invalid_utf8_subjects);
	tu_suite_add_test(&s, test_subject_length_is_honoured);
	tu_suite_add_test(&s, test_invalid_utf8_pattern_is_rejected);
	tu_suite_add_test(&s, test_error_names_the_pattern);
	tu_suite_add_test(&s, test_repeated_matches_are_independent);
	return tu_suite_run(&s, "regex_go");
}
