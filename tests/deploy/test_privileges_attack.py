"""Attacks on the privilege review (docs/security.md, "Privilege review"),
as an image author who controls v2 would make them: each update gains
power over the host in a way the first review did not see, and must be
refused, with nothing changed, unless --accept-privileges. Containers in a
sysroot (systemd offline)."""

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
from test_deploy import SysrootCtl, build, tree  # noqa: E402
from test_privileges import MANIFEST, SERVICE, config  # noqa: E402



def edited(text, change):
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc, indent=1)


DATA_RO = {"destination": "/data", "type": "bind", "source": "$DATA", "options": ["rbind", "ro"]}
BASE_CONFIG = config(mounts=[DATA_RO])
SET_MANIFEST = dict(MANIFEST, defaultValues={"GREETING": "x", "DATA": "/var/lib/data"})

# tag -> (config.json, extra files, symlinks, what the review says was added)
ATTACKS = {
    # the unit runs the runtime in another bundle: the image's own
    # config.json, never reviewed
    "bundle": (BASE_CONFIG, {"exports/service.template": SERVICE.replace(
        "[Install]", "WorkingDirectory=$DESTDIR/rootfs/evil\n[Install]"),
        "evil/config.json": "{}\n"}, (),
        ["unit sets WorkingDirectory=$DESTDIR/rootfs/evil on the host"]),
    # the runtime (root, on the host) loads the image's library
    "preload": (BASE_CONFIG, {"exports/service.template": SERVICE.replace(
        "[Install]", "Environment=LD_PRELOAD=$DESTDIR/rootfs/x.so\n[Install]")}, (),
        ["unit sets Environment=LD_PRELOAD=$DESTDIR/rootfs/x.so on the host"]),
    # a bind of the image's own file, which is a symlink to the host's /
    "symlink": (config(mounts=[DATA_RO, {"destination": "/h", "type": "bind",
                                         "source": "rootfs/hostlink", "options": ["rbind"]}]),
                {}, (("hostlink", "/"),),
                ["mount $DESTDIR/rootfs/hostlink:/h read-write added"]),
    # the same read-only bind, made read-write by a later option
    "rorw": (config(mounts=[dict(DATA_RO, options=["rbind", "ro", "rw"])]), {}, (),
             ["mount /var/lib/data:/data made read-write"]),
    # the network namespace listed twice, once the host's
    "nsdup": (edited(BASE_CONFIG, lambda c: c["linux"]["namespaces"].append(
        {"type": "network", "path": "/proc/1/ns/net"})), {}, (),
        ["host network namespace shared"]),
    # starting it starts a root shell on tty9
    "wants": (BASE_CONFIG, {"exports/service.template": SERVICE.replace(
        "[Service]", "Wants=debug-shell.service\n[Service]")}, (),
        ["unit sets Wants=debug-shell.service on the host"]),
    # a disk of the host, no bind at all
    "disk": (config(mounts=[DATA_RO, {"destination": "/d", "type": "ext4",
                                      "source": "/dev/sda1"}]), {}, (),
             ["mount ext4 /dev/sda1:/d read-write added"]),
}


class PrivilegesAttackTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.getuid() != 0 or not shutil.which("umoci") or not shutil.which("runc"):
            raise unittest.SkipTest("needs root, umoci and runc")
        cls.shared = tempfile.mkdtemp(prefix="sc-privatk-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        base = {"exports/config.json.template": BASE_CONFIG, "exports/service.template": SERVICE,
                "exports/hostfs/etc/priv/old.conf": "old\n"}
        build(cls.layout, "v1", SET_MANIFEST, base, hostfs=False)
        # a sudoers.d file: the same in sudo1 and sudo1b, widened in sudo2
        for tag, rule in (("sudo1", "c ALL=(root) /bin/true\n"),
                          ("sudo1b", "c ALL=(root) /bin/true\n"),
                          ("sudo2", "c ALL=(ALL) NOPASSWD: ALL\n")):
            build(cls.layout, tag, SET_MANIFEST,
                  dict(base, **{"exports/hostfs/etc/sudoers.d/c": rule,
                                "etc/" + tag: tag + "\n"}), hostfs=False)
        for tag, (conf, extra, links, _) in ATTACKS.items():
            build(cls.layout, tag, SET_MANIFEST,
                  dict(base, **{"exports/config.json.template": conf}, **extra), hostfs=False,
                  symlinks=links)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.ck = os.path.join(self.sysroot, "var", "lib", "containers", "atomic")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def img(self, tag):
        return "oci:%s:%s" % (self.layout, tag)

    def image_id(self, tag):
        return json.loads(self.ctl("--json", "images", "inspect", self.img(tag)).stdout)["id"]

    def refused(self, args, name, added):
        """update ARGS refused naming ADDED, nothing changed; --dry-run
        shows the same and changes nothing either."""
        before = tree(self.sysroot)
        r = self.ctl("update", *args, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("container c: the update to %s adds privileges: %s; nothing was changed "
                      "(review them with update --dry-run, accept them with --accept-privileges)"
                      % (name, "; ".join(added)), r.stderr)
        self.assertEqual(tree(self.sysroot), before)
        doc = json.loads(self.ctl("--json", "update", "--dry-run", *args).stdout)
        self.assertEqual([a["text"] for a in doc["privileges"]["added"]], added)
        self.assertEqual(tree(self.sysroot), before)

    def test_attacks_refused(self):
        self.ctl("install", "--name", "c", self.img("v1"))
        for tag, (_, _, _, added) in ATTACKS.items():
            with self.subTest(tag=tag):
                self.ctl("pull", self.img(tag))
                self.refused(["--rebase", self.img(tag), "c"],
                             "localhost/layout:%s (%.12s)" % (tag, self.image_id(tag)), added)

    def test_set_value_reviewed(self):
        """A value is the admin's, but a template turns it into a mount: an
        update with --set is reviewed like any other."""
        self.ctl("install", "--name", "c", self.img("v1"))
        self.refused(["--set", "DATA=/", "c"],
                     "localhost/layout:v1 (%.12s)" % self.image_id("v1"),
                     ["mount /:/data read-only added"])
        doc = json.loads(self.ctl("--json", "update", "--accept-privileges", "--set", "DATA=/",
                                  "c").stdout)
        self.assertTrue(doc["updated"])
        self.assertEqual(doc["privileges"]["removed"],
                         [{"kind": "mount", "text": "mount /var/lib/data:/data read-only removed"}])

    def test_privileged_host_file_changed(self):
        """The same host file in a place where its content is privilege
        (sudoers.d), with other content, is refused; unchanged, not asked."""
        self.ctl("install", "--name", "c", self.img("sudo1"))
        doc = json.loads(self.ctl("--json", "update", "--rebase", self.img("sudo1b"),
                                  "c").stdout)
        self.assertTrue(doc["updated"])
        self.assertEqual(doc["privileges"], {"added": [], "removed": []})
        self.ctl("pull", self.img("sudo2"))
        self.refused(["--rebase", self.img("sudo2"), "c"],
                     "localhost/layout:sudo2 (%.12s)" % self.image_id("sudo2"),
                     ["host file /etc/sudoers.d/c changed"])
        self.assertEqual(self.read("etc/sudoers.d/c"), "c ALL=(root) /bin/true\n")
        self.ctl("update", "--accept-privileges", "--rebase", self.img("sudo2"), "c")
        self.assertEqual(self.read("etc/sudoers.d/c"), "c ALL=(ALL) NOPASSWD: ALL\n")

    def test_symlink_bind_same_in_both_slots(self):
        """The image's own file bound in both versions is no change, though
        the slot differs (c.0, then c.1)."""
        self.ctl("install", "--name", "c", self.img("symlink"))
        doc = json.loads(self.ctl("--json", "update", "--rebase", self.img("symlink"), "c",
                                  "--set", "GREETING=y").stdout)
        self.assertTrue(doc["updated"])
        self.assertEqual(doc["privileges"], {"added": [], "removed": []})


if __name__ == "__main__":
    unittest.main()
