/* What the backends' ledgers share: reading and writing the document, and small JSON helpers.
 * Each backend keeps its own view of its document (struct ledger in its file).
 *
 * Ownership rule: lb_ledger_read() returns a document the caller puts; lb_json_child() lends (the
 * child belongs to doc); lb_json_keys() returns a vector the caller frees with strv_free(). */
#pragma once

#include <json-c/json.h>

#include "cpuset.h"
#include "error.h"
#include "state_store.h"

/* Reads the backend ledger `name` (state_doc_read): 1 and the document; 0 when there is none,
 * with *ret a new empty object if create, else NULL. */
int lb_ledger_read(struct state_store *store, const char *name, bool create, json_object **ret,
		   struct nh_error **err);

/* Cgroup names are bytes: a "cgroup" member that is not valid UTF-8 is stored as
 * "cgroup_bytes", percent-encoded (lb_cgroup_encode), and lb_ledger_read() gives it back as
 * "cgroup"; any name round-trips. */
char *lb_cgroup_encode(const char *name);
/* 0 and the name, or -EBADMSG for a bad escape or an encoded NUL. */
int lb_cgroup_decode(const char *encoded, char **ret);

/* Writes it back, atomically and stamped with the boot id (state_doc_write), names encoded. */
int lb_ledger_write(struct state_store *store, const char *name, json_object *doc,
		    struct nh_error **err) __attribute__((warn_unused_result));

/* doc[key] if it has the type (object or array), else a new empty one put there. */
json_object *lb_json_child(json_object *doc, const char *key, json_type type);

/* The keys of an object, in its order; NULL-terminated. o may be NULL (no keys). */
char **lb_json_keys(json_object *o);

/* The union of the CPU lists in an object of container id -> CPU list (a ledger's "isolated"
 * member). An entry that is not a valid CPU list is left out: it costs its own container its
 * isolation, and does not stop every guard (every container start) on the node. Returns the
 * number of entries left out. */
int lb_isolated_union(json_object *isolated, const char *ledger, struct cpuset *ret,
		      struct nh_error **err);
