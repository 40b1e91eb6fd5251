#include "node_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"
#include "paths.h"
#include "strv.h"
#include "json_util.h"
#include "xalloc.h"

#define NODE_CONFIG_MAX (1u << 20)

static const char *const on_error_names[ON_ERROR__MAX] = {
    [ON_ERROR_FAIL] = "fail",
    [ON_ERROR_LOG] = "log",
};

static const char *const cri_names[CRI__MAX] = {
    [CRI_AUTO] = "auto",
    [CRI_CONTAINERD] = "containerd",
    [CRI_CRIO] = "cri-o",
    [CRI_NONE] = "none",
};

static int from_table(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		// NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): get_enum passes the string get_string set on success
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

static char **strv_new(const char *const *items, size_t n)
{
	char **v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		v[i] = xstrdup(items[i]);
	return v;
}

static struct node_config *defaults(void)
{
	struct node_config *c = xcalloc(1, sizeof(*c));
	c->state_dir = xstrdup(NODE_CONFIG_DEFAULT_STATE_DIR);
	c->sysroot = xstrdup("/");
	c->annotation_domains = strv_new((const char *const[]){"nodehook.io"}, 1);
	c->cri = CRI_AUTO;
	c->hooks_dirs = strv_new((const char *const[]){HOOKS_DIR_SYSTEM, HOOKS_DIR_ADMIN}, 2);
	c->runtime = xstrdup(NODE_CONFIG_DEFAULT_RUNTIME);
	c->persistent_dir = xstrdup(NODE_CONFIG_DEFAULT_PERSISTENT_DIR);
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		c->actions[a].enabled = true;
		c->actions[a].allowed_namespaces = strv_new((const char *const[]){"*"}, 1);
		c->actions[a].on_error = ON_ERROR_FAIL;
		c->actions[a].backend = xstrdup("auto");
	}
	return c;
}

static int get_string(json_object *v, const char *field, char **dst, struct nh_error **err)
{
	const char *s = NULL;
	int r = json_string_value(v, &s);
	if (r == 0)
		return nh_error_set(err, EINVAL, "%s: expected a string", field);
	if (r < 0)
		return nh_error_set(err, EINVAL, "%s: contains a NUL character", field);
	free(*dst);
	*dst = xstrdup(s);
	return 0;
}

static int get_abs_path(json_object *v, const char *field, char **dst, struct nh_error **err)
{
	int r = get_string(v, field, dst, err);
	if (r < 0)
		return r;
	if ((*dst)[0] != '/')
		return nh_error_set(err, EINVAL, "%s: '%s' is not an absolute path", field, *dst);
	return 0;
}

static int get_strv(json_object *v, const char *field, char ***dst, struct nh_error **err)
{
	if (!v || !json_object_is_type(v, json_type_array))
		return nh_error_set(err, EINVAL, "%s: expected an array of strings", field);
	size_t n = json_object_array_length(v);
	_cleanup_strv_ char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *name = xasprintf("%s[%zu]", field, i);
		int r = get_string(json_object_array_get_idx(v, i), name, &out[i], err);
		if (r < 0)
			return r;
	}
	strv_free(*dst);
	*dst = TAKE_PTR(out);
	return 0;
}

/* An array of absolute paths: a relative entry would resolve against the working directory (the
 * wrapper's is the bundle, whose rootfs is the image) or be glued to the sysroot. */
static int get_abs_strv(json_object *v, const char *field, char ***dst, struct nh_error **err)
{
	_cleanup_strv_ char **out = NULL;
	int r = get_strv(v, field, &out, err);
	if (r < 0)
		return r;
	// NOLINTNEXTLINE(clang-analyzer-core.NullDereference): get_strv sets out on every return >= 0
	for (size_t i = 0; out[i]; i++)
		if (out[i][0] != '/')
			return nh_error_set(err, EINVAL, "%s[%zu]: '%s' is not an absolute path",
					    field, i, out[i]);
	strv_free(*dst);
	*dst = TAKE_PTR(out);
	return 0;
}

static int get_enum(json_object *v, const char *field, const char *const *names, int n, int *dst,
		    struct nh_error **err)
{
	_cleanup_free_ char *s = NULL;
	int r = get_string(v, field, &s, err);
	if (r < 0)
		return r;
	int value = from_table(names, n, s);
	if (value < 0) {
		_cleanup_free_ char *allowed = strv_join(names, (size_t)n, ", ");
		return nh_error_set(err, EINVAL, "%s: unknown value '%s' (expected %s)", field, s,
				    allowed);
	}
	*dst = value;
	return 0;
}

/* A domain is a DNS-like suffix: lowercase letters, digits, '-' and '.', no leading dot. */
static bool valid_domain(const char *d)
{
	if (!d[0] || d[0] == '.' || strlen(d) > 253)
		return false;
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

static int parse_action(json_object *obj, const char *field, struct action_policy *p,
			struct nh_error **err)
{
	if (!json_object_is_type(obj, json_type_object))
		return nh_error_set(err, EINVAL, "%s: expected an object", field);
	json_object_object_foreach (obj, key, v) {
		_cleanup_free_ char *name = xasprintf("%s.%s", field, key);
		int r;
		if (strcmp(key, "enabled") == 0) {
			if (!v || !json_object_is_type(v, json_type_boolean))
				return nh_error_set(err, EINVAL, "%s: expected true or false",
						    name);
			p->enabled = json_object_get_boolean(v);
			r = 0;
		} else if (strcmp(key, "allowed_namespaces") == 0) {
			r = get_strv(v, name, &p->allowed_namespaces, err);
		} else if (strcmp(key, "on_error") == 0) {
			int value = 0;
			r = get_enum(v, name, on_error_names, ON_ERROR__MAX, &value, err);
			p->on_error = (enum on_error)value;
		} else if (strcmp(key, "backend") == 0) {
			r = get_string(v, name, &p->backend, err);
		} else {
			r = nh_error_set(err, EINVAL, "unknown key '%s'", name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_actions(json_object *obj, struct node_config *c, struct nh_error **err)
{
	if (!obj || !json_object_is_type(obj, json_type_object))
		return nh_error_set(err, EINVAL, "actions: expected an object");
	json_object_object_foreach (obj, key, v) {
		enum nh_action a = nh_action_from_string(key);
		if (a < 0)
			return nh_error_set(err, EINVAL, "actions: unknown action '%s'", key);
		_cleanup_free_ char *field = xasprintf("actions.%s", key);
		int r = parse_action(v, field, &c->actions[a], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_domains(json_object *v, struct node_config *c, struct nh_error **err)
{
	_cleanup_strv_ char **extra = NULL;
	int r = get_strv(v, "annotation_domains", &extra, err);
	if (r < 0)
		return r;
	size_t n = 0;
	// NOLINTNEXTLINE(clang-analyzer-core.NullDereference): get_strv sets extra on every return >= 0
	while (extra[n])
		n++;
	char **all = xcalloc(n + 2, sizeof(char *));
	all[0] = xstrdup("nodehook.io");
	size_t k = 1;
	for (size_t i = 0; i < n; i++) {
		if (!valid_domain(extra[i])) {
			strv_free(all);
			return nh_error_set(
			    err, EINVAL, "annotation_domains: '%s' is not a domain name", extra[i]);
		}
		if (strcmp(extra[i], "nodehook.io") != 0)
			all[k++] = xstrdup(extra[i]);
	}
	strv_free(c->annotation_domains);
	c->annotation_domains = all;
	return 0;
}

int node_config_parse(const char *path, const char *content, size_t len, struct node_config **ret,
		      struct nh_error **err)
{
	_cleanup_node_config_ struct node_config *c = defaults();
	c->path = path ? xstrdup(path) : NULL;
	_cleanup_json_ json_object *doc = NULL;
	int r = json_parse_strict(content, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r < 0)
		return r;
	if (!doc || !json_object_is_type(doc, json_type_object))
		return nh_error_set(err, EINVAL, "expected a JSON object");
	json_object_object_foreach (doc, key, v) {
		if (strcmp(key, "state_dir") == 0) {
			r = get_abs_path(v, key, &c->state_dir, err);
		} else if (strcmp(key, "sysroot") == 0) {
			r = get_abs_path(v, key, &c->sysroot, err);
		} else if (strcmp(key, "annotation_domains") == 0) {
			r = parse_domains(v, c, err);
		} else if (strcmp(key, "cri") == 0) {
			int value = 0;
			r = get_enum(v, key, cri_names, CRI__MAX, &value, err);
			c->cri = (enum cri_kind)value;
		} else if (strcmp(key, "hooks_dirs") == 0) {
			r = get_abs_strv(v, key, &c->hooks_dirs, err);
		} else if (strcmp(key, "runtime") == 0) {
			r = get_abs_path(v, key, &c->runtime, err);
		} else if (strcmp(key, "irqbalance_config") == 0) {
			r = get_string(v, key, &c->irqbalance_config, err);
			if (r == 0 && c->irqbalance_config[0] && c->irqbalance_config[0] != '/')
				r = nh_error_set(err, EINVAL,
						 "%s: '%s' is not an absolute path (or \"\": none)",
						 key, c->irqbalance_config);
		} else if (strcmp(key, "persistent_dir") == 0) {
			r = get_abs_path(v, key, &c->persistent_dir, err);
		} else if (strcmp(key, "actions") == 0) {
			r = parse_actions(v, c, err);
		} else {
			r = nh_error_set(err, EINVAL, "unknown key '%s'", key);
		}
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int node_config_load_file(const char *path, bool missing_ok, struct node_config **ret,
			  struct nh_error **err)
{
	if (!path) {
		*ret = defaults();
		return 0;
	}
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok) {
			*ret = defaults();
			return 0;
		}
		return nh_error_set_errno(err, errno, "%s", path);
	}
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = fd_check_readable_file(fd, err);
	if (r == 0)
		r = read_full_fd(fd, NODE_CONFIG_MAX, &buf, &len, err);
	if (r == 0)
		r = node_config_parse(path, buf, len, ret, err);
	if (r < 0)
		return nh_error_wrap(err, "%s", path);
	return 0;
}

int node_config_load(struct node_config **ret, struct nh_error **err)
{
	const char *env = getenv(NODE_CONFIG_ENV);
	if (env && env[0])
		return node_config_load_file(env, false, ret, err);
	return node_config_load_file(NODE_CONFIG_DEFAULT_PATH, true, ret, err);
}

char *node_config_runtime_fallback(void)
{
	const char *env = getenv(NODE_CONFIG_ENV);
	const char *path = env && env[0] ? env : NODE_CONFIG_DEFAULT_PATH;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_json_ json_object *doc = NULL;
	json_object *runtime = NULL;
	if (read_file_at(AT_FDCWD, path, NODE_CONFIG_MAX, &buf, &len, &err) == 0 &&
	    json_parse_strict(buf, len, NH_JSON_DEPTH_MAX, &doc, &err) == 0 && doc &&
	    json_object_is_type(doc, json_type_object) &&
	    json_object_object_get_ex(doc, "runtime", &runtime) &&
	    json_object_is_type(runtime, json_type_string) &&
	    json_object_get_string(runtime)[0] == '/')
		return xstrdup(json_object_get_string(runtime));
	return xstrdup(NODE_CONFIG_DEFAULT_RUNTIME);
}

struct node_config *node_config_free(struct node_config *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->state_dir);
	free(c->sysroot);
	strv_free(c->annotation_domains);
	strv_free(c->hooks_dirs);
	free(c->runtime);
	free(c->irqbalance_config);
	free(c->persistent_dir);
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		strv_free(c->actions[a].allowed_namespaces);
		free(c->actions[a].backend);
	}
	free(c);
	return NULL;
}
