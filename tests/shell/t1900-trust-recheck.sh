#!/usr/bin/env bash
# Trust is re-checked at every deploy (issue 15): the signatures a version was accepted
# with are kept in the store and verified again against the current keys, threshold and
# trust mode before `upgrade --to`, `revert` (back and forward) or the daemon puts a
# stored build live. A key removed from `keys` stops every build only it vouched for,
# naming it; a refusal is exit 3, one "refused" journal row, and nothing else changes.
# A revert's rejection of the build it leaves is committed with the revert itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 110

start_server
for k in ka kb kc; do make_key $k; done
KA=$(key_id ka) KB=$(key_id kb) KC=$(key_id kc)
SIGS=$(sig_templates sa sb)
# conf KEYS THRESHOLD [LINE…] — keys by name ("ka kb")
conf() {
	local k keys=()
	for k in $1; do keys+=("$T/$k.pub"); done
	local IFS=,
	write_config "keys = ${keys[*]}" "threshold = $2" -signatures "$SIGS" "${@:3}"
}
P=$T/deploy/hello.hvt
pointers() { sql "select current || ' ' || previous from targets where name = 'hello'"; }
jrows() { sql "select count(*) from journal"; }
last_event() { sql "select event || ': ' || detail from journal order by id desc limit 1"; }
rejected() { sql "select count(*) from rejected where target = 'hello'"; }
AGAIN='trust re-checked against the current configuration'

# refused_switch DESC ERE CMD… — CMD must exit 3 with ERE in its message and change
# nothing but one "refused" journal row: no file, no blob, no version, no pointer, no
# rejection, no request for bytes.
refused_switch() {
	local desc=$1 ere=$2 j p rj; shift 2
	snapshot_state
	j=$(jrows) p=$(pointers) rj=$(rejected)
	clear_requests
	run petrel "$@"
	note "$desc: $err"
	is "$rc" 3 "$desc: exit 3"
	like "$err" "$ere" "$desc: the message names the build, the key and why"
	state_unchanged "$desc: nothing stored or deployed"
	is "$(pointers) $(rejected) $(jrows)" "$p $rj $((j + 1))" \
		"$desc: generations and rejections unchanged, one journal row more"
	like "$(last_event)" "^refused: $1: " "$desc: the journal row is the refusal"
	is "$(request_count '/f/')" 0 "$desc: no bytes asked for"
}

now=$(date +%s)
for b in 1 2 3 4; do make_file "$T/x$b" 30000 "x$b"; done
X1=$(add_build hello "$T/x1" --finish-time $((now - 4000)))
X2=$(add_build hello "$T/x2" --finish-time $((now - 3000)))
sign_as ka sa hello "$X1"
sign_as ka sa hello "$X2"

# ---- kept at fetch: one signatures row per key, the text as served, the BLAKE2b
conf "ka kb" 1
run petrel upgrade hello --to "$X1"
is "$rc" 0 "build 1 (signed by A) deployed"
run petrel upgrade hello
is "$rc" 0 "build 2 (signed by A) deployed"
is "$(pointers)" "2 1" "current 2, previous 1"
is "$(sql "select s.keyid from signatures s join versions v on v.id = s.version where v.uuid = '$X2'")" \
	"$KA" "the signature is kept under the version, by key id"
is "$(sql "select s.minisig from signatures s join versions v on v.id = s.version where v.uuid = '$X2'")" \
	"$(cat "$BW_DATA/sigs/sa/hello/$X2/$(build_field hello "$X2" filename).minisig")" \
	"... its text exactly as the signature URL served it"
is "$(sql "select blake2b from versions where uuid = '$X2'")" "$(b2sum "$T/x2" | cut -d' ' -f1)" \
	"the version records the bytes' BLAKE2b-512"

# ---- key A removed (it leaked): nothing only A vouched for goes live again
conf "kb" 1
ONLY_A="build %s was vouched for only by key $KA, which is no longer in keys; not deploying it \\($AGAIN\\)"
# shellcheck disable=SC2059
refused_switch "upgrade --to, key removed" "^petrel: hello: $(printf "$ONLY_A" "$X1")\$" \
	upgrade hello --to "$X1" --allow-downgrade
run petrel upgrade hello --to "$X1" --allow-downgrade --dry-run
is "$rc" 3 "upgrade --dry-run meets the same refusal: exit 3"
# shellcheck disable=SC2059
like "$err" "^petrel: hello: $(printf "$ONLY_A" "$X1")\$" "... with the same message"
# shellcheck disable=SC2059
refused_switch "revert, key removed" "^petrel: hello: $(printf "$ONLY_A" "$X1")\$" revert hello
is "$(sha256_of "$P")" "$(sha256_of "$T/x2")" "build 2 is still live"
# status says so of what runs and of what a revert goes back to
run petrel status hello
like "$out" "current: generation 2.*
    NOT TRUSTED NOW: build $X2 was vouched for only by key $KA, which is no longer in keys" \
	"status: the current build is no longer trusted, naming the key"
like "$out" "previous: generation 1.*
    NOT TRUSTED NOW: build $X1 was vouched for only by key $KA" "status: nor the previous one"
run petrel status --short hello
like "$out" "\\[untrusted: current previous\\]" "status --short: flags both"
run petrel --json status hello
like "$(printf '%s' "$out" | pyj 'j["targets"][0]["untrusted"]["previous"]')" \
	"^build $X1 was vouched for only by key $KA" "status --json: untrusted.previous says why"
is "$(printf '%s' "$out" | pyj 'j["targets"][0]["untrusted"]["staged"]')" None \
	"status --json: nothing staged, null"

# ---- revert forward again (the build reverted from), after the key went
conf "ka kb" 1
run petrel revert hello
is "$rc" 0 "with key A back: revert to build 1"
is "$(pointers) $(rejected)" "1 2 1" "... current 1, previous 2, build 2 rejected"
is "$(sql "select count(*) from journal where event = 'reject'")" 1 "... one 'reject' journal row"
conf "kb" 1
# shellcheck disable=SC2059
refused_switch "revert forward, key removed" "^petrel: hello: $(printf "$ONLY_A" "$X2")\$" revert hello
conf "ka kb" 1
run petrel revert hello
is "$rc" 0 "with key A back: forward to build 2"
is "$(pointers) $(rejected)" "2 1 0" "... current 2, the rejection taken back"

# ---- a stored build whose key stays deploys without the server
stop_server
conf "ka kb" 1
run petrel upgrade hello --to "$X1" --allow-downgrade
is "$rc" 0 "key still configured: upgrade --to a stored build, server down"
is "$(sha256_of "$P")" "$(sha256_of "$T/x1")" "... build 1 live"
start_server "" "$BW_PORT"
conf "ka kb" 1

# ---- threshold 2, signed by A and B; B removed
X3=$(add_build hello "$T/x3" --finish-time $((now - 2000)))
sign_as ka sa hello "$X3"
sign_as kb sb hello "$X3"
conf "ka kb" 2
run petrel fetch hello
is "$rc" 0 "build 3 (signed by A and B) fetched with threshold 2"
is "$(sql "select group_concat(s.keyid, ',') from signatures s join versions v on v.id = s.version where v.uuid = '$X3'")" \
	"$(printf '%s\n' "$KA" "$KB" | sort | paste -sd,)" "... both signatures kept"
conf "ka kc" 2
refused_switch "threshold 2, key B removed" \
	"^petrel: hello: build $X3: key $KB, which vouched for it, is no longer in keys, leaving 1 of 2 required signatures; not deploying it \\($AGAIN\\)\$" \
	upgrade hello --to "$X3"
# ---- threshold 1, signed by A and B, A removed: B still vouches
conf "kb" 1
run petrel upgrade hello --to "$X3"
is "$rc" 0 "threshold 1, A removed, B still configured: build 3 deploys"
is "$(sha256_of "$P")" "$(sha256_of "$T/x3")" "... build 3 live"
conf "ka kb" 1

# ---- a version stored by an older petrel (no signature rows): its recorded key ids
sqlite3 "$T/state/petrel.db" "delete from signatures where version = (select id from versions where uuid = '$X1')"
conf "kb" 1
refused_switch "no kept signatures, key removed" \
	"^petrel: hello: build $X1 was vouched for only by key $KA, which is no longer in keys; not deploying it \\($AGAIN; the version predates kept signatures: its recorded key ids were checked\\)\$" \
	upgrade hello --to "$X1" --allow-downgrade
conf "ka kb" 1
run petrel upgrade hello --to "$X1" --allow-downgrade
is "$rc" 0 "no kept signatures, key still configured: deploys"
is "$(sha256_of "$P")" "$(sha256_of "$T/x1")" "... build 1 live"

# ---- a kept signature changed in the database: it no longer verifies
sql "update signatures set minisig = replace(minisig, 'timestamp:', 'timestamp:9')
	where version = (select id from versions where uuid = '$X2')"
refused_switch "tampered trusted comment" \
	"^petrel: hello: build $X2: stored signature by key $KA: .*; not deploying it \\($AGAIN\\)\$" \
	upgrade hello --to "$X2"
sql "update signatures set minisig = replace(minisig, 'timestamp:9', 'timestamp:')"
B2=$(sql "select blake2b from versions where uuid = '$X2'")
sql "update versions set blake2b = '$(printf '%0128d' 0)' where uuid = '$X2'"
refused_switch "changed BLAKE2b-512 in the version row" \
	"^petrel: hello: build $X2: stored signature by key $KA: .*not verify.*; not deploying it \\($AGAIN\\)\$" \
	upgrade hello --to "$X2"
sql "update versions set blake2b = '$B2' where uuid = '$X2'"
run petrel upgrade hello --to "$X2"
is "$rc" 0 "the kept signature restored: build 2 deploys"
run petrel fsck
is "$rc" 0 "fsck: the kept signatures parse, each by the key its row names"
X1ID=$(sql "select id from versions where uuid = '$X1'")
sql "insert into signatures values ($X1ID, '$KA', 'not a signature');
	insert into signatures select 99999, keyid, minisig from signatures limit 1"
run petrel fsck
is "$rc" 6 "fsck: a kept signature that does not parse, one of no version: exit 6"
like "$out" "petrel.db: signature by $KA of versions row $X1ID: " "... naming the row and the key"
like "$out" "petrel.db: signature by [0-9A-F]{16} kept for versions row 99999, which does not exist" \
	"... and the orphan"
sql "delete from signatures where version in ($X1ID, 99999)"

# ---- a legacy ("Ed") signature: verified again over the blob, mapped read-only
X4=$(add_build hello "$T/x4" --finish-time $((now - 1000)))
name=$(build_field hello "$X4" filename)
mkdir -p "$BW_DATA/sigs/sa/hello/$X4"
"$MINISIGN" -S -l -s "$T/ka.sec" -m "$T/x4" -x "$BW_DATA/sigs/sa/hello/$X4/$name.minisig" \
	-t "$(tc_for hello "$X4")" </dev/null >/dev/null
conf "ka kb" 1 "legacy_signatures = yes"
run petrel fetch hello
is "$rc" 0 "legacy signature: build 4 fetched"
is "$(sql "select blake2b from versions where uuid = '$X4'")" "" "... no BLAKE2b needed or recorded"
run petrel upgrade hello --to "$X4"
is "$rc" 0 "legacy signature verified again over the blob: build 4 deploys"
run petrel upgrade hello --to "$X2" --allow-downgrade
is "$rc" 0 "back to build 2"
run petrel status hello
unlike "$out" "NOT TRUSTED" "status: a legacy signature whose key stays is trusted (the blob is not read)"
conf "ka kb" 1
refused_switch "legacy signature, legacy_signatures no longer set" \
	"^petrel: hello: build $X4: stored signature by key $KA: legacy signature \\(Ed\\) refused; .*; not deploying it \\($AGAIN\\)\$" \
	upgrade hello --to "$X4"
conf "kb" 1 "legacy_signatures = yes"
refused_switch "legacy signature, key removed" \
	"^petrel: hello: build $X4 was vouched for only by key $KA, which is no longer in keys" \
	upgrade hello --to "$X4"
run petrel status hello
like "$out" "NOT TRUSTED NOW: build $X4 was vouched for only by key $KA" \
	"status: the previous legacy-signed build is no longer trusted"

# ---- the daemon: the newest build in the store, fetched while A was trusted
conf "kb" 1 "auto = upgrade"
snapshot_state
p=$(pointers)
run petrel daemon --once
note "daemon: $err"
like "$err" "build $X4 was vouched for only by key $KA, which is no longer in keys" \
	"daemon: the newest stored build is refused, naming the key"
state_unchanged "daemon: nothing deployed"
is "$(pointers)" "$p" "daemon: generations unchanged"
like "$(sql "select detail from journal where event = 'refused' order by id desc limit 1")" \
	"^upgrade: build $X4 was vouched for only by key $KA" "daemon: journaled as a refusal"

# ---- a revert and its rejection are one transaction: the rejection failing undoes it
conf "ka kb" 1 "legacy_signatures = yes"
before=$(pointers)
sql "create trigger inject before insert on rejected begin select raise(abort, 'injected fault'); end"
run petrel revert hello
note "revert with the rejection failing: $err"
is "$rc" 1 "revert whose rejection cannot be written: exit 1"
like "$err" "injected fault" "... the cause is named"
is "$(sql "select op from intents")" revert "... its intent stays for recovery"
sql "drop trigger inject"
run petrel fsck
note "fsck: $err"
is "$(pointers) $(rejected)" "$before 0" "recovered: the revert is rolled back with its rejection, not one without the other"
is "$(sha256_of "$P")" "$(sha256_of "$T/x2")" "... build 2 is live again"
run petrel revert hello
is "$rc" 0 "the revert, once the rejection can be written"
is "$(rejected)" 1 "... rejects the build it left"

# ---- accepted under trust = server (no signatures asked for); trust = signed now
make_file "$T/x5" 30000 x5
X5=$(add_build hello "$T/x5" --finish-time $((now - 500)))
write_config "trust = server" -keys -threshold -signatures
run petrel fetch hello
is "$rc" 0 "trust = server: build 5 fetched without signatures"
conf "ka kb" 1 "legacy_signatures = yes"
refused_switch "accepted under trust = server, now trust = signed" \
	"^petrel: hello: build $X5 was accepted without signatures \\(trust = server then\\), trust = signed asks for them; not deploying it \\($AGAIN\\)\$" \
	upgrade hello --to "$X5"
