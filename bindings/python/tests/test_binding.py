"""The ctypes binding: context, template functions, render, lint, errors."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
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
        info = ctx.info()
        self.assertEqual((info["sysroot"], info["checkout_root"]), (self.sysroot, "/var/lib/x"))
        self.assertEqual(info["store"], {"path": "/var/lib/x/.storage/ostree",
                                         "chosen": "checkout-root", "passed_over": None})
        self.assertEqual(info["runtime"]["path"], ctx.find_runtime())
        self.assertEqual(info["runtime"]["configured"], ctx.runtime)
        self.assertEqual(os.listdir(self.sysroot), [])  # asking made nothing

    def test_limits(self):
        ctx = syscontainer.Context(sysroot=self.sysroot, checkout_root="/ck")
        ctx.render(self.image, "web", values={"PORT": "9000"})
        ctx.set_limits(rendered_bytes=64)
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.render(self.image, "web", values={"PORT": "9000"})
        self.assertEqual(cm.exception.code, "SC_ETEMPLATE")
        self.assertIn("the limit on a rendered file", cm.exception.message)
        ctx.set_limits(layer_bytes=1 << 20, layer_entries=10, path_depth=8, path_bytes=100)
        with self.assertRaises(ValueError):
            ctx.set_limits(path_depth=-1)

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


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci"), "needs root and umoci")
class StoreBindingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-py-store-")
        layout = os.path.join(self.tmp, "layout")
        bundle = os.path.join(self.tmp, "bundle")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("umoci", "init", "--layout", layout)
        run("umoci", "new", "--image", layout + ":v1")
        run("umoci", "unpack", "--image", layout + ":v1", bundle)
        with open(os.path.join(bundle, "rootfs", "hello"), "w") as f:
            f.write("hello\n")
        os.makedirs(os.path.join(bundle, "rootfs", "bin"))
        shutil.copy2("/bin/busybox", os.path.join(bundle, "rootfs", "bin", "sh"))
        run("umoci", "repack", "--image", layout + ":v1", bundle)
        self.source = "oci:%s:v1" % layout

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_mount(self):
        ctx = syscontainer.Context(checkout_root=os.path.join(self.tmp, "ck"))
        ctx.pull(self.source, name="example.com/hello:1")
        mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(mnt)
        r = ctx.mount("example.com/hello:1", mnt)
        try:
            self.assertEqual((r["dir"], r["type"], r["mounted"]), (mnt, "ostree-image", True))
            # the vocabulary of the other documents (trial15b D11)
            self.assertEqual((r["reference"], r["name"], len(r["id"])),
                             ("example.com/hello:1", "example.com/hello:1", 64))
            self.assertNotIn("source", r)
            with open(os.path.join(mnt, "hello")) as f:
                self.assertEqual(f.read(), "hello\n")
        finally:
            self.assertEqual(ctx.umount(mnt), {"schema": 1, "dir": mnt, "type": "ostree-image",
                                               "mounted": False})
        self.assertEqual(os.listdir(mnt), [])
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.umount(mnt)
        self.assertEqual(cm.exception.code, "SC_ENOTFOUND")

    def test_pull_list_checkout_delete(self):
        ctx = syscontainer.Context(checkout_root=os.path.join(self.tmp, "ck"))
        small = syscontainer.Context(checkout_root=os.path.join(self.tmp, "ck"))
        small.set_limits(layer_entries=1)
        with self.assertRaises(syscontainer.Error) as cm:
            small.pull(self.source, name="example.com/hello:1")
        self.assertEqual(cm.exception.code, "SC_EUNSUPPORTED")
        self.assertIn("entries, the limit (SC_MAX_LAYER_ENTRIES)", cm.exception.message)
        seen = []
        report = ctx.pull(self.source, name="example.com/hello:1",
                          progress=lambda *a: seen.append(a))
        self.assertEqual(report["name"], "example.com/hello:1")
        self.assertEqual(report["layers_imported"], 1)
        self.assertEqual(seen[-1][2:], (1, 1))  # layers done, total
        self.assertEqual(seen[-1][0], seen[-1][1])  # all bytes read
        self.assertEqual([(i["repository"], i["tag"]) for i in ctx.images()],
                         [("example.com/hello", "1")])
        out = os.path.join(self.tmp, "ck", "out")
        ctx.checkout("example.com/hello:1", out)
        with open(os.path.join(out, "hello")) as f:
            self.assertEqual(f.read(), "hello\n")
        self.assertTrue(ctx.verify(report["id"][:8])["ok"])
        ctx.tag("example.com/hello:1", "hello")
        self.assertEqual(sorted(ctx.inspect("hello")["names"]),
                         ["example.com/hello:1", "localhost/hello:latest"])  # issue 13
        # a container from it, in a sysroot
        sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(sysroot)
        sys_ctx = syscontainer.Context(sysroot=sysroot)
        done = sys_ctx.install(self.source, name="hello1")
        self.assertEqual(done["deployment"], "/var/lib/containers/atomic/hello1.0")
        remote = sys_ctx.install(self.source, name="hello2",
                                 rootfs="/var/lib/containers/atomic/hello1.0")
        self.assertEqual(os.readlink(os.path.join(sysroot, remote["deployment"][1:], "rootfs")),
                         "/var/lib/containers/atomic/hello1.0/rootfs")
        self.assertTrue(sys_ctx.uninstall("hello2")["removed"])
        self.assertEqual(sys_ctx.run_image(self.source, ["/bin/sh", "-c", "test -f /hello && exit 5"]),
                         5)
        self.assertEqual([(c["name"], c["state"]) for c in sys_ctx.containers()],
                         [("hello1", "installed")])
        # the same install again: nothing to do; other values: an update's job
        self.assertTrue(sys_ctx.install(self.source, name="hello1")["already_installed"])
        with self.assertRaises(syscontainer.Error) as cm:
            sys_ctx.install(self.source, name="hello1", values={"X": "1"})
        self.assertEqual(cm.exception.code, "SC_EEXISTS")
        self.assertIn("container hello1 is already installed with other values (X): use "
                      "'syscontainerctl update --set K=V hello1' to change them",
                      str(cm.exception))
        self.assertFalse(sys_ctx.update("hello1")["updated"])
        # the plain C form (no options) too
        plain = syscontainer._fn("sc_container_update", ctypes.c_int, ctypes.c_void_p,
                                 ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.POINTER(ctypes.c_void_p))
        out = ctypes.c_void_p()
        self.assertEqual(plain(sys_ctx._ptr, b"hello1", None, None, None, ctypes.byref(out),
                               None), 0)
        self.assertFalse(json.loads(ctypes.string_at(out.value))["updated"])
        syscontainer._sc_free(out)
        self.assertEqual(sys_ctx.inspect_container("hello1")["state"], "installed")
        with self.assertRaises(syscontainer.Error) as cm:
            sys_ctx.rollback("hello1")
        self.assertEqual(cm.exception.code, "SC_ENOTFOUND")
        up = sys_ctx.update("hello1", values={"X": "1"}, controlled=True, settle=1)
        self.assertEqual((up["updated"], up["deployment"], up["restarted"], up["controlled"]),
                         (True, "/var/lib/containers/atomic/hello1.1", False, True))
        self.assertEqual([(c["name"], c["updated"]) for c in sys_ctx.update_all()],
                         [("hello1", False)])
        self.assertEqual(sys_ctx.rollback("hello1")["deployment"],
                         "/var/lib/containers/atomic/hello1.0")
        self.assertTrue(sys_ctx.uninstall("hello1")["removed"])
        self.assertEqual(sys_ctx.containers(), [])
        ctx.delete(report["id"])
        self.assertEqual(ctx.prune()["refs_removed"], 2)
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.inspect("hello")
        self.assertEqual(cm.exception.code, "SC_ENOTFOUND")


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("skopeo")
                     and shutil.which("docker-registry"), "needs root, umoci, skopeo, docker-registry")
class RegistryBindingTest(StoreBindingTest):
    def test_registry(self):
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests",
                                        "registry"))
        import registry as rg
        reg = rg.Registry(self.tmp)
        try:
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", self.source,
                            "docker://%s/hello:v1" % reg.host], check=True, capture_output=True)
            ref = "%s/hello:v1" % reg.host
            ctx = syscontainer.Context(checkout_root=os.path.join(self.tmp, "ck"))
            info = ctx.inspect_remote(ref, tls_verify=False)
            self.assertEqual((info["name"], len(info["layers"])), (ref, 1))
            self.assertEqual(ctx.images(), [])
            with self.assertRaises(syscontainer.Error) as cm:
                ctx.pull(ref)  # plain http needs tls_verify=False
            self.assertEqual(cm.exception.code, "SC_ENETWORK")
            self.assertEqual(ctx.pull(ref, tls_verify=False)["name"], ref)
            self.assertEqual(ctx.update_images(ref, tls_verify=False)[0]["updated"], False)
        finally:
            reg.stop()

    test_pull_list_checkout_delete = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
