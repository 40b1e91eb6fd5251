/* The built-in tuning actions behind one small interface.
 *
 * Adding an action: one .c file here with a `const struct action_ops`, one row in the table in
 * action.c, one value and name in enum nh_action (base/nh_action.{c,h}; the enum order is the
 * apply order), one test file. The node policy (enabled, allowed_namespaces, on_error), the
 * annotation keys in every annotation domain, the record, status, restore and gc follow from
 * the enum without further code.
 *
 * Contract, which the hook relies on to keep the node consistent under crashes and concurrency:
 * - apply and undo run with the state store locked exclusively (one lock for all of nodehook).
 * - Before apply, lifecycle has set ctx->record->actions[id].value = ctx->value (the accepted
 *   annotation value), not applied; apply keeps .value.
 * - apply sets .present and fills the rest of ctx->record->actions[id] (backend, cpus, cgroup,
 *   details: whatever undo will need) and calls action_record_save() BEFORE its first change to
 *   the node (an apply that fails before that changed nothing and is not rolled back), and
 *   writes the original value of every shared setting to its ledger (state_doc_write) before
 *   changing that setting. A hook killed at any point leaves records from which undo puts
 *   everything back. What the action changed and that status should show (IRQs moved or
 *   refused, per-CPU old values, cgroups) goes into .details (action_details_reset()), saved
 *   again with action_record_save() as it grows.
 * - Several actions on one container are applied in enum order and undone in reverse; each is
 *   rolled back on its own when its apply fails, and the node policy's on_error applies per
 *   action.
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
	/* The annotation value parse_value accepted (apply, update), or the record's (undo); NULL
	 * in guard, and in undo of a synthesized orphan record. Apply parses it again for what it
	 * means: parse_value said it is valid. */
	const char *value;
};

/* Called by action_ops.holders for each container a ledger holds something for. */
typedef int (*action_holder_fn)(const char *id, const char *backend, void *userdata,
				struct nh_error **err);

struct action_ops {
	enum nh_action id;
	/* The annotation value: 1 = apply, 0 = explicitly nothing, -EINVAL = junk, with a one-line
	 * error listing the accepted values (lifecycle adds the key). *ret_note is set (static
	 * string) for accepted but deprecated spellings; the hook prints it as a warning. */
	int (*parse_value)(const char *value, const char **ret_note, struct nh_error **err);
	/* Whether the container can have this action (e.g. it has exclusive CPUs). */
	int (*check)(const struct container_info *c, struct nh_error **err);
	__attribute__((warn_unused_result)) int (*apply)(struct action_context *ctx,
							 struct nh_error **err);
	__attribute__((warn_unused_result)) int (*undo)(struct action_context *ctx,
							struct nh_error **err);
	int (*guard)(struct action_context *ctx, struct nh_error **err);
	/* Whether the action works on the container's CPUs (.cpus in its record): when the
	 * runtime's `update` gives the container new CPUs, lifecycle makes it follow them. */
	bool follows_cpus;
	/* Follow new CPUs (ctx->container->cpus; the old ones are in the record). NULL: lifecycle
	 * undoes, then applies again with the record's value. Only for follows_cpus actions. */
	__attribute__((warn_unused_result)) int (*update)(struct action_context *ctx,
							  struct nh_error **err);
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

/* This action's record entry. */
struct action_record *action_record_of(struct action_context *ctx);

/* Replaces this action's details with a new empty object and returns it (owned by the record):
 * apply calls it once, then adds members. Members are the action's own; keep them JSON scalars,
 * arrays and small objects, named for an operator ("irqs_moved", "cgroups", ...): `nodehook
 * status` shows them as they are (JSON) and summarised (text). */
json_object *action_details_reset(struct action_context *ctx);

/* The grammar CRI-O gives cpu-load-balancing and cpu-quota, as a parse_value: "disable" asks
 * (1), "true" too with a deprecation note, "enable" is an explicit no (0), anything else junk. */
int action_parse_disable(const char *value, const char **ret_note, struct nh_error **err);

/* The check of every action that works on a container's CPUs: an exclusive whole-CPU set
 * (container.h), else EPERM saying why. */
int action_check_exclusive(const struct container_info *c, struct nh_error **err);

/* A test hook for crash tests: when $NODEHOOK_TEST_CRASH_AT is N, the Nth call in this process
 * SIGKILLs the process. Call it between each recorded step and the change it records. */
void action_crash_point(void);

extern const struct action_ops cpu_load_balancing_ops;
extern const struct action_ops cpu_quota_ops;
extern const struct action_ops irq_load_balancing_ops;
extern const struct action_ops cpu_c_states_ops;
extern const struct action_ops cpu_freq_governor_ops;
