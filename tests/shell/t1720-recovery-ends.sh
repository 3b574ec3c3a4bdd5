#!/usr/bin/env bash
# Recovery always ends. A first deploy over a file petrel did not install keeps that
# file's bytes in the store before the switch, so a failed health check puts them back
# even when PATH.petrel-prev is removed or altered meanwhile, or never existed (a file
# system without RENAME_EXCHANGE). When even the store's copy is gone, recovery finishes
# forward, says so once and journals why; no command fails on it afterwards.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 36

D="$T/deploy/hello.hvt"
blob_of() { echo "$T/state/objects/sha256/${1:0:2}/${1:2}"; }

start_server
make_key pub1
# the health check does what $T/health.do says to PATH.petrel-prev while it "runs", then
# fails (exit 1) unless $T/health.ok exists
cat >"$T/health.sh" <<EOF
#!/bin/sh
case "\$(cat $T/health.do 2>/dev/null)" in
remove) rm -f "\$PETREL_PATH.petrel-prev" ;;
alter) printf 'tampered' >>"\$PETREL_PATH.petrel-prev" ;;
esac
[ -e $T/health.ok ]
EOF
chmod +x "$T/health.sh"
write_config "health = $T/health.sh" "health_retries = 1"
make_file "$T/b1" 150000 recovery-1
u1=$(add_build hello "$T/b1")
sign_build hello "$u1" pub1
s1=$(sha256_of "$T/b1")
run petrel fetch
is "$rc" 0 "setup: build 1 fetched"

# foreign FILE — the operator's own file at the path again (contents FILE)
foreign() {
	rm -rf "$D" "$D.petrel-prev" "$D.petrel-new"
	printf 'installed by hand: %s\n' "$1" >"$D"
	chmod 0755 "$D"
	orig=$(sha256_of "$D")
	sql "delete from rejected"
}

# ---- PATH.petrel-prev removed while the health check fails: the bytes come from the store
foreign removed
echo remove >"$T/health.do"
run petrel upgrade hello --to "$u1"
is "$rc" 5 "first upgrade, health check fails and removes PATH.petrel-prev: exit 5"
like "$err" "failed: health check .*; the file that was there is back" "... saying the file is back"
is "$(sha256_of "$D")" "$orig" "... the operator's file is at the path, byte for byte"
is "$(stat -c %a "$D")" 755 "... mode 0755"
ok "... its bytes were kept in the store before the switch" [ -f "$(blob_of "$orig")" ]
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"
is "$(sql "select state from generations order by number desc limit 1")" failed \
	"... the generation is failed and the build rejected"

# ---- PATH.petrel-prev altered while the health check fails
foreign altered
echo alter >"$T/health.do"
run petrel upgrade hello --to "$u1"
is "$rc" 5 "first upgrade, health check fails and alters PATH.petrel-prev: exit 5"
is "$(sha256_of "$D")" "$orig" "... the operator's file is back, not the altered copy"
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"

# ---- a file system without RENAME_EXCHANGE: no PATH.petrel-prev at all
foreign noexchange
echo nothing >"$T/health.do"
run env PETREL_FAULT=noexchange:1 "$PETREL" -c "$T/petrel.conf" upgrade hello --to "$u1"
is "$rc" 5 "without RENAME_EXCHANGE, a failing first upgrade exits 5"
like "$err" "the file that was there is back" "... saying the file is back"
is "$(sha256_of "$D")" "$orig" "... the operator's file is back from the store"
nok "... nothing was kept beside the path (the fallback ran)" [ -e "$D.petrel-prev" ]

# ---- the rollback itself interrupted (rename fault): the next command recovers from the store
foreign interrupted
echo remove >"$T/health.do"
# renames: 1 the adopted blob, 2 the exchange, 3 the old file to .petrel-prev, 4 the rollback
run env PETREL_FAULT=rename:4 "$PETREL" -c "$T/petrel.conf" upgrade hello --to "$u1"
like "$err" "failed too" "a rollback that fails too says both failures"
is "$(sql 'select count(*) from intents')" 1 "... and leaves its intent"
nok "... PATH.petrel-prev is gone (the health check removed it)" [ -e "$D.petrel-prev" ]
run petrel gc
is "$rc" 0 "gc (which recovers first) exits 0"
is "$(sha256_of "$D")" "$orig" "... recovery put the operator's file back from the store"
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"
is "$(sql "select state from generations order by number desc limit 1")" failed \
	"... the generation ends failed"

# ---- the bytes are gone everywhere: recovery finishes forward, once, and says why
foreign gone
run env PETREL_FAULT=rename:4 "$PETREL" -c "$T/petrel.conf" upgrade hello --to "$u1"
is "$(sql 'select count(*) from intents')" 1 "setup: a failed rollback left its intent"
rm -f "$(blob_of "$orig")" "$D.petrel-prev"
run petrel fsck
is "$rc" 0 "the next command ends the recovery (exit 0), though nothing can be put back"
like "$err" "could not be rolled back \\(.*missing from the store.*\\); generation [0-9]+ stays current" \
	"... warning why the rollback was impossible and what stays"
is "$(sha256_of "$D")" "$s1" "... the new build stays at the path"
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"
is "$(sql "select count(*) from journal where event = 'rollback-impossible'")" 1 \
	"... one journal row rollback-impossible"
like "$(sql "select detail from journal where event = 'rollback-impossible'")" \
	"health check .*missing from the store" "... naming the failed health check and the missing bytes"
g=$(sql "select max(number) from generations where target = 'hello'")
is "$(sql "select current from targets where name = 'hello'")" "$g" "... its generation is current"
is "$(sql "select state from generations where number = $g")" deployed "... and deployed"
is "$(sql "select count(*) from rejected where sha256 = '$s1'")" 1 \
	"... the build that failed its health check is still rejected"
run petrel fsck
is "$rc" 0 "the command after it exits 0"
unlike "$err" "rolled back" "... and warns nothing again"
run petrel audit
is "$rc" 0 "audit agrees: the deployed file is the current generation"
run petrel status
is "$rc" 0 "status exits 0"
