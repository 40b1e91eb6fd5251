# shellcheck shell=bash
# Host-side helpers for the VM tests' bats files (`load lib/host`): boot a guest through
# scripts/vm/run ($RUN, set by the caller) and look at its result lines.
# bats' `run` sets output, status and lines.
# shellcheck disable=SC2154

# vm_unavailable REASON: the VM tests cannot run here (no root, no qemu, kernels not prepared).
# That fails the test: this tier is the only one that sees the sched domains, and a CI machine
# that lost its kernels must not pass with every boot skipped. NODEHOOK_SKIP_VM=1 makes it a
# skip with the reason for a developer; under CI (CI set) the request is refused.
vm_unavailable() {
	if [ "${NODEHOOK_SKIP_VM:-}" = 1 ] && [ -z "${CI:-}" ]; then
		skip "$1 (NODEHOOK_SKIP_VM=1)"
	fi
	echo "the VM tests cannot run here: $1" >&2
	if [ -n "${CI:-}" ]; then
		echo "(CI=$CI: a skip is refused, NODEHOOK_SKIP_VM=${NODEHOOK_SKIP_VM:-} or not)" >&2
	else
		echo "(NODEHOOK_SKIP_VM=1 skips them instead, outside CI)" >&2
	fi
	return 1
}

# boot KERNEL CG SCRIPT [ARGS...]: runs the guest; fails (vm_unavailable) if the runner cannot
# run here. all_lines keeps every attempt's output; lines only the last attempt's (the runner
# retries a boot whose guest kernel failed).
boot() {
	local i last=0
	run "$RUN" "$@"
	echo "$output"
	if [ "$status" = 77 ]; then
		vm_unavailable "${lines[${#lines[@]} - 1]#nhvm: SKIP: }"
		return 1
	fi
	all_lines=("${lines[@]}")
	for i in "${!lines[@]}"; do [[ ${lines[i]} == "nhvm: booting "* ]] && last=$i; done
	lines=("${lines[@]:last}")
}

# has LINE: the output holds a line that starts with LINE (the timestamp prefix removed).
has() {
	local l
	for l in "${lines[@]}"; do
		l=${l#\[*\] }
		[[ $l == "$1"* ]] && return 0
	done
	echo "missing: $1" >&2
	return 1
}

# qemu_gone: no qemu the runner reported (one per attempt) is running any more.
qemu_gone() {
	local l pid n=0
	for l in "${all_lines[@]}"; do
		[[ $l =~ ^nhvm:\ .*qemu\ pid\ ([0-9]+) ]] || continue
		pid=${BASH_REMATCH[1]} n=$((n + 1))
		if [ -e "/proc/$pid" ] && [[ $(readlink "/proc/$pid/exe") == *qemu* ]]; then
			echo "qemu $pid still running" >&2
			return 1
		fi
	done
	[ "$n" -gt 0 ] || {
		echo "the runner reported no qemu pid" >&2
		return 1
	}
}

# passes CG NAME...: each check NAME passed, and no check outside the list ran. A NAME written
# NAME~ is a check that shows a known bug: it must be there, PASS or "SKIP KNOWN BUG: ...", and
# is judged by its own test (known_bug), never counted as passed here.
passes() {
	local cg=$1 name n=0 l
	shift
	for name in "$@"; do
		if [[ $name == *~ ]]; then
			has "NHVM-RESULT $cg.${name%\~} PASS" 2>/dev/null ||
				has "NHVM-RESULT $cg.${name%\~} SKIP KNOWN BUG: " || return 1
		else
			has "NHVM-RESULT $cg.$name PASS" || return 1
		fi
	done
	for l in "${lines[@]}"; do [[ $l == *NHVM-RESULT\ * ]] && n=$((n + 1)); done
	[ "$n" -eq $# ] || {
		echo "$n results, want $#" >&2
		return 1
	}
}

# known_bug CG NAME LINES_FILE: the check NAME passed; it is one that shows a known bug, and the bats test
# calling this carries "# TODO known bug: ..." in its name, so that its failure is listed as a
# known failure, not counted (scripts/check). LINES_FILE holds the boot's lines.
known_bug() {
	local cg=$1 name=$2 file=$3
	[ -s "$file" ] || {
		echo "no result lines in $file: the boot failed (see the test before this one)" >&2
		return 1
	}
	mapfile -t lines <"$file"
	has "NHVM-RESULT $cg.$name PASS" || {
		grep -F "NHVM-RESULT $cg.$name " "$file" >&2
		return 1
	}
}
