#!/usr/bin/env bash
# Rebuilder agreement: trust = rebuilt asks the rebuilders' /hash?sha256=H; a build is
# accepted when agree of them lead to a build whose main binary has H (of any job: the
# same bytes from another job's recipe count). Another hash (404) or a server that is
# down does not count (failed builds and other artifacts: t1500). Three look-alike
# rebuilders on loopback; the agreeing ones are recorded and shown by status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 24

start_server
start_server rb1
start_server rb2
start_server rb3
make_key pub1
RB_SERVERS=('[server "rb1"]' "url = $RB1_URL" '[server "rb2"]' "url = $RB2_URL"
	'[server "rb3"]' "url = $RB3_URL")
# rebuilt_config [LINE...] — trust = rebuilt on three rebuilders, agree = 2; a "trust ="
# LINE replaces the default (a key set twice is a configuration error)
rebuilt_config() {
	local trust="trust = rebuilt"
	printf '%s\n' "$@" | grep -q '^trust =' && trust=
	write_config ${trust:+"$trust"} -keys -signatures -threshold "rebuilders = rb1, rb2, rb3" \
		"agree = 2" "$@" "${RB_SERVERS[@]}"
}
rebuilt_config
now=$(date +%s)
for f in a b b2; do make_file "$T/$f" 30000 "$f"; done

# ---- 2 of 3 rebuilders agree (rb3 never built it): accepted
ua=$(add_build hello "$T/a" --finish-time $((now - 7200)))
BW_DATA=$RB1_DATA add_build hello "$T/a" >/dev/null
BW_DATA=$RB2_DATA add_build hello "$T/a" >/dev/null
run petrel upgrade hello
is "$rc" 0 "2 of 3 rebuilders agree: deployed"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "... build A"
is "$(sql 'select trust, keyids, rebuilders from versions')" "rebuilt||rb1,rb2" \
	"the version row records which rebuilders agreed"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["current"]["trust"]')" \
	"{'mode': 'rebuilt', 'keys': [], 'rebuilders': ['rb1', 'rb2'], 'weak': False}" \
	"status --json: mode and rebuilders of the current version"
run petrel status hello
like "$out" "trust: +rebuilt, rebuilt by rb1,rb2" "status: the rebuilders behind the deployed build"

ub=$(add_build hello "$T/b" --finish-time $((now - 3600)))
HB=$(sha256_of "$T/b")

# ---- rb1 agrees; rb2 built the job but got another hash; rb3 does not know it
BW_DATA=$RB1_DATA add_build hello "$T/b" >/dev/null
u2=$(BW_DATA=$RB2_DATA add_build hello "$T/b2")
refused_upgrade "rebuilders disagree (another hash)" \
	"build/$ub: 1 of 3 rebuilders agree, agree = 2 \(rb2: has no build with sha256 ${HB:0:12}.*404"
rm -rf "${RB2_DATA:?}/builds/hello/$u2"

# ---- rb2 rebuilt it too, but is down now (rb3: 404)
BW_DATA=$RB2_DATA add_build hello "$T/b" >/dev/null
stop_server rb2
refused_upgrade "a rebuilder that is down" "1 of 3 rebuilders agree.*rb2: down: .*127.0.0.1:$RB2_PORT"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "after every refusal A is still deployed"

# ---- signed+rebuilt: a good signature is not enough without the rebuilders
rebuilt_config "trust = signed+rebuilt" "keys = $T/pub1.pub" "threshold = 1" \
	"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
sign_build hello "$ub" pub1
refused_upgrade "signed+rebuilt: signed, but too few rebuilders" "1 of 3 rebuilders agree"

# ---- rb3 rebuilds it too: 2 of 3 with rb2 still down
BW_DATA=$RB3_DATA add_build hello "$T/b" >/dev/null
run petrel upgrade hello
is "$rc" 0 "signed+rebuilt: signature and 2 of 3 rebuilders (one down): deployed"
is "$(sql "select trust, keyids, rebuilders from versions where uuid = '$ub'")" \
	"signed+rebuilt|$(key_id pub1)|rb1,rb3" "... the row records key and rebuilders"
run petrel status hello
like "$out" "trust: +signed\+rebuilt, signed by $(key_id pub1), rebuilt by rb1,rb3" \
	"status shows both kinds of evidence"

# ---- rb3 holds the next build's bytes only under another job name: that agrees (rb2 is down)
make_file "$T/c" 30000 c
uc=$(add_build hello "$T/c")
BW_DATA=$RB1_DATA add_build hello "$T/c" >/dev/null
BW_DATA=$RB3_DATA add_build other "$T/c" >/dev/null
rebuilt_config
run petrel upgrade hello
is "$rc" 0 "a rebuilder that built the bytes as another job agrees: deployed"
is "$(sql "select rebuilders from versions where uuid = '$uc'")" "rb1,rb3" "... rb1 and rb3 recorded"
like "$err" "rebuilder rb3 agrees: its build [0-9a-f-]+ of other has sha256 .* \(built as another job\)" \
	"... and says so: built as another job"
