/* Kernels before 5.8: SD_LOAD_BALANCE (bit 0) cleared in the flags of every sched domain of
 * each container CPU, /proc/sys/kernel/sched_domain/cpuN/domainM/flags (decimal; needs
 * CONFIG_SCHED_DEBUG). 5.8 made the flags read-only and dropped the bit; 5.13 moved the tree to
 * debugfs. This is what CRI-O did on RHEL 8.
 *
 * With I the union of the CPUs isolated for all containers (the reference counts):
 *   apply/guard: for each CPU in I, each domain whose flags have bit 0: record the flags, then
 *                write them with bit 0 cleared;
 *   undo:        for each recorded domain of a CPU no longer in I: bit 0 back to its recorded
 *                value (the other bits as they are now), the record dropped. The ledger goes
 *                when I is empty.
 * The kernel rebuilds the whole tree at every domain rebuild (hotplug, cpuset changes): files
 * vanish mid-walk (ENOENT), so the walk starts over, a few times with a short pause. A rebuild
 * also brings the flags back to their defaults, bit 0 set: the guard, run at every container
 * start, clears it again. Only bit 0 is ever restored, because a rebuilt domain's other flags
 * are the kernel's, not the recorded ones.
 *
 * Ledger sched-domain.json: {"isolated": {id: cpus}, "changed": {"cpuN/domainM": old flags}}. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "kernel.h"
#include "json_util.h"
#include "lb_backend.h"
#include "lb_ledger.h"
#include "log.h"
#include "sysroot.h"
#include "xalloc.h"

#define LEDGER "sched-domain.json"
#define SD_DIR KERNEL_SCHED_DOMAIN_DIR
#define SD_LOAD_BALANCE 0x1
#define WALK_TRIES 5
#define DOMAINS_MAX 64

struct ledger {
	json_object *doc;      /* owns what follows */
	json_object *isolated; /* id -> cpu list */
	json_object *changed;  /* "cpuN/domainM" -> old flags */
};

static void ledger_clear(struct ledger *l)
{
	json_object_put(l->doc);
	*l = (struct ledger){0};
}

/* 1 and the ledger; 0 when there is none (then *ret is an empty one only if create). */
static int ledger_load(struct state_store *store, bool create, struct ledger *ret,
		       struct nh_error **err)
{
	json_object *doc = NULL;
	int r = lb_ledger_read(store, LEDGER, create, &doc, err);
	if (r < 0 || !doc)
		return r;
	struct ledger l = {.doc = doc};
	l.isolated = lb_json_child(l.doc, "isolated", json_type_object);
	l.changed = lb_json_child(l.doc, "changed", json_type_object);
	*ret = l;
	return r;
}

static __attribute__((warn_unused_result)) int ledger_save(struct state_store *store,
							   struct ledger *l, struct nh_error **err)
{
	return lb_ledger_write(store, LEDGER, l->doc, err);
}

/* Reads a domain's flags: 0, -ENOENT (vanished; no message) or an error. */
static int read_flags(unsigned cpu, unsigned domain, long *ret, struct nh_error **err)
{
	char dir[96], path[112];
	snprintf(dir, sizeof(dir), SD_DIR "/cpu%u/domain%u", cpu, domain);
	snprintf(path, sizeof(path), "%s/flags", dir);
	_cleanup_free_ char *text = NULL;
	int r = kernel_read_file(path, &text, err);
	if (r < 0)
		return r;
	char *end = NULL;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0)
		return nh_error_set(err, EBADMSG, "%s/flags: not a flags value: '%.32s'", dir,
				    text);
	*ret = v;
	return 0;
}

static __attribute__((warn_unused_result)) int write_flags(unsigned cpu, unsigned domain,
							   long flags, struct nh_error **err)
{
	char path[112], value[32];
	snprintf(path, sizeof(path), SD_DIR "/cpu%u/domain%u/flags", cpu, domain);
	snprintf(value, sizeof(value), "%ld", flags);
	return kernel_write_file(path, value, err);
}

static int compare_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

/* The domain numbers of a CPU, sorted: 0, -ENOENT (its directory is gone), or an error. */
static int list_domains(unsigned cpu, unsigned *ret, size_t *ret_n, struct nh_error **err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), SD_DIR "/cpu%u", cpu);
	_cleanup_free_ char *path = sysroot_path(rel);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ENOENT : nh_error_set_errno(err, errno, "%s", path);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned m = 0;
		int used = 0;
		// NOLINTNEXTLINE(cert-err34-c): kernel directory names domain0..domainN; junk fails the checks
		if (sscanf(de->d_name, "domain%u%n", &m, &used) != 1 || de->d_name[used] != '\0')
			continue;
		if (n == DOMAINS_MAX)
			return nh_error_set(err, E2BIG, "%s: more than %d domains", path,
					    DOMAINS_MAX);
		ret[n++] = m;
	}
	qsort(ret, n, sizeof(*ret), compare_unsigned);
	*ret_n = n;
	return 0;
}

/* One walk: clears bit 0 on every domain of every CPU in `cpus`, recording first. -ENOENT (no
 * message) when the tree changed under it. */
static int clear_walk(struct state_store *store, struct ledger *l, const struct cpuset *cpus,
		      struct nh_error **err)
{
	for (int cpu = 0; cpu <= cpuset_last(cpus); cpu++) {
		if (!cpuset_has(cpus, (unsigned)cpu))
			continue;
		unsigned domains[DOMAINS_MAX];
		size_t n = 0;
		int r = list_domains((unsigned)cpu, domains, &n, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			long flags = 0;
			r = read_flags((unsigned)cpu, domains[i], &flags, err);
			if (r < 0)
				return r;
			if (!(flags & SD_LOAD_BALANCE))
				continue;
			char key[48];
			snprintf(key, sizeof(key), "cpu%d/domain%u", cpu, domains[i]);
			if (!json_object_object_get_ex(l->changed, key, NULL)) {
				json_object_object_add(l->changed, key,
						       json_object_new_int64(flags));
				r = ledger_save(store, l, err);
				if (r < 0)
					return r;
			}
			action_crash_point();
			r = write_flags((unsigned)cpu, domains[i], flags & ~SD_LOAD_BALANCE, err);
			if (r < 0)
				return r;
			log_debug("sched-domain: %s: flags %ld -> %ld", key, flags,
				  flags & ~SD_LOAD_BALANCE);
		}
	}
	return 0;
}

/* Gives bit 0 back to every recorded domain of a CPU outside `isolated`. A domain gone since
 * was rebuilt by the kernel with its default flags: nothing to give back. */
static int restore(struct ledger *l, const struct cpuset *isolated, bool *ret_dirty,
		   struct nh_error **err)
{
	_cleanup_strv_ char **done =
	    xcalloc(json_object_object_length(l->changed) + 1, sizeof(char *));
	size_t n_done = 0;
	json_object_object_foreach (l->changed, key, v) {
		unsigned cpu = 0, domain = 0;
		int used = 0;
		// NOLINTNEXTLINE(cert-err34-c): keys this file wrote itself; junk fails the checks
		if (sscanf(key, "cpu%u/domain%u%n", &cpu, &domain, &used) != 2 || key[used] ||
		    !json_object_is_type(v, json_type_int))
			return nh_error_set(err, EBADMSG, "%s: malformed entry '%s'", LEDGER, key);
		if (cpuset_has(isolated, cpu))
			continue;
		long old = (long)json_object_get_int64(v), flags = 0;
		int r = read_flags(cpu, domain, &flags, err);
		if (r < 0 && r != -ENOENT)
			return r;
		long want = (flags & ~SD_LOAD_BALANCE) | (old & SD_LOAD_BALANCE);
		if (r == 0 && want != flags) {
			action_crash_point();
			r = write_flags(cpu, domain, want, err);
			if (r < 0 && r != -ENOENT)
				return r;
			log_debug("sched-domain: %s: flags %ld -> %ld", key, flags, want);
		}
		done[n_done++] = xstrdup(key);
	}
	for (size_t i = 0; i < n_done; i++)
		json_object_object_del(l->changed, done[i]);
	*ret_dirty = n_done > 0;
	return 0;
}

/* Brings the node to what the ledger says. Idempotent. */
static int reconcile(struct state_store *store, struct ledger *l, struct nh_error **err)
{
	_cleanup_cpuset_ struct cpuset isolated = {0};
	int r = lb_isolated_union(l->isolated, LEDGER, &isolated, err);
	if (r < 0)
		return r;
	bool dirty = false;
	r = restore(l, &isolated, &dirty, err);
	if (r < 0)
		return r;
	if (cpuset_is_empty(&isolated)) {
		if (json_object_object_length(l->changed) == 0)
			return state_doc_remove(store, LEDGER, err);
		return ledger_save(store, l, err);
	}
	if (dirty && (r = ledger_save(store, l, err)) < 0)
		return r;

	_cleanup_cpuset_ struct cpuset left = {0};
	r = kernel_cpus_online(&left, err);
	if (r < 0)
		return r;
	cpuset_subtract(&left, &isolated);
	if (cpuset_is_empty(&left))
		return nh_error_set(err, EBUSY,
				    "cannot take every online CPU out of load balancing: no "
				    "housekeeping CPU would be left");
	for (int attempt = 1;; attempt++) {
		r = clear_walk(store, l, &isolated, err);
		if (r != -ENOENT)
			return r;
		if (attempt == WALK_TRIES)
			return nh_error_set(err, EAGAIN,
					    "%s kept changing (domains rebuilt) during %d walks",
					    SD_DIR, WALK_TRIES);
		/* A rebuild takes the kernel well under a millisecond per CPU. */
		struct timespec pause = {.tv_nsec = 1000000L << attempt};
		(void)nanosleep(&pause, NULL);
	}
}

/* Drops container id from the ledger (recorded first), then gives back what it alone held. */
static __attribute__((warn_unused_result)) int forget(struct state_store *store, struct ledger *l,
						      const char *id, struct nh_error **err)
{
	if (json_object_object_get_ex(l->isolated, id, NULL)) {
		json_object_object_del(l->isolated, id);
		int r = ledger_save(store, l, err);
		if (r < 0)
			return r;
		action_crash_point();
	}
	return reconcile(store, l, err);
}

/* Cheap: one small read, then the first CPU directory that has a domain0. */
static int sd_available(const char **ret_why, struct nh_error **err)
{
	unsigned major = 0, minor = 0;
	int r = kernel_version(&major, &minor, err);
	if (r < 0)
		return r;
	if (major > 5 || (major == 5 && minor >= 8)) {
		*ret_why = "the kernel is 5.8 or later: sched_domain flags are read-only and "
			   "SD_LOAD_BALANCE is gone";
		return 0;
	}
	_cleanup_free_ char *dir = sysroot_path(SD_DIR);
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		*ret_why = "no " SD_DIR " (the kernel lacks CONFIG_SCHED_DEBUG)";
		return 0;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "cpu", 3) != 0)
			continue;
		_cleanup_free_ char *flags = xasprintf("%s/%s/domain0/flags", dir, de->d_name);
		if (access(flags, F_OK) < 0)
			continue;
		if (access(flags, W_OK) < 0) {
			*ret_why = SD_DIR "/cpuN/domainM/flags are not writable";
			return 0;
		}
		return 1;
	}
	*ret_why = "no sched domain has a flags file under " SD_DIR;
	return 0;
}

static int sd_apply(struct action_context *ctx, struct nh_error **err)
{
	struct action_record *ar = &ctx->record->actions[ctx->action];
	_cleanup_cpuset_ struct cpuset cpus = {0};
	int r = cpuset_parse_list(ar->cpus ? ar->cpus : "", &cpus, err);
	if (r < 0)
		return nh_error_wrap(err, "record of %s: cpus", ctx->record->id);
	_cleanup_(ledger_clear) struct ledger l = {0};
	r = ledger_load(ctx->store, true, &l, err);
	if (r < 0)
		return r;
	json_object_object_add(l.isolated, ctx->record->id, json_object_new_string(ar->cpus));
	r = ledger_save(ctx->store, &l, err);
	if (r < 0)
		return r;
	action_crash_point();
	r = reconcile(ctx->store, &l, err);
	if (r < 0) {
		_cleanup_error_ struct nh_error *rollback_err = NULL;
		if (forget(ctx->store, &l, ctx->record->id, &rollback_err) < 0)
			log_debug("sched-domain: rollback for %s: %s, ignoring (undo retries it)",
				  ctx->record->id, rollback_err->msg);
	}
	return r;
}

static int sd_undo(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, false, &l, err);
	if (r <= 0)
		return r; /* no ledger: nothing of ours is on the node */
	return forget(ctx->store, &l, ctx->record->id, err);
}

/* After a domain rebuild the kernel's defaults are back: clear bit 0 again. */
static int sd_guard(struct action_context *ctx, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(ctx->store, false, &l, err);
	if (r <= 0)
		return r;
	return reconcile(ctx->store, &l, err);
}

static int sd_holders(struct state_store *store, char ***ret_ids, struct nh_error **err)
{
	_cleanup_(ledger_clear) struct ledger l = {0};
	int r = ledger_load(store, false, &l, err);
	if (r < 0)
		return r;
	*ret_ids = lb_json_keys(l.isolated);
	return 0;
}

const struct lb_backend lb_sched_domain = {
    .name = "sched-domain",
    .available = sd_available,
    .apply = sd_apply,
    .undo = sd_undo,
    .guard = sd_guard,
    .holders = sd_holders,
};
