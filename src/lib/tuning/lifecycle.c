#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "cleanup.h"
#include "cpuset.h"
#include "kernel.h"
#include "log.h"
#include "requests.h"
#include "xalloc.h"

/* The runtime that runs a hook is its parent (runc or crun, or a wrapper that exec'ed them). */
static void runtime_from_parent(char **ret_path, char **ret_root)
{
	_cleanup_free_ char *exe = NULL;
	if (kernel_process_exe(getppid(), &exe) <= 0)
		return;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ struct nh_error *err = NULL;
	if (kernel_process_cmdline(getppid(), &buf, &len, &err) < 0)
		return;
	/* Global options come before the command: --root R, --root=R, -root R (runc). */
	for (size_t i = 0; i < len;) {
		const char *arg = buf + i;
		size_t arg_len = strlen(arg);
		const char *next = i + arg_len + 1 < len ? buf + i + arg_len + 1 : NULL;
		if ((strcmp(arg, "--root") == 0 || strcmp(arg, "-root") == 0) && next) {
			*ret_root = xstrdup(next);
			break;
		}
		if (strncmp(arg, "--root=", 7) == 0) {
			*ret_root = xstrdup(arg + 7);
			break;
		}
		if (strcmp(arg, "create") == 0 || strcmp(arg, "run") == 0)
			break;
		i += arg_len + 1;
	}
	*ret_path = TAKE_PTR(exe);
}

/* Whether a record describes another process than the container now starting under its id. */
static bool record_of_other_process(const struct container_record *rec, pid_t pid, uint64_t start)
{
	if (pid <= 0 || rec->pid <= 0)
		return false; /* cannot tell: the same container, as far as we know */
	return rec->pid != pid || (rec->pid_start && start && rec->pid_start != start);
}

static void event_add(struct lifecycle_events *ev, enum lifecycle_event_kind kind, enum nh_action a,
		      const char *key, const char *text, const char *text2, pid_t pid)
{
	if (!ev)
		return;
	ev->v = xreallocarray(ev->v, ev->n + 1, sizeof(*ev->v));
	ev->v[ev->n++] = (struct lifecycle_event){
	    .kind = kind,
	    .action = a,
	    .key = key ? xstrdup(key) : NULL,
	    .text = text ? xstrdup(text) : NULL,
	    .text2 = text2 ? xstrdup(text2) : NULL,
	    .pid = pid,
	};
}

void lifecycle_events_clear(struct lifecycle_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		free(ev->v[i].key);
		free(ev->v[i].text);
		free(ev->v[i].text2);
	}
	free(ev->v);
	*ev = (struct lifecycle_events){0};
}

static int record_begin(struct state_store *store, const struct node_config *config,
			const struct container_info *c, struct lifecycle_events *ev,
			struct container_record *ret, struct nh_error **err)
{
	uint64_t start = 0;
	if (c->pid > 0) {
		_cleanup_error_ struct nh_error *e = NULL;
		if (kernel_process_start_time(c->pid, &start, &e) < 0)
			log_debug("start time of pid %d: %s", (int)c->pid, e->msg);
	}
	_cleanup_container_record_ struct container_record old = {0};
	int r = state_record_read(store, c->id, &old, err);
	if (r < 0)
		return r;
	if (r > 0 && !record_of_other_process(&old, c->pid, start)) {
		*ret = old;
		old = (struct container_record){0};
		return 0;
	}
	if (r > 0) {
		event_add(ev, LIFECYCLE_EARLIER_UNDONE, NH_ACTION__INVALID, NULL, old.id, NULL,
			  old.pid);
		r = lifecycle_undo(store, config, &old, err);
		if (r < 0)
			return nh_error_wrap(err, "undo for the earlier container %s", c->id);
	}
	struct container_record rec = {0};
	rec.id = xstrdup(c->id);
	rec.pid = c->pid;
	rec.pid_start = start;
	runtime_from_parent(&rec.runtime_path, &rec.runtime_root);
	rec.pod_namespace = c->pod_namespace ? xstrdup(c->pod_namespace) : NULL;
	rec.pod_name = c->pod_name ? xstrdup(c->pod_name) : NULL;
	rec.container_name = c->container_name ? xstrdup(c->container_name) : NULL;
	rec.since = (int64_t)time(NULL);
	*ret = rec;
	return 0;
}

int lifecycle_record_begin(struct state_store *store, const struct node_config *config,
			   const struct container_info *c, struct container_record *ret,
			   struct nh_error **err)
{
	return record_begin(store, config, c, NULL, ret, err);
}

static bool record_empty(const struct container_record *rec)
{
	for (int a = 0; a < NH_ACTION__MAX; a++)
		if (rec->actions[a].present)
			return false;
	return true;
}

/* Saves the record, or removes it when it holds no action any more. */
static int record_sync(struct state_store *store, struct container_record *rec,
		       struct nh_error **err)
{
	if (record_empty(rec))
		return state_record_remove(store, rec->id, err);
	return state_record_write(store, rec, err);
}

/* Sets the value an apply starts from; value may be ar->value itself (update). */
static void record_value_set(struct action_record *ar, const char *value)
{
	char *copy = value ? xstrdup(value) : NULL;
	free(ar->value);
	ar->value = copy;
}

static int apply_action(struct state_store *store, const struct node_config *config,
			const struct container_info *c, struct container_record *rec,
			enum nh_action a, const char *value, struct lifecycle_events *ev,
			struct nh_error **err)
{
	const struct action_ops *ops = action_lookup(a);
	struct action_record *ar = &rec->actions[a];
	if (ar->present && ar->applied)
		return 0;
	/* The action marks itself present when it saves the record, before its first change:
	 * an apply that fails before that changed nothing and has nothing to roll back. */
	ar->applied = false;
	record_value_set(ar, value);
	struct action_context ctx = {.store = store,
				     .config = config,
				     .container = c,
				     .record = rec,
				     .action = a,
				     .value = ar->value};
	int r = ops->apply(&ctx, err);
	if (r < 0) {
		_cleanup_error_ struct nh_error *undo_err = NULL;
		if (ar->present && ops->undo(&ctx, &undo_err) < 0) {
			event_add(ev, LIFECYCLE_ROLLBACK_FAILED, a, NULL, undo_err->msg, NULL, 0);
			return r;
		}
		action_record_clear(ar);
		_cleanup_error_ struct nh_error *sync_err = NULL;
		if (record_sync(store, rec, &sync_err) < 0)
			event_add(ev, LIFECYCLE_RECORD_NOT_SYNCED, a, NULL, sync_err->msg, NULL, 0);
		return r;
	}
	ar->present = true;
	ar->applied = true;
	r = state_record_write(store, rec, err);
	return r < 0 ? r : 1;
}

int lifecycle_apply(struct state_store *store, const struct node_config *config,
		    const struct container_info *c, struct container_record *rec, enum nh_action a,
		    const char *value, struct nh_error **err)
{
	return apply_action(store, config, c, rec, a, value, NULL, err);
}

int lifecycle_undo(struct state_store *store, const struct node_config *config,
		   struct container_record *rec, struct nh_error **err)
{
	/* An action that cannot be undone (its ledger unreadable, say) stays in the record; the
	 * others are undone all the same. The first failure is returned. */
	int failed = 0;
	for (int a = NH_ACTION__MAX; a-- > 0;) {
		if (!rec->actions[a].present)
			continue;
		const struct action_ops *ops = action_lookup((enum nh_action)a);
		struct action_context ctx = {.store = store,
					     .config = config,
					     .record = rec,
					     .action = (enum nh_action)a,
					     .value = rec->actions[a].value};
		_cleanup_error_ struct nh_error *undo_err = NULL;
		int r = ops->undo(&ctx, &undo_err);
		if (r < 0) {
			if (!failed) {
				failed = r;
				*err = TAKE_PTR(undo_err);
				nh_error_wrap(err, "undo %s",
					      nh_action_to_string((enum nh_action)a));
			}
			continue;
		}
		action_record_clear(&rec->actions[a]);
		_cleanup_error_ struct nh_error *sync_err = NULL;
		r = record_sync(store, rec, &sync_err);
		if (r < 0 && !failed) {
			*err = TAKE_PTR(sync_err);
			return r;
		}
	}
	if (failed)
		return failed;
	return state_record_remove(store, rec->id, err);
}

/* Runs the action's apply for the container with `cpus` (its update op where it has one and
 * `use_update`); the record's entry is marked applied and saved on success. */
static int follow_cpus(struct state_store *store, const struct node_config *config,
		       struct container_record *rec, enum nh_action a, const struct cpuset *to,
		       bool use_update, struct nh_error **err)
{
	const struct action_ops *ops = action_lookup(a);
	struct action_record *ar = &rec->actions[a];
	/* What apply needs to know of the container: its id, pid and CPUs. The cpuset came from
	 * the same runtime that ran the container, so it is as exclusive as before. */
	_cleanup_cpuset_ struct cpuset cpus = {0};
	cpuset_copy(&cpus, to);
	struct container_info c = {
	    .id = rec->id, .pid = rec->pid, .has_cpus = true, .cpus = cpus, .exclusive = true};
	struct action_context ctx = {.store = store,
				     .config = config,
				     .container = &c,
				     .record = rec,
				     .action = a,
				     .value = ar->value};
	int r = 0;
	if (use_update && ops->update) {
		r = ops->update(&ctx, err);
	} else if (use_update) {
		r = ops->undo(&ctx, err);
		if (r >= 0)
			r = ops->apply(&ctx, err);
	} else {
		r = ops->apply(&ctx, err);
	}
	if (r < 0)
		return r;
	ar->present = true;
	ar->applied = true;
	return state_record_write(store, rec, err);
}

/* Before an action follows new CPUs, what was checked at start is checked again: the node policy
 * (it may have changed since) for the container's namespace, and, for a pod, that the CPUs are
 * still as many as those whose Guaranteed shares and quota were verified then (a pod's update
 * to more CPUs would otherwise take them out of the shared pool unchecked). */
static int recheck_update(const struct node_config *config, const struct container_record *rec,
			  enum nh_action a, const struct cpuset *old, const struct cpuset *new_cpus,
			  struct nh_error **err)
{
	struct container_info c = {.id = rec->id, .pod_namespace = rec->pod_namespace};
	_cleanup_free_ char *reason = NULL;
	if (!requests_policy_allows(&config->actions[a], &c, &reason))
		return nh_error_set(err, EPERM, "%s does not follow the new CPUs: %s",
				    nh_action_to_string(a), reason);
	size_t n_old = cpuset_count(old), n_new = cpuset_count(new_cpus);
	if (rec->pod_namespace && n_old != n_new)
		return nh_error_set(
		    err, EPERM,
		    "%s does not follow the new CPUs: the update changes the pod's "
		    "CPUs from %zu to %zu, and its Guaranteed check (shares and quota "
		    "of whole CPUs) was made for %zu",
		    nh_action_to_string(a), n_old, n_new, n_old);
	return 0;
}

/* Makes one action follow new CPUs: 1 moved, 0 nothing to do. A record whose last update
 * failed half-way (present, not applied) is not skipped: this update repairs it. When the
 * action cannot follow, it goes back to the CPUs it had, so that the record and the ledgers are
 * as they were (a ledger left with the refused CPUs would fail every later container start). */
static int update_action(struct state_store *store, const struct node_config *config,
			 struct container_record *rec, enum nh_action a,
			 const struct cpuset *new_cpus, struct nh_error **err)
{
	const struct action_ops *ops = action_lookup(a);
	struct action_record *ar = &rec->actions[a];
	if (!ops->follows_cpus || !ar->present || !ar->cpus)
		return 0;
	_cleanup_cpuset_ struct cpuset old = {0};
	if (cpuset_parse_list(ar->cpus, &old, err) < 0)
		return nh_error_wrap(err, "record of %s: %s", rec->id, nh_action_to_string(a));
	if (ar->applied && cpuset_equal(&old, new_cpus))
		return 0;
	int r = recheck_update(config, rec, a, &old, new_cpus, err);
	if (r < 0)
		return r;

	r = follow_cpus(store, config, rec, a, new_cpus, true, err);
	if (r >= 0)
		return 1;
	nh_error_wrap(err, "%s follows the new CPUs", nh_action_to_string(a));
	_cleanup_error_ struct nh_error *back_err = NULL;
	_cleanup_free_ char *old_list = cpuset_format_list(&old);
	if (follow_cpus(store, config, rec, a, &old, false, &back_err) < 0)
		nh_error_append(err, "; going back to CPUs %s failed too: %s", old_list,
				back_err->msg);
	else
		nh_error_append(err, "; it stays on CPUs %s", old_list);
	return r;
}

int lifecycle_update_cpus(struct state_store *store, const struct node_config *config,
			  struct container_record *rec, const struct cpuset *new_cpus,
			  struct nh_error **err)
{
	/* Every action is tried, in apply order: one that cannot follow does not keep the others
	 * on the old CPUs. The first error is returned. */
	int moved = 0, failed = 0;
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		_cleanup_error_ struct nh_error *e = NULL;
		int r = update_action(store, config, rec, (enum nh_action)a, new_cpus, &e);
		if (r < 0 && !failed) {
			failed = r;
			*err = TAKE_PTR(e);
		}
		if (r > 0)
			moved = 1;
	}
	return failed ? failed : moved;
}

int lifecycle_guard(struct state_store *store, const struct node_config *config,
		    struct nh_error **err)
{
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const struct action_ops *ops = action_lookup((enum nh_action)a);
		if (!ops->guard)
			continue;
		struct action_context ctx = {
		    .store = store, .config = config, .action = (enum nh_action)a};
		int r = ops->guard(&ctx, err);
		if (r < 0)
			return nh_error_wrap(err, "guard %s",
					     nh_action_to_string((enum nh_action)a));
	}
	return 0;
}

struct orphan_scan {
	char **with_record; /* sorted */
	size_t n_with_record;
	enum nh_action action;
	struct container_record *orphans;
	size_t n;
};

static int compare_id(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

static int compare_records(const void *a, const void *b)
{
	return strcmp(((const struct container_record *)a)->id,
		      ((const struct container_record *)b)->id);
}

static int note_holder(const char *id, const char *backend, void *userdata, struct nh_error **err)
{
	struct orphan_scan *scan = userdata;
	if (!container_id_valid(id))
		return nh_error_set(err, EBADMSG, "a ledger names an invalid container id '%.64s'",
				    id);
	if (bsearch(id, scan->with_record, scan->n_with_record, sizeof(char *), compare_id))
		return 0;
	struct container_record *rec = NULL;
	for (size_t i = 0; i < scan->n && !rec; i++)
		if (strcmp(scan->orphans[i].id, id) == 0)
			rec = &scan->orphans[i];
	if (!rec) {
		scan->orphans = xreallocarray(scan->orphans, scan->n + 1, sizeof(*scan->orphans));
		rec = &scan->orphans[scan->n++];
		*rec = (struct container_record){.id = xstrdup(id)};
	}
	struct action_record *ar = &rec->actions[scan->action];
	if (ar->present)
		return 0; /* held by two backends of one action: undo asks the first */
	ar->present = true;
	ar->backend = xstrdup(backend);
	return 0;
}

static void orphan_scan_clear(struct orphan_scan *scan)
{
	container_records_free(scan->orphans, scan->n);
}

int lifecycle_orphans(struct state_store *store, const struct node_config *config,
		      struct container_record **ret, size_t *ret_n, struct nh_error **err)
{
	_cleanup_strv_ char **ids = NULL;
	int r = state_record_list(store, &ids, err);
	if (r < 0)
		return r;
	/* A record that cannot be read (truncated, corrupt) counts as missing: what the ledgers
	 * hold for its id can still be released; its file goes with the undo. */
	size_t kept = 0;
	for (size_t i = 0; ids[i]; i++) {
		_cleanup_container_record_ struct container_record rec = {0};
		_cleanup_error_ struct nh_error *read_err = NULL;
		if (state_record_read(store, ids[i], &rec, &read_err) > 0)
			ids[kept++] = ids[i];
		else
			free(ids[i]);
	}
	ids[kept] = NULL;
	_cleanup_(orphan_scan_clear) struct orphan_scan scan = {.with_record = ids};
	scan.n_with_record = kept;
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const struct action_ops *ops = action_lookup((enum nh_action)a);
		if (!ops->holders)
			continue;
		struct action_context ctx = {
		    .store = store, .config = config, .action = (enum nh_action)a};
		scan.action = (enum nh_action)a;
		r = ops->holders(&ctx, note_holder, &scan, err);
		if (r < 0)
			return nh_error_wrap(err, "%s", nh_action_to_string((enum nh_action)a));
	}
	if (scan.n > 0)
		qsort(scan.orphans, scan.n, sizeof(*scan.orphans), compare_records);
	*ret_n = scan.n;
	*ret = TAKE_PTR(scan.orphans);
	scan.n = 0;
	return 0;
}

/* Asks the runtime for the container's state: 1 known, 0 unknown, <0 could not ask. */
static int runtime_knows(const struct container_record *rec, struct nh_error **err)
{
	if (!rec->runtime_path)
		return 0;
	const char *argv[8];
	int n = 0;
	argv[n++] = rec->runtime_path;
	if (rec->runtime_root) {
		argv[n++] = "--root";
		argv[n++] = rec->runtime_root;
	}
	argv[n++] = "state";
	argv[n++] = rec->id;
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid = 0;
	int r = posix_spawn(&pid, rec->runtime_path, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		if (r == ENOENT)
			return 0; /* the runtime itself is gone: it knows nothing */
		return nh_error_set_errno(err, r, "run %s state %s", rec->runtime_path, rec->id);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return nh_error_set_errno(err, errno, "wait for %s", rec->runtime_path);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int lifecycle_container_gone(const struct container_record *rec, struct nh_error **err)
{
	int r = runtime_knows(rec, err);
	if (r < 0)
		return r;
	if (r > 0)
		return 0;
	uint64_t start = 0;
	r = kernel_process_start_time(rec->pid, &start, err);
	if (r < 0)
		return r;
	/* The same process still runs (or one we cannot tell from it: no start time recorded). */
	if (r > 0 && (!rec->pid_start || start == rec->pid_start))
		return 0;
	return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The flows, one call each for the entry points. */

/* A refused or failed action: an error when the action's on_error is "fail", else an event and
 * the start goes on. */
static int refuse(const struct node_config *config, enum nh_action a, const char *key,
		  const char *reason, int errnum, struct lifecycle_events *ev,
		  struct nh_error **err)
{
	if (config->actions[a].on_error == ON_ERROR_LOG) {
		event_add(ev, LIFECYCLE_REFUSED, a, key, reason, NULL, 0);
		return 0;
	}
	return nh_error_set(err, errnum, "%s ('%s'): %s", nh_action_to_string(a), key, reason);
}

/* Which actions the container asks for and may have: *ret_want per action. Junk values fail;
 * refusals fail or become events, per on_error. */
static int decide(const struct node_config *config, const struct container_info *c,
		  const struct action_request req[NH_ACTION__MAX], struct lifecycle_events *ev,
		  bool ret_want[NH_ACTION__MAX], struct nh_error **err)
{
	for (int i = 0; i < NH_ACTION__MAX; i++) {
		enum nh_action a = (enum nh_action)i;
		if (!req[a].present)
			continue;
		const struct action_ops *ops = action_lookup(a);
		const char *note = NULL;
		int r = ops->parse_value(req[a].value, &note, err);
		if (r < 0) /* junk from the pod author fails the start whatever on_error says */
			return nh_error_wrap(err, "annotation '%s'", req[a].key);
		if (note)
			event_add(ev, LIFECYCLE_NOTE, a, req[a].key, note, NULL, 0);
		if (r == 0)
			continue;
		_cleanup_free_ char *reason = NULL;
		if (!requests_policy_allows(&config->actions[a], c, &reason)) {
			r = refuse(config, a, req[a].key, reason, EPERM, ev, err);
			if (r < 0)
				return r;
			continue;
		}
		_cleanup_error_ struct nh_error *check_err = NULL;
		if (ops->check(c, &check_err) < 0) {
			r = refuse(config, a, req[a].key, check_err->msg, check_err->errnum, ev,
				   err);
			if (r < 0)
				return r;
			continue;
		}
		ret_want[a] = true;
	}
	return 0;
}

/* An action failed and on_error is "fail": the container will not start, so the actions
 * applied before it (earlier in apply order) are undone now rather than left to gc. */
static int fail_start(struct node_context *node, struct container_record *rec,
		      struct nh_error **err)
{
	int r = -(*err)->errnum;
	if (record_empty(rec))
		return r;
	_cleanup_error_ struct nh_error *undo_err = NULL;
	if (lifecycle_undo(node->store, node->config, rec, &undo_err) < 0)
		nh_error_append(err,
				"; undoing the actions applied before it failed too (%s): the "
				"record stays for 'nodehook gc'",
				undo_err->msg);
	return r;
}

static bool permission_error(int errnum)
{
	return errnum == EACCES || errnum == EPERM;
}

/* Nothing asked: only the guards run, and only where nodehook is in use. A hook that may not
 * open the state directory (rootless Podman runs hooks as the user) changes nothing and says
 * why. A guard that fails under on_error "log" becomes an event; the container starts. */
static int start_guards(struct node_context *node, struct lifecycle_events *ev,
			struct nh_error **err)
{
	const struct node_config *config = node->config;
	_cleanup_error_ struct nh_error *open_err = NULL;
	int r = node_context_open_store(node, NODE_STORE_EXISTING, true, &open_err);
	if (r < 0 && permission_error(open_err->errnum)) {
		_cleanup_free_ char *why =
		    xasprintf("%s (uid %u: a rootless container cannot change the node, and it "
			      "asked for nothing)",
			      open_err->msg, (unsigned)geteuid());
		event_add(ev, LIFECYCLE_GUARDS_SKIPPED, NH_ACTION__INVALID, NULL, why, NULL, 0);
		return 0;
	}
	if (r < 0) {
		*err = TAKE_PTR(open_err);
		return r;
	}
	if (r == 0)
		return 0;
	for (int a = 0; a < NH_ACTION__MAX; a++) {
		const struct action_ops *ops = action_lookup((enum nh_action)a);
		if (!ops->guard)
			continue;
		struct action_context ctx = {
		    .store = node->store, .config = config, .action = (enum nh_action)a};
		_cleanup_error_ struct nh_error *guard_err = NULL;
		r = ops->guard(&ctx, &guard_err);
		if (r >= 0)
			continue;
		if (config->actions[a].on_error == ON_ERROR_LOG) {
			event_add(ev, LIFECYCLE_GUARD_FAILED, (enum nh_action)a, NULL,
				  guard_err->msg, NULL, 0);
			continue;
		}
		*err = TAKE_PTR(guard_err);
		return nh_error_wrap(err, "guard %s", nh_action_to_string((enum nh_action)a));
	}
	return 0;
}

int lifecycle_start(struct node_context *node, const struct oci_state *state,
		    struct lifecycle_events *ev, struct nh_error **err)
{
	const struct node_config *config = node->config;
	_cleanup_free_ char *config_path = xasprintf("%s/config.json", state->bundle);
	_cleanup_oci_config_ struct oci_config *oci = NULL;
	int r = oci_config_load(config_path, &oci, err);
	if (r < 0)
		return r;
	_cleanup_container_info_ struct container_info *c = NULL;
	r = container_info_build(state, oci, config->cri, &c, err);
	if (r < 0)
		return r;

	_cleanup_requests_ struct action_request req[NH_ACTION__MAX];
	requests_find(oci, c, config->annotation_domains, req);
	bool want[NH_ACTION__MAX] = {0}, any = false;
	r = decide(config, c, req, ev, want, err);
	if (r < 0)
		return r;
	for (int a = 0; a < NH_ACTION__MAX; a++)
		any = any || want[a];

	if (!any)
		return start_guards(node, ev, err);

	r = node_context_open_store(node, NODE_STORE_CREATE, true, err);
	if (r < 0)
		return r;
	_cleanup_container_record_ struct container_record rec = {0};
	r = record_begin(node->store, config, c, ev, &rec, err);
	if (r < 0)
		return r;
	for (int i = 0; i < NH_ACTION__MAX; i++) {
		enum nh_action a = (enum nh_action)i;
		if (!want[a])
			continue;
		_cleanup_error_ struct nh_error *apply_err = NULL;
		r = apply_action(node->store, config, c, &rec, a, req[a].value, ev, &apply_err);
		if (r < 0) {
			r = refuse(config, a, req[a].key, apply_err->msg, apply_err->errnum, ev,
				   err);
			if (r < 0)
				return fail_start(node, &rec, err);
			continue;
		}
		if (r == 0) {
			event_add(ev, LIFECYCLE_ALREADY_APPLIED, a, NULL, NULL, NULL, 0);
			continue;
		}
		_cleanup_free_ char *cpus = cpuset_format_list(&c->cpus);
		event_add(ev, LIFECYCLE_APPLIED, a, NULL, cpus,
			  rec.actions[a].backend ? rec.actions[a].backend : "", 0);
	}
	return 0;
}

/* Opens the store if there is one, locks it and reads id's record: 1, or 0 when there is none. */
static int record_of(struct node_context *node, const char *id, struct container_record *ret,
		     struct nh_error **err)
{
	int r = node_context_open_store(node, NODE_STORE_EXISTING, true, err);
	if (r <= 0)
		return r;
	return state_record_read(node->store, id, ret, err);
}

int lifecycle_stop(struct node_context *node, const char *id, struct nh_error **err)
{
	_cleanup_container_record_ struct container_record rec = {0};
	int r = record_of(node, id, &rec, err);
	if (r <= 0)
		return r;
	r = lifecycle_undo(node->store, node->config, &rec, err);
	if (r < 0)
		return nh_error_append(err, "; the record stays for 'nodehook restore' or "
					    "'nodehook gc'");
	return 1;
}

int lifecycle_update(struct node_context *node, const char *id, const struct cpuset *new_cpus,
		     struct nh_error **err)
{
	_cleanup_container_record_ struct container_record rec = {0};
	int r = record_of(node, id, &rec, err);
	if (r <= 0)
		return r;
	return lifecycle_update_cpus(node->store, node->config, &rec, new_cpus, err);
}
