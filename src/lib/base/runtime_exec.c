#include "runtime_exec.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "xalloc.h"

static char **runtime_argv(const char *runtime, int argc, char **argv)
{
	char **out = xcalloc((size_t)argc + 1, sizeof(char *));
	out[0] = (char *)runtime;
	for (int i = 1; i < argc; i++)
		out[i] = argv[i];
	return out;
}

int runtime_exec(const char *runtime, int argc, char **argv, struct nh_error **err)
{
	_cleanup_free_ char **args = runtime_argv(runtime, argc, argv);
	log_close();
	execv(runtime, args);
	return nh_error_set_errno(err, errno, "exec %s", runtime);
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		(void)kill((pid_t)child_pid, sig);
}

int runtime_run_child(const char *runtime, int argc, char **argv, int stdin_fd, int *ret_status,
		      struct nh_error **err)
{
	static const int forwarded[] = {SIGHUP,	 SIGINT,  SIGQUIT, SIGTERM,  SIGUSR1,
					SIGUSR2, SIGPIPE, SIGALRM, SIGWINCH, SIGCONT};
	struct sigaction sa = {.sa_handler = forward_signal};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		(void)sigaction(forwarded[i], &sa, NULL);

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return nh_error_set_errno(err, errno, "fork");
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigemptyset(&dfl.sa_mask);
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
			(void)sigaction(forwarded[i], &dfl, NULL);
		/* The runtime must not outlive us: nodehook is what the caller waits for. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (stdin_fd >= 0 && dup2(stdin_fd, STDIN_FILENO) < 0)
			_exit(127);
		execv(runtime, runtime_argv(runtime, argc, argv));
		/* Reported like the exec'd path's failure: --log too, where containerd looks. */
		log_error("exec %s: %s", runtime, strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return nh_error_set_errno(err, errno, "wait for %s", runtime);
	}
	child_pid = 0;
	*ret_status = status;
	return 0;
}

int runtime_exit_like(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig;
	}
	return 1;
}
