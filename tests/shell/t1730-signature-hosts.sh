#!/usr/bin/env bash
# Signature URLs are fetched in parallel: one host that answers 500 or nothing does not
# block a build that another host's signature already carries (one warning line names
# it); when the threshold is not met, the refusal names every failed URL and why; when
# every URL fails, it is a server error (exit 4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 43

# lines_naming ERE — how many lines of stderr match ERE
lines_naming() { printf '%s\n' "$err" | grep -cE -- "$1" || true; }

start_server
make_key pub1
make_key pub2
make_file "$T/a.hvt" 100000 a
U=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_as pub1 a hello "$U"
sign_as pub2 b hello "$U"
A="$BW_URL/sigs/a/hello/$U/hello.hvt.minisig"
B="$BW_URL/sigs/b/hello/$U/hello.hvt.minisig"
SIGS=$(sig_templates a b)
KEYS="keys = $T/pub1.pub, $T/pub2.pub"

# conf THRESHOLD [LINE…] — both keys, the templates $SIGS (a, then b)
conf() { local th=$1; shift; write_config -signatures "$SIGS" "$KEYS" "threshold = $th" "$@"; }

# fetched NAME — a fresh fetch succeeds and stores the build
fetched() {
	rm -rf "$T/state"
	t0=$(date +%s)
	run petrel fetch
	t1=$(date +%s)
	clear_mode
	note "$1: $err"
	is "$rc" 0 "$1: exit 0"
	is "$(versions_count)" 1 "$1: the build is stored"
}

# refused NAME WANT_RC ERE — a fresh fetch fails with WANT_RC, a one-line message
# matching ERE, stores nothing and downloads nothing
refused() {
	rm -rf "$T/state"
	snapshot_state
	clear_requests
	run petrel fetch
	clear_mode
	note "$1: $err"
	is "$rc" "$2" "$1: exit $2"
	like "$err" "$3" "$1: the message names the cause"
	ok "$1: in one line" one_line
	state_unchanged "$1: nothing stored"
	is "$(request_count '/f/')" 0 "$1: nothing downloaded"
}

# ---- sanity: both hosts up, 2 of 2
conf 2
fetched "both signature hosts up, threshold 2"

# ---- threshold 1: host a answers 500, host b signs
conf 1
set_mode "500 /sigs/a/"
fetched "host a answers 500, threshold 1"
is "$(lines_naming "$A")" 1 "... one line names the failed URL"
like "$err" "warning.*$A: .*500" "... a warning that says why"
is "$(lines_naming "sigs/b/")" 0 "... the host that signed is not mentioned"

# ---- the same with the hosts the other way round (the order does not matter)
SIGS=$(sig_templates b a) conf 1
set_mode "500 /sigs/a/"
fetched "host a answers 500 and comes second"
is "$(lines_naming "$A")" 1 "... one line names the failed URL"

# ---- threshold 1: host a accepts the connection and says nothing (for 120 s)
conf 1
set_mode "hang /sigs/a/"
fetched "host a hangs, threshold 1"
ok "... decided without waiting for the silent host ($((t1 - t0)) s; it hangs 120 s, low_speed_time is 30 s)" \
	test $((t1 - t0)) -lt 25
is "$(lines_naming "$A")" 1 "... one line names the silent URL"
like "$err" "warning.*$A.*abandoned" "... it was abandoned"

# ---- threshold 2 with one host down: refused (exit 3), the failed URL named
conf 2
set_mode "500 /sigs/a/"
refused "threshold 2, host a answers 500" 3 "1 of 2 required signatures; failed: $A: .*500"
set_mode "hang /sigs/a/"
conf 2 --global 'low_speed_time = 2' --global 'connect_timeout = 1'
refused "threshold 2, host a hangs (low_speed_time = 2)" 3 \
	"1 of 2 required signatures; failed: $A: "
# a 404 is a missing signature, a failure is named beside it
rm -rf "$BW_DATA/sigs/b"
conf 1
set_mode "500 /sigs/a/"
refused "threshold 1, host a answers 500, host b has no signature (404)" 3 \
	"no signature found: $B answered 404; failed: $A: .*500"
sign_as pub2 b hello "$U"

# ---- both hosts down: the servers failed, not the build (exit 4), both named
conf 1
set_mode "500 /sigs/"
refused "both hosts answer 500" 4 "$A: .*500.*; $B: .*500"
set_mode "hang /sigs/"
conf 1 --global 'low_speed_time = 2' --global 'connect_timeout = 1'
refused "both hosts hang (low_speed_time = 2)" 4 "$A: .*; $B: "

# ---- strictness holds: a signature that does not verify is not made up by a failed host
conf 1
"$MINISIGN" -S -s "$T/pub2.sec" -m "$T/pub1.pub" -x "$BW_DATA/sigs/b/hello/$U/hello.hvt.minisig" \
	-t "$(tc_for hello "$U")" </dev/null >/dev/null
set_mode "500 /sigs/a/"
rm -rf "$T/state"
snapshot_state
run petrel fetch
clear_mode
note "bad signature at b, a down: $err"
is "$rc" 3 "host a down, host b's signature is of other bytes: exit 3"
like "$err" "$B: file signature does not verify; failed: $A: .*500" \
	"... the refusal names the bad signature and the failed URL"
state_unchanged "... nothing stored"
