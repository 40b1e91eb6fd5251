/* `nodehook hook --stage STAGE`: the OCI hook.
 *
 * createRuntime / prestart: apply what the container's annotations ask and the node policy
 * allows (the container's cgroup exists and no user code has run). poststop: undo from
 * nodehook's own record (the cgroup is gone). Other stages: nothing.
 *
 * Output: logs to syslog and stderr, never stdout. Exit status: 0, or 1 when the start must
 * fail (junk input, a refused or failed action with on_error "fail"), 2 on wrong usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "fileio.h"
#include "json_util.h"
#include "lifecycle.h"
#include "log.h"
#include "node_context.h"
#include "oci_state.h"

static const char hook_usage[] =
    "Usage: nodehook hook --stage STAGE\n"
    "\n"
    "Run as an OCI hook: reads the runtime's state JSON on stdin. At createRuntime or\n"
    "prestart, applies the node-tuning actions the container's annotations ask for and the\n"
    "node policy allows; at poststop, undoes them. Logs go to syslog and stderr.\n"
    "\n"
    "Node config: $NODEHOOK_CONFIG, else /etc/nodehook/config.json.\n";

enum hook_phase {
	PHASE_APPLY,
	PHASE_UNDO,
	PHASE_NONE,
};

static enum hook_phase phase_of(const char *stage)
{
	if (strcmp(stage, "createRuntime") == 0 || strcmp(stage, "prestart") == 0)
		return PHASE_APPLY;
	if (strcmp(stage, "poststop") == 0)
		return PHASE_UNDO;
	return PHASE_NONE;
}

/* Says what lifecycle_start() did on the way; an error it returns is main's to print. */
static void tell(const struct lifecycle_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		const struct lifecycle_event *e = &ev->v[i];
		const char *name = nh_action_to_string(e->action);
		switch (e->kind) {
		case LIFECYCLE_NOTE:
			log_warning("annotation '%s': %s", e->key, e->text);
			break;
		case LIFECYCLE_REFUSED:
			log_warning("%s ('%s'): %s; on_error is \"log\": the container starts "
				    "without it",
				    name, e->key, e->text);
			break;
		case LIFECYCLE_EARLIER_UNDONE:
			log_info("a record of an earlier container %s (pid %d) is still here: "
				 "undoing it first",
				 e->text, (int)e->pid);
			break;
		case LIFECYCLE_ALREADY_APPLIED:
			log_info("%s: already applied", name);
			break;
		case LIFECYCLE_ROLLBACK_FAILED:
			log_warning("%s: rollback failed: %s; the record stays for 'nodehook gc'",
				    name, e->text);
			break;
		case LIFECYCLE_RECORD_NOT_SYNCED:
			log_warning("%s, ignoring", e->text);
			break;
		case LIFECYCLE_APPLIED:
			/* An action without backends (irq-load-balancing) has none to name. */
			if (e->text2 && e->text2[0])
				log_info("%s: applied (CPUs %s, %s)", name, e->text, e->text2);
			else
				log_info("%s: applied (CPUs %s)", name, e->text);
			break;
		case LIFECYCLE_GUARDS_SKIPPED:
			log_info("guards skipped: %s", e->text);
			break;
		case LIFECYCLE_GUARD_FAILED:
			log_warning("guard %s: %s; on_error is \"log\": the container starts", name,
				    e->text);
			break;
		default:
			break;
		}
	}
}

int cmd_hook(int argc, char **argv, struct nh_error **err)
{
	static const struct option options[] = {
	    {"stage", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *stage = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			stage = optarg;
			break;
		case 'h':
			fputs(hook_usage, stdout);
			return 0;
		default:
			fputs(hook_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!stage || optind < argc) {
		fputs(hook_usage, stderr);
		return EXIT_USAGE;
	}

	log_open(&(struct log_sinks){.syslog_ident = "nodehook",
				     .stderr_format = LOG_STDERR_TAGGED,
				     .stderr_max = LOG_LEVEL_INFO,
				     .max = LOG_LEVEL_INFO});
	log_set_context(NULL, stage);
	_cleanup_free_ char *input = NULL;
	size_t len = 0;
	int r = read_full_fd(STDIN_FILENO, NH_STATE_JSON_MAX, &input, &len, err);
	if (r < 0)
		return nh_error_wrap(err, "reading the state from stdin");
	_cleanup_(oci_state_clear) struct oci_state state = {0};
	r = oci_state_parse(input, len, &state, err);
	if (r < 0)
		return r;
	log_set_context(state.id, stage);

	enum hook_phase phase = phase_of(stage);
	if (phase == PHASE_NONE) {
		log_debug("nothing to do at this stage");
		return 0;
	}
	_cleanup_node_context_ struct node_context *node = NULL;
	r = node_context_open(&node, err);
	if (r < 0)
		return r;
	if (phase == PHASE_UNDO) {
		r = lifecycle_stop(node, state.id, err);
		if (r > 0)
			log_info("undone");
		return r < 0 ? r : 0;
	}
	_cleanup_(lifecycle_events_clear) struct lifecycle_events ev = {0};
	r = lifecycle_start(node, &state, &ev, err);
	tell(&ev);
	return r < 0 ? r : 0;
}
