# shellcheck shell=bash
# The totals of scripts/check, sourced by it, by scripts/lib/tap-tee and by tests/check/*.bats.
#
# Every test that was planned counts, whether or not it ran: a TAP stream counts its `ok`
# lines as passed, `not ok` as failed, `# SKIP` as skipped, and every planned test that never
# printed a line (the process died after `1..N`) as failed. `# TODO` lines are known failures:
# listed, counted neither way (see tap_report). Failures no TAP line shows (a tier that cannot
# run, prove or a unit binary exiting non-zero with nothing failed in its TAP) are added with
# tap_fail. tap_report prints the lists and then, as the last line, "N passed, N failed, N
# skipped".

TAP_PASSED=0 TAP_FAILED=0 TAP_SKIPPED=0 TAP_KNOWN_FAILED=0
TAP_SKIPS=() TAP_KNOWN=() TAP_FAILS=()
TAP_LIB=${TAP_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# tap_fail WHERE TEST REASON: a failure with no TAP line of its own, named in the report.
tap_fail() {
	TAP_FAILED=$((TAP_FAILED + 1))
	TAP_FAILS+=("$1: $2: $3")
}

# tap_pass: a passed check with no TAP line of its own (the format check).
tap_pass() {
	TAP_PASSED=$((TAP_PASSED + 1))
}

# tap_skip WHERE TEST REASON: a skip with no TAP line of its own (a tier skipped by request).
tap_skip() {
	TAP_SKIPPED=$((TAP_SKIPPED + 1))
	TAP_SKIPS+=("$1: $2: $3")
}

# tap_directive LINE: splits a test line's text (after "ok N ") into TAP_NAME, TAP_DIRECTIVE
# (skip, todo or empty) and TAP_REASON. The directive is the first " # SKIP" or " # TODO", in
# any case: bats prints "# skip", cmocka "# SKIP", and a bats test name may carry "# TODO".
tap_directive() {
	local text=$1 lc pre kind
	text=${text#- }
	lc=${text,,}
	TAP_NAME=$text TAP_DIRECTIVE='' TAP_REASON=''
	for kind in skip todo; do
		pre=${lc%%"# $kind"*}
		[ "$pre" != "$lc" ] || continue
		[ -z "$TAP_DIRECTIVE" ] || [ ${#pre} -lt ${#TAP_NAME} ] || continue
		TAP_DIRECTIVE=$kind
		TAP_NAME=${text:0:${#pre}}
		TAP_REASON=${text:${#pre}+${#kind}+2}
	done
	TAP_NAME=${TAP_NAME%"${TAP_NAME##*[![:space:]]}"}
	TAP_REASON=${TAP_REASON#"${TAP_REASON%%[![:space:]]*}"}
	if [[ $TAP_REASON == \(*\) ]]; then
		TAP_REASON=${TAP_REASON:1:-1}
	fi
}

# tap_count WHERE FILE: adds FILE's TAP to the totals; WHERE names it in the lists.
tap_count() {
	local where=$1 file=$2 line planned=0 plans=0 ran=0 not
	if [ ! -r "$file" ]; then
		tap_fail "$where" "(whole file)" "no TAP output at all ($file missing)"
		return
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^1\.\.([0-9]+) ]]; then
			planned=$((planned + BASH_REMATCH[1])) plans=$((plans + 1))
			continue
		fi
		[[ $line =~ ^(not )?ok\ [0-9]+\ ?(.*)$ ]] || continue
		ran=$((ran + 1))
		not=${BASH_REMATCH[1]}
		tap_directive "${BASH_REMATCH[2]}"
		case $not$TAP_DIRECTIVE in
		todo) TAP_KNOWN+=("$where: $TAP_NAME: did not show this time (passed): $TAP_REASON") ;;
		"not todo")
			TAP_KNOWN_FAILED=$((TAP_KNOWN_FAILED + 1))
			TAP_KNOWN+=("$where: $TAP_NAME: $TAP_REASON")
			;;
		skip)
			TAP_SKIPPED=$((TAP_SKIPPED + 1))
			TAP_SKIPS+=("$where: $TAP_NAME: ${TAP_REASON:-(no reason given)}")
			;;
		"") TAP_PASSED=$((TAP_PASSED + 1)) ;;
		*) # not ok, and a "not ok # SKIP", which prove and meson count as failed too
			TAP_FAILED=$((TAP_FAILED + 1))
			TAP_FAILS+=("$where: $TAP_NAME: failed")
			;;
		esac
	done <"$file"
	if [ "$plans" -eq 0 ]; then
		tap_fail "$where" "(whole file)" "no plan (1..N): the run died before it started"
	elif [ "$ran" -lt "$planned" ]; then
		TAP_FAILED=$((TAP_FAILED + planned - ran))
		TAP_FAILS+=("$where: $((planned - ran)) of $planned planned tests never ran (counted failed)")
	elif [ "$ran" -gt "$planned" ]; then
		tap_fail "$where" "(whole file)" "$ran tests ran, $planned planned"
	fi
}

# tap_only_known FILE: true if every planned test of FILE ran and every failure is a known
# one (not ok ... # TODO), and there is at least one: bats then exits 1, and tap-tee says 0.
tap_only_known() {
	local TAP_PASSED=0 TAP_FAILED=0 TAP_SKIPPED=0 TAP_KNOWN_FAILED=0
	local -a TAP_SKIPS=() TAP_KNOWN=() TAP_FAILS=()
	tap_count - "$1"
	[ "$TAP_FAILED" -eq 0 ] && [ "$TAP_KNOWN_FAILED" -gt 0 ]
}

# tap_file_name DIR FILE: where tap-tee keeps FILE's TAP.
tap_file_name() {
	printf '%s/%s.tap\n' "$1" "${2//\//_}"
}

# tap_prove WHERE DIR FILE...: prove runs FILEs (with TAP_RUNNER, default `bats --tap`),
# output streamed; each file's own TAP lands in DIR and is counted. prove's exit status is
# read too: it fails the run even when no TAP line did.
tap_prove() {
	local where=$1 dir=$2 status before f
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	prove -v --timer --exec "$TAP_LIB/tap-tee $dir ${TAP_RUNNER:-bats --tap}" "$@" 2>&1 |
		tee "$dir/prove.log"
	status=${PIPESTATUS[0]}
	before=$TAP_FAILED
	for f in "$@"; do tap_count "$where $f" "$(tap_file_name "$dir" "$f")"; done
	if [ "$status" -ne 0 ] && [ "$TAP_FAILED" -eq "$before" ]; then
		tap_fail "$where" prove "exited $status although no test failed (see $dir/prove.log)"
	fi
}

# tap_meson WHERE BUILDDIR: adds the last `meson test` run of BUILDDIR. A test whose stdout is
# TAP (the cmocka binaries, through tests/unit/cmocka-tap) counts case by case, and fails once
# more if it exited badly with no failed case (a leak report at exit); others count by result.
tap_meson() {
	local where=$1 log=$2/meson-logs/testlog.json out=$2/meson-logs/tap name result rc i=0 tap before
	if [ ! -f "$log" ]; then
		tap_fail "$where" "meson test" "no $log: meson test did not run"
		return
	fi
	rm -rf "$out"
	mkdir -p "$out"
	while IFS=$'\t' read -r name result rc; do
		tap=$out/$i.tap
		jq -rs ".[$i].stdout // \"\"" "$log" >"$tap"
		i=$((i + 1))
		if grep -qE '^1\.\.[0-9]+' "$tap"; then
			before=$TAP_FAILED
			tap_count "$where $name" "$tap"
			case $result in OK | SKIP) ;; *)
				[ "$TAP_FAILED" -ne "$before" ] ||
					tap_fail "$where $name" "(binary)" "$result, exit status $rc, with no failed case"
				;;
			esac
			continue
		fi
		case $result in
		OK | EXPECTEDFAIL) TAP_PASSED=$((TAP_PASSED + 1)) ;;
		SKIP) tap_skip "$where" "$name" "meson: the test exited 77" ;;
		*) tap_fail "$where" "$name" "$result, exit status $rc" ;;
		esac
	done < <(jq -rs '.[] | [.name, .result, (.returncode | tostring)] | @tsv' "$log")
}

# tap_opt_out VAR WHERE: true if the environment variable VAR is 1 and CI is not set: the tier
# WHERE is then counted and listed as skipped by request. Under CI the opt-out is refused, and
# that refusal is a failure (the tier still runs).
tap_opt_out() {
	[ "${!1:-}" = 1 ] || return 1
	if [ -z "${CI:-}" ]; then
		tap_skip "$2" "(whole tier)" "skipped by request: $1=1"
		return 0
	fi
	tap_fail "$2" "(whole tier)" "$1=1 is refused under CI (CI=$CI): the tier runs"
	return 1
}

# tap_report: the lists, then the closing line, last.
tap_report() {
	local l
	echo
	if [ ${#TAP_FAILS[@]} -gt 0 ]; then
		echo "failed:"
		for l in "${TAP_FAILS[@]}"; do echo "  $l"; done
	fi
	if [ ${#TAP_KNOWN[@]} -gt 0 ]; then
		echo "known failures (TODO; counted neither passed nor failed):"
		for l in "${TAP_KNOWN[@]}"; do echo "  $l"; done
	fi
	if [ ${#TAP_SKIPS[@]} -gt 0 ]; then
		echo "skipped:"
		for l in "${TAP_SKIPS[@]}"; do echo "  $l"; done
	fi
	echo "$TAP_PASSED passed, $TAP_FAILED failed, $TAP_SKIPPED skipped"
}
