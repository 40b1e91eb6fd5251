/* The operator's view of what nodehook changed on the node, and the ways to undo it by hand:
 * the library half of `nodehook status`, `restore` and `gc` (the entry point parses options and
 * renders).
 *
 * Ledger entries without a record ("orphans", see lifecycle_orphans()) are listed by
 * status_collect(), released by status_gc(), by status_restore() of every container, and by
 * status_restore() of that id.
 *
 * Ownership rule: struct node_status owns everything in it; status_clear() frees it. Items
 * passed to a status_report_fn are lent for the duration of the call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"
#include "node_context.h"
#include "state_store.h"

/* A CPU and the containers whose load-balancing action holds it. */
struct status_cpu {
	unsigned cpu;
	char **ids; /* NULL-terminated */
	size_t n;
};

struct node_status {
	struct container_record *records; /* sorted by id */
	size_t n_records;
	struct container_record *orphans; /* sorted by id */
	size_t n_orphans;
	struct status_cpu *cpus; /* sorted by cpu */
	size_t n_cpus;
	char **errors;	 /* records that could not be read (NULL-terminated messages) */
	char **warnings; /* records whose CPU list did not parse, ignoring them */
};

/* Opens the store (if there is one) locked shared, and reads every record and orphan. A node
 * without a state directory has an empty status. */
int status_collect(struct node_context *node, struct node_status *ret, struct nh_error **err);
void status_clear(struct node_status *s);
#define _cleanup_node_status_ _cleanup_(status_clear)

/* An action's details (action_record.details) in one line for a table: its members in order,
 * "name=value", a scalar as it is, an array of scalars joined by "," (more than 8 elements: the
 * count), an object or array of objects by its size ("{3}", "[3]"); "-" when there are none.
 * Generic: no per-action code. Caller frees. */
char *status_details_summary(const struct action_record *ar);

/* "cpu-load-balancing, ..." for the actions present in a record. Caller frees. */
char *status_record_actions(const struct container_record *rec);

enum status_outcome {
	STATUS_RESTORED,	     /* restore: undone, record removed */
	STATUS_ORPHAN_RELEASED,	     /* restore, gc: orphaned ledger entries released */
	STATUS_GONE_RESTORED,	     /* gc: the container is gone; undone */
	STATUS_GONE_WOULD_RESTORE,   /* gc --dry-run */
	STATUS_ORPHAN_WOULD_RELEASE, /* gc --dry-run */
	STATUS_RUNNING_KEPT,	     /* gc: the container still runs */
	STATUS_READ_FAILED,	     /* the record could not be read (err) */
	STATUS_UNDO_FAILED,	     /* the undo failed; the record stays (err) */
	STATUS_GONE_UNKNOWN,	     /* gc: cannot tell whether it is gone (err) */
};

struct status_item {
	const char *id;
	enum status_outcome outcome;
	const char *actions;	    /* status_record_actions(); NULL for STATUS_READ_FAILED */
	const struct nh_error *err; /* for the *_FAILED and *_UNKNOWN outcomes */
};

typedef void (*status_report_fn)(const struct status_item *item, void *userdata);

/* Undoes id's record (or its orphaned ledger entries), or with id NULL every record and orphan,
 * whether or not the containers still run; report is called once per container, in order.
 * Returns how many failed; -errno when the store cannot be read, or (ENOENT) when id has neither
 * a record nor ledger entries. */
int status_restore(struct node_context *node, const char *id, status_report_fn report,
		   void *userdata, struct nh_error **err);

/* Undoes the records of containers that are gone (lifecycle_container_gone()) and releases
 * orphaned ledger entries; then, unless dry_run, runs the guards so that the ledgers' settings
 * follow the records that are left. report is called once per container. Returns how many
 * failed, or -errno. */
int status_gc(struct node_context *node, bool dry_run, status_report_fn report, void *userdata,
	      struct nh_error **err);
