"""The store's location attacked as a hostile sysroot and a demanding
administrator would: links in the store's own path that lead out of the
sysroot, a store whose parts are links to another repository, and a store
that was set on another file system than the checkouts."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_deploy import CTL, build, SysrootCtl  # noqa: E402
from test_ostree_host import CHECKOUT, inodes, ostree  # noqa: E402


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                     "needs root (mounts), umoci and ostree")
class OstreeHostAttackTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-ostree-attack-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-ostree-attack-")
        self.outside = tempfile.mkdtemp(prefix="sc-ostree-attack-outside-")
        self.repo = os.path.join(self.sysroot, "ostree", "repo")
        self.ck = os.path.join(self.sysroot, CHECKOUT)
        os.makedirs(self.repo)
        os.makedirs(self.ck)
        ostree(self.repo, "init", "--mode=bare")
        self.mounts = []

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.sysroot)
        shutil.rmtree(self.outside)

    def mount(self, target, *args):
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount", *args, target], check=True)
        self.mounts.append(target)

    def store(self, *args):
        return json.loads(self.ctl(*args, "--json", "images", "list").stdout)["store"]

    def test_storage_link_out_of_the_sysroot_stays_inside(self):
        # a hostile sysroot: CHECKOUT/.storage -> an absolute path, which
        # exists on this machine outside the sysroot
        os.symlink(self.outside, os.path.join(self.ck, ".storage"))
        var = os.path.join(self.sysroot, "var")
        self.mount(var, "--bind", var)  # /ostree/repo passed over
        inside = self.outside + "/ostree"
        s = self.store()
        self.assertEqual((s["path"], s["chosen"]), (inside, "checkout-root"))
        self.ctl("pull", "oci:%s:v1" % self.layout)
        self.assertEqual(os.listdir(self.outside), [], "the store was made outside the sysroot")
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot, inside.lstrip("/"), "config")))
        self.assertEqual(self.store(), {"path": inside, "chosen": "existing",
                                        "passed_over": None})
        images = json.loads(self.ctl("--json", "images", "list").stdout)["images"]
        self.assertEqual(len(images), 1)

    def test_store_parts_that_are_links_are_refused(self):
        # another repository on this machine, with an image in it
        other = os.path.join(self.outside, "repo")
        ostree(other, "init", "--mode=bare")
        subprocess.run([CTL, "--repo", other, "pull", "oci:%s:v1" % self.layout],
                       capture_output=True, check=True)
        shutil.rmtree(os.path.join(self.sysroot, "ostree"))  # not an OSTree host
        own = os.path.join(self.ck, ".storage", "ostree")
        os.makedirs(own)
        for part in ("config", "objects", "refs"):
            os.symlink(os.path.join(other, part), os.path.join(own, part))
        before = sorted(os.listdir(own))
        for args in (("images", "list"), ("pull", "oci:%s:v1" % self.layout)):
            r = self.ctl(*args, check=False)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, "syscontainerctl: error: image store %s: %s/config is a "
                             "symbolic link: refusing to follow it\n" % (own, own))
        self.assertEqual(sorted(os.listdir(own)), before)
        self.assertEqual(ostree(other, "refs").count("ociimage/"), 3)

    def lifecycle_copies(self, *opts):
        """install, update, rollback, uninstall where the checkouts cannot
        hardlink the store: they are copies, right in content and mode."""
        self.ctl(*opts, "install", "--name", "c", "oci:%s:v1" % self.layout)
        rootfs = os.path.join(self.ck, "c.0", "rootfs")
        with open(os.path.join(rootfs, "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")
        self.assertEqual(os.stat(os.path.join(rootfs, "bin", "busybox")).st_mode & 0o7777, 0o755)
        self.assertEqual(os.readlink(os.path.join(rootfs, "bin", "sh")), "busybox")
        self.assertEqual({d for d, _ in inodes(rootfs)}, {os.stat(self.ck).st_dev})
        r = json.loads(self.ctl(*opts, "--json", "update", "--rebase", "oci:%s:v2" % self.layout,
                                "c").stdout)
        self.assertEqual(r["deployment"], "/" + CHECKOUT + "/c.1")
        with open(os.path.join(self.ck, "c.1", "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd v2\n")
        r = json.loads(self.ctl(*opts, "--json", "rollback", "c").stdout)
        self.assertEqual(r["deployment"], "/" + CHECKOUT + "/c.0")
        self.ctl(*opts, "uninstall", "c")
        self.assertEqual([n for n in os.listdir(self.ck) if n.startswith("c")], [])

    def test_a_set_store_on_another_file_system(self):
        # --repo on a tmpfs: link() says EXDEV, as between two mounts
        srv = os.path.join(self.sysroot, "srv")
        self.mount(srv, "-t", "tmpfs", "tmpfs")
        self.assertEqual(self.store("--repo", "/srv/repo"),
                         {"path": "/srv/repo", "chosen": "configured", "passed_over": None})
        self.lifecycle_copies("--repo", "/srv/repo")
        self.assertIn("ociimage/", ostree(os.path.join(srv, "repo"), "refs"))

    def test_images_kept_in_the_hosts_repository_with_var_on_another_file_system(self):
        # older atomic pulled into /ostree/repo; /var is now a file system of
        # its own (a disk of its own, as Fedora CoreOS allows)
        self.ctl("--repo", "/ostree/repo", "pull", "oci:%s:v1" % self.layout)
        shutil.rmtree(os.path.join(self.sysroot, "var"))
        self.mount(os.path.join(self.sysroot, "var"), "-t", "tmpfs", "tmpfs")
        os.makedirs(self.ck)
        self.assertEqual(self.store(), {"path": "/ostree/repo", "chosen": "existing",
                                        "passed_over": None})
        self.lifecycle_copies()
        self.assertFalse(os.path.exists(os.path.join(self.ck, ".storage")))

    def test_the_first_pull_on_a_fresh_var_makes_it_reachable(self):
        # a fresh deployment's var is empty: the first pull makes var/lib,
        # which every service of the host needs to reach
        var = os.path.join(self.sysroot, "var")
        shutil.rmtree(var)
        self.mount(var, "-t", "tmpfs", "tmpfs")
        self.ctl("pull", "oci:%s:v1" % self.layout)
        self.assertEqual(self.store()["path"], "/%s/.storage/ostree" % CHECKOUT)
        for d in ("var/lib", "var/lib/containers", CHECKOUT, CHECKOUT + "/.storage"):
            self.assertEqual(os.stat(os.path.join(self.sysroot, d)).st_mode & 0o7777, 0o755, d)

    def test_a_user_who_cannot_look_into_the_store_is_not_told_there_are_no_images(self):
        var = os.path.join(self.sysroot, "var")
        self.mount(var, "--bind", var)  # the store goes under the checkout root
        self.ctl("pull", "oci:%s:v1" % self.layout)
        os.chmod(self.ck, 0o700)
        os.chmod(self.sysroot, 0o755)
        own = os.path.join(self.ck, ".storage", "ostree")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CTL,
                            "--sysroot", self.sysroot, "images", "list"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "syscontainerctl: error: image store %s: cannot read it: "
                         "Permission denied\n" % own)

    def test_a_config_that_is_not_a_file_is_named_with_what_it_is(self):
        config = os.path.join(self.repo, "config")
        os.unlink(config)
        for make, what in ((os.mkfifo, "a fifo"), (os.mkdir, "a directory")):
            make(config)
            s = self.store()
            self.assertEqual(s, {"path": "/%s/.storage/ostree" % CHECKOUT,
                                 "chosen": "checkout-root",
                                 "passed_over": "/ostree/repo/config is %s, not a repository's "
                                                "config" % what})
            os.rmdir(config) if os.path.isdir(config) else os.unlink(config)
        # no OSTree host at all: nothing was passed over
        shutil.rmtree(os.path.join(self.sysroot, "ostree"))
        self.assertIsNone(self.store()["passed_over"])


def build_special(layout, tag):
    """An image with what a copy must keep: owners, modes (setuid, sticky),
    an xattr, symlinks (relative, absolute, owned) and a hardlink."""
    bundle = os.path.join(os.path.dirname(layout), "bundle-special")
    if not os.path.exists(layout):
        subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", "%s:%s" % (layout, tag)], check=True)
    subprocess.run(["umoci", "unpack", "--image", "%s:%s" % (layout, tag), bundle], check=True,
                   capture_output=True)
    root = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(root, "d"))
    os.makedirs(os.path.join(root, "srv"))
    with open(os.path.join(root, "d", "suid"), "w") as f:
        f.write("suid\n")
    os.chmod(os.path.join(root, "d", "suid"), 0o4755)
    owned = os.path.join(root, "d", "owned")
    with open(owned, "w") as f:
        f.write("owned\n")
    os.chown(owned, 1234, 5678)
    os.chmod(owned, 0o640)
    os.setxattr(owned, "user.sc", b"kept")
    os.link(owned, os.path.join(root, "d", "hard"))
    os.symlink("../d/owned", os.path.join(root, "srv", "rel"))
    os.symlink("/etc/shadow", os.path.join(root, "srv", "abs"))
    os.chown(os.path.join(root, "srv", "abs"), 7, 8, follow_symlinks=False)
    os.chown(os.path.join(root, "srv"), 42, 43)
    os.chmod(os.path.join(root, "srv"), 0o1770)
    subprocess.run(["umoci", "repack", "--image", "%s:%s" % (layout, tag), bundle], check=True,
                   capture_output=True)
    shutil.rmtree(bundle)


def entries(top):
    """path -> (mode, uid, gid, link target or content, user.sc xattr)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if os.path.islink(p):
                what = os.readlink(p)
            elif os.path.isfile(p):
                with open(p) as f:
                    what = f.read()
            else:
                what = None
            try:
                x = os.getxattr(p, "user.sc", follow_symlinks=False)
            except OSError:
                x = None
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_uid, st.st_gid, what, x)
    return out


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                     "needs root (mounts), umoci and ostree")
class CopiedCheckoutTest(unittest.TestCase):
    """A checkout across mounts is a copy: the same tree as a linked one."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sc-ostree-attack-copy-")
        cls.sysroot = os.path.join(cls.tmp, "root")
        cls.var = os.path.join(cls.sysroot, "var")
        os.makedirs(cls.var)
        build_special(os.path.join(cls.tmp, "layout"), "s")
        subprocess.run(["mount", "--bind", cls.var, cls.var], check=True)
        subprocess.run([CTL, "--sysroot", cls.sysroot, "pull",
                        "oci:%s:s" % os.path.join(cls.tmp, "layout")], check=True,
                       capture_output=True)
        # linked: on var's mount, as the store; copied: on the root's
        cls.linked = os.path.join(cls.var, "linked")
        cls.copied = os.path.join(cls.sysroot, "copied")
        for d in (cls.linked, cls.copied):
            subprocess.run([CTL, "--sysroot", cls.sysroot, "checkout", "localhost/layout:s", d],
                           check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", "-l", cls.var], check=False)
        shutil.rmtree(cls.tmp)

    def test_modes_owners_xattrs_and_symlinks(self):
        linked, copied = entries(self.linked), entries(self.copied)
        self.assertEqual(copied, linked)
        self.assertEqual(copied["d/suid"][0] & 0o7777, 0o4755)
        self.assertEqual(copied["d/owned"][:3], (0o100640, 1234, 5678))
        self.assertEqual(copied["d/owned"][4], b"kept")
        self.assertEqual(copied["srv"][:3], (0o41770, 42, 43))
        self.assertEqual(copied["srv/abs"][1:4], (7, 8, "/etc/shadow"))
        # the copy shares nothing with the store (the linked one is its objects)
        self.assertNotEqual(os.stat(os.path.join(self.copied, "d", "suid")).st_ino,
                            os.stat(os.path.join(self.linked, "d", "suid")).st_ino)
        st = [os.stat(os.path.join(self.linked, "d", n)) for n in ("owned", "hard")]
        self.assertEqual(st[0].st_ino, st[1].st_ino)

    def test_a_hardlink_within_the_image_stays_one_file(self):
        # linked, d/hard and d/owned are one inode (the store's object,
        # asserted in test_modes_...); copied, so they are
        st = [os.stat(os.path.join(self.copied, "d", n)) for n in ("owned", "hard")]
        self.assertEqual(st[0].st_ino, st[1].st_ino)


if __name__ == "__main__":
    unittest.main(verbosity=2)
