"""Issue 13's remaining gaps, and attacks on its features: images delete
--force of an image a deployment uses (kept by its ID), re-install
comparing the values in effect, umount removing only what its own record
proves it mounted, mount refusing DIRs inside the checkout root or the
store, admin-edited host files through update and uninstall, and images
update skipping what did not come from a registry."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "registry"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
from test_deploy import build, tree, SysrootCtl  # noqa: E402
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402

CK = "var/lib/containers/atomic"
ERR = "syscontainerctl: error: "


def have(*tools):
    return all(shutil.which(t) for t in tools)


def is_mountpoint(path):
    return subprocess.run(["mountpoint", "-q", path]).returncode == 0


def id_ref(image_id):
    return "ociimage/sha256_3A" + image_id


class Base(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-gaps13-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello", "OTHER": "2"}},
              {"exports/hostfs/etc/greeter/other.conf": "other v1\n"})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n", "exports/hostfs/etc/greeter/greeter.conf": "v2\n",
               "exports/hostfs/etc/greeter/other.conf": "other v2\n"})
        cls.v1 = "oci:%s:v1" % cls.layout
        cls.v2 = "oci:%s:v2" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-gaps13-")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        self.ck = os.path.join(self.sysroot, CK)
        self.repo = os.path.join(self.ck, ".storage", "ostree")
        self.dir = os.path.join(self.tmp, "mnt")
        os.makedirs(self.sysroot)
        os.makedirs(self.dir)

    def tearDown(self):
        for d in (self.dir, os.path.join(self.tmp, "admin")):
            while os.path.isdir(d) and is_mountpoint(d):
                subprocess.run(["umount", "-l", d], check=False)
        shutil.rmtree(self.tmp)

    def js(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def path(self, rel):
        return os.path.join(self.sysroot, rel.lstrip("/"))

    def refs(self):
        return set(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                  capture_output=True, text=True).stdout.split())

    def listing(self):
        return sorted((i["repository"], i["tag"], i["id"], i["in_use"])
                      for i in self.js("images", "list")["images"])

    def refused(self, args, message):
        r = self.ctl(*args, check=False)
        # (issue 15: a --set of a variable the image lacks is warned about first)
        err = re.sub(r"syscontainerctl: warning: value \w+: the image declares no variable .*\n", "",
                     r.stderr)
        self.assertEqual((r.returncode, r.stdout, err), (1, "", ERR + message + "\n"), args)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree"), "needs root, umoci, ostree")
class DeleteForceTest(Base):
    def test_force_keeps_used_image_by_id(self):
        id1 = self.js("pull", "--name", "localhost/x:1", self.v1)["id"]
        self.ctl("install", "--name", "c1", "localhost/x:1")
        before = self.refs()
        self.refused(("images", "delete", "localhost/x:1"),
                     "image 'localhost/x:1' is used by container deployment 'c1.0' (delete it "
                     "with --force, or uninstall the container first)")
        self.assertEqual(self.refs(), before)
        r = self.ctl("images", "delete", "--force", "x:1")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        # the name went; the image stayed, by its ID, listed <none> and in use
        self.assertEqual(self.refs() - before, {id_ref(id1)})
        self.assertNotIn("ociimage/localhost_2Fx_3A1", self.refs())
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, True)])
        self.assertEqual(self.js("images", "inspect", id1[:12])["id"], id1)
        self.assertEqual(self.js("images", "prune")["images_removed"], 0)
        self.assertIn(id_ref(id1), self.refs())
        # its ID ref is the image itself: --force does not remove it either
        for text in (id1[:12], "sha256:" + id1):
            self.refused(("images", "delete", "--force", text),
                         "image 'sha256:%s' is used by container deployment 'c1.0' (uninstall "
                         "the container first: --force removes names, and this image has none "
                         "left)" % id1)
        self.assertIn(id_ref(id1), self.refs())
        # the container still updates (to itself) and uninstalls; then it goes
        self.ctl("uninstall", "c1")
        self.ctl("images", "delete", id1[:12])
        self.assertEqual(self.listing(), [])

    def test_force_with_another_name_and_rollback_slot(self):
        id1 = self.js("pull", "--name", "localhost/x:1", self.v1)["id"]
        self.ctl("images", "tag", "localhost/x:1", "y:1")
        self.ctl("install", "--name", "c1", "localhost/x:1")
        self.ctl("images", "delete", "--force", "localhost/x:1")
        # another name holds it: no ID ref
        self.assertNotIn(id_ref(id1), self.refs())
        self.assertEqual(self.listing(), [("localhost/y", "1", id1, True)])
        # the rollback slot (c1.0) is the only user once c1 runs v2
        id2 = self.js("pull", "--name", "localhost/z:2", self.v2)["id"]
        self.ctl("update", "--rebase", "localhost/z:2", "c1")
        self.ctl("images", "delete", "--force", "localhost/y:1")
        self.assertIn(id_ref(id1), self.refs())
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, True),
                                          ("localhost/z", "2", id2, True)])
        self.ctl("rollback", "c1")
        with open(self.path(CK + "/c1.0/info")) as f:
            self.assertEqual(json.load(f)["revision"], id1)

    def test_force_by_id_prefix_removes_every_name_keeps_image(self):
        id1 = self.js("pull", "--name", "localhost/x:1", self.v1)["id"]
        self.ctl("images", "tag", "localhost/x:1", "y:1")
        self.ctl("install", "--name", "c1", "localhost/y:1")
        self.ctl("images", "delete", "--force", id1[:12])
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, True)])
        self.assertIn(id_ref(id1), self.refs())

    def test_unused_image_deleted_outright(self):
        self.ctl("pull", "--name", "localhost/x:1", self.v1)
        self.ctl("images", "delete", "--force", "localhost/x:1")
        self.assertEqual(self.listing(), [])
        self.assertFalse(any(r.startswith("ociimage/sha256_3A") for r in self.refs()))


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree"), "needs root, umoci, ostree")
class AmbiguousIdTest(Base):
    def test_ambiguous_prefix_of_kept_images(self):
        # 17 images by one name in turn: 16 kept by ID, and (17 IDs, 16 hex
        # digits) at least two share their first digit
        lay = os.path.join(self.tmp, "many")
        il.run("umoci", "init", "--layout", lay)
        ids = []
        for n in range(17):
            il.run("umoci", "new", "--image", "%s:t%d" % (lay, n))
            il.run("umoci", "config", "--image", "%s:t%d" % (lay, n), "--config.env",
                   "N=%d" % n)
            ids.append(self.js("pull", "--name", "localhost/m:1", "oci:%s:t%d" % (lay, n))["id"])
        firsts = [i[0] for i in ids[:-1]]
        c = next(ch for ch in firsts if firsts.count(ch) > 1)
        a, b = [i for i in ids[:-1] if i[0] == c][:2]
        common = os.path.commonprefix([a, b])
        before = self.refs()
        self.assertLessEqual({id_ref(a), id_ref(b)}, before)
        for cmd in (("images", "delete", "--force", common), ("images", "inspect", common),
                    ("images", "verify", common),
                    ("images", "delete", "--force", "sha256:" + common)):
            r = self.ctl(*cmd, check=False)
            self.assertEqual(r.returncode, 1, cmd)
            self.assertRegex(r.stderr, r"^syscontainerctl: error: image ID prefix '%s' is "
                             r"ambiguous: it matches ([0-9a-f]{12}) and ([0-9a-f]{12})\n$"
                             % common)
        self.assertEqual(self.refs(), before)
        # one digit more than it shares with any other ID names it alone:
        # deleted (no deployment uses it)
        alone = max(len(os.path.commonprefix([a, i])) for i in ids if i != a) + 1
        self.ctl("images", "delete", a[:alone])
        self.assertNotIn(id_ref(a), self.refs())
        self.assertIn(id_ref(b), self.refs())


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "runc"), "needs root, umoci and runc")
class ReinstallTest(Base):
    def test_values_compared_as_in_effect(self):
        self.ctl("install", "--name", "g", "--set", "GREETING=hi", "--set", "OTHER=3", self.v1)
        before = tree(self.sysroot)
        for args in (("--set", "OTHER=3", "--set", "GREETING=hi"),
                     ("--set", "GREETING=hi", "--set", "OTHER=3", "--set", "GREETING=hi")):
            r = self.ctl("install", "--name", "g", *args, self.v1)
            # OTHER is no variable of the image: warned (issue 15), still compared
            self.assertEqual(r.stdout, "g already installed\n", args)
            self.assertEqual(re.sub(r"syscontainerctl: warning: --set OTHER: .*\n", "", r.stderr), "",
                             args)
        self.assertEqual(tree(self.sysroot), before)
        # a value equal to the manifest's default, given or omitted
        self.ctl("install", "--name", "d", self.v1)
        self.ctl("install", "--name", "e", "--set", "GREETING=hello", self.v1)
        before = tree(self.sysroot)
        for name in ("d", "e"):
            for args in ((), ("--set", "GREETING=hello"), ("--set", "OTHER=2"),
                         ("--set", "OTHER=2", "--set", "GREETING=hello")):
                r = self.ctl("install", "--name", name, *args, self.v1)
                self.assertEqual(r.stdout, "%s already installed\n" % name, (name, args))
        self.assertEqual(tree(self.sysroot), before)
        # another value still fails, naming update --set
        for name, args, keys in (("g", ("--set", "GREETING=hi"), "OTHER"),
                                 ("g", ("--set", "GREETING=hi", "--set", "OTHER=2"), "OTHER"),
                                 ("d", ("--set", "GREETING=bye"), "GREETING"),
                                 ("e", ("--set", "NEW=1"), "GREETING, NEW")):
            self.refused(("install", "--name", name, *args, self.v1),
                         "container %s is already installed with other values (%s): use "
                         "'syscontainerctl update --set K=V %s' to change them"
                         % (name, keys, name))
        self.assertEqual(tree(self.sysroot), before)

    def test_reinstall_with_another_rootfs(self):
        self.ctl("install", "--name", "a", self.v1)
        self.ctl("install", "--name", "b", self.v1)
        self.ctl("install", "--name", "r", "--rootfs", "/" + CK + "/a", self.v1)
        before = tree(self.sysroot)
        self.refused(("install", "--name", "r", "--rootfs", "/" + CK + "/b", self.v1),
                     "container r is already installed with --rootfs /%s/a.0, not --rootfs "
                     "/%s/b.0: uninstall it to change its root" % (CK, CK))
        self.refused(("install", "--name", "r", self.v1),
                     "container r is already installed with --rootfs /%s/a.0, not its own "
                     "root: uninstall it to change its root" % CK)
        self.assertEqual(tree(self.sysroot), before)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "runc"), "needs root, umoci and runc")
class HostFilesTest(Base):
    def test_edited_file_kept_through_update_and_uninstall(self):
        self.ctl("install", "--name", "g", self.v1)
        conf = self.path("etc/greeter/greeter.conf")
        with open(conf, "a") as f:
            f.write("# the admin's line\n")
        edited = "name=$NAME\n# the admin's line\n"
        r = self.ctl("update", "--rebase", self.v2, "g")
        self.assertEqual(r.stderr, "syscontainerctl: warning: /etc/greeter/greeter.conf was "
                                   "modified: kept\n")
        with open(conf) as f:
            self.assertEqual(f.read(), edited)
        r = self.ctl("--json", "uninstall", "g")
        self.assertEqual(json.loads(r.stdout)["containers"][0]["kept"], ["/etc/greeter/greeter.conf"])
        self.assertEqual(r.stderr, "syscontainerctl: warning: /etc/greeter/greeter.conf was "
                                   "modified: kept\n")
        with open(conf) as f:
            self.assertEqual(f.read(), edited)
        # nothing of ours left: the other host file, the slots, the unit
        self.assertEqual(os.listdir(self.path("etc/greeter")), ["greeter.conf"])
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertFalse(os.path.exists(self.path("etc/systemd/system/g.service")))

    def test_update_after_admin_deleted_host_file(self):
        self.ctl("install", "--name", "g", self.v1)
        os.unlink(self.path("etc/greeter/other.conf"))
        r = self.ctl("--json", "update", "--rebase", self.v2, "g", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["kept"], [])
        # the image's file is put back (the admin deleted ours, not theirs)
        with open(self.path("etc/greeter/other.conf")) as f:
            self.assertEqual(f.read(), "other v2\n")
        os.unlink(self.path("etc/greeter/other.conf"))
        self.ctl("uninstall", "g")
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertFalse(os.path.exists(self.path("etc/greeter")))


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "mountpoint"),
                     "needs root (mounts), umoci and mountpoint")
class UmountProofTest(Base):
    def setUp(self):
        super().setUp()
        self.ctl("pull", "--name", "greet:1", self.v1)
        self.side = os.path.join(self.tmp, ".mnt.info")

    def forge(self, kind, side=None):
        with open(side or self.side, "w") as f:
            json.dump({"user.atomic.type": kind}, f)

    def not_ours(self, d, reason):
        return ("%s: not unmounted, nothing removed: %s; if nothing of ours is mounted there, "
                "remove its user.atomic.type record yourself" % (d, reason))

    NO_RECORD = ("syscontainerctl has no record of mounting it (a user.atomic.type record "
                 "alone proves nothing: anyone who can write there can make one)")

    def test_forged_sidecar_on_admin_files(self):
        with open(os.path.join(self.dir, "admin.txt"), "w") as f:
            f.write("mine\n")
        for kind in ("ostree-image", "ostree-container", "ostree-image-storage"):
            self.forge(kind)
            self.refused(("umount", self.dir), self.not_ours(self.dir, self.NO_RECORD))
            self.assertEqual(os.listdir(self.dir), ["admin.txt"])
            self.assertTrue(os.path.exists(self.side))
        # the same as atomic's xattr on DIR
        os.unlink(self.side)
        os.setxattr(self.dir, "user.atomic.type", b"ostree-image")
        self.refused(("umount", self.dir), self.not_ours(self.dir, self.NO_RECORD))
        self.assertEqual(os.listdir(self.dir), ["admin.txt"])

    def test_forged_sidecar_on_admin_mount(self):
        admin = os.path.join(self.tmp, "admin")
        os.makedirs(admin)
        with open(os.path.join(admin, "data"), "w") as f:
            f.write("mine\n")
        subprocess.run(["mount", "--bind", admin, admin], check=True)
        self.forge("ostree-image", os.path.join(self.tmp, ".admin.info"))
        self.refused(("umount", admin), self.not_ours(admin, self.NO_RECORD))
        self.assertTrue(is_mountpoint(admin))
        self.assertEqual(os.listdir(admin), ["data"])

    def test_stale_record_after_crash(self):
        self.ctl("mount", "localhost/greet:1", self.dir)
        # the mount is gone (a crash, a reboot), the sidecar and our record stay
        subprocess.run(["umount", self.dir], check=True)
        listing = sorted(os.listdir(self.dir))
        self.refused(("umount", self.dir), self.not_ours(
            self.dir, "it is no longer a mount point (the record of a mount that is gone, e.g. "
                      "after a crash or a reboot)"))
        self.assertEqual(sorted(os.listdir(self.dir)), listing)
        self.assertTrue(os.path.exists(self.side))

    def test_sidecar_kind_swapped(self):
        self.ctl("install", "--name", "web", "localhost/greet:1")
        self.ctl("mount", "web", self.dir)
        self.forge("ostree-image")
        self.refused(("umount", self.dir), self.not_ours(
            self.dir, "syscontainerctl mounted it as ostree-container, not ostree-image"))
        self.assertTrue(is_mountpoint(self.dir))
        rootfs = self.path(CK + "/web.0/rootfs")
        self.assertIn("etc", os.listdir(rootfs))
        self.forge("ostree-container")
        r = self.ctl("umount", self.dir)
        self.assertEqual(r.stdout, "%s unmounted (ostree-container)\n" % self.dir)
        self.assertIn("etc", os.listdir(rootfs))
        self.assertEqual(os.listdir(os.path.join(self.ck, ".mounts")), [])

    def test_dir_replaced_after_mount(self):
        self.ctl("mount", "localhost/greet:1", self.dir)
        subprocess.run(["umount", self.dir], check=True)
        # another directory in its place, bound on itself, with the admin's files
        shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "admin.txt"), "w") as f:
            f.write("mine\n")
        subprocess.run(["mount", "--bind", self.dir, self.dir], check=True)
        self.refused(("umount", self.dir), self.not_ours(
            self.dir, "it is not the directory that was mounted there, or it changed since "
                      "(device, inode, birth or change time)"))
        self.assertEqual(os.listdir(self.dir), ["admin.txt"])

    def test_relative_umount_and_mount(self):
        # relative to the working directory: refused by both, before any
        # sidecar there is read
        os.chdir(self.tmp)
        try:
            self.forge("ostree-image")
            self.refused(("mount", "localhost/greet:1", "mnt"),
                         "mount directory 'mnt': must be an absolute path")
            self.refused(("umount", "mnt"), "mount directory 'mnt': must be an absolute path")
            self.refused(("umount", "./mnt/"), "mount directory './mnt/': must be an absolute "
                                               "path")
        finally:
            os.chdir("/")
        self.assertTrue(os.path.exists(self.side))

    def test_concurrent_umounts(self):
        # two umounts of one mount at once: one does it, the other finds
        # nothing (its record and sidecar gone), and neither touches more
        self.ctl("mount", "localhost/greet:1", self.dir)
        from test_deploy import CTL
        procs = [subprocess.Popen([CTL, "--sysroot", self.sysroot, "umount", self.dir],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        results = sorted((p.wait(), p.stderr.read()) for p in procs)
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(results, [
            (0, ""), (1, ERR + "%s: nothing mounted there by syscontainerctl or atomic (no "
                               "user.atomic.type record)\n" % self.dir)])
        self.assertFalse(is_mountpoint(self.dir))
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(os.listdir(os.path.join(self.ck, ".mounts")), [])

    def test_parent_through_a_link(self):
        # mounted through a link to DIR's parent, unmounted by the real path
        # (and the other way round): one record, found either way
        link = os.path.join(self.tmp, "lnk")
        os.symlink(self.tmp, link)
        r = self.ctl("mount", "localhost/greet:1", os.path.join(link, "mnt"))
        self.assertEqual(r.stdout, "localhost/greet:1 mounted on %s (ostree-image)\n" % self.dir)
        self.ctl("umount", self.dir)
        self.assertEqual(os.listdir(self.dir), [])
        self.ctl("mount", "localhost/greet:1", self.dir)
        r = self.ctl("umount", os.path.join(link, "mnt"))
        self.assertEqual(r.stdout, "%s unmounted (ostree-image)\n" % self.dir)
        self.assertFalse(is_mountpoint(self.dir))

    def test_link_to_our_mount_with_forged_sidecar(self):
        # DIR a link to a mount of ours, with a sidecar forged for the link:
        # not what we mounted, so nothing happens to the real mount
        self.ctl("mount", "localhost/greet:1", self.dir)
        link = os.path.join(self.tmp, "alias")
        os.symlink(self.dir, link)
        self.forge("ostree-image", os.path.join(self.tmp, ".alias.info"))
        self.refused(("umount", link), self.not_ours(link, self.NO_RECORD))
        self.assertTrue(is_mountpoint(self.dir))
        self.assertIn("etc", os.listdir(self.dir))
        self.ctl("umount", self.dir)

    def test_root_dir(self):
        self.refused(("umount", "/"), "mount directory /: never mounted by syscontainerctl")
        self.refused(("umount", "//."), "mount directory /: never mounted by syscontainerctl")
        self.refused(("mount", "localhost/greet:1", "/"),
                     "mount directory /: something is mounted there already")

    @unittest.skipIf(il.sanitized_library(), "the library is built with ASan")
    def test_binding_refuses_forged_sidecar(self):
        import syscontainer
        with open(os.path.join(self.dir, "admin.txt"), "w") as f:
            f.write("mine\n")
        self.forge("ostree-image")
        ctx = syscontainer.Context(sysroot=self.sysroot)
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.umount(self.dir)
        self.assertEqual((cm.exception.code, str(cm.exception)),
                         ("SC_EUNSUPPORTED", self.not_ours(self.dir, self.NO_RECORD)))
        self.assertEqual(os.listdir(self.dir), ["admin.txt"])
        # and its own mount it undoes
        os.unlink(self.side)
        os.unlink(os.path.join(self.dir, "admin.txt"))
        ctx.mount("localhost/greet:1", self.dir)
        self.assertEqual(ctx.umount(self.dir),
                         {"schema": 1, "dir": self.dir, "type": "ostree-image",
                          "mounted": False})
        self.assertEqual(os.listdir(self.dir), [])

    def test_own_mount_still_undone(self):
        self.ctl("mount", "localhost/greet:1", self.dir)
        records = os.listdir(os.path.join(self.ck, ".mounts"))
        self.assertEqual(len(records), 1)
        with open(os.path.join(self.ck, ".mounts", records[0])) as f:
            rec = json.load(f)
        self.assertEqual((rec["dir"], rec["type"], rec["source"], rec["mounted"]),
                         (self.dir, "ostree-image", "localhost/greet:1", True))
        self.assertEqual(os.stat(os.path.join(self.ck, ".mounts")).st_mode & 0o777, 0o700)
        # not a container, not a deployment: list and prune see nothing of it
        self.assertEqual(self.js("list")["containers"], [])
        self.ctl("umount", self.dir)
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(os.listdir(os.path.join(self.ck, ".mounts")), [])
        self.assertEqual(sorted(os.listdir(self.tmp)), ["mnt", "sysroot"])


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "mountpoint"),
                     "needs root (mounts), umoci and mountpoint")
class MountPlaceTest(Base):
    def test_dir_inside_checkout_root_or_store(self):
        self.ctl("pull", "--name", "greet:1", self.v1)
        self.ctl("install", "--name", "web", "localhost/greet:1")
        inside = os.path.join(self.ck, "newdir")
        os.makedirs(inside)
        link = os.path.join(self.tmp, "lnk")
        os.symlink(self.ck, link)
        store_dir = os.path.join(self.ck, ".storage", "new")
        os.makedirs(store_dir)
        empty_rootfs_sub = self.path(CK + "/web.0/rootfs/exports")
        before = tree(self.sysroot)
        for what in ("localhost/greet:1", "web"):
            # (named resolved: the parent's links followed)
            for d, shown in ((inside, inside), (link + "/newdir", inside),
                             (store_dir, store_dir), (self.path(CK + "/web.0/rootfs"),
                                                      self.path(CK + "/web.0/rootfs")),
                             (empty_rootfs_sub, empty_rootfs_sub), (self.ck, self.ck)):
                self.refused(("mount", what, d),
                             "mount directory %s: inside the checkout root %s, where the "
                             "containers' deployments are" % (shown, self.ck))
        self.assertEqual(tree(self.sysroot), before)
        self.assertFalse(os.path.exists(os.path.join(self.ck, ".mounts")))
        # "/" is a mount point already
        self.refused(("mount", "web", "/"),
                     "mount directory /: something is mounted there already")


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree", "skopeo", "docker-registry"),
                     "needs root, umoci, ostree, skopeo and docker-registry")
class ImagesUpdateTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = rg.Registry(cls.shared)
        cls.archive = os.path.join(cls.shared, "sys.tar")
        il.run("skopeo", "copy", cls.v1, "docker-archive:%s:quay.io/example/sys:1" % cls.archive)
        cls.ociarchive = os.path.join(cls.shared, "sys-oci.tar")
        il.run("skopeo", "copy", cls.v1, "oci-archive:%s" % cls.ociarchive)

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        super().tearDownClass()

    def push(self, tag, dest):
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:%s" % (self.layout, tag),
               "docker://%s/%s" % (self.registry.host, dest))

    def test_each_local_kind_skipped_registry_updated(self):
        self.push("v1", "gaps:1")
        ref = "%s/gaps:1" % self.registry.host
        old = self.js("pull", "--tls-verify=false", ref)["id"]
        self.ctl("pull", "--name", "demo:1", self.v1)
        self.ctl("pull", "docker-archive:" + self.archive)
        self.ctl("pull", "--name", "ocitar:1", "oci-archive:" + self.ociarchive)
        # a registry image given a localhost/ name: no registry has that name
        self.ctl("images", "tag", ref, "mine:1")
        self.push("v2", "gaps:1")
        before = self.refs()
        for name, reason in (
                ("demo:1", "pulled from oci:, not from a registry: pull it again from there"),
                ("localhost/ocitar:1", "pulled from oci-archive:, not from a registry: pull it "
                                       "again from there"),
                ("quay.io/example/sys:1", "pulled from docker-archive:, not from a registry: "
                                          "pull it again from there"),
                ("mine:1", "a local name (localhost/), not from a registry")):
            r = self.ctl("images", "update", "--tls-verify=false", name, check=False)
            shown = name if "/" in name else "localhost/" + name
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (0, "%s: skipped: %s\n" % (shown, reason), ""), name)
        self.assertEqual(self.refs(), before)
        r = self.ctl("images", "update", "--tls-verify=false", ref)
        new = self.js("images", "inspect", ref)["id"]
        self.assertNotEqual(new, old)
        self.assertEqual(r.stdout, "%s: updated %.12s -> %.12s\n" % (ref, old, new))
        # --all: exit 0, every local one skipped with its reason
        doc = self.js("images", "update", "--all", "--tls-verify=false")
        skipped = {i["name"]: i.get("skipped") for i in doc["images"]}
        self.assertEqual(skipped["localhost/mine:1"],
                         "a local name (localhost/), not from a registry")
        self.assertIsNone(skipped[ref])
        self.assertEqual(self.js("images", "inspect", "mine:1")["id"], old)

    def test_delete_names_with_port_and_digest(self):
        self.push("v1", "del:1")
        ref = "%s/del:1" % self.registry.host
        report = self.js("pull", "--tls-verify=false", ref)
        self.ctl("install", "--name", "c", ref)
        # the registry's port is part of the name, not a tag
        host, port = self.registry.host.rsplit(":", 1)
        self.refused(("images", "delete", "%s/del:%s" % (host, port)),
                     "image '%s/del:%s' is not in the store" % (host, port))
        self.refused(("images", "delete", ref),
                     "image '%s' is used by container deployment 'c.0' (delete it with "
                     "--force, or uninstall the container first)" % ref)
        # by digest: the image pulled by tag (as podman finds it), in use
        digest = json.loads(subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "docker://" + ref], check=True,
            capture_output=True, text=True).stdout)["Digest"]
        self.assertTrue(digest.startswith("sha256:"), digest)
        by_digest = "%s/del@%s" % (self.registry.host, digest)
        self.assertEqual(self.js("images", "inspect", by_digest)["id"], report["id"])
        before = self.refs()
        self.refused(("images", "delete", by_digest),
                     "image '%s' is used by container deployment 'c.0' (delete it with "
                     "--force, or uninstall the container first)" % ref)
        # another repository's name with that digest is not it
        self.refused(("images", "delete", "--force", "%s/other@%s" % (self.registry.host, digest)),
                     "image '%s/other@%s' is not in the store" % (self.registry.host, digest))
        self.assertEqual(self.refs(), before)
        self.ctl("images", "delete", "--force", by_digest)
        self.assertEqual(self.listing(), [("<none>", "<none>", report["id"], True)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
