"""mount and umount, as atomic's test_system_containers_mount.sh used them:
an image checked out into an empty directory and bound read-only on it; an
installed container's rootfs bound read-only; the kind recorded in
atomic's format (so either tool's umount undoes either's mount); umount
leaving the directory as it was before."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_deploy import CTL, build, SysrootCtl  # noqa: E402



def is_mountpoint(path):
    return subprocess.run(["mountpoint", "-q", path]).returncode == 0


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("mountpoint"),
                     "needs root (mounts), umoci and mountpoint")
class MountTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-mount-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-mount-")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        self.dir = os.path.join(self.tmp, "mnt")
        os.makedirs(self.sysroot)
        os.makedirs(self.dir)
        self.ctl("pull", "--name", "greet:1", "oci:%s:v1" % self.layout)
        self.image = json.loads(self.ctl("--json", "images", "list").stdout)["images"][0]

    def tearDown(self):
        while is_mountpoint(self.dir):
            subprocess.run(["umount", "-l", self.dir], check=False)
        shutil.rmtree(self.tmp)

    def sidecar(self):
        with open(os.path.join(self.tmp, ".mnt.info")) as f:
            return json.load(f)

    def assert_read_only(self):
        with self.assertRaises(OSError) as cm:
            open(os.path.join(self.dir, "new-file"), "w")
        self.assertEqual(cm.exception.errno, errno.EROFS)

    def test_image(self):
        name = "%s:%s" % (self.image["repository"], self.image["tag"])
        r = self.ctl("mount", "--shared", name, self.dir)
        self.assertEqual(r.stdout, "%s mounted on %s (ostree-image)\n" % (name, self.dir))
        self.assertTrue(is_mountpoint(self.dir))
        with open(os.path.join(self.dir, "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "exports")))
        self.assert_read_only()
        self.assertEqual(self.sidecar(), {"user.atomic.type": "ostree-image"})
        # twice on one directory: refused, nothing changed
        r = self.ctl("mount", name, self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: mount directory %s: something is mounted "
                             "there already (ostree-image); umount it first\n" % self.dir))
        r = json.loads(self.ctl("--json", "umount", self.dir).stdout)
        self.assertEqual(r, {"schema": 1, "dir": self.dir, "type": "ostree-image",
                             "mounted": False})
        self.assertFalse(is_mountpoint(self.dir))
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])
        # the store's objects were not touched
        self.assertIn('"ok": true', self.ctl("--json", "images", "verify", name).stdout)

    def test_image_by_id_prefix_and_refusals(self):
        r = json.loads(self.ctl("--json", "mount", self.image["id"][:12], self.dir).stdout)
        self.assertEqual((r["type"], r["mounted"]), ("ostree-image", True))
        self.ctl("umount", self.dir)
        # a directory that is not empty
        with open(os.path.join(self.dir, "mine"), "w") as f:
            f.write("keep\n")
        r = self.ctl("mount", self.image["id"], self.dir, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists and is not empty", r.stderr)
        self.assertEqual(os.listdir(self.dir), ["mine"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".mnt.info")))
        os.unlink(os.path.join(self.dir, "mine"))
        # what is neither an installed container nor an image
        r = self.ctl("mount", "nothing-here", self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: image "
                                                       "'nothing-here' is not in the store\n"))
        r = self.ctl("mount", "greet", "relative/dir", check=False)
        self.assertEqual(r.stderr, "syscontainerctl: error: mount directory 'relative/dir': "
                                   "must be an absolute path\n")
        # umount of what nobody mounted
        r = self.ctl("umount", self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: %s: nothing mounted there by "
                             "syscontainerctl or atomic (no user.atomic.type record)\n" % self.dir))
        self.assertEqual(os.listdir(self.dir), [])

    def test_container(self):
        self.ctl("install", "--name", "web", "oci:%s:v1" % self.layout)
        rootfs = os.path.join(self.sysroot, "var/lib/containers/atomic/web.0/rootfs")
        before = sorted(os.listdir(rootfs))
        r = self.ctl("mount", "web", self.dir)
        self.assertEqual(r.stdout, "web mounted on %s (ostree-container)\n" % self.dir)
        self.assertEqual(sorted(os.listdir(self.dir)), before)
        self.assertEqual(os.stat(self.dir).st_ino, os.stat(rootfs).st_ino)
        self.assert_read_only()
        self.assertEqual(self.sidecar(), {"user.atomic.type": "ostree-container"})
        r = self.ctl("umount", self.dir)
        self.assertEqual(r.stdout, "%s unmounted (ostree-container)\n" % self.dir)
        # the container's files stay; the directory is empty again
        self.assertEqual(sorted(os.listdir(rootfs)), before)
        self.assertEqual(os.listdir(self.dir), [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".mnt.info")))

    def test_atomic_made_mount_is_not_emptied(self):
        # atomic's image extract, marked with its xattr on the directory:
        # the xattr is all there is, and anyone who can write DIR can set
        # it, so umount refuses and leaves the files (issue 13, gap 3)
        with open(os.path.join(self.dir, "greet.sh"), "w") as f:
            f.write("echo hi\n")
        os.setxattr(self.dir, "user.atomic.type", b"ostree-image")
        subprocess.run(["mount", "--bind", self.dir, self.dir], check=True)
        r = self.ctl("umount", self.dir, check=False)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: %s: not unmounted, nothing removed: syscontainerctl has no "
            "record of mounting it (a user.atomic.type record alone proves nothing: anyone who "
            "can write there can make one); if nothing of ours is mounted there, remove its "
            "user.atomic.type record yourself\n") % self.dir))
        self.assertTrue(is_mountpoint(self.dir))
        self.assertEqual(os.listdir(self.dir), ["greet.sh"])
        self.assertIn("user.atomic.type", os.listxattr(self.dir))


if __name__ == "__main__":
    unittest.main(verbosity=2)
