#!/usr/bin/env bash
# The trust policy's configuration: each mistake is an error (exit 2) naming the file
# and the line of the target, before any server is asked; --help names every key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 32

start_server
start_server rb1
make_key pub1
RB=('[server "rb1"]' "url = $RB1_URL")

# conf_error NAME ERE CONFIG-LINES… — check exits 2 with "FILE:LINE: …" matching ERE.
conf_error() {
	local name=$1 ere=$2; shift 2
	write_config "$@"
	clear_requests
	run petrel check hello
	is "$rc" 2 "$name: exit 2"
	like "$err" "^petrel: $T/petrel.conf:[0-9]+: $ere" "$name: file, line and cause"
	is "$(request_count .)" 0 "$name: no server asked"
}

conf_error "trust = rebuilt without rebuilders" "target hello: trust = rebuilt needs rebuilders" \
	"trust = rebuilt"
conf_error "unknown rebuilder" "target hello: rebuilder 'nosuch' has no \[server \"nosuch\"\] section" \
	"trust = rebuilt" "rebuilders = nosuch"
conf_error "agree = 0" "target hello: agree 0 must be between 1 and the 1 rebuilder" \
	"trust = rebuilt" "rebuilders = rb1" "agree = 0" "${RB[@]}"
conf_error "agree above the rebuilders" "target hello: agree 2 must be between 1 and the 1 rebuilder" \
	"trust = signed+rebuilt" "rebuilders = rb1" "agree = 2" "${RB[@]}"
conf_error "rebuilders with trust = signed" "target hello: rebuilders are only asked with trust = rebuilt" \
	"rebuilders = rb1" "${RB[@]}"
conf_error "the target's own server as rebuilder" "target hello: rebuilder 'bw' is the target's own server" \
	"trust = rebuilt" "rebuilders = bw"
conf_error "a rebuilder listed twice" "target hello: rebuilder 'rb1' listed twice" \
	"trust = rebuilt" "rebuilders = rb1, rb1" "${RB[@]}"
conf_error "max_age with an unknown unit" "max_age: '30x' is not a duration" "max_age = 30x"
conf_error "max_age = 0" "max_age: '0' is not a duration" "max_age = 0"

write_config "trust = rebuilt" -keys -signatures -threshold "rebuilders = rb1" "max_age = 12h" "${RB[@]}"
bw_py add-job --data "$BW_DATA" --job hello >/dev/null
run petrel check hello
is "$rc" 4 "a valid trust = rebuilt configuration gets as far as the server (no build: exit 4)"
run petrel --help
for k in rebuilders agree max_age "signed\+rebuilt"; do
	like "$out" "$k" "--help names $k"
done
