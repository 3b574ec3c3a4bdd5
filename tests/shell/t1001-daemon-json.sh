#!/usr/bin/env bash
# petrel daemon --once --json: one JSON document, what the cycle did per target (an
# upgrade, a target up to date, a build staged, a target off, a build held outside the
# window, a refused one, the server down); --json without --once is a usage error.
. "$(dirname "$0")/lib.sh"

plan 28

P="$T/deploy/hello.hvt"
# fields — the JSON on stdout ($out), one line per target: name action exit
# current.uuid current.sha256 remote.uuid staged.uuid before.uuid error?
fields() {
	printf '%s' "$out" | "${PY[@]}" -c '
import json, sys
j = json.load(sys.stdin)
uuid = lambda o: o["uuid"] if o else "-"
for t in j["targets"]:
    print(t["name"], t["action"], t["exit"], uuid(t["current"]),
          t["current"]["sha256"][:12] if t["current"] else "-", uuid(t["remote"]),
          uuid(t["staged"]), uuid(t["before"]), "error" in t)'
}
publish() {	# publish JOB SEED — a new signed build; echoes its uuid
	local u
	make_file "$T/$2.bin" 4096 "$2"
	u=$(add_build "$1" "$T/$2.bin")
	sign_build "$1" "$u" pub1 && echo "$u"
}
short() { sha256_of "$1" | cut -c1-12; }

start_server
make_key pub1
write_config \
	"[target \"staging\"]" "server = bw" "job = other" "path = $T/deploy/other.hvt" \
	"trust = server" "auto = fetch" \
	"[target \"idle\"]" "server = bw" "job = idle" "path = $T/deploy/idle.hvt" \
	"trust = server" "auto = off"

run petrel --json daemon
is "$rc" 2 "--json without --once: exit 2"
like "$err" "^petrel: daemon: --json needs --once" "it says why"
is "$out" "" "and prints nothing on stdout"

# ---- the first cycle: hello upgraded, staging fetched, idle off
U1=$(publish hello one)
O1=$(publish other o1)
run petrel daemon --once --json
is "$rc" 0 "--once --json: exit 0"
is "$(fields)" "hello upgraded 0 $U1 $(short "$T/one.bin") $U1 - - False
staging fetched 0 - - $O1 $O1 - False
idle off 0 - - - - - False" "what each target's poll did, in the configuration's order"
like "$err" "info hello: deployed generation 1: $U1" "the log lines still go to stderr"
is "$(printf '%s' "$out" | grep -c .)" 1 "one document on one line"
like "$out" '^\{"targets":\[\{"name":"hello","action":"upgraded","exit":0,' "names first"
is "$(printf '%s' "$out" | "${PY[@]}" -c '
import json, sys
t = json.load(sys.stdin)["targets"][0]
print(t["current"]["generation"], t["current"]["job"], sorted(t["current"]["trust"]), t["rejected"])')" \
	"1 hello ['keys', 'mode', 'rebuilders', 'weak'] None" "current is a generation as status --json prints it"

# ---- nothing new: up to date
run petrel daemon --once --json
is "$rc" 0 "a cycle with nothing new: exit 0"
is "$(fields | sed -n 1p)" "hello up-to-date 0 $U1 $(short "$T/one.bin") $U1 - - False" \
	"hello: up-to-date, current and remote the same build"
is "$(fields | sed -n 2p)" "staging fetched 0 - - $O1 $O1 - False" "staging: the build stays staged"

# ---- a new build: upgraded, with the generation before
U2=$(publish hello two)
run petrel daemon --once --json
is "$rc" 0 "a new build: exit 0"
is "$(fields | sed -n 1p)" "hello upgraded 0 $U2 $(short "$T/two.bin") $U2 - $U1 False" \
	"hello: upgraded to the new build, before names the old one"
run petrel --json status hello
is "$(printf '%s' "$out" | "${PY[@]}" -c 'import json,sys; print(json.load(sys.stdin)["targets"][0]["current"]["uuid"])')" \
	"$U2" "status --json agrees"

# ---- outside the maintenance window: held, the build staged
conf_targets=("[target \"staging\"]" "server = bw" "job = other" "path = $T/deploy/other.hvt"
	"trust = server" "auto = fetch"
	"[target \"idle\"]" "server = bw" "job = idle" "path = $T/deploy/idle.hvt"
	"trust = server" "auto = off")
h=$(date +%-H)
write_config "$(printf 'window = %02d:00-%02d:00' $(((h + 2) % 24)) $(((h + 3) % 24)))" \
	"${conf_targets[@]}"
U3=$(publish hello three)
run petrel daemon --once --json
is "$rc" 0 "a closed window: exit 0"
is "$(fields | sed -n 1p)" "hello held 0 $U2 $(short "$T/two.bin") $U3 $U3 - False" \
	"hello: held, the new build staged, the old one current"
write_config "${conf_targets[@]}"
run petrel daemon --once --json
is "$(fields | sed -n 1p)" "hello upgraded 0 $U3 $(short "$T/three.bin") $U3 - $U2 False" \
	"the window open: upgraded"

# ---- a build the server serves corrupted: refused
U4=$(publish hello four)
set_mode flip
run petrel daemon --once --json
is "$rc" 3 "a corrupted download: exit 3"
is "$(fields | sed -n 1p)" "hello refused 3 $U3 $(short "$T/three.bin") $U4 - - True" \
	"hello: refused (exit 3), still at the build before"
like "$out" '"action":"refused","exit":3,"error":"[^"]*sha256 mismatch' "the error says why"
clear_mode

# ---- the server down: error, exit 4, what is deployed still said
stop_server
run petrel daemon --once --json
is "$rc" 4 "the server down: exit 4"
is "$(fields)" "hello error 4 $U3 $(short "$T/three.bin") - - - True
staging error 4 - - - - - True
idle off 0 - - - - - False" "each polled target: error, exit 4, nothing from the server"
like "$out" '"name":"hello","action":"error","exit":4,"error":"[^"]*127\.0\.0\.1' "the error names the server"
is "$(printf '%s' "$out" | grep -c .)" 1 "still one document"
run petrel daemon --once
is "$rc" 4 "without --json: the same exit"
is "$out" "" "and nothing on stdout"
is "$(printf '%s' "$err" | grep -c 'error\|warning')" 2 "the failures are logged on stderr as before"
