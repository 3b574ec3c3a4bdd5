#!/usr/bin/env bash
# The daemon's poll spread (issue 14, item 1), on the real daemon against the look-alike:
# the first poll falls at a random moment of the interval (status says when), a restart
# keeps the next poll the last daemon recorded, --now polls at once; a 503 or 429 with
# Retry-After (seconds or an HTTP date, capped at a day) is obeyed with one request, and
# remembered across a restart, --now included. The distribution itself (uniform first
# poll, interval + U[0, interval/10), full-jitter backoff) is tests/unit/test_fleet.c's;
# 10,000 hosts are tests/fleet/sim's (t1961).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 23

LATEST='GET	/job/hello/build/latest'
# start [ARGS] — the daemon (-v: its plan is a debug line) in the background, stderr in
# $T/daemon.log; it has planned its first poll once the log says so
start() {
	: >"$T/daemon.log"
	"$PETREL" -c "$T/petrel.conf" -v daemon "$@" 2>>"$T/daemon.log" &
	DPID=$!
	at_exit "kill -9 $DPID 2>/dev/null"
	wait_for grep -q "debug: hello: first poll in" "$T/daemon.log" ||
		diag "daemon log: $(cat "$T/daemon.log")"
}
stop() { kill -TERM "$DPID"; wait "$DPID" && st=0 || st=$?; }
planned() { sed -n 's/.*debug: hello: first poll in \([0-9]*\) s (\(.*\))$/\1 \2/p' "$T/daemon.log"; }
next_poll() { sql "select next_poll from target_status where target = 'hello'"; }
# in_range LO HI N — LO <= N <= HI
in_range() { [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

start_server
make_key pub1
make_file "$T/one.bin" 4096 1
U1=$(add_build hello "$T/one.bin")
sign_build hello "$U1" pub1
write_config --global "interval = 1d" "auto = fetch"

# ---- the first poll: at a random moment of the interval, none at start
start
now=$(date +%s)
read -r secs why <<<"$(planned)"
is "$why" "at random in its interval" "a first start plans the first poll at random"
ok "within the interval (${secs} s of 86400)" in_range 0 86400 "$secs"
is "$(request_count "$LATEST")" 0 "and asks the server nothing at start"
ok "the plan is recorded at once" in_range "$now" $((now + 86401)) "$(next_poll)"
run petrel status hello
like "$out" "daemon:   pid $DPID, next poll in [0-9]+ (s|min|h)\\b" "status shows the planned poll while the daemon waits"
stop
is "$st" 0 "the daemon stops with 0"
# draws differ from start to start (what a previous daemon recorded is forgotten here)
draws=$secs
for i in 1 2 3; do
	sql "update target_status set next_poll = 0"
	start
	draws="$draws $(planned | cut -d' ' -f1)"
	stop
done
is "$(printf '%s\n' $draws | sort -u | wc -l)" 4 "four starts, four different first polls ($draws)"

# ---- a restart keeps the recorded next poll: it was drawn at random already
rec=$(next_poll)
start
read -r secs why <<<"$(planned)"
is "$why" "the last daemon's next poll, kept" "a restart keeps the last daemon's next poll"
is "$(next_poll)" "$rec" "the same second"
stop

# ---- --now: at once
start --now
ok "--now polls at once" wait_for grep -q "info hello: staged $U1" "$T/daemon.log"
is "$(planned)" "0 --now" "and says so"
now=$(date +%s)
ok "then the next poll is an interval and up to a tenth on" in_range $((now + 86400 - 5)) $((now + 95040)) "$(next_poll)"
stop

# ---- 503 with Retry-After in seconds: one request, then the server's time
write_config --global "interval = 10m" "auto = fetch"
set_mode 503
echo 7200 >"$BW_DATA/retry-after"
clear_requests
# the store keeps seconds: a failure in the very second of the last success would pass
# for a regular poll (README, "Retry-After"); a real daemon polls an interval apart
wait_for eval '[ "$(date +%s)" -gt "$(sql "select last_success from target_status")" ]'
start --now
ok "a 503 with Retry-After: 7200 is obeyed" wait_for grep -q "backing off" "$T/daemon.log"
like "$(cat "$T/daemon.log")" "warning hello: server bw: .*HTTP status 503; backing off \\(failure 1, next try in (720[0-9]|72[1-5][0-9]|7260) s, as the server's Retry-After asks\\)" \
	"the log says when and why: Retry-After plus at most a tenth of the interval"
is "$(request_count "$LATEST")" 1 "one request, no retry before that"
now=$(date +%s)
ok "status's next poll is the server's time" in_range $((now + 7195)) $((now + 7262)) "$(next_poll)"
rec=$(next_poll)
stop

# ---- remembered across a restart, --now or not
clear_requests
start --now
read -r secs why <<<"$(planned)"
is "$why" "the last daemon's retry time, kept" "a restart with --now keeps the server's Retry-After"
is "$(next_poll)" "$rec" "the same second"
stop
start
read -r secs why <<<"$(planned)"
is "$why" "the last daemon's retry time, kept" "and so does one without"
stop
is "$(request_count "$LATEST")" 0 "neither asks the server"

# told MODE RETRY-AFTER — a fresh daemon with --now, answered MODE (503, 429) with that
# Retry-After: its log in $T/daemon.log once it has backed off
told() {
	sql "update target_status set next_poll = 0"
	set_mode "$1"
	printf '%s\n' "$2" >"$BW_DATA/retry-after"
	start --now
	wait_for grep -q "backing off" "$T/daemon.log" || diag "$(cat "$T/daemon.log")"
	stop
}

# ---- 429 with an HTTP date; a Retry-After of a month counts as a day
told 429 "$(LC_ALL=C date -u -d '+3 hours' '+%a, %d %b %Y %H:%M:%S GMT')"
like "$(cat "$T/daemon.log")" "HTTP status 429; backing off \\(failure 1, next try in (10[6-7][0-9][0-9]|108[0-6][0-9]) s, as the server's Retry-After asks\\)" \
	"a 429 with Retry-After as an HTTP date three hours on: obeyed (plus at most a minute)"
told 429 2592000
like "$(cat "$T/daemon.log")" "HTTP status 429; backing off \\(failure 1, next try in (864[0-5][0-9]|8646[0-9]) s, as the server's Retry-After asks\\)" \
	"a Retry-After of a month is waited for a day (plus at most a minute)"

# ---- a Retry-After that is neither a number nor a date is ignored: the backoff decides
told 503 "soon, promise"
like "$(cat "$T/daemon.log")" "HTTP status 503; backing off \\(failure 1, next try in [0-9]+ s\\)$" \
	"a garbled Retry-After is ignored: the full-jitter step decides"
clear_mode
