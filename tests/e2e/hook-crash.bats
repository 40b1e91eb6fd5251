#!/usr/bin/env bats
# Crash safety of `nodehook hook` at createRuntime and at poststop, against the real kernel and
# runc.
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
#
# Undo: the same loop with NODEHOOK_TEST_CRASH_AT=N in the poststop hook's env instead. The
# container is created (createRuntime isolates CPU 1), then `runc delete -f` runs the poststop
# hook, which is killed at its Nth crash point (each flag given back, the housekeeping cpuset's
# removal); the record must still be there, and `nodehook gc` must put the node back exactly.

load lib/common
load lib/node
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

# gc_puts_node_back ID N WHAT [restores]: after crash point N, `nodehook gc` succeeds (with
# "restores": saying that it restored ID) and the node is exactly as in setup.
gc_puts_node_back() {
	local id=$1 n=$2 what=$3 restores=${4:-}
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	if [ -n "$restores" ]; then
		[[ $output == "$id: gone, restored (cpu-load-balancing)" ]] ||
			nh_fail "crash point $n: gc did not restore $id:" "$output"
	fi
	nh_assert_node_restored || nh_fail "after crash point $n ($what)"
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
			nh_assert_isolated 1
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
				[[ ${lines[1]} =~ ^$id\ .*\ half-applied\ +-$ ]] ||
					nh_fail "crash point $n: status does not show $id half-applied:" "$output"
			fi
		fi
		gc_puts_node_back "$id" "$n" "$variant" "$([ "$variant" = gc-only ] && echo restores)"
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

# poststop_crash_at HOOKS_DIR N: the poststop hook of HOOKS_DIR (nh_nodehook_hooks) is killed at
# its Nth crash point; createRuntime runs through.
poststop_crash_at() {
	local hooks=$1 n=$2
	nh_nodehook_hooks "$hooks"
	jq -c --arg crash "NODEHOOK_TEST_CRASH_AT=$n" '.hook.env += [$crash]' \
		"$hooks/poststop.json" >"$NH_T/poststop.json" &&
		mv "$NH_T/poststop.json" "$hooks/poststop.json"
}

@test "crash at every point of undo in the poststop hook: gc puts the node back exactly" {
	local hooks=$NH_T/hooks-undo bundle=$NH_T/b-undo n id completed=0
	nh_nodehook_hooks "$hooks"
	nh_lb_bundle "$bundle" 1 yes "$hooks"
	for ((n = 1; n <= 40; n++)); do
		id=$(nh_id "undo-$n")
		poststop_crash_at "$hooks" "$n"
		nh_bundle_rehook "$bundle" "$hooks"
		run --separate-stderr nh_runc_start create "$id" "$bundle"
		nh_assert_status 0
		nh_assert_isolated 1
		# runc 1.1 logs a failed poststop hook and still exits 0 (later versions fail): the
		# kill shows in stderr.
		run --separate-stderr runc delete -f "$id"
		! runc state "$id" >/dev/null 2>&1 || nh_fail "crash point $n: runc still knows $id"
		if [[ $stderr == *"signal: killed"* ]]; then
			# The record goes only after the last change is undone.
			[ -f "$NH_STATE/containers/$id.json" ] ||
				nh_fail "crash point $n: no record of $id for gc to work from"
		else
			# No crash point left: poststop undid everything, gc finds nothing to do.
			nh_assert_status 0
			completed=$n
			[ ! -f "$NH_STATE/containers/$id.json" ] ||
				nh_fail "poststop went through, but the record of $id is still there"
		fi
		gc_puts_node_back "$id" "$n" undo "$([ "$completed" -eq 0 ] && echo restores)"
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -gt 0 ] || nh_fail "the poststop hook still crashed at crash point 40"
	# Crash points: one per flag given back (the root at least, and the container's own cpuset),
	# then the housekeeping cpuset's removal.
	[ "$completed" -ge 4 ] || nh_fail "only $((completed - 1)) crash points: expected at least 3"
	echo "# undo: $((completed - 1)) crash points, each repaired" >&3
}
