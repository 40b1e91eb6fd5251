/* The configurable root under which nodehook finds the node's /etc, /proc and /sys.
 *
 * Production uses "/"; tests point it at a fixture tree. Every path nodehook opens under /etc,
 * /proc or /sys is built with sysroot_path().
 *
 * Ownership rule: returned strings belong to the caller. */
#pragma once

/* Sets the root for this process. NULL or "" means "/". Only main calls this. */
void sysroot_set(const char *root);

const char *sysroot_get(void);

/* Joins the root and an absolute node path ("/etc/containers/oci/hooks.d"). */
char *sysroot_path(const char *abs_path);
