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
 * --log file (JSON line with --log-format json, as runc writes them, which containerd reports),
 * and to stderr unless the command is create/run with a --log file (there stderr is the
 * container's). The runtime is not run then, and the exit status is 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "cpulist.h"
#include "fileio.h"
#include "hooks_dir.h"
#include "hooks_inject.h"
#include "hooks_match.h"
#include "json_util.h"
#include "kernel.h"
#include "lifecycle.h"
#include "log.h"
#include "node_config.h"
#include "oci_config.h"
#include "runtime_args.h"
#include "state_store.h"
#include "sysroot.h"
#include "xalloc.h"

/* Appends one line to the caller's --log, in the format it asked for. */
static void log_to_runtime_log(const struct runtime_args *a, const char *msg)
{
	if (!a->log)
		return;
	_cleanup_close_ int fd =
	    open(a->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_free_ char *line = NULL;
	if (a->log_format && strcmp(a->log_format, "json") == 0) {
		_cleanup_json_ json_object *o = json_object_new_object();
		json_object_object_add(o, "level", json_object_new_string("error"));
		_cleanup_free_ char *full = xasprintf("nodehook: %s", msg);
		json_object_object_add(o, "msg", json_object_new_string(full));
		json_object_object_add(o, "time", json_object_new_string(when));
		line = xasprintf("%s\n", json_to_string(o, NULL));
	} else {
		line = xasprintf("time=\"%s\" level=error msg=\"nodehook: %s\"\n", when, msg);
	}
	(void)write_all(fd, line, strlen(line));
}

__attribute__((format(printf, 2, 3))) static int fail(const struct runtime_args *a, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	log_to_runtime_log(a, msg);
	bool container_stdio = a->command == RUNTIME_CMD_CREATE || a->command == RUNTIME_CMD_RUN;
	if (!container_stdio || !a->log)
		fprintf(stderr, "nodehook: %s\n", msg);
	return 1;
}

/* Injects the matching hooks.d hooks into the bundle's config.json. */
static int prepare_create(const struct runtime_args *a, const struct node_config *config)
{
	/* No id, no bundle, no config.json: nothing to inject into, and the runtime refuses the
	 * command anyway; let it say why in its own words (transparency). */
	if (!a->id)
		return 0;
	if (!container_id_valid(a->id))
		return fail(a,
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

	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_oci_config_ struct oci_config *oci = NULL;
	int lr = oci_config_load(config_path, &oci, &err);
	if (lr == -ENOENT || lr == -ENOTDIR)
		return 0;
	if (lr < 0)
		return fail(a, "%s", err->msg);

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
	if (hooks_set_load((const char *const *)dirs, n_dirs, HOOKS_LOAD_STRICT, cache_dir, &set,
			   &err) < 0)
		return fail(a, "%s", err->msg);

	if (hooks_inject_file(oci, set, PRESTART_AS_CREATE_RUNTIME, config_path, &err) < 0)
		return fail(a, "%s", err->msg);
	return 0;
}

static char **runtime_argv(const char *runtime, int argc, char **argv)
{
	char **out = xcalloc((size_t)argc + 1, sizeof(char *));
	out[0] = (char *)runtime;
	for (int i = 1; i < argc; i++)
		out[i] = argv[i];
	return out;
}

static int exec_runtime(const struct runtime_args *a, const char *runtime, int argc, char **argv)
{
	char **args = runtime_argv(runtime, argc, argv);
	log_close();
	execv(runtime, args);
	int e = errno;
	free(args);
	return fail(a, "exec %s: %s", runtime, strerror(e));
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		(void)kill((pid_t)child_pid, sig);
}

/* Runs the runtime as a child with every catchable signal forwarded to it; returns its wait
 * status. */
static int run_runtime_child(const struct runtime_args *a, const char *runtime, int argc,
			     char **argv, int stdin_fd, int *ret_status)
{
	static const int forwarded[] = {SIGHUP,	 SIGINT,  SIGQUIT, SIGTERM,  SIGUSR1,
					SIGUSR2, SIGPIPE, SIGALRM, SIGWINCH, SIGCONT};
	struct sigaction sa = {.sa_handler = forward_signal};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		(void)sigaction(forwarded[i], &sa, NULL);

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return fail(a, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigemptyset(&dfl.sa_mask);
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
			(void)sigaction(forwarded[i], &dfl, NULL);
		/* The runtime must not outlive us: nodehook is what the caller waits for. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (stdin_fd >= 0 && dup2(stdin_fd, STDIN_FILENO) < 0)
			_exit(127);
		execv(runtime, runtime_argv(runtime, argc, argv));
		fprintf(stderr, "nodehook: exec %s: %s\n", runtime, strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail(a, "wait for %s: %s", runtime, strerror(errno));
	}
	child_pid = 0;
	*ret_status = status;
	return 0;
}

/* Mirrors the child's end: its exit code, or death by the same signal. */
static int exit_like(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig;
	}
	return 1;
}

/* The container's record, with the state store locked: 1, 0 when there is none, or the exit
 * code of a failure (already reported), negated. */
static int open_record(const struct runtime_args *a, const struct node_config *config,
		       struct state_store **ret_store, struct container_record *ret_rec)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *boot_id = NULL;
	if (kernel_boot_id(&boot_id, &err) < 0)
		return -fail(a, "%s", err->msg);
	int r = lifecycle_open_record(config, boot_id, a->id, ret_store, ret_rec, &err);
	return r < 0 ? -fail(a, "%s", err->msg) : r;
}

/* After the runtime's delete: undo what the poststop hook did not (it may have; then there is
 * no record and nothing to do). */
static int undo_after_delete(const struct runtime_args *a, const struct node_config *config)
{
	_cleanup_state_store_ struct state_store *store = NULL;
	struct container_record rec = {0};
	int r = open_record(a, config, &store, &rec);
	if (r <= 0)
		return -r;
	_cleanup_error_ struct nh_error *err = NULL;
	r = lifecycle_undo(store, config, &rec, &err);
	container_record_clear(&rec);
	if (r < 0)
		return fail(a, "undo after delete of %s: %s; 'nodehook gc' will retry", a->id,
			    err->msg);
	log_info("undone after delete");
	return 0;
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

/* After a successful update: isolation follows the container's new CPUs. */
static int follow_update(const struct runtime_args *a, const struct node_config *config,
			 const struct cpuset *cpus)
{
	_cleanup_state_store_ struct state_store *store = NULL;
	struct container_record rec = {0};
	int r = open_record(a, config, &store, &rec);
	if (r <= 0)
		return -r;
	_cleanup_error_ struct nh_error *err = NULL;
	r = lifecycle_update_cpus(store, config, &rec, cpus, &err);
	container_record_clear(&rec);
	if (r < 0)
		return fail(a, "update of %s: %s", a->id, err->msg);
	if (r > 0)
		log_info("isolation follows the new CPUs");
	return 0;
}

int cmd_runtime(int argc, char **argv)
{
	struct runtime_args a;
	runtime_args_parse(argc, argv, &a);
	/* Logs go to syslog only: stdout and stderr belong to the caller and the container. */
	log_open("nodehook-runtime", true, false, LOG_LEVEL_INFO);
	log_set_context(a.id, a.command_name);

	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_node_config_ struct node_config *config = NULL;
	if (node_config_load(&config, &err) < 0) {
		/* A broken node config must not keep containers from being stopped, deleted or
		 * probed: only create and run need it, and refuse. The rest goes to the runtime
		 * the config names, if that much can be read, else the default one; undo after
		 * delete is left to `nodehook gc`. */
		if (a.command == RUNTIME_CMD_CREATE || a.command == RUNTIME_CMD_RUN)
			return fail(&a, "node config: %s", err->msg);
		log_warning("node config: %s; passing '%s' through to the runtime without nodehook",
			    err->msg, a.command_name ? a.command_name : "");
		_cleanup_free_ char *fallback = node_config_runtime_fallback();
		return exec_runtime(&a, fallback, argc, argv);
	}
	sysroot_set(config->sysroot);
	const char *runtime = config->runtime;

	switch (a.command) {
	case RUNTIME_CMD_CREATE:
	case RUNTIME_CMD_RUN:
		if (prepare_create(&a, config) != 0)
			return 1;
		return exec_runtime(&a, runtime, argc, argv);
	case RUNTIME_CMD_DELETE: {
		if (!state_record_present(config->state_dir, a.id))
			return exec_runtime(&a, runtime, argc, argv);
		int status = 0;
		if (run_runtime_child(&a, runtime, argc, argv, -1, &status) != 0)
			return 1;
		/* Undo only once the container is really gone: a refused delete (running, no
		 * --force) keeps it, and its record. */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			(void)undo_after_delete(&a, config);
		log_close();
		return exit_like(status);
	}
	case RUNTIME_CMD_UPDATE: {
		if (!state_record_present(config->state_dir, a.id))
			return exec_runtime(&a, runtime, argc, argv);
		_cleanup_cpuset_ struct cpuset cpus = {0};
		_cleanup_close_ int stdin_fd = -1;
		int r = update_new_cpus(&a, &stdin_fd, &cpus, &err);
		if (r < 0)
			return fail(&a, "%s", err->msg);
		if (r == 0 && stdin_fd < 0)
			return exec_runtime(&a, runtime, argc, argv);
		int status = 0;
		if (run_runtime_child(&a, runtime, argc, argv, stdin_fd, &status) != 0)
			return 1;
		bool updated = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (r > 0 && updated && follow_update(&a, config, &cpus) != 0) {
			log_close();
			return 1;
		}
		log_close();
		return exit_like(status);
	}
	case RUNTIME_CMD_OTHER:
	case RUNTIME_CMD_NONE:
	default:
		return exec_runtime(&a, runtime, argc, argv);
	}
}
