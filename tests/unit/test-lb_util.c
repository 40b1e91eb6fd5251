#include "test-lb_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "lifecycle.h"
#include "sysroot.h"
#include "xalloc.h"

/* --- the kernel's part, through the linker's --wrap ----------------------------------------- */

int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode);
int __real_rmdir(const char *path);
int __wrap_rmdir(const char *path);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_nanosleep(const struct timespec *req, struct timespec *rem);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);

static lbt_write_fn write_fn;
static void *write_userdata;
static void (*sleep_fn)(void *);
static void *sleep_userdata;
static bool in_fake_kernel; /* the fake kernel's own file operations pass straight through */

void lbt_on_write(lbt_write_fn fn, void *userdata)
{
	write_fn = fn;
	write_userdata = userdata;
}

void lbt_on_sleep(void (*fn)(void *), void *userdata)
{
	sleep_fn = fn;
	sleep_userdata = userdata;
}

/* The node path of a host path below the sysroot, or NULL. */
static const char *node_path(const char *path)
{
	const char *root = sysroot_get();
	size_t n = strlen(root);
	if (strcmp(root, "/") == 0 || strncmp(path, root, n) != 0 || path[n] != '/')
		return NULL;
	return path + n;
}

static bool has_entry(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void put_host(const char *path, const char *content)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, content, strlen(content)) < 0)
		fail_msg("fake kernel: write %s: %s", path, strerror(errno));
}

int __wrap_mkdir(const char *path, mode_t mode)
{
	int r = __real_mkdir(path, mode);
	if (r < 0 || in_fake_kernel || !node_path(path))
		return r;
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	*slash = '\0';
	if (!has_entry(copy, "cpuset.sched_load_balance"))
		return r;
	/* A new v1 cpuset: balanced, no CPUs, no memory nodes, no tasks. */
	static const char *const files[][2] = {
	    {"cpuset.cpus", "\n"},
	    {"cpuset.mems", "\n"},
	    {"cpuset.sched_load_balance", "1\n"},
	    {"cpuset.cpu_exclusive", "0\n"},
	    {"cgroup.procs", ""},
	    {"tasks", ""},
	};
	in_fake_kernel = true;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", path, files[i][0]);
		put_host(p, files[i][1]);
	}
	in_fake_kernel = false;
	return r;
}

int __wrap_rmdir(const char *path)
{
	if (in_fake_kernel || !node_path(path) || !has_entry(path, "cpuset.cpus"))
		return __real_rmdir(path);
	_cleanup_free_ char *procs_path = xasprintf("%s/cgroup.procs", path);
	_cleanup_free_ char *procs = NULL;
	size_t len = 0;
	if (access(procs_path, F_OK) == 0)
		procs = tu_read_file(procs_path, &len);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			errno = EBUSY;
			return -1;
		}
	if (len > 0) {
		errno = EBUSY;
		return -1;
	}
	rewinddir(d);
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_type == DT_REG)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	return __real_rmdir(path);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	if (!write_fn || in_fake_kernel || fd < 0)
		return __real_write(fd, buf, n);
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, path, sizeof(path) - 1);
	if (len <= 0)
		return __real_write(fd, buf, n);
	path[len] = '\0';
	const char *node = node_path(path);
	if (!node)
		return __real_write(fd, buf, n);
	in_fake_kernel = true;
	int r = write_fn(node, buf, n, write_userdata);
	in_fake_kernel = false;
	if (r == LBT_WRITE_PASS)
		return __real_write(fd, buf, n);
	if (r == LBT_WRITE_DONE)
		return (ssize_t)n;
	errno = r;
	return -1;
}

int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!sleep_fn)
		return __real_nanosleep(req, rem);
	in_fake_kernel = true;
	sleep_fn(sleep_userdata);
	in_fake_kernel = false;
	return 0;
}

int lbt_log_writes(const char *path, const char *data, size_t len, void *userdata)
{
	char **log = userdata;
	if (strncmp(path, "/sys/", 5) != 0 && strncmp(path, "/proc/", 6) != 0)
		return LBT_WRITE_PASS;
	char *next = xasprintf("%s%s %.*s", *log ? *log : "", path, (int)len, data);
	free(*log);
	*log = next;
	return LBT_WRITE_PASS;
}

/* --- trees ----------------------------------------------------------------------------------- */

static void open_store(struct lbt *t)
{
	_cleanup_free_ char *dir = xasprintf("%s" LBT_STATE, t->root);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(state_store_open(dir, LBT_BOOT_ID, &t->store, &err), &err);
	assert_ok(state_store_lock(t->store, true, &err), &err);
}

/* On tmpfs where there is one, like /run on a node: the state store fsyncs every document, and
 * on a disk the crash tests would spend their time waiting for it. */
static char *make_root(void)
{
	char *dir = xstrdup("/dev/shm/nodehook-lb-XXXXXX");
	if (mkdtemp(dir))
		return dir;
	free(dir);
	return tu_mkdtemp();
}

void lbt_init(struct lbt *t, const char *online)
{
	/* Hooks a failed test could not remove would point into its dead stack frame. */
	lbt_on_write(NULL, NULL);
	lbt_on_sleep(NULL, NULL);
	*t = (struct lbt){.root = make_root()};
	sysroot_set(t->root);
	lbt_put(t, "/proc/sys/kernel/random/boot_id", LBT_BOOT_ID "\n");
	_cleanup_free_ char *cpus = xasprintf("%s\n", online);
	lbt_put(t, "/sys/devices/system/cpu/online", cpus);
	lbt_put(t, LBT_STATE "/.keep", "");
	open_store(t);
}

void lbt_fini(struct lbt *t)
{
	lbt_on_write(NULL, NULL);
	lbt_on_sleep(NULL, NULL);
	t->store = state_store_close(t->store);
	tu_rm_rf(t->root);
	free(t->root);
	sysroot_set(NULL);
	*t = (struct lbt){0};
}

static char *host_path(const struct lbt *t, const char *path)
{
	return xasprintf("%s%s", t->root, path);
}

void lbt_put(const struct lbt *t, const char *path, const char *content)
{
	_cleanup_free_ char *host = host_path(t, path);
	for (char *p = host + strlen(t->root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (__real_mkdir(host, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", host, strerror(errno));
		*p = '/';
	}
	bool was = in_fake_kernel;
	in_fake_kernel = true;
	put_host(host, content);
	in_fake_kernel = was;
}

char *lbt_get(const struct lbt *t, const char *path)
{
	_cleanup_free_ char *host = host_path(t, path);
	if (access(host, F_OK) < 0)
		return NULL;
	size_t len = 0;
	return tu_read_file(host, &len);
}

bool lbt_exists(const struct lbt *t, const char *path)
{
	_cleanup_free_ char *host = host_path(t, path);
	return access(host, F_OK) == 0;
}

void lbt_remove(const struct lbt *t, const char *path)
{
	_cleanup_free_ char *host = host_path(t, path);
	tu_rm_rf(host);
}

/* Makes newlines and other control bytes visible. */
static char *escape(const char *s)
{
	char *out = xmalloc(strlen(s) * 4 + 1), *o = out;
	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if ((unsigned char)*p < 0x20 || *p == '\\') {
			o += sprintf(o, "\\x%02x", (unsigned char)*p);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

void lbt_assert_file(const struct lbt *t, const char *path, const char *content, const char *file,
		     int line)
{
	_cleanup_free_ char *got = lbt_get(t, path);
	if (!content && !got)
		return;
	if (content && got && strcmp(content, got) == 0)
		return;
	_cleanup_free_ char *want_e = content ? escape(content) : NULL;
	_cleanup_free_ char *got_e = got ? escape(got) : NULL;
	print_error("%s: expected %s%s%s, got %s%s%s\n", path, content ? "'" : "",
		    content ? want_e : "no file", content ? "'" : "", got ? "'" : "",
		    got ? got_e : "no file", got ? "'" : "");
	_fail(file, line);
}

struct snapshot_walk {
	size_t root_len;
	char **lines;
	size_t n;
};

static struct snapshot_walk *snapshot_state;

static int snapshot_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	struct snapshot_walk *w = snapshot_state;
	const char *rel = path + w->root_len;
	if (!*rel || strncmp(rel, LBT_STATE, strlen(LBT_STATE)) == 0 ||
	    strncmp(LBT_STATE, rel, strlen(rel)) == 0)
		return 0; /* the root, the state directory and the directories leading to it */
	char *line = NULL;
	if (flag == FTW_D || flag == FTW_DP) {
		line = xasprintf("d %s %04o", rel, (unsigned)(st->st_mode & 07777));
	} else {
		size_t len = 0;
		_cleanup_free_ char *content = tu_read_file(path, &len);
		_cleanup_free_ char *e = escape(content);
		line = xasprintf("f %s %04o '%s'", rel, (unsigned)(st->st_mode & 07777), e);
	}
	w->lines = xreallocarray(w->lines, w->n + 1, sizeof(char *));
	w->lines[w->n++] = line;
	return 0;
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *lbt_snapshot(const struct lbt *t)
{
	struct snapshot_walk w = {.root_len = strlen(t->root)};
	snapshot_state = &w;
	if (nftw(t->root, snapshot_entry, 16, FTW_PHYS) < 0)
		fail_msg("walk %s: %s", t->root, strerror(errno));
	snapshot_state = NULL;
	qsort(w.lines, w.n, sizeof(char *), compare_lines);
	char *out = xstrdup("");
	for (size_t i = 0; i < w.n; i++) {
		char *next = xasprintf("%s%s\n", out, w.lines[i]);
		free(out);
		free(w.lines[i]);
		out = next;
	}
	free(w.lines);
	return out;
}

/* The line of text starting at p, as a new string. */
static char *line_at(const char *p)
{
	return xstrndup(p, strcspn(p, "\n"));
}

void lbt_assert_snapshot(const char *expected, const struct lbt *t, const char *file, int line)
{
	_cleanup_free_ char *got = lbt_snapshot(t);
	if (strcmp(expected, got) == 0)
		return;
	const char *a = expected, *b = got;
	while (*a && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
		if (!na || !nb || na - a != nb - b || strncmp(a, b, (size_t)(na - a)) != 0)
			break;
		a = na + 1;
		b = nb + 1;
	}
	_cleanup_free_ char *la = line_at(a);
	_cleanup_free_ char *lb = line_at(b);
	print_error("the tree differs from the expected one; first difference:\n"
		    "  expected: %s\n  got:      %s\n",
		    *la ? la : "(end)", *lb ? lb : "(end)");
	_fail(file, line);
}

char *lbt_snapshot_without(const struct lbt *t, void (*setup)(struct lbt *),
			   const char *const *gone)
{
	struct lbt ref;
	setup(&ref);
	for (size_t i = 0; gone[i]; i++)
		lbt_remove(&ref, gone[i]);
	char *s = lbt_snapshot(&ref);
	lbt_fini(&ref);
	sysroot_set(t->root);
	return s;
}

bool lbt_has_doc(const struct lbt *t, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", LBT_STATE, name);
	return lbt_exists(t, path);
}

/* --- containers ------------------------------------------------------------------------------ */

void lbt_ctr_init(struct lbt_ctr *c, const char *id, const char *cpus, pid_t pid)
{
	*c = (struct lbt_ctr){0};
	c->rec.id = xstrdup(id);
	c->rec.pid = pid;
	c->info.id = xstrdup(id);
	c->info.pid = pid;
	c->info.bundle = xstrdup("/run/bundle");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(cpuset_parse_list(cpus, &c->info.cpus, &err), &err);
	c->info.has_cpus = c->info.exclusive = true;
}

void lbt_ctr_clear(struct lbt_ctr *c)
{
	container_record_clear(&c->rec);
	free(c->info.id);
	free(c->info.bundle);
	free(c->info.cgroups_path);
	free(c->info.pod_namespace);
	cpuset_clear(&c->info.cpus);
	*c = (struct lbt_ctr){0};
}

static struct action_context context_of(struct lbt *t, struct lbt_ctr *c)
{
	return (struct action_context){
	    .store = t->store,
	    .container = c ? &c->info : NULL,
	    .record = c ? &c->rec : NULL,
	    .action = NH_ACTION_CPU_LOAD_BALANCING,
	};
}

struct node_config lbt_config(const char *backend)
{
	/* Enabled for every namespace, as for a container it was applied to: an update checks the
	 * policy again. */
	static char *every_namespace[] = {(char *)"*", NULL};
	struct node_config config = {0};
	config.actions[NH_ACTION_CPU_LOAD_BALANCING].backend = (char *)backend;
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		config.actions[a].enabled = true;
		config.actions[a].allowed_namespaces = every_namespace;
	}
	return config;
}

/* The hook's own call: lifecycle_apply, with its rollback. 1 (applied now) becomes 0. */
static int apply_as_hook(struct lbt *t, const char *backend, struct lbt_ctr *c,
			 struct nh_error **err)
{
	struct node_config config = lbt_config(backend);
	int r = lifecycle_apply(t->store, &config, &c->info, &c->rec, NH_ACTION_CPU_LOAD_BALANCING,
				"disable", err);
	return r < 0 ? r : 0;
}

int lbt_apply(struct lbt *t, const struct lb_backend *b, struct lbt_ctr *c, struct nh_error **err)
{
	return apply_as_hook(t, b->name, c, err);
}

int lbt_apply_new(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		  pid_t pid, struct nh_error **err)
{
	struct lbt_ctr c;
	lbt_ctr_init(&c, id, cpus, pid);
	int r = lbt_apply(t, b, &c, err);
	lbt_ctr_clear(&c);
	return r;
}

void lbt_apply_ok_at(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		     pid_t pid, const char *file, int line)
{
	_cleanup_error_ struct nh_error *err = NULL;
	tu_assert_ok(lbt_apply_new(t, b, id, cpus, pid, &err), &err, file, line);
}

int lbt_apply_auto(struct lbt *t, struct lbt_ctr *c, const char **ret_backend,
		   struct nh_error **err)
{
	int r = apply_as_hook(t, "auto", c, err);
	if (r < 0)
		return r;
	const char *name = c->rec.actions[NH_ACTION_CPU_LOAD_BALANCING].backend;
	*ret_backend = NULL;
	for (size_t i = 0; lb_backends[i]; i++)
		if (name && strcmp(lb_backends[i]->name, name) == 0)
			*ret_backend = lb_backends[i]->name;
	return 0;
}

int lbt_undo(struct lbt *t, const char *id, struct nh_error **err)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	int r = state_record_read(t->store, id, &rec, err);
	if (r <= 0)
		return r;
	/* Undo reads the backend from the record, not from the node config. */
	struct node_config config = lbt_config("auto");
	return lifecycle_undo(t->store, &config, &rec, err);
}

bool lbt_has_record(const struct lbt *t, const char *id)
{
	_cleanup_free_ char *path = xasprintf("%s/containers/%s.json", LBT_STATE, id);
	return lbt_exists(t, path);
}

void lbt_undo_ok_at(struct lbt *t, const char *id, const char *file, int line)
{
	_cleanup_error_ struct nh_error *err = NULL;
	tu_assert_ok(lbt_undo(t, id, &err), &err, file, line);
}

void lbt_assert_undo_restores_at(struct lbt *t, const char *id, const char *expected,
				 const char *ledger, const char *file, int line)
{
	for (int run = 0; run < 2; run++) {
		lbt_undo_ok_at(t, id, file, line);
		lbt_assert_snapshot(expected, t, file, line);
		if (lbt_has_doc(t, ledger)) {
			print_error("%s is still there after undo %d\n", ledger, run + 1);
			_fail(file, line);
		}
	}
}

int lbt_guard(struct lbt *t, const struct lb_backend *b, struct nh_error **err)
{
	struct action_context ctx = context_of(t, NULL);
	return b->guard(&ctx, err);
}

/* --- crash tests ----------------------------------------------------------------------------- */

#define CRASH_CHILD "--crash-child"

void lbt_crash_child_main(int argc, char **argv, const struct lbt_scenario *scenarios)
{
	if (argc != 4 || strcmp(argv[1], CRASH_CHILD) != 0)
		return;
	struct lbt t = {.root = argv[2]};
	sysroot_set(t.root);
	_cleanup_free_ char *dir = xasprintf("%s" LBT_STATE, t.root);
	_cleanup_error_ struct nh_error *err = NULL;
	if (state_store_open(dir, LBT_BOOT_ID, &t.store, &err) < 0 ||
	    state_store_lock(t.store, true, &err) < 0) {
		fprintf(stderr, "crash child: %s\n", err->msg);
		_exit(2);
	}
	for (const struct lbt_scenario *s = scenarios; s->name; s++) {
		if (strcmp(s->name, argv[3]) != 0)
			continue;
		int r = s->run(&t);
		state_store_close(t.store);
		exit(r == 0 ? 0 : 1);
	}
	fprintf(stderr, "crash child: no scenario '%s'\n", argv[3]);
	_exit(2);
}

int lbt_child_apply(struct lbt *t, const struct lb_backend *b, const char *id, const char *cpus,
		    pid_t pid)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = lbt_apply_new(t, b, id, cpus, pid, &err);
	if (r < 0)
		fprintf(stderr, "apply %s: %s\n", id, err->msg);
	return r;
}

int lbt_child_undo(struct lbt *t, const char *id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = lbt_undo(t, id, &err);
	if (r < 0)
		fprintf(stderr, "undo %s: %s\n", id, err->msg);
	return r;
}

/* 1: killed at crash point n; 0: the scenario completed. Fails the test otherwise. */
static int run_crashing(struct lbt *t, const char *scenario, unsigned n)
{
	state_store_unlock(t->store);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		char at[16];
		snprintf(at, sizeof(at), "%u", n);
		setenv("NODEHOOK_TEST_CRASH_AT", at, 1);
		char *argv[] = {"/proc/self/exe", CRASH_CHILD, t->root, (char *)scenario, NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(state_store_lock(t->store, true, &err), &err);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fail_msg("crash child '%s' at %u: status 0x%x", scenario, n, (unsigned)status);
	return -1;
}

unsigned lbt_crash_each_point(const struct lbt_crash_case *cc, const char *online)
{
	unsigned killed = 0;
	for (unsigned n = 1;; n++) {
		if (n > 500)
			fail_msg("'%s' still crashing at point %u", cc->scenario, n);
		struct lbt t;
		lbt_init(&t, online);
		_cleanup_free_ char *expected = cc->build(&t);
		int crashed = run_crashing(&t, cc->scenario, n);
		cc->recover(&t);
		_cleanup_free_ char *got = lbt_snapshot(&t);
		if (strcmp(got, expected) != 0)
			print_error("'%s' killed at crash point %u: the tree was not restored\n",
				    cc->scenario, n);
		assert_snapshot(expected, &t);
		lbt_fini(&t);
		if (!crashed)
			break;
		killed++;
	}
	return killed;
}
