/* One hooks.d file (oci-hooks(5)): parse, convert 0.1.0 to 1.0.0, validate.
 *
 * Parsing follows Go's encoding/json as CRI-O and Podman use it: object keys match
 * case-insensitively, the last duplicate wins, unknown keys are ignored, `null` leaves a field
 * unset, type mismatches and trailing data are errors. Error messages keep the upstream
 * wording, so tools that grep CRI-O's logs find the same text.
 *
 * Ownership rule: hook_file_load() returns a struct hook_file the caller frees with
 * hook_file_free(); it owns every string, vector and compiled regex inside it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "error.h"
#include "oci_state.h"
#include "regex_go.h"

/* A runtime-spec hook object. */
struct oci_hook {
	char *path;
	char **args; /* NULL when absent; NULL-terminated */
	char **env;  /* NULL when absent; NULL-terminated */
	bool has_timeout;
	int64_t timeout;
};

struct hook_annotation_rule {
	char *key_src, *value_src;
	pcre2_code *key, *value;
};

struct hook_command_rule {
	char *src;
	pcre2_code *re;
};

/* The `when` conditions. Tri-state booleans: -1 unset, 0 false, 1 true. */
struct hook_when {
	int always;
	int has_bind_mounts;
	struct hook_annotation_rule *annotations;
	size_t n_annotations;
	bool annotations_set; /* present, even if empty */
	struct hook_command_rule *commands;
	size_t n_commands;
	bool or_mode; /* 0.1.0 files: any condition suffices */
};

struct hook_file {
	char *path;    /* as read, for messages */
	char *name;    /* base name: the key for precedence and ordering */
	char *version; /* the version the file declared ("1.0.0" or "0.1.0") */
	struct oci_hook hook;
	struct hook_when when;
	enum oci_stage *stages;
	size_t n_stages;
	/* true when this struct is one allocation that also holds every string and array above
	 * (made by the parse cache); only the compiled regexes are separate. */
	bool single_block;
};

/* Parses and validates a hook file's content. `path` is used in messages and for the base name.
 * Validation includes checking that hook.path exists (faccessat F_OK, relative to the cwd). */
int hook_file_parse(const char *path, const char *content, size_t len, struct hook_file **ret,
		    struct nh_error **err);

/* Reads dirpath/name (name relative to dirfd; at most NH_HOOK_FILE_MAX bytes, following
 * symlinks) and parses it. Returns 1 when loaded, 0 when the entry vanished (a dangling symlink,
 * or removed while the directory was scanned), -errno on failure. ret_st (optional) receives
 * the identity of the file that was read. */
int hook_file_load(int dirfd, const char *dirpath, const char *name, struct hook_file **ret,
		   struct stat *ret_st, struct nh_error **err);

struct hook_file *hook_file_free(struct hook_file *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hook_file *, hook_file_free)
#define _cleanup_hook_file_ _cleanup_(hook_file_freep)

/* Copies an OCI hook (for building match results). */
void oci_hook_copy(struct oci_hook *dst, const struct oci_hook *src);
void oci_hook_clear(struct oci_hook *h);
