#!/usr/bin/env bash
# Paths that must not be targets and the state directory's hygiene: a deploy path in
# the state directory, '/', a directory, a path ending in '/', two targets on one file
# spelled differently, a target on another's .petrel-new/.petrel-prev, keys beside
# trust = server, a NUL byte in the configuration: configuration errors (exit 2)
# naming file:line, before anything changes. A state directory others may write to or
# another user owns is refused; tmp/ is cleaned only in a directory petrel marked.
. "$(dirname "$0")/lib.sh"

[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 148

start_server
make_key pub1
C="$T/petrel.conf"
S="$T/state"
make_file "$T/one.bin" 5000 one
U1=$(add_build hello "$T/one.bin") || BAIL_OUT "add_build"
sign_build hello "$U1" pub1 || BAIL_OUT "sign_build"
write_config
run petrel upgrade hello
is "$rc" 0 "a first upgrade deploys" || diag "$err"

# ---------------------------------------------------------------- the marker
like "$(head -n1 "$S/.petrel-state" 2>/dev/null)" "^petrel state directory$" \
	"a new state directory gets the marker .petrel-state"
is "$(stat -c %a "$S")" 755 "the state directory is mode 0755"

# line_of TEXT — the line of $C holding TEXT (fixed string, the first one)
line_of() { grep -nF -- "$1" "$C" | head -n1 | cut -d: -f1; }

# refused NAME ERE — upgrade exits 2 naming $C:LINE with ERE, asks no server and
# changes nothing (the store, the deployed file, petrel.db)
refused() {
	local name=$1 ere=$2 db
	db=$(sha256_of "$S/petrel.db")
	snapshot_state
	clear_requests
	run petrel upgrade hello
	is "$rc" 2 "$name: exit 2"
	like "$err" "^petrel: $C:$ere\$" "$name: file:line, target and reason"
	is "$(request_count .)" 0 "$name: no server asked"
	state_unchanged "$name: nothing changed"
	is "$(sha256_of "$S/petrel.db")" "$db" "$name: petrel.db unchanged"
}
TWO=('[target "two"]' "server = bw" "job = other" "trust = server")

# ---------------------------------------------------------------- item 3: paths
write_config "path = $S/petrel.db"
refused "path is petrel.db" "$(line_of "path = ")"": target hello: path '$S/petrel.db' is inside the state directory $S"
# every command that loads the configuration refuses it
for cmd in "status" "history hello" "log" "audit" "check" "fetch" "revert hello" "fsck" \
	"gc" "list hello" "pin hello" "daemon --once"; do
	# shellcheck disable=SC2086
	run petrel $cmd
	is "$rc:$err" "2:petrel: $C:$(line_of "path = "): target hello: path '$S/petrel.db' is inside the state directory $S" \
		"path is petrel.db: '$cmd' refuses it"
done
ln -s state "$T/statelink"
write_config "path = $T/statelink/objects/../tmp/x"
refused "path in the state directory through a symlink" \
	"[0-9]+: target hello: path '$T/statelink/objects/../tmp/x' is inside the state directory $S"
write_config "path = $S/new"
sed -i "s|^state_dir = .*|state_dir = $T/statelink/|" "$C"
refused "state_dir spelled through a symlink" \
	"[0-9]+: target hello: path '$S/new' is inside the state directory $T/statelink/"
write_config "path = /"
refused "path /" "[0-9]+: target hello: path '/' ends in '/': it must name a file, not a directory"
write_config "path = $T/deploy"
refused "path a directory" "[0-9]+: target hello: path '$T/deploy' is a directory"
write_config "path = $T/deploy/hello.hvt/"
refused "path ending in /" \
	"[0-9]+: target hello: path '$T/deploy/hello.hvt/' ends in '/': it must name a file, not a directory"
write_config "path = $T/deploy/.."
refused "path ending in .." \
	"[0-9]+: target hello: path '$T/deploy/..' ends in '.' or '..': it must name a file"

ln -s deploy "$T/deploylink"
for spelled in "$T/deploy/./hello.hvt" "$T/deploy//hello.hvt" "$T/deploy/../deploy/hello.hvt" \
	"$T/deploylink/hello.hvt"; do
	write_config "${TWO[@]}" "path = $spelled"
	refused "a second target on $spelled" \
		"$(line_of "path = $spelled"): targets hello and two both deploy to $T/deploy/hello.hvt \\(as '$T/deploy/hello.hvt' and '$spelled'\\)"
done
for sfx in .petrel-new .petrel-prev; do
	write_config "${TWO[@]}" "path = $T/deploy/hello.hvt$sfx"
	refused "a second target on hello's $sfx" \
		"$(line_of "path = $T/deploy/hello.hvt$sfx"): target two: path '$T/deploy/hello.hvt$sfx' is '$T/deploy/hello.hvt$sfx', a file petrel writes beside target hello's path"
done
# distinct paths are fine, and what was refused is still deployable
write_config "${TWO[@]}" "path = $T/deploy/hello.hvt.other"
run petrel status
is "$rc" 0 "two targets on distinct paths: status exit 0" || diag "$err"

# ---------------------------------------------------------------- item 10: configuration
write_config "trust = server"
refused "trust = server beside keys and signatures" \
	"$(line_of "trust = server"): target hello: trust = server checks no signatures, so keys and signatures would be ignored; remove keys and signatures, or set trust = signed"
write_config "trust = server" "-signatures"
refused "trust = server beside keys" \
	"$(line_of "trust = server"): target hello: trust = server checks no signatures, so keys would be ignored; remove keys, or set trust = signed"
write_config "trust = rebuilt" "rebuilders = rb1" "-signatures" '[server "rb1"]' "url = http://127.0.0.1:9"
refused "trust = rebuilt beside keys" \
	"$(line_of "trust = rebuilt"): target hello: trust = rebuilt checks no signatures, so keys would be ignored; remove keys, or set trust = signed"
write_config
printf 'platform = x\0/../y\n' >>"$C"
refused "a NUL byte" "$(wc -l <"$C"): a NUL byte, which would cut the line's value short there"
write_config

# ---------------------------------------------------------------- item 9: the state directory
# state_refused NAME ERE — upgrade and fsck exit 2 with the one line ERE; nothing changes
state_refused() {
	local name=$1 ere=$2 db
	db=$(sha256_of "$S/petrel.db")
	snapshot_state
	run petrel upgrade hello
	is "$rc" 2 "$name: upgrade exit 2"
	like "$err" "^petrel: $ere\$" "$name: upgrade names the directory and what is wrong"
	run petrel fsck
	is "$rc:$err" "2:petrel: ${ere//\\/}" "$name: fsck refuses it too"
	state_unchanged "$name: nothing changed"
	is "$(sha256_of "$S/petrel.db")" "$db" "$name: petrel.db unchanged"
}
touch "$S/tmp/leftover"
chmod 0777 "$S"
state_refused "a world-writable state directory" \
	"$S: state directory is writable by others \\(mode 0777\\): refusing it \\(chmod go-w $S\\)"
run petrel status
is "$rc:$err" "2:petrel: $S: state directory is writable by others (mode 0777): refusing it (chmod go-w $S)" \
	"a world-writable state directory: status refuses it as well"
ok "a world-writable state directory: tmp/ is not cleaned" test -e "$S/tmp/leftover"
chmod 0775 "$S"
state_refused "a group-writable state directory" \
	"$S: state directory is writable by its group \\(mode 0775\\): refusing it \\(chmod go-w $S\\)"
run petrel status
is "$rc" 0 "a group-writable state directory: status (a reader) still reads it" || diag "$err"
chmod 1777 "$S"
state_refused "a sticky world-writable state directory" \
	"$S: state directory is writable by others \\(mode 1777\\): refusing it \\(chmod go-w $S\\)"
chmod 0755 "$S"
if [ "$(id -u)" != 0 ] || ! getent passwd nobody >/dev/null; then
	skip "not root, or no user nobody" 6
else
	nobody=$(id -u nobody)
	chown nobody "$S"
	state_refused "a state directory another user owns" \
		"$S: state directory is owned by uid $nobody, not by uid 0 running petrel: refusing it"
	run petrel status
	is "$rc" 0 "a state directory another user owns: status still reads it" || diag "$err"
	chown 0 "$S"
fi
ok "tmp/ was never cleaned while refused" test -e "$S/tmp/leftover"
run petrel gc
is "$rc" 0 "the state directory put right: gc works again" || diag "$err"
ok "... and cleans tmp/, which is petrel's" test ! -e "$S/tmp/leftover"

# an older petrel's state directory: petrel.db, no marker — marked on the next write
rm "$S/.petrel-state"
touch "$S/tmp/leftover"
run petrel status
is "$rc" 0 "no marker: status reads it" || diag "$err"
ok "no marker: status writes nothing" test ! -e "$S/.petrel-state"
run petrel gc
is "$rc" 0 "no marker but petrel.db: gc works" || diag "$err"
like "$(head -n1 "$S/.petrel-state" 2>/dev/null)" "^petrel state directory$" \
	"no marker but petrel.db: the marker is written"
ok "no marker but petrel.db: tmp/ is cleaned (petrel's own)" test ! -e "$S/tmp/leftover"

# a directory that is not petrel's: nothing in it is touched, by any command
F="$T/foreign"
mkdir -p "$F/tmp" && touch "$F/tmp/precious" "$F/notes"
sed -i "s|^state_dir = .*|state_dir = $F|" "$C"
list_f() { find "$F" -printf '%P %y\n' | LC_ALL=C sort; }
before=$(list_f)
for cmd in "upgrade hello" "fetch" "fsck" "gc" "revert hello" "pin hello" "daemon --once"; do
	# shellcheck disable=SC2086
	run petrel $cmd
	is "$rc:$err" "2:petrel: $F: not a petrel state directory (no .petrel-state, no petrel.db, not empty): refusing to use it" \
		"a foreign directory: '$cmd' refuses it"
done
run petrel status
is "$rc" 0 "a foreign directory: status reads it as empty" || diag "$err"
is "$(list_f)" "$before" "a foreign directory: nothing in it was created or removed"

# an empty directory, or one holding only petrel's daemon lock, becomes petrel's
E="$T/empty"
mkdir -m 0700 "$E" && touch "$E/daemon.lock"
sed -i "s|^state_dir = .*|state_dir = $E|" "$C"
run petrel fsck
is "$rc" 0 "an empty directory (but the daemon lock) is taken" || diag "$err"
like "$(head -n1 "$E/.petrel-state" 2>/dev/null)" "^petrel state directory$" "... and marked"
ok "... and laid out" test -d "$E/objects" -a -d "$E/tmp" -a -f "$E/petrel.db"

# a new state directory under a loose umask is still 0755, and usable
N="$T/new/state"
sed -i "s|^state_dir = .*|state_dir = $N|" "$C"
(umask 000 && petrel fsck >"$T/fsck.out" 2>&1)
is "$?" 0 "a new state directory under umask 000: fsck works" || diag "$(cat "$T/fsck.out")"
is "$(stat -c %a "$N")" 755 "... and it is mode 0755"
run petrel fsck
is "$rc" 0 "... and the next writer accepts it" || diag "$err"
