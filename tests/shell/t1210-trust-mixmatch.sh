#!/usr/bin/env bash
# Mix-and-match: a signature that verifies (made by the trusted key over these very bytes)
# but whose trusted comment names another job, uuid, file or hash is refused, one field
# at a time, with the deployed build, store and database untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-trust.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ -x "$MINISIGN" ] || skip_all "minisign not installed"
plan 23

start_server
make_key pub1
write_config
now=$(date +%s)
make_file "$T/a" 30000 a
make_file "$T/b" 30000 b
ua=$(add_build hello "$T/a" --finish-time $((now - 7200)))
sign_build hello "$ua" pub1
run petrel upgrade hello
is "$rc" 0 "build A deployed"
ub=$(add_build hello "$T/b" --finish-time $((now - 3600)))
name=$(build_field hello "$ub" filename)
SIGURL="$BW_URL/sigs/hello/$ub/$name.minisig"
HA=$(sha256_of "$T/a") HB=$(sha256_of "$T/b")

sign_build hello "$ub" pub1 "$(tc_for hello "$ub" job=other)"
refused_upgrade "another job" "$SIGURL: signature names job 'other', build is 'hello'"
sign_build hello "$ub" pub1 "$(tc_for hello "$ub" uuid="$ua")"
refused_upgrade "another uuid (build A's)" "$SIGURL: signature names uuid '$ua', build is '$ub'"
sign_build hello "$ub" pub1 "$(tc_for hello "$ub" file=other.hvt)"
refused_upgrade "another file" "$SIGURL: signature names file 'other.hvt', build is '$name'"
sign_build hello "$ub" pub1 "$(tc_for hello "$ub" sha256="$HA")"
refused_upgrade "another hash (build A's)" "$SIGURL: signature names sha256 $HA, build has $HB"
# build A's genuine signature file served as B's
cp "$BW_DATA/sigs/hello/$ua/$(build_field hello "$ua" filename).minisig" "$BW_DATA/sigs/hello/$ub/$name.minisig"
refused_upgrade "build A's signature served for B" "$SIGURL: signature names (uuid|file|sha256)"

is "$(sha256_of "$T/deploy/hello.hvt")" "$HA" "A is still deployed"
sign_build hello "$ub" pub1
run petrel upgrade hello
is "$rc" 0 "B's own signature: deployed"
