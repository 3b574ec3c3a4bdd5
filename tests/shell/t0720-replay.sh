#!/usr/bin/env bash
# Rollback protection: an older build offered as newest is a replay (exit 3) for check,
# fetch and upgrade, even when the store already has it; only upgrade --to with
# --allow-downgrade goes back. And the mark compares like with like.
. "$(dirname "$0")/lib.sh"
plan 16

start_server
make_key pub1
write_config
# "now" three hours back: every signed timestamp below is in the past. A mark never goes
# past the moment of verification, so with a real now B's (now + 1 h) would be cut to
# the second it was fetched, which a quick run reaches within A's own second (now).
now=$(($(date +%s) - 3 * 3600))
make_file "$T/a" 50000 1
make_file "$T/b" 50000 2
# the publisher signs two hours after each build finished
sign_late() {
	local u=$1 fin
	fin=$(build_field hello "$u" finish_epoch)
	sign_build hello "$u" pub1 "$(printf 'timestamp:%s\tfile:%s\tjob:hello\tuuid:%s\tsha256:%s' \
		$((fin + 7200)) "$(build_field hello "$u" filename)" "$u" "$(build_field hello "$u" sha256)")"
}
ua=$(add_build hello "$T/a" --finish-time $((now - 7200))); sign_late "$ua"
run petrel upgrade hello
is "$rc" 0 "build A deployed"
ub=$(add_build hello "$T/b" --finish-time $((now - 3600))); sign_late "$ub"

run petrel check hello
is "$rc" 100 "check: B, finished after A but before A was signed, is an update (finish times compared)"
run petrel upgrade hello
is "$rc" 0 "build B deployed"

# the server (or a mirror) goes back to answering A as newest
remove_build hello "$ub"
snapshot_state
sum=$(sha256_of "$T/deploy/hello.hvt")
run petrel check hello
is "$rc" 3 "check: A offered as newest again is a replay (exit 3)"
like "$err" "rollback refused" "... the message says so"
run petrel fetch hello
is "$rc" 3 "fetch: the replay is refused although the store has A"
like "$err" "rollback refused" "... the message says so"
run petrel upgrade hello
is "$rc" 3 "upgrade: refused"
run petrel upgrade hello --allow-downgrade
is "$rc" 3 "upgrade --allow-downgrade without --to: still refused (the mark is not the operator's choice)"
like "$err" "rollback refused" "... the message says so"
state_unchanged "nothing changed by the refusals"
is "$(sha256_of "$T/deploy/hello.hvt")" "$sum" "B is still deployed"

run petrel upgrade hello --to "$ua"
is "$rc" 3 "upgrade --to A: refused as a downgrade"
like "$err" "allow-downgrade" "... naming the option"
run petrel upgrade hello --to "$ua" --allow-downgrade
is "$rc" 0 "upgrade --to A --allow-downgrade: the operator goes back"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "A is deployed"
