"""Hostile layers against the checkout: each stacks layers so that merging
them would write, delete or read outside the checkout if any step followed a
symbolic link or trusted a whiteout name. The checkout must hold exactly
what the OCI union rules say, and a scratch directory beside it ("outside",
which the layers' links point at) must be exactly as it was; the store must
stay sound (`ostree fsck`)."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "deploy"))
import imagelib as il  # noqa: E402
from test_deploy import tree  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
NEEDS = unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                            "needs root, umoci and ostree")
D, F, L = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE


@NEEDS
class CheckoutTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-hostile-checkout-")
        self.layout = os.path.join(self.tmp, "layout")
        self.ck = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.ck, ".storage", "ostree")
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(self.outside, "dir"))
        for rel in ("keep", "dir/keep", "y"):
            with open(os.path.join(self.outside, rel), "w") as f:
                f.write("must survive\n")
        il.run("umoci", "init", "--layout", self.layout)
        il.run("umoci", "new", "--image", self.layout + ":empty")
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def image(self, *layers):
        """An image of these layers (lists of tinfo entries); its tag."""
        self.n += 1
        tag = "t%d" % self.n
        il.run("umoci", "tag", "--image", self.layout + ":empty", tag)
        for entries in layers:
            il.add_layer(self.layout, tag, il.make_tar(entries))
        return tag

    def ctl(self, *args):
        return subprocess.run([CTL, "--checkout-root", self.ck, "--json", *args],
                              capture_output=True, text=True)

    def checkout(self, tag):
        """Pulls and checks out @tag; returns (result, checkout dir)."""
        r = self.ctl("pull", "oci:%s:%s" % (self.layout, tag))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        dest = os.path.join(self.tmp, "out-" + tag)
        return self.ctl("checkout", "localhost/layout:" + tag, dest), dest

    def assert_outside_untouched(self, before):
        self.assertEqual(tree(self.outside), before, "a layer reached outside the checkout")

    def assert_fsck(self):
        r = subprocess.run(["ostree", "fsck", "--repo=" + self.repo], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_symlink_then_directory_is_not_followed(self):
        before = tree(self.outside)
        long_dir = "/".join(["d%03d" % i + "x" * 90 for i in range(30)])  # ~2.8 KB
        for prefix in ("", long_dir + "/"):
            for target in (self.outside, "../" * 80 + self.outside.lstrip("/")):
                tag = self.image(
                    [il.tinfo(prefix + "x", L, linkname=target)],
                    [il.tinfo(prefix + "x", D, mode=0o755),
                     il.tinfo(prefix + "x/evil", data=b"evil\n"),
                     il.tinfo(prefix + "x/dir/keep", data=b"evil\n")])
                r, dest = self.checkout(tag)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                x = os.path.join(dest, prefix + "x")
                self.assertFalse(os.path.islink(x))
                with open(os.path.join(x, "evil")) as f:
                    self.assertEqual(f.read(), "evil\n")
                self.assert_outside_untouched(before)
        self.assert_fsck()

    def test_whiteouts_through_links_stay_inside(self):
        before = tree(self.outside)
        # x -> outside, then a layer that whites out x/y (x becomes a directory
        # of that layer, so y is looked for there, not through the link)
        tag = self.image([il.tinfo("x", L, linkname=self.outside),
                          il.tinfo("l", L, linkname=self.outside)],
                         [il.tinfo("x/.wh.y"), il.tinfo("x/.wh.keep"), il.tinfo(".wh.l")])
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(dest, "l")), "the link was not removed")
        self.assertTrue(os.path.isdir(os.path.join(dest, "x")) and
                        not os.path.islink(os.path.join(dest, "x")))
        self.assert_outside_untouched(before)
        # an opaque directory over a link: the link goes, its target stays
        tag = self.image([il.tinfo("x", L, linkname=self.outside + "/dir")],
                         [il.tinfo("x/.wh..wh..opq"), il.tinfo("x/new", data=b"n")])
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(dest, "x"))), ["new"])
        self.assert_outside_untouched(before)

    def test_opaque_whiteout_at_the_root(self):
        tag = self.image([il.tinfo("a", data=b"a"), il.tinfo("b", D), il.tinfo("b/c", data=b"c"),
                          il.tinfo("l", L, linkname=self.outside)],
                         [il.tinfo(".wh..wh..opq"), il.tinfo("d", data=b"d")])
        before = tree(self.outside)
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(os.listdir(dest)), ["d"])
        self.assert_outside_untouched(before)

    def test_type_changes(self):
        tag = self.image(
            [il.tinfo("dir-to-file", D), il.tinfo("dir-to-file/in", data=b"1"),
             il.tinfo("file-to-dir", data=b"2"),
             il.tinfo("link-to-file", L, linkname="/"),
             il.tinfo("dir-to-link", D), il.tinfo("dir-to-link/deep", D),
             il.tinfo("dir-to-link/deep/in", data=b"3")],
            [il.tinfo("dir-to-file", data=b"now a file"),
             il.tinfo("file-to-dir", D), il.tinfo("file-to-dir/in", data=b"4"),
             il.tinfo("link-to-file", data=b"now a file too"),
             il.tinfo("dir-to-link", L, linkname=self.outside)])
        before = tree(self.outside)
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        listing, _ = il.listing(dest)
        self.assertEqual({k: v[0] >> 12 for k, v in listing.items()},
                         {"dir-to-file": 8, "file-to-dir": 4, "file-to-dir/in": 8,
                          "link-to-file": 8, "dir-to-link": 10})
        self.assertEqual(os.readlink(os.path.join(dest, "dir-to-link")), self.outside)
        self.assert_outside_untouched(before)

    def test_deep_tree_checked_out_and_whited_out(self):
        # (one directory open at a time: tests/unit/test-tree.c proves it for
        # the removal walk, whose way up the checkout shares, at 10,000
        # levels with 64 descriptors; here 200 levels, under the import
        # depth limit, through a real pull)
        depth = 200
        path = "/".join(["d"] * depth)
        entries = [il.tinfo("/".join(["d"] * i), D) for i in range(1, depth + 1)]
        tag = self.image(entries + [il.tinfo(path + "/leaf", data=b"leaf")],
                         [il.tinfo(path + "/leaf2", data=b"leaf2")])
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fd = os.open(dest, os.O_RDONLY)
        try:
            for _ in range(depth):
                nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = nfd
            self.assertEqual(sorted(os.listdir(fd)), ["leaf", "leaf2"])
        finally:
            os.close(fd)
        # and removed the same way, by a whiteout in a third layer
        tag = self.image(entries + [il.tinfo(path + "/leaf", data=b"leaf")],
                         [il.tinfo(".wh.d"), il.tinfo("e", data=b"e")])
        r, dest = self.checkout(tag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(os.listdir(dest), ["e"])

    def test_failed_checkout_leaves_the_directory_as_it_was(self):
        tag = self.image([il.tinfo("a", data=b"a")])
        r = self.ctl("pull", "oci:%s:%s" % (self.layout, tag))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the layer's object is gone from the store: the checkout fails part way
        dest = os.path.join(self.tmp, "half")
        objects = os.path.join(self.repo, "objects")
        removed = []
        for dirpath, _, files in os.walk(objects):
            for f in files:
                if f.endswith(".file") and open(os.path.join(dirpath, f), "rb").read() == b"a":
                    os.unlink(os.path.join(dirpath, f))
                    removed.append(f)
        self.assertEqual(len(removed), 1)
        r = self.ctl("checkout", "localhost/layout:" + tag, dest)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_ENOTFOUND")
        self.assertIn("/a: the store lacks its object", err["message"])
        self.assertFalse(os.path.exists(dest))


if __name__ == "__main__":
    unittest.main(verbosity=2)
