/* hooks_match: the AND/OR tables of hook_when_match() from data/when.test, then hooks_match()
 * over a set: stage mapping, order within a file and across files, any_matched, errors. */
#include <errno.h>
#include <string.h>

#include "test-util.h"

#include "cleanup.h"
#include "hooks_match.h"
#include "json_util.h"
#include "xalloc.h"

/* container_facts and the storage behind them. */
struct facts {
	struct container_facts f;
	json_object *doc; /* owns the strings */
	const char **keys, **values;
	size_t *key_lens, *value_lens;
};

static void facts_clear(struct facts *c)
{
	json_object_put(c->doc);
	free(c->keys);
	free(c->values);
	free(c->key_lens);
	free(c->value_lens);
	*c = (struct facts){0};
}

/* {"annotations": {...}, "bind": bool, "args": [...]}: see data/when.test. */
static void facts_parse(struct facts *c, const char *json)
{
	*c = (struct facts){0};
	struct nh_error *err = NULL;
	assert_ok(json_parse_strict(json, strlen(json), NH_JSON_DEPTH_MAX, &c->doc, &err), &err);
	assert_non_null(c->doc);
	json_object *v = NULL;
	if (json_object_object_get_ex(c->doc, "annotations", &v)) {
		size_t n = (size_t)json_object_object_length(v);
		c->keys = xcalloc(n + 1, sizeof(*c->keys));
		c->values = xcalloc(n + 1, sizeof(*c->values));
		c->key_lens = xcalloc(n + 1, sizeof(*c->key_lens));
		c->value_lens = xcalloc(n + 1, sizeof(*c->value_lens));
		json_object_object_foreach (v, key, val) {
			c->keys[c->f.n_annotations] = key;
			c->key_lens[c->f.n_annotations] = strlen(key);
			c->values[c->f.n_annotations] = json_object_get_string(val);
			c->value_lens[c->f.n_annotations] = (size_t)json_object_get_string_len(val);
			c->f.n_annotations++;
		}
	}
	c->f.annotation_keys = c->keys;
	c->f.annotation_values = c->values;
	c->f.annotation_key_lens = c->key_lens;
	c->f.annotation_value_lens = c->value_lens;
	if (json_object_object_get_ex(c->doc, "bind", &v))
		c->f.has_bind_mounts = json_object_get_boolean(v);
	if (json_object_object_get_ex(c->doc, "args", &v)) {
		c->f.has_process = true;
		if (json_object_array_length(v) > 0) {
			json_object *a0 = json_object_array_get_idx(v, 0);
			c->f.arg0 = json_object_get_string(a0);
			c->f.arg0_len = (size_t)json_object_get_string_len(a0);
		}
	}
}

static void facts_clearp(struct facts *c)
{
	facts_clear(c);
}

#define _cleanup_facts_ _cleanup_(facts_clearp)

/* The hook file a record's first line describes. */
static struct hook_file *record_hook(const struct tu_record *rec)
{
	const char *line = rec->lines[0];
	if (strncmp(line, "when ", 5) == 0) {
		_cleanup_free_ char *json =
		    xasprintf("{\"version\": \"1.0.0\", \"hook\": {\"path\": "
			      "\"%s\"}, \"when\": %s, \"stages\": "
			      "[\"prestart\"]}",
			      TU_HOOK_PATH, line + 5);
		return tu_hook("when.json", json);
	}
	if (strncmp(line, "file ", 5) == 0)
		return tu_hook("file.json", line + 5);
	fail_msg("%s: expected 'when <json>' or 'file <json>'", rec->where);
	return NULL;
}

static char *check_row(const char *row, void *ctx)
{
	const struct hook_file *h = ctx;
	_cleanup_free_ char *container = NULL, *want = NULL;
	if (tu_split_arrow(row, &container, &want) < 0)
		return xstrdup("expected '<container> => <outcome>'");
	_cleanup_facts_ struct facts c = {0};
	facts_parse(&c, container);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = hook_when_match(&h->when, &c.f, &err);
	if (strncmp(want, "error ", 6) == 0) {
		if (r >= 0)
			return xasprintf("got %s, want an error", r ? "match" : "nomatch");
		if (!err || r != -err->errnum || strcmp(err->msg, want + 6) != 0)
			return xasprintf("got error '%s', want '%s'", err ? err->msg : "(none)",
					 want + 6);
		return NULL;
	}
	if (r < 0)
		return xasprintf("unexpected error: %s", err ? err->msg : "(none)");
	if (err)
		return xasprintf("error set on success: %s", err->msg);
	const char *got = r ? "match" : "nomatch";
	if (strcmp(got, want) != 0)
		return xasprintf("got %s, want %s", got, want);
	return NULL;
}

static void test_record(void **state)
{
	const struct tu_record *rec = *state;
	_cleanup_hook_file_ struct hook_file *h = record_hook(rec);
	if (rec->n_lines < 2)
		fail_msg("%s: no container rows", rec->where);
	tu_check_lines(rec, 1, check_row, h);
}

/* --- hooks_match over a set ------------------------------------------------------------- */

/* A set made of files given as (name, json) pairs, in the order given. */
static struct hooks_set *make_set(size_t n, const char *const *pairs)
{
	struct hooks_set *set = xcalloc(1, sizeof(*set));
	set->files = xcalloc(n, sizeof(*set->files));
	for (size_t i = 0; i < n; i++)
		set->files[set->n++] = tu_hook(pairs[2 * i], pairs[2 * i + 1]);
	return set;
}

/* A 1.0.0 file matching when `when` holds, for the given stages, args[0] = its name. */
static char *hook_json(const char *name, const char *when, const char *stages)
{
	return xasprintf(
	    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"%s\", \"args\": [\"%s\"]}, "
	    "\"when\": %s, \"stages\": %s}",
	    TU_HOOK_PATH, name, when, stages);
}

/* The hooks of one stage as "name name ...", from their args[0]. */
static char *stage_list(const struct hooks_result *r, enum oci_stage s)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < r->n_by_stage[s]; i++) {
		char *next = xasprintf("%s%s%s", out, i ? " " : "", r->by_stage[s][i]->args[0]);
		free(out);
		out = next;
	}
	return out;
}

static void assert_stage(const struct hooks_result *r, enum oci_stage s, const char *want)
{
	_cleanup_free_ char *got = stage_list(r, s);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", oci_stage_to_string(s), got, want);
}

struct set_case {
	const char *container;
	enum prestart_mapping prestart;
	/* expected args[0] lists, by stage */
	const char *want[OCI_STAGE__MAX];
	bool any_matched;
};

static void run_set_case(const struct hooks_set *set, const struct set_case *c)
{
	_cleanup_facts_ struct facts f = {0};
	facts_parse(&f, c->container);
	struct hooks_result res = {0};
	struct nh_error *err = NULL;
	assert_ok(hooks_match(set, &f.f, c->prestart, &res, &err), &err);
	for (int s = 0; s < OCI_STAGE__MAX; s++)
		assert_stage(&res, (enum oci_stage)s, c->want[s] ? c->want[s] : "");
	assert_int_equal(res.any_matched, c->any_matched);
	hooks_result_clear(&res);
	assert_int_equal(res.n_by_stage[OCI_STAGE_CREATE_RUNTIME], 0);
}

static void free_set(struct hooks_set **s)
{
	*s = hooks_set_free(*s);
}

#define _cleanup_set_ _cleanup_(free_set)

/* hooks.d prestart goes to createRuntime by default (CRI-O >= 1.31, Podman >= 5), or stays
 * prestart with the old mapping; createRuntime is createRuntime either way. */
static void test_prestart_mapping(void **state)
{
	_cleanup_free_ char *a = hook_json("a", "{\"always\": true}", "[\"prestart\"]");
	_cleanup_free_ char *b = hook_json("b", "{\"always\": true}", "[\"createRuntime\"]");
	_cleanup_free_ char *c = hook_json("c", "{\"always\": true}", "[\"prestart\"]");
	const char *files[] = {"a.json", a, "b.json", b, "c.json", c};
	_cleanup_set_ struct hooks_set *set = make_set(3, files);
	run_set_case(set, &(struct set_case){
			      .container = "{}",
			      .prestart = PRESTART_AS_CREATE_RUNTIME,
			      .want = {[OCI_STAGE_CREATE_RUNTIME] = "a b c"},
			      .any_matched = true,
			  });
	run_set_case(set,
		     &(struct set_case){
			 .container = "{}",
			 .prestart = PRESTART_AS_PRESTART,
			 .want = {[OCI_STAGE_PRESTART] = "a c", [OCI_STAGE_CREATE_RUNTIME] = "b"},
			 .any_matched = true,
		     });
}

/* A file's stages are processed in the order listed; a repeated stage appends twice. */
static void test_stage_order_within_a_file(void **state)
{
	_cleanup_free_ char *a = hook_json("a", "{\"always\": true}",
					   "[\"poststop\", \"createContainer\", \"prestart\", "
					   "\"createRuntime\", \"poststop\"]");
	_cleanup_free_ char *b =
	    hook_json("b", "{\"always\": true}", "[\"createRuntime\", \"prestart\"]");
	const char *files[] = {"a.json", a, "b.json", b};
	_cleanup_set_ struct hooks_set *set = make_set(2, files);
	run_set_case(set, &(struct set_case){
			      .container = "{}",
			      .want = {[OCI_STAGE_POSTSTOP] = "a a",
				       [OCI_STAGE_CREATE_CONTAINER] = "a",
				       [OCI_STAGE_CREATE_RUNTIME] = "a a b b"},
			      .any_matched = true,
			  });
}

/* Files are appended in the set's order; files that do not match are left out. */
static void test_append_order_across_files(void **state)
{
	_cleanup_free_ char *a = hook_json("a", "{\"hasBindMounts\": true}", "[\"poststart\"]");
	_cleanup_free_ char *b =
	    hook_json("b", "{\"annotations\": {\"^x$\": \"^1$\"}}", "[\"poststart\"]");
	_cleanup_free_ char *c =
	    hook_json("c", "{\"always\": true}", "[\"poststart\", \"startContainer\"]");
	const char *files[] = {"a.json", a, "b.json", b, "c.json", c};
	_cleanup_set_ struct hooks_set *set = make_set(3, files);
	run_set_case(
	    set, &(struct set_case){
		     .container = "{\"bind\": true, \"annotations\": {\"x\": \"1\"}}",
		     .want = {[OCI_STAGE_POSTSTART] = "a b c", [OCI_STAGE_START_CONTAINER] = "c"},
		     .any_matched = true,
		 });
	run_set_case(set,
		     &(struct set_case){
			 .container = "{\"annotations\": {\"x\": \"1\"}}",
			 .want = {[OCI_STAGE_POSTSTART] = "b c", [OCI_STAGE_START_CONTAINER] = "c"},
			 .any_matched = true,
		     });
}

/* A match counts even when the file names no stage; no match at all leaves it false. */
static void test_any_matched(void **state)
{
	_cleanup_free_ char *a = hook_json("a", "{\"hasBindMounts\": true}", "[]");
	_cleanup_free_ char *b = hook_json("b", "{\"always\": false}", "[\"prestart\"]");
	const char *files[] = {"a.json", a, "b.json", b};
	_cleanup_set_ struct hooks_set *set = make_set(2, files);
	run_set_case(set, &(struct set_case){.container = "{\"bind\": true}", .any_matched = true});
	run_set_case(set, &(struct set_case){.container = "{\"bind\": false}"});

	_cleanup_set_ struct hooks_set *empty = make_set(0, NULL);
	run_set_case(empty, &(struct set_case){.container = "{}"});
}

/* The result lends the set's hook objects: nothing is copied. */
static void test_result_lends_the_set_hooks(void **state)
{
	_cleanup_free_ char *a =
	    hook_json("a", "{\"always\": true}", "[\"prestart\", \"poststop\"]");
	const char *files[] = {"a.json", a};
	_cleanup_set_ struct hooks_set *set = make_set(1, files);
	_cleanup_facts_ struct facts f = {0};
	facts_parse(&f, "{}");
	struct hooks_result res = {0};
	struct nh_error *err = NULL;
	assert_ok(hooks_match(set, &f.f, PRESTART_AS_CREATE_RUNTIME, &res, &err), &err);
	assert_ptr_equal(res.by_stage[OCI_STAGE_CREATE_RUNTIME][0], &set->files[0]->hook);
	assert_ptr_equal(res.by_stage[OCI_STAGE_POSTSTOP][0], &set->files[0]->hook);
	hooks_result_clear(&res);
}

/* An error in one file fails the whole match, names the file, and returns no result. */
static void test_error_names_the_file(void **state)
{
	_cleanup_free_ char *a = hook_json("a", "{\"always\": true}", "[\"prestart\"]");
	_cleanup_free_ char *b =
	    hook_json("b", "{\"commands\": [\"^/usr/bin/app$\"]}", "[\"prestart\"]");
	const char *files[] = {"hooks.d/a.json", a, "/etc/x/\"b\".json", b};
	_cleanup_set_ struct hooks_set *set = make_set(2, files);
	_cleanup_facts_ struct facts f = {0};
	facts_parse(&f, "{\"args\": []}");
	struct hooks_result res = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(hooks_match(set, &f.f, PRESTART_AS_CREATE_RUNTIME, &res, &err), &err, EINVAL,
		     "matching hook \"/etc/x/\\\"b\\\".json\": process.args must have at least one "
		     "entry");
	for (int s = 0; s < OCI_STAGE__MAX; s++) {
		assert_int_equal(res.n_by_stage[s], 0);
		assert_null(res.by_stage[s]);
	}
	assert_false(res.any_matched);
}

/* Compiled once, matched for many containers: answers do not leak between calls. */
static void test_matching_is_repeatable(void **state)
{
	_cleanup_hook_file_ struct hook_file *h = tu_hook(
	    "x.json", "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"when\": "
		      "{\"annotations\": {\"^team$\": \"^rt$\"}}, \"stages\": []}");
	_cleanup_facts_ struct facts yes = {0}, no = {0};
	facts_parse(&yes, "{\"annotations\": {\"team\": \"rt\"}}");
	facts_parse(&no, "{\"annotations\": {\"team\": \"rtx\"}}");
	struct nh_error *err = NULL;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(hook_when_match(&h->when, &yes.f, &err), 1);
		assert_int_equal(hook_when_match(&h->when, &no.f, &err), 0);
	}
	assert_null(err);
}

/* Annotation values are byte ranges: a NUL inside does not end them. */
static void test_annotation_values_with_nul(void **state)
{
	_cleanup_hook_file_ struct hook_file *h = tu_hook(
	    "x.json", "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"when\": "
		      "{\"annotations\": {\"^k$\": \"^a\\\\x00b$\"}}, \"stages\": []}");
	_cleanup_facts_ struct facts f = {0};
	facts_parse(&f, "{\"annotations\": {\"k\": \"a\\u0000b\"}}");
	struct nh_error *err = NULL;
	assert_int_equal(hook_when_match(&h->when, &f.f, &err), 1);
	f.value_lens[0] = 1; /* "a" */
	assert_int_equal(hook_when_match(&h->when, &f.f, &err), 0);
	assert_null(err);
}

int main(void)
{
	struct tu_suite s = {0};
	tu_suite_add_records(&s, "when.test", test_record);
	tu_suite_add_test(&s, test_prestart_mapping);
	tu_suite_add_test(&s, test_stage_order_within_a_file);
	tu_suite_add_test(&s, test_append_order_across_files);
	tu_suite_add_test(&s, test_any_matched);
	tu_suite_add_test(&s, test_result_lends_the_set_hooks);
	tu_suite_add_test(&s, test_error_names_the_file);
	tu_suite_add_test(&s, test_matching_is_repeatable);
	tu_suite_add_test(&s, test_annotation_values_with_nul);
	return tu_suite_run(&s, "hooks_match");
}
