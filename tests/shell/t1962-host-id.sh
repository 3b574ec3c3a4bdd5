#!/usr/bin/env bash
# [petrel] host_id (issue 14, item 2): any 1 to 255 bytes; empty or longer is a
# configuration error for every command, naming the line, with nothing created. What the
# identity becomes (HMAC-SHA256 host key, the rollout bucket, /etc/machine-id as the
# default and the error when neither exists) is tests/unit/test_fleet.c's.
. "$(dirname "$0")/lib.sh"
plan 8

start_server
make_key pub1
write_config --global "host_id = 0123456789abcdef0123456789abcdef"
run petrel status
is "$rc" 0 "host_id = a machine id: loads"
write_config --global "host_id = web-17.example.org"
run petrel status
is "$rc" 0 "host_id = a host name: loads"

# refused NAME VALUE MESSAGE — host_id = VALUE is exit 2 naming the line, nothing created
refused() {
	rm -rf "$T/state"
	write_config --global "host_id = $2"
	run petrel status
	is "$rc" 2 "$1: exit 2"
	like "$err" "^petrel: $T/petrel.conf:3: $3$" "$1: names the line"
	ok "$1: nothing created" test ! -e "$T/state"
}
refused "an empty host_id" "" "host_id must be 1 to 255 bytes"
# (a configuration line holds at most 198 bytes: PETREL_HOST_ID_MAX bounds machine-id)
refused "a host_id of 256 bytes" "$(printf '%0256d' 0)" "line longer than 198 bytes.*"
