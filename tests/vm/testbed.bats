#!/usr/bin/env bats
# The VM test bed itself: scripts/vm/run boots Debian's 6.1 and 6.12 kernels under QEMU (TCG,
# 4 vCPUs) and tests/vm/smoke.sh shows, in each guest, what the CPU tuning tests will rely on.
#
#   scripts/vm/prepare && prove --exec 'bats --tap' tests/vm/testbed.bats
#
# Boots fail (with the runner's reason) without root, qemu or prepared kernels, or skip if
# NODEHOOK_SKIP_VM=1 outside CI (lib/host.bash, vm_unavailable). About 25 s per full boot on
# the 2-CPU test machine, run one at a time: parallel guests would skew the probes.

load lib/host

setup_file() {
	REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export REPO RUN=$REPO/scripts/vm/run
}

V2_CHECKS=(cpus.online spans.version spans.start probe.baseline iso.partition iso.root-effective
	iso.root-isolated spans.isolated probe.isolated probe.housekeeping spans.restored runc.run
	runc.affinity runc.cpu runc.cgroup runc.delete restore.spans restore.cgroups
	restore.subtree-control)
V1_CHECKS=(cpus.online spans.version spans.start probe.baseline iso.load-balance spans.isolated
	probe.isolated probe.housekeeping spans.restored runc.run runc.affinity runc.cpu runc.cgroup
	runc.delete restore.spans restore.cgroups)

# common CG: the observations every full smoke run must show, whatever the kernel.
common() {
	local cg=$1
	has "NHVM-STAGE2 "
	has "NHVM-EXIT rc=0"
	has "NHVM-RESULT $cg.cpus.online PASS 0-3"
	has "NHVM-RESULT $cg.spans.start PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT $cg.probe.baseline PASS balanced: pin=0 widen=0-3 affinity=0-3 "
	has "NHVM-RESULT $cg.spans.isolated PASS cpu0:3 cpu1:3 cpu2:none cpu3:none"
	has "NHVM-RESULT $cg.probe.isolated PASS unbalanced: pin=2 widen=2-3 affinity=2-3 seen=2 "
	has "NHVM-RESULT $cg.spans.restored PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT $cg.runc.cpu PASS 2 "
	has "NHVM-RESULT $cg.restore.spans PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT $cg.restore.cgroups PASS none "
	qemu_gone
}

@test "runner: wrong usage exits 2 and says why" {
	run "$RUN" 6.1 v2
	[ "$status" -eq 2 ]
	[[ $output == *"too few arguments"* ]]
	run "$RUN" 5.10 v2 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 2 ]
	[[ $output == *"unknown kernel '5.10'"* ]]
	run "$RUN" 6.1 v3 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 2 ]
	[[ $output == *"unknown cgroup mode 'v3'"* ]]
	run "$RUN" 6.1 v2 "$BATS_TEST_DIRNAME/no-such-script.sh"
	[ "$status" -eq 2 ]
	[[ $output == *"no readable script"* ]]
}

@test "runner: exits 77 (cannot run here) with the reason when the kernels are not prepared" {
	if [ "$(id -u)" != 0 ]; then
		vm_unavailable "needs root: the runner stops earlier without it"
		return 1
	fi
	if ! command -v qemu-system-x86_64 >/dev/null; then
		vm_unavailable "no qemu-system-x86_64: the runner stops earlier"
		return 1
	fi
	NODEHOOK_VM_DIR=$BATS_TEST_TMPDIR/empty run "$RUN" 6.12 v2 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 77 ]
	[[ $output == *"kernel 6.12 not prepared in $BATS_TEST_TMPDIR/empty; run scripts/vm/prepare"* ]]
}

@test "guest library: sched-domain spans from schedstat versions 15, 16 and 17" {
	source "$BATS_TEST_DIRNAME/lib/guest.bash"
	local f=$BATS_TEST_TMPDIR/schedstat
	# 6.1 (15), two levels for cpu0, none for cpu2 (isolated), a comma mask for cpu3
	printf '%s\n' 'version 15' 'timestamp 4294895705' \
		'cpu0 0 0 0 0 0 0 1 2 3' 'domain0 3 0 0 0' 'domain1 f 0 0 0' \
		'cpu1 0 0 0 0 0 0 1 2 3' 'domain0 00000003 0 0' \
		'cpu2 0 0 0 0 0 0 1 2 3' \
		'cpu3 0 0 0 0 0 0 1 2 3' 'domain0 00000000,0000000b 0 0' >"$f"
	nhvm_spans "$f"
	[ "$NHVM_SPANS" = "cpu0:f cpu1:3 cpu2:none cpu3:b" ]
	[ "${NHVM_SPAN_LEVELS[cpu0]}" = "3 f" ]
	[ "$NHVM_SCHEDSTAT_VERSION" = 15 ]
	# 6.14+ (17): the level name comes before the mask
	printf '%s\n' 'version 17' 'timestamp 1' \
		'cpu0 0 0 0 0 0 0 1 2 3' 'domain0 SMT 00000003 0 0' 'domain1 MC 00000000,0000000f 0 0' \
		'cpu1 0 0 0 0 0 0 1 2 3' >"$f"
	nhvm_spans "$f"
	[ "$NHVM_SPANS" = "cpu0:f cpu1:none" ]
	[ "${NHVM_SPAN_LEVELS[cpu0]}" = "3 f" ]
	run nhvm_spans "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 1 ]
}

@test "guest library: CPU masks and lists" {
	source "$BATS_TEST_DIRNAME/lib/guest.bash"
	local v
	local -a a
	nhvm_mask_norm v 00000000,0000000F
	[ "$v" = f ]
	nhvm_mask_norm v 0
	[ "$v" = 0 ]
	nhvm_mask_to_list v b
	[ "$v" = 0-1,3 ]
	nhvm_mask_to_list v 00000001,00000000
	[ "$v" = 32 ]
	nhvm_mask_to_list v ff0
	[ "$v" = 4-11 ]
	nhvm_mask_to_list v 0
	[ "$v" = "" ]
	nhvm_list_expand a 0-2,5
	[ "${a[*]}" = "0 1 2 5" ]
	nhvm_list_expand a ""
	[ "${#a[@]}" -eq 0 ]
}

@test "6.1 / cgroup v2: spans, isolated partition, balancing probe, runc on CPU 2, restore" {
	boot 6.1 v2 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 0 ]
	passes v2 "${V2_CHECKS[@]}"
	common v2
	has "NHVM-RESULT v2.spans.version PASS 15"
	has "NHVM-RESULT v2.iso.root-effective PASS 0-1"
	has "NHVM-RESULT v2.iso.root-isolated PASS absent" # 6.1: local partitions only
	has "NHVM-RESULT v2.probe.housekeeping PASS balanced: pin=0 widen=0-3 affinity=0-1 "
}

@test "6.1 / cgroup v1: spans, sched_load_balance isolation, balancing probe, runc on CPU 2, restore" {
	boot 6.1 v1 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 0 ]
	passes v1 "${V1_CHECKS[@]}"
	common v1
	has "NHVM-RESULT v1.spans.version PASS 15"
	has "NHVM-RESULT v1.iso.load-balance PASS root=0 nh-hk=1 nh-iso=0"
	has "NHVM-RESULT v1.probe.housekeeping PASS balanced: pin=0 widen=0-3 affinity=0-3 "
}

@test "6.12 / cgroup v2: spans, isolated partition, balancing probe, runc on CPU 2, restore" {
	boot 6.12 v2 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 0 ]
	passes v2 "${V2_CHECKS[@]}"
	common v2
	has "NHVM-RESULT v2.spans.version PASS 16"
	has "NHVM-RESULT v2.iso.root-effective PASS 0-1"
	has "NHVM-RESULT v2.iso.root-isolated PASS 2-3" # 6.12: cpuset.cpus.exclusive/.isolated
	has "NHVM-RESULT v2.probe.housekeeping PASS balanced: pin=0 widen=0-3 affinity=0-1 "
}

# The guest's SKIP is the expected outcome here, and what is asserted: this test passes.
@test "6.12 / cgroup v1: the guest reports SKIP, because 6.12 has no v1 cpuset" {
	boot 6.12 v1 "$BATS_TEST_DIRNAME/smoke.sh"
	[ "$status" -eq 0 ]
	has "NHVM-STAGE2 "
	has "NHVM-EXIT rc=0"
	[[ $output == *" missing=cpuset,memory "* ]] # stage 2 could not mount them
	has "NHVM-RESULT v1.cpus.online PASS 0-3"
	has "NHVM-RESULT v1.cpuset SKIP no cgroup v1 cpuset in kernel 6.12"
	has "NHVM-SUMMARY kernel=6.12"
	[[ $output == *" pass=1 fail=0 skip=1 "* ]]
	qemu_gone
}

@test "runner: a FAIL line fails the run although the script exits 0; arguments arrive intact" {
	boot 6.1 v2 "$BATS_TEST_DIRNAME/selftest.sh" fail "a b" 'c$d' ""
	[ "$status" -eq 1 ]
	has "NHVM-RESULT v2.args PASS <a b><c\$d><>"
	has "NHVM-RESULT v2.deliberate FAIL "
	has "NHVM-EXIT rc=0"
	[[ ${lines[${#lines[@]} - 1]} == *"FAIL: 1 check(s) failed; 1 passed, 1 failed"* ]]
	qemu_gone
}

@test "runner: a guest kernel crash stops the boot at once and is retried, then fails" {
	# No init to run: the kernel panics about halfway through the boot, before any test runs.
	NODEHOOK_VM_RETRIES=1 NODEHOOK_VM_APPEND="rdinit=/nonexistent" \
		boot 6.1 v2 "$BATS_TEST_DIRNAME/selftest.sh" hang
	[ "$status" -eq 1 ]
	local l boots=0 retries=0
	for l in "${all_lines[@]}"; do
		[[ $l == "nhvm: booting "* ]] && boots=$((boots + 1))
		[[ $l == *": RETRY: guest kernel failure: "* ]] && retries=$((retries + 1))
	done
	[ "$boots" -eq 2 ]
	[ "$retries" -eq 1 ]
	[[ ${lines[${#lines[@]} - 1]} == *"FAIL: guest kernel failure: Kernel panic - not syncing: "* ]]
	qemu_gone
}

@test "runner: a guest that hangs is killed at the timeout, no qemu left behind" {
	NODEHOOK_VM_TIMEOUT=4 boot 6.1 v2 "$BATS_TEST_DIRNAME/selftest.sh" hang
	[ "$status" -eq 1 ]
	[[ ${lines[${#lines[@]} - 1]} == *"FAIL: timed out after 4s"* ]]
	qemu_gone
}
