/* Reading runc/crun command lines as containerd, CRI-O and Podman write them. */
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

#include "runtime_args.h"

#define MAX_ARGS 32

struct expect {
	enum runtime_command command;
	const char *id, *root, *log, *log_format, *bundle, *config, *resources, *cpuset_cpus;
	bool force;
};

static void check_line(const char *line, const struct expect *want)
{
	char *copy = strdup(line);
	char *argv[MAX_ARGS] = {(char *)"nodehook-runtime"};
	int argc = 1;
	for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && argc < MAX_ARGS - 1;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	struct runtime_args a;
	runtime_args_parse(argc, argv, &a);
	if (a.command != want->command)
		fail_msg("'%s': command %d, want %d", line, a.command, want->command);
#define CHECK(field)                                                                               \
	if ((a.field == NULL) != (want->field == NULL) ||                                          \
	    (a.field && strcmp(a.field, want->field) != 0))                                        \
		fail_msg("'%s': " #field " '%s', want '%s'", line, a.field ? a.field : "(null)",   \
			 want->field ? want->field : "(null)");
	CHECK(id);
	CHECK(root);
	CHECK(log);
	CHECK(log_format);
	CHECK(bundle);
	CHECK(config);
	CHECK(resources);
	CHECK(cpuset_cpus);
#undef CHECK
	if (a.force != want->force)
		fail_msg("'%s': force %d", line, a.force);
	free(copy);
}

static void test_callers(void **state)
{
	/* containerd's shim */
	check_line("--root /run/containerd/runc/k8s.io --log /b/log.json --log-format json create "
		   "--bundle /b --pid-file /b/init.pid c1",
		   &(struct expect){.command = RUNTIME_CMD_CREATE,
				    .id = "c1",
				    .root = "/run/containerd/runc/k8s.io",
				    .log = "/b/log.json",
				    .log_format = "json",
				    .bundle = "/b"});
	check_line(
	    "--root /r --log /b/log.json --log-format json --systemd-cgroup delete --force c1",
	    &(struct expect){.command = RUNTIME_CMD_DELETE,
			     .id = "c1",
			     .root = "/r",
			     .log = "/b/log.json",
			     .log_format = "json",
			     .force = true});
	/* CRI-O through conmon: --root=, booleans, console socket */
	check_line(
	    "--systemd-cgroup --root=/run/runc create --bundle /u --pid-file /u/pidfile "
	    "--no-pivot --no-new-keyring --console-socket /s.sock c2",
	    &(struct expect){
		.command = RUNTIME_CMD_CREATE, .id = "c2", .root = "/run/runc", .bundle = "/u"});
	check_line(
	    "--root /run/runc update --resources - c2",
	    &(struct expect){
		.command = RUNTIME_CMD_UPDATE, .id = "c2", .root = "/run/runc", .resources = "-"});
	/* Podman: no globals */
	check_line("create --bundle /x/userdata --pid-file /x/pidfile 0123abcd",
		   &(struct expect){
		       .command = RUNTIME_CMD_CREATE, .id = "0123abcd", .bundle = "/x/userdata"});
	check_line(
	    "delete --force 0123abcd",
	    &(struct expect){.command = RUNTIME_CMD_DELETE, .id = "0123abcd", .force = true});
	check_line("exec --pid-file /p --process /f --detach c3",
		   &(struct expect){.command = RUNTIME_CMD_OTHER, .id = "c3"});
	check_line("kill --all c3 9", &(struct expect){.command = RUNTIME_CMD_OTHER, .id = "c3"});
}

static void test_syntaxes(void **state)
{
	/* Go flag forms, single-dash long names, options after the id (runc reorders) */
	check_line("-root /r create -b /b c1",
		   &(struct expect){
		       .command = RUNTIME_CMD_CREATE, .id = "c1", .root = "/r", .bundle = "/b"});
	check_line(
	    "--root=/r run -d --bundle=/b c1",
	    &(struct expect){.command = RUNTIME_CMD_RUN, .id = "c1", .root = "/r", .bundle = "/b"});
	check_line("create c1 --bundle /b",
		   &(struct expect){.command = RUNTIME_CMD_CREATE, .id = "c1", .bundle = "/b"});
	check_line("create -b=/b -- c1",
		   &(struct expect){.command = RUNTIME_CMD_CREATE, .id = "c1", .bundle = "/b"});
	/* crun: --cgroup-manager takes a value; -f is the config file for create, force for
	 * delete */
	check_line(
	    "--cgroup-manager disabled --debug --log-level debug create -f my.json "
	    "--bundle /b c1",
	    &(struct expect){
		.command = RUNTIME_CMD_CREATE, .id = "c1", .bundle = "/b", .config = "my.json"});
	check_line(
	    "--cgroup-manager=systemd create --config=/etc/c.json c1",
	    &(struct expect){.command = RUNTIME_CMD_CREATE, .id = "c1", .config = "/etc/c.json"});
	check_line("delete -f c1",
		   &(struct expect){.command = RUNTIME_CMD_DELETE, .id = "c1", .force = true});
	check_line("delete c1", &(struct expect){.command = RUNTIME_CMD_DELETE, .id = "c1"});
	check_line(
	    "update --cpuset-cpus 2-3 --memory 100 c1",
	    &(struct expect){.command = RUNTIME_CMD_UPDATE, .id = "c1", .cpuset_cpus = "2-3"});
	check_line("update -r /tmp/res.json c1", &(struct expect){.command = RUNTIME_CMD_UPDATE,
								  .id = "c1",
								  .resources = "/tmp/res.json"});
	/* an unknown global with an inline value is skipped */
	check_line("--rootless=auto --future-flag=1 --systemd-cgroup state c1",
		   &(struct expect){.command = RUNTIME_CMD_OTHER, .id = "c1"});
}

static void test_no_command(void **state)
{
	check_line("", &(struct expect){.command = RUNTIME_CMD_NONE});
	check_line("--version", &(struct expect){.command = RUNTIME_CMD_NONE});
	check_line("--root", &(struct expect){.command = RUNTIME_CMD_NONE});
	check_line("--root /r", &(struct expect){.command = RUNTIME_CMD_NONE, .root = "/r"});
	check_line("features", &(struct expect){.command = RUNTIME_CMD_OTHER});
	check_line("create --bundle", &(struct expect){.command = RUNTIME_CMD_CREATE});
	check_line("list --format json", &(struct expect){.command = RUNTIME_CMD_OTHER});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_callers),
	    cmocka_unit_test(test_syntaxes),
	    cmocka_unit_test(test_no_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
