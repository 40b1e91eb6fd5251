/* config.json handling, end to end as `nodehook hooks inject` does it: oci_config_parse(), an
 * annotation override, hooks_match() against a fixed hooks.d set, hooks_inject(),
 * oci_config_to_string(); then the output must parse again (round trip) and serialise to the
 * same bytes (a second inject-free pass changes nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hooks_set.h"
#include "hooks_inject.h"
#include "hooks_match.h"
#include "json_util.h"
#include "oci_config.h"
#include "xalloc.h"

/* Every kind of condition, in both file versions; hook.path must exist, hence /bin/true. */
static const char *const hook_files[] = {
    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\", \"args\": [\"true\", \"a\"],"
    " \"env\": [\"A=b\"], \"timeout\": 5}, \"when\": {\"annotations\": {\"^io\\\\.nodehook\\\\."
    "fuzz$\": \"^override$\"}}, \"stages\": [\"prestart\", \"poststop\"]}",

    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}, \"when\": {\"commands\":"
    " [\"^/bin/sh$\", \"sleep$\"], \"hasBindMounts\": true}, \"stages\": [\"createContainer\"]}",

    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}, \"when\": {\"always\": true},"
    " \"stages\": [\"startContainer\", \"poststart\", \"createRuntime\"]}",

    "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}, \"when\": {\"annotations\":"
    " {\"cpu\": \"^(disable|enable)$\", \".*\": \"(a|b)*c\"}}, \"stages\": []}",

    "{\"version\": \"0.1.0\", \"hook\": \"/bin/true\", \"arguments\": [\"x\"], \"stage\":"
    " [\"prestart\"], \"cmds\": [\"^sh$\"], \"annotations\": [\"^nodehook$\"],"
    " \"hasbindmounts\": true}",
};

static struct hooks_set *fixed_set(void)
{
	static struct hooks_set *set;
	if (set)
		return set;
	size_t n = sizeof(hook_files) / sizeof(hook_files[0]);
	set = xcalloc(1, sizeof(*set));
	set->files = xcalloc(n, sizeof(*set->files));
	for (size_t i = 0; i < n; i++) {
		struct nh_error *err = NULL;
		char name[32];
		snprintf(name, sizeof(name), "hooks.d/%02zu.json", i);
		if (hook_file_parse(name, hook_files[i], strlen(hook_files[i]), &set->files[i],
				    &err) < 0)
			fuzz_fail("fixed hook file %zu does not parse: %s", i, err->msg);
		set->n = i + 1;
	}
	return set;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct hooks_set *set = fixed_set();
	struct nh_error *err = NULL;
	_cleanup_oci_config_ struct oci_config *c = NULL;
	if (oci_config_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || err->errnum <= 0 || !err->msg)
			fuzz_fail("oci_config_parse failed without a proper error");
		err = nh_error_free(err);
		return 0;
	}

	/* One new annotation, and one that replaces the config's first (if any). */
	oci_config_override_annotation(c, "io.nodehook.fuzz", "override");
	if (c->n_annotations > 1) {
		_cleanup_free_ char *first = xstrdup(c->annotation_keys[0]);
		oci_config_override_annotation(c, first, "nodehook");
	}

	_cleanup_hooks_result_ struct hooks_result result = {0};
	enum prestart_mapping prestart =
	    size % 2 ? PRESTART_AS_PRESTART : PRESTART_AS_CREATE_RUNTIME;
	if (hooks_match(set, &c->facts, prestart, &result, &err) < 0) {
		if (!err)
			fuzz_fail("hooks_match failed without an error");
		err = nh_error_free(err);
		return 0;
	}
	_cleanup_json_ json_object *printed = hooks_result_to_json(&result);
	if (!printed)
		fuzz_fail("hooks_result_to_json returned NULL");

	if (hooks_inject(c, &result, &err) < 0) {
		if (!err)
			fuzz_fail("oci_config_inject failed without an error");
		err = nh_error_free(err);
		return 0;
	}
	size_t len = 0;
	const char *out = oci_config_to_string(c, &len);
	if (!out)
		fuzz_fail("oci_config_to_string returned NULL");

	_cleanup_oci_config_ struct oci_config *again = NULL;
	if (oci_config_parse(out, len, &again, &err) < 0)
		fuzz_fail("serialised config does not parse again: %s\n--- output ---\n%.*s",
			  err->msg, (int)len, out);
	size_t len2 = 0;
	const char *out2 = oci_config_to_string(again, &len2);
	if (len2 != len || memcmp(out, out2, len) != 0)
		fuzz_fail("serialisation is not stable:\n--- first ---\n%.*s\n--- second ---\n%.*s",
			  (int)len, out, (int)len2, out2);
	return 0;
}
