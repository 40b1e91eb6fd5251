# Helpers for the runtime-*.bats suites (nodehook-runtime, the runc/crun wrapper). Load after
# lib/common.
#
# - nh_rt_setup makes $W, a symlink named nodehook-runtime to $NODEHOOK_BIN (the wrapper is chosen
#   by that argv[0]), and $NODEHOOK_CONFIG, a node config with its own state dir ($STATE) and
#   hooks dir ($NH_T/hooks.d).
# - Tests that let nodehook isolate CPUs take the node's cpuset lock first
#   ($NH_SCRATCH/.node-cpuset.lock, flock: the hook and containerd suites take the same one), and
#   snapshot every cpuset; teardown gives back any flag still changed (nh_rt_node_teardown).
#   Runtimes and daemons run with the lock's fd closed (nh_rt_nolock), so that nothing outlives
#   the test holding it.

NH_CS=/sys/fs/cgroup/cpuset

# nh_rt_setup: $W, $STATE, and a node config naming /usr/bin/runc (nh_rt_node_config to change it).
nh_rt_setup() {
	mkdir -p "$NH_T/bin" "$NH_T/hooks.d" "$NH_T/cap"
	W=$NH_T/bin/nodehook-runtime
	ln -s "$NODEHOOK_BIN" "$W"
	STATE=$NH_T/state
	nh_rt_node_config /usr/bin/runc
}

# nh_rt_node_config RUNTIME: the node config names RUNTIME, $STATE and $NH_T/hooks.d.
nh_rt_node_config() {
	printf '{"state_dir": "%s", "hooks_dirs": ["%s"], "runtime": "%s"}\n' \
		"$STATE" "$NH_T/hooks.d" "$1" >"$NH_T/node.json"
	export NODEHOOK_CONFIG=$NH_T/node.json
}

# nh_rt_nodehook_hooks NAME...: nodehook's own hooks.d files (deploy/hooks.d/NAME.json.in, e.g.
# nodehook-createruntime), pointing at $NODEHOOK_BIN, into $NH_T/hooks.d.
nh_rt_nodehook_hooks() {
	local n
	for n in "$@"; do
		sed "s|@BINDIR@/nodehook|$NODEHOOK_BIN|" "$NH_REPO/deploy/hooks.d/$n.json.in" \
			>"$NH_T/hooks.d/$n.json"
	done
}

# nh_rt_cap NAME CMD...: runs CMD (stdin /dev/null), keeps its stdout, stderr and exit status in
# $NH_T/cap/NAME.{out,err,rc}. Files, not bats' run: a created container holds the stdout of
# `create` until it starts, and a pipe would block.
nh_rt_cap() {
	local n=$1 rc=0
	shift
	"$@" >"$NH_T/cap/$n.out" 2>"$NH_T/cap/$n.err" </dev/null || rc=$?
	echo "$rc" >"$NH_T/cap/$n.rc"
}

# nh_rt_wait_for CMD...: retries CMD for up to 5 s.
nh_rt_wait_for() {
	local i
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.05
	done
	nh_fail "timed out waiting for: $*"
}

# ---------------------------------------------------------------------------------------------
# The node's cpusets.

# Skips unless CPU 1 can be isolated here; takes the lock, waits up to 20 s for any other
# nodehook's housekeeping cpuset to go (skips if it stays), snapshots the cpusets into
# $NH_T/cpusets.before.
nh_rt_node_lock() {
	[ -f "$NH_CS/cpuset.sched_load_balance" ] || skip "no cgroup v1 cpuset hierarchy at $NH_CS"
	case $(cat /sys/devices/system/cpu/online) in
	0-*) ;;
	*) skip "CPUs 0 and 1 must be online" ;;
	esac
	exec {NH_NODE_LOCK_FD}>>"$NH_SCRATCH/.node-cpuset.lock"
	flock -w 300 "$NH_NODE_LOCK_FD" ||
		nh_fail "another suite has held $NH_SCRATCH/.node-cpuset.lock for 300 s" || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		[ -d "$NH_CS/nodehook-housekeeping" ] || break
		sleep 0.2
	done
	if [ "$i" -eq 100 ]; then
		nh_rt_node_unlock
		skip "/nodehook-housekeeping exists: another nodehook is isolating CPUs here"
	fi
	nh_rt_cpusets >"$NH_T/cpusets.before"
}

# nh_rt_nolock CMD...: CMD without the lock's fd.
nh_rt_nolock() {
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		"$@" {NH_NODE_LOCK_FD}>&-
	else
		"$@"
	fi
}

nh_rt_node_unlock() {
	if [ -n "${NH_NODE_LOCK_FD:-}" ]; then
		exec {NH_NODE_LOCK_FD}>&-
		unset NH_NODE_LOCK_FD
	fi
}

# For teardown, after the test's containers are gone: gives back every flag of the snapshot that
# differs (saying so on fd 3: a test left the node changed), removes a housekeeping cpuset the test
# left, releases the lock.
nh_rt_node_teardown() {
	[ -n "${NH_NODE_LOCK_FD:-}" ] || return 0
	local path lb cpus now
	if [ -f "$NH_T/cpusets.before" ]; then
		while read -r path lb cpus; do
			now=$(cat "$NH_CS$path/cpuset.sched_load_balance" 2>/dev/null) || continue
			[ "$now" = "$lb" ] && continue
			echo "# teardown: $path sched_load_balance was $now, writing back $lb" >&3
			echo "$lb" >"$NH_CS$path/cpuset.sched_load_balance" || true
		done <"$NH_T/cpusets.before"
		if [ -d "$NH_CS/nodehook-housekeeping" ]; then
			echo "# teardown: removing /nodehook-housekeeping left behind" >&3
			rmdir "$NH_CS/nodehook-housekeeping" || true
		fi
	fi
	nh_rt_node_unlock
}

# "PATH/ LB CPUS" for every cpuset ("/" is the root); those that vanish meanwhile are left out.
nh_rt_cpusets() {
	local d lb cpus
	while read -r d; do
		lb=$(cat "$d/cpuset.sched_load_balance" 2>/dev/null) || continue
		cpus=$(cat "$d/cpuset.cpus" 2>/dev/null) || continue
		printf '%s/ %s %s\n' "${d#"$NH_CS"}" "$lb" "${cpus:--}"
	done < <(find "$NH_CS" -type d 2>/dev/null)
}

# nh_rt_assert_cpu1_isolated CGROUP: CPU 1 is out of load balancing for the container in CGROUP
# (its cpuset path): the root and every cpuset on the way to CGROUP have sched_load_balance 0,
# and the housekeeping cpuset {cpus 0, balanced} keeps CPU 0 balanced. Cpusets of other
# containers, which come and go, are not judged.
nh_rt_assert_cpu1_isolated() {
	local p=$NH_CS part bad=""
	[ "$(cat "$NH_CS/nodehook-housekeeping/cpuset.cpus" 2>/dev/null)" = 0 ] &&
		[ "$(cat "$NH_CS/nodehook-housekeeping/cpuset.sched_load_balance")" = 1 ] ||
		nh_fail "no housekeeping cpuset {cpus 0, balanced}:" "$(nh_rt_cpusets)" || return 1
	for part in "" ${1//\// }; do
		p=$p${part:+/$part}
		[ "$(cat "$p/cpuset.sched_load_balance")" = 0 ] || bad+=" ${p#"$NH_CS"}/"
	done
	[ -z "$bad" ] || nh_fail "CPU 1 still balanced by:$bad" "$(nh_rt_cpusets)"
}

# The cpusets of the snapshot that still exist have their flag back; no housekeeping cpuset.
nh_rt_assert_node_restored() {
	local bad
	bad=$(awk 'FNR == NR { flag[$1] = $2; next }
		($1 in flag) && flag[$1] != $2 { print "  " $1 " was " flag[$1] ", now " $2 }
		$1 == "/nodehook-housekeeping/" { print "  " $1 " left behind" }' \
		"$NH_T/cpusets.before" <(nh_rt_cpusets))
	[ -z "$bad" ] || nh_fail "the cpuset flags are not back to where they were:" "$bad"
}
