#!/usr/bin/env python3
"""Writes proxy/link/hot-functions.TARGET.gz: the functions a release tollgate runs
from exec to serving the Zumi seed's requests (ordered-link.sh's header
says what the list is for).

    sudo proxy/link/record-hot-functions.py $CARGO_TARGET_DIR/release/tollgate
    sudo proxy/link/record-hot-functions.py \
        $CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/tollgate

TARGET (gnu or musl) is read from the path, as ordered-link.sh does; the
next release build relinks with the new list (build.rs watches it).

It runs the binary with a config of the seed's shape (HTTP redirected to
HTTPS, one frontend behind basic auth, one backend), serves a redirect, a
401, a 200 and a proxied page through it, then reads which pages of the
binary's code are resident. For that set to be the pages that ran and not
their neighbours, the binary is read from a cold page cache (drop_caches)
with the disk's readahead off (read_ahead_kb = 0, restored afterwards):
the kernel then only ever has, and maps, the pages the process touched.
Hence root. Every function that overlaps such a page is listed, in address
order (a page that ran one function of a file's code usually ran its
neighbours too): first those of start-up, then those that serving added.
Needs: root, openssl, curl, nm, readelf, python3.
"""
import gzip, os, shutil, socket, struct, subprocess, sys, tempfile, time

HTTP, HTTPS, BACKEND = 18790, 18791, 18792
HERE = os.path.dirname(os.path.abspath(__file__))


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def device_of(path):
    """/sys/block/DEV/queue/read_ahead_kb of the disk holding path."""
    dev = os.stat(path).st_dev
    sysdev = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    for d in (sysdev, os.path.dirname(sysdev)):
        ra = os.path.join(d, "queue", "read_ahead_kb")
        if os.path.exists(ra):
            return ra
    sys.exit(f"no read_ahead_kb for the device of {path}")


def main():
    if len(sys.argv) != 2 or os.geteuid() != 0:
        sys.exit(__doc__)
    binary = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tollgate-hot-")
    procs = []
    ra_file = device_of(binary)
    ra_before = open(ra_file).read().strip()
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", f"{work}/key.pem",
                        "-out", f"{work}/cert.pem"], check=True, capture_output=True)
        digest = subprocess.run(["openssl", "passwd", "-apr1", "secret"], check=True,
                                capture_output=True, text=True).stdout.strip()
        os.makedirs(f"{work}/www/zumi01")
        open(f"{work}/www/zumi01/index.html", "w").write("notebook\n")
        open(f"{work}/tollgate.toml", "w").write(f"""
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{HTTP}"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = "127.0.0.1:{HTTPS}"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "cert.pem"
    keyFile = "key.pem"
[accessLog]
filePath = "access.log"
[file]
watch = true
[frontends.zumi01]
backend = "zumi01"
basicAuth = ["zumi:{digest}"]
  [frontends.zumi01.routes.r]
  rule = "PathPrefix:/zumi01"
[backends.zumi01.servers.s]
url = "http://127.0.0.1:{BACKEND}"
""")
        procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(BACKEND), "--bind", "127.0.0.1"],
                                      cwd=f"{work}/www", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(BACKEND)
        # A cache of compiled plugins, filled by a first run: the recorded
        # run is a restart, as on a server (or an image with them precompiled).
        env = dict(os.environ, TOLLGATE_PLUGIN_CACHE=f"{work}/cache")
        # As a service runs: no backtraces captured for errors on the way.
        for name in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE"):
            env.pop(name, None)
        subprocess.run([binary, "plugin", "precompile"], env=env, check=True, capture_output=True)
        subprocess.run(["sync"], check=True)
        open(ra_file, "w").write("0")
        open("/proc/sys/vm/drop_caches", "w").write("1")
        proxy = subprocess.Popen([binary, "run", "--config", f"{work}/tollgate.toml"], cwd=work, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proxy)
        wait_port(HTTP)
        wait_port(HTTPS)
        time.sleep(1)
        started = resident_code_pages(proxy.pid, binary)
        for args, want in [([f"http://127.0.0.1:{HTTP}/zumi01/"], "302"),
                           ([f"https://127.0.0.1:{HTTPS}/zumi01/"], "401"),
                           (["-u", "zumi:secret", f"https://127.0.0.1:{HTTPS}/zumi01/"], "200"),
                           (["-u", "zumi:secret", f"https://127.0.0.1:{HTTPS}/zumi01/"], "200")]:
            got = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", *args],
                                 capture_output=True, text=True).stdout
            if got != want:
                sys.exit(f"curl {' '.join(args)}: {got}, expected {want}")
        time.sleep(1)
        served = resident_code_pages(proxy.pid, binary) - started
    finally:
        open(ra_file, "w").write(ra_before)
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work)
    # Start-up's code first, then what serving added: an idle tollgate
    # maps the first part only.
    functions = code_symbols(binary)
    names, size = functions_on(started, functions, set())
    more, more_size = functions_on(served, functions, set(names))
    names += more
    size += more_size
    target = "musl" if "/x86_64-unknown-linux-musl/" in binary else "gnu"
    out = os.path.join(HERE, f"hot-functions.{target}.gz")
    with gzip.open(out, "wt", compresslevel=9) as f:
        f.write("\n".join(names) + "\n")
    print(f"{len(started)} code pages ran to start, {len(served)} more to serve; "
          f"{len(names)} functions ({size // 1024} KiB) on them -> {out}")


def resident_code_pages(pid, binary):
    """Virtual page numbers (relative to the load address) of the binary's
    executable mapping that are resident."""
    maps = [l.split() for l in open(f"/proc/{pid}/maps")]
    base = min(int(m[0].split("-")[0], 16) - int(m[2], 16) for m in maps if len(m) >= 6 and m[5] == binary)
    pages = set()
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for m in maps:
            if len(m) < 6 or m[5] != binary or "x" not in m[1]:
                continue
            lo, hi = (int(x, 16) for x in m[0].split("-"))
            pm.seek((lo >> 12) * 8)
            data = pm.read(((hi - lo) >> 12) * 8)
            for i in range((hi - lo) >> 12):
                if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
                    pages.add(((lo - base) >> 12) + i)
    if not pages:
        sys.exit("no resident code pages (reading pagemap needs root)")
    return pages


def code_symbols(binary):
    """(address, size, name) of the binary's functions, in address order."""
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True)
    symbols = []
    for line in nm.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW" and int(f[1], 16):
            symbols.append((int(f[0], 16), int(f[1], 16), f[3]))
    return sorted(symbols)


def functions_on(pages, functions, skip):
    """The functions (not in skip) that overlap pages, in address order."""
    names, size = [], 0
    for addr, length, name in functions:
        if name not in skip and any(p in pages for p in range(addr >> 12, ((addr + length - 1) >> 12) + 1)):
            names.append(name)
            size += length
    return names, size


if __name__ == "__main__":
    main()
