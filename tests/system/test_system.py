"""The system suite: a real systemd (PID 1) booted with systemd-nspawn over
the host's own tree (a fresh tmpfs /etc and /var, so nothing reaches the
host), and containers installed in it, started by systemd and run by runc.
Covers what needs a running systemd: install --now, start/stop, run (exec
into the running container), update restarting only what was running,
update --controlled rolling back from a broken image, update --all, and
uninstall leaving nothing behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "deploy"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import SERVICE, build  # noqa: E402

CTL = os.path.realpath(os.environ["SYSCONTAINERCTL"])
BUILD_DIR = os.path.dirname(os.path.dirname(CTL))

# a service: says which version it is, then stays up
SERVICE_CONFIG = """{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
              "args": ["/bin/sh", "-c", "$COMMAND"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]}
}
"""
# (sh as PID 1 ignores SIGTERM unless it traps it)
RUNS = ("trap 'exit 0' TERM; /bin/busybox cat /etc/version; "
        "while true; do /bin/busybox sleep 1 & wait $!; done")


def service_image(layout, tag, version, command=RUNS, service=SERVICE):
    build(layout, tag, {"defaultValues": {"COMMAND": command}},
          {"etc/version": version + "\n", "exports/config.json.template": SERVICE_CONFIG,
           "exports/service.template": service}, hostfs=False)


def find_init(nspawn_pid):
    """The container's systemd: a process named systemd below nspawn."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % entry) as f:
                if f.read().strip() != "systemd":
                    continue
            pid = int(entry)
            while pid > 1:
                with open("/proc/%d/stat" % pid) as f:
                    pid = int(f.read().rsplit(")", 1)[1].split()[1])
                if pid == nspawn_pid:
                    return int(entry)
        except (OSError, ValueError, IndexError):
            continue
    return None


def can_boot():
    return (os.getuid() == 0 and shutil.which("systemd-nspawn") and shutil.which("runc")
            and shutil.which("umoci") and os.path.exists("/lib/systemd/systemd"))


def policy_bind():
    """The tests' signature policy (SC_SIGNATURE_POLICY, tests/meson.build)
    seen at the same path inside the machine."""
    policy = os.environ.get("SC_SIGNATURE_POLICY")
    return ["--bind-ro=%s" % os.path.dirname(policy)] if policy else []


class NspawnTest(unittest.TestCase):
    """A systemd booted in systemd-nspawn for a test class (no tests of its
    own): boot() in setUpClass, shutdown() in tearDownClass; cls.shared is
    bound into it; @machine: the nspawn machine name; @boot_args: more
    systemd-nspawn options of a test class."""
    machine = None
    boot_args = ()

    @classmethod
    def boot(cls):
        nspawn_dir = "/run/systemd/nspawn"
        os.makedirs(nspawn_dir, exist_ok=True)
        if subprocess.run(["mountpoint", "-q", nspawn_dir]).returncode != 0:
            il.run("mount", "-t", "tmpfs", "tmpfs", nspawn_dir)
        env = dict(os.environ, SYSTEMD_SECCOMP="0", SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        cls.log = open(os.path.join(cls.shared, "nspawn.log"), "w")
        cls.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--keep-unit", "--register=no", "--capability=all",
             "--volatile=yes", "-D", "/", "-M", cls.machine or "sctest%d" % os.getpid(),
             "--bind=%s" % BUILD_DIR, "--bind=%s" % cls.shared, *policy_bind(), *cls.boot_args, "-b",
             "systemd.firstboot=off",
             # podman's units want network-online.target: without the mask
             # the boot waits minutes for it (TESTING.md)
             "systemd.mask=systemd-networkd-wait-online.service"],
            env=env, stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 90
        cls.init = None
        while time.monotonic() < deadline:
            if cls.nspawn.poll() is not None:
                break
            cls.init = cls.init or find_init(cls.nspawn.pid)
            if cls.init:
                r = subprocess.run(cls.enter("systemctl", "is-system-running"),
                                   capture_output=True, text=True)
                if r.stdout.strip() in ("running", "degraded"):
                    return
            time.sleep(0.5)
        cls.shutdown()
        with open(os.path.join(cls.shared, "nspawn.log")) as f:
            raise RuntimeError("systemd did not boot in systemd-nspawn: " + f.read()[-2000:])

    @classmethod
    def enter(cls, *argv):
        return ["nsenter", "-t", str(cls.init), "-a", *argv]

    @classmethod
    def shutdown(cls):
        # the container's init first: its PID namespace, runc's containers
        # included, dies with it (killing nspawn alone would orphan them)
        if cls.init:
            os.kill(cls.init, signal.SIGKILL)
        try:
            cls.nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cls.nspawn.pid, signal.SIGKILL)
            cls.nspawn.wait()
        cls.log.close()

    @classmethod
    def tearDownClass(cls):
        cls.shutdown()
        shutil.rmtree(cls.shared)

    def inside(self, *argv, check=True, timeout=120):
        r = subprocess.run(self.enter(*argv), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            self.fail("%s: exit %d: %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def ctl(self, *args, check=True):
        return self.inside(CTL, *args, check=check)


@unittest.skipUnless(can_boot(), "needs root, systemd-nspawn, systemd, runc and umoci")
class SystemTest(NspawnTest):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-system-")
        cls.layout = os.path.join(cls.shared, "layout")
        service_image(cls.layout, "v1", "version 1")
        service_image(cls.layout, "v2", "version 2")
        # broken, with the default unit (Restart=on-failure: systemd restarts it)
        service_image(cls.layout, "broken", "broken", command="echo starting; exit 3",
                      service=None)
        # its process does not exist: the runtime fails at once, so does the start
        build(cls.layout, "nobin", {},
              {"etc/version": "nobin\n",
               "exports/config.json.template": SERVICE_CONFIG.replace(
                   '"/bin/sh", "-c", "$COMMAND"', '"/no/such/program"'),
               "exports/service.template": None}, hostfs=False)
        cls.boot()

    def state(self, name):
        listing = json.loads(self.ctl("--json", "list", "--all").stdout)["containers"]
        return {c["name"]: c for c in listing}[name]["state"]

    def runc_state(self, name):
        r = self.inside("runc", "state", name, check=False)
        return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    def wait_running(self, name):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.runc_state(name) == "running":
                return
            time.sleep(0.2)
        self.fail("%s never ran: %s" % (name, self.inside("systemctl", "status", name + ".service",
                                                           check=False).stdout))

    def version_in(self, name):
        """What the running container says it is (runc exec through run)."""
        return self.ctl("run", name, "/bin/busybox", "cat", "/etc/version").stdout

    def test_rootfs_through_the_current_slot_link(self):
        """install --rootfs CHECKOUT/NAME (the link to NAME's current slot):
        runc, started by systemd, accepts the recorded root (issue 13)."""
        image = "oci:%s:v1" % self.layout
        self.addCleanup(self.ctl, "uninstall", "base", check=False)
        self.addCleanup(self.ctl, "uninstall", "over", check=False)
        self.ctl("install", "--name", "base", image)
        self.assertEqual(self.ctl("install", "--now", "--name", "over", "--rootfs",
                                  "/var/lib/containers/atomic/base", image).stdout, "over\n")
        self.wait_running("over")
        self.assertEqual(self.version_in("over"), "version 1\n")
        config = json.loads(self.inside("cat", "/var/lib/containers/atomic/over.0/config.json")
                            .stdout)
        # the root as recorded has no link in it (runc refuses one)
        root = config["root"]["path"]
        self.assertEqual(root, "/var/lib/containers/atomic/base.0/rootfs")
        self.assertEqual(self.inside("readlink", "-f", root).stdout, root + "\n")

    def test_lifecycle(self):
        image = "oci:%s:v1" % self.layout
        self.addCleanup(self.ctl, "uninstall", "svc", check=False)
        self.assertEqual(self.ctl("install", "--now", "--name", "svc", image).stdout, "svc\n")
        self.wait_running("svc")
        self.assertEqual(self.state("svc"), "running")
        self.assertEqual(self.inside("systemctl", "is-enabled", "svc.service").stdout, "enabled\n")
        self.assertEqual(self.version_in("svc"), "version 1\n")
        journal = self.inside("journalctl", "-u", "svc.service", "-o", "cat").stdout
        self.assertIn("version 1", journal)

        # stop and start through systemd
        self.ctl("stop", "svc")
        self.assertEqual(self.state("svc"), "inactive")
        self.assertIsNone(self.runc_state("svc"))
        # (as atomic: a stopped container is listed with --all only)
        self.assertEqual(json.loads(self.ctl("--json", "list").stdout)["containers"], [])
        self.assertRegex(self.ctl("list", "--all").stdout, r"\nsvc +\S+ +\w+ +\S+ \S+ \w+ +inactive ")
        self.ctl("start", "svc")
        self.wait_running("svc")
        # as atomic, run without a command starts the service (and exec's into it with one)
        self.ctl("stop", "svc")
        self.assertEqual(self.ctl("run", "svc").stdout, "")
        self.wait_running("svc")
        self.assertEqual(self.state("svc"), "running")

        # an update of a running container restarts it
        out = json.loads(self.ctl("--json", "update", "--rebase", "oci:%s:v2" % self.layout,
                                  "svc").stdout)
        self.assertTrue(out["updated"] and out["restarted"])
        self.assertEqual(out["deployment"], "/var/lib/containers/atomic/svc.1")
        self.wait_running("svc")
        self.assertEqual(self.version_in("svc"), "version 2\n")

        # a controlled update to a broken image rolls back by itself
        r = self.ctl("update", "--controlled", "--settle", "3", "--rebase",
                     "oci:%s:broken" % self.layout, "svc", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("container svc did not stay running after the update to", r.stderr)
        self.assertIn("rolled back to /var/lib/containers/atomic/svc.1, which is running",
                      r.stderr)
        self.assertEqual(self.inside("readlink", "/var/lib/containers/atomic/svc").stdout,
                         "/var/lib/containers/atomic/svc.1\n")
        self.wait_running("svc")
        self.assertEqual(self.state("svc"), "running")
        self.assertEqual(self.version_in("svc"), "version 2\n")
        # the broken deployment's unit was the one that ran and failed
        # (exit 3, or gone before systemd read its PID file: the timing decides)
        self.assertRegex(self.inside("journalctl", "-u", "svc.service", "-o", "cat").stdout,
                         r"status=3/NOTIMPLEMENTED|Failed with result 'protocol'")

        # a stopped container stays stopped through an update
        self.ctl("stop", "svc")
        out = json.loads(self.ctl("--json", "update", "--rebase", image, "svc").stdout)
        self.assertTrue(out["updated"])
        self.assertFalse(out["restarted"])
        self.assertEqual(self.state("svc"), "inactive")
        self.ctl("start", "svc")
        self.wait_running("svc")
        self.assertEqual(self.version_in("svc"), "version 1\n")

        # uninstall: nothing left, in systemd, runc or the files
        self.ctl("uninstall", "svc")
        self.assertIsNone(self.runc_state("svc"))
        self.assertEqual(self.inside("systemctl", "is-active", "svc.service",
                                     check=False).stdout, "inactive\n")
        self.assertEqual(self.inside("ls", "-A", "/var/lib/containers/atomic").stdout,
                         ".storage\n")
        for path in ("/etc/systemd/system/svc.service", "/etc/tmpfiles.d/svc.conf",
                     "/etc/systemd/system/multi-user.target.wants/svc.service"):
            self.assertNotEqual(self.inside("test", "-e", path, check=False).returncode, 0, path)

    def test_install_now_that_cannot_start_is_undone(self):
        r = self.ctl("install", "--now", "--name", "nobin", "oci:%s:nobin" % self.layout,
                     check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("systemctl start nobin.service failed", r.stderr)
        self.assertEqual(self.inside("ls", "-A", "/var/lib/containers/atomic").stdout,
                         ".storage\n")
        for path in ("/etc/systemd/system/nobin.service", "/etc/tmpfiles.d/nobin.conf",
                     "/etc/systemd/system/multi-user.target.wants/nobin.service"):
            self.assertNotEqual(self.inside("test", "-e", path, check=False).returncode, 0, path)
        self.assertIn(self.inside("systemctl", "is-active", "nobin.service", check=False).stdout,
                      ("inactive\n", "failed\n"))
        self.assertIsNone(self.runc_state("nobin"))

    def test_update_all_controlled(self):
        for tag in ("v1", "v2", "broken"):
            self.ctl("pull", "oci:%s:%s" % (self.layout, tag))
        for name in ("alpha", "beta"):
            self.addCleanup(self.ctl, "uninstall", name, check=False)
            self.ctl("images", "tag", "oci:%s:v1" % self.layout, "localhost/%s:latest" % name)
            self.ctl("install", "--now", "--name", name, "localhost/%s:latest" % name)
        self.wait_running("alpha")
        self.wait_running("beta")
        # new images under the names they were installed from: a good one, a broken one
        self.ctl("images", "tag", "oci:%s:v2" % self.layout, "localhost/alpha:latest")
        self.ctl("images", "tag", "oci:%s:broken" % self.layout, "localhost/beta:latest")
        r = self.ctl("--json", "update", "--all", "--settle", "3", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        entries = {c["name"]: c for c in json.loads(r.stdout)["containers"]}
        self.assertEqual(sorted(entries), ["alpha", "beta"])
        self.assertTrue(entries["alpha"]["updated"] and entries["alpha"]["restarted"])
        self.assertNotIn("error", entries["alpha"])
        self.assertFalse(entries["beta"]["updated"])
        self.assertTrue(entries["beta"]["rolled_back"])
        self.assertIn("rolled back to /var/lib/containers/atomic/beta.0", entries["beta"]["error"])
        self.wait_running("alpha")
        self.wait_running("beta")
        self.assertEqual(self.version_in("alpha"), "version 2\n")
        self.assertEqual(self.version_in("beta"), "version 1\n")
        # a second run: alpha is up to date, beta fails again and stays on version 1
        r = self.ctl("update", "--all", "--settle", "2", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("alpha: latest version already installed\n", r.stdout)
        self.assertIn("beta: container beta did not stay running after the update to", r.stdout)
        self.assertRegex(r.stdout, r"\(beta.service (is|did not start:) [^\n]*\): rolled back to "
                         r"/var/lib/containers/atomic/beta.0, which is running\n")
        self.ctl("uninstall", "alpha", "beta")


if __name__ == "__main__":
    unittest.main(verbosity=2)
