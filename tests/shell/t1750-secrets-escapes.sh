#!/usr/bin/env bash
# Secrets and terminal escapes: credentials in a server URL (user:password@, a token in a
# query) stay in the configuration -- never in the database, the journal, --json or a
# message; strings a server sends (Location, ETag, JSON values, trusted comments) reach
# stderr, stdout and the journal with their control characters escaped, never raw.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
command -v jq >/dev/null || skip_all "jq not installed"
plan 72

DB="$T/state/petrel.db"
sql() { sqlite3 "$DB" "$1"; }
dump() { sqlite3 "$DB" .dump; }
valid_json() { jq -e . >/dev/null <<<"$1"; }
# clean TEXT — TEXT is UTF-8 without a control character (C0 but newline and tab, DEL,
# C1): what a terminal shows as it is.
clean() {
	printf '%s' "$1" | "${PY[@]}" -c '
import sys
t = sys.stdin.buffer.read().decode("utf-8")
sys.exit(any((ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f for c in t))' 2>/dev/null
}

start_server
make_key pub1
write_config
# the look-alike ignores credentials; petrel must send them, and keep them to itself
CRED_URL=${BW_URL/http:\/\//http://alice:s3cret@}
sed -i "s|^url = $BW_URL\$|url = $CRED_URL|" "$T/petrel.conf"
grep -q "alice:s3cret@" "$T/petrel.conf" || BAIL_OUT "the configuration has no credentials"
MASKED=${BW_URL/http:\/\//http://***@}

make_file "$T/a.hvt" 20000 a
make_file "$T/b.hvt" 20000 b
U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1

# ---- credentials
run petrel fetch
is "$rc" 0 "a server URL with user:password@ works"
is "$(dump | grep -c s3cret)" 0 "the password is nowhere in the database"
is "$(sql "select url from versions")" "$MASKED/job/hello/build/$U1/f/bin/hello.hvt" \
	"versions.url keeps where the bytes came from, credentials masked"
run petrel --json status
is "$rc" 0 "status --json succeeds"
unlike "$out" "s3cret" "status --json shows no password"
is "$(jq -r '.targets[0].staged.url' <<<"$out")" "$MASKED/job/hello/build/$U1/f/bin/hello.hvt" \
	"status --json: the url is masked"
# a database from before the fix may hold one: it is masked on the way out too
sql "update versions set url = '$CRED_URL/old'"
run petrel --json status
is "$(jq -r '.targets[0].staged.url' <<<"$out")" "$MASKED/old" \
	"status --json masks a password an older petrel stored"
sql "update versions set url = '$MASKED/job/hello/build/$U1/f/bin/hello.hvt'"
run petrel log -v
unlike "$out$err" "s3cret" "log shows no password"

U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
run petrel upgrade hello --dry-run
like "$out" "fetch: +http://\\*\\*\\*@127\\.0\\.0\\.1:$BW_PORT/job/hello/build/$U2/" \
	"upgrade --dry-run names the URL masked"
unlike "$out$err" "s3cret" "upgrade --dry-run shows no password"
run petrel --json upgrade hello --dry-run
unlike "$out$err" "s3cret" "upgrade --dry-run --json shows no password"

snapshot_state
set_mode 500
run petrel -v fetch
clear_mode
is "$rc" 4 "a server answering 500: exit 4"
like "$err" "$(printf '%s' "$MASKED" | sed 's/[*]/\\*/g')/job/hello/build/latest: HTTP status 500" \
	"the error names the URL, credentials masked"
unlike "$err" "s3cret" "no password on stderr, even with -v"
state_unchanged "a server answering 500: nothing stored"

# a secret in a query: signatures = ...?token=... (here a URL that answers 404)
write_config "signatures = $BW_URL/nosigs/{job}/{uuid}.minisig?token=hunter2&v=1"
snapshot_state
run petrel fetch
is "$rc" 3 "a signature URL that answers 404: exit 3"
like "$err" "/nosigs/hello/$U2.minisig\\?token=\\*\\*\\*&v=1" \
	"the message shows the signature URL with its token masked"
unlike "$err" "hunter2" "no token on stderr"
is "$(dump | grep -c hunter2)" 0 "no token in the database (journal, refusals)"
state_unchanged "a missing signature: nothing stored"
run petrel status
unlike "$out$err" "hunter2" "status shows no token"
run petrel --json status
unlike "$out" "hunter2" "status --json shows no token"
write_config

# ---- escape sequences from a hostile server
ESC_RE='\\x1b\]0;pwned\\x07'
# hostile NAME WANT ERE — fetch target s from the stub; stderr: the cause, one line,
# escaped; nothing stored; the journal holds no control character.
hostile() {
	local name=$1 want=$2 ere=$3
	snapshot_state
	run petrel fetch s
	is "$rc" "$want" "$name: exit $want"
	like "$err" "$ere" "$name: the message names the cause, escaped"
	ok "$name: the message is one line" one_line
	ok "$name: no control character reaches stderr" clean "$err"
	state_unchanged "$name: nothing stored"
	ok "$name: no control character in the journal" clean "$(sql 'select target, event, detail from journal')"
}

cat >"$T/stub.py" <<'EOF'
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
routes_file, port_file = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        with open(routes_file) as f:
            routes = json.load(f)
        status, headers, body = routes.get(self.path, [404, {}, "not found"])
        body = body.encode("latin-1") if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)      # latin-1: ESC, BEL and 0x9b go out as bytes
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
EOF
echo '{}' >"$T/routes.json"
"${PY[@]}" "$T/stub.py" "$T/routes.json" "$T/stub.port" 2>>"$T/stub.log" &
STUB_PID=$!
at_exit "kill $STUB_PID 2>/dev/null; wait $STUB_PID 2>/dev/null"
for ((i = 0; i < 200; i++)); do [ -s "$T/stub.port" ] && break; nap 0.05; done
[ -s "$T/stub.port" ] || BAIL_OUT "stub server did not start"
STUB_URL="http://127.0.0.1:$(cat "$T/stub.port")"
write_config "[server \"stub\"]" "url = $STUB_URL" "[target \"s\"]" "server = stub" \
	"job = hello" "path = $T/deploy/s.hvt" "keys = $T/pub1.pub" \
	"signatures = $STUB_URL/sigs/{job}/{uuid}/{filename}.minisig"
HB=$(sha256_of "$T/b.hvt")
OTHER=11111111-2222-4333-8444-555555555555
MB="{\"filename\": \"hello.hvt\", \"sha256\": \"$HB\", \"size\": 20000}"
REC="{\"job\": \"hello\", \"uuid\": \"$U2\", \"platform\": \"p\", \"start_time\": \"2023-11-14T22:29:00-00:00\", \"finish_time\": \"2023-11-14T22:30:00-00:00\", \"main_binary\": true}"
# routes LATEST_LOCATION ENTRIES RECORD [MORE] — the stub's answers (JSON with \u escapes)
routes() {
	"${PY[@]}" - "$T/routes.json" "$U2" "$1" "$2" "$3" "${4:-{\}}" <<'EOF'
import json, os, sys
out, u, loc, entries, record, more = sys.argv[1:7]
r = {"/job/hello/build/latest": [307, {"Location": json.loads(loc)}, ""],
     "/job/hello": [200, {"Content-Type": "application/json"}, {"builds": json.loads(entries)}],
     "/job/hello/build/" + u: [200, {"Content-Type": "application/json"}, json.loads(record)]}
r.update(json.loads(more))
json.dump(r, open(out + ".tmp", "w")); os.rename(out + ".tmp", out)
EOF
}
GOOD_LOC="\"/job/hello/build/$U2\""

routes '"/job/hello/build/\u001b]0;pwned\u0007\u001b[2J\u009b31m"' "[]" "{}"
hostile "a Location with escape sequences" 4 \
	"unexpected Location '/job/hello/build/${ESC_RE}\\\\x1b\[2J\\\\x9b31m'"

routes "$GOOD_LOC" "[{\"uuid\": \"$U2\", \"main_binary\": {\"filename\": \"a\u001b]0;pwned\u0007\", \"sha256\": \"$HB\", \"size\": 20000}}]" "$REC"
hostile "a filename with escape sequences" 4 "unsafe filename 'a${ESC_RE}'"

routes "$GOOD_LOC" "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" \
	"{\"job\": \"\u001b]0;pwned\u0007\", \"uuid\": \"$OTHER\", \"main_binary\": true, \"finish_time\": \"2023-11-14T22:30:00-00:00\"}"
hostile "a build record's job with escape sequences" 4 "answer describes ${ESC_RE}/$OTHER"

MAIN="/job/hello/build/$U2/main-binary"
FILE="/job/hello/build/$U2/f/bin/hello.hvt"
routes "$GOOD_LOC" "[{\"uuid\": \"$OTHER\", \"main_binary\": $MB}]" "$REC" \
	"{\"$MAIN\": [302, {\"Location\": \"$FILE\"}, \"\"], \"$FILE\": [200, {\"ETag\": \"\u001b]0;pwned\u0007\u001b[2J\"}, \"x\"]}"
hostile "an ETag with escape sequences" 4 "no ETag holding a sha256 \('${ESC_RE}\\\\x1b\[2J'\)"

# an ETag that contradicts the listing's hash on the download: a refusal (exit 3),
# journaled, kept as the refusal's reason, shown by status
sign_build hello "$U2" pub1 "$(printf 'timestamp:1700001000\tfile:hello.hvt\tjob:hello\tuuid:%s\tsha256:%s\tnote:\033]0;pwned\007' "$U2" "$HB")"
SIG=$("${PY[@]}" -c 'import json, sys; print(json.dumps(open(sys.argv[1], "rb").read().decode("latin-1")))' \
	"$BW_DATA/sigs/hello/$U2/hello.hvt.minisig")
routes "$GOOD_LOC" "[{\"uuid\": \"$U2\", \"main_binary\": $MB}]" "$REC" \
	"{\"$MAIN\": [302, {\"Location\": \"$FILE\"}, \"\"], \"$FILE\": [200, {\"ETag\": \"\u001b]0;pwned\u0007\"}, \"x\"], \"/sigs/hello/$U2/hello.hvt.minisig\": [200, {}, $SIG]}"
hostile "a download whose ETag has escape sequences" 3 "ETag '${ESC_RE}' does not match"
like "$(sql "select detail from journal where event = 'refused' order by id desc limit 1")" \
	"ETag '${ESC_RE}'" "the journal's refusal row holds the ETag, escaped"
ok "no control character in the refusal's reason" clean "$(sql 'select reason from refused')"
run petrel status s
is "$rc" 0 "status succeeds"
like "$out" "ETag '${ESC_RE}'" "status shows the refusal's reason, escaped"
ok "no control character in status" clean "$out$err"
run petrel --json status s
is "$rc" 0 "status --json succeeds"
like "$(jq -r '.targets[0].refused.reason' <<<"$out")" "ETag '${ESC_RE}'" "status --json: the reason, escaped"
run petrel log -v
ok "no control character in log" clean "$out$err"
run petrel --json log
ok "log --json is valid JSON" valid_json "$out"

# a trusted comment with an escape in a field petrel does not know: verified (the
# signer's text), kept, shown in JSON only, escaped by the encoder
write_config
run petrel fetch hello
is "$rc" 0 "a trusted comment with an escape in an unknown field verifies"
run petrel status hello
ok "no control character in status" clean "$out$err"
run petrel check hello
ok "no control character in check" clean "$out$err"
run petrel --json status hello
ok "status --json is valid JSON" valid_json "$out"
is "$(jq -r '.targets[0].staged.trusted_comment | endswith("note:\u001b]0;pwned\u0007")' <<<"$out")" true \
	"status --json keeps the signed text exactly, JSON-escaped"
ok "status --json carries no raw control character" clean "$out"

# a row an older petrel journaled raw is shown escaped, in text
sql "insert into journal (time, target, event, detail, prev, hash) values (1, 'hello', 'x', 'raw $(printf '\033[2J\233')', '', '')"
run petrel log -v
ok "log shows an older raw row escaped" clean "$out"
like "$out" "raw \\\\x1b\[2J\\\\xc2\\\\x9b|raw \\\\x1b\[2J" "log: the row's escapes are visible as text"
sql "delete from journal where event = 'x'"

# the message printers escape whatever they are given (petrel_log_* too): an unknown
# target name from the command line with an escape in it
run petrel status "$(printf 'no\033[2Jpe')"
is "$rc" 2 "an unknown target: exit 2"
like "$err" "no target 'no\\\\x1b\[2Jpe'" "the name is shown escaped"
ok "no control character reaches stderr" clean "$err"
