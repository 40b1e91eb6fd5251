/* node_context_open's sysroot rule: `nodehook --sysroot DIR` (sysroot_set) wins; without it the
 * node config's "sysroot" applies. The sysroot is process state, so the cases run in this
 * order: the config's first, before anything sets the root explicitly. */
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

#include "cleanup.h"
#include "node_config.h"
#include "node_context.h"
#include "sysroot.h"
#include "xalloc.h"

/* Opens a node context from a config whose "sysroot" is config_root; returns the root then in
 * force. */
static char *root_after_open(const char *config_root)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *json = xasprintf("{\"sysroot\": \"%s\"}", config_root);
	_cleanup_free_ char *path = tu_write_file(dir, "node.json", json, strlen(json));
	setenv(NODE_CONFIG_ENV, path, 1);
	_cleanup_node_context_ struct node_context *node = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(node_context_open(&node, &err), &err);
	unsetenv(NODE_CONFIG_ENV);
	tu_rm_rf(dir);
	return xstrdup(sysroot_get());
}

static void test_config_sysroot_applies_without_option(void **state)
{
	(void)state;
	_cleanup_free_ char *root = root_after_open("/srv/node-root");
	assert_string_equal(root, "/srv/node-root");
}

static void test_option_wins_over_config(void **state)
{
	(void)state;
	sysroot_set("/from/the/command/line");
	_cleanup_free_ char *root = root_after_open("/srv/node-root");
	assert_string_equal(root, "/from/the/command/line");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_sysroot_applies_without_option),
	    cmocka_unit_test(test_option_wins_over_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
