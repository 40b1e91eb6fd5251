#include "action.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct action_ops *const table[NH_ACTION__MAX] = {
    [NH_ACTION_CPU_LOAD_BALANCING] = &cpu_load_balancing_ops,
    [NH_ACTION_CPU_QUOTA] = &cpu_quota_ops,
    [NH_ACTION_IRQ_LOAD_BALANCING] = &irq_load_balancing_ops,
    [NH_ACTION_CPU_C_STATES] = &cpu_c_states_ops,
    [NH_ACTION_CPU_FREQ_GOVERNOR] = &cpu_freq_governor_ops,
};

const struct action_ops *action_lookup(enum nh_action id)
{
	return id >= 0 && id < NH_ACTION__MAX ? table[id] : NULL;
}

int action_record_save(struct action_context *ctx, struct nh_error **err)
{
	return state_record_write(ctx->store, ctx->record, err);
}

struct action_record *action_record_of(struct action_context *ctx)
{
	return &ctx->record->actions[ctx->action];
}

json_object *action_details_reset(struct action_context *ctx)
{
	struct action_record *ar = action_record_of(ctx);
	json_object_put(ar->details);
	ar->details = json_object_new_object();
	return ar->details;
}

int action_parse_disable(const char *value, const char **ret_note, struct nh_error **err)
{
	if (strcmp(value, "disable") == 0)
		return 1;
	if (strcmp(value, "true") == 0) {
		*ret_note = "value \"true\" is deprecated (CRI-O's spelling); use \"disable\"";
		return 1;
	}
	if (strcmp(value, "enable") == 0)
		return 0;
	return nh_error_set(err, EINVAL,
			    "invalid value '%.64s' (expected \"disable\" or \"enable\")", value);
}

int action_check_exclusive(const struct container_info *c, struct nh_error **err)
{
	if (!c->exclusive)
		return nh_error_set(err, EPERM,
				    "the container has no exclusive whole-CPU set to isolate: %s",
				    c->not_exclusive_reason ? c->not_exclusive_reason : "unknown");
	return 0;
}

void action_crash_point(void)
{
	static long counter;
	static long crash_at = -1;
	if (crash_at < 0) {
		const char *env = getenv("NODEHOOK_TEST_CRASH_AT");
		crash_at = env ? strtol(env, NULL, 10) : 0;
	}
	if (crash_at > 0 && ++counter == crash_at)
		(void)kill(getpid(), SIGKILL);
}
