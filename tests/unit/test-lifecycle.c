/* lifecycle.c, the sequences `nodehook hook`, gc and the runtime wrapper share, on a FAKE node.
 *
 * A fake node (test-lb_util.h): a sysroot of plain files. The action is the real
 * cpu-load-balancing with its sched-domain backend, because that backend's state is one flags
 * file per CPU: what a lifecycle path gave back, and for which CPU, reads off directly. The
 * fixture is a 4-CPU 4.18 kernel with one domain per CPU; the processes are /proc/<pid>/stat
 * files with the start times a test chooses. What the backends do on their own is in
 * test-lb_*.c; the real kernel is in tests/e2e and tests/vm.
 *
 * The helpers take what they act on from struct fixture (the store, the node config, the action),
 * so that cases with another action behind lifecycle can share them with a fixture of their own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "action.h"
#include "cleanup.h"
#include "lifecycle.h"
#include "node_context.h"
#include "status.h"
#include "sysroot.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define SD "/proc/sys/kernel/sched_domain"
#define LEDGER "sched-domain.json"
#define BALANCED "4655"	  /* MC flags with SD_LOAD_BALANCE */
#define UNBALANCED "4654" /* the same without */

struct fixture {
	struct lbt t;
	struct node_config config;
	enum nh_action action;
};

static void sd_flags_path(char *buf, size_t size, unsigned cpu)
{
	snprintf(buf, size, SD "/cpu%u/domain0/flags", cpu);
}

static void setup(struct fixture *f)
{
	lbt_init(&f->t, "0-3");
	lbt_put(&f->t, "/proc/sys/kernel/osrelease", "4.18.0-553.el8_10.x86_64\n");
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		char path[96];
		sd_flags_path(path, sizeof(path), cpu);
		lbt_put(&f->t, path, BALANCED "\n");
	}
	f->config = lbt_config("sched-domain");
	f->action = NH_ACTION_CPU_LOAD_BALANCING;
}

static void teardown(struct fixture *f)
{
	lbt_on_write(NULL, NULL);
	lbt_fini(&f->t);
}

/* cpuN's flags, one character per CPU: "b" balanced, "-" not, e.g. "b--b". */
static void assert_balanced_at(const struct fixture *f, const char *want, const char *file,
			       int line)
{
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		char path[96];
		sd_flags_path(path, sizeof(path), cpu);
		lbt_assert_file(&f->t, path, want[cpu] == 'b' ? BALANCED "\n" : UNBALANCED "\n",
				file, line);
	}
}
#define assert_balanced(f, want) assert_balanced_at((f), (want), __FILE__, __LINE__)

/* A process of the fake /proc: state (R, S, Z) and start time (field 22 of stat). */
static void put_process(struct fixture *f, pid_t pid, char state, unsigned long long start)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *stat = xasprintf("%d (sleep) %c 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 "
					      "20 0 1 0 %llu 1228800 200 18446744073709551615\n",
					      (int)pid, state, (int)pid, (int)pid, start);
	lbt_put(&f->t, path, stat);
}

/* lifecycle_record_begin() for a container starting under id with that pid and CPUs; *c holds
 * the container and the record it returned. */
static void record_open_ok_at(struct fixture *f, struct lbt_ctr *c, const char *id,
			      const char *cpus, pid_t pid, const char *file, int line)
{
	lbt_ctr_init(c, id, cpus, pid);
	container_record_clear(&c->rec);
	_cleanup_error_ struct nh_error *err = NULL;
	tu_assert_ok(lifecycle_record_begin(f->t.store, &f->config, &c->info, &c->rec, &err), &err,
		     file, line);
}
#define record_open_ok(f, c, id, cpus, pid)                                                        \
	record_open_ok_at((f), (c), (id), (cpus), (pid), __FILE__, __LINE__)

/* The hook's createRuntime for one container: record_open, then apply. */
static void start_ok_at(struct fixture *f, struct lbt_ctr *c, const char *id, const char *cpus,
			pid_t pid, const char *file, int line)
{
	record_open_ok_at(f, c, id, cpus, pid, file, line);
	_cleanup_error_ struct nh_error *err = NULL;
	int r =
	    lifecycle_apply(f->t.store, &f->config, &c->info, &c->rec, f->action, "disable", &err);
	tu_assert_ok(r, &err, file, line);
	_assert_int_equal((LargestIntegralType)r, 1, file, line);
}
#define start_ok(f, c, id, cpus, pid) start_ok_at((f), (c), (id), (cpus), (pid), __FILE__, __LINE__)

/* gc's or poststop's undo: from the stored record. */
static void undo_stored_ok_at(struct fixture *f, const char *id, const char *file, int line)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_(container_record_clear) struct container_record rec = {0};
	int r = state_record_read(f->t.store, id, &rec, &err);
	tu_assert_ok(r, &err, file, line);
	_assert_int_equal((LargestIntegralType)r, 1, file, line);
	tu_assert_ok(lifecycle_undo(f->t.store, &f->config, &rec, &err), &err, file, line);
	if (lbt_has_record(&f->t, id)) {
		print_error("the record of %s is still there after undo\n", id);
		_fail(file, line);
	}
}
#define undo_stored_ok(f, id) undo_stored_ok_at((f), (id), __FILE__, __LINE__)

static const struct action_record *stored_action(struct fixture *f, const char *id,
						 struct container_record *rec)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = state_record_read(f->t.store, id, rec, &err);
	assert_ok(r, &err);
	assert_int_equal(r, 1);
	return &rec->actions[f->action];
}

/* The sched_domain sysctl turning read-only (EROFS) at the first write to CPU `from_cpu` (-1:
 * from the start), as a failing kernel would show it. A rejected write leaves the value as it
 * was (the fake's open truncated the file; the value is put back). */
struct read_only_sysctl {
	struct lbt *t;
	int from_cpu;
	bool read_only;
	char last[4][16]; /* cpuN/domain0/flags as the fake kernel holds it */
};

static int read_only_write(const char *path, const char *data, size_t len, void *userdata)
{
	struct read_only_sysctl *k = userdata;
	unsigned cpu = 0;
	if (sscanf(path, SD "/cpu%u/domain0/flags", &cpu) != 1 || cpu >= 4)
		return LBT_WRITE_PASS;
	if ((int)cpu == k->from_cpu)
		k->read_only = true;
	if (k->read_only) {
		lbt_put(k->t, path, k->last[cpu]);
		return EROFS;
	}
	snprintf(k->last[cpu], sizeof(k->last[cpu]), "%.*s", (int)len, data);
	return LBT_WRITE_PASS;
}

/* Installs the write hook; the flags must read as assert_balanced's `now` says. */
static void read_only_from(struct fixture *f, struct read_only_sysctl *k, int from_cpu,
			   const char *now)
{
	*k = (struct read_only_sysctl){.t = &f->t, .from_cpu = from_cpu, .read_only = from_cpu < 0};
	for (unsigned cpu = 0; cpu < 4; cpu++)
		snprintf(k->last[cpu], sizeof(k->last[cpu]), "%s\n",
			 now[cpu] == 'b' ? BALANCED : UNBALANCED);
	lbt_on_write(read_only_write, k);
}

/* --- lifecycle_record_begin ------------------------------------------------------------------- */

/* The runtime that runs the hook is its parent (getppid() here too): containerd's runc, say. */
static void put_parent_runtime(struct fixture *f, const char *exe, const char *cmdline, size_t len)
{
	_cleanup_free_ char *placeholder = xasprintf("/proc/%d/cmdline", (int)getppid());
	lbt_put(&f->t, placeholder, ""); /* makes the directories */
	_cleanup_free_ char *dir = xasprintf("%s/proc/%d", f->t.root, (int)getppid());
	free(tu_write_file(dir, "cmdline", cmdline, len));
	_cleanup_free_ char *link = xasprintf("%s/exe", dir);
	assert_int_equal(symlink(exe, link), 0);
}

static void test_record_open_new(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	put_process(&f, 201, 'S', 1000);
	static const char cmdline[] = "runc\0--root\0/run/containerd/runc/k8s.io\0--log\0/x.log\0"
				      "create\0--bundle\0/b\0a";
	put_parent_runtime(&f, "/usr/bin/runc", cmdline, sizeof(cmdline));
	struct lbt_ctr c;
	record_open_ok(&f, &c, "a", "1", 201);
	assert_string_equal(c.rec.id, "a");
	assert_int_equal(c.rec.pid, 201);
	assert_int_equal(c.rec.pid_start, 1000);
	assert_string_equal(c.rec.runtime_path, "/usr/bin/runc");
	assert_string_equal(c.rec.runtime_root, "/run/containerd/runc/k8s.io");
	assert_true(c.rec.since > 0);
	assert_false(c.rec.actions[f.action].present);
	/* Only apply writes the record, before its first change. */
	assert_false(lbt_has_record(&f.t, "a"));
	lbt_ctr_clear(&c);
	teardown(&f);
}

static void test_record_open_same_process(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	put_process(&f, 201, 'S', 1000);
	struct lbt_ctr c;
	start_ok(&f, &c, "a", "1", 201);
	lbt_ctr_clear(&c);
	_cleanup_free_ char *isolated = lbt_snapshot(&f.t);

	/* The hook runs twice for one container (createRuntime and prestart both configured): the
	 * record is the same process's, and stays as it is. */
	record_open_ok(&f, &c, "a", "1", 201);
	assert_true(c.rec.actions[f.action].present);
	assert_true(c.rec.actions[f.action].applied);
	assert_snapshot(isolated, &f.t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), 0);
	assert_null(err);
	assert_snapshot(isolated, &f.t);
	lbt_ctr_clear(&c);

	/* Without a pid there is no telling: the same container, as far as anyone knows. */
	record_open_ok(&f, &c, "a", "1", 0);
	assert_true(c.rec.actions[f.action].applied);
	assert_int_equal(c.rec.pid, 201);
	lbt_ctr_clear(&c);
	undo_stored_ok(&f, "a");
	teardown(&f);
}

/* An earlier container under the same id, deleted without its poststop hook, id reused before gc
 * ran: its isolation is undone first (CPU 1 balanced again), and the new container's record
 * starts empty. `later_pid` is the new container's: another pid, or the same pid reused. */
static void record_of_earlier_container_undone_first(pid_t later_pid,
						     unsigned long long later_start)
{
	struct fixture f;
	setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	put_process(&f, 201, 'S', 1000);
	struct lbt_ctr c;
	start_ok(&f, &c, "a", "1", 201);
	lbt_ctr_clear(&c);
	assert_balanced(&f, "b-bb");

	/* a is gone; a new container starts under its id. */
	lbt_remove(&f.t, "/proc/201");
	put_process(&f, later_pid, 'S', later_start);
	record_open_ok(&f, &c, "a", "2", later_pid);
	assert_balanced(&f, "bbbb");
	assert_false(lbt_has_doc(&f.t, LEDGER));
	assert_false(lbt_has_record(&f.t, "a"));
	assert_int_equal(c.rec.pid, later_pid);
	assert_int_equal(c.rec.pid_start, later_start);
	assert_false(c.rec.actions[f.action].present);

	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), 1);
	assert_balanced(&f, "bb-b");
	lbt_ctr_clear(&c);
	undo_stored_ok(&f, "a");
	_cleanup_free_ char *proc = xasprintf("/proc/%d", (int)later_pid);
	lbt_remove(&f.t, proc);
	assert_snapshot(before, &f.t);
	teardown(&f);
}

static void test_record_open_other_pid(void **state)
{
	(void)state;
	record_of_earlier_container_undone_first(202, 2000);
}

static void test_record_open_pid_reused(void **state)
{
	(void)state;
	record_of_earlier_container_undone_first(201, 3000);
}

/* The earlier container's undo fails: the new container does not start on top of it, and the
 * earlier record stays for gc. */
static void test_record_open_earlier_undo_fails(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	start_ok(&f, &c, "a", "1", 201);
	lbt_ctr_clear(&c);

	struct read_only_sysctl k;
	read_only_from(&f, &k, -1, "b-bb");
	lbt_ctr_init(&c, "a", "2", 202);
	container_record_clear(&c.rec);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg = xasprintf("undo for the earlier container a: undo "
					     "cpu-load-balancing: write '4655' to %s" SD
					     "/cpu1/domain0/flags: Read-only file system",
					     f.t.root);
	assert_error(lifecycle_record_begin(f.t.store, &f.config, &c.info, &c.rec, &err), &err,
		     EROFS, msg);
	assert_null(c.rec.id);
	assert_balanced(&f, "b-bb");
	struct container_record rec = {0};
	const struct action_record *ar = stored_action(&f, "a", &rec);
	assert_int_equal(rec.pid, 201);
	assert_true(ar->applied);
	container_record_clear(&rec);
	lbt_ctr_clear(&c);

	lbt_on_write(NULL, NULL);
	undo_stored_ok(&f, "a");
	assert_snapshot(before, &f.t);
	teardown(&f);
}

/* --- lifecycle_apply's rollback -------------------------------------------------------------- */

static void test_apply_failure_rolled_back(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	record_open_ok(&f, &c, "a", "0-3", 201);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), &err,
	    EBUSY,
	    "cannot take every online CPU out of load balancing: no housekeeping CPU "
	    "would be left");
	/* Rolled back: the node, the ledger, the record on disk and in memory. */
	assert_snapshot(before, &f.t);
	assert_false(lbt_has_doc(&f.t, LEDGER));
	assert_false(lbt_has_record(&f.t, "a"));
	assert_false(c.rec.actions[f.action].present);
	lbt_ctr_clear(&c);
	teardown(&f);
}

static void test_apply_rollback_fails_record_stays(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	/* apply fails at cpu2, having cleared cpu1; neither rollback (the backend's own, then
	 * lifecycle's undo) can give cpu1 back. */
	struct read_only_sysctl k;
	read_only_from(&f, &k, 2, "bbbb");
	struct lbt_ctr c;
	record_open_ok(&f, &c, "a", "1-2", 201);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg = xasprintf(
	    "write '4654' to %s" SD "/cpu2/domain0/flags: Read-only file system", f.t.root);
	/* The apply's error, not the rollback's. */
	assert_error(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), &err,
	    EROFS, msg);
	assert_balanced(&f, "b-bb");
	/* The record stays for gc: present, not applied; and so does the ledger. */
	struct container_record rec = {0};
	const struct action_record *ar = stored_action(&f, "a", &rec);
	assert_true(ar->present);
	assert_false(ar->applied);
	assert_string_equal(ar->backend, "sched-domain");
	assert_string_equal(ar->cpus, "1-2");
	container_record_clear(&rec);
	assert_true(lbt_has_doc(&f.t, LEDGER));
	lbt_ctr_clear(&c);

	/* The sysctl is writable again: gc's undo from the record puts the node back. */
	lbt_on_write(NULL, NULL);
	undo_stored_ok(&f, "a");
	assert_snapshot(before, &f.t);
	assert_false(lbt_has_doc(&f.t, LEDGER));
	teardown(&f);
}

/* --- lifecycle_update_cpus ------------------------------------------------------------------- */

static int update_cpus(struct fixture *f, struct container_record *rec, const char *cpus)
{
	_cleanup_cpuset_ struct cpuset new_cpus = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(cpuset_parse_list(cpus, &new_cpus, &err), &err);
	int r = lifecycle_update_cpus(f->t.store, &f->config, rec, &new_cpus, &err);
	assert_ok(r, &err);
	return r;
}

static void test_update_cpus_undo_then_apply(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr a, c;
	start_ok(&f, &a, "a", "1", 201);
	assert_balanced(&f, "b-bb");

	/* The runtime's update moves a from CPU 1 to CPU 2: the backend is not cgroup v1, so a is
	 * undone (CPU 1's flags given back), then applied for CPU 2. */
	_cleanup_free_ char *log = NULL;
	lbt_on_write(lbt_log_writes, &log);
	assert_int_equal(update_cpus(&f, &a.rec, "2"), 1);
	assert_writes(log, SD "/cpu1/domain0/flags " BALANCED "\n" SD
			      "/cpu2/domain0/flags " UNBALANCED "\n");
	assert_balanced(&f, "bb-b");
	struct container_record rec = {0};
	const struct action_record *ar = stored_action(&f, "a", &rec);
	assert_string_equal(ar->cpus, "2");
	assert_true(ar->applied);
	container_record_clear(&rec);

	/* The same CPUs again: nothing moves, nothing is written. */
	free(TAKE_PTR(log));
	assert_int_equal(update_cpus(&f, &a.rec, "2"), 0);
	assert_null(log);

	/* c holds CPU 2 too; a moves on to CPU 3: CPU 2 stays out of balancing for c. */
	lbt_on_write(NULL, NULL);
	start_ok(&f, &c, "c", "2", 203);
	assert_int_equal(update_cpus(&f, &a.rec, "3"), 1);
	assert_balanced(&f, "bb--");
	undo_stored_ok(&f, "a");
	assert_balanced(&f, "bb-b");
	undo_stored_ok(&f, "c");
	assert_snapshot(before, &f.t);
	assert_false(lbt_has_doc(&f.t, LEDGER));
	lbt_ctr_clear(&a);
	lbt_ctr_clear(&c);
	teardown(&f);
}

/* --- lifecycle_container_gone ---------------------------------------------------------------- */

static int gone(const struct container_record *rec)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = lifecycle_container_gone(rec, &err);
	assert_ok(r, &err);
	return r;
}

static void test_container_gone(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f);
	/* No runtime recorded (or one that does not know the id): the pid decides. */
	struct container_record rec = {.id = (char *)"a", .pid = 201, .pid_start = 1000};
	put_process(&f, 201, 'S', 1000);
	assert_int_equal(gone(&rec), 0);
	/* The pid was reused by another process: another start time. */
	put_process(&f, 201, 'S', 5000);
	assert_int_equal(gone(&rec), 1);
	/* No start time recorded: a process under that pid cannot be told apart. */
	rec.pid_start = 0;
	assert_int_equal(gone(&rec), 0);
	rec.pid_start = 1000;
	put_process(&f, 201, 'Z', 1000);
	assert_int_equal(gone(&rec), 1);
	lbt_remove(&f.t, "/proc/201");
	assert_int_equal(gone(&rec), 1);

	/* The runtime is asked first (`RUNTIME --root ROOT state ID`): exit 0 means it knows. */
	rec.runtime_root = (char *)"/run/containerd/runc/k8s.io";
	rec.runtime_path = (char *)"/bin/true";
	assert_int_equal(gone(&rec), 0);
	rec.runtime_path = (char *)"/bin/false";
	assert_int_equal(gone(&rec), 1);
	put_process(&f, 201, 'S', 1000);
	assert_int_equal(gone(&rec), 0);
	/* A runtime that is itself gone knows nothing. */
	rec.runtime_path = (char *)"/nonexistent/runc";
	assert_int_equal(gone(&rec), 0);
	lbt_remove(&f.t, "/proc/201");
	assert_int_equal(gone(&rec), 1);
	teardown(&f);
}

/* --- lifecycle itself, behind a fake action table -------------------------------------------- */

/* The test binary links with -Wl,--wrap=action_lookup: with use_fakes set, lifecycle.c finds
 * these fake actions instead of the real ones. A fake action keeps the contract of action.h: it
 * saves the record, passes a crash point, then changes its "setting" (the node file
 * /fake/<action>, "original" or "changed"), and passes another. Its undo puts "original" back.
 * Every call is logged, so order shows; every undo checks that the record is still on disk. */

#define FAKE_ORIGINAL "original\n"
#define FAKE_CHANGED "changed\n"

static bool use_fakes;
static struct fake_state {
	struct lbt *t;
	int fail_apply[NH_ACTION__MAX]; /* an errno: apply fails with it, after its change */
	int fail_undo[NH_ACTION__MAX];	/* an errno: undo fails with it, before its change */
	int fail_guard[NH_ACTION__MAX]; /* an errno: the guard fails with it */
	char log[1024];
	bool record_missing_in_undo;
	char undo_value[NH_ACTION__MAX][32]; /* ctx->value each undo saw */
} fake;

const struct action_ops *__real_action_lookup(enum nh_action a);
const struct action_ops *__wrap_action_lookup(enum nh_action a);

static void fake_log(const char *verb, enum nh_action a)
{
	size_t n = strlen(fake.log);
	snprintf(fake.log + n, sizeof(fake.log) - n, "%s %s\n", verb, nh_action_to_string(a));
}

static char *fake_path(enum nh_action a)
{
	return xasprintf("/fake/%s", nh_action_to_string(a));
}

/* The value fake_start_all() asks each action for: "v<N>" (the fake's grammar: "true",
 * "false", "v<digits>", and "old" as a deprecated spelling). */
static const char *fake_value(int a)
{
	static const char *const values[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
	return values[a % 8];
}

static int fake_apply(struct action_context *ctx, struct nh_error **err)
{
	enum nh_action a = ctx->action;
	fake_log("apply", a);
	struct action_record *ar = action_record_of(ctx);
	ar->present = true;
	free(ar->backend);
	ar->backend = xstrdup("fake");
	free(ar->cpus);
	ar->cpus = cpuset_format_list(&ctx->container->cpus);
	/* What it changed, as an action says it: the value it saw and the setting's old value. */
	json_object *details = action_details_reset(ctx);
	json_object_object_add(details, "value_seen",
			       json_object_new_string(ctx->value ? ctx->value : "(null)"));
	json_object *files = json_object_new_array();
	_cleanup_free_ char *path = fake_path(a);
	json_object_array_add(files, json_object_new_string(path));
	json_object_object_add(details, "files", files);
	json_object_object_add(details, "old", json_object_new_string("original"));
	int r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	action_crash_point();
	lbt_put(fake.t, path, FAKE_CHANGED);
	action_crash_point();
	if (fake.fail_apply[a])
		return nh_error_set(err, fake.fail_apply[a], "fake %s: apply failed",
				    nh_action_to_string(a));
	return 0;
}

static int fake_undo(struct action_context *ctx, struct nh_error **err)
{
	enum nh_action a = ctx->action;
	fake_log("undo", a);
	snprintf(fake.undo_value[a], sizeof(fake.undo_value[a]), "%s",
		 ctx->value ? ctx->value : "(null)");
	if (!lbt_has_record(fake.t, ctx->record->id))
		fake.record_missing_in_undo = true;
	if (fake.fail_undo[a])
		return nh_error_set(err, fake.fail_undo[a], "fake %s: undo failed",
				    nh_action_to_string(a));
	_cleanup_free_ char *path = fake_path(a);
	lbt_put(fake.t, path, FAKE_ORIGINAL);
	action_crash_point();
	return 0;
}

static int fake_parse_value(const char *value, const char **ret_note, struct nh_error **err)
{
	if (strcmp(value, "true") == 0)
		return 1;
	if (strcmp(value, "false") == 0)
		return 0;
	if (strcmp(value, "old") == 0) {
		*ret_note = "value \"old\" is deprecated";
		return 1;
	}
	if (value[0] == 'v' && value[1] && strspn(value + 1, "0123456789") == strlen(value + 1))
		return 1;
	return nh_error_set(
	    err, EINVAL, "invalid value '%.64s' (expected \"true\", \"false\" or \"v<N>\")", value);
}

static int fake_check(const struct container_info *c, struct nh_error **err)
{
	return 0;
}

static int fake_guard(struct action_context *ctx, struct nh_error **err)
{
	fake_log("guard", ctx->action);
	if (fake.fail_guard[ctx->action])
		return nh_error_set(err, fake.fail_guard[ctx->action], "fake %s: guard failed",
				    nh_action_to_string(ctx->action));
	return 0;
}

static const struct action_ops fake_ops = {
    .parse_value = fake_parse_value,
    .check = fake_check,
    .apply = fake_apply,
    .undo = fake_undo,
    .guard = fake_guard,
    .follows_cpus = true,
};

const struct action_ops *__wrap_action_lookup(enum nh_action a)
{
	return use_fakes ? &fake_ops : __real_action_lookup(a);
}

/* A fake node: the setting of every action at its original value. */
static void fake_put_tree(struct lbt *t)
{
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		_cleanup_free_ char *path = fake_path((enum nh_action)a);
		lbt_put(t, path, FAKE_ORIGINAL);
	}
}

static void fake_setup(struct fixture *f)
{
	lbt_init(&f->t, "0-3");
	fake_put_tree(&f->t);
	f->config = lbt_config("fake");
	f->action = NH_ACTION_CPU_LOAD_BALANCING;
	fake = (struct fake_state){.t = &f->t};
	use_fakes = true;
}

static void fake_teardown(struct fixture *f)
{
	use_fakes = false;
	teardown(f);
}

/* Applies every action, in order, for container id. */
static void fake_start_all(struct fixture *f, struct lbt_ctr *c, const char *id, const char *cpus)
{
	record_open_ok(f, c, id, cpus, 0);
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		_cleanup_error_ struct nh_error *err = NULL;
		assert_int_equal(lifecycle_apply(f->t.store, &f->config, &c->info, &c->rec,
						 (enum nh_action)a, fake_value(a), &err),
				 1);
		assert_null(err);
	}
}

/* "apply A\napply B\n..." (reverse: "undo B\nundo A\n") for every action. */
static char *fake_log_of(const char *verb, bool reverse)
{
	char *s = xstrdup("");
	for (int i = 0; i < NH_ACTION__MAX; i++) {
		int a = reverse ? NH_ACTION__MAX - 1 - i : i;
		char *next =
		    xasprintf("%s%s %s\n", s, verb, nh_action_to_string((enum nh_action)a));
		free(s);
		s = next;
	}
	return s;
}

/* Container a's apply fails with EIO after its change, its rollback with undo_errno (0: works).
 * The error is always the apply's. */
static void apply_fails(struct fixture *f, struct lbt_ctr *c, int undo_errno)
{
	fake.fail_apply[f->action] = EIO;
	fake.fail_undo[f->action] = undo_errno;
	record_open_ok(f, c, "a", "1", 0);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg =
	    xasprintf("fake %s: apply failed", nh_action_to_string(f->action));
	assert_error(
	    lifecycle_apply(f->t.store, &f->config, &c->info, &c->rec, f->action, "disable", &err),
	    &err, EIO, msg);
}

static void test_fake_apply_failure_rolled_back(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	apply_fails(&f, &c, 0);
	/* Rolled back by the action's own undo; the record, empty, is removed. */
	_cleanup_free_ char *log = xasprintf("apply %s\nundo %s\n", nh_action_to_string(f.action),
					     nh_action_to_string(f.action));
	assert_string_equal(fake.log, log);
	assert_snapshot(before, &f.t);
	assert_false(c.rec.actions[f.action].present);
	assert_false(lbt_has_record(&f.t, "a"));
	lbt_ctr_clear(&c);
	fake_teardown(&f);
}

static void test_fake_rollback_fails_record_stays(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	apply_fails(&f, &c, EROFS);
	struct container_record rec = {0};
	const struct action_record *ar = stored_action(&f, "a", &rec);
	assert_true(ar->present);
	assert_false(ar->applied);
	assert_string_equal(ar->backend, "fake");
	container_record_clear(&rec);
	lbt_ctr_clear(&c);

	/* gc, once undo works again: the node is back, the record gone. */
	fake.fail_undo[f.action] = 0;
	undo_stored_ok(&f, "a");
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

static void test_fake_undo_reverse_order_record_last(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	fake_start_all(&f, &c, "a", "1");
	_cleanup_free_ char *applied = fake_log_of("apply", false);
	assert_string_equal(fake.log, applied);
	lbt_ctr_clear(&c);

	fake.log[0] = '\0';
	undo_stored_ok(&f, "a");
	_cleanup_free_ char *undone = fake_log_of("undo", true);
	assert_string_equal(fake.log, undone);
	/* The record is removed only once it is empty: every undo found it on disk. */
	assert_false(fake.record_missing_in_undo);
	assert_false(lbt_has_record(&f.t, "a"));
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* Undo with the undo of action `failing` failing with errnum: every other action is undone and
 * forgotten, it stays in the record, and the error names it. Then a working undo finishes. */
static void undo_failure_case(int failing, int errnum)
{
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	fake_start_all(&f, &c, "a", "1");
	lbt_ctr_clear(&c);

	fake.fail_undo[failing] = errnum;
	_cleanup_error_ struct nh_error *err = NULL;
	struct container_record rec = {0};
	assert_int_equal(state_record_read(f.t.store, "a", &rec, &err), 1);
	_cleanup_free_ char *msg =
	    xasprintf("undo %s: fake %s: undo failed", nh_action_to_string(failing),
		      nh_action_to_string(failing));
	assert_error(lifecycle_undo(f.t.store, &f.config, &rec, &err), &err, errnum, msg);
	container_record_clear(&rec);
	stored_action(&f, "a", &rec);
	for (int a = 0; a < NH_ACTION__MAX; a++)
		assert_int_equal(rec.actions[a].present, a == failing);
	container_record_clear(&rec);

	fake.fail_undo[failing] = 0;
	undo_stored_ok(&f, "a");
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* The first action is the last undone. */
static void test_fake_undo_failure_keeps_record(void **state)
{
	(void)state;
	undo_failure_case(0, EROFS);
}

/* The first action undone (the last applied) fails, as cpu-load-balancing does when its ledger
 * cannot be read: the others are undone all the same, so restore and gc release what they still
 * can (audit finding 6). */
static void test_fake_undo_failure_undoes_the_others(void **state)
{
	(void)state;
	undo_failure_case(NH_ACTION__MAX - 1, EBADMSG);
}

static void test_fake_update_is_undo_then_apply(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	struct lbt_ctr c;
	record_open_ok(&f, &c, "a", "1", 0);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), 1);

	/* A backend other than cgroup v1: undone for the old CPUs, applied for the new. */
	fake.log[0] = '\0';
	assert_int_equal(update_cpus(&f, &c.rec, "2-3"), 1);
	_cleanup_free_ char *log = xasprintf("undo %s\napply %s\n", nh_action_to_string(f.action),
					     nh_action_to_string(f.action));
	assert_string_equal(fake.log, log);
	struct container_record rec = {0};
	const struct action_record *ar = stored_action(&f, "a", &rec);
	assert_string_equal(ar->cpus, "2-3");
	assert_true(ar->applied);
	container_record_clear(&rec);

	/* The same CPUs: nothing to do. */
	fake.log[0] = '\0';
	assert_int_equal(update_cpus(&f, &c.rec, "2-3"), 0);
	assert_string_equal(fake.log, "");
	lbt_ctr_clear(&c);
	undo_stored_ok(&f, "a");
	fake_teardown(&f);
}

/* Info 15: an update re-checks, before following new CPUs, the node policy and, for a pod, that
 * the CPUs are as many as those its Guaranteed check was made for; a refused update moves
 * nothing. */
static void test_fake_update_rechecks(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	struct lbt_ctr c;
	lbt_ctr_init(&c, "a", "1-2", 0);
	container_record_clear(&c.rec);
	c.info.pod_namespace = xstrdup("prod");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lifecycle_record_begin(f.t.store, &f.config, &c.info, &c.rec, &err), &err);
	assert_int_equal(
	    lifecycle_apply(f.t.store, &f.config, &c.info, &c.rec, f.action, "disable", &err), 1);

	/* The pod's update to 6 CPUs (the audit's 0-5): refused, nothing moves. */
	fake.log[0] = '\0';
	_cleanup_cpuset_ struct cpuset wide = {0};
	assert_ok(cpuset_parse_list("0-5", &wide, &err), &err);
	assert_error(lifecycle_update_cpus(f.t.store, &f.config, &c.rec, &wide, &err), &err, EPERM,
		     "cpu-load-balancing does not follow the new CPUs: the update changes the "
		     "pod's CPUs from 2 to 6, and its Guaranteed check (shares and quota of whole "
		     "CPUs) was made for 2");
	assert_string_equal(fake.log, "");
	struct container_record rec = {0};
	assert_string_equal(stored_action(&f, "a", &rec)->cpus, "1-2");
	container_record_clear(&rec);

	/* The same number of CPUs, but the namespace is no longer allowed: refused too. */
	_cleanup_cpuset_ struct cpuset moved = {0};
	assert_ok(cpuset_parse_list("3-4", &moved, &err), &err);
	char *only_dev[] = {(char *)"dev", NULL};
	char **saved = f.config.actions[f.action].allowed_namespaces;
	f.config.actions[f.action].allowed_namespaces = only_dev;
	assert_error(lifecycle_update_cpus(f.t.store, &f.config, &c.rec, &moved, &err), &err, EPERM,
		     "cpu-load-balancing does not follow the new CPUs: namespace 'prod' is not in "
		     "allowed_namespaces");
	assert_string_equal(fake.log, "");

	/* Allowed again, same count: followed. */
	f.config.actions[f.action].allowed_namespaces = saved;
	assert_int_equal(update_cpus(&f, &c.rec, "3-4"), 1);
	lbt_ctr_clear(&c);
	undo_stored_ok(&f, "a");
	fake_teardown(&f);
}

/* lifecycle_start, the hook's createRuntime in one call: what happened comes back as events,
 * nothing is logged. The node config names a sysroot of its own; the fixture's, set as
 * `nodehook --sysroot` sets it, wins. */
static void start_events_ok(struct fixture *f, const struct oci_state *st,
			    enum lifecycle_event_kind want0, int want1)
{
	state_store_unlock(f->t.store);
	_cleanup_node_context_ struct node_context *node = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(node_context_open(&node, &err), &err);
	assert_string_equal(sysroot_get(), f->t.root);
	_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
	assert_ok(lifecycle_start(node, st, &ev, &err), &err);
	assert_int_equal(ev.n, want1 < 0 ? 1 : 2);
	assert_int_equal(ev.v[0].kind, want0);
	if (want1 >= 0)
		assert_int_equal(ev.v[1].kind, (enum lifecycle_event_kind)want1);
	node = node_context_free(TAKE_PTR(node));
	assert_ok(state_store_lock(f->t.store, true, &err), &err);
}

static void test_fake_start_events(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	_cleanup_free_ char *dir = xasprintf("%s/etc", f.t.root);
	_cleanup_free_ char *config = xasprintf(
	    "{\"state_dir\": \"%s" LBT_STATE "\", \"sysroot\": \"/nonexistent\", \"actions\": "
	    "{\"%s\": {\"allowed_namespaces\": [\"*\"], \"on_error\": \"log\"}}}",
	    f.t.root, nh_action_to_string(f.action));
	lbt_put(&f.t, "/etc/node.json", config);
	_cleanup_free_ char *config_path = xasprintf("%s/node.json", dir);
	setenv(NODE_CONFIG_ENV, config_path, 1);
	_cleanup_free_ char *bundle = xasprintf("%s/bundle", f.t.root);
	_cleanup_free_ char *spec = xasprintf(
	    "{\"ociVersion\": \"1.0.2\", \"annotations\": {\"%s.nodehook.io\": \"true\"}}",
	    nh_action_to_string(f.action));
	lbt_put(&f.t, "/bundle/config.json", spec);
	struct oci_state st = {.id = (char *)"a", .bundle = bundle};

	/* Apply fails, and so does its rollback; on_error is "log": the start goes on. */
	fake.fail_apply[f.action] = EIO;
	fake.fail_undo[f.action] = EROFS;
	start_events_ok(&f, &st, LIFECYCLE_ROLLBACK_FAILED, LIFECYCLE_REFUSED);
	/* The hook again, everything working: applied; then once more: already applied. */
	fake.fail_apply[f.action] = fake.fail_undo[f.action] = 0;
	start_events_ok(&f, &st, LIFECYCLE_APPLIED, -1);
	start_events_ok(&f, &st, LIFECYCLE_ALREADY_APPLIED, -1);

	/* poststop: lifecycle_stop undoes it, then there is nothing left to undo. */
	state_store_unlock(f.t.store);
	_cleanup_node_context_ struct node_context *node = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(node_context_open(&node, &err), &err);
	assert_int_equal(lifecycle_stop(node, "a", &err), 1);
	assert_int_equal(lifecycle_stop(node, "a", &err), 0);
	assert_null(err);
	node = node_context_free(TAKE_PTR(node));
	assert_ok(state_store_lock(f.t.store, true, &err), &err);
	unsetenv(NODE_CONFIG_ENV);
	tu_rm_rf(dir);
	tu_rm_rf(bundle);
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* The action framework: the value that asked reaches apply and undo through the record, and
 * the details an action writes come back from disk as it wrote them. */
static void test_fake_value_details_round_trip(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	struct lbt_ctr c;
	fake_start_all(&f, &c, "a", "1-2");
	lbt_ctr_clear(&c);
	struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(f.t.store, "a", &rec, &err), 1);
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const struct action_record *ar = &rec.actions[a];
		assert_true(ar->present && ar->applied);
		assert_string_equal(ar->value, fake_value(a));
		assert_non_null(ar->details);
		_cleanup_free_ char *want = xasprintf(
		    "{\"value_seen\":\"%s\",\"files\":[\"/fake/%s\"],\"old\":\"original\"}",
		    fake_value(a), nh_action_to_string((enum nh_action)a));
		assert_string_equal(
		    json_object_to_json_string_ext(ar->details, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE),
		    want);
		/* status's one-line summary, generic over whatever the action wrote. */
		_cleanup_free_ char *summary = status_details_summary(ar);
		_cleanup_free_ char *want_summary =
		    xasprintf("value_seen=%s files=/fake/%s old=original", fake_value(a),
			      nh_action_to_string((enum nh_action)a));
		assert_string_equal(summary, want_summary);
	}
	/* Undo (gc's: from the stored record) is told the value too. */
	undo_stored_ok(&f, "a");
	for (int a = 0; a < NH_ACTION__MAX; a++)
		assert_string_equal(fake.undo_value[a], fake_value(a));
	assert_snapshot(before, &f.t);
	/* An action without details shows "-". */
	json_object_put(rec.actions[0].details);
	rec.actions[0].details = NULL;
	_cleanup_free_ char *none = status_details_summary(&rec.actions[0]);
	assert_string_equal(none, "-");
	container_record_clear(&rec);
	fake_teardown(&f);
}

/* status's summary of details: arrays of scalars joined, long arrays and objects by size. */
static void test_details_summary(void **state)
{
	(void)state;
	struct action_record ar = {
	    .details = json_tokener_parse(
		"{\"cpus\": {\"1\": \"0\", \"2\": \"n/a\"}, \"moved\": [1, 2, 3],"
		" \"refused\": [1,2,3,4,5,6,7,8,9], \"rows\": [{\"a\": 1}],"
		" \"noop\": true, \"empty\": [], \"why\": null}")};
	assert_non_null(ar.details);
	_cleanup_free_ char *summary = status_details_summary(&ar);
	assert_string_equal(summary,
			    "cpus={2} moved=1,2,3 refused=[9] rows=[1] noop=true empty= why=null");
	json_object_put(ar.details);
}

/* lifecycle_start with the node config and the spec written here: every action asked for with
 * value, each action's on_error from on_error[] ("fail" or "log"). */
static void start_setup(struct fixture *f, const char *value, const char *const on_error[])
{
	_cleanup_free_ char *actions = xstrdup("");
	_cleanup_free_ char *annotations = xstrdup("");
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const char *name = nh_action_to_string((enum nh_action)a);
		char *next = xasprintf("%s%s\"%s\": {\"on_error\": \"%s\"}", actions, a ? ", " : "",
				       name, on_error[a]);
		free(actions);
		actions = next;
		next = xasprintf("%s%s\"%s.nodehook.io\": \"%s\"", annotations, a ? ", " : "", name,
				 value);
		free(annotations);
		annotations = next;
	}
	_cleanup_free_ char *config = xasprintf(
	    "{\"state_dir\": \"%s" LBT_STATE "\", \"actions\": {%s}}", f->t.root, actions);
	lbt_put(&f->t, "/etc/node.json", config);
	_cleanup_free_ char *config_path = xasprintf("%s/etc/node.json", f->t.root);
	setenv(NODE_CONFIG_ENV, config_path, 1);
	_cleanup_free_ char *spec = xasprintf(
	    "{\"ociVersion\": \"1.0.2\", \"linux\": {\"resources\": {\"cpu\": {\"cpus\": \"1\"}}}, "
	    "\"annotations\": {%s}}",
	    annotations);
	lbt_put(&f->t, "/bundle/config.json", spec);
}

static void start_cleanup(struct fixture *f)
{
	unsetenv(NODE_CONFIG_ENV);
	_cleanup_free_ char *etc = xasprintf("%s/etc", f->t.root);
	_cleanup_free_ char *bundle = xasprintf("%s/bundle", f->t.root);
	tu_rm_rf(etc);
	tu_rm_rf(bundle);
}

/* One lifecycle_start as the hook runs it; returns its result, events in *ev. */
static int start_once(struct fixture *f, struct lifecycle_events *ev, struct nh_error **err)
{
	state_store_unlock(f->t.store);
	_cleanup_free_ char *bundle = xasprintf("%s/bundle", f->t.root);
	struct oci_state st = {.id = (char *)"a", .bundle = bundle};
	_cleanup_node_context_ struct node_context *node = NULL;
	assert_ok(node_context_open(&node, err), err);
	int r = lifecycle_start(node, &st, ev, err);
	node = node_context_free(TAKE_PTR(node));
	_cleanup_error_ struct nh_error *lock_err = NULL;
	assert_ok(state_store_lock(f->t.store, true, &lock_err), &lock_err);
	return r;
}

static const char *const all_fail[NH_ACTION__MAX] = {[0 ... NH_ACTION__MAX - 1] = "fail"};

static void test_fake_start_values(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	_cleanup_error_ struct nh_error *err = NULL;

	/* Junk: the start fails naming the key and the accepted values; nothing is applied. */
	start_setup(&f, "v1 junk", all_fail);
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		_cleanup_free_ char *msg = xasprintf(
		    "annotation '%s.nodehook.io': invalid value 'v1 junk' (expected \"true\", "
		    "\"false\" or \"v<N>\")",
		    nh_action_to_string(0));
		assert_error(start_once(&f, &ev, &err), &err, EINVAL, msg);
		assert_string_equal(fake.log, "");
		assert_false(lbt_has_record(&f.t, "a"));
	}
	start_cleanup(&f);

	/* A deprecated spelling: accepted, a note per action, and the value recorded as asked. */
	start_setup(&f, "old", all_fail);
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		assert_ok(start_once(&f, &ev, &err), &err);
		assert_int_equal(ev.n, 2 * NH_ACTION__MAX);
		for (int a = 0; a < NH_ACTION__MAX; a++) {
			assert_int_equal(ev.v[a].kind, LIFECYCLE_NOTE);
			assert_int_equal(ev.v[a].action, a);
			assert_string_equal(ev.v[a].text, "value \"old\" is deprecated");
			assert_int_equal(ev.v[NH_ACTION__MAX + a].kind, LIFECYCLE_APPLIED);
		}
		struct container_record rec = {0};
		for (int a = 0; a < NH_ACTION__MAX; a++) {
			stored_action(&f, "a", &rec);
			assert_string_equal(rec.actions[a].value, "old");
			container_record_clear(&rec);
		}
	}
	undo_stored_ok(&f, "a");
	start_cleanup(&f);
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* A container that asks for nothing runs every guard. A guard failing under on_error "log" is an
 * event and the container starts (audit: the v1 guard failed every start whatever on_error
 * said); under "fail" the start fails, naming the guard. */
static void test_fake_guard_on_error(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	_cleanup_error_ struct nh_error *err = NULL;
	const char *on_error[NH_ACTION__MAX];
	for (int a = 0; a < NH_ACTION__MAX; a++)
		on_error[a] = a == 0 ? "log" : "fail";
	start_setup(&f, "false", on_error);

	fake.fail_guard[0] = EBUSY;
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		assert_ok(start_once(&f, &ev, &err), &err);
		assert_int_equal(ev.n, 1);
		assert_int_equal(ev.v[0].kind, LIFECYCLE_GUARD_FAILED);
		assert_int_equal(ev.v[0].action, 0);
		_cleanup_free_ char *msg =
		    xasprintf("fake %s: guard failed", nh_action_to_string(0));
		assert_string_equal(ev.v[0].text, msg);
	}
	/* Every other guard still ran. */
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		_cleanup_free_ char *line = xasprintf("guard %s\n", nh_action_to_string(a));
		assert_non_null(strstr(fake.log, line));
	}

	fake.fail_guard[1] = EIO;
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		_cleanup_free_ char *msg =
		    xasprintf("guard %s: fake %s: guard failed", nh_action_to_string(1),
			      nh_action_to_string(1));
		assert_error(start_once(&f, &ev, &err), &err, EIO, msg);
	}
	assert_false(lbt_has_record(&f.t, "a"));
	start_cleanup(&f);
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* on_error is per action: the first action fails under "log" and the start goes on with the
 * others; then the last fails under "fail": the start fails and the actions applied before it
 * are undone with it (the container will not start), leaving the node as it was. */
static void test_fake_start_on_error_per_action(void **state)
{
	(void)state;
	struct fixture f;
	fake_setup(&f);
	_cleanup_free_ char *before = lbt_snapshot(&f.t);
	_cleanup_error_ struct nh_error *err = NULL;
	const char *on_error[NH_ACTION__MAX];
	for (int a = 0; a < NH_ACTION__MAX; a++)
		on_error[a] = a == 0 ? "log" : "fail";

	start_setup(&f, "v1", on_error);
	fake.fail_apply[0] = EIO;
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		assert_ok(start_once(&f, &ev, &err), &err);
		assert_int_equal(ev.n, NH_ACTION__MAX);
		assert_int_equal(ev.v[0].kind, LIFECYCLE_REFUSED);
		assert_int_equal(ev.v[0].action, 0);
		for (int a = 1; a < NH_ACTION__MAX; a++)
			assert_int_equal(ev.v[a].kind, LIFECYCLE_APPLIED);
		/* The failed one was rolled back on its own; the others hold. */
		_cleanup_free_ char *path = fake_path(0);
		lbt_assert_file(&f.t, path, FAKE_ORIGINAL, __FILE__, __LINE__);
		for (int a = 1; a < NH_ACTION__MAX; a++) {
			_cleanup_free_ char *p = fake_path((enum nh_action)a);
			lbt_assert_file(&f.t, p, FAKE_CHANGED, __FILE__, __LINE__);
		}
	}
	if (lbt_has_record(&f.t, "a"))
		undo_stored_ok(&f, "a");
	start_cleanup(&f);
	assert_snapshot(before, &f.t);

	/* The last action fails under "fail". */
	fake.fail_apply[0] = 0;
	fake.fail_apply[NH_ACTION__MAX - 1] = EIO;
	fake.log[0] = '\0';
	start_setup(&f, "v1", all_fail);
	{
		_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
		_cleanup_free_ char *msg = xasprintf("%s ('%s.nodehook.io'): fake %s: apply failed",
						     nh_action_to_string(NH_ACTION__MAX - 1),
						     nh_action_to_string(NH_ACTION__MAX - 1),
						     nh_action_to_string(NH_ACTION__MAX - 1));
		assert_error(start_once(&f, &ev, &err), &err, EIO, msg);
		_cleanup_free_ char *applied = fake_log_of("apply", false);
		assert_true(strncmp(fake.log, applied, strlen(applied)) == 0);
		assert_false(lbt_has_record(&f.t, "a"));
	}
	start_cleanup(&f);
	assert_snapshot(before, &f.t);
	fake_teardown(&f);
}

/* Crash points: the scenarios run in a child (lbt_crash_each_point) that SIGKILLs itself at the
 * nth crash point; gc's undo from what is on disk must then give the node back. */
static int scenario_fake_apply(struct lbt *t)
{
	use_fakes = true;
	fake = (struct fake_state){.t = t};
	struct fixture f = {.t = *t, .config = lbt_config("fake")};
	struct lbt_ctr c;
	lbt_ctr_init(&c, "a", "1", 0);
	container_record_clear(&c.rec);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = lifecycle_record_begin(t->store, &f.config, &c.info, &c.rec, &err);
	for (int a = 0; a < NH_ACTION__MAX && r >= 0; a++)
		r = lifecycle_apply(t->store, &f.config, &c.info, &c.rec, (enum nh_action)a, "true",
				    &err);
	if (r < 0)
		fprintf(stderr, "apply: %s\n", err->msg);
	lbt_ctr_clear(&c);
	return r < 0;
}

static int scenario_fake_undo(struct lbt *t)
{
	use_fakes = true;
	fake = (struct fake_state){.t = t};
	return lbt_child_undo(t, "a") < 0;
}

static const struct lbt_scenario scenarios[] = {
    {"fake-apply", scenario_fake_apply},
    {"fake-undo", scenario_fake_undo},
    {NULL, NULL},
};

static char *fake_build(struct lbt *t)
{
	fake_put_tree(t);
	return lbt_snapshot(t);
}

static char *fake_build_applied(struct lbt *t)
{
	char *before = fake_build(t);
	assert_int_equal(scenario_fake_apply(t), 0);
	return before;
}

static void fake_recover(struct lbt *t)
{
	use_fakes = true;
	fake = (struct fake_state){.t = t};
	lbt_undo_ok(t, "a");
	assert_false(lbt_has_record(t, "a"));
}

static void test_fake_crash_points(void **state)
{
	(void)state;
	const struct lbt_crash_case apply = {fake_build, "fake-apply", fake_recover};
	assert_true(lbt_crash_each_point(&apply, "0-3") >= 2 * NH_ACTION__MAX);
	const struct lbt_crash_case undo = {fake_build_applied, "fake-undo", fake_recover};
	assert_true(lbt_crash_each_point(&undo, "0-3") >= NH_ACTION__MAX);
	use_fakes = false;
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_record_open_new);
	tu_suite_add_test(&s, test_record_open_same_process);
	tu_suite_add_test(&s, test_record_open_other_pid);
	tu_suite_add_test(&s, test_record_open_pid_reused);
	tu_suite_add_test(&s, test_record_open_earlier_undo_fails);
	tu_suite_add_test(&s, test_apply_failure_rolled_back);
	tu_suite_add_test(&s, test_apply_rollback_fails_record_stays);
	tu_suite_add_test(&s, test_update_cpus_undo_then_apply);
	tu_suite_add_test(&s, test_container_gone);
	tu_suite_add_test(&s, test_fake_apply_failure_rolled_back);
	tu_suite_add_test(&s, test_fake_rollback_fails_record_stays);
	tu_suite_add_test(&s, test_fake_undo_reverse_order_record_last);
	tu_suite_add_test(&s, test_fake_undo_failure_keeps_record);
	tu_suite_add_test(&s, test_fake_undo_failure_undoes_the_others);
	tu_suite_add_test(&s, test_fake_update_is_undo_then_apply);
	tu_suite_add_test(&s, test_fake_update_rechecks);
	tu_suite_add_test(&s, test_fake_start_events);
	tu_suite_add_test(&s, test_fake_crash_points);
	tu_suite_add_test(&s, test_fake_value_details_round_trip);
	tu_suite_add_test(&s, test_details_summary);
	tu_suite_add_test(&s, test_fake_start_values);
	tu_suite_add_test(&s, test_fake_start_on_error_per_action);
	tu_suite_add_test(&s, test_fake_guard_on_error);
	return tu_suite_run(&s, "lifecycle");
}
