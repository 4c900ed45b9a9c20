"""Automatic updates in a sysroot (docs/containers.md, "Automatic updates"):
who opted in (install --auto-update, update --auto-update, the image's
io.containers.autoupdate label), update --all --auto pulling from the
loopback registry and updating only those, its dry run asking the registry
without pulling, and the refusals (bad policy, --all with a policy, an image
that did not come from a registry)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402
from test_deploy import SysrootCtl, build, tree  # noqa: E402

LABEL = "io.containers.autoupdate"


def have(*tools):
    return all(shutil.which(t) for t in tools)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "skopeo", "docker-registry", "runc"),
                     "needs root, umoci, skopeo, docker-registry and runc")
class AutoUpdateTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-autoupdate-")
        cls.layout = os.path.join(cls.shared, "layout")
        for tag in ("v1", "v2"):
            build(cls.layout, tag, {"defaultValues": {"GREETING": tag}},
                  {"etc/motd": "motd %s\n" % tag})
            build(cls.layout, "lab" + tag, {"defaultValues": {"GREETING": tag}},
                  {"etc/motd": "labelled %s\n" % tag})
            il.run("umoci", "config", "--image", "%s:lab%s" % (cls.layout, tag),
                   "--config.label", LABEL + "=registry")
        cls.registry = rg.Registry(cls.shared)
        cls.app = cls.registry.host + "/sys/app:latest"
        cls.lab = cls.registry.host + "/sys/lab:latest"

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-sysroot-")
        self.ck = os.path.join(self.sysroot, "var", "lib", "containers", "atomic")
        self.push("v1", self.app)
        self.push("labv1", self.lab)

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def push(self, tag, ref):
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:%s" % (self.layout, tag),
               "docker://" + ref)

    def js(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def slot(self, name):
        """The current deployment (NAME links to it by its path on the host)."""
        return os.path.join(self.ck, os.path.basename(os.readlink(os.path.join(self.ck, name))))

    def policy(self, name):
        with open(os.path.join(self.slot(name), "info")) as f:
            return json.load(f)["auto-update"]

    def motd(self, name):
        with open(os.path.join(self.slot(name), "rootfs", "etc", "motd")) as f:
            return f.read()

    def install_four(self):
        self.ctl("install", "--tls-verify=false", "--name", "opt", "--auto-update=registry",
                 self.app)
        self.ctl("install", "--name", "plain", self.app)
        self.ctl("install", "--tls-verify=false", "--name", "lab", self.lab)
        self.ctl("install", "--name", "labno", "--auto-update", "disabled", self.lab)

    def test_who_opted_in(self):
        self.install_four()
        self.assertEqual(self.policy("opt"), {"policy": "registry", "from": "option"})
        self.assertEqual(self.policy("plain"), {"policy": "disabled", "from": "default"})
        self.assertEqual(self.policy("lab"), {"policy": "registry", "from": "label"})
        self.assertEqual(self.policy("labno"), {"policy": "disabled", "from": "option"})
        # update --auto-update with nothing else to change: the current info
        # a dry run records nothing
        before = tree(self.sysroot)
        # (and both say what they set: trial15-report D11)
        r = self.ctl("update", "plain", "--auto-update=registry", "--dry-run")
        self.assertEqual(r.stdout, "plain: latest version already installed\n"
                         "plain: would set automatic updates: registry (was disabled)\n")
        self.assertEqual(tree(self.sysroot), before)
        r = self.ctl("update", "plain", "--auto-update=registry")
        self.assertEqual(r.stdout, "plain: latest version already installed\n"
                         "plain: automatic updates: registry (was disabled)\n")
        self.assertEqual(self.policy("plain"), {"policy": "registry", "from": "option"})
        self.ctl("update", "plain", "--auto-update=disabled")
        self.assertEqual(self.policy("plain"), {"policy": "disabled", "from": "option"})

    def test_auto_updates_only_the_opted_in(self):
        self.install_four()
        self.push("v2", self.app)
        self.push("labv2", self.lab)
        # the dry run asks the registry, pulls nothing, changes nothing
        before = tree(self.sysroot, skip="")
        r = self.ctl("update", "--all", "--auto", "--dry-run", "--tls-verify=false")
        self.assertEqual(r.stdout.splitlines(), [
            "lab: would update to " + self.remote_id(self.lab)[:12],
            "labno: skipped: not opted in",
            "opt: would update to " + self.remote_id(self.app)[:12],
            "plain: skipped: not opted in"])
        self.assertEqual(tree(self.sysroot, skip=""), before)
        r = self.ctl("update", "--all", "--auto", "--tls-verify=false")
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^lab: updated to [0-9a-f]{12} \(/var/lib/containers/atomic/lab\.1\)$")
        self.assertEqual(lines[1:3], ["labno: skipped: not opted in", lines[2]])
        self.assertRegex(lines[2], r"^opt: updated to [0-9a-f]{12} \(/var/lib/containers/atomic/opt\.1\)$")
        self.assertEqual(lines[3], "plain: skipped: not opted in")
        self.assertEqual(self.motd("opt"), "motd v2\n")
        self.assertEqual(self.motd("lab"), "labelled v2\n")
        self.assertEqual(self.motd("plain"), "motd v1\n")
        self.assertEqual(self.motd("labno"), "labelled v1\n")
        # the policy chosen at install stays through the update
        self.assertEqual(self.policy("opt"), {"policy": "registry", "from": "option"})
        self.assertEqual(self.policy("lab"), {"policy": "registry", "from": "label"})
        # a second run: nothing new
        doc = self.js("update", "--all", "--auto", "--tls-verify=false")["containers"]
        self.assertEqual({c["name"]: (c["updated"], c.get("skipped", False)) for c in doc},
                         {"lab": (False, False), "labno": (False, True),
                          "opt": (False, False), "plain": (False, True)})

    def remote_id(self, ref):
        return self.js("images", "inspect", "--remote", "--tls-verify=false", ref)["id"]

    def test_refusals(self):
        r = self.ctl("install", "--auto-update=sometimes", self.app, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith("syscontainerctl: install: --auto-update 'sometimes': "
                                            "expected registry or disabled\nUsage: "), r.stderr)
        self.assertFalse(os.path.exists(self.ck))
        r = self.ctl("update", "--all", "--auto-update=registry", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("update --all cannot set --auto-update: name one container", r.stderr)
        r = self.ctl("update", "--auto", "web", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith("syscontainerctl: update: --auto is for update --all "
                                            "(the timer's run)\nUsage: "), r.stderr)
        # opted in, but from an oci: layout: no registry to ask
        self.ctl("install", "--name", "local", "--auto-update=registry",
                 "oci:%s:v1" % self.layout)
        before = tree(self.sysroot)
        r = self.ctl("update", "--all", "--auto", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"^local: image \S+ cannot be updated from a registry: pulled "
                                   r"from oci:, not from a registry: pull it again from there\n$")
        self.assertEqual(tree(self.sysroot), before)

    @unittest.skipIf(il.sanitized_library(), "the library is built with ASan")
    def test_binding(self):
        sys.path.insert(0, os.path.join(os.environ["SC_SOURCE_ROOT"], "bindings", "python"))
        import syscontainer
        ctx = syscontainer.Context(sysroot=self.sysroot)
        with self.assertRaises(syscontainer.Error) as e:
            ctx.install(self.app, name="bad", auto_update="always", tls_verify=False)
        self.assertEqual((e.exception.code, e.exception.message),
                         ("SC_EINVAL", "auto-update policy 'always': expected registry or "
                                       "disabled"))
        self.assertFalse(os.path.exists(self.ck))
        ctx.install(self.app, name="opt", auto_update="registry", tls_verify=False)
        ctx.install(self.app, name="plain")
        self.assertEqual(self.policy("opt"), {"policy": "registry", "from": "option"})
        self.push("v2", self.app)
        entries = ctx.update_all(auto=True, dry_run=True, tls_verify=False)
        self.assertEqual([(c["name"], c.get("would_update"), c.get("skipped")) for c in entries],
                         [("opt", True, None), ("plain", None, True)])
        entries = ctx.update_all(auto=True, tls_verify=False)
        self.assertEqual([(c["name"], c["updated"]) for c in entries],
                         [("opt", True), ("plain", False)])
        self.assertEqual(self.motd("opt"), "motd v2\n")
        self.assertEqual(self.motd("plain"), "motd v1\n")
        ctx.update("plain", auto_update="registry")
        self.assertEqual(self.policy("plain"), {"policy": "registry", "from": "option"})
        with self.assertRaises(syscontainer.Error) as e:
            ctx.update("plain", auto_update="sometimes")
        self.assertEqual(e.exception.code, "SC_EINVAL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
