#!/usr/bin/env bash
# petrel daemon: the real daemon process against the look-alike on loopback, interval 1.
# Publishing deploys; a failing health check is reverted and never downloaded again; a
# stopped server means backoff, no crash, and a working revert; SIGTERM during a slow
# download exits cleanly; SIGHUP picks up a new target; a second daemon refuses; auto =
# fetch and a closed window only stage; --once exits with the worst status.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 117

P="$T/deploy/hello.hvt"
DL='GET	/job/hello/build/[^/]+/f/'	# an artifact download in requests.log

cat >"$T/health" <<'EOF'
#!/bin/sh
# healthy unless the deployed file's hash is listed in health.bad
s=$(sha256sum "$PETREL_PATH" | cut -d' ' -f1)
echo "$PETREL_TARGET $s" >>"$T/health.log"
[ -f "$T/health.sleep" ] && sleep "$(cat "$T/health.sleep")"
grep -qx "$s" "$T/health.bad" 2>/dev/null && exit 1
exit 0
EOF
chmod 755 "$T/health"
: >"$T/health.bad"

# daemon_start [ARGS] — the daemon in the background, its stderr in $T/daemon.log.
daemon_start() {
	: >"$T/daemon.log"
	"$PETREL" -c "$T/petrel.conf" daemon "$@" 2>>"$T/daemon.log" &
	DPID=$!
	at_exit "kill -9 $DPID 2>/dev/null"
}
# wait_log ERE [SECONDS] — until the daemon's log has a line matching ERE. SECONDS says
# how soon it should come; the wait is never shorter than 60 s, since a loaded machine
# is slow, not wrong.
wait_log() {
	local limit=${2:-20}
	[ "$limit" -ge 60 ] || limit=60
	wait_for -t "$limit" grep -qE -- "$1" "$T/daemon.log" && return 0
	diag "daemon log: $(cat "$T/daemon.log")"
	return 1
}
# daemon_stop — SIGTERM; sets st (its exit status) and ms (how long it took to exit).
daemon_stop() {
	local t0 t1
	t0=$(date +%s%N)
	kill -TERM "$DPID"
	wait "$DPID" && st=0 || st=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
}
# polls_at_least N [ERE] — the server has seen N requests matching ERE (default: hello's
# latest build) since the last clear_requests; with wait_for, N daemon cycles.
polls_at_least() { [ "$(request_count "${2:-GET	/job/hello/build/latest}")" -ge "$1" ]; }
tmp_files() { find "$T/state/tmp" -type f 2>/dev/null | wc -l | tr -d ' '; }
publish() {	# publish SEED — a new signed build of hello; echoes its uuid
	local u
	make_file "$T/$1.bin" 4096 "$1"
	u=$(add_build hello "$T/$1.bin")
	sign_build hello "$u" pub1 && echo "$u"
}

start_server
make_key pub1
# conf [LINE...] — the daemon's test configuration; a LINE setting one of the defaults
# below replaces it (a key set twice in a section is a configuration error)
conf() {
	local d defaults=("health = $T/health" "health_retries = 2" "auto = upgrade")
	local lines=()
	for d in "${defaults[@]}"; do
		printf '%s\n' "$@" | grep -q "^${d%% =*} =" || lines+=("$d")
	done
	write_config --global "interval = 1" --global "backoff_max = 4" "${lines[@]}" "$@"
}

# ---- usage and configuration
conf
run petrel daemon --bogus
is "$rc" 2 "daemon: an unknown argument is a usage error"
like "$err" "unknown option '--bogus' for daemon" "the message names the argument"
conf "window = 25:00-03:00"
run petrel daemon --once
is "$rc" 2 "a malformed window is a configuration error"
like "$err" "petrel.conf:[0-9]+: window: '25:00-03:00' is not HH:MM-HH:MM" "it names file, line and value"
conf "interval = 0"
run petrel daemon --once
is "$rc" 2 "interval 0 is refused"

# ---- --once: one cycle, deploys, exits with the cycle's status
conf
U1=$(publish one)
run petrel daemon --once
is "$rc" 0 "--once deploys the newest build and exits 0"
is "$(sha256_of "$P")" "$(sha256_of "$T/one.bin")" "the file at path is the published build"
like "$err" "info hello: deployed generation 1: $U1" "one line says what was deployed"
is "$(sql "select count(*) from journal where event='upgrade'")" 1 "the upgrade is journaled"
run petrel daemon --once --metrics "$T/petrel.prom"
is "$rc" 0 "a second cycle with nothing new exits 0"
unlike "$err" "deployed" "and deploys nothing"
m=$(cat "$T/petrel.prom")
like "$m" "^petrel_deployed_info\\{target=\"hello\",job=\"hello\",uuid=\"$U1\",sha256=\"$(sha256_of "$T/one.bin")\"\\} 1$" \
	"--metrics: the daemon writes what is deployed"
like "$m" '^petrel_update_available\{target="hello"\} 0$' "and that no update is available"

# ---- the daemon proper: a new build is deployed within a few cycles
clear_requests
daemon_start
ok "the daemon starts" wait_log "info daemon: started" 5
ok "it polls the server over two cycles with nothing new" wait_for polls_at_least 2
U2=$(publish two)
ok "a newly published build is deployed within a few cycles" wait_log "deployed generation 2: $U2" 15
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "the file at path is the new build"
is "$(sha256_of "$P.petrel-prev")" "$(sha256_of "$T/one.bin")" "the previous one is kept beside it"

# ---- a second daemon on the same state directory refuses
run petrel daemon --once
is "$rc" 1 "a second daemon refuses to start"
like "$err" "another petrel daemon \\(pid $DPID\\) runs on $T/state" "naming the pid and the state directory"

# ---- a build whose health check fails: reverted, rejected, downloaded once
make_file "$T/three.bin" 4096 three
sha256_of "$T/three.bin" >>"$T/health.bad"
clear_requests
U3=$(add_build hello "$T/three.bin"); sign_build hello "$U3" pub1
ok "a build failing its health check is reported as a failed deploy" wait_log "error hello: deploy failed: .*$U3" 40
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "the previous build is back at path"
is "$(sql "select count(*) from rejected where uuid='$U3'")" 1 "the build is rejected for the target"
n=$(request_count 'GET	/job/hello/build/latest')
ok "the server is still polled: three more cycles" wait_for polls_at_least $((n + 3))
is "$(request_count "$DL")" 1 "over those cycles it was downloaded once only"
is "$(grep -c "deploy failed" "$T/daemon.log")" 1 "and the failure is logged once, not every cycle"
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "nothing was deployed meanwhile"

# ---- a newer build after a rejected one is deployed
U4=$(publish four)
ok "a newer build than the rejected one is deployed" wait_log "deployed generation [0-9]+: $U4" 15

# ---- never downgrade: an older build offered as latest is refused, not deployed
OLD=$(add_build hello "$T/one.bin" --finish-time 1000000000 --start-time 2000000000)
sign_build hello "$OLD" pub1
ok "a build older than the high-water mark offered as newest is refused" wait_log "warning hello: refused: .*rollback refused" 15
is "$(sha256_of "$P")" "$(sha256_of "$T/four.bin")" "and the daemon does not downgrade"
remove_build hello "$OLD"

# ---- server stopped: backoff, no crash, revert still works
stop_server
ok "a stopped server is noticed" wait_log "server bw: .*backing off \\(failure 1, next try in [12] s\\)" 10
# full jitter: the wait after failure n is drawn from [1 s, min(backoff_max, 2^(n-1) s))
ok "the delay after failure 3 is drawn below backoff_max (4 s)" wait_log "backing off \\(failure 3, next try in [1-4] s\\)" 20
ok "the daemon is still running" kill -0 "$DPID"
run petrel revert hello
is "$rc" 0 "petrel revert works while the daemon backs off"
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "and put the previous build back"
start_server bw "$BW_PORT"
ok "when the server is back the daemon recovers" wait_log "info hello: recovered" 15
ok "the build reverted from by hand is not deployed again" wait_log "newest build $U4 .* was rejected here; waiting for a newer one \(reverted by hand" 10
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "the operator's revert stands"

# ---- SIGHUP with a new target: it is polled
conf "[target \"second\"]" "server = bw" "job = hello" "path = $T/deploy/second.hvt" \
	"keys = $T/pub1.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig" \
	"auto = fetch"
kill -HUP "$DPID"
ok "SIGHUP re-reads the configuration" wait_log "configuration reloaded from .*: 2 targets \\(1 upgrade, 1 fetch, 0 off\\)" 10
ok "the new target is polled (auto = fetch: staged)" wait_log "info second: staged $U4" 10
nok "auto = fetch deploys nothing" test -e "$T/deploy/second.hvt"
is "$(sql "select count(*) from versions where target='second'")" 1 "the build is in the store for it"

# a configuration that does not load keeps the running one
echo "[target" >>"$T/petrel.conf"
kill -HUP "$DPID"
ok "a broken configuration on SIGHUP is reported and the old one kept" wait_log "reload: .*keeping the running configuration" 10
ok "the daemon keeps running" kill -0 "$DPID"

# ---- SIGTERM during a slow download: clean exit within 5 s, no temporary file
conf
kill -HUP "$DPID"
wait_log "configuration reloaded from .*: 1 targets" 10
set_mode "trickle"
U5=$(publish five)
wait_for eval '[ "$(tmp_files)" -gt 0 ]'
is "$(tmp_files)" 1 "a slow download is in progress in tmp/"
daemon_stop
is "$st" 0 "SIGTERM during a download: exit 0"
is "$((ms < 5000))" 1 "within 5 s (took $ms ms)"
is "$(tmp_files)" 0 "no temporary file is left"
is "$(sql "select count(*) from versions where uuid='$U5'")" 0 "nothing was stored"
like "$(cat "$T/daemon.log")" "stopping on signal" "the daemon says why it stops"
clear_mode

# ---- a maintenance window that is closed now: auto = upgrade only stages
now=$(date +%H:%M)
ws=$(date -d "+2 hours" +%H:00); we=$(date -d "+3 hours" +%H:00)
conf "window = $ws-$we"
run petrel daemon --once
is "$rc" 0 "outside the window the cycle succeeds"
like "$err" "staged $U5" "the new build is staged"
like "$err" "waits for the maintenance window $ws-$we" "and waits for the window"
is "$(sha256_of "$P")" "$(sha256_of "$T/two.bin")" "nothing is deployed outside the window (now $now)"
ws=$(date -d "-1 hours" +%H:00); we=$(date -d "+2 hours" +%H:00)
conf "window = $ws-$we"
run petrel daemon --once
is "$rc" 0 "inside the window"
like "$err" "deployed generation [0-9]+: $U5" "the staged build is deployed"
is "$(sha256_of "$P")" "$(sha256_of "$T/five.bin")" "the file at path is the new build"

# ---- auto = off is skipped; --once reports the worst status of the cycle
conf "auto = off"
clear_requests
run petrel daemon --once
is "$rc" 0 "auto = off: nothing to do"
is "$(request_count .)" 0 "and no request was made"

# a hash mismatch: refused (3), not rejected for good: tried again after its backoff
conf "interval = 3600"
U6=$(publish six)
set_mode "flip"
clear_requests
run petrel daemon --once
is "$rc" 3 "--once exits 3 when a build fails verification"
like "$err" "warning hello: refused: .*sha256 mismatch" "the line names the cause"
is "$(sql "select count(*) from rejected where uuid='$U6'")" 0 "the build is not rejected for good"
is "$(sql "select count(*) from refused where uuid='$U6' and retry_at > strftime('%s','now') + 3000")" 1 \
	"it is refused until its next try, one interval on"
is "$(request_count "$DL")" 1 "it was downloaded once"
run petrel daemon --once
is "$rc" 0 "the next cycle does not count it as a failure"
like "$err" "newest build $U6 failed verification \(1 time since .*; next try at .*sha256 mismatch" \
	"it says the newest build was refused, why, and when it is tried again"
is "$(request_count "$DL")" 1 "and does not download it again before then"
is "$(sha256_of "$P")" "$(sha256_of "$T/five.bin")" "nothing was deployed"
clear_mode
sql "update refused set retry_at = 0"
run petrel daemon --once
is "$rc" 0 "once the backoff ends the genuine bytes are fetched again"
like "$err" "deployed generation [0-9]+: $U6" "they verify and are deployed"
is "$(sql "select count(*) from refused")" 0 "the refusal is forgotten once the bytes verified"

# server down: --once exits 4; a target failing its health check exits 5 (worse)
stop_server
run petrel daemon --once
is "$rc" 4 "--once with the server down exits 4"
like "$err" "warning hello: server bw: .*127.0.0.1:$BW_PORT" "naming the server and its URL"
start_server bw "$BW_PORT"
make_file "$T/seven.bin" 4096 seven
sha256_of "$T/seven.bin" >>"$T/health.bad"
U7=$(add_build hello "$T/seven.bin"); sign_build hello "$U7" pub1
conf "health_retries = 1" "[target \"down\"]" "server = gone" "job = hello" \
	"path = $T/deploy/down.hvt" "trust = server" "[server \"gone\"]" "url = http://127.0.0.1:9"
run petrel daemon --once
is "$rc" 5 "--once: a reverted deploy (5) outranks a server error (4)"
like "$err" "error hello: deploy failed" "the failed deploy is reported"
like "$err" "warning down: server gone" "and the unreachable server"
is "$(sha256_of "$P")" "$(sha256_of "$T/six.bin")" "the previous build is back"

# ---- SIGTERM during a health check: the switch is rolled back, exit 0 within 5 s
conf
U8=$(publish eight)
echo 30 >"$T/health.sleep"
daemon_start
ok "the health check of the new build runs" wait_log "." 5
wait_for grep -qs "$(sha256_of "$T/eight.bin")" "$T/health.log"
is "$(sha256_of "$P")" "$(sha256_of "$T/eight.bin")" "the new build is in place during its health check"
daemon_stop
is "$st" 0 "SIGTERM during the health check: exit 0"
is "$((ms < 5000))" 1 "within 5 s (took $ms ms)"
is "$(sha256_of "$P")" "$(sha256_of "$T/six.bin")" "the switch was rolled back: the previous build is back"
is "$(sql "select count(*) from rejected where uuid='$U8'")" 0 "an interrupted health check does not reject the build"
is "$(sql "select count(*) from intents")" 0 "no switch is left half done"
like "$(cat "$T/daemon.log")" "interrupted: petrel is stopping" "the log says the health check was interrupted"
rm -f "$T/health.sleep"

# ---- freeze protection: the daemon warns when the newest build is older than max_age
conf "max_age = 1"
sleep 1.2
run petrel daemon --once
is "$rc" 0 "a frozen server is a warning for the daemon, not a failure"
like "$err" "warning hello: frozen: .*newest build .* is from .*, more than max_age 1s" "the daemon warns about it"
clear_requests
daemon_start
ok "the daemon polls the frozen server over four cycles" wait_for polls_at_least 4
daemon_stop
is "$(grep -c 'warning hello: frozen' "$T/daemon.log")" 1 "over those cycles the warning is logged once"
n=$(sqlite3 "$T/state/petrel.db" "select count(*) from journal where event = 'refused' and detail like 'check:%max_age%'")
# --once's row and the daemon's first: once per poll would be at least 5
is "$((n >= 1 && n <= 3))" 1 "and journaled once per change, not once per poll ($n rows after 5 polls)"

# ---- an unknown job (a configuration problem) is not retried in a tight loop
conf "auto = off" "[target \"ghost\"]" "server = bw" "job = nosuch" "path = $T/deploy/ghost" \
	"trust = server" "auto = fetch"
sed -i 's/^backoff_max = 4/backoff_max = 60/' "$T/petrel.conf"
clear_requests
# -v: every attempt is logged (a repeat as debug), each line stamped when it is read
: >"$T/daemon.log"
mkfifo "$T/daemon.fifo"
while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done \
	<"$T/daemon.fifo" >>"$T/daemon.log" &
RPID=$!
"$PETREL" -c "$T/petrel.conf" -v daemon 2>"$T/daemon.fifo" &
DPID=$!
at_exit "kill -9 $DPID 2>/dev/null"
attempts() { grep -c "ghost: configuration: $BW_URL has no job 'nosuch'" "$T/daemon.log"; }
ok "the daemon tries the unknown job four times" wait_for eval '[ "$(attempts)" -ge 4 ]'
daemon_stop
wait "$RPID"
is "$st" 0 "the daemon ran and stopped"
# full jitter: the waits after failures 1, 2, 3 are drawn from [1 s, 1 s), [1 s, 2 s),
# [1 s, 4 s) (tests/unit/test_fleet.c holds the distribution); here: never sooner than
# the 1 s floor (a late-read line can only shorten a gap, by much less than 0.2 s), and
# each logged wait within its step
gaps=$(grep "ghost: configuration: $BW_URL has no job 'nosuch'" "$T/daemon.log" | sed -n '1,4p' |
	awk '{ if (NR > 1) printf "%d ", ($1 - t) * 1000; t = $1 }')
is "$(for g in $gaps; do [ "$g" -ge 800 ] || echo "$g"; done)" "" \
	"a job the server does not know (404) is not retried in a tight loop: gaps $gaps ms, each at least 1 s"
waits=$(grep "ghost: configuration: $BW_URL has no job 'nosuch'" "$T/daemon.log" |
	sed -n 's/.*next try in \([0-9]*\) s)$/\1/p' | head -4 | tr '\n' ' ')
set -- $waits
is "$(( $1 == 1 && $2 >= 1 && $2 <= 2 && $3 >= 1 && $3 <= 4 && $4 >= 1 && $4 <= 8 ))" 1 \
	"the logged waits stay within the doubling steps 1, 2, 4, 8 s ($waits)"
is "$(request_count 'GET	/job/nosuch/build/latest')" "$(attempts)" "one request per logged attempt"
is "$(grep "error ghost: configuration: $BW_URL has no job 'nosuch' (check the target's job)" "$T/daemon.log" |
	sed -n 's/.*(failure \([0-9]*\), next try in [0-9]* s)$/\1/p' | head -4 | tr '\n' ' ')" "1 2 3 4 " \
	"logged as a configuration error once per backoff step, naming the step"
is "$(grep -c 'warning ghost' "$T/daemon.log")" 0 "... not as a network warning"

# ---- an operator holding the state directory's lock: the daemon waits, then goes on
conf --global "lock_timeout = 1"
U9=$(publish nine)
: >"$T/daemon.log"
# the operator holds the lock until the daemon has said that it is locked out
flock "$T/state/lock" timeout 60 sh -c \
	'until grep -q "is locked by" "$1"; do sleep 0.1; done' sh "$T/daemon.log" &
LPID=$!
lock_held() { ! flock -n "$T/state/lock" true; }
wait_for lock_held
daemon_start
ok "the daemon reports the held lock" wait_log "error daemon: state directory .* is locked by" 10
ok "and deploys once the lock is free" wait_log "deployed generation [0-9]+: $U9" 20
wait "$LPID"
daemon_stop
is "$st" 0 "the daemon stops with 0"

# ---- an adapter that runs when SIGTERM comes: the switch is finished, not undone
cat >"$T/adapter" <<'EOF2'
#!/bin/sh
echo "$1 $PETREL_NEW_SHA256" >>"${0%/*}/adapter.log"
sleep 2
EOF2
chmod 755 "$T/adapter"
: >"$T/adapter.log"
conf "orchestrator = $T/adapter"
U10=$(publish ten)
daemon_start
wait_for grep -q "$(sha256_of "$T/ten.bin")" "$T/adapter.log"
daemon_stop
is "$st" 0 "SIGTERM while the adapter runs: exit 0 once it ended"
is "$((ms < 5000))" 1 "the adapter is waited for, then one health check: $ms ms"
is "$(sha256_of "$P")" "$(sha256_of "$T/ten.bin")" "the switch that worked is finished, not rolled back"
is "$(sql "select count(*) from rejected where uuid = '$U10'")" 0 "and the build is not rejected"
is "$(sql "select count(*) from intents")" 0 "nothing is left half done"

# ---- a reload with a shorter interval applies at once
conf "interval = 3600"
clear_requests
daemon_start
ok "the daemon runs its first cycle" wait_log "info daemon: started" 5
wait_for polls_at_least 1
conf "interval = 1"
kill -HUP "$DPID"
ok "after SIGHUP the new 1 s interval applies at once (3 more polls), not after an hour" \
	wait_for polls_at_least 4
daemon_stop

# ---- a signature host that is down is the target's problem, not its server's
U11=$(publish eleven)
conf "signatures = http://127.0.0.1:9/{job}/{uuid}/{filename}.minisig" \
	"[target \"other\"]" "server = bw" "job = hello" "path = $T/deploy/other.hvt" \
	"trust = server" "auto = fetch"
daemon_start
ok "the unreachable signature host is reported for the target" \
	wait_log "warning hello: failed: http://127.0.0.1:9/.*minisig" 10
ok "the other target on that server is served meanwhile" wait_log "info other: staged $U11"
daemon_stop
is "$(grep -c 'server bw' "$T/daemon.log")" 0 "and does not back off the build server"

# ---- --metrics into a directory that does not exist: said at start
run petrel daemon --once --metrics "$T/nosuch/dir/p.prom"
is "$rc" 2 "--metrics into a missing directory is a usage error at start"
like "$err" "--metrics $T/nosuch/dir/p.prom: directory $T/nosuch/dir: No such file or directory" \
	"naming the directory and why"

# ---- systemd: READY, WATCHDOG, RELOADING, STOPPING through sd_notify
conf
"${PY[@]}" - "$T/notify.sock" "$T/notify.log" <<'EOF' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        m = s.recv(4096).decode()
        log.write(m.replace("\n", " ") + "\n"); log.flush()
        if "STOPPING=1" in m:
            break
EOF
NPID=$!
at_exit "kill $NPID 2>/dev/null"
wait_for test -S "$T/notify.sock"
: >"$T/daemon.log"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=800000 \
	"$PETREL" -c "$T/petrel.conf" daemon 2>>"$T/daemon.log" &
DPID=$!
at_exit "kill -9 $DPID 2>/dev/null"
wait_for grep -qs READY=1 "$T/notify.log"
wait_for eval '[ "$(grep -cs WATCHDOG=1 "$T/notify.log")" -ge 3 ]'
kill -HUP "$DPID"
wait_for grep -qs RELOADING=1 "$T/notify.log"
daemon_stop
wait "$NPID" 2>/dev/null
is "$st" 0 "under systemd the daemon stops with 0"
like "$(cat "$T/notify.log")" "READY=1" "it reports readiness"
is "$(($(grep -c 'WATCHDOG=1' "$T/notify.log") >= 3))" 1 "it feeds the watchdog"
like "$(cat "$T/notify.log")" "RELOADING=1" "it reports a reload"
like "$(tail -n 1 "$T/notify.log")" "STOPPING=1" "and its stop"
