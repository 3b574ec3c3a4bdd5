#!/usr/bin/env bash
# The publisher's side: contrib/builder-web/upload-hook-sign.sh, called as builder-web
# calls its upload hooks, signs with Debian's minisign into a directory laid out as the
# signatures template expects; petrel then verifies that build against the look-alike.
# It refuses (exit 1, one line, nothing written) a binary that does not hash as announced.
# Then it runs the hook exactly as builder-web's execute_hooks does (`/bin/sh -c 'HOOK … &'`,
# working directory /, only the environment given, the artifact at DATADIR/_artifacts/XX/HEX)
# on both kinds of builder-web host: Debian (sha256sum, GNU date) and FreeBSD, played by a
# PATH of the few POSIX tools the hook needs plus stand-ins: a `date` that rejects -d as
# FreeBSD's does, and `sha256 -q FILE` instead of sha256sum. Its epoch for YYYYMMDDhhmmss
# (shell arithmetic, no date(1)) must equal GNU date's for a range of times, leap days and
# impossible dates included; with neither sha256sum nor sha256 it refuses to sign.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
command -v openssl >/dev/null || skip_all "openssl not installed (the sha256 stand-in)"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 41

HOOK="$REPO_ROOT/contrib/builder-web/upload-hook-sign.sh"
ok "the hook is executable (builder-web runs executable *.sh files)" test -x "$HOOK"
is "$(($(stat -c '0%a' "$HOOK") & 0111))" $((0111)) "... by all three: builder-web skips 0700 and 0744"
start_server
make_key pub1
write_config
make_file "$T/a" 25000 a
fin=$(( $(date +%s) - 600 ))
u=$(add_build hello "$T/a" --finish-time "$fin" --filename hello.hvt)
H=$(sha256_of "$T/a")
btime=$(date -u -d "@$fin" +%Y%m%d%H%M%S)
bdir="$BW_DATA/builds/hello/$u"
SIG="$BW_DATA/sigs/hello/$u/hello.hvt.minisig"

# [SHA=HEX] hook [ENV-COMMAND…] — runs the hook in the foreground with builder-web's
# arguments, the binary below --data-dir (bw_hook below runs it exactly as builder-web does).
hook() {
	run env PETREL_SIGN_KEY="$T/pub1.sec" PETREL_SIGN_OUTDIR="$BW_DATA/sigs" MINISIGN="$MINISIGN" \
		"$@" "$HOOK" --build-time="$btime" --sha256="${SHA:-$H}" --job=hello --uuid="$u" \
		--platform=ubuntu-22.04 --cache-dir="$T/cache" --data-dir="$bdir" \
		--main-binary-filepath=bin/hello.hvt "$bdir/bin/hello.hvt"
}

SHA=$(printf other | sha256sum | cut -d' ' -f1) hook
is "$rc" 1 "a binary that does not hash as announced: exit 1"
like "$err" "^upload-hook-sign.sh: .*hello.hvt: sha256 is $H, builder-web announced .*: not signing$" \
	"... saying so in one line"
ok "... and writes no signature" test ! -e "$SIG"

hook env -u PETREL_SIGN_KEY
is "$rc" 1 "no PETREL_SIGN_KEY: exit 1"
like "$err" "PETREL_SIGN_KEY" "... naming the variable"

hook env PETREL_SIGN_LAYOUT='../{job}.minisig'
is "$rc" 1 "a layout leaving the output directory: refused"

hook
is "$rc" 0 "the hook signs the build"
ok "the signature is where the template expects it" test -s "$SIG"
like "$(sed -n 3p "$SIG")" "^trusted comment: timestamp:$fin${TAB}file:hello.hvt${TAB}job:hello${TAB}uuid:$u${TAB}sha256:$H$" \
	"the trusted comment carries the build time in seconds, file, job, uuid, sha256"
ok "Debian's minisign verifies it" "$MINISIGN" -Vm "$bdir/bin/hello.hvt" -p "$T/pub1.pub" -x "$SIG" -q
is "$(ls "$BW_DATA/sigs/hello/$u")" "hello.hvt.minisig" "no temporary file is left"

run petrel upgrade hello
is "$rc" 0 "petrel verifies and deploys the build the hook signed"
is "$(sha256_of "$T/deploy/hello.hvt")" "$H" "... the right bytes"
is "$(sql 'select timestamp, keyids from versions')" "$fin|$(key_id pub1)" \
	"... with the signed timestamp and the key id"

# a custom layout, and petrel's template to match it
mkdir -p "$T/pub"
hook env PETREL_SIGN_OUTDIR="$T/pub" PETREL_SIGN_LAYOUT='{sha256}/{filename}.sig'
is "$rc" 0 "PETREL_SIGN_LAYOUT with {sha256}"
ok "... lays the signature out as asked" test -s "$T/pub/$H/hello.hvt.sig"

# ------------------------------------------------------------------ as builder-web runs it

# The hosts' PATHs. $T/posix: only what the hook uses, all in FreeBSD's base system, and
# a `date` that rejects -d as FreeBSD's does (logging every call to $T/calls); $T/fbsd:
# FreeBSD's `sha256 -q FILE` (openssl underneath, logged too). No sha256sum in either.
DEBIAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
FREEBSD_PATH="$T/fbsd:$T/posix"
mkdir -p "$T/posix" "$T/fbsd"
for c in cut dirname grep head mkdir mv rm tr; do ln -s "$(command -v "$c")" "$T/posix/$c"; done
cat >"$T/posix/date" <<STANDIN
#!/bin/sh
echo "date \$*" >>"$T/calls"
case " \$* " in *" -d "*)
	echo "date: illegal time format" >&2
	echo "usage: date [-jnRu] [-I[date|hours|minutes|seconds]] [-f input_fmt] [-r filename|seconds] [-v[+|-]val[y|m|w|d|H|M|S]] [[[[[[cc]yy]mm]dd]HH]MM[.SS] | new_date] [+output_fmt]" >&2
	exit 1 ;;
esac
exec $(command -v date) "\$@"
STANDIN
cat >"$T/fbsd/sha256" <<STANDIN
#!/bin/sh
echo "sha256 \$*" >>"$T/calls"
[ \$# = 2 ] && [ "\$1" = -q ] || { echo "usage: sha256 [-pqrtx] [-c string] [-s string] [files ...]" >&2; exit 1; }
set -- \$($(command -v openssl) dgst -sha256 -r "\$2") && [ -n "\${1:-}" ] || exit 1
echo "\$1"
STANDIN
chmod 0755 "$T/posix/date" "$T/fbsd/sha256"

squote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
to_iso() { sed -E 's/^(....)(..)(..)(..)(..)(..)$/\1-\2-\3 \4:\5:\6/' <<<"$1"; }

# bw_hook JOB UUID BUILD_TIME VAR=VALUE… — stores the build's binary content-addressed as
# builder-web does (in $HOOK_ART), runs `/bin/sh -c 'HOOK ARGS… &'` (each word quoted, as
# Filename.quote_command does) in / with only the environment given (plus the key and the
# output directory), output to $T/hook.out and $T/hook.err, and waits (10 s at most) for
# the backgrounded hook to report.
bw_hook() {
	local job=$1 u=$2 btime=$3 sha cmd a i; shift 3
	sha=$(build_field "$job" "$u" sha256)
	HOOK_ART="$BW_DATA/_artifacts/${sha:0:2}/$sha"
	mkdir -p "${HOOK_ART%/*}"
	cp "$(build_field "$job" "$u" path)" "$HOOK_ART"
	cmd=$(squote "$HOOK")
	for a in --build-time="$btime" --sha256="$sha" --job="$job" --uuid="$u" \
		--platform=freebsd-14 --cache-dir="$BW_DATA/_cache" --data-dir="$BW_DATA" \
		--main-binary-filepath="bin/$(build_field "$job" "$u" filename)" "$HOOK_ART"; do
		cmd="$cmd $(squote "$a")"
	done
	: >"$T/calls"
	(cd / && env -i PETREL_SIGN_KEY="$T/pub1.sec" PETREL_SIGN_OUTDIR="$BW_DATA/sigs" \
		MINISIGN="$MINISIGN" "$@" /bin/sh -c "$cmd &" >"$T/hook.out" 2>"$T/hook.err")
	for ((i = 0; i < 200; i++)); do
		{ [ -s "$T/hook.out" ] || [ -s "$T/hook.err" ]; } && break
		sleep 0.05
	done
}

# host_case NAME JOB BUILD_TIME EPOCH PATH — a build started at BUILD_TIME (EPOCH, also
# by GNU date), signed by the hook as builder-web runs it on that host, then deployed by
# a fresh petrel: the hook's report, the trusted comment, petrel's verdict and timestamp.
host_case() {
	local name=$1 job=$2 btime=$3 epoch=$4 path=$5 file u h sig
	is "$(date -u -d "$(to_iso "$btime")" +%s)" "$epoch" "$name: $btime is $epoch by GNU date"
	file="$T/$job.bin"
	make_file "$file" 30000 "$job"
	u=$(add_build "$job" "$file" --start-time "$epoch" --finish-time $((epoch + 300)) \
		--filename "$job.hvt")
	h=$(sha256_of "$file")
	sig="$BW_DATA/sigs/$job/$u/$job.hvt.minisig"
	bw_hook "$job" "$u" "$btime" PATH="$path"
	is "$(cat "$T/hook.err")" "" "$name: the backgrounded hook reports no error"
	is "$(cat "$T/hook.out")" "upload-hook-sign.sh: signed $job $u ($job.hvt) into $sig" \
		"$name: ... and says where it signed"
	is "$(sed -n 3p "$sig")" \
		"trusted comment: timestamp:$epoch${TAB}file:$job.hvt${TAB}job:$job${TAB}uuid:$u${TAB}sha256:$h" \
		"$name: the trusted comment: the start time $btime as $epoch, file, job, uuid, sha256"
	rm -rf "$T/state" "$T/deploy"
	write_config "job = $job" "path = $T/deploy/$job.hvt"
	run petrel upgrade hello
	is "$rc" 0 "$name: petrel verifies and deploys the build"
	is "$(sha256_of "$T/deploy/$job.hvt")" "$h" "$name: ... the right bytes"
	is "$(sql 'select timestamp from versions')" "$epoch" "$name: ... with the signed start time"
}

host_case Debian gnu 20240229235959 1709251199 "$DEBIAN_PATH"
host_case FreeBSD bsd 20000229120000 951825600 "$FREEBSD_PATH"
is "$(cat "$T/calls")" "sha256 -q $HOOK_ART" "FreeBSD: the hook hashed with sha256 -q and called no date"

# neither sha256sum nor sha256: refused before anything is written
make_file "$T/none.bin" 1000 none
u=$(add_build none "$T/none.bin" --filename none.hvt)
run env -i PATH="$T/posix" PETREL_SIGN_KEY="$T/pub1.sec" PETREL_SIGN_OUTDIR="$BW_DATA/sigs" \
	MINISIGN="$MINISIGN" "$HOOK" --build-time=20240229000000 \
	--sha256="$(sha256_of "$T/none.bin")" --job=none --uuid="$u" --platform=freebsd-14 \
	--data-dir="$BW_DATA" --main-binary-filepath=bin/none.hvt "$(build_field none "$u" path)"
is "$rc" 1 "no sha256sum and no sha256: exit 1"
is "$err" "upload-hook-sign.sh: neither sha256sum nor sha256 (FreeBSD) is in PATH ($T/posix): cannot check the binary, not signing" \
	"... saying so in one line"
ok "... and writes no signature" test ! -e "$BW_DATA/sigs/none"

# ------------------------------------------------------------------ epochs against GNU date

# The edges, through the whole hook on the FreeBSD PATH (its arithmetic needs no tool, so
# the PATH does not matter to it): 1970, 2038, leap days, century years, 9999, then
# impossible times and one before 1970. A minisign stand-in writes the trusted comment
# as the signature.
cat >"$T/tc-minisign" <<'STANDIN'
#!/bin/sh
while [ $# -gt 0 ]; do
	case $1 in -x) out=$2; shift ;; -t) tc=$2; shift ;; esac
	shift
done
printf '%s\n' "$tc" >"$out"
STANDIN
chmod 0755 "$T/tc-minisign"
printf x >"$T/tiny"
tiny_sha=$(sha256_of "$T/tiny")
edges=(19700101000000 19701231235959 19720229000000 19721231235959 19991231235959
	20000229120000 20000301000000 20380119031407 20380119031408 20240229235959
	20280229123456 20280301000000 21000228235959 21000301000000 24000229000000
	99991231235959
	21000229000000 20270229000000 20240431000000 20241301000000 20240001000000
	20240100000000 20240101240000 20240101006000 20240101000060 19691231235959)
want=$(for t in "${edges[@]}"; do
	if e=$(date -u -d "$(to_iso "$t")" +%s 2>/dev/null) && [ "$e" -ge 0 ]; then
		echo "$t $e"
	else
		echo "$t refused"
	fi
done)
is "$(grep -c refused <<<"$want")" 10 "GNU date refuses the 10 impossible or pre-1970 edges"
got=$(for t in "${edges[@]}"; do
	rm -f "$T/tc/tiny.minisig"
	if env -i PATH="$FREEBSD_PATH" PETREL_SIGN_KEY=unused PETREL_SIGN_OUTDIR="$T" \
		PETREL_SIGN_LAYOUT='tc/{filename}.minisig' MINISIGN="$T/tc-minisign" \
		"$HOOK" --build-time="$t" --sha256="$tiny_sha" --job=j \
		--uuid=01234567-89ab-cdef-0123-456789abcdef \
		--main-binary-filepath=bin/tiny "$T/tiny" >/dev/null 2>&1; then
		echo "$t $(sed -n 's/^timestamp:\([0-9]*\)\t.*/\1/p' "$T/tc/tiny.minisig")"
	else
		echo "$t refused"
	fi
done)
is "$got" "$want" "the hook's timestamp for ${#edges[@]} edge times equals GNU date's, and it refuses what GNU date refuses"

# 2000 times drawn from 1970–2499 (a fixed seed), written as YYYYMMDDhhmmss by GNU date
# in one run, read back by the hook's own epoch_of in one dash.
epoch_of=$(sed -n '/^epoch_of() {$/,/^}$/p' "$HOOK")
like "$epoch_of" '^epoch_of\(\) \{' "the hook's epoch_of, taken out for the sweep"
RANDOM=1260
epochs=()
for ((i = 0; i < 2000; i++)); do epochs+=($(((RANDOM << 19 | RANDOM << 4 | RANDOM & 15) % 16725225600))); done
printf '@%s\n' "${epochs[@]}" | date -u -f - +%Y%m%d%H%M%S >"$T/sweep"
is "$(wc -l <"$T/sweep")" 2000 "GNU date writes 2000 times"
is "$(dash -c "$epoch_of"'
	while read -r bt; do epoch_of "$bt" || echo "$bt refused"; done' <"$T/sweep")" \
	"$(printf '%s\n' "${epochs[@]}")" "... and epoch_of reads every one back as the same second"
