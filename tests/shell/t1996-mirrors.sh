#!/usr/bin/env bash
# Mirrors ([server] mirrors = URL, ...; issue 14): an artifact's bytes come from the first
# mirror that answers well; any bad answer (an error, the wrong length, the wrong hash, a
# broken Range) is logged and the next mirror, finally the origin, starts over with
# nothing kept of it. Listings, records and signatures come only from the origin. A
# download a mirror breaks off is resumed with Range where it says Accept-Ranges.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 135

MIRROR_PY="$REPO_ROOT/tests/servers/mirror.py"
NGINX=${NGINX:-/usr/sbin/nginx}
tmp_empty() { [ -d "$T/state/tmp" ] && [ -z "$(ls -A "$T/state/tmp")" ]; }

# start_mirror NAME — tests/servers/mirror.py serving the look-alike's builds: sets
# NAME_URL and NAME_DIR (its mode file and requests.log).
start_mirror() {
	local name=$1 up dir pf i
	up=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
	dir="$T/$name" pf="$T/$name.port"
	mkdir -p "$dir"
	"${PY[@]}" "$MIRROR_PY" --builds "$BW_DATA/builds" --dir "$dir" --port-file "$pf" \
		>>"$T/$name.log" 2>&1 &
	_tap_server_pids+=("$!")
	for ((i = 0; i < 500; i++)); do [ -s "$pf" ] && break; nap 0.02; done
	[ -s "$pf" ] || BAIL_OUT "mirror.py ($name) did not start: $(cat "$T/$name.log")"
	printf -v "${up}_URL" '%s' "http://127.0.0.1:$(cat "$pf")"
	printf -v "${up}_DIR" '%s' "$dir"
}
mode_of() { local d=$1; shift; if [ $# = 0 ]; then rm -f "$d/mode"; else printf '%s\n' "$@" >"$d/mode"; fi; }
log_of() { cat "$1/requests.log" 2>/dev/null; }
count_in() { local n; n=$(grep -cE -- "$2" "$1/requests.log" 2>/dev/null) || true; echo "${n:-0}"; }
clear_logs() { : >"$M1_DIR/requests.log"; : >"$M2_DIR/requests.log"; clear_requests; }

start_server
start_mirror m1
start_mirror m2
make_key pub1
now=$(date +%s)
n=0
SIZE=$((3 * 1024 * 1024 + 4321))

# publish — a new signed build of hello (SIZE bytes): U, H, F (its /f/ path).
publish() {
	n=$((n + 1))
	make_file "$T/b$n.hvt" "$SIZE" "b$n"
	H=$(sha256_of "$T/b$n.hvt")
	U=$(add_build hello "$T/b$n.hvt" --finish-time $((now - 5000 + n)))
	sign_build hello "$U" pub1
	F="/job/hello/build/$U/f/bin/b$n.hvt"
}

# fetched_ok DESC — the fetch stored U's bytes, left tmp/ empty, recorded one version.
fetched_ok() {
	is "$rc" 0 "$1: fetch exits 0"
	is "$(sha256_of "$(blob_path "$H")" 2>/dev/null)" "$H" "$1: the blob holds the build's bytes"
	ok "$1: tmp/ is empty" tmp_empty
}
# bytes_from_origin DESC — the origin was asked for the bytes exactly once.
bytes_from_origin() {
	is "$(request_count "GET	/job/hello/build/$U/main-binary")" 1 "$1: the origin sent the bytes"
}
stored_url() { sqlite3 "$T/state/petrel.db" "select url from versions where uuid = '$U'"; }

# ---- configuration: mirrors are checked like url
write_config --server "mirrors = ftp://m.example"
run petrel fetch
is "$rc" 2 "a mirror that is not http(s): exit 2"
like "$err" "server bw: a mirror must start with http:// or https://" "the message names the server and the cause"
write_config --server "mirrors = http://m.example/x?y=1"
run petrel fetch
is "$rc" 2 "a mirror with a query: exit 2"
like "$err" "server bw: a mirror 'http://m.example/x\?y=1' has a query or fragment" "the message names the mirror"
write_config --server "mirrors = http://a,http://b,http://c,http://d,http://e,http://f,http://g,http://h,http://i"
run petrel fetch
is "$rc" 2 "nine mirrors: exit 2"
like "$err" "mirrors: at most 8 URLs" "the message names the limit"
ok "no state was made for a bad configuration" test ! -e "$T/state/petrel.db"

# ---- a good mirror: the bytes from it, everything else from the origin
write_config --server "mirrors = $M1_URL/"
publish
clear_logs
run petrel fetch
fetched_ok "good mirror"
is "$(count_in "$M1_DIR" "^GET	$F	-$")" 1 "good mirror: it was asked for the file at the origin's path"
is "$(log_of "$M1_DIR" | wc -l)" 1 "good mirror: and for nothing else"
is "$(request_count "main-binary|/f/")" 0 "good mirror: the origin was not asked for the bytes"
ok "good mirror: the signature came from the origin" test "$(request_count "GET	/sigs/hello/$U/")" -ge 1
ok "good mirror: the build's record came from the origin" test "$(request_count "/job/hello")" -ge 1
is "$(stored_url)" "$M1_URL$F" "good mirror: the version records where its bytes came from"
unlike "$err" "mirror refused" "good mirror: no warning"

# ---- each bad answer: logged, the origin sends the bytes, nothing of the mirror's kept
# bad_mirror DESC CAUSE_ERE MODE... — m1 alone, in MODE, for a new build (@F in
# CAUSE_ERE: its /f/ path, @H: its sha256).
bad_mirror() {
	local desc=$1 cause=$2; shift 2
	write_config --server "mirrors = $M1_URL"
	publish
	cause=${cause//@F/$F} cause=${cause//@H/$H}
	mode_of "$M1_DIR" "$@"
	clear_logs
	run petrel fetch
	fetched_ok "$desc"
	like "$err" "warning: hello: mirror refused: .*$cause.*; trying the origin, $BW_URL" \
		"$desc: one warning naming the target, the cause and where it goes next"
	bytes_from_origin "$desc"
	ok "$desc: the mirror was asked first" test "$(count_in "$M1_DIR" "$F")" -ge 1
	mode_of "$M1_DIR"
}
bad_mirror "mirror answers 503" "$M1_URL@F: HTTP status 503" 503
bad_mirror "mirror answers 404" "$M1_URL@F: 404 Not Found" 404
bad_mirror "mirror's Content-Length one short" "$M1_URL@F: Content-Length $((SIZE - 1)) differs from expected size $SIZE" short-length
bad_mirror "mirror sends more than the file" "$M1_URL@F: answer exceeds $SIZE bytes" extra
bad_mirror "mirror sends other bytes" "sha256 mismatch for $M1_URL@F: expected @H" wrong-bytes
bad_mirror "mirror's ETag names another sha256" "$M1_URL@F: ETag '.*' does not match the expected sha256" etag-other
is "$(stored_url)" "$BW_URL$F" "after a bad mirror the version records the origin's file"

# A mirror that nothing answers.
write_config --server "mirrors = http://127.0.0.1:9"
publish
clear_logs
run petrel fetch
fetched_ok "mirror refuses connections"
like "$err" "mirror refused: http://127.0.0.1:9$F: .*; trying the origin" "mirror refuses connections: the warning names it"
bytes_from_origin "mirror refuses connections"

# The other bytes came first and were fully written: the origin's download starts over
# in an emptied file, with fresh digests (the prehashed signature verifies).
ok "a mirror's wrong bytes left no file behind" tmp_empty

# ---- two mirrors: a bad one, then a good one; the origin not asked for bytes
write_config --server "mirrors = $M1_URL, $M2_URL"
publish
mode_of "$M1_DIR" 503
clear_logs
run petrel fetch
fetched_ok "bad then good mirror"
like "$err" "mirror refused: .*HTTP status 503; trying the next mirror, $M2_URL" "bad then good: the warning says the next mirror"
is "$(request_count "main-binary|/f/")" 0 "bad then good: the origin was not asked for the bytes"
is "$(count_in "$M2_DIR" "^GET	$F	-$")" 1 "bad then good: the second mirror sent them"
is "$(stored_url)" "$M2_URL$F" "bad then good: the version records the second mirror"
mode_of "$M1_DIR"

# A mirror that redirects to another: followed (a mirror may hand over to a CDN).
publish
mode_of "$M1_DIR" "redirect $M2_URL"
clear_logs
run petrel fetch
fetched_ok "a redirecting mirror"
is "$(count_in "$M2_DIR" "^GET	$F	")" 1 "a redirecting mirror: its target sent the bytes"
is "$(request_count "main-binary|/f/")" 0 "a redirecting mirror: the origin was not asked for the bytes"
unlike "$err" "mirror refused" "a redirecting mirror: no warning"
mode_of "$M1_DIR"

# ---- every mirror and the origin bad: the origin's failure, nothing stored
publish
mode_of "$M1_DIR" wrong-bytes
mode_of "$M2_DIR" 503
set_mode flip
snapshot_state
clear_logs
run petrel fetch
is "$rc" 3 "all bad: exit 3 (the origin's wrong bytes are a refusal)"
like "$err" "mirror refused: sha256 mismatch for $M1_URL$F.*; trying the next mirror" "all bad: the first mirror's cause is logged"
like "$err" "mirror refused: $M2_URL$F: HTTP status 503; trying the origin" "all bad: the second mirror's cause is logged"
like "$err" "petrel: hello: sha256 mismatch for $BW_URL$F" "all bad: the error is the origin's, naming its URL"
state_unchanged "all bad: no blob, no row, tmp/ empty"
clear_mode
mode_of "$M1_DIR"
mode_of "$M2_DIR"
run petrel fetch
fetched_ok "all good again"

# A failure of our own (the disk) is not the mirror's: no fallback, nothing kept.
publish
snapshot_state
clear_logs
run env PETREL_FAULT=write:3 "$PETREL" -c "$T/petrel.conf" fetch
is "$rc" 1 "a write failure during a mirror's download: exit 1"
like "$err" "^petrel: hello: writing $T/state/tmp/dl-.*Input/output error" "write failure: one line naming the file and the cause"
unlike "$err" "mirror refused" "write failure: no mirror is blamed"
is "$(request_count "main-binary|/f/")" 0 "write failure: the origin was not asked for the bytes"
is "$(count_in "$M2_DIR" "$F")" 0 "write failure: the next mirror was not asked either"
state_unchanged "write failure: no blob, no row, tmp/ empty"
run petrel fetch
fetched_ok "after the write failure"

# ---- resuming: a mirror that breaks off after 1 MiB and says Accept-Ranges: bytes
write_config --server "mirrors = $M1_URL"
publish
CUT=$((1024 * 1024))
mode_of "$M1_DIR" "cut $CUT"
clear_logs
run petrel fetch
fetched_ok "resumed download"
is "$(count_in "$M1_DIR" "^GET	$F	bytes=$CUT-$")" 1 "resumed: the rest was asked for with Range: bytes=$CUT-"
like "$err" "warning: $M1_URL$F: .*; resuming at byte $CUT of $SIZE" "resumed: the break and the resume are logged"
is "$(request_count "main-binary|/f/")" 0 "resumed: the origin was not asked for the bytes"
unlike "$err" "mirror refused" "resumed: the mirror was not given up"

# A mirror that breaks off every answer: resumed while it brings bytes, at most 5 times,
# then the origin.
publish
mode_of "$M1_DIR" "cut-always 262144"
clear_logs
run petrel fetch
fetched_ok "a mirror that always breaks off"
is "$(count_in "$M1_DIR" "	bytes=")" 5 "always breaks off: 5 resumes, no more"
like "$err" "mirror refused: .*; trying the origin" "always breaks off: then given up, logged"
bytes_from_origin "always breaks off"

# Breaking off without Accept-Ranges: no Range request, the origin starts over.
publish
mode_of "$M1_DIR" "cut $CUT" no-ranges
clear_logs
run petrel fetch
fetched_ok "breaks off without ranges"
is "$(count_in "$M1_DIR" "	bytes=")" 0 "without ranges: no Range request"
bytes_from_origin "without ranges"

# Range said, then ignored (a 200 with the whole file): refused before a byte of it.
publish
mode_of "$M1_DIR" "cut $CUT" ignore-range
clear_logs
run petrel fetch
fetched_ok "Range ignored"
like "$err" "mirror refused: $M1_URL$F: asked to resume at byte $CUT, the server sent the whole file again \(HTTP 200\); trying the origin" \
	"Range ignored: the cause is named"
bytes_from_origin "Range ignored"

# A 206 for another range than asked.
publish
mode_of "$M1_DIR" "cut $CUT" bad-range
clear_logs
run petrel fetch
fetched_ok "a wrong Content-Range"
like "$err" "mirror refused: $M1_URL$F: asked for bytes $CUT-$((SIZE - 1))/$SIZE, the server sent Content-Range 'bytes $CUT-$((SIZE - 2))/$SIZE'" \
	"a wrong Content-Range: the cause is named"
bytes_from_origin "a wrong Content-Range"
mode_of "$M1_DIR"

# ---- upgrade takes the bytes from the mirror too, and deploys them
publish
clear_logs
run petrel upgrade hello
is "$rc" 0 "upgrade with a mirror: exit 0"
is "$(sha256_of "$T/deploy/hello.hvt")" "$H" "upgrade with a mirror: the build is deployed"
is "$(request_count "main-binary|/f/")" 0 "upgrade with a mirror: the origin was not asked for the bytes"
is "$(count_in "$M1_DIR" "^GET	$F	-$")" 1 "upgrade with a mirror: the mirror sent them"

# A build already in the store is not asked of anyone.
clear_logs
run petrel fetch
is "$rc" 0 "up to date: exit 0"
is "$(log_of "$M1_DIR" | wc -l)" 0 "up to date: the mirror is not asked"

# ---- a real static mirror: nginx serving a copy of the files (its own ETag, ranges)
if [ -x "$NGINX" ]; then
	NGPORT=$((20000 + ($$ + 7) % 20000))
	mkdir -p "$T/ngx/tmp"
	NGUSER=; [ "$(id -u)" != 0 ] || NGUSER="user root root;"
	cat >"$T/ngx/nginx.conf" <<EOF
daemon off;
$NGUSER
error_log $T/ngx/error.log;
pid $T/ngx/nginx.pid;
events { worker_connections 64; }
http {
    access_log $T/ngx/access.log;
    client_body_temp_path $T/ngx/tmp; proxy_temp_path $T/ngx/tmp;
    fastcgi_temp_path $T/ngx/tmp; uwsgi_temp_path $T/ngx/tmp; scgi_temp_path $T/ngx/tmp;
    server {
        listen 127.0.0.1:$NGPORT;
        location ~ "^/copy/job/([^/]+)/build/([^/]+)/f/(.+)$" {
            alias $BW_DATA/builds/\$1/\$2/\$3;
        }
    }
}
EOF
	"$NGINX" -c "$T/ngx/nginx.conf" 2>>"$T/ngx/error.log" &
	NGPID=$!
	at_exit "kill $NGPID 2>/dev/null"
	if wait_for -t 20 curl -s -o /dev/null "http://127.0.0.1:$NGPORT/"; then
		write_config --server "mirrors = http://127.0.0.1:$NGPORT/copy"
		publish
		clear_logs
		run petrel fetch
		fetched_ok "nginx as a static mirror"
		is "$(grep -c "GET /copy$F " "$T/ngx/access.log")" 1 "nginx mirror: it sent the file"
		is "$(request_count "main-binary|/f/")" 0 "nginx mirror: the origin was not asked for the bytes"
		unlike "$err" "mirror refused" "nginx mirror: its own ETag is no reason to refuse it"
		# a copy that went bad on the mirror: caught by the hash, the origin sends it
		publish
		cp "$BW_DATA/builds/hello/$U/bin/b$n.hvt" "$T/good.copy"
		mkdir -p "$T/ngx/bad"
		sed -i "s#alias $BW_DATA/builds/#alias $T/ngx/bad/#" "$T/ngx/nginx.conf"
		mkdir -p "$T/ngx/bad/hello/$U/bin"
		cp "$T/good.copy" "$T/ngx/bad/hello/$U/bin/b$n.hvt"
		printf 'X' | dd of="$T/ngx/bad/hello/$U/bin/b$n.hvt" bs=1 seek=1000 conv=notrunc 2>/dev/null
		kill -HUP "$NGPID"
		nap 0.5
		clear_logs
		run petrel fetch
		fetched_ok "nginx with a corrupted copy"
		like "$err" "mirror refused: sha256 mismatch for http://127.0.0.1:$NGPORT/copy$F" "corrupted copy: the hash names it"
		bytes_from_origin "corrupted copy"
	else
		skip "nginx did not start: $(cat "$T/ngx/error.log")" 11
	fi
else
	skip "no nginx at $NGINX" 11
fi
