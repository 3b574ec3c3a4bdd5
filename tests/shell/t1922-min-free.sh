#!/usr/bin/env bash
# min_free (issue 13, item 4) on a small tmpfs the test mounts: before a download petrel
# checks the free space against the build's size plus min_free (bytes or percent), runs
# gc when that makes the room, and otherwise refuses with one line (exit 1) before a
# byte is downloaded: never a partial blob. An import checks the same before its blobs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-bundle.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
need_small_fs
plan 27

tmp_empty() { [ -z "$(ls -A "$T/state/tmp" 2>/dev/null)" ]; }
avail() { stat -f -c '%a %S' "$T/state" | { read -r a s; echo $((a * s)); }; }
SIZE=1500000
start_server
make_key pub1
small_fs "$T/state" 8m
conf() { write_config --global "min_free = $1" "keep = 1"; }
conf 0
signed_build B1 "$SIZE" 1700000000
signed_build B2 "$SIZE" 1700001000
run petrel fetch hello
is "$rc" 0 "setup: B1 fetched"
signed_build B3 "$SIZE" 1700002000

# ---------------------------------------------------------------- refused: gc cannot help
conf "$(avail)"
snapshot_state
clear_requests
run petrel fetch hello
is "$rc" 1 "min_free larger than what is left: fetch exits 1"
like "$err" "^petrel: hello: $T/state: No space left on device: [0-9]+ bytes free, the build needs [0-9]+ \\+ min_free [0-9]+ \\(gc would free 0\\); make room or lower min_free$" \
	"... one line: the state directory, what is free, what is needed, what gc could free"
ok "... in one line" one_line
is "$(request_count '/f/bin/hello.hvt')" 0 "... and not one byte was downloaded"
ok "... tmp/ is empty: no partial blob" tmp_empty
state_unchanged "... nothing stored"
is "$(sql 'select count(*) from versions')" 1 "... still one version"

conf 95%
run petrel fetch hello
is "$rc" 1 "min_free = 95%: refused too"
like "$err" "min_free [0-9]+ " "... with min_free in bytes"
run petrel upgrade hello
is "$rc" 1 "upgrade is refused the same way"
is "$(sql 'select count(*) from versions')" 1 "... nothing stored"

# ---------------------------------------------------------------- gc makes the room
conf 0
run petrel fetch hello
is "$rc" 0 "setup: B3 fetched (B1 and B3 in the store, B2 never was)"
signed_build B4 "$SIZE" 1700003000
# room for B4 only once gc (keep = 1) removed B1: the newest (B3) stays
conf $(( $(avail) - SIZE + 200000 ))
run petrel fetch hello
is "$rc" 0 "min_free met only after gc: fetch exits 0"
like "$err" "running gc" "... saying gc runs"
is "$(sql "select group_concat(uuid, ' ') from (select uuid from versions order by id)")" "$B3U $B4U" \
	"... gc removed B1 (keep = 1; the newest, B3, stays), B4 is stored"
is "$(sql "select count(*) from journal where event = 'gc' and target = 'hello'")" 1 "... a gc journal row"
ok "... tmp/ is empty" tmp_empty
run petrel fsck
is "$rc" 0 "... fsck is clean"

# ---------------------------------------------------------------- the configuration
write_config --global "min_free = 5x"
run petrel status
is "$rc" 2 "min_free = 5x: a configuration error"
like "$err" "min_free: '5x' is not a size" "... naming the key and the value"
write_config --global "min_free = 100%"
run petrel status
is "$rc" 2 "min_free = 100%: a configuration error"
write_config --global "min_free = 2G"
run petrel fetch hello
is "$rc" 0 "min_free = 2G: nothing to download, nothing refused"

# ---------------------------------------------------------------- import checks before its blobs
conf 0
run petrel export hello --uuid "$B4U" "$T/b4.tar"
is "$rc" 0 "setup: B4 exported"
rm -rf "${T:?}/state/"* "$T/state/.petrel-state"
conf "$(avail)"
run petrel import "$T/b4.tar"
is "$rc" 1 "import into a state directory without room: exit 1"
like "$err" "No space left on device: .*min_free" "... saying so"
ok "... tmp/ is empty" tmp_empty
