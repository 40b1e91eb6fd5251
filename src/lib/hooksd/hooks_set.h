/* The set of hooks.d files in effect for a list of directories.
 *
 * Directories are given in increasing precedence; a file's base name is its identity, and the
 * highest-precedence directory whose file of that name loads wins. Only names ending in ".json"
 * (case-sensitive) are read. A missing directory is skipped; a hooks "directory" that is not a
 * directory is an error. Entries that vanish between listing and reading (dangling symlinks,
 * removal mid-scan) are skipped.
 *
 * Invalid files: in HOOKS_LOAD_STRICT the first invalid file in effect fails the load (files
 * masked by a valid file of higher precedence are not read at all). In HOOKS_LOAD_SKIP_INVALID
 * an invalid file is recorded in `skipped` and does not mask a valid file of the same name in a
 * lower-precedence directory, as CRI-O does when it reloads a changed hooks directory.
 *
 * Ownership rule: hooks_set_load() returns a set the caller frees with hooks_set_free(); the set
 * owns its hook files and skipped-file errors. */
#pragma once

#include <stddef.h>

#include "cleanup.h"
#include "error.h"
#include "hook_file.h"
#include "paths.h"

enum hooks_load_mode {
	HOOKS_LOAD_STRICT,
	HOOKS_LOAD_SKIP_INVALID,
};

struct hooks_set {
	struct hook_file **files; /* in injection order: by lowercased name, bytewise */
	size_t n;
	struct nh_error **skipped; /* HOOKS_LOAD_SKIP_INVALID: one error per invalid file */
	size_t n_skipped;
};

/* cache_dir: where to keep the parse cache (hooks_cache.h); NULL reads every file. */
int hooks_set_load(const char *const *dirs, size_t n_dirs, enum hooks_load_mode mode,
		   const char *cache_dir, struct hooks_set **ret, struct nh_error **err);

struct hooks_set *hooks_set_free(struct hooks_set *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hooks_set *, hooks_set_free)
#define _cleanup_hooks_set_ _cleanup_(hooks_set_freep)

/* The key upstream sorts hook files by: Go's strings.ToLower of the name (every Unicode letter
 * lowered, simple case mapping; an invalid UTF-8 byte becomes U+FFFD), compared as bytes.
 * Caller frees. */
char *hooks_sort_key(const char *name);

/* Compares hook file names in that order. Ties (names equal but for case) are broken by the raw
 * name, so that the order is always the same. */
int hooks_name_compare(const char *a, const char *b);
