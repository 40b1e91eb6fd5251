/* cpu-c-states and cpu-freq-governor: the value grammars and the per-CPU settings they ask of
 * a container's CPUs, checked against what the node's CPUs offer. Both keep their originals in a
 * cpu_ledger (cpu_ledger.h). Exposed for the unit tests.
 *
 * cpu-c-states value grammar (docs/CONFIGURATION.md):
 *   value    = latency | latency ";" states | states
 *   latency  = "enable" | "disable" | "max_latency:" N       N: 1..2147483646, no sign, no
 *                                                            leading zero
 *   states   = "disable_states:" NAME *( "," NAME )         1..16 distinct names
 *   NAME     = 1..15 printable ASCII characters but "," and ";", no space at either end
 * latency sets cpuN/power/pm_qos_resume_latency_us to "0", "n/a", "N" (as CRI-O); states sets
 * cpuN/cpuidle/stateK/disable to 1 for the state whose "name" is NAME.
 *
 * cpu-freq-governor value: a governor name, 1..15 of [A-Za-z0-9_-], which every CPU's policy
 * must list in scaling_available_governors.
 *
 * Ownership rule: requests and settings returned belong to the caller. */
#pragma once

#include "cpu_ledger.h"
#include "cpuset.h"
#include "error.h"

/* The ledgers, named after the actions (cpu_ledger.h). */
#define CSTATES_LEDGER "cpu-c-states.json"
#define GOVERNOR_LEDGER "cpu-freq-governor.json"

struct cstates_request {
	char *latency;	 /* what to write to pm_qos_resume_latency_us, or NULL: untouched */
	char **idle_off; /* NULL-terminated idle state names to disable, or NULL */
};
void cstates_request_clear(struct cstates_request *r);
#define _cleanup_cstates_request_ _cleanup_(cstates_request_clear)

int cstates_parse(const char *value, struct cstates_request *ret, struct nh_error **err);

/* The settings for cpus, one per CPU and file: fails naming the CPU when a file is missing, or
 * an idle state name is not one the CPU has (listing those it has). */
int cstates_plan(const struct cstates_request *req, const struct cpuset *cpus,
		 struct cpu_setting **ret, size_t *ret_n, struct nh_error **err);

int governor_parse(const char *value, struct nh_error **err);

/* One setting per CPU, on its policy's scaling_governor (a cpu_plan_fn). Fails on a name outside
 * the grammar, when a CPU has no cpufreq
 * policy, when a policy governs CPUs outside cpus (EPERM), or when the governor is not
 * available (EINVAL, listing the available ones). */
int governor_plan(const char *name, const struct cpuset *cpus, struct cpu_setting **ret,
		  size_t *ret_n, struct nh_error **err);
