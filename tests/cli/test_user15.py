"""Issue 15 tried by an outside user: an oci: path that does not exist, a
failed install in a fresh sysroot, the --set check of the library
(strict, warnings) from C's options, the binding and the CLI, a manifest
default no template uses, and completion of option values."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CTL = os.environ["SYSCONTAINERCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
sys.path.insert(0, os.path.join(HERE, "..", "store"))
sys.path.insert(0, os.path.join(SOURCE, "bindings", "python"))

ERR = "syscontainerctl: error: "


def run(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=120)


def tree(root):
    """Every path under @root, relative, sorted."""
    out = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def schema_errors(doc, name):
    try:
        import jsonschema
    except ImportError:
        return None
    with open(os.path.join(SOURCE, "data", "schemas", name + ".json")) as f:
        schema = json.load(f)
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


class OciPathTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-user15-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_missing_layout_is_said(self):
        # no registry is asked for "nonexistent:1" (that would be a DNS error)
        for spec, path, reason in (("oci:/nonexistent:1", "/nonexistent",
                                    "No such file or directory"),
                                   ("oci:/etc/hostname:1", "/etc/hostname", "Not a directory"),
                                   ("oci:./no-such-layout", "./no-such-layout",
                                    "No such file or directory")):
            r = run("--sysroot", self.tmp, "pull", spec)
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (1, "", ERR + "OCI layout directory %s: %s\n" % (path, reason)), spec)
        r = run("--sysroot", self.tmp, "--json", "pull", "oci:/nonexistent:1")
        doc = json.loads(r.stdout)
        self.assertEqual((r.returncode, doc["error"]["code"]), (1, "SC_ENOTFOUND"))
        self.assertIn(schema_errors(doc, "error"), (None, []))
        r = run("--sysroot", self.tmp, "pull", "oci-archive:/nonexistent.tar")
        self.assertEqual(r.stderr, ERR + "archive /nonexistent.tar: No such file or directory\n")
        # nothing made in the sysroot
        self.assertEqual(tree(self.tmp), [])

    def test_failed_install_leaves_a_fresh_sysroot_empty(self):
        r = run("--sysroot", self.tmp, "install", "oci:/nonexistent:1")
        self.assertEqual((r.returncode, r.stderr), (1, ERR + "image 'oci:/nonexistent:1' is not in "
                         "the store and could not be pulled: OCI layout directory /nonexistent: "
                         "No such file or directory\n"))
        self.assertEqual(tree(self.tmp), [])
        # what was there before stays (only what the install made goes)
        os.makedirs(os.path.join(self.tmp, "var", "lib"))
        r = run("--sysroot", self.tmp, "--json", "install", "--name", "x", "oci:/nonexistent:1")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_ENOTFOUND")
        self.assertEqual(tree(self.tmp), ["var", "var/lib"])


class CompletionTest(unittest.TestCase):
    def complete(self, *words):
        r = run("__complete", *words)
        self.assertEqual(r.returncode, 0)
        return r.stdout.split()

    def test_values_of_options(self):
        # a bare --tls-verify is a boolean: the next word is the operand
        self.assertEqual(self.complete("--sysroot", "/nonexistent/x", "install",
                                       "--tls-verify", ""), [])
        self.assertNotIn("false", self.complete("install", "--tls-verify", ""))
        self.assertEqual(self.complete("install", "--tls-verify=", ""), ["true", "false"])
        self.assertEqual(self.complete("install", "--auto-update=", ""), ["registry", "disabled"])
        self.assertEqual(self.complete("trust", "set", "--type", ""),
                         ["signedBy", "sigstoreSigned", "accept", "reject"])
        self.assertEqual(self.complete("--log-level", ""), ["error", "warning", "info", "debug"])
        # -f: list's and images list's filters, trust set's key files
        self.assertEqual(self.complete("list", "-a", "-f", ""),
                         ["container=", "image=", "backend=", "runtime="])
        self.assertEqual(self.complete("images", "list", "--filter", ""), ["repo=", "dangling="])
        self.assertEqual(self.complete("trust", "set", "-f", ""), [":files"])
        # a cluster takes no value
        self.assertEqual(self.complete("list", "-aq", ""), [])


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class StrictTest(unittest.TestCase):
    KNOWN = "(its variables: GREETING, STATE_DIRECTORY, UNUSED)"

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.shared = tempfile.mkdtemp(prefix="sc-user15-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        # UNUSED: a manifest default that no template uses
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello", "UNUSED": "u"}})
        cls.image = "oci:%s:v1" % cls.layout
        cls.exports = os.path.join(cls.shared, "exports")
        os.makedirs(os.path.join(cls.exports, "exports"))
        with open(os.path.join(cls.exports, "exports", "service.template"), "w") as f:
            f.write("[Service]\nExecStart=$EXEC_START $GREETING\n")
        with open(os.path.join(cls.exports, "exports", "manifest.json"), "w") as f:
            json.dump({"defaultValues": {"GREETING": "hi", "UNUSED": "u"}}, f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(dir=self.shared)

    def ctl(self, *args):
        return run("--sysroot", self.sysroot, *args)

    def test_manifest_default_is_declared(self):
        r = self.ctl("install", "--strict", "--name", "a", "--set", "UNUSED=1", self.image)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("render", "--strict", "--set", "UNUSED=1", self.exports)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("render", "--strict", "--set", "GREETNG=1", self.exports)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", ERR + "--set GREETNG: image directory %s declares no variable GREETNG "
            "(its variables: GREETING, UNUSED)\n" % self.exports))

    def test_library_warnings_in_the_documents(self):
        r = self.ctl("--json", "install", "--name", "w", "--set", "GREETNG=hi", self.image)
        doc = json.loads(r.stdout)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(doc["warnings"], ["value GREETNG: the image declares no variable "
                                           "GREETNG " + self.KNOWN])
        self.assertIn(schema_errors(doc, "install"), (None, []))
        r = self.ctl("--json", "install", "--name", "q", "--set", "GREETING=hi", self.image)
        self.assertEqual(json.loads(r.stdout)["warnings"], [])
        r = self.ctl("--json", "update", "--set", "GREETING=yo", "w")
        doc = json.loads(r.stdout)
        self.assertEqual((r.returncode, doc["updated"]), (0, True), r.stderr)
        # the install's undeclared value carries over: warned again
        self.assertEqual(doc["warnings"], ["value GREETNG: the image declares no variable "
                                           "GREETNG " + self.KNOWN])
        self.assertIn(schema_errors(doc, "update"), (None, []))
        r = run("--json", "render", "--set", "NOPE=1", self.exports)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["warnings"], ["value NOPE: the image declares no variable NOPE "
                                           "(its variables: GREETING, UNUSED)"])
        self.assertIn(schema_errors(doc, "render"), (None, []))

    @unittest.skipIf(os.environ.get("ASAN_OPTIONS"), "ctypes under ASan")
    def test_binding(self):
        import syscontainer
        c = syscontainer.Context()
        r = c.render(self.exports, "x", values={"GREETNG": "a", "UNUSED": "b"})
        self.assertEqual(r.warnings, ["value GREETNG: the image declares no variable GREETNG "
                                      "(its variables: GREETING, UNUSED)"])
        with self.assertRaises(syscontainer.Error) as e:
            c.render(self.exports, "x", values={"GREETNG": "a"}, strict=True)
        self.assertEqual(e.exception.code, "SC_EINVAL")
        self.assertEqual(c.render(self.exports, "x", values={"UNUSED": "b"}, strict=True).warnings,
                         [])
        ctx = syscontainer.Context(sysroot=self.sysroot)
        ctx.pull(self.image)
        before = tree(self.sysroot)
        with self.assertRaises(syscontainer.Error) as e:
            ctx.install(self.image, name="s", values={"GREETNG": "a"}, strict=True)
        self.assertEqual((e.exception.code, str(e.exception)), (
            "SC_EINVAL", "value GREETNG: the image declares no variable GREETNG " + self.KNOWN))
        # refused before anything was written
        self.assertEqual(tree(self.sysroot), before)
        doc = ctx.install(self.image, name="s", values={"GREETNG": "a"})
        self.assertEqual(len(doc["warnings"]), 1)
        with self.assertRaises(syscontainer.Error) as e:
            ctx.update("s", values={"NOPE": "1"}, strict=True)
        self.assertEqual(e.exception.code, "SC_EINVAL")
        self.assertIn("value GREETNG: the image declares no variable GREETNG", str(e.exception))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "var/lib/containers/atomic/s.1")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
