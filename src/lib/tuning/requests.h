/* What a container's annotations ask of each action.
 *
 * Keys: "<action>.<domain>" for every container of the pod, "<action>.<domain>/<container>" for
 * one container (its name from the runtime's own annotations), with <domain> one of the node
 * config's annotation_domains (nodehook.io first). A per-container key wins over a pod-wide
 * one; among domains, the first listed wins. Pod sandboxes ask for nothing.
 *
 * Ownership rule: a request's strings belong to it; requests_clear() frees them. */
#pragma once

#include <stdbool.h>

#include "cleanup.h"

#include "container.h"
#include "node_config.h"
#include "oci_config.h"

struct action_request {
	bool present;
	char *key;   /* the annotation that asked */
	char *value; /* its value, unchecked */
};

void requests_find(const struct oci_config *config, const struct container_info *c,
		   char *const *domains, struct action_request ret[NH_ACTION__MAX]);
void requests_clear(struct action_request r[NH_ACTION__MAX]);

static inline void requests_clearp(struct action_request (*r)[NH_ACTION__MAX])
{
	requests_clear(*r);
}
#define _cleanup_requests_ _cleanup_(requests_clearp)

/* Whether the node policy lets this container have the action. Returns 1 if allowed, 0 if not
 * with *ret_reason (caller frees). A container without a pod namespace (not from a CRI) is
 * matched as "": only a pattern like "*" admits it. A container whose pod markers belong to a
 * runtime other than the pinned one (foreign_cri_reason) is refused with that reason. */
int requests_policy_allows(const struct action_policy *p, const struct container_info *c,
			   char **ret_reason);
