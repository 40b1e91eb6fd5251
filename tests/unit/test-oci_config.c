/* oci_config: config.json facts, annotation overrides, injection and round-trip preservation.
 * data/inject.test holds config.json + hooks.d files -> config.json records; this file checks the
 * facts nodehook reads, and loading from a file. */
#include <errno.h>
#include <string.h>

#include "test-util.h"

#include "cleanup.h"
#include "hooks_inject.h"
#include "hooks_match.h"
#include "json_util.h"
#include "oci_config.h"
#include "xalloc.h"

static struct oci_config *parse_ok(const char *json)
{
	struct oci_config *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(oci_config_parse(json, strlen(json), &c, &err), &err);
	assert_non_null(c);
	return c;
}

static void free_set(struct hooks_set **s)
{
	*s = hooks_set_free(*s);
}

/* Splits "word rest" at the first space. */
static const char *after_word(const char *line, const char *word)
{
	size_t n = strlen(word);
	return strncmp(line, word, n) == 0 && line[n] == ' ' ? line + n + 1 : NULL;
}

/* Runs a record: returns the output, or the error message prefixed with "error ". */
static char *run_record(const struct tu_record *rec, const char **ret_want)
{
	_cleanup_(free_set) struct hooks_set *set = xcalloc(1, sizeof(*set));
	const char *config = NULL;
	enum prestart_mapping prestart = PRESTART_AS_CREATE_RUNTIME;
	_cleanup_strv_ char **overrides = xcalloc(rec->n_lines + 1, sizeof(char *));
	size_t n_overrides = 0;
	*ret_want = NULL;
	for (size_t i = 0; i < rec->n_lines; i++) {
		const char *line = rec->lines[i], *rest;
		if ((rest = after_word(line, "hook"))) {
			const char *sp = strchr(rest, ' ');
			if (!sp)
				fail_msg("%s: hook <name> <json>", rec->where);
			_cleanup_free_ char *name = xstrndup(rest, (size_t)(sp - rest));
			set->files = xreallocarray(set->files, set->n + 1, sizeof(*set->files));
			set->files[set->n++] = tu_hook(name, sp + 1);
		} else if ((rest = after_word(line, "annotation"))) {
			overrides[n_overrides++] = xstrdup(rest);
		} else if ((rest = after_word(line, "prestart-as"))) {
			if (strcmp(rest, "prestart") != 0)
				fail_msg("%s: prestart-as prestart", rec->where);
			prestart = PRESTART_AS_PRESTART;
		} else if ((rest = after_word(line, "config"))) {
			config = rest;
		} else if ((rest = after_word(line, "=>"))) {
			*ret_want = rest;
		} else {
			fail_msg("%s: cannot read '%s'", rec->where, line);
		}
	}
	if (!config || !*ret_want)
		fail_msg("%s: a record needs 'config' and '=>' lines", rec->where);

	_cleanup_oci_config_ struct oci_config *c = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	if (oci_config_parse(config, strlen(config), &c, &err) < 0)
		return xasprintf("error %s", err->msg);
	for (size_t i = 0; i < n_overrides; i++) {
		char *eq = strchr(overrides[i], '=');
		*eq = '\0';
		oci_config_override_annotation(c, overrides[i], eq + 1);
	}
	if (set->n > 0) {
		struct hooks_result res = {0};
		assert_ok(hooks_match(set, &c->facts, prestart, &res, &err), &err);
		int r = hooks_inject(c, &res, &err);
		hooks_result_clear(&res);
		assert_ok(r, &err);
	}
	size_t len = 0;
	const char *out = oci_config_to_string(c, &len);
	assert_int_equal(len, strlen(out));
	return xstrdup(out);
}

static void test_record(void **state)
{
	const struct tu_record *rec = *state;
	const char *want = NULL;
	_cleanup_free_ char *got = run_record(rec, &want);
	if (strcmp(got, want) != 0)
		fail_msg("%s:\n  want %s\n  got  %s", rec->where, want, got);
}

static void assert_annotations(const struct oci_config *c, size_t n, const char *const *kv)
{
	assert_int_equal(c->facts.n_annotations, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c->facts.annotation_keys[i], kv[2 * i]);
		assert_int_equal(c->facts.annotation_key_lens[i], strlen(kv[2 * i]));
		assert_string_equal(c->facts.annotation_values[i], kv[2 * i + 1]);
		assert_int_equal(c->facts.annotation_value_lens[i], strlen(kv[2 * i + 1]));
	}
}

static void test_annotation_facts(void **state)
{
	_cleanup_oci_config_ struct oci_config *c =
	    parse_ok("{\"annotations\": {\"b\": \"2\", \"a\": \"1\", \"n\": null}}");
	static const char *const want[] = {"b", "2", "a", "1", "n", ""};
	assert_annotations(c, 3, want);

	_cleanup_oci_config_ struct oci_config *none = parse_ok("{}");
	assert_int_equal(none->facts.n_annotations, 0);
}

/* A NUL inside a value is data: the length says where the value ends. */
static void test_annotation_value_with_nul(void **state)
{
	static const char doc[] = "{\"annotations\": {\"k\": \"a\\u0000b\"}}";
	_cleanup_oci_config_ struct oci_config *c = parse_ok(doc);
	assert_int_equal(c->facts.n_annotations, 1);
	assert_int_equal(c->facts.annotation_value_lens[0], 3);
	assert_memory_equal(c->facts.annotation_values[0], "a\0b", 3);
}

/* Overrides replace a value in place or add a key at the end; config.json is not changed. */
static void test_overrides(void **state)
{
	_cleanup_oci_config_ struct oci_config *c =
	    parse_ok("{\"annotations\": {\"team\": \"batch\", \"x\": \"a\\u0000b\"}}");
	oci_config_override_annotation(c, "team", "rt");
	oci_config_override_annotation(c, "x", "long value replacing a short one");
	oci_config_override_annotation(c, "pod", "p1");
	oci_config_override_annotation(c, "pod", "p2");
	static const char *const want[] = {"team", "rt", "x", "long value replacing a short one",
					   "pod",  "p2"};
	assert_annotations(c, 3, want);
	size_t len = 0;
	assert_string_equal(oci_config_to_string(c, &len),
			    "{\"annotations\":{\"team\":\"batch\",\"x\":\"a\\u0000b\"}}");

	/* An override on a config without annotations. */
	_cleanup_oci_config_ struct oci_config *bare = parse_ok("{}");
	oci_config_override_annotation(bare, "k", "");
	static const char *const one[] = {"k", ""};
	assert_annotations(bare, 1, one);
	assert_string_equal(oci_config_to_string(bare, &len), "{}");
}

static void test_process_facts(void **state)
{
	static const struct {
		const char *doc;
		bool has_process;
		const char *arg0;
	} cases[] = {
	    {"{}", false, NULL},
	    {"{\"process\": null}", false, NULL},
	    {"{\"process\": {}}", true, NULL},
	    {"{\"process\": {\"args\": null}}", true, NULL},
	    {"{\"process\": {\"args\": []}}", true, NULL},
	    {"{\"process\": {\"args\": [\"/usr/bin/app\", \"x\"]}}", true, "/usr/bin/app"},
	    {"{\"process\": {\"args\": [null, \"x\"]}}", true, ""},
	    {"{\"process\": {\"args\": [\"\"]}}", true, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_oci_config_ struct oci_config *c = parse_ok(cases[i].doc);
		assert_int_equal(c->facts.has_process, cases[i].has_process);
		if (!cases[i].arg0) {
			assert_null(c->facts.arg0);
			continue;
		}
		assert_non_null(c->facts.arg0);
		assert_string_equal(c->facts.arg0, cases[i].arg0);
		assert_int_equal(c->facts.arg0_len, strlen(cases[i].arg0));
	}
}

static void test_bind_mount_facts(void **state)
{
	static const struct {
		const char *mounts;
		bool bind;
	} cases[] = {
	    {"null", false},
	    {"[]", false},
	    {"[null]", false},
	    {"[{\"type\": \"bind\"}]", true},
	    {"[{\"type\": \"none\", \"options\": [\"bind\"]}]", true},
	    {"[{\"options\": [\"ro\", \"rbind\"]}]", true},
	    {"[{\"type\": \"proc\"}, {\"type\": \"tmpfs\", \"options\": [\"nosuid\"]}]", false},
	    {"[{\"type\": \"tmpfs\"}, {\"type\": \"x\", \"options\": [\"rbind\"]}]", true},
	    {"[{\"type\": \"Bind\", \"options\": [\"RBIND\", \"bind,ro\", \" bind\"]}]", false},
	    {"[{\"type\": 1, \"options\": [1, null, \"nosuid\"]}]", false},
	    {"[{\"options\": null}]", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_free_ char *doc = xasprintf("{\"mounts\": %s}", cases[i].mounts);
		_cleanup_oci_config_ struct oci_config *c = parse_ok(doc);
		if (c->facts.has_bind_mounts != cases[i].bind)
			fail_msg("mounts %s: has_bind_mounts %d", cases[i].mounts,
				 c->facts.has_bind_mounts);
	}
}

/* No match: inject leaves the document alone, hooks object included. */
static void test_inject_without_match_changes_nothing(void **state)
{
	_cleanup_oci_config_ struct oci_config *c = parse_ok("{\"a\": 1}");
	struct hooks_result none = {0};
	struct nh_error *err = NULL;
	assert_ok(hooks_inject(c, &none, &err), &err);
	size_t len = 0;
	assert_string_equal(oci_config_to_string(c, &len), "{\"a\":1}");
}

/* The match result as JSON: stages in runtime-spec order, empty stages left out. */
static void test_result_to_json(void **state)
{
	_cleanup_hook_file_ struct hook_file *a =
	    tu_hook("a.json",
		    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\", \"args\": [\"a\"], "
		    "\"timeout\": 3}, \"stages\": []}");
	_cleanup_hook_file_ struct hook_file *b =
	    tu_hook("b.json", "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\", \"env\": "
			      "[\"E=1\"]}, \"stages\": []}");
	const struct oci_hook *poststop[] = {&a->hook, &b->hook};
	const struct oci_hook *prestart[] = {&b->hook};
	struct hooks_result r = {
	    .by_stage = {[OCI_STAGE_POSTSTOP] = poststop, [OCI_STAGE_PRESTART] = prestart},
	    .n_by_stage = {[OCI_STAGE_POSTSTOP] = 2, [OCI_STAGE_PRESTART] = 1},
	    .any_matched = true,
	};
	_cleanup_json_ json_object *o = hooks_result_to_json(&r);
	assert_string_equal(json_to_string(o, NULL),
			    "{\"prestart\":[{\"path\":\"/bin/sh\",\"env\":[\"E=1\"]}],"
			    "\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"a\"],\"timeout\":3},"
			    "{\"path\":\"/bin/sh\",\"env\":[\"E=1\"]}]}");

	struct hooks_result empty = {.any_matched = true};
	_cleanup_json_ json_object *e = hooks_result_to_json(&empty);
	assert_string_equal(json_to_string(e, NULL), "{}");
}

static void test_load_from_file(void **state)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	static const char config[] = "{\"process\": {\"args\": [\"sh\"]}}\n";
	_cleanup_free_ char *path = tu_write_file(dir, "config.json", config, sizeof(config) - 1);
	_cleanup_oci_config_ struct oci_config *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(oci_config_load(path, &c, &err), &err);
	assert_string_equal(c->facts.arg0, "sh");

	_cleanup_free_ char *bad = tu_write_file(dir, "bad.json", "[]", 2);
	struct oci_config *none = NULL;
	_cleanup_error_ struct nh_error *e = NULL;
	_cleanup_free_ char *want = xasprintf("%s: expected a JSON object, got array", bad);
	assert_error(oci_config_load(bad, &none, &e), &e, EINVAL, want);
	assert_null(none);

	_cleanup_free_ char *missing = tu_path(dir, "missing.json");
	_cleanup_free_ char *want_missing = xasprintf("%s: No such file or directory", missing);
	assert_error(oci_config_load(missing, &none, &e), &e, ENOENT, want_missing);

	/* The size cap: NH_OCI_CONFIG_MAX bytes load, one more does not. */
	size_t len = NH_OCI_CONFIG_MAX;
	_cleanup_free_ char *big = xmalloc(len + 1);
	memset(big, ' ', len + 1);
	big[0] = '{';
	big[len - 1] = '}';
	_cleanup_free_ char *max_path = tu_write_file(dir, "max.json", big, len);
	_cleanup_oci_config_ struct oci_config *max = NULL;
	assert_ok(oci_config_load(max_path, &max, &err), &err);
	big[len - 1] = ' ';
	big[len] = '}';
	_cleanup_free_ char *over_path = tu_write_file(dir, "over.json", big, len + 1);
	_cleanup_free_ char *want_over =
	    xasprintf("%s: larger than %u bytes", over_path, (unsigned)NH_OCI_CONFIG_MAX);
	assert_error(oci_config_load(over_path, &none, &e), &e, EFBIG, want_over);
	tu_rm_rf(dir);
}

int main(void)
{
	struct tu_suite s = {0};
	tu_suite_add_records(&s, "inject.test", test_record);
	tu_suite_add_test(&s, test_annotation_facts);
	tu_suite_add_test(&s, test_annotation_value_with_nul);
	tu_suite_add_test(&s, test_overrides);
	tu_suite_add_test(&s, test_process_facts);
	tu_suite_add_test(&s, test_bind_mount_facts);
	tu_suite_add_test(&s, test_inject_without_match_changes_nothing);
	tu_suite_add_test(&s, test_result_to_json);
	tu_suite_add_test(&s, test_load_from_file);
	return tu_suite_run(&s, "oci_config");
}
