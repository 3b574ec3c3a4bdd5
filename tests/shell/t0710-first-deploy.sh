#!/usr/bin/env bash
# The first deploy over a file petrel did not put there: a failure puts exactly it back.
. "$(dirname "$0")/lib.sh"
plan 19

start_server
make_key pub1
printf '#!/bin/sh\nexit "$(cat %s/health.rc 2>/dev/null || echo 0)"\n' "$T" >"$T/health.sh"
chmod +x "$T/health.sh"
write_config "health = $T/health.sh" "health_retries = 1"
make_file "$T/b1" 100000 1
u1=$(add_build hello "$T/b1"); sign_build hello "$u1" pub1

mkdir -p "$T/deploy"
printf 'the binary the operator installed by hand\n' >"$T/deploy/hello.hvt"
chmod 0755 "$T/deploy/hello.hvt"
orig=$(sha256_of "$T/deploy/hello.hvt")

echo 1 >"$T/health.rc"
run petrel upgrade hello
is "$rc" 5 "a first upgrade whose health check fails exits 5"
like "$err" "the file that was there is back" "... and says the original file is back"
is "$(sha256_of "$T/deploy/hello.hvt")" "$orig" "the operator's file is at the path again, byte for byte"
run petrel --json status hello
like "$out" '"current":null' "nothing is deployed by petrel"

# the health check fails again and putting the file back fails (the exchange, the 2nd
# rename): the intent stays; status, a read, shows it and changes nothing; the next
# writing command (fsck) recovers: it puts the operator's file back and still rejects the
# build (forget the first rejection to see that)
sqlite3 "$T/state/petrel.db" "delete from rejected"
run env PETREL_FAULT=rename:2 "$PETREL" -c "$T/petrel.conf" upgrade hello --to "$u1"
isnt "$rc" 0 "an upgrade whose rollback fails too exits non-zero"
like "$err" "failed too" "... and says both failures"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from intents')" 1 "... leaving its intent"
is "$(sqlite3 "$T/state/petrel.db" 'select phase from intents')" "failing" \
	"... recording that the upgrade failed before the rollback began"
path_before=$(sha256_of "$T/deploy/hello.hvt")
run petrel --json status hello
is "$(jq -r '.targets[0].interrupted | "\(.op) \(.phase)"' <<<"$out")" "upgrade failing" \
	"status --json shows the interrupted upgrade and its phase"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from intents')" 1 \
	"status recovers nothing: the intent is still there"
is "$(sha256_of "$T/deploy/hello.hvt")" "$path_before" "... and the path is unchanged"
run petrel fsck
is "$rc" 0 "the next writing command (fsck) recovers, then finds the store clean"
is "$(sha256_of "$T/deploy/hello.hvt")" "$orig" "the operator's file is back after recovery"
is "$(sqlite3 "$T/state/petrel.db" 'select state from generations order by number desc limit 1')" \
	"failed" "recovery ends the generation as failed (not merely interrupted): the health check failed"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from rejected')" 1 \
	"and rejects the build, as the finished rollback would have"
run petrel --json status hello
is "$(jq -c '.targets[0].interrupted' <<<"$out")" null "status --json: nothing interrupted after the recovery"

rm -f "$T/health.rc"
run petrel upgrade hello --to "$u1"
is "$rc" 0 "with a passing health check the first upgrade succeeds"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/b1")" "the build is at the path"
is "$(sha256_of "$T/deploy/hello.hvt.petrel-prev")" "$orig" "the operator's file is kept as .petrel-prev"
