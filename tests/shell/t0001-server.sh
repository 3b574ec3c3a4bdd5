#!/usr/bin/env bash
# The builder-web look-alike itself answers as builder-web does, hostile modes included.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || skip_all "curl not installed"
plan 130

start_server
C=(curl -s --max-time 10)

# header NAME FILE — value of a response header in a curl -D dump (last response).
# status FILE — status code of the last response in a curl -D dump.
# (Read by the shell: the script calls them a hundred times, a process each cost more
# than the request.)
header() {
	local want=${1,,} line name v=
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		case $line in HTTP/*) v= ;; esac
		case $line in *:*)
			name=${line%%:*}
			if [ "${name,,}" = "$want" ]; then v=${line#*:}; v=${v#"${v%%[! ]*}"}; fi ;;
		esac
	done <"$2"
	printf '%s\n' "$v"
}
status() {
	local line s=
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		case $line in HTTP/*) line=${line#* }; s=${line%% *} ;; esac
	done <"$1"
	printf '%s\n' "$s"
}
# pyj EXPR — evaluate a Python expression over j = json read from stdin.
pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# get URL [curl args…] — body in $T/body, headers in $T/hdr, curl's exit code in $crc.
get() { local u=$1; shift; rm -f "$T/body" "$T/hdr"; "${C[@]}" -D "$T/hdr" -o "$T/body" "$@" "$BW_URL$u" && crc=0 || crc=$?; }

make_file "$T/a.hvt" 300000 a
make_file "$T/b.hvt" 200000 b
make_file "$T/c.hvt" 1000 c
HA=$(sha256_of "$T/a.hvt")
HB=$(sha256_of "$T/b.hvt")

U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
U3=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700002000)  # identical rebuild
UF=$(add_build hello /dev/null --failed --finish-time 1700009000)                # no main binary
UP=$(add_build hello "$T/c.hvt" --filename hello.deb --platform debian-12 --finish-time 1700000500)
like "$U1" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "add prints a uuid4"
is "$(build_field hello "$U2" sha256)" "$HB" "build.json records the sha256"
is "$(build_field hello "$U2" size)" 200000 "build.json records the size"
is "$(build_field hello "$U2" start_epoch)" 1700000940 "start time is finish time - 60"

# ---- latest
get /job/hello/build/latest
is "$(status "$T/hdr")" 307 "latest: 307"
is "$(header Location "$T/hdr")" "/job/hello/build/$U3" "latest: relative Location of the newest build with a main binary"
get "/job/hello/build/latest?platform=debian-12"
is "$(header Location "$T/hdr")" "/job/hello/build/$UP" "latest?platform= filters"
get "/job/hello/build/latest?platform=freebsd-14"
is "$(status "$T/hdr")" 404 "latest for a platform without builds: 404"
get /job/nosuch/build/latest
is "$(status "$T/hdr")" 404 "latest of an unknown job: 404"
get /job/hello/build/latest/main-binary
is "$(status "$T/hdr")/$(header Location "$T/hdr")" "307//job/hello/build/$U3/main-binary" \
	"latest/REST: 307 to the build's REST"

# ---- build record
get "/job/hello/build/$U2" -H 'Accept: application/json'
is "$(status "$T/hdr")" 200 "build JSON: 200"
is "$(header Content-Type "$T/hdr")" application/json "build JSON: content type"
is "$(pyj '[j["job"], j["uuid"], j["platform"], j["main_binary"]]' <"$T/body")" \
	"['hello', '$U2', 'ubuntu-22.04', True]" "build JSON: job, uuid, platform, main_binary"
is "$(pyj 'j["start_time"] + " " + j["finish_time"]' <"$T/body")" \
	"2023-11-14T22:29:00-00:00 2023-11-14T22:30:00-00:00" "build JSON: RFC 3339 times"
is "$(pyj '"sha256" in j or "size" in j' <"$T/body")" False "build JSON: no hash"
get "/job/hello/build/$UF" -H 'Accept: application/json'
is "$(pyj 'j["main_binary"]' <"$T/body")" False "failed build: main_binary false"
get "/job/hello/build/$U2"
like "$(header Content-Type "$T/hdr")" '^text/html' "build without Accept json: HTML"
get "/job/hello/build/00000000-0000-4000-8000-000000000000" -H 'Accept: application/json'
is "$(status "$T/hdr")" 404 "unknown uuid: 404"

# ---- job JSON
get /job/hello -H 'Accept: application/json'
is "$(status "$T/hdr")" 200 "job JSON: 200"
is "$(pyj 'len(j["builds"])' <"$T/body")" 3 "job JSON: one entry per distinct hash"
is "$(pyj '{b["uuid"]: b["main_binary"]["sha256"] for b in j["builds"]}.get("'"$U3"'")' <"$T/body")" \
	"$HB" "job JSON: the newest uuid holds a shared hash"
is "$(pyj '[b for b in j["builds"] if b["uuid"] == "'"$U1"'"][0]["main_binary"]' <"$T/body")" \
	"{'filename': 'hello.hvt', 'sha256': '$HA', 'size': 300000}" "job JSON: filename, sha256, size"
is "$(pyj 'any(b["uuid"] == "'"$U2"'" for b in j["builds"])' <"$T/body")" False \
	"job JSON: the older identical rebuild is not listed"
orders=$(for i in $(seq 12); do
	"${C[@]}" -H 'Accept: application/json' "$BW_URL/job/hello" | jq -r '[.builds[].uuid] | join(" ")'
done | sort -u | wc -l)
ok "job JSON: order shuffled ($orders orders in 12 requests)" test "$orders" -ge 2
get "/job/hello?platform=debian-12" -H 'Accept: application/json'
is "$(pyj '[b["uuid"] for b in j["builds"]]' <"$T/body")" "['$UP']" "job JSON: ?platform= filters"
get /job/nosuch -H 'Accept: application/json'
is "$(status "$T/hdr")" 404 "unknown job: 404"

# ---- main binary and artifact
get "/job/hello/build/$U1/main-binary"
is "$(status "$T/hdr")/$(header Location "$T/hdr")" "302//job/hello/build/$U1/f/bin/hello.hvt" \
	"main-binary: 302 to f/bin/NAME"
get "/job/hello/build/$UF/main-binary"
is "$(status "$T/hdr")" 404 "main-binary of a failed build: 404"
get "/job/hello/build/$U1/f/bin/hello.hvt"
is "$(status "$T/hdr")" 200 "artifact: 200"
is "$(header Content-Type "$T/hdr")" application/octet-stream "artifact: octet-stream"
is "$(header Content-Length "$T/hdr")" 300000 "artifact: Content-Length"
ETAG_A=$(printf '%s' "$HA" | xxd -r -p | base64)
is "$(header ETag "$T/hdr")" "$ETAG_A" "artifact: ETag is the UNQUOTED base64 of the raw sha256"
ok "artifact: the bytes" cmp -s "$T/body" "$T/a.hvt"
is "$(header Transfer-Encoding "$T/hdr"):$(header Connection "$T/hdr")" "chunked:close" \
	"artifact: transfer-encoding: chunked beside content-length, connection: close"
"${C[@]}" --raw -o "$T/raw" "$BW_URL/job/hello/build/$U1/f/bin/hello.hvt"
is "$(head -c 7 "$T/raw" | od -An -c | tr -s ' ')" " 1 0 0 0 0 \\r \\n" \
	"artifact: the body really is chunk-encoded"
is "$(tail -c 5 "$T/raw" | od -An -c | tr -s ' ')" " 0 \\r \\n \\r \\n" "artifact: ... with a final chunk"
get "/job/hello/build/$U1/f/bin/hello.hvt" -H "If-None-Match: $ETAG_A"
is "$(status "$T/hdr")" 304 "If-None-Match byte-equal to the unquoted ETag: 304"
is "$(stat -c %s "$T/body" 2>/dev/null || echo 0)" 0 "304 has no body"
is "$(header ETag "$T/hdr")" "" "304 has no ETag"
get "/job/hello/build/$U1/f/bin/hello.hvt" -H "If-None-Match: \"$ETAG_A\""
is "$(status "$T/hdr")" 200 "If-None-Match quoted: 200 (builder-web compares the raw string)"
get "/job/hello/build/$U1/f/bin/hello.hvt" -H "If-None-Match: W/$ETAG_A"
is "$(status "$T/hdr")" 200 "If-None-Match weak form: 200"
get "/job/hello/build/$U1/f/bin/hello.hvt" -H "If-None-Match: AAAA, $ETAG_A"
is "$(status "$T/hdr")" 200 "If-None-Match list: 200"
get "/job/hello/build/$U1/f/bin/hello.hvt" -H 'If-None-Match: "AAAA"'
is "$(status "$T/hdr")" 200 "If-None-Match different: 200"
get "/job/hello/build/latest/main-binary" -L
ok "latest/main-binary followed: the newest bytes" cmp -s "$T/body" "$T/b.hvt"
get "/job/hello/build/$U1/f/bin/other.hvt"
is "$(status "$T/hdr")" 404 "unknown artifact: 404"
get "/job/hello/build/$U1/f/../build.json" --path-as-is
is "$(status "$T/hdr")" 404 "no path traversal"

# ---- /hash
get "/hash?sha256=$HB"
is "$(status "$T/hdr")/$(header Location "$T/hdr")" "302//job/hello/build/$U3" \
	"/hash: 302 to the newest build holding the hash"
get "/hash?sha256=$(printf x | sha256sum | cut -c1-64)"
is "$(status "$T/hdr")" 404 "/hash of an unknown hash: 404"

# ---- /sigs and unknown paths
mkdir -p "$BW_DATA/sigs/hello/$U1"
echo sig >"$BW_DATA/sigs/hello/$U1/hello.hvt.minisig"
get "/sigs/hello/$U1/hello.hvt.minisig"
is "$(status "$T/hdr"):$(cat "$T/body")" 200:sig "/sigs/ serves DATA/sigs"
get "/sigs/hello/$U2/hello.hvt.minisig"
is "$(status "$T/hdr")" 404 "/sigs/ absent file: 404"
get /no/such/thing
is "$(status "$T/hdr")" 404 "unknown path: 404"
like "$(header Content-Type "$T/hdr")" '^text/html' "unknown path: HTML"

# ---- request log
like "$(requests)" "$(printf 'GET\t/job/hello\tapplication/json')" "requests.log: method, path, Accept"
n1=$(request_count '/f/bin/')
"${C[@]}" -o /dev/null "$BW_URL/job/hello/build/$U3/f/bin/hello.hvt"
is "$(request_count '/f/bin/')" "$((n1 + 1))" "request_count counts downloads"

# ---- real minisign on a served build
make_key k1
sign_build hello "$U1" k1
ok "sign_build: the signature verifies with minisign" \
	"$MINISIGN" -Vq -p "$T/k1.pub" -m "$T/a.hvt" -x "$BW_DATA/sigs/hello/$U1/hello.hvt.minisig"
like "$(sed -n 3p "$BW_DATA/sigs/hello/$U1/hello.hvt.minisig")" \
	"^trusted comment: timestamp:1700000000	file:hello.hvt	job:hello	uuid:$U1	sha256:$HA\$" \
	"sign_build: tab-separated trusted comment"

# ---- hostile modes
A="/job/hello/build/$U1/f/bin/hello.hvt"

set_mode flip
get "$A"
is "$(header Content-Length "$T/hdr"):$(stat -c %s "$T/body")" 300000:300000 "flip: length unchanged"
is "$(header ETag "$T/hdr")" "$ETAG_A" "flip: ETag unchanged"
is "$(cmp -l "$T/body" "$T/a.hvt" | wc -l)" 1 "flip: exactly one byte differs"

set_mode truncate
get "$A"
is "$crc:$(header Content-Length "$T/hdr"):$(stat -c %s "$T/body")" 18:300000:150000 \
	"truncate: full Content-Length, half the body, then close"

# curl reads the never-ending bodies at 1 MB/s (more than the file in 2 s): at full
# speed the server and curl would burn a core each for the 2 s, to show the same thing
set_mode endless
get "$A" --max-time 2 --limit-rate 1M
is "$(header Content-Length "$T/hdr")" "" "endless: no Content-Length"
ok "endless: more than the file and still going (curl exit $crc)" \
	test "$crc" = 28 -a "$(stat -c %s "$T/body")" -gt 300000

set_mode endless-chunked
get "$A" --max-time 2 --limit-rate 1M
is "$(header Transfer-Encoding "$T/hdr")" chunked "endless-chunked: chunked"
ok "endless-chunked: never ends (curl exit $crc)" test "$crc" = 28 -a "$(stat -c %s "$T/body")" -gt 300000

set_mode trickle
get "$A" --max-time 5
ok "trickle: 1 byte every 2 s ($(stat -c %s "$T/body") bytes in 5 s, curl exit $crc)" \
	test "$crc" = 28 -a "$(stat -c %s "$T/body")" -ge 2 -a "$(stat -c %s "$T/body")" -le 3

set_mode 500
get /job/hello/build/latest
is "$(status "$T/hdr"):$(header Content-Type "$T/hdr"):$(cat "$T/body")" \
	"500:text/plain; charset=utf-8:Internal Server Error" "500: latest"
get "$A"
is "$(status "$T/hdr")" 500 "500: artifact"
get /job/hello -H 'Accept: application/json'
is "$(status "$T/hdr")" 500 "500: job JSON"

set_mode redirect-loop
get "/job/hello/build/$U1/main-binary"
is "$(header Location "$T/hdr")" "/job/hello/build/$U1/main-binary" "redirect-loop: main-binary redirects to itself"
get "$A"
is "$(status "$T/hdr"):$(header Location "$T/hdr")" "302:$A?loop=1" "redirect-loop: /f/ redirects"
get "$A" -L --max-redirs 20
is "$crc" 47 "redirect-loop: forever (curl gives up after 20)"

set_mode truncated-json
get /job/hello -H 'Accept: application/json'
is "$(header Content-Length "$T/hdr")" "$(stat -c %s "$T/body")" "truncated-json: well framed"
nok "truncated-json: job JSON does not parse" pyj 1 <"$T/body" 2>/dev/null
get "/job/hello/build/$U1" -H 'Accept: application/json'
nok "truncated-json: build JSON does not parse" pyj 1 <"$T/body" 2>/dev/null
get "$A"
ok "truncated-json: artifacts untouched" cmp -s "$T/body" "$T/a.hvt"

set_mode endless-json
get /job/hello -H 'Accept: application/json' --max-time 2 --limit-rate 1M
ok "endless-json: never ends (curl exit $crc)" test "$crc" = 28 -a "$(stat -c %s "$T/body")" -gt 100000

set_mode wrong-etag
get "$A"
ok "wrong-etag: another ETag, same bytes" test "$(header ETag "$T/hdr")" != "$ETAG_A" -a \
	"$(header ETag "$T/hdr")" != "" -a "$(sha256_of "$T/body")" = "$HA"

set_mode length-mismatch
get "$A"
is "$crc:$(header Content-Length "$T/hdr"):$(stat -c %s "$T/body")" 0:300001:300001 \
	"length-mismatch: Content-Length size+1 and a body to match"

set_mode no-location
get /job/hello/build/latest
is "$(status "$T/hdr"):$(header Location "$T/hdr")" "307:" "no-location: 307 without Location"

set_mode "flip $U1"
get "$A"
isnt "$(sha256_of "$T/body")" "$HA" "a mode with a substring applies to matching paths"
get "/job/hello/build/$U3/f/bin/hello.hvt"
is "$(sha256_of "$T/body")" "$HB" "... and not to others"

set_mode hang
get /job/hello/build/latest --max-time 1
is "$crc" 28 "hang: no answer"

clear_mode
get "$A"
ok "clear_mode: normal again" cmp -s "$T/body" "$T/a.hvt"

# ---- rescanned on every request; stop_server; a second server
U4=$(add_build hello "$T/c.hvt" --filename hello.hvt)
get /job/hello/build/latest
is "$(header Location "$T/hdr")" "/job/hello/build/$U4" "builds added while running are seen"
start_server rb1
ok "second server: its own port" test "$RB1_PORT" != "$BW_PORT" -a -n "$RB1_URL"
BW_DATA=$RB1_DATA add_build hello "$T/c.hvt" --uuid "$U4" >/dev/null
is "$("${C[@]}" -o /dev/null -w '%{http_code}' "$RB1_URL/hash?sha256=$(sha256_of "$T/c.hvt")")" 302 \
	"second server: BW_DATA=… add_build targets it"
stop_server rb1
"${C[@]}" -o /dev/null "$RB1_URL/" && r=0 || r=$?
is "$r" 7 "stop_server: connection refused afterwards"

# ---- the listing: per hash, the newest build ANYWHERE holding the bytes
make_file "$T/d.hvt" 5000 d
make_file "$T/e.hvt" 6000 e
make_file "$T/g.txt" 700 g
HD=$(sha256_of "$T/d.hvt")
HE=$(sha256_of "$T/e.hvt")
HG=$(sha256_of "$T/g.txt")
UD1=$(add_build dup "$T/d.hvt" --filename dup.hvt --finish-time 1700100000)
UD2=$(add_build dup-arm "$T/d.hvt" --filename arm.hvt --platform debian-12 --finish-time 1700200000)
get /job/dup -H 'Accept: application/json'
is "$(pyj '[(b["uuid"], b["main_binary"]["filename"], b["main_binary"]["size"]) for b in j["builds"]]' <"$T/body")" \
	"[('$UD2', 'arm.hvt', 5000)]" "listing: a later identical build of another job takes the entry, with its filename"
get "/job/dup?platform=ubuntu-22.04" -H 'Accept: application/json'
is "$(pyj '[b["uuid"] for b in j["builds"]]' <"$T/body")" "['$UD2']" \
	"listing: ?platform= picks the hashes, not the build shown for them"
get "/job/dup?platform=debian-12" -H 'Accept: application/json'
is "$(cat "$T/body")" '{"builds":[]}' "listing: no build of the job on that platform: empty"
UX1=$(add_build xp "$T/e.hvt" --filename xp.hvt --finish-time 1700100000)
UX2=$(add_build xp "$T/e.hvt" --filename xp.deb --platform debian-12 --finish-time 1700200000)
get "/job/xp?platform=ubuntu-22.04" -H 'Accept: application/json'
is "$(pyj '[(b["uuid"], b["main_binary"]["filename"]) for b in j["builds"]]' <"$T/body")" \
	"[('$UX2', 'xp.deb')]" "listing: a later identical build on another platform takes the entry"
UN=$(add_build broken /dev/null --failed --artifact "$T/e.hvt=e.img" --finish-time 1700300000)
get /job/xp -H 'Accept: application/json'
is "$(pyj '[(b["uuid"], b["main_binary"]["filename"], b["main_binary"]["sha256"]) for b in j["builds"]]' <"$T/body")" \
	"[('$UN', 'e.img', '$HE')]" "listing: even a failed build holding the bytes as another artifact"
get "/job/broken" -H 'Accept: application/json'
is "$(cat "$T/body")" '{"builds":[]}' "listing: a job with only failed builds: empty"
get "/job/broken/failed" -H 'Accept: application/json'
is "$(cat "$T/body")" "{\"builds\":[{\"uuid\":\"$UN\",\"main_binary\":null}]}" "/job/J/failed: failed builds, main_binary null"
get "/job/broken/build/$UN/f/e.img"
is "$(status "$T/hdr"):$(sha256_of "$T/body")" "200:$HE" "another artifact is served under /f/PATH"
bw_py add-job --data "$BW_DATA" --job empty
get /job/empty -H 'Accept: application/json'
is "$(status "$T/hdr"):$(cat "$T/body")" '200:{"builds":[]}' "add-job: a job without builds lists {\"builds\":[]}"
get /job/empty/build/latest
is "$(status "$T/hdr")" 404 "add-job: latest of a job without builds: 404"

# ---- by uuid alone
get "/job/elsewhere/build/$U2" -H 'Accept: application/json'
is "$(status "$T/hdr"):$(pyj '[j["job"], j["uuid"]]' <"$T/body")" "200:['elsewhere', '$U2']" \
	"build record: found by uuid alone, job echoes the URL"
get "/job/elsewhere/build/$U1/main-binary"
is "$(status "$T/hdr")/$(header Location "$T/hdr")" "302//job/elsewhere/build/$U1/f/bin/hello.hvt" \
	"main-binary: by uuid alone, Location with the URL's job"
get "/job/elsewhere/build/$U1/f/bin/hello.hvt"
ok "/f/: by uuid alone" cmp -s "$T/body" "$T/a.hvt"

# ---- Solo5
bw_py add-job --data "$BW_DATA" --job solo --section Unikernels --synopsis "A Solo5 test"
US=$(add_build solo "$T/g.txt" --filename solo.hvt --solo5-abi hvt --solo5-device net:service \
	--solo5-device block:storage)
get "/job/solo/build/$US" -H 'Accept: application/json'
is "$(pyj 'json.dumps(j["solo5_manifest"], sort_keys=True)' <"$T/body")" \
	'{"devices": [{"name": "service", "type": "NET_BASIC"}, {"name": "storage", "type": "BLOCK_BASIC"}], "type": "solo5.manifest", "version": 1}' \
	"build record: solo5_manifest"
is "$(pyj 'json.dumps(j["solo5_abi"], sort_keys=True)' <"$T/body")" \
	'{"target": "hvt", "type": "solo5.abi", "version": 2}' "build record: solo5_abi"
get "/job/hello/build/$U2" -H 'Accept: application/json'
is "$(pyj '"solo5_manifest" in j or "solo5_abi" in j' <"$T/body")" False "build record: no solo5 keys otherwise"

# ---- HEAD and /hash
for u in / /job/hello "/job/hello/build/latest" "/job/hello/build/$U1" "$A"; do
	"${C[@]}" -I -o /dev/null -w '%{http_code}\n' "$BW_URL$u"
done >"$T/heads"
is "$(sort -u "$T/heads")" 404 "HEAD on any route: 404"
get "/hash?sha256=${HB}0"
is "$(status "$T/hdr")" 404 "/hash: odd length: 404"
get "/hash?sha256=${HB:0:62}zz"
is "$(status "$T/hdr")" 404 "/hash: not hex: 404"
get "/hash"
is "$(status "$T/hdr")" 404 "/hash: no sha256: 404"
get "/hash?sha256=abcd"
is "$(status "$T/hdr")" 404 "/hash: short even-length hex matches the route, finds nothing: 404"
get "/hash?sha256=$(printf '%s' "$HB" | tr a-f A-F)"
is "$(status "$T/hdr")/$(header Location "$T/hdr")" "302//job/hello/build/$U3" "/hash: upper-case hex"
get "/hash?sha256=$HE"
is "$(header Location "$T/hdr")" "/job/broken/build/$UN" "/hash: the newest holder may be a failed build"
UM=$(add_build withdoc "$T/d.hvt" --filename w.hvt --artifact "$T/g.txt=doc/g.txt" --finish-time 1600000000)
get "/hash?sha256=$HG"
is "$(header Location "$T/hdr")" "/job/solo/build/$US" "/hash: newest holder first (solo's main binary)"
rm -rf "${BW_DATA:?}/builds/solo/$US"
get "/hash?sha256=$HG"
is "$(header Location "$T/hdr")" "/job/withdoc/build/$UM" "/hash: a non-main artifact of a successful build"
US=$(add_build solo "$T/g.txt" --filename solo.hvt --solo5-abi spt --solo5-device net:service)

# ---- Accept
acc() { "${C[@]}" -o /dev/null -w '%{content_type}\n' "$@" "$BW_URL/job/hello"; }
is "$(acc -H 'Accept: text/html, application/json;q=0.1')" application/json "Accept: one element exact, q ignored"
is "$(acc -H 'Accept: application/json ; charset=utf-8')" application/json "Accept: cut at ; and trimmed"
is "$(acc -H 'Accept: Application/JSON')" "text/html; charset=utf-8" "Accept: case-sensitive"
is "$(acc -H 'Accept: application/json+x, */*')" "text/html; charset=utf-8" "Accept: no substring match, */* is not JSON"
is "$(acc -H 'Accept: text/html' -H 'Accept: application/json')" "text/html; charset=utf-8" \
	"Accept: only the first header counts"

# ---- / (the jobs JSON)
get / -H 'Accept: application/json'
is "$(pyj '[x["name"] for x in j["jobs"]]' <"$T/body")" "['solo', 'hello']" \
	"/: jobs with a build finished in the last 30 days, sections in descending order"
is "$(pyj 'list(j["jobs_by_section"])' <"$T/body")" "['Unikernels', 'Uncategorized']" "/: jobs_by_section"
is "$(pyj 'json.dumps(j["jobs_by_section"]["Unikernels"][0]["latest"]["solo5_abi"]) + " " + j["jobs"][0]["synopsis"] + " " + j["jobs"][0]["latest"]["uuid"]' <"$T/body")" \
	"{\"type\": \"solo5.abi\", \"target\": \"spt\", \"version\": 2} A Solo5 test $US" "/: latest with uuid and solo5, synopsis"
is "$(pyj '[sorted(x) for x in j["jobs"]]' <"$T/body")" "[['latest', 'name', 'synopsis'], ['name', 'synopsis']]" \
	"/: latest only for a Solo5 binary; synopsis null otherwise"
echo 100000 >"$BW_DATA/expired-jobs"
get / -H 'Accept: application/json'
is "$(pyj 'sorted(x["name"] for x in j["jobs"])' <"$T/body")" \
	"['dup', 'dup-arm', 'hello', 'solo', 'withdoc', 'xp']" "/: --expired-jobs; never a job without a main binary"
get /all-builds -H 'Accept: application/json'
is "$(pyj 'len(j["jobs"])' <"$T/body")" 6 "/all-builds: no expiry filter"
rm -f "$BW_DATA/expired-jobs"
get /
like "$(status "$T/hdr") $(header Content-Type "$T/hdr")" '^200 text/html' "/ without Accept JSON: HTML"

# ---- lib.sh self-checks
make_key pub1
write_config "threshold = 2" "-signatures" "health = /bin/true" --global "interval = 1"
conf=$(cat "$T/petrel.conf")
like "$conf" '^threshold = 2$' "write_config: overrides a default"
unlike "$conf" '^signatures' "write_config: -key deletes a default"
like "$conf" '^health = /bin/true$' "write_config: extra lines go to the target"
like "$(sed -n '1,/^\[server/p' "$T/petrel.conf")" '^interval = 1$' "write_config: --global"
snapshot_state
state_unchanged "state_unchanged with no state yet"
mkdir -p "$T/state/tmp"; touch "$T/state/tmp/x"
nok "state_unchanged notices a new file" _state_fingerprint_same
