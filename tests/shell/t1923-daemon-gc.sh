#!/usr/bin/env bash
# The daemon runs gc after a successful upgrade when the target sets keep (issue 13,
# item 4): the versions beyond keep go (never the current, previous or newest), the log
# says what went; without keep in the configuration nothing is removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-bundle.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 9

uuids() { sql "select group_concat(uuid, ' ') from (select uuid from versions order by id)"; }
start_server
make_key pub1
write_config
signed_build B1 40345 1700000000
run petrel upgrade hello
is "$rc" 0 "setup: B1 deployed"
signed_build B2 40348 1700001000
run petrel fetch hello
is "$rc" 0 "setup: B2 fetched, not deployed"
signed_build B3 40351 1700002000

# without keep in the configuration: no gc after the upgrade
run petrel daemon --once
is "$rc" 0 "daemon --once upgrades to B3 (keep not set)"
is "$(uuids)" "$B1U $B2U $B3U" "... and removes nothing"

# keep = 1: B2 (neither current, previous nor newest) goes after the next upgrade
write_config "keep = 1"
signed_build B4 40354 1700003000
run petrel daemon --once
is "$rc" 0 "daemon --once upgrades to B4 (keep = 1)"
like "$err" "hello: gc \\(keep = 1\\): removed 2 versions, [0-9]+ bytes" "... logs the gc after the upgrade"
is "$(uuids)" "$B3U $B4U" "... B1 and B2 are gone; B4 (current, newest) and B3 (previous) stay"
is "$(sql "select count(*) from journal where event = 'gc' and target = 'hello'")" 1 "... one gc journal row"
run petrel fsck
is "$rc" 0 "... fsck is clean"
