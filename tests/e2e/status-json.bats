#!/usr/bin/env bats
# `nodehook status --json`, the whole document (docs/status-json.md), compared for exact JSON
# equality: an unexpected key, a missing one or a changed value fails. Only what differs from run
# to run is normalised: "since" of real containers (checked against the documented format first)
# and the pid of a container that is gone.
#
# Two sources of state:
# - FAKE: a scratch state dir written by the test, with records and ledgers of every backend,
#   under a scratch sysroot (its own boot id), so that nothing reads or writes the real node.
#   This is how the test reaches what this machine cannot produce: it has 2 CPUs, so only CPU 1
#   can be isolated for real, and only the cgroup-v1 backend works here; the fake state has
#   containers on several CPUs, each backend, pod metadata, actions without backend or CPUs,
#   a record of another boot, and orphans held by one or two backends.
# - REAL: runc containers isolating CPU 1 through nodehook's hooks (lib/hook.bash), a record
#   left half-applied by a hook killed at its first crash point (NODEHOOK_TEST_CRASH_AT=1, as in
#   hook-crash.bats), and an orphan (a running container whose record was removed).

load lib/common
load lib/node
load lib/hook

setup_file() {
	nh_require_nodehook
}

teardown() {
	# The stalled status and its reader (the lock test), if it failed halfway.
	local p
	for p in ${STALLED_PIDS:-}; do
		kill "$p" 2>/dev/null || true
	done
	nh_hook_teardown
}

# --- fake state -------------------------------------------------------------------------------

BOOT=nh-status-json-test-boot

# fake_state: $NH_T, a scratch sysroot whose boot id is $BOOT, an empty state dir $FSTATE (0700,
# as nodehook requires), and a node config naming both.
fake_state() {
	nh_setup
	mkdir -p "$NH_T/sysroot/proc/sys/kernel/random"
	echo "$BOOT" >"$NH_T/sysroot/proc/sys/kernel/random/boot_id"
	FSTATE=$NH_T/state
	mkdir -m 0700 "$FSTATE" "$FSTATE/containers"
	export NODEHOOK_CONFIG=$NH_T/config.json
	printf '{"state_dir": "%s", "sysroot": "%s"}\n' "$FSTATE" "$NH_T/sysroot" >"$NODEHOOK_CONFIG"
}

# fake_record ID JQ_FILTER: writes a record for ID into the scratch state dir: version 1, the
# scratch boot id, then JQ_FILTER applied.
fake_record() {
	jq -n --arg id "$1" --arg boot "$BOOT" '{version: 1, id: $id, pid: 1, pid_start: 1,
		runtime_path: "/usr/bin/runc", since: 1600000000, actions: {}, boot_id: $boot} | '"$2" \
		>"$FSTATE/containers/$1.json"
}

# fake_ledger NAME JSON: a ledger NAME.json with the scratch boot id added.
fake_ledger() {
	jq --arg boot "$BOOT" '. + {boot_id: $boot}' <<<"$2" >"$FSTATE/$1.json"
}

@test "status --json, fake state (several CPUs, every backend, half-applied, pod metadata, nulls, orphans): the exact document" {
	fake_state

	local lb='"cpu-load-balancing"'
	# Written out of id order: the document lists containers by id.
	fake_record nh-b ". + {pid: 4242, pod_namespace: \"default\", pod_name: \"web-0\",
		container_name: \"app\", since: 1700000000} | .actions[$lb] = {applied: true,
		backend: \"cgroup-v2\", cpus: \"2-3\", cgroup: \"/kubepods/pod1/nh-b\",
		value: \"true\", details: {moved: [1, 2], old: {\"1\": \"x\"}}}"
	fake_record nh-a ".actions[$lb] = {applied: true, backend: \"cgroup-v1\", cpus: \"1,3\"}"
	# An apply that did not finish.
	fake_record nh-c ". + {pid: 77} | .actions[$lb] = {applied: false, backend: \"sched-domain\", cpus: \"1\"}"
	# Written before a backend or CPUs were known: both null, and no CPU row.
	fake_record nh-d ".actions[$lb] = {applied: false}"
	# No action at all, no start time.
	fake_record nh-e 'del(.since)'
	# From another boot: void, not shown.
	fake_record nh-old ".boot_id = \"another-boot\" | .actions[$lb] = {applied: true, backend: \"cgroup-v1\", cpus: \"1\"}"

	fake_ledger cpuset-v1 '{"mount": "", "isolated": {"nh-a": "1,3", "nh-orphan-1": "1"}, "changed": []}'
	fake_ledger cpuset-v2 '{"mount": "", "containers": {
		"nh-b": {"cgroup": "/kubepods/pod1/nh-b", "cpus": "2-3", "leaving": false},
		"nh-orphan-2": {"cgroup": "/kubepods/pod2/nh-orphan-2", "cpus": "2", "leaving": true}},
		"changed": []}'
	fake_ledger sched-domain '{"isolated": {"nh-c": "1", "nh-orphan-1": "3", "nh-orphan-3": "3"}, "changed": {}}'

	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	nh_assert_eq "" "$stderr" "stderr"
	nh_assert_json_eq '{
	  "version": 1,
	  "state_dir": "'"$FSTATE"'",
	  "containers": [
	    {"id": "nh-a", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": 1, "since": "2020-09-13T12:26:40Z",
	     "actions": [{"action": "cpu-load-balancing", "value": null, "backend": "cgroup-v1", "cpus": "1,3", "state": "applied", "details": {}}]},
	    {"id": "nh-b", "pod_namespace": "default", "pod_name": "web-0", "container_name": "app",
	     "pid": 4242, "since": "2023-11-14T22:13:20Z",
	     "actions": [{"action": "cpu-load-balancing", "value": "true", "backend": "cgroup-v2", "cpus": "2-3", "state": "applied",
	                  "details": {"moved": [1, 2], "old": {"1": "x"}}}]},
	    {"id": "nh-c", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": 77, "since": "2020-09-13T12:26:40Z",
	     "actions": [{"action": "cpu-load-balancing", "value": null, "backend": "sched-domain", "cpus": "1", "state": "half-applied", "details": {}}]},
	    {"id": "nh-d", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": 1, "since": "2020-09-13T12:26:40Z",
	     "actions": [{"action": "cpu-load-balancing", "value": null, "backend": null, "cpus": null, "state": "half-applied", "details": {}}]},
	    {"id": "nh-e", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": 1, "since": "-", "actions": []}
	  ],
	  "cpus": [
	    {"cpu": 1, "isolated_for": ["nh-a", "nh-c"]},
	    {"cpu": 2, "isolated_for": ["nh-b"]},
	    {"cpu": 3, "isolated_for": ["nh-a", "nh-b"]}
	  ],
	  "orphans": [
	    {"id": "nh-orphan-1", "action": "cpu-load-balancing", "backend": "cgroup-v1"},
	    {"id": "nh-orphan-2", "action": "cpu-load-balancing", "backend": "cgroup-v2"},
	    {"id": "nh-orphan-3", "action": "cpu-load-balancing", "backend": "sched-domain"}
	  ]
	}' "$output" "status --json"
	# Arrays in the documented order, not only equal as sets: jq's == compares arrays in order.
	# Members in the documented order too (what a reader of the text sees).
	nh_assert_eq "version state_dir containers cpus orphans" \
		"$(jq -r 'keys_unsorted | join(" ")' <<<"$output")" "top-level members, in order"
	nh_assert_eq "id pod_namespace pod_name container_name pid since actions" \
		"$(jq -r '.containers[0] | keys_unsorted | join(" ")' <<<"$output")" "container members, in order"
	nh_assert_eq "action value backend cpus state details" \
		"$(jq -r '.containers[0].actions[0] | keys_unsorted | join(" ")' <<<"$output")" "action members, in order"
}

@test "status --json, fake state: an unreadable record is reported and status exits 1, still printing the others" {
	fake_state
	fake_record nh-a '.actions["cpu-load-balancing"] = {applied: true, backend: "cgroup-v1", cpus: "1"}'
	printf '{"version": 1, "id": "nh-bad"' >"$FSTATE/containers/nh-bad.json"
	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 1
	[[ "$stderr" == "nodehook: record of container 'nh-bad': $FSTATE/containers/nh-bad.json: "* ]] &&
		[ "$(wc -l <<<"$stderr")" = 1 ] || nh_fail "stderr: $stderr"
	nh_assert_json_eq '{"version": 1, "state_dir": "'"$FSTATE"'",
	  "containers": [{"id": "nh-a", "pod_namespace": null, "pod_name": null, "container_name": null,
	    "pid": 1, "since": "2020-09-13T12:26:40Z",
	    "actions": [{"action": "cpu-load-balancing", "value": null, "backend": "cgroup-v1", "cpus": "1", "state": "applied", "details": {}}]}],
	  "cpus": [{"cpu": 1, "isolated_for": ["nh-a"]}], "orphans": []}' "$output" "status --json"
}

# --- real state ---------------------------------------------------------------------------------

ISO_DATE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# blocked_in_pipe_write PID: PID sleeps in a write to a full pipe (the kernel function is
# pipe_write, anon_pipe_write since 6.15).
blocked_in_pipe_write() {
	[[ "$(cat "/proc/$1/wchan" 2>/dev/null)" == *pipe_write ]]
}

@test "status collects under the lock and prints after releasing it: while its stdout is a full pipe nobody reads, a hook can take the lock exclusively" {
	nh_require_cmds flock
	fake_state
	# Output beyond stdio's buffer (about 30 KiB): status writes while printing, not at exit.
	local i
	for i in $(seq 300); do
		fake_record "c$i" '.actions = {"cpu-load-balancing": {"value": "disable", "backend": "cgroup-v1", "cpus": "1", "applied": true, "details": {}}}'
	done
	local fill reader status_pid
	# A pipe whose reader never reads, filled to its 64 KiB: status blocks at its first write.
	exec {fill}> >(exec sleep 3600)
	reader=$!
	STALLED_PIDS=$reader
	head -c 65536 /dev/zero >&"$fill"
	"$NODEHOOK_BIN" status >&"$fill" 2>"$NH_T/status.err" &
	status_pid=$!
	STALLED_PIDS="$reader $status_pid"
	exec {fill}>&-
	nh_wait_for blocked_in_pipe_write "$status_pid"
	# What a hook does first: the store's lock, exclusively. Held by status, this would wait.
	flock -n -x "$FSTATE/lock" true || nh_fail "the store lock is held while status prints"
	kill "$reader" "$status_pid"
	wait "$status_pid" || true
	STALLED_PIDS=
}

@test "status --json, real runc containers on CPU 1: two applied, one half-applied by a hook killed after its record, one orphan: the exact document" {
	nh_hook_setup
	nh_nodehook_hooks "$NH_T/hooks"
	nh_lb_bundle "$NH_T/b" 1 yes "$NH_T/hooks"
	local a b c o
	a=$(nh_id a)
	b=$(nh_id b)
	c=$(nh_id c)
	o=$(nh_id o)
	nh_runc_start run "$b" "$NH_T/b"
	nh_runc_start run "$a" "$NH_T/b"
	nh_runc_start run "$o" "$NH_T/b"
	rm "$NH_STATE/containers/$o.json"
	# The hook dies right after writing c's record, before any change: create fails, and without
	# a poststop hook nothing undoes it.
	nh_nodehook_hooks "$NH_T/hooks-crash" --crash-at 1 --no-poststop
	nh_lb_bundle "$NH_T/bc" 1 yes "$NH_T/hooks-crash"
	run --separate-stderr nh_runc_start create "$c" "$NH_T/bc"
	[ "$status" -ne 0 ] && [[ "$stderr" == *"signal: killed"* ]] ||
		nh_fail "create of $c did not fail by the hook's crash:" "$stderr"
	nh_assert_isolated 1

	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	nh_assert_eq "" "$stderr" "stderr"
	# Every since in the documented format, then normalised; c's pid (its init is gone) must be a
	# positive number, then normalised.
	jq -e --arg re "$ISO_DATE" --arg c "$c" 'all(.containers[]; .since | test($re))
		and (.containers[] | select(.id == $c) | .pid > 0)' <<<"$output" >/dev/null ||
		nh_fail "since or pid not as documented:" "$output"
	local norm pa pb
	norm=$(jq --arg c "$c" '.containers[] |= (.since = "SINCE" | if .id == $c then .pid = "PID" else . end)' <<<"$output")
	pa=$(runc state "$a" | jq .pid)
	pb=$(runc state "$b" | jq .pid)
	local applied='[{"action": "cpu-load-balancing", "value": "disable", "backend": "cgroup-v1", "cpus": "1", "state": "applied", "details": {}}]'
	nh_assert_json_eq '{
	  "version": 1,
	  "state_dir": "'"$NH_STATE"'",
	  "containers": [
	    {"id": "'"$a"'", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": '"$pa"', "since": "SINCE", "actions": '"$applied"'},
	    {"id": "'"$b"'", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": '"$pb"', "since": "SINCE", "actions": '"$applied"'},
	    {"id": "'"$c"'", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": "PID", "since": "SINCE",
	     "actions": [{"action": "cpu-load-balancing", "value": "disable", "backend": "cgroup-v1", "cpus": "1", "state": "half-applied", "details": {}}]}
	  ],
	  "cpus": [{"cpu": 1, "isolated_for": ["'"$a"'", "'"$b"'", "'"$c"'"]}],
	  "orphans": [{"id": "'"$o"'", "action": "cpu-load-balancing", "backend": "cgroup-v1"}]
	}' "$norm" "status --json (since and the gone container's pid normalised)"

	# gc takes the half-applied record and the orphan; a and b stay, and status says so.
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: running, kept
$b: running, kept
$c: gone, restored (cpu-load-balancing)
$o: no record, released orphaned ledger entries (cpu-load-balancing)" "$output" "gc"
	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	norm=$(jq '.containers[] |= (.since = "SINCE")' <<<"$output")
	nh_assert_json_eq '{"version": 1, "state_dir": "'"$NH_STATE"'",
	  "containers": [
	    {"id": "'"$a"'", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": '"$pa"', "since": "SINCE", "actions": '"$applied"'},
	    {"id": "'"$b"'", "pod_namespace": null, "pod_name": null, "container_name": null,
	     "pid": '"$pb"', "since": "SINCE", "actions": '"$applied"'}],
	  "cpus": [{"cpu": 1, "isolated_for": ["'"$a"'", "'"$b"'"]}], "orphans": []}' "$norm" "status --json after gc"
	# o's own cpuset is balanced again (its ledger entry was released) while it runs: gone first.
	runc delete -f "$o"
	nh_assert_isolated 1

	runc delete -f "$a"
	runc delete -f "$b"
	nh_assert_node_restored
}
