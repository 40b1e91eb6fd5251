#!/usr/bin/env bats
# nodehook-runtime is transparent: runc and crun called directly and through the wrapper (a
# symlink named nodehook-runtime to the nodehook binary, the node config's "runtime" naming the
# real one) give the same exit status, stdout and stderr, byte for byte; every fd, env variable
# and argv word the caller passes reaches the runtime; the wrapper's own failures surface the way
# runc's do (a JSON line in --log, or one stderr line) without calling the runtime; a delete undoes
# a record whose poststop hook did not run, forwards signals and mirrors the runtime's end.
#
# crun runs through the crun-nohybrid wrapper (lib/common.bash, nh_crun_wrapper: crun 1.8 refuses
# hybrid cgroups): in the crun tests the node config's "runtime" is that script, and the direct
# calls use the same script. This is a test-only setup for hybrid cgroup hosts; a node would name
# /usr/bin/crun.
#
# Real runtimes use a private --root ($NH_T/root) so that `list` sees only this test's
# containers. argv, env and fd checks use a fake runtime (a shell script, set as "runtime") that
# records what it got.
#
# Normalised, and only there: the container id where two containers are compared (create, start,
# kill, delete need a container each), and runc's `time="..."` on error lines (it stamps the
# second it failed in, which two calls can straddle).

load lib/common
load lib/node
load lib/runtime

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_require_root
	nh_require_cmds runc jq
	nh_setup
	nh_rt_setup
	mkdir -p "$NH_T/fake"
	ROOT=$NH_T/root
	RUNC=/usr/bin/runc
	write_fake
	: >"$NH_T/.mine"
}

teardown() {
	local root rt id
	if [ -f "$NH_T/.mine" ]; then
		while read -r root rt id; do
			"$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
		done <"$NH_T/.mine"
	fi
	nh_node_teardown
	nh_teardown
}

# mine RUNTIME ID: remember a container for teardown (deleted with --root $ROOT).
mine() {
	echo "$ROOT $1 $2" >>"$NH_T/.mine"
}

# The fake runtime: records argv ("$0" "$@", NUL-separated), the environment (NUL-separated) and
# its open fds ("N target" lines, fake_same sorts them) as $NH_T/fake/$FAKE_TAG.{argv,env,fds.raw}.
# Then:
#   FAKE_SLEEP=S  writes its pid to .ready, sleeps up to S seconds, appending each signal it gets
#                 (HUP INT QUIT USR1 USR2 TERM) to .sig; TERM ends the sleep;
#   FAKE_DIE=SIG  dies by SIG at the end, else exits FAKE_EXIT (default 0).
write_fake() {
	FAKE=$NH_T/bin/fake-runtime
	cat >"$FAKE" <<EOF
#!/bin/sh
d='$NH_T/fake' t=\${FAKE_TAG:-call}
# No pipe, no redirection: find lists the shell's fds, and would see those.
find /proc/\$\$/fd -mindepth 1 -fprintf "\$d/\$t.fds.raw" '%f %l\n'
printf '%s\0' "\$0" "\$@" >"\$d/\$t.argv"
env -0 >"\$d/\$t.env"
end() {
	if [ -n "\${FAKE_DIE:-}" ]; then trap - "\$FAKE_DIE"; kill -s "\$FAKE_DIE" \$\$; fi
	exit "\${FAKE_EXIT:-0}"
}
if [ -n "\${FAKE_SLEEP:-}" ]; then
	for s in HUP INT QUIT USR1 USR2; do trap "echo \$s >>'\$d/\$t.sig'" \$s; done
	trap "echo TERM >>'\$d/\$t.sig'; kill \\\$sp 2>/dev/null" TERM
	sleep "\$FAKE_SLEEP" & sp=\$!
	echo \$\$ >"\$d/\$t.ready"
	while kill -0 \$sp 2>/dev/null; do wait \$sp; done
fi
end
EOF
	chmod 755 "$FAKE"
}

# same_caps A B WHAT [SED_ARGS...]: captures A and B agree (after SED_ARGS, if any, on both).
same_caps() {
	local a=$1 b=$2 what=$3 x
	shift 3
	for x in rc out err; do
		if [ $# -gt 0 ]; then
			sed "$@" "$NH_T/cap/$a.$x" >"$NH_T/cap/$a.$x.n"
			sed "$@" "$NH_T/cap/$b.$x" >"$NH_T/cap/$b.$x.n"
		else
			cp "$NH_T/cap/$a.$x" "$NH_T/cap/$a.$x.n"
			cp "$NH_T/cap/$b.$x" "$NH_T/cap/$b.$x.n"
		fi
		cmp -s "$NH_T/cap/$a.$x.n" "$NH_T/cap/$b.$x.n" && continue
		nh_fail "$what: $x differs (- direct, + wrapper):" \
			"$(diff -u "$NH_T/cap/$a.$x.n" "$NH_T/cap/$b.$x.n" | tail -n +3)"
		return 1
	done
}

# same RT ARGS...: ARGS through RT and through the wrapper, on the same container(s); runc's
# time="..." on error lines normalised (two calls can fall in different seconds).
same() {
	local rt=$1
	shift
	nh_rt_cap direct "$rt" "$@"
	nh_rt_cap wrapped "$W" "$@"
	same_caps direct wrapped "$*" -e 's/time="[^"]*"/time="T"/g'
}

# same2 RT ARGS...: ARGS with every "@ID" replaced by $A directly and by $B through the wrapper;
# outputs compared with the ids (and runc's time="...") normalised.
same2() {
	local rt=$1
	shift
	nh_rt_cap direct "$rt" "${@//@ID/$A}"
	nh_rt_cap wrapped "$W" "${@//@ID/$B}"
	same_caps direct wrapped "$*" -e "s/$A/@ID/g; s/$B/@ID/g" -e 's/time="[^"]*"/time="T"/g'
}

# A bundle NAME under $NH_T, the cached config run through the jq FILTER.
bundle() {
	nh_bundle "$NH_T/$1" "${2:-.}"
}

status_of() { # RT ID
	"$1" --root "$ROOT" state "$2" 2>/dev/null | jq -r .status
}

is_status() { # RT ID STATUS
	[ "$(status_of "$1" "$2")" = "$3" ]
}

# --- transparency with the real runtimes --------------------------------------------------------

# lifecycle RT: every verb, directly on container $A and through the wrapper on $B (or both on
# the same container where the verb does not change it), then the error cases.
lifecycle() {
	local rt=$1 none
	A=$(nh_id direct) B=$(nh_id wrapped) none=$(nh_id none)
	mine "$rt" "$A"
	mine "$rt" "$B"
	bundle b '.process.args = ["sleep", "30"]'
	same2 "$rt" --root "$ROOT" create --bundle "$NH_T/b" @ID || return 1
	nh_assert_eq 0 "$(cat "$NH_T/cap/direct.rc")" "create exit status" || return 1
	same2 "$rt" --root "$ROOT" start @ID || return 1
	same "$rt" --root "$ROOT" state "$A" || return 1
	same "$rt" --root "$ROOT" state "$B" || return 1
	same "$rt" --root "$ROOT" list || return 1
	same "$rt" --root "$ROOT" list --format json || return 1
	same "$rt" --root "$ROOT" ps --format json "$B" || return 1
	if [ "${rt##*/}" = runc ]; then
		# The default table has ps's C column (lifetime CPU %), which moves between two calls.
		same "$rt" --root "$ROOT" ps "$B" -o pid,args || return 1
	fi
	same "$rt" --root "$ROOT" exec "$B" sh -c 'echo out; echo err >&2; exit 5' || return 1
	nh_assert_eq 5 "$(cat "$NH_T/cap/direct.rc")" "exec exit status" || return 1
	nh_assert_eq "out" "$(cat "$NH_T/cap/direct.out")" "exec stdout" || return 1
	same "$rt" --root "$ROOT" exec "$B" no-such-binary || return 1
	same2 "$rt" --root "$ROOT" kill @ID KILL || return 1
	nh_wait_for is_status "$rt" "$A" stopped || return 1
	nh_wait_for is_status "$rt" "$B" stopped || return 1
	same2 "$rt" --root "$ROOT" delete @ID || return 1
	nh_assert_eq 0 "$(cat "$NH_T/cap/direct.rc")" "delete exit status" || return 1

	# run, to completion: the container's stdout, stderr and exit code come back as they are.
	bundle r '.process.args = ["sh", "-c", "echo out; echo err >&2; exit 3"]'
	same2 "$rt" --root "$ROOT" run --bundle "$NH_T/r" @ID || return 1
	nh_assert_eq 3 "$(cat "$NH_T/cap/direct.rc")" "run exit status" || return 1

	# Errors, and what needs no container.
	same "$rt" --root "$ROOT" state "$none" || return 1
	nh_assert_eq 1 "$(cat "$NH_T/cap/direct.rc")" "state of an unknown id: exit status" || return 1
	same "$rt" --root "$ROOT" kill "$none" KILL || return 1
	same "$rt" --root "$ROOT" delete "$none" || return 1
	same "$rt" --root "$ROOT" delete --force "$none" || return 1
	same2 "$rt" --root "$ROOT" create --bundle "$NH_T/no-such-bundle" @ID || return 1
	same2 "$rt" --root "$ROOT" run --bundle "$NH_T/no-such-bundle" @ID || return 1
	same2 "$rt" --root "$ROOT" create --bundle "$NH_T/b" || return 1
	same "$rt" --root "$ROOT" no-such-command || return 1
	same "$rt" --version || return 1
	same "$rt" features || return 1
	same "$rt" || return 1
}

@test "runc: create/start/state/list/ps/exec/kill/delete/run, errors, --version, features: byte-identical" {
	lifecycle "$RUNC"
}

@test "crun (through crun-nohybrid): the same verbs and errors: byte-identical" {
	nh_require_crun
	nh_rt_node_config "$NH_CRUN"
	lifecycle "$NH_CRUN"
}

# fds RT: --preserve-fds with extra fds open, LISTEN_FDS socket activation, --pid-file.
fds() {
	local rt=$1
	A=$(nh_id direct) B=$(nh_id wrapped)
	echo "line on fd 3" >"$NH_T/fd3"
	# fd 3 is read, fd 4 written, fd 5 is open but not preserved: the container must not see it.
	bundle p '.process.args = ["sh", "-c", "read l <&3; echo \"got $l\"; echo \"to fd 4\" >&4;
		for n in 3 4 5; do [ -e /proc/self/fd/$n ] && echo \"fd $n open\" || echo \"fd $n closed\"; done"]'
	: >"$NH_T/fd4.direct"
	: >"$NH_T/fd4.wrapped"
	nh_rt_cap direct "$rt" --root "$ROOT" run --preserve-fds 2 --bundle "$NH_T/p" "$A" \
		3<"$NH_T/fd3" 4>>"$NH_T/fd4.direct" 5<"$NH_T/fd3"
	nh_rt_cap wrapped "$W" --root "$ROOT" run --preserve-fds 2 --bundle "$NH_T/p" "$B" \
		3<"$NH_T/fd3" 4>>"$NH_T/fd4.wrapped" 5<"$NH_T/fd3"
	same_caps direct wrapped "run --preserve-fds 2" || return 1
	nh_assert_eq "$(printf '%s\n' "got line on fd 3" "fd 3 open" "fd 4 open" "fd 5 closed")" \
		"$(cat "$NH_T/cap/wrapped.out")" "the container's view of its fds" || return 1
	nh_assert_eq "to fd 4" "$(cat "$NH_T/fd4.wrapped")" "written to fd 4 through the wrapper" || return 1
	cmp "$NH_T/fd4.direct" "$NH_T/fd4.wrapped" || return 1

	# Socket activation: the runtime takes LISTEN_FDS fds only if LISTEN_PID is its own pid, so
	# this also proves the wrapper execs in place (no fork on this path).
	bundle s '.process.args = ["sh", "-c", "echo \"LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID\"; read l <&3; echo \"got $l\""]'
	local act='export LISTEN_FDS=1 LISTEN_PID=$$; exec "$@"'
	nh_rt_cap direct sh -c "$act" sh "$rt" --root "$ROOT" run --bundle "$NH_T/s" "$A" 3<"$NH_T/fd3"
	nh_rt_cap wrapped sh -c "$act" sh "$W" --root "$ROOT" run --bundle "$NH_T/s" "$B" 3<"$NH_T/fd3"
	same_caps direct wrapped "run with LISTEN_FDS=1" || return 1
	nh_assert_eq "got line on fd 3" "$(sed -n 2p "$NH_T/cap/wrapped.out")" \
		"socket activation through the wrapper: fd 3" || return 1
	# runc also hands LISTEN_FDS on to the container; crun 1.8.1 passes the fds, not the variable.
	if [ "$rt" = "$RUNC" ]; then
		nh_assert_eq "LISTEN_FDS=1 LISTEN_PID=1" "$(sed -n 1p "$NH_T/cap/wrapped.out")" \
			"socket activation through the wrapper: env" || return 1
	fi

	# --pid-file: written by the runtime, holding the container's host pid.
	mine "$rt" "$A"
	mine "$rt" "$B"
	bundle c '.process.args = ["sleep", "30"]'
	same2 "$rt" --root "$ROOT" create --pid-file "$NH_T/@ID.pid" --bundle "$NH_T/c" @ID || return 1
	local id
	for id in "$A" "$B"; do
		nh_assert_eq "$("$rt" --root "$ROOT" state "$id" | jq .pid)" "$(cat "$NH_T/$id.pid")" \
			"$id: --pid-file" || return 1
	done
}

@test "runc: --preserve-fds, LISTEN_FDS and --pid-file reach the runtime as if called directly" {
	fds "$RUNC"
}

@test "crun: --preserve-fds, LISTEN_FDS and --pid-file reach the runtime as if called directly" {
	nh_require_crun
	nh_rt_node_config "$NH_CRUN"
	fds "$NH_CRUN"
}

# A console socket receiver: accepts one connection, takes the pty master fd sent with
# SCM_RIGHTS, and copies what the container writes to it into OUT until it sees "tty-ok".
write_recvtty() {
	cat >"$NH_T/bin/recvtty" <<'EOF'
#!/usr/bin/python3
import array, os, signal, socket, sys
path, out = sys.argv[1], sys.argv[2]
signal.alarm(10)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
c, _ = s.accept()
fds = array.array("i")
_, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: fds.itemsize])
buf = b""
while b"tty-ok" not in buf:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
with open(out, "wb") as f:
    f.write(buf)
EOF
	chmod 755 "$NH_T/bin/recvtty"
}

# console RT ID NAME: create --console-socket through RT; prints what the pty gave.
console() {
	local rt=$1 id=$2 sock=$NH_T/$3.sock pid
	"$NH_T/bin/recvtty" "$sock" "$NH_T/$3.tty" &
	pid=$!
	nh_wait_for test -S "$sock" || return 1
	mine "$rt" "$id"
	"$rt" --root "$ROOT" create --console-socket "$sock" --bundle "$NH_T/t" "$id" </dev/null ||
		return 1
	"$rt" --root "$ROOT" start "$id" || return 1
	wait "$pid" || nh_fail "recvtty failed" || return 1
	cat "$NH_T/$3.tty"
}

@test "runc: --console-socket: the pty master reaches the caller's socket" {
	[ -x /usr/bin/python3 ] ||
		skip "no /usr/bin/python3 for the console socket receiver (scripts/install-deps installs python3)"
	write_recvtty
	bundle t '.process.terminal = true | .process.args = ["sh", "-c", "tty; echo tty-ok; sleep 30"]'
	local direct wrapped
	direct=$(console "$RUNC" "$(nh_id direct)" direct)
	wrapped=$(console "$W" "$(nh_id wrapped)" wrapped)
	nh_assert_eq "$(printf '/dev/pts/0\r\ntty-ok\r')" "$wrapped" "the pty through the wrapper"
	nh_assert_eq "$direct" "$wrapped" "the pty, direct vs wrapper"
}

# --- argv, env and fds, with the fake runtime ---------------------------------------------------

# only_fds CMD...: CMD with fds 0-4 and 7 only (bats holds others, without FD_CLOEXEC), so that
# the fds the runtime gets can be compared with an exact list.
only_fds() {
	(
		local n
		for n in /proc/$BASHPID/fd/*; do
			n=${n##*/}
			case $n in 0 | 1 | 2 | 3 | 4 | 7) ;; *) eval "exec $n>&-" ;; esac
		done
		exec "$@"
	)
}

# fake_same TAG ARGS...: the fake runtime called directly and through the wrapper, with fds 3, 4
# and 7 open and LISTEN_FDS/LISTEN_PID/NOTIFY_SOCKET/_OCI_SYNCPIPE set: argv equal but for argv[0]
# (the fake's path directly, the wrapper replaces it with the same path), env and fds equal.
fake_same() {
	local tag=$1
	shift
	local env=(LISTEN_FDS=2 LISTEN_PID=4242 NOTIFY_SOCKET=/run/nh.sock _OCI_SYNCPIPE=7)
	FAKE_TAG=$tag.direct only_fds env "${env[@]}" "$FAKE" "$@" 3<"$NH_T/fd3" 4>"$NH_T/fd4" \
		7<"$NH_T/fd3" </dev/null >/dev/null 2>/dev/null || return 1
	FAKE_TAG=$tag.wrapped only_fds env "${env[@]}" "$W" "$@" 3<"$NH_T/fd3" 4>"$NH_T/fd4" \
		7<"$NH_T/fd3" </dev/null >/dev/null 2>/dev/null || nh_fail "$tag: the wrapper failed" || return 1
	local f=$NH_T/fake/$tag
	printf '%s\0' "$FAKE" "$@" >"$f.expected"
	cmp -s "$f.expected" "$f.wrapped.argv" || {
		tr '\0' '\n' <"$f.expected" >"$f.expected.txt"
		tr '\0' '\n' <"$f.wrapped.argv" >"$f.wrapped.argv.txt"
		nh_fail "$tag: argv differs (- expected, + what the runtime got):" \
			"$(diff -u "$f.expected.txt" "$f.wrapped.argv.txt" | tail -n +3)"
		return 1
	}
	# The env differs in FAKE_TAG only.
	local x
	for x in direct wrapped; do
		tr '\0' '\n' <"$f.$x.env" | grep -v '^FAKE_TAG=' | sort >"$f.$x.env.txt"
		sort -n "$f.$x.fds.raw" >"$f.$x.fds"
	done
	cmp -s "$f.direct.env.txt" "$f.wrapped.env.txt" ||
		nh_fail "$tag: env differs:" "$(diff "$f.direct.env.txt" "$f.wrapped.env.txt")" || return 1
	grep -qx 'LISTEN_FDS=2' "$f.wrapped.env.txt" || nh_fail "$tag: LISTEN_FDS lost" || return 1
	cmp -s "$f.direct.fds" "$f.wrapped.fds" ||
		nh_fail "$tag: open fds differ (- direct, + wrapper):" \
			"$(diff -u "$f.direct.fds" "$f.wrapped.fds" | tail -n +3)" || return 1
	# 10 is dash's own: the script it reads.
	nh_assert_eq "$(printf '%s\n' "0 /dev/null" "1 /dev/null" "2 /dev/null" "3 $NH_T/fd3" \
		"4 $NH_T/fd4" "7 $NH_T/fd3" "10 $FAKE")" "$(cat "$f.wrapped.fds")" \
		"$tag: the runtime's fds"
}

@test "fake runtime: argv reaches the runtime unchanged but for argv[0], in every global flag form; env and fds too" {
	nh_rt_node_config "$FAKE"
	echo data >"$NH_T/fd3"
	bundle b
	local B=$NH_T/b L=$NH_T/log.json id
	id=$(nh_id x)
	fake_same root-space --root "$ROOT" state "$id"
	fake_same root-eq --root="$ROOT" state "$id"
	fake_same root-single-dash -root "$ROOT" state "$id"
	fake_same root-single-dash-eq -root="$ROOT" kill "$id" 9
	fake_same log-json --log "$L" --log-format json create --bundle "$B" --pid-file "$NH_T/p" "$id"
	fake_same log-eq --log="$L" --log-format=json --root="$ROOT" start "$id"
	fake_same debug --debug --root "$ROOT" kill --all "$id" KILL
	fake_same systemd --systemd-cgroup --root="$ROOT" create --bundle="$B" --no-pivot --no-new-keyring "$id"
	fake_same unknown-globals --rootless=false --cgroup-manager=disabled --criu /usr/sbin/criu \
		run -b "$B" --preserve-fds 3 --console-socket "$NH_T/s" -d "$id"
	fake_same exec --root "$ROOT" exec --process "$NH_T/p.json" --detach --pid-file "$NH_T/e.pid" "$id"
	fake_same exec-argv --root "$ROOT" exec -t "$id" sh -c 'echo "a  b"; printf "%s\n" "" x' '' ' '
	fake_same update --root "$ROOT" update --resources - "$id"
	fake_same delete --root "$ROOT" delete --force "$id"
	# With a record the wrapper runs the runtime as a child (to undo after it): same argv, env, fds.
	fake_record "$id"
	fake_same delete-forked --root "$ROOT" delete --force "$id"
	fake_same ps --root "$ROOT" ps "$id" -- -o pid,args
	fake_same features features
	fake_same version --version
	fake_same none
	fake_same dashdash --root "$ROOT" state -- "$id"
	fake_same newline --root "$ROOT" state $'nh\nx'
}

# --- the wrapper's own failures -----------------------------------------------------------------

# create_fails WHAT VERB ID: VERB through the wrapper fails before the runtime runs, twice: with
# --log F --log-format json (one JSON error line appended to F, stderr empty) and without --log
# (one stderr line). Always exit 1, empty stdout, config.json unchanged, the fake never called.
create_fails() {
	local what=$1 verb=$2 id=$3 L=$NH_T/log.json
	cp "$NH_T/b/config.json" "$NH_T/config.before"
	echo '{"level":"info","msg":"an earlier line","time":"2026-01-01T00:00:00Z"}' >"$L"
	nh_rt_cap wrapped "$W" --root "$ROOT" --log "$L" --log-format json "$verb" --bundle "$NH_T/b" "$id"
	nh_assert_eq 1 "$(cat "$NH_T/cap/wrapped.rc")" "$what, --log: exit status" || return 1
	[ ! -e "$NH_T/fake/call.argv" ] || nh_fail "$what, --log: the runtime was called" || return 1
	[ ! -s "$NH_T/cap/wrapped.out" ] || nh_fail "$what, --log: stdout: $(cat "$NH_T/cap/wrapped.out")" || return 1
	[ ! -s "$NH_T/cap/wrapped.err" ] || nh_fail "$what, --log: stderr: $(cat "$NH_T/cap/wrapped.err")" || return 1
	nh_assert_eq 2 "$(wc -l <"$L")" "$what: lines in --log" || return 1
	head -n 1 "$L" | grep -q 'an earlier line' || nh_fail "$what: --log was not appended to" || return 1
	tail -n 1 "$L" | jq -e 'keys == ["level", "msg", "time"] and .level == "error"
		and (.msg | startswith("nodehook: ")) and (.time | test("^[0-9-]+T[0-9:]+Z$"))' >/dev/null ||
		nh_fail "$what: not a runc-style JSON error line: $(tail -n 1 "$L")" || return 1
	cmp "$NH_T/config.before" "$NH_T/b/config.json" || nh_fail "$what: config.json changed" || return 1

	nh_rt_cap wrapped "$W" --root "$ROOT" "$verb" --bundle "$NH_T/b" "$id"
	nh_assert_eq 1 "$(cat "$NH_T/cap/wrapped.rc")" "$what: exit status" || return 1
	[ ! -e "$NH_T/fake/call.argv" ] || nh_fail "$what: the runtime was called" || return 1
	[ ! -s "$NH_T/cap/wrapped.out" ] || nh_fail "$what: stdout: $(cat "$NH_T/cap/wrapped.out")" || return 1
	nh_assert_eq 1 "$(wc -l <"$NH_T/cap/wrapped.err")" "$what: stderr lines ($(cat "$NH_T/cap/wrapped.err"))" || return 1
	grep -q '^nodehook: ' "$NH_T/cap/wrapped.err" || nh_fail "$what: stderr: $(cat "$NH_T/cap/wrapped.err")" || return 1
	cmp "$NH_T/config.before" "$NH_T/b/config.json" || nh_fail "$what: config.json changed"
}

@test "create/run fail without calling the runtime on a bad hooks.d file, a malformed config.json, a bad id" {
	nh_rt_node_config "$FAKE"
	bundle b
	local id
	id=$(nh_id x)
	printf '%s' '{"version": "1.0.0", "hook": ' >"$NH_T/hooks.d/50-bad.json"
	create_fails "a bad hooks.d file" create "$id"
	create_fails "a bad hooks.d file" run "$id"
	rm "$NH_T/hooks.d/50-bad.json"
	local good
	good=$(cat "$NH_T/b/config.json")
	printf '%s' "${good:0:40}" >"$NH_T/b/config.json"
	create_fails "a truncated config.json" create "$id"
	printf '%s\n' '{"ociVersion": "1.0.2", "annotations": {"a": 1}}' >"$NH_T/b/config.json"
	create_fails "annotations not strings" run "$id"
	printf '%s\n' "$good" >"$NH_T/b/config.json"
	create_fails "an id with a /" create "nh-$NH_SUFFIX/x"
	create_fails "an id with a space" run "nh $NH_SUFFIX"
	create_fails "the id .." create ..
}

# --- delete: undo, signals, exit status ---------------------------------------------------------

@test "runc: delete through the wrapper undoes a record whose poststop hook did not run" {
	nh_node_require
	nh_node_setup
	# Only the createRuntime hook (nodehook's own file), no poststop: the record outlives runc's
	# delete, and only the wrapper can undo it.
	nh_rt_nodehook_hooks nodehook-createruntime
	bundle b '.process.args = ["sleep", "30"] | .linux.resources.cpu = {cpus: "1", mems: "0"}
		| .annotations = {"cpu-load-balancing.nodehook.io": "disable"}'
	local id
	id=$(nh_id undo)
	mine "$RUNC" "$id"
	nh_nolock nh_rt_cap create "$W" --root "$ROOT" create --bundle "$NH_T/b" "$id"
	nh_assert_eq 0 "$(cat "$NH_T/cap/create.rc")" "create: $(cat "$NH_T/cap/create.err")"
	nh_jq_assert "$NH_T/b/config.json" '.hooks | keys == ["createRuntime"] and (.createRuntime | length) == 1'
	run --separate-stderr nh_nolock "$W" --root "$ROOT" start "$id"
	nh_assert_status 0
	[ -f "$STATE/containers/$id.json" ] || nh_fail "no record after create" "$(ls -R "$STATE")"
	local cg
	cg=$(awk -F: '$2 == "cpuset" { print $3 }' "/proc/$("$RUNC" --root "$ROOT" state "$id" | jq .pid)/cgroup")
	nh_assert_isolated 1
	nh_assert_cpuset "$cg/" "0 1"

	run --separate-stderr "$W" --root "$ROOT" kill "$id" KILL
	nh_assert_status 0
	nh_wait_for is_status "$RUNC" "$id" stopped
	[ -f "$STATE/containers/$id.json" ] || nh_fail "the record went before delete"
	run --separate-stderr "$W" --root "$ROOT" delete "$id"
	nh_assert_status 0
	nh_assert_eq "" "$output$stderr" "delete's output"
	[ ! -e "$STATE/containers/$id.json" ] || nh_fail "the record is still there after delete"
	nh_assert_node_restored
	# A second delete (containerd sends one with --force) is runc's business alone.
	nh_rt_cap direct "$RUNC" --root "$ROOT" delete --force "$id"
	nh_rt_cap wrapped "$W" --root "$ROOT" delete --force "$id"
	same_caps direct wrapped "second delete --force" -e 's/time="[^"]*"/time="T"/g'
}

# run_isolated_on_1 ID: the node set up, nodehook's hooks, and container ID run through the
# wrapper on CPU 1, annotated for isolation.
run_isolated_on_1() {
	nh_node_require
	nh_node_setup
	nh_rt_nodehook_hooks nodehook-createruntime nodehook-poststop
	bundle b '.process.args = ["sleep", "30"] | .linux.resources.cpu = {cpus: "1", mems: "0"}
		| .annotations = {"cpu-load-balancing.nodehook.io": "disable"}'
	mine "$RUNC" "$1"
	nh_nolock nh_rt_cap create "$W" --root "$ROOT" run -d --bundle "$NH_T/b" "$1"
	nh_assert_eq 0 "$(cat "$NH_T/cap/create.rc")" "run: $(cat "$NH_T/cap/create.err")"
}

@test "runc: update through the wrapper with a new cpuset: isolation follows the CPUs" {
	local id cg
	id=$(nh_id upd)
	run_isolated_on_1 "$id"
	cg=$(awk -F: '$2 == "cpuset" { print $3 }' "/proc/$("$RUNC" --root "$ROOT" state "$id" | jq .pid)/cgroup")
	nh_assert_isolated 1
	nh_assert_cpuset "$cg/" "0 1"

	# As the kubelet's UpdateContainerResources sends it: the resources on stdin.
	run --separate-stderr "$W" --root "$ROOT" update --resources - "$id" <<<'{"cpu": {"cpus": "0"}}'
	nh_assert_status 0
	nh_assert_eq "" "$output$stderr" "update's output"
	# runc got the same resources (the container's cpuset moved), and so did the isolation: CPU 0
	# out of balancing now, the housekeeping cpuset holding CPU 1.
	nh_assert_cpuset "$cg/" "0 0"
	nh_assert_isolated 0
	nh_jq_assert "$STATE/cpuset-v1.json" ".isolated == {\"$id\": \"0\"}"
	nh_jq_assert "$STATE/containers/$id.json" '.actions["cpu-load-balancing"].cpus == "0"'

	# An update that leaves the cpuset alone is passed through (no record change).
	run --separate-stderr "$W" --root "$ROOT" update --pids-limit 100 "$id"
	nh_assert_status 0
	nh_jq_assert "$STATE/containers/$id.json" '.actions["cpu-load-balancing"].cpus == "0"'

	run --separate-stderr "$W" --root "$ROOT" delete --force "$id"
	nh_assert_status 0
	[ ! -e "$STATE/containers/$id.json" ] || nh_fail "the record is still there after delete"
	nh_assert_node_restored
}

# Audit finding 1: an update the isolation cannot follow (every online CPU) left the v1 ledger
# with those CPUs, and from then on every guard (every container start, gc) failed.
@test "runc: an update isolation cannot follow leaves the ledger as it was; a later one works" {
	local id online
	id=$(nh_id upd)
	online=$(cat /sys/devices/system/cpu/online)
	run_isolated_on_1 "$id"
	nh_assert_isolated 1

	run --separate-stderr "$W" --root "$ROOT" update --resources - "$id" <<<"{\"cpu\": {\"cpus\": \"$online\"}}"
	nh_assert_status 1
	[[ $stderr == *"cannot take every online CPU out of load balancing"*"; it stays on CPUs 1"* ]] ||
		nh_fail "update:" "$stderr"
	nh_jq_assert "$STATE/cpuset-v1.json" ".isolated == {\"$id\": \"1\"}"
	nh_jq_assert "$STATE/containers/$id.json" '.actions["cpu-load-balancing"] | .cpus == "1" and .applied'
	nh_assert_isolated 1
	# The guard's reconcile works again: gc (which runs it) succeeds.
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0

	run --separate-stderr "$W" --root "$ROOT" update --resources - "$id" <<<'{"cpu": {"cpus": "0"}}'
	nh_assert_status 0
	nh_assert_isolated 0
	nh_jq_assert "$STATE/cpuset-v1.json" ".isolated == {\"$id\": \"0\"}"

	run --separate-stderr "$W" --root "$ROOT" delete --force "$id"
	nh_assert_status 0
	nh_assert_node_restored
}

# A record for ID, as far as the wrapper's "has a record" test goes (it looks for the file).
fake_record() {
	mkdir -p "$STATE/containers"
	echo '{}' >"$STATE/containers/$1.json"
}

# waitst PIDFILE CMD...: runs CMD, writes its pid to PIDFILE, prints "exit N" or "signal N".
write_waitst() {
	cat >"$NH_T/bin/waitst" <<'EOF'
#!/usr/bin/perl
my $pf = shift;
my $p = fork() // die "fork: $!";
if (!$p) { exec { $ARGV[0] } @ARGV; exit 127; }
open(my $f, '>', "$pf.tmp") or die; print $f "$p\n"; close($f); rename("$pf.tmp", $pf);
waitpid($p, 0);
print(($? & 127) ? "signal " . ($? & 127) . "\n" : "exit " . ($? >> 8) . "\n");
EOF
	chmod 755 "$NH_T/bin/waitst"
}

@test "delete with a record: signals to the wrapper reach the runtime; SIGKILL takes the runtime along" {
	nh_rt_node_config "$FAKE"
	write_waitst
	local id
	id=$(nh_id sig)
	fake_record "$id"
	FAKE_TAG=del FAKE_SLEEP=20 FAKE_EXIT=0 "$NH_T/bin/waitst" "$NH_T/w.pid" \
		"$W" --root "$ROOT" delete --force "$id" >"$NH_T/w.status" &
	local bg=$!
	nh_wait_for test -f "$NH_T/fake/del.ready"
	local wpid s got=()
	wpid=$(cat "$NH_T/w.pid")
	[ "$wpid" != "$(cat "$NH_T/fake/del.ready")" ] || nh_fail "the wrapper did not fork on this path"
	for s in HUP INT QUIT USR1 USR2 TERM; do
		kill -s "$s" "$wpid"
		got+=("$s")
		nh_wait_for grep -qx "$s" "$NH_T/fake/del.sig"
	done
	wait "$bg"
	nh_assert_eq "${got[*]}" "$(tr '\n' ' ' <"$NH_T/fake/del.sig" | sed 's/ $//')" "signals the runtime got"
	nh_assert_eq "exit 0" "$(cat "$NH_T/w.status")" "the wrapper's end"
	# The fake's delete "succeeded": the wrapper undid the record ({}: nothing to undo) and removed it.
	[ ! -e "$STATE/containers/$id.json" ] || nh_fail "the record outlived a successful delete"

	# SIGKILL cannot be forwarded: the runtime dies with the wrapper (PR_SET_PDEATHSIG).
	rm -f "$NH_T/fake/del.ready"
	fake_record "$id"
	FAKE_TAG=del FAKE_SLEEP=20 FAKE_EXIT=0 "$NH_T/bin/waitst" "$NH_T/w.pid" \
		"$W" --root "$ROOT" delete --force "$id" >"$NH_T/w.status" &
	bg=$!
	nh_wait_for test -f "$NH_T/fake/del.ready"
	local fpid
	fpid=$(cat "$NH_T/fake/del.ready")
	kill -s KILL "$(cat "$NH_T/w.pid")"
	wait "$bg"
	nh_assert_eq "signal 9" "$(cat "$NH_T/w.status")" "the wrapper's end"
	# Dead, or a zombie waiting for init to reap it (PID 1 may reap slowly: about 2 s here).
	gone() { [ ! -e "/proc/$fpid" ] || [ "$(awk '{ print $3 }' "/proc/$fpid/stat" 2>/dev/null)" = Z ]; }
	nh_wait_for gone || nh_fail "the runtime outlived a SIGKILLed wrapper: $(cat "/proc/$fpid/cmdline" | tr '\0' ' ')"
}

@test "the wrapper's exit status mirrors the runtime's: exit code N, death by signal; exec'd and forked paths" {
	nh_rt_node_config "$FAKE"
	write_waitst
	local id
	id=$(nh_id st)
	local st
	# state: exec'd in place.
	st=$(FAKE_EXIT=7 "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" state "$id")
	nh_assert_eq "exit 7" "$st" "state, runtime exit 7"
	st=$(FAKE_DIE=USR1 "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" state "$id")
	nh_assert_eq "signal 10" "$st" "state, runtime killed by SIGUSR1"
	# delete with a record: forked; a failed delete keeps the record and skips the undo.
	fake_record "$id"
	st=$(FAKE_EXIT=7 "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" delete "$id")
	nh_assert_eq "exit 7" "$st" "delete, runtime exit 7"
	[ -f "$STATE/containers/$id.json" ] || nh_fail "a failed delete lost the record"
	st=$(FAKE_DIE=USR1 "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" delete "$id")
	nh_assert_eq "signal 10" "$st" "delete, runtime killed by SIGUSR1"
	st=$(FAKE_DIE=TERM "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" delete --force "$id")
	nh_assert_eq "signal 15" "$st" "delete, runtime killed by SIGTERM"
	st=$(FAKE_EXIT=255 "$NH_T/bin/waitst" "$NH_T/w.pid" "$W" delete --force "$id")
	nh_assert_eq "exit 255" "$st" "delete, runtime exit 255"
}
