/* hooks_dir: which hooks.d files are in effect for a list of directories, and in which order.
 *
 * Every case gets a fresh tree under /tmp: <root>/usr (lower precedence) and <root>/etc (higher).
 * A hook file's args[0] names the file it came from, so that a test can tell which copy of a
 * name won. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "cleanup.h"
#include "hooks_set.h"
#include "xalloc.h"

struct tree {
	char *root, *usr, *etc;
	const char *dirs[2]; /* usr, etc: increasing precedence */
};

static int tree_setup(void **state)
{
	struct tree *t = xcalloc(1, sizeof(*t));
	t->root = tu_mkdtemp();
	t->usr = tu_path(t->root, "usr");
	t->etc = tu_path(t->root, "etc");
	assert_int_equal(mkdir(t->usr, 0755), 0);
	assert_int_equal(mkdir(t->etc, 0755), 0);
	t->dirs[0] = t->usr;
	t->dirs[1] = t->etc;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	tu_rm_rf(t->root);
	free(t->root);
	free(t->usr);
	free(t->etc);
	free(t);
	return 0;
}

/* A valid hook file whose args[0] is id. */
static void put_hook(const char *dir, const char *name, const char *id)
{
	_cleanup_free_ char *json =
	    xasprintf("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"%s\", "
		      "\"args\": [\"%s\"]}, \"when\": {\"always\": true}, "
		      "\"stages\": [\"prestart\"]}",
		      TU_HOOK_PATH, id);
	free(tu_write_file(dir, name, json, strlen(json)));
}

static void put_text(const char *dir, const char *name, const char *text)
{
	free(tu_write_file(dir, name, text, strlen(text)));
}

static struct hooks_set *load_ok(const char *const *dirs, size_t n, enum hooks_load_mode mode)
{
	struct hooks_set *set = NULL;
	struct nh_error *err = NULL;
	assert_ok(hooks_set_load(dirs, n, mode, NULL, &set, &err), &err);
	assert_non_null(set);
	return set;
}

/* The set as "name:id name:id ...", in injection order. */
static char *describe(const struct hooks_set *set)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < set->n; i++) {
		const struct hook_file *h = set->files[i];
		char *next = xasprintf("%s%s%s:%s", s, i ? " " : "", h->name,
				       h->hook.args ? h->hook.args[0] : "-");
		free(s);
		s = next;
	}
	return s;
}

static void assert_set(const struct hooks_set *set, const char *want)
{
	_cleanup_free_ char *got = describe(set);
	assert_string_equal(got, want);
}

/* The tree holds one invalid file, failing with errnum and message want: a strict load fails
 * with that error, a skipping load reports it and leaves in_effect. */
static void assert_one_invalid(const struct tree *t, int errnum, const char *want,
			       const char *in_effect)
{
	struct hooks_set *strict = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(hooks_set_load(t->dirs, 2, HOOKS_LOAD_STRICT, NULL, &strict, &err), &err,
		     errnum, want);
	assert_null(strict);

	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_SKIP_INVALID);
	assert_set(set, in_effect);
	assert_int_equal(set->n_skipped, 1);
	assert_string_equal(set->skipped[0]->msg, want);
}

static void test_later_directory_wins_by_base_name(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	put_hook(t->usr, "20-b.json", "usr-b");
	put_hook(t->etc, "10-a.json", "etc-a");
	put_hook(t->etc, "30-c.json", "etc-c");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, "10-a.json:etc-a 20-b.json:usr-b 30-c.json:etc-c");
	assert_int_equal(set->n_skipped, 0);
	_cleanup_free_ char *path = tu_path(t->etc, "10-a.json");
	assert_string_equal(set->files[0]->path, path);

	/* The order of the list is the precedence: reversed, /usr wins. */
	const char *reversed[] = {t->etc, t->usr};
	_cleanup_hooks_set_ struct hooks_set *rev = load_ok(reversed, 2, HOOKS_LOAD_STRICT);
	assert_set(rev, "10-a.json:usr-a 20-b.json:usr-b 30-c.json:etc-c");
}

/* Names are keys as they are: a.json and A.json are two files. */
static void test_masking_is_case_sensitive(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "a.json", "usr");
	put_hook(t->etc, "A.json", "etc");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, "A.json:etc a.json:usr");
}

/* An invalid file does not mask: with SKIP_INVALID the lower file of that name is in effect and
 * the invalid one is reported. */
static void test_invalid_file_does_not_mask_when_skipping(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	put_hook(t->usr, "20-b.json", "usr-b");
	put_text(t->etc, "10-a.json",
		 "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, "
		 "\"stages\": [\"precreate\"]}");
	put_text(t->etc, "20-b.json", "{not json");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_SKIP_INVALID);
	assert_set(set, "10-a.json:usr-a 20-b.json:usr-b");
	assert_int_equal(set->n_skipped, 2);
	_cleanup_free_ char *want0 = xasprintf("%s/10-a.json: unknown stage \"precreate\"", t->etc);
	assert_string_equal(set->skipped[0]->msg, want0);
	_cleanup_free_ char *want1 = xasprintf("%s/20-b.json: invalid JSON at byte ", t->etc);
	assert_true(strncmp(set->skipped[1]->msg, want1, strlen(want1)) == 0);
}

/* In STRICT mode an invalid file fails the whole load, naming the file. */
static void test_invalid_file_fails_strict_load(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	put_text(t->etc, "10-a.json",
		 "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, "
		 "\"stages\": [\"precreate\"]}");
	_cleanup_free_ char *want = xasprintf("%s/10-a.json: unknown stage \"precreate\"", t->etc);
	assert_one_invalid(t, EINVAL, want, "10-a.json:usr-a");
}

/* A missing hook binary is an invalid file like any other. */
static void test_missing_hook_binary(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	put_text(t->etc, "10-a.json",
		 "{\"version\": \"1.0.0\", \"hook\": {\"path\": "
		 "\"/nonexistent/hook\"}, \"stages\": []}");
	_cleanup_free_ char *want = xasprintf(
	    "%s/10-a.json: faccessat /nonexistent/hook: no such file or directory", t->etc);

	assert_one_invalid(t, ENOENT, want, "10-a.json:usr-a");
}

/* A valid higher file masks an invalid lower one, which is not even read. */
static void test_valid_file_masks_invalid_lower_one(void **state)
{
	struct tree *t = *state;
	put_text(t->usr, "10-a.json", "garbage");
	put_hook(t->etc, "10-a.json", "etc-a");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, "10-a.json:etc-a");
	assert_int_equal(set->n_skipped, 0);
}

/* Removing the masking file brings the lower one back on the next load. */
static void test_unmasking_on_reload(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	put_hook(t->etc, "10-a.json", "etc-a");
	_cleanup_hooks_set_ struct hooks_set *before = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(before, "10-a.json:etc-a");
	_cleanup_free_ char *path = tu_path(t->etc, "10-a.json");
	assert_int_equal(unlink(path), 0);
	_cleanup_hooks_set_ struct hooks_set *after = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(after, "10-a.json:usr-a");
}

/* Only names ending in ".json", case-sensitive, are hook files; the rest is never read. */
static void test_only_json_names_are_read(void **state)
{
	struct tree *t = *state;
	static const char *const ignored[] = {"a.JSON",	 "README", "b.json.bak", "c.jsonx",
					      "d.json~", "json",   "e.Json",	 "f.json.rpmnew"};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(*ignored); i++)
		put_text(t->etc, ignored[i], "not a hook");
	put_hook(t->etc, "x.json", "x");
	put_hook(t->etc, ".json", "hidden");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, ".json:hidden x.json:x");
}

static void test_missing_directories_are_ignored(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	_cleanup_free_ char *missing = tu_path(t->root, "nonexistent");
	_cleanup_free_ char *dangling = tu_path(t->root, "dangling");
	assert_int_equal(symlink("/nonexistent/nodehook", dangling), 0);
	const char *dirs[] = {missing, t->usr, dangling, "/nonexistent/nodehook/hooks.d"};
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(dirs, 4, HOOKS_LOAD_STRICT);
	assert_set(set, "10-a.json:usr-a");

	_cleanup_hooks_set_ struct hooks_set *none = load_ok(dirs, 0, HOOKS_LOAD_STRICT);
	assert_int_equal(none->n, 0);
}

static void test_directory_symlink_is_followed(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	_cleanup_free_ char *link = tu_path(t->root, "link");
	assert_int_equal(symlink(t->usr, link), 0);
	const char *dirs[] = {link};
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(dirs, 1, HOOKS_LOAD_STRICT);
	assert_set(set, "10-a.json:usr-a");
}

/* A hooks "directory" that is a regular file is an error in both modes. */
static void test_directory_that_is_a_file(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ char *file = tu_write_file(t->root, "file", "x", 1);
	const char *dirs[] = {t->usr, file};
	_cleanup_free_ char *want = xasprintf("hooks directory %s: Not a directory", file);
	enum hooks_load_mode modes[] = {HOOKS_LOAD_STRICT, HOOKS_LOAD_SKIP_INVALID};
	for (size_t i = 0; i < 2; i++) {
		struct hooks_set *set = NULL;
		_cleanup_error_ struct nh_error *err = NULL;
		assert_error(hooks_set_load(dirs, 2, modes[i], NULL, &set, &err), &err, ENOTDIR,
			     want);
		assert_null(set);
	}
}

/* A *.json symlink whose target is gone is skipped silently, in both modes. */
static void test_dangling_symlink_is_skipped(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	_cleanup_free_ char *link = tu_path(t->etc, "10-a.json");
	assert_int_equal(symlink("/nonexistent/nodehook.json", link), 0);
	_cleanup_free_ char *other = tu_path(t->etc, "20-b.json");
	assert_int_equal(symlink("20-b-target.json", other), 0);

	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	/* Skipped means absent: it does not mask the lower file either. */
	assert_set(set, "10-a.json:usr-a");
	_cleanup_hooks_set_ struct hooks_set *skip = load_ok(t->dirs, 2, HOOKS_LOAD_SKIP_INVALID);
	assert_set(skip, "10-a.json:usr-a");
	assert_int_equal(skip->n_skipped, 0);
}

/* A symlink to a valid file loads under the link's name. */
static void test_file_symlink_is_followed(void **state)
{
	struct tree *t = *state;
	put_hook(t->root, "shared.json", "shared");
	_cleanup_free_ char *target = tu_path(t->root, "shared.json");
	_cleanup_free_ char *link = tu_path(t->etc, "50-link.json");
	assert_int_equal(symlink(target, link), 0);
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, "50-link.json:shared");
}

/* A *.json directory is a read error. */
static void test_json_directory_is_an_error(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-a.json", "usr-a");
	_cleanup_free_ char *dir = tu_path(t->etc, "10-a.json");
	assert_int_equal(mkdir(dir, 0755), 0);
	_cleanup_free_ char *want = xasprintf("%s: read: Is a directory", dir);

	assert_one_invalid(t, EISDIR, want, "10-a.json:usr-a");
}

/* Injection order: names compared after lowercasing, as bytes; ties by the raw name. */
static void test_order_by_lowercased_name(void **state)
{
	struct tree *t = *state;
	put_hook(t->usr, "10-gamma.json", "g");
	put_hook(t->etc, "10-Beta.json", "B");
	put_hook(t->usr, "10-alpha.json", "a");
	put_hook(t->usr, "10-beta.json", "b");
	put_hook(t->etc, "9.json", "9");
	put_hook(t->etc, "10_z.json", "_");
	put_hook(t->usr, "10-ALPHA0.json", "A0");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_STRICT);
	assert_set(set, "10-alpha.json:a 10-ALPHA0.json:A0 10-Beta.json:B 10-beta.json:b "
			"10-gamma.json:g 10_z.json:_ 9.json:9");
}

static void test_sort_key(void **state)
{
	static const char *const cases[][2] = {
	    {"10-Beta.json", "10-beta.json"},
	    {"10-\xc3\x89\x7a.json", "10-\xc3\xa9\x7a.json"}, /* É -> é */
	    {"\xce\xa3IGMA", "\xcf\x83igma"},		      /* Σ -> σ */
	    {"a\xff\x62", "a\xef\xbf\xbd\x62"},		      /* an invalid byte reads as U+FFFD */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},	      /* an overlong '/' too, per byte */
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *key = hooks_sort_key(cases[i][0]);
		assert_string_equal(key, cases[i][1]);
		free(key);
	}
}

static void test_name_compare(void **state)
{
	static const struct {
		const char *a, *b;
		int sign;
	} cases[] = {
	    {"10-alpha.json", "10-Beta.json", -1},
	    {"10-Beta.json", "10-gamma.json", -1},
	    {"10-Beta.json", "10-beta.json", -1}, /* a tie after lowercasing: raw bytes */
	    {"a.json", "a.json", 0},
	    {"a.json", "a.json.json", -1},
	    {"Z.json", "a.json", 1},	    /* 'z' > 'a' once lowered, though 'Z' < 'a' in bytes */
	    {"_.json", "a.json", -1},	    /* '_' (0x5f) < 'a' */
	    {"_.json", "A.json", -1},	    /* and 'A' is compared as 'a' */
	    {"\xc3\x89.json", "z.json", 1}, /* 'É' is lowered to 'é', still after 'z' */
	    /* Go's strings.ToLower lowers every letter: "10-Éz" < "10-éa" in bytes, but not once
	     * lowered */
	    {"10-\xc3\x89\x7a.json", "10-\xc3\xa9\x61.json", 1},
	    {"\xce\xa3.json", "\xcf\x83.json", -1}, /* 'Σ' ties with 'σ': raw bytes decide */
	    {"", "a", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int r = hooks_name_compare(cases[i].a, cases[i].b);
		int sign = (r > 0) - (r < 0);
		if (sign != cases[i].sign)
			fail_msg("compare(%s, %s) = %d, want sign %d", cases[i].a, cases[i].b, r,
				 cases[i].sign);
		int back = hooks_name_compare(cases[i].b, cases[i].a);
		assert_int_equal((back > 0) - (back < 0), -cases[i].sign);
	}
}

/* Which invalid file a STRICT load reports, and the order of skipped files, must not depend on
 * the directory's on-disk order: the listing is read in name order, as upstream's is. */
static void test_errors_come_in_name_order(void **state)
{
	struct tree *t = *state;
	for (int i = 20; i >= 1; i--) {
		_cleanup_free_ char *name = xasprintf("%02d-bad.json", i);
		put_text(t->etc, name, "{}");
	}
	struct hooks_set *strict = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *want =
	    xasprintf("%s/01-bad.json: 0.1.0: missing required property: hook", t->etc);
	assert_error(hooks_set_load(t->dirs, 2, HOOKS_LOAD_STRICT, NULL, &strict, &err), &err,
		     EINVAL, want);

	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_SKIP_INVALID);
	assert_int_equal(set->n, 0);
	assert_int_equal(set->n_skipped, 20);
	for (size_t i = 0; i < set->n_skipped; i++) {
		_cleanup_free_ char *prefix = xasprintf("%s/%02zu-bad.json: ", t->etc, i + 1);
		if (strncmp(set->skipped[i]->msg, prefix, strlen(prefix)) != 0)
			fail_msg("skipped[%zu] is '%s', want it to start with '%s'", i,
				 set->skipped[i]->msg, prefix);
	}
}

/* Higher-precedence directories are read first: their errors come first. */
static void test_skipped_order_across_directories(void **state)
{
	struct tree *t = *state;
	put_text(t->usr, "a.json", "{}");
	put_text(t->etc, "b.json", "{}");
	_cleanup_hooks_set_ struct hooks_set *set = load_ok(t->dirs, 2, HOOKS_LOAD_SKIP_INVALID);
	assert_int_equal(set->n_skipped, 2);
	_cleanup_free_ char *first = xasprintf("%s/b.json: ", t->etc);
	_cleanup_free_ char *second = xasprintf("%s/a.json: ", t->usr);
	assert_true(strncmp(set->skipped[0]->msg, first, strlen(first)) == 0);
	assert_true(strncmp(set->skipped[1]->msg, second, strlen(second)) == 0);
}

int main(void)
{
	struct tu_suite s = {0};
#define ADD(f) tu_suite_add_fixture(&s, f, tree_setup, tree_teardown)
	ADD(test_later_directory_wins_by_base_name);
	ADD(test_masking_is_case_sensitive);
	ADD(test_invalid_file_does_not_mask_when_skipping);
	ADD(test_invalid_file_fails_strict_load);
	ADD(test_missing_hook_binary);
	ADD(test_valid_file_masks_invalid_lower_one);
	ADD(test_unmasking_on_reload);
	ADD(test_only_json_names_are_read);
	ADD(test_missing_directories_are_ignored);
	ADD(test_directory_symlink_is_followed);
	ADD(test_directory_that_is_a_file);
	ADD(test_dangling_symlink_is_skipped);
	ADD(test_file_symlink_is_followed);
	ADD(test_json_directory_is_an_error);
	ADD(test_order_by_lowercased_name);
	ADD(test_errors_come_in_name_order);
	ADD(test_skipped_order_across_directories);
#undef ADD
	tu_suite_add_test(&s, test_sort_key);
	tu_suite_add_test(&s, test_name_compare);
	return tu_suite_run(&s, "hooks_dir");
}
