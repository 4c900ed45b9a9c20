"""Shared pieces of the benchmarks: layers made of system files, OCI layouts
written by hand, and commands timed under GNU time (wall, CPU, peak RSS)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tarfile

SOURCES = ["/usr/share", "/usr/bin", "/usr/include", "/usr/sbin", "/usr/lib"]


def build_tars(path_parts, limit, parts):
    """Writes `parts` tars that together hold about `limit` bytes of files."""
    outs = [tarfile.open(p, "w", format=tarfile.PAX_FORMAT) for p in path_parts]
    written = [set() for _ in path_parts]
    total, count = 0, 0
    done = False
    for src in SOURCES:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            idx = min(parts - 1, total * parts // limit)
            # parents first: tar importers want every directory entry
            for parent in _parents(dirpath):
                if parent not in written[idx]:
                    written[idx].add(parent)
                    outs[idx].add(parent, arcname=parent.lstrip("/"), recursive=False)
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                idx = min(parts - 1, total * parts // limit)
                try:
                    outs[idx].add(p, arcname=p.lstrip("/"), recursive=False)
                except OSError:
                    continue
                total += st.st_size if os.path.isfile(p) and not os.path.islink(p) else 0
                count += 1
                if total >= limit:
                    done = True
                    break
            if done:
                break
        if done:
            break
    for t in outs:
        t.close()
    return total, count


def _parents(path):
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_layout(layout, layers):
    """layers: [(tar path, gz path)] -> an OCI layout tagged "bench"."""
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids = [], []
    for tar, gz in layers:
        digest = sha256_file(gz)
        os.link(gz, os.path.join(blobs, digest))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": "sha256:" + digest, "size": os.path.getsize(gz)})
        diff_ids.append("sha256:" + sha256_file(tar))

    def blob(obj):
        data = json.dumps(obj).encode()
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    config = blob({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                   "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    manifest = blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                     "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                     "layers": descs})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            manifest, mediaType="application/vnd.oci.image.manifest.v1+json",
            annotations={"org.opencontainers.image.ref.name": "bench"})]}, f)


def timed(args, cwd=None):
    """Runs args under GNU time; returns (wall s, user+sys s, peak RSS MB).
    (A child's own rusage would count the parent's pages from before exec.)"""
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sc-bench-time.%d" % os.getpid())
    # Start every measurement with nothing dirty in the page cache, so that
    # no tool pays for writing back what an earlier one left (syncfs would).
    subprocess.run(["sync"], check=True)
    r = subprocess.run(["/usr/bin/time", "-o", out, "-f", "%e %U %S %M", *args], cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(args), r.stderr))
    with open(out) as f:
        wall, user, system, rss_kb = f.read().split()[-4:]
    os.unlink(out)
    return float(wall), float(user) + float(system), int(rss_kb) / 1024.0


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass




# --- runs, load and goals (issue 16): shared by registry.py, import.py, checkout.py

def common_args(ap):
    """--runs and --with-load, as every benchmark takes them."""
    ap.add_argument("--runs", type=int, default=3,
                    help="run every pipeline this many times; medians and spread are printed")
    ap.add_argument("--with-load", action="store_true",
                    help="keep one core busy with another process during all timed steps")
    ap.add_argument("--scratch-fs", choices=("host", "ext4"), default="host",
                    help="where the work directory is: on the host's file system as it is, or "
                         "on a fresh ext4 (mkfs defaults, with a journal) loop-mounted there")


def prepare_workdir(a):
    """An empty work directory a.workdir; with --scratch-fs ext4, a fresh
    ext4 file system is mounted on it (a sparse image beside it), so that
    every tool writes to the file system most hosts have, not to whatever
    state the build machine's own is in (see remove_and_settle)."""
    w = a.workdir
    finish_workdir(a, quiet=True)
    os.makedirs(w)
    if a.scratch_fs == "ext4":
        image = w + ".ext4"
        subprocess.run(["truncate", "-s", "64G", image], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
        subprocess.run(["mount", "-o", "loop", image, w], check=True)
    src = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", w], capture_output=True,
                         text=True).stdout.split()
    print("work directory %s: %s on %s%s" % (w, src[1] if len(src) > 1 else "?", src[0] if src
                                               else "?", ", no journal" if
                                               _journal_less_ext4(w) else ""), flush=True)
    return w


def finish_workdir(a, quiet=False):
    """Removes the work directory (and the scratch file system's image)."""
    w = a.workdir
    if os.path.ismount(w):
        subprocess.run(["umount", w], check=not quiet)
    shutil.rmtree(w, ignore_errors=quiet)
    if os.path.exists(w + ".ext4"):
        os.unlink(w + ".ext4")


class Load:
    """With --with-load, one process spinning on one core for as long as the
    `with` block lasts (the timed steps), killed at its end: a user's
    machine is rarely idle, and the single-layer import loses most then."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.proc = None

    def __enter__(self):
        if self.enabled:
            self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        return False


def _journal_less_ext4(path):
    """Whether @path is on an ext4 file system without a journal (no
    /proc/fs/jbd2 entry for its device)."""
    st = os.stat(path)
    dev = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[2] == dev and fields[sep + 1] == "ext4":
                name = os.path.basename(fields[sep + 2])
                return not any(j.startswith(name + "-") for j in os.listdir("/proc/fs/jbd2")) \
                    if os.path.isdir("/proc/fs/jbd2") else True
    return False


def remove_and_settle(w, paths, last=False):
    """Removes @paths (the trees of a run) after its timed steps, never
    between them. On ext4 without a journal (this project's build machines)
    the kernel will not reuse an inode freed in the last 60 s and scans
    past each such one at every allocation, so a step timed right after a
    large removal pays for it (measured: mkdir 426 us instead of 35 us):
    then wait 61 s after a sync, so that the next run starts even (not
    after the @last run)."""
    for p in paths:
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
    if _journal_less_ext4(w) and not last:
        print("  (ext4 without a journal: 61 s for freed inodes to settle)", flush=True)
        subprocess.run(["sync"], check=True)
        time.sleep(61)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


class Series:
    """The (wall, cpu, rss) of one step over the runs."""

    def __init__(self):
        self.runs = []

    def add(self, r):
        self.runs.append(r)
        return r

    def wall(self):
        return median([r[0] for r in self.runs])

    def cpu(self):
        return median([r[1] for r in self.runs])

    def rss(self):
        return max(r[2] for r in self.runs)

    def spread(self):
        walls = [r[0] for r in self.runs]
        return "%.2f-%.2f" % (min(walls), max(walls))


def total(*series):
    """A pipeline of several steps, run by run: a Series of their sums."""
    out = Series()
    for parts in zip(*(s.runs for s in series)):
        out.add((sum(p[0] for p in parts), sum(p[1] for p in parts), max(p[2] for p in parts)))
    return out


def row(name, s, extra=""):
    print("%-44s median %7.2f s  (runs %s s)  cpu %7.2f s  peak RSS %7.1f MB%s" % (
        name, s.wall(), s.spread(), s.cpu(), s.rss(), extra))


class Goals:
    """Each goal of issue 16 with the measured figure and PASS or MISS."""

    def __init__(self):
        self.missed = 0

    def check(self, label, value, limit, unit="x"):
        """Ratios (x) pass at the limit, sizes and times (MB, s) below it."""
        ok = value < limit if unit in ("MB", "s") else value <= limit
        self.missed += not ok
        fmt = "%-52s %8.3f %-2s goal %s %g %-2s %s"
        print(fmt % (label, value, unit, "<" if unit in ("MB", "s") else "<=", limit, unit,
                     "PASS" if ok else "MISS"))
