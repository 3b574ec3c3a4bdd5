#!/usr/bin/env bash
# petrel audit --metrics: Prometheus text exposition, from the store, replaced atomically.
. "$(dirname "$0")/lib.sh"
plan 28

M="$T/metrics/petrel.prom"
mkdir -p "$T/metrics"
# A small parser of the text format (0.0.4): HELP and TYPE before a family's samples,
# a family's samples together, names and labels well formed, label values escaped,
# values numbers. Prints "name{label=value,...} value" per sample, sorted; exits 1
# with the offending line otherwise.
cat >"$T/parse.py" <<'PY'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
text = open(sys.argv[1], encoding="utf-8").read()
if text and not text.endswith("\n"):
    sys.exit("no final newline")
help_, type_, done, cur, out = {}, {}, set(), None, []
for line in text.splitlines():
    m = re.fullmatch(r'# (HELP|TYPE) (' + NAME + r') (.*)', line)
    if m:
        kind, name, rest = m.groups()
        if name in done or (kind == "TYPE" and rest not in ("counter", "gauge", "untyped")):
            sys.exit("bad or repeated " + line)
        (help_ if kind == "HELP" else type_)[name] = rest
        if cur and cur != name: done.add(cur)
        cur = name
        continue
    m = re.fullmatch(r'(' + NAME + r')(?:\{((?:' + LABEL + r',?)*)\})? (\S+)', line)
    if not m:
        sys.exit("unparsable: " + line)
    name, labels, value = m.group(1), m.group(2) or "", m.groups()[-1]
    float(value)
    if name != cur or name not in type_ or name not in help_:
        sys.exit("sample outside its family: " + line)
    ls = [(k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
          for k, v in re.findall(LABEL, labels)]
    out.append("%s{%s} %s" % (name, ",".join("%s=%s" % kv for kv in ls), value))
print("\n".join(sorted(out)))
PY
parse() { "${PY[@]}" "$T/parse.py" "$M"; }
parses() { parse >/dev/null; }
metric() { parse | grep -E "^$1" | sed 's/.* //'; }

start_server
make_key pub1
write_config '[target "other"]' 'server = bw' 'job = other' "path = $T/deploy/other" \
	'orchestrator = none' "keys = $T/pub1.pub" "signatures = $BW_URL/sigs/{job}/{uuid}/{filename}.minisig"
make_file "$T/a" 20000 a
ua=$(add_build hello "$T/a"); sign_build hello "$ua" pub1
SA=$(sha256_of "$T/a")
t0=$(date +%s)
run petrel upgrade hello
is "$rc" 0 "setup: hello deployed"

run petrel audit --metrics "$M"
is "$rc" 0 "audit --metrics: exit 0"
ok "the file parses as Prometheus text" parses
is "$(parse | grep '^petrel_deployed_info')" \
	"petrel_deployed_info{target=hello,job=hello,uuid=$ua,sha256=$SA} 1" \
	"deployed_info names job, uuid, sha256 (nothing for 'other', which has nothing deployed)"
is "$(metric 'petrel_update_available\{target=hello\}')" 0 "update_available 0 after the upgrade"
ok "last check and last success are the upgrade's time" \
	test "$(metric 'petrel_last_check_timestamp_seconds\{target=hello\}')" -ge "$t0" -a \
	"$(metric 'petrel_last_success_timestamp_seconds\{target=hello\}')" -ge "$t0"
is "$(metric 'petrel_verification_failures_total\{target=(hello|other)\}' | tr '\n' ' ')" "0 0 " \
	"verification failures: 0 for each target"
is "$(metric 'petrel_audit_findings\{target=(hello|other)\}' | tr '\n' ' ')" "0 0 " \
	"audit findings: 0 for each target"
is "$(grep -c '^# TYPE' "$M")" 6 "six families, each with its TYPE"

# a newer build that the server corrupts: a refusal counts, an update is available
make_file "$T/b" 20000 b
ub=$(add_build hello "$T/b"); sign_build hello "$ub" pub1
run petrel check hello
is "$rc" 100 "check: update available"
set_mode flip
run petrel fetch hello
clear_mode
is "$rc" 3 "fetch of a corrupted build: refused"
printf 'x' >>"$T/deploy/hello.hvt"
ino0=$(stat -c %i "$M")
run petrel audit --metrics "$M"
is "$rc" 6 "audit with a changed file: exit 6, and the metrics are written anyway"
ok "... they parse" parses
is "$(metric 'petrel_update_available\{target=hello\}')" 1 "update_available 1 after check found b"
is "$(metric 'petrel_verification_failures_total\{target=hello\}')" 1 "the refusal is counted"
is "$(metric 'petrel_audit_findings\{target=hello\}')" 1 "the audit finding is counted"
isnt "$(stat -c %i "$M")" "$ino0" "the file was replaced (a new inode), not rewritten in place"
is "$(ls -A "$T/metrics")" "petrel.prom" "no temporary file is left beside it"

# a metrics file that cannot be written does not hide the findings
jq_() { "${PY[@]}" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
BAD="$T/nonexistent/x.prom"
run petrel audit --metrics "$BAD"
is "$rc" 6 "metrics not writable, a finding: exit 6 all the same"
like "$out" "^hello: MISMATCH" "... the text report is printed"
like "$err" "^petrel: hello: $T/deploy/hello.hvt: 20001 bytes" "... the finding is on stderr"
is "$(printf '%s\n' "$err" | grep -c metrics)" 1 "... and the metrics failure is one line"
like "$err" "^petrel: .*$BAD" "... naming the file"
run petrel --json audit --metrics "$BAD"
is "$rc/$(printf '%s' "$out" | jq_ 'j["ok"], j["targets"][0]["name"], len(j["targets"][0]["findings"])')" \
	"6/False hello 1" "--json: exit 6, the findings printed"
run petrel audit other --metrics "$BAD"
is "$rc" 1 "no finding, metrics not writable: exit 1"
like "$out" "^other: nothing deployed" "... the report is printed"
like "$err" "^petrel: .*$BAD" "... and the failure named"

# a reader never sees a partial file while it is rewritten
"${PY[@]}" - "$M" >"$T/reader.out" 2>&1 <<'PY' &
import sys, time
bad, n, end = 0, 0, time.time() + 60
while time.time() < end:
    try:
        t = open(sys.argv[1]).read()
    except FileNotFoundError:
        bad += 1; continue
    n += 1
    if not t.endswith("petrel_audit_findings{target=\"other\"} 0\n"):
        bad += 1
    if open(sys.argv[1] + ".stop", "a+").tell():
        break
print(n, bad)
PY
reader=$!
for i in 1 2 3 4 5 6 7 8; do petrel audit --no-rehash --metrics "$M" >/dev/null 2>&1; done
echo stop >"$M.stop"
wait "$reader"
rm -f "$M.stop"
like "$(cat "$T/reader.out")" "^[1-9][0-9]* 0$" "a reader polling during 8 rewrites never saw a partial or missing file"
