/* cpu-c-states and cpu-freq-governor (cpu_tuning.h) and their shared ledger (cpu_ledger.h), on
 * FAKE /sys trees under a scratch sysroot.
 *
 * Why fake: this machine's cpuidle driver (haltpoll) has two states and no cpufreq driver at all,
 * and a unit test must not change the node it runs on. The trees below are laid out as the
 * kernel shows them: cpuN/power/pm_qos_resume_latency_us, cpuN/cpuidle/stateK/{name,disable},
 * cpufreq/policyM/{related_cpus,scaling_governor,scaling_available_governors} with cpuN/cpufreq
 * linking to its policy. What a fake cannot show is the kernel refusing a value; the e2e tier
 * (tests/e2e/hook-cstates.bats) writes the real cpuidle and PM QoS files of this machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cpu_tuning.h"
#include "lifecycle.h"
#include "strv.h"
#include "test-lb_util.h"
#include "xalloc.h"

#define CPU "/sys/devices/system/cpu/"
#define QOS(n) CPU "cpu" #n "/power/pm_qos_resume_latency_us"
#define IDLE(n, k) CPU "cpu" #n "/cpuidle/state" #k "/disable"
#define POLICY(m) CPU "cpufreq/policy" #m

/* n CPUs with PM QoS at 0 and the idle states POLL, "haltpoll idle" and C6 enabled. */
static void fake_cpuidle(struct lbt *t, unsigned n)
{
	static const char *const names[] = {"POLL", "haltpoll idle", "C6"};
	for (unsigned cpu = 0; cpu < n; cpu++) {
		_cleanup_free_ char *qos =
		    xasprintf(CPU "cpu%u/power/pm_qos_resume_latency_us", cpu);
		lbt_put(t, qos, "0\n");
		for (unsigned k = 0; k < 3; k++) {
			_cleanup_free_ char *name =
			    xasprintf(CPU "cpu%u/cpuidle/state%u/name", cpu, k);
			_cleanup_free_ char *dis =
			    xasprintf(CPU "cpu%u/cpuidle/state%u/disable", cpu, k);
			_cleanup_free_ char *text = xasprintf("%s\n", names[k]);
			lbt_put(t, name, text);
			lbt_put(t, dis, "0\n");
		}
	}
}

/* cpufreq policies: policy m governs CPUs related[m]; cpuN/cpufreq links to its policy (or is
 * the policy's own directory, as on old kernels, when as_dirs). */
static void fake_cpufreq(struct lbt *t, const char *const *related, bool as_dirs)
{
	for (unsigned m = 0; related[m]; m++) {
		_cleanup_cpuset_ struct cpuset cpus = {0};
		_cleanup_error_ struct nh_error *err = NULL;
		assert_ok(cpuset_parse_list(related[m], &cpus, &err), &err);
		_cleanup_free_ char *rel = xasprintf("%s\n", related[m]);
		for (int c = 0; c <= cpuset_last(&cpus); c++) {
			if (!cpuset_has(&cpus, (unsigned)c))
				continue;
			_cleanup_free_ char *dir = as_dirs ? xasprintf(CPU "cpu%d/cpufreq", c)
							   : xasprintf(CPU "cpufreq/policy%u", m);
			_cleanup_free_ char *f1 = xasprintf("%s/related_cpus", dir);
			_cleanup_free_ char *f2 = xasprintf("%s/scaling_governor", dir);
			_cleanup_free_ char *f3 = xasprintf("%s/scaling_available_governors", dir);
			lbt_put(t, f1, rel);
			lbt_put(t, f2, "powersave\n");
			lbt_put(t, f3, "performance powersave\n");
			if (as_dirs)
				continue;
			_cleanup_free_ char *cpu_dir = xasprintf("%s" CPU "cpu%d", t->root, c);
			_cleanup_free_ char *keep = xasprintf(CPU "cpu%d/.keep", c);
			lbt_put(t, keep, "");
			_cleanup_free_ char *link = xasprintf("%s/cpufreq", cpu_dir);
			_cleanup_free_ char *target = xasprintf("../cpufreq/policy%u", m);
			if (access(link, F_OK) != 0 && symlink(target, link) < 0)
				fail_msg("symlink %s: %s", link, strerror(errno));
		}
	}
}

/* --- grammars ------------------------------------------------------------------------------ */

static void test_cstates_grammar_good(void **state)
{
	(void)state;
	static const struct {
		const char *value, *latency, *states;
	} good[] = {
	    {"enable", "0", NULL},
	    {"disable", "n/a", NULL},
	    {"max_latency:1", "1", NULL},
	    {"max_latency:2147483646", "2147483646", NULL},
	    {"disable_states:POLL", NULL, "POLL"},
	    {"disable_states:POLL,haltpoll idle", NULL, "POLL|haltpoll idle"},
	    {"max_latency:20;disable_states:C6", "20", "C6"},
	    {"enable;disable_states:C6,C1E", "0", "C6|C1E"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		_cleanup_cstates_request_ struct cstates_request req = {0};
		_cleanup_error_ struct nh_error *err = NULL;
		assert_ok(cstates_parse(good[i].value, &req, &err), &err);
		if (good[i].latency)
			assert_string_equal(req.latency, good[i].latency);
		else
			assert_null(req.latency);
		if (good[i].states) {
			_cleanup_free_ char *j = strv_join((const char *const *)req.idle_off,
							   strv_length(req.idle_off), "|");
			assert_string_equal(j, good[i].states);
		} else {
			assert_null(req.idle_off);
		}
	}
}

static void test_cstates_grammar_hostile(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "Enable",
	    "enable ",
	    " disable",
	    "true",
	    "max_latency:0",
	    "max_latency:-1",
	    "max_latency:+5",
	    "max_latency:05",
	    "max_latency:1.5",
	    "max_latency:",
	    "max_latency:x",
	    "max_latency:2147483647",
	    "max_latency:99999999999",
	    "max_latency:1;",
	    "disable_states:",
	    "disable_states:POLL,",
	    "disable_states:,POLL",
	    "disable_states:POLL,POLL",
	    "disable_states: POLL",
	    "disable_states:POLL ",
	    "disable_states:ABCDEFGHIJKLMNOP",
	    "disable_states:a\tb",
	    "disable_states:a\nb",
	    "disable_states:../../x;enable",
	    "disable;disable",
	    "disable_states:A;disable",
	    "max_latency:5;max_latency:6",
	    "disable_states:\xc3\xa9",
	    "disable_states:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cstates_request req = {0};
		_cleanup_error_ struct nh_error *err = NULL;
		int r = cstates_parse(bad[i], &req, &err);
		if (r != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err->msg, "expected \"enable\", \"disable\" or "
						 "\"max_latency:N\""));
		assert_null(req.latency);
	}
}

static void test_governor_grammar(void **state)
{
	(void)state;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(governor_parse("performance", &err), &err);
	assert_ok(governor_parse("intel_cpufreq-x", &err), &err);
	static const char *const bad[] = {"",	 "perf ormance",     "../x",
					  "a/b", "0123456789abcdef", "performance\n",
					  "x;y", "\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = governor_parse(bad[i], &err);
		if (r != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err->msg, "expected a cpufreq governor name"));
		err = nh_error_free(err);
	}
}

/* --- plans against what the node's CPUs have ------------------------------------------------- */

static struct cpuset cpus_of(const char *list)
{
	struct cpuset s = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(cpuset_parse_list(list, &s, &err), &err);
	return s;
}

/* cstates_parse and cstates_plan of value for the CPUs in list. */
static int plan_cstates(const char *value, const char *list, struct cpu_setting **v, size_t *n,
			struct nh_error **err)
{
	_cleanup_cstates_request_ struct cstates_request req = {0};
	_cleanup_cpuset_ struct cpuset cpus = cpus_of(list);
	int r = cstates_parse(value, &req, err);
	return r < 0 ? r : cstates_plan(&req, &cpus, v, n, err);
}

static void test_cstates_unknown_state(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	_cleanup_error_ struct nh_error *err = NULL;
	struct cpu_setting *v = NULL;
	size_t n = 0;
	int r = plan_cstates("disable_states:POLL,C7", "2-3", &v, &n, &err);
	assert_error(r, &err, EINVAL,
		     "CPU 2 has no idle state named \"C7\" (it has: \"POLL\", \"haltpoll idle\", "
		     "\"C6\")");
	lbt_fini(&t);
}

static void test_cstates_no_driver(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-1");
	lbt_put(&t, QOS(1), "0\n");
	_cleanup_error_ struct nh_error *err = NULL;
	struct cpu_setting *v = NULL;
	size_t n = 0;
	assert_error(plan_cstates("disable_states:POLL", "1", &v, &n, &err), &err, ENODEV,
		     "CPU 1 has no cpuidle states (no cpuidle driver)");
	lbt_fini(&t);
}

static void test_governor_plan_errors(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	static const char *const related[] = {"0-1", "2", "3", NULL};
	fake_cpufreq(&t, related, false);
	_cleanup_error_ struct nh_error *err = NULL;
	struct cpu_setting *v = NULL;
	size_t n = 0;
	_cleanup_cpuset_ struct cpuset one = cpus_of("1");
	assert_error(governor_plan("performance", &one, &v, &n, &err), &err, EPERM,
		     "CPU 1: cpufreq policy0 governs CPUs 0-1, not all the container's (1): its "
		     "governor would change CPUs the container does not own");
	_cleanup_cpuset_ struct cpuset two = cpus_of("2-3");
	assert_error(governor_plan("schedutil", &two, &v, &n, &err), &err, EINVAL,
		     "governor \"schedutil\" is not available for CPU 2 (policy1 has: "
		     "performance powersave)");
	_cleanup_cpuset_ struct cpuset five = cpus_of("5");
	assert_error(governor_plan("performance", &five, &v, &n, &err), &err, ENODEV,
		     "CPU 5 has no cpufreq policy (no cpufreq driver)");
	lbt_fini(&t);
}

/* --- apply and undo through the ledger ----------------------------------------------------- */

/* Apply as the hook does: lifecycle_apply() of the action the ledger belongs to, with value. */
static int apply_plan(struct lbt *t, struct lbt_ctr *c, const char *ledger, const char *value,
		      struct nh_error **err)
{
	enum nh_action a = strcmp(ledger, CSTATES_LEDGER) == 0 ? NH_ACTION_CPU_C_STATES
							       : NH_ACTION_CPU_FREQ_GOVERNOR;
	struct node_config config = lbt_config("auto");
	return lifecycle_apply(t->store, &config, &c->info, &c->rec, a, value, err);
}

static void apply_ok(struct lbt *t, const char *id, const char *cpus, const char *ledger,
		     const char *value)
{
	struct lbt_ctr c;
	lbt_ctr_init(&c, id, cpus, 100);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(apply_plan(t, &c, ledger, value, &err), &err);
	lbt_ctr_clear(&c);
}

/* Undo as at poststop: lifecycle_undo() of the stored record. */
static void undo_ok(struct lbt *t, const char *id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(lbt_undo(t, id, &err), &err);
}

static void test_cstates_apply_undo(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1-2", CSTATES_LEDGER, "max_latency:20;disable_states:POLL,C6");
	assert_file(&t, QOS(1), "20\n");
	assert_file(&t, QOS(2), "20\n");
	assert_file(&t, QOS(0), "0\n");
	assert_file(&t, IDLE(1, 0), "1\n");
	assert_file(&t, IDLE(1, 1), "0\n");
	assert_file(&t, IDLE(2, 2), "1\n");
	assert_true(lbt_has_doc(&t, CSTATES_LEDGER));
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, CSTATES_LEDGER));
	undo_ok(&t, "a"); /* a second poststop: nothing */
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* CRI-O #7827: a container started again before its undo ran must not record its own value as
 * the original. */
static void test_save_once_restart(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	lbt_put(&t, QOS(1), "100\n");
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1", CSTATES_LEDGER, "disable");
	assert_file(&t, QOS(1), "n/a\n");
	apply_ok(&t, "a", "1", CSTATES_LEDGER, "disable"); /* restarted, record kept */
	state_record_remove(t.store, "a", NULL);
	apply_ok(&t, "a", "1", CSTATES_LEDGER, "max_latency:5"); /* record lost, new value */
	assert_file(&t, QOS(1), "5\n");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* Two containers on one CPU (a replacement started before the old one is deleted): the first
 * to come records the original, the last to go restores it, in either order. */
static void two_containers(bool first_stops_first)
{
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1-2", CSTATES_LEDGER, "disable;disable_states:C6");
	apply_ok(&t, "b", "2-3", CSTATES_LEDGER, "disable;disable_states:C6");
	assert_file(&t, QOS(3), "n/a\n");
	undo_ok(&t, first_stops_first ? "a" : "b");
	assert_file(&t, QOS(2), "n/a\n"); /* still held */
	assert_file(&t, IDLE(2, 2), "1\n");
	assert_file(&t, first_stops_first ? QOS(1) : QOS(3), "0\n");
	assert_file(&t, first_stops_first ? QOS(3) : QOS(1), "n/a\n");
	undo_ok(&t, first_stops_first ? "b" : "a");
	assert_snapshot(before, &t);
	assert_false(lbt_has_doc(&t, CSTATES_LEDGER));
	lbt_fini(&t);
}

static void test_two_containers_first_stops_first(void **state)
{
	(void)state;
	two_containers(true);
}

static void test_two_containers_last_stops_first(void **state)
{
	(void)state;
	two_containers(false);
}

static void test_conflict_refused(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	apply_ok(&t, "a", "1", CSTATES_LEDGER, "max_latency:10");
	_cleanup_free_ char *held = lbt_snapshot(&t);
	struct lbt_ctr c;
	lbt_ctr_init(&c, "b", "1", 101);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = apply_plan(&t, &c, CSTATES_LEDGER, "disable", &err);
	assert_error(r, &err, EBUSY,
		     "CPU 1: " QOS(1) " is held at '10' by container a; this container asks 'n/a'");
	lbt_ctr_clear(&c);
	assert_snapshot(held, &t); /* refused before any write */
	undo_ok(&t, "a");
	assert_file(&t, QOS(1), "0\n");
	lbt_fini(&t);
}

static void test_holders(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	apply_ok(&t, "a", "1", CSTATES_LEDGER, "disable");
	apply_ok(&t, "b", "1-2", CSTATES_LEDGER, "disable");
	_cleanup_strv_ char **ids = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(cpu_ledger_holders(t.store, CSTATES_LEDGER, &ids, &err), &err);
	_cleanup_free_ char *j = strv_join((const char *const *)ids, strv_length(ids), ",");
	assert_string_equal(j, "a,b");
	undo_ok(&t, "a");
	undo_ok(&t, "b");
	lbt_fini(&t);
}

/* What status shows: per CPU and setting, [old, new], old being the first holder's original. */
static void test_details(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	apply_ok(&t, "a", "3", CSTATES_LEDGER, "max_latency:9");
	struct lbt_ctr c;
	lbt_ctr_init(&c, "b", "3", 101);
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(
	    apply_plan(&t, &c, CSTATES_LEDGER, "max_latency:9;disable_states:haltpoll idle", &err),
	    &err);
	json_object *d = c.rec.actions[NH_ACTION_CPU_C_STATES].details;
	assert_string_equal(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE),
			    "{\"cpu3/pm_qos_resume_latency_us\":[\"0\",\"9\"],"
			    "\"cpu3/cpuidle/haltpoll idle\":[\"0\",\"1\"]}");
	assert_string_equal(c.rec.actions[NH_ACTION_CPU_C_STATES].backend, "sysfs");
	assert_string_equal(c.rec.actions[NH_ACTION_CPU_C_STATES].cpus, "3");
	lbt_ctr_clear(&c);
	undo_ok(&t, "a");
	undo_ok(&t, "b");
	lbt_fini(&t);
}

/* The runtime's `update` gives the container new CPUs: the old ones get their originals back,
 * the new ones the value (lifecycle_update_cpus: undo, then apply with the record's value). */
static void test_update_follows_cpus(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "a", "1-2", CSTATES_LEDGER, "disable;disable_states:POLL");
	_cleanup_(container_record_clear) struct container_record rec = {0};
	_cleanup_error_ struct nh_error *err = NULL;
	assert_int_equal(state_record_read(t.store, "a", &rec, &err), 1);
	_cleanup_cpuset_ struct cpuset now = cpus_of("2-3");
	struct node_config config = lbt_config("auto");
	assert_int_equal(lifecycle_update_cpus(t.store, &config, &rec, &now, &err), 1);
	assert_file(&t, QOS(1), "0\n");
	assert_file(&t, IDLE(1, 0), "0\n");
	assert_file(&t, QOS(2), "n/a\n");
	assert_file(&t, QOS(3), "n/a\n");
	assert_file(&t, IDLE(3, 0), "1\n");
	assert_string_equal(rec.actions[NH_ACTION_CPU_C_STATES].cpus, "2-3");
	undo_ok(&t, "a");
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* gc: a ledger entry whose record was lost is found (holders) and undone. */
static void test_orphan_found_by_gc(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-3");
	fake_cpuidle(&t, 4);
	_cleanup_free_ char *before = lbt_snapshot(&t);
	apply_ok(&t, "lost", "1", CSTATES_LEDGER, "disable;disable_states:POLL");
	_cleanup_error_ struct nh_error *err = NULL;
	assert_ok(state_record_remove(t.store, "lost", &err), &err);
	struct node_config config = lbt_config("auto");
	struct container_record *orphans = NULL;
	size_t n = 0;
	assert_ok(lifecycle_orphans(t.store, &config, &orphans, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_string_equal(orphans[0].id, "lost");
	assert_true(orphans[0].actions[NH_ACTION_CPU_C_STATES].present);
	assert_ok(lifecycle_undo(t.store, &config, &orphans[0], &err), &err);
	container_records_free(orphans, n);
	assert_snapshot(before, &t);
	lbt_fini(&t);
}

/* --- cpufreq: the policy is the resource --------------------------------------------------- */

static void test_governor_policy_shared(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-5");
	static const char *const related[] = {"0-1", "2-3", "4", "5", NULL};
	fake_cpufreq(&t, related, false);
	apply_ok(&t, "a", "2-4", GOVERNOR_LEDGER, "performance");
	assert_file(&t, POLICY(1) "/scaling_governor", "performance\n");
	assert_file(&t, POLICY(2) "/scaling_governor", "performance\n");
	assert_file(&t, POLICY(0) "/scaling_governor", "powersave\n");
	assert_file(&t, POLICY(3) "/scaling_governor", "powersave\n");
	_cleanup_free_ char *doc = lbt_get(&t, LBT_STATE "/" GOVERNOR_LEDGER);
	assert_non_null(strstr(doc, POLICY(1) "/scaling_governor"));
	assert_null(strstr(doc, CPU "cpu3/cpufreq")); /* one entry per policy, not per CPU */
	/* A second container on CPUs 4-5 shares policy2 at the same governor. */
	apply_ok(&t, "b", "4-5", GOVERNOR_LEDGER, "performance");
	undo_ok(&t, "a");
	assert_file(&t, POLICY(1) "/scaling_governor", "powersave\n");
	assert_file(&t, POLICY(2) "/scaling_governor", "performance\n");
	undo_ok(&t, "b");
	assert_file(&t, POLICY(2) "/scaling_governor", "powersave\n");
	assert_file(&t, POLICY(3) "/scaling_governor", "powersave\n");
	assert_false(lbt_has_doc(&t, GOVERNOR_LEDGER));
	lbt_fini(&t);
}

static void test_governor_save_once(void **state)
{
	(void)state;
	struct lbt t;
	lbt_init(&t, "0-1");
	static const char *const related[] = {"0", "1", NULL};
	fake_cpufreq(&t, related, false);
	apply_ok(&t, "a", "1", GOVERNOR_LEDGER, "performance");
	state_record_remove(t.store, "a", NULL);
	apply_ok(&t, "a", "1", GOVERNOR_LEDGER, "performance");
	undo_ok(&t, "a");
	assert_file(&t, POLICY(1) "/scaling_governor", "powersave\n");
	lbt_fini(&t);
}

/* --- crashes ------------------------------------------------------------------------------- */

static int child_apply(struct lbt *t, const char *id, const char *cpus, const char *ledger,
		       const char *value)
{
	struct lbt_ctr c;
	lbt_ctr_init(&c, id, cpus, 100);
	_cleanup_error_ struct nh_error *err = NULL;
	int r = apply_plan(t, &c, ledger, value, &err);
	if (r < 0)
		fprintf(stderr, "apply: %s\n", err->msg);
	lbt_ctr_clear(&c);
	return r < 0 ? r : 0;
}

static int child_undo(struct lbt *t, const char *id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	int r = lbt_undo(t, id, &err);
	if (r < 0)
		fprintf(stderr, "undo: %s\n", err->msg);
	return r;
}

#define CST_VALUE "max_latency:7;disable_states:POLL,haltpoll idle"

static int sc_cst_apply(struct lbt *t)
{
	return child_apply(t, "c", "1-2", CSTATES_LEDGER, CST_VALUE);
}
static int sc_cst_undo(struct lbt *t)
{
	return child_undo(t, "c");
}
static int sc_gov_apply(struct lbt *t)
{
	return child_apply(t, "c", "1-3", GOVERNOR_LEDGER, "performance");
}
static int sc_gov_undo(struct lbt *t)
{
	return child_undo(t, "c");
}

static const struct lbt_scenario scenarios[] = {
    {"cst-apply", sc_cst_apply},
    {"cst-undo", sc_cst_undo},
    {"gov-apply", sc_gov_apply},
    {"gov-undo", sc_gov_undo},
    {NULL, NULL},
};

static char *build_cst(struct lbt *t)
{
	fake_cpuidle(t, 4);
	lbt_put(t, QOS(2), "n/a\n"); /* an original other than the default */
	return lbt_snapshot(t);
}
static char *build_cst_applied(struct lbt *t)
{
	char *snap = build_cst(t);
	apply_ok(t, "c", "1-2", CSTATES_LEDGER, CST_VALUE);
	return snap;
}
/* Another container holds CPU 2 at the same values, before and after the crash. */
static char *build_cst_shared(struct lbt *t)
{
	fake_cpuidle(t, 4);
	apply_ok(t, "other", "2-3", CSTATES_LEDGER, CST_VALUE);
	return lbt_snapshot(t);
}
static void recover_cst(struct lbt *t)
{
	undo_ok(t, "c");
}
static char *build_gov(struct lbt *t)
{
	static const char *const related[] = {"0", "1", "2", "3", NULL};
	fake_cpufreq(t, related, true); /* plain directories: the snapshot reads every file */
	lbt_put(t, CPU "cpu2/cpufreq/scaling_governor", "schedutil\n");
	return lbt_snapshot(t);
}
static char *build_gov_applied(struct lbt *t)
{
	char *snap = build_gov(t);
	apply_ok(t, "c", "1-3", GOVERNOR_LEDGER, "performance");
	return snap;
}
static void recover_gov(struct lbt *t)
{
	undo_ok(t, "c");
}

static void test_crash_every_point(void **state)
{
	(void)state;
	static const struct lbt_crash_case cases[] = {
	    {build_cst, "cst-apply", recover_cst},
	    {build_cst_applied, "cst-undo", recover_cst},
	    {build_gov, "gov-apply", recover_gov},
	    {build_gov_applied, "gov-undo", recover_gov},
	};
	/* Points: cst apply 6 writes, undo 6 restores; gov apply 3, undo 3. */
	static const unsigned killed[] = {6, 6, 3, 3};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(lbt_crash_each_point(&cases[i], "0-3"), killed[i]);
}

static void test_crash_next_to_another(void **state)
{
	(void)state;
	static const struct lbt_crash_case c = {build_cst_shared, "cst-apply", recover_cst};
	/* CPU 2's three files are rewritten with the values "other" holds them at: still 6. */
	assert_int_equal(lbt_crash_each_point(&c, "0-3"), 6);
}

int main(int argc, char **argv)
{
	lbt_crash_child_main(argc, argv, scenarios);
	struct tu_suite s = {0};
	tu_suite_add_test(&s, test_cstates_grammar_good);
	tu_suite_add_test(&s, test_cstates_grammar_hostile);
	tu_suite_add_test(&s, test_governor_grammar);
	tu_suite_add_test(&s, test_cstates_unknown_state);
	tu_suite_add_test(&s, test_cstates_no_driver);
	tu_suite_add_test(&s, test_governor_plan_errors);
	tu_suite_add_test(&s, test_cstates_apply_undo);
	tu_suite_add_test(&s, test_save_once_restart);
	tu_suite_add_test(&s, test_two_containers_first_stops_first);
	tu_suite_add_test(&s, test_two_containers_last_stops_first);
	tu_suite_add_test(&s, test_conflict_refused);
	tu_suite_add_test(&s, test_holders);
	tu_suite_add_test(&s, test_details);
	tu_suite_add_test(&s, test_orphan_found_by_gc);
	tu_suite_add_test(&s, test_update_follows_cpus);
	tu_suite_add_test(&s, test_governor_policy_shared);
	tu_suite_add_test(&s, test_governor_save_once);
	tu_suite_add_test(&s, test_crash_every_point);
	tu_suite_add_test(&s, test_crash_next_to_another);
	return tu_suite_run(&s, "cpu_tuning");
}
