#include "lb_ledger.h"

#include "xalloc.h"

int lb_ledger_read(struct state_store *store, const char *name, bool create, json_object **ret,
		   struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(store, name, &doc, err);
	if (r < 0)
		return r;
	if (r == 0)
		doc = create ? json_object_new_object() : NULL;
	*ret = doc;
	return r;
}

int lb_ledger_write(struct state_store *store, const char *name, json_object *doc,
		    struct nh_error **err)
{
	return state_doc_write(store, name, doc, err);
}

json_object *lb_json_child(json_object *doc, const char *key, json_type type)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(doc, key, &v) && json_object_is_type(v, type))
		return v;
	v = type == json_type_array ? json_object_new_array() : json_object_new_object();
	json_object_object_add(doc, key, v);
	return v;
}

char **lb_json_keys(json_object *o)
{
	size_t n = 0;
	char **keys = xcalloc(1, sizeof(char *));
	if (!o)
		return keys;
	json_object_object_foreach (o, key, v) {
		(void)v;
		keys = xreallocarray(keys, n + 2, sizeof(char *));
		keys[n++] = xstrdup(key);
		keys[n] = NULL;
	}
	return keys;
}

int lb_isolated_union(json_object *isolated, const char *ledger, struct cpuset *ret,
		      struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset all = {0};
	json_object_object_foreach (isolated, id, v) {
		_cleanup_cpuset_ struct cpuset one = {0};
		int r = cpuset_parse_list(json_object_get_string(v), &one, err);
		if (r < 0)
			return nh_error_wrap(err, "%s: isolated[%s]", ledger, id);
		cpuset_union(&all, &one);
	}
	*ret = all;
	all = (struct cpuset){0};
	return 0;
}
