#!/usr/bin/env bash
# check and fetch on the happy paths: the store, the database, status, fsck, platforms,
# shared blobs, thresholds.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 75

# pyj EXPR — evaluate a Python expression over j = json read from stdin.
pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
tmp_empty() { [ -d "$T/state/tmp" ] && [ -z "$(ls -A "$T/state/tmp")" ]; }

start_server
make_key pub1
make_key pub2
write_config

make_file "$T/a.hvt" 300000 a
make_file "$T/b.hvt" 250000 b
HA=$(sha256_of "$T/a.hvt")
HB=$(sha256_of "$T/b.hvt")
K1=$(key_id pub1)
K2=$(key_id pub2)

U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1

# ---- check before fetch
run petrel check
is "$rc" 100 "check before any fetch: exit 100 (update available)"
like "$out" "$U1" "check names the uuid of the newest build"
like "$out" "update available" "check says an update is available"
is "$(request_count '/f/')" 0 "check downloads nothing"
run petrel --json check
is "$rc" 100 "check --json: exit 100"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["remote"]["uuid"] + " " + str(j["targets"][0]["update"])')" \
	"$U1 True" "check --json: remote uuid and update=true"

# ---- first fetch
run petrel fetch
is "$rc" 0 "fetch: exit 0"
like "$out" "fetched $U1" "fetch says what it fetched"
B=$(blob_path "$HA")
ok "blob stored at objects/sha256/XX/REST" test -f "$B"
is "$(stat -c %a "$B" 2>/dev/null)" 444 "blob is mode 0444"
is "$(sha256_of "$B" 2>/dev/null)" "$HA" "blob has the right sha256"
is "$(sql 'select count(*) from versions')" 1 "one versions row"
is "$(sql 'select target, job, uuid, sha256, size, trust from versions')" \
	"hello|hello|$U1|$HA|300000|signed" "the row records target, job, uuid, sha256, size, trust"
is "$(sql 'select keyids from versions')" "$K1" "the row's keyids is the signer's key id"
ok "tmp/ is empty after a fetch" tmp_empty
is "$(request_count '/f/bin/hello.hvt')" 1 "one download"

# ---- second fetch
run petrel fetch
is "$rc" 0 "second fetch: exit 0"
like "$out" "already in the store" "second fetch: already in the store"
is "$(request_count '/f/')" 1 "second fetch downloads nothing"
is "$(sql 'select count(*) from versions')" 1 "still one versions row"

# ---- status
run petrel status
is "$rc" 0 "status: exit 0"
like "$out" "$U1" "status names the uuid"
like "$out" "$HA" "status shows the full sha256"
like "$out" "300000 bytes" "status shows the size"
like "$out" "$K1" "status shows the key id"
run petrel --json status
is "$rc" 0 "status --json: exit 0"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["name"]')" hello "status --json: target name"
is "$(printf '%s' "$out" | pyj '" ".join(str(j["targets"][0]["staged"][k]) for k in ("uuid", "sha256", "size"))')" \
	"$U1 $HA 300000" "status --json: staged uuid, sha256, size"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]["trust"]["keys"]')" "['$K1']" \
	"status --json: staged trust keys"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]["trust"]["mode"]')" signed \
	"status --json: trust mode signed"
is "$(printf '%s' "$out" | pyj '(j["targets"][0]["current"], j["targets"][0]["previous"])')" \
	"(None, None)" "status --json: nothing current or previous"

# ---- fsck
run petrel fsck
is "$rc" 0 "fsck: exit 0"
run petrel --json fsck
is "$(printf '%s' "$out" | pyj 'j["ok"]')" True "fsck --json: ok"

# ---- a newer build appears
U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
run petrel check
is "$rc" 100 "check with a newer build: exit 100"
like "$out" "$U2" "check names the newer uuid"
run petrel fetch
is "$rc" 0 "fetch of the newer build: exit 0"
like "$out" "fetched $U2" "fetch says it fetched the newer build"
is "$(sql 'select count(*) from versions')" 2 "two versions rows"
ok "the newer blob is stored" test -f "$(blob_path "$HB")"
ok "the older blob is kept" test -f "$B"
ok "tmp/ is empty" tmp_empty
run petrel --json status
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]["uuid"]')" "$U2" \
	"status --json: the newest verified build is staged"
run petrel fsck
is "$rc" 0 "fsck with two blobs: exit 0"

# ---- --json fetch
run petrel --json fetch
is "$rc" 0 "fetch --json: exit 0"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["name"] + " " + str(j["targets"][0]["fetched"])')" \
	"hello False" "fetch --json parses; already fetched"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["version"]["sha256"]')" "$HB" "fetch --json: version sha256"

# ---- a build whose blob the store already has, for another target
clear_requests
write_config "[target \"hello2\"]" "server = bw" "job = hello" "path = $T/deploy/hello2.hvt" \
	"keys = $T/pub1.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
run petrel fetch hello2
is "$rc" 0 "fetch for a second target of the same job: exit 0"
is "$(request_count '/f/')" 0 "a blob already in the store is not downloaded again"
is "$(request_count '/sigs/')" 1 "... but its signature is fetched and verified"
is "$(sql "select count(*) from versions where target = 'hello2' and sha256 = '$HB'")" 1 \
	"a versions row for the second target"
is "$(sql "select keyids from versions where target = 'hello2'")" "$K1" "... with its key ids"
is "$(find "$T/state/objects" -type f | wc -l)" 2 "no new blob"
ok "tmp/ is empty" tmp_empty
run petrel status hello2
like "$out" "$U2" "status of the second target"
run petrel fsck
is "$rc" 0 "fsck: exit 0"

# ---- the shared blob is re-verified: a signature that fails still refuses
rm -rf "$T/state"
write_config "[target \"hello2\"]" "server = bw" "job = hello" "path = $T/deploy/hello2.hvt" \
	"keys = $T/pub2.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
run petrel fetch hello
is "$rc" 0 "fetch into a fresh state: exit 0"
clear_requests
snapshot_state
run petrel fetch hello2
is "$rc" 3 "second target trusting another key: exit 3 though the blob is stored"
like "$err" "unknown key" "... signed by an unknown key"
state_unchanged "... nothing stored for it"

# ---- trust = server
rm -rf "$T/state"
write_config "trust = server" "-keys" "-signatures" "-threshold"
run petrel fetch
is "$rc" 0 "trust = server: fetch exit 0"
like "$out" "weak" "trust = server: fetch says the trust is weak"
is "$(sql 'select trust, keyids from versions')" "server|" "trust = server: row has trust server, no keys"
run petrel status
like "$out" "WEAK|weak" "trust = server: status shows weak"
run petrel --json status
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["staged"]["trust"]["weak"]')" True \
	"trust = server: status --json trust.weak"

# ---- platform filter
rm -rf "$T/state"
make_file "$T/p1.bin" 10000 p1
make_file "$T/p2.bin" 12000 p2
UPD=$(add_build multi "$T/p1.bin" --filename multi.deb --platform debian-12 --finish-time 1700000000)
UPU=$(add_build multi "$T/p2.bin" --filename multi.bin --platform ubuntu-22.04 --finish-time 1700005000)
sign_build multi "$UPD" pub1
sign_build multi "$UPU" pub1
write_config "job = multi" "platform = debian-12"
run petrel check
like "$out" "$UPD" "platform = debian-12: check offers the debian build"
unlike "$out" "$UPU" "... not the newer ubuntu one"
run petrel fetch
is "$rc" 0 "platform = debian-12: fetch exit 0"
is "$(sql 'select uuid, platform, sha256 from versions')" "$UPD|debian-12|$(sha256_of "$T/p1.bin")" \
	"platform = debian-12: the debian build is stored"
rm -rf "$T/state"
write_config "job = multi" "platform = ubuntu-22.04"
run petrel fetch
is "$(sql 'select uuid, platform from versions')" "$UPU|ubuntu-22.04" \
	"platform = ubuntu-22.04: the ubuntu build is stored"

# ---- 2 of 2 keys, two signature URL templates
rm -rf "$T/state"
make_file "$T/c.hvt" 50000 c
U3=$(add_build two "$T/c.hvt" --filename two.hvt --finish-time 1700000000)
sign_build two "$U3" pub1
sign_build two "$U3" pub2
mkdir -p "$BW_DATA/sigs/k2/two/$U3"
mv "$BW_DATA/sigs/two/$U3/two.hvt.minisig" "$BW_DATA/sigs/k2/two/$U3/two.hvt.minisig"
sign_build two "$U3" pub1
write_config "job = two" "keys = $T/pub1.pub, $T/pub2.pub" "threshold = 2" \
	"signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig, $BW_URL/sigs/k2/{job}/{uuid}/{filename}.minisig"
run petrel fetch
is "$rc" 0 "2 of 2 keys with two signature URLs: exit 0"
ids=$(sql 'select keyids from versions')
ok "the row records both key ids ($ids)" test "$ids" = "$K1,$K2" -o "$ids" = "$K2,$K1"

# ---- threshold 2 with only one signature
rm -rf "$T/state"
rm -rf "$BW_DATA/sigs/k2"
clear_requests
snapshot_state
run petrel fetch
is "$rc" 3 "threshold 2 with one signature: exit 3"
like "$err" "1 of 2|threshold" "... says the threshold is unmet"
state_unchanged "... nothing stored"
is "$(request_count '/f/')" 0 "... and nothing downloaded"
