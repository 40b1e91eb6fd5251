#include "status.h"

#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "irqbalance.h"
#include "strv.h"
#include "lifecycle.h"
#include "xalloc.h"

char *status_record_actions(const struct container_record *rec)
{
	const char *names[NH_ACTION__MAX];
	size_t n = 0;
	for (int a = 0; a < NH_ACTION__MAX; a++)
		if (rec->actions[a].present)
			names[n++] = nh_action_to_string((enum nh_action)a);
	return strv_join(names, n, ", ");
}

static char *scalar_text(json_object *v)
{
	if (!v)
		return xstrdup("null");
	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static bool is_scalar(json_object *v)
{
	return !v || (!json_object_is_type(v, json_type_object) &&
		      !json_object_is_type(v, json_type_array));
}

#define SUMMARY_ARRAY_MAX 8

static char *member_summary(json_object *v)
{
	if (is_scalar(v))
		return scalar_text(v);
	if (json_object_is_type(v, json_type_object))
		return xasprintf("{%d}", json_object_object_length(v));
	size_t n = json_object_array_length(v);
	bool scalars = n <= SUMMARY_ARRAY_MAX;
	for (size_t i = 0; i < n && scalars; i++)
		scalars = is_scalar(json_object_array_get_idx(v, i));
	if (!scalars)
		return xasprintf("[%zu]", n);
	_cleanup_strv_ char **parts = NULL;
	for (size_t i = 0; i < n; i++)
		strv_push(&parts, scalar_text(json_object_array_get_idx(v, i)));
	return strv_join((const char *const *)parts, n, ",");
}

char *status_details_summary(const struct action_record *ar)
{
	if (!ar->details || json_object_object_length(ar->details) == 0)
		return xstrdup("-");
	_cleanup_strv_ char **parts = NULL;
	json_object_object_foreach (ar->details, key, v) {
		_cleanup_free_ char *text = member_summary(v);
		strv_push(&parts, xasprintf("%s=%s", key, text));
	}
	return strv_join((const char *const *)parts, strv_length(parts), " ");
}

struct records {
	struct container_record *v;
	size_t n;
};

static void records_clear(struct records *r)
{
	container_records_free(r->v, r->n);
	*r = (struct records){0};
}

/* Reads every record; for each one that cannot be read, report (if set) is told, or the message
 * kept in *errors. Returns the number of unreadable records, or -errno. */
static int read_records(struct state_store *store, status_report_fn report, void *userdata,
			char ***errors, struct records *ret, struct nh_error **err)
{
	_cleanup_strv_ char **ids = NULL;
	int r = state_record_list(store, &ids, err);
	if (r < 0)
		return r;
	int failed = 0;
	size_t cap = 0;
	struct records recs = {0};
	for (char **id = ids; *id; id++) {
		struct container_record rec = {0};
		_cleanup_error_ struct nh_error *read_err = NULL;
		r = state_record_read(store, *id, &rec, &read_err);
		if (r < 0) {
			failed++;
			if (report)
				report(&(struct status_item){.id = *id,
							     .outcome = STATUS_READ_FAILED,
							     .err = read_err},
				       userdata);
			else
				strv_push(errors, xasprintf("record of container '%s': %s", *id,
							    read_err->msg));
			continue;
		}
		if (r == 0)
			continue; /* from another boot: void, and removed */
		if (recs.n == cap) {
			cap = cap ? 2 * cap : 8;
			recs.v = xreallocarray(recs.v, cap, sizeof(*recs.v));
		}
		recs.v[recs.n++] = rec;
	}
	*ret = recs;
	return failed;
}

static int read_orphans(struct node_context *node, struct records *ret, struct nh_error **err)
{
	return lifecycle_orphans(node->store, node->config, &ret->v, &ret->n, err);
}

/* Per CPU, the containers whose load-balancing action holds it. */
static void cpus_build(struct node_status *s)
{
	for (size_t i = 0; i < s->n_records; i++) {
		const struct container_record *rec = &s->records[i];
		const struct action_record *ar = &rec->actions[NH_ACTION_CPU_LOAD_BALANCING];
		if (!ar->present || !ar->cpus)
			continue;
		_cleanup_cpuset_ struct cpuset cpus = {0};
		_cleanup_error_ struct nh_error *parse_err = NULL;
		if (cpuset_parse_list(ar->cpus, &cpus, &parse_err) < 0) {
			strv_push(&s->warnings,
				  xasprintf("record of container '%s': cpus: %s, ignoring", rec->id,
					    parse_err->msg));
			continue;
		}
		for (int cpu = 0; cpu <= cpuset_last(&cpus); cpu++) {
			if (!cpuset_has(&cpus, (unsigned)cpu))
				continue;
			struct status_cpu *row = NULL;
			for (size_t k = 0; k < s->n_cpus && !row; k++)
				if (s->cpus[k].cpu == (unsigned)cpu)
					row = &s->cpus[k];
			if (!row) {
				s->cpus = xreallocarray(s->cpus, s->n_cpus + 1, sizeof(*s->cpus));
				row = &s->cpus[s->n_cpus++];
				*row = (struct status_cpu){.cpu = (unsigned)cpu,
							   .ids = xcalloc(1, sizeof(char *))};
			}
			row->ids = xreallocarray(row->ids, row->n + 2, sizeof(char *));
			row->ids[row->n++] = xstrdup(rec->id);
			row->ids[row->n] = NULL;
		}
	}
	for (size_t i = 1; i < s->n_cpus; i++) /* insertion sort by cpu: few rows */
		for (size_t k = i; k > 0 && s->cpus[k - 1].cpu > s->cpus[k].cpu; k--) {
			struct status_cpu t = s->cpus[k - 1];
			s->cpus[k - 1] = s->cpus[k];
			s->cpus[k] = t;
		}
}

int status_collect(struct node_context *node, struct node_status *ret, struct nh_error **err)
{
	_cleanup_node_status_ struct node_status s = {0};
	int r = node_context_open_store(node, NODE_STORE_EXISTING, false, err);
	if (r < 0)
		return r;
	if (r > 0) {
		struct records recs = {0}, orphans = {0};
		r = read_records(node->store, NULL, NULL, &s.errors, &recs, err);
		if (r < 0)
			return r;
		s.records = recs.v;
		s.n_records = recs.n;
		/* A ledger that cannot be read is reported with its path; the records are still
		 * shown. */
		_cleanup_error_ struct nh_error *orphans_err = NULL;
		r = read_orphans(node, &orphans, &orphans_err);
		if (r < 0)
			strv_push(&s.errors, xasprintf("orphans: %s", orphans_err->msg));
		s.orphans = orphans.v;
		s.n_orphans = orphans.n;
	}
	cpus_build(&s);
	*ret = s;
	s = (struct node_status){0};
	return 0;
}

void status_clear(struct node_status *s)
{
	container_records_free(s->records, s->n_records);
	container_records_free(s->orphans, s->n_orphans);
	for (size_t i = 0; i < s->n_cpus; i++)
		strv_free(s->cpus[i].ids);
	free(s->cpus);
	strv_free(s->errors);
	strv_free(s->warnings);
	*s = (struct node_status){0};
}

/* Undoes one record (real or synthesized) and reports the outcome. Returns 0, or 1 if it failed. */
static int undo_and_report(struct node_context *node, struct container_record *rec,
			   enum status_outcome done, status_report_fn report, void *userdata)
{
	/* Named before the undo, which forgets each action it undoes. */
	_cleanup_free_ char *actions = status_record_actions(rec);
	_cleanup_error_ struct nh_error *undo_err = NULL;
	int r = lifecycle_undo(node->store, node->config, rec, &undo_err);
	report(&(struct status_item){.id = rec->id,
				     .outcome = r < 0 ? STATUS_UNDO_FAILED : done,
				     .actions = actions,
				     .err = undo_err},
	       userdata);
	return r < 0;
}

/* Reports an outcome that changes nothing. */
static void report_record(const struct container_record *rec, enum status_outcome outcome,
			  const struct nh_error *e, status_report_fn report, void *userdata)
{
	_cleanup_free_ char *actions = status_record_actions(rec);
	report(
	    &(struct status_item){.id = rec->id, .outcome = outcome, .actions = actions, .err = e},
	    userdata);
}

static int restore_one(struct node_context *node, const char *id, status_report_fn report,
		       void *userdata, struct nh_error **err)
{
	_cleanup_container_record_ struct container_record rec = {0};
	_cleanup_error_ struct nh_error *read_err = NULL;
	int r = node->store ? state_record_read(node->store, id, &rec, &read_err) : 0;
	if (r < 0)
		report(
		    &(struct status_item){.id = id, .outcome = STATUS_READ_FAILED, .err = read_err},
		    userdata);
	if (r > 0)
		return undo_and_report(node, &rec, STATUS_RESTORED, report, userdata);
	/* No record, or one that cannot be read: a ledger may still hold something for it. */
	_cleanup_(records_clear) struct records orphans = {0};
	if (node->store) {
		r = read_orphans(node, &orphans, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < orphans.n; i++)
		if (strcmp(orphans.v[i].id, id) == 0)
			return undo_and_report(node, &orphans.v[i], STATUS_ORPHAN_RELEASED, report,
					       userdata) ||
			       r < 0;
	if (r < 0)
		return 1;
	return nh_error_set(err, ENOENT,
			    "container '%s': no record: nodehook has applied nothing for it", id);
}

int status_restore(struct node_context *node, const char *id, status_report_fn report,
		   void *userdata, struct nh_error **err)
{
	int r = node_context_open_store(node, NODE_STORE_EXISTING, true, err);
	if (r < 0)
		return r;
	if (id)
		return restore_one(node, id, report, userdata, err);
	if (r == 0)
		return 0;
	_cleanup_(records_clear) struct records recs = {0}, orphans = {0};
	int failed = read_records(node->store, report, userdata, NULL, &recs, err);
	if (failed < 0)
		return failed;
	for (size_t i = 0; i < recs.n; i++)
		failed += undo_and_report(node, &recs.v[i], STATUS_RESTORED, report, userdata);
	r = read_orphans(node, &orphans, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < orphans.n; i++)
		failed +=
		    undo_and_report(node, &orphans.v[i], STATUS_ORPHAN_RELEASED, report, userdata);
	return failed;
}

static int gc_records(struct node_context *node, bool dry_run, status_report_fn report,
		      void *userdata, struct nh_error **err)
{
	_cleanup_(records_clear) struct records recs = {0};
	int failed = read_records(node->store, report, userdata, NULL, &recs, err);
	if (failed < 0)
		return failed;
	for (size_t i = 0; i < recs.n; i++) {
		struct container_record *rec = &recs.v[i];
		_cleanup_error_ struct nh_error *gone_err = NULL;
		int gone = lifecycle_container_gone(rec, &gone_err);
		if (gone < 0) {
			report_record(rec, STATUS_GONE_UNKNOWN, gone_err, report, userdata);
			failed++;
			continue;
		}
		if (!gone || dry_run) {
			enum status_outcome o =
			    gone ? STATUS_GONE_WOULD_RESTORE : STATUS_RUNNING_KEPT;
			report_record(rec, o, NULL, report, userdata);
			continue;
		}
		failed += undo_and_report(node, rec, STATUS_GONE_RESTORED, report, userdata);
	}
	return failed;
}

static int gc_orphans(struct node_context *node, bool dry_run, status_report_fn report,
		      void *userdata, struct nh_error **err)
{
	_cleanup_(records_clear) struct records orphans = {0};
	int r = read_orphans(node, &orphans, err);
	if (r < 0)
		return r;
	int failed = 0;
	for (size_t i = 0; i < orphans.n; i++) {
		if (dry_run) {
			report_record(&orphans.v[i], STATUS_ORPHAN_WOULD_RELEASE, NULL, report,
				      userdata);
			continue;
		}
		failed +=
		    undo_and_report(node, &orphans.v[i], STATUS_ORPHAN_RELEASED, report, userdata);
	}
	return failed;
}

int status_gc(struct node_context *node, bool dry_run, status_report_fn report, void *userdata,
	      struct nh_error **err)
{
	int r = node_context_open_store(node, NODE_STORE_EXISTING, !dry_run, err);
	if (r < 0)
		return r;
	if (r == 0) {
		/* No records (a fresh /run after a reboot): what outlived the reboot, the
		 * irqbalance config, may still ban CPUs for containers long gone. */
		if (dry_run)
			return 0;
		r = irqbalance_boot_check(node->config, NULL, err);
		return r < 0 ? nh_error_wrap(err, "irqbalance") : 0;
	}
	int failed = gc_records(node, dry_run, report, userdata, err);
	if (failed < 0)
		return failed;
	r = gc_orphans(node, dry_run, report, userdata, err);
	if (r < 0)
		return r;
	failed += r;
	if (!dry_run) {
		/* The ledgers now name only containers that still run: settings they no longer
		 * justify (a ledger whose holders all went) are given back, and new cpusets of the
		 * running ones are brought in line. */
		r = lifecycle_guard(node->store, node->config, err);
		if (r < 0)
			return nh_error_wrap(err, "reconciling the ledgers");
	}
	return failed;
}
