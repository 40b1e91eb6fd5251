#!/usr/bin/env bats
# `nodehook hooks inject` end to end: hooks.d files written here, injected into a busybox bundle,
# run by the real runc (and crun, through the crun-nohybrid workaround, when it works here).
# The hooks are one recording script (lib/common.bash, nh_recorder) that logs its arguments, cwd,
# environment, pid namespace and the state JSON it reads on stdin.

load lib/common

STAGES=(prestart createRuntime createContainer startContainer poststart poststop)

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_require_root
	nh_require_cmds runc jq
	nh_setup
	nh_recorder
	HOOKS=$NH_T/hooks.d
	mkdir -p "$HOOKS"
}

teardown() {
	nh_teardown
}

# A bundle NAME under $NH_T with the recorder's mounts and the given annotations (JSON object).
make_bundle() {
	local name=$1 annotations=${2:-'{}'}
	nh_bundle "$NH_T/$name" --argjson a "$annotations" ".annotations = \$a | $(nh_recorder_mounts)"
}

# One hook file per stage, named after it, matching containers annotated nh.e2e/run=yes.
write_stage_hooks() {
	local s
	for s in "${STAGES[@]}"; do
		nh_hook_file "$HOOKS" "$s.json" "$s" '{"annotations": {"^nh\\.e2e/run$": "^yes$"}}'
	done
}

# What inject must write for write_stage_hooks with the default --prestart-as createRuntime:
# prestart lands in createRuntime, after createRuntime.json (file names ordered lowercased).
expected_stage_hooks() {
	local h='{"path": "'$NH_REC'", "args": ["record", "%s"]}'
	# shellcheck disable=SC2059
	printf "{\"createRuntime\": [$h, $h], \"createContainer\": [$h], \"startContainer\": [$h],
		\"poststart\": [$h], \"poststop\": [$h]}" \
		createRuntime prestart createContainer startContainer poststart poststop
}

# inject_and_run RUNTIME: the full-stage scenario; sets B (bundle) and ID.
inject_and_run() {
	local rt=$1
	B=$NH_T/bundle
	ID=$(nh_id full)
	make_bundle bundle '{"nh.e2e/run": "yes", "nh.e2e/owner": "hooks-runc.bats"}'
	write_stage_hooks
	run --separate-stderr nodehook hooks inject --bundle "$B" --hooks-dir "$HOOKS"
	nh_assert_status 0
	run nh_container_run "$rt" "$ID" "$B"
	nh_assert_status 0
}

# Position of a label in the recorder's order log (0-based), or -1.
pos() {
	local i=0 l
	while read -r l; do
		[ "$l" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done <"$NH_LOG/order"
	echo -1
}

# Every stage's hook ran exactly once, in an order the runtime-spec allows. (runc 1.1.5 runs
# poststart inside create, before startContainer; crun after it: both are allowed here.)
assert_every_stage_once() {
	local s n order
	order=$(nh_hook_order)
	for s in "${STAGES[@]}"; do
		n=$(grep -cx "$s" "$NH_LOG/order" || true)
		[ "$n" = 1 ] || nh_fail "hook $s ran $n times; order: $order" || return 1
	done
	local before
	for before in "createRuntime prestart" "prestart createContainer" \
		"createContainer startContainer" "createContainer poststart" \
		"startContainer poststop" "poststart poststop"; do
		set -- $before
		[ "$(pos "$1")" -lt "$(pos "$2")" ] || nh_fail "$1 must run before $2; order: $order" ||
			return 1
	done
}

# assert_states RUNTIME: the state JSON each hook read on stdin names this container, its bundle
# and its annotations; the runtime-namespace stages before the process exits know its host pid.
# crun gives startContainer (run inside the container) "bundle": "/". One jq run for all checks.
assert_states() {
	local rt=$1 s files=() problems
	for s in "${STAGES[@]}"; do
		files+=("$NH_LOG/$s.state")
	done
	problems=$(jq -r --arg id "$ID" --arg b "$B" --arg rt "$rt" --slurpfile cfg "$B/config.json" '
		(input_filename | sub(".*/"; "") | sub("[.]state$"; "")) as $s
		| (if $rt == "crun" and $s == "startContainer" then "/" else $b end) as $wb
		| (if .id != $id then "\($s): state .id \(.id | tojson), expected \($id)" else empty end),
		  (if .bundle != $wb then "\($s): state .bundle \(.bundle | tojson), expected \($wb)" else empty end),
		  (if .annotations != $cfg[0].annotations then
			"\($s): state .annotations \(.annotations | tojson), config.json has \($cfg[0].annotations | tojson)"
		   else empty end),
		  (if ($s | IN("prestart", "createRuntime", "poststart")) and
		      ((.pid | type) != "number" or .pid <= 1) then "\($s): no host pid in \(tojson)" else empty end)
		' "${files[@]}" 2>&1) || nh_fail "a hook did not read JSON on stdin: $problems" || return 1
	[ -z "$problems" ] || nh_fail "$problems"
}

# createContainer and startContainer run in the container's pid namespace, the others on the
# host, in the bundle directory; every hook got the args its hook file gave.
assert_where_and_args() {
	local s host_pidns
	host_pidns=$(readlink /proc/self/ns/pid)
	for s in prestart createRuntime poststart poststop; do
		nh_assert_eq "$host_pidns" "$(cat "$NH_LOG/$s.pidns")" "$s: pid namespace" || return 1
		nh_assert_eq "$(cd "$B" && pwd -P)" "$(cat "$NH_LOG/$s.cwd")" "$s: cwd" || return 1
	done
	local cns
	cns=$(cat "$NH_LOG/createContainer.pidns")
	[ "$cns" != "$host_pidns" ] || nh_fail "createContainer ran in the host pid namespace" || return 1
	nh_assert_eq "$cns" "$(cat "$NH_LOG/startContainer.pidns")" "startContainer: pid namespace" || return 1
	for s in "${STAGES[@]}"; do
		nh_assert_eq "$(printf '%s\n' "$NH_REC" "$s")" "$(cat "$NH_LOG/$s.args")" "$s: argv" || return 1
	done
}

# --- what inject writes ----------------------------------------------------------------------

@test "inject: matched hooks land in config.json by stage, prestart as createRuntime, rest kept" {
	make_bundle bundle '{"nh.e2e/run": "yes"}'
	write_stage_hooks
	cp "$NH_T/bundle/config.json" "$NH_T/before.json"
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
	nh_assert_status 0
	nh_assert_eq "" "$output" "stdout"
	nh_assert_eq "" "$stderr" "stderr"
	nh_jq_assert "$NH_T/bundle/config.json" --argjson e "$(expected_stage_hooks)" \
		--slurpfile before "$NH_T/before.json" '.hooks == $e and del(.hooks) == $before[0]'
	# inject writes what match prints.
	run --separate-stderr nodehook hooks match --config "$NH_T/before.json" --hooks-dir "$HOOKS"
	nh_assert_status 0
	nh_assert_json_eq "$(expected_stage_hooks)" "$output" "match output"
}

# --- runc runs them --------------------------------------------------------------------------

@test "runc: every injected hook runs once, at the stage its file names" {
	inject_and_run runc
	assert_every_stage_once
}

@test "runc: each hook reads the state JSON on stdin with the container's id, bundle, annotations" {
	inject_and_run runc
	assert_states runc
}

@test "runc: createContainer/startContainer run in the container, the others on the host in the bundle dir" {
	inject_and_run runc
	assert_where_and_args
	# startContainer resolved the hook path inside the container: the bind-mounted recorder.
	nh_assert_eq / "$(cat "$NH_LOG/startContainer.cwd")" "startContainer: cwd"
}

@test "runc: a hook file's env replaces the runtime's environment; without env the hook inherits it" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-env.json createRuntime '{"always": true}' \
		'"env": ["NH_HOOK_ENV=from-hook-file", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]'
	nh_hook_file "$HOOKS" 20-noenv.json poststart
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
	nh_assert_status 0
	export NH_E2E_OUTER=from-caller
	run nh_container_run runc "$(nh_id env)" "$NH_T/bundle"
	nh_assert_status 0
	grep -qx NH_HOOK_ENV=from-hook-file "$NH_LOG/createRuntime.env" ||
		nh_fail "createRuntime: env from the hook file missing: $(cat "$NH_LOG/createRuntime.env")"
	! grep -q '^NH_E2E_OUTER=' "$NH_LOG/createRuntime.env" ||
		nh_fail "createRuntime: inherited the caller's env although the hook sets env"
	grep -qx NH_E2E_OUTER=from-caller "$NH_LOG/poststart.env" ||
		nh_fail "poststart: without env the hook should inherit runc's environment"
}

@test "runc: a hook file's timeout reaches the runtime, which kills the hook and fails the create" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-slow.json createRuntime '{"always": true}' '"timeout": 1' '"sleep", "300"'
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
	nh_assert_status 0
	nh_jq_assert "$NH_T/bundle/config.json" '.hooks.createRuntime[0].timeout == 1'
	local t0=$SECONDS
	run nh_container_run runc "$(nh_id slow)" "$NH_T/bundle"
	[ "$status" -ne 0 ] || nh_fail "runc run succeeded although the hook ran past its timeout"
	[[ "$output" == *timeout* ]] || nh_fail "runc did not report the timeout: $output"
	nh_assert_eq createRuntime "$(nh_hook_order)" "hooks that ran"
	# Killed, not waited for: the hook (its sleep, same pid) is gone, or a zombie for init to
	# reap, and runc returned long before the hook's 300 s were up (a bound no load can reach).
	local pid
	pid=$(cat "$NH_LOG/createRuntime.pid")
	gone() { [ ! -e "/proc/$pid" ] || [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ]; }
	nh_wait_for gone || nh_fail "the hook (pid $pid) still runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	[ $((SECONDS - t0)) -lt 150 ] || nh_fail "runc took $((SECONDS - t0)) s: it waited for the hook"
}

# --- matching --------------------------------------------------------------------------------

# only_first_matches YES NO: injects $HOOKS (one createRuntime hook) into bundles $NH_T/YES and
# $NH_T/NO; YES gets the hook and runs it, NO keeps a byte-identical config.json and runs none.
only_first_matches() {
	local yes=$1 no=$2 b
	cp "$NH_T/$no/config.json" "$NH_T/$no.before"
	for b in "$yes" "$no"; do
		run --separate-stderr nodehook hooks inject --bundle "$NH_T/$b" --hooks-dir "$HOOKS"
		nh_assert_status 0 || return 1
	done
	cmp "$NH_T/$no.before" "$NH_T/$no/config.json" || nh_fail "$no: config.json changed: the hook matched" || return 1
	nh_jq_assert "$NH_T/$yes/config.json" '.hooks.createRuntime | length == 1' || return 1
	run nh_container_run runc "$(nh_id "$no")" "$NH_T/$no"
	nh_assert_status 0 || return 1
	nh_assert_eq "" "$(nh_hook_order)" "hooks run by $no" || return 1
	run nh_container_run runc "$(nh_id "$yes")" "$NH_T/$yes"
	nh_assert_status 0 || return 1
	nh_assert_eq createRuntime "$(nh_hook_order)" "hooks run by $yes" || return 1
	nh_assert_eq "$(nh_id "$yes")" "$(jq -r .id "$NH_LOG/createRuntime.state")" "state .id"
}

@test "annotations: the matching container gets the hook and runs it, the other stays byte-identical" {
	make_bundle gold '{"nh.e2e/tier": "gold"}'
	make_bundle silver '{"nh.e2e/tier": "silver", "nh.e2e/other": "gold"}'
	nh_hook_file "$HOOKS" 10-gold.json createRuntime '{"annotations": {"^nh\\.e2e/tier$": "^gold$"}}'
	only_first_matches gold silver
}

@test "annotations: --annotation KEY=VALUE makes an unannotated container match" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-gold.json createRuntime '{"annotations": {"^nh\\.e2e/tier$": "^gold$"}}'
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS" \
		--annotation nh.e2e/tier=gold
	nh_assert_status 0
	run nh_container_run runc "$(nh_id ann)" "$NH_T/bundle"
	nh_assert_status 0
	nh_assert_eq createRuntime "$(nh_hook_order)" "hooks that ran"
}

@test "commands: match process.args[0] exactly as written, no PATH lookup" {
	make_bundle abs
	make_bundle bare
	nh_json_edit "$NH_T/abs/config.json" '.process.args = ["/bin/true"]'
	nh_json_edit "$NH_T/bare/config.json" '.process.args = ["true"]'
	nh_hook_file "$HOOKS" 10-cmd.json createRuntime '{"commands": ["^/bin/true$"]}'
	only_first_matches abs bare
}

# --- config.json handling --------------------------------------------------------------------

@test "hooks already in config.json are kept, and run first" {
	make_bundle bundle
	nh_json_edit "$NH_T/bundle/config.json" --arg p "$NH_REC" \
		'.hooks = {createRuntime: [{path: $p, args: ["record", "preexisting"]}]}'
	nh_hook_file "$HOOKS" 10-cr.json createRuntime
	nh_hook_file "$HOOKS" 20-pre.json prestart
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
	nh_assert_status 0
	nh_assert_eq '["preexisting","createRuntime","prestart"]' \
		"$(jq -c '[.hooks.createRuntime[].args[1]]' "$NH_T/bundle/config.json")" "createRuntime hooks"
	run nh_container_run runc "$(nh_id pre)" "$NH_T/bundle"
	nh_assert_status 0
	nh_assert_eq "preexisting createRuntime prestart" "$(nh_hook_order)" "hooks that ran"
}

@test "--prestart-as prestart writes a prestart hook, and runc runs it" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-pre.json prestart
	nh_hook_file "$HOOKS" 20-cr.json createRuntime
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS" \
		--prestart-as prestart
	nh_assert_status 0
	nh_jq_assert "$NH_T/bundle/config.json" --arg p "$NH_REC" \
		'.hooks == {prestart: [{path: $p, args: ["record", "prestart"]}],
			    createRuntime: [{path: $p, args: ["record", "createRuntime"]}]}'
	run nh_container_run runc "$(nh_id pre)" "$NH_T/bundle"
	nh_assert_status 0
	local order
	order=$(nh_hook_order)
	[ "$order" = "prestart createRuntime" ] || [ "$order" = "createRuntime prestart" ] ||
		nh_fail "hooks that ran: '$order', expected prestart and createRuntime once each"
	nh_assert_eq "$(nh_id pre)" "$(jq -r .id "$NH_LOG/prestart.state")" "prestart: state .id"
}

# inject_fails BUNDLE DIR WHAT REASON: inject exits 1, prints nothing on stdout and one stderr
# line "nodehook: WHAT: REASON" (a REASON ending in "..." only has to start the line's reason);
# BUNDLE/config.json stays byte-identical and no temporary file is left beside it.
inject_fails() {
	local bundle=$1 dir=$2 what=$3 reason=$4
	cp -p "$bundle/config.json" "$NH_T/config.before"
	run --separate-stderr nodehook hooks inject --bundle "$bundle" --hooks-dir "$dir"
	nh_assert_status 1 || return 1
	nh_assert_eq "" "$output" "stdout" || return 1
	if [[ $reason == *... ]]; then
		[[ "$stderr" == "nodehook: $what: ${reason%...}"* && "$stderr" != *$'\n'* ]] ||
			nh_fail "expected one line 'nodehook: $what: $reason', got: $stderr" || return 1
	else
		nh_assert_eq "nodehook: $what: $reason" "$stderr" "stderr" || return 1
	fi
	cmp "$NH_T/config.before" "$bundle/config.json" || nh_fail "config.json changed" || return 1
	nh_assert_eq "config.json rootfs" "$(ls -A "$bundle" | tr '\n' ' ' | sed 's/ $//')" "bundle contents"
}

@test "an invalid hook file: exit 1, one line naming the file and the reason, config.json untouched" {
	make_bundle bundle '{"nh.e2e/run": "yes"}'
	nh_hook_file "$HOOKS" 10-good.json createRuntime
	local bad=$HOOKS/50-bad.json
	printf '%s' '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["bogus"]}' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" 'unknown stage "bogus"'
	printf '%s' '{"version": "2.0.0", "hook": {"path": "/bin/true"}, "stages": ["prestart"]}' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" 'unrecognized hook version: "2.0.0"'
	printf '%s' '{"version": "1.0.0", "hook": {"path": "/nonexistent/nh-hook"}, "when": {"always": true}, "stages": ["prestart"]}' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" 'faccessat /nonexistent/nh-hook: no such file or directory'
	printf '%s' '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"annotations": {"(": "x"}}, "stages": ["prestart"]}' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" 'invalid annotation key "(": error parsing regexp: missing closing parenthesis: `(`'
	printf '%s' '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": "true"}, "stages": ["prestart"]}' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" '1.0.0: json: cannot unmarshal string...'
	printf '%s' '{"version": "1.0.0", "hook": ' >"$bad"
	inject_fails "$NH_T/bundle" "$HOOKS" "$bad" 'invalid JSON...'
}

@test "--skip-invalid: one warning line for the invalid file, the valid hooks are injected" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-good.json createRuntime
	printf '%s' '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["bogus"]}' >"$HOOKS/50-bad.json"
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS" --skip-invalid
	nh_assert_status 0
	nh_assert_eq "nodehook: warning: $HOOKS/50-bad.json: unknown stage \"bogus\", ignoring" "$stderr" "stderr"
	nh_assert_eq '["createRuntime"]' "$(jq -c '[.hooks.createRuntime[].args[1]]' "$NH_T/bundle/config.json")" "hooks"
}

@test "a malformed config.json: exit 1, one line naming it, the file untouched" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-always.json createRuntime
	local cfg=$NH_T/bundle/config.json good
	good=$(cat "$cfg")
	printf '%s' "${good:0:40}" >"$cfg"
	inject_fails "$NH_T/bundle" "$HOOKS" "$cfg" "invalid JSON..."
	printf '%s\n' '[]' >"$cfg"
	inject_fails "$NH_T/bundle" "$HOOKS" "$cfg" "expected a JSON object, got array"
	printf '%s\n' '{"ociVersion": "1.0.2", "annotations": {"nh.e2e/n": 1}}' >"$cfg"
	inject_fails "$NH_T/bundle" "$HOOKS" "$cfg" 'annotations."nh.e2e/n": expected a string, got number'
	printf '%s\n' '{"ociVersion": "1.0.2", "hooks": {"createRuntime": {}}}' >"$cfg"
	inject_fails "$NH_T/bundle" "$HOOKS" "$cfg" "hooks.createRuntime: expected an array, got object"
	printf '%s\n' '{"ociVersion": "1.0.2"} {}' >"$cfg"
	inject_fails "$NH_T/bundle" "$HOOKS" "$cfg" "invalid JSON..."
}

@test "no matching hook: config.json stays byte-identical" {
	make_bundle bundle '{"nh.e2e/tier": "silver"}'
	# A layout nodehook would not produce itself: tabs, a key order of its own, escaped slashes.
	jq --tab '{process, root, mounts, linux, ociVersion, hostname, annotations}' \
		"$NH_T/bundle/config.json" | sed 's|"/proc"|"\\/proc"|' >"$NH_T/c"
	cat "$NH_T/c" >"$NH_T/bundle/config.json"
	nh_hook_file "$HOOKS" 10-gold.json createRuntime '{"annotations": {"^nh\\.e2e/tier$": "^gold$"}}'
	nh_hook_file "$HOOKS" 20-never.json createRuntime '{"always": false}'
	cp -p "$NH_T/bundle/config.json" "$NH_T/before"
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
	nh_assert_status 0
	cmp "$NH_T/before" "$NH_T/bundle/config.json" || nh_fail "config.json changed without a match"
	# An empty hooks directory, and one that does not exist, match nothing either.
	mkdir "$NH_T/empty"
	run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$NH_T/empty" \
		--hooks-dir "$NH_T/missing"
	nh_assert_status 0
	cmp "$NH_T/before" "$NH_T/bundle/config.json" || nh_fail "config.json changed without hooks"
}

@test "inject keeps config.json's mode" {
	make_bundle bundle
	nh_hook_file "$HOOKS" 10-always.json createRuntime
	local mode
	for mode in 600 640 444; do
		nh_json_edit "$NH_T/bundle/config.json" 'del(.hooks)'
		chmod "$mode" "$NH_T/bundle/config.json"
		run --separate-stderr nodehook hooks inject --bundle "$NH_T/bundle" --hooks-dir "$HOOKS"
		nh_assert_status 0
		nh_assert_eq "$mode" "$(stat -c %a "$NH_T/bundle/config.json")" "mode after inject"
		nh_jq_assert "$NH_T/bundle/config.json" '.hooks.createRuntime | length == 1'
	done
}

# --- crun ------------------------------------------------------------------------------------

@test "crun: every injected hook runs once, at the stage its file names" {
	nh_require_crun
	inject_and_run "$NH_CRUN"
	assert_every_stage_once
}

@test "crun: each hook reads the state JSON on stdin with the container's id, bundle, annotations" {
	nh_require_crun
	inject_and_run "$NH_CRUN"
	assert_states crun
}

@test "crun: createContainer/startContainer run in the container, the others on the host in the bundle dir" {
	nh_require_crun
	inject_and_run "$NH_CRUN"
	assert_where_and_args
}
