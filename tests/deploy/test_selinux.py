"""SELinux labels without an SELinux kernel (docs/security.md, "SELinux labels"):
a sysroot with Debian's selinux-policy-default copied into it; after install,
update and rollback, the security.selinux xattr of every file of the checkout,
of the rootfs directory, of the host files, the unit and the tmpfiles file is
what the SYSROOT's policy gives for the path the file has on the host. The
expected labels come from matchpathcon (selinux-utils), not from our code.
Without a policy, or with SELINUX=disabled, no file anywhere has the xattr.
A malformed policy is an error naming the file; a hostile sysroot's links
never reach the host's own policy."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import imagelib as il  # noqa: E402
import tarcraft as tc  # noqa: E402
from test_deploy import CONFIG, SERVICE, build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
HOST_POLICY = "/etc/selinux/default"
XATTR = "security.selinux"
# in the sysroot's copy of the policy only: proves which policy labelled
LOCAL_LABEL = "system_u:object_r:sysroot_only_t:s0"
KINDS = {"d": "dir", "f": "file", "l": "lnk_file"}
TMPFILES = "d /var/lib/$NAME 0750 root root -\n"


def kind(path):
    return "l" if os.path.islink(path) else "d" if os.path.isdir(path) else "f"


def label(path):
    """The raw label of @path (never followed), None without one."""
    try:
        v = os.getxattr(path, XATTR, follow_symlinks=False)
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise
    assert v.endswith(b"\0"), (path, v)  # as setfilecon and OSTree write it
    return v[:-1].decode()


def walk(root):
    """Every path below @root (not @root), links not followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            yield os.path.join(dirpath, n)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc") and
                     shutil.which("matchpathcon") and os.path.isdir(HOST_POLICY),
                     "needs root, umoci, runc, matchpathcon and selinux-policy-default")
class SelinuxTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-selinux-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        files = {"usr/bin/tool": "#!/bin/sh\necho tool\n",
                 "usr/sbin/daemon": "daemon\n",
                 "var/lib/thing/data": "data\n",
                 "exports/hostfs/usr/bin/hosttool": "host tool\n",
                 "exports/hostfs/etc/greeter/greeter.conf": "name=$NAME\n",
                 "exports/hostfs/usr/share/doc/NAME/README": "readme\n",
                 "exports/tmpfiles.template": TMPFILES}
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hi"},
                                 "installedFilesTemplate": ["/etc/greeter/greeter.conf"]},
              files, symlinks=[("exports/hostfs/usr/bin/hostlink", "hosttool")])
        files2 = dict(files)
        files2.update({"usr/bin/tool": "tool v2\n", "usr/bin/added": "added\n",
                       "exports/hostfs/usr/bin/hosttool": "host tool v2\n",
                       "exports/hostfs/usr/libexec/new": "new in v2\n"})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hi"},
                                 "installedFilesTemplate": ["/etc/greeter/greeter.conf"]},
              files2, symlinks=[("exports/hostfs/usr/bin/hostlink", "hosttool")])
        cls.v1 = "oci:%s:v1" % cls.layout
        cls.v2 = "oci:%s:v2" % cls.layout
        # a layer of its own: a label of the layer's (replaced by the policy's,
        # other xattrs kept), directories it implies without entries, and a
        # host file below exports/hostfs whose directories have no entries
        evil = [(b"SCHILY.xattr.security.selinux", b"system_u:object_r:shadow_t:s0\0"),
                (b"SCHILY.xattr.user.keep", b"1")]
        il.add_layer(cls.layout, "v1", tc.end([
            tc.member("usr/bin/evil", b"evil\n", mode=0o755, pax=evil),
            tc.member("opt/implied/deep/file", b"deep\n"),
            tc.member("exports/hostfs/srv/implied/file", b"srv\n")]), new_tag="crafted")
        cls.crafted = "oci:%s:crafted" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-selinux-")
        self.ck = os.path.join(self.sysroot, "var/lib/containers/atomic")
        self.fc = os.path.join(self.sysroot, "etc/selinux/default/contexts/files/file_contexts")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def ctl(self, *args, check=True):
        r = subprocess.run([CTL, "--sysroot", self.sysroot, *args], capture_output=True,
                           text=True, timeout=300)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %d %s%s" % (" ".join(args), r.returncode, r.stdout,
                                                       r.stderr))
        return r

    def add_policy(self, mode="permissive"):
        os.makedirs(os.path.join(self.sysroot, "etc/selinux"), exist_ok=True)
        subprocess.run(["cp", "-a", HOST_POLICY, os.path.join(self.sysroot, "etc/selinux/")],
                       check=True)
        with open(os.path.join(self.sysroot, "etc/selinux/config"), "w") as f:
            f.write("# the sysroot's own\nSELINUX=%s\nSELINUXTYPE=default\nSETLOCALDEFS=0\n"
                    % mode)
        with open(self.fc + ".local", "w") as f:
            f.write("/usr/bin/tool\t--\t%s\n" % LOCAL_LABEL)

    def expected(self, items):
        """{path: label} of the sysroot's policy for (path, kind) pairs, by
        matchpathcon, one call per kind."""
        out = {}
        for k in "dfl":
            paths = sorted({p for p, kk in items if kk == k})
            if not paths:
                continue
            r = subprocess.run(["matchpathcon", "-n", "-f", self.fc, "-m", KINDS[k], *paths],
                               capture_output=True, text=True, check=True)
            labels = r.stdout.splitlines()
            self.assertEqual(len(labels), len(paths), r.stdout + r.stderr)
            out.update(zip(paths, labels))
        return out

    def host(self, path):
        """The path a file of the sysroot has on the host it makes."""
        return "/" + os.path.relpath(path, self.sysroot)

    def assert_labelled(self, name, slot):
        """Every file of the deployment, of its checkout and the host files
        it installed labelled as the sysroot's policy gives their host paths."""
        slot_dir = os.path.join(self.ck, "%s.%d" % (name, slot))
        rootfs = os.path.join(slot_dir, "rootfs")
        with open(os.path.join(slot_dir, "info")) as f:
            info = json.load(f)
        want, items = {}, []
        # the layers' files: the path inside the container, exports/hostfs/X as /X
        for p in walk(rootfs):
            rel = "/" + os.path.relpath(p, rootfs)
            if rel.startswith("/exports/hostfs/"):
                rel = rel[len("/exports/hostfs"):]
            items.append((rel, kind(p)))
            want[p] = (rel, kind(p))
        # the rootfs directory: "/"
        items.append(("/", "d"))
        want[rootfs] = ("/", "d")
        # the deployment's own files and directories, the host's files: their host path
        own = [slot_dir, self.ck] + [os.path.join(slot_dir, n) for n in os.listdir(slot_dir)
                                     if n != "rootfs"]
        own += [os.path.join(self.sysroot, "etc/systemd/system/%s.service" % name),
                os.path.join(self.sysroot, "etc/tmpfiles.d/%s.conf" % name)]
        own += [os.path.join(self.sysroot, f.lstrip("/")) for f in info["installed-files"]]
        for p in own:
            self.assertTrue(os.path.lexists(p), p)
            items.append((self.host(p), kind(p)))
            want[p] = (self.host(p), kind(p))
        exp = self.expected(items)
        got = {p: label(p) for p in want}
        self.assertEqual(got, {p: exp[want[p][0]] for p in want})
        # the sysroot's policy, not the host's (which lacks this entry)
        self.assertEqual(label(os.path.join(rootfs, "usr/bin/tool")), LOCAL_LABEL)
        self.assertEqual(label(rootfs), "system_u:object_r:root_t:s0")
        self.assertEqual(label(os.path.join(self.sysroot, "etc/systemd/system/%s.service"
                                            % name)), "system_u:object_r:systemd_unit_t:s0")
        self.assertEqual(label(os.path.join(self.sysroot, "usr/bin/hosttool")),
                         "system_u:object_r:bin_t:s0")
        # what a checkout hardlinks is the store's object: labelled in the store
        return info

    def assert_unlabelled(self):
        bad = [p for p in walk(self.sysroot) if label(p) is not None]
        self.assertEqual(bad, [])

    def test_install_update_rollback_labelled(self):
        self.add_policy()
        self.ctl("install", "--name", "app", self.v1)
        info = self.assert_labelled("app", 0)
        self.assertIn("/usr/share/doc/NAME/README", info["installed-files"])
        # a template-rendered host file too
        self.assertEqual(label(os.path.join(self.sysroot, "etc/greeter/greeter.conf")),
                         "system_u:object_r:etc_t:s0")
        self.ctl("update", "--accept-privileges", "--rebase", self.v2, "app")
        self.assertEqual(os.readlink(os.path.join(self.ck, "app")),
                         "/var/lib/containers/atomic/app.1")
        info = self.assert_labelled("app", 1)
        self.assertIn("/usr/libexec/new", info["installed-files"])
        self.ctl("rollback", "app")
        self.assertEqual(os.readlink(os.path.join(self.ck, "app")),
                         "/var/lib/containers/atomic/app.0")
        self.assert_labelled("app", 0)
        self.assertFalse(os.path.lexists(os.path.join(self.sysroot, "usr/libexec/new")))
        self.ctl("uninstall", "app")

    def test_layer_labels_replaced_and_implied(self):
        self.add_policy()
        self.ctl("install", "--name", "app", self.crafted)
        self.assert_labelled("app", 0)
        rootfs = os.path.join(self.ck, "app.0/rootfs")
        evil = os.path.join(rootfs, "usr/bin/evil")
        self.assertEqual(label(evil), "system_u:object_r:bin_t:s0")
        self.assertEqual(os.getxattr(evil, "user.keep"), b"1")
        self.assertEqual(label(os.path.join(rootfs, "opt/implied/deep")),
                         self.expected([("/opt/implied/deep", "d")])["/opt/implied/deep"])
        # /srv/implied: labelled as the host's /srv/implied, in the layer and on the host
        exp = self.expected([("/srv/implied", "d"), ("/srv/implied/file", "f")])
        self.assertEqual(label(os.path.join(rootfs, "exports/hostfs/srv/implied")),
                         exp["/srv/implied"])
        self.assertEqual(label(os.path.join(self.sysroot, "srv/implied/file")),
                         exp["/srv/implied/file"])
        self.assertNotEqual(exp["/srv/implied"], self.expected([("/exports/hostfs/srv/implied",
                                                                  "d")])
                            ["/exports/hostfs/srv/implied"])

    def test_remote_rootfs(self):
        """--rootfs: the slot's link labelled as its path; the other root's files
        are not touched."""
        self.add_policy()
        os.makedirs(os.path.join(self.sysroot, "srv/root/usr"))
        link = "/var/lib/containers/atomic/gr.0/rootfs"
        slot = "/var/lib/containers/atomic/gr.0"
        exp = self.expected([(link, "l"), (slot, "d"), (slot + "/config.json", "f")])
        doc = json.loads(self.ctl("--json", "install", "--dry-run", "--name", "gr", "--rootfs",
                                  "/srv/root", self.v1).stdout)
        self.assertEqual(doc["selinux_labels"][link], exp[link])
        self.ctl("install", "--name", "gr", "--rootfs", "/srv/root", self.v1)
        self.assertEqual(os.readlink(os.path.join(self.sysroot, link.lstrip("/"))), "/srv/root")
        for p in (link, slot, slot + "/config.json"):
            self.assertEqual(label(os.path.join(self.sysroot, p.lstrip("/"))), exp[p], p)
        self.assertEqual([label(os.path.join(self.sysroot, p)) for p in ("srv/root",
                                                                          "srv/root/usr")],
                         [None, None])

    def test_enforcing_and_store_objects(self):
        self.add_policy("enforcing")
        self.ctl("install", "--name", "app", self.v1)
        self.assert_labelled("app", 0)
        # the store's objects carry the labels (bare repository): fsck passes
        repo = os.path.join(self.ck, ".storage/ostree")
        subprocess.run(["ostree", "fsck", "--repo", repo], check=True, capture_output=True)
        self.assertEqual(label(os.path.join(self.ck, ".storage")),
                         self.expected([("/var/lib/containers/atomic/.storage", "d")])
                         ["/var/lib/containers/atomic/.storage"])

    def dry_run_labels(self):
        self.ctl("pull", self.v1)  # (the store, and so the checkout root, exist)
        r = self.ctl("install", "--dry-run", "--name", "app", self.v1)
        lines = [l for l in r.stdout.splitlines() if l.startswith("label ")]
        doc = json.loads(self.ctl("--json", "install", "--dry-run", "--name", "app",
                                  self.v1).stdout)
        return lines, doc

    def test_dry_run_lists_labels(self):
        self.add_policy()
        lines, doc = self.dry_run_labels()
        labels = doc["selinux_labels"]
        slot = "/var/lib/containers/atomic/app.0"
        paths = {slot: "d", slot + "/rootfs": "d", slot + "/config.json": "f",
                 slot + "/info": "f", slot + "/app.service": "f",
                 slot + "/tmpfiles-app.conf": "f",
                 "/etc/systemd/system/app.service": "f", "/etc/tmpfiles.d/app.conf": "f",
                 "/usr/bin/hosttool": "f", "/usr/bin/hostlink": "l",
                 "/etc/greeter/greeter.conf": "f", "/usr/share/doc/NAME/README": "f",
                 "/var/lib/containers/atomic/app": "l"}
        exp = self.expected([(p if p != slot + "/rootfs" else "/", k)
                             for p, k in paths.items()])
        want = {p: exp[p if p != slot + "/rootfs" else "/"] for p in paths}
        # (directories the host files need are created too; their labels listed)
        extra = {p: l for p, l in labels.items() if p not in want}
        self.assertEqual({p: labels[p] for p in want if p in labels}, want)
        dirs = self.expected([(p, "d") for p in extra])
        self.assertEqual(extra, dirs)
        # (and those the unit and tmpfiles file need: a fresh image root)
        self.assertEqual(set(extra), {"/etc/greeter", "/usr/share/doc", "/usr/share/doc/NAME",
                                      "/usr/bin", "/usr/share", "/usr", "/usr/share/empty",
                                      "/etc/systemd", "/etc/systemd/system", "/etc/tmpfiles.d"})
        self.assertEqual(sorted(lines), sorted("label %s %s" % kv for kv in labels.items()))
        self.assertIn("label /etc/systemd/system/app.service "
                      "system_u:object_r:systemd_unit_t:s0", lines)
        # nothing was written
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd")))

    def test_no_policy_no_labels(self):
        lines, doc = self.dry_run_labels()
        self.assertEqual(lines, [])
        self.assertNotIn("selinux_labels", doc)
        self.ctl("install", "--name", "app", self.v1)
        self.ctl("update", "--accept-privileges", "--rebase", self.v2, "app")
        self.ctl("rollback", "app")
        r = self.ctl("list")
        self.assertNotIn("label", r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.sysroot, "usr/bin/hosttool")))
        self.assert_unlabelled()

    def test_disabled_no_labels(self):
        self.add_policy("disabled")
        lines, doc = self.dry_run_labels()
        self.assertEqual((lines, "selinux_labels" in doc), ([], False))
        self.ctl("install", "--name", "app", self.v1)
        self.assertTrue(os.path.exists(os.path.join(self.sysroot, "usr/bin/hosttool")))
        # the policy files copied in came from the host with no xattr: none anywhere
        self.assert_unlabelled()

    def snapshot(self):
        return {p: (os.lstat(p).st_mode, os.lstat(p).st_mtime_ns, label(p))
                for p in walk(self.sysroot)}

    def assert_refused(self, message):
        before = self.snapshot()
        r = self.ctl("install", "--name", "app", self.v1, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip().splitlines()[-1], "syscontainerctl: error: " + message)
        # nothing installed, nothing stored, nothing created (not the checkout root)
        self.assertEqual(self.snapshot(), before)

    def test_malformed_config(self):
        self.add_policy()
        config = os.path.join(self.sysroot, "etc/selinux/config")
        cases = [("SELINUX=bogus\nSELINUXTYPE=default\n",
                  "%s: line 1: SELINUX=bogus: expected enforcing, permissive or disabled"),
                 ("SELINUXTYPE=default\n",
                  "%s: no SELINUX= line (enforcing, permissive or disabled)"),
                 ("SELINUX=enforcing\n", "%s: SELINUX=enforcing but no SELINUXTYPE= line"),
                 ("SELINUX=enforcing\nSELINUXTYPE=../../..\n",
                  "%s: line 2: SELINUXTYPE='../../..' is not a policy name"),
                 ("# c\nSELINUX permissive\n", "%s: line 2: 'SELINUX permissive' is not "
                  "KEY=VALUE")]
        for text, msg in cases:
            with self.subTest(text=text):
                with open(config, "w") as f:
                    f.write(text)
                self.assert_refused(msg % config)

    def test_missing_or_bad_file_contexts(self):
        self.add_policy()
        config = os.path.join(self.sysroot, "etc/selinux/config")
        os.unlink(self.fc)
        self.assert_refused("%s: missing: the policy SELINUXTYPE=default that %s names has no "
                            "file contexts" % (self.fc, config))
        # a link to a file outside resolves inside the sysroot: still missing
        outside = tempfile.mkdtemp(prefix="sc-selinux-outside-")
        self.addCleanup(shutil.rmtree, outside)
        shutil.copy(os.path.join(HOST_POLICY, "contexts/files/file_contexts"), outside)
        os.symlink(os.path.join(outside, "file_contexts"), self.fc)
        self.assert_refused("%s: missing: the policy SELINUXTYPE=default that %s names has no "
                            "file contexts" % (self.fc, config))
        os.unlink(self.fc)
        with open(self.fc, "w") as f:
            f.write("/bin\t--\tsystem_u:object_r:bin_t:s0\n/usr(/.*)?\n")
        self.assert_refused("%s: not a valid file contexts file: %s:  line 2 is missing fields"
                            % (self.fc, self.fc))
        os.mkfifo(self.fc + ".local.x")  # (not read: only libselinux's own names are)
        os.unlink(self.fc)
        os.mkfifo(self.fc)
        self.assert_refused("%s: not a regular file" % self.fc)

    def test_hostile_links_stay_inside(self):
        """etc/selinux a link out of the sysroot, to a directory of this
        machine that holds a valid policy: resolved inside the sysroot, where
        there is none; nothing labelled."""
        outside = tempfile.mkdtemp(prefix="sc-selinux-outside-")
        self.addCleanup(shutil.rmtree, outside)
        subprocess.run(["cp", "-a", HOST_POLICY, outside], check=True)
        with open(os.path.join(outside, "config"), "w") as f:
            f.write("SELINUX=enforcing\nSELINUXTYPE=default\n")
        os.makedirs(os.path.join(self.sysroot, "etc"))
        link = os.path.join(self.sysroot, "etc/selinux")
        for target in (outside, "../../../../../../../.." + outside):
            with self.subTest(target=target):
                os.symlink(target, link)
                self.ctl("install", "--name", "app", self.v1)
                self.assert_unlabelled()
                self.ctl("uninstall", "app")
                os.unlink(link)
        # the host's own /etc/selinux is, inside the sysroot, the link itself: a loop
        os.symlink("/etc/selinux", link)
        self.assert_refused("%s/config: cannot open: 'etc/selinux/config': too many levels of "
                            "symbolic links, or a link through /proc (a magic link)" % link)
        os.unlink(link)
        # the config in the sysroot, its policy directory a link out
        os.makedirs(link)
        with open(os.path.join(link, "config"), "w") as f:
            f.write("SELINUX=enforcing\nSELINUXTYPE=default\n")
        os.symlink(os.path.join(outside, "default"), os.path.join(link, "default"))
        self.assert_refused("%s: missing: the policy SELINUXTYPE=default that %s names has no "
                            "file contexts" % (self.fc, os.path.join(link, "config")))

    def binding(self):
        """What the Python binding's Context.selinux_policy says for the
        sysroot: (policy or None, error or None). In a child: a sanitized
        library needs its runtime preloaded into python."""
        code = ("import syscontainer, json\n"
                "try:\n"
                "    with syscontainer.Context(sysroot=%r) as c:\n"
                "        print(json.dumps([c.selinux_policy, None]))\n"
                "except syscontainer.Error as e:\n"
                "    print(json.dumps([None, [e.code, e.message]]))\n" % self.sysroot)
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
        return tuple(json.loads(r.stdout))

    def test_binding_reports_policy(self):
        self.assertEqual(self.binding(), (None, None))
        self.add_policy()
        self.assertEqual(self.binding(), ("default", None))
        config = os.path.join(self.sysroot, "etc/selinux/config")
        with open(config, "w") as f:
            f.write("SELINUX=disabled\n")
        self.assertEqual(self.binding(), (None, None))
        with open(config, "w") as f:
            f.write("SELINUX=on\n")
        self.assertEqual(self.binding(), (None, ["SC_EINVAL", "%s: line 1: SELINUX=on: expected "
                                                 "enforcing, permissive or disabled" % config]))
        os.unlink(self.fc)
        with open(config, "w") as f:
            f.write("SELINUX=permissive\nSELINUXTYPE=default\n")
        self.assertEqual(self.binding(), (None, ["SC_ENOTFOUND", "%s: missing: the policy "
                                                 "SELINUXTYPE=default that %s names has no file "
                                                 "contexts" % (self.fc, config)]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
