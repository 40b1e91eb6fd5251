/* CPU sets as bitmaps, and their two kernel text forms.
 *
 * List form ("0-3,8,10-11"): cpuset.cpus, linux.resources.cpu.cpus, *_list files.
 * Mask form ("ff,00000001"): hex in comma-separated 32-bit groups, most significant first, as
 * in /proc/irq/<n>/smp_affinity and default_smp_affinity.
 *
 * Ownership rule: a struct cpuset owns its word array; cpuset_clear() releases it. Parsers write
 * *ret only on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"

/* The kernel's largest NR_CPUS (CONFIG_NR_CPUS_RANGE_END) is 8192. */
#define CPUSET_MAX_CPUS 8192u

/* The longest CPU list parsed: every CPU below CPUSET_MAX_CPUS listed one by one ("0,1,...,8191")
 * is 38,803 bytes. Each range costs at most CPUSET_MAX_CPUS / 64 word writes, so parsing is
 * linear in the input. */
#define CPUSET_MAX_LIST_LEN 65536u

struct cpuset {
	uint64_t *words;
	size_t n_words;
};

void cpuset_clear(struct cpuset *s);
#define _cleanup_cpuset_ _cleanup_(cpuset_clear)

void cpuset_add(struct cpuset *s, unsigned cpu);
void cpuset_remove(struct cpuset *s, unsigned cpu);
bool cpuset_has(const struct cpuset *s, unsigned cpu);
size_t cpuset_count(const struct cpuset *s);
bool cpuset_is_empty(const struct cpuset *s);
bool cpuset_equal(const struct cpuset *a, const struct cpuset *b);
bool cpuset_intersects(const struct cpuset *a, const struct cpuset *b);
bool cpuset_is_subset(const struct cpuset *sub, const struct cpuset *super);
/* The highest CPU in the set, or -1 when empty. */
int cpuset_last(const struct cpuset *s);

void cpuset_copy(struct cpuset *dst, const struct cpuset *src);
void cpuset_union(struct cpuset *dst, const struct cpuset *src);
void cpuset_subtract(struct cpuset *dst, const struct cpuset *src);
void cpuset_intersect(struct cpuset *dst, const struct cpuset *src);

/* Parses a CPU list. Surrounding white space (sysfs adds a newline) is allowed; an empty string
 * is the empty set. Rejects empty items, reversed ranges, CPUs >= CPUSET_MAX_CPUS, signs,
 * anything but digits, '-' and ',', and lists longer than CPUSET_MAX_LIST_LEN. */
int cpuset_parse_list(const char *s, struct cpuset *ret, struct nh_error **err);

/* Parses a hex mask in 32-bit groups ("3", "ff,00000000", "0000,00000001"). */
int cpuset_parse_mask(const char *s, struct cpuset *ret, struct nh_error **err);

/* "0-3,8": consecutive CPUs as ranges, like the kernel.
 * The empty set is "". Caller frees. */
char *cpuset_format_list(const struct cpuset *s);

/* A mask covering at least `n_cpus` bits (rounded up to 32-bit groups), as the kernel prints it
 * for that many possible CPUs. Caller frees. */
char *cpuset_format_mask(const struct cpuset *s, unsigned n_cpus);
