#include "nh_action.h"

#include <string.h>

static const char *const action_names[NH_ACTION__MAX] = {
    [NH_ACTION_CPU_LOAD_BALANCING] = "cpu-load-balancing",
    [NH_ACTION_CPU_QUOTA] = "cpu-quota",
    [NH_ACTION_IRQ_LOAD_BALANCING] = "irq-load-balancing",
    [NH_ACTION_CPU_C_STATES] = "cpu-c-states",
    [NH_ACTION_CPU_FREQ_GOVERNOR] = "cpu-freq-governor",
};

const char *nh_action_to_string(enum nh_action a)
{
	return a >= 0 && a < NH_ACTION__MAX ? action_names[a] : NULL;
}

enum nh_action nh_action_from_string(const char *s)
{
	for (int i = 0; i < NH_ACTION__MAX; i++)
		if (strcmp(s, action_names[i]) == 0)
			return (enum nh_action)i;
	return NH_ACTION__INVALID;
}
