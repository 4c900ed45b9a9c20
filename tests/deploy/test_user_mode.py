"""User containers (issue 17): a throwaway account pulls and installs from
an oci: layout with the built CLI, without root; its store is bare-user,
its files its own, nothing is written outside its home and runtime
directory, config.json is rootless and the unit is for the user's systemd.
The refusals of --system as a user and --user as root. The user's systemd
itself (systemctl --user start, journalctl --user) is the system test's."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
PROBE = """{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
              "args": ["/bin/sh", "-c", "echo $$NAME > /data/ran; exec /bin/busybox sleep 317"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
             {"destination": "/data", "type": "bind", "source": "${STATE_DIRECTORY}/$NAME",
              "options": ["rbind", "rw"]}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
            "resources": {"memory": {"limit": 100000000}},
            "cgroupsPath": "/system.slice/x"}
}
"""
ROOT_DIRS = ["/var/lib/containers", "/etc/systemd/system", "/etc/tmpfiles.d", "/ostree"]


def snapshot(paths):
    """path -> (mode, uid, size, mtime) of everything under @paths."""
    out = {}
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(top):
            for n in [""] + dirnames + filenames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                # (a directory's times follow the processes outside this
                # test; what the user might add to it is listed by name)
                out[p] = (st.st_mode, st.st_uid) + (
                    () if stat.S_ISDIR(st.st_mode) else (st.st_size, st.st_mtime_ns))
    return out


def readable_by_all(path):
    """@path and its parents reachable by another user."""
    while path != "/":
        os.chmod(path, os.stat(path).st_mode | 0o755)
        path = os.path.dirname(path)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("useradd")
                     and shutil.which("setpriv"), "needs root, umoci, useradd and setpriv")
class UserModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.name = "scu%d" % os.getpid()
        il.run("useradd", "-m", "-s", "/bin/sh", cls.name)
        pw = pwd.getpwnam(cls.name)
        cls.uid, cls.gid, cls.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        cls.runtime = tempfile.mkdtemp(prefix="sc-xdg-run-")
        os.chown(cls.runtime, cls.uid, cls.gid)
        os.chmod(cls.runtime, 0o700)
        cls.shared = tempfile.mkdtemp(prefix="sc-user-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}}, hostfs=False)
        build(cls.layout, "probe", {}, {"exports/config.json.template": PROBE}, hostfs=True)
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n"}, hostfs=False)
        cls.modes_image(cls.layout)
        readable_by_all(cls.shared)
        subprocess.run(["chmod", "-R", "a+rX", cls.shared], check=True)
        readable_by_all(os.path.dirname(os.path.realpath(CTL)))
        cls.image = "oci:%s:v1" % cls.layout

    @staticmethod
    def modes_image(layout):
        """v1 with what a user cannot give a file: a read-only directory, an
        unreadable file, a setuid file, another owner."""
        bundle = os.path.join(os.path.dirname(layout), "bundle-modes")
        il.run("umoci", "unpack", "--image", "%s:v1" % layout, bundle)
        root = os.path.join(bundle, "rootfs")
        os.makedirs(os.path.join(root, "srv", "ro"))
        for rel, mode, uid in (("srv/ro/inside", 0o644, 0), ("srv/secret", 0o000, 0),
                               ("srv/suid", 0o4755, 0), ("srv/owned", 0o640, 123)):
            with open(os.path.join(root, rel), "w") as f:
                f.write(rel + "\n")
            os.chown(os.path.join(root, rel), uid, uid)
            os.chmod(os.path.join(root, rel), mode)
        os.chmod(os.path.join(root, "srv", "ro"), 0o555)
        il.run("umoci", "repack", "--image", "%s:modes" % layout, bundle)
        shutil.rmtree(bundle)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["userdel", "-r", cls.name], capture_output=True)
        shutil.rmtree(cls.runtime, ignore_errors=True)
        shutil.rmtree(cls.shared)

    def env(self, **extra):
        env = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name,
               "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "XDG_RUNTIME_DIR": self.runtime,
               "SC_SIGNATURE_POLICY": os.environ["SC_SIGNATURE_POLICY"]}
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "G_SLICE"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def as_user(self, *args, env=None, check=True):
        r = subprocess.run(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                            "--init-groups", "--", CTL, *args], capture_output=True, text=True,
                           env=env or self.env(), cwd="/", timeout=300)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s as %s: %s" % (" ".join(args), self.name, r.stderr))
        return r

    def data(self, *rel):
        return os.path.join(self.home, ".local", "share", *rel)

    def test_refusals(self):
        r = self.as_user("--system", "images", "list", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: Only root can use --system")
        r = subprocess.run([CTL, "--user", "images", "list"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip(),
                         "syscontainerctl: error: --user does not work for privileged user")
        r = self.as_user("--user", "--system", "list", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--system and --user cannot be used together", r.stderr)
        # no runtime directory: named, and nothing made
        r = self.as_user("images", "list", env=self.env(XDG_RUNTIME_DIR=None), check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("user containers: $XDG_RUNTIME_DIR is not set", r.stderr)
        # root's store, named by the environment: refused before it is read
        roots = tempfile.mkdtemp(prefix="sc-roots-")
        os.chmod(roots, 0o755)
        self.addCleanup(shutil.rmtree, roots)
        for verb in (["images", "list"], ["list"], ["pull", self.image]):
            for var in ("ATOMIC_OSTREE_CHECKOUT_PATH", "ATOMIC_OSTREE_REPO"):
                r = self.as_user(*verb, env=self.env(**{var: roots}), check=False)
                self.assertEqual(r.returncode, 1, (verb, var, r.stderr))
                self.assertEqual(r.stderr.strip(), "syscontainerctl: error: user containers: %s "
                                 "belongs to uid 0, not to you (uid %d): a user uses only a store "
                                 "and checkout root of their own" % (roots, self.uid))
                self.assertEqual(os.listdir(roots), [])
        # one not made yet, in root's directory: the directory is named
        r = self.as_user("pull", self.image, env=self.env(
            ATOMIC_OSTREE_REPO=os.path.join(roots, "new", "repo")), check=False)
        self.assertEqual((r.returncode, r.stderr.strip()), (1, (
            "syscontainerctl: error: user containers: %s belongs to uid 0, not to you (uid %d): "
            "a user uses only a store and checkout root of their own" % (roots, self.uid))))
        # nor through a link of the user's own to it
        link = os.path.join(self.runtime, "link-to-root")
        os.symlink(roots, link)
        self.addCleanup(os.unlink, link)
        for var in ("ATOMIC_OSTREE_CHECKOUT_PATH", "ATOMIC_OSTREE_REPO", "XDG_DATA_HOME"):
            r = self.as_user("pull", self.image, env=self.env(**{var: link}), check=False)
            self.assertEqual(r.returncode, 1, (var, r.stderr))
            self.assertIn("belongs to uid 0, not to you (uid %d)" % self.uid, r.stderr)
            self.assertEqual(os.listdir(roots), [])

    def test_install_as_user(self):
        before = snapshot([d for d in ROOT_DIRS if os.path.exists(d)])
        self.as_user("pull", self.image)
        repo = self.data("containers", "atomic", "repo")
        with open(os.path.join(repo, "config")) as f:
            self.assertIn("mode=bare-user\n", f.read())
        info = json.loads(self.as_user("--json", "info").stdout)
        self.assertEqual((info["mode"], info["unit_dir"], info["checkout_root"],
                          info["store"]["path"]),
                         ("user", os.path.join(self.home, ".config", "systemd", "user"),
                          self.data("containers", "atomic"), repo))
        self.as_user("install", "--name", "web", self.image)
        # without --user, a user's install is the same thing: the same places
        r = self.as_user("--json", "list")
        names = [c.get("name") for c in json.loads(r.stdout).get("containers", [])]
        self.assertEqual(names, ["web"], r.stdout)
        # every file of the user's tree is theirs
        for top in (self.data("containers"), os.path.join(self.home, ".config")):
            for dirpath, dirnames, filenames in os.walk(top):
                for n in [""] + dirnames + filenames:
                    st = os.lstat(os.path.join(dirpath, n))
                    self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid),
                                     os.path.join(dirpath, n))
        # the rootfs: hardlinks into the store, the user's, readable
        busybox = self.data("containers", "atomic", "web.0", "rootfs", "bin", "busybox")
        st = os.stat(busybox)
        self.assertGreater(st.st_nlink, 1)
        self.assertEqual(st.st_uid, self.uid)
        self.assertEqual(st.st_mode & 0o500, 0o500)
        # the recorded owner stays root's (bare-user xattr)
        meta = os.getxattr(busybox, "user.ostreemeta")
        self.assertEqual(meta[:8], b"\0" * 8)
        # config.json: the user namespace, the caller as root inside
        with open(self.data("containers", "atomic", "web.0", "config.json")) as f:
            spec = json.load(f)
        types = [n["type"] for n in spec["linux"]["namespaces"]]
        self.assertIn("user", types)
        for key, host_id, sub, helper in (("uidMappings", self.uid, "/etc/subuid", "newuidmap"),
                                          ("gidMappings", self.gid, "/etc/subgid", "newgidmap")):
            expected = [{"containerID": 0, "hostID": host_id, "size": 1}]
            ranges = []
            if os.path.exists(sub):
                with open(sub) as f:
                    ranges = [ln.strip().split(":") for ln in f if ln.startswith(self.name + ":")]
            # the subordinate range only through the helper runc needs for it
            if ranges and shutil.which(helper, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"):
                expected.append({"containerID": 1, "hostID": int(ranges[0][1]),
                                 "size": int(ranges[0][2])})
            self.assertEqual(spec["linux"][key], expected, key)
        self.assertNotIn("resources", spec["linux"])
        data = [m for m in spec["mounts"] if m["destination"] == "/data"][0]
        self.assertEqual(data["source"], self.data("containers", "atomic-state", "web"))
        self.assertIn("nosuid", data["options"])
        self.assertIn("nodev", data["options"])
        # the unit: the user's systemd
        unit_path = os.path.join(self.home, ".config", "systemd", "user", "web.service")
        with open(unit_path) as f:
            unit = f.read()
        self.assertIn("WantedBy=default.target\n", unit)
        self.assertNotIn("multi-user.target", unit)
        self.assertNotIn("User=", unit)
        self.assertRegex(unit, r"\nExecStart=/\S*/runc --rootless true run 'web'\n")
        self.assertTrue(os.path.islink(os.path.join(
            self.home, ".config", "systemd", "user", "default.target.wants", "web.service")))
        # nothing of root's was written by the user's pull and install
        self.assertEqual(before, snapshot([d for d in ROOT_DIRS if os.path.exists(d)]))
        # root sees none of it
        r = subprocess.run([CTL, "--json", "list"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("web", [c.get("name") for c in json.loads(r.stdout).get("containers", [])])
        before = snapshot([d for d in ROOT_DIRS if os.path.exists(d)])
        # run NAME CMD and run IMAGE CMD: rootless, the user as root inside
        if shutil.which("runc", path="/usr/bin:/usr/sbin:/bin:/sbin"):
            for what in ("web", self.image):
                r = self.as_user("run", what, "--", "/bin/busybox", "cat", "/proc/self/uid_map")
                self.assertEqual(r.stdout.split(), ["0", str(self.uid), "1"], (what, r.stderr))
        # uninstall leaves the user's tree without the container
        self.as_user("uninstall", "web")
        self.assertFalse(os.path.exists(unit_path))
        self.assertFalse(os.path.lexists(os.path.join(
            self.home, ".config", "systemd", "user", "default.target.wants", "web.service")))
        self.assertFalse(os.path.exists(self.data("containers", "atomic", "web")))
        after = snapshot([d for d in ROOT_DIRS if os.path.exists(d)])
        self.assertEqual(before, after)
        self.as_user("images", "delete", self.image.replace("oci:", "", 0))

    def test_modes_update_rollback(self):
        """Owners and modes of the image recorded the bare-user way, files
        the user can read, directories they can enter and remove; update,
        rollback and the verbs that need the user's systemd."""
        self.as_user("pull", "oci:%s:modes" % self.layout)
        self.as_user("install", "--name", "modes", "oci:%s:modes" % self.layout)
        rootfs = self.data("containers", "atomic", "modes.0", "rootfs")

        def recorded(rel):  # (uid, gid, mode) from user.ostreemeta (big-endian)
            meta = os.getxattr(os.path.join(rootfs, rel), "user.ostreemeta")
            return tuple(int.from_bytes(meta[i:i + 4], "big") for i in (0, 4, 8))

        self.assertEqual(recorded("srv/secret"), (0, 0, 0o100000))
        self.assertEqual(recorded("srv/suid"), (0, 0, 0o104755))
        self.assertEqual(recorded("srv/owned"), (123, 123, 0o100640))
        for rel, mode in (("srv/secret", 0o400), ("srv/suid", 0o755), ("srv/owned", 0o640),
                          ("srv/ro", 0o755)):
            st = os.lstat(os.path.join(rootfs, rel))
            self.assertEqual((st.st_uid, st.st_mode & 0o7777), (self.uid, mode), rel)
        r = self.as_user("start", "modes", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: cannot start modes: the "
                         "user's systemd is not running (no %s/systemd/private): log in, or "
                         "loginctl enable-linger" % self.runtime)
        r = self.as_user("install", "--now", "--name", "now", "oci:%s:v1" % self.layout,
                         check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the user's systemd is not running (no %s/systemd/private), so the "
                      "container could not be started" % self.runtime, r.stderr)
        self.assertFalse(os.path.lexists(self.data("containers", "atomic", "now")))
        # update to v2 and back
        self.as_user("pull", "oci:%s:v2" % self.layout)
        self.as_user("update", "--rebase", "oci:%s:v2" % self.layout, "modes")
        link = self.data("containers", "atomic", "modes")
        self.assertEqual(os.readlink(link), link + ".1")
        with open(os.path.join(link, "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd v2\n")
        self.as_user("rollback", "modes")
        self.assertEqual(os.readlink(link), link + ".0")
        self.as_user("uninstall", "modes")
        self.assertEqual(sorted(os.listdir(self.data("containers", "atomic"))), ["repo"])

    def host_processes(self, marker):
        """pid -> the Uid: line of each host process whose argv is @marker."""
        found = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if f.read().split(b"\0")[:-1] != marker:
                        continue
                with open("/proc/%s/status" % pid) as f:
                    found[pid] = [ln for ln in f.read().splitlines() if ln.startswith("Uid:")][0]
            except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
                continue
        return found

    @unittest.skipUnless(shutil.which("runc"), "needs runc")
    def test_rootless_run(self):
        """The generated bundle runs with rootless runc as the user, its
        process the user's on the host; the image's cgroup settings and
        sysfs mount (which a user namespace cannot have) are gone; host
        files are not installed."""
        self.as_user("pull", "oci:%s:probe" % self.layout)
        r = self.as_user("-v", "install", "--name", "probe", "oci:%s:probe" % self.layout)
        self.assertIn("host files not installed: a user's container installs none", r.stderr)
        self.assertFalse(os.path.exists("/etc/greeter"))
        dest = self.data("containers", "atomic", "probe")
        with open(os.path.join(dest, "config.json")) as f:
            spec = json.load(f)
        # (runc: below the cgroup it runs in, the user unit's, test_user_system.py)
        self.assertEqual(spec["linux"]["cgroupsPath"], "probe.service/container")
        self.assertNotIn("resources", spec["linux"])
        self.assertEqual([m for m in spec["mounts"] if m["destination"] == "/sys"],
                         [{"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}])
        # by hand, outside the user unit whose cgroup the user owns (there is
        # no user systemd here): runc would have to make the unit's cgroup
        # in root's, so the copy run here has none (the system suite runs
        # the bundle as it is, under the user's systemd)
        del spec["linux"]["cgroupsPath"]
        with open(os.path.join(dest, "config.json"), "w") as f:
            json.dump(spec, f)
        run = subprocess.Popen(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                                "--init-groups", "--", "runc", "--rootless", "true", "run",
                                "probe"], cwd=dest, env=self.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        ran = self.data("containers", "atomic-state", "probe", "ran")
        try:
            for _ in range(100):
                if os.path.exists(ran) or run.poll() is not None:
                    break
                time.sleep(0.1)
            self.assertTrue(os.path.exists(ran), run.stderr.read() if run.poll() is not None
                            else "no /data/ran")
            # written by root in the container: the user's on the host
            self.assertEqual(os.stat(ran).st_uid, self.uid)
            for _ in range(100):  # (the shell execs the sleep after writing the file)
                procs = self.host_processes([b"/bin/busybox", b"sleep", b"317"])
                if procs:
                    break
                time.sleep(0.1)
            self.assertEqual(len(procs), 1, procs)
            self.assertEqual(list(procs.values())[0].split(), ["Uid:"] + [str(self.uid)] * 4)
        finally:
            subprocess.run(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                            "--init-groups", "--", "runc", "--rootless", "true", "kill", "probe",
                            "KILL"], env=self.env(), capture_output=True)
            run.communicate(timeout=30)
            subprocess.run(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                            "--init-groups", "--", "runc", "--rootless", "true", "delete",
                            "--force", "probe"], env=self.env(), capture_output=True)
        self.as_user("uninstall", "probe")

    def test_binding(self):
        """Context(mode=...) as root, in a child python (a sanitized
        library is preloaded there, as tests/deploy/test_selinux.py does)."""
        code = ("import syscontainer, json\n"
                "out = []\n"
                "try:\n"
                "    syscontainer.Context(mode='user')\n"
                "except syscontainer.Error as e:\n"
                "    out.append([e.code, e.message])\n"
                "c = syscontainer.Context(mode='system')\n"
                "out.append(c.user_mode)\n"
                "try:\n"
                "    c.set_mode('root')\n"
                "except ValueError as e:\n"
                "    out.append(str(e))\n"
                "print(json.dumps(out))\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "bindings", "python"))
        lib = env.get("SC_LIBRARY", "")
        ldd = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout if lib else ""
        for line in ldd.splitlines():
            if "libasan" in line and "=>" in line:
                env["LD_PRELOAD"] = line.split("=>")[1].split()[0]
                env["ASAN_OPTIONS"] = "detect_leaks=0"  # (python's own, not ours)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [
            ["SC_EPERM", "--user does not work for privileged user"], False,
            "mode 'root': expected 'auto', 'system' or 'user'"])

if __name__ == "__main__":
    unittest.main(verbosity=2)
