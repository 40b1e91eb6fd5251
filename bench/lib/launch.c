/* launch FILE PROG [ARG...]: runs PROG with FILE on stdin, by exec, nothing else.
 *
 * For bench/hook: hyperfine -N gives every command /dev/null as stdin, and an OCI hook reads the
 * runtime's state JSON there. Built static; the floor is this same launcher exec'ing /bin/true,
 * so its own cost cancels out. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: launch FILE PROG [ARG...]\n", stderr);
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
		perror(argv[1]);
		return 127;
	}
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
