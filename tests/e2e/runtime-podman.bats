#!/usr/bin/env bats
# Podman 4.3 with `--runtime nodehook-runtime`: containers behave as with runc, and the wrapper
# (not Podman) injects the hooks.d hooks of the node config's hooks_dirs, so that the
# cpu-load-balancing annotation isolates CPU 1 while the container runs and the node is back as
# it was after rm. Podman's own hooks.d mechanism is off: its hooks_dir is an empty directory;
# setup_file checks that Podman indeed adds no hook (podman_adds_no_hooks), or every test fails.
#
# Podman runs in a private store (lib/common.bash, nh_podman_setup, with the rlimit workaround),
# on a copy of the busybox rootfs (--rootfs, no image), with --network none.
#
# Test-only shim: Podman runs the runtime for start, kill and delete with an environment of its
# own (XDG_RUNTIME_DIR and PATH only, libpod/oci_conmon_*.go); only conmon's calls (create, exec)
# get containers.conf's conmon_env_vars. A node keeps its config at /etc/nodehook/config.json,
# which this test must not touch, so Podman is given $NH_PODMAN_DIR/shim/nodehook-runtime, a
# two-line script that sets NODEHOOK_CONFIG and execs the real wrapper (the symlink $W).
# Without it the wrapper's delete, and the poststop hook runc runs from it, would look for the
# record in the default state dir, and CPU 1 would stay isolated.

load lib/common
load lib/node
load lib/runtime

setup_file() {
	nh_require_nodehook
	nh_podman_file_setup || return 1
	[ -n "$NH_PODMAN_SKIP" ] || podman_adds_no_hooks
}

# podman_adds_no_hooks: the precondition that makes the hooks in a wrapped container's
# config.json the wrapper's doing: the container of the isolation test, annotated and pinned to
# CPU 1, created and initialised with --runtime runc instead, gets no hook from Podman itself.
# Fails naming the hooks Podman wrote.
podman_adds_no_hooks() {
	local name=nh-${NH_PODMAN_DIR##*/nh-podman-}-nohooks cid cfg hooks
	cid=$(nh_podman create --name "$name" --runtime runc --network none \
		--annotation cpu-load-balancing.nodehook.io=disable --cpuset-cpus 1 --rootfs "$ROOTFS" true) &&
		nh_podman init "$name" >/dev/null ||
		nh_fail "precondition: podman create/init of $name with --runtime runc failed" || return 1
	nh_podman_note_started "$cid"
	cfg=$(nh_podman_config "$cid") && hooks=$(jq -c '.hooks // {}' "$cfg") ||
		nh_fail "precondition: no readable config.json for $name" || return 1
	nh_podman rm -f -t 0 "$name" >/dev/null
	nh_assert_eq "{}" "$hooks" "precondition: hooks Podman itself put into config.json (--runtime runc; its hooks_dir, $NH_PODMAN_DIR/no-hooks, is meant to be empty)"
}

teardown_file() {
	nh_podman_teardown
}

setup() {
	nh_podman_require
	nh_setup
	nh_rt_setup
	# The shim Podman is given (see the top of this file).
	SHIM=$NH_T/shim/nodehook-runtime
	mkdir -p "${SHIM%/*}"
	printf '#!/bin/sh\nNODEHOOK_CONFIG=%s exec %s "$@"\n' "$NODEHOOK_CONFIG" "$W" >"$SHIM"
	chmod 755 "$SHIM"
}

# nh_node_teardown removes the test's containers first (their delete runs the poststop hook),
# then gives back what the node still lacks.
teardown() {
	nh_node_teardown
	nh_teardown
}

# pm ARGS...: podman, without the node lock's fd (conmon outlives the call).
pm() {
	nh_nolock nh_podman "$@"
}

# scenario RUNTIME TAG: run to completion, run -d, exec, stop, inspect, rm; each step's output
# in $NH_T/cap/TAG-<step>.*, the container's name replaced by NAME.
scenario() {
	local rt=$1 tag=$2 name
	name=$(nh_id "$tag")
	nh_podman_track "$name-rm"
	nh_podman_track "$name"
	nh_rt_cap "$tag-run" pm run --rm --name "$name-rm" --runtime "$rt" --network none --rootfs "$ROOTFS" \
		sh -c 'echo out; echo err >&2; exit 3'
	nh_rt_cap "$tag-rund" pm run -d --name "$name" --runtime "$rt" --network none --rootfs "$ROOTFS" \
		sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
	# run -d prints the new container's id: check its form, keep it for teardown, then drop it.
	if grep -qxE '[0-9a-f]{64}' "$NH_T/cap/$tag-rund.out"; then
		nh_podman_note_started "$(cat "$NH_T/cap/$tag-rund.out")"
		: >"$NH_T/cap/$tag-rund.out"
	fi
	nh_rt_cap "$tag-exec" pm exec "$name" sh -c 'echo exec-out; echo exec-err >&2; exit 4'
	nh_rt_cap "$tag-stop" pm stop -t 10 "$name"
	nh_rt_cap "$tag-inspect" pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name"
	nh_rt_cap "$tag-rm" pm rm "$name"
	sed -i "s/$name/NAME/g" "$NH_T/cap/$tag"-*.out "$NH_T/cap/$tag"-*.err
}

@test "podman --runtime nodehook-runtime: run, exec, stop, rm as with runc" {
	# The node config's runtime logs each call, then execs runc: proof that Podman's calls went
	# through the wrapper.
	cat >"$NH_T/bin/logged-runc" <<EOF
#!/bin/sh
echo "\$*" >>'$NH_T/calls'
exec /usr/bin/runc "\$@"
EOF
	chmod 755 "$NH_T/bin/logged-runc"
	nh_rt_node_config "$NH_T/bin/logged-runc"
	scenario runc direct
	scenario "$SHIM" wrapped
	local step x
	for step in run rund exec stop inspect rm; do
		for x in rc out err; do
			cmp -s "$NH_T/cap/direct-$step.$x" "$NH_T/cap/wrapped-$step.$x" && continue
			nh_fail "podman $step: $x differs (- runc, + nodehook-runtime):" \
				"$(diff -u "$NH_T/cap/direct-$step.$x" "$NH_T/cap/wrapped-$step.$x" | tail -n +3)"
			return 1
		done
	done
	nh_assert_eq 3 "$(cat "$NH_T/cap/wrapped-run.rc")" "run: exit status"
	nh_assert_eq "$(printf 'out\nerr')" "$(cat "$NH_T/cap/wrapped-run.out" "$NH_T/cap/wrapped-run.err")" "run: output"
	nh_assert_eq 4 "$(cat "$NH_T/cap/wrapped-exec.rc")" "exec: exit status"
	nh_assert_eq "exited 0" "$(cat "$NH_T/cap/wrapped-inspect.out")" "the container's end after stop"
	# Every verb Podman used came through the wrapper (the first word after any global flags).
	local verbs
	verbs=$(awk '{ for (i = 1; i <= NF; i++) if ($i !~ /^-/) { print $i; break } }' "$NH_T/calls" |
		sort -u | tr '\n' ' ')
	nh_assert_eq "create delete exec kill start " "$verbs" "the runtime verbs seen through the wrapper"
}

@test "podman: the node config's hooks_dirs, the annotation and --cpuset-cpus 1 isolate CPU 1 while it runs; rm restores" {
	nh_node_require
	nh_node_setup
	nh_rt_nodehook_hooks nodehook-createruntime nodehook-poststop
	local name cid
	name=$(nh_id lb)
	nh_podman_track "$name"
	# --rootfs is a boolean flag: the first argument is the rootfs, the rest the command.
	cid=$(pm run -d --name "$name" --runtime "$SHIM" --network none \
		--annotation cpu-load-balancing.nodehook.io=disable --cpuset-cpus 1 --rootfs "$ROOTFS" \
		sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done')
	nh_podman_note_started "$cid"
	nh_node_ours "/libpod_parent/libpod-$cid/*"

	# The hooks in config.json are the wrapper's doing: Podman adds none (podman_adds_no_hooks).
	nh_jq_assert "$(nh_podman_config "$cid")" --arg nh "$NODEHOOK_BIN" \
		'[.hooks | to_entries[] | .key as $s | .value[] | "\($s) \(.path) \(.args | join(" "))"]
		== ["createRuntime \($nh) nodehook hook --stage createRuntime",
		    "poststop \($nh) nodehook hook --stage poststop"]'
	[ -f "$STATE/containers/$cid.json" ] || nh_fail "no record for the container" "$(ls -R "$STATE")"
	nh_assert_isolated 1
	nh_assert_cpuset "/libpod_parent/libpod-$cid/" "0 1"
	run pm exec "$name" sh -c 'grep Cpus_allowed_list /proc/self/status'
	nh_assert_status 0
	nh_assert_eq "$(printf 'Cpus_allowed_list:\t1')" "$output" "the container's CPUs"

	run pm stop -t 10 "$name"
	nh_assert_status 0
	run pm rm "$name"
	nh_assert_status 0
	nh_assert_node_restored
}
