#!/usr/bin/env python3
"""Layer import benchmark: syscontainerctl pull from an oci: directory, side by
side in one run with `ostree commit --tar-autocreate-parents --tree=tar=LAYER` on the same blob and
`umoci unpack` of the same image. Prints the figures and the ratios that the
targets are stated in:

  pull / ostree commit          <= 1.0   (no slower than OSTree's own importer)
  pull / umoci unpack           <= 0.6
  two-layer pull CPU / wall     >  1.5   (both cores busy)
  peak RSS of pull              <  64 MB
  re-import of present layers   <  1 s

Usage: bench/import.py [--size-mb N] [--workdir DIR] [--ctl PATH]
The layer is a tar of /usr/share, /usr/bin, /usr/include, /usr/sbin (then
/usr/lib) up to N MB (default 1400), gzip -6. Needs root, ostree and umoci.
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1400)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench")
    ap.add_argument("--ctl", default=os.path.join(os.path.dirname(__file__), "..", "build", "cli",
                                                  "syscontainerctl"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    w = a.workdir
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    limit = a.size_mb * 1000 * 1000

    print("building layers (%d MB of files, gzip -6) ..." % a.size_mb, flush=True)
    one = os.path.join(w, "one.tar")
    halves = [os.path.join(w, "half1.tar"), os.path.join(w, "half2.tar")]
    size, count = build_tars([one], limit, 1)
    build_tars(halves, limit, 2)
    for t in [one] + halves:
        subprocess.run(["gzip", "-6", "-k", "-n", t], check=True)
    write_layout(os.path.join(w, "single"), [(one, one + ".gz")])
    write_layout(os.path.join(w, "double"), [(h, h + ".gz") for h in halves])
    tar_mb = os.path.getsize(one) / 1e6
    print("layer: %.0f MB tar (%d entries), %.0f MB gzip" % (tar_mb, count,
                                                           os.path.getsize(one + ".gz") / 1e6))
    for p in (one + ".gz", halves[0] + ".gz", halves[1] + ".gz"):
        warm(p)

    subprocess.run(["ostree", "--repo=" + os.path.join(w, "ostree"), "init", "--mode=bare"],
                   check=True)
    ostree = timed(["ostree", "--repo=" + os.path.join(w, "ostree"), "commit", "-b", "bench",
                    "--tar-autocreate-parents",
                    "--tree=tar=" + one + ".gz"])
    umoci = timed(["umoci", "unpack", "--image", os.path.join(w, "single") + ":bench",
                   os.path.join(w, "bundle")])
    ctl = os.path.abspath(a.ctl)
    pull = timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                  "oci:%s:bench" % os.path.join(w, "single")])
    again = timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                   "oci:%s:bench" % os.path.join(w, "single")])
    double = timed([ctl, "--checkout-root", os.path.join(w, "ck2"), "pull",
                    "oci:%s:bench" % os.path.join(w, "double")])

    def row(name, r):
        print("%-34s %7.2f s wall %7.2f s cpu %7.1f MB peak RSS  %6.0f MB/s" % (
            name, r[0], r[1], r[2], tar_mb / r[0]))

    print()
    row("ostree commit --tree=tar=", ostree)
    row("umoci unpack", umoci)
    row("syscontainerctl pull (1 layer)", pull)
    row("syscontainerctl pull (2 layers)", double)
    print("%-34s %7.2f s wall" % ("syscontainerctl re-pull", again[0]))
    print()
    print("pull / ostree commit        %.2f  (target <= 1.0)" % (pull[0] / ostree[0]))
    print("pull / umoci unpack         %.2f  (target <= 0.6)" % (pull[0] / umoci[0]))
    print("2-layer pull cpu / wall     %.2f  (target > 1.5 on 2 cores)" % (double[1] / double[0]))
    print("pull peak RSS               %.1f MB (target < 64)" % max(pull[2], double[2]))
    print("re-pull                     %.2f s (target < 1)" % again[0])
    if not a.keep:
        shutil.rmtree(w)


if __name__ == "__main__":
    main()
