"""Builds OCI test images with umoci (and hand-made layers), and compares trees.

Used by the store tests; everything here runs the real tools (umoci, skopeo).
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def build_base_image(layout, tag="base"):
    """A three-layer umoci image:
    1. busybox, /bin/sh, /etc files, a hardlink, a setuid file, a directory tree;
    2. deletes a file, deletes a directory, replaces a directory with a file;
    3. adds files again (so whiteouts and re-adds stack)."""
    bundle = layout + ".bundle"
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", "%s:%s" % (layout, tag))
    run("umoci", "unpack", "--image", "%s:%s" % (layout, tag), bundle)
    root = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc/sub/deep", "etc/gone", "opt/dir-to-file", "var/empty"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    os.symlink("busybox", os.path.join(root, "bin", "sh"))
    os.symlink("/etc/hello", os.path.join(root, "etc", "abs-link"))
    with open(os.path.join(root, "etc", "hello"), "w") as f:
        f.write("hello\n")
    os.link(os.path.join(root, "etc", "hello"), os.path.join(root, "etc", "hello-hardlink"))
    with open(os.path.join(root, "etc", "sub", "deep", "file"), "w") as f:
        f.write("deep\n")
    with open(os.path.join(root, "etc", "gone", "a"), "w") as f:
        f.write("a\n")
    with open(os.path.join(root, "opt", "dir-to-file", "inner"), "w") as f:
        f.write("inner\n")
    with open(os.path.join(root, "bin", "suid"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(os.path.join(root, "bin", "suid"), 0o4755)
    os.chown(os.path.join(root, "etc", "sub", "deep", "file"), 1000, 1001)
    os.chmod(os.path.join(root, "var", "empty"), 0o700)
    run("umoci", "repack", "--refresh-bundle", "--image", "%s:%s" % (layout, tag), bundle)

    os.unlink(os.path.join(root, "etc", "hello-hardlink"))
    shutil.rmtree(os.path.join(root, "etc", "gone"))
    shutil.rmtree(os.path.join(root, "opt", "dir-to-file"))
    with open(os.path.join(root, "opt", "dir-to-file"), "w") as f:
        f.write("now a file\n")
    run("umoci", "repack", "--refresh-bundle", "--image", "%s:%s" % (layout, tag), bundle)

    os.makedirs(os.path.join(root, "exports"))
    with open(os.path.join(root, "exports", "service.template"), "w") as f:
        f.write("[Service]\nExecStart=$EXEC_START\nEnvironment=P=$PORT\n")
    with open(os.path.join(root, "exports", "manifest.json"), "w") as f:
        f.write('{"defaultValues": {"PORT": "80"}}')
    run("umoci", "repack", "--refresh-bundle", "--image", "%s:%s" % (layout, tag), bundle)
    run("umoci", "config", "--image", "%s:%s" % (layout, tag),
        "--config.label", "atomic.type=system", "--config.cmd", "/bin/sh")
    shutil.rmtree(bundle)


def _blob_path(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


def _write_blob(layout, data):
    digest = "sha256:" + sha256(data)
    with open(_blob_path(layout, digest), "wb") as f:
        f.write(data)
    return digest


def _index_entry(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return index, m
    raise KeyError(tag)


def read_manifest(layout, tag):
    _, entry = _index_entry(layout, tag)
    with open(_blob_path(layout, entry["digest"])) as f:
        return json.load(f)


def rewrite(layout, tag, edit_manifest=None, edit_config=None, new_tag=None):
    """Rewrites the image's manifest and config with the given edits (functions
    that change the parsed JSON in place) and stores it under new_tag."""
    index, entry = _index_entry(layout, tag)
    manifest = read_manifest(layout, tag)
    with open(_blob_path(layout, manifest["config"]["digest"])) as f:
        config = json.load(f)
    if edit_config:
        edit_config(config)
    cdata = json.dumps(config).encode()
    manifest["config"]["digest"] = _write_blob(layout, cdata)
    manifest["config"]["size"] = len(cdata)
    if edit_manifest:
        edit_manifest(manifest)
    mdata = json.dumps(manifest).encode()
    mdigest = _write_blob(layout, mdata)
    new = dict(entry, digest=mdigest, size=len(mdata),
               annotations={"org.opencontainers.image.ref.name": new_tag or tag})
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name")
                          != (new_tag or tag)] + [new]
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    return mdigest


def make_tar(entries):
    """entries: list of (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tinfo(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, linkname="", uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return (info, data if kind == tarfile.REGTYPE else None)


def add_layer(layout, tag, tar_bytes, compression="gzip", new_tag=None, diff_id=None,
              media_type=None):
    """Appends a layer (compressed as asked) to the image; returns its digest."""
    if compression == "gzip":
        blob = gzip.compress(tar_bytes, mtime=0)
        mt = "application/vnd.oci.image.layer.v1.tar+gzip"
    elif compression == "zstd":
        blob = subprocess.run(["zstd", "-q", "-c"], input=tar_bytes, capture_output=True,
                              check=True).stdout
        mt = "application/vnd.oci.image.layer.v1.tar+zstd"
    else:
        blob, mt = tar_bytes, "application/vnd.oci.image.layer.v1.tar"
    digest = _write_blob(layout, blob)

    def edit_manifest(m):
        m["layers"].append({"mediaType": media_type or mt, "digest": digest, "size": len(blob)})

    def edit_config(c):
        c["rootfs"]["diff_ids"].append(diff_id or "sha256:" + sha256(tar_bytes))

    rewrite(layout, tag, edit_manifest, edit_config, new_tag)
    return digest


def listing(root):
    """path -> [type, mode, uid, gid, content hash or link target], and the
    groups of paths that are hardlinks of one another."""
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                content = "-> " + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = sha256(f.read())
                inodes.setdefault(st.st_ino, []).append(rel)
            else:
                content = ""
            out[rel] = [stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_uid,
                        st.st_gid, content]
    groups = [sorted(g) for g in inodes.values() if len(g) > 1]
    return out, groups


def same_inode(root, paths):
    return len({os.lstat(os.path.join(root, p)).st_ino for p in paths}) == 1


def umoci_unpack(layout, tag, dest):
    run("umoci", "unpack", "--image", "%s:%s" % (layout, tag), dest)
    return os.path.join(dest, "rootfs")


def make_index(layout, tags_platforms, new_tag):
    """An image index over existing tags: [(tag, os, arch, variant)]."""
    index, _ = _index_entry(layout, tags_platforms[0][0])
    manifests = []
    for tag, os_, arch, variant in tags_platforms:
        _, entry = _index_entry(layout, tag)
        platform = {"os": os_, "architecture": arch}
        if variant:
            platform["variant"] = variant
        manifests.append({"mediaType": entry.get("mediaType",
                                                 "application/vnd.oci.image.manifest.v1+json"),
                          "digest": entry["digest"], "size": entry["size"],
                          "platform": platform})
    data = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests}).encode()
    digest = _write_blob(layout, data)
    index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                               "digest": digest, "size": len(data),
                               "annotations": {"org.opencontainers.image.ref.name": new_tag}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    return digest


def sanitized_library():
    """Whether the library in SC_LIBRARY links ASan: Python cannot load it
    through ctypes without LD_PRELOAD, and with it libproxy's threads crash
    in the registry tests; scripts/test.sh runs the python suite
    unsanitized, the binding cases of integration tests skip."""
    lib = os.environ.get("SC_LIBRARY")
    if not lib or not shutil.which("ldd"):
        return False
    return "libasan" in subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
