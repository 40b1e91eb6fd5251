# The node under test: this machine's cgroup v1 cpuset hierarchy, which nodehook's cgroup-v1
# backend changes. One library for every suite that lets nodehook isolate CPUs (hook-*.bats,
# runtime-*.bats): the node lock, the snapshot, the assertions, the teardown, the balancing probe.
# Load after lib/common.
#
# How the backend isolates CPU C (src/lib/actions/lb_cpuset_v1.c): a cpuset
# /nodehook-housekeeping, balanced, holds every online CPU but C; every cpuset with
# sched_load_balance=1 whose cpuset.cpus covers C gets 0, its old value recorded first in the
# ledger $NH_STATE/cpuset-v1.json ("changed"); each container has a record in
# $NH_STATE/containers. A cpuset is born balanced, so each new one covering C is turned off by
# the guard (the createRuntime hook run for every container). When the last isolation goes,
# every flag comes back, the housekeeping cpuset and the ledger go.
#
# Rules:
# - One suite at a time changes the cpuset tree: nh_node_lock takes an exclusive flock on
#   $NH_SCRATCH/.node-cpuset.lock (the gcc and clang runs, or two developers, would otherwise
#   see each other's isolation). Then the node must be clean: a housekeeping cpuset, or a root
#   cpuset that is not balanced, is a leftover of an earlier test (or another nodehook at
#   work); the test fails naming it rather than judging against a changed node.
#   Runtimes and background processes run without the lock's fd (nh_nolock), so that nothing
#   outlives the test holding it.
# - nh_node_setup snapshots every cpuset into $NH_T/cpusets.before, one line per cpuset:
#   "PATH/ LB CPUS INODE" (the root is "/", CPUS "-" when empty). The inode tells a cpuset
#   someone removed and made again under the same name from the original.
# - Each cpuset is then judged by kind (nh_node_classify): "ours" (the housekeeping cpuset, and
#   the cpusets of the test's containers: /nh-<suffix>-* and what nh_node_ours adds), "snap" (the
#   same cpuset as in the snapshot), or "foreign": made, or made again, by someone else during
#   the test. Other workloads may run on this host: foreign cpusets are named, never judged.
# - $NH_STATE is the state dir of the nodehook under test; the suite sets it.
# - nh_node_teardown deletes the test's containers, runs `nodehook restore --all` on $NH_STATE,
#   then, as a last resort, writes back every flag and CPU list of the snapshot that still
#   differs and removes a housekeeping cpuset, saying so on fd 3 (it means a test left the node
#   changed).

NH_CS=/sys/fs/cgroup/cpuset
NH_HOUSEKEEPING=/nodehook-housekeeping
NH_NODE_OURS=() # nh_node_ours

# Prints why this node cannot run the isolation tests (empty when it can): root, the tools, a
# cgroup v1 cpuset hierarchy at $NH_CS, CPUs 0 and 1 online (1 is isolated, 0 keeps
# housekeeping). For setup_file, which cannot skip: export it and skip in setup.
nh_node_missing() {
	[ "$(id -u)" = 0 ] || { echo "needs root: the tests change cpuset flags"; return; }
	local c
	for c in jq taskset flock find; do
		command -v "$c" >/dev/null || {
			echo "$c is not installed (scripts/install-deps installs it)"
			return
		}
	done
	[ -f "$NH_CS/cpuset.sched_load_balance" ] || {
		echo "no cgroup v1 cpuset hierarchy at $NH_CS: these tests drive the cgroup-v1 backend"
		return
	}
	case $(cat /sys/devices/system/cpu/online) in
	0-*) ;;
	*) echo "CPUs 0 and 1 must be online (online: $(cat /sys/devices/system/cpu/online))" ;;
	esac
}

# Skips the test unless nh_node_missing is empty.
nh_node_require() {
	local why
	why=$(nh_node_missing)
	[ -z "$why" ] || skip "$why"
}

# Prints what shows isolation already active on this node (empty when there is none): a
# housekeeping cpuset, or a root cpuset that is not balanced.
nh_node_leftover() {
	[ -f "$NH_CS/cpuset.sched_load_balance" ] || return 0
	local out=()
	if [ -d "$NH_CS$NH_HOUSEKEEPING" ]; then
		out+=("$NH_CS$NH_HOUSEKEEPING exists (cpus $(cat "$NH_CS$NH_HOUSEKEEPING/cpuset.cpus" 2>/dev/null), sched_load_balance $(cat "$NH_CS$NH_HOUSEKEEPING/cpuset.sched_load_balance" 2>/dev/null))")
	fi
	[ "$(cat "$NH_CS/cpuset.sched_load_balance")" = 1 ] ||
		out+=("the root cpuset has sched_load_balance $(cat "$NH_CS/cpuset.sched_load_balance")")
	[ ${#out[@]} -eq 0 ] || printf '%s; ' "${out[@]}" | sed 's/; $//'
}

# nh_node_lock [--no-check]: takes the node lock into NH_NODE_LOCK_FD (waiting up to 10 min for
# another suite of this run), then, unless --no-check, gives a nodehook still finishing 10 s and
# fails, lock released, naming the leftover (nh_node_leftover). The reason is also left in
# NH_NODE_LOCK_ERR.
# shellcheck disable=SC2120 # --no-check comes from lib/containerd.bash
nh_node_lock() {
	NH_NODE_LOCK_ERR=
	mkdir -p "$NH_SCRATCH"
	exec {NH_NODE_LOCK_FD}>>"$NH_SCRATCH/.node-cpuset.lock"
	local t0=$SECONDS
	if ! flock -w 600 "$NH_NODE_LOCK_FD"; then
		nh_node_unlock
		NH_NODE_LOCK_ERR="another suite has held $NH_SCRATCH/.node-cpuset.lock for 600 s"
		nh_fail "$NH_NODE_LOCK_ERR"
		return 1
	fi
	# (fd 3 is bats' log; scripts/demo has none)
	[ $((SECONDS - t0)) -lt 2 ] || echo "# waited $((SECONDS - t0)) s for the node lock" 2>/dev/null >&3 || true
	[ "${1:-}" != --no-check ] || return 0
	local i why
	for ((i = 0; i < 50; i++)); do
		why=$(nh_node_leftover)
		[ -z "$why" ] && return 0
		sleep 0.2
	done
	nh_node_unlock
	NH_NODE_LOCK_ERR="CPU isolation is already active on this node: $why. A leftover of an earlier test (its own restore assertion should have failed) or another nodehook at work; not touching it."
	nh_fail "$NH_NODE_LOCK_ERR"
	return 1
}

nh_node_unlock() {
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		exec {NH_NODE_LOCK_FD}>&-
		unset NH_NODE_LOCK_FD
	fi
}

# nh_nolock CMD...: CMD without the lock's fd (a daemon or container must not keep the lock).
nh_nolock() {
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		"$@" {NH_NODE_LOCK_FD}>&-
	else
		"$@"
	fi
}

# For setup, after nh_setup: the lock (nh_node_lock), then the snapshot (nh_node_snapshot).
nh_node_setup() {
	# shellcheck disable=SC2119 # no option: the full check
	nh_node_lock || return 1
	nh_node_snapshot
}

# The snapshot of setup, for a suite whose lock is held for the whole file (setup_file).
nh_node_snapshot() {
	NH_NODE_OURS=()
	: >>"$NH_T/.pids"
	nh_cpusets >"$NH_T/cpusets.before"
}

# nh_node_ours GLOB...: cpusets whose path ("/a/b/") matches GLOB are the test's own too (a
# container cgroup the runtime named, e.g. "/libpod_parent/libpod-$cid/").
nh_node_ours() {
	NH_NODE_OURS+=("$@")
}

# nh_node_teardown: for teardown, before nh_teardown (which removes $NH_T), after the suite
# removed the containers it keeps track of itself. See the rules at the top.
nh_node_teardown() {
	if [ -z "${NH_T:-}" ] || [ ! -d "$NH_T" ]; then
		nh_node_unlock
		return 0
	fi
	local p rt id
	if [ -f "$NH_T/.pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$NH_T/.pids"
	fi
	if [ -f "$NH_T/cpusets.before" ]; then
		while read -r rt id; do
			nh_nolock "$rt" delete -f "$id" >/dev/null 2>&1 || true
		done <"$NH_T/.containers"
		if [ -n "${NH_PODMAN_DIR:-}" ] && [ -s "$NH_T/.podman" ]; then
			nh_nolock nh_podman_rm_listed "$NH_T/.podman"
		fi
		if [ -n "${NH_STATE:-}" ] && [ -d "$NH_STATE" ]; then
			printf '{"state_dir": "%s"}\n' "$NH_STATE" >"$NH_T/.restore-config.json"
			NODEHOOK_CONFIG=$NH_T/.restore-config.json nh_nolock "$NODEHOOK_BIN" restore --all \
				>/dev/null 2>&1 || true
		fi
		nh_node_force_restore
		# runc leaves nothing once `delete` ran; this is for a runtime that died half-way.
		local d
		for d in /sys/fs/cgroup/*/"nh-$NH_SUFFIX-"*; do
			[ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true
		done
	fi
	nh_node_unlock
	return 0
}

# The last resort: every cpuset of the snapshot that is still the same cpuset gets back its
# cpus and its flag where they differ; a housekeeping cpuset goes. Says so on fd 3.
nh_node_force_restore() {
	local path lb cpus ino now_lb now_cpus d
	while read -r path lb cpus ino; do
		d=$NH_CS${path%/}
		[ "$(stat -c %i "$d" 2>/dev/null)" = "$ino" ] || continue
		read -r now_lb <"$d/cpuset.sched_load_balance" 2>/dev/null || continue
		read -r now_cpus <"$d/cpuset.cpus" 2>/dev/null || continue
		if [ "${now_cpus:--}" != "$cpus" ] && [ "$cpus" != - ]; then
			echo "# teardown: $path cpus $now_cpus, writing back $cpus" >&3
			echo "$cpus" >"$d/cpuset.cpus" 2>/dev/null || true
		fi
		if [ "$now_lb" != "$lb" ]; then
			echo "# teardown: $path sched_load_balance $now_lb, writing back $lb" >&3
			echo "$lb" >"$d/cpuset.sched_load_balance" 2>/dev/null || true
		fi
	done <"$NH_T/cpusets.before"
	if [ -d "$NH_CS$NH_HOUSEKEEPING" ]; then
		echo "# teardown: removing $NH_HOUSEKEEPING, left behind" >&3
		rmdir "$NH_CS$NH_HOUSEKEEPING" 2>/dev/null || true
	fi
}

# ---------------------------------------------------------------------------------------------
# cpusets

# Prints "PATH/ LB CPUS INODE" for every cpuset, sorted by path; those removed while being read
# are left out.
nh_cpusets() {
	local ino d lb cpus
	find "$NH_CS" -type d -printf '%i %p\n' 2>/dev/null | while read -r ino d; do
		{ read -r lb <"$d/cpuset.sched_load_balance" && read -r cpus <"$d/cpuset.cpus"; } 2>/dev/null ||
			continue
		printf '%s/ %s %s %s\n' "${d#"$NH_CS"}" "$lb" "${cpus:--}" "$ino"
	done | LC_ALL=C sort -k1,1
}

# nh_cpulist_expand LIST: the CPUs of a kernel CPU list ("0-3,8"; "-" or "" for none), one
# space-separated line.
nh_cpulist_expand() {
	local item lo hi items out=()
	[ "${1:--}" = - ] && { echo; return 0; }
	IFS=, read -ra items <<<"$1"
	for item in "${items[@]}"; do
		lo=${item%-*} hi=${item#*-}
		for ((; lo <= hi; lo++)); do out+=("$lo"); done
	done
	echo "${out[*]}"
}

# nh_cpulist_has LIST CPU
nh_cpulist_has() {
	[[ " $(nh_cpulist_expand "$1") " == *" $2 "* ]]
}

# nh_node_is_ours PATH: see the rules at the top.
nh_node_is_ours() {
	local g
	case $1 in
	"$NH_HOUSEKEEPING"/ | /nh-"$NH_SUFFIX"-*) return 0 ;;
	esac
	for g in "${NH_NODE_OURS[@]}"; do
		# shellcheck disable=SC2053 # a glob, on purpose
		[[ $1 == $g ]] && return 0
	done
	return 1
}

# nh_node_classify: reads nh_cpusets lines on stdin, prints "KIND PATH LB CPUS" (KIND: ours,
# snap or foreign; see the rules at the top).
nh_node_classify() {
	local path lb cpus ino
	declare -A before
	while read -r path lb cpus ino; do before[$path]=$ino; done <"$NH_T/cpusets.before"
	while read -r path lb cpus ino; do
		if nh_node_is_ours "$path"; then
			echo "ours $path $lb $cpus"
		elif [ "${before[$path]:-}" = "$ino" ]; then
			echo "snap $path $lb $cpus"
		else
			echo "foreign $path $lb $cpus"
		fi
	done
}

# Foreign cpusets that are balanced and cover CPU 1: while one exists, CPU 1 is balanced
# whatever nodehook does (no guard ran for it), and the behavioural probe cannot judge.
nh_foreign_balanced_on_cpu1() {
	local kind path lb cpus
	nh_cpusets | nh_node_classify | while read -r kind path lb cpus; do
		if [ "$kind" = foreign ] && [ "$lb" = 1 ] && nh_cpulist_has "$cpus" 1; then
			echo "$path (cpus $cpus)"
		fi
	done
}

# The cpusets of the snapshot that cover CPU 1, ours aside (the flags isolation turns off).
nh_snapshot_paths_on_cpu1() {
	local path lb cpus ino
	while read -r path lb cpus ino; do
		nh_node_is_ours "$path" && continue
		if nh_cpulist_has "$cpus" 1; then echo "$path"; fi
	done <"$NH_T/cpusets.before"
}

# nh_assert_cpuset PATH "LB CPUS": a cpuset's flag and CPU list, e.g. a container's own.
nh_assert_cpuset() {
	local d=$NH_CS${1%/} lb cpus
	read -r lb <"$d/cpuset.sched_load_balance" 2>/dev/null &&
		read -r cpus <"$d/cpuset.cpus" 2>/dev/null ||
		nh_fail "no cpuset $1" || return 1
	nh_assert_eq "$2" "$lb ${cpus:--}" "cpuset $1 (sched_load_balance, cpus)"
}

# nh_assert_isolated CPU: CPU is out of load balancing the way the backend does it:
# - every cpuset covering CPU has sched_load_balance 0 (foreign ones are only named);
# - each one nodehook turned off (balanced in the snapshot, or ours: born balanced) is in the
#   ledger's "changed" with "old": "1";
# - every other cpuset of the snapshot has its flag, and every one its CPU list, unchanged;
# - /nodehook-housekeeping is balanced and holds exactly the online CPUs but CPU.
# Checks what is there now: call it when none of our containers is being created (a new cpuset
# is balanced until its guard ran).
nh_assert_isolated() {
	local cpu=$1 kind path lb cpus ino bad=() notes=() changed hk=
	changed=$(jq -r '.changed[] | select(.old == "1") | .cgroup' "$NH_STATE/cpuset-v1.json" 2>/dev/null) ||
		nh_fail "CPU $cpu is not isolated: no readable ledger at $NH_STATE/cpuset-v1.json" || return 1
	declare -A before changed_set
	while read -r path lb cpus ino; do before[$path]="$lb $cpus"; done <"$NH_T/cpusets.before"
	while read -r path; do changed_set[${path%/}/]=1; done <<<"$changed"
	local online want
	online=$(cat /sys/devices/system/cpu/online)
	want=$(nh_cpulist_expand "$online" | tr ' ' '\n' | grep -vx "$cpu" | paste -sd' ')
	local now
	now=$(nh_cpusets | nh_node_classify)
	while read -r kind path lb cpus; do
		if [ "$path" = "$NH_HOUSEKEEPING/" ]; then
			hk=1
			[ "$(nh_cpulist_expand "$cpus")" = "$want" ] ||
				bad+=("$path holds CPUs '$cpus', expected exactly the online CPUs but $cpu ($want)")
			[ "$lb" = 1 ] || bad+=("$path has sched_load_balance $lb")
			continue
		fi
		local covers=
		nh_cpulist_has "$cpus" "$cpu" && covers=1
		if [ "$kind" = foreign ]; then
			[ -z "$covers" ] || [ "$lb" = 0 ] ||
				notes+=("$path (cpus $cpus, not ours, new or made again during the test) has sched_load_balance $lb")
			continue
		fi
		local blb=1 bcpus=$cpus
		[ "$kind" = snap ] && read -r blb bcpus <<<"${before[$path]}"
		[ "$bcpus" = "$cpus" ] || bad+=("$path: CPUs changed from $bcpus to $cpus")
		if [ -n "$covers" ]; then
			[ "$lb" = 0 ] || bad+=("$path (cpus $cpus) is still balanced")
			[ "$blb" != 1 ] || [ "$lb" != 0 ] || [ -n "${changed_set[$path]:-}" ] ||
				bad+=("$path was turned off but is not in the ledger's \"changed\" with old \"1\"")
		elif [ "$blb" != "$lb" ]; then
			bad+=("$path does not cover CPU $cpu, yet its flag went $blb -> $lb")
		fi
	done <<<"$now"
	[ -n "$hk" ] || bad+=("no $NH_HOUSEKEEPING cpuset")
	[ ${#bad[@]} -eq 0 ] && return 0
	nh_fail "CPU $cpu is not isolated as expected:" "${bad[@]/#/  }" "${notes[@]/#/  note: }" \
		"cpusets now (kind path lb cpus):" "${now//$'\n'/$'\n'  }" \
		"ledger: $(cat "$NH_STATE/cpuset-v1.json")"
}

# nh_assert_no_state: the state dir holds no ledger and no container record.
nh_assert_no_state() {
	local f problems=()
	for f in "$NH_STATE"/*.json; do
		[ -e "$f" ] && problems+=("ledger left: $f: $(tr -d '\n\t' <"$f")")
	done
	for f in "$NH_STATE"/containers/*.json; do
		[ -e "$f" ] && problems+=("record left: $f")
	done
	[ ${#problems[@]} -eq 0 ] || nh_fail "nodehook's state is not empty:" "${problems[@]/#/  }"
}

# nh_assert_node_restored [PATH...]: the node is as in setup: every cpuset of the snapshot has
# its flag and CPUs back; no cpuset of ours is left, except the PATHs given ("/nh-.../": a
# container that still runs, a parent cgroup), which must be balanced, as born; no housekeeping
# cpuset; no ledger and no record (nh_assert_no_state). Foreign cpusets, and snapshot ones that
# went away, are named, not judged.
nh_assert_node_restored() {
	local problems=() notes=() kind path lb cpus ino
	declare -A allowed before seen
	for path in "$@"; do allowed[$path]=1; done
	while read -r path lb cpus ino; do before[$path]="$lb $cpus"; done <"$NH_T/cpusets.before"
	while read -r kind path lb cpus; do
		seen[$path]=1
		case $kind in
		snap)
			[ "${before[$path]}" = "$lb $cpus" ] ||
				problems+=("cpuset $path: lb/cpus '$lb $cpus', before the test '${before[$path]}'")
			;;
		ours)
			if [ -z "${allowed[$path]:-}" ]; then
				problems+=("cpuset $path (lb $lb, cpus $cpus) is still there")
			elif [ "$lb" != 1 ]; then
				problems+=("cpuset $path has sched_load_balance $lb, not 1 as it was born")
			fi
			;;
		*) notes+=("cpuset $path (lb $lb, cpus $cpus) is not ours and new or made again") ;;
		esac
	done < <(nh_cpusets | nh_node_classify)
	for path in "${!before[@]}"; do
		[ -n "${seen[$path]:-}" ] || nh_node_is_ours "$path" ||
			notes+=("cpuset $path (not ours) went away during the test")
	done
	local state
	state=$(nh_assert_no_state 2>&1) || problems+=("$state")
	if [ ${#problems[@]} -eq 0 ]; then
		[ ${#notes[@]} -eq 0 ] || printf '# not judged: %s\n' "${notes[@]}" >&3
		return 0
	fi
	nh_fail "the node is not as before the test:" "${problems[@]/#/  }" "${notes[@]/#/  note: }"
}

# ---------------------------------------------------------------------------------------------
# The balancing probe: is CPU 1 in a sched domain with CPU 0?
#
# Where the kernel has /proc/schedstat (CONFIG_SCHEDSTATS), its domain spans answer directly:
# CPU 1 balanced with CPU 0 has a domain whose span holds CPU 0; isolated, it has none. Where it
# has not (Debian's cloud kernel here: no schedstat, and debugfs' sched domains are locked
# down), behaviour answers: two busy loops start pinned to CPU 0 and are then allowed on CPUs
# 0-1. Balanced: the load balancer moves one to CPU 1 within about a second (se.nr_migrations
# grows). Not balanced: both stay on CPU 0. A foreign process busy on CPU 1 can hold them back
# too, so the probe also measures how busy CPU 1 was (/proc/stat) while the loops stayed.

# Sets NH_PROBE_SPANS to "cpu0:MASK cpu1:MASK|none" (the widest domain of each CPU) from
# /proc/schedstat; returns 1 where the kernel has none.
nh_sched_spans() {
	local ver=0 a b c rest cpu='' m
	declare -A span=()
	NH_PROBE_SPANS=
	[ -r /proc/schedstat ] || return 1
	while read -r a b c rest; do
		case $a in
		version) ver=$b ;;
		cpu[0-9]*) cpu=$a span[$a]=none ;;
		domain[0-9]*)
			[ -n "$cpu" ] || continue
			if ((ver >= 17)); then m=$c; else m=$b; fi
			span[$cpu]=$m
			;;
		esac
	done </proc/schedstat
	NH_PROBE_SPANS="cpu0:${span[cpu0]:-none} cpu1:${span[cpu1]:-none}"
}

# nh_probe SECONDS [--watch]: sets NH_PROBE to "spreads" or "stays", NH_PROBE_LOG to what it saw
# (one line), NH_PROBE_CPU1_BUSY to how busy CPU 1 was, in percent, while the loops ran (others'
# work when the loops stayed on CPU 0; behaviour only, 0 with spans). The loops: started pinned
# to CPU 0, awaited until each runs the loop itself with that affinity, widened to 0-1, awaited
# until Cpus_allowed_list shows 0-1; then sampled every 0.1 s for up to SECONDS (field 39 of
# /proc/PID/stat, the CPU it last ran on, and se.nr_migrations). With --watch, NH_PROBE_FOREIGN
# collects, at every sample, the foreign cpusets balancing CPU 1 (others' cpusets come and go
# within a probe). Returns 1 (a failure, said why) if the loops could not be set up.
nh_probe() {
	local secs=$1 watch=${2:-}
	NH_PROBE='' NH_PROBE_LOG='' NH_PROBE_CPU1_BUSY=0 NH_PROBE_FOREIGN=
	if nh_sched_spans; then
		local s1=${NH_PROBE_SPANS#*cpu1:}
		NH_PROBE=stays
		[ "$s1" != none ] && (((0x${s1//,/} & 1) == 1)) && NH_PROBE=spreads
		NH_PROBE_LOG="/proc/schedstat domain spans: $NH_PROBE_SPANS"
		return 0
	fi
	local pids=() p i t
	for i in 1 2; do
		(
			[ -z "${NH_NODE_LOCK_FD:-}" ] || exec {NH_NODE_LOCK_FD}>&-
			exec taskset -c 0 sh -c 'while :; do :; done'
		) &
		pids+=($!)
		echo $! >>"$NH_T/.pids"
	done
	# The loop's own affinity must be in place before the widening, or taskset's would land
	# after it and keep the loop pinned: a "stays" that proves nothing.
	nh_probe_await "${pids[*]}" 0 || return 1
	for p in "${pids[@]}"; do
		taskset -pc 0-1 "$p" >/dev/null || { nh_probe_kill "${pids[@]}"; nh_fail "taskset -pc 0-1 $p failed"; return 1; }
	done
	nh_probe_await "${pids[*]}" 0-1 || return 1
	local m0=() stat f cpu line samples=() busy0 busy1
	for p in "${pids[@]}"; do m0+=("$(nh_migrations "$p")"); done
	busy0=$(nh_cpu1_times)
	NH_PROBE=stays
	local steps=$((secs * 10))
	for ((t = 1; t <= steps; t++)); do
		sleep 0.1
		[ -z "$watch" ] || NH_PROBE_FOREIGN+=$(nh_foreign_balanced_on_cpu1)
		line=
		for i in 0 1; do
			p=${pids[$i]}
			stat=$(<"/proc/$p/stat")
			read -ra f <<<"${stat##*) }"
			cpu=${f[36]} # field 39 of /proc/PID/stat; f[0] is field 3
			line+="${line:+/}$cpu"
			[ "$cpu" = 0 ] || NH_PROBE=spreads
		done
		samples+=("$line")
		[ "$NH_PROBE" = spreads ] && break
	done
	busy1=$(nh_cpu1_times)
	local migr=()
	for i in 0 1; do
		migr+=("$(($(nh_migrations "${pids[$i]}") - m0[i]))")
		[ "${migr[$i]}" = 0 ] || NH_PROBE=spreads
	done
	nh_probe_kill "${pids[@]}"
	local bt=$((${busy1% *} - ${busy0% *})) tt=$((${busy1#* } - ${busy0#* }))
	[ "$tt" -gt 0 ] && NH_PROBE_CPU1_BUSY=$((100 * bt / tt))
	NH_PROBE_LOG="no /proc/schedstat on this kernel: behavioural probe: $NH_PROBE after $((t > steps ? steps : t)) samples of 0.1 s (CPU of each loop: ${samples[*]}; migrations since widening: ${migr[*]}"
	# While the loops stayed on CPU 0, whatever ran on CPU 1 was someone else's.
	[ "$NH_PROBE" = spreads ] || NH_PROBE_LOG+="; CPU 1 busy with other work: $NH_PROBE_CPU1_BUSY%"
	NH_PROBE_LOG+=")"
}

# nh_probe_await "PIDS" LIST: waits (10 s at most) until each loop of PIDS runs the loop itself
# (not the subshell, not taskset) with Cpus_allowed_list LIST; fails, loops killed, if not.
nh_probe_await() {
	local p key val args ready deadline=$((SECONDS + 10))
	for p in $1; do
		while :; do
			ready=
			args=()
			mapfile -d '' args 2>/dev/null <"/proc/$p/cmdline"
			if [ ${#args[@]} -gt 0 ] && [ "${args[-1]}" = 'while :; do :; done' ]; then
				while IFS=$':\t' read -r key val; do
					[ "$key" = Cpus_allowed_list ] && [ "$val" = "$2" ] && ready=1
				done <"/proc/$p/status"
			fi
			[ -n "$ready" ] && break
			if ! kill -0 "$p" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
				# shellcheck disable=SC2086 # a list of pids
				nh_probe_kill $1
				nh_fail "probe: busy loop $p never ran with Cpus_allowed_list $2"
				return 1
			fi
			sleep 0.01
		done
	done
}

nh_probe_kill() {
	kill -9 "$@" 2>/dev/null || true
	wait "$@" 2>/dev/null || true
}

nh_migrations() {
	awk '/^se.nr_migrations/ {print $3}' "/proc/$1/sched"
}

# "BUSY TOTAL" jiffies of CPU 1 from /proc/stat (busy: all but idle and iowait).
nh_cpu1_times() {
	awk '$1 == "cpu1" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6 " " t}' /proc/stat
}

# nh_probe_must_spread WHEN: with nothing isolated, the probe must spread (two tries of 3 s: a
# loaded host can keep both loops on CPU 0 for a while). If it stays while other work kept CPU 1
# at least half busy, the host is too busy for the probe to mean anything: skips, the samples in
# the reason. If it stays with CPU 1 idle, CPU 1 is not balanced: fails.
nh_probe_must_spread() {
	local when=$1 first busy
	nh_probe 3 || return 1
	if [ "$NH_PROBE" = spreads ]; then
		echo "# probe, $when: $NH_PROBE_LOG" >&3
		return 0
	fi
	first=$NH_PROBE_LOG busy=$NH_PROBE_CPU1_BUSY
	nh_probe 3 || return 1
	if [ "$NH_PROBE" = spreads ]; then
		echo "# probe, $when: first try: $first; second: $NH_PROBE_LOG" >&3
		return 0
	fi
	[ "$NH_PROBE_CPU1_BUSY" -gt "$busy" ] && busy=$NH_PROBE_CPU1_BUSY
	if [ "$busy" -ge 50 ]; then
		skip "host too busy for the balancing probe ($when): other work kept CPU 1 busy ($busy%); two tries: $first || $NH_PROBE_LOG"
	fi
	nh_fail "$when: CPU 1 is not load-balanced with CPU 0, although nothing of ours isolates it and it was idle:" \
		"  $first" "  $NH_PROBE_LOG"
}
