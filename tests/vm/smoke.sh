#!/bin/bash
# Guest side of tests/vm/testbed.bats: proves that the VM test bed can show what the CPU tuning
# tests need. Run by scripts/vm/run KERNEL v1|v2 tests/vm/smoke.sh. Checks, in order:
#   cpus.online, spans.version, spans.start   4 CPUs, schedstat readable, every CPU spans f
#   probe.baseline                            two busy loops spread (the balancer works)
#   iso.*, spans.isolated                     hand-made isolation of CPUs 2-3 (v2: an isolated
#                                             partition; v1: root lb=0, nh-hk 0-1 lb=1,
#                                             nh-iso 2-3 lb=0) -> cpu0:3 cpu1:3 cpu2/3 none
#   probe.isolated, probe.housekeeping        loops in the isolated set stay on CPU 2; loops
#                                             outside still spread over 0-1 only
#   spans.restored                            undoing it brings f back everywhere
#   runc.*                                    a busybox container with cpus "2" runs on CPU 2
#   restore.*                                 spans f, no nh-* cgroups, subtree_control as found
# On 6.12 with v1 there is no v1 cpuset: one SKIP that says so, and nothing else to test.
# Values come back through namerefs (nhvm_read VAR FILE), which shellcheck cannot follow.
# shellcheck disable=SC2154
# shellcheck source=lib/guest.bash
source "$NHVM_LIB"

ALL="cpu0:f cpu1:f cpu2:f cpu3:f"
ISO="cpu0:3 cpu1:3 cpu2:none cpu3:none"
CGROOT=/sys/fs/cgroup
CS=$CGROOT # the cpuset hierarchy: the unified root on v2, its own mount on v1
[ "$NHVM_CG" = v1 ] && CS=$CGROOT/cpuset
BUNDLE=/tmp/nh-bundle
CTR=nh-ctr1

nhvm_read online /sys/devices/system/cpu/online
nhvm_check cpus.online 0-3 "$online" "kernel $NHVM_KRELEASE"

if [ "$NHVM_CG" = v1 ] && [ ! -e "$CS/cpuset.cpus" ]; then
	why="no cgroup v1 cpuset in kernel $NHVM_KRELEASE"
	grep -qx '# CONFIG_CPUSETS_V1 is not set' "$NHVM_KDIR/config" 2>/dev/null &&
		why+=" (# CONFIG_CPUSETS_V1 is not set)"
	nhvm_skip cpuset "$why; cgroup v1 tests need the 6.1 kernel"
	exit 0
fi

# --- helpers -----------------------------------------------------------------------------------

# setf NAME FILE VALUE: a write that is a check of its own only when it fails.
setf() {
	nhvm_write "$2" "$3" && return 0
	nhvm_fail "$1" "echo $3 > $2: $NHVM_ERR"
	return 1
}

nhvm_read subtree0 "$CGROOT/cgroup.subtree_control"

# Puts back everything this script changes; safe to run at any point and more than once.
restore() {
	local d c
	local -a dirs=() ctl
	nhvm_runc_rm "$CTR"
	if [ "$NHVM_CG" = v2 ]; then
		[ -d "$CS/nh-iso" ] && nhvm_write "$CS/nh-iso/cpuset.cpus.partition" member
	else
		nhvm_write "$CS/cpuset.sched_load_balance" 1
	fi
	for d in "$CGROOT"/*/nh-test/ctr1 "$CGROOT"/nh-test/ctr1 "$CGROOT"/*/nh-test \
		"$CGROOT"/nh-test "$CS"/nh-iso "$CS"/nh-hk; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -eq 0 ] || rmdir "${dirs[@]}"
	if [ "$NHVM_CG" = v2 ]; then # controllers that we (or runc) enabled in the root
		nhvm_read now "$CGROOT/cgroup.subtree_control"
		read -ra ctl <<<"$now"
		for c in "${ctl[@]}"; do
			[[ " $subtree0 " == *" $c "* ]] || nhvm_write "$CGROOT/cgroup.subtree_control" "-$c"
		done
	fi
}
trap restore EXIT

# --- start -------------------------------------------------------------------------------------

nhvm_spans || nhvm_fail spans.start "cannot read /proc/schedstat"
case $NHVM_KERNEL in 6.1) v=15 ;; 6.12) v=16 ;; *) v='?' ;; esac
nhvm_check spans.version "$v" "$NHVM_SCHEDSTAT_VERSION" "/proc/schedstat version"
nhvm_check spans.start "$ALL" "$NHVM_SPANS"

nhvm_probe_check probe.baseline balanced 0-3 0-3 0 0-3

# --- hand-made isolation of CPUs 2-3 -----------------------------------------------------------

if [ "$NHVM_CG" = v2 ]; then
	iso_ok=0
	mkdir "$CS/nh-iso" &&
		setf iso.setup "$CGROOT/cgroup.subtree_control" +cpuset &&
		setf iso.setup "$CS/nh-iso/cpuset.cpus" 2-3 &&
		setf iso.setup "$CS/nh-iso/cpuset.cpus.partition" isolated && iso_ok=1
	nhvm_read part "$CS/nh-iso/cpuset.cpus.partition"
	nhvm_check iso.partition isolated "$part" "nh-iso cpuset.cpus.partition"
	nhvm_read eff "$CS/cpuset.cpus.effective"
	nhvm_check iso.root-effective 0-1 "$eff" "root cpuset.cpus.effective"
	# Kernel features the next tests branch on: 6.1 has local partitions only; 6.12 has
	# cpuset.cpus.exclusive (remote partitions) and lists isolated CPUs in the root.
	if [ -e "$CS/nh-iso/cpuset.cpus.exclusive" ]; then
		nhvm_read isolated "$CS/cpuset.cpus.isolated"
		nhvm_check iso.root-isolated 2-3 "$isolated" "root cpuset.cpus.isolated; has cpuset.cpus.exclusive"
	else
		isolated=absent
		[ -e "$CS/cpuset.cpus.isolated" ] && isolated=present
		nhvm_check iso.root-isolated absent "$isolated" \
			"no cpuset.cpus.exclusive either: local partitions only"
	fi
	hk_affinity=0-1 # v2 clips sched_setaffinity to the cpuset's effective CPUs
else
	iso_ok=0
	mkdir "$CS/nh-hk" "$CS/nh-iso" &&
		setf iso.setup "$CS/nh-hk/cpuset.cpus" 0-1 &&
		setf iso.setup "$CS/nh-hk/cpuset.mems" 0 &&
		setf iso.setup "$CS/nh-iso/cpuset.cpus" 2-3 &&
		setf iso.setup "$CS/nh-iso/cpuset.mems" 0 &&
		setf iso.setup "$CS/nh-iso/cpuset.sched_load_balance" 0 &&
		setf iso.setup "$CS/cpuset.sched_load_balance" 0 && iso_ok=1
	nhvm_read lb "$CS/cpuset.sched_load_balance"
	nhvm_read lbhk "$CS/nh-hk/cpuset.sched_load_balance"
	nhvm_read lbiso "$CS/nh-iso/cpuset.sched_load_balance"
	nhvm_check iso.load-balance "root=0 nh-hk=1 nh-iso=0" "root=$lb nh-hk=$lbhk nh-iso=$lbiso" \
		"cpuset.sched_load_balance"
	hk_affinity=0-3 # v1 leaves the affinity alone; the balancer just never pulls to 2-3
fi
nhvm_wait_spans "$ISO"
nhvm_check spans.isolated "$ISO" "$NHVM_SPANS"
if [ $iso_ok = 1 ]; then
	nhvm_probe_check probe.isolated unbalanced 2-3 2 -c "$CS/nh-iso" 2 2-3
	nhvm_probe_check probe.housekeeping balanced "$hk_affinity" 0-1 0 0-3
fi

restore
nhvm_wait_spans "$ALL"
nhvm_check spans.restored "$ALL" "$NHVM_SPANS"

# --- a runc container pinned to CPU 2 ----------------------------------------------------------

if ! nhvm_bundle "$BUNDLE"; then
	nhvm_fail runc.bundle "cannot build a busybox bundle in $BUNDLE"
else
	nhvm_runc_config "$BUNDLE" 2 /nh-test/ctr1 sleep 300
	if ! nhvm_runc_run "$CTR" "$BUNDLE"; then
		nhvm_fail runc.run "runc run -d: $NHVM_ERR"
	else
		pid=$NHVM_RUNC_PID
		nhvm_pass runc.run "container $CTR, init pid $pid"
		allowed='' cg=''
		while IFS=$':\t' read -r key val; do
			[ "$key" = Cpus_allowed_list ] && allowed=$val
		done </proc/"$pid"/status
		nhvm_check runc.affinity 2 "$allowed" "Cpus_allowed_list of the container's init"
		IFS= read -r line </proc/"$pid"/stat
		read -ra f <<<"${line##*) }"
		nhvm_check runc.cpu 2 "${f[36]}" "the CPU it last ran on"
		if [ "$NHVM_CG" = v2 ]; then
			nhvm_read cg "$CGROOT/nh-test/ctr1/cpuset.cpus.effective"
		else
			nhvm_read cg "$CS/nh-test/ctr1/cpuset.cpus"
		fi
		nhvm_check runc.cgroup 2 "$cg" "cpuset of /nh-test/ctr1"
		nhvm_runc_rm "$CTR"
		gone=1
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			gone=1
			if IFS= read -r line 2>/dev/null </proc/"$pid"/stat; then
				read -ra f <<<"${line##*) }"
				[ "${f[0]}" = Z ] || gone=0
			fi
			[ $gone = 1 ] && break
			nhvm_sleep 0.1
		done
		nhvm_check runc.delete 1 "$gone" "init pid $pid gone after runc delete -f"
	fi
fi

# --- everything back as found ------------------------------------------------------------------

restore
nhvm_wait_spans "$ALL"
nhvm_check restore.spans "$ALL" "$NHVM_SPANS"
left=()
for d in "$CGROOT"/nh-* "$CGROOT"/*/nh-*; do [ -e "$d" ] && left+=("${d#"$CGROOT"/}"); done
nhvm_check restore.cgroups none "${left[*]:-none}" "nh-* cgroups left"
nhvm_read subtree "$CGROOT/cgroup.subtree_control"
[ "$NHVM_CG" = v2 ] && nhvm_check restore.subtree-control "$subtree0" "$subtree" \
	"root cgroup.subtree_control"
exit 0
