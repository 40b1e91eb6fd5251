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
 * "changed": [{"cgroup", "old"}]}; a cgroup name that is not UTF-8 is stored as "cgroup_bytes"
 * (lb_ledger.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "json_util.h"
#include "kernel.h"
#include "lb_backend.h"
#include "lb_ledger.h"
#include "log.h"
#include "sysroot.h"
#include "xalloc.h"

#define LEDGER "cpuset-v1.json"
#define NOT_V1 "no cgroup v1 cpuset hierarchy is mounted"
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

/* Whether member key of doc is absent, or a string that cgroup_path_ok() accepts. */
static bool path_member_ok(json_object *doc, const char *key, bool root_ok)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(doc, key, &v))
		return true;
	return v && json_object_is_type(v, json_type_string) &&
	       cgroup_path_ok(json_object_get_string(v), root_ok);
}

/* The ledger's contents are checked before any of them reaches a path or a kernel file: the
 * mount (or "") and the cgroups are absolute paths without ".." (nothing escapes the mount), each
 * member has its type (no null). */
static int ledger_check(json_object *doc, struct nh_error **err)
{
	if (!doc)
		return 0;
	const char *mount = json_get_str(doc, "mount");
	if (!(mount && !mount[0]) && !path_member_ok(doc, "mount", false))
		return nh_error_set(err, EBADMSG, "%s: \"mount\" is not a valid path", LEDGER);
	if (!path_member_ok(doc, "housekeeping", false))
		return nh_error_set(err, EBADMSG, "%s: \"housekeeping\" is not a valid cgroup path",
				    LEDGER);
	json_object *isolated = NULL, *changed = NULL;
	if ((json_object_object_get_ex(doc, "isolated", &isolated) &&
	     !json_object_is_type(isolated, json_type_object)) ||
	    (json_object_object_get_ex(doc, "changed", &changed) &&
	     !json_object_is_type(changed, json_type_array)))
		return nh_error_set(err, EBADMSG,
				    "%s: \"isolated\" or \"changed\" has the wrong type", LEDGER);
	if (isolated) {
		json_object_object_foreach (isolated, id, cpus) {
			if (!cpus || !json_object_is_type(cpus, json_type_string))
				return nh_error_set(
				    err, EBADMSG,
				    "%s: \"isolated\": the entry of '%.64s' is not a "
				    "string",
				    LEDGER, id);
		}
	}
	size_t n = changed ? json_object_array_length(changed) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(changed, i), *old = NULL;
		if (!e || !json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "cgroup", NULL) ||
		    !path_member_ok(e, "cgroup", true) ||
		    !json_object_object_get_ex(e, "old", &old) || !old ||
		    !json_object_is_type(old, json_type_string) ||
		    (strcmp(json_object_get_string(old), "0") != 0 &&
		     strcmp(json_object_get_string(old), "1") != 0))
			return nh_error_set(
			    err, EBADMSG,
			    "%s: \"changed\"[%zu]: expected {\"cgroup\": an absolute "
			    "cgroup path without \"..\", \"old\": \"0\" or \"1\"}",
			    LEDGER, i);
	}
	return 0;
}

/* Returns 1 when the ledger existed, 0 when it starts empty now. */
static int ledger_load(struct state_store *store, const char *mount, struct ledger *ret,
		       struct nh_error **err)
{
	json_object *doc = NULL;
	int existed = lb_ledger_read(store, LEDGER, true, &doc, err);
	if (existed < 0)
		return existed;
	int r = ledger_check(doc, err);
	if (r < 0) {
		json_object_put(doc);
		return r;
	}
	struct ledger l = {.doc = doc};
	const char *stored_mount = json_get_str(l.doc, "mount");
	l.mount = xstrdup(stored_mount ? stored_mount : mount);
	l.isolated = lb_json_child(l.doc, "isolated", json_type_object);
	l.changed = lb_json_child(l.doc, "changed", json_type_array);
	const char *housekeeping = json_get_str(l.doc, "housekeeping");
	l.housekeeping = housekeeping ? xstrdup(housekeeping) : NULL;
	*ret = l;
	return existed;
}

static int ledger_save(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	json_object_object_add(l->doc, "mount", json_object_new_string(l->mount));
	if (l->housekeeping)
		json_object_object_add(l->doc, "housekeeping",
				       json_object_new_string(l->housekeeping));
	else
		json_object_object_del(l->doc, "housekeeping");
	return lb_ledger_write(store, LEDGER, l->doc, err);
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The cgroups the ledger says nodehook turned off, sorted for bsearch (views into the ledger). */
static const char **changed_index(const struct ledger *l, size_t *ret_n, struct nh_error **err)
{
	size_t n = json_object_array_length(l->changed);
	const char **paths = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(l->changed, i), *cg = NULL;
		if (!json_object_object_get_ex(e, "cgroup", &cg) ||
		    !json_object_is_type(cg, json_type_string)) {
			free(paths);
			nh_error_set(err, EBADMSG, "%s: malformed entry in \"changed\"", LEDGER);
			return NULL;
		}
		paths[i] = json_object_get_string(cg);
	}
	qsort(paths, n, sizeof(char *), compare_paths);
	*ret_n = n;
	return paths;
}

static bool in_sorted(const char *const *paths, size_t n, const char *path)
{
	return n && bsearch(&path, paths, n, sizeof(char *), compare_paths);
}

/* One pass over the cpuset tree: which balanced cpusets overlap the isolated CPUs (to turn off),
 * and which of the ones nodehook turned off still do (to keep off). */
struct survey {
	const struct ledger *ledger;
	const struct cpuset *isolated;
	const char **changed; /* sorted */
	size_t n_changed;
	char **to_turn_off; /* in walk order: parents first */
	size_t n_off;
	char **still_overlapping; /* recorded cgroups that still overlap; sorted afterwards */
	size_t n_still;
};

static void survey_clear(struct survey *s)
{
	for (size_t i = 0; i < s->n_off; i++)
		free(s->to_turn_off[i]);
	free(s->to_turn_off);
	for (size_t i = 0; i < s->n_still; i++)
		free(s->still_overlapping[i]);
	free(s->still_overlapping);
	free(s->changed);
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

/* A v1 cpuset's CPUs are a subset of its parent's: a cpuset that does not overlap the isolated
 * CPUs has no descendant that does, and its subtree is skipped. On a node with the kubelet's
 * static CPU manager that is most of the tree (shared-pool cpusets exclude exclusive CPUs). */
static int survey_one(const char *cgroup, int dir_fd, void *userdata, struct nh_error **err)
{
	struct survey *s = userdata;
	if (s->ledger->housekeeping && strcmp(cgroup, s->ledger->housekeeping) == 0)
		return 1;
	_cleanup_cpuset_ struct cpuset cpus = {0};
	int r = cgroup_read_cpus_at(dir_fd, cgroup, "cpuset.cpus", &cpus, err);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	if (!cpuset_intersects(&cpus, s->isolated))
		return 1;
	_cleanup_free_ char *lb = NULL;
	r = cgroup_read_at(dir_fd, cgroup, LB_FILE, &lb, err);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	if (strcmp(lb, "1") == 0)
		push(&s->to_turn_off, &s->n_off, cgroup);
	if (in_sorted(s->changed, s->n_changed, cgroup))
		push(&s->still_overlapping, &s->n_still, cgroup);
	return 0;
}

/* Step 2: every balanced cpuset overlapping the isolated CPUs is recorded (one ledger write for
 * all of them), then turned off. A crash between the two leaves records of flags still at 1;
 * writing their old value back is then a no-op. */
static int turn_off(struct state_store *store, struct ledger *l, const struct survey *s,
		    struct nh_error **err)
{
	bool added = false;
	for (size_t i = 0; i < s->n_off; i++) {
		if (in_sorted(s->changed, s->n_changed, s->to_turn_off[i]))
			continue;
		json_object *e = json_object_new_object();
		json_object_object_add(e, "cgroup", json_object_new_string(s->to_turn_off[i]));
		json_object_object_add(e, "old", json_object_new_string("1"));
		json_object_array_add(l->changed, e);
		added = true;
	}
	if (added) {
		int r = ledger_save(store, l, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < s->n_off; i++) {
		action_crash_point();
		int r = cgroup_write(l->mount, s->to_turn_off[i], LB_FILE, "0", err);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		log_debug("cgroup-v1: %s: sched_load_balance 1 -> 0", s->to_turn_off[i]);
	}
	return 0;
}

/* Gives back the old value of each recorded flag whose cpuset no longer overlaps the isolated
 * CPUs (all of them when `keep` is NULL), newest first, and drops it from the ledger. keep:
 * the recorded cgroups that still overlap, sorted. */
static int restore_changes(struct state_store *store, struct ledger *l, const char *const *keep,
			   size_t n_keep, struct nh_error **err)
{
	bool dirty = false;
	for (size_t i = json_object_array_length(l->changed); i-- > 0;) {
		json_object *e = json_object_array_get_idx(l->changed, i), *cg = NULL, *old = NULL;
		if (!json_object_object_get_ex(e, "cgroup", &cg) ||
		    !json_object_object_get_ex(e, "old", &old))
			return nh_error_set(err, EBADMSG, "%s: malformed entry in \"changed\"",
					    LEDGER);
		const char *cgroup = json_object_get_string(cg);
		if (keep && in_sorted(keep, n_keep, cgroup))
			continue;
		action_crash_point();
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

/* Brings the node to the state the ledger asks for. Idempotent: after a crash anywhere, running
 * it again finishes the job. */
static int reconcile(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset isolated = {0};
	int r = lb_isolated_union(l->isolated, LEDGER, &isolated, err);
	if (r < 0)
		return r;

	if (cpuset_is_empty(&isolated)) {
		r = restore_changes(store, l, NULL, 0, err);
		if (r < 0)
			return r;
		if (l->housekeeping) {
			_cleanup_free_ char *host = xasprintf("%s%s", l->mount, l->housekeeping);
			_cleanup_free_ char *dir = sysroot_path(host);
			action_crash_point();
			if (rmdir(dir) < 0 && errno != ENOENT)
				return nh_error_set_errno(err, errno,
							  "remove housekeeping cpuset %s", dir);
		}
		return state_doc_remove(store, LEDGER, err);
	}

	_cleanup_cpuset_ struct cpuset housekeeping = {0};
	r = kernel_cpus_online(&housekeeping, err);
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

	_cleanup_(survey_clear) struct survey s = {.ledger = l, .isolated = &isolated};
	s.changed = changed_index(l, &s.n_changed, err);
	if (!s.changed)
		return -EBADMSG;
	/* Cpusets deeper than the walk's limit stay as they are: a node with such a tree would
	 * otherwise fail every guard, every container start. */
	r = cgroup_walk(l->mount, "/", survey_one, &s, err);
	if (r < 0)
		return r;
	r = turn_off(store, l, &s, err);
	if (r < 0)
		return r;
	/* What turn_off just recorded overlaps by construction (a path twice does no harm). */
	for (size_t i = 0; i < s.n_off; i++)
		push(&s.still_overlapping, &s.n_still, s.to_turn_off[i]);
	if (s.n_still > 1)
		qsort(s.still_overlapping, s.n_still, sizeof(char *), compare_paths);
	return restore_changes(store, l, (const char *const *)s.still_overlapping, s.n_still, err);
}

static int find_mount(char **ret, struct nh_error **err)
{
	int r = cgroup_cpuset_mount(CGROUP_V1, ret, err);
	if (r == 0)
		return nh_error_set(err, ENODEV, NOT_V1);
	return r < 0 ? r : 0;
}

static int v1_available(const char **ret_why, struct nh_error **err)
{
	int r = cgroup_cpuset_mount(CGROUP_V1, NULL, err);
	if (r == 0)
		*ret_why = NOT_V1;
	return r;
}

static int v1_apply(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_free_ char *mount = NULL;
	int r = find_mount(&mount, err);
	if (r < 0)
		return r;
	struct action_record *ar = &ctx->record->actions[ctx->action];
	_cleanup_(ledger_clear) struct ledger l = {0};
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
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, "", &l, err);
	if (r <= 0)
		return r; /* no ledger: nothing of ours is on the node */
	json_object_object_del(l.isolated, ctx->record->id);
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	return reconcile(ctx->store, &l, err);
}

static int v1_guard(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, "", &l, err);
	if (r <= 0)
		return r; /* isolation is not in use on this node */
	return reconcile(ctx->store, &l, err);
}

static int v1_holders(struct state_store *store, char ***ret_ids, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(store, "", &l, err);
	if (r < 0)
		return r;
	*ret_ids = lb_json_keys(r > 0 ? l.isolated : NULL);
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
