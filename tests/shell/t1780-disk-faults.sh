#!/usr/bin/env bash
# Disk and process faults (issue 15, item 14): a full disk during a download and during
# the switch, a read-only state directory, a deleted tmp/, a database truncated or
# replaced by garbage. Each: a clear one-line message, the right exit code, nothing
# partial left behind. Small file systems are tmpfs mounts the test makes (root only).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
need_small_fs
plan 35

tmp_empty() { [ -z "$(ls -A "$T/state/tmp" 2>/dev/null)" ]; }

start_server
make_key pub1
write_config
make_file "$T/small.hvt" 100000 small
make_file "$T/big.hvt" 3000000 big
U1=$(add_build hello "$T/small.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1

# ---------------------------------------------------------------- disk full: download
# the state directory on 1 MiB: the database fits, a 3 MB build does not
small_fs "$T/state" 1m
run petrel upgrade hello
is "$rc" 0 "setup: the small build fits and is deployed"
U2=$(add_build hello "$T/big.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
snapshot_state
V0=$(sql 'select count(*) from versions')
run petrel fetch
is "$rc" 1 "disk full during a download: exit 1 (a local failure)"
like "$err" "No space left on device" "... says the disk is full"
like "$err" "hello" "... naming the target"
ok "... in one line" one_line
ok "... tmp/ is empty afterwards" tmp_empty
is "$(sql 'select count(*) from versions')" "$V0" "... no version recorded"
state_unchanged "... nothing stored, the deployed file as it was"
run petrel upgrade hello
is "$rc" 1 "disk full: upgrade exits 1 too"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/small.hvt")" "... the small build still runs"
run petrel status
is "$rc" 0 "status still reads the full state directory"
umount "$T/state"; MNT=()
rm -rf "$T/state"

# ---------------------------------------------------------------- disk full: the switch
# the store has room; the deploy directory (1 MiB) does not hold a second copy of 3 MB
small_fs "$T/deploy" 1m
run petrel upgrade hello --to "$U1"
is "$rc" 0 "setup: the small build deployed on the small deploy directory"
snapshot_state
run petrel upgrade hello
is "$rc" 1 "disk full during the switch: exit 1"
like "$err" "No space left on device" "... says the disk is full"
like "$err" "$T/deploy" "... naming the deploy directory"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/small.hvt")" "... the running build is untouched"
ok "... no .petrel-new left" test ! -e "$T/deploy/hello.hvt.petrel-new"
is "$(sql "select count(*) from rejected")" 0 "... and the build is not rejected: the disk is the host's fault"
is "$(sql 'select count(*) from intents')" 0 "... no switch left half done"
is "$(sql "select v.uuid from targets t join generations g on g.target = t.name and g.number = t.current join versions v on v.id = g.version")" \
	"$U1" "... the database still says the small build is current"
run petrel fsck
is "$rc" 0 "... and fsck is clean"
umount "$T/deploy"; MNT=()
mkdir -p "$T/deploy"
rm -rf "$T/state"

# ---------------------------------------------------------------- a read-only state directory
small_fs "$T/state" 8m
run petrel upgrade hello --to "$U1"
is "$rc" 0 "setup: a deploy into a state directory that is about to turn read-only"
mount -o remount,ro "$T/state"
run petrel fetch
is "$rc" 1 "a read-only state directory: fetch exits 1"
like "$err" "[Rr]ead-only file system" "... saying why"
ok "... in one line" one_line
run petrel status
is "$rc" 0 "status still works on a read-only state directory"
like "$out" "$U1" "... showing what runs"
mount -o remount,rw "$T/state"
umount "$T/state"; MNT=()
rm -rf "$T/state"

# ---------------------------------------------------------------- a deleted tmp/
run petrel upgrade hello --to "$U1"
rm -rf "$T/state/tmp"
run petrel fetch
is "$rc" 0 "tmp/ deleted: the next fetch recreates it and succeeds"
is "$(stat -c %a "$T/state/tmp" 2>/dev/null)" 700 "... tmp/ is back, mode 0700"

# ---------------------------------------------------------------- a damaged database
cp "$T/deploy/hello.hvt" "$T/running"
head -c 4096 "$T/state/petrel.db" >"$T/db.head"
cp "$T/db.head" "$T/state/petrel.db"; rm -f "$T/state/petrel.db-wal" "$T/state/petrel.db-shm"
run petrel upgrade hello
ok "a truncated database: upgrade fails ($rc)" [ "$rc" = 1 ]
like "$err" "petrel.db|database" "... naming the database"
ok "... in one line" one_line
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/running")" "... the deployed file untouched"
head -c 65536 /dev/urandom >"$T/state/petrel.db"
run petrel status
is "$rc" 1 "a database replaced by garbage: status exits 1"
like "$err" "not a database|petrel.db" "... saying the file is no database"
