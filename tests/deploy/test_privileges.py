"""The privilege review (docs/security.md, "Privilege review"): an update or
rebase whose new deployment may do more to the host than the current one
(capabilities, host namespaces, host bind mounts, noNewPrivileges, new host
files, unit commands run on the host) is refused, with nothing changed,
unless --accept-privileges; update --dry-run and install --dry-run show
the privileges. Containers in a sysroot (systemd offline)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import imagelib as il  # noqa: E402
from test_deploy import CTL, SysrootCtl, build, tree  # noqa: E402

CAPS = ["CAP_CHOWN", "CAP_KILL"]


def config(caps=CAPS, mounts=(), namespaces=("pid", "mount", "ipc", "uts", "network"),
           nnp=True, env="A=1"):
    return json.dumps({
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/sh"],
                    "env": ["PATH=/bin", env], "cwd": "/", "noNewPrivileges": nnp,
                    "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}},
        "root": {"path": "rootfs", "readonly": True},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}] + list(mounts),
        "linux": {"namespaces": [{"type": t} for t in namespaces],
                  "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}}, indent=1)


SERVICE = ("[Unit]\nDescription=$NAME\n[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\n"
           "[Install]\nWantedBy=multi-user.target\n")
ROOT_RW = {"destination": "/host", "type": "bind", "source": "/", "options": ["rbind", "rw"]}
MANIFEST = {"defaultValues": {"GREETING": "x"}, "renameFiles": {"/etc/priv": "/etc/$NAME"}}

# tag -> (config.json, extra files, what the review says was added)
VARIANTS = {
    "cap": (config(caps=CAPS + ["CAP_SYS_ADMIN"]), {},
            ["capability CAP_SYS_ADMIN added (bounding, effective, permitted)"]),
    "rootbind": (config(mounts=[ROOT_RW]), {}, ["mount /:/host read-write added"]),
    "hostnet": (config(namespaces=("pid", "mount", "ipc", "uts")), {},
                ["host network namespace shared"]),
    "hostfile": (config(), {"exports/hostfs/etc/priv/new.conf": "new\n"},
                 ["host file /etc/c/new.conf added"]),
    "prestart": (config(), {"exports/service.template": SERVICE.replace(
        "ExecStart=", "ExecStartPre=/usr/bin/touch /run/x\nExecStart=")},
                 ["unit runs /usr/bin/touch /run/x as root on the host (ExecStartPre)"]),
    "nnp": (config(nnp=False), {}, ["noNewPrivileges dropped"]),
}

# the same, going back (reported, never asked)
REMOVED = {"host network namespace shared": "host network namespace no longer shared",
           "noNewPrivileges dropped": "noNewPrivileges set",
           "unit runs /usr/bin/touch /run/x as root on the host (ExecStartPre)":
           "unit runs /usr/bin/touch /run/x as root on the host (ExecStartPre) removed"}


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class PrivilegesTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-priv-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        base = {"exports/config.json.template": config(), "exports/service.template": SERVICE,
                "exports/hostfs/etc/priv/old.conf": "old\n"}
        build(cls.layout, "v1", MANIFEST, base, hostfs=False)
        # nothing the review looks at changes: an env var, a file of the image
        build(cls.layout, "v1env", MANIFEST,
              dict(base, **{"exports/config.json.template": config(env="A=2"),
                            "etc/new-file": "new\n"}), hostfs=False)
        for tag, (conf, extra, _) in VARIANTS.items():
            build(cls.layout, tag, MANIFEST,
                  dict(base, **{"exports/config.json.template": conf}, **extra), hostfs=False)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.ck = os.path.join(self.sysroot, "var", "lib", "containers", "atomic")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def img(self, tag):
        return "oci:%s:%s" % (self.layout, tag)

    def state(self):
        return tree(self.sysroot)

    def image_id(self, tag):
        doc = json.loads(self.ctl("--json", "images", "inspect", self.img(tag)).stdout)
        return doc["id"]

    def test_each_refused_then_accepted(self):
        self.ctl("install", "--name", "c", self.img("v1"))
        for tag, (_, _, added) in VARIANTS.items():
            with self.subTest(tag=tag):
                self.ctl("pull", self.img(tag))
                before = self.state()
                r = self.ctl("update", "--rebase", self.img(tag), "c", check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(
                    "container c: the update to %s (%.12s) adds privileges: %s; nothing was "
                    "changed (review them with update --dry-run, accept them with "
                    "--accept-privileges)" % ("localhost/layout:" + tag, self.image_id(tag),
                                              "; ".join(added)),
                    r.stderr)
                # nothing changed: link, both slots, unit, host files
                self.assertEqual(self.state(), before)
                r = self.ctl("--json", "update", "--rebase", self.img(tag), "c", check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn('"SC_EPERM"', r.stdout + r.stderr)
                self.assertEqual(self.state(), before)
                # accepted
                doc = json.loads(self.ctl("--json", "update", "--accept-privileges", "--rebase",
                                          self.img(tag), "c").stdout)
                self.assertTrue(doc["updated"])
                self.assertEqual([a["text"] for a in doc["privileges"]["added"]], added)
                # back to v1: privileges removed, never asked
                doc = json.loads(self.ctl("--json", "update", "--rebase", self.img("v1"),
                                          "c").stdout)
                self.assertTrue(doc["updated"])
                self.assertEqual(doc["privileges"]["added"], [])
                self.assertEqual([a["text"] for a in doc["privileges"]["removed"]],
                                 [REMOVED.get(t, t.replace(" added", " removed")) for t in added])

    def test_unchanged_privileges_not_asked(self):
        self.ctl("install", "--name", "c", self.img("v1"))
        doc = json.loads(self.ctl("--json", "update", "--rebase", self.img("v1env"), "c").stdout)
        self.assertTrue(doc["updated"])
        self.assertEqual(doc["privileges"], {"added": [], "removed": []})
        # an update with a new value only
        doc = json.loads(self.ctl("--json", "update", "--set", "GREETING=y", "c").stdout)
        self.assertTrue(doc["updated"])
        self.assertEqual(doc["privileges"], {"added": [], "removed": []})

    def test_rollback_not_reviewed(self):
        self.ctl("install", "--name", "c", self.img("cap"))
        self.ctl("update", "--rebase", self.img("v1"), "c")
        # back to the deployment with CAP_SYS_ADMIN, accepted when it was installed
        doc = json.loads(self.ctl("--json", "rollback", "c").stdout)
        self.assertEqual([a["text"] for a in doc["privileges"]["added"]],
                         ["capability CAP_SYS_ADMIN added (bounding, effective, permitted)"])
        self.assertEqual(os.readlink(os.path.join(self.ck, "c")), doc["deployment"])

    def test_update_dry_run(self):
        self.ctl("install", "--name", "c", self.img("v1"))
        self.ctl("pull", self.img("rootbind"))
        before = self.state()
        r = self.ctl("update", "--dry-run", "--rebase", self.img("rootbind"), "c")
        self.assertEqual(r.stdout, "c: would update to %.12s (%s)\n+ mount /:/host read-write added\n"
                         % (self.image_id("rootbind"), "/var/lib/containers/atomic/c.1"))
        doc = json.loads(self.ctl("--json", "update", "--dry-run", "--rebase",
                                  self.img("rootbind"), "c").stdout)
        self.assertEqual((doc["dry_run"], doc["would_update"], doc["updated"]), (True, True, False))
        self.assertEqual(doc["privileges"], {"added": [
            {"kind": "mount", "text": "mount /:/host read-write added"}], "removed": []})
        self.assertEqual(self.state(), before)
        # an image not in the store is not pulled
        r = self.ctl("update", "--dry-run", "--rebase", self.img("nnp"), "c", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("update --dry-run does not pull: ", r.stderr)
        self.assertEqual(self.state(), before)

    def test_install_dry_run(self):
        r = self.ctl("install", "--dry-run", "--name", "c", self.img("rootbind"))
        priv = r.stdout[r.stdout.index("# privileges:\n"):]
        self.assertIn("+ capability CAP_CHOWN added (bounding, effective, permitted)\n", priv)
        self.assertIn("+ mount /:/host read-write added\n", priv)
        self.assertIn("+ host file /etc/c/old.conf added\n", priv)
        self.assertIn("+ host cgroup namespace shared\n", priv)
        self.assertIn("+ host user namespace shared\n", priv)
        self.assertNotIn("host network", priv)
        doc = json.loads(self.ctl("--json", "install", "--dry-run", "--name", "c",
                                  self.img("hostnet")).stdout)
        texts = [a["text"] for a in doc["privileges"]["added"]]
        self.assertIn("host network namespace shared", texts)
        self.assertEqual(doc["privileges"]["removed"], [])
        self.assertFalse(os.path.exists(os.path.join(self.ck, "c")))

    def test_update_all_one_refused(self):
        for n in ("a", "b"):
            il.run("umoci", "tag", "--image", "%s:v1" % self.layout, "all" + n)
            self.ctl("install", "--name", n, self.img("all" + n))
        # a's image changes nothing the review sees, b's adds CAP_SYS_ADMIN
        il.run("umoci", "tag", "--image", "%s:v1env" % self.layout, "alla")
        il.run("umoci", "tag", "--image", "%s:cap" % self.layout, "allb")
        self.ctl("pull", self.img("alla"))
        self.ctl("pull", self.img("allb"))
        b_before = tree(os.path.join(self.ck))
        r = self.ctl("--json", "update", "--all", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        entries = {e["name"]: e for e in json.loads(r.stdout)["containers"]}
        self.assertTrue(entries["a"]["updated"])
        self.assertFalse(entries["b"]["updated"])
        self.assertIn("container b: the update to %s (%.12s) adds privileges: capability "
                      "CAP_SYS_ADMIN added (bounding, effective, permitted)"
                      "; nothing was changed" % ("localhost/layout:allb", self.image_id("allb")),
                      entries["b"]["error"])
        self.assertEqual(os.readlink(os.path.join(self.ck, "b")),
                         b_before["b"][1])
        r = self.ctl("update", "--all", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("a: latest version already installed\n", r.stdout)
        r = self.ctl("--json", "update", "--all", "--accept-privileges")
        entries = {e["name"]: e for e in json.loads(r.stdout)["containers"]}
        self.assertTrue(entries["b"]["updated"])
        self.assertFalse(entries["a"]["updated"])
    def test_unreadable_current_spec_reviews_everything(self):
        """A current config.json that is not a spec (edited, truncated) is no
        baseline: every privilege of the new deployment is reviewed."""
        self.ctl("install", "--name", "c", self.img("v1"))
        with open(os.path.join(self.ck, "c.0", "config.json"), "w") as f:
            f.write('{"process": {"capabilities": {"bounding": [7]}}}')
        before = self.state()
        r = self.ctl("update", "--rebase", self.img("v1env"), "c", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("warning: container c: the privileges of /var/lib/containers/atomic/c.0 "
                      "cannot be read (config.json: process.capabilities.bounding[0] is not a "
                      "capability name): every privilege of the other deployment is reviewed",
                      r.stderr)
        self.assertIn("adds privileges: capability CAP_CHOWN added (bounding, effective, "
                      "permitted); capability CAP_KILL added (bounding, effective, permitted)",
                      r.stderr)
        self.assertEqual(self.state(), before)
        self.ctl("update", "--accept-privileges", "--rebase", self.img("v1env"), "c")

    def test_hostile_new_spec_refused(self):
        """A new config.json the review cannot read fails the update, naming the
        field, before any change; --accept-privileges does not pass it."""
        self.ctl("install", "--name", "c", self.img("v1"))
        bad = config().replace('"CAP_KILL"', "7", 1)
        build(self.layout, "bad", MANIFEST, {"exports/config.json.template": bad,
                                            "exports/service.template": SERVICE}, hostfs=False)
        self.ctl("pull", self.img("bad"))
        before = self.state()
        for extra in ([], ["--accept-privileges"]):
            r = self.ctl("update", *extra, "--rebase", self.img("bad"), "c", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("container c: the new deployment's config.json: "
                          "process.capabilities.bounding[1] is not a capability name", r.stderr)
            self.assertEqual(self.state(), before)

    @unittest.skipUnless(os.environ.get("SC_TEST_HOOKS") == "1", "needs -Dtest_hooks=true")
    def test_dry_run_leaves_an_interrupted_update(self):
        """update --dry-run neither finishes nor undoes an operation a crash
        interrupted: it refuses, and the next real command recovers."""
        self.ctl("install", "--name", "c", self.img("v1"))
        self.ctl("pull", self.img("v1env"))
        env = dict(os.environ, SC_TEST_KILL_AT="update:hostfs")
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "update", "--rebase",
                            self.img("v1env"), "c"], env=env, capture_output=True, text=True,
                           timeout=120)
        self.assertNotEqual(r.returncode, 0)
        before = self.state()
        r = self.ctl("update", "--dry-run", "c", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("container c: an interrupted update is pending; update --dry-run does "
                      "not finish it (any other command does)", r.stderr)
        self.assertEqual(self.state(), before)
        r = self.ctl("--json", "update", "--rebase", self.img("v1env"), "c")
        self.assertTrue(json.loads(r.stdout)["updated"])

    @unittest.skipIf(il.sanitized_library(), "the library is built with ASan")
    def test_python_binding(self):
        import syscontainer
        self.ctl("install", "--name", "c", self.img("v1"))
        self.ctl("pull", self.img("cap"))
        ctx = syscontainer.Context(sysroot=self.sysroot)
        before = self.state()
        doc = ctx.update("c", rebase=self.img("cap"), dry_run=True)
        self.assertEqual((doc["dry_run"], doc["would_update"]), (True, True))
        self.assertEqual([a["text"] for a in doc["privileges"]["added"]],
                         ["capability CAP_SYS_ADMIN added (bounding, effective, permitted)"])
        with self.assertRaises(syscontainer.Error) as e:
            ctx.update("c", rebase=self.img("cap"))
        self.assertEqual(e.exception.code, "SC_EPERM")
        self.assertIn("container c: the update to localhost/layout:cap", e.exception.message)
        self.assertEqual(self.state(), before)
        doc = ctx.update("c", rebase=self.img("cap"), accept_privileges=True)
        self.assertTrue(doc["updated"])
        entries = ctx.update_all(dry_run=True)
        self.assertEqual(entries[0]["privileges"], {"added": [], "removed": []})


if __name__ == "__main__":
    unittest.main()
