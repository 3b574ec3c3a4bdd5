#!/usr/bin/env bash
# The publisher's side: contrib/builder-web/upload-hook-sign.sh, called as builder-web
# calls its upload hooks, signs with Debian's minisign into a directory laid out as the
# signatures template expects; petrel then verifies that build against the look-alike.
# It refuses (exit 1, one line, nothing written) a binary that does not hash as announced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 17

HOOK="$REPO_ROOT/contrib/builder-web/upload-hook-sign.sh"
ok "the hook is executable (builder-web runs executable *.sh files)" test -x "$HOOK"
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

# hook [SHA256] — runs the hook as builder-web does (the environment set by the caller).
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
