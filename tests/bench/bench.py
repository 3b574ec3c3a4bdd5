#!/usr/bin/env python3
"""petrel fetch benchmark: a 1 GiB build served by a local nginx, on loopback.

Prints, in one run, the median wall time of
  - petrel fetch (download + SHA-256 + BLAKE2b-512 + minisign verification + store),
  - curl -s -o FILE URL (the bare download),
  - curl -o F && sha256sum F && minisign -Vm F (what a careful operator scripts),
with the ratios against curl and petrel's peak RSS.  The machine is shared and noisy:
only ratios measured in the same invocation mean anything.

Environment: BENCH_SIZE_MIB (default 1024), BENCH_RUNS (default 5).
"""
import base64, hashlib, json, os, resource, shutil, signal, socket, statistics
import subprocess, sys, tempfile, time, uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETREL = os.path.join(REPO, "petrel")
SIZE_MIB = int(os.environ.get("BENCH_SIZE_MIB", "1024"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_artifact(path):
    """Writes SIZE_MIB of pseudo-random bytes, returns (sha256 hex, size)."""
    h = hashlib.sha256()
    block = hashlib.shake_256(b"petrel-bench").digest(1 << 20)
    with open(path, "wb") as f:
        for i in range(SIZE_MIB):
            chunk = bytes([i & 0xFF]) + block[1:]
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest(), SIZE_MIB << 20


def write_site(root, job, build_uuid, fname, sha, size):
    """The builder-web routes petrel uses, as static files nginx serves."""
    d = os.path.join(root, "site")
    os.makedirs(os.path.join(d, "bin"), exist_ok=True)
    now = time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime())
    with open(os.path.join(d, "job.json"), "w") as f:
        json.dump({"builds": [{"uuid": build_uuid, "main_binary":
                   {"filename": fname, "sha256": sha, "size": size}}]}, f)
    with open(os.path.join(d, "build.json"), "w") as f:
        json.dump({"job": job, "uuid": build_uuid, "platform": "debian-12",
                   "start_time": now, "finish_time": now, "main_binary": True}, f)
    return d


NGINX_CONF = """
daemon off;
worker_processes 1;
error_log {root}/nginx-error.log;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    absolute_redirect off;
    client_body_temp_path {root}/ngx-tmp;
    proxy_temp_path {root}/ngx-tmp;
    fastcgi_temp_path {root}/ngx-tmp;
    uwsgi_temp_path {root}/ngx-tmp;
    scgi_temp_path {root}/ngx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {site};
        etag off;
        location = /job/{job}/build/latest {{ return 307 /job/{job}/build/{uuid}; }}
        location = /job/{job} {{ default_type application/json; try_files /job.json =404; }}
        location = /job/{job}/build/{uuid} {{ default_type application/json; try_files /build.json =404; }}
        location = /job/{job}/build/{uuid}/main-binary {{ return 302 /job/{job}/build/{uuid}/f/bin/{fname}; }}
        location = /job/{job}/build/{uuid}/f/bin/{fname} {{
            default_type application/octet-stream;
            add_header ETag "\\"{etag}\\"";
            try_files /bin/{fname} =404;
        }}
        location /sigs/ {{ }}
    }}
}}
"""


def timed(cmd, env=None, cwd=None):
    """Runs cmd, returns (seconds, peak RSS in KiB of this child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, shell=isinstance(cmd, str),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (cmd, p.returncode, p.stderr.decode()[-500:]))
    return dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before


def rss_of(cmd, env):
    """Peak RSS (KiB) of one run, via GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(out.stderr.decode().strip().splitlines()[-1])


def main():
    if not os.path.exists(PETREL):
        sys.exit("bench: build ./petrel first (make)")
    work = tempfile.mkdtemp(prefix="petrel-bench.")
    os.chmod(work, 0o755)  # nginx workers run unprivileged
    nginx = None
    try:
        job, build_uuid, fname = "big", str(uuid.uuid4()), "big.hvt"
        site = os.path.join(work, "site")
        os.makedirs(os.path.join(site, "bin"))
        art = os.path.join(site, "bin", fname)
        print("bench: writing a %d MiB artifact ..." % SIZE_MIB, flush=True)
        sha, size = make_artifact(art)
        write_site(work, job, build_uuid, fname, sha, size)
        os.makedirs(os.path.join(work, "ngx-tmp"))
        # the publisher's signature, by Debian's minisign
        subprocess.run(["minisign", "-G", "-W", "-p", work + "/k.pub", "-s", work + "/k.sec"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sigdir = os.path.join(site, "sigs", job, build_uuid)
        os.makedirs(sigdir)
        tc = "timestamp:%d\tfile:%s\tjob:%s\tuuid:%s\tsha256:%s" % (
            int(time.time()), fname, job, build_uuid, sha)
        subprocess.run(["minisign", "-S", "-s", work + "/k.sec", "-m", art, "-x",
                        os.path.join(sigdir, fname + ".minisig"), "-t", tc],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        etag = base64.b64encode(bytes.fromhex(sha)).decode()
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(root=work, port=port, site=site, job=job,
                                      uuid=build_uuid, fname=fname, etag=etag))
        nginx = subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf"),
                                  "-p", work], stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        base = "http://127.0.0.1:%d" % port
        url = "%s/job/%s/build/%s/f/bin/%s" % (base, job, build_uuid, fname)
        conf = os.path.join(work, "petrel.conf")
        with open(conf, "w") as f:
            f.write("[petrel]\nstate_dir = %s/state\n[server \"n\"]\nurl = %s\n"
                    "[target \"big\"]\nserver = n\njob = %s\npath = %s/deploy/big\n"
                    "keys = %s/k.pub\nsignatures = %s/sigs/{job}/{uuid}/{filename}.minisig\n"
                    % (work, base, job, work, work, base))
        out = os.path.join(work, "out.bin")

        def petrel_fetch():
            shutil.rmtree(os.path.join(work, "state"), ignore_errors=True)
            return timed([PETREL, "-q", "-c", conf, "fetch"])[0]

        def curl_o():
            return timed(["curl", "-s", "-o", out, url])[0]

        def pipeline():
            return timed("curl -s -o %s %s && sha256sum %s && minisign -Vm %s -p %s/k.pub "
                         "-x %s/%s.minisig" % (out, url, out, out, work, sigdir, fname))[0]

        names = ["petrel fetch", "curl -o", "curl+sha256sum+minisign"]
        fns = [petrel_fetch, curl_o, pipeline]
        times = {n: [] for n in names}
        petrel_fetch(), curl_o()    # warm the page cache and nginx
        for i in range(RUNS):
            for n, fn in zip(names, fns):   # interleaved, so noise hits all alike
                times[n].append(fn())
        shutil.rmtree(os.path.join(work, "state"), ignore_errors=True)
        rss = rss_of([PETREL, "-q", "-c", conf, "fetch"], None)
        med = {n: statistics.median(v) for n, v in times.items()}
        mib = size / (1 << 20)
        print("bench: fetch of a %d MiB build over loopback, median of %d runs (%s, %d cores)"
              % (SIZE_MIB, RUNS, os.uname().machine, os.cpu_count()))
        for n in names:
            print("  %-26s %7.3f s  %7.0f MiB/s" % (n, med[n], mib / med[n]))
        print("  petrel / curl -o           %7.2fx   (target <= 1.15x)"
              % (med["petrel fetch"] / med["curl -o"]))
        print("  pipeline / petrel          %7.2fx   (target >= 3x)"
              % (med["curl+sha256sum+minisign"] / med["petrel fetch"]))
        print("  petrel peak RSS            %7.1f MiB (target < 32 MiB)" % (rss / 1024))
    finally:
        if nginx:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait()
        if not os.environ.get("BENCH_KEEP"): shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
