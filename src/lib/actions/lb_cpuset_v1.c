/* cgroup v1: CPUs leave load balancing when no cpuset with sched_load_balance=1 covers them.
 *
 * Kernel rule (cgroup-v1/cpusets.rst 1.7): sched domains are built from the top-most cpusets
 * with sched_load_balance=1; CPUs in none of them get no domain. So, with I the union of the
 * CPUs isolated for all containers:
 *   1. a housekeeping cpuset (/nodehook-housekeeping, balanced) holds every online CPU not in I,
 *      so that those stay balanced whatever else is turned off;
 *   2. every cpuset with sched_load_balance=1 whose cpuset.cpus overlaps I is set to 0, the root
 *      included, its old value recorded first.
 * New cpusets are born with the flag at 1, so the guard re-runs step 2 at every container start
 * on the node. When the last isolation goes, every flag nodehook changed gets its old value
 * back, the housekeeping cpuset is removed and the ledger deleted.
 *
 * Ledger cpuset-v1.json: {"mount", "isolated": {id: cpus}, "housekeeping": cgroup,
 * "changed": [{"cgroup", "old"}]}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "json_util.h"
#include "lb_backend.h"
#include "log.h"
#include "sysroot.h"
#include "xalloc.h"

#define LEDGER "cpuset-v1.json"
#define HOUSEKEEPING "/nodehook-housekeeping"
#define LB_FILE "cpuset.sched_load_balance"

struct ledger {
	char *mount;
	json_object *isolated; /* id -> cpu list; owned by doc */
	char *housekeeping;    /* NULL until nodehook created (or adopted) it */
	json_object *changed;  /* array of {cgroup, old}; owned by doc */
	json_object *doc;
};

static void ledger_clear(struct ledger *l)
{
	free(l->mount);
	free(l->housekeeping);
	json_object_put(l->doc);
	*l = (struct ledger){0};
}

static int ledger_load(struct state_store *store, const char *mount, struct ledger *ret,
		       struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(store, LEDGER, &doc, err);
	if (r < 0)
		return r;
	struct ledger l = {0};
	l.doc = r > 0 ? doc : json_object_new_object();
	json_object *v = NULL;
	if (json_object_object_get_ex(l.doc, "mount", &v) &&
	    json_object_is_type(v, json_type_string))
		l.mount = xstrdup(json_object_get_string(v));
	else
		l.mount = xstrdup(mount);
	if (!json_object_object_get_ex(l.doc, "isolated", &l.isolated) ||
	    !json_object_is_type(l.isolated, json_type_object)) {
		l.isolated = json_object_new_object();
		json_object_object_add(l.doc, "isolated", l.isolated);
	}
	if (!json_object_object_get_ex(l.doc, "changed", &l.changed) ||
	    !json_object_is_type(l.changed, json_type_array)) {
		l.changed = json_object_new_array();
		json_object_object_add(l.doc, "changed", l.changed);
	}
	if (json_object_object_get_ex(l.doc, "housekeeping", &v) &&
	    json_object_is_type(v, json_type_string))
		l.housekeeping = xstrdup(json_object_get_string(v));
	*ret = l;
	return 0;
}

static int ledger_save(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	json_object_object_add(l->doc, "mount", json_object_new_string(l->mount));
	if (l->housekeeping)
		json_object_object_add(l->doc, "housekeeping",
				       json_object_new_string(l->housekeeping));
	else
		json_object_object_del(l->doc, "housekeeping");
	return state_doc_write(store, LEDGER, l->doc, err);
}

/* The union of all isolated CPUs. */
static int isolated_union(const struct ledger *l, struct cpuset *ret, struct nh_error **err)
{
	struct cpuset all = {0};
	json_object_object_foreach (l->isolated, id, v) {
		struct cpuset one = {0};
		int r = cpuset_parse_list(json_object_get_string(v), &one, err);
		if (r < 0) {
			cpuset_clear(&all);
			return nh_error_wrap(err, "%s: isolated[%s]", LEDGER, id);
		}
		cpuset_union(&all, &one);
		cpuset_clear(&one);
	}
	*ret = all;
	return 0;
}

static bool ledger_has_change(const struct ledger *l, const char *cgroup)
{
	size_t n = json_object_array_length(l->changed);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(l->changed, i), *cg = NULL;
		if (json_object_object_get_ex(e, "cgroup", &cg) &&
		    strcmp(json_object_get_string(cg), cgroup) == 0)
			return true;
	}
	return false;
}

struct isolate_walk {
	struct state_store *store;
	struct ledger *ledger;
	const struct cpuset *isolated;
};

/* Step 2 for one cpuset: balanced and overlapping the isolated CPUs -> record, then turn off. */
static int isolate_one(const char *cgroup, void *userdata, struct nh_error **err)
{
	struct isolate_walk *w = userdata;
	if (w->ledger->housekeeping && strcmp(cgroup, w->ledger->housekeeping) == 0)
		return 0;
	_cleanup_free_ char *lb = NULL;
	int r = cgroup_read(w->ledger->mount, cgroup, LB_FILE, &lb, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (strcmp(lb, "1") != 0)
		return 0;
	_cleanup_cpuset_ struct cpuset cpus = {0};
	r = cgroup_read_cpus(w->ledger->mount, cgroup, "cpuset.cpus", &cpus, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!cpuset_intersects(&cpus, w->isolated))
		return 0;
	if (!ledger_has_change(w->ledger, cgroup)) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "cgroup", json_object_new_string(cgroup));
		json_object_object_add(e, "old", json_object_new_string(lb));
		json_object_array_add(w->ledger->changed, e);
		r = ledger_save(w->store, w->ledger, err);
		if (r < 0)
			return r;
	}
	action_crash_point();
	r = cgroup_write(w->ledger->mount, cgroup, LB_FILE, "0", err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	log_debug("cgroup-v1: %s: sched_load_balance 1 -> 0", cgroup);
	return 0;
}

/* Creates (or resizes) the housekeeping cpuset to hold `cpus`, recorded before it exists. */
static int ensure_housekeeping(struct state_store *store, struct ledger *l,
			       const struct cpuset *cpus, struct nh_error **err)
{
	int r;
	if (!l->housekeeping) {
		l->housekeeping = xstrdup(HOUSEKEEPING);
		r = ledger_save(store, l, err);
		if (r < 0)
			return r;
		action_crash_point();
	}
	_cleanup_free_ char *host = xasprintf("%s%s", l->mount, l->housekeeping);
	_cleanup_free_ char *dir = sysroot_path(host);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return nh_error_set_errno(err, errno, "create housekeeping cpuset %s", dir);

	/* A v1 cpuset takes tasks and CPUs only once it has memory nodes. */
	_cleanup_free_ char *mems = NULL;
	r = cgroup_read(l->mount, l->housekeeping, "cpuset.mems", &mems, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (!mems || !mems[0]) {
		_cleanup_free_ char *root_mems = NULL;
		r = cgroup_read(l->mount, "/", "cpuset.mems", &root_mems, err);
		if (r < 0)
			return r == -ENOENT
				   ? nh_error_set(err, ENOENT, "%s: no cpuset.mems", l->mount)
				   : r;
		r = cgroup_write(l->mount, l->housekeeping, "cpuset.mems", root_mems, err);
		if (r < 0)
			return r == -ENOENT ? nh_error_set(err, ENOENT, "%s vanished", dir) : r;
	}
	_cleanup_cpuset_ struct cpuset current = {0};
	r = cgroup_read_cpus(l->mount, l->housekeeping, "cpuset.cpus", &current, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (!cpuset_equal(&current, cpus)) {
		_cleanup_free_ char *list = cpuset_format_list(cpus);
		r = cgroup_write(l->mount, l->housekeeping, "cpuset.cpus", list, err);
		if (r < 0)
			return r == -ENOENT ? nh_error_set(err, ENOENT, "%s vanished", dir) : r;
	}
	r = cgroup_write(l->mount, l->housekeeping, LB_FILE, "1", err);
	if (r < 0)
		return r == -ENOENT ? nh_error_set(err, ENOENT, "%s vanished", dir) : r;
	return 0;
}

/* Gives back the old value of each recorded flag whose cpuset no longer overlaps `isolated`
 * (all of them when it is empty), newest first, and drops it from the ledger. */
static int restore_changes(struct state_store *store, struct ledger *l,
			   const struct cpuset *isolated, struct nh_error **err)
{
	bool dirty = false;
	for (size_t i = json_object_array_length(l->changed); i-- > 0;) {
		json_object *e = json_object_array_get_idx(l->changed, i), *cg = NULL, *old = NULL;
		if (!json_object_object_get_ex(e, "cgroup", &cg) ||
		    !json_object_object_get_ex(e, "old", &old))
			return nh_error_set(err, EBADMSG, "%s: malformed entry in \"changed\"",
					    LEDGER);
		const char *cgroup = json_object_get_string(cg);
		if (!cpuset_is_empty(isolated)) {
			_cleanup_cpuset_ struct cpuset cpus = {0};
			int r = cgroup_read_cpus(l->mount, cgroup, "cpuset.cpus", &cpus, err);
			if (r < 0 && r != -ENOENT)
				return r;
			if (r == 0 && cpuset_intersects(&cpus, isolated))
				continue;
		}
		int r = cgroup_write(l->mount, cgroup, LB_FILE, json_object_get_string(old), err);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0)
			log_debug("cgroup-v1: %s: sched_load_balance back to %s", cgroup,
				  json_object_get_string(old));
		json_object_array_del_idx(l->changed, i, 1);
		dirty = true;
	}
	return dirty ? ledger_save(store, l, err) : 0;
}

/* Brings the node to the state the ledger asks for. Idempotent: after a crash anywhere, running
 * it again finishes the job. */
static int reconcile(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset isolated = {0};
	int r = isolated_union(l, &isolated, err);
	if (r < 0)
		return r;

	if (cpuset_is_empty(&isolated)) {
		r = restore_changes(store, l, &isolated, err);
		if (r < 0)
			return r;
		if (l->housekeeping) {
			_cleanup_free_ char *host = xasprintf("%s%s", l->mount, l->housekeeping);
			_cleanup_free_ char *dir = sysroot_path(host);
			if (rmdir(dir) < 0 && errno != ENOENT)
				return nh_error_set_errno(err, errno,
							  "remove housekeeping cpuset %s", dir);
		}
		return state_doc_remove(store, LEDGER, err);
	}

	_cleanup_cpuset_ struct cpuset housekeeping = {0};
	r = cpus_online(&housekeeping, err);
	if (r < 0)
		return r;
	cpuset_subtract(&housekeeping, &isolated);
	if (cpuset_is_empty(&housekeeping))
		return nh_error_set(err, EBUSY,
				    "cannot take every online CPU out of load balancing: no "
				    "housekeeping CPU would be left");
	r = ensure_housekeeping(store, l, &housekeeping, err);
	if (r < 0)
		return r;
	struct isolate_walk w = {.store = store, .ledger = l, .isolated = &isolated};
	r = cgroup_walk(l->mount, "/", isolate_one, &w, err);
	if (r < 0)
		return r;
	return restore_changes(store, l, &isolated, err);
}

static int find_mount(char **ret, struct nh_error **err)
{
	enum cgroup_version v = CGROUP_NONE;
	_cleanup_free_ char *mount = NULL;
	int r = cgroup_find_cpuset(&v, &mount, err);
	if (r < 0)
		return r;
	if (v != CGROUP_V1)
		return nh_error_set(err, ENODEV, "no cgroup v1 cpuset hierarchy is mounted");
	*ret = TAKE_PTR(mount);
	return 0;
}

static int v1_available(const char **ret_why, struct nh_error **err)
{
	enum cgroup_version v = CGROUP_NONE;
	_cleanup_free_ char *mount = NULL;
	int r = cgroup_find_cpuset(&v, &mount, err);
	if (r < 0)
		return r;
	if (v != CGROUP_V1) {
		*ret_why = "no cgroup v1 cpuset hierarchy is mounted";
		return 0;
	}
	return 1;
}

static void ledger_clearp(struct ledger *l)
{
	ledger_clear(l);
}

static int v1_apply(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_free_ char *mount = NULL;
	int r = find_mount(&mount, err);
	if (r < 0)
		return r;
	struct action_record *ar = &ctx->record->actions[ctx->action];
	__attribute__((cleanup(ledger_clearp))) struct ledger l = {0};
	r = ledger_load(ctx->store, mount, &l, err);
	if (r < 0)
		return r;
	json_object_object_add(l.isolated, ctx->record->id, json_object_new_string(ar->cpus));
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	action_crash_point();
	return reconcile(ctx->store, &l, err);
}

static int v1_undo(struct action_context *ctx, struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(ctx->store, LEDGER, &doc, err);
	if (r <= 0)
		return r; /* no ledger: nothing of ours is on the node */
	json_object_put(doc);
	__attribute__((cleanup(ledger_clearp))) struct ledger l = {0};
	r = ledger_load(ctx->store, "", &l, err);
	if (r < 0)
		return r;
	json_object_object_del(l.isolated, ctx->record->id);
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	return reconcile(ctx->store, &l, err);
}

static int v1_guard(struct action_context *ctx, struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(ctx->store, LEDGER, &doc, err);
	if (r <= 0)
		return r;
	json_object_put(doc);
	__attribute__((cleanup(ledger_clearp))) struct ledger l = {0};
	r = ledger_load(ctx->store, "", &l, err);
	if (r < 0)
		return r;
	return reconcile(ctx->store, &l, err);
}

static int v1_holders(struct state_store *store, char ***ret_ids, struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(store, LEDGER, &doc, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **ids = xcalloc(1, sizeof(char *));
	if (r > 0) {
		__attribute__((cleanup(ledger_clearp))) struct ledger l = {0};
		json_object_put(doc);
		r = ledger_load(store, "", &l, err);
		if (r < 0)
			return r;
		size_t n = 0;
		json_object_object_foreach (l.isolated, id, v) {
			(void)v;
			ids = xreallocarray(ids, n + 2, sizeof(char *));
			ids[n++] = xstrdup(id);
			ids[n] = NULL;
		}
	}
	*ret_ids = TAKE_PTR(ids);
	return 0;
}

const struct lb_backend lb_cpuset_v1 = {
    .name = "cgroup-v1",
    .available = v1_available,
    .apply = v1_apply,
    .undo = v1_undo,
    .guard = v1_guard,
    .holders = v1_holders,
};
