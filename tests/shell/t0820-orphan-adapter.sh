#!/usr/bin/env bash
# An orchestrator adapter outlives the petrel that started it (kill -9 while it runs):
# the recovery — by the next writing command, here fsck; status, a read, only shows the
# interrupted switch — waits for it to end before it puts the old file back and runs the
# adapter again, so the orchestrator's last word is for the build at the path. A
# petrel killed between starting the adapter and recording it runs no adapter at all.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 16

start_server
make_key pub1
P="$T/deploy/hello.hvt"
cat >"$T/adapter.sh" <<'EOF2'
#!/bin/sh
log=${0%/*}/adapter.log
printf 'start %s %s\n' "$1" "$PETREL_NEW_SHA256" >>"$log"
[ -f "${0%/*}/adapter.sleep" ] && sleep "$(cat "${0%/*}/adapter.sleep")"
printf 'end %s %s\n' "$1" "$PETREL_NEW_SHA256" >>"$log"
EOF2
chmod +x "$T/adapter.sh"
write_config "orchestrator = $T/adapter.sh"
now=$(date +%s)
make_file "$T/a" 4096 a; make_file "$T/b" 4096 b
ua=$(add_build hello "$T/a" --finish-time $((now - 60)) --start-time $((now - 60)))
sign_build hello "$ua" pub1
run petrel upgrade hello
is "$rc" 0 "build A deployed"
ub=$(add_build hello "$T/b" --finish-time "$now" --start-time "$now")
sign_build hello "$ub" pub1
A=$(sha256_of "$T/a"); B=$(sha256_of "$T/b")

# kill_upgrade_in_adapter — start an upgrade whose adapter sleeps 5 s (long enough for
# the checks below to find it still running on a loaded machine), kill -9 petrel
# once the adapter has started
kill_upgrade_in_adapter() {
	local pid i
	: >"$T/adapter.log"
	echo 5 >"$T/adapter.sleep"
	"$PETREL" -c "$T/petrel.conf" -q upgrade hello >/dev/null 2>&1 &
	pid=$!
	wait_for grep -q "^start upgrade" "$T/adapter.log"
	kill -9 "$pid"; wait "$pid" 2>/dev/null
}

# kill -9 petrel while its adapter sleeps
kill_upgrade_in_adapter
is "$(sqlite3 "$T/state/petrel.db" 'select adapter_pid > 0 from intents')" 1 \
	"the intent records the running adapter's pid"
rm -f "$T/adapter.sleep"
intent=$(sqlite3 "$T/state/petrel.db" 'select * from intents')
run petrel --json status hello
is "$rc/$(jq -r '.targets[0].interrupted.op' <<<"$out")" "0/upgrade" \
	"status --json, a read, shows the interrupted upgrade"
is "$(sqlite3 "$T/state/petrel.db" 'select * from intents')" "$intent" \
	"... and recovers nothing: the intent is as it was"
is "$(sha256_of "$P")" "$B" "... the path still holds build B"
run petrel fsck
is "$rc" 0 "the next writing command (fsck) recovers, then finds the store clean"
like "$err" "the orchestrator adapter \\(pid [0-9]+\\) of the interrupted upgrade still runs; waiting" \
	"it says it waits for the orphaned adapter"
is "$(cat "$T/adapter.log" | tr '\n' ' ')" \
	"start upgrade $B end upgrade $B start revert $A end revert $A " \
	"the orphan ended before the recovery's revert began"
is "$(sha256_of "$P")" "$A" "the path holds build A again"
is "$(sqlite3 "$T/state/petrel.db" 'select count(*) from intents')" 0 "no intent is left"
run petrel --json status hello
is "$(jq -c '.targets[0].interrupted' <<<"$out")" null "status --json: nothing interrupted any more"

# killed during the recovery's own adapter: the next petrel waits for that one too
kill_upgrade_in_adapter
"$PETREL" -c "$T/petrel.conf" -q fsck >/dev/null 2>&1 &
pid=$!
wait_for grep -q "^start revert" "$T/adapter.log"
kill -9 "$pid"; wait "$pid" 2>/dev/null
rm -f "$T/adapter.sleep"
is "$(sqlite3 "$T/state/petrel.db" "select phase from intents")" "switched" \
	"a recovery killed during its adapter leaves the intent for the next one"
run petrel fsck
is "$rc" 0 "which fsck, the next one, recovers"
wait_for eval '[ "$(grep -c "^end" "$T/adapter.log")" -ge 3 ]'
is "$(tail -n 2 "$T/adapter.log" | tr '\n' ' ')" "start revert $A end revert $A " \
	"the last adapter call, after the orphans ended, is for build A"
is "$(grep -c '^start' "$T/adapter.log")" "$(grep -c '^end' "$T/adapter.log")" \
	"no two adapters overlapped at the end: every start has its end"
is "$(sha256_of "$P")" "$A" "the path holds build A"
