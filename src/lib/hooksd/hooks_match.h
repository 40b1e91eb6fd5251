/* Deciding which hooks apply to a container, with CRI-O's and Podman's semantics.
 *
 * 1.0.0 files AND every condition they set; 0.1.0 files OR them. `always: false` and
 * `hasBindMounts: false` never match in AND mode. Each annotation rule needs one annotation
 * whose key matches the key regex and whose value matches the value regex. `commands` is
 * evaluated last and, when reached, decides alone, against process.args[0].
 *
 * Ownership rule: a hooks_result lends the oci_hook objects of the hooks_set it was computed
 * from; free it with hooks_result_clear() before freeing the set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"
#include "hook_file.h"
#include "hooks_set.h"
#include "oci_config.h"

/* Returns 1 on a match, 0 on none, -errno (with *err) when a regex fails to run or when
 * `commands` is reached for a process without args. */
int hook_when_match(const struct hook_when *w, const struct container_facts *facts,
		    struct nh_error **err);

/* Where a hooks.d `prestart` goes in config.json: CRI-O >= 1.31 and Podman >= 5.0 write it as
 * createRuntime; older releases as prestart. */
enum prestart_mapping {
	PRESTART_AS_CREATE_RUNTIME,
	PRESTART_AS_PRESTART,
};

struct hooks_result {
	const struct oci_hook *
	    *by_stage[OCI_STAGE__MAX]; /* injection order per config.json stage */
	size_t n_by_stage[OCI_STAGE__MAX];
	bool any_matched; /* a file matched, even if it names no stage */
};

int hooks_match(const struct hooks_set *set, const struct container_facts *facts,
		enum prestart_mapping prestart, struct hooks_result *ret, struct nh_error **err);

void hooks_result_clear(struct hooks_result *r);
#define _cleanup_hooks_result_ _cleanup_(hooks_result_clear)
