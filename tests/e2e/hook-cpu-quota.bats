#!/usr/bin/env bats
# cpu-quota.nodehook.io: disable, through `nodehook hook` run by the real runc on this machine's
# cgroup v1 cpu hierarchy (/sys/fs/cgroup/cpu here; wherever mountinfo says). The v2 kernel is
# tested in tests/vm (the 6.12 guest); the fake trees in tests/unit/test-cpu_quota.c.
#
# A "pod" here is a cgroup the test makes, /nh-<suffix>-pod<N>, with a CFS quota of 2 CPUs
# (200000 per 100000 us); each container runs in /nh-<suffix>-pod<N>/<id> (linux.cgroupsPath),
# pinned to CPU 1 with a quota of 1 CPU (runc writes it at create). While an annotated container
# runs, both quotas read -1; when the last container of the pod that asked goes, the pod's is
# 200000 again (the container's cgroup is gone with the container). The cpuset tree is not
# changed (cpu-load-balancing is not asked for), but runc makes cpusets for these cgroups: the
# node lock of lib/node serialises with the suites that judge the cpuset tree.

load lib/common
load lib/node
load lib/hook

setup_file() {
	nh_require_nodehook
}

setup() {
	nh_hook_setup
	CPU_MOUNT=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
	[ -n "$CPU_MOUNT" ] || nh_fail "no cgroup v1 hierarchy with the cpu controller on this node"
	HOOKS=$NH_T/hooks
	nh_nodehook_hooks "$HOOKS" --action cpu-quota
}

teardown() {
	nh_hook_teardown
}

# make_pod N [QUOTA]: the pod cgroup /nh-<suffix>-podN with the given quota (default 200000).
make_pod() {
	local pod=$CPU_MOUNT/nh-$NH_SUFFIX-pod$1
	mkdir -p "$pod"
	echo "${2:-200000}" >"$pod/cpu.cfs_quota_us"
}

# quota_of CGROUP: cpu.cfs_quota_us of a cgroup ("/nh-...-pod1/id").
quota_of() {
	cat "$CPU_MOUNT$1/cpu.cfs_quota_us"
}

# quota_bundle DIR ID POD VALUE [QUOTA]: a bundle for container ID in pod N, annotated
# cpu-quota.nodehook.io: VALUE (no annotation for VALUE "-"), with a quota of QUOTA (default
# 100000; "none": no quota), hooks from $HOOKS.
quota_bundle() {
	local dir=$1 id=$2 pod=$3 value=$4 quota=${5:-100000} ann='{}' cpu
	[ "$value" = - ] || ann=$(jq -n --arg v "$value" '{"cpu-quota.nodehook.io": $v}')
	cpu='{"cpus": "1", "mems": "0", "quota": '"$quota"', "period": 100000}'
	[ "$quota" = none ] && cpu='{"cpus": "1", "mems": "0"}'
	mkdir -p "$dir"
	jq --arg root "$NH_BASE/rootfs" --argjson ann "$ann" --argjson cpu "$cpu" \
		--arg cg "/nh-$NH_SUFFIX-pod$pod/$id" \
		'.root.path = $root | .process.args = ["sleep", "300"] | .linux.resources.cpu = $cpu
		| .linux.cgroupsPath = $cg | .annotations = $ann' \
		"$NH_BASE/config.json" >"$dir/config.template.json" || return 1
	nh_bundle_rehook "$dir" "$HOOKS"
}

# start ID POD [VALUE [QUOTA]]: runc run -d of an annotated container (VALUE default disable).
start() {
	quota_bundle "$NH_T/b-$1" "$1" "$2" "${3:-disable}" "${4:-100000}" &&
		nh_runc_start run "$1" "$NH_T/b-$1"
}

pod_cg() {
	echo "/nh-$NH_SUFFIX-pod$1"
}

@test "disable: the container's and the pod's quota are -1 while it runs, status says what changed, and both come back after" {
	make_pod 1
	local a
	a=$(nh_id a)
	start "$a" 1
	nh_assert_eq -1 "$(quota_of "$(pod_cg 1)")" "the pod's quota while it runs"
	nh_assert_eq -1 "$(quota_of "$(pod_cg 1)/$a")" "the container's quota while it runs"

	run --separate-stderr "$NODEHOOK_BIN" status --json
	nh_assert_status 0
	printf '%s\n' "$output" >"$NH_T/status.json"
	nh_jq_assert "$NH_T/status.json" --arg id "$a" --arg m "$CPU_MOUNT" --arg pod "$(pod_cg 1)" '
		.containers[0].id == $id and .containers[0].actions == [{action: "cpu-quota",
		value: "disable", backend: "cgroup-v1", cpus: null, state: "applied",
		details: {mount: $m, file: "cpu.cfs_quota_us", pod_cgroup: $pod, pod: "changed",
			container_cgroup: ($pod + "/" + $id), container: "changed", pod_old: "200000",
			container_old: "100000"}}]'
	nh_jq_assert "$NH_STATE/cpu-quota.json" --arg id "$a" --arg pod "$(pod_cg 1)" \
		'.pods[$pod].old == "200000" and .pods[$pod].holders == [$id]'
	run --separate-stderr "$NODEHOOK_BIN" status
	nh_assert_status 0
	[[ ${lines[1]} =~ ^$a\ +-\ +-\ +cpu-quota\ +disable\ +cgroup-v1\ +-\ +[^\ ]+\ +applied\ +mount=$CPU_MOUNT\ file=cpu.cfs_quota_us\ .*pod=changed.*pod_old=200000\ container_old=100000$ ]] ||
		nh_fail "status row:" "$output"

	runc delete -f "$a"
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 1)")" "the pod's quota after"
	nh_assert_no_state
}

@test "two containers of one pod, stopped in either order: the pod stays unlimited until the last goes" {
	local order a b first second
	for order in ab ba; do
		make_pod 2
		a=$(nh_id "a-$order")
		b=$(nh_id "b-$order")
		start "$a" 2
		start "$b" 2
		nh_assert_eq -1 "$(quota_of "$(pod_cg 2)")" "the pod's quota ($order)"
		nh_assert_eq -1 "$(quota_of "$(pod_cg 2)/$b")" "b's quota ($order)"
		if [ "$order" = ab ]; then first=$a second=$b; else first=$b second=$a; fi
		runc delete -f "$first"
		nh_assert_eq -1 "$(quota_of "$(pod_cg 2)")" "the pod's quota with $second left ($order)"
		nh_assert_eq -1 "$(quota_of "$(pod_cg 2)/$second")" "$second's quota ($order)"
		runc delete -f "$second"
		nh_assert_eq 200000 "$(quota_of "$(pod_cg 2)")" "the pod's quota after both ($order)"
		nh_assert_no_state
	done
}

@test "already unlimited (the kubelet's DisableCPUQuotaWithExclusiveCPUs): a no-op, recorded as such; a container without the annotation is left alone" {
	make_pod 3 -1
	local a n
	a=$(nh_id a)
	n=$(nh_id n)
	start "$a" 3 disable none
	nh_assert_eq -1 "$(quota_of "$(pod_cg 3)")" "the pod's quota"
	nh_jq_assert "$NH_STATE/containers/$a.json" \
		'.actions["cpu-quota"].details | .pod == "already unlimited"
		and .container == "already unlimited" and (has("pod_old") | not)'
	[ ! -e "$NH_STATE/cpu-quota.json" ] || nh_fail "a ledger for a no-op:" "$(cat "$NH_STATE/cpu-quota.json")"
	runc delete -f "$a"
	nh_assert_eq -1 "$(quota_of "$(pod_cg 3)")" "the pod's quota after"

	make_pod 4
	start "$n" 4 -
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 4)")" "the pod's quota (not asked)"
	nh_assert_eq 100000 "$(quota_of "$(pod_cg 4)/$n")" "the container's quota (not asked)"
	runc delete -f "$n"
	nh_assert_no_state
}

@test "hostile values and cgroups: the start fails naming the key and the accepted values; nothing changes" {
	make_pod 5
	local v id i=0
	for v in junk Disable 'disable; rm -rf /' '' 'true ' "$(printf 'disable\nx')" "$(head -c 300 /dev/zero | tr '\0' x)"; do
		i=$((i + 1))
		id=$(nh_id "h$i")
		quota_bundle "$NH_T/b-$id" "$id" 5 "$v"
		run --separate-stderr nh_runc_start create "$id" "$NH_T/b-$id"
		[ "$status" -ne 0 ] ||
			nh_fail "value '$v' was accepted"
		# runc quotes the hook's stderr: the double quotes come back escaped.
		[[ $stderr == *"annotation 'cpu-quota.nodehook.io': invalid value '"*"' (expected "*disable*" or "*enable*")"* ]] ||
			nh_fail "value '$v': the error does not name the key and the accepted values:" "$stderr"
		nh_assert_eq 200000 "$(quota_of "$(pod_cg 5)")" "the pod's quota after value '$v'"
	done
	# "true": CRI-O's deprecated spelling works; the hook warns (runc shows hook stderr only on
	# failure, so the warning is checked by running the hook by hand below).
	id=$(nh_id t)
	start "$id" 5 true
	nh_assert_eq -1 "$(quota_of "$(pod_cg 5)")" "the pod's quota with \"true\""
	runc delete -f "$id"
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 5)")" "the pod's quota after \"true\""
	local bundle=$NH_T/b-$(nh_id w)
	quota_bundle "$bundle" "$(nh_id w)" 5 true
	nh_hook createRuntime '{"ociVersion": "1.0.2", "id": "'"$(nh_id w)"'", "status": "creating", "pid": 1, "bundle": "'"$bundle"'"}'
	[[ $stderr == *"annotation 'cpu-quota.nodehook.io': value \"true\" is deprecated (CRI-O's spelling); use \"disable\""* ]] ||
		nh_fail "no deprecation warning:" "$stderr"
	# That hand-run hook had no cgroup to act on (pid 1's bundle names a cgroup runc never
	# made): it failed; nothing may be left.
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 5)")" "the pod's quota after the hand-run hook"
	"$NODEHOOK_BIN" restore --all >/dev/null

	# A cgroup right under the root has no pod cgroup: refused, the root's quota untouched.
	id=$(nh_id root)
	quota_bundle "$NH_T/b-$id" "$id" 5 disable
	nh_json_edit "$NH_T/b-$id/config.json" --arg cg "/$id" '.linux.cgroupsPath = $cg'
	echo "runc $id" >>"$NH_T/.containers"
	run --separate-stderr nh_nolock runc create --bundle "$NH_T/b-$id" "$id"
	[ "$status" -ne 0 ] && [[ $stderr == *"cpu-quota ('cpu-quota.nodehook.io'): the container's cgroup /$id has no pod cgroup above it"* ]] ||
		nh_fail "a container under the root cgroup was not refused:" "$stderr"
	nh_assert_eq -1 "$(cat "$CPU_MOUNT/cpu.cfs_quota_us")" "the root's quota"
	nh_assert_no_state
}

@test "annotation_domains [\"crio.io\"]: cpu-quota.crio.io works unchanged, the per-container key wins" {
	printf '{"state_dir": "%s", "annotation_domains": ["crio.io"]}\n' "$NH_STATE" >"$NH_NODE_CONFIG"
	nh_nodehook_hooks "$HOOKS" --action cpu-quota
	make_pod 6
	local a
	a=$(nh_id a)
	quota_bundle "$NH_T/b-$a" "$a" 6 -
	nh_json_edit "$NH_T/b-$a/config.template.json" \
		'.annotations = {"cpu-quota.crio.io": "true", "io.kubernetes.cri.container-type": "container",
		"io.kubernetes.cri.sandbox-namespace": "default", "io.kubernetes.cri.sandbox-name": "p",
		"io.kubernetes.cri.container-name": "app", "cpu-quota.crio.io/other": "junk"}
		| .linux.resources.cpu.shares = 1024'
	nh_bundle_rehook "$NH_T/b-$a" "$HOOKS"
	nh_runc_start run "$a" "$NH_T/b-$a"
	nh_assert_eq -1 "$(quota_of "$(pod_cg 6)")" "the pod's quota"
	nh_jq_assert "$NH_STATE/containers/$a.json" '.actions["cpu-quota"].value == "true"'
	runc delete -f "$a"
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 6)")" "the pod's quota after"
	nh_assert_no_state
}

# gc_restores N WHAT: after crash point N, `nodehook gc` succeeds, the pod's quota is 200000
# again and nothing of nodehook's is left.
gc_restores() {
	run --separate-stderr "$NODEHOOK_BIN" gc
	nh_assert_status 0
	nh_assert_eq 200000 "$(quota_of "$(pod_cg 7)")" "the pod's quota after crash point $1 ($2) and gc"
	nh_assert_no_state
}

@test "kill -9 at every crash point of createRuntime and of poststop: gc restores the quotas" {
	make_pod 7
	local n id variant completed
	for variant in create create-no-poststop poststop; do
		completed=0
		for ((n = 1; n <= 20; n++)); do
			id=$(nh_id "$variant-$n")
			case $variant in
			create) nh_nodehook_hooks "$HOOKS" --action cpu-quota --crash-at "$n" ;;
			create-no-poststop) nh_nodehook_hooks "$HOOKS" --action cpu-quota --crash-at "$n" --no-poststop ;;
			poststop) nh_nodehook_hooks "$HOOKS" --action cpu-quota --crash-at-poststop "$n" ;;
			esac
			quota_bundle "$NH_T/b-$id" "$id" 7 disable
			run --separate-stderr nh_runc_start create "$id" "$NH_T/b-$id"
			if [ "$variant" = poststop ]; then
				[ "$status" -eq 0 ] || nh_fail "create of $id:" "$stderr"
				nh_assert_eq -1 "$(quota_of "$(pod_cg 7)")" "the pod's quota ($id)"
				# The poststop hook may be killed: runc only warns about it.
				nh_nolock runc delete -f "$id" >/dev/null 2>&1 || true
				! runc state "$id" >/dev/null 2>&1 || nh_fail "runc still knows $id"
				if [ -f "$NH_STATE/containers/$id.json" ]; then
					gc_restores "$n" "$variant"
					continue
				fi
				completed=$n
			elif [ "$status" -eq 0 ]; then
				completed=$n
				nh_assert_eq -1 "$(quota_of "$(pod_cg 7)")" "the pod's quota ($id)"
				runc delete -f "$id"
			else
				[[ $stderr == *"signal: killed"* ]] ||
					nh_fail "crash point $n ($variant): create failed, but not by the crash:" "$stderr"
				if [ "$variant" = create-no-poststop ]; then
					[ -f "$NH_STATE/containers/$id.json" ] ||
						nh_fail "crash point $n: no record for gc to work from"
				fi
			fi
			gc_restores "$n" "$variant"
			[ "$completed" -eq 0 ] || break
		done
		[ "$completed" -gt 1 ] || nh_fail "$variant: no crash point was reached, or the loop never completed"
	done
}

@test "20 parallel lifecycles in 4 pods: every quota -1 while they run, every pod's back after" {
	local p i id pids=()
	for p in 11 12 13 14; do make_pod "$p"; done
	for p in 11 12 13 14; do
		for i in 1 2 3 4 5; do
			id=$(nh_id "p$p-$i")
			quota_bundle "$NH_T/b-$id" "$id" "$p" disable
			echo "runc $id" >>"$NH_T/.containers"
		done
	done
	for p in 11 12 13 14; do
		for i in 1 2 3 4 5; do
			id=$(nh_id "p$p-$i")
			nh_nolock runc run -d --bundle "$NH_T/b-$id" "$id" </dev/null >"$NH_T/$id.stdio" 2>&1 &
			pids+=($!)
		done
	done
	local rc=0
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ $rc -eq 0 ] || nh_fail "a parallel start failed:" "$(cat "$NH_T"/*.stdio)"
	for p in 11 12 13 14; do
		nh_assert_eq -1 "$(quota_of "$(pod_cg "$p")")" "pod $p's quota"
		nh_jq_assert "$NH_STATE/cpu-quota.json" --arg pod "$(pod_cg "$p")" \
			'.pods[$pod].old == "200000" and (.pods[$pod].holders | length) == 5'
	done
	pids=()
	for p in 11 12 13 14; do
		for i in 1 2 3 4 5; do
			nh_nolock runc delete -f "$(nh_id "p$p-$i")" &
			pids+=($!)
		done
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ $rc -eq 0 ] || nh_fail "a parallel delete failed"
	for p in 11 12 13 14; do
		nh_assert_eq 200000 "$(quota_of "$(pod_cg "$p")")" "pod $p's quota after"
	done
	nh_assert_no_state
}
