#!/usr/bin/env python3
"""builder-web look-alike for petrel's tests (Python 3 standard library only).

Answers the routes petrel uses exactly as builder-web (robur-coop/builder-web, the Vif
version behind builds.robur.coop) does, from a data directory that tests change while the
server runs (it is rescanned on every request):

    DATA/builds/JOB/UUID/build.json   {"job","uuid","platform","start_time","finish_time",
                                       "filename","sha256","size"}   (filename null: failed)
    DATA/builds/JOB/UUID/bin/FILENAME the main binary
    DATA/sigs/...                     static files served under /sigs/ (minisign signatures)
    DATA/mode                         hostile modes, one per line: "MODE [SUBSTRING]"
                                      (with SUBSTRING the mode applies only to requests
                                      whose path+query contains it); absent = normal
    DATA/requests.log                 one line per request: METHOD<TAB>PATH?QUERY<TAB>ACCEPT

Commands:
    builder_web.py serve --data DATA [--port 0] --port-file FILE
    builder_web.py add   --data DATA --job J --file PATH [--uuid U] [--platform P]
                         [--finish-time EPOCH] [--start-time EPOCH] [--filename NAME]
                         [--link] [--failed]                       -> prints the uuid
    builder_web.py get   --data DATA --job J --uuid U FIELD        -> prints one field
                         (job uuid platform filename sha256 size start_time finish_time
                          start_epoch finish_epoch path etag)

Hostile modes (see MODES below for which routes each one touches):
    flip, truncate, endless, endless-chunked, trickle, wrong-etag, length-mismatch
        (artifact downloads, /job/J/build/UUID/f/...)
    truncated-json, endless-json, trickle-json   (JSON answers)
    redirect-loop   (main-binary redirects to itself, /f/... redirects forever)
    no-location     (every redirect is sent without Location)
    500             (every route answers 500 Internal Server Error, text/plain)
    hang            (every route: no answer at all for up to 120 s)
"""

import argparse
import base64
import calendar
import hashlib
import json
import os
import random
import shutil
import socket
import sys
import threading
import time
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024
SAFETY_BYTES = 4 * 1024 * 1024 * 1024   # endless bodies stop after 4 GiB ...
SAFETY_SECONDS = 120                    # ... or 120 s, whichever comes first
TRICKLE_INTERVAL = 2.0

ARTIFACT_MODES = {"flip", "truncate", "endless", "endless-chunked", "trickle",
                  "wrong-etag", "length-mismatch"}
JSON_MODES = {"truncated-json", "endless-json", "trickle-json"}
OTHER_MODES = {"redirect-loop", "no-location", "500", "hang"}
MODES = ARTIFACT_MODES | JSON_MODES | OTHER_MODES

DEFAULT_PLATFORM = "ubuntu-22.04"


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
                 "size", "seq", "dir")

    def sort_key(self):
        return (self.start, self.finish, self.seq, self.uuid)

    def has_main(self):
        return bool(self.filename) and bool(self.sha256)

    def bin_path(self):
        return os.path.join(self.dir, "bin", self.filename)

    def etag(self):
        return etag_of_hex(self.sha256)


def etag_of_hex(hexdigest):
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def load_build(path):
    with open(path, "rb") as f:
        j = json.loads(f.read().decode("utf-8"))
    b = Build()
    b.dir = os.path.dirname(path)
    b.job = j.get("job") or os.path.basename(os.path.dirname(b.dir))
    b.uuid = j.get("uuid") or os.path.basename(b.dir)
    b.platform = j.get("platform") or DEFAULT_PLATFORM
    b.finish = parse_time(j["finish_time"]) if "finish_time" in j else os.path.getmtime(path)
    b.start = parse_time(j["start_time"]) if "start_time" in j else b.finish - 60
    b.filename = j.get("filename")
    b.sha256 = (j.get("sha256") or "").lower() or None
    b.size = j.get("size")
    if b.has_main() and b.size is None:
        b.size = os.path.getsize(b.bin_path())
    b.seq = j.get("seq", 0)
    return b


def scan(data):
    """All builds, newest first (by start time, as builder-web orders them)."""
    builds = []
    root = os.path.join(data, "builds")
    try:
        jobs = os.listdir(root)
    except FileNotFoundError:
        return builds
    for job in jobs:
        jd = os.path.join(root, job)
        try:
            uuids = os.listdir(jd)
        except (NotADirectoryError, FileNotFoundError):
            continue
        for u in uuids:
            p = os.path.join(jd, u, "build.json")
            try:
                builds.append(load_build(p))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except (ValueError, KeyError) as e:
                sys.stderr.write("builder_web: ignoring %s: %s\n" % (p, e))
    builds.sort(key=Build.sort_key, reverse=True)
    return builds


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


# ----------------------------------------------------------------------------- HTTP

def html_page(title, body):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
            "<body><h1>%s</h1>%s</body></html>\n" % (title, title, body)).encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "builder-web-lookalike/1"

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
        return "application/json" in (self.headers.get("Accept") or "")

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
                                   % self.path.replace("<", "&lt;")),
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

    def endless(self, chunked, first=b""):
        """Body without Content-Length that never ends (within the safety caps)."""
        self.close_after()
        if self.command == "HEAD":
            return
        buf = (first * (CHUNK // max(1, len(first)) + 1))[:CHUNK] if first else b"\0" * CHUNK
        sent, t0 = 0, time.monotonic()
        while sent < SAFETY_BYTES and time.monotonic() - t0 < SAFETY_SECONDS:
            if chunked:
                self.wfile.write(b"%x\r\n" % len(buf) + buf + b"\r\n")
            else:
                self.wfile.write(buf)
            sent += len(buf)
        # safety cap reached: just stop (the connection is closed, no final chunk)

    def trickle(self, body):
        """All headers with the true length, then one byte every TRICKLE_INTERVAL s."""
        self.close_after()
        if self.command == "HEAD":
            return
        t0 = time.monotonic()
        for i in range(len(body)):
            if time.monotonic() - t0 > SAFETY_SECONDS:
                return
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(TRICKLE_INTERVAL)

    def send_json(self, obj):
        body = json.dumps(obj).encode("utf-8")
        if self.mode("endless-json"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            # a syntactically plausible prefix, then whitespace for ever
            if self.command != "HEAD":
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

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.log_request_line()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.not_found()

    def do_GET(self):
        try:
            self.log_request_line()
            self.modes = read_modes(self.server.data)
            if self.mode("hang"):
                self.close_after()
                time.sleep(SAFETY_SECONDS)
                return
            if self.mode("500"):
                self.error500()
                return
            self.route()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_after()

    def route(self):
        u = urlsplit(self.path)
        query = parse_qs(u.query)
        platform = query.get("platform", [None])[0]
        parts = [unquote(p) for p in u.path.split("/")[1:]]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts = parts[:-1]          # tolerate one trailing slash

        if parts[:1] == ["sigs"] and len(parts) > 1:
            return self.static_sig(parts[1:])
        if parts == ["hash"]:
            return self.hash_route(query.get("sha256", [""])[0])
        if len(parts) >= 2 and parts[0] == "job":
            job = parts[1]
            builds = [b for b in scan(self.server.data) if b.job == job]
            if len(parts) == 2:
                return self.job_route(job, builds, platform)
            if parts[2] != "build" or len(parts) < 4:
                return self.not_found()
            ident, rest = parts[3], parts[4:]
            if ident == "latest":
                cands = [b for b in builds if b.has_main()
                         and (platform is None or b.platform == platform)]
                if not cands:
                    return self.not_found()
                loc = "/job/%s/build/%s" % (job, cands[0].uuid)
                if rest:
                    loc += "/" + "/".join(rest)
                return self.redirect(307, loc)
            b = next((b for b in builds if b.uuid == ident), None)
            if b is None:
                return self.not_found()
            if not rest:
                return self.build_route(b)
            if rest == ["main-binary"]:
                if not b.has_main():
                    return self.not_found()
                if self.mode("redirect-loop"):
                    return self.redirect(302, "/job/%s/build/%s/main-binary" % (job, b.uuid))
                return self.redirect(302, "/job/%s/build/%s/f/bin/%s" % (job, b.uuid, b.filename))
            if rest[0] == "f" and len(rest) > 1:
                return self.file_route(b, rest[1:], query)
            return self.not_found()
        return self.not_found()

    # -- routes --------------------------------------------------------------

    def job_route(self, job, builds, platform):
        if not builds:
            return self.not_found()
        if not self.wants_json():
            items = "".join("<li>%s</li>" % b.uuid for b in builds)
            return self.simple(200, html_page("Job " + job, "<ul>%s</ul>" % items),
                               "text/html; charset=utf-8")
        seen = {}
        for b in builds:                # newest first: the first uuid per hash wins
            if not b.has_main() or (platform is not None and b.platform != platform):
                continue
            if b.sha256 not in seen:
                seen[b.sha256] = {"uuid": b.uuid,
                                  "main_binary": {"filename": b.filename,
                                                  "sha256": b.sha256, "size": b.size}}
        entries = list(seen.values())
        random.shuffle(entries)         # builder-web's order is not defined: match uuids
        return self.send_json({"builds": entries})

    def build_route(self, b):
        if not self.wants_json():
            body = ("<p>uuid %s, platform %s, finished %s</p>"
                    % (b.uuid, b.platform, rfc3339(b.finish)))
            if b.has_main():
                body += "<p>%s SHA256:%s (%d bytes)</p>" % (b.filename, b.sha256, b.size)
            return self.simple(200, html_page("Job %s build %s" % (b.job, b.uuid), body),
                               "text/html; charset=utf-8")
        return self.send_json({"job": b.job, "uuid": b.uuid, "platform": b.platform,
                               "start_time": rfc3339(b.start),
                               "finish_time": rfc3339(b.finish),
                               "main_binary": b.has_main()})

    def hash_route(self, hexdigest):
        h = hexdigest.lower()
        if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            return self.simple(400, b"Bad request", "text/plain; charset=utf-8")
        for b in scan(self.server.data):
            if b.sha256 == h:
                return self.redirect(302, "/job/%s/build/%s" % (b.job, b.uuid))
        return self.not_found()

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

    def file_route(self, b, rel, query):
        if any(p in ("", ".", "..") or "\0" in p for p in rel):
            return self.not_found()
        if self.mode("redirect-loop"):
            n = int(query.get("loop", ["0"])[0] or 0) + 1
            return self.redirect(302, "/job/%s/build/%s/f/%s?loop=%d"
                                 % (b.job, b.uuid, "/".join(rel), n))
        relpath = "/".join(rel)
        if b.has_main() and relpath == "bin/" + b.filename:
            path, size, sha = b.bin_path(), b.size, b.sha256
            ctype = "application/octet-stream"
        else:
            if relpath == "build.json":
                return self.not_found()
            path = os.path.join(b.dir, *rel)
            if not os.path.isfile(path):
                return self.not_found()
            size = os.path.getsize(path)
            sha = sha256_file(path)
            ctype = ("application/octet-stream" if rel[0] == "bin"
                     else "text/plain; charset=utf-8")
        try:
            f = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError):
            return self.not_found()
        with f:
            self.send_file(f, size, sha, ctype)

    def send_file(self, f, size, sha, ctype):
        etag = etag_of_hex(sha)
        inm = self.headers.get("If-None-Match")
        if inm:
            tags = [t.strip() for t in inm.split(",")]
            tags = [t[2:] if t.startswith("W/") else t for t in tags]
            tags = [t.strip('"') for t in tags]
            if etag in tags or "*" in tags:
                self.send_response(304)
                self.send_header("ETag", '"%s"' % etag)
                self.end_headers()
                return
        if self.mode("wrong-etag"):
            etag = etag_of_hex(hashlib.sha256(b"wrong" + bytes.fromhex(sha)).hexdigest())

        endless = self.mode("endless") or self.mode("endless-chunked")
        length = size
        if self.mode("length-mismatch"):
            length = size + 1
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("ETag", '"%s"' % etag)
        if self.mode("endless-chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
        elif self.mode("endless"):
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(length))
        trickle = self.mode("trickle")
        truncate = self.mode("truncate")
        if trickle or truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if endless:
            return self.endless(self.mode("endless-chunked"))
        if trickle:
            return self.trickle(f.read(min(size, 1024)))
        limit = size // 2 if truncate else size
        flip_at = size // 2 if self.mode("flip") and size > 0 else -1
        pos = 0
        while pos < limit:
            buf = f.read(min(CHUNK, limit - pos))
            if not buf:
                break
            if pos <= flip_at < pos + len(buf):
                i = flip_at - pos
                buf = buf[:i] + bytes([buf[i] ^ 0x01]) + buf[i + 1:]
            self.wfile.write(buf)
            pos += len(buf)
        if truncate:
            self.wfile.flush()
            self.close_after()
            return
        if pos < limit:                 # file shrank under us: cannot keep framing
            self.close_after()
            return
        if length > size:
            self.wfile.write(b"\n" * (length - size))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


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


def cmd_add(a):
    u = a.uuid or str(uuidlib.uuid4())
    finish = a.finish_time if a.finish_time is not None else int(time.time())
    start = a.start_time if a.start_time is not None else finish - 60
    d = os.path.join(a.data, "builds", a.job, u)
    if os.path.exists(os.path.join(d, "build.json")):
        sys.stderr.write("builder_web add: build %s/%s exists\n" % (a.job, u))
        return 1
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
    tmp = os.path.join(d, ".build.json.tmp")
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=1)
        f.write("\n")
    os.rename(tmp, os.path.join(d, "build.json"))   # atomic: scans never see half
    print(u)
    return 0


def cmd_get(a):
    p = os.path.join(a.data, "builds", a.job, a.uuid, "build.json")
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
    if a.field not in vals:
        sys.stderr.write("builder_web get: unknown field %s (one of %s)\n"
                         % (a.field, " ".join(sorted(vals))))
        return 2
    print(vals[a.field])
    return 0


def main(argv):
    p = argparse.ArgumentParser(description="builder-web look-alike for petrel's tests")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--data", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
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
    s = sub.add_parser("get")
    s.add_argument("--data", required=True)
    s.add_argument("--job", required=True)
    s.add_argument("--uuid", required=True)
    s.add_argument("field")
    a = p.parse_args(argv)
    return {"serve": cmd_serve, "add": cmd_add, "get": cmd_get}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
