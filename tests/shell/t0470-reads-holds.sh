#!/usr/bin/env bash
# Reads and holds: status, history, log, list, upgrade --dry-run and audit --no-rehash
# never wait for the lock, work for any user who can read the state directory, and
# create or migrate nothing; a build that failed verification is refused (retried after
# a backoff), not rejected; pins hold a target; list shows what this host knows of the
# server's builds; upgrade --dry-run changes nothing; upgrade --all exits with the worst
# status; status --short and the daemon line of status.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
command -v flock >/dev/null || skip_all "flock not installed"
plan 138

# pyj EXPR — evaluate a Python expression over j = json read from stdin.
pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
file_sha() { if [ -f "$1" ]; then sha256_of "$1"; else echo missing; fi; }
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }
# ms_since START — milliseconds since START (an $EPOCHREALTIME without the dot).
ms_since() { local now=${EPOCHREALTIME/./}; echo $(((now - $1) / 1000)); }
counts() { sql "select (select count(*) from versions) || ' ' || (select count(*) from generations) || ' ' || (select count(*) from journal)"; }

# healthy unless the deployed file's hash is listed in health.bad
cat >"$T/health" <<'EOF'
#!/bin/sh
s=$(sha256sum "$PETREL_PATH" | cut -d' ' -f1)
grep -qx "$s" "$T/health.bad" 2>/dev/null && exit 1
exit 0
EOF
chmod 755 "$T/health"
: >"$T/health.bad"

start_server
make_key pub1

P="$T/deploy/hello.hvt"
P2="$T/deploy/two.hvt"
SIGS="$BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
# conf [--global LINE]… [LINE…] — target hello (with the health check) and the lines;
# LOCK_TIMEOUT (default 2 s) for lock_timeout.
conf() {
	write_config --global "lock_timeout = ${LOCK_TIMEOUT:-2}" "health = $T/health" \
		"health_retries = 1" "$@"
}
TWO=("[target \"two\"]" "server = bw" "job = hello" "path = $P2" "keys = $T/pub1.pub"
	"signatures = $SIGS")

NEXT=1700000000
# publish_var VAR JOB SEED — a new signed build of JOB, each one newer (start and finish
# time) than the last; its uuid in VAR, its bytes are $T/SEED.bin.
publish_var() {
	local u
	make_file "$T/$3.bin" $((4096 + ${#3})) "$3"
	NEXT=$((NEXT + 1000))
	u=$(add_build "$2" "$T/$3.bin" --start-time "$NEXT" --finish-time $((NEXT + 60))) ||
		BAIL_OUT "add_build"
	sign_build "$2" "$u" pub1 || BAIL_OUT "sign_build"
	printf -v "$1" '%s' "$u"
}

conf
publish_var U1 hello one

# ======================================================= 2. the state for every reader
(umask 077 && petrel upgrade hello >"$T/up.out" 2>&1)
is "$?" 0 "under umask 077 the first upgrade succeeds" || diag "$(cat "$T/up.out")"
S="$T/state"
H1=$(sha256_of "$T/one.bin")
is "$(mode_of "$S/petrel.db")" 644 "petrel.db is mode 0644"
is "$(mode_of "$S/petrel.db-wal")" 644 "petrel.db-wal exists, mode 0644"
is "$(mode_of "$S/petrel.db-shm")" 644 "petrel.db-shm exists, mode 0644"
is "$(mode_of "$S/objects")" 755 "objects/ is mode 0755"
is "$(mode_of "$S/objects/sha256")" 755 "objects/sha256 is mode 0755"
is "$(mode_of "$S/objects/sha256/${H1:0:2}")" 755 "the blob's fan-out directory is mode 0755"
is "$(mode_of "$S/tmp")" 700 "tmp/ is mode 0700"
is "$(mode_of "$S/lock")" 644 "lock is mode 0644"

# as nobody: status, history, log
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
state_list() { find "$S" -printf '%P\n' | LC_ALL=C sort; }
if [ "$(id -u)" != 0 ] || ! getent passwd nobody >/dev/null || ! getent group nogroup >/dev/null; then
	skip "not root, or no user nobody/group nogroup" 10
else
	chmod 755 "$T"
	chmod 644 "$T/petrel.conf" "$T/pub1.pub"
	NP=$PETREL
	if ! "${AS_NOBODY[@]}" test -x "$NP"; then
		mkdir -p "$T/bin" && cp "$PETREL" "$T/bin/petrel" && chmod 755 "$T/bin" "$T/bin/petrel"
		NP="$T/bin/petrel"
	fi
	if ! "${AS_NOBODY[@]}" test -x "$NP" || ! "${AS_NOBODY[@]}" test -r "$T/petrel.conf"; then
		skip "nobody cannot run petrel or read its configuration" 10
	else
		before_db=$(stat -c '%Y.%y %s' "$S/petrel.db")
		before_list=$(state_list)
		run "${AS_NOBODY[@]}" "$NP" -c "$T/petrel.conf" status
		is "$rc" 0 "status as nobody: exit 0"
		like "$out" "$U1" "status as nobody shows the deployed uuid"
		run "${AS_NOBODY[@]}" "$NP" -c "$T/petrel.conf" history hello
		is "$rc" 0 "history as nobody: exit 0"
		like "$out" "$U1" "history as nobody shows the deployed uuid"
		run "${AS_NOBODY[@]}" "$NP" -c "$T/petrel.conf" -v log
		is "$rc" 0 "log as nobody: exit 0"
		like "$out" "$U1" "log as nobody shows the deployed uuid"
		run "${AS_NOBODY[@]}" "$NP" -c "$T/petrel.conf" --json status
		is "$rc" 0 "status --json as nobody: exit 0"
		is "$(printf '%s' "$out" | pyj 'j["targets"][0]["current"]["uuid"]' 2>&1)" "$U1" \
			"status --json as nobody: the current uuid"
		is "$(stat -c '%Y.%y %s' "$S/petrel.db")" "$before_db" "the reads leave petrel.db's mtime and size alone"
		is "$(state_list)" "$before_list" "the reads create no file in the state directory"
	fi
fi

# ======================================================= 1. reads never wait for the writer
lock_held() { ! flock -n -s "$S/lock" true; }
lock_free() { flock -n -s "$S/lock" true; }
flock -o -x "$S/lock" sleep 30 &
FPID=$!
at_exit "kill $FPID 2>/dev/null"
ok "another process holds the lock" wait_for -t 10 lock_held
# timed CMD… — run petrel CMD…; $took is how long it took in ms
timed() { local t0=${EPOCHREALTIME/./}; run petrel "$@"; took=$(ms_since "$t0"); }
# a read that waited for the lock would take lock_timeout (20 s) and fail; one that does
# not wait takes well under 10 s even on a loaded machine
LOCK_TIMEOUT=20 conf
for c in "status" "history hello" "log" "list hello" "upgrade hello --dry-run" "audit --no-rehash"; do
	# shellcheck disable=SC2086
	timed $c
	is "$rc" 0 "$c with the lock held: exit 0"
	ok "$c with the lock held does not wait for it (took $took ms, lock_timeout 20 s)" \
		test "$took" -lt 10000 || diag "$err"
done
conf
timed fsck
is "$rc" 1 "fsck (a writer) with the lock held: exit 1"
like "$err" "locked" "fsck says the state directory is locked"
kill "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
wait_for -t 10 lock_free || BAIL_OUT "the lock is still held"

# ======================================================= 3. a read creates and migrates nothing
cat >"$T/none.conf" <<EOF
[petrel]
state_dir = $T/nostate

[server "bw"]
url = $BW_URL

[target "hello"]
server = bw
job = hello
path = $T/deploy/none.hvt
keys = $T/pub1.pub
signatures = $SIGS
EOF
run timeout 60 "$PETREL" -c "$T/none.conf" status
ok "status on a state_dir that does not exist creates nothing" test ! -e "$T/nostate" ||
	diag "$(find "$T/nostate")"
ok "nor a deployed file" test ! -e "$T/deploy/none.hvt"

cp -a "$S" "$T/oldstate"
V=$(sqlite3 "$T/oldstate/petrel.db" 'PRAGMA user_version')
sqlite3 "$T/oldstate/petrel.db" "PRAGMA user_version = $((V - 1))"
sed "s|^state_dir = .*|state_dir = $T/oldstate|" "$T/petrel.conf" >"$T/old.conf"
run timeout 60 "$PETREL" -c "$T/old.conf" status
is "$rc" 1 "status on an older schema: exit 1"
like "$err" "schema version" "it names the schema version"
like "$err" "petrel fsck" "and says to run petrel fsck"
is "$(sqlite3 "$T/oldstate/petrel.db" 'PRAGMA user_version')" "$((V - 1))" "the user_version is unchanged"

# ======================================================= 4. refused builds
publish_var U2 hello two
H2=$(sha256_of "$T/two.bin")
set_mode flip
run petrel fetch hello
is "$rc" 3 "fetch of a build flipped in transit: exit 3"
is "$(sql "select count || ' ' || (retry_at > strftime('%s','now')) from refused where uuid = '$U2'")" "1 1" \
	"a row in refused: count 1, retry_at in the future" || diag "$(sql 'select * from refused')"
is "$(sql 'select count(*) from rejected')" 0 "no row in rejected"
run petrel check hello
is "$rc" 3 "check with the newest build refused: exit 3 (not 100)"
is "$(printf '%s\n' "$err" | grep -c .)" 1 "one line on stderr"
like "$err" "failed verification" "it says the build failed verification"
reason=$(sql "select reason from refused where uuid = '$U2'")
like "$err" "${reason:0:20}" "and gives the reason"
run petrel --json check hello
is "$(printf '%s' "$out" | pyj 'sorted(k for k in j["targets"][0]["refused"] if k in ("reason","count","first_at","retry_at"))' 2>&1)" \
	"['count', 'first_at', 'reason', 'retry_at']" "check --json: a refused object with reason, count, first_at, retry_at"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["update"]' 2>&1)" False "check --json: update false"
run petrel status hello
like "$out" "refused:" "status shows a refused: line"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["refused"]["uuid"]' 2>&1)" "$U2" "status --json: refused object with the uuid"
run petrel audit hello --no-rehash --metrics "$T/m.prom"
like "$(cat "$T/m.prom" 2>/dev/null)" '^petrel_update_available\{target="hello"\} 0$' \
	"metrics: petrel_update_available 0 while the newest is refused"
clear_mode
run petrel fetch hello
is "$rc" 0 "after the server is fixed, fetch: exit 0"
is "$(sql 'select count(*) from refused')" 0 "the refused row is gone"
run petrel check hello
is "$rc" 100 "check: exit 100 (update available)"

# ======================================================= 5. pins
conf "${TWO[@]}"
run petrel pin two
is "$rc" 1 "pin with nothing deployed: exit 1"
like "$err" "nothing deployed to pin" "it says nothing is deployed to pin"
run petrel pin hello not-a-uuid
is "$rc" 2 "pin with a malformed uuid: exit 2"
run petrel pin hello "$("${PY[@]}" -c 'import uuid; print(uuid.uuid4())')"
is "$rc" 1 "pin with a uuid not in the store: exit 1"
like "$err" "not in the store" "it says the build is not in the store"
conf
run petrel upgrade hello
is "$rc" 0 "upgrade to the second build: exit 0"
run petrel pin hello
is "$rc" 0 "pin hello: exit 0"
is "$(sql "select count(*) from journal where target = 'hello' and event = 'pin'")" 1 "a journal row 'pin'"
run petrel log hello
like "$out" "\\bpin\\b" "log shows the pin"
run petrel status hello
like "$out" "pinned at $U2" "status: pinned at UUID"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["policy"]["pinned"]["uuid"]' 2>&1)" "$U2" "status --json: policy.pinned.uuid"
publish_var U3 hello three
run petrel upgrade hello
is "$rc" 3 "upgrade of a pinned target: exit 3"
like "$out$err" "pinned at" "it says the target is pinned"
is "$(file_sha "$P")" "$H2" "the file is unchanged"
run petrel upgrade --all
is "$rc" 0 "upgrade --all with the only target pinned: exit 0"
like "$out$err" "left alone" "it says the pinned target is left alone"
is "$(file_sha "$P")" "$H2" "the file is unchanged"
conf --global "interval = 1"
run petrel daemon --once
like "$err" "pinned at" "daemon --once leaves the pinned target alone (pinned at)"
is "$(file_sha "$P")" "$H2" "the file is unchanged"
conf
run petrel upgrade hello --to "$U3"
is "$rc" 0 "upgrade --to a pinned target: exit 0"
like "$out$err" "pinned at" "with a warning that it is pinned"
is "$(file_sha "$P")" "$(sha256_of "$T/three.bin")" "the named build is deployed"
run petrel status hello
like "$out" "pinned at" "the pin stays"
run petrel unpin hello
is "$rc" 0 "unpin: exit 0"
like "$out$err" "unpinned" "it says unpinned"
run petrel unpin hello
is "$rc" 0 "a second unpin: exit 0"
like "$out$err" "was not pinned" "it says the target was not pinned"
publish_var U4 hello four
run petrel upgrade hello
is "$rc" 0 "upgrade after unpin: exit 0"
is "$(file_sha "$P")" "$(sha256_of "$T/four.bin")" "the newest build is deployed"

# ======================================================= 6. list
LP="$T/deploy/lst.hvt"
LST=("[target \"lst\"]" "server = bw" "job = lj" "path = $LP" "keys = $T/pub1.pub"
	"signatures = $SIGS" "health = $T/health" "health_retries = 1")
conf "${LST[@]}"
publish_var L1 lj lone
run petrel upgrade lst
is "$rc" 0 "list: the first build is deployed"
publish_var L2 lj ltwo
run petrel fetch lst
is "$rc" 0 "list: the second build is fetched"
publish_var L3 lj lthree
set_mode flip
run petrel fetch lst
is "$rc" 3 "list: the third build is refused"
clear_mode
run petrel list lst
is "$rc" 0 "list: exit 0"
row() { printf '%s\n' "$out" | grep -n -- "$1"; }
lineno() { row "$1" | head -n 1 | cut -d: -f1; }
n1=$(lineno "$L1"); n2=$(lineno "$L2"); n3=$(lineno "$L3")
ok "list: one row per build, newest first (lines $n3 $n2 $n1)" \
	test -n "$n1" -a -n "$n2" -a -n "$n3" -a "${n3:-0}" -lt "${n2:-0}" -a "${n2:-0}" -lt "${n1:-0}"
wide=$(printf '%s\n' "$out" | awk 'length($0) > 100')
is "$wide" "" "list: no row wider than 100 columns"
like "$(row "$L1")" "deployed" "list: the deployed build is marked deployed"
like "$(row "$L2")" "in-store" "list: the fetched build is marked in-store"
like "$(row "$L3")" "refused" "list: the refused build is marked refused"
run petrel --json list lst
is "$rc" 0 "list --json: exit 0"
printf '%s' "$out" >"$T/list.json"
# b UUID FIELD… — the fields of that build in list.json, space-separated
b() { pyj "' '.join(str(x[k] if type(x[k]) is not dict else True) for x in j['targets'][0]['builds'] if x['uuid'] == '$1' for k in '${*:2}'.split())" <"$T/list.json" 2>&1; }
is "$(pyj 'len(j["targets"][0]["builds"]) >= 3 and all(k in x for x in j["targets"][0]["builds"] for k in ("uuid","sha256","size","start_time")) and all(type(x[k]) is bool for x in j["targets"][0]["builds"] for k in ("current","previous","in_store")) and all(x[k] is None or type(x[k]) is dict for x in j["targets"][0]["builds"] for k in ("rejected","refused"))' <"$T/list.json" 2>&1)" \
	True \
	"list --json: builds have uuid, sha256, size, start_time, current/previous/in_store booleans, rejected/refused objects or null"
is "$(pyj '[x["uuid"] for x in j["targets"][0]["builds"]][:3]' <"$T/list.json" 2>&1)" "['$L3', '$L2', '$L1']" \
	"list --json: newest first"
is "$(b "$L1" current sha256 size)" \
	"True $(sha256_of "$T/lone.bin") $(stat -c %s "$T/lone.bin")" "list --json: the deployed build (sha256, size)"
is "$(b "$L2" in_store current)" "True False" "list --json: the fetched build is in_store, not deployed"
is "$(b "$L3" refused in_store rejected)" "True False None" \
	"list --json: the refused build is refused, not in the store, not rejected"
publish_var L4 lj lfour
sha256_of "$T/lfour.bin" >>"$T/health.bad"
run petrel upgrade lst
is "$rc" 5 "list: a build whose health check fails: exit 5"
run petrel list lst
like "$(row "$L4")" "rejected" "list: the rejected build is marked rejected"
run petrel --json list lst
printf '%s' "$out" >"$T/list.json"
is "$(b "$L4" rejected)" True "list --json: the rejected build has its rejection"
is "$(pyj "[x['rejected']['reason'] for x in j['targets'][0]['builds'] if x['uuid'] == '$L4'][0]" <"$T/list.json" 2>&1)" \
	"health check $T/health: exit status 1 (after 1 attempts)" "... saying why"

# ======================================================= 7. upgrade --dry-run
conf
publish_var U5 hello five
H4=$(sha256_of "$T/four.bin")
snapshot_state
c0=$(counts)
clear_requests
run petrel upgrade hello --dry-run
is "$rc" 0 "upgrade --dry-run: exit 0"
like "$out" "would deploy $U5" "it says it would deploy the new build"
like "$out" "$BW_URL/job/hello/build/$U5/f/" "it shows the download URL"
like "$out" "$P" "and the path"
state_unchanged "upgrade --dry-run changes nothing"
is "$(counts)" "$c0" "no versions, generations or journal rows added"
is "$(request_count '/f/')" 0 "nothing is downloaded"
is "$(file_sha "$P")" "$H4" "the file is unchanged"
run petrel --json upgrade hello --dry-run
is "$rc" 0 "upgrade --dry-run --json: exit 0"
printf '%s' "$out" >"$T/dry.json"
is "$(pyj 'str(j["targets"][0]["would"]) + " " + str(j["targets"][0]["download"])' <"$T/dry.json" 2>&1)" \
	"deploy True" "--json: would=deploy, download=true" || diag "$out"
run petrel upgrade hello
is "$rc" 0 "the real upgrade: exit 0"
run petrel upgrade hello --dry-run
is "$rc" 0 "upgrade --dry-run when current: exit 0"
like "$out" "would do nothing" "it says it would do nothing"
run petrel pin hello
run petrel upgrade hello --dry-run
is "$rc" 3 "upgrade --dry-run of a pinned target: exit 3"
run petrel unpin hello

# ======================================================= 8. upgrade --all: the worst status
DOWN=("[server \"dead\"]" "url = http://127.0.0.1:9" "[target \"down\"]" "server = dead" "job = hello"
	"path = $T/deploy/down.hvt" "keys = $T/pub1.pub" "signatures = $SIGS")
conf "${DOWN[@]}"
publish_var U6 hello six
run petrel upgrade --all
is "$rc" 4 "upgrade --all with one server down: exit 4"
is "$(file_sha "$P")" "$(sha256_of "$T/six.bin")" "the other target is upgraded"
ok "nothing at the unreachable target's path" test ! -e "$T/deploy/down.hvt"
publish_var U7 hello seven
sha256_of "$T/seven.bin" >>"$T/health.bad"
run petrel upgrade --all
is "$rc" 5 "upgrade --all with a failed health check (5) and a server down (4): exit 5"
is "$(file_sha "$P")" "$(sha256_of "$T/six.bin")" "the unhealthy build is reverted"

# ======================================================= 9. status --short
conf "${TWO[@]}"
publish_var U8 hello eight
run petrel upgrade two
is "$rc" 0 "two: deployed"
run petrel pin two
is "$rc" 0 "two: pinned"
run petrel fetch hello
is "$rc" 0 "hello: the newest build is fetched (staged)"
run petrel status --short
is "$rc" 0 "status --short: exit 0"
is "$(printf '%s\n' "$out" | grep -c .)" 2 "status --short: one line per target"
hl=$(printf '%s\n' "$out" | grep -E '^hello\b')
tl=$(printf '%s\n' "$out" | grep -E '^two\b')
ok "status --short: a line starts with hello" test -n "$hl"
ok "status --short: a line starts with two" test -n "$tl"
like "$hl" "\\[staged: " "status --short: hello shows [staged: " || diag "$out"
like "$tl" "\\[pinned\\]" "status --short: two shows [pinned]" || diag "$out"

# ======================================================= 10. status shows a running daemon
conf --global "interval = 3600" "${TWO[@]}"
: >"$T/daemon.log"
"$PETREL" -c "$T/petrel.conf" daemon 2>>"$T/daemon.log" &
DPID=$!
at_exit "kill -9 $DPID 2>/dev/null"
polled() { petrel status hello 2>/dev/null | grep -q "next poll in"; }
ok "the daemon finishes its first cycle (status says when it polls next)" wait_for polled ||
	diag "$(cat "$T/daemon.log")"
run petrel status hello
like "$out" "daemon:   pid $DPID\\b" "status: daemon:   pid N"
like "$out" "next poll in" "status: next poll in"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["daemon"]["running"]' 2>&1)" True "status --json: daemon.running true"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["daemon"]["pid"]' 2>&1)" "$DPID" "status --json: daemon.pid"
kill -TERM "$DPID"
wait "$DPID" && st=0 || st=$?
is "$st" 0 "the daemon stops on SIGTERM"
run petrel status hello
like "$out" "daemon:   not running" "status: daemon:   not running"
