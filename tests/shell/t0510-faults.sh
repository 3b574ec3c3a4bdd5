#!/usr/bin/env bash
# Injected write/fsync/rename failures during fetch: a clear error, exit 1, nothing kept.
. "$(dirname "$0")/lib.sh"
plan 27

start_server
make_key pub1
write_config
make_file "$T/hello.hvt" 3000000 7
u=$(add_build hello "$T/hello.hvt")
sign_build hello "$u" pub1
# the state directory laid out (and marked) first: the faults below are the fetch's
petrel fsck >/dev/null || BAIL_OUT "fsck on a new state directory"

# Each fault: the N-th call of that syscall fails with EIO.
for fault in write:1 write:5 fsync:1 fsync:2 rename:1; do
	snapshot_state
	run env PETREL_FAULT="$fault" "$PETREL" -c "$T/petrel.conf" fetch
	is "$rc" 1 "$fault: fetch exits 1"
	like "$err" "^petrel: hello: .*Input/output error" "$fault: one line naming the target and the cause"
	state_unchanged "$fault: no blob, no row, tmp/ empty"
	is "$(ls -A "$T/state/tmp" | wc -l)" 0 "$fault: tmp/ empty"
done

run env PETREL_FAULT="nonsense" "$PETREL" -c "$T/petrel.conf" fetch
is "$rc" 2 "a malformed PETREL_FAULT is a usage error"

run petrel fetch
is "$rc" 0 "without faults the same fetch succeeds"

# The check fails (the server is down), then recording it fails too (sqlite refuses
# the row): each failure is told with its own cause. The warning names the database's,
# never the network error that came before it (errors travel with their call).
sqlite3 "$T/state/petrel.db" "
CREATE TRIGGER refuse_status_insert BEFORE INSERT ON target_status
  BEGIN SELECT RAISE(ABORT, 'injected: target_status refused'); END;
CREATE TRIGGER refuse_status_update BEFORE UPDATE ON target_status
  BEGIN SELECT RAISE(ABORT, 'injected: target_status refused'); END;"
stop_server
snapshot_state
run petrel check
is "$rc" 4 "a server that is down: exit 4, as before"
like "$err" "warning: hello: recording the check failed: database: .*injected: target_status refused" \
	"the recording's warning names the database's cause"
unlike "$err" "recording the check failed: [^:]*(http|onnect)" \
	"and not the network error that came before it"
like "$err" "^petrel: hello: .*http://" "the check's own failure is reported with its URL"
state_unchanged "a failed check records nothing"
