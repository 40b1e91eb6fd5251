/* Running the real runtime (runc, crun) for the runtime wrapper: argv as the caller gave it, with
 * argv[0] replaced by the runtime's path.
 *
 * Ownership rule: nothing is allocated for the caller. */
#pragma once

#include "error.h"

/* execv()s the runtime, after closing syslog; every fd and the environment stay as they came.
 * Returns only on failure. */
int runtime_exec(const char *runtime, int argc, char **argv, struct nh_error **err);

/* Runs the runtime as a child (it dies with us: PR_SET_PDEATHSIG), with every catchable signal
 * forwarded to it, stdin from stdin_fd when it is >= 0; *ret_status is its wait status. */
int runtime_run_child(const char *runtime, int argc, char **argv, int stdin_fd, int *ret_status,
		      struct nh_error **err);

/* Mirrors the child's end: returns its exit code, or dies by the same signal. */
int runtime_exit_like(int status);
