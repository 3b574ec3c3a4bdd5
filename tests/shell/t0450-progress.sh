#!/usr/bin/env bash
# The progress bar: on a terminal only, naming the target, with size, rate and time,
# from the size petrel expects (builder-web frames files chunked); one 100 % line.
. "$(dirname "$0")/lib.sh"
plan 8

start_server
make_key pub1
write_config
make_file "$T/a" 3000000 1
u=$(add_build hello "$T/a"); sign_build hello "$u" pub1

# on a terminal (script(1) gives petrel one), stdout and stderr both land in the typescript
script -qec "'$PETREL' -c '$T/petrel.conf' fetch hello" /dev/null >"$T/tty.out" 2>&1
tr '\r' '\n' <"$T/tty.out" >"$T/tty.lines"
like "$(cat "$T/tty.lines")" '^hello \[=+\] 100% 2\.9/2\.9 MiB +[0-9.]+ MiB/s in [0-9]+:[0-9][0-9]' \
	"on a terminal: the target, a full bar, 100 %, the size, the rate and the time taken"
is "$(grep -c ' 100% ' "$T/tty.lines")" 1 "exactly one 100 % line"
like "$(cat "$T/tty.lines")" "hello: fetched $u" "and then what was fetched"

rm -rf "$T/state"
run petrel fetch hello
is "$rc" 0 "without a terminal the fetch works the same"
unlike "$err" '\[=|MiB/s' "and draws no bar"

rm -rf "$T/state"
script -qec "'$PETREL' -q -c '$T/petrel.conf' fetch hello" /dev/null >"$T/quiet.out" 2>&1
unlike "$(cat "$T/quiet.out")" 'MiB/s' "-q: no bar on a terminal either"

rm -rf "$T/state"
script -qec "'$PETREL' --json -c '$T/petrel.conf' fetch hello" /dev/null >"$T/json.out" 2>&1
unlike "$(cat "$T/json.out")" 'MiB/s' "--json: no bar"
like "$(cat "$T/json.out")" '"targets"' "only the JSON"
