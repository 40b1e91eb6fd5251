#!/usr/bin/env bats
# The operator commands against real containers: `nodehook status` lists what runs (table and
# JSON), `nodehook restore ID` undoes while the container still runs, `nodehook gc` leaves a
# running container alone, cleans up after one deleted without the poststop hook, and releases
# ledger entries whose record was lost. Plus their behaviour without any state, and their
# usage errors.

load lib/common
load lib/node
load lib/hook

setup_file() {
	nh_require_nodehook
}

teardown() {
	nh_hook_teardown
}

# setup_node [HOOK_OPTIONS...]: the node setup, nodehook's hooks (lib/hook.bash's
# nh_nodehook_hooks options), a bundle pinned to CPU 1 and annotated, in $NH_T/b.
setup_node() {
	nh_hook_setup
	nh_nodehook_hooks "$NH_T/hooks" "$@"
	nh_lb_bundle "$NH_T/b" 1 yes "$NH_T/hooks"
}

ISO_DATE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

@test "status, restore and gc without a state dir; invalid ids; usage errors" {
	nh_setup
	export NODEHOOK_CONFIG=$NH_T/config.json
	printf '{"state_dir": "%s"}\n' "$NH_T/no-state" >"$NODEHOOK_CONFIG"

	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	nh_assert_eq "nothing applied" "$output"
	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	nh_assert_json_eq "{\"version\": 1, \"state_dir\": \"$NH_T/no-state\", \"containers\": [],
		\"cpus\": [], \"orphans\": []}" "$output"
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "nothing to collect" "$output"
	run --separate-stderr "$NODEHOOK_BIN" gc --dry-run
	nh_assert_status 0
	run --separate-stderr "$NODEHOOK_BIN" restore --all
	nh_assert_status 0
	nh_assert_eq "nothing applied" "$output"
	[ ! -e "$NH_T/no-state" ] || nh_fail "a read-only command created the state dir"

	run --separate-stderr "$NODEHOOK_BIN" restore nh-nothing
	nh_assert_status 1
	nh_assert_eq "nodehook: container 'nh-nothing': no record: nodehook has applied nothing for it" "$stderr"
	local id
	for id in ../x . .. 'a b' 'a/b' ''; do
		run --separate-stderr "$NODEHOOK_BIN" restore "$id"
		nh_assert_status 1
		[[ $stderr == "nodehook: invalid container id '$id'"* ]] || nh_fail "restore '$id': $stderr"
		[ "$(wc -l <<<"$stderr")" = 1 ] || nh_fail "more than one line: $stderr"
	done

	local args
	for args in "status extra" "status --bogus" "gc extra" "gc --bogus" "restore" \
		"restore a b" "restore --all a" "restore --bogus"; do
		# shellcheck disable=SC2086 # word splitting is the point
		run --separate-stderr "$NODEHOOK_BIN" $args
		nh_assert_status 2
	done
	for args in status restore gc; do
		run --separate-stderr "$NODEHOOK_BIN" $args --help
		nh_assert_status 0
		[[ $output == "Usage: nodehook $args"* ]] || nh_fail "$args --help:" "$output"
	done

	# A broken node config is one line and exit 1, for each command.
	echo '{"state_dir": 1}' >"$NODEHOOK_CONFIG"
	# shellcheck disable=SC2086 # word splitting is the point
	for args in status gc "restore --all"; do
		run --separate-stderr "$NODEHOOK_BIN" $args
		nh_assert_status 1
		[[ $stderr == "nodehook: node config: "* ]] && [ "$(wc -l <<<"$stderr")" = 1 ] ||
			nh_fail "$args with a bad config: $stderr"
	done
}

@test "status lists a running container; restore ID undoes while it still runs" {
	setup_node
	local a
	a=$(nh_id a)
	nh_runc_start run "$a" "$NH_T/b"
	nh_assert_isolated 1

	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	local lines
	mapfile -t lines <<<"$output"
	[[ ${lines[0]} =~ ^CONTAINER\ +POD\ +NAME\ +ACTION\ +VALUE\ +BACKEND\ +CPUS\ +SINCE\ +STATE\ +DETAILS$ ]] ||
		nh_fail "header: ${lines[0]}"
	[[ ${lines[1]} =~ ^$a\ +-\ +-\ +cpu-load-balancing\ +disable\ +cgroup-v1\ +1\ +$ISO_DATE\ +applied\ +-$ ]] ||
		nh_fail "row: ${lines[1]}"
	# Aligned: the header's columns start where the row's do.
	nh_assert_eq "$(awk '{print index($0, "ACTION")}' <<<"${lines[0]}")" \
		"$(awk '{print index($0, "cpu-load-balancing")}' <<<"${lines[1]}")" "column of ACTION"
	nh_assert_eq "" "${lines[2]}"
	[[ ${lines[3]} =~ ^CPU\ +ISOLATED\ FOR$ ]] || nh_fail "cpu header: ${lines[3]}"
	[[ ${lines[4]} =~ ^1\ +$a$ ]] || nh_fail "cpu row: ${lines[4]}"
	nh_assert_eq 5 "${#lines[@]}" "number of lines"

	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	local pid
	pid=$(runc state "$a" | jq .pid)
	jq -e --arg id "$a" --argjson pid "$pid" --arg re "^$ISO_DATE\$" '
		.version == 1 and (.containers | length) == 1 and .orphans == []
		and .cpus == [{cpu: 1, isolated_for: [$id]}]
		and (.containers[0] | .id == $id and .pid == $pid and .pod_namespace == null
			and .pod_name == null and .container_name == null and (.since | test($re))
			and .actions == [{action: "cpu-load-balancing", value: "disable",
				backend: "cgroup-v1", cpus: "1", state: "applied", details: {}}])' <<<"$output" >/dev/null ||
		nh_fail "status --json:" "$output"

	run --separate-stderr "$NODEHOOK_BIN" restore "$a"
	nh_assert_status 0
	nh_assert_eq "$a: restored (cpu-load-balancing)" "$output"
	nh_assert_eq running "$(nh_runc_status "$a")" "the container after restore"
	# Every flag back; the container's own cpuset balanced again, as it was born.
	nh_assert_node_restored "/$a/"
	nh_assert_cpuset "/$a/" "1 1"
	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_eq "nothing applied" "$output"

	# The poststop hook then finds nothing to do.
	runc delete -f "$a"
	nh_assert_node_restored
}

@test "gc keeps running containers, cleans one deleted without poststop, and a zombie counts as gone" {
	setup_node --no-poststop
	local a b
	a=$(nh_id a)
	b=$(nh_id b)
	nh_runc_start run "$a" "$NH_T/b"
	nh_runc_start run "$b" "$NH_T/b"

	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: running, kept
$b: running, kept" "$output"
	nh_assert_isolated 1

	# b goes without its poststop hook. Its process may stay a zombie for a while here (PID 1
	# reaps slowly): gc must not wait for the reap.
	local bpid
	bpid=$(runc state "$b" | jq .pid)
	runc delete -f "$b"
	run --separate-stderr "$NODEHOOK_BIN" gc --dry-run
	nh_assert_status 0
	nh_assert_eq "$a: running, kept
$b: gone, would restore (cpu-load-balancing)" "$output"
	[ -e "$NH_STATE/containers/$b.json" ] || nh_fail "gc --dry-run removed $b's record"
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: running, kept
$b: gone, restored (cpu-load-balancing)" "$output"
	local zombie=no
	[ "$(awk '{print $3}' "/proc/$bpid/stat" 2>/dev/null)" = Z ] && zombie=yes
	echo "# $b's process was a zombie during gc: $zombie (either way it counts as gone)" >&3
	nh_assert_isolated 1
	jq -e --arg id "$a" '.isolated == {($id): "1"}' "$NH_STATE/cpuset-v1.json" >/dev/null ||
		nh_fail "the ledger after gc:" "$(cat "$NH_STATE/cpuset-v1.json")"

	runc delete -f "$a"
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: gone, restored (cpu-load-balancing)" "$output"
	nh_assert_node_restored
}

@test "a ledger entry whose record was lost: status shows it orphaned, gc releases it" {
	setup_node
	local a
	a=$(nh_id a)
	nh_runc_start run "$a" "$NH_T/b"
	rm "$NH_STATE/containers/$a.json"

	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	nh_assert_eq "orphaned: $a (cpu-load-balancing): held by a ledger without a record; 'nodehook gc' releases it" "$output"
	run --separate-stderr "$NODEHOOK_BIN" status --json
	jq -e --arg id "$a" '.containers == [] and .orphans == [{id: $id, action: "cpu-load-balancing",
		backend: "cgroup-v1"}]' <<<"$output" >/dev/null || nh_fail "status --json:" "$output"

	run --separate-stderr "$NODEHOOK_BIN" gc --dry-run
	nh_assert_status 0
	nh_assert_eq "$a: no record, would release orphaned ledger entries (cpu-load-balancing)" "$output"
	nh_assert_isolated 1

	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$a: no record, released orphaned ledger entries (cpu-load-balancing)" "$output"
	nh_assert_node_restored "/$a/"
	nh_assert_cpuset "/$a/" "1 1"

	runc delete -f "$a"
	nh_assert_node_restored
}

# Audit finding 6: a truncated record pinned its isolation for good (poststop, gc, restore all
# failed on it) and status said "nothing applied". Now status reports it, with its path, and
# shows what the ledger still holds; restore ID and gc release that and say what they cannot.
@test "a truncated record: status reports it, restore ID and gc release what the ledger holds" {
	setup_node
	local a b rec
	a=$(nh_id a)
	b=$(nh_id b)
	nh_runc_start run "$a" "$NH_T/b"
	nh_runc_start run "$b" "$NH_T/b"
	nh_assert_isolated 1
	for rec in "$a" "$b"; do
		head -c 40 "$NH_STATE/containers/$rec.json" >"$NH_T/trunc.json"
		cat "$NH_T/trunc.json" >"$NH_STATE/containers/$rec.json"
	done

	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 1
	[[ $stderr == *"record of container '$a': $NH_STATE/containers/$a.json: invalid JSON"* ]] ||
		nh_fail "status did not name the record and its path:" "$stderr"
	[[ $output != *"nothing applied"* ]] || nh_fail "status: $output"
	[[ $output == *"orphaned: $a (cpu-load-balancing)"* ]] || nh_fail "status: $output"

	run --separate-stderr "$NODEHOOK_BIN" restore "$a"
	nh_assert_status 1
	[[ $stderr == *"$NH_STATE/containers/$a.json: invalid JSON"*"what only this record describes cannot be undone"* ]] ||
		nh_fail "restore did not say what it cannot undo:" "$stderr"
	nh_assert_eq "$a: released orphaned ledger entries (cpu-load-balancing)" "$output"
	[ ! -e "$NH_STATE/containers/$a.json" ] || nh_fail "the truncated record of $a stays"
	nh_assert_isolated 1

	# b's container goes; its poststop hook cannot read the record (runc only warns).
	runc delete -f "$a"
	runc delete -f "$b" 2>/dev/null || true
	! runc state "$b" >/dev/null 2>&1 || nh_fail "$b is still there"
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 1
	[[ $stderr == *"$NH_STATE/containers/$b.json: invalid JSON"* ]] || nh_fail "gc: $stderr"
	nh_assert_eq "$b: no record, released orphaned ledger entries (cpu-load-balancing)" "$output"
	nh_assert_node_restored
	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	nh_assert_eq "nothing applied" "$output"
}

# Audit finding 6, for a ledger: status reports a truncated one with its path and still shows
# the records; restore says what it cannot undo, with the path, and keeps the record.
@test "a truncated ledger: status reports it with its path, restore says what it cannot undo" {
	setup_node
	local a
	a=$(nh_id a)
	nh_runc_start run "$a" "$NH_T/b"
	nh_assert_isolated 1
	local ledger=$NH_STATE/cpuset-v1.json
	cp "$ledger" "$NH_T/ledger.json"
	head -c 30 "$NH_T/ledger.json" >"$ledger"

	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 1
	[[ $stderr == *"$ledger: invalid JSON"* ]] || nh_fail "status did not name the ledger:" "$stderr"
	[[ $output == *"$a"*"cpu-load-balancing"* ]] || nh_fail "status did not show the record:" "$output"

	run --separate-stderr "$NODEHOOK_BIN" restore "$a"
	nh_assert_status 1
	[[ $stderr == *"$ledger: invalid JSON"*"the record stays"* ]] || nh_fail "restore: $stderr"
	[ -e "$NH_STATE/containers/$a.json" ] || nh_fail "the record went without its undo"

	# The ledger mended by hand: restore finishes.
	cp "$NH_T/ledger.json" "$ledger"
	run --separate-stderr "$NODEHOOK_BIN" restore "$a"
	nh_assert_status 0
	runc delete -f "$a"
	nh_assert_node_restored
}
