#!/usr/bin/env bats
# The totals of scripts/check (scripts/lib/tap-count.bash) against what really goes wrong: real
# bats files that die after their plan, a runner whose TAP looks fine but exits non-zero,
# known failures, skips, and cmocka binaries as meson logs them. scripts/check runs this file
# as its last tier; it needs only bats, prove and jq.

setup() {
	REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# shellcheck source=scripts/lib/tap-count.bash
	source "$REPO/scripts/lib/tap-count.bash"
	S=$BATS_TEST_TMPDIR
	cd "$S" || return 1
}

# scratch FILE: writes stdin to FILE, a bats file, with "%test" at the start of a line made
# "@test" (bats would take a literal one in a here-document for a test of this file).
scratch() {
	sed 's/^%test/@test/' >"$1"
}

# totals WANT: the closing line tap_report prints, which must be its last line.
totals() {
	tap_report >"$S/report"
	cat "$S/report"
	local last
	last=$(tail -1 "$S/report")
	[ "$last" = "$1" ] || {
		echo "closing line '$last', want '$1'" >&2
		return 1
	}
}

# listed TEXT: the report lists a line containing TEXT.
listed() {
	grep -qF -- "$1" "$S/report" || {
		echo "not listed: $1" >&2
		return 1
	}
}

@test "a bats file killed after its plan: the tests that never ran count as failed, the file named" {
	# The second test kills the bats-exec-file process running this file, as the OOM killer
	# or a test killing the wrong pid would.
	scratch dies.bats <<'EOF'
%test "runs" { true; }
%test "kills its own bats-exec-file" {
	local p=$PPID cmd
	while [ "$p" -gt 1 ]; do
		cmd=$(tr '\0' ' ' </proc/"$p"/cmdline)
		if [[ $cmd == *bats-exec-file* ]]; then kill -KILL "$p"; sleep 2; fi
		read -r _ _ _ p _ </proc/"$p"/stat
	done
	false # no bats-exec-file found: fail
}
%test "never runs" { true; }
%test "never runs either" { true; }
EOF
	tap_prove scratch "$S/tap" dies.bats
	[ $((TAP_PASSED + TAP_FAILED)) -eq 4 ] # every planned test counted
	[ "$TAP_FAILED" -ge 2 ]
	[ "$TAP_SKIPPED" -eq 0 ]
	totals "$TAP_PASSED passed, $TAP_FAILED failed, 0 skipped"
	grep -qE '^  scratch dies.bats: [1-4] of 4 planned tests never ran \(counted failed\)$' "$S/report"
}

@test "a runner that dies before its plan counts as failed, named" {
	printf 'exit 0\n' >silent.sh
	TAP_RUNNER=bash tap_prove scratch "$S/tap" silent.sh
	totals "0 passed, 1 failed, 0 skipped"
	listed "scratch silent.sh: (whole file): no plan (1..N): the run died before it started"
}

@test "prove failing alone turns the run red, although every TAP line is ok" {
	printf '%s\n' 'echo 1..2' 'echo ok 1 first' 'echo ok 2 second' 'exit 3' >dubious.sh
	TAP_RUNNER=bash tap_prove scratch "$S/tap" dubious.sh
	totals "2 passed, 1 failed, 0 skipped"
	listed "scratch: prove: exited 1 although no test failed (see $S/tap/prove.log)"
}

@test "known failures and skips are listed with their reasons, counted apart" {
	scratch known.bats <<'EOF'
%test "shows a known bug # TODO known bug: the reason" { false; }
%test "skips" { skip "the reason it skips (cpus 0-1)"; }
%test "skips too" { skip "(all in parentheses)"; }
%test "passes" { true; }
EOF
	tap_prove scratch "$S/tap" known.bats
	grep -qx 'Result: PASS' "$S/tap/prove.log" # prove passed the file: bats' exit 1 was let go
	totals "1 passed, 0 failed, 2 skipped"
	listed "known failures (TODO; counted neither passed nor failed):"
	listed "  scratch known.bats: shows a known bug: known bug: the reason"
	listed "  scratch known.bats: skips: the reason it skips (cpus 0-1)"
	listed "  scratch known.bats: skips too: all in parentheses"
}

@test "a known failure does not hide a real one" {
	scratch mixed.bats <<'EOF'
%test "shows a known bug # TODO known bug: the reason" { false; }
%test "fails" { false; }
EOF
	tap_prove scratch "$S/tap" mixed.bats
	totals "0 passed, 1 failed, 0 skipped"
	listed "scratch mixed.bats: fails: failed"
	run grep -c 'prove: exited' "$S/report" # the failed test already turned it red
	[ "$output" = 0 ]
}

@test "a known failure that passes this time is listed as such, still not counted" {
	echo '%test "sometimes shows a bug # TODO known bug: racy" { true; }' | scratch racy.bats
	tap_prove scratch "$S/tap" racy.bats
	totals "0 passed, 0 failed, 0 skipped"
	listed "scratch racy.bats: sometimes shows a bug: did not show this time (passed): known bug: racy"
}

@test "meson's log: cmocka cases count one by one, a crash mid-run and a bad exit fail" {
	mkdir -p build/meson-logs
	# As tests/unit/cmocka-tap prints them: a skip with its reason; a binary that aborted in
	# its third case of four; one whose cases passed but that exited 1 (a leak report); and a
	# test that is not TAP (the fuzz-corpus replays).
	{
		jq -nc '{name: "skips", result: "OK", returncode: 0,
			stdout: "1..2\nok 1 - test_a\n# skip reason: needs root\nok 2 - test_b # SKIP needs root\n"}'
		jq -nc '{name: "aborts", result: "ERROR", returncode: -6,
			stdout: "1..4\nok 1 - test_a\nnot ok 2 - test_b\n"}'
		jq -nc '{name: "leaks", result: "ERROR", returncode: 1, stdout: "1..1\nok 1 - test_a\n"}'
		jq -nc '{name: "replay", result: "OK", returncode: 0, stdout: "42 inputs\n"}'
	} >build/meson-logs/testlog.json
	tap_meson asan build
	totals "4 passed, 4 failed, 1 skipped"
	listed "asan skips: test_b: needs root"
	listed "asan aborts: test_b: failed"
	listed "asan aborts: 2 of 4 planned tests never ran (counted failed)"
	listed "asan leaks: (binary): ERROR, exit status 1, with no failed case"
}

@test "a tier skipped by request is listed; under CI the request is refused and fails" {
	NODEHOOK_SKIP_VM=1
	unset CI
	tap_opt_out NODEHOOK_SKIP_VM tests/vm
	CI=true
	run tap_opt_out NODEHOOK_SKIP_VM tests/vm
	[ "$status" -eq 1 ]
	tap_opt_out NODEHOOK_SKIP_VM tests/vm || true
	# shellcheck disable=SC2034 # read by tap_opt_out as ${!1}
	NODEHOOK_SKIP_VM=0
	run tap_opt_out NODEHOOK_SKIP_VM tests/vm
	[ "$status" -eq 1 ]
	totals "0 passed, 1 failed, 1 skipped"
	listed "tests/vm: (whole tier): skipped by request: NODEHOOK_SKIP_VM=1"
	listed "tests/vm: (whole tier): NODEHOOK_SKIP_VM=1 is refused under CI (CI=true): the tier runs"
}
