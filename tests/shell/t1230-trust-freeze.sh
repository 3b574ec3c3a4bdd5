#!/usr/bin/env bash
# Freeze protection: with max_age, check refuses (exit 3) when the newest build the
# server offers is older than that — signed timestamp once verified, else finish time —
# naming the target, the age and the limit; nothing changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 12

start_server
make_key pub1
now=$(date +%s)
make_file "$T/a" 20000 a
ua=$(add_build hello "$T/a" --finish-time $((now - 40 * 86400)))
sign_build hello "$ua" pub1

write_config
run petrel check hello
is "$rc" 100 "without max_age a 40-day-old build is just an update"

write_config "max_age = 30d"
snapshot_state
run petrel check hello
is "$rc" 3 "max_age = 30d, newest build 40 days old: check exits 3"
like "$err" "^petrel: hello: $BW_URL/job/hello: newest build $ua is from .*, 40d old, more than max_age 30d" \
	"... naming the target, the build, its age and the limit"
like "$out" "update available" "... after saying what it found"
state_unchanged "a frozen answer changes nothing"
run petrel --json check hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["frozen"], j["targets"][0]["exit"]')" "True 3" \
	"--json: frozen and exit 3"

write_config "max_age = 960h"
run petrel check hello
is "$rc" 3 "max_age = 960h (40d): 40d plus a few seconds is past it"

# the signed timestamp decides once the build is verified: signed 10 days ago
write_config
sign_build hello "$ua" pub1 "$(tc_for hello "$ua" timestamp=$((now - 10 * 86400)))"
run petrel upgrade hello
is "$rc" 0 "build deployed"
write_config "max_age = 30d"
run petrel check hello
is "$rc" 0 "verified build signed 10 days ago: within 30d, up to date"
write_config "max_age = 864000"
run petrel check hello
is "$rc" 3 "max_age = 864000 (10d, plain seconds): frozen"
like "$err" "10d old, more than max_age 10d" "... age and limit in days"
write_config "max_age = 15840m"
run petrel check hello
is "$rc" 0 "max_age = 15840m (11d): within it again"
