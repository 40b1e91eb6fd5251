/* The OCI runtime's view of a container: its id, and the state JSON a runtime writes on a hook's
 * stdin (runtime-spec "state").
 *
 * Ownership rule: struct oci_state owns its strings; oci_state_clear() frees them. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Ids become file names ("<id>.json" in the state dir): NAME_MAX (255) less ".json". runc's
 * own state directory is named by the id, so it cannot take longer ones either. */
#define CONTAINER_ID_MAX 250

/* runc's id alphabet: [A-Za-z0-9_+.-]+, not "." or "..", at most CONTAINER_ID_MAX bytes. Ids
 * become file names: nothing else may reach a path. */
bool container_id_valid(const char *id);

/* The state JSON a runtime writes on a hook's stdin. */
struct oci_state {
	char *id;
	pid_t pid; /* 0 when absent (poststop) or meaningless (createContainer: 1 or 0) */
	char *bundle;
	char *status;
};

int oci_state_parse(const char *buf, size_t len, struct oci_state *ret, struct nh_error **err);
void oci_state_clear(struct oci_state *s);

/* The runtime-spec's hook stages (config.json "hooks"; what a hooks.d file may name). */
enum oci_stage {
	OCI_STAGE_PRESTART,
	OCI_STAGE_CREATE_RUNTIME,
	OCI_STAGE_CREATE_CONTAINER,
	OCI_STAGE_START_CONTAINER,
	OCI_STAGE_POSTSTART,
	OCI_STAGE_POSTSTOP,
	OCI_STAGE__MAX,
	OCI_STAGE__INVALID = -EINVAL,
};

const char *oci_stage_to_string(enum oci_stage s);
enum oci_stage oci_stage_from_string(const char *s);
