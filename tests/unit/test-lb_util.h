/* Fake kernel trees for the unit tests of the cpu-load-balancing backends (test-lb_*.c).
 *
 * Why fake: this machine has cgroup v1 only and kernel 6.18 (no v2 cpuset, no writable
 * sched_domain flags), and a unit test must not change the node it runs on. The backends run
 * against plain files under a temporary sysroot, laid out and formatted as the kernel shows them
 * (mountinfo, /proc/<pid>/cgroup, cgroupfs, sysctl). Real kernels are tested in tests/e2e (this
 * machine, v1) and tests/vm (6.1 and 6.12 in QEMU, v1 and v2).
 *
 * The test binaries link with -Wl,--wrap=mkdir,--wrap=rmdir,--wrap=write,--wrap=nanosleep, and
 * only below the sysroot:
 * - mkdir in a v1 cpuset directory creates the files cgroupfs would (sched_load_balance 1, empty
 *   cpus and mems); rmdir of a cgroup removes its files, or fails with EBUSY if it has children
 *   or tasks, as cgroupfs does;
 * - a test can play the kernel's part for writes (lbt_on_write): reject one with an errno, or
 *   change what a file reads back;
 * - and for the pause between two sched-domain walks (lbt_on_sleep): a rebuild completes.
 *
 * Ownership rule: struct lbt owns its root directory (removed by lbt_fini) and store; strings
 * returned by lbt_* belong to the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "container.h"
#include "node_config.h"
#include "lb_backend.h"
#include "state_store.h"
#include "test-util.h"

#define LBT_BOOT_ID "3f5b1c9e-8d2a-4e7b-9c1f-2a6d4e8b0c11"
#define LBT_STATE "/run/nodehook"

struct lbt {
	char *root;
	struct state_store *store; /* locked exclusively */
};

/* A fresh sysroot with a boot id, the given online CPUs and an open, locked state store. */
void lbt_init(struct lbt *t, const char *online);
void lbt_fini(struct lbt *t);

/* Files at node paths ("/sys/fs/cgroup/..."); lbt_put creates missing directories. */
void lbt_put(const struct lbt *t, const char *path, const char *content);
char *lbt_get(const struct lbt *t, const char *path); /* NULL when absent */
bool lbt_exists(const struct lbt *t, const char *path);
void lbt_remove(const struct lbt *t,
		const char *path); /* rm -rf: a cgroup gone with its container */
void lbt_assert_file(const struct lbt *t, const char *path, const char *content, const char *file,
		     int line);
/* content NULL: the file must not exist. */
#define assert_file(t, path, content) lbt_assert_file((t), (path), (content), __FILE__, __LINE__)

/* Every directory and file below the root but the state directory, with modes and contents,
 * sorted, one per line. Two trees are the same when their snapshots are. */
char *lbt_snapshot(const struct lbt *t);
void lbt_assert_snapshot(const char *expected, const struct lbt *t, const char *file, int line);
#define assert_snapshot(expected, t) lbt_assert_snapshot((expected), (t), __FILE__, __LINE__)

/* The snapshot of a tree built by setup with the directories `gone` (node paths) removed: what
 * a tree looks like after cgroups went with their containers. Built in a sysroot of its own;
 * t's is current again afterwards. */
char *lbt_snapshot_without(const struct lbt *t, void (*setup)(struct lbt *),
			   const char *const *gone);

/* Whether the state store holds a document (a ledger). */
bool lbt_has_doc(const struct lbt *t, const char *name);

/* A container as the hook knows it at createRuntime, its record as lifecycle_record_begin() starts
 * it for a new container (id and pid; no runtime, no pod). */
struct lbt_ctr {
	struct container_record rec;
	struct container_info info;
};
void lbt_ctr_init(struct lbt_ctr *c, const char *id, const char *cpus, pid_t pid);
void lbt_ctr_clear(struct lbt_ctr *c);

/* The node config with the cpu-load-balancing backend set (the string is not copied), the
 * actions enabled for every namespace. */
struct node_config lbt_config(const char *backend);

/* Apply as the hook does it: lifecycle_apply() of cpu-load-balancing, with the node config's
 * backend b->name (choose_backend asks b->available() first). On failure lifecycle_apply has
 * rolled back what was applied, and the record is gone unless the rollback failed. */
int lbt_apply(struct lbt *t, const struct lb_backend *b, struct lbt_ctr *c, struct nh_error **err);
/* The same with the node config's backend "auto": the backend table's order decides. On
 * success *ret_backend names the backend the record says (static). */
int lbt_apply_auto(struct lbt *t, struct lbt_ctr *c, const char **ret_backend,
		   struct nh_error **err);
/* lbt_apply for a new container of that id, CPUs and pid. */
int lbt_apply_new(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		  pid_t pid, struct nh_error **err);
void lbt_apply_ok_at(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		     pid_t pid, const char *file, int line);
#define lbt_apply_ok(t, b, id, cpus, pid)                                                          \
	lbt_apply_ok_at((t), (b), (id), (cpus), (pid), __FILE__, __LINE__)
/* Undo as at poststop: lifecycle_undo() of the stored record (the ledger does the rest); the
 * record goes on success. No record: nothing to do. */
int lbt_undo(struct lbt *t, const char *id, struct nh_error **err);
void lbt_undo_ok_at(struct lbt *t, const char *id, const char *file, int line);
#define lbt_undo_ok(t, id) lbt_undo_ok_at((t), (id), __FILE__, __LINE__)
/* Undoes id and asserts the tree is `expected` again and the ledger gone; then once more, as a
 * poststop run twice would: nothing changes. */
void lbt_assert_undo_restores_at(struct lbt *t, const char *id, const char *expected,
				 const char *ledger, const char *file, int line);
#define assert_undo_restores(t, id, expected, ledger)                                              \
	lbt_assert_undo_restores_at((t), (id), (expected), (ledger), __FILE__, __LINE__)
/* Whether the state store holds a record for id. */
bool lbt_has_record(const struct lbt *t, const char *id);
int lbt_guard(struct lbt *t, const struct lb_backend *b, struct nh_error **err);

/* The kernel's part for writes below the sysroot. fn gets the node path and the data; it
 * returns LBT_WRITE_PASS (the write reaches the file), LBT_WRITE_DONE (fn wrote the file itself:
 * the write reports success) or a positive errno (the write fails with it). NULL: no hook. */
#define LBT_WRITE_PASS 0
#define LBT_WRITE_DONE (-1)
typedef int (*lbt_write_fn)(const char *path, const char *data, size_t len, void *userdata);
void lbt_on_write(lbt_write_fn fn, void *userdata);
/* Called instead of sleeping in nanosleep (NULL: really sleep). */
void lbt_on_sleep(void (*fn)(void *userdata), void *userdata);

/* A write hook that appends "<path> <value>\n" to *(char **)userdata for writes below /sys and
 * /proc, and lets them through: the order of the backend's writes. */
int lbt_log_writes(const char *path, const char *data, size_t len, void *userdata);
#define assert_writes(log, expected) assert_string_equal((log) ? (log) : "(no writes)", (expected))

/* Crash tests. A scenario runs in a child process (the test binary started again with
 * --crash-child ROOT NAME) on the parent's tree, with NODEHOOK_TEST_CRASH_AT=n: the nth crash
 * point SIGKILLs it. It returns 0 on success. */
struct lbt_scenario {
	const char *name;
	int (*run)(struct lbt *t);
};
/* For scenarios (no cmocka there): apply or undo one container, printing any error. */
int lbt_child_apply(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		    pid_t pid);
int lbt_child_undo(struct lbt *t, const char *id);
/* Call first in main(): in a crash child, runs the scenario and exits. */
void lbt_crash_child_main(int argc, char **argv, const struct lbt_scenario *scenarios);

struct lbt_crash_case {
	/* Builds the tree (and applies what should be there before the scenario); returns the
	 * snapshot the tree must be back to after recover. */
	char *(*build)(struct lbt *t);
	const char *scenario;
	/* Runs after the child (killed or not): undo from the record and the ledger. */
	void (*recover)(struct lbt *t);
};
/* For n = 1, 2, ...: build, run the scenario crashing at n, recover, compare the tree with the
 * snapshot from build, until the scenario completes without reaching crash point n. Returns
 * how many runs were killed. */
unsigned lbt_crash_each_point(const struct lbt_crash_case *cc, const char *online);
