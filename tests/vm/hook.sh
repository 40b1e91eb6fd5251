#!/bin/bash
# Guest side of tests/vm/hook.bats: `nodehook hook` as a runc OCI hook on a real kernel with 4
# CPUs. Run by scripts/vm/run KERNEL CG tests/vm/hook.sh [NODEHOOK] (NODEHOOK: the binary the
# hooks run, default the repository's build/). The hooks are set up as by hand: a hooks.d
# directory with nodehook at createRuntime and poststop for containers annotated
# cpu-load-balancing.*, and on cgroup v1 a guard (createRuntime, "always"); `nodehook hooks
# inject` puts them into each busybox bundle; runc runs the bundles. The containers' cgroups
# are /nh-test/<id> or /nh-test/pod/<id>; both parents are made before anything is measured,
# like kubepods and a pod's cgroup on a node.
#
# Every cpuset file nodehook may touch, in every cpuset cgroup, is snapshotted before the
# first container and compared after the last one is deleted. Checks (NHVM-RESULT <cg>.NAME):
#
# cgroup v1 (6.1), and cgroup v2 with remote partitions (6.12):
#   iso.*       a container on CPUs 2-3 asking for isolation: cpu2/cpu3 in no sched domain,
#               cpu0/cpu1 span 3; the cpuset files as the backend's design says; a ledger and
#               a record; busy loops in the root spread over 0-1 only, loops in the
#               container's cgroup stay on CPU 2
#   survive.*   a second container, not annotated, no cpuset of its own, started meanwhile:
#               host busy loops running in the root while it starts stay off 2-3 (v1: a known
#               bug, reported as a SKIP, see stray_check); spans unchanged, loops in its cgroup
#               stay off 2-3, the first container's still do not spread. v1 also: the guard
#               turned the new cpuset's balancing off, and a control container started without
#               the guard does merge 2-3 back
#   restore.*   `runc delete` of the first container while the second runs: every span f at
#               once, the second's cpuset as the kernel made it; after the second is deleted
#               too, every cpuset file as before, no housekeeping cpuset, no ledger, no record
#   two.*       containers on CPU 2 and CPU 3 under /nh-test/pod: deleting one gives back its
#               CPU only (in the spans, and on v2 in both ancestors' cpuset.cpus.exclusive, on
#               v1 in the housekeeping cpuset); deleting the other restores everything
# cgroup v2 with remote partitions only (6.12; /nh-test holds exclusive CPU 1 beforehand):
#   conflict.*  the kernel refuses an ancestor's exclusive CPUs (a sibling's cpuset.cpus is
#               within them), or makes the partition invalid (a sibling container's cpuset.cpus
#               overlaps): the start fails with the kernel's reason, exactly rolled back
# cgroup v2 with local partitions only (6.1):
#   refuse.*    the container's start fails with the hook's message naming local partitions;
#               the node is exactly as before
#   log.*       with on_error "log" the container starts, unisolated, and the hook says why
#   local.*     with a node-level partition root as the parent (the setup the refusal asks
#               for), the container becomes an isolated partition, and its deletion restores
#               the node-level setup exactly
# cgroup v2 with remote partitions (6.12), cpu-quota on the unified hierarchy:
#   quota.*     a pod-like cgroup /nh-test/qpod with cpu.max "200000 100000" and a container in it
#               with "100000 100000" (runc writes it), annotated cpu-quota.nodehook.io: disable:
#               both read "max 100000" while it runs (the period kept); after `runc delete`, the
#               pod's is "200000 100000" again, no ledger, no record
# On 6.12 with v1 there is no v1 cpuset: one SKIP that says so.
#
# Values come back through namerefs (nhvm_read VAR FILE), which shellcheck cannot follow, and the
# phases run through `phase NAME FUNCTION`, which it takes for unreachable code.
# shellcheck disable=SC2154,SC2317
# shellcheck source=lib/guest.bash
source "$NHVM_LIB"
shopt -s globstar nullglob

NH=${1:-$NHVM_REPO/build/src/nodehook/nodehook}
ANNOTATION="cpu-load-balancing.nodehook.io"
ALL="cpu0:f cpu1:f cpu2:f cpu3:f"
ISO="cpu0:3 cpu1:3 cpu2:none cpu3:none"
CGROOT=/sys/fs/cgroup
CS=$CGROOT # the cpuset hierarchy: the unified root on v2, its own mount on v1
[ "$NHVM_CG" = v1 ] && CS=$CGROOT/cpuset
W=/tmp/nh
STATE=$W/state
HK=nodehook-housekeeping
IDS=(ctr1 ctr2 ctr3 ctra ctrb blocked wide invalid refused logged local qctr)
export NHVM_RUNC_ROOT=$W/base/rootfs # every bundle shares one busybox root
STRAY=() STRAY_BEFORE='' STRAY_SEEN=0
nhvm_ms T0

if [ ! -x "$NH" ]; then
	nhvm_fail setup.nodehook "$NH is not executable in the guest: build first (ninja -C build)"
	exit 1
fi
if [ "$NHVM_CG" = v1 ] && [ ! -e "$CS/cpuset.cpus" ]; then
	nhvm_skip cpuset "no cgroup v1 cpuset in kernel $NHVM_KRELEASE; the v1 hook tests need 6.1"
	exit 0
fi

# --- helpers -----------------------------------------------------------------------------------

# elapsed VAR: milliseconds since the script started, for the timing lines.
elapsed() {
	local -n _e=$1
	local now
	nhvm_ms now
	_e=$((now - T0))
}

# hook_log: prints, as context lines, what nodehook logged to syslog since the last call.
LOG_SEEN=0
hook_log() {
	local -a l
	local x
	[ -r "$W/syslog" ] || return 0
	mapfile -t -s "$LOG_SEEN" l <"$W/syslog"
	LOG_SEEN=$((LOG_SEEN + ${#l[@]}))
	for x in "${l[@]}"; do [[ $x == *" nodehook["* ]] && nhvm_log "syslog: ${x#* daemon.}"; done
}

# log_has TEXT: syslog holds TEXT (polls briefly: syslogd writes asynchronously).
log_has() {
	local text
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		text=
		[ -r "$W/syslog" ] && IFS= read -rd '' text <"$W/syslog"
		[[ $text == *"$1"* ]] && return 0
		nhvm_sleep 0.1
	done
	return 1
}

# hook_file DIR NAME STAGE CONFIG WHEN: one hooks.d file running nodehook at STAGE.
hook_file() {
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "%s"], "env": ["NODEHOOK_CONFIG=%s"]}, "when": %s, "stages": ["%s"]}\n' \
		"$NH" "$3" "$4" "$5" "$3" >"$1/$2.json"
}

# bundle ID CPUS ANNOTATED HOOKS_DIR [CGROUP]: $W/b/ID, a busybox container that sleeps in
# cgroup CGROUP (default /nh-test/ID), pinned to CPUS ("" for none), asking for isolation if
# ANNOTATED is 1, with the hooks of HOOKS_DIR ("" for none) injected.
bundle() {
	local id=$1 cpus=$2 ann=$3 hooks=$4 cg=${5:-/nh-test/$1} NHVM_RUNC_EXTRA='' e=''
	[ "$ann" = 1 ] && NHVM_RUNC_EXTRA=', "annotations": {"'$ANNOTATION'": "disable"}'
	nhvm_runc_config "$W/b/$id" "$cpus" "$cg" sleep 600
	[ -n "$hooks" ] || return 0
	"$NH" hooks inject --bundle "$W/b/$id" --hooks-dir "$hooks" --no-cache 2>"$NHVM_RUN/inject.err" &&
		return 0
	IFS= read -rd '' e <"$NHVM_RUN/inject.err"
	nhvm_fail "bundle.$id" "nodehook hooks inject: ${e//$'\n'/ }"
	return 1
}

# start NAME ID: `runc run -d` of $W/b/ID; a check of its own (NAME). Sets PID, and RUNC_ERR
# to all runc said on failure. Returns 1 if it failed.
start() {
	local name=$1 id=$2 t0 t1
	RUNC_ERR=''
	nhvm_ms t0
	if ! nhvm_runc_run "$id" "$W/b/$id"; then
		nhvm_ms t1
		IFS= read -rd '' RUNC_ERR <"$NHVM_RUN/runc.err"
		RUNC_MS=$((t1 - t0))
		return 1
	fi
	nhvm_ms t1
	PID=$NHVM_RUNC_PID RUNC_MS=$((t1 - t0))
	[ -n "$name" ] && nhvm_pass "$name" "runc run -d $id: init pid $PID, ${RUNC_MS} ms"
	hook_log
	return 0
}

# hook_error VAR: runc's error after a failed start on one line, without the quoting runc puts
# around a hook's stderr (its "\n" and closing quote).
hook_error() {
	local -n _h=$1
	_h=${RUNC_ERR//$'\n'/ }
	_h=${_h%% }
	_h=${_h%\"}
	_h=${_h%'\n'}
}

# stop NAME ID: `runc delete -f ID` (poststop runs nodehook's undo); a check of its own.
stop() {
	local name=$1 id=$2 t0 t1 rc=0 e=''
	nhvm_ms t0
	"$NHVM_RUNC" delete -f "$id" </dev/null >/dev/null 2>"$NHVM_RUN/delete.err" || rc=$?
	nhvm_ms t1
	IFS= read -rd '' e <"$NHVM_RUN/delete.err"
	hook_log
	if [ "$rc" = 0 ] && [ -z "$e" ] && [ ! -e "/run/runc/$id" ]; then
		nhvm_pass "$name" "runc delete -f $id: $((t1 - t0)) ms"
	else
		nhvm_fail "$name" "runc delete -f $id: exit $rc, stderr '${e%$'\n'}'"
	fi
}

# affinity VAR PID: Cpus_allowed_list of PID.
affinity() {
	local -n _a=$1
	local key val
	_a=''
	while IFS=$':\t' read -r key val; do
		[ "$key" = Cpus_allowed_list ] && _a=$val
	done </proc/"$2"/status
}

# values VAR LABEL:PATH...: "LABEL=<first line of $CS/PATH>" for each, "(absent)" if missing.
values() {
	local -n _o=$1
	local s v
	shift
	_o=''
	for s in "$@"; do
		v='(absent)'
		if [ -e "$CS/${s#*:}" ]; then
			v=''
			IFS= read -r v <"$CS/${s#*:}" || true
		fi
		_o+="${_o:+ }${s%%:*}=$v"
	done
}

# Every file of a cpuset cgroup nodehook may write (or that shows the result of its writes).
if [ "$NHVM_CG" = v1 ]; then
	SNAP_FILES=(cpuset.cpus cpuset.mems cpuset.sched_load_balance cpuset.cpu_exclusive
		cpuset.effective_cpus)
else
	SNAP_FILES=(cgroup.subtree_control cpuset.cpus cpuset.cpus.exclusive cpuset.cpus.partition
		cpuset.cpus.effective cpuset.cpus.exclusive.effective cpuset.cpus.isolated cpuset.mems)
fi

# snapshot VAR: one line per cpuset cgroup, top-down: "/path file=value ...".
snapshot() {
	local -n _s=$1
	local d f v line
	_s=''
	for d in "$CS"/**/; do
		d=${d%/}
		line=${d#"$CS"}
		line=${line:-/}
		for f in "${SNAP_FILES[@]}"; do
			[ -e "$d/$f" ] || continue
			v=''
			IFS= read -r v <"$d/$f" || true
			line+=" ${f#cpuset.}=$v"
		done
		_s+=$line$'\n'
	done
}

# check_snapshot NAME BEFORE: the cpusets now are exactly BEFORE; the detail lists the lines
# that differ (- before, + now).
check_snapshot() {
	local name=$1 before=$2 now l diff=''
	local -a a b
	local -A ina=() inb=()
	snapshot now
	if [ "$now" = "$before" ]; then
		mapfile -t a <<<"${now%$'\n'}"
		nhvm_pass "$name" "${#a[@]} cpusets as before"
		return 0
	fi
	mapfile -t a <<<"${before%$'\n'}"
	mapfile -t b <<<"${now%$'\n'}"
	for l in "${a[@]}"; do [ -n "$l" ] && ina[$l]=1; done
	for l in "${b[@]}"; do [ -n "$l" ] && inb[$l]=1; done
	for l in "${a[@]}"; do [ -z "$l" ] || [ -n "${inb[$l]:-}" ] || diff+=" -[$l]"; done
	for l in "${b[@]}"; do [ -z "$l" ] || [ -n "${ina[$l]:-}" ] || diff+=" +[$l]"; done
	nhvm_fail "$name" "cpusets differ:$diff"
	return 1
}

# log_snapshot LABEL: the cpusets now, as context lines.
log_snapshot() {
	local s l
	local -a a
	snapshot s
	mapfile -t a <<<"${s%$'\n'}"
	for l in "${a[@]}"; do nhvm_log "cpusets $1: $l"; done
}

# left VAR: what nodehook keeps on the node and in its state dir: its v1 housekeeping cpuset,
# its ledgers, its records ("none" when nothing).
left() {
	local -n _l=$1
	local f
	_l=''
	[ -d "$CS/$HK" ] && _l+=" $HK"
	for f in "$STATE"/cpuset-v*.json "$STATE"/containers/*.json; do _l+=" ${f#"$STATE"/}"; done
	_l=${_l# }
	_l=${_l:-none}
}

# log_ledger: the ledger, as a context line.
log_ledger() {
	local f text
	for f in "$STATE"/cpuset-v*.json; do
		IFS= read -rd '' text <"$f"
		text=${text//$'\n'/}
		text=${text//$'\t'/}
		nhvm_log "ledger ${f##*/}: $text"
	done
}

# stray_start: three busy loops in the root cgroup, like host tasks that happen to be running
# when a container starts: pinned to 0-1 (three loops on two CPUs, so one always waits), then
# widened to 0-3 (v2 clips that to the root's effective CPUs). A balancer that can reach an
# idle CPU moves the waiting one there.
stray_start() {
	local p key val ok args
	STRAY=()
	for _ in 1 2 3; do
		taskset -c 0-1 bash -c 'while :; do :; done' &
		STRAY+=($!)
	done
	for p in "${STRAY[@]}"; do
		for _ in {1..100}; do
			ok=0
			args=()
			mapfile -d '' args 2>/dev/null </proc/"$p"/cmdline
			if [ ${#args[@]} -gt 0 ] && [ "${args[-1]}" = 'while :; do :; done' ]; then
				while IFS=$':\t' read -r key val; do
					[ "$key" = Cpus_allowed_list ] && [ "$val" = 0-1 ] && ok=1
				done </proc/"$p"/status
			fi
			[ "$ok" = 1 ] && break
			nhvm_sleep 0.02
		done
		taskset -pc 0-3 "$p" >/dev/null
	done
	stray_where STRAY_BEFORE
}

# stray_where VAR: the CPU each loop last ran on, comma-separated; ORs them into STRAY_SEEN.
stray_where() {
	local -n _w=$1
	local p line
	local -a f
	_w=''
	for p in "${STRAY[@]}"; do
		IFS= read -r line </proc/"$p"/stat
		read -ra f <<<"${line##*) }"
		_w+=${_w:+,}${f[36]}
		STRAY_SEEN=$((STRAY_SEEN | 1 << f[36]))
	done
}

stray_stop() {
	kill -KILL "${STRAY[@]}" 2>/dev/null
	wait "${STRAY[@]}" 2>/dev/null
	STRAY=()
}

# stray_check NAME: samples where the loops run for 0.5 s, stops them: PASS if never on 2-3.
# On v1 the guard works only after runc has made the new container's cpuset, balanced: in
# that window the domains merge and the balancer may move loops onto 2-3, where nothing moves
# them back once the guard has split the domains again. That is a known bug of the v1
# backend: reported here as SKIP "KNOWN BUG: ..." so that the boot still passes on its other
# checks; hook.bats's TODO test of survive.stray makes it a known failure, never a pass.
stray_check() {
	local name=$1 t0 t list where detail
	STRAY_SEEN=0
	nhvm_ms t0
	while :; do
		stray_where where
		nhvm_ms t
		((t - t0 >= 500)) && break
		nhvm_sleep 0.05
	done
	stray_stop
	printf -v list '%x' "$STRAY_SEEN"
	nhvm_mask_to_list list "$list"
	detail="host busy loops (on $STRAY_BEFORE before ctr2 started) were seen on CPUs $list"
	detail+=" in the 0.5 s after, last on $where"
	if ((STRAY_SEEN & 12)); then
		if [ "$mode" = v1 ]; then
			nhvm_skip "$name" "KNOWN BUG: $detail: the new cpuset merged the domains until the guard ran"
		else
			nhvm_fail "$name" "$detail"
		fi
	else
		nhvm_pass "$name" "$detail"
	fi
}

# Deletes what is left of the containers (a failed check may leave some), stops syslogd.
cleanup() {
	local id
	[ ${#STRAY[@]} -gt 0 ] && stray_stop
	for id in "${IDS[@]}"; do nhvm_runc_rm "$id"; done
	[ -n "${SYSLOGD:-}" ] && kill "$SYSLOGD" 2>/dev/null
}
trap cleanup EXIT

# --- the node ----------------------------------------------------------------------------------

dirs=("$W/hooks" "$W/hooks-log")
for id in "${IDS[@]}"; do dirs+=("$W/b/$id"); done
mkdir -p "${dirs[@]}"
/bin/busybox syslogd -n -O "$W/syslog" &
SYSLOGD=$!
printf '{"state_dir": "%s"}\n' "$STATE" >"$W/config.json"
printf '{"state_dir": "%s", "actions": {"cpu-load-balancing": {"on_error": "log"}}}\n' \
	"$STATE" >"$W/config-log.json"
WHEN_ANNOTATED='{"annotations": {"^cpu-load-balancing\\.[^/]+(/.*)?$": ".*"}}'
WHEN_QUOTA='{"annotations": {"^cpu-quota\\.[^/]+(/.*)?$": ".*"}}'
mkdir -p "$W/hooks-quota"
for s in createRuntime poststop; do
	hook_file "$W/hooks" "$s" "$s" "$W/config.json" "$WHEN_ANNOTATED"
	hook_file "$W/hooks-log" "$s" "$s" "$W/config-log.json" "$WHEN_ANNOTATED"
	hook_file "$W/hooks-quota" "$s" "$s" "$W/config.json" "$WHEN_QUOTA"
done
[ "$NHVM_CG" = v1 ] && hook_file "$W/hooks" guard createRuntime "$W/config.json" '{"always": true}'
nhvm_bundle "$W/base" || nhvm_fail setup.bundle "cannot build a busybox root in $W/base"

# The containers' parent, as a node would have it before any container: on v2 with every
# controller runc enables, on v1 with the CPUs and memory runc would copy into it.
if [ "$NHVM_CG" = v2 ]; then
	nhvm_read controllers "$CGROOT/cgroup.controllers"
	enable="+${controllers// / +}"
	if ! nhvm_write "$CGROOT/cgroup.subtree_control" "$enable" || ! mkdir "$CGROOT/nh-test" ||
		! nhvm_write "$CGROOT/nh-test/cgroup.subtree_control" "$enable"; then
		nhvm_fail setup.parent "/nh-test with '$enable': $NHVM_ERR"
	fi
	mode=local
	[ -e "$CGROOT/nh-test/cpuset.cpus.exclusive" ] && mode=remote
	case $NHVM_KERNEL in 6.1) want=local ;; *) want=remote ;; esac
	nhvm_check setup.partitions "$want" "$mode" \
		"cpuset.cpus.exclusive there: remote partitions; absent: local partitions only"
	[ "$mode" = "$want" ] || exit 1
	# Remote partitions: a pod-like level below /nh-test for the two-container case, and an
	# exclusive CPU that /nh-test already holds, which nodehook must add to and give back.
	if [ "$mode" = remote ] && { ! mkdir "$CGROOT/nh-test/pod" ||
		! nhvm_write "$CGROOT/nh-test/pod/cgroup.subtree_control" "$enable" ||
		! nhvm_write "$CGROOT/nh-test/cpuset.cpus.exclusive" 1; }; then
		nhvm_fail setup.parent "/nh-test/pod, /nh-test's cpuset.cpus.exclusive 1: $NHVM_ERR"
	fi
else
	mode=v1
	nhvm_read cpus "$CS/cpuset.cpus"
	nhvm_read mems "$CS/cpuset.mems"
	if ! mkdir "$CS/nh-test" "$CS/nh-test/pod" || ! nhvm_write "$CS/nh-test/cpuset.cpus" "$cpus" ||
		! nhvm_write "$CS/nh-test/cpuset.mems" "$mems" ||
		! nhvm_write "$CS/nh-test/pod/cpuset.cpus" "$cpus" ||
		! nhvm_write "$CS/nh-test/pod/cpuset.mems" "$mems"; then
		nhvm_fail setup.parent "/nh-test and /nh-test/pod with cpus $cpus mems $mems: $NHVM_ERR"
	fi
fi
for _ in 1 2 3 4 5 6 7 8 9 10; do
	[ -S /dev/log ] && break
	nhvm_sleep 0.1
done
[ -S /dev/log ] || nhvm_log "syslogd has no /dev/log: nodehook's log lines will be missing"

nhvm_wait_spans "$ALL"
nhvm_check setup.spans "$ALL" "$NHVM_SPANS" "before any container"
snapshot SNAP0
log_snapshot before
elapsed t
nhvm_log "setup done at ${t} ms"

# --- one isolated container, and another one beside it (v1, v2 remote partitions) -------------

isolate() {
	local got aff cg=$CS/nh-test/ctr1
	bundle ctr1 2-3 1 "$W/hooks"
	if ! start iso.run ctr1; then
		nhvm_fail iso.run "runc run -d ctr1 (annotated, CPUs 2-3): ${RUNC_ERR//$'\n'/ }"
		hook_log
		return 1
	fi
	nhvm_wait_spans "$ISO"
	nhvm_check iso.spans "$ISO" "$NHVM_SPANS" "while ctr1 runs"
	if [ "$mode" = v1 ]; then
		values got root.lb:cpuset.sched_load_balance nh-test.lb:nh-test/cpuset.sched_load_balance \
			ctr1.lb:nh-test/ctr1/cpuset.sched_load_balance "hk.lb:$HK/cpuset.sched_load_balance" \
			"hk.cpus:$HK/cpuset.cpus" "hk.mems:$HK/cpuset.mems"
		nhvm_check iso.cpusets "root.lb=0 nh-test.lb=0 ctr1.lb=0 hk.lb=1 hk.cpus=0-1 hk.mems=0" \
			"$got" "every balanced cpuset over 2-3 off; a balanced housekeeping cpuset over 0-1"
	else
		values got root.effective:cpuset.cpus.effective root.isolated:cpuset.cpus.isolated \
			nh-test.exclusive:nh-test/cpuset.cpus.exclusive \
			ctr1.exclusive:nh-test/ctr1/cpuset.cpus.exclusive \
			ctr1.partition:nh-test/ctr1/cpuset.cpus.partition
		nhvm_check iso.cpusets "root.effective=0-1 root.isolated=2-3 nh-test.exclusive=1-3 ctr1.exclusive=2-3 ctr1.partition=isolated" \
			"$got" "ctr1 a remote isolated partition; /nh-test held 1 before"
	fi
	left got
	nhvm_check iso.state "${HKWANT:+$HKWANT }cpuset-$NHVM_CG.json containers/ctr1.json" "$got" \
		"nodehook's ledger and record"
	log_snapshot during
	log_ledger
	affinity aff "$PID"
	nhvm_check iso.affinity 2-3 "$aff" "Cpus_allowed_list of ctr1's init"
	# Loops in the root: v2 clips their affinity to the root's effective CPUs; on v1 they keep
	# 0-3, and the balancer alone keeps them off 2-3.
	nhvm_probe_check iso.probe-root balanced "$HK_AFFINITY" 0-1 0 0-3
	nhvm_probe_check iso.probe-container unbalanced 2-3 2 -c "$cg" 2 2-3
	return 0
}

survive() {
	local got
	bundle ctr2 "" 0 "$W/hooks"
	stray_start
	if ! start survive.run ctr2; then
		nhvm_fail survive.run "runc run -d ctr2 (not annotated, no cpuset): ${RUNC_ERR//$'\n'/ }"
		stray_stop
		return 1
	fi
	stray_check survive.stray
	nhvm_spans
	nhvm_check survive.spans "$ISO" "$NHVM_SPANS" "ctr1 and ctr2 running"
	if [ "$mode" = v1 ]; then
		values got ctr2.cpus:nh-test/ctr2/cpuset.cpus ctr2.lb:nh-test/ctr2/cpuset.sched_load_balance
		nhvm_check survive.guard "ctr2.cpus=0-3 ctr2.lb=0" "$got" \
			"the guard turned off the new cpuset's balancing"
	else
		values got ctr2.effective:nh-test/ctr2/cpuset.cpus.effective
		nhvm_check survive.cpusets "ctr2.effective=0-1" "$got" \
			"the kernel keeps the partition's CPUs from ctr2"
	fi
	nhvm_probe_check survive.probe-other balanced "$HK_AFFINITY" 0-1 -c "$CS/nh-test/ctr2" 0 0-3
	nhvm_probe_check survive.probe-container unbalanced 2-3 2 -c "$CS/nh-test/ctr1" 2 2-3
	if [ "$mode" = v1 ]; then
		# The control: the same container without the guard hook merges 2-3 back, until it
		# goes. So the guard is what kept them out above.
		bundle ctr3 "" 0 ""
		if start "" ctr3; then
			nhvm_wait_spans "$ALL"
			nhvm_check survive.control "$ALL" "$NHVM_SPANS" \
				"ctr3 started without the guard: its balanced cpuset over 0-3 merges the domains"
			stop survive.control-delete ctr3
			nhvm_wait_spans "$ISO"
			nhvm_check survive.control-gone "$ISO" "$NHVM_SPANS" "ctr3 deleted"
		else
			nhvm_fail survive.control "runc run -d ctr3: ${RUNC_ERR//$'\n'/ }"
		fi
	fi
}

# Deletes ctr1 while ctr2 still runs: every span f at once, and ctr2's cpuset as the kernel
# made it (v1: the guard's change undone too); then ctr2.
release() {
	local got
	stop restore.delete ctr1
	nhvm_wait_spans "$ALL"
	nhvm_check restore.spans-first "$ALL" "$NHVM_SPANS" "ctr1 deleted, ctr2 running"
	if [ -e /run/runc/ctr2 ]; then
		if [ "$mode" = v1 ]; then
			values got ctr2.lb:nh-test/ctr2/cpuset.sched_load_balance
			nhvm_check restore.other ctr2.lb=1 "$got" "the guard's change undone"
		else
			values got ctr2.effective:nh-test/ctr2/cpuset.cpus.effective
			nhvm_check restore.other ctr2.effective=0-3 "$got" "the CPUs back for ctr2"
		fi
		stop restore.delete-other ctr2
	fi
}

restore() { # restore PREFIX: checks that the node is exactly as before any container
	local got
	nhvm_wait_spans "$ALL"
	nhvm_check "$1.spans" "$ALL" "$NHVM_SPANS" "no container left"
	check_snapshot "$1.cpusets" "$SNAP0"
	left got
	nhvm_check "$1.state" none "$got" "housekeeping cpuset, ledger, records"
}

# --- remote partitions: two containers under one parent, and the kernel saying no ---------------

two() {
	local got
	bundle ctra 2 1 "$W/hooks" /nh-test/pod/ctra
	bundle ctrb 3 1 "$W/hooks" /nh-test/pod/ctrb
	if ! start "" ctra || ! start two.run ctrb; then
		nhvm_fail two.run "runc run -d: ${RUNC_ERR//$'\n'/ }"
		return 1
	fi
	nhvm_wait_spans "$ISO"
	nhvm_check two.spans "$ISO" "$NHVM_SPANS" "ctra (CPU 2) and ctrb (CPU 3) running"
	if [ "$mode" = v1 ]; then
		values got root.lb:cpuset.sched_load_balance nh-test.lb:nh-test/cpuset.sched_load_balance \
			pod.lb:nh-test/pod/cpuset.sched_load_balance \
			ctra.lb:nh-test/pod/ctra/cpuset.sched_load_balance \
			ctrb.lb:nh-test/pod/ctrb/cpuset.sched_load_balance "hk.cpus:$HK/cpuset.cpus"
		nhvm_check two.cpusets "root.lb=0 nh-test.lb=0 pod.lb=0 ctra.lb=0 ctrb.lb=0 hk.cpus=0-1" "$got"
	else
		values got root.isolated:cpuset.cpus.isolated \
			nh-test.exclusive:nh-test/cpuset.cpus.exclusive \
			pod.exclusive:nh-test/pod/cpuset.cpus.exclusive \
			ctra.exclusive:nh-test/pod/ctra/cpuset.cpus.exclusive \
			ctra.partition:nh-test/pod/ctra/cpuset.cpus.partition \
			ctrb.exclusive:nh-test/pod/ctrb/cpuset.cpus.exclusive \
			ctrb.partition:nh-test/pod/ctrb/cpuset.cpus.partition
		nhvm_check two.cpusets "root.isolated=2-3 nh-test.exclusive=1-3 pod.exclusive=2-3 ctra.exclusive=2 ctra.partition=isolated ctrb.exclusive=3 ctrb.partition=isolated" "$got"
	fi
	log_ledger
	stop two.delete-first ctra
	nhvm_wait_spans "cpu0:7 cpu1:7 cpu2:7 cpu3:none"
	nhvm_check two.spans-first "cpu0:7 cpu1:7 cpu2:7 cpu3:none" "$NHVM_SPANS" "ctra deleted"
	if [ "$mode" = v1 ]; then
		values got root.lb:cpuset.sched_load_balance nh-test.lb:nh-test/cpuset.sched_load_balance \
			pod.lb:nh-test/pod/cpuset.sched_load_balance \
			ctrb.lb:nh-test/pod/ctrb/cpuset.sched_load_balance "hk.cpus:$HK/cpuset.cpus"
		nhvm_check two.cpusets-first "root.lb=0 nh-test.lb=0 pod.lb=0 ctrb.lb=0 hk.cpus=0-2" "$got" \
			"CPU 2 back in the housekeeping cpuset"
	else
		values got root.isolated:cpuset.cpus.isolated \
			nh-test.exclusive:nh-test/cpuset.cpus.exclusive \
			pod.exclusive:nh-test/pod/cpuset.cpus.exclusive \
			ctrb.exclusive:nh-test/pod/ctrb/cpuset.cpus.exclusive \
			ctrb.partition:nh-test/pod/ctrb/cpuset.cpus.partition
		nhvm_check two.cpusets-first "root.isolated=3 nh-test.exclusive=1,3 pod.exclusive=3 ctrb.exclusive=3 ctrb.partition=isolated" "$got"
	fi
	left got
	nhvm_check two.state-first "${HKWANT:+$HKWANT }cpuset-$NHVM_CG.json containers/ctrb.json" "$got" \
		"ledger, records"
	stop two.delete-second ctrb
	restore two.restore
}

# refused NAME ID WANT: the start of ID failed with nodehook's error containing WANT, rolled
# back: /nh-test and /nh-test/pod hold their old exclusive CPUs, every span f, nothing recorded.
refused() {
	local got name=$1 id=$2
	if start "" "$id"; then
		nhvm_fail "$name" "runc started $id; the kernel should have refused its partition"
		stop "$name.delete" "$id"
		return 1
	fi
	hook_log
	hook_error got
	if [[ $got == *"nodehook: error: id=$id stage=createRuntime: "*"$3"* ]]; then
		nhvm_pass "$name" "runc run -d failed in ${RUNC_MS} ms: ${got##*stderr: }"
	else
		nhvm_fail "$name" "runc did not report the hook's error with '$3': $got"
	fi
	values got nh-test.exclusive:nh-test/cpuset.cpus.exclusive \
		pod.exclusive:nh-test/pod/cpuset.cpus.exclusive
	nhvm_check "$name-rollback" "nh-test.exclusive=1 pod.exclusive=" "$got" "the old values back"
	nhvm_spans
	nhvm_check "$name-spans" "$ALL" "$NHVM_SPANS"
	left got
	nhvm_check "$name-state" none "$got" "ledger, records"
}

# Not tested here, because it breaks the guest: on 6.12.117 a sibling whose cpuset.cpus is
# written to overlap an isolated partition *after* it was made (runc starting an unannotated
# container pinned to 0-3) turns it "isolated invalid" without releasing its CPUs; once that
# cgroup is removed, its CPUs stay in the root's cpuset.cpus.isolated for good and the kernel's
# list of remote partitions is corrupt (kernel BUG at lib/list_debug.c on a later partition).
#
# The kernel refuses twice: a write to an ancestor's cpuset.cpus.exclusive (a sibling of /pod
# has 2-3 as its cpuset.cpus), after /nh-test's was grown; and the partition itself, which reads
# back invalid (a sibling container's cpuset.cpus overlaps 2-3).
conflict() {
	if ! mkdir "$CGROOT/nh-test/other" || ! nhvm_write "$CGROOT/nh-test/other/cpuset.cpus" 2-3; then
		nhvm_fail conflict.setup "/nh-test/other with cpuset.cpus 2-3: $NHVM_ERR"
		return 1
	fi
	bundle blocked 2-3 1 "$W/hooks" /nh-test/pod/blocked
	refused conflict.ancestor blocked \
		"write '2-3' to /sys/fs/cgroup/nh-test/pod/cpuset.cpus.exclusive: Invalid argument"
	rmdir "$CGROOT/nh-test/other"
	bundle wide 0-3 0 "$W/hooks" /nh-test/pod/wide
	bundle invalid 2-3 1 "$W/hooks" /nh-test/pod/invalid
	if start conflict.sibling wide; then
		refused conflict.partition invalid "the kernel did not make /sys/fs/cgroup/nh-test/pod/invalid an isolated partition: Cpu list in cpuset.cpus not exclusive"
		stop conflict.sibling-delete wide
	else
		nhvm_fail conflict.sibling "runc run -d wide (CPUs 0-3): ${RUNC_ERR//$'\n'/ }"
	fi
	restore conflict.restore
}

# --- local partitions only (v2 on 6.1) ---------------------------------------------------------

refuse() {
	local got
	bundle refused 2-3 1 "$W/hooks"
	if start "" refused; then
		nhvm_fail refuse.fails "runc started the container; the hook should have refused it"
		stop refuse.delete refused
		return 1
	fi
	hook_log
	hook_error got
	if [[ $got == *"nodehook: error: id=refused stage=createRuntime: "*"only local partitions"* ]]; then
		nhvm_pass refuse.fails "runc run -d failed in ${RUNC_MS} ms: ${got##*stderr: }"
	else
		nhvm_fail refuse.fails "runc did not report the hook's refusal naming local partitions: $got"
	fi
	got=present
	[ -e /run/runc/refused ] || [ -d "$CGROOT/nh-test/refused" ] || got=gone
	nhvm_check refuse.container gone "$got" "runc state and cgroup of the refused container"
	restore refuse.node
}

logged() {
	local got
	bundle logged 2-3 1 "$W/hooks-log"
	if ! start log.run logged; then
		nhvm_fail log.run "runc run -d with on_error log: ${RUNC_ERR//$'\n'/ }"
		return 1
	fi
	nhvm_spans
	nhvm_check log.spans "$ALL" "$NHVM_SPANS" "the container runs unisolated"
	affinity got "$PID"
	nhvm_check log.affinity 2-3 "$got" "Cpus_allowed_list of its init"
	if log_has 'on_error is "log": the container starts without it' &&
		log_has "only local partitions"; then
		nhvm_pass log.warning "nodehook logged the refusal and that the container starts without it"
	else
		nhvm_fail log.warning "no warning in syslog naming local partitions and on_error \"log\""
	fi
	hook_log
	left got
	nhvm_check log.state none "$got" "nothing recorded for an isolation that did not happen"
	stop log.delete logged
	restore log.restore
}

local_partition() {
	local got before part_spans="cpu0:3 cpu1:3 cpu2:c cpu3:c"
	# The node-level setup: a partition root over 2-3 for the isolated containers' parent.
	if ! mkdir "$CGROOT/nh-part" || ! nhvm_write "$CGROOT/nh-part/cpuset.cpus" 2-3 ||
		! nhvm_write "$CGROOT/nh-part/cpuset.mems" 0 ||
		! nhvm_write "$CGROOT/nh-part/cgroup.subtree_control" "$enable" ||
		! nhvm_write "$CGROOT/nh-part/cpuset.cpus.partition" root; then
		nhvm_fail local.setup "a partition root /nh-part over 2-3: $NHVM_ERR"
		return 1
	fi
	nhvm_wait_spans "$part_spans"
	nhvm_check local.setup "$part_spans" "$NHVM_SPANS" "/nh-part a partition root over 2-3"
	snapshot before
	bundle local 2-3 1 "$W/hooks" /nh-part/local
	if ! start local.run local; then
		nhvm_fail local.run "runc run -d under /nh-part: ${RUNC_ERR//$'\n'/ }"
		return 1
	fi
	nhvm_wait_spans "$ISO"
	nhvm_check local.spans "$ISO" "$NHVM_SPANS" "the container runs"
	values got nh-part.partition:nh-part/cpuset.cpus.partition \
		local.partition:nh-part/local/cpuset.cpus.partition
	nhvm_check local.cpusets "nh-part.partition=root local.partition=isolated" "$got"
	nhvm_probe_check local.probe-container unbalanced 2-3 2 -c "$CGROOT/nh-part/local" 2 2-3
	stop local.delete local
	nhvm_wait_spans "$part_spans"
	nhvm_check local.restore-spans "$part_spans" "$NHVM_SPANS" "back to the node-level setup"
	check_snapshot local.restore-cpusets "$before"
	left got
	nhvm_check local.restore-state none "$got" "ledger, records"
	nhvm_write "$CGROOT/nh-part/cpuset.cpus.partition" member
	rmdir "$CGROOT/nh-part"
}

# --- run ---------------------------------------------------------------------------------------

# --- cpu-quota on the unified hierarchy (6.12) ---------------------------------------------------

quota() {
	local q=$CGROOT/nh-test/qpod got e=''
	if ! mkdir "$q" || ! nhvm_write "$q/cgroup.subtree_control" "$enable" ||
		! nhvm_write "$q/cpu.max" "200000 100000"; then
		nhvm_fail quota.setup "/nh-test/qpod with cpu.max 200000 100000: $NHVM_ERR"
		return 1
	fi
	NHVM_RUNC_EXTRA=', "annotations": {"cpu-quota.nodehook.io": "disable"}' \
		nhvm_runc_config "$W/b/qctr" 2 /nh-test/qpod/qctr sleep 600
	# A quota of one CPU, as the kubelet gives a 1-CPU Guaranteed container.
	sed -i 's/"cpu": {"cpus": "2", "mems": "0"}/"cpu": {"cpus": "2", "mems": "0", "quota": 100000, "period": 100000}/' \
		"$W/b/qctr/config.json"
	if ! "$NH" hooks inject --bundle "$W/b/qctr" --hooks-dir "$W/hooks-quota" --no-cache \
		2>"$NHVM_RUN/inject.err"; then
		IFS= read -rd '' e <"$NHVM_RUN/inject.err"
		nhvm_fail quota.bundle "nodehook hooks inject: ${e//$'\n'/ }"
		return 1
	fi
	if ! start quota.run qctr; then
		hook_error e
		nhvm_fail quota.run "runc run -d qctr: $e"
		return 1
	fi
	nhvm_read got "$q/cpu.max"
	nhvm_check quota.pod "max 100000" "$got" "the pod's cpu.max while it runs"
	nhvm_read got "$q/qctr/cpu.max"
	nhvm_check quota.container "max 100000" "$got" "the container's cpu.max while it runs"
	stop quota.delete qctr
	nhvm_read got "$q/cpu.max"
	nhvm_check quota.restore "200000 100000" "$got" "the pod's cpu.max after"
	got=none
	[ -e "$STATE/cpu-quota.json" ] && got=cpu-quota.json
	[ -e "$STATE/containers/qctr.json" ] && got+=" containers/qctr.json"
	nhvm_check quota.state none "$got" "ledger, record"
	rmdir "$q" 2>/dev/null || true
}

phase() { # phase NAME FUNCTION: runs it and logs how long it took
	local t0 t1
	elapsed t0
	"$2"
	elapsed t1
	nhvm_log "phase $1: $((t1 - t0)) ms (at ${t1} ms)"
}

case $mode in
v1 | remote)
	HKWANT=''
	[ "$mode" = v1 ] && HKWANT=$HK
	HK_AFFINITY=0-1
	[ "$mode" = v1 ] && HK_AFFINITY=0-3
	if phase isolate isolate; then
		phase survive survive
	fi
	[ -e /run/runc/ctr1 ] && phase release release
	restore restore
	phase two two
	[ "$mode" = remote ] && phase conflict conflict
	[ "$mode" = remote ] && phase quota quota
	;;
local)
	phase refuse refuse
	phase log logged
	phase local local_partition
	;;
esac
hook_log
exit 0
