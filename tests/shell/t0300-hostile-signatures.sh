#!/usr/bin/env bash
# Hostile or broken minisign signatures: each is refused with exit 3 (4 when the
# signature server fails), says why in one line, stores nothing, and where the refusal
# can come before the download, downloads nothing.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 126


start_server
make_key pub1
make_key pub2
write_config

make_file "$T/a.hvt" 100000 a
make_file "$T/other.bin" 100000 other
U=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
H=$(sha256_of "$T/a.hvt")
UO=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1699990000)  # an older identical build
SIG="$BW_DATA/sigs/hello/$U/hello.hvt.minisig"
SIGURL="$BW_URL/sigs/hello/$U/hello.hvt.minisig"
TAB=$'\t'
TC="timestamp:1700000000${TAB}file:hello.hvt${TAB}job:hello${TAB}uuid:$U${TAB}sha256:$H"
OTHER_UUID=11111111-2222-4333-8444-555555555555
OTHER_SHA=$(printf other | sha256sum | cut -d' ' -f1)

# sign_bytes KEY FILE OUT TC [minisign options] — a signature of FILE's bytes.
sign_bytes() {
	local key=$1 file=$2 out=$3 tc=$4; shift 4
	mkdir -p "$(dirname "$out")"
	"$MINISIGN" -S "$@" -s "$T/$key.sec" -m "$file" -x "$out" -t "$tc" </dev/null >/dev/null
}

# refused NAME WANT_RC ERE EARLY — fetch must fail with WANT_RC and a one-line message
# matching ERE, store nothing; EARLY=1: nothing downloaded either.
refused() {
	local name=$1 want=$2 ere=$3 early=$4
	rm -rf "$T/state"
	snapshot_state
	clear_requests
	run petrel fetch
	is "$rc" "$want" "$name: exit $want"
	like "$err" "$ere" "$name: message says why"
	note "$name: $err"
	ok "$name: message is one line" one_line
	state_unchanged "$name: nothing stored"
	if [ "$early" = 1 ]; then
		is "$(request_count '/f/')" 0 "$name: refused before downloading"
	fi
}

# accepted NAME — fetch succeeds and stores one row.
accepted() {
	rm -rf "$T/state"
	run petrel fetch
	is "$rc" 0 "$1: exit 0"
	is "$(sql 'select count(*) from versions')" 1 "$1: one row stored"
}

# ---- the correct signature is accepted (sanity)
sign_build hello "$U" pub1
accepted "a good signature"

# ---- a signature over other bytes, served as this build's
sign_bytes pub1 "$T/other.bin" "$SIG" "$TC"
refused "signature of another file's bytes" 3 "$SIGURL: file signature does not verify" 0

# ---- the signature line altered (still valid base64, same key id)
sign_build hello "$U" pub1
"${PY[@]}" - "$SIG" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
s = lines[1]
i = 40                      # well inside the 64 signature bytes (after alg and key id)
c = "A" if s[i] != "A" else "B"
lines[1] = s[:i] + c + s[i + 1:]
open(p, "w").write("\n".join(lines))
EOF
refused "signature line altered" 3 "$SIGURL: .*does not verify" 0

# ---- the trusted comment altered after signing (its global signature fails)
sign_build hello "$U" pub1
sed -i "3s/timestamp:1700000000/timestamp:1800000000/" "$SIG"
refused "trusted comment altered" 3 "$SIGURL: trusted comment signature does not verify" 0

# ---- a key the target does not trust
sign_build hello "$U" pub2
refused "signature by an unknown key" 3 "$SIGURL: signed by unknown key $(key_id pub2)" 1

# ---- signatures that bind another build
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}job:other${TAB}uuid:$U${TAB}sha256:$H"
refused "signature for another job" 3 "$SIGURL: signature names job 'other'" 1
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}job:hello${TAB}uuid:$OTHER_UUID${TAB}sha256:$H"
refused "signature for another uuid" 3 "$SIGURL: signature names uuid '$OTHER_UUID'" 1
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}job:hello${TAB}uuid:$U${TAB}sha256:$OTHER_SHA"
refused "signature for another sha256" 3 "$SIGURL: signature names sha256 $OTHER_SHA" 1
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:other.hvt${TAB}job:hello${TAB}uuid:$U${TAB}sha256:$H"
refused "signature for another file" 3 "$SIGURL: signature names file 'other.hvt'" 1
# the genuine signature of an older identical build (same bytes), replayed for this uuid
sign_build hello "$UO" pub1
cp "$BW_DATA/sigs/hello/$UO/hello.hvt.minisig" "$SIG"
refused "another build's genuine signature" 3 "$SIGURL: signature names uuid '$UO'" 1
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}job:hello${TAB}job:hello${TAB}uuid:$U${TAB}sha256:$H"
refused "trusted comment with a repeated field" 3 "$SIGURL: trusted comment has more than one job field" 1

# ---- no signature at all
rm -f "$SIG"
refused "missing signature" 3 "no signature" 1

# ---- malformed signature files
sign_build hello "$U" pub1
sed -i 's/$/\r/' "$SIG"
refused "signature with CRLF line ends" 3 "$SIGURL: .*carriage return" 1
sign_build hello "$U" pub1
sed -i '4d' "$SIG"
refused "signature with 3 lines" 3 "$SIGURL: .*4 lines" 1
printf 'this is not\na minisign\nsignature\nat all\n' >"$SIG"
refused "garbage signature" 3 "$SIGURL: " 1
head -c 5000 /dev/urandom >"$SIG"
refused "binary garbage signature" 3 "$SIGURL: " 1
sign_build hello "$U" pub1
"${PY[@]}" - "$SIG" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
lines[0] = "untrusted comment: " + "x" * 4200     # > 4096 bytes in all
open(p, "w").write("\n".join(lines))
EOF
refused "oversized signature (> 4096 bytes)" 3 "$SIGURL: .*4096" 1

# ---- the signature server fails
sign_build hello "$U" pub1
set_mode "500 /sigs/"
refused "signature URL answering 500" 4 "$SIGURL: .*500" 1
clear_mode

# ---- bind = strict (the default) and bind = loose
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}uuid:$U${TAB}sha256:$H"
refused "bind = strict, trusted comment without job" 3 "$SIGURL: signature has no job field" 1
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}job:hello${TAB}uuid:$U"
refused "bind = strict, trusted comment without sha256" 3 "$SIGURL: signature has no sha256 field" 1
write_config "bind = loose"
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}uuid:$U${TAB}sha256:$H"
accepted "bind = loose, trusted comment without job"
sign_build hello "$U" pub1 "a free-form comment"
accepted "bind = loose, free-form trusted comment"
sign_build hello "$U" pub1 "timestamp:1700000000${TAB}file:hello.hvt${TAB}job:other${TAB}uuid:$U${TAB}sha256:$H"
refused "bind = loose still refuses a job that differs" 3 "$SIGURL: signature names job 'other'" 1

# ---- legacy signatures
write_config
sign_bytes pub1 "$T/a.hvt" "$SIG" "$TC" -l
refused "legacy signature by default" 3 "$SIGURL: legacy signature" 1
write_config "legacy_signatures = yes"
accepted "legacy signature with legacy_signatures = yes"
is "$(sql 'select keyids from versions')" "$(key_id pub1)" "legacy signature: the key id is recorded"
sign_bytes pub1 "$T/other.bin" "$SIG" "$TC" -l
refused "legacy signature of other bytes with legacy_signatures = yes" 3 "$SIGURL: file signature does not verify" 0

# ---- several signature URLs
write_config "keys = $T/pub1.pub, $T/pub2.pub" \
	"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig, $BW_URL/sigs/k2/{job}/{uuid}/{filename}.minisig"
sign_build hello "$U" pub1
accepted "threshold 1, one of two signature URLs answers 404"
mkdir -p "$BW_DATA/sigs/k2/hello/$U"
cp "$SIG" "$BW_DATA/sigs/k2/hello/$U/hello.hvt.minisig"
write_config "keys = $T/pub1.pub, $T/pub2.pub" "threshold = 2" \
	"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig, $BW_URL/sigs/k2/{job}/{uuid}/{filename}.minisig"
refused "threshold 2, the same key behind both URLs" 3 "1 of 2|threshold" 1
sign_bytes pub2 "$T/other.bin" "$BW_DATA/sigs/k2/hello/$U/hello.hvt.minisig" "$TC"
refused "threshold 2, the second signature does not verify" 3 "sigs/k2/hello/$U/hello.hvt.minisig: file signature does not verify" 0
