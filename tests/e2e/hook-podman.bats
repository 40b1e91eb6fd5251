#!/usr/bin/env bats
# `nodehook hook` under Podman 4.3 (Debian), with the hooks.d files the build ships
# (build/deploy/nodehook-createruntime.json and nodehook-poststop.json).
#
# The shipped files name the installed binary (@BINDIR@/nodehook) and no environment, so the hook
# would read /etc/nodehook/config.json and keep state in /run/nodehook. The tests run Podman with
# --hooks-dir pointing at copies of those two files in which only hook.path (the binary under
# test) and hook.env (NODEHOOK_CONFIG, this test's node config) differ; setup asserts that this
# is the only difference (hooks_dir_is_shipped), so what runs is what ships: if not, every test
# fails saying what differs.
#
# Podman runs in a private store (lib/common.bash, nh_podman_setup) with runc, on a --rootfs
# copy of the busybox rootfs and --network none. runc runs createRuntime; Podman runs poststop
# itself, after the runtime's delete, with a state that has no pid (Podman's hooks.d support
# handles poststop and never writes it into config.json). The node lock, the cpuset snapshot, the
# assertions and the restore in teardown are lib/node.bash's, as in hook-runc.bats.

load lib/common
load lib/node
load lib/hook

SHIPPED=(nodehook-createruntime.json nodehook-poststop.json)
ANNOTATION=cpu-load-balancing.nodehook.io

setup_file() {
	nh_podman_shipped_file_setup "${SHIPPED[@]}"
}

teardown_file() {
	nh_podman_teardown
}

setup() {
	nh_podman_require
	nh_hook_setup
	write_hooks_dir
	hooks_dir_is_shipped
}

teardown() {
	nh_hook_teardown
}

# $PHOOKS: the shipped files with the binary under test and NODEHOOK_CONFIG.
write_hooks_dir() {
	PHOOKS=$NH_T/hooks.d
	mkdir -p "$PHOOKS"
	local f
	for f in "${SHIPPED[@]}"; do
		jq --arg p "$NODEHOOK_BIN" --arg e "NODEHOOK_CONFIG=$NH_NODE_CONFIG" \
			'.hook.path = $p | .hook.env = [$e]' "$NH_DEPLOY_DIR/$f" >"$PHOOKS/$f"
	done
}

# hooks_dir_is_shipped: the precondition of every test: $PHOOKS holds exactly the shipped files,
# each equal to its shipped file but for hook.path (the shipped one an absolute path to
# nodehook, ours $NODEHOOK_BIN) and hook.env (none shipped, ours NODEHOOK_CONFIG only). Fails
# naming each difference.
hooks_dir_is_shipped() {
	local f out
	nh_assert_eq "${SHIPPED[*]}" "$(cd "$PHOOKS" && echo *)" \
		"precondition: the files in the hooks dir under test ($PHOOKS)" || return 1
	for f in "${SHIPPED[@]}"; do
		out=$(jq -nr --slurpfile s "$NH_DEPLOY_DIR/$f" --slurpfile t "$PHOOKS/$f" \
			--arg p "$NODEHOOK_BIN" --arg e "NODEHOOK_CONFIG=$NH_NODE_CONFIG" '
			$s[0] as $s | $t[0] as $t
			| [if ($s | del(.hook.path)) != ($t | del(.hook.path, .hook.env)) then "other keys differ" else empty end,
			   if ($s.hook.path | test("^/.+/nodehook$") | not) then "shipped path \($s.hook.path)" else empty end,
			   if ($s.hook | has("env")) then "the shipped file has an env" else empty end,
			   if $t.hook.path != $p or $t.hook.env != [$e] then "path or env not replaced" else empty end]
			| join("; ")') || nh_fail "precondition: jq could not compare $PHOOKS/$f with $NH_DEPLOY_DIR/$f" || return 1
		[ -z "$out" ] || nh_fail "precondition: $PHOOKS/$f is not the shipped $NH_DEPLOY_DIR/$f with only hook.path and hook.env changed: $out" \
			"  shipped: $(jq -c . "$NH_DEPLOY_DIR/$f")" "  tested:  $(jq -c . "$PHOOKS/$f")" || return 1
	done
}

# podman_run NAME ARGS...: `podman run -d` of `sleep 30` pinned to CPU 1 with our hooks dir;
# sets CID (the full id) and status; the container is tracked for teardown, its cgroup is ours.
podman_run() {
	local name=$1
	shift
	nh_podman_track "$name"
	status=0
	CID=$(nh_nolock nh_podman --hooks-dir "$PHOOKS" run -d --name "$name" --network none --cpuset-cpus 1 \
		"$@" --rootfs "$ROOTFS" sleep 30 2>"$NH_T/podman.err") || status=$?
	[ "$status" = 0 ] || nh_fail "podman run failed ($status): $(cat "$NH_T/podman.err")" || return 1
	nh_podman_note_started "$CID"
	nh_node_ours "/libpod_parent/libpod-$CID/*"
}

# The config.json Podman gave runc for the container.
oci_config() {
	nh_podman inspect --format '{{.OCIConfigPath}}' "$1"
}

@test "podman: an annotated container pinned to CPU 1 isolates it; exit and rm restore every flag" {
	podman_run "$(nh_id iso)" --annotation "$ANNOTATION=disable"
	nh_assert_isolated 1
	nh_assert_cpuset "/libpod_parent/libpod-$CID/" "0 1"
	nh_jq_assert "$NH_STATE/cpuset-v1.json" --arg id "$CID" '.isolated == {($id): "1"}'
	nh_assert_eq "$CID.json" "$(ls "$NH_STATE/containers")" "records"
	nh_jq_assert "$NH_STATE/containers/$CID.json" --arg id "$CID" \
		'.id == $id and .pid > 1 and .actions["cpu-load-balancing"] == {applied: true, backend: "cgroup-v1", cpus: "1", value: "disable"}'
	# runc got createRuntime; poststop stayed with Podman (it never reaches config.json).
	nh_jq_assert "$(oci_config "$CID")" --arg p "$NODEHOOK_BIN" \
		'[.hooks.createRuntime[].path] == [$p] and (.hooks.poststop // [] | map(select(.path == $p)) == [])'

	run --separate-stderr nh_podman stop -t 0 "$(nh_id iso)"
	nh_assert_status 0
	# Podman runs poststop in the cleanup after the container exits, asynchronously.
	nh_wait_for test ! -e "$NH_STATE/cpuset-v1.json"
	nh_assert_node_restored "/libpod_parent/libpod-$CID/"

	run --separate-stderr nh_podman rm "$(nh_id iso)"
	nh_assert_status 0
	nh_assert_node_restored
}

@test "podman: a container without the annotation runs no nodehook hook and leaves the node alone" {
	# Tripwire: every hook run reads NODEHOOK_CONFIG first. With its atime set before its mtime,
	# any read moves the atime (relatime); check first that this file system does so.
	local probe=$NH_T/atime-probe
	echo x >"$probe"
	touch -a -d 2000-01-01 "$probe"
	cat "$probe" >/dev/null
	[ "$(stat -c %X "$probe")" -gt 946771200 ] ||
		nh_fail "reading a file does not update its atime here (noatime?): the tripwire cannot work" ||
		return 1
	touch -a -d 2000-01-01 "$NH_NODE_CONFIG"
	local atime
	atime=$(stat -c %X "$NH_NODE_CONFIG")

	podman_run "$(nh_id plain)"
	nh_jq_assert "$(oci_config "$CID")" --arg p "$NODEHOOK_BIN" '[.. | objects | .path? | select(. == $p)] == []'
	nh_assert_node_restored "/libpod_parent/libpod-$CID/"
	run --separate-stderr nh_podman stop -t 0 "$(nh_id plain)"
	nh_assert_status 0
	run --separate-stderr nh_podman rm "$(nh_id plain)"
	nh_assert_status 0
	nh_assert_eq "$atime" "$(stat -c %X "$NH_NODE_CONFIG")" "atime of NODEHOOK_CONFIG (a hook read it)"
	[ ! -e "$NH_STATE" ] || nh_fail "the state dir exists: $(find "$NH_STATE")"
	nh_assert_node_restored
}
