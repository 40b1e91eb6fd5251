#include "cpu_ledger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "kernel.h"
#include "lb_ledger.h"
#include "strv.h"
#include "xalloc.h"

void cpu_settings_free(struct cpu_setting *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].setting);
		free(v[i].note);
		free(v[i].value);
	}
	free(v);
}

int cpu_ledger_open(struct state_store *store, const char *name, struct cpu_ledger **ret,
		    struct nh_error **err)
{
	json_object *doc = NULL;
	int r = lb_ledger_read(store, name, true, &doc, err);
	if (r < 0)
		return r;
	json_object *settings = NULL;
	if (!json_object_object_get_ex(doc, "settings", &settings) ||
	    !json_object_is_type(settings, json_type_object)) {
		settings = json_object_new_object();
		json_object_object_add(doc, "settings", settings);
	}
	struct cpu_ledger *l = xcalloc(1, sizeof(*l));
	l->store = store;
	l->name = xstrdup(name);
	l->doc = doc;
	l->settings = settings;
	*ret = l;
	return 0;
}

struct cpu_ledger *cpu_ledger_free(struct cpu_ledger *l)
{
	if (l) {
		json_object_put(l->doc);
		free(l->name);
		free(l);
	}
	return NULL;
}

static json_object *entry_of(const struct cpu_ledger *l, const char *path)
{
	json_object *e = NULL;
	if (!json_object_object_get_ex(l->settings, path, &e) ||
	    !json_object_is_type(e, json_type_object))
		return NULL;
	return e;
}

static const char *entry_str(json_object *e, const char *key)
{
	json_object *v = NULL;
	if (!e || !json_object_object_get_ex(e, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *entry_holders(json_object *e)
{
	json_object *h = NULL;
	if (!json_object_object_get_ex(e, "holders", &h) ||
	    !json_object_is_type(h, json_type_array)) {
		h = json_object_new_array();
		json_object_object_add(e, "holders", h);
	}
	return h;
}

/* The index of id in holders, or -1. */
static int holder_index(json_object *holders, const char *id)
{
	size_t n = json_object_array_length(holders);
	for (size_t i = 0; i < n; i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(holders, i));
		if (h && strcmp(h, id) == 0)
			return (int)i;
	}
	return -1;
}

/* A holder other than id, or NULL. */
static const char *other_holder(json_object *holders, const char *id)
{
	size_t n = json_object_array_length(holders);
	for (size_t i = 0; i < n; i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(holders, i));
		if (h && strcmp(h, id) != 0)
			return h;
	}
	return NULL;
}

static bool seen_before(const struct cpu_setting *v, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(v[j].path, v[i].path) == 0)
			return true;
	return false;
}

static int ledger_save(struct cpu_ledger *l, struct nh_error **err)
{
	if (json_object_object_length(l->settings) == 0)
		return state_doc_remove(l->store, l->name, err);
	return state_doc_write(l->store, l->name, l->doc, err);
}

/* Values read before any write, one slot per setting; slots stay NULL where nothing was read. */
struct originals {
	char **v;
	size_t n;
};

static void originals_clear(struct originals *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i]);
	free(o->v);
}

int cpu_ledger_hold(struct cpu_ledger *l, const char *id, const struct cpu_setting *v, size_t n,
		    struct nh_error **err)
{
	/* Check everything and read the originals before the first write. */
	_cleanup_(originals_clear) struct originals originals = {xcalloc(n + 1, sizeof(char *)), n};
	for (size_t i = 0; i < n; i++) {
		if (seen_before(v, i))
			continue;
		json_object *e = entry_of(l, v[i].path);
		if (e) {
			const char *other = other_holder(entry_holders(e), id);
			const char *held = entry_str(e, "value");
			if (other && (!held || strcmp(held, v[i].value) != 0))
				return nh_error_set(err, EBUSY,
						    "CPU %u: %s is held at '%s' by container %s; "
						    "this container asks '%s'",
						    v[i].cpu, v[i].path, held ? held : "?", other,
						    v[i].value);
			continue;
		}
		char *now = NULL;
		int r = kernel_read_file(v[i].path, &now, err);
		if (r == -ENOENT)
			return nh_error_set(err, ENOENT, "CPU %u: %s: missing", v[i].cpu,
					    v[i].path);
		if (r < 0)
			return r;
		originals.v[i] = now;
	}
	for (size_t i = 0; i < n; i++) {
		if (seen_before(v, i))
			continue;
		json_object *e = entry_of(l, v[i].path);
		if (!e) {
			e = json_object_new_object();
			json_object_object_add(e, "original",
					       json_object_new_string(originals.v[i]));
			json_object_object_add(l->settings, v[i].path, e);
		}
		json_object_object_add(e, "value", json_object_new_string(v[i].value));
		json_object *holders = entry_holders(e);
		if (holder_index(holders, id) < 0)
			json_object_array_add(holders, json_object_new_string(id));
	}
	int r = ledger_save(l, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (seen_before(v, i))
			continue;
		action_crash_point();
		r = kernel_write_file(v[i].path, v[i].value, err);
		if (r == -ENOENT)
			return nh_error_set(err, ENOENT, "CPU %u: %s: gone", v[i].cpu, v[i].path);
		if (r < 0)
			return nh_error_wrap(err, "CPU %u", v[i].cpu);
	}
	return 0;
}

int cpu_ledger_release(struct cpu_ledger *l, const char *id, struct nh_error **err)
{
	_cleanup_strv_ char **paths = NULL;
	bool held = false;
	json_object_object_foreach (l->settings, path, e) {
		json_object *holders = entry_holders(e);
		if (holder_index(holders, id) < 0)
			continue;
		held = true;
		if (!other_holder(holders, id))
			strv_push(&paths, xstrdup(path));
	}
	if (!held)
		return 0;
	/* Originals first: the entries stay until every file is back. */
	for (char **p = paths; p && *p; p++) {
		const char *original = entry_str(entry_of(l, *p), "original");
		if (!original)
			return nh_error_set(err, EBADMSG, "%s: entry %s has no original", l->name,
					    *p);
		action_crash_point();
		int r = kernel_write_file(*p, original, err);
		if (r < 0 && r != -ENOENT)
			return nh_error_wrap(err, "restore");
	}
	for (char **p = paths; p && *p; p++)
		json_object_object_del(l->settings, *p);
	json_object_object_foreach (l->settings, path2, e2) {
		(void)path2;
		json_object *holders = entry_holders(e2);
		int i = holder_index(holders, id);
		if (i >= 0)
			json_object_array_del_idx(holders, (size_t)i, 1);
	}
	int r = ledger_save(l, err);
	return r < 0 ? r : 1;
}

const char *cpu_ledger_original(const struct cpu_ledger *l, const char *path)
{
	return entry_str(entry_of(l, path), "original");
}

int cpu_ledger_holders(struct state_store *store, const char *name, char ***ret,
		       struct nh_error **err)
{
	_cleanup_cpu_ledger_ struct cpu_ledger *l = NULL;
	int r = cpu_ledger_open(store, name, &l, err);
	if (r < 0)
		return r;
	char **ids = xcalloc(1, sizeof(char *));
	json_object_object_foreach (l->settings, path, e) {
		(void)path;
		json_object *holders = entry_holders(e);
		size_t n = json_object_array_length(holders);
		for (size_t i = 0; i < n; i++) {
			const char *h =
			    json_object_get_string(json_object_array_get_idx(holders, i));
			bool dup = false;
			for (char **p = ids; *p && !dup; p++)
				dup = strcmp(*p, h) == 0;
			if (h && !dup)
				strv_push(&ids, xstrdup(h));
		}
	}
	*ret = ids;
	return 0;
}

void cpu_ledger_details(const struct cpu_ledger *l, const struct cpu_setting *v, size_t n,
			json_object *details)
{
	for (size_t i = 0; i < n; i++) {
		const char *old = cpu_ledger_original(l, v[i].path);
		json_object *pair = json_object_new_array();
		json_object_array_add(pair, old ? json_object_new_string(old) : NULL);
		json_object_array_add(pair, json_object_new_string(v[i].value));
		_cleanup_free_ char *key = xasprintf("cpu%u/%s", v[i].cpu, v[i].setting);
		json_object_object_add(details, key, pair);
	}
}

/* The action's ledger: "<action>.json". */
static char *ledger_name(const struct action_context *ctx)
{
	return xasprintf("%s.json", nh_action_to_string(ctx->action));
}

/* Settings freed with cpu_settings_free(). */
struct settings {
	struct cpu_setting *v;
	size_t n;
};

static void settings_clear(struct settings *s)
{
	cpu_settings_free(s->v, s->n);
}

int cpu_ledger_action_apply(struct action_context *ctx, cpu_plan_fn plan, struct nh_error **err)
{
	if (!ctx->value)
		return nh_error_set(err, EINVAL, "no value to apply");
	_cleanup_(settings_clear) struct settings plan_out = {0};
	int r = plan(ctx->value, &ctx->container->cpus, &plan_out.v, &plan_out.n, err);
	if (r < 0)
		return r;
	const struct cpu_setting *v = plan_out.v;
	size_t n = plan_out.n;
	_cleanup_free_ char *name = ledger_name(ctx);
	_cleanup_cpu_ledger_ struct cpu_ledger *l = NULL;
	r = cpu_ledger_open(ctx->store, name, &l, err);
	if (r < 0)
		return r;
	struct action_record *ar = action_record_of(ctx);
	ar->present = true;
	free(ar->backend);
	ar->backend = xstrdup(CPU_LEDGER_BACKEND);
	free(ar->cpus);
	ar->cpus = cpuset_format_list(&ctx->container->cpus);
	json_object *details = action_details_reset(ctx);
	r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	r = cpu_ledger_hold(l, ctx->record->id, v, n, err);
	if (r < 0)
		return r;
	cpu_ledger_details(l, v, n, details);
	return action_record_save(ctx, err);
}

int cpu_ledger_action_undo(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_free_ char *name = ledger_name(ctx);
	_cleanup_cpu_ledger_ struct cpu_ledger *l = NULL;
	int r = cpu_ledger_open(ctx->store, name, &l, err);
	if (r < 0)
		return r;
	r = cpu_ledger_release(l, ctx->record->id, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", name);
	return 0;
}

int cpu_ledger_action_holders(struct action_context *ctx, action_holder_fn fn, void *userdata,
			      struct nh_error **err)
{
	_cleanup_free_ char *name = ledger_name(ctx);
	_cleanup_strv_ char **ids = NULL;
	int r = cpu_ledger_holders(ctx->store, name, &ids, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", name);
	for (char **id = ids; *id; id++) {
		r = fn(*id, CPU_LEDGER_BACKEND, userdata, err);
		if (r < 0)
			return r;
	}
	return 0;
}
