#!/usr/bin/env bash
# Injected write/fsync/rename failures during fetch: a clear error, exit 1, nothing kept.
. "$(dirname "$0")/lib.sh"
plan 22

start_server
make_key pub1
write_config
make_file "$T/hello.hvt" 3000000 7
u=$(add_build hello "$T/hello.hvt")
sign_build hello "$u" pub1

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
