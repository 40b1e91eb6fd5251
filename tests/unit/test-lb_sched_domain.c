/* The legacy backend (lb_sched_domain) on a FAKE /proc/sys/kernel/sched_domain.
 *
 * A fake tree because the tree only exists, writable, on kernels before 5.8 with
 * CONFIG_SCHED_DEBUG (RHEL 8's 4.18), and this machine runs 6.18. The fixture has the shape of a
 * 4-CPU, 2-socket 4.18 node: domain0 (MC) and domain1 (DIE) per CPU, decimal flags with
 * SD_LOAD_BALANCE (bit 0) set, except one domain where it is already clear. The kernel's domain
 * rebuilds (the whole tree vanishes and comes back with default flags) are played by the write
 * and sleep hooks of test-lb_util.h. Real-kernel tests (tests/e2e on this machine, tests/vm on
 * 6.1 and 6.12) cannot reach this backend: it needs a kernel before 5.8, such as RHEL 8's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "sysroot.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define SD "/proc/sys/kernel/sched_domain"
#define LEDGER "sched-domain.json"
#define MC_FLAGS "4655"	 /* LOAD_BALANCE|NEWIDLE|EXEC|FORK|WAKE_AFFINE|SHARE_PKG|PREFER_SIB */
#define DIE_FLAGS "4143" /* the same without SHARE_PKG_RESOURCES */

/* The flags of cpuN/domainM as the kernel makes them at a rebuild; cpu3's DIE domain has load
 * balancing off already (someone else's doing). */
static const char *default_flags(unsigned cpu, unsigned domain)
{
	if (domain == 0)
		return MC_FLAGS;
	return cpu == 3 ? "4142" : DIE_FLAGS;
}

static void put_domains(struct lbt *t)
{
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		for (unsigned domain = 0; domain < 2; domain++) {
			char dir[96];
			snprintf(dir, sizeof(dir), SD "/cpu%u/domain%u", cpu, domain);
			const char *const files[][2] = {
			    {"name", domain ? "DIE\n" : "MC\n"},
			    {"min_interval", domain ? "4\n" : "2\n"},
			    {"max_interval", domain ? "8\n" : "4\n"},
			    {"imbalance_pct", domain ? "125\n" : "117\n"},
			    {"flags", NULL},
			};
			for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
				_cleanup_free_ char *path = xasprintf("%s/%s", dir, files[i][0]);
				_cleanup_free_ char *flags =
				    xasprintf("%s\n", default_flags(cpu, domain));
				lbt_put(t, path, files[i][1] ? files[i][1] : flags);
			}
		}
	}
}

static void build_tree(struct lbt *t, const char *release)
{
	_cleanup_free_ char *line = xasprintf("%s\n", release);
	lbt_put(t, "/proc/sys/kernel/osrelease", line);
	lbt_put(t, "/proc/self/mountinfo",
		"22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n");
	put_domains(t);
}

static void setup(struct lbt *t)
{
	lbt_init(t, "0-3");
	build_tree(t, "4.18.0-553.el8_10.x86_64");
}

static void assert_flags_at(const struct lbt *t, unsigned cpu, unsigned domain, const char *flags,
			    const char *file, int line)
{
	char path[96];
	snprintf(path, sizeof(path), SD "/cpu%u/domain%u/flags", cpu, domain);
	_cleanup_free_ char *want = xasprintf("%s\n", flags);
	lbt_assert_file(t, path, want, file, line);
}
#define assert_flags(t, cpu, domain, flags)                                                        \
	assert_flags_at((t), (cpu), (domain), (flags), __FILE__, __LINE__)

#define apply_ctr(t, id, cpus, err) lbt_apply_new((t), &lb_sched_domain, (id), (cpus), 0, (err))
#define apply_ok(t, id, cpus) lbt_apply_ok((t), &lb_sched_domain, (id), (cpus), 0)
#define undo_ok(t, id) lbt_undo_ok((t), (id))

static void test_available(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	const char *why = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(lb_sched_domain.available(&why, &err), 1);
	lbt_put(&t, "/proc/sys/kernel/osrelease", "5.7.19\n");
	assert_int_equal(lb_sched_domain.available(&why, &err), 1);
	/* 5.8+: the file may still be there, writes do nothing. */
	lbt_put(&t, "/proc/sys/kernel/osrelease", "5.10.0-28-amd64\n");
	assert_int_equal(lb_sched_domain.available(&why, &err), 0);
	assert_string_equal(why, "the kernel is 5.8 or later: sched_domain flags are read-only and "
				 "SD_LOAD_BALANCE is gone");
	lbt_put(&t, "/proc/sys/kernel/osrelease", "6.18.44\n");
	assert_int_equal(lb_sched_domain.available(&why, &err), 0);
	lbt_put(&t, "/proc/sys/kernel/osrelease", "4.18.0\n");
	lbt_remove(&t, SD);
	assert_int_equal(lb_sched_domain.available(&why, &err), 0);
	assert_string_equal(why, "no " SD " (the kernel lacks CONFIG_SCHED_DEBUG)");
	lbt_fini(&t);
}

static void test_clear_and_restore(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	apply_ok(&t, "a", "1-2");
	assert_writes(log, SD "/cpu1/domain0/flags 4654\n" SD "/cpu1/domain1/flags 4142\n" SD
			      "/cpu2/domain0/flags 4654\n" SD "/cpu2/domain1/flags 4142\n");
	assert_flags(&t, 0, 0, MC_FLAGS);
	assert_flags(&t, 3, 0, MC_FLAGS);
	assert_true(lbt_has_doc(&t, LEDGER));

	assert_undo_restores(&t, "a", before, LEDGER);
	lbt_fini(&t);
}

static void test_refcounts(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1-2");
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	apply_ok(&t, "b", "2");
	assert_null(log); /* everything b needs is done already */
	apply_ok(&t, "c", "3");
	/* cpu3's DIE domain was not balanced before: untouched, not recorded. */
	assert_writes(log, SD "/cpu3/domain0/flags 4654\n");
	assert_flags(&t, 3, 1, "4142");

	undo_ok(&t, "a");
	assert_flags(&t, 1, 0, MC_FLAGS);
	assert_flags(&t, 1, 1, DIE_FLAGS);
	assert_flags(&t, 2, 0, "4654"); /* b still holds CPU 2 */
	assert_flags(&t, 2, 1, "4142");
	undo_ok(&t, "c");
	assert_flags(&t, 3, 0, MC_FLAGS);
	assert_flags(&t, 3, 1, "4142");
	undo_ok(&t, "b");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

/* A domain rebuild: the tree vanishes at the first write to cpu2, and comes back with the
 * kernel's default flags when the backend pauses (or never, when `forever`). */
struct rebuild {
	struct lbt *t;
	bool started, forever;
	unsigned sleeps;
};

static int start_rebuild(const char *path, const char *data, size_t len, void *userdata)
{
	(void)data, (void)len;
	struct rebuild *rb = userdata;
	if (rb->started || strncmp(path, SD "/cpu2/", strlen(SD "/cpu2/")) != 0)
		return LBT_WRITE_PASS;
	rb->started = true;
	lbt_remove(rb->t, SD);
	return ENOENT;
}

static void finish_rebuild(void *userdata)
{
	struct rebuild *rb = userdata;
	rb->sleeps++;
	if (!rb->forever)
		put_domains(rb->t);
}

static void test_tree_rebuilt_mid_walk(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	struct rebuild rb = {.t = &t};
	lbt_on_write(start_rebuild, &rb);
	lbt_on_sleep(finish_rebuild, &rb);
	apply_ok(&t, "a", "1-2");
	assert_true(rb.started);
	assert_int_equal(rb.sleeps, 1);
	/* The rebuilt tree has the defaults back; the second walk cleared them all. */
	assert_flags(&t, 1, 0, "4654");
	assert_flags(&t, 1, 1, "4142");
	assert_flags(&t, 2, 0, "4654");
	assert_flags(&t, 2, 1, "4142");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	lbt_fini(&t);
}

static void test_tree_never_comes_back(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	struct rebuild rb = {.t = &t, .forever = true};
	lbt_on_write(start_rebuild, &rb);
	lbt_on_sleep(finish_rebuild, &rb);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "a", "1-2", &err), &err, EAGAIN,
		     SD " kept changing (domains rebuilt) during 5 walks");
	assert_int_equal(rb.sleeps, 4);
	/* Rolled back: what vanished was rebuilt with defaults, nothing is left to restore. */
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "a"));
	put_domains(&t);
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_guard_after_rebuild(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_guard(&t, &lb_sched_domain, &err), &err);
	assert_flags(&t, 1, 0, "4654");
	/* A CPU hotplug rebuilt the domains: defaults again. The next container start fixes it. */
	put_domains(&t);
	assert_flags(&t, 1, 0, MC_FLAGS);
	assert_ok(lbt_guard(&t, &lb_sched_domain, &err), &err);
	assert_flags(&t, 1, 0, "4654");
	assert_flags(&t, 1, 1, "4142");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_refuse_every_cpu(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(apply_ctr(&t, "a", "0-3", &err), &err, EBUSY,
		     "cannot take every online CPU out of load balancing: no housekeeping CPU "
		     "would be left");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, LEDGER));
	assert_false(lbt_has_record(&t, "a"));
	lbt_fini(&t);
}

static void test_auto_order(void **state)
{
	(void)state;
	struct lbt t;
	setup(&t);
	/* No cpuset hierarchy mounted: only the legacy flags. */
	struct lbt_ctr c;
	lbt_ctr_init(&c, "a", "1", 0);
	const char *backend = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_apply_auto(&t, &c, &backend, &err), &err);
	assert_string_equal(backend, "sched-domain");
	assert_flags(&t, 1, 0, "4654");
	undo_ok(&t, "a");
	lbt_ctr_clear(&c);

	/* RHEL 8 mounts the v1 cpuset: it wins over the flags. */
	lbt_put(&t, "/proc/self/mountinfo",
		"34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n");
	lbt_put(&t, "/sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n");
	lbt_put(&t, "/sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
	lbt_put(&t, "/sys/fs/cgroup/cpuset/cpuset.sched_load_balance", "1\n");
	lbt_ctr_init(&c, "b", "1", 0);
	assert_ok(lbt_apply_auto(&t, &c, &backend, &err), &err);
	assert_string_equal(backend, "cgroup-v1");
	assert_flags(&t, 1, 0, MC_FLAGS);
	undo_ok(&t, "b");
	lbt_ctr_clear(&c);
	lbt_fini(&t);
}

/* --- crash safety ---------------------------------------------------------------------------- */

static int scenario_apply_a(struct lbt *t)
{
	return lbt_child_apply(t, &lb_sched_domain, "a", "1-2", 0);
}

static int scenario_undo_a(struct lbt *t)
{
	return lbt_child_undo(t, "a");
}

static const struct lbt_scenario scenarios[] = {
    {"apply-a", scenario_apply_a},
    {"undo-a", scenario_undo_a},
    {NULL, NULL},
};

static char *build_plain(struct lbt *t)
{
	build_tree(t, "4.18.0-553.el8_10.x86_64");
	return lbt_snapshot(t);
}

static char *build_with_b(struct lbt *t)
{
	build_tree(t, "4.18.0-553.el8_10.x86_64");
	apply_ok(t, "b", "2-3");
	return lbt_snapshot(t);
}

static char *build_b_then_a(struct lbt *t)
{
	char *with_b = build_with_b(t);
	apply_ok(t, "a", "1-2");
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
	assert_true(lbt_crash_each_point(&plain, "0-3") >= 5); /* ledger, then 4 domains */
	const struct lbt_crash_case shared = {build_with_b, "apply-a", recover_a};
	assert_true(lbt_crash_each_point(&shared, "0-3") >= 3);
}

static void test_crash_undo(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_b_then_a, "undo-a", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-3") >= 3); /* ledger, then cpu1's 2 domains */
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_available);
	tu_suite_add_test(&s, test_clear_and_restore);
	tu_suite_add_test(&s, test_refcounts);
	tu_suite_add_test(&s, test_tree_rebuilt_mid_walk);
	tu_suite_add_test(&s, test_tree_never_comes_back);
	tu_suite_add_test(&s, test_guard_after_rebuild);
	tu_suite_add_test(&s, test_refuse_every_cpu);
	tu_suite_add_test(&s, test_auto_order);
	tu_suite_add_test(&s, test_crash_apply);
	tu_suite_add_test(&s, test_crash_undo);
	return tu_suite_run(&s, "lb_sched_domain");
}
