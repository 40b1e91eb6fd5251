#include "irqbalance.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "json_util.h"
#include "kernel.h"
#include "strbuf.h"
#include "sysroot.h"
#include "xalloc.h"

#define CONFIG_MAX (1u << 20)

char *irqbalance_config_path(const struct node_config *config)
{
	if (config->irqbalance_config)
		return config->irqbalance_config[0] ? xstrdup(config->irqbalance_config) : NULL;
	static const char *const defaults[] = NODE_CONFIG_IRQBALANCE_DEFAULTS;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		_cleanup_free_ char *p = sysroot_path(defaults[i]);
		if (access(p, F_OK) == 0)
			return xstrdup(defaults[i]);
	}
	return NULL;
}

/* Whether a line assigns one of the two variables: optional blanks, optional "export ", the
 * name, '='. Commented-out lines do not. */
static bool is_banned_assignment(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i > 7 && strncmp(line + i, "export", 6) == 0 &&
	    (line[i + 6] == ' ' || line[i + 6] == '\t')) {
		i += 7;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
	}
	static const char *const names[] = {"IRQBALANCE_BANNED_CPUS=",
					    "IRQBALANCE_BANNED_CPULIST="};
	for (size_t k = 0; k < 2; k++) {
		size_t n = strlen(names[k]);
		if (len - i >= n && strncmp(line + i, names[k], n) == 0)
			return true;
	}
	return false;
}

char *irqbalance_config_render(const char *text, size_t len, const char *cpulist, size_t *ret_len)
{
	struct strbuf out = {0};
	strbuf_putn(&out, "", 0);
	_cleanup_free_ char *ours =
	    cpulist ? xasprintf("IRQBALANCE_BANNED_CPULIST=%s\n", cpulist) : NULL;
	bool placed = false;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t line_len = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
		size_t content_len = nl ? line_len - 1 : line_len;
		if (is_banned_assignment(text + i, content_len)) {
			if (ours && !placed)
				strbuf_putn(&out, ours, strlen(ours));
			placed = true;
		} else {
			strbuf_putn(&out, text + i, line_len);
		}
		i += line_len;
	}
	if (ours && !placed) {
		if (out.len > 0 && out.s[out.len - 1] != '\n')
			strbuf_putn(&out, "\n", 1);
		strbuf_putn(&out, ours, strlen(ours));
	}
	*ret_len = out.len;
	return out.s;
}

/* --- the kept copy ---------------------------------------------------------------------------- */

static char *hex_encode(const char *s, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = xmalloc(2 * len + 1);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[(unsigned char)s[i] >> 4];
		out[2 * i + 1] = digits[(unsigned char)s[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex_decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s);
	if (n % 2)
		return -EBADMSG;
	_cleanup_free_ char *out = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	*ret_len = n / 2;
	*ret = TAKE_PTR(out);
	return 0;
}

struct backup {
	char *boot_id;
	char *path; /* node path of the config file */
	char *original;
	size_t original_len;
};

static void backup_clear(struct backup *b)
{
	free(b->boot_id);
	free(b->path);
	free(b->original);
	*b = (struct backup){0};
}

static char *backup_file(const struct node_config *config)
{
	return xasprintf("%s/%s", config->persistent_dir, IRQBALANCE_BACKUP);
}

/* 1 and the copy, 0 when there is none. */
static int backup_read(const struct node_config *config, struct backup *ret, struct nh_error **err)
{
	_cleanup_free_ char *file = backup_file(config);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ struct nh_error *read_err = NULL;
	int r = read_file_at(AT_FDCWD, file, (size_t)CONFIG_MAX * 3, &buf, &len, &read_err);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		*err = TAKE_PTR(read_err);
		return r;
	}
	_cleanup_json_ json_object *doc = NULL;
	r = json_parse_strict(buf, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", file);
	json_object *boot = NULL, *path = NULL, *orig = NULL;
	if (!doc || !json_object_object_get_ex(doc, "boot_id", &boot) ||
	    !json_object_object_get_ex(doc, "path", &path) ||
	    !json_object_object_get_ex(doc, "original", &orig) ||
	    !json_object_is_type(boot, json_type_string) ||
	    !json_object_is_type(path, json_type_string) ||
	    !json_object_is_type(orig, json_type_string) || json_object_get_string(path)[0] != '/')
		return nh_error_set(err, EBADMSG, "%s: malformed", file);
	_cleanup_(backup_clear) struct backup b = {0};
	if (hex_decode(json_object_get_string(orig), &b.original, &b.original_len) < 0)
		return nh_error_set(err, EBADMSG, "%s: original: not hex", file);
	b.boot_id = xstrdup(json_object_get_string(boot));
	b.path = xstrdup(json_object_get_string(path));
	*ret = b;
	// NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by the _cleanup_ handler at scope exit: the clear hands ownership to *ret
	b = (struct backup){0};
	return 1;
}

static int backup_write(const struct node_config *config, const struct backup *b,
			struct nh_error **err)
{
	if (mkdir(config->persistent_dir, 0700) < 0 && errno != EEXIST)
		return nh_error_set_errno(err, errno, "mkdir %s", config->persistent_dir);
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object_object_add(doc, "boot_id", json_object_new_string(b->boot_id));
	json_object_object_add(doc, "path", json_object_new_string(b->path));
	_cleanup_free_ char *hex = hex_encode(b->original, b->original_len);
	json_object_object_add(doc, "original", json_object_new_string(hex));
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *file = backup_file(config);
	return write_file_atomic(file, text, strlen(text), 0600, err);
}

static int backup_remove(const struct node_config *config, struct nh_error **err)
{
	_cleanup_free_ char *file = backup_file(config);
	if (unlink(file) < 0 && errno != ENOENT)
		return nh_error_set_errno(err, errno, "remove %s", file);
	return 0;
}

/* Reads the config file: 1 and its content, 0 when it does not exist. */
static int config_read(const char *node_path, char **ret, size_t *ret_len, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(node_path);
	_cleanup_error_ struct nh_error *read_err = NULL;
	int r = read_file_at(AT_FDCWD, path, CONFIG_MAX, ret, ret_len, &read_err);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		*err = TAKE_PTR(read_err);
		return r;
	}
	return 1;
}

static int config_write(const char *node_path, const char *text, size_t len, struct nh_error **err)
{
	_cleanup_free_ char *path = sysroot_path(node_path);
	return write_file_atomic(path, text, len, 0644, err);
}

static size_t trim_newlines(const char *s, size_t len)
{
	while (len > 0 && s[len - 1] == '\n')
		len--;
	return len;
}

/* Puts the original content back, then drops the copy. If the file changed beyond our line
 * meanwhile (an administrator's edit), that edit stays: only our line goes and the original
 * assignments of the two variables come back. */
static int backup_restore(const struct node_config *config, const struct backup *b,
			  struct nh_error **err)
{
	_cleanup_free_ char *cur = NULL;
	size_t cur_len = 0;
	int r = config_read(b->path, &cur, &cur_len, err);
	if (r < 0)
		return r;
	if (r > 0) {
		size_t a_len = 0, o_len = 0;
		_cleanup_free_ char *a = irqbalance_config_render(cur, cur_len, NULL, &a_len);
		_cleanup_free_ char *o =
		    irqbalance_config_render(b->original, b->original_len, NULL, &o_len);
		a_len = trim_newlines(a, a_len);
		o_len = trim_newlines(o, o_len);
		struct strbuf out = {0};
		if (a_len == o_len && memcmp(a, o, a_len) == 0) {
			strbuf_putn(&out, b->original, b->original_len);
		} else {
			size_t n = 0;
			_cleanup_free_ char *stripped =
			    irqbalance_config_render(cur, cur_len, NULL, &n);
			strbuf_putn(&out, stripped, n);
			const char *t = b->original;
			for (size_t i = 0; i < b->original_len;) {
				const char *nl = memchr(t + i, '\n', b->original_len - i);
				size_t line = nl ? (size_t)(nl - (t + i)) + 1 : b->original_len - i;
				if (is_banned_assignment(t + i, nl ? line - 1 : line)) {
					if (out.len > 0 && out.s[out.len - 1] != '\n')
						strbuf_putn(&out, "\n", 1);
					strbuf_putn(&out, t + i, line);
				}
				i += line;
			}
		}
		bool same = out.len == cur_len && memcmp(out.s, cur, cur_len) == 0;
		r = same ? 0 : config_write(b->path, out.s, out.len, err);
		free(out.s);
		if (r < 0)
			return r;
	}
	return backup_remove(config, err);
}

/* --- the daemon ------------------------------------------------------------------------------ */

/* Sends one command with our credentials (irqbalance serves only root). 0 or -errno. */
static int socket_send(const struct sockaddr_un *addr, socklen_t addr_len, const char *cmd)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {.tv_sec = 1};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)addr, addr_len) < 0)
		return -errno;
	struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control = {0};
	struct iovec iov = {.iov_base = (void *)cmd, .iov_len = strlen(cmd)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
	memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
	ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == iov.iov_len ? 0 : -EIO;
}

/* The daemon's socket, as its versions name it: a file under /run/irqbalance, the abstract
 * "irqbalance<pid>.sock", and, in 1.9.x builds such as Debian 12's 1.9.2, an abstract name of
 * NUL bytes only, the full length of sun_path (the name is never copied in; irqbalance-ui
 * connects to the same). Returns 0 when one took the command. */
static int daemon_tell(pid_t pid, const char *cmd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	socklen_t base = (socklen_t)offsetof(struct sockaddr_un, sun_path);
	int r;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/run/irqbalance/irqbalance%d.sock",
		 (int)pid);
	r = socket_send(&addr, (socklen_t)(base + strlen(addr.sun_path) + 1), cmd);
	if (r == 0)
		return 0;

	memset(addr.sun_path, 0, sizeof(addr.sun_path));
	int n =
	    snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "irqbalance%d.sock", (int)pid);
	r = socket_send(&addr, (socklen_t)(base + 1 + (socklen_t)n), cmd);
	if (r == 0)
		return 0;

	memset(addr.sun_path, 0, sizeof(addr.sun_path));
	return socket_send(&addr, (socklen_t)sizeof(addr), cmd);
}

static bool systemd_runs(void)
{
	_cleanup_free_ char *p = sysroot_path("/run/systemd/system");
	return access(p, F_OK) == 0;
}

static char *store_file(struct state_store *store, const char *name)
{
	return xasprintf("%s/%s", store->path, name);
}

static int run_systemctl_restart(char **ret_how)
{
	const char *argv[] = {"systemctl", "restart", "irqbalance", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid = 0;
	int r = posix_spawnp(&pid, "systemctl", &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		*ret_how = xasprintf("systemctl restart irqbalance: %s", strerror(r));
		return 0;
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*ret_how = WIFEXITED(status) && WEXITSTATUS(status) == 0
		       ? xstrdup("restarted (systemctl restart irqbalance)")
		       : xstrdup("systemctl restart irqbalance failed");
	return 0;
}

/* A restart, at most one per IRQBALANCE_RESTART_INTERVAL seconds: the time of the last one is
 * the mtime of a stamp in the state dir; one asked for sooner leaves a pending mark. */
static int restart_coalesced(struct state_store *store, char **ret_how)
{
	_cleanup_free_ char *stamp = store_file(store, "irqbalance-restart");
	_cleanup_free_ char *pending = store_file(store, "irqbalance-restart.pending");
	struct stat st;
	time_t now = time(NULL);
	if (stat(stamp, &st) == 0 && now - st.st_mtime < IRQBALANCE_RESTART_INTERVAL &&
	    now >= st.st_mtime) {
		_cleanup_close_ int fd =
		    open(pending, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			*ret_how =
			    xasprintf("restart needed, and deferred; cannot mark it pending: %s",
				      strerror(errno));
			return 0;
		}
		*ret_how = xasprintf("restart deferred (one ran less than %d s ago): the next "
				     "nodehook run or 'nodehook gc' does it",
				     IRQBALANCE_RESTART_INTERVAL);
		return 0;
	}
	_cleanup_close_ int fd =
	    open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		(void)futimens(fd, NULL);
	(void)unlink(pending);
	return run_systemctl_restart(ret_how);
}

static void tell_daemon(struct state_store *store, const struct cpuset *banned, char **ret_how)
{
	pid_t pid = 0;
	_cleanup_error_ struct nh_error *e = NULL;
	int r = kernel_find_process("irqbalance", &pid, &e);
	if (r < 0) {
		*ret_how = xasprintf("cannot look for a running irqbalance: %s", e->msg);
		return;
	}
	if (r == 0) {
		*ret_how = xstrdup("not running");
		return;
	}
	_cleanup_free_ char *list = cpuset_format_list(banned);
	_cleanup_free_ char *cmd = xasprintf("settings cpus %s", list[0] ? list : "NULL");
	r = daemon_tell(pid, cmd);
	if (r == 0) {
		*ret_how = xasprintf("told through its socket (pid %d): %s", (int)pid, cmd);
		return;
	}
	if (systemd_runs()) {
		(void)restart_coalesced(store, ret_how);
		return;
	}
	*ret_how = xasprintf("irqbalance (pid %d) has no socket that took the change (%s) and no "
			     "systemd runs it: it must be restarted to read its config",
			     (int)pid, strerror(-r));
}

int irqbalance_boot_check(const struct node_config *config, struct state_store *store,
			  struct nh_error **err)
{
	_cleanup_free_ char *pending =
	    store ? store_file(store, "irqbalance-restart.pending") : NULL;
	if (pending && access(pending, F_OK) == 0 && systemd_runs()) {
		_cleanup_free_ char *how = NULL;
		(void)restart_coalesced(store, &how);
	}
	_cleanup_(backup_clear) struct backup b = {0};
	int r = backup_read(config, &b, err);
	if (r <= 0)
		return r;
	_cleanup_free_ char *boot_id = NULL;
	r = kernel_boot_id(&boot_id, err);
	if (r < 0)
		return r;
	if (strcmp(b.boot_id, boot_id) == 0)
		return 0;
	r = backup_restore(config, &b, err);
	return r < 0 ? nh_error_wrap(err, "put back %s after a reboot", b.path) : 1;
}

int irqbalance_sync(const struct node_config *config, struct state_store *store,
		    const struct cpuset *banned, char **ret_report, struct nh_error **err)
{
	int r = irqbalance_boot_check(config, store, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = irqbalance_config_path(config);
	_cleanup_free_ char *file_how = NULL;
	_cleanup_(backup_clear) struct backup b = {0};
	r = backup_read(config, &b, err);
	if (r < 0)
		return r;
	bool have_backup = r > 0;
	if (have_backup && (!path || strcmp(path, b.path) != 0)) {
		/* The node config names another file now: the old one gets its content back. */
		r = backup_restore(config, &b, err);
		if (r < 0)
			return r;
		have_backup = false;
	}
	_cleanup_free_ char *list = cpuset_format_list(banned);
	if (!path) {
		file_how = xstrdup("no irqbalance config file");
	} else if (cpuset_is_empty(banned)) {
		if (have_backup) {
			r = backup_restore(config, &b, err);
			if (r < 0)
				return nh_error_wrap(err, "put back %s", path);
		}
		file_how = xasprintf("%s as it was", path);
	} else {
		_cleanup_free_ char *cur = NULL;
		size_t cur_len = 0;
		r = config_read(path, &cur, &cur_len, err);
		if (r < 0)
			return r;
		if (r == 0) {
			file_how = xasprintf("%s does not exist", path);
		} else {
			if (!have_backup) {
				/* Write-ahead: the original is safe before the file changes. */
				b.boot_id = xstrdup(store->boot_id);
				b.path = xstrdup(path);
				b.original = xmalloc(cur_len + 1);
				memcpy(b.original, cur, cur_len + 1);
				b.original_len = cur_len;
				r = backup_write(config, &b, err);
				if (r < 0)
					return nh_error_wrap(err, "keep the original of %s", path);
			}
			size_t new_len = 0;
			_cleanup_free_ char *text =
			    irqbalance_config_render(cur, cur_len, list, &new_len);
			if (new_len != cur_len || memcmp(text, cur, cur_len) != 0) {
				r = config_write(path, text, new_len, err);
				if (r < 0)
					return r;
			}
			file_how = xasprintf("%s: IRQBALANCE_BANNED_CPULIST=%s", path, list);
		}
	}
	_cleanup_free_ char *daemon_how = NULL;
	tell_daemon(store, banned, &daemon_how);
	if (ret_report)
		*ret_report = xasprintf("%s; daemon: %s", file_how, daemon_how);
	return 0;
}
