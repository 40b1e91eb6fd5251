#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "kernel.h"
#include "sysroot.h"
#include "xalloc.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

static bool list_has(const char *list, const char *item, char sep)
{
	size_t n = strlen(item);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && memcmp(p, item, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool words_have(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; (p = strstr(p, word)); p += n) {
		bool start = p == text || p[-1] == ' ' || p[-1] == '\n';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

int cgroup_find_controller(const char *controller, enum cgroup_version *ret_version,
			   char **ret_mount, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path("/proc/self/mountinfo");
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_file_at(AT_FDCWD, path, 4u << 20, &buf, &len, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *v2_mount = NULL;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source super */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *fields[5] = {0};
		char *fsave = NULL, *f = strtok_r(line, " ", &fsave);
		for (int i = 0; i < 5 && f; i++, f = strtok_r(NULL, " ", &fsave))
			fields[i] = f;
		if (!fields[4])
			continue;
		char *tail = sep + 3, *tsave = NULL;
		char *fstype = strtok_r(tail, " ", &tsave);
		(void)strtok_r(NULL, " ", &tsave); /* source */
		char *super = strtok_r(NULL, " ", &tsave);
		if (!fstype)
			continue;
		unescape_octal(fields[4]);
		if (strcmp(fstype, "cgroup") == 0 && super && list_has(super, controller, ',')) {
			*ret_version = CGROUP_V1;
			*ret_mount = xstrdup(fields[4]);
			return 0;
		}
		if (strcmp(fstype, "cgroup2") == 0 && !v2_mount)
			v2_mount = xstrdup(fields[4]);
	}
	if (v2_mount) {
		_cleanup_free_ char *controllers = NULL;
		if (cgroup_read(v2_mount, "/", "cgroup.controllers", &controllers, NULL) == 0 &&
		    words_have(controllers, controller)) {
			*ret_version = CGROUP_V2;
			*ret_mount = TAKE_PTR(v2_mount);
			return 0;
		}
	}
	*ret_version = CGROUP_NONE;
	*ret_mount = NULL;
	return 0;
}

int cgroup_find_cpuset(enum cgroup_version *ret_version, char **ret_mount, struct nh_error **err)
{
	return cgroup_find_controller("cpuset", ret_version, ret_mount, err);
}

int cgroup_cpuset_mount(enum cgroup_version want, char **ret_mount, struct nh_error **err)
{
	enum cgroup_version v = CGROUP_NONE;
	_cleanup_free_ char *mount = NULL;
	int r = cgroup_find_cpuset(&v, &mount, err);
	if (r < 0)
		return r;
	if (v != want)
		return 0;
	if (ret_mount)
		*ret_mount = TAKE_PTR(mount);
	return 1;
}

int cgroup_of_pid(pid_t pid, enum cgroup_version version, char **ret, struct nh_error **err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *path = sysroot_path(rel);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, err);
	if (r < 0)
		return r;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *controllers = c1 + 1, *cg = c2 + 1;
		bool hit = version == CGROUP_V2 ? strcmp(line, "0") == 0 && !controllers[0]
						: list_has(controllers, "cpuset", ',');
		if (hit && cg[0] == '/') {
			*ret = xstrdup(cg);
			return 0;
		}
	}
	return nh_error_set(err, ENOENT, "%s: no %s cgroup", path,
			    version == CGROUP_V2 ? "unified" : "cpuset");
}

/* The node path of a cgroup file (file NULL: of the cgroup directory). */
static char *file_path(const char *mount, const char *cgroup, const char *file)
{
	return xasprintf("%s%s%s%s", mount, strcmp(cgroup, "/") ? cgroup : "", file ? "/" : "",
			 file ? file : "");
}

int cgroup_read(const char *mount, const char *cgroup, const char *file, char **ret,
		struct nh_error **err)
{
	_cleanup_free_ char *node_path = file_path(mount, cgroup, file);
	return kernel_read_file(node_path, ret, err);
}

int cgroup_read_at(int dir_fd, const char *cgroup, const char *file, char **ret,
		   struct nh_error **err)
{
	_cleanup_close_ int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return nh_error_set_errno(err, errno, "%s/%s", cgroup, file);
	}
	_cleanup_free_ char *what = xasprintf("%s/%s", cgroup, file);
	return kernel_read_fd(fd, what, ret, err);
}

int cgroup_read_cpus_at(int dir_fd, const char *cgroup, const char *file, struct cpuset *ret,
			struct nh_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = cgroup_read_at(dir_fd, cgroup, file, &text, err);
	if (r < 0)
		return r;
	r = cpuset_parse_list(text, ret, err);
	if (r < 0)
		return nh_error_wrap(err, "%s/%s", cgroup, file);
	return 0;
}

int cgroup_write(const char *mount, const char *cgroup, const char *file, const char *value,
		 struct nh_error **err)
{
	_cleanup_free_ char *node_path = file_path(mount, cgroup, file);
	return kernel_write_file(node_path, value, err);
}

int cgroup_read_cpus(const char *mount, const char *cgroup, const char *file, struct cpuset *ret,
		     struct nh_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = cgroup_read(mount, cgroup, file, &text, err);
	if (r < 0)
		return r;
	r = cpuset_parse_list(text, ret, err);
	if (r < 0)
		return nh_error_wrap(err, "%s%s/%s", mount, cgroup, file);
	return 0;
}

static int walk(int dir_fd, const char *cgroup,
		int (*fn)(const char *cgroup, int dir_fd, void *userdata, struct nh_error **err),
		void *userdata, unsigned depth, unsigned *too_deep, struct nh_error **err)
{
	if (depth > CGROUP_WALK_MAX_DEPTH) {
		(*too_deep)++;
		return 0;
	}
	int r = fn(cgroup, dir_fd, userdata, err);
	if (r != 0)
		return r < 0 ? r : 0; /* > 0: the caller needs nothing below this cgroup */
	/* getdents64 on the walk's own fd: no dup, fdopendir and closedir per cgroup. */
	char entries[8192] __attribute__((aligned(8)));
	for (;;) {
		long n = syscall(SYS_getdents64, dir_fd, entries, sizeof(entries));
		if (n < 0) {
			if (errno == ENOENT || errno == ENODEV)
				return 0; /* removed while we walked */
			return nh_error_set_errno(err, errno, "%s", cgroup);
		}
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(void *)(entries + off);
			off += de->d_reclen;
			if (de->d_name[0] == '.' ||
			    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
				continue;
			/* Relative to the parent: no path walk from the root for every cgroup. */
			_cleanup_close_ int child_fd = openat(
			    dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (child_fd < 0) {
				if (errno == ENOENT || errno == ENOTDIR)
					continue; /* vanished, or not a directory (DT_UNKNOWN) */
				return nh_error_set_errno(err, errno, "%s/%s", cgroup, de->d_name);
			}
			_cleanup_free_ char *child =
			    xasprintf("%s/%s", strcmp(cgroup, "/") ? cgroup : "", de->d_name);
			r = walk(child_fd, child, fn, userdata, depth + 1, too_deep, err);
			if (r < 0)
				return r;
		}
	}
}

int cgroup_walk(const char *mount, const char *start,
		int (*fn)(const char *cgroup, int dir_fd, void *userdata, struct nh_error **err),
		void *userdata, struct nh_error **err)
{
	_cleanup_free_ char *node_path = file_path(mount, start, NULL);
	_cleanup_free_ char *path = sysroot_path(node_path);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : nh_error_set_errno(err, errno, "%s", path);
	unsigned too_deep = 0;
	int r = walk(fd, start, fn, userdata, 0, &too_deep, err);
	return r < 0 ? r : (int)too_deep;
}

char *cgroup_parent(const char *cgroup)
{
	const char *slash = strrchr(cgroup, '/');
	if (!slash || slash == cgroup)
		return xstrdup("/");
	return xstrndup(cgroup, (size_t)(slash - cgroup));
}

/* A cgroupfs path component, or a systemd unit or slice name: what runc and systemd accept,
 * and nothing that walks out of the hierarchy. */
static bool component_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		      ch == ':' || ch == '@' || ch == '+'))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* systemd's slice expansion: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is
 * the root. */
static int expand_slice(const char *slice, char **ret, struct nh_error **err)
{
	if (strcmp(slice, "-.slice") == 0) {
		*ret = xstrdup("");
		return 0;
	}
	size_t len = strlen(slice);
	if (!ends_with(slice, ".slice") || !component_valid(slice, len) || slice[0] == '-' ||
	    strstr(slice, "--") || slice[len - 7] == '-')
		return nh_error_set(err, EINVAL, "invalid systemd slice name '%.128s'", slice);
	const char *base_end = slice + len - 6;
	_cleanup_free_ char *out = xstrdup("");
	for (const char *p = slice;; p++) {
		if (p == base_end || *p == '-') {
			char *next = xasprintf("%s/%.*s.slice", out, (int)(p - slice), slice);
			free(out);
			out = next;
			if (p == base_end)
				break;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int cgroup_path_from_spec(const char *cgroups_path, char **ret, struct nh_error **err)
{
	if (!cgroups_path || !cgroups_path[0])
		return nh_error_set(err, EINVAL, "no linux.cgroupsPath");
	if (strlen(cgroups_path) > 4096)
		return nh_error_set(err, EINVAL, "linux.cgroupsPath is too long");
	if (cgroups_path[0] == '/') {
		/* cgroupfs: "/a/b/c", every component checked. */
		for (const char *p = cgroups_path + 1;;) {
			const char *end = strchr(p, '/');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			if (!component_valid(p, n))
				return nh_error_set(err, EINVAL,
						    "invalid linux.cgroupsPath '%.128s'",
						    cgroups_path);
			if (!end)
				break;
			p = end + 1;
		}
		*ret = xstrdup(cgroups_path);
		return 0;
	}
	/* systemd: "slice:prefix:name" -> <expanded slice>/<prefix>-<name>.scope (a name that is
	 * itself a slice stands for itself), as runc's systemd driver lays it out. */
	const char *c1 = strchr(cgroups_path, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || strchr(c2 + 1, ':'))
		return nh_error_set(
		    err, EINVAL,
		    "linux.cgroupsPath '%.128s' is neither a cgroupfs path (\"/a/b\") "
		    "nor systemd's \"slice:prefix:name\"",
		    cgroups_path);
	_cleanup_free_ char *slice = xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
	_cleanup_free_ char *prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	const char *name = c2 + 1;
	if (!component_valid(name, strlen(name)) ||
	    (prefix[0] && !component_valid(prefix, strlen(prefix))))
		return nh_error_set(err, EINVAL, "invalid linux.cgroupsPath '%.128s'",
				    cgroups_path);
	_cleanup_free_ char *dir = NULL;
	int r = expand_slice(slice[0] ? slice : "system.slice", &dir, err);
	if (r < 0)
		return nh_error_wrap(err, "linux.cgroupsPath '%.128s'", cgroups_path);
	if (ends_with(name, ".slice"))
		*ret = xasprintf("%s/%s", dir, name);
	else
		*ret = xasprintf("%s/%s-%s.scope", dir, prefix, name);
	return 0;
}

bool cgroup_path_ok(const char *cgroup, bool root_ok)
{
	if (!cgroup || cgroup[0] != '/')
		return false;
	if (cgroup[1] == '\0')
		return root_ok;
	for (const char *p = cgroup; *p;) {
		const char *name = p + 1, *end = strchrnul(name, '/');
		size_t n = (size_t)(end - name);
		if (n == 0 || (n == 1 && name[0] == '.') ||
		    (n == 2 && name[0] == '.' && name[1] == '.'))
			return false;
		p = end;
	}
	return true;
}
