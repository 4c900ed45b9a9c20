"""Issue 16, attacked from outside: a bare store's file objects written by
the layer pool's workers (lib/store/bareobject.c) fail the way libostree's
did, with the reason named, and leave the store as it was; a layer's owners
are ones the store can hold."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import imagelib as il  # noqa: E402
import tarcraft as tc  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
MiB = 1024 * 1024
LAYER = r"layer sha256:[0-9a-f]{64}"


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                     "needs root, umoci and ostree")
class BareAttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-bare-attack-", dir="/var/tmp")
        cls.layout = os.path.join(cls.shared, "layout")
        il.run("umoci", "init", "--layout", cls.layout)
        il.run("umoci", "new", "--image", cls.layout + ":empty")
        il.add_layer(cls.layout, "empty", tc.end([tc.member("etc/seed", b"seed\n")]),
                     compression="none", new_tag="seed")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def layer(self, tag, entries):
        il.add_layer(self.layout, "seed", tc.end(entries), compression="none", new_tag=tag)

    def seeded(self, parent=None):
        """A store that holds the seed image: (root, repo, its refs)."""
        root = tempfile.mkdtemp(dir=parent or self.shared)
        self.addCleanup(shutil.rmtree, root)
        repo = os.path.join(root, ".storage", "ostree")
        r = self.pull(root, "seed")
        self.assertEqual(r.returncode, 0, r.stderr)
        return root, repo, self.refs(repo)

    def pull(self, root, tag, **env):
        return subprocess.run([CTL, "--checkout-root", root, "pull",
                               "oci:%s:%s" % (self.layout, tag)], capture_output=True, text=True,
                              env=dict(os.environ, SC_IMPORT_WORKERS="2", **env))

    def refs(self, repo):
        out = subprocess.run(["ostree", "--repo=" + repo, "refs"], check=True,
                             capture_output=True, text=True).stdout.split()
        return {ref: subprocess.run(["ostree", "--repo=" + repo, "rev-parse", ref], check=True,
                                    capture_output=True, text=True).stdout.strip()
                for ref in out}

    def assert_left_alone(self, repo, before):
        self.assertEqual(self.refs(repo), before)
        r = subprocess.run(["ostree", "--repo=" + repo, "fsck"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_refused_xattr_named(self):
        """An xattr the kernel refuses (a security.capability of 2 bytes):
        the error names it, as libostree's did, for a file the workers
        write and for one streamed by the reader (over 4 MiB)."""
        bad = [(b"SCHILY.xattr.security.capability", b"\x01\x02")]
        for name, size in (("small", 10), ("large", 5 * MiB)):
            with self.subTest(name):
                tag = "cap-" + name
                self.layer(tag, [tc.member("usr/bin/" + name, b"x" * size, mode=0o755, pax=bad)])
                root, repo, before = self.seeded()
                r = self.pull(root, tag)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertRegex(
                    r.stderr, r"^syscontainerctl: error: oci:%s:%s: %s: 'usr/bin/%s': writing "
                    r"object ([0-9a-f]{64}|\(new\))\.file: fsetxattr\(security\.capability\): "
                    r"Invalid argument\n$" % (re.escape(self.layout), tag, LAYER, name))
                self.assert_left_alone(repo, before)

    def test_owner_the_store_cannot_hold(self):
        """An owner of 4294967295 is chown's 'unchanged' (the object would
        keep root's, and fail ostree fsck), and one past 32 bits would be cut
        to another: such a layer is refused, naming the entry, whichever
        writes the objects."""
        cases = (("file", tc.member("opt/f", b"f\n", pax=[(b"uid", b"4294967295")]), "4294967295:0"),
                 ("large", tc.member("opt/l", b"l" * (5 * MiB), pax=[(b"gid", b"4294967295")]),
                  "0:4294967295"),
                 ("wide", tc.member("opt/w", b"w\n", pax=[(b"uid", b"4294967296")]),
                  "4294967296:0"),
                 ("symlink", tc.member("opt/s", typeflag=b"2", linkname=b"f",
                                       pax=[(b"uid", b"4294967295")]), "4294967295:0"))
        for name, member, owner in cases:
            for writer in ("", "libostree"):
                with self.subTest(name=name, writer=writer):
                    tag = "owner-" + name
                    self.layer(tag, [member])
                    root, repo, before = self.seeded()
                    r = self.pull(root, tag, SC_OBJECT_WRITER=writer)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    self.assertRegex(
                        r.stderr, r"^syscontainerctl: error: oci:%s:%s: %s: entry 'opt/%s' has "
                        r"the owner %s, which the store cannot hold \(ids go up to 4294967294\)\n$"
                        % (re.escape(self.layout), tag, LAYER, name[0], owner))
                    self.assert_left_alone(repo, before)
        self.layer("owner-ok", [tc.member("opt/f", b"f\n", pax=[(b"uid", b"4294967294")])])
        root, repo, before = self.seeded()
        r = self.pull(root, "owner-ok")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_left_alone(repo, self.refs(repo))

    def test_no_reserve_no_reserve_error(self):
        """min-free-space-percent=0 turns libostree's reserve off: a file that
        does not fit fails as a full disk does, not as a reserve of 0 bytes
        would; the store is left as it was, its space given back (a 24 MiB
        tmpfs)."""
        mnt = tempfile.mkdtemp(dir=self.shared)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", mnt], check=True)
        self.layer("huge", [tc.member("var/huge", b"\1" * (40 * MiB))])
        root, repo, before = self.seeded(mnt)
        with open(os.path.join(repo, "config")) as f:
            config = f.read()
        with open(os.path.join(repo, "config"), "w") as f:
            f.write(config.replace("[core]\n", "[core]\nmin-free-space-percent=0\n"))
        free = os.statvfs(mnt).f_bfree
        r = self.pull(root, "huge")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"^syscontainerctl: error: oci:%s:huge: %s: 'var/huge': "
                         r"writing object \(new\)\.file: write: No space left on device\n$"
                         % (re.escape(self.layout), LAYER))
        self.assert_left_alone(repo, before)
        # (the failed transaction leaves its staging directory, as libostree's
        # abort does: a block or two; the unlinked object's 24 MiB are back)
        self.assertGreater(os.statvfs(mnt).f_bfree, free - 16)

    def test_reserve_shared_by_the_layers_of_a_pull(self):
        """Eight layers of 10 MB imported at once (--jobs 8) into a store
        with 40 MB above its min-free-space reserve: they write into the
        same free space, so the pull fails naming the reserve and the
        reserve is kept (each layer counting its own writes alone, all eight
        went in, 40 MB into the reserve). A 160 MiB tmpfs: its free space is
        exact at once."""
        mnt = tempfile.mkdtemp(dir=self.shared)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", mnt], check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", mnt], check=True)
        tag = "seed"
        for n in range(8):
            il.add_layer(self.layout, tag, tc.end([tc.member("l%d/%03d" % (n, i), os.urandom(60000))
                                                   for i in range(170)]),
                         compression="none", new_tag="eight%d" % n)
            tag = "eight%d" % n
        root, repo, before = self.seeded(mnt)
        sv = os.statvfs(mnt)
        reserve = (sv.f_bfree * sv.f_frsize // MiB - 40) * MiB
        with open(os.path.join(repo, "config")) as f:
            config = f.read()
        with open(os.path.join(repo, "config"), "w") as f:
            f.write(config.replace("[core]\n", "[core]\nmin-free-space-size=%dMB\n"
                                   % (reserve // MiB)))
        r = subprocess.run([CTL, "--checkout-root", root, "pull", "--jobs", "8",
                            "oci:%s:%s" % (self.layout, tag)], capture_output=True, text=True,
                           env=dict(os.environ, SC_IMPORT_WORKERS="2"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"^syscontainerctl: error: oci:%s:%s: %s: 'l[0-7]/[0-9]{3}': "
                         r"writing it would leave less than the store's min-free-space "
                         r"\(%d bytes\) free\n$" % (re.escape(self.layout), tag, LAYER, reserve))
        self.assert_left_alone(repo, before)
        sv = os.statvfs(mnt)
        # (the dirtree and dirmeta objects are not counted: a few blocks)
        self.assertGreater(sv.f_bfree * sv.f_frsize, reserve - MiB)


if __name__ == "__main__":
    unittest.main(verbosity=2)
