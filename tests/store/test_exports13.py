"""Preview and action agree on /exports that an upper layer deleted (issue 13,
item 8): `install --dry-run --json`, `images inspect` and `images inspect
--remote` read /exports without a full checkout, and must see the layers'
whiteouts (a whiteout of /exports at a layer's root, an opaque /exports, a
whiteout of one file under it, an opaque root, a hostfs/ subtree deleted,
/exports deleted and added again, umoci's own whiteouts) exactly as the
install, which checks out everything, does. Each case compares the dry run's
files with the files the install writes, byte for byte, and inspect's
variables with the ones the template the install used has."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import imagelib as il  # noqa: E402
import tarcraft as tc  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
T, D = il.tinfo, tarfile.DIRTYPE

CUSTOM_UNIT = (b"[Unit]\nDescription=custom $PORT\n[Service]\nExecStart=$EXEC_START\n"
               b"ExecStop=$EXEC_STOP\nWorkingDirectory=$DESTDIR\n")
NEW_UNIT = (b"[Unit]\nDescription=new $OTHER\n[Service]\nExecStart=$EXEC_START\n"
            b"ExecStop=$EXEC_STOP\nWorkingDirectory=$DESTDIR\n")
# the variables of the built-in config.json and unit (docs/image-contract.md)
BUILTIN_VARS = {"NAME", "EXEC_STARTPRE", "EXEC_START", "EXEC_STOP", "EXEC_STOPPOST", "DESTDIR",
                "PIDFILE"}
CUSTOM_VARS = {"PORT", "EXEC_START", "EXEC_STOP", "DESTDIR"}
NEW_VARS = {"OTHER", "EXEC_START", "EXEC_STOP", "DESTDIR"}

# tag: (the layers over the base, as tar bytes, or None for one made by
# umoci; the unit's Description= with NAME for the container's name; the
# variables; whether the host file /etc/tool.conf is installed)
CASES = {
    "base": ([], "custom 80", CUSTOM_VARS, True),
    "gone": ([tc.end([tc.member(".wh.exports")])], "NAME", BUILTIN_VARS, False),
    "gone-dot": ([tc.end([tc.member("./.wh.exports")])], "NAME", BUILTIN_VARS, False),
    "gone-umoci": (None, "NAME", BUILTIN_VARS, False),
    "one-file": ([tc.end([tc.member("exports/.wh.service.template")])], "NAME", BUILTIN_VARS,
                 True),
    "one-file-umoci": (None, "NAME", BUILTIN_VARS, True),
    "opaque": ([il.make_tar([T("exports", D, mode=0o755), T("exports/.wh..wh..opq"),
                             T("exports/service.template", data=NEW_UNIT),
                             T("exports/manifest.json", data=b'{"defaultValues": {"OTHER": "1"}}')
                             ])], "new 1", NEW_VARS, False),
    # the opaque marker after the new files: whiteouts are for lower layers only
    "opaque-last": ([tc.end([tc.member("exports/service.template", NEW_UNIT),
                             tc.member("exports/manifest.json",
                                       b'{"defaultValues": {"OTHER": "2"}}'),
                             tc.member("exports/.wh..wh..opq")])], "new 2", NEW_VARS, False),
    "root-opaque": ([tc.end([tc.member(".wh..wh..opq"), tc.member("exports/manifest.json", b"{}")
                             ])], "NAME", BUILTIN_VARS, False),
    "hostfs-gone": ([tc.end([tc.member("exports/.wh.hostfs")])], "custom 80", CUSTOM_VARS, False),
    "readded": ([tc.end([tc.member(".wh.exports")]),
                 il.make_tar([T("exports", D, mode=0o755),
                              T("exports/service.template", data=NEW_UNIT),
                              T("exports/manifest.json",
                                data=b'{"defaultValues": {"OTHER": "3"}}')])],
                "new 3", NEW_VARS, False),
    # a hardlink under /exports to another file of /exports is that file
    "hardlink": ([tc.end([tc.member("exports/.wh..wh..opq"),
                          tc.member("exports/unit", NEW_UNIT),
                          tc.member("exports/service.template", typeflag=b"1",
                                    linkname="exports/unit"),
                          tc.member("exports/manifest.json",
                                    b'{"defaultValues": {"OTHER": "4"}}')])],
                 "new 4", NEW_VARS, False),
}


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci"), "needs root and umoci")
class ExportsWhiteoutsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sc-exports13-")
        cls.layout = layout = os.path.join(cls.tmp, "layout")
        il.run("umoci", "init", "--layout", layout)
        il.run("umoci", "new", "--image", layout + ":base")
        with open(il.BUSYBOX, "rb") as f:
            busybox = f.read()
        il.add_layer(layout, "base", il.make_tar([
            T("bin", D, mode=0o755), T("bin/busybox", data=busybox, mode=0o755),
            T("exports", D, mode=0o755),
            T("exports/service.template", data=CUSTOM_UNIT),
            T("exports/manifest.json", data=b'{"defaultValues": {"PORT": "80"}}'),
            T("exports/hostfs", D, mode=0o755), T("exports/hostfs/etc", D, mode=0o755),
            T("exports/hostfs/etc/tool.conf", data=b"tool\n")]))
        for tag, (layers, _, _, _) in CASES.items():
            if tag == "base" or layers is None:
                continue
            il.add_layer(layout, "base", layers[0], new_tag=tag)
            for tar in layers[1:]:
                il.add_layer(layout, tag, tar)
        cls.umoci_layer("gone-umoci", lambda root: shutil.rmtree(os.path.join(root, "exports")))
        cls.umoci_layer("one-file-umoci",
                        lambda root: os.unlink(os.path.join(root, "exports/service.template")))

    @classmethod
    def umoci_layer(cls, tag, change):
        bundle = os.path.join(cls.tmp, "bundle-" + tag)
        il.run("umoci", "unpack", "--image", cls.layout + ":base", bundle)
        change(os.path.join(bundle, "rootfs"))
        il.run("umoci", "repack", "--image", "%s:%s" % (cls.layout, tag), bundle)
        shutil.rmtree(bundle)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        for d in ("etc/systemd/system", "etc/tmpfiles.d"):
            os.makedirs(os.path.join(self.sysroot, d))

    def ctl(self, *args, code=0):
        r = subprocess.run([CTL, "--sysroot", self.sysroot, *args], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return r

    def variables(self, *args):
        doc = json.loads(self.ctl("--json", "images", "inspect", *args).stdout)
        # the ones a template uses (issue 15: a manifest default no template
        # uses is listed too, with no files)
        return {v["name"] for v in doc["variables"] if v["files"]}

    def read(self, *parts):
        with open(os.path.join(self.sysroot, *parts)) as f:
            return f.read()

    def check_case(self, tag):
        _, description, variables, host_file = CASES[tag]
        ref = "oci:%s:%s" % (self.layout, tag)
        description = description.replace("NAME", tag)
        # the preview, of an image not yet in the store and then of the stored one
        self.assertEqual(self.variables("--remote", ref), variables)
        self.ctl("pull", ref)
        self.assertEqual(self.variables(ref), variables)
        dry = json.loads(self.ctl("--json", "install", "--dry-run", "--name", tag, ref).stdout)
        self.assertEqual(("install 1 host files and directories" in dry["actions"]), host_file,
                         dry["actions"])
        # the action
        self.ctl("install", "--name", tag, ref)
        slot = "var/lib/containers/atomic/%s.0" % tag
        unit = self.read(slot, tag + ".service")
        self.assertIn("\nDescription=%s\n" % description, unit)
        self.assertEqual(dry["files"]["unit"], unit)
        self.assertEqual(self.read("etc/systemd/system", tag + ".service"), unit)
        self.assertEqual(dry["files"]["config.json"], self.read(slot, "config.json"))
        self.assertEqual(os.path.exists(os.path.join(self.sysroot, "etc/tool.conf")), host_file)
        if host_file:
            self.assertEqual(self.read("etc/tool.conf"), "tool\n")
        self.ctl("uninstall", tag)
        self.assertFalse(os.path.lexists(os.path.join(self.sysroot, "etc/tool.conf")))

    def test_cases(self):
        for tag in CASES:
            with self.subTest(tag):
                self.check_case(tag)

    def test_hardlink_out_of_exports(self):
        """A hardlink under /exports to a file elsewhere in its layer: the
        install and the local inspect use it; inspect --remote, which keeps
        only /exports of the layers, says it cannot read it (it showed the
        built-in unit before), and leaves nothing behind."""
        tag = "hardlink-out"
        tar = tc.end([tc.member("exports/.wh..wh..opq"), tc.member("etc/unit", NEW_UNIT),
                      tc.member("exports/service.template", typeflag=b"1", linkname="etc/unit"),
                      tc.member("exports/manifest.json", b'{"defaultValues": {"OTHER": "5"}}')])
        digest = il.add_layer(self.layout, "base", tar, new_tag=tag)
        ref = "oci:%s:%s" % (self.layout, tag)
        r = self.ctl("--json", "images", "inspect", "--remote", ref, code=1)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_EUNSUPPORTED")
        self.assertEqual(err["message"],
                         "layer %s: /exports/service.template is a hardlink to /etc/unit, "
                         "outside /exports, which is not read from the layers here: pull the "
                         "image and use images inspect" % digest)
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "var")))
        self.ctl("pull", ref)
        self.assertEqual(self.variables(ref), NEW_VARS)
        dry = json.loads(self.ctl("--json", "install", "--dry-run", "--name", tag, ref).stdout)
        self.ctl("install", "--name", tag, ref)
        unit = self.read("var/lib/containers/atomic/%s.0" % tag, tag + ".service")
        self.assertIn("\nDescription=new 5\n", unit)
        self.assertEqual(dry["files"]["unit"], unit)


if __name__ == "__main__":
    unittest.main(verbosity=2)
