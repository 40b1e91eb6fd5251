#!/usr/bin/env bats
# All five actions under Podman 4.3 with the hooks.d files the build ships
# (build/deploy/nodehook-createruntime.json and nodehook-poststop.json): a container carrying the
# five *.crio.io annotations of a pod written for CRI-O's high-performance runtime class, with the
# node config's annotation_domains ["crio.io"]. The shipped files' `when` matches every action's
# key in any domain; only hook.path (af_hook_wrapper's script, which runs the binary under test)
# and hook.env (NODEHOOK_CONFIG) differ from them, and setup checks that.
#
# What is observed while the container runs and after it is gone, and why the governor is
# refused here (no cpufreq driver on this machine): lib/allfive.bash. Podman has no pod cgroup
# of the kubelet's kind: the container runs under --cgroup-parent /nh-<suffix>-pod, a cgroup the
# test makes with a CFS quota of one CPU, which cpu-quota treats as the pod's; the container's own
# quota is one CPU (--cpu-quota). Podman runs poststop itself after the container exits, so
# "after" is awaited (nh_wait_for). Podman's private store, the node lock, the cpuset snapshot and
# the restore in teardown are lib/common.bash's and lib/node.bash's, as in hook-podman.bats.

load lib/common
load lib/node
load lib/hook
load lib/allfive

SHIPPED=(nodehook-createruntime.json nodehook-poststop.json)

setup_file() {
	nh_podman_shipped_file_setup "${SHIPPED[@]}"
}

teardown_file() {
	nh_podman_teardown
}

setup() {
	nh_podman_require
	nh_hook_setup || return 1
	CPU_MOUNT=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
	[ -n "$CPU_MOUNT" ] || nh_fail "no cgroup v1 hierarchy with the cpu controller on this node" || return 1
	af_setup || return 1
	jq -n --arg s "$NH_STATE" '{state_dir: $s} | '"$(af_config_filter)" >"$NH_NODE_CONFIG"
	PHOOKS=$NH_T/hooks.d
	mkdir -p "$PHOOKS"
	local f wrapper
	wrapper=$(af_hook_wrapper)
	for f in "${SHIPPED[@]}"; do
		jq --arg p "$wrapper" --arg e "NODEHOOK_CONFIG=$NH_NODE_CONFIG" \
			'.hook.path = $p | .hook.env = [$e]' "$NH_DEPLOY_DIR/$f" >"$PHOOKS/$f"
		nh_jq_assert "$PHOOKS/$f" --slurpfile s "$NH_DEPLOY_DIR/$f" \
			'del(.hook.path, .hook.env) == ($s[0] | del(.hook.path)) and ($s[0].hook | has("env") | not)' ||
			return 1
	done
}

teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	nh_nolock nh_podman_rm_listed "$NH_T/.podman"
	NODEHOOK_CONFIG=$NH_NODE_CONFIG nh_nolock "$NODEHOOK_BIN" restore --all >/dev/null 2>&1 || true
	af_force_restore
	nh_node_teardown
	local root
	for root in /sys/fs/cgroup/*/; do
		[ -d "${root}nh-$NH_SUFFIX-pod" ] || continue
		find "${root}nh-$NH_SUFFIX-pod" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	[ -z "${NH_STATE_BASE:-}" ] || rm -rf "$NH_STATE_BASE"
	nh_teardown
}

@test "podman: a container with all five CRI-O annotations (*.crio.io, annotation_domains [\"crio.io\"]) and the shipped hooks.d files: four settings observed while it runs (the governor refused and logged: no cpufreq driver here), all restored after it exits" {
	local pod_cg=/nh-$NH_SUFFIX-pod name ann args=() k
	name=$(nh_id all5)
	mkdir -p "$CPU_MOUNT$pod_cg"
	echo 100000 >"$CPU_MOUNT$pod_cg/cpu.cfs_period_us"
	echo 100000 >"$CPU_MOUNT$pod_cg/cpu.cfs_quota_us"
	ann=$(af_annotations)
	for k in $(jq -r 'keys[]' <<<"$ann"); do
		args+=(--annotation "$k=$(jq -r --arg k "$k" '.[$k]' <<<"$ann")")
	done
	nh_podman_track "$name"
	local cid
	cid=$(nh_nolock nh_podman --hooks-dir "$PHOOKS" run -d --name "$name" --network none \
		--cgroup-parent "$pod_cg" --cpuset-cpus 1 --cpu-period 100000 --cpu-quota 100000 \
		"${args[@]}" --rootfs "$ROOTFS" sleep 300 2>"$NH_T/podman.err") ||
		nh_fail "podman run failed: $(cat "$NH_T/podman.err")" || return 1
	nh_podman_note_started "$cid"

	af_assert_running "$cid" "$CPU_MOUNT$pod_cg/cpu.cfs_quota_us" \
		"$CPU_MOUNT$pod_cg/libpod-$cid/cpu.cfs_quota_us"

	run --separate-stderr nh_nolock nh_podman stop -t 0 "$name"
	nh_assert_status 0
	# Podman runs poststop in the cleanup after the container exits, asynchronously.
	nh_wait_for test ! -e "$NH_STATE/containers/$cid.json"
	run --separate-stderr nh_nolock nh_podman rm "$name"
	nh_assert_status 0
	af_assert_restored "$CPU_MOUNT$pod_cg/cpu.cfs_quota_us 100000"
	nh_assert_node_restored "$pod_cg/" "$pod_cg/conmon/"
}
