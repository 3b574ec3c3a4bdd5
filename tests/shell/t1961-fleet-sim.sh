#!/usr/bin/env bash
# tests/fleet/sim (issue 14, item 5): 10,000 daemons running the real schedule and bucket
# code over three simulated days meet the goals — no burst when started or restarted in
# one second, a block at 99 % of hosts within 1.1 intervals, 1 % cohorts of 100 +- 30
# that rotate between releases. Deterministic for its seed: not a timing test.
. "$(dirname "$0")/lib.sh"

SIM="$(dirname "$PETREL")/tests/fleet/sim"
[ -x "$SIM" ] || skip_all "no $SIM: make $SIM (make check builds it)"
plan 10

for interval in 3600 600; do
	run "$SIM" --check --interval "$interval"
	is "$rc" 0 "interval $interval s: every goal met" || diag "$out"
	unlike "$out" "MISSED" "interval $interval s: nothing missed"
done
like "$out" "no second above 4x the mean" "at 16/s the worst second itself is held to 4x the mean"

run "$SIM" --markdown --interval 3600
is "$rc" 0 "--markdown: exit 0"
like "$out" "^### 10000 hosts, interval 3600 s" "--markdown: a heading for tests/fleet/RESULTS.md"
like "$out" "\\| 1 % cohorts of consecutive releases share \\| [0-9.]+ hosts" "--markdown: a table"

run "$SIM" --hosts 5
is "$rc" 2 "a bad option value: exit 2"
like "$err" "^usage: sim " "with the usage"
