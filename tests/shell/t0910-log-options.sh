#!/usr/bin/env bash
# petrel log -n, --since, --follow; log and history rows in 100 columns. The journal is
# written with python's sqlite3 (rows at chosen times, the chain and head as petrel
# computes them), so --since has rows on both sides of each bound.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 63

# ids ARGS… — the ids `petrel log ARGS…` prints, on one line
ids() { petrel log "$@" 2>/dev/null | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//'; }
# py CODE — python with stdin, $1… as sys.argv[1:]
py() { local code=$1; shift; "${PY[@]}" -c "$code" "$@"; }

start_server
make_key pub1
write_config --global "lock_timeout = 1" "[target \"other\"]" "server = bw" "job = other" \
	"path = $T/deploy/other.hvt" "trust = server"
run petrel log
is "$rc$out" 0 "an empty journal: exit 0, no rows"
petrel -q fsck >/dev/null 2>&1	# a read creates nothing: a writing command makes the store

# ---- a journal with rows at chosen times (D: a day five days ago, UTC)
now=$(date +%s)
B=$(((now / 86400 - 5) * 86400))
D=$(date -u -d "@$B" +%F)
LONG="$(printf 'détail %.0s' {1..40})end"
py '
import hashlib, sqlite3, sys
db, rows = sqlite3.connect(sys.argv[1]), []
B, now, long = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for t, target, event, detail in [
        (B - 1, "hello", "fetch", "one"), (B, "hello", "upgrade", "two"),
        (B + 36000 - 1, "other", "fetch", "three"), (B + 36000, "hello", "fetch", "four"),
        (B + 36030, "hello", "upgrade", "five"), (now - 3 * 3600 - 60, "other", "upgrade", "six"),
        (now - 90 * 60, "hello", "revert", "seven"), (now - 600, "hello", "fetch", long)]:
    prev = db.execute("select hash from journal order by id desc limit 1").fetchone()
    prev = prev[0] if prev else "0" * 64
    h = hashlib.sha256("\n".join([prev, str(t), target, event, detail]).encode()).hexdigest()
    cur = db.execute("insert into journal (time, target, event, detail, prev, hash) values (?,?,?,?,?,?)",
                     (t, target, event, detail, prev, h))
    db.execute("insert or replace into journal_head (one, id, hash) values (1, ?, ?)", (cur.lastrowid, h))
db.commit()
' "$T/state/petrel.db" "$B" "$now" "$LONG"
run petrel log
is "$rc" 0 "log: exit 0"
is "$err" "" "the chain written by hand holds (nothing on stderr)"
is "$(ids)" "1 2 3 4 5 6 7 8" "log: every row, oldest first"

# ---- -n N
is "$(ids -n 3)" "6 7 8" "-n 3: the last three, oldest first"
is "$(ids --lines=2)" "7 8" "--lines=2 as well"
is "$(ids -n 2 hello)" "7 8" "-n 2 TARGET: that target's last two"
is "$(ids other -n 5)" "3 6" "-n larger than the target's rows: all of them"
is "$(ids -n 0)" "" "-n 0: none"
run petrel log -n x
is "$rc" 2 "-n x: exit 2"
like "$err" "^petrel: option '-n' takes a number of rows, not 'x'; usage: petrel log" "-n x: names the option"
run petrel log -n -1
is "$rc" 2 "-n -1: exit 2"

# ---- --since TIME, every form
is "$(ids --since "$D")" "2 3 4 5 6 7 8" "--since DATE: from its midnight (UTC) on"
is "$(ids --since "${D}Z")" "2 3 4 5 6 7 8" "--since DATEZ: the same"
is "$(ids --since "$D 10:00")" "4 5 6 7 8" "--since 'DATE HH:MM': from that minute on"
is "$(ids --since "${D}T10:00:00Z")" "4 5 6 7 8" "--since RFC 3339: at or after it"
is "$(ids --since "${D}T10:00:01Z")" "5 6 7 8" "--since RFC 3339, a second later: the row at 10:00:00 is out"
is "$(ids --since "${D}T11:00:00+01:00")" "4 5 6 7 8" "--since with an offset"
is "$(ids --since "$D 10:00:30")" "5 6 7 8" "--since 'DATE HH:MM:SS'"
is "$(ids --since 1d)" "6 7 8" "--since 1d: the last day"
is "$(ids --since 2h)" "7 8" "--since 2h"
is "$(ids --since 30m)" "8" "--since 30m"
is "$(ids --since 3600s)" "8" "--since 3600s"
is "$(ids --since "$D" hello)" "2 4 5 7 8" "--since with a TARGET: that target's rows only"
is "$(ids --since "$D" -n 2 other)" "3 6" "--since, -n and a TARGET together"
is "$(ids --since 2h -n 1)" "8" "--since and -n: the last of the rows since"
for bad in yesterday 90 2026-13-01 "$D 25:00" "${D}T10" 1w; do
	run petrel log --since "$bad"
	[ "$rc" = 2 ] && [[ $err == *"option '--since' takes a time"*"not '$bad'"* ]] ||
		{ fail "--since '$bad': exit 2 naming the option"; diag "rc=$rc err=$err"; continue; }
	pass "--since '$bad': exit 2 naming the option"
done

run petrel log --since=
like "$rc $err" "^2 petrel: option '--since' needs a value \(TIME\)" "--since= (empty): exit 2, needs a value"

# ---- --json: the rows asked for, the chain counted over the whole journal
run petrel --json log -n 2
is "$(printf '%s' "$out" | py 'import json,sys; j=json.load(sys.stdin); print(j["journal"], [e["id"] for e in j["events"]])')" \
	"{'ok': True, 'rows': 2, 'first_broken': None} [7, 8]" "--json -n 2: the two rows, the chain ok"
like "$out" "\"detail\":\"$LONG\"" "--json: the long detail whole"

# ---- rows fit in 100 columns; -v shows the detail whole
run petrel log
is "$(printf '%s\n' "$out" | py 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin))')" 100 \
	"log: the longest row is 100 columns (characters, not bytes)"
like "$(printf '%s\n' "$out" | tail -n 1)" "^ +8 .* fetch +détail détail .*…$" "the long detail is cut with …"
run petrel -v log
like "$out" "${LONG}\$" "-v: the detail whole"

# ---- a broken chain is found over the whole journal, whichever rows are shown
sql "update journal set detail = 'edited' where id = 2"
run petrel log -n 2
is "$(printf '%s\n' "$out" | awk '{print $1}' | tr '\n' ' ')" "7 8 " "-n 2 of a tampered journal: still the last two"
like "$err" "journal chain broken at row 2" "the row edited before them is named"
like "$out" "^ +7 [^ ]+ ! hello" "and the rows shown after it are marked"
run petrel --json log --since 30m
like "$out" '"first_broken":2' "--json --since: first_broken over the whole journal"
like "$out" '"chain_ok":false' "and the row shown is not ok"
sql "update journal set detail = 'two' where id = 2"
run petrel log -n 1
is "$err" "" "the chain holds again"

# ---- --follow: a row another command writes while it runs; SIGTERM, SIGINT
"$PETREL" -c "$T/petrel.conf" log --follow -n 1 >"$T/f.out" 2>"$T/f.err" &
FPID=$!
at_exit "kill -9 $FPID 2>/dev/null"
ok "--follow prints the last row first" wait_for grep -q "^ *8 " "$T/f.out"
run petrel gc
is "$rc" 0 "a command that takes the lock runs meanwhile (lock_timeout = 1): follow does not hold it"
ok "--follow prints the rows gc wrote" wait_for grep -qE "^ *10 .* other +gc " "$T/f.out"
is "$(awk '{print $1, $4}' "$T/f.out" | tr '\n' ' ')" "8 fetch 9 gc 10 gc " "in order, each once"
kill -TERM "$FPID"
wait "$FPID" && st=0 || st=$?
is "$st" 143 "SIGTERM: exit 143"
is "$(cat "$T/f.err")" "petrel: log: stopped by SIGTERM; nothing is left half done" \
	"one line says so, as every command does"

"$PETREL" -c "$T/petrel.conf" --json log -f -n 0 hello >"$T/j.out" 2>"$T/j.err" &
FPID=$!
at_exit "kill -9 $FPID 2>/dev/null"
ok "--follow -n 0 prints nothing at first" wait_for [ -e "$T/j.out" ]
nap 0.3
run petrel gc
ok "--json --follow: the new row of the target comes" wait_for grep -q '"gc"' "$T/j.out"
nap 0.6	# the other target's row, which must not come, would have by now
kill -INT "$FPID"
wait "$FPID" && st=0 || st=$?
is "$st" 130 "SIGINT: exit 130"
like "$(cat "$T/j.err")" "stopped by SIGINT" "one line says so"
is "$(py '
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    print(j["id"], j["target"], j["event"], j["chain_ok"])
' "$T/j.out")" "11 hello gc True" "--json --follow: one JSON object per line (NDJSON), only the target's"

run petrel log --follow hello extra
is "$rc" 2 "--follow with two arguments: still a usage error"

# ---- history: rows in 100 columns, a long reason on its own line, cut; -v whole
make_file "$T/a" 4096 a
make_file "$T/b" 4096 b
ua=$(add_build hello "$T/a" --finish-time $((now - 60))); sign_build hello "$ua" pub1
petrel upgrade hello >/dev/null 2>&1
ub=$(add_build hello "$T/b" --finish-time "$now"); sign_build hello "$ub" pub1
petrel upgrade hello >/dev/null 2>&1
REASON="health check $(printf 'reason %.0s' {1..30})end"
sql "update generations set state = 'failed', reason = '$REASON' where number = 1"
run petrel history hello
is "$rc" 0 "history: exit 0"
is "$(printf '%s\n' "$out" | py 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin) <= 100)')" True \
	"history: every line fits in 100 columns"
is "$(printf '%s\n' "$out" | awk '$1 ~ /^[0-9]+$/ {print $1, $2}' | tr '\n' ' ')" "2 current 1 previous " \
	"history: generation, mark first"
like "$out" "^ +1 previous .* $ua [0-9a-f]{12} failed$" "the failed generation's row"
like "$out" "^      reason: health check reason .*…$" "its reason on the next line, cut with …"
run petrel -v history hello
like "$out" "^      reason: ${REASON}\$" "-v: the reason whole"
run petrel --json history hello
like "$out" "\"reason\":\"$REASON\"" "--json: the reason whole"
