/* `nodehook status`: the operator's view of what nodehook has changed on the node, collected by
 * status_collect() (status.h) and rendered here as tables or JSON. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "json_util.h"
#include "log.h"
#include "node_context.h"
#include "status.h"
#include "xalloc.h"

static const char status_usage[] =
    "Usage: nodehook status [--json]\n"
    "\n"
    "Show what nodehook has applied on this node now: per container, each action with the\n"
    "annotation value that asked for it, its backend, CPUs, start time, state (applied, or\n"
    "half-applied: an apply that did not finish, which 'nodehook gc' or 'nodehook restore'\n"
    "undoes) and a summary of what it changed (its details); per CPU, the containers that\n"
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
    "                    \"actions\": [{\"action\": STRING, \"value\": STRING|null,\n"
    "                                 \"backend\": STRING|null,\n"
    "                                 \"cpus\": STRING|null (CPU list, \"1,3-4\"),\n"
    "                                 \"state\": \"applied\"|\"half-applied\",\n"
    "                                 \"details\": OBJECT (the action's own)}]}],\n"
    "                 \"cpus\": [{\"cpu\": NUMBER, \"isolated_for\": [ID...]}],   by cpu\n"
    "                 \"orphans\": [{\"id\": STRING, \"action\": STRING,\n"
    "                              \"backend\": STRING}]}\n"
    "              Members may be added in later versions; none is removed or changes\n"
    "              meaning without a new \"version\".\n"
    "  -h, --help  show this help\n"
    "\n"
    "Node config: $NODEHOOK_CONFIG, else /etc/nodehook/config.json (its state_dir).\n"
    "Exit status: 0 success, 1 failure (a record could not be read), 2 wrong usage.\n";

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

static json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_status_json(const char *state_dir, const struct node_status *s)
{
	const struct container_record *recs = s->records, *orphans = s->orphans;
	size_t n = s->n_records, n_rows = s->n_cpus, n_orphans = s->n_orphans;
	const struct status_cpu *rows = s->cpus;
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(doc, "state_dir", json_object_new_string(state_dir));
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
			json_object_object_add(ao, "value", json_str_or_null(ar->value));
			json_object_object_add(ao, "backend", json_str_or_null(ar->backend));
			json_object_object_add(ao, "cpus", json_str_or_null(ar->cpus));
			json_object_object_add(ao, "state",
					       json_object_new_string(action_state(ar)));
			json_object_object_add(ao, "details",
					       ar->details ? json_object_get(ar->details)
							   : json_object_new_object());
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

#define STATUS_COLS 10

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

static void print_status_text(const struct node_status *s)
{
	const struct container_record *recs = s->records, *orphans = s->orphans;
	size_t n = s->n_records, n_rows = s->n_cpus, n_orphans = s->n_orphans;
	const struct status_cpu *rows = s->cpus;
	if (n == 0 && n_orphans == 0) {
		/* A record that could not be read (reported above) may describe anything. */
		puts(s->errors ? "no readable record" : "nothing applied");
		return;
	}
	if (n > 0) {
		size_t n_lines = 1;
		for (size_t i = 0; i < n; i++)
			for (int a = 0; a < NH_ACTION__MAX; a++)
				n_lines += recs[i].actions[a].present;
		char *(*table)[STATUS_COLS] = xcalloc(n_lines, sizeof(*table));
		static const char *const header[STATUS_COLS] = {
		    "CONTAINER", "POD",	 "NAME",  "ACTION", "VALUE",
		    "BACKEND",	 "CPUS", "SINCE", "STATE",  "DETAILS"};
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
				row[4] = xstrdup(ar->value && ar->value[0] ? ar->value : "-");
				row[5] = xstrdup(ar->backend ? ar->backend : "-");
				row[6] = xstrdup(ar->cpus && ar->cpus[0] ? ar->cpus : "-");
				row[7] = xstrdup(since);
				row[8] = xstrdup(action_state(ar));
				row[9] = status_details_summary(ar);
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
			_cleanup_free_ char *actions = status_record_actions(&orphans[i]);
			printf(
			    "orphaned: %s (%s): held by a ledger without a record; 'nodehook gc' "
			    "releases it\n",
			    orphans[i].id, actions);
		}
	}
}

int cmd_status(int argc, char **argv, struct nh_error **err)
{
	bool json = false;
	int rc = cli_parse_flag(argc, argv, "json", status_usage, &json);
	if (rc >= 0)
		return rc;
	if (optind < argc) {
		log_error("status: unexpected argument '%s'; see 'nodehook status --help'",
			  argv[optind]);
		return EXIT_USAGE;
	}

	_cleanup_node_context_ struct node_context *node = NULL;
	int r = node_context_open(&node, err);
	if (r < 0)
		return r;
	_cleanup_node_status_ struct node_status s = {0};
	r = status_collect(node, &s, err);
	if (r < 0)
		return r;
	/* Collected under the shared lock; printed after releasing it: a stalled reader of stdout
	 * or stderr (`status | less`, a log shipper) must not hold up every hook on the node. */
	node_context_close_store(node);
	for (char **e = s.errors; e && *e; e++)
		log_error("%s", *e);
	for (char **w = s.warnings; w && *w; w++)
		log_warning("%s", *w);
	if (json)
		print_status_json(node->config->state_dir, &s);
	else
		print_status_text(&s);
	return s.errors ? 1 : 0;
}
