#include "state_store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "oci_state.h"
#include "fileio.h"
#include "json_util.h"
#include "sysroot.h"
#include "xalloc.h"

#define RECORDS_DIR "containers"
#define RECORD_MAX (1u << 20)

static int check_owned_dir(int fd, const char *path, struct nh_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return nh_error_set_errno(err, errno, "state directory %s", path);
	if (!S_ISDIR(st.st_mode))
		return nh_error_set(err, ENOTDIR, "state directory %s: not a directory", path);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return nh_error_set(err, EPERM,
				    "state directory %s: must belong to uid %u and not be writable "
				    "by group or others",
				    path, (unsigned)geteuid());
	return 0;
}

static int open_store(const char *path, const char *boot_id, bool create, struct state_store **ret,
		      struct nh_error **err)
{
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return nh_error_set_errno(err, errno, "state directory %s", path);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (!create && errno == ENOENT) {
			*ret = NULL;
			return 0;
		}
		return nh_error_set_errno(err, errno, "state directory %s", path);
	}
	int r = check_owned_dir(fd, path, err);
	if (r < 0)
		return r;
	if (create && mkdirat(fd, RECORDS_DIR, 0700) < 0 && errno != EEXIST)
		return nh_error_set_errno(err, errno, "%s/%s", path, RECORDS_DIR);
	struct state_store *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->dir_fd = TAKE_FD(fd);
	s->lock_fd = -1;
	s->boot_id = xstrdup(boot_id);
	*ret = s;
	return 0;
}

int state_store_open(const char *path, const char *boot_id, struct state_store **ret,
		     struct nh_error **err)
{
	return open_store(path, boot_id, true, ret, err);
}

int state_store_open_existing(const char *path, const char *boot_id, struct state_store **ret,
			      struct nh_error **err)
{
	return open_store(path, boot_id, false, ret, err);
}

int state_store_lock(struct state_store *s, bool exclusive, struct nh_error **err)
{
	if (s->lock_fd < 0) {
		s->lock_fd =
		    openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (s->lock_fd < 0)
			return nh_error_set_errno(err, errno, "%s/lock", s->path);
	}
	while (flock(s->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno != EINTR)
			return nh_error_set_errno(err, errno, "%s/lock: flock", s->path);
	}
	return 0;
}

void state_store_unlock(struct state_store *s)
{
	if (s->lock_fd >= 0)
		(void)flock(s->lock_fd, LOCK_UN);
}

struct state_store *state_store_close(struct state_store *s)
{
	if (!s)
		return NULL;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->path);
	free(s->boot_id);
	free(s);
	return NULL;
}

/* The directory fd that holds rel (the store's own, or its records directory, opened without
 * following a symlink and held to the store's owner and mode rules) and rel's last component.
 * Returns 1, or 0 when the records directory does not exist. */
static int open_parent(struct state_store *s, const char *rel, int *ret_fd, const char **ret_name,
		       struct nh_error **err)
{
	const char *slash = strchr(rel, '/');
	if (!slash) {
		int fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return nh_error_set_errno(err, errno, "%s", s->path);
		*ret_fd = fd;
		*ret_name = rel;
		return 1;
	}
	_cleanup_free_ char *dir = xstrndup(rel, (size_t)(slash - rel));
	_cleanup_free_ char *path = xasprintf("%s/%s", s->path, dir);
	_cleanup_close_ int fd =
	    openat(s->dir_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return nh_error_set_errno(err, errno, "state directory %s", path);
	}
	int r = check_owned_dir(fd, path, err);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	*ret_name = slash + 1;
	return 1;
}

/* Reads and parses a JSON file relative to the store; 0 when absent. */
static int read_json_at(struct state_store *s, const char *rel, json_object **ret,
			struct nh_error **err)
{
	_cleanup_close_ int dfd = -1;
	const char *name = NULL;
	int r = open_parent(s, rel, &dfd, &name, err);
	if (r <= 0)
		return r;
	/* O_NONBLOCK: a FIFO here would otherwise block while the store's lock is held, and with
	 * it every hook on the node. */
	_cleanup_close_ int fd =
	    openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return nh_error_set_errno(err, errno, "%s/%s", s->path, rel);
	}
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	r = fd_check_readable_file(fd, err);
	if (r == 0)
		r = read_full_fd(fd, RECORD_MAX, &buf, &len, err);
	_cleanup_json_ json_object *doc = NULL;
	if (r == 0)
		r = json_parse_strict(buf, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r == 0 && (!doc || !json_object_is_type(doc, json_type_object)))
		r = nh_error_set(err, EBADMSG, "expected a JSON object");
	if (r < 0)
		return nh_error_wrap(err, "%s/%s", s->path, rel);

	json_object *boot = NULL;
	if (!json_object_object_get_ex(doc, "boot_id", &boot) ||
	    !json_object_is_type(boot, json_type_string) ||
	    strcmp(json_object_get_string(boot), s->boot_id) != 0) {
		/* Written before the last reboot: what it describes is gone. */
		(void)unlinkat(dfd, name, 0);
		return 0;
	}
	*ret = TAKE_PTR(doc);
	return 1;
}

/* Writes through the directory fd, never by path: see write_file_atomic_at(). */
static int write_json_at(struct state_store *s, const char *rel, json_object *doc,
			 struct nh_error **err)
{
	json_object_object_add(doc, "boot_id", json_object_new_string(s->boot_id));
	size_t len = 0;
	const char *text = json_object_to_json_string_length(
	    doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	_cleanup_free_ char *path = xasprintf("%s/%s", s->path, rel);
	_cleanup_close_ int dfd = -1;
	const char *name = NULL;
	int r = open_parent(s, rel, &dfd, &name, err);
	if (r < 0)
		return r;
	if (r == 0)
		return nh_error_set_errno(err, ENOENT, "%s", path);
	return write_file_atomic_at(dfd, name, path, text, len, 0600, err);
}

static bool valid_doc_name(const char *name)
{
	if (!name[0] || name[0] == '.' || strchr(name, '/'))
		return false;
	return true;
}

int state_doc_read(struct state_store *s, const char *name, json_object **ret,
		   struct nh_error **err)
{
	if (!valid_doc_name(name))
		return nh_error_set(err, EINVAL, "invalid state document name '%s'", name);
	return read_json_at(s, name, ret, err);
}

int state_doc_write(struct state_store *s, const char *name, json_object *doc,
		    struct nh_error **err)
{
	if (!valid_doc_name(name))
		return nh_error_set(err, EINVAL, "invalid state document name '%s'", name);
	return write_json_at(s, name, doc, err);
}

int state_doc_remove(struct state_store *s, const char *name, struct nh_error **err)
{
	if (!valid_doc_name(name))
		return nh_error_set(err, EINVAL, "invalid state document name '%s'", name);
	if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
		return nh_error_set_errno(err, errno, "%s/%s", s->path, name);
	return 0;
}

/* --- container records ------------------------------------------------------------------ */

void container_record_clear(struct container_record *r)
{
	free(r->id);
	free(r->runtime_path);
	free(r->runtime_root);
	free(r->pod_namespace);
	free(r->pod_name);
	free(r->container_name);
	for (int a = 0; a < NH_ACTION__MAX; a++)
		action_record_clear(&r->actions[a]);
	*r = (struct container_record){0};
}

void action_record_clear(struct action_record *ar)
{
	free(ar->value);
	free(ar->backend);
	free(ar->cpus);
	free(ar->cgroup);
	json_object_put(ar->details);
	*ar = (struct action_record){0};
}

void container_records_free(struct container_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		container_record_clear(&v[i]);
	free(v);
}

static char *record_rel(const char *id)
{
	return xasprintf(RECORDS_DIR "/%s.json", id);
}

static void add_str(json_object *o, const char *key, const char *value)
{
	if (value)
		json_object_object_add(o, key, json_object_new_string(value));
}

static char *get_str(json_object *o, const char *key)
{
	const char *s = json_get_str(o, key);
	return s ? xstrdup(s) : NULL;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

int state_record_write(struct state_store *s, const struct container_record *r,
		       struct nh_error **err)
{
	if (!container_id_valid(r->id))
		return nh_error_set(err, EINVAL, "invalid container id '%.64s'", r->id);
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object_object_add(doc, "version", json_object_new_int(1));
	add_str(doc, "id", r->id);
	json_object_object_add(doc, "pid", json_object_new_int64(r->pid));
	json_object_object_add(doc, "pid_start", json_object_new_uint64(r->pid_start));
	add_str(doc, "runtime_path", r->runtime_path);
	add_str(doc, "runtime_root", r->runtime_root);
	add_str(doc, "pod_namespace", r->pod_namespace);
	add_str(doc, "pod_name", r->pod_name);
	add_str(doc, "container_name", r->container_name);
	json_object_object_add(doc, "since", json_object_new_int64(r->since));
	json_object *actions = json_object_new_object();
	json_object_object_add(doc, "actions", actions);
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const struct action_record *ar = &r->actions[a];
		if (!ar->present)
			continue;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "applied", json_object_new_boolean(ar->applied));
		add_str(o, "backend", ar->backend);
		add_str(o, "cpus", ar->cpus);
		add_str(o, "cgroup", ar->cgroup);
		add_str(o, "value", ar->value);
		if (ar->details)
			json_object_object_add(o, "details", json_object_get(ar->details));
		json_object_object_add(actions, nh_action_to_string((enum nh_action)a), o);
	}
	_cleanup_free_ char *rel = record_rel(r->id);
	return write_json_at(s, rel, doc, err);
}

int state_record_read(struct state_store *s, const char *id, struct container_record *ret,
		      struct nh_error **err)
{
	if (!container_id_valid(id))
		return nh_error_set(err, EINVAL, "invalid container id '%.64s'", id);
	_cleanup_free_ char *rel = record_rel(id);
	_cleanup_json_ json_object *doc = NULL;
	int r = read_json_at(s, rel, &doc, err);
	if (r <= 0)
		return r;
	_cleanup_container_record_ struct container_record rec = {0};
	rec.id = get_str(doc, "id");
	if (!rec.id || strcmp(rec.id, id) != 0)
		return nh_error_set(err, EBADMSG, "%s/%s: id does not match the file name", s->path,
				    rel);
	rec.pid = (pid_t)get_int(doc, "pid");
	json_object *v = NULL;
	if (json_object_object_get_ex(doc, "pid_start", &v) &&
	    json_object_is_type(v, json_type_int))
		rec.pid_start = json_object_get_uint64(v);
	rec.runtime_path = get_str(doc, "runtime_path");
	rec.runtime_root = get_str(doc, "runtime_root");
	rec.pod_namespace = get_str(doc, "pod_namespace");
	rec.pod_name = get_str(doc, "pod_name");
	rec.container_name = get_str(doc, "container_name");
	rec.since = get_int(doc, "since");
	json_object *actions = NULL;
	if (json_object_object_get_ex(doc, "actions", &actions) &&
	    json_object_is_type(actions, json_type_object)) {
		json_object_object_foreach (actions, name, o) {
			enum nh_action a = nh_action_from_string(name);
			if (a < 0 || !json_object_is_type(o, json_type_object))
				return nh_error_set(err, EBADMSG, "%s/%s: unknown action '%s'",
						    s->path, rel, name);
			struct action_record *ar = &rec.actions[a];
			ar->present = true;
			json_object *applied = NULL;
			ar->applied = json_object_object_get_ex(o, "applied", &applied) &&
				      json_object_get_boolean(applied);
			ar->backend = get_str(o, "backend");
			ar->cpus = get_str(o, "cpus");
			ar->cgroup = get_str(o, "cgroup");
			ar->value = get_str(o, "value");
			json_object *details = NULL;
			if (json_object_object_get_ex(o, "details", &details) && details) {
				if (!json_object_is_type(details, json_type_object))
					return nh_error_set(err, EBADMSG,
							    "%s/%s: %s: details is not an object",
							    s->path, rel, name);
				ar->details = json_object_get(details);
			}
		}
	}
	*ret = rec;
	// NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by the _cleanup_ handler at scope exit: the clear hands ownership to *ret
	rec = (struct container_record){0};
	return 1;
}

bool state_record_present(const char *state_dir, const char *id)
{
	if (!id || !container_id_valid(id))
		return false;
	_cleanup_free_ char *rel = record_rel(id);
	_cleanup_free_ char *path = xasprintf("%s/%s", state_dir, rel);
	struct stat st;
	return lstat(path, &st) == 0;
}

int state_record_remove(struct state_store *s, const char *id, struct nh_error **err)
{
	if (!container_id_valid(id))
		return nh_error_set(err, EINVAL, "invalid container id '%.64s'", id);
	_cleanup_free_ char *rel = record_rel(id);
	_cleanup_close_ int dfd = -1;
	const char *name = NULL;
	int r = open_parent(s, rel, &dfd, &name, err);
	if (r <= 0)
		return r;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return nh_error_set_errno(err, errno, "%s/%s", s->path, rel);
	return 0;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_record_list(struct state_store *s, char ***ret, struct nh_error **err)
{
	_cleanup_close_ int fd = -1;
	const char *name = NULL;
	int r = open_parent(s, RECORDS_DIR "/", &fd, &name, err);
	if (r < 0)
		return r;
	if (r == 0) {
		*ret = xcalloc(1, sizeof(char *));
		return 0;
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d)
		return nh_error_set_errno(err, errno, "%s/%s", s->path, RECORDS_DIR);
	// NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by _cleanup_close_ at scope exit, which must not close what d owns
	fd = -1; /* owned by d now */
	_cleanup_strv_ char **ids = xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		_cleanup_free_ char *id = xstrndup(de->d_name, len - 5);
		if (!container_id_valid(id))
			continue;
		ids = xreallocarray(ids, n + 2, sizeof(char *));
		ids[n++] = TAKE_PTR(id);
		ids[n] = NULL;
	}
	if (errno)
		return nh_error_set_errno(err, errno, "%s/%s", s->path, RECORDS_DIR);
	qsort(ids, n, sizeof(char *), compare_strings);
	*ret = TAKE_PTR(ids);
	return 0;
}
