/* cpu-c-states: limit how deep a container's CPUs may sleep while it runs.
 *
 * Per CPU of the container: cpuN/power/pm_qos_resume_latency_us ("enable" 0 = no limit,
 * "disable" n/a = polling only, "max_latency:N" = states waking up in at most N µs), and,
 * beyond CRI-O, named idle states turned off one by one (cpuN/cpuidle/stateK/disable). The
 * grammar is in cpu_tuning.h; originals and holders in the cpu-c-states ledger (cpu_ledger.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cpu_tuning.h"
#include "kernel.h"
#include "strv.h"
#include "xalloc.h"

#define CSTATES_EXPECTED                                                                           \
	"expected \"enable\", \"disable\" or \"max_latency:N\" (N > 0 microseconds), optionally "  \
	"followed by \";disable_states:NAME[,NAME...]\", or \"disable_states:NAME[,NAME...]\""

#define IDLE_NAME_MAX 15 /* CPUIDLE_NAME_LEN - 1 */
#define IDLE_NAMES_MAX 16

void cstates_request_clear(struct cstates_request *r)
{
	free(r->latency);
	strv_free(r->idle_off);
	*r = (struct cstates_request){0};
}

static int parse_latency(const char *s, size_t len, char **ret)
{
	if (len == 6 && memcmp(s, "enable", 6) == 0) {
		*ret = xstrdup("0");
		return 0;
	}
	if (len == 7 && memcmp(s, "disable", 7) == 0) {
		*ret = xstrdup("n/a");
		return 0;
	}
	static const char prefix[] = "max_latency:";
	size_t p = sizeof(prefix) - 1;
	if (len <= p || memcmp(s, prefix, p) != 0)
		return -EINVAL;
	const char *n = s + p;
	size_t digits = len - p;
	/* 2147483646: the kernel's value is an s32 and S32_MAX means "no constraint". */
	if (digits > 10 || n[0] == '0')
		return -EINVAL;
	unsigned long long v = 0;
	for (size_t i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)n[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(n[i] - '0');
	}
	if (v == 0 || v > 2147483646ULL)
		return -EINVAL;
	*ret = xasprintf("%llu", v);
	return 0;
}

static bool idle_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > IDLE_NAME_MAX || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ',' || s[i] == ';')
			return false;
	return true;
}

static int parse_states(const char *s, size_t len, char ***ret)
{
	static const char prefix[] = "disable_states:";
	size_t p = sizeof(prefix) - 1;
	if (len <= p || memcmp(s, prefix, p) != 0)
		return -EINVAL;
	_cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
	size_t n = 0;
	const char *item = s + p, *end = s + len;
	for (;;) {
		const char *comma = memchr(item, ',', (size_t)(end - item));
		const char *stop = comma ? comma : end;
		size_t il = (size_t)(stop - item);
		if (!idle_name_ok(item, il) || n == IDLE_NAMES_MAX)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (strlen(names[i]) == il && memcmp(names[i], item, il) == 0)
				return -EINVAL;
		strv_push(&names, xstrndup(item, il));
		n++;
		if (!comma)
			break;
		item = comma + 1;
	}
	*ret = TAKE_PTR(names);
	return 0;
}

int cstates_parse(const char *value, struct cstates_request *ret, struct nh_error **err)
{
	_cleanup_cstates_request_ struct cstates_request req = {0};
	size_t len = strlen(value);
	const char *semi = strchr(value, ';');
	int r;
	if (semi) {
		r = parse_latency(value, (size_t)(semi - value), &req.latency);
		if (r == 0)
			r = parse_states(semi + 1, len - (size_t)(semi - value) - 1, &req.idle_off);
	} else if (strncmp(value, "disable_states:", 15) == 0) {
		r = parse_states(value, len, &req.idle_off);
	} else {
		r = parse_latency(value, len, &req.latency);
	}
	if (r < 0)
		return nh_error_set(err, EINVAL, "invalid value '%.64s' (" CSTATES_EXPECTED ")",
				    value);
	*ret = req;
	// NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by the _cleanup_ handler at scope exit: the clear hands ownership to *ret
	req = (struct cstates_request){0};
	return 0;
}

static void push_setting(struct cpu_setting **v, size_t *n, struct cpu_setting s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

static int plan_idle_states(unsigned cpu, char **names, struct cpu_setting **v, size_t *n,
			    struct nh_error **err)
{
	struct kernel_idle_state *states = NULL;
	size_t n_states = 0;
	int r = kernel_cpu_idle_states(cpu, &states, &n_states, err);
	if (r == -ENOENT || (r == 0 && n_states == 0)) {
		kernel_idle_states_free(states, n_states);
		return nh_error_set(err, ENODEV, "CPU %u has no cpuidle states (no cpuidle driver)",
				    cpu);
	}
	if (r < 0)
		return r;
	for (char **name = names; *name && r == 0; name++) {
		const struct kernel_idle_state *found = NULL;
		for (size_t i = 0; i < n_states && !found; i++)
			if (strcmp(states[i].name, *name) == 0)
				found = &states[i];
		if (!found) {
			_cleanup_strv_ char **have = NULL;
			for (size_t i = 0; i < n_states; i++)
				strv_push(&have, xasprintf("\"%s\"", states[i].name));
			_cleanup_free_ char *list =
			    strv_join((const char *const *)have, n_states, ", ");
			r = nh_error_set(err, EINVAL,
					 "CPU %u has no idle state named \"%s\" (it has: %s)", cpu,
					 *name, list);
			break;
		}
		_cleanup_free_ char *rel = xasprintf("cpuidle/state%u/disable", found->index);
		push_setting(v, n,
			     (struct cpu_setting){
				 .cpu = cpu,
				 .path = kernel_cpu_path(cpu, rel),
				 .setting = xasprintf("cpuidle/%s", found->name),
				 .value = xstrdup("1"),
			     });
	}
	kernel_idle_states_free(states, n_states);
	return r;
}

int cstates_plan(const struct cstates_request *req, const struct cpuset *cpus,
		 struct cpu_setting **ret, size_t *ret_n, struct nh_error **err)
{
	struct cpu_setting *v = NULL;
	size_t n = 0;
	int r = 0;
	int last = cpuset_last(cpus);
	for (int c = 0; c <= last && r == 0; c++) {
		unsigned cpu = (unsigned)c;
		if (!cpuset_has(cpus, cpu))
			continue;
		if (req->latency)
			push_setting(
			    &v, &n,
			    (struct cpu_setting){
				.cpu = cpu,
				.path = kernel_cpu_path(cpu, "power/pm_qos_resume_latency_us"),
				.setting = xstrdup("pm_qos_resume_latency_us"),
				.value = xstrdup(req->latency),
			    });
		if (req->idle_off)
			r = plan_idle_states(cpu, req->idle_off, &v, &n, err);
	}
	if (r < 0) {
		cpu_settings_free(v, n);
		return r;
	}
	if (n == 0) {
		cpu_settings_free(v, n);
		return nh_error_set(err, EINVAL, "no CPUs to set");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* --- the action ----------------------------------------------------------------------------- */

static int parse_value(const char *value, const char **ret_note, struct nh_error **err)
{
	(void)ret_note;
	_cleanup_cstates_request_ struct cstates_request req = {0};
	int r = cstates_parse(value, &req, err);
	return r < 0 ? r : 1;
}

/* cpu_plan_fn: the value parsed again (parse_value accepted it) and planned. */
static int plan(const char *value, const struct cpuset *cpus, struct cpu_setting **ret,
		size_t *ret_n, struct nh_error **err)
{
	_cleanup_cstates_request_ struct cstates_request req = {0};
	int r = cstates_parse(value, &req, err);
	return r < 0 ? r : cstates_plan(&req, cpus, ret, ret_n, err);
}

static int apply(struct action_context *ctx, struct nh_error **err)
{
	return cpu_ledger_action_apply(ctx, plan, err);
}

const struct action_ops cpu_c_states_ops = {
    .id = NH_ACTION_CPU_C_STATES,
    .parse_value = parse_value,
    .check = action_check_exclusive,
    .apply = apply,
    .undo = cpu_ledger_action_undo,
    .follows_cpus = true,
    .holders = cpu_ledger_action_holders,
};
