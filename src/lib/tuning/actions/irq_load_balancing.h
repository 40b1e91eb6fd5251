/* irq-load-balancing, the parts other modules use: the housekeeping CPUs (the runtime wrapper
 * puts them into the container's environment) and what apply did (status).
 *
 * Ownership rule: sets and documents returned belong to the caller. */
#pragma once

#include <json-c/json.h>

#include "cpuset.h"
#include "error.h"
#include "state_store.h"

/* The CPUs of `cpus` that keep IRQs in "housekeeping" mode: the first and its thread siblings
 * (topology/thread_siblings_list; a missing file: that CPU alone), within cpus. */
int irq_housekeeping_cpus(const struct cpuset *cpus, struct cpuset *ret, struct nh_error **err);

/* What apply did for container id: { mode, banned, moved: [irq], refused: [{irq, error}],
 * left_alone: [irq], default_left_alone, irqbalance }. 1 and a new reference, 0 when the ledger
 * has no report for id. */
int irq_report(struct state_store *store, const char *id, json_object **ret, struct nh_error **err);
