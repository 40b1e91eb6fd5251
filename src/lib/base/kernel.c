#include "kernel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "sysroot.h"
#include "xalloc.h"

#define KERNEL_FILE_MAX (1u << 20)

int kernel_read_fd(int fd, const char *what, char **ret, struct nh_error **err)
{
	size_t cap = 256, len = 0;
	_cleanup_free_ char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= KERNEL_FILE_MAX)
				return nh_error_set(err, EFBIG, "%s: larger than %u bytes", what,
						    KERNEL_FILE_MAX);
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t want = cap - 1 - len;
		ssize_t n = read(fd, buf + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENODEV || errno == ENOENT)
				return -ENOENT;
			return nh_error_set_errno(err, errno, "%s", what);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* A short read of less than a page is the whole file: kernfs and sysctl hand out
		 * up to a page per read, a regular file all that is left. This saves the read that
		 * would return 0, on every one of hundreds of files of a cpuset walk. */
		if ((size_t)n < want && len < 4096)
			break;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int kernel_read_file(const char *node_path, char **ret, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(node_path);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return nh_error_set_errno(err, errno, "%s", path);
	}
	return kernel_read_fd(fd, path, ret, err);
}

int kernel_write_file(const char *node_path, const char *value, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(node_path);
	/* O_TRUNC: harmless on cgroupfs and sysctl, and needed on the fake trees of the unit
	 * tests. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return nh_error_set_errno(err, errno, "%s", path);
	}
	/* One write per value, newline-terminated as echo(1) writes it: every cgroup and sysctl
	 * write handler strips it, a file then reads back as the kernel prints it (which keeps the
	 * fake trees of the unit tests byte-exact), and an empty value is "\n", as CRI-O writes to
	 * clear cpuset.cpus.exclusive. No partial writes to retry. */
	_cleanup_free_ char *line = xasprintf("%s\n", value);
	size_t len = strlen(line);
	ssize_t n = write(fd, line, len);
	if (n < 0) {
		if (errno == ENODEV || errno == ENOENT) /* gone since open, as in a read */
			return -ENOENT;
		return nh_error_set_errno(err, errno, "write '%s' to %s", value, path);
	}
	if ((size_t)n != len)
		return nh_error_set(err, EIO, "write '%s' to %s: short write", value, path);
	return 0;
}

/* Reads a file of known small size through the sysroot, whole; *ret_path names it. */
static int read_node_file(const char *node_path, size_t max, char **ret, size_t *ret_len,
			  char **ret_path, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(node_path);
	int r = read_file_at(AT_FDCWD, path, max, ret, ret_len, err);
	if (r < 0)
		return r;
	*ret_path = TAKE_PTR(path);
	return 0;
}

int kernel_boot_id(char **ret, struct nh_error **err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len = 0;
	int r = read_node_file("/proc/sys/kernel/random/boot_id", 128, &buf, &len, &path, err);
	if (r < 0)
		return r;
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	if (len == 0)
		return nh_error_set(err, EBADMSG, "%s: empty", path);
	*ret = TAKE_PTR(buf);
	return 0;
}

int kernel_version(unsigned *ret_major, unsigned *ret_minor, struct nh_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len = 0;
	int r = read_node_file("/proc/sys/kernel/osrelease", 256, &text, &len, &path, err);
	if (r < 0)
		return r;
	unsigned major = 0, minor = 0;
	// NOLINTNEXTLINE(cert-err34-c): kernel release numbers are small; junk fails the count check
	if (sscanf(text, "%u.%u", &major, &minor) != 2)
		return nh_error_set(err, EBADMSG, "%s: not a kernel release: '%.64s'", path, text);
	*ret_major = major;
	*ret_minor = minor;
	return 0;
}

int kernel_cpus_online(struct cpuset *ret, struct nh_error **err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len = 0;
	int r = read_node_file("/sys/devices/system/cpu/online", 4096, &buf, &len, &path, err);
	if (r < 0)
		return r;
	r = cpuset_parse_list(buf, ret, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	return 0;
}

int kernel_process_start_time(pid_t pid, uint64_t *ret, struct nh_error **err)
{
	if (pid <= 0)
		return 0;
	char rel[64];
	snprintf(rel, sizeof(rel), "/proc/%d/stat", (int)pid);
	_cleanup_free_ char *path = sysroot_path(rel);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return 0;
		return nh_error_set_errno(err, errno, "%s", path);
	}
	int r = read_full_fd(fd, 4096, &buf, &len, err);
	if (r < 0) {
		if ((*err)->errnum == ESRCH) {
			*err = nh_error_free(*err);
			return 0;
		}
		return nh_error_wrap(err, "%s", path);
	}
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return nh_error_set(err, EBADMSG, "%s: unexpected format", path);
	p += 2;
	char state = *p;
	if (state == 'Z' || state == 'X')
		return 0;
	/* p is at field 3 (state); starttime is field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return nh_error_set(err, EBADMSG, "%s: too few fields", path);
		p++;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
		return nh_error_set(err, EBADMSG, "%s: bad starttime", path);
	*ret = v;
	return 1;
}

int kernel_process_exe(pid_t pid, char **ret)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "/proc/%d/exe", (int)pid);
	_cleanup_free_ char *link = sysroot_path(rel);
	char exe[4096];
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	*ret = xstrdup(exe);
	return 1;
}

int kernel_process_cmdline(pid_t pid, char **ret, size_t *ret_len, struct nh_error **err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "/proc/%d/cmdline", (int)pid);
	_cleanup_free_ char *path = NULL;
	return read_node_file(rel, 1u << 20, ret, ret_len, &path, err);
}

char *kernel_cpu_path(unsigned cpu, const char *rel)
{
	return xasprintf(KERNEL_CPU_DIR "%u/%s", cpu, rel);
}

void kernel_idle_states_free(struct kernel_idle_state *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int compare_idle_states(const void *a, const void *b)
{
	unsigned x = ((const struct kernel_idle_state *)a)->index;
	unsigned y = ((const struct kernel_idle_state *)b)->index;
	return x < y ? -1 : x > y;
}

/* "state<digits>" with no sign, no leading zero but "state0", and a sane index. */
static bool idle_state_dir(const char *name, unsigned *ret)
{
	if (strncmp(name, "state", 5) != 0 || !isdigit((unsigned char)name[5]))
		return false;
	if (name[5] == '0' && name[6] != '\0')
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(name + 5, &end, 10);
	if (errno || *end || v > 1000)
		return false;
	*ret = (unsigned)v;
	return true;
}

int kernel_cpu_idle_states(unsigned cpu, struct kernel_idle_state **ret, size_t *ret_n,
			   struct nh_error **err)
{
	_cleanup_free_ char *node_dir = kernel_cpu_path(cpu, "cpuidle");
	_cleanup_free_ char *dir_path = sysroot_path(node_dir);
	int fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return nh_error_set_errno(err, errno, "%s", dir_path);
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return nh_error_set_errno(err, e, "%s", dir_path);
	}
	struct kernel_idle_state *v = NULL;
	size_t n = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned index = 0;
		if (!idle_state_dir(de->d_name, &index))
			continue;
		_cleanup_free_ char *rel = xasprintf("cpuidle/%s/name", de->d_name);
		_cleanup_free_ char *name_path = kernel_cpu_path(cpu, rel);
		char *name = NULL;
		r = kernel_read_file(name_path, &name, err);
		if (r == -ENOENT)
			continue; /* a state without a name is none to match */
		if (r < 0)
			break;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = (struct kernel_idle_state){.index = index, .name = name};
	}
	if (r < 0 && r != -ENOENT) {
		kernel_idle_states_free(v, n);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), compare_idle_states);
	*ret = v;
	*ret_n = n;
	return 0;
}

int kernel_cpu_freq_policy(unsigned cpu, char **ret_dir, struct cpuset *ret_related,
			   struct nh_error **err)
{
	_cleanup_free_ char *node_link = kernel_cpu_path(cpu, "cpufreq");
	_cleanup_free_ char *link_path = sysroot_path(node_link);
	struct stat st;
	if (lstat(link_path, &st) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return nh_error_set_errno(err, errno, "%s", link_path);
	}
	_cleanup_free_ char *dir = NULL;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(link_path, target, sizeof(target) - 1);
		if (n < 0)
			return nh_error_set_errno(err, errno, "%s", link_path);
		target[n] = '\0';
		/* The kernel's link is relative (../cpufreq/policy<M>): only its last component
		 * is taken, so a link cannot lead outside the cpufreq directory. */
		const char *base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (strncmp(base, "policy", 6) != 0 || !base[6] ||
		    strspn(base + 6, "0123456789") != strlen(base + 6))
			return nh_error_set(err, EBADMSG, "%s: links to '%.64s', not a policy",
					    link_path, target);
		dir = xasprintf("/sys/devices/system/cpu/cpufreq/%s", base);
	} else if (S_ISDIR(st.st_mode)) {
		dir = TAKE_PTR(node_link);
	} else {
		return nh_error_set(err, EBADMSG, "%s: neither a link nor a directory", link_path);
	}
	_cleanup_free_ char *related_node = xasprintf("%s/related_cpus", dir);
	_cleanup_free_ char *text = NULL;
	int r = kernel_read_file(related_node, &text, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "%s: missing", related_node);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset related = {0};
	r = cpuset_parse_list(text, &related, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", related_node);
	if (!cpuset_has(&related, cpu))
		return nh_error_set(err, EBADMSG, "%s: '%s' does not hold CPU %u", related_node,
				    text, cpu);
	*ret_dir = TAKE_PTR(dir);
	*ret_related = related;
	related = (struct cpuset){0};
	return 0;
}

/* A decimal number made of digits only, at most max: IRQ numbers and pids from directory
 * names. */
static bool parse_dir_number(const char *name, unsigned max, unsigned *ret)
{
	if (!name[0] || strlen(name) > 9)
		return false;
	unsigned v = 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > max || (name[0] == '0' && name[1]))
		return false;
	*ret = v;
	return true;
}

static int compare_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

int kernel_irq_list(unsigned **ret, size_t *ret_n, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(KERNEL_IRQ_DIR);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return nh_error_set_errno(err, errno, "%s", path);
	_cleanup_free_ unsigned *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		unsigned irq = 0;
		if (!parse_dir_number(de->d_name, KERNEL_IRQ_MAX, &irq))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = irq;
	}
	if (errno)
		return nh_error_set_errno(err, errno, "read %s", path);
	if (n > 0)
		qsort(v, n, sizeof(*v), compare_unsigned);
	*ret_n = n;
	*ret = v ? TAKE_PTR(v) : xcalloc(1, sizeof(unsigned));
	return 0;
}

int kernel_irq_affinity(unsigned irq, struct cpuset *ret, struct nh_error **err)
{
	char node_path[64];
	snprintf(node_path, sizeof(node_path), KERNEL_IRQ_DIR "/%u/smp_affinity_list", irq);
	_cleanup_free_ char *buf = NULL;
	int r = kernel_read_file(node_path, &buf, err);
	if (r < 0)
		return r;
	r = cpuset_parse_list(buf, ret, err);
	return r < 0 ? nh_error_wrap(err, "%s", node_path) : 0;
}

int kernel_irq_set_affinity(unsigned irq, const struct cpuset *cpus, struct nh_error **err)
{
	char node_path[64];
	snprintf(node_path, sizeof(node_path), KERNEL_IRQ_DIR "/%u/smp_affinity_list", irq);
	_cleanup_free_ char *list = cpuset_format_list(cpus);
	return kernel_write_file(node_path, list, err);
}

int kernel_irq_default_affinity(struct cpuset *ret, unsigned *ret_width, struct nh_error **err)
{
	_cleanup_free_ char *buf = NULL;
	int r = kernel_read_file(KERNEL_IRQ_DEFAULT_AFFINITY, &buf, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "%s: no such file", KERNEL_IRQ_DEFAULT_AFFINITY);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset s = {0};
	r = cpuset_parse_mask(buf, &s, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", KERNEL_IRQ_DEFAULT_AFFINITY);
	unsigned groups = 1;
	for (const char *p = buf; *p; p++)
		groups += *p == ',';
	*ret = s;
	s = (struct cpuset){0};
	*ret_width = groups * 32;
	return 0;
}

int kernel_irq_set_default_affinity(const struct cpuset *cpus, unsigned width,
				    struct nh_error **err)
{
	_cleanup_free_ char *mask = cpuset_format_mask(cpus, width);
	return kernel_write_file(KERNEL_IRQ_DEFAULT_AFFINITY, mask, err);
}

int kernel_cpu_thread_siblings(unsigned cpu, struct cpuset *ret, struct nh_error **err)
{
	char node_path[96];
	snprintf(node_path, sizeof(node_path),
		 "/sys/devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
	_cleanup_free_ char *buf = NULL;
	int r = kernel_read_file(node_path, &buf, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = cpuset_parse_list(buf, ret, err);
	return r < 0 ? nh_error_wrap(err, "%s", node_path) : 1;
}

int kernel_find_process(const char *comm, pid_t *ret, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path("/proc");
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return nh_error_set_errno(err, errno, "%s", path);
	unsigned best = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned pid = 0;
		if (!parse_dir_number(de->d_name, 0x7fffffffu, &pid) || pid == 0)
			continue;
		char rel[64];
		snprintf(rel, sizeof(rel), "/proc/%u/comm", pid);
		_cleanup_free_ char *name = NULL;
		_cleanup_error_ struct nh_error *e = NULL;
		if (kernel_read_file(rel, &name, &e) < 0 || strcmp(name, comm) != 0)
			continue; /* gone meanwhile, or not ours to read: not the one */
		uint64_t start = 0;
		if (kernel_process_start_time((pid_t)pid, &start, &e) <= 0)
			continue; /* a zombie is as good as gone */
		if (!best || pid < best)
			best = pid;
	}
	if (!best)
		return 0;
	*ret = (pid_t)best;
	return 1;
}
