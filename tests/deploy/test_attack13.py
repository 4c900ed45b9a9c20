"""Outside attacks on issue 13's mount/umount and default names: DIR
spelled with a trailing slash, hostile sidecars, and atomic's default
container name for transport-prefixed images. Every refusal leaves DIR,
its sidecar and the store as they were."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_deploy import CTL, build, tree, SysrootCtl  # noqa: E402


def is_mountpoint(path):
    return subprocess.run(["mountpoint", "-q", path]).returncode == 0


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("mountpoint"),
                     "needs root (mounts), umoci and mountpoint")
class Attack13Test(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-att13-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        cls.layout2 = os.path.join(cls.shared, "layout2")
        build(cls.layout2, "v2", {"defaultValues": {"GREETING": "hi"}})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-att13-")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        self.dir = os.path.join(self.tmp, "mnt")
        os.makedirs(self.sysroot)
        os.makedirs(self.dir)
        self.ctl("pull", "--name", "greet:1", "oci:%s:v1" % self.layout)

    def tearDown(self):
        for d in (self.dir,):
            while is_mountpoint(d):
                subprocess.run(["umount", "-l", d], check=False)
        shutil.rmtree(self.tmp)

    def test_trailing_slash_dir(self):
        # "DIR/" is DIR: the record goes next to DIR, not inside it, and
        # umount with or without the slash finds it
        r = self.ctl("mount", "localhost/greet:1", self.dir + "/", check=False)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, "localhost/greet:1 mounted on %s (ostree-image)\n" % self.dir)
        self.assertTrue(is_mountpoint(self.dir))
        self.assertEqual(sorted(os.listdir(self.tmp)), [".mnt.info", "mnt", "sysroot"])
        self.assertNotIn(".mnt.info", os.listdir(self.dir))
        r = self.ctl("umount", self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr, r.stdout),
                         (0, "", "%s unmounted (ostree-image)\n" % self.dir))
        self.assertFalse(is_mountpoint(self.dir))
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])

    def test_trailing_slash_container(self):
        self.ctl("install", "--name", "web", "localhost/greet:1")
        r = self.ctl("mount", "web", self.dir + "//", check=False)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertTrue(is_mountpoint(self.dir))
        r = self.ctl("umount", self.dir + "/", check=False)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertFalse(is_mountpoint(self.dir))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])

    def test_fifo_sidecar(self):
        side = os.path.join(self.tmp, ".mnt.info")
        os.mkfifo(side)
        r = self.ctl("umount", self.dir, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("syscontainerctl: error: %s: " % side), r.stderr)
        self.assertTrue(os.path.exists(side))

    def test_garbage_and_huge_sidecar(self):
        side = os.path.join(self.tmp, ".mnt.info")
        for content, expected in (
                ("garbage", "syscontainerctl: error: %s: not a mount record (no \"user.atomic.type\")\n"),
                ("{" * 100000, "syscontainerctl: error: %s: is 100000 bytes; at most 4096 are allowed\n")):
            with open(side, "w") as f:
                f.write(content)
            r = self.ctl("umount", self.dir, check=False)
            self.assertEqual((r.returncode, r.stderr), (1, expected % side))
            with open(side) as f:
                self.assertEqual(f.read(), content)

    def test_symlink_dir_and_file_dir(self):
        link = os.path.join(self.tmp, "link")
        os.symlink(self.dir, link)
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        for d, why in ((link, "not a directory"), (f, "not a directory"),
                       ("/", "something is mounted there already")):
            r = self.ctl("mount", "localhost/greet:1", d, check=False)
            self.assertEqual((r.returncode, r.stderr),
                             (1, "syscontainerctl: error: mount directory %s: %s\n" % (d, why)))
        r = self.ctl("mount", "localhost/greet:1", self.sysroot, check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: checkout directory %s exists and is not "
                             "empty\n" % self.sysroot))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["file", "link", "mnt", "sysroot"])

    def test_nonempty_dir(self):
        open(os.path.join(self.dir, "keep"), "w").close()
        r = self.ctl("mount", "localhost/greet:1", self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: checkout directory %s exists and is not "
                             "empty\n" % self.dir))
        self.assertEqual(os.listdir(self.dir), ["keep"])
        self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])


    def test_concurrent_mounts_of_one_dir(self):
        # two mounts of one DIR at once: one wins, the other is refused and
        # leaves the winner's record, so that umount finds the mount
        cmd = [CTL, "--sysroot", self.sysroot, "mount", "localhost/greet:1", self.dir]
        for _ in range(8):
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(2)]
            results = sorted((p.wait(timeout=120), p.stderr.read()) for p in procs)
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            self.assertEqual(results, [
                (0, ""),
                (1, "syscontainerctl: error: mount directory %s: something is mounted there "
                    "already (ostree-image); umount it first\n" % self.dir)])
            r = self.ctl("umount", self.dir, check=False)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            self.assertFalse(is_mountpoint(self.dir))
            self.assertEqual(os.listdir(self.dir), [])
            self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])


    def test_uninstall_while_mounted(self):
        # the rootfs bound on DIR was deleted under it (DIR then showed an
        # empty, deleted directory) and uninstall said nothing: refused
        # before any change, naming DIR
        self.ctl("install", "--name", "web", "localhost/greet:1")
        self.ctl("mount", "web", self.dir)
        before = tree(self.sysroot)
        listing = sorted(os.listdir(self.dir))
        r = self.ctl("uninstall", "web", check=False)
        rootfs = os.path.join(self.sysroot, "var/lib/containers/atomic/web.0/rootfs")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: container web: its rootfs %s is mounted on "
                             "%s; umount %s first\n" % (rootfs, self.dir, self.dir)))
        self.assertEqual(tree(self.sysroot), before)
        self.assertTrue(is_mountpoint(self.dir))
        self.assertEqual(sorted(os.listdir(self.dir)), listing)
        self.assertIn("etc", listing)
        self.ctl("umount", self.dir)
        self.ctl("uninstall", "web")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "var/lib/containers/atomic/web.0")))


    def test_second_update_while_mounted(self):
        # mount, update (the mounted slot becomes the previous one), update
        # again: that slot was filled from scratch under DIR; refused
        self.ctl("install", "--name", "web", "localhost/greet:1")
        self.ctl("mount", "web", self.dir)
        self.ctl("pull", "--name", "greet:1", "oci:%s:v2" % self.layout2)
        self.ctl("update", "web")
        self.ctl("pull", "--name", "greet:1", "oci:%s:v1" % self.layout)
        before = tree(self.sysroot)
        listing = sorted(os.listdir(self.dir))
        r = self.ctl("update", "web", check=False)
        rootfs = os.path.join(self.sysroot, "var/lib/containers/atomic/web.0/rootfs")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: container web: the previous deployment's "
                             "rootfs %s, which this update replaces, is mounted on %s; umount %s "
                             "first\n" % (rootfs, self.dir, self.dir)))
        self.assertEqual(tree(self.sysroot), before)
        self.assertEqual(sorted(os.listdir(self.dir)), listing)
        self.assertIn("etc", listing)
        self.ctl("umount", self.dir)
        r = self.ctl("update", "web")
        self.assertIn("web.0", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
