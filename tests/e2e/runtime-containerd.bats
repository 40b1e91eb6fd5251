#!/usr/bin/env bats
# nodehook-runtime as containerd's runtime, end to end: through `ctr run --runc-binary`, and
# through the CRI as a kubelet drives it (tests/e2e/cri/cri.js: RunPodSandbox with the runtime
# handler a RuntimeClass names, CreateContainer, StartContainer, then StopContainer,
# RemoveContainer, StopPodSandbox, RemovePodSandbox). One private containerd 1.6 serves the whole
# file (lib/containerd.bash); it has the node config in its environment, which the shim hands to
# nodehook-runtime and runc to the hooks. Load balancing is read from the cgroup v1 cpuset flags
# (lib/node.bash: every cpuset covering CPU 1, the ledger, the housekeeping cpuset). Each test
# starts and ends with the node as it found it, and checks so.

load lib/common
load lib/node
load lib/containerd

setup_file() {
	nh_require_nodehook
	export NH_CTRD_SKIP NH_V1_SKIP NH_CRI_SKIP= NH_NODE_FAIL=
	NH_CTRD_SKIP=$(nh_ctrd_missing)
	[ -z "$NH_CTRD_SKIP" ] || return 0
	NH_V1_SKIP=$(nh_node_missing)
	mkdir -p "$NH_SCRATCH"
	nh_ctrd_start "$(mktemp -d "$NH_SCRATCH/nh-ctrd-XXXXXXXX")" || return 1
	nh_cri_deps || NH_CRI_SKIP="no CRI client: $NH_CRI_UNAVAILABLE"
	# One suite at a time changes the cpuset tree, and every container start here runs
	# nodehook's guard: the node lock for the whole file (taken after containerd started, so
	# that neither it nor a shim holds the lock's fd), released in teardown_file. A node that
	# is not clean (a leftover of an earlier test) fails every test, naming the leftover.
	nh_node_lock 2>/dev/null || NH_NODE_FAIL=$NH_NODE_LOCK_ERR
}

teardown_file() {
	nh_ctrd_stop
	nh_node_unlock
}

# Each test: the node snapshot (lib/node.bash; the lock is the file's), with the cgroups of the
# test namespace and of the CRI pods as ours; $NH_STATE is containerd's nodehook state dir.
setup() {
	[ -z "$NH_CTRD_SKIP" ] || skip "$NH_CTRD_SKIP"
	[ -z "$NH_NODE_FAIL" ] || nh_fail "$NH_NODE_FAIL" || return 1
	nh_setup
	nh_recorder
	: >"$NH_T/.ctr"
	: >"$NH_T/.pods"
	: >"$NH_T/.hook-files"
	NH_STATE=$NH_STATE_DIR
	if [ -z "$NH_V1_SKIP" ]; then
		nh_node_snapshot
		nh_node_ours "/$NH_CTRD_NS/*" "$NH_CTRD_CGROUP/*"
	fi
}

teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	local id f
	while read -r id; do
		nh_ctr tasks kill -s KILL "$id" >/dev/null 2>&1 || true
		nh_ctr tasks delete -f "$id" >/dev/null 2>&1 || true
		nh_ctr containers delete "$id" >/dev/null 2>&1 || true
	done <"$NH_T/.ctr"
	if [ -s "$NH_T/.pods" ]; then
		# shellcheck disable=SC2046
		nh_cri pod-down $(cat "$NH_T/.pods") >/dev/null 2>&1 || true
	fi
	while read -r f; do
		rm -f "$NH_HOOKS_DIR/$f"
	done <"$NH_T/.hook-files"
	if [ -f "$NH_T/nodehook-poststop.json" ]; then
		mv "$NH_T/nodehook-poststop.json" "$NH_HOOKS_DIR/"
	fi
	nh_ctrd_node_config
	nh_node_teardown
	nh_teardown
}

needs_v1() {
	[ -z "$NH_V1_SKIP" ] || skip "$NH_V1_SKIP"
}

needs_cri() {
	[ -z "$NH_CRI_SKIP" ] || skip "$NH_CRI_SKIP"
}

# record_hooks STAGES [WHEN_JSON]: the recorder (lib/common.bash) as a hooks.d hook of each
# stage in STAGES, in the node's hooks dir, named to run before nodehook's own files.
record_hooks() {
	local s name
	for s in $1; do
		name=00-nh-$NH_SUFFIX-$s.json
		echo "$name" >>"$NH_T/.hook-files"
		nh_hook_file "$NH_HOOKS_DIR" "$name" "$s" "${2:-}"
	done
}

# bad_hook_file: an invalid hooks.d file (truncated JSON) in the node's hooks dir; prints its path.
bad_hook_file() {
	local name=50-nh-$NH_SUFFIX-bad.json
	echo "$name" >>"$NH_T/.hook-files"
	printf '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["createRuntime"' \
		>"$NH_HOOKS_DIR/$name"
	echo "$NH_HOOKS_DIR/$name"
}

# ctr_spec ID ARGS_JSON ANNOTATIONS_JSON [JQ_FILTER]: a bundle $NH_T/ID whose config.json is a
# complete spec for `ctr run --config` (ctr 1.6 has no cpuset flag): the busybox rootfs by
# absolute path, pinned to CPU 1, in the cgroup /<test namespace>/ID. Prints the spec's path.
ctr_spec() {
	local id=$1
	nh_bundle "$NH_T/$id" --arg r "$NH_T/$id/rootfs" --arg cg "/$NH_CTRD_NS/$id" \
		--argjson args "$2" --argjson a "$3" '.root = {path: $r, readonly: true}
		| .process.args = $args | .annotations = $a | .linux.cgroupsPath = $cg
		| .linux.resources.cpu = {cpus: "1"} | '"${4:-.}" || return 1
	echo "$NH_T/$id/config.json"
}

ctr_track() {
	echo "$1" >>"$NH_T/.ctr"
}

# ctr_stopped ID: the task's status is STOPPED.
ctr_stopped() {
	nh_ctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "STOPPED" {f = 1} END {exit !f}'
}

# pod_spec NAME NAMESPACE HANDLER POD_ANNOTATIONS_JSON [CONTAINER_ANNOTATIONS_JSON [RESOURCES]]:
# writes the pod-up spec of a pod with one container "work" and prints its path. RESOURCES
# (LinuxContainerResources JSON) defaults to a Guaranteed container pinned to CPU 1: cpuset "1",
# cpu.shares 1024, a quota of one period, what the kubelet's static CPU manager gives a 1-CPU
# container. Host network: no CNI needed.
pod_spec() {
	local f=$NH_T/pod-$1.json ca=${5:-'{}'}
	local res=${6:-'{"cpuset_cpus": "1", "cpu_shares": 1024, "cpu_period": 100000, "cpu_quota": 100000}'}
	jq -n --argjson res "$res" --arg name "$1" --arg ns "$2" --arg handler "$3" --argjson pa "$4" \
		--argjson ca "$ca" --arg cg "$NH_CTRD_CGROUP" --arg image "$NH_IMAGE" \
		--arg suffix "$NH_SUFFIX" '{handler: $handler,
		sandbox: {metadata: {name: $name, namespace: $ns}, labels: {"nh-e2e": $suffix},
			annotations: $pa, linux: {cgroup_parent: $cg}},
		container: {metadata: {name: "work"}, image: {image: $image},
			command: ["sleep", "300"], annotations: $ca,
			linux: {resources: $res}}}' >"$f" || return 1
	echo "$f"
}

# pod_up SPEC: pod-up through the CRI, under bats' run; on success sets POD_ID and CONTAINER_ID
# and remembers the pod for teardown.
pod_up() {
	run --separate-stderr nh_cri pod-up "@$1"
	POD_ID= CONTAINER_ID=
	[ "$status" = 0 ] || return 0
	POD_ID=$(jq -r .pod_id <<<"$output")
	CONTAINER_ID=$(jq -r .container_id <<<"$output")
	echo "$POD_ID" >>"$NH_T/.pods"
}

# The node is as it was before the test (nh_assert_node_restored); the parent cgroups of the
# test namespace and of the pods may stay (containerd keeps them), balanced.
assert_node_restored() {
	nh_assert_node_restored "/$NH_CTRD_NS/" "$NH_CTRD_CGROUP/"
}

# assert_surfaced WHAT: a failed command's stderr carries nodehook's own reason the way
# containerd reports a failed runtime create.
assert_surfaced() {
	[[ "$stderr" == *"OCI runtime create failed: nodehook: $1"* ]] ||
		nh_fail "containerd did not surface nodehook's error ('OCI runtime create failed: nodehook: $1')" \
			"status: $status" "stderr: $stderr"
}

# shim_create BUNDLE ID MSG: runs nodehook-runtime on BUNDLE with the command line containerd's
# shim (containerd-shim-runc-v2) uses for create, and checks that it failed as the shim expects: exit status
# 1, nothing on stdout or stderr (on create they are the container's), a last --log line
# {"level": "error", "msg": "nodehook: MSG..."}, and runc not run.
shim_create() {
	local b=$1 root=$NH_T/runc-root
	run --separate-stderr "$NH_RUNTIME" --root "$root" --log "$b/log.json" --log-format json \
		create --bundle "$b" --pid-file "$b/init.pid" "$2"
	nh_assert_status 1 || return 1
	nh_assert_eq "" "$output" "stdout" || return 1
	nh_assert_eq "" "$stderr" "stderr (the container's, on create)" || return 1
	nh_jq_assert "$b/log.json" -s --arg m "nodehook: $3" \
		'last | .level == "error" and (.msg | startswith($m))' || return 1
	[ ! -e "$root" ] && [ ! -e "$b/init.pid" ] || nh_fail "runc ran although nodehook failed"
}

# For the failure tests, which also run without a cgroup v1 cpuset hierarchy.
assert_node_unchanged() {
	if [ -z "$NH_V1_SKIP" ]; then
		assert_node_restored
	else
		nh_assert_no_state
	fi
}

# --- ctr run ---------------------------------------------------------------------------------

@test "ctr: a plain container through nodehook-runtime behaves as with runc (stdout, stderr, exit code)" {
	local script='echo "out $(cat /proc/self/cgroup | grep -c cpuset)"; echo err >&2; exit 7'
	local w r
	w=$(nh_id w)
	r=$(nh_id r)
	ctr_track "$w"
	ctr_track "$r"
	run --separate-stderr nh_ctr run --rm --runc-binary "$NH_RUNTIME" "$NH_IMAGE" "$w" sh -c "$script"
	local w_status=$status w_out=$output w_err=$stderr
	run --separate-stderr nh_ctr run --rm "$NH_IMAGE" "$r" sh -c "$script"
	nh_assert_eq 7 "$status" "runc: exit status" || return 1
	nh_assert_eq "$status" "$w_status" "exit status (runc, then nodehook-runtime)" || return 1
	nh_assert_eq "out 1" "$output" "runc: stdout" || return 1
	nh_assert_eq "$output" "$w_out" "stdout (runc, then nodehook-runtime)" || return 1
	nh_assert_eq "err" "$stderr" "runc: stderr" || return 1
	nh_assert_eq "$stderr" "$w_err" "stderr (runc, then nodehook-runtime)" || return 1
	# Nothing asked, nothing held.
	nh_assert_no_state
}

@test "ctr: pinned to CPU 1 with cpu-load-balancing=disable: hooks.d hooks run, CPU 1 leaves load balancing, and is back after task kill, task delete, container delete" {
	needs_v1
	record_hooks "createRuntime poststop"
	local id spec
	id=$(nh_id lb)
	spec=$(ctr_spec "$id" '["sleep", "300"]' '{"cpu-load-balancing.nodehook.io": "disable"}')
	ctr_track "$id"
	run --separate-stderr nh_ctr run -d --config "$spec" --runc-binary "$NH_RUNTIME" "$id"
	nh_assert_status 0

	# The hooks.d hooks ran, with the container's state, and in an environment that carried
	# the node config from containerd through the shim, nodehook-runtime and runc.
	nh_assert_eq createRuntime "$(nh_hook_order)" "hooks run so far"
	nh_jq_assert "$NH_LOG/createRuntime.state" --arg id "$id" \
		'.id == $id and .annotations["cpu-load-balancing.nodehook.io"] == "disable" and .pid > 1'
	grep -qx "NODEHOOK_CONFIG=$NODEHOOK_CONFIG" "$NH_LOG/createRuntime.env" ||
		nh_fail "the hook's environment lacks NODEHOOK_CONFIG=$NODEHOOK_CONFIG"

	# While it runs: no balanced cpuset covers CPU 1; its own cgroup holds CPU 1 only.
	nh_assert_isolated 1
	nh_assert_cpuset "/$NH_CTRD_NS/$id/" "0 1"
	run --separate-stderr nodehook status --json
	nh_assert_status 0
	jq -e --arg id "$id" '.containers | length == 1 and .[0].id == $id
		and .[0].pod_namespace == null and .[0].actions == [{action: "cpu-load-balancing",
		value: "disable", backend: "cgroup-v1", cpus: "1", state: "applied", details: {}}]' <<<"$output" >/dev/null ||
		nh_fail "nodehook status --json:" "$output"
	jq -e --arg id "$id" '.cpus == [{cpu: 1, isolated_for: [$id]}]' <<<"$output" >/dev/null ||
		nh_fail "nodehook status --json: cpus:" "$output"

	run --separate-stderr nh_ctr tasks kill -s KILL "$id"
	nh_assert_status 0
	nh_wait_for ctr_stopped "$id" || nh_fail "task $id did not stop:" "$(nh_ctr tasks ls 2>&1)"
	run --separate-stderr nh_ctr tasks delete "$id"
	nh_assert_status 0
	nh_assert_eq "createRuntime poststop" "$(nh_hook_order)" "hooks run"
	assert_node_restored
	run --separate-stderr nh_ctr containers delete "$id"
	nh_assert_status 0
	assert_node_restored
	[ ! -e "/sys/fs/cgroup/cpuset/$NH_CTRD_NS/$id" ] || nh_fail "the container's cpuset is still there"
}

# --- the CRI, as a kubelet drives it ----------------------------------------------------------

@test "CRI: a Guaranteed pod on handler nodehook pinned to CPU 1: hooks.d hooks run, status names pod and container, the node is restored after removal" {
	needs_cri
	needs_v1
	record_hooks "createRuntime poststop" \
		'{"annotations": {"^io\\.kubernetes\\.cri\\.container-type$": "^container$"}}'
	local spec name=nh-$NH_SUFFIX-pod
	spec=$(pod_spec "$name" nh-e2e nodehook '{"cpu-load-balancing.nodehook.io": "disable"}')
	pod_up "$spec"
	nh_assert_status 0

	# The app container's createRuntime hook saw containerd's annotations and the pod's request.
	nh_assert_eq createRuntime "$(nh_hook_order)" "hooks run so far (app container only)"
	nh_jq_assert "$NH_LOG/createRuntime.state" --arg id "$CONTAINER_ID" --arg pod "$POD_ID" \
		--arg name "$name" '.id == $id and .annotations["io.kubernetes.cri.sandbox-id"] == $pod
		and .annotations["io.kubernetes.cri.sandbox-namespace"] == "nh-e2e"
		and .annotations["io.kubernetes.cri.sandbox-name"] == $name
		and .annotations["io.kubernetes.cri.container-name"] == "work"
		and .annotations["cpu-load-balancing.nodehook.io"] == "disable"'

	nh_assert_isolated 1
	nh_assert_cpuset "$NH_CTRD_CGROUP/$CONTAINER_ID/" "0 1"

	run --separate-stderr nodehook status --json
	nh_assert_status 0
	jq -e --arg id "$CONTAINER_ID" --arg name "$name" '.containers | length == 1
		and .[0].id == $id and .[0].pod_namespace == "nh-e2e" and .[0].pod_name == $name
		and .[0].container_name == "work" and .[0].actions[0].cpus == "1"
		and .[0].actions[0].state == "applied"' <<<"$output" >/dev/null ||
		nh_fail "nodehook status --json:" "$output"
	run --separate-stderr nodehook status
	nh_assert_status 0
	[[ "$output" == *"$CONTAINER_ID  nh-e2e/$name  work  cpu-load-balancing  disable  cgroup-v1  1  "* ]] ||
		nh_fail "nodehook status does not show the container with its pod and name:" "$output"

	run --separate-stderr nh_cri pod-down "$POD_ID"
	nh_assert_status 0
	nh_assert_eq "createRuntime poststop" "$(nh_hook_order)" "hooks run"
	nh_jq_assert "$NH_LOG/poststop.state" --arg id "$CONTAINER_ID" '.id == $id'
	assert_node_restored
	run --separate-stderr nh_cri call ListPodSandbox
	nh_assert_status 0
	jq -e --arg id "$POD_ID" '[.items[] | select(.id == $id)] == []' <<<"$output" >/dev/null ||
		nh_fail "the pod is still listed:" "$output"
}

@test "CRI: without nodehook's poststop hook file, nodehook-runtime's own undo after the runtime's delete restores the node" {
	needs_cri
	needs_v1
	mv "$NH_HOOKS_DIR/nodehook-poststop.json" "$NH_T/" # teardown puts it back
	local spec
	spec=$(pod_spec "nh-$NH_SUFFIX-nopost" nh-e2e nodehook '{"cpu-load-balancing.nodehook.io": "disable"}')
	pod_up "$spec"
	nh_assert_status 0
	nh_assert_isolated 1
	nh_jq_assert "$NH_STATE_DIR/containers/$CONTAINER_ID.json" '.'
	run --separate-stderr nh_cri pod-down "$POD_ID"
	nh_assert_status 0
	assert_node_restored
}

@test "CRI: a later pod on another handler through nodehook-runtime runs the guard and CPU 1 stays out of balancing; one on plain runc puts it back (every handler needs the wrapper)" {
	needs_cri
	needs_v1
	local spec shared='{"cpu_shares": 102}'
	spec=$(pod_spec "nh-$NH_SUFFIX-iso" nh-e2e nodehook '{"cpu-load-balancing.nodehook.io": "disable"}')
	pod_up "$spec"
	nh_assert_status 0

	# A Burstable pod on all CPUs: its cpusets are born with sched_load_balance 1, covering 1.
	spec=$(pod_spec "nh-$NH_SUFFIX-guarded" nh-e2e guarded '{}' '{}' "$shared")
	pod_up "$spec"
	nh_assert_status 0
	local guarded=$CONTAINER_ID
	nh_assert_isolated 1

	# The same pod on the default handler, plain runc: no hook runs, and a new cpuset over CPU 1
	# balances it again while the pinned container still runs (a limitation of the setup, not
	# of nodehook: install nodehook-runtime as every handler's BinaryName).
	spec=$(pod_spec "nh-$NH_SUFFIX-plain" nh-e2e runc '{}' '{}' "$shared")
	pod_up "$spec"
	nh_assert_status 0
	nh_assert_cpuset "$NH_CTRD_CGROUP/$guarded/" "0 0-1"
	nh_assert_cpuset "$NH_CTRD_CGROUP/$CONTAINER_ID/" "1 0-1"

	# shellcheck disable=SC2046
	run --separate-stderr nh_cri pod-down $(cat "$NH_T/.pods")
	nh_assert_status 0
	assert_node_restored
}

@test "CRI: the per-container key 'cpu-load-balancing.nodehook.io/work' passes the handler's '<key>/*' glob, and a handler with only '*' drops it" {
	needs_cri
	needs_v1
	record_hooks createRuntime \
		'{"annotations": {"^io\\.kubernetes\\.cri\\.container-type$": "^container$"}}'
	local spec
	# "*" never matches a "/" (Go path.Match): the request never reaches config.json.
	spec=$(pod_spec "nh-$NH_SUFFIX-star" nh-e2e nodehook-star \
		'{"cpu-load-balancing.nodehook.io/work": "disable", "nh-e2e-plain": "kept"}')
	pod_up "$spec"
	nh_assert_status 0
	nh_jq_assert "$NH_LOG/createRuntime.state" '.annotations["nh-e2e-plain"] == "kept"
		and (.annotations | has("cpu-load-balancing.nodehook.io/work") | not)'
	nh_assert_no_state
	run --separate-stderr nh_cri pod-down "$POD_ID"
	nh_assert_status 0

	spec=$(pod_spec "nh-$NH_SUFFIX-glob" nh-e2e nodehook \
		'{"cpu-load-balancing.nodehook.io/work": "disable"}')
	pod_up "$spec"
	nh_assert_status 0
	nh_jq_assert "$NH_LOG/createRuntime.state" \
		'.annotations["cpu-load-balancing.nodehook.io/work"] == "disable"'
	run --separate-stderr nodehook status --json
	jq -e --arg id "$CONTAINER_ID" '.containers | length == 1 and .[0].id == $id
		and .[0].container_name == "work"' <<<"$output" >/dev/null ||
		nh_fail "the per-container request was not applied:" "$output"
	run --separate-stderr nh_cri pod-down "$POD_ID"
	nh_assert_status 0
	assert_node_restored
}

@test "CRI: a pod in 'tenant' that claims io.kubernetes.cri.sandbox-namespace=kube-system is refused by a kube-system-only policy: containerd's own value wins" {
	needs_cri
	needs_v1
	nh_ctrd_node_config '.actions["cpu-load-balancing"].allowed_namespaces = ["kube-system"]'
	record_hooks createRuntime \
		'{"annotations": {"^io\\.kubernetes\\.cri\\.container-type$": "^container$"}}'
	local spec claim='"io.kubernetes.cri.sandbox-namespace": "kube-system"'
	# nodehook-open lets every annotation through, so the claim reaches containerd's spec
	# builder; containerd writes its own value over it.
	spec=$(pod_spec "nh-$NH_SUFFIX-spoof" tenant nodehook-open \
		"{\"cpu-load-balancing.nodehook.io\": \"disable\", $claim}" "{$claim}")
	pod_up "$spec"
	[ "$status" -ne 0 ] || nh_fail "the pod started although its namespace is not allowed"
	[[ "$stderr" == *"StartContainer: "*"namespace 'tenant' is not in allowed_namespaces"* ]] ||
		nh_fail "the refusal does not name namespace 'tenant':" "$stderr"
	nh_jq_assert "$NH_LOG/createRuntime.state" \
		'.annotations["io.kubernetes.cri.sandbox-namespace"] == "tenant"'
	assert_node_restored

	# The same pod in kube-system is allowed: the policy itself works.
	spec=$(pod_spec "nh-$NH_SUFFIX-sys" kube-system nodehook \
		'{"cpu-load-balancing.nodehook.io": "disable"}')
	pod_up "$spec"
	nh_assert_status 0
	run --separate-stderr nodehook status --json
	jq -e '.containers | length == 1 and .[0].pod_namespace == "kube-system"' <<<"$output" \
		>/dev/null || nh_fail "the kube-system pod was not tuned:" "$output"
	run --separate-stderr nh_cri pod-down "$POD_ID"
	nh_assert_status 0
	assert_node_restored
}

@test "CRI: a pod annotation key with a NUL byte, aimed at containerd's sandbox-namespace key, is refused at create and surfaced by containerd" {
	needs_cri
	needs_v1
	local spec
	# json-c would cut the key at the NUL and read it as containerd's own key.
	spec=$(pod_spec "nh-$NH_SUFFIX-nul" tenant nodehook-open \
		'{"cpu-load-balancing.nodehook.io": "disable",
		  "io.kubernetes.cri.sandbox-namespace\u0000x": "kube-system"}')
	pod_up "$spec"
	[ "$status" -ne 0 ] || nh_fail "the pod started with a NUL in an annotation key"
	[[ "$stderr" == *"RunPodSandbox: "* ]] || nh_fail "not refused at RunPodSandbox: $stderr"
	assert_surfaced "$NH_CTRD_DIR/state/io.containerd.runtime.v2.task/k8s.io/"
	[[ "$stderr" == *"/config.json: an object key holds a NUL character"* ]] ||
		nh_fail "the reason is not the NUL key: $stderr"
	assert_node_restored
}

# --- failures: surfaced, and nothing changed ---------------------------------------------------

@test "a bad hooks.d file fails the create through ctr: containerd surfaces nodehook's error, the node is unchanged" {
	local bad id
	bad=$(bad_hook_file)
	id=$(nh_id badhook)
	ctr_track "$id"
	run --separate-stderr nh_ctr run --rm --runc-binary "$NH_RUNTIME" \
		--annotation cpu-load-balancing.nodehook.io=disable "$NH_IMAGE" "$id" true
	[ "$status" -ne 0 ] || nh_fail "ctr run succeeded with a bad hooks.d file"
	assert_surfaced "$bad: invalid JSON"
	[ ! -e "/run/containerd/runc/$NH_CTRD_NS/$id" ] || nh_fail "runc state left for $id"
	if nh_ctr tasks ls -q | grep -qx -- "$id"; then nh_fail "a task $id is left"; fi
	assert_node_unchanged
}

@test "a bad hooks.d file fails a pod through the CRI: containerd surfaces nodehook's error at RunPodSandbox, the node is unchanged" {
	needs_cri
	local bad spec
	bad=$(bad_hook_file)
	spec=$(pod_spec "nh-$NH_SUFFIX-badhook" nh-e2e nodehook \
		'{"cpu-load-balancing.nodehook.io": "disable"}')
	pod_up "$spec"
	[ "$status" -ne 0 ] || nh_fail "the pod started with a bad hooks.d file"
	[[ "$stderr" == *"RunPodSandbox: "* ]] || nh_fail "not refused at RunPodSandbox: $stderr"
	assert_surfaced "$bad: invalid JSON"
	assert_node_unchanged
}

@test "a malformed config.json fails the create: through ctr (a NUL in an annotation key) containerd surfaces it; driven as the shim drives it (truncated JSON) the error lands in --log" {
	local id spec
	id=$(nh_id nul)
	spec=$(ctr_spec "$id" '["true"]' '{"io.kubernetes.cri.sandbox-namespace\u0000x": "kube-system"}')
	grep -qF '\u0000' "$spec" || nh_fail "the spec has no NUL key: $(cat "$spec")"
	ctr_track "$id"
	run --separate-stderr nh_ctr run --rm --config "$spec" --runc-binary "$NH_RUNTIME" "$id"
	[ "$status" -ne 0 ] || nh_fail "ctr run succeeded with a NUL in an annotation key"
	assert_surfaced "$NH_CTRD_DIR/state/io.containerd.runtime.v2.task/$NH_CTRD_NS/$id/config.json: an object key holds a NUL character"
	[ ! -e "/run/containerd/runc/$NH_CTRD_NS/$id" ] || nh_fail "runc state left for $id"

	# containerd re-encodes every spec, so only a runtime caller can hand over broken JSON:
	# the shim's exact command line, on a bundle with a truncated config.json.
	local b=$NH_T/broken
	nh_bundle "$b"
	head -c 200 "$b/config.json" >"$b/config.json.cut" && mv "$b/config.json.cut" "$b/config.json"
	shim_create "$b" "$(nh_id broken)" "$b/config.json: invalid JSON"
	assert_node_unchanged
}

@test "a container id outside runc's alphabet: containerd refuses it itself; nodehook-runtime driven as the shim drives it refuses it into --log and leaves the bundle alone" {
	local bad='nh:bad'
	# containerd's identifiers (A-Za-z0-9 . _ -) are a subset of runc's: no such id gets past it.
	run --separate-stderr nh_ctr run --rm --runc-binary "$NH_RUNTIME" "$NH_IMAGE" "$bad" true
	[ "$status" -ne 0 ] || nh_fail "containerd accepted the id '$bad'"
	[[ "$stderr" == *"identifier \"$bad\" must match"* ]] || nh_fail "ctr: $stderr"

	local b=$NH_T/bundle sum
	nh_bundle "$b" '.annotations = {"cpu-load-balancing.nodehook.io": "disable"}'
	sum=$(sha256sum "$b/config.json")
	shim_create "$b" "$bad" "container id '$bad' is not valid"
	nh_assert_eq "$sum" "$(sha256sum "$b/config.json")" "config.json (no hooks injected)"
	assert_node_unchanged
}
