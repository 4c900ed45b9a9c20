"""Strings the binding hands to C: one that holds a NUL byte is refused with
ValueError before the library is called (C would end it at the NUL: a
container name "nul\\0../../x" would be installed as "nul"). Texts passed
with their length (templates) keep their NUL bytes."""

import os
import shutil
import tempfile
import unittest

import syscontainer

EVIL = "nul\0../../x"


def listing(root):
    out = []
    for d, dirs, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, n), root) for n in dirs + files]
    return sorted(out)


class NulTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-py-nul-")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(os.path.join(self.sysroot, "var/lib/containers/atomic"))
        self.ctx = syscontainer.Context(sysroot=self.sysroot)

    def tearDown(self):
        self.ctx.close()
        shutil.rmtree(self.tmp)

    def test_every_string_argument(self):
        ctx = self.ctx
        calls = {
            "install name": lambda: ctx.install("oci:/nonexistent", name=EVIL),
            "install image": lambda: ctx.install(EVIL, name="n"),
            "install rootfs": lambda: ctx.install("oci:/x", name="n", rootfs="/r\0x"),
            "install value": lambda: ctx.install("oci:/x", name="n", values={"A": "b\0c"}),
            "install value name": lambda: ctx.install("oci:/x", name="n", values={"A\0B": "c"}),
            "pull source": lambda: ctx.pull(EVIL),
            "pull name": lambda: ctx.pull("oci:/x", name=EVIL),
            "pull platform": lambda: ctx.pull("oci:/x", platform="linux/amd64\0x"),
            "pull creds": lambda: ctx.pull("oci:/x", creds=("u\0", "p")),
            "pull authfile": lambda: ctx.pull("oci:/x", authfile="/a\0b"),
            "inspect_remote": lambda: ctx.inspect_remote(EVIL),
            "update_images": lambda: ctx.update_images(EVIL),
            "uninstall": lambda: ctx.uninstall(EVIL),
            "update": lambda: ctx.update(EVIL),
            "update rebase": lambda: ctx.update("n", rebase=EVIL),
            "rollback": lambda: ctx.rollback(EVIL),
            "inspect_container": lambda: ctx.inspect_container(EVIL),
            "start": lambda: ctx.start(EVIL),
            "stop": lambda: ctx.stop(EVIL),
            "run": lambda: ctx.run(EVIL),
            "run args": lambda: ctx.run("n", args=["a\0b"]),
            "run_image args": lambda: ctx.run_image("oci:/x", args=["a", "b\0c"]),
            "inspect": lambda: ctx.inspect(EVIL),
            "tag": lambda: ctx.tag("a", EVIL),
            "delete": lambda: ctx.delete(EVIL),
            "verify": lambda: ctx.verify(EVIL),
            "checkout": lambda: ctx.checkout("a", os.path.join(self.tmp, "out\0x")),
            "render directory": lambda: ctx.render(EVIL, "n"),
            "variables": lambda: ctx.variables(EVIL),
            "lint": lambda: ctx.lint(EVIL),
            "context sysroot": lambda: syscontainer.Context(sysroot="/tmp\0x"),
            "context runtime": lambda: syscontainer.Context(runtime="runc\0x"),
            "template label": lambda: syscontainer.render_template("x", {}, label="l\0x"),
            "template value": lambda: syscontainer.render_template("$A", {"A": "1\0"}),
            "variables label": lambda: syscontainer.template_variables("$A", label="l\0"),
        }
        before = listing(self.tmp)
        for what, call in calls.items():
            with self.subTest(what):
                with self.assertRaises(ValueError) as cm:
                    call()
                self.assertIn("contains a NUL byte", str(cm.exception))
        self.assertEqual(listing(self.tmp), before, "a refused call changed the scratch tree")
        self.assertFalse(os.path.lexists(os.path.join(self.sysroot,
                                                      "var/lib/containers/atomic/nul")))

    def test_bytes_and_paths_too(self):
        with self.assertRaises(ValueError):
            self.ctx.uninstall(b"nul\0x")
        with self.assertRaises(ValueError):
            syscontainer.Context(sysroot=__import__("pathlib").Path("/tmp/a\0b"))

    def test_template_text_keeps_nul(self):
        # the text goes to C with its length: NUL bytes are data there
        self.assertEqual(syscontainer.render_template("a\0$A\0", {"A": "x"}), "a\0x\0")
        self.assertEqual(syscontainer.template_variables("$A\0$B"), ["A", "B"])

    def test_plain_strings_still_work(self):
        with self.assertRaises(syscontainer.Error) as cm:
            self.ctx.uninstall("../x")
        self.assertEqual(cm.exception.code, "SC_EINVAL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
