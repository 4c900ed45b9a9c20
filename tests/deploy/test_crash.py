"""Crash tests: install, update, rollback and uninstall killed with SIGKILL
after each step they journal (SC_TEST_KILL_AT=OP:STEP), then: list shows
the container as incomplete, naming the operation and step; a re-run of
the same command succeeds and leaves exactly the files an uninterrupted run
leaves; uninstall instead leaves nothing; ostree fsck stays clean."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import CTL, build, tree  # noqa: E402

INSTALL_STEPS = ["prepared", "hostfs", "info", "unit", "link", "enabled"]
SWITCH_STEPS = ["prepared", "stopped", "hostfs", "info", "unit", "link"]
UNINSTALL_STEPS = ["begun", "disabled", "unit", "hostfs", "link"]


def state(sysroot):
    """The sysroot's files (the store aside), each info file without what
    differs between two runs (its creation time and the generated UUID)."""
    out = tree(sysroot)
    for rel in list(out):
        if os.path.basename(rel) == "info":
            with open(os.path.join(sysroot, rel)) as f:
                info = json.load(f)
            info.pop("created")
            info["values"].pop("UUID", None)
            out[rel] = (out[rel][0], hashlib.sha256(json.dumps(info, sort_keys=True)
                                                    .encode()).hexdigest())
    return out


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci"), "needs root and umoci")
@unittest.skipUnless(os.environ.get("SC_TEST_HOOKS") == "1",
                     "needs a build with -Dtest_hooks=true (crash injection)")
class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-crash-img-")
        layout = os.path.join(cls.shared, "layout")
        build(layout, "v1", {"defaultValues": {"GREETING": "hello"},
                             "renameFiles": {"/etc/greeter": "/etc/$NAME"}},
              {"exports/hostfs/etc/greeter/only-v1": "v1 only\n"})
        build(layout, "v2", {"defaultValues": {"GREETING": "hello v2"},
                             "renameFiles": {"/etc/greeter": "/etc/$NAME"}},
              {"exports/hostfs/etc/greeter/greeter.conf": "v2 $NAME\n",
               "exports/hostfs/etc/greeter/added": "added in v2\n"})
        cls.v1, cls.v2 = "oci:%s:v1" % layout, "oci:%s:v2" % layout
        cls.install = ["install", "--name", "greeter", "--set", "GREETING=hi", cls.v1]
        cls.update = ["update", "--accept-privileges", "--rebase", cls.v2, "greeter"]
        # the states uninterrupted runs leave
        cls.ref = {}
        root = cls.sysroot()
        cls.ctl(root, "pull", cls.v2)
        cls.ctl(root, *cls.install)
        cls.ref["install"] = state(root)
        cls.ctl(root, *cls.update)
        cls.ref["update"] = state(root)
        cls.ctl(root, "rollback", "greeter")
        cls.ref["rollback"] = state(root)
        cls.ctl(root, "uninstall", "greeter")
        cls.ref["uninstall"] = state(root)
        cls.store = os.path.join(root, "var/lib/containers/atomic/.storage")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    @classmethod
    def sysroot(cls):
        """A new sysroot, sharing the store (pulled once), with the
        directories an OS tree has."""
        root = tempfile.mkdtemp(prefix="sysroot-", dir=cls.shared)
        ck = os.path.join(root, "var/lib/containers/atomic")
        for d in (ck, "etc/systemd/system", "etc/tmpfiles.d", "usr/share"):
            os.makedirs(os.path.join(root, d))
        if hasattr(cls, "store"):
            # a copy made of hardlinks (ostree never changes an object in
            # place): a link to a store outside the sysroot is not followed
            subprocess.run(["cp", "-al", cls.store, os.path.join(ck, ".storage")], check=True)
        return root

    @staticmethod
    def ctl(root, *args, kill_at=None):
        env = dict(os.environ)
        env.pop("SC_TEST_KILL_AT", None)
        if kill_at:
            env["SC_TEST_KILL_AT"] = kill_at
        r = subprocess.run([CTL, "--sysroot", root, *args], capture_output=True, text=True,
                           env=env, timeout=120)
        if kill_at is None and r.returncode != 0:
            raise AssertionError("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def crash(self, root, op, step, args):
        r = self.ctl(root, *args, kill_at="%s:%s" % (op, step))
        self.assertEqual(r.returncode, -9, "%s:%s was not reached: %s" % (op, step, r.stderr))
        listed = {c["name"]: c for c in json.loads(self.ctl(root, "--json", "list").stdout)
                  ["containers"]}
        self.assertEqual((listed["greeter"]["state"], listed["greeter"]["interrupted"],
                          listed["greeter"]["step"]), ("incomplete", op, step))
        text = self.ctl(root, "list").stdout
        self.assertRegex(text, r"greeter .* incomplete \(%s interrupted\)" % op)

    def check(self, root, ref):
        self.assertEqual(state(root), self.ref[ref])
        subprocess.run(["ostree", "fsck", "--repo", os.path.join(self.store, "ostree")],
                       check=True, capture_output=True)

    def test_install(self):
        for step in INSTALL_STEPS:
            with self.subTest(step=step):
                root = self.sysroot()
                self.crash(root, "install", step, self.install)
                r = self.ctl(root, *self.install)
                self.assertIn("the interrupted install (after step '%s') is undone first" % step,
                              r.stderr)
                self.check(root, "install")
                # and killed again, uninstall removes everything
                self.ctl(root, "uninstall", "greeter")
                self.crash(root, "install", step, self.install)
                self.ctl(root, "uninstall", "greeter")
                self.check(root, "uninstall")

    def test_update(self):
        for step in SWITCH_STEPS:
            with self.subTest(step=step):
                root = self.sysroot()
                self.ctl(root, *self.install)
                self.crash(root, "update", step, self.update)
                r = self.ctl(root, *self.update)
                self.assertIn("an interrupted update (after step '%s') is finished or undone "
                              "first" % step, r.stderr)
                self.check(root, "update")
                self.ctl(root, "uninstall", "greeter")
                self.ctl(root, *self.install)
                self.crash(root, "update", step, self.update)
                self.ctl(root, "uninstall", "greeter")
                self.check(root, "uninstall")

    def test_rollback(self):
        for step in SWITCH_STEPS:
            with self.subTest(step=step):
                root = self.sysroot()
                self.ctl(root, *self.install)
                self.ctl(root, *self.update)
                self.crash(root, "rollback", step, ["rollback", "greeter"])
                # (done once: a re-run after a finished rollback does not toggle back)
                out = json.loads(self.ctl(root, "--json", "rollback", "greeter").stdout)
                self.assertEqual(out["deployment"], "/var/lib/containers/atomic/greeter.0")
                self.check(root, "rollback")
                self.ctl(root, "uninstall", "greeter")
                self.check(root, "uninstall")

    def test_uninstall(self):
        for step in UNINSTALL_STEPS:
            with self.subTest(step=step):
                root = self.sysroot()
                self.ctl(root, *self.install)
                self.ctl(root, *self.update)
                self.crash(root, "uninstall", step, ["uninstall", "greeter"])
                self.ctl(root, "uninstall", "greeter")
                self.check(root, "uninstall")


if __name__ == "__main__":
    unittest.main(verbosity=2)
