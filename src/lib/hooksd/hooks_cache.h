/* A persistent cache of parsed hooks.d files, so that a container start does not re-read and
 * re-compile every hook file.
 *
 * Reading 1000 small files costs about 7 ms of system time on a VM and compiling their regexes
 * another 10 ms; a stat costs about 2.5 us. The cache keeps each valid file's parsed form, with
 * its regexes in PCRE2's serialised form, keyed by the file's path and identity (device, inode,
 * size, mtime and ctime in nanoseconds). A file whose identity changed is parsed again; a file
 * modified within the last two seconds is never cached, because a rewrite inside one timestamp
 * tick keeps mtime and size (the "racy git" problem). Files that no longer exist drop out.
 *
 * Trust: the cache file must belong to the effective user and not be writable by group or
 * others, or it is ignored; a checksum guards against torn or corrupted files, and a header
 * names the nodehook and PCRE2 versions that wrote it. Any problem with the cache makes it
 * empty; it never fails a command. A hit skips the hook.path existence check (as upstream, which
 * checks at load time only).
 *
 * Ownership rule: lookups return new hook_file objects owned by the caller; the cache owns its
 * buffers. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "error.h"
#include "hook_file.h"

struct hooks_cache;

/* Opens the cache file for this list of hooks directories in cache_dir (creating cache_dir,
 * mode 0700, if needed). Never fails: an unusable cache is an empty one that is not saved. */
struct hooks_cache *hooks_cache_open(const char *cache_dir, const char *const *dirs, size_t n_dirs);

/* Returns 1 and a new hook_file when path with identity st is cached, else 0. */
int hooks_cache_lookup(struct hooks_cache *c, const char *path, const struct stat *st,
		       struct hook_file **ret);

/* Records a freshly parsed, valid file (unless its timestamps are too recent to trust). */
void hooks_cache_store(struct hooks_cache *c, const char *path, const struct stat *st,
		       const struct hook_file *h);

/* After a complete load, while every hook_file returned or stored is still alive: writes the
 * cache back if anything changed (atomically; a failed write is ignored: it is only a cache).
 * Entries neither hit nor stored this time are dropped. */
void hooks_cache_commit(struct hooks_cache *c);

/* Frees the cache without writing it. */
struct hooks_cache *hooks_cache_close(struct hooks_cache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hooks_cache *, hooks_cache_close)
#define _cleanup_hooks_cache_ _cleanup_(hooks_cache_closep)
