/* `nodehook status`, `nodehook restore`, `nodehook gc`: the operator's view of what nodehook
 * has changed on the node, and the ways to undo it by hand.
 *
 * All three load the node config ($NODEHOOK_CONFIG), use its sysroot unless --sysroot was given,
 * read the boot id and open the state store without creating it: a node where nodehook never
 * acted has nothing to show or undo. status takes the store lock shared; restore and gc take it
 * exclusively, as the hooks do, so they never interleave with an apply or an undo.
 *
 * Ledger entries without a record ("orphans", see lifecycle_orphans()) are shown by status,
 * released by gc, by `restore --all`, and by `restore ID` for that id. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "cpulist.h"
#include "json_util.h"
#include "kernel.h"
#include "lifecycle.h"
#include "log.h"
#include "node_config.h"
#include "state_store.h"
#include "sysroot.h"
#include "xalloc.h"

static const char status_usage[] =
    "Usage: nodehook status [--json]\n"
    "\n"
    "Show what nodehook has applied on this node now: per container, each action with its\n"
    "backend, CPUs, start time and state (applied, or half-applied: an apply that did not\n"
    "finish, which 'nodehook gc' or 'nodehook restore' undoes); per CPU, the containers that\n"
    "take it out of load balancing. Ledger entries that no record accounts for are listed as\n"
    "orphaned. Prints \"nothing applied\" when there is nothing.\n"
    "\n"
    "Options:\n"
    "  --json      print one JSON object instead of tables:\n"
    "                {\"version\": 1,\n"
    "                 \"state_dir\": STRING,\n"
    "                 \"containers\": [          sorted by id\n"
    "                   {\"id\": STRING, \"pod_namespace\": STRING|null,\n"
    "                    \"pod_name\": STRING|null, \"container_name\": STRING|null,\n"
    "                    \"pid\": NUMBER, \"since\": \"YYYY-MM-DDTHH:MM:SSZ\" (UTC),\n"
    "                    \"actions\": [{\"action\": STRING, \"backend\": STRING|null,\n"
    "                                 \"cpus\": STRING|null (CPU list, \"1,3-4\"),\n"
    "                                 \"state\": \"applied\"|\"half-applied\"}]}],\n"
    "                 \"cpus\": [{\"cpu\": NUMBER, \"isolated_for\": [ID...]}],   by cpu\n"
    "                 \"orphans\": [{\"id\": STRING, \"action\": STRING,\n"
    "                              \"backend\": STRING}]}\n"
    "              Members may be added in later versions; none is removed or changes\n"
    "              meaning without a new \"version\".\n"
    "  -h, --help  show this help\n"
    "\n"
    "Node config: $NODEHOOK_CONFIG, else /etc/nodehook/config.json (its state_dir).\n"
    "Exit status: 0 success, 1 failure (a record could not be read), 2 wrong usage.\n";

static const char restore_usage[] =
    "Usage: nodehook restore ID\n"
    "       nodehook restore --all\n"
    "\n"
    "Undo now what nodehook applied for container ID (or for every container), whether or\n"
    "not the container still runs, and remove its record. A container restored while it runs\n"
    "keeps running without its tuning. Prints one line per container.\n"
    "\n"
    "Options:\n"
    "  --all       every container with a record, and every orphaned ledger entry\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (unknown or invalid id, an undo failed), 2 wrong usage.\n";

static const char gc_usage[] =
    "Usage: nodehook gc [--dry-run]\n"
    "\n"
    "Undo what nodehook applied for containers that are gone: the runtime that created one\n"
    "no longer knows its id, and its process has exited (a zombie counts as exited) or its\n"
    "pid now belongs to another process. Also releases ledger entries that no record\n"
    "accounts for, and brings the ledgers' settings back in line with the records.\n"
    "Prints one line per container: gone and restored, running and kept, or orphaned and\n"
    "released; \"nothing to collect\" when there are none.\n"
    "\n"
    "Options:\n"
    "  --dry-run   say what would be done, change nothing\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (a record could not be read or undone), 2 wrong usage.\n";

/* ------------------------------------------------------------------------------------------ */
/* What every command opens. */

struct state_ctx {
	struct node_config *config;
	char *boot_id;
	struct state_store *store; /* NULL when the state directory does not exist */
};

static void state_ctx_clear(struct state_ctx *c)
{
	c->store = state_store_close(c->store);
	free(c->boot_id);
	c->boot_id = NULL;
	c->config = node_config_free(c->config);
}

/* Loads the node config, sets the sysroot (unless --sysroot set one), reads the boot id, opens
 * the store if it exists and locks it. Returns 0, or 1 with the error printed. */
static int state_ctx_open(struct state_ctx *c, bool exclusive)
{
	_cleanup_error_ struct nh_error *err = NULL;
	if (node_config_load(&c->config, &err) < 0) {
		print_error("node config: %s", err->msg);
		return 1;
	}
	if (strcmp(sysroot_get(), "/") == 0)
		sysroot_set(c->config->sysroot);
	if (kernel_boot_id(&c->boot_id, &err) < 0 ||
	    state_store_open_existing(c->config->state_dir, c->boot_id, &c->store, &err) < 0 ||
	    (c->store && state_store_lock(c->store, exclusive, &err) < 0)) {
		print_error("%s", err->msg);
		return 1;
	}
	return 0;
}

/* Parses the options every command here has: --help and one boolean flag (--json, --all,
 * --dry-run). Returns -1 to go on (optind at the first operand), else the exit code. */
static int parse_options(int argc, char **argv, const char *flag, const char *usage, bool *ret_flag)
{
	const struct option options[] = {
	    {flag, no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	opterr = 0; /* one line of our own instead of getopt's */
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			*ret_flag = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			print_error("%s: unknown option '%s'; see 'nodehook %s --help'", argv[0],
				    argv[optind - 1], argv[0]);
			return EXIT_USAGE;
		}
	}
	return -1;
}

/* "cpu-load-balancing, ..." for the actions present in a record. */
static char *record_actions(const struct container_record *rec)
{
	char *s = xstrdup("");
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		if (!rec->actions[a].present)
			continue;
		char *next = xasprintf("%s%s%s", s, s[0] ? ", " : "",
				       nh_action_to_string((enum nh_action)a));
		free(s);
		s = next;
	}
	return s;
}

static void records_free(struct container_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		container_record_clear(&v[i]);
	free(v);
}

/* Reads every record; unreadable ones are reported and counted in *ret_failed. */
static int read_records(struct state_store *store, struct container_record **ret, size_t *ret_n,
			int *ret_failed)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_strv_ char **ids = NULL;
	if (state_record_list(store, &ids, &err) < 0) {
		print_error("%s", err->msg);
		return -1;
	}
	size_t n = 0, cap = 0;
	struct container_record *recs = NULL;
	for (char **id = ids; *id; id++) {
		struct container_record rec = {0};
		int r = state_record_read(store, *id, &rec, &err);
		if (r < 0) {
			print_error("record of container '%s': %s", *id, err->msg);
			err = nh_error_free(err);
			(*ret_failed)++;
			continue;
		}
		if (r == 0)
			continue; /* from another boot: void, and removed */
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			recs = xreallocarray(recs, cap, sizeof(*recs));
		}
		recs[n++] = rec;
	}
	*ret = recs;
	*ret_n = n;
	return 0;
}

static int read_orphans(struct state_ctx *c, struct container_record **ret, size_t *ret_n)
{
	_cleanup_error_ struct nh_error *err = NULL;
	if (lifecycle_orphans(c->store, c->config, ret, ret_n, &err) < 0) {
		print_error("%s", err->msg);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* status */

static void format_since(int64_t since, char buf[static 32])
{
	time_t t = (time_t)since;
	struct tm tm;
	if (since <= 0 || !gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "-");
}

static const char *action_state(const struct action_record *ar)
{
	return ar->applied ? "applied" : "half-applied";
}

/* Per CPU, the containers whose load-balancing action holds it. */
struct cpu_row {
	unsigned cpu;
	char **ids; /* NULL-terminated */
	size_t n;
};

static int cpu_rows_build(const struct container_record *recs, size_t n, struct cpu_row **ret_rows,
			  size_t *ret_n)
{
	struct cpu_row *rows = NULL;
	size_t n_rows = 0;
	for (size_t i = 0; i < n; i++) {
		const struct action_record *ar = &recs[i].actions[NH_ACTION_CPU_LOAD_BALANCING];
		if (!ar->present || !ar->cpus)
			continue;
		_cleanup_cpuset_ struct cpuset cpus = {0};
		_cleanup_error_ struct nh_error *err = NULL;
		if (cpuset_parse_list(ar->cpus, &cpus, &err) < 0) {
			print_warning("record of container '%s': cpus: %s, ignoring", recs[i].id,
				      err->msg);
			continue;
		}
		for (int cpu = 0; cpu <= cpuset_last(&cpus); cpu++) {
			if (!cpuset_has(&cpus, (unsigned)cpu))
				continue;
			struct cpu_row *row = NULL;
			for (size_t k = 0; k < n_rows && !row; k++)
				if (rows[k].cpu == (unsigned)cpu)
					row = &rows[k];
			if (!row) {
				rows = xreallocarray(rows, n_rows + 1, sizeof(*rows));
				row = &rows[n_rows++];
				*row = (struct cpu_row){.cpu = (unsigned)cpu,
							.ids = xcalloc(1, sizeof(char *))};
			}
			row->ids = xreallocarray(row->ids, row->n + 2, sizeof(char *));
			row->ids[row->n++] = xstrdup(recs[i].id);
			row->ids[row->n] = NULL;
		}
	}
	for (size_t i = 1; i < n_rows; i++) /* insertion sort by cpu: few rows */
		for (size_t k = i; k > 0 && rows[k - 1].cpu > rows[k].cpu; k--) {
			struct cpu_row t = rows[k - 1];
			rows[k - 1] = rows[k];
			rows[k] = t;
		}
	*ret_rows = rows;
	*ret_n = n_rows;
	return 0;
}

static void cpu_rows_free(struct cpu_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strv_free(rows[i].ids);
	free(rows);
}

static json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_status_json(const struct state_ctx *c, const struct container_record *recs,
			      size_t n, const struct cpu_row *rows, size_t n_rows,
			      const struct container_record *orphans, size_t n_orphans)
{
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(doc, "state_dir", json_object_new_string(c->config->state_dir));
	json_object *containers = json_object_new_array();
	json_object_object_add(doc, "containers", containers);
	for (size_t i = 0; i < n; i++) {
		const struct container_record *r = &recs[i];
		json_object *o = json_object_new_object();
		char since[32];
		format_since(r->since, since);
		json_object_object_add(o, "id", json_object_new_string(r->id));
		json_object_object_add(o, "pod_namespace", json_str_or_null(r->pod_namespace));
		json_object_object_add(o, "pod_name", json_str_or_null(r->pod_name));
		json_object_object_add(o, "container_name", json_str_or_null(r->container_name));
		json_object_object_add(o, "pid", json_object_new_int64(r->pid));
		json_object_object_add(o, "since", json_object_new_string(since));
		json_object *actions = json_object_new_array();
		json_object_object_add(o, "actions", actions);
		for (int a = 0; a < NH_ACTION__MAX; a++) {
			const struct action_record *ar = &r->actions[a];
			if (!ar->present)
				continue;
			json_object *ao = json_object_new_object();
			json_object_object_add(
			    ao, "action",
			    json_object_new_string(nh_action_to_string((enum nh_action)a)));
			json_object_object_add(ao, "backend", json_str_or_null(ar->backend));
			json_object_object_add(ao, "cpus", json_str_or_null(ar->cpus));
			json_object_object_add(ao, "state",
					       json_object_new_string(action_state(ar)));
			json_object_array_add(actions, ao);
		}
		json_object_array_add(containers, o);
	}
	json_object *cpus = json_object_new_array();
	json_object_object_add(doc, "cpus", cpus);
	for (size_t i = 0; i < n_rows; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "cpu", json_object_new_int64(rows[i].cpu));
		json_object *ids = json_object_new_array();
		for (size_t k = 0; k < rows[i].n; k++)
			json_object_array_add(ids, json_object_new_string(rows[i].ids[k]));
		json_object_object_add(o, "isolated_for", ids);
		json_object_array_add(cpus, o);
	}
	json_object *orph = json_object_new_array();
	json_object_object_add(doc, "orphans", orph);
	for (size_t i = 0; i < n_orphans; i++)
		for (int a = 0; a < NH_ACTION__MAX; a++) {
			const struct action_record *ar = &orphans[i].actions[a];
			if (!ar->present)
				continue;
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(orphans[i].id));
			json_object_object_add(
			    o, "action",
			    json_object_new_string(nh_action_to_string((enum nh_action)a)));
			json_object_object_add(o, "backend", json_str_or_null(ar->backend));
			json_object_array_add(orph, o);
		}
	size_t len = 0;
	const char *text = json_object_to_json_string_length(
	    doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &len);
	fwrite(text, 1, len, stdout);
	fputc('\n', stdout);
}

#define STATUS_COLS 8

/* Prints rows of STATUS_COLS cells, each column as wide as its widest cell, two spaces apart. */
static void print_table(char *(*rows)[STATUS_COLS], size_t n)
{
	int width[STATUS_COLS] = {0};
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < STATUS_COLS; k++) {
			int w = (int)strlen(rows[i][k]);
			if (w > width[k])
				width[k] = w;
		}
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < STATUS_COLS - 1; k++)
			printf("%-*s  ", width[k], rows[i][k]);
		printf("%s\n", rows[i][STATUS_COLS - 1]);
	}
}

static void print_status_text(const struct container_record *recs, size_t n,
			      const struct cpu_row *rows, size_t n_rows,
			      const struct container_record *orphans, size_t n_orphans)
{
	if (n == 0 && n_orphans == 0) {
		puts("nothing applied");
		return;
	}
	if (n > 0) {
		size_t n_lines = 1;
		for (size_t i = 0; i < n; i++)
			for (int a = 0; a < NH_ACTION__MAX; a++)
				n_lines += recs[i].actions[a].present;
		char *(*table)[STATUS_COLS] = xcalloc(n_lines, sizeof(*table));
		static const char *const header[STATUS_COLS] = {
		    "CONTAINER", "POD", "NAME", "ACTION", "BACKEND", "CPUS", "SINCE", "STATE"};
		for (int k = 0; k < STATUS_COLS; k++)
			table[0][k] = xstrdup(header[k]);
		size_t line = 1;
		for (size_t i = 0; i < n; i++) {
			const struct container_record *r = &recs[i];
			char since[32];
			format_since(r->since, since);
			for (int a = 0; a < NH_ACTION__MAX; a++) {
				const struct action_record *ar = &r->actions[a];
				if (!ar->present)
					continue;
				char **row = table[line++];
				row[0] = xstrdup(r->id);
				row[1] = r->pod_namespace || r->pod_name
					     ? xasprintf("%s/%s",
							 r->pod_namespace ? r->pod_namespace : "",
							 r->pod_name ? r->pod_name : "")
					     : xstrdup("-");
				row[2] = xstrdup(r->container_name ? r->container_name : "-");
				row[3] = xstrdup(nh_action_to_string((enum nh_action)a));
				row[4] = xstrdup(ar->backend ? ar->backend : "-");
				row[5] = xstrdup(ar->cpus && ar->cpus[0] ? ar->cpus : "-");
				row[6] = xstrdup(since);
				row[7] = xstrdup(action_state(ar));
			}
		}
		print_table(table, n_lines);
		for (size_t i = 0; i < n_lines; i++)
			for (int k = 0; k < STATUS_COLS; k++)
				free(table[i][k]);
		free(table);
	}
	if (n_rows > 0) {
		puts("");
		puts("CPU  ISOLATED FOR");
		for (size_t i = 0; i < n_rows; i++) {
			printf("%-3u ", rows[i].cpu);
			for (size_t k = 0; k < rows[i].n; k++)
				printf("%s%s", k ? ", " : " ", rows[i].ids[k]);
			puts("");
		}
	}
	if (n_orphans > 0) {
		if (n > 0)
			puts("");
		for (size_t i = 0; i < n_orphans; i++) {
			_cleanup_free_ char *actions = record_actions(&orphans[i]);
			printf(
			    "orphaned: %s (%s): held by a ledger without a record; 'nodehook gc' "
			    "releases it\n",
			    orphans[i].id, actions);
		}
	}
}

int cmd_status(int argc, char **argv)
{
	bool json = false;
	int rc = parse_options(argc, argv, "json", status_usage, &json);
	if (rc >= 0)
		return rc;
	if (optind < argc) {
		print_error("status: unexpected argument '%s'; see 'nodehook status --help'",
			    argv[optind]);
		return EXIT_USAGE;
	}

	__attribute__((cleanup(state_ctx_clear))) struct state_ctx ctx = {0};
	if (state_ctx_open(&ctx, false) != 0)
		return 1;
	int failed = 0;
	struct container_record *recs = NULL, *orphans = NULL;
	size_t n = 0, n_orphans = 0;
	if (ctx.store && (read_records(ctx.store, &recs, &n, &failed) < 0 ||
			  read_orphans(&ctx, &orphans, &n_orphans) < 0)) {
		records_free(recs, n);
		return 1;
	}
	struct cpu_row *rows = NULL;
	size_t n_rows = 0;
	cpu_rows_build(recs, n, &rows, &n_rows);
	if (json)
		print_status_json(&ctx, recs, n, rows, n_rows, orphans, n_orphans);
	else
		print_status_text(recs, n, rows, n_rows, orphans, n_orphans);
	cpu_rows_free(rows, n_rows);
	records_free(recs, n);
	records_free(orphans, n_orphans);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* restore */

/* Undoes one record (real or synthesized) and prints the outcome. Returns 0 or 1. */
static int undo_and_report(struct state_ctx *c, struct container_record *rec, const char *done)
{
	_cleanup_free_ char *actions = record_actions(rec);
	_cleanup_error_ struct nh_error *err = NULL;
	if (lifecycle_undo(c->store, c->config, rec, &err) < 0) {
		print_error("container '%s': %s; the record stays for a later restore or gc",
			    rec->id, err->msg);
		return 1;
	}
	printf("%s: %s (%s)\n", rec->id, done, actions);
	return 0;
}

static int restore_one(struct state_ctx *c, const char *id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	struct container_record rec = {0};
	int r = c->store ? state_record_read(c->store, id, &rec, &err) : 0;
	if (r < 0) {
		print_error("record of container '%s': %s", id, err->msg);
		return 1;
	}
	if (r > 0) {
		int rc = undo_and_report(c, &rec, "restored");
		container_record_clear(&rec);
		return rc;
	}
	/* No record: a ledger may still hold something for it. */
	struct container_record *orphans = NULL;
	size_t n = 0;
	if (c->store && read_orphans(c, &orphans, &n) < 0)
		return 1;
	int rc = -1;
	for (size_t i = 0; i < n && rc < 0; i++)
		if (strcmp(orphans[i].id, id) == 0)
			rc = undo_and_report(c, &orphans[i], "released orphaned ledger entries");
	records_free(orphans, n);
	if (rc < 0) {
		print_error("container '%s': no record: nodehook has applied nothing for it", id);
		return 1;
	}
	return rc;
}

static int restore_all(struct state_ctx *c)
{
	if (!c->store) {
		puts("nothing applied");
		return 0;
	}
	int failed = 0;
	struct container_record *recs = NULL, *orphans = NULL;
	size_t n = 0, n_orphans = 0;
	if (read_records(c->store, &recs, &n, &failed) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		failed += undo_and_report(c, &recs[i], "restored");
	records_free(recs, n);
	if (read_orphans(c, &orphans, &n_orphans) < 0)
		return 1;
	for (size_t i = 0; i < n_orphans; i++)
		failed += undo_and_report(c, &orphans[i], "released orphaned ledger entries");
	records_free(orphans, n_orphans);
	if (n == 0 && n_orphans == 0 && !failed)
		puts("nothing applied");
	return failed ? 1 : 0;
}

int cmd_restore(int argc, char **argv)
{
	bool all = false;
	int rc = parse_options(argc, argv, "all", restore_usage, &all);
	if (rc >= 0)
		return rc;
	int n_args = argc - optind;
	if (all ? n_args != 0 : n_args != 1) {
		print_error(
		    "restore: give one container id or --all; see 'nodehook restore --help'");
		return EXIT_USAGE;
	}
	const char *id = all ? NULL : argv[optind];
	if (id && !container_id_valid(id)) {
		print_error("invalid container id '%.64s': expected [A-Za-z0-9_+.-], at most %d "
			    "characters, not '.' or '..'",
			    id, CONTAINER_ID_MAX);
		return 1;
	}

	__attribute__((cleanup(state_ctx_clear))) struct state_ctx ctx = {0};
	if (state_ctx_open(&ctx, true) != 0)
		return 1;
	return all ? restore_all(&ctx) : restore_one(&ctx, id);
}

/* ------------------------------------------------------------------------------------------ */
/* gc */

static int gc_records(struct state_ctx *c, bool dry_run, size_t *ret_seen)
{
	int failed = 0;
	struct container_record *recs = NULL;
	size_t n = 0;
	if (read_records(c->store, &recs, &n, &failed) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct container_record *rec = &recs[i];
		_cleanup_error_ struct nh_error *err = NULL;
		int gone = lifecycle_container_gone(rec, &err);
		if (gone < 0) {
			print_error("container '%s': cannot tell whether it is gone: %s", rec->id,
				    err->msg);
			failed++;
			continue;
		}
		if (!gone) {
			printf("%s: running, kept\n", rec->id);
			continue;
		}
		if (dry_run) {
			_cleanup_free_ char *actions = record_actions(rec);
			printf("%s: gone, would restore (%s)\n", rec->id, actions);
			continue;
		}
		failed += undo_and_report(c, rec, "gone, restored");
	}
	records_free(recs, n);
	*ret_seen += n;
	return failed ? 1 : 0;
}

static int gc_orphans(struct state_ctx *c, bool dry_run, size_t *ret_seen)
{
	int failed = 0;
	struct container_record *orphans = NULL;
	size_t n = 0;
	if (read_orphans(c, &orphans, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (dry_run) {
			_cleanup_free_ char *actions = record_actions(&orphans[i]);
			printf("%s: no record, would release orphaned ledger entries (%s)\n",
			       orphans[i].id, actions);
			continue;
		}
		failed +=
		    undo_and_report(c, &orphans[i], "no record, released orphaned ledger entries");
	}
	records_free(orphans, n);
	*ret_seen += n;
	return failed ? 1 : 0;
}

int cmd_gc(int argc, char **argv)
{
	bool dry_run = false;
	int rc = parse_options(argc, argv, "dry-run", gc_usage, &dry_run);
	if (rc >= 0)
		return rc;
	if (optind < argc) {
		print_error("gc: unexpected argument '%s'; see 'nodehook gc --help'", argv[optind]);
		return EXIT_USAGE;
	}

	__attribute__((cleanup(state_ctx_clear))) struct state_ctx ctx = {0};
	if (state_ctx_open(&ctx, !dry_run) != 0)
		return 1;
	if (!ctx.store) {
		puts("nothing to collect");
		return 0;
	}
	size_t seen = 0;
	int failed = gc_records(&ctx, dry_run, &seen);
	failed |= gc_orphans(&ctx, dry_run, &seen);
	if (!dry_run) {
		/* The ledgers now name only containers that still run: settings they no longer
		 * justify (a ledger whose holders all went) are given back, and new cpusets of the
		 * running ones are brought in line. */
		_cleanup_error_ struct nh_error *err = NULL;
		if (lifecycle_guard(ctx.store, ctx.config, &err) < 0) {
			print_error("reconciling the ledgers: %s", err->msg);
			failed = 1;
		}
	}
	if (seen == 0 && !failed)
		puts("nothing to collect");
	return failed ? 1 : 0;
}
