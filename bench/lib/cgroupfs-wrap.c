/* For bench/hook: makes mkdir and rmdir below $NH_FAKE_CPUSET (the fake tree's cpuset mount, as a
 * host path) behave as on cgroupfs, so that `nodehook hook` can create and remove its
 * housekeeping cpuset in a fake tree:
 * - mkdir creates the control files a v1 cpuset directory is born with (sched_load_balance 1,
 *   cpus and mems empty, and the rest);
 * - rmdir removes those regular files first (cgroupfs removes a cgroup with its files).
 * Everything else goes straight to libc.
 *
 * Linked into a copy of the release nodehook with -Wl,--wrap=mkdir,--wrap=rmdir (the binary is a
 * static PIE: no LD_PRELOAD), the same way the unit tests do it (tests/unit/test-lb_util.c). */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int __real_mkdir(const char *path, mode_t mode);
int __real_rmdir(const char *path);
int __wrap_mkdir(const char *path, mode_t mode);
int __wrap_rmdir(const char *path);

static const char *const born[][2] = {
    {"cgroup.clone_children", "0\n"},
    {"cgroup.procs", ""},
    {"cpuset.cpu_exclusive", "0\n"},
    {"cpuset.cpus", "\n"},
    {"cpuset.effective_cpus", "\n"},
    {"cpuset.effective_mems", "\n"},
    {"cpuset.mem_exclusive", "0\n"},
    {"cpuset.mem_hardwall", "0\n"},
    {"cpuset.memory_migrate", "0\n"},
    {"cpuset.memory_pressure", "0\n"},
    {"cpuset.memory_spread_page", "0\n"},
    {"cpuset.memory_spread_slab", "0\n"},
    {"cpuset.mems", "\n"},
    {"cpuset.sched_load_balance", "1\n"},
    {"cpuset.sched_relax_domain_level", "-1\n"},
    {"notify_on_release", "0\n"},
    {"tasks", ""},
};

static int below_fake(const char *path)
{
	const char *root = getenv("NH_FAKE_CPUSET");
	size_t n = root ? strlen(root) : 0;
	return n > 0 && strncmp(path, root, n) == 0 && path[n] == '/';
}

int __wrap_mkdir(const char *path, mode_t mode)
{
	int r = __real_mkdir(path, mode);
	if (r < 0 || !below_fake(path))
		return r;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return r;
	for (size_t i = 0; i < sizeof(born) / sizeof(born[0]); i++) {
		int fd = openat(dfd, born[i][0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			continue;
		size_t len = strlen(born[i][1]);
		/* A short write leaves a file the hook reads and complains about: the bench's
		 * check. */
		if (write(fd, born[i][1], len) != (ssize_t)len) {
		}
		close(fd);
	}
	close(dfd);
	return r;
}

int __wrap_rmdir(const char *path)
{
	if (below_fake(path)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d)))
				if (de->d_type == DT_REG)
					(void)unlinkat(dirfd(d), de->d_name, 0);
			closedir(d);
		}
	}
	return __real_rmdir(path);
}
