/* The spec edit the runtime wrapper makes at create for irq-load-balancing "housekeeping": the
 * container learns which of its CPUs keep IRQs, in its environment, as CRI-O tells it:
 *   NODEHOOK_HOUSEKEEPING_CPUS=<list>  and  OPENSHIFT_HOUSEKEEPING_CPUS=<list>
 * Only the wrapper can: an OCI hook runs after the process spec is fixed (the hook door applies
 * the IRQ bans alone, without the variables).
 *
 * Ownership rule: the config stays the caller's. */
#pragma once

#include "error.h"
#include "node_config.h"
#include "oci_config.h"

#define CREATE_ENV_HOUSEKEEPING "NODEHOOK_HOUSEKEEPING_CPUS"
#define CREATE_ENV_HOUSEKEEPING_OPENSHIFT "OPENSHIFT_HOUSEKEEPING_CPUS"

/* If the container asks for irq-load-balancing "housekeeping" and would get it (policy, an
 * exclusive CPU set), sets both variables in process.env of oci (replacing earlier values) and
 * replaces the file at path atomically. Returns 1 when written, 0 when the container does not
 * ask for it; what stops the start (a junk value, a refusal) is left for the hook to say. */
int create_env_inject(const struct node_config *config, struct oci_config *oci, const char *id,
		      const char *bundle, const char *path, struct nh_error **err)
    __attribute__((warn_unused_result));
