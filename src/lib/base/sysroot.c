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
	if (n == 0)
		return xstrdup(abs_path);
	return xasprintf("%.*s%s", (int)n, root, abs_path);
}
