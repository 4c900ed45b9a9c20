"""atomic's runtime scenarios that need a running systemd
(reference/atomic-behaviour.md 9.2, test_system_containers_runtime.sh):
start, stop, states, `run NAME` (start, exec while running), an update
and a rollback restarting a running container, on atomic's test image
(tests/deploy/test_atomic_scenarios.py builds it from the corpus). The
greeting is read from the port the container serves, as atomic's test did
with curl. Machine scscen; skipped when the corpus is absent."""

import json
import os
import sys
import time
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "deploy"))
from test_system import NspawnTest, can_boot  # noqa: E402
from test_atomic_scenarios import CORPUS, SECRET, UUID_RE, build_images  # noqa: E402

CK = "/var/lib/containers/atomic"
# ports unlikely to be taken (nspawn shares the host's network)
PORT, PORT2 = "28081", "28082"


@unittest.skipUnless(os.path.isdir(CORPUS), "the corpus (../shared/corpus) is absent")
@unittest.skipUnless(can_boot(), "needs root, systemd-nspawn, systemd, runc and umoci")
class AtomicRuntimeScenarios(NspawnTest):
    machine = "scscen"

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-scen-system-")
        cls.layout = os.path.join(cls.shared, "layout")
        build_images(cls.layout)
        cls.image = "oci:%s:system" % cls.layout
        cls.boot()

    def install(self, name, *args):
        self.addCleanup(self.ctl, "uninstall", name, check=False)
        self.ctl("install", "--name", name, "--set", "RECEIVER=" + SECRET, "--set",
                 "PORT=" + PORT, *args, self.image)

    def active(self, name):
        return self.inside("systemctl", "is-active", name + ".service", check=False).stdout.strip()

    def state(self, name):
        listing = json.loads(self.ctl("--json", "list", "--all").stdout)["containers"]
        return {c["name"]: c for c in listing}[name]["state"]

    def uuid(self, slot):
        return json.loads(self.inside("cat", "%s/%s/info" % (CK, slot)).stdout)["values"]["UUID"]

    def greeting(self, port):
        """What the container serves on @port (atomic: curl localhost:PORT)."""
        deadline = time.monotonic() + 20
        while True:
            r = self.inside("/bin/busybox", "nc", "127.0.0.1", port, check=False, timeout=20)
            if r.returncode == 0 and "Hi " in r.stdout:
                return r.stdout.replace("\r\n", "\n")
            if time.monotonic() > deadline:
                self.fail("nothing served on %s: %s %s" % (port, r.stdout, r.stderr))
            time.sleep(0.3)

    def expected(self, name, slot, receiver=SECRET):
        return ("HTTP/1.1 200 OK\nConnection: Close\n\nHi %s from container %s with UUID=%s\n"
                % (receiver, name, self.uuid(slot)))

    def test_runtime_1_run_exec_and_start(self):
        self.install("scen1")
        # stopped: a temporary bundle
        self.assertEqual(self.ctl("run", "scen1", "echo", "hello", "world").stdout,
                         "hello world\n")
        self.inside("systemctl", "start", "scen1.service")
        self.assertEqual(self.active("scen1"), "active")
        self.assertIn("Active: active (running)",
                      self.inside("systemctl", "status", "scen1.service", check=False).stdout)
        self.assertEqual(self.greeting(PORT), self.expected("scen1", "scen1.0"))
        # running: exec into it (it sees the container's /var/run bind)
        self.assertEqual(self.ctl("run", "scen1", "echo", "hello", "world").stdout,
                         "hello world\n")
        self.assertEqual(self.ctl("--runtime", "/usr/sbin/runc", "run", "scen1", "echo", "hello",
                                  "world").stdout, "hello world\n")

    def test_runtime_2_4_5_stop_start_states(self):
        self.install("scen2")
        self.ctl("run", "scen2")  # atomic run NAME: starts the service
        self.assertEqual(self.active("scen2"), "active")
        self.assertEqual(self.state("scen2"), "running")
        self.greeting(PORT)
        self.ctl("stop", "scen2")
        self.assertEqual(self.active("scen2"), "inactive")
        self.assertEqual(self.state("scen2"), "inactive")
        self.ctl("start", "scen2")
        self.assertEqual(self.state("scen2"), "running")
        self.ctl("stop", "scen2")

    def test_runtime_6_to_9_update_rollback_rebase_while_running(self):
        self.install("scen6", "--now")
        uuid = self.uuid("scen6.0")
        self.assertRegex(uuid, UUID_RE)
        self.greeting(PORT)
        # 6: the update restarts it on the new port, secret and UUID kept
        self.ctl("update", "--set", "PORT=" + PORT2, "scen6")
        self.assertEqual(self.active("scen6"), "active")
        self.assertEqual(self.uuid("scen6.1"), uuid)
        self.assertEqual(self.greeting(PORT2), self.expected("scen6", "scen6.1"))
        # 7: rollback, running on the old port
        self.ctl("rollback", "scen6")
        self.assertEqual(self.active("scen6"), "active")
        self.assertEqual(self.greeting(PORT), self.expected("scen6", "scen6.0"))
        # 8: rollback again, update again: still running
        self.ctl("rollback", "scen6")
        self.assertEqual(self.greeting(PORT2), self.expected("scen6", "scen6.1"))
        self.ctl("update", "--set", "RECEIVER=Pluto", "scen6")
        self.assertEqual(self.inside("readlink", CK + "/scen6").stdout, CK + "/scen6.0\n")
        self.assertEqual(self.greeting(PORT2), self.expected("scen6", "scen6.0", "Pluto"))
        # 9: a rebase with --set keeps it running
        self.ctl("update", "--rebase", "oci:%s:system-new" % self.layout, "--set",
                 "RECEIVER=Mars", "scen6")
        self.assertEqual(self.greeting(PORT2), self.expected("scen6", "scen6.1", "Mars"))
        self.ctl("stop", "scen6")

    def test_runtime_10_remote_rootfs_running(self):
        self.install("scen10")
        self.addCleanup(self.ctl, "uninstall", "scen10-remote", check=False)
        self.ctl("install", "--name", "scen10-remote", "--rootfs", CK + "/scen10.0", "--set",
                 "PORT=" + PORT, "--set", "RECEIVER=Remote", self.image)
        self.inside("systemctl", "start", "scen10-remote.service")
        self.assertEqual(self.greeting(PORT),
                         self.expected("scen10-remote", "scen10-remote.0", "Remote"))
        self.ctl("update", "--set", "PORT=" + PORT2, "scen10-remote")
        self.assertEqual(self.greeting(PORT2),
                         self.expected("scen10-remote", "scen10-remote.1", "Remote"))
        self.ctl("rollback", "scen10-remote")
        self.assertEqual(self.greeting(PORT),
                         self.expected("scen10-remote", "scen10-remote.0", "Remote"))
        self.ctl("stop", "scen10-remote")


if __name__ == "__main__":
    unittest.main(verbosity=2)
