#!/usr/bin/env bats
# nodehook-runtime's error paths, driven as containerd's shim and a direct caller drive runc:
# a broken node config (create and run refuse; every other verb still reaches a runtime, so a
# container can always be stopped and deleted), a runtime that cannot be executed, an undo that
# fails after the runtime's delete succeeded (left to `nodehook gc`), the text and JSON --log
# lines for messages holding '"', newlines and bytes that are not UTF-8, and `update` with
# --cpuset-cpus, -r FILE and a runtime that refuses the update.
#
# Real runc with a private --root ($NH_T/root). Where only argv and the exit status matter, a
# fake runtime (a shell script named as "runtime" in the node config) records its argv and exits
# FAKE_EXIT; it says so where it is used. Tests that let nodehook isolate CPU 1 take the node lock
# and judge the node with lib/node.bash.

load lib/common
load lib/node
load lib/runtime

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_require_root
	nh_require_cmds runc jq iconv
	nh_setup
	nh_rt_setup
	ROOT=$NH_T/root
	RUNC=/usr/bin/runc
	mkdir -p "$NH_T/fake"
	FAKE=$NH_T/bin/fake-runtime
	# The fake runtime: argv NUL-separated into fake/call.argv, then exit $FAKE_EXIT.
	cat >"$FAKE" <<EOF
#!/bin/sh
printf '%s\0' "\$0" "\$@" >'$NH_T/fake/call.argv'
exit "\${FAKE_EXIT:-0}"
EOF
	chmod 755 "$FAKE"
	: >"$NH_T/.mine"
}

teardown() {
	local rt id
	if [ -f "$NH_T/.mine" ]; then
		while read -r rt id; do
			"$rt" --root "$ROOT" delete -f "$id" >/dev/null 2>&1 || true
		done <"$NH_T/.mine"
	fi
	# A test that failed halfway may leave a record: nh_node_teardown undoes it (with a config
	# of its own: the test's may be broken on purpose) while the lock is still held.
	nh_node_teardown
	nh_teardown
}

# mine ID [RT]: delete ID (with RT, default runc) in teardown.
mine() {
	echo "${2:-$RUNC} $1" >>"$NH_T/.mine"
}

# ok_config RUNTIME [HOOK_NAMES...]: a valid node config naming RUNTIME, with nodehook's own
# hooks.d files HOOK_NAMES (deploy/hooks.d) in its hooks dir.
ok_config() {
	nh_rt_node_config "$1"
	shift
	[ $# -eq 0 ] || nh_rt_nodehook_hooks "$@"
}

# pinned_bundle NAME: a bundle running sleep 30, pinned to CPU 1, annotated for isolation.
pinned_bundle() {
	nh_bundle "$NH_T/$1" '.process.args = ["sleep", "30"] | .linux.resources.cpu = {cpus: "1", mems: "0"}
		| .annotations = {"cpu-load-balancing.nodehook.io": "disable"}'
}

# cpuset_of ID: the container's cpuset cgroup path (from its init's /proc/PID/cgroup).
cpuset_of() {
	awk -F: '$2 == "cpuset" { print $3 }' "/proc/$("$RUNC" --root "$ROOT" state "$1" | jq .pid)/cgroup"
}

is_status() { # ID STATUS [RT]
	[ "$("${3:-$RUNC}" --root "$ROOT" state "$1" 2>/dev/null | jq -r .status)" = "$2" ]
}

# The fake's argv, one word a line ("" when it was not called).
fake_argv() {
	[ -f "$NH_T/fake/call.argv" ] || return 0
	tr '\0' '\n' <"$NH_T/fake/call.argv"
}

# cap_is NAME RC OUT ERR: the capture NAME (nh_rt_cap) has exactly that exit status, stdout,
# stderr.
cap_is() {
	nh_assert_eq "$2" "$(cat "$NH_T/cap/$1.rc")" "$1: exit status" || return 1
	nh_assert_eq "$3" "$(cat "$NH_T/cap/$1.out")" "$1: stdout" || return 1
	nh_assert_eq "$4" "$(cat "$NH_T/cap/$1.err")" "$1: stderr"
}

# log_json_is FILE MSG: FILE holds exactly one line, runc's JSON error line with msg MSG.
log_json_is() {
	nh_assert_eq 1 "$(wc -l <"$1")" "lines in $1" || return 1
	nh_jq_assert "$1" --arg m "$2" 'keys == ["level", "msg", "time"] and .level == "error"
		and .msg == $m and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))'
}

# log_text_is FILE QUOTED_MSG: FILE holds exactly one line, logrus' text format as runc writes it:
# time="<RFC 3339, UTC>" level=error msg=QUOTED_MSG (QUOTED_MSG as Go's %q quotes it).
log_text_is() {
	nh_assert_eq 1 "$(wc -l <"$1")" "lines in $1" || return 1
	[[ "$(cat "$1")" =~ ^time=\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"\ level=error\ msg=(.*)$ ]] ||
		nh_fail "not a logrus text line: $(cat -A "$1")" || return 1
	nh_assert_eq "$2" "${BASH_REMATCH[1]}" "the msg value in $1"
}

# start_isolated NAME HOOK_FILES...: takes the node lock (and the snapshot), writes a node config
# naming runc with nodehook's hooks.d files HOOK_FILES, and runs a pinned, annotated container
# through the wrapper; sets ID and CG (its cpuset), and checks that CPU 1 is isolated for it.
start_isolated() {
	local name=$1
	shift
	nh_node_require
	nh_node_setup || return 1
	ok_config "$RUNC" "$@"
	pinned_bundle b
	ID=$(nh_id "$name")
	mine "$ID"
	nh_nolock nh_rt_cap create "$W" --root "$ROOT" run -d --bundle "$NH_T/b" "$ID"
	cap_is create 0 "" "" || return 1
	CG=$(cpuset_of "$ID")
	nh_assert_isolated 1 || return 1
	nh_assert_cpuset "$CG/" "0 1"
}

# gone_but_held ID: runc no longer knows ID, but its record is still there.
gone_but_held() {
	nh_rt_cap gone "$RUNC" --root "$ROOT" state "$1"
	nh_assert_eq 1 "$(cat "$NH_T/cap/gone.rc")" "runc state after delete" || return 1
	[ -f "$STATE/containers/$1.json" ] || nh_fail "the record of $1 went"
}

# gc_restores ID: `nodehook gc` undoes ID's record, and the node is as before the test.
gc_restores() {
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq "$1: gone, restored (cpu-load-balancing)" "$output" "gc"
	nh_assert_eq "" "$stderr" "gc's stderr"
	nh_assert_node_restored
}

# --- a broken node config ----------------------------------------------------------------------

@test "broken node config: create and run refuse with one line naming the file and the reason (stderr, JSON and text --log); the runtime is not called; no state is written" {
	# The config is JSON, so its "runtime" (the fake) can be read; one unknown key breaks it.
	printf '{"state_dir": "%s", "runtime": "%s", "bogus": 1}\n' "$STATE" "$FAKE" >"$NH_T/node.json"
	local id msg L=$NH_T/log
	id=$(nh_id x)
	nh_bundle "$NH_T/b"
	cp "$NH_T/b/config.json" "$NH_T/config.before"
	msg="node config: $NH_T/node.json: unknown key 'bogus'"
	local verb
	for verb in create run; do
		nh_rt_cap "$verb" "$W" --root "$ROOT" "$verb" --bundle "$NH_T/b" "$id"
		cap_is "$verb" 1 "" "nodehook: $msg" || return 1
		rm -f "$L.json" "$L.txt"
		nh_rt_cap "$verb-json" "$W" --root "$ROOT" --log "$L.json" --log-format json "$verb" --bundle "$NH_T/b" "$id"
		# On create and run with --log, stderr is the container's: nothing there.
		cap_is "$verb-json" 1 "" "" || return 1
		log_json_is "$L.json" "nodehook: $msg" || return 1
		nh_rt_cap "$verb-text" "$W" --root "$ROOT" --log "$L.txt" "$verb" --bundle "$NH_T/b" "$id"
		cap_is "$verb-text" 1 "" "" || return 1
		log_text_is "$L.txt" "\"nodehook: $msg\"" || return 1
	done
	nh_assert_eq "" "$(fake_argv)" "the runtime's argv (it must not have run)"
	cmp "$NH_T/config.before" "$NH_T/b/config.json" || nh_fail "config.json changed"
	[ ! -e "$STATE" ] || nh_fail "a refused create wrote state: $(ls -R "$STATE")"
	[ ! -e "$ROOT" ] || nh_fail "runc ran"
}

@test "a relative hooks_dirs entry (the image's own hooks.d, relative to the bundle the shim runs create in) is refused at config load: the image's hook is not injected; the runtime is not called (fake runtime)" {
	local id msg
	id=$(nh_id x)
	nh_bundle "$NH_T/b"
	mkdir -p "$NH_T/b/rootfs/evilhooks"
	printf '{"version": "1.0.0", "hook": {"path": "/bin/sh", "args": ["sh", "-c", "touch %s/PWNED"]}, "when": {"always": true}, "stages": ["createRuntime"]}\n' \
		"$NH_T" >"$NH_T/b/rootfs/evilhooks/zz.json"
	printf '{"state_dir": "%s", "runtime": "%s", "hooks_dirs": ["rootfs/evilhooks"]}\n' "$STATE" "$FAKE" \
		>"$NH_T/node.json"
	cp "$NH_T/b/config.json" "$NH_T/config.before"
	msg="node config: $NH_T/node.json: hooks_dirs[0]: 'rootfs/evilhooks' is not an absolute path"
	(cd "$NH_T/b" && nh_rt_cap create "$W" --root "$ROOT" create --bundle "$NH_T/b" "$id")
	cap_is create 1 "" "nodehook: $msg" || return 1
	nh_assert_eq "" "$(fake_argv)" "the runtime's argv (it must not have run)"
	cmp "$NH_T/config.before" "$NH_T/b/config.json" || nh_fail "config.json changed"
	[ ! -e "$NH_T/PWNED" ] || nh_fail "the image's hook ran"
}

@test "broken node config: state, kill, delete, exec, update and features go to the runtime the config names, argv unchanged, its exit status mirrored (fake runtime)" {
	printf '{"state_dir": "%s", "runtime": "%s", "bogus": 1}\n' "$STATE" "$FAKE" >"$NH_T/node.json"
	local id args
	id=$(nh_id x)
	# A record, so that delete and update would take their forked paths with a good config.
	mkdir -p "$STATE/containers"
	echo '{}' >"$STATE/containers/$id.json"
	local -a calls=(
		"--root $ROOT state $id"
		"--root $ROOT --log $NH_T/log.json --log-format json kill $id 9"
		"--root $ROOT kill --all $id KILL"
		"--root $ROOT delete $id"
		"--root $ROOT --log $NH_T/log.json --log-format json delete --force $id"
		"--root $ROOT exec --process $NH_T/p.json --detach $id"
		"--root $ROOT update --cpuset-cpus 0 $id"
		"features"
	)
	for args in "${calls[@]}"; do
		rm -f "$NH_T/fake/call.argv"
		# shellcheck disable=SC2086 # word splitting is the point
		FAKE_EXIT=3 nh_rt_cap call "$W" $args
		cap_is call 3 "" "" || nh_fail "$args" || return 1
		# shellcheck disable=SC2086
		nh_assert_eq "$(printf '%s\n' "$FAKE" $args)" "$(fake_argv)" "argv the runtime got for '$args'" ||
			return 1
	done
	[ ! -e "$NH_T/log.json" ] || nh_fail "--log written on a pass-through: $(cat "$NH_T/log.json")"
	# The wrapper did not touch the record: undo is left to gc.
	nh_assert_eq '{}' "$(cat "$STATE/containers/$id.json")" "the record"
}

# survives_broken_config RT CONFIG ERROR: a container RT runs through the wrapper; then the node
# config becomes CONFIG (text), which nodehook refuses with ERROR (a prefix). The container is
# still inspected, killed and deleted through the wrapper as RT does it directly; a new create
# through the wrapper refuses with one line. RT must be the runtime the broken config still leads
# to: the one it names if that much can be read, else /usr/bin/runc.
survives_broken_config() {
	local rt=$1 a b
	nh_bundle "$NH_T/b" '.process.args = ["sleep", "30"]'
	a=$(nh_id a)
	b=$(nh_id b)
	mine "$a" "$rt"
	mine "$b" "$rt"
	nh_rt_node_config "$rt"
	nh_rt_cap create "$W" --root "$ROOT" run -d --bundle "$NH_T/b" "$a"
	cap_is create 0 "" "" || return 1
	printf '%s' "$2" >"$NH_T/node.json"

	nh_rt_cap direct "$rt" --root "$ROOT" state "$a"
	nh_rt_cap wrapped "$W" --root "$ROOT" state "$a"
	cap_is wrapped 0 "$(cat "$NH_T/cap/direct.out")" "" || return 1
	nh_jq_assert "$NH_T/cap/wrapped.out" '.status == "running"' || return 1
	nh_rt_cap kill "$W" --root "$ROOT" kill "$a" KILL
	cap_is kill 0 "" "" || return 1
	nh_wait_for is_status "$a" stopped "$rt" || return 1
	nh_rt_cap delete "$W" --root "$ROOT" delete "$a"
	cap_is delete 0 "" "" || return 1
	nh_rt_cap gone "$rt" --root "$ROOT" state "$a"
	[ "$(cat "$NH_T/cap/gone.rc")" != 0 ] || nh_fail "$rt still knows $a after delete" || return 1
	# The runtime's own error, unchanged, for an id it does not know.
	nh_rt_cap direct "$rt" --root "$ROOT" delete "$a"
	nh_rt_cap wrapped "$W" --root "$ROOT" delete "$a"
	nh_assert_eq "$(cat "$NH_T/cap/direct.rc")" "$(cat "$NH_T/cap/wrapped.rc")" "second delete: exit status" || return 1
	nh_assert_eq "$(sed 's/time="[^"]*"//' "$NH_T/cap/direct.err")" \
		"$(sed 's/time="[^"]*"//' "$NH_T/cap/wrapped.err")" "second delete: stderr" || return 1
	nh_assert_eq "" "$(fake_argv)" "the fake's argv" || return 1

	nh_rt_cap create "$W" --root "$ROOT" create --bundle "$NH_T/b" "$b"
	nh_assert_eq 1 "$(cat "$NH_T/cap/create.rc")" "create with a broken config" || return 1
	[[ "$(cat "$NH_T/cap/create.err")" == "nodehook: node config: $NH_T/node.json: $3"* ]] ||
		nh_fail "create's error: $(cat "$NH_T/cap/create.err")" || return 1
	nh_assert_eq 1 "$(wc -l <"$NH_T/cap/create.err")" "lines on stderr" || return 1
	nh_rt_cap gone "$rt" --root "$ROOT" state "$b"
	[ "$(cat "$NH_T/cap/gone.rc")" != 0 ] || nh_fail "$rt knows the refused container $b"
}

@test "runc: a node config unreadable as JSON: a running container is still inspected, killed and deleted through the wrapper by the default runtime, as runc does it; a new create refuses" {
	# Truncated: not even "runtime" (the fake) can be read, so the fallback is /usr/bin/runc.
	survives_broken_config "$RUNC" "$(printf '{"state_dir": "%s", "runtime": "%s"' "$STATE" "$FAKE")" \
		"invalid JSON"
}

@test "crun (through crun-nohybrid): a node config with an unknown key: a running container is still inspected, killed and deleted through the wrapper by the runtime it names, as crun does it; a new create refuses" {
	nh_require_crun
	survives_broken_config "$NH_CRUN" \
		"$(printf '{"state_dir": "%s", "runtime": "%s", "bogus": 1}' "$STATE" "$NH_CRUN")" \
		"unknown key 'bogus'"
}

@test "runc: a container isolating CPU 1 is deleted through the wrapper although the node config broke meanwhile; its record stays, and gc restores the node once the config is fixed" {
	start_isolated iso nodehook-createruntime
	local id=$ID
	cp "$NH_T/node.json" "$NH_T/node.good"
	printf '{"state_dir": "%s", "runtime": "%s", "bogus": 1}\n' "$STATE" "$RUNC" >"$NH_T/node.json"

	nh_rt_cap kill "$W" --root "$ROOT" kill "$id" KILL
	cap_is kill 0 "" "" || return 1
	nh_wait_for is_status "$id" stopped
	nh_rt_cap delete "$W" --root "$ROOT" delete "$id"
	cap_is delete 0 "" "" || return 1
	# Without a config nothing can be undone: the record and the isolation stay for gc.
	gone_but_held "$id"
	nh_assert_isolated 1

	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 1
	[[ "$stderr" == "nodehook: node config: $NH_T/node.json: unknown key 'bogus'" ]] ||
		nh_fail "gc with the broken config: $stderr"
	cp "$NH_T/node.good" "$NH_T/node.json"
	gc_restores "$id"
}

# --- a runtime that cannot be executed ----------------------------------------------------------

# exec_fails RUNTIME REASON: the node config names RUNTIME, which execv refuses with REASON
# (strerror). create with --log json and text, state without --log, and delete of a container
# with a record (the forked path, with --log json) each report "exec RUNTIME: REASON".
exec_fails() {
	local rt=$1 reason=$2 id L=$NH_T/log msg
	id=$(nh_id x)
	msg="nodehook: exec $rt: $reason"
	ok_config "$rt"
	rm -f "$L".*
	nh_rt_cap create "$W" --root "$ROOT" --log "$L.json" --log-format json create --bundle "$NH_T/b" "$id"
	cap_is create 1 "" "" || return 1
	log_json_is "$L.json" "$msg" || return 1
	nh_rt_cap run "$W" --root "$ROOT" --log "$L.txt" run --bundle "$NH_T/b" "$id"
	cap_is run 1 "" "" || return 1
	log_text_is "$L.txt" "\"$msg\"" || return 1
	nh_rt_cap state "$W" --root "$ROOT" state "$id"
	cap_is state 1 "" "$msg" || return 1
	# delete of a container with a record runs the runtime as a child: 127, as a shell says it.
	mkdir -p "$STATE/containers"
	echo '{}' >"$STATE/containers/$id.json"
	rm -f "$L.json"
	nh_rt_cap delete "$W" --root "$ROOT" --log "$L.json" --log-format json delete --force "$id"
	cap_is delete 127 "" "$msg" || return 1
	log_json_is "$L.json" "$msg" || return 1
	[ -f "$STATE/containers/$id.json" ] || nh_fail "a delete that never ran lost the record"
	rm -f "$STATE/containers/$id.json"
}

@test "a runtime that cannot be executed (missing, not executable, a directory): 'exec RUNTIME: REASON' on stderr and in --log, exit non-zero" {
	nh_bundle "$NH_T/b"
	exec_fails "$NH_T/no-such-runtime" "No such file or directory"
	cp "$FAKE" "$NH_T/bin/not-executable"
	chmod 644 "$NH_T/bin/not-executable"
	exec_fails "$NH_T/bin/not-executable" "Permission denied"
	exec_fails "$NH_T/bin" "Permission denied"
	# With a broken config, the runtime it names (readable) is the one that fails.
	printf '{"runtime": "%s", "bogus": 1}\n' "$NH_T/no-such-runtime" >"$NH_T/node.json"
	nh_rt_cap kill "$W" --root "$ROOT" kill "$(nh_id x)" 9
	cap_is kill 1 "" "nodehook: exec $NH_T/no-such-runtime: No such file or directory"
	[ ! -e "$ROOT" ] || nh_fail "some runtime ran"
}

# --- an undo that fails after the runtime's delete ---------------------------------------------

@test "runc: the undo after a successful delete fails: the message says the record stays for restore or gc, the exit status is runc's (0), the record stays, and gc restores the node once the cause is gone" {
	# Only the createRuntime hook: the wrapper's undo after delete is the only one.
	start_isolated undo nodehook-createruntime
	local id=$ID L=$NH_T/log.json
	nh_rt_cap kill "$W" --root "$ROOT" kill "$id" KILL
	nh_wait_for is_status "$id" stopped

	# The cause: the ledger the undo must read is unreadable.
	mv "$STATE/cpuset-v1.json" "$NH_T/ledger.saved"
	echo garbage >"$STATE/cpuset-v1.json"
	nh_rt_cap delete "$W" --root "$ROOT" --log "$L" --log-format json delete "$id"
	local msg="nodehook: undo after delete of $id: undo cpu-load-balancing: $STATE/cpuset-v1.json: invalid JSON at byte 0: unexpected character; the record stays for 'nodehook restore' or 'nodehook gc'"
	# runc deleted the container: the caller must not retry a delete that happened (containerd
	# would only get "container does not exist"), so the status is runc's; gc owns the undo.
	cap_is delete 0 "" "$msg" || return 1
	log_json_is "$L" "$msg" || return 1
	gone_but_held "$id"

	# gc while the cause is still there: fails, keeps the record.
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 1
	[ -f "$STATE/containers/$id.json" ] || nh_fail "gc lost the record"
	mv "$NH_T/ledger.saved" "$STATE/cpuset-v1.json"
	# The failed undo and the failed gc left CPU 1 isolated, ledger and flags as they were.
	nh_assert_isolated 1
	gc_restores "$id"
}

# --- the --log line formats ---------------------------------------------------------------------

@test "text --log: a message with '\"', a newline, a tab and a byte that is not UTF-8 is quoted as runc (logrus) quotes it: one well-formed line; JSON --log: one valid UTF-8 JSON line, as runc's" {
	# A node config whose path holds every awkward character: its name is in the message.
	local dir=$NH_T/$'q"u\\o\nt\te\xffé' L=$NH_T/log id
	id=$(nh_id x)
	mkdir -p "$dir"
	echo '{"bogus": 1}' >"$dir/node.json"
	export NODEHOOK_CONFIG=$dir/node.json
	nh_bundle "$NH_T/b"

	# runc's own lines for the same path (chdir to a "bundle" that is a file): the reference.
	nh_rt_cap runc-text "$RUNC" --root "$ROOT" --log "$L.runc.txt" create --bundle "$dir/node.json" "$id"
	nh_rt_cap runc-json "$RUNC" --root "$ROOT" --log "$L.runc.json" --log-format json create --bundle "$dir/node.json" "$id"
	local quoted_dir runc_msg
	runc_msg=$(sed -n 's/^time="[^"]*" level=error msg="runc create failed: chdir \(.*\): not a directory"$/\1/p' "$L.runc.txt")
	[ -n "$runc_msg" ] || nh_fail "runc's text line is not as expected: $(cat -A "$L.runc.txt")" || return 1
	quoted_dir=${runc_msg%/node.json}
	# What Go's %q makes of the directory, spelled out: \" \\ \n \t \xff, é kept.
	nh_assert_eq "${NH_T}/q\\\"u\\\\o\\nt\\te\\xffé" "$quoted_dir" "runc's quoting of the path" || return 1

	nh_rt_cap text "$W" --root "$ROOT" --log "$L.txt" create --bundle "$NH_T/b" "$id"
	cap_is text 1 "" "" || return 1
	log_text_is "$L.txt" "\"nodehook: node config: $quoted_dir/node.json: unknown key 'bogus'\"" || return 1

	nh_rt_cap json "$W" --root "$ROOT" --log "$L.json" --log-format json create --bundle "$NH_T/b" "$id"
	cap_is json 1 "" "" || return 1
	iconv -f UTF-8 -t UTF-8 "$L.json" >/dev/null || nh_fail "the JSON line is not valid UTF-8: $(cat -A "$L.json")" || return 1
	iconv -f UTF-8 -t UTF-8 "$L.runc.json" >/dev/null || nh_fail "runc's JSON line is not valid UTF-8 either" || return 1
	local runc_path
	runc_path=$(jq -r '.msg | ltrimstr("runc create failed: chdir ") | rtrimstr(": not a directory")' "$L.runc.json")
	# The same text as runc's (the byte 0xff as U+FFFD in both).
	log_json_is "$L.json" "nodehook: node config: $runc_path: unknown key 'bogus'" || return 1
	[[ "$runc_path" == *$'\xef\xbf\xbd'* ]] || nh_fail "runc's path has no U+FFFD: $runc_path"
}

@test "text --log: a hooks.d file named with '\"' and a newline, its stage \"bogus\": the line stays one well-formed logfmt line" {
	local name=$'50-a"b\nc.json' id L=$NH_T/log.txt
	id=$(nh_id x)
	ok_config "$FAKE"
	printf '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["bogus"]}\n' \
		>"$NH_T/hooks.d/$name"
	nh_bundle "$NH_T/b"
	nh_rt_cap create "$W" --root "$ROOT" --log "$L" create --bundle "$NH_T/b" "$id"
	cap_is create 1 "" "" || return 1
	log_text_is "$L" "\"nodehook: $NH_T/hooks.d/50-a\\\"b\\nc.json: unknown stage \\\"bogus\\\"\"" || return 1
	nh_rt_cap create "$W" --root "$ROOT" --log "$L.json" --log-format json create --bundle "$NH_T/b" "$id"
	log_json_is "$L.json" "nodehook: $NH_T/hooks.d/$name: unknown stage \"bogus\"" || return 1
	nh_assert_eq "" "$(fake_argv)" "the runtime's argv (it must not have run)"
}

# --- update ----------------------------------------------------------------------------------------

# iso_state ID: the container's isolation as the node and the state dir show it, one line each:
# its cpuset's cpus and flag, the housekeeping cpuset's cpus, the ledger's "isolated", the
# record's cpus.
iso_state() {
	local cg=$2
	echo "container cpus=$(cat "$NH_CS$cg/cpuset.cpus") lb=$(cat "$NH_CS$cg/cpuset.sched_load_balance")"
	echo "housekeeping cpus=$(cat "$NH_CS/nodehook-housekeeping/cpuset.cpus" 2>/dev/null)"
	echo "ledger $(jq -c .isolated "$STATE/cpuset-v1.json")"
	echo "record $(jq -c '.actions["cpu-load-balancing"].cpus' "$STATE/containers/$1.json")"
}

# same_cpusets SNAPSHOT: every cpuset of SNAPSHOT (nh_cpusets) that is still the same cpuset (same
# inode) has the same flag and cpus. Cpusets others create or remove meanwhile (the node is
# shared) are not judged.
same_cpusets() {
	local bad
	bad=$(awk 'FNR == NR { was[$1 " " $4] = $2 " " $3; next }
		($1 " " $4 in was) && was[$1 " " $4] != $2 " " $3 { print "  " $1 " was " was[$1 " " $4] ", now " $2 " " $3 }' \
		"$1" <(nh_cpusets))
	[ -z "$bad" ] || nh_fail "cpusets changed (path: flag cpus):" "$bad"
}

@test "runc: update --cpuset-cpus and update -r FILE: isolation follows the new cpuset; an update runc refuses changes nothing and exits with runc's status" {
	start_isolated upd nodehook-createruntime nodehook-poststop
	local id=$ID cg=$CG

	nh_rt_cap upd "$W" --root "$ROOT" update --cpuset-cpus 0 "$id"
	cap_is upd 0 "" "" || return 1
	nh_assert_eq "container cpus=0 lb=0
housekeeping cpus=1
ledger {\"$id\":\"0\"}
record \"0\"" "$(iso_state "$id" "$cg")" "after update --cpuset-cpus 0"
	nh_assert_isolated 0

	echo '{"cpu": {"cpus": "1", "shares": 512}}' >"$NH_T/res.json"
	nh_rt_cap upd "$W" --root "$ROOT" update -r "$NH_T/res.json" "$id"
	cap_is upd 0 "" "" || return 1
	nh_assert_eq "container cpus=1 lb=0
housekeeping cpus=0
ledger {\"$id\":\"1\"}
record \"1\"" "$(iso_state "$id" "$cg")" "after update -r FILE (cpus 1)"
	local cpu_cg
	cpu_cg=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' "/proc/$("$RUNC" --root "$ROOT" state "$id" | jq .pid)/cgroup")
	nh_assert_eq 512 "$(cat "/sys/fs/cgroup/cpu$cpu_cg/cpu.shares")" "cpu.shares: runc read the same file"
	nh_assert_isolated 1
	nh_assert_cpuset "$cg/" "0 1"

	# Refused by runc (CPU 7 is not online, not even possible, here): nothing changes, and the
	# wrapper ends as runc does. The same update straight to runc is the reference.
	[ ! -e /sys/devices/system/cpu/cpu7/online ] || [ "$(cat /sys/devices/system/cpu/cpu7/online)" = 0 ] ||
		skip "CPU 7 is online here: no CPU to make runc refuse the update with"
	iso_state "$id" "$cg" >"$NH_T/iso.before"
	nh_cpusets >"$NH_T/cpusets.mid"
	local how
	echo '{"cpu": {"cpus": "7"}}' >"$NH_T/bad.json"
	for how in "--cpuset-cpus 7" "-r $NH_T/bad.json" "--cpuset-cpus 0-1,7"; do
		# shellcheck disable=SC2086 # word splitting is the point
		nh_rt_cap direct "$RUNC" --root "$ROOT" update $how "$id"
		# shellcheck disable=SC2086
		nh_rt_cap wrapped "$W" --root "$ROOT" update $how "$id"
		nh_assert_eq 1 "$(cat "$NH_T/cap/direct.rc")" "runc's status for update $how" || return 1
		nh_assert_eq "$(cat "$NH_T/cap/direct.rc")" "$(cat "$NH_T/cap/wrapped.rc")" "update $how: exit status" || return 1
		nh_assert_eq "$(sed 's/time="[^"]*"//' "$NH_T/cap/direct.err")" \
			"$(sed 's/time="[^"]*"//' "$NH_T/cap/wrapped.err")" "update $how: stderr" || return 1
		nh_assert_eq "$(cat "$NH_T/iso.before")" "$(iso_state "$id" "$cg")" "isolation after update $how" || return 1
		same_cpusets "$NH_T/cpusets.mid" || nh_fail "after update $how" || return 1
	done

	# A value nodehook cannot read is refused before runc runs, naming the option.
	nh_rt_cap bad "$W" --root "$ROOT" update --cpuset-cpus 1-x "$id"
	nh_assert_eq 1 "$(cat "$NH_T/cap/bad.rc")" "update --cpuset-cpus 1-x: exit status"
	[[ "$(cat "$NH_T/cap/bad.err")" == "nodehook: --cpuset-cpus: "* ]] ||
		nh_fail "update --cpuset-cpus 1-x: $(cat "$NH_T/cap/bad.err")"
	nh_assert_eq "$(cat "$NH_T/iso.before")" "$(iso_state "$id" "$cg")" "isolation after update --cpuset-cpus 1-x"

	nh_rt_cap del "$W" --root "$ROOT" delete --force "$id"
	cap_is del 0 "" "" || return 1
	nh_assert_node_restored
}
