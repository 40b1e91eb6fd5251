#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "sysroot.h"

static const char usage_text[] =
    "Usage: nodehook [--sysroot DIR] COMMAND [OPTIONS]\n"
    "\n"
    "Node tuning for Kubernetes containers: an OCI hook, a hooks.d engine and a runc/crun\n"
    "wrapper.\n"
    "\n"
    "Commands:\n"
    "  hook           run as an OCI hook: apply or undo node tuning for a container\n"
    "  hooks match    print the hooks.d hooks that apply to a container, as JSON\n"
    "  hooks inject   append the hooks.d hooks that apply to a bundle's config.json\n"
    "  status         show what is applied now, per container and per CPU\n"
    "  restore        undo now what was applied for a container (or all of them)\n"
    "  gc             undo what was applied for containers that are gone\n"
    "  runtime -- ARGS  the runc/crun wrapper (also: this binary run as nodehook-runtime)\n"
    "\n"
    "Options:\n"
    "  --sysroot DIR  find the node's /etc, /proc and /sys under DIR (default /)\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n"
    "\n"
    "Run 'nodehook COMMAND --help' for a command's options.\n";

/* Runs the command argv names; returns its exit code, or -errno with *err set. */
static int dispatch(int argc, char **argv, struct nh_error **err)
{
	/* Installed as nodehook-runtime (a link to this binary), it is the runtime wrapper, and
	 * every argument belongs to the runtime. */
	const char *self = strrchr(argv[0], '/');
	self = self ? self + 1 : argv[0];
	if (strcmp(self, "nodehook-runtime") == 0)
		return cmd_runtime(argc, argv, err);

	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"sysroot", required_argument, NULL, 'r'},
	    {0},
	};
	int c;
	/* '+': stop at the first non-option, the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("nodehook %s\n", NODEHOOK_VERSION);
			return 0;
		case 'r':
			sysroot_set(optarg);
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *command = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0; /* reset getopt for the command's own parsing */

	if (strcmp(command, "hooks") == 0)
		return cmd_hooks(sub_argc, sub_argv, err);
	if (strcmp(command, "hook") == 0)
		return cmd_hook(sub_argc, sub_argv, err);
	if (strcmp(command, "runtime") == 0) {
		/* nodehook runtime [--] ARGS: the wrapper, with ARGS as the runtime's arguments. */
		int skip = sub_argc > 1 && strcmp(sub_argv[1], "--") == 0 ? 1 : 0;
		sub_argv[skip] = (char *)"nodehook-runtime";
		return cmd_runtime(sub_argc - skip, sub_argv + skip, err);
	}
	if (strcmp(command, "status") == 0)
		return cmd_status(sub_argc, sub_argv, err);
	if (strcmp(command, "restore") == 0)
		return cmd_restore(sub_argc, sub_argv, err);
	if (strcmp(command, "gc") == 0)
		return cmd_gc(sub_argc, sub_argv, err);
	if (strcmp(command, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	log_error("unknown command '%s'; see 'nodehook --help'", command);
	return EXIT_USAGE;
}

/* The one place a command's error is printed, and the exit code chosen: 1 for an error, else
 * what the command returned (0, 2 for wrong usage, the runtime's own status for the wrapper). The
 * sinks are the command's (log_open): the hook's tagged stderr and syslog, the wrapper's --log
 * file, or plain stderr. */
int main(int argc, char **argv)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = dispatch(argc, argv, &err);
	if (r < 0) {
		log_error("%s", err ? err->msg : strerror(-r));
		r = 1;
	}
	log_close();
	return r;
}
