#!/usr/bin/env bash
# A hostile or broken build server: every refusal has the right exit code, names the
# URL or the cause in one line, and leaves the store and the database as they were.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 204

# The dump without the journal and the refused builds (a refusal adds a row to each,
# checked on their own, t0470) and
# the monitoring figures (last check time): everything else must stay as it was.
dbdump() {
	sqlite3 "$T/state/petrel.db" .dump 2>/dev/null |
		grep -vE '^INSERT INTO "?(journal|journal_head|target_status|refused)"? '
}
refusals() { sql "select count(*) from journal where event = 'refused'"; }
# db_unchanged DESC — the database dump equals $DB0.
db_unchanged() {
	if [ "$(dbdump)" == "$DB0" ]; then pass "$1"; else
		fail "$1"
		diag "$(diff <(printf '%s\n' "$DB0") <(dbdump) | sed -n '1,20p')"
	fi
}

start_server
make_key pub1
write_config --global 'low_speed_time = 3'

# A first build fetched normally: the state is not empty when the hostile answers come.
make_file "$T/a.hvt" 300000 a
make_file "$T/b.hvt" 200000 b
U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1
run petrel fetch
is "$rc" 0 "setup: first fetch succeeds"
U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
F2="/job/hello/build/$U2/f/bin/hello.hvt"
DB0=$(dbdump)
snapshot_state

# hostile NAME WANT_RC ERE [MODE…] — set the modes, fetch, check the exit code, the
# one-line message, that nothing changed (files and database), clear the modes.
hostile() {
	local name=$1 want=$2 ere=$3; shift 3
	[ $# -gt 0 ] && set_mode "$@"
	clear_requests
	local n0; n0=$(refusals)
	run petrel fetch
	clear_mode
	is "$rc" "$want" "$name: exit $want"
	like "$err" "$ere" "$name: message names the cause"
	ok "$name: message is one line" one_line
	state_unchanged "$name: no blob, no row, tmp/ empty"
	db_unchanged "$name: database unchanged"
	if [ "$want" = 3 ]; then
		like "$(refusals) $(sql "select target, detail from journal where event = 'refused' order by id desc limit 1")" \
			"^$((n0 + 1)) hello\|fetch: .*$ere" "$name: the refusal is one journal row"
	else
		is "$(refusals)" "$n0" "$name: a server failure is not journaled as a refusal"
	fi
}

hostile flip 3 "sha256 mismatch for $BW_URL$F2" flip
hostile truncate 4 "$BW_URL$F2" truncate
hostile endless 4 "$BW_URL$F2: answer exceeds 200000 bytes" endless
hostile endless-chunked 4 "$BW_URL$F2: answer exceeds 200000 bytes" endless-chunked

t0=$(date +%s)
hostile "trickle (low_speed_time = 3)" 4 "$BW_URL$F2" trickle
t1=$(date +%s)
ok "trickle: petrel gave up in $((t1 - t0)) s (< 15 s)" test $((t1 - t0)) -lt 15

t0=$(date +%s)
hostile "trickle-json (low_speed_time = 3)" 4 "$BW_URL/job/hello" trickle-json
t1=$(date +%s)
ok "trickle-json: petrel gave up in $((t1 - t0)) s (< 15 s)" test $((t1 - t0)) -lt 15

t0=$(date +%s)
hostile "hang (low_speed_time = 3)" 4 "$BW_URL/job/hello/build/latest" hang
t1=$(date +%s)
ok "hang: petrel gave up in $((t1 - t0)) s (< 15 s)" test $((t1 - t0)) -lt 15

hostile 500 4 "$BW_URL/job/hello/build/latest: .*500" 500
hostile "500 on the artifact only" 4 "$BW_URL$F2: .*500" "500 /f/"
hostile "500 on the signature only" 4 "$BW_URL/sigs/hello/$U2/hello.hvt.minisig: .*500" "500 /sigs/"
hostile redirect-loop 4 "$BW_URL/job/hello/build/$U2/main-binary: .*redirects" redirect-loop
hostile truncated-json 4 "$BW_URL/job/hello: malformed JSON" truncated-json
hostile "truncated-json on the build record" 4 "$BW_URL/job/hello/build/$U2: malformed JSON" \
	"truncated-json /build/$U2"
hostile endless-json 4 "$BW_URL/job/hello: answer exceeds" endless-json
hostile wrong-etag 3 "$BW_URL$F2: ETag" wrong-etag
is "$(request_count '/f/')" 1 "wrong-etag: one request for the artifact"
hostile length-mismatch 4 "$BW_URL$F2: Content-Length 200001 differs from expected size 200000" \
	length-mismatch
hostile no-location 4 "$BW_URL/job/hello/build/latest: redirect 307 without Location" no-location
hostile "no-location on main-binary" 4 "$BW_URL/job/hello/build/$U2/main-binary: redirect 302 without Location" \
	"no-location main-binary"

# ---- an unknown job: latest answers 404, and so does /job/J; / answers as builder-web
write_config --global 'low_speed_time = 3' "job = nosuch"
hostile "unknown job" 2 "^petrel: hello: $BW_URL has no job 'nosuch' \(check the target's job\)$"
run petrel check
is "$rc" 2 "unknown job: check exits 2 too (a configuration problem)"
write_config --global 'low_speed_time = 3'

# ---- a failed build (no main binary) is never offered by latest; the previous one is
UF=$(add_build hello /dev/null --failed --finish-time 1700002000)
run petrel check
like "$out$err" "$U2" "a newer failed build is ignored: check names the newest with a binary (refused here before: hostile answers)"
rm -rf "${BW_DATA:?}/builds/hello/$UF"

# ---- server down
stop_server
hostile "server down" 4 "$BW_URL/job/hello/build/latest"
run petrel check
is "$rc" 4 "server down: check exits 4"
start_server bw "$BW_PORT"

# ---- answers the look-alike cannot give: a stub server with fixed answers per path
cat >"$T/stub.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
routes_file, port_file = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        with open(routes_file) as f:
            routes = json.load(f)
        with open(routes_file + ".log", "a") as f:
            f.write(self.path + "\n")
        r = routes.get(self.path)
        if r is None:
            status, headers, body = 404, {}, "not found"
        else:
            status, headers, body = r
        if body == "__endless__":   # headers, then a body that never ends (60 s at most)
            import time
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            end = time.time() + 60
            try:
                while time.time() < end:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
            self.close_connection = True
            return
        body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
EOF
"${PY[@]}" "$T/stub.py" "$T/routes.json" "$T/stub.port" 2>>"$T/stub.log" &
STUB_PID=$!
at_exit "kill $STUB_PID 2>/dev/null; wait $STUB_PID 2>/dev/null"
for ((i = 0; i < 200; i++)); do [ -s "$T/stub.port" ] && break; sleep 0.05; done
[ -s "$T/stub.port" ] || BAIL_OUT "stub server did not start"
STUB_URL="http://127.0.0.1:$(cat "$T/stub.port")"
write_config --global 'low_speed_time = 3' "[server \"stub\"]" "url = $STUB_URL" \
	"[target \"s\"]" "server = stub" "job = hello" "path = $T/deploy/s.hvt" "keys = $T/pub1.pub" \
	"signatures = $STUB_URL/sigs/{job}/{uuid}/{filename}.minisig"
HB=$(sha256_of "$T/b.hvt")
OTHER=11111111-2222-4333-8444-555555555555

# stub LISTING_ENTRIES_JSON RECORD_JSON [MORE_ROUTES_JSON] — latest → U2, the listing and
# record as given, and more routes ({"/path": [status, {headers}, body]}).
stub() {
	local more=${3:-'{}'}
	"${PY[@]}" - "$T/routes.json" "$U2" "$1" "$2" "$more" <<'EOF'
import json, sys
out, u, entries, record, more = sys.argv[1:6]
routes = {
    "/job/hello/build/latest": [307, {"Location": "/job/hello/build/" + u}, ""],
    "/job/hello": [200, {"Content-Type": "application/json"}, {"builds": json.loads(entries)}],
    "/job/hello/build/" + u: [200, {"Content-Type": "application/json"}, json.loads(record)],
}
routes.update(json.loads(more))
json.dump(routes, open(out + ".tmp", "w")); import os; os.rename(out + ".tmp", out)
EOF
}
MB="{\"filename\": \"hello.hvt\", \"sha256\": \"$HB\", \"size\": 200000}"
REC="{\"job\": \"hello\", \"uuid\": \"$U2\", \"platform\": \"ubuntu-22.04\", \"start_time\": \"2023-11-14T22:29:00-00:00\", \"finish_time\": \"2023-11-14T22:30:00-00:00\", \"main_binary\": true}"

# stubbed NAME WANT_RC ERE — fetch target s against the stub and check the refusal.
stubbed() {
	local name=$1 want=$2 ere=$3
	: >"$T/routes.json.log"
	run petrel fetch s
	is "$rc" "$want" "$name: exit $want"
	like "$err" "$ere" "$name: message names the cause"
	state_unchanged "$name: nothing stored"
	db_unchanged "$name: database unchanged"
	is "$(grep -c '/f/' "$T/routes.json.log")" 0 "$name: no download attempted"
}

stub "[{\"uuid\": \"$OTHER\", \"main_binary\": $MB}]" "$REC"
# the uuid is not listed: its own main-binary answer is asked for its hash (404 here)
stubbed "job listing lacks the uuid, no main binary" 4 \
	"$STUB_URL/job/hello/build/$U2/main-binary: 404 Not Found \(no build $U2 with a main binary\)"
# the uuid is not listed, and its main-binary answer cannot say which bytes it holds, or
# says other bytes than the listing: refused after the headers, nothing downloaded
ETAG_B=$("${PY[@]}" -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$HB")
MAIN="/job/hello/build/$U2/main-binary"
FILE="/job/hello/build/$U2/f/bin/hello.hvt"
# stubbed_head NAME ERE — like stubbed, but the headers of the artifact were asked for once
stubbed_head() {
	: >"$T/routes.json.log"
	run petrel fetch s
	is "$rc" 4 "$1: exit 4"
	like "$err" "$2" "$1: message names the cause"
	state_unchanged "$1: nothing stored"
	db_unchanged "$1: database unchanged"
	is "$(grep -c '/f/' "$T/routes.json.log")" 1 "$1: only the artifact's headers were asked for"
}
stub "[{\"uuid\": \"$OTHER\", \"main_binary\": $MB}]" "$REC" \
	"{\"$MAIN\": [302, {\"Location\": \"$FILE\"}, \"\"], \"$FILE\": [200, {}, \"x\"]}"
stubbed_head "listing lacks the uuid, main binary without ETag" \
	"$STUB_URL$FILE: no ETag holding a sha256 \(''\): the build's hash cannot be learned"
stub "[{\"uuid\": \"$OTHER\", \"main_binary\": $MB}]" "$REC" \
	"{\"$MAIN\": [302, {\"Location\": \"$FILE\"}, \"\"], \"$FILE\": [200, {\"ETag\": \"$ETAG_B\"}, \"x\"]}"
stubbed_head "listing lacks the uuid, main binary of another size than the listing's" \
	"$STUB_URL/job/hello: build $U2's main binary has 1 bytes, the listing says 200000 for sha256 $HB"
stub "[{\"uuid\": \"$U2\", \"main_binary\": {\"filename\": \"hello.hvt\", \"size\": 200000}}]" "$REC"
stubbed "listing entry without sha256" 4 "$STUB_URL/job/hello: field 'sha256' missing"
stub "[{\"uuid\": \"$U2\", \"main_binary\": {\"filename\": \"hello.hvt\", \"sha256\": \"$HB\"}}]" "$REC"
stubbed "listing entry without size" 4 "$STUB_URL/job/hello: field 'size' missing"
stub "[{\"uuid\": \"$U2\", \"main_binary\": {\"sha256\": \"$HB\", \"size\": 200000}}]" "$REC"
stubbed "listing entry without filename" 4 "$STUB_URL/job/hello: field 'filename' missing"
stub "[{\"uuid\": \"$U2\", \"main_binary\": {\"filename\": \"hello.hvt\", \"sha256\": \"$HB\", \"size\": 10000000000000}}]" "$REC"
stubbed "a build announcing 10 TB" 4 "build $U2 announces 10000000000000 bytes, more than max_artifact_size"
stub "[{\"uuid\": \"$U2\", \"main_binary\": null}]" "$REC"
stubbed "listing entry with main_binary null" 4 "$STUB_URL/job/hello: build $U2 has no main_binary"
stub "[{\"uuid\": \"$U2\", \"main_binary\": {\"filename\": \"../../etc/passwd\", \"sha256\": \"$HB\", \"size\": 200000}}]" "$REC"
stubbed "listing entry with an unsafe filename" 4 "$STUB_URL/job/hello: unsafe filename"
stub "{}" "$REC"
# ({"builds": {}} is not a list)
stubbed "listing whose builds is not a list" 4 "$STUB_URL/job/hello: field 'builds' missing or not a list"
stub "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" \
	"{\"job\": \"hello\", \"uuid\": \"$U2\", \"main_binary\": true, \"start_time\": \"2023-11-14T22:29:00-00:00\"}"
stubbed "build record without finish_time" 4 "$STUB_URL/job/hello/build/$U2: field 'finish_time' missing"
stub "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" \
	"{\"job\": \"hello\", \"uuid\": \"$OTHER\", \"main_binary\": true, \"finish_time\": \"2023-11-14T22:30:00-00:00\"}"
stubbed "build record for another uuid" 4 "$STUB_URL/job/hello/build/$U2: answer describes hello/$OTHER"
stub "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" \
	"{\"uuid\": \"$U2\", \"main_binary\": true, \"finish_time\": \"2023-11-14T22:30:00-00:00\"}"
stubbed "build record without job" 4 "$STUB_URL/job/hello/build/$U2: field 'job' missing"
stub "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" "[1, 2]"
stubbed "build record that is not an object" 4 "$STUB_URL/job/hello/build/$U2: malformed JSON"

# a redirect whose body never ends: redirect bodies have their own small cap
"${PY[@]}" - "$T/routes.json" "$U2" <<'EOF'
import json, os, sys
out, u = sys.argv[1], sys.argv[2]
routes = {"/job/hello/build/latest": [307, {"Location": "/job/hello/build/" + u}, "__endless__"]}
json.dump(routes, open(out + ".tmp", "w")); os.rename(out + ".tmp", out)
EOF
SECONDS=0
stubbed "307 with an endless body" 4 "/job/hello/build/latest: body of the HTTP 307 answer exceeds 65536 bytes"
ok "307 with an endless body: refused at once, not after the transfer limits" test "$SECONDS" -lt 10
