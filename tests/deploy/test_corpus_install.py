"""Every real system-container image of the corpus
(../shared/corpus/atomic-system-containers/images), built into a test image
(a busybox root plus the files its Dockerfile copies under /exports), is
pulled from an OCI layout, installed into a sysroot with its manifest
defaults, its unit passes systemd-analyze verify, and uninstall leaves the
sysroot as it was. Skipped when the corpus is absent."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
from test_deploy import CTL, tree  # noqa: E402

IMAGES = os.path.join(os.environ.get("SC_CORPUS", ""), "atomic-system-containers", "images")
# FROM parents of the kubernetes-* images: no exports
NOT_SYSTEM_CONTAINERS = {"kubernetes-master", "kubernetes-node"}
# qemu-guest-agent's pre-1.0.0-rc5 array process.capabilities is converted
# (docs/image-contract.md): the same names in these sets, none in ambient
LEGACY_CAPS_SETS = ["bounding", "effective", "inheritable", "permitted"]


def exported_files(image_dir):
    """(path under /, content) of each file the Dockerfile COPYs under
    /exports from the build directory."""
    out = []
    with open(os.path.join(image_dir, "Dockerfile")) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        words = shlex.split(line, comments=True) if line.strip() else []
        if len(words) < 3 or words[0].upper() != "COPY" or not words[-1].startswith("/exports"):
            continue
        dest, sources = words[-1], words[1:-1]
        for src in sources:
            target = dest + os.path.basename(src) if dest.endswith("/") else dest
            with open(os.path.join(image_dir, src), "rb") as f:
                out.append((target.lstrip("/"), f.read()))
    return out


def exports_layer(files):
    entries, dirs = [], set()
    for path, data in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append(il.tinfo(d, tarfile.DIRTYPE, mode=0o755))
        entries.append(il.tinfo(path, data=data, mode=0o755 if path.endswith(".sh") else 0o644))
    return il.make_tar(entries)


@unittest.skipUnless(os.path.isdir(IMAGES), "the image corpus (../shared/corpus) is absent")
@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and
                     shutil.which("systemd-analyze"), "needs root, umoci and systemd-analyze")
class CorpusInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sc-corpus-install-")
        cls.layout = os.path.join(cls.tmp, "layout")
        il.run("umoci", "init", "--layout", cls.layout)
        il.run("umoci", "new", "--image", cls.layout + ":base")
        with open(il.BUSYBOX, "rb") as f:
            busybox = f.read()
        il.add_layer(cls.layout, "base", il.make_tar([
            il.tinfo("bin", tarfile.DIRTYPE, mode=0o755),
            il.tinfo("bin/busybox", data=busybox, mode=0o755),
            il.tinfo("bin/sh", tarfile.SYMTYPE, linkname="busybox")]))
        cls.images = sorted(d for d in os.listdir(IMAGES)
                            if os.path.isdir(os.path.join(IMAGES, d))
                            and d not in NOT_SYSTEM_CONTAINERS)
        for image in cls.images:
            files = exported_files(os.path.join(IMAGES, image))
            il.add_layer(cls.layout, "base", exports_layer(files), new_tag=image)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_every_image_installs(self):
        self.assertEqual(len(self.images), 18)
        installed = []
        for image in self.images:
            with self.subTest(image=image):
                sysroot = tempfile.mkdtemp(prefix=image + "-", dir=self.tmp)
                for d in ("etc/systemd/system", "etc/tmpfiles.d", "usr/local/bin"):
                    os.makedirs(os.path.join(sysroot, d))
                before = tree(sysroot)
                r = subprocess.run([CTL, "--sysroot", sysroot, "install", "--name", image,
                                    "oci:%s:%s" % (self.layout, image)],
                                   capture_output=True, text=True, timeout=120)
                ck = os.path.join(sysroot, "var/lib/containers/atomic")
                self.assertEqual(r.returncode, 0, r.stderr)
                if image == "qemu-guest-agent":
                    self.check_qemu(sysroot, r.stderr)
                else:
                    self.assertNotIn("process.capabilities", r.stderr)
                unit_dir = os.path.join(sysroot, "etc/systemd/system")
                unit = image + ".service"
                self.assertTrue(os.path.islink(os.path.join(unit_dir, "multi-user.target.wants",
                                                            unit)))
                slot = os.path.join(sysroot, "var/lib/containers/atomic", image + ".0")
                for f in ("config.json", "info", unit):
                    self.assertTrue(os.path.isfile(os.path.join(slot, f)), f)
                v = subprocess.run(["systemd-analyze", "verify", unit], cwd=unit_dir,
                                   capture_output=True, text=True)
                if image == "azure" and not os.path.exists("/usr/bin/python"):
                    # its unit runs the host's /usr/bin/python
                    self.assertIn("Command /usr/bin/python is not executable", v.stderr)
                else:
                    self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                installed.append(image)
                subprocess.run([CTL, "--sysroot", sysroot, "uninstall", image], check=True,
                               capture_output=True)
                self.assertEqual({k: v for k, v in tree(sysroot).items()
                                  if not k.startswith("var")}, before)
                self.assertEqual(os.listdir(ck), [".storage"])
        self.assertEqual(len(installed), 18)

    def check_qemu(self, sysroot, stderr):
        """The deployment's config.json has the 1.0 object form, and the
        install said so, naming the file."""
        with open(os.path.join(IMAGES, "qemu-guest-agent", "config.json.template")) as f:
            names = json.load(f)["process"]["capabilities"]
        self.assertEqual(len(names), 35)
        slot = os.path.join(sysroot, "var/lib/containers/atomic", "qemu-guest-agent.0")
        with open(os.path.join(slot, "config.json")) as f:
            caps = json.load(f)["process"]["capabilities"]
        self.assertEqual(caps, {s: names for s in LEGACY_CAPS_SETS})
        self.assertRegex(
            stderr, r"/exports/config\.json\.template: process\.capabilities is a list of 35 "
            r"names, the form before runtime-spec 1\.0\.0-rc5 that runc 1\.x cannot read: "
            r"converted to the same names in bounding, effective, inheritable and permitted "
            r"\(as runc applied the list\), none in ambient")


if __name__ == "__main__":
    unittest.main(verbosity=2)
