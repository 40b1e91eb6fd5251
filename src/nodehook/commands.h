/* The nodehook subcommands. Each returns the process exit code: 0 success, 1 failure (the
 * message already printed), 2 wrong usage. */
#pragma once

#define EXIT_USAGE 2

int cmd_hooks(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_gc(int argc, char **argv);
/* argv[0] is the wrapper's own name; argv[1..] go to the runtime. */
int cmd_runtime(int argc, char **argv);

/* Prints "nodehook: <msg>" to stderr: the one place errors reach the user. */
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
