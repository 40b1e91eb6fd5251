# Helpers for the hook-*.bats suites: `nodehook hook` installed through hooks.d files, run by the
# real runc (or Podman), acting on this node's cgroup v1 cpuset hierarchy. Load after lib/common
# and lib/node (the node lock, snapshot, assertions and teardown are lib/node.bash's).
#
# - nh_hook_setup: the node checks and lock, a state dir on a tmpfs (/dev/shm/nh-*: /run is not
#   one on every test machine, and records must not outlive the settings they describe), a node
#   config naming it ($NODEHOOK_CONFIG, exported), the snapshot, a shared busybox rootfs.
# - Bundles share one copy of the busybox rootfs (root.path is absolute; the root is read-only),
#   and one bundle serves any number of containers: runc writes nothing into it.

NH_LB_ANNOTATION='cpu-load-balancing.nodehook.io'

nh_hook_setup() {
	nh_node_require
	nh_require_cmds runc
	nh_setup
	NH_STATE_BASE=$(mktemp -d /dev/shm/nh-XXXXXXXX)
	NH_STATE=$NH_STATE_BASE/state
	nh_node_config
	nh_node_setup || return 1
	NH_BASE=$NH_T/base
	nh_bundle "$NH_BASE"
}

nh_hook_teardown() {
	nh_node_teardown
	[ -z "${NH_STATE_BASE:-}" ] || rm -rf "$NH_STATE_BASE"
	nh_teardown
}

# nh_node_config [ACTION_POLICY_JSON]: (re)writes $NH_NODE_CONFIG, exported as NODEHOOK_CONFIG:
# state in $NH_STATE, with the cpu-load-balancing policy given, if any.
nh_node_config() {
	NH_NODE_CONFIG=$NH_T/config.json
	if [ -n "${1:-}" ]; then
		printf '{"state_dir": "%s", "actions": {"cpu-load-balancing": %s}}\n' "$NH_STATE" "$1"
	else
		printf '{"state_dir": "%s"}\n' "$NH_STATE"
	fi >"$NH_NODE_CONFIG"
	export NODEHOOK_CONFIG=$NH_NODE_CONFIG
}

# nh_hook STAGE STATE_JSON: runs `nodehook hook` by hand the way a runtime does (state on stdin,
# only NODEHOOK_CONFIG in the environment), under bats' run --separate-stderr; asserts that it
# wrote nothing to stdout.
nh_hook() {
	run --separate-stderr env -i NODEHOOK_CONFIG="$NH_NODE_CONFIG" "$NODEHOOK_BIN" hook \
		--stage "$1" <<<"$2"
	nh_assert_eq "" "$output" "the hook's stdout (must stay empty)"
}

# nh_assert_one_line TEXT WHAT: TEXT is exactly one line.
nh_assert_one_line() {
	if [ -z "$1" ] || [ "$(printf '%s\n' "$1" | wc -l)" != 1 ]; then
		nh_fail "$2: expected one line, got:" "$1"
	fi
}

# ---------------------------------------------------------------------------------------------
# hooks.d files and bundles.

# nh_nodehook_hooks DIR [--crash-at N] [--crash-at-poststop N] [--no-poststop] [--always]
# [--action NAME]: writes DIR/createRuntime.json and DIR/poststop.json running `nodehook hook`
# for containers annotated NAME.* (default cpu-load-balancing; createRuntime for every container
# with --always, so that the guard runs; no poststop file with --no-poststop). --crash-at puts
# NODEHOOK_TEST_CRASH_AT=N in the createRuntime hook's env, --crash-at-poststop in poststop's.
nh_nodehook_hooks() {
	local dir=$1 crash='' crash_post='' poststop=1 always= action=cpu-load-balancing
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--crash-at) crash=", \"NODEHOOK_TEST_CRASH_AT=$2\"" && shift ;;
		--crash-at-poststop) crash_post=", \"NODEHOOK_TEST_CRASH_AT=$2\"" && shift ;;
		--action) action=$2 && shift ;;
		--no-poststop) poststop= ;;
		--always) always=1 ;;
		*) nh_fail "nh_nodehook_hooks: unknown option $1" || return 1 ;;
		esac
		shift
	done
	local annotated='{"annotations": {"^'"$action"'\\.[^/]+(/.*)?$": ".*"}}'
	local when=$annotated
	[ -n "$always" ] && when='{"always": true}'
	mkdir -p "$dir"
	rm -f "$dir"/*.json
	printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "createRuntime"], "env": ["NODEHOOK_CONFIG=%s"%s]}, "when": %s, "stages": ["createRuntime"]}\n' \
		"$NODEHOOK_BIN" "$NODEHOOK_CONFIG" "$crash" "$when" >"$dir/createRuntime.json"
	if [ -n "$poststop" ]; then
		printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["nodehook", "hook", "--stage", "poststop"], "env": ["NODEHOOK_CONFIG=%s"%s]}, "when": %s, "stages": ["poststop"]}\n' \
			"$NODEHOOK_BIN" "$NODEHOOK_CONFIG" "$crash_post" "$annotated" >"$dir/poststop.json"
	fi
}

# nh_lb_bundle DIR CPUS ANNOTATED(yes|no) HOOKS_DIR: a bundle running `sleep 300` on the shared
# rootfs, pinned to CPUS, with or without the annotation, hooks injected from HOOKS_DIR.
nh_lb_bundle() {
	local dir=$1 cpus=$2 annotated=$3 hooks=$4 ann='{}'
	[ "$annotated" = yes ] && ann="{\"$NH_LB_ANNOTATION\": \"disable\"}"
	mkdir -p "$dir"
	jq --arg root "$NH_BASE/rootfs" --arg cpus "$cpus" --argjson ann "$ann" \
		'.root.path = $root | .process.args = ["sleep", "300"]
		| .linux.resources.cpu = {cpus: $cpus, mems: "0"} | .annotations = $ann' \
		"$NH_BASE/config.json" >"$dir/config.template.json" || return 1
	nh_bundle_rehook "$dir" "$hooks"
}

# nh_bundle_rehook DIR HOOKS_DIR: config.json = the template + the hooks HOOKS_DIR gives it.
nh_bundle_rehook() {
	cp "$1/config.template.json" "$1/config.json"
	"$NODEHOOK_BIN" hooks inject --bundle "$1" --hooks-dir "$2" --no-cache
}

# nh_runc_start create|run ID BUNDLE: runc create or run -d, the id recorded for teardown first.
nh_runc_start() {
	local verb=$1 id=$2 bundle=$3
	echo "runc $id" >>"$NH_T/.containers"
	# The container keeps runc's stdio: a file, never the caller's pipe (bats' run would wait
	# for the container to exit). runc's own errors are passed on from it.
	local err=$NH_T/$id.stdio rc=0
	if [ "$verb" = run ]; then
		nh_nolock runc run -d --bundle "$bundle" "$id" </dev/null >"$err" 2>&1 || rc=$?
	else
		nh_nolock runc create --bundle "$bundle" "$id" </dev/null >"$err" 2>&1 || rc=$?
	fi
	[ $rc -eq 0 ] || cat "$err" >&2
	return $rc
}

nh_runc_status() {
	runc state "$1" 2>/dev/null | jq -r .status
}
