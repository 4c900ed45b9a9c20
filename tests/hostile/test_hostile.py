"""Hostile images against install: each tries to read or write outside what
the image contract allows. Each must fail with a clear error (or be
contained), and the scratch host root must be exactly as it was: a checksum
listing of everything outside the image store, before and after."""

import json
import os
import shutil
import subprocess
import stat
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "deploy"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import tree  # noqa: E402
from test_deploy import build as deploy_build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def build(layout, tag, files, symlinks=()):
    """A container image whose /exports are the defaults plus @files."""
    deploy_build(layout, tag, {"defaultValues": {"GREETING": "x"}}, files, hostfs=False,
                 symlinks=symlinks)


NEEDS = unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci"), "needs root and umoci")


class HostRoot:
    """A scratch host root with a few files an attacker would want, and
    installs into it (cls.layout holds the images)."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sc-hostile-root-")
        for rel, text in (("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
                          ("etc/shadow", "root:SECRET:1::::::\n"),
                          ("usr/share/zoneinfo/UTC", "TZif\n")):
            os.makedirs(os.path.dirname(os.path.join(self.root, rel)), exist_ok=True)
            with open(os.path.join(self.root, rel), "w") as f:
                f.write(text)
        os.symlink("/usr/share/zoneinfo/UTC", os.path.join(self.root, "etc/localtime"))
        os.makedirs(os.path.join(self.root, "elsewhere/dir"))
        os.symlink("../elsewhere", os.path.join(self.root, "etc/linked"))
        os.makedirs(os.path.join(self.root, "var/lib/containers/atomic"))

    def tearDown(self):
        shutil.rmtree(self.root)

    def install(self, tag, *options):
        before = tree(self.root)
        r = subprocess.run([CTL, "--sysroot", self.root, "--json", "install", "--name", "h"]
                           + list(options) + ["oci:%s:%s" % (self.layout, tag)],
                           capture_output=True, text=True)
        return r, before

    def assert_refused(self, tag, code, message, *options):
        r, before = self.install(tag, *options)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], code, err["message"])
        self.assertIn(message, err["message"])
        # the container's lock file is the only trace (it stays, by design)
        strip = lambda t: {k: v for k, v in t.items() if not k.endswith("/.h.lock")}
        self.assertEqual(strip(tree(self.root)), strip(before), "the host root changed")


@NEEDS
class HostileTest(HostRoot, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-hostile-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "template-link", {"exports/service.template": None},
              [("exports/service.template", "/etc/shadow")])
        build(cls.layout, "rename-dotdot", {
            "exports/manifest.json": json.dumps({"defaultValues": {"GREETING": "x"},
                                                 "renameFiles": {"/etc/x": "/etc/../../escape"}}),
            "exports/hostfs/etc/x": "x\n"})
        build(cls.layout, "rename-relative", {
            "exports/manifest.json": json.dumps({"defaultValues": {"GREETING": "x", "D": "etc"},
                                                 "renameFiles": {"/etc/x": "$D/x"}}),
            "exports/hostfs/etc/x": "x\n"})
        build(cls.layout, "over-host-file", {"exports/hostfs/etc/passwd": "evil::0:0::/:/bin/sh\n"})
        build(cls.layout, "over-host-link", {"exports/hostfs/etc/localtime": "evil\n"})
        build(cls.layout, "through-host-link", {"exports/hostfs/etc/linked/dir/x": "x\n"})
        build(cls.layout, "hostfs-link", {}, [("exports/hostfs/etc/shadow-link", "/etc/shadow")])
        build(cls.layout, "line-values", {
            "exports/manifest.json": json.dumps({"defaultValues": {"GREETING": "x", "ARGS": "-v",
                                                                   "SUB": "x"}}),
            "exports/service.template":
                "[Service]\nExecStart=/bin/run $ARGS\nExecStop=/bin/stop\n",
            "exports/tmpfiles.template": "d /run/$SUB 0700 - - - -\n"})
        build(cls.layout, "bad-config", {"exports/config.json.template":
                                         '{"root": {"path": "/", "readonly": false}}'})
        rename = lambda files, renames, **kw: dict(files, **{
            "exports/manifest.json": json.dumps({"defaultValues": {"GREETING": "x"},
                                                 "renameFiles": renames})})
        # a link the image installs, and a file renamed to below it
        build(cls.layout, "below-own-link", rename({"exports/hostfs/p": "evil\n"},
                                                    {"/p": "/etc/evil/passwd"}),
              [("exports/hostfs/etc/evil", ".")])
        build(cls.layout, "below-own-file", rename({"exports/hostfs/p": "x\n",
                                                    "exports/hostfs/etc/f": "f\n"},
                                                   {"/p": "/etc/f/x"}))
        build(cls.layout, "same-path", rename({"exports/hostfs/a": "a\n",
                                               "exports/hostfs/b": "b\n"},
                                              {"/a": "/etc/same", "/b": "/etc/same"}))
        # through the sysroot's own links (resolved inside it)
        build(cls.layout, "through-sysroot-link", rename({"exports/hostfs/p": "in root\n"},
                                                         {"/p": "/etc/outlink/evil"}))
        build(cls.layout, "hostfs-bulk", {"exports/hostfs/etc/bulk/%d" % i: "x" * 1024
                                          for i in range(3)})
        build(cls.layout, "hostfs-template", dict(rename(
            {"exports/hostfs/etc/t.conf": "$BIG$BIG$BIG$BIG\n"}, {}), **{
            "exports/manifest.json": json.dumps({
                "defaultValues": {"GREETING": "x", "BIG": "y" * 1000},
                "installedFilesTemplate": ["/etc/t.conf"]})}))
        # found by an outside attacker: a non-canonical rename through a link
        # the image installs; host files into the tool's own places
        build(cls.layout, "rename-dot", rename({"exports/hostfs/zz/passwd": "pwned\n"},
                                               {"/zz": "/etc/./foo"}),
              [("exports/hostfs/etc/foo", "/etc")])
        build(cls.layout, "into-store", {
            "exports/hostfs/var/lib/containers/atomic/.storage/ostree/objects/00/x.file": "x"})
        build(cls.layout, "into-slot", {
            "exports/hostfs/var/lib/containers/atomic/victim.1/info": "{}"})
        build(cls.layout, "via-sysroot-link", rename({"exports/hostfs/p": "x\n"},
                                                     {"/p": "/etc/sneaky/ostree/x"}))
        build(cls.layout, "unit-dir-link", {}, [("exports/hostfs/etc/systemd", "/tmp")])
        build(cls.layout, "hostfs-is-link", {}, [("exports/hostfs", "/etc")])
        build(cls.layout, "many-files", {"exports/hostfs/etc/m/%d" % i: "m" for i in range(6)})
        build(cls.layout, "deep-rename", rename({"exports/hostfs/p": "p\n"},
                                                {"/p": "/opt/a/b/c"}))
        build(cls.layout, "var-run", {"exports/hostfs/var/run/sc-test.conf": "run\n"})
        for tag, target in (("exports-link", "/etc"), ("exports-relative-link", "etc")):
            bundle = os.path.join(cls.shared, "bundle-" + tag)
            il.run("umoci", "new", "--image", "%s:%s" % (cls.layout, tag))
            il.run("umoci", "unpack", "--image", "%s:%s" % (cls.layout, tag), bundle)
            os.makedirs(os.path.join(bundle, "rootfs/etc"))
            os.symlink(target, os.path.join(bundle, "rootfs/exports"))
            il.run("umoci", "repack", "--image", "%s:%s" % (cls.layout, tag), bundle)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def test_template_symlink_is_not_read(self):
        self.assert_refused("template-link", "SC_EIO",
                            "service.template: is a symbolic link; image files must be regular files")

    def test_rename_escapes(self):
        self.assert_refused("rename-dotdot", "SC_EMANIFEST",
                            "renameFiles turns /etc/x into '/etc/../../escape', which is not an "
                            "absolute path without '..'")
        self.assert_refused("rename-relative", "SC_EMANIFEST", "turns /etc/x into 'etc/x'")

    def test_host_files_are_not_overwritten(self):
        self.assert_refused("over-host-file", "SC_EEXISTS",
                            "host file /etc/passwd exists and was not installed by this container")
        self.assert_refused("over-host-link", "SC_EEXISTS",
                            "host file /etc/localtime exists and was not installed by this container")

    def test_sysroot_link_to_a_directory_is_that_directory(self):
        # /etc/linked -> ../elsewhere in the sysroot: an image directory there
        # is the sysroot's /elsewhere (as systemctl --root resolves it), and
        # uninstall leaves the sysroot exactly as it was
        r, before = self.install("through-host-link")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "elsewhere/dir/x")))
        r = subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.root, "elsewhere/dir/x")))
        self.assertEqual(os.readlink(os.path.join(self.root, "etc/linked")), "../elsewhere")

    def test_hostfs_symlink_is_copied_as_a_link(self):
        r, before = self.install("hostfs-link")
        self.assertEqual(r.returncode, 0, r.stdout)
        link = os.path.join(self.root, "etc/shadow-link")
        self.assertEqual(os.readlink(link), "/etc/shadow")  # a link, the secret not read
        subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"], check=True,
                       capture_output=True)
        self.assertFalse(os.path.lexists(link))

    def test_nothing_installed_below_a_link_or_file_of_the_image(self):
        self.assert_refused("below-own-link", "SC_EMANIFEST",
                            "hostfs: /etc/evil/passwd would be installed below /etc/evil, which "
                            "the image installs as a symbolic link")
        self.assert_refused("below-own-file", "SC_EMANIFEST",
                            "hostfs: /etc/f/x would be installed below /etc/f, which the image "
                            "installs as a file")
        self.assert_refused("same-path", "SC_EMANIFEST",
                            "renameFiles installs two files at /etc/same")
        with open(os.path.join(self.root, "etc/passwd")) as f:
            self.assertEqual(f.read(), "root:x:0:0::/root:/bin/sh\n")

    def test_sysroot_links_resolve_inside_the_sysroot(self):
        outside = tempfile.mkdtemp(prefix="sc-hostile-outside-")
        self.addCleanup(shutil.rmtree, outside)
        os.symlink(outside, os.path.join(self.root, "etc/outlink"))
        os.makedirs(os.path.join(self.root, "run"))
        os.makedirs(os.path.join(self.root, "var"), exist_ok=True)
        os.symlink("/run", os.path.join(self.root, "var/run"))
        for tag, inside in (("through-sysroot-link", outside.lstrip("/") + "/evil"),
                            ("var-run", "run/sc-test.conf")):
            r, before = self.install(tag)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(os.listdir(outside), [], "written outside the sysroot")
            self.assertFalse(os.path.exists("/run/sc-test.conf"))
            self.assertTrue(os.path.isfile(os.path.join(self.root, inside)), inside)
            r = subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.root, inside)))

    def test_host_files_are_bounded(self):
        os.environ["SC_MAX_HOSTFS_BYTES"] = "2048"
        try:
            self.assert_refused("hostfs-bulk", "SC_EUNSUPPORTED",
                                "hostfs/etc/bulk/2: the image exports more than 2048 bytes of "
                                "host files, the limit (SC_MAX_HOSTFS_BYTES)")
        finally:
            del os.environ["SC_MAX_HOSTFS_BYTES"]
        os.environ["SC_MAX_RENDERED_BYTES"] = "3000"
        try:
            self.assert_refused("hostfs-template", "SC_ETEMPLATE",
                                "template '/etc/t.conf': the rendered text grows past 3000 bytes, "
                                "the limit on a rendered file (SC_MAX_RENDERED_BYTES), "
                                "substituting 'BIG' at line 1, col 13")
        finally:
            del os.environ["SC_MAX_RENDERED_BYTES"]
        r, _ = self.install("hostfs-template")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_the_tools_own_places_are_not_host_files(self):
        self.assert_refused("rename-dot", "SC_EMANIFEST",
                            "manifest.json: renameFiles installs two files at /etc/foo")
        self.assert_refused("into-store", "SC_EUNSUPPORTED",
                            "hostfs: /var/lib/containers/atomic is in the containers' checkout "
                            "root or the image store, where only the tool writes")
        self.assert_refused("into-slot", "SC_EUNSUPPORTED",
                            "hostfs: /var/lib/containers/atomic is in the containers' checkout "
                            "root or the image store")
        self.assert_refused("unit-dir-link", "SC_EUNSUPPORTED",
                            "hostfs: /etc/systemd is on the way to /etc/systemd/system, where the "
                            "tool writes: the image may install a directory there, not a "
                            "symbolic link")
        # a sysroot link into the store counts as the store
        os.symlink("/var/lib/containers/atomic/.storage", os.path.join(self.root, "etc/sneaky"))
        self.assert_refused("via-sysroot-link", "SC_EUNSUPPORTED",
                            "hostfs: /etc/sneaky/ostree/x is in the containers' checkout root or "
                            "the image store")
        with open(os.path.join(self.root, "etc/passwd")) as f:
            self.assertEqual(f.read(), "root:x:0:0::/root:/bin/sh\n")

    def test_hostfs_must_be_a_bounded_directory(self):
        self.assert_refused("hostfs-is-link", "SC_EUNSUPPORTED",
                            "exports/hostfs: is a symbolic link; an image's hostfs must be a "
                            "directory")
        os.environ["SC_MAX_HOSTFS_FILES"] = "5"
        try:
            self.assert_refused("many-files", "SC_EUNSUPPORTED",
                                "the image exports more than 5 host files and directories, the "
                                "limit (SC_MAX_HOSTFS_FILES)")
        finally:
            del os.environ["SC_MAX_HOSTFS_FILES"]

    def test_directories_made_on_the_way_are_removed(self):
        # a refused install (the sysroot's /etc/tmpfiles.d is a file) and an
        # uninstall both leave no directory the install made
        tmpfiles = os.path.join(self.root, "etc/tmpfiles.d")
        with open(tmpfiles, "w") as f:
            f.write("a file\n")
        r, before = self.install("deep-rename")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "opt")))
        os.unlink(tmpfiles)
        r, before = self.install("deep-rename")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "opt/a/b/c")))
        r = subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "opt")))

    def test_sysroot_links_that_dangle_inside_it(self):
        # links that dangle in the sysroot but name a directory of this
        # machine: followed inside the sysroot, never on this machine
        outside = tempfile.mkdtemp(prefix="sc-hostile-outside-")
        self.addCleanup(shutil.rmtree, outside)
        os.makedirs(os.path.join(outside, "keep"))
        before_outside = tree(outside)
        atomic = os.path.join(self.root, "var/lib/containers/atomic")
        os.rmdir(atomic)
        os.symlink(outside, atomic)
        r, _ = self.install("line-values")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(tree(outside), before_outside, "written outside the sysroot")
        inside = os.path.join(self.root, outside.lstrip("/"))
        self.assertTrue(os.path.isdir(os.path.join(inside, ".storage/ostree")))
        self.assertTrue(os.path.islink(os.path.join(inside, "h")))
        r = subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(inside, "h")))
        # the unit's directory: refused by systemctl or written inside
        shutil.rmtree(os.path.join(self.root, "etc/systemd"))
        os.symlink(outside, os.path.join(self.root, "etc/systemd"))
        self.install("line-values")
        self.assertEqual(tree(outside), before_outside, "written outside the sysroot")

    def test_slot_files_that_are_fifos_are_not_waited_for(self):
        # a crafted sysroot: the slot's info, config.json and unit copy are
        # fifos; every command reads them without blocking, as absent
        r, _ = self.install("hostfs-link")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        slot = os.path.join(self.root, "var/lib/containers/atomic/h.0")
        for name in ("info", "config.json", "h.service"):
            os.unlink(os.path.join(slot, name))
            os.mkfifo(os.path.join(slot, name))
        r = subprocess.run([CTL, "--sysroot", self.root, "--json", "list", "--all"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["containers"][0]["state"], "broken")
        r = subprocess.run([CTL, "--sysroot", self.root, "--json", "inspect", "h"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = subprocess.run([CTL, "--sysroot", self.root, "uninstall", "h"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rollback_to_a_slot_that_is_a_link(self):
        r, _ = self.install("hostfs-link")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        outside = tempfile.mkdtemp(prefix="sc-hostile-outside-")
        self.addCleanup(shutil.rmtree, outside)
        slot = os.path.join(self.root, "var/lib/containers/atomic/h.1")
        shutil.copytree(os.path.join(self.root, "var/lib/containers/atomic/h.0"),
                        os.path.join(outside, "slot"), symlinks=True)
        os.symlink(os.path.join(outside, "slot"), slot)
        before = tree(outside)
        r = subprocess.run([CTL, "--sysroot", self.root, "--json", "rollback", "h"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"]["message"],
                         "container h: /var/lib/containers/atomic/h.1 is not a directory; "
                         "refusing to roll back to it")
        self.assertEqual(tree(outside), before)

    def test_exports_that_are_a_link_are_refused(self):
        for tag in ("exports-link", "exports-relative-link"):
            for options in ((), ("--dry-run",)):
                self.assert_refused(tag, "SC_EUNSUPPORTED",
                                    "exports: is a symbolic link; an image's exports must be a "
                                    "directory", *options)

    def test_invalid_config(self):
        self.assert_refused("bad-config", "SC_ESPEC", "root.readonly must be true")

    def test_values_cannot_add_unit_or_tmpfiles_lines(self):
        unit = "service.template': the value of 'ARGS' (line 2, col 20) "
        self.assert_refused("line-values", "SC_ETEMPLATE",
                            unit + "holds a line break, which would add lines to the file",
                            "--set", "ARGS=-v\nExecStartPre=/bin/touch /pwned")
        self.assert_refused("line-values", "SC_ETEMPLATE", unit + "holds a line break",
                            "--set", "ARGS=-v\r")
        self.assert_refused("line-values", "SC_ETEMPLATE",
                            unit + "ends a line with '\\', which would join the next line to it",
                            "--set", "ARGS=-v \\")
        self.assert_refused("line-values", "SC_ETEMPLATE",
                            "tmpfiles.template': the value of 'SUB' (line 1, col 8) "
                            "holds a line break", "--set", "SUB=x 0700 - - - -\nz /etc/shadow")
        # anything else is the unit's own syntax, passed as given
        r, _ = self.install("line-values", "--set", "ARGS=a;b \\ $HOME %h")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(self.root, "etc/systemd/system/h.service")) as f:
            self.assertIn("ExecStart=/bin/run a;b \\ $HOME %h\n", f.read())

    def test_names_with_metacharacters(self):
        for name in ("a b", "a\nExecStart=/bin/evil", "x;y", "../../etc", "a/b", ".hidden"):
            before = tree(self.root)
            r = subprocess.run([CTL, "--sysroot", self.root, "--json", "install", "--name", name,
                                "oci:%s:hostfs-link" % self.layout], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, name)
            self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EINVAL")
            self.assertEqual(tree(self.root), before)



@NEEDS
class HostileLayerTest(HostRoot, unittest.TestCase):
    """Layers and manifests that try to escape through the store, installed
    the way an administrator would: refused with the layer named and the
    reason, nothing new on the host and no new ref in the store; or, where
    the image may do it, contained in the container's own tree."""

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-hostile-layers-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "base", {})
        layer = lambda tag, entries, **kw: il.add_layer(cls.layout, "base", il.make_tar(entries),
                                                        new_tag=tag, **kw)
        layer("dotdot", [il.tinfo("../../etc/evil", data=b"x")])
        layer("absolute", [il.tinfo("/etc/evil", data=b"x")])
        layer("hardlink-out", [il.tinfo("etc/pw", tarfile.LNKTYPE, linkname="etc/passwd")])
        layer("bomb", [il.tinfo("zeros", data=bytes(32 * 1024 * 1024))])
        layer("many", [il.tinfo("f%d" % i) for i in range(3000)])
        layer("diff-id", [il.tinfo("x", data=b"x")], diff_id="sha256:" + "0" * 64)
        layer("special", [il.tinfo("dev/sda", tarfile.BLKTYPE),
                          il.tinfo("dev/fifo", tarfile.FIFOTYPE),
                          il.tinfo("usr/bin/su", data=b"#!/bin/sh\n", mode=0o4755),
                          il.tinfo("usr/bin/plain", data=b"#!/bin/sh\n", mode=0o755)])
        first = il.read_manifest(cls.layout, "base")["layers"][0]
        il.rewrite(cls.layout, "base", edit_manifest=lambda m: m["layers"].append(dict(first)),
                   edit_config=lambda c: c["rootfs"]["diff_ids"].append(c["rootfs"]["diff_ids"][0]),
                   new_tag="twice")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def refs(self):
        d = os.path.join(self.root, "var/lib/containers/atomic/.storage/ostree/refs")
        listing = tree(d) if os.path.isdir(d) else {}
        return {k: v for k, v in listing.items() if stat.S_ISREG(v[0])}

    def assert_layer_refused(self, tag, code, message):
        refs = self.refs()
        self.assert_refused(tag, code, message)
        self.assertEqual(self.refs(), refs, "a refused image changed the store's refs")
        self.assertFalse(os.path.lexists(os.path.join(self.root, "etc/evil")))

    def test_escaping_paths(self):
        self.assert_layer_refused("dotdot", "SC_EUNSUPPORTED",
                                  "entry '../../etc/evil' has a '..' component")
        self.assert_layer_refused("absolute", "SC_EUNSUPPORTED",
                                  "entry '/etc/evil' has an absolute path")

    def test_hardlink_outside_the_layer(self):
        self.assert_layer_refused("hardlink-out", "SC_EUNSUPPORTED",
                                  "'etc/pw' is a hardlink to 'etc/passwd', which is not an "
                                  "earlier file of this layer")

    def test_bombs(self):
        os.environ["SC_MAX_LAYER_BYTES"] = str(16 * 1024 * 1024)
        os.environ["SC_MAX_LAYER_ENTRIES"] = "2000"
        try:
            self.assert_layer_refused("bomb", "SC_EUNSUPPORTED",
                                      "inflates to more than 16777216 bytes, the limit")
            self.assert_layer_refused("many", "SC_EUNSUPPORTED",
                                      "has more than 2000 entries, the limit")
        finally:
            del os.environ["SC_MAX_LAYER_BYTES"]
            del os.environ["SC_MAX_LAYER_ENTRIES"]

    def test_diff_ids_that_do_not_match(self):
        self.assert_layer_refused("diff-id", "SC_EDIGEST",
                                  "the config's diff_id is sha256:" + "0" * 64)

    def test_device_skipped_setuid_as_the_image_says(self):
        r, _ = self.install("special")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rootfs = os.path.join(self.root, "var/lib/containers/atomic/h.0/rootfs")
        self.assertFalse(os.path.lexists(os.path.join(rootfs, "dev/sda")))
        self.assertFalse(os.path.lexists(os.path.join(rootfs, "dev/fifo")))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(rootfs, "usr/bin/su")).st_mode), 0o4755)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(rootfs, "usr/bin/plain")).st_mode),
                         0o755)

    def test_layer_listed_twice(self):
        r, _ = self.install("twice")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "etc/systemd/system/h.service")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
