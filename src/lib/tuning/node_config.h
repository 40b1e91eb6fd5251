/* The node configuration: /etc/nodehook/config.json, or the file named by $NODEHOOK_CONFIG.
 *
 * Its keys (state_dir, sysroot, annotation_domains, cri, hooks_dirs, runtime, irqbalance_config,
 * persistent_dir, and per action enabled, allowed_namespaces, on_error, backend), their defaults
 * and meaning are listed in docs/CONFIGURATION.md; deploy/config.json.example is a complete file.
 *
 * Unknown keys are errors: a misspelt key in a node's policy must not silently fall back to a
 * default. A missing default file means the defaults; a missing $NODEHOOK_CONFIG file is an
 * error (someone asked for it).
 *
 * Ownership rule: node_config_load() returns a config the caller frees with node_config_free(). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"
#include "nh_action.h"
#include "paths.h"

#define NODE_CONFIG_DEFAULT_PERSISTENT_DIR "/var/lib/nodehook"
/* Debian's, then RHEL's. */
#define NODE_CONFIG_IRQBALANCE_DEFAULTS                                                            \
	{                                                                                          \
		"/etc/default/irqbalance", "/etc/sysconfig/irqbalance"                             \
	}

enum on_error {
	ON_ERROR_FAIL,
	ON_ERROR_LOG,
	ON_ERROR__MAX,
	ON_ERROR__INVALID = -EINVAL,
};

enum cri_kind {
	CRI_AUTO,
	CRI_CONTAINERD,
	CRI_CRIO,
	CRI_NONE,
	CRI__MAX,
	CRI__INVALID = -EINVAL,
};

struct action_policy {
	bool enabled;
	char **allowed_namespaces; /* NULL-terminated globs */
	enum on_error on_error;
	char *backend; /* "auto" unless set */
};

struct node_config {
	char *path; /* the file read, or NULL for built-in defaults */
	char *state_dir;
	char *sysroot;
	char **annotation_domains; /* NULL-terminated; always starts with "nodehook.io" */
	enum cri_kind cri;
	char **hooks_dirs;
	char *runtime;
	/* irq-load-balancing: the irqbalance config file to keep the banned CPUs in; NULL means
	 * the first of NODE_CONFIG_IRQBALANCE_DEFAULTS that exists, "" means none. */
	char *irqbalance_config;
	/* What must outlive a reboot (the irqbalance config's original content). */
	char *persistent_dir;
	struct action_policy actions[NH_ACTION__MAX];
};

/* Loads $NODEHOOK_CONFIG, else the default path, else the defaults. */
int node_config_load(struct node_config **ret, struct nh_error **err);

/* Loads one file; path NULL means the defaults only. */
int node_config_load_file(const char *path, bool missing_ok, struct node_config **ret,
			  struct nh_error **err);

int node_config_parse(const char *path, const char *content, size_t len, struct node_config **ret,
		      struct nh_error **err);

/* The runtime a node config names, read leniently for when the config as a whole is invalid:
 * the "runtime" key if the file parses as JSON and it is an absolute path, else the default.
 * Caller frees. */
char *node_config_runtime_fallback(void);

struct node_config *node_config_free(struct node_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct node_config *, node_config_free)
#define _cleanup_node_config_ _cleanup_(node_config_freep)
