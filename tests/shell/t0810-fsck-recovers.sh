#!/usr/bin/env bash
# fsck as the first command after an interrupted switch: it rolls the switch back first.
. "$(dirname "$0")/lib.sh"
plan 8

start_server
make_key pub1
write_config
now=$(date +%s)
make_file "$T/b1" 200000 1
make_file "$T/b2" 200000 2
u1=$(add_build hello "$T/b1" --finish-time $((now - 60))); sign_build hello "$u1" pub1
run petrel upgrade hello
is "$rc" 0 "generation 1 deployed"
u2=$(add_build hello "$T/b2" --finish-time "$now"); sign_build hello "$u2" pub1

petrel fetch >/dev/null 2>&1
# The new file is written and swapped in, then moving the old one aside (the 2nd rename)
# fails; the rollback's copy then fails at its fsync (the 2nd): the intent stays for
# the next command, with the new bytes at the path.
run env PETREL_FAULT=fsync:2,rename:2 "$PETREL" -c "$T/petrel.conf" upgrade hello
isnt "$rc" 0 "an upgrade whose rollback fails exits non-zero"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from intents')" 1 "and leaves its intent"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/b2")" "with generation 2's bytes at the path"

run petrel fsck
is "$rc" 0 "fsck, the next command, is clean"
like "$err" "rolled back" "it says it rolled the interrupted upgrade back"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from intents')" 0 "no intent left"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/b1")" "the path holds generation 1 again"
