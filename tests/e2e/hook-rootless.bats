#!/usr/bin/env bats
# A rootless container on a node with the v1 guard installed (audit finding 11). Rootless Podman
# reads the same hooks.d directories and runs hooks as the user: the guard ("always") then runs
# for every rootless container, cannot open the root-owned 0700 state directory, and used to
# fail the start. It must let the container start and say why it did nothing.
#
# The hook runs here as uid 65534 through setpriv, given what rootless Podman gives it (the
# state on stdin, a config and bundle the user can read); not through rootless Podman itself.

load lib/common
load lib/node
load lib/hook

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_require_cmds setpriv
	nh_hook_setup
	HOOKS=$NH_T/hooks
	nh_nodehook_hooks "$HOOKS" --always
	nh_lb_bundle "$NH_T/b-ann" 1 yes "$HOOKS"
}

teardown() {
	nh_hook_teardown
}

@test "a non-root hook with the guard installed: the container starts, the guard says why it did nothing" {
	local a
	a=$(nh_id isolated)
	nh_runc_start run "$a" "$NH_T/b-ann"
	nh_assert_isolated 1
	local ledger
	ledger=$(cat "$NH_STATE/cpuset-v1.json")

	# What the user can read: the node config (as /etc/nodehook/config.json would be) and the
	# rootless container's bundle, on CPUs 0-1, asking for nothing. The state dir stays 0700.
	chmod 0711 "$NH_STATE_BASE"
	local user=$NH_STATE_BASE/user
	mkdir -m 0755 "$user" "$user/b"
	cp "$NH_NODE_CONFIG" "$user/config.json"
	jq '.annotations = {} | .linux.resources.cpu.cpus = "0-1"' "$NH_T/b-ann/config.json" \
		>"$user/b/config.json"
	chmod 0644 "$user/config.json" "$user/b/config.json"
	nh_assert_eq 700 "$(stat -c %a "$NH_STATE")" "the state dir's mode"

	local state
	state=$(jq -cn --arg b "$user/b" --argjson pid $$ \
		'{ociVersion: "1.0.2", id: "rootless-1", status: "creating", pid: $pid, bundle: $b}')
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -i NODEHOOK_CONFIG="$user/config.json" "$NODEHOOK_BIN" hook \
		--stage createRuntime <<<"$state"
	nh_assert_status 0
	nh_assert_eq "" "$output" "the hook's stdout"
	[[ $stderr == *"guards skipped: state directory"*"Permission denied (uid 65534: a rootless container cannot change the node, and it asked for nothing)"* ]] ||
		nh_fail "the hook did not say why the guard did nothing:" "$stderr"
	nh_assert_one_line "$stderr" "the hook's stderr"

	# Nothing changed: the isolation and its ledger are as they were.
	nh_assert_isolated 1
	nh_assert_eq "$ledger" "$(cat "$NH_STATE/cpuset-v1.json")" "the ledger"

	runc delete -f "$a"
	nh_assert_node_restored
}
