#include "hooks_match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "regex_go.h"
#include "utf8.h"
#include "xalloc.h"

/* Outcome of one condition: keep going, or the final answer. */
enum verdict {
	VERDICT_CONTINUE,
	VERDICT_MATCH,
	VERDICT_NO_MATCH,
};

/* A condition that held: in OR mode the answer, in AND mode one more match. */
static enum verdict held(const struct hook_when *w, unsigned *matches)
{
	if (w->or_mode)
		return VERDICT_MATCH;
	(*matches)++;
	return VERDICT_CONTINUE;
}

static enum verdict failed(const struct hook_when *w)
{
	return w->or_mode ? VERDICT_CONTINUE : VERDICT_NO_MATCH;
}

static int annotation_rule_holds(const struct hook_annotation_rule *rule,
				 const struct container_facts *facts, struct nh_error **err)
{
	for (size_t i = 0; i < facts->n_annotations; i++) {
		int r = regex_go_match_utf8(rule->key, facts->annotation_keys[i],
					    facts->annotation_key_lens[i], err);
		if (r < 0)
			return nh_error_wrap(err, "annotation key");
		if (r == 0)
			continue;
		r = regex_go_match_utf8(rule->value, facts->annotation_values[i],
					facts->annotation_value_lens[i], err);
		if (r < 0)
			return nh_error_wrap(err, "annotation value");
		if (r > 0)
			return 1;
	}
	return 0;
}

int hook_when_match(const struct hook_when *w, const struct container_facts *facts,
		    struct nh_error **err)
{
	unsigned matches = 0;
	enum verdict v = VERDICT_CONTINUE;

	if (w->always == 1)
		v = held(w, &matches);
	else if (w->always == 0)
		v = failed(w);
	if (v != VERDICT_CONTINUE)
		return v == VERDICT_MATCH;

	if (w->has_bind_mounts == 1 && facts->has_bind_mounts)
		v = held(w, &matches);
	else if (w->has_bind_mounts >= 0)
		v = failed(w);
	if (v != VERDICT_CONTINUE)
		return v == VERDICT_MATCH;

	for (size_t i = 0; i < w->n_annotations; i++) {
		int r = annotation_rule_holds(&w->annotations[i], facts, err);
		if (r < 0)
			return r;
		v = r ? held(w, &matches) : failed(w);
		if (v != VERDICT_CONTINUE)
			return v == VERDICT_MATCH;
	}

	if (facts->has_process && w->n_commands > 0) {
		if (!facts->arg0)
			return nh_error_set(err, EINVAL,
					    "process.args must have at least one entry");
		for (size_t i = 0; i < w->n_commands; i++) {
			int r = regex_go_match_utf8(w->commands[i].re, facts->arg0, facts->arg0_len,
						    err);
			if (r < 0)
				return nh_error_wrap(err, "command");
			if (r > 0)
				return 1;
		}
		return 0;
	}
	return matches > 0;
}

static void result_append(struct hooks_result *r, enum oci_stage s, const struct oci_hook *h)
{
	r->by_stage[s] =
	    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers: the element is a pointer
	    xreallocarray(r->by_stage[s], r->n_by_stage[s] + 1, sizeof(*r->by_stage[s]));
	r->by_stage[s][r->n_by_stage[s]++] = h;
}

void hooks_result_clear(struct hooks_result *r)
{
	for (int s = 0; s < OCI_STAGE__MAX; s++)
		free(r->by_stage[s]);
	*r = (struct hooks_result){0};
}

int hooks_match(const struct hooks_set *set, const struct container_facts *facts,
		enum prestart_mapping prestart, struct hooks_result *ret, struct nh_error **err)
{
	_cleanup_hooks_result_ struct hooks_result res = {0};
	for (size_t i = 0; i < set->n; i++) {
		const struct hook_file *h = set->files[i];
		int r = hook_when_match(&h->when, facts, err);
		if (r < 0) {
			_cleanup_free_ char *q = utf8_go_quote(h->path);
			return nh_error_wrap(err, "matching hook %s", q);
		}
		if (r == 0)
			continue;
		res.any_matched = true;
		for (size_t k = 0; k < h->n_stages; k++) {
			enum oci_stage s = h->stages[k];
			if (s == OCI_STAGE_PRESTART && prestart == PRESTART_AS_CREATE_RUNTIME)
				s = OCI_STAGE_CREATE_RUNTIME;
			result_append(&res, s, &h->hook);
		}
	}
	*ret = res;
	res = (struct hooks_result){0};
	return 0;
}
