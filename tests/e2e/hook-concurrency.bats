#!/usr/bin/env bats
# Concurrency: many runc containers created and deleted at once, each running `nodehook hook`
# in its own process, all serialised by the state store's lock and kept consistent by the
# ledger's reference counts.
#
# One annotated container (the anchor) isolates CPU 1 and runs throughout. Then 20 containers
# are created and deleted in parallel, all pinned to CPU 1, every other one annotated, plus two
# annotated ones that ask for CPUs 0-1 (isolating both CPUs of this machine is refused by design,
# so their create must fail, leaving nothing behind). createRuntime runs for every container, so
# the guard turns off the flag of each new cpuset. A sampler watches, the whole time, the flags
# isolation turned off: the root, every cpuset of the setup snapshot that covers CPU 1, and the
# anchor's own cpuset: none may go back to 1 while the anchor runs, whoever is deleted. Then,
# with no create in between (so no guard repairs anything), three more annotated containers are
# deleted one by one, CPU 1 checked after each. Last the anchor is deleted and the node must be
# exactly as it started.

load lib/common
load lib/node
load lib/hook

N_CHURN=20

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
}

teardown() {
	nh_hook_teardown
}

# churn I BUNDLE EXPECT(ok|refused): one container's life; writes its outcome to $NH_T/out/I.
churn() {
	local i=$1 bundle=$2 expect=$3 id rc=0
	id=$(nh_id "c$i")
	nh_runc_start run "$id" "$bundle" 2>"$NH_T/out/$i.err" || rc=$?
	if [ "$expect" = refused ]; then
		if [ $rc -eq 0 ]; then
			echo "$id: created although it asked to isolate every CPU" >"$NH_T/out/$i"
			nh_nolock runc delete -f "$id"
			return
		fi
		if ! grep -q "cannot take every online CPU out of load balancing" "$NH_T/out/$i.err"; then
			echo "$id: refused, but not for the expected reason: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i"
			return
		fi
		echo ok >"$NH_T/out/$i"
		return
	fi
	if [ $rc -ne 0 ]; then
		echo "$id: runc run failed: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i"
		return
	fi
	sleep "0.$((RANDOM % 4))"
	if ! nh_nolock runc delete -f "$id" 2>>"$NH_T/out/$i.err"; then
		echo "$id: runc delete failed: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i"
		return
	fi
	echo ok >"$NH_T/out/$i"
}

# sampler PATHS...: until $NH_T/stop exists, reads the flags of PATHS; logs "PATH INODE LB" for
# any that is not 0 (the inode tells a cpuset someone else removed and made again, born
# balanced, from the one isolation turned off).
sampler() {
	local p lb n=0 idle
	mkfifo "$NH_T/idle"
	exec {idle}<>"$NH_T/idle" # nobody writes: read -t on it is a sleep without a fork
	while [ ! -e "$NH_T/stop" ]; do
		for p in "$@"; do
			read -r lb 2>/dev/null <"$NH_CS${p%/}/cpuset.sched_load_balance" || continue
			[ "$lb" = 0 ] ||
				echo "$p $(stat -c %i "$NH_CS${p%/}" 2>/dev/null || echo gone) $lb" >>"$NH_T/violations"
		done
		n=$((n + 1))
		read -r -t 0.005 -u "$idle" || true
	done
	echo "$n" >"$NH_T/samples"
}

# The sampler's findings about the watched cpusets that are still the cpuset they were when the
# sampler started ($NH_T/watched: "PATH INODE"): the cpusets of the setup snapshot and the
# anchor's own. A cpuset someone else removed and made again is born balanced: not ours to judge.
real_violations() {
	[ -f "$NH_T/violations" ] || return 0
	local path ino lb
	sort -u "$NH_T/violations" | while read -r path ino lb; do
		grep -qxF "$path $ino" "$NH_T/watched" && echo "$path had sched_load_balance $lb"
	done
	return 0
}

@test "20 containers created and deleted in parallel next to a running one: CPU 1 stays isolated, then the node is as before" {
	local hooks=$NH_T/hooks
	nh_nodehook_hooks "$hooks" --always
	nh_lb_bundle "$NH_T/b-ann" 1 yes "$hooks"
	nh_lb_bundle "$NH_T/b-plain" 1 no "$hooks"
	nh_lb_bundle "$NH_T/b-greedy" 0-1 yes "$hooks"

	local anchor
	anchor=$(nh_id anchor)
	nh_runc_start run "$anchor" "$NH_T/b-ann"
	nh_assert_isolated 1

	local watched=("/$anchor/") p
	while read -r p; do watched+=("$p"); done < <(nh_snapshot_paths_on_cpu1)
	# The inodes the sampler's findings are judged against: the snapshot's (a cpuset made again
	# since setup is not the one isolation turned off), and the anchor cpuset's as it is now.
	awk '{print $1 " " $4}' "$NH_T/cpusets.before" >"$NH_T/watched"
	echo "/$anchor/ $(stat -c %i "$NH_CS/$anchor")" >>"$NH_T/watched"
	nh_nolock sampler "${watched[@]}" &
	local sampler_pid=$!
	echo "$sampler_pid" >>"$NH_T/.pids"

	mkdir -p "$NH_T/out"
	local i pids=() start=$SECONDS
	for ((i = 1; i <= N_CHURN; i++)); do
		if ((i % 2)); then
			churn "$i" "$NH_T/b-ann" ok &
		else
			churn "$i" "$NH_T/b-plain" ok &
		fi
		pids+=($!)
	done
	churn g1 "$NH_T/b-greedy" refused &
	pids+=($!)
	churn g2 "$NH_T/b-greedy" refused &
	pids+=($!)
	wait "${pids[@]}"
	local took=$((SECONDS - start))
	touch "$NH_T/stop"
	wait "$sampler_pid"

	local bad=()
	for i in $(seq 1 $N_CHURN) g1 g2; do
		[ "$(cat "$NH_T/out/$i" 2>/dev/null)" = ok ] || bad+=("$(cat "$NH_T/out/$i" 2>/dev/null || echo "c$i: no outcome")")
	done
	[ ${#bad[@]} -eq 0 ] || nh_fail "some containers did not behave:" "${bad[@]}"
	local violations
	violations=$(real_violations)
	[ -z "$violations" ] ||
		nh_fail "a flag isolation had turned off went back while $anchor ran:" "$violations"
	echo "# $((N_CHURN + 2)) containers in ${took}s; $(cat "$NH_T/samples") samples of ${#watched[@]} flags, all 0" >&3

	# Only the anchor is left: its record alone, CPU 1 still isolated, every churned cpuset gone.
	nh_assert_isolated 1
	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	jq -e --arg id "$anchor" '[.containers[].id] == [$id] and .cpus == [{cpu: 1, isolated_for: [$id]}]
		and .orphans == []' <<<"$output" >/dev/null || nh_fail "status after the churn:" "$output"
	jq -e --arg id "$anchor" '.isolated == {($id): "1"}' "$NH_STATE/cpuset-v1.json" >/dev/null ||
		nh_fail "the ledger holds more than the anchor:" "$(cat "$NH_STATE/cpuset-v1.json")"

	# Deterministically now: no create runs between these deletes, so no guard could repair what
	# an undo got wrong. Each delete must leave CPU 1 isolated for the others.
	for i in 1 2 3; do
		nh_runc_start run "$(nh_id "s$i")" "$NH_T/b-ann"
	done
	for i in 1 2 3; do
		runc delete -f "$(nh_id "s$i")"
		nh_assert_isolated 1
	done

	runc delete -f "$anchor"
	nh_assert_node_restored
}
