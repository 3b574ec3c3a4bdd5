#!/usr/bin/env python3
"""petrel benchmarks, on loopback against a local nginx serving builder-web's routes.

1. fetch: issue 12's goals, at 1 GiB and at 256 MiB (BENCH_FETCH_MIB), both served by a
   local nginx from the page cache (the 256 MiB case is the harder one: nothing hides
   petrel's CPU). Each run, interleaved, with the caches and the disk settled (sync)
   before each command:
     - petrel fetch (download + SHA-256 + BLAKE2b-512 + minisign verification + fsync
       + store), its wall time, CPU time (user+sys) and peak RSS,
     - curl -s -o F URL && sync F (the durable download, petrel's fair peer),
     - curl -s -o F URL && sync F && sha256sum F && minisign -Vm F (what a careful
       operator scripts),
     - openssl dgst -sha256 of the same bytes from the page cache.
   Medians of BENCH_RUNS (at least 5) with the spread (min-max); the ratios come from
   the medians of the same invocation, checked against the goals (HOLDS / MISSES). The
   whole measurement is made BENCH_FETCH_ROUNDS times (default 3): a goal holds only if
   it holds in every round.
2. profile: perf's top entries of one petrel fetch (tests/bench/profile.py), beside
   the profile before issue 12's work (tests/bench/profile-before.md, or a fresh one of
   BENCH_PETREL_BEFORE=BINARY).
3. daemon: one cycle of `petrel daemon --once` over BENCH_TARGETS (default 1,000)
   targets of one server, all up to date, beside 1,000 separate `curl` runs asking the
   same server for each job's latest build; the requests per up-to-date poll, counted
   in nginx's access log.
4. revert: a 30 MB binary with orchestrator none. Median of petrel revert (from the
   store, no network) beside curl re-downloading the same file from the local server
   (what a revert by re-download, as albatross-client update and mollymawk do, costs).
5. scale: a store of 1,000 targets with 10 versions each (10,000 versions, 2
   generations and 10,000 chained journal rows), and one of a single target with
   10,000 versions, against one target with 10 versions: status --json and
   audit --no-rehash --json (no network, no re-hashing), median times and ratios.

The results go to stdout and to tests/bench/RESULTS.md (BENCH_RESULTS=FILE elsewhere,
BENCH_RESULTS= not at all): the machine, then one section per benchmark that ran
(a section that did not run keeps what an earlier invocation wrote); everything below
the line RESULTS_TAIL is kept as it is, for other benches to append to.

Only ratios measured in the same invocation, on a quiet machine, mean anything; the
load average before and after each section is written beside it. Environment:
BENCH_FETCH_MIB (default "1024,256"; BENCH_SIZE_MIB is the same), BENCH_RUNS (default
5, never fewer for the goals), BENCH_FETCH_ROUNDS (default 3), BENCH_REVERT_MIB (default 30), BENCH_TARGETS (default
1000), BENCH_KEEP=1 keeps the work directory, BENCH_ONLY (comma-separated: fetch,
profile, daemon, revert, scale; default all), BENCH_PETREL_BEFORE (another petrel
binary, say the tree before a change: fetched and profiled beside ./petrel).
"""
import base64, hashlib, json, os, resource, shutil, signal, socket, statistics
import subprocess, sys, tempfile, time, uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETREL = os.path.join(REPO, "petrel")
FETCH_MIB = [int(x) for x in os.environ.get(
    "BENCH_FETCH_MIB", os.environ.get("BENCH_SIZE_MIB", "1024,256")).split(",") if x.strip()]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ROUNDS = int(os.environ.get("BENCH_FETCH_ROUNDS", "3"))
REVERT_MIB = int(os.environ.get("BENCH_REVERT_MIB", "30"))
TARGETS = int(os.environ.get("BENCH_TARGETS", "1000"))
ONLY = set(os.environ.get("BENCH_ONLY", "fetch,profile,revert,daemon,scale").split(","))
BEFORE = os.environ.get("BENCH_PETREL_BEFORE")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(REPO, "tests", "bench", "RESULTS.md"))
RESULTS_TAIL = "<!-- bench.py writes everything above this line; other benches append below it -->"


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
    log_format petrel '$request';
    access_log %(w)s/access.log petrel;
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


def measured(cmd):
    """Runs cmd (list, or str for the shell) once: (wall s, CPU s user+sys, peak RSS MiB).
    The CPU is the command's and everything it waited for (wait4's rusage); the RSS is
    GNU time's %M of the largest process, since a child's own maxrss would include the
    python it was forked from."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else cmd
    with tempfile.TemporaryFile() as errf, tempfile.NamedTemporaryFile() as rssf:
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rssf.name] + argv,
                             stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            errf.seek(0)
            sys.exit("bench: %s failed (%d): %s"
                     % (cmd, p.returncode, errf.read().decode(errors="replace")[-500:]))
        rss = int(rssf.read().decode().split()[-1]) / 1024.0
    return dt, ru.ru_utime + ru.ru_stime, rss


def interleaved(fns, runs):
    """Median of each named function over runs, interleaved so noise hits all alike."""
    times = {n: [] for n, _ in fns}
    for _ in range(runs):
        for n, fn in fns:
            times[n].append(fn())
    interleaved.spread = {n: (min(v), max(v)) for n, v in times.items()}
    return {n: statistics.median(v) for n, v in times.items()}


def stats(values):
    """(median, min, max)"""
    return statistics.median(values), min(values), max(values)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fetch_conf(work, base, job):
    conf = os.path.join(work, "fetch-%s.conf" % job)
    with open(conf, "w") as f:
        f.write("[petrel]\nstate_dir = %s/state-fetch\n[server \"n\"]\nurl = %s\n"
                "[target \"%s\"]\nserver = n\njob = %s\npath = %s/deploy/%s\n"
                "keys = %s/k.pub\nsignatures = %s/sigs/{job}/{uuid}/{filename}.minisig\n"
                % (work, base, job, job, work, job, work, base))
    return conf


def fresh_state(work, conf):
    """Puts back the state directory as petrel laid it out before any fetch (made once
    by `petrel fsck`): each fetch then stores into an existing store, as on a host,
    rather than also creating the database."""
    state = os.path.join(work, "state-fetch")
    pristine = "%s.pristine-%s" % (state, os.path.basename(conf))
    if not os.path.isdir(pristine):
        shutil.rmtree(state, ignore_errors=True)
        timed([PETREL, "-q", "-c", conf, "fsck"])
        os.rename(state, pristine)
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(pristine, state, symlinks=True)


# Issue 12's goals, per figure: (name, formula, test, goal text)
def fetch_goals(mib):
    pipe = 3.0 if mib >= 1024 else 2.5
    return [("petrel / durable download", lambda m: m["petrel fetch"] / m["curl -o F && sync F"],
             lambda r: r <= 1.15, "<= 1.15x"),
            ("careful pipeline / petrel", lambda m: m["pipeline"] / m["petrel fetch"],
             lambda r: r >= pipe, ">= %gx" % pipe),
            ("petrel / (openssl dgst -sha256 + durable download)",
             lambda m: m["petrel fetch"] / (m["openssl dgst -sha256"] + m["curl -o F && sync F"]),
             lambda r: r <= 1.5, "<= 1.5x")]


def bench_fetch_size(work, base, job, mib, url, artifact, sigfile):
    """One size: {name: [(wall, cpu, rss)]} over the runs, interleaved, each command
    started with the disk settled (os.sync) and its own output file gone."""
    conf = fetch_conf(work, base, job)
    out = os.path.join(work, "out.bin")
    state = os.path.join(work, "state-fetch")
    cmds = [("petrel fetch", [PETREL, "-q", "-c", conf, "fetch"]),
            ("curl -o F && sync F", "curl -s -o %s %s && sync %s" % (out, url, out)),
            ("pipeline", "curl -s -o %s %s && sync %s && sha256sum %s >/dev/null && "
                         "minisign -Vm %s -p %s/k.pub -x %s >/dev/null"
                         % (out, url, out, out, out, work, sigfile)),
            ("openssl dgst -sha256", ["openssl", "dgst", "-sha256", artifact])]
    if BEFORE:
        cmds.append(("petrel fetch (before)", [BEFORE, "-q", "-c", conf, "fetch"]))

    def one(cmd):
        fresh_state(work, conf)
        if os.path.exists(out):
            os.unlink(out)
        os.sync()
        return measured(cmd)

    one(cmds[0][1]), one(cmds[1][1])    # warm the page cache and nginx
    runs = max(RUNS, 5)
    res = {n: [] for n, _ in cmds}
    for i in range(runs):
        order = cmds[i % len(cmds):] + cmds[:i % len(cmds)]   # each goes first in turn
        for n, c in order:
            res[n].append(one(c))
    shutil.rmtree(state, ignore_errors=True)
    return res


def fetch_ratios(mib, res):
    """Each goal's ratio of the medians of one round's runs."""
    med = {n: stats([r[0] for r in v])[0] for n, v in res.items()}
    return [f(med) for _name, f, _test, _goal in fetch_goals(mib)]


def report_fetch_size(mib, res, rounds, md):
    """res: the first round's runs, shown in full; rounds: every round's ratios. A goal
    holds only if it holds in every round."""
    med = {n: stats([r[0] for r in v])[0] for n, v in res.items()}
    runs = len(res["petrel fetch"])
    print("bench fetch: a %d MiB build from a local nginx, median of %d runs" % (mib, runs))
    md += ["", "### %d MiB, median of %d runs" % (mib, runs), "",
           "| command | wall median (s) | spread (s) | MiB/s | CPU user+sys (s) | peak RSS (MiB) |",
           "|---|---:|---:|---:|---:|---:|"]
    labels = {"petrel fetch": "`petrel fetch`", "curl -o F && sync F": "`curl -s -o F URL && sync F`",
              "pipeline": "`curl -o F && sync F && sha256sum F && minisign -Vm F`",
              "openssl dgst -sha256": "`openssl dgst -sha256 F` (page cache)",
              "petrel fetch (before)": "`petrel fetch`, BENCH_PETREL_BEFORE's"}
    for n, v in res.items():
        w, lo, hi = stats([r[0] for r in v])
        c, clo, chi = stats([r[1] for r in v])
        m, mlo, mhi = stats([r[2] for r in v])
        print("  %-26s %7.3f s (%.3f-%.3f)  %6.0f MiB/s  cpu %.3f s  rss %.1f MiB"
              % (n, w, lo, hi, mib / w, c, m))
        md.append("| %s | %.3f | %.3f-%.3f | %.0f | %.3f (%.3f-%.3f) | %.1f (%.1f-%.1f) |"
                  % (labels[n], w, lo, hi, mib / w, c, clo, chi, m, mlo, mhi))
    nr = len(rounds)
    md += ["", "| goal | ratio of the medians | each round's (%d) | goal | verdict |" % nr,
           "|---|---:|---|---:|---|"]
    verdicts = []
    for k, (name, f, test, goal) in enumerate(fetch_goals(mib)):
        r = f(med)
        each = [ratios[k] for ratios in rounds]
        held = sum(1 for x in each if test(x))
        v = "HOLDS" if held == nr else "MISSES"
        verdicts.append(v)
        shown = v if held in (0, nr) else "%s (holds in %d of %d rounds)" % (v, held, nr)
        print("  %-50s %6.2fx  (goal %s)  rounds %s  %s"
              % (name, r, goal, " ".join("%.2fx" % x for x in each), shown))
        md.append("| %s | %.2fx | %s | %s | **%s** |"
                  % (name, r, ", ".join("%.2fx" % x for x in each), goal, shown))
    if "petrel fetch (before)" in med:
        r = med["petrel fetch"] / med["petrel fetch (before)"]
        print("  %-50s %6.2fx" % ("petrel / BENCH_PETREL_BEFORE's petrel", r))
        md.append("| petrel / BENCH_PETREL_BEFORE's petrel (no goal) | %.2fx | | |" % r)
    rss = max(r[2] for r in res["petrel fetch"])
    v = "HOLDS" if rss < 32 else "MISSES"
    print("  %-50s %6.1f MiB (goal < 32 MiB)  %s" % ("petrel peak RSS, largest of the runs", rss, v))
    md.append("| petrel's peak RSS, the largest of the runs | %.1f MiB | < 32 MiB | **%s** |" % (rss, v))
    runs_per = ", ".join("%.3f" % r[0] for r in res["petrel fetch"])
    md += ["", "petrel's wall times, run by run: %s s." % runs_per]
    return verdicts + [v]


def bench_fetch(work, base, builds):
    """builds: [(mib, job, url, artifact, sigfile)]; returns the section's markdown."""
    md = ["## Fetch: issue 12's goals", "",
          "Measured %s; load average %s before." % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                   loadavg()),
          "Each command runs after `sync`, with its output file removed (petrel: its "
          "state directory put back as `petrel fsck` laid it out, so that each fetch "
          "stores into an existing store); the order rotates from run to run. The artifact is signed "
          "by minisign (prehashed), so petrel computes SHA-256 and BLAKE2b-512 of every "
          "byte, verifies the signature and fsyncs before it stores the file."]
    nrounds = max(ROUNDS, 1)
    md += ["", "The whole measurement (every size, %d interleaved runs each) is made %d times "
           "in a row (BENCH_FETCH_ROUNDS): the tables show the first round; a goal holds only "
           "if it holds in every round, since one that holds in one and misses in the next "
           "is luck of the noise." % (max(RUNS, 5), nrounds)]
    first, rounds = {}, {b[0]: [] for b in builds}
    for i in range(nrounds):
        for mib, job, url, artifact, sigfile in builds:
            res = bench_fetch_size(work, base, job, mib, url, artifact, sigfile)
            first.setdefault(mib, res)
            rounds[mib].append(fetch_ratios(mib, res))
            print("bench fetch: round %d of %d, %d MiB: %s" % (
                i + 1, nrounds, mib, " ".join("%.2fx" % x for x in rounds[mib][-1])), flush=True)
    allv = []
    for mib, _job, _url, _artifact, _sigfile in builds:
        allv += report_fetch_size(mib, first[mib], rounds[mib], md)
    md += ["", "Load average after: %s. Goals met: %d of %d." % (loadavg(), allv.count("HOLDS"), len(allv))]
    return md


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
    md = ["## Revert", "", "A %d MiB binary, orchestrator none, median of %d runs (%s, load "
          "average %s after)." % (REVERT_MIB, runs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                  loadavg()), "", "| command | median (s) | spread (s) |", "|---|---:|---:|"]
    for n, _ in fns:
        lo, hi = interleaved.spread[n]
        print("  %-26s %7.3f s" % (n, med[n]))
        md.append("| %s | %.3f | %.3f-%.3f |" % (n, med[n], lo, hi))
    r = med["curl re-download"] / med["petrel revert"]
    print("  curl re-download / revert  %7.2fx" % r)
    return md + ["", "curl re-download / petrel revert: %.2fx." % r]


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
    per_poll = requests_per_cycle(work, conf, len(jobs))
    runs = max(5, RUNS)
    med = interleaved(fns, runs)
    print("bench daemon: one cycle over %d targets on one server, all up to date, median of %d"
          % (len(jobs), runs))
    print("  requests per up-to-date poll %7.2f   (goal: 1, build/latest)" % per_poll)
    md = ["## Daemon: requests per up-to-date poll", "",
          "One cycle of `petrel daemon --once` over %d targets of one server, all up to date, "
          "beside %d separate `curl` runs of each job's `build/latest`; median of %d runs "
          "(%s, load average %s after)."
          % (len(jobs), len(jobs), runs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), loadavg()),
          "", "Requests per up-to-date poll, counted in nginx's access log over one cycle: "
          "**%.2f** (goal: 1, `build/latest` alone) — **%s**."
          % (per_poll, "HOLDS" if per_poll <= 1.0 else "MISSES"),
          "", "| command | median (s) | ms per target | spread (s) |", "|---|---:|---:|---:|"]
    for n, _ in fns:
        lo, hi = interleaved.spread[n]
        print("  %-26s %7.3f s  %7.2f ms/target  (spread %.3f-%.3f s)"
              % (n, med[n], med[n] * 1000 / len(jobs), lo, hi))
        md.append("| %s | %.3f | %.2f | %.3f-%.3f |" % (n, med[n], med[n] * 1000 / len(jobs), lo, hi))
    r = med["%d x curl" % len(jobs)] / med["petrel daemon --once"]
    v = "HOLDS" if r >= 20 else "MISSES"
    print("  curls / daemon cycle       %7.2fx   (goal >= 20x)  %s" % (r, v))
    return md + ["", "curls / daemon cycle: %.2fx (goal >= 20x) — **%s**." % (r, v)]


def requests_per_cycle(work, conf, ntargets):
    """Requests nginx logged during one daemon cycle, per target."""
    log = os.path.join(work, "access.log")
    before = os.path.getsize(log) if os.path.exists(log) else 0
    timed([PETREL, "-q", "-c", conf, "daemon", "--once"])
    time.sleep(0.2)     # nginx writes its log line after the answer
    with open(log, "rb") as f:
        f.seek(before)
        lines = f.read().count(b"\n")
    return lines / ntargets


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
    timed([PETREL, "-q", "-c", conf, "fsck"])   # creates petrel.db (a read creates nothing)
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
    md = ["## Scale", "", "--json, no network, no re-hashing (audit also writes --metrics), median "
          "of %d runs (%s, load average %s after)." % (runs, time.strftime("%Y-%m-%d %H:%M UTC",
                                                        time.gmtime()), loadavg()),
          "", "| command | median (s) |", "|---|---:|"]
    md += ["| %s | %.3f |" % (n, med[n]) for n, _ in fns]
    md.append("")
    for cmd in ("status", "audit --no-rehash"):
        base = med["%s 1 target x 10 versions" % cmd]
        line = ("%s: 1000 targets / 1 target %.1fx (targets x1000); 10000 versions / 10 %.1fx"
                % (cmd, med["%s 1000 targets x 10 versions" % cmd] / base,
                   med["%s 1 target x 10000 versions" % cmd] / base))
        print("  " + line)
        md.append("- " + line)
    return md


def sh(cmd):
    """First line of a command's output, or "?"."""
    try:
        p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.stdout.decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine(work):
    cpu, flags = "?", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.strip() == "model name" and cpu == "?":
                cpu = v.strip()
            elif k.strip() == "flags" and not flags:
                flags = set(v.split())
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    src = sh("findmnt -n -o SOURCE -T %s" % work)
    disk = sh("lsblk -ndo PKNAME %s" % src) if src.startswith("/dev/") else ""
    disk = "/dev/" + disk if disk and disk != "?" else src
    rota = sh("lsblk -ndo ROTA,MODEL,SIZE %s" % disk) if disk.startswith("/dev/") else "?"
    return ["## Machine", "",
            "- CPU: %s, %d cores (%s)" % (cpu, os.cpu_count(), ", ".join(
                "%s %s" % (f, "yes" if f in flags else "no") for f in ("sha_ni", "avx2"))),
            "- memory: %d MiB; kernel: %s %s" % (mem, os.uname().sysname, os.uname().release),
            "- bench directory: %s on %s (%s; rotational, model, size: %s)" % (
                work.rsplit("/", 1)[0], src, sh("findmnt -n -o FSTYPE,OPTIONS -T %s" % work), rota),
            "- %s; %s; %s; %s" % (sh("openssl version"), sh("curl --version"),
                                  sh("minisign -v"), sh("nginx -v")),
            "- petrel: %s" % sh("git -C %s describe --always --dirty" % REPO),
            "- load average when the run began: %s" % loadavg()]


SECTIONS = ["machine", "fetch", "profile", "daemon", "revert", "scale"]


def write_results(sections):
    """Replaces in RESULTS the sections that ran; keeps the others and the tail."""
    if not RESULTS:
        return
    old, tail = {}, ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            text = f.read()
        head, sep, tail = text.partition(RESULTS_TAIL)
        if not sep:
            head, tail = text, ""
        for name in SECTIONS:
            b, e = "<!-- section: %s -->" % name, "<!-- end: %s -->" % name
            if b in head and e in head:
                old[name] = head[head.index(b) + len(b):head.index(e)].strip("\n")
    out = ["# petrel benchmark results", "",
           "Written by `make bench` (tests/bench/bench.py; how to run it: README, "
           "\"Benchmark\"). Each section says when it was measured and the load average; "
           "only figures from a quiet machine mean anything. A section that a later "
           "invocation did not run (BENCH_ONLY) is kept as it was.", ""]
    for name in SECTIONS:
        body = "\n".join(sections[name]) if name in sections else old.get(name)
        if body is None and name == "machine":
            body = "## Machine\n\nWritten by every `make bench`."
        elif body is None:
            body = "## %s\n\nNot measured yet (`make bench`, or BENCH_ONLY=%s)." % (
                name.capitalize(), name)
        out += ["<!-- section: %s -->" % name, body, "<!-- end: %s -->" % name, ""]
    out.append(RESULTS_TAIL)
    with open(RESULTS + ".tmp", "w") as f:
        f.write("\n".join(out) + (tail if tail.startswith("\n") else "\n" + tail))
    os.replace(RESULTS + ".tmp", RESULTS)
    print("bench: wrote %s" % RESULTS)


def bench_profile(work, base, builds):
    """perf's top entries of one fetch of the smallest build, now and before."""
    import perf_top as prof
    mib, job, _url, artifact, _sig = min(builds)
    conf = fetch_conf(work, base, job)

    def fresh():
        fresh_state(work, conf)
        os.sync()

    def one(binary):
        return prof.profile([binary, "-q", "-c", conf, "fetch"], artifact, fresh)

    md = ["## Profile of one `petrel fetch`", "",
          "A %d MiB build, prehashed minisign signature (%s, load average %s). perf in a "
          "virtual machine without a PMU samples on a timer: time spent with interrupts "
          "off is charged to the next `pvm_irq_enable` (or similar), so that line stands "
          "for the network stack and wakeups rather than for itself."
          % (mib, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), loadavg()),
          "", "### After (this tree)", ""] + one(PETREL)
    print("bench profile: %d MiB fetch profiled" % mib)
    if BEFORE:
        md += ["", "### Before (BENCH_PETREL_BEFORE=%s)" % os.path.basename(BEFORE), ""] + one(BEFORE)
    else:
        with open(os.path.join(REPO, "tests", "bench", "profile-before.md")) as f:
            md += ["", f.read().strip()]
    return md


def main():
    if not os.path.exists(PETREL):
        sys.exit("bench: build ./petrel first (make)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True     # perf_top.py is imported: no __pycache__ in the tree
    work = tempfile.mkdtemp(prefix="petrel-bench.")
    os.chmod(work, 0o755)  # nginx workers run unprivileged
    nginx = None
    sections = {"machine": machine(work)}
    try:
        if "scale" in ONLY:
            sections["scale"] = bench_scale(work)
        if not ONLY & {"fetch", "profile", "revert", "daemon"}:
            return
        site = Site(work)
        now = int(time.time())
        builds = []
        if ONLY & {"fetch", "profile"}:
            for mib in FETCH_MIB:
                job = "big%d" % mib
                print("bench: writing a %d MiB artifact ..." % mib, flush=True)
                u, _ = site.add(job, mib, b"petrel-bench-%d" % mib, now)
                builds.append((mib, job, "%%s/job/%s/build/%s/f/bin/%s.hvt" % (job, u, job),
                               os.path.join(site.root, job, u, job + ".hvt"),
                               os.path.join(site.root, "sigs", job, u, job + ".hvt.minisig")))
        if "revert" in ONLY:
            s1, _ = site.add("small", REVERT_MIB, b"petrel-small-1", now - 60)
            s2, _ = site.add("small", REVERT_MIB, b"petrel-small-2", now)
        jobs = ["d%04d" % i for i in range(TARGETS)] if "daemon" in ONLY else []
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
        builds = [(m, j, u % base, a, s) for m, j, u, a, s in builds]
        print("bench: %s, %d cores" % (os.uname().machine, os.cpu_count()), flush=True)
        if "fetch" in ONLY:
            sections["fetch"] = bench_fetch(work, base, builds)
        if "profile" in ONLY:
            sections["profile"] = bench_profile(work, base, builds)
        if "revert" in ONLY:
            sections["revert"] = bench_revert(work, base, [s1, s2],
                                              "%s/job/small/build/%s/f/bin/small.hvt" % (base, s1))
        if "daemon" in ONLY:
            sections["daemon"] = bench_daemon(work, base, jobs)
    finally:
        if nginx:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        write_results(sections)


if __name__ == "__main__":
    main()
