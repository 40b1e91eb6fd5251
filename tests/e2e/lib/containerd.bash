# A private containerd for the end-to-end tests and scripts/demo: its own root, state, socket and
# config, never the host's. Load after lib/common.bash (it uses NH_SCRATCH, NODEHOOK_BIN,
# nh_fail, nh_busybox_cache) and lib/node.bash (the node lock).
#
#   nh_ctrd_start DIR   containerd 1.6 with its own root, state, socket and config under DIR,
#                       nodehook-runtime (a symlink to $NODEHOOK_BIN) as the BinaryName of the
#                       CRI runtime handlers "nodehook", "nodehook-crio", "guarded",
#                       "nodehook-open" and "nodehook-star" (see nh_ctrd_config_toml; "runc",
#                       the default, is plain runc), the offline busybox and pause images
#                       imported; exports the NH_CTRD_* variables below
#   nh_ctrd_stop        stops all of it, by PID, and removes what it made (see the order there)
#   nh_ctr ARGS         ctr against it, in the test namespace $NH_CTRD_NS
#   nh_cri ARGS         tests/e2e/cri/cri.js against its CRI socket (after nh_cri_deps)
#
# What nh_ctrd_start exports (bats runs setup_file and the tests in different processes):
#   NH_CTRD_DIR      DIR
#   NH_CTRD_SOCK     /run/nh-containerd-<suffix>/containerd.sock (1.6 puts shim sockets under
#                    /run/containerd/s whatever "state" says; the grpc socket is ours to place)
#   NH_CTRD_PID      containerd's pid
#   NH_CTRD_NS       the test namespace of ctr containers, nh-<suffix>; their cgroups are
#                    /<ns>/<id> in every hierarchy
#   NH_CTRD_CGROUP   /nh-<suffix>-pods: the cgroup_parent CRI pods must use, so that teardown
#                    knows every cgroup it has to remove
#   NH_RUNTIME       DIR/bin/nodehook-runtime
#   NODEHOOK_CONFIG  DIR/nodehook/config.json, the node config, also in containerd's environment:
#                    the shim runs BinaryName with containerd's environment, and runc runs hooks
#                    with its caller's, so the wrapper and the hook both read this file
#   NH_HOOKS_DIR     DIR/hooks.d, the one hooks.d directory of that config: nodehook's own hook
#                    files (from deploy/hooks.d) are there; tests add theirs and remove them
#   NH_STATE_DIR     /dev/shm/nh-ctrd-<suffix>-XXXXXX/state, the config's state_dir
#   NH_IMAGE         the busybox image (entrypoint /bin/sh), in the test namespace and in k8s.io
#   NH_PAUSE_IMAGE   the pause image (sandbox_image), in k8s.io

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/node.bash"

NH_IMAGE=docker.io/library/nh-busybox:1.0
NH_PAUSE_IMAGE=docker.io/library/nh-pause:1.0
NH_CRI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../cri" && pwd)
# npm packages of the CRI client: outside the repository, shared by every checkout.
NH_NPM_CACHE=${NH_NPM_CACHE:-/var/cache/nodehook-test/npm}

# ---------------------------------------------------------------------------------------------
# Images, offline: OCI image layouts built with tar, gzip, sha256sum and jq, for
# `ctr images import` (the index annotation io.containerd.image.name names the image).

# nh_oci_image ROOTFS NAME OUT.tar ENTRYPOINT_JSON: an OCI image layout tar of one layer, named
# NAME through the index annotation io.containerd.image.name. Reproducible: same inputs, same
# digests.
nh_oci_image() {
	local rf=$1 name=$2 out=$3 entry=$4 t diff ld ls cd cs md ms
	t=$(mktemp -d "${out%/*}/.oci-XXXXXX") || return 1
	mkdir -p "$t/blobs/sha256"
	tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='2020-01-01 00:00Z' \
		-C "$rf" -cf "$t/l.tar" . || return 1
	diff=$(sha256sum "$t/l.tar" | cut -d' ' -f1)
	gzip -n "$t/l.tar"
	ld=$(sha256sum "$t/l.tar.gz" | cut -d' ' -f1) ls=$(stat -c %s "$t/l.tar.gz")
	mv "$t/l.tar.gz" "$t/blobs/sha256/$ld"
	jq -cn --arg d "sha256:$diff" --argjson e "$entry" '{architecture: "amd64", os: "linux",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Entrypoint: $e, WorkingDir: "/"},
		rootfs: {type: "layers", diff_ids: [$d]}}' >"$t/c.json" || return 1
	cd=$(sha256sum "$t/c.json" | cut -d' ' -f1) cs=$(stat -c %s "$t/c.json")
	mv "$t/c.json" "$t/blobs/sha256/$cd"
	jq -cn --arg cd "sha256:$cd" --argjson cs "$cs" --arg ld "sha256:$ld" --argjson ls "$ls" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
			size: $ls}]}' >"$t/m.json" || return 1
	md=$(sha256sum "$t/m.json" | cut -d' ' -f1) ms=$(stat -c %s "$t/m.json")
	mv "$t/m.json" "$t/blobs/sha256/$md"
	jq -cn --arg md "sha256:$md" --argjson ms "$ms" --arg n "$name" '{schemaVersion: 2,
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md,
		size: $ms, platform: {architecture: "amd64", os: "linux"},
		annotations: {"io.containerd.image.name": $n}}]}' >"$t/index.json" || return 1
	echo '{"imageLayoutVersion":"1.0.0"}' >"$t/oci-layout"
	tar -C "$t" -cf "$out" oci-layout index.json blobs && rm -rf "$t"
}

# Prints the cache directory holding busybox.tar and pause.tar (OCI layouts). Built once per
# busybox binary and pause.c, under the cache lock; the pause program is pause.c built static.
nh_ctrd_images() {
	local key dir
	command -v gcc >/dev/null || { nh_fail "gcc is missing: it builds the static pause image"; return 1; }
	key=$(cat /bin/busybox "$NH_CRI_DIR/pause.c" | sha256sum | cut -c1-16) || return 1
	dir=$NH_SCRATCH/cache/ctrd-images-v1-$key # bump v1 when the recipe changes
	if [ ! -f "$dir/.complete" ]; then
		local bb
		bb=$(nh_busybox_cache) || return 1
		mkdir -p "$NH_SCRATCH/cache"
		(
			flock 9
			[ -f "$dir/.complete" ] && exit 0
			tmp=$(mktemp -d "$NH_SCRATCH/cache/.nh-build-XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			mkdir -p "$tmp/pause-rootfs"
			gcc -static -Os -s -o "$tmp/pause-rootfs/pause" "$NH_CRI_DIR/pause.c" || exit 1
			nh_oci_image "$tmp/pause-rootfs" "$NH_PAUSE_IMAGE" "$tmp/pause.tar" '["/pause"]' || exit 1
			nh_oci_image "$bb/rootfs" "$NH_IMAGE" "$tmp/busybox.tar" '["/bin/sh"]' || exit 1
			rm -rf "$tmp/pause-rootfs"
			touch "$tmp/.complete"
			rm -rf "$dir"
			mv "$tmp" "$dir"
			trap - EXIT
		) 9>"$NH_SCRATCH/cache/.lock" || { nh_fail "building the OCI images failed"; return 1; }
	fi
	echo "$dir"
}

# ---------------------------------------------------------------------------------------------
# The CRI client's npm packages.

# nh_cri_deps: installs @grpc/grpc-js and @grpc/proto-loader, as pinned by
# tests/e2e/cri/package-lock.json, into $NH_NPM_CACHE/<lock hash>/ (never into the repository)
# and exports NH_NODE_PATH. Returns 1 with the reason in NH_CRI_UNAVAILABLE (for a skip) when
# node or npm is missing or the registry cannot be reached.
nh_cri_deps() {
	NH_CRI_UNAVAILABLE=
	local c
	for c in node npm; do
		if ! command -v $c >/dev/null; then
			NH_CRI_UNAVAILABLE="$c is not installed (Debian: apt-get install nodejs npm)"
			return 1
		fi
	done
	local key dir
	key=$(cat "$NH_CRI_DIR/package.json" "$NH_CRI_DIR/package-lock.json" | sha256sum | cut -c1-16)
	dir=$NH_NPM_CACHE/$key
	if [ ! -f "$dir/.complete" ]; then
		mkdir -p "$NH_NPM_CACHE" 2>/dev/null || { NH_CRI_UNAVAILABLE="cannot create $NH_NPM_CACHE"; return 1; }
		local log=$NH_NPM_CACHE/.npm-ci.log
		if ! (
			flock 9
			[ -f "$dir/.complete" ] && exit 0
			tmp=$(mktemp -d "$NH_NPM_CACHE/.nh-XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			cp "$NH_CRI_DIR/package.json" "$NH_CRI_DIR/package-lock.json" "$tmp/"
			# Fail within a minute when the registry cannot be reached (npm's default
			# retries take minutes); npm's own cache under $NH_NPM_CACHE serves reinstalls.
			(cd "$tmp" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts \
				--cache "$NH_NPM_CACHE/.npm" --fetch-retries 1 --fetch-retry-mintimeout 2000 \
				--fetch-retry-maxtimeout 5000 --fetch-timeout 30000) >"$log" 2>&1 || exit 1
			touch "$tmp/.complete"
			rm -rf "$dir"
			mv "$tmp" "$dir"
			trap - EXIT
		) 9>"$NH_NPM_CACHE/.lock"; then
			NH_CRI_UNAVAILABLE="npm ci of @grpc/grpc-js and @grpc/proto-loader into $NH_NPM_CACHE failed (registry unreachable?): $(grep -m1 -i 'err' "$log" 2>/dev/null || tail -n 1 "$log")"
			return 1
		fi
	fi
	export NH_NODE_PATH=$dir/node_modules
}

nh_cri() {
	NODE_PATH=$NH_NODE_PATH node "$NH_CRI_DIR/cri.js" --address "$NH_CTRD_SOCK" "$@"
}

nh_ctr() {
	ctr --address "$NH_CTRD_SOCK" -n "$NH_CTRD_NS" "$@"
}

# ---------------------------------------------------------------------------------------------
# The daemon.

# nh_ctrd_node_config [FILTER]: (re)writes $NODEHOOK_CONFIG: the test defaults, run through the
# jq FILTER if given. Wrapper and hook read it at every call, so a test may change it while
# containerd runs (and puts the defaults back with nh_ctrd_node_config and no FILTER).
nh_ctrd_node_config() {
	local runtime
	runtime=$(command -v runc) || { nh_fail "runc is missing"; return 1; }
	jq -n --arg state "$NH_STATE_DIR" --arg hooks "$NH_HOOKS_DIR" --arg runtime "$runtime" \
		'{state_dir: $state, hooks_dirs: [$hooks], runtime: $runtime, cri: "auto",
		actions: {"cpu-load-balancing": {enabled: true, allowed_namespaces: ["*"],
		on_error: "fail", backend: "auto"}}} | '"${1:-.}" >"$NODEHOOK_CONFIG.new" || return 1
	mv "$NODEHOOK_CONFIG.new" "$NODEHOOK_CONFIG"
}

# Writes containerd's config.toml (printed to stdout).
nh_ctrd_config_toml() {
	local d=$NH_CTRD_DIR
	cat <<EOF
version = 2
root = "$d/root"
state = "$d/state"
plugin_dir = "$d/plugins"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$NH_CTRD_SOCK"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$NH_PAUSE_IMAGE"
  # Without CAP_SYS_RESOURCE (as on some test machines) runc fails to set the -998 the sandbox
  # asks for ("can't get final child's PID from pipe: EOF"): clamp to containerd's own score.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    # The handler a RuntimeClass names: only nodehook's annotation keys pass from pods and
    # containers to config.json, every action's (README's example). Go path.Match: "*" never
    # matches a "/", so the per-container form needs its own "/*" glob.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["*.nodehook.io", "*.nodehook.io/*"]
      container_annotations = ["*.nodehook.io", "*.nodehook.io/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook.options]
        BinaryName = "$NH_RUNTIME"
    # A handler for pods written for CRI-O: CRI-O's high-performance keys (*.crio.io, pod-wide
    # and per container) pass; the node config then needs annotation_domains ["crio.io"].
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-crio]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["*.crio.io", "*.crio.io/*"]
      container_annotations = ["*.crio.io", "*.crio.io/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-crio.options]
        BinaryName = "$NH_RUNTIME"
    # Another handler through nodehook-runtime, with no annotation passed: on containerd only
    # the wrapper runs hooks.d, so every handler of a node needs it for the guard to see every
    # container start (a cpuset is born balanced on cgroup v1).
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.guarded]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.guarded.options]
        BinaryName = "$NH_RUNTIME"
    # A handler that lets every annotation through, as careless configs do: what the
    # anti-spoofing test needs, since the handler above would already drop a pod's
    # io.kubernetes.cri.* annotations.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-open]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["*", "*/*"]
      container_annotations = ["*", "*/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-open.options]
        BinaryName = "$NH_RUNTIME"
    # The glob check: "*" alone, which must NOT let "cpu-load-balancing.nodehook.io/<name>"
    # through.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-star]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["*"]
      container_annotations = ["*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodehook-star.options]
        BinaryName = "$NH_RUNTIME"
EOF
}

# nh_ctrd_hook_files DIR: nodehook's own hooks.d files, from deploy/hooks.d/*.json.in with the
# hook path pointing at $NODEHOOK_BIN, installed as a cgroup v1 node installs them: the guard
# (every container start) under the createRuntime file's name, and the poststop file.
nh_ctrd_hook_files() {
	local dir=$1 src=$NH_REPO/deploy/hooks.d
	mkdir -p "$dir"
	sed "s|@BINDIR@/nodehook|$NODEHOOK_BIN|" "$src/nodehook-guard.json.in" \
		>"$dir/nodehook-createruntime.json" &&
		sed "s|@BINDIR@/nodehook|$NODEHOOK_BIN|" "$src/nodehook-poststop.json.in" \
			>"$dir/nodehook-poststop.json"
}

# nh_ctrd_start DIR
nh_ctrd_start() {
	local dir=$1 suffix
	suffix=$(echo "${dir##*[-.]}" | tr -cd 'A-Za-z0-9' | tail -c 12)
	[ -n "$suffix" ] || suffix=$$
	mkdir -p "$dir"/{bin,nodehook,cni/bin,cni/net.d,opt,plugins} || return 1
	export NH_CTRD_DIR=$dir
	export NH_CTRD_SOCK=/run/nh-containerd-$suffix/containerd.sock
	export NH_CTRD_NS=nh-$suffix
	export NH_CTRD_CGROUP=/nh-$suffix-pods
	export NH_RUNTIME=$dir/bin/nodehook-runtime
	export NODEHOOK_CONFIG=$dir/nodehook/config.json
	export NH_HOOKS_DIR=$dir/hooks.d
	# On a tmpfs, as /run would be on a normal node (/run is not a tmpfs on every test machine).
	NH_STATE_DIR=$(mktemp -d "/dev/shm/nh-ctrd-$suffix-XXXXXX")/state || return 1
	export NH_STATE_DIR
	echo "${NH_STATE_DIR%/state}" >"$dir/.shm"
	export NH_CTRD_PID=
	# Written first, so that nh_ctrd_stop can clean up after a start that failed halfway.
	printf '%s\n' "$NH_CTRD_NS" "${NH_CTRD_CGROUP#/}" >"$dir/.cgroups"
	echo "$NH_CTRD_SOCK" >"$dir/.socket"

	ln -sf "$NODEHOOK_BIN" "$NH_RUNTIME"
	nh_ctrd_hook_files "$NH_HOOKS_DIR" || return 1
	nh_ctrd_node_config || return 1
	nh_ctrd_config_toml >"$dir/config.toml"

	local images
	images=$(nh_ctrd_images) || return 1

	mkdir -p "${NH_CTRD_SOCK%/*}"
	# containerd must not hold bats' fd 3 (bats waits for it to close) nor our terminal.
	NODEHOOK_CONFIG=$NODEHOOK_CONFIG setsid containerd --config "$dir/config.toml" \
		</dev/null >"$dir/containerd.log" 2>&1 3>&- &
	NH_CTRD_PID=$!
	echo "$NH_CTRD_PID" >"$dir/containerd.pid"
	# A generous deadline, not a performance bound: a loaded machine can take seconds.
	local t0=$SECONDS
	until [ -S "$NH_CTRD_SOCK" ] && ctr --address "$NH_CTRD_SOCK" version >/dev/null 2>&1; do
		if ! kill -0 "$NH_CTRD_PID" 2>/dev/null; then
			nh_fail "containerd exited at start:" "$(tail -n 5 "$dir/containerd.log")"
			return 1
		fi
		if [ $((SECONDS - t0)) -ge 60 ]; then
			nh_fail "containerd did not answer on $NH_CTRD_SOCK within 60 s"
			return 1
		fi
		sleep 0.1
	done
	if ! ctr --address "$NH_CTRD_SOCK" plugins ls 2>/dev/null | grep -q 'io.containerd.grpc.v1.*cri.*ok'; then
		nh_fail "containerd's CRI plugin did not load:" \
			"$(grep -i 'cri' "$dir/containerd.log" | grep -iE 'error|fail' | tail -n 3)"
		return 1
	fi
	ctr --address "$NH_CTRD_SOCK" -n k8s.io images import "$images/pause.tar" >/dev/null &&
		ctr --address "$NH_CTRD_SOCK" -n k8s.io images import "$images/busybox.tar" >/dev/null &&
		ctr --address "$NH_CTRD_SOCK" -n "$NH_CTRD_NS" images import "$images/busybox.tar" >/dev/null ||
		{ nh_fail "ctr images import failed"; return 1; }
}

# nh_ctrd_pids_with ARG: pids of processes that have ARG as one whole argument.
nh_ctrd_pids_with() {
	local f
	for f in $(grep -lszxF -- "$1" /proc/[0-9]*/cmdline); do
		f=${f#/proc/}
		echo "${f%/cmdline}"
	done
}

# Stops everything nh_ctrd_start started, in this order: CRI pods and ctr tasks and
# containers, then leftover shims (by the socket address on their command line), containerd
# (by pid), then mounts left under DIR, nodehook records (restored, as a safety net: tests
# assert there are none), the cgroups made for our namespace and pods (deepest first, empty
# ones only), the empty runtime directories containerd 1.6 puts under /run/containerd, and
# DIR. Safe to call twice and after a failed start.
nh_ctrd_stop() {
	local dir=${NH_CTRD_DIR:-}
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	# Deleting containers runs nodehook's undo: a change to the cpusets.
	local locked=
	if [ -z "${NH_NODE_LOCK_FD:-}" ] && nh_node_lock --no-check; then
		locked=1
	fi
	local sock pid ns id
	sock=$(cat "$dir/.socket" 2>/dev/null) || sock=
	pid=$(cat "$dir/containerd.pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$(command -v containerd)")" ]; then
		pid= # gone, or its pid was reused
	fi
	if [ -n "$pid" ] && [ -S "$sock" ]; then
		if [ -n "${NH_NODE_PATH:-}" ]; then
			NH_CTRD_SOCK=$sock nh_cri --timeout 30 down-all >/dev/null 2>&1 || true
		fi
		for ns in $(ctr --address "$sock" namespaces ls -q 2>/dev/null); do
			for id in $(ctr --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
				ctr --address "$sock" -n "$ns" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
			done
			for id in $(ctr --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
				ctr --address "$sock" -n "$ns" tasks delete -f "$id" >/dev/null 2>&1 || true
			done
			for id in $(ctr --address "$sock" -n "$ns" containers ls -q 2>/dev/null); do
				ctr --address "$sock" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
			done
		done
	fi
	if [ -n "$sock" ]; then
		local shim
		for shim in $(nh_ctrd_pids_with "$sock"); do
			[ "$shim" = "$pid" ] || kill -9 "$shim" 2>/dev/null || true
		done
	fi
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		local i
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	local m
	findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	local shm
	shm=$(cat "$dir/.shm" 2>/dev/null) || shm=
	if [ -n "$shm" ] && [ -n "$(ls -A "$shm/state/containers" 2>/dev/null)" ]; then
		echo "# nodehook records left: nodehook restore --all" >&2
		NODEHOOK_CONFIG=$dir/nodehook/config.json "$NODEHOOK_BIN" restore --all >&2 || true
	fi
	[ -n "$shm" ] && rm -rf "$shm"
	local cg root
	while read -r cg; do
		[ -n "$cg" ] || continue
		for root in /sys/fs/cgroup/*/; do
			[ -d "$root$cg" ] || continue
			find "$root$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
		done
	done <"$dir/.cgroups"
	for ns in k8s.io "${NH_CTRD_NS:-}"; do
		[ -n "$ns" ] && rmdir "/run/containerd/runc/$ns" 2>/dev/null || true
	done
	rmdir /run/containerd/runc /run/containerd/s /run/containerd/fifo /run/containerd \
		2>/dev/null || true
	[ -n "$sock" ] && rm -rf "${sock%/*}"
	[ -z "$locked" ] || nh_node_unlock
	if [ "${NH_KEEP:-0}" = 1 ]; then
		echo "# NH_KEEP=1: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
	NH_CTRD_DIR=
}

# ---------------------------------------------------------------------------------------------
# A suite whose pods change the node (cgroup v1 cpusets, and whatever else its actions touch).

# For setup_file: one containerd for the file (nh_ctrd_start) and the CRI client; exports
# NH_CTRD_SKIP (why the file's tests must skip: no containerd, or no cgroup v1 cpuset node),
# NH_CRI_SKIP (no CRI client) and NH_NODE_FAIL (the node is not clean). The node lock is the
# file's, taken once containerd and its shims (which must not inherit the lock's fd) run;
# released by nh_ctrd_file_teardown. A node that is not clean (a leftover of an earlier test)
# fails every test, naming the leftover. Returns 1 only for a broken run.
nh_ctrd_file_setup() {
	nh_require_nodehook
	export NH_CTRD_SKIP NH_CRI_SKIP='' NH_NODE_FAIL=''
	NH_CTRD_SKIP=$(nh_ctrd_missing)
	[ -z "$NH_CTRD_SKIP" ] || return 0
	NH_CTRD_SKIP=$(nh_node_missing)
	[ -z "$NH_CTRD_SKIP" ] || return 0
	mkdir -p "$NH_SCRATCH"
	nh_ctrd_start "$(mktemp -d "$NH_SCRATCH/nh-ctrd-XXXXXXXX")" || return 1
	nh_cri_deps || NH_CRI_SKIP="no CRI client: $NH_CRI_UNAVAILABLE"
	nh_node_lock 2>/dev/null || NH_NODE_FAIL=$NH_NODE_LOCK_ERR
}

nh_ctrd_file_teardown() {
	nh_ctrd_stop
	nh_node_unlock
}

# For setup: the skips (in setup, where bats 1.8 keeps their reason), the node snapshot
# (lib/node.bash; the lock is the file's), the cgroups of the test namespace and of the CRI pods
# ours; $NH_STATE is containerd's nodehook state dir; $NH_T/.pods lists the pods to take down.
nh_ctrd_test_setup() {
	[ -z "$NH_CTRD_SKIP" ] || skip "$NH_CTRD_SKIP"
	[ -z "$NH_CRI_SKIP" ] || skip "$NH_CRI_SKIP"
	[ -z "$NH_NODE_FAIL" ] || nh_fail "$NH_NODE_FAIL" || return 1
	nh_setup
	: >"$NH_T/.pods"
	NH_STATE=$NH_STATE_DIR
	nh_node_snapshot
	nh_node_ours "/$NH_CTRD_NS/*" "$NH_CTRD_CGROUP/*"
}

# ---------------------------------------------------------------------------------------------
# Preconditions and node state.

# Prints why this machine cannot run the containerd tests (empty when it can).
nh_ctrd_missing() {
	[ "$(id -u)" = 0 ] || { echo "needs root: containerd and runc create containers"; return; }
	local c
	for c in containerd ctr containerd-shim-runc-v2 runc jq gcc setsid flock findmnt; do
		command -v $c >/dev/null || {
			echo "$c is not installed (scripts/install-deps installs it)"
			return
		}
	done
	[ -x /bin/busybox ] || echo "/bin/busybox is missing: install busybox-static"
}
