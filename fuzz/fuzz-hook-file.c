/* hooks.d file parsing: hook_file_parse() on arbitrary bytes, and, when a file parses, its
 * compiled conditions matched against a few fixed containers. Parsing calls faccessat() on
 * hook.path, which only looks. */
#include <stdlib.h>

#include "fuzz.h"
#include "hook_file.h"
#include "hooks_match.h"

static const char *ann_keys[] = {
    "io.kubernetes.cri-o.userns-mode",
    "io.kubernetes.pod.namespace",
    "cpu-load-balancing.nodehook.io",
    "empty",
};
static const char *ann_values[] = {
    "auto:size=65536",
    "kube-system",
    "disable",
    "",
};
static size_t ann_key_lens[] = {31, 27, 30, 5};
static size_t ann_value_lens[] = {15, 11, 7, 0};

/* A container with annotations and a command; one with a process but no args (where reaching
 * `commands` is an error); one without a process object. */
static const struct container_facts containers[] = {
    {
	.annotation_keys = ann_keys,
	.annotation_values = ann_values,
	.annotation_key_lens = ann_key_lens,
	.annotation_value_lens = ann_value_lens,
	.n_annotations = 4,
	.has_process = true,
	.arg0 = "/usr/bin/sleep",
	.arg0_len = 14,
	.has_bind_mounts = true,
    },
    {
	.has_process = true,
    },
    {
	.annotation_keys = ann_keys,
	.annotation_values = ann_values,
	.annotation_key_lens = ann_key_lens,
	.annotation_value_lens = ann_value_lens,
	.n_annotations = 2,
    },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nh_error *err = NULL;
	_cleanup_hook_file_ struct hook_file *h = NULL;
	if (hook_file_parse("hooks.d/fuzz.json", (const char *)data, size, &h, &err) < 0) {
		if (!err || err->errnum <= 0 || !err->msg)
			fuzz_fail("hook_file_parse failed without a proper error");
		err = nh_error_free(err);
		return 0;
	}
	if (err)
		fuzz_fail("hook_file_parse succeeded but set an error: %s", err->msg);
	if (!h || !h->hook.path || !h->hook.path[0] || !h->name || !h->version)
		fuzz_fail("hook_file_parse returned an incomplete hook file");
	for (size_t i = 0; i < h->n_stages; i++)
		if (!oci_stage_to_string(h->stages[i]))
			fuzz_fail("stage %d out of range", (int)h->stages[i]);

	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++) {
		int r = hook_when_match(&h->when, &containers[i], &err);
		if (r < 0) {
			if (!err)
				fuzz_fail("hook_when_match failed without an error");
			err = nh_error_free(err);
		} else if (r > 1) {
			fuzz_fail("hook_when_match returned %d", r);
		}
	}
	return 0;
}
