#include "container.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "xalloc.h"

struct cri_keys {
	const char *type, *sandbox_value, *ns, *pod, *container;
};

static const struct cri_keys containerd_keys = {
    .type = "io.kubernetes.cri.container-type",
    .sandbox_value = "sandbox",
    .ns = "io.kubernetes.cri.sandbox-namespace",
    .pod = "io.kubernetes.cri.sandbox-name",
    .container = "io.kubernetes.cri.container-name",
};

static const struct cri_keys crio_keys = {
    .type = "io.kubernetes.cri-o.ContainerType",
    .sandbox_value = "sandbox",
    .ns = "io.kubernetes.pod.namespace",
    .pod = "io.kubernetes.pod.name",
    .container = "io.kubernetes.container.name",
};

/* The reason a container carries pod markers of a runtime the node config does not expect, or
 * NULL: with "cri" pinned to one runtime, the other's markers; with "cri": "none", either. Such
 * a container is not treated as one outside a pod (that would skip the namespace policy and the
 * Guaranteed check): its requests are refused with this reason. */
static char *foreign_markers(enum cri_kind pinned, bool containerd, bool crio)
{
	const char *pin = pinned == CRI_CONTAINERD ? "containerd"
			  : pinned == CRI_CRIO	   ? "cri-o"
						   : "none";
	const char *key = NULL;
	if (pinned == CRI_CONTAINERD && !containerd && crio)
		key = crio_keys.type;
	else if (pinned == CRI_CRIO && !crio && containerd)
		key = containerd_keys.type;
	else if (pinned == CRI_NONE && (containerd || crio))
		key = containerd ? containerd_keys.type : crio_keys.type;
	if (!key)
		return NULL;
	return xasprintf("container carries %s, a pod marker of a runtime other than the node "
			 "config's \"cri\": \"%s\": refusing to treat it as a container outside "
			 "a pod (fix \"cri\" in the node config)",
			 key, pin);
}

static int detect_cri(const struct oci_config *config, enum cri_kind pinned, enum cri_kind *ret,
		      char **ret_foreign, struct nh_error **err)
{
	bool containerd = oci_config_annotation(config, containerd_keys.type) != NULL;
	bool crio = oci_config_annotation(config, crio_keys.type) != NULL;
	switch (pinned) {
	case CRI_CONTAINERD:
		*ret = containerd ? CRI_CONTAINERD : CRI_NONE;
		*ret_foreign = foreign_markers(pinned, containerd, crio);
		return 0;
	case CRI_CRIO:
		*ret = crio ? CRI_CRIO : CRI_NONE;
		*ret_foreign = foreign_markers(pinned, containerd, crio);
		return 0;
	case CRI_NONE:
		*ret = CRI_NONE;
		*ret_foreign = foreign_markers(pinned, containerd, crio);
		return 0;
	case CRI_AUTO:
	case CRI__MAX:
	case CRI__INVALID:
	default:
		break;
	}
	if (containerd && crio)
		return nh_error_set(err, EPERM,
				    "container carries both containerd's (%s) and CRI-O's (%s) "
				    "annotations: one was set by the pod; refusing to guess its "
				    "namespace (pin \"cri\" in the node config)",
				    containerd_keys.type, crio_keys.type);
	*ret = containerd ? CRI_CONTAINERD : crio ? CRI_CRIO : CRI_NONE;
	*ret_foreign = NULL;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* An integer field of linux.resources.cpu, if present. */
static bool cpu_resource_int(json_object *cpu, const char *key, int64_t *ret)
{
	json_object *v = NULL;
	if (!cpu || !json_object_object_get_ex(cpu, key, &v) || !v ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

/* Decides whether the spec shows exclusive whole CPUs. Without a CRI (runc, Podman by hand)
 * a cpuset is the only signal there is. A CRI container must look like a Guaranteed pod under
 * the kubelet's static CPU manager: cpu.shares = 1024 x the number of CPUs, and a CFS quota, if
 * any, equal to that many periods. */
static void check_exclusive(struct container_info *c, json_object *cpu)
{
	if (!c->has_cpus) {
		c->not_exclusive_reason = xstrdup("it has no cpuset (linux.resources.cpu.cpus)");
		return;
	}
	if (c->cri == CRI_NONE) {
		c->exclusive = true;
		return;
	}
	size_t n = cpuset_count(&c->cpus);
	int64_t shares = 0, quota = 0, period = 0;
	if (!cpu_resource_int(cpu, "shares", &shares) || shares != (int64_t)n * 1024) {
		_cleanup_free_ char *list = cpuset_format_list(&c->cpus);
		c->not_exclusive_reason =
		    xasprintf("it is not a Guaranteed pod with integer CPUs: cpu.shares is not "
			      "%zu x 1024 for cpuset %s",
			      n, list);
		return;
	}
	int64_t want = 0;
	if (cpu_resource_int(cpu, "quota", &quota) && quota > 0 &&
	    (!cpu_resource_int(cpu, "period", &period) || period <= 0 ||
	     __builtin_mul_overflow((int64_t)n, period, &want) || quota != want)) {
		c->not_exclusive_reason =
		    xasprintf("it is not a Guaranteed pod with integer CPUs: its CFS quota is not "
			      "%zu full periods",
			      n);
		return;
	}
	c->exclusive = true;
}

static json_object *get_path(json_object *o, const char *a, const char *b, const char *cc)
{
	const char *keys[] = {a, b, cc};
	for (size_t i = 0; i < 3 && o && keys[i]; i++) {
		json_object *next = NULL;
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, keys[i], &next))
			return NULL;
		o = next;
	}
	return o;
}

int container_info_build(const struct oci_state *state, const struct oci_config *config,
			 enum cri_kind cri, struct container_info **ret, struct nh_error **err)
{
	if (!container_id_valid(state->id))
		return nh_error_set(err, EINVAL, "container id '%.64s' is not a valid id",
				    state->id);
	_cleanup_container_info_ struct container_info *c = xcalloc(1, sizeof(*c));
	c->id = xstrdup(state->id);
	c->pid = state->pid;
	c->bundle = xstrdup(state->bundle);

	int r = detect_cri(config, cri, &c->cri, &c->foreign_cri_reason, err);
	if (r < 0)
		return r;
	const struct cri_keys *keys = c->cri == CRI_CONTAINERD ? &containerd_keys
				      : c->cri == CRI_CRIO     ? &crio_keys
							       : NULL;
	if (keys) {
		const char *type = oci_config_annotation(config, keys->type);
		c->is_sandbox = type && strcmp(type, keys->sandbox_value) == 0;
		c->pod_namespace = dup_or_null(oci_config_annotation(config, keys->ns));
		c->pod_name = dup_or_null(oci_config_annotation(config, keys->pod));
		if (!c->is_sandbox)
			c->container_name =
			    dup_or_null(oci_config_annotation(config, keys->container));
		if (!c->pod_namespace)
			return nh_error_set(err, EINVAL,
					    "container has %s but no %s: cannot tell its namespace",
					    keys->type, keys->ns);
	}

	json_object *cpu = get_path(config->doc, "linux", "resources", "cpu");
	json_object *cpus = cpu ? get_path(cpu, "cpus", NULL, NULL) : NULL;
	if (cpus) {
		if (!json_object_is_type(cpus, json_type_string))
			return nh_error_set(
			    err, EINVAL,
			    "config.json: linux.resources.cpu.cpus: expected a string");
		r = cpuset_parse_list(json_object_get_string(cpus), &c->cpus, err);
		if (r < 0)
			return nh_error_wrap(err, "config.json: linux.resources.cpu.cpus");
		c->has_cpus = !cpuset_is_empty(&c->cpus);
	}
	check_exclusive(c, cpu);
	if (c->foreign_cri_reason) {
		c->exclusive = false;
		free(c->not_exclusive_reason);
		c->not_exclusive_reason = xstrdup(c->foreign_cri_reason);
	}

	json_object *cg = get_path(config->doc, "linux", "cgroupsPath", NULL);
	if (cg && json_object_is_type(cg, json_type_string))
		c->cgroups_path = xstrdup(json_object_get_string(cg));
	*ret = TAKE_PTR(c);
	return 0;
}

struct container_info *container_info_free(struct container_info *c)
{
	if (!c)
		return NULL;
	free(c->id);
	free(c->bundle);
	free(c->pod_namespace);
	free(c->pod_name);
	free(c->container_name);
	cpuset_clear(&c->cpus);
	free(c->not_exclusive_reason);
	free(c->cgroups_path);
	free(c->foreign_cri_reason);
	free(c);
	return NULL;
}
