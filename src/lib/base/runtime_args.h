/* Reading a runc/crun command line without changing it.
 *
 * nodehook-runtime stands where runc is called and passes argv on untouched (argv[0] aside); it
 * only needs to know the command, the container id, the bundle, the --root and --log globals,
 * and a few command options. Both runtimes' syntaxes are accepted: Go-flag style (runc: -x v,
 * -x=v, --x v, --x=v, single-dash long names, options after the id) and argp style (crun:
 * --x=v, --x v, unique prefixes are NOT resolved: callers spell options out).
 *
 * A global option this parser does not know is assumed to take no value unless written
 * --opt=value: the callers nodehook-runtime stands in for (containerd's shim, conmon for CRI-O,
 * Podman) pass only --root, --log, --log-format and --systemd-cgroup, and crun's own globals
 * come as --opt=value (docs/RUNTIMES.md).
 *
 * Ownership rule: struct runtime_args points into argv; nothing is allocated. */
#pragma once

#include <stdbool.h>

enum runtime_command {
	RUNTIME_CMD_OTHER, /* passed through */
	RUNTIME_CMD_CREATE,
	RUNTIME_CMD_RUN,
	RUNTIME_CMD_DELETE,
	RUNTIME_CMD_UPDATE,
	RUNTIME_CMD_NONE, /* no command (e.g. --version, --help) */
};

struct runtime_args {
	enum runtime_command command;
	const char *command_name; /* as written, or NULL */
	int command_index;	  /* argv index of the command, or -1 */
	const char *id;		  /* the container id, or NULL */
	const char *root;	  /* --root */
	const char *log;	  /* --log */
	const char *log_format;	  /* --log-format */
	const char *bundle;	  /* --bundle / -b (create, run) */
	const char *config;	  /* crun's --config / -f (create, run) */
	const char *resources;	  /* update: --resources / -r ("-" is stdin) */
	const char *cpuset_cpus;  /* update: --cpuset-cpus */
	bool force;		  /* delete: --force / -f */
};

/* Parses argv[1..argc). Never fails: what it cannot read makes the command RUNTIME_CMD_OTHER,
 * which is passed through untouched. */
void runtime_args_parse(int argc, char *const *argv, struct runtime_args *ret);
