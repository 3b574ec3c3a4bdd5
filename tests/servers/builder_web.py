#!/usr/bin/env python3
"""builder-web look-alike for petrel's tests (Python 3 standard library only).

Emulates, from a data directory that tests change while the server runs (it is rescanned
on every request), the routes petrel uses as the current builder-web answers them
(robur-coop/builder-web at fcea7ee, the Vif version behind builds.robur.coop: handlers in
lib/builder_web.ml, SQL in db/builder_db.ml, JSON in lib/views.ml). See "Where it differs
from builder-web" below for what it does not do.

Data layout:

    DATA/builds/JOB/                  a job; it exists as soon as the directory does
                                      (add-job makes one with no builds)
    DATA/builds/JOB/.job.json         optional {"section": S|null, "synopsis": T|null}
    DATA/builds/JOB/UUID/build.json   {"job","uuid","platform","start_time","finish_time",
                                       "filename","sha256","size",
                                       "artifacts"?: [{"path","sha256","size"}],
                                       "solo5"?: {"abi": {"target","version"},
                                                  "manifest": {"version","devices":
                                                     [{"name","type"}]}}}
                                      filename null: a failed build (no main binary);
                                      "artifacts" lists the build's other artifacts
    DATA/builds/JOB/UUID/bin/FILENAME the main binary (artifact path bin/FILENAME)
    DATA/builds/JOB/UUID/PATH         each other artifact, at its artifact path
    DATA/sigs/...                     static files served under /sigs/ (minisign signatures;
                                      not a builder-web route, the tests' publisher)
    DATA/mode                         hostile modes, one per line: "MODE [SUBSTRING]"
                                      (with SUBSTRING the mode applies only to requests
                                      whose path+query contains it); absent = normal
    DATA/expired-jobs                 optional: days for "/" (builder-web --expired-jobs,
                                      default 30 or serve --expired-jobs)
    DATA/requests.log                 one line per request: METHOD<TAB>PATH?QUERY<TAB>ACCEPT

Commands:
    builder_web.py serve   --data DATA [--port 0] --port-file FILE [--expired-jobs DAYS]
    builder_web.py add     --data DATA --job J --file PATH [--uuid U] [--platform P]
                           [--finish-time EPOCH] [--start-time EPOCH] [--filename NAME]
                           [--link] [--failed] [--artifact SRC[=RELPATH]]...
                           [--solo5-abi TARGET[:VERSION]] [--solo5-device net|block:NAME]...
                                                                   -> prints the uuid
        --artifact copies SRC into the build as another artifact (RELPATH defaults to
        SRC's basename; not under bin/, as a second bin/ artifact would take the main
        binary away in builder-web); a --failed build may carry artifacts too.
        --solo5-abi declares the main binary a Solo5 ELF (VERSION defaults to 2; the
        manifest version is 1) and --solo5-device adds a manifest entry, in order.
    builder_web.py add-job --data DATA --job J [--section S] [--synopsis T]
                                                   -> a job (with no builds unless added)
    builder_web.py get     --data DATA --job J --uuid U FIELD...   -> prints each field
                           on a line of its own (job uuid platform filename sha256 size
                           start_time finish_time start_epoch finish_epoch path etag)
    builder_web.py batch   runs add, add-job and get as asked on stdin, one after the
                           other, for a test script that would otherwise start python for
                           each (see run_batch)

What is emulated (GET only; every route answers HEAD with 404, POST and the others too):

    /job/J/build/latest[?platform=P]   307, Location /job/J/build/UUID (relative), empty
        body: the newest build of J by start time that has a main binary (on P); 404 HTML
        if J is unknown or has none. /job/J/build/latest/REST: 307 to .../UUID/REST.
    /job/J[?platform=P]   (JSON with Accept) {"builds":[{"uuid","main_binary":
        {"filename","sha256","size"}}]}: one entry per distinct main-binary sha256 among
        J's builds (on P) (Build.get_all_artifact_sha); each entry's uuid, filename and
        size come from the NEWEST build by start time that has ANY artifact with that hash
        -- any job, any platform, any path, failed builds included -- and the filename is
        the basename of THAT artifact's path (Build.get_with_main_binary_by_hash). So the
        uuid may belong to another job or platform, and the filename may be another name.
        Order undefined (shuffled here). A job with no builds: {"builds":[]}. Unknown job:
        404 HTML. /job/J/failed: the same plus J's failed builds as {"uuid",
        "main_binary":null}, merged newest first by start.
    /job/J/build/UUID   (JSON with Accept) {"job","uuid","platform","start_time",
        "finish_time","main_binary":bool} plus "solo5_manifest" {"type":"solo5.manifest",
        "version","devices":[{"name","type":"NET_BASIC"|"BLOCK_BASIC"}]} and "solo5_abi"
        {"type":"solo5.abi","target","version"} when the main binary is (declared) Solo5.
        Looked up by uuid ALONE: "job" echoes the URL's J, which is not checked. Times
        2026-05-12T03:04:10-00:00. HTML otherwise.
    /job/J/build/UUID/main-binary   302, Location /job/J/build/UUID/f/bin/NAME (J as in
        the URL, not checked); 404 HTML without a main binary.
    /job/J/build/UUID/f/PATH   any artifact of UUID (J not checked): content-type,
        content-length, etag (standard Base64 of the raw SHA-256, UNQUOTED),
        transfer-encoding: chunked (the body is chunk-encoded; chunked wins over the
        length) and connection: close. If-None-Match byte-equal to the unquoted ETag:
        304 with no ETag and no body; anything else (quoted, W/, lists, *): 200. No Range.
    /hash?sha256=HEX   only an even-length hex HEX (either case) matches the route;
        anything else (odd length, non-hex, no sha256) is 404. 302 to /job/J/build/UUID
        of the newest build (by start) holding that hash as ANY artifact, any job, any
        platform, failed builds included (Build.get_with_jobname_by_hash); 404 if none.
    /  and /all-builds   (JSON with Accept) {"jobs":[JOB...],"jobs_by_section":
        {SECTION:[JOB...]}} with JOB = {"name","synopsis": T|null, "latest"?: {"uuid",
        "solo5_manifest","solo5_abi"}}. A job appears only if, on one of its platforms,
        its newest build with a main binary finished later than now minus the
        expired-jobs days ("/" only; /all-builds does not filter). "latest" is the job's
        newest build with a main binary on any platform, present only when that binary
        is Solo5. Sections without a section tag are "Uncategorized"; sections come in
        descending byte order (jobs too, section by section), jobs within a section by
        name ascending -- Utils.String_map.fold as builder-web does. HTML otherwise.
    Accept: JSON iff one comma-separated element of the FIRST Accept header, cut at ';'
        and trimmed, is exactly "application/json" (case-sensitive; q ignored).
    Errors: 404 HTML (text/html; charset=utf-8), 500 text/plain (hostile mode 500).

Hostile modes (see MODES below for which routes each one touches):
    flip            artifacts: one byte flipped, true length and ETag, normal framing
    truncate        artifacts: normal headers, half the body, then the connection is
                    closed in the middle of a chunk (no final chunk)
    endless         artifacts: neither content-length nor chunked, connection: close, a
                    body that never ends (4 GiB / 120 s safety caps)
    endless-chunked artifacts: normal headers (content-length: the true size, chunked),
                    then chunks that never end
    trickle         artifacts: normal headers, then a one-byte chunk every 2 s
    drip            artifacts: normal headers, then the body at a steady 4000 bytes/s
                    (400 bytes every 0.1 s): above any low-speed limit of 1000 B/s
    bad-length      artifacts: a Content-Length that is no number ("12abc"), chunked
    wrong-etag      artifacts: an ETag of other bytes, true bytes
    length-mismatch artifacts: content-length size+1, a chunked body of size+1 bytes
    odd-chunks      artifacts: the true bytes, framed in chunks of odd, changing sizes
                    (1 byte to 600 KiB, ODD_CHUNKS in turn), each flushed on its own:
                    not a hostile answer, a receiver's worst case for batching
    truncated-json, endless-json, trickle-json   (JSON answers)
    redirect-loop   (main-binary redirects to itself, /f/... redirects forever)
    no-location     (every redirect is sent without Location)
    500             (every route answers 500 Internal Server Error, text/plain)
    503, 429        (every route answers 503 Service Unavailable or 429 Too Many
                    Requests, as a rate-limiting proxy in front of builder-web would,
                    with Retry-After: the first line of DATA/retry-after, else 120)
    hang            (every route: no answer at all for up to 120 s)

Where it differs from builder-web:
    - No database: a directory tree rescanned per request; no uploads (POST is 404), no
      users, no Basic auth (builder-web checks an Authorization header on every request,
      a scrypt per GET), no upload hooks, no builder-db vacuum (remove the directory).
    - Solo5 manifests and ABIs are declared at add time, not read from the ELF; a
      declared binary need not be an ELF at all.
    - The listing is computed in memory; builder-web costs N+1 SQL queries per /job/J,
      which this does not show. When one build holds the same bytes at several artifact
      paths, builder-web's pick is unspecified; here the main binary wins.
    - Ties on start time are broken by finish time, then insertion order (SQL: undefined).
    - Not served: /failed-builds, /compare/L/R, console/script/viz/exec, /robots.txt,
      images; HTML pages are minimal stand-ins, not builder-web's pages.
    - /sigs/... is extra (the tests' signature host); builder-web has no such route.
    - One trailing slash is tolerated on paths; a query on "/" is accepted.
    - Only artifacts send connection: close (builder-web's Vif shuts every connection
      after a GET); other answers keep the connection open, with content-length.
    - HEAD gets a 404 status line and headers but no body.
    - A uuid that is not 8-4-4-4-12 hex gives 404 (builder-web's uuid converter raises).
    - Header order, Server and Date headers, and the 404 page text differ.
"""

import argparse
import base64
import calendar
import hashlib
import json
import os
import re
import shutil
import sys
import time

# The tests run the data commands (add, get) hundreds of times and the HTTP modules cost
# more than such a command does: only serve (or an import) loads them.
if __name__ != "__main__" or sys.argv[1:2] == ["serve"]:
    import random
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl, quote, unquote, urlsplit
else:
    BaseHTTPRequestHandler = ThreadingHTTPServer = object

CHUNK = 64 * 1024
SAFETY_BYTES = 4 * 1024 * 1024 * 1024   # endless bodies stop after 4 GiB ...
SAFETY_SECONDS = 120                    # ... or 120 s, whichever comes first
TRICKLE_INTERVAL = 2.0
DRIP_BYTES, DRIP_INTERVAL = 400, 0.1    # drip: 4000 bytes/s, steadily

ODD_CHUNKS = (1, 3, 4093, 65537, 7, 524289, 17, 131071, 614401, 5)

ARTIFACT_MODES = {"flip", "truncate", "endless", "endless-chunked", "trickle", "drip",
                  "bad-length",
                  "wrong-etag", "length-mismatch", "odd-chunks"}
JSON_MODES = {"truncated-json", "endless-json", "trickle-json"}
OTHER_MODES = {"redirect-loop", "no-location", "500", "hang", "503", "429"}
MODES = ARTIFACT_MODES | JSON_MODES | OTHER_MODES

DEFAULT_PLATFORM = "ubuntu-22.04"
DEFAULT_EXPIRED_JOBS = 30               # builder-web --expired-jobs (days)
SOLO5_ABI_VERSION = 2
SOLO5_MFT_VERSION = 1
SOLO5_TARGETS = ("hvt", "spt", "virtio", "muen", "genode", "xen")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")
HEX_RE = re.compile(r"^(?:[0-9a-fA-F][0-9a-fA-F])*$")
# ocaml-uri's path characters: what Vif leaves unencoded in a job segment of a Location
PATH_SAFE = "!$&'()*+,;=:@"


# ----------------------------------------------------------------------------- time

def rfc3339(epoch):
    """Ptime.to_rfc3339 with no time zone offset: 2026-05-12T03:04:10-00:00."""
    return time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime(int(epoch)))


def parse_time(v):
    """build.json times may be epoch numbers or RFC 3339 strings."""
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        try:
            return float(s)
        except ValueError:
            pass
        base = s[:19]
        frac = 0.0
        rest = s[19:]
        if rest.startswith("."):
            i = 1
            while i < len(rest) and rest[i].isdigit():
                i += 1
            frac = float("0" + rest[:i])
            rest = rest[i:]
        t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + frac
        if rest and rest not in ("Z", "z"):
            sign = 1 if rest[0] == "+" else -1
            hh, mm = rest[1:].split(":")
            t -= sign * (int(hh) * 3600 + int(mm) * 60)
        return t
    raise ValueError("bad time %r" % (v,))


# ----------------------------------------------------------------------------- data

class Build:
    __slots__ = ("job", "uuid", "platform", "start", "finish", "filename", "sha256",
                 "size", "seq", "dir", "extras", "solo5")

    def sort_key(self):
        return (self.start, self.finish, self.seq, self.uuid)

    def has_main(self):
        return bool(self.filename) and bool(self.sha256)

    def main_path(self):
        return "bin/" + self.filename

    def bin_path(self):
        return os.path.join(self.dir, "bin", self.filename)

    def etag(self):
        return etag_of_hex(self.sha256)

    def artifacts(self):
        """[(artifact path, sha256, size)], the main binary first."""
        out = [(self.main_path(), self.sha256, self.size)] if self.has_main() else []
        return out + self.extras

    def artifact(self, relpath):
        return next((a for a in self.artifacts() if a[0] == relpath), None)


def etag_of_hex(hexdigest):
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def load_build(path):
    with open(path, "rb") as f:
        j = json.loads(f.read().decode("utf-8"))
    b = Build()
    b.dir = os.path.dirname(path)
    b.job = j.get("job") or os.path.basename(os.path.dirname(b.dir))
    b.uuid = (j.get("uuid") or os.path.basename(b.dir)).lower()
    b.platform = j.get("platform") or DEFAULT_PLATFORM
    b.finish = parse_time(j["finish_time"]) if "finish_time" in j else os.path.getmtime(path)
    b.start = parse_time(j["start_time"]) if "start_time" in j else b.finish - 60
    b.filename = j.get("filename")
    b.sha256 = (j.get("sha256") or "").lower() or None
    b.size = j.get("size")
    if b.has_main() and b.size is None:
        b.size = os.path.getsize(b.bin_path())
    b.seq = j.get("seq", 0)
    b.extras = []
    for a in j.get("artifacts") or []:
        rel = a["path"]
        sha = (a.get("sha256") or "").lower() or sha256_file(os.path.join(b.dir, rel))
        size = a.get("size")
        if size is None:
            size = os.path.getsize(os.path.join(b.dir, rel))
        b.extras.append((rel, sha, size))
    b.solo5 = j.get("solo5") if b.has_main() else None
    return b


def scan(data):
    """(all builds newest first by start time, as builder-web orders them;
        {job name: job directory} of every job, with or without builds)"""
    builds, jobs = [], {}
    root = os.path.join(data, "builds")
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return builds, jobs
    for job in names:
        jd = os.path.join(root, job)
        if job.startswith(".") or not os.path.isdir(jd):
            continue
        jobs[job] = jd
        try:
            uuids = os.listdir(jd)
        except (NotADirectoryError, FileNotFoundError):
            continue
        for u in uuids:
            if u.startswith("."):
                continue
            p = os.path.join(jd, u, "build.json")
            try:
                builds.append(load_build(p))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except (ValueError, KeyError, TypeError, OSError) as e:
                sys.stderr.write("builder_web: ignoring %s: %s\n" % (p, e))
    builds.sort(key=Build.sort_key, reverse=True)
    return builds, jobs


def job_meta(jobdir):
    try:
        with open(os.path.join(jobdir, ".job.json"), "rb") as f:
            j = json.loads(f.read().decode("utf-8"))
        return j.get("section"), j.get("synopsis")
    except (FileNotFoundError, ValueError):
        return None, None


def newest_holder(builds, sha):
    """Newest build (builds are newest first) with ANY artifact of that sha256, and that
    artifact: Build.get_with_main_binary_by_hash / get_with_jobname_by_hash."""
    for b in builds:
        for a in b.artifacts():
            if a[1] == sha:
                return b, a
    return None, None


def read_modes(data):
    """[(mode, substring-or-None)]"""
    out = []
    try:
        with open(os.path.join(data, "mode"), "r") as f:
            for line in f:
                parts = line.split(None, 1)
                if not parts or parts[0].startswith("#"):
                    continue
                m = parts[0].strip()
                if m not in MODES:
                    sys.stderr.write("builder_web: unknown mode %r ignored\n" % m)
                    continue
                out.append((m, parts[1].strip() if len(parts) > 1 else None))
    except FileNotFoundError:
        pass
    return out


def solo5_json(solo5):
    """(solo5_manifest, solo5_abi) as Views.make_solo5_manifest_json/_abi_json."""
    mft = solo5.get("manifest") or {}
    abi = solo5["abi"]
    return ({"type": "solo5.manifest", "version": mft.get("version", SOLO5_MFT_VERSION),
             "devices": [{"name": d["name"], "type": d["type"]}
                         for d in mft.get("devices", [])]},
            {"type": "solo5.abi", "target": abi["target"],
             "version": abi.get("version", SOLO5_ABI_VERSION)})


# ----------------------------------------------------------------------------- HTTP

def html_page(title, body):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
            "<body><h1>%s</h1>%s</body></html>\n" % (title, title, body)).encode("utf-8")


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "builder-web-lookalike/2"

    def log_message(self, fmt, *args):  # quiet; requests.log is the record
        if self.server.verbose:
            sys.stderr.write("builder_web: " + (fmt % args) + "\n")

    # -- helpers -------------------------------------------------------------

    def mode(self, name):
        for m, sub in self.modes:
            if m == name and (sub is None or sub in self.path):
                return True
        return False

    def log_request_line(self):
        line = "%s\t%s\t%s\n" % (self.command, self.path,
                                  self.headers.get("Accept", "-") or "-")
        with self.server.log_lock:
            with open(os.path.join(self.server.data, "requests.log"), "a") as f:
                f.write(line)

    def wants_json(self):
        """Vif.Request.accept + is_accept_json: the first Accept header only."""
        accept = self.headers.get("Accept")
        if accept is None:
            return False
        return any(t.split(";")[0].strip() == "application/json"
                   for t in accept.split(","))

    def write(self, b):
        if self.command != "HEAD" and b:
            self.wfile.write(b)

    def simple(self, code, body, ctype, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.write(body)

    def not_found(self):
        self.simple(404, html_page("Not found", "<p>Resource not found: %s</p>"
                                   % esc(self.path)),
                    "text/html; charset=utf-8")

    def error500(self):
        self.simple(500, b"Internal Server Error", "text/plain; charset=utf-8")

    def redirect(self, code, location):
        self.send_response(code)
        if not self.mode("no-location"):
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def close_after(self):
        self.close_connection = True

    def chunk(self, buf):
        if buf:
            self.wfile.write(b"%x\r\n" % len(buf) + buf + b"\r\n")

    def odd_chunks(self, f, size):
        """The whole body in chunks of ODD_CHUNKS sizes in turn, each flushed."""
        pos, i = 0, 0
        while pos < size:
            buf = f.read(min(ODD_CHUNKS[i % len(ODD_CHUNKS)], size - pos))
            if not buf:
                return
            self.chunk(buf)
            self.wfile.flush()
            pos, i = pos + len(buf), i + 1
        self.wfile.write(b"0\r\n\r\n")

    def endless(self, chunked, first=b""):
        """A body that never ends (within the safety caps)."""
        self.close_after()
        buf = (first * (CHUNK // max(1, len(first)) + 1))[:CHUNK] if first else b"\0" * CHUNK
        sent, t0 = 0, time.monotonic()
        while sent < SAFETY_BYTES and time.monotonic() - t0 < SAFETY_SECONDS:
            if chunked:
                self.chunk(buf)
            else:
                self.wfile.write(buf)
            sent += len(buf)
        # safety cap reached: just stop (the connection is closed, no final chunk)

    def trickle(self, body, chunked=False):
        """One byte every TRICKLE_INTERVAL s."""
        self.close_after()
        t0 = time.monotonic()
        for i in range(len(body)):
            if time.monotonic() - t0 > SAFETY_SECONDS:
                return
            if chunked:
                self.chunk(body[i:i + 1])
            else:
                self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(TRICKLE_INTERVAL)

    def drip(self, f, size):
        """The whole body, DRIP_BYTES every DRIP_INTERVAL s (chunked), then the end."""
        t0 = time.monotonic()
        pos = 0
        while pos < size:
            if time.monotonic() - t0 > SAFETY_SECONDS:
                return
            buf = f.read(min(DRIP_BYTES, size - pos))
            if not buf:
                return
            self.chunk(buf)
            self.wfile.flush()
            pos += len(buf)
            time.sleep(DRIP_INTERVAL)
        self.wfile.write(b"0\r\n\r\n")

    def send_json(self, obj):
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if self.mode("endless-json"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            # a syntactically plausible prefix, then whitespace for ever
            self.wfile.write(b'{"builds":[')
            self.endless(False, b" ")
            return
        if self.mode("truncated-json"):
            body = body[:len(body) // 2]   # well framed, but cut in the middle
        if self.mode("trickle-json"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.trickle(body)
            return
        self.simple(200, body, "application/json")

    # -- dispatch ------------------------------------------------------------

    def prelude(self):
        """Log, read the modes; False when a hostile mode has answered already."""
        self.log_request_line()
        self.modes = read_modes(self.server.data)
        if self.mode("hang"):
            self.close_after()
            time.sleep(SAFETY_SECONDS)
            return False
        if self.mode("500"):
            self.error500()
            return False
        for code, text in ((503, b"Service Unavailable"), (429, b"Too Many Requests")):
            if self.mode(str(code)):
                self.simple(code, text, "text/plain; charset=utf-8",
                            [("Retry-After", self.retry_after())])
                return False
        return True

    def retry_after(self):
        try:
            with open(os.path.join(self.server.data, "retry-after"), "r") as f:
                return f.readline().strip()
        except FileNotFoundError:
            return "120"

    def do_HEAD(self):
        """Every builder-web route is GET only: HEAD is 404 (no body, as for any HEAD)."""
        try:
            if self.prelude():
                self.not_found()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_after()

    def do_POST(self):
        self.log_request_line()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.headers.get("Transfer-Encoding"):
            self.close_after()
        self.not_found()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def do_GET(self):
        try:
            if self.prelude():
                self.route()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_after()

    def route(self):
        u = urlsplit(self.path)
        query = parse_qsl(u.query, keep_blank_values=True)
        # builder-web's fix_q: repeated values are joined with ","
        platforms = [v for k, v in query if k == "platform"]
        platform = ",".join(platforms) if platforms else None
        parts = [unquote(p) for p in u.path.split("/")[1:]]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts = parts[:-1]          # tolerate one trailing slash

        if parts == [""]:
            return self.root_route(filter_builds=True)
        if parts == ["all-builds"]:
            return self.root_route(filter_builds=False)
        if parts[:1] == ["sigs"] and len(parts) > 1:
            return self.static_sig(parts[1:])
        if parts == ["hash"]:
            return self.hash_route([v for k, v in query if k == "sha256"])
        if len(parts) >= 2 and parts[0] == "job" and parts[1] != "":
            job = parts[1]
            builds, jobs = scan(self.server.data)
            if len(parts) == 2:
                return self.job_route(job, jobs, builds, platform, failed=False)
            if parts[2:] == ["failed"]:
                return self.job_route(job, jobs, builds, platform, failed=True)
            if parts[2] != "build" or len(parts) < 4:
                return self.not_found()
            ident, rest = parts[3], parts[4:]
            if ident == "latest":
                cands = [b for b in builds if b.job == job and b.has_main()
                         and (platform is None or b.platform == platform)]
                if not cands:
                    return self.not_found()
                loc = "/job/%s/build/%s" % (quote(job, safe=PATH_SAFE), cands[0].uuid)
                if rest:
                    loc += "/" + "/".join(rest)
                return self.redirect(307, loc)
            if not UUID_RE.match(ident):
                return self.not_found()
            # Model.build: by uuid alone; J is only echoed
            b = next((b for b in builds if b.uuid == ident.lower()), None)
            if b is None:
                return self.not_found()
            if not rest:
                return self.build_route(job, b)
            if rest == ["main-binary"]:
                if not b.has_main():
                    return self.not_found()
                qjob = quote(job, safe=PATH_SAFE)
                if self.mode("redirect-loop"):
                    return self.redirect(302, "/job/%s/build/%s/main-binary" % (qjob, b.uuid))
                return self.redirect(302, "/job/%s/build/%s/f/%s"
                                     % (qjob, b.uuid, quote(b.main_path(), safe=PATH_SAFE + "/")))
            if rest[0] == "f" and len(rest) > 1:
                return self.file_route(job, b, rest[1:], query)
            return self.not_found()
        return self.not_found()

    # -- routes --------------------------------------------------------------

    def root_route(self, filter_builds):
        """builder-web's `builds` handler (/ and /all-builds), Views.Builds.make_json."""
        builds, jobs = scan(self.server.data)
        than = None
        if filter_builds:
            than = time.time() - self.server.expired_days() * 86400
        sections = {}
        rows = []
        for name, jd in jobs.items():
            section, synopsis = job_meta(jd)
            rows.append((section, name, synopsis))
        # Job.get_all_with_section_synopsis: ORDER BY section.value, j.name (NULL first)
        rows.sort(key=lambda r: (r[0] is not None, (r[0] or "").encode(), r[1].encode()))
        for section, name, synopsis in rows:
            mine = [b for b in builds if b.job == name]
            platform_builds = []
            for p in sorted({b.platform for b in mine}):
                latest = next((b for b in mine if b.platform == p and b.has_main()), None)
                if latest is not None and (than is None or latest.finish > than):
                    platform_builds.append((p, latest))
            if not platform_builds:
                continue
            entry = {"name": name, "synopsis": synopsis}
            latest = next((b for b in mine if b.has_main()), None)
            if latest is not None and latest.solo5:
                mft, abi = solo5_json(latest.solo5)
                entry["latest"] = {"uuid": latest.uuid, "solo5_manifest": mft,
                                   "solo5_abi": abi}
            key = section if section is not None else "Uncategorized"
            sections.setdefault(key, []).append((entry, platform_builds))
        order = sorted(sections, key=lambda s: s.encode(), reverse=True)
        if not self.wants_json():
            items = "".join("<h2>%s</h2><ul>%s</ul>" % (esc(s), "".join(
                "<li>%s: %s</li>" % (esc(e["name"]), ", ".join(
                    "%s %s" % (esc(p), b.uuid) for p, b in pb))
                for e, pb in sections[s])) for s in sorted(sections))
            return self.simple(200, html_page("Builds", items), "text/html; charset=utf-8")
        return self.send_json({
            "jobs": [e for s in order for e, _ in sections[s]],
            "jobs_by_section": {s: [e for e, _ in sections[s]] for s in order}})

    def job_route(self, job, jobs, builds, platform, failed):
        """builder-web's `job` / `job_with_failed`: Model.builds_grouped_by_output."""
        if job not in jobs:
            return self.not_found()
        mine = [b for b in builds if b.job == job
                and (platform is None or b.platform == platform)]
        hashes = []
        for b in mine:                  # Build.get_all_artifact_sha
            if b.has_main() and b.sha256 not in hashes:
                hashes.append(b.sha256)
        entries = []
        for h in hashes:                # Build.get_with_main_binary_by_hash, per hash
            holder, (path, sha, size) = newest_holder(builds, h)
            entries.append((holder, {"uuid": holder.uuid,
                                     "main_binary": {"filename": os.path.basename(path),
                                                     "sha256": sha, "size": size}}))
        if failed:
            entries += [(b, {"uuid": b.uuid, "main_binary": None})
                        for b in mine if not b.has_main()]
        if not self.wants_json():
            items = "".join("<li>%s %s</li>" % (
                e["uuid"], esc(e["main_binary"]["filename"]) if e["main_binary"] else "failed")
                for _, e in entries)
            return self.simple(200, html_page("Job " + esc(job), "<ul>%s</ul>" % items),
                               "text/html; charset=utf-8")
        if failed:                      # List.merge by start, newest first
            entries.sort(key=lambda be: be[0].sort_key(), reverse=True)
            out = [e for _, e in entries]
        else:
            out = [e for _, e in entries]
            random.shuffle(out)         # builder-web's order is not defined: match uuids
        return self.send_json({"builds": out})

    def build_route(self, job, b):
        if not self.wants_json():
            body = ("<p>uuid %s, platform %s, finished %s</p>"
                    % (b.uuid, esc(b.platform), rfc3339(b.finish)))
            if b.has_main():
                body += "<p>%s SHA256:%s (%d bytes)</p>" % (esc(b.filename), b.sha256, b.size)
            return self.simple(200, html_page("Job %s build %s" % (esc(job), b.uuid), body),
                               "text/html; charset=utf-8")
        rec = {"job": job, "uuid": b.uuid, "platform": b.platform,
               "start_time": rfc3339(b.start), "finish_time": rfc3339(b.finish),
               "main_binary": b.has_main()}
        if b.solo5:
            rec["solo5_manifest"], rec["solo5_abi"] = solo5_json(b.solo5)
        return self.send_json(rec)

    def hash_route(self, values):
        # Url.hash: ("sha256", (xdigit xdigit)*) must match, else no route: 404
        if not values or not HEX_RE.match(values[0]):
            return self.not_found()
        builds, _ = scan(self.server.data)
        b, _a = newest_holder(builds, values[0].lower())
        if b is None:
            return self.not_found()
        return self.redirect(302, "/job/%s/build/%s" % (quote(b.job, safe=PATH_SAFE), b.uuid))

    def static_sig(self, parts):
        if any(p in ("", ".", "..") or "/" in p or "\0" in p for p in parts):
            return self.not_found()
        p = os.path.join(self.server.data, "sigs", *parts)
        try:
            with open(p, "rb") as f:
                body = f.read(16 * 1024 * 1024)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self.not_found()
        self.simple(200, body, "application/octet-stream")

    def file_route(self, job, b, rel, query):
        if any(p in ("", ".", "..") or "\0" in p for p in rel):
            return self.not_found()
        relpath = "/".join(rel)
        art = b.artifact(relpath)       # Build_artifact.get_by_build_uuid
        if art is None:
            return self.not_found()
        if self.mode("redirect-loop"):
            n = int(dict(query).get("loop", "0") or 0) + 1
            return self.redirect(302, "/job/%s/build/%s/f/%s?loop=%d"
                                 % (quote(job, safe=PATH_SAFE), b.uuid, relpath, n))
        _, sha, size = art
        etag = etag_of_hex(sha)
        # builder-web compares the raw header value with the unquoted ETag, nothing else
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            f = open(os.path.join(b.dir, *rel), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self.not_found()
        with f:
            self.send_file(f, size, sha, mime_lookup(relpath))

    def send_file(self, f, size, sha, ctype):
        """Vif.Response.with_file: content-length AND transfer-encoding: chunked."""
        etag = etag_of_hex(sha)
        if self.mode("wrong-etag"):
            etag = etag_of_hex(hashlib.sha256(b"wrong" + bytes.fromhex(sha)).hexdigest())
        length = size + 1 if self.mode("length-mismatch") else size
        shown_length = "12abc" if self.mode("bad-length") else str(length)
        plain_endless = self.mode("endless")
        self.close_after()              # connection: close, as Vif does
        self.send_response(200)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", ctype)
        if not plain_endless:
            self.send_header("Content-Length", shown_length)
        self.send_header("ETag", etag)
        if not plain_endless:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if plain_endless:
            return self.endless(False)
        if self.mode("endless-chunked"):
            return self.endless(True)
        if self.mode("trickle"):
            return self.trickle(f.read(min(size, 1024)), chunked=True)
        if self.mode("drip"):
            return self.drip(f, size)
        if self.mode("odd-chunks"):
            return self.odd_chunks(f, size)
        truncate = self.mode("truncate")
        limit = size // 2 if truncate else size
        flip_at = size // 2 if self.mode("flip") and size > 0 else -1
        pos = 0
        while pos < size:
            want = min(CHUNK, size - pos)
            buf = f.read(want)
            if not buf:                 # file shrank under us: cannot keep framing
                return
            if pos <= flip_at < pos + len(buf):
                i = flip_at - pos
                buf = buf[:i] + bytes([buf[i] ^ 0x01]) + buf[i + 1:]
            if truncate and pos + len(buf) >= limit:
                # announce the whole chunk, send only up to the limit, close
                self.wfile.write(b"%x\r\n" % len(buf) + buf[:limit - pos])
                self.wfile.flush()
                return
            self.chunk(buf)
            pos += len(buf)
        if length > size:
            self.chunk(b"\n" * (length - size))
        self.wfile.write(b"0\r\n\r\n")


def mime_lookup(relpath):
    """builder-web's mime_lookup, with a small stand-in for Magic_mime."""
    if relpath in ("build-environment", "opam-switch", "system-packages") \
            or relpath.endswith(".build-hashes") or relpath.startswith("bin/"):
        return ("application/octet-stream" if relpath.startswith("bin/")
                and not relpath.endswith(".build-hashes") else "text/plain; charset=utf-8")
    ext = os.path.splitext(relpath)[1].lower()
    return {".txt": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8",
            ".json": "application/json", ".gz": "application/gzip",
            ".tar": "application/x-tar"}.get(ext, "application/octet-stream")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def expired_days(self):
        try:
            with open(os.path.join(self.data, "expired-jobs")) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return self.expired_default


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            buf = f.read(1024 * 1024)
            if not buf:
                break
            h.update(buf)
    return h.hexdigest()


# ----------------------------------------------------------------------------- commands

def cmd_serve(a):
    os.makedirs(os.path.join(a.data, "builds"), exist_ok=True)
    os.makedirs(os.path.join(a.data, "sigs"), exist_ok=True)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.data = os.path.abspath(a.data)
    srv.verbose = a.verbose
    srv.expired_default = a.expired_jobs
    srv.log_lock = threading.Lock()
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    else:
        print(port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


def safe_relpath(rel):
    parts = rel.split("/")
    return rel and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def cmd_add(a):
    import uuid
    u = (a.uuid or str(uuid.uuid4())).lower()
    finish = a.finish_time if a.finish_time is not None else int(time.time())
    start = a.start_time if a.start_time is not None else finish - 60
    d = os.path.join(a.data, "builds", a.job, u)
    if os.path.exists(os.path.join(d, "build.json")):
        sys.stderr.write("builder_web add: build %s/%s exists\n" % (a.job, u))
        return 1
    extras = []
    for spec in a.artifact:
        src, _, rel = spec.partition("=")
        rel = rel or os.path.basename(src)
        if not safe_relpath(rel) or rel == "build.json" or rel.startswith("bin/") \
                or rel.startswith("."):
            sys.stderr.write("builder_web add: bad artifact path %r\n" % rel)
            return 2
        extras.append((src, rel))
    solo5 = None
    if a.solo5_abi:
        target, _, ver = a.solo5_abi.partition(":")
        if target not in SOLO5_TARGETS:
            sys.stderr.write("builder_web add: --solo5-abi: one of %s\n" % " ".join(SOLO5_TARGETS))
            return 2
        devices = []
        for dev in a.solo5_device:
            kind, _, name = dev.partition(":")
            if kind not in ("net", "block") or not name:
                sys.stderr.write("builder_web add: --solo5-device net:NAME or block:NAME\n")
                return 2
            devices.append({"name": name,
                            "type": "NET_BASIC" if kind == "net" else "BLOCK_BASIC"})
        solo5 = {"abi": {"target": target, "version": int(ver or SOLO5_ABI_VERSION)},
                 "manifest": {"version": SOLO5_MFT_VERSION, "devices": devices}}
    elif a.solo5_device:
        sys.stderr.write("builder_web add: --solo5-device needs --solo5-abi\n")
        return 2
    os.makedirs(d, exist_ok=True)
    rec = {"job": a.job, "uuid": u, "platform": a.platform or DEFAULT_PLATFORM,
           "start_time": rfc3339(start), "finish_time": rfc3339(finish),
           "start_epoch": int(start), "finish_epoch": int(finish),
           "filename": None, "sha256": None, "size": None, "seq": time.time_ns()}
    if not a.failed:
        if not a.file:
            sys.stderr.write("builder_web add: --file is required (or --failed)\n")
            return 2
        name = a.filename or os.path.basename(a.file)
        os.makedirs(os.path.join(d, "bin"), exist_ok=True)
        dst = os.path.join(d, "bin", name)
        if a.link:
            try:
                os.link(a.file, dst)
            except OSError:
                shutil.copyfile(a.file, dst)
        else:
            shutil.copyfile(a.file, dst)
        rec.update(filename=name, sha256=sha256_file(dst), size=os.path.getsize(dst))
        if solo5:
            rec["solo5"] = solo5
    if extras:
        rec["artifacts"] = []
        for src, rel in extras:
            dst = os.path.join(d, *rel.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            rec["artifacts"].append({"path": rel, "sha256": sha256_file(dst),
                                     "size": os.path.getsize(dst)})
    tmp = os.path.join(d, ".build.json.tmp")
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=1)
        f.write("\n")
    os.rename(tmp, os.path.join(d, "build.json"))   # atomic: scans never see half
    print(u)
    return 0


def cmd_add_job(a):
    d = os.path.join(a.data, "builds", a.job)
    if a.job.startswith(".") or "/" in a.job or not a.job:
        sys.stderr.write("builder_web add-job: bad job name %r\n" % a.job)
        return 2
    os.makedirs(d, exist_ok=True)
    if a.section is not None or a.synopsis is not None:
        tmp = os.path.join(d, ".job.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"section": a.section, "synopsis": a.synopsis}, f)
            f.write("\n")
        os.rename(tmp, os.path.join(d, ".job.json"))
    return 0


def cmd_get(a):
    p = os.path.join(a.data, "builds", a.job, a.uuid.lower(), "build.json")
    try:
        b = load_build(p)
    except FileNotFoundError:
        sys.stderr.write("builder_web get: no build %s/%s\n" % (a.job, a.uuid))
        return 1
    vals = {"job": b.job, "uuid": b.uuid, "platform": b.platform,
            "filename": b.filename or "", "sha256": b.sha256 or "",
            "size": "" if b.size is None else str(b.size),
            "start_time": rfc3339(b.start), "finish_time": rfc3339(b.finish),
            "start_epoch": str(int(b.start)), "finish_epoch": str(int(b.finish)),
            "path": b.bin_path() if b.has_main() else "",
            "etag": b.etag() if b.has_main() else ""}
    for f in a.field:
        if f not in vals:
            sys.stderr.write("builder_web get: unknown field %s (one of %s)\n"
                             % (f, " ".join(sorted(vals))))
            return 2
    print("\n".join(vals[f] for f in a.field))
    return 0


def main(argv):
    p = argparse.ArgumentParser(description="builder-web look-alike for petrel's tests")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--data", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--expired-jobs", type=int, default=DEFAULT_EXPIRED_JOBS,
                   help="days, as builder-web's --expired-jobs (DATA/expired-jobs wins)")
    s.add_argument("--verbose", action="store_true")
    s = sub.add_parser("add")
    s.add_argument("--data", required=True)
    s.add_argument("--job", required=True)
    s.add_argument("--file")
    s.add_argument("--uuid")
    s.add_argument("--platform")
    s.add_argument("--finish-time", type=int)
    s.add_argument("--start-time", type=int)
    s.add_argument("--filename")
    s.add_argument("--link", action="store_true", help="hard-link instead of copying")
    s.add_argument("--failed", action="store_true", help="a build with no main binary")
    s.add_argument("--artifact", action="append", default=[], metavar="SRC[=RELPATH]",
                   help="another artifact of the build (repeatable)")
    s.add_argument("--solo5-abi", metavar="TARGET[:VERSION]")
    s.add_argument("--solo5-device", action="append", default=[], metavar="net|block:NAME")
    s = sub.add_parser("add-job")
    s.add_argument("--data", required=True)
    s.add_argument("--job", required=True)
    s.add_argument("--section")
    s.add_argument("--synopsis")
    s = sub.add_parser("get")
    s.add_argument("--data", required=True)
    s.add_argument("--job", required=True)
    s.add_argument("--uuid", required=True)
    s.add_argument("field", nargs="+")
    a = p.parse_args(argv)
    return {"serve": cmd_serve, "add": cmd_add, "add-job": cmd_add_job,
            "get": cmd_get}[a.cmd](a)


def run_batch():
    """The commands but serve, one request after the other. A request is the number of
    arguments, then each argument; the answer is the exit status, then what the command
    wrote to stdout, then what it wrote to stderr: each field ends with a NUL byte."""
    import io
    inp, outp = sys.stdin.buffer, sys.stdout.buffer

    def field():
        b = bytearray()
        while True:
            c = inp.read(1)
            if not c:
                return None
            if c == b"\0":
                return os.fsdecode(bytes(b))
            b += c

    while True:
        n = field()
        if n is None:
            return 0
        args = [field() for _ in range(int(n))]
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        try:
            if args[:1] in (["serve"], ["batch"]):
                sys.stderr.write("builder_web batch: %s runs on its own\n" % args[0])
                rc = 2
            else:
                rc = main(args)
        except SystemExit as e:         # argparse: usage errors, --help
            rc = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        except Exception:               # a bug here: said, and the next request served
            import traceback
            traceback.print_exc()
            rc = 1
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        outp.write(b"%d\0" % (rc or 0) + out.getvalue().encode("utf-8", "surrogateescape")
                   + b"\0" + err.getvalue().encode("utf-8", "surrogateescape") + b"\0")
        outp.flush()


if __name__ == "__main__":
    sys.exit(run_batch() if sys.argv[1:] == ["batch"] else main(sys.argv[1:]))
