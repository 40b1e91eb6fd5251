/* The built-in tuning actions behind one small interface.
 *
 * Adding an action: one .c file here with a `const struct action_ops`, one row in
 * action_table() (action.c), one value in enum nh_action (nh_action.h), one test file.
 *
 * Contract, which the hook relies on to keep the node consistent under crashes and concurrency:
 * - apply and undo run with the state store locked exclusively (one lock for all of nodehook).
 * - apply fills ctx->record->actions[id] (backend, cpus, cgroup) and calls
 *   action_record_save() BEFORE its first change to the node, and writes the original value of
 *   every shared setting to its ledger (state_doc_write) before changing that setting. A hook
 *   killed at any point leaves records from which undo puts everything back.
 * - undo works from the record and the ledger alone (the container's cgroup and process are
 *   gone at poststop), is idempotent, tolerates settings and cgroups that vanished, and never
 *   touches what another container still needs (reference counts in the ledger).
 * - guard re-asserts node-wide invariants at the start of a container that asked for nothing
 *   (cgroup v1: a new cpuset must not merge isolated CPUs back into a sched domain). It must
 *   return quickly when the action is not in use on the node.
 * Library code: no printing; log_debug() at most. */
#pragma once

#include "container.h"
#include "error.h"
#include "node_config.h"
#include "state_store.h"

struct action_context {
	struct state_store *store; /* locked exclusively */
	const struct node_config *config;
	const struct container_info *container; /* NULL in undo and guard-less paths */
	struct container_record *record;	/* NULL in guard */
	enum nh_action action;
};

/* Called by action_ops.holders for each container a ledger holds something for. */
typedef int (*action_holder_fn)(const char *id, const char *backend, void *userdata,
				struct nh_error **err);

struct action_ops {
	enum nh_action id;
	/* The annotation value: 1 = apply, 0 = explicitly nothing, -EINVAL = junk. *ret_note is
	 * set (static string) for accepted but deprecated spellings. */
	int (*parse_value)(const char *value, const char **ret_note, struct nh_error **err);
	/* Whether the container can have this action (e.g. it has exclusive CPUs). */
	int (*check)(const struct container_info *c, struct nh_error **err);
	int (*apply)(struct action_context *ctx, struct nh_error **err)
	    __attribute__((warn_unused_result));
	int (*undo)(struct action_context *ctx, struct nh_error **err)
	    __attribute__((warn_unused_result));
	int (*guard)(struct action_context *ctx, struct nh_error **err);
	/* Calls fn for every container id this action's ledgers hold something for, with the
	 * backend that holds it, so that gc can find entries whose record was lost. NULL when the
	 * action keeps no ledger. Reads only. */
	int (*holders)(struct action_context *ctx, action_holder_fn fn, void *userdata,
		       struct nh_error **err);
};

const struct action_ops *action_lookup(enum nh_action id);

/* Writes ctx->record to the store: call it before the first change to the node. */
int action_record_save(struct action_context *ctx, struct nh_error **err)
    __attribute__((warn_unused_result));

/* A test hook for crash tests: when $NODEHOOK_TEST_CRASH_AT is N, the Nth call in this process
 * SIGKILLs the process. Call it between each recorded step and the change it records. */
void action_crash_point(void);

extern const struct action_ops cpu_load_balancing_ops;
extern const struct action_ops irq_load_balancing_ops;
