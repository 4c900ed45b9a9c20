"""The ctypes binding: context, template functions, render, lint, errors."""

import os
import shutil
import tempfile
import unittest

import syscontainer

CONFIG = """{
  "process": {"terminal": false, "args": ["/bin/sh"], "env": ["PORT=$PORT"]},
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/d", "type": "bind", "source": "/srv/$NAME", "options": ["rbind"]}]
}
"""


class BindingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-py-")
        self.image = os.path.join(self.tmp, "image")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(self.image)
        os.makedirs(self.sysroot)
        with open(os.path.join(self.image, "config.json.template"), "w") as f:
            f.write(CONFIG)
        with open(os.path.join(self.image, "manifest.json"), "w") as f:
            f.write('{"defaultValues": {"PORT": "8080"}}')

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_version(self):
        self.assertRegex(syscontainer.version(), r"^\d+\.\d+\.\d+$")

    def test_template(self):
        self.assertEqual(syscontainer.render_template("a=$A ${B}$$", {"A": "1", "B": "é"}),
                         "a=1 é$")
        self.assertEqual(syscontainer.template_variables("$B ${A} $B $$C"), ["B", "A"])

    def test_template_errors(self):
        with self.assertRaises(syscontainer.Error) as cm:
            syscontainer.render_template("x\n $1", {}, label="t.template")
        self.assertEqual(cm.exception.code, "SC_ETEMPLATE")
        self.assertIn("template 't.template': invalid placeholder at line 2, col 2",
                      cm.exception.message)
        with self.assertRaises(syscontainer.Error) as cm:
            syscontainer.render_template("$MISSING", {})
        self.assertIn("variable 'MISSING'", str(cm.exception))
        with self.assertRaises(syscontainer.Error) as cm:
            syscontainer.render_template("x", {"not-an-id": "1"})
        self.assertEqual(cm.exception.code, "SC_EINVAL")

    def test_context(self):
        ctx = syscontainer.Context(sysroot=self.sysroot, checkout_root="/var/lib/x")
        self.assertEqual(ctx.sysroot, self.sysroot)
        self.assertEqual(ctx.checkout_root, "/var/lib/x")
        self.assertTrue(os.path.isabs(ctx.find_runtime()))
        with self.assertRaises(syscontainer.Error) as cm:
            syscontainer.Context(sysroot=os.path.join(self.tmp, "missing"))
        self.assertEqual(cm.exception.code, "SC_ENOTFOUND")

    def test_render_and_write(self):
        ctx = syscontainer.Context(sysroot=self.sysroot, checkout_root="/ck")
        r = ctx.render(self.image, "web", values={"PORT": "9000"}, image_name="img", slot=1)
        self.assertEqual(r.name, "web")
        self.assertTrue(r.detached)  # the default unit with runc
        self.assertIn('"PORT=9000"', r.config)
        self.assertEqual(r.values["DESTDIR"], "/ck/web.1")
        self.assertEqual(r.values["IMAGE_NAME"], "img")
        self.assertIn("Type=forking\n", r.unit)
        self.assertEqual(r.tmpfiles, "d    /srv/web   0700 %d %d - -\n" % (os.getuid(), os.getgid()))
        self.assertEqual(r.missing_bind_sources, ["/srv/web"])
        out = os.path.join(self.tmp, "out")
        r.write(out)
        self.assertEqual(sorted(os.listdir(out)), ["config.json", "tmpfiles-web.conf", "web.service"])
        with open(os.path.join(out, "web.service")) as f:
            self.assertEqual(f.read(), r.unit)

    def test_render_errors(self):
        ctx = syscontainer.Context()
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.render(self.image, "../bad")
        self.assertEqual(cm.exception.code, "SC_EINVAL")
        self.assertIn("container name '../bad'", cm.exception.message)
        with open(os.path.join(self.image, "config.json.template"), "w") as f:
            f.write('{"root": {"path": "rootfs", "readonly": false}}')
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.render(self.image, "web")
        self.assertEqual(cm.exception.code, "SC_ESPEC")
        self.assertIn("root.readonly must be true", cm.exception.message)

    def test_variables(self):
        ctx = syscontainer.Context()
        names = {v["name"]: v for v in ctx.variables(self.image)}
        self.assertEqual(names["PORT"]["source"], "manifest")
        self.assertEqual(names["PORT"]["default"], "8080")
        self.assertEqual(names["NAME"]["source"], "forced")

    def test_lint(self):
        ctx = syscontainer.Context()
        report = ctx.lint(self.image)
        self.assertEqual(report["schema"], 1)
        self.assertEqual(report["errors"], 0)
        checks = sorted(f["check"] for f in report["findings"])
        self.assertEqual(checks, ["service-missing"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
