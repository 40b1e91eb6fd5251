/* Container identity: the runtime's state JSON, CRI detection and anti-spoofing, the exclusive
 * CPU check, annotation requests and the namespace policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

#include "container.h"
#include "requests.h"

static void state_fails(const char *json, int errnum, const char *msg)
{
	struct oci_state s = {0};
	struct nh_error *err = NULL;
	int r = oci_state_parse(json, strlen(json), &s, &err);
	assert_error(r, &err, errnum, msg);
	assert_null(s.id);
}

static void test_state(void **state)
{
	struct oci_state s = {0};
	struct nh_error *err = NULL;
	const char *runc = "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"nh-h1\",\"status\":\"creating\","
			   "\"pid\":16210,\"bundle\":\"/var/tmp/nh/bundle\",\"annotations\":{}}";
	assert_ok(oci_state_parse(runc, strlen(runc), &s, &err), &err);
	assert_string_equal(s.id, "nh-h1");
	assert_int_equal(s.pid, 16210);
	assert_string_equal(s.bundle, "/var/tmp/nh/bundle");
	assert_string_equal(s.status, "creating");
	oci_state_clear(&s);

	/* poststop: no pid; createContainer: pid 1 (runc) or 0 (crun) means no host pid */
	const char *stopped = "{\"id\":\"a\",\"bundle\":\"/b\",\"status\":\"stopped\"}";
	assert_ok(oci_state_parse(stopped, strlen(stopped), &s, &err), &err);
	assert_int_equal(s.pid, 0);
	oci_state_clear(&s);
	const char *inside = "{\"id\":\"a\",\"bundle\":\"/b\",\"pid\":1}";
	assert_ok(oci_state_parse(inside, strlen(inside), &s, &err), &err);
	assert_int_equal(s.pid, 0);
	oci_state_clear(&s);

	state_fails("{\"bundle\":\"/b\"}", EINVAL, "state: missing \"id\"");
	state_fails("{\"id\":\"a\"}", EINVAL, "state: missing \"bundle\"");
	state_fails("{\"id\":7,\"bundle\":\"/b\"}", EINVAL,
		    "state: \"id\": expected a string, got number");
	state_fails("{\"id\":\"../etc\",\"bundle\":\"/b\"}", EINVAL,
		    "state: container id '../etc' is not a valid id ([A-Za-z0-9_+.-], at most "
		    "250 characters)");
	state_fails("{\"id\":\"..\",\"bundle\":\"/b\"}", EINVAL,
		    "state: container id '..' is not a valid id ([A-Za-z0-9_+.-], at most 250 "
		    "characters)");
	state_fails("{\"id\":\"a\\u0000b\",\"bundle\":\"/b\"}", EINVAL,
		    "state: \"id\": contains a NUL character");
	state_fails("{\"id\":\"a\",\"bundle\":\"rel\"}", EINVAL,
		    "state: bundle 'rel' is not an absolute path");
	state_fails("{\"id\":\"a\",\"bundle\":\"/b\",\"pid\":-5}", EINVAL,
		    "state: pid -5 out of range");
	state_fails("{\"id\":\"a\",\"bundle\":\"/b\",\"pid\":\"5\"}", EINVAL,
		    "state: \"pid\": expected an integer");
	state_fails("[]", EINVAL, "state: expected a JSON object");

	struct nh_error *e = NULL;
	int r = oci_state_parse("{\"id\":", 6, &s, &e);
	assert_error_prefix(r, &e, EBADMSG, "state: invalid JSON");
}

static void test_id_alphabet(void **state)
{
	assert_true(container_id_valid("abc-DEF_0.9+x"));
	assert_true(container_id_valid("..."));
	assert_false(container_id_valid(""));
	assert_false(container_id_valid("."));
	assert_false(container_id_valid(".."));
	assert_false(container_id_valid("a/b"));
	assert_false(container_id_valid("a b"));
	assert_false(container_id_valid("a\nb"));
	assert_false(container_id_valid("\xc3\xa9"));
	char *long_id = malloc(CONTAINER_ID_MAX + 2);
	memset(long_id, 'a', CONTAINER_ID_MAX + 1);
	long_id[CONTAINER_ID_MAX + 1] = '\0';
	assert_false(container_id_valid(long_id));
	long_id[CONTAINER_ID_MAX] = '\0';
	assert_true(container_id_valid(long_id));
	free(long_id);
}

/* Builds a container from an annotations object and a linux.resources.cpu object. */
static int build(const char *annotations, const char *cpu, enum cri_kind cri,
		 struct container_info **ret, struct nh_error **err)
{
	char *json = NULL;
	if (asprintf(&json,
		     "{\"process\":{\"args\":[\"sh\"]},\"annotations\":%s,\"linux\":{"
		     "\"cgroupsPath\":\"/kubepods/pod1/c1\",\"resources\":{\"cpu\":%s}}}",
		     annotations, cpu) < 0)
		abort();
	struct oci_config *config = NULL;
	struct nh_error *perr = NULL;
	assert_ok(oci_config_parse(json, strlen(json), &config, &perr), &perr);
	free(json);
	struct oci_state s = {.id = (char *)"c1", .pid = 42, .bundle = (char *)"/b"};
	int r = container_info_build(&s, config, cri, ret, err);
	oci_config_free(config);
	return r;
}

#define CONTAINERD_APP                                                                             \
	"\"io.kubernetes.cri.container-type\":\"container\","                                      \
	"\"io.kubernetes.cri.sandbox-namespace\":\"tenant\","                                      \
	"\"io.kubernetes.cri.sandbox-name\":\"pod-a\","                                            \
	"\"io.kubernetes.cri.container-name\":\"work\""
#define CRIO_APP                                                                                   \
	"\"io.kubernetes.cri-o.ContainerType\":\"container\","                                     \
	"\"io.kubernetes.pod.namespace\":\"rt\","                                                  \
	"\"io.kubernetes.pod.name\":\"pod-b\","                                                    \
	"\"io.kubernetes.container.name\":\"app\""
#define GUARANTEED_2 "{\"cpus\":\"2-3\",\"shares\":2048,\"quota\":200000,\"period\":100000}"

static void test_cri_identity(void **state)
{
	struct container_info *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(build("{" CONTAINERD_APP "}", GUARANTEED_2, CRI_AUTO, &c, &err), &err);
	assert_int_equal(c->cri, CRI_CONTAINERD);
	assert_string_equal(c->pod_namespace, "tenant");
	assert_string_equal(c->pod_name, "pod-a");
	assert_string_equal(c->container_name, "work");
	assert_false(c->is_sandbox);
	assert_true(c->exclusive);
	assert_string_equal(c->cgroups_path, "/kubepods/pod1/c1");
	c = container_info_free(c);

	assert_ok(build("{" CRIO_APP "}", GUARANTEED_2, CRI_AUTO, &c, &err), &err);
	assert_int_equal(c->cri, CRI_CRIO);
	assert_string_equal(c->pod_namespace, "rt");
	assert_string_equal(c->container_name, "app");
	c = container_info_free(c);

	/* containerd's sandbox */
	assert_ok(build("{\"io.kubernetes.cri.container-type\":\"sandbox\","
			"\"io.kubernetes.cri.sandbox-namespace\":\"tenant\"}",
			GUARANTEED_2, CRI_AUTO, &c, &err),
		  &err);
	assert_true(c->is_sandbox);
	assert_null(c->container_name);
	c = container_info_free(c);

	/* Not from a CRI: no pod identity, a cpuset is enough. */
	assert_ok(build("{}", "{\"cpus\":\"1\"}", CRI_AUTO, &c, &err), &err);
	assert_int_equal(c->cri, CRI_NONE);
	assert_null(c->pod_namespace);
	assert_true(c->exclusive);
	c = container_info_free(c);
}

static void test_namespace_spoofing(void **state)
{
	struct container_info *c = NULL;
	struct nh_error *err = NULL;
	/* Under containerd, a pod annotation with CRI-O's namespace key changes nothing. */
	assert_ok(build("{" CONTAINERD_APP ",\"io.kubernetes.pod.namespace\":\"kube-system\"}",
			GUARANTEED_2, CRI_AUTO, &c, &err),
		  &err);
	assert_string_equal(c->pod_namespace, "tenant");
	c = container_info_free(c);

	/* Both runtimes' markers: one is the pod's; refuse rather than guess. */
	int r = build("{" CONTAINERD_APP "," CRIO_APP "}", GUARANTEED_2, CRI_AUTO, &c, &err);
	assert_error_prefix(
	    r, &err, EPERM,
	    "container carries both containerd's (io.kubernetes.cri.container-type) "
	    "and CRI-O's");
	assert_null(c);

	/* Pinned to containerd: only containerd's keys count, the rest is pod data. */
	assert_ok(
	    build("{" CONTAINERD_APP "," CRIO_APP "}", GUARANTEED_2, CRI_CONTAINERD, &c, &err),
	    &err);
	assert_string_equal(c->pod_namespace, "tenant");
	c = container_info_free(c);
	assert_ok(build("{" CONTAINERD_APP "," CRIO_APP "}", GUARANTEED_2, CRI_CRIO, &c, &err),
		  &err);
	assert_string_equal(c->pod_namespace, "rt");
	c = container_info_free(c);

	/* A marker without a namespace is refused. */
	r = build("{\"io.kubernetes.cri.container-type\":\"container\"}", GUARANTEED_2, CRI_AUTO,
		  &c, &err);
	assert_error(r, &err, EINVAL,
		     "container has io.kubernetes.cri.container-type but no "
		     "io.kubernetes.cri.sandbox-namespace: cannot tell its namespace");
}

static void assert_not_exclusive(const char *annotations, const char *cpu, const char *reason)
{
	struct container_info *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(build(annotations, cpu, CRI_AUTO, &c, &err), &err);
	assert_false(c->exclusive);
	assert_string_equal(c->not_exclusive_reason, reason);
	c = container_info_free(c);
}

static void test_exclusive(void **state)
{
	assert_not_exclusive("{}", "{}", "it has no cpuset (linux.resources.cpu.cpus)");
	assert_not_exclusive("{}", "{\"cpus\":\"\"}",
			     "it has no cpuset (linux.resources.cpu.cpus)");
	assert_not_exclusive("{" CONTAINERD_APP "}", "{\"cpus\":\"2-3\",\"shares\":1024}",
			     "it is not a Guaranteed pod with integer CPUs: cpu.shares is not 2 x "
			     "1024 for cpuset 2-3");
	assert_not_exclusive("{" CONTAINERD_APP "}", "{\"cpus\":\"2-3\"}",
			     "it is not a Guaranteed pod with integer CPUs: cpu.shares is not 2 x "
			     "1024 for cpuset 2-3");
	assert_not_exclusive(
	    "{" CONTAINERD_APP "}",
	    "{\"cpus\":\"2-3\",\"shares\":2048,\"quota\":150000,\"period\":100000}",
	    "it is not a Guaranteed pod with integer CPUs: its CFS quota is not 2 "
	    "full periods");
	/* Audit finding 9: n x period overflows int64 (UB before the fix; under UBSan it aborted).
	 */
	assert_not_exclusive("{" CONTAINERD_APP "}",
			     "{\"cpus\":\"2-3\",\"shares\":2048,\"quota\":9223372036854775808,"
			     "\"period\":4611686018427387904}",
			     "it is not a Guaranteed pod with integer CPUs: its CFS quota is not 2 "
			     "full periods");
	assert_not_exclusive("{" CONTAINERD_APP "}",
			     "{\"cpus\":\"2-3\",\"shares\":2048,\"quota\":200000,"
			     "\"period\":-100000}",
			     "it is not a Guaranteed pod with integer CPUs: its CFS quota is not 2 "
			     "full periods");
	/* No quota (CFS quota disabled on the node) is fine. */
	struct container_info *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(build("{" CONTAINERD_APP "}", "{\"cpus\":\"2-3\",\"shares\":2048,\"quota\":-1}",
			CRI_AUTO, &c, &err),
		  &err);
	assert_true(c->exclusive);
	c = container_info_free(c);

	int r = build("{}", "{\"cpus\":\"3-1\"}", CRI_AUTO, &c, &err);
	assert_error_prefix(r, &err, EINVAL,
			    "config.json: linux.resources.cpu.cpus: invalid CPU list");
	r = build("{}", "{\"cpus\":5}", CRI_AUTO, &c, &err);
	assert_error(r, &err, EINVAL, "config.json: linux.resources.cpu.cpus: expected a string");
}

/* Returns the value requested for cpu-load-balancing, or NULL. */
static char *request(const char *annotations, char *const *domains)
{
	char *json = NULL;
	if (asprintf(&json, "{\"annotations\":%s,\"linux\":{\"resources\":{\"cpu\":%s}}}",
		     annotations, GUARANTEED_2) < 0)
		abort();
	struct oci_config *config = NULL;
	struct nh_error *err = NULL;
	assert_ok(oci_config_parse(json, strlen(json), &config, &err), &err);
	free(json);
	struct oci_state s = {.id = (char *)"c1", .bundle = (char *)"/b"};
	struct container_info *c = NULL;
	assert_ok(container_info_build(&s, config, CRI_AUTO, &c, &err), &err);
	struct action_request req[NH_ACTION__MAX];
	requests_find(config, c, domains, req);
	struct action_request *r = &req[NH_ACTION_CPU_LOAD_BALANCING];
	char *out = NULL;
	if (r->present && asprintf(&out, "%s=%s", r->key, r->value) < 0)
		abort();
	requests_clear(req);
	c = container_info_free(c);
	oci_config_free(config);
	return out;
}

static void assert_request(const char *annotations, char *const *domains, const char *want)
{
	char *got = request(annotations, domains);
	if (!want) {
		if (got)
			fail_msg("%s: asked '%s', want nothing", annotations, got);
		return;
	}
	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: asked '%s', want '%s'", annotations, got ? got : "(nothing)", want);
	free(got);
}

static void test_requests(void **state)
{
	char *nodehook_only[] = {(char *)"nodehook.io", NULL};
	char *with_crio[] = {(char *)"nodehook.io", (char *)"crio.io", NULL};
	assert_request("{" CONTAINERD_APP ",\"cpu-load-balancing.nodehook.io\":\"disable\"}",
		       nodehook_only, "cpu-load-balancing.nodehook.io=disable");
	/* per-container beats pod-wide */
	assert_request("{" CONTAINERD_APP ",\"cpu-load-balancing.nodehook.io\":\"enable\","
		       "\"cpu-load-balancing.nodehook.io/work\":\"disable\"}",
		       nodehook_only, "cpu-load-balancing.nodehook.io/work=disable");
	/* another container's key is not ours */
	assert_request("{" CONTAINERD_APP ",\"cpu-load-balancing.nodehook.io/other\":\"disable\"}",
		       nodehook_only, NULL);
	/* crio.io only when the node config lists it */
	assert_request("{" CRIO_APP ",\"cpu-load-balancing.crio.io\":\"disable\"}", nodehook_only,
		       NULL);
	assert_request("{" CRIO_APP ",\"cpu-load-balancing.crio.io\":\"disable\"}", with_crio,
		       "cpu-load-balancing.crio.io=disable");
	assert_request("{" CRIO_APP ",\"cpu-load-balancing.crio.io/app\":\"disable\","
		       "\"cpu-load-balancing.nodehook.io\":\"enable\"}",
		       with_crio, "cpu-load-balancing.crio.io/app=disable");
	/* sandboxes ask for nothing */
	assert_request("{\"io.kubernetes.cri.container-type\":\"sandbox\","
		       "\"io.kubernetes.cri.sandbox-namespace\":\"t\","
		       "\"cpu-load-balancing.nodehook.io\":\"disable\"}",
		       nodehook_only, NULL);
	/* without a CRI there is no container name: only the pod-wide key */
	assert_request("{\"cpu-load-balancing.nodehook.io/work\":\"disable\"}", nodehook_only,
		       NULL);
	assert_request("{\"cpu-load-balancing.nodehook.io\":\"junk\"}", nodehook_only,
		       "cpu-load-balancing.nodehook.io=junk");
}

static void test_policy(void **state)
{
	char *globs[] = {(char *)"rt-*", (char *)"default", NULL};
	struct action_policy p = {.enabled = true, .allowed_namespaces = globs};
	struct container_info c = {.pod_namespace = (char *)"rt-low-latency"};
	char *reason = NULL;
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 1);
	c.pod_namespace = (char *)"default";
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 1);
	c.pod_namespace = (char *)"kube-system";
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 0);
	assert_string_equal(reason, "namespace 'kube-system' is not in allowed_namespaces");
	free(reason);
	c.pod_namespace = NULL;
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 0);
	assert_string_equal(reason,
			    "containers outside a Kubernetes pod are not in allowed_namespaces");
	free(reason);
	char *star[] = {(char *)"*", NULL};
	p.allowed_namespaces = star;
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 1);
	p.enabled = false;
	assert_int_equal(requests_policy_allows(&p, &c, &reason), 0);
	assert_string_equal(reason, "the action is disabled in the node config");
	free(reason);
}

/* Finding 4: "cri" pinned to the wrong runtime (or "none"): a container carrying the other
 * runtime's pod markers is not taken for one outside a pod; its requests are refused. The
 * audit's pod: containerd markers, shares 512, cpus 0-5 (Burstable), under "cri": "cri-o". */
static void test_cri_pinned_wrong(void **state)
{
	(void)state;
	char *star[] = {(char *)"*", NULL};
	struct action_policy p = {.enabled = true, .allowed_namespaces = star};
	const char *burstable = "{\"cpus\":\"0-5\",\"shares\":512}";
	const enum cri_kind pins[] = {CRI_CRIO, CRI_NONE};
	for (size_t i = 0; i < 2; i++) {
		struct container_info *c = NULL;
		struct nh_error *err = NULL;
		assert_ok(build("{" CONTAINERD_APP "}", burstable, pins[i], &c, &err), &err);
		assert_int_equal(c->cri, CRI_NONE);
		assert_false(c->exclusive);
		char *want = NULL;
		if (asprintf(
			&want,
			"container carries io.kubernetes.cri.container-type, a pod marker of "
			"a runtime other than the node config's \"cri\": \"%s\": refusing to "
			"treat it as a container outside a pod (fix \"cri\" in the node config)",
			pins[i] == CRI_CRIO ? "cri-o" : "none") < 0)
			abort();
		assert_string_equal(c->foreign_cri_reason, want);
		assert_string_equal(c->not_exclusive_reason, want);
		char *reason = NULL;
		assert_int_equal(requests_policy_allows(&p, c, &reason), 0);
		assert_string_equal(reason, want);
		free(reason);
		free(want);
		container_info_free(c);
	}
	/* The mirror image: CRI-O's markers under "cri": "containerd". */
	struct container_info *c = NULL;
	struct nh_error *err = NULL;
	assert_ok(build("{" CRIO_APP "}", GUARANTEED_2, CRI_CONTAINERD, &c, &err), &err);
	assert_non_null(c->foreign_cri_reason);
	assert_non_null(strstr(c->foreign_cri_reason, "io.kubernetes.cri-o.ContainerType"));
	c = container_info_free(c);
	/* The right pin, auto, and a container without markers under "none": unchanged. */
	assert_ok(build("{" CONTAINERD_APP "}", GUARANTEED_2, CRI_CONTAINERD, &c, &err), &err);
	assert_null(c->foreign_cri_reason);
	assert_true(c->exclusive);
	c = container_info_free(c);
	assert_ok(build("{" CONTAINERD_APP "}", GUARANTEED_2, CRI_AUTO, &c, &err), &err);
	assert_null(c->foreign_cri_reason);
	c = container_info_free(c);
	assert_ok(build("{}", "{\"cpus\":\"1\"}", CRI_NONE, &c, &err), &err);
	assert_null(c->foreign_cri_reason);
	assert_true(c->exclusive);
	container_info_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state),	 cmocka_unit_test(test_id_alphabet),
	    cmocka_unit_test(test_cri_identity), cmocka_unit_test(test_namespace_spoofing),
	    cmocka_unit_test(test_exclusive),	 cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_policy),	 cmocka_unit_test(test_cri_pinned_wrong),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
