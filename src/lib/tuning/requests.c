#include "requests.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "xalloc.h"

static bool take(const struct oci_config *config, const char *key, struct action_request *r)
{
	const char *value = oci_config_annotation(config, key);
	if (!value)
		return false;
	r->present = true;
	r->key = xstrdup(key);
	r->value = xstrdup(value);
	return true;
}

void requests_find(const struct oci_config *config, const struct container_info *c,
		   char *const *domains, struct action_request ret[NH_ACTION__MAX])
{
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		ret[a] = (struct action_request){0};
		if (c->is_sandbox)
			continue;
		const char *action = nh_action_to_string((enum nh_action)a);
		bool found = false;
		for (size_t d = 0; c->container_name && domains[d] && !found; d++) {
			_cleanup_free_ char *key =
			    xasprintf("%s.%s/%s", action, domains[d], c->container_name);
			found = take(config, key, &ret[a]);
		}
		for (size_t d = 0; domains[d] && !found; d++) {
			_cleanup_free_ char *key = xasprintf("%s.%s", action, domains[d]);
			found = take(config, key, &ret[a]);
		}
	}
}

void requests_clear(struct action_request r[NH_ACTION__MAX])
{
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		free(r[a].key);
		free(r[a].value);
		r[a] = (struct action_request){0};
	}
}

int requests_policy_allows(const struct action_policy *p, const struct container_info *c,
			   char **ret_reason)
{
	if (!p->enabled) {
		*ret_reason = xstrdup("the action is disabled in the node config");
		return 0;
	}
	if (c->foreign_cri_reason) {
		*ret_reason = xstrdup(c->foreign_cri_reason);
		return 0;
	}
	const char *ns = c->pod_namespace ? c->pod_namespace : "";
	for (char **g = p->allowed_namespaces; g && *g; g++)
		if (fnmatch(*g, ns, 0) == 0)
			return 1;
	if (c->pod_namespace)
		*ret_reason = xasprintf("namespace '%s' is not in allowed_namespaces", ns);
	else
		*ret_reason = xstrdup("containers outside a Kubernetes pod are not in "
				      "allowed_namespaces");
	return 0;
}
