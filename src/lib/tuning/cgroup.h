/* cgroup file systems as the kernel presents them, found and used through the sysroot.
 *
 * Paths called "cgroup paths" here are relative to a hierarchy's mount point and start with '/'
 * ("/" is the root cgroup), as in /proc/<pid>/cgroup.
 *
 * Ownership rule: strings returned belong to the caller. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cpuset.h"
#include "error.h"

enum cgroup_version {
	CGROUP_NONE,
	CGROUP_V1,
	CGROUP_V2,
};

/* Finds the hierarchy of a controller ("cpu", "cpuset") from <sysroot>/proc/self/mountinfo: a v1
 * hierarchy with the controller among its options, else a cgroup2 mount whose root lists it in
 * cgroup.controllers; CGROUP_NONE and NULL when neither. ret_mount is a host path. */
int cgroup_find_controller(const char *controller, enum cgroup_version *ret_version,
			   char **ret_mount, struct nh_error **err);

/* Finds where the cpuset controller is mounted, from <sysroot>/proc/self/mountinfo: a v1
 * hierarchy with the cpuset option, else a cgroup2 mount whose root lists cpuset in
 * cgroup.controllers. ret_mount is the mount point as a host path (without the sysroot). */
int cgroup_find_cpuset(enum cgroup_version *ret_version, char **ret_mount, struct nh_error **err);

/* The cpuset mount if the cpuset controller is on a hierarchy of version `want`: 1 with
 * *ret_mount set (ret_mount may be NULL), 0 when it is not. */
int cgroup_cpuset_mount(enum cgroup_version want, char **ret_mount, struct nh_error **err);

/* The cgroup path of pid in the hierarchy of the given version (v1: the line naming cpuset;
 * v2: the "0::" line), from <sysroot>/proc/<pid>/cgroup. */
int cgroup_of_pid(pid_t pid, enum cgroup_version version, char **ret, struct nh_error **err);

/* Reads <sysroot><mount><cgroup>/<file>, trailing newline removed. ENOENT is returned as such
 * (without an error message) when the cgroup is gone, for callers that tolerate it. cgroup_write
 * writes the value and a newline in one write(), like echo(1). Sysctl files are kernel.h's. */
int cgroup_read(const char *mount, const char *cgroup, const char *file, char **ret,
		struct nh_error **err);
int cgroup_write(const char *mount, const char *cgroup, const char *file, const char *value,
		 struct nh_error **err) __attribute__((warn_unused_result));

/* Reads a CPU list file of a cgroup. */
int cgroup_read_cpus(const char *mount, const char *cgroup, const char *file, struct cpuset *ret,
		     struct nh_error **err);

/* Calls fn for every cgroup below (and including) start, parents before children, with an fd
 * of the cgroup's directory (for cgroup_read_at). fn returns <0 to stop with an error, 1 to skip
 * the cgroup's children, 0 to go on. Cgroups that vanish during the walk are skipped, and so
 * are cgroups more than CGROUP_WALK_MAX_DEPTH levels below start (the walk's stack is bounded;
 * a deep tree made by anyone who can mkdir a cgroup must not stop it). Returns the number of
 * subtrees skipped for depth (>= 0). */
#define CGROUP_WALK_MAX_DEPTH 64u
int cgroup_walk(const char *mount, const char *start,
		int (*fn)(const char *cgroup, int dir_fd, void *userdata, struct nh_error **err),
		void *userdata, struct nh_error **err);

/* cgroup_read and cgroup_read_cpus for a file of the directory dir_fd (a cgroup_walk fd);
 * cgroup names the cgroup in messages. */
int cgroup_read_at(int dir_fd, const char *cgroup, const char *file, char **ret,
		   struct nh_error **err);
int cgroup_read_cpus_at(int dir_fd, const char *cgroup, const char *file, struct cpuset *ret,
			struct nh_error **err);

/* Whether a cgroup path (from the kernel or a ledger) is safe to join to a mount: absolute, no
 * empty, "." or ".." component; the root "/" only when root_ok. */
bool cgroup_path_ok(const char *cgroup, bool root_ok);

/* The parent cgroup path ("/a/b" -> "/a", "/a" -> "/"). */
char *cgroup_parent(const char *cgroup);

/* The cgroup path of a container from its config.json linux.cgroupsPath, checked component by
 * component (nothing outside [A-Za-z0-9_.:@+-], no "." or ".."): cgroupfs "/a/b/c" as it is;
 * systemd "slice:prefix:name" as runc's systemd driver lays it out,
 * "/a.slice/a-b.slice/prefix-name.scope" (empty slice: system.slice). Relative paths are
 * refused: where they land depends on the runtime's own cgroup. */
int cgroup_path_from_spec(const char *cgroups_path, char **ret, struct nh_error **err);
