#!/usr/bin/env bash
# petrel audit: the deployed file, the stored blobs and the journal against their records.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 77

DB="$T/state/petrel.db"
sql() { sqlite3 "$DB" "$1"; }
jq_() { "${PY[@]}" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
journal_rows() { sql "select count(*) from journal"; }
# unchanged_but_journal DESC — files as in the snapshot, database as $DB0 but for the
# journal and the monitoring figures.
dbdump() { sqlite3 "$DB" .dump | grep -vE '^INSERT INTO "?(journal|journal_head|target_status|refused)"? '; }
nothing_else_changed() {
	state_unchanged "$1: files unchanged"
	is "$(dbdump)" "$DB0" "$1: database unchanged but for the journal"
}

start_server
make_key pub1
write_config
now=$(date +%s)
make_file "$T/a" 30000 a
make_file "$T/b" 30000 b
ua=$(add_build hello "$T/a" --finish-time $((now - 60))); sign_build hello "$ua" pub1
petrel upgrade hello >/dev/null 2>&1
ub=$(add_build hello "$T/b" --finish-time "$now"); sign_build hello "$ub" pub1
petrel upgrade hello >/dev/null 2>&1
SB=$(sha256_of "$T/b")
SA=$(sha256_of "$T/a")
DEP="$T/deploy/hello.hvt"
is "$(sha256_of "$DEP")" "$SB" "setup: b deployed over a"

# --- clean
n0=$(journal_rows)
run petrel audit
is "$rc" 0 "a clean audit exits 0"
like "$out" "^hello: ok: generation 2, hello $ub" "it names what is deployed"
is "$err" "" "... and reports nothing"
is "$(journal_rows)" "$((n0 + 1))" "the audit is one journal row"
is "$(sql "select event || ' ' || detail from journal order by id desc limit 1")" \
	"audit targets=1 findings=0 journal=ok rehashed" "... saying what it found"
run petrel --json audit
is "$rc" 0 "--json: exit 0"
is "$(printf '%s' "$out" | jq_ 'j["ok"], j["journal"], j["targets"][0]["name"], j["targets"][0]["sha256"], j["targets"][0]["ok"], j["targets"][0]["findings"], j["targets"][0]["servers"]')" \
	"True {'ok': True, 'rows': $((n0 + 1)), 'first_broken': None, 'why': ''} hello $SB True [] []" \
	"--json: the shape of DESIGN.md"
KID=$(key_id pub1)
is "$(printf '%s' "$out" | jq_ 'j["targets"][0]["trust"]')" \
	"{'mode': 'signed', 'keys': ['$KID'], 'rebuilders': [], 'weak': False}" \
	"--json: the evidence behind the deployed version, as status shows it"
run petrel audit
like "$out" "^  trust: signed, signed by $KID$" "text: the evidence in one line"
run petrel audit --online --no-rehash extra
is "$rc" 2 "an unknown target is a usage error"
run petrel audit --bogus
is "$rc" 2 "an unknown option is a usage error"
like "$err" "unknown option '--bogus'" "... named"
run petrel audit --metrics
is "$rc" 2 "--metrics without FILE: a usage error"
like "$err" "^petrel: option '--metrics' needs a value \\(FILE\\)" "... saying so"

DB0=$(dbdump)
# --- the deployed file changed by one byte (same size)
cp "$DEP" "$T/dep.saved"
printf '\x00' | dd of="$DEP" bs=1 seek=1000 count=1 conv=notrunc 2>/dev/null
[ "$(sha256_of "$DEP")" != "$SB" ] || BAIL_OUT "the byte did not change"
GOT=$(sha256_of "$DEP")
snapshot_state
n0=$(journal_rows)
run petrel audit
is "$rc" 6 "a deployed file changed by one byte: exit 6"
like "$err" "^petrel: hello: $DEP: sha256 $GOT, current generation records $SB$" \
	"... naming the target, the file and both hashes"
ok "... in one line" one_line
is "$(sql "select target || ' ' || event from journal where id > $n0 order by id" | tr '\n' ,)" \
	"hello audit-finding, audit," "the finding is journaled, then the audit"
like "$(sql "select detail from journal where event = 'audit-finding' order by id desc limit 1")" \
	"$DEP: sha256 $GOT" "... with what differs"
nothing_else_changed "changed file"
run petrel --json audit
is "$(printf '%s' "$out" | jq_ 'j["ok"], j["targets"][0]["ok"], len(j["targets"][0]["findings"])')" \
	"False False 1" "--json: ok false, one finding"
run petrel audit --no-rehash
is "$rc" 0 "--no-rehash compares sizes only: the same-size change is not seen"
printf 'x' >>"$DEP"
run petrel audit --no-rehash
is "$rc" 6 "--no-rehash: a file of another size is a finding"
like "$err" "petrel: hello: $DEP: 30001 bytes, current generation records 30000" "... saying so"
cp "$T/dep.saved" "$DEP"
run petrel audit
is "$rc" 0 "the file put back: clean again"

# --- the deployed file replaced by a symlink, then missing
mv "$DEP" "$T/dep.real"; ln -s "$T/dep.real" "$DEP"
run petrel audit
is "$rc" 6 "a symlink at path: exit 6"
like "$err" "hello: $DEP: not a regular file" "... named"
rm "$DEP"
run petrel audit
is "$rc" 6 "a missing deployed file: exit 6"
like "$err" "hello: $DEP: missing \(current generation records sha256 $SB\)" "... named"
mv "$T/dep.real" "$DEP"

# --- the deployed file's mode
chmod 0644 "$DEP"
run petrel audit --no-rehash
is "$rc" 6 "a deployed file of mode 0644: exit 6, even with --no-rehash"
like "$err" "^petrel: hello: $DEP: mode 0644, petrel deploys it as 0755$" "... naming target, file and mode"
ok "... in one line" one_line
chmod 0755 "$DEP"

# --- PATH.petrel-prev, the previous generation kept for a revert by rename
PREV="$DEP.petrel-prev"
is "$(sha256_of "$PREV")" "$SA" "setup: PATH.petrel-prev holds the previous generation"
cp "$PREV" "$T/prev.saved"
printf '\x02' | dd of="$PREV" bs=1 seek=99 count=1 conv=notrunc 2>/dev/null
GOTP=$(sha256_of "$PREV")
run petrel audit
is "$rc" 6 "a changed PATH.petrel-prev: exit 6"
like "$err" "^petrel: hello: $PREV: sha256 $GOTP, previous generation 1 \($ua\) records $SA$" \
	"... naming the target, the file and both hashes"
ok "... in one line" one_line
run petrel audit --no-rehash
is "$rc" 0 "--no-rehash: the same-size change of PATH.petrel-prev is not seen"
printf 'x' >>"$PREV"
run petrel audit --no-rehash
is "$rc" 6 "--no-rehash: PATH.petrel-prev of another size is a finding"
like "$err" "petrel: hello: $PREV: 30001 bytes, previous generation 1 \($ua\) records 30000" \
	"... saying so"
rm "$PREV"; ln -s "$T/prev.saved" "$PREV"
run petrel audit
is "$rc" 6 "a symlink at PATH.petrel-prev: exit 6"
like "$err" "hello: $PREV: not a regular file" "... named"
rm "$PREV"
run petrel audit
is "$rc" 0 "no PATH.petrel-prev at all: not a finding (a file system without RENAME_EXCHANGE keeps none)"
cp -p "$T/prev.saved" "$PREV"
run petrel audit
is "$rc" 0 "PATH.petrel-prev put back: clean again"

# --- a stored blob changed (the previous generation's)
BLOB="$T/state/objects/sha256/${SA:0:2}/${SA:2}"
chmod u+w "$BLOB"; cp "$BLOB" "$T/blob.saved"
printf '\x01' | dd of="$BLOB" bs=1 seek=7 count=1 conv=notrunc 2>/dev/null
GOTB=$(sha256_of "$BLOB")
snapshot_state
run petrel audit
is "$rc" 6 "a stored blob changed: exit 6"
like "$err" "^petrel: hello: $BLOB: sha256 $GOTB, previous generation 1 \($ua\) records $SA$" \
	"... naming the target, the blob and the generation"
ok "... in one line" one_line
nothing_else_changed "changed blob"
cp "$T/blob.saved" "$BLOB"; chmod 0444 "$BLOB"
SBL="$T/state/objects/sha256/${SB:0:2}/${SB:2}"
mv "$SBL" "$T/sbl.saved"
run petrel audit --no-rehash
is "$rc" 6 "the current blob missing: exit 6 even with --no-rehash"
like "$err" "hello: $SBL: missing \(current generation 2 \($ub\) records sha256 $SB\)" "... named"
mv "$T/sbl.saved" "$SBL"
run petrel audit
is "$rc" 0 "blobs put back: clean again"

# --- a journal row edited with sqlite3
saved=$(sql "select detail from journal where id = 2")
sql "update journal set detail = 'edited' where id = 2"
snapshot_state
DB0=$(dbdump)
run petrel audit
is "$rc" 6 "an edited journal row: exit 6"
like "$err" "^petrel: journal: chain broken at row 2: " "... naming the first broken row"
ok "... in one line" one_line
nothing_else_changed "edited journal"
run petrel --json audit
is "$(printf '%s' "$out" | jq_ 'j["ok"], j["journal"]["ok"], j["journal"]["first_broken"], j["targets"][0]["ok"]')" \
	"False False 2 True" "--json: journal not ok, first_broken 2, the target itself ok"
sqlite3 "$DB" "update journal set detail = '$(printf '%s' "$saved" | sed "s/'/''/g")' where id = 2"
run petrel audit
is "$rc" 0 "the row put back: the chain holds again"

# --- a row in the middle deleted
# (the journal's anchor, STATE/journal.head, is saved and put back with it: t1760)
cp "$DB" "$T/db.saved"; cp "$T/state/journal.head" "$T/anchor.saved"; rm -f "$DB-wal" "$DB-shm"
sql "delete from journal where id = 3"
run petrel audit
is "$rc" 6 "a deleted journal row: exit 6"
like "$err" "chain broken at row 4: " "... the chain breaks at the row after it"
cp "$T/db.saved" "$DB"; cp "$T/anchor.saved" "$T/state/journal.head"; rm -f "$DB-wal" "$DB-shm"
run petrel audit
is "$rc" 0 "the database put back: clean again"

# --- the last journal row deleted: only the recorded head shows it
last=$(sql "select max(id) from journal")
sql "delete from journal where id = $last"
run petrel fsck
is "$rc" 6 "fsck: the deleted last row is found"
like "$err$out" "journal chain broken at row $last: row $last, the last one, is missing" "... named"
run petrel log
like "$err" "journal chain broken at row $last" "log reports it too"
run petrel audit
is "$rc" 6 "audit: the deleted last row: exit 6"
like "$err" "^petrel: journal: chain broken at row $last: row $last, the last one, is missing" \
	"... naming it"
run petrel audit
is "$rc" 6 "appending after the deletion does not hide it"
like "$err" "chain broken at row $last:" "... the new row's prev still names the deleted one"

# --- the head record deleted (with the journal's last rows too, the anchor outside the
# database shows it: t1760)
cp "$T/db.saved" "$DB"; cp "$T/anchor.saved" "$T/state/journal.head"; rm -f "$DB-wal" "$DB-shm"
sql "delete from journal_head"
run petrel audit
is "$rc" 6 "a missing head record is a finding"
like "$err" "journal's head record is missing" "... named"

# --- audit needs no network
cp "$T/db.saved" "$DB"; cp "$T/anchor.saved" "$T/state/journal.head"; rm -f "$DB-wal" "$DB-shm"
stop_server
run petrel audit
is "$rc" 0 "audit (without --online) works with the server down"

# --- a failed upgrade leaves the rejected build as PATH.petrel-prev: not a finding
start_server bw "$BW_PORT"
printf '#!/bin/sh\nexit 1\n' >"$T/fail.sh"; chmod +x "$T/fail.sh"
write_config "orchestrator = $T/fail.sh"
make_file "$T/c" 29000 c
uc=$(add_build hello "$T/c" --finish-time $((now + 60))); sign_build hello "$uc" pub1
run petrel upgrade hello
is "$rc" 5 "setup: an upgrade whose adapter fails is rolled back (exit 5)"
is "$(sha256_of "$PREV") $(sha256_of "$DEP")" "$(sha256_of "$T/c") $SB" \
	"setup: PATH.petrel-prev holds the failed build, the path build 2 again"
run petrel audit
is "$rc" 0 "audit: the failed build at PATH.petrel-prev is not a finding"
run petrel audit --no-rehash
is "$rc" 0 "... nor with --no-rehash (its size is that of the failed generation)"
