#!/usr/bin/env bash
# k-of-n signatures: threshold distinct key ids among several signers, each with its own
# URL template; a key counts once however often it signs or is listed; signatures by
# unknown keys do not count. Signatures come from Debian's minisign.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 34

start_server
for k in k1 k2 k3 k4; do make_key $k; done
cp "$T/k1.pub" "$T/k1copy.pub"
K1=$(key_id k1) K2=$(key_id k2) K3=$(key_id k3) K4=$(key_id k4)
SIGS=$(sig_templates s1 s2 s3)
conf3() { write_config "keys = $T/k1.pub, $T/k2.pub, $T/k3.pub" "threshold = 2" -signatures "$SIGS" "$@"; }
conf3
now=$(date +%s)
make_file "$T/a" 40000 a
make_file "$T/b" 40000 b

# ---- 2 of 3: k1 and k3 sign, s2 answers 404
ua=$(add_build hello "$T/a" --finish-time $((now - 7200)))
sign_as k1 s1 hello "$ua"
sign_as k3 s3 hello "$ua"
run petrel upgrade hello
is "$rc" 0 "2-of-3: two of three signers suffice"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "2-of-3: build A deployed"
is "$(sql 'select trust, keyids from versions')" "signed|$K1,$K3" "2-of-3: the row records both key ids"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["current"]["trust"]')" \
	"{'mode': 'signed', 'keys': ['$K1', '$K3'], 'rebuilders': [], 'weak': False}" \
	"status --json: trust evidence of the current version"
run petrel status hello
like "$out" "trust: +signed, signed by $K1,$K3" "status: the key ids behind the deployed build"

ub=$(add_build hello "$T/b" --finish-time $((now - 3600)))
B_SIG1="$BW_DATA/sigs/s1/hello/$ub/$(build_field hello "$ub" filename).minisig"
B_SIG2="$BW_DATA/sigs/s2/hello/$ub/$(build_field hello "$ub" filename).minisig"

# ---- below threshold: one signer of two needed
sign_as k1 s1 hello "$ub"
refused_upgrade "below threshold (1 of 2)" "1 of 2 required signatures"

# ---- two signatures by one key: served at two signer URLs, counted once
mkdir -p "$(dirname "$B_SIG2")"
cp "$B_SIG1" "$B_SIG2"
refused_upgrade "two signatures by one key" "1 of 2 required signatures"
rm -f "$B_SIG2"

# ---- two signatures by one key, the second made separately (Ed25519 is deterministic:
# another trusted comment makes another signature file)
sign_as k1 s2 hello "$ub" "$(tc_for hello "$ub")${TAB}note:second"
cmp -s "$B_SIG1" "$B_SIG2" && BAIL_OUT "minisign made identical signatures"
refused_upgrade "two distinct signatures by one key" "1 of 2 required signatures"
rm -f "$B_SIG2"

# ---- the same key listed twice (once under another file name): still one key
conf3 "keys = $T/k1.pub, $T/k1copy.pub, $T/k2.pub"
sign_as k1 s2 hello "$ub"
refused_upgrade "same key listed twice counts once" "1 of 2 required signatures"
rm -f "$B_SIG2"
conf3 "keys = $T/k1.pub, $T/k1copy.pub"
run petrel check hello
is "$rc" 2 "threshold 2 over one key listed twice: configuration error"
like "$err" "petrel.conf:[0-9]+: target hello: threshold 2 must be between 1 and the 1 distinct key" \
	"... naming file, line and the distinct count"
conf3

# ---- a signature by a key that is not configured
sign_as k4 s2 hello "$ub"
refused_upgrade "unknown key" "sigs/s2/hello/$ub/.*signed by unknown key $K4"
rm -f "$B_SIG2"

# ---- a second valid signature, but for another job
sign_as k2 s2 hello "$ub" "$(tc_for hello "$ub" job=other)"
refused_upgrade "signature for another job" "sigs/s2/hello/$ub/.*signature names job 'other', build is 'hello'"
rm -f "$B_SIG2"

is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "after every refusal A is still deployed"

# ---- and the genuine second signature: accepted
sign_as k2 s2 hello "$ub"
run petrel upgrade hello
is "$rc" 0 "2-of-3 with k1 and k2: B deployed"
is "$(sql "select keyids from versions where uuid = '$ub'")" "$K1,$K2" "... recording k1 and k2"
