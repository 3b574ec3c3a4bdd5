#!/usr/bin/env bash
# petrel audit --online: which build each configured server says holds the deployed hash.
. "$(dirname "$0")/lib.sh"
plan 16

jq_() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

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
like "$out" "server rb: not asked: .*$RB_URL" "text: rb could not be asked"

# without --online, no request at all
clear_requests
run petrel audit
is "$rc" 0 "audit without --online"
is "$(request_count .)" 0 "... sends no request"
is "$(python3 -c 'import sys; print(sys.argv[1].count("server "))' "$out")" 0 "... and shows no servers"
