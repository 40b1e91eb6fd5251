/* The sequences that change the node, shared by `nodehook hook`, the operator commands
 * (restore, gc) and the runtime wrapper. Every function here expects the state store locked
 * exclusively by the caller.
 *
 * Ownership rule: records passed in stay the caller's; lifecycle functions update them. */
#pragma once

#include <stdbool.h>

#include "container.h"
#include "error.h"
#include "node_config.h"
#include "state_store.h"

/* For the stages that only act on what is recorded (poststop, the wrapper's delete and update):
 * opens the state store without creating it, locks it exclusively and reads id's record.
 * Returns 1 with the store and record set (the caller clears both), 0 when there is no store or
 * no record. */
int lifecycle_open_record(const struct node_config *config, const char *boot_id, const char *id,
			  struct state_store **ret_store, struct container_record *ret,
			  struct nh_error **err);

/* Reads the container's record, or starts a new one from what is known about it: ids, pod
 * names, pid and its start time, and the runtime that ran us (our parent process, with its
 * --root), so that gc can later ask that runtime whether it still knows the container. A record
 * of another process under the same id (an earlier container deleted without its poststop hook,
 * its id reused before gc ran) is undone first, and a new one started. */
int lifecycle_record_open(struct state_store *store, const struct node_config *config,
			  const struct container_info *c, struct container_record *ret,
			  struct nh_error **err);

/* Applies one action: returns 1 when applied now, 0 when it was applied already (left as it
 * is: the hook may run twice). On failure, whatever was applied is rolled back (a rollback failure
 * is logged, and the record kept for gc), and the first error is returned. */
int lifecycle_apply(struct state_store *store, const struct node_config *config,
		    const struct container_info *c, struct container_record *rec, enum nh_action a,
		    struct nh_error **err) __attribute__((warn_unused_result));

/* Undoes every action in the record, in reverse order, and removes the record once all of them
 * are undone. On failure the record stays, for a later restore or gc. */
int lifecycle_undo(struct state_store *store, const struct node_config *config,
		   struct container_record *rec, struct nh_error **err)
    __attribute__((warn_unused_result));

/* Makes the record's actions follow new CPUs (the runtime's `update` gave the container a new
 * cpuset): each applied action that works on the container's CPUs is applied again for
 * new_cpus. Backends that converge (cgroup v1) are re-applied in place; the others are undone
 * and applied again. Returns 1 if anything moved, 0 if nothing had to. */
int lifecycle_update_cpus(struct state_store *store, const struct node_config *config,
			  struct container_record *rec, const struct cpuset *new_cpus,
			  struct nh_error **err) __attribute__((warn_unused_result));

/* Runs every action's guard (a container that asked for nothing started). */
int lifecycle_guard(struct state_store *store, const struct node_config *config,
		    struct nh_error **err);

/* Whether the container of a record is gone: the runtime that created it no longer knows the
 * id, and its pid is gone, a zombie, or reused (another start time). Returns 1 gone, 0 alive. */
int lifecycle_container_gone(const struct container_record *rec, struct nh_error **err);

/* Records for ledger entries that no record accounts for: containers some action's ledger holds
 * something for (action_ops.holders) while no record file names them. apply writes the record
 * before it touches a ledger, and undo empties the ledgers before it removes the record, so
 * under the exclusive lock this only happens when a record was lost (removed by hand, say).
 * Each orphan comes back as a synthesized record (the id; per action holding it: present, not
 * applied, the backend; no pid, no runtime) that lifecycle_undo() accepts: undo works from the
 * id and the ledger alone. *ret is an array of *ret_n records, sorted by id; the caller clears
 * each (container_record_clear) and frees the array. */
int lifecycle_orphans(struct state_store *store, const struct node_config *config,
		      struct container_record **ret, size_t *ret_n, struct nh_error **err);
