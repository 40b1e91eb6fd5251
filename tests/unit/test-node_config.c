/* The node config: defaults, every key, strictness about unknown keys and wrong types. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "node_config.h"
#include "sysroot.h"
#include "xalloc.h"

static struct node_config *parse_ok(const char *json)
{
	struct node_config *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(node_config_parse("cfg.json", json, strlen(json), &c, &err), &err);
	return c;
}

static void parse_fails(const char *json, const char *msg)
{
	struct node_config *c = NULL;
	struct nh_error *err = NULL;
	int r = node_config_parse("cfg.json", json, strlen(json), &c, &err);
	assert_error(r, &err, EINVAL, msg);
	assert_null(c);
}

static void test_defaults(void **state)
{
	struct node_config *c = parse_ok("{}");
	assert_string_equal(c->state_dir, "/run/nodehook");
	assert_string_equal(c->sysroot, "/");
	assert_string_equal(c->annotation_domains[0], "nodehook.io");
	assert_null(c->annotation_domains[1]);
	assert_int_equal(c->cri, CRI_AUTO);
	assert_string_equal(c->runtime, "/usr/bin/runc");
	assert_string_equal(c->hooks_dirs[0], "/usr/share/containers/oci/hooks.d");
	assert_string_equal(c->hooks_dirs[1], "/etc/containers/oci/hooks.d");
	const struct action_policy *p = &c->actions[NH_ACTION_CPU_LOAD_BALANCING];
	assert_true(p->enabled);
	assert_string_equal(p->allowed_namespaces[0], "*");
	assert_int_equal(p->on_error, ON_ERROR_FAIL);
	assert_string_equal(p->backend, "auto");
	node_config_free(c);

	/* A missing default file means defaults; a missing named file is an error. */
	struct nh_error *err = NULL;
	assert_ok(node_config_load_file("/nonexistent/nodehook.json", true, &c, &err), &err);
	assert_string_equal(c->state_dir, "/run/nodehook");
	node_config_free(c);
	int r = node_config_load_file("/nonexistent/nodehook.json", false, &c, &err);
	assert_error(r, &err, ENOENT, "/nonexistent/nodehook.json: No such file or directory");
}

static void test_every_key(void **state)
{
	struct node_config *c =
	    parse_ok("{\"state_dir\":\"/dev/shm/nh\",\"sysroot\":\"/tmp/root\","
		     "\"annotation_domains\":[\"crio.io\",\"nodehook.io\",\"example.com\"],"
		     "\"cri\":\"containerd\",\"hooks_dirs\":[\"/a\",\"/b\",\"/c\"],"
		     "\"runtime\":\"/usr/bin/crun\",\"actions\":{\"cpu-load-balancing\":{"
		     "\"enabled\":false,\"allowed_namespaces\":[\"rt-*\",\"default\"],"
		     "\"on_error\":\"log\",\"backend\":\"cgroup-v1\"}}}");
	assert_string_equal(c->state_dir, "/dev/shm/nh");
	assert_string_equal(c->sysroot, "/tmp/root");
	/* nodehook.io always first, and not twice */
	assert_string_equal(c->annotation_domains[0], "nodehook.io");
	assert_string_equal(c->annotation_domains[1], "crio.io");
	assert_string_equal(c->annotation_domains[2], "example.com");
	assert_null(c->annotation_domains[3]);
	assert_int_equal(c->cri, CRI_CONTAINERD);
	assert_string_equal(c->hooks_dirs[2], "/c");
	assert_string_equal(c->runtime, "/usr/bin/crun");
	const struct action_policy *p = &c->actions[NH_ACTION_CPU_LOAD_BALANCING];
	assert_false(p->enabled);
	assert_string_equal(p->allowed_namespaces[0], "rt-*");
	assert_string_equal(p->allowed_namespaces[1], "default");
	assert_int_equal(p->on_error, ON_ERROR_LOG);
	assert_string_equal(p->backend, "cgroup-v1");
	node_config_free(c);
}

static void test_junk(void **state)
{
	parse_fails("{\"stat_dir\":\"/x\"}", "unknown key 'stat_dir'");
	parse_fails("{\"state_dir\":\"relative\"}",
		    "state_dir: 'relative' is not an absolute path");
	parse_fails("{\"state_dir\":7}", "state_dir: expected a string");
	/* Finding 3: a relative hooks_dirs entry resolved in the wrapper's cwd (the bundle). */
	parse_fails("{\"hooks_dirs\":[\"/etc/containers/oci/hooks.d\",\"rootfs/evilhooks\"]}",
		    "hooks_dirs[1]: 'rootfs/evilhooks' is not an absolute path");
	parse_fails("{\"hooks_dirs\":[\"etc/x\"]}",
		    "hooks_dirs[0]: 'etc/x' is not an absolute path");
	parse_fails("{\"hooks_dirs\":[\"\"]}", "hooks_dirs[0]: '' is not an absolute path");
	parse_fails("{\"state_dir\":\"/a\\u0000b\"}", "state_dir: contains a NUL character");
	parse_fails("{\"cri\":\"docker\"}",
		    "cri: unknown value 'docker' (expected auto, containerd, cri-o, none)");
	parse_fails("{\"annotation_domains\":\"crio.io\"}",
		    "annotation_domains: expected an array of strings");
	parse_fails("{\"annotation_domains\":[\"Crio.IO\"]}",
		    "annotation_domains: 'Crio.IO' is not a domain name");
	parse_fails("{\"annotation_domains\":[\"a/b\"]}",
		    "annotation_domains: 'a/b' is not a domain name");
	parse_fails("{\"actions\":{\"irq\":{}}}", "actions: unknown action 'irq'");
	parse_fails("{\"actions\":{\"cpu-load-balancing\":{\"on_eror\":\"log\"}}}",
		    "unknown key 'actions.cpu-load-balancing.on_eror'");
	parse_fails("{\"actions\":{\"cpu-load-balancing\":{\"enabled\":\"yes\"}}}",
		    "actions.cpu-load-balancing.enabled: expected true or false");
	parse_fails("{\"actions\":{\"cpu-load-balancing\":{\"on_error\":\"ignore\"}}}",
		    "actions.cpu-load-balancing.on_error: unknown value 'ignore' (expected fail, "
		    "log)");
	parse_fails("{\"actions\":{\"cpu-load-balancing\":{\"allowed_namespaces\":[1]}}}",
		    "actions.cpu-load-balancing.allowed_namespaces[0]: expected a string");
	parse_fails("[]", "expected a JSON object");

	struct node_config *c = NULL;
	struct nh_error *err = NULL;
	int r = node_config_parse("cfg.json", "{", 1, &c, &err);
	assert_error_prefix(r, &err, EBADMSG, "invalid JSON");
}

/* Finding 3: a relative path is never glued to the sysroot ("<root>etc/x", a sibling of it). */
static void test_sysroot_never_glues(void **state)
{
	(void)state;
	sysroot_set("/tmp/root");
	_cleanup_free_ char *a = sysroot_path("/etc/x");
	_cleanup_free_ char *b = sysroot_path("etc/x");
	sysroot_set("/");
	_cleanup_free_ char *c = sysroot_path("etc/x");
	sysroot_set(NULL);
	assert_string_equal(a, "/tmp/root/etc/x");
	assert_string_equal(b, "/tmp/root/etc/x");
	assert_string_equal(c, "/etc/x");
}

/* Finding 5: a FIFO as the node config is refused without blocking. */
static void test_load_fifo(void **state)
{
	(void)state;
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *path = tu_path(dir, "node.json");
	assert_int_equal(mkfifo(path, 0600), 0);
	struct node_config *c = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *msg = xasprintf("%s: not a regular file (a FIFO)", path);
	alarm(30);
	assert_error(node_config_load_file(path, true, &c, &err), &err, EINVAL, msg);
	alarm(0);
	assert_null(c);
	tu_rm_rf(dir);
}

static void test_action_names(void **state)
{
	assert_string_equal(nh_action_to_string(NH_ACTION_CPU_LOAD_BALANCING),
			    "cpu-load-balancing");
	assert_int_equal(nh_action_from_string("cpu-load-balancing"), NH_ACTION_CPU_LOAD_BALANCING);
	assert_int_equal(nh_action_from_string("cpu-load-balancing.nodehook.io"),
			 NH_ACTION__INVALID);
	assert_null(nh_action_to_string(NH_ACTION__MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_action_names),
	    cmocka_unit_test(test_sysroot_never_glues),
	    cmocka_unit_test(test_load_fifo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
