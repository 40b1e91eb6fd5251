#include "runtime_args.h"

#include <stddef.h>
#include <string.h>

/* An option as written: "-x", "--x", "-x=v", "--x=v". name_len excludes any "=v". */
struct opt {
	const char *name; /* without dashes */
	size_t name_len;
	const char *inline_value; /* after '=', or NULL */
};

static bool read_opt(const char *arg, struct opt *o)
{
	if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0)
		return false;
	const char *name = arg[1] == '-' ? arg + 2 : arg + 1;
	const char *eq = strchr(name, '=');
	o->name = name;
	o->name_len = eq ? (size_t)(eq - name) : strlen(name);
	o->inline_value = eq ? eq + 1 : NULL;
	return true;
}

static bool opt_is(const struct opt *o, const char *name)
{
	return strlen(name) == o->name_len && memcmp(o->name, name, o->name_len) == 0;
}

static bool opt_in(const struct opt *o, const char *const *names)
{
	for (; *names; names++)
		if (opt_is(o, *names))
			return true;
	return false;
}

/* Global options that take a value, in runc and crun. */
static const char *const global_with_value[] = {
    "root", "log", "log-format", "log-level", "criu", "rootless", "cgroup-manager", NULL,
};

/* Command options that take a value (union over the commands and both runtimes). A boolean
 * option is any other. */
static const char *const command_with_value[] = {
    "bundle",
    "b",
    "console-socket",
    "pid-file",
    "preserve-fds",
    "config",
    "resources",
    "r",
    "process",
    "p",
    "cwd",
    "env",
    "e",
    "user",
    "u",
    "additional-gids",
    "g",
    "cap",
    "c",
    "apparmor",
    "process-label",
    "format",
    "image-path",
    "work-path",
    "parent-path",
    "page-server",
    "manage-cgroups-mode",
    "empty-ns",
    "status-fd",
    "lsm-profile",
    "lsm-mount-context",
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-share",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpuset-cpus",
    "cpuset-mems",
    "kernel-memory",
    "kernel-memory-tcp",
    "memory",
    "memory-reservation",
    "memory-swap",
    "pids-limit",
    "l3-cache-schema",
    "mem-bw-schema",
    "interval",
    "signal",
    "s",
    "label",
    "mount-context",
    "tty-size",
    "exec-fifo",
    "cgroup-parent",
    NULL,
};

static enum runtime_command command_of(const char *name)
{
	if (strcmp(name, "create") == 0)
		return RUNTIME_CMD_CREATE;
	if (strcmp(name, "run") == 0)
		return RUNTIME_CMD_RUN;
	if (strcmp(name, "delete") == 0)
		return RUNTIME_CMD_DELETE;
	if (strcmp(name, "update") == 0)
		return RUNTIME_CMD_UPDATE;
	return RUNTIME_CMD_OTHER;
}

/* crun's create/run take -f FILE (config); delete takes -f (force). */
static bool takes_value(enum runtime_command cmd, const struct opt *o)
{
	if (opt_is(o, "f"))
		return cmd == RUNTIME_CMD_CREATE || cmd == RUNTIME_CMD_RUN;
	return opt_in(o, command_with_value);
}

void runtime_args_parse(int argc, char *const *argv, struct runtime_args *ret)
{
	struct runtime_args a = {.command = RUNTIME_CMD_NONE, .command_index = -1};
	int i = 1;
	for (; i < argc; i++) {
		struct opt o;
		if (!read_opt(argv[i], &o))
			break;
		const char *value = o.inline_value;
		if (!value && opt_in(&o, global_with_value)) {
			if (i + 1 >= argc) {
				*ret = a;
				return;
			}
			value = argv[++i];
		}
		if (opt_is(&o, "root"))
			a.root = value;
		else if (opt_is(&o, "log"))
			a.log = value;
		else if (opt_is(&o, "log-format"))
			a.log_format = value;
	}
	if (i >= argc) {
		*ret = a;
		return;
	}
	a.command_name = argv[i];
	a.command_index = i;
	a.command = command_of(argv[i]);

	for (i++; i < argc; i++) {
		struct opt o;
		if (strcmp(argv[i], "--") == 0) {
			if (!a.id && i + 1 < argc)
				a.id = argv[i + 1];
			break;
		}
		if (!read_opt(argv[i], &o)) {
			/* The first positional argument is the id; runc reorders options after it,
			 * so keep reading options, but the id is fixed. */
			if (!a.id)
				a.id = argv[i];
			continue;
		}
		const char *value = o.inline_value;
		if (!value && takes_value(a.command, &o)) {
			if (i + 1 >= argc)
				break;
			value = argv[++i];
		}
		if (opt_is(&o, "bundle") || opt_is(&o, "b"))
			a.bundle = value;
		else if ((opt_is(&o, "config") || opt_is(&o, "f")) && value)
			a.config = value;
		else if (opt_is(&o, "resources") || opt_is(&o, "r"))
			a.resources = value;
		else if (opt_is(&o, "cpuset-cpus"))
			a.cpuset_cpus = value;
		else if ((opt_is(&o, "force") || opt_is(&o, "f")) &&
			 a.command == RUNTIME_CMD_DELETE)
			a.force = true;
	}
	/* exec and ps take the command after the id; the id is still the first positional. */
	*ret = a;
}
