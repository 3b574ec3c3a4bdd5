#!/usr/bin/env bash
# Attacks a review found: signers disagreeing on the timestamp (one key below the
# threshold must neither replay an old build nor block later ones, whatever the order
# of the signature URLs), a far-future finish time from the server, one server listed
# as rebuilder under two names, and frozen answers journaled as refusals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 23

start_server
make_key k1; make_key k2; make_key k3
P="$T/deploy/hello.hvt"
now=$(date +%s)
KEYS="keys = $T/k1.pub, $T/k2.pub, $T/k3.pub"
conf() { write_config "-keys" "-signatures" "-threshold" "$KEYS" "threshold = 2" "$@"; }

# build A, signed by all three at now-100: deployed, high-water mark now-100
make_file "$T/a" 4096 a
A=$(add_build hello "$T/a" --finish-time $((now - 100)) --start-time $((now - 200)))
for k in k1 k2 k3; do sign_as "$k" "$k" hello "$A"; done
conf "$(sig_templates k1 k2 k3)"
run petrel upgrade hello
is "$rc" 0 "build A deployed"

# build D: a fresh finish time; k1 signs it as new, k2 and k3 with a day-old timestamp
make_file "$T/d" 4096 d
D=$(add_build hello "$T/d" --finish-time "$now" --start-time $((now - 50)))
sign_as k1 k1 hello "$D" "$(tc_for hello "$D" timestamp=$now)"
for k in k2 k3; do sign_as "$k" "$k" hello "$D" "$(tc_for hello "$D" timestamp=$((now - 86400)))"; done
for order in "k1 k2 k3" "k3 k2 k1"; do
	conf "$(sig_templates $order)"
	snapshot_state
	run petrel fetch hello
	is "$rc" 3 "signers disagree ($order first): the oldest signed timestamp counts: exit 3"
	like "$err" "rollback refused" "($order) the message says rollback"
	state_unchanged "($order) nothing stored"
done

# k1 alone signs E far in the future; k2, k3 honestly: the mark must not jump ahead
make_file "$T/e" 4096 e
E=$(add_build hello "$T/e" --finish-time $((now + 10)) --start-time $((now - 40)))
sign_as k1 k1 hello "$E" "$(tc_for hello "$E" timestamp=4102444800)"
for k in k2 k3; do sign_as "$k" "$k" hello "$E" "$(tc_for hello "$E" timestamp=$((now - 90)))"; done
conf "$(sig_templates k1 k2 k3)"
run petrel upgrade hello
is "$rc" 0 "E (one signer claims the year 2100) is deployed on the others' timestamp"
hw=$(sql "select high_water from targets where name = 'hello'")
is "$((hw == now - 90))" 1 "the high-water mark is E's honest timestamp ($hw), not 2100"

# the server announces F finishing in 2100, signed honestly: the marks stay at 'now'
make_file "$T/f" 4096 f
F=$(add_build hello "$T/f" --finish-time 4102444800 --start-time $((now - 30)))
for k in k1 k2 k3; do sign_as "$k" "$k" hello "$F" "$(tc_for hello "$F" timestamp=$((now - 80)))"; done
run petrel upgrade hello
is "$rc" 0 "F (finish time 2100 from the server) is deployed"
hwf=$(sql "select high_water_finish from targets where name = 'hello'")
is "$((hwf <= $(date +%s)))" 1 "the finish-time mark is capped at the time of verification ($hwf)"
make_file "$T/g" 4096 g
G=$(add_build hello "$T/g" --finish-time $(($(date +%s) + 30)) --start-time $((now - 20)))
for k in k1 k2 k3; do sign_as "$k" "$k" hello "$G" "$(tc_for hello "$G" timestamp=$((now - 70)))"; done
run petrel upgrade hello
is "$rc" 0 "a later genuine build is not blocked by the lie"
is "$(sha256_of "$P")" "$(sha256_of "$T/g")" "and is deployed"
run petrel -v log hello	# -v: the row whole, not cut to 100 columns
like "$out" "fetch .*rebuilders=- timestamp=" "the fetch row names its evidence, rebuilders included"

# one server under two names does not make two rebuilders
start_server rb
write_config "trust = signed+rebuilt" "rebuilders = self2" "[server \"self2\"]" "url = $BW_URL/"
run petrel status
is "$rc" 2 "the target's own server under another name is no rebuilder (exit 2)"
like "$err" "rebuilder 'self2' is the target's own server" "the message says why"
write_config "trust = signed+rebuilt" "rebuilders = r1, r2" "agree = 2" \
	"[server \"r1\"]" "url = $RB_URL" "[server \"r2\"]" "url = $RB_URL/"
run petrel status
is "$rc" 2 "one rebuilder under two names (same url) is refused (exit 2)"
like "$err" "rebuilder 'r2' listed twice \\(as 'r1', same server\\)" "the message names both"

# frozen answers are journaled as a refusal and are no successful check
conf "$(sig_templates k1 k2 k3)" "max_age = 1"
sleep 1.1
before=$(sql "select last_success from target_status where target = 'hello'")
sleep 1
run petrel check hello
is "$rc" 3 "check of a frozen server exits 3"
is "$(sql "select count(*) from journal where event = 'refused' and detail like 'check: %max_age%'")" 1 \
	"the frozen answer is journaled as a refusal"
is "$(sql "select last_success from target_status where target = 'hello'")" "$before" \
	"and not recorded as a successful check"
run petrel check hello
is "$(sql "select count(*) from journal where event = 'refused' and detail like 'check: %max_age%'")" 1 \
	"the same refusal again is not journaled twice"
is "$(sql "select refusals from target_status where target = 'hello'")" 4 \
	"but every refusal is counted (2 rollbacks, 2 frozen checks)"
