#!/usr/bin/env python3
"""A download mirror for petrel's tests (Python 3 standard library only).

Serves builder-web's artifact paths, GET /job/JOB/build/UUID/f/PATH, from the look-alike's
data directory (BUILDS/JOB/UUID/PATH), as a static copy or a cache in front of
builder-web would: Content-Length, Accept-Ranges: bytes and single Range requests
(206 with Content-Range), an ETag of nginx's kind ("mtime-size" in hex), keep-alive.
Everything else is 404.

    mirror.py --builds DATA/builds --dir DIR [--port N] [--port-file F]

DIR/requests.log   one line per request: METHOD<TAB>PATH<TAB>RANGE ("-" for none)
DIR/mode           hostile modes, one per line (absent = a good mirror):
    503, 404                answer with that status
    short-length            Content-Length one byte short, that many bytes sent
    extra                   chunked, no Content-Length, 100 bytes more than the file
    wrong-bytes             one byte in the middle flipped
    etag-other              ETag: Base64 of another sha256 (builder-web's ETag form)
    cut N                   the first answer for a path closes after N body bytes
                            (Content-Length announced whole); later ones are whole
    cut-always N            every answer closes after N body bytes of its own
    no-ranges               no Accept-Ranges, Range ignored (whole file, 200)
    ignore-range            says Accept-Ranges: bytes, but answers Range with a 200
    bad-range               answers Range with a 206 whose Content-Range is off by one
    redirect URL            302 to URL + the same path (another mirror)
"""
import argparse
import base64
import hashlib
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024
PATH_RE = re.compile(r"^/job/([^/]+)/build/([^/]+)/f/(.+)$")
RANGE_RE = re.compile(r"^bytes=(\d+)-$")


def read_modes(d):
    modes = {}
    try:
        with open(os.path.join(d, "mode")) as f:
            for line in f:
                parts = line.split(None, 1)
                if parts:
                    modes[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    except FileNotFoundError:
        pass
    return modes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mirror/1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        with open(os.path.join(self.server.dir, "requests.log"), "a") as f:
            f.write("%s\t%s\t%s\n" % (self.command, self.path,
                                       self.headers.get("Range", "-")))

    def plain(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.log_request_line()
        modes = read_modes(self.server.dir)
        for code in ("503", "404"):
            if code in modes:
                return self.plain(int(code), "mirror says %s\n" % code)
        m = PATH_RE.match(self.path.split("?", 1)[0])
        if not m:
            return self.plain(404, "not found\n")
        if "redirect" in modes:
            self.send_response(302)
            self.send_header("Location", modes["redirect"] + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        job, uuid, rel = m.groups()
        path = os.path.join(self.server.builds, job, uuid, *rel.split("/"))
        if ".." in rel.split("/") or not os.path.isfile(path):
            return self.plain(404, "not found\n")
        with open(path, "rb") as f:
            data = f.read()
        self.send_data(data, modes, os.stat(path))

    def send_data(self, data, modes, st):
        size = len(data)
        if "wrong-bytes" in modes and size:
            i = size // 2
            data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
        ranges = "no-ranges" not in modes
        start = 0
        rng = RANGE_RE.match(self.headers.get("Range", ""))
        partial = ranges and rng is not None and "ignore-range" not in modes
        if partial:
            start = int(rng.group(1))
            if start >= size:
                return self.plain(416, "range not satisfiable\n")
        body = data[start:]
        cut = None
        if "cut-always" in modes:
            cut = int(modes["cut-always"])
        elif "cut" in modes and not self.server.cut_done.get(self.path):
            cut = int(modes["cut"])
            self.server.cut_done[self.path] = True
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        if ranges:
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            last = size - 1
            if "bad-range" in modes:
                last -= 1
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, last, size))
        if "etag-other" in modes:
            other = hashlib.sha256(b"other" + data).digest()
            self.send_header("ETag", base64.b64encode(other).decode())
        else:
            self.send_header("ETag", '"%x-%x"' % (int(st.st_mtime), st.st_size))
        if "extra" in modes:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            body = body + b"\0" * 100
            for i in range(0, len(body), CHUNK):
                piece = body[i:i + CHUNK]
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        length = len(body)
        if "short-length" in modes:
            length -= 1
            body = body[:length]
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description="a download mirror for petrel's tests")
    p.add_argument("--builds", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.builds, srv.dir, srv.cut_done = a.builds, a.dir, {}
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
