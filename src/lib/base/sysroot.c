#include "sysroot.h"

#include <stdbool.h>
#include <string.h>

#include "xalloc.h"

static const char *root = "/";
static bool set_explicitly;

void sysroot_set(const char *r)
{
	root = (r && r[0]) ? r : "/";
	set_explicitly = true;
}

void sysroot_set_default(const char *r)
{
	if (!set_explicitly)
		root = (r && r[0]) ? r : "/";
}

const char *sysroot_get(void)
{
	return root;
}

char *sysroot_path(const char *abs_path)
{
	size_t n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	/* A relative argument is never glued to the root ("<root>etc/x" is a sibling of it), nor
	 * left to resolve against the working directory: it is joined with a '/'. */
	const char *sep = abs_path[0] == '/' ? "" : "/";
	if (n == 0)
		return xasprintf("%s%s", sep, abs_path);
	return xasprintf("%.*s%s%s", (int)n, root, sep, abs_path);
}
