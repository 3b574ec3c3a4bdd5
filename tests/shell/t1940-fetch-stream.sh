#!/usr/bin/env bash
# The download pipeline (receive -> ring of large slots -> SHA-256, writer and BLAKE2b
# threads; whole slots written with O_DIRECT, the rest through the page cache with
# writeback started as the file grows; fsync once the last byte is written): bytes that
# arrive in odd, changing chunk sizes still verify, whatever the file's size against
# the slots; a file system that refuses O_DIRECT gets the same bytes through the page
# cache; a truncated body, or a write, fsync or background flush that fails, leaves
# nothing.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 47

SLOT=$((512 * 1024))	# common/fanout.h: PETREL_FANOUT_SLOT
tmp_empty() { [ -d "$T/state/tmp" ] && [ -z "$(ls -A "$T/state/tmp")" ]; }

start_server
make_key pub1
write_config
petrel fsck >/dev/null || BAIL_OUT "fsck on a new state directory"
now=$(date +%s)
n=0

# fetch_odd SIZE DESC — a new build of SIZE bytes, served in odd chunks, is fetched and
# stored with the right bytes.
fetch_odd() {
	local size=$1 desc=$2 u h
	n=$((n + 1))
	make_file "$T/odd$n.hvt" "$size" "odd$n"
	h=$(sha256_of "$T/odd$n.hvt")
	u=$(add_build hello "$T/odd$n.hvt" --finish-time $((now - 1000 + n)))
	sign_build hello "$u" pub1
	run petrel fetch
	is "$rc" 0 "$desc: fetch exits 0"
	like "$out" "fetched $u" "$desc: it says what it fetched"
	is "$(sha256_of "$(blob_path "$h")" 2>/dev/null)" "$h" "$desc: the blob holds the bytes"
	ok "$desc: tmp/ is empty" tmp_empty
}

set_mode odd-chunks
fetch_odd 1 "1 byte"
fetch_odd $((3 * SLOT)) "exactly 3 slots"
fetch_odd $((3 * SLOT + 1)) "3 slots and a byte"
fetch_odd $((20 * 1024 * 1024 + 12345)) "20 MiB (writeback windows of 8 MiB)"
clear_mode

# A bigger build for the failures: several writeback windows before any fault.
make_file "$T/big.hvt" $((20 * 1024 * 1024 + 7)) big
UB=$(add_build hello "$T/big.hvt" --finish-time "$now")
sign_build hello "$UB" pub1
F="/job/hello/build/$UB/f/bin/big.hvt"

set_mode truncate
snapshot_state
run petrel fetch
is "$rc" 4 "a body cut off after 10 MiB: exit 4"
like "$err" "^petrel: hello: .*$F" "one line naming the target and the URL"
state_unchanged "truncated: no blob, no row, tmp/ empty"
clear_mode

# Each fault: the N-th call of that syscall fails with EIO. The first fsync is the one
# made as soon as the last byte is written (the writer's, while BLAKE2b finishes); the
# second is the store's before the rename.
fault_fails() {
	local fault=$1 what=$2
	snapshot_state
	run env PETREL_FAULT="$fault" "$PETREL" -c "$T/petrel.conf" fetch
	is "$rc" 1 "$fault: fetch exits 1"
	like "$err" "^petrel: hello: $what.*Input/output error" "$fault: one line naming the target, the file and the cause"
	state_unchanged "$fault: no blob, no row, tmp/ empty"
}
fault_fails write:30 "writing $T/state/tmp/dl-"
fault_fails fsync:1 "writing $T/state/tmp/dl-"
fault_fails fsync:2 "$T/state/tmp/dl-[^:]*: cannot store blob: "

run petrel fetch
is "$rc" 0 "without faults the same fetch succeeds"
is "$(sha256_of "$(blob_path "$(sha256_of "$T/big.hvt")")" 2>/dev/null)" "$(sha256_of "$T/big.hvt")" \
	"and stores the bytes"
ok "tmp/ is empty" tmp_empty

# A download longer than a flush window (32 MiB, deploy/fetch.c) is flushed as it is
# written, on a thread of its own; a flush that fails fails the fetch as a write does
# (it may have taken the file's error from the last fsync). Below one window, none.
make_file "$T/long.hvt" $((40 * 1024 * 1024 + 3)) long
UL=$(add_build hello "$T/long.hvt" --finish-time $((now + 1)))
sign_build hello "$UL" pub1
fault_fails flush:1 "writing $T/state/tmp/dl-"
run petrel fetch
is "$rc" 0 "flush: without the fault the 40 MiB fetch succeeds"
h=$(sha256_of "$T/long.hvt")
is "$(sha256_of "$(blob_path "$h")" 2>/dev/null)" "$h" "flush: the blob holds the bytes"
make_file "$T/short.hvt" $((20 * 1024 * 1024)) short
u=$(add_build hello "$T/short.hvt" --finish-time $((now + 2)))
sign_build hello "$u" pub1
run env PETREL_FAULT=flush:1 "$PETREL" -c "$T/petrel.conf" fetch
is "$rc" 0 "flush:1 and 20 MiB: no flush, the fetch succeeds"
ok "flush:1 and 20 MiB: tmp/ is empty" tmp_empty

# A file system that refuses O_DIRECT writes (EINVAL): the slot is written again
# through the page cache, and so is the rest; the same bytes are stored.
make_file "$T/nodirect.hvt" $((3 * SLOT + 4096 + 5)) nodirect
UN=$(add_build hello "$T/nodirect.hvt" --finish-time $((now + 3)))
sign_build hello "$UN" pub1
fault_fails nodirect:1,write:3 "writing $T/state/tmp/dl-"
run env PETREL_FAULT=nodirect:1 "$PETREL" -c "$T/petrel.conf" fetch
is "$rc" 0 "nodirect:1: fetch exits 0"
h=$(sha256_of "$T/nodirect.hvt")
is "$(sha256_of "$(blob_path "$h")" 2>/dev/null)" "$h" "nodirect:1: the blob holds the bytes"
ok "nodirect:1: tmp/ is empty" tmp_empty

# Only a fetch that deploys nothing writes past the page cache (O_DIRECT): an upgrade's
# switch reads the blob back at once, so its download stays cached.
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
	make_file "$T/d1.hvt" $((3 * SLOT)) d1
	u=$(add_build hello "$T/d1.hvt" --finish-time $((now + 4)))
	sign_build hello "$u" pub1
	strace -f -e trace=fcntl -o "$T/st.fetch" "$PETREL" -c "$T/petrel.conf" fetch >/dev/null 2>&1
	ok "petrel fetch writes with O_DIRECT" grep -q 'F_SETFL.*O_DIRECT' "$T/st.fetch"
	make_file "$T/d2.hvt" $((3 * SLOT)) d2
	u=$(add_build hello "$T/d2.hvt" --finish-time $((now + 5)))
	sign_build hello "$u" pub1
	strace -f -e trace=fcntl -o "$T/st.upgrade" "$PETREL" -c "$T/petrel.conf" upgrade hello >/dev/null 2>&1
	is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/d2.hvt")" "petrel upgrade deploys the new build"
	nok "and its download does not use O_DIRECT" grep -q 'O_DIRECT' "$T/st.upgrade"
else
	skip "no working strace" 3
fi
