"""Shared pieces of the benchmarks: layers made of system files, OCI layouts
written by hand, and commands timed under GNU time (wall, CPU, peak RSS)."""

import hashlib
import json
import os
import subprocess
import sys
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


