#!/bin/bash
# t0600 — the orchestrator adapters in contrib/orchestrators, run directly as petrel runs
# them, against the stand-ins in tests/fixtures/bin (albatross-client, systemctl) and,
# for exec, against real processes.
# shellcheck disable=SC2154 # rc, out, err come from lib.sh's run
. "$(dirname "$0")/lib.sh"

plan 56

AD=$REPO_ROOT/contrib/orchestrators
export PATH="$REPO_ROOT/tests/fixtures/bin:$PATH"
export PETREL_STANDIN_LOG=$T/standin.log
unset PETREL_STANDIN_FAIL PETREL_ALBATROSS_ENV PETREL_SYSTEMD_UNIT PETREL_EXEC_ARGS

printf 'not really a unikernel\n' >"$T/hello.hvt"
export PETREL_TARGET=hello PETREL_PATH=$T/hello.hvt PETREL_JOB=hello
export PETREL_NEW_SHA256=ab12cd34ef5678901234567890abcdef1234567890abcdef1234567890abcd
export PETREL_OLD_SHA256=
export PETREL_UUID=0b4bd5c4-8e2d-4b7c-9a55-1c5c2e4f7a10
TAB=$'\t'

# Everything the exec adapter starts is killed at the end, whatever happened.
: >"$T/pids"
cleanup_procs() {
	local p
	[ -f "$T/run/hello.pid" ] && cat "$T/run/hello.pid" >>"$T/pids"
	# each started program leads its own session and process group: kill the group
	while read -r p; do
		[ -n "$p" ] && { kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; }
	done <"$T/pids"
	return 0
}
at_exit cleanup_procs

# gone PID — not running (absent, or a zombie nobody reaped yet).
gone() {
	local s
	[ -r "/proc/$1/stat" ] || return 0
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}
wait_gone() {
	local i
	for ((i = 0; i < 50; i++)); do gone "$1" && return 0; sleep 0.1; done
	return 1
}
running() { ! gone "$1"; }

# ------------------------------------------------------------------ albatross

cat >"$T/alb.env" <<'EOF'
# written by the operator
ALBATROSS_ARGS='--net=service:br0 --mem=64 --arg=--ipv4=10.0.0.2/24 --arg="--hello=Hi there *"'
EOF
export PETREL_ALBATROSS_ENV=$T/alb.env

: >"$PETREL_STANDIN_LOG"
run "$AD/albatross" upgrade
is "$rc" 0 "albatross: upgrade succeeds"
is "$(cat "$PETREL_STANDIN_LOG")" \
	"albatross-client${TAB}create${TAB}--force${TAB}hello${TAB}$T/hello.hvt${TAB}--net=service:br0${TAB}--mem=64${TAB}--arg=--ipv4=10.0.0.2/24${TAB}--arg=--hello=Hi there *" \
	"albatross: create --force NAME PATH ARGS, shell words kept whole, no globbing"
like "$err" "^albatross: upgrade: hello re-created from $T/hello.hvt \(sha256 ab12cd34ef56…\)$" \
	"albatross: one success line naming the unikernel, path and hash"
like "$err" "success: created unikernel" "albatross: the client's own answer is passed on"
is "$out" "" "albatross: nothing on stdout"

cat >"$T/alb2.env" <<'EOF'
ALBATROSS_NAME=hello-prod
ALBATROSS_REMOTE='--destination=10.0.0.1:1025 --ca=/etc/albatross/ca.pem --ca-key=/etc/albatross/ca.key --server-ca=/etc/albatross/cacert.pem'
ALBATROSS_ARGS=--net=service
EOF
: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/alb2.env run "$AD/albatross" revert
is "$rc" 0 "albatross: revert succeeds"
is "$(cat "$PETREL_STANDIN_LOG")" \
	"albatross-client${TAB}create${TAB}--force${TAB}hello-prod${TAB}$T/hello.hvt${TAB}--destination=10.0.0.1:1025${TAB}--ca=/etc/albatross/ca.pem${TAB}--ca-key=/etc/albatross/ca.key${TAB}--server-ca=/etc/albatross/cacert.pem${TAB}--net=service" \
	"albatross: revert re-creates ALBATROSS_NAME, remote options before the unikernel's"
like "$err" "^albatross: revert: hello-prod re-created from" "albatross: the action is logged"

: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/nope.env run "$AD/albatross" upgrade
is "$rc" 2 "albatross: no configuration file: exit 2"
like "$err" "^albatross: upgrade hello: no configuration: $T/nope.env is missing" \
	"albatross: the message names the file"
is "$(cat "$PETREL_STANDIN_LOG")" "" "albatross: without configuration the client is not run"

unset PETREL_ALBATROSS_ENV
if [ -e /etc/petrel/albatross/hello.env ]; then
	skip "/etc/petrel/albatross/hello.env exists on this machine"
else
	run "$AD/albatross" upgrade
	like "$err" "/etc/petrel/albatross/hello.env is missing" \
		"albatross: the default file is /etc/petrel/albatross/TARGET.env"
fi
export PETREL_ALBATROSS_ENV=$T/alb.env

: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=create run "$AD/albatross" upgrade
is "$rc" 1 "albatross: a failing albatross-client fails the adapter"
like "$err" "failure: could not create unikernel: bridge service not present" \
	"albatross: the client's error is passed on"
like "$err" "^albatross: upgrade hello: albatross-client create --force hello failed \(exit status 117\)$" \
	"albatross: the adapter says what failed"
unlike "$err" "re-created" "albatross: no success line on failure"

printf 'ALBATROSS_CLIENT=%s/no-such-client\nALBATROSS_ARGS=\n' "$T" >"$T/alb3.env"
PETREL_ALBATROSS_ENV=$T/alb3.env run "$AD/albatross" upgrade
is "$rc" 1 "albatross: a missing client program fails"
like "$err" "cannot run $T/no-such-client" "albatross: ... and says so"

run "$AD/albatross" frobnicate
is "$rc" 2 "albatross: an unknown action is a usage error"

# ------------------------------------------------------------------ systemd

export PETREL_SYSTEMD_SETTLE=0 PETREL_SYSTEMD_ENV=$T/none.env

: >"$PETREL_STANDIN_LOG"
run "$AD/systemd" upgrade
is "$rc" 0 "systemd: upgrade succeeds"
is "$(cat "$PETREL_STANDIN_LOG")" \
	"systemctl${TAB}restart${TAB}petrel-hello.service
systemctl${TAB}is-active${TAB}--quiet${TAB}petrel-hello.service" \
	"systemd: restart, then is-active --quiet, of petrel-TARGET.service"
like "$err" "^systemd: upgrade: petrel-hello.service restarted with $T/hello.hvt \(sha256 ab12cd34ef56…\)$" \
	"systemd: one success line"

: >"$PETREL_STANDIN_LOG"
PETREL_SYSTEMD_UNIT=hello-web.service run "$AD/systemd" revert
is "$rc" 0 "systemd: revert succeeds"
is "$(cut -f2- "$PETREL_STANDIN_LOG" | tr '\t\n' ' |')" \
	"restart hello-web.service|is-active --quiet hello-web.service|" \
	"systemd: PETREL_SYSTEMD_UNIT names the unit"
like "$err" "^systemd: revert: hello-web.service restarted" "systemd: the action is logged"

echo 'PETREL_SYSTEMD_UNIT=from-file.service' >"$T/sd.env"
: >"$PETREL_STANDIN_LOG"
PETREL_SYSTEMD_ENV=$T/sd.env run "$AD/systemd" upgrade
is "$(cut -f3- "$PETREL_STANDIN_LOG" | head -1)" "from-file.service" \
	"systemd: the per-target file sets the unit"

: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=is-active run "$AD/systemd" upgrade
is "$rc" 1 "systemd: fails when the unit is not active after the restart"
like "$err" "^systemd: upgrade hello: petrel-hello.service is not active after the restart$" \
	"systemd: ... and says so"
like "$err" "Active: failed" "systemd: the unit's status is shown"

: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=restart run "$AD/systemd" upgrade
is "$rc" 1 "systemd: fails when the restart fails"
like "$err" "Job for petrel-hello.service failed" "systemd: systemctl's message is passed on"
is "$(cut -f2 "$PETREL_STANDIN_LOG" | tr '\n' ' ')" "restart " "systemd: no is-active after a failed restart"

# ------------------------------------------------------------------ exec

export PETREL_EXEC_PIDFILE=$T/run/hello.pid PETREL_EXEC_LOG=$T/exec.log
export PETREL_EXEC_SETTLE=0.3 PETREL_EXEC_STOP_TIMEOUT=2 PETREL_EXEC_ENV=$T/none.env
export PETREL_PATH=$T/prog

# write_prog VERSION — a small service at $T/prog, replaced atomically like petrel does.
write_prog() {
	cat >"$T/prog.new" <<EOF
#!/bin/sh
echo "v$1 started \$\$ args:\$*"
trap 'kill \$! 2>/dev/null; echo "v$1 stopped \$\$"; exit 0' TERM
sleep 300 &
wait
EOF
	chmod 0755 "$T/prog.new" && mv -f "$T/prog.new" "$T/prog"
}

pid_of() { cat "$T/run/hello.pid" 2>/dev/null; }

write_prog 1
PETREL_EXEC_ARGS='--port 8080 "two words"' run "$AD/exec" upgrade
pid1=$(pid_of)
echo "$pid1" >>"$T/pids"
is "$rc" 0 "exec: first start succeeds"
like "$pid1" '^[0-9]+$' "exec: the pid file holds a pid"
ok "exec: that process runs" running "$pid1"
like "$err" "^exec: upgrade: hello started from $T/prog as pid $pid1 \(sha256 ab12cd34ef56…\)$" \
	"exec: one success line"
like "$(cat "$T/exec.log")" "^v1 started $pid1 args:--port 8080 two words$" \
	"exec: it is the program itself, with its arguments, output to PETREL_EXEC_LOG"
isnt "$(ps -o sid= -p "$pid1" | tr -d ' ')" "$(ps -o sid= -p $$ | tr -d ' ')" \
	"exec: it runs in a session of its own"

write_prog 2
run "$AD/exec" upgrade
pid2=$(pid_of)
echo "$pid2" >>"$T/pids"
is "$rc" 0 "exec: second start succeeds"
ok "exec: the old process was stopped" wait_gone "$pid1"
like "$(cat "$T/exec.log")" "^v1 stopped $pid1$" "exec: ... with SIGTERM"
isnt "$pid2" "$pid1" "exec: a new pid"
ok "exec: the new process runs" running "$pid2"
like "$(cat "$T/exec.log")" "^v2 started $pid2 args:$" "exec: it is the new program"

# A process that ignores SIGTERM gets SIGKILL after PETREL_EXEC_STOP_TIMEOUT.
cat >"$T/prog.new" <<'EOF'
#!/bin/sh
trap '' TERM
while :; do sleep 0.2; done
EOF
chmod 0755 "$T/prog.new" && mv -f "$T/prog.new" "$T/prog"
PETREL_EXEC_STOP_TIMEOUT=1 run "$AD/exec" upgrade
pid3=$(pid_of)
echo "$pid3" >>"$T/pids"
write_prog 4
PETREL_EXEC_STOP_TIMEOUT=1 run "$AD/exec" revert
pid4=$(pid_of)
echo "$pid4" >>"$T/pids"
is "$rc" 0 "exec: a process ignoring SIGTERM is replaced"
like "$err" "pid $pid3 still runs 1 s after SIGTERM, sending SIGKILL" "exec: ... with SIGKILL"
ok "exec: it is gone" wait_gone "$pid3"

# A program that dies at once is a failure, and leaves no pid file.
printf '#!/bin/sh\necho dying\nexit 7\n' >"$T/prog.new"
chmod 0755 "$T/prog.new" && mv -f "$T/prog.new" "$T/prog"
run "$AD/exec" upgrade
is "$rc" 1 "exec: a program that dies at once fails the adapter"
like "$err" "^exec: upgrade hello: $T/prog exited within 0.3 s \(status 7\); its output is in $T/exec.log$" \
	"exec: ... and says so"
ok "exec: the previous process was stopped first" wait_gone "$pid4"
nok "exec: no pid file is left" test -e "$T/run/hello.pid"

# A stale pid file naming somebody else's process: that process is left alone.
sleep 300 &
other=$!
echo "$other" >>"$T/pids"
echo "$other" >"$T/run/hello.pid"
write_prog 5
run "$AD/exec" upgrade
pid5=$(pid_of)
echo "$pid5" >>"$T/pids"
is "$rc" 0 "exec: a stale pid file does not stop the start"
like "$err" "pid $other from $T/run/hello.pid does not run $T/prog: not stopping it" \
	"exec: ... and the unrelated pid is named"
ok "exec: the unrelated process still runs" running "$other"
kill "$other" 2>/dev/null
wait "$other" 2>/dev/null

# Nothing of ours is left running.
kill -TERM "$pid5" 2>/dev/null
ok "exec: the last program stops on SIGTERM" wait_gone "$pid5"
# (the programs lead their own sessions: count every live process in those sessions)
left=$(ps -e -o pid=,sid=,stat= | awk -v ids=" $(sort -u "$T/pids" | tr '\n' ' ') " \
	'index(ids, " " $2 " ") && $3 !~ /^Z/ { printf " %s", $1 }')
is "$left" "" "no process started by this test is left running"
