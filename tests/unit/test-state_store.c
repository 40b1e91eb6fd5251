/* state_store: records and ledger documents round trip; another boot's files are void and
 * removed; container ids and document names are checked before any path is built; records list
 * sorted; the lock is exclusive against shared and exclusive holders in other processes; unsafe
 * state directories are refused; kernel_process_start_time() on this process, a zombie, a missing
 * pid and fixture /proc files; lifecycle_orphans() finds ledger entries without a record. Each case
 * works in its own directory under /tmp; the sysroot is reset after each. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

#include "cleanup.h"
#include "json_util.h"
#include "kernel.h"
#include "lifecycle.h"
#include "state_store.h"
#include "sysroot.h"
#include "xalloc.h"

#define BOOT_A "0c29b80f-8def-46fb-87bd-6824702f004b"
#define BOOT_B "9f1f3a2e-1111-4222-8333-444455556666"

struct fixture {
	char *root;  /* the temporary directory */
	char *state; /* root/state: the state directory (not created by setup) */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	f->root = tu_mkdtemp();
	f->state = tu_path(f->root, "state");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	sysroot_set("/");
	tu_rm_rf(f->root);
	free(f->root);
	free(f->state);
	free(f);
	return 0;
}

static struct state_store *open_store(const char *path, const char *boot_id)
{
	struct nh_error *err = NULL;
	struct state_store *s = NULL;
	assert_ok(state_store_open(path, boot_id, &s, &err), &err);
	assert_non_null(s);
	return s;
}

static bool exists_at(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = tu_path(dir, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

/* ---------------------------------------------------------------------------------------- */

static void test_open_creates_private_dir(void **state)
{
	struct fixture *f = *state;
	struct nh_error *err = NULL;
	struct state_store *s = NULL;

	/* Read-only open of a missing directory: no store, nothing created. */
	assert_ok(state_store_open_existing(f->state, BOOT_A, &s, &err), &err);
	assert_null(s);
	assert_false(exists_at(f->root, "state"));

	s = open_store(f->state, BOOT_A);
	struct stat st;
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_true(exists_at(f->state, "containers"));
	state_store_close(s);

	assert_ok(state_store_open_existing(f->state, BOOT_A, &s, &err), &err);
	assert_non_null(s);
	state_store_close(s);
}

static void fill_record(struct container_record *r)
{
	r->id = xstrdup("nh-rt_1+x.y");
	r->pid = 4242;
	r->pid_start = (1ull << 63) + 5; /* beyond int64: must survive as uint64 */
	r->runtime_path = xstrdup("/usr/sbin/runc");
	r->runtime_root = xstrdup("/run/containerd/runc/k8s.io");
	r->pod_namespace = xstrdup("ns/with\"quote");
	r->pod_name = xstrdup("pod-0");
	r->container_name = xstrdup("app");
	r->since = 1795883884;
	struct action_record *ar = &r->actions[NH_ACTION_CPU_LOAD_BALANCING];
	ar->present = true;
	ar->applied = true;
	ar->backend = xstrdup("cgroup-v1");
	ar->cpus = xstrdup("1,3-4");
	ar->cgroup = xstrdup("/kubepods/pod-0/app");
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_records_equal(const struct container_record *a, const struct container_record *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->pid, b->pid);
	assert_true(a->pid_start == b->pid_start);
	assert_str_eq_or_null(a->runtime_path, b->runtime_path);
	assert_str_eq_or_null(a->runtime_root, b->runtime_root);
	assert_str_eq_or_null(a->pod_namespace, b->pod_namespace);
	assert_str_eq_or_null(a->pod_name, b->pod_name);
	assert_str_eq_or_null(a->container_name, b->container_name);
	assert_true(a->since == b->since);
	for (int i = 0; i < NH_ACTION__MAX; i++) {
		const struct action_record *x = &a->actions[i], *y = &b->actions[i];
		assert_int_equal(x->present, y->present);
		assert_int_equal(x->applied, y->applied);
		assert_str_eq_or_null(x->backend, y->backend);
		assert_str_eq_or_null(x->cpus, y->cpus);
		assert_str_eq_or_null(x->cgroup, y->cgroup);
	}
}

static void test_record_round_trip(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;

	struct container_record full = {0};
	fill_record(&full);
	assert_ok(state_record_write(s, &full, &err), &err);
	struct container_record got = {0};
	assert_int_equal(state_record_read(s, full.id, &got, &err), 1);
	assert_records_equal(&full, &got);
	container_record_clear(&got);

	/* The file is private and carries the boot id. */
	_cleanup_free_ char *path = xasprintf("%s/containers/%s.json", f->state, full.id);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	size_t len = 0;
	_cleanup_free_ char *text = tu_read_file(path, &len);
	assert_non_null(strstr(text, "\"boot_id\":\"" BOOT_A "\""));

	/* Rewriting replaces: a half-applied state comes back as such. */
	full.actions[NH_ACTION_CPU_LOAD_BALANCING].applied = false;
	assert_ok(state_record_write(s, &full, &err), &err);
	assert_int_equal(state_record_read(s, full.id, &got, &err), 1);
	assert_false(got.actions[NH_ACTION_CPU_LOAD_BALANCING].applied);
	assert_true(got.actions[NH_ACTION_CPU_LOAD_BALANCING].present);
	container_record_clear(&got);
	container_record_clear(&full);

	/* A minimal record: absent strings stay absent, no action stays no action. */
	struct container_record min = {.id = xstrdup("m")};
	assert_ok(state_record_write(s, &min, &err), &err);
	assert_int_equal(state_record_read(s, "m", &got, &err), 1);
	assert_records_equal(&min, &got);
	container_record_clear(&got);
	container_record_clear(&min);

	/* Remove, then read: none; removing again is fine. */
	assert_ok(state_record_remove(s, "m", &err), &err);
	assert_int_equal(state_record_read(s, "m", &got, &err), 0);
	assert_ok(state_record_remove(s, "m", &err), &err);
}

static void test_doc_round_trip(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object_object_add(doc, "path", json_object_new_string("/a/b"));
	assert_ok(state_doc_write(s, "ledger.json", doc, &err), &err);
	_cleanup_free_ char *path = tu_path(f->state, "ledger.json");
	size_t len = 0;
	_cleanup_free_ char *text = tu_read_file(path, &len);
	assert_non_null(strstr(text, "\"/a/b\"")); /* no "\/" */

	_cleanup_json_ json_object *got = NULL;
	assert_int_equal(state_doc_read(s, "ledger.json", &got, &err), 1);
	json_object *v = NULL;
	assert_true(json_object_object_get_ex(got, "path", &v));
	assert_string_equal(json_object_get_string(v), "/a/b");
	assert_ok(state_doc_remove(s, "ledger.json", &err), &err);
	assert_false(exists_at(f->state, "ledger.json"));
	assert_int_equal(state_doc_read(s, "ledger.json", &got, &err), 0);
}

/* Finding 5: a FIFO at a record or a ledger is refused without blocking (it would block under
 * the store's lock, and with it every hook on the node). The alarm turns a hang into a
 * failure. */
static void test_fifo_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;
	struct container_record rec = {.id = xstrdup("ctr9")};
	assert_ok(state_record_write(s, &rec, &err), &err);
	container_record_clear(&rec);
	_cleanup_free_ char *rec_path = xasprintf("%s/containers/ctr9.json", f->state);
	_cleanup_free_ char *doc_path = tu_path(f->state, "cpuset-v1.json");
	assert_int_equal(unlink(rec_path), 0);
	assert_int_equal(mkfifo(rec_path, 0600), 0);
	assert_int_equal(mkfifo(doc_path, 0600), 0);
	alarm(30);
	struct container_record got = {0};
	_cleanup_free_ char *msg = xasprintf("%s: not a regular file (a FIFO)", rec_path);
	assert_error(state_record_read(s, "ctr9", &got, &err), &err, EINVAL, msg);
	json_object *doc = NULL;
	_cleanup_free_ char *msg2 = xasprintf("%s: not a regular file (a FIFO)", doc_path);
	assert_error(state_doc_read(s, "cpuset-v1.json", &doc, &err), &err, EINVAL, msg2);
	alarm(0);
	assert_null(doc);
}

/* Finding 8: a "containers" symlink is never followed, for writes, reads, removal or listing;
 * records are written through the directory fd (a temporary file next to the target). */
static void test_containers_symlink_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;
	_cleanup_free_ char *target = tu_path(f->root, "elsewhere");
	_cleanup_free_ char *link = tu_path(f->state, "containers");
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(rmdir(link), 0);
	assert_int_equal(symlink(target, link), 0);
	struct container_record rec = {.id = xstrdup("ctr1")};
	_cleanup_free_ char *prefix = xasprintf("state directory %s: ", link);
	assert_error_prefix(state_record_write(s, &rec, &err), &err, ENOTDIR, prefix);
	container_record_clear(&rec);
	assert_int_equal(tu_count_entries(target), 0);
	free(tu_write_file(target, "ctr1.json", "{}", 2));
	struct container_record got = {0};
	assert_error_prefix(state_record_read(s, "ctr1", &got, &err), &err, ENOTDIR, prefix);
	assert_error_prefix(state_record_remove(s, "ctr1", &err), &err, ENOTDIR, prefix);
	char **ids = NULL;
	assert_error_prefix(state_record_list(s, &ids, &err), &err, ENOTDIR, prefix);
	assert_null(ids);
	assert_int_equal(tu_count_entries(target), 1);

	/* A records directory writable by others is refused like the state directory. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(chmod(link, 0777), 0);
	rec.id = xstrdup("ctr2");
	assert_error_prefix(state_record_write(s, &rec, &err), &err, EPERM, prefix);
	container_record_clear(&rec);
	assert_int_equal(tu_count_entries(link), 0);
}

/* Files from another boot describe settings the reboot undid: read as none, and removed. */
static void test_other_boot_is_void(void **state)
{
	struct fixture *f = *state;
	struct nh_error *err = NULL;
	{
		_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
		struct container_record r = {0};
		fill_record(&r);
		assert_ok(state_record_write(s, &r, &err), &err);
		container_record_clear(&r);
		_cleanup_json_ json_object *doc = json_object_new_object();
		assert_ok(state_doc_write(s, "ledger.json", doc, &err), &err);
	}
	_cleanup_free_ char *rel = xstrdup("containers/nh-rt_1+x.y.json");
	assert_true(exists_at(f->state, rel));

	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_B);
	_cleanup_strv_ char **ids = NULL;
	assert_ok(state_record_list(s, &ids, &err), &err);
	assert_non_null(ids[0]); /* listing does not judge: it only reads names */
	struct container_record got = {0};
	assert_int_equal(state_record_read(s, "nh-rt_1+x.y", &got, &err), 0);
	assert_false(exists_at(f->state, rel));
	json_object *doc = NULL;
	assert_int_equal(state_doc_read(s, "ledger.json", &doc, &err), 0);
	assert_null(doc);
	assert_false(exists_at(f->state, "ledger.json"));

	/* A file without a boot id (hand-written, or from an older nodehook) is void too. */
	_cleanup_free_ char *dir = tu_path(f->state, "containers");
	free(tu_write_file(dir, "old.json", "{\"id\": \"old\"}", 13));
	assert_int_equal(state_record_read(s, "old", &got, &err), 0);
	assert_false(exists_at(f->state, "containers/old.json"));
}

static void test_invalid_ids_rejected(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;

	/* Targets a traversal would reach: they must survive every call below. */
	free(tu_write_file(f->state, "x.json", "{}", 2));
	free(tu_write_file(f->root, "y.json", "{}", 2));

	char long_id[CONTAINER_ID_MAX + 2];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	const char *bad[] = {"",    ".",   "..", "../x", "../../y", "a/b", "/etc/passwd",
			     "a b", "x\n", "é",	 "a:b",	 long_id};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct container_record got = {0};
		assert_error_prefix(state_record_read(s, bad[i], &got, &err), &err, EINVAL,
				    "invalid container id '");
		assert_error_prefix(state_record_remove(s, bad[i], &err), &err, EINVAL,
				    "invalid container id '");
		struct container_record w = {.id = xstrdup(bad[i])};
		assert_error_prefix(state_record_write(s, &w, &err), &err, EINVAL,
				    "invalid container id '");
		container_record_clear(&w);
	}
	assert_true(exists_at(f->state, "x.json"));
	assert_true(exists_at(f->root, "y.json"));
	_cleanup_free_ char *records = tu_path(f->state, "containers");
	assert_int_equal(tu_count_entries(records), 0);

	const char *bad_docs[] = {"", ".hidden", "../y.json", "a/b", "containers/x.json"};
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		json_object *doc = NULL;
		assert_error_prefix(state_doc_read(s, bad_docs[i], &doc, &err), &err, EINVAL,
				    "invalid state document name '");
		assert_error_prefix(state_doc_remove(s, bad_docs[i], &err), &err, EINVAL,
				    "invalid state document name '");
		_cleanup_json_ json_object *w = json_object_new_object();
		assert_error_prefix(state_doc_write(s, bad_docs[i], w, &err), &err, EINVAL,
				    "invalid state document name '");
	}
	assert_true(exists_at(f->root, "y.json"));
}

static void test_list_sorted(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;

	_cleanup_strv_ char **ids = NULL;
	assert_ok(state_record_list(s, &ids, &err), &err);
	assert_null(ids[0]);
	ids = strv_free(ids);

	const char *names[] = {"b", "a.1", "C", "_z", "a", "10", "9"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct container_record r = {.id = xstrdup(names[i])};
		assert_ok(state_record_write(s, &r, &err), &err);
		container_record_clear(&r);
	}
	/* Not records: no .json suffix, an empty or invalid id, a temporary file. */
	_cleanup_free_ char *dir = tu_path(f->state, "containers");
	free(tu_write_file(dir, "notes.txt", "", 0));
	free(tu_write_file(dir, ".json", "", 0));
	free(tu_write_file(dir, "bad id.json", "", 0));
	free(tu_write_file(dir, ".b.json.tmp123", "", 0));

	assert_ok(state_record_list(s, &ids, &err), &err);
	const char *want[] = {"10", "9", "C", "_z", "a", "a.1", "b"}; /* strcmp order */
	size_t n = 0;
	while (ids[n])
		n++;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ids[i], want[i]);
	ids = strv_free(ids);

	/* A store whose records directory is gone lists nothing. */
	tu_rm_rf(dir);
	assert_ok(state_record_list(s, &ids, &err), &err);
	assert_null(ids[0]);
}

/* ---------------------------------------------------------------------------------------- */
/* Locking: another process opens the same store and asks for the lock. */

enum child_outcome {
	CHILD_LOCKED,  /* got the lock */
	CHILD_BLOCKED, /* seen waiting for it */
	CHILD_ERROR,
};

/* Whether pid waits on an flock now: /proc/locks lists a waiter as "N: -> FLOCK ... PID ...". */
static bool waits_on_flock(pid_t pid)
{
	_cleanup_fclose_ FILE *locks = fopen("/proc/locks", "re");
	assert_non_null(locks);
	char line[512];
	while (fgets(line, sizeof(line), locks)) {
		const char *w = strstr(line, "-> FLOCK");
		int p = 0;
		if (w && sscanf(w, "-> FLOCK %*s %*s %d", &p) == 1 && p == pid)
			return true;
	}
	return false;
}

/* Polls until pid waits on an flock (true) or has exited (false, *status set, pid reaped).
 * Polls are counted, not timed: a loaded machine delays the child, not the outcome. */
static bool wait_blocked_or_exited(pid_t pid, int *status)
{
	for (int i = 0; i < 6000; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return false;
		if (waits_on_flock(pid))
			return true;
		usleep(10 * 1000);
	}
	fail_msg("process %d neither waits on the lock nor exits", (int)pid);
	return false;
}

/* Forks a process that opens the store on its own (its own open file description: flock
 * conflicts are per description, and a forked copy of ours would share it) and locks it. It
 * either gets the lock and exits, or is seen waiting for it in the kernel and is killed: no
 * timer decides, so "blocked" cannot mean "had not got there yet". */
static enum child_outcome try_lock_in_child(const char *path, bool exclusive)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nh_error *err = NULL;
		struct state_store *s = NULL;
		alarm(120); /* only if the parent is gone */
		if (state_store_open(path, BOOT_A, &s, &err) < 0)
			_exit(3);
		if (state_store_lock(s, exclusive, &err) < 0)
			_exit(4);
		_exit(0);
	}
	int status = 0;
	if (wait_blocked_or_exited(pid, &status)) {
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		return CHILD_BLOCKED;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return CHILD_LOCKED;
	return CHILD_ERROR;
}

static void test_lock_exclusive_vs_shared(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;

	assert_int_equal(try_lock_in_child(f->state, true), CHILD_LOCKED);

	assert_ok(state_store_lock(s, false, &err), &err);
	assert_int_equal(try_lock_in_child(f->state, false), CHILD_LOCKED);
	assert_int_equal(try_lock_in_child(f->state, true), CHILD_BLOCKED);
	state_store_unlock(s);

	assert_ok(state_store_lock(s, true, &err), &err);
	assert_int_equal(try_lock_in_child(f->state, false), CHILD_BLOCKED);
	assert_int_equal(try_lock_in_child(f->state, true), CHILD_BLOCKED);
	state_store_unlock(s);
	assert_int_equal(try_lock_in_child(f->state, true), CHILD_LOCKED);

	/* Closing the store drops the lock, as a killed hook's exit does. */
	assert_ok(state_store_lock(s, true, &err), &err);
	s = state_store_close(s);
	assert_int_equal(try_lock_in_child(f->state, true), CHILD_LOCKED);
}

/* A waiter gets the lock as soon as the holder lets go. */
static void test_lock_waiter_proceeds(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;
	assert_ok(state_store_lock(s, true, &err), &err);
	int ready[2];
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct state_store *c = NULL;
		if (state_store_open(f->state, BOOT_A, &c, &err) < 0)
			_exit(3);
		(void)write(ready[1], "x", 1);
		alarm(60); /* only if the parent never lets go */
		_exit(state_store_lock(c, true, &err) < 0 ? 4 : 0);
	}
	char x;
	assert_int_equal(read(ready[0], &x, 1), 1);
	/* The child really waits in flock, not merely has not got there yet. */
	int status = 0;
	assert_true(wait_blocked_or_exited(pid, &status));
	state_store_unlock(s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(ready[0]);
	close(ready[1]);
}

/* ---------------------------------------------------------------------------------------- */

static void assert_open_refused(const char *path, int errnum, const char *msg_prefix)
{
	struct nh_error *err = NULL;
	struct state_store *s = NULL;
	assert_error_prefix(state_store_open(path, BOOT_A, &s, &err), &err, errnum, msg_prefix);
	assert_null(s);
	assert_error_prefix(state_store_open_existing(path, BOOT_A, &s, &err), &err, errnum,
			    msg_prefix);
	assert_null(s);
}

static void test_unsafe_dir_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *prefix = xasprintf("state directory %s: must belong to uid", f->state);
	assert_int_equal(mkdir(f->state, 0700), 0);

	assert_int_equal(chmod(f->state, 0770), 0);
	assert_open_refused(f->state, EPERM, prefix);
	assert_int_equal(chmod(f->state, 0702), 0);
	assert_open_refused(f->state, EPERM, prefix);
	assert_int_equal(chmod(f->state, 01777), 0);
	assert_open_refused(f->state, EPERM, prefix);
	/* Readable by others is their business; writable is not. */
	assert_int_equal(chmod(f->state, 0755), 0);
	state_store_close(open_store(f->state, BOOT_A));

	/* A symlink is not followed, even to a good directory. */
	_cleanup_free_ char *link = tu_path(f->root, "link");
	assert_int_equal(symlink(f->state, link), 0);
	struct nh_error *err = NULL;
	struct state_store *s = NULL;
	assert_true(state_store_open_existing(link, BOOT_A, &s, &err) < 0);
	assert_null(s);
	err = nh_error_free(err);
	/* Nor is a file taken for a directory. */
	_cleanup_free_ char *file = tu_write_file(f->root, "file", "", 0);
	assert_true(state_store_open(file, BOOT_A, &s, &err) < 0);
	err = nh_error_free(err);

	if (geteuid() != 0)
		tu_skip("not root: only root can give the state directory to another user");
	assert_int_equal(chown(f->state, 65534, getegid()), 0);
	assert_int_equal(chmod(f->state, 0700), 0);
	assert_open_refused(f->state, EPERM, prefix);
	/* Another group, not writable by it: fine. */
	assert_int_equal(chown(f->state, geteuid(), 65534), 0);
	state_store_close(open_store(f->state, BOOT_A));
}

/* ---------------------------------------------------------------------------------------- */
/* kernel_process_start_time */

static unsigned long long start_time_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	size_t len = 0;
	_cleanup_free_ char *buf = tu_read_file(path, &len);
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	unsigned long long v = 0;
	/* fields 3..21 skipped, 22 read */
	assert_int_equal(sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
				"%*d %*d %*d %llu",
				&v),
			 1);
	return v;
}

static void test_start_time_live_zombie_missing(void **state)
{
	(void)state;
	struct nh_error *err = NULL;
	uint64_t v = 0;
	assert_int_equal(kernel_process_start_time(getpid(), &v, &err), 1);
	assert_true(v == start_time_of(getpid()));

	int go[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char x;
		close(go[1]);
		(void)read(go[0], &x, 1);
		_exit(0);
	}
	close(go[0]);
	uint64_t child = 0;
	assert_int_equal(kernel_process_start_time(pid, &child, &err), 1);
	assert_true(child == start_time_of(pid));
	assert_true(child >= v);

	/* Let it exit, wait for the exit without reaping: a zombie, as gone as can be. */
	close(go[1]);
	siginfo_t info = {0};
	assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	child = 7;
	assert_int_equal(kernel_process_start_time(pid, &child, &err), 0);
	assert_true(child == 7); /* untouched */
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	/* Reaped (unless the pid was reused within microseconds), and pids that cannot exist. */
	assert_int_equal(kernel_process_start_time(INT_MAX, &child, &err), 0);
	assert_int_equal(kernel_process_start_time(0, &child, &err), 0);
	assert_int_equal(kernel_process_start_time(-1, &child, &err), 0);
	assert_null(err);
}

static void write_proc_stat(const char *root, int pid, const char *content)
{
	_cleanup_free_ char *dir = xasprintf("%s/proc/%d", root, pid);
	_cleanup_free_ char *proc = xasprintf("%s/proc", root);
	(void)mkdir(proc, 0755);
	assert_int_equal(mkdir(dir, 0755), 0);
	free(tu_write_file(dir, "stat", content, strlen(content)));
}

/* The parser, on fixture files under a sysroot: comm may hold spaces and parentheses. */
static void test_start_time_parsing(void **state)
{
	struct fixture *f = *state;
	const char *tail = " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456789 19 20\n";
	_cleanup_free_ char *odd = xasprintf("100 (a) b) (c d) S%s", tail);
	write_proc_stat(f->root, 100, odd);
	_cleanup_free_ char *zombie = xasprintf("101 (z) Z%s", tail);
	write_proc_stat(f->root, 101, zombie);
	_cleanup_free_ char *dead = xasprintf("102 (x) X%s", tail);
	write_proc_stat(f->root, 102, dead);
	write_proc_stat(f->root, 103, "103 (short) S 1 2 3\n");
	write_proc_stat(f->root, 104, "104 no parenthesis\n");
	_cleanup_free_ char *junk = xasprintf("105 (j) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 "
					      "17 18 12x 19\n");
	write_proc_stat(f->root, 105, junk);
	sysroot_set(f->root);

	struct nh_error *err = NULL;
	uint64_t v = 0;
	assert_int_equal(kernel_process_start_time(100, &v, &err), 1);
	assert_true(v == 123456789);
	assert_int_equal(kernel_process_start_time(101, &v, &err), 0);
	assert_int_equal(kernel_process_start_time(102, &v, &err), 0);
	assert_int_equal(kernel_process_start_time(106, &v, &err), 0); /* no such directory */
	assert_error_prefix(kernel_process_start_time(103, &v, &err), &err, EBADMSG, f->root);
	assert_error_prefix(kernel_process_start_time(104, &v, &err), &err, EBADMSG, f->root);
	assert_error_prefix(kernel_process_start_time(105, &v, &err), &err, EBADMSG, f->root);
}

static void test_boot_id(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *dir = xasprintf("%s/proc/sys/kernel/random", f->root);
	_cleanup_free_ char *cmd = xasprintf("mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(tu_write_file(dir, "boot_id", BOOT_A "\n", strlen(BOOT_A) + 1));
	sysroot_set(f->root);
	struct nh_error *err = NULL;
	_cleanup_free_ char *id = NULL;
	assert_ok(kernel_boot_id(&id, &err), &err);
	assert_string_equal(id, BOOT_A);
	free(tu_write_file(dir, "boot_id", "\n", 1));
	char *none = NULL;
	assert_error_prefix(kernel_boot_id(&none, &err), &err, EBADMSG, f->root);
	assert_null(none);
}

/* ---------------------------------------------------------------------------------------- */

/* Ledger entries that no record accounts for come back as synthesized records. */
static void test_orphans(void **state)
{
	struct fixture *f = *state;
	_cleanup_state_store_ struct state_store *s = open_store(f->state, BOOT_A);
	struct nh_error *err = NULL;
	struct container_record *orphans = NULL;
	size_t n = 99;

	/* No ledger: no orphans. */
	assert_ok(lifecycle_orphans(s, NULL, &orphans, &n, &err), &err);
	assert_int_equal(n, 0);
	free(orphans);

	struct container_record r = {.id = xstrdup("kept")};
	r.actions[NH_ACTION_CPU_LOAD_BALANCING].present = true;
	assert_ok(state_record_write(s, &r, &err), &err);
	container_record_clear(&r);
	const char *ledger =
	    "{\"mount\": \"/sys/fs/cgroup/cpuset\", \"isolated\": "
	    "{\"zz\": \"1\", \"kept\": \"1\", \"lost\": \"2-3\"}, \"changed\": []}";
	_cleanup_json_ json_object *doc = NULL;
	assert_ok(json_parse_strict(ledger, strlen(ledger), 8, &doc, &err), &err);
	assert_ok(state_doc_write(s, "cpuset-v1.json", doc, &err), &err);

	assert_ok(lifecycle_orphans(s, NULL, &orphans, &n, &err), &err);
	assert_int_equal(n, 2);
	assert_string_equal(orphans[0].id, "lost");
	assert_string_equal(orphans[1].id, "zz");
	for (size_t i = 0; i < n; i++) {
		const struct action_record *ar = &orphans[i].actions[NH_ACTION_CPU_LOAD_BALANCING];
		assert_true(ar->present);
		assert_false(ar->applied);
		assert_string_equal(ar->backend, "cgroup-v1");
		assert_int_equal(orphans[i].pid, 0);
		container_record_clear(&orphans[i]);
	}
	free(orphans);

	/* Reading found them; it wrote nothing. */
	_cleanup_free_ char *records = tu_path(f->state, "containers");
	assert_int_equal(tu_count_entries(records), 1);

	/* A ledger naming an id no path may carry is an error, not a path. */
	const char *evil = "{\"isolated\": {\"../x\": \"1\"}, \"changed\": []}";
	_cleanup_json_ json_object *evil_doc = NULL;
	assert_ok(json_parse_strict(evil, strlen(evil), 8, &evil_doc, &err), &err);
	assert_ok(state_doc_write(s, "cpuset-v1.json", evil_doc, &err), &err);
	assert_error_prefix(lifecycle_orphans(s, NULL, &orphans, &n, &err), &err, EBADMSG,
			    "cpu-load-balancing: a ledger names an invalid container id");
}

int main(void)
{
	struct tu_suite s = {0};
#define ADD(f) tu_suite_add_fixture(&s, f, setup, teardown)
	ADD(test_open_creates_private_dir);
	ADD(test_record_round_trip);
	ADD(test_doc_round_trip);
	ADD(test_fifo_refused);
	ADD(test_containers_symlink_refused);
	ADD(test_other_boot_is_void);
	ADD(test_invalid_ids_rejected);
	ADD(test_list_sorted);
	ADD(test_lock_exclusive_vs_shared);
	ADD(test_lock_waiter_proceeds);
	ADD(test_unsafe_dir_refused);
	ADD(test_start_time_live_zombie_missing);
	ADD(test_start_time_parsing);
	ADD(test_boot_id);
	ADD(test_orphans);
	return tu_suite_run(&s, "state_store");
}
