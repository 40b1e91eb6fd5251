/* CPU list and mask parsing and formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpuset.h"

static char *list_roundtrip(const char *in)
{
	struct nh_error *err = NULL;
	struct cpuset s = {0};
	if (cpuset_parse_list(in, &s, &err) < 0) {
		char *msg = strdup(err->msg);
		nh_error_free(err);
		return msg;
	}
	char *out = cpuset_format_list(&s);
	cpuset_clear(&s);
	return out;
}

static void test_list_valid(void **state)
{
	static const char *const cases[][2] = {
	    {"0", "0"},
	    {"1", "1"},
	    {"0-3", "0-3"},
	    {"0,1,2,3", "0-3"},
	    {"3,2,1,0", "0-3"},
	    {"0-1", "0-1"},
	    {"0,2,4", "0,2,4"},
	    {"0-2,1-5", "0-5"},
	    {"1-1", "1"},
	    {"8-11,0-3", "0-3,8-11"},
	    {"0-3\n", "0-3"},
	    {"  5 ", "5"},
	    {"", ""},
	    {"\n", ""},
	    {"007", "7"},
	    {"63,64", "63-64"},
	    {"8191", "8191"},
	    {"0-8191", "0-8191"},
	    /* ranges set whole words: each edge of a 64-bit word */
	    {"63-64", "63-64"},
	    {"64-127", "64-127"},
	    {"0-63", "0-63"},
	    {"1-62", "1-62"},
	    {"60-200,5", "5,60-200"},
	    {"127-128,0-0", "0,127-128"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = list_roundtrip(cases[i][0]);
		if (strcmp(out, cases[i][1]) != 0)
			fail_msg("'%s': got '%s', want '%s'", cases[i][0], out, cases[i][1]);
		free(out);
	}
}

static void test_list_junk(void **state)
{
	static const char *const junk[] = {
	    ",",    "0,",     ",0",
	    "0,,1", "3-1",    "-1",
	    "1-",   "a",      "0x1",
	    "1 2",  "0-3 ", /* trailing space inside is fine; this is trimmed, so valid: checked
			       below */
	    "8192", "0-8192", "99999999999999999999",
	    "+1",   "1-+2",   "0-3,a",
	    "1;2",  "0 - 3",  "0-1-2",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct nh_error *err = NULL;
		struct cpuset s = {0};
		int r = cpuset_parse_list(junk[i], &s, &err);
		if (strcmp(junk[i], "0-3 ") == 0) {
			assert_int_equal(r, 0);
			cpuset_clear(&s);
			continue;
		}
		if (r >= 0)
			fail_msg("'%s' was accepted", junk[i]);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err->msg, "invalid CPU list"));
		/* nothing written on failure */
		assert_null(s.words);
		nh_error_free(err);
	}
}

/* Audit finding 10: "0-8191,0-8191,..." cost 8192 bit writes per item. Ranges now set whole
 * words, and the input is capped at CPUSET_MAX_LIST_LEN: the longest useful list (every CPU one
 * by one) still parses, a longer one is refused without being walked. */
static void test_list_long(void **state)
{
	size_t cap = 8 * CPUSET_MAX_LIST_LEN;
	char *buf = malloc(cap), *p = buf;
	assert_non_null(buf);
	for (unsigned c = 0; c < CPUSET_MAX_CPUS; c++)
		p += sprintf(p, "%s%u", c ? "," : "", c);
	assert_true((size_t)(p - buf) <= CPUSET_MAX_LIST_LEN);
	char *out = list_roundtrip(buf);
	assert_string_equal(out, "0-8191");
	free(out);

	p = buf;
	while ((size_t)(p - buf) <= CPUSET_MAX_LIST_LEN)
		p += sprintf(p, "%s0-8191", p == buf ? "" : ",");
	struct nh_error *err = NULL;
	struct cpuset s = {0};
	assert_int_equal(cpuset_parse_list(buf, &s, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "longer than 65536"));
	assert_null(s.words);
	nh_error_free(err);
	free(buf);
}

static void test_mask(void **state)
{
	static const char *const cases[][3] = {
	    /* input mask, expected list, mask re-formatted for 2 CPUs */
	    {"3", "0-1", "3"},
	    {"1", "0", "1"},
	    {"2\n", "1", "2"},
	    {"0", "", "0"},
	    {"ffffffff", "0-31", "ffffffff"},
	    {"1,00000000", "32", "1,00000000"},
	    {"ff,ffffffff", "0-39", "ff,ffffffff"},
	    {"80000000,00000000", "63", "80000000,00000000"},
	    {"0000,00000001", "0", "1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nh_error *err = NULL;
		struct cpuset s = {0};
		assert_int_equal(cpuset_parse_mask(cases[i][0], &s, &err), 0);
		char *list = cpuset_format_list(&s);
		assert_string_equal(list, cases[i][1]);
		char *mask = cpuset_format_mask(&s, 2);
		assert_string_equal(mask, cases[i][2]);
		free(list);
		free(mask);
		cpuset_clear(&s);
	}
}

static void test_mask_width(void **state)
{
	struct cpuset s = {0};
	cpuset_add(&s, 0);
	char *m = cpuset_format_mask(&s, 40);
	assert_string_equal(m, "00,00000001");
	free(m);
	m = cpuset_format_mask(&s, 64);
	assert_string_equal(m, "00000000,00000001");
	free(m);
	m = cpuset_format_mask(&s, 4);
	assert_string_equal(m, "1");
	free(m);
	cpuset_clear(&s);
}

static void test_mask_thousands(void **state)
{
	/* 4096 CPUs, every 3rd one: mask and list agree after a round trip. */
	struct cpuset s = {0};
	for (unsigned c = 0; c < 4096; c += 3)
		cpuset_add(&s, c);
	char *mask = cpuset_format_mask(&s, 4096);
	assert_int_equal(strlen(mask), 4096 / 32 * 9 - 1);
	struct nh_error *err = NULL;
	struct cpuset back = {0};
	assert_int_equal(cpuset_parse_mask(mask, &back, &err), 0);
	assert_true(cpuset_equal(&s, &back));
	char *list = cpuset_format_list(&back);
	struct cpuset again = {0};
	assert_int_equal(cpuset_parse_list(list, &again, &err), 0);
	assert_true(cpuset_equal(&s, &again));
	assert_int_equal(cpuset_count(&again), (4096 + 2) / 3);
	free(mask);
	free(list);
	cpuset_clear(&s);
	cpuset_clear(&back);
	cpuset_clear(&again);
}

static void test_mask_junk(void **state)
{
	static const char *const junk[] = {"",	   "g",	  "1,", ",1", "123456789",
					   "1,,2", "0x3", "-1", "1 2"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct nh_error *err = NULL;
		struct cpuset s = {0};
		if (cpuset_parse_mask(junk[i], &s, &err) >= 0)
			fail_msg("mask '%s' was accepted", junk[i]);
		assert_non_null(strstr(err->msg, "invalid CPU mask"));
		nh_error_free(err);
	}
	/* 8192 CPUs is the limit: one more group is refused. */
	size_t groups = CPUSET_MAX_CPUS / 32 + 1;
	char *big = calloc(groups * 9 + 1, 1);
	for (size_t g = 0; g < groups; g++)
		strcat(big, g ? ",00000001" : "1");
	struct nh_error *err = NULL;
	struct cpuset s = {0};
	assert_true(cpuset_parse_mask(big, &s, &err) < 0);
	nh_error_free(err);
	free(big);
}

static void test_set_operations(void **state)
{
	struct nh_error *err = NULL;
	struct cpuset a = {0}, b = {0}, c = {0};
	assert_int_equal(cpuset_parse_list("0-7", &a, &err), 0);
	assert_int_equal(cpuset_parse_list("4-5,100", &b, &err), 0);
	assert_true(cpuset_intersects(&a, &b));
	assert_false(cpuset_is_subset(&b, &a));
	cpuset_copy(&c, &a);
	cpuset_subtract(&c, &b);
	char *s = cpuset_format_list(&c);
	assert_string_equal(s, "0-3,6-7");
	free(s);
	cpuset_union(&c, &b);
	s = cpuset_format_list(&c);
	assert_string_equal(s, "0-7,100");
	free(s);
	cpuset_intersect(&c, &a);
	assert_true(cpuset_equal(&c, &a));
	assert_int_equal(cpuset_last(&b), 100);
	cpuset_remove(&b, 100);
	assert_int_equal(cpuset_last(&b), 5);
	assert_true(cpuset_is_subset(&b, &a));
	cpuset_remove(&b, 4);
	cpuset_remove(&b, 5);
	assert_true(cpuset_is_empty(&b));
	assert_int_equal(cpuset_last(&b), -1);
	assert_false(cpuset_intersects(&a, &b));
	cpuset_clear(&a);
	cpuset_clear(&b);
	cpuset_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_valid),	   cmocka_unit_test(test_list_junk),
	    cmocka_unit_test(test_mask),	   cmocka_unit_test(test_mask_width),
	    cmocka_unit_test(test_mask_thousands), cmocka_unit_test(test_mask_junk),
	    cmocka_unit_test(test_set_operations), cmocka_unit_test(test_list_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
