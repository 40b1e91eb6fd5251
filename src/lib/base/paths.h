/* Default paths on a node, shared by the hooks.d engine, the tuning engine and the entry points.
 * Paths under /etc, /proc and /sys are node paths: they are opened through the sysroot
 * (sysroot.h); the state directory is not. */
#pragma once

#define NODE_CONFIG_DEFAULT_PATH "/etc/nodehook/config.json"
#define NODE_CONFIG_ENV "NODEHOOK_CONFIG"
#define NODE_CONFIG_DEFAULT_RUNTIME "/usr/bin/runc"
#define NODE_CONFIG_DEFAULT_STATE_DIR "/run/nodehook"

/* Where CRI-O and Podman read hooks.d files by default, lowest precedence first. */
#define HOOKS_DIR_SYSTEM "/usr/share/containers/oci/hooks.d"
#define HOOKS_DIR_ADMIN "/etc/containers/oci/hooks.d"
