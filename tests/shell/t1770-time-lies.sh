#!/usr/bin/env bash
# Time from the server or from one signer is not trusted past verification: a build
# announced as finishing in 2100 (signatures without a timestamp, or trust = rebuilt)
# is stored with its times cut at the moment it was verified, so a later genuine build
# is still deployed; a replay stays refused. Several signers: the build's time is the
# threshold-th newest signer's timestamp, so one signer claiming 2100 (or a day ago)
# neither freezes the target nor has a genuine build refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 41

FUTURE=4102444800	# 2100-01-01
P="$T/deploy/hello.hvt"
start_server
start_server rb1
make_key pub1
now=$(date +%s)
# builder-web's newest is by start time: each build here starts after the one before,
# whatever finish time the server claims for it
START=$((now - 5000))
# build VAR JOB FILE [ARGS…] — add_build, the uuid into VAR
build() {
	local var=$1 u; shift
	START=$((START + 10))
	u=$(add_build "$@" --start-time "$START") || BAIL_OUT "add_build failed"
	printf -v "$var" '%s' "$u"
}

# signed without a timestamp: the trusted comment binds the build but says no time
tc_untimed() {
	local kv name sha
	kv=$(build_field hello "$1" filename sha256) || return 1
	{ read -r name; read -r sha; } <<<"$kv"
	printf 'file:%s\tjob:%s\tuuid:%s\tsha256:%s' "$name" hello "$1" "$sha"
}
# row_times UUID — "timestamp finish_time" of the build's versions row
row_times() { sql "select timestamp || ' ' || finish_time from versions where uuid = '$1'"; }
# within LO HI N — LO <= N <= HI
within() { [ "$3" -ge "$1" ] 2>/dev/null && [ "$3" -le "$2" ]; }
# capped NAME UUID BEFORE [ts] — the row's times (with "ts", the timestamp only: the
# finish time was true) lie within [BEFORE, now]
capped() {
	local ts fin after
	after=$(date +%s)
	read -r ts fin <<<"$(row_times "$2")"
	ok "$1: stored timestamp ($ts) is the moment of verification, not 2100" \
		within "$3" "$after" "$ts"
	[ "${4:-}" = ts ] ||
		ok "$1: stored finish time ($fin) is cut there too" within "$3" "$after" "$fin"
}

# ---- signatures without a timestamp, the server announces 2100
write_config
make_file "$T/a" 4096 a
build A hello "$T/a" --finish-time $((now - 3600))
sign_build hello "$A" pub1 "$(tc_untimed "$A")"
run petrel upgrade hello
is "$rc" 0 "build A (untimed signature) deployed"

make_file "$T/x" 4096 x
build X hello "$T/x" --finish-time "$FUTURE"
sign_build hello "$X" pub1 "$(tc_untimed "$X")"
before=$(date +%s)
run petrel upgrade hello
is "$rc" 0 "build X announced for 2100 verifies and is deployed"
capped "X" "$X" "$before"
hw=$(sql "select high_water || ' ' || high_water_finish from targets where name = 'hello'")
ok "the timestamp mark is cut as well ($hw)" within "$before" "$(date +%s)" "${hw% *}"
ok "the finish-time mark is cut as well" within "$before" "$(date +%s)" "${hw#* }"
run petrel -v log hello
unlike "$out" "timestamp=$FUTURE" "the journal's fetch row names the stored time, not 2100"

# a replay (an old build offered as newest) is still refused, and changes nothing
make_file "$T/old" 4096 old
build O hello "$T/old" --finish-time $((now - 7200))
sign_build hello "$O" pub1 "$(tc_untimed "$O")"
snapshot_state
run petrel upgrade hello
is "$rc" 3 "a replayed old build after X: exit 3"
like "$err" "^petrel: hello: server offers build $O from .* as newest, but a build from .* was already verified \(rollback refused\)" \
	"... rollback refused, naming the build"
state_unchanged "the replay stored and deployed nothing"

make_file "$T/y" 4096 y
build Y hello "$T/y" --finish-time "$(date +%s)"
sign_build hello "$Y" pub1 "$(tc_untimed "$Y")"
run petrel upgrade hello
is "$rc" 0 "a later genuine build is deployed after X (not 'older than the current')"
is "$(sha256_of "$P")" "$(sha256_of "$T/y")" "... its bytes are live"

# ---- trust = rebuilt: no signatures at all, the finish time is the server's word
rebuilt() {
	write_config "[target \"other\"]" "server = bw" "job = other" \
		"path = $T/deploy/other.hvt" "orchestrator = none" "trust = rebuilt" \
		"rebuilders = rb1" "agree = 1" '[server "rb1"]' "url = $RB1_URL"
}
rebuilt
make_file "$T/ox" 4096 ox
build OX other "$T/ox" --finish-time "$FUTURE"
BW_DATA=$RB1_DATA add_build other "$T/ox" >/dev/null
before=$(date +%s)
run petrel upgrade other
is "$rc" 0 "trust = rebuilt: build announced for 2100 deployed"
capped "rebuilt X" "$OX" "$before"
make_file "$T/oy" 4096 oy
build OY other "$T/oy" --finish-time "$(date +%s)"
BW_DATA=$RB1_DATA add_build other "$T/oy" >/dev/null
run petrel upgrade other
is "$rc" 0 "trust = rebuilt: a later genuine build is deployed"
is "$(sha256_of "$T/deploy/other.hvt")" "$(sha256_of "$T/oy")" "... its bytes are live"

# ---- two signers, threshold 1: one claims 2100
make_key k1
make_key k2
two() { write_config "-keys" "-signatures" "keys = $T/k1.pub, $T/k2.pub" "threshold = 1" \
	"$(sig_templates k1 k2)"; }
two
make_file "$T/s1" 4096 s1
build S1 hello "$T/s1" --finish-time "$(date +%s)"
sign_as k1 k1 hello "$S1" "$(tc_for hello "$S1" timestamp=$FUTURE)"
sign_as k2 k2 hello "$S1" "$(tc_for hello "$S1" timestamp="$(date +%s)")"
before=$(date +%s)
run petrel upgrade hello
is "$rc" 0 "k1 claims 2100, k2 the true time: deployed"
capped "k1 claims 2100" "$S1" "$before" ts
make_file "$T/s2" 4096 s2
build S2 hello "$T/s2" --finish-time "$(date +%s)"
for k in k1 k2; do sign_as "$k" "$k" hello "$S2" "$(tc_for hello "$S2" timestamp="$(date +%s)")"; done
run petrel upgrade hello
is "$rc" 0 "a later build signed by both with true timestamps: deployed, the target is not frozen"
is "$(sha256_of "$P")" "$(sha256_of "$T/s2")" "... its bytes are live"

# k1 alone (k2's signature missing) claims 2100: enough for threshold 1, cut at verification
make_file "$T/s3" 4096 s3
build S3 hello "$T/s3" --finish-time "$(date +%s)"
sign_as k1 k1 hello "$S3" "$(tc_for hello "$S3" timestamp=$FUTURE)"
before=$(date +%s)
run petrel upgrade hello
is "$rc" 0 "k1 alone claims 2100: deployed"
capped "k1 alone" "$S3" "$before" ts
make_file "$T/s4" 4096 s4
build S4 hello "$T/s4" --finish-time "$(date +%s)"
for k in k1 k2; do sign_as "$k" "$k" hello "$S4" "$(tc_for hello "$S4" timestamp="$(date +%s)")"; done
run petrel upgrade hello
is "$rc" 0 "the next build signed by both with true timestamps: deployed"
is "$(sha256_of "$P")" "$(sha256_of "$T/s4")" "... its bytes are live"

# ---- three signers, threshold 2: one liar in either direction does not decide
make_key k3
three() { write_config "-keys" "-signatures" "keys = $T/k1.pub, $T/k2.pub, $T/k3.pub" \
	"threshold = 2" "$(sig_templates k1 k2 k3)"; }
three
make_file "$T/s5" 4096 s5
build S5 hello "$T/s5" --finish-time "$(date +%s)"
t5=$(date +%s)
sign_as k1 k1 hello "$S5" "$(tc_for hello "$S5" timestamp=$t5)"
sign_as k2 k2 hello "$S5" "$(tc_for hello "$S5" timestamp=$t5)"
sign_as k3 k3 hello "$S5" "$(tc_for hello "$S5" timestamp=$((now - 86400)))"
run petrel upgrade hello
is "$rc" 0 "k3 dates a genuine build a day back: deployed on k1's and k2's time"
is "$(sql "select timestamp from versions where uuid = '$S5'")" "$t5" "... which is stored"
make_file "$T/s6" 4096 s6
build S6 hello "$T/s6" --finish-time "$(date +%s)"
t6=$(date +%s)
sign_as k1 k1 hello "$S6" "$(tc_for hello "$S6" timestamp=$FUTURE)"
sign_as k2 k2 hello "$S6" "$(tc_for hello "$S6" timestamp=$t6)"
sign_as k3 k3 hello "$S6" "$(tc_for hello "$S6" timestamp=$t6)"
run petrel upgrade hello
is "$rc" 0 "k1 dates a build in 2100: deployed"
is "$(sql "select timestamp from versions where uuid = '$S6'")" "$t6" "... on k2's and k3's time"
hw=$(sql "select high_water from targets where name = 'hello'")
ok "the mark stays at or before now ($hw)" within "$now" "$(date +%s)" "$hw"

# two of three date a build a day back: that is the threshold speaking — a replay
make_file "$T/s7" 4096 s7
build S7 hello "$T/s7" --finish-time "$(date +%s)"
sign_as k1 k1 hello "$S7" "$(tc_for hello "$S7" timestamp="$(date +%s)")"
for k in k2 k3; do sign_as "$k" "$k" hello "$S7" "$(tc_for hello "$S7" timestamp=$((now - 86400)))"; done
snapshot_state
run petrel upgrade hello
is "$rc" 3 "two of three sign a day-old timestamp: exit 3"
like "$err" "^petrel: hello: server offers build $S7 from .* as newest, but a build from .* was already verified \(rollback refused\)" \
	"... rollback refused, naming the build"
state_unchanged "... nothing stored or deployed"
is "$(sha256_of "$P")" "$(sha256_of "$T/s6")" "S6 is still live"

# ---- legacy ("Ed") signatures, verified by libsodium over the file mapped read-only:
# downloaded (lega) and already in the store from another target (legb, no download)
legacy_conf() {
	local t out=()
	for t in lega legb; do
		out+=("[target \"$t\"]" "server = bw" "job = $t" "path = $T/deploy/$t.hvt"
			"orchestrator = none" "keys = $T/pub1.pub" "threshold = 1"
			"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
			"legacy_signatures = yes")
	done
	write_config "${out[@]}"
}
# sign_legacy JOB UUID BYTES — minisign -l over BYTES, the trusted comment for JOB/UUID
sign_legacy() {
	local name dir
	name=$(build_field "$1" "$2" filename) || return 1
	dir="$BW_DATA/sigs/$1/$2"
	mkdir -p "$dir"
	"$MINISIGN" -S -l -s "$T/pub1.sec" -m "$3" -x "$dir/$name.minisig" \
		-t "$(tc_for "$1" "$2" timestamp="$(date +%s)")" </dev/null >/dev/null
}
legacy_conf
make_file "$T/l" 70000 l
build LA lega "$T/l" --finish-time "$(date +%s)"
sign_legacy lega "$LA" "$T/l"
run petrel upgrade lega
is "$rc" 0 "lega: a legacy signature over the downloaded file verifies"
build LB legb "$T/l" --finish-time "$(date +%s)"
sign_legacy legb "$LB" "$T/l"
clear_requests
run petrel upgrade legb
is "$rc" 0 "legb: the same bytes, from the store, verify against their legacy signature"
is "$(request_count '/f/')" 0 "... without downloading them again"
is "$(sha256_of "$T/deploy/legb.hvt")" "$(sha256_of "$T/l")" "... and are live"
# a legacy signature of other bytes, bound to the build by its trusted comment
make_file "$T/l2" 70000 l2
build LC legb "$T/l2" --finish-time "$(date +%s)"
sign_legacy legb "$LC" "$T/x"
snapshot_state
run petrel upgrade legb
is "$rc" 3 "legb: a legacy signature of other bytes: exit 3"
like "$err" "^petrel: legb: .*/sigs/legb/$LC/[^:]*: file signature does not verify" \
	"... the file signature does not verify"
state_unchanged "... nothing stored or deployed"
