/* The configurable root under which nodehook finds the node's /etc, /proc and /sys.
 *
 * Production uses "/"; tests point it at a fixture tree. Every path nodehook opens under /etc,
 * /proc or /sys is built with sysroot_path().
 *
 * Ownership rule: returned strings belong to the caller. */
#pragma once

/* Sets the root for this process: `nodehook --sysroot DIR`, and the unit tests. NULL or "" means
 * "/". It wins over the node config's "sysroot" (sysroot_set_default). */
void sysroot_set(const char *root);

/* Sets the root unless sysroot_set() has: the node config's "sysroot", applied when the node
 * context opens (node_context.h). */
void sysroot_set_default(const char *root);

const char *sysroot_get(void);

/* Joins the root and an absolute node path ("/etc/containers/oci/hooks.d"). A relative argument
 * is a caller's bug (the node config refuses relative paths): it is taken as absolute, never
 * glued to the root nor resolved against the working directory. */
char *sysroot_path(const char *abs_path);
