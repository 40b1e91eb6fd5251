/* irq-load-balancing, the parts other modules use: the housekeeping CPUs (the runtime wrapper
 * puts them into the container's environment).
 *
 * Ownership rule: sets returned belong to the caller. */
#pragma once

#include "cpuset.h"
#include "error.h"

/* The CPUs of `cpus` that keep IRQs in "housekeeping" mode: the first and its thread siblings
 * (topology/thread_siblings_list; a missing file: that CPU alone), within cpus. */
int irq_housekeeping_cpus(const struct cpuset *cpus, struct cpuset *ret, struct nh_error **err);
