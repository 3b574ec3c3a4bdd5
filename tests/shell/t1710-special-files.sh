#!/usr/bin/env bash
# Special files where petrel expects a regular file: a FIFO at PATH.petrel-prev never holds
# upgrade, revert or audit; a blob replaced by a symlink to /dev/zero (or grown) is refused
# before anything is written; a deployed path that is a symlink, a directory or a FIFO is
# never replaced; --metrics never replaces a device node, a FIFO or a directory.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 48

D="$T/deploy/hello.hvt"
blob_of() { echo "$T/state/objects/sha256/${1:0:2}/${1:2}"; }
kind() { stat -c %F "$1" 2>/dev/null || echo missing; }
# reg_sha FILE — sha256 of FILE when it is a regular file (hashing a FIFO would hang), else its kind
reg_sha() { if [ -f "$1" ] && [ ! -L "$1" ]; then sha256_of "$1"; else kind "$1"; fi; }

start_server
make_key pub1
write_config
for i in 1 2 3; do
	make_file "$T/b$i" 200000 "special-$i"
	u[$i]=$(add_build hello "$T/b$i" --finish-time "170000000$i")
	sign_build hello "${u[$i]}" pub1
	s[$i]=$(sha256_of "$T/b$i")
done
run petrel upgrade hello --to "${u[1]}"
r1=$rc
run petrel upgrade hello --to "${u[2]}"
is "$r1 $rc $(sha256_of "$D")" "0 0 ${s[2]}" "setup: builds 1 and 2 deployed"

# ---- a FIFO at PATH.petrel-prev: ignored (the name is petrel's), replaced by the file kept
rm -f "$D.petrel-prev"
mkfifo "$D.petrel-prev"
run petrel revert hello
is "$rc" 0 "revert with a FIFO at PATH.petrel-prev finishes (exit 0, no hang)"
is "$(reg_sha "$D")" "${s[1]}" "... build 1 is deployed, copied from the store"
is "$(reg_sha "$D.petrel-prev")" "${s[2]}" \
	"... and PATH.petrel-prev is a regular file holding build 2"
rm -f "$D.petrel-prev"
mkfifo "$D.petrel-prev"
run petrel upgrade hello --to "${u[3]}"
is "$rc" 0 "upgrade with a FIFO at PATH.petrel-prev finishes (exit 0, no hang)"
is "$(reg_sha "$D")" "${s[3]}" "... build 3 is deployed"
is "$(kind "$D.petrel-prev")" "regular file" "... PATH.petrel-prev is a regular file again"
rm -f "$D.petrel-prev"
mkfifo "$D.petrel-prev"
run petrel audit
isnt "$rc" 124 "audit with a FIFO at PATH.petrel-prev finishes (no hang)"
like "$out$err" "petrel-prev: not a regular file" "... and reports it as not a regular file"
rm -f "$D.petrel-prev"

# ---- the previous build's blob replaced: revert refuses before anything is written
B1=$(blob_of "${s[1]}")
cur=$(sql "select current || ' ' || previous from targets where name = 'hello'")
rm -f "$B1"
ln -s /dev/zero "$B1"
snapshot_state
run petrel revert hello
is "$rc" 6 "revert to a blob that is a symlink to /dev/zero exits 6 (the store is corrupt)"
like "$err" "build ${u[1]} cannot be deployed: .*${s[1]:2}: not a regular file \\(run petrel fsck\\)" \
	"... naming the build and the blob that is not a regular file"
state_unchanged "... nothing written: the deployed file, the store, tmp/"
nok "... no PATH.petrel-new was started" [ -e "$D.petrel-new" ]
is "$(sql "select current || ' ' || previous from targets where name = 'hello'")" "$cur" \
	"... the pointers did not move"
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"
rm -f "$B1"
{ cat "$T/b1"; head -c 1048576 /dev/zero; } >"$B1"
snapshot_state
run petrel revert hello
is "$rc" 6 "revert to a blob longer than its recorded size exits 6"
like "$err" "${s[1]:2}: 1248576 bytes, the store records 200000" "... saying both sizes"
state_unchanged "... nothing written"
rm -f "$B1"
cp "$T/b1" "$B1"
chmod 0444 "$B1"
run petrel revert hello
is "$rc $(sha256_of "$D")" "0 ${s[1]}" "with the blob restored the revert goes through"

# ---- the deployed path is not a regular file: never replaced
cp "$D" "$T/kept"
rm -f "$D"
ln -s "$T/kept" "$D"
snapshot_state
run petrel revert hello
is "$rc" 1 "revert over a deployed path that is a symlink exits 1"
like "$err" "hello.hvt is a symbolic link, not a regular file; petrel replaces only a regular file" \
	"... saying what is there"
state_unchanged "... the link and everything else unchanged"
is "$(readlink "$D") $(sha256_of "$T/kept")" "$T/kept ${s[1]}" "... the link still names the same file"
is "$(sql 'select count(*) from intents')" 0 "... no intent is left"
rm -f "$D"
mkdir "$D"
snapshot_state
run petrel upgrade hello --to "${u[2]}"
is "$rc" 2 "upgrade over a deployed path that is a directory: a configuration error (exit 2, t1700)"
like "$err" "path '$D' is a directory" "... saying what is there"
state_unchanged "... the directory and everything else unchanged"
rmdir "$D"
mkfifo "$D"
snapshot_state
run petrel revert hello
is "$rc" 1 "revert over a deployed path that is a FIFO exits 1 (no hang)"
like "$err" "hello.hvt is a FIFO, not a regular file" "... saying what is there"
state_unchanged "... the FIFO and everything else unchanged"
is "$(kind "$D")" "fifo" "... it is still a FIFO"
rm -f "$D"
mv "$T/kept" "$D"

# ---- --metrics FILE that is not a regular file is refused, never replaced
M="$T/metrics"
mkdir -p "$M"
mkfifo "$M/fifo"
run petrel audit --metrics "$M/fifo"
is "$rc" 2 "audit --metrics FIFO exits 2"
like "$err" "--metrics $M/fifo: exists and is a FIFO; refusing to replace it" "... saying why"
is "$(kind "$M/fifo")" "fifo" "... the FIFO is still a FIFO"
if mknod "$M/null" c 1 3 2>/dev/null; then	# a /dev/null of our own: the real one is shared
	run petrel audit --metrics "$M/null"
	is "$rc" 2 "audit --metrics DEVICE exits 2"
	like "$err" "exists and is a character device; refusing to replace it" "... saying why"
	is "$(stat -c '%F %t:%T' "$M/null")" "character special file 1:3" \
		"... the device node is still the same device"
	run petrel daemon --once --metrics "$M/null"
	is "$rc" 2 "daemon --once --metrics DEVICE exits 2"
	like "$err" "exists and is a character device" "... at start, before any cycle"
	is "$(kind "$M/null")" "character special file" "... the node is still a device"
else
	skip "mknod is not permitted here" 6
fi
mkdir "$M/dir"
run petrel audit --metrics "$M/dir"
is "$rc" 2 "audit --metrics DIRECTORY exits 2"
like "$err" "exists and is a directory" "... saying why"
ok "... the directory is still there" [ -d "$M/dir" ]
run petrel audit --metrics "$M/petrel.prom"
is "$rc $(kind "$M/petrel.prom")" "0 regular file" "a metrics file that does not exist yet is written"

# ---- STATE/lock that is a FIFO: refused at once, never written into
rm -f "$T/state/lock"
mkfifo "$T/state/lock"
run petrel fsck
is "$rc" 1 "a FIFO at STATE/lock: the command exits 1 (no hang)"
like "$err" "state/lock: not a regular file" "... saying the lock is not a regular file"
is "$(kind "$T/state/lock")" "fifo" "... and leaves the FIFO as it is"
rm -f "$T/state/lock"
run petrel fsck
is "$rc" 0 "with the FIFO gone the lock is a file again"
