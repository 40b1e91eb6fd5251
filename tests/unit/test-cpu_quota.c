/* cpu-quota (actions/cpu_quota.c) on FAKE cgroup trees: plain files under a temporary sysroot
 * laid out as cgroupfs shows them (test-lb_util.h), v1 (cpu.cfs_quota_us under a cpu,cpuacct
 * hierarchy) and v2 (cpu.max under the unified hierarchy). Fake because a unit test must not
 * change the node it runs on; the real kernel is in tests/e2e/hook-cpu-quota.bats (this machine,
 * v1) and tests/vm (the 6.12 guest, v2). The fake kernel does not enforce v1's rule that a child
 * quota may not exceed its parent's: the order of the writes is asserted instead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "cgroup.h"
#include "cleanup.h"
#include "lifecycle.h"
#include "status.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define LEDGER "cpu-quota.json"
#define V1 "/sys/fs/cgroup/cpu,cpuacct"
#define V2 "/sys/fs/cgroup"
#define POD "/kubepods/podA"

static const char mountinfo_v1[] =
    "31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpu,cpuacct\n";

static const char mountinfo_v2[] =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

static bool v2_mode;

/* A Guaranteed pod of two 1-CPU containers: pod quota 2 CPUs, each container 1. */
static void build_v1(struct lbt *t)
{
	lbt_put(t, "/proc/self/mountinfo", mountinfo_v1);
	lbt_put(t, V1 POD "/cpu.cfs_quota_us", "200000\n");
	lbt_put(t, V1 POD "/cpu.cfs_period_us", "100000\n");
	lbt_put(t, V1 POD "/c1/cpu.cfs_quota_us", "100000\n");
	lbt_put(t, V1 POD "/c1/cpu.cfs_period_us", "100000\n");
	lbt_put(t, V1 POD "/c2/cpu.cfs_quota_us", "100000\n");
	lbt_put(t, V1 POD "/c2/cpu.cfs_period_us", "100000\n");
}

static void build_v2(struct lbt *t)
{
	lbt_put(t, "/proc/self/mountinfo", mountinfo_v2);
	lbt_put(t, V2 "/cgroup.controllers", "cpuset cpu io memory pids\n");
	lbt_put(t, V2 POD "/cpu.max", "200000 100000\n");
	lbt_put(t, V2 POD "/c1/cpu.max", "100000 100000\n");
	lbt_put(t, V2 POD "/c2/cpu.max", "100000 100000\n");
}

static void build(struct lbt *t)
{
	if (v2_mode)
		build_v2(t);
	else
		build_v1(t);
}

/* The quota file of a cgroup (node path); four calls may share one expression. */
static const char *quota_file(const char *cgroup)
{
	static char paths[4][256];
	static unsigned next;
	char *path = paths[next++ % 4];
	snprintf(path, sizeof(paths[0]), "%s%s/%s", v2_mode ? V2 : V1, cgroup,
		 v2_mode ? "cpu.max" : "cpu.cfs_quota_us");
	return path;
}

static const char *unlimited(void)
{
	return v2_mode ? "max 100000\n" : "-1\n";
}

static void ctr_init(struct lbt_ctr *c, const char *id, const char *cgroups_path)
{
	lbt_ctr_init(c, id, "1", 0);
	c->info.cgroups_path = xstrdup(cgroups_path);
}

static void ctr_clear(struct lbt_ctr *c)
{
	free(c->info.cgroups_path);
	c->info.cgroups_path = NULL;
	lbt_ctr_clear(c);
}

static int apply(struct lbt *t, const char *id, const char *cgroups_path, struct nh_error **err)
{
	struct lbt_ctr c;
	ctr_init(&c, id, cgroups_path);
	struct node_config config = lbt_config("auto");
	int r = lifecycle_apply(t->store, &config, &c.info, &c.rec, NH_ACTION_CPU_QUOTA, "disable",
				err);
	ctr_clear(&c);
	return r;
}

static void apply_ok_at(struct lbt *t, const char *id, const char *cgroups_path, const char *file,
			int line)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = apply(t, id, cgroups_path, &err);
	tu_assert_ok(r, &err, file, line);
	_assert_int_equal((LargestIntegralType)r, 1, file, line);
}
#define apply_ok(t, id, cg) apply_ok_at((t), (id), (cg), __FILE__, __LINE__)

/* The record's cpu-quota details, as status --json shows them. */
static char *details_of(struct lbt *t, const char *id)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t->store, id, &rec, &err), 1);
	const struct action_record *ar = &rec.actions[NH_ACTION_CPU_QUOTA];
	assert_true(ar->present && ar->applied);
	assert_string_equal(ar->value, "disable");
	assert_non_null(ar->details);
	return xstrdup(json_object_to_json_string_ext(
	    ar->details, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void setup(struct lbt *t, bool v2)
{
	v2_mode = v2;
	lbt_init(t, "0-3");
	build(t);
}

/* --- apply and undo ---------------------------------------------------------------------- */

static void apply_undo(bool v2)
{
	struct lbt t;
	setup(&t, v2);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	apply_ok(&t, "c1", POD "/c1");
	/* The pod first, then the container; v2 keeps the period. */
	_cleanup_free_ char *want =
	    xasprintf("%s %s\n%s %s\n", quota_file(POD), v2 ? "max 100000" : "-1",
		      quota_file(POD "/c1"), v2 ? "max 100000" : "-1");
	assert_writes(log, want);
	assert_file(&t, quota_file(POD), unlimited());
	assert_file(&t, quota_file(POD "/c1"), unlimited());
	assert_file(&t, quota_file(POD "/c2"), v2 ? "100000 100000\n" : "100000\n");
	assert_true(lbt_has_doc(&t, LEDGER));
	_cleanup_free_ char *details = details_of(&t, "c1");
	_cleanup_free_ char *want_details =
	    v2 ? xstrdup("{\"mount\":\"/sys/fs/cgroup\",\"file\":\"cpu.max\",\"pod_cgroup\":\"" POD
			 "\",\"pod\":\"changed\",\"container_cgroup\":\"" POD
			 "/c1\",\"container\":\"changed\",\"pod_old\":\"200000 "
			 "100000\",\"container_old\":\"100000 100000\"}")
	       : xstrdup("{\"mount\":\"/sys/fs/cgroup/cpu,cpuacct\",\"file\":\"cpu.cfs_quota_us\","
			 "\"pod_cgroup\":\"" POD
			 "\",\"pod\":\"changed\",\"container_cgroup\":\"" POD
			 "/c1\",\"container\":\"changed\",\"pod_old\":\"200000\",\"container_old\":"
			 "\"100000\"}");
	assert_string_equal(details, want_details);

	/* Undo: the container first, then the pod; byte for byte, the ledger gone. */
	free(log);
	log = NULL;
	lbt_undo_ok(&t, "c1");
	free(want);
	want = xasprintf("%s %s\n%s %s\n", quota_file(POD "/c1"), v2 ? "100000 100000" : "100000",
			 quota_file(POD), v2 ? "200000 100000" : "200000");
	assert_writes(log, want);
	lbt_on_write(NULL, NULL);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "c1"));
	lbt_fini(&t);
}

static void test_v1_apply_undo(void **state)
{
	(void)state;
	apply_undo(false);
}

static void test_v2_apply_undo(void **state)
{
	(void)state;
	apply_undo(true);
}

/* Two containers of one pod, stopped in either order: the pod stays unlimited until the last
 * goes, then gets its original back. */
static void two_containers(bool v2, bool first_in_first_out)
{
	struct lbt t;
	setup(&t, v2);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "c1", POD "/c1");
	apply_ok(&t, "c2", POD "/c2");
	_cleanup_free_ char *d2 = details_of(&t, "c2");
	assert_non_null(strstr(d2, "\"pod\":\"shared\""));
	const char *first = first_in_first_out ? "c1" : "c2";
	const char *second = first_in_first_out ? "c2" : "c1";
	lbt_undo_ok(&t, first);
	assert_file(&t, quota_file(POD), unlimited());
	_cleanup_free_ char *cg = xasprintf(POD "/%s", first);
	assert_file(&t, quota_file(cg), v2 ? "100000 100000\n" : "100000\n");
	lbt_undo_ok(&t, second);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_two_containers_one_pod(void **state)
{
	(void)state;
	for (int v2 = 0; v2 <= 1; v2++) {
		two_containers(v2, true);
		two_containers(v2, false);
	}
}

/* A fresh tree, for lbt_snapshot_without(). */
static void fresh_tree(struct lbt *t)
{
	lbt_init(t, "0-3");
	build(t);
}

/* The container's cgroup vanished (the runtime removed it at delete, as it does before
 * poststop): the pod is still restored. Then the pod's too: nothing to restore, no error. */
static void test_vanished_cgroups(void **state)
{
	(void)state;
	for (int v2 = 0; v2 <= 1; v2++) {
		struct lbt t;
		setup(&t, v2);
		const char *mount = v2 ? V2 : V1;
		_cleanup_free_ char *c1 = xasprintf("%s" POD "/c1", mount);
		_cleanup_free_ char *pod = xasprintf("%s" POD, mount);
		const char *const gone_ctr[] = {c1, NULL};
		_cleanup_free_ char *want = lbt_snapshot_without(&t, fresh_tree, gone_ctr);
		apply_ok(&t, "c1", POD "/c1");
		lbt_remove(&t, c1);
		lbt_undo_ok(&t, "c1");
		assert_snapshot(want, &t);
		assert_false(lbt_has_doc(&t, LEDGER));

		const char *const gone_pod[] = {pod, NULL};
		_cleanup_free_ char *want_pod = lbt_snapshot_without(&t, fresh_tree, gone_pod);
		apply_ok(&t, "c2", POD "/c2");
		lbt_remove(&t, pod);
		lbt_undo_ok(&t, "c2");
		assert_snapshot(want_pod, &t);
		assert_false(lbt_has_doc(&t, LEDGER));
		lbt_fini(&t);
	}
}

/* Already unlimited (the kubelet's DisableCPUQuotaWithExclusiveCPUs): no write, recorded as
 * such, not an error; undo writes nothing either. */
static void test_already_unlimited(void **state)
{
	(void)state;
	for (int v2 = 0; v2 <= 1; v2++) {
		struct lbt t;
		setup(&t, v2);
		lbt_put(&t, quota_file(POD), v2 ? "max 100000\n" : "-1\n");
		lbt_put(&t, quota_file(POD "/c1"), v2 ? "max 100000\n" : "-1\n");
		_cleanup_free_ char *before = lbt_snapshot(&t);
		_cleanup_free_ char *log = NULL;
		lbt_on_write(lbt_log_writes, &log);
		apply_ok(&t, "c1", POD "/c1");
		assert_null(log);
		assert_false(lbt_has_doc(&t, LEDGER));
		_cleanup_free_ char *details = details_of(&t, "c1");
		assert_non_null(strstr(details, "\"pod\":\"already unlimited\""));
		assert_non_null(strstr(details, "\"container\":\"already unlimited\""));
		assert_null(strstr(details, "_old"));
		lbt_undo_ok(&t, "c1");
		assert_null(log);
		lbt_on_write(NULL, NULL);
		assert_snapshot(before, &t);
		lbt_fini(&t);
	}
}

/* A failing write (the kernel's EINVAL) rolls back what was lifted. The kernel leaves the file
 * as it was (the fake's open truncated it: the value is put back). */
static int reject_container_write(const char *path, const char *data, size_t len, void *userdata)
{
	struct lbt *t = userdata;
	if (!strstr(path, "/c1/") || strncmp(data, "-1\n", len) != 0)
		return LBT_WRITE_PASS;
	lbt_put(t, path, "100000\n");
	return EINVAL;
}

static void test_apply_failure_rolled_back(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t, false);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	lbt_on_write(reject_container_write, &t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error_prefix(apply(&t, "c1", POD "/c1", &err), &err, EINVAL,
			    "the container's cgroup " POD "/c1: write '-1' to ");
	lbt_on_write(NULL, NULL);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "c1"));
	lbt_fini(&t);
}

/* --- values, the check, cgroupsPath -------------------------------------------------------- */

static void test_parse_value(void **state)
{
	(void)state;
	const struct action_ops *ops = action_lookup(NH_ACTION_CPU_QUOTA);
	const char *note = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(ops->parse_value("disable", &note, &err), 1);
	assert_null(note);
	assert_int_equal(ops->parse_value("true", &note, &err), 1);
	assert_string_equal(note,
			    "value \"true\" is deprecated (CRI-O's spelling); use \"disable\"");
	note = NULL;
	assert_int_equal(ops->parse_value("enable", &note, &err), 0);
	assert_null(note);
	static const char *const junk[] = {"", "Disable", "false", "disable ", "-1", "max", "1"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++) {
		_cleanup_free_ char *msg =
		    xasprintf("invalid value '%s' (expected \"disable\" or \"enable\")", junk[i]);
		assert_error(ops->parse_value(junk[i], &note, &err), &err, EINVAL, msg);
	}
}

static void test_cgroup_path_from_spec(void **state)
{
	(void)state;
	static const char *const ok[][2] = {
	    {"/kubepods/burstable/pod1/abc", "/kubepods/burstable/pod1/abc"},
	    {"kubepods-burstable-pod1.slice:cri-containerd:abc",
	     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
	     "cri-containerd-abc.scope"},
	    {"kubepods-pod_2.slice:crio:abc",
	     "/kubepods.slice/kubepods-pod_2.slice/crio-abc.scope"},
	    {":libpod:abc", "/system.slice/libpod-abc.scope"},
	    {"machine.slice:libpod:abc", "/machine.slice/libpod-abc.scope"},
	    {"-.slice:x:abc", "/x-abc.scope"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_error_ struct nh_error *err = NULL;
		assert_ok(cgroup_path_from_spec(ok[i][0], &path, &err), &err);
		assert_string_equal(path, ok[i][1]);
	}
	static const char *const bad[] = {
	    "",
	    "/",
	    "relative/path",
	    "/a/../b",
	    "/a/./b",
	    "/a//b",
	    "/a/b/",
	    "/a/b\n",
	    "/a/b c",
	    "a.slice:x",
	    "a:b:c:d",
	    "a:b:../x",
	    "a-.slice:x:y",
	    "-a.slice:x:y",
	    "a--b.slice:x:y",
	    "notaslice:x:y",
	    "a:b:c/d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_error_ struct nh_error *err = NULL;
		int r = cgroup_path_from_spec(bad[i], &path, &err);
		if (r != -EINVAL)
			fail_msg("'%s' accepted as %s", bad[i], path ? path : "(null)");
	}
}

/* The container must have exclusive CPUs and a pod cgroup above its own. */
static void test_check(void **state)
{
	(void)state;
	const struct action_ops *ops = action_lookup(NH_ACTION_CPU_QUOTA);
	struct lbt_ctr c;
	ctr_init(&c, "c1", POD "/c1");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(ops->check(&c.info, &err), &err);
	free(c.info.cgroups_path);
	c.info.cgroups_path = xstrdup("/c1");
	assert_error_prefix(ops->check(&c.info, &err), &err, EPERM,
			    "the container's cgroup /c1 has no pod cgroup above it");
	free(c.info.cgroups_path);
	c.info.cgroups_path = NULL;
	assert_error(ops->check(&c.info, &err), &err, EINVAL, "no linux.cgroupsPath");
	free(c.info.cgroups_path);
	c.info.cgroups_path = xstrdup(POD "/c1");
	c.info.exclusive = false;
	assert_error_prefix(ops->check(&c.info, &err), &err, EPERM,
			    "the container has no exclusive whole-CPU set");
	ctr_clear(&c);
}

/* status's one-line summary of the details, generic. */
static void test_status_summary(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t, false);
	apply_ok(&t, "c1", POD "/c1");
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t.store, "c1", &rec, &err), 1);
	_cleanup_free_ char *summary = status_details_summary(&rec.actions[NH_ACTION_CPU_QUOTA]);
	assert_string_equal(summary, "mount=" V1 " file=cpu.cfs_quota_us pod_cgroup=" POD
				     " pod=changed container_cgroup=" POD
				     "/c1 container=changed pod_old=200000 container_old=100000");
	lbt_undo_ok(&t, "c1");
	lbt_fini(&t);
}

/* --- crash points ------------------------------------------------------------------------ */

static int scenario_apply(struct lbt *t, const char *id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *cg = xasprintf(POD "/%s", id);
	int r = apply(t, id, cg, &err);
	if (r < 0)
		fprintf(stderr, "apply %s: %s\n", id, err->msg);
	return r < 0;
}

static int scenario_apply_c1(struct lbt *t)
{
	return scenario_apply(t, "c1");
}

static int scenario_apply_c2(struct lbt *t)
{
	return scenario_apply(t, "c2");
}

static int scenario_undo_c1(struct lbt *t)
{
	return lbt_child_undo(t, "c1") < 0;
}

static const struct lbt_scenario scenarios[] = {
    {"apply-c1", scenario_apply_c1},
    {"apply-c2", scenario_apply_c2},
    {"undo-c1", scenario_undo_c1},
    {NULL, NULL},
};

static char *build_plain(struct lbt *t)
{
	build(t);
	return lbt_snapshot(t);
}

static char *build_c1_applied(struct lbt *t)
{
	build(t);
	apply_ok(t, "c1", POD "/c1");
	return lbt_snapshot(t);
}

static char *build_then_c1(struct lbt *t)
{
	char *before = build_plain(t);
	apply_ok(t, "c1", POD "/c1");
	return before;
}

static void recover_c1(struct lbt *t)
{
	lbt_undo_ok(t, "c1");
	assert_false(lbt_has_record(t, "c1"));
	assert_false(lbt_has_doc(t, LEDGER));
}

static void recover_c2(struct lbt *t)
{
	lbt_undo_ok(t, "c2");
	assert_false(lbt_has_record(t, "c2"));
}

static void test_crash_points(void **state)
{
	(void)state;
	for (int v2 = 0; v2 <= 1; v2++) {
		v2_mode = v2;
		/* The record, the ledger, the pod's write, the record again, the container's. */
		const struct lbt_crash_case apply_c1 = {build_plain, "apply-c1", recover_c1};
		assert_true(lbt_crash_each_point(&apply_c1, "0-3") >= 4);
		/* A second container of the pod: its crash leaves c1's lift as it is. */
		const struct lbt_crash_case apply_c2 = {build_c1_applied, "apply-c2", recover_c2};
		assert_true(lbt_crash_each_point(&apply_c2, "0-3") >= 2);
		const struct lbt_crash_case undo_c1 = {build_then_c1, "undo-c1", recover_c1};
		assert_true(lbt_crash_each_point(&undo_c1, "0-3") >= 2);
	}
}

int main(int argc, char **argv)
{
	/* A crash child finds v1 or v2 from the tree's mountinfo, as the action does. */
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_v1_apply_undo);
	tu_suite_add_test(&s, test_v2_apply_undo);
	tu_suite_add_test(&s, test_two_containers_one_pod);
	tu_suite_add_test(&s, test_vanished_cgroups);
	tu_suite_add_test(&s, test_already_unlimited);
	tu_suite_add_test(&s, test_apply_failure_rolled_back);
	tu_suite_add_test(&s, test_parse_value);
	tu_suite_add_test(&s, test_cgroup_path_from_spec);
	tu_suite_add_test(&s, test_check);
	tu_suite_add_test(&s, test_status_summary);
	tu_suite_add_test(&s, test_crash_points);
	return tu_suite_run(&s, "cpu_quota");
}
