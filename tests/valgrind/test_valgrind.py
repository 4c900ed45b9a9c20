"""The whole life of a container under valgrind's memcheck: pull from a real
registry, install, list, inspect, update, rollback, uninstall, delete the
image. Each command must exit as it would without valgrind, with no memory
error and no block definitely lost. (GLib sees valgrind and allocates with
plain malloc, so what its slice allocator would hide from ASan shows here.)"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "registry"))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import registry as rg  # noqa: E402
from test_hostile import build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--error-exitcode=99", "-q",
            "--suppressions=" + os.path.join(HERE, "third-party.supp")]


@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class ValgrindCycleTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="sc-valgrind-")
        layout = os.path.join(self.work, "oci")
        build(layout, "1", {})
        build(layout, "2", {"etc/version": "2\n"})
        self.registry = rg.Registry(self.work)
        self.addCleanup(self.registry.stop)
        for tag in ("1", "2"):
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false",
                            "oci:%s:%s" % (layout, tag),
                            "docker://%s/vg:%s" % (self.registry.host, tag)],
                           check=True, capture_output=True)
        self.root = os.path.join(self.work, "root")
        os.makedirs(self.root)

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def ctl(self, *args):
        r = subprocess.run(VALGRIND + [CTL, "--sysroot", self.root, "--json"] + list(args),
                           capture_output=True, text=True)
        report = "\n".join(l for l in r.stderr.splitlines() if re.match(r"==\d+==", l))
        self.assertNotEqual(r.returncode, 99, "valgrind: %s\n%s" % (" ".join(args), report))
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        self.assertEqual(report, "", " ".join(args))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def test_pull_install_update_rollback_uninstall(self):
        one = "%s/vg:1" % self.registry.host
        two = "%s/vg:2" % self.registry.host
        self.ctl("pull", "--tls-verify=false", one)
        self.ctl("images", "list")
        self.ctl("install", "--name", "vg", "--set", "GREETING=hi", one)
        self.assertEqual([c["name"] for c in self.ctl("list")["containers"]], ["vg"])
        self.ctl("inspect", "vg")
        self.ctl("update", "--tls-verify=false", "--rebase", two, "vg")
        self.ctl("rollback", "vg")
        # an update killed half-way, undone by the next one (the journal's code)
        if os.environ.get("SC_TEST_HOOKS") == "1":
            r = subprocess.run([CTL, "--sysroot", self.root, "update", "--rebase", two, "vg"],
                               env=dict(os.environ, SC_TEST_KILL_AT="update:hostfs"),
                               capture_output=True)
            self.assertEqual(r.returncode, -9)
            self.assertEqual(self.ctl("list")["containers"][0]["state"], "incomplete")
        self.ctl("update", "--rebase", two, "vg")
        self.ctl("uninstall", "vg")
        self.assertEqual(self.ctl("list")["containers"], [])
        self.ctl("images", "delete", one)
        self.ctl("images", "prune")
        self.assertFalse(os.path.exists(os.path.join(self.root, "etc/systemd/system/vg.service")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
