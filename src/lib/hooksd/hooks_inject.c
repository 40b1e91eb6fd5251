#include "hooks_inject.h"

#include <errno.h>
#include <stdlib.h>

#include "fileio.h"
#include "json_util.h"

/* A field that is absent or null counts as not set, as in Go. */
static json_object *get_field(json_object *obj, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static json_object *strv_to_json(char **v)
{
	json_object *a = json_object_new_array();
	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

/* Go's encoding of a runtime-spec hook: args and env omitted when empty, timeout when unset. */
static json_object *oci_hook_to_json(const struct oci_hook *h)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(h->path));
	if (h->args && h->args[0])
		json_object_object_add(o, "args", strv_to_json(h->args));
	if (h->env && h->env[0])
		json_object_object_add(o, "env", strv_to_json(h->env));
	if (h->has_timeout)
		json_object_object_add(o, "timeout", json_object_new_int64(h->timeout));
	return o;
}

json_object *hooks_result_to_json(const struct hooks_result *r)
{
	json_object *out = json_object_new_object();
	for (int s = 0; s < OCI_STAGE__MAX; s++) {
		if (r->n_by_stage[s] == 0)
			continue;
		json_object *list = json_object_new_array();
		for (size_t i = 0; i < r->n_by_stage[s]; i++)
			json_object_array_add(list, oci_hook_to_json(r->by_stage[s][i]));
		json_object_object_add(out, oci_stage_to_string((enum oci_stage)s), list);
	}
	return out;
}

int hooks_inject(struct oci_config *c, const struct hooks_result *r, struct nh_error **err)
{
	if (!r->any_matched)
		return 0;
	json_object *hooks = get_field(c->doc, "hooks");
	if (!hooks) {
		hooks = json_object_new_object();
		json_object_object_add(c->doc, "hooks", hooks);
	}
	for (int s = 0; s < OCI_STAGE__MAX; s++) {
		if (r->n_by_stage[s] == 0)
			continue;
		const char *name = oci_stage_to_string((enum oci_stage)s);
		json_object *list = get_field(hooks, name);
		if (!list) {
			list = json_object_new_array();
			json_object_object_add(hooks, name, list);
		}
		for (size_t i = 0; i < r->n_by_stage[s]; i++)
			json_object_array_add(list, oci_hook_to_json(r->by_stage[s][i]));
	}
	return 0;
}

int hooks_inject_file(struct oci_config *c, const struct hooks_set *set,
		      enum prestart_mapping prestart, const char *path, struct nh_error **err)
{
	_cleanup_hooks_result_ struct hooks_result result = {0};
	int r = hooks_match(set, &c->facts, prestart, &result, err);
	if (r < 0)
		return r;
	if (!result.any_matched)
		return 0;
	r = hooks_inject(c, &result, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	size_t len = 0;
	const char *text = oci_config_to_string(c, &len);
	r = write_file_replace(path, text, len, 0644, err);
	return r < 0 ? r : 1;
}
