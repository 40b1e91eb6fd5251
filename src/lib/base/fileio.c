#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "xalloc.h"

int read_full_fd(int fd, size_t max, char **ret_buf, size_t *ret_len, struct nh_error **err)
{
	size_t cap = 4096, len = 0;
	struct stat st;
	/* Regular files tell us their size: one allocation, one read in the common case. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((size_t)st.st_size > max)
			return nh_error_set(err, EFBIG, "larger than %zu bytes", max);
		cap = (size_t)st.st_size + 1;
	}
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return nh_error_set(err, EFBIG, "larger than %zu bytes", max);
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nh_error_set_errno(err, errno, "read");
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return nh_error_set(err, EFBIG, "larger than %zu bytes", max);
	}
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

int fd_check_readable_file(int fd, struct nh_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return nh_error_set_errno(err, errno, "fstat");
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return nh_error_set(err, EINVAL, "not a regular file (%s)",
				    file_type_name(st.st_mode));
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return nh_error_set_errno(err, errno, "fcntl");
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len,
		 struct nh_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return nh_error_set_errno(err, errno, "%s", path);
	int r = fd_check_readable_file(fd, err);
	if (r == 0)
		r = read_full_fd(fd, max, ret_buf, ret_len, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Removes the temporary file unless ownership was taken (name set to NULL). */
static void unlink_tmpp(char **name)
{
	if (*name) {
		int saved = errno;
		(void)unlink(*name);
		free(*name);
		errno = saved;
	}
}

static int replace_file(const char *path, const char *data, size_t len, mode_t mode, bool durable,
			struct nh_error **err)
{
	struct stat st;
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;

	_cleanup_free_ char *dir_copy = xstrdup(path);
	const char *dir = dirname(dir_copy);
	/* Not named after the target: a target name near NAME_MAX would make it too long. */
	_cleanup_(unlink_tmpp) char *tmp = xasprintf("%s/.nodehook-XXXXXX", dir);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(TAKE_PTR(tmp));
		return nh_error_set_errno(err, e, "%s: create temporary file", path);
	}
	if (fchmod(fd, mode) < 0)
		return nh_error_set_errno(err, errno, "%s: chmod temporary file", path);
	int r = write_all(fd, data, len);
	if (r < 0)
		return nh_error_set_errno(err, -r, "%s: write", path);
	if (durable && fsync(fd) < 0)
		return nh_error_set_errno(err, errno, "%s: fsync", path);
	if (rename(tmp, path) < 0)
		return nh_error_set_errno(err, errno, "%s: rename", path);
	free(TAKE_PTR(tmp));

	/* The rename is durable only once the directory is synced. Failing here would report an
	 * error for a change that has been made, so a failed directory sync is not an error. */
	if (durable) {
		_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			(void)fsync(dfd);
	}
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode,
		      struct nh_error **err)
{
	return replace_file(path, data, len, mode, true, err);
}

int write_file_replace(const char *path, const char *data, size_t len, mode_t mode,
		       struct nh_error **err)
{
	return replace_file(path, data, len, mode, false, err);
}

/* Writes, syncs and renames the open temporary file tmp (in dirfd) over name. */
static int fill_and_rename_at(int dirfd, int fd, const char *tmp, const char *name,
			      const char *display, const char *data, size_t len, mode_t mode,
			      struct nh_error **err)
{
	if (fchmod(fd, mode) < 0)
		return nh_error_set_errno(err, errno, "%s: chmod temporary file", display);
	int r = write_all(fd, data, len);
	if (r < 0)
		return nh_error_set_errno(err, -r, "%s: write", display);
	if (fsync(fd) < 0)
		return nh_error_set_errno(err, errno, "%s: fsync", display);
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return nh_error_set_errno(err, errno, "%s: rename", display);
	return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const char *display, const char *data,
			 size_t len, mode_t mode, struct nh_error **err)
{
	if (!name[0] || strchr(name, '/'))
		return nh_error_set(err, EINVAL, "%s: not a single path component", display);
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 07777;
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char tmp[] = ".nodehook-XXXXXX";
	int fd = -1;
	for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
		unsigned char rnd[6];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return nh_error_set_errno(err, errno ? errno : EIO,
						  "%s: create temporary file", display);
		for (size_t i = 0; i < sizeof(rnd); i++)
			tmp[sizeof(tmp) - 7 + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			return nh_error_set_errno(err, errno, "%s: create temporary file", display);
	}
	if (fd < 0)
		return nh_error_set_errno(err, EEXIST, "%s: create temporary file", display);
	int r = fill_and_rename_at(dirfd, fd, tmp, name, display, data, len, mode, err);
	int saved = errno;
	close(fd);
	if (r < 0) {
		(void)unlinkat(dirfd, tmp, 0);
		errno = saved;
		return r;
	}
	/* As in replace_file(): a failed directory sync is not an error. */
	(void)fsync(dirfd);
	return 0;
}
