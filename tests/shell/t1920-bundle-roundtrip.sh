#!/usr/bin/env bash
# Bundles (issue 13): export on a host that fetched a build, import into an EMPTY state
# directory of another host with the builder-web look-alike stopped, upgrade --to with no
# network; every compression, stdin/stdout, --json, a second import, --uuid, the journal
# row, trust = rebuilt and signed+rebuilt (--offline-ok), and export's own refusals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-bundle.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 62

tmp_empty() { [ -z "$(ls -A "$T/state/tmp" 2>/dev/null)" ]; }
pyj() { "${PY[@]}" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

bundle_hosts 150000 170000
src upgrade hello --to "$U1" >/dev/null 2>&1 || BAIL_OUT "source: upgrade to B1"
src fetch hello >/dev/null 2>&1 || BAIL_OUT "source: fetch B2"

# ---------------------------------------------------------------- export
run src export hello "$T/b.tar.gz"
is "$rc" 0 "export hello FILE.tar.gz: exit 0"
like "$out" "^hello: exported $U1 .*150000 bytes, 1 signature\) to $T/b.tar.gz" \
	"... says which build (the current one), its size and its signature"
is "$(ls "$T" | grep -c 'b.tar.gz.tmp-')" 0 "... no temporary file left beside it"
is "$(tar -tzf "$T/b.tar.gz" | tr '\n' ' ')" \
	"petrel-bundle.json VERSIONS/$U1/meta.json VERSIONS/$U1/sig/$(key_id pub1).minisig VERSIONS/$U1/blob " \
	"... the manifest first, then meta.json, the signature and the blob"
is "$(tar -xzOf "$T/b.tar.gz" "VERSIONS/$U1/blob" | sha256sum | cut -d' ' -f1)" \
	"$(sha256_of "$T/b1.hvt")" "... the blob is the build's bytes"
is "$(tar -xzOf "$T/b.tar.gz" petrel-bundle.json | pyj '(j["format"], j["version"], [v["uuid"] for v in j["versions"]])')" \
	"('petrel-bundle', 1, ['$U1'])" "... the manifest names the format, its version and the build"
is "$(tar -xzOf "$T/b.tar.gz" "VERSIONS/$U1/meta.json" | pyj '(j["job"], j["filename"], j["size"], j["trust"]["mode"])')" \
	"('hello', 'hello.hvt', 150000, 'signed')" "... meta.json: job, filename, size, trust evidence"
for z in tar tar.xz tar.zst; do
	run src export hello "$T/b.$z"
	is "$rc" 0 "export to .$z: exit 0"
done
is "$(head -c4 "$T/b.tar.xz" | od -An -tx1 | tr -d ' ') $(head -c4 "$T/b.tar.zst" | od -An -tx1 | tr -d ' ')" \
	"fd377a58 28b52ffd" "... compressed as the names say (xz, zstd magic)"

# ---------------------------------------------------------------- import into an empty state directory, no network
stop_server
ok "the importing host has no state directory yet" test ! -e "$T/state"
run petrel import "$T/b.tar.gz"
is "$rc" 0 "import into an empty state directory with the server down: exit 0"
like "$out" "^hello: imported $U1 .* trust signed, signed by $(key_id pub1); deploy it with 'petrel upgrade hello --to $U1'" \
	"... says what it imported, the trust and how to deploy it"
is "$(sql "select uuid || ' ' || trust || ' ' || keyids || ' ' || offline from versions")" \
	"$U1 signed $(key_id pub1) 0" "... one version recorded with its evidence (not offline: nothing was skipped)"
is "$(sql "select count(*) from signatures")" 1 "... with its signature kept"
is "$(sql "select count(*) from journal where event = 'import' and target = 'hello' and detail like '$U1 from %'")" 1 \
	"... and an 'import' journal row"
ok "... tmp/ is empty" tmp_empty
run petrel upgrade hello --to "$U1"
is "$rc" 0 "upgrade --to the imported build with the server down: exit 0"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/b1.hvt")" "... the build's bytes are deployed"
run petrel status
like "$out" "$U1" "status shows the imported build current"
run petrel fsck
is "$rc" 0 "fsck is clean after the import"

run petrel import "$T/b.tar.xz"
is "$rc" 0 "the same build again (.tar.xz): exit 0"
like "$out" "^hello: $U1 .* already in the store" "... already in the store"
is "$(sql 'select count(*) from versions')" 1 "... no second version row"
run petrel import "$T/b.tar.zst"
is "$rc" 0 "a .tar.zst bundle reads too"

# ---------------------------------------------------------------- stdin and stdout, --json
rm -rf "$T/state"
run petrel --json import "$T/b.tar"
is "$rc" 0 "import --json: exit 0"
is "$(printf '%s' "$out" | pyj '(j["versions"][0]["target"], j["versions"][0]["imported"], j["versions"][0]["version"]["uuid"], j["versions"][0]["version"]["trust"]["mode"])')" \
	"('hello', True, '$U1', 'signed')" "... target, imported, uuid, trust mode"
src export hello --uuid "$U2" - 2>/dev/null | petrel import - >"$T/out" 2>"$T/err"
is "${PIPESTATUS[*]}" "0 0" "export --uuid B2 - | import -: both exit 0"
like "$(cat "$T/out")" "^hello: imported $U2 .* from stdin" "... the bundle came through stdin"
is "$(sql "select group_concat(uuid, ' ') from (select uuid from versions order by id)")" "$U1 $U2" "... B2 recorded"
run petrel upgrade hello --to "$U1"
is "$rc" 0 "upgrade to B1 offline"
run petrel upgrade hello --to "$U2"
is "$rc" 0 "upgrade to B2 offline (the stdin import)"

# ---------------------------------------------------------------- rollback marks
run src --json export hello "$T/old.tar" --uuid "$U1"
is "$rc" 0 "export --uuid B1 --json: exit 0"
is "$(printf '%s' "$out" | pyj '[v["version"]["uuid"] for v in j["versions"]]')" "['$U1']" "... --json names it"
rm -rf "$T/state"
petrel import "$T/b.tar" >/dev/null 2>&1
src export hello --uuid "$U2" "$T/new.tar" >/dev/null 2>&1
petrel import "$T/new.tar" >/dev/null 2>&1
sqlite3 "$T/state/petrel.db" "delete from signatures where version in (select id from versions where uuid = '$U1'); delete from versions where uuid = '$U1'"
snapshot_state
run petrel import "$T/old.tar"
is "$rc" 3 "a bundle older than the newest build verified: exit 3"
like "$err" "hello: .*/old.tar: build $U1 .* is older than .* already verified \(rollback refused; --allow-downgrade takes it\)" \
	"... a rollback, naming the target, the bundle and the build"
state_unchanged "... nothing stored"
run petrel import --allow-downgrade "$T/old.tar"
is "$rc" 0 "... --allow-downgrade takes it"

# ---------------------------------------------------------------- trust = rebuilt, signed+rebuilt
write_config -keys -signatures "trust = rebuilt" "rebuilders = rb" "[server \"rb\"]" "url = http://127.0.0.1:9"
rm -rf "$T/state"
snapshot_state
run petrel import "$T/b.tar"
is "$rc" 3 "trust = rebuilt: import refused without --offline-ok (exit 3)"
like "$err" "hello: trust = rebuilt: rebuilders cannot be asked offline; 'petrel import --offline-ok'" \
	"... saying rebuilders cannot be asked offline and what to do"
ok "... in one line" one_line
state_unchanged "... nothing stored"
run petrel import --offline-ok "$T/b.tar"
is "$rc" 0 "... --offline-ok: exit 0"
like "$out" "rebuilders not checked: offline" "... saying rebuilders were not checked"
is "$(sql "select trust || '/' || rebuilders || '/' || offline from versions")" "server//1" \
	"... recorded as the hash alone (trust server, no rebuilder), imported offline"
write_config "trust = signed+rebuilt" "rebuilders = rb" "[server \"rb\"]" "url = http://127.0.0.1:9"
rm -rf "$T/state"
run petrel import "$T/b.tar"
is "$rc" 3 "trust = signed+rebuilt: refused without --offline-ok"
run petrel import --offline-ok "$T/b.tar"
is "$rc" 0 "... --offline-ok: the publisher's signatures alone"
is "$(sql "select trust || '/' || keyids from versions")" "signed/$(key_id pub1)" \
	"... recorded as signed, with the key"
is "$(sql "select detail like '%rebuilders not checked: offline%' from journal where event = 'import'")" 1 \
	"... and the journal says rebuilders were not checked"
run petrel upgrade hello --to "$U1"
is "$rc" 0 "... and upgrade --to deploys it with no network (the operator said --offline-ok)"
is "$(sha256_of "$T/deploy/hello.hvt")" "$(sha256_of "$T/b1.hvt")" "... its bytes"

# ---------------------------------------------------------------- export's refusals
run src export hello "$T/b.zip"
is "$rc" 2 "export to a name without a known suffix: exit 2"
like "$err" "b.zip: a bundle's name ends in .tar, .tar.gz, .tgz, .tar.xz or .tar.zst" "... naming the suffixes"
run src export hello --uuid 00000000-0000-4000-8000-000000000000 "$T/x.tar"
isnt "$rc" 0 "export --uuid of a build not in the store fails"
like "$err" "hello: build 00000000-0000-4000-8000-000000000000 is not in the store" "... saying so"
ok "... nothing written" test ! -e "$T/x.tar"
run src --json export hello -
is "$rc" 2 "export --json to stdout: a usage error"
# a blob that no longer matches its record is not carried away
H1=$(sha256_of "$T/b1.hvt"); blob=$T/src-state/objects/sha256/${H1:0:2}/${H1:2}
chmod u+w "$blob"; printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc 2>/dev/null
run src export hello "$T/c.tar"
is "$rc" 6 "export of a blob that does not match its name: exit 6"
like "$err" "sha256 is [0-9a-f]{64}, not its name \\(run petrel fsck\\)" "... saying so and what to run"
ok "... no bundle and no temporary file left" eval '[ -z "$(ls "$T" | grep "^c\.tar")" ]'
mkdir -p "$T/ro"; chmod 0555 "$T/ro"
run src export hello "$T/ro/b.tar"
if [ "$(id -u)" = 0 ]; then skip "root writes anywhere" 1; else
	is "$rc" 1 "export into a directory it cannot write: exit 1"; fi
