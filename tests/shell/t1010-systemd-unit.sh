#!/usr/bin/env bash
# contrib/systemd/: the daemon's unit and the gc and audit services with their timers.
# systemd accepts them, they are hardened, and petrel.service runs the daemon as
# Type=notify (the daemon's sd_notify is tested in t1000-daemon.sh); `make install`
# makes the units from these templates (t1600-install.sh).
. "$(dirname "$0")/lib.sh"

DIR="$REPO_ROOT/contrib/systemd"
UNIT="$DIR/petrel.service.in"
plan 26

ok "the unit template exists" [ -f "$UNIT" ]
u=$(cat "$UNIT")
for k in "Type=notify" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
	"ReadWritePaths=/var/lib/petrel" "ExecReload=/bin/kill -HUP \$MAINPID" "WatchdogSec=" \
	"RestartPreventExitStatus=2" "KillMode=mixed" "RuntimeDirectory=petrel" \
	"Environment=PETREL_EXEC_RUNDIR=/run/petrel" "StateDirectory=petrel petrel/metrics"; do
	like "$u" "^${k//\$/\\\$}" "the unit sets $k"
done
like "$u" "^ExecStart=@BINDIR@/petrel -c /etc/petrel/petrel.conf daemon --metrics /var/lib/petrel/metrics/petrel.prom$" \
	"it runs petrel daemon from where make install puts it, metrics in its StateDirectory"
like "$u" "^ReadWritePaths=/var/lib/petrel -/var/lib/petrel-deploy$" \
	"a deploy directory that does not exist yet does not keep it from starting ('-')"
like "$(cat "$DIR/petrel-gc.service.in")" "^ExecStart=@BINDIR@/petrel -c /etc/petrel/petrel.conf gc$" \
	"petrel-gc.service runs petrel gc"
like "$(cat "$DIR/petrel-audit.service.in")" \
	"^ExecStart=@BINDIR@/petrel -c /etc/petrel/petrel.conf audit --metrics /var/lib/petrel/metrics/petrel.prom$" \
	"petrel-audit.service runs petrel audit, writing the daemon's metrics file"
for s in gc audit; do
	# the oneshot services may find a switch a crash interrupted, and roll it back
	is "$(grep -E '^(ReadWritePaths|ProtectSystem|RuntimeDirectory|Environment)=' "$DIR/petrel-$s.service.in")" \
		"$(grep -E '^(ReadWritePaths|ProtectSystem|RuntimeDirectory|Environment)=' "$UNIT")" \
		"petrel-$s.service may write where petrel.service may"
	like "$(cat "$DIR/petrel-$s.timer")" "^WantedBy=timers.target$" "petrel-$s.timer can be enabled"
done

if command -v systemd-analyze >/dev/null && command -v man >/dev/null; then
	# verify against the binary under test (the units name the installed path), with
	# the man pages their Documentation= names where man finds them
	mkdir -p "$T/unit" "$T/man/man5" "$T/man/man8"
	cp "$REPO_ROOT/contrib/petrel.8" "$T/man/man8/"
	cp "$REPO_ROOT/contrib/petrel.conf.5" "$T/man/man5/"
	for f in "$DIR"/*.in; do
		sed "s|^ExecStart=[^ ]*|ExecStart=$PETREL|" "$f" >"$T/unit/$(basename "$f" .in)"
	done
	cp "$DIR"/*.timer "$T/unit/"
	for f in petrel.service petrel-gc.service petrel-audit.service petrel-gc.timer petrel-audit.timer; do
		run env MANPATH="$T/man" systemd-analyze verify "$T/unit/$f"
		is "$rc $err$out" "0 " "systemd-analyze verify accepts $f without a word"
	done
else
	skip "systemd-analyze or man not installed" 5
fi
