/* The built-in node-tuning actions by name: what records, ledgers, the node config and the
 * annotations call them. A base header, so that the state store and the node config can name
 * actions without knowing what they do (that is actions/action.h). */
#pragma once

#include <errno.h>

/* The built-in actions, in the order they are applied (undone in reverse). */
enum nh_action {
	NH_ACTION_CPU_LOAD_BALANCING,
	NH_ACTION_CPU_QUOTA,
	NH_ACTION_IRQ_LOAD_BALANCING,
	NH_ACTION_CPU_C_STATES,
	NH_ACTION_CPU_FREQ_GOVERNOR,
	NH_ACTION__MAX,
	NH_ACTION__INVALID = -EINVAL,
};

const char *nh_action_to_string(enum nh_action a);
enum nh_action nh_action_from_string(const char *s);
