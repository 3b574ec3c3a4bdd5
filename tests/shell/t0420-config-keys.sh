#!/usr/bin/env bash
# The configuration's keys: set twice is an error, durations as people write them.
. "$(dirname "$0")/lib.sh"
plan 13

start_server
make_key pub1
write_config
C="$T/petrel.conf"
cp "$C" "$T/good.conf"

# conf_refused NAME MESSAGE — the command refuses the configuration: exit 2, one line
# naming the file, the line and the cause, and nothing created in the state directory.
conf_refused() {
	rm -rf "$T/state"
	run petrel status
	is "$rc" 2 "$1: exit 2"
	like "$err" "^petrel: $2" "$1: the file, the line and the cause"
	ok "$1: nothing created" test ! -e "$T/state"
}

cp "$T/good.conf" "$C"
printf '[petrel]\ninterval = 60\n' >>"$C"
printf 'interval = 120\n' >>"$C"
n=$(grep -c '' "$C")
conf_refused "interval twice" "$C:$n: key 'interval' is set twice in \\[petrel\\] \\(first at line $((n - 1))\\)"

cp "$T/good.conf" "$C"
printf '[target "hello"]\njob = other\n' >>"$C"
conf_refused "a key again in a section opened again" "$C:$(grep -c '' "$C"): key 'job' is set twice in \\[target \"hello\"\\]"

cp "$T/good.conf" "$C"
printf '[petrel]\ninterval = 15 minutes\n' >>"$C"
conf_refused "a duration in words" "$C:$(grep -c '' "$C"): interval: '15 minutes' is not a duration"

cp "$T/good.conf" "$C"
printf '[petrel]\ninterval = 15m\nbackoff_max = 2d\nlock_timeout = 1m\n' >>"$C"
run petrel --json status
is "$rc" 0 "interval = 15m, backoff_max = 2d, lock_timeout = 1m load"

# the daemon backs off by the interval it read: with no build of the job yet, its first
# failure waits a random time below one interval, 15m = 900 s (full jitter)
cp "$T/good.conf" "$C"
printf '[petrel]\ninterval = 15m\n' >>"$C"
run petrel daemon --once
like "$err" "next try in ([1-9]|[1-9][0-9]|[1-8][0-9][0-9]|900) s" "interval = 15m: the daemon waits at most 900 s"
like "$err" "info daemon: cycle done" "and its cycle ends"

# an indented line goes on with the key before it: not a second key
cp "$T/good.conf" "$C"
sed -i 's|^signatures = \(.*\)$|signatures = \1,\n  '"$BW_URL"'/sigs/{job}/{uuid}/other.minisig|' "$C"
run petrel status
is "$rc" 0 "a list over an indented line is one key"
