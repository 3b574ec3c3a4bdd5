#!/usr/bin/env bash
# A server that sends steadily just above low_speed_limit is cut at the request's
# deadline (size / min_rate + connect_timeout + low_speed_time): exit 4 naming the URL,
# the bytes, the time and the limit, tmp/ empty, nothing stored. A Content-Length that
# is no number is a malformed answer (exit 4), never a length check skipped.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 27


start_server
make_key pub1
# the drip sends 4000 B/s: well above low_speed_limit, so only the deadline can stop it
LIMITS=(--global 'low_speed_limit = 1000' --global 'low_speed_time = 2'
	--global 'connect_timeout = 2')

# a first build fetched normally: the state is not empty when the drip comes
make_file "$T/a.hvt" 20000 a
U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1
write_config "${LIMITS[@]}" --global 'min_rate = 100000'
run petrel fetch
is "$rc" 0 "setup: the first fetch succeeds"

# ---- a drip within the deadline is fine: 20000 bytes at 4000 B/s take 5 s, the limit
# is 20000 / 2000 + 2 + 2 = 14 s
make_file "$T/b.hvt" 20000 b
U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
write_config "${LIMITS[@]}" --global 'min_rate = 2000'
set_mode drip
run petrel fetch
clear_mode
is "$rc" 0 "a drip that keeps to min_rate: exit 0"
is "$(versions_count)" 2 "... and the build is stored"

# ---- a drip slower than min_rate: 200000 bytes at 4000 B/s would take 50 s; the limit
# is 200000 / 100000 + 2 + 2 = 6 s
make_file "$T/c.hvt" 200000 c
U3=$(add_build hello "$T/c.hvt" --filename hello.hvt --finish-time 1700002000)
sign_build hello "$U3" pub1
F3="$BW_URL/job/hello/build/$U3/f/bin/hello.hvt"
write_config "${LIMITS[@]}" --global 'min_rate = 100000'
snapshot_state
set_mode drip
clear_requests
t0=$(date +%s)
run petrel fetch
t1=$(date +%s)
clear_mode
note "drip: $err"
is "$rc" 4 "drip below min_rate: exit 4 (server or network)"
like "$err" "$F3: too slow: [0-9]+ bytes in [0-9]+ s, over the time limit of 6 s" \
	"... the message names the URL, the bytes received, the time and the limit"
like "$err" "min_rate 100000 B/s" "... and the configured minimum rate"
ok "... in one line" one_line
state_unchanged "... tmp/ empty, no blob, no row"
is "$(request_count '/f/bin/')" 1 "... the artifact was asked for once"
# the drip would last 50 s: a cut at the deadline comes long before its end
ok "... cut at the deadline ($((t1 - t0)) s), not at the end of the drip" test $((t1 - t0)) -lt 40
is "$(sqlite3 "$T/state/petrel.db" "select count(*) from versions where uuid = '$U3'")" 0 \
	"... no row for the dripped build"

# ---- the default min_rate (65536 B/s) takes a whole-body drip too: 200000 bytes give
# 3 + 2 + 2 = 7 s
write_config "${LIMITS[@]}"
snapshot_state
set_mode drip
run petrel fetch
clear_mode
is "$rc" 4 "drip under the default min_rate: exit 4"
like "$err" "$F3: too slow: .*time limit of 7 s .*min_rate 65536 B/s" "... names the default limit"
state_unchanged "... nothing stored"

# ---- a Content-Length that is no number
write_config "${LIMITS[@]}"
snapshot_state
set_mode bad-length
run petrel fetch
clear_mode
note "bad-length: $err"
is "$rc" 4 "unparsable Content-Length: exit 4"
like "$err" "$F3: Content-Length '12abc' is not a number" "... names the URL and the header"
ok "... in one line" one_line
state_unchanged "... tmp/ empty, nothing stored"

# ---- the same bytes with an honest answer are fetched (the cases above were the server)
run petrel fetch
is "$rc" 0 "without the drip the build is fetched"
is "$(versions_count)" 3 "... and stored"

# ---- min_rate is a number of bytes per second, at least 1
for bad in 0 fast -5; do
	write_config "${LIMITS[@]}" --global "min_rate = $bad"
	run petrel status
	is "$rc" 2 "min_rate = $bad: exit 2"
	like "$err" "min_rate" "... the message names the key"
done
write_config "${LIMITS[@]}" --global "min_rate = 1"
run petrel status
is "$rc" 0 "min_rate = 1 is accepted"
