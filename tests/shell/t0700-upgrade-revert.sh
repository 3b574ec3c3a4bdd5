#!/usr/bin/env bash
# upgrade and revert: the atomic switch, the orchestrator adapter and its environment,
# health checks with retries, the automatic roll-back, rejected builds, preflight,
# downgrades, history, status, and the lock.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 208

# pyj EXPR — evaluate a Python expression over j = json read from stdin.
pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# file_sha PATH — sha256 of PATH, or "missing".
file_sha() { if [ -f "$1" ]; then sha256_of "$1"; else echo missing; fi; }
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }
gens() { sql "select count(*) from generations where target = '${1:-hello}'"; }
journal_count() { sql "select count(*) from journal where target = '${2:-hello}' and event = '$1'"; }
pointers() { sql "select current || ' ' || previous from targets where name = '${1:-hello}'"; }
# adapter_lines — how many times the adapter ran; adapter_line N — its N-th line
# (negative N counts from the end).
adapter_lines() { if [ -f "$T/adapter.log" ]; then wc -l <"$T/adapter.log" | tr -d ' '; else echo 0; fi; }
adapter_line() {
	if [ "$1" -lt 0 ]; then tail -n "${1#-}" "$T/adapter.log" | head -n 1
	else sed -n "${1}p" "$T/adapter.log"; fi
}
# the line the adapter writes: ACTION TARGET PATH NEW OLD JOB UUID SHA-OF-PATH-WHEN-IT-RAN
want_line() { echo "$1 $2 $3 $4 $5 $6 $7 $8"; }
health_calls() { if [ -f "$T/health.log" ]; then wc -l <"$T/health.log" | tr -d ' '; else echo 0; fi; }

# ---- the recording adapter, the health check and the preflight
cat >"$T/adapter" <<'EOF'
#!/bin/sh
# the recording orchestrator adapter
if [ -f "$PETREL_PATH" ]; then s=$(sha256sum "$PETREL_PATH" | cut -d' ' -f1); else s=missing; fi
echo "$1 $PETREL_TARGET $PETREL_PATH $PETREL_NEW_SHA256 $PETREL_OLD_SHA256 $PETREL_JOB $PETREL_UUID $s" \
	>>"$T/adapter.log"
[ -f "$T/adapter.sleep" ] && sleep "$(cat "$T/adapter.sleep")"
[ -f "$T/adapter.rc" ] && exit "$(cat "$T/adapter.rc")"
exit 0
EOF
cat >"$T/health" <<'EOF'
#!/bin/sh
# exits with the first line of health.seq (consumed), else with health.rc, else 0
echo "$PETREL_TARGET $PETREL_NEW_SHA256" >>"$T/health.log"
if [ -s "$T/health.seq" ]; then
	rc=$(head -n 1 "$T/health.seq")
	sed -i 1d "$T/health.seq"
	exit "$rc"
fi
[ -f "$T/health.rc" ] && exit "$(cat "$T/health.rc")"
exit 0
EOF
cat >"$T/preflight" <<'EOF'
#!/bin/sh
if [ -f "$1" ]; then s=$(sha256sum "$1" | cut -d' ' -f1); else s=missing; fi
echo "$1 $s $PETREL_NEW_SHA256" >>"$T/preflight.log"
[ -f "$T/preflight.rc" ] && exit "$(cat "$T/preflight.rc")"
exit 0
EOF
chmod 755 "$T/adapter" "$T/health" "$T/preflight"

start_server
make_key pub1

P="$T/deploy/hello.hvt"
SOLO="$T/deploy/solo.hvt"
DEEP="$T/deploy/not/yet/there/deep.hvt"
# conf [LINE…] — the configuration: target hello with the recording adapter and health
# check, target solo (same job, no health), target deep (a path in a missing directory).
conf() {
	local g=() l=()
	while [ $# -gt 0 ]; do
		if [ "$1" = --global ]; then g+=(--global "$2"); shift 2; else l+=("$1"); shift; fi
	done
	write_config "${g[@]}" "orchestrator = $T/adapter" "health = $T/health" "${l[@]}" \
		"[target \"solo\"]" "server = bw" "job = hello" "path = $SOLO" \
		"orchestrator = $T/adapter" "keys = $T/pub1.pub" \
		"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig" \
		"[target \"deep\"]" "server = bw" "job = hello" "path = $DEEP" \
		"keys = $T/pub1.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
}
conf

# newbuild NAME SEED FINISH — a signed build of job hello; sets ${NAME}U and ${NAME}H.
newbuild() {
	make_file "$T/$1.hvt" $((100000 + ${#2} * 1000 + $3 % 997)) "$2"
	local u
	u=$(add_build hello "$T/$1.hvt" --filename hello.hvt --finish-time "$3") || BAIL_OUT "add_build"
	sign_build hello "$u" pub1 || BAIL_OUT "sign_build"
	printf -v "${1}U" '%s' "$u"
	printf -v "${1}H" '%s' "$(sha256_of "$T/$1.hvt")"
}

newbuild B1 one 1700000000

# ======================================================= first upgrade
run petrel upgrade hello
is "$rc" 0 "first upgrade: exit 0"
like "$out" "deployed generation 1: $B1U" "first upgrade: says it deployed generation 1"
ok "first upgrade: the path exists" test -f "$P"
is "$(mode_of "$P")" 755 "first upgrade: the path is mode 0755"
ok "first upgrade: the path holds the build's bytes" cmp -s "$P" "$T/B1.hvt"
ok "first upgrade: a regular file, not a link" test ! -L "$P"
ok "first upgrade: no temporary file left beside it" test ! -e "$P.petrel-new"
is "$(pointers)" "1 0" "first upgrade: targets row current=1 previous=0"
is "$(sql "select g.number, g.state, v.uuid from generations g join versions v on v.id = g.version where g.target = 'hello'")" \
	"1|deployed|$B1U" "first upgrade: generation 1 row, deployed, for the build" ||
	diag "$(sql 'select * from generations')"
is "$(journal_count upgrade)" 1 "first upgrade: one journal row 'upgrade'"
is "$(adapter_lines)" 1 "first upgrade: the adapter ran once"
is "$(adapter_line 1)" "$(want_line upgrade hello "$P" "$B1H" "" hello "$B1U" "$B1H")" \
	"first upgrade: adapter 'upgrade' with TARGET PATH NEW OLD(empty) JOB UUID; the path already held NEW"
is "$(health_calls)" 1 "first upgrade: the health check ran once"
is "$(cat "$T/health.log")" "hello $B1H" "first upgrade: the health check gets PETREL_TARGET and PETREL_NEW_SHA256"
run petrel --json status hello
is "$rc" 0 "status --json after the first upgrade: exit 0"
is "$(printf '%s' "$out" | pyj 'str(j["targets"][0]["current"]["generation"]) + " " + j["targets"][0]["current"]["uuid"] + " " + j["targets"][0]["current"]["sha256"]')" \
	"1 $B1U $B1H" "status --json: current is generation 1 with the build's uuid and sha256"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["previous"]')" None "status --json: previous is null"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]')" None "status --json: nothing staged"
run petrel check hello
is "$rc" 0 "check after the upgrade: exit 0"
like "$out" "up to date" "check after the upgrade: up to date"

# ======================================================= second build
newbuild B2 two 1700001000
run petrel check hello
is "$rc" 100 "check with a second build: exit 100"
like "$out" "$B2U" "check names the new build"
run petrel upgrade hello
is "$rc" 0 "second upgrade: exit 0"
like "$out" "deployed generation 2: $B2U.*was generation 1: $B1U" \
	"second upgrade: says generation 2, was generation 1"
ok "second upgrade: the path holds build 2" cmp -s "$P" "$T/B2.hvt"
is "$(mode_of "$P")" 755 "second upgrade: mode 0755"
is "$(pointers)" "2 1" "second upgrade: current=2 previous=1"
is "$(gens)" 2 "second upgrade: two generations"
is "$(journal_count upgrade)" 2 "second upgrade: two journal rows 'upgrade'"
is "$(adapter_line -1)" "$(want_line upgrade hello "$P" "$B2H" "$B1H" hello "$B2U" "$B2H")" \
	"second upgrade: adapter env NEW=build 2, OLD=build 1; the path held build 2"
run petrel check hello
is "$rc" 0 "check after the second upgrade: exit 0"

# ---- history
run petrel history hello
is "$rc" 0 "history: exit 0"
hl=$(printf '%s\n' "$out" | grep -E "$B1U|$B2U")
is "$(printf '%s\n' "$hl" | awk '{print $1, $2}' | tr '\n' ' ')" "2 current 1 previous " \
	"history: generation 2 (current) then 1 (previous)"
like "$(printf '%s\n' "$hl" | head -n 1)" "$B2U" "history: the first row is build 2"
like "$(printf '%s\n' "$hl" | sed -n 2p)" "$B1U" "history: the second row is build 1"
run petrel --json history hello
is "$rc" 0 "history --json: exit 0"
is "$(printf '%s' "$out" | pyj '" ".join("%s:%s:%s:%s" % (g["generation"], g["uuid"][:8], g["current"], g["previous"]) for g in j["targets"][0]["generations"])')" \
	"2:${B2U:0:8}:True:False 1:${B1U:0:8}:False:True" "history --json parses: generations, marks"

# ---- status (text and json) with current and previous
run petrel status hello
is "$rc" 0 "status: exit 0"
like "$out" "current: generation 2, hello $B2U" "status: current is generation 2"
like "$out" "previous: generation 1, hello $B1U" "status: previous is generation 1"
like "$out" "$B2H" "status: shows the current sha256"
like "$out" "deployed:" "status: shows when it was deployed"
run petrel --json status
is "$rc" 0 "status --json: exit 0"
for side in current previous; do
	is "$(printf '%s' "$out" | pyj "sorted(k for k in [t for t in j['targets'] if t['name'] == 'hello'][0]['$side'] if k in ('generation','sha256','job','uuid','size','deployed_at','trust'))")" \
		"['deployed_at', 'generation', 'job', 'sha256', 'size', 'trust', 'uuid']" \
		"status --json: $side has generation sha256 job uuid size deployed_at trust"
done
is "$(printf '%s' "$out" | pyj "(lambda t: (t['current']['generation'], t['current']['uuid'] == '$B2U', t['current']['size'], t['current']['job'], t['previous']['generation'], t['previous']['sha256'] == '$B1H', t['staged']))([t for t in j['targets'] if t['name'] == 'hello'][0])")" \
	"(2, True, $(stat -c %s "$T/B2.hvt"), 'hello', 1, True, None)" \
	"status --json: current gen 2 (uuid, size, job), previous gen 1, staged null"
is "$(printf '%s' "$out" | pyj "(lambda tr: (tr['mode'], tr['keys'], tr['rebuilders']))([t for t in j['targets'] if t['name'] == 'hello'][0]['current']['trust'])")" \
	"('signed', ['$(key_id pub1)'], [])" "status --json: current trust {mode signed, keys [pub1], rebuilders []}"
dep=$(printf '%s' "$out" | pyj "[t for t in j['targets'] if t['name'] == 'hello'][0]['current']['deployed_at']")
ok "status --json: deployed_at is a recent time ($dep)" \
	"${PY[@]}" -c 'import sys,time,datetime
v = sys.argv[1]
try: t = float(v)
except ValueError: t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
sys.exit(0 if abs(time.time() - t) < 600 else 1)' "$dep"
run petrel --json status solo
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["name"], j["targets"][0]["current"], j["targets"][0]["previous"], j["targets"][0]["staged"])')" \
	"('solo', None, None, None)" "status --json of a target never fetched: current, previous, staged null"

# ======================================================= upgrade to what is current
n_ad=$(adapter_lines)
snapshot_state
run petrel upgrade hello
is "$rc" 0 "upgrade to what is current: exit 0"
like "$out" "already current.*nothing to do" "upgrade to what is current: says so"
is "$(adapter_lines)" "$n_ad" "upgrade to what is current: the adapter is not called"
is "$(gens)" 2 "upgrade to what is current: no new generation"
is "$(pointers)" "2 1" "upgrade to what is current: pointers unchanged"
state_unchanged "upgrade to what is current: state unchanged"
run petrel upgrade hello --to "$B2U"
is "$rc" 0 "upgrade --to the current uuid: exit 0, nothing to do"
run petrel --json upgrade hello
is "$rc" 0 "upgrade --json to what is current: exit 0"
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["changed"], j["targets"][0]["current"]["generation"], j["targets"][0]["current"]["uuid"] == "'"$B2U"'")')" \
	"(False, 2, True)" "upgrade --json to what is current: changed false, current generation 2"
is "$(adapter_lines)" "$n_ad" "... adapter not called"

# ======================================================= revert without the server
stop_server
n_up=$(journal_count upgrade)
n_obj=$(find "$T/state/objects" -type f | wc -l)
run petrel revert hello
is "$rc" 0 "revert with the server down: exit 0"
like "$out" "reverted to generation 1" "revert: says it went back to generation 1"
ok "revert: the path holds build 1 again" cmp -s "$P" "$T/B1.hvt"
is "$(mode_of "$P")" 755 "revert: mode 0755"
is "$(adapter_line -1)" "$(want_line revert hello "$P" "$B1H" "$B2H" hello "$B1U" "$B1H")" \
	"revert: adapter 'revert' with NEW=build 1, OLD=build 2; the path held build 1"
is "$(pointers)" "1 2" "revert: current=1 previous=2"
is "$(gens)" 2 "revert: no new generation"
is "$(journal_count revert)" 1 "revert: a journal row 'revert'"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["current"]["generation"], j["targets"][0]["previous"]["generation"])')" \
	"(1, 2)" "status --json after revert: current 1, previous 2"
run petrel revert hello
is "$rc" 0 "second revert: exit 0"
like "$out" "reverted to generation 2" "second revert: forward to generation 2"
ok "second revert: the path holds build 2" cmp -s "$P" "$T/B2.hvt"
is "$(adapter_line -1)" "$(want_line revert hello "$P" "$B2H" "$B1H" hello "$B2U" "$B2H")" \
	"second revert: adapter 'revert' with NEW=build 2, OLD=build 1"
is "$(pointers)" "2 1" "second revert: current=2 previous=1"
is "$(journal_count revert)" 2 "second revert: two journal rows 'revert'"
is "$(journal_count upgrade)" "$n_up" "reverts write no 'upgrade' rows"
is "$(find "$T/state/objects" -type f | wc -l)" "$n_obj" "reverts delete no blob"
run petrel revert hello --to "$B1U"
is "$rc" 2 "revert with an option: exit 2"
start_server bw "$BW_PORT"

# ======================================================= revert with a single generation
run petrel upgrade solo --to "$B1U"
is "$rc" 0 "solo: upgrade --to build 1: exit 0"
n_ad=$(adapter_lines)
snapshot_state
run petrel revert solo
is "$rc" 1 "revert with one generation: exit 1"
like "$err" "no previous generation" "revert with one generation: says there is no previous generation"
state_unchanged "revert with one generation: nothing changed"
is "$(pointers solo)" "1 0" "revert with one generation: pointers unchanged"
is "$(adapter_lines)" "$n_ad" "revert with one generation: the adapter is not called"
is "$(journal_count revert solo)" 0 "revert with one generation: no journal row"
run petrel revert deep
is "$rc" 1 "revert with nothing deployed: exit 1"
like "$err" "no previous generation" "revert with nothing deployed: no previous generation"
ok "revert with nothing deployed: creates no file" test ! -e "$DEEP"

# ======================================================= a failing adapter
newbuild B3 three 1700002000
run petrel fetch hello
is "$rc" 0 "fetch build 3: exit 0"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]["uuid"]')" "$B3U" "status --json: build 3 is staged"
echo 7 >"$T/adapter.rc"
n_ad=$(adapter_lines)
run petrel upgrade hello
is "$rc" 5 "failing adapter: exit 5"
like "$err" "exit status 7" "failing adapter: the message names the adapter's exit status"
like "$err" "orchestrator" "failing adapter: the message names the orchestrator"
like "$err" "generation 2 is back" "failing adapter: says generation 2 is back"
ok "failing adapter: the path holds build 2 again" cmp -s "$P" "$T/B2.hvt"
is "$(mode_of "$P")" 755 "failing adapter: mode 0755"
ok "failing adapter: no temporary file left" test ! -e "$P.petrel-new"
is "$(adapter_lines)" $((n_ad + 2)) "failing adapter: the adapter ran twice"
is "$(adapter_line -2)" "$(want_line upgrade hello "$P" "$B3H" "$B2H" hello "$B3U" "$B3H")" \
	"failing adapter: first 'upgrade' to build 3 (the path held build 3)"
like "$(adapter_line -1)" "^revert hello $P $B2H $B3H .* $B2H\$" \
	"failing adapter: then 'revert' with NEW=build 2, OLD=build 3 (the path held build 2)"
is "$(adapter_line -1 | cut -d' ' -f6,7)" "hello $B2U" \
	"failing adapter: the 'revert' names the build put back (PETREL_JOB, PETREL_UUID)"
is "$(pointers)" "2 1" "failing adapter: pointers current=2 previous=1"
is "$(sql "select g.state from generations g join versions v on v.id = g.version where g.target = 'hello' and v.uuid = '$B3U'")" \
	failed "failing adapter: build 3's generation is recorded as failed"
is "$(sql "select number from generations where target = 'hello' and state = 'failed'")" 3 \
	"failing adapter: it is generation 3"
is "$(sql "select uuid from rejected where target = 'hello' and sha256 = '$B3H'")" "$B3U" \
	"failing adapter: build 3 is rejected for the target"
is "$(journal_count upgrade-failed)" 1 "failing adapter: a journal row 'upgrade-failed'"
is "$(sql "select count(*) from intents")" 0 "failing adapter: no intent left behind"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["current"]["generation"], j["targets"][0]["current"]["uuid"] == "'"$B2U"'", j["targets"][0]["previous"]["generation"])')" \
	"(2, True, 1)" "failing adapter: status --json current generation 2 (build 2), previous 1"
rm -f "$T/adapter.rc"
run petrel history hello
like "$out" "failed" "history shows the failed generation"

run petrel check hello
is "$rc" 0 "check: a rejected newest build is not an update (exit 0)"
like "$out" "rejected" "... and check says it was rejected"
run petrel --json check hello
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["update"], j["targets"][0]["rejected"]["reason"] != "")')" \
	"(False, True)" "check --json: update false, rejected names the reason"
at=$(petrel --json status hello | pyj 'j["targets"][0]["current"]["deployed_at"]')
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["deployed"]["generation"], j["targets"][0]["deployed"]["deployed_at"] == "'"$at"'", j["targets"][0]["deployed"]["deployed_at"] is not None)')" \
	"(2, True, True)" "check --json: the deployed version names its generation and deployed_at, as status does"

n_ad=$(adapter_lines)
snapshot_state
run petrel upgrade hello
is "$rc" 3 "upgrade of the rejected newest: exit 3"
like "$err" "rejected" "... says it was rejected"
like "$err" "--to $B3U" "... and how to deploy it anyway (--to UUID)"
state_unchanged "... nothing changed"
is "$(adapter_lines)" "$n_ad" "... the adapter is not called"

run petrel upgrade hello --to "$B3U"
is "$rc" 0 "upgrade --to the rejected build: exit 0"
like "$err" "rejected" "upgrade --to the rejected build: warns that it was rejected"
ok "upgrade --to the rejected build: the path holds build 3" cmp -s "$P" "$T/B3.hvt"
is "$(pointers)" "4 2" "upgrade --to the rejected build: generation 4 current, 2 previous"
is "$(adapter_line -1)" "$(want_line upgrade hello "$P" "$B3H" "$B2H" hello "$B3U" "$B3H")" \
	"upgrade --to the rejected build: adapter 'upgrade' to build 3"

# ======================================================= failing health check
newbuild B4 four 1700003000
conf "health_retries = 2"
echo 1 >"$T/health.rc"
: >"$T/health.log"
n_ad=$(adapter_lines)
t0=$(date +%s)
run petrel upgrade hello
t1=$(date +%s)
is "$rc" 5 "failing health check: exit 5"
like "$err" "health" "failing health check: the message names the health check"
like "$err" "2 attempts" "failing health check: ... after 2 attempts"
like "$err" "generation 4 is back" "failing health check: generation 4 is back"
is "$(health_calls)" 2 "failing health check: ran health_retries = 2 times"
ok "failing health check: paused ~1 s between attempts ($((t1 - t0)) s)" test $((t1 - t0)) -ge 1 -a $((t1 - t0)) -le 8
ok "failing health check: the path holds build 3 again" cmp -s "$P" "$T/B3.hvt"
is "$(adapter_line -2 | cut -d' ' -f1,4,5)" "upgrade $B4H $B3H" "failing health check: adapter 'upgrade' to build 4"
is "$(adapter_line -1 | cut -d' ' -f1,4,5)" "revert $B3H $B4H" "failing health check: then adapter 'revert' to build 3"
is "$(adapter_lines)" $((n_ad + 2)) "failing health check: two adapter runs"
is "$(pointers)" "4 2" "failing health check: pointers unchanged"
is "$(sql "select count(*) from rejected where target = 'hello' and sha256 = '$B4H'")" 1 \
	"failing health check: build 4 is rejected"
is "$(journal_count upgrade-failed)" 2 "failing health check: a second 'upgrade-failed' row"
rm -f "$T/health.rc"

newbuild B5 five 1700004000
echo 1 >"$T/health.seq"
: >"$T/health.log"
run petrel upgrade hello
is "$rc" 0 "health passing on the second attempt: exit 0"
is "$(health_calls)" 2 "health passing on the second attempt: two attempts"
ok "health passing on the second attempt: the path holds build 5" cmp -s "$P" "$T/B5.hvt"
is "$(sql "select v.uuid from targets t join generations g on g.target = t.name and g.number = t.current join versions v on v.id = g.version where t.name = 'hello'")" \
	"$B5U" "health passing on the second attempt: build 5 is current"
is "$(sql "select count(*) from rejected where target = 'hello' and sha256 = '$B5H'")" 0 \
	"health passing on the second attempt: build 5 is not rejected"
conf

# ======================================================= preflight
newbuild B6 six 1700005000
conf "preflight = $T/preflight"
run petrel fetch hello
is "$rc" 0 "fetch build 6: exit 0"
echo 1 >"$T/preflight.rc"
n_ad=$(adapter_lines)
n_g=$(gens)
snapshot_state
run petrel upgrade hello
is "$rc" 3 "preflight exiting 1: exit 3"
like "$err" "preflight" "preflight exiting 1: the message names the preflight"
like "$err" "exit status 1" "preflight exiting 1: ... and its exit status"
state_unchanged "preflight exiting 1: state unchanged"
ok "preflight exiting 1: the path still holds build 5" cmp -s "$P" "$T/B5.hvt"
is "$(gens)" "$n_g" "preflight exiting 1: no new generation"
is "$(adapter_lines)" "$n_ad" "preflight exiting 1: the adapter is not called"
is "$(sql "select count(*) from rejected where target = 'hello' and sha256 = '$B6H'")" 0 \
	"preflight exiting 1: the build is not marked rejected"
pl=$(tail -n 1 "$T/preflight.log" 2>/dev/null)
is "$(echo "$pl" | cut -d' ' -f2,3)" "$B6H $B6H" "preflight: \$1 is a file holding the build (sha256), NEW_SHA256 set"
like "$(echo "$pl" | cut -d' ' -f1)" "^$T/state/objects/" "preflight: \$1 is the blob in the store"
rm -f "$T/preflight.rc"
run petrel upgrade hello
is "$rc" 0 "preflight exiting 0: exit 0"
ok "preflight exiting 0: the path holds build 6" cmp -s "$P" "$T/B6.hvt"
conf

# ======================================================= downgrade (a build in the store: no server needed)
stop_server
n_ad=$(adapter_lines)
snapshot_state
run petrel upgrade hello --to "$B1U"
is "$rc" 3 "upgrade --to an older build, server down: exit 3 (not a network error)"
like "$err" "older" "... says it is older"
like "$err" "--allow-downgrade" "... and names --allow-downgrade"
state_unchanged "... nothing changed"
is "$(adapter_lines)" "$n_ad" "... the adapter is not called"
run petrel upgrade hello --to "$B1U" --allow-downgrade
is "$rc" 0 "upgrade --to an older build --allow-downgrade, server down: exit 0 (from the store)"
ok "... the path holds build 1" cmp -s "$P" "$T/B1.hvt"
is "$(adapter_line -1)" "$(want_line upgrade hello "$P" "$B1H" "$B6H" hello "$B1U" "$B1H")" \
	"... adapter 'upgrade' to build 1 from build 6"
is "$(sql "select v.uuid from targets t join generations g on g.target = t.name and g.number = t.previous join versions v on v.id = g.version where t.name = 'hello'")" \
	"$B6U" "... build 6 is previous"
start_server bw "$BW_PORT"

# ======================================================= usage
snapshot_state
run petrel upgrade
is "$rc" 2 "upgrade without a target: exit 2"
like "$err" "upgrade needs a TARGET, or --all" "upgrade without a target: says what it needs"
run petrel upgrade hello solo
is "$rc" 2 "upgrade with two targets: exit 2"
run petrel upgrade hello --bogus
is "$rc" 2 "upgrade with an unknown option: exit 2"
like "$err" "--bogus" "upgrade with an unknown option: names it"
run petrel upgrade nosuch
is "$rc" 2 "upgrade of an unknown target: exit 2"
like "$err" "nosuch" "upgrade of an unknown target: names it"
run petrel revert
is "$rc" 2 "revert without a target: exit 2"
run petrel revert nosuch
is "$rc" 2 "revert of an unknown target: exit 2"
run petrel history
is "$rc" 2 "history without a target: exit 2"
state_unchanged "usage errors change nothing"

# ======================================================= a missing orchestrator
# the operator's mistake, found before anything changes: exit 2, the build not rejected
newbuild B7 seven 1700006000
conf "orchestrator = $T/no-such-adapter"
n_ad=$(adapter_lines)
snapshot_state
run petrel upgrade hello
is "$rc" 2 "missing orchestrator: a configuration error, exit 2"
like "$err" "orchestrator $T/no-such-adapter: No such file or directory" \
	"missing orchestrator: the message names it and why"
ok "missing orchestrator: the path still holds build 1" cmp -s "$P" "$T/B1.hvt"
is "$(sql "select count(*) from rejected where target = 'hello' and sha256 = '$B7H'")" 0 \
	"missing orchestrator: build 7 is not rejected"
is "$(adapter_lines)" "$n_ad" "missing orchestrator: the recording adapter never ran"
state_unchanged "missing orchestrator: nothing changed"

# ======================================================= orchestrator timeout
newbuild B8 eight 1700007000
conf "orchestrator_timeout = 1"
echo 10 >"$T/adapter.sleep"
t0=$(date +%s)
run petrel upgrade hello
t1=$(date +%s)
rm -f "$T/adapter.sleep"
is "$rc" 5 "adapter sleeping past orchestrator_timeout = 1: exit 5"
like "$err" "timed out" "... the message says it timed out"
ok "... within ~5 s ($((t1 - t0)) s)" test $((t1 - t0)) -le 6
ok "... the path holds build 1 again" cmp -s "$P" "$T/B1.hvt"
is "$(adapter_line -2 | cut -d' ' -f1,4)" "upgrade $B8H" "... the adapter was asked to upgrade to build 8"
is "$(adapter_line -1 | cut -d' ' -f1,4)" "revert $B1H" "... then to revert to build 1"
conf

# ======================================================= a path in a missing directory
run petrel upgrade deep
is "$rc" 0 "upgrade to a path in a missing directory: exit 0"
ok "... the directories are created and the file is there" test -f "$DEEP"
is "$(mode_of "$DEEP")" 755 "... mode 0755"
is "$(file_sha "$DEEP")" "$(sql "select v.sha256 from targets t join generations g on g.target = t.name and g.number = t.current join versions v on v.id = g.version where t.name = 'deep'")" \
	"... it holds the current generation's bytes"

# ======================================================= the lock
newbuild B9 nine 1700008000
conf --global "lock_timeout = 1"
echo 3 >"$T/adapter.sleep"
n_ad=$(adapter_lines)
petrel upgrade hello >"$T/bg.out" 2>"$T/bg.err" &
bg=$!
for ((i = 0; i < 200; i++)); do
	[ "$(adapter_lines)" -gt "$n_ad" ] && break
	sleep 0.05
done
run petrel upgrade hello
is "$rc" 1 "a second upgrade while the first holds the lock: exit 1"
like "$err" "locked by pid $bg|locked by pid [0-9]+" "... says who holds it (locked by pid)"
wait "$bg"
bgrc=$?
rm -f "$T/adapter.sleep"
is "$bgrc" 0 "the first upgrade finishes: exit 0"
ok "the first upgrade: the path holds build 9" cmp -s "$P" "$T/B9.hvt"
is "$(adapter_lines)" $((n_ad + 1)) "the adapter ran once (only for the first upgrade)"

# ======================================================= a failing adapter on revert
echo 3 >"$T/adapter.rc"
n_ad=$(adapter_lines)
cur=$(pointers)
run petrel revert hello
rm -f "$T/adapter.rc"
is "$rc" 5 "failing adapter on revert: exit 5"
like "$err" "exit status 3" "failing adapter on revert: names the adapter's exit status"
like "$err" "generation ${cur%% *} is back" "failing adapter on revert: the current generation is back"
unlike "$err" "rejected" "failing adapter on revert: rejects nothing"
ok "failing adapter on revert: the path holds build 9 again" cmp -s "$P" "$T/B9.hvt"
is "$(pointers)" "$cur" "failing adapter on revert: pointers unchanged"
is "$(adapter_lines)" $((n_ad + 2)) "failing adapter on revert: the adapter ran twice"
is "$(adapter_line -2 | cut -d' ' -f1,4,5)" "revert $B1H $B9H" "failing adapter on revert: 'revert' to build 1"
is "$(adapter_line -1 | cut -d' ' -f1,4,5)" "upgrade $B9H $B1H" "failing adapter on revert: then 'upgrade' back to build 9"
is "$(sql "select count(*) from rejected where target = 'hello' and sha256 = '$B1H'")" 0 \
	"failing adapter on revert: build 1 is not rejected"
is "$(journal_count revert-failed)" 1 "failing adapter on revert: a journal row 'revert-failed'"
run petrel revert hello
is "$rc" 0 "revert with the adapter working again: exit 0"
ok "... the path holds build 1" cmp -s "$P" "$T/B1.hvt"

run petrel fsck
is "$rc" 0 "fsck at the end: exit 0"
