#!/usr/bin/env bats
# Isolation survives a second container. While an annotated container keeps CPU 1 out of load
# balancing, an unannotated one allowed on CPUs 0-1 starts: runc gives it a new cpuset, born
# with sched_load_balance=1, that covers CPU 1 and would put CPU 1 back into a sched domain with
# CPU 0. The guard (the createRuntime hook, which here runs for every container: "always") must
# turn it off. Checked through the flags, and through behaviour (lib/node.bash's probe: the sched
# domain spans of /proc/schedstat where the kernel has them, else two busy loops started on CPU 0
# and then allowed on CPUs 0-1, which stay on CPU 0 while CPU 1 is isolated and spread once both
# containers are deleted). A baseline run first shows that this host balances them at all; when
# it does not because other work keeps CPU 1 busy, the behavioural test is skipped with the
# samples; when CPU 1 was idle, it fails.

load lib/common
load lib/node
load lib/hook

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
	HOOKS=$NH_T/hooks
	nh_nodehook_hooks "$HOOKS" --always
	nh_lb_bundle "$NH_T/b-ann" 1 yes "$HOOKS"
	nh_lb_bundle "$NH_T/b-wide" 0-1 no "$HOOKS"
	ANN=$(nh_id isolated)
	WIDE=$(nh_id wide)
}

teardown() {
	[ -z "${EVIL:-}" ] || rmdir "$EVIL" 2>/dev/null || true
	nh_hook_teardown
}

# Starts both containers and checks the flags: CPU 1 isolated, the second container's cpuset
# covering CPU 1 turned off by the guard.
start_both() {
	nh_runc_start run "$ANN" "$NH_T/b-ann"
	nh_assert_isolated 1
	nh_runc_start run "$WIDE" "$NH_T/b-wide"
	nh_assert_cpuset "/$WIDE/" "0 0-1"
	nh_assert_isolated 1
	jq -e --arg w "/$WIDE" '[.changed[] | select(.cgroup == $w and .old == "1")] | length == 1' \
		"$NH_STATE/cpuset-v1.json" >/dev/null ||
		nh_fail "the ledger does not record the second container's flag:" "$(cat "$NH_STATE/cpuset-v1.json")"
	# The unannotated container has no record: it asked for nothing.
	[ ! -e "$NH_STATE/containers/$WIDE.json" ] || nh_fail "a record for $WIDE"
}

@test "an unannotated container started while CPU 1 is isolated gets its cpuset's flag turned off" {
	start_both
	# Deleting the unannotated one changes nothing for the isolated one...
	runc delete -f "$WIDE"
	nh_assert_isolated 1
	# ...and deleting the isolated one gives every flag back.
	runc delete -f "$ANN"
	nh_assert_node_restored
}

# Audit finding 2: a cpuset named with a byte that is not UTF-8 went into the ledger raw, and the
# next read of the ledger failed: every later container start, poststop, gc and restore.
@test "a cpuset whose name is not UTF-8: the guard records it, reads it back, and gives its flag back" {
	nh_runc_start run "$ANN" "$NH_T/b-ann"
	nh_assert_isolated 1
	EVIL=$NH_CS/nh-e2e-$'\xff'-$NH_SUFFIX
	mkdir "$EVIL"
	echo 0 >"$EVIL/cpuset.mems"
	echo 0-1 >"$EVIL/cpuset.cpus"
	nh_runc_start run "$WIDE" "$NH_T/b-wide"
	nh_assert_eq 0 "$(cat "$EVIL/cpuset.sched_load_balance")" "the flag of the non-UTF-8 cpuset"
	grep -q '"cgroup_bytes":"/nh-e2e-%FF-' "$NH_STATE/cpuset-v1.json" ||
		nh_fail "the ledger does not hold the name encoded:" "$(cat "$NH_STATE/cpuset-v1.json")"
	# The ledger reads back: status, and the guard of another start.
	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	runc delete -f "$WIDE"
	nh_runc_start run "$WIDE" "$NH_T/b-wide"
	runc delete -f "$WIDE"
	runc delete -f "$ANN"
	nh_assert_eq 1 "$(cat "$EVIL/cpuset.sched_load_balance")" "the flag given back"
	rmdir "$EVIL"
	EVIL=
	nh_assert_node_restored
}

@test "busy loops stay on CPU 0 while CPU 1 is isolated with a second container running, and spread after delete (behaviour)" {
	nh_probe_must_spread "baseline, nothing isolated"

	start_both
	nh_probe 2 --watch
	echo "# probe, CPU 1 isolated: $NH_PROBE_LOG" >&3
	if [ "$NH_PROBE" != stays ]; then
		local foreign
		foreign=$(nh_foreign_balanced_on_cpu1)$NH_PROBE_FOREIGN
		[ -z "$foreign" ] ||
			skip "the busy loops spread, but a cpuset someone else made during the test balanced CPU 1 (no guard ran for it): $foreign"
		nh_fail "while CPU 1 was isolated, the busy loops spread: $NH_PROBE_LOG" || return 1
	fi

	runc delete -f "$WIDE"
	runc delete -f "$ANN"
	nh_assert_node_restored
	nh_probe_must_spread "after delete"
}
