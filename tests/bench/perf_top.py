#!/usr/bin/env python3
"""Where a petrel fetch spends its CPU: perf record of one run, the top entries of
`perf report --stdio`, per thread and per function.

Debian's libcrypto ships without symbols, so perf shows its functions as bare offsets.
They are named here by calibration: `openssl dgst -sha256` and `-blake2b512` of the
same file are profiled too, and each 4 KiB page of libcrypto's code that one of them
spends its time in is labelled with that algorithm. Threads are named by what they do
most (receive, SHA-256, the O_DIRECT writer, BLAKE2b; write + SHA-256 for a petrel
whose writer also hashed).

Used by bench.py (BENCH_ONLY=profile); without perf it says so and profiles nothing.
"""
import collections, os, re, shutil, subprocess, tempfile

FREQ = 4999     # samples per second per thread
TOP = 15

LINE = re.compile(r"^\s*([\d.]+)%\s+(\d+):(\S+)\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")


def available():
    """None when perf works here, else why not."""
    if not shutil.which("perf"):
        return "perf is not installed (Debian: apt-get install linux-perf)"
    p = subprocess.run(["perf", "record", "-q", "-o", "/dev/null", "true"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return "perf record does not work here: " + p.stderr.decode(errors="replace").strip()[-200:]
    return None


def record(cmd, data):
    """Records one run of cmd; returns GNU time's "wall user sys maxrss-KiB" of it."""
    times = data + ".time"
    subprocess.run(["perf", "record", "-q", "-F", str(FREQ), "-o", data, "--",
                    "/usr/bin/time", "-f", "%e %U %S %M", "-o", times] + cmd,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(times) as f:
        return f.read().split()[-4:]


def report(data):
    """[(percent, tid, dso, kernel?, symbol)] from perf report, one row per thread and symbol."""
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                          "--sort", "pid,dso,sym", "-g", "none"],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    rows = []
    for line in out.decode(errors="replace").splitlines():
        m = LINE.match(line)
        if m:
            pct, tid, _comm, dso, kind, sym = m.groups()
            rows.append((float(pct), int(tid), dso, kind == "k", sym))
    return rows


def page(sym):
    """The 4 KiB page of a bare offset ("0x000000000029c54a"), else None."""
    return int(sym, 16) >> 12 if sym.startswith("0x") else None


def calibrate(work, path):
    """{libcrypto page: label} from profiling openssl's own digests of path."""
    labels = {}
    for alg, label in (("sha256", "SHA-256 (libcrypto, SHA-NI)"), ("blake2b512", "BLAKE2b-512 (libcrypto)")):
        data = os.path.join(work, "calib-%s.data" % alg)
        record(["openssl", "dgst", "-" + alg, path], data)
        os.unlink(data + ".time")
        for pct, _tid, dso, _k, sym in report(data):
            if dso.startswith("libcrypto") and page(sym) is not None and pct >= 0.2:
                labels.setdefault(page(sym), label)
        os.unlink(data)
    return labels


def name_of(dso, kernel, sym, labels):
    if dso.startswith("libcrypto") and page(sym) is not None:
        return labels.get(page(sym), "libcrypto (other)")
    if kernel:
        return "[kernel] " + sym
    return "%s %s" % (dso, sym)


def summarise(rows, labels):
    """(per-function [(pct, name)], per-thread [(pct, role, top names)])."""
    funcs, threads = collections.Counter(), collections.defaultdict(collections.Counter)
    for pct, tid, dso, kernel, sym in rows:
        n = name_of(dso, kernel, sym, labels)
        funcs[n] += pct
        threads[tid][n] += pct
    out_threads = []
    for tid, c in threads.items():
        total = sum(c.values())
        out_threads.append((total, role(c, total), ", ".join(
            "%s %.1f%%" % (n, p) for n, p in c.most_common(4))))
    out_threads.sort(reverse=True)
    return funcs.most_common(TOP), out_threads


def role(c, total):
    """What a thread does, from where its samples are."""
    share = lambda prefix: sum(p for n, p in c.items() if n.startswith(prefix))
    if total < 1:
        return "other (a moment's work: curl's resolver, ...)"
    if share("SHA-256") > total / 4:
        # a writer through the page cache copies into it: before the writer had a thread
        copying = share("[kernel] copy_folio_from_iter") > total / 20
        return "write + SHA-256" if copying else "SHA-256"
    if share("BLAKE2b") > total / 4:
        return "BLAKE2b"
    if share("libc.so.6 __memmove") + share("[kernel] _copy_to_iter") > total / 10:
        return "main: receive, copy into the ring"
    return "writer (O_DIRECT)"


def profile(cmd, calib_file, prepare=None):
    """Markdown lines: the top entries of one run of cmd (a list), or why none."""
    why = available()
    if why:
        return ["No profile: %s." % why]
    work = tempfile.mkdtemp(prefix="petrel-profile.")
    try:
        labels = calibrate(work, calib_file)
        if prepare:
            prepare()
        data = os.path.join(work, "fetch.data")
        wall, user, sys_, rss = record(cmd, data)
        rows = report(data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    funcs, threads = summarise(rows, labels)
    lines = ["The profiled run: %s s wall, %s s user + %s s system CPU, peak RSS %.1f MiB "
             "(GNU time)." % (wall, user, sys_, int(rss) / 1024.0), "",
             "Share of all samples (`perf record -F %d`, `perf report --stdio --sort pid,dso,sym`);"
             " libcrypto's bare offsets named by calibration against `openssl dgst`." % FREQ, "",
             "| % of samples | function |", "|---:|---|"]
    lines += ["| %.1f | %s |" % (p, n.replace("|", "\\|")) for n, p in funcs]
    lines += ["", "| thread | % of samples | its top entries |", "|---|---:|---|"]
    lines += ["| %s | %.1f | %s |" % (role, total, top.replace("|", "\\|"))
              for total, role, top in threads]
    return lines
