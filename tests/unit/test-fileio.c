/* fileio: bounded reads (regular files and pipes) and atomic replacement that keeps the mode and
 * leaves the original and no temporary file behind when it fails. Each case works in its own
 * directory under /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

#include "cleanup.h"
#include "fileio.h"
#include "xalloc.h"

static int dir_setup(void **state)
{
	*state = tu_mkdtemp();
	return 0;
}

static int dir_teardown(void **state)
{
	tu_rm_rf(*state);
	free(*state);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void assert_content(const char *path, const char *want, size_t want_len)
{
	size_t len = 0;
	_cleanup_free_ char *got = tu_read_file(path, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, want_len);
}

static void test_write_creates_with_mode(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_path(dir, "config.json");
	mode_t old_umask = umask(022);
	struct nh_error *err = NULL;
	int r = write_file_atomic(path, "{}\n", 3, 0660, &err);
	umask(old_umask);
	assert_ok(r, &err);
	assert_content(path, "{}\n", 3);
	assert_int_equal(mode_of(path), 0660); /* the mode asked for, not masked */
	assert_int_equal(tu_count_entries(dir), 1);
}

static void test_write_replaces_and_keeps_mode(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_write_file(dir, "config.json", "old content", 11);
	assert_int_equal(chmod(path, 0600), 0);
	struct stat before;
	assert_int_equal(stat(path, &before), 0);

	struct nh_error *err = NULL;
	assert_ok(write_file_atomic(path, "new", 3, 0644, &err), &err);
	assert_content(path, "new", 3);
	assert_int_equal(mode_of(path), 0600);
	struct stat after;
	assert_int_equal(stat(path, &after), 0);
	assert_true(after.st_ino != before.st_ino); /* replaced by rename, not rewritten */
	assert_int_equal(tu_count_entries(dir), 1);

	/* Unusual modes survive too, and empty data empties the file. */
	assert_int_equal(chmod(path, 0751), 0);
	assert_ok(write_file_atomic(path, "", 0, 0644, &err), &err);
	assert_content(path, "", 0);
	assert_int_equal(mode_of(path), 0751);
}

static void test_write_keeps_nul_bytes(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_path(dir, "bin");
	struct nh_error *err = NULL;
	assert_ok(write_file_atomic(path, "a\0b\0", 4, 0644, &err), &err);
	assert_content(path, "a\0b\0", 4);
}

/* The directory does not exist: nothing can be created, and nothing is. */
static void test_write_into_missing_directory(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_path(dir, "missing/config.json");
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *want =
	    xasprintf("%s: create temporary file: No such file or directory", path);
	assert_error(write_file_atomic(path, "x", 1, 0644, &err), &err, ENOENT, want);
	assert_int_equal(tu_count_entries(dir), 0);
}

/* The rename fails (the target is a directory): the target is untouched and the temporary file
 * is removed. */
static void test_failed_rename_leaves_no_temporary_file(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *target = tu_path(dir, "config.json");
	assert_int_equal(mkdir(target, 0755), 0);
	free(tu_write_file(target, "inside", "keep", 4));
	free(tu_write_file(dir, "other", "x", 1));

	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *want = xasprintf("%s: rename: Is a directory", target);
	assert_error(write_file_atomic(target, "new", 3, 0644, &err), &err, EISDIR, want);
	assert_int_equal(tu_count_entries(dir), 2); /* config.json/ and other */
	assert_int_equal(tu_count_entries(target), 1);
	_cleanup_free_ char *inside = tu_path(target, "inside");
	assert_content(inside, "keep", 4);
}

/* The write fails (the file size limit): the original keeps its content and mode, and the
 * temporary file is removed. */
static void test_failed_write_leaves_the_original(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_write_file(dir, "config.json", "original", 8);
	assert_int_equal(chmod(path, 0640), 0);
	static char big[64 * 1024];
	memset(big, 'x', sizeof(big));

	struct rlimit saved;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	struct rlimit small = {.rlim_cur = 4096, .rlim_max = saved.rlim_max};
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = write_file_atomic(path, big, sizeof(big), 0644, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	_cleanup_free_ char *want = xasprintf("%s: write: File too large", path);
	assert_error(r, &err, EFBIG, want);
	assert_content(path, "original", 8);
	assert_int_equal(mode_of(path), 0640);
	assert_int_equal(tu_count_entries(dir), 1);
}

static char *make_data(size_t len)
{
	char *s = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		s[i] = (char)('a' + i % 26);
	s[len] = '\0';
	return s;
}

/* How check_cap() reads len bytes with the cap max. */
typedef int (*reader_fn)(size_t len, size_t max, char **ret, size_t *ret_len, struct nh_error **err,
			 const char *dir);

/* From a regular file in dir. */
static int read_regular(size_t len, size_t max, char **ret, size_t *ret_len, struct nh_error **err,
			const char *dir)
{
	_cleanup_free_ char *data = make_data(len);
	_cleanup_free_ char *path = tu_write_file(dir, "f", data, len);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = read_full_fd(fd, max, ret, ret_len, err);
	if (r == 0) {
		assert_int_equal(*ret_len, len);
		assert_memory_equal(*ret, data, len);
		assert_int_equal((*ret)[len], '\0');
	}
	return r;
}

/* From a pipe a child process writes into. */
static int read_pipe(size_t len, size_t max, char **ret, size_t *ret_len, struct nh_error **err,
		     const char *dir)
{
	(void)dir;
	_cleanup_free_ char *data = make_data(len);
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(write_all(fds[1], data, len) < 0 ? 1 : 0);
	}
	close(fds[1]);
	int r = read_full_fd(fds[0], max, ret, ret_len, err);
	close(fds[0]); /* a writer still blocked gets EPIPE */
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (r == 0) {
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(*ret_len, len);
		assert_memory_equal(*ret, data, len);
		assert_int_equal((*ret)[len], '\0');
	}
	return r;
}

/* The same limits hold for both ways of reading: exactly max bytes pass, one more does not. */
static void check_cap(reader_fn read_fn, const char *dir)
{
	static const struct {
		size_t len, max;
		bool ok;
	} cases[] = {
	    {0, 0, true},	 {0, 10, true},		  {10, 10, true},
	    {11, 10, false},	 {4096, 4096, true},	  {4097, 4096, false},
	    {8192, 8192, true},	 {8193, 8192, false},	  {5000, 4096, false},
	    {8192, 5000, false}, {100000, 1 << 20, true}, {100000, 99999, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		_cleanup_error_ struct nh_error *err = NULL;
		int r = read_fn(cases[i].len, cases[i].max, &buf, &len, &err, dir);
		if (cases[i].ok) {
			if (r < 0)
				fail_msg("%zu bytes, cap %zu: %s", cases[i].len, cases[i].max,
					 err->msg);
			continue;
		}
		_cleanup_free_ char *want = xasprintf("larger than %zu bytes", cases[i].max);
		if (r != -EFBIG || !err || strcmp(err->msg, want) != 0)
			fail_msg("%zu bytes, cap %zu: r=%d '%s', want EFBIG", cases[i].len,
				 cases[i].max, r, err ? err->msg : "");
		assert_null(buf);
	}
}

static void test_read_cap_regular_file(void **state)
{
	check_cap(read_regular, *state);
}

static void test_read_cap_pipe(void **state)
{
	check_cap(read_pipe, *state);
}

static void test_read_keeps_nul_bytes(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = tu_write_file(dir, "f", "a\0b", 3);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct nh_error *err = NULL;
	assert_ok(read_file_at(AT_FDCWD, path, 10, &buf, &len, &err), &err);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 4);
}

static void test_read_file_at_names_the_path(void **state)
{
	const char *dir = *state;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	free(tu_write_file(dir, "big", "0123456789", 10));
	char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_error(read_file_at(dfd, "missing", 10, &buf, &len, &err), &err, ENOENT,
		     "missing: No such file or directory");
	assert_error(read_file_at(dfd, "big", 9, &buf, &len, &err), &err, EFBIG,
		     "big: larger than 9 bytes");
	assert_error(read_file_at(dfd, ".", 9, &buf, &len, &err), &err, EISDIR,
		     ".: read: Is a directory");
	assert_null(buf);
	struct nh_error *ok_err = NULL;
	assert_ok(read_file_at(dfd, "big", 10, &buf, &len, &ok_err), &ok_err);
	assert_int_equal(len, 10);
	free(buf);
}

/* Finding 8: the dirfd-relative writer creates, replaces keeping the mode, leaves no temporary
 * file, and replaces a symlink at the name rather than writing through it. */
static void test_write_at(void **state)
{
	const char *dir = *state;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct nh_error *err = NULL;
	assert_ok(write_file_atomic_at(dfd, "a.json", "A", "one", 3, 0600, &err), &err);
	_cleanup_free_ char *path = tu_path(dir, "a.json");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(path, 0640), 0);
	assert_ok(write_file_atomic_at(dfd, "a.json", "A", "two!", 4, 0600, &err), &err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	size_t len = 0;
	_cleanup_free_ char *got = tu_read_file(path, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(got, "two!", 4);
	_cleanup_free_ char *victim = tu_write_file(dir, "victim", "keep", 4);
	assert_int_equal(symlinkat("victim", dfd, "l.json"), 0);
	assert_ok(write_file_atomic_at(dfd, "l.json", "L", "new", 3, 0600, &err), &err);
	_cleanup_free_ char *kept = tu_read_file(victim, &len);
	assert_memory_equal(kept, "keep", 4);
	assert_int_equal(tu_count_entries(dir), 3);
	_cleanup_error_ struct nh_error *err2 = NULL;
	assert_error(write_file_atomic_at(dfd, "missing/x", "M", "x", 1, 0600, &err2), &err2,
		     EINVAL, "M: not a single path component");
	(void)err2;
}

/* Finding 5: a FIFO or a device is refused without blocking (the open is non-blocking, the type
 * checked before the read). The alarm turns a hang into a failure. */
static void test_read_refuses_fifo_and_device(void **state)
{
	const char *dir = *state;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(mkfifoat(dfd, "fifo", 0600), 0);
	char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ struct nh_error *err = NULL;
	alarm(30);
	assert_error(read_file_at(dfd, "fifo", 10, &buf, &len, &err), &err, EINVAL,
		     "fifo: not a regular file (a FIFO)");
	assert_error(read_file_at(AT_FDCWD, "/dev/null", 10, &buf, &len, &err), &err, EINVAL,
		     "/dev/null: not a regular file (a character device)");
	alarm(0);
	assert_null(buf);
	/* The flag is cleared for the read that follows. */
	_cleanup_free_ char *path = tu_write_file(dir, "f", "abc", 3);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	assert_true(fd >= 0);
	struct nh_error *ok_err = NULL;
	assert_ok(fd_check_readable_file(fd, &ok_err), &ok_err);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

int main(void)
{
	struct tu_suite s = {0};
#define ADD(f) tu_suite_add_fixture(&s, f, dir_setup, dir_teardown)
	ADD(test_write_creates_with_mode);
	ADD(test_write_replaces_and_keeps_mode);
	ADD(test_write_keeps_nul_bytes);
	ADD(test_write_into_missing_directory);
	ADD(test_failed_rename_leaves_no_temporary_file);
	ADD(test_failed_write_leaves_the_original);
	ADD(test_read_cap_regular_file);
	ADD(test_read_cap_pipe);
	ADD(test_read_keeps_nul_bytes);
	ADD(test_read_file_at_names_the_path);
	ADD(test_read_refuses_fifo_and_device);
	ADD(test_write_at);
#undef ADD
	return tu_suite_run(&s, "fileio");
}
