#!/usr/bin/env bash
# Crash safety of the switch under failing system calls: write, fsync and rename calls
# fail (PETREL_FAULT) during the switch, its rollback and the recovery of an earlier
# interrupted switch. The command fails in one line naming the target, or, when the
# fault is beyond the calls the switch makes, succeeds; right after it `status --json`
# (a read) shows any intent left as "interrupted" and changes nothing; once the next
# writing command (fsck) has recovered, the state is sound (lib-crash.sh says what that
# means). t0800 kills the switch instead.
. "$(dirname "$0")/lib.sh"

# write, fsync and rename (rename(2) and renameat2 RENAME_EXCHANGE) faults, each alone
FAULTS=(write:1 write:3 fsync:1 fsync:2 fsync:3 fsync:4 fsync:5 fsync:6 rename:1 rename:2)
SCENARIOS=(kept copy pending)

plan $((1 + ${#SCENARIOS[@]} * 2 * 2 * ${#FAULTS[@]} + 1 + 6))
. "$LIB_DIR/lib-crash.sh"

# What a switch from OLD to NEW calls when nothing fails:
#   kept  PATH.petrel-prev holds NEW: it is hashed, exchanged with PATH (1 rename),
#         the directory fsynced (1 fsync) — no write.
#   copy  nothing kept: NEW is copied to PATH.petrel-new (CHUNKS writes), fsynced,
#         exchanged with PATH, the displaced OLD renamed to PATH.petrel-prev, the
#         directory fsynced: CHUNKS writes, 2 fsyncs, 2 renames.
#   pending  an earlier upgrade was left interrupted with NEW at PATH and OLD kept (its
#         directory fsync failed, then its rollback's exchange): the command recovers
#         first (exchange + fsync), then switches (kept): 0 writes, 2 fsyncs, 2 renames.
# A fault within those counts must make the command fail (1 or 5) in one line naming the
# target; one beyond them is not reached and the switch succeeds. A failed switch puts
# OLD back (the rollback: more calls, which later faults may hit).
declare -A CALLS=([kept]="0 1 1" [copy]="$CHUNKS 2 2" [pending]="0 2 2")

# switch OP FAULT — runs OP (revert, or upgrade --to the other build) under
# PETREL_FAULT=FAULT; OLD is the current build's sha256 (CUR), NEW the other one.
switch() {
	local op=$1 fault=$2
	other_of "$CUR"
	OLD=$CUR NEW=$OTHER
	if [ "$op" = revert ]; then
		run env PETREL_FAULT="$fault" "$PETREL" -c "$C" revert hello
	else
		uuid_of "$NEW"
		run env PETREL_FAULT="$fault" "$PETREL" -c "$C" upgrade hello \
			--to "$UUID" --allow-downgrade
	fi
	F_RC=$rc F_ERR=$err F_INTENTS=$(intents)
	look
	state_of "$DEPLOY"
	F_PATH=$STATE
}

# reached FAULT "WRITES FSYNCS RENAMES" — 0 when the fault's call number is within those.
reached() {
	local kind=${1%%:*} n=${1#*:} w f r
	read -r w f r <<<"$2"
	case $kind in
	write) [ "$n" -le "$w" ] ;;
	fsync) [ "$n" -le "$f" ] ;;
	rename) [ "$n" -le "$r" ] ;;
	esac
}

# err_lines — ERRL: the lines of $F_ERR but warnings (recovery warns, in one line, before
# the error) and empty ones; ERRL3 the first three, one a line
err_lines() {
	local l
	ERRL=()
	while IFS= read -r l; do
		[ -n "$l" ] && [[ $l != "petrel: warning: "* ]] && ERRL+=("$l")
	done <<<"$F_ERR"
	printf -v ERRL3 '%s\n' "${ERRL[@]:0:3}"
	ERRL3=${ERRL3%$'\n'}
}
# one_line_naming_hello — the error is one line, and it names the target
one_line_naming_hello() { err_lines; [ ${#ERRL[@]} = 1 ] && [[ ${ERRL[0]} == *hello* ]]; }

# fault_case LABEL OP FAULT CALLS — asserts the outcome of the switch just run (switch
# OP FAULT), what status --json says right after it, and the invariants once the next
# writing command (fsck) has recovered.
fault_case() {
	local label="$1 $2 $3" calls=$4 problems=() want age k v
	if reached "$3" "$calls"; then
		if [ "$F_RC" != 0 ] && one_line_naming_hello; then
			pass "$label: fails (exit $F_RC) with one line naming the target"
		else
			fail "$label: fails with one line naming the target"
			diag "  exit $F_RC, stderr:" "$F_ERR"
		fi
	else
		if [ "$F_RC" = 0 ]; then
			pass "$label: not reached (the switch makes fewer such calls), succeeds"
		else
			fail "$label: not reached (the switch makes fewer such calls), succeeds"
			diag "  exit $F_RC, stderr:" "$F_ERR"
		fi
	fi
	if [ "$F_RC" = 0 ]; then want=$NEW age=new; else
		want=$OLD age=old
		err_lines
		FAULT_RCS+=("$label: exit $F_RC: $ERRL3")
	fi
	NOTES+=("$label: exit $F_RC; right after it the path holds $F_PATH, $F_INTENTS intent(s)")
	case $F_PATH in "build 1" | "build 2") ;; *) problems+=("right after the command the path is: $F_PATH") ;; esac
	[ ! -e "$DEPLOY.petrel-new" ] || problems+=("right after the command $DEPLOY.petrel-new exists")
	read_first		# a read: shows what is left, changes nothing
	recover_next		# the next writing command: recovers
	check_state
	for k in read path status fsck intents new tmp adapter; do
		v="v_$k"
		[ -z "${!v}" ] || problems+=("${!v}")
	done
	name_of "$want"
	[ "$PATH_NOW" = "$NAME" ] ||
		problems+=("exit $F_RC, so the path should hold the $age $NAME, it holds $PATH_NOW")
	if [ ${#problems[@]} = 0 ]; then
		pass "$label: status before the recovery shows what is left and changes nothing; after the recovering fsck the $age build is at the path, status agrees, fsck clean, nothing left"
	else
		fail "$label: status before the recovery is a read, and after the recovering fsck the state is sound"
		diag "${problems[@]}"
	fi
}

FAULT_RCS=() NOTES=() pending_bad=()
# each case ends with the recovering fsck and a status: CUR is known from there on
status_json
for sc in "${SCENARIOS[@]}"; do
	if [ "$KEPT" = 0 ] && [ "$sc" != copy ]; then
		skip "no RENAME_EXCHANGE: nothing kept beside the path" $((2 * 2 * ${#FAULTS[@]}))
		continue
	fi
	for op in upgrade revert; do
		for fault in "${FAULTS[@]}"; do
			look
			state_of "$DEPLOY.petrel-prev"
			other_of "$CUR"
			name_of "$OTHER"
			if [ "$sc" = kept ] && [ "$KEPT" = 1 ] && [ "$STATE" != "$NAME" ]; then
				# put the other build beside the path (a successful switch there and back)
				petrel revert hello >/dev/null 2>&1
				petrel revert hello >/dev/null 2>&1
				status_json
			fi
			[ "$sc" = copy ] && rm -f "$DEPLOY.petrel-prev"
			if [ "$sc" = pending ]; then
				switch upgrade fsync:1,rename:2
				name_of "$NEW"
				# status (a read) shows the interrupted upgrade and recovers nothing
				read_first
				if [ "$F_RC" = 0 ] || [ "$F_INTENTS" != 1 ] || [ "$F_PATH" != "$NAME" ] ||
					[ -n "$v_read" ] || [ "${P_INT%% *}" != upgrade ]; then
					pending_bad+=("before $op $fault: exit $F_RC, $F_INTENTS intent(s), path $F_PATH (wanted $NAME, 1 intent); status said interrupted '$P_INT' ${v_read:+($v_read)}")
				fi
				# the database still says OLD is current: the next switch goes to NEW again
			fi
			switch "$op" "$fault"
			fault_case "$sc:" "$op" "$fault" "${CALLS[$sc]}"
		done
	done
done
if [ "$KEPT" = 0 ]; then
	skip "no RENAME_EXCHANGE: no interrupted switch of that kind"
elif [ ${#pending_bad[@]} = 0 ]; then
	pass "fsync:1,rename:2 left an interrupted upgrade (new file at the path, one intent, status shows it and changes nothing) all $((2 * ${#FAULTS[@]})) times"
else
	fail "fsync:1,rename:2 left an interrupted upgrade (new file at the path, one intent, status shows it and changes nothing) every time"
	diag "${pending_bad[@]}"
fi

# A fault in the recovery run by the next writing command (fsck): it fails in one line,
# the interrupted switch stays recorded with a whole file at the path (status, a read,
# shows it all along and changes nothing), and the next fsck finishes the recovery: the
# interrupted generation is marked so.
if [ "$KEPT" = 1 ]; then
	status_json
	switch upgrade fsync:1,rename:2
	p_old=$OLD p_path=$F_PATH p_gen=$(sqlite3 "$DB" 'select to_gen from intents')
	read_first
	if [ "$F_INTENTS" = 1 ] && [ -z "$v_read" ] && [ "${P_INT%% *}" = upgrade ]; then
		pass "status --json right after the interrupted upgrade shows it ($P_INT) and changes nothing"
	else
		fail "status --json right after the interrupted upgrade shows it and changes nothing"
		diag "intents: $F_INTENTS, status said interrupted: '$P_INT'" "$v_read"
	fi
	for fault in rename:1 fsync:1; do
		run env PETREL_FAULT="$fault" "$PETREL" -c "$C" fsck
		F_RC=$rc F_ERR=$err
		err_lines
		FAULT_RCS+=("fsck recovering under $fault: exit $F_RC: $(printf '%s\n' "${ERRL[@]}")")
		NOTES+=("fsck recovering under $fault: exit $F_RC; then the path holds $(path_state), $(intents) intent(s)")
		read_first		# the intent is still there for status to show
		if [ "$F_RC" != 0 ] && one_line_naming_hello &&
			[ "$(intents)" = 1 ] && [ ! -e "$DEPLOY.petrel-new" ] &&
			case $(path_state) in "build 1" | "build 2") true ;; *) false ;; esac &&
			[ -z "$v_read" ] && [ "$P_INT" != null ]; then
			pass "fsck whose recovery hits $fault fails in one line naming the target; the intent stays (status shows it), a whole build at the path"
		else
			fail "fsck whose recovery hits $fault fails in one line naming the target; the intent stays (status shows it), a whole build at the path"
			diag "exit $F_RC, stderr: $F_ERR" "intents: $(intents), path: $(path_state)" \
				"status said interrupted: '$P_INT' $v_read" "$(ls -l "$T/deploy")"
		fi
	done
	OLD=$p_old
	recover_next
	check_state
	problems=()
	for k in path status fsck intents new tmp adapter; do
		v="v_$k"
		[ -z "${!v}" ] || problems+=("${!v}")
	done
	name_of "$p_old"
	[ "$PATH_NOW" = "$NAME" ] || problems+=("path holds $PATH_NOW, not the old $NAME")
	if [ ${#problems[@]} = 0 ]; then
		pass "a plain fsck then finishes the recovery: old build back, status agrees (nothing interrupted), fsck clean, nothing left"
	else
		fail "a plain fsck then finishes the recovery"
		diag "${problems[@]}"
	fi
	is "$(sqlite3 "$DB" "select state from generations where number = '$p_gen'")" \
		interrupted "the interrupted generation ($p_gen) is marked 'interrupted'"
	is "$(sqlite3 "$DB" 'select event from journal order by id desc limit 1')" recover \
		"the journal's last event is the recovery"
else
	skip "no RENAME_EXCHANGE" 6
fi

note "exit status of each failing command:" "${FAULT_RCS[@]}"
note "${NOTES[@]}"
note "adapter calls: $(grep -c '^start' "$T/adapter.log"); total run time ${SECONDS}s"
