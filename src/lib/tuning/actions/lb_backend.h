/* Backends of the cpu-load-balancing action: how a kernel is told to stop balancing CPUs.
 *
 *   cgroup-v1     cpuset.sched_load_balance over the whole cpuset tree, plus a housekeeping
 *                 cpuset that keeps the remaining CPUs balanced (lb_cpuset_v1.c)
 *   cgroup-v2     the container's cgroup becomes an isolated remote partition (6.7+)
 *                 (lb_cpuset_v2.c)
 *   sched-domain  kernels < 5.8: SD_LOAD_BALANCE cleared in /proc/sys/kernel/sched_domain
 *                 (lb_sched_domain.c)
 *
 * Each keeps a ledger in the state store (state_doc_*), named after the backend, with the CPUs
 * each container holds and the original value of every setting it changed. apply and undo run
 * under the store's exclusive lock; see actions/action.h for the contract. */
#pragma once

#include "action.h"

struct lb_backend {
	const char *name;
	/* 1 if this kernel and node can use the backend, 0 if not (with *ret_why, static). */
	int (*available)(const char **ret_why, struct nh_error **err);
	__attribute__((warn_unused_result)) int (*apply)(struct action_context *ctx,
							 struct nh_error **err);
	/* Undoes for ctx->record->id (from the record and ledger only). */
	__attribute__((warn_unused_result)) int (*undo)(struct action_context *ctx,
							struct nh_error **err);
	/* NULL when the backend has no node-wide invariant to keep. */
	int (*guard)(struct action_context *ctx, struct nh_error **err);
	/* The container ids the backend's ledger holds CPUs for (NULL-terminated, caller frees
	 * with strv_free); an empty list without a ledger. Reads only. */
	int (*holders)(struct state_store *store, char ***ret_ids, struct nh_error **err);
};

extern const struct lb_backend lb_cpuset_v1;
extern const struct lb_backend lb_cpuset_v2;
extern const struct lb_backend lb_sched_domain;

/* The backends by name, for the node config's "backend"; NULL-terminated. */
extern const struct lb_backend *const lb_backends[];
