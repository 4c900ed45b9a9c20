"""Attacks on "the unit owns its container" (docs/containers.md), under a
real systemd booted in systemd-nspawn (machine scatk, one boot for every
case): container names whose unit systemd puts somewhere other than
/SLICE/NAME.service (an instance name 'web@1' goes to a per-template slice;
a name equal to a controller's, 'cpu', is escaped to '_cpu.service'), and
an image's own failing ExecStopPost= (flannel's) that must not keep the
runtime's state from being cleaned up after a kill."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import test_cgroup as tc  # noqa: E402  (a module: its CgroupTest must not run here)
from test_system import can_boot  # noqa: E402

# flannel's own service.template (atomic-system-containers/images/flannel),
# without Type=notify (the test's busybox does not notify): its
# ExecStopPost= removes a drop-in that is not there, and fails
FLANNEL_LIKE = ("[Unit]\nDescription=$NAME\n[Service]\nExecStart=$EXEC_START\n"
                "ExecStop=$EXEC_STOP\n"
                "ExecStopPost=/bin/rm /etc/systemd/system/docker.service.d/$NAME.conf\n"
                "Restart=on-failure\nWorkingDirectory=$DESTDIR\n[Install]\n"
                "WantedBy=multi-user.target\n")


class Base(tc.CgroupTest):
    pass


# (the cases of test_cgroup.py are not run again here)
for _n in [n for n in dir(tc.CgroupTest) if n.startswith("test_")]:
    setattr(Base, _n, None)


@unittest.skipUnless(can_boot() and shutil.which("crun"),
                     "needs root, systemd-nspawn, systemd, runc, crun and umoci")
class CgroupAttackTest(Base):
    machine = "scatk"

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-cgattack-")
        cls.layout = os.path.join(cls.shared, "layout")
        tc.service_image(cls.layout, "fg", "fg 1", tc.FG_SERVICE)
        tc.service_image(cls.layout, "bg", "bg 1", None)
        tc.service_image(cls.layout, "flannel", "flannel 1", FLANNEL_LIKE)
        cls.boot()

    def container_pids(self, runtime, name):
        # (`runc ps --format json` prints null for a container that is
        # created or stopped: no processes)
        r = self.inside(runtime, "ps", "--format", "json", name, check=False)
        return set(json.loads(r.stdout) or []) if r.returncode == 0 and r.stdout.strip() else set()

    cgroups = {}

    def unit_cgroup(self, name):
        """Where systemd put the unit (not always /system.slice/NAME.service),
        as it said while the unit was active."""
        cgroup = self.show(name, "ControlGroup")
        if cgroup:
            self.cgroups[name] = cgroup
        return "/sys/fs/cgroup" + self.cgroups[name]

    def unit_pids(self, name):
        """Every PID in the unit's cgroup, recursively."""
        r = self.inside("find", self.unit_cgroup(name), "-name", "cgroup.procs",
                        "-exec", "cat", "{}", "+", check=False)
        return {int(p) for p in r.stdout.split()}

    def assert_in_unit(self, runtime, name):
        """Every process of the container is below the unit's own cgroup."""
        pids = self.wait_up(runtime, name)
        cgroup = self.unit_cgroup(name)[len("/sys/fs/cgroup"):]
        self.assertTrue(cgroup.startswith("/system.slice/"), cgroup)
        for pid in pids:
            cg = self.inside("cat", "/proc/%d/cgroup" % pid, check=False).stdout
            if cg:
                self.assertIn("0::%s/container\n" % cgroup, cg, "pid %d of %s" % (pid, name))
        self.assertLessEqual(pids, self.unit_pids(name))
        return pids

    def check_name(self, runtime, tag, name):
        self.install(runtime, tag, name)
        pids = self.assert_in_unit(runtime, name)
        self.ctl_rt(runtime, "stop", name)
        self.assert_nothing_left(runtime, name, pids)
        self.ctl_rt(runtime, "uninstall", name)

    # an instance name: systemd puts web@1.service in system-web.slice
    # Not fixed: runc 1.1 refuses a container id with '@' ("invalid
    # container ID format", its id must match [\\w+-.]+), which
    # sc_name_check() allows: the unit fails at every start.
    @unittest.expectedFailure
    def test_instance_name_runc(self):
        self.check_name("runc", "fg", "web@1")

    def test_instance_name_crun(self):
        self.check_name("crun", "fg", "web-x@1")

    def test_instance_name_crun_detached(self):
        self.check_name("crun", "bg", "web@2")

    # a controller's name: systemd's cgroup for cpu.service is _cpu.service
    def test_controller_name_runc(self):
        self.check_name("runc", "fg", "cpu")

    def test_controller_name_crun(self):
        self.check_name("crun", "bg", "memory")

    def check_failing_stoppost(self, runtime):
        """flannel's ExecStopPost= fails (its drop-in is not there); after a
        SIGKILL of the unit, the runtime's state must still be removed, or
        the next start fails with 'container with id exists'."""
        name = "cgflannel" + runtime
        self.install(runtime, "flannel", name)
        pids = self.assert_in_unit(runtime, name)
        self.inside("systemctl", "kill", "-s", "KILL", name + ".service", check=False)
        # (Restart=on-failure: systemd starts it again, which must work)
        self.wait_for("the old processes to end", lambda: not any(
            self.inside("test", "-e", "/proc/%d" % p, check=False).returncode == 0
            for p in pids))
        self.wait_for("systemd to restart " + name,
                      lambda: self.show(name, "NRestarts") not in ("", "0"))
        new = self.assert_in_unit(runtime, name)
        self.assertFalse(pids & new)
        self.assertEqual(self.show(name, "ActiveState"), "active")
        self.ctl_rt(runtime, "uninstall", name)
        self.assertNotIn(name, self.runtime_ids(runtime))

    def test_failing_template_stoppost_runc(self):
        self.check_failing_stoppost("runc")

    def test_failing_template_stoppost_crun(self):
        self.check_failing_stoppost("crun")


if __name__ == "__main__":
    unittest.main(verbosity=2)
