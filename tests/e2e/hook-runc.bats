#!/usr/bin/env bats
# `nodehook hook` on the real kernel with the real runc: the cpu-load-balancing action through the
# cgroup-v1 backend, on this node's cpuset hierarchy.
#
# Each test: a node config of its own (state under $NH_T), two hooks.d files (createRuntime and
# poststop, matching cpu-load-balancing.* annotations, NODEHOOK_CONFIG in their env) injected into
# a busybox bundle by `nodehook hooks inject`, runc by id. The node lock, the snapshot, the
# assertions and the teardown are lib/node.bash's. CPU 1 is the one isolated.
#
# Hooks run by hand (`nh_hook`) get the state JSON on stdin as runc gives it, and only
# NODEHOOK_CONFIG in their environment; every such run also asserts an empty stdout.

load lib/common
load lib/node
load lib/hook

ANNOTATION=cpu-load-balancing.nodehook.io

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
	HOOKS=$NH_T/hooks.d
	write_hooks
}

teardown() {
	nh_hook_teardown
}

# The two hooks.d files of the manual recipe: nodehook at createRuntime and at poststop, for
# containers with a cpu-load-balancing.* annotation.
write_hooks() {
	local s
	mkdir -p "$HOOKS"
	for s in createRuntime poststop; do
		printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "%s"], "env": ["NODEHOOK_CONFIG=%s"]}, "when": {"annotations": {"^cpu-load-balancing\\\\.[^/]+(/.*)?$": ".*"}}, "stages": ["%s"]}\n' \
			"$NODEHOOK_BIN" "$s" "$NH_NODE_CONFIG" "$s" >"$HOOKS/$s.json"
	done
}

# make_bundle NAME [JQ_FILTER]: $NH_T/NAME, a busybox bundle that sleeps, pinned to CPU 1 and
# annotated to ask for isolation, then FILTER; the hooks injected. Sets B and ID.
make_bundle() {
	B=$NH_T/$1
	ID=$(nh_id "$1")
	nh_bundle "$B" --arg a "$ANNOTATION" '.process.args = ["sleep", "30"]
		| .linux.resources.cpu = {cpus: "1", mems: "0"} | .annotations = {($a): "disable"}
		| '"${2:-.}" || return 1
	nodehook hooks inject --bundle "$B" --hooks-dir "$HOOKS" --no-cache
}

# start: `runc run -d` of $B as $ID, the container's stdio and runc's in files (a pipe would keep
# bats waiting for the container). Sets status and ERR (runc's stderr).
start() {
	echo "runc $ID" >>"$NH_T/.containers"
	ERR=$NH_T/$ID.err
	status=0
	nh_nolock runc run -d --bundle "$B" "$ID" </dev/null >"$NH_T/$ID.out" 2>"$ERR" || status=$?
}

# The state JSON runc gives a hook for $ID and $B (no pid, as at poststop, unless given).
state_json() { # [PID]
	jq -cn --arg id "$ID" --arg b "$B" --arg a "$ANNOTATION" --argjson pid "${1:-null}" \
		'{ociVersion: "1.0.2-dev", id: $id, status: (if $pid then "creating" else "stopped" end),
		  bundle: $b, annotations: {($a): "disable"}} + (if $pid then {pid: $pid} else {} end)'
}

# Lists the files under $NH_T with their size, for "nothing was created" checks.
tree_listing() {
	find "$NH_T" -printf '%p %y %s\n' | LC_ALL=C sort
}

# refused MESSAGE: the start of $B failed, runc surfaced the hook's one-line error with an empty
# stdout, the container is gone and the node is as before (no state directory even).
assert_refused() {
	local msg=$1
	[ "$status" -ne 0 ] || nh_fail "runc started $ID; expected the hook to refuse it" || return 1
	grep -qF "error running hook #0: error running hook: exit status 1, stdout: , stderr: nodehook: error: id=$ID stage=createRuntime: $msg\\n\"" "$ERR" ||
		nh_fail "runc did not surface the expected hook error" "expected: ...$msg" \
			"runc said: $(cat "$ERR")" || return 1
	! runc state "$ID" >/dev/null 2>&1 || nh_fail "runc still knows $ID" || return 1
	[ ! -e "$NH_STATE" ] || nh_fail "the hook created its state dir: $(find "$NH_STATE")" || return 1
	nh_assert_node_restored
}

# save_isolation, then assert_isolation_unchanged WHEN: the cpusets, the ledger and $ID's record
# (the only one) are as they were. Cpusets are judged as the library judges them: ours, and the
# snapshot's that are still there (others' containers come and go on this host meanwhile).
save_isolation() {
	SAVED_FLAGS=$(nh_cpusets | nh_node_classify | grep -v '^foreign ')
	SAVED_LEDGER=$(cat "$NH_STATE/cpuset-v1.json")
	SAVED_RECORD=$(cat "$NH_STATE/containers/$ID.json")
}

# judged_in OTHER MINE: the classified cpuset lines of MINE that are ours, or whose path OTHER has.
judged_in() {
	awk 'NR == FNR { p[$2] = 1; next } $1 == "ours" || ($2 in p)' <(echo "$1") <(echo "$2")
}

assert_isolation_unchanged() {
	local now
	now=$(nh_cpusets | nh_node_classify | grep -v '^foreign ')
	nh_assert_eq "$(judged_in "$now" "$SAVED_FLAGS")" "$(judged_in "$SAVED_FLAGS" "$now")" "cpusets $1" &&
		nh_assert_json_eq "$SAVED_LEDGER" "$(cat "$NH_STATE/cpuset-v1.json")" "ledger $1" &&
		nh_assert_eq "$ID.json" "$(ls "$NH_STATE/containers")" "records $1" &&
		nh_assert_json_eq "$SAVED_RECORD" "$(cat "$NH_STATE/containers/$ID.json")" "record $1"
}

# Runs $ID's poststop by hand (no pid, as runc gives it): the node is back to the snapshot and
# the state dir holds neither ledger nor record.
undo_and_assert_restored() {
	nh_hook poststop "$(state_json)"
	nh_assert_status 0
	nh_assert_node_restored
}

# --- isolation and restore ------------------------------------------------------------------

@test "runc: CPU 1 leaves load balancing while the annotated container runs; delete gives every flag back" {
	make_bundle iso
	nh_jq_assert "$B/config.json" --arg b "$NODEHOOK_BIN" \
		'[.hooks.createRuntime[].path, .hooks.poststop[].path] == [$b, $b]'
	start
	nh_assert_status 0
	nh_assert_eq running "$(runc state "$ID" | jq -r .status)" "container status"
	nh_assert_isolated 1
	# The container's own cpuset: CPU 1 only, and off too.
	nh_assert_cpuset "/$ID/" "0 1"
	nh_jq_assert "$NH_STATE/cpuset-v1.json" --arg id "$ID" --arg m "$NH_CS" \
		'.isolated == {($id): "1"} and .housekeeping == "/nodehook-housekeeping" and .mount == $m
		 and (.changed | length > 0) and all(.changed[]; .old == "1")'
	nh_assert_eq "$ID.json" "$(ls "$NH_STATE/containers")" "records"
	nh_jq_assert "$NH_STATE/containers/$ID.json" --arg id "$ID" --argjson pid "$(runc state "$ID" | jq .pid)" \
		'.id == $id and .pid == $pid and .pid_start > 0 and (.runtime_path | test("runc$"))
		 and .actions["cpu-load-balancing"] == {applied: true, backend: "cgroup-v1", cpus: "1", value: "disable"}'

	run --separate-stderr runc delete -f "$ID"
	nh_assert_status 0 # runc delete fails when a poststop hook fails
	nh_assert_node_restored
}

@test "runc: busy loops stay on CPU 0 while CPU 1 is isolated and spread again after delete (behaviour)" {
	nh_probe_must_spread "baseline, nothing isolated"
	make_bundle probe
	start
	nh_assert_status 0
	nh_assert_isolated 1
	nh_probe 2 --watch
	echo "# probe, CPU 1 isolated: $NH_PROBE_LOG" >&3
	if [ "$NH_PROBE" != stays ]; then
		# A cpuset born meanwhile (someone else's container) is balanced and may cover CPU 1:
		# without the guard hook for that runtime, that undoes isolation, and is not ours to judge.
		local foreign
		foreign=$(nh_foreign_balanced_on_cpu1)$NH_PROBE_FOREIGN
		[ -z "$foreign" ] || skip "a balanced cpuset covering CPU 1 appeared during the probe: $foreign (not created by this test); the flags are asserted by the test above"
		nh_fail "while CPU 1 was isolated, the busy loops spread: $NH_PROBE_LOG" || return 1
	fi
	run --separate-stderr runc delete -f "$ID"
	nh_assert_status 0
	nh_assert_node_restored
	nh_probe_must_spread "after delete"
}

# --- refusals: the start fails, the node stays as it was --------------------------------------

# containerd_app NAMESPACE SHARES: a jq filter that makes the bundle look like an app container
# created by containerd's CRI plugin (the annotations it writes) with cpu.shares SHARES.
containerd_app() {
	printf '.annotations += {"io.kubernetes.cri.container-type": "container",
		"io.kubernetes.cri.sandbox-namespace": "%s", "io.kubernetes.cri.sandbox-name": "web",
		"io.kubernetes.cri.container-name": "app"} | .linux.resources.cpu.shares = %s' "$1" "$2"
}

@test "runc: refused: a container without a cpuset" {
	make_bundle nocpus 'del(.linux.resources.cpu)'
	start
	assert_refused "cpu-load-balancing ('$ANNOTATION'): the container has no exclusive whole-CPU set to isolate: it has no cpuset (linux.resources.cpu.cpus)"
}

@test "runc: refused: a CRI (containerd) container that is not a Guaranteed pod" {
	make_bundle burstable "$(containerd_app default 512)"
	start
	assert_refused "cpu-load-balancing ('$ANNOTATION'): the container has no exclusive whole-CPU set to isolate: it is not a Guaranteed pod with integer CPUs: cpu.shares is not 1 x 1024 for cpuset 1"
}

@test "runc: refused: a junk annotation value (\"disabled\")" {
	make_bundle junk ".annotations[\"$ANNOTATION\"] = \"disabled\""
	start
	assert_refused "annotation '$ANNOTATION': invalid value 'disabled' (expected \\\"disable\\\" or \\\"enable\\\")"
}

@test "runc: refused: a Guaranteed containerd container whose namespace is not in allowed_namespaces" {
	nh_node_config '{"allowed_namespaces": ["nh-allowed-*"]}'
	make_bundle ns "$(containerd_app nh-other 1024)"
	start
	assert_refused "cpu-load-balancing ('$ANNOTATION'): namespace 'nh-other' is not in allowed_namespaces"
}

@test "runc: refused: cri pinned to cri-o (and to none), a Burstable containerd container is not taken for one outside a pod (audit finding 4)" {
	local pin
	for pin in cri-o none; do
		nh_node_config '{"allowed_namespaces": ["*"]}'
		jq --arg pin "$pin" '.cri = $pin' "$NH_NODE_CONFIG" >"$NH_T/cfg.tmp"
		mv "$NH_T/cfg.tmp" "$NH_NODE_CONFIG"
		make_bundle "pinned-$pin" "$(containerd_app dev 512)"
		start
		assert_refused "cpu-load-balancing ('$ANNOTATION'): container carries io.kubernetes.cri.container-type, a pod marker of a runtime other than the node config's \\\"cri\\\": \\\"$pin\\\": refusing to treat it as a container outside a pod (fix \\\"cri\\\" in the node config)" ||
			return 1
	done
}

@test "runc: on_error \"log\": a refused container starts, with a warning, and the node is untouched" {
	nh_node_config '{"on_error": "log"}'
	make_bundle logged 'del(.linux.resources.cpu)'
	start
	nh_assert_status 0
	nh_assert_eq running "$(runc state "$ID" | jq -r .status)" "container status"
	[ ! -e "$NH_STATE" ] || nh_fail "the hook created its state dir: $(find "$NH_STATE")"
	nh_assert_node_restored "/$ID/"
	# runc shows a hook's stderr only when it fails: run the hook by hand to read the warning.
	nh_hook createRuntime "$(state_json "$(runc state "$ID" | jq .pid)")"
	nh_assert_status 0
	nh_assert_one_line "$stderr" "the hook's stderr"
	nh_assert_eq "nodehook: warning: id=$ID stage=createRuntime: cpu-load-balancing ('$ANNOTATION'): the container has no exclusive whole-CPU set to isolate: it has no cpuset (linux.resources.cpu.cpus); on_error is \"log\": the container starts without it" \
		"$stderr" "the warning"
	[ ! -e "$NH_STATE" ] || nh_fail "the hook created its state dir: $(find "$NH_STATE")"
	run --separate-stderr runc delete -f "$ID"
	nh_assert_status 0
	nh_assert_node_restored
}

# --- the hook by hand -------------------------------------------------------------------------

@test "hook: an id outside runc's alphabet ('../x') fails with one line and creates no file" {
	make_bundle bad
	local before
	before=$(tree_listing)
	local stage
	for stage in createRuntime poststop; do
		nh_hook "$stage" "$(jq -cn --arg b "$B" --arg a "$ANNOTATION" \
			'{ociVersion: "1.0.2-dev", id: "../x", status: "creating", pid: 1, bundle: $b,
			  annotations: {($a): "disable"}}')"
		nh_assert_status 1
		nh_assert_one_line "$stderr" "$stage: the hook's stderr"
		[[ $stderr == "nodehook: error: stage=$stage: state: container id '../x' is not a valid id"* ]] ||
			nh_fail "$stage: unexpected message: $stderr"
	done
	nh_assert_eq "$before" "$(tree_listing)" "files under $NH_T"
	nh_assert_node_restored
}

@test "hook: createRuntime twice with the same state is idempotent (one record, same flags)" {
	make_bundle twice
	nh_nolock sleep 60 & # stands in for the container's init
	echo $! >>"$NH_T/.pids"
	local state
	state=$(state_json $!)
	nh_hook createRuntime "$state"
	nh_assert_status 0
	nh_assert_one_line "$stderr" "the hook's stderr"
	nh_assert_isolated 1
	save_isolation
	nh_hook createRuntime "$state"
	nh_assert_status 0
	assert_isolation_unchanged "after the second createRuntime"
	undo_and_assert_restored
}

@test "hook: poststop for an unknown id is a no-op that exits 0" {
	make_bundle known
	local before unknown='{"ociVersion": "1.0.2-dev", "id": "nh-unknown", "status": "stopped", "bundle": "/nonexistent"}'
	# With no state directory at all: nothing is created.
	before=$(tree_listing)
	nh_hook poststop "$unknown"
	nh_assert_status 0
	nh_assert_eq "" "$stderr" "stderr"
	nh_assert_eq "$before" "$(tree_listing)" "files under $NH_T"
	# While another container is isolated: its ledger, record and flags stay.
	nh_hook createRuntime "$(state_json $$)"
	nh_assert_status 0
	save_isolation
	nh_hook poststop "$unknown"
	nh_assert_status 0
	nh_assert_eq "" "$stderr" "stderr"
	assert_isolation_unchanged "after poststop of an unknown id"
	undo_and_assert_restored
}
