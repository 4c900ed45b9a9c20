"""Issue 13, container lifecycle: the container's UUID kept across update
and rollback, a host file the admin modified kept through an update,
--rootfs through a link resolved (and run with runc), and a re-install."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_deploy import CTL, build, tree, SysrootCtl  # noqa: E402


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class LifecycleTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-life13-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"},
                                 "renameFiles": {"/etc/greeter": "/etc/$NAME"},
                                 "installedFilesTemplate": ["/etc/greeter/greeter.conf"]},
              {"exports/hostfs/etc/greeter/other.conf": "other v1\n",
               "exports/hostfs/etc/greeter/gone.conf": "gone in v2\n"})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"},
                                 "renameFiles": {"/etc/greeter": "/etc/$NAME"}},
              {"etc/motd": "motd v2\n", "exports/hostfs/etc/greeter/greeter.conf": "v2 $NAME\n",
               "exports/hostfs/etc/greeter/other.conf": "other v2\n",
               "exports/hostfs/etc/greeter/added": "added in v2\n"})
        cls.v1 = "oci:%s:v1" % cls.layout
        cls.v2 = "oci:%s:v2" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.ck = os.path.join(self.sysroot, "var", "lib", "containers", "atomic")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def path(self, rel):
        return os.path.join(self.sysroot, rel.lstrip("/"))

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()

    def info(self, slot):
        return json.loads(self.read("var/lib/containers/atomic/" + slot + "/info"))

    def uuids(self, name):
        return [self.info("%s.%d" % (name, i))["values"]["UUID"] for i in (0, 1)]

    def current(self, name):
        return os.readlink(os.path.join(self.ck, name))

    def test_uuid_kept_across_update_and_rollback(self):
        self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v1)
        uuid = self.info("g.0")["values"]["UUID"]
        self.assertRegex(uuid, r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.ctl("update", "--accept-privileges", "--rebase", self.v2, "g")
        self.assertEqual(self.current("g"), "/var/lib/containers/atomic/g.1")
        self.assertEqual(self.uuids("g"), [uuid, uuid])
        # not a user value: only what the user set is recorded as such
        self.assertEqual(self.info("g.1")["user-values"], {"GREETING": "hi"})
        self.ctl("rollback", "g")
        self.assertEqual(self.current("g"), "/var/lib/containers/atomic/g.0")
        self.assertEqual(self.uuids("g"), [uuid, uuid])
        # an update with other values, into the other slot again
        self.ctl("update", "--set", "GREETING=again", "g")
        self.assertEqual(self.current("g"), "/var/lib/containers/atomic/g.1")
        self.assertEqual(self.uuids("g"), [uuid, uuid])
        self.ctl("rollback", "g")
        self.assertEqual(self.uuids("g"), [uuid, uuid])
        # a fresh install is another container: a new UUID, also for the same name
        self.ctl("install", "--name", "h", self.v1)
        other = self.info("h.0")["values"]["UUID"]
        self.assertNotEqual(other, uuid)
        self.ctl("uninstall", "g")
        self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v1)
        again = self.info("g.0")["values"]["UUID"]
        self.assertNotIn(again, (uuid, other))
        # a UUID the user sets wins, and is theirs
        self.ctl("update", "--set", "UUID=11111111-2222-3333-4444-555555555555", "g")
        self.assertEqual(self.info("g.1")["values"]["UUID"],
                         "11111111-2222-3333-4444-555555555555")
        self.assertEqual(self.info("g.1")["user-values"]["UUID"],
                         "11111111-2222-3333-4444-555555555555")

    def test_modified_host_file_kept_through_update(self):
        self.ctl("install", "--name", "g", self.v1)
        self.assertEqual(self.read("etc/g/greeter.conf"), "name=$NAME\n")
        with open(self.path("etc/g/greeter.conf"), "a") as f:
            f.write("# the admin's line\n")
        edited = "name=$NAME\n# the admin's line\n"
        r = self.ctl("--json", "update", "--accept-privileges", "--rebase", self.v2, "g")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["updated"], doc["deployment"], doc["kept"]),
                         (True, "/var/lib/containers/atomic/g.1", ["/etc/g/greeter.conf"]))
        self.assertIn("warning: /etc/g/greeter.conf was modified: kept\n", r.stderr)
        # the admin's content stays; the other files are updated, added, removed
        self.assertEqual(self.read("etc/g/greeter.conf"), edited)
        self.assertEqual(self.read("etc/g/other.conf"), "other v2\n")
        self.assertEqual(self.read("etc/g/added"), "added in v2\n")
        self.assertFalse(os.path.exists(self.path("etc/g/gone.conf")))
        info = self.info("g.1")
        self.assertNotIn("/etc/g/greeter.conf", info["installed-files"])
        self.assertNotIn("/etc/g/greeter.conf", info["installed-files-checksum"])
        self.assertIn("/etc/g/other.conf", info["installed-files"])
        self.assertEqual(info["kept-files"], ["/etc/g/greeter.conf"])
        # a rollback leaves it too (the previous deployment's own file), and says so
        r = self.ctl("--json", "rollback", "g")
        self.assertIn("warning: /etc/g/greeter.conf was modified: kept\n", r.stderr)
        self.assertEqual(json.loads(r.stdout)["kept"], ["/etc/g/greeter.conf"])
        self.assertEqual(self.read("etc/g/greeter.conf"), edited)
        self.assertNotIn("/etc/g/greeter.conf", self.info("g.0")["installed-files"])
        self.assertEqual(self.info("g.0")["kept-files"], ["/etc/g/greeter.conf"])
        self.assertEqual(self.read("etc/g/other.conf"), "other v1\n")
        self.assertEqual(self.read("etc/g/gone.conf"), "gone in v2\n")
        # in text: the same line
        r = self.ctl("update", "--accept-privileges", "--rebase", self.v2, "g")
        self.assertEqual(r.stdout, "g: updated to %s (/var/lib/containers/atomic/g.1)\n"
                         % doc["id"][:12])
        self.assertIn("warning: /etc/g/greeter.conf was modified: kept\n", r.stderr)
        self.assertEqual(self.read("etc/g/greeter.conf"), edited)
        # the admin removes it: the next update installs and tracks it again
        os.unlink(self.path("etc/g/greeter.conf"))
        r = json.loads(self.ctl("--json", "update", "--set", "GREETING=x", "g").stdout)
        self.assertEqual(r["kept"], [])
        self.assertEqual(self.read("etc/g/greeter.conf"), "v2 $NAME\n")  # (no template in v2)
        self.assertIn("/etc/g/greeter.conf", self.info("g.0")["installed-files"])
        self.assertEqual(self.info("g.0")["kept-files"], [])
        # edited again, and replaced by a link this time: kept all the same
        os.unlink(self.path("etc/g/greeter.conf"))
        os.symlink("/etc/elsewhere", self.path("etc/g/greeter.conf"))
        r = self.ctl("--json", "update", "--set", "GREETING=y", "g")
        self.assertEqual(json.loads(r.stdout)["kept"], ["/etc/g/greeter.conf"])
        self.assertEqual(os.readlink(self.path("etc/g/greeter.conf")), "/etc/elsewhere")
        os.unlink(self.path("etc/g/greeter.conf"))
        with open(self.path("etc/g/greeter.conf"), "w") as f:
            f.write(edited)
        # no longer tracked: uninstall keeps it and says so; the rest goes
        r = self.ctl("--json", "uninstall", "g")
        self.assertEqual(json.loads(r.stdout)["containers"][0]["kept"], ["/etc/g/greeter.conf"])
        self.assertIn("warning: /etc/g/greeter.conf was modified: kept\n", r.stderr)
        self.assertEqual(self.read("etc/g/greeter.conf"), edited)
        self.assertEqual(sorted(os.listdir(self.path("etc/g"))), ["greeter.conf"])
        self.assertEqual(os.listdir(self.ck), [".storage"])

    def test_fresh_install_collision_still_refused(self):
        """Kept only when it was this container's: a file someone else put
        there still stops an install (and an update)."""
        os.makedirs(self.path("etc/g"))
        with open(self.path("etc/g/other.conf"), "w") as f:
            f.write("someone else's\n")
        r = self.ctl("install", "--name", "g", self.v1, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("host file /etc/g/other.conf exists and was not installed by this "
                      "container; the image exports a different one (hostfs/etc/greeter/"
                      "other.conf)", r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "g")))
        os.unlink(self.path("etc/g/other.conf"))
        self.ctl("install", "--name", "g", self.v1)
        with open(self.path("etc/g/added"), "w") as f:
            f.write("someone else's\n")
        r = self.ctl("update", "--rebase", self.v2, "g", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("host file /etc/g/added exists and was not installed by this container",
                      r.stderr)
        self.assertEqual(self.current("g"), "/var/lib/containers/atomic/g.0")
        self.assertEqual(self.read("etc/g/other.conf"), "other v1\n")


    def test_reinstall(self):
        """The same install again: nothing to do, exit 0; another image or
        values: refused, pointing at update, with nothing changed."""
        self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v1)
        before = tree(self.sysroot)
        r = self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v1)
        self.assertEqual((r.returncode, r.stdout), (0, "g already installed\n"))
        doc = json.loads(self.ctl("--json", "install", "--name", "g", "--set", "GREETING=hi",
                                  self.v1).stdout)
        self.assertEqual((doc["name"], doc["already_installed"], doc["deployment"],
                          doc["actions"]), ("g", True, "/var/lib/containers/atomic/g.0", []))
        r = self.ctl("install", "--dry-run", "--name", "g", "--set", "GREETING=hi", self.v1)
        self.assertEqual(r.stdout, "g already installed\n")
        self.assertEqual(tree(self.sysroot), before)
        for args, message in (
                (("--set", "GREETING=bye", self.v1),
                 "container g is already installed with other values (GREETING): use "
                 "'syscontainerctl update --set K=V g' to change them"),
                ((self.v1,),
                 "container g is already installed with other values (GREETING): use "
                 "'syscontainerctl update --set K=V g' to change them"),
                (("--set", "GREETING=hi", "--set", "NEW=1", self.v1),
                 "container g is already installed with other values (NEW): use "
                 "'syscontainerctl update --set K=V g' to change them"),
                (("--set", "GREETING=hi", "--rootfs", "/var/lib/containers/atomic/g.0",
                  self.v1),
                 "container g is already installed with its own root, not --rootfs "
                 "/var/lib/containers/atomic/g.0: uninstall it to change its root")):
            r = self.ctl("install", "--name", "g", *args, check=False)
            self.assertEqual((r.returncode, r.stdout), (1, ""), args)
            self.assertIn("syscontainerctl: error: " + message + "\n", r.stderr)
            self.assertEqual(tree(self.sysroot), before)
        r = self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v2, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"syscontainerctl: error: container g is already installed "
                         r"from localhost/layout:v1 \([0-9a-f]{12}\), not from "
                         r"localhost/layout:v2 \([0-9a-f]{12}\): use 'syscontainerctl update "
                         r"--rebase IMAGE g' to change its image\n")
        self.assertEqual(self.info("g.0")["image"], "localhost/layout:v1")
        self.assertFalse(os.path.exists(os.path.join(self.ck, "g.1")))
        # after an update, the same holds for what it is now
        self.ctl("update", "--accept-privileges", "--rebase", self.v2, "g")
        r = self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v2)
        self.assertEqual(r.stdout, "g already installed\n")
        r = self.ctl("install", "--name", "g", "--set", "GREETING=hi", self.v1, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container g is already installed from localhost/layout:v2", r.stderr)

    def test_rootfs_through_the_link(self):
        """--rootfs CHECKOUT/NAME: the link to a's current slot, resolved;
        b's bundle then runs with runc (which refuses a root through a link)."""
        self.ctl("install", "--name", "a", self.v1)
        os.symlink("var/lib/containers", self.path("lnk"))  # a link of the sysroot too
        for n, (name, location) in enumerate((("b", "/var/lib/containers/atomic/a"),
                                              ("c", "/lnk/atomic/a/"))):
            self.ctl("install", "--name", name, "--set", "GREETING=from b", "--rootfs",
                     location, self.v1)
            slot = os.path.join(self.ck, name + ".0")
            with open(os.path.join(slot, "config.json")) as f:
                root = json.load(f)["root"]["path"]
            self.assertEqual(root, "/var/lib/containers/atomic/a.0/rootfs")
            self.assertEqual(os.readlink(os.path.join(slot, "rootfs")), root)
            self.assertEqual(self.info(name + ".0")["remote"], "/var/lib/containers/atomic/a.0")
            # no component of the path is a link
            p = self.sysroot
            for c in root.strip("/").split("/"):
                p = os.path.join(p, c)
                self.assertFalse(os.path.islink(p), p)
        # the same install again, spelled through the links: nothing to do
        r = self.ctl("install", "--name", "b", "--set", "GREETING=from b", "--rootfs",
                     "/lnk/atomic/a", self.v1)
        self.assertEqual(r.stdout, "b already installed\n")
        # run b's bundle for real (root.path under the sysroot, as the runtime sees it)
        slot = os.path.join(self.ck, "b.0")
        with open(os.path.join(slot, "config.json")) as f:
            cfg = json.load(f)
        os.makedirs(self.path("var/lib/b"))
        for m in cfg["mounts"]:
            if m["destination"] == "/data":
                m["source"] = self.path("var/lib/b")
        cfg["root"]["path"] = self.path(cfg["root"]["path"])
        self.assertFalse(os.path.islink(cfg["root"]["path"]))
        bundle = self.path("bundle")
        os.makedirs(bundle)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        r = subprocess.run(["runc", "run", "sc-life13-%d" % os.getpid()], cwd=bundle,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "from b from b\nmotd of the image\n"),
                         r.stderr)
        # through a link, runc refuses (what the resolution avoids)
        os.symlink(cfg["root"]["path"], self.path("rootlink"))
        cfg["root"]["path"] = self.path("rootlink")
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        r = subprocess.run(["runc", "run", "sc-life13-%d" % os.getpid()], cwd=bundle,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("symlink", r.stderr)
        # an update of b links the same resolved root; uninstall leaves a alone
        self.ctl("update", "--set", "GREETING=again", "b")
        self.assertEqual(os.readlink(os.path.join(self.ck, "b.1", "rootfs")),
                         "/var/lib/containers/atomic/a.0/rootfs")
        # a location recorded through a link (by an older version, or atomic):
        # an update records and links it resolved
        info_path = os.path.join(self.ck, "c.0", "info")
        with open(info_path) as f:
            info = json.load(f)
        info["remote"] = "/lnk/atomic/a"
        with open(info_path, "w") as f:
            json.dump(info, f)
        self.ctl("update", "--set", "GREETING=z", "c")
        self.assertEqual(self.info("c.1")["remote"], "/var/lib/containers/atomic/a.0")
        self.assertEqual(os.readlink(os.path.join(self.ck, "c.1", "rootfs")),
                         "/var/lib/containers/atomic/a.0/rootfs")
        self.ctl("uninstall", "b", "c")
        self.assertEqual(self.read("var/lib/containers/atomic/a.0/rootfs/etc/motd"),
                         "motd of the image\n")

if __name__ == "__main__":
    unittest.main()
