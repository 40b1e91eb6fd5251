/* The ledger of per-CPU sysfs settings (cpu-c-states, cpu-freq-governor): one document per
 * action in the state store, with, for every file an action changed, the value it had before
 * the first container changed it and the containers that hold it now.
 *
 *   { "settings": { "<node path>": { "original": "0", "value": "n/a",
 *                                    "holders": ["<container id>", ...] } } }
 *
 * Rules (why: CRI-O's save-once bug #7827, and restore on every stop path):
 * - The original is read and written to the ledger once, when the first holder arrives, before
 *   the file changes. A later holder, or the same container started again after a crash, finds
 *   the entry and never records an already-changed value as the original.
 * - All holders of a file want the same value: a container asking another value for a file
 *   someone else holds is refused (EBUSY), naming the holder. So the original is exact when the
 *   last holder goes, in whichever order they stop.
 * - Release needs only the container id: it puts the original back when the id was the last
 *   holder, then drops the entry. A crash between the two leaves the entry, and the next release
 *   writes the same original again.
 * apply and undo call these under the store's exclusive lock (action.h).
 *
 * Ownership rule: a cpu_ledger owns its document; cpu_setting strings belong to the setting
 * (cpu_settings_free). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "action.h"
#include "cleanup.h"
#include "cpuset.h"
#include "error.h"
#include "state_store.h"

/* One file to set for one CPU. Several settings may name one path (CPUs sharing a cpufreq
 * policy): the file is held and written once. */
struct cpu_setting {
	unsigned cpu;
	char *path;    /* node path of the file */
	char *setting; /* what status calls it: "pm_qos_resume_latency_us", "cpuidle/POLL" */
	char *note;    /* the cpufreq policy, or NULL */
	char *value;   /* what to write */
};

void cpu_settings_free(struct cpu_setting *v, size_t n);

struct cpu_ledger {
	struct state_store *store;
	char *name; /* the state document, "cpu-c-states.json" */
	json_object *doc;
	json_object *settings; /* doc["settings"], lent */
};

/* Reads the ledger `name` (an empty one when there is none). */
int cpu_ledger_open(struct state_store *store, const char *name, struct cpu_ledger **ret,
		    struct nh_error **err);
struct cpu_ledger *cpu_ledger_free(struct cpu_ledger *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cpu_ledger *, cpu_ledger_free)
#define _cleanup_cpu_ledger_ _cleanup_(cpu_ledger_freep)

/* Makes id a holder of every setting and writes the values: first checks every file (another
 * holder wanting another value: EBUSY; a missing file: ENOENT) and reads the originals of the
 * files nobody holds, then writes the ledger, then the files, with a crash point before each.
 * On failure after the ledger was written, the caller undoes with cpu_ledger_release(). */
int cpu_ledger_hold(struct cpu_ledger *l, const char *id, const struct cpu_setting *v, size_t n,
		    struct nh_error **err) __attribute__((warn_unused_result));

/* Drops id from every entry; where it was the last holder, writes the original back first (a
 * file gone, e.g. with its CPU, counts as restored). Idempotent. Returns 1 when id held
 * something, 0 when not. */
int cpu_ledger_release(struct cpu_ledger *l, const char *id, struct nh_error **err)
    __attribute__((warn_unused_result));

/* The original recorded for path, or NULL when nobody holds it. Lent. */
const char *cpu_ledger_original(const struct cpu_ledger *l, const char *path);

/* The ids holding anything in ledger `name`, without repeats; NULL-terminated, caller frees with
 * strv_free. No ledger: an empty list. Reads only. */
int cpu_ledger_holders(struct state_store *store, const char *name, char ***ret,
		       struct nh_error **err);

/* For status: adds to details, per setting, "cpu<N>/<setting>": [old, new], old being the
 * original in the ledger (what the node goes back to, whoever changed it first). */
void cpu_ledger_details(const struct cpu_ledger *l, const struct cpu_setting *v, size_t n,
			json_object *details);

/* The action side, shared by cpu-c-states and cpu-freq-governor, on the ledger named after the
 * action ("cpu-c-states.json"): apply marks ctx->record's action present with the container's
 * CPUs, saves the record, holds the settings, then saves the record again with the details
 * (cpu_ledger_details), plan being the action's; undo releases ctx->record->id (it needs nothing
 * else from the record); holders reports every id in the ledger, with backend "sysfs". undo and
 * holders are the actions' ops as they are. */
#define CPU_LEDGER_BACKEND "sysfs"

/* What an action asks of cpus for an accepted annotation value. */
typedef int (*cpu_plan_fn)(const char *value, const struct cpuset *cpus, struct cpu_setting **ret,
			   size_t *ret_n, struct nh_error **err);

int cpu_ledger_action_apply(struct action_context *ctx, cpu_plan_fn plan, struct nh_error **err)
    __attribute__((warn_unused_result));
int cpu_ledger_action_undo(struct action_context *ctx, struct nh_error **err)
    __attribute__((warn_unused_result));
int cpu_ledger_action_holders(struct action_context *ctx, action_holder_fn fn, void *userdata,
			      struct nh_error **err);
