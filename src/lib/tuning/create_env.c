#include "create_env.h"

#include <string.h>

#include "action.h"
#include "cleanup.h"
#include "container.h"
#include "fileio.h"
#include "irq_load_balancing.h"
#include "requests.h"
#include "xalloc.h"

/* process.env without entries of name, plus name=value. */
static void env_set(json_object *process, const char *name, const char *value)
{
	json_object *env = NULL;
	if (!json_object_object_get_ex(process, "env", &env) ||
	    !json_object_is_type(env, json_type_array)) {
		env = json_object_new_array();
		json_object_object_add(process, "env", env);
	}
	size_t n = strlen(name);
	for (size_t i = json_object_array_length(env); i-- > 0;) {
		const char *e = json_object_get_string(json_object_array_get_idx(env, i));
		if (e && strncmp(e, name, n) == 0 && e[n] == '=')
			json_object_array_del_idx(env, i, 1);
	}
	_cleanup_free_ char *entry = xasprintf("%s=%s", name, value);
	json_object_array_add(env, json_object_new_string(entry));
}

int create_env_inject(const struct node_config *config, struct oci_config *oci, const char *id,
		      const char *bundle, const char *path, struct nh_error **err)
{
	const enum nh_action a = NH_ACTION_IRQ_LOAD_BALANCING;
	if (!config->actions[a].enabled)
		return 0;
	struct oci_state state = {.id = (char *)id, .bundle = (char *)bundle};
	_cleanup_container_info_ struct container_info *c = NULL;
	_cleanup_error_ struct nh_error *build_err = NULL;
	if (container_info_build(&state, oci, config->cri, &c, &build_err) < 0)
		return 0; /* the hook refuses the container, in its words */
	_cleanup_requests_ struct action_request req[NH_ACTION__MAX];
	requests_find(oci, c, config->annotation_domains, req);
	if (!req[a].present || strcmp(req[a].value, "housekeeping") != 0 || !c->exclusive)
		return 0;
	_cleanup_free_ char *reason = NULL;
	if (!requests_policy_allows(&config->actions[a], c, &reason))
		return 0;
	_cleanup_cpuset_ struct cpuset keep = {0};
	int r = irq_housekeeping_cpus(&c->cpus, &keep, err);
	if (r < 0)
		return r;
	json_object *process = NULL;
	if (!json_object_object_get_ex(oci->doc, "process", &process) ||
	    !json_object_is_type(process, json_type_object))
		return 0; /* no process: nothing to tell */
	_cleanup_free_ char *list = cpuset_format_list(&keep);
	env_set(process, CREATE_ENV_HOUSEKEEPING, list);
	env_set(process, CREATE_ENV_HOUSEKEEPING_OPENSHIFT, list);
	size_t len = 0;
	const char *text = oci_config_to_string(oci, &len);
	r = write_file_replace(path, text, len, 0644, err);
	return r < 0 ? nh_error_wrap(err, "%s", path) : 1;
}
