"""The automatic updates under a real systemd (machine scauto): the
syscontainer-auto-update units as the build installs them, disabled until
enabled; their service, started as the timer would start it, updates the
running container that opted in to the image pushed to the loopback
registry (restarted, now the new version), leaves the one that did not
opt in alone (running the old version), and the journal has one line for
each."""

import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402
from test_system import BUILD_DIR, CTL, NspawnTest, can_boot, service_image  # noqa: E402

UNIT = "syscontainer-auto-update"


@unittest.skipUnless(can_boot() and shutil.which("skopeo") and shutil.which("docker-registry"),
                     "needs root, systemd-nspawn, systemd, runc, umoci, skopeo and docker-registry")
class AutoUpdateSystemTest(NspawnTest):
    machine = "scauto"

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-scauto-")
        cls.layout = os.path.join(cls.shared, "layout")
        service_image(cls.layout, "v1", "version 1")
        service_image(cls.layout, "v2", "version 2")
        cls.registry = rg.Registry(cls.shared)
        cls.ref = cls.registry.host + "/sys/svc:latest"
        # the loopback registry speaks http: registries.conf says so, for
        # the service (which runs without --tls-verify=false)
        cls.regconf = os.path.join(cls.shared, "registries.conf")
        with open(cls.regconf, "w") as f:
            f.write('[[registry]]\nlocation = "%s"\ninsecure = true\n' % cls.registry.host)
        try:
            cls.boot()
        except BaseException:
            cls.registry.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        super().tearDownClass()

    def push(self, tag):
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:%s" % (self.layout, tag),
               "docker://" + self.ref)

    def install_units(self):
        """The units the build made, into the machine's /etc/systemd/system;
        ExecStart names the built program (the machine sees the build tree
        at its own path), a drop-in the test's registries.conf and policy."""
        with open(os.path.join(BUILD_DIR, "data", UNIT + ".service")) as f:
            service = f.read()
        prefix_bin = service.split("ExecStart=", 1)[1].split(" ", 1)[0]
        units = os.path.join(self.shared, "units")
        os.makedirs(os.path.join(units, UNIT + ".service.d"))
        with open(os.path.join(units, UNIT + ".service"), "w") as f:
            f.write(service.replace("ExecStart=%s " % prefix_bin, "ExecStart=%s " % CTL))
        shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "data", "systemd",
                                 UNIT + ".timer"), units)
        with open(os.path.join(units, UNIT + ".service.d", "test.conf"), "w") as f:
            f.write("[Service]\nEnvironment=CONTAINERS_REGISTRIES_CONF=%s\n" % self.regconf)
            policy = os.environ.get("SC_SIGNATURE_POLICY")
            if policy:
                f.write("Environment=SC_SIGNATURE_POLICY=%s\n" % policy)
        self.inside("cp", "-r", *[os.path.join(units, n) for n in sorted(os.listdir(units))],
                    "/etc/systemd/system/")
        self.inside("systemctl", "daemon-reload")

    def version_in(self, name):
        return self.ctl("run", name, "/bin/busybox", "cat", "/etc/version").stdout

    def wait_running(self, name):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.inside("systemctl", "is-active", name + ".service",
                           check=False).stdout.strip() == "active":
                try:
                    return self.version_in(name)
                except AssertionError:
                    pass
            time.sleep(0.3)
        self.fail("%s never ran" % name)

    def test_timer_service_updates_only_the_opted_in(self):
        self.install_units()
        # installed, not enabled
        r = self.inside("systemctl", "is-enabled", UNIT + ".timer", check=False)
        self.assertEqual(r.stdout.strip(), "disabled")
        self.push("v1")
        self.ctl("install", "--now", "--tls-verify=false", "--name", "svcauto",
                 "--auto-update=registry", self.ref)
        self.ctl("install", "--now", "--name", "svcmanual", self.ref)
        self.assertEqual(self.wait_running("svcauto"), "version 1\n")
        self.assertEqual(self.wait_running("svcmanual"), "version 1\n")
        self.push("v2")
        self.inside("systemctl", "enable", "--now", UNIT + ".timer")
        r = self.inside("systemctl", "list-timers", "--all", UNIT + ".timer")
        self.assertIn(UNIT + ".service", r.stdout)
        # what the timer starts, started now (a oneshot: returns when done)
        r = self.inside("systemctl", "start", UNIT + ".service", check=False, timeout=300)
        status = self.inside("systemctl", "status", "--no-pager", UNIT + ".service",
                             check=False).stdout
        self.assertEqual(r.returncode, 0, status)
        self.assertEqual(self.inside("systemctl", "show", "-p", "Result", "--value",
                                     UNIT + ".service").stdout, "success\n")
        self.assertEqual(self.wait_running("svcauto"), "version 2\n")
        self.assertEqual(self.wait_running("svcmanual"), "version 1\n")
        journal = self.inside("journalctl", "--no-pager", "-o", "cat", "-u",
                              UNIT + ".service").stdout
        lines = [line for line in journal.splitlines() if line.startswith("svc")]
        self.assertEqual(len(lines), 2, journal)
        self.assertRegex(lines[0], r"^svcauto: updated to [0-9a-f]{12} "
                                   r"\(/var/lib/containers/atomic/svcauto\.1\)$")
        self.assertEqual(lines[1], "svcmanual: skipped: not opted in")
        # a second run: the opted-in one is up to date, nothing restarts
        self.inside("systemctl", "start", UNIT + ".service", timeout=300)
        journal = self.inside("journalctl", "--no-pager", "-o", "cat", "-u",
                              UNIT + ".service").stdout
        self.assertIn("svcauto: latest version already installed\n", journal)
        self.assertEqual(journal.count("svcmanual: skipped: not opted in\n"), 2)
        self.assertEqual(self.version_in("svcauto"), "version 2\n")
        self.ctl("uninstall", "svcauto", "svcmanual")


if __name__ == "__main__":
    unittest.main(verbosity=2)
