# tests/shell/lib.sh — TAP helpers for petrel's shell tests.  Source it first:
#
#     . "$(dirname "$0")/lib.sh"
#     plan 3
#     start_server; make_key pub1; write_config
#     u=$(add_build hello "$T/hello.hvt"); sign_build hello "$u" pub1
#     run petrel upgrade hello
#     is "$rc" 0 "upgrade succeeds"
#
# Every test gets its own temporary directory $T (removed on exit; keep it with
# PETREL_KEEP_TMP=1).  Servers started with start_server are killed on exit.

# ------------------------------------------------------------------ locations

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
BW_PY="$REPO_ROOT/tests/servers/builder_web.py"
PETREL=${PETREL:-$REPO_ROOT/petrel}
PYTHON=${PYTHON:-python3}
# -S: no site module. builder_web.py and the helpers need the standard library only, and
# a site-packages .pth file can cost more than the helper itself (tests call it hundreds
# of times).
PY=("$PYTHON" -S)
MINISIGN=${MINISIGN:-/usr/bin/minisign}
PETREL_TIMEOUT=${PETREL_TIMEOUT:-120}

T=$(mktemp -d "${TMPDIR:-/tmp}/petrel-test.XXXXXX") || { echo "Bail out! mktemp"; exit 255; }
export T

# nap SECONDS — sleep without starting a process (a fork costs more than most of what
# the tests wait for): a read that times out on a FIFO that nobody writes to.
mkfifo "$T/.nap" && exec {_tap_nap_fd}<>"$T/.nap" || { echo "Bail out! mkfifo"; exit 255; }
nap() { read -r -t "$1" -u "$_tap_nap_fd" _ || true; }

# ------------------------------------------------------------------ TAP

_tap_n=0
_tap_failed=0
_tap_plan=
_tap_exit_cmds=()
_tap_server_pids=()

plan() {
	_tap_plan=$1
	echo "1..$1"
}

# skip_all REASON — the whole script is skipped (call before plan).
skip_all() {
	echo "1..0 # SKIP $*"
	_tap_plan=0
	exit 0
}

diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do echo "# $line"; done >&2
}

note() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do echo "# $line"; done
}

# pass DESC / fail DESC — record one result.
pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}

fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $*"
	local i=1
	while [ "${BASH_SOURCE[$i]:-}" = "${BASH_SOURCE[0]}" ]; do i=$((i + 1)); done
	diag "  Failed test '$*' at ${BASH_SOURCE[$i]:-?} line ${BASH_LINENO[$((i - 1))]:-?}"
}

# ok DESC CMD [ARGS…] — passes when CMD exits 0.
ok() {
	local desc=$1; shift
	if "$@"; then pass "$desc"; else
		local r=$?
		fail "$desc"
		diag "  command: $*" "  exit: $r"
		return 1
	fi
}

# nok DESC CMD [ARGS…] — passes when CMD exits non-zero.
nok() {
	local desc=$1; shift
	if "$@"; then
		fail "$desc"
		diag "  command unexpectedly succeeded: $*"
		return 1
	else pass "$desc"; fi
}

# is GOT WANT DESC / isnt GOT UNWANTED DESC
is() {
	if [ "$1" == "$2" ]; then pass "$3"; else
		fail "$3"
		diag "  got:      '$1'" "  expected: '$2'"
		_tap_show_run
		return 1
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then pass "$3"; else
		fail "$3"
		diag "  got: '$1'" "  expected anything else"
		return 1
	fi
}

# like TEXT ERE DESC / unlike TEXT ERE DESC (grep -E, any line may match)
like() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then pass "$3"; else
		fail "$3"
		diag "  text:     '$1'" "  doesn't match: /$2/"
		return 1
	fi
}

unlike() {
	if ! printf '%s\n' "$1" | grep -qE -- "$2"; then pass "$3"; else
		fail "$3"
		diag "  text:     '$1'" "  matches: /$2/"
		return 1
	fi
}

# skip REASON [COUNT] — COUNT (default 1) skipped tests.
skip() {
	local i n=${2:-1}
	for ((i = 0; i < n; i++)); do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # skip $1"
	done
}

BAIL_OUT() {
	echo "Bail out! $*"
	exit 255
}

# After a failing `is`, show the last `run` (if any) to make the failure readable.
_tap_show_run() {
	[ -n "${_run_cmd:-}" ] && [ -z "${_run_shown:-}" ] || return 0
	_run_shown=1
	diag "  last run: $_run_cmd (rc=$rc)"
	[ -z "$out" ] || diag "  stdout: ${out:0:2000}"
	[ -z "$err" ] || diag "  stderr: ${err:0:2000}"
}

# ------------------------------------------------------------------ cleanup

# at_exit CMD — run CMD (a string, eval'd) when the script exits.
at_exit() { _tap_exit_cmds+=("$1"); }

_tap_cleanup() {
	local st=$? c p
	# the script's own exit status only matters for bail-outs and signals
	case $st in 255 | 130 | 143) ;; *) st=0 ;; esac
	for c in "${_tap_exit_cmds[@]}"; do eval "$c" || true; done
	for p in "${_tap_server_pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "${PETREL_KEEP_TMP:-}" ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
	if [ "$st" -eq 0 ]; then
		if [ -z "$_tap_plan" ]; then
			echo "1..$_tap_n"         # no plan given: done_testing style
		elif [ "$_tap_plan" != 0 ] && [ "$_tap_plan" != "$_tap_n" ]; then
			diag "planned $_tap_plan tests but ran $_tap_n"
			st=255
		fi
		[ "$_tap_failed" -eq 0 ] || [ "$st" -ne 0 ] || st=$((_tap_failed > 254 ? 254 : _tap_failed))
	fi
	exit "$st"
}
trap _tap_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ small file systems

# need_small_fs — for a script that mounts small file systems: skips it all unless it
# runs as root and a tmpfs mounts here; whatever small_fs mounted is unmounted on exit
# (before $T is removed).
need_small_fs() {
	[ "$(id -u)" = 0 ] || skip_all "needs root to mount small file systems"
	MNT=()
	at_exit 'for _m in "${MNT[@]}"; do umount -l "$_m" 2>/dev/null; done'
	small_fs "$T/probe" 64k 2>/dev/null || skip_all "cannot mount tmpfs here"
	umount "$T/probe"
	MNT=()
}

# small_fs DIR SIZE — a tmpfs of SIZE at DIR (mode 0755: a state directory writable by
# others is refused).
small_fs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" || return 1
	MNT+=("$1")
}

# ------------------------------------------------------------------ running things

# run CMD [ARGS…] — stdout in $out, stderr in $err, exit code in $rc (never aborts).
run() {
	_run_cmd="$*" _run_shown=
	"$@" >"$T/.run.out" 2>"$T/.run.err" && rc=0 || rc=$?
	slurp out "$T/.run.out"
	slurp err "$T/.run.err"
	return 0
}

# slurp VAR FILE — VAR=$(cat FILE) without a process: the text up to a NUL byte (none is
# expected), trailing newlines dropped.
slurp() {
	local -n _slurp_v=$1
	IFS= read -r -d '' _slurp_v <"$2" || true
	while [[ $_slurp_v == *$'\n' ]]; do _slurp_v=${_slurp_v%$'\n'}; done
}

# petrel ARGS… — the real binary with the test configuration (and a time limit).
petrel() {
	timeout -k 5 "$PETREL_TIMEOUT" "$PETREL" -c "$T/petrel.conf" "$@"
}

sha256_of() { local h; h=$(sha256sum -- "$1") && echo "${h%% *}"; }
# sql QUERY — sqlite3 on the test's state database.
sql() { sqlite3 "$T/state/petrel.db" "$1"; }
# one_line — the last run's stderr ($err) is exactly one line.
one_line() { [ "$(printf '%s\n' "$err" | grep -c .)" = 1 ]; }
# blob_path SHA256 — where the store keeps a blob.
blob_path() { echo "$T/state/objects/sha256/${1:0:2}/${1:2}"; }

# ------------------------------------------------------------------ the builder-web look-alike

# start_server [NAME] [PORT] — start builder_web.py on 127.0.0.1 with data dir $T/NAME
# (NAME defaults to bw). Exports ${NAME^^}_PORT, ${NAME^^}_URL, ${NAME^^}_DATA,
# ${NAME^^}_PID — so the default server gives BW_PORT, BW_URL, BW_DATA, BW_PID.
start_server() {
	local name=${1:-bw} port=${2:-0} up
	up=$(printf '%s' "$name" | tr '[:lower:]-' '[:upper:]_')
	local data="$T/$name" pf="$T/$name.port"
	_bw_py_start
	mkdir -p "$data"
	rm -f "$pf"
	"${PY[@]}" "$BW_PY" serve --data "$data" --port "$port" --port-file "$pf" \
		>>"$T/$name.server.log" 2>&1 &
	local pid=$! i
	_tap_server_pids+=("$pid")
	for ((i = 0; i < 500; i++)); do
		[ -s "$pf" ] && break
		kill -0 "$pid" 2>/dev/null || BAIL_OUT "builder_web.py ($name) died: $(cat "$T/$name.server.log")"
		nap 0.02
	done
	[ -s "$pf" ] || BAIL_OUT "builder_web.py ($name) did not start"
	local p; p=$(cat "$pf")
	printf -v "${up}_PORT" '%s' "$p"
	printf -v "${up}_URL" '%s' "http://127.0.0.1:$p"
	printf -v "${up}_DATA" '%s' "$data"
	printf -v "${up}_PID" '%s' "$pid"
	export "${up}_PORT" "${up}_URL" "${up}_DATA" "${up}_PID"
}

# stop_server [NAME] — kill it now (its data stays; start_server NAME PORT can revive it).
stop_server() {
	local up pidvar
	up=$(printf '%s' "${1:-bw}" | tr '[:lower:]-' '[:upper:]_')
	pidvar="${up}_PID"
	[ -n "${!pidvar:-}" ] || return 0
	kill "${!pidvar}" 2>/dev/null
	wait "${!pidvar}" 2>/dev/null
	printf -v "$pidvar" '%s' ""
	return 0
}

# bw_py CMD ARGS… — builder_web.py CMD ARGS… for add, add-job and get: the output, the
# messages and the exit status a run of its own would give. One python process answers
# them all (builder_web.py batch, started by start_server or the first call from the
# script's own shell; subshells such as $(add_build …) share it): a python start costs
# more than such a command, and a script makes dozens.
_bw_py_start() {
	[ -z "${_BW_PY_PID:-}" ] && [ "$BASHPID" = "$$" ] || return 0
	coproc _BW_PY { exec "${PY[@]}" "$BW_PY" batch; }
	_tap_server_pids+=("$_BW_PY_PID")
}
bw_py() {
	local rc o e
	_bw_py_start
	if [ -z "${_BW_PY[1]:-}" ]; then
		"${PY[@]}" "$BW_PY" "$@"
		return
	fi
	printf '%s\0' "$#" "$@" >&"${_BW_PY[1]}"
	IFS= read -r -d '' -u "${_BW_PY[0]}" rc &&
		IFS= read -r -d '' -u "${_BW_PY[0]}" o &&
		IFS= read -r -d '' -u "${_BW_PY[0]}" e ||
		{ echo "# builder_web.py batch did not answer: $*" >&2; return 125; }
	printf '%s' "$o"
	printf '%s' "$e" >&2
	return "$rc"
}

# The helpers below act on $BW_DATA; for another server prefix the call:
#     BW_DATA=$RB1_DATA add_build hello f.hvt --uuid "$u"

# add_build JOB FILE [--uuid U] [--platform P] [--finish-time EPOCH] [--start-time EPOCH]
#           [--filename NAME] [--link] [--failed]   → echoes the uuid
add_build() {
	local job=$1 file=$2; shift 2
	bw_py add --data "$BW_DATA" --job "$job" --file "$file" "$@"
}

# build_field JOB UUID FIELD… — each on a line: job uuid platform filename sha256 size
#                                start_time finish_time start_epoch finish_epoch path etag
build_field() {
	bw_py get --data "$BW_DATA" --job "$1" --uuid "$2" "${@:3}"
}

# remove_build JOB UUID — as builder-web's vacuum does.
remove_build() { rm -rf "${BW_DATA:?}/builds/$1/$2"; }

# set_mode MODE [MODE…] — hostile modes (one per argument, "MODE SUBSTRING" allowed);
# clear_mode — back to normal.
set_mode() { printf '%s\n' "$@" >"$BW_DATA/mode"; }
clear_mode() { rm -f "$BW_DATA/mode"; }

# requests — the request log (METHOD<TAB>PATH<TAB>ACCEPT per line);
# request_count ERE — how many logged requests match; clear_requests — empty the log.
requests() { cat "$BW_DATA/requests.log" 2>/dev/null; }
request_count() {
	local n=0
	[ -f "$BW_DATA/requests.log" ] && n=$(grep -cE -- "$1" "$BW_DATA/requests.log" || true)
	echo "${n:-0}"
}
clear_requests() { : >"$BW_DATA/requests.log"; }

# make_file PATH SIZE [SEED] — a deterministic pseudo-random file (SIZE in bytes).
make_file() {
	"${PY[@]}" - "$1" "$2" "${3:-$1}" <<'EOF'
import hashlib, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
with open(path, "wb") as f:
    block, n = hashlib.sha256(seed).digest() * 2048, 0
    while n < size:
        b = block[: min(len(block), size - n)]
        f.write(b); n += len(b)
        block = hashlib.sha256(block[:64]).digest() * 2048
EOF
}

# ------------------------------------------------------------------ minisign

# make_key NAME — $T/NAME.pub and $T/NAME.sec, no password.
make_key() {
	"$MINISIGN" -G -f -W -p "$T/$1.pub" -s "$T/$1.sec" >/dev/null ||
		BAIL_OUT "minisign -G failed"
}

# key_id NAME — the key id, 16 upper-case hex digits as petrel prints it (minisign's
# own comment line drops leading zeros, so pad them back).
key_id() {
	local id
	id=$(sed -n '1s/.*public key //p' "$T/$1.pub")
	printf '%16s\n' "$id" | tr ' ' 0
}

# sign_build JOB UUID KEYNAME [TRUSTED_COMMENT] — writes
# $BW_DATA/sigs/JOB/UUID/FILENAME.minisig; the default trusted comment is
# timestamp:FINISH_EPOCH<TAB>file:NAME<TAB>job:JOB<TAB>uuid:UUID<TAB>sha256:HEX.
# Echoes nothing; exits non-zero if minisign fails.
sign_build() {
	local job=$1 u=$2 key=$3 name sha fin path tc
	tc=$(build_field "$job" "$u" filename sha256 finish_epoch path) || return 1
	{ read -r name; read -r sha; read -r fin; read -r path; } <<<"$tc"
	if [ $# -ge 4 ]; then
		tc=$4
	else
		tc=$(printf 'timestamp:%s\tfile:%s\tjob:%s\tuuid:%s\tsha256:%s' \
			"$fin" "$name" "$job" "$u" "$sha")
	fi
	mkdir -p "$BW_DATA/sigs/$job/$u"
	"$MINISIGN" -S -s "$T/$key.sec" -m "$path" \
		-x "$BW_DATA/sigs/$job/$u/$name.minisig" -t "$tc" </dev/null >/dev/null
}

# ------------------------------------------------------------------ configuration

# write_config [--global LINE]… [--server LINE]… [LINE…] — writes $T/petrel.conf:
#   [petrel]          state_dir = $T/state   (+ each --global LINE)
#   [server "bw"]     url = $BW_URL          (+ each --server LINE)
#   [target "hello"]  server, job, path, orchestrator, keys, threshold, signatures
# Each LINE "key = value" whose key is one of the target's defaults replaces it,
# "-key" deletes that default, any other line is appended after the target section
# (so "[target \"other\"]" followed by its keys adds a section).
write_config() {
	local globals=() servers=() extra=() l k
	while [ $# -gt 0 ]; do
		if [ "$1" = --global ]; then globals+=("$2"); shift 2
		elif [ "$1" = --server ]; then servers+=("$2"); shift 2
		else extra+=("$1"); shift; fi
	done
	local keys=(server job path orchestrator keys threshold signatures)
	declare -A val=(
		[server]=bw
		[job]=hello
		[path]="$T/deploy/hello.hvt"
		[orchestrator]=none
		[keys]="$T/pub1.pub"
		[threshold]=1
		[signatures]="$BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
	)
	local rest=() in_target=1
	for l in "${extra[@]}"; do
		case $l in \[*) in_target=0 ;; esac
		k=${l%%=*}; k=${k//[[:space:]]/}
		if [ $in_target = 1 ] && [ "${l:0:1}" = - ] && [ ${#l} -gt 1 ] &&
			[ -n "${val[${l:1}]+x}" ]; then
			unset "val[${l:1}]"
		elif [ $in_target = 1 ] && [[ $l == *=* ]] && [ -n "$k" ] && [ -n "${val[$k]+x}" ]; then
			val[$k]=$(printf '%s' "${l#*=}" | sed 's/^[[:space:]]*//')
		else
			rest+=("$l")
		fi
	done
	mkdir -p "$T/deploy"
	{
		echo "[petrel]"
		echo "state_dir = $T/state"
		for l in "${globals[@]}"; do echo "$l"; done
		echo
		echo "[server \"bw\"]"
		echo "url = $BW_URL"
		for l in "${servers[@]}"; do echo "$l"; done
		echo
		echo "[target \"hello\"]"
		for k in "${keys[@]}"; do
			[ -n "${val[$k]+x}" ] && echo "$k = ${val[$k]}"
		done
		for l in "${rest[@]}"; do
			case $l in \[*) echo ;; esac
			echo "$l"
		done
	} >"$T/petrel.conf"
}

# ------------------------------------------------------------------ state snapshots

# _state_fingerprint — FP: the files under state/objects, the entries of state/tmp, the
# versions count and the entries of deploy/ (a regular file with its sha256). A handful
# of processes (one find, one sort, one sha256sum, one sqlite3) whatever the number of
# files: hostile tests take two fingerprints a case.
_state_fingerprint() {
	local list root type rel v
	local -a reg=()
	list=$(find "$T/state/objects" "$T/state/tmp" "$T/deploy" -mindepth 1 \
		-printf '%H\t%y\t%P\n' 2>/dev/null | LC_ALL=C sort)
	FP=
	while IFS=$'\t' read -r root type rel; do
		case $root in
		"$T/state/objects") [ "$type" != f ] || FP+="objects: $rel"$'\n' ;;
		"$T/state/tmp") FP+="tmp: $rel ($type)"$'\n' ;;
		"$T/deploy")
			FP+="deploy: $rel ($type)"$'\n'
			[ "$type" != f ] || reg+=("$rel") ;;
		esac
	done <<<"$list"
	_versions_count v
	FP+="versions: $v"$'\n'
	[ ${#reg[@]} = 0 ] || FP+=$(cd "$T/deploy" && sha256sum -- "${reg[@]}")$'\n'
}

# _versions_count VAR — VAR is the number of rows in the versions table (0 without a
# database).
_versions_count() {
	local db="$T/state/petrel.db" _vc_n=0
	[ ! -f "$db" ] || _vc_n=$(sqlite3 "$db" 'select count(*) from versions' 2>/dev/null) || _vc_n=0
	printf -v "$1" '%s' "${_vc_n:-0}"
}

# versions_count — rows in the versions table (0 without a database).
versions_count() { local n; _versions_count n; echo "$n"; }

# snapshot_state [NAME] — record files under state/objects and state/tmp, the versions
# count and the deployed files (with their sha256).
snapshot_state() { _state_fingerprint; printf '%s' "$FP" >"$T/.snapshot.${1:-default}"; }

# state_unchanged DESC [NAME] — a TAP test: the state equals the snapshot.
state_unchanged() {
	local desc=${1:-state unchanged} snap="$T/.snapshot.${2:-default}"
	[ -f "$snap" ] || BAIL_OUT "state_unchanged without snapshot_state"
	if _state_fingerprint_same "${2:-default}"; then pass "$desc"; else
		fail "$desc"
		diag "$(printf '%s' "$FP" | diff "$snap" - | sed -n '1,40p')"
		_tap_show_run
		return 1
	fi
}

# _state_fingerprint_same [NAME] — like state_unchanged, but only an exit status.
_state_fingerprint_same() {
	local was
	_state_fingerprint
	slurp was "$T/.snapshot.${1:-default}"
	[ "${FP%$'\n'}" == "$was" ]
}

# ------------------------------------------------------------------ waiting for conditions

# wait_for [-t SECONDS] CMD [ARGS…] — runs CMD until it exits 0 (after 0.01, 0.02 and
# 0.04 s, then every 0.05 s up to 2 s, then every 0.2 s: most conditions come soon, what
# takes longer is a daemon's cycles of a second or more, and each try of a command costs
# a process); fails after SECONDS (default $PETREL_WAIT_TIMEOUT, else 60): a generous
# limit, since a loaded machine is slow, not wrong. Use it instead of `sleep` to wait
# for something to happen:
#     ok "the daemon deployed it" wait_for grep -q "deployed" "$T/daemon.log"
wait_for() {
	local limit=${PETREL_WAIT_TIMEOUT:-60} start now ms=10 d
	if [ "${1:-}" = -t ]; then limit=$2; shift 2; fi
	start=${EPOCHREALTIME/./}
	while :; do
		"$@" && return 0
		now=${EPOCHREALTIME/./}
		[ $((now - start)) -lt $((${limit%.*} * 1000000)) ] || return 1
		[ $((now - start)) -lt 2000000 ] || ms=200
		printf -v d '0.%03d' "$ms"
		nap "$d"
		[ "$ms" -ge 50 ] || ms=$((ms * 2 > 50 ? 50 : ms * 2))
	done
}

# wait_until_gone ERE [SECONDS] — until no process's command line matches ERE (pgrep -f):
# the processes a test started in the background, and their children, have ended.
wait_until_gone() {
	local ere=$1
	shift
	wait_for ${1:+-t "$1"} _tap_none_running "$ere"
}
_tap_none_running() { ! pgrep -f -- "$1" >/dev/null; }
