# shellcheck shell=bash
# Results go to the caller in globals (NHVM_*), which shellcheck sees as unused here.
# shellcheck disable=SC2034
# Helpers for guest scripts run by scripts/vm/run: `source "$NHVM_LIB"` first thing.
#
# Under TCG every fork+exec costs tens of ms, so everything here uses bash builtins (read, printf,
# redirections, $EPOCHREALTIME) and forks only where a real program is needed (taskset, runc,
# cp, mkdir). Functions return their results in global variables, never through $(...).
#
# Results (one console line each, also appended to $NHVM_RESULTS for the summary):
#   nhvm_pass NAME DETAIL...      NHVM-RESULT <cg>.NAME PASS DETAIL
#   nhvm_fail NAME DETAIL...      NHVM-RESULT <cg>.NAME FAIL DETAIL
#   nhvm_skip NAME REASON...      NHVM-RESULT <cg>.NAME SKIP REASON
#   nhvm_check NAME EXPECTED ACTUAL [DETAIL...]   PASS if equal, else FAIL "want X, got Y"
#   nhvm_log TEXT...              "# TEXT": context, not a result
# Files:      nhvm_read VAR FILE, nhvm_write FILE VALUE (error text in NHVM_ERR)
# Time:       nhvm_sleep SECONDS, nhvm_ms VAR (milliseconds since the epoch)
# CPU lists:  nhvm_mask_norm VAR MASK, nhvm_mask_to_list VAR MASK, nhvm_list_expand VAR LIST
# Domains:    nhvm_spans [FILE], nhvm_wait_spans EXPECTED [TIMEOUT_MS]
# Balancing:  nhvm_probe [-c CGROUP_DIR] PIN WIDEN,
#             nhvm_probe_check NAME WANT AFFINITY ALLOWED [-c CGROUP_DIR] PIN WIDEN
# Containers: nhvm_bundle DIR, nhvm_runc_config DIR CPUS CGROUPS_PATH ARGS...,
#             nhvm_runc_run ID DIR, nhvm_runc_rm ID

NHVM_CG=${NHVM_CG:-host}
NHVM_RUN=${NHVM_RUN:-/run/nhvm}
NHVM_RESULTS=${NHVM_RESULTS:-/dev/null}
NHVM_RUNC=${NHVM_RUNC:-/usr/sbin/runc}

# --- results -----------------------------------------------------------------------------------

_nhvm_result() { # VERDICT NAME DETAIL...
	local verdict=$1 name=$2
	shift 2
	printf 'NHVM-RESULT %s.%s %s%s\n' "$NHVM_CG" "$name" "$verdict" "${*:+ $*}"
	printf '%s %s.%s\n' "$verdict" "$NHVM_CG" "$name" >>"$NHVM_RESULTS"
}
nhvm_pass() { _nhvm_result PASS "$@"; }
nhvm_fail() { _nhvm_result FAIL "$@"; }
nhvm_skip() { _nhvm_result SKIP "$@"; }
nhvm_log() { printf '# %s\n' "$*"; }

# nhvm_check NAME EXPECTED ACTUAL [DETAIL...]: returns 0 on PASS, 1 on FAIL.
nhvm_check() {
	local name=$1 want=$2 got=$3
	shift 3
	if [ "$want" = "$got" ]; then
		nhvm_pass "$name" "$got${*:+ ($*)}"
		return 0
	fi
	nhvm_fail "$name" "want '$want', got '$got'${*:+ ($*)}"
	return 1
}

# --- files and time ----------------------------------------------------------------------------

# nhvm_read VAR FILE: the first line of FILE into VAR; returns 1 (VAR empty) if unreadable.
nhvm_read() {
	local -n _nhvm_r=$1
	_nhvm_r=
	[ -r "$2" ] || return 1
	IFS= read -r _nhvm_r <"$2" || true
}

# nhvm_write FILE VALUE: one write of "VALUE\n"; on failure returns 1 with the kernel's reason
# (e.g. "Invalid argument") in NHVM_ERR.
nhvm_write() {
	NHVM_ERR=''
	{ printf '%s\n' "$2" >"$1"; } 2>"$NHVM_RUN/write.err" && return 0
	local e=
	IFS= read -r e <"$NHVM_RUN/write.err"
	NHVM_ERR=${e##*: }
	return 1
}

# nhvm_sleep SECONDS: a fractional sleep without forking (read with a timeout on a fifo that
# never gets data).
nhvm_sleep() {
	if [ -z "${NHVM_SLEEP_FD:-}" ]; then
		[ -p "$NHVM_RUN/sleep.fifo" ] || mkfifo "$NHVM_RUN/sleep.fifo"
		exec {NHVM_SLEEP_FD}<>"$NHVM_RUN/sleep.fifo"
	fi
	read -rt "$1" -u "$NHVM_SLEEP_FD" _ || true
}

nhvm_ms() {
	local -n _nhvm_t=$1
	local _nhvm_now=${EPOCHREALTIME/./}
	_nhvm_t=$((_nhvm_now / 1000))
}

# --- CPU masks and lists -----------------------------------------------------------------------
# (Locals carry a _nhvm_ prefix: a nameref resolves to the innermost variable of that name.)

# nhvm_mask_norm VAR MASK: a kernel hex mask ("00000000,0000000f") in its shortest form ("f").
nhvm_mask_norm() {
	local -n _nhvm_m=$1
	local _nhvm_x=${2//,/}
	_nhvm_x=${_nhvm_x,,}
	while [ "${#_nhvm_x}" -gt 1 ] && [ "${_nhvm_x:0:1}" = 0 ]; do _nhvm_x=${_nhvm_x:1}; done
	_nhvm_m=${_nhvm_x:-0}
}

# nhvm_mask_to_list VAR MASK: a hex mask (commas allowed) as a kernel CPU list ("0-1,3");
# an empty list for 0.
nhvm_mask_to_list() {
	local -n _nhvm_l=$1
	local _nhvm_x=${2//,/} _nhvm_i _nhvm_d _nhvm_b _nhvm_c _nhvm_lo=-1 _nhvm_prev=-2 _nhvm_out=
	local -a _nhvm_cpus=()
	for ((_nhvm_i = ${#_nhvm_x} - 1; _nhvm_i >= 0; _nhvm_i--)); do
		_nhvm_d=$((16#${_nhvm_x:_nhvm_i:1}))
		for _nhvm_b in 0 1 2 3; do
			((_nhvm_d >> _nhvm_b & 1)) &&
				_nhvm_cpus+=($(((${#_nhvm_x} - 1 - _nhvm_i) * 4 + _nhvm_b)))
		done
	done
	for _nhvm_c in "${_nhvm_cpus[@]}" -1; do
		if ((_nhvm_c == _nhvm_prev + 1)); then
			_nhvm_prev=$_nhvm_c
			continue
		fi
		if ((_nhvm_lo >= 0)); then
			_nhvm_out+=${_nhvm_out:+,}$_nhvm_lo
			((_nhvm_prev > _nhvm_lo)) && _nhvm_out+=-$_nhvm_prev
		fi
		_nhvm_lo=$_nhvm_c _nhvm_prev=$_nhvm_c
	done
	_nhvm_l=$_nhvm_out
}

# nhvm_list_expand VAR LIST: a CPU list ("0-1,3") as an array of CPU numbers.
nhvm_list_expand() {
	local -n _nhvm_a=$1
	local _nhvm_p _nhvm_lo _nhvm_hi _nhvm_c
	local -a _nhvm_parts
	_nhvm_a=()
	IFS=, read -ra _nhvm_parts <<<"$2"
	for _nhvm_p in "${_nhvm_parts[@]}"; do
		_nhvm_lo=${_nhvm_p%-*} _nhvm_hi=${_nhvm_p#*-}
		for ((_nhvm_c = _nhvm_lo; _nhvm_c <= _nhvm_hi; _nhvm_c++)); do _nhvm_a+=("$_nhvm_c"); done
	done
}

# --- sched domains -----------------------------------------------------------------------------

# nhvm_spans [FILE]: reads the sched domains of every CPU from /proc/schedstat (or FILE).
# Sets NHVM_SPAN[cpuN] to the widest domain's span as a short hex mask, or "none" when the CPU
# has no domain (it is not load balanced), NHVM_SPAN_LEVELS[cpuN] to every level's span from
# the lowest up, and NHVM_SPANS to "cpu0:f cpu1:f ...". Handles schedstat versions 15 and 16
# (domainN MASK ...) and 17, from 6.14 on (domainN NAME MASK ...). Returns 1 if unreadable.
# shellcheck disable=SC2120 # FILE is optional
nhvm_spans() {
	local file=${1:-${NHVM_SCHEDSTAT:-/proc/schedstat}} ver=0 cpu='' a b c rest m
	local -a order=()
	declare -gA NHVM_SPAN=() NHVM_SPAN_LEVELS=()
	NHVM_SPANS=
	[ -r "$file" ] || return 1
	while read -r a b c rest; do
		case $a in
		version) ver=$b ;;
		cpu[0-9]*)
			cpu=$a
			order+=("$cpu")
			NHVM_SPAN[$cpu]=none
			NHVM_SPAN_LEVELS[$cpu]=
			;;
		domain[0-9]*)
			[ -n "$cpu" ] || continue
			if ((ver >= 17)); then m=$c; else m=$b; fi
			if [[ $m =~ ^[0-9a-fA-F,]+$ ]]; then
				nhvm_mask_norm m "$m"
			else
				m="?$m"
			fi
			NHVM_SPAN[$cpu]=$m
			NHVM_SPAN_LEVELS[$cpu]+=${NHVM_SPAN_LEVELS[$cpu]:+ }$m
			;;
		esac
	done <"$file"
	for cpu in "${order[@]}"; do NHVM_SPANS+=${NHVM_SPANS:+ }$cpu:${NHVM_SPAN[$cpu]}; done
	NHVM_SCHEDSTAT_VERSION=$ver
}

# nhvm_wait_spans EXPECTED [TIMEOUT_MS]: polls until NHVM_SPANS equals EXPECTED. Domain rebuilds
# are synchronous, this only absorbs stragglers; the default deadline (10000 ms) is generous
# because a guest under TCG on a loaded 2-CPU host can stall for seconds, and only a failure
# waits it out. The time taken goes to NHVM_WAIT_MS and, as a context line, to the log.
nhvm_wait_spans() {
	local want=$1 limit=${2:-10000} t0 t
	nhvm_ms t0
	while :; do
		nhvm_spans || return 1
		nhvm_ms t
		NHVM_WAIT_MS=$((t - t0))
		if [ "$NHVM_SPANS" = "$want" ]; then
			nhvm_log "spans '$want' after ${NHVM_WAIT_MS} ms"
			return 0
		fi
		if ((NHVM_WAIT_MS >= limit)); then
			nhvm_log "spans still '$NHVM_SPANS', not '$want', after ${NHVM_WAIT_MS} ms"
			return 1
		fi
		nhvm_sleep 0.05
	done
}

# --- behavioural balancing probe ---------------------------------------------------------------

# nhvm_probe [-c CGROUP_DIR] PIN WIDEN: starts two busy loops (in CGROUP_DIR, by writing their
# PIDs to its cgroup.procs, if given), pinned to CPU PIN; after 0.5 s widens both to the CPU
# list WIDEN, then samples the CPU each last ran on (field 39 of /proc/PID/stat) every 50 ms for
# up to NHVM_PROBE_MS (1500) ms. A loop that never sleeps moves only when the load balancer
# moves it. Sets:
#   NHVM_PROBE           balanced (the loops were seen on two CPUs at once) or unbalanced
#   NHVM_PROBE_AFFINITY  Cpus_allowed_list after widening (v2 clips it to the cpuset)
#   NHVM_PROBE_SEEN      CPUs either loop was seen on after widening, as a list ("0-1")
#   NHVM_PROBE_FINAL     where the two loops were at the last sample ("0 1")
#   NHVM_PROBE_MS_TAKEN  how long the sampling ran
#   NHVM_PROBE_DETAIL    all of it on one line, for a result's detail
# Sampling stops early once the loops sat on different CPUs in 3 consecutive samples.
# Returns 2 (NHVM_PROBE=error, NHVM_PROBE_ERR) if the loops could not be set up.
nhvm_probe() {
	local cg=
	if [ "${1:-}" = -c ]; then
		cg=$2
		shift 2
	fi
	local pin=$1 widen=$2 window=${NHVM_PROBE_MS:-1500}
	local -a pids=() args stat f
	local p t0 t line key val cpu spread=0 ready seenmask=0
	NHVM_PROBE=error NHVM_PROBE_ERR='' NHVM_PROBE_AFFINITY='' NHVM_PROBE_SEEN='' NHVM_PROBE_FINAL=''
	NHVM_PROBE_MS_TAKEN=0 NHVM_PROBE_DETAIL=''
	for _ in 1 2; do
		(
			if [ -n "$cg" ]; then
				printf '%s\n' "$BASHPID" >"$cg/cgroup.procs" || exit 1
			fi
			exec taskset -c "$pin" bash -c 'while :; do :; done'
		) &
		pids+=($!)
	done
	# Wait until both run the loop itself (not the subshell, not taskset), pinned.
	nhvm_ms t0
	for p in "${pids[@]}"; do
		while :; do
			ready=0
			args=()
			mapfile -d '' args 2>/dev/null </proc/"$p"/cmdline
			if [ ${#args[@]} -gt 0 ] && [ "${args[-1]}" = 'while :; do :; done' ]; then
				while IFS=$':\t' read -r key val; do
					[ "$key" = Cpus_allowed_list ] && [ "$val" = "$pin" ] && ready=1
				done </proc/"$p"/status
			fi
			[ $ready = 1 ] && break
			nhvm_ms t
			if ! kill -0 "$p" 2>/dev/null || ((t - t0 > 20000)); then
				NHVM_PROBE_ERR="busy loop $p did not start in $((t - t0)) ms (cgroup '${cg:-own}', pin $pin)"
				kill -KILL "${pids[@]}" 2>/dev/null
				wait "${pids[@]}" 2>/dev/null
				return 2
			fi
			nhvm_sleep 0.02
		done
	done
	nhvm_sleep 0.5
	for p in "${pids[@]}"; do
		if ! taskset -pc "$widen" "$p" >/dev/null; then
			NHVM_PROBE_ERR="taskset -pc $widen $p failed"
			kill -KILL "${pids[@]}" 2>/dev/null
			wait "${pids[@]}" 2>/dev/null
			return 2
		fi
	done
	while IFS=$':\t' read -r key val; do
		[ "$key" = Cpus_allowed_list ] && NHVM_PROBE_AFFINITY=$val
	done </proc/"${pids[0]}"/status
	nhvm_ms t0
	while :; do
		stat=()
		for p in "${pids[@]}"; do
			IFS= read -r line </proc/"$p"/stat
			read -ra f <<<"${line##*) }" # field 3 onwards: field 39 is f[36]
			cpu=${f[36]}
			stat+=("$cpu")
			seenmask=$((seenmask | 1 << cpu))
		done
		if [ "${stat[0]}" != "${stat[1]}" ]; then spread=$((spread + 1)); else spread=0; fi
		nhvm_ms t
		((spread >= 3 || t - t0 >= window)) && break
		nhvm_sleep 0.05
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	NHVM_PROBE_MS_TAKEN=$((t - t0))
	NHVM_PROBE_FINAL="${stat[*]}"
	printf -v seenmask '%x' "$seenmask"
	nhvm_mask_to_list NHVM_PROBE_SEEN "$seenmask"
	if [ "$spread" -gt 0 ] || [[ $NHVM_PROBE_SEEN == *[,-]* ]]; then
		NHVM_PROBE=balanced
	else
		NHVM_PROBE=unbalanced
	fi
	NHVM_PROBE_DETAIL="pin=$pin widen=$widen affinity=$NHVM_PROBE_AFFINITY seen=$NHVM_PROBE_SEEN"
	NHVM_PROBE_DETAIL+=" final=${NHVM_PROBE_FINAL// /,} in ${NHVM_PROBE_MS_TAKEN}ms"
	return 0
}

# nhvm_probe_check NAME WANT AFFINITY ALLOWED [-c CGROUP_DIR] PIN WIDEN: runs nhvm_probe and
# reports one result: PASS if the verdict is WANT (balanced or unbalanced), the loops ended up
# with affinity AFFINITY and were seen only on CPUs in the list ALLOWED.
nhvm_probe_check() {
	local name=$1 want=$2 aff=$3 allowed=$4 c bad=
	local -a seen ok
	local -A in=()
	shift 4
	# A balanced run stops as soon as the loops spread (typically within 1 s), so it can afford
	# a long window, which absorbs a busy host (the detail says how long it took); an
	# unbalanced one must sit out the whole (default) window.
	if [ "$want" = balanced ]; then NHVM_PROBE_MS=20000 nhvm_probe "$@"; else nhvm_probe "$@"; fi
	if [ "$NHVM_PROBE" = error ]; then
		nhvm_fail "$name" "$NHVM_PROBE_ERR"
		return
	fi
	nhvm_list_expand seen "$NHVM_PROBE_SEEN"
	nhvm_list_expand ok "$allowed"
	for c in "${ok[@]}"; do in[$c]=1; done
	for c in "${seen[@]}"; do [ -n "${in[$c]:-}" ] || bad+=" $c"; done
	if [ "$NHVM_PROBE" != "$want" ]; then
		nhvm_fail "$name" "$NHVM_PROBE, want $want: $NHVM_PROBE_DETAIL"
	elif [ "$NHVM_PROBE_AFFINITY" != "$aff" ]; then
		nhvm_fail "$name" "affinity $NHVM_PROBE_AFFINITY, want $aff: $NHVM_PROBE_DETAIL"
	elif [ -n "$bad" ]; then
		nhvm_fail "$name" "ran on CPU$bad, outside $allowed: $NHVM_PROBE_DETAIL"
	else
		nhvm_pass "$name" "$NHVM_PROBE: $NHVM_PROBE_DETAIL"
	fi
}

# --- runc containers ---------------------------------------------------------------------------

# nhvm_bundle DIR: a busybox root file system in DIR/rootfs (DIR in the guest's tmpfs). Three
# forks: busybox's applet links come from one `busybox --install`, not one ln per applet.
nhvm_bundle() {
	local dir=$1 d
	local -a dirs=()
	for d in bin usr/bin proc sys dev tmp etc root run var; do dirs+=("$dir/rootfs/$d"); done
	mkdir -p "${dirs[@]}" || return 1
	cp /bin/busybox "$dir/rootfs/usr/bin/busybox" || return 1
	# The links point at the running busybox's real path, /usr/bin/busybox on merged-/usr.
	/usr/bin/busybox --install -s "$dir/rootfs/bin" || return 1
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/rootfs/etc/passwd"
	printf 'root:x:0:\n' >"$dir/rootfs/etc/group"
	chmod 1777 "$dir/rootfs/tmp" 2>/dev/null || true
}

# nhvm_runc_config DIR CPUS CGROUPS_PATH ARGS...: writes DIR/config.json: `runc spec`'s
# defaults (runc 1.1, spec 1.0.2-dev) without a terminal, running ARGS, with
# linux.resources.cpu {cpus: CPUS, mems: "0"} and linux.cgroupsPath CGROUPS_PATH (both
# omitted when empty). root.path is DIR/rootfs, or NHVM_RUNC_ROOT (absolute: runc refuses a
# rootfs behind a symlink, so bundles share one this way). Extra JSON members for "linux" may be passed in NHVM_RUNC_LINUX_EXTRA
# and for the top level (e.g. annotations) in NHVM_RUNC_EXTRA, each with a leading comma.
nhvm_runc_config() {
	local dir=$1 cpus=$2 cgpath=$3 a json argv='' res=''
	shift 3
	for a in "$@"; do
		a=${a//\\/\\\\}
		a=${a//\"/\\\"}
		argv+=${argv:+, }\"$a\"
	done
	[ -n "$cpus" ] && res=', "cpu": {"cpus": "'$cpus'", "mems": "0"}'
	json='{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": false,
		"user": {"uid": 0, "gid": 0},
		"args": ['$argv'],
		"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		"cwd": "/",
		"capabilities": {
			"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
		},
		"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
		"noNewPrivileges": true
	},
	"root": {"path": "'"${NHVM_RUNC_ROOT:-rootfs}"'", "readonly": true},
	"hostname": "runc",
	"mounts": [
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
		 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
		 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
		{"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
		 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
		 "options": ["nosuid", "noexec", "nodev"]},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs",
		 "options": ["nosuid", "noexec", "nodev", "ro"]},
		{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
		 "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
	],
	"linux": {
		"resources": {"devices": [{"allow": false, "access": "rwm"}]'$res'},'
	[ -n "$cgpath" ] && json+='
		"cgroupsPath": "'$cgpath'",'
	json+='
		"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
			{"type": "mount"}],
		"maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
			"/sys/firmware", "/proc/scsi"],
		"readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]'
	json+="${NHVM_RUNC_LINUX_EXTRA:-}"'
	}'"${NHVM_RUNC_EXTRA:-}"'
}'
	printf '%s\n' "$json" >"$dir/config.json"
}

# nhvm_runc_run ID DIR: `runc run -d` of the bundle DIR, stdio on /dev/null. Sets NHVM_RUNC_PID
# (the container's init, as seen from the guest) or, on failure, NHVM_ERR (runc's last line).
nhvm_runc_run() {
	local id=$1 dir=$2 e='' line
	NHVM_RUNC_PID='' NHVM_ERR=''
	rm -f "$NHVM_RUN/runc.$id.pid"
	if ! "$NHVM_RUNC" run -d --bundle "$dir" --pid-file "$NHVM_RUN/runc.$id.pid" "$id" \
		</dev/null >/dev/null 2>"$NHVM_RUN/runc.err"; then
		while IFS= read -r line; do [ -n "$line" ] && e=$line; done <"$NHVM_RUN/runc.err"
		NHVM_ERR=$e
		return 1
	fi
	nhvm_read NHVM_RUNC_PID "$NHVM_RUN/runc.$id.pid"
}

# nhvm_runc_rm ID: kills and deletes the container (quietly; fine if it is already gone, and
# then without starting runc at all).
nhvm_runc_rm() {
	[ -e "/run/runc/$1" ] || return 0
	"$NHVM_RUNC" delete -f "$1" >/dev/null 2>&1 || true
}
