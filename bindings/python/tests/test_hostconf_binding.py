"""The binding's view of the host's configuration: which atomic.conf was
read, the settings it gives, and its errors."""

import os
import shutil
import tempfile
import unittest

import syscontainer


class HostConfBindingTest(unittest.TestCase):
    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-py-conf-")
        os.makedirs(os.path.join(self.sysroot, "etc"))
        self.conf = os.path.join(self.sysroot, "etc", "atomic.conf")
        for name in ("ATOMIC_CONF", "ATOMIC_OSTREE_CHECKOUT_PATH", "ATOMIC_OSTREE_REPO",
                     "RUNC_PATH"):
            os.environ.pop(name, None)

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def test_settings_from_atomic_conf(self):
        with open(self.conf, "w") as f:
            f.write("checkout_path: /srv/ck\nostree_repository: /srv/repo\nruntime: crun\n")
        ctx = syscontainer.Context(sysroot=self.sysroot)
        ctx.load_config()
        self.assertEqual(ctx.config_file, self.conf)
        self.assertEqual((ctx.checkout_root, ctx.repo, ctx.runtime), ("/srv/ck", "/srv/repo", "crun"))
        # the caller's settings first
        ctx = syscontainer.Context(sysroot=self.sysroot, checkout_root="/opt/ck", runtime="runc")
        self.assertEqual((ctx.checkout_root, ctx.repo, ctx.runtime), ("/opt/ck", "/srv/repo", "runc"))

    def test_no_atomic_conf(self):
        ctx = syscontainer.Context(sysroot=self.sysroot)
        ctx.load_config()
        self.assertIsNone(ctx.config_file)
        self.assertEqual((ctx.checkout_root, ctx.repo, ctx.runtime),
                         ("/var/lib/containers/atomic", None, "runc"))

    def test_bad_atomic_conf(self):
        with open(self.conf, "w") as f:
            f.write("checkout_path: relative\n")
        ctx = syscontainer.Context(sysroot=self.sysroot)
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.load_config()
        self.assertEqual((cm.exception.code, cm.exception.message),
                         ("SC_EINVAL", "%s line 1: 'checkout_path' must be an absolute path "
                          "without '..' (got 'relative')" % self.conf))
        self.assertIsNone(ctx.config_file)
        with self.assertRaises(syscontainer.Error) as cm:
            ctx.find_runtime()
        self.assertEqual(cm.exception.code, "SC_EINVAL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
