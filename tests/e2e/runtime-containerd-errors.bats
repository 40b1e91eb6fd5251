#!/usr/bin/env bats
# nodehook-runtime's error paths through a private containerd 1.6 and its CRI, as a kubelet
# drives it (lib/containerd.bash, tests/e2e/cri/cri.js): what containerd reports when the node
# config is broken, when the runtime cannot be executed, and when nodehook's hook refuses a
# container that is not Guaranteed; and that a container started before the config broke can
# still be stopped and removed. containerd 1.6 runs the runtime's `create` at StartContainer
# (CreateContainer only stores metadata), so a container's create error surfaces there; a
# sandbox's at RunPodSandbox.

load lib/common
load lib/node
load lib/containerd

setup_file() {
	nh_ctrd_file_setup
}

teardown_file() {
	nh_ctrd_file_teardown
}

setup() {
	nh_ctrd_test_setup
}

teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	nh_ctrd_node_config
	if [ -s "$NH_T/.pods" ]; then
		# shellcheck disable=SC2046
		nh_cri pod-down $(cat "$NH_T/.pods") >/dev/null 2>&1 || true
	fi
	"$NODEHOOK_BIN" gc >/dev/null 2>&1 || true
	nh_node_teardown
	nh_teardown
}

GUARANTEED='{"cpuset_cpus": "1", "cpu_shares": 1024, "cpu_period": 100000, "cpu_quota": 100000}'

# pod_spec NAME HANDLER [RESOURCES]: the pod-up spec (cri.js) of a pod in namespace nh-e2e with
# one container "work" (sleep 300) annotated cpu-load-balancing.nodehook.io=disable; RESOURCES
# (LinuxContainerResources) default to a Guaranteed container pinned to CPU 1, what the kubelet's
# static CPU manager gives it. Host network: no CNI. Prints the spec's path.
pod_spec() {
	local f=$NH_T/pod-$1.json
	jq -n --argjson res "${3:-$GUARANTEED}" --arg name "nh-$NH_SUFFIX-$1" --arg handler "$2" \
		--arg cg "$NH_CTRD_CGROUP" --arg image "$NH_IMAGE" '{handler: $handler,
		sandbox: {metadata: {name: $name, namespace: "nh-e2e"},
			annotations: {"cpu-load-balancing.nodehook.io": "disable"},
			linux: {cgroup_parent: $cg}},
		container: {metadata: {name: "work"}, image: {image: $image}, command: ["sleep", "300"],
			linux: {resources: $res}}}' >"$f" || return 1
	echo "$f"
}

# sandbox_up SPEC: RunPodSandbox, with the defaults cri.js pod-up fills in, under bats' run; sets
# POD_ID and SANDBOX (the config it sent), the pod kept for teardown. Returns 1 if it failed.
sandbox_up() {
	POD_ID='' CONTAINER_ID=''
	SANDBOX=$(jq -c '.sandbox | .metadata += {uid: ("uid-" + .metadata.name), attempt: 0}
		| .linux.security_context.namespace_options = {network: "NODE", pid: "CONTAINER", ipc: "POD"}' "$1")
	run --separate-stderr nh_cri call RunPodSandbox \
		"$(jq -c --argjson s "$SANDBOX" '{config: $s, runtime_handler: .handler}' "$1")"
	[ "$status" = 0 ] || return 1
	POD_ID=$(jq -r .pod_sandbox_id <<<"$output")
	echo "$POD_ID" >>"$NH_T/.pods"
}

# container_create SPEC: CreateContainer in $POD_ID (pod-up's defaults) under bats' run; sets
# CONTAINER_ID. Returns 1 if it failed.
container_create() {
	local c
	c=$(jq -c '.container | .metadata += {attempt: 0}
		| .linux.security_context.namespace_options = {network: "NODE", pid: "CONTAINER", ipc: "POD"}' "$1")
	run --separate-stderr nh_cri call CreateContainer "$(jq -cn --arg p "$POD_ID" --argjson c "$c" \
		--argjson s "$SANDBOX" '{pod_sandbox_id: $p, config: $c, sandbox_config: $s}')"
	[ "$status" = 0 ] || return 1
	CONTAINER_ID=$(jq -r .container_id <<<"$output")
}

container_start() {
	run --separate-stderr nh_cri call StartContainer "{\"container_id\": \"$CONTAINER_ID\"}"
}

# pod_up SPEC: the three steps a kubelet takes, stopping at the first that fails: $status and
# $stderr are that step's (cri.js: "cri: METHOD: <containerd's message>").
pod_up() {
	sandbox_up "$1" && container_create "$1" && container_start
	return 0
}

# surfaced STEP MSG: the last cri.js call failed at STEP, and containerd's error carries MSG the
# way it reports a failed runtime create (the shim's last --log line).
surfaced() {
	[ "$status" -ne 0 ] || nh_fail "$1 succeeded" || return 1
	[[ "$stderr" == "cri: $1: "*"OCI runtime create failed: nodehook: $2"* ]] ||
		nh_fail "containerd did not surface nodehook's error at $1 ('OCI runtime create failed: nodehook: $2')" \
			"status: $status" "stderr: $stderr"
}

# The node is as in setup (nh_assert_node_restored); the parent cgroups of the test namespace
# and of the pods may stay (containerd keeps them), and so may the sandbox of a pod not taken
# down yet: balanced, as born (nothing isolated them).
node_restored() {
	local pod allowed=("/$NH_CTRD_NS/" "$NH_CTRD_CGROUP/")
	while read -r pod; do allowed+=("$NH_CTRD_CGROUP/$pod/"); done <"$NH_T/.pods"
	nh_assert_node_restored "${allowed[@]}"
}

@test "CRI: broken node config: a new sandbox and a new container on handler nodehook fail with nodehook's message; a pod started before is still stopped and removed; gc restores once the config is fixed" {
	local a b
	pod_up "$(pod_spec a nodehook)"
	nh_assert_status 0
	a=$CONTAINER_ID
	nh_assert_isolated 1
	b=$(pod_spec b nodehook)
	sandbox_up "$b"
	nh_assert_status 0

	nh_ctrd_node_config '. + {bogus: 1}'
	local msg="node config: $NODEHOOK_CONFIG: unknown key 'bogus'"
	container_create "$b"
	nh_assert_status 0
	container_start
	surfaced StartContainer "$msg"
	pod_up "$(pod_spec c nodehook)"
	surfaced RunPodSandbox "$msg"

	# The "never block delete" path: kill and delete reach runc without nodehook.
	# shellcheck disable=SC2046
	run --separate-stderr nh_cri pod-down $(cat "$NH_T/.pods")
	nh_assert_status 0
	run --separate-stderr nh_cri call ListPodSandbox
	nh_assert_status 0
	jq -e '[.items[] | select(.metadata.namespace == "nh-e2e")] == []' <<<"$output" >/dev/null ||
		nh_fail "pods are still listed:" "$output"
	# Nothing could be undone without a config: a's record is still there, for gc.
	[ -f "$NH_STATE_DIR/containers/$a.json" ] || nh_fail "a's record went although the config was broken"

	nh_ctrd_node_config
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: gone, restored (cpu-load-balancing)" "$output" "gc"
	node_restored
}

@test "CRI: the node config names a runtime that cannot be executed (missing, not executable): RunPodSandbox fails with 'exec RUNTIME: REASON'; nothing is held" {
	local rt reason
	cp "$(command -v runc)" "$NH_T/runc-not-executable"
	chmod 644 "$NH_T/runc-not-executable"
	for rt in "$NH_T/no-such-runc" "$NH_T/runc-not-executable"; do
		reason="No such file or directory"
		[ -e "$rt" ] && reason="Permission denied"
		nh_ctrd_node_config ".runtime = \"$rt\""
		pod_up "$(pod_spec "x${rt##*-}" nodehook)"
		surfaced RunPodSandbox "exec $rt: $reason" || return 1
	done
	nh_ctrd_node_config
	node_restored
}

@test "CRI: a container that is not Guaranteed (cpu.shares, then the CFS quota) asks for isolation: StartContainer fails with nodehook's reason; the node is unchanged" {
	pod_up "$(pod_spec shares nodehook '{"cpuset_cpus": "1", "cpu_shares": 512}')"
	[ "$status" -ne 0 ] || nh_fail "a Burstable container was isolated"
	[[ "$stderr" == "cri: StartContainer: "*"nodehook: "*"the container has no exclusive whole-CPU set to isolate: it is not a Guaranteed pod with integer CPUs: cpu.shares is not 1 x 1024 for cpuset 1"* ]] ||
		nh_fail "the refusal is not nodehook's cpu.shares reason:" "$stderr"
	node_restored

	pod_up "$(pod_spec quota nodehook '{"cpuset_cpus": "1", "cpu_shares": 1024, "cpu_period": 100000, "cpu_quota": 50000}')"
	[ "$status" -ne 0 ] || nh_fail "a container with half a CPU of quota was isolated"
	[[ "$stderr" == "cri: StartContainer: "*"nodehook: "*"it is not a Guaranteed pod with integer CPUs: its CFS quota is not 1 full periods"* ]] ||
		nh_fail "the refusal is not nodehook's CFS quota reason:" "$stderr"
	node_restored
}
