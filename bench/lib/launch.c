/* launch FILE PRELOAD PROG [ARG...]: runs PROG with FILE on stdin and LD_PRELOAD=PRELOAD (empty:
 * none), by exec, nothing else.
 *
 * For bench/hook: hyperfine -N gives every command /dev/null as stdin, and an OCI hook reads the
 * runtime's state JSON there. Built static, so that the preload applies to PROG only; the floor
 * is this same launcher exec'ing /bin/true, so its own cost cancels out. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: launch FILE PRELOAD PROG [ARG...]\n", stderr);
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
		perror(argv[1]);
		return 127;
	}
	if (argv[2][0] && setenv("LD_PRELOAD", argv[2], 1) < 0) {
		perror("setenv");
		return 127;
	}
	execv(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}
