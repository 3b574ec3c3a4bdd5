#!/usr/bin/env bash
# make demo: a builder-web look-alike on loopback with signed builds of "hello";
# petrel checks, fetches, refuses a tampered build and a forged signature, upgrades
# through an orchestrator adapter, reverts a build that fails its health check
# automatically, reverts by hand with the server down, and fsck's the store.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PETREL="$REPO/petrel"
D=$(mktemp -d "${TMPDIR:-/tmp}/petrel-demo.XXXXXX")
SERVER_PID=
cleanup() {
	local st=$?
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; fi
	if [ -n "${PETREL_DEMO_KEEP:-}" ]; then echo "demo: kept $D"; else rm -rf "$D"; fi
	exit "$st"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" && rc=0 || rc=$?; printf '(exit %d)\n' "$rc"; }

say "a builder-web look-alike on 127.0.0.1, data in $D/bw"
python3 "$REPO/tests/servers/builder_web.py" serve --data "$D/bw" --port-file "$D/port" \
	>"$D/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$D/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$D/port")"
echo "server: $URL"

say "the publisher's minisign key (Debian's minisign, no password)"
minisign -G -W -p "$D/publisher.pub" -s "$D/publisher.sec" >/dev/null
cat "$D/publisher.pub"

# add_signed_build FILE FINISH_EPOCH: upload to the look-alike and sign as the
# builder-web upload hook would (trusted comment binds job, uuid, file and hash).
add_signed_build() {
	local uuid sha
	uuid=$(python3 "$REPO/tests/servers/builder_web.py" add --data "$D/bw" --job hello \
		--file "$1" --filename hello.hvt --finish-time "$2")
	sha=$(sha256sum "$1" | cut -d' ' -f1)
	mkdir -p "$D/bw/sigs/hello/$uuid"
	minisign -S -s "$D/publisher.sec" -m "$1" -x "$D/bw/sigs/hello/$uuid/hello.hvt.minisig" \
		-t "$(printf 'timestamp:%s\tfile:hello.hvt\tjob:hello\tuuid:%s\tsha256:%s' "$2" "$uuid" "$sha")" \
		>/dev/null
	echo "$uuid"
}
head -c 3000000 /dev/urandom >"$D/hello-1.hvt"
head -c 3100000 /dev/urandom >"$D/hello-2.hvt"
now=$(date +%s)
u1=$(add_signed_build "$D/hello-1.hvt" $((now - 7200)))
echo "build 1: $u1 (two hours ago)"

# The orchestrator adapter and the health check an operator would write; here they
# print what they are asked, and the health check fails for a build marked bad.
cat >"$D/adapter.sh" <<'ADAPTER'
#!/bin/sh
echo "  adapter: $1 $PETREL_TARGET -> $PETREL_UUID (sha256 $(echo "$PETREL_NEW_SHA256" | cut -c1-12)) at $PETREL_PATH" >&2
ADAPTER
cat >"$D/health.sh" <<HEALTH
#!/bin/sh
if cmp -s "$D/deploy/hello.hvt" "$D/hello-bad.hvt"; then
	echo "  health: hello answers 500" >&2; exit 1
fi
echo "  health: hello is up" >&2
HEALTH
chmod +x "$D/adapter.sh" "$D/health.sh"

cat >"$D/petrel.conf" <<CONF
[petrel]
state_dir = $D/state

[server "local"]
url = $URL

[target "hello"]
server     = local
job        = hello
path       = $D/deploy/hello.hvt
keys       = $D/publisher.pub
threshold  = 1
signatures = $URL/sigs/{job}/{uuid}/{filename}.minisig
orchestrator = $D/adapter.sh
health     = $D/health.sh
health_retries = 2
CONF
say "configuration $D/petrel.conf"
cat "$D/petrel.conf"
export PETREL_CONFIG="$D/petrel.conf"

say "check: what does the server offer? (exit 100 = update available)"
show "$PETREL" check
say "fetch: download, hash while streaming, verify the signature, store"
show "$PETREL" fetch
say "fetch again: the store has it, nothing is downloaded"
show "$PETREL" fetch

say "a second build appears on the server"
u2=$(add_signed_build "$D/hello-2.hvt" $((now - 60)))
echo "build 2: $u2"
show "$PETREL" check
show "$PETREL" fetch

say "status: the newest verified build and its evidence"
show "$PETREL" status
show "$PETREL" --json status

say "a tampered third build: the server flips one byte of the body"
head -c 2900000 /dev/urandom >"$D/hello-3.hvt"
u3=$(add_signed_build "$D/hello-3.hvt" "$now")
echo "flip $u3" >"$D/bw/mode"
show "$PETREL" fetch
echo "tmp/ after the refusal: $(ls -A "$D/state/tmp" | wc -l) files"
rm -f "$D/bw/mode"

say "a signature by a key we do not trust"
minisign -G -W -p "$D/mallory.pub" -s "$D/mallory.sec" >/dev/null
minisign -S -s "$D/mallory.sec" -m "$D/hello-3.hvt" -x "$D/bw/sigs/hello/$u3/hello.hvt.minisig" \
	-t "$(printf 'timestamp:%s\tfile:hello.hvt\tjob:hello\tuuid:%s\tsha256:%s' "$now" "$u3" \
	"$(sha256sum "$D/hello-3.hvt" | cut -d' ' -f1)")" >/dev/null
show "$PETREL" fetch

rm -f "$D/bw/mode"
head -c 3050000 /dev/urandom >"$D/hello-4.hvt"
u4=$(add_signed_build "$D/hello-4.hvt" $((now + 1)))

say "upgrade: verify, switch the file atomically, run the adapter and the health check"
show "$PETREL" upgrade hello
show "$PETREL" check

say "a new build that fails its health check: petrel puts the previous one back"
cp "$D/hello-4.hvt" "$D/hello-bad.hvt"
head -c 3070000 /dev/urandom >"$D/hello-bad.hvt"
u5=$(add_signed_build "$D/hello-bad.hvt" $((now + 2)))
show "$PETREL" upgrade hello
echo "deployed file is build 4 again: $(cmp -s "$D/deploy/hello.hvt" "$D/hello-4.hvt" && echo yes || echo no)"
say "the failed build is rejected: a plain upgrade refuses it"
show "$PETREL" upgrade hello

say "revert by hand with the build server down: from the store, no network"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
show "$PETREL" upgrade hello --to "$u2"
say "an older build needs --allow-downgrade; it is in the store, so no server is needed"
show "$PETREL" upgrade hello --to "$u2" --allow-downgrade
say "revert: one step back, from the store"
show "$PETREL" revert hello
echo "deployed file is build 4 again: $(cmp -s "$D/deploy/hello.hvt" "$D/hello-4.hvt" && echo yes || echo no)"
say "a second revert goes forward again"
show "$PETREL" revert hello
echo "deployed file is build 2: $(cmp -s "$D/deploy/hello.hvt" "$D/hello-2.hvt" && echo yes || echo no)"
show "$PETREL" history hello
show "$PETREL" status hello

say "the daemon: unattended updates (interval 2 s here; auto = upgrade)"
python3 "$REPO/tests/servers/builder_web.py" serve --data "$D/bw" --port "${URL##*:}" \
	--port-file "$D/port" >>"$D/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "$URL/" && break; sleep 0.05; done
sed -i 's/^state_dir = .*/&\ninterval = 2/' "$D/petrel.conf"
echo "auto = upgrade" >>"$D/petrel.conf"
echo "$ petrel daemon &"
"$PETREL" daemon 2>"$D/daemon.log" &
DAEMON_PID=$!
sleep 3
head -c 3080000 /dev/urandom >"$D/hello-6.hvt"
u6=$(add_signed_build "$D/hello-6.hvt" "$(date +%s)")
echo "the publisher uploads build 6: $u6"
for _ in $(seq 150); do grep -q "deployed generation .*$u6" "$D/daemon.log" && break; sleep 0.2; done
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" && rc=0 || rc=$?
cat "$D/daemon.log"
echo "(daemon exit $rc after SIGTERM)"
echo "deployed file is build 6: $(cmp -s "$D/deploy/hello.hvt" "$D/hello-6.hvt" && echo yes || echo no)"

say "audit: what runs, proven against the store and the journal; metrics for Prometheus"
show "$PETREL" audit --metrics "$D/petrel.prom"
grep -v '^#' "$D/petrel.prom"
say "someone edits the deployed file by hand: audit finds it (exit 6)"
cp "$D/deploy/hello.hvt" "$D/hello-saved.hvt"
printf 'X' | dd of="$D/deploy/hello.hvt" bs=1 seek=100 conv=notrunc 2>/dev/null
show "$PETREL" audit
cp "$D/hello-saved.hvt" "$D/deploy/hello.hvt"
say "the journal: every action, each row chained to the one before"
show "$PETREL" log hello

say "fsck: re-hash every blob, check the database and the journal chain"
show "$PETREL" fsck
find "$D/state" -type f | sed "s#$D/##" | sort
echo
echo "demo: done (exit codes above: 100 update available, 0 ok, 3 refused, 4 server down, 5 deploy failed and reverted)"
