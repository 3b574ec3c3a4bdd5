#!/usr/bin/env bash
# Bytes from outside that are not UTF-8 (here in a trusted comment) never make a --json
# field disappear: they are shown as '?'.
. "$(dirname "$0")/lib.sh"
plan 3

start_server
make_key pub1
write_config
make_file "$T/a" 5000 1
u=$(add_build hello "$T/a")
sign_build hello "$u" pub1 "$(printf 'timestamp:1\tfile:a\tjob:hello\tuuid:%s\tsha256:%s\tnote:\xff\xfe' \
	"$u" "$(build_field hello "$u" sha256)")"
run petrel fetch
is "$rc" 0 "a signature whose trusted comment has non-UTF-8 bytes in an unknown field verifies"
run petrel --json status
is "$rc" 0 "status --json succeeds"
is "$(printf '%s' "$out" | "${PY[@]}" -c 'import json,sys; print(json.load(sys.stdin)["targets"][0]["staged"]["trusted_comment"].endswith("note:??"))')" \
	"True" "the trusted comment is there, its invalid bytes shown as '?'"
