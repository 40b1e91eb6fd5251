/* cpu-quota: CFS bandwidth control (quota) off for a container with exclusive CPUs and for its
 * pod, while it runs, and put back after.
 *
 * Annotation value "disable" asks for it ("true": CRI-O's deprecated spelling); "enable" is an
 * explicit no. Only a container with an exclusive whole-CPU set qualifies (container.h).
 *
 * The container's cgroup is the one its config.json names (linux.cgroupsPath, cgroupfs or
 * systemd form: cgroup_path_from_spec()); the pod's is its parent. A quota is a file of the cpu
 * controller's hierarchy: cgroup v1 cpu.cfs_quota_us ("-1" is unlimited), cgroup v2 cpu.max
 * ("max PERIOD" is unlimited; nodehook writes "max" with the period the file already has).
 * A quota already unlimited (the kubelet does it itself since Kubernetes 1.33 for pods with
 * exclusive CPUs) is left alone and recorded as such.
 *
 * Order. cgroup v1 refuses (EINVAL) a child quota larger than its parent's, and caps a child's
 * "-1" by the parent's quota: so apply lifts the pod first, then the container (raising:
 * parent first), and undo restores the container first, then the pod (lowering: child first).
 * cgroup v2 has neither rule; the same order is used.
 *
 * The container's own cgroup is its alone: its old value is in the container's record
 * (details.container_old), saved before the write. The pod's cgroup is shared by the pod's
 * containers: the ledger cpu-quota.json holds, per pod cgroup, the original value and the ids
 * that asked ({"pods": {CGROUP: {"mount", "file", "old", "holders": [ID...]}}}), written before
 * the pod's quota is changed; the last holder to go puts the old value back, if the cgroup
 * still exists. A cgroup that vanished (the runtime removed it at delete) needs nothing.
 *
 * The record's details (status shows them): mount, file, pod_cgroup, pod ("pending",
 * "changed", "shared": another container of the pod changed it first, "already unlimited"),
 * pod_old, container_cgroup, container (the same states but "shared"), container_old. */
#include <errno.h>
#include <string.h>

#include "action.h"
#include "cgroup.h"
#include "cleanup.h"
#include "json_util.h"
#include "lb_ledger.h"
#include "xalloc.h"

#define LEDGER "cpu-quota.json"
#define V1_FILE "cpu.cfs_quota_us"
#define V2_FILE "cpu.max"

static int container_cgroups(const struct container_info *c, char **ret_cgroup, char **ret_pod,
			     struct nh_error **err)
{
	_cleanup_free_ char *cgroup = NULL;
	int r = cgroup_path_from_spec(c->cgroups_path, &cgroup, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *pod = cgroup_parent(cgroup);
	if (strcmp(pod, "/") == 0)
		return nh_error_set(
		    err, EPERM,
		    "the container's cgroup %s has no pod cgroup above it (the root "
		    "cgroup is never changed)",
		    cgroup);
	*ret_cgroup = TAKE_PTR(cgroup);
	*ret_pod = TAKE_PTR(pod);
	return 0;
}

static int check(const struct container_info *c, struct nh_error **err)
{
	int r = action_check_exclusive(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *cgroup = NULL, *pod = NULL;
	return container_cgroups(c, &cgroup, &pod, err);
}

static bool is_v2(const char *file)
{
	return strcmp(file, V2_FILE) == 0;
}

static bool unlimited(const char *file, const char *value)
{
	if (is_v2(file))
		return strncmp(value, "max", 3) == 0 && (value[3] == ' ' || value[3] == '\0');
	return strcmp(value, "-1") == 0;
}

/* What to write for "no quota": v1 -1; v2 max with the period the file has now. */
static char *unlimited_value(const char *file, const char *current)
{
	if (!is_v2(file))
		return xstrdup("-1");
	const char *space = strchr(current, ' ');
	return space ? xasprintf("max%s", space) : xstrdup("max");
}

static void set_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, json_object_new_string(value));
}

/* --- the ledger of pod cgroups ---------------------------------------------------------- */

static bool holders_have(json_object *holders, const char *id)
{
	size_t n = json_object_array_length(holders);
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(holders, i)), id) == 0)
			return true;
	return false;
}

static void holders_remove(json_object *holders, const char *id)
{
	for (size_t i = json_object_array_length(holders); i-- > 0;)
		if (strcmp(json_object_get_string(json_object_array_get_idx(holders, i)), id) == 0)
			json_object_array_del_idx(holders, i, 1);
}

/* Lifts the pod's quota, or joins the containers that holding it lifted: *ret_state says which
 * ("changed", "shared", "already unlimited"), *ret_old the original value (NULL when already
 * unlimited and nobody's). */
static int pod_lift(struct action_context *ctx, const char *mount, const char *file,
		    const char *pod, const char **ret_state, char **ret_old, struct nh_error **err)
{
	const char *id = ctx->record->id;
	_cleanup_json_ json_object *doc = NULL;
	int r = lb_ledger_read(ctx->store, LEDGER, true, &doc, err);
	if (r < 0)
		return r;
	json_object *pods = lb_json_child(doc, "pods", json_type_object);
	json_object *entry = NULL;
	if (json_object_object_get_ex(pods, pod, &entry) &&
	    json_object_is_type(entry, json_type_object)) {
		json_object *holders = lb_json_child(entry, "holders", json_type_array);
		if (!holders_have(holders, id)) {
			json_object_array_add(holders, json_object_new_string(id));
			r = lb_ledger_write(ctx->store, LEDGER, doc, err);
			if (r < 0)
				return r;
		}
		/* Lifted by this container's own earlier, unfinished apply, or by another. */
		const char *old = json_get_str(entry, "old");
		bool mine = json_object_array_length(holders) == 1;
		r = 0;
		if (mine) {
			/* An earlier apply of ours may have died between ledger and write. */
			_cleanup_free_ char *current = NULL;
			r = cgroup_read(mount, pod, file, &current, err);
			if (r == 0 && !unlimited(file, current)) {
				_cleanup_free_ char *value = unlimited_value(file, current);
				r = cgroup_write(mount, pod, file, value, err);
			}
		}
		if (r < 0)
			return r == -ENOENT
				   ? nh_error_set(err, ENOENT, "pod cgroup %s is gone", pod)
				   : nh_error_wrap(err, "pod cgroup %s", pod);
		*ret_state = mine ? "changed" : "shared";
		*ret_old = old ? xstrdup(old) : NULL;
		return 0;
	}

	_cleanup_free_ char *current = NULL;
	r = cgroup_read(mount, pod, file, &current, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "pod cgroup %s%s has no %s", mount, pod, file);
	if (r < 0)
		return r;
	if (unlimited(file, current)) {
		*ret_state = "already unlimited";
		*ret_old = NULL;
		return 0;
	}
	/* Write-ahead: the original and the holder, before the change. */
	entry = json_object_new_object();
	set_str(entry, "mount", mount);
	set_str(entry, "file", file);
	set_str(entry, "old", current);
	json_object *holders = json_object_new_array();
	json_object_array_add(holders, json_object_new_string(id));
	json_object_object_add(entry, "holders", holders);
	json_object_object_add(pods, pod, entry);
	r = lb_ledger_write(ctx->store, LEDGER, doc, err);
	if (r < 0)
		return r;
	action_crash_point();
	_cleanup_free_ char *value = unlimited_value(file, current);
	r = cgroup_write(mount, pod, file, value, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "pod cgroup %s is gone", pod);
	if (r < 0)
		return nh_error_wrap(err, "pod cgroup %s", pod);
	action_crash_point();
	*ret_state = "changed";
	*ret_old = TAKE_PTR(current);
	return 0;
}

/* Lets go of every pod entry id holds; the last holder puts the original back (a cgroup that
 * is gone needs nothing), and only then is the entry dropped: a crash in between leaves the
 * entry, and the next undo writes the same value again. */
static int pod_release(struct state_store *store, const char *id, struct nh_error **err)
{
	_cleanup_json_ json_object *doc = NULL;
	int r = lb_ledger_read(store, LEDGER, false, &doc, err);
	if (r <= 0)
		return r;
	json_object *pods = lb_json_child(doc, "pods", json_type_object);
	_cleanup_strv_ char **keys = lb_json_keys(pods);
	for (char **pod = keys; *pod; pod++) {
		json_object *entry = NULL;
		if (!json_object_object_get_ex(pods, *pod, &entry) ||
		    !json_object_is_type(entry, json_type_object))
			continue;
		json_object *holders = lb_json_child(entry, "holders", json_type_array);
		if (!holders_have(holders, id))
			continue;
		if (json_object_array_length(holders) == 1) {
			const char *mount = json_get_str(entry, "mount");
			const char *file = json_get_str(entry, "file");
			const char *old = json_get_str(entry, "old");
			if (!mount || !file || !old || (strcmp(file, V1_FILE) != 0 && !is_v2(file)))
				return nh_error_set(err, EBADMSG, "%s: pods[%s] is malformed",
						    LEDGER, *pod);
			r = cgroup_write(mount, *pod, file, old, err);
			if (r < 0 && r != -ENOENT)
				return nh_error_wrap(err, "restore the quota of pod cgroup %s",
						     *pod);
			action_crash_point();
			json_object_object_del(pods, *pod);
		} else {
			holders_remove(holders, id);
		}
		r = lb_ledger_write(store, LEDGER, doc, err);
		if (r < 0)
			return r;
	}
	if (json_object_object_length(pods) == 0)
		return state_doc_remove(store, LEDGER, err);
	return 0;
}

/* --- the action --------------------------------------------------------------------------- */

static int apply(struct action_context *ctx, struct nh_error **err)
{
	enum cgroup_version v = CGROUP_NONE;
	_cleanup_free_ char *mount = NULL;
	int r = cgroup_find_controller("cpu", &v, &mount, err);
	if (r < 0)
		return r;
	if (v == CGROUP_NONE)
		return nh_error_set(err, ENODEV, "no cgroup hierarchy has the cpu controller");
	_cleanup_free_ char *cgroup = NULL, *pod = NULL;
	r = container_cgroups(ctx->container, &cgroup, &pod, err);
	if (r < 0)
		return r;
	const char *file = v == CGROUP_V1 ? V1_FILE : V2_FILE;

	struct action_record *ar = action_record_of(ctx);
	/* A second apply after one that died: the container's original may already be in the
	 * record, and the file may hold our own "unlimited" by now. Keep the first. */
	_cleanup_free_ char *prev_old = NULL;
	if (ar->details && ar->cgroup && strcmp(ar->cgroup, cgroup) == 0) {
		const char *p = json_get_str(ar->details, "container_old");
		prev_old = p ? xstrdup(p) : NULL;
	}
	ar->present = true;
	free(ar->backend);
	ar->backend = xstrdup(v == CGROUP_V1 ? "cgroup-v1" : "cgroup-v2");
	free(ar->cgroup);
	ar->cgroup = xstrdup(cgroup);
	json_object *d = action_details_reset(ctx);
	set_str(d, "mount", mount);
	set_str(d, "file", file);
	set_str(d, "pod_cgroup", pod);
	set_str(d, "pod", "pending");
	set_str(d, "container_cgroup", cgroup);
	set_str(d, "container", "pending");
	if (prev_old)
		set_str(d, "container_old", prev_old);
	r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	action_crash_point();

	/* The pod first: v1 caps a child's quota by its parent's. */
	const char *pod_state = NULL;
	_cleanup_free_ char *pod_old = NULL;
	r = pod_lift(ctx, mount, file, pod, &pod_state, &pod_old, err);
	if (r < 0)
		return r;
	set_str(d, "pod", pod_state);
	if (pod_old)
		set_str(d, "pod_old", pod_old);

	_cleanup_free_ char *current = NULL;
	r = cgroup_read(mount, cgroup, file, &current, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "the container's cgroup %s%s has no %s", mount,
				    cgroup, file);
	if (r < 0)
		return r;
	if (unlimited(file, current) && !prev_old) {
		set_str(d, "container", "already unlimited");
		return action_record_save(ctx, err);
	}
	if (!prev_old)
		set_str(d, "container_old", current);
	r = action_record_save(ctx, err); /* write-ahead: the original, before the change */
	if (r < 0)
		return r;
	action_crash_point();
	if (!unlimited(file, current)) {
		_cleanup_free_ char *value = unlimited_value(file, current);
		r = cgroup_write(mount, cgroup, file, value, err);
		if (r == -ENOENT)
			return nh_error_set(err, ENOENT, "the container's cgroup %s is gone",
					    cgroup);
		if (r < 0)
			return nh_error_wrap(err, "the container's cgroup %s", cgroup);
		action_crash_point();
	}
	set_str(d, "container", "changed");
	return action_record_save(ctx, err);
}

static int undo(struct action_context *ctx, struct nh_error **err)
{
	const struct action_record *ar = action_record_of(ctx);
	if (!ar->present)
		return 0;
	/* The container first: v1 refuses a pod quota below a child's. */
	json_object *d = ar->details;
	const char *mount = d ? json_get_str(d, "mount") : NULL;
	const char *file = d ? json_get_str(d, "file") : NULL;
	const char *cgroup = d ? json_get_str(d, "container_cgroup") : NULL;
	const char *old = d ? json_get_str(d, "container_old") : NULL;
	if (old) {
		if (!mount || !file || !cgroup || (strcmp(file, V1_FILE) != 0 && !is_v2(file)))
			return nh_error_set(err, EBADMSG,
					    "record of %s: cpu-quota details are "
					    "malformed",
					    ctx->record->id);
		/* cgroup comes from our own record, written from a checked cgroupsPath. */
		int r = cgroup_write(mount, cgroup, file, old, err);
		if (r < 0 && r != -ENOENT)
			return nh_error_wrap(err, "restore the quota of cgroup %s", cgroup);
		action_crash_point();
	}
	return pod_release(ctx->store, ctx->record->id, err);
}

static int holders(struct action_context *ctx, action_holder_fn fn, void *userdata,
		   struct nh_error **err)
{
	_cleanup_json_ json_object *doc = NULL;
	int r = lb_ledger_read(ctx->store, LEDGER, false, &doc, err);
	if (r <= 0)
		return r;
	json_object *pods = lb_json_child(doc, "pods", json_type_object);
	json_object_object_foreach (pods, pod, entry) {
		(void)pod;
		if (!json_object_is_type(entry, json_type_object))
			continue;
		const char *file = json_get_str(entry, "file");
		const char *backend = file && is_v2(file) ? "cgroup-v2" : "cgroup-v1";
		json_object *ids = lb_json_child(entry, "holders", json_type_array);
		size_t n = json_object_array_length(ids);
		for (size_t i = 0; i < n; i++) {
			r = fn(json_object_get_string(json_object_array_get_idx(ids, i)), backend,
			       userdata, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

const struct action_ops cpu_quota_ops = {
    .id = NH_ACTION_CPU_QUOTA,
    .parse_value = action_parse_disable,
    .check = check,
    .apply = apply,
    .undo = undo,
    .holders = holders,
};
