"""Containers installed into a sysroot (an image root, enabled offline with
systemctl --root) from umoci-built images, run for real with runc; the files
written, the state left behind after failures, and uninstall."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]

CONFIG = """{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
              "args": ["/bin/sh", "-c", "echo $GREETING from $NAME; cat /etc/motd"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "${STATE_DIRECTORY}/$NAME",
              "options": ["rbind", "rw"]}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]}
}
"""
RUN_ONCE_CONFIG = """{
  "ociVersion": "1.0.2",
  "process": {"terminal": true, "user": {"uid": 0, "gid": 0},
              "args": ["/bin/sh", "-c", "if /bin/busybox grep -q changed /etc/motd; then echo the store changed; exit 9; fi; echo changed >> /etc/motd; echo HI $RECEIVER from $PLANET in $DESTDIR; exit $CODE"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": false},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
}
"""
SERVICE = ("[Unit]\nDescription=$NAME\n[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\n"
           "WorkingDirectory=$DESTDIR\n[Install]\nWantedBy=multi-user.target\n")


def build(layout, tag, manifest, extra=None, hostfs=True, symlinks=()):
    """A busybox image with /exports (config, unit, manifest, and hostfs
    files unless not @hostfs); @extra: more files (None: leave one out);
    @symlinks: (path, target) pairs, made last."""
    bundle = os.path.join(os.path.dirname(layout), "bundle-" + tag)
    if not os.path.exists(layout):
        il.run("umoci", "init", "--layout", layout)
    il.run("umoci", "new", "--image", "%s:%s" % (layout, tag))
    il.run("umoci", "unpack", "--image", "%s:%s" % (layout, tag), bundle)
    root = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc") + (("exports/hostfs/etc/greeter", "exports/hostfs/usr/share/empty")
                               if hostfs else ()):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(il.BUSYBOX, os.path.join(root, "bin", "busybox"))
    os.symlink("busybox", os.path.join(root, "bin", "sh"))
    files = {"etc/motd": "motd of the image\n", "exports/config.json.template": CONFIG,
             "exports/service.template": SERVICE, "exports/manifest.json": json.dumps(manifest)}
    if hostfs:
        files["exports/hostfs/etc/greeter/greeter.conf"] = "name=$NAME\n"
    files.update(extra or {})
    for rel, text in files.items():
        if text is None:  # a file left out
            continue
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    for rel, target in symlinks:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)
    il.run("umoci", "repack", "--image", "%s:%s" % (layout, tag), bundle)
    shutil.rmtree(bundle)


def tree(root, skip=".storage"):
    """path -> (mode, sha256) of everything under root, the store excluded."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif os.path.islink(p):
                digest = os.readlink(p)
            out[os.path.relpath(p, root)] = (st.st_mode, digest)
    return out


class SysrootCtl:
    """For a test case with self.sysroot: syscontainerctl run on it, and
    its files read."""

    def ctl(self, *args, check=True):
        r = subprocess.run([CTL, "--sysroot", self.sysroot, *args], capture_output=True, text=True,
                           timeout=120)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def read(self, rel):
        with open(os.path.join(self.sysroot, rel)) as f:
            return f.read()


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class DeployTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-deploy-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"},
                                 "renameFiles": {"/etc/greeter": "/etc/$NAME"},
                                 # the destination after renaming, as atomic compared it
                                 "installedFilesTemplate": ["/etc/greeter/greeter.conf"]})
        build(cls.layout, "files", {"noContainerService": True,
                                    "defaultValues": {"GREETING": "x"}})
        build(cls.layout, "files2", {"noContainerService": True,
                                     "defaultValues": {"GREETING": "x"}},
              {"exports/hostfs/etc/greeter/greeter.conf": "files v2\n",
               "exports/hostfs/etc/greeter/new": "new in v2\n"})
        build(cls.layout, "needs", {"defaultValues": {"GREETING": "x"}},
              {"exports/service.template": SERVICE + "# $MUST_SET\n"})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2", "NEW": "new"},
                                 "renameFiles": {"/etc/greeter": "/etc/$NAME"}},
              {"etc/motd": "motd v2\n", "exports/hostfs/etc/greeter/greeter.conf": "v2 $NAME\n",
               "exports/hostfs/etc/greeter/added": "added in v2\n"})
        build(cls.layout, "noexports", {}, {"exports/config.json.template": None,
                                            "exports/service.template": None,
                                            "exports/manifest.json": None}, hostfs=False)
        # atomic's run-once scenario: a writable root, values, an exit status
        build(cls.layout, "once", {"defaultValues": {"PLANET": "Saturn", "CODE": "0"}},
              {"exports/config.json.template": RUN_ONCE_CONFIG})
        il.run("umoci", "config", "--image", "%s:once" % cls.layout,
               "--config.label", "atomic.run=once")
        cls.image = "oci:%s:v1" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.ck = os.path.join(self.sysroot, "var", "lib", "containers", "atomic")

    def tearDown(self):
        shutil.rmtree(self.sysroot)


    def test_run_once(self):
        image = "oci:%s:once" % self.layout
        r = self.ctl("install", "--set", "RECEIVER=Pluto", image)
        # DESTDIR: the scratch bundle, a real path on this machine
        self.assertRegex(r.stdout, "^HI Pluto from Saturn in " + re.escape(self.ck) +
                         r"/.storage/ostree/tmp/sc-exports-\w+\n$")
        # nothing installed, nothing left: no checkout, unit, lock, scratch bundle
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertEqual(os.listdir(os.path.join(self.ck, ".storage/ostree/tmp")), ["cache"])
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd")))
        self.assertEqual(json.loads(self.ctl("--json", "list").stdout)["containers"], [])
        # the container appended to /etc/motd, in a copy: the store's object is intact
        # (fsck; with hardlinks it fails) and a second run sees the original (exit 9 if
        # not); its exit status is install's
        subprocess.run(["ostree", "fsck", "--repo", os.path.join(self.ck, ".storage/ostree")],
                       check=True, capture_output=True)
        r = self.ctl("--json", "install", "--name", "other", "--set", "RECEIVER=Mars",
                     "--set", "CODE=7", image, check=False)
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn("HI Mars from Saturn", r.stdout)
        doc = json.loads(r.stdout[r.stdout.index("{"):])
        self.assertEqual((doc["name"], doc["run_once"], doc["exit_status"]), ("other", True, 7))
        # a dry run says what would run, and runs nothing
        r = self.ctl("install", "--dry-run", "--set", "RECEIVER=Venus", image)
        self.assertNotRegex(r.stdout, "(?m)^HI Venus")  # (the container's output line)
        self.assertIn("# would:\nrun once from a scratch bundle (atomic.run=once) over a copy of "
                      "the image; nothing is installed\n", r.stdout)
        self.assertIn("echo HI Venus from Saturn", r.stdout)
        # run IMAGE [CMD]: the same, without install (atomic's run --storage ostree IMAGE)
        r = self.ctl("run", "--set", "RECEIVER=Pluto", image, "--", "/bin/sh", "-c",
                     "echo Hello World; /bin/busybox grep -q changed /etc/motd || echo fresh")
        self.assertEqual(r.stdout, "Hello World\nfresh\n")
        r = self.ctl("run", "--set", "RECEIVER=Pluto", image, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^HI Pluto from Saturn in .*/tmp/sc-exports-\w+\n$")
        r = self.ctl("run", "--set", "RECEIVER=x", image, "--", "/bin/sh", "-c",
                     "cat /etc/motd; exit 4", check=False)
        self.assertEqual((r.returncode, r.stdout), (4, "motd of the image\n"), r.stderr)
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertEqual(os.listdir(os.path.join(self.ck, ".storage/ostree/tmp")), ["cache"])
        # a variable without a value fails before anything runs
        r = self.ctl("install", image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("RECEIVER", r.stderr)
        self.assertEqual(os.listdir(os.path.join(self.ck, ".storage/ostree/tmp")), ["cache"])

    def test_install_run_uninstall(self):
        self.assertEqual(self.ctl("install", "--name", "greeter", "--set", "GREETING=hi",
                                  self.image).stdout, "greeter\n")
        slot = os.path.join(self.ck, "greeter.0")
        self.assertEqual(os.readlink(os.path.join(self.ck, "greeter")),
                         "/var/lib/containers/atomic/greeter.0")
        unit = self.read("etc/systemd/system/greeter.service")
        self.assertEqual(unit, self.read("var/lib/containers/atomic/greeter.0/greeter.service"))
        self.assertIn("WorkingDirectory=/var/lib/containers/atomic/greeter.0\n", unit)
        self.assertIn(" run 'greeter'\n", unit)
        self.assertEqual(os.readlink(os.path.join(
            self.sysroot, "etc/systemd/system/multi-user.target.wants/greeter.service")),
            "/etc/systemd/system/greeter.service")
        # a missing bind source becomes a tmpfiles line
        self.assertEqual(self.read("etc/tmpfiles.d/greeter.conf"),
                         "d    /var/lib/greeter   0700 0 0 - -\n")
        # host files: renamed directory, templated file
        self.assertEqual(self.read("etc/greeter/greeter.conf"), "name=greeter\n")
        self.assertTrue(os.path.isdir(os.path.join(self.sysroot, "usr/share/empty")))
        info = json.loads(self.read("var/lib/containers/atomic/greeter.0/info"))
        for key in ("image revision ostree-commit created values has-container-service "
                    "installed-files installed-files-checksum installed-files-template "
                    "rename-installed-files rpm-installed system-package remote use-links "
                    "runtime").split():
            self.assertIn(key, info)
        self.assertEqual(info["user-values"], {"GREETING": "hi"})
        self.assertEqual(info["values"]["NAME"], "greeter")
        self.assertEqual(info["rename-installed-files"], {"/etc/greeter": "/etc/greeter"})
        # run the deployment for real (the data directory tmpfiles would create)
        os.makedirs(os.path.join(self.sysroot, "var/lib/greeter"))
        cfg = json.load(open(os.path.join(slot, "config.json")))
        for m in cfg["mounts"]:
            if m["destination"] == "/data":
                m["source"] = os.path.join(self.sysroot, "var/lib/greeter")
        json.dump(cfg, open(os.path.join(self.sysroot, "cfg.json"), "w"))
        bundle = os.path.join(self.sysroot, "bundle")
        os.makedirs(bundle)
        cfg["root"]["path"] = os.path.join(slot, "rootfs")  # the deployment's read-only rootfs
        json.dump(cfg, open(os.path.join(bundle, "config.json"), "w"))
        r = subprocess.run(["runc", "run", "sc-deploy-%d" % os.getpid()], cwd=bundle,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "hi from greeter\nmotd of the image\n"),
                         r.stderr)
        shutil.rmtree(bundle)
        os.unlink(os.path.join(self.sysroot, "cfg.json"))
        shutil.rmtree(os.path.join(self.sysroot, "var/lib/greeter"))

        listing = json.loads(self.ctl("--json", "list").stdout)["containers"]
        self.assertEqual([(c["name"], c["state"], c["image"]) for c in listing],
                         [("greeter", "installed", "localhost/layout:v1")])
        # a modified host file is kept; everything else goes
        with open(os.path.join(self.sysroot, "etc/greeter/greeter.conf"), "a") as f:
            f.write("# local change\n")
        report = json.loads(self.ctl("--json", "uninstall", "greeter").stdout)["containers"][0]
        self.assertEqual(report["kept"], ["/etc/greeter/greeter.conf"])
        left = sorted(tree(self.sysroot))
        self.assertEqual([p for p in left if "greeter" in p or "empty" in p],
                         ["etc/greeter", "etc/greeter/greeter.conf"])
        self.assertEqual(os.listdir(self.ck), [".storage"])  # the images stay
        # idempotent
        report = json.loads(self.ctl("--json", "uninstall", "greeter").stdout)["containers"][0]
        self.assertFalse(report["removed"])

    def test_remote_rootfs(self):
        """atomic's --rootfs: a container run from another one's root."""
        self.ctl("install", "--name", "greeter", self.image)
        src = "/var/lib/containers/atomic/greeter.0"
        self.ctl("install", "--name", "gr", "--rootfs", src, "--set", "GREETING=remote hi",
                 self.image)
        slot = os.path.join(self.ck, "gr.0")
        self.assertEqual(os.readlink(os.path.join(slot, "rootfs")), src + "/rootfs")
        with open(os.path.join(slot, "config.json")) as f:
            self.assertEqual(json.load(f)["root"]["path"], src + "/rootfs")
        info = json.loads(self.read("var/lib/containers/atomic/gr.0/info"))
        self.assertEqual(info["remote"], src)
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot,
                                                    "etc/systemd/system/gr.service")))
        self.assertEqual(self.read("etc/gr/greeter.conf"), "name=$NAME\n")
        os.makedirs(os.path.join(self.sysroot, "var/lib/gr"))  # (what tmpfiles creates)
        self.assertEqual(self.ctl("run", "gr").stdout, "remote hi from gr\nmotd of the image\n")
        # an update changes the configuration only: the new slot links the same root
        r = json.loads(self.ctl("--json", "update", "--set", "GREETING=again", "gr").stdout)
        self.assertEqual(r["deployment"], "/var/lib/containers/atomic/gr.1")
        self.assertEqual(os.readlink(os.path.join(self.ck, "gr.1", "rootfs")), src + "/rootfs")
        self.assertEqual(self.ctl("run", "gr").stdout, "again from gr\nmotd of the image\n")
        self.ctl("rollback", "gr")
        self.assertEqual(self.ctl("run", "gr").stdout, "remote hi from gr\nmotd of the image\n")
        r = self.ctl("update", "--rebase", "oci:%s:v2" % self.layout, "gr", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container gr runs from a remote rootfs (%s): it cannot be rebased" % src,
                      r.stderr)
        # uninstall leaves the root it ran from alone
        self.ctl("uninstall", "gr")
        self.assertEqual(self.read("var/lib/containers/atomic/greeter.0/rootfs/etc/motd"),
                         "motd of the image\n")
        self.assertEqual(sorted(os.listdir(self.ck)),
                         [".greeter.lock", ".storage", "greeter", "greeter.0"])
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd/system/gr.service")))
        # a root holding /usr is the rootfs itself
        os.makedirs(os.path.join(self.sysroot, "srv/root/usr"))
        self.ctl("install", "--name", "plain", "--rootfs", "/srv/root", self.image)
        self.assertEqual(os.readlink(os.path.join(self.ck, "plain.0", "rootfs")), "/srv/root")
        self.ctl("uninstall", "plain")
        self.assertTrue(os.path.isdir(os.path.join(self.sysroot, "srv/root/usr")))
        for location, message in (("/nonexistent", "--rootfs /nonexistent: the remote rootfs "
                                                    "does not exist"),
                                  ("/srv", "--rootfs /srv does not contain a rootfs (neither "
                                           "/srv/rootfs nor /srv/usr exists)"),
                                  ("srv/root", "--rootfs srv/root: must be an absolute path")):
            r = self.ctl("install", "--name", "bad", "--rootfs", location, self.image,
                         check=False)
            self.assertEqual(r.returncode, 1, location)
            self.assertIn(message, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.ck, "bad.0")))

    def test_atomic_installed_container(self):
        """A deployment as atomic left it (info with every value in "values",
        numbers for HOST_UID/HOST_GID, no "user-values", an older one without
        checksums): listed, updated, rolled back and uninstalled."""
        self.ctl("install", "--name", "old", "--set", "GREETING=from atomic", self.image)
        path = os.path.join(self.ck, "old.0", "info")
        with open(path) as f:
            info = json.load(f)
        del info["user-values"]
        del info["installed-files-checksum"]
        info["values"]["HOST_UID"] = info["values"]["HOST_GID"] = 0
        with open(path, "w") as f:
            json.dump(info, f, indent=4)
        listing = json.loads(self.ctl("--json", "list").stdout)["containers"]
        self.assertEqual([(c["name"], c["state"]) for c in listing], [("old", "installed")])
        # the user's values are what is neither computed nor a host default
        r = json.loads(self.ctl("--json", "update", "--set", "EXTRA=1", "old").stdout)
        self.assertEqual(r["deployment"], "/var/lib/containers/atomic/old.1")
        new = json.loads(self.read("var/lib/containers/atomic/old.1/info"))
        self.assertEqual(new["user-values"]["GREETING"], "from atomic")
        self.assertEqual(new["user-values"]["EXTRA"], "1")
        self.assertNotIn("NAME", new["user-values"])
        self.assertNotIn("HOST_UID", new["user-values"])
        self.assertEqual(self.read("etc/old/greeter.conf"), "name=$NAME\n")
        self.ctl("rollback", "old")
        self.assertEqual(os.readlink(os.path.join(self.ck, "old")),
                         "/var/lib/containers/atomic/old.0")
        # its host files go with it (atomic never removed files it had no checksum for);
        # one the admin changed stays
        with open(path) as f:
            info = json.load(f)
        del info["installed-files-checksum"]
        with open(path, "w") as f:
            json.dump(info, f, indent=4)
        with open(os.path.join(self.sysroot, "etc/old/greeter.conf"), "a") as f:
            f.write("# mine\n")
        report = json.loads(self.ctl("--json", "uninstall", "old").stdout)["containers"][0]
        self.assertEqual(report["kept"], ["/etc/old/greeter.conf"])
        self.assertEqual(os.listdir(os.path.join(self.sysroot, "etc/old")), ["greeter.conf"])
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "usr/share/empty")))
        self.assertEqual(os.listdir(self.ck), [".storage"])

    def test_atomic_values_and_runtime_scenarios(self):
        """atomic's install scenarios 2, 5 and runtime scenario 11: --set and
        manifest defaults in the files, a variable without a value fails and
        succeeds with --set, --runtime in the unit, a missing runtime."""
        r = self.ctl("install", "--name", "v", "oci:%s:needs" % self.layout, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("MUST_SET", r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "v")))
        self.ctl("install", "--name", "v", "--set", "MUST_SET=given",
                 "oci:%s:needs" % self.layout)
        self.assertIn("# given\n", self.read("etc/systemd/system/v.service"))
        with open(os.path.join(self.ck, "v.0", "config.json")) as f:
            self.assertIn("x from v", " ".join(json.load(f)["process"]["args"]))  # default
        self.ctl("uninstall", "v")
        self.ctl("--runtime", "/bin/ls", "install", "--name", "ls", self.image)
        self.assertIn("ExecStart=/bin/ls run 'ls'\n", self.read("etc/systemd/system/ls.service"))
        self.assertEqual(json.loads(self.read("var/lib/containers/atomic/ls.0/info"))["runtime"],
                         "/bin/ls")
        r = self.ctl("--runtime", "/no/runc", "install", "--name", "nort", self.image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("runtime '/no/runc' is not installed: no executable file at that path",
                      r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "nort.0")))

    def test_update_and_rollback(self):
        self.ctl("install", "--name", "g", "--set", "GREETING=mine", self.image)
        self.assertEqual(self.read("etc/g/greeter.conf"), "name=$NAME\n")  # not templated for g
        r = json.loads(self.ctl("--json", "update", "g").stdout)
        self.assertFalse(r["updated"])  # same image, same values
        r = json.loads(self.ctl("--json", "update", "--accept-privileges", "--rebase",
                                "oci:%s:v2" % self.layout, "g").stdout)
        self.assertEqual((r["updated"], r["deployment"]), (True, "/var/lib/containers/atomic/g.1"))
        self.assertEqual(os.readlink(os.path.join(self.ck, "g")), "/var/lib/containers/atomic/g.1")
        self.assertIn("WorkingDirectory=/var/lib/containers/atomic/g.1\n",
                      self.read("etc/systemd/system/g.service"))
        self.assertEqual(self.read("etc/g/greeter.conf"), "v2 $NAME\n")
        self.assertEqual(self.read("etc/g/added"), "added in v2\n")
        info = json.loads(self.read("var/lib/containers/atomic/g.1/info"))
        # only the user's value carried over; the new image's defaults apply
        self.assertEqual(info["user-values"], {"GREETING": "mine"})
        self.assertEqual(info["values"]["GREETING"], "mine")
        self.assertEqual(info["values"]["NEW"], "new")
        self.assertEqual(self.read("var/lib/containers/atomic/g.1/rootfs/etc/motd"), "motd v2\n")
        # the new slot is exactly the new image (no stale files from another slot)
        self.assertTrue(os.path.exists(os.path.join(self.ck, "g.0", "rootfs", "etc", "motd")))
        r = json.loads(self.ctl("--json", "rollback", "g").stdout)
        self.assertEqual(r["deployment"], "/var/lib/containers/atomic/g.0")
        self.assertEqual(os.readlink(os.path.join(self.ck, "g")), "/var/lib/containers/atomic/g.0")
        self.assertEqual(self.read("etc/g/greeter.conf"), "name=$NAME\n")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/g/added")))
        self.assertIn("WorkingDirectory=/var/lib/containers/atomic/g.0\n",
                      self.read("etc/systemd/system/g.service"))
        # and forward again; the tracking was rewritten, so uninstall cleans all
        self.ctl("rollback", "g")
        self.assertEqual(self.read("etc/g/added"), "added in v2\n")
        self.ctl("uninstall", "g")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/g")))

    def test_failed_update_keeps_the_old_deployment(self):
        self.ctl("install", "--name", "k", self.image)
        before = tree(self.sysroot)
        r = self.ctl("--json", "update", "--rebase", "oci:%s:needs" % self.layout, "k", check=False)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_ETEMPLATE")
        self.assertEqual(os.readlink(os.path.join(self.ck, "k")), "/var/lib/containers/atomic/k.0")
        self.assertFalse(os.path.exists(os.path.join(self.ck, "k.1")))
        after = tree(self.sysroot)
        self.assertEqual({k: v for k, v in after.items() if not k.endswith(".lock")},
                         {k: v for k, v in before.items() if not k.endswith(".lock")})
        r = self.ctl("rollback", "k", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container k has no previous deployment to roll back to", r.stderr)

    def test_inspect_and_run(self):
        self.ctl("install", "--name", "r", "--set", "GREETING=yo", self.image)
        info = json.loads(self.ctl("inspect", "r").stdout)
        self.assertEqual((info["name"], info["state"]), ("r", "installed"))
        self.assertEqual(info["info"]["user-values"], {"GREETING": "yo"})
        self.assertEqual(info["config"]["root"], {"path": "rootfs", "readonly": True})
        # stopped: once, from a scratch bundle; the command's status is ours
        # the bind source, as tmpfiles would create it inside the image root
        os.makedirs(os.path.join(self.sysroot, "var/lib/r"))
        r = self.ctl("run", "r", "--", "/bin/sh", "-c", "cat /etc/motd; exit 3", check=False)
        self.assertEqual((r.returncode, r.stdout), (3, "motd of the image\n"), r.stderr)
        r = self.ctl("run", "r", "--", "/bin/sh", "-c", "echo data > /data/f", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read("var/lib/r/f"), "data\n")
        r = self.ctl("run", "--set", "A=1", "r", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--set is for running an image; r is an installed container", r.stderr)
        r = self.ctl("run", "r", check=False)  # its own process
        self.assertEqual((r.returncode, r.stdout), (0, "yo from r\nmotd of the image\n"),
                         r.stderr)
        r = self.ctl("start", "r", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot start r: systemd is not running here (the container is in a "
                      "--sysroot)", r.stderr)
        r = self.ctl("inspect", "nope", check=False)
        self.assertIn("container nope is not installed", r.stderr)
        for verb in ("update", "rollback"):
            r = self.ctl("--json", verb, "nope", check=False)
            self.assertEqual(r.returncode, 1, verb)
            err = json.loads(r.stdout)["error"]
            self.assertEqual((err["code"], err["message"]),
                             ("SC_ENOTFOUND", "container nope is not installed (or its info file "
                              "is missing: uninstall it)"), verb)
            self.assertFalse(os.path.lexists(os.path.join(self.ck, "nope")), verb)

    def test_dry_run_changes_nothing(self):
        os.makedirs(self.ck)
        before = tree(self.sysroot)
        # atomic's default name: the image's last component, "-TAG" unless latest
        r = self.ctl("install", "--dry-run", self.image)
        self.assertIn("# would:\ncheckout localhost/layout:v1 into /var/lib/containers/atomic/"
                      "layout-v1.0/rootfs\n", r.stdout)
        self.assertIn("ExecStart=", r.stdout)
        self.assertEqual(tree(self.sysroot), before)

    def test_refusals_leave_nothing(self):
        self.ctl("install", "--name", "one", self.image)
        # the same install again is nothing to do; with other values, an update's job
        r = self.ctl("--json", "install", "--name", "one", self.image)
        self.assertTrue(json.loads(r.stdout)["already_installed"])
        r = self.ctl("--json", "install", "--name", "one", "--set", "GREETING=x", self.image,
                     check=False)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EEXISTS")
        before = tree(self.sysroot)
        # a unit of the same name that is not ours
        with open(os.path.join(self.sysroot, "etc/systemd/system/two.service"), "w") as f:
            f.write("[Service]\nExecStart=/bin/true\n")
        r = self.ctl("install", "--name", "two", self.image, check=False)
        self.assertIn("two.service exists and does not belong to a container", r.stderr)
        os.unlink(os.path.join(self.sysroot, "etc/systemd/system/two.service"))
        # a host file collision (another container's file with other content)
        r = self.ctl("install", "--name", "three", "--set", "x=1", self.image, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)  # /etc/three is free
        os.makedirs(os.path.join(self.sysroot, "etc/four"))
        with open(os.path.join(self.sysroot, "etc/four/greeter.conf"), "w") as f:
            f.write("admin's own\n")
        r = self.ctl("--json", "install", "--name", "four", self.image, check=False)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_EEXISTS")
        self.assertIn("host file /etc/four/greeter.conf exists and was not installed by this "
                      "container", err["message"])
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "four")))
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "four.0")))
        self.assertEqual(self.read("etc/four/greeter.conf"), "admin's own\n")
        # a variable nothing defines, an invalid name
        r = self.ctl("--json", "install", "--name", "five", "oci:%s:needs" % self.layout,
                     check=False)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_ETEMPLATE")
        self.assertIn("variable 'MUST_SET'", json.loads(r.stdout)["error"]["message"])
        self.assertFalse(os.path.lexists(os.path.join(self.ck, "five.0")))
        r = self.ctl("install", "--name", "../x", self.image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container name '../x' must start with a letter or a digit", r.stderr)
        after = tree(self.sysroot)
        # only container three (and the admin's file) is new: not even the lock
        # files of the refused containers stay
        new = sorted(set(after) - set(before))
        self.assertTrue(all("three" in p or p.startswith("etc/four") for p in new), new)

    def test_names_ending_in_a_slot_suffix_and_no_exports(self):
        """atomic's "container.0" scenario, next to a container "container"
        whose first slot has that very name; an image without /exports."""
        image = "oci:%s:noexports" % self.layout
        r = self.ctl("install", "--name", "container.0", image)
        self.assertIn("has no /exports: the default config.json and unit are used", r.stderr)
        self.assertEqual(os.readlink(os.path.join(self.ck, "container.0")),
                         "/var/lib/containers/atomic/container.0.0")
        unit = self.read("etc/systemd/system/container.0.service")
        self.assertIn("\n[Service]\nType=forking\nDelegate=yes\n", unit)
        self.assertIn("ExecStart=/usr/sbin/runc run -d --pid-file "
                      "/run/container-container.0.pid 'container.0'\n", unit)
        with open(os.path.join(self.ck, "container.0.0", "config.json")) as f:
            config = json.load(f)
        self.assertEqual(config["process"]["args"], ["run.sh"])
        # runc resolves it from the unit's own cgroup
        self.assertEqual(config["linux"]["cgroupsPath"], "container.0.service/container")
        # "container" would need container.0 as its slot: refused, nothing touched
        before = tree(self.sysroot)
        r = self.ctl("install", "--name", "container", image, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container.0 is the container container.0, and this container would need "
                      "it as its deployment slot: choose another --name", r.stderr)
        self.assertEqual(tree(self.sysroot), before)
        self.assertFalse(json.loads(self.ctl("--json", "uninstall", "container").stdout)
                         ["containers"][0]["removed"])
        self.assertEqual(tree(self.sysroot), before)
        listing = json.loads(self.ctl("--json", "list").stdout)["containers"]
        self.assertEqual([(c["name"], c["state"]) for c in listing],
                         [("container.0", "installed")])
        self.ctl("uninstall", "container.0")
        self.assertEqual(os.listdir(self.ck), [".storage"])
        # and the other way round: "x" first, then "x.0" is x's slot
        self.ctl("install", "--name", "x", image)
        r = self.ctl("install", "--name", "x.0", image, check=False)
        self.assertIn("x.0 is a deployment slot of another container: choose another --name",
                      r.stderr)
        self.assertEqual(os.readlink(os.path.join(self.ck, "x")),
                         "/var/lib/containers/atomic/x.0")

    def test_half_installed_container_is_cleaned(self):
        # what a crash before the symlink leaves: a slot without NAME
        slot = os.path.join(self.ck, "half.0", "rootfs")
        os.makedirs(slot)
        self.ctl("install", "--name", "half", self.image)
        self.assertTrue(os.path.islink(os.path.join(self.ck, "half")))
        os.makedirs(os.path.join(self.ck, "other.0"))
        self.ctl("uninstall", "other")
        self.assertFalse(os.path.exists(os.path.join(self.ck, "other.0")))

    def test_no_container_service_installs_files_only(self):
        self.ctl("install", "--name", "files", "oci:%s:files" % self.layout)
        self.assertFalse(os.path.exists(os.path.join(self.sysroot,
                                                     "etc/systemd/system/files.service")))
        # the rootfs is gone but for /exports (to put the files back on rollback)
        self.assertEqual(os.listdir(os.path.join(self.ck, "files.0", "rootfs")), ["exports"])
        self.assertEqual(self.read("etc/greeter/greeter.conf"), "name=$NAME\n")
        state = json.loads(self.ctl("--json", "list").stdout)["containers"][0]["state"]
        self.assertEqual(state, "no service")
        # update to other files, roll back to the first ones
        # (a new host file: accepted, see test_privileges.py)
        self.ctl("update", "--accept-privileges", "--rebase", "oci:%s:files2" % self.layout,
                 "files")
        self.assertEqual(self.read("etc/greeter/greeter.conf"), "files v2\n")
        self.assertEqual(self.read("etc/greeter/new"), "new in v2\n")
        self.ctl("rollback", "files")
        self.assertEqual(self.read("etc/greeter/greeter.conf"), "name=$NAME\n")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/greeter/new")))
        self.ctl("uninstall", "files")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/greeter")))

    @unittest.skipIf(os.path.isdir("/run/systemd/system"), "systemd runs here")
    def test_no_systemd_and_no_sysroot(self):
        r = subprocess.run([CTL, "install", self.image], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("systemd is not running on this machine", r.stderr)
        self.assertIn("--sysroot DIR", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
