#!/usr/bin/env bash
# petrel against builder-web as it really answers (the look-alike emulates its SQL):
#  - the job listing names, per distinct hash, the newest build ANYWHERE holding those
#    bytes, so the uuid petrel asks about is often absent: upgrade --to a reproduced
#    build, a platform whose bytes were later built on another platform, bytes another
#    job later built; and the other direction, bytes the job never built, refused;
#  - rebuilders agree only through a main binary (not a failed build, not another
#    artifact), and one server under another name never agrees with itself;
#  - the build record's Solo5 abi and manifest devices refuse a build before a byte
#    of it is downloaded (the real albatross adapter against the albatross-client
#    stand-in);
#  - a first contact's errors tell the cases apart: unknown job, unknown platform, a
#    URL that is no builder-web, a job without builds, a missing signature's URL, a
#    secret key given as a public key; the daemon logs a configuration problem once
#    per backoff step.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 80

start_server
make_key pub1
now=$(date +%s)
for f in a b c d e; do make_file "$T/$f" 40000 "$f"; done

# refused NAME RC ERE [CMD…] — CMD (default: upgrade hello) exits RC with a one-line
# message matching ERE, and the store, the database and the deployed file are unchanged.
refused() {
	local name=$1 want=$2 ere=$3; shift 3
	[ $# -gt 0 ] || set -- upgrade hello
	snapshot_state
	clear_requests
	run petrel "$@"
	is "$rc" "$want" "$name: exit $want"
	like "$err" "$ere" "$name: the message says why"
	state_unchanged "$name: nothing stored or deployed"
}

# ------------------------------------------------------------------ the listing

# ---- upgrade --to a build whose bytes a later build reproduced (the normal case)
write_config
ua=$(add_build hello "$T/a" --start-time $((now - 7260)) --finish-time $((now - 7200)))
sign_build hello "$ua" pub1
ua2=$(add_build hello "$T/a" --start-time $((now - 3660)) --finish-time $((now - 3600)))
ub=$(add_build hello "$T/b" --start-time $((now - 1860)) --finish-time $((now - 1800)))
sign_build hello "$ub" pub1
run curl -sf -H 'Accept: application/json' "$BW_URL/job/hello"
unlike "$out" "$ua" "the listing names the reproduction $ua2, not $ua"
clear_requests
run petrel upgrade hello --to "$ua"
is "$rc" 0 "upgrade --to a reproduced build: deployed"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/a")" "... its bytes"
is "$(sql "select uuid from versions")" "$ua" "... recorded as the build asked for"
is "$(request_count "GET	/job/hello/build/$ua/main-binary")" 2 \
	"... its hash learned from its own main-binary answer (then downloaded)"
run petrel upgrade hello
is "$rc" 0 "then the newest build B"
run petrel upgrade hello --to "$ua" --allow-downgrade
is "$rc" 0 "upgrade --to the reproduced A again, from the store"

# ---- the other direction: bytes the job never built, offered through main-binary
ux=$(add_build other "$T/c")
sign_build other "$ux" pub1
refused "upgrade --to a build of another job with bytes hello never built" 3 \
	"^petrel: hello: $BW_URL/job/hello: build $ux holds sha256 $(sha256_of "$T/c"), which job hello never built \(refused\)$" \
	upgrade hello --to "$ux"
is "$(request_count "GET	/job/hello/build/$ux/f/")" 1 "... only the headers were asked for (no download after)"
ok "... tmp/ is empty" test -z "$(ls -A "$T/state/tmp")"

# ---- a platform: the newest build on P holds bytes later built on another platform
rm -rf "$T/state" "$T/deploy"
write_config "platform = debian-12"
up=$(add_build hello "$T/d" --platform debian-12 --start-time $((now - 600)) --finish-time $((now - 540)))
sign_build hello "$up" pub1
uq=$(add_build hello "$T/d" --platform freebsd-14 --start-time $((now - 300)) --finish-time $((now - 240)))
run curl -sf -H 'Accept: application/json' "$BW_URL/job/hello?platform=debian-12"
like "$out" "$uq" "the debian-12 listing names the freebsd-14 build holding the same bytes"
run petrel check hello
is "$rc" 100 "platform target: check finds the update (not 'not in the listing')"
run petrel upgrade hello
is "$rc" 0 "platform target: upgrade deploys it"
is "$(sql "select uuid || ' ' || platform from versions")" "$up debian-12" "... as the debian-12 build"
run petrel check hello
is "$rc" 0 "platform target: up to date afterwards"
# the other direction: a build on freebsd-14 only, asked for by uuid on a debian-12 target
uf=$(add_build hello "$T/e" --platform freebsd-14)
refused "upgrade --to a build whose bytes were never built on the target's platform" 3 \
	"build $uf holds sha256 $(sha256_of "$T/e"), which job hello never built on platform debian-12" \
	upgrade hello --to "$uf"

# ---- the target's bytes, later built by another job
for u in "$up" "$uq" "$uf"; do remove_build hello "$u"; done
rm -rf "$T/state" "$T/deploy"
write_config
uo=$(add_build other "$T/b" --start-time $((now - 60)) --finish-time $((now - 30)))
run curl -sf -H 'Accept: application/json' "$BW_URL/job/hello"
like "$out" "$uo" "hello's listing names the other job's build for B's bytes"
run petrel upgrade hello
is "$rc" 0 "bytes another job later built: upgrade works"
is "$(sql "select job || ' ' || uuid from versions")" "hello $ub" "... recorded as hello's build"

# ------------------------------------------------------------------ rebuilders

start_server rb1
start_server rb2
mkdir -p "$T/art"
cp "$T/c" "$T/art/c.bin"
rm -rf "$T/state" "$T/deploy"
rebuilt() {
	write_config "trust = rebuilt" -keys -signatures -threshold "rebuilders = rb1" "agree = 1" \
		'[server "rb1"]' "url = $1"
}
uc=$(add_build hello "$T/c")
rebuilt "$RB1_URL"

# ---- rb1 holds C only in a failed build
BW_DATA=$RB1_DATA add_build hello /dev/null --failed --artifact "$T/art/c.bin" >/dev/null
run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$RB1_URL/hash?sha256=$(sha256_of "$T/c")"
like "$out" "^302 " "rb1's /hash names its failed build"
refused "a rebuilder holding the bytes only in a failed build" 3 \
	"0 of 1 rebuilders? agree.*rb1: holds it only in build [0-9a-f-]+ of job 'hello', which has no main binary \(a failed build\)"

# ---- rb2 holds C only as another artifact of a successful build
rebuilt "$RB2_URL"	# rb1 is rb2's address now
BW_DATA=$RB2_DATA add_build hello "$T/d" --artifact "$T/art/c.bin" >/dev/null
refused "a rebuilder holding the bytes only as a non-main artifact" 3 \
	"rb1: holds it only as another artifact of build [0-9a-f-]+ of job 'hello' \(its main binary has sha256 $(sha256_of "$T/d" | cut -c1-12)"

# ---- the target's own server under another name never agrees with itself
rebuilt "http://localhost:$BW_PORT"
refused "the target's own server as 'localhost'" 3 \
	"rb1: is the same server as the target's own server \(same scheme, address and port\)"
is "$(request_count '/hash')" 0 "... and it was not even asked"
rebuilt "http://127.0.0.1:$BW_PORT/."
refused "the target's own server with a trailing '/.'" 2 \
	"rebuilder 'rb1' is the target's own server" check hello

# ------------------------------------------------------------------ Solo5 preflight

rm -rf "$T/state" "$T/deploy"
mkdir -p "$T/deploy"
us=$(add_build hello "$T/e" --solo5-abi spt --solo5-device net:service --solo5-device block:storage)
sign_build hello "$us" pub1
run curl -sf -H 'Accept: application/json' "$BW_URL/job/hello/build/$us"
like "$out" '"solo5_abi": ?\{[^}]*"target": ?"spt"' "the record carries solo5_abi"

# ---- abi
write_config "abi = hvt"
refused "a Solo5 build for another abi" 3 \
	"^petrel: hello: build $us is a Solo5 'spt' unikernel, the target runs 'hvt' \(abi\); refused before downloading$"
is "$(request_count '/f/')" 0 "... nothing of it was asked for"
refused "check says so too" 3 "'spt' unikernel, the target runs 'hvt'" check hello

# ---- devices, through the albatross adapter and the albatross-client stand-in
export PATH="$REPO_ROOT/tests/fixtures/bin:$PATH"
export PETREL_ALBATROSS_STATE=$T/albatross PETREL_STANDIN_LOG=$T/standin.log
export PETREL_ALBATROSS_ENV=$T/alb.env
printf "ALBATROSS_ARGS='--net=service:br0 --mem=64'\n" >"$T/alb.env"
write_config "abi = spt" "orchestrator = $REPO_ROOT/contrib/orchestrators/albatross"
run petrel --json check hello
is "$rc" 100 "check (no devices asked): an update"
is "$(jq -c '.targets[0].remote.solo5' <<<"$out")" '{"abi":"spt","devices":["net:service","block:storage"]}' \
	"check --json shows the record's Solo5 abi and devices"
: >"$T/standin.log"
refused "a build needing a block device the unikernel lacks" 3 \
	"^petrel: hello: build $us needs Solo5 device block:storage, which the orchestrator does not give the unikernel \(it has: net:service\); refused before downloading$"
is "$(request_count '/f/')" 0 "... nothing of it was asked for"
unlike "$(cat "$T/standin.log")" "create" "... and albatross was not asked to create anything"
uok=$(add_build hello "$T/d" --solo5-abi spt --solo5-device net:service)
sign_build hello "$uok" pub1
run petrel upgrade hello
is "$rc" 0 "a build whose devices the unikernel has: deployed through albatross"
like "$(cat "$T/standin.log")" "create${TAB}--force${TAB}hello${TAB}$T/deploy/hello.hvt" \
	"... albatross-client create --force ran"
# an adapter that cannot tell (exec: no devices action) leaves the check to the orchestrator
rm -rf "$T/state" "$T/deploy"; mkdir -p "$T/deploy"
cat >"$T/nodevices" <<'EOF'
#!/bin/sh
[ "$1" = devices ] && { echo "nodevices: devices: not supported by this adapter" >&2; exit 2; }
exit 0
EOF
chmod +x "$T/nodevices"
write_config "orchestrator = $T/nodevices"
run petrel -v upgrade hello
is "$rc" 0 "an adapter without 'devices': the build is deployed"
like "$err" "devices of build $uok not checked: .*nodevices devices: exit status 2" "... with a note saying so"

# ------------------------------------------------------------------ first contact

rm -rf "$T/state" "$T/deploy"
write_config "job = nosuch"
refused "an unknown job" 2 "^petrel: hello: $BW_URL has no job 'nosuch' \(check the target's job\)$" check hello
write_config "platform = plan9"
refused "an unknown platform" 2 \
	"^petrel: hello: $BW_URL/job/hello has no build on platform 'plan9' \(check the target's platform\)$" check hello
bw_py add-job --data "$BW_DATA" --job empty >/dev/null
write_config "job = empty"
refused "a job without builds" 4 "^petrel: hello: $BW_URL/job/empty has no build with a main binary yet$" check hello
write_config
sed -i "s|^url = $BW_URL\$|url = $BW_URL/sigs|" "$T/petrel.conf"
refused "a server url that is no builder-web" 2 \
	"^petrel: hello: $BW_URL/sigs does not answer as a builder-web server \(.*check the server's url\)$" check hello

# ---- a missing signature names the URL that answered 404
write_config
t=$(date +%s)	# the newest build by far (the Solo5 builds above started at their time)
un=$(add_build hello "$T/a" --start-time $((t + 5)) --finish-time $((t + 10)))
refused "no signature" 3 \
	"no signature found: $BW_URL/sigs/hello/$un/a.minisig answered 404" upgrade hello
write_config "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig, $BW_URL/sigs/x/{uuid}.minisig"
refused "no signature at two URLs" 3 \
	"no signature found: $BW_URL/sigs/hello/$un/a.minisig answered 404, and 1 more signature URL" upgrade hello

# ---- a secret key where a public key belongs
write_config "keys = $T/pub1.sec"
refused "a secret key in keys" 2 "$T/pub1.sec: is a minisign SECRET key, not a public key" check hello

# ---- the daemon: a configuration problem once per backoff step, at error level
write_config "job = nosuch"
run petrel daemon --once
is "$rc" 2 "daemon --once with an unknown job: exit 2"
like "$err" "^petrel: error hello: configuration: $BW_URL has no job 'nosuch' \(check the target's job\) \(failure 1, next try in [0-9]+ s\)$" \
	"... one error line saying it is the configuration"
is "$(printf '%s\n' "$err" | grep -c ' hello: ')" 1 "... and only that line about the target"
