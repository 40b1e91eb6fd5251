/* hook_file: parsing, 0.1.0 conversion and validation. data/hook_file.test holds the schema
 * rules as file -> outcome records; this file adds inputs a text table cannot hold (bytes that
 * are not UTF-8, deep nesting, size limits) and hook_file_load() on real files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "cleanup.h"
#include "hook_file.h"
#include "json_util.h"
#include "utf8.h"
#include "xalloc.h"

struct strbuf {
	char *s;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *piece = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(piece);
	b->s = xrealloc(b->s, b->len + n + 1);
	memcpy(b->s + b->len, piece, n + 1);
	b->len += n;
}

static void sb_quoted(struct strbuf *b, const char *s)
{
	_cleanup_json_ json_object *o = json_object_new_string(s);
	sb_printf(b, "%s", json_to_string(o, NULL));
}

static void sb_strv(struct strbuf *b, const char *label, char **v)
{
	sb_printf(b, " %s=[", label);
	for (size_t i = 0; v[i]; i++) {
		sb_printf(b, "%s", i ? "," : "");
		sb_quoted(b, v[i]);
	}
	sb_printf(b, "]");
}

static const char *tristate(int v)
{
	return v > 0 ? "true" : "false";
}

/* The one-line summary data/hook_file.test describes. */
static char *summarize(const struct hook_file *h)
{
	struct strbuf b = {0};
	sb_printf(&b, "%s %s path=", h->version, h->when.or_mode ? "or" : "and");
	sb_quoted(&b, h->hook.path);
	if (h->hook.args)
		sb_strv(&b, "args", h->hook.args);
	if (h->hook.env)
		sb_strv(&b, "env", h->hook.env);
	if (h->hook.has_timeout)
		sb_printf(&b, " timeout=%lld", (long long)h->hook.timeout);
	if (h->when.always >= 0)
		sb_printf(&b, " always=%s", tristate(h->when.always));
	if (h->when.has_bind_mounts >= 0)
		sb_printf(&b, " hasBindMounts=%s", tristate(h->when.has_bind_mounts));
	if (h->when.annotations_set) {
		sb_printf(&b, " annotations={");
		for (size_t i = 0; i < h->when.n_annotations; i++) {
			sb_printf(&b, "%s", i ? "," : "");
			sb_quoted(&b, h->when.annotations[i].key_src);
			sb_printf(&b, ":");
			sb_quoted(&b, h->when.annotations[i].value_src);
		}
		sb_printf(&b, "}");
	}
	if (h->when.n_commands) {
		sb_printf(&b, " commands=[");
		for (size_t i = 0; i < h->when.n_commands; i++) {
			sb_printf(&b, "%s", i ? "," : "");
			sb_quoted(&b, h->when.commands[i].src);
		}
		sb_printf(&b, "]");
	}
	sb_printf(&b, " stages=[");
	for (size_t i = 0; i < h->n_stages; i++)
		sb_printf(&b, "%s\"%s\"", i ? "," : "", oci_stage_to_string(h->stages[i]));
	sb_printf(&b, "]");
	return b.s;
}

static void check_compiled(const struct hook_file *h)
{
	for (size_t i = 0; i < h->when.n_annotations; i++) {
		assert_non_null(h->when.annotations[i].key);
		assert_non_null(h->when.annotations[i].value);
	}
	for (size_t i = 0; i < h->when.n_commands; i++)
		assert_non_null(h->when.commands[i].re);
}

/* One record: content lines, then "=> ok|error|error-prefix ...". */
static void test_record(void **state)
{
	const struct tu_record *rec = *state;
	struct strbuf content = {0};
	const char *outcome = NULL;
	for (size_t i = 0; i < rec->n_lines; i++) {
		if (strncmp(rec->lines[i], "=> ", 3) == 0) {
			outcome = rec->lines[i] + 3;
			break;
		}
		sb_printf(&content, "%s\n", rec->lines[i]);
	}
	_cleanup_free_ char *text = content.s;
	if (!outcome || !text)
		fail_msg("%s: a record needs content and a '=> ' line", rec->where);

	_cleanup_hook_file_ struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = hook_file_parse("hooks.d/test.json", text, content.len, &h, &err);
	if (strncmp(outcome, "ok ", 3) == 0) {
		if (r < 0)
			fail_msg("%s: unexpected error: %s", rec->where, err->msg);
		assert_int_equal(r, 0);
		assert_null(err);
		check_compiled(h);
		assert_string_equal(h->path, "hooks.d/test.json");
		assert_string_equal(h->name, "test.json");
		_cleanup_free_ char *summary = summarize(h);
		if (strcmp(summary, outcome + 3) != 0)
			fail_msg("%s:\n  want %s\n  got  %s", rec->where, outcome + 3, summary);
		return;
	}
	bool prefix = strncmp(outcome, "error-prefix ", 13) == 0;
	if (!prefix && strncmp(outcome, "error ", 6) != 0)
		fail_msg("%s: bad outcome '%s'", rec->where, outcome);
	const char *want = outcome + (prefix ? 13 : 6);
	if (r >= 0)
		fail_msg("%s: loaded, want error '%s'", rec->where, want);
	assert_null(h);
	assert_non_null(err);
	assert_int_equal(r, -err->errnum);
	bool same =
	    prefix ? strncmp(err->msg, want, strlen(want)) == 0 : strcmp(err->msg, want) == 0;
	if (!same)
		fail_msg("%s:\n  want %s%s\n  got  %s", rec->where, want, prefix ? "..." : "",
			 err->msg);
}

static int parse(const char *content, size_t len, struct hook_file **ret, struct nh_error **err)
{
	return hook_file_parse("hooks.d/test.json", content, len, ret, err);
}

static void assert_parse_error_prefix(const char *content, size_t len, const char *prefix)
{
	struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = parse(content, len, &h, &err);
	assert_true(r < 0);
	assert_null(h);
	assert_non_null(err);
	if (strncmp(err->msg, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", err->msg, prefix);
}

/* Bytes that are not UTF-8 are a JSON error (Go would substitute U+FFFD; we refuse). */
static void test_invalid_utf8(void **state)
{
	static const char *const docs[] = {
	    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"stages\": [\"\xff\"]}",
	    "{\"hook\": \"/bin/sh\", \"stages\": [], \"\xc3\": 1}",
	    "{\"hook\": \"/bin/sh\", \"stages\": [], \"cmds\": [\"\xe2\x84\"]}",
	    "\xff{}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++)
		assert_parse_error_prefix(docs[i], strlen(docs[i]), "invalid JSON at byte ");
}

/* A NUL byte is not white space: content after the object is trailing data. */
static void test_nul_after_the_object(void **state)
{
	static const char doc[] =
	    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"stages\": []}\0";
	assert_parse_error_prefix(doc, sizeof(doc) - 1, "invalid JSON at byte ");
	struct hook_file *h = NULL;
	struct nh_error *err = NULL;
	assert_ok(parse(doc, sizeof(doc) - 2, &h, &err), &err);
	h = hook_file_free(h);
}

/* A file nested `depth` levels deep, the deepest levels under an unknown key. */
static char *nested_file(int depth)
{
	int inner = depth - 1; /* the top-level object is one level */
	char *pre = xmalloc((size_t)inner + 1), *post = xmalloc((size_t)inner + 1);
	memset(pre, '[', (size_t)inner);
	memset(post, ']', (size_t)inner);
	pre[inner] = post[inner] = '\0';
	char *s = xasprintf("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, "
			    "\"stages\": [], \"x\": %s%s}",
			    pre, post);
	free(pre);
	free(post);
	return s;
}

static void test_nesting_depth(void **state)
{
	_cleanup_free_ char *ok = nested_file(NH_JSON_DEPTH_MAX);
	struct hook_file *h = NULL;
	struct nh_error *err = NULL;
	assert_ok(parse(ok, strlen(ok), &h, &err), &err);
	h = hook_file_free(h);

	_cleanup_free_ char *deep = nested_file(NH_JSON_DEPTH_MAX + 1);
	assert_parse_error_prefix(deep, strlen(deep), "invalid JSON at byte ");
	_cleanup_free_ char *very_deep = nested_file(200000);
	assert_parse_error_prefix(very_deep, strlen(very_deep), "invalid JSON at byte ");
}

static void test_empty_content(void **state)
{
	static const char *const docs[] = {"", " ", "\n\n", "\t \r\n"};
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++)
		assert_parse_error_prefix(docs[i], strlen(docs[i]), "invalid JSON");
}

/* The base name is the file's identity; the path is kept for messages. */
static void test_name_and_path(void **state)
{
	static const char doc[] = "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, "
				  "\"stages\": []}";
	static const struct {
		const char *path, *name;
	} cases[] = {{"/etc/containers/oci/hooks.d/10-a.json", "10-a.json"},
		     {"10-a.json", "10-a.json"},
		     {"./x/Y.json", "Y.json"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_hook_file_ struct hook_file *h = NULL;
		struct nh_error *err = NULL;
		assert_ok(hook_file_parse(cases[i].path, doc, sizeof(doc) - 1, &h, &err), &err);
		assert_string_equal(h->path, cases[i].path);
		assert_string_equal(h->name, cases[i].name);
		assert_string_equal(h->version, "1.0.0");
	}
}

struct load_fixture {
	char *dir;
	int dfd;
};

static int load_setup(void **state)
{
	struct load_fixture *f = xcalloc(1, sizeof(*f));
	f->dir = tu_mkdtemp();
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int load_teardown(void **state)
{
	struct load_fixture *f = *state;
	close(f->dfd);
	tu_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static const char valid_hook[] =
    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"stages\": [\"poststop\"]}\n";

static void test_load_reads_and_parses(void **state)
{
	struct load_fixture *f = *state;
	free(tu_write_file(f->dir, "10-a.json", valid_hook, strlen(valid_hook)));
	_cleanup_hook_file_ struct hook_file *h = NULL;
	struct nh_error *err = NULL;
	struct stat st;
	int r = hook_file_load(f->dfd, f->dir, "10-a.json", &h, &st, &err);
	assert_ok(r, &err);
	assert_int_equal(r, 1);
	_cleanup_free_ char *path = tu_path(f->dir, "10-a.json");
	assert_string_equal(h->path, path);
	assert_string_equal(h->name, "10-a.json");
	assert_int_equal(h->n_stages, 1);
	assert_int_equal(h->stages[0], OCI_STAGE_POSTSTOP);
	struct stat want;
	assert_int_equal(stat(path, &want), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	assert_int_equal(st.st_size, strlen(valid_hook));
}

/* Symlinks are followed; an entry that is gone (or dangling) is skipped, not an error. */
static void test_load_symlinks_and_vanished_entries(void **state)
{
	struct load_fixture *f = *state;
	free(tu_write_file(f->dir, "real", valid_hook, strlen(valid_hook)));
	assert_int_equal(symlinkat("real", f->dfd, "link.json"), 0);
	assert_int_equal(symlinkat("/nonexistent/nodehook", f->dfd, "dangling.json"), 0);

	_cleanup_hook_file_ struct hook_file *h = NULL;
	struct nh_error *err = NULL;
	assert_int_equal(hook_file_load(f->dfd, f->dir, "link.json", &h, NULL, &err), 1);
	assert_null(err);
	assert_string_equal(h->name, "link.json");

	struct hook_file *none = NULL;
	assert_int_equal(hook_file_load(f->dfd, f->dir, "dangling.json", &none, NULL, &err), 0);
	assert_null(none);
	assert_null(err);
	assert_int_equal(hook_file_load(f->dfd, f->dir, "missing.json", &none, NULL, &err), 0);
	assert_null(none);
	assert_null(err);
}

static void test_load_directory_is_an_error(void **state)
{
	struct load_fixture *f = *state;
	assert_int_equal(mkdirat(f->dfd, "dir.json", 0755), 0);
	struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg = xasprintf("%s/dir.json: read: Is a directory", f->dir);
	assert_error(hook_file_load(f->dfd, f->dir, "dir.json", &h, NULL, &err), &err, EISDIR, msg);
	assert_null(h);
}

/* Finding 5: a FIFO in hooks.d is an invalid file, refused without blocking. */
static void test_load_fifo_is_an_error(void **state)
{
	struct load_fixture *f = *state;
	assert_int_equal(mkfifoat(f->dfd, "10-fifo.json", 0600), 0);
	struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg =
	    xasprintf("%s/10-fifo.json: not a regular file (a FIFO)", f->dir);
	alarm(30);
	assert_error(hook_file_load(f->dfd, f->dir, "10-fifo.json", &h, NULL, &err), &err, EINVAL,
		     msg);
	alarm(0);
	assert_null(h);
}

/* Errors from the parser name the file. */
static void test_load_errors_name_the_file(void **state)
{
	struct load_fixture *f = *state;
	free(tu_write_file(f->dir, "bad.json", "{\"version\": \"1.0\"}", 18));
	struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg =
	    xasprintf("%s/bad.json: unrecognized hook version: \"1.0\"", f->dir);
	assert_error(hook_file_load(f->dfd, f->dir, "bad.json", &h, NULL, &err), &err, EINVAL, msg);
}

/* Files are capped at NH_HOOK_FILE_MAX bytes: exactly the cap loads, one more byte does not. */
static void test_load_size_cap(void **state)
{
	struct load_fixture *f = *state;
	size_t len = NH_HOOK_FILE_MAX;
	_cleanup_free_ char *buf = xmalloc(len + 1);
	size_t n = strlen(valid_hook);
	memcpy(buf, valid_hook, n);
	memset(buf + n, ' ', len + 1 - n);
	free(tu_write_file(f->dir, "max.json", buf, len));
	free(tu_write_file(f->dir, "big.json", buf, len + 1));

	_cleanup_hook_file_ struct hook_file *h = NULL;
	struct nh_error *err = NULL;
	assert_int_equal(hook_file_load(f->dfd, f->dir, "max.json", &h, NULL, &err), 1);
	assert_null(err);

	struct hook_file *big = NULL;
	_cleanup_free_ char *msg =
	    xasprintf("%s/big.json: larger than %u bytes", f->dir, (unsigned)NH_HOOK_FILE_MAX);
	assert_error(hook_file_load(f->dfd, f->dir, "big.json", &big, NULL, &err), &err, EFBIG,
		     msg);
	assert_null(big);
}

static void test_stage_names(void **state)
{
	static const char *const names[OCI_STAGE__MAX] = {
	    "prestart",	      "createRuntime", "createContainer",
	    "startContainer", "poststart",     "poststop",
	};
	for (int s = 0; s < OCI_STAGE__MAX; s++) {
		assert_string_equal(oci_stage_to_string((enum oci_stage)s), names[s]);
		assert_int_equal(oci_stage_from_string(names[s]), s);
	}
	assert_int_equal(oci_stage_from_string("Prestart"), OCI_STAGE__INVALID);
	assert_int_equal(oci_stage_from_string("precreate"), OCI_STAGE__INVALID);
	assert_int_equal(oci_stage_from_string(""), OCI_STAGE__INVALID);
	assert_null(oci_stage_to_string(OCI_STAGE__MAX));
	assert_null(oci_stage_to_string(OCI_STAGE__INVALID));
}

static void test_hook_copy_is_deep(void **state)
{
	_cleanup_hook_file_ struct hook_file *h =
	    tu_hook("x.json",
		    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\", \"args\": [\"a\", "
		    "\"b\"], \"env\": [\"E=1\"], \"timeout\": 7}, \"stages\": []}");
	struct oci_hook copy = {0};
	oci_hook_copy(&copy, &h->hook);
	h = hook_file_free(h);
	assert_string_equal(copy.path, "/bin/sh");
	assert_string_equal(copy.args[0], "a");
	assert_string_equal(copy.args[1], "b");
	assert_null(copy.args[2]);
	assert_string_equal(copy.env[0], "E=1");
	assert_null(copy.env[1]);
	assert_true(copy.has_timeout);
	assert_int_equal(copy.timeout, 7);
	oci_hook_clear(&copy);
	assert_null(copy.path);
	assert_null(copy.args);

	_cleanup_hook_file_ struct hook_file *bare =
	    tu_hook("y.json",
		    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/sh\"}, \"stages\": []}");
	oci_hook_copy(&copy, &bare->hook);
	assert_null(copy.args);
	assert_null(copy.env);
	assert_false(copy.has_timeout);
	oci_hook_clear(&copy);
}

/* Messages quote names as Go's %q does, which keeps a message on one line. */
static void test_utf8_go_quote(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", "\"\""},
	    {"1.0", "\"1.0\""},
	    {"a\"b\\c", "\"a\\\"b\\\\c\""},
	    {"^cpu\\.io$", "\"^cpu\\\\.io$\""},
	    {"\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\""},
	    {"\x01\x1f\x7f", "\"\\x01\\x1f\\x7f\""},
	    {"é☺\xf0\x9f\x98\x80", "\"é☺\xf0\x9f\x98\x80\""},
	    {"\xc2\x85", "\"\\u0085\""},
	    {"\xc2\xa0", "\"\xc2\xa0\""},
	    {"a\xff"
	     "b",
	     "\"a\\xffb\""},
	    {"\xc3", "\"\\xc3\""},
	    {"\xed\xa0\x80", "\"\\xed\\xa0\\x80\""},
	    {"\xe2\x84", "\"\\xe2\\x84\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_free_ char *q = utf8_go_quote(cases[i].in);
		assert_string_equal(q, cases[i].out);
	}
}

int main(void)
{
	struct tu_suite s = {0};
	tu_suite_add_records(&s, "hook_file.test", test_record);
	tu_suite_add_test(&s, test_invalid_utf8);
	tu_suite_add_test(&s, test_nul_after_the_object);
	tu_suite_add_test(&s, test_nesting_depth);
	tu_suite_add_test(&s, test_empty_content);
	tu_suite_add_test(&s, test_name_and_path);
	tu_suite_add_test(&s, test_stage_names);
	tu_suite_add_test(&s, test_hook_copy_is_deep);
	tu_suite_add_test(&s, test_utf8_go_quote);
	tu_suite_add_fixture(&s, test_load_reads_and_parses, load_setup, load_teardown);
	tu_suite_add_fixture(&s, test_load_symlinks_and_vanished_entries, load_setup,
			     load_teardown);
	tu_suite_add_fixture(&s, test_load_directory_is_an_error, load_setup, load_teardown);
	tu_suite_add_fixture(&s, test_load_fifo_is_an_error, load_setup, load_teardown);
	tu_suite_add_fixture(&s, test_load_errors_name_the_file, load_setup, load_teardown);
	tu_suite_add_fixture(&s, test_load_size_cap, load_setup, load_teardown);
	return tu_suite_run(&s, "hook_file");
}
