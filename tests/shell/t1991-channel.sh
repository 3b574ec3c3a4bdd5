#!/bin/bash
# Following a channel file (issue 14 item 2, DESIGN.md "Fleet"): written and signed by
# the publisher's tool (contrib/channel/petrel-channel) with Debian's minisign, served
# by the look-alike; petrel deploys the channel's release, not the server's newest,
# waits for its ramp, never deploys a blocked hash (by hand or by the daemon, forward or
# back) and leaves one it runs; a channel that does not verify, an older version, an
# expired or edited file, or a release whose bytes differ from the server's are refused
# (exit 3) with nothing changed.
. "$(dirname "$0")/lib.sh"

[ -x "$MINISIGN" ] || skip_all "minisign not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 85

TOOL="$REPO_ROOT/contrib/channel/petrel-channel"
start_server
make_key pub1
make_key chan
make_key other
CH="$BW_DATA/sigs/channel.json"
CURL="$BW_URL/sigs/channel.json"
pc() { env MINISIGN="$MINISIGN" "$TOOL" -f "$CH" -s "$T/${KEY:-chan}.sec" "$@" >/dev/null 2>&1; }
publish() {	# publish SEED — a new signed build of hello; echoes its uuid
	local u
	make_file "$T/$1.bin" 30000 "$1"
	u=$(add_build hello "$T/$1.bin" --finish-time $(($(date +%s) - 1000 + ${2:-0})))
	sign_build hello "$u" pub1 && echo "$u"
}
sha() { sha256sum <"$T/$1.bin" | cut -d' ' -f1; }
deployed() { sha256sum <"$T/deploy/hello.hvt" 2>/dev/null | cut -d' ' -f1; }
conf() {
	write_config --global "host_id = host-one" --global "interval = 1" \
		"channel = $CURL" "channel_keys = $T/chan.pub" "auto = upgrade" "$@"
}
channel_version() { sqlite3 "$T/state/petrel.db" "SELECT version FROM channels WHERE target = 'hello'" 2>/dev/null; }

u1=$(publish one 0)
u2=$(publish two 100)
u3=$(publish three 200)	# the server's newest
conf
pc init
pc release hello "$u1" "$(sha one)"

# ---- the channel's release, not the server's newest
run petrel check
is "$rc" 100 "check: the channel's release is an update"
like "$out" "-> $u1" "... naming the channel's release, not the server's newest"
run petrel upgrade hello
is "$rc" 0 "upgrade deploys"
is "$(deployed)" "$(sha one)" "... the channel's release (not the newest build $u3)"
v1=$(channel_version)
ok "the accepted channel version is stored" [ -n "$v1" ]
run petrel -v log hello
like "$out" "channel +version $v1 from $CURL" "the journal records the accepted channel"
clear_requests
run petrel --json check hello
is "$rc" 0 "check: up to date with the channel"
is "$(requests | cut -f2 | tr '\n' ' ')" "/sigs/channel.json " \
	"... in one request: the unchanged file's kept signature is verified again"
like "$out" '"takes":true' "check --json: this host takes the release"
like "$out" "\"release\":\\{\"uuid\":\"$u1\"" "... and names it"

run petrel status hello
like "$out" "channel:  $CURL version $v1 \\(accepted [^)]*\\), expires [0-9T:-]+Z" "status names the channel, its version and expiry"
like "$out" "release $u1 [0-9a-f]{12}: ramp at 100.0 %, this host's bucket 0\\.[0-9]{3}: taken" \
	"... the release, the ramp and this host's bucket"
run petrel --json status hello
like "$out" "\"channel\":\\{\"url\":\"$CURL\",\"version\":$v1," "status --json: the channel"

# ---- a ramp that has not reached this host: nothing moves
pc release hello "$u2" "$(sha two)" --start 2099-01-01T00:00:00Z --duration 1d
snapshot_state
run petrel check
is "$rc" 0 "check: a ramp not yet started is no update"
like "$out" "is not for this host yet \\(its bucket 0\\.[0-9]+, the ramp at 0\\.0 %\\)" \
	"... and says why, with this host's bucket"
run petrel upgrade hello
is "$rc" 0 "upgrade: exit 0"
like "$err" "is not for this host yet" "... saying why nothing moved"
is "$(deployed)" "$(sha one)" "... the deployed build stays"
run petrel fetch hello
isnt "$rc" 0 "fetch: nothing the channel gives this host"
like "$err" "is not for this host yet" "... says why"
state_unchanged "... check, upgrade and fetch changed nothing"

# the bucket is DESIGN.md's: take it from Python and ramp so this host is just in / out
bucket=$("${PY[@]}" - "$(sha two)" <<'EOF'
import hashlib, hmac, sys
key = hmac.new(b"host-one", b"petrel", hashlib.sha256).digest()
d = hashlib.sha256(b"petrel-rollout-v1" + key + b"hello" + bytes.fromhex(sys.argv[1])).digest()
print(int.from_bytes(d[:8], "big") / 2**64)
EOF
)
# a ramp of 10000 s started so that the ramp is 2 % short of / past this host's bucket
for side in out in; do
	off=$("${PY[@]}" -c "import sys; b=$bucket; print(int(b*10000 + (-200 if '$side'=='out' else 200)))")
	start=$(date -u -d "@$(($(date +%s) - off))" +%Y-%m-%dT%H:%M:%SZ)
	pc ramp hello --start "$start" --duration 10000
	run petrel --json check hello
	if [ $side = out ]; then
		like "$out" '"takes":false' "bucket $bucket, ramp just short of it: not taken"
	else
		like "$out" '"takes":true' "bucket $bucket, ramp just past it: taken"
	fi
done
run petrel upgrade hello
is "$rc" 0 "upgrade once the ramp reaches this host"
is "$(deployed)" "$(sha two)" "... deploys the release"

# ---- blocks
pc block hello "$(sha one)"
snapshot_state
run petrel upgrade hello --to "$u1"
is "$rc" 3 "upgrade --to a blocked build: exit 3"
like "$err" "build $u1 \\(sha256 $(sha one)\\) is blocked by the channel $CURL \\(version [0-9]+\\); not deploying it" \
	"... naming the build, the hash and the channel"
state_unchanged "... nothing changed"
run petrel revert hello	# the block is known here: upgrade --to polled the channel
is "$rc" 3 "revert onto a blocked build: exit 3"
like "$err" "is blocked by the channel" "... saying so"
is "$(deployed)" "$(sha two)" "... the deployed build stays"

# the release is blocked (and so withdrawn): the daemon leaves it for the previous build
pc unblock hello "$(sha one)"
pc block hello "$(sha two)"
run petrel check hello
like "$out" "blocked: the deployed build $u2 .* is blocked by the channel" \
	"check: the deployed build is blocked"
run petrel status --short hello
like "$out" "\\[blocked\\]" "status --short: [blocked]"
run petrel status hello
like "$out" "1 hash blocked, the deployed build among them: the daemon leaves it" \
	"status: the deployed build is blocked"
run petrel daemon --once
is "$rc" 0 "daemon --once"
like "$err" "deployed build $u2 .* is blocked by the channel: reverted to generation [0-9]+: $u1" \
	"... reverts off the blocked build"
is "$(deployed)" "$(sha one)" "... to the previous one"
like "$(sqlite3 "$T/state/petrel.db" "SELECT reason FROM rejected WHERE target = 'hello' AND sha256 = '$(sha two)'")" \
	"^blocked by the channel: reverted from generation [0-9]+ to [0-9]+$" \
	"... and the rejection it records says why"
run petrel daemon --once
is "$rc" 0 "the next poll"
is "$(deployed)" "$(sha one)" "... stays there (no release, nothing blocked deployed)"

# a newer release: the daemon follows it
pc release hello "$u3" "$(sha three)"
run petrel daemon --once --metrics "$T/m.prom"
is "$rc" 0 "daemon --once with a new release"
is "$(deployed)" "$(sha three)" "... deploys it"
like "$(cat "$T/m.prom")" "petrel_channel_version\\{target=\"hello\"\\} [0-9]+" "metrics: the channel's version"
like "$(cat "$T/m.prom")" "petrel_channel_release_info\\{target=\"hello\",uuid=\"$u3\",sha256=\"$(sha three)\"\\} 1" \
	"metrics: the channel's release"
like "$(cat "$T/m.prom")" "petrel_channel_bucket\\{target=\"hello\"\\} 0\\.[0-9]{6}" "metrics: this host's bucket"
like "$(cat "$T/m.prom")" "petrel_channel_ramp\\{target=\"hello\"\\} 1\\.000000" "metrics: the ramp"
like "$(cat "$T/m.prom")" "petrel_channel_deployed_blocked\\{target=\"hello\"\\} 0" "metrics: nothing blocked deployed"
like "$(cat "$T/m.prom")" "petrel_deployed_info\\{target=\"hello\",job=\"hello\",uuid=\"$u3\",sha256=\"$(sha three)\"\\} 1" \
	"metrics: the deployed build (fleet inventory)"

# ---- refusals: exit 3, nothing changed, the stored channel stays
refused() {	# refused DESCRIPTION ERE [new] — new: the file itself is good (kept)
	snapshot_state
	local v; v=$(channel_version)
	run petrel check hello
	is "$rc" 3 "$1: exit 3"
	like "$err" "$2" "... $1: the message"
	state_unchanged "... $1: nothing changed"
	if [ "${3:-}" = new ]; then
		ok "... $1: the channel file (good in itself) is accepted" [ "$(channel_version)" -gt "$v" ]
	else
		is "$(channel_version)" "$v" "... $1: the stored channel version stays"
	fi
}
cp "$CH" "$T/good.json"
cp "$CH.minisig" "$T/good.minisig"
KEY=other pc refresh
refused "a channel signed by a key the target does not trust" \
	"$CURL: channel file is signed by key [0-9A-F]{16}, which is not among the channel's keys"
cp "$T/good.json" "$CH"; cp "$T/good.minisig" "$CH.minisig"
sed -i 's/"version"/"version" /' "$CH"
refused "an edited channel file" "$CURL: .*signature"
# signed by the channel's key, but no channel file: a NUL byte, then not JSON at all
for bad in nul garbage; do
	if [ $bad = nul ]; then cp "$T/good.json" "$CH"; printf '\0' >>"$CH"
	else printf 'not json' >"$CH"; fi
	"$MINISIGN" -S -s "$T/chan.sec" -m "$CH" -x "$CH.minisig" </dev/null >/dev/null
	snapshot_state
	v=$(channel_version)
	run petrel check hello
	is "$rc" 4 "a signed file that is no channel file ($bad): exit 4"
	like "$err" "$CURL: channel file( holds a NUL byte|: malformed JSON)" "... says what is wrong ($bad)"
	state_unchanged "... nothing changed ($bad)"
	is "$(channel_version)" "$v" "... the stored channel stays ($bad)"
done
cp "$T/good.json" "$CH"; cp "$T/good.minisig" "$CH.minisig"
run petrel check hello
is "$rc" 0 "the good file again: accepted"
pc refresh
run petrel check hello
is "$rc" 0 "a newer version: accepted"
cp "$T/good.json" "$CH"; cp "$T/good.minisig" "$CH.minisig"
refused "an older version (a replay)" "$CURL: channel file has version [0-9]+, version [0-9]+ was already accepted \\(rollback refused\\)"
env MINISIGN="$MINISIGN" "$TOOL" -f "$CH" -s "$T/chan.sec" --valid 0.00002 refresh >/dev/null 2>&1
sleep 2
refused "an expired channel file" "$CURL: channel file \\(version [0-9]+\\) expired at"

# a release whose hash is not the server's build
pc refresh
wrong=$(printf 'a%.0s' {1..64})
pc release hello "$u2" "$wrong"
refused "a release the server's bytes do not match" "^petrel: hello: the channel names sha256 $wrong for build $u2, the server's build has $(sha two)" new

# ---- transport and configuration
pc refresh	# a changed file: its signature is asked for
rm -f "$CH.minisig"
snapshot_state
run petrel check hello
is "$rc" 4 "no signature at the channel's URL: exit 4"
like "$err" "$CURL.minisig: HTTP 404" "... naming the URL"
state_unchanged "... nothing changed"

write_config "channel_keys = $T/chan.pub"
run petrel check
is "$rc" 2 "channel_keys without a channel: exit 2"
like "$err" "channel_keys without a channel would be ignored" "... says so"
write_config "channel = ftp://x/c.json"
run petrel check
is "$rc" 2 "a channel that is not http(s): exit 2"
like "$err" "channel: 'ftp://x/c.json' must start with http:// or https://" "... says so"
