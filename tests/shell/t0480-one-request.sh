#!/usr/bin/env bash
# An up-to-date poll is one request (issue 12, item 3): when builder-web's `latest` names
# a uuid the store verified for the target, check and the daemon ask nothing else; the
# listing and the record are fetched only for a uuid the target has not verified.
. "$(dirname "$0")/lib.sh"

plan 14

start_server
make_key pub1
write_config --global "interval = 1"
make_file "$T/a.hvt" 100000 a
make_file "$T/b.hvt" 100000 b
U1=$(add_build hello "$T/a.hvt" --filename hello.hvt --finish-time 1700000000)
sign_build hello "$U1" pub1

# requests — every request the look-alike answered since clear_requests, one a line
requests() { cat "$BW_DATA/requests.log" 2>/dev/null; }

clear_requests
run petrel check
is "$rc" 100 "a build the store has not verified: update available"
is "$(request_count $'\t/job/hello\t')" 1 "... it was looked up in the job's listing"
is "$(request_count $'\t/job/hello/build/'"$U1"$'\t')" 1 "... and its record read"

run petrel upgrade hello
is "$rc" 0 "deployed"
clear_requests
run petrel check
is "$rc" 0 "up to date"
like "$out" "up to date \\($U1" "... naming the build"
is "$(requests | grep -c .)" 1 "an up-to-date check is one request"
like "$(requests)" "/job/hello/build/latest" "... to build/latest"

clear_requests
run petrel daemon --once
is "$rc" 0 "the daemon's up-to-date cycle: exit 0"
is "$(requests | grep -c .)" 1 "... one request"

# fetched, not deployed: still known, still one request
U2=$(add_build hello "$T/b.hvt" --filename hello.hvt --finish-time 1700001000)
sign_build hello "$U2" pub1
write_config --global "interval = 1" "auto = fetch"
run petrel daemon --once
is "$rc" 0 "a new build is staged (auto = fetch)"
clear_requests
run petrel check
is "$rc" 100 "the staged build is an update"
like "$out" "already fetched" "... already fetched"
is "$(requests | grep -c .)" 1 "... and asking about it again is one request"
