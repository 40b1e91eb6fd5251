# All five actions on one pod, asked with CRI-O's annotations (*.crio.io) and
# annotation_domains ["crio.io"]: what tests/e2e/actions-crio-containerd.bats and
# actions-crio-podman.bats share. Load after lib/common.bash and lib/node.bash.
#
# The values: cpu-load-balancing, cpu-quota, irq-load-balancing and cpu-c-states "disable";
# cpu-freq-governor "performance". This machine has NO cpufreq driver
# (/sys/devices/system/cpu/cpufreq is empty), and the sysroot is node-wide, so a real pod cannot
# have its governor changed here and a fake cpufreq tree cannot stand in for it while the other
# four act on the real node. The node config gives cpu-freq-governor on_error "log": the
# governor action is refused (no cpufreq policy for CPU 1) and the pod starts with the other four,
# with nodehook's warning naming the missing driver. runc discards a successful hook's stderr and
# this machine has no syslog (/dev/log), so the hook files run nodehook through af_hook_wrapper,
# two lines that append nodehook's stderr to a file the tests read; everything else in the hook
# file is as shipped.
#
# Node files nodehook may change here, snapshotted in af_setup and, as a last resort in
# af_force_restore, written back where they still differ (saying so on fd 3: a test that left
# them changed has failed by then): every /proc/irq/N/smp_affinity_list, default_smp_affinity,
# every CPU's power/pm_qos_resume_latency_us and cpuidle/stateK/disable. The cpusets are
# lib/node.bash's; the quota files are the test's own cgroups (removed with them); the
# irqbalance file is the test's copy ($NH_T/irqbalance), never the node's.

AF_GOVERNOR_WARNING="cpu-freq-governor ('cpu-freq-governor.crio.io'): CPU 1 has no cpufreq policy (no cpufreq driver); on_error is \"log\": the container starts without it"

# af_annotations: the pod's annotations, CRI-O's keys, as JSON.
af_annotations() {
	jq -n '{"cpu-load-balancing.crio.io": "disable", "cpu-quota.crio.io": "disable",
		"irq-load-balancing.crio.io": "disable", "cpu-c-states.crio.io": "disable",
		"cpu-freq-governor.crio.io": "performance"}'
}

# "PATH VALUE" for every node file nodehook may change here (see the top).
af_node_files() {
	local f v
	for f in /proc/irq/default_smp_affinity /proc/irq/[0-9]*/smp_affinity_list \
		/sys/devices/system/cpu/cpu[0-9]*/power/pm_qos_resume_latency_us \
		/sys/devices/system/cpu/cpu[0-9]*/cpuidle/state[0-9]*/disable; do
		[ -f "$f" ] || continue
		read -r v <"$f" && echo "$f $v"
	done
}

# af_setup: the node files' snapshot ($NH_T/af.before) and the test's irqbalance file
# ($NH_T/irqbalance, a copy of the node's with an old mask line; $NH_T/irqbalance.before).
af_setup() {
	[ -f /sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us ] ||
		nh_fail "CPU 1 has no pm_qos_resume_latency_us: this test needs per-CPU PM QoS" || return 1
	[ -z "$(ls -A /sys/devices/system/cpu/cpufreq 2>/dev/null)" ] ||
		nh_fail "this machine has a cpufreq driver now: the governor is no longer refused here; test it for real" ||
		return 1
	af_node_files >"$NH_T/af.before"
	if [ -f /etc/default/irqbalance ]; then
		cp /etc/default/irqbalance "$NH_T/irqbalance"
	else
		printf '# irqbalance\n#IRQBALANCE_BANNED_CPULIST=\n' >"$NH_T/irqbalance"
	fi
	printf 'IRQBALANCE_BANNED_CPUS=00000000\n' >>"$NH_T/irqbalance"
	cp "$NH_T/irqbalance" "$NH_T/irqbalance.before"
	: >"$NH_T/nodehook.stderr"
}

# af_force_restore: the last resort (see the top); for teardown, after the containers are gone
# and `nodehook restore --all` ran.
af_force_restore() {
	[ -f "${NH_T:-}/af.before" ] || return 0
	local f v now
	while read -r f v; do
		read -r now <"$f" 2>/dev/null || continue
		[ "$now" = "$v" ] && continue
		echo "# teardown (last resort): $f is $now, writing back $v" >&3
		echo "$v" >"$f" 2>/dev/null || true
	done <"$NH_T/af.before"
}

# af_config_filter: the jq filter that turns a node config into this one: CRI-O's domain, the
# test's irqbalance file and persistent dir, the governor's refusal logged.
af_config_filter() {
	printf '.annotation_domains = ["crio.io"] | .irqbalance_config = "%s" | .persistent_dir = "%s"
		| .actions["cpu-freq-governor"] = {enabled: true, allowed_namespaces: ["*"], on_error: "log"}' \
		"$NH_T/irqbalance" "$NH_T/persist"
}

# af_hook_wrapper: writes $NH_T/nodehook-hook, which runs $NODEHOOK_BIN with its arguments and
# appends its stderr to $NH_T/nodehook.stderr; prints its path.
af_hook_wrapper() {
	printf '#!/bin/sh\nexec "%s" "$@" 2>>"%s"\n' "$NODEHOOK_BIN" "$NH_T/nodehook.stderr" >"$NH_T/nodehook-hook"
	chmod 755 "$NH_T/nodehook-hook"
	echo "$NH_T/nodehook-hook"
}

# af_assert_running ID QUOTA_FILE...: while container ID runs, pinned to CPU 1: CPU 1 isolated
# (nh_assert_isolated); each QUOTA_FILE (the container's and its pod's cpu.cfs_quota_us) -1;
# the default IRQ mask without CPU 1 and every IRQ too, but those the record lists as refused
# (managed) or left alone; the irqbalance file banning CPU 1; CPU 1's PM QoS "n/a"; status
# --json showing the four applied actions and no governor; the governor's warning logged.
af_assert_running() {
	local id=$1 f
	shift
	nh_assert_isolated 1 || return 1
	for f in "$@"; do
		nh_assert_eq -1 "$(cat "$f")" "$f while the container runs" || return 1
	done
	local mask
	mask=$(cat /proc/irq/default_smp_affinity)
	# The mask is hex; CPU 1 is bit 1 of its last group.
	(((0x${mask##*,} & 2) == 0)) || nh_fail "default_smp_affinity is $mask: CPU 1 is still in it" || return 1
	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0 || return 1
	printf '%s\n' "$output" >"$NH_T/status.json"
	nh_jq_assert "$NH_T/status.json" --arg id "$id" '[.containers[] | select(.id == $id)] | length == 1
		and (.[0].actions | map(.action) == ["cpu-load-balancing", "cpu-quota", "irq-load-balancing", "cpu-c-states"])
		and (.[0].actions | all(.state == "applied"))
		and (.[0].actions | map(select(.action == "cpu-c-states"))[0].details["cpu1/pm_qos_resume_latency_us"][1] == "n/a")' ||
		return 1
	local exempt n aff moved=0
	exempt=" $(jq -r --arg id "$id" '[.containers[] | select(.id == $id) | .actions[]
		| select(.action == "irq-load-balancing") | .details | (.irqs_refused[]?.irq), (.irqs_left_alone[]?)]
		| unique | join(" ")' "$NH_T/status.json") "
	for f in /proc/irq/[0-9]*/smp_affinity_list; do
		n=${f#/proc/irq/}
		n=${n%%/*}
		[[ $exempt == *" $n "* ]] && continue
		read -r aff <"$f"
		nh_cpulist_has "$aff" 1 && nh_fail "IRQ $n still has CPU 1 ($aff)" && return 1
	done
	while read -r f aff; do
		[[ $f == /proc/irq/[0-9]*/smp_affinity_list ]] || continue
		n=${f#/proc/irq/}
		n=${n%%/*}
		[[ $exempt == *" $n "* ]] && continue
		nh_cpulist_has "$aff" 1 && moved=$((moved + 1))
	done <"$NH_T/af.before"
	[ "$moved" -gt 0 ] || nh_fail "no movable IRQ had CPU 1 before the test: nothing shows an IRQ moving" || return 1
	echo "# $moved movable IRQs left CPU 1; exempt (refused or left alone):$exempt" >&3
	grep -qx 'IRQBALANCE_BANNED_CPULIST=1' "$NH_T/irqbalance" ||
		nh_fail "the irqbalance file does not ban CPU 1:" "$(cat "$NH_T/irqbalance")" || return 1
	nh_assert_eq n/a "$(cat /sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us)" \
		"CPU 1's pm_qos_resume_latency_us while the container runs" || return 1
	grep -qF "$AF_GOVERNOR_WARNING" "$NH_T/nodehook.stderr" ||
		nh_fail "nodehook did not warn that the governor was refused ($AF_GOVERNOR_WARNING); its stderr:" \
			"$(cat "$NH_T/nodehook.stderr")"
}

# af_assert_restored "QUOTA_FILE VALUE"...: after the container and its pod are gone: every node
# file of the snapshot byte-identical, the irqbalance file too, no kept copy, each QUOTA_FILE
# that still exists back at VALUE, no record and no ledger (the cpusets are the caller's
# nh_assert_node_restored).
af_assert_restored() {
	local q f v now
	af_node_files >"$NH_T/af.after"
	diff -u "$NH_T/af.before" "$NH_T/af.after" >&2 ||
		nh_fail "node files differ from before the test (IRQs, default mask, PM QoS, cpuidle)" || return 1
	cmp "$NH_T/irqbalance.before" "$NH_T/irqbalance" || nh_fail "the irqbalance file differs" || return 1
	[ ! -e "$NH_T/persist/irqbalance.json" ] || nh_fail "the irqbalance file's kept copy is left" || return 1
	for q in "$@"; do
		read -r f v <<<"$q"
		[ -f "$f" ] || continue
		read -r now <"$f"
		nh_assert_eq "$v" "$now" "$f after" || return 1
	done
	nh_assert_no_state
}
