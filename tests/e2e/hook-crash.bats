#!/usr/bin/env bats
# Crash safety of `nodehook hook` at createRuntime, against the real kernel and runc.
#
# NODEHOOK_TEST_CRASH_AT=N (in the createRuntime hook's env, from its hooks.d file) SIGKILLs the
# hook at its Nth crash point: between each write-ahead record or ledger write and the change it
# records (src/lib/actions/action.h). For N = 1, 2, ... until a run gets through without
# crashing, a runc container pinned to CPU 1 and annotated is created; runc create fails, runc
# destroys the container (and runs the poststop hook, if installed); then `nodehook gc` runs and
# the node must be exactly as before: every cpuset's sched_load_balance and cpus, no
# /nodehook-housekeeping, no ledger, no record.
#
# Variant "poststop": both hooks installed; poststop may already undo, gc must leave things so.
# Variant "gc only": no poststop hook; the record must be there after the crash (half-applied),
# and only gc repairs.

load lib/common
load lib/hook

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
}

teardown() {
	nh_hook_teardown
}

# crash_points VARIANT: runs the loop; VARIANT is poststop or gc-only.
crash_points() {
	local variant=$1 n id opts=() completed=0
	[ "$variant" = gc-only ] && opts=(--no-poststop)
	local hooks=$NH_T/hooks-$variant bundle=$NH_T/b-$variant
	nh_nodehook_hooks "$hooks" "${opts[@]}"
	nh_lb_bundle "$bundle" 1 yes "$hooks"
	for ((n = 1; n <= 40; n++)); do
		id=$(nh_id "$variant-$n")
		nh_nodehook_hooks "$hooks" --crash-at "$n" "${opts[@]}"
		nh_bundle_rehook "$bundle" "$hooks"
		run --separate-stderr nh_runc_start create "$id" "$bundle"
		if [ "$status" -eq 0 ]; then
			completed=$n
			# No crash point left: the apply went through. Delete, then gc.
			nh_assert_cpu1_isolated
			runc delete -f "$id"
		else
			[[ $stderr == *"signal: killed"* ]] ||
				nh_fail "crash point $n: runc create failed, but not because the hook was killed:" "$stderr"
			! runc state "$id" >/dev/null 2>&1 || nh_fail "crash point $n: runc still knows $id"
			if [ "$variant" = gc-only ]; then
				# The record is written before the first change: it must be there, and show
				# an apply that did not finish.
				[ -f "$NH_STATE/containers/$id.json" ] ||
					nh_fail "crash point $n: no record of $id for gc to work from"
				run --separate-stderr "$NODEHOOK_BIN" status
				nh_assert_status 0
				[[ ${lines[1]} =~ ^$id\ .*\ half-applied$ ]] ||
					nh_fail "crash point $n: status does not show $id half-applied:" "$output"
			fi
		fi
		run --separate-stderr "$NODEHOOK_BIN" gc
		nh_assert_status 0
		if [ "$variant" = gc-only ]; then
			[[ $output == "$id: gone, restored (cpu-load-balancing)" ]] ||
				nh_fail "crash point $n: gc did not restore $id:" "$output"
		fi
		nh_assert_node_restored || nh_fail "after crash point $n ($variant)"
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -gt 0 ] || nh_fail "the hook still crashed at crash point 40"
	# Crash points: record, ledger, housekeeping, then one per cpuset on CPU 1 (the root at least,
	# and the container's own cpuset).
	[ "$completed" -ge 5 ] || nh_fail "only $((completed - 1)) crash points: expected at least 4"
	echo "# $variant: $((completed - 1)) crash points, each repaired" >&3
}

@test "crash at every point of apply, poststop hook installed: gc leaves the node as before" {
	crash_points poststop
}

@test "crash at every point of apply, no poststop hook: gc alone puts the node back" {
	crash_points gc-only
}
