/* The nodehook subcommands. Each parses its options, makes one library call per flow and renders
 * the result. It returns the process exit code (0 success, 2 wrong usage, 1 when a part failed
 * and was reported; the runtime wrapper: the runtime's own status), or -errno with *err set:
 * main prints that one error, through the sinks the command chose (log.h), and exits 1. */
#pragma once

#include <stdbool.h>

#include "error.h"

#define EXIT_USAGE 2

int cmd_hooks(int argc, char **argv, struct nh_error **err);
int cmd_hook(int argc, char **argv, struct nh_error **err);
int cmd_status(int argc, char **argv, struct nh_error **err);
int cmd_restore(int argc, char **argv, struct nh_error **err);
int cmd_gc(int argc, char **argv, struct nh_error **err);
/* argv[0] is the wrapper's own name; argv[1..] go to the runtime. */
int cmd_runtime(int argc, char **argv, struct nh_error **err);

/* The options of status, restore and gc: --help and one boolean flag (--json, --all,
 * --dry-run). Returns -1 to go on (optind at the first operand), else the exit code. */
int cli_parse_flag(int argc, char **argv, const char *flag, const char *usage, bool *ret_flag);
