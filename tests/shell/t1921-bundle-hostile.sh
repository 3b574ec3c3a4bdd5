#!/usr/bin/env bash
# Hostile and broken bundles (issue 13, item 3), each built by this test with Python's
# tarfile from a good bundle: refused with exit 3, one line naming the entry and the
# cause, nothing stored, tmp/ empty, the database as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-bundle.sh"

command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 135

tmp_empty() { [ -z "$(ls -A "$T/state/tmp" 2>/dev/null)" ]; }
dbsum() { sqlite3 "$T/state/petrel.db" "select * from versions; select * from signatures; select * from journal" | sha256sum; }

bundle_hosts 120000 130000
make_key pub2
src upgrade hello --to "$U1" >/dev/null 2>&1 || BAIL_OUT "source: upgrade to B1"
src upgrade hello --to "$U2" >/dev/null 2>&1 || BAIL_OUT "source: upgrade to B2"
src export hello --uuid "$U1" "$T/b1.tar" >/dev/null 2>&1 || BAIL_OUT "export B1"
src export hello --uuid "$U2" "$T/good.tar" >/dev/null 2>&1 || BAIL_OUT "export B2"
# a signature of B2 by a key this host does not trust
sign_build hello "$U2" pub2 || BAIL_OUT "sign with pub2"
cp "$BW_DATA/sigs/hello/$U2/hello.hvt.minisig" "$T/pub2.minisig"
stop_server

# the importing host knows B1 already: a refusal must leave that as it is
run petrel import "$T/b1.tar"
is "$rc" 0 "setup: B1 imported"

cat >"$T/mk.py" <<'EOF'
import io, json, sys, tarfile
case, good, out, u, other_sig = sys.argv[1:6]
with tarfile.open(good) as t:
    members = [(m, t.extractfile(m).read()) for m in t.getmembers()]
man, meta, sig, blob = members
P = "VERSIONS/%s/" % u

def reg(name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
    return (ti, data)

def special(name, kind, link=""):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = link
    return (ti, None)

def with_data(entry, data):
    return reg(entry[0].name, data)

def meta_json(**kw):
    j = json.loads(meta[1]); j.update(kw); return json.dumps(j).encode()

def man_json(f):
    j = json.loads(man[1]); f(j); return json.dumps(j).encode()

mode = "w"
if case == "abs":         ms = [man, reg("/etc/evil", b"x"), meta, sig, blob]
elif case == "dotdot":    ms = [man, reg(P + "../../evil", b"x"), meta, sig, blob]
elif case == "symlink":   ms = [man, meta, sig, special(P + "blob", tarfile.SYMTYPE, "/etc/passwd")]
elif case == "hardlink":  ms = [man, meta, sig, special(P + "blob", tarfile.LNKTYPE, "petrel-bundle.json")]
elif case == "device":    ms = [man, meta, special(P + "sig/x.minisig", tarfile.CHRTYPE), blob]
elif case == "fifo":      ms = [man, meta, special(P + "sig/x.minisig", tarfile.FIFOTYPE), blob]
elif case == "dir":       ms = [man, special("VERSIONS", tarfile.DIRTYPE), meta, sig, blob]
elif case == "dup":       ms = [man, meta, sig, sig, blob]
elif case == "bigger":    ms = [man, meta, sig, with_data(blob, blob[1] + b"\0")]
elif case == "smaller":   ms = [man, meta, sig, with_data(blob, blob[1][:-1])]
elif case == "hash":      ms = [man, meta, sig, with_data(blob, bytes([blob[1][0] ^ 1]) + blob[1][1:])]
elif case == "badmeta":   ms = [man, with_data(meta, b"{not json"), sig, blob]
elif case == "bigmeta":   ms = [man, with_data(meta, meta_json(pad="x" * 70000)), sig, blob]
elif case == "metalies":  ms = [man, with_data(meta, meta_json(size=1)), sig, blob]
elif case == "untrusted": ms = [man, meta, with_data(sig, open(other_sig, "rb").read()), blob]
elif case == "nojob":     ms = [with_data(man, man_json(lambda j: j["versions"][0].update(job="other"))),
                                with_data(meta, meta_json(job="other")), sig, blob]
elif case == "notfirst":  ms = [meta, man, sig, blob]
elif case == "unlisted":  ms = [man, meta, sig, blob, reg("VERSIONS/00000000-0000-4000-8000-000000000000/meta.json", meta[1])]
elif case == "blobfirst": ms = [man, blob, meta, sig]
elif case == "noblob":    ms = [man, meta, sig]
elif case == "unknown":   ms = [man, meta, sig, blob, reg(P + "run.sh", b"#!/bin/sh\n")]
elif case == "version":   ms = [with_data(man, man_json(lambda j: j.update(version=2))), meta, sig, blob]
elif case == "many":
    # 64 versions, each with meta.json and 8 signatures: past the entry limit
    vs = []
    for i in range(64):
        j = json.loads(meta[1]); j["uuid"] = "00000000-0000-4000-8000-%012d" % i; vs.append(j)
    m = json.loads(man[1])
    m["versions"] = [{k: v[k] for k in ("uuid", "job", "sha256", "size")} for v in vs]
    ms = [with_data(man, json.dumps(m).encode())]
    for v in vs:
        q = "VERSIONS/%s/" % v["uuid"]
        ms.append(reg(q + "meta.json", json.dumps(v).encode()))
        ms += [reg(q + "sig/%d.minisig" % k, sig[1]) for k in range(8)]
elif case == "bomb":
    # 64 MiB of zeros announced honestly, compressed a thousandfold
    n = 64 << 20
    ms = [with_data(man, man_json(lambda j: j["versions"][0].update(size=n))),
          with_data(meta, meta_json(size=n)), sig, reg(P + "blob", b"\0" * n)]
    mode = "w:gz"
else:
    sys.exit("unknown case " + case)

with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as t:
    for ti, data in ms:
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
EOF

# refused CASE ERE DESC — the bundle of CASE is refused: exit 3, one line matching ERE,
# nothing stored, tmp/ empty, the database unchanged
refused() {
	local f=$T/h-$1.tar
	[ -e "$f" ] || "${PY[@]}" "$T/mk.py" "$1" "$T/good.tar" "$f" "$U2" "$T/pub2.minisig" ||
		BAIL_OUT "building the $1 bundle"
	snapshot_state
	local before; before=$(dbsum)
	run petrel import "$f"
	is "$rc" 3 "$3: exit 3"
	like "$err" "$2" "... $3: the entry and the cause"
	ok "... $3: one line" one_line
	state_unchanged "... $3: nothing stored"
	ok "... $3: tmp/ empty, database unchanged" eval 'tmp_empty && [ "$(dbsum)" = "$before" ]'
}

B="$T/h-[a-z]*\\.tar"
V="VERSIONS/$U2"
refused abs "^petrel: $B: /etc/evil: absolute path$" "an absolute path"
refused dotdot "^petrel: $B: $V/\\.\\./\\.\\./evil: '\\.\\.' in the path$" "'..' in a name"
refused symlink "^petrel: $B: $V/blob: a symbolic link \\(to /etc/passwd\\)$" "a symbolic link"
refused hardlink "^petrel: $B: $V/blob: a hard link \\(to petrel-bundle.json\\)$" "a hard link"
refused device "^petrel: $B: $V/sig/x.minisig: a device$" "a device"
refused fifo "^petrel: $B: $V/sig/x.minisig: a FIFO$" "a FIFO"
refused dir "^petrel: $B: VERSIONS/?: a directory$" "a directory"
refused dup "^petrel: $B: $V/sig/.*\\.minisig: appears twice$" "a duplicate name"
refused many "^petrel: $B: entry 513: more than 512 entries \\(PETREL_BUNDLE_ENTRIES_MAX\\)$" "more entries than the limit"
refused bigger "^petrel: $B: $V/blob: 130001 bytes, but meta.json says 130000$" "an entry larger than its metadata says"
refused smaller "^petrel: $B: $V/blob: 129999 bytes, but meta.json says 130000$" "an entry smaller than its metadata says"
refused bomb "^petrel: $B: $V/blob: decompression bomb: [0-9]+ bytes unpacked from [0-9]+, more than 200 to 1 \\(PETREL_BUNDLE_RATIO_MAX\\)$" "a decompression bomb"
refused badmeta "^petrel: $B: $V/meta.json: malformed JSON: " "malformed metadata"
refused bigmeta "^petrel: $B: $V/meta.json: [0-9]+ bytes, more than 65536$" "oversized metadata"
refused metalies "^petrel: $B: $V/meta.json: job, uuid, sha256 or size differ from petrel-bundle.json$" "metadata contradicting the manifest"
refused hash "^petrel: hello: sha256 mismatch for $B: $V/blob: expected " "a blob that does not match its hash"
refused untrusted "^petrel: hello: $B: $V/sig/.*\\.minisig: signed by unknown key $(key_id pub2)" "a signature by a key the host does not trust"
refused nojob "^petrel: $B: build $U2 of job other: no target of this host has that job$" "a job the host has no target for"
refused notfirst "^petrel: $B: $V/meta.json: the first entry must be petrel-bundle.json" "the manifest not first"
refused unlisted "^petrel: $B: VERSIONS/00000000-0000-4000-8000-000000000000/meta.json: build not listed in petrel-bundle.json$" "a version the manifest does not list"
refused blobfirst "^petrel: $B: $V/blob: comes before $V/meta.json$" "a blob before its metadata"
refused noblob "^petrel: $B: $V/blob: missing \\(truncated bundle\\?\\)$" "a version without its blob"
refused unknown "^petrel: $B: $V/run.sh: not an entry of a petrel bundle$" "an entry the format does not have"
refused version "^petrel: $B: petrel-bundle.json: format version 2; this petrel reads 1$" "a format version from the future"

# a truncated archive: the good bundle cut in the middle of its blob
head -c $(( $(stat -c %s "$T/good.tar") / 2 )) "$T/good.tar" >"$T/h-truncated.tar"
refused truncated "^petrel: $B: $V/blob: truncated or unreadable: " "a truncated archive"
# not an archive at all
make_file "$T/h-garbage.tar" 5000 garbage
refused garbage "^petrel: $B: entry 1: (truncated or unreadable archive|not a readable tar): " "bytes that are no tar"

# and through stdin, the same refusal
snapshot_state
petrel import - <"$T/h-symlink.tar" >/dev/null 2>"$T/err"
is "$?" 3 "a hostile bundle on stdin: exit 3"
like "$(cat "$T/err")" "^petrel: stdin: $V/blob: a symbolic link" "... named 'stdin'"
state_unchanged "... nothing stored"
ok "... the good bundle still imports afterwards" petrel import "$T/good.tar"
