#!/usr/bin/env bash
# Ctrl-C in a foreground command: the download stops and its temporary file goes at
# once, one line says so, exit 130 (143 for SIGTERM); the store stays consistent.
. "$(dirname "$0")/lib.sh"
plan 12

start_server
make_key pub1
write_config
make_file "$T/a" 200000 1
u=$(add_build hello "$T/a"); sign_build hello "$u" pub1
tmp_files() { find "$T/state/tmp" -type f 2>/dev/null | wc -l; }

# interrupt SIGNAL — petrel fetch over a trickling download, stopped by SIGNAL once its
# temporary file exists; sets rc and err
interrupt() {
	set_mode "trickle"
	rm -rf "$T/state"
	"$PETREL" -c "$T/petrel.conf" fetch hello >/dev/null 2>"$T/int.err" &
	local pid=$!
	wait_for eval '[ "$(tmp_files)" -ge 1 ]'
	kill -s "$1" "$pid"
	local t0=$SECONDS
	wait "$pid" && rc=0 || rc=$?
	waited=$((SECONDS - t0))
	err=$(cat "$T/int.err")
	clear_mode
}

interrupt INT
is "$rc" 130 "SIGINT during a download: exit 130"
ok "at once (took ${waited} s)" test "$waited" -le 3
like "$err" "fetch: stopped by SIGINT" "one line says so"
like "$err" "cancelled" "the target's line says the download was cancelled"
is "$(tmp_files)" 0 "the temporary file is gone"
run petrel fsck
is "$rc" 0 "fsck after the interrupted fetch is clean"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from versions')" 0 "nothing was stored"

interrupt TERM
is "$rc" 143 "SIGTERM during a download: exit 143"
like "$err" "fetch: stopped by SIGTERM" "and says so"
is "$(tmp_files)" 0 "the temporary file is gone"

# the same build fetches whole once nobody interrupts
run petrel fetch hello
is "$rc" 0 "the fetch then completes"
like "$out" "fetched $u" "and stores the build"
