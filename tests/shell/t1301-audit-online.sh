#!/usr/bin/env bash
# petrel audit --online: which build each configured server says holds the deployed hash.
. "$(dirname "$0")/lib.sh"
plan 29

jq_() { "${PY[@]}" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

start_server
start_server rb
make_key pub1
write_config '[server "rb"]' "url = $RB_URL"
make_file "$T/a" 25000 a
ua=$(add_build hello "$T/a"); sign_build hello "$ua" pub1
run petrel upgrade hello
is "$rc" 0 "setup: deployed from bw"
SA=$(sha256_of "$T/a")

# rb has never built it: reported, not a finding
BW_DATA=$RB_DATA clear_requests
run petrel --json audit --online
is "$rc" 0 "one server does not know the hash: still exit 0"
is "$(printf '%s' "$out" | jq_ '[(s["name"], s["known"], s["job"], s["uuid"]) for s in j["targets"][0]["servers"]]')" \
	"[('bw', True, 'hello', '$ua'), ('rb', False, None, None)]" \
	"--json: bw knows it as hello/$ua, rb does not"
is "$(BW_DATA=$RB_DATA request_count "^GET	/hash\?sha256=$SA	")" 1 "rb was asked /hash?sha256= of the deployed hash"
run petrel audit --online
is "$rc" 0 "text: exit 0"
like "$out" "server bw: built as hello $ua" "text: bw's answer"
like "$out" "server rb: does not know this hash" "text: rb's answer"
is "$err" "" "no finding is reported"

# rb rebuilds it reproducibly (another uuid, the same bytes)
ur=$(BW_DATA=$RB_DATA add_build hello "$T/a")
run petrel --json audit --online
is "$(printf '%s' "$out" | jq_ '[(s["name"], s["known"], s["uuid"]) for s in j["targets"][0]["servers"]]')" \
	"[('bw', True, '$ua'), ('rb', True, '$ur')]" "a reproducible rebuild on rb: both know it"

# rb down: reported with the error, not a finding
stop_server rb
run petrel --json audit --online
is "$rc" 0 "a server that is down: still exit 0"
is "$(printf '%s' "$out" | jq_ 'j["targets"][0]["servers"][1]["known"], "error" in j["targets"][0]["servers"][1]')" \
	"False True" "--json: rb known false, with an error"
like "$(printf '%s' "$out" | jq_ 'j["targets"][0]["servers"][1]["error"]')" "$RB_URL/hash" \
	"... naming the URL"
run petrel audit --online
like "$out" "server rb: error: .*$RB_URL" "text: rb was asked, and the error is shown"
unlike "$out" "not asked" "... not as 'not asked'"

# without --online, no request at all
clear_requests
run petrel audit
is "$rc" 0 "audit without --online"
is "$(request_count .)" 0 "... sends no request"
is "$("${PY[@]}" -c 'import sys; print(sys.argv[1].count("server "))' "$out")" 0 "... and shows no servers"

# credentials in a server's URL are never printed, in text or JSON, up or down
write_config '[server "rb"]' "url = http://alice:s3cret@127.0.0.1:$RB_PORT" \
	'[server "bwauth"]' "url = http://alice:s3cret@127.0.0.1:$BW_PORT"
run petrel --json audit --online
is "$rc" 0 "--json, servers with a password in their URL: exit 0"
is "$(printf '%s' "$out" | jq_ '[(s["name"], s["url"], s["known"]) for s in j["targets"][0]["servers"]]')" \
	"[('bw', '$BW_URL', True), ('rb', 'http://***@127.0.0.1:$RB_PORT', False), ('bwauth', 'http://***@127.0.0.1:$BW_PORT', True)]" \
	"--json: each URL shown with user:password masked"
unlike "$out$err" "s3cret|alice" "--json: the password appears nowhere (nor in rb's error)"
like "$(printf '%s' "$out" | jq_ 'j["targets"][0]["servers"][1]["error"]')" "http://\\*\\*\\*@127.0.0.1:$RB_PORT/hash" \
	"... the error names the masked URL"
run petrel audit --online
is "$rc" 0 "text: exit 0"
like "$out" "server rb: error: .*http://\\*\\*\\*@127.0.0.1:$RB_PORT" "text: rb's error with the masked URL"
unlike "$out$err" "s3cret|alice" "text: the password appears nowhere"

# the evidence behind what is deployed: trust = server is shown as weak; rebuilders by name
start_server rb "$RB_PORT"
write_config '[server "rb"]' "url = $RB_URL" \
	'[target "plain"]' 'server = bw' 'job = hello' "path = $T/deploy/plain" 'orchestrator = none' \
	'trust = server' \
	'[target "rebuilt"]' 'server = bw' 'job = hello' "path = $T/deploy/rebuilt" 'orchestrator = none' \
	'trust = rebuilt' 'rebuilders = rb'
run petrel upgrade plain
is "$rc" 0 "setup: plain deployed on the server's word only"
run petrel upgrade rebuilt
is "$rc" 0 "setup: rebuilt deployed, rb agreeing"
run petrel --json audit plain rebuilt
is "$(printf '%s' "$out" | jq_ '[t["trust"] for t in j["targets"]]')" \
	"[{'mode': 'server', 'keys': [], 'rebuilders': [], 'weak': True}, {'mode': 'rebuilt', 'keys': [], 'rebuilders': ['rb'], 'weak': False}]" \
	"--json: trust per target, weak for trust = server, the rebuilder named"
run petrel audit plain rebuilt
like "$out" "^  trust: server \(WEAK: hash from the server only, no signature\)" "text: trust = server shown as weak"
like "$out" "^  trust: rebuilt, rebuilt by rb$" "text: the rebuilder named"
