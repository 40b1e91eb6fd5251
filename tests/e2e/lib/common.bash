# Shared helpers for the end-to-end suites (bats 1.8, run through prove).
#
# Naming and cleanup rules:
# - Everything a test creates is called nh-<suffix>: scratch directories under $NH_SCRATCH,
#   runc/crun container ids, podman container names.
# - nh_setup makes $NH_T, the test's own directory; nh_teardown first deletes every container the
#   test started (by id, with the runtime that started it), then removes $NH_T. bats runs
#   teardown even when the test fails. NH_KEEP=1 keeps $NH_T for a post-mortem.
# - podman only ever runs through nh_podman, against a private store and config under
#   $NH_PODMAN_DIR (with rlimits within our hard limits, see nh_podman_setup); the host's podman
#   state is never read or written.
# - Cached, read-only inputs (the busybox rootfs) live in $NH_SCRATCH/cache; tests copy them.

bats_require_minimum_version 1.5.0

NH_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NH_REPO=$(cd "$NH_E2E_DIR/../.." && pwd)
NODEHOOK_BIN=${NODEHOOK_BIN:-$NH_REPO/build/src/nodehook/nodehook}
NH_SCRATCH=${NH_SCRATCH:-/var/tmp/nodehook-test}

nodehook() {
	"$NODEHOOK_BIN" "$@"
}

# For setup_file: a missing binary is a broken run, not a skip.
nh_require_nodehook() {
	if [ ! -x "$NODEHOOK_BIN" ]; then
		echo "NODEHOOK_BIN=$NODEHOOK_BIN is not an executable: build first (ninja -C build)" >&2
		return 1
	fi
}

nh_require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root: runc and podman create containers here"
}

nh_require_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null ||
			skip "$c is not installed (scripts/install-deps installs it)"
	done
}

# ---------------------------------------------------------------------------------------------
# Assertions: print what differed, then fail.

nh_fail() {
	printf '%s\n' "$@" >&2
	return 1
}

# nh_assert_eq EXPECTED ACTUAL [WHAT]
nh_assert_eq() {
	[ "$1" = "$2" ] && return 0
	nh_fail "${3:-value} differs" "  expected: $1" "  actual:   $2"
}

# nh_assert_json_eq EXPECTED_JSON ACTUAL_JSON [WHAT]: equal as JSON values (key order ignored).
nh_assert_json_eq() {
	jq -ne --argjson e "$1" --argjson a "$2" '$e == $a' >/dev/null && return 0
	nh_fail "${3:-JSON} differs (- expected, + actual):" \
		"$(diff -u <(jq -S . <<<"$1") <(jq -S . <<<"$2") | tail -n +3)"
}

# nh_jq_assert FILE [JQ_ARGS...] EXPR: EXPR, applied to FILE's JSON, must be true.
nh_jq_assert() {
	local f=$1
	shift
	jq -e "$@" "$f" >/dev/null && return 0
	nh_fail "not true: ${*: -1}" "in $f:" "$(jq -S . "$f" 2>&1 || cat "$f")"
}

# nh_assert_status EXPECTED: for use after bats' run.
nh_assert_status() {
	[ "$status" -eq "$1" ] && return 0
	nh_fail "exit status $status, expected $1" "stdout: $output" "stderr: ${stderr:-}"
}

# nh_wait_for CMD...: polls CMD (every 50 ms) until it succeeds, for up to $NH_WAIT_S seconds
# (default 60: a generous deadline, not a performance bound; a loaded 2-CPU machine can take
# seconds for what usually takes milliseconds). Says on fd 3 how long it took; fails naming CMD.
nh_wait_for() {
	local t0=${EPOCHREALTIME/./} deadline=$((SECONDS + ${NH_WAIT_S:-60})) ms
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			nh_fail "timed out after ${NH_WAIT_S:-60} s waiting for: $*"
			return 1
		fi
		sleep 0.05
	done
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	echo "# waited $ms ms for: $*" >&3
}

# ---------------------------------------------------------------------------------------------
# Per-test directory and cleanup.

nh_setup() {
	mkdir -p "$NH_SCRATCH"
	NH_T=$(mktemp -d "$NH_SCRATCH/nh-XXXXXXXX")
	NH_SUFFIX=${NH_T##*/nh-}
	: >"$NH_T/.containers"
}

nh_teardown() {
	[ -n "${NH_T:-}" ] && [ -d "$NH_T" ] || return 0
	local rt id
	while read -r rt id; do
		"$rt" delete -f "$id" >/dev/null 2>&1 || true
	done <"$NH_T/.containers"
	if [ -n "${NH_PODMAN_DIR:-}" ] && [ -s "$NH_T/.podman" ]; then
		nh_podman_rm_listed "$NH_T/.podman"
	fi
	if [ "${NH_KEEP:-0}" = 1 ]; then
		echo "# NH_KEEP=1: kept $NH_T" >&3
		return 0
	fi
	rm -rf "$NH_T"
}

# nh_id NAME: a container id unique to this test.
nh_id() {
	echo "nh-$NH_SUFFIX-$1"
}

# ---------------------------------------------------------------------------------------------
# The busybox rootfs and bundle, built offline from busybox-static (lib/mkbundle).

# Prints the cache directory holding rootfs/ and config.json made by lib/mkbundle, and
# regular-files (the rootfs's regular files, which nh_bundle copies rather than links). Built once
# per busybox binary, under a lock, then renamed into place.
nh_busybox_cache() {
	local key dir
	key=$(sha256sum /bin/busybox | cut -c1-16) || { nh_fail "install busybox-static"; return 1; }
	dir=$NH_SCRATCH/cache/busybox-v1-$key # bump v1 when lib/mkbundle changes
	if [ ! -f "$dir/.complete" ]; then
		mkdir -p "$NH_SCRATCH/cache"
		(
			flock 9
			[ -f "$dir/.complete" ] && exit 0
			tmp=$(mktemp -d "$NH_SCRATCH/cache/.nh-build-XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			"$NH_E2E_DIR/lib/mkbundle" "$tmp" || exit 1
			(cd "$tmp/rootfs" && find . -type f) >"$tmp/regular-files"
			touch "$tmp/.complete"
			rm -rf "$dir"
			mv "$tmp" "$dir"
			trap - EXIT
		) 9>"$NH_SCRATCH/cache/.lock" || { nh_fail "building the busybox rootfs failed"; return 1; }
	fi
	echo "$dir"
}

# nh_bundle DIR [JQ_ARGS... FILTER]: a fresh bundle in DIR: a private copy of the cached rootfs
# and the cached config.json run through jq (default filter: .). The copy hard-links the applet
# symlinks (creating 300 symlinks costs half a second on this ext4) and copies regular files, so
# nothing a test or runtime writes reaches the cache.
nh_bundle() {
	local dir=$1 cache f
	shift
	cache=$(nh_busybox_cache) || return 1
	mkdir -p "$dir"
	cp -al "$cache/rootfs" "$dir/rootfs"
	while read -r f; do
		cp -p --remove-destination "$cache/rootfs/$f" "$dir/rootfs/$f"
	done <"$cache/regular-files"
	jq "${@:-.}" "$cache/config.json" >"$dir/config.json"
}

# nh_json_edit FILE JQ_ARGS... FILTER: rewrites FILE in place (same inode, same mode).
nh_json_edit() {
	local f=$1 out
	shift
	out=$(jq "$@" "$f") || return 1
	printf '%s\n' "$out" >"$f"
}

# ---------------------------------------------------------------------------------------------
# The recording hook.
#
# nh_recorder writes $NH_REC, a hook executable that logs what it received into $NH_LOG:
#   LABEL.state (stdin), LABEL.args ($0 then its arguments, one a line), LABEL.cwd, LABEL.env,
#   LABEL.pidns (its pid namespace), LABEL.pid (its pid, which a `sleep N` keeps), and appends
#   LABEL to $NH_LOG/order.
# Called as `record LABEL [sleep N]`. A hook's LABEL is the stage its hook file names.
# nh_recorder_mounts prints a jq filter that bind-mounts $NH_REC's directory and $NH_LOG into the
# container at the same paths, so a startContainer hook (the runtime resolves its path inside the
# container's mount namespace) finds the same executable and writes the same log.
nh_recorder() {
	NH_REC=$NH_T/bin/record
	NH_LOG=$NH_T/log
	mkdir -p "$NH_T/bin" "$NH_LOG"
	cat >"$NH_REC" <<EOF
#!/bin/sh
# record LABEL [sleep N]: logs what this hook received under $NH_LOG/LABEL.*
label=\$1 log='$NH_LOG'
cat >"\$log/\$label.state"
printf '%s\n' "\$0" "\$@" >"\$log/\$label.args"
pwd -P >"\$log/\$label.cwd"
env >"\$log/\$label.env"
readlink /proc/self/ns/pid >"\$log/\$label.pidns"
echo \$\$ >"\$log/\$label.pid"
echo "\$label" >>"\$log/order"
if [ "\${2:-}" = sleep ]; then exec sleep "\$3"; fi
exit 0
EOF
	chmod 755 "$NH_REC"
}

nh_recorder_mounts() {
	printf '.mounts += [
		{destination: "%s", type: "bind", source: "%s", options: ["rbind", "ro"]},
		{destination: "%s", type: "bind", source: "%s", options: ["rbind", "rw"]}]' \
		"$NH_T/bin" "$NH_T/bin" "$NH_LOG" "$NH_LOG"
}

# nh_hook_file DIR NAME STAGE [WHEN_JSON [HOOK_MEMBERS [MORE_ARGS]]]: writes DIR/NAME, a 1.0.0
# hooks.d file for the one stage STAGE whose hook runs `record STAGE [MORE_ARGS]`.
# WHEN_JSON defaults to {"always": true}; HOOK_MEMBERS adds members to the hook object
# ('"timeout": 1'); MORE_ARGS adds arguments ('"sleep", "20"'). Plain printf, no jq: jq 1.6 takes
# 75 ms to start here, and the suite has to stay fast.
nh_hook_file() {
	local dir=$1 name=$2 stage=$3 when=${4:-'{"always": true}'} members=${5:+, $5} args=${6:+, $6}
	mkdir -p "$dir"
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["record", "%s"%s]%s},\n "when": %s, "stages": ["%s"]}\n' \
		"$NH_REC" "$stage" "$args" "$members" "$when" "$stage" >"$dir/$name"
}

# The labels the recorder logged, in order, on one line.
nh_hook_order() {
	[ -f "$NH_LOG/order" ] || return 0
	tr '\n' ' ' <"$NH_LOG/order" | sed 's/ $//'
}

# ---------------------------------------------------------------------------------------------
# Runtimes.

# nh_container_run RUNTIME ID BUNDLE: runs a container to completion (create, start, wait,
# delete, so every hook stage runs). The id is recorded for nh_teardown first.
nh_container_run() {
	local rt=$1 id=$2 bundle=$3
	echo "$rt $id" >>"$NH_T/.containers"
	"$rt" run --bundle "$bundle" "$id" </dev/null
}

# Prints the crun-nohybrid wrapper, made once in $NH_SCRATCH/bin: crun 1.8 refuses a hybrid
# cgroup layout ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"),
# even with --cgroup-manager=disabled; run in a private mount namespace without the cgroup2
# mount, it works (cgroups, state and hooks included). It does not touch the host.
nh_crun_wrapper() {
	local w=$NH_SCRATCH/bin/crun-nohybrid
	if [ ! -x "$w" ]; then
		mkdir -p "$NH_SCRATCH/bin"
		cat >"$w.$$" <<'EOF'
#!/bin/sh
# crun refuses hybrid cgroups ("cgroups in hybrid mode not supported"): run it in a private mount
# namespace without /sys/fs/cgroup/unified.
exec unshare --mount --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' crun "$@"
EOF
		chmod 755 "$w.$$"
		mv "$w.$$" "$w"
	fi
	echo "$w"
}

# nh_require_crun: sets NH_CRUN to the wrapper, or skips saying why crun cannot run a container
# here. The probe result is kept for the rest of the file.
nh_require_crun() {
	nh_require_cmds crun unshare
	NH_CRUN=$(nh_crun_wrapper)
	local verdict=$BATS_FILE_TMPDIR/crun-probe
	if [ ! -f "$verdict" ]; then
		local b=$NH_T/crun-probe out
		nh_bundle "$b" || return 1
		if out=$(nh_container_run "$NH_CRUN" "$(nh_id crun-probe)" "$b" 2>&1); then
			echo ok >"$verdict"
		else
			echo "crun cannot run a busybox container here, even through crun-nohybrid" \
				"(a private mount namespace without the cgroup2 mount): $(printf '%s' "$out" | tail -n 1)" >"$verdict"
		fi
		rm -rf "$b"
	fi
	[ "$(cat "$verdict")" = ok ] || skip "$(cat "$verdict")"
}

# ---------------------------------------------------------------------------------------------
# Podman in a private world.
#
# nh_podman_setup DIR: a store (graphroot, runroot), tmp dir, file locks, event log and network
# config dir of its own, all under DIR; rlimits within our hard limits (Podman's defaults exceed
# them, and raising them needs CAP_SYS_RESOURCE: "setrlimit RLIMIT_NOFILE: Operation not
# permitted"); runc as the runtime (crun needs nh_crun_wrapper); cgroupfs (no systemd here); an
# empty hooks_dir, so that the host's hooks.d files never run (tests pass --hooks-dir). conmon gets
# CONTAINERS_CONF in its environment so that the exit command it runs (podman container cleanup)
# uses the same private config: with the default "shm" lock type a fresh tmp dir would make that
# podman reset the host's /dev/shm/libpod_lock.
nh_podman_setup() {
	NH_PODMAN_DIR=$1
	mkdir -p "$NH_PODMAN_DIR"/{root,runroot,tmp,net,no-hooks}
	cat >"$NH_PODMAN_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = "$NH_PODMAN_DIR/tmp"
static_dir = "$NH_PODMAN_DIR/root/libpod"
volume_path = "$NH_PODMAN_DIR/root/volumes"
image_copy_tmp_dir = "$NH_PODMAN_DIR/tmp"
runtime = "runc"
hooks_dir = ["$NH_PODMAN_DIR/no-hooks"]
conmon_env_vars = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "CONTAINERS_CONF=$NH_PODMAN_DIR/containers.conf",
  "CONTAINERS_STORAGE_CONF=$NH_PODMAN_DIR/storage.conf",
]

[network]
network_backend = "cni"
network_config_dir = "$NH_PODMAN_DIR/net"
EOF
	cat >"$NH_PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$NH_PODMAN_DIR/root"
runroot = "$NH_PODMAN_DIR/runroot"
EOF
}

# For setup_file of a Podman suite: exports NH_PODMAN_SKIP, why the file's tests must skip
# (empty when Podman can run a container here), and otherwise NH_PODMAN_DIR (a private store,
# nh_podman_setup) and ROOTFS (a busybox rootfs for --rootfs). Returns 1 only for a broken run.
# The skip itself is nh_podman_require's, in setup: bats 1.8 turns a skip in setup_file into a
# failure that loses the reason.
nh_podman_file_setup() {
	export NH_PODMAN_SKIP= NH_PODMAN_DIR ROOTFS
	if [ "$(id -u)" != 0 ]; then
		NH_PODMAN_SKIP="needs root: podman here runs rootful, with runc"
		return 0
	fi
	local c
	for c in podman conmon runc jq; do
		if ! command -v "$c" >/dev/null; then
			NH_PODMAN_SKIP="$c is not installed (scripts/install-deps installs it)"
			return 0
		fi
	done
	mkdir -p "$NH_SCRATCH"
	nh_podman_setup "$(mktemp -d "$NH_SCRATCH/nh-podman-XXXXXXXX")"
	ROOTFS=$NH_PODMAN_DIR/bundle/rootfs
	nh_bundle "$NH_PODMAN_DIR/bundle" || return 1
	local out name=nh-${NH_PODMAN_DIR##*/nh-podman-}-probe
	if ! out=$(nh_podman run --rm --name "$name" --network none --rootfs "$ROOTFS" true 2>&1); then
		NH_PODMAN_SKIP="podman cannot run a container here: $(tail -n 1 <<<"$out")"
	fi
}

# For setup_file of a suite that runs Podman with nodehook's shipped hooks.d files: exports
# NH_DEPLOY_DIR (the build's deploy/, next to $NODEHOOK_BIN, unless set), fails unless each FILE
# is there, then nh_podman_file_setup.
nh_podman_shipped_file_setup() {
	nh_require_nodehook
	export NH_DEPLOY_DIR=${NH_DEPLOY_DIR:-${NODEHOOK_BIN%/src/nodehook/nodehook}/deploy}
	local f
	for f in "$@"; do
		[ -f "$NH_DEPLOY_DIR/$f" ] ||
			nh_fail "$NH_DEPLOY_DIR/$f is missing: build first (ninja -C build)" || return 1
	done
	nh_podman_file_setup
}

nh_podman_require() {
	[ -z "${NH_PODMAN_SKIP:-}" ] || skip "$NH_PODMAN_SKIP"
}

nh_podman() {
	[ -n "${NH_PODMAN_DIR:-}" ] || { nh_fail "nh_podman: no private store (nh_podman_setup)"; return 1; }
	CONTAINERS_CONF=$NH_PODMAN_DIR/containers.conf \
		CONTAINERS_STORAGE_CONF=$NH_PODMAN_DIR/storage.conf \
		podman --root "$NH_PODMAN_DIR/root" --runroot "$NH_PODMAN_DIR/runroot" \
		--storage-driver overlay "$@"
}

# nh_podman_track NAME: remember a container (for nh_teardown) and its full id and conmon pid
# (for nh_podman_teardown, which waits for conmon's exit command to finish).
nh_podman_track() {
	echo "$1" >>"$NH_T/.podman"
}

nh_podman_note_started() { # ID (the full one that create prints)
	local pid
	pid=$(cat "$NH_PODMAN_DIR/runroot/overlay-containers/$1/userdata/conmon.pid" 2>/dev/null) || return 0
	echo "$1 $pid" >>"$NH_PODMAN_DIR/started"
}

# nh_podman_config ID: prints the path of a container's bundle config.json (the storage userdata
# directory, where `podman inspect --format '{{.OCIConfigPath}}'` points), without running podman.
nh_podman_config() {
	local f=$NH_PODMAN_DIR/root/overlay-containers/$1/userdata/config.json
	[ -f "$f" ] || f=$(nh_podman inspect --format '{{.OCIConfigPath}}' "$1") || return 1
	echo "$f"
}

# Removes the containers named in FILE (one a line).
nh_podman_rm_listed() {
	local names
	mapfile -t names <"$1"
	[ ${#names[@]} -gt 0 ] || return 0
	nh_podman rm -f -t 0 "${names[@]}" >/dev/null 2>&1 || true
}

# Removes every container of the private store, waits for their conmons (and the cleanup
# commands they run) to exit, deletes any runc container podman left behind, unmounts what is
# still mounted below the store, and removes it.
nh_podman_teardown() {
	[ -n "${NH_PODMAN_DIR:-}" ] && [ -d "$NH_PODMAN_DIR" ] || return 0
	nh_podman rm -a -f -t 0 >/dev/null 2>&1 || true
	local id pid i
	if [ -f "$NH_PODMAN_DIR/started" ]; then
		for i in $(seq 100); do
			local alive=0
			while read -r id pid; do
				[ -n "$pid" ] && [ "$pid" != 0 ] || continue
				grep -qs -- "$id" "/proc/$pid/cmdline" && alive=1
			done <"$NH_PODMAN_DIR/started"
			[ $alive = 0 ] && break
			sleep 0.1
		done
		while read -r id pid; do
			if [ -n "$pid" ] && [ "$pid" != 0 ] && grep -qs -- "$id" "/proc/$pid/cmdline"; then
				kill -9 "$pid" 2>/dev/null || true
			fi
			runc delete -f "$id" >/dev/null 2>&1 || true
		done <"$NH_PODMAN_DIR/started"
	fi
	local m
	findmnt -rn -o TARGET | grep -F "$NH_PODMAN_DIR/" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	if [ "${NH_KEEP:-0}" = 1 ]; then
		echo "# NH_KEEP=1: kept $NH_PODMAN_DIR" >&3
		return 0
	fi
	rm -rf "$NH_PODMAN_DIR"
}
