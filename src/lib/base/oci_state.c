#include "oci_state.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "xalloc.h"

bool container_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > CONTAINER_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

void oci_state_clear(struct oci_state *s)
{
	free(s->id);
	free(s->bundle);
	free(s->status);
	*s = (struct oci_state){0};
}

static int state_string(json_object *doc, const char *key, bool required, char **dst,
			struct nh_error **err)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(doc, key, &v) || !v) {
		if (required)
			return nh_error_set(err, EINVAL, "state: missing \"%s\"", key);
		return 0;
	}
	const char *s = NULL;
	int r = json_string_value(v, &s);
	if (r == 0)
		return nh_error_set(err, EINVAL, "state: \"%s\": expected a string, got %s", key,
				    json_type_label(v));
	if (r < 0)
		return nh_error_set(err, EINVAL, "state: \"%s\": contains a NUL character", key);
	*dst = xstrdup(s);
	return 0;
}

int oci_state_parse(const char *buf, size_t len, struct oci_state *ret, struct nh_error **err)
{
	_cleanup_json_ json_object *doc = NULL;
	int r = json_parse_strict(buf, len, NH_JSON_DEPTH_MAX, &doc, err);
	if (r < 0)
		return nh_error_wrap(err, "state");
	if (!doc || !json_object_is_type(doc, json_type_object))
		return nh_error_set(err, EINVAL, "state: expected a JSON object");
	_cleanup_(oci_state_clear) struct oci_state s = {0};
	if ((r = state_string(doc, "id", true, &s.id, err)) < 0 ||
	    (r = state_string(doc, "bundle", true, &s.bundle, err)) < 0 ||
	    (r = state_string(doc, "status", false, &s.status, err)) < 0)
		return r;
	if (!container_id_valid(s.id))
		return nh_error_set(err, EINVAL,
				    "state: container id '%.64s' is not a valid id "
				    "([A-Za-z0-9_+.-], at most %d characters)",
				    s.id, CONTAINER_ID_MAX);
	if (s.bundle[0] != '/')
		return nh_error_set(err, EINVAL, "state: bundle '%s' is not an absolute path",
				    s.bundle);
	json_object *pid = NULL;
	if (json_object_object_get_ex(doc, "pid", &pid) && pid) {
		if (!json_object_is_type(pid, json_type_int))
			return nh_error_set(err, EINVAL, "state: \"pid\": expected an integer");
		int64_t p = json_object_get_int64(pid);
		if (p < 0 || p > INT_MAX)
			return nh_error_set(err, EINVAL, "state: pid %lld out of range",
					    (long long)p);
		/* runc passes 1 and crun 0 inside the container's pid namespace: no host pid. */
		s.pid = p > 1 ? (pid_t)p : 0;
	}
	*ret = s;
	// NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by the _cleanup_ handler at scope exit: the clear hands ownership to *ret
	s = (struct oci_state){0};
	return 0;
}

static const char *const stage_names[OCI_STAGE__MAX] = {
    [OCI_STAGE_PRESTART] = "prestart",
    [OCI_STAGE_CREATE_RUNTIME] = "createRuntime",
    [OCI_STAGE_CREATE_CONTAINER] = "createContainer",
    [OCI_STAGE_START_CONTAINER] = "startContainer",
    [OCI_STAGE_POSTSTART] = "poststart",
    [OCI_STAGE_POSTSTOP] = "poststop",
};

const char *oci_stage_to_string(enum oci_stage s)
{
	if (s < 0 || s >= OCI_STAGE__MAX)
		return NULL;
	return stage_names[s];
}

enum oci_stage oci_stage_from_string(const char *s)
{
	for (int i = 0; i < OCI_STAGE__MAX; i++)
		if (strcmp(s, stage_names[i]) == 0)
			return (enum oci_stage)i;
	return OCI_STAGE__INVALID;
}
