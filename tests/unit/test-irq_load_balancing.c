/* irq-load-balancing and its irqbalance side on a FAKE /proc/irq and /sys tree under a scratch
 * sysroot (test-lb_util.h): a unit test must not move this machine's interrupts. The fake node
 * has 64 CPUs (masks of two 32-bit groups), SMT siblings N and N+32, and IRQs of every kind:
 * movable ones, ones that would be left without a CPU, one outside the container's CPUs, and a
 * managed one whose writes fail with EIO as the kernel's do (the write hook plays the kernel).
 * The real kernel is tested in tests/e2e/hook-irq.bats. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "cleanup.h"
#include "create_env.h"
#include "irq_load_balancing.h"
#include "irqbalance.h"
#include "lifecycle.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define A NH_ACTION_IRQ_LOAD_BALANCING
#define CFG "/etc/default/irqbalance"
#define MANAGED_IRQ "/proc/irq/14/smp_affinity_list"

static const char config_text[] = "# irqbalance config, as Debian ships it (abridged)\n"
				  "#IRQBALANCE_ONESHOT=\n"
				  "IRQBALANCE_BANNED_CPUS=00000001\n"
				  "# IRQBALANCE_BANNED_CPULIST\n"
				  "#IRQBALANCE_BANNED_CPULIST=\n"
				  "IRQBALANCE_ARGS=\"--policyscript=/x\"\n";

/* The managed IRQ refuses every write, as kernel-managed interrupts do; its file keeps its
 * content (the open's O_TRUNC, harmless on procfs, emptied the fake one). */
static int managed_eio(const char *path, const char *data, size_t len, void *userdata)
{
	(void)data, (void)len;
	if (strcmp(path, MANAGED_IRQ) != 0)
		return LBT_WRITE_PASS;
	lbt_put(userdata, MANAGED_IRQ, "0-63\n");
	return EIO;
}

static void build_node(struct lbt *t)
{
	lbt_put(t, "/proc/irq/default_smp_affinity", "ffffffff,ffffffff\n");
	lbt_put(t, "/proc/irq/10/smp_affinity_list", "0-63\n");
	lbt_put(t, "/proc/irq/11/smp_affinity_list", "4-7\n"); /* would be left without CPU */
	lbt_put(t, "/proc/irq/12/smp_affinity_list", "5\n");   /* the same */
	lbt_put(t, "/proc/irq/13/smp_affinity_list", "0-3\n"); /* not on the CPUs */
	lbt_put(t, MANAGED_IRQ, "0-63\n");
	lbt_put(t, "/proc/irq/15/smp_affinity_list", "0-4,40-41\n"); /* 5-7 were never in it */
	/* Not IRQs: names that are not plain numbers stay untouched. */
	lbt_put(t, "/proc/irq/abc/smp_affinity_list", "0-63\n");
	lbt_put(t, "/proc/irq/010/smp_affinity_list", "0-63\n");
	for (unsigned cpu = 0; cpu < 32; cpu++) {
		char path[96], list[32];
		snprintf(list, sizeof(list), "%u,%u\n", cpu, cpu + 32);
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
		lbt_put(t, path, list);
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu + 32);
		lbt_put(t, path, list);
	}
	lbt_put(t, CFG, config_text);
	lbt_put(t, "/var/lib/nodehook/.keep", "");
	lbt_on_write(managed_eio, t);
}

static void init(struct lbt *t)
{
	lbt_init(t, "0-63");
	build_node(t);
}

/* The node config: defaults, the persistent dir inside the sysroot; the irqbalance file found
 * by default (Debian's path, under the sysroot). */
static struct node_config config_of(const struct lbt *t)
{
	static char *every_namespace[] = {(char *)"*", NULL};
	struct node_config c = {0};
	c.persistent_dir = xasprintf("%s/var/lib/nodehook", t->root);
	c.actions[A].enabled = true;
	c.actions[A].allowed_namespaces = every_namespace; /* an update checks the policy again */
	return c;
}

static int irq_apply(struct lbt *t, const char *id, const char *cpus, const char *value,
		     struct nh_error **err)
{
	struct lbt_ctr c;
	lbt_ctr_init(&c, id, cpus, 100);
	struct node_config config = config_of(t);
	int r = lifecycle_apply(t->store, &config, &c.info, &c.rec, A, value, err);
	free(config.persistent_dir);
	lbt_ctr_clear(&c);
	return r < 0 ? r : 0;
}

static int irq_undo(struct lbt *t, const char *id, struct nh_error **err)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	int r = state_record_read(t->store, id, &rec, err);
	if (r <= 0)
		return r;
	struct node_config config = config_of(t);
	r = lifecycle_undo(t->store, &config, &rec, err);
	free(config.persistent_dir);
	return r;
}

#define apply_ok(t, id, cpus, value)                                                               \
	do {                                                                                       \
		_cleanup_error_ struct nh_error *e_ = NULL;                                        \
		assert_ok(irq_apply((t), (id), (cpus), (value), &e_), &e_);                        \
	} while (0)
#define undo_ok(t, id)                                                                             \
	do {                                                                                       \
		_cleanup_error_ struct nh_error *e_ = NULL;                                        \
		assert_ok(irq_undo((t), (id), &e_), &e_);                                          \
	} while (0)

/* A member of the record's details, as JSON text. */
static char *detail(struct lbt *t, const char *id, const char *key)
{
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t->store, id, &rec, &err), 1);
	json_object *v = NULL;
	assert_non_null(rec.actions[A].details);
	assert_true(json_object_object_get_ex(rec.actions[A].details, key, &v));
	return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static void assert_detail(struct lbt *t, const char *id, const char *key, const char *expected)
{
	_cleanup_free_ char *got = detail(t, id, key);
	assert_string_equal(got, expected);
}

static void test_values(void **state)
{
	(void)state;
	const struct action_ops *ops = action_lookup(A);
	const char *note = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(ops->parse_value("disable", &note, &err), 1);
	assert_null(note);
	assert_int_equal(ops->parse_value("housekeeping", &note, &err), 1);
	assert_null(note);
	assert_int_equal(ops->parse_value("true", &note, &err), 1);
	assert_non_null(note);
	assert_error(ops->parse_value("enable", &note, &err), &err, EINVAL,
		     "invalid value 'enable' (expected \"disable\" or \"housekeeping\"; \"true\" "
		     "is a deprecated \"disable\")");
	assert_string_equal(nh_action_to_string(A), "irq-load-balancing");
}

/* Banning 4-7 on 64 CPUs: the mask loses bits in its low group and keeps its width; IRQ 10
 * moves, 11 and 12 would have no CPU left and stay, 13 has none of them, the managed 14
 * refuses, 15 loses only the CPU it had. irqbalance's file: the old mask line goes, the list
 * comes in its place, every other byte stays. Undo: the tree as it was, byte for byte. */
static void test_disable(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "4-7", "disable");
	assert_file(&t, "/proc/irq/default_smp_affinity", "ffffffff,ffffff0f\n");
	assert_file(&t, "/proc/irq/10/smp_affinity_list", "0-3,8-63\n");
	assert_file(&t, "/proc/irq/11/smp_affinity_list", "4-7\n");
	assert_file(&t, "/proc/irq/12/smp_affinity_list", "5\n");
	assert_file(&t, "/proc/irq/13/smp_affinity_list", "0-3\n");
	assert_file(&t, MANAGED_IRQ, "0-63\n");
	assert_file(&t, "/proc/irq/15/smp_affinity_list", "0-3,40-41\n");
	assert_file(&t, "/proc/irq/abc/smp_affinity_list", "0-63\n");
	assert_file(&t, "/proc/irq/010/smp_affinity_list", "0-63\n");
	assert_detail(&t, "a", "banned_cpus", "\"4-7\"");
	assert_detail(&t, "a", "irqs_moved", "[10,15]");
	assert_detail(&t, "a", "irqs_left_alone", "[11,12]");
	_cleanup_free_ char *refused = detail(&t, "a", "irqs_refused");
	assert_non_null(strstr(refused, "\"irq\":14"));
	assert_non_null(strstr(refused, "Input\\/output error"));
	assert_file(&t, CFG,
		    "# irqbalance config, as Debian ships it (abridged)\n"
		    "#IRQBALANCE_ONESHOT=\n"
		    "IRQBALANCE_BANNED_CPULIST=4-7\n"
		    "# IRQBALANCE_BANNED_CPULIST\n"
		    "#IRQBALANCE_BANNED_CPULIST=\n"
		    "IRQBALANCE_ARGS=\"--policyscript=/x\"\n");
	assert_true(lbt_exists(&t, "/var/lib/nodehook/" IRQBALANCE_BACKUP));
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, "irq.json"));
	assert_false(lbt_has_record(&t, "a"));
	undo_ok(&t, "a"); /* a poststop run twice */
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* housekeeping: the first CPU and its SMT sibling (4 and 36) keep IRQs. */
static void test_housekeeping(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	_cleanup_cpuset_ struct cpuset cpus = {0}, keep = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(cpuset_parse_list("4-7,36-39", &cpus, &err), &err);
	assert_ok(irq_housekeeping_cpus(&cpus, &keep, &err), &err);
	_cleanup_free_ char *list = cpuset_format_list(&keep);
	assert_string_equal(list, "4,36");

	apply_ok(&t, "h", "4-7,36-39", "housekeeping");
	assert_detail(&t, "h", "banned_cpus", "\"5-7,37-39\"");
	assert_file(&t, "/proc/irq/default_smp_affinity", "ffffff1f,ffffff1f\n");
	assert_file(&t, "/proc/irq/10/smp_affinity_list", "0-4,8-36,40-63\n");
	assert_file(&t, "/proc/irq/11/smp_affinity_list", "4\n");
	assert_detail(&t, "h", "irqs_left_alone", "[12]");
	undo_ok(&t, "h");
	assert_snapshot(before, &t);

	/* No topology exported: the first CPU alone. */
	lbt_remove(&t, "/sys/devices/system/cpu/cpu4/topology");
	cpuset_clear(&keep);
	assert_ok(irq_housekeeping_cpus(&cpus, &keep, &err), &err);
	_cleanup_free_ char *alone = cpuset_format_list(&keep);
	assert_string_equal(alone, "4");
	lbt_fini(&t);
}

/* Two containers sharing CPUs 6-7, undone in either order: a CPU comes back only when no one
 * bans it any more, and the end is the start, byte for byte. */
static void two_containers(bool a_first)
{
	struct lbt t;
	init(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "4-7", "disable");
	apply_ok(&t, "b", "6-9", "disable");
	assert_file(&t, "/proc/irq/10/smp_affinity_list", "0-3,10-63\n");
	assert_file(&t, "/proc/irq/default_smp_affinity", "ffffffff,fffffc0f\n");
	_cleanup_free_ char *cfg = lbt_get(&t, CFG);
	assert_non_null(strstr(cfg, "IRQBALANCE_BANNED_CPULIST=4-9\n"));
	undo_ok(&t, a_first ? "a" : "b");
	assert_file(&t, "/proc/irq/10/smp_affinity_list", a_first ? "0-5,10-63\n" : "0-3,8-63\n");
	assert_file(&t, "/proc/irq/default_smp_affinity",
		    a_first ? "ffffffff,fffffc3f\n" : "ffffffff,ffffff0f\n");
	free(cfg);
	cfg = lbt_get(&t, CFG);
	assert_non_null(strstr(cfg, a_first ? "IRQBALANCE_BANNED_CPULIST=6-9\n"
					    : "IRQBALANCE_BANNED_CPULIST=4-7\n"));
	undo_ok(&t, a_first ? "b" : "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

static void test_two_containers_a_first(void **state)
{
	(void)state;
	two_containers(true);
}

static void test_two_containers_b_first(void **state)
{
	(void)state;
	two_containers(false);
}

/* What others did meanwhile stays: irqbalance moved IRQ 10 to CPUs 0-1 while the container ran;
 * undo gives back only the CPUs nodehook took (4-7), not 2-3. An IRQ that went with its device
 * is no error. */
static void test_others_changes_kept(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	apply_ok(&t, "a", "4-7", "disable");
	lbt_put(&t, "/proc/irq/10/smp_affinity_list", "0-1\n");
	lbt_remove(&t, "/proc/irq/15");
	undo_ok(&t, "a");
	assert_file(&t, "/proc/irq/10/smp_affinity_list", "0-1,4-7\n");
	assert_false(lbt_has_doc(&t, "irq.json"));
	lbt_fini(&t);
}

/* The runtime's update gives the container new CPUs: the bans follow (the old CPUs come back,
 * the new ones go); undo then restores the start. */
static void test_follows_update(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "4-7", "disable");
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t.store, "a", &rec, &err), 1);
	_cleanup_cpuset_ struct cpuset cpus = {0};
	assert_ok(cpuset_parse_list("8-11", &cpus, &err), &err);
	struct node_config config = config_of(&t);
	assert_int_equal(lifecycle_update_cpus(t.store, &config, &rec, &cpus, &err), 1);
	free(config.persistent_dir);
	assert_file(&t, "/proc/irq/10/smp_affinity_list", "0-7,12-63\n");
	assert_file(&t, "/proc/irq/default_smp_affinity", "ffffffff,fffff0ff\n");
	assert_detail(&t, "a", "banned_cpus", "\"8-11\"");
	_cleanup_free_ char *cfg = lbt_get(&t, CFG);
	assert_non_null(strstr(cfg, "IRQBALANCE_BANNED_CPULIST=8-11\n"));
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* Wider masks: 96 possible CPUs print three groups; the width is kept. */
static void test_three_group_mask(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-95");
	build_node(&t);
	lbt_put(&t, "/proc/irq/default_smp_affinity", "ffffffff,ffffffff,ffffffff\n");
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "33,64-65", "disable");
	assert_file(&t, "/proc/irq/default_smp_affinity", "fffffffc,fffffffd,ffffffff\n");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* --- irqbalance's file ------------------------------------------------------------------------ */

static void render_case(const char *in, const char *list, const char *expected)
{
	size_t n = 0;
	_cleanup_free_ char *out = irqbalance_config_render(in, strlen(in), list, &n);
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, expected);
}

static void test_render(void **state)
{
	(void)state;
	/* Both variables set: one line in place of the first, the rest kept. */
	render_case("A=1\n  IRQBALANCE_BANNED_CPULIST=0\n# c\nexport IRQBALANCE_BANNED_CPUS=ff\n",
		    "3-5", "A=1\nIRQBALANCE_BANNED_CPULIST=3-5\n# c\n");
	/* Neither: appended, with the missing final newline added first. */
	render_case("A=1", "3", "A=1\nIRQBALANCE_BANNED_CPULIST=3\n");
	render_case("", "3", "IRQBALANCE_BANNED_CPULIST=3\n");
	/* Comments that name them are not assignments. */
	render_case("#IRQBALANCE_BANNED_CPUS=1\n", "2",
		    "#IRQBALANCE_BANNED_CPUS=1\nIRQBALANCE_BANNED_CPULIST=2\n");
	/* NULL: both removed. */
	render_case("IRQBALANCE_BANNED_CPUS=1\r\nB\n", NULL, "B\n");
}

/* An administrator edits the file while CPUs are banned: at the end the edit stays, our line
 * goes, the original lines of the two variables come back. */
static void test_config_edited_meanwhile(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	apply_ok(&t, "a", "4-7", "disable");
	_cleanup_free_ char *cfg = lbt_get(&t, CFG);
	_cleanup_free_ char *edited = xasprintf("%sIRQBALANCE_ONESHOT=1\n", cfg);
	lbt_put(&t, CFG, edited);
	undo_ok(&t, "a");
	assert_file(&t, CFG,
		    "# irqbalance config, as Debian ships it (abridged)\n"
		    "#IRQBALANCE_ONESHOT=\n"
		    "# IRQBALANCE_BANNED_CPULIST\n"
		    "#IRQBALANCE_BANNED_CPULIST=\n"
		    "IRQBALANCE_ARGS=\"--policyscript=/x\"\n"
		    "IRQBALANCE_ONESHOT=1\n"
		    "IRQBALANCE_BANNED_CPUS=00000001\n");
	assert_false(lbt_exists(&t, "/var/lib/nodehook/" IRQBALANCE_BACKUP));
	lbt_fini(&t);
}

/* No irqbalance file anywhere, or "" in the node config: the IRQ writes are the whole job. */
static void test_no_irqbalance_config(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	lbt_remove(&t, CFG);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "4-7", "disable");
	_cleanup_free_ char *how = detail(&t, "a", "irqbalance");
	assert_non_null(strstr(how, "no irqbalance config file"));
	assert_non_null(strstr(how, "daemon: not running"));
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* The reboot: the records are void (another boot id; here the state store is new), the file
 * still bans CPUs. The first run in the new boot (a guard, or gc's) puts it back. */
static void test_reboot_restore(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	_cleanup_free_ char *cfg_before = lbt_get(&t, CFG);
	apply_ok(&t, "a", "4-7", "disable");
	_cleanup_free_ char *cfg_during = lbt_get(&t, CFG);
	assert_string_not_equal(cfg_during, cfg_before);
	lbt_put(&t, "/proc/sys/kernel/random/boot_id", "0b7d9c1e-1111-4e7b-9c1f-2a6d4e8b0c11\n");
	struct node_config config = config_of(&t);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lifecycle_guard(t.store, &config, &err), &err);
	assert_file(&t, CFG, cfg_before);
	assert_false(lbt_exists(&t, "/var/lib/nodehook/" IRQBALANCE_BACKUP));
	/* Same boot: nothing to do. */
	assert_int_equal(irqbalance_boot_check(&config, t.store, &err), 0);
	free(config.persistent_dir);
	lbt_fini(&t);
}

/* --- the daemon: a restart under systemd, coalesced ---------------------------------------------
 */

/* A fake node where irqbalance (pid 777) runs under systemd, with no socket that answers, and a
 * systemctl on PATH that counts its restarts. Runs in a child in a network namespace of its own:
 * abstract sockets are per namespace, so an irqbalance that runs on this host (the e2e suite
 * starts one) is never told anything by a unit test. */
static int restart_child(struct lbt *t, const char *bin)
{
	if (unshare(CLONE_NEWNET) < 0)
		return 10;
	_cleanup_free_ char *path = xasprintf("%s:/usr/bin:/bin", bin);
	setenv("PATH", path, 1);
	struct node_config config = config_of(t);
	_cleanup_cpuset_ struct cpuset banned = {0};
	cpuset_add(&banned, 5);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *how1 = NULL, *how2 = NULL;
	if (irqbalance_sync(&config, t->store, &banned, &how1, &err) < 0 ||
	    !strstr(how1, "restarted (systemctl restart irqbalance)"))
		return 11;
	/* A second change at once: deferred, marked pending. */
	if (irqbalance_sync(&config, t->store, &banned, &how2, &err) < 0 ||
	    !strstr(how2, "restart deferred"))
		return 12;
	_cleanup_free_ char *pending = xasprintf("%s/irqbalance-restart.pending", t->store->path);
	if (access(pending, F_OK) != 0)
		return 13;
	/* The interval passed (the stamp made older): the next run does the pending restart. */
	_cleanup_free_ char *stamp = xasprintf("%s/irqbalance-restart", t->store->path);
	struct timespec old[2] = {{.tv_sec = time(NULL) - 60}, {.tv_sec = time(NULL) - 60}};
	if (utimensat(AT_FDCWD, stamp, old, 0) < 0)
		return 14;
	if (irqbalance_boot_check(&config, t->store, &err) < 0 || access(pending, F_OK) == 0)
		return 15;
	free(config.persistent_dir);
	return 0;
}

static void test_restart_coalesced(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	lbt_put(&t, "/proc/777/comm", "irqbalance\n");
	lbt_put(&t, "/proc/777/stat",
		"777 (irqbalance) S 1 777 777 0 -1 4194560 200 0 0 0 0 0 0 0 20 0 1 0 5555 1 1\n");
	lbt_put(&t, "/run/systemd/system/.keep", "");
	_cleanup_free_ char *bin = tu_mkdtemp();
	_cleanup_free_ char *count = tu_path(bin, "restarts");
	_cleanup_free_ char *script = xasprintf("#!/bin/sh\n[ \"$*\" = 'restart irqbalance' ] && "
						"echo x >>'%s'\n",
						count);
	_cleanup_free_ char *systemctl = tu_write_file(bin, "systemctl", script, strlen(script));
	assert_int_equal(chmod(systemctl, 0755), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(restart_child(&t, bin));
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	size_t len = 0;
	_cleanup_free_ char *restarts = tu_read_file(count, &len);
	assert_string_equal(restarts,
			    "x\nx\n"); /* the first, and the pending one; not the second */
	tu_rm_rf(bin);
	lbt_fini(&t);
}

/* --- crashes ---------------------------------------------------------------------------------- */

static int scenario_apply_a(struct lbt *t)
{
	lbt_on_write(managed_eio, t);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = irq_apply(t, "a", "4-7", "disable", &err);
	if (r < 0)
		fprintf(stderr, "apply a: %s\n", err->msg);
	return r;
}

static int scenario_undo_a(struct lbt *t)
{
	lbt_on_write(managed_eio, t);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = irq_undo(t, "a", &err);
	if (r < 0)
		fprintf(stderr, "undo a: %s\n", err->msg);
	return r;
}

static const struct lbt_scenario scenarios[] = {
    {"apply-a", scenario_apply_a},
    {"undo-a", scenario_undo_a},
    {NULL, NULL},
};

static char *build_plain(struct lbt *t)
{
	build_node(t);
	return lbt_snapshot(t);
}

static char *build_with_a(struct lbt *t)
{
	build_node(t);
	char *s = lbt_snapshot(t);
	apply_ok(t, "a", "4-7", "disable");
	return s;
}

/* b (CPUs 6-9) runs throughout: after a's crash and recovery the tree is as b alone left it. */
static char *build_with_b(struct lbt *t)
{
	build_node(t);
	apply_ok(t, "b", "6-9", "housekeeping");
	return lbt_snapshot(t);
}

/* Recovery as gc does it: undo from whatever record and ledger the crash left. */
static void recover_a(struct lbt *t)
{
	lbt_on_write(managed_eio, t);
	undo_ok(t, "a");
	assert_false(lbt_has_record(t, "a"));
}

static void test_crash_apply(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_plain, "apply-a", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-63") >= 4);
}

static void test_crash_apply_beside_another(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_with_b, "apply-a", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-63") >= 4);
}

static void test_crash_undo(void **state)
{
	(void)state;
	const struct lbt_crash_case cc = {build_with_a, "undo-a", recover_a};
	assert_true(lbt_crash_each_point(&cc, "0-63") >= 2);
}

/* --- the wrapper's environment ---------------------------------------------------------------- */

static void test_create_env(void **state)
{
	(void)state;
	struct lbt t;
	init(&t);
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *path = tu_path(dir, "config.json");
	static const char spec[] =
	    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH=/bin\","
	    "\"NODEHOOK_HOUSEKEEPING_CPUS=junk\"]},"
	    "\"linux\":{\"resources\":{\"cpu\":{\"cpus\":\"4-7,36-39\"}}},"
	    "\"annotations\":{\"irq-load-balancing.nodehook.io\":\"housekeeping\"}}";
	struct node_config config = config_of(&t);
	config.annotation_domains = (char *[]){"nodehook.io", NULL};
	config.actions[A].allowed_namespaces = (char *[]){"*", NULL};
	_cleanup_oci_config_ struct oci_config *oci = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(oci_config_parse(spec, strlen(spec), &oci, &err), &err);
	assert_int_equal(create_env_inject(&config, oci, "c1", dir, path, &err), 1);
	size_t len = 0;
	_cleanup_free_ char *text = tu_read_file(path, &len);
	assert_non_null(strstr(text, "\"env\":[\"PATH=/bin\",\"NODEHOOK_HOUSEKEEPING_CPUS=4,36\","
				     "\"OPENSHIFT_HOUSEKEEPING_CPUS=4,36\"]"));

	/* "disable": nothing to tell, the file is not written. */
	static const char spec2[] =
	    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},"
	    "\"linux\":{\"resources\":{\"cpu\":{\"cpus\":\"4\"}}},"
	    "\"annotations\":{\"irq-load-balancing.nodehook.io\":\"disable\"}}";
	_cleanup_oci_config_ struct oci_config *oci2 = NULL;
	assert_ok(oci_config_parse(spec2, strlen(spec2), &oci2, &err), &err);
	assert_int_equal(create_env_inject(&config, oci2, "c2", dir, path, &err), 0);
	free(config.persistent_dir);
	tu_rm_rf(dir);
	lbt_fini(&t);
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_values);
	tu_suite_add_test(&s, test_disable);
	tu_suite_add_test(&s, test_housekeeping);
	tu_suite_add_test(&s, test_two_containers_a_first);
	tu_suite_add_test(&s, test_two_containers_b_first);
	tu_suite_add_test(&s, test_others_changes_kept);
	tu_suite_add_test(&s, test_follows_update);
	tu_suite_add_test(&s, test_three_group_mask);
	tu_suite_add_test(&s, test_render);
	tu_suite_add_test(&s, test_config_edited_meanwhile);
	tu_suite_add_test(&s, test_no_irqbalance_config);
	tu_suite_add_test(&s, test_reboot_restore);
	tu_suite_add_test(&s, test_restart_coalesced);
	tu_suite_add_test(&s, test_crash_apply);
	tu_suite_add_test(&s, test_crash_apply_beside_another);
	tu_suite_add_test(&s, test_crash_undo);
	tu_suite_add_test(&s, test_create_env);
	return tu_suite_run(&s, "irq_load_balancing");
}
