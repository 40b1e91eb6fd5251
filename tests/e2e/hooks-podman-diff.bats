#!/usr/bin/env bats
# Differential test against Podman 4.3 (containers/common 0.50.1), the reference implementation
# of hooks.d. For each set of hooks directories and each container, the hooks Podman writes into
# the container's config.json at `podman init` must equal what `nodehook hooks match` computes
# for that same config.json (with its hooks removed), given:
#   --prestart-as prestart    containers/common < 0.58 keeps prestart as prestart (README, hooks)
#   --bind-mounts / --no-bind-mounts
#                             Podman's hasBindMounts is "the user gave --volume", not what is in
#                             config.json (which always holds /etc/hosts and friends)
# and with poststop dropped from nodehook's answer: Podman runs poststop itself and never writes
# it to config.json. Both sides are compared as JSON (jq, key order ignored).
#
# Podman runs in a private store (lib/common.bash, nh_podman_setup), on a --rootfs copy of the
# busybox rootfs (no image, so nothing touches the host's image caches), with --network none.
# `podman init` runs `runc create`, which runs the prestart, createRuntime, createContainer and
# poststart hooks: every hook here is $NOOP, a script that exits 0. Nothing is started.

load lib/common

setup_file() {
	nh_require_nodehook
	nh_podman_file_setup || return 1
	[ -z "$NH_PODMAN_SKIP" ] || return 0
	export HK=$NH_PODMAN_DIR/hooks NOOP=$NH_PODMAN_DIR/bin/nh-noop VOL=$NH_PODMAN_DIR/volume
	mkdir -p "$NH_PODMAN_DIR/bin" "$VOL"
	printf '#!/bin/sh\n# A harmless hook for the differential test.\nexit 0\n' >"$NOOP"
	chmod 755 "$NOOP"
	write_hooks_dirs
}

teardown_file() {
	nh_podman_teardown
}

setup() {
	nh_podman_require
	nh_setup
}

teardown() {
	nh_teardown
}

# hf DIR NAME JSON: writes $HK/DIR/NAME; @NOOP@ in JSON stands for the hook executable.
hf() {
	mkdir -p "$HK/$1"
	printf '%s\n' "${3//@NOOP@/$NOOP}" >"$HK/$1/$2"
}

# v1 DIR NAME LABEL WHEN STAGES: a 1.0.0 file whose hook is `nh-noop LABEL`.
v1() {
	hf "$1" "$2" "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"@NOOP@\", \"args\": [\"nh-noop\", \"$3\"]},
	 \"when\": $4, \"stages\": $5}"
}

write_hooks_dirs() {
	local A='{"always": true}' GOLD='{"annotations": {"^nh\\.test/tier$": "^gold$"}}'
	# low, high, extra: precedence and masking (by base name, case-sensitive), ordering by
	# lowercased name across directories (10-alpha < 10-beta-two < 10-Beta: lowercased, and '-'
	# sorts before '.'), names that are not *.json.
	v1 low 00-always.json low-always "$A" '["prestart", "poststop"]'
	v1 low 10-alpha.json alpha "$A" '["createRuntime"]'
	v1 low 10-Beta.json Beta-low "$A" '["createRuntime"]'
	v1 low 10-gamma.json gamma "$A" '["createRuntime"]'
	v1 low 20-masked.json masked-low "$A" '["createContainer"]'
	v1 low 30-low-only.json low-only-gold "$GOLD" '["poststart"]'
	hf low README 'not a hook file'
	hf low 99-ignored.JSON 'not JSON either: only names ending in .json count'
	hf low 98-backup.json.bak '{'
	v1 high 05-high.json high-05 "$A" '["createRuntime"]'
	v1 high 10-Beta.json Beta-high "$A" '["createRuntime"]'
	v1 high 10-beta-two.json beta-two "$A" '["createRuntime"]'
	v1 high 20-masked.json masked-high "$GOLD" '["prestart"]'
	v1 extra 20-masked.json masked-extra "$A" '["createContainer"]'
	v1 extra 00-always.json extra-always-rt '{"annotations": {"^nh\\.test/team$": "^rt$"}}' '["prestart"]'

	# annot: several pairs (AND, each pair by some annotation), unanchored and (?i) regexes,
	# Go's \d, any-key patterns, an empty map.
	v1 annot 40-multi.json multi '{"annotations": {"^nh\\.test/team$": "^rt$", "^nh\\.test/tier$": "^gold$"}}' '["createRuntime"]'
	v1 annot 41-regex-ci.json regex-ci '{"annotations": {"nh\\.test/(tier|level)": "(?i)^gold$"}}' '["createRuntime"]'
	v1 annot 42-digits.json digits '{"annotations": {"^nh\\.test/cpus$": "^\\d+(-\\d+)?$"}}' '["poststart"]'
	v1 annot 43-anykey.json anykey-rt '{"annotations": {".*": "^rt$"}}' '["prestart"]'
	v1 annot 44-unanchored.json unanchored '{"annotations": {"team": "r"}}' '["prestart"]'
	v1 annot 45-empty.json empty-annotations '{"annotations": {}}' '["prestart"]'
	v1 annot 46-always-and-annot.json always-gold '{"always": true, "annotations": {"^nh\\.test/tier$": "^gold"}}' '["createContainer"]'

	# regex: Go RE2 semantics where PCRE2 or POSIX would differ: \b, \s and \w ASCII-only, . and
	# [^a] on a multi-byte rune, Unicode case folding, \pN, an unterminated counted repetition
	# taken literally, \Q..\E, (?U), the empty pattern. (No newlines: podman's --annotation
	# parsing cuts a value at the first one.)
	local re f l r
	for re in 'r01 bound \\bgo\\b' 'r02 dot ^.$' 'r03 ci (?i)^élan$' 'r04 word ^\\w+$' \
		'r05 brace ^a{2$' 'r06 class ^[[:alpha:]]+\\pN$' 'r07 space ^a\\sb$' 'r08 rune ^[^a]$' \
		'r09 quote ^\\Qa.b\\E$' 'r10 lazy (?U)^a+$' 'r11 empty '; do
		read -r f l r <<<"$re"
		v1 regex "$f.json" "$l" "{\"annotations\": {\"^nh\\\\.re/$l$\": \"$r\"}}" '["createRuntime"]'
	done

	# cmds: process.args[0] as written; commands decide last, even after always or annotations.
	v1 cmds 50-commands.json cmds '{"commands": ["^/bin/sleep$", "^top$"]}' '["createRuntime"]'
	v1 cmds 51-always-cmds.json always-sleep '{"always": true, "commands": ["^sleep$"]}' '["createRuntime"]'
	v1 cmds 52-gold-cmds.json gold-sleep '{"annotations": {"^nh\\.test/tier$": "^gold$"}, "commands": ["sleep"]}' '["poststart"]'
	v1 cmds 53-sh.json sh '{"commands": ["sh"]}' '["prestart"]'

	# bind: hasBindMounts true/false, alone and with others.
	v1 bind 60-bind.json bind '{"hasBindMounts": true}' '["prestart"]'
	v1 bind 61-bind-rt.json bind-rt '{"hasBindMounts": true, "annotations": {"^nh\\.test/team$": "^rt$"}}' '["createRuntime"]'
	v1 bind 62-bind-false.json bind-false '{"always": true, "hasBindMounts": false}' '["createRuntime"]'
	v1 bind 63-always-false.json always-false '{"always": false, "hasBindMounts": true}' '["createRuntime"]'
	hf bind 64-legacy-bind.json '{"version": "0.1.0", "hook": "@NOOP@", "arguments": ["legacy-bind"], "stages": ["poststart"], "hasbindmounts": true}'

	# legacy: 0.1.0 files, conditions ORed, synonyms, no version at all, no arguments.
	hf legacy 70-legacy-annot.json '{"version": "0.1.0", "hook": "@NOOP@", "arguments": ["legacy-annot"], "stages": ["prestart"], "annotations": ["^gold$", "^silver$"]}'
	hf legacy 71-legacy-or.json '{"hook": "@NOOP@", "arguments": ["legacy-or"], "stage": ["createRuntime"], "cmd": ["^/bin/sleep$"], "annotation": ["^rt$"]}'
	hf legacy 72-legacy-noargs.json '{"version": "0.1.0", "hook": "@NOOP@", "stages": ["poststart"], "cmds": ["^sh$"]}'
	hf legacy 73-legacy-two-stages.json '{"version": "0.1.0", "hook": "@NOOP@", "arguments": ["legacy-two"], "stages": ["poststart", "prestart"], "annotations": ["^silver$"], "cmds": ["^top$"]}'

	# fields: what a hook carries, and how files decode.
	hf fields 80-env-timeout.json '{"version": "1.0.0", "hook": {"path": "@NOOP@", "args": ["nh-noop", "env-timeout"], "env": ["A=1", "B=two words"], "timeout": 7}, "when": {"always": true}, "stages": ["poststart", "createRuntime"]}'
	hf fields 81-caseins.json '{"VERSION": "1.0.0", "Hook": {"PATH": "@NOOP@", "Args": ["nh-noop", "caseins"]}, "When": {"Always": true}, "Stages": ["createContainer"]}'
	v1 fields 82-empty-stages.json empty-stages "$A" '[]'
	hf fields 83-no-when.json '{"version": "1.0.0", "hook": {"path": "@NOOP@", "args": ["nh-noop", "no-when"]}, "stages": ["prestart"]}'
	hf fields 84-unknown-keys.json '{"version": "1.0.0", "comment": "x", "hook": {"path": "@NOOP@", "args": ["nh-noop", "unknown-keys"], "extra": 1}, "when": {"always": true, "future": [1]}, "stages": ["createContainer"]}'
	hf fields 85-dup-keys.json '{"version": "1.0.0", "hook": {"path": "@NOOP@", "args": ["nh-noop", "dup-first"], "args": ["nh-noop", "dup-last"]}, "when": {"always": false, "always": true}, "stages": ["createContainer"]}'
	v1 fields 86-poststop-only.json poststop-only "$A" '["poststop"]'
	v1 fields 87-multi-stage.json multi-stage "$A" '["startContainer", "prestart", "createContainer"]'
	hf fields 88-env-empty.json '{"version": "1.0.0", "hook": {"path": "@NOOP@", "args": [], "env": [], "timeout": 0}, "when": {"always": true}, "stages": ["startContainer"]}'
}

# diff_case NAME "DIR..." [PODMAN CREATE OPTIONS...] -- COMMAND...
# Creates and inits container nh-<suffix>-NAME with the hooks directories DIR... (low to high
# precedence), then compares Podman's config.json hooks with nodehook's. Sets SUMMARY to Podman's
# hooks as "stage=label,label ..." (label: the hook's args[1], "-" without one) for the checks
# that follow, and NH_OUT to nodehook's full answer.
diff_case() {
	local name=$1 dirs=$2 d opts=() bind=--no-bind-mounts
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in --volume | -v | --volume=*) bind=--bind-mounts ;; esac
		opts+=("$1")
		shift
	done
	shift
	local hd=()
	for d in $dirs; do
		hd+=(--hooks-dir "$HK/$d")
	done
	local cname cid cfg
	cname=$(nh_id "$name")
	nh_podman_track "$cname"
	cid=$(nh_podman "${hd[@]}" create --name "$cname" --network none "${opts[@]}" --rootfs "$ROOTFS" "$@") ||
		nh_fail "$name: podman create failed" || return 1
	nh_podman "${hd[@]}" init "$cname" >/dev/null || nh_fail "$name: podman init failed" || return 1
	nh_podman_note_started "$cid"
	cfg=$(nh_podman_config "$cid") || return 1
	cp "$cfg" "$NH_T/$name.podman.json"
	jq 'del(.hooks)' "$cfg" >"$NH_T/$name.config.json"
	NH_OUT=$(nodehook hooks match --config "$NH_T/$name.config.json" "${hd[@]}" \
		--prestart-as prestart "$bind") || nh_fail "$name: nodehook hooks match failed" || return 1
	local verdict
	verdict=$(jq -r --argjson n "$NH_OUT" '
		def summary: [("prestart", "createRuntime", "createContainer", "startContainer", "poststart") as $s
			| select(has($s)) | "\($s)=\(.[$s] | map((.args // [])[1] // "-") | join(","))"] | join(" ");
		(.hooks // {}) as $p | ($n | del(.poststop)) as $m
		| (if $p == $m then "same" else "differ" end), ($p | summary)' "$NH_T/$name.podman.json") || return 1
	SUMMARY=$(sed -n 2p <<<"$verdict")
	[ "$(head -n 1 <<<"$verdict")" = same ] && return 0
	nh_fail "$name: podman and nodehook disagree (dirs: $dirs; $bind; podman create ${opts[*]} $*)" \
		"$(diff -u --label "podman: config.json .hooks" --label "nodehook hooks match, poststop dropped" \
			<(jq -S '.hooks // {}' "$NH_T/$name.podman.json") <(jq -S 'del(.poststop)' <<<"$NH_OUT"))" \
		"annotations: $(jq -c .annotations "$NH_T/$name.config.json")" \
		"process.args: $(jq -c .process.args "$NH_T/$name.config.json")"
}

# podman_wrote EXPECTED: SUMMARY (podman's hooks) must be exactly EXPECTED. Makes each case
# state what the rule under test does, so that two empty answers cannot pass unnoticed.
podman_wrote() {
	nh_assert_eq "$1" "$SUMMARY" "hooks podman wrote"
}

GOLD_RT=(--annotation nh.test/tier=gold --annotation nh.test/team=rt)

@test "podman diff: two directories, masking by name, order by lowercased name across both" {
	diff_case plain "low high" -- sh
	podman_wrote "prestart=low-always createRuntime=high-05,alpha,beta-two,Beta-high,gamma"
	diff_case gold "low high" "${GOLD_RT[@]}" -- /bin/sleep 30
	podman_wrote "prestart=low-always,masked-high createRuntime=high-05,alpha,beta-two,Beta-high,gamma poststart=low-only-gold"
}

@test "podman diff: precedence follows --hooks-dir order (high first, then low)" {
	diff_case plain "high low" -- sh
	podman_wrote "prestart=low-always createRuntime=high-05,alpha,beta-two,Beta-low,gamma createContainer=masked-low"
	diff_case gold "high low" "${GOLD_RT[@]}" -- /bin/sleep 30
	podman_wrote "prestart=low-always createRuntime=high-05,alpha,beta-two,Beta-low,gamma createContainer=masked-low poststart=low-only-gold"
}

@test "podman diff: three directories, the highest masks the masker" {
	diff_case plain "low high extra" -- sh
	podman_wrote "createRuntime=high-05,alpha,beta-two,Beta-high,gamma createContainer=masked-extra"
	diff_case gold "low high extra" "${GOLD_RT[@]}" -- /bin/sleep 30
	podman_wrote "prestart=extra-always-rt createRuntime=high-05,alpha,beta-two,Beta-high,gamma createContainer=masked-extra poststart=low-only-gold"
}

@test "podman diff: annotations: every pair must hold, regexes unanchored, (?i), \\d, any key" {
	diff_case gold-rt annot "${GOLD_RT[@]}" -- sh
	podman_wrote "prestart=anykey-rt,unanchored createRuntime=multi,regex-ci createContainer=always-gold"
	diff_case near-miss annot --annotation nh.test/team=rtx --annotation nh.test/teams=rt \
		--annotation nh.test/tier=golden --annotation nh.test/cpus=1-٣ -- sh
	podman_wrote "prestart=anykey-rt,unanchored createContainer=always-gold"
	diff_case level annot --annotation nh.test/level=GOLD --annotation nh.test/cpus=12 -- sh
	podman_wrote "createRuntime=regex-ci poststart=digits"
}

@test "podman diff: regexes follow Go's RE2 on UTF-8 annotation values" {
	diff_case regex-a regex --annotation 'nh.re/bound=to go now' --annotation nh.re/dot=é \
		--annotation nh.re/ci=ÉLAN --annotation nh.re/word=café --annotation 'nh.re/brace=a{2' \
		--annotation nh.re/class=abc٣ --annotation 'nh.re/space=a b' --annotation nh.re/rune=é \
		--annotation nh.re/quote=a.b --annotation nh.re/lazy=aaa --annotation nh.re/empty= -- sh
	podman_wrote "createRuntime=bound,dot,ci,brace,class,space,rune,quote,lazy,empty"
	diff_case regex-b regex --annotation nh.re/bound=gopher --annotation nh.re/dot=ab \
		--annotation nh.re/ci=elan --annotation nh.re/word=cafe --annotation nh.re/brace=aa \
		--annotation nh.re/class=abc3 --annotation $'nh.re/space=a\u00a0b' --annotation nh.re/rune=ab \
		--annotation nh.re/quote=axb -- sh
	podman_wrote "createRuntime=word,class"
}

@test "podman diff: commands match process.args[0] and decide last" {
	diff_case sh-gold cmds --annotation nh.test/tier=gold -- sh
	podman_wrote "prestart=sh"
	diff_case abs-sleep-gold cmds --annotation nh.test/tier=gold -- /bin/sleep 30
	podman_wrote "createRuntime=cmds poststart=gold-sleep"
	diff_case sleep cmds -- sleep 30
	podman_wrote "createRuntime=always-sleep"
	diff_case top cmds -- top
	podman_wrote "createRuntime=cmds"
}

@test "podman diff: hasBindMounts means an explicit --volume" {
	diff_case volume bind --volume "$VOL:/mnt/nh-volume" --annotation nh.test/team=rt -- sh
	podman_wrote "prestart=bind createRuntime=bind-rt poststart=legacy-bind"
	diff_case no-volume bind --annotation nh.test/team=rt -- sh
	podman_wrote ""
}

@test "podman diff: 0.1.0 files: conditions ORed, synonyms, no version, no arguments" {
	diff_case silver-sh legacy --annotation nh.test/tier=silver -- sh
	podman_wrote "prestart=legacy-annot,legacy-two poststart=-,legacy-two"
	diff_case abs-sleep legacy -- /bin/sleep 30
	podman_wrote "createRuntime=legacy-or"
	diff_case top-rt legacy --annotation nh.test/team=rt -- top
	podman_wrote "prestart=legacy-two createRuntime=legacy-or poststart=legacy-two"
	diff_case plain-sh legacy -- sh
	podman_wrote "poststart=-"
}

@test "podman diff: hook fields, stage order within a file, key case, unknown and duplicate keys" {
	diff_case plain fields -- sh
	podman_wrote "prestart=multi-stage createRuntime=env-timeout createContainer=caseins,unknown-keys,dup-last,multi-stage startContainer=multi-stage,- poststart=env-timeout"
	# Podman never writes poststop; nodehook reports it (the caller runs it).
	nh_assert_eq '[{"path":"'"$NOOP"'","args":["nh-noop","poststop-only"]}]' \
		"$(jq -c .poststop <<<"$NH_OUT")" "nodehook's poststop"
}

@test "podman diff: every directory at once" {
	local all="low high extra annot cmds bind legacy fields"
	diff_case everything-plain "$all" -- sh
	podman_wrote "prestart=sh,multi-stage createRuntime=high-05,alpha,beta-two,Beta-high,gamma,env-timeout createContainer=masked-extra,caseins,unknown-keys,dup-last,multi-stage startContainer=multi-stage,- poststart=-,env-timeout"
	diff_case everything-gold "$all" "${GOLD_RT[@]}" --annotation nh.test/cpus=1 \
		--volume "$VOL:/mnt/nh-volume" -- /bin/sleep 30
	podman_wrote "prestart=extra-always-rt,anykey-rt,unanchored,bind,legacy-annot,multi-stage createRuntime=high-05,alpha,beta-two,Beta-high,gamma,multi,regex-ci,cmds,bind-rt,legacy-or,env-timeout createContainer=masked-extra,always-gold,caseins,unknown-keys,dup-last,multi-stage startContainer=multi-stage,- poststart=low-only-gold,digits,gold-sleep,legacy-bind,env-timeout"
}

# rejected_by_both NAME JSON...: each JSON (with @NOOP@) alone in a hooks directory is a file
# Podman refuses ("setting up OCI Hooks" at init) and nodehook refuses (exit 1, one line naming
# it). One container serves every file: a refused init leaves it uninitialised. Every
# disagreement is listed before the test fails.
rejected_by_both() {
	local name=$1 cname cid json i=0 d problems=()
	shift
	cname=$(nh_id "$name")
	nh_podman_track "$cname"
	cid=$(nh_podman create --name "$cname" --network none --rootfs "$ROOTFS" sh) || return 1
	for json in "$@"; do
		i=$((i + 1))
		d=$NH_T/$name-$i
		mkdir -p "$d"
		printf '%s\n' "${json//@NOOP@/$NOOP}" >"$d/a.json"
		if nh_podman --hooks-dir "$d" init "$cname" >"$d.podman" 2>&1; then
			problems+=("podman accepted $json")
			nh_podman_note_started "$cid"
			nh_podman rm -f -t 0 "$cname" >/dev/null 2>&1
			cid=$(nh_podman create --name "$cname" --network none --rootfs "$ROOTFS" sh) || return 1
		elif ! grep -q "setting up OCI Hooks" "$d.podman"; then
			problems+=("podman failed for another reason on $json: $(tr -d '\0' <"$d.podman")")
		fi
		run --separate-stderr nodehook hooks match --config "$ROOTFS/../config.json" --hooks-dir "$d"
		if [ "$status" != 1 ] || [[ $stderr != "nodehook: $d/a.json: "* ]]; then
			problems+=("nodehook (exit $status, stdout '$output', stderr '$stderr') accepted what podman refused: $json")
		fi
	done
	[ ${#problems[@]} = 0 ] || nh_fail "${problems[@]}"
}

@test "podman diff: files Podman refuses, nodehook refuses" {
	rejected_by_both refused \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"always": true}, "stages": ["bogus"]}' \
		'{"version": "1.0", "hook": {"path": "@NOOP@"}, "when": {"always": true}, "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"always": true}}' \
		'{"hook": "@NOOP@", "stage": ["prestart"], "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@", "timeout": 1.5}, "when": {"always": true}, "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"always": true}, "stages": ["prestart"]} {}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"annotations": {"a": "(a)\\1"}}, "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"commands": ["(?=sh)"]}, "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"always": "true"}, "stages": ["prestart"]}' \
		'[]'
}

# A JSON string holding U+0000: Podman (Go) keeps the whole string; json-c and C strings would
# cut it ("noop\u0000/evil" read as noop). nodehook refuses any hook file with a NUL in a
# string. Where Podman refuses too (a path, stage or version with a NUL) both refuse. Where
# Podman loads the file (a regex with a NUL, which then never matches), nodehook refuses it: a
# deliberate difference (README, "Differences from upstream"), checked here so that it stays
# a refusal and never becomes a cut regex that matches.
@test "podman diff: strings holding U+0000 are refused, never cut short" {
	rejected_by_both nul-refused \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@\u0000/evil"}, "when": {"always": true}, "stages": ["prestart"]}' \
		'{"version": "1.0.0", "hook": {"path": "@NOOP@"}, "when": {"always": true}, "stages": ["prestart\u0000x"]}' \
		'{"version": "1.0.0\u0000", "hook": {"path": "@NOOP@"}, "when": {"always": true}, "stages": ["prestart"]}'
	local d=$NH_T/nul-regex
	mkdir -p "$d"
	printf '%s\n' "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"$NOOP\"}, \"when\": {\"annotations\": {\"^nh\\\\.test/tier\$\\u0000x\": \"gold\"}}, \"stages\": [\"prestart\"]}" >"$d/10-key.json"
	run --separate-stderr nodehook hooks match --config "$ROOTFS/../config.json" --hooks-dir "$d" --annotation nh.test/tier=gold
	[ "$status" = 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "nodehook: $d/10-key.json: a string holds a NUL character (\\u0000), which nodehook refuses" ]
}

# Hooks are ordered by strings.ToLower(name), which lowercases every Unicode letter:
# "10-Éz.json" and "10-éa.json" compare as "10-éz" and "10-éa" (éa first), not by the bytes of
# "É" (c3 89) and "é" (c3 a9).
@test "podman diff: order by name lowercases non-ASCII letters too" {
	v1 unicode 10-Éz.json E-acute-z '{"always": true}' '["createRuntime"]'
	v1 unicode 10-éa.json e-acute-a '{"always": true}' '["createRuntime"]'
	v1 unicode 10-Ab.json A-b '{"always": true}' '["createRuntime"]'
	diff_case unicode unicode -- sh
	podman_wrote "createRuntime=A-b,e-acute-a,E-acute-z"
}
