#!/usr/bin/env bash
# Trust re-checked at every deploy (issue 15), the rebuilder half: under trust = rebuilt
# the rebuilders that confirmed a stored build when it was fetched count again only
# while they are configured; a build accepted under trust = rebuilt is refused once the
# target asks for signatures too. Two look-alike rebuilders on loopback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 16

for s in bw rb1 rb2; do start_server $s; done
make_key pub1
# rb3 confirms nothing and is never asked: a re-check needs no server
RB_SERVERS=('[server "rb1"]' "url = $RB1_URL" '[server "rb2"]' "url = $RB2_URL"
	'[server "rb3"]' "url = http://127.0.0.1:9")
# rebuilt REBUILDERS AGREE [LINE…]
rebuilt() {
	write_config "trust = rebuilt" -keys -signatures -threshold "rebuilders = $1" \
		"agree = $2" "${@:3}" "${RB_SERVERS[@]}"
}
P=$T/deploy/hello.hvt
pointers() { sql "select current || ' ' || previous from targets where name = 'hello'"; }
AGAIN='trust re-checked against the current configuration'

now=$(date +%s)
for f in a b; do make_file "$T/$f" 30000 "$f"; done
ua=$(add_build hello "$T/a" --finish-time $((now - 7200)))
ub=$(add_build hello "$T/b" --finish-time $((now - 3600)))
for d in "$RB1_DATA" "$RB2_DATA"; do
	BW_DATA=$d add_build hello "$T/a" >/dev/null
	BW_DATA=$d add_build hello "$T/b" >/dev/null
done

rebuilt "rb1, rb2" 2
run petrel upgrade hello --to "$ua"
is "$rc" 0 "build A confirmed by rb1 and rb2: deployed"
run petrel upgrade hello
is "$rc" 0 "build B confirmed by rb1 and rb2: deployed"
is "$(sql "select rebuilders from versions where uuid = '$ua'")" "rb1,rb2" "the agreeing rebuilders are recorded"

# ---- rb2 dropped from rebuilders, agree = 2: rb1 alone is not enough any more
rebuilt "rb1, rb3" 2
snapshot_state
j=$(sql "select count(*) from journal")
run petrel revert hello
note "$err"
is "$rc" 3 "revert, a confirming rebuilder removed: exit 3"
like "$err" "^petrel: hello: build $ua: rebuilder rb2, which confirmed it, is no longer in rebuilders: 1 of 2 rebuilders agree, agree = 2 \\(rb3: did not confirm it when it was fetched\\); not deploying it \\($AGAIN\\)\$" \
	"... naming the build, the rebuilder gone and what is left"
state_unchanged "... nothing changed"
is "$(pointers) $(sql "select count(*) from journal")" "2 1 $((j + 1))" "... generations unchanged, one journal row"
run petrel upgrade hello --to "$ua" --allow-downgrade
is "$rc" 3 "upgrade --to the stored build: exit 3 too"
# ---- agree = 1: rb1 still vouches
rebuilt "rb1, rb3" 1
run petrel revert hello
is "$rc" 0 "agree = 1, rb1 still configured: revert goes"
is "$(sha256_of "$P")" "$(sha256_of "$T/a")" "... build A live"
rebuilt "rb3" 1
run petrel status hello
like "$out" "NOT TRUSTED NOW: build $ua: rebuilders rb1, rb2, which confirmed it, are no longer in rebuilders" \
	"status: neither rebuilder that confirmed the current build is configured"
run petrel revert hello
is "$rc" 3 "only rb3 configured: revert forward refused"
like "$err" "build $ub: rebuilders rb1, rb2, which confirmed it, are no longer in rebuilders: 0 of 1 rebuilder agree, agree = 1" \
	"... naming both"

# ---- accepted under trust = rebuilt; signed+rebuilt now asks for signatures too
write_config "trust = signed+rebuilt" "keys = $T/pub1.pub" "threshold = 1" \
	"rebuilders = rb1, rb2" "agree = 1" "${RB_SERVERS[@]}"
run petrel revert hello
is "$rc" 3 "trust = signed+rebuilt now: a build accepted without signatures is refused"
like "$err" "^petrel: hello: build $ub was accepted without signatures \\(trust = rebuilt then\\), trust = signed\\+rebuilt asks for them; not deploying it \\($AGAIN\\)\$" \
	"... saying so"
is "$(sha256_of "$P")" "$(sha256_of "$T/a")" "build A still live"
