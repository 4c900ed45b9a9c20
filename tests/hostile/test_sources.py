"""Hostile local sources, rendering and store conditions, through
syscontainerctl: oci: layouts whose files are FIFOs, devices, directories or
symbolic links (in or out of the layout); oci-archive: and docker-archive:
files with crafted tar headers (sizes near 2^64, negative, past the end,
links, duplicates, '..' names, bad checksums); templates whose values would
render gigabytes; a read-only store; parallel first pulls.

Every refused case asserts the exact message and the exit code, that the
scratch directories (the sources) are unchanged, that the store's refs are
unchanged and that `ostree fsck` is clean. Cases that used to hang run under
a subprocess timeout and must finish in seconds."""

import hashlib
import io
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

CTL = os.environ["SYSCONTAINERCTL"]
TIMEOUT = 30  # seconds; every command here takes well under one
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64"}.get(os.uname().machine, os.uname().machine)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tree(root):
    """path -> (type and mode, content hash or link target) under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            what = ""
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = sha(f.read())
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            out[os.path.relpath(p, root)] = (st.st_mode, what)
    return out


def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Image:
    """A minimal valid image: one uncompressed layer, its config and
    manifest, as bytes; written as an OCI layout or a docker-archive."""

    def __init__(self, files=None, tag="t"):
        self.tag = tag
        self.layer = layer_tar(files or {"hello": b"hello\n"})
        self.config = json.dumps({
            "architecture": GOARCH, "os": "linux",
            "config": {"Labels": {"atomic.type": "system"}, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(self.layer)]}}).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": "sha256:" + sha(self.layer),
                        "size": len(self.layer)}]}).encode()
        self.index = json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": MEDIA_MANIFEST, "digest": "sha256:" + sha(self.manifest),
            "size": len(self.manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode()

    def layout_files(self):
        """name -> bytes of an OCI layout."""
        out = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": self.index}
        for b in (self.layer, self.config, self.manifest):
            out["blobs/sha256/" + sha(b)] = b
        return out

    def write_layout(self, path):
        for name, data in self.layout_files().items():
            os.makedirs(os.path.dirname(os.path.join(path, name)), exist_ok=True)
            with open(os.path.join(path, name), "wb") as f:
                f.write(data)
        return path

    def docker_files(self):
        return {"manifest.json": json.dumps([{
                    "Config": sha(self.config) + ".json", "RepoTags": ["example.com/h:1"],
                    "Layers": [sha(self.layer) + ".tar"]}]).encode(),
                sha(self.config) + ".json": self.config,
                sha(self.layer) + ".tar": self.layer}


# ---- raw tar members, for headers no tar library would write ----

def header(name, size=0, typeflag=b"0", size_field=None, linkname=b"", checksum=True):
    h = bytearray(512)
    name = name.encode() if isinstance(name, str) else name
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = size_field if size_field is not None else b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = typeflag
    linkname = linkname.encode() if isinstance(linkname, str) else linkname
    h[157:157 + len(linkname)] = linkname
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    if checksum:
        h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def member(name, data=b"", **kw):
    pad = (512 - len(data) % 512) % 512
    return header(name, size=len(data), **kw) + data + b"\0" * pad


def archive(members, end=True):
    return b"".join(members) + (b"\0" * 1024 if end else b"")


def base256(value, negative=False):
    """A 12-byte GNU base-256 number field."""
    if negative:
        return b"\xff" * 12
    return bytes([0x80]) + value.to_bytes(11, "big")


@unittest.skipUnless(os.getuid() == 0, "needs root (the store is bare as root)")
class SourcesBase(unittest.TestCase):
    """A store holding one good image (so refs and fsck mean something), and
    a scratch directory for the hostile sources."""

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-hostile-sources-")
        cls.checkout_root = os.path.join(cls.shared, "ck")
        cls.repo = os.path.join(cls.checkout_root, ".storage", "ostree")
        cls.good = Image(tag="good")
        good = cls.good.write_layout(os.path.join(cls.shared, "good"))
        r = cls.run_ctl("pull", "oci:%s:good" % good)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="src-", dir=self.shared)

    def tearDown(self):
        shutil.rmtree(self.scratch)

    @classmethod
    def run_ctl(cls, *args, timeout=TIMEOUT, env=None):
        start = time.monotonic()
        try:
            r = subprocess.run([CTL, "--checkout-root", cls.checkout_root] + list(args),
                               capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise AssertionError("syscontainerctl %s hung (killed after %d s)"
                                 % (" ".join(args), timeout))
        r.seconds = time.monotonic() - start
        return r

    def refs(self):
        return subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                              capture_output=True, text=True).stdout.split()

    def fsck(self):
        r = subprocess.run(["ostree", "--repo=" + self.repo, "fsck", "--quiet"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def store_tree(self):
        # ostree's own tmp/ (staging, caches) is not the store's content
        return {k: v for k, v in tree(self.repo).items() if not k.startswith("tmp")}

    def assert_refused(self, source, message, code="SC_EIO", seconds=5):
        """Pulls @source, which must fail with @message (exactly) and @code,
        exit code 1, within @seconds, and change nothing."""
        scratch, refs, store = tree(self.scratch), self.refs(), self.store_tree()
        r = self.run_ctl("--json", "pull", source)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual((err["code"], err["message"]), (code, message))
        self.assertLess(r.seconds, seconds, "took %.1f s" % r.seconds)
        self.assertEqual(tree(self.scratch), scratch, "the source changed")
        self.assertEqual(self.refs(), refs, "the store's refs changed")
        self.assertEqual(self.store_tree(), store, "the store changed")
        self.fsck()

    def assert_pulls(self, source, name):
        r = self.run_ctl("pull", source)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, name + "\n")
        self.run_ctl("images", "delete", name)
        self.fsck()


class LayoutTest(SourcesBase):
    """oci: layouts: every file must be a regular file inside the layout,
    opened without following a link and without blocking."""

    def layout(self, image=None):
        return (image or Image()).write_layout(os.path.join(self.scratch, "layout"))

    def blob_of(self, what, image):
        return "blobs/sha256/" + sha(getattr(image, what))

    def replace(self, layout, name, make):
        p = os.path.join(layout, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
        make(p)

    def test_fifo_index_does_not_block(self):
        lay = self.layout()
        self.replace(lay, "index.json", os.mkfifo)
        self.assert_refused("oci:%s:t" % lay, "%s: 'index.json' is a FIFO; the files of an "
                            "image layout must be regular files" % lay)

    def test_fifo_oci_layout_and_blob(self):
        img = Image({"other": b"a layer the store does not have\n"})
        lay = self.layout(img)
        self.replace(lay, "oci-layout", os.mkfifo)
        self.assert_refused("oci:%s:t" % lay, "%s: 'oci-layout' is a FIFO; the files of an "
                            "image layout must be regular files" % lay)
        shutil.rmtree(lay)
        lay = self.layout(img)
        layer = self.blob_of("layer", img)
        self.replace(lay, layer, os.mkfifo)
        self.assert_refused("oci:%s:t" % lay, "oci:%s:t: blob sha256:%s: %s: '%s' is a FIFO; "
                            "the files of an image layout must be regular files"
                            % (lay, sha(img.layer), lay, layer))

    def test_blob_symlink_to_shadow(self):
        img = Image()
        lay = self.layout(img)
        shadow = os.path.join(self.scratch, "shadow")
        with open(shadow, "w") as f:
            f.write("root:SECRET:1::::::\n")
        manifest = self.blob_of("manifest", img)
        self.replace(lay, manifest, lambda p: os.symlink(shadow, p))
        self.assert_refused("oci:%s:t" % lay, "%s: '%s' is a symbolic link; the files of an "
                            "image layout must be regular files" % (lay, manifest))
        # also to /etc/shadow itself, and to a file inside the layout
        self.replace(lay, manifest, lambda p: os.symlink("/etc/shadow", p))
        self.assert_refused("oci:%s:t" % lay, "%s: '%s' is a symbolic link; the files of an "
                            "image layout must be regular files" % (lay, manifest))
        self.replace(lay, "index.json", lambda p: os.symlink("oci-layout", p))
        self.assert_refused("oci:%s:t" % lay, "%s: 'index.json' is a symbolic link; the files "
                            "of an image layout must be regular files" % lay)

    def test_blob_directory_and_device(self):
        # a config the store has is taken from the store (issue 13: a re-pull
        # reads no blob), so this image's config must be one it lacks
        img = Image(files={"other": b"a config the store lacks\n"})
        lay = self.layout(img)
        config = self.blob_of("config", img)
        self.replace(lay, config, os.mkdir)
        self.assert_refused("oci:%s:t" % lay, "blob sha256:%s: %s: '%s' is a directory; the "
                            "files of an image layout must be regular files"
                            % (sha(img.config), lay, config))
        self.replace(lay, config, lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 5)))
        self.assert_refused("oci:%s:t" % lay, "blob sha256:%s: %s: '%s' is a device; the files "
                            "of an image layout must be regular files"
                            % (sha(img.config), lay, config))

    def test_blobs_directory_outside_the_layout(self):
        img = Image()
        lay = self.layout(img)
        elsewhere = os.path.join(self.scratch, "elsewhere")
        shutil.copytree(os.path.join(lay, "blobs"), elsewhere)
        manifest = self.blob_of("manifest", img)
        for target in (elsewhere, "../elsewhere"):
            self.replace(lay, "blobs", lambda p: os.symlink(target, p))
            self.assert_refused("oci:%s:t" % lay, "%s: '%s' leads outside the directory it is "
                                "resolved in (through an absolute path or symbolic link, or "
                                "'..')" % (lay, manifest), code="SC_EUNSUPPORTED")

    def test_directory_link_inside_the_layout_is_followed(self):
        # a link that stays inside the layout is just a directory
        lay = self.layout(Image({"inside": b"read through blobs -> store\n"}))
        os.rename(os.path.join(lay, "blobs"), os.path.join(lay, "store"))
        os.symlink("store", os.path.join(lay, "blobs"))
        self.assert_pulls("oci:%s:t" % lay, "localhost/layout:t")


class ArchiveTest(SourcesBase):
    """oci-archive: and docker-archive: with crafted tar headers."""

    def write(self, name, data):
        p = os.path.join(self.scratch, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def oci_members(self, image=None, skip=()):
        return [member(n, d) for n, d in (image or Image()).layout_files().items()
                if n not in skip]

    def test_valid_archives_pull(self):
        img = Image({"archive": b"a layer only these archives have\n"})
        p = self.write("ok.tar", archive(self.oci_members(img)))
        self.assert_pulls("oci-archive:%s:t" % p, "localhost/ok:t")
        d = self.write("docker.tar", archive([member(n, b) for n, b in img.docker_files().items()]))
        self.assert_pulls("docker-archive:" + d, "example.com/h:1")

    def test_base256_size_near_2_64_ends(self):
        for kind in ("oci-archive", "docker-archive"):
            name = "index.json" if kind == "oci-archive" else "manifest.json"
            p = self.write("huge.tar", archive(
                [header(name, size_field=base256(2 ** 64 - 1))] + self.oci_members()))
            self.assert_refused("%s:%s" % (kind, p), "%s: member '%s' (header at byte 0): its "
                                "size field does not fit in 63 bits" % (p, name))
            p = self.write("huge.tar", archive(
                [header(name, size_field=bytes([0xbf]) + b"\xff" * 11)]))
            self.assert_refused("%s:%s" % (kind, p), "%s: member '%s' (header at byte 0): its "
                                "size field does not fit in 64 bits" % (p, name))

    def test_negative_and_malformed_sizes(self):
        p = self.write("neg.tar", archive([header("index.json", size_field=base256(0, True))]))
        self.assert_refused("oci-archive:" + p, "%s: member 'index.json' (header at byte 0): "
                            "its size field is negative" % p)
        p = self.write("bad.tar", archive([header("index.json", size_field=b"12x4567\0    ")]))
        self.assert_refused("oci-archive:" + p, "%s: member 'index.json' (header at byte 0): "
                            "its size field is not a number" % p)

    def test_member_past_the_end(self):
        members = self.oci_members()
        # a member whose size runs 1 byte past the file; a valid 2^40
        big = [header("zzz", size=10 ** 6)]
        p = self.write("past.tar", archive(members + big, end=False))
        size = os.path.getsize(p)
        self.assert_refused("oci-archive:" + p, "%s: member 'zzz' (header at byte %d): its "
                            "1000000 bytes of data run past the end of the archive (%d bytes)"
                            % (p, size - 512, size))
        p = self.write("past.tar", archive(members + [header("zzz", size_field=base256(2 ** 40))]))
        size = os.path.getsize(p)
        self.assert_refused("oci-archive:" + p, "%s: member 'zzz' (header at byte %d): its "
                            "1099511627776 bytes of data run past the end of the archive (%d "
                            "bytes)" % (p, size - 1024 - 512, size))

    def test_pax_size_is_the_members(self):
        # a pax "size" record is the next member's size (Go writes one for
        # files over 8 GiB), also for an old-style member typed '\0'; the
        # header's own size field then says 0
        img = Image({"pax": b"a layer whose archive carries pax sizes\n"})
        for typeflag in (b"0", b"\0"):
            members = []
            for name, data in img.layout_files().items():
                rec = b"size=%d" % len(data)
                rec = b"%d %s\n" % (len(rec) + 3 + (len(rec) + 3 >= 10), rec)
                pad = (512 - len(data) % 512) % 512
                members += [member("PaxHeader", rec, typeflag=b"x"),
                            header(name, size=0, typeflag=typeflag) + data + b"\0" * pad]
            p = self.write("paxsize.tar", archive(members))
            self.assert_pulls("oci-archive:%s:t" % p, "localhost/paxsize:t")

    def test_pax_size_overflow(self):
        rec = b"size=99999999999999999999"
        rec = b"%d %s\n" % (len(rec) + 4, rec)
        p = self.write("pax.tar", archive([member("pax", rec, typeflag=b"x"),
                                           member("index.json", b"{}")]))
        self.assert_refused("oci-archive:" + p, "%s: the extended header at byte 0 holds a pax "
                            "size that is not a number below 2^63" % p)
        rec = b"99999999999999999999999 path=x\n"
        p = self.write("pax.tar", archive([member("pax", rec, typeflag=b"x"),
                                           member("index.json", b"{}")]))
        self.assert_refused("oci-archive:" + p, "%s: the extended header at byte 0 holds a "
                            "malformed pax record" % p)

    def test_links_are_not_layout_files(self):
        img = Image()
        layout = img.layout_files()
        p = self.write("link.tar", archive(
            self.oci_members(img, skip=("index.json",)) +
            [member("real-index", layout["index.json"]),
             member("index.json", typeflag=b"2", linkname="real-index")]))
        self.assert_refused("oci-archive:%s:t" % p, "%s: member 'index.json' is a symbolic "
                            "link; the files of an image must be regular files" % p)
        blob = "blobs/sha256/" + sha(img.manifest)
        p = self.write("hard.tar", archive(
            self.oci_members(img, skip=(blob,)) +
            [member("copy", img.manifest), member(blob, typeflag=b"1", linkname="copy")]))
        self.assert_refused("oci-archive:%s:t" % p, "%s: member '%s' is a hard link; the files "
                            "of an image must be regular files" % (p, blob))
        p = self.write("data.tar", archive(self.oci_members(img) +
                                           [member("l", b"data", typeflag=b"2", linkname="x")]))
        self.assert_refused("oci-archive:%s:t" % p, "%s: member 'l' (header at byte %d): a "
                            "symbolic link with 4 bytes of data"
                            % (p, os.path.getsize(p) - 1024 - 1024))

    def test_duplicates_and_dotdot(self):
        members = self.oci_members()
        p = self.write("dup.tar", archive(members + [member("./index.json", b"{}")]))
        first = sum(len(m) for m in members[:1])
        self.assert_refused("oci-archive:%s:t" % p, "%s: member 'index.json' appears twice "
                            "(headers at bytes %d and %d); which one is meant is ambiguous"
                            % (p, first, sum(len(m) for m in members)))
        p = self.write("dotdot.tar", archive([member("blobs/../../etc/passwd", b"x")] + members))
        self.assert_refused("oci-archive:%s:t" % p, "%s: member 'blobs/../../etc/passwd' "
                            "(header at byte 0): has a '..' component" % p)

    def test_not_a_tar_and_truncated(self):
        p = self.write("junk.tar", b"this is not a tar file at all".ljust(1024, b"!"))
        self.assert_refused("oci-archive:" + p, "%s: the tar header at byte 0 has a bad "
                            "checksum (not a tar archive, or a damaged one)" % p)
        whole = archive(self.oci_members(), end=False)
        p = self.write("short.tar", whole + header("zzz")[:300])
        self.assert_refused("oci-archive:" + p, "%s: truncated tar header at byte %d"
                            % (p, len(whole)))
        # cut inside the last member's data (a download that stopped)
        name, data = list(Image().layout_files().items())[-1]
        last = member(name, data)
        p = self.write("short.tar", whole[:-100])
        self.assert_refused("oci-archive:" + p, "%s: member '%s' (header at byte %d): its %d "
                            "bytes of data run past the end of the archive (%d bytes)"
                            % (p, name, len(whole) - len(last), len(data), len(whole) - 100))

    def test_fifo_archive_does_not_block(self):
        p = os.path.join(self.scratch, "fifo.tar")
        os.mkfifo(p)
        for kind in ("oci-archive", "docker-archive"):
            self.assert_refused("%s:%s" % (kind, p), "%s: is a FIFO; an archive must be a "
                                "regular file" % p)

    def test_docker_archive_links(self):
        img = Image({"linked": b"a layer read through a link member\n"})
        files = img.docker_files()
        layer = sha(img.layer) + ".tar"
        # docker save writes a layer it saved before as a link to it: followed
        doc = json.loads(files["manifest.json"])
        doc[0]["Layers"] = ["abc/layer.tar"]
        files["manifest.json"] = json.dumps(doc).encode()
        ok = [member(n, b) for n, b in files.items()]
        p = self.write("docker.tar", archive(
            ok + [member("abc/layer.tar", typeflag=b"2", linkname="../" + layer)]))
        self.assert_pulls("docker-archive:" + p, "example.com/h:1")
        # ... but only inside the archive
        p = self.write("docker.tar", archive(
            ok + [member("abc/layer.tar", typeflag=b"2", linkname="../../" + layer)]))
        self.assert_refused("docker-archive:" + p, "%s: member 'abc/layer.tar' is a symbolic "
                            "link to '../../%s', outside the archive" % (p, layer))
        p = self.write("docker.tar", archive(
            ok + [member("abc/layer.tar", typeflag=b"2", linkname="/" + layer)]))
        self.assert_refused("docker-archive:" + p, "%s: member 'abc/layer.tar' is a symbolic "
                            "link to '/%s', outside the archive" % (p, layer))
        p = self.write("docker.tar", archive(
            ok + [member("abc/layer.tar", typeflag=b"2", linkname="layer.tar")]))
        self.assert_refused("docker-archive:" + p, "%s: member 'abc/layer.tar': more than 40 "
                            "symbolic links in a row" % p)


class RenderingTest(SourcesBase):
    """A value that would render gigabytes fails at the cap, at once."""

    def image_dir(self, manifest, service):
        d = os.path.join(self.scratch, "img")
        os.makedirs(d)
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        with open(os.path.join(d, "service.template"), "w") as f:
            f.write(service)
        return d

    def render(self, d, *args, env=None):
        before = tree(self.scratch)
        start = time.monotonic()
        p = subprocess.Popen([CTL, "--json", "render", "--name", "big", "--output",
                              os.path.join(self.scratch, "out")] + list(args) + [d],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("render hung")
        # the child's own peak memory (wait4 has reaped it through communicate)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return p.returncode, out, err, time.monotonic() - start, usage, before

    def test_default_value_used_2000_times(self):
        # 3 MiB default, substituted 2000 times: 6 GB unchecked
        d = self.image_dir({"defaultValues": {"BIG": "x" * (3 * 1024 * 1024)}},
                           "[Service]\n" + "Environment=A=$BIG\n" * 2000)
        rc, out, err, seconds, usage, before = self.render(d)
        self.assertEqual(rc, 1, err)
        e = json.loads(out)["error"]
        self.assertEqual(e["code"], "SC_ETEMPLATE")
        self.assertEqual(e["message"], "template '%s/service.template': the rendered text grows "
                         "past 4194304 bytes, the limit on a rendered file "
                         "(SC_MAX_RENDERED_BYTES), substituting 'BIG' at line 3, col 15" % d)
        self.assertLess(seconds, 10)
        self.assertLess(usage.ru_maxrss, 256 * 1024, "peak RSS %d KiB" % usage.ru_maxrss)
        self.assertEqual(tree(self.scratch), before, "files were written")

    def test_limit_from_the_environment(self):
        d = self.image_dir({"defaultValues": {"V": "v" * 100}},
                           "[Service]\nExecStart=/bin/true $V $V\n")
        env = dict(os.environ, SC_MAX_RENDERED_BYTES="150")
        rc, out, err, _, _, before = self.render(d, env=env)
        self.assertEqual(rc, 1, err)
        self.assertEqual(json.loads(out)["error"]["message"],
                         "template '%s/service.template': the rendered text grows past 150 "
                         "bytes, the limit on a rendered file (SC_MAX_RENDERED_BYTES), "
                         "substituting 'V' at line 2, col 24" % d)
        self.assertEqual(tree(self.scratch), before)
        env["SC_MAX_RENDERED_BYTES"] = "100000"
        rc, out, err, _, _, _ = self.render(d, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("ExecStart=/bin/true %s %s\n" % ("v" * 100, "v" * 100),
                      json.loads(out)["files"]["big.service"])


def in_private_ro_mount(path, *commands):
    """Runs the shell @commands with @path read-only, in a mount namespace
    of their own (nothing changes for the rest of the machine)."""
    script = "mount --bind %s %s && mount -o remount,ro,bind %s && %s" % (
        path, path, path, " && ".join(commands))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=TIMEOUT)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class StoreTest(SourcesBase):
    def ctl_in(self, *args):
        return " ".join([CTL, "--checkout-root", self.checkout_root] + ["'%s'" % a for a in args])

    def test_read_only_store_serves_readers(self):
        before, refs = self.store_tree(), self.refs()
        script = [self.ctl_in("--json", "images", "list"),
                  self.ctl_in("--json", "images", "inspect", "localhost/good:good"),
                  self.ctl_in("--json", "images", "verify", "localhost/good:good")]
        outs = []
        for cmd in script:
            r = in_private_ro_mount(self.shared, cmd)
            self.assertEqual(r.returncode, 0, cmd + ": " + r.stdout + r.stderr)
            outs.append(json.loads(r.stdout))
        self.assertEqual([i["repository"] for i in outs[0]["images"]], ["localhost/good"])
        self.assertEqual(outs[1]["name"], "localhost/good:good")
        self.assertTrue(outs[2]["ok"])
        # writers are refused up front, with the store's path
        for args in (("images", "delete", "localhost/good:good"), ("images", "prune"),
                     ("pull", "oci:%s/good:good" % self.shared)):
            r = in_private_ro_mount(self.shared, self.ctl_in("--json", *args))
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertEqual(json.loads(r.stdout)["error"]["message"],
                             "image store %s: cannot be changed: Read-only file system"
                             % self.repo)
        # a checkout reads the store; across mounts (the store's is another
        # one here) it copies what it cannot hardlink
        out = os.path.join(self.scratch, "out")
        r = in_private_ro_mount(self.repo, self.ctl_in("--json", "checkout",
                                                       "localhost/good:good", out))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        files = [os.path.join(d, n) for d, _, ns in os.walk(out) for n in ns
                 if os.path.isfile(os.path.join(d, n)) and not os.path.islink(os.path.join(d, n))]
        self.assertTrue(files)
        self.assertEqual({os.stat(f).st_nlink for f in files}, {1})
        self.assertEqual((self.store_tree(), self.refs()), (before, refs))
        self.fsck()

    def test_read_only_store_without_a_lock_file(self):
        # as atomic or skopeo left it: readers still work, nothing is created
        lock = os.path.join(self.repo, "syscontainer.lock")
        os.rename(lock, lock + ".away")
        try:
            r = in_private_ro_mount(self.shared, self.ctl_in("--json", "images", "list"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([i["repository"] for i in json.loads(r.stdout)["images"]],
                             ["localhost/good"])
            self.assertFalse(os.path.exists(lock))
        finally:
            os.rename(lock + ".away", lock)

    def test_lock_file_that_is_a_link(self):
        lock = os.path.join(self.repo, "syscontainer.lock")
        target = os.path.join(self.scratch, "target")
        with open(target, "w") as f:
            f.write("x")
        os.rename(lock, lock + ".away")
        os.symlink(target, lock)
        try:
            before = tree(self.scratch)
            for args in (("images", "list"), ("images", "prune")):
                r = self.run_ctl("--json", *args)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertEqual(json.loads(r.stdout)["error"]["message"],
                                 "image store %s: %s/syscontainer.lock is a symbolic link: "
                                 "refusing to follow it" % (self.repo, self.repo))
            self.assertEqual(tree(self.scratch), before)
        finally:
            os.unlink(lock)
            os.rename(lock + ".away", lock)

    def test_parallel_first_pulls(self):
        src = Image(tag="p").write_layout(os.path.join(self.scratch, "p"))
        for round_ in range(5):
            root = os.path.join(self.scratch, "ck%d" % round_)
            results = []

            def pull(n):
                results.append(subprocess.run(
                    [CTL, "--checkout-root", root, "pull", "--name", "n%d" % n, "oci:%s:p" % src],
                    capture_output=True, text=True, timeout=TIMEOUT))

            threads = [threading.Thread(target=pull, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for r in results:
                self.assertEqual(r.returncode, 0, r.stderr)
            repo = os.path.join(root, ".storage", "ostree")
            refs = subprocess.run(["ostree", "--repo=" + repo, "refs"], check=True,
                                  capture_output=True, text=True).stdout.split()
            self.assertEqual(sorted(r for r in refs if "_3A" in r),
                             ["ociimage/localhost_2Fn%d_3Alatest" % n for n in range(4)])  # issue 13
            self.assertFalse(os.path.exists(os.path.join(repo, ".syscontainer-creating")))
            fsck = subprocess.run(["ostree", "--repo=" + repo, "fsck", "--quiet"],
                                  capture_output=True, text=True)
            self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)

    def test_creation_left_by_a_crash_is_redone(self):
        root = os.path.join(self.scratch, "ck")
        repo = os.path.join(root, ".storage", "ostree")
        os.makedirs(os.path.join(repo, ".syscontainer-creating", "objects"))
        src = Image(tag="p").write_layout(os.path.join(self.scratch, "p"))
        r = subprocess.run([CTL, "--checkout-root", root, "pull", "oci:%s:p" % src],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(repo, ".syscontainer-creating")))
        self.assertTrue(os.path.isfile(os.path.join(repo, "syscontainer.lock")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
