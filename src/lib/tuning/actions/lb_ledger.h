/* Small helpers shared by the backends' ledgers.
 *
 * Ownership rule: lb_json_child() lends (the child belongs to doc); lb_json_keys() returns a
 * vector the caller frees with strv_free(). */
#pragma once

#include <json-c/json.h>

#include "cpulist.h"
#include "error.h"

/* doc[key] if it has the type (object or array), else a new empty one put there. */
json_object *lb_json_child(json_object *doc, const char *key, json_type type);

/* The keys of an object, in its order; NULL-terminated. o may be NULL (no keys). */
char **lb_json_keys(json_object *o);

/* The union of the CPU lists in an object of container id -> CPU list (a ledger's "isolated"
 * member). ledger names the ledger in messages. */
int lb_isolated_union(json_object *isolated, const char *ledger, struct cpuset *ret,
		      struct nh_error **err);
