/* nodehook's records of what it changed on the node, under the state directory (default
 * /run/nodehook, a tmpfs on a normal node, so records vanish with the settings they describe).
 *
 *   <state_dir>/lock                    flock(2): every change to the node or to records is made
 *                                       holding it exclusively; readers take it shared. The
 *                                       kernel drops it when a hook dies, so a SIGKILL never
 *                                       leaves it held.
 *   <state_dir>/containers/<id>.json    one record per container nodehook acted on
 *   <state_dir>/<resource>.json         a ledger per shared resource (e.g. cpuset-v1.json):
 *                                       reference counts and the original value of every
 *                                       setting changed, written before the setting is
 *   <state_dir>/cache/                  the hooks.d parse cache of the runtime wrapper and
 *                                       `hooks match|inject` (hooks_cache.h); not a record
 *
 * Every file is replaced atomically (temporary file, fsync, rename) and carries the boot id:
 * where /run is not a tmpfs, a record from another boot describes settings the reboot already
 * undid, and is void.
 *
 * Ownership rule: struct state_store owns its fds; records and documents returned belong to the
 * caller. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"
#include "nh_action.h"

struct state_store {
	char *path;
	int dir_fd;
	int lock_fd; /* -1 until locked */
	char *boot_id;
};

/* Opens (creating, mode 0700) the state directory. The directory must belong to the effective
 * user and not be writable by others: records steer what nodehook writes to the kernel.
 * boot_id: the current boot (from the sysroot's /proc/sys/kernel/random/boot_id). */
int state_store_open(const char *path, const char *boot_id, struct state_store **ret,
		     struct nh_error **err);

/* Opens for reading only: a missing directory is not created, and yields *ret = NULL. */
int state_store_open_existing(const char *path, const char *boot_id, struct state_store **ret,
			      struct nh_error **err);

int state_store_lock(struct state_store *s, bool exclusive, struct nh_error **err)
    __attribute__((warn_unused_result));
void state_store_unlock(struct state_store *s);

struct state_store *state_store_close(struct state_store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct state_store *, state_store_close)
#define _cleanup_state_store_ _cleanup_(state_store_closep)

/* Reads <state_dir>/<name> as JSON. Returns 1 and the document, 0 when it does not exist or
 * belongs to another boot (then it is removed). */
int state_doc_read(struct state_store *s, const char *name, json_object **ret,
		   struct nh_error **err);
/* Writes a document atomically, stamping "boot_id". */
int state_doc_write(struct state_store *s, const char *name, json_object *doc,
		    struct nh_error **err) __attribute__((warn_unused_result));
int state_doc_remove(struct state_store *s, const char *name, struct nh_error **err);

/* One container's record of one action. */
struct action_record {
	bool present;
	bool applied; /* false: apply started and did not finish */
	char *value;  /* the annotation value that asked for it, as accepted by parse_value */
	char *backend;
	char *cpus;
	char *cgroup;
	/* What the action changed, in its own words (a JSON object it alone writes and reads:
	 * IRQs moved, per-CPU old values, cgroups...), or NULL. Persisted with the record and
	 * shown by `nodehook status` as it is. Owned: one reference. */
	json_object *details;
};

/* Frees what an action record holds and leaves it empty (not present). */
void action_record_clear(struct action_record *ar);

struct container_record {
	char *id;
	pid_t pid;
	uint64_t pid_start; /* field 22 of /proc/<pid>/stat: tells a reused pid apart */
	char *runtime_path; /* the runtime that ran the hook, to ask whether it knows the id */
	char *runtime_root;
	char *pod_namespace, *pod_name, *container_name;
	int64_t since; /* unix seconds */
	struct action_record actions[NH_ACTION__MAX];
};

void container_record_clear(struct container_record *r);
#define _cleanup_container_record_ _cleanup_(container_record_clear)

/* Clears each of n records and frees the array. */
void container_records_free(struct container_record *v, size_t n);

/* Returns 1 and the record, 0 when there is none (or it is from another boot). */
int state_record_read(struct state_store *s, const char *id, struct container_record *ret,
		      struct nh_error **err);
int state_record_write(struct state_store *s, const struct container_record *r,
		       struct nh_error **err) __attribute__((warn_unused_result));
int state_record_remove(struct state_store *s, const char *id, struct nh_error **err);

/* Whether state_dir holds a record for id: one lstat, no lock, no parsing; a hint for the
 * runtime wrapper's pass-through path, to be confirmed by state_record_read() under the lock. */
bool state_record_present(const char *state_dir, const char *id);

/* The ids that have a record, sorted. NULL-terminated; the caller frees with strv_free. */
int state_record_list(struct state_store *s, char ***ret, struct nh_error **err);
