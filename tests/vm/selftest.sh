#!/bin/bash
# Guest side of the runner's own tests in tests/vm/testbed.bats.
#   selftest.sh fail ARGS...  checks that ARGS arrived intact (quoting through the job file),
#                            then reports one deliberate FAIL and exits 0: the run must fail
#   selftest.sh hang          never ends: the run must time out and leave no qemu behind
# shellcheck source=lib/guest.bash
source "$NHVM_LIB"
mode=$1
shift
case $mode in
fail)
	printf -v got '<%s>' "$@"
	nhvm_check args '<a b><c$d><>' "$got" "$# arguments"
	nhvm_fail deliberate "a FAIL line must fail the run even when the script exits 0"
	exit 0
	;;
hang)
	while :; do nhvm_sleep 60; done
	;;
esac
nhvm_fail usage "unknown mode '$mode'"
exit 2
