/* The pause program of the test pause image (sandbox_image of the e2e containerd): sleeps until
 * SIGTERM or SIGINT, reaping children meanwhile, as a pod's infra container does. Built with
 * gcc -static -Os -s by tests/e2e/lib/containerd.bash; no pull from a registry needed. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = {.sa_handler = on_term};
	struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
	sigemptyset(&term.sa_mask);
	sigemptyset(&child.sa_mask);
	sigaction(SIGTERM, &term, NULL);
	sigaction(SIGINT, &term, NULL);
	sigaction(SIGCHLD, &child, NULL);
	for (;;)
		pause();
}
