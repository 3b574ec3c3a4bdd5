#!/bin/bash
# t0600 — the orchestrator adapters in contrib/orchestrators, run directly as petrel runs
# them, against the stand-ins in tests/fixtures/bin (albatross-client, systemctl) and,
# for exec, against real processes.
# shellcheck disable=SC2154 # rc, out, err come from lib.sh's run
. "$(dirname "$0")/lib.sh"

plan 101

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

export PETREL_ALBATROSS_STATE=$T/albatross


# image TEXT — a new "image" at PETREL_PATH, and PETREL_NEW_SHA256 its hash
image() {
	printf '%s\n' "$1" >"$T/hello.hvt"
	PETREL_NEW_SHA256=$(sha256_of "$T/hello.hvt")
}
# creates — the create lines the stand-in logged
creates() { grep "^albatross-client${TAB}create${TAB}" "$PETREL_STANDIN_LOG"; }
# config NAME — what `info` says of NAME, without the lines that change on every create
config() {
	albatross-client info --verbosity=debug --name="$1" | tr '\n' ' ' |
		sed -e 's/ started [^ ]* / /' -e 's/ digest [0-9a-f]* / /'
}
# mac_of DEVICE NAME — the MAC albatrossd gives a bridge without @mac
mac_of() { printf '00:80:41:%s' "$(printf '%s:%s' "$1" "$2" | md5sum | sed 's/^\(..\)\(..\)\(..\).*/\1:\2:\3/')"; }

cat >"$T/alb.env" <<'EOF'
# written by the operator
ALBATROSS_ARGS='--net=service:br0 --mem=64 --arg=--ipv4=10.0.0.2/24 --arg="--hello=Hi there *"'
EOF
export PETREL_ALBATROSS_ENV=$T/alb.env

image v1
: >"$PETREL_STANDIN_LOG"
run "$AD/albatross" upgrade
is "$rc" 0 "albatross: a first deploy succeeds"
is "$(cat "$PETREL_STANDIN_LOG")" \
	"albatross-client${TAB}info${TAB}--color=never${TAB}--verbosity=debug${TAB}--name=hello
albatross-client${TAB}create${TAB}--force${TAB}hello${TAB}$T/hello.hvt${TAB}--net=service:br0${TAB}--mem=64${TAB}--arg=--ipv4=10.0.0.2/24${TAB}--arg=--hello=Hi there *
albatross-client${TAB}info${TAB}--color=never${TAB}--verbosity=debug${TAB}--name=hello" \
	"albatross: nothing runs: info, create --force NAME PATH ALBATROSS_ARGS (shell words kept whole, no globbing), info"
like "$err" "^albatross: upgrade: hello re-created from $T/hello.hvt with ALBATROSS_ARGS \(first deploy\), digest ${PETREL_NEW_SHA256:0:12}… confirmed$" \
	"albatross: one success line naming the unikernel, path, configuration and digest"
like "$err" "^host \[unikernel: :hello\]: success: created unikernel$" "albatross: the client's own answer is passed on"
is "$out" "" "albatross: nothing on stdout"

image v2
: >"$PETREL_STANDIN_LOG"
run "$AD/albatross" upgrade
is "$rc" 0 "albatross: an upgrade of the running unikernel succeeds"
is "$(creates)" \
	"albatross-client${TAB}create${TAB}--force${TAB}hello${TAB}$T/hello.hvt${TAB}--mem=64${TAB}--cpu=0${TAB}--net=service:br0@$(mac_of service hello)${TAB}--arg=--ipv4=10.0.0.2/24${TAB}--arg=--hello=Hi there *" \
	"albatross: the running configuration, its MAC included; boot arguments as ALBATROSS_ARGS words when info shows those"
like "$err" "hello re-created from $T/hello.hvt with the running configuration, digest ${PETREL_NEW_SHA256:0:12}… confirmed$" \
	"albatross: the success line says where the configuration came from"

# A unikernel with everything the command line can say, created by hand; the operator's
# file says something else, which an upgrade must not use.
albatross-client create-block data 10 >/dev/null
albatross-client create-block logs 5 >/dev/null
image v3
albatross-client create --force rich "$T/hello.hvt" --mem=96 --cpu=2 --cpu=0 --cpus=2 \
	--net=service:br0 --net=mgmt:br1@AA:BB:CC:DD:EE:0F --block=storage:data@4096 --block=log:logs \
	--arg=--ipv4=10.0.0.2/24 --arg=--color=red --restart-on-fail --exit-code=5 --exit-code=3 \
	--startup=10 --linux-boot=p1 >/dev/null
printf 'ALBATROSS_NAME=rich\nALBATROSS_ARGS=--mem=16\n' >"$T/rich.env"
before=$(config rich)
image v4
: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/rich.env run "$AD/albatross" upgrade
is "$rc" 0 "albatross: upgrade of a unikernel with every option succeeds"
is "$(creates)" \
	"albatross-client${TAB}create${TAB}--force${TAB}rich${TAB}$T/hello.hvt${TAB}--mem=96${TAB}--cpu=0${TAB}--cpu=2${TAB}--cpus=2${TAB}--net=service:br0@$(mac_of service rich)${TAB}--net=mgmt:br1@aa:bb:cc:dd:ee:0f${TAB}--block=storage:data@4096${TAB}--block=log:logs@512${TAB}--arg=--ipv4=10.0.0.2/24${TAB}--arg=--color=red${TAB}--restart-on-fail${TAB}--exit-code=3${TAB}--exit-code=5${TAB}--startup=10${TAB}--linux-boot=p1" \
	"albatross: memory, cpus, bridges and MACs, block devices and sector sizes, args, restart policy, startup are kept"
is "$(config rich)" "$before" "albatross: albatross reports the same configuration afterwards"
like "$before" "typ solo5" "albatross: (of type solo5)"

# revert, over TLS, with another albatross name
for f in ca.pem ca.key cacert.pem; do : >"$T/$f"; done
cat >"$T/alb2.env" <<EOF
ALBATROSS_NAME=hello-prod
ALBATROSS_REMOTE='--destination=10.0.0.1:1025 --ca=$T/ca.pem --ca-key=$T/ca.key --server-ca=$T/cacert.pem'
ALBATROSS_ARGS=--net=service
ALBATROSS_CREATE_OPTS='--compression-level=9'
EOF
: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/alb2.env run "$AD/albatross" upgrade
PETREL_ALBATROSS_ENV=$T/alb2.env run "$AD/albatross" revert
is "$rc" 0 "albatross: revert succeeds"
remote="--destination=10.0.0.1:1025${TAB}--ca=$T/ca.pem${TAB}--ca-key=$T/ca.key${TAB}--server-ca=$T/cacert.pem"
is "$(tail -n 3 "$PETREL_STANDIN_LOG")" \
	"albatross-client${TAB}info${TAB}--color=never${TAB}--verbosity=debug${TAB}--name=hello-prod${TAB}$remote
albatross-client${TAB}create${TAB}--force${TAB}hello-prod${TAB}$T/hello.hvt${TAB}$remote${TAB}--mem=32${TAB}--cpu=0${TAB}--net=service:service@$(mac_of service hello-prod)${TAB}--compression-level=9
albatross-client${TAB}info${TAB}--color=never${TAB}--verbosity=debug${TAB}--name=hello-prod${TAB}$remote" \
	"albatross: revert re-creates ALBATROSS_NAME, remote options for info and create, ALBATROSS_CREATE_OPTS last"
like "$err" "^albatross: revert: hello-prod re-created from" "albatross: the action is logged"

# The digest albatrossd reports must be the new image's.
image v5
: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=digest run "$AD/albatross" upgrade
is "$rc" 1 "albatross: another digest after create fails the adapter"
like "$err" "^albatross: upgrade hello: albatrossd runs hello with digest [0-9a-f]{64}, expected $PETREL_NEW_SHA256$" \
	"albatross: ... naming the unikernel, the expected and the reported digest"
unlike "$err" "re-created" "albatross: no success line then"
is "$(creates | wc -l)" 1 "albatross: (one create, nothing else)"

# Boot arguments that info shows joined by spaces and ALBATROSS_ARGS does not explain
printf 'ALBATROSS_ARGS=--mem=64\n' >"$T/alb4.env"
: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/alb4.env run "$AD/albatross" upgrade
is "$rc" 2 "albatross: boot arguments that cannot be told apart: exit 2"
like "$err" "^albatross: upgrade hello: the boot arguments of hello cannot be told apart in 'albatross-client info' .*: list them as --arg words in ALBATROSS_ARGS$" \
	"albatross: ... and says what to do"
is "$(creates)" "" "albatross: ... before any create"

# invalid albatross names: refused before the client runs
for bad in hello_1 -x "$(printf '%064d' 0)"; do
	printf 'ALBATROSS_NAME=%s\n' "$bad" >"$T/bad.env"
	: >"$PETREL_STANDIN_LOG"
	PETREL_ALBATROSS_ENV=$T/bad.env run "$AD/albatross" upgrade
	is "$rc" 2 "albatross: name '${bad:0:10}…' is refused with exit 2"
	is "$err" "albatross: upgrade hello: '$bad' is not a valid albatross name: 1 to 63 letters, digits, '-' and '.', not starting with '-'" \
		"albatross: ... saying why"
	is "$(cat "$PETREL_STANDIN_LOG")" "" "albatross: ... and the client never ran"
done
: >"$PETREL_STANDIN_LOG"
PETREL_TARGET='' run "$AD/albatross" upgrade
is "$rc:$err" "2:albatross: upgrade: PETREL_TARGET is not set" "albatross: an empty name is refused"
is "$(cat "$PETREL_STANDIN_LOG")" "" "albatross: ... and the client never ran"
printf 'ALBATROSS_NAME=%s\nALBATROSS_ARGS=--mem=64\n' "$(printf '%063d' 0)" >"$T/long.env"
PETREL_ALBATROSS_ENV=$T/long.env run "$AD/albatross" upgrade
is "$rc" 0 "albatross: a name of 63 characters is fine"

: >"$PETREL_STANDIN_LOG"
PETREL_ALBATROSS_ENV=$T/nope.env run "$AD/albatross" upgrade
is "$rc" 2 "albatross: a configuration file named but missing: exit 2"
like "$err" "^albatross: upgrade hello: $T/nope.env is missing or unreadable" \
	"albatross: the message names the file"
is "$(cat "$PETREL_STANDIN_LOG")" "" "albatross: ... and the client is not run"

unset PETREL_ALBATROSS_ENV
if [ -e /etc/petrel/albatross/fresh.env ]; then
	skip "/etc/petrel/albatross/fresh.env exists on this machine" 3
else
	: >"$PETREL_STANDIN_LOG"
	PETREL_TARGET=fresh run "$AD/albatross" upgrade
	is "$rc" 2 "albatross: nothing runs and no ALBATROSS_ARGS: exit 2"
	is "$err" "albatross: upgrade fresh: fresh does not run and ALBATROSS_ARGS is not set in /etc/petrel/albatross/fresh.env (absent): no configuration for a first deploy" \
		"albatross: ... naming the default file /etc/petrel/albatross/TARGET.env"
	is "$(creates)" "" "albatross: ... and nothing is created"
fi
export PETREL_ALBATROSS_ENV=$T/alb.env

: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=create run "$AD/albatross" upgrade
is "$rc" 1 "albatross: a failing albatross-client create fails the adapter"
like "$err" "^albatross-client: \[WARNING\] host \[unikernel: :hello\]: command failed could not create unikernel: console failed$" \
	"albatross: the client's error is passed on"
like "$err" "^albatross: upgrade hello: albatross-client create --force hello failed \(exit status 117\)$" \
	"albatross: the adapter says what failed"
unlike "$err" "re-created" "albatross: no success line on failure"

: >"$PETREL_STANDIN_LOG"
PETREL_STANDIN_FAIL=connect run "$AD/albatross" upgrade
is "$rc" 1 "albatross: albatrossd out of reach fails the adapter"
like "$err" "^albatross: upgrade hello: albatross-client info --name=hello failed \(exit status 122\)$" \
	"albatross: ... saying so"
like "$err" "couldn't connect to" "albatross: ... with the client's message"
is "$(creates)" "" "albatross: ... and nothing is created"

printf 'ALBATROSS_CLIENT=%s/no-such-client\nALBATROSS_ARGS=\n' "$T" >"$T/alb3.env"
PETREL_ALBATROSS_ENV=$T/alb3.env run "$AD/albatross" upgrade
is "$rc" 1 "albatross: a missing client program fails"
like "$err" "cannot run $T/no-such-client" "albatross: ... and says so"

run "$AD/albatross" frobnicate
is "$rc" 2 "albatross: an unknown action is a usage error"

# devices: what petrel checks a Solo5 build's manifest against
: >"$PETREL_STANDIN_LOG"
PETREL_PATH=$T/not-yet PETREL_ALBATROSS_ENV=$T/rich.env run "$AD/albatross" devices
is "$rc:$out" "0:net service
net mgmt
block storage
block log" "albatross: devices of the running unikernel (info), PETREL_PATH need not exist"
is "$(creates)" "" "albatross: devices creates nothing"
cat >"$T/fresh.env" <<'EOF'
ALBATROSS_ARGS='--mem=64 --block=storage:data@4096 --net=service:br0@aa:bb:cc:dd:ee:ff --net mgmt --block db'
EOF
PETREL_TARGET=fresh PETREL_ALBATROSS_ENV=$T/fresh.env run "$AD/albatross" devices
is "$rc:$out" "0:net service
net mgmt
block storage
block db" "albatross: devices from ALBATROSS_ARGS when nothing runs (--opt=V and --opt V)"
PETREL_STANDIN_FAIL=connect run "$AD/albatross" devices
is "$rc:$out" "1:" "albatross: devices when the client fails: exit 1, nothing on stdout"
like "$err" "^albatross: devices hello: albatross-client info --name=hello failed \(exit status 122\)$" \
	"albatross: ... and a message"
printf 'ALBATROSS_NAME=fresh\n' >"$T/empty.env"
PETREL_ALBATROSS_ENV=$T/empty.env run "$AD/albatross" devices
is "$rc:$out" "2:" "albatross: devices without a running unikernel nor ALBATROSS_ARGS: exit 2"
like "$err" "^albatross: devices hello: fresh does not run and ALBATROSS_ARGS is not set" \
	"albatross: ... and says so"
for ad in exec systemd; do
	run "$AD/$ad" devices
	is "$rc:$out:$err" "2::$ad: devices: not supported by this adapter" "$ad: devices is not supported (exit 2)"
done

# petrel refuses a target whose name albatross would refuse, when the adapter is albatross
conf() {
	printf '[petrel]\nstate_dir = %s\n[server "bw"]\nurl = http://127.0.0.1:9\n' "$T/state"
	printf '[target "%s"]\nserver = bw\njob = hello\npath = %s\ntrust = server\norchestrator = %s\n' \
		"$1" "$T/deploy/$1" "$2"
}
conf hello_1 "$AD/albatross" >"$T/alb.conf"
run timeout 10 "$PETREL" -c "$T/alb.conf" status
is "$rc" 2 "config: a target named hello_1 with the albatross adapter is a configuration error"
like "$err" "alb.conf:[0-9]+: target hello_1: the albatross adapter needs a valid albatross name: 1 to 63 letters, digits, '-' and '.', not starting with '-'" \
	"config: ... naming the target and the rule"
conf hello-1.a "$AD/albatross" >"$T/alb.conf"
run timeout 10 "$PETREL" -c "$T/alb.conf" status
is "$rc" 0 "config: hello-1.a is a valid albatross name"
conf hello_1 "$AD/exec" >"$T/alb.conf"
run timeout 10 "$PETREL" -c "$T/alb.conf" status
is "$rc" 0 "config: hello_1 is fine for another adapter"
export PETREL_NEW_SHA256=ab12cd34ef5678901234567890abcdef1234567890abcdef1234567890abcd

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

# the pid file: PETREL_EXEC_RUNDIR/TARGET.pid (the systemd unit sets the directory)
export PETREL_EXEC_RUNDIR=$T/run PETREL_EXEC_LOG=$T/exec.log
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
