/* cpu-freq-governor: a cpufreq governor for a container's CPUs while it runs.
 *
 * The governor belongs to a cpufreq policy (cpuN/cpufreq links to cpufreq/policyM), which may
 * govern several CPUs (related_cpus): the policy's scaling_governor is the resource the ledger
 * counts. A container may only set a policy all of whose CPUs it owns: otherwise its governor
 * would change CPUs other workloads run on. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cpu_tuning.h"
#include "kernel.h"
#include "strv.h"
#include "xalloc.h"

#define GOVERNOR_NAME_MAX 15 /* CPUFREQ_NAME_LEN - 1 */

int governor_parse(const char *value, struct nh_error **err)
{
	size_t len = strlen(value);
	bool ok = len > 0 && len <= GOVERNOR_NAME_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)value[i]) || value[i] == '_' || value[i] == '-';
	if (!ok)
		return nh_error_set(err, EINVAL,
				    "invalid value '%.64s' (expected a cpufreq governor name: 1 to "
				    "15 of A-Z a-z 0-9 _ -, e.g. \"performance\")",
				    value);
	return 0;
}

/* Whether name is one of the space-separated words of list. */
static bool word_in(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " ");
		if (w == len && memcmp(p, name, len) == 0)
			return true;
		p += w;
	}
	return false;
}

static int plan_cpu(const char *name, const struct cpuset *cpus, unsigned cpu,
		    struct cpu_setting *ret, struct nh_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_cpuset_ struct cpuset related = {0};
	int r = kernel_cpu_freq_policy(cpu, &dir, &related, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENODEV, "CPU %u has no cpufreq policy (no cpufreq driver)",
				    cpu);
	if (r < 0)
		return r;
	const char *policy = strrchr(dir, '/') + 1;
	if (!cpuset_is_subset(&related, cpus)) {
		_cleanup_free_ char *rl = cpuset_format_list(&related);
		_cleanup_free_ char *cl = cpuset_format_list(cpus);
		return nh_error_set(
		    err, EPERM,
		    "CPU %u: cpufreq %s governs CPUs %s, not all the container's "
		    "(%s): its governor would change CPUs the container does not own",
		    cpu, policy, rl, cl);
	}
	_cleanup_free_ char *avail_path = xasprintf("%s/scaling_available_governors", dir);
	_cleanup_free_ char *avail = NULL;
	r = kernel_read_file(avail_path, &avail, err);
	if (r == -ENOENT)
		return nh_error_set(err, ENOENT, "%s: missing", avail_path);
	if (r < 0)
		return r;
	if (!word_in(avail, name))
		return nh_error_set(err, EINVAL,
				    "governor \"%s\" is not available for CPU %u (%s has: %s)",
				    name, cpu, policy, avail);
	*ret = (struct cpu_setting){
	    .cpu = cpu,
	    .path = xasprintf("%s/scaling_governor", dir),
	    .setting = xstrdup("cpufreq/scaling_governor"),
	    .note = xstrdup(policy),
	    .value = xstrdup(name),
	};
	return 0;
}

int governor_plan(const char *name, const struct cpuset *cpus, struct cpu_setting **ret,
		  size_t *ret_n, struct nh_error **err)
{
	int r = governor_parse(name, err);
	if (r < 0)
		return r;
	size_t n = 0, count = cpuset_count(cpus);
	if (count == 0)
		return nh_error_set(err, EINVAL, "no CPUs to set");
	struct cpu_setting *v = xcalloc(count, sizeof(*v));
	int last = cpuset_last(cpus);
	for (int c = 0; c <= last; c++) {
		if (!cpuset_has(cpus, (unsigned)c))
			continue;
		r = plan_cpu(name, cpus, (unsigned)c, &v[n], err);
		if (r < 0) {
			cpu_settings_free(v, n);
			return r;
		}
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* --- the action ----------------------------------------------------------------------------- */

static int parse_value(const char *value, const char **ret_note, struct nh_error **err)
{
	(void)ret_note;
	int r = governor_parse(value, err);
	return r < 0 ? r : 1;
}

static int apply(struct action_context *ctx, struct nh_error **err)
{
	return cpu_ledger_action_apply(ctx, governor_plan, err);
}

const struct action_ops cpu_freq_governor_ops = {
    .id = NH_ACTION_CPU_FREQ_GOVERNOR,
    .parse_value = parse_value,
    .check = action_check_exclusive,
    .apply = apply,
    .undo = cpu_ledger_action_undo,
    .follows_cpus = true,
    .holders = cpu_ledger_action_holders,
};
