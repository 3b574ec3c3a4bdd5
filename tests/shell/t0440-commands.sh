#!/usr/bin/env bash
# The operator's commands (orchestrator, health, preflight): arguments split as a shell
# would, without a shell; one that cannot run is a configuration error (exit 2) found
# before anything changes, and never gets a build rejected.
. "$(dirname "$0")/lib.sh"
plan 21

start_server
make_key pub1
now=$(date +%s)
make_file "$T/a" 20000 1
make_file "$T/b" 20000 2
ua=$(add_build hello "$T/a" --finish-time $((now - 60))); sign_build hello "$ua" pub1

# a command that writes its arguments, one per line, to FILE
recorder() {
	printf '#!/bin/sh\nfor a; do printf "%%s\\n" "$a"; done >>%s\nexit 0\n' "$2" >"$1"
	chmod +x "$1"
}
recorder "$T/health" "$T/health.args"
recorder "$T/adapter" "$T/adapter.args"

# ---------------------------------------------------------------- arguments
write_config "orchestrator = $T/adapter --unit 'hello world'" \
	"health = $T/health 'arg one' \"two \\\"quoted\\\" words\" three\\ four \$HOME"
run petrel upgrade hello
is "$rc" 0 "commands with arguments: upgrade deploys"
is "$(cat "$T/adapter.args")" "$(printf -- '--unit\nhello world\nupgrade')" \
	"the adapter gets its own words, then the action"
is "$(cat "$T/health.args")" "$(printf 'arg one\ntwo "quoted" words\nthree four\n$HOME')" \
	"quotes group, a backslash escapes, nothing is expanded (no shell)"

# ---------------------------------------------------------------- a health check that is missing
ub=$(add_build hello "$T/b" --finish-time "$now"); sign_build hello "$ub" pub1
write_config "health = $T/no-such-check"
snapshot_state
run petrel upgrade hello
is "$rc" 2 "a missing health check: exit 2"
like "$err" "^petrel: hello: $T/petrel.conf:[0-9]+: target hello: health $T/no-such-check: No such file or directory" \
	"one line: the file, the target, the command and why"
state_unchanged "a missing health check: nothing fetched, switched or recorded"
ok "the deployed file is still the first build" cmp -s "$T/deploy/hello.hvt" "$T/a"

recorder "$T/no-such-check" "$T/check.args"
run petrel upgrade hello
is "$rc" 0 "once the check exists, the same build deploys"
ok "and is deployed" cmp -s "$T/deploy/hello.hvt" "$T/b"
is "$(sql "select count(*) from rejected")" 0 "no build was ever rejected for it"

# ---------------------------------------------------------------- not executable
chmod 644 "$T/no-such-check"
snapshot_state
run petrel revert hello
is "$rc" 2 "a health check that is not executable: revert exits 2 too"
like "$err" "health $T/no-such-check: not an executable file" "and says so"
state_unchanged "nothing changed"

# ---------------------------------------------------------------- a quote left open
write_config "health = $T/health 'open"
run petrel status
is "$rc" 2 "a quote left open: a configuration error for every command"
like "$err" "petrel.conf:[0-9]+: target hello: health '$T/health 'open': a quote is not closed" \
	"naming the command"
write_config "health = relative/check"
run petrel status
is "$rc" 2 "a relative program: exit 2"

# ---------------------------------------------------------------- the daemon
# at start: a target it may deploy with a command that cannot run is exit 2
write_config "orchestrator = $T/gone-adapter"
run petrel daemon --once
is "$rc" 2 "the daemon refuses to start with an orchestrator that is missing"
like "$err" "orchestrator $T/gone-adapter: No such file or directory" "and names it"
write_config "orchestrator = $T/gone-adapter" "auto = fetch"
run petrel daemon --once
is "$rc" 0 "a target the daemon only stages needs no orchestrator"

# while it runs: the command goes away, a new build comes: refused before anything
# changes, logged as the configuration's fault, not rejected
recorder "$T/gone-check" "$T/gone.args"
write_config "health = $T/gone-check" --global "interval = 1"
make_file "$T/c" 20000 3
"$PETREL" -c "$T/petrel.conf" daemon 2>"$T/daemon.err" &
dpid=$!
at_exit "kill $dpid 2>/dev/null"
wait_for grep -q "up to date\|started" "$T/daemon.err"
rm -f "$T/gone-check"
uc=$(add_build hello "$T/c" --finish-time $((now + 1))); sign_build hello "$uc" pub1
wait_for -t 30 grep -q "configuration: .*health $T/gone-check" "$T/daemon.err"
kill "$dpid"; wait "$dpid" 2>/dev/null
like "$(cat "$T/daemon.err")" "error hello: configuration: .*gone-check: No such file" \
	"the daemon says it is the configuration"
is "$(sql "select count(*) from rejected")" 0 "and the build is not rejected"
