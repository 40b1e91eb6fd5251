/* The cgroup v1 backend (lb_cpuset_v1) planning on a FAKE cpuset tree.
 *
 * A fake tree: this machine does have cgroup v1 (kernel 6.18, no v2 cpuset), but its cpuset
 * hierarchy is the node's own, and a unit test must not change how the node balances its CPUs;
 * a fake tree also gives the realistic shape (kubepods, libpod_parent, system.slice) and the
 * vanishing cgroups at will. Real kernels: tests/e2e (this machine) and tests/vm (6.1 in QEMU).
 * What a fake tree cannot show is the kernel building sched domains or refusing a write: these
 * tests check which files the backend writes, with what, and that undo puts every byte back.
 * See test-lb_util.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "cleanup.h"
#include "lb_ledger.h"
#include "lifecycle.h"
#include "sysroot.h"
#include "test-lb_util.h"
#include "utf8.h"
#include "xalloc.h"

#define MOUNT "/sys/fs/cgroup/cpuset"
#define HOUSEKEEPING MOUNT "/nodehook-housekeeping"
#define LEDGER "cpuset-v1.json"

/* A hybrid-hierarchy node as systemd sets it up: v1 controllers and an empty unified tree. */
static const char mountinfo[] =
    "23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpu,cpuacct\n";

/* cgroup, cpuset.cpus, cpuset.sched_load_balance: kubelet's cgroupfs layout with Guaranteed pods
 * directly under kubepods, Podman's libpod_parent, systemd slices. */
static const char *const tree[][3] = {
    {"/", "0-7", "1"},
    {"/kubepods", "0-7", "1"},
    {"/kubepods/besteffort", "0-7", "1"},
    {"/kubepods/burstable", "0-7", "1"},
    {"/kubepods/burstable/pod-b", "0-7", "1"},
    {"/kubepods/burstable/pod-b/ctr-b", "0-1,5,7", "1"}, /* the shared pool */
    {"/kubepods/pod-g1", "0-7", "1"},
    {"/kubepods/pod-g1/ctr-a", "2-3", "1"},
    {"/kubepods/pod-g2", "0-7", "1"},
    {"/kubepods/pod-g2/ctr-c", "3-4", "1"},
    {"/kubepods/pod-g3", "0-7", "1"},
    {"/kubepods/pod-g3/ctr-d", "6", "1"},
    {"/libpod_parent", "0-7", "1"},
    {"/machine.slice", "0-7", "0"}, /* 0 before nodehook: never touched */
    {"/system.slice", "0-7", "1"},
    {"/system.slice/sshd.service", "0-7", "1"},
    {"/user.slice", "0-1", "1"},
};
#define N_TREE (sizeof(tree) / sizeof(tree[0]))

static char *cg_path(const char *cgroup, const char *file)
{
	return xasprintf(MOUNT "%s/%s", strcmp(cgroup, "/") ? cgroup : "", file);
}

static void put_cg_file(struct lbt *t, const char *cgroup, const char *file, const char *value)
{
	_cleanup_free_ char *path = cg_path(cgroup, file);
	_cleanup_free_ char *line = xasprintf("%s\n", value);
	lbt_put(t, path, line);
}

static void build_tree(struct lbt *t)
{
	lbt_put(t, "/proc/self/mountinfo", mountinfo);
	lbt_put(t, "/sys/fs/cgroup/unified/cgroup.controllers", "\n");
	for (size_t i = 0; i < N_TREE; i++) {
		put_cg_file(t, tree[i][0], "cpuset.cpus", tree[i][1]);
		put_cg_file(t, tree[i][0], "cpuset.sched_load_balance", tree[i][2]);
		put_cg_file(t, tree[i][0], "cpuset.mems", "0");
		put_cg_file(t, tree[i][0], "cpuset.cpu_exclusive", "0");
		_cleanup_free_ char *procs = cg_path(tree[i][0], "cgroup.procs");
		lbt_put(t, procs, strcmp(tree[i][0], "/") ? "" : "1\n");
	}
}

static void setup(struct lbt *t)
{
	lbt_init(t, "0-7");
	build_tree(t);
}

static void assert_lb_at(const struct lbt *t, const char *cgroup, const char *value,
			 const char *file, int line)
{
	_cleanup_free_ char *path = cg_path(cgroup, "cpuset.sched_load_balance");
	_cleanup_free_ char *want = xasprintf("%s\n", value);
	lbt_assert_file(t, path, want, file, line);
}
#define assert_lb(t, cgroup, value) assert_lb_at((t), (cgroup), (value), __FILE__, __LINE__)

/* Each cgroup of the fixture whose flag must read `value`; NULL-terminated. */
static void assert_lbs_at(const struct lbt *t, const char *value, const char *const *cgroups,
			  const char *file, int line)
{
	for (size_t i = 0; cgroups[i]; i++)
		assert_lb_at(t, cgroups[i], value, file, line);
}
#define assert_lbs(t, value, ...)                                                                  \
	assert_lbs_at((t), (value), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

#define apply_ok(t, id, cpus) lbt_apply_ok((t), &lb_cpuset_v1, (id), (cpus), 0)
#define undo_ok(t, id) lbt_undo_ok((t), (id))

static void test_one_container(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");

	/* Every balanced cpuset overlapping 2-3 goes to 0, the root and the container included. */
	assert_lbs(&t, "0", "/", "/kubepods", "/kubepods/besteffort", "/kubepods/burstable",
		   "/kubepods/burstable/pod-b", "/kubepods/pod-g1", "/kubepods/pod-g1/ctr-a",
		   "/kubepods/pod-g2", "/kubepods/pod-g2/ctr-c", "/kubepods/pod-g3",
		   "/libpod_parent", "/system.slice", "/system.slice/sshd.service");
	/* No overlap: untouched. */
	assert_lbs(&t, "1", "/kubepods/burstable/pod-b/ctr-b", "/kubepods/pod-g3/ctr-d",
		   "/user.slice");
	assert_lb(&t, "/machine.slice", "0");
	/* Housekeeping keeps the other online CPUs balanced, with the root's memory nodes. */
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-1,4-7\n");
	assert_file(&t, HOUSEKEEPING "/cpuset.mems", "0\n");
	assert_file(&t, HOUSEKEEPING "/cpuset.sched_load_balance", "1\n");
	assert_true(lbt_has_doc(&t, LEDGER));

	assert_undo_restores(&t, "ctr-a", before, LEDGER);
	lbt_fini(&t);
}

static void test_overlapping_containers(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	apply_ok(&t, "ctr-a", "2-3");
	apply_ok(&t, "ctr-c", "3-4");
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-1,5-7\n");
	assert_lbs(&t, "1", "/kubepods/burstable/pod-b/ctr-b", "/kubepods/pod-g3/ctr-d");

	/* ctr-a stops; its cgroup is gone by poststop. ctr-c still holds 3-4. */
	lbt_remove(&t, MOUNT "/kubepods/pod-g1/ctr-a");
	undo_ok(&t, "ctr-a");
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-2,5-7\n");
	assert_lbs(&t, "0", "/", "/kubepods", "/kubepods/pod-g1", "/kubepods/pod-g2/ctr-c",
		   "/system.slice");
	assert_true(lbt_has_doc(&t, LEDGER));

	lbt_remove(&t, MOUNT "/kubepods/pod-g2/ctr-c");
	undo_ok(&t, "ctr-c");
	_cleanup_free_ char *want =
	    lbt_snapshot_without(&t, setup,
				 (const char *const[]){MOUNT "/kubepods/pod-g1/ctr-a",
						       MOUNT "/kubepods/pod-g2/ctr-c", NULL});
	assert_snapshot(want, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_distinct_containers(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");
	_cleanup_free_ char *after_a = lbt_snapshot(&t);
	apply_ok(&t, "ctr-d", "6");
	assert_lb(&t, "/kubepods/pod-g3/ctr-d", "0");
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-1,4-5,7\n");

	/* ctr-d stopped but was not removed (its cgroup stays): its flag must come back to 1,
	 * everything ctr-a needs stays as it is. */
	undo_ok(&t, "ctr-d");
	assert_snapshot(after_a, &t);
	undo_ok(&t, "ctr-a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_guard_new_cpuset(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");

	/* A pod created after the isolation: cgroupfs makes it balanced, the kubelet gives it every
	 * CPU. Another one only gets CPUs outside the isolated set. */
	_cleanup_free_ char *pod_new = sysroot_path(MOUNT "/kubepods/pod-new");
	_cleanup_free_ char *pod_far = sysroot_path(MOUNT "/kubepods/pod-far");
	assert_int_equal(mkdir(pod_new, 0755), 0);
	assert_int_equal(mkdir(pod_far, 0755), 0);
	assert_lb(&t, "/kubepods/pod-new", "1");
	put_cg_file(&t, "/kubepods/pod-new", "cpuset.cpus", "0-7");
	put_cg_file(&t, "/kubepods/pod-far", "cpuset.cpus", "0-1");

	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	assert_lb(&t, "/kubepods/pod-new", "0");
	assert_lb(&t, "/kubepods/pod-far", "1");

	undo_ok(&t, "ctr-a");
	assert_lb(&t, "/kubepods/pod-new", "1");
	assert_false(lbt_exists(&t, HOUSEKEEPING));
	assert_int_equal(rmdir(pod_new), 0);
	assert_int_equal(rmdir(pod_far), 0);
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_guard_without_ledger(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

/* Finding 8: a ledger whose contents would escape the cgroup mount or are of the wrong type is
 * refused when read; nothing is written or removed. */
static void test_hostile_ledger(void **state)
{
	(void)state;
	static const char *const docs[][2] = {
	    {"{\"isolated\":{},\"changed\":[{\"cgroup\":\"/../../../../outside\",\"old\":\"1\"}]}",
	     "cpuset-v1.json: \"changed\"[0]: expected {\"cgroup\": an absolute cgroup path "
	     "without "
	     "\"..\", \"old\": \"0\" or \"1\"}"},
	    {"{\"isolated\":{},\"changed\":[],\"housekeeping\":\"/../../../../victimdir\"}",
	     "cpuset-v1.json: \"housekeeping\" is not a valid cgroup path"},
	    {"{\"isolated\":{},\"changed\":[{\"cgroup\":null,\"old\":\"1\"}]}",
	     "cpuset-v1.json: \"changed\"[0]: expected {\"cgroup\": an absolute cgroup path "
	     "without "
	     "\"..\", \"old\": \"0\" or \"1\"}"},
	    {"{\"isolated\":{},\"changed\":[{\"cgroup\":\"/kubepods\",\"old\":null}]}",
	     "cpuset-v1.json: \"changed\"[0]: expected {\"cgroup\": an absolute cgroup path "
	     "without "
	     "\"..\", \"old\": \"0\" or \"1\"}"},
	    {"{\"isolated\":{\"ctr-a\":null},\"changed\":[]}",
	     "cpuset-v1.json: \"isolated\": the entry of 'ctr-a' is not a string"},
	    {"{\"isolated\":null,\"changed\":[]}",
	     "cpuset-v1.json: \"isolated\" or \"changed\" has the wrong type"},
	    {"{\"mount\":\"/sys/fs/cgroup/../../outside\",\"isolated\":{},\"changed\":[]}",
	     "cpuset-v1.json: \"mount\" is not a valid path"},
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct lbt t;
		setup(&t);
		lbt_put(&t, "/outside/cpuset.sched_load_balance", "0\n");
		lbt_put(&t, "/victimdir/keep", "x");
		json_object *doc = json_tokener_parse(docs[i][0]);
		assert_non_null(doc);
		struct nh_error *err = NULL;
		assert_ok(state_doc_write(t.store, LEDGER, doc, &err), &err);
		json_object_put(doc);
		_cleanup_free_ char *before = lbt_snapshot(&t);
		_cleanup_error_ struct nh_error *gerr = NULL;
		int r = lbt_guard(&t, &lb_cpuset_v1, &gerr);
		if (r >= 0 || !gerr || !strstr(gerr->msg, docs[i][1]))
			fail_msg("ledger %s: r=%d, error '%s', want '%s'", docs[i][0], r,
				 gerr ? gerr->msg : "", docs[i][1]);
		assert_int_equal(r, -EBADMSG);
		assert_snapshot(before, &t);
		assert_file(&t, "/outside/cpuset.sched_load_balance", "0\n");
		assert_true(lbt_exists(&t, "/victimdir/keep"));
		lbt_fini(&t);
	}
}

static void test_refuse_every_cpu(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(lbt_apply_new(&t, &lb_cpuset_v1, "ctr-all", "0-7", 0, &err), &err, EBUSY,
		     "cannot take every online CPU out of load balancing: no housekeeping CPU "
		     "would be left");
	/* lifecycle_apply rolled back (undo): the tree, the ledger and the record are gone. */
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "ctr-all"));
	lbt_fini(&t);
}

static int update_cpus(struct lbt *t, const char *id, const char *cpus, struct nh_error **err)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_cpuset_ struct cpuset set = {0};
	struct node_config config = lbt_config("auto");
	assert_int_equal(state_record_read(t->store, id, &rec, err), 1);
	assert_int_equal(cpuset_parse_list(cpus, &set, err), 0);
	return lifecycle_update_cpus(t->store, &config, &rec, &set, err);
}

static void assert_record_cpus(struct lbt *t, const char *id, const char *cpus, bool applied)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t->store, id, &rec, &err), 1);
	const struct action_record *ar = &rec.actions[NH_ACTION_CPU_LOAD_BALANCING];
	assert_string_equal(ar->cpus, cpus);
	assert_int_equal(ar->applied, applied);
}

/* Audit finding 1: an update the backend refuses (every online CPU) left the ledger with the
 * refused CPUs, and from then on every guard (every container start) failed. Now the record,
 * the ledger and the tree stay as they were, and the guard works. */
static void test_failed_update_keeps_ledger(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");
	_cleanup_free_ char *tree_a = lbt_snapshot(&t);
	_cleanup_free_ char *ledger_a = lbt_get(&t, LBT_STATE "/" LEDGER);
	assert_non_null(ledger_a);

	_cleanup_error_ struct nh_error *err = NULL;
	int r = update_cpus(&t, "ctr-a", "0-7", &err);
	assert_int_equal(r, -EBUSY);
	assert_non_null(strstr(err->msg, "cannot take every online CPU out of load balancing"));
	assert_non_null(strstr(err->msg, "; it stays on CPUs 2-3"));
	err = nh_error_free(err);
	_cleanup_free_ char *ledger_after = lbt_get(&t, LBT_STATE "/" LEDGER);
	assert_string_equal(ledger_after, ledger_a);
	assert_snapshot(tree_a, &t);
	assert_record_cpus(&t, "ctr-a", "2-3", true);
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);

	/* A correct update afterwards moves it. */
	assert_int_equal(update_cpus(&t, "ctr-a", "4-5", &err), 1);
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-3,6-7\n");
	assert_record_cpus(&t, "ctr-a", "4-5", true);

	/* A node left by the old code: ledger and record with the refused CPUs, half-applied.
	 * The guard fails; the next correct update repairs it instead of skipping the record. */
	_cleanup_(container_record_clear) struct container_record rec = {0};
	assert_int_equal(state_record_read(t.store, "ctr-a", &rec, &err), 1);
	struct action_record *ar = &rec.actions[NH_ACTION_CPU_LOAD_BALANCING];
	free(ar->cpus);
	ar->cpus = xstrdup("0-7");
	ar->applied = false;
	assert_ok(state_record_write(t.store, &rec, &err), &err);
	_cleanup_free_ char *ledger_45 = lbt_get(&t, LBT_STATE "/" LEDGER);
	char *at = strstr(ledger_45, "\"4-5\"");
	assert_non_null(at);
	_cleanup_free_ char *broken =
	    xasprintf("%.*s\"0-7\"%s", (int)(at - ledger_45), ledger_45, at + strlen("\"4-5\""));
	lbt_put(&t, LBT_STATE "/" LEDGER, broken);
	assert_int_equal(lbt_guard(&t, &lb_cpuset_v1, &err), -EBUSY);
	err = nh_error_free(err);
	assert_int_equal(update_cpus(&t, "ctr-a", "4-5", &err), 1);
	assert_record_cpus(&t, "ctr-a", "4-5", true);
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-3,6-7\n");

	assert_undo_restores(&t, "ctr-a", before, LEDGER);
	lbt_fini(&t);
}

static void put_cpuset(struct lbt *t, const char *cgroup, const char *cpus)
{
	put_cg_file(t, cgroup, "cpuset.cpus", cpus);
	put_cg_file(t, cgroup, "cpuset.mems", "0");
	put_cg_file(t, cgroup, "cpuset.sched_load_balance", "1");
}

/* Audit finding 2: a cpuset named with bytes that are not UTF-8 went into the ledger as they
 * are, and the next read of the ledger failed (every guard, poststop, gc, restore). Now the name
 * is stored percent-encoded ("cgroup_bytes"), read back as the same bytes, and undone. */
static void test_cgroup_name_not_utf8(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");
	put_cpuset(&t, "/kubepods/evil\xff%41", "2-3");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	assert_lb(&t, "/kubepods/evil\xff%41", "0");
	_cleanup_free_ char *ledger = lbt_get(&t, LBT_STATE "/" LEDGER);
	assert_true(utf8_valid(ledger, strlen(ledger)));
	if (!strstr(ledger, "\"cgroup_bytes\":\"/kubepods/evil%FF%2541\""))
		fail_msg("ledger: %s", ledger);
	/* Read back: the guard again, and another container, work. */
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	apply_ok(&t, "ctr-d", "6");
	undo_ok(&t, "ctr-d");
	/* Undo gives the cpuset its flag back, by its real name. */
	undo_ok(&t, "ctr-a");
	assert_lb(&t, "/kubepods/evil\xff%41", "1");
	lbt_remove(&t, MOUNT "/kubepods/evil\xff%41");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

/* One bad ledger entry (here a CPU list that does not parse) costs its container its isolation
 * and nothing else: the guard, another container's apply and undo go on. */
static void test_bad_ledger_entry(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "ctr-a", "2-3");
	_cleanup_free_ char *ledger = lbt_get(&t, LBT_STATE "/" LEDGER);
	char *at = strstr(ledger, "\"ctr-a\":\"2-3\"");
	assert_non_null(at);
	_cleanup_free_ char *bad =
	    xasprintf("%.*s\"ctr-x\":\"9-1\",%s", (int)(at - ledger), ledger, at);
	lbt_put(&t, LBT_STATE "/" LEDGER, bad);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	assert_file(&t, HOUSEKEEPING "/cpuset.cpus", "0-1,4-7\n");
	apply_ok(&t, "ctr-d", "6");
	undo_ok(&t, "ctr-d");
	assert_lb(&t, "/kubepods/pod-g1/ctr-a", "0");
	undo_ok(&t, "ctr-a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_cgroup_name_encoding(void **state)
{
	(void)state;
	char name[256];
	for (int i = 1; i < 256; i++)
		name[i - 1] = (char)i;
	name[255] = '\0';
	_cleanup_free_ char *enc = lb_cgroup_encode(name);
	assert_true(utf8_valid(enc, strlen(enc)));
	_cleanup_free_ char *dec = NULL;
	assert_int_equal(lb_cgroup_decode(enc, &dec), 0);
	assert_string_equal(dec, name);
	_cleanup_free_ char *plain = lb_cgroup_encode("/kubepods/pod-g1");
	assert_string_equal(plain, "/kubepods/pod-g1");
	static const char *const bad[] = {"%", "%4", "%G0", "%00", "a%zz"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL;
		assert_int_equal(lb_cgroup_decode(bad[i], &out), -EBADMSG);
		assert_null(out);
	}
}

/* Audit finding 2, the variant: a chain of cpusets deeper than the walk's limit failed every
 * guard with ELOOP. The walk now skips what is deeper (it stays as it is) and goes on. */
static void test_deep_tree(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	apply_ok(&t, "ctr-a", "2-3");
	_cleanup_free_ char *top = xstrdup("/system.slice");
	_cleanup_free_ char *deepest = NULL;
	char *path = xstrdup(top);
	for (unsigned depth = 2; depth <= CGROUP_WALK_MAX_DEPTH + 5; depth++) {
		char *next = xasprintf("%s/n", path);
		free(path);
		path = next;
		put_cpuset(&t, path, "2-3");
	}
	deepest = path;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_cpuset_v1, &err), &err);
	_cleanup_free_ char *at_limit =
	    xstrndup(deepest, strlen(top) + 2 * (CGROUP_WALK_MAX_DEPTH - 1));
	assert_lb(&t, at_limit, "0");
	assert_lb(&t, deepest, "1");
	undo_ok(&t, "ctr-a");
	assert_lb(&t, at_limit, "1");
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_remove(&t, MOUNT "/system.slice/n");
	lbt_fini(&t);
}

/* --- crash safety ---------------------------------------------------------------------------- */

static int scenario_apply_a(struct lbt *t)
{
	return lbt_child_apply(t, &lb_cpuset_v1, "ctr-a", "2-3", 0);
}

static int scenario_undo_a(struct lbt *t)
{
	return lbt_child_undo(t, "ctr-a");
}

static const struct lbt_scenario scenarios[] = {
    {"apply-a", scenario_apply_a},
    {"undo-a", scenario_undo_a},
    {NULL, NULL},
};

static char *build_plain(struct lbt *t)
{
	build_tree(t);
	return lbt_snapshot(t);
}

static char *build_with_d(struct lbt *t)
{
	build_tree(t);
	apply_ok(t, "ctr-d", "6");
	return lbt_snapshot(t);
}

/* ctr-a isolated; the snapshot is from before it. */
static char *build_then_a(struct lbt *t)
{
	char *before = build_plain(t);
	apply_ok(t, "ctr-a", "2-3");
	return before;
}

/* ctr-d, then ctr-a on top; the snapshot is from before ctr-a. */
static char *build_d_then_a(struct lbt *t)
{
	char *with_d = build_with_d(t);
	apply_ok(t, "ctr-a", "2-3");
	return with_d;
}

static void recover_a(struct lbt *t)
{
	undo_ok(t, "ctr-a");
	assert_false(lbt_has_doc(t, LEDGER));
}

static void recover_a_then_d(struct lbt *t)
{
	undo_ok(t, "ctr-a");
	assert_true(lbt_has_doc(t, LEDGER));
}

static void test_crash_apply(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_plain, "apply-a", recover_a};
	unsigned killed = lbt_crash_each_point(&cc, "0-7");
	/* record, ledger, housekeeping, then one per flag turned off */
	assert_true(killed >= 10);
}

static void test_crash_apply_next_to_another(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_with_d, "apply-a", recover_a_then_d};
	assert_true(lbt_crash_each_point(&cc, "0-7") >= 3);
}

static void test_crash_undo(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_then_a, "undo-a", recover_a};
	unsigned killed = lbt_crash_each_point(&cc, "0-7");
	/* one per flag given back (13 cpusets overlap 2-3), then the housekeeping cpuset's rmdir */
	assert_true(killed >= 14);
}

static void test_crash_undo_next_to_another(void **state)
{
	(void)state;
	/* ctr-d keeps its own flag and every shared one off, and the housekeeping cpuset. */
	const struct lbt_crash_case cc = {build_d_then_a, "undo-a", recover_a_then_d};
	/* the two flags only ctr-a needed off: its own and ctr-c's (every pod covers 6) */
	assert_true(lbt_crash_each_point(&cc, "0-7") >= 2);
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_one_container);
	tu_suite_add_test(&s, test_overlapping_containers);
	tu_suite_add_test(&s, test_distinct_containers);
	tu_suite_add_test(&s, test_guard_new_cpuset);
	tu_suite_add_test(&s, test_guard_without_ledger);
	tu_suite_add_test(&s, test_refuse_every_cpu);
	tu_suite_add_test(&s, test_failed_update_keeps_ledger);
	tu_suite_add_test(&s, test_cgroup_name_not_utf8);
	tu_suite_add_test(&s, test_cgroup_name_encoding);
	tu_suite_add_test(&s, test_bad_ledger_entry);
	tu_suite_add_test(&s, test_deep_tree);
	tu_suite_add_test(&s, test_hostile_ledger);
	tu_suite_add_test(&s, test_crash_apply);
	tu_suite_add_test(&s, test_crash_apply_next_to_another);
	tu_suite_add_test(&s, test_crash_undo);
	tu_suite_add_test(&s, test_crash_undo_next_to_another);
	return tu_suite_run(&s, "lb_cpuset_v1");
}
