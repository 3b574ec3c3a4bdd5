# tests/shell/lib-crash.sh — the setup and the checks of the crash tests: t0800 kills
# upgrade and revert with SIGKILL, t0801 makes their write/fsync/rename calls fail. Source
# it after lib.sh and plan: it starts the look-alike, deploys build 1 then build 2 (two
# 30 MB files) with an adapter that records its calls, and that is the first test.
#
# Right after the crash, `status --json` — a read: no lock, no recovery — shows the intent
# left as "interrupted" and changes nothing (read_first). Afterwards — once the next
# writing command, `petrel fsck`, has taken the lock and recovered (recover_next) — the
# deployed file is exactly the old or the new build (mode 0755), `status` names the build
# that is really there and nothing interrupted, that fsck is clean, no intent is left, no
# PATH.petrel-new, nothing beside the path but PATH.petrel-prev holding a whole build,
# tmp/ is empty: check_state says what is not so.

SIZE=30000000                     # ~30 MB: hashing, copying, fsyncing take tens of ms
CHUNKS=$(((SIZE + 1048575) / 1048576))   # write() calls of one copy (1 MiB each)

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

# status_json — runs `petrel status --json` (a read: it takes no lock and recovers
# nothing) into $rc/$out/$err and reads the current and previous sha256, the current
# generation's state and "interrupted", in one jq: S_CUR S_PREV S_STATE, S_INT "OP PHASE"
# (with " (no started_at)" if that is missing) or "null"; CUR is the current build's
# sha256 according to status.
status_json() {
	local x
	run petrel status --json
	x=$(jq -r '.targets[0] | [.current.sha256 // "null", .previous.sha256 // "null",
		.current.state // "null", (.interrupted | if . == null then "null" else
		"\(.op) \(.phase)" + (if .started_at == null then " (no started_at)" else "" end)
		end)] | join(" ")' <<<"$out" 2>&1) || x="jq: $x"
	read -r S_CUR S_PREV S_STATE S_INT <<<"$x"
	CUR=$S_CUR
}

# db_print — DBP: what the database says of the switches, in one sqlite3: the recoveries
# so far, the journal's length and last id, the current and previous generations, each
# generation's state, the intent (every column). D_RECOVERIES is the first, D_INTENT the
# intent's "OP PHASE" (empty without one).
db_print() {
	local l
	DBP=$(sqlite3 "$DB" "select 'recoveries ' || count(*) from journal where event = 'recover';
		select 'journal ' || count(*) || ' ' || ifnull(max(id), 0) from journal;
		select 'target ' || name || ' ' || current || ' ' || previous from targets;
		select 'generation ' || number || ' ' || state from generations order by number;
		select 'intent ' || op || ' ' || phase from intents where target = 'hello';
		select * from intents" 2>&1)
	D_RECOVERIES='' D_INTENT=''
	while IFS= read -r l; do
		case $l in
		"recoveries "*) D_RECOVERIES=${l#recoveries } ;;
		"intent "*) D_INTENT=${l#intent } ;;
		esac
	done <<<"$DBP"
}

# read_first — right after a crash (or a fault), before any command that recovers: runs
# status_json, and sets v_read to "" when it exits 0, its "interrupted" names the intent
# the database holds ("null" without one), and the database, the path and
# PATH.petrel-prev are as they were before it; else to what is wrong. P_INT is what status
# said, P_MS how long it took (ms), P_INTENT the intent ("OP PHASE", empty without one),
# P_RECOVERIES the journal's recover events before it.
read_first() {
	local db0 look0 t0 t1
	v_read=''
	db_print
	db0=$DBP P_INTENT=$D_INTENT P_RECOVERIES=$D_RECOVERIES
	look
	look0="${LOOK[$DEPLOY]:-none} ${LOOK[$DEPLOY.petrel-prev]:-none}"
	t0=${EPOCHREALTIME/./}
	status_json
	t1=${EPOCHREALTIME/./}
	P_MS=$(((t1 - t0) / 1000)) P_INT=$S_INT
	[ "$rc" = 0 ] || v_read="status --json before the recovery exited $rc: $(printf '%s' "$err" | head -3)"
	[ "$S_INT" = "${P_INTENT:-null}" ] ||
		v_read+="${v_read:+; }before the recovery status says interrupted: '$S_INT', the database holds intent '${P_INTENT:-none}'"
	db_print
	[ "$DBP" = "$db0" ] ||
		v_read+="${v_read:+; }status --json changed the database: $(diff <(printf '%s\n' "$db0") <(printf '%s\n' "$DBP") | grep '^[<>]' | tr '\n' ' ')"
	look
	[ "${LOOK[$DEPLOY]:-none} ${LOOK[$DEPLOY.petrel-prev]:-none}" = "$look0" ] ||
		v_read+="${v_read:+; }status --json changed the path or PATH.petrel-prev ($look0 -> ${LOOK[$DEPLOY]:-none} ${LOOK[$DEPLOY.petrel-prev]:-none})"
}

# recover_next — the next writing command: `petrel fsck` takes the lock, rolls an
# interrupted switch back, then checks the store (R_RC, R_ERR: its exit status and
# stderr); then status_json reads what it left.
recover_next() {
	run petrel fsck
	R_RC=$rc R_OUT=$out R_ERR=$err
	status_json
}

# check_state — after recover_next: sets v_path v_status v_fsck v_intents v_new v_tmp
# v_adapter to "" when the invariant holds, else to what is wrong (v_fsck: the recovering
# fsck did not exit 0); PATH_NOW is what the path holds, S_RECOVERIES the journal's
# recover events.
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
		[ "$S_INT" = null ] || v_status+="${v_status:+; }after the recovery status says interrupted: '$S_INT'"
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
	[ "$R_RC" = 0 ] ||
		v_fsck="the recovering fsck exited $R_RC: $(printf '%s\n%s' "$R_OUT" "$R_ERR" | head -5 | tr '\n' ' ')"
}
