#include "oci_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json_util.h"
#include "oci_state.h"
#include "utf8.h"
#include "xalloc.h"

static void refresh_facts_annotations(struct oci_config *c)
{
	c->facts.annotation_keys = (const char **)c->annotation_keys;
	c->facts.annotation_values = (const char **)c->annotation_values;
	c->facts.annotation_key_lens = c->annotation_key_lens;
	c->facts.annotation_value_lens = c->annotation_value_lens;
	c->facts.n_annotations = c->n_annotations;
}

/* A copy for matching: valid UTF-8 kept as is (NULs included: the length is what counts),
 * anything else read as Go reads it, invalid bytes as U+FFFD. Then every subject the matcher sees
 * is valid UTF-8, and PCRE2 need not check it again for every pattern. */
static char *subject_dup(const char *s, size_t len, size_t *ret_len)
{
	if (!utf8_valid(s, len))
		return utf8_sanitize(s, len, ret_len);
	char *out = xmalloc(len + 1);
	memcpy(out, s, len);
	out[len] = '\0';
	*ret_len = len;
	return out;
}

/* Adds an annotation; `replace`: an override, which may name one that is there already
 * (config.json's own keys are unique, and searching them would make reading n keys cost n^2). */
static void put_annotation(struct oci_config *c, const char *key, size_t key_len, const char *value,
			   size_t value_len, bool replace)
{
	size_t k_len = 0, v_len = 0;
	char *k = subject_dup(key, key_len, &k_len);
	char *v = subject_dup(value, value_len, &v_len);
	for (size_t i = 0; replace && i < c->n_annotations; i++) {
		if (c->annotation_key_lens[i] == k_len &&
		    memcmp(c->annotation_keys[i], k, k_len) == 0) {
			free(k);
			free(c->annotation_values[i]);
			c->annotation_values[i] = v;
			c->annotation_value_lens[i] = v_len;
			return;
		}
	}
	if (c->n_annotations == c->annotations_cap) {
		size_t cap = c->annotations_cap ? 2 * c->annotations_cap : 16;
		c->annotation_keys = xreallocarray(c->annotation_keys, cap, sizeof(char *));
		c->annotation_values = xreallocarray(c->annotation_values, cap, sizeof(char *));
		c->annotation_key_lens = xreallocarray(c->annotation_key_lens, cap, sizeof(size_t));
		c->annotation_value_lens =
		    xreallocarray(c->annotation_value_lens, cap, sizeof(size_t));
		c->annotations_cap = cap;
	}
	size_t n = c->n_annotations++;
	c->annotation_keys[n] = k;
	c->annotation_values[n] = v;
	c->annotation_key_lens[n] = k_len;
	c->annotation_value_lens[n] = v_len;
	refresh_facts_annotations(c);
}

void oci_config_override_annotation(struct oci_config *c, const char *key, const char *value)
{
	put_annotation(c, key, strlen(key), value, strlen(value), true);
}

/* A field that is absent or null counts as not set, as in Go. */
static json_object *get_field(json_object *obj, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static int read_annotations(struct oci_config *c, struct nh_error **err)
{
	json_object *ann = get_field(c->doc, "annotations");
	if (!ann)
		return 0;
	if (!json_object_is_type(ann, json_type_object))
		return nh_error_set(err, EINVAL, "annotations: expected an object, got %s",
				    json_type_label(ann));
	struct lh_entry *e;
	lh_foreach (json_object_get_object(ann), e) {
		const char *key = lh_entry_k(e);
		json_object *v = (json_object *)lh_entry_v(e);
		if (v && !json_object_is_type(v, json_type_string))
			return nh_error_set(err, EINVAL,
					    "annotations.\"%s\": expected a string, got %s", key,
					    json_type_label(v));
		put_annotation(c, key, strlen(key), v ? json_object_get_string(v) : "",
			       v ? (size_t)json_object_get_string_len(v) : 0, false);
	}
	return 0;
}

static int read_process(struct oci_config *c, struct nh_error **err)
{
	json_object *proc = get_field(c->doc, "process");
	if (!proc)
		return 0;
	if (!json_object_is_type(proc, json_type_object))
		return nh_error_set(err, EINVAL, "process: expected an object, got %s",
				    json_type_label(proc));
	c->facts.has_process = true;
	json_object *args = get_field(proc, "args");
	if (!args)
		return 0;
	if (!json_object_is_type(args, json_type_array))
		return nh_error_set(err, EINVAL, "process.args: expected an array, got %s",
				    json_type_label(args));
	size_t n = json_object_array_length(args);
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(args, i);
		if (a && !json_object_is_type(a, json_type_string))
			return nh_error_set(err, EINVAL,
					    "process.args[%zu]: expected a string, got %s", i,
					    json_type_label(a));
	}
	if (n > 0) {
		json_object *a0 = json_object_array_get_idx(args, 0);
		const char *arg0 = a0 ? json_object_get_string(a0) : "";
		size_t len = a0 ? (size_t)json_object_get_string_len(a0) : 0;
		c->arg0 = subject_dup(arg0, len, &c->facts.arg0_len);
		c->facts.arg0 = c->arg0;
	}
	return 0;
}

/* runc treats a mount as a bind mount when its type is "bind" or its options name bind or rbind. */
static int read_mounts(struct oci_config *c, struct nh_error **err)
{
	json_object *mounts = get_field(c->doc, "mounts");
	if (!mounts)
		return 0;
	if (!json_object_is_type(mounts, json_type_array))
		return nh_error_set(err, EINVAL, "mounts: expected an array, got %s",
				    json_type_label(mounts));
	size_t n = json_object_array_length(mounts);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(mounts, i);
		if (!m)
			continue;
		if (!json_object_is_type(m, json_type_object))
			return nh_error_set(err, EINVAL, "mounts[%zu]: expected an object, got %s",
					    i, json_type_label(m));
		json_object *type = get_field(m, "type");
		if (type && json_object_is_type(type, json_type_string) &&
		    strcmp(json_object_get_string(type), "bind") == 0)
			c->facts.has_bind_mounts = true;
		json_object *opts = get_field(m, "options");
		if (!opts)
			continue;
		if (!json_object_is_type(opts, json_type_array))
			return nh_error_set(err, EINVAL,
					    "mounts[%zu].options: expected an array, got %s", i,
					    json_type_label(opts));
		size_t k = json_object_array_length(opts);
		for (size_t j = 0; j < k; j++) {
			json_object *o = json_object_array_get_idx(opts, j);
			if (!o || !json_object_is_type(o, json_type_string))
				continue;
			const char *s = json_object_get_string(o);
			if (strcmp(s, "bind") == 0 || strcmp(s, "rbind") == 0)
				c->facts.has_bind_mounts = true;
		}
	}
	return 0;
}

static int check_hooks_shape(struct oci_config *c, struct nh_error **err)
{
	json_object *hooks = get_field(c->doc, "hooks");
	if (!hooks)
		return 0;
	if (!json_object_is_type(hooks, json_type_object))
		return nh_error_set(err, EINVAL, "hooks: expected an object, got %s",
				    json_type_label(hooks));
	/* Only the stages nodehook appends to: other keys are the runtime's business (runc
	 * ignores them), so their shape is not ours to refuse. */
	json_object_object_foreach (hooks, stage, list) {
		if (oci_stage_from_string(stage) < 0)
			continue;
		if (list && !json_object_is_type(list, json_type_array))
			return nh_error_set(err, EINVAL, "hooks.%s: expected an array, got %s",
					    stage, json_type_label(list));
	}
	return 0;
}

int oci_config_parse(const char *content, size_t len, struct oci_config **ret,
		     struct nh_error **err)
{
	_cleanup_oci_config_ struct oci_config *c = xcalloc(1, sizeof(*c));
	int r = json_parse_strict(content, len, NH_JSON_DEPTH_MAX, &c->doc, err);
	if (r < 0)
		return r;
	if (!c->doc || !json_object_is_type(c->doc, json_type_object))
		return nh_error_set(err, EINVAL, "expected a JSON object, got %s",
				    json_type_label(c->doc));
	/* json-c cuts a key at a NUL: "io.kubernetes.cri.sandbox-namespace\u0000x" would land on
	 * the runtime's own key. Values keep their length and are fine. */
	bool nul_key = false, nul_value = false;
	json_scan_nul(content, len, &nul_key, &nul_value);
	if (nul_key)
		return nh_error_set(err, EINVAL,
				    "an object key holds a NUL character (\\u0000), which nodehook "
				    "refuses");
	refresh_facts_annotations(c);
	if ((r = read_annotations(c, err)) < 0 || (r = read_process(c, err)) < 0 ||
	    (r = read_mounts(c, err)) < 0 || (r = check_hooks_shape(c, err)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int oci_config_load(const char *path, struct oci_config **ret, struct nh_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_file_at(AT_FDCWD, path, NH_OCI_CONFIG_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	r = oci_config_parse(buf, len, ret, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	return 0;
}

const char *oci_config_annotation(const struct oci_config *c, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < c->n_annotations; i++)
		if (c->annotation_key_lens[i] == n && memcmp(c->annotation_keys[i], key, n) == 0)
			return c->annotation_values[i];
	return NULL;
}

const char *oci_config_to_string(struct oci_config *c, size_t *ret_len)
{
	return json_to_string(c->doc, ret_len);
}

struct oci_config *oci_config_free(struct oci_config *c)
{
	if (!c)
		return NULL;
	json_object_put(c->doc);
	for (size_t i = 0; i < c->n_annotations; i++) {
		free(c->annotation_keys[i]);
		free(c->annotation_values[i]);
	}
	free(c->annotation_keys);
	free(c->annotation_values);
	free(c->annotation_key_lens);
	free(c->annotation_value_lens);
	free(c->arg0);
	free(c);
	return NULL;
}
