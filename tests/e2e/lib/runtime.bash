# Helpers for the runtime-*.bats suites (nodehook-runtime, the runc/crun wrapper). Load after
# lib/common.
#
# - nh_rt_setup makes $W, a symlink named nodehook-runtime to $NODEHOOK_BIN (the wrapper is chosen
#   by that argv[0]), and $NODEHOOK_CONFIG, a node config with its own state dir ($STATE) and
#   hooks dir ($NH_T/hooks.d); $NH_STATE is the same state dir, for lib/node.bash.
# - Tests that let nodehook isolate CPUs use lib/node.bash: nh_node_require and nh_node_setup
#   (the node lock and the snapshot), its assertions, and nh_node_teardown in teardown.
#   Runtimes and daemons run with the lock's fd closed (nh_nolock), so that nothing outlives the
#   test holding it.

# nh_rt_setup: $W, $STATE, and a node config naming /usr/bin/runc (nh_rt_node_config to change it).
nh_rt_setup() {
	mkdir -p "$NH_T/bin" "$NH_T/hooks.d" "$NH_T/cap"
	W=$NH_T/bin/nodehook-runtime
	ln -s "$NODEHOOK_BIN" "$W"
	STATE=$NH_T/state
	NH_STATE=$STATE
	nh_rt_node_config /usr/bin/runc
}

# nh_rt_node_config RUNTIME: the node config names RUNTIME, $STATE and $NH_T/hooks.d.
nh_rt_node_config() {
	printf '{"state_dir": "%s", "hooks_dirs": ["%s"], "runtime": "%s"}\n' \
		"$STATE" "$NH_T/hooks.d" "$1" >"$NH_T/node.json"
	export NODEHOOK_CONFIG=$NH_T/node.json
}

# nh_rt_nodehook_hooks NAME...: nodehook's own hooks.d files (deploy/hooks.d/NAME.json.in, e.g.
# nodehook-createruntime), pointing at $NODEHOOK_BIN, into $NH_T/hooks.d.
nh_rt_nodehook_hooks() {
	local n
	for n in "$@"; do
		sed "s|@BINDIR@/nodehook|$NODEHOOK_BIN|" "$NH_REPO/deploy/hooks.d/$n.json.in" \
			>"$NH_T/hooks.d/$n.json"
	done
}

# nh_rt_cap NAME CMD...: runs CMD (stdin /dev/null), keeps its stdout, stderr and exit status in
# $NH_T/cap/NAME.{out,err,rc}. Files, not bats' run: a created container holds the stdout of
# `create` until it starts, and a pipe would block.
nh_rt_cap() {
	local n=$1 rc=0
	shift
	"$@" >"$NH_T/cap/$n.out" 2>"$NH_T/cap/$n.err" </dev/null || rc=$?
	echo "$rc" >"$NH_T/cap/$n.rc"
}
