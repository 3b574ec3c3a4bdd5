#!/bin/bash
# A fleet on one machine: FLEET_HOSTS (50) real petrel daemons, each in its own network
# namespace (a veth pair to one bridge), follow one signed channel file and poll one
# builder-web look-alike (the origin, reached through a plain nginx proxy on the bridge)
# and take the artifacts' bytes from their mirror, an nginx cache with proxy_cache_lock
# on. The origin sends each release's bytes once, to the cache; no host asks the origin
# for bytes; every host deploys the verified bytes; the daemons'
# polls, all started in the same second, spread out (no second above 4x the fleet's
# nominal rate: issue 14's goal, here with a short interval); a release ramped out
# slowly reaches some hosts, and a block sends every one of them back within about an
# interval.
# Skipped with a reason where namespaces or bridges cannot be made (not root, no
# CAP_NET_ADMIN, no nginx).
. "$(dirname "$0")/lib.sh"

N=${FLEET_HOSTS:-50}
IVL=${FLEET_INTERVAL:-8}
NGINX=${NGINX:-/usr/sbin/nginx}

[ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
[ -x "$NGINX" ] || skip_all "no nginx at $NGINX"
command -v ip >/dev/null || skip_all "no ip(8)"
TAG=p$$
NS=()
BR=${TAG}br
cleanup_net() {
	local ns
	for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	ip link del "$BR" 2>/dev/null
	return 0
}
at_exit cleanup_net
ip netns add "${TAG}probe" 2>/dev/null && ip netns del "${TAG}probe" ||
	skip_all "cannot make a network namespace (ip netns add failed)"
ip link add "$BR" type bridge 2>/dev/null || skip_all "cannot make a bridge"
plan 16

# a /24 unlikely to be in use: 10.(100..199).(pid mod 250).0
NET=10.$((100 + $$ % 100)).$(($$ / 100 % 250))
ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || BAIL_OUT "bridge address"
for ((i = 1; i <= N; i++)); do
	ns=${TAG}h$i
	ip netns add "$ns" || BAIL_OUT "ip netns add $ns"
	NS+=("$ns")
	ip link add "${TAG}a$i" type veth peer name "${TAG}b$i" &&
		ip link set "${TAG}a$i" netns "$ns" &&
		ip link set "${TAG}b$i" master "$BR" up &&
		ip -n "$ns" addr add "$NET.$((i + 1))/24" dev "${TAG}a$i" &&
		ip -n "$ns" link set "${TAG}a$i" up &&
		ip -n "$ns" link set lo up || BAIL_OUT "veth for $ns"
done

# ---- the origin (look-alike on 127.0.0.1) behind an nginx cache on the bridge
start_server
make_key pub1
make_key chan
TOOL="$REPO_ROOT/contrib/channel/petrel-channel"
CH="$BW_DATA/sigs/channel.json"
pc() { env MINISIGN="$MINISIGN" "$TOOL" -f "$CH" -s "$T/chan.sec" "$@" >/dev/null 2>&1 ||
	BAIL_OUT "petrel-channel $*"; }
NGPORT=$((20000 + $$ % 20000))
mkdir -p "$T/ngx/cache" "$T/ngx/tmp"
cat >"$T/ngx/nginx.conf" <<EOF
daemon off;
user root root;
worker_processes 2;
error_log $T/ngx/error.log;
pid $T/ngx/nginx.pid;
events { worker_connections 1024; }
http {
    log_format t '\$msec \$request_uri \$remote_addr';
    access_log $T/ngx/access.log t;
    client_body_temp_path $T/ngx/tmp; proxy_temp_path $T/ngx/tmp;
    fastcgi_temp_path $T/ngx/tmp; uwsgi_temp_path $T/ngx/tmp; scgi_temp_path $T/ngx/tmp;
    proxy_cache_path $T/ngx/cache levels=1:2 keys_zone=petrel:10m;
    server {
        listen $NET.1:$NGPORT;
        # build artifacts: content-addressed by the build's uuid, so cached for good
        location ~ "^/job/[^/]+/build/[^/]+/f/" {
            proxy_pass http://127.0.0.1:$BW_PORT;
            proxy_cache petrel;
            proxy_cache_key \$uri;
            proxy_cache_valid 200 1d;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 60s;
            proxy_ignore_client_abort on;
        }
    }
    # the origin as the hosts see it: builder-web on the bridge, nothing cached
    server {
        listen $NET.1:$((NGPORT + 1));
        location / { proxy_pass http://127.0.0.1:$BW_PORT; }
    }
}
EOF
"$NGINX" -c "$T/ngx/nginx.conf" 2>>"$T/ngx/error.log" &
NGPID=$!
at_exit "kill $NGPID 2>/dev/null"
wait_for -t 20 curl -s -o /dev/null "http://$NET.1:$((NGPORT + 1))/job/x" ||
	BAIL_OUT "nginx did not start: $(cat "$T/ngx/error.log")"

publish() {	# publish SEED SIZE — a new signed build of hello; echoes its uuid
	local u
	make_file "$T/$1.bin" "$2" "$1"
	u=$(add_build hello "$T/$1.bin")
	sign_build hello "$u" pub1 && echo "$u"
}
u1=$(publish rel1 1048576)
sha1=$(sha256sum "$T/rel1.bin" | cut -d' ' -f1)
pc init
pc release hello "$u1" "$sha1"

# ---- the hosts: their own state, configuration and deployed file; the bytes from the
# cache (a mirror), everything else from the origin
URL="http://$NET.1:$((NGPORT + 1))"
MIRROR="http://$NET.1:$NGPORT"
for ((i = 1; i <= N; i++)); do
	h=$T/h$i
	mkdir -p "$h/deploy"
	cat >"$h/petrel.conf" <<EOF
[petrel]
state_dir = $h/state
interval = $IVL
host_id = fleet-host-$i

[server "bw"]
url = $URL
mirrors = $MIRROR

[target "hello"]
server = bw
job = hello
path = $h/deploy/hello.hvt
orchestrator = none
keys = $T/pub1.pub
signatures = $URL/sigs/{job}/{uuid}/{filename}.minisig
auto = upgrade
channel = $URL/sigs/channel.json
channel_keys = $T/chan.pub
EOF
done
# every daemon waits for $T/go, then all start in the same 50 ms: "started in the
# same second", as after a fleet-wide reboot or configuration push
for ((i = 1; i <= N; i++)); do
	ip netns exec "${NS[i - 1]}" sh -c 'while [ ! -e "$1/go" ]; do sleep 0.05; done
		shift; exec "$@"' sh "$T" "$PETREL" -c "$T/h$i/petrel.conf" daemon \
		2>"$T/h$i/daemon.log" &
	at_exit "kill $! 2>/dev/null"
done
nap 1
t0=$(date +%s.%N)
touch "$T/go"

deployed() {	# deployed SHA — how many hosts run those bytes
	local i n=0
	for ((i = 1; i <= N; i++)); do
		[ "$({ sha256sum <"$T/h$i/deploy/hello.hvt"; } 2>/dev/null | cut -d' ' -f1)" = "$1" ] &&
			n=$((n + 1))
	done
	echo "$n"
}
all_deployed() { [ "$(deployed "$1")" = "$N" ]; }
origin_gets() { request_count "GET	/job/hello/build/$1/f/"; }

ok "all $N hosts deploy release 1 within 3 intervals" wait_for -t $((3 * IVL + 60)) all_deployed "$sha1" ||
	diag "$(deployed "$sha1") of $N; a host's log: $(tail -3 "$T/h1/daemon.log")"
is "$(origin_gets "$u1")" 1 "the origin sent release 1's bytes once (proxy_cache_lock)"
is "$(request_count "main-binary")" 0 "no host asked the origin for the bytes (all from the mirror)"
# stored UUID — every host's store holds a verified version of UUID (the daemons are
# running: sqlite3 waits up to 10 s for a writer instead of failing "database is locked")
stored() {
	local i
	for ((i = 1; i <= N; i++)); do
		[ "$(sqlite3 -cmd ".timeout 10000" "$T/h$i/state/petrel.db" \
			"SELECT count(*) FROM versions WHERE uuid = '$1'")" = 1 ] || return 1
	done
}
ok "every host's store verified those bytes" stored "$u1"

# ---- a second release reaches every host, again with one copy from the origin
u2=$(publish rel2 1048576)
sha2=$(sha256sum "$T/rel2.bin" | cut -d' ' -f1)
pc release hello "$u2" "$sha2"
ok "all $N hosts deploy release 2 within 2 intervals" wait_for -t $((2 * IVL + 60)) all_deployed "$sha2" ||
	diag "$(deployed "$sha2") of $N"
is "$(origin_gets "$u2")" 1 "the origin sent release 2's bytes once"
t1=$(date +%s.%N)

# ---- the poll rate: the daemons started within a second or two; their polls of the
# channel (nginx's log, by the second) must never pass 4x the fleet's nominal rate,
# N / interval (all first polls at once would be N in one second: 8x with N = 50, IVL = 8)
read -r worst mean seconds span < <("${PY[@]}" - "$T/ngx/access.log" "$t0" "$t1" <<'EOF'
import collections, sys
log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
per, first = collections.Counter(), {}
for line in open(log):
    ts, uri, addr = line.split()[:3]
    if uri.endswith("/sigs/channel.json") and t0 <= float(ts) <= t1:
        per[int(float(ts))] += 1
        first.setdefault(addr, float(ts))
secs = max(1, int(t1) - int(t0) + 1)
span = max(first.values()) - min(first.values()) if first else 0
print(max(per.values() or [0]), "%.2f" % (sum(per.values()) / secs), secs, "%.1f" % span)
EOF
)
nominal=$("${PY[@]}" -c "print('%.2f' % ($N / $IVL))")
note "polls of the channel: worst second $worst, mean $mean/s over $seconds s, nominal $nominal/s; first polls spread over $span s"
ok "the first polls spread over at least 3/4 of an interval ($span s of $IVL s)" \
	"${PY[@]}" -c "import sys; sys.exit(0 if $span >= 0.75 * $IVL else 1)"
ok "no second above 4x the nominal poll rate (worst $worst, nominal $nominal/s)" \
	"${PY[@]}" -c "import sys; sys.exit(0 if $worst <= 4 * $N / $IVL else 1)"
ok "at least one poll per host per interval on average" \
	"${PY[@]}" -c "import sys; sys.exit(0 if $mean * $IVL >= $N * 0.5 else 1)"

# ---- a release ramped out over 12 intervals reaches some hosts; a block stops it and
# every host that took it goes back (to release 2, its previous generation)
u3=$(publish rel3 1048576)
sha3=$(sha256sum "$T/rel3.bin" | cut -d' ' -f1)
pc release hello "$u3" "$sha3" --duration $((12 * IVL))
some_deployed() { [ "$(deployed "$1")" -ge 3 ]; }
ok "the slow ramp reaches a few hosts" wait_for -t $((12 * IVL + 60)) some_deployed "$sha3"
took=$(deployed "$sha3")
note "$took of $N hosts took release 3 before the block"
ok "... not every host (the ramp holds the rest back)" [ "$took" -lt "$N" ]
pc block hello "$sha3"
tb=$(date +%s)
none_run() { [ "$(deployed "$1")" = 0 ]; }
ok "after the block, no host runs release 3 within 2 intervals" \
	wait_for -t $((2 * IVL + 30)) none_run "$sha3" || diag "$(deployed "$sha3") still run it"
note "the block reached every host in $(($(date +%s) - tb)) s (interval $IVL s)"
is "$(deployed "$sha2")" "$N" "every host runs release 2 again"
ok "the hosts that took release 3 logged leaving it" \
	eval '[ "$(grep -l "is blocked by the channel: reverted" "$T"/h*/daemon.log | wc -l)" -ge "$took" ]'

# ---- no host logged a verification failure or left anything in tmp/
ok "no host refused or failed anything" eval '! grep -q -E "refus|error|failed" "$T"/h*/daemon.log' ||
	diag "$(grep -E "refus|error|failed" "$T"/h*/daemon.log | head -5)"
ok "no host has a temporary file left" eval '[ -z "$(find "$T"/h*/state/tmp -type f)" ]'
