"""What the issue-15 CLI tests share: the command runner, a verb's usage
lines, and a case with one built image and a fresh sysroot per test."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CTL = os.environ["SYSCONTAINERCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))
for _d in ("deploy", "store", "registry"):
    sys.path.insert(0, os.path.join(HERE, "..", _d))


def run(*args, env=None):
    return subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=120)


def synopsis(*verb):
    """The usage lines of VERB [SUB] (and their continuation lines)."""
    lines = []
    for line in run(*verb, "--help").stdout.splitlines():
        if not line.startswith(("Usage: ", "   or: ", " " * 10)):
            break
        lines.append(line + "\n")
    return "".join(lines)


class ImageSysrootCase(unittest.TestCase):
    """One image built for the class (oci:LAYOUT:v1, GREETING=hello); each
    test gets its own sysroot, with its checkout root and store paths."""

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.shared = tempfile.mkdtemp(prefix="sc-%s-" % cls.__name__.lower())
        os.chmod(cls.shared, 0o755)
        cls.layout = os.path.join(cls.shared, "layout")
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        cls.image = "oci:%s:v1" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(dir=self.shared)
        self.checkout = os.path.join(self.sysroot, "var/lib/containers/atomic")
        self.repo = os.path.join(self.checkout, ".storage/ostree")

    def ctl(self, *args, env=None):
        return run("--sysroot", self.sysroot, *args, env=env)
