#!/usr/bin/env bash
# gc: retention per target 'keep' — which versions go (never current, previous, the
# newest generation's or the newest verified build), their generations, the blobs no
# version references any more (shared ones stay), --dry-run, --json, the journal,
# revert and history afterwards, faults between the rows and the unlinks, strays.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 80

pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
blob() { echo "$T/state/objects/sha256/${1:0:2}/${1:2}"; }
has_blob() { test -f "$(blob "$1")"; }
uuids() { sql "select uuid from versions where target = '${1:-hello}' order by timestamp"; }
gens() { sql "select group_concat(number, ' ') from (select number from generations where target = '${1:-hello}' order by number)"; }
gc_rows() { sql "select count(*) from journal where event = 'gc' and target = '${1:-hello}'"; }
last_gc() { sql "select detail from journal where event = 'gc' and target = '${1:-hello}' order by id desc limit 1"; }

start_server
make_key pub1
P="$T/deploy/hello.hvt"
conf() {
	write_config "keep = 3" "$@" \
		"[target \"other\"]" "server = bw" "job = hello" "path = $T/deploy/other.hvt" \
		"keys = $T/pub1.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig" \
		"keep = 1"
}
# keep = 3 as a target key: write_config appends unknown keys to [target "hello"]
conf

# newbuild NAME FINISH — a signed build of job hello; sets ${NAME}U and ${NAME}H.
newbuild() {
	make_file "$T/$1.hvt" $((50000 + $2 % 997)) "$1"
	local u
	u=$(add_build hello "$T/$1.hvt" --filename hello.hvt --finish-time "$2") || BAIL_OUT "add_build"
	sign_build hello "$u" pub1 || BAIL_OUT "sign_build"
	printf -v "${1}U" '%s' "$u"
	printf -v "${1}H" '%s' "$(sha256_of "$T/$1.hvt")"
}
step() { run petrel "$@"; [ "$rc" = 0 ] || BAIL_OUT "petrel $*: exit $rc: $err"; }

# hello: B1 g1, B2 g2, B3 fetched, B4 g3, B5 g4, B6 B7 B8 fetched, then back to B2 (g5)
newbuild B1 1700000000; step upgrade hello
newbuild B2 1700001000; step upgrade hello
newbuild B3 1700002000; step fetch hello
newbuild B4 1700003000; step upgrade hello
newbuild B5 1700004000; step upgrade hello
newbuild B6 1700005000; step fetch hello
newbuild B7 1700006000; step fetch hello
newbuild B8 1700007000; step fetch hello
step upgrade hello --to "$B2U" --allow-downgrade
# other shares B1's blob
step upgrade other --to "$B1U"
is "$(sql "select current || ' ' || previous from targets where name = 'hello'")" "5 4" \
	"setup: hello's current generation 5 (B2), previous 4 (B5)"
is "$(sql 'select count(*) from versions')" 9 "setup: 9 version rows (8 of hello, 1 of other)"

# ======================================================= --dry-run
snapshot_state
n_journal=$(sql 'select count(*) from journal')
run petrel gc --dry-run
is "$rc" 0 "gc --dry-run: exit 0"
like "$out" "^hello: would remove 3 versions \(2 generations\), kept 5 \(keep = 3\)" \
	"gc --dry-run: hello would lose 3 versions, keep 5"
like "$out" "hello: would remove $B1U" "gc --dry-run: lists B1"
like "$out" "hello: would remove $B3U" "gc --dry-run: lists B3"
like "$out" "hello: would remove $B4U" "gc --dry-run: lists B4"
like "$out" "^gc: would remove 2 blobs" "gc --dry-run: would remove 2 blobs (B1's is shared)"
state_unchanged "gc --dry-run: nothing changed on disk"
is "$(sql 'select count(*) from journal')" "$n_journal" "gc --dry-run: no journal row"
is "$(gens)" "1 2 3 4 5" "gc --dry-run: every generation is still there"
run petrel --json gc --dry-run
is "$rc" 0 "gc --json --dry-run: exit 0"
is "$(printf '%s' "$out" | pyj '(j["dry_run"], j["targets"][0]["name"], j["targets"][0]["removed_versions"], j["targets"][0]["kept"], j["targets"][0]["removed_generations"], j["blobs_removed"])')" \
	"(True, 'hello', 3, 5, 2, 2)" "gc --json --dry-run: dry_run, removed_versions 3, kept 5, 2 generations, 2 blobs"
is "$(printf '%s' "$out" | pyj '[v["uuid"] for v in j["targets"][0]["removed"]] == ["'"$B1U"'", "'"$B3U"'", "'"$B4U"'"]')" \
	True "gc --json --dry-run: removed lists B1, B3, B4, oldest first"
state_unchanged "gc --json --dry-run: nothing changed"

# ======================================================= gc
echo junk >"$T/state/tmp/dl-stale"
run petrel gc
is "$rc" 0 "gc: exit 0"
like "$out" "^hello: removed 3 versions \(2 generations\), kept 5 \(keep = 3\)" "gc: hello lost 3 versions"
like "$out" "^other: removed 0 versions \(0 generations\), kept 1 \(keep = 1\)" "gc: other lost none"
bytes=$(( $(stat -c %s "$T/B3.hvt") + $(stat -c %s "$T/B4.hvt") ))
like "$out" "^gc: removed 2 blobs \(0 no version referenced\), $bytes bytes" "gc: 2 blobs, their bytes"
is "$(uuids | tr '\n' ' ')" "$B2U $B5U $B6U $B7U $B8U " \
	"gc: hello keeps current (B2), previous (B5) and the 3 newest (B6 B7 B8, B8 staged)"
is "$(gens)" "2 4 5" "gc: generations 1 and 3 (of B1 and B4) went with their versions"
nok "gc: B3's blob is gone" has_blob "$B3H"
nok "gc: B4's blob is gone" has_blob "$B4H"
ok "gc: B1's blob stays (target other references it)" has_blob "$B1H"
for b in B2 B5 B6 B7 B8; do
	h=${b}H
	ok "gc: $b's blob stays" has_blob "${!h}"
done
ok "gc: a stale file in tmp/ is removed" test ! -e "$T/state/tmp/dl-stale"
is "$(gc_rows)" 1 "gc: one journal row 'gc' for hello"
is "$(last_gc)" "versions=3 generations=2 blobs=2 bytes=$bytes kept=5 keep=3" \
	"gc: the journal row says what went"
is "$(gc_rows other)" 1 "gc: one journal row 'gc' for other"
run petrel fsck
is "$rc" 0 "fsck after gc: clean"
run petrel audit
is "$rc" 0 "audit after gc: clean (the journal's chain holds)"

# ======================================================= history, status, revert after gc
run petrel history hello
is "$rc" 0 "history after gc: exit 0"
is "$(printf '%s\n' "$out" | awk 'NR > 1 {print $1}' | tr '\n' ' ')" "5 4 2 " \
	"history after gc: generations 5, 4, 2"
run petrel --json history hello
is "$(printf '%s' "$out" | pyj '[g["generation"] for g in j["targets"][0]["generations"]]')" \
	"[5, 4, 2]" "history --json after gc"
run petrel --json status hello
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["current"]["uuid"], j["targets"][0]["staged"]["uuid"])')" \
	"('$B2U', '$B8U')" "status after gc: current B2, staged B8"
run petrel revert hello
is "$rc" 0 "revert after gc: exit 0"
ok "revert after gc: the path holds B5" cmp -s "$P" "$T/B5.hvt"
run petrel revert hello
is "$rc" 0 "second revert after gc: exit 0"
ok "second revert after gc: the path holds B2" cmp -s "$P" "$T/B2.hvt"

run petrel gc hello
is "$rc" 0 "gc again: exit 0"
like "$out" "^hello: removed 0 versions" "gc again: nothing more to remove"
unlike "$out" "^other:" "gc hello: only the named target"
is "$(gc_rows)" 2 "gc again: a second journal row for hello"
is "$(gc_rows other)" 1 "gc hello: no row for other"

# ======================================================= the shared blob goes with its last reference
step upgrade other
step upgrade other --to "$B7U" --allow-downgrade
run petrel gc other
is "$rc" 0 "gc other: exit 0"
like "$out" "^other: removed 1 version \(1 generation\), kept 2 \(keep = 1\)" \
	"gc other (keep = 1): B1 goes, current B7 and previous B8 stay"
nok "gc other: B1's blob is gone now that no version references it" has_blob "$B1H"
is "$(uuids other | tr '\n' ' ')" "$B7U $B8U " "gc other: other keeps B7 and B8"
ok "gc other: hello's B7 and B8 blobs stay" has_blob "$B7H"

# ======================================================= a stray file in objects/
mkdir -p "$T/state/objects/sha256/ab"
echo x >"$T/state/objects/sha256/ab/not-a-hash"
run petrel gc
is "$rc" 0 "gc with a stray file: exit 0"
like "$err" "objects/sha256/ab/not-a-hash: not a blob name" "gc with a stray: reports it"
ok "gc with a stray: leaves it (fsck's to report)" test -f "$T/state/objects/sha256/ab/not-a-hash"
run petrel --json gc --dry-run
is "$(printf '%s' "$out" | pyj 'j["strays"]')" "['objects/sha256/ab/not-a-hash']" "gc --json: strays"
rm -f "$T/state/objects/sha256/ab/not-a-hash"

# ======================================================= faults between the rows and the unlinks
newbuild B9 1700008000; step fetch hello
# keep 3: B9 B8 B7 newest, B2 current, B5 previous: B6 goes
run env PETREL_FAULT=unlink:1 "$PETREL" -c "$T/petrel.conf" gc hello
is "$rc" 1 "unlink failing: exit 1"
like "$err" "cannot remove blob" "unlink failing: says so"
is "$(sql "select count(*) from versions where uuid = '$B6U'")" 0 "unlink failing: B6's row is gone (rows first)"
ok "unlink failing: B6's blob is left" has_blob "$B6H"
run petrel fsck
is "$rc" 0 "unlink failing: fsck clean (a blob without a row is no finding)"
run petrel gc
is "$rc" 0 "next gc: exit 0"
like "$out" "^gc: removed 1 blob \(1 no version referenced\)" "next gc: removes the orphan"
nok "next gc: B6's blob is gone" has_blob "$B6H"
is "$(sql "select detail from journal where event = 'gc' and target = '' order by id desc limit 1")" \
	"orphans=1 bytes=$(stat -c %s "$T/B6.hvt")" \
	"next gc: a store-wide journal row for the orphan"

newbuild B10 1700009000; step fetch hello
# B10 B9 B8 newest: B7 goes from hello, but other's row keeps its blob; so does B8's
step upgrade other
run petrel gc other
is "$rc" 0 "setup: other moves on"
newbuild B11 1700010000; step fetch hello
run env PETREL_FAULT=fsync:1 "$PETREL" -c "$T/petrel.conf" gc hello
is "$rc" 1 "fsync of the directory failing: exit 1"
like "$err" "cannot make the removal durable" "fsync failing: says so"
run petrel fsck
is "$rc" 0 "fsync failing: fsck clean"
run petrel gc
is "$rc" 0 "gc after the fsync failure: exit 0"
run petrel fsck
is "$rc" 0 "fsck at the end: clean"
n_files=$(find "$T/state/objects" -type f | wc -l)
is "$n_files" "$(sql 'select count(distinct sha256) from versions')" "objects/ holds exactly the referenced blobs"

# ======================================================= usage, lock
run petrel gc --bogus
is "$rc" 2 "gc --bogus: exit 2"
run petrel gc nosuch
is "$rc" 2 "gc of an unknown target: exit 2"
like "$err" "nosuch" "gc of an unknown target: names it"
run "$PETREL" --help
like "$out" "gc \[TARGET...\] \[--dry-run\]" "--help lists gc"
if command -v flock >/dev/null; then
	conf --global "lock_timeout = 1"
	# -o: only flock holds the lock, so killing it frees the lock
	flock -o "$T/state/lock" sleep 60 &
	lk=$!
	wait_for -t 20 eval '! flock -n -s "$T/state/lock" true' || BAIL_OUT "flock did not take the lock"
	snapshot_state
	run petrel gc
	kill "$lk" 2>/dev/null
	wait "$lk" 2>/dev/null
	is "$rc" 1 "gc while another holds the lock: exit 1"
	like "$err" "lock" "gc while another holds the lock: says so"
	state_unchanged "gc while another holds the lock: nothing changed"
else
	skip "flock not installed" 3
fi
