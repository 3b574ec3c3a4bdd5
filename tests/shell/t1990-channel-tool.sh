#!/bin/bash
# contrib/channel/petrel-channel, the publisher's tool: every command writes a channel
# file of DESIGN.md's format with a higher version and a fresh expiry, signed by real
# minisign with a trusted comment naming the file; refusals write nothing.
. "$(dirname "$0")/lib.sh"
plan 44

TOOL="$REPO_ROOT/contrib/channel/petrel-channel"
CH="$T/pub/channel.json"
mkdir -p "$T/pub"
make_key chan
H1=$(printf '1%.0s' {1..64}) H2=$(printf '2%.0s' {1..64})
U1=0a1b2c3d-4e5f-6789-abcd-ef0123456789

pc() { run env MINISIGN="$MINISIGN" "$TOOL" -f "$CH" -s "$T/chan.sec" "$@"; }
field() { "${PY[@]}" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$CH" "$1"; }
sig_ok() { "$MINISIGN" -V -q -p "$T/chan.pub" -m "$CH" -x "$CH.minisig" >/dev/null 2>&1; }
files() { (cd "$T/pub" && ls -A | sort | tr '\n' ' '); }
same() { cmp -s "$CH" "$T/before.json" && cmp -s "$CH.minisig" "$T/before.minisig"; }
keep() { cp "$CH" "$T/before.json"; cp "$CH.minisig" "$T/before.minisig"; }

pc --help
is "$rc" 0 "--help exits 0"
like "$out" "release JOB UUID SHA256" "--help names the commands"

pc show
is "$rc" 1 "show without a file: exit 1"
like "$err" "no channel file \(petrel-channel init makes one\)" "... and says how to make one"

pc init
is "$rc" 0 "init"
ok "init: the signature verifies with minisign" sig_ok
is "$(field 'sorted(d)')" "['expires', 'jobs', 'version']" "init: version, expires, jobs"
is "$(field 'd["jobs"]')" "{}" "init: no job"
v1=$(field 'd["version"]')
ok "the version is a time, not a counter from 1" [ "$v1" -ge 1700000000 ]
like "$(sed -n 3p "$CH.minisig")" "trusted comment: timestamp:[0-9]+	file:channel.json	version:$v1" \
	"the trusted comment names the file and the version"
exp=$(field 'd["expires"]')
ok "expires about a week ahead" "${PY[@]}" -c '
import datetime,sys,time
e=datetime.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
sys.exit(0 if abs(e-time.time()-7*86400) < 120 else 1)' "$exp"

keep
pc init
is "$rc" 1 "init over an existing file: exit 1"
ok "... changing nothing" same

pc release hello "$U1" "$H1" --start 2026-12-02T00:00:00Z --duration 2d
is "$rc" 0 "release"
ok "release: the signature verifies" sig_ok
is "$(field 'd["jobs"]["hello"]["release"]')" \
	"{'duration': 172800, 'sha256': '$H1', 'start': '2026-12-02T00:00:00Z', 'uuid': '$U1'}" \
	"release: uuid, sha256, start, duration"
v2=$(field 'd["version"]')
ok "release: the version went up" [ "$v2" -gt "$v1" ]

pc ramp hello --duration 12h
is "$rc" 0 "ramp"
is "$(field 'd["jobs"]["hello"]["release"]["duration"]')" 43200 "ramp: new duration"
v3=$(field 'd["version"]')
ok "ramp: the version went up" [ "$v3" -gt "$v2" ]

pc block hello "$H2"
is "$rc" 0 "block"
is "$(field 'd["jobs"]["hello"]["blocked"]')" "['$H2']" "block: the hash is listed"
keep
pc release hello "$U1" "$H2"
is "$rc" 1 "releasing a blocked hash: exit 1"
like "$err" "is blocked for hello; unblock it first" "... and says why"
ok "... changing nothing" same

pc block hello "$H1"
is "$rc" 0 "blocking the release"
like "$err" "the release of hello was blocked: withdrawn" "... says the release is withdrawn"
is "$(field '"release" in d["jobs"]["hello"]')" False "... and the release is gone"
ok "... the signature verifies" sig_ok

pc unblock hello "$H1"
is "$rc" 0 "unblock"
is "$(field 'd["jobs"]["hello"]["blocked"]')" "['$H2']" "unblock: the hash is no longer listed"

keep
for bad in "release hello not-a-uuid $H1" "release hello $U1 abc" "release ../x $U1 $H1" \
	"release hello $U1 $H1 --duration 400d" "release hello $U1 $H1 --start tomorrow" \
	"block hello xyz" "frobnicate"; do
	# shellcheck disable=SC2086
	pc $bad
	is "$rc" 2 "usage error: $bad"
done
ok "usage errors changed nothing" same

pc ramp nojob --duration 1h
is "$rc" 1 "ramp of a job the channel lacks: exit 1"

# a key minisign cannot use: nothing written, no temporary left behind
keep
run env MINISIGN="$MINISIGN" "$TOOL" -f "$CH" -s "$T/missing.sec" refresh
is "$rc" 1 "refresh with a missing key: exit 1"
like "$err" "minisign could not sign with" "... names minisign and the key"
ok "... changing nothing, leaving no temporary" eval 'same && [ "$(files)" = "channel.json channel.json.minisig " ]'

pc show --json
is "$(printf '%s' "$out" | "${PY[@]}" -c 'import json,sys; d=json.load(sys.stdin); print(d["jobs"]["hello"]["blocked"])')" \
	"['$H2']" "show --json: what the file says"
