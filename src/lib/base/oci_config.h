/* A bundle's config.json (OCI runtime-spec): the facts hooks are matched on, and hook injection.
 *
 * The document is kept as a json-c tree, so everything nodehook does not touch (unknown fields,
 * 64-bit integers, number literals, key order) is written back as it was read.
 *
 * Ownership rule: struct oci_config owns its tree and every string in its facts; facts borrow
 * from nothing outside it. Free with oci_config_free(). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "cleanup.h"
#include "error.h"

/* What the matcher needs to know about a container. */
/* Every subject is valid UTF-8 (oci_config sees to it): the matcher skips PCRE2's check. */
struct container_facts {
	const char **annotation_keys; /* strings may not contain NUL: lengths below */
	const char **annotation_values;
	size_t *annotation_key_lens, *annotation_value_lens;
	size_t n_annotations;
	bool has_process; /* config.json has a process object */
	const char *arg0; /* NULL when process.args is empty or absent */
	size_t arg0_len;
	bool has_bind_mounts;
};

struct oci_config {
	json_object *doc;
	/* annotations after overrides, in config order then override order */
	char **annotation_keys, **annotation_values;
	size_t *annotation_key_lens, *annotation_value_lens;
	size_t n_annotations, annotations_cap;
	char *arg0; /* process.args[0], for matching */
	struct container_facts facts;
};

/* Parses config.json content. Checks the shape of what nodehook reads (annotations, process,
 * mounts, hooks) and fails with a message naming the field. */
int oci_config_parse(const char *content, size_t len, struct oci_config **ret,
		     struct nh_error **err);

/* Reads and parses a config.json file (at most NH_OCI_CONFIG_MAX bytes). */
int oci_config_load(const char *path, struct oci_config **ret, struct nh_error **err);

/* Sets (or replaces) an annotation used for matching; config.json itself is not changed.
 * Annotations and args[0] as the matcher sees them are valid UTF-8: invalid bytes read as
 * U+FFFD, as in Go. */
void oci_config_override_annotation(struct oci_config *c, const char *key, const char *value);

/* Looks up an annotation of the config (after overrides). NULL when absent. */
const char *oci_config_annotation(const struct oci_config *c, const char *key);

/* Serialises the (possibly modified) document. The string belongs to the config. */
const char *oci_config_to_string(struct oci_config *c, size_t *ret_len);

struct oci_config *oci_config_free(struct oci_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct oci_config *, oci_config_free)
#define _cleanup_oci_config_ _cleanup_(oci_config_freep)
