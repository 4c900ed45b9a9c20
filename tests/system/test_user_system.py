"""User containers (issue 17) under a real systemd (machine sc17-user): a
user made by the test in the machine, with subordinate ranges and
lingering (so user@UID.service runs without a login), installs from the
loopback registry with --user; the service runs under the user's
`systemctl --user`, the container's processes are the user's on the host
(/proc), its output is in the user's `journalctl --user -u NAME`; stop,
start, update (and --controlled, rolling back by itself), rollback and
uninstall work through the user's manager; nothing is written outside the
user's home, runtime directory and store (a listing of the machine's tree
before and after); root's container keeps running and root's store keeps
its refs; without --user a user gets the same; --system as the user and
--user as root are refused with atomic's messages."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402
from test_system import (CTL, RUNS, SERVICE_CONFIG, NspawnTest, can_boot,  # noqa: E402
                         service_image)
from test_deploy import SERVICE, build  # noqa: E402  (its path: test_system's)

USER = "sc17u"
OTHER = "sc17v"  # another user, who must not see or touch USER's containers
# the machine's tree, listed: what changes there for reasons not ours is
# left out (kernel and device trees, the read-only /usr and the bound
# build tree, the journal, systemd's and logind's own runtime state)
SNAPSHOT = r"""
import json, os, stat, sys
skip = set(sys.argv[1:])
out = {}
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
    for n in [""] + dirs + files:
        p = os.path.join(top, n)
        if p in skip:
            continue
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        # (a directory is listed by its entries, its times are not ours)
        out[p] = [st.st_mode, st.st_uid, st.st_gid] + (
            [] if stat.S_ISDIR(st.st_mode) else [st.st_size, st.st_mtime_ns])
print(json.dumps(out))
"""


@unittest.skipUnless(can_boot() and shutil.which("skopeo") and shutil.which("docker-registry")
                     and shutil.which("setpriv"),
                     "needs root, systemd-nspawn, systemd, runc, umoci, skopeo, docker-registry "
                     "and setpriv")
class UserSystemTest(NspawnTest):
    maxDiff = None
    machine = "sc17-user"
    # with --volatile=yes the machine's /etc has no PAM: user@UID.service
    # dies in it without these (TESTING.md)
    boot_args = ("--bind-ro=/etc/pam.d", "--bind-ro=/etc/security")

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-sc17-")
        cls.layout = os.path.join(cls.shared, "layout")
        service_image(cls.layout, "v1", "version 1")
        service_image(cls.layout, "v2", "version 2")
        # crun wants the mount points of /dev and /proc in the rootfs (runc
        # makes them; a read-only rootfs has no room for them)
        build(cls.layout, "crun", {"defaultValues": {"COMMAND": RUNS}},
              {"etc/version": "crun\n", "exports/config.json.template": SERVICE_CONFIG,
               "exports/service.template": SERVICE, "dev/.keep": "", "proc/.keep": ""},
              hostfs=False)
        # atomic's default unit: runc run -d, Type=forking with a PID file
        service_image(cls.layout, "default", "default unit", service=None)
        # exits at once: the default unit (Restart=on-failure) restarts it
        service_image(cls.layout, "broken", "broken", command="echo starting; exit 3",
                      service=None)
        cls.registry = rg.Registry(cls.shared)
        cls.repo_ref = cls.registry.host + "/users/svc"
        for tag in ("v1", "v2", "broken", "default", "crun"):
            il.run("skopeo", "copy", "--dest-tls-verify=false",
                   "oci:%s:%s" % (cls.layout, tag), "docker://%s:%s" % (cls.repo_ref, tag))
        # the registry speaks http: registries.conf says so, to root and user
        cls.regconf = os.path.join(cls.shared, "registries.conf")
        with open(cls.regconf, "w") as f:
            f.write('[[registry]]\nlocation = "%s"\ninsecure = true\n' % cls.registry.host)
        with open(os.path.join(cls.shared, "snapshot.py"), "w") as f:
            f.write(SNAPSHOT)
        subprocess.run(["chmod", "-R", "a+rX", cls.shared], check=True)
        try:
            cls.boot()
            cls.make_user()
        except BaseException:
            cls.registry.stop()
            if getattr(cls, "init", None):
                cls.shutdown()
            raise

    @classmethod
    def make_user(cls):
        def inside(*argv):
            r = subprocess.run(cls.enter(*argv), capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("%s: %s%s" % (" ".join(argv), r.stdout, r.stderr))
            return r.stdout
        for name in (USER, OTHER):
            inside("useradd", "-m", "-U", "-s", "/bin/sh", name)
            inside("loginctl", "enable-linger", name)
        cls.other_uid = int(inside("id", "-u", OTHER))
        cls.uid = int(inside("id", "-u", USER))
        cls.gid = int(inside("id", "-g", USER))
        cls.home = "/home/" + USER
        cls.runtime = "/run/user/%d" % cls.uid
        inside("sh", "-c", "echo %s:200000:65536 > /etc/subuid && "
               "echo %s:200000:65536 > /etc/subgid" % (USER, USER))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = subprocess.run(cls.enter("systemctl", "--user", "-M", USER + "@",
                                         "is-system-running"), capture_output=True, text=True)
            if r.stdout.strip() in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise RuntimeError("user@%d.service did not start: %s" % (cls.uid, inside(
            "systemctl", "status", "--no-pager", "user@%d.service" % cls.uid)))

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        super().tearDownClass()

    def env(self):
        env = ["HOME=" + self.home, "USER=" + USER, "LOGNAME=" + USER,
               "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "XDG_RUNTIME_DIR=" + self.runtime,
               "DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus" % self.runtime,
               "CONTAINERS_REGISTRIES_CONF=" + self.regconf]
        for k in ("SC_SIGNATURE_POLICY", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
                  "G_SLICE"):
            if k in os.environ:
                env.append("%s=%s" % (k, os.environ[k]))
        return env

    def user(self, *argv, check=True, timeout=300):
        """@argv as the user, with the environment of a login session."""
        return self.inside("setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                           "--init-groups", "--", "env", "-i", *self.env(), *argv,
                           check=check, timeout=timeout)

    def other(self, *args):
        """syscontainerctl @args as the other user, in their own session."""
        uid = self.other_uid
        env = [e for e in self.env() if not e.startswith(("HOME=", "USER=", "LOGNAME=",
                                                          "XDG_RUNTIME_DIR=", "DBUS_"))]
        return self.inside("setpriv", "--reuid", str(uid), "--regid", str(uid), "--init-groups",
                           "--", "env", "-i", *env, "HOME=/home/" + OTHER, "USER=" + OTHER,
                           "XDG_RUNTIME_DIR=/run/user/%d" % uid,
                           "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus" % uid, CTL,
                           *args, check=False)

    def uctl(self, *args, check=True):
        return self.user(CTL, *args, check=check)

    def rctl(self, *args, check=True):
        return self.inside("env", "CONTAINERS_REGISTRIES_CONF=" + self.regconf, CTL, *args,
                           check=check)

    def data(self, *rel):
        return os.path.join(self.home, ".local", "share", *rel)

    def unit_dir(self, *rel):
        return os.path.join(self.home, ".config", "systemd", "user", *rel)

    def user_state(self, name):
        """runc's state of the user's container @name, None when it has none."""
        r = self.user("runc", "--root", self.runtime + "/runc", "state", name, check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def is_active(self, name):
        return self.user("systemctl", "--user", "is-active", name + ".service",
                         check=False).stdout.strip()

    def wait_running(self, name):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = self.user_state(name)
            if state and state["status"] == "running" and self.is_active(name) == "active":
                return state
            time.sleep(0.3)
        self.fail("%s never ran: %s" % (name, self.user(
            "systemctl", "--user", "status", "--no-pager", name + ".service", check=False).stdout))

    def version_in(self, name):
        return self.uctl("run", name, "/bin/busybox", "cat", "/etc/version").stdout

    def proc(self, pid, what):
        return self.inside("cat", "/proc/%d/%s" % (pid, what)).stdout

    def snapshot(self):
        skip = ["/proc", "/sys", "/dev", "/usr", os.path.dirname(os.path.dirname(CTL)),
                self.shared, self.home, self.runtime, "/tmp",
                # the journal (the units' output, both places journald may keep it)
                "/var/log/journal", "/run/log/journal",
                # systemd's and logind's state of units, sessions and users
                "/run/systemd", "/var/lib/systemd",
                # touched by systemd's agetty units when interfaces change
                "/run/agetty.reload",
                # podman's containers-storage (its layers.lock is touched by
                # podman's own units in the machine); this tool never uses it
                "/var/lib/containers/storage"]
        policy = os.environ.get("SC_SIGNATURE_POLICY")
        if policy:
            skip.append(os.path.dirname(policy))
        return json.loads(self.inside("python3", os.path.join(self.shared, "snapshot.py"),
                                      *skip).stdout)

    def root_runc_state(self, name):
        r = self.inside("runc", "state", name, check=False)
        return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    def root_refs(self):
        store = json.loads(self.rctl("--json", "info").stdout)["store"]["path"]
        return self.inside("ostree", "refs", "--repo=" + store).stdout

    def assert_user_process(self, pid, name):
        """@pid: the user's on the host, in the user's manager's cgroups."""
        uids = [ln.split()[1:] for ln in self.proc(pid, "status").splitlines()
                if ln.startswith("Uid:")]
        self.assertEqual(uids, [[str(self.uid)] * 4], pid)
        cgroup = [ln for ln in self.proc(pid, "cgroup").splitlines() if ln.startswith("0::")]
        self.assertEqual(len(cgroup), 1, cgroup)
        self.assertTrue(cgroup[0].startswith("0::/user.slice/user-%d.slice/user@%d.service/"
                                             % (self.uid, self.uid)), cgroup)
        return cgroup[0][3:]

    def test_refusals(self):
        before = self.snapshot()
        r = self.uctl("--system", "install", "--name", "nope", self.repo_ref + ":v1",
                      check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: Only root can use --system\n"))
        r = self.rctl("--user", "install", "--name", "nope", self.repo_ref + ":v1", check=False)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: --user does not work for privileged "
                             "user\n"))
        for path in (self.data("containers", "atomic", "nope"), self.unit_dir("nope.service"),
                     "/var/lib/containers/atomic/nope", "/etc/systemd/system/nope.service"):
            self.assertNotEqual(self.inside("test", "-e", path, check=False).returncode, 0, path)
        self.assertEqual(before, self.snapshot())

    def test_without_user_is_user_mode(self):
        """A user's install without --user: the user's places and systemd."""
        self.addCleanup(self.uctl, "uninstall", "plain", check=False)
        self.assertEqual(self.uctl("install", "--now", "--name", "plain",
                                   self.repo_ref + ":v1").stdout, "plain\n")
        state = self.wait_running("plain")
        self.assertEqual(state["bundle"], self.data("containers", "atomic", "plain.0"))
        self.assert_user_process(state["pid"], "plain")
        self.assertEqual(self.user("systemctl", "--user", "is-enabled", "plain.service").stdout,
                         "enabled\n")
        self.assertEqual(self.inside("test", "-e", self.unit_dir("plain.service")).returncode, 0)
        # root's systemd knows nothing of it
        self.assertEqual(self.inside("systemctl", "is-active", "plain.service",
                                     check=False).stdout, "inactive\n")
        self.assertEqual(self.version_in("plain"), "version 1\n")
        # another user neither sees nor touches it (nor does root's list)
        r = self.other("--json", "list", "--all")
        self.assertEqual((r.returncode, json.loads(r.stdout)["containers"]), (0, []), r.stderr)
        self.assertNotIn("plain", self.rctl("list", "--all").stdout)
        # (uninstall of what is not installed only warns, as atomic)
        # (rollback and update: the other user has no checkout root at all)
        for verb, code, level in (("stop", 1, "error"), ("uninstall", 0, "warning"),
                                  ("rollback", 1, "error"), ("update", 1, "error")):
            r = self.other(verb, "plain")
            self.assertEqual((r.returncode, r.stderr), (code, "syscontainerctl: %s: container "
                                                        "plain is not installed\n" % level), verb)
        self.assertEqual(self.wait_running("plain")["pid"], state["pid"])
        self.uctl("uninstall", "plain")
        self.assertIsNone(self.user_state("plain"))
        self.assertEqual(self.is_active("plain"), "inactive")

    def test_default_unit(self):
        """atomic's default unit (runc run -d, a PID file) under the user's
        manager: the container is the unit's main process, in its cgroup."""
        self.addCleanup(self.uctl, "uninstall", "dflt", check=False)
        self.uctl("install", "--now", "--name", "dflt", self.repo_ref + ":default")
        state = self.wait_running("dflt")
        main = int(self.user("systemctl", "--user", "show", "-p", "MainPID", "--value",
                             "dflt.service").stdout)
        self.assertEqual(main, state["pid"])
        cgroup = self.assert_user_process(state["pid"], "dflt")
        self.assertRegex(cgroup, r"^/user\.slice/.*/dflt\.service/container$")
        self.assertEqual(self.version_in("dflt"), "default unit\n")
        self.uctl("uninstall", "dflt")
        self.assertIsNone(self.user_state("dflt"))

    @unittest.skipUnless(shutil.which("crun"), "needs crun")
    def test_crun(self):
        """crun (which takes a cgroupsPath as absolute): none in config.json,
        the container in the cgroup crun runs in, the unit's."""
        self.addCleanup(self.uctl, "--runtime", "/usr/bin/crun", "uninstall", "ucrun",
                        check=False)
        self.uctl("--runtime", "/usr/bin/crun", "install", "--now", "--name", "ucrun",
                  self.repo_ref + ":crun")
        config = json.loads(self.user("cat", self.data("containers", "atomic", "ucrun.0",
                                                       "config.json")).stdout)
        self.assertNotIn("cgroupsPath", config["linux"])
        deadline = time.monotonic() + 30
        while self.is_active("ucrun") != "active" and time.monotonic() < deadline:
            time.sleep(0.3)
        r = self.user("crun", "--root", self.runtime + "/crun", "state", "ucrun", check=False)
        self.assertEqual(r.returncode, 0, r.stderr + self.user(
            "journalctl", "--user", "--no-pager", "-u", "ucrun.service", check=False).stdout)
        state = json.loads(r.stdout)
        self.assertEqual(state["status"], "running")
        cgroup = self.assert_user_process(state["pid"], "ucrun")
        self.assertTrue(cgroup.endswith("/ucrun.service"), cgroup)
        self.assertEqual(self.uctl("--runtime", "/usr/bin/crun", "run", "ucrun", "/bin/busybox",
                                   "cat", "/etc/version").stdout, "crun\n")
        self.uctl("--runtime", "/usr/bin/crun", "uninstall", "ucrun")
        self.assertEqual(self.is_active("ucrun"), "inactive")

    def test_lifecycle(self):
        # root's container first: it runs through all of the user's
        self.addCleanup(self.rctl, "uninstall", "rootsvc", check=False)
        self.rctl("install", "--now", "--name", "rootsvc", self.repo_ref + ":v1")
        deadline = time.monotonic() + 30  # (runc's files change until it runs)
        while self.root_runc_state("rootsvc") != "running" and time.monotonic() < deadline:
            time.sleep(0.3)
        refs = self.root_refs()
        self.assertNotEqual(refs, "")
        before = self.snapshot()
        self.addCleanup(self.uctl, "uninstall", "usvc", check=False)

        self.assertEqual(self.uctl("--user", "install", "--now", "--name", "usvc",
                                   self.repo_ref + ":v1").stdout, "usvc\n")
        state = self.wait_running("usvc")
        self.assertEqual(self.user("systemctl", "--user", "is-enabled", "usvc.service").stdout,
                         "enabled\n")
        self.assertEqual(state["bundle"], self.data("containers", "atomic", "usvc.0"))
        # the container's init, its runtime (the unit's main process): the user's
        main = int(self.user("systemctl", "--user", "show", "-p", "MainPID", "--value",
                             "usvc.service").stdout)
        unit_cgroup = self.assert_user_process(main, "usvc")
        self.assertTrue(unit_cgroup.endswith("/usvc.service"), unit_cgroup)
        # (the unit's cgroup, delegated to the user: systemd stops all of it)
        self.assertEqual(self.assert_user_process(state["pid"], "usvc"),
                         unit_cgroup + "/container")
        # the user as root inside; the subordinate range too, through
        # newuidmap (package uidmap) when the machine has it
        mapped = ["0", str(self.uid), "1"]
        if self.inside("test", "-x", "/usr/bin/newuidmap", check=False).returncode == 0:
            mapped += ["1", "200000", "65536"]
        self.assertEqual(self.proc(state["pid"], "uid_map").split(), mapped)
        self.assertEqual(self.version_in("usvc"), "version 1\n")
        # its output: the user's journal, and the system's under its user unit
        journal = self.user("journalctl", "--user", "--no-pager", "-o", "cat", "-u",
                            "usvc.service").stdout
        self.assertIn("version 1\n", journal)
        journal = self.inside("journalctl", "--no-pager", "-o", "cat", "_UID=%d" % self.uid,
                              "_SYSTEMD_USER_UNIT=usvc.service").stdout
        self.assertIn("version 1\n", journal)
        # root sees none of it
        self.assertNotIn("usvc", self.rctl("list", "--all").stdout)

        # stop, start through the user's manager
        self.uctl("stop", "usvc")
        self.assertEqual(self.is_active("usvc"), "inactive")
        self.assertIsNone(self.user_state("usvc"))
        self.uctl("start", "usvc")
        self.wait_running("usvc")

        # update to the new tag: restarted, the new version runs
        out = json.loads(self.uctl("--json", "update", "--rebase", self.repo_ref + ":v2",
                                   "usvc").stdout)
        self.assertTrue(out["updated"] and out["restarted"], out)
        self.assertEqual(out["deployment"], self.data("containers", "atomic", "usvc.1"))
        self.wait_running("usvc")
        self.assertEqual(self.version_in("usvc"), "version 2\n")
        # rollback to the first deployment
        self.uctl("rollback", "usvc")
        self.assertEqual(self.user("readlink", self.data("containers", "atomic", "usvc")).stdout,
                         self.data("containers", "atomic", "usvc.0") + "\n")
        self.wait_running("usvc")
        self.assertEqual(self.version_in("usvc"), "version 1\n")

        # a controlled update to a broken image rolls back by itself (to
        # the other slot: after it, rollback would go to the broken one)
        r = self.uctl("update", "--controlled", "--settle", "3", "--rebase",
                      self.repo_ref + ":broken", "usvc", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("container usvc did not stay running after the update to", r.stderr)
        self.assertIn("rolled back to %s, which is running"
                      % self.data("containers", "atomic", "usvc.0"), r.stderr,
                      self.user("journalctl", "--user", "--no-pager", "-u", "usvc.service",
                                check=False).stdout)
        self.wait_running("usvc")
        self.assertEqual(self.version_in("usvc"), "version 1\n")
        # uninstall: nothing left in the user's systemd, runc or files
        self.uctl("uninstall", "usvc")
        self.assertIsNone(self.user_state("usvc"))
        self.assertEqual(self.is_active("usvc"), "inactive")
        r = self.user("systemctl", "--user", "is-enabled", "usvc.service", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertIn("usvc.service", r.stderr)
        for path in (self.unit_dir("usvc.service"), self.unit_dir("default.target.wants",
                                                                  "usvc.service"),
                     self.data("containers", "atomic", "usvc"), self.data("usvc")):
            self.assertNotEqual(self.inside("test", "-e", path, check=False).returncode, 0, path)
        self.assertEqual(self.user("ls", "-A", self.data("containers", "atomic")).stdout,
                         "repo\n")

        # outside the user's home and runtime directory: as it was
        after = self.snapshot()
        self.assertEqual({p: v for p, v in after.items() if before.get(p) != v},
                         {p: v for p, v in before.items() if after.get(p) != v})
        # root's container still runs, root's store has the same refs
        self.assertEqual(self.root_runc_state("rootsvc"), "running")
        self.assertEqual(self.inside("systemctl", "is-active", "rootsvc.service").stdout,
                         "active\n")
        self.assertEqual(self.root_refs(), refs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
