# Helpers for the hook-*.bats suites: `nodehook hook` installed through hooks.d files, run by the
# real runc, acting on this node's cgroup v1 cpuset hierarchy (machine.md). Load after
# lib/common.
#
# Rules, on top of lib/common's:
# - One suite at a time changes the cpuset tree: nh_hook_setup takes an exclusive flock on
#   $NH_SCRATCH/.node-cpuset.lock for the whole test, the lock lib/hook-node.bash takes too (the
#   gcc and clang runs, or two developers, would otherwise see each other's isolation).
#   Runtimes and background processes run with its fd closed, so that nothing outlives the test
#   holding it.
# - Setup snapshots every cpuset (path, sched_load_balance, cpus); nh_assert_node_restored
#   compares against it. Teardown deletes the test's containers by id, runs `nodehook restore
#   --all` on the test's state dir, and, as a last resort, turns back on the flags the test's
#   ledger had turned off and removes the housekeeping cpuset it made, saying so on fd 3 (it
#   means a test left the node changed). It writes nothing its own ledger does not name: others
#   may be at work on this node.
# - The state dir is on a tmpfs (/dev/shm/nh-*), as /run is not one here.
# - Bundles share one copy of the busybox rootfs (root.path is absolute; the root is read-only),
#   and one bundle serves any number of containers: runc writes nothing into it.

NH_CS=/sys/fs/cgroup/cpuset
NH_HOUSEKEEPING=/nodehook-housekeeping
NH_LB_ANNOTATION='cpu-load-balancing.nodehook.io'

# Skips unless this node can run the suite: root, runc, jq, taskset, a cgroup v1 cpuset
# hierarchy at $NH_CS, CPUs 0 and 1 online.
nh_hook_require() {
	nh_require_root
	nh_require_cmds runc jq taskset
	[ -f "$NH_CS/cpuset.sched_load_balance" ] ||
		skip "no cgroup v1 cpuset hierarchy at $NH_CS (this suite needs the v1 backend)"
	local online
	online=$(cat /sys/devices/system/cpu/online)
	case $online in
	0-*) ;;
	*) skip "CPUs 0 and 1 must be online (online: $online)" ;;
	esac
}

# Per-CPU-tree lock, tmpfs state dir, node config, snapshot, shared rootfs.
nh_hook_setup() {
	nh_hook_require
	nh_setup
	mkdir -p "$NH_SCRATCH"
	exec {NH_NODE_LOCK_FD}>>"$NH_SCRATCH/.node-cpuset.lock"
	local t0=$SECONDS
	flock -w 300 "$NH_NODE_LOCK_FD" ||
		nh_fail "another suite has held $NH_SCRATCH/.node-cpuset.lock for 300 s" || return 1
	[ $((SECONDS - t0)) -lt 2 ] || echo "# waited $((SECONDS - t0)) s for the node lock" >&3
	# Suites that do not take the lock may be isolating CPUs right now: give them 20 s. (Flags
	# someone else turned off are fine: they are in the snapshot, and the tests compare with it.)
	local i
	for ((i = 0; i < 100; i++)); do
		[ ! -d "$NH_CS$NH_HOUSEKEEPING" ] && break
		sleep 0.2
	done
	[ $i -lt 10 ] || echo "# waited $((i / 5)) s for another isolation to end" >&3
	if [ $i -eq 100 ]; then
		NH_NODE_BUSY=1
		skip "$NH_HOUSEKEEPING exists: another nodehook is isolating CPUs on this node; not touching it"
	fi
	NH_STATE_BASE=$(mktemp -d /dev/shm/nh-XXXXXXXX)
	NH_STATE=$NH_STATE_BASE/state
	printf '{"state_dir": "%s"}\n' "$NH_STATE" >"$NH_T/config.json"
	export NODEHOOK_CONFIG=$NH_T/config.json
	nh_cpuset_snapshot >"$NH_T/cpusets.before"
	NH_BASE=$NH_T/base
	nh_bundle "$NH_BASE" || return 1
	: >"$NH_T/.pids"
}

nh_hook_teardown() {
	local pid
	if [ -n "${NH_T:-}" ] && [ -f "$NH_T/.pids" ]; then
		while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$NH_T/.pids"
	fi
	if [ -z "${NH_NODE_BUSY:-}" ] && [ -n "${NH_T:-}" ] && [ -f "$NH_T/cpusets.before" ]; then
		nh_ledger_changes >"$NH_T/.changed"
		local rt id
		while read -r rt id; do
			"$rt" delete -f "$id" >/dev/null 2>&1 {NH_NODE_LOCK_FD}>&- || true
		done <"$NH_T/.containers"
		: >"$NH_T/.containers"
		nh_ledger_changes >>"$NH_T/.changed"
		"$NODEHOOK_BIN" restore --all >/dev/null 2>&1 || true
		nh_node_force_restore "$NH_T/.changed"
	fi
	[ -n "${NH_STATE_BASE:-}" ] && rm -rf "$NH_STATE_BASE"
	nh_teardown
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		exec {NH_NODE_LOCK_FD}>&-
		unset NH_NODE_LOCK_FD
	fi
}

# What the test's ledger says nodehook changed: "lb CGROUP" lines, and "hk CGROUP".
nh_ledger_changes() {
	[ -n "${NH_STATE:-}" ] && [ -f "$NH_STATE/cpuset-v1.json" ] || return 0
	jq -r '(.changed[]? | "lb " + .cgroup), (.housekeeping // empty | "hk " + .)' \
		"$NH_STATE/cpuset-v1.json" 2>/dev/null || true
}

# nh_node_force_restore CHANGES: the last resort after a failed test, limited to what the test's
# own ledger said it changed (the node is shared: other suites' settings are not ours to write):
# a listed cpuset that the snapshot had balanced and that is off now is turned back on; a listed
# housekeeping cpuset is removed. Says so on fd 3.
nh_node_force_restore() {
	local kind cg snap_lb now
	sort -u "$1" | while read -r kind cg; do
		if [ "$kind" = hk ]; then
			[ -d "$NH_CS$cg" ] || continue
			echo "# teardown: removing $cg, left behind" >&3
			rmdir "$NH_CS$cg" || true
			continue
		fi
		snap_lb=$(awk -v p="${cg%/}/" '$1 == p {print $2}' "$NH_T/cpusets.before")
		now=$(cat "$NH_CS${cg%/}/cpuset.sched_load_balance" 2>/dev/null) || continue
		if [ "$snap_lb" = 1 ] && [ "$now" = 0 ]; then
			echo "# teardown: $cg sched_load_balance left at 0, writing back 1" >&3
			echo 1 >"$NH_CS${cg%/}/cpuset.sched_load_balance" || true
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# Node state.

# Prints "PATH/ LB CPUS INODE" for every cpuset, sorted by path (the root is "/"). The inode
# tells a cpuset someone else removed and created again under the same name from the original.
nh_cpuset_snapshot() {
	local ino d lb cpus
	find "$NH_CS" -type d -printf '%i %p\n' 2>/dev/null | sort -k2 | while read -r ino d; do
		read -r lb 2>/dev/null <"$d/cpuset.sched_load_balance" || continue
		read -r cpus 2>/dev/null <"$d/cpuset.cpus" || cpus=
		printf '%s %s %s %s\n' "${d#"$NH_CS"}/" "$lb" "${cpus:--}" "$ino"
	done
}

# Whether a cpuset path is one a test of this run made (its containers, the housekeeping set).
nh_is_ours() {
	case $1 in
	"$NH_HOUSEKEEPING"/ | /nh-"$NH_SUFFIX"-*) return 0 ;;
	*) return 1 ;;
	esac
}

# nh_classify_cpusets: reads a snapshot on stdin and prints each line prefixed with how a test
# judges it: "snap" (the same cpuset as in the setup snapshot), "ours" (made by this test or by
# nodehook for it), or "foreign" (someone else made it, or made it again, during the test: others
# on this node do not run our guard, so their cpusets are named, never judged).
nh_classify_cpusets() {
	local path lb cpus ino
	declare -A before
	while read -r path lb cpus ino; do before[$path]=$ino; done <"$NH_T/cpusets.before"
	while read -r path lb cpus ino; do
		if nh_is_ours "$path"; then
			echo "ours $path $lb $cpus"
		elif [ "${before[$path]:-}" = "$ino" ]; then
			echo "snap $path $lb $cpus"
		else
			echo "foreign $path $lb $cpus"
		fi
	done
}

# nh_assert_node_restored: the node is exactly as in setup: every cpuset of the snapshot has its sched_load_balance and
# cpus back, no cpuset of ours is left, and the state dir holds no ledger and no record.
# Cpusets that others created, recreated or removed meanwhile are not judged (named on failure).
nh_assert_node_restored() {
	nh_assert_node_restored_but "$@"
}

# nh_assert_node_restored_but [PATH...]: the same, except that the cpusets PATH ("/nh-.../") of
# containers that still run may be there (their flags are not judged).
nh_assert_node_restored_but() {
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
			[ -n "${allowed[$path]+x}" ] || problems+=("cpuset $path is still there")
			;;
		*) notes+=("cpuset $path (lb $lb, cpus $cpus) is not ours and new or made again") ;;
		esac
	done < <(nh_cpuset_snapshot | nh_classify_cpusets)
	for path in "${!before[@]}"; do
		[ -n "${seen[$path]+x}" ] || notes+=("cpuset $path (not ours) went away during the test")
	done
	[ -e "$NH_STATE/cpuset-v1.json" ] && problems+=("ledger left: $(tr -d '\n\t' <"$NH_STATE/cpuset-v1.json")")
	local rec
	for rec in "$NH_STATE"/containers/*.json; do
		[ -e "$rec" ] && problems+=("record left: $rec")
	done
	[ ${#problems[@]} -eq 0 ] && return 0
	nh_fail "the node is not as before the test:" "${problems[@]/#/  }" "${notes[@]/#/  note: }"
}

# nh_lb LB_PATH: the sched_load_balance of a cpuset ("/" or "/nh-...").
nh_lb() {
	cat "$NH_CS${1%/}/cpuset.sched_load_balance"
}

# The cpusets of the snapshot whose cpus include CPU 1 (the ones isolation must turn off).
nh_snapshot_paths_on_cpu1() {
	local path lb cpus ino
	while read -r path lb cpus ino; do
		nh_is_ours "$path" && continue
		if nh_cpulist_has "$cpus" 1; then echo "$path"; fi
	done <"$NH_T/cpusets.before"
}

# nh_cpulist_has LIST CPU: LIST is a kernel CPU list ("0-3,8"), or "-" for none.
nh_cpulist_has() {
	local item lo hi items
	[ "$1" = - ] && return 1
	IFS=, read -ra items <<<"$1"
	for item in "${items[@]}"; do
		lo=${item%-*} hi=${item#*-}
		[ "$2" -ge "$lo" ] && [ "$2" -le "$hi" ] && return 0
	done
	return 1
}

# Foreign cpusets (see nh_classify_cpusets) that are balanced and cover CPU 1: while one exists,
# CPU 1 is balanced whatever nodehook does, and the behavioural probe cannot judge it.
nh_foreign_balanced_on_cpu1() {
	local kind path lb cpus
	nh_cpuset_snapshot | nh_classify_cpusets | while read -r kind path lb cpus; do
		if [ "$kind" = foreign ] && [ "$lb" = 1 ] && nh_cpulist_has "$cpus" 1; then
			echo "$path (cpus $cpus)"
		fi
	done
}

# Every cpuset that covers CPU 1 has sched_load_balance 0 (the housekeeping set aside), and the
# housekeeping set holds CPU 0 only, balanced. Judges the cpusets of the setup snapshot and ours;
# foreign ones are only named on failure. Checks what is there now, so call it when none of our
# containers is being created (a new cpuset is balanced until its createRuntime hook ran).
nh_assert_cpu1_isolated() {
	local kind path lb cpus bad=() notes=()
	while read -r kind path lb cpus; do
		[ "$path" = "$NH_HOUSEKEEPING/" ] && continue
		if ! nh_cpulist_has "$cpus" 1 || [ "$lb" = 0 ]; then continue; fi
		if [ "$kind" = foreign ]; then
			notes+=("$path (cpus $cpus, not ours, new or made again during the test) has sched_load_balance $lb")
		else
			bad+=("$path (cpus $cpus) has sched_load_balance $lb")
		fi
	done < <(nh_cpuset_snapshot | nh_classify_cpusets)
	if [ -d "$NH_CS$NH_HOUSEKEEPING" ]; then
		[ "$(cat "$NH_CS$NH_HOUSEKEEPING/cpuset.cpus")" = 0 ] &&
			[ "$(nh_lb "$NH_HOUSEKEEPING")" = 1 ] ||
			bad+=("$NH_HOUSEKEEPING: cpus $(cat "$NH_CS$NH_HOUSEKEEPING/cpuset.cpus"), lb $(nh_lb "$NH_HOUSEKEEPING")")
	else
		bad+=("no $NH_HOUSEKEEPING")
	fi
	[ ${#bad[@]} -eq 0 ] && return 0
	nh_fail "CPU 1 is not isolated:" "${bad[@]/#/  }" "${notes[@]/#/  note: }"
}

# ---------------------------------------------------------------------------------------------
# hooks.d files and bundles.

# nh_nodehook_hooks DIR [--crash-at N] [--no-poststop] [--always]: writes DIR/createRuntime.json
# and DIR/poststop.json running `nodehook hook` for containers annotated cpu-load-balancing.*
# (createRuntime for every container with --always, so that the guard runs; no poststop file
# with --no-poststop). --crash-at puts NODEHOOK_TEST_CRASH_AT=N in the createRuntime hook's env.
nh_nodehook_hooks() {
	local dir=$1 crash='' poststop=1 always=
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--crash-at) crash=", \"NODEHOOK_TEST_CRASH_AT=$2\"" && shift ;;
		--no-poststop) poststop= ;;
		--always) always=1 ;;
		*) nh_fail "nh_nodehook_hooks: unknown option $1" || return 1 ;;
		esac
		shift
	done
	local annotated='{"annotations": {"^cpu-load-balancing\\.[^/]+(/.*)?$": ".*"}}'
	local when=$annotated
	[ -n "$always" ] && when='{"always": true}'
	mkdir -p "$dir"
	rm -f "$dir"/*.json
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "createRuntime"], "env": ["NODEHOOK_CONFIG=%s"%s]}, "when": %s, "stages": ["createRuntime"]}\n' \
		"$NODEHOOK_BIN" "$NODEHOOK_CONFIG" "$crash" "$when" >"$dir/createRuntime.json"
	if [ -n "$poststop" ]; then
		printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "poststop"], "env": ["NODEHOOK_CONFIG=%s"]}, "when": %s, "stages": ["poststop"]}\n' \
			"$NODEHOOK_BIN" "$NODEHOOK_CONFIG" "$annotated" >"$dir/poststop.json"
	fi
}

# nh_lb_bundle DIR CPUS ANNOTATED(yes|no) HOOKS_DIR: a bundle running `sleep 300` on the shared
# rootfs, pinned to CPUS, with or without the annotation, hooks injected from HOOKS_DIR.
nh_lb_bundle() {
	local dir=$1 cpus=$2 annotated=$3 hooks=$4 ann='{}'
	[ "$annotated" = yes ] && ann="{\"$NH_LB_ANNOTATION\": \"disable\"}"
	mkdir -p "$dir"
	jq --arg root "$NH_BASE/rootfs" --arg cpus "$cpus" --argjson ann "$ann" \
		'.root.path = $root | .process.args = ["sleep", "300"]
		| .linux.resources.cpu = {cpus: $cpus, mems: "0"} | .annotations = $ann' \
		"$NH_BASE/config.json" >"$dir/config.template.json" || return 1
	nh_bundle_rehook "$dir" "$hooks"
}

# nh_bundle_rehook DIR HOOKS_DIR: config.json = the template + the hooks HOOKS_DIR gives it.
nh_bundle_rehook() {
	cp "$1/config.template.json" "$1/config.json"
	"$NODEHOOK_BIN" hooks inject --bundle "$1" --hooks-dir "$2" --no-cache
}

# nh_runc_start create|run ID BUNDLE: runc create or run -d, the id recorded for teardown first.
nh_runc_start() {
	local verb=$1 id=$2 bundle=$3
	echo "runc $id" >>"$NH_T/.containers"
	# The container keeps runc's stdio: a file, never the caller's pipe (bats' run would wait
	# for the container to exit). runc's own errors are passed on from it.
	local err=$NH_T/$id.stdio rc=0
	if [ "$verb" = run ]; then
		runc run -d --bundle "$bundle" "$id" </dev/null >"$err" 2>&1 {NH_NODE_LOCK_FD}>&- || rc=$?
	else
		runc create --bundle "$bundle" "$id" </dev/null >"$err" 2>&1 {NH_NODE_LOCK_FD}>&- || rc=$?
	fi
	[ $rc -eq 0 ] || cat "$err" >&2
	return $rc
}

nh_runc_status() {
	runc state "$1" 2>/dev/null | jq -r .status
}

# ---------------------------------------------------------------------------------------------
# The balancing probe (machine.md, "Observing CPU load balancing here"): two busy loops start on
# CPU 0 and are then allowed on CPUs 0-1. Balanced: one moves to CPU 1 within about a second.
# Not balanced: both stay on CPU 0.

# nh_probe SECONDS [WATCH_FILE]: prints "spread AFTER_S" as soon as a loop runs on CPU 1, or
# "stayed" when none did within SECONDS and neither migrated since the widening
# (se.nr_migrations, which also catches a trip to CPU 1 and back between two samples). With
# WATCH_FILE, appends to it at every sample the foreign cpusets that balance CPU 1
# (nh_foreign_balanced_on_cpu1): others' cpusets come and go within a probe. The loops are
# killed before it returns.
nh_probe() {
	local secs=$1 watch=${2:-} pids=() p i cpu result=stayed m0=() stat f
	for i in 1 2; do
		taskset -c 0 sh -c 'while :; do :; done' {NH_NODE_LOCK_FD}>&- &
		pids+=($!)
		echo $! >>"$NH_T/.pids"
	done
	sleep 0.3
	for p in "${pids[@]}"; do
		taskset -pc 0-1 "$p" >/dev/null
		m0+=("$(nh_migrations "$p")")
	done
	[ -z "$watch" ] || nh_foreign_balanced_on_cpu1 >>"$watch"
	local steps=$((secs * 10)) t
	for ((t = 1; t <= steps; t++)); do
		sleep 0.1
		[ -z "$watch" ] || nh_foreign_balanced_on_cpu1 >>"$watch"
		for p in "${pids[@]}"; do
			stat=$(<"/proc/$p/stat")
			read -ra f <<<"${stat##*) }"
			cpu=${f[36]} # field 39 of /proc/PID/stat; f[0] is field 3
			if [ "$cpu" = 1 ]; then
				result="spread $((t / 10)).$((t % 10))"
				break 2
			fi
		done
	done
	if [ "$result" = stayed ]; then
		for i in 0 1; do
			local m
			m=$(nh_migrations "${pids[$i]}")
			[ "$m" = "${m0[$i]}" ] || result="spread $secs (no sample on CPU 1, but loop $i migrated $((m - m0[i])) times)"
		done
	fi
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	echo "$result"
}

nh_migrations() {
	awk '/^se.nr_migrations/ {print $3}' "/proc/$1/sched"
}
