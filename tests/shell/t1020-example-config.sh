#!/usr/bin/env bash
# contrib/petrel.conf.example loads (with its paths pointed at the test's files), and
# documents every configuration key the README's table lists.
. "$(dirname "$0")/lib.sh"

EX="$(dirname "$0")/../../contrib/petrel.conf.example"
README="$(dirname "$0")/../../README.md"
plan 8

make_key publisher
make_key second-signer
sed -e "s|/etc/petrel/keys/|$T/|g" -e "s|^state_dir = .*|state_dir = $T/state|" "$EX" >"$T/petrel.conf"
run petrel status
is "$rc" 0 "the example configuration loads (status exits 0)"
like "$out" "hello" "with its targets"

# every key of README's configuration table, e.g. "| target | `window` | ..."
keys=$(sed -n 's/^| \(petrel\|server\|target\) | \(.*\) |.*|.*|$/\2/p' "$README" |
	cut -d'|' -f1 | grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
missing=""
# host_id is shown commented out: one value copied to every host would put the whole
# fleet in one rollout bucket; so are mirrors: an example's hosts would only fail
for k in $keys; do
	if [ "$k" = host_id ] || [ "$k" = mirrors ]; then grep -qE "^;$k[[:space:]]*=" "$EX" || missing="$missing $k"
	else grep -qE "^$k[[:space:]]*=" "$EX" || missing="$missing $k"; fi
done
ok "README's table lists keys" [ -n "$keys" ]
is "$missing" "" "every key in README's table is set and commented in the example"

# a line inih would cut (it reads 200 bytes a line) is named, not misreported
{ echo "[petrel]"; echo "state_dir = $T/state"; printf 'interval = 1 ; %0190d\n' 0; } >"$T/long.conf"
run timeout 10 "$PETREL" -c "$T/long.conf" status
is "$rc" 2 "a line longer than inih reads is a configuration error"
like "$err" "long.conf:3: line longer than 198 bytes; continue a long list on indented lines" \
	"naming the file, the line and what to do"

# two targets deploying to one path would overwrite each other's live file
sed -e "s|^path         = /usr/local/sbin/web|path = /var/lib/petrel-deploy/hello.hvt|" "$T/petrel.conf" >"$T/twin.conf"
run timeout 10 "$PETREL" -c "$T/twin.conf" status
is "$rc" 2 "two targets with one path are a configuration error"
like "$err" "twin.conf:[0-9]+: targets hello and web both deploy to /var/lib/petrel-deploy/hello.hvt" \
	"naming both targets and the path"
