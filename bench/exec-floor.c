/* The floor of an exec wrapper: replaces argv[0] with RUNTIME and execs it, nothing else. Built by
 * bench/runtime with `gcc -static -Os -s -DRUNTIME='"/usr/bin/runc"'`; nodehook-runtime's cost is
 * measured above this program's, in the same hyperfine run. */
#include <stdio.h>
#include <unistd.h>

#ifndef RUNTIME
#error "build with -DRUNTIME='\"/path/to/runtime\"'"
#endif

int main(int argc, char **argv)
{
	(void)argc;
	argv[0] = (char *)RUNTIME;
	execv(RUNTIME, argv);
	perror("exec-floor: " RUNTIME);
	return 127;
}
