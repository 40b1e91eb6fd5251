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

#include "action.h"
#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "fileio.h"
#include "json_util.h"
#include "kernel.h"
#include "lifecycle.h"
#include "log.h"
#include "node_config.h"
#include "oci_config.h"
#include "requests.h"
#include "state_store.h"
#include "sysroot.h"
#include "xalloc.h"

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

static int undo_phase(const struct node_config *config, const struct oci_state *state,
		      const char *boot_id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_state_store_ struct state_store *store = NULL;
	struct container_record rec = {0};
	int r = lifecycle_open_record(config, boot_id, state->id, &store, &rec, &err);
	if (r <= 0) {
		if (r < 0)
			log_error("%s", err->msg);
		return r < 0;
	}
	r = lifecycle_undo(store, config, &rec, &err);
	container_record_clear(&rec);
	if (r < 0) {
		log_error("%s; the record stays for 'nodehook restore' or 'nodehook gc'", err->msg);
		return 1;
	}
	log_info("undone");
	return 0;
}

/* A refused or failed action: fatal or logged, per the action's on_error. Returns 1 if fatal. */
static int refuse(const struct node_config *config, enum nh_action a, const char *key,
		  const char *reason)
{
	const char *name = nh_action_to_string(a);
	if (config->actions[a].on_error == ON_ERROR_LOG) {
		log_warning("%s ('%s'): %s; on_error is \"log\": the container starts without it",
			    name, key, reason);
		return 0;
	}
	log_error("%s ('%s'): %s", name, key, reason);
	return 1;
}

static int apply_phase(const struct node_config *config, const struct oci_state *state,
		       const char *boot_id)
{
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *config_path = xasprintf("%s/config.json", state->bundle);
	_cleanup_oci_config_ struct oci_config *oci = NULL;
	if (oci_config_load(config_path, &oci, &err) < 0) {
		log_error("%s", err->msg);
		return 1;
	}
	_cleanup_container_info_ struct container_info *c = NULL;
	if (container_info_build(state, oci, config->cri, &c, &err) < 0) {
		log_error("%s", err->msg);
		return 1;
	}

	struct action_request req[NH_ACTION__MAX];
	requests_find(oci, c, config->annotation_domains, req);
	bool want[NH_ACTION__MAX] = {0}, any = false;
	int failed = 0;
	for (int a = 0; a < NH_ACTION__MAX && !failed; a++) {
		if (!req[a].present)
			continue;
		const struct action_ops *ops = action_lookup((enum nh_action)a);
		const char *note = NULL;
		int r = ops->parse_value(req[a].value, &note, &err);
		if (r < 0) {
			/* Junk from the pod author fails the start whatever on_error says. */
			log_error("annotation '%s': %s", req[a].key, err->msg);
			failed = 1;
			break;
		}
		if (note)
			log_warning("annotation '%s': %s", req[a].key, note);
		if (r == 0)
			continue;
		_cleanup_free_ char *reason = NULL;
		if (!policy_allows(&config->actions[a], c, &reason)) {
			failed = refuse(config, (enum nh_action)a, req[a].key, reason);
			continue;
		}
		if (ops->check(c, &err) < 0) {
			failed = refuse(config, (enum nh_action)a, req[a].key, err->msg);
			err = nh_error_free(err);
			continue;
		}
		want[a] = any = true;
	}
	if (failed) {
		requests_clear(req);
		return 1;
	}

	_cleanup_state_store_ struct state_store *store = NULL;
	if (!any) {
		/* Nothing asked: only the guards run, and only where nodehook is in use. */
		requests_clear(req);
		if (state_store_open_existing(config->state_dir, boot_id, &store, &err) < 0) {
			log_error("%s", err->msg);
			return 1;
		}
		if (!store)
			return 0;
		if (state_store_lock(store, true, &err) < 0 ||
		    lifecycle_guard(store, config, &err) < 0) {
			log_error("%s", err->msg);
			return 1;
		}
		return 0;
	}

	if (state_store_open(config->state_dir, boot_id, &store, &err) < 0 ||
	    state_store_lock(store, true, &err) < 0) {
		log_error("%s", err->msg);
		requests_clear(req);
		return 1;
	}
	struct container_record rec = {0};
	if (lifecycle_record_open(store, config, c, &rec, &err) < 0) {
		log_error("%s", err->msg);
		requests_clear(req);
		return 1;
	}
	for (int a = 0; a < NH_ACTION__MAX && !failed; a++) {
		if (!want[a])
			continue;
		int r = lifecycle_apply(store, config, c, &rec, (enum nh_action)a, &err);
		if (r < 0) {
			failed = refuse(config, (enum nh_action)a, req[a].key, err->msg);
			err = nh_error_free(err);
			continue;
		}
		if (r == 0)
			continue; /* logged as already applied */
		_cleanup_free_ char *cpus = cpuset_format_list(&c->cpus);
		log_info("%s: applied (CPUs %s, %s)", nh_action_to_string((enum nh_action)a), cpus,
			 rec.actions[a].backend ? rec.actions[a].backend : "");
	}
	container_record_clear(&rec);
	requests_clear(req);
	return failed;
}

int cmd_hook(int argc, char **argv)
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

	log_open("nodehook", true, true, LOG_LEVEL_INFO);
	log_set_context(NULL, stage);
	_cleanup_error_ struct nh_error *err = NULL;
	_cleanup_free_ char *input = NULL;
	size_t len = 0;
	if (read_full_fd(STDIN_FILENO, NH_STATE_JSON_MAX, &input, &len, &err) < 0) {
		log_error("reading the state from stdin: %s", err->msg);
		return 1;
	}
	struct oci_state state = {0};
	if (oci_state_parse(input, len, &state, &err) < 0) {
		log_error("%s", err->msg);
		return 1;
	}
	log_set_context(state.id, stage);

	enum hook_phase phase = phase_of(stage);
	int rc = 0;
	_cleanup_node_config_ struct node_config *config = NULL;
	_cleanup_free_ char *boot_id = NULL;
	if (phase == PHASE_NONE) {
		log_debug("nothing to do at this stage");
	} else if (node_config_load(&config, &err) < 0) {
		log_error("node config: %s", err->msg);
		rc = 1;
	} else {
		sysroot_set(config->sysroot);
		if (kernel_boot_id(&boot_id, &err) < 0) {
			log_error("%s", err->msg);
			rc = 1;
		} else {
			rc = phase == PHASE_APPLY ? apply_phase(config, &state, boot_id)
						  : undo_phase(config, &state, boot_id);
		}
	}
	oci_state_clear(&state);
	log_close();
	return rc;
}
