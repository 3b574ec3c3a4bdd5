#!/usr/bin/env bash
# The journal's end is anchored outside the database (STATE/journal.head): deleting the
# whole journal together with its head row, or its last rows with the head row moved
# back, is a finding of audit and fsck (exit 6); a crash between a commit and the
# anchor's write (the anchor one row behind) is not.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 42

DB="$T/state/petrel.db"
A="$T/state/journal.head"
sql() { sqlite3 "$DB" "$1"; }
last_row() { sql "select id || ' ' || hash from journal order by id desc limit 1"; }
anchor() { cat "$A" 2>/dev/null; }

start_server
make_key pub1
write_config
make_file "$T/a" 20000 a
make_file "$T/b" 20000 b
ua=$(add_build hello "$T/a" --finish-time 1700000000); sign_build hello "$ua" pub1

run petrel status
ok "a fresh state directory has no anchor (a read writes nothing)" test ! -e "$A"
run petrel upgrade hello
is "$rc" 0 "setup: upgrade"
is "$(anchor)" "$(last_row)" "the anchor names the newest row: its id and hash"
is "$(stat -c %a "$A")" 644 "the anchor is 0644, as petrel.db"
ub=$(add_build hello "$T/b" --finish-time 1700001000); sign_build hello "$ub" pub1
run petrel upgrade hello
is "$(anchor)" "$(last_row)" "every commit that appends moves it"
run petrel audit
is "$rc" 0 "a clean audit exits 0"
is "$err" "" "... and reports nothing"
run petrel fsck
is "$rc" 0 "fsck is clean"

# ---- the whole journal and its head row deleted: one SQL script, nothing else left
cp "$A" "$T/anchor.before"
N=$(sql "select max(id) from journal")
sql "delete from journal; delete from journal_head"
snapshot_state
run petrel audit
is "$rc" 6 "journal and head deleted: audit exits 6"
is "$err" "petrel: journal: chain broken at row 1: rows 1 to $N, the last ones, are missing (journal.head records row $N)" \
	"... naming the journal and what the anchor records"
ok "... in one line" one_line
state_unchanged "... and changes no file"
run petrel --json audit
is "$rc" 6 "--json: exit 6"
is "$(jq -c '[.ok, .journal.ok, .journal.first_broken > 0]' <<<"$out")" "[false,false,true]" \
	"--json: the journal is not ok"
cmp -s "$A" "$T/anchor.before" && pass "the audits' own rows do not move the anchor on" ||
	fail "the audits' own rows do not move the anchor on"
run petrel fsck
is "$rc" 6 "fsck exits 6"
like "$out$err" "journal chain broken at row [0-9]+: .*journal.head records" "fsck names the journal"
for i in $(seq 1 "$N"); do petrel pin hello >/dev/null 2>&1; petrel unpin hello >/dev/null 2>&1; done
run petrel audit
is "$rc" 6 "later rows (now past the anchor's id) do not hide it: audit still exits 6"
like "$err" "^petrel: journal: chain broken at row $N: row $N differs from the one journal.head records" \
	"... the row under the anchor's id is another"
run petrel log
like "$err" "journal chain broken at row $N" "log says so too"

# ---- the operator who restored petrel.db (here: accepts the loss) removes the anchor
rm -f "$A"
run petrel audit
is "$rc" 0 "without an anchor (removed by hand) the chain alone is checked: exit 0"
is "$(anchor)" "$(last_row)" "the audit's row writes the anchor again"

# ---- the last rows deleted and the head row moved back to match: the chain is intact
M=$(sql "select max(id) from journal")
sql "delete from journal where id = $M; insert or replace into journal_head (one, id, hash) select 1, id, hash from journal order by id desc limit 1"
run petrel audit
is "$rc" 6 "last row deleted, head row moved back: audit exits 6"
is "$err" "petrel: journal: chain broken at row $M: row $M, the last one, is missing (journal.head records it)" \
	"... the anchor names the missing row"
run petrel fsck
is "$rc" 6 "... fsck too"
rm -f "$A"
run petrel audit
is "$rc" 0 "setup: anchor removed, audit clean again"

# ---- an anchor that does not match what the journal holds
cp "$A" "$T/anchor.good"
printf '%s %s\n' "$(sql 'select max(id) from journal')" \
	"0000000000000000000000000000000000000000000000000000000000000001" >"$A"
run petrel audit --no-rehash
is "$rc" 6 "an anchor whose hash differs from its row: exit 6"
like "$err" "row [0-9]+ differs from the one journal.head records" "... named"
printf 'garbage\n' >"$A"
run petrel audit --no-rehash
is "$rc" 6 "a malformed anchor: exit 6"
like "$err" "journal.head, the journal's anchor, is not 'ID HASH'" "... named"
rm -f "$A"
mkfifo "$A"
run timeout 20 "$PETREL" -c "$T/petrel.conf" audit --no-rehash
is "$rc" 6 "a FIFO as the anchor: exit 6, no hang"
rm -f "$A"
cp "$T/anchor.good" "$A"

# ---- a crash between the commit and the anchor's write leaves the anchor behind
before=$(anchor)
run petrel pin hello
is "$rc" 0 "pin (a journal row)"
isnt "$(anchor)" "$before" "the anchor moved with it"
printf '%s\n' "$before" >"$A"      # as if killed after the commit, before the anchor
run petrel audit
is "$rc" 0 "an anchor one row behind (a crash between commit and anchor) is no finding"
is "$(anchor)" "$(last_row)" "the next append moves it on"
printf '%s\n' "$before" >"$A"
run petrel unpin hello
run petrel pin hello
run petrel fsck
is "$rc" 0 "an anchor several rows behind: fsck clean"

# the same with real kills: pin/unpin killed at random moments, audit clean each time
bad=0
for i in $(seq 1 15); do
	if [ $((i % 2)) = 0 ]; then cmd=pin; else cmd=unpin; fi
	"$PETREL" -c "$T/petrel.conf" "$cmd" hello >/dev/null 2>&1 &
	pid=$!
	nap "0.0$((RANDOM % 6))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if ! "$PETREL" -c "$T/petrel.conf" audit --no-rehash >"$T/kill.out" 2>"$T/kill.err"; then
		bad=$((bad + 1))
		diag "after kill $i: $(cat "$T/kill.err")"
	fi
done
is "$bad" 0 "15 pin/unpin killed with SIGKILL at random moments: audit clean after each"
run petrel fsck
is "$rc" 0 "fsck clean after the kills"

# readers without the lock (audit --no-rehash, log) hold a snapshot that may be older
# than an anchor a writer moved meanwhile: that is no finding either
(for i in $(seq 1 12); do
	"$PETREL" -c "$T/petrel.conf" pin hello >/dev/null 2>&1
	"$PETREL" -c "$T/petrel.conf" unpin hello >/dev/null 2>&1
done) &
writer=$!
bad=0 reads=0
while kill -0 "$writer" 2>/dev/null; do
	reads=$((reads + 1))
	"$PETREL" -c "$T/petrel.conf" audit --no-rehash >/dev/null 2>"$T/race.err" ||
		{ bad=$((bad + 1)); diag "$(cat "$T/race.err")"; }
	"$PETREL" -c "$T/petrel.conf" log -n 1 >/dev/null 2>"$T/race.err" ||
		{ bad=$((bad + 1)); diag "$(cat "$T/race.err")"; }
done
wait "$writer"
is "$bad" 0 "$reads audits and logs beside a writer moving the anchor: no finding"

# ---- the anchor is written with plain syscalls: the fault counts of the data path
# (PETREL_FAULT, t0801) do not include it
run env PETREL_FAULT=rename:1 "$PETREL" -c "$T/petrel.conf" unpin hello
is "$rc" 0 "unpin under PETREL_FAULT=rename:1: no data-path rename, so it succeeds"
is "$(anchor)" "$(last_row)" "... and the anchor follows"
run petrel audit
is "$rc" 0 "audit clean at the end"
