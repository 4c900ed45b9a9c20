"""Issue 16: one layer's files checksummed and written by a pool of workers
(lib/store/layerpool.c). The same layer gives the same commit whatever the
number of workers (SC_IMPORT_WORKERS) and the scheduling, the store passes
`ostree fsck`, and a file that fails in a worker fails the pull with the
message the sequential importer gave, naming the earliest failing entry."""

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import imagelib as il  # noqa: E402
import tarcraft as tc  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
MiB = 1024 * 1024
# POSIX ACLs the kernel rewrites when they are stored (see hostile/test_layers.py):
# the first folds into the mode and disappears, the second widens the group bits
ACL_MINIMAL = (b"\x02\x00\x00\x00" + b"\x01\x00\x06\x00\xff\xff\xff\xff"
               + b"\x04\x00\x04\x00\xff\xff\xff\xff" + b"\x20\x00\x04\x00\xff\xff\xff\xff")
ACL_EXTENDED = (b"\x02\x00\x00\x00" + b"\x01\x00\x06\x00\xff\xff\xff\xff"
                + b"\x02\x00\x06\x00\xe8\x03\x00\x00" + b"\x04\x00\x04\x00\xff\xff\xff\xff"
                + b"\x10\x00\x06\x00\xff\xff\xff\xff" + b"\x20\x00\x04\x00\xff\xff\xff\xff")


def member(name, data=b"", mode=0o644, uid=0, gid=0, xattrs=None, kind=tarfile.REGTYPE,
           linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if xattrs:
        # pax records are UTF-8 text for tarfile; libarchive reads the bytes
        info.pax_headers = {"SCHILY.xattr." + k: v.decode("latin-1") for k, v in xattrs.items()}
    return (info, data if kind == tarfile.REGTYPE else None)


def busy_layer():
    """Many small files (some alike, so that objects are shared), files over
    1 MiB on both sides of the pool's 4 MiB limit, hardlinks to earlier files
    (queued or not), paths replaced later in the same layer, xattrs, owners."""
    rnd = random.Random(16)
    entries = [member("usr", kind=tarfile.DIRTYPE, mode=0o755)]
    for d in range(8):
        entries.append(member("usr/d%d" % d, kind=tarfile.DIRTYPE, mode=0o755))
        for i in range(120):
            size = rnd.choice([0, 1, 17, 4096, 65535, 65536, 65537, 200000])
            data = bytes(rnd.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
            data = data[:size] if i % 7 else b"shared content\n"
            x = {"user.n": b"%d" % i} if i % 5 == 0 else None
            entries.append(member("usr/d%d/f%03d" % (d, i), data, mode=0o755 if i % 3 else 0o600,
                                  uid=i % 4 * 1000, gid=i % 3, xattrs=x))
    # a directory whose dirtree takes 4-byte framing offsets (over 64 KiB),
    # and names long enough for 2-byte ones inside an entry: dirtrees are
    # serialized by layerpool.c, and compared with libostree's below
    entries.append(member("usr/many", kind=tarfile.DIRTYPE, mode=0o755))
    for i in range(1700):
        entries.append(member("usr/many/file-with-a-longer-name-%05d" % i, b"%d\n" % (i % 50)))
    entries.append(member("usr/many/" + "n" * 240, b"long name\n"))
    entries.append(member("usr/" + "d" * 250, kind=tarfile.DIRTYPE, mode=0o755))
    entries.append(member("usr/" + "d" * 250 + "/x", b"x\n"))
    for n, size in (("big1", int(1.5 * MiB)), ("big3", 3 * MiB + 5), ("big6", 6 * MiB + 1)):
        entries.append(member("usr/" + n, bytes([n[-1] == "1" and 7 or 9]) * size + n.encode(),
                              xattrs={"user.big": n.encode()}))
    entries += [
        member("usr/link-small", kind=tarfile.LNKTYPE, linkname="usr/d3/f010"),
        member("usr/link-big", kind=tarfile.LNKTYPE, linkname="usr/big6"),
        member("usr/link-queued", kind=tarfile.LNKTYPE, linkname="usr/big3"),
        # replaced later: the hardlink before names the first, the one after the second
        member("usr/d0/f001", b"second version\n", mode=0o640),
        member("usr/link-second", kind=tarfile.LNKTYPE, linkname="usr/d0/f001"),
        member("usr/big1", b"small now\n"),
        member("usr/d1/f002", kind=tarfile.SYMTYPE, linkname="f003"),
        # a file then a directory at one name, and a directory (with a file
        # in it) then a file: the later entry wins, as tar extracts
        member("usr/kind", b"a file first\n"),
        member("usr/kind", kind=tarfile.DIRTYPE, mode=0o750),
        member("usr/kind/in", b"in the directory\n"),
        member("usr/gone", kind=tarfile.DIRTYPE, mode=0o755),
        member("usr/gone/a", b"goes with its directory\n"),
        member("usr/gone", b"a file now\n"),
        # every permission bit the header carries, a large owner
        member("usr/setuid", b"#!/bin/sh\n", mode=0o7755, uid=4000000000, gid=65534),
    ]
    entries.insert(400, member("usr/link-first", kind=tarfile.LNKTYPE, linkname="usr/d0/f001"))
    return il.make_tar(entries)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                     "needs root, umoci and ostree")
class ImportParallelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-import-parallel-", dir="/var/tmp")
        cls.layout = os.path.join(cls.shared, "layout")
        il.run("umoci", "init", "--layout", cls.layout)
        il.run("umoci", "new", "--image", cls.layout + ":empty")
        cls.busy = busy_layer()
        cls.digests = {}
        cls.digests["busy"] = il.add_layer(cls.layout, "empty", cls.busy, new_tag="busy")
        # (raw pax records: tarfile would write the ACLs' bytes as UTF-8)
        files = [tc.member("etc/f%03d" % i, b"%d\n" % i * 1000) for i in range(300)]
        acl_min = tc.member("etc/acl-min", b"x\n", mode=0o644,
                            pax=[(b"SCHILY.xattr.system.posix_acl_access", ACL_MINIMAL)])
        acl_ext = tc.member("etc/acl-ext", b"x\n", mode=0o644,
                            pax=[(b"SCHILY.xattr.system.posix_acl_access", ACL_EXTENDED)])
        # one bad file among many, then two: the earlier one is named
        cls.digests["acl"] = il.add_layer(
            cls.layout, "empty", tc.end(files[:150] + [acl_min] + files[150:]), new_tag="acl")
        cls.digests["two"] = il.add_layer(
            cls.layout, "empty", tc.end(files[:100] + [acl_ext] + files[100:200] + [acl_min]
                                        + files[200:]), new_tag="two")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def pull(self, tag, workers):
        root = tempfile.mkdtemp(dir=self.shared)
        self.addCleanup(shutil.rmtree, root)
        env = dict(os.environ, SC_IMPORT_WORKERS=str(workers))
        r = subprocess.run([CTL, "--checkout-root", root, "--json", "pull",
                            "oci:%s:%s" % (self.layout, tag)], capture_output=True, text=True,
                           env=env)
        return r, root, os.path.join(root, ".storage", "ostree")

    def refs(self, repo):
        out = subprocess.run(["ostree", "--repo=" + repo, "refs"], check=True,
                             capture_output=True, text=True).stdout.split()
        return {ref: subprocess.run(["ostree", "--repo=" + repo, "rev-parse", ref], check=True,
                                    capture_output=True, text=True).stdout.strip()
                for ref in out}

    def fsck(self, repo):
        r = subprocess.run(["ostree", "--repo=" + repo, "fsck"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def tree(self, repo, commit):
        """Every path of the commit with its mode, owner and checksum, and the
        root's dirtree and dirmeta: what the commit's checksum covers, told
        apart when the commits differ."""
        ls = ["ostree", "--repo=" + repo, "ls", "-C", "-X"]
        return (subprocess.run(ls + ["-R", commit], check=True, capture_output=True,
                               text=True).stdout,
                subprocess.run(ls + ["-d", commit, "/"], check=True, capture_output=True,
                               text=True).stdout)

    def test_same_tree_for_any_worker_count(self):
        seen = {}
        # "0" and "junk" are not worker counts: one per CPU then
        for workers in (1, 2, 8, 1, 2, 8, 8, 0, "junk"):
            r, root, repo = self.pull("busy", workers)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.fsck(repo)
            refs = self.refs(repo)
            layer_refs = [v for k, v in refs.items() if self.digests["busy"][7:] in k]
            self.assertEqual(len(layer_refs), 1, refs)
            # the commit itself (its time is fixed), and what it covers
            tree = (layer_refs[0],) + self.tree(repo, layer_refs[0])
            seen.setdefault(tree, []).append(workers)
            if len(seen[tree]) == 9:
                self.check_content(repo, layer_refs[0])
        self.assertEqual(len(seen), 1, [(t[0], t[2], w) for t, w in seen.items()])

    def check_content(self, repo, commit):
        dest = os.path.join(self.shared, "co")
        subprocess.run(["ostree", "--repo=" + repo, "checkout", commit, dest], check=True)
        self.addCleanup(shutil.rmtree, dest)
        with tarfile.open(fileobj=__import__("io").BytesIO(self.busy)) as t:
            last, order = {}, {}
            for i, m in enumerate(t.getmembers()):
                last[m.name], order[m.name] = m, i
            for name, m in last.items():
                # (under a name a later file replaced: gone with it)
                parents = [name.rsplit("/", k)[0] for k in range(1, name.count("/") + 1)]
                if any(last[p].isfile() and order[p] > order[name] for p in parents if p in last):
                    self.assertFalse(os.path.lexists(os.path.join(dest, name)), name)
                    continue
                p = os.path.join(dest, name)
                if m.isfile():
                    with open(p, "rb") as f:
                        self.assertEqual(f.read(), t.extractfile(m).read(), name)
                    self.assertEqual(os.stat(p).st_mode & 0o7777, m.mode, name)
                    for k, v in m.pax_headers.items():
                        if k.startswith("SCHILY.xattr.user."):
                            self.assertEqual(os.getxattr(p, k[13:]), v.encode(), name)
        same = lambda a, b: os.stat(os.path.join(dest, a)).st_ino == \
            os.stat(os.path.join(dest, b)).st_ino  # noqa: E731
        self.assertTrue(same("usr/link-big", "usr/big6"))
        self.assertTrue(same("usr/link-queued", "usr/big3"))
        self.assertTrue(same("usr/link-second", "usr/d0/f001"))
        with open(os.path.join(dest, "usr/link-first"), "rb") as f:
            self.assertNotEqual(f.read(), b"second version\n")
        with open(os.path.join(dest, "usr/big1"), "rb") as f:
            self.assertEqual(f.read(), b"small now\n")
        self.assertEqual(os.stat(os.path.join(dest, "usr/kind")).st_mode & 0o7777, 0o750)
        self.assertEqual(sorted(os.listdir(os.path.join(dest, "usr/kind"))), ["in"])
        with open(os.path.join(dest, "usr/gone"), "rb") as f:
            self.assertEqual(f.read(), b"a file now\n")

    def assert_refused(self, tag, message):
        for workers in (1, 2, 8, 8):
            r, root, repo = self.pull(tag, workers)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            err = json.loads(r.stdout)["error"]
            self.assertEqual(err["code"], "SC_EUNSUPPORTED", err["message"])
            self.assertEqual(err["message"], "oci:%s:%s: layer %s: %s"
                             % (self.layout, tag, self.digests[tag], message))
            if os.path.exists(repo):
                self.assertEqual(self.refs(repo), {})
                self.fsck(repo)

    def test_worker_failure(self):
        self.assert_refused("acl", "entry 'etc/acl-min' has xattrs that the filesystem changes "
                            "when they are stored ('system.posix_acl_access'); the store cannot "
                            "hold it as the layer gives it")

    def test_earliest_failure_named(self):
        self.assert_refused("two", "entry 'etc/acl-ext' has xattrs that the filesystem changes "
                            "when they are stored (the mode 0644 to 0664); the store cannot "
                            "hold it as the layer gives it")

    @unittest.skipUnless(shutil.which("mkfs.xfs"), "needs mkfs.xfs (xfsprogs)")
    def test_xfs_reads_an_sgi_acl_as_a_posix_acl(self):
        """A store on XFS: a file's xattr trusted.SGI_ACL_FILE is XFS's own
        name of its POSIX ACL, read back as system.posix_acl_access too. The
        import reads such an object back and refuses it (it imported, and
        `ostree fsck` then called the object corrupt); user.* names, which
        no file system changes, are not read back and import."""
        def entry(tag, perm):
            return tag.to_bytes(4, "big") + b"\xff\xff\xff\xff" + perm.to_bytes(2, "big") + b"\0\0"
        acl = (3).to_bytes(4, "big") + entry(1, 6) + entry(4, 4) + entry(0x20, 4)
        layout = os.path.join(self.shared, "xfs-layout")
        il.run("umoci", "init", "--layout", layout)
        il.run("umoci", "new", "--image", layout + ":empty")
        il.add_layer(layout, "empty", tc.end([tc.member(
            "etc/acl", b"x\n", pax=[(b"SCHILY.xattr.trusted.SGI_ACL_FILE", acl)])]), new_tag="sgi")
        il.add_layer(layout, "empty", tc.end([tc.member(
            "etc/plain", b"x\n", pax=[(b"SCHILY.xattr.user.note", b"kept")])]), new_tag="user")
        image = os.path.join(self.shared, "xfs.img")
        mnt = os.path.join(self.shared, "xfs")
        os.makedirs(mnt)
        with open(image, "wb") as f:
            f.truncate(320 * MiB)
        il.run("mkfs.xfs", "-q", image)
        il.run("mount", "-o", "loop", image, mnt)
        self.addCleanup(os.unlink, image)
        self.addCleanup(subprocess.run, ["umount", mnt])
        root = os.path.join(mnt, "root")
        r = subprocess.run([CTL, "--checkout-root", root, "pull", "oci:%s:sgi" % layout],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("entry 'etc/acl' has xattrs that the filesystem changes when they are "
                      "stored ('system.posix_acl_access' added); the store cannot hold it as "
                      "the layer gives it", r.stderr)
        r = subprocess.run([CTL, "--checkout-root", root, "pull", "oci:%s:user" % layout],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.fsck(os.path.join(root, ".storage", "ostree"))

    def objects(self, repo):
        """Every object file and directory under objects/: its type and
        permission bits, owner, size, link count, xattrs, and for a file
        object its mtime and contents (what libostree gives a bare object)."""
        found = {}
        top = os.path.join(repo, "objects")
        for d, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(d, n)
                st = os.lstat(p)
                key = [st.st_mode, st.st_uid, st.st_gid,
                       sorted((k, os.getxattr(p, k, follow_symlinks=False))
                              for k in os.listxattr(p, follow_symlinks=False))]
                if n.endswith(".file") and stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        key += [st.st_size, st.st_nlink, st.st_mtime_ns, f.read()]
                found[os.path.relpath(p, top)] = key
        return found

    def test_objects_as_libostree_writes_them(self):
        """The pool's workers write a bare store's file objects themselves
        (lib/store/bareobject.c): object for object, directory for
        directory, they are what libostree writes (SC_OBJECT_WRITER=libostree),
        owners, setuid bits, xattrs and the mtime of 0 included, and the
        layer's commit is the same."""
        r, _, ours = self.pull("busy", 2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        os.environ["SC_OBJECT_WRITER"] = "libostree"
        try:
            r, _, theirs = self.pull("busy", 2)
        finally:
            del os.environ["SC_OBJECT_WRITER"]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.fsck(ours)
        layer = [k for k in self.refs(ours) if self.digests["busy"][7:] in k]
        self.assertEqual(len(layer), 1)
        self.assertEqual(self.refs(ours)[layer[0]], self.refs(theirs)[layer[0]])
        a, b = self.objects(ours), self.objects(theirs)
        # (the image's own commits hold the time of the pull, and so does
        # the name of an objects/XX made for them alone)
        def without_commits(found):
            kept = {k: v for k, v in found.items() if not k.endswith(".commit")}
            used = {k.split("/")[0] for k in kept if "/" in k}
            return {k: v for k, v in kept.items() if "/" in k or k in used}
        a, b = without_commits(a), without_commits(b)
        self.assertGreater(len([k for k in a if k.endswith(".file")]), 700)
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertEqual(a[k], b[k], k)
        setuid = [v for k, v in a.items() if k.endswith(".file") and v[0] & 0o7777 == 0o7755]
        self.assertEqual([(v[1], v[2], v[-2]) for v in setuid], [(4000000000, 65534, 0)])
        self.assertEqual(os.listdir(os.path.join(ours, "tmp")), ["cache"])

    def test_min_free_space_kept(self):
        """The store's min-free-space reserve holds for the objects the
        workers write themselves: a layer of 32 MB of small files into a
        store that has 8 MB above its reserve fails, naming the file and the
        reserve, and leaves no ref; the same layer imports without it."""
        layout = os.path.join(self.shared, "space")
        il.run("umoci", "init", "--layout", layout)
        il.run("umoci", "new", "--image", layout + ":empty")
        il.add_layer(layout, "empty", tc.end([tc.member("etc/seed", b"seed\n")]), new_tag="seed")
        il.add_layer(layout, "empty", tc.end([tc.member("data/%04d" % i, os.urandom(16384))
                                              for i in range(2000)]), new_tag="small")
        root = tempfile.mkdtemp(dir=self.shared)
        self.addCleanup(shutil.rmtree, root)
        repo = os.path.join(root, ".storage", "ostree")
        pull = [CTL, "--checkout-root", root, "pull"]
        r = subprocess.run(pull + ["oci:%s:seed" % layout], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.refs(repo)
        with open(os.path.join(repo, "config")) as f:
            config = f.read()
        sv = os.statvfs(repo)
        reserve_mb = sv.f_bfree * sv.f_frsize // MiB - 8  # (root: as libostree counts)
        with open(os.path.join(repo, "config"), "w") as f:
            f.write(config.replace("[core]\n", "[core]\nmin-free-space-size=%dMB\n" % reserve_mb))
        r = subprocess.run(pull + ["oci:%s:small" % layout], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"layer sha256:[0-9a-f]{64}: 'data/[0-9]{4}': writing it would "
                         r"leave less than the store's min-free-space \(%d bytes\) free\n$"
                         % (reserve_mb * MiB))
        self.assertEqual(self.refs(repo), before)
        self.fsck(repo)
        with open(os.path.join(repo, "config"), "w") as f:
            f.write(config)
        r = subprocess.run(pull + ["oci:%s:small" % layout], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.fsck(repo)

    def test_one_budget_for_the_layers_of_a_pull(self):
        """Eight layers of 4 MiB files imported at once (--jobs 8) share one
        8 MiB budget of buffers: the peak RSS stays under issue 16's 64 MB
        (34 MB here; 89 MB with a budget per layer)."""
        layout = os.path.join(self.shared, "eight")
        il.run("umoci", "init", "--layout", layout)
        il.run("umoci", "new", "--image", layout + ":l0")
        for n in range(8):
            block = os.urandom(MiB)
            entries = [member("l%d/%d" % (n, i), (b"%08d" % i + block[8:]) * 4) for i in range(3)]
            il.add_layer(layout, "l%d" % n, il.make_tar(entries), compression="none",
                         new_tag="l%d" % (n + 1))
        root = tempfile.mkdtemp(dir=self.shared)
        self.addCleanup(shutil.rmtree, root)
        env = dict(os.environ, SC_IMPORT_WORKERS="2")
        env.pop("MALLOC_PERTURB_", None)  # (meson's: it touches every page malloc gives)
        r = subprocess.run(["/usr/bin/time", "-f", "%M", CTL, "--checkout-root", root, "pull",
                            "--jobs", "8", "oci:%s:l8" % layout], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        repo = os.path.join(root, ".storage", "ostree")
        self.fsck(repo)
        self.assertEqual(len([k for k in self.refs(repo) if "layer" in k or len(k) > 70]), 9)
        peak_mb = int(r.stderr.strip().splitlines()[-1]) / 1024
        # (under ASan every allocation has shadow memory and a quarantine:
        # the bound is the unsanitized build's)
        if not il.sanitized_library():
            self.assertLess(peak_mb, 64, "peak RSS %.1f MB" % peak_mb)

if __name__ == "__main__":
    unittest.main(verbosity=2)
