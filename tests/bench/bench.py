#!/usr/bin/env python3
"""petrel benchmarks, on loopback against a local nginx serving builder-web's routes.

1. fetch: a 1 GiB build. Median wall time of
     - petrel fetch (download + SHA-256 + BLAKE2b-512 + minisign verification + store),
     - curl -s -o FILE URL (the bare download),
     - curl -o F && sha256sum F && minisign -Vm F (what a careful operator scripts),
   with the ratios against curl and petrel's peak RSS.
3. daemon: one cycle of `petrel daemon --once` over BENCH_TARGETS (default 1,000)
   targets of one server, all up to date (the steady state: one small request per
   target, build/latest, over one kept-alive connection), beside 1,000 separate `curl` runs asking
   the same server for each job's latest build (one request each).
2. revert: a 30 MB binary with orchestrator none. Median of petrel revert (from the
   store, no network) beside curl re-downloading the same file from the local server
   (what a revert by re-download, as albatross-client update and mollymawk do, costs).
3. scale: a store of 1,000 targets with 10 versions each (10,000 versions, 2
   generations and 10,000 chained journal rows), and one of a single target with
   10,000 versions, against one target with 10 versions: status --json and
   audit --no-rehash --json (no network, no re-hashing), median times and ratios.

The machine is shared and noisy: only ratios measured in the same invocation mean
anything. Environment: BENCH_SIZE_MIB (default 1024), BENCH_RUNS (default 5),
BENCH_REVERT_MIB (default 30), BENCH_KEEP=1 keeps the work directory, BENCH_ONLY
(comma-separated: fetch, revert, scale; default all).
"""
import base64, hashlib, json, os, resource, shutil, signal, socket, statistics
import subprocess, sys, tempfile, time, uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETREL = os.path.join(REPO, "petrel")
SIZE_MIB = int(os.environ.get("BENCH_SIZE_MIB", "1024"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
REVERT_MIB = int(os.environ.get("BENCH_REVERT_MIB", "30"))
TARGETS = int(os.environ.get("BENCH_TARGETS", "1000"))
ONLY = set(os.environ.get("BENCH_ONLY", "fetch,revert,daemon,scale").split(","))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_artifact(path, mib, seed):
    """Writes mib MiB of pseudo-random bytes, returns (sha256 hex, size)."""
    h = hashlib.sha256()
    block = hashlib.shake_256(seed).digest(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            chunk = bytes([i & 0xFF]) + block[1:]
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest(), mib << 20


class Site:
    """builder-web's routes as static files and one nginx configuration."""

    def __init__(self, work):
        self.work, self.root = work, os.path.join(work, "site")
        self.jobs = {}      # job -> [(uuid, sha, size, finish)]
        self.etags = {}     # artifact URL path -> base64 of the raw sha256
        os.makedirs(self.root)
        subprocess.run(["minisign", "-G", "-W", "-p", work + "/k.pub", "-s", work + "/k.sec"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def add(self, job, mib, seed, finish, nbytes=None):
        u = str(uuid.uuid4())
        d = os.path.join(self.root, job, u)
        os.makedirs(d)
        fname = job + ".hvt"
        art = os.path.join(d, fname)
        if nbytes is None:
            sha, size = make_artifact(art, mib, seed)
        else:
            data = hashlib.shake_256(seed).digest(nbytes)
            with open(art, "wb") as f:
                f.write(data)
            sha, size = hashlib.sha256(data).hexdigest(), nbytes
        t = time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime(finish))
        with open(os.path.join(d, "build.json"), "w") as f:
            json.dump({"job": job, "uuid": u, "platform": "debian-12", "start_time": t,
                       "finish_time": t, "main_binary": True}, f)
        sigdir = os.path.join(self.root, "sigs", job, u)
        os.makedirs(sigdir)
        tc = "timestamp:%d\tfile:%s\tjob:%s\tuuid:%s\tsha256:%s" % (finish, fname, job, u, sha)
        subprocess.run(["minisign", "-S", "-s", self.work + "/k.sec", "-m", art, "-x",
                        os.path.join(sigdir, fname + ".minisig"), "-t", tc],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.jobs.setdefault(job, []).append((u, sha, size, finish))
        self.etags["/job/%s/build/%s/f/bin/%s" % (job, u, fname)] = \
            base64.b64encode(bytes.fromhex(sha)).decode()
        with open(os.path.join(self.root, job, "job.json"), "w") as f:
            json.dump({"builds": [{"uuid": b[0], "main_binary": {
                "filename": fname, "sha256": b[1], "size": b[2]}} for b in self.jobs[job]]}, f)
        return u, sha

    def nginx_conf(self, port):
        latest = "".join(
            "        location = /job/%s/build/latest { return 307 /job/%s/build/%s; }\n"
            % (j, j, max(bs, key=lambda b: b[3])[0]) for j, bs in self.jobs.items())
        etags = "".join('        %s "%s";\n' % (p, e) for p, e in self.etags.items())
        w = self.work
        return """daemon off;
worker_processes 1;
error_log %(w)s/nginx-error.log;
pid %(w)s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    absolute_redirect off;
    client_body_temp_path %(w)s/ngx-tmp; proxy_temp_path %(w)s/ngx-tmp;
    fastcgi_temp_path %(w)s/ngx-tmp; uwsgi_temp_path %(w)s/ngx-tmp; scgi_temp_path %(w)s/ngx-tmp;
    map_hash_bucket_size 256;
    map $uri $petrel_etag {
        default "";
%(etags)s    }
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
        etag off;
%(latest)s        location ~ "^/job/([^/]+)$" { default_type application/json; try_files /$1/job.json =404; }
        location ~ "^/job/([^/]+)/build/([0-9a-f-]{36})$" {
            default_type application/json; try_files /$1/$2/build.json =404; }
        location ~ "^/job/([^/]+)/build/([0-9a-f-]{36})/main-binary$" {
            return 302 /job/$1/build/$2/f/bin/$1.hvt; }
        location ~ "^/job/([^/]+)/build/([0-9a-f-]{36})/f/bin/([^/]+)$" {
            default_type application/octet-stream;
            add_header ETag "\\"$petrel_etag\\"";
            try_files /$1/$2/$3 =404; }
        location /sigs/ { }
    }
}
""" % dict(w=w, port=port, root=self.root, latest=latest, etags=etags)


def timed(cmd):
    """Runs cmd (list, or str for the shell); returns its wall time in seconds."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (cmd, p.returncode, p.stderr.decode()[-500:]))
    return dt


def peak_rss_kib(cmd):
    """Peak RSS (KiB) of one run, via GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(out.stderr.decode().strip().splitlines()[-1])


def interleaved(fns, runs):
    """Median of each named function over runs, interleaved so noise hits all alike."""
    times = {n: [] for n, _ in fns}
    for _ in range(runs):
        for n, fn in fns:
            times[n].append(fn())
    interleaved.spread = {n: (min(v), max(v)) for n, v in times.items()}
    return {n: statistics.median(v) for n, v in times.items()}


def bench_fetch(work, base, site_job, sha_url, sigfile):
    conf = os.path.join(work, "fetch.conf")
    with open(conf, "w") as f:
        f.write("[petrel]\nstate_dir = %s/state-fetch\n[server \"n\"]\nurl = %s\n"
                "[target \"big\"]\nserver = n\njob = big\npath = %s/deploy/big\n"
                "keys = %s/k.pub\nsignatures = %s/sigs/{job}/{uuid}/{filename}.minisig\n"
                % (work, base, work, work, base))
    out = os.path.join(work, "out.bin")

    def petrel_fetch():
        shutil.rmtree(os.path.join(work, "state-fetch"), ignore_errors=True)
        return timed([PETREL, "-q", "-c", conf, "fetch"])

    def curl_o():
        return timed(["curl", "-s", "-o", out, sha_url])

    def pipeline():
        return timed("curl -s -o %s %s && sha256sum %s && minisign -Vm %s -p %s/k.pub -x %s"
                     % (out, sha_url, out, out, work, sigfile))

    fns = [("petrel fetch", petrel_fetch), ("curl -o", curl_o),
           ("curl+sha256sum+minisign", pipeline)]
    petrel_fetch(), curl_o()    # warm the page cache and nginx
    med = interleaved(fns, RUNS)
    shutil.rmtree(os.path.join(work, "state-fetch"), ignore_errors=True)
    rss = peak_rss_kib([PETREL, "-q", "-c", conf, "fetch"])
    mib = SIZE_MIB
    print("bench fetch: a %d MiB build over loopback, median of %d runs" % (SIZE_MIB, RUNS))
    for n, _ in fns:
        print("  %-26s %7.3f s  %7.0f MiB/s" % (n, med[n], mib / med[n]))
    print("  petrel / curl -o           %7.2fx   (target <= 1.15x)"
          % (med["petrel fetch"] / med["curl -o"]))
    print("  pipeline / petrel          %7.2fx   (target >= 3x)"
          % (med["curl+sha256sum+minisign"] / med["petrel fetch"]))
    print("  petrel peak RSS            %7.1f MiB (target < 32 MiB)" % (rss / 1024))


def bench_revert(work, base, uuids, url):
    conf = os.path.join(work, "revert.conf")
    with open(conf, "w") as f:
        f.write("[petrel]\nstate_dir = %s/state-revert\n[server \"n\"]\nurl = %s\n"
                "[target \"small\"]\nserver = n\njob = small\npath = %s/deploy/small.hvt\n"
                "orchestrator = none\nkeys = %s/k.pub\n"
                "signatures = %s/sigs/{job}/{uuid}/{filename}.minisig\n"
                % (work, base, work, work, base))
    for u in uuids:     # two generations: the revert flips between them
        timed([PETREL, "-q", "-c", conf, "upgrade", "small", "--to", u])
    out = os.path.join(work, "redownload.bin")
    fns = [("petrel revert", lambda: timed([PETREL, "-q", "-c", conf, "revert", "small"])),
           ("curl re-download", lambda: timed(["curl", "-s", "-o", out, url]))]
    runs = max(RUNS, 11)
    med = interleaved(fns, runs)
    print("bench revert: a %d MiB binary, orchestrator none, median of %d runs"
          % (REVERT_MIB, runs))
    for n, _ in fns:
        print("  %-26s %7.3f s" % (n, med[n]))
    print("  curl re-download / revert  %7.2fx" % (med["curl re-download"] / med["petrel revert"]))


def bench_daemon(work, base, jobs):
    conf = os.path.join(work, "daemon.conf")
    with open(conf, "w") as f:
        f.write("[petrel]\nstate_dir = %s/state-daemon\n[server \"n\"]\nurl = %s\n" % (work, base))
        for j in jobs:
            f.write("[target \"%s\"]\nserver = n\njob = %s\npath = %s/deploy/%s\n"
                    "auto = fetch\nkeys = %s/k.pub\n"
                    "signatures = %s/sigs/{job}/{uuid}/{filename}.minisig\n"
                    % (j, j, work, j, work, base))
    timed([PETREL, "-q", "-c", conf, "daemon", "--once"])     # stages every build once
    import sqlite3
    db = sqlite3.connect(os.path.join(work, "state-daemon", "petrel.db"))
    staged = db.execute("select count(distinct target) from versions").fetchone()[0]
    db.close()
    if staged != len(jobs):
        sys.exit("bench: the first daemon cycle staged %d of %d targets" % (staged, len(jobs)))
    urls = ["%s/job/%s/build/latest" % (base, j) for j in jobs]

    def curls():
        t0 = time.perf_counter()
        for u in urls:
            subprocess.run(["curl", "-s", "-o", "/dev/null", u], check=True)
        return time.perf_counter() - t0

    fns = [("petrel daemon --once", lambda: timed([PETREL, "-q", "-c", conf, "daemon", "--once"])),
           ("%d x curl" % len(jobs), curls)]
    runs = max(5, RUNS)
    med = interleaved(fns, runs)
    print("bench daemon: one cycle over %d targets on one server, all up to date (one "
          "request each: build/latest), median of %d" % (len(jobs), runs))
    for n, _ in fns:
        lo, hi = interleaved.spread[n]
        print("  %-26s %7.3f s  %7.2f ms/target  (spread %.3f-%.3f s)"
              % (n, med[n], med[n] * 1000 / len(jobs), lo, hi))
    print("  curls / daemon cycle       %7.2fx   (goal >= 20x)"
          % (med["%d x curl" % len(jobs)] / med["petrel daemon --once"]))


def scale_store(work, name, ntargets, nversions):
    """A state directory made by petrel itself (so the schema is its own), filled with
    python's sqlite3: ntargets targets of nversions versions each, generations 1 and 2
    current and previous, one chained journal row per version. One real 4 KiB blob
    and deployed files holding it, so audit's checks find everything in order."""
    import sqlite3
    conf = os.path.join(work, name + ".conf")
    deploy = os.path.join(work, name + "-deploy")
    os.makedirs(deploy)
    with open(conf, "w") as f:
        f.write("[petrel]\nstate_dir = %s/%s-state\n[server \"n\"]\nurl = http://127.0.0.1:9\n"
                % (work, name))
        for t in range(ntargets):
            f.write("[target \"t%04d\"]\nserver = n\njob = j%04d\npath = %s/t%04d\n"
                    "trust = server\norchestrator = none\n" % (t, t, deploy, t))
    timed([PETREL, "-q", "-c", conf, "status"])         # creates petrel.db
    blob = b"petrel-scale" * 341 + b"...."
    sha = hashlib.sha256(blob).hexdigest()
    state = os.path.join(work, name + "-state")
    os.makedirs(os.path.join(state, "objects", "sha256", sha[:2]), exist_ok=True)
    with open(os.path.join(state, "objects", "sha256", sha[:2], sha[2:]), "wb") as f:
        f.write(blob)
    db = sqlite3.connect(os.path.join(state, "petrel.db"))
    prev, now, jid = "0" * 64, int(time.time()), 0
    with db:
        for t in range(ntargets):
            tn = "t%04d" % t
            with open(os.path.join(deploy, tn), "wb") as f:
                f.write(blob)
            os.chmod(os.path.join(deploy, tn), 0o755)     # as petrel deploys it
            db.execute("INSERT INTO targets (name, high_water, current, previous) VALUES (?,?,2,1)",
                       (tn, now))
            ids = []
            for v in range(nversions):
                u = str(uuid.UUID(int=t * 1000003 + v))
                cur = db.execute(
                    "INSERT INTO versions (target, job, uuid, filename, sha256, size, trust,"
                    " timestamp, verified_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (tn, "j%04d" % t, u, "x.hvt", sha, len(blob), "server", now - nversions + v, now))
                ids.append(cur.lastrowid)
                detail = "job=j%04d uuid=%s sha256=%s" % (t, u, sha)
                h = hashlib.sha256(("%s\n%d\n%s\nfetch\n%s" % (prev, now, tn, detail)).encode()).hexdigest()
                jid = db.execute("INSERT INTO journal (time, target, event, detail, prev, hash)"
                                 " VALUES (?,?,?,?,?,?)", (now, tn, "fetch", detail, prev, h)).lastrowid
                prev = h
            for n, vid in ((1, ids[-2]), (2, ids[-1])):
                db.execute("INSERT INTO generations (target, number, version, parent, deployed_at,"
                           " state) VALUES (?,?,?,?,?, 'deployed')", (tn, n, vid, n - 1, now))
        db.execute("INSERT INTO journal_head (one, id, hash) VALUES (1, ?, ?)"
                   " ON CONFLICT (one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
                   (jid, prev))
    db.close()
    return conf


def bench_scale(work):
    stores = [("1 target x 10 versions", scale_store(work, "small", 1, 10)),
              ("1000 targets x 10 versions", scale_store(work, "wide", 1000, 10)),
              ("1 target x 10000 versions", scale_store(work, "deep", 1, 10000))]
    fns = []
    for label, conf in stores:
        for cmd in (["status"], ["audit", "--no-rehash"]):
            extra = ["--metrics", os.path.join(work, "m.prom")] if cmd[0] == "audit" else []
            fns.append(("%s %s" % (" ".join(cmd), label),
                        lambda c=conf, a=cmd + extra: timed([PETREL, "-q", "--json", "-c", c] + a)))
    runs = max(RUNS, 5)
    med = interleaved(fns, runs)
    print("bench scale: --json, no network, no re-hashing (audit also writes --metrics),"
          " median of %d runs" % runs)
    for n, _ in fns:
        print("  %-50s %7.3f s" % (n, med[n]))
    for cmd in ("status", "audit --no-rehash"):
        base = med["%s 1 target x 10 versions" % cmd]
        print("  %-18s 1000 targets / 1 target: %6.1fx (targets x1000);  10000 versions / 10: "
              "%5.1fx" % (cmd, med["%s 1000 targets x 10 versions" % cmd] / base,
                          med["%s 1 target x 10000 versions" % cmd] / base))


def main():
    if not os.path.exists(PETREL):
        sys.exit("bench: build ./petrel first (make)")
    work = tempfile.mkdtemp(prefix="petrel-bench.")
    os.chmod(work, 0o755)  # nginx workers run unprivileged
    nginx = None
    try:
        if "scale" in ONLY:
            bench_scale(work)
        if not ONLY & {"fetch", "revert", "daemon"}:
            return
        site = Site(work)
        now = int(time.time())
        print("bench: writing a %d MiB and two %d MiB artifacts ..." % (SIZE_MIB, REVERT_MIB),
              flush=True)
        big, _ = site.add("big", SIZE_MIB, b"petrel-bench", now)
        s1, _ = site.add("small", REVERT_MIB, b"petrel-small-1", now - 60)
        s2, _ = site.add("small", REVERT_MIB, b"petrel-small-2", now)
        jobs = ["d%04d" % i for i in range(TARGETS)]
        for j in jobs:
            site.add(j, 0, j.encode(), now - 120, nbytes=4096)
        os.makedirs(os.path.join(work, "ngx-tmp"))
        port = free_port()
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(site.nginx_conf(port))
        nginx = subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work],
                                 stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        base = "http://127.0.0.1:%d" % port
        print("bench: %s, %d cores" % (os.uname().machine, os.cpu_count()), flush=True)
        if "fetch" in ONLY:
            bench_fetch(work, base, "big", "%s/job/big/build/%s/f/bin/big.hvt" % (base, big),
                        os.path.join(site.root, "sigs", "big", big, "big.hvt.minisig"))
        if "revert" in ONLY:
            bench_revert(work, base, [s1, s2],
                         "%s/job/small/build/%s/f/bin/small.hvt" % (base, s1))
        if "daemon" in ONLY:
            bench_daemon(work, base, jobs)
    finally:
        if nginx:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
