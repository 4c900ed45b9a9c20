"""User containers attacked (issue 17, trial17): read-only directories in a
checkout do not stop uninstall or update; another user can neither read a
user's containers nor write into them; a failed install touches no file
descriptor of the caller; the unit and runtime directories, and HOME, are
checked as the store is. Two throwaway accounts, made and removed here."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import CONFIG, SERVICE, build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
GREET = {"defaultValues": {"GREETING": "hi"}}
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def readable_by_all(path):
    """@path and its parents reachable by another user."""
    while path != "/":
        os.chmod(path, os.stat(path).st_mode | 0o755)
        path = os.path.dirname(path)


class Account:
    """A throwaway user with a runtime directory of their own."""

    def __init__(self, name):
        il.run("useradd", "-m", "-s", "/bin/sh", name)
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, pw.pw_uid, pw.pw_gid, pw.pw_dir
        os.chmod(self.home, 0o755)  # (the distribution default the trial had)
        self.runtime = tempfile.mkdtemp(prefix="sc-xdg-run-")
        os.chown(self.runtime, self.uid, self.gid)
        os.chmod(self.runtime, 0o700)

    def remove(self):
        subprocess.run(["userdel", "-r", self.name], capture_output=True)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def env(self, **extra):
        env = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name, "PATH": PATH,
               "XDG_RUNTIME_DIR": self.runtime,
               "SC_SIGNATURE_POLICY": os.environ["SC_SIGNATURE_POLICY"]}
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "G_SLICE"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def run(self, argv, env=None):
        return subprocess.run(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                               "--init-groups", "--", *argv], capture_output=True, text=True,
                              env=env or self.env(), cwd="/", timeout=300)

    def data(self, *rel):
        return os.path.join(self.home, ".local", "share", *rel)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("useradd")
                     and shutil.which("setpriv"), "needs root, umoci, useradd and setpriv")
class UserModeAttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Account("sca%d" % os.getpid())
        cls.b = Account("scb%d" % os.getpid())
        cls.shared = tempfile.mkdtemp(prefix="sc-user-atk-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}}, hostfs=False)
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n"}, hostfs=False)
        cls.sticky_image(cls.layout)
        cls.hostile_images(cls.layout)
        readable_by_all(cls.shared)
        subprocess.run(["chmod", "-R", "a+rX", cls.shared], check=True)
        readable_by_all(os.path.dirname(os.path.realpath(CTL)))

    @staticmethod
    def sticky_image(layout):
        """v1 with a 1777 directory (every base image's /tmp) and a 2775 one."""
        bundle = os.path.join(os.path.dirname(layout), "bundle-sticky")
        il.run("umoci", "unpack", "--image", "%s:v1" % layout, bundle)
        root = os.path.join(bundle, "rootfs")
        for rel, mode in (("srv/sticky", 0o1777), ("srv/group", 0o2775)):
            os.makedirs(os.path.join(root, rel))
            os.chmod(os.path.join(root, rel), mode)
        il.run("umoci", "repack", "--image", "%s:sticky" % layout, bundle)
        shutil.rmtree(bundle)

    @staticmethod
    def hostile_images(layout):
        """What an image may ask that a user's container must not do."""
        spec = json.loads(CONFIG)
        lin = spec["linux"]
        for tag, change in (
                ("maps", lambda: lin.update(
                    uidMappings=[{"containerID": 0, "hostID": 0, "size": 65536}],
                    gidMappings=[{"containerID": 0, "hostID": 0, "size": 65536}],
                    devices=[{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}],
                    sysctl={"net.ipv4.ip_forward": "1"})),
                ("sysctl", lambda: lin.update(sysctl={"kernel.core_pattern": "|/tmp/x"})),
                ("ext4", lambda: spec["mounts"].append(
                    {"destination": "/x", "type": "ext4", "source": "/dev/sda1"})),
                ("devtmpfs", lambda: spec["mounts"].append(
                    {"destination": "/dev", "type": "devtmpfs", "source": "devtmpfs",
                     "options": ["suid", "dev"]})),
                ("devbind", lambda: spec["mounts"].append(
                    {"destination": "/dev/xnull", "type": "bind", "source": "/dev/null",
                     "options": ["bind"]})),
                ("store", lambda: spec["mounts"].append(
                    {"destination": "/s", "type": "bind", "source": "${STATE_DIRECTORY}/../..",
                     "options": ["rbind"]}))):
            spec = json.loads(CONFIG)
            lin = spec["linux"]
            change()
            build(layout, tag, GREET, {"exports/config.json.template": json.dumps(spec)},
                  hostfs=False)
        build(layout, "tmpout", GREET, {"exports/tmpfiles.template":
                                     "d ${RUN_DIRECTORY}/${NAME} 0700 - - -\n"
                                     "d ${CONF_DIRECTORY}/${NAME}.d 0700 - - -\n"
                                     "# a comment\n\n"
                                     "f /tmp/sc-tmpfile-outside 0644 - - - written by image\n"},
              hostfs=False)
        # the user's other files: a line's mode would change them (trial17b)
        build(layout, "tmphome", GREET, {"exports/tmpfiles.template":
                                      "D ${RUN_DIRECTORY}/${NAME} 0700 - - -\n"
                                      "d %h/.ssh 0777 - - -\n"}, hostfs=False)
        build(layout, "tmpother", GREET, {"exports/tmpfiles.template":
                                       "Z ${RUN_DIRECTORY}/systemd 0777 - - -\n"}, hostfs=False)
        build(layout, "tmpspec", GREET, {"exports/tmpfiles.template":
                                      "d %T/sc-outside 0777 - - -\n"}, hostfs=False)
        build(layout, "tmpdotdot", GREET, {"exports/tmpfiles.template":
                                        "d ${STATE_DIRECTORY}/../../../../../etc/x - - - -\n"},
              hostfs=False)
        build(layout, "tmpok", GREET, {"exports/tmpfiles.template":
                                    "d ${STATE_DIRECTORY}/$NAME 0700 - - -\n"
                                    "d %t/$NAME 0700 - - -\n"}, hostfs=False)
        build(layout, "alias", GREET, {"exports/service.template":
                                    SERVICE + "Alias=dbus.service\n"}, hostfs=False)
        build(layout, "also", GREET, {"exports/service.template":
                                   SERVICE + "Also=pipewire.service\n"}, hostfs=False)
        build(layout, "ownalias", GREET, {"exports/service.template":
                                       SERVICE + "Alias=$NAME-web.service\n"}, hostfs=False)

    @classmethod
    def tearDownClass(cls):
        cls.a.remove()
        cls.b.remove()
        shutil.rmtree(cls.shared)

    def ctl(self, who, *args, env=None, code=0):
        r = who.run([CTL, *args], env=env)
        if code is not None and r.returncode != code:
            self.fail("syscontainerctl %s as %s: exit %d: %s" % (" ".join(args), who.name,
                                                                 r.returncode, r.stderr))
        return r

    def image(self, tag):
        return "oci:%s:%s" % (self.layout, tag)

    def as_user_sh(self, who, script):
        r = who.run(["/bin/sh", "-ec", script])
        self.assertEqual(r.returncode, 0, r.stderr)

    # D1: read-only directories in a checkout
    def test_readonly_dirs_uninstall(self):
        a = self.a
        self.ctl(a, "install", "--name", "ro1", self.image("v1"))
        rootfs = a.data("containers", "atomic", "ro1.0", "rootfs")
        # 0555 with a file, 0000 with a file, 0300 (unreadable) with a directory
        self.as_user_sh(a, "cd %s/etc && mkdir sub none wo && touch sub/f none/f && "
                           "mkdir wo/d && touch wo/d/g && chmod 555 sub wo/d && chmod 000 none "
                           "&& chmod 300 wo" % rootfs)
        r = self.ctl(a, "uninstall", "ro1")
        self.assertEqual(r.stderr, "")
        self.assertEqual(sorted(os.listdir(a.data("containers", "atomic"))), ["repo"])
        r = self.ctl(a, "--json", "list")
        self.assertEqual(json.loads(r.stdout)["containers"], [])

    def test_unremovable_uninstall_fails(self):
        """What the user cannot remove (root's, here) fails the uninstall by
        name, and the container stays listed for another try."""
        a = self.a
        self.ctl(a, "install", "--name", "ro2", self.image("v1"))
        slot = a.data("containers", "atomic", "ro2.0")
        planted = os.path.join(slot, "rootfs", "etc", "roots")
        os.mkdir(planted)
        with open(os.path.join(planted, "f"), "w") as f:
            f.write("root's\n")
        r = self.ctl(a, "uninstall", "ro2", code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: %s: cannot remove "
                         "rootfs/etc/roots: it belongs to uid 0, not to you (uid %d); nothing "
                         "was removed" % (slot, a.uid))
        # nothing of the slot went (a second try finds it whole)
        self.assertTrue(os.path.exists(os.path.join(planted, "f")))
        self.assertTrue(os.path.exists(os.path.join(slot, "rootfs", "bin", "busybox")))
        self.assertTrue(os.path.exists(os.path.join(slot, "info")))
        r = self.ctl(a, "--json", "list")
        self.assertEqual([c["name"] for c in json.loads(r.stdout)["containers"]], ["ro2"])
        shutil.rmtree(planted)
        self.ctl(a, "uninstall", "ro2")
        self.assertFalse(os.path.lexists(slot))

    def test_readonly_dirs_update_rollback(self):
        a = self.a
        self.ctl(a, "install", "--name", "web", self.image("v1"))
        self.ctl(a, "update", "--rebase", self.image("v2"), "web")
        link = a.data("containers", "atomic", "web")
        self.assertEqual(os.readlink(link), link + ".1")
        # the previous deployment (the slot the next update reuses)
        self.as_user_sh(a, "cd %s.0/rootfs/etc && mkdir lock && touch lock/f && chmod 555 lock"
                        % link)
        self.ctl(a, "update", "--rebase", self.image("v1"), "web")
        self.assertEqual(os.readlink(link), link + ".0")
        self.assertFalse(os.path.exists(link + ".0/rootfs/etc/lock"))
        self.ctl(a, "rollback", "web")
        self.assertEqual(os.readlink(link), link + ".1")
        with open(os.path.join(link, "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd v2\n")
        # a rollback target the user cannot clear: the update fails by name
        # and leaves the current deployment as it was
        planted = link + ".0/rootfs/etc/roots"
        os.mkdir(planted)
        open(os.path.join(planted, "f"), "w").close()
        r = self.ctl(a, "update", "--rebase", self.image("v1"), "web", code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: %s.0: cannot remove "
                         "rootfs/etc/roots: it belongs to uid 0, not to you (uid %d); nothing "
                         "was removed" % (link, a.uid))
        self.assertEqual(os.readlink(link), link + ".1")
        # the previous deployment is whole: rollback still goes to it
        self.ctl(a, "rollback", "web")
        self.assertEqual(os.readlink(link), link + ".0")
        with open(os.path.join(link, "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")
        shutil.rmtree(planted)
        self.ctl(a, "uninstall", "web")
        self.assertEqual(sorted(os.listdir(a.data("containers", "atomic"))), ["repo"])

    # D2, D3: another user's reach
    def test_private_to_the_user(self):
        a, b = self.a, self.b
        self.ctl(a, "install", "--name", "sec", "--set", "DBPASS=hunter2", self.image("sticky"))
        top = a.data("containers", "atomic")
        for path, mode in ((top, 0o700), (os.path.join(top, "repo"), 0o700),
                           (os.path.join(top, "sec.0"), 0o700),
                           (os.path.join(top, "sec.0", "info"), 0o600),
                           (a.data("containers", "tmpfiles"), 0o700),
                           (os.path.join(a.home, ".config", "systemd", "user", "sec.service"),
                            0o600),
                           # a directory keeps its sticky and setgid bits
                           (os.path.join(top, "sec.0", "rootfs", "srv", "sticky"), 0o1777),
                           (os.path.join(top, "sec.0", "rootfs", "srv", "group"), 0o2775)):
            self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), mode, path)
        # the other user: nothing to read, nowhere to write
        r = b.run(["/bin/sh", "-c", "cat %s/sec.0/info" % top])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        r = b.run(["/bin/sh", "-c", "echo x > %s/sec.0/rootfs/srv/sticky/planted" % top])
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(top, "sec.0/rootfs/srv/sticky/planted")))
        r = self.ctl(b, "--checkout-root", top, "inspect", "sec", code=1)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        r = self.ctl(b, "--repo", os.path.join(top, "repo"), "images", "list", code=1)
        self.assertNotIn("localhost", r.stdout)
        # opened by an earlier version (or by hand): closed again, said with -v
        os.chmod(top, 0o755)
        r = self.ctl(a, "-v", "list")
        self.assertIn("%s: made private to you (mode 0700, was 0755)" % top, r.stderr)
        self.assertEqual(stat.S_IMODE(os.lstat(top).st_mode), 0o700)
        # a place the environment names elsewhere is the user's business
        r = self.ctl(a, "-v", "list", env=a.env(ATOMIC_OSTREE_CHECKOUT_PATH=a.home))
        self.assertNotIn("made private", r.stderr)
        self.assertEqual(stat.S_IMODE(os.lstat(a.home).st_mode), 0o755)
        self.ctl(a, "uninstall", "sec")

    # D4: fd 0 of the caller, and no GLib criticals
    def test_failed_install_keeps_fd0(self):
        a = self.a
        code = ("import os, json, syscontainer\n"
                "fd = os.open('/dev/null', os.O_RDONLY)\n"
                "os.dup2(fd, 0)\n"
                "out = []\n"
                "try:\n"
                "    syscontainer.Context(mode='user').install(%r, name='zz')\n"
                "except syscontainer.Error as e:\n"
                "    out.append(e.code)\n"
                "out.append(os.path.exists('/proc/self/fd/0'))\n"
                "print(json.dumps(out))\n" % self.image("v1"))
        env = a.env(HOME="/", PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "bindings", "python"))
        lib = os.environ.get("SC_LIBRARY", "")
        if lib:
            env["SC_LIBRARY"] = lib
            readable_by_all(os.path.dirname(os.path.realpath(lib)))
        ldd = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout if lib else ""
        for line in ldd.splitlines():
            if "libasan" in line and "=>" in line:
                env["LD_PRELOAD"] = line.split("=>")[1].split()[0]
                env["ASAN_OPTIONS"] = "detect_leaks=0"  # (python's own, not ours)
        readable_by_all(os.path.join(os.path.dirname(__file__), "..", "..", "bindings",
                                     "python", "syscontainer"))
        r = a.run([sys.executable, "-c", code], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), ["SC_EPERM", True])
        self.assertNotIn("CRITICAL", r.stderr)
        r = self.ctl(a, "install", "--name", "zz", self.image("v1"),
                     env=a.env(HOME="/", G_DEBUG="fatal-criticals"), code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: user containers: / belongs "
                         "to uid 0, not to you (uid %d): a user uses only a store and checkout "
                         "root of their own" % a.uid)

    # D9, D10: the unit and runtime directories, HOME
    def test_environment_checked(self):
        a, b = self.a, self.b
        target = tempfile.mkdtemp(prefix="sc-cfg-target-")
        os.chmod(target, 0o777)
        self.addCleanup(shutil.rmtree, target)
        cases = [
            (dict(XDG_CONFIG_HOME=target), "user containers: %s belongs to uid 0, not to you "
             "(uid %d): a user's units go only to a unit directory of their own "
             "($XDG_CONFIG_HOME/systemd/user)" % (target, a.uid)),
            (dict(XDG_CONFIG_HOME="/etc"), "user containers: /etc/systemd/user belongs to uid 0, not to you "
             "(uid %d): a user's units go only to a unit directory of their own "
             "($XDG_CONFIG_HOME/systemd/user)" % a.uid),
            (dict(XDG_RUNTIME_DIR="/nonexistent"), "user containers: $XDG_RUNTIME_DIR "
             "/nonexistent does not exist: it names the user's runtime directory "
             "(RUN_DIRECTORY, the runtime's state); log in through a session (systemd-logind) "
             "or set it to /run/user/%d" % a.uid),
            (dict(XDG_RUNTIME_DIR="/etc/passwd"), "user containers: $XDG_RUNTIME_DIR "
             "/etc/passwd is not a directory: it names the user's runtime directory "
             "(RUN_DIRECTORY, the runtime's state); log in through a session (systemd-logind) "
             "or set it to /run/user/%d" % a.uid),
            (dict(XDG_RUNTIME_DIR=b.runtime), "user containers: $XDG_RUNTIME_DIR %s belongs to "
             "uid %d, not to you (uid %d): a user's runtime directory is their own"
             % (b.runtime, b.uid, a.uid)),
            (dict(XDG_RUNTIME_DIR="/run"), "user containers: $XDG_RUNTIME_DIR /run belongs to "
             "uid 0, not to you (uid %d): a user's runtime directory is their own" % a.uid),
            (dict(HOME=""), "user containers: $HOME is not set: user containers need a home "
             "directory (or $XDG_DATA_HOME)"),
            (dict(HOME=None), "user containers: $HOME is not set: user containers need a home "
             "directory (or $XDG_DATA_HOME)"),
            (dict(HOME="home/x"), "user containers: $HOME is not an absolute path (home/x): "
             "user containers need a home directory (or $XDG_DATA_HOME)"),
            (dict(HOME=None, XDG_DATA_HOME=a.data()), "user containers: $HOME is not set: user "
             "containers need a home directory (or $XDG_CONFIG_HOME)"),
        ]
        for extra, message in cases:
            # (info shows the places, checked or not; without a home there are none)
            verbs = [["install", "--name", "x", self.image("v1")]] + (
                [["info"]] if "HOME" in extra else [])
            for verb in verbs:
                r = self.ctl(a, *verb, env=a.env(**extra), code=1)
                self.assertEqual(r.stderr.strip(), "syscontainerctl: error: " + message,
                                 (extra, verb))
                self.assertNotIn("GLib", r.stderr)
        self.assertEqual(os.listdir(target), [])
        self.assertFalse(os.path.exists("/etc/systemd/user/x.service"))
        self.assertFalse(os.path.lexists(a.data("containers", "atomic", "x")))
        # both XDG homes given: no HOME needed, and no relative path shown
        r = self.ctl(a, "--json", "info", env=a.env(
            HOME=None, XDG_DATA_HOME=a.data(), XDG_CONFIG_HOME=os.path.join(a.home, ".config")))
        info = json.loads(r.stdout)
        self.assertEqual((info["checkout_root"], info["unit_dir"]),
                         (a.data("containers", "atomic"),
                          os.path.join(a.home, ".config", "systemd", "user")))

    def refused(self, who, tag, message, name="evil"):
        r = self.ctl(who, "install", "--name", name, self.image(tag), code=1)
        self.assertEqual(r.stderr.strip().splitlines()[-1], "syscontainerctl: error: " + message,
                         tag)
        self.assertFalse(os.path.lexists(who.data("containers", "atomic", name)), tag)
        self.assertFalse(os.path.lexists(who.data("containers", "atomic", name + ".0")), tag)
        self.assertFalse(os.path.lexists(os.path.join(who.home, ".config", "systemd", "user",
                                                      name + ".service")), tag)
        return r

    def test_no_passwd_entry(self):
        """A uid without a passwd entry: HOME decides, no GLib warning."""
        uid = next(u for u in range(54000 + os.getpid() % 1000, 60000)
                   if not any(p.pw_uid == u for p in pwd.getpwall()))
        home = tempfile.mkdtemp(prefix="sc-nopw-home-")
        run = tempfile.mkdtemp(prefix="sc-nopw-run-")
        self.addCleanup(shutil.rmtree, home)
        self.addCleanup(shutil.rmtree, run)
        for d in (home, run):
            os.chown(d, uid, uid)
            os.chmod(d, 0o700)
        os.chmod(home, 0o755)

        def ctl(*args, **env):
            full = {"PATH": PATH, "XDG_RUNTIME_DIR": run,
                    "SC_SIGNATURE_POLICY": os.environ["SC_SIGNATURE_POLICY"]}
            for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "G_SLICE"):
                if k in os.environ:
                    full[k] = os.environ[k]
            full.update(env)
            return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid),
                                   "--clear-groups", "--", CTL, *args], capture_output=True,
                                  text=True, env=full, cwd="/", timeout=300)

        r = ctl("install", "--name", "np", self.image("v1"))
        self.assertEqual((r.returncode, r.stderr.strip()), (1, "syscontainerctl: error: user "
                         "containers: $HOME is not set: user containers need a home directory "
                         "(or $XDG_DATA_HOME)"))
        r = ctl("install", "--name", "np", self.image("v1"), HOME=home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("GLib", r.stderr)
        with open(os.path.join(home, ".local/share/containers/atomic/np/config.json")) as f:
            maps = json.load(f)["linux"]["uidMappings"]
        self.assertEqual(maps[0], {"containerID": 0, "hostID": uid, "size": 1})
        r = ctl("uninstall", "np", HOME=home)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(os.listdir(os.path.join(home, ".local/share/containers/atomic")),
                         ["repo"])

    # D5: tmpfiles lines outside the user's places
    def test_tmpfiles_confined(self):
        a = self.a
        exports = a.data("containers", "atomic", "evil.0", "rootfs", "exports")
        for tag, line, path in (
                ("tmpout", 5, "/tmp/sc-tmpfile-outside"),
                ("tmpspec", 1, "%T/sc-outside"),
                ("tmpdotdot", 1, a.data("containers", "atomic-state")
                 + "/../../../../../etc/x")):
            self.refused(a, tag, "%s/tmpfiles.template line %d: %s is outside your home, "
                         "runtime and XDG directories: a user's container makes files only "
                         "there" % (exports, line, path))
        self.assertFalse(os.path.exists("/tmp/sc-tmpfile-outside"))
        own = ("is not the container's own: an image's tmpfiles lines reach only below "
               "${STATE_DIRECTORY} (containers/atomic-state), and below ${RUN_DIRECTORY}/NAME... "
               "or ${CONF_DIRECTORY}/NAME... (a first component that is the container's name, "
               "or starts with it and one of . - _ @), never the rest of your home")
        for tag, line, path in (("tmphome", 2, "%h/.ssh"),
                                ("tmpother", 1, a.runtime + "/systemd")):
            self.refused(a, tag, "%s/tmpfiles.template line %d: %s %s" % (exports, line, path,
                                                                          own))
        self.ctl(a, "install", "--name", "tmpok", self.image("tmpok"))
        with open(os.path.join(a.data("containers", "tmpfiles"), "tmpok.conf")) as f:
            self.assertEqual(f.read(), "d %s 0700 - - -\nd %%t/tmpok 0700 - - -\n"
                             % a.data("containers", "atomic-state", "tmpok"))
        self.ctl(a, "uninstall", "tmpok")

    # D6: the state directory is ours, never the user's own data or our store
    def test_state_directory(self):
        a = self.a
        self.ctl(a, "install", "--name", "containers", self.image("v1"))
        with open(a.data("containers", "atomic", "containers", "config.json")) as f:
            spec = json.load(f)
        data = [m for m in spec["mounts"] if m["destination"] == "/data"][0]
        self.assertEqual(data["source"], a.data("containers", "atomic-state", "containers"))
        self.ctl(a, "uninstall", "containers")
        # a bind of the store or checkout root (or what holds them): refused
        self.refused(a, "store", "%s/config.json.template: mount /s: source %s would give the "
                     "container your containers' checkout root %s: refused"
                     % (a.data("containers", "atomic", "evil.0", "rootfs", "exports"),
                        a.data("containers", "atomic-state", "..", ".."),
                        a.data("containers", "atomic")))
        # --name repo is the store, said so
        r = self.ctl(a, "install", "--name", "repo", self.image("v1"), code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: %s is your image store, not "
                         "a container: choose another --name"
                         % a.data("containers", "atomic", "repo"))

    # D7: the unit's names
    def test_install_names(self):
        a = self.a
        for tag, key, unit in (("alias", "Alias", "dbus.service"),
                               ("also", "Also", "pipewire.service")):
            self.refused(a, tag, "%s/service.template: [Install] %s=%s: a user's container may "
                         "name only its own units (evil.service, evil-*, evil@*), not the "
                         "user's other units"
                         % (a.data("containers", "atomic", "evil.0", "rootfs", "exports"), key,
                            unit))
        self.assertFalse(os.path.lexists(os.path.join(a.home, ".config", "systemd", "user",
                                                      "dbus.service")))
        self.ctl(a, "install", "--name", "own", self.image("ownalias"))
        units = os.path.join(a.home, ".config", "systemd", "user")
        self.assertEqual(os.readlink(os.path.join(units, "own-web.service")),
                         os.path.join(units, "own.service"))
        self.ctl(a, "uninstall", "own")
        self.assertFalse(os.path.lexists(os.path.join(units, "own-web.service")))

    # D8: what a user namespace cannot have
    def test_rootless_config_review(self):
        a = self.a
        exports = a.data("containers", "atomic", "evil.0", "rootfs", "exports")
        label = exports + "/config.json.template"
        self.refused(a, "sysctl", "%s: linux.sysctl kernel.core_pattern is not in a namespace "
                     "of the container: a user's container cannot set it (remove it, or install "
                     "the container as root)" % label)
        self.refused(a, "ext4", "%s: mount /x: type ext4 from /dev/sda1 cannot be mounted in a "
                     "user namespace (a user's container): remove the mount, or install the "
                     "container as root" % label)
        self.refused(a, "devtmpfs", "%s: mount /dev: type devtmpfs from devtmpfs cannot be "
                     "mounted in a user namespace (a user's container): remove the mount, or "
                     "install the container as root" % label)
        r = self.ctl(a, "install", "--name", "maps", self.image("maps"))
        for field, kind, n in (("uidMappings", "uid", a.uid), ("gidMappings", "gid", a.gid)):
            self.assertIn("warning: %s: linux.%s of the image replaced: a user's container maps "
                          "you (%s %d) to 0, and your subordinate ids after it"
                          % (label.replace("evil.0", "maps.0"), field, kind, n), r.stderr)
        self.assertIn("linux.devices dropped: a user's container makes no device nodes",
                      r.stderr)
        with open(a.data("containers", "atomic", "maps", "config.json")) as f:
            lin = json.load(f)["linux"]
        self.assertEqual(lin["uidMappings"][0], {"containerID": 0, "hostID": a.uid, "size": 1})
        self.assertEqual(lin["gidMappings"][0], {"containerID": 0, "hostID": a.gid, "size": 1})
        self.assertNotIn(0, [m["hostID"] for m in lin["uidMappings"] + lin["gidMappings"]])
        self.assertNotIn("devices", lin)
        self.assertEqual(lin["sysctl"], {"net.ipv4.ip_forward": "1"})  # (the netns's own)
        self.ctl(a, "uninstall", "maps")
        self.ctl(a, "install", "--name", "devbind", self.image("devbind"))
        with open(a.data("containers", "atomic", "devbind", "config.json")) as f:
            mounts = json.load(f)["mounts"]
        sda = [m for m in mounts if m["destination"] == "/dev/xnull"][0]
        self.assertIn("nodev", sda["options"])
        self.assertIn("nosuid", sda["options"])
        self.ctl(a, "uninstall", "devbind")

    # D11: atomic's words
    def test_mount_refusal(self):
        a = self.a
        self.ctl(a, "install", "--name", "m", self.image("v1"))
        target = tempfile.mkdtemp(prefix="sc-mnt-", dir=a.runtime)
        os.chown(target, a.uid, a.gid)
        r = self.ctl(a, "mount", "m", target, code=1)
        self.assertEqual(r.stderr.strip(),
                         "syscontainerctl: error: Need to be root to mount a container.")
        self.ctl(a, "uninstall", "m")


if __name__ == "__main__":
    unittest.main()
