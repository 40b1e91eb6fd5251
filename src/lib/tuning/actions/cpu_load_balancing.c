/* cpu-load-balancing: take a container's exclusive CPUs out of scheduler load balancing while
 * it runs.
 *
 * Annotation value "disable" asks for it ("true" is accepted as CRI-O's deprecated spelling);
 * "enable" is an explicit no. The CPUs are linux.resources.cpu.cpus, and only a container with
 * an exclusive whole-CPU set qualifies (container.h). The backend is chosen per node: the node
 * config's "backend", or "auto": the cpuset hierarchy the kernel has. */
#include <errno.h>
#include <string.h>

#include "cgroup.h"
#include "cleanup.h"
#include "lb_backend.h"
#include "log.h"
#include "strv.h"
#include "xalloc.h"

/* In the order "auto" tries them: the first whose available() says yes is used. */
const struct lb_backend *const lb_backends[] = {
    &lb_cpuset_v2,
    &lb_cpuset_v1,
    &lb_sched_domain,
    NULL,
};

static const struct lb_backend *backend_by_name(const char *name)
{
	for (size_t i = 0; lb_backends[i]; i++)
		if (strcmp(lb_backends[i]->name, name) == 0)
			return lb_backends[i];
	return NULL;
}

/* Picks the backend for this node: the configured one, or the kernel's cpuset hierarchy. */
static int choose_backend(const struct node_config *config, const struct lb_backend **ret,
			  struct nh_error **err)
{
	const char *want = config->actions[NH_ACTION_CPU_LOAD_BALANCING].backend;
	if (want && strcmp(want, "auto") != 0) {
		const struct lb_backend *b = backend_by_name(want);
		if (!b)
			return nh_error_set(
			    err, EINVAL, "node config: cpu-load-balancing backend '%s' is unknown",
			    want);
		const char *why = NULL;
		int r = b->available(&why, err);
		if (r < 0)
			return r;
		if (r == 0)
			return nh_error_set(err, ENODEV, "backend %s cannot work here: %s", b->name,
					    why);
		*ret = b;
		return 0;
	}
	_cleanup_strv_ char **reasons = NULL;
	for (size_t i = 0; lb_backends[i]; i++) {
		const char *why = NULL;
		int r = lb_backends[i]->available(&why, err);
		if (r < 0)
			return r;
		if (r > 0) {
			*ret = lb_backends[i];
			return 0;
		}
		strv_push(&reasons, xasprintf("%s: %s", lb_backends[i]->name, why));
	}
	_cleanup_free_ char *joined =
	    strv_join((const char *const *)reasons, strv_length(reasons), "; ");
	return nh_error_set(err, ENODEV, "no way to control load balancing on this kernel (%s)",
			    joined);
}

static int apply(struct action_context *ctx, struct nh_error **err)
{
	const struct lb_backend *b = NULL;
	int r = choose_backend(ctx->config, &b, err);
	if (r < 0)
		return r;
	struct action_record *ar = &ctx->record->actions[ctx->action];
	ar->present = true;
	ar->applied = false;
	free(ar->backend);
	ar->backend = xstrdup(b->name);
	free(ar->cpus);
	ar->cpus = cpuset_format_list(&ctx->container->cpus);
	r = action_record_save(ctx, err);
	if (r < 0)
		return r;
	action_crash_point();
	return b->apply(ctx, err);
}

static int undo(struct action_context *ctx, struct nh_error **err)
{
	const struct action_record *ar = &ctx->record->actions[ctx->action];
	if (!ar->present)
		return 0;
	const struct lb_backend *b = ar->backend ? backend_by_name(ar->backend) : NULL;
	if (!b)
		return nh_error_set(err, EBADMSG, "record of %s names unknown backend '%s'",
				    ctx->record->id, ar->backend ? ar->backend : "(none)");
	return b->undo(ctx, err);
}

/* New CPUs: cgroup v1 converges in place (apply sets the flags of the container's cpuset and
 * the ledger follows); the others give the old CPUs back first. */
static int update(struct action_context *ctx, struct nh_error **err)
{
	const struct action_record *ar = action_record_of(ctx);
	if (!ar->backend || strcmp(ar->backend, "cgroup-v1") != 0) {
		int r = undo(ctx, err);
		if (r < 0)
			return r;
	}
	return apply(ctx, err);
}

static int guard(struct action_context *ctx, struct nh_error **err)
{
	for (size_t i = 0; lb_backends[i]; i++) {
		if (!lb_backends[i]->guard)
			continue;
		int r = lb_backends[i]->guard(ctx, err);
		if (r < 0)
			return nh_error_wrap(err, "%s", lb_backends[i]->name);
	}
	return 0;
}

static int holders(struct action_context *ctx, action_holder_fn fn, void *userdata,
		   struct nh_error **err)
{
	for (size_t i = 0; lb_backends[i]; i++) {
		if (!lb_backends[i]->holders)
			continue;
		_cleanup_strv_ char **ids = NULL;
		int r = lb_backends[i]->holders(ctx->store, &ids, err);
		if (r < 0)
			return nh_error_wrap(err, "%s", lb_backends[i]->name);
		for (char **id = ids; *id; id++) {
			r = fn(*id, lb_backends[i]->name, userdata, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

const struct action_ops cpu_load_balancing_ops = {
    .id = NH_ACTION_CPU_LOAD_BALANCING,
    .parse_value = action_parse_disable,
    .check = action_check_exclusive,
    .apply = apply,
    .undo = undo,
    .guard = guard,
    .follows_cpus = true,
    .update = update,
    .holders = holders,
};
