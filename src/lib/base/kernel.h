/* Kernel facts: every file nodehook reads or writes under /proc and /sys, except the cgroup
 * file systems (tuning/cgroup.c), goes through this module, and through the sysroot.
 *
 * Node paths ("/proc/sys/kernel/osrelease") are absolute paths on the node; the functions here
 * open them under the sysroot (sysroot.h), so the unit tests point them at fake trees.
 *
 * Ownership rule: strings and buffers returned belong to the caller. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cpuset.h"
#include "error.h"

/* The sched-domain sysctl tree of kernels built with CONFIG_SCHED_DEBUG (before 5.13 under
 * /proc/sys): cpuN/domainM/flags. */
#define KERNEL_SCHED_DOMAIN_DIR "/proc/sys/kernel/sched_domain"

/* Reads a small kernel file (a sysctl, a sysfs or cgroupfs attribute) from an open fd: size
 * unknown (st_size is 0), read to EOF, trailing newline and spaces removed. `what` names the file
 * in messages. ENODEV (a cgroup removed between open and read) and ENOENT (a sysctl unregistered)
 * come back as -ENOENT without an error. */
int kernel_read_fd(int fd, const char *what, char **ret, struct nh_error **err);

/* kernel_read_fd() of <sysroot><node_path>, opened without following a final symlink. A missing
 * file is -ENOENT without an error. */
int kernel_read_file(const char *node_path, char **ret, struct nh_error **err);

/* Writes value and a newline in one write(), as echo(1) does, to <sysroot><node_path>. A missing
 * file (or one gone since open) is -ENOENT without an error. */
int kernel_write_file(const char *node_path, const char *value, struct nh_error **err)
    __attribute__((warn_unused_result));

/* The boot id (/proc/sys/kernel/random/boot_id). */
int kernel_boot_id(char **ret, struct nh_error **err);

/* Major and minor of the running kernel (/proc/sys/kernel/osrelease). */
int kernel_version(unsigned *ret_major, unsigned *ret_minor, struct nh_error **err);

/* Online CPUs (/sys/devices/system/cpu/online). */
int kernel_cpus_online(struct cpuset *ret, struct nh_error **err);

/* sysfs directory of one CPU: "/sys/devices/system/cpu/cpu<N>". */
#define KERNEL_CPU_DIR "/sys/devices/system/cpu/cpu"

/* Node path of an attribute of CPU cpu: KERNEL_CPU_DIR<cpu>/<rel>
 * ("power/pm_qos_resume_latency_us"). Caller frees. */
char *kernel_cpu_path(unsigned cpu, const char *rel);

/* One cpuidle state of a CPU: cpu<N>/cpuidle/state<index>, its "name" file. */
struct kernel_idle_state {
	unsigned index;
	char *name;
};
void kernel_idle_states_free(struct kernel_idle_state *v, size_t n);

/* The idle states of a CPU (cpu<N>/cpuidle/state*), ordered by index. A CPU without a cpuidle
 * directory (no cpuidle driver) is -ENOENT without an error. */
int kernel_cpu_idle_states(unsigned cpu, struct kernel_idle_state **ret, size_t *ret_n,
			   struct nh_error **err);

/* The cpufreq policy of a CPU: cpu<N>/cpufreq is a symlink to ../cpufreq/policy<M>, whose
 * related_cpus all share one governor. *ret_dir is the policy's node directory
 * ("/sys/devices/system/cpu/cpufreq/policy<M>"; the CPU's own cpufreq directory on kernels
 * where it is no link), *ret_related its related_cpus. No cpufreq for the CPU (no driver) is
 * -ENOENT without an error. */
int kernel_cpu_freq_policy(unsigned cpu, char **ret_dir, struct cpuset *ret_related,
			   struct nh_error **err);

/* Field 22 (starttime) of /proc/<pid>/stat. Returns 1 and the value; 0 if the process does not
 * exist or is a zombie (it has exited: as good as gone). */
int kernel_process_start_time(pid_t pid, uint64_t *ret, struct nh_error **err);

/* The executable of a process (/proc/<pid>/exe). Returns 1 and the path, 0 when it cannot be
 * read (the process is gone, or not ours to see). */
int kernel_process_exe(pid_t pid, char **ret);

/* The command line of a process (/proc/<pid>/cmdline): NUL-separated arguments, *ret_len bytes.
 * At most 1 MiB. */
int kernel_process_cmdline(pid_t pid, char **ret, size_t *ret_len, struct nh_error **err);

/* IRQs (/proc/irq). Affinities are read and written in list form (smp_affinity_list), the
 * default mask in mask form (default_smp_affinity has no list twin). */
#define KERNEL_IRQ_DIR "/proc/irq"
#define KERNEL_IRQ_DEFAULT_AFFINITY "/proc/irq/default_smp_affinity"
/* Larger than any IRQ number Linux hands out (NR_IRQS is at most a few 10^5). */
#define KERNEL_IRQ_MAX 1000000u

/* The IRQ numbers under /proc/irq, ascending. Only directory names made of digits (at most
 * KERNEL_IRQ_MAX) count; anything else there is skipped. */
int kernel_irq_list(unsigned **ret, size_t *ret_n, struct nh_error **err);

/* /proc/irq/<irq>/smp_affinity_list. -ENOENT without an error when the IRQ is gone. */
int kernel_irq_affinity(unsigned irq, struct cpuset *ret, struct nh_error **err);

/* Writes it. The kernel refuses a managed IRQ (kernel-spread queues) with EIO, or EPERM (6.18):
 * -EIO or -EPERM with an error; -ENOENT without one when the IRQ is gone. */
int kernel_irq_set_affinity(unsigned irq, const struct cpuset *cpus, struct nh_error **err)
    __attribute__((warn_unused_result));

/* /proc/irq/default_smp_affinity, and its width in bits (32 per comma-separated group), to
 * write it back in the form the kernel prints. */
int kernel_irq_default_affinity(struct cpuset *ret, unsigned *ret_width, struct nh_error **err);
int kernel_irq_set_default_affinity(const struct cpuset *cpus, unsigned width,
				    struct nh_error **err) __attribute__((warn_unused_result));

/* /sys/devices/system/cpu/cpu<cpu>/topology/thread_siblings_list: 1 and the set, 0 when the
 * file does not exist (no SMT topology exported). */
int kernel_cpu_thread_siblings(unsigned cpu, struct cpuset *ret, struct nh_error **err);

/* A process whose /proc/<pid>/comm is `comm`, not a zombie: 1 and its pid (the lowest), 0 when
 * there is none. */
int kernel_find_process(const char *comm, pid_t *ret, struct nh_error **err);
