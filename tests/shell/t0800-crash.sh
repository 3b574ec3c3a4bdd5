#!/usr/bin/env bash
# Crash safety of the switch: upgrade and revert are killed with SIGKILL at random
# moments. Right after each kill `status --json`, a read, shows the interrupted switch
# and changes nothing; once the next writing command (fsck) has recovered, the state is
# sound (lib-crash.sh says what that means). t0801 injects write/fsync/rename faults
# instead.
#
# PETREL_CRASH_KILLS (default 200) sets the kill loop's length, PETREL_CRASH_SEED its
# random timings (printed, to replay a failure). On a loaded machine a petrel takes
# longer to reach its switch: the kills then come later by the time a plain `status`
# takes (a moving average of the read after each kill), and the loop goes on (up to
# twice as long) until a quarter of the kills have interrupted a switch.
. "$(dirname "$0")/lib.sh"

KILLS=${PETREL_CRASH_KILLS:-200}
SEED=${PETREL_CRASH_SEED:-$$}

plan $((1 + 9))
. "$LIB_DIR/lib-crash.sh"

# Odd iterations revert, even ones upgrade --to the other build; every third one first
# removes PATH.petrel-prev, so the switch copies the blob from the store (29 MiB writes,
# fsync, exchange, rename, fsync) instead of exchanging the kept file (hash, exchange,
# fsync). The adapter runs after the switch. Kills land anywhere in all that. Then a
# status --json reads what is left (no lock: it recovers nothing), and fsck, the next
# writing command, recovers. Every tenth time that fsck is killed as well, and the next
# one recovers.
RANDOM=$SEED
note "kill loop: $KILLS iterations, seed $SEED (replay with PETREL_CRASH_SEED=$SEED)"
declare -A bad=() nbad=()
killed=0 killed2=0 k2_pending=0 k2_left=0 finished=0 recovered=0 shown=0 rec_iters=() rec_ms=()
rec_before=$(recoveries)
started=$SECONDS
cur=$SHA2
lag=0		# ms: the moving average of the status right after a kill, less 20 ms
min=$((KILLS / 4))
for ((i = 1; i <= KILLS || (recovered < min && i <= 2 * KILLS); i++)); do
	ms=$((lag + RANDOM % 121))
	copy=
	if ((i % 3 == 0)); then rm -f "$DEPLOY.petrel-prev"; copy=" (nothing kept: a copy)"; fi
	if ((i % 2)); then
		what="revert$copy"
		"$PETREL" -c "$C" -q revert hello >/dev/null 2>&1 &
	else
		other_of "$cur"; uuid_of "$OTHER"
		what="upgrade --to $UUID$copy"
		"$PETREL" -c "$C" -q upgrade hello --to "$UUID" --allow-downgrade >/dev/null 2>&1 &
	fi
	pid=$!
	printf -v d '%d.%03d' $((ms / 1000)) $((ms % 1000))
	nap "$d"
	if kill -9 "$pid" 2>/dev/null; then how="killed"; killed=$((killed + 1))
	else how="had finished"; finished=$((finished + 1)); fi
	{ wait "$pid"; } 2>/dev/null
	wait_adapters
	look
	state_of "$DEPLOY"
	before=$STATE
	# the read first: the intent left (if any) is shown as "interrupted", nothing changes
	read_first
	r0=$P_RECOVERIES pending=$P_INTENT
	[ "$P_INT" = null ] || shown=$((shown + 1))
	x=$((P_MS - 20))
	((x > 0)) || x=0
	lag=$(((3 * lag + x) / 4))
	if ((i % 10 == 5)); then
		# every tenth: the recovering command is killed too, the next one finishes (later
		# by the lag too: on a loaded machine 0-60 ms ends fsck before its recovery began)
		ms2=$((lag + RANDOM % 61))
		"$PETREL" -c "$C" -q fsck >/dev/null 2>&1 &
		pid=$!
		printf -v d '0.%03d' "$ms2"
		nap "$d"
		kill -9 "$pid" 2>/dev/null && killed2=$((killed2 + 1))
		{ wait "$pid"; } 2>/dev/null
		wait_adapters
		if [ -n "$pending" ]; then
			k2_pending=$((k2_pending + 1))
			[ "$(intents)" = 0 ] || k2_left=$((k2_left + 1))
		fi
		what+=", then fsck killed after ${ms2} ms"
	fi
	recover_next
	check_state
	r1=$S_RECOVERIES
	if [ "$r1" != "$r0" ]; then
		recovered=$((recovered + 1))
		rec_iters+=("$i")
		rec_ms+=("$ms")
	fi
	ctx="iteration $i: $what, kill -9 after ${ms} ms ($how); before recovery: path $before, intent '${pending}', status said interrupted '$P_INT'; after: path $PATH_NOW"
	for k in read path status fsck intents new tmp adapter; do
		v="v_$k"
		if [ -n "${!v}" ]; then
			nbad[$k]=$((${nbad[$k]:-0} + 1))
			[ "${nbad[$k]}" -le 10 ] && bad[$k]+="$ctx: ${!v}"$'\n'
		fi
	done
	[ "$rc" != 0 ] || case $S_CUR in "$SHA1" | "$SHA2") cur=$S_CUR ;; esac
done
KILLS=$((i - 1))
elapsed=$((SECONDS - started))
rec_journal=$(($(recoveries) - rec_before))
note "kill loop: $KILLS iterations in ${elapsed}s; $killed killed while running, $finished had" \
	"already finished; $recovered recovered an interrupted switch (journal 'recover' events: $rec_journal);" \
	"the status right after the kill showed an interrupted switch $shown times"
note "the kills came up to $lag ms later than 0-120 ms, the time a status took"
note "$killed2 of the $(((KILLS + 5) / 10)) recovering fsck commands killed too were still running;" \
	"$k2_pending had an interrupted switch to recover, $k2_left of them were killed before finishing it"
note "kills that recovered landed after (ms): $(printf '%s\n' "${rec_ms[@]}" | sort -n | tr '\n' ' ')"

# kill_result KEY DESC
kill_result() {
	if [ -z "${nbad[$1]:-}" ]; then pass "$2"; else
		fail "$2"
		diag "${nbad[$1]} of $KILLS iterations broke it (first 10 shown; seed $SEED):"
		diag "$(printf '%s' "${bad[$1]}")"
	fi
}
kill_result read "$KILLS kills: status --json right after the kill shows the intent left as interrupted (null when none) and changes nothing"
kill_result path "$KILLS kills: the path always holds exactly the old or the new build (0755)"
kill_result status "$KILLS kills: after the recovering fsck status --json agrees with the path every time (previous: the other build), nothing interrupted"
kill_result fsck "$KILLS kills: the recovering fsck is clean every time (exit 0)"
kill_result intents "$KILLS kills: no intent, no pending generation left after the recovering command"
kill_result new "$KILLS kills: no hello.hvt.petrel-new left, petrel-prev always a whole build"
kill_result tmp "$KILLS kills: state/tmp empty"
kill_result adapter "$KILLS kills: the adapter's last call was for the build at the path"
if [ "$recovered" -ge "$min" ]; then
	pass "at least $min of the kills interrupted a switch and were recovered ($recovered)"
else
	fail "at least $min of the kills interrupted a switch and were recovered ($recovered)"
	diag "only $recovered recoveries: the kills did not land mid-switch often enough"
fi

note "adapter calls: $(grep -c '^start' "$T/adapter.log"); total run time ${SECONDS}s"
