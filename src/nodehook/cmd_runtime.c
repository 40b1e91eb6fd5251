/* nodehook-runtime: a transparent runc/crun wrapper (a containerd runtime handler's
 * BinaryName, a CRI-O runtime_path, podman --runtime).
 *
 * argv is passed on unchanged, argv[0] replaced by the node config's "runtime". On create and
 * run it first injects the hooks.d hooks that match into the bundle's config.json (nodehook's
 * own hook files among them, so its actions work under containerd as under CRI-O). After delete
 * of a container that still has a nodehook record (its poststop hook did not run), it undoes
 * the record. Every other command is a single execve.
 *
 * Output: nothing on success. When nodehook itself fails a command, the reason goes to the
 * --log file (JSON line with --log-format json, as runc writes them, which containerd reports;
 * else logrus' text line), and to stderr unless the command is create/run with a --log file
 * (there stderr is the container's). The runtime is not run then, and the exit status is 1;
 * 127 where the runtime, run as a child (delete with a record, update), cannot be executed.
 * An undo that fails after the runtime's delete succeeded is reported the same way, but the
 * exit status stays the runtime's: the container is gone, a retried delete could only fail,
 * and the record stays for `nodehook gc`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "cpuset.h"
#include "fileio.h"
#include "hooks_set.h"
#include "create_env.h"
#include "hooks_inject.h"
#include "hooks_match.h"
#include "json_util.h"
#include "lifecycle.h"
#include "log.h"
#include "node_context.h"
#include "oci_config.h"
#include "oci_state.h"
#include "runtime_args.h"
#include "runtime_exec.h"
#include "state_store.h"
#include "sysroot.h"
#include "xalloc.h"

/* Injects the matching hooks.d hooks into the bundle's config.json, and the environment the
 * container's actions give it (create_env.h). */
static int prepare_create(const struct runtime_args *a, const struct node_config *config,
			  struct nh_error **err)
{
	/* No id, no bundle, no config.json: nothing to inject into, and the runtime refuses the
	 * command anyway; let it say why in its own words (transparency). */
	if (!a->id)
		return 0;
	if (!container_id_valid(a->id))
		return nh_error_set(err, EINVAL,
				    "container id '%.64s' is not valid (runc's alphabet: "
				    "[A-Za-z0-9_+.-])",
				    a->id);
	const char *bundle = a->bundle ? a->bundle : ".";
	_cleanup_free_ char *config_path = NULL;
	if (a->config)
		config_path = a->config[0] == '/' ? xstrdup(a->config)
						  : xasprintf("%s/%s", bundle, a->config);
	else
		config_path = xasprintf("%s/config.json", bundle);

	_cleanup_error_ struct nh_error *load_err = NULL;
	_cleanup_oci_config_ struct oci_config *oci = NULL;
	int r = oci_config_load(config_path, &oci, &load_err);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0) {
		*err = TAKE_PTR(load_err);
		return r;
	}

	size_t n_dirs = 0;
	while (config->hooks_dirs[n_dirs])
		n_dirs++;
	_cleanup_strv_ char **dirs = xcalloc(n_dirs + 1, sizeof(char *));
	for (size_t i = 0; i < n_dirs; i++)
		dirs[i] = sysroot_path(config->hooks_dirs[i]);
	_cleanup_free_ char *cache_dir = xasprintf("%s/cache", config->state_dir);
	/* The cache lives in the state dir: create it (0700) if this is the first use. */
	(void)mkdir(config->state_dir, 0700);
	_cleanup_hooks_set_ struct hooks_set *set = NULL;
	r = hooks_set_load((const char *const *)dirs, n_dirs, HOOKS_LOAD_STRICT, cache_dir, &set,
			   err);
	if (r < 0)
		return r;
	r = hooks_inject_file(oci, set, PRESTART_AS_CREATE_RUNTIME, config_path, err);
	if (r < 0)
		return r;
	r = create_env_inject(config, oci, a->id, bundle, config_path, err);
	return r < 0 ? r : 0;
}

/* The new cpuset an update asks for: --cpuset-cpus, or linux.resources "cpu.cpus" in the
 * --resources JSON (a file, or "-": stdin, which is kept in a memfd for the runtime to read
 * again). Returns 1 with *ret set, 0 when the update does not touch the cpuset. */
static int update_new_cpus(const struct runtime_args *a, int *ret_stdin_fd, struct cpuset *ret,
			   struct nh_error **err)
{
	*ret_stdin_fd = -1;
	if (a->cpuset_cpus) {
		int r = cpuset_parse_list(a->cpuset_cpus, ret, err);
		return r < 0 ? nh_error_wrap(err, "--cpuset-cpus") : 1;
	}
	if (!a->resources)
		return 0;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;
	if (strcmp(a->resources, "-") == 0) {
		r = read_full_fd(STDIN_FILENO, NH_STATE_JSON_MAX, &buf, &len, err);
		if (r < 0)
			return nh_error_wrap(err, "update: reading the resources from stdin");
		_cleanup_close_ int mfd = memfd_create("nodehook-update", MFD_CLOEXEC);
		if (mfd < 0 || write_all(mfd, buf, len) < 0 || lseek(mfd, 0, SEEK_SET) < 0)
			return nh_error_set_errno(err, errno,
						  "update: keeping stdin for the runtime");
		*ret_stdin_fd = TAKE_FD(mfd);
	} else {
		r = read_file_at(AT_FDCWD, a->resources, NH_STATE_JSON_MAX, &buf, &len, err);
		if (r < 0)
			return r;
	}
	_cleanup_json_ json_object *doc = NULL;
	r = json_parse_strict(buf, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r < 0)
		return nh_error_wrap(err, "update: resources");
	json_object *cpu = NULL, *cpus = NULL;
	if (!doc || !json_object_object_get_ex(doc, "cpu", &cpu) || !cpu ||
	    !json_object_object_get_ex(cpu, "cpus", &cpus) || !cpus ||
	    !json_object_is_type(cpus, json_type_string) || !json_object_get_string(cpus)[0])
		return 0;
	r = cpuset_parse_list(json_object_get_string(cpus), ret, err);
	return r < 0 ? nh_error_wrap(err, "update: resources: cpu.cpus") : 1;
}

static struct log_sinks sinks_for(const struct runtime_args *a)
{
	/* stdout and stderr belong to the caller and the container: info and warnings go to
	 * syslog only; errors also to the --log file, and to stderr unless it is the container's
	 * (create or run with a --log file). */
	bool container_stdio = a->command == RUNTIME_CMD_CREATE || a->command == RUNTIME_CMD_RUN;
	return (struct log_sinks){
	    .syslog_ident = "nodehook-runtime",
	    .stderr_format = container_stdio && a->log ? LOG_STDERR_OFF : LOG_STDERR_PLAIN,
	    .stderr_max = LOG_LEVEL_ERROR,
	    .max = LOG_LEVEL_INFO,
	    .runtime_log = a->log,
	    .runtime_log_json = a->log_format && strcmp(a->log_format, "json") == 0,
	};
}

/* delete of a container that has a record: the runtime first, then (once the container is really
 * gone: a refused delete keeps it, and its record) the undo its poststop hook did not do. The
 * exit status is the runtime's. */
static int delete_and_undo(struct node_context *node, const struct runtime_args *a, int argc,
			   char **argv, struct nh_error **err)
{
	int status = 0;
	int r = runtime_run_child(node->config->runtime, argc, argv, -1, &status, err);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		_cleanup_error_ struct nh_error *stop_err = NULL;
		r = lifecycle_stop(node, a->id, &stop_err);
		if (r < 0) /* reported, but the exit status stays the runtime's */
			log_error("undo after delete of %s: %s", a->id, stop_err->msg);
		else if (r > 0)
			log_info("undone after delete");
	}
	log_close();
	return runtime_exit_like(status);
}

/* update of a container that has a record: the runtime first; then, if it changed the cpuset,
 * isolation follows the new CPUs. */
static int update_and_follow(struct node_context *node, const struct runtime_args *a, int argc,
			     char **argv, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset cpus = {0};
	_cleanup_close_ int stdin_fd = -1;
	int moved = update_new_cpus(a, &stdin_fd, &cpus, err);
	if (moved < 0)
		return moved;
	if (moved == 0 && stdin_fd < 0)
		return runtime_exec(node->config->runtime, argc, argv, err);
	int status = 0;
	int r = runtime_run_child(node->config->runtime, argc, argv, stdin_fd, &status, err);
	if (r < 0)
		return r;
	if (moved > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r = lifecycle_update(node, a->id, &cpus, err);
		if (r < 0)
			return nh_error_wrap(err, "update of %s", a->id);
		if (r > 0)
			log_info("isolation follows the new CPUs");
	}
	log_close();
	return runtime_exit_like(status);
}

int cmd_runtime(int argc, char **argv, struct nh_error **err)
{
	struct runtime_args a;
	runtime_args_parse(argc, argv, &a);
	struct log_sinks sinks = sinks_for(&a);
	log_open(&sinks);
	log_set_context(a.id, a.command_name);

	_cleanup_node_context_ struct node_context *node = NULL;
	_cleanup_error_ struct nh_error *config_err = NULL;
	if (node_context_open(&node, &config_err) < 0) {
		/* A broken node config must not keep containers from being stopped, deleted or
		 * probed: only create and run need it, and refuse. The rest goes to the runtime
		 * the config names, if that much can be read, else the default one; undo after
		 * delete is left to `nodehook gc`. */
		if (a.command == RUNTIME_CMD_CREATE || a.command == RUNTIME_CMD_RUN) {
			*err = TAKE_PTR(config_err);
			return -(*err)->errnum;
		}
		log_warning("%s; passing '%s' through to the runtime without nodehook",
			    config_err->msg, a.command_name ? a.command_name : "");
		_cleanup_free_ char *fallback = node_config_runtime_fallback();
		return runtime_exec(fallback, argc, argv, err);
	}
	const struct node_config *config = node->config;

	switch (a.command) {
	case RUNTIME_CMD_CREATE:
	case RUNTIME_CMD_RUN: {
		int r = prepare_create(&a, config, err);
		if (r < 0)
			return r;
		return runtime_exec(config->runtime, argc, argv, err);
	}
	case RUNTIME_CMD_DELETE:
		if (!state_record_present(config->state_dir, a.id))
			return runtime_exec(config->runtime, argc, argv, err);
		return delete_and_undo(node, &a, argc, argv, err);
	case RUNTIME_CMD_UPDATE:
		if (!state_record_present(config->state_dir, a.id))
			return runtime_exec(config->runtime, argc, argv, err);
		return update_and_follow(node, &a, argc, argv, err);
	case RUNTIME_CMD_OTHER:
	case RUNTIME_CMD_NONE:
	default:
		return runtime_exec(config->runtime, argc, argv, err);
	}
}
