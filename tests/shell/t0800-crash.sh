#!/usr/bin/env bash
# Crash safety of the switch. upgrade and revert are killed with SIGKILL at random
# moments, and write/fsync/rename calls fail (PETREL_FAULT) during the switch, its
# rollback and the recovery of an earlier interrupted switch. Afterwards — once the next
# petrel command has recovered — the deployed file is exactly the old or the new build
# (mode 0755), `status` names the build that is really there, fsck is clean, no intent
# is left, no PATH.petrel-new, nothing beside the path but PATH.petrel-prev holding a
# whole build, tmp/ is empty.
#
# PETREL_CRASH_KILLS (default 200) sets the kill loop's length, PETREL_CRASH_SEED its
# random timings (printed, to replay a failure). On a loaded machine a petrel takes
# longer to reach its switch: the kills then come later by the time a plain `status`
# takes (a moving average), and the loop goes on (up to twice as long) until a quarter
# of the kills have interrupted a switch.
. "$(dirname "$0")/lib.sh"

KILLS=${PETREL_CRASH_KILLS:-200}
SEED=${PETREL_CRASH_SEED:-$$}
SIZE=30000000                     # ~30 MB: hashing, copying, fsyncing take tens of ms
CHUNKS=$(((SIZE + 1048575) / 1048576))   # write() calls of one copy (1 MiB each)

# write, fsync and rename (rename(2) and renameat2 RENAME_EXCHANGE) faults, each alone
FAULTS=(write:1 write:3 fsync:1 fsync:2 fsync:3 fsync:4 fsync:5 fsync:6 rename:1 rename:2)
SCENARIOS=(kept copy pending)

plan $((1 + 8 + ${#SCENARIOS[@]} * 2 * 2 * ${#FAULTS[@]} + 1 + 5))

C="$T/petrel.conf"
DEPLOY="$T/deploy/hello.hvt"
DB="$T/state/petrel.db"

start_server
make_key pub1
# the adapter records its calls and takes a moment, so that kills land while it runs
cat >"$T/adapter.sh" <<'EOF'
#!/bin/sh
log=${0%/*}/adapter.log
printf 'start %s %s %s\n' "$$" "$1" "$PETREL_NEW_SHA256" >>"$log"
sleep 0.05
printf 'end %s\n' "$$" >>"$log"
EOF
chmod +x "$T/adapter.sh"
write_config --global 'lock_timeout = 5' "orchestrator = $T/adapter.sh"

make_file "$T/one.hvt" "$SIZE" crash-one
make_file "$T/two.hvt" "$SIZE" crash-two
SHA1=$(sha256_of "$T/one.hvt")
SHA2=$(sha256_of "$T/two.hvt")
U1=$(add_build hello "$T/one.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1
setup_ok=1
petrel fetch >/dev/null 2>&1 && petrel upgrade hello >/dev/null 2>&1 || setup_ok=0
U2=$(add_build hello "$T/two.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
petrel fetch >/dev/null 2>&1 && petrel upgrade hello >/dev/null 2>&1 || setup_ok=0
run petrel status --json
if [ "$setup_ok" = 1 ] && [ "$(sha256_of "$DEPLOY")" = "$SHA2" ] &&
	[ "$(jq -r '.targets[0].current.sha256' <<<"$out")" = "$SHA2" ] &&
	[ "$(jq -r '.targets[0].previous.sha256' <<<"$out")" = "$SHA1" ]; then
	pass "setup: both builds fetched, generations 1 and 2 deployed"
else
	fail "setup: both builds fetched, generations 1 and 2 deployed"
	diag "status: $out" "stderr: $err"
	BAIL_OUT "setup failed"
fi
# without RENAME_EXCHANGE (some file systems) nothing is kept beside the path
KEPT=1
[ -f "$DEPLOY.petrel-prev" ] || { KEPT=0; note "no $DEPLOY.petrel-prev after the upgrade: this file system has no RENAME_EXCHANGE"; }

# ------------------------------------------------------------------ helpers

# A process start costs more here than most checks do (a kill loop iteration made ~40):
# the helpers below set variables instead of printing into $(…), and they look at the
# files with one stat and at the database with one sqlite3 where they can.

# other_of SHA — OTHER is the other build's sha256; uuid_of SHA — UUID is its build's uuid;
# name_of SHA — NAME is "build 1", "build 2", "nothing" or "sha256 <12 digits>".
other_of() { if [ "$1" = "$SHA1" ]; then OTHER=$SHA2; else OTHER=$SHA1; fi; }
uuid_of() { if [ "$1" = "$SHA1" ]; then UUID=$U1; else UUID=$U2; fi; }
name_of() {
	case $1 in "$SHA1") NAME="build 1" ;; "$SHA2") NAME="build 2" ;; "") NAME=nothing ;;
	*) NAME="sha256 ${1:0:12}" ;; esac
}
# named SHA — prints NAME (for messages, where a subshell costs nothing that matters)
named() { name_of "$1"; echo "$NAME"; }

intents() { sqlite3 "$DB" 'select count(*) from intents' 2>&1; }
recoveries() { sqlite3 "$DB" "select count(*) from journal where event = 'recover'" 2>&1; }

# look — one stat of the path and PATH.petrel-prev: LOOK[FILE] is "MODE KEY" for each
# that exists, KEY a version of the file: device, inode, size and mtime (ns), since every
# write changes the mtime and petrel never sets it (ctime is left out: the renames and
# exchanges of the switch change it, not the bytes). Nothing writes while we look
# (wait_adapters ran before).
declare -A LOOK=()
look() {
	local mode key name
	LOOK=()
	while read -r mode key name; do LOOK[$name]="$mode $key"; done \
		< <(stat -c '%a %d:%i:%s:%.9Y %n' -- "$DEPLOY" "$DEPLOY.petrel-prev" 2>/dev/null)
}

# ident FILE KEY — sets ID to FILE's sha256: each version (KEY) is compared once with the
# two builds (cmp stops at the first byte that differs, and costs less than hashing);
# only a file that is neither is hashed. Call it outside $(…), or what it learnt is lost
# with the subshell.
declare -A IDS=()
ident() {
	if [ -z "${IDS[$2]:-}" ]; then
		if cmp -s -- "$1" "$T/one.hvt"; then IDS[$2]=$SHA1
		elif cmp -s -- "$1" "$T/two.hvt"; then IDS[$2]=$SHA2
		else IDS[$2]=$(sha256_of "$1"); fi
	fi
	ID=${IDS[$2]}
}

# state_of FILE — after `look`, for the path or PATH.petrel-prev: STATE is "build 1" /
# "build 2" when FILE is a regular 0755 file holding one of the builds, else a
# description of what is there; STATE_SHA its sha256 (empty when it is not a file).
state_of() {
	local f=$1 mode key size
	STATE_SHA=
	if [ -L "$f" ] || [ ! -f "$f" ] || [ -z "${LOOK[$f]:-}" ]; then
		STATE="missing or not a regular file"; return
	fi
	mode=${LOOK[$f]%% *} key=${LOOK[$f]#* }
	ident "$f" "$key"
	STATE_SHA=$ID
	name_of "$ID"
	if [ "$ID" != "$SHA1" ] && [ "$ID" != "$SHA2" ]; then
		size=${key#*:*:} size=${size%%:*}
		STATE="sha256 $ID ($size bytes), neither build"
	elif [ "$mode" != 755 ]; then
		STATE="$NAME but mode $mode"
	else
		STATE=$NAME
	fi
}
# path_state — prints what the path holds (for messages)
path_state() { look; state_of "$DEPLOY"; echo "$STATE"; }

# wait_adapters — until nothing a killed petrel left behind runs: no adapter (one left
# running ends 0.05 s later), no child of petrel between fork and exec. Then every
# adapter started has ended: as many 'end' as 'start' lines in adapter.log.
wait_adapters() {
	wait_until_gone "$T/adapter\.sh|$PETREL -c $C "
}

# status_json — runs `petrel status --json` (which recovers) into $rc/$out/$err and reads
# the current and previous sha256 and the current generation's state, in one jq:
# S_CUR S_PREV S_STATE; CUR is the current build's sha256 according to status.
status_json() {
	local x
	run petrel status --json
	x=$(jq -r '.targets[0] | [.current.sha256 // "null", .previous.sha256 // "null",
		.current.state // "null"] | join(" ")' <<<"$out" 2>&1) || x="jq: $x"
	read -r S_CUR S_PREV S_STATE <<<"$x"
	CUR=$S_CUR
}

# check_state — after status_json: sets v_path v_status v_fsck v_intents v_new v_tmp
# v_adapter to "" when the invariant holds, else to what is wrong; PATH_NOW is what the
# path holds, S_RECOVERIES the journal's recover events.
check_state() {
	local x n f last i
	local -a lines
	v_path='' v_status='' v_fsck='' v_intents='' v_new='' v_tmp='' v_adapter=''
	look
	state_of "$DEPLOY"
	PATH_SHA=$STATE_SHA PATH_NOW=$STATE
	case $PATH_NOW in "build 1" | "build 2") ;; *) v_path="path: $PATH_NOW" ;; esac
	if [ "$rc" != 0 ]; then
		v_status="status --json exited $rc: $(printf '%s' "$err" | head -3)"
	else
		if [ "$S_CUR" != "$PATH_SHA" ]; then
			v_status="status says current is $(named "$S_CUR"), the path holds $PATH_NOW"
		fi
		# every switch was between the two builds: previous is the other one
		other_of "$S_CUR"
		[ "$S_PREV" = "$OTHER" ] ||
			v_status+="${v_status:+; }status says previous is $(named "$S_PREV"), current $(named "$S_CUR")"
		[ "$S_STATE" = deployed ] || v_status+="${v_status:+; }the current generation's state is '$S_STATE'"
	fi
	# the intents left, the generations still 'pending' and the recoveries, in one sqlite3
	x=$(sqlite3 "$DB" "select count(*) from intents;
		select 'pending:' || ifnull(group_concat(number, ' '), '') from generations
		where state = 'pending';
		select 'recoveries:' || count(*) from journal where event = 'recover'" 2>&1)
	S_RECOVERIES=${x##*recoveries:}
	x=${x%$'\n'recoveries:*}
	n=${x%%$'\n'*}
	[ "$n" = 0 ] || v_intents="$n intent(s) left: $(sqlite3 "$DB" \
		'select op, phase, from_gen, to_gen from intents' 2>&1 | tr '\n' ' ')"
	case $x in *$'\n'pending:) ;; *) n=${x#*pending:}; v_intents+="${v_intents:+; }generation(s) ${n:-?} still 'pending' ($x)" ;; esac
	# the orchestrator was last told to run what is at the path
	mapfile -t lines <"$T/adapter.log"
	last=
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		[[ ${lines[i]} == start* ]] && { last=${lines[i]}; break; }
	done
	[ "${last##* }" = "$PATH_SHA" ] ||
		v_adapter="the adapter's last call ($(set -- $last; echo "$3") $(named "${last##* }")) is not for the build at the path ($PATH_NOW)"
	# beside the path: PATH.petrel-prev (a whole build) at most
	for f in "$T"/deploy/* "$T"/deploy/.[!.]*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		case $f in
		"$DEPLOY") ;;
		"$DEPLOY.petrel-prev")
			state_of "$f"
			case $STATE in "build 1" | "build 2") ;; *) v_new+="hello.hvt.petrel-prev: $STATE; " ;; esac ;;
		*) v_new+="${f##*/} left ($(stat -c %s "$f" 2>/dev/null) bytes); " ;;
		esac
	done
	if [ ! -d "$T/state/tmp" ]; then
		v_tmp="no $T/state/tmp"
	else
		for f in "$T"/state/tmp/* "$T"/state/tmp/.[!.]* "$T"/state/tmp/..?*; do
			[ -e "$f" ] || [ -L "$f" ] || continue
			v_tmp+="${v_tmp:+ }${f##*/}"
		done
		[ -z "$v_tmp" ] || v_tmp="tmp/ holds: $v_tmp"
	fi
	if ! petrel fsck >"$T/.fsck" 2>&1; then
		n=$?
		slurp f "$T/.fsck"
		v_fsck="fsck exited $n: $(printf '%s' "$f" | head -5 | tr '\n' ' ')"
	fi
}

# ------------------------------------------------------------------ 1. the kill loop

# Odd iterations revert, even ones upgrade --to the other build; every third one first
# removes PATH.petrel-prev, so the switch copies the blob from the store (29 MiB writes,
# fsync, exchange, rename, fsync) instead of exchanging the kept file (hash, exchange,
# fsync). The adapter runs after the switch. Kills land anywhere in all that. Every
# tenth time the status that recovers is killed as well, and the next one recovers.
RANDOM=$SEED
note "kill loop: $KILLS iterations, seed $SEED (replay with PETREL_CRASH_SEED=$SEED)"
declare -A bad=() nbad=()
killed=0 killed2=0 finished=0 recovered=0 rec_iters=() rec_ms=()
rec_before=$(recoveries)
started=$SECONDS
cur=$SHA2
lag=0		# ms: the moving average of a status that did not recover, less 20 ms
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
	# the recoveries so far (first line) and the intent left (the rest), in one sqlite3
	x=$(sqlite3 "$DB" "select count(*) from journal where event = 'recover';
		select op || ' ' || phase from intents" 2>&1)
	r0=${x%%$'\n'*}
	pending=; [ "$x" = "$r0" ] || pending=${x#*$'\n'}
	if ((i % 10 == 5)); then
		# every tenth: the recovering command is killed too, the next one finishes
		ms2=$((RANDOM % 61))
		"$PETREL" -c "$C" -q status >/dev/null 2>&1 &
		pid=$!
		printf -v d '0.%03d' "$ms2"
		nap "$d"
		kill -9 "$pid" 2>/dev/null && killed2=$((killed2 + 1))
		{ wait "$pid"; } 2>/dev/null
		wait_adapters
		what+=", then status killed after ${ms2} ms"
	fi
	t0=${EPOCHREALTIME/./}
	status_json
	t1=${EPOCHREALTIME/./}
	check_state
	r1=$S_RECOVERIES
	if [ "$r1" = "$r0" ] && ((i % 10 != 5)); then
		x=$(((t1 - t0) / 1000 - 20))
		((x > 0)) || x=0
		lag=$(((3 * lag + x) / 4))
	fi
	if [ "$r1" != "$r0" ]; then
		recovered=$((recovered + 1))
		rec_iters+=("$i")
		rec_ms+=("$ms")
	fi
	ctx="iteration $i: $what, kill -9 after ${ms} ms ($how); before recovery: path $before, intent '${pending}'; after: path $PATH_NOW"
	for k in path status fsck intents new tmp adapter; do
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
	"already finished; $recovered recovered an interrupted switch (journal 'recover' events: $rec_journal)"
note "the kills came up to $lag ms later than 0-120 ms, the time a status took"
note "$killed2 of the $(((KILLS + 5) / 10)) recovering status commands killed too were still running"
note "kills that recovered landed after (ms): $(printf '%s\n' "${rec_ms[@]}" | sort -n | tr '\n' ' ')"

# kill_result KEY DESC
kill_result() {
	if [ -z "${nbad[$1]:-}" ]; then pass "$2"; else
		fail "$2"
		diag "${nbad[$1]} of $KILLS iterations broke it (first 10 shown; seed $SEED):"
		diag "$(printf '%s' "${bad[$1]}")"
	fi
}
kill_result path "$KILLS kills: the path always holds exactly the old or the new build (0755)"
kill_result status "$KILLS kills: status --json (which recovers) agrees with the path every time (previous: the other build)"
kill_result fsck "$KILLS kills: fsck clean every time"
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

# ------------------------------------------------------------------ 2. faults

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
# OP FAULT) and the invariants once the next command has recovered.
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
	status_json		# the next command: recovers
	check_state
	for k in path status fsck intents new tmp adapter; do
		v="v_$k"
		[ -z "${!v}" ] || problems+=("${!v}")
	done
	name_of "$want"
	[ "$PATH_NOW" = "$NAME" ] ||
		problems+=("exit $F_RC, so the path should hold the $age $NAME, it holds $PATH_NOW")
	if [ ${#problems[@]} = 0 ]; then
		pass "$label: after the next command the $age build is at the path, status agrees, fsck clean, nothing left"
	else
		fail "$label: after the next command the state is sound"
		diag "${problems[@]}"
	fi
}

FAULT_RCS=() NOTES=() pending_bad=()
# each case ends with a status (which recovers): CUR is known from there on
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
				if [ "$F_RC" = 0 ] || [ "$F_INTENTS" != 1 ] || [ "$F_PATH" != "$NAME" ]; then
					pending_bad+=("before $op $fault: exit $F_RC, $F_INTENTS intent(s), path $F_PATH (wanted $NAME, 1 intent)")
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
	pass "fsync:1,rename:2 left an interrupted upgrade (new file at the path, one intent) all $((2 * ${#FAULTS[@]})) times"
else
	fail "fsync:1,rename:2 left an interrupted upgrade (new file at the path, one intent) every time"
	diag "${pending_bad[@]}"
fi

# A fault in the recovery run by a read-only command (status): it fails in one line, the
# interrupted switch stays recorded with a whole file at the path, and the next command
# finishes the recovery: the interrupted generation is marked so.
if [ "$KEPT" = 1 ]; then
	status_json
	switch upgrade fsync:1,rename:2
	p_old=$OLD p_path=$F_PATH p_gen=$(sqlite3 "$DB" 'select to_gen from intents')
	for fault in rename:1 fsync:1; do
		run env PETREL_FAULT="$fault" "$PETREL" -c "$C" status --json
		F_RC=$rc F_ERR=$err
		err_lines
		FAULT_RCS+=("status recovering under $fault: exit $F_RC: $(printf '%s\n' "${ERRL[@]}")")
		NOTES+=("status recovering under $fault: exit $F_RC; then the path holds $(path_state), $(intents) intent(s)")
		if [ "$F_RC" != 0 ] && one_line_naming_hello &&
			[ "$(intents)" = 1 ] && [ ! -e "$DEPLOY.petrel-new" ] &&
			case $(path_state) in "build 1" | "build 2") true ;; *) false ;; esac; then
			pass "status whose recovery hits $fault fails in one line naming the target; the intent stays, a whole build at the path"
		else
			fail "status whose recovery hits $fault fails in one line naming the target; the intent stays, a whole build at the path"
			diag "exit $F_RC, stderr: $F_ERR" "intents: $(intents), path: $(path_state)" \
				"$(ls -l "$T/deploy")"
		fi
	done
	OLD=$p_old
	status_json
	check_state
	problems=()
	for k in path status fsck intents new tmp adapter; do
		v="v_$k"
		[ -z "${!v}" ] || problems+=("${!v}")
	done
	name_of "$p_old"
	[ "$PATH_NOW" = "$NAME" ] || problems+=("path holds $PATH_NOW, not the old $NAME")
	if [ ${#problems[@]} = 0 ]; then
		pass "a plain status then finishes the recovery: old build back, status agrees, fsck clean, nothing left"
	else
		fail "a plain status then finishes the recovery"
		diag "${problems[@]}"
	fi
	is "$(sqlite3 "$DB" "select state from generations where number = '$p_gen'")" \
		interrupted "the interrupted generation ($p_gen) is marked 'interrupted'"
	is "$(sqlite3 "$DB" 'select event from journal order by id desc limit 1')" recover \
		"the journal's last event is the recovery"
else
	skip "no RENAME_EXCHANGE" 5
fi

note "exit status of each failing command:" "${FAULT_RCS[@]}"
note "${NOTES[@]}"
note "adapter calls: $(grep -c '^start' "$T/adapter.log"); total run time ${SECONDS}s"
