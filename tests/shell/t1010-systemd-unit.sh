#!/usr/bin/env bash
# contrib/systemd/petrel.service: systemd accepts it, it is hardened, and it runs the
# daemon as Type=notify (the daemon's sd_notify is tested in t1000-daemon.sh).
. "$(dirname "$0")/lib.sh"

UNIT="$(dirname "$0")/../../contrib/systemd/petrel.service"
plan 14

ok "the unit file exists" [ -f "$UNIT" ]
u=$(cat "$UNIT")
for k in "Type=notify" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
	"ReadWritePaths=/var/lib/petrel" "ExecReload=/bin/kill -HUP \$MAINPID" "WatchdogSec=" \
	"RestartPreventExitStatus=2" "KillMode=mixed"; do
	like "$u" "^${k//\$/\\\$}" "the unit sets $k"
done
like "$u" "^ExecStart=.*petrel -c /etc/petrel/petrel.conf daemon$" "it runs petrel daemon"
like "$u" "^ReadWritePaths=/var/lib/petrel -/var/lib/petrel-deploy$" \
	"a deploy directory that does not exist yet does not keep it from starting ('-')"

if command -v systemd-analyze >/dev/null; then
	# verify against the binary under test (the unit names the installed path)
	mkdir -p "$T/unit"
	sed "s|^ExecStart=[^ ]*|ExecStart=$PETREL|" "$UNIT" >"$T/unit/petrel.service"
	run systemd-analyze verify "$T/unit/petrel.service"
	is "$rc" 0 "systemd-analyze verify accepts it"
	unlike "$err$out" "Unknown (key|section)|[Ii]nvalid|[Ff]ailed to parse" "without warnings about keys"
else
	skip "systemd-analyze not installed" 2
fi
