#!/usr/bin/env bats
# All five actions through containerd's CRI, as a kubelet drives it (tests/e2e/cri/cri.js:
# RunPodSandbox, CreateContainer, StartContainer, then StopContainer, RemoveContainer,
# StopPodSandbox, RemovePodSandbox): a Guaranteed pod written for CRI-O's high-performance
# runtime class, its five *.crio.io annotations unchanged, on the handler "nodehook-crio"
# (lib/containerd.bash: nodehook-runtime, the *.crio.io keys let through), with the node config's
# annotation_domains ["crio.io"].
#
# What is observed while the pod runs and after it is gone, and why the governor is refused
# here (no cpufreq driver on this machine): lib/allfive.bash. The pod's cgroup is made by the
# test as the kubelet makes a Guaranteed pod's, with a CFS quota of one CPU
# (<NH_CTRD_CGROUP>/pod-<suffix>, its cgroup_parent); the container's quota is runc's, from the
# container's resources. nodehook's own hooks.d files are those of lib/containerd.bash with
# hook.path pointing at af_hook_wrapper's script for the test (put back in teardown).

load lib/common
load lib/node
load lib/containerd
load lib/allfive

setup_file() {
	nh_ctrd_file_setup
}

teardown_file() {
	nh_ctrd_file_teardown
}

setup() {
	nh_ctrd_test_setup || return 1
	CPU_MOUNT=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
	[ -n "$CPU_MOUNT" ] || nh_fail "no cgroup v1 hierarchy with the cpu controller on this node" || return 1
	af_setup || return 1
	local wrapper f
	wrapper=$(af_hook_wrapper)
	for f in nodehook-createruntime.json nodehook-poststop.json; do
		nh_json_edit "$NH_HOOKS_DIR/$f" --arg p "$wrapper" '.hook.path = $p' || return 1
	done
	nh_ctrd_node_config "$(af_config_filter)"
}

teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	if [ -s "$NH_T/.pods" ]; then
		# shellcheck disable=SC2046
		nh_cri pod-down $(cat "$NH_T/.pods") >/dev/null 2>&1 || true
	fi
	nh_ctrd_hook_files "$NH_HOOKS_DIR"
	nh_ctrd_node_config "$(af_config_filter)"
	NODEHOOK_CONFIG=$NODEHOOK_CONFIG nh_nolock "$NODEHOOK_BIN" restore --all >/dev/null 2>&1 || true
	nh_ctrd_node_config
	af_force_restore
	nh_node_teardown
	nh_teardown
}

@test "CRI: a pod with all five CRI-O annotations (*.crio.io, annotation_domains [\"crio.io\"]) runs on handler nodehook-crio: four settings observed while it runs (the governor refused and logged: no cpufreq driver here), all restored after" {
	local pod_cg=$NH_CTRD_CGROUP/pod-$NH_SUFFIX name=nh-$NH_SUFFIX-all5 spec
	mkdir -p "$CPU_MOUNT$pod_cg"
	echo 100000 >"$CPU_MOUNT$pod_cg/cpu.cfs_period_us"
	echo 100000 >"$CPU_MOUNT$pod_cg/cpu.cfs_quota_us"
	spec=$NH_T/pod.json
	jq -n --arg name "$name" --arg cg "$pod_cg" --arg image "$NH_IMAGE" --arg suffix "$NH_SUFFIX" \
		--argjson pa "$(af_annotations)" '{handler: "nodehook-crio",
		sandbox: {metadata: {name: $name, namespace: "nh-e2e"}, labels: {"nh-e2e": $suffix},
			annotations: $pa, linux: {cgroup_parent: $cg}},
		container: {metadata: {name: "work"}, image: {image: $image},
			command: ["sleep", "300"],
			linux: {resources: {cpuset_cpus: "1", cpu_shares: 1024, cpu_period: 100000,
				cpu_quota: 100000}}}}' >"$spec"

	run --separate-stderr nh_cri pod-up "@$spec"
	nh_assert_status 0
	local pod_id container_id
	pod_id=$(jq -r .pod_id <<<"$output")
	container_id=$(jq -r .container_id <<<"$output")
	echo "$pod_id" >>"$NH_T/.pods"

	af_assert_running "$container_id" "$CPU_MOUNT$pod_cg/cpu.cfs_quota_us" \
		"$CPU_MOUNT$pod_cg/$container_id/cpu.cfs_quota_us"
	nh_jq_assert "$NH_T/status.json" --arg id "$container_id" '.containers[] | select(.id == $id)
		| .pod_namespace == "nh-e2e" and .container_name == "work"
		and ([.actions[] | .value] == ["disable", "disable", "disable", "disable"])'

	run --separate-stderr nh_cri pod-down "$pod_id"
	nh_assert_status 0
	af_assert_restored "$CPU_MOUNT$pod_cg/cpu.cfs_quota_us 100000"
	[ ! -e "$CPU_MOUNT$pod_cg/$container_id" ] || nh_fail "the container's cpu cgroup is still there"
	nh_assert_node_restored "/$NH_CTRD_NS/" "$NH_CTRD_CGROUP/" "$pod_cg/"
}
