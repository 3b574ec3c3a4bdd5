#!/usr/bin/env bash
# The state directory's lock, and recovery from a fetch killed with SIGKILL.
. "$(dirname "$0")/lib.sh"
plan 15

start_server
make_key pub1
write_config --global 'lock_timeout = 1' --global 'low_speed_time = 30'
make_file "$T/hello.hvt" 4000000 1
u=$(add_build hello "$T/hello.hvt")
sign_build hello "$u" pub1

# --- several petrels opening a fresh state directory at once: one creates the schema
bad=0
for round in $(seq 15); do
	rm -rf "$T/race"
	sed "s#^state_dir = .*#state_dir = $T/race#" "$T/petrel.conf" >"$T/race.conf"
	pids=()
	for i in 1 2 3 4; do "$PETREL" -c "$T/race.conf" log >/dev/null 2>"$T/race.$i.err" & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || { bad=$((bad + 1)); cat "$T"/race.*.err >&2; }; done
done
is "$bad" 0 "60 petrels opening 15 fresh state directories four at a time: none fails"

# --- a second petrel waits lock_timeout, then says who holds the lock
mkdir -p "$T/state"
# the holder is the sleep itself (exec), so killing it releases the lock
( flock 9 && echo 4242 >&9 && exec sleep 30 ) 9>"$T/state/lock" &
holder=$!
wait_for grep -qs 4242 "$T/state/lock"
snapshot_state
run petrel fetch
is "$rc" 1 "fetch while the state directory is locked exits 1"
like "$err" "locked by pid 4242" "the message names the holder"
like "$err" "lock_timeout" "and the setting that governs the wait"
state_unchanged "nothing fetched while locked"
run petrel fsck
is "$rc" 1 "fsck waits for the lock too"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# --- a fetch killed in the middle of the download leaves a partial file in tmp/
set_mode trickle
( petrel fetch >/dev/null 2>&1 ) &
victim=$!
wait_for eval '[ -n "$(ls -A "$T/state/tmp" 2>/dev/null)" ]'
pkill -KILL -f "$PETREL -c $T/petrel.conf fetch"
wait "$victim" 2>/dev/null
is "$(ls -A "$T/state/tmp" | wc -l)" 1 "the killed fetch left its partial download in tmp/"
is "$(versions_count)" 0 "and recorded nothing"
run petrel fsck
is "$rc" 6 "fsck reports the leftover (exit 6)"
like "$out" "tmp/dl-" "naming the file"
clear_mode

# --- the next fetch, holding the lock, removes the leftover and succeeds
run petrel fetch
is "$rc" 0 "the next fetch succeeds"
is "$(ls -A "$T/state/tmp" | wc -l)" 0 "tmp/ is empty again"
is "$(versions_count)" 1 "one version recorded"
run petrel fsck
is "$rc" 0 "fsck is clean"
is "$(find "$T/state/objects" -type f | wc -l)" 1 "one blob"
