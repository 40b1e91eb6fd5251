#!/usr/bin/env bats
# `nodehook hook` with runc on real kernels with 4 CPUs: one QEMU boot per kernel and cgroup
# mode runs tests/vm/hook.sh, which isolates CPUs 2-3 for an annotated container and checks the
# sched domains (/proc/schedstat), busy-loop probes, a second container started meanwhile, and
# the exact restore of every cpuset file after `runc delete`. What each check proves is in
# hook.sh's header.
#
#   scripts/vm/prepare && ninja -C build && prove --exec 'bats --tap' tests/vm/hook.bats
#
# The guests run $NODEHOOK_BIN (default build/src/nodehook/nodehook), copied first: the guest
# reads it over 9p, and a rebuild on the host during a boot would pull it from under the hooks.
# Boots fail (with the runner's reason) without root, qemu or prepared kernels, or skip if
# NODEHOOK_SKIP_VM=1 outside CI (lib/host.bash); a missing binary fails. About 35-50 s per boot on the 2-CPU test machine, one at a time.

load lib/host

setup_file() {
	REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	local bin=${NODEHOOK_BIN:-$REPO/build/src/nodehook/nodehook}
	if [ ! -x "$bin" ]; then
		echo "NODEHOOK_BIN=$bin is not an executable: build first (ninja -C build)" >&2
		return 1
	fi
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	cp "$bin" "$BATS_FILE_TMPDIR/bin/nodehook"
	export REPO RUN=$REPO/scripts/vm/run NH=$BATS_FILE_TMPDIR/bin/nodehook
	export NODEHOOK_VM_EXPOSE=$BATS_FILE_TMPDIR/bin${NODEHOOK_VM_EXPOSE:+:$NODEHOOK_VM_EXPOSE}
}

# hook KERNEL CG [LINES_FILE]: boots hook.sh; passes if the run passed. The boot's lines go to
# LINES_FILE first, if given, for a later test of the same boot.
hook() {
	boot "$1" "$2" "$BATS_TEST_DIRNAME/hook.sh" "$NH"
	[ -z "${3:-}" ] || printf '%s\n' "${lines[@]}" >"$3"
	[ "$status" -eq 0 ]
	has "NHVM-EXIT rc=0"
}

ISOLATE=(iso.run iso.spans iso.cpusets iso.state iso.affinity iso.probe-root iso.probe-container
	survive.run survive.stray~ survive.spans survive.probe-other survive.probe-container restore.delete
	restore.spans-first restore.other restore.delete-other restore.spans restore.cpusets
	restore.state)
TWO=(two.run two.spans two.cpusets two.delete-first two.spans-first two.cpusets-first
	two.state-first two.delete-second two.restore.spans two.restore.cpusets two.restore.state)

@test "cgroup v1 (6.1): CPUs 2-3 leave balancing, the guard keeps them out, two containers, all restored" {
	hook 6.1 v1 "$BATS_FILE_TMPDIR/v1.lines"
	passes v1 setup.spans "${ISOLATE[@]}" "${TWO[@]}" survive.guard survive.control \
		survive.control-delete survive.control-gone
	has "NHVM-RESULT v1.two.cpusets-first PASS root.lb=0 nh-test.lb=0 pod.lb=0 ctrb.lb=0 hk.cpus=0-2 "
	has "NHVM-RESULT v1.iso.spans PASS cpu0:3 cpu1:3 cpu2:none cpu3:none"
	has "NHVM-RESULT v1.iso.cpusets PASS root.lb=0 nh-test.lb=0 ctr1.lb=0 hk.lb=1 hk.cpus=0-1 "
	has "NHVM-RESULT v1.survive.spans PASS cpu0:3 cpu1:3 cpu2:none cpu3:none"
	has "NHVM-RESULT v1.survive.control PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT v1.restore.spans PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	qemu_gone
}

# A known bug on cgroup v1 (README, "Known limitations"): the guard turns a new container's
# cpuset unbalanced only at its createRuntime, after runc made it balanced over every CPU. For
# that long the domains merge, and the balancer may move host tasks onto the isolated CPUs,
# where they stay once the domains split again (the sched domains themselves come back: see
# the test above). hook.sh measures it in the boot above (survive.stray, "SKIP KNOWN BUG" in
# the guest so that the boot's other checks still count); this test asserts what should hold.
# While the bug shows it fails, and its TODO makes that a known failure: listed by scripts/check,
# never counted as passed. Remove the TODO with the fix; on 6.12 (v2) the check is asserted.
@test "cgroup v1 (6.1): host tasks running while a container starts stay off the isolated CPUs # TODO known bug: the v1 guard acts only after runc made the new cpuset balanced over every CPU" {
	known_bug v1 survive.stray "$BATS_FILE_TMPDIR/v1.lines"
}

@test "cgroup v2, local partitions only (6.1): a clear refusal, on_error log, a node-level partition" {
	hook 6.1 v2
	passes v2 setup.partitions setup.spans refuse.fails refuse.container refuse.node.spans \
		refuse.node.cpusets refuse.node.state log.run log.spans log.affinity log.warning \
		log.state log.delete log.restore.spans log.restore.cpusets log.restore.state \
		local.setup local.run local.spans local.cpusets local.probe-container local.delete \
		local.restore-spans local.restore-cpusets local.restore-state
	has "NHVM-RESULT v2.setup.partitions PASS local "
	has "NHVM-RESULT v2.log.spans PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT v2.local.spans PASS cpu0:3 cpu1:3 cpu2:none cpu3:none"
	qemu_gone
}

@test "cgroup v2, remote partitions (6.12): isolation, a second container, two partitions, refusals; cpu-quota on cpu.max" {
	hook 6.12 v2
	passes v2 setup.partitions setup.spans "${ISOLATE[@]/survive.stray~/survive.stray}" \
		survive.cpusets "${TWO[@]}" conflict.ancestor conflict.ancestor-rollback conflict.ancestor-spans \
		conflict.ancestor-state conflict.sibling conflict.partition conflict.partition-rollback \
		conflict.partition-spans conflict.partition-state conflict.sibling-delete \
		conflict.restore.spans conflict.restore.cpusets conflict.restore.state \
		quota.run quota.pod quota.container quota.delete quota.restore quota.state
	has "NHVM-RESULT v2.setup.partitions PASS remote "
	has "NHVM-RESULT v2.iso.spans PASS cpu0:3 cpu1:3 cpu2:none cpu3:none"
	has "NHVM-RESULT v2.two.spans-first PASS cpu0:7 cpu1:7 cpu2:7 cpu3:none"
	has "NHVM-RESULT v2.two.cpusets-first PASS root.isolated=3 nh-test.exclusive=1,3 pod.exclusive=3 "
	has "NHVM-RESULT v2.two.restore.spans PASS cpu0:f cpu1:f cpu2:f cpu3:f"
	has "NHVM-RESULT v2.quota.pod PASS max 100000 "
	has "NHVM-RESULT v2.quota.restore PASS 200000 100000 "
	qemu_gone
}
