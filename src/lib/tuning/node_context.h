/* What every flow that acts on the node opens first: the node config, the sysroot, and (when the
 * flow needs it) the boot id and the state store, locked.
 *
 * The sysroot rule: `nodehook --sysroot DIR` wins; without it, the node config's "sysroot"
 * applies (default "/"). The same for every command: the hook, the runtime wrapper, status,
 * restore and gc.
 *
 * Ownership rule: struct node_context owns its config, boot id and store; free it with
 * node_context_free(). */
#pragma once

#include <stdbool.h>

#include "cleanup.h"
#include "error.h"
#include "node_config.h"
#include "state_store.h"

struct node_context {
	struct node_config *config;
	char *boot_id;		   /* NULL until the store is opened */
	struct state_store *store; /* NULL until opened, and when there is no state directory */
};

/* Loads the node config ($NODEHOOK_CONFIG, else the default path; errors say "node config: ")
 * and applies the sysroot rule above. */
int node_context_open(struct node_context **ret, struct nh_error **err);

enum node_store_mode {
	NODE_STORE_EXISTING, /* a missing state directory means nothing was ever recorded */
	NODE_STORE_CREATE,   /* created (mode 0700) if missing: the flow is about to record */
};

/* Reads the boot id, opens the state store and locks it (exclusive: for changes; shared: for
 * reading). Returns 1 with n->store set, 0 when mode is NODE_STORE_EXISTING and there is no
 * state directory. Once opened, later calls return 1 at once. */
int node_context_open_store(struct node_context *n, enum node_store_mode mode, bool exclusive,
			    struct nh_error **err);

/* Closes the store, which releases its lock: for a flow that has collected what it needs and is
 * about to write output that a stalled reader could block (status). Later calls of
 * node_context_open_store() open and lock it again. */
void node_context_close_store(struct node_context *n);

struct node_context *node_context_free(struct node_context *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct node_context *, node_context_free)
#define _cleanup_node_context_ _cleanup_(node_context_freep)
