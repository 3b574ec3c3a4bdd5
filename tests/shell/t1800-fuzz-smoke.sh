#!/usr/bin/env bash
# Every libFuzzer target of tests/fuzz/ runs for FUZZ_SECONDS (5) over its seed corpus
# (tests/fuzz/corpus/TARGET: valid inputs and any crash found before, kept as a
# regression) and mutations of it, under ASan and UBSan: a crash, a leak, a timeout or
# a broken invariant (the targets trap) fails the test. New inputs go to $T, never into
# the checked-in corpus. clang builds the targets (make fuzz-build, in .build-fuzz/);
# without it this test fails: it does not skip. `make fuzz` is the long run.
. "$(dirname "$0")/lib.sh"

SECONDS_EACH=${FUZZ_SECONDS:-5}
mapfile -t SRCS < <(cd "$REPO_ROOT" && ls tests/fuzz/fuzz_*.c)
plan $((4 + 4 * ${#SRCS[@]}))

ok "there are fuzz targets" [ ${#SRCS[@]} -ge 7 ]
# make's own flags (SANITIZE=…, DEPS=no of the check that runs this) are not ours
out=$(MAKEFLAGS= MAKELEVEL= make -C "$REPO_ROOT" --no-print-directory fuzz-build 2>&1)
is "$?" 0 "make fuzz-build builds them with clang" || diag "$out"

for src in "${SRCS[@]}"; do
	n=$(basename "$src" .c)
	bin="$REPO_ROOT/.build-fuzz/fuzz/$n" seeds="$REPO_ROOT/tests/fuzz/corpus/$n"
	nseeds=$(find "$seeds" -type f 2>/dev/null | wc -l)
	ok "$n: has a seed corpus" [ "$nseeds" -gt 0 ]
	mkdir -p "$T/new-$n"
	TMPDIR=$T "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1536 \
		-artifact_prefix="$T/crash-$n-" "$T/new-$n" "$seeds" >"$T/$n.log" 2>&1
	rc=$?
	is "$rc" 0 "$n: no crash in $SECONDS_EACH s" ||
		diag "$(grep -E '==ERROR|SUMMARY|runtime error|deadly signal|Test unit written' "$T/$n.log")"
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$T/$n.log")
	like "$done_line" ' cov: [1-9][0-9]* ' "$n: instrumented (coverage reported)"
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$T/$n.log")
	ok "$n: ran the seeds and mutations of them ($runs runs)" [ "${runs:-0}" -gt "$nseeds" ]
done

# tests/fuzz/corpus/fuzz_config/regress-nul-hides-target, with this test's paths: a NUL byte
# before a [target] header hides it from the checks; the target's server does not exist.
printf '[petrel]\nstate_dir = %s/state\n; a\0b\n[target "hello"]\nserver = robur\njob = hello\npath = %s/deploy/hello.hvt\ntrust = server\n' \
	"$T" "$T" >"$T/petrel.conf"
run petrel check
is "$rc" 2 "a configuration with a NUL byte is refused (exit 2), not loaded half-checked"
like "$err" "a NUL byte" "... saying so"
