#!/usr/bin/env bash
# journald: when stderr is the journal ($JOURNAL_STREAM names its device and inode),
# every line carries its <N> priority, so `journalctl -p warning -u petrel` works.
. "$(dirname "$0")/lib.sh"
plan 9

start_server
make_key pub1
write_config
make_file "$T/a" 20000 1
u=$(add_build hello "$T/a"); sign_build hello "$u" pub1

# journal_run FILE STREAM ARGS... — petrel with stderr appended to FILE (its inode kept)
# and JOURNAL_STREAM=STREAM ("" leaves it unset).
journal_run() {
	local file=$1 stream=$2
	shift 2
	: >>"$file"
	if [ -n "$stream" ]; then
		JOURNAL_STREAM=$stream petrel "$@" >/dev/null 2>>"$file" || true
	else
		env -u JOURNAL_STREAM "$PETREL" -c "$T/petrel.conf" "$@" >/dev/null 2>>"$file" || true
	fi
}
stream_of() { stat -c '%d:%i' "$1"; }

: >"$T/j1"
journal_run "$T/j1" "$(stream_of "$T/j1")" daemon --once
like "$(cat "$T/j1")" '^<6>petrel: info hello: staged ' "a daemon's info line is <6>"
like "$(cat "$T/j1")" '<6>petrel: info hello: deployed generation 1' "each line has its own prefix"

stop_server
: >"$T/j2"
journal_run "$T/j2" "$(stream_of "$T/j2")" check
like "$(head -n1 "$T/j2")" '^<4>petrel: warning: hello: recording|^<3>petrel: hello: ' \
	"a failed command's lines carry their priority"
like "$(cat "$T/j2")" '<3>petrel: hello: .*http://' "the error itself is <3>"
unlike "$(grep -v '^<[0-7]>' "$T/j2")" . "no line without a priority"

: >"$T/j3"
journal_run "$T/j3" "$(stream_of "$T/j3")" daemon --once
like "$(cat "$T/j3")" '^<4>petrel: warning hello: server bw: .*backing off' "the daemon's backoff warning is <4>"

: >"$T/j4"
journal_run "$T/j4" "1:1" check
like "$(cat "$T/j4")" '^petrel: hello: ' "another stream's JOURNAL_STREAM: no prefix"
: >"$T/j5"
journal_run "$T/j5" "garbage" check
like "$(cat "$T/j5")" '^petrel: hello: ' "a malformed JOURNAL_STREAM: no prefix"
: >"$T/j6"
journal_run "$T/j6" "" check
like "$(cat "$T/j6")" '^petrel: hello: ' "without JOURNAL_STREAM: no prefix"
