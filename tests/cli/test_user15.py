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
            1, "", ERR + "value GREETNG: the image declares no variable GREETNG "
            "(its variables: GREETING, UNUSED)\n"))

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



NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=/tmp"]


class FormatConflictTest(unittest.TestCase):
    """--json against --format table, --format against --format: exit 2,
    both named; -q with --json: the document (as podman)."""

    def usage(self, args, msg, verb="list"):
        r = run(*args)
        self.assertEqual((r.returncode, r.stdout), (2, ""), args)
        self.assertTrue(r.stderr.startswith("syscontainerctl: %s: %s\nUsage: " % (verb, msg)),
                        (args, r.stderr))

    def test_conflicts(self):
        for args, msg in (
                (["--json", "list", "--format", "table"], "--format table conflicts with --json"),
                (["list", "--format=table", "--json"], "--json conflicts with --format table"),
                (["--format", "json", "list", "--format", "table"],
                 "--format table conflicts with --format json"),
                (["list", "--format", "table", "--format", "json"],
                 "--format json conflicts with --format table")):
            self.usage(args, msg)
        self.usage(["images", "list", "--json", "--format", "table"],
                   "--format table conflicts with --json", verb="images")
        # the same output twice is no conflict
        with tempfile.TemporaryDirectory() as root:
            for args in (["--format", "json", "--json"], ["--json", "--format=json"],
                         ["--format", "table", "--format", "table"]):
                r = run("--sysroot", root, *args, "list")
                self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertEqual(json.loads(run("--sysroot", root, "--json", "--format", "json",
                                            "list").stdout), {"schema": 1, "containers": []})


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc") and
                     shutil.which("setpriv"), "needs root, umoci, runc and setpriv")
class Next15Test(unittest.TestCase):
    KNOWN = "(its variables: GREETING, STATE_DIRECTORY)"

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.shared = tempfile.mkdtemp(prefix="sc-next15-")
        os.chmod(cls.shared, 0o755)
        cls.layout = os.path.join(cls.shared, "layout")
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        cls.image = "oci:%s:v1" % cls.layout
        # an atomic.run=once image (test_deploy's)
        td.build(cls.layout, "once", {"defaultValues": {"PLANET": "Saturn", "CODE": "0"}},
                 {"exports/config.json.template": td.RUN_ONCE_CONFIG})
        subprocess.run(["umoci", "config", "--image", "%s:once" % cls.layout,
                        "--config.label", "atomic.run=once"], check=True)
        cls.once = "oci:%s:once" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(dir=self.shared)
        os.chmod(self.sysroot, 0o755)

    def test_run_image_strict_is_the_library_s(self):
        r = self.ctl("pull", self.once)
        self.assertEqual(r.returncode, 0, r.stderr)
        known = "(its variables: RECEIVER, PLANET, CODE)"
        r = self.ctl("run", "--set", "RECEIVER=Pluto", "--set", "PLANTE=x", self.once)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HI Pluto from Saturn", r.stdout)
        self.assertEqual(r.stderr, "syscontainerctl: warning: value PLANTE: the image declares "
                         "no variable PLANTE %s\n" % known)
        # --strict: refused before anything runs; the store and host as they were
        before = tree(self.sysroot)
        r = self.ctl("run", "--strict", "--set", "RECEIVER=Pluto", "--set", "PLANTE=x", self.once,
                     "--", "/bin/sh", "-c", "echo RAN")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", "syscontainerctl: error: value PLANTE: the image declares no variable "
            "PLANTE %s\n" % known))
        self.assertEqual(tree(self.sysroot), before)
        # install of a run-once image honours --strict too (it did not) ...
        r = self.ctl("install", "--strict", "--set", "RECEIVER=Pluto", "--set", "PLANTE=x",
                     self.once)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", "syscontainerctl: error: value PLANTE: the image declares no variable "
            "PLANTE %s\n" % known))
        self.assertEqual(tree(self.sysroot), before)
        # ... and its document lists the warning
        r = self.ctl("--json", "install", "--set", "RECEIVER=Pluto", "--set", "PLANTE=x",
                     self.once)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout[r.stdout.index("{"):])
        self.assertEqual(doc["warnings"], ["value PLANTE: the image declares no variable "
                                           "PLANTE %s" % known])
        self.assertEqual(r.stderr, "")

    @unittest.skipIf(os.environ.get("ASAN_OPTIONS"), "ctypes under ASan")
    def test_binding_run_image_strict(self):
        import syscontainer
        ctx = syscontainer.Context(sysroot=self.sysroot)
        ctx.pull(self.once)
        before = tree(self.sysroot)
        with self.assertRaises(syscontainer.Error) as e:
            ctx.run_image(self.once, ["/bin/sh", "-c", "exit 3"], values={"RECEIVER": "Pluto", "PLANTE": "x"},
                          strict=True)
        self.assertEqual((e.exception.code, str(e.exception)), (
            "SC_EINVAL", "value PLANTE: the image declares no variable PLANTE (its variables: "
            "RECEIVER, PLANET, CODE)"))
        self.assertEqual(tree(self.sysroot), before)
        self.assertEqual(ctx.run_image(self.once, ["/bin/sh", "-c", "exit 3"],
                                       values={"RECEIVER": "Pluto", "PLANTE": "x"}), 3)
        self.assertEqual(ctx.run_image(self.once, ["/bin/sh", "-c", "exit 4"],
                                       values={"RECEIVER": "Pluto"}), 4)

    def ctl(self, *args, prefix=()):
        return subprocess.run([*prefix, CTL, "--sysroot", self.sysroot, *args],
                              capture_output=True, text=True, timeout=120)

    def warning(self, key):
        return ("syscontainerctl: warning: value %s: the image declares no variable %s %s\n"
                % (key, key, self.KNOWN))

    def test_one_warning_from_the_library(self):
        # install: the document's warning, printed once (no CLI check of its own)
        r = self.ctl("install", "--name", "w", "--set", "GREETNG=hi", self.image)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "w\n", self.warning("GREETNG")))
        # --json: in the document, nothing on stderr
        r = self.ctl("--json", "install", "--name", "j", "--set", "NOPE=1", self.image)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(json.loads(r.stdout)["warnings"], [self.warning("NOPE")[26:-1]])
        # --dry-run too
        r = self.ctl("install", "--dry-run", "--name", "d", "--set", "NOPE=1", self.image)
        self.assertEqual((r.returncode, r.stderr), (0, self.warning("NOPE")))
        # update: the carried-over value warned again, and the new one
        r = self.ctl("update", "--set", "NOPE2=1", "w")
        self.assertEqual((r.returncode, r.stderr),
                         (0, self.warning("GREETNG") + self.warning("NOPE2")))
        # update --all: each container's warnings (of those it renders again), named
        r = self.ctl("update", "--all", "--set", "GREETING=all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("syscontainerctl: warning: j: value NOPE: the image declares no "
                      "variable NOPE %s\n" % self.KNOWN, r.stderr)
        self.assertIn("syscontainerctl: warning: w: value GREETNG: ", r.stderr)
        # --strict on update: the library refuses, the deployment stays
        before = tree(self.sysroot)
        r = self.ctl("update", "--strict", "--set", "GREETING=x", "j")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, "", self.warning("NOPE").replace("warning", "error")))
        self.assertEqual(tree(self.sysroot), before)
        # run IMAGE: the CLI's check, in the library's words (first: whatever the
        # run then does in this sysroot)
        r = self.ctl("run", "--set", "NOPE=1", self.image, "true")
        self.assertTrue(r.stderr.startswith(self.warning("NOPE")), r.stderr)
        r = self.ctl("run", "--strict", "--set", "GREETING=1", "--set", "NOPE=1", self.image)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, "", self.warning("NOPE").replace("warning", "error")))

    def test_render_warning_text(self):
        exports = os.path.join(self.sysroot, "img")
        os.makedirs(os.path.join(exports, "exports"))
        with open(os.path.join(exports, "exports", "manifest.json"), "w") as f:
            json.dump({"defaultValues": {"GREETING": "hi"}}, f)
        r = self.ctl("render", "--name", "x", "--set", "GREETNG=1", exports)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "syscontainerctl: warning: value GREETNG: the image declares "
                         "no variable GREETNG (its variables: PIDFILE, GREETING)\n")
        self.assertTrue(r.stdout.startswith("# config.json\n"))
        r = self.ctl("--json", "render", "--name", "x", "--set", "GREETNG=1", exports)
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_quiet_with_json_is_the_document(self):
        self.assertEqual(self.ctl("install", "--name", "q", self.image).returncode, 0)
        for verb, key in ((["list", "-a"], "containers"), (["images", "list"], "images")):
            r = self.ctl(*verb, "-q", "--json")
            full = self.ctl(*verb, "--json")
            self.assertEqual((r.returncode, r.stdout), (0, full.stdout), verb)
            self.assertEqual(len(json.loads(r.stdout)[key]), 1)

    def test_read_only_verbs_as_nobody(self):
        self.assertEqual(self.ctl("install", "--name", "c", self.image).returncode, 0)
        store = os.path.join(self.sysroot, "var/lib/containers/atomic/.storage/ostree")
        lock = os.path.join(store, "syscontainer.lock")
        subprocess.run(["chmod", "-R", "a+rX", self.sysroot], check=True)
        os.chmod(lock, 0o600)  # as the store made it
        # the lock stays the owner's: a lock any user could open, any user could hold
        self.assertEqual(os.stat(lock).st_mode & 0o777, 0o600)
        before = tree(self.sysroot)
        for args in (["images", "list"], ["images", "inspect", "localhost/layout:v1"],
                     ["images", "verify", "localhost/layout:v1"], ["list", "-a"],
                     ["inspect", "c"], ["--json", "images", "list"]):
            r = self.ctl(*args, prefix=NOBODY)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertNotIn("lock", r.stderr)
        r = self.ctl("images", "list", "-q", prefix=NOBODY)
        self.assertEqual(len(r.stdout.split()), 1)
        r = self.ctl("list", "-aq", prefix=NOBODY)
        self.assertEqual(r.stdout, "c\n")
        # a verb that writes still needs root, and says so
        r = self.ctl("images", "delete", "localhost/layout:v1", prefix=NOBODY)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", "syscontainerctl: error: image store %s: cannot be changed: Permission "
            "denied\n" % store))
        self.assertEqual(tree(self.sysroot), before)
        self.assertEqual(os.stat(lock).st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main(verbosity=2)
