/* Bounded reads and atomic writes.
 *
 * Ownership rule: buffers returned through ret_ pointers belong to the caller (free()). They
 * are always NUL-terminated (the NUL is not counted in the length), so text parsers can use
 * them directly; a NUL inside the data is still visible through the length. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Reads fd to EOF. Fails with EFBIG if the data exceeds max bytes. */
int read_full_fd(int fd, size_t max, char **ret_buf, size_t *ret_len, struct nh_error **err);

/* For a file opened with O_NONBLOCK (so that opening a FIFO does not wait for a writer): refuses
 * anything that is neither a regular file nor a directory (a FIFO, a device, a socket: a read
 * could block or never end) with EINVAL, then clears O_NONBLOCK. A directory is let through for
 * the read to fail with EISDIR. Errors are "not a regular file (a FIFO)"; the caller names the
 * file. */
int fd_check_readable_file(int fd, struct nh_error **err);

/* Opens path relative to dirfd (AT_FDCWD for the cwd) read-only, following symlinks, and reads
 * it whole with read_full_fd(). A FIFO or a device is refused without blocking
 * (fd_check_readable_file). Errors name the path. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len,
		 struct nh_error **err);

/* Replaces path with data atomically: a temporary file in the same directory, with the mode of
 * the file it replaces (or `mode` if there is none), written, fsync'ed, renamed over path, and
 * the directory fsync'ed. On failure path is untouched and the temporary file is removed. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode,
		      struct nh_error **err) __attribute__((warn_unused_result));

/* The same, atomic but not durable: no fsync. For files whose reader reads them at once from
 * the page cache and which mean nothing after a power loss: a bundle's config.json (the runtime
 * reads it next; after a crash there is no container to create), a cache. On ext4 the two
 * fsyncs cost more than everything else the runtime wrapper does on create. */
int write_file_replace(const char *path, const char *data, size_t len, mode_t mode,
		       struct nh_error **err) __attribute__((warn_unused_result));

/* write_file_atomic() relative to a directory fd: the temporary file is created in dirfd
 * (O_EXCL, O_NOFOLLOW), renamed over name with renameat() and dirfd synced, so a path component
 * swapped after dirfd was opened and checked is never written through. name is one component;
 * `display` is what errors call the file. */
int write_file_atomic_at(int dirfd, const char *name, const char *display, const char *data,
			 size_t len, mode_t mode, struct nh_error **err)
    __attribute__((warn_unused_result));

/* Writes all of buf to fd, retrying on EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
