/* irq-load-balancing: keep device interrupts off a container's CPUs while it runs.
 *
 * Annotation value "disable" (or "true", CRI-O's deprecated spelling) bans all the container's
 * CPUs; "housekeeping" bans all but its first CPU and that CPU's thread siblings among its CPUs.
 * The banned CPUs leave /proc/irq/default_smp_affinity (IRQs registered later) and every
 * /proc/irq/<N>/smp_affinity_list that has them (IRQs that exist; CRI-O leaves those to
 * irqbalance). A managed IRQ refuses (EIO, or EPERM on newer kernels): recorded, not a failure.
 * An IRQ whose affinity would become empty is left alone and reported. irqbalance is made to
 * agree (irqbalance.h).
 *
 * The ledger irq.json (state store) holds, under the store's lock:
 *   banned   container id -> the CPUs it bans (the reference counts: a CPU is banned while any
 *            entry holds it)
 *   default  the CPUs nodehook took out of default_smp_affinity
 *   irqs     IRQ number -> the CPUs nodehook took out of its affinity
 * What apply did (IRQs moved, refused, left alone; irqbalance) is in the record's details.
 * A CPU goes into "default" or "irqs" only when it was in that affinity, before the write that
 * takes it out (write-ahead). Undo gives an affinity back the CPUs of its entry that no other
 * container still bans, and keeps the rest in the entry for the container that still does: a
 * CPU that was not in an affinity before never enters it, one another container bans stays out
 * until the last of them goes. Giving back is a union with what the kernel shows, so undo can
 * run again after a crash at any point and ends the same. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "cleanup.h"
#include "irq_load_balancing.h"
#include "irqbalance.h"
#include "kernel.h"
#include "lb_ledger.h"
#include "strv.h"
#include "xalloc.h"

#define LEDGER "irq.json"

static int parse_value(const char *value, const char **ret_note, struct nh_error **err)
{
	if (strcmp(value, "disable") == 0 || strcmp(value, "housekeeping") == 0)
		return 1;
	if (strcmp(value, "true") == 0) {
		*ret_note = "value \"true\" is deprecated (CRI-O's spelling); use \"disable\"";
		return 1;
	}
	return nh_error_set(err, EINVAL,
			    "invalid value '%.64s' (expected \"disable\" or \"housekeeping\"; "
			    "\"true\" is a deprecated \"disable\")",
			    value);
}

int irq_housekeeping_cpus(const struct cpuset *cpus, struct cpuset *ret, struct nh_error **err)
{
	int first = -1;
	for (int i = 0; i <= cpuset_last(cpus); i++)
		if (cpuset_has(cpus, (unsigned)i)) {
			first = i;
			break;
		}
	_cleanup_cpuset_ struct cpuset keep = {0};
	if (first < 0) {
		*ret = keep;
		return 0;
	}
	int r = kernel_cpu_thread_siblings((unsigned)first, &keep, err);
	if (r < 0)
		return r;
	cpuset_add(&keep, (unsigned)first);
	cpuset_intersect(&keep, cpus);
	*ret = keep;
	keep = (struct cpuset){0};
	return 0;
}

/* The CPUs a container bans in a mode. */
static int banned_cpus(const char *mode, const struct cpuset *cpus, struct cpuset *ret,
		       struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset banned = {0};
	cpuset_copy(&banned, cpus);
	if (strcmp(mode, "housekeeping") == 0) {
		_cleanup_cpuset_ struct cpuset keep = {0};
		int r = irq_housekeeping_cpus(cpus, &keep, err);
		if (r < 0)
			return r;
		cpuset_subtract(&banned, &keep);
	}
	*ret = banned;
	banned = (struct cpuset){0};
	return 0;
}

/* --- the ledger ------------------------------------------------------------------------------- */

struct ledger {
	json_object *doc;
	json_object *banned, *irqs; /* lent by doc */
};

static void ledger_clear(struct ledger *l)
{
	json_object_put(l->doc);
	*l = (struct ledger){0};
}

static int ledger_load(struct state_store *store, bool create, struct ledger *ret,
		       struct nh_error **err)
{
	json_object *doc = NULL;
	int r = lb_ledger_read(store, LEDGER, create, &doc, err);
	if (r < 0)
		return r;
	if (!doc) {
		*ret = (struct ledger){0};
		return 0;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		return nh_error_set(err, EBADMSG, "%s: not an object", LEDGER);
	}
	*ret = (struct ledger){
	    .doc = doc,
	    .banned = lb_json_child(doc, "banned", json_type_object),
	    .irqs = lb_json_child(doc, "irqs", json_type_object),
	};
	return r;
}

static int ledger_save(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	if (json_object_object_length(l->banned) == 0 && json_object_object_length(l->irqs) == 0 &&
	    !json_object_object_get_ex(l->doc, "default", NULL))
		return state_doc_remove(store, LEDGER, err);
	return lb_ledger_write(store, LEDGER, l->doc, err);
}

/* A CPU list member of o (NULL or absent: empty). */
static int get_cpus(json_object *o, const char *key, struct cpuset *ret, struct nh_error **err)
{
	json_object *v = NULL;
	*ret = (struct cpuset){0};
	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return nh_error_set(err, EBADMSG, "%s: %s: not a CPU list", LEDGER, key);
	int r = cpuset_parse_list(json_object_get_string(v), ret, err);
	return r < 0 ? nh_error_wrap(err, "%s: %s", LEDGER, key) : 0;
}

/* o[key] = s, or no key when s is empty. */
static void put_cpus(json_object *o, const char *key, const struct cpuset *s)
{
	if (cpuset_is_empty(s)) {
		json_object_object_del(o, key);
		return;
	}
	_cleanup_free_ char *list = cpuset_format_list(s);
	json_object_object_add(o, key, json_object_new_string(list));
}

static int add_cpus(json_object *o, const char *key, const struct cpuset *s, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset cur = {0};
	int r = get_cpus(o, key, &cur, err);
	if (r < 0)
		return r;
	cpuset_union(&cur, s);
	put_cpus(o, key, &cur);
	return 0;
}

/* The union of the bans, without `except` (NULL: all). */
static int bans_union(struct ledger *l, const char *except, struct cpuset *ret,
		      struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset all = {0};
	json_object_object_foreach (l->banned, id, v) {
		(void)v;
		if (except && strcmp(id, except) == 0)
			continue;
		_cleanup_cpuset_ struct cpuset one = {0};
		int r = get_cpus(l->banned, id, &one, err);
		if (r < 0)
			return r;
		cpuset_union(&all, &one);
	}
	*ret = all;
	all = (struct cpuset){0};
	return 0;
}

static void json_array_add_uint(json_object *a, unsigned v)
{
	json_object_array_add(a, json_object_new_int64((int64_t)v));
}

/* --- apply ------------------------------------------------------------------------------------ */

struct planned {
	unsigned irq;
	struct cpuset next, take;
};

static void plan_free(struct planned *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cpuset_clear(&p[i].next);
		cpuset_clear(&p[i].take);
	}
	free(p);
}

/* Takes `banned` out of the default mask; *ret_left_alone when that would leave it empty. */
static int apply_default(struct action_context *ctx, struct ledger *l, const struct cpuset *banned,
			 bool *ret_left_alone, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset cur = {0};
	unsigned width = 0;
	int r = kernel_irq_default_affinity(&cur, &width, err);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset take = {0};
	cpuset_copy(&take, &cur);
	cpuset_intersect(&take, banned);
	if (cpuset_is_empty(&take))
		return 0;
	_cleanup_cpuset_ struct cpuset next = {0};
	cpuset_copy(&next, &cur);
	cpuset_subtract(&next, &take);
	if (cpuset_is_empty(&next)) {
		*ret_left_alone = true;
		return 0;
	}
	r = add_cpus(l->doc, "default", &take, err);
	if (r == 0)
		r = ledger_save(ctx->store, l, err);
	if (r < 0)
		return r;
	action_crash_point();
	return kernel_irq_set_default_affinity(&next, width, err);
}

static int apply_irqs(struct action_context *ctx, struct ledger *l, const struct cpuset *banned,
		      json_object *details, struct nh_error **err)
{
	_cleanup_free_ unsigned *irqs = NULL;
	size_t n_irqs = 0;
	int r = kernel_irq_list(&irqs, &n_irqs, err);
	if (r < 0)
		return r;
	json_object *moved = json_object_new_array(), *refused = json_object_new_array(),
		    *left = json_object_new_array();
	json_object_object_add(details, "irqs_moved", moved);
	json_object_object_add(details, "irqs_refused", refused);
	json_object_object_add(details, "irqs_left_alone", left);

	struct planned *plan = xcalloc(n_irqs + 1, sizeof(*plan));
	size_t n = 0;
	for (size_t i = 0; i < n_irqs && r >= 0; i++) {
		_cleanup_cpuset_ struct cpuset cur = {0};
		r = kernel_irq_affinity(irqs[i], &cur, err);
		if (r == -ENOENT) {
			r = 0;
			continue; /* gone meanwhile */
		}
		if (r < 0)
			break;
		struct planned *p = &plan[n];
		cpuset_copy(&p->take, &cur);
		cpuset_intersect(&p->take, banned);
		if (cpuset_is_empty(&p->take)) {
			cpuset_clear(&p->take);
			continue;
		}
		cpuset_copy(&p->next, &cur);
		cpuset_subtract(&p->next, &p->take);
		if (cpuset_is_empty(&p->next)) {
			json_array_add_uint(left, irqs[i]);
			cpuset_clear(&p->take);
			continue;
		}
		p->irq = irqs[i];
		char key[16];
		snprintf(key, sizeof(key), "%u", p->irq);
		r = add_cpus(l->irqs, key, &p->take, err);
		n++;
	}
	/* One ledger write for all IRQs, before the first of them changes. */
	if (r >= 0 && n > 0)
		r = ledger_save(ctx->store, l, err);
	if (r >= 0 && n > 0)
		action_crash_point();
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_error_ struct nh_error *write_err = NULL;
		char key[16];
		snprintf(key, sizeof(key), "%u", plan[i].irq);
		int w = kernel_irq_set_affinity(plan[i].irq, &plan[i].next, &write_err);
		if (w == -EIO || w == -EPERM) {
			/* A managed IRQ: the kernel owns its affinity; nothing was taken. Kernels
			 * answer EIO, or EPERM (6.18 here) for these. */
			json_object *o = json_object_new_object();
			json_object_object_add(o, "irq", json_object_new_int64(plan[i].irq));
			json_object_object_add(o, "error", json_object_new_string(write_err->msg));
			json_object_array_add(refused, o);
			json_object_object_del(l->irqs, key);
		} else if (w == -ENOENT) {
			json_object_object_del(l->irqs, key); /* the device went */
		} else if (w < 0) {
			*err = TAKE_PTR(write_err);
			r = w;
		} else {
			json_array_add_uint(moved, plan[i].irq);
		}
	}
	plan_free(plan, n_irqs + 1);
	return r < 0 ? r : 0;
}

/* The mode the annotation asked for ("true" is "disable"). */
static const char *requested_mode(const struct action_context *ctx)
{
	return ctx->value && strcmp(ctx->value, "housekeeping") == 0 ? "housekeeping" : "disable";
}

static int apply(struct action_context *ctx, struct nh_error **err)
{
	const char *mode = requested_mode(ctx);
	_cleanup_cpuset_ struct cpuset banned = {0};
	int r = banned_cpus(mode, &ctx->container->cpus, &banned, err);
	if (r < 0)
		return r;
	struct action_record *ar = action_record_of(ctx);
	ar->present = true;
	free(ar->cpus);
	ar->cpus = cpuset_format_list(&ctx->container->cpus);
	_cleanup_free_ char *banned_list = cpuset_format_list(&banned);
	json_object *details = action_details_reset(ctx);
	json_object_object_add(details, "banned_cpus", json_object_new_string(banned_list));
	r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	action_crash_point();

	_cleanup_(ledger_clear) struct ledger l = {0};
	r = ledger_load(ctx->store, true, &l, err);
	if (r < 0)
		return r;
	json_object_object_add(l.banned, ctx->record->id, json_object_new_string(banned_list));
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	action_crash_point();

	bool default_left_alone = false;
	if (!cpuset_is_empty(&banned)) {
		r = apply_default(ctx, &l, &banned, &default_left_alone, err);
		if (r < 0)
			return nh_error_wrap(err, "%s", KERNEL_IRQ_DEFAULT_AFFINITY);
		r = apply_irqs(ctx, &l, &banned, details, err);
		if (r < 0)
			return r;
	}
	json_object_object_add(details, "default_smp_affinity_left_alone",
			       json_object_new_boolean(default_left_alone));
	_cleanup_cpuset_ struct cpuset all = {0};
	r = bans_union(&l, NULL, &all, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *how = NULL;
	r = irqbalance_sync(ctx->config, ctx->store, &all, &how, err);
	if (r < 0)
		return nh_error_wrap(err, "irqbalance");
	json_object_object_add(details, "irqbalance", json_object_new_string(how));
	/* Drops the entries of IRQs that refused or went; the details reach the record when
	 * lifecycle marks it applied. */
	return ledger_save(ctx->store, &l, err);
}

/* --- undo ------------------------------------------------------------------------------------- */

/* Gives an affinity back the CPUs of its entry that `others` does not ban; the entry keeps the
 * rest. ENOENT (the IRQ is gone) drops the entry. */
static int give_back_irq(json_object *irqs, const char *key, const struct cpuset *others,
			 struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset removed = {0};
	int r = get_cpus(irqs, key, &removed, err);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset give = {0};
	cpuset_copy(&give, &removed);
	cpuset_subtract(&give, others);
	if (!cpuset_is_empty(&give)) {
		char *end = NULL;
		unsigned long irq = strtoul(key, &end, 10);
		if (!key[0] || *end || irq > KERNEL_IRQ_MAX)
			return nh_error_set(err, EBADMSG, "%s: '%.32s' is not an IRQ", LEDGER, key);
		_cleanup_cpuset_ struct cpuset cur = {0};
		r = kernel_irq_affinity((unsigned)irq, &cur, err);
		if (r == -ENOENT) {
			json_object_object_del(irqs, key);
			return 0;
		}
		if (r < 0)
			return r;
		if (!cpuset_is_subset(&give, &cur)) {
			cpuset_union(&cur, &give);
			r = kernel_irq_set_affinity((unsigned)irq, &cur, err);
			if (r == -ENOENT) {
				json_object_object_del(irqs, key);
				return 0;
			}
			if (r < 0)
				return r;
		}
	}
	cpuset_intersect(&removed, others);
	put_cpus(irqs, key, &removed);
	return 0;
}

static int give_back_default(json_object *doc, const struct cpuset *others, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset removed = {0};
	int r = get_cpus(doc, "default", &removed, err);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset give = {0};
	cpuset_copy(&give, &removed);
	cpuset_subtract(&give, others);
	if (!cpuset_is_empty(&give)) {
		_cleanup_cpuset_ struct cpuset cur = {0};
		unsigned width = 0;
		r = kernel_irq_default_affinity(&cur, &width, err);
		if (r < 0)
			return r;
		if (!cpuset_is_subset(&give, &cur)) {
			cpuset_union(&cur, &give);
			r = kernel_irq_set_default_affinity(&cur, width, err);
			if (r < 0)
				return r;
		}
	}
	cpuset_intersect(&removed, others);
	put_cpus(doc, "default", &removed);
	return 0;
}

static int undo(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, false, &l, err);
	if (r < 0)
		return r;
	_cleanup_cpuset_ struct cpuset others = {0};
	if (r > 0) {
		const char *id = ctx->record->id;
		r = bans_union(&l, id, &others, err);
		if (r < 0)
			return r;
		/* The kernel first, the ledger after: a crash in between leaves entries whose
		 * CPUs are back already, and giving back again changes nothing. */
		r = give_back_default(l.doc, &others, err);
		if (r < 0)
			return nh_error_wrap(err, "%s", KERNEL_IRQ_DEFAULT_AFFINITY);
		_cleanup_strv_ char **keys = lb_json_keys(l.irqs);
		for (char **k = keys; *k; k++) {
			r = give_back_irq(l.irqs, *k, &others, err);
			if (r < 0)
				return nh_error_wrap(err, "IRQ %s", *k);
		}
		action_crash_point();
		json_object_object_del(l.banned, id);
		r = ledger_save(ctx->store, &l, err);
		if (r < 0)
			return r;
		action_crash_point();
	}
	r = irqbalance_sync(ctx->config, ctx->store, &others, NULL, err);
	return r < 0 ? nh_error_wrap(err, "irqbalance") : 0;
}

static int guard(struct action_context *ctx, struct nh_error **err)
{
	int r = irqbalance_boot_check(ctx->config, ctx->store, err);
	return r < 0 ? r : 0;
}

static int holders(struct action_context *ctx, action_holder_fn fn, void *userdata,
		   struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, false, &l, err);
	if (r <= 0)
		return r;
	_cleanup_strv_ char **ids = lb_json_keys(l.banned);
	for (char **id = ids; *id; id++) {
		r = fn(*id, "irq", userdata, err);
		if (r < 0)
			return r;
	}
	return 0;
}

const struct action_ops irq_load_balancing_ops = {
    .id = NH_ACTION_IRQ_LOAD_BALANCING,
    .parse_value = parse_value,
    .check = action_check_exclusive,
    .apply = apply,
    .undo = undo,
    .guard = guard,
    .follows_cpus = true,
    .holders = holders,
};
