#!/usr/bin/env bash
# petrel log: the journal of what happened, and a chain that shows tampering.
. "$(dirname "$0")/lib.sh"
plan 13

start_server
make_key pub1
write_config
now=$(date +%s)
make_file "$T/a" 20000 1
make_file "$T/b" 20000 2
ua=$(add_build hello "$T/a" --finish-time $((now - 60))); sign_build hello "$ua" pub1
petrel upgrade hello >/dev/null 2>&1
ub=$(add_build hello "$T/b" --finish-time "$now"); sign_build hello "$ub" pub1
petrel upgrade hello >/dev/null 2>&1
petrel revert hello >/dev/null 2>&1

run petrel log
is "$rc" 0 "log exits 0"
is "$(printf '%s\n' "$out" | awk '{print $4}' | tr '\n' ' ')" "fetch upgrade fetch upgrade revert reject " \
	"every action is a row, oldest first (a revert back rejects the build left)"
like "$out" "uuid=$ub" "rows name the build"
run petrel log nosuch
is "$(printf '%s' "$out" | grep -c .)" 0 "log for a target with no rows prints none"
run petrel --json log hello
is "$(printf '%s' "$out" | "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(j["journal"], len(j["events"]))')" \
	"{'ok': True, 'rows': 6, 'first_broken': None} 6" "--json: the chain holds over 6 rows"

sqlite3 "$T/state/petrel.db" "update journal set detail = 'edited' where id = 3"
run petrel log
is "$rc" 0 "log of a tampered journal still prints it"
like "$err" "journal chain broken at row 3" "and says where the chain breaks"
like "$(printf '%s\n' "$out" | sed -n 3p)" " ! " "the edited row is marked"
unlike "$(printf '%s\n' "$out" | sed -n 2p)" " ! " "the rows before it are not"
run petrel --json log
like "$out" '"first_broken":3' "--json names the first broken row"
run petrel fsck
is "$rc" 6 "fsck finds the broken chain (exit 6)"

sqlite3 "$T/state/petrel.db" "update journal set detail = (select detail from journal where id = 4) where id = 3"
sqlite3 "$T/state/petrel.db" "delete from journal where id = 2"
run petrel --json log
like "$out" '"first_broken":3' "a deleted row breaks the chain at the row after it"
run petrel log extra args
is "$rc" 2 "log with two arguments is a usage error"
