/* json_util: strict parsing (exactly one value, UTF-8, depth), the finite-number check, Go's type
 * labels, and serialisation that writes back what it read. */
#include <errno.h>
#include <string.h>

#include "test-util.h"

#include "json_util.h"
#include "xalloc.h"

static json_object *parse_ok(const char *s, size_t len)
{
	json_object *o = NULL;
	struct nh_error *err = NULL;
	assert_ok(json_parse_strict(s, len, NH_JSON_DEPTH_MAX, &o, &err), &err);
	return o;
}

static void assert_parse_fails(const char *s, size_t len)
{
	json_object *o = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = json_parse_strict(s, len, NH_JSON_DEPTH_MAX, &o, &err);
	if (r >= 0)
		fail_msg("'%.*s' parsed", (int)len, s);
	assert_int_equal(r, -EBADMSG);
	assert_non_null(err);
	assert_int_equal(err->errnum, EBADMSG);
	assert_true(strncmp(err->msg, "invalid JSON", 12) == 0);
	assert_null(o);
}

static void assert_round_trip(const char *in, const char *out)
{
	_cleanup_json_ json_object *o = parse_ok(in, strlen(in));
	size_t len = 0;
	const char *s = json_to_string(o, &len);
	assert_string_equal(s, out);
	assert_int_equal(len, strlen(out));
}

/* A top-level scalar is a whole document; `null` is one too, and yields no object. */
static void test_top_level_scalars(void **state)
{
	static const char *const docs[] = {"null", " null ", "null\n", "\tnull"};
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
		json_object *o = (json_object *)1;
		struct nh_error *err = NULL;
		assert_ok(json_parse_strict(docs[i], strlen(docs[i]), NH_JSON_DEPTH_MAX, &o, &err),
			  &err);
		assert_null(o);
	}
	assert_round_trip("true", "true");
	assert_round_trip("false ", "false");
	assert_round_trip("1", "1");
	assert_round_trip("-12", "-12");
	assert_round_trip("1.50", "1.50");
	assert_round_trip("\"s\"", "\"s\"");
	assert_round_trip(" [] ", "[]");
}

static void test_not_one_value(void **state)
{
	static const char *const docs[] = {
	    "",	    " ",	   "\n",	"nul",	     "1 2",	"{} {}",    "{}x",
	    "[] ]", "{",	   "[",		"\"s",	     "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
	    "[1,]", "/*c*/{}",	   "{}//c",	"01",	     "+1",	".5",	    "-",
	    "tru",  "{\"a\":'x'}", "\"\\x41\"", "null null", "truex",	"1e",	    "[1 2]",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++)
		assert_parse_fails(docs[i], strlen(docs[i]));
	/* The length is the document: bytes after a NUL still count, and a NUL is not white space.
	 */
	assert_parse_fails("{}\0", 3);
	assert_parse_fails("{}\0{}", 5);
	assert_parse_fails("null\0", 5);
	/* And nothing beyond the length is read. */
	_cleanup_json_ json_object *o = parse_ok("{}garbage", 2);
	assert_true(json_object_is_type(o, json_type_object));
}

static void test_white_space_around_the_value(void **state)
{
	assert_round_trip(" \t\r\n{\"a\": [1, 2]} \t\r\n", "{\"a\":[1,2]}");
}

static void test_utf8_is_validated(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
	    {"\"\xff\"", 3},	     {"\"\xc3\"", 3},	    {"\"\xe2\x84\"", 4},
	    {"{\"\xc0\xaf\":1}", 7}, {"\xef\xbb\xbf{}", 5}, /* a byte order mark is not JSON either
							     */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_parse_fails(bad[i].s, bad[i].len);
	assert_round_trip("\"é☺\xf0\x9f\x98\x80\"", "\"é☺\xf0\x9f\x98\x80\"");
}

static char *nested_arrays(int depth)
{
	char *s = xmalloc((size_t)depth * 2 + 1);
	memset(s, '[', (size_t)depth);
	memset(s + depth, ']', (size_t)depth);
	s[depth * 2] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	_cleanup_free_ char *ok = nested_arrays(NH_JSON_DEPTH_MAX);
	_cleanup_json_ json_object *o = parse_ok(ok, strlen(ok));
	assert_true(json_object_is_type(o, json_type_array));
	_cleanup_free_ char *deep = nested_arrays(NH_JSON_DEPTH_MAX + 1);
	assert_parse_fails(deep, strlen(deep));
	_cleanup_free_ char *very_deep = nested_arrays(100000);
	assert_parse_fails(very_deep, strlen(very_deep));
}

static void test_non_finite_numbers(void **state)
{
	static const char *const bad[] = {"NaN", "[1, NaN]", "{\"a\": {\"b\": Infinity}}",
					  "[-Infinity]", "{\"a\": [[1e999]]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		_cleanup_json_ json_object *o = parse_ok(bad[i], strlen(bad[i]));
		_cleanup_error_ struct nh_error *err = NULL;
		assert_error(json_check_finite(o, &err), &err, EBADMSG,
			     "invalid JSON: number is not finite");
	}
	static const char *const good[] = {"null", "1.5", "{\"a\": [1, 1e308, -0.0, \"NaN\"]}",
					   "18446744073709551615"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		_cleanup_json_ json_object *o = parse_ok(good[i], strlen(good[i]));
		struct nh_error *err = NULL;
		assert_ok(json_check_finite(o, &err), &err);
	}
}

static void test_type_labels(void **state)
{
	static const struct {
		const char *doc, *label;
	} cases[] = {
	    {"null", "null"},	 {"true", "bool"}, {"1", "number"}, {"1.5", "number"},
	    {"\"s\"", "string"}, {"{}", "object"}, {"[]", "array"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_json_ json_object *o = parse_ok(cases[i].doc, strlen(cases[i].doc));
		assert_string_equal(json_type_label(o), cases[i].label);
	}
}

/* What nodehook rewrites must come back as it was read, apart from white space. */
static void test_serialisation_keeps_what_it_read(void **state)
{
	assert_round_trip("{\"path\": \"/usr/bin/x\"}", "{\"path\":\"/usr/bin/x\"}");
	assert_round_trip("{\"z\": 1, \"a\": 2, \"m\": 3}", "{\"z\":1,\"a\":2,\"m\":3}");
	assert_round_trip("[18446744073709551615, -9223372036854775808, 9223372036854775807]",
			  "[18446744073709551615,-9223372036854775808,9223372036854775807]");
	assert_round_trip("[1.50, 1e3, 1E3, -1.0e-5, 0.1, 2.0]", "[1.50,1e3,1E3,-1.0e-5,0.1,2.0]");
	assert_round_trip("[\"a\\u0000b\", \"\\u001f\", \"tab\\there\", \"q\\\"\\\\\"]",
			  "[\"a\\u0000b\",\"\\u001f\",\"tab\\there\",\"q\\\"\\\\\"]");
	assert_round_trip("\"\\/\"", "\"/\"");
	/* Documented json-c behaviour: -0 is written as 0 (Go reads both as zero). */
	assert_round_trip("[-0]", "[0]");
}

/* Duplicate keys: the last value wins, as in Go. */
static void test_duplicate_keys(void **state)
{
	assert_round_trip("{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"a\":3,\"b\":2}");
}

/* NUL inside a string is data, not the end of it. */
static void test_nul_in_strings(void **state)
{
	static const char doc[] = "{\"k\": \"a\\u0000b\"}";
	_cleanup_json_ json_object *o = parse_ok(doc, sizeof(doc) - 1);
	json_object *v = NULL;
	assert_true(json_object_object_get_ex(o, "k", &v));
	assert_int_equal(json_object_get_string_len(v), 3);
	assert_memory_equal(json_object_get_string(v), "a\0b", 3);
}

static void test_scan_nul(void **state)
{
	static const struct {
		const char *text;
		bool in_key, in_value;
	} cases[] = {
	    {"{\"a\": \"b\"}", false, false},
	    {"{\"a\\u0000b\": 1}", true, false},
	    {"{\"a\\u0000b\" \n : 1}", true, false},
	    {"{\"a\": \"b\\u0000\"}", false, true},
	    {"[\"\\u0000\"]", false, true},
	    {"{\"a\": \"\\\\u0000\"}", false, false}, /* an escaped backslash, then text */
	    {"{\"a\\\"\\u0000\": 1}", true, false},   /* \" does not end the key */
	    {"{\"a\": \"\\u00001\"}", false, true},
	    {"{\"a\": \"\\u0001\"}", false, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		bool k = true, v = true;
		json_scan_nul(cases[i].text, strlen(cases[i].text), &k, &v);
		if (k != cases[i].in_key || v != cases[i].in_value)
			fail_msg("%s: key %d value %d", cases[i].text, k, v);
	}
}

int main(void)
{
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_top_level_scalars);
	tu_suite_add_test(&s, test_not_one_value);
	tu_suite_add_test(&s, test_white_space_around_the_value);
	tu_suite_add_test(&s, test_utf8_is_validated);
	tu_suite_add_test(&s, test_depth_limit);
	tu_suite_add_test(&s, test_non_finite_numbers);
	tu_suite_add_test(&s, test_type_labels);
	tu_suite_add_test(&s, test_serialisation_keeps_what_it_read);
	tu_suite_add_test(&s, test_duplicate_keys);
	tu_suite_add_test(&s, test_nul_in_strings);
	tu_suite_add_test(&s, test_scan_nul);
	return tu_suite_run(&s, "json_util");
}
