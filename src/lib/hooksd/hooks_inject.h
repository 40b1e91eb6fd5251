/* Putting matched hooks into a bundle's config.json, as CRI-O and Podman do, and printing them.
 *
 * Ownership rule: the config stays the caller's; hooks_result_to_json() returns a new reference. */
#pragma once

#include <json-c/json.h>

#include "error.h"
#include "hooks_set.h"
#include "hooks_match.h"
#include "oci_config.h"

/* The matched hooks as a JSON object: stage name -> array of runtime-spec hook objects, stages
 * without hooks omitted. Returns a new reference. */
json_object *hooks_result_to_json(const struct hooks_result *r);

/* Appends the matched hooks after those already in config.json, per stage. A match creates the
 * hooks object even when the matched files name no stage, as upstream does. */
int hooks_inject(struct oci_config *c, const struct hooks_result *r, struct nh_error **err);

/* The injection as `hooks inject` and the runtime wrapper do it: matches set against the
 * config's facts, and, if a hook file matched, appends its hooks and replaces the file at path
 * atomically (config.json stays byte-identical otherwise). Returns 1 when written, 0 when
 * nothing matched. */
int hooks_inject_file(struct oci_config *c, const struct hooks_set *set,
		      enum prestart_mapping prestart, const char *path, struct nh_error **err)
    __attribute__((warn_unused_result));
