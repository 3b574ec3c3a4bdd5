#!/usr/bin/env bash
# Rollback protection when the server lies about finish times: a build it offers as
# newest, with a fresh finish time but a signature made before the newest build this
# target verified, is refused (exit 3) once its signed timestamp is known — by fetch
# and upgrade — and stores nothing. (t0720 covers replays the finish time gives away.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 15

start_server
make_key pub1
write_config
now=$(date +%s)
make_file "$T/a" 20000 a
make_file "$T/old" 20000 old
ua=$(add_build hello "$T/a" --finish-time $((now - 3600)))
sign_build hello "$ua" pub1
run petrel upgrade hello
is "$rc" 0 "build A (signed an hour ago) deployed"

# an old build, signed a day ago, re-offered as newest with a finish time of now
uo=$(add_build hello "$T/old" --finish-time "$now")
sign_build hello "$uo" pub1 "$(tc_for hello "$uo" timestamp=$((now - 86400)))"
snapshot_state
run petrel check hello
is "$rc" 100 "check: judged by the server's finish time, it looks like an update"
run petrel fetch hello
is "$rc" 3 "fetch: refused once the signed timestamp is verified"
like "$err" "^petrel: hello: server offers build $uo from .* as newest, but a build from .* was already verified \(rollback refused\)" \
	"... the message names the build and the cause"
state_unchanged "fetch: nothing stored"
is "$(ls "$T/state/tmp")" "" "fetch: tmp/ is empty"
run petrel upgrade hello
is "$rc" 3 "upgrade: refused"
like "$err" "rollback refused" "... for the same reason"
state_unchanged "upgrade: nothing stored or deployed"
run petrel --json fetch hello
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["exit"]')" 3 "--json fetch: exit 3 recorded"

# the operator may still choose it
run petrel upgrade hello --to "$uo"
is "$rc" 3 "upgrade --to the replayed build: refused as a downgrade without --allow-downgrade"
like "$err" "allow-downgrade" "... naming the option"
run petrel upgrade hello --to "$uo" --allow-downgrade
is "$rc" 0 "upgrade --to it --allow-downgrade: the operator's explicit choice"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/old")" "the old build is deployed"
run petrel check hello
is "$rc" 3 "check afterwards: the server's newest is still a replay below the mark"
