# shellcheck shell=bash
# Host-side helpers for the VM tests' bats files (`load lib/host`): boot a guest through
# scripts/vm/run ($RUN, set by the caller) and look at its result lines.
# bats' `run` sets output, status and lines.
# shellcheck disable=SC2154

# boot KERNEL CG SCRIPT [ARGS...]: runs the guest; skips the test if the runner cannot run here.
# all_lines keeps every attempt's output; lines only the last attempt's (the runner retries a
# boot whose guest kernel failed).
boot() {
	local i last=0
	run "$RUN" "$@"
	echo "$output"
	if [ "$status" = 77 ]; then
		skip "${lines[${#lines[@]} - 1]#nhvm: SKIP: }"
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
# NAME~ may instead be a SKIP marked "KNOWN BUG" (a bug the test reproduces, not yet fixed).
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
