/* cgroup v2: the container's cgroup becomes an isolated cpuset partition; the kernel keeps the
 * CPUs of an isolated partition out of every sched domain.
 *
 * The container's cgroup C is the "0::" line of /proc/<pid>/cgroup of its init (the state's pid
 * at createRuntime). With X the container's CPUs and /a, /a/b the ancestors of C = /a/b/c below
 * the root:
 *
 * Remote partition (6.7+: cpuset.cpus.exclusive exists). cgroup-v2.rst: every ancestor must list
 * the CPUs in cpuset.cpus.exclusive before C asks for them. Apply writes, top-down:
 *   /a/cpuset.cpus.exclusive       current ∪ X ∪ CPUs of other isolated containers below /a
 *   /a/b/cpuset.cpus.exclusive     the same for /a/b
 *   C/cpuset.cpus.exclusive        current ∪ X
 *   C/cpuset.cpus.partition        "isolated"
 * then reads C/cpuset.cpus.partition back: "isolated invalid (<reason>)" is a failure, rolled
 * back, reported with the kernel's reason.
 *
 * Local partitions only (6.1 to 6.6): a partition's parent must itself be a partition root, which
 * a shared cgroup such as kubepods is not. If every ancestor below the root already is one (a
 * node-level setup), apply writes C/cpuset.cpus.partition alone; otherwise it refuses, changing
 * nothing.
 *
 * Undo, at poststop when C is gone (and on rollback), bottom-up over what was recorded: C's
 * partition goes back to its old value; a cpuset.cpus.exclusive that another isolated container
 * below still needs loses only the CPUs no such container needs (and that were not there before);
 * one that no isolated container needs any more gets its old value back ("\n" written for an
 * empty list) and leaves the ledger. A vanished cgroup (ENOENT) has nothing left to restore.
 *
 * cgroup.subtree_control is never changed: the runtime that made C enabled cpuset for it; without
 * cpuset files apply fails and says so.
 *
 * Ledger cpuset-v2.json: {"mount",
 *   "containers": {id: {"cgroup", "cpus", "leaving": bool}},   leaving: undo begun, not finished
 *   "changed": [{"cgroup", "file", "old"}]}                     ancestors before descendants
 * The containers recorded below a cgroup are the reference counts of its exclusive CPUs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "cleanup.h"
#include "json_util.h"
#include "lb_backend.h"
#include "lb_ledger.h"
#include "log.h"
#include "xalloc.h"

#define LEDGER "cpuset-v2.json"
#define EXCLUSIVE "cpuset.cpus.exclusive"
#define PARTITION "cpuset.cpus.partition"
#define INVALID_PREFIX "isolated invalid ("

struct ledger {
	json_object *doc;	 /* owns what follows */
	const char *mount;	 /* doc["mount"] */
	json_object *containers; /* doc["containers"] */
	json_object *changed;	 /* doc["changed"] */
};

static void ledger_clear(struct ledger *l)
{
	json_object_put(l->doc);
	*l = (struct ledger){0};
}

/* Loads the ledger (1), or starts an empty one for `mount` (0; mount NULL: returns 0 and leaves
 * *ret empty). */
static int ledger_load(struct state_store *store, const char *mount, struct ledger *ret,
		       struct nh_error **err)
{
	json_object *doc = NULL;
	int r = lb_ledger_read(store, LEDGER, mount != NULL, &doc, err);
	if (r < 0 || !doc)
		return r;
	struct ledger l = {.doc = doc};
	if (!json_get_str(l.doc, "mount"))
		json_object_object_add(l.doc, "mount", json_object_new_string(mount ? mount : ""));
	l.mount = json_get_str(l.doc, "mount");
	l.containers = lb_json_child(l.doc, "containers", json_type_object);
	l.changed = lb_json_child(l.doc, "changed", json_type_array);
	*ret = l;
	return r;
}

static __attribute__((warn_unused_result)) int ledger_save(struct state_store *store,
							   struct ledger *l, struct nh_error **err)
{
	return lb_ledger_write(store, LEDGER, l->doc, err);
}

/* cgroup is `ancestor` or below it. */
static bool at_or_below(const char *cgroup, const char *ancestor)
{
	if (strcmp(ancestor, "/") == 0)
		return true;
	size_t n = strlen(ancestor);
	return strncmp(cgroup, ancestor, n) == 0 && (cgroup[n] == '\0' || cgroup[n] == '/');
}

static bool is_leaving(json_object *c)
{
	json_object *v = NULL;
	return json_object_object_get_ex(c, "leaving", &v) && json_object_get_boolean(v);
}

/* The CPUs of the containers (leaving or staying) at or below `cgroup`; *ret_count of them. */
static int cpus_below(const struct ledger *l, const char *cgroup, bool leaving, struct cpuset *ret,
		      size_t *ret_count, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset all = {0};
	size_t count = 0;
	json_object_object_foreach (l->containers, id, c) {
		const char *cg = json_get_str(c, "cgroup"), *list = json_get_str(c, "cpus");
		if (!cg || !list)
			return nh_error_set(err, EBADMSG, "%s: malformed entry for '%s'", LEDGER,
					    id);
		if (is_leaving(c) != leaving || !at_or_below(cg, cgroup))
			continue;
		_cleanup_cpuset_ struct cpuset one = {0};
		if (cpuset_parse_list(list, &one, err) < 0)
			return nh_error_wrap(err, "%s: containers[%s]", LEDGER, id);
		cpuset_union(&all, &one);
		count++;
	}
	*ret = all;
	all = (struct cpuset){0};
	if (ret_count)
		*ret_count = count;
	return 0;
}

/* Whether a staying container has exactly this cgroup. */
static bool cgroup_held(const struct ledger *l, const char *cgroup)
{
	json_object_object_foreach (l->containers, id, c) {
		(void)id;
		const char *cg = json_get_str(c, "cgroup");
		if (cg && !is_leaving(c) && strcmp(cg, cgroup) == 0)
			return true;
	}
	return false;
}

static bool recorded(const struct ledger *l, const char *cgroup, const char *file)
{
	size_t n = json_object_array_length(l->changed);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(l->changed, i);
		const char *cg = json_get_str(e, "cgroup"), *f = json_get_str(e, "file");
		if (cg && f && strcmp(cg, cgroup) == 0 && strcmp(f, file) == 0)
			return true;
	}
	return false;
}

/* Before a write to cgroup/file: its old value recorded unless it already is (write-ahead),
 * then a crash point. */
static __attribute__((warn_unused_result)) int record_old(struct state_store *store,
							  struct ledger *l, const char *cgroup,
							  const char *file, const char *old,
							  struct nh_error **err)
{
	if (!recorded(l, cgroup, file)) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "cgroup", json_object_new_string(cgroup));
		json_object_object_add(e, "file", json_object_new_string(file));
		json_object_object_add(e, "old", json_object_new_string(old));
		json_object_array_add(l->changed, e);
		int r = ledger_save(store, l, err);
		if (r < 0)
			return r;
	}
	action_crash_point();
	return 0;
}

/* cgroup_read for a file that must be there while apply runs. */
static int read_present(const struct ledger *l, const char *cgroup, const char *file, char **ret,
			struct nh_error **err)
{
	int r = cgroup_read(l->mount, cgroup, file, ret, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "%s%s/%s vanished", l->mount, cgroup, file);
	return r;
}

static __attribute__((warn_unused_result)) int write_present(const struct ledger *l,
							     const char *cgroup, const char *file,
							     const char *value,
							     struct nh_error **err)
{
	int r = cgroup_write(l->mount, cgroup, file, value, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "%s%s/%s vanished", l->mount, cgroup, file);
	return r;
}

/* Top-down step: cgroup's cpuset.cpus.exclusive gains the CPUs of every staying container at or
 * below it. */
static int grow_exclusive(struct state_store *store, struct ledger *l, const char *cgroup,
			  struct nh_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_present(l, cgroup, EXCLUSIVE, &text, err);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset cur = {0};
	r = cpuset_parse_list(text, &cur, err);
	if (r < 0)
		return nh_error_wrap(err, "%s%s/%s", l->mount, cgroup, EXCLUSIVE);
	_cleanup_cpuset_ struct cpuset want = {0};
	r = cpus_below(l, cgroup, false, &want, NULL, err);
	if (r < 0)
		return r;
	cpuset_union(&want, &cur);
	if (cpuset_equal(&want, &cur))
		return 0;
	r = record_old(store, l, cgroup, EXCLUSIVE, text, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *list = cpuset_format_list(&want);
	r = write_present(l, cgroup, EXCLUSIVE, list, err);
	if (r < 0)
		return r;
	log_debug("cgroup-v2: %s: %s '%s' -> '%s'", cgroup, EXCLUSIVE, text, list);
	return 0;
}

/* The kernel's reason in "isolated invalid (<reason>)", or the whole text. */
static char *invalid_reason(const char *text)
{
	size_t n = strlen(INVALID_PREFIX), len = strlen(text);
	if (strncmp(text, INVALID_PREFIX, n) == 0 && len > n && text[len - 1] == ')')
		return xstrndup(text + n, len - n - 1);
	return xasprintf("%s reads '%s'", PARTITION, text);
}

/* Makes cgroup an isolated partition and checks that the kernel agrees. */
static int make_isolated(struct state_store *store, struct ledger *l, const char *cgroup,
			 struct nh_error **err)
{
	_cleanup_free_ char *old = NULL;
	int r = read_present(l, cgroup, PARTITION, &old, err);
	if (r < 0)
		return r;
	if (strcmp(old, "isolated") != 0) {
		if ((r = record_old(store, l, cgroup, PARTITION, old, err)) < 0 ||
		    (r = write_present(l, cgroup, PARTITION, "isolated", err)) < 0)
			return r;
	}
	_cleanup_free_ char *now = NULL;
	r = read_present(l, cgroup, PARTITION, &now, err);
	if (r < 0)
		return r;
	if (strcmp(now, "isolated") != 0) {
		_cleanup_free_ char *reason = invalid_reason(now);
		return nh_error_set(err, EINVAL,
				    "the kernel did not make %s%s an isolated partition: %s",
				    l->mount, cgroup, reason);
	}
	log_debug("cgroup-v2: %s: %s '%s' -> 'isolated'", cgroup, PARTITION, old);
	return 0;
}

/* A recorded partition file: its old value back once no staying container has the cgroup.
 * Returns 1 when the entry can go. */
static int release_partition(const struct ledger *l, const char *cgroup, const char *old,
			     struct nh_error **err)
{
	if (cgroup_held(l, cgroup))
		return 0;
	_cleanup_free_ char *text = NULL;
	int r = cgroup_read(l->mount, cgroup, PARTITION, &text, err);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	if (strcmp(text, old) == 0)
		return 1;
	action_crash_point();
	r = cgroup_write(l->mount, cgroup, PARTITION, old, err);
	if (r < 0 && r != -ENOENT)
		return r;
	log_debug("cgroup-v2: %s: %s back to '%s'", cgroup, PARTITION, old);
	return 1;
}

/* A recorded exclusive file: while staying containers below need it, it loses only the leaving
 * containers' CPUs that none of them needs and that were not there before; once none needs it,
 * it gets its old value. Returns 1 when the entry can go. */
static int release_exclusive(const struct ledger *l, const char *cgroup, const char *old,
			     struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset staying = {0}, released = {0}, had = {0}, cur = {0};
	size_t n_staying = 0;
	int r;
	if ((r = cpus_below(l, cgroup, false, &staying, &n_staying, err)) < 0 ||
	    (r = cpus_below(l, cgroup, true, &released, NULL, err)) < 0)
		return r;
	if (cpuset_parse_list(old, &had, err) < 0)
		return nh_error_wrap(err, "%s: old value of %s%s", LEDGER, cgroup, EXCLUSIVE);
	_cleanup_free_ char *text = NULL;
	r = cgroup_read(l->mount, cgroup, EXCLUSIVE, &text, err);
	if (r == -ENOENT)
		return n_staying == 0;
	if (r < 0)
		return r;
	if (cpuset_parse_list(text, &cur, err) < 0)
		return nh_error_wrap(err, "%s%s/%s", l->mount, cgroup, EXCLUSIVE);
	_cleanup_cpuset_ struct cpuset want = {0};
	if (n_staying) {
		cpuset_subtract(&released, &staying);
		cpuset_subtract(&released, &had);
		cpuset_copy(&want, &cur);
		cpuset_subtract(&want, &released);
	} else {
		cpuset_copy(&want, &had);
	}
	if (!cpuset_equal(&want, &cur)) {
		_cleanup_free_ char *list = cpuset_format_list(&want);
		action_crash_point();
		r = cgroup_write(l->mount, cgroup, EXCLUSIVE, list, err);
		if (r < 0 && r != -ENOENT)
			return r;
		log_debug("cgroup-v2: %s: %s back to '%s'", cgroup, EXCLUSIVE, list);
	}
	return n_staying == 0;
}

/* Bottom-up (the entries are in apply's top-down order): gives back what the leaving containers
 * held, dropping the entries no one needs any more. Idempotent: computed from the files as they
 * are now, so it finishes the job after a crash anywhere. */
static int release(struct ledger *l, struct nh_error **err)
{
	for (size_t i = json_object_array_length(l->changed); i-- > 0;) {
		json_object *e = json_object_array_get_idx(l->changed, i);
		const char *cgroup = json_get_str(e, "cgroup"), *file = json_get_str(e, "file");
		const char *old = json_get_str(e, "old");
		int r;
		if (!cgroup || !file || !old)
			return nh_error_set(err, EBADMSG, "%s: malformed entry in \"changed\"",
					    LEDGER);
		if (strcmp(file, PARTITION) == 0)
			r = release_partition(l, cgroup, old, err);
		else if (strcmp(file, EXCLUSIVE) == 0)
			r = release_exclusive(l, cgroup, old, err);
		else
			return nh_error_set(err, EBADMSG, "%s: unknown file '%s' in \"changed\"",
					    LEDGER, file);
		if (r < 0)
			return r;
		if (r > 0)
			json_object_array_del_idx(l->changed, i, 1);
	}
	return 0;
}

/* Undoes for container `id`: marks it leaving (recorded first), releases, forgets it. */
static __attribute__((warn_unused_result)) int leave(struct state_store *store, struct ledger *l,
						     const char *id, struct nh_error **err)
{
	json_object *c = NULL;
	if (json_object_object_get_ex(l->containers, id, &c) && !is_leaving(c)) {
		json_object_object_add(c, "leaving", json_object_new_boolean(true));
		int r = ledger_save(store, l, err);
		if (r < 0)
			return r;
		action_crash_point();
	}
	int r = release(l, err);
	if (r < 0)
		return r;
	/* Every leaving container is released now, including any a crash left behind. */
	bool again = true;
	while (again) {
		again = false;
		json_object_object_foreach (l->containers, key, v) {
			if (is_leaving(v)) {
				json_object_object_del(l->containers, key);
				again = true;
				break;
			}
		}
	}
	if (json_object_object_length(l->containers) == 0 &&
	    json_object_array_length(l->changed) == 0)
		return state_doc_remove(store, LEDGER, err);
	return ledger_save(store, l, err);
}

/* The ancestors of cgroup below the root, top-down, then cgroup itself; NULL-terminated. */
static char **chain_of(const char *cgroup)
{
	size_t n = 0;
	for (const char *p = cgroup; *p; p++)
		n += *p == '/';
	char **v = xcalloc(n + 1, sizeof(char *));
	size_t i = 0;
	for (const char *p = cgroup + 1;; p++) {
		if (*p == '/' || *p == '\0')
			v[i++] = xstrndup(cgroup, (size_t)(p - cgroup));
		if (*p == '\0')
			break;
	}
	return v;
}

enum mode {
	MODE_REMOTE,
	MODE_LOCAL,
};

/* Decides how cgroup can become an isolated partition on this kernel, reading only. */
static int probe(const char *mount, char *const *chain, enum mode *ret, struct nh_error **err)
{
	size_t n = 0;
	while (chain[n])
		n++;
	const char *cgroup = chain[n - 1];
	_cleanup_free_ char *text = NULL;
	int r = cgroup_read(mount, cgroup, PARTITION, &text, err);
	if (r == -ENOENT)
		return nh_error_set(
		    err, ENODEV,
		    "%s%s has no %s: the cpuset controller is not enabled for it "
		    "(cgroup.subtree_control of its parent lacks cpuset); the container "
		    "runtime enables it, nodehook does not change cgroups it does not own",
		    mount, cgroup, PARTITION);
	if (r < 0)
		return r;
	free(TAKE_PTR(text));
	r = cgroup_read(mount, cgroup, EXCLUSIVE, &text, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0) {
		for (size_t i = 0; i + 1 < n; i++) {
			free(TAKE_PTR(text));
			r = cgroup_read(mount, chain[i], EXCLUSIVE, &text, err);
			if (r == -ENOENT)
				return nh_error_set(err, ENODEV,
						    "%s%s has no %s: the cpuset controller is not "
						    "enabled for it",
						    mount, chain[i], EXCLUSIVE);
			if (r < 0)
				return r;
		}
		*ret = MODE_REMOTE;
		return 0;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		free(TAKE_PTR(text));
		r = cgroup_read(mount, chain[i], PARTITION, &text, err);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == -ENOENT || (strcmp(text, "root") != 0 && strcmp(text, "isolated") != 0))
			return nh_error_set(
			    err, EOPNOTSUPP,
			    "cgroup v2 on this kernel has only local partitions (no %s): isolating "
			    "CPUs needs every ancestor of the container to be a partition root, "
			    "and "
			    "%s%s is '%s'; set up a node-level isolated partition or use a 6.7+ "
			    "kernel",
			    EXCLUSIVE, mount, chain[i], r == 0 ? text : "no cpuset");
	}
	*ret = MODE_LOCAL;
	return 0;
}

static int isolate(struct state_store *store, struct ledger *l, char *const *chain, enum mode mode,
		   struct nh_error **err)
{
	size_t i = 0;
	for (; chain[i]; i++) {
		if (mode == MODE_REMOTE) {
			int r = grow_exclusive(store, l, chain[i], err);
			if (r < 0)
				return r;
		}
	}
	return make_isolated(store, l, chain[i - 1], err);
}

#define NOT_V2 "the cpuset controller is not on a cgroup v2 hierarchy"

static int v2_available(const char **ret_why, struct nh_error **err)
{
	int r = cgroup_cpuset_mount(CGROUP_V2, NULL, err);
	if (r == 0)
		*ret_why = NOT_V2;
	return r;
}

/* The state's pid comes from the runtime: its cgroup must be the one config.json's
 * linux.cgroupsPath names (or below it, where a runtime puts the init in a sub-cgroup), so that
 * a wrong pid cannot make another cgroup (/system.slice) an isolated partition. A relative
 * cgroupsPath (under the runtime's own cgroup) must end the pid's cgroup. Without a cgroupsPath
 * there is nothing to check against. */
static int check_spec_cgroup(const struct container_info *c, const char *cgroup,
			     struct nh_error **err)
{
	if (!c || !c->cgroups_path || !c->cgroups_path[0])
		return 0;
	const char *spec = c->cgroups_path;
	size_t n = strlen(cgroup);
	if (spec[0] != '/' && !strchr(spec, ':')) {
		size_t m = strlen(spec);
		if (n > m && cgroup[n - m - 1] == '/' && strcmp(cgroup + n - m, spec) == 0)
			return 0;
		return nh_error_set(err, EPERM,
				    "container cgroup '%s' (pid %d) is not linux.cgroupsPath "
				    "'%.128s' of config.json: refusing to isolate it",
				    cgroup, (int)c->pid, spec);
	}
	_cleanup_free_ char *want = NULL;
	int r = cgroup_path_from_spec(spec, &want, err);
	if (r < 0)
		return nh_error_wrap(err, "config.json");
	size_t m = strlen(want);
	if (strncmp(cgroup, want, m) == 0 && (cgroup[m] == '\0' || cgroup[m] == '/'))
		return 0;
	return nh_error_set(err, EPERM,
			    "container cgroup '%s' (pid %d) is not %s, the cgroup config.json's "
			    "linux.cgroupsPath '%.128s' names: refusing to isolate it",
			    cgroup, (int)c->pid, want, spec);
}

static int v2_apply(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_free_ char *mount = NULL;
	int r = cgroup_cpuset_mount(CGROUP_V2, &mount, err);
	if (r < 0)
		return r;
	if (r == 0)
		return nh_error_set(err, ENODEV, NOT_V2);
	pid_t pid = ctx->container ? ctx->container->pid : 0;
	if (pid <= 0)
		return nh_error_set(err, ESRCH,
				    "the runtime's state has no container pid: cannot find the "
				    "container's cgroup");
	_cleanup_free_ char *cgroup = NULL;
	r = cgroup_of_pid(pid, CGROUP_V2, &cgroup, err);
	if (r < 0)
		return r;
	if (!cgroup_path_ok(cgroup, false))
		return nh_error_set(err, EINVAL,
				    "container cgroup '%s' (pid %d) cannot be isolated", cgroup,
				    (int)pid);
	r = check_spec_cgroup(ctx->container, cgroup, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **chain = chain_of(cgroup);
	enum mode mode = MODE_REMOTE;
	r = probe(mount, chain, &mode, err);
	if (r < 0)
		return r;

	struct action_record *ar = &ctx->record->actions[ctx->action];
	free(ar->cgroup);
	ar->cgroup = xstrdup(cgroup);
	r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	_cleanup_(ledger_clear) struct ledger l = {0};
	r = ledger_load(ctx->store, mount, &l, err);
	if (r < 0)
		return r;
	json_object *c = json_object_new_object();
	json_object_object_add(c, "cgroup", json_object_new_string(cgroup));
	json_object_object_add(c, "cpus", json_object_new_string(ar->cpus ? ar->cpus : ""));
	json_object_object_add(l.containers, ctx->record->id, c);
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	action_crash_point();
	r = isolate(ctx->store, &l, chain, mode, err);
	if (r < 0) {
		_cleanup_error_ struct nh_error *rollback_err = NULL;
		if (leave(ctx->store, &l, ctx->record->id, &rollback_err) < 0)
			log_debug("cgroup-v2: rollback for %s: %s, ignoring (undo retries it)",
				  ctx->record->id, rollback_err->msg);
		return r;
	}
	return 0;
}

static int v2_undo(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, NULL, &l, err);
	if (r <= 0)
		return r; /* no ledger: nothing of ours is on the node */
	return leave(ctx->store, &l, ctx->record->id, err);
}

static int v2_holders(struct state_store *store, char ***ret_ids, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(store, NULL, &l, err);
	if (r < 0)
		return r;
	*ret_ids = lb_json_keys(l.containers);
	return 0;
}

const struct lb_backend lb_cpuset_v2 = {
    .name = "cgroup-v2",
    .available = v2_available,
    .apply = v2_apply,
    .undo = v2_undo,
    .guard = NULL, /* the kernel keeps an isolated partition's CPUs out of every other cgroup */
    .holders = v2_holders,
};
