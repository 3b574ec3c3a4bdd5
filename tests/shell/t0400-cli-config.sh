#!/usr/bin/env bash
# Usage and configuration: errors exit 2 with one line naming the file and the line,
# before any network or state; --help, --version, PETREL_CONFIG, the state directory.
. "$(dirname "$0")/lib.sh"

plan 152


start_server
make_key pub1
make_file "$T/a.hvt" 1000 a
U=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U" pub1
C="$T/petrel.conf"

# conf FILE — writes a configuration from stdin (so that line numbers are plain to see).
conf() { cat >"$1"; }

# good_conf — a valid configuration, line by line.
good_conf() {
	conf "$C" <<EOF
[petrel]
state_dir = $T/state

[server "bw"]
url = $BW_URL

[target "hello"]
server = bw
job = hello
path = $T/deploy/hello.hvt
keys = $T/pub1.pub
signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig
EOF
}

# conf_error NAME ERE [COMMAND…] — the command (default: check) exits 2 with one line
# on stderr matching ERE, contacts no server and creates no state.
conf_error() {
	local name=$1 ere=$2; shift 2
	[ $# -gt 0 ] || set -- check
	rm -rf "$T/state"
	clear_requests
	run petrel "$@"
	is "$rc" 2 "$name: exit 2"
	like "$err" "$ere" "$name: message names the file and line"
	ok "$name: one line" one_line
	ok "$name: no server contacted, no state created" \
		test "$(request_count .)" = 0 -a ! -e "$T/state"
}

# ---- usage
run petrel frobnicate
is "$rc" 2 "unknown command: exit 2"
like "$err" "unknown command 'frobnicate'" "unknown command: named"
ok "unknown command: one line" one_line
run petrel
is "$rc" 2 "no command: exit 2"
like "$err" "usage" "no command: usage on stderr"
is "$out" "" "no command: nothing on stdout"
run "$PETREL" -c
is "$rc" 2 "-c without a file: exit 2"
like "$err" "option '-c' needs a value \\(FILE\\)" "-c without a file: says so"
good_conf
run petrel check --bogus
is "$rc" 2 "unknown option: exit 2"
like "$err" "unknown option '--bogus'" "unknown option: named"
run petrel fsck extra
is "$rc" 2 "fsck with an argument: exit 2"
conf_error "unknown target name" "no target 'nosuch' in $C" check nosuch
conf_error "unknown target name (fetch)" "no target 'nosuch' in $C" fetch nosuch
conf_error "unknown target name (status)" "no target 'nosuch' in $C" status nosuch

# ---- help and version
run "$PETREL" --help
is "$rc" 0 "--help: exit 0"
for c in check fetch status fsck help; do
	like "$out" "^  $c( |\$)" "--help lists $c"
done
like "$out" "exit status" "--help describes the exit codes"
run "$PETREL" help
is "$rc" 0 "help: exit 0"
like "$out" "^usage: petrel" "help: usage on stdout"
run "$PETREL" --version
is "$rc" 0 "--version: exit 0"
like "$out" "^petrel [0-9]+\.[0-9]+" "--version prints the version"

# ---- the configuration file
conf_error "missing config file" "$T/nope.conf: No such file" -c "$T/nope.conf" check

good_conf
echo "colour = blue" >>"$C"
conf_error "unknown key in a target" "$C:13: unknown key 'colour' in \[target \"hello\"\]"

good_conf
sed -i '2a colour = blue' "$C"
conf_error "unknown key in [petrel]" "$C:3: unknown key 'colour' in \[petrel\]"

good_conf
sed -i '5a colour = blue' "$C"
conf_error "unknown key in a server" "$C:6: unknown key 'colour' in \[server \"bw\"\]"

good_conf
echo "threshold = 0" >>"$C"
conf_error "threshold 0" "$C:[0-9]+: .*threshold"

good_conf
echo "threshold = 2" >>"$C"
conf_error "threshold > keys" "$C:[0-9]+: .*threshold"

good_conf
echo "threshold = two" >>"$C"
conf_error "threshold not a number" "$C:13: threshold: 'two' is not a number"

good_conf
sed -i '/^server = bw$/d' "$C"
conf_error "target without server" "$C:[0-9]+: target hello: no server"

good_conf
sed -i 's/^server = bw$/server = nosuch/' "$C"
conf_error "server section missing" "$C:[0-9]+: .*nosuch"

good_conf
sed -i '/^keys = /d' "$C"
conf_error "trust = signed without keys" "$C:[0-9]+: .*keys"

good_conf
sed -i '/^signatures = /d' "$C"
conf_error "trust = signed without signature URLs" "$C:[0-9]+: .*signatures"

good_conf
sed -i "s|^path = .*|path = deploy/hello.hvt|" "$C"
conf_error "a relative path" "$C:[0-9]+: target hello: path 'deploy/hello.hvt' must be an absolute path"

good_conf
sed -i "s|^keys = .*|keys = pub1.pub|" "$C"
conf_error "a relative key file" "$C:[0-9]+: target hello: key file 'pub1.pub' must be an absolute path"

good_conf
sed -i "s|^state_dir = .*|state_dir = state|" "$C"
conf_error "a relative state_dir" "$C:2: state_dir 'state' must be an absolute path"

good_conf
sed -i 's|^url = http|url = ftp|' "$C"
conf_error "bad url scheme (ftp)" "$C:5: server bw: url must start with http:// or https://"

good_conf
sed -i 's|^url = .*|url = file:///etc/passwd|' "$C"
conf_error "bad url scheme (file)" "$C:5: server bw: url must start with http"

good_conf
printf '\n[weird]\na = b\n' >>"$C"
conf_error "unknown section" "$C:15: unknown section \[weird\]"

good_conf
echo "this line has no equals sign" >>"$C"
conf_error "a line that is not key = value" "$C:13: "

good_conf
echo "trust = maybe" >>"$C"
conf_error "unknown trust value" "$C:13: trust: unknown value 'maybe'"

good_conf
echo "bind = sloppy" >>"$C"
conf_error "unknown bind value" "$C:13: bind: unknown value 'sloppy'"

good_conf
echo "legacy_signatures = perhaps" >>"$C"
conf_error "unknown legacy_signatures value" "$C:13: legacy_signatures: unknown value 'perhaps'"

good_conf
sed -i 's|^job = hello|job = ../hello|' "$C"
conf_error "a job name with a slash" "$C:9: job: '../hello' is not a valid name"

good_conf
sed -i '2a low_speed_time = 0' "$C"
conf_error "low_speed_time 0" "$C:3: low_speed_time: '0' is not a duration"

# ---- key files
good_conf
echo "this is not a minisign key" >"$T/garbage.pub"
sed -i "s|^keys = .*|keys = $T/garbage.pub|" "$C"
rm -rf "$T/state"
clear_requests
run petrel fetch
is "$rc" 2 "garbage key file: fetch exits 2"
like "$err" "$T/garbage.pub" "garbage key file: the message names the key file"
unlike "$err" "$T/garbage.pub: .*$T/garbage.pub" "garbage key file: ... once, not twice"
ok "garbage key file: one line" one_line
is "$(request_count .)" 0 "garbage key file: refused before contacting the server"
run petrel check
is "$rc" 2 "garbage key file: check exits 2 too (the configuration is checked whole)"
stop_server
run petrel fetch
is "$rc" 2 "garbage key file, server down: still a configuration error (exit 2)"
start_server bw "$BW_PORT"

good_conf
sed -i "s|^keys = .*|keys = $T/missing.pub|" "$C"
run petrel fetch
is "$rc" 2 "missing key file: exit 2"
like "$err" "$T/missing.pub" "missing key file: named"

# ---- PETREL_CONFIG
good_conf
cp "$C" "$T/env.conf"
sed -i 's/^\[target "hello"\]/[target "fromenv"]/' "$T/env.conf"
run env PETREL_CONFIG="$T/env.conf" "$PETREL" status
is "$rc" 0 "PETREL_CONFIG: used when -c is absent"
like "$out" "^fromenv " "PETREL_CONFIG: its targets are the ones shown"
run env PETREL_CONFIG="$T/env.conf" "$PETREL" -c "$C" status
like "$out" "^hello " "-c wins over PETREL_CONFIG"
run env PETREL_CONFIG="$T/nope.conf" "$PETREL" status
is "$rc" 2 "PETREL_CONFIG naming a missing file: exit 2"
like "$err" "$T/nope.conf" "PETREL_CONFIG naming a missing file: named"
run env -u PETREL_CONFIG "$PETREL" --config="$C" status
is "$rc" 0 "--config=FILE works"

# ---- the state directory
good_conf
sed -i "s|^state_dir = .*|state_dir = $T/new/deeper/state|" "$C"
ok "no state directory before first use" test ! -e "$T/new"
run petrel status
is "$rc" 0 "status on a fresh state directory: exit 0"
like "$out" "current: nothing deployed" "... reads it as empty"
ok "a read creates nothing: no state directory" test ! -e "$T/new"
run petrel fetch
is "$rc" 0 "fetch on a fresh state directory: exit 0"
ok "the state directory is created on first write (with its parents)" test -d "$T/new/deeper/state"
ok "... with petrel.db" test -f "$T/new/deeper/state/petrel.db"
ok "... objects/" test -d "$T/new/deeper/state/objects"
is "$(stat -c %a "$T/new/deeper/state/tmp" 2>/dev/null)" 700 "... and tmp/ (mode 0700)"
echo "not a directory" >"$T/file"
sed -i "s|^state_dir = .*|state_dir = $T/file|" "$C"
run petrel status
isnt "$rc" 0 "a state_dir that is a file: refused"
like "$err" "$T/file" "... naming it"
