#include "hook_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "json_util.h"
#include "utf8.h"
#include "xalloc.h"

/* --- Go encoding/json decoding rules ------------------------------------------------------ */

/* Go matches object keys to field names with bytes.EqualFold-like folding: ASCII case, plus the
 * two non-ASCII runes that fold to ASCII letters: U+212A KELVIN SIGN (k) and U+017F LONG S (s). */
static bool go_key_equal(const char *key, const char *field)
{
	const unsigned char *k = (const unsigned char *)key;
	for (const char *f = field; *f; f++) {
		char want = (char)(*f | 0x20);
		if (k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa && want == 'k') {
			k += 3;
			continue;
		}
		if (k[0] == 0xc5 && k[1] == 0xbf && want == 's') {
			k += 2;
			continue;
		}
		bool letter = want >= 'a' && want <= 'z';
		if (letter ? (char)(*k | 0x20) != want : (char)*k != *f)
			return false;
		k++;
	}
	return *k == '\0';
}

static int type_error(struct nh_error **err, json_object *v, const char *field, const char *want)
{
	return nh_error_set(err, EINVAL, "json: cannot unmarshal %s into field \"%s\" of type %s",
			    json_type_label(v), field, want);
}

/* string: null leaves it unchanged. */
static int decode_string(json_object *v, const char *field, char **dst, struct nh_error **err)
{
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return type_error(err, v, field, "string");
	free(*dst);
	*dst = xstrndup(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	return 0;
}

/* *string: null unsets it. */
static int decode_string_ptr(json_object *v, const char *field, char **dst, bool *set,
			     struct nh_error **err)
{
	if (!v) {
		free(*dst);
		*dst = NULL;
		*set = false;
		return 0;
	}
	int r = decode_string(v, field, dst, err);
	if (r < 0)
		return r;
	*set = true;
	return 0;
}

/* []string: null makes it nil; a null element is "". */
static int decode_strv(json_object *v, const char *field, char ***dst, struct nh_error **err)
{
	if (!v) {
		*dst = strv_free(*dst);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return type_error(err, v, field, "[]string");
	size_t n = json_object_array_length(v);
	_cleanup_strv_ char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (e && !json_object_is_type(e, json_type_string))
			return type_error(err, e, field, "string");
		out[i] =
		    e ? xstrndup(json_object_get_string(e), (size_t)json_object_get_string_len(e))
		      : xstrdup("");
	}
	strv_free(*dst);
	*dst = TAKE_PTR(out);
	return 0;
}

/* *bool: null unsets it (-1). */
static int decode_bool_ptr(json_object *v, const char *field, int *dst, struct nh_error **err)
{
	if (!v) {
		*dst = -1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return type_error(err, v, field, "bool");
	*dst = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/* *int (64-bit): null unsets it; fractions, exponents and out-of-range values are errors. */
static int decode_int_ptr(json_object *v, const char *field, bool *set, int64_t *dst,
			  struct nh_error **err)
{
	if (!v) {
		*set = false;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return type_error(err, v, field, "int");
	errno = 0;
	int64_t value = json_object_get_int64(v);
	if (errno == EINVAL || (value == INT64_MAX && json_object_get_uint64(v) > INT64_MAX))
		return nh_error_set(
		    err, EINVAL, "json: cannot unmarshal number %s into field \"%s\" of type int",
		    json_object_get_string(v), field);
	*dst = value;
	*set = true;
	return 0;
}

/* Ordered string map with Go's decoding into an existing map: entries are added or replaced,
 * never cleared, except by null, which makes the map nil. */
struct string_map {
	char **keys, **values;
	size_t n;
	bool set;
};

static void string_map_clear(struct string_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	*m = (struct string_map){0};
}

static void string_map_put(struct string_map *m, const char *key, size_t key_len, const char *value,
			   size_t value_len)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->keys[i]) == key_len && memcmp(m->keys[i], key, key_len) == 0) {
			free(m->values[i]);
			m->values[i] = xstrndup(value, value_len);
			return;
		}
	m->keys = xreallocarray(m->keys, m->n + 1, sizeof(char *));
	m->values = xreallocarray(m->values, m->n + 1, sizeof(char *));
	m->keys[m->n] = xstrndup(key, key_len);
	m->values[m->n] = xstrndup(value, value_len);
	m->n++;
}

static int decode_string_map(json_object *v, const char *field, struct string_map *m,
			     struct nh_error **err)
{
	if (!v) {
		string_map_clear(m);
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return type_error(err, v, field, "map[string]string");
	/* Type-check everything first, so that a failed decode changes nothing. */
	json_object_object_foreach (v, k0, e0) {
		(void)k0;
		if (e0 && !json_object_is_type(e0, json_type_string))
			return type_error(err, e0, field, "string");
	}
	m->set = true;
	struct lh_entry *entry;
	lh_foreach (json_object_get_object(v), entry) {
		const char *key = lh_entry_k(entry);
		json_object *e = (json_object *)lh_entry_v(entry);
		string_map_put(m, key, strlen(key), e ? json_object_get_string(e) : "",
			       e ? (size_t)json_object_get_string_len(e) : 0);
	}
	return 0;
}

/* A struct-typed field: null is a no-op, anything but an object a type error. */
static int check_struct(json_object *v, const char *field, struct nh_error **err)
{
	if (v && !json_object_is_type(v, json_type_object))
		return type_error(err, v, field, "struct");
	return 0;
}

/* --- raw schemas ------------------------------------------------------------------------- */

struct raw_v1 {
	struct oci_hook hook;
	int always, has_bind_mounts;
	struct string_map annotations;
	char **commands;
	char **stages;
};

struct raw_v0 {
	char *hook;
	bool hook_set;
	char **arguments;
	char **stages, **stage;
	char **cmds, **cmd;
	char **annotations, **annotation;
	int has_bind_mounts;
};

static void raw_v1_clear(struct raw_v1 *r)
{
	oci_hook_clear(&r->hook);
	string_map_clear(&r->annotations);
	r->commands = strv_free(r->commands);
	r->stages = strv_free(r->stages);
}

static void raw_v0_clear(struct raw_v0 *r)
{
	free(r->hook);
	strv_free(r->arguments);
	strv_free(r->stages);
	strv_free(r->stage);
	strv_free(r->cmds);
	strv_free(r->cmd);
	strv_free(r->annotations);
	strv_free(r->annotation);
	*r = (struct raw_v0){.has_bind_mounts = -1};
}

static int decode_hook_object(json_object *obj, struct oci_hook *h, struct nh_error **err)
{
	json_object_object_foreach (obj, key, v) {
		int r = 0;
		if (go_key_equal(key, "path"))
			r = decode_string(v, "hook.path", &h->path, err);
		else if (go_key_equal(key, "args"))
			r = decode_strv(v, "hook.args", &h->args, err);
		else if (go_key_equal(key, "env"))
			r = decode_strv(v, "hook.env", &h->env, err);
		else if (go_key_equal(key, "timeout"))
			r = decode_int_ptr(v, "hook.timeout", &h->has_timeout, &h->timeout, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_when_object(json_object *obj, struct raw_v1 *raw, struct nh_error **err)
{
	json_object_object_foreach (obj, key, v) {
		int r = 0;
		if (go_key_equal(key, "always"))
			r = decode_bool_ptr(v, "when.always", &raw->always, err);
		else if (go_key_equal(key, "annotations"))
			r = decode_string_map(v, "when.annotations", &raw->annotations, err);
		else if (go_key_equal(key, "commands"))
			r = decode_strv(v, "when.commands", &raw->commands, err);
		else if (go_key_equal(key, "hasBindMounts"))
			r = decode_bool_ptr(v, "when.hasBindMounts", &raw->has_bind_mounts, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_v1(json_object *doc, struct raw_v1 *raw, struct nh_error **err)
{
	if (!doc)
		return 0;
	json_object_object_foreach (doc, key, v) {
		int r = 0;
		if (go_key_equal(key, "version")) {
			/* already dispatched on */
		} else if (go_key_equal(key, "hook")) {
			r = check_struct(v, "hook", err);
			if (r == 0 && v)
				r = decode_hook_object(v, &raw->hook, err);
		} else if (go_key_equal(key, "when")) {
			r = check_struct(v, "when", err);
			if (r == 0 && v)
				r = decode_when_object(v, raw, err);
		} else if (go_key_equal(key, "stages")) {
			r = decode_strv(v, "stages", &raw->stages, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_v0(json_object *doc, struct raw_v0 *raw, struct nh_error **err)
{
	if (!doc)
		return 0;
	json_object_object_foreach (doc, key, v) {
		int r = 0;
		if (go_key_equal(key, "hook"))
			r = decode_string_ptr(v, "hook", &raw->hook, &raw->hook_set, err);
		else if (go_key_equal(key, "arguments"))
			r = decode_strv(v, "arguments", &raw->arguments, err);
		else if (go_key_equal(key, "stages"))
			r = decode_strv(v, "stages", &raw->stages, err);
		else if (go_key_equal(key, "stage"))
			r = decode_strv(v, "stage", &raw->stage, err);
		else if (go_key_equal(key, "cmds"))
			r = decode_strv(v, "cmds", &raw->cmds, err);
		else if (go_key_equal(key, "cmd"))
			r = decode_strv(v, "cmd", &raw->cmd, err);
		else if (go_key_equal(key, "annotations"))
			r = decode_strv(v, "annotations", &raw->annotations, err);
		else if (go_key_equal(key, "annotation"))
			r = decode_strv(v, "annotation", &raw->annotation, err);
		else if (go_key_equal(key, "hasbindmounts"))
			r = decode_bool_ptr(v, "hasbindmounts", &raw->has_bind_mounts, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static char **strv_prepend(const char *first, char **rest)
{
	size_t n = 0;
	while (rest && rest[n])
		n++;
	char **out = xcalloc(n + 2, sizeof(char *));
	out[0] = xstrdup(first);
	for (size_t i = 0; i < n; i++)
		out[i + 1] = xstrdup(rest[i]);
	return out;
}

static char *strv_join(char **v, const char *sep)
{
	size_t total = 1;
	for (char **s = v; *s; s++)
		total += strlen(*s) + strlen(sep);
	char *out = xmalloc(total), *p = out;
	*p = '\0';
	for (char **s = v; *s; s++) {
		if (s != v)
			p = stpcpy(p, sep);
		p = stpcpy(p, *s);
	}
	return out;
}

/* Converts a legacy 0.1.0 file to the 1.0.0 model, in upstream's order of checks. The converted
 * file's conditions are ORed. */
static int convert_v0(struct raw_v0 *v0, struct raw_v1 *out, bool *ret_or, struct nh_error **err)
{
	if (!v0->hook_set)
		return nh_error_set(err, EINVAL, "missing required property: hook");
	if (v0->stages && v0->stage)
		return nh_error_set(err, EINVAL, "cannot set both 'stage' and 'stages'");
	if (v0->stage)
		v0->stages = TAKE_PTR(v0->stage);
	if (!v0->stages)
		return nh_error_set(err, EINVAL, "missing required property: stages");
	if (v0->cmds && v0->cmd)
		return nh_error_set(err, EINVAL, "cannot set both 'cmd' and 'cmds'");
	if (v0->cmd)
		v0->cmds = TAKE_PTR(v0->cmd);
	if (v0->annotations && v0->annotation)
		return nh_error_set(err, EINVAL, "cannot set both 'annotation' and 'annotations'");
	if (v0->annotation)
		v0->annotations = TAKE_PTR(v0->annotation);

	out->hook.path = xstrdup(v0->hook);
	if (v0->arguments)
		out->hook.args = strv_prepend(v0->hook, v0->arguments);
	out->commands = TAKE_PTR(v0->cmds);
	out->has_bind_mounts = v0->has_bind_mounts;
	out->stages = TAKE_PTR(v0->stages);
	if (v0->annotations) {
		_cleanup_free_ char *joined = strv_join(v0->annotations, "|");
		string_map_put(&out->annotations, ".*", 2, joined, strlen(joined));
		out->annotations.set = true;
	}
	*ret_or = true;
	return 0;
}

/* Reads the "version" field the way upstream's first pass does: a struct with one string field. */
static int read_version(json_object *doc, char **ret, struct nh_error **err)
{
	_cleanup_free_ char *version = NULL;
	if (doc && !json_object_is_type(doc, json_type_object))
		return nh_error_set(err, EINVAL,
				    "version check: json: cannot unmarshal %s into a hook object",
				    json_type_label(doc));
	if (doc) {
		json_object_object_foreach (doc, key, v) {
			if (!go_key_equal(key, "version"))
				continue;
			int r = decode_string(v, "version", &version, err);
			if (r < 0)
				return nh_error_wrap(err, "version check");
		}
	}
	*ret = version ? TAKE_PTR(version) : xstrdup("");
	return 0;
}

static int lowercase_first(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Compiles the conditions and checks the rest, in upstream's order; first failure wins. */
static int validate(struct raw_v1 *raw, struct hook_file *h, struct nh_error **err)
{
	if (!raw->hook.path || raw->hook.path[0] == '\0')
		return nh_error_set(err, EINVAL, "missing required property: hook.path");
	/* The runtime spec requires an absolute path: a relative one would be found by the runtime
	 * in its own working directory, the bundle (whose rootfs is the image). */
	if (raw->hook.path[0] != '/')
		return nh_error_set(err, EINVAL, "hook.path: '%s' is not an absolute path",
				    raw->hook.path);
	if (faccessat(AT_FDCWD, raw->hook.path, F_OK, AT_EACCESS) < 0) {
		int e = errno;
		char msg[128];
		snprintf(msg, sizeof(msg), "%s", strerror(e));
		msg[0] = (char)lowercase_first(msg[0]);
		return nh_error_set(err, e, "faccessat %s: %s", raw->hook.path, msg);
	}

	struct hook_when *w = &h->when;
	w->annotations = xcalloc(raw->annotations.n, sizeof(*w->annotations));
	for (size_t i = 0; i < raw->annotations.n; i++) {
		struct hook_annotation_rule *rule = &w->annotations[i];
		rule->key_src = TAKE_PTR(raw->annotations.keys[i]);
		rule->value_src = TAKE_PTR(raw->annotations.values[i]);
		w->n_annotations = i + 1;
		int r = regex_go_compile(rule->key_src, &rule->key, err);
		if (r < 0) {
			_cleanup_free_ char *q = utf8_go_quote(rule->key_src);
			return nh_error_wrap(err, "invalid annotation key %s", q);
		}
		r = regex_go_compile(rule->value_src, &rule->value, err);
		if (r < 0) {
			_cleanup_free_ char *q = utf8_go_quote(rule->value_src);
			return nh_error_wrap(err, "invalid annotation value %s", q);
		}
	}
	w->annotations_set = raw->annotations.set;

	size_t n_cmds = 0;
	while (raw->commands && raw->commands[n_cmds])
		n_cmds++;
	w->commands = xcalloc(n_cmds, sizeof(*w->commands));
	/* Move every source first: raw->commands is freed as a NULL-terminated vector, so one
	 * taken in the middle would leak those after it when a compile fails. */
	for (size_t i = 0; i < n_cmds; i++)
		w->commands[i].src = TAKE_PTR(raw->commands[i]);
	w->n_commands = n_cmds;
	for (size_t i = 0; i < n_cmds; i++) {
		struct hook_command_rule *rule = &w->commands[i];
		int r = regex_go_compile(rule->src, &rule->re, err);
		if (r < 0) {
			_cleanup_free_ char *q = utf8_go_quote(rule->src);
			return nh_error_wrap(err, "invalid command %s", q);
		}
	}

	if (!raw->stages)
		return nh_error_set(err, EINVAL, "missing required property: stages");
	size_t n_stages = 0;
	while (raw->stages[n_stages])
		n_stages++;
	h->stages = xcalloc(n_stages, sizeof(*h->stages));
	for (size_t i = 0; i < n_stages; i++) {
		enum oci_stage s = oci_stage_from_string(raw->stages[i]);
		if (s < 0) {
			_cleanup_free_ char *q = utf8_go_quote(raw->stages[i]);
			return nh_error_set(err, EINVAL, "unknown stage %s", q);
		}
		h->stages[i] = s;
	}
	h->n_stages = n_stages;

	w->always = raw->always;
	w->has_bind_mounts = raw->has_bind_mounts;
	h->hook = raw->hook;
	raw->hook = (struct oci_hook){0};
	return 0;
}

static void raw_v1_clearp(struct raw_v1 *r)
{
	raw_v1_clear(r);
}

static void raw_v0_clearp(struct raw_v0 *r)
{
	raw_v0_clear(r);
}

int hook_file_parse(const char *path, const char *content, size_t len, struct hook_file **ret,
		    struct nh_error **err)
{
	_cleanup_json_ json_object *doc = NULL;
	int r = json_parse_strict(content, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r < 0)
		return r;
	r = json_check_finite(doc, err);
	if (r < 0)
		return r;
	/* Go keeps a NUL inside a string; json-c and C strings would silently cut it, turning
	 * "/bin/x\u0000/evil" into /bin/x. Where Go refuses such a file (path, stage, version) the
	 * outcome is the same; elsewhere (a regex, args, env) nodehook refuses what Go would keep.
	 */
	bool nul_key = false, nul_value = false;
	json_scan_nul(content, len, &nul_key, &nul_value);
	if (nul_key || nul_value)
		return nh_error_set(
		    err, EINVAL,
		    "a string holds a NUL character (\\u0000), which nodehook refuses");

	_cleanup_free_ char *version = NULL;
	r = read_version(doc, &version, err);
	if (r < 0)
		return r;

	_cleanup_(raw_v1_clearp) struct raw_v1 raw = {.always = -1, .has_bind_mounts = -1};
	bool or_mode = false;
	if (strcmp(version, "1.0.0") == 0) {
		r = decode_v1(doc, &raw, err);
		if (r < 0)
			return nh_error_wrap(err, "1.0.0");
	} else if (version[0] == '\0' || strcmp(version, "0.1.0") == 0) {
		_cleanup_(raw_v0_clearp) struct raw_v0 v0 = {.has_bind_mounts = -1};
		r = decode_v0(doc, &v0, err);
		if (r == 0)
			r = convert_v0(&v0, &raw, &or_mode, err);
		if (r < 0)
			return nh_error_wrap(err, "0.1.0");
		free(version);
		version = xstrdup("0.1.0");
	} else {
		_cleanup_free_ char *q = utf8_go_quote(version);
		return nh_error_set(err, EINVAL, "unrecognized hook version: %s", q);
	}

	const char *slash = strrchr(path, '/');
	_cleanup_hook_file_ struct hook_file *h = xcalloc(1, sizeof(*h));
	h->path = xstrdup(path);
	h->name = xstrdup(slash ? slash + 1 : path);
	h->version = TAKE_PTR(version);
	h->when.or_mode = or_mode;
	h->when.always = -1;
	h->when.has_bind_mounts = -1;
	r = validate(&raw, h, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(h);
	return 0;
}

int hook_file_load(int dirfd, const char *dirpath, const char *name, struct hook_file **ret,
		   struct stat *ret_st, struct nh_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dirpath, name);
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* dangling symlink, or removed while we scanned: skipped */
		return nh_error_set_errno(err, errno, "%s", path);
	}
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = fd_check_readable_file(fd, err);
	if (r == 0)
		r = read_full_fd(fd, NH_HOOK_FILE_MAX, &buf, &len, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	struct stat st;
	if (ret_st && fstat(fd, &st) < 0)
		return nh_error_set_errno(err, errno, "%s", path);
	struct hook_file *h = NULL;
	r = hook_file_parse(path, buf, len, &h, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	*ret = h;
	if (ret_st)
		*ret_st = st;
	return 1;
}

void oci_hook_clear(struct oci_hook *h)
{
	free(h->path);
	strv_free(h->args);
	strv_free(h->env);
	*h = (struct oci_hook){0};
}

static char **strv_copy(char **v)
{
	if (!v)
		return NULL;
	size_t n = 0;
	while (v[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void oci_hook_copy(struct oci_hook *dst, const struct oci_hook *src)
{
	dst->path = xstrdup(src->path);
	dst->args = strv_copy(src->args);
	dst->env = strv_copy(src->env);
	dst->has_timeout = src->has_timeout;
	dst->timeout = src->timeout;
}

struct hook_file *hook_file_free(struct hook_file *h)
{
	if (!h)
		return NULL;
	if (h->single_block) {
		for (size_t i = 0; i < h->when.n_annotations; i++) {
			pcre2_code_free(h->when.annotations[i].key);
			pcre2_code_free(h->when.annotations[i].value);
		}
		for (size_t i = 0; i < h->when.n_commands; i++)
			pcre2_code_free(h->when.commands[i].re);
		free(h);
		return NULL;
	}
	free(h->path);
	free(h->name);
	free(h->version);
	oci_hook_clear(&h->hook);
	for (size_t i = 0; i < h->when.n_annotations; i++) {
		struct hook_annotation_rule *a = &h->when.annotations[i];
		free(a->key_src);
		free(a->value_src);
		pcre2_code_free(a->key);
		pcre2_code_free(a->value);
	}
	free(h->when.annotations);
	for (size_t i = 0; i < h->when.n_commands; i++) {
		free(h->when.commands[i].src);
		pcre2_code_free(h->when.commands[i].re);
	}
	free(h->when.commands);
	free(h->stages);
	free(h);
	return NULL;
}
