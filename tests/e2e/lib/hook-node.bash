# Helpers for the suites that let `nodehook hook` change this node's real cpusets (hook-runc.bats,
# hook-podman.bats). Load after lib/common.
#
# Node state rules:
# - nh_node_setup takes the node lock ($NH_SCRATCH/.node-cpuset.lock, flock; any suite that
#   changes cpuset flags should take it too) and snapshots every cpuset's sched_load_balance and
#   cpus into $NH_T/.cpuset-before.
# - nh_node_teardown kills the busy loops the probe started, removes the test's runc and podman
#   containers, writes back every flag and CPU list that differs from the snapshot, removes a
#   leftover /nodehook-housekeeping cpuset and the test's own leftover cgroups, then releases
#   the lock.
#   Call it before nh_teardown (which removes $NH_T, and the snapshot with it).
# - Runtimes are started with the lock's fd closed ({NH_NODE_LOCK_FD}>&-), so that no daemon
#   (conmon, a container) keeps the lock after the test.

NH_CS=${NH_CS:-/sys/fs/cgroup/cpuset}
NH_HK=/nodehook-housekeeping

# Skips unless this node has what the suites need: root, a cgroup v1 cpuset hierarchy, 2+ CPUs.
nh_node_require() {
	nh_require_root
	[ -f "$NH_CS/cpuset.sched_load_balance" ] ||
		skip "no cgroup v1 cpuset hierarchy at $NH_CS (these tests drive the cgroup-v1 backend)"
	[ "$(nproc --all)" -ge 2 ] || skip "needs 2 CPUs: CPU 1 is isolated, CPU 0 keeps housekeeping"
}

nh_node_setup() {
	mkdir -p "$NH_SCRATCH"
	exec {NH_NODE_LOCK_FD}>>"$NH_SCRATCH/.node-cpuset.lock"
	local t0=$SECONDS
	flock -w 300 "$NH_NODE_LOCK_FD" ||
		nh_fail "another suite has held $NH_SCRATCH/.node-cpuset.lock for 300 s" || return 1
	[ $((SECONDS - t0)) -lt 2 ] || echo "# waited $((SECONDS - t0)) s for the node lock" >&3
	# No isolation may be active already (a suite that does not take the lock, or a leak): the
	# assertions compare with the state found here. Give a running one 10 s to end.
	local i
	for i in $(seq 50); do
		nh_node_idle && break
		sleep 0.2
	done
	if ! nh_node_idle; then
		skip "CPU isolation is already active on this node ($NH_CS$NH_HK exists or the root cpuset is not balanced): another nodehook, or a leak, is at work; not touching it"
	fi
	nh_cpuset_snapshot >"$NH_T/.cpuset-before"
}

nh_node_idle() {
	[ ! -d "$NH_CS$NH_HK" ] && [ "$(cat "$NH_CS/cpuset.sched_load_balance")" = 1 ]
}

nh_node_teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	nh_hogs_kill
	local rt id
	if [ -f "$NH_T/.containers" ]; then
		while read -r rt id; do
			"$rt" delete -f "$id" >/dev/null 2>&1 {NH_NODE_LOCK_FD}>&- || true
		done <"$NH_T/.containers"
	fi
	if [ -n "${NH_PODMAN_DIR:-}" ] && [ -s "$NH_T/.podman" ]; then
		nh_podman_rm_listed "$NH_T/.podman" {NH_NODE_LOCK_FD}>&-
	fi
	if [ -f "$NH_T/.cpuset-before" ]; then
		nh_cpuset_restore "$NH_T/.cpuset-before"
	fi
	# runc leaves nothing once `delete` ran; this is for a runtime that died half-way.
	local d
	for d in /sys/fs/cgroup/*/"nh-$NH_SUFFIX-"*; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		exec {NH_NODE_LOCK_FD}>&-
		unset NH_NODE_LOCK_FD
	fi
	return 0
}

# ---------------------------------------------------------------------------------------------
# cpusets

# Prints "PATH LB CPUS" for every cpuset, root first ("/"), sorted by path.
nh_cpuset_snapshot() {
	local d rel lb cpus
	while read -r d; do
		rel=${d#"$NH_CS"}
		{ read -r lb <"$d/cpuset.sched_load_balance" && read -r cpus <"$d/cpuset.cpus"; } 2>/dev/null ||
			continue # removed while we looked
		echo "${rel:-/} $lb ${cpus:--}"
	done < <(find "$NH_CS" -type d 2>/dev/null) | LC_ALL=C sort
}

# Writes back whatever differs from a snapshot, in cpusets that still exist; removes the
# housekeeping cpuset if the snapshot did not have it. Prints what it changed to fd 3.
nh_cpuset_restore() {
	local path lb cpus cur_lb cur_cpus d
	while read -r path lb cpus; do
		d=$NH_CS${path%/}
		[ "$path" = / ] && d=$NH_CS
		[ -d "$d" ] || continue
		read -r cur_lb <"$d/cpuset.sched_load_balance" 2>/dev/null || continue
		read -r cur_cpus <"$d/cpuset.cpus" 2>/dev/null || continue
		[ "$cpus" = - ] && cpus=
		if [ "$cur_cpus" != "$cpus" ] && [ -n "$cpus" ]; then
			echo "# teardown: $path cpus $cur_cpus -> $cpus" >&3
			echo "$cpus" >"$d/cpuset.cpus" 2>/dev/null || true
		fi
		if [ "$cur_lb" != "$lb" ]; then
			echo "# teardown: $path sched_load_balance $cur_lb -> $lb" >&3
			echo "$lb" >"$d/cpuset.sched_load_balance" 2>/dev/null || true
		fi
	done <"$1"
	if [ -d "$NH_CS$NH_HK" ] && ! grep -q "^$NH_HK " "$1"; then
		echo "# teardown: removing $NH_CS$NH_HK" >&3
		rmdir "$NH_CS$NH_HK" 2>/dev/null || true
	fi
}

# nh_cpulist_has LIST CPU: whether a kernel CPU list ("0-3,8") holds CPU.
nh_cpulist_has() {
	local list=$1 cpu=$2 part lo hi parts
	[ "$list" = - ] && return 1
	IFS=, read -ra parts <<<"$list"
	for part in "${parts[@]}"; do
		lo=${part%-*} hi=${part#*-}
		[ "$cpu" -ge "$lo" ] && [ "$cpu" -le "$hi" ] && return 0
	done
	return 1
}

# nh_assert_cpusets_restored BEFORE [OURS]: every cpuset of the snapshot that still exists has
# its flag and CPUs back, and there is no housekeeping cpuset. Cpusets created or removed
# meanwhile by someone else (other containers on the host) are listed to fd 3, not judged; OURS
# (a path) and /nh-<this test>-* are the test's own containers' cpusets, not listed.
nh_assert_cpusets_restored() {
	local now diffs
	now=$(nh_cpuset_snapshot)
	diffs=$(LC_ALL=C join -j1 -o 1.1,1.2,1.3,2.2,2.3 "$1" - <<<"$now" | awk '$2 != $4 || $3 != $5')
	local other
	other=$(LC_ALL=C join -v2 -j1 -o 2.1 "$1" - <<<"$now" |
		grep -vx -e "$NH_HK" -e "/nh-$NH_SUFFIX-.*" -e "${2:-$NH_HK}" | tr '\n' ' ')
	[ -z "$other" ] || echo "# cpusets that appeared during the test (not ours, not judged): $other" >&3
	[ -z "$diffs" ] ||
		nh_fail "cpusets not back to the snapshot (path, before lb cpus, now lb cpus):" "$diffs" ||
		return 1
	[ ! -d "$NH_CS$NH_HK" ] || nh_fail "$NH_CS$NH_HK is still there" || return 1
}

# nh_assert_isolated BEFORE CPU [CONTAINER_CGROUP]: CPU is out of load balancing the way the
# cgroup-v1 backend does it: no cpuset with sched_load_balance=1 covers CPU; every cpuset of the
# snapshot that was balanced and covered CPU is now 0 and listed in the ledger with "old": "1";
# every other cpuset of the snapshot is unchanged, CPU lists included; /nodehook-housekeeping is
# balanced and holds every online CPU but CPU. The ledger is $NH_STATE/cpuset-v1.json.
nh_assert_isolated() {
	local before=$1 cpu=$2 now path lb cpus problems=() changed
	now=$(nh_cpuset_snapshot)
	changed=$(jq -r '.changed[] | select(.old == "1") | .cgroup' "$NH_STATE/cpuset-v1.json") ||
		nh_fail "no readable ledger at $NH_STATE/cpuset-v1.json" || return 1
	while read -r path lb cpus; do
		if [ "$path" = "$NH_HK" ]; then
			nh_cpulist_has "$cpus" "$cpu" && problems+=("$path holds CPU $cpu: $cpus")
			nh_cpulist_has "$cpus" 0 || problems+=("$path lacks CPU 0: $cpus")
			[ "$lb" = 1 ] || problems+=("$path is not balanced")
			continue
		fi
		if [ "$lb" = 1 ] && nh_cpulist_has "$cpus" "$cpu"; then
			problems+=("$path (CPUs $cpus) is still balanced")
		fi
	done <<<"$now"
	grep -q "^$NH_HK " <<<"$now" || problems+=("no $NH_HK cpuset")
	local blb bcpus nlb ncpus
	while read -r path blb bcpus nlb ncpus; do
		[ "$bcpus" = "$ncpus" ] || problems+=("$path: CPUs changed from $bcpus to $ncpus")
		if [ "$blb" = 1 ] && nh_cpulist_has "$bcpus" "$cpu"; then
			grep -qxF -- "$path" <<<"$changed" ||
				problems+=("$path was turned off but is not in the ledger's \"changed\"")
		elif [ "$blb" != "$nlb" ]; then
			problems+=("$path does not cover CPU $cpu, yet its flag went $blb -> $nlb")
		fi
	done < <(LC_ALL=C join -j1 -o 1.1,1.2,1.3,2.2,2.3 "$before" - <<<"$now")
	[ ${#problems[@]} = 0 ] && return 0
	nh_fail "CPU $cpu is not isolated as expected:" "${problems[@]/#/  }" "cpusets now:" "$now" \
		"ledger: $(cat "$NH_STATE/cpuset-v1.json")"
}

# ---------------------------------------------------------------------------------------------
# nodehook's node config and state

# nh_node_config [ACTION_POLICY_JSON]: writes $NH_NODE_CONFIG (state in $NH_STATE, both under
# $NH_T), with the cpu-load-balancing policy given, if any.
nh_node_config() {
	NH_NODE_CONFIG=$NH_T/node-config.json
	NH_STATE=$NH_T/state
	if [ -n "${1:-}" ]; then
		printf '{"state_dir": "%s", "actions": {"cpu-load-balancing": %s}}\n' "$NH_STATE" "$1"
	else
		printf '{"state_dir": "%s"}\n' "$NH_STATE"
	fi >"$NH_NODE_CONFIG"
}

# nh_hook STAGE STATE_JSON: runs `nodehook hook` by hand the way a runtime does (state on stdin,
# only NODEHOOK_CONFIG in the environment), under bats' run --separate-stderr; asserts that it
# wrote nothing to stdout.
nh_hook() {
	run --separate-stderr env -i NODEHOOK_CONFIG="$NH_NODE_CONFIG" "$NODEHOOK_BIN" hook \
		--stage "$1" <<<"$2"
	nh_assert_eq "" "$output" "the hook's stdout (must stay empty)"
}

# nh_assert_one_line TEXT WHAT: TEXT is exactly one line.
nh_assert_one_line() {
	if [ -z "$1" ] || [ "$(printf '%s\n' "$1" | wc -l)" != 1 ]; then
		nh_fail "$2: expected one line, got:" "$1"
	fi
}

# ---------------------------------------------------------------------------------------------
# The load-balancing probe (machine.md, "Observing CPU load balancing here")

nh_hogs_kill() {
	[ -f "${NH_T:-}/.hogs" ] || return 0
	local p
	while read -r p; do
		kill "$p" 2>/dev/null || true
	done <"$NH_T/.hogs"
	rm -f "$NH_T/.hogs"
}

# nh_lb_probe: two busy loops start pinned to CPU 0; 0.3 s later they may run on every CPU;
# then 4 samples, 0.4 s apart, of each loop's CPU (field 39 of /proc/PID/stat) and
# se.nr_migrations. Sets NH_PROBE to "stays" (every sample on CPU 0 and no migration since the
# widening) or "spreads" (otherwise), and NH_PROBE_LOG to the samples ("cpu/migrations" pairs).
nh_lb_probe() {
	local pids=() p i m0=() line
	for i in 1 2; do
		taskset -c 0 sh -c 'while :; do :; done' {NH_NODE_LOCK_FD}>&- &
		pids+=($!)
		echo "$!" >>"$NH_T/.hogs"
	done
	sleep 0.3
	for p in "${pids[@]}"; do
		m0+=("$(awk '/^se.nr_migrations/ {print $3}' "/proc/$p/sched")")
		taskset -pc "0-$(($(nproc --all) - 1))" "$p" >/dev/null
	done
	NH_PROBE=stays
	NH_PROBE_LOG="start: ${m0[*]} |"
	for _ in 1 2 3 4; do
		sleep 0.4
		line=
		for i in 0 1; do
			p=${pids[$i]}
			local stat cpu mig f
			stat=$(<"/proc/$p/stat")
			stat=${stat##*) }
			read -ra f <<<"$stat"
			cpu=${f[36]} # field 39; f[0] is field 3
			mig=$(awk '/^se.nr_migrations/ {print $3}' "/proc/$p/sched")
			line+=" $cpu/$mig"
			[ "$cpu" = 0 ] && [ "$mig" = "${m0[$i]}" ] || NH_PROBE=spreads
		done
		NH_PROBE_LOG+="$line |"
	done
	nh_hogs_kill
	wait "${pids[@]}" 2>/dev/null || true
}

# nh_lb_probe_spreads: the probe, twice if the first run stays (a busy host can keep both loops
# on CPU 0 for a while even when balanced). Returns 0 if a run spread.
nh_lb_probe_spreads() {
	nh_lb_probe
	[ "$NH_PROBE" = spreads ] && return 0
	local first=$NH_PROBE_LOG
	nh_lb_probe
	NH_PROBE_LOG="$first || $NH_PROBE_LOG"
	[ "$NH_PROBE" = spreads ]
}
