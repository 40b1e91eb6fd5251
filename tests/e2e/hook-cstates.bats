#!/usr/bin/env bats
# `nodehook hook` with the cpu-c-states action on the real kernel with the real runc: CPU 1's
# PM QoS resume latency (/sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us) and its
# cpuidle states (cpuidle/stateK/disable; this machine's haltpoll driver has "POLL" and
# "haltpoll idle"), while a container pinned to CPU 1 runs, and back after.
#
# One test runs through nodehook-runtime (the runc wrapper): `update` moves the settings to the
# new CPUs, and the wrapper's own undo at `delete` restores them (no poststop hook).
#
# And cpu-freq-governor, which this machine cannot show: it has no cpufreq driver
# (/sys/devices/system/cpu/cpufreq is empty). Those tests run the real `nodehook hook` binary by
# hand against a FAKE cpufreq tree under a scratch sysroot (the node config's "sysroot", see
# docs/CONFIGURATION.md), and say so in their names; the same for cpuidle states this machine
# lacks (a fake "C6").
#
# Each test: the node lock and cpuset snapshot of lib/node.bash (cpu-c-states changes no
# cpuset, and the tests check it does not), a snapshot of every CPU's pm_qos_resume_latency_us
# and cpuidle/state*/disable, and after the test these files must be byte-identical to it, with
# no ledger and no record left. Teardown, as a last resort, writes back every one of these files
# that still differs from the snapshot taken in setup, saying so on fd 3 (it means a test left
# the node changed; the test itself has failed by then).

load lib/common
load lib/node
load lib/hook

CST=cpu-c-states.nodehook.io
GOV=cpu-freq-governor.nodehook.io
SYSCPU=/sys/devices/system/cpu
QOS1=$SYSCPU/cpu1/power/pm_qos_resume_latency_us

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup || return 1
	[ -f "$QOS1" ] || skip "CPU 1 has no $QOS1 (kernel without per-CPU PM QoS)"
	[ -f "$SYSCPU/cpu1/cpuidle/state1/name" ] || skip "CPU 1 has no cpuidle states"
	cst_snapshot >"$NH_T/cst.orig"
	cp "$NH_T/cst.orig" "$NH_T/cst.before"
	HOOKS=$NH_T/hooks.d
	write_hooks "$HOOKS"
}

teardown() {
	nh_node_teardown
	cst_force_restore
	[ -z "${NH_STATE_BASE:-}" ] || rm -rf "$NH_STATE_BASE"
	nh_teardown
}

# Every CPU's PM QoS and idle-state switches, "PATH VALUE", one a line.
cst_snapshot() {
	local f v
	for f in "$SYSCPU"/cpu[0-9]*/power/pm_qos_resume_latency_us "$SYSCPU"/cpu[0-9]*/cpuidle/state[0-9]*/disable; do
		[ -f "$f" ] || continue
		read -r v <"$f" && echo "$f $v"
	done
}

# The last resort (see the top): the test's baseline back where it differs, said on fd 3; then
# setup's values, quietly, where a test preset one (preset_qos).
cst_force_restore() {
	[ -f "${NH_T:-}/cst.orig" ] || return 0
	local f v now
	while read -r f v; do
		read -r now <"$f" || continue
		[ "$now" = "$v" ] && continue
		echo "# teardown (last resort): $f is $now, writing back $v" >&3
		echo "$v" >"$f" || true
	done <"$NH_T/cst.before"
	while read -r f v; do
		read -r now <"$f" || continue
		[ "$now" = "$v" ] || echo "$v" >"$f" || true
	done <"$NH_T/cst.orig"
}

# preset_qos VALUE: CPU 1's latency set to VALUE before the test, so that an exact restore shows
# (0 is the default and also what "enable" writes). The test's baseline is then that.
preset_qos() {
	echo "$1" >"$QOS1"
	cst_snapshot >"$NH_T/cst.before"
}

# The node is as before: the files, the cpusets, no ledger, no record.
assert_restored() {
	local now
	now=$(cst_snapshot)
	[ "$now" = "$(cat "$NH_T/cst.before")" ] ||
		nh_fail "${1:-}: CPU settings differ from before:" "$(diff "$NH_T/cst.before" <(echo "$now"))"
	[ ! -e "$NH_STATE/cpu-c-states.json" ] || nh_fail "${1:-}: the ledger is still there:" "$(cat "$NH_STATE/cpu-c-states.json")"
	nh_assert_node_restored
}

# write_hooks DIR [--crash-at N] [--crash-poststop-at N] [--no-poststop]: nodehook at
# createRuntime and poststop for containers with a cpu-c-states.* or cpu-freq-governor.*
# annotation; NODEHOOK_TEST_CRASH_AT=N in one hook's env when asked.
write_hooks() {
	local dir=$1 crash_c='' crash_p='' poststop=1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--crash-at) crash_c=", \"NODEHOOK_TEST_CRASH_AT=$2\"" && shift ;;
		--crash-poststop-at) crash_p=", \"NODEHOOK_TEST_CRASH_AT=$2\"" && shift ;;
		--no-poststop) poststop= ;;
		esac
		shift
	done
	mkdir -p "$dir"
	rm -f "$dir"/*.json
	local when='{"annotations": {"^cpu-(c-states|freq-governor)\\.[^/]+(/.*)?$": ".*"}}'
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "createRuntime"], "env": ["NODEHOOK_CONFIG=%s"%s]}, "when": %s, "stages": ["createRuntime"]}\n' \
		"$NODEHOOK_BIN" "$NH_NODE_CONFIG" "$crash_c" "$when" >"$dir/createRuntime.json"
	[ -n "$poststop" ] || return 0
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "poststop"], "env": ["NODEHOOK_CONFIG=%s"%s]}, "when": %s, "stages": ["poststop"]}\n' \
		"$NODEHOOK_BIN" "$NH_NODE_CONFIG" "$crash_p" "$when" >"$dir/poststop.json"
}

# make_bundle NAME VALUE [CPUS [HOOKS_DIR]]: $NH_T/NAME, busybox sleeping, pinned to CPUS
# (default 1), annotated cpu-c-states = VALUE, hooks injected. Sets B and ID.
make_bundle() {
	B=$NH_T/$1
	ID=$(nh_id "$1")
	nh_bundle "$B" --arg a "$CST" --arg v "$2" --arg c "${3:-1}" \
		'.process.args = ["sleep", "300"] | .linux.resources.cpu = {cpus: $c, mems: "0"}
		| .annotations = {($a): $v}' || return 1
	nodehook hooks inject --bundle "$B" --hooks-dir "${4:-$HOOKS}" --no-cache
}

# rehook BUNDLE HOOKS_DIR: the bundle's hooks replaced by HOOKS_DIR's.
rehook() {
	nh_json_edit "$1/config.json" 'del(.hooks)'
	nodehook hooks inject --bundle "$1" --hooks-dir "$2" --no-cache
}

# start ID BUNDLE: runc run -d; sets status, and stderr to runc's.
start() {
	run --separate-stderr nh_runc_start run "$1" "$2"
}

qos1() {
	cat "$QOS1"
}

idle1() { # STATE_INDEX
	cat "$SYSCPU/cpu1/cpuidle/state$1/disable"
}

@test "c-states: CPU 1's pm_qos_resume_latency_us is n/a, 0 or N while an annotated container pinned to CPU 1 runs, and its original after" {
	preset_qos 100
	local value want
	for value in disable enable max_latency:20; do
		case $value in
		disable) want=n/a ;; enable) want=0 ;; *) want=20 ;;
		esac
		make_bundle "q-${value%%:*}" "$value"
		start "$ID" "$B"
		nh_assert_status 0
		nh_assert_eq "$want" "$(qos1)" "CPU 1's latency while $value runs"
		nh_assert_eq 0 "$(cat "$SYSCPU/cpu0/power/pm_qos_resume_latency_us")" "CPU 0's latency (not the container's)"
		runc delete -f "$ID"
		nh_assert_eq 100 "$(qos1)" "CPU 1's latency after $value"
		assert_restored "after $value"
	done
}

@test "c-states: an idle state disabled by name (\"haltpoll idle\") on CPU 1 while the container runs, and enabled again after" {
	local name1
	name1=$(cat "$SYSCPU/cpu1/cpuidle/state1/name")
	make_bundle idle "disable_states:$name1"
	start "$ID" "$B"
	nh_assert_status 0
	nh_assert_eq 1 "$(idle1 1)" "CPU 1 state1 ($name1) disable"
	nh_assert_eq 0 "$(idle1 0)" "CPU 1 state0 (not asked)"
	nh_assert_eq 0 "$(cat "$SYSCPU/cpu0/cpuidle/state1/disable")" "CPU 0 state1 (not the container's)"
	nh_assert_eq 0 "$(qos1)" "CPU 1's latency (not asked)"
	runc delete -f "$ID"
	assert_restored
}

@test "c-states: status shows the per-CPU old and new values (text and JSON) while the container runs" {
	preset_qos 100
	make_bundle st "disable;disable_states:POLL"
	start "$ID" "$B"
	nh_assert_status 0
	nodehook status --json >"$NH_T/status.json"
	nh_jq_assert "$NH_T/status.json" --arg id "$ID" \
		'.containers[] | select(.id == $id) | .actions[] | select(.action == "cpu-c-states")
		| .value == "disable;disable_states:POLL" and .backend == "sysfs" and .cpus == "1"
		  and .details == {"cpu1/pm_qos_resume_latency_us": ["100", "n/a"], "cpu1/cpuidle/POLL": ["0", "1"]}'
	run --separate-stderr nodehook status
	nh_assert_status 0
	[[ $output == *"cpu1/pm_qos_resume_latency_us=100,n/a cpu1/cpuidle/POLL=0,1"* ]] ||
		nh_fail "the text status does not show the old and new values:" "$output"
	runc delete -f "$ID"
	assert_restored
}

@test "c-states: nodehook restore ID puts CPU 1 back while the container still runs; its delete then finds nothing to undo" {
	preset_qos 100
	make_bundle rs "disable;disable_states:POLL"
	start "$ID" "$B"
	nh_assert_status 0
	nh_assert_eq n/a "$(qos1)"
	run --separate-stderr nodehook restore "$ID"
	nh_assert_status 0
	nh_assert_eq "$ID: restored (cpu-c-states)" "$output" "restore's output"
	nh_assert_eq "$(cat "$NH_T/cst.before")" "$(cst_snapshot)" "CPU settings after restore"
	nh_assert_node_restored "/$ID/" # the container's own cpuset: it still runs
	runc delete -f "$ID"
	assert_restored "after delete"
}

runc_stopped() {
	[ "$(nh_runc_status "$1")" = stopped ]
}

@test "c-states: a container that exits by itself is restored at its delete (CRI-O restores only at StopContainer)" {
	preset_qos 100
	make_bundle self "max_latency:3"
	nh_json_edit "$B/config.json" '.process.args = ["sleep", "0.2"]'
	start "$ID" "$B"
	nh_assert_status 0
	nh_wait_for runc_stopped "$ID"
	nh_assert_eq 3 "$(qos1)" "CPU 1's latency after the exit, before delete"
	runc delete "$ID"
	assert_restored
}

@test "c-states: an unknown idle state name is refused, naming the key and the states CPU 1 has; the node is unchanged" {
	make_bundle unknown "disable_states:POLL,C6"
	start "$ID" "$B"
	[ "$status" -ne 0 ] || nh_fail "runc run succeeded"
	# runc quotes the hook's stderr: its quotes come back escaped.
	[[ ${stderr//\\/} == *"cpu-c-states ('$CST'): CPU 1 has no idle state named \"C6\" (it has: \"POLL\", \"haltpoll idle\")"* ]] ||
		nh_fail "not refused for the unknown name:" "$stderr"
	assert_restored
}

@test "c-states: hostile values fail the start naming the key and the accepted values, and leave the node unchanged" {
	local v i=0
	for v in "max_latency:0" "max_latency:-5" "max_latency:abc" "max_latency:" "Disable" "true" "" \
		"disable_states:" "disable_states:POLL,POLL" "disable_states:../../../../proc/sys/kernel/x" \
		"max_latency:99999999999" "disable;enable" $'disable\nenable' "disable_states:POLL;disable"; do
		i=$((i + 1))
		make_bundle "h$i" "$v"
		start "$ID" "$B"
		[ "$status" -ne 0 ] || nh_fail "value '$v' was accepted"
		[[ ${stderr//\\/} == *"annotation '$CST': invalid value"*'(expected "enable", "disable" or "max_latency:N" (N > 0 microseconds)'* ]] ||
			nh_fail "value '$v': not refused with the key and the accepted values:" "$stderr"
		assert_restored "value '$v'"
	done
}

@test "c-states: two containers on CPU 1, stopped in either order: the original comes back only when the last goes" {
	preset_qos 100
	local order a b
	make_bundle two-a "disable;disable_states:POLL"
	make_bundle two-b "disable;disable_states:POLL"
	for order in ab ba; do
		a=$(nh_id "two-a-$order")
		b=$(nh_id "two-b-$order")
		start "$a" "$NH_T/two-a"
		nh_assert_status 0
		start "$b" "$NH_T/two-b"
		nh_assert_status 0
		if [ "$order" = ab ]; then runc delete -f "$a"; else runc delete -f "$b"; fi
		nh_assert_eq n/a "$(qos1)" "CPU 1's latency with one container left ($order)"
		nh_assert_eq 1 "$(idle1 0)" "CPU 1's POLL with one container left ($order)"
		if [ "$order" = ab ]; then runc delete -f "$b"; else runc delete -f "$a"; fi
		assert_restored "order $order"
	done
}

@test "c-states: a second container asking another value for CPU 1 is refused naming the holder; the first keeps its value" {
	preset_qos 100
	make_bundle first "max_latency:10"
	local first=$ID
	start "$ID" "$B"
	nh_assert_status 0
	make_bundle second "disable"
	start "$ID" "$B"
	[ "$status" -ne 0 ] || nh_fail "the second container started"
	[[ $stderr == *"is held at '10' by container $first; this container asks 'n/a'"* ]] ||
		nh_fail "not refused naming the holder:" "$stderr"
	nh_assert_eq 10 "$(qos1)" "CPU 1's latency (the first container's)"
	runc delete -f "$first"
	assert_restored
}

@test "c-states: a container started again under its id without its poststop (CRI-O #7827) restores the true original" {
	preset_qos 100
	local nopost=$NH_T/hooks-nopost
	write_hooks "$nopost" --no-poststop
	make_bundle again disable 1 "$nopost"
	start "$ID" "$B"
	nh_assert_status 0
	nh_assert_eq n/a "$(qos1)"
	runc delete -f "$ID" # no poststop: the record and the ledger stay, CPU 1 stays changed
	nh_assert_eq n/a "$(qos1)" "CPU 1's latency after a delete without poststop"
	rehook "$B" "$HOOKS"
	start "$ID" "$B"
	nh_assert_status 0
	nh_assert_eq n/a "$(qos1)"
	runc delete -f "$ID"
	nh_assert_eq 100 "$(qos1)" "CPU 1's latency: the original, not the value the first run wrote"
	assert_restored
}

@test "c-states: kill -9 at every crash point of apply, no poststop hook: gc puts every file back" {
	preset_qos 100
	local n id completed=0 hooks=$NH_T/hooks-crash
	for ((n = 1; n <= 40; n++)); do
		write_hooks "$hooks" --crash-at "$n" --no-poststop
		make_bundle "ca$n" "max_latency:5;disable_states:POLL,haltpoll idle" 1 "$hooks"
		id=$ID
		start "$id" "$B"
		if [ "$status" -eq 0 ]; then
			completed=$n
			runc delete -f "$id"
		else
			[[ $stderr == *"signal: killed"* ]] ||
				nh_fail "crash point $n: runc failed, but not because the hook was killed:" "$stderr"
			[ -f "$NH_STATE/containers/$id.json" ] ||
				nh_fail "crash point $n: no record of $id for gc to work from"
		fi
		run --separate-stderr nodehook gc
		nh_assert_status 0
		assert_restored "after crash point $n"
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -gt 0 ] || nh_fail "the hook still crashed at crash point 40"
	# One crash point per file: the latency and two idle states of CPU 1.
	nh_assert_eq 4 "$completed" "the first run that got through"
}

@test "c-states: kill -9 at every crash point of undo in the poststop hook: gc puts every file back" {
	preset_qos 100
	local n id completed=0 hooks=$NH_T/hooks-crashp
	for ((n = 1; n <= 40; n++)); do
		write_hooks "$hooks" --crash-poststop-at "$n"
		make_bundle "cu$n" "max_latency:5;disable_states:POLL,haltpoll idle" 1 "$hooks"
		id=$ID
		start "$id" "$B"
		nh_assert_status 0
		nh_assert_eq 5 "$(qos1)"
		run --separate-stderr runc delete -f "$id"
		if [[ $stderr == *"signal: killed"* ]]; then
			[ -f "$NH_STATE/containers/$id.json" ] ||
				nh_fail "crash point $n: no record of $id for gc to work from"
		else
			completed=$n
		fi
		run --separate-stderr nodehook gc
		nh_assert_status 0
		assert_restored "after crash point $n of undo"
		[ "$completed" -gt 0 ] && break
	done
	[ "$completed" -gt 0 ] || nh_fail "the poststop hook still crashed at crash point 40"
	nh_assert_eq 4 "$completed" "the first undo that got through"
}

@test "c-states through nodehook-runtime (the wrapper): update moves the settings from CPU 1 to CPU 0, delete restores both without a poststop hook" {
	preset_qos 100
	local w=$NH_T/bin/nodehook-runtime hooks=$NH_T/hooks-wrapper
	mkdir -p "$NH_T/bin"
	ln -s "$NODEHOOK_BIN" "$w"
	# The wrapper's node config: its hooks.d (createRuntime only: the undo at delete is the
	# wrapper's own) and the runtime it execs.
	NH_NODE_CONFIG=$NH_T/wrapper.json
	printf '{"state_dir": "%s", "hooks_dirs": ["%s"], "runtime": "/usr/bin/runc"}\n' "$NH_STATE" "$hooks" >"$NH_NODE_CONFIG"
	export NODEHOOK_CONFIG=$NH_NODE_CONFIG
	write_hooks "$hooks" --no-poststop
	ID=$(nh_id wrap)
	nh_bundle "$NH_T/wrap" --arg a "$CST" '.process.args = ["sleep", "300"]
		| .linux.resources.cpu = {cpus: "1", mems: "0"} | .annotations = {($a): "disable;disable_states:POLL"}'
	echo "runc $ID" >>"$NH_T/.containers"
	nh_nolock "$w" run -d --bundle "$NH_T/wrap" "$ID" </dev/null >"$NH_T/wrap.out" 2>&1 ||
		nh_fail "run through the wrapper failed:" "$(cat "$NH_T/wrap.out")"
	nh_assert_eq n/a "$(qos1)" "CPU 1's latency"
	local qos0=$SYSCPU/cpu0/power/pm_qos_resume_latency_us
	# As the kubelet's UpdateContainerResources sends it: the resources on stdin.
	run --separate-stderr "$w" update --resources - "$ID" <<<'{"cpu": {"cpus": "0"}}'
	nh_assert_status 0
	nh_assert_eq n/a "$(cat "$qos0")" "CPU 0's latency after the update"
	nh_assert_eq 1 "$(cat "$SYSCPU/cpu0/cpuidle/state0/disable")" "CPU 0's POLL after the update"
	nh_assert_eq 100 "$(qos1)" "CPU 1's latency after the update (its original)"
	nh_assert_eq 0 "$(idle1 0)" "CPU 1's POLL after the update"
	nh_jq_assert "$NH_STATE/containers/$ID.json" '.actions["cpu-c-states"].cpus == "0"'
	run --separate-stderr "$w" delete --force "$ID"
	nh_assert_status 0
	[ ! -e "$NH_STATE/containers/$ID.json" ] || nh_fail "the record is still there after delete"
	assert_restored
}

# life I: one container's life on CPU 1; its outcome in $NH_T/out/I.
life() {
	local i=$1 id rc=0
	id=$(nh_id "p$i")
	nh_runc_start run "$id" "$NH_T/par" 2>"$NH_T/out/$i.err" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "$id: runc run failed: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i"
		return
	fi
	sleep "0.$((RANDOM % 4))"
	nh_nolock runc delete -f "$id" 2>>"$NH_T/out/$i.err" ||
		{ echo "$id: runc delete failed: $(cat "$NH_T/out/$i.err")" >"$NH_T/out/$i" && return; }
	echo ok >"$NH_T/out/$i"
}

@test "c-states: 20 lifecycles in parallel on CPU 1 next to a running one: CPU 1 stays changed, then every file is back" {
	preset_qos 100
	make_bundle par "disable;disable_states:POLL"
	local anchor
	anchor=$(nh_id anchor)
	start "$anchor" "$NH_T/par"
	nh_assert_status 0
	mkdir -p "$NH_T/out"
	local i pids=()
	for ((i = 1; i <= 20; i++)); do
		life "$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for ((i = 1; i <= 20; i++)); do
		nh_assert_eq ok "$(cat "$NH_T/out/$i" 2>/dev/null)" "lifecycle $i"
	done
	nh_assert_eq n/a "$(qos1)" "CPU 1's latency while the anchor runs"
	nh_assert_eq 1 "$(idle1 0)" "CPU 1's POLL while the anchor runs"
	runc delete -f "$anchor"
	assert_restored
}

# --- fake trees through the sysroot ---------------------------------------------------------

# fake_sysroot: $FAKE, a scratch sysroot (its own boot id) with 4 CPUs: PM QoS, the idle states
# POLL, C1E and C6, and cpufreq policies 0 (CPUs 0-1), 2 (CPU 2) and 3 (CPU 3), each
# powersave of "performance powersave schedutil"; the node config names it.
fake_sysroot() {
	FAKE=$NH_T/sysroot
	local c k m
	mkdir -p "$FAKE/proc/sys/kernel/random"
	cat /proc/sys/kernel/random/uuid >"$FAKE/proc/sys/kernel/random/boot_id"
	for c in 0 1 2 3; do
		mkdir -p "$FAKE$SYSCPU/cpu$c/power"
		echo 0 >"$FAKE$SYSCPU/cpu$c/power/pm_qos_resume_latency_us"
		k=0
		for name in POLL C1E C6; do
			mkdir -p "$FAKE$SYSCPU/cpu$c/cpuidle/state$k"
			echo "$name" >"$FAKE$SYSCPU/cpu$c/cpuidle/state$k/name"
			echo 0 >"$FAKE$SYSCPU/cpu$c/cpuidle/state$k/disable"
			k=$((k + 1))
		done
	done
	for m in 0 2 3; do
		mkdir -p "$FAKE$SYSCPU/cpufreq/policy$m"
		echo powersave >"$FAKE$SYSCPU/cpufreq/policy$m/scaling_governor"
		echo "performance powersave schedutil" >"$FAKE$SYSCPU/cpufreq/policy$m/scaling_available_governors"
	done
	echo 0-1 >"$FAKE$SYSCPU/cpufreq/policy0/related_cpus"
	echo 2 >"$FAKE$SYSCPU/cpufreq/policy2/related_cpus"
	echo 3 >"$FAKE$SYSCPU/cpufreq/policy3/related_cpus"
	for c in 0 1; do ln -s ../cpufreq/policy0 "$FAKE$SYSCPU/cpu$c/cpufreq"; done
	ln -s ../cpufreq/policy2 "$FAKE$SYSCPU/cpu2/cpufreq"
	ln -s ../cpufreq/policy3 "$FAKE$SYSCPU/cpu3/cpufreq"
	echo 0-3 >"$FAKE$SYSCPU/online"
	printf '{"state_dir": "%s", "sysroot": "%s"}\n' "$NH_STATE" "$FAKE" >"$NH_NODE_CONFIG"
	(cd "$FAKE" && find . -type f -exec sh -c 'printf "%s %s\n" "$1" "$(cat "$1")"' _ {} \; | sort) >"$NH_T/fake.before"
}

fake_listing() {
	(cd "$FAKE" && find . -type f -exec sh -c 'printf "%s %s\n" "$1" "$(cat "$1")"' _ {} \; | sort)
}

assert_fake_restored() {
	local now
	now=$(fake_listing)
	[ "$now" = "$(cat "$NH_T/fake.before")" ] ||
		nh_fail "${1:-}: the fake tree differs:" "$(diff "$NH_T/fake.before" <(echo "$now"))"
	[ -z "$(ls "$NH_STATE/containers" 2>/dev/null)" ] || nh_fail "${1:-}: records left"
}

# fake_ctr NAME CPUS KEY VALUE: a bundle (config.json only: the hook is run by hand) and $STATE,
# the state JSON runc would give the hook (no pid: nothing under the fake /proc).
fake_ctr() {
	B=$NH_T/$1
	ID=$(nh_id "$1")
	mkdir -p "$B"
	jq -n --arg c "$2" --arg k "$3" --arg v "$4" \
		'{ociVersion: "1.0.2-dev", process: {args: ["true"]}, root: {path: "rootfs"},
		  linux: {resources: {cpu: {cpus: $c, mems: "0"}}}, annotations: {($k): $v}}' >"$B/config.json"
	STATE=$(jq -cn --arg id "$ID" --arg b "$B" '{ociVersion: "1.0.2-dev", id: $id, status: "creating", bundle: $b}')
}

fake_gov() { # POLICY
	cat "$FAKE$SYSCPU/cpufreq/policy$1/scaling_governor"
}

@test "cpu-freq-governor (fake cpufreq tree via the sysroot: no cpufreq driver here): the policy's governor while the container runs, back after" {
	fake_sysroot
	fake_ctr g1 2-3 "$GOV" performance
	nh_hook createRuntime "$STATE"
	nh_assert_status 0
	nh_assert_eq performance "$(fake_gov 2)" "policy2"
	nh_assert_eq performance "$(fake_gov 3)" "policy3"
	nh_assert_eq powersave "$(fake_gov 0)" "policy0 (not the container's)"
	nodehook status --json >"$NH_T/status.json"
	nh_jq_assert "$NH_T/status.json" --arg id "$ID" \
		'.containers[] | select(.id == $id) | .actions[0].details
		 == {"cpu2/cpufreq/scaling_governor": ["powersave", "performance"],
		     "cpu3/cpufreq/scaling_governor": ["powersave", "performance"]}'
	nh_hook poststop "$STATE"
	nh_assert_status 0
	assert_fake_restored
}

@test "cpu-freq-governor (fake cpufreq tree via the sysroot): an unknown governor is refused naming the available ones; a policy shared with CPUs the container does not own is refused" {
	fake_sysroot
	fake_ctr g2 2 "$GOV" ondemand
	nh_hook createRuntime "$STATE"
	[ "$status" -ne 0 ] || nh_fail "ondemand was accepted"
	[[ $stderr == *"governor \"ondemand\" is not available for CPU 2 (policy2 has: performance powersave schedutil)"* ]] ||
		nh_fail "not refused naming the available governors:" "$stderr"
	fake_ctr g3 1 "$GOV" performance
	nh_hook createRuntime "$STATE"
	[ "$status" -ne 0 ] || nh_fail "a shared policy was accepted"
	[[ $stderr == *"cpufreq policy0 governs CPUs 0-1, not all the container's (1)"* ]] ||
		nh_fail "not refused for the shared policy:" "$stderr"
	assert_fake_restored
}

@test "cpu-freq-governor (fake cpufreq tree via the sysroot): two containers sharing a policy's value, either stop order; a crash then gc restores" {
	fake_sysroot
	fake_ctr g4 0-1 "$GOV" schedutil
	local s4=$STATE
	fake_ctr g5 0-2 "$GOV" schedutil
	local s5=$STATE
	nh_hook createRuntime "$s4"
	nh_assert_status 0
	nh_hook createRuntime "$s5"
	nh_assert_status 0
	nh_hook poststop "$s4"
	nh_assert_eq schedutil "$(fake_gov 0)" "policy0 while g5 holds it"
	nh_hook poststop "$s5"
	assert_fake_restored "after both"
	# Killed between the ledger and the second policy's write: gc (the container is gone: no
	# process under the fake /proc, no runtime recorded) puts both back.
	fake_ctr g6 2-3 "$GOV" performance
	run --separate-stderr env -i NODEHOOK_CONFIG="$NH_NODE_CONFIG" NODEHOOK_TEST_CRASH_AT=2 \
		"$NODEHOOK_BIN" hook --stage createRuntime <<<"$STATE"
	[ "$status" -eq 137 ] || nh_fail "the hook was not killed (status $status)" "$stderr"
	nh_assert_eq performance "$(fake_gov 2)"
	run --separate-stderr nodehook gc
	nh_assert_status 0
	[[ $output == "$ID: gone, restored (cpu-freq-governor)" ]] || nh_fail "gc did not restore $ID:" "$output"
	assert_fake_restored "after the crash and gc"
}

@test "c-states (fake cpuidle tree via the sysroot: this machine has no C6): idle states this machine lacks, disabled and enabled again" {
	fake_sysroot
	fake_ctr i1 2-3 "$CST" "max_latency:50;disable_states:C1E,C6"
	nh_hook createRuntime "$STATE"
	nh_assert_status 0
	nh_assert_eq 1 "$(cat "$FAKE$SYSCPU/cpu3/cpuidle/state2/disable")" "cpu3 C6"
	nh_assert_eq 0 "$(cat "$FAKE$SYSCPU/cpu3/cpuidle/state0/disable")" "cpu3 POLL"
	nh_assert_eq 50 "$(cat "$FAKE$SYSCPU/cpu2/power/pm_qos_resume_latency_us")"
	nh_hook poststop "$STATE"
	nh_assert_status 0
	assert_fake_restored
}
