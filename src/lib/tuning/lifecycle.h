/* The sequences that change the node, shared by `nodehook hook`, the operator commands
 * (restore, gc; status.h) and the runtime wrapper.
 *
 * The flows (lifecycle_start, lifecycle_stop, lifecycle_update) are one call each for an entry
 * point: they open the state store through the node context and lock it. The steps below them
 * (lifecycle_record_begin, _apply, _undo, _update_cpus, _guard, _orphans) expect the store
 * locked exclusively by the caller.
 *
 * The library does not tell the user anything: what happened on the way (a deprecated value, a
 * refusal under on_error "log", a failed rollback, an applied action) comes back as events, and
 * the entry point decides what to say.
 *
 * Ownership rule: records passed in stay the caller's; lifecycle functions update them. Events
 * own their strings; lifecycle_events_clear() frees them. */
#pragma once

#include <stdbool.h>

#include "container.h"
#include "error.h"
#include "node_context.h"
#include "oci_state.h"
#include "node_config.h"
#include "state_store.h"

/* Reads the container's record, or starts a new one from what is known about it: ids, pod
 * names, pid and its start time, and the runtime that ran us (our parent process, with its
 * --root), so that gc can later ask that runtime whether it still knows the container. A record
 * of another process under the same id (an earlier container deleted without its poststop hook,
 * its id reused before gc ran) is undone first, and a new one started. */
int lifecycle_record_begin(struct state_store *store, const struct node_config *config,
			   const struct container_info *c, struct container_record *ret,
			   struct nh_error **err);

/* Applies one action, asked for with the annotation value `value` (already accepted by the
 * action's parse_value; kept in the record): returns 1 when applied now, 0 when it was applied
 * already (left as it is: the hook may run twice). On failure, whatever was applied is rolled back
 * (if the rollback fails too, the record is kept for gc; lifecycle_start() reports it), and the
 * first error is returned. */
int lifecycle_apply(struct state_store *store, const struct node_config *config,
		    const struct container_info *c, struct container_record *rec, enum nh_action a,
		    const char *value, struct nh_error **err) __attribute__((warn_unused_result));

/* Undoes every action in the record, in reverse order, and removes the record once all of them
 * are undone. An action that cannot be undone does not stop the others: it stays in the record,
 * for a later restore or gc, and the first error is returned. */
int lifecycle_undo(struct state_store *store, const struct node_config *config,
		   struct container_record *rec, struct nh_error **err)
    __attribute__((warn_unused_result));

/* Makes the record's actions follow new CPUs (the runtime's `update` gave the container a new
 * cpuset): each applied action that works on the container's CPUs (action_ops.follows_cpus)
 * follows new_cpus, in apply order: through its update op where it has one (cpu-load-balancing
 * on cgroup v1 converges in place), else undone and applied again with the recorded value.
 * An action that cannot follow goes back to the CPUs it had (record and ledgers as they were);
 * one left half-way by an earlier failure is made to follow, not skipped. Every action is tried;
 * the first error is returned. Returns 1 if anything moved, 0 if nothing had to. */
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
 * under the exclusive lock this only happens when a record was lost (removed by hand, say), or
 * cannot be read (truncated, corrupt): such a record counts as missing.
 * Each orphan comes back as a synthesized record (the id; per action holding it: present, not
 * applied, the backend; no pid, no runtime) that lifecycle_undo() accepts: undo works from the
 * id and the ledger alone. *ret is an array of *ret_n records, sorted by id; the caller clears
 * each (container_record_clear) and frees the array. */
int lifecycle_orphans(struct state_store *store, const struct node_config *config,
		      struct container_record **ret, size_t *ret_n, struct nh_error **err);

/* What happened on the way through lifecycle_start(), in order. */
enum lifecycle_event_kind {
	LIFECYCLE_NOTE,		     /* key: accepted, but text says the spelling is deprecated */
	LIFECYCLE_REFUSED,	     /* key: refused or failed (text: why); on_error is "log" */
	LIFECYCLE_EARLIER_UNDONE,    /* text: the id of an earlier container's record, pid */
	LIFECYCLE_ALREADY_APPLIED,   /* the hook ran twice: left as it is */
	LIFECYCLE_ROLLBACK_FAILED,   /* text: why; the record stays for gc */
	LIFECYCLE_RECORD_NOT_SYNCED, /* text: why the record was not updated after a rollback */
	LIFECYCLE_APPLIED,	     /* text: the CPUs, text2: the backend */
	LIFECYCLE_GUARDS_SKIPPED,    /* text: why no guard ran (a non-root hook) */
	LIFECYCLE_GUARD_FAILED,	     /* action's guard failed (text: why); on_error is "log" */
};

struct lifecycle_event {
	enum lifecycle_event_kind kind;
	enum nh_action action; /* NH_ACTION__INVALID for LIFECYCLE_EARLIER_UNDONE */
	char *key;	       /* the annotation that asked */
	char *text, *text2;
	pid_t pid;
};

struct lifecycle_events {
	struct lifecycle_event *v;
	size_t n;
};

void lifecycle_events_clear(struct lifecycle_events *ev);

/* createRuntime (and prestart): applies what the container's annotations ask for and the node
 * policy allows, action by action in apply order. Reads the bundle's config.json; fails on junk
 * annotation values ("annotation '<key>': invalid value ... (expected ...)"), and on a refused
 * or failed action whose on_error is "fail" ("<action> ('<key>'): <why>"): then the actions
 * applied before it are undone too, since the container will not start. An action refused or
 * failed under on_error "log" becomes an event and the others go on. A container that asks for
 * nothing runs the guards, where nodehook has a state directory: a guard that fails under its
 * action's on_error "log" becomes an event, and a hook denied the state directory (a rootless
 * container) runs none and says why in an event. ev may be NULL. */
int lifecycle_start(struct node_context *node, const struct oci_state *state,
		    struct lifecycle_events *ev, struct nh_error **err)
    __attribute__((warn_unused_result));

/* poststop, and the runtime wrapper after delete: undoes what id's record holds. Returns 1 when
 * undone (the record removed), 0 when nothing is recorded. On failure the record stays for
 * restore or gc, and the error says so. */
int lifecycle_stop(struct node_context *node, const char *id, struct nh_error **err)
    __attribute__((warn_unused_result));

/* The runtime wrapper after an update that gave the container new_cpus: see
 * lifecycle_update_cpus(). Returns 1 if anything moved, 0 if nothing had to (or nothing is
 * recorded for id). */
int lifecycle_update(struct node_context *node, const char *id, const struct cpuset *new_cpus,
		     struct nh_error **err) __attribute__((warn_unused_result));
