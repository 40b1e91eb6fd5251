#!/usr/bin/env bats
# irq-load-balancing through `nodehook hook` on this machine's REAL IRQs, with the real runc,
# and through nodehook-runtime for the housekeeping environment.
#
# This VM has 2 CPUs and both kinds of IRQs: movable ones (ACPI, ttyS0, some virtio) and managed
# virtio queues whose smp_affinity_list writes fail with EIO. CPU 0 must keep IRQs, so every
# container here bans CPU 1 only: "disable" on CPU 1, or "housekeeping" on CPUs 0-1 (CPU 0 has
# no SMT sibling here, so it keeps IRQs and 1 is banned). The two-container cases overlap on
# CPU 1 with different modes: the reference count, not the CPU set, decides when it comes back.
#
# Each test: the node lock (lib/node.bash), a node config naming a state dir on a tmpfs, an
# irqbalance config file of the test's own (a copy of Debian's, with an old
# IRQBALANCE_BANNED_CPUS line) and a persistent dir under $NH_T. setup snapshots every
# /proc/irq/*/smp_affinity_list, default_smp_affinity and that file; teardown deletes the
# containers, runs `nodehook restore --all`, and then, as a last resort, writes back every IRQ
# affinity and the default mask that still differ, saying so on fd 3 (it means a test left the
# node changed). irqbalance, where a test starts it, runs by PID and is killed in teardown.

load lib/common
load lib/node
load lib/hook
load lib/runtime

ANN=irq-load-balancing.nodehook.io

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
	IRQB=$NH_T/irqbalance
	if [ -f /etc/default/irqbalance ]; then
		cp /etc/default/irqbalance "$IRQB"
	else
		printf '# irqbalance\n#IRQBALANCE_BANNED_CPULIST=\n' >"$IRQB"
	fi
	printf 'IRQBALANCE_BANNED_CPUS=00000000\n# kept as it is\n' >>"$IRQB"
	cp "$IRQB" "$NH_T/irqbalance.before"
	write_config
	irq_snapshot >"$NH_T/irq.before"
	HOOKS=$NH_T/hooks
	write_hooks
	IRQBALANCE_PID=
}

teardown() {
	if [ -n "${IRQBALANCE_PID:-}" ]; then
		kill "$IRQBALANCE_PID" 2>/dev/null || true
		wait "$IRQBALANCE_PID" 2>/dev/null || true
	fi
	if [ -n "${NH_T:-}" ] && [ -f "$NH_T/irq.before" ]; then
		local rt id n aff
		while read -r rt id; do
			nh_nolock "$rt" delete -f "$id" >/dev/null 2>&1 || true
		done <"$NH_T/.containers"
		NODEHOOK_CONFIG=$NH_NODE_CONFIG nh_nolock "$NODEHOOK_BIN" restore --all >/dev/null 2>&1 || true
		while read -r n aff; do
			if [ "$n" = default ]; then
				[ "$(cat /proc/irq/default_smp_affinity)" = "$aff" ] && continue
				echo "# teardown: default_smp_affinity $(cat /proc/irq/default_smp_affinity), writing back $aff" >&3
				echo "$aff" >/proc/irq/default_smp_affinity 2>/dev/null || true
				continue
			fi
			[ -f "/proc/irq/$n/smp_affinity_list" ] || continue
			[ "$(cat "/proc/irq/$n/smp_affinity_list")" = "$aff" ] && continue
			echo "# teardown: IRQ $n affinity $(cat "/proc/irq/$n/smp_affinity_list"), writing back $aff" >&3
			echo "$aff" >"/proc/irq/$n/smp_affinity_list" 2>/dev/null || true
		done <"$NH_T/irq.before"
	fi
	nh_hook_teardown
}

# The node config: state on the tmpfs, the test's irqbalance file, a persistent dir of its own.
write_config() {
	printf '{"state_dir": "%s", "irqbalance_config": "%s", "persistent_dir": "%s", "hooks_dirs": ["%s"], "runtime": "/usr/bin/runc"}\n' \
		"$NH_STATE" "$IRQB" "$NH_T/persist" "$NH_T/hooks" >"$NH_NODE_CONFIG"
}

# createRuntime and poststop hooks for containers with an irq-load-balancing annotation;
# NODEHOOK_TEST_CRASH_AT=N in createRuntime's env with "--crash-at N".
write_hooks() {
	local crash='' s env
	[ "${1:-}" = --crash-at ] && crash=", \"NODEHOOK_TEST_CRASH_AT=$2\""
	mkdir -p "$HOOKS"
	for s in createRuntime poststop; do
		env="\"NODEHOOK_CONFIG=$NH_NODE_CONFIG\""
		[ "$s" = createRuntime ] && env+=$crash
		printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "%s"], "env": [%s]}, "when": {"annotations": {"^irq-load-balancing\\\\.[^/]+(/.*)?$": ".*"}}, "stages": ["%s"]}\n' \
			"$NODEHOOK_BIN" "$s" "$env" "$s" >"$HOOKS/$s.json"
	done
}

# "N LIST" per IRQ, then "default MASK".
irq_snapshot() {
	local d
	for d in /proc/irq/[0-9]*; do
		echo "${d##*/} $(cat "$d/smp_affinity_list")"
	done
	echo "default $(cat /proc/irq/default_smp_affinity)"
}

# The node is as in setup: every IRQ affinity, the default mask, the irqbalance file byte for
# byte; no record, no ledger, no kept copy.
assert_irq_restored() {
	irq_snapshot >"$NH_T/irq.after"
	diff -u "$NH_T/irq.before" "$NH_T/irq.after" >&2 || nh_fail "IRQ affinities differ from setup ($*)" || return 1
	cmp "$NH_T/irqbalance.before" "$IRQB" || nh_fail "the irqbalance file differs ($*)" || return 1
	[ ! -e "$NH_STATE/irq.json" ] || nh_fail "irq.json left behind ($*)" || return 1
	[ ! -e "$NH_T/persist/irqbalance.json" ] || nh_fail "the kept copy is left behind ($*)" || return 1
	[ -z "$(ls -A "$NH_STATE/containers" 2>/dev/null)" ] || nh_fail "records left ($*)"
}

# bundle NAME CPUS VALUE: a busybox bundle sleeping, pinned, annotated, hooks injected. Sets B.
bundle() {
	B=$NH_T/$1
	mkdir -p "$B"
	jq --arg root "$NH_BASE/rootfs" --arg cpus "$2" --arg a "$ANN" --arg v "$3" \
		'.root.path = $root | .process.args = ["sleep", "300"]
		| .linux.resources.cpu = {cpus: $cpus, mems: "0"} | .annotations = {($a): $v}' \
		"$NH_BASE/config.json" >"$B/config.template.json" || return 1
	nh_bundle_rehook "$B" "$HOOKS"
}

# CPU 1 is off the default mask and off every IRQ but those status lists as refused or left
# alone for some container; the irqbalance file bans 1 with the list form only.
assert_cpu1_banned() {
	[ "$(cat /proc/irq/default_smp_affinity)" = 1 ] ||
		nh_fail "default_smp_affinity is $(cat /proc/irq/default_smp_affinity), expected 1" || return 1
	local exempt n aff
	exempt=" $(nodehook status --json | jq -r '[.containers[].actions[] | select(.action == "irq-load-balancing")
		| .details | (.irqs_refused[]?.irq), (.irqs_left_alone[]?)] | unique | join(" ")') "
	while read -r n aff; do
		[ "$n" = default ] && continue
		[[ $exempt == *" $n "* ]] && continue
		nh_cpulist_has "$aff" 1 && nh_fail "IRQ $n still has CPU 1 ($aff)" && return 1
	done < <(irq_snapshot)
	grep -qx 'IRQBALANCE_BANNED_CPULIST=1' "$IRQB" || nh_fail "no CPULIST=1 in the irqbalance file:" "$(cat "$IRQB")" || return 1
	! grep -q '^IRQBALANCE_BANNED_CPUS=' "$IRQB" || nh_fail "the old mask line is still there"
}

@test "disable on CPU 1: the default mask and every movable IRQ leave CPU 1, managed ones are reported as refused; delete gives all back byte for byte" {
	bundle b 1 disable
	local id
	id=$(nh_id one)
	nh_runc_start run "$id" "$B"
	assert_cpu1_banned
	run --separate-stderr nodehook status --json
	nh_assert_status 0
	local d
	d=$(jq -c --arg id "$id" '.containers[] | select(.id == $id) | .actions[] | select(.action == "irq-load-balancing") | .details' <<<"$output")
	echo "# details: $d" >&3
	[ "$(jq '.irqs_moved | length' <<<"$d")" -gt 0 ] || nh_fail "no IRQ moved:" "$d"
	# This VM's managed virtio queues refuse: they must be reported, not fail the start.
	[ "$(jq '.irqs_refused | length' <<<"$d")" -gt 0 ] || nh_fail "no IRQ reported as refused:" "$d"
	jq -e '.irqs_refused[0].error | test("Input/output error|Operation not permitted")' <<<"$d" >/dev/null ||
		nh_fail "refusal without the kernel's EIO or EPERM:" "$d"
	[ "$(jq -r .banned_cpus <<<"$d")" = 1 ] || nh_fail "banned_cpus:" "$d"
	run --separate-stderr nodehook status
	nh_assert_status 0
	[[ $output == *"$id"*irq-load-balancing* ]] || nh_fail "text status does not show the action:" "$output"
	[[ $output == *irqs_refused=* ]] || nh_fail "text status does not show the refused IRQs:" "$output"
	nh_nolock runc delete -f "$id"
	assert_irq_restored "after delete"
}

@test "two containers on CPU 1 (disable; housekeeping on 0-1), stopped in either order: CPU 1 stays out while one runs, all ends byte-identical" {
	local order first second
	bundle a 1 disable
	local ba=$B
	bundle h 0-1 housekeeping
	local bh=$B
	for order in a-first h-first; do
		nh_runc_start run "$(nh_id "a-$order")" "$ba"
		nh_runc_start run "$(nh_id "h-$order")" "$bh"
		assert_cpu1_banned
		if [ "$order" = a-first ]; then first=a second=h; else first=h second=a; fi
		nh_nolock runc delete -f "$(nh_id "$first-$order")"
		assert_cpu1_banned || nh_fail "$order: after $first went, CPU 1 must stay out for $second"
		nh_nolock runc delete -f "$(nh_id "$second-$order")"
		assert_irq_restored "$order"
	done
}

@test "the wrapper: nodehook-runtime run puts NODEHOOK_HOUSEKEEPING_CPUS and OPENSHIFT_HOUSEKEEPING_CPUS into the container's environment" {
	mkdir -p "$NH_T/bin"
	local w=$NH_T/bin/nodehook-runtime id pid
	ln -s "$NODEHOOK_BIN" "$w"
	# The wrapper injects the hooks of the node config's hooks_dirs ($HOOKS) itself.
	bundle w 0-1 housekeeping
	jq 'del(.hooks)' "$B/config.template.json" >"$B/config.json"
	id=$(nh_id w)
	echo "$w $id" >>"$NH_T/.containers"
	nh_nolock "$w" run -d --bundle "$B" "$id" </dev/null >"$NH_T/w.out" 2>&1 || nh_fail "wrapper run:" "$(cat "$NH_T/w.out")"
	pid=$(runc state "$id" | jq -r .pid)
	tr '\0' '\n' <"/proc/$pid/environ" >"$NH_T/environ"
	grep -qx 'NODEHOOK_HOUSEKEEPING_CPUS=0' "$NH_T/environ" || nh_fail "environ:" "$(cat "$NH_T/environ")"
	grep -qx 'OPENSHIFT_HOUSEKEEPING_CPUS=0' "$NH_T/environ" || nh_fail "environ:" "$(cat "$NH_T/environ")"
	assert_cpu1_banned
	nh_nolock "$w" delete -f "$id"
	assert_irq_restored "after the wrapper's delete"
}

# The debug log's cycle marks: each balancing pass dumps the CPU tree ("Package 0: ...").
cycles_since() { # MARK_LINE: how many passes the log shows after line MARK_LINE
	tail -n +"$(($1 + 1))" "$NH_T/irqbalance.log" | grep -c '^Package ' || true
}
log_line_of() { # PATTERN: the line number of PATTERN's last match, or nothing
	grep -n "$1" "$NH_T/irqbalance.log" | tail -1 | cut -d: -f1
}

@test "irqbalance (Debian's, a daemon the test starts): told through its socket, it keeps IRQs off CPU 1 while the pod runs, and may use it again after" {
	command -v irqbalance >/dev/null || skip "irqbalance is not installed (scripts/install-deps installs it)"
	# Started by PID with a clean environment: nothing banned at its start. Its log is line
	# buffered (stdbuf), so that each pass shows as it happens.
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid stdbuf -oL -eL irqbalance --foreground --debug \
		>"$NH_T/irqbalance.log" 2>&1 </dev/null {NH_NODE_LOCK_FD}>&- &
	IRQBALANCE_PID=$!
	nh_wait_for grep -q '^Package ' "$NH_T/irqbalance.log"
	bundle ib 1 disable
	local id mark moved n
	id=$(nh_id ib)
	nh_runc_start run "$id" "$B"
	assert_cpu1_banned
	nodehook status --json | jq -r --arg id "$id" '.containers[] | select(.id == $id) | .actions[0].details.irqbalance' >"$NH_T/how"
	grep -q "told through its socket (pid $IRQBALANCE_PID): settings cpus 1" "$NH_T/how" || nh_fail "irqbalance not told:" "$(cat "$NH_T/how")"
	# The daemon takes the new set at its next pass; then sample every IRQ nodehook moved over
	# two more passes: none is back on CPU 1.
	nh_wait_for grep -q 'Banned CPUs: 00000002' "$NH_T/irqbalance.log"
	mark=$(log_line_of 'Banned CPUs: 00000002')
	moved=$(nodehook status --json | jq -r '.containers[].actions[0].details.irqs_moved[]')
	local samples=0
	while [ "$(cycles_since "$mark")" -lt 2 ]; do
		for n in $moved; do
			! nh_cpulist_has "$(cat "/proc/irq/$n/smp_affinity_list")" 1 ||
				nh_fail "irqbalance moved IRQ $n back onto CPU 1 (sample $samples)" || return 1
		done
		samples=$((samples + 1))
		[ $samples -lt 2000 ] || nh_fail "irqbalance made no pass in 2000 samples" || return 1
		sleep 0.05
	done
	echo "# $samples samples over two irqbalance passes: CPU 1 stayed free of IRQs" >&3
	nh_nolock runc delete -f "$id"
	# After: the daemon's banned set is empty again (it may use CPU 1).
	nh_wait_for bash -c "grep 'Banned CPUs' '$NH_T/irqbalance.log' | tail -1 | grep -q 'Banned CPUs: 00000000'"
	kill "$IRQBALANCE_PID"
	wait "$IRQBALANCE_PID" 2>/dev/null || true
	IRQBALANCE_PID=
	# irqbalance itself moved IRQs while it ran (its job, not nodehook's): what nodehook owns is
	# compared (the file, the mask, the records), then setup's affinities are written back.
	cmp "$NH_T/irqbalance.before" "$IRQB" || nh_fail "the irqbalance file differs"
	[ "$(cat /proc/irq/default_smp_affinity)" = "$(awk '$1 == "default" {print $2}' "$NH_T/irq.before")" ] ||
		nh_fail "default mask not restored"
	local aff
	while read -r n aff; do
		[ "$n" != default ] && [ -f "/proc/irq/$n/smp_affinity_list" ] || continue
		[ "$(cat "/proc/irq/$n/smp_affinity_list")" = "$aff" ] && continue
		echo "# IRQ $n: irqbalance left it on $(cat "/proc/irq/$n/smp_affinity_list"); writing back $aff" >&3
		echo "$aff" >"/proc/irq/$n/smp_affinity_list"
	done <"$NH_T/irq.before"
	assert_irq_restored "after irqbalance"
}

@test "crash at every point of apply: gc puts the IRQs, the default mask and the irqbalance file back" {
	local n id completed=0
	for ((n = 1; n <= 40; n++)); do
		write_hooks --crash-at "$n"
		bundle "c$n" 1 disable
		id=$(nh_id "crash-$n")
		run --separate-stderr nh_runc_start create "$id" "$B"
		if [ "$status" -eq 0 ]; then
			completed=$n
			assert_cpu1_banned
			nh_nolock runc delete -f "$id"
		else
			[[ $stderr == *"signal: killed"* ]] || nh_fail "crash point $n: not killed:" "$stderr"
		fi
		run --separate-stderr "$NODEHOOK_BIN" gc
		nh_assert_status 0
		assert_irq_restored "crash point $n" || return 1
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -gt 0 ] || nh_fail "still crashing at point 40"
	[ "$completed" -ge 4 ] || nh_fail "only $((completed - 1)) crash points"
	echo "# $((completed - 1)) crash points, each repaired by gc" >&3
}

@test "20 parallel lifecycles (disable on 1, housekeeping on 0-1): the node ends byte-identical" {
	bundle p1 1 disable
	local b1=$B i pids=()
	bundle p2 0-1 housekeeping
	local b2=$B
	mkdir -p "$NH_T/out"
	for ((i = 0; i < 20; i++)); do
		(
			id=$(nh_id "p$i") b=$b1
			[ $((i % 2)) = 1 ] && b=$b2
			if ! nh_runc_start run "$id" "$b" 2>"$NH_T/out/$i.err"; then
				echo "$id: run failed: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i"
				exit 0
			fi
			[ "$(cat /proc/irq/default_smp_affinity)" = 1 ] || echo "$id: mask $(cat /proc/irq/default_smp_affinity) while running" >>"$NH_T/out/$i"
			nh_nolock runc delete -f "$id" 2>>"$NH_T/out/$i.err" || echo "$id: delete failed" >>"$NH_T/out/$i"
			[ -s "$NH_T/out/$i" ] || echo ok >"$NH_T/out/$i"
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for ((i = 0; i < 20; i++)); do
		[ "$(cat "$NH_T/out/$i")" = ok ] || nh_fail "lifecycle $i:" "$(cat "$NH_T/out/$i")" || return 1
	done
	assert_irq_restored "after 20 parallel lifecycles"
}

@test "hostile values: the start fails naming the key and the accepted values; the node is unchanged" {
	local v i=0
	for v in junk Disable 'disable ' '' enable "$(printf 'x%.0s' {1..300})" $'disable\nhousekeeping'; do
		i=$((i + 1))
		bundle "h$i" 1 "$v"
		run --separate-stderr nh_runc_start create "$(nh_id "h$i")" "$B"
		[ "$status" -ne 0 ] || nh_fail "value '$v' was accepted" || return 1
		# runc quotes the hook's stderr: its quotes come back as \".
		[[ $stderr == *"annotation '$ANN': invalid value"*'expected \"disable\" or \"housekeeping\"'* ]] ||
			nh_fail "value '$v': the message does not name the key and the accepted values:" "$stderr" || return 1
		assert_irq_restored "value '$v'" || return 1
	done
}

@test "crash at every point of undo in the poststop hook: gc puts the node back exactly" {
	local n id completed=0
	for ((n = 1; n <= 40; n++)); do
		write_hooks
		jq -c --arg c "NODEHOOK_TEST_CRASH_AT=$n" '.hook.env += [$c]' "$HOOKS/poststop.json" >"$NH_T/p.json" &&
			mv "$NH_T/p.json" "$HOOKS/poststop.json"
		bundle "u$n" 1 disable
		id=$(nh_id "undo-$n")
		nh_runc_start create "$id" "$B"
		assert_cpu1_banned
		run --separate-stderr nh_nolock runc delete -f "$id"
		if [[ $stderr == *"signal: killed"* ]]; then
			[ -f "$NH_STATE/containers/$id.json" ] || nh_fail "crash point $n: no record for gc" || return 1
		else
			completed=$n
		fi
		run --separate-stderr "$NODEHOOK_BIN" gc
		nh_assert_status 0
		assert_irq_restored "undo crash point $n" || return 1
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -ge 2 ] || nh_fail "only $((completed - 1)) crash points in undo"
	echo "# undo: $((completed - 1)) crash points, each repaired by gc" >&3
}

@test "reboot: the irqbalance file outlives it, the records do not; gc in the new boot puts the file back" {
	bundle r 1 disable
	local id
	id=$(nh_id r)
	nh_runc_start run "$id" "$B"
	grep -qx 'IRQBALANCE_BANNED_CPULIST=1' "$IRQB"
	# The reboot, as far as nodehook can tell: the kept copy names another boot, the state dir
	# (on a tmpfs) is empty, the kernel's IRQ settings are back to their boot values.
	nh_nolock runc kill "$id" KILL
	jq -c '.boot_id = "00000000-0000-4000-8000-000000000000"' "$NH_T/persist/irqbalance.json" >"$NH_T/k" &&
		mv "$NH_T/k" "$NH_T/persist/irqbalance.json"
	mv "$NH_STATE" "$NH_STATE.before-reboot"
	local n aff
	while read -r n aff; do
		if [ "$n" = default ]; then echo "$aff" >/proc/irq/default_smp_affinity; continue; fi
		[ -f "/proc/irq/$n/smp_affinity_list" ] && echo "$aff" >"/proc/irq/$n/smp_affinity_list" 2>/dev/null || true
	done <"$NH_T/irq.before"
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	cmp "$NH_T/irqbalance.before" "$IRQB" || nh_fail "gc after the reboot did not put the file back:" "$(cat "$IRQB")"
	[ ! -e "$NH_T/persist/irqbalance.json" ] || nh_fail "the kept copy is still there"
	# What the old boot's records described is gone with it.
	rm -rf "$NH_STATE.before-reboot"
	nh_nolock runc delete -f "$id"
	assert_irq_restored "after the reboot"
}
