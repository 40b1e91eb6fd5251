/* The cgroup v2 backend (lb_cpuset_v2) on a FAKE cgroup2 tree.
 *
 * A fake tree because this machine has no cgroup v2 cpuset (hybrid v1, kernel 6.18): the
 * backend's write sequences, reference counts, rollback and refusals are checked on plain files
 * shaped like cgroup2 on 6.12 (with cpuset.cpus.exclusive) and on 6.1 (local partitions only).
 * The kernel's answers that matter are played by a write hook: "isolated invalid (<reason>)"
 * read back from cpuset.cpus.partition, and EINVAL on a write. What the real kernels do is
 * measured in tests/vm (6.1 and 6.12 in QEMU). See test-lb_util.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lifecycle.h"
#include "sysroot.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define CG "/sys/fs/cgroup"
#define KUBEPODS "/kubepods.slice"
#define POD1 KUBEPODS "/kubepods-pod1.slice"
#define POD2 KUBEPODS "/kubepods-pod2.slice"
#define CTR_A POD1 "/cri-containerd-a.scope"
#define CTR_B POD1 "/cri-containerd-b.scope"
#define CTR_C POD2 "/cri-containerd-c.scope"
#define CTR_A2 POD1 "/cri-containerd-a2.scope"
#define LEDGER "cpuset-v2.json"
#define PID_A 101
#define PID_B 102
#define PID_C 103

enum kernel {
	K6_12, /* cpuset.cpus.exclusive: remote partitions */
	K6_1,  /* local partitions only */
};

static const char mountinfo[] =
    "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

/* cgroup and its cpuset.cpus: the kubelet's systemd driver with containerd. */
static const char *const tree[][2] = {
    {"/init.scope", ""},
    {"/system.slice", ""},
    {"/system.slice/containerd.service", ""},
    {KUBEPODS, ""},
    {KUBEPODS "/kubepods-besteffort.slice", ""},
    {KUBEPODS "/kubepods-burstable.slice", ""},
    {POD1, ""},
    {CTR_A, "2-3"},
    {CTR_B, "4"},
    {POD2, ""},
    {CTR_C, "5"},
};
#define N_TREE (sizeof(tree) / sizeof(tree[0]))

static void put_cg(struct lbt *t, const char *cgroup, const char *file, const char *value)
{
	_cleanup_free_ char *path = xasprintf(CG "%s/%s", cgroup, file);
	_cleanup_free_ char *line = xasprintf("%s\n", value);
	lbt_put(t, path, line);
}

static void build_tree(struct lbt *t, enum kernel k)
{
	lbt_put(t, "/proc/self/mountinfo", mountinfo);
	put_cg(t, "", "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc");
	put_cg(t, "", "cgroup.subtree_control", "cpuset cpu io memory pids");
	put_cg(t, "", "cpuset.cpus.effective", "0-7");
	put_cg(t, "", "cpuset.mems.effective", "0");
	if (k == K6_12)
		put_cg(t, "", "cpuset.cpus.isolated", "");
	for (size_t i = 0; i < N_TREE; i++) {
		const char *cg = tree[i][0];
		put_cg(t, cg, "cgroup.procs", "");
		put_cg(t, cg, "cpuset.cpus", tree[i][1]);
		put_cg(t, cg, "cpuset.cpus.effective", tree[i][1][0] ? tree[i][1] : "0-7");
		put_cg(t, cg, "cpuset.mems", "");
		put_cg(t, cg, "cpuset.mems.effective", "0");
		put_cg(t, cg, "cpuset.cpus.partition", "member");
		if (k == K6_12) {
			put_cg(t, cg, "cpuset.cpus.exclusive", "");
			put_cg(t, cg, "cpuset.cpus.exclusive.effective", "");
		}
	}
	const char *const pids[][2] = {{"101", CTR_A}, {"102", CTR_B}, {"103", CTR_C}};
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *path = xasprintf("/proc/%s/cgroup", pids[i][0]);
		_cleanup_free_ char *line = xasprintf("0::%s\n", pids[i][1]);
		lbt_put(t, path, line);
	}
}

static void setup_k(struct lbt *t, enum kernel k)
{
	lbt_init(t, "0-7");
	build_tree(t, k);
}

static void setup(struct lbt *t)
{
	setup_k(t, K6_12);
}

static void assert_cg_at(const struct lbt *t, const char *cgroup, const char *file,
			 const char *value, const char *srcfile, int line)
{
	_cleanup_free_ char *path = xasprintf(CG "%s/%s", cgroup, file);
	_cleanup_free_ char *want = xasprintf("%s\n", value);
	lbt_assert_file(t, path, want, srcfile, line);
}
#define assert_excl(t, cgroup, value)                                                              \
	assert_cg_at((t), (cgroup), "cpuset.cpus.exclusive", (value), __FILE__, __LINE__)
#define assert_part(t, cgroup, value)                                                              \
	assert_cg_at((t), (cgroup), "cpuset.cpus.partition", (value), __FILE__, __LINE__)

#define apply_ctr(t, id, cpus, pid, err)                                                           \
	lbt_apply_new((t), &lb_cpuset_v2, (id), (cpus), (pid), (err))
#define apply_ok(t, id, cpus, pid) lbt_apply_ok((t), &lb_cpuset_v2, (id), (cpus), (pid))
#define undo_ok(t, id) lbt_undo_ok((t), (id))

static void remove_cg(struct lbt *t, const char *cgroup)
{
	_cleanup_free_ char *dir = xasprintf(CG "%s", cgroup);
	lbt_remove(t, dir);
}

static void test_remote_partition_steps(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	apply_ok(&t, "a", "2-3", PID_A);
	/* Top-down exclusive CPUs on every ancestor below the root, then the partition. */
	assert_writes(log, CG KUBEPODS
		      "/cpuset.cpus.exclusive 2-3\n" CG POD1 "/cpuset.cpus.exclusive 2-3\n" CG CTR_A
		      "/cpuset.cpus.exclusive 2-3\n" CG CTR_A "/cpuset.cpus.partition isolated\n");
	assert_part(&t, KUBEPODS, "member");
	assert_part(&t, POD1, "member");
	assert_true(lbt_has_doc(&t, LEDGER));
	struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t.store, "a", &rec, &err), 1);
	assert_string_equal(rec.actions[NH_ACTION_CPU_LOAD_BALANCING].cgroup, CTR_A);
	container_record_clear(&rec);

	/* poststop: the container's cgroup is gone; bottom-up, empty lists written as "\n". */
	remove_cg(&t, CTR_A);
	free(TAKE_PTR(log));
	undo_ok(&t, "a");
	assert_writes(log,
		      CG POD1 "/cpuset.cpus.exclusive \n" CG KUBEPODS "/cpuset.cpus.exclusive \n");
	_cleanup_free_ char *want =
	    lbt_snapshot_without(&t, setup, (const char *const[]){CG CTR_A, NULL});
	assert_undo_restores(&t, "a", want, LEDGER);
	lbt_fini(&t);
}

static void test_undo_while_cgroup_exists(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "2-3", PID_A);
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	undo_ok(&t, "a");
	/* The partition goes first, then the exclusive CPUs, innermost first. */
	assert_writes(log, CG CTR_A
		      "/cpuset.cpus.partition member\n" CG CTR_A "/cpuset.cpus.exclusive \n" CG POD1
		      "/cpuset.cpus.exclusive \n" CG KUBEPODS "/cpuset.cpus.exclusive \n");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_shared_parent_refcounts(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	apply_ok(&t, "a", "2-3", PID_A);
	apply_ok(&t, "b", "4", PID_B);
	apply_ok(&t, "c", "5", PID_C);
	assert_excl(&t, KUBEPODS, "2-5");
	assert_excl(&t, POD1, "2-4");
	assert_excl(&t, POD2, "5");
	assert_excl(&t, CTR_A, "2-3");
	assert_excl(&t, CTR_B, "4");
	assert_excl(&t, CTR_C, "5");
	assert_part(&t, CTR_A, "isolated");
	assert_part(&t, CTR_B, "isolated");
	assert_part(&t, CTR_C, "isolated");

	/* a exits; the kubelet starts its replacement a2 on the same CPUs before a's poststop
	 * (cri-o #9405): a's undo must leave what a2 needs. */
	remove_cg(&t, CTR_A);
	lbt_put(&t, "/proc/104/cgroup", "0::" CTR_A2 "\n");
	put_cg(&t, CTR_A2, "cpuset.cpus", "2-3");
	put_cg(&t, CTR_A2, "cpuset.cpus.exclusive", "");
	put_cg(&t, CTR_A2, "cpuset.cpus.partition", "member");
	apply_ok(&t, "a2", "2-3", 104);
	undo_ok(&t, "a");
	assert_excl(&t, KUBEPODS, "2-5");
	assert_excl(&t, POD1, "2-4");
	assert_excl(&t, CTR_A2, "2-3");
	assert_part(&t, CTR_A2, "isolated");

	/* b goes: only its CPU leaves the shared ancestors. */
	remove_cg(&t, CTR_B);
	undo_ok(&t, "b");
	assert_excl(&t, KUBEPODS, "2-3,5");
	assert_excl(&t, POD1, "2-3");
	remove_cg(&t, CTR_A2);
	undo_ok(&t, "a2");
	assert_excl(&t, KUBEPODS, "5");
	assert_excl(&t, POD1, "");
	assert_true(lbt_has_doc(&t, LEDGER));

	remove_cg(&t, CTR_C);
	undo_ok(&t, "c");
	lbt_remove(&t, "/proc/104");
	_cleanup_free_ char *want = lbt_snapshot_without(
	    &t, setup, (const char *const[]){CG CTR_A, CG CTR_B, CG CTR_C, NULL});
	assert_snapshot(want, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_update_cpus_moves_partition(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "2-3", PID_A);
	apply_ok(&t, "b", "4", PID_B);

	/* The runtime's update gives a CPU 3 only (it writes the cgroup's cpuset.cpus itself);
	 * lifecycle undoes a (not cgroup v1: no re-apply in place) and applies it for CPU 3. */
	put_cg(&t, CTR_A, "cpuset.cpus", "3");
	struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t.store, "a", &rec, &err), 1);
	_cleanup_cpuset_ struct cpuset cpus = {0};
	assert_ok(cpuset_parse_list("3", &cpus, &err), &err);
	struct node_config config = lbt_config("cgroup-v2");
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	assert_int_equal(lifecycle_update_cpus(t.store, &config, &rec, &cpus, &err), 1);
	assert_null(err);
	lbt_on_write(NULL, NULL);
	/* Undo (a's partition, then its CPUs out of the ancestors, b's CPU 4 staying), then apply
	 * top-down for CPU 3. */
	assert_writes(log, CG CTR_A
		      "/cpuset.cpus.partition member\n" CG CTR_A "/cpuset.cpus.exclusive \n" CG POD1
		      "/cpuset.cpus.exclusive 4\n" CG KUBEPODS
		      "/cpuset.cpus.exclusive 4\n" CG KUBEPODS
		      "/cpuset.cpus.exclusive 3-4\n" CG POD1 "/cpuset.cpus.exclusive 3-4\n" CG CTR_A
		      "/cpuset.cpus.exclusive 3\n" CG CTR_A "/cpuset.cpus.partition isolated\n");
	/* CPU 2 is given back by every ancestor; b keeps CPU 4. */
	assert_excl(&t, KUBEPODS, "3-4");
	assert_excl(&t, POD1, "3-4");
	assert_excl(&t, CTR_A, "3");
	assert_part(&t, CTR_A, "isolated");
	assert_excl(&t, CTR_B, "4");
	assert_part(&t, CTR_B, "isolated");
	assert_string_equal(rec.actions[NH_ACTION_CPU_LOAD_BALANCING].cpus, "3");
	container_record_clear(&rec);

	undo_ok(&t, "a");
	undo_ok(&t, "b");
	put_cg(&t, CTR_A, "cpuset.cpus", "2-3");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

/* The kernel's answer to "isolated" when a partition cannot be valid. */
static int invalid_partition(const char *path, const char *data, size_t len, void *userdata)
{
	(void)userdata;
	if (strcmp(path, CG CTR_A "/cpuset.cpus.partition") != 0 || len < 8 ||
	    strncmp(data, "isolated", 8) != 0)
		return LBT_WRITE_PASS;
	_cleanup_free_ char *host = xasprintf("%s%s", sysroot_get(), path);
	FILE *f = fopen(host, "we");
	fputs("isolated invalid (Invalid cpu list in cpuset.cpus.exclusive)\n", f);
	fclose(f);
	return LBT_WRITE_DONE;
}

#define INVALID_MSG                                                                                \
	"the kernel did not make " CG CTR_A                                                        \
	" an isolated partition: Invalid cpu list in cpuset.cpus.exclusive"

static void test_invalid_partition_rolls_back(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	lbt_on_write(invalid_partition, NULL);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "a", "2-3", PID_A, &err), &err, EINVAL, INVALID_MSG);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	/* The backend rolled back, and so did lifecycle_apply (undo): no record is left. */
	assert_false(lbt_has_record(&t, "a"));

	/* Next to an isolated b under the same pod: b keeps all it has. */
	lbt_on_write(NULL, NULL);
	apply_ok(&t, "b", "4", PID_B);
	_cleanup_free_ char *with_b = lbt_snapshot(&t);
	lbt_on_write(invalid_partition, NULL);
	assert_error(apply_ctr(&t, "a", "2-3", PID_A, &err), &err, EINVAL, INVALID_MSG);
	assert_snapshot(with_b, &t);
	assert_excl(&t, POD1, "4");
	assert_true(lbt_has_doc(&t, LEDGER));
	undo_ok(&t, "b");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static int reject_pod1(const char *path, const char *data, size_t len, void *userdata)
{
	(void)data, (void)len;
	struct lbt *t = userdata;
	if (strcmp(path, CG POD1 "/cpuset.cpus.exclusive") != 0)
		return LBT_WRITE_PASS;
	/* cgroupfs ignores O_TRUNC: a rejected write leaves the value as it was. */
	lbt_put(t, path, "\n");
	return EINVAL;
}

static void test_rejected_write_rolls_back(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	lbt_on_write(reject_pod1, &t);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg = xasprintf(
	    "write '2-3' to %s" CG POD1 "/cpuset.cpus.exclusive: Invalid argument", t.root);
	assert_error(apply_ctr(&t, "a", "2-3", PID_A, &err), &err, EINVAL, msg);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "a"));
	lbt_fini(&t);
}

static void test_local_partitions_only(void **state)
{
	(void)state;
	struct lbt t;
	setup_k(&t, K6_1);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "a", "2-3", PID_A, &err), &err, EOPNOTSUPP,
		     "cgroup v2 on this kernel has only local partitions (no "
		     "cpuset.cpus.exclusive): isolating CPUs needs every ancestor of the container "
		     "to be a partition root, and " CG KUBEPODS " is 'member'; set up a node-level "
		     "isolated partition or use a 6.7+ kernel");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "a"));
	lbt_fini(&t);
}

static void test_local_partition_under_roots(void **state)
{
	(void)state;
	struct lbt t;
	setup_k(&t, K6_1);
	/* A node-level setup: every ancestor is already a partition root. */
	put_cg(&t, KUBEPODS, "cpuset.cpus.partition", "root");
	put_cg(&t, POD1, "cpuset.cpus.partition", "root");
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	apply_ok(&t, "a", "2-3", PID_A);
	assert_writes(log, CG CTR_A "/cpuset.cpus.partition isolated\n");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_no_cpuset_controller(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	/* pod2 does not delegate cpuset to its children. */
	lbt_remove(&t, CG CTR_C);
	put_cg(&t, CTR_C, "cgroup.procs", "103");
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "c", "5", PID_C, &err), &err, ENODEV,
		     CG CTR_C " has no cpuset.cpus.partition: the cpuset controller is not enabled "
			      "for it (cgroup.subtree_control of its parent lacks cpuset); the "
			      "container runtime enables it, nodehook does not change cgroups it "
			      "does not own");
	assert_snapshot(before, &t);
	assert_false(lbt_has_record(&t, "c"));
	lbt_fini(&t);
}

static void test_no_pid(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "a", "2-3", 0, &err), &err, ESRCH,
		     "the runtime's state has no container pid: cannot find the container's "
		     "cgroup");
	assert_false(lbt_has_record(&t, "a"));
	lbt_fini(&t);
}

/* The cgroup isolated is the one config.json's linux.cgroupsPath names: a state pid in another
 * cgroup (Info 14: /system.slice) is refused before anything is recorded or written; the same
 * cgroup, a sub-cgroup of it, the systemd form and a relative path that ends it are accepted. */
static void test_cgroups_path_cross_check(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	lbt_put(&t, "/proc/109/cgroup", "0::/system.slice\n");
	_cleanup_free_ char *before = lbt_snapshot(&t);
	struct lbt_ctr c;
	lbt_ctr_init(&c, "a", "2-3", 109);
	c.info.cgroups_path = xstrdup(CTR_A);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(lbt_apply(&t, &lb_cpuset_v2, &c, &err), &err, EPERM,
		     "container cgroup '/system.slice' (pid 109) is not " CTR_A
		     ", the cgroup config.json's linux.cgroupsPath '" CTR_A
		     "' names: refusing to isolate it");
	lbt_ctr_clear(&c);
	/* A relative cgroupsPath: the pid's cgroup must end with it. */
	lbt_ctr_init(&c, "a", "2-3", 109);
	c.info.cgroups_path = xstrdup("pod1/a");
	assert_error(lbt_apply(&t, &lb_cpuset_v2, &c, &err), &err, EPERM,
		     "container cgroup '/system.slice' (pid 109) is not linux.cgroupsPath "
		     "'pod1/a' of config.json: refusing to isolate it");
	lbt_ctr_clear(&c);
	assert_false(lbt_has_record(&t, "a"));
	assert_snapshot(before, &t);

	/* The matching cgroup (here in systemd's form) is isolated as before. */
	lbt_ctr_init(&c, "a", "2-3", PID_A);
	c.info.cgroups_path = xstrdup("kubepods-pod1.slice:cri-containerd:a");
	assert_ok(lbt_apply(&t, &lb_cpuset_v2, &c, &err), &err);
	assert_excl(&t, CTR_A, "2-3");
	lbt_ctr_clear(&c);
	undo_ok(&t, "a");
	lbt_fini(&t);
}

static void test_availability(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	const char *why = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(lb_cpuset_v2.available(&why, &err), 1);
	/* Auto selection prefers cgroup v2 where the cpuset controller is on it. */
	struct lbt_ctr c;
	lbt_ctr_init(&c, "a", "2-3", PID_A);
	const char *backend = NULL;
	assert_ok(lbt_apply_auto(&t, &c, &backend, &err), &err);
	assert_string_equal(backend, "cgroup-v2");
	assert_excl(&t, CTR_A, "2-3");
	lbt_ctr_clear(&c);

	/* Hybrid: cgroup2 mounted, but without cpuset. */
	lbt_put(&t, "/proc/self/mountinfo",
		"29 22 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	lbt_put(&t, "/sys/fs/cgroup/unified/cgroup.controllers", "\n");
	assert_int_equal(lb_cpuset_v2.available(&why, &err), 0);
	assert_string_equal(why, "the cpuset controller is not on a cgroup v2 hierarchy");
	/* The node config names cgroup-v2: the hook refuses before it records anything. */
	assert_error(apply_ctr(&t, "b", "4", PID_B, &err), &err, ENODEV,
		     "backend cgroup-v2 cannot work here: the cpuset controller is not on a cgroup "
		     "v2 hierarchy");
	assert_false(lbt_has_record(&t, "b"));
	lbt_fini(&t);
}

/* --- crash safety ---------------------------------------------------------------------------- */

static int scenario_apply_a(struct lbt *t)
{
	return lbt_child_apply(t, &lb_cpuset_v2, "a", "2-3", PID_A);
}

static int scenario_apply_a_invalid(struct lbt *t)
{
	lbt_on_write(invalid_partition, NULL);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = apply_ctr(t, "a", "2-3", PID_A, &err);
	return r == -EINVAL && strcmp(err->msg, INVALID_MSG) == 0 ? 0 : 1;
}

static int scenario_undo_a(struct lbt *t)
{
	return lbt_child_undo(t, "a");
}

static const struct lbt_scenario scenarios[] = {
    {"apply-a", scenario_apply_a},
    {"apply-a-invalid", scenario_apply_a_invalid},
    {"undo-a", scenario_undo_a},
    {NULL, NULL},
};

static char *build_plain(struct lbt *t)
{
	build_tree(t, K6_12);
	return lbt_snapshot(t);
}

static char *build_with_b(struct lbt *t)
{
	build_tree(t, K6_12);
	apply_ok(t, "b", "4", PID_B);
	return lbt_snapshot(t);
}

/* b isolated; a isolated on top; the snapshot is from before a. */
static char *build_b_then_a(struct lbt *t)
{
	char *with_b = build_with_b(t);
	apply_ok(t, "a", "2-3", PID_A);
	return with_b;
}

static void recover_a(struct lbt *t)
{
	undo_ok(t, "a");
}

static void test_crash_apply(void **state)
{
	(void)state;
	const struct lbt_crash_case plain = {build_plain, "apply-a", recover_a};
	/* ledger, then 3 exclusive files and the partition, each recorded */
	assert_true(lbt_crash_each_point(&plain, "0-7") >= 5);
	const struct lbt_crash_case shared = {build_with_b, "apply-a", recover_a};
	assert_true(lbt_crash_each_point(&shared, "0-7") >= 5);
}

static void test_crash_rollback(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_with_b, "apply-a-invalid", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-7") >= 6);
}

static void test_crash_undo(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_b_then_a, "undo-a", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-7") >= 3);
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_remote_partition_steps);
	tu_suite_add_test(&s, test_undo_while_cgroup_exists);
	tu_suite_add_test(&s, test_shared_parent_refcounts);
	tu_suite_add_test(&s, test_update_cpus_moves_partition);
	tu_suite_add_test(&s, test_invalid_partition_rolls_back);
	tu_suite_add_test(&s, test_rejected_write_rolls_back);
	tu_suite_add_test(&s, test_local_partitions_only);
	tu_suite_add_test(&s, test_local_partition_under_roots);
	tu_suite_add_test(&s, test_no_cpuset_controller);
	tu_suite_add_test(&s, test_no_pid);
	tu_suite_add_test(&s, test_cgroups_path_cross_check);
	tu_suite_add_test(&s, test_availability);
	tu_suite_add_test(&s, test_crash_apply);
	tu_suite_add_test(&s, test_crash_rollback);
	tu_suite_add_test(&s, test_crash_undo);
	return tu_suite_run(&s, "lb_cpuset_v2");
}
