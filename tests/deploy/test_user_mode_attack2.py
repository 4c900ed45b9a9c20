"""User containers attacked again (issue 17, trial17b): what an image's
tmpfiles lines, unit and config.json may do in user mode (links and copies
confined, no line that replaces or removes, no host commands but the
runtime, no hooks), uninstall of a damaged container, directory modes
across layers, a refused uninstall that changes nothing, names that shadow
the session's units, paths with blanks and '%', the runtime directory's
mode. Throwaway accounts, made and removed here."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import CONFIG, build  # noqa: E402
from test_user_mode_attack import Account, readable_by_all  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
GREET = {"defaultValues": {"GREETING": "hi"}}


def with_mount(source, rw=True):
    spec = json.loads(CONFIG)
    spec["mounts"].append({"destination": "/s", "type": "bind", "source": source,
                           "options": ["rbind", "rw" if rw else "ro"]})
    return json.dumps(spec)


def service(extra_service="", extra_install=""):
    return ("[Unit]\nDescription=$NAME\n[Service]\nExecStart=$EXEC_START\n"
            "ExecStop=$EXEC_STOP\n" + extra_service + "WorkingDirectory=$DESTDIR\n"
            "[Install]\nWantedBy=multi-user.target\n" + extra_install)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("useradd")
                     and shutil.which("setpriv"), "needs root, umoci, useradd and setpriv")
class UserModeAttack2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Account("scc%d" % os.getpid())
        cls.shared = tempfile.mkdtemp(prefix="sc-user-atk2-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", GREET, hostfs=False)
        cls.images(cls.layout)
        readable_by_all(cls.shared)
        subprocess.run(["chmod", "-R", "a+rX", cls.shared], check=True)
        readable_by_all(os.path.dirname(os.path.realpath(CTL)))

    @classmethod
    def tearDownClass(cls):
        cls.a.remove()
        shutil.rmtree(cls.shared)

    TMPFILES = {
        # N1: a link made by the image's own line at a bind source
        "lnkroot": "L ${STATE_DIRECTORY}/lnk - - - - %h/.local/share/containers/atomic\n",
        "lnkhome": "d ${STATE_DIRECTORY}/$NAME 0700 - - -\nL ${STATE_DIRECTORY}/lnk - - - - %h\n",
        "lnkunits": "L ${STATE_DIRECTORY}/u - - - - %E/systemd/user/x.service\n",
        "lnkdotdot": "L ${STATE_DIRECTORY}/lnk - - - - ${STATE_DIRECTORY}/../atomic\n",
        "lnkrel": "L ${STATE_DIRECTORY}/rel - - - - ../../tmp\n",
        "cprepo": "C ${STATE_DIRECTORY}/leak - - - - %h/.local/share/containers/atomic/repo/config\n",
        # N5: what replaces, removes or changes the user's files, and links
        # or copies from outside
        "lplus": "L+ %h/.bashrc - - - - /tmp/sc-evilrc\n",
        "ltmp": "L ${STATE_DIRECTORY}/lnk2 - - - - /tmp\n",
        "cshadow": "C ${STATE_DIRECTORY}/copied - - - - /etc/shadow\n",
        "rhome": "R %h/Documents - - - -\n",
        "dremove": "D %h/Documents 0700 - - -\n",
        "zhome": "Z %h 0777 - - -\n",
        "whome": "w %h/.bashrc - - - - evil\n",
        "fplus": "f+ %h/.bashrc 0644 - - - evil\n",
        "tmpq": "d \"%h/a b\\x2e\" 0700 - - -\n",
        "tmpok": "d \"${STATE_DIRECTORY}/$NAME dir\" 0700 - - -\n"
                 "f ${CONF_DIRECTORY}/$NAME.txt 0600 - - - x\n"
                 "L %t/$NAME.lnk - - - - ${CONF_DIRECTORY}/$NAME.txt\n"
                 "D %t/$NAME 0700 - - -\n"
                 "Z \"${STATE_DIRECTORY}/$NAME dir\" 0700 - - -\n",
    }
    MOUNTS = {
        "munit": "${CONF_DIRECTORY}/systemd/user",
        "mtmpf": "${STATE_DIRECTORY}/../tmpfiles",
        "mdotdot": "${STATE_DIRECTORY}/x/../y",
        "mrel": "../repo",
    }
    UNITS = {
        "userspc": service("User = root\nGroup\t=root\n"),
        "reqby": service(extra_install="RequiredBy=dbus.service\n"),
        "upheld": service(extra_install="UpheldBy = pipewire.service\n"),
        "wantedby": service(extra_install="WantedBy=graphical-session.target\n"),
        "ownreq": service(extra_install="RequiredBy=$NAME-web.service\n"
                                        "WantedBy=default.target\n"),
        "execpre": service("ExecStartPre=/bin/sh -c 'echo pwn >> %h/.profile'\n"),
        "execpost": service("ExecStartPost=-/usr/bin/touch /tmp/x\n"),
        "execsemi": service("ExecStopPost=$EXEC_STOP ; /bin/rm -rf %h\n"),
        "execjoin": service("ExecStopPost=$EXEC_STOP \\\n ; /bin/rm -rf %h\n"),
    }

    @classmethod
    def images(cls, layout):
        for tag, text in cls.TMPFILES.items():
            extra = {"exports/tmpfiles.template": text}
            if tag == "lnkroot":
                extra["exports/config.json.template"] = with_mount("${STATE_DIRECTORY}/lnk")
            build(layout, tag, GREET, extra, hostfs=False)
        for tag, src in cls.MOUNTS.items():
            build(layout, tag, GREET, {"exports/config.json.template": with_mount(src)},
                  hostfs=False)
        for tag, text in cls.UNITS.items():
            build(layout, tag, GREET, {"exports/service.template": text}, hostfs=False)
        spec = json.loads(CONFIG)
        spec["hooks"] = {"createRuntime": [{"path": "/bin/sh",
                                            "args": ["sh", "-c", "touch /tmp/sc-hook"]}]}
        build(layout, "hooks", GREET, {"exports/config.json.template": json.dumps(spec)},
              hostfs=False)
        # N3: a layer adds or whites out entries of directories it does not repeat
        d = tarfile.DIRTYPE
        il.add_layer(layout, "v1", il.make_tar([
            il.tinfo("root/", d, mode=0o700), il.tinfo("root/.hist", data=b"h", mode=0o600),
            il.tinfo("root/key", data=b"k", mode=0o600),
            il.tinfo("p2/", d, mode=0o700), il.tinfo("p2/a", data=b"a"),
            il.tinfo("etc/ro/", d, mode=0o555), il.tinfo("etc/ro/f", data=b"f"),
            il.tinfo("etc/x/", d, mode=0o000), il.tinfo("etc/x/g", data=b"g"),
            il.tinfo("srv/", d, mode=0o750), il.tinfo("srv/deep/", d, mode=0o711),
            il.tinfo("srv/deep/f", data=b"f")]), new_tag="priv1")
        il.add_layer(layout, "priv1", il.make_tar([
            il.tinfo("root/.wh..hist"), il.tinfo("p2/b", data=b"b"),
            il.tinfo("etc/ro/.wh.f"), il.tinfo("etc/x/.wh..wh..opq"),
            il.tinfo("srv/", d, mode=0o755), il.tinfo("srv/deep/g", data=b"g")]), new_tag="priv")

    def ctl(self, *args, env=None, code=0, who=None):
        r = (who or self.a).run([CTL, *args], env=env)
        if code is not None and r.returncode != code:
            self.fail("syscontainerctl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                          r.stderr))
        return r

    def image(self, tag):
        return "oci:%s:%s" % (self.layout, tag)

    def data(self, *rel):
        return self.a.data(*rel)

    def root(self):
        return self.data("containers", "atomic")

    def units(self):
        return os.path.join(self.a.home, ".config", "systemd", "user")

    def template(self, tag, name):
        return "%s/%s.0/rootfs/exports/%s" % (self.root(), tag, name)

    def assert_refused(self, tag, message, name=None):
        """install of @tag fails with @message, and leaves no container,
        unit, tmpfiles fragment or slot."""
        name = name or tag
        r = self.ctl("install", "--name", name, self.image(tag), code=1)
        self.assertEqual(r.stderr.strip().splitlines()[-1], "syscontainerctl: error: " + message)
        self.assertFalse(os.path.lexists(os.path.join(self.root(), name)))
        self.assertFalse(os.path.lexists(os.path.join(self.root(), name + ".0")))
        self.assertFalse(os.path.lexists(os.path.join(self.units(), name + ".service")))
        self.assertFalse(os.path.lexists(
            self.data("containers", "tmpfiles", name + ".conf")))
        return r

    # N1: bind sources and the links of the image's own tmpfiles lines
    def test_n1_link_at_bind_source_refused(self):
        t = self.template("lnkroot", "tmpfiles.template")
        self.assert_refused("lnkroot", "%s line 1: link target %%h/.local/share/containers/atomic "
                            "would reach your containers' checkout root %s: refused"
                            % (t, self.root()))
        self.assertFalse(os.path.lexists(self.data("containers", "atomic-state", "lnk")))
        t = self.template("lnkhome", "tmpfiles.template")
        self.assert_refused("lnkhome", "%s line 2: link target %%h would reach your containers' "
                            "checkout root %s: refused" % (t, self.root()))
        t = self.template("lnkunits", "tmpfiles.template")
        self.assert_refused("lnkunits", "%s line 1: link target %%E/systemd/user/x.service "
                            "would reach your systemd unit directory %s: refused"
                            % (t, self.units()))
        outside = ("is outside your home, runtime and XDG directories: a user's container makes "
                   "files only there")
        t = self.template("lnkdotdot", "tmpfiles.template")
        self.assert_refused("lnkdotdot", "%s line 1: link target %s/atomic-state/../atomic %s"
                            % (t, self.data("containers"), outside))
        t = self.template("lnkrel", "tmpfiles.template")
        self.assert_refused("lnkrel", "%s line 1: link target ../../tmp %s" % (t, outside))
        t = self.template("cprepo", "tmpfiles.template")
        self.assert_refused("cprepo", "%s line 1: copy source "
                            "%%h/.local/share/containers/atomic/repo/config would reach your "
                            "containers' checkout root %s: refused"
                            % (t, self.root()))

    def test_n1_binds_of_units_and_tmpfiles_refused(self):
        c = self.template("munit", "config.json.template")
        self.assert_refused("munit", "%s: mount /s: source %s would give the container your "
                            "systemd unit directory %s: refused"
                            % (c, self.units(), self.units()))
        c = self.template("mtmpf", "config.json.template")
        tmpf = self.data("containers", "tmpfiles")
        self.assert_refused("mtmpf", "%s: mount /s: source %s/../tmpfiles would give the "
                            "container your tmpfiles directory %s: refused"
                            % (c, self.data("containers", "atomic-state"), tmpf))
        c = self.template("mdotdot", "config.json.template")
        self.assert_refused("mdotdot", "%s: mount /s: source %s/x/../y has a '..' component: a "
                            "user's container's bind sources are written without '..' (a link "
                            "made later could turn it elsewhere)"
                            % (c, self.data("containers", "atomic-state")))
        c = self.template("mrel", "config.json.template")
        self.assert_refused("mrel", "%s: mount /s: source ../repo has a '..' component: a "
                            "user's container's bind sources are written without '..' (a link "
                            "made later could turn it elsewhere)" % c)

    # N5: lines that replace, remove or change; links and copies from outside
    def test_n5_tmpfiles_only_create_in_user_places(self):
        a = self.a
        bashrc = os.path.join(a.home, ".bashrc")
        with open(bashrc, "w") as f:
            f.write("the user's\n")
        os.chown(bashrc, a.uid, a.gid)
        outside = ("is outside your home, runtime and XDG directories: a user's container makes "
                   "files only there")
        for tag, typ in (("lplus", "L+"), ("rhome", "R"), ("whome", "w"), ("fplus", "f+")):
            t = self.template(tag, "tmpfiles.template")
            self.assert_refused(tag, "%s line 1: type '%s' is refused in a user's container: its "
                                "tmpfiles lines only create what is missing (d, f, p, L, C, and "
                                "D, z, Z in the container's own places, without '+' or '='), "
                                "never replace, change or remove your existing files" % (t, typ))
        # D and Z only in the container's own places, never the user's files
        t = self.template("zhome", "tmpfiles.template")
        self.assert_refused("zhome", "%s line 1: %%h would reach your containers' checkout root "
                            "%s: refused" % (t, self.root()))
        for tag, path in (("dremove", "%h/Documents"),):
            t = self.template(tag, "tmpfiles.template")
            self.assert_refused(tag, "%s line 1: %s is not the container's own: an image's "
                                "tmpfiles lines reach only below ${STATE_DIRECTORY} "
                                "(containers/atomic-state), and below ${RUN_DIRECTORY}/NAME... or "
                                "${CONF_DIRECTORY}/NAME... (a first component that is the "
                                "container's name, or starts with it and one of . - _ @), never "
                                "the rest of your home" % (t, path))
        t = self.template("ltmp", "tmpfiles.template")
        self.assert_refused("ltmp", "%s line 1: link target /tmp %s" % (t, outside))
        t = self.template("cshadow", "tmpfiles.template")
        self.assert_refused("cshadow", "%s line 1: copy source /etc/shadow %s" % (t, outside))
        t = self.template("tmpq", "tmpfiles.template")
        self.assert_refused("tmpq", "%s line 1: cannot read the line (an open quote or an escape "
                            "other than those): a user's tmpfiles line is 'TYPE PATH MODE USER "
                            "GROUP AGE [ARGUMENT]', with \"...\" quoting and the escapes \\\\ "
                            "\\\" \\' \\n \\t only" % t)
        with open(bashrc) as f:
            self.assertEqual(f.read(), "the user's\n")
        self.assertEqual(sorted(n for n in os.listdir(a.home) if n in ("lnk2", "copied")), [])
        self.assertFalse(os.path.exists(os.path.join(a.home, ".bashrc.lnk")))
        # what only creates, quoted, in the user's places: installed
        self.ctl("install", "--name", "tmpok", self.image("tmpok"))
        made = self.data("containers", "atomic-state", "tmpok dir")
        with open(self.data("containers", "tmpfiles", "tmpok.conf")) as f:
            self.assertIn('"%s"' % made, f.read())
        self.ctl("uninstall", "tmpok")

    # N7: blanks and '%' in XDG_DATA_HOME
    def test_n7_blank_and_percent_in_data_home(self):
        a = self.a
        for sub in ("my data %n $HOME", "pct%n"):
            data = os.path.join(a.home, sub)
            env = a.env(XDG_DATA_HOME=data)
            r = self.ctl("install", "--name", "sp", self.image("v1"), env=env)
            self.assertEqual(r.stdout.strip(), "sp")
            state = os.path.join(data, "containers", "atomic-state", "sp")
            with open(os.path.join(data, "containers", "tmpfiles", "sp.conf")) as f:
                line = f.read().splitlines()[0]
            esc = state.replace("%", "%%")
            self.assertEqual(line, ('d    "%s"   0700 %d %d - -' if " " in state
                                    else "d    %s   0700 %d %d - -") % (esc, a.uid, a.gid))
            self.ctl("uninstall", "sp", env=env)
            self.assertFalse(os.path.lexists(os.path.join(data, "containers", "atomic", "sp")))

    # N8, N9, N10: the image's unit
    def test_n8_user_group_with_blanks_dropped(self):
        self.ctl("install", "--name", "userspc", self.image("userspc"))
        with open(os.path.join(self.units(), "userspc.service")) as f:
            unit = f.read()
        self.assertNotIn("User", unit)
        self.assertNotIn("Group", unit)
        self.assertIn("WantedBy=default.target", unit)
        self.ctl("uninstall", "userspc")

    def test_n9_install_names_only_own_units(self):
        for tag, key, unit, extra in (("reqby", "RequiredBy", "dbus.service", ""),
                                      ("upheld", "UpheldBy", "pipewire.service", ""),
                                      ("wantedby", "WantedBy", "graphical-session.target",
                                       " and default.target")):
            s = self.template(tag, "service.template")
            self.assert_refused(tag, "%s: [Install] %s=%s: a user's container may name only its "
                                "own units (%s.service, %s-*, %s@*)%s, not the user's other units"
                                % (s, key, unit, tag, tag, tag, extra))
        self.ctl("install", "--name", "ownreq", self.image("ownreq"))
        self.ctl("uninstall", "ownreq")

    def test_n10_host_commands_and_hooks(self):
        for tag, line in (("execpre", "ExecStartPre=/bin/sh -c 'echo pwn >> %h/.profile'"),
                          ("execpost", "ExecStartPost=-/usr/bin/touch /tmp/x")):
            s = self.template(tag, "service.template")
            key, value = line.split("=", 1)
            r = self.ctl("install", "--name", tag, self.image(tag), code=1)
            self.assertRegex(r.stderr.strip().splitlines()[-1],
                             "^syscontainerctl: error: %s: %s: a user's container's unit runs "
                             "nothing on the host but its runtime \\(/\\S+\\): remove the line, or "
                             "install the container as root$" % (s, _re(line)))
            self.assertFalse(os.path.lexists(os.path.join(self.root(), tag)))
        r = self.ctl("install", "--name", "execsemi", self.image("execsemi"), code=1)
        self.assertIn(": ExecStopPost=", r.stderr)
        self.assertIn("; /bin/rm -rf %h: a user's container's unit runs nothing on the host",
                      r.stderr)
        r = self.ctl("install", "--name", "execjoin", self.image("execjoin"), code=1)
        self.assertIn(" kill 'execjoin' \\: a user's container's unit runs nothing on the host "
                      "but its runtime", r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.root(), "execjoin")))
        r = self.ctl("install", "--name", "hooks", self.image("hooks"))
        c = self.template("hooks", "config.json.template")
        self.assertIn("warning: %s: hooks dropped: the runtime would run them on the host as you, "
                      "outside the container (a user's container runs no OCI hooks)" % c,
                      r.stderr)
        with open(os.path.join(self.root(), "hooks", "config.json")) as f:
            self.assertNotIn("hooks", json.load(f))
        self.ctl("uninstall", "hooks")

    # N2: uninstall of a container whose info is damaged
    def test_n2_damaged_info_user(self):
        self.ctl("install", "--name", "ci", self.image("v1"))
        with open(os.path.join(self.root(), "ci.0", "info"), "w") as f:
            f.write("TAMPER\n")
        self.ctl("uninstall", "ci")
        wants = os.path.join(self.units(), "default.target.wants")
        self.assertNotIn("ci.service", os.listdir(self.units()))
        self.assertNotIn("ci.service", os.listdir(wants) if os.path.isdir(wants) else [])
        self.assertNotIn("ci.conf", os.listdir(self.data("containers", "tmpfiles")))
        self.assertFalse([n for n in os.listdir(self.root()) if n.startswith("ci")])
        # a NAME.service with no copy in the slot is not known to be ours
        self.ctl("install", "--name", "cj", self.image("v1"))
        slot = os.path.join(self.root(), "cj.0")
        for f in ("info", "cj.service", "tmpfiles-cj.conf"):
            if os.path.exists(os.path.join(slot, f)):
                os.unlink(os.path.join(slot, f))
        unit = os.path.join(self.units(), "cj.service")
        r = self.ctl("uninstall", "cj", code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: container cj: its info in %s "
                         "cannot be read and no slot holds a copy of its unit: %s is not known "
                         "to be the container's; nothing was removed (remove it yourself if it "
                         "is, then uninstall again)" % (slot, unit))
        self.assertTrue(os.path.exists(unit))
        self.assertTrue(os.path.islink(os.path.join(self.root(), "cj")))
        self.assertTrue(os.path.exists(os.path.join(slot, "rootfs", "bin", "busybox")))
        os.unlink(unit)
        os.unlink(self.data("containers", "tmpfiles", "cj.conf"))
        self.ctl("uninstall", "cj")
        self.assertFalse(os.path.lexists(os.path.join(self.root(), "cj")))

    def test_n2_damaged_info_sysroot(self):
        sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.addCleanup(shutil.rmtree, sysroot)

        def ctl(*args, code=0):
            r = subprocess.run([CTL, "--sysroot", sysroot, *args], capture_output=True,
                               text=True, timeout=300)
            self.assertEqual(r.returncode, code, r.stderr)
            return r
        ctl("install", "--name", "ci", self.image("v1"))
        ck = os.path.join(sysroot, "var", "lib", "containers", "atomic")
        unit = os.path.join(sysroot, "etc", "systemd", "system", "ci.service")
        wants = os.path.join(sysroot, "etc", "systemd", "system", "multi-user.target.wants",
                             "ci.service")
        self.assertTrue(os.path.exists(unit))
        self.assertTrue(os.path.lexists(wants))
        with open(os.path.join(ck, "ci.0", "info"), "w") as f:
            f.write("TAMPER\n")
        ctl("uninstall", "ci")
        self.assertFalse(os.path.lexists(unit))
        self.assertFalse(os.path.lexists(wants))
        self.assertFalse(os.path.lexists(os.path.join(sysroot, "etc", "tmpfiles.d", "ci.conf")))
        self.assertFalse([n for n in os.listdir(ck) if n.startswith("ci")])

    # N3: directory modes across layers, as umoci unpacks them
    PRIV = ("root", "p2", "etc/ro", "etc/x", "srv", "srv/deep")

    def umoci_modes(self):
        dest = os.path.join(self.shared, "umoci-priv")
        if not os.path.exists(dest):
            il.run("umoci", "unpack", "--image", "%s:priv" % self.layout, dest)
        return {p: stat.S_IMODE(os.lstat(os.path.join(dest, "rootfs", p)).st_mode)
                for p in self.PRIV}

    def test_n3_modes_across_layers(self):
        want = self.umoci_modes()
        self.assertEqual(want, {"root": 0o700, "p2": 0o700, "etc/ro": 0o555, "etc/x": 0,
                                "srv": 0o755, "srv/deep": 0o711})
        self.ctl("install", "--name", "priv", self.image("priv"))
        rootfs = os.path.join(self.root(), "priv.0", "rootfs")
        got = {p: stat.S_IMODE(os.lstat(os.path.join(rootfs, p)).st_mode) for p in self.PRIV}
        # (a user's checkout: every directory also 0700 for its owner, as atomic)
        self.assertEqual(got, {p: m | 0o700 for p, m in want.items()})
        self.assertFalse(os.path.exists(os.path.join(rootfs, "root", ".hist")))
        self.assertEqual(sorted(os.listdir(os.path.join(rootfs, "p2"))), ["a", "b"])
        self.ctl("uninstall", "priv")
        sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.addCleanup(shutil.rmtree, sysroot)
        r = subprocess.run([CTL, "--sysroot", sysroot, "install", "--name", "priv",
                            self.image("priv")], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        rootfs = os.path.join(sysroot, "var/lib/containers/atomic/priv.0/rootfs")
        got = {p: stat.S_IMODE(os.lstat(os.path.join(rootfs, p)).st_mode) for p in self.PRIV}
        self.assertEqual(got, want)
        self.assertEqual(os.listdir(os.path.join(rootfs, "etc", "x")), [])
        for p in self.PRIV:
            self.assertNotIn("user.syscontainer.implicit-dir",
                             os.listxattr(os.path.join(rootfs, p)))

    # N4: a refused uninstall changes nothing
    def test_n4_refused_uninstall_changes_nothing(self):
        a = self.a
        self.ctl("install", "--name", "rm2", self.image("v1"))
        slot = os.path.join(self.root(), "rm2.0")
        rootfs = os.path.join(slot, "rootfs")
        r = a.run(["/bin/sh", "-ec", "cd %s && mkdir etc/ro etc/ro2 etc/ro2/in && chmod 500 bin "
                   "&& chmod 555 etc/ro && chmod 000 etc/ro2" % rootfs])
        self.assertEqual(r.returncode, 0, r.stderr)
        os.mkdir(os.path.join(rootfs, "etc", "aroot"))
        open(os.path.join(rootfs, "etc", "aroot", "f"), "w").close()
        modes = {p: stat.S_IMODE(os.lstat(os.path.join(rootfs, p)).st_mode)
                 for p in ("bin", "etc/ro", "etc/ro2", "etc")}
        unit = os.path.join(self.units(), "rm2.service")
        listed = json.loads(self.ctl("--json", "list").stdout)["containers"]
        r = self.ctl("--json", "uninstall", "rm2", code=1)
        self.assertEqual(json.loads(r.stdout), {"schema": 1, "containers": [{
            "name": "rm2", "code": "SC_EPERM",
            "error": "%s: cannot remove rootfs/etc/aroot: it belongs to uid 0, not to you "
                     "(uid %d); nothing was removed" % (slot, a.uid)}]})
        self.assertEqual({p: stat.S_IMODE(os.lstat(os.path.join(rootfs, p)).st_mode)
                          for p in modes}, modes)
        self.assertTrue(os.path.exists(unit))
        self.assertTrue(os.path.islink(os.path.join(self.root(), "rm2")))
        self.assertEqual(json.loads(self.ctl("--json", "list").stdout)["containers"], listed)
        self.assertEqual([c["state"] for c in listed if c["name"] == "rm2"], ["installed"])
        self.assertFalse([n for n in os.listdir(slot) if "journal" in n])
        shutil.rmtree(os.path.join(rootfs, "etc", "aroot"))
        self.ctl("uninstall", "rm2")
        self.assertFalse(os.path.lexists(os.path.join(self.root(), "rm2.0")))

    # N6: a name that shadows the session's (or the system's) units
    def test_n6_name_shadowing_units(self):
        a = self.a
        shadow = self.data("systemd", "user", "sess.service")
        os.makedirs(os.path.dirname(shadow))
        open(shadow, "w").close()
        rt = os.path.join(a.runtime, "systemd", "user")
        os.makedirs(rt)
        os.symlink("/dev/null", os.path.join(rt, "masked.service"))
        subprocess.run(["chown", "-R", "%d:%d" % (a.uid, a.gid), self.data("systemd"),
                        os.path.join(a.runtime, "systemd")], check=True)
        cases = [("sess", shadow), ("masked", os.path.join(rt, "masked.service"))]
        if os.path.exists("/usr/lib/systemd/user/dbus.service"):
            cases.append(("dbus", "/usr/lib/systemd/user/dbus.service"))
        for name, path in cases:
            r = self.ctl("install", "--name", name, self.image("v1"), code=1)
            self.assertEqual(r.stderr.strip(), "syscontainerctl: error: container name '%s': %s "
                             "exists, and the container's %s.service would take its place for "
                             "your systemd (your session's services): choose another --name"
                             % (name, path, name))
            self.assertFalse(os.path.lexists(os.path.join(self.units(), name + ".service")))
            self.assertFalse(os.path.lexists(os.path.join(self.root(), name)))
        # the system's, in a sysroot
        sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.addCleanup(shutil.rmtree, sysroot)
        os.makedirs(os.path.join(sysroot, "usr/lib/systemd/system"))
        open(os.path.join(sysroot, "usr/lib/systemd/system/sshd.service"), "w").close()
        r = subprocess.run([CTL, "--sysroot", sysroot, "install", "--name", "sshd",
                            self.image("v1")], capture_output=True, text=True, timeout=300)
        self.assertEqual((r.returncode, r.stderr.strip()), (1, "syscontainerctl: error: container "
                         "name 'sshd': %s/usr/lib/systemd/system/sshd.service exists, and the "
                         "container's sshd.service would take its place for the system's "
                         "systemd: choose another --name" % sysroot))
        self.assertFalse(os.path.lexists(os.path.join(sysroot, "etc/systemd/system/sshd.service")))

    # N11: the runtime directory's mode
    def test_n11_runtime_dir_mode(self):
        a = self.a
        for mode in (0o777, 0o1777, 0o720, 0o702):
            rt = tempfile.mkdtemp(prefix="sc-xdg-crt-")
            self.addCleanup(shutil.rmtree, rt)
            os.chown(rt, a.uid, a.gid)
            os.chmod(rt, mode)
            r = self.ctl("install", "--name", "rt1", self.image("v1"),
                         env=a.env(XDG_RUNTIME_DIR=rt), code=1)
            self.assertEqual(r.stderr.strip(), "syscontainerctl: error: user containers: "
                             "$XDG_RUNTIME_DIR %s has mode %04o: a user's runtime directory is "
                             "theirs alone, and no other user may write in it (0700, as "
                             "pam_systemd makes it): chmod 700 %s" % (rt, mode, rt))
            self.assertEqual(os.listdir(rt), [])
            self.assertFalse(os.path.lexists(os.path.join(self.root(), "rt1")))
        rt = tempfile.mkdtemp(prefix="sc-xdg-crt-")
        self.addCleanup(shutil.rmtree, rt)
        os.chown(rt, a.uid, a.gid)
        os.chmod(rt, 0o750)
        self.ctl("install", "--name", "rt1", self.image("v1"), env=a.env(XDG_RUNTIME_DIR=rt))
        self.ctl("uninstall", "rt1", env=a.env(XDG_RUNTIME_DIR=rt))

    # N12: messages
    def test_n12_messages(self):
        a = self.a
        private = tempfile.mkdtemp(prefix="sc-root-private-")  # root's, 0700
        self.addCleanup(shutil.rmtree, private)
        r = self.ctl("install", "--name", "m1", self.image("v1"),
                     env=a.env(XDG_DATA_HOME=private), code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: user containers: %s belongs "
                         "to uid 0, not to you (uid %d): a user uses only a store and checkout "
                         "root of their own" % (private, a.uid))
        self.ctl("install", "--name", "m1", self.image("v1"))
        slot = os.path.join(self.root(), "m1.0")
        r = self.ctl("--user", "--checkout-root", os.path.join(slot, "sub"), "install",
                     "--name", "m2", self.image("v1"), code=1)
        self.assertEqual(r.stderr.strip(), "syscontainerctl: error: user containers: checkout "
                         "root %s/sub is inside %s, the deployment slot of container m1: choose "
                         "a directory of your own outside any container" % (slot, slot))
        self.ctl("uninstall", "m1")
        # mount: the context's error first, as every verb
        target = tempfile.mkdtemp(prefix="sc-mnt-")
        self.addCleanup(shutil.rmtree, target)
        os.chown(target, a.uid, a.gid)
        r_list = self.ctl("list", env=a.env(HOME="/"), code=1)
        r = self.ctl("mount", "x", target, env=a.env(HOME="/"), code=1)
        self.assertEqual(r.stderr, r_list.stderr)
        self.assertTrue(r.stderr.startswith("syscontainerctl: error: user containers: "))


def _re(s):
    return re.escape(s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
