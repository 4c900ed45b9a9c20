"""Crafted layers against the importer: what reaches the store must be what
OSTree's fsck recomputes (xattrs, modes), limits count what is stored (a
sparse file by its full size), paths are bounded in depth and length,
whiteout names mean something, and every refusal names the layer and the
entry and leaves the store as it was (same refs, `ostree fsck` clean).
Accepted layers are pulled, verified (`images verify`, `ostree fsck`) and
checked out, and the checkout is compared with what the layer says."""

import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.dirname(__file__))
import imagelib as il  # noqa: E402
import tarcraft as tc  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def host_labels():
    """Whether this machine's SELinux policy labels what is imported for
    the host (docs/security.md, "SELinux labels")."""
    try:
        with open("/etc/selinux/config") as f:
            lines = [l.replace(" ", "").strip() for l in f]
    except FileNotFoundError:
        return False
    return "SELINUX=enforcing" in lines or "SELINUX=permissive" in lines


def layer_xattrs(path):
    """The xattrs of @path that came from its layer: the label the host's
    policy adds (tests/deploy/test_selinux.py checks its value) left out."""
    names = sorted(os.listxattr(path))
    if host_labels():
        assert "security.selinux" in names, names
        names.remove("security.selinux")
    return names
MiB = 1024 * 1024

NEEDS = unittest.skipUnless(
    os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
    "needs root (a bare store keeps owners and xattrs), umoci and ostree")


def xattr(name, value):
    return (b"SCHILY.xattr." + name, value)


# A v3 (namespaced) file capability: cap_net_raw permitted and effective,
# rooted at uid 0, and the v2 form the kernel reports for it
CAP_V3 = (b"\x01\x00\x00\x03" + b"\x00\x20\x00\x00" + b"\x00" * 4 + b"\x00" * 8
          + b"\x00\x00\x00\x00")
CAP_V2 = b"\x01\x00\x00\x02" + b"\x00\x20\x00\x00" + b"\x00" * 4 + b"\x00" * 8
# POSIX ACLs (version 2; user::rw- group::r-- other::r--, then one with a
# named user and a mask): the kernel folds the first into the mode and drops
# it, and widens the group bits of the file's mode for the second
ACL_MINIMAL = (b"\x02\x00\x00\x00" + b"\x01\x00\x06\x00\xff\xff\xff\xff"
               + b"\x04\x00\x04\x00\xff\xff\xff\xff" + b"\x20\x00\x04\x00\xff\xff\xff\xff")
ACL_EXTENDED = (b"\x02\x00\x00\x00" + b"\x01\x00\x06\x00\xff\xff\xff\xff"
                + b"\x02\x00\x06\x00\xe8\x03\x00\x00" + b"\x04\x00\x04\x00\xff\xff\xff\xff"
                + b"\x10\x00\x06\x00\xff\xff\xff\xff" + b"\x20\x00\x04\x00\xff\xff\xff\xff")


def deep_tree(depth):
    """a/, a/a/, ... @depth directories (pax paths), then a file at the bottom."""
    parts = [tc.member("d", typeflag=b"5", pax=[(b"path", b"a/" * i)]) for i in range(1, depth + 1)]
    parts.append(tc.member("f", b"bottom\n", pax=[(b"path", b"a/" * depth + b"f")]))
    return tc.end(parts)


def gnu_sparse_tar(directory, size, chunks):
    """A sparse file made with truncate, archived by GNU tar --sparse (pax
    format: GNU.sparse.* records, as `tar --sparse` writes for OCI tools)."""
    src = os.path.join(directory, "src")
    os.makedirs(src)
    path = os.path.join(src, "sparse")
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in chunks:
            f.seek(offset)
            f.write(data)
    out = os.path.join(directory, "sparse.tar")
    subprocess.run(["tar", "--sparse", "--format=posix", "--owner=0", "--group=0", "-C", src,
                    "-cf", out, "sparse"], check=True)
    with open(out, "rb") as f:
        return f.read()


@NEEDS
class LayerImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-layers-")
        cls.layout = os.path.join(cls.shared, "layout")
        cls.root = os.path.join(cls.shared, "root")
        cls.store = os.path.join(cls.root, ".storage", "ostree")
        cls.digests = {}
        il.build_base_image(cls.layout, "base")
        layer = cls.add

        # xattrs: Go and GNU tar write them sorted; libarchive hands them
        # over reversed; both orders must reach OSTree sorted
        layer("xattrs-sorted", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user.a", b"1"), xattr(b"user.b", b"2")])]))
        layer("xattrs-reversed", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user.b", b"2"), xattr(b"user.a", b"1")])]))
        layer("xattrs-dir", tc.end([tc.member("xdir/", typeflag=b"5", mode=0o755, pax=[
            xattr(b"user.b", b"2"), xattr(b"user.a", b"1")])]))
        layer("xattr-twice", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user.a", b"1"), xattr(b"user.a", b"2")])]))
        layer("xattr-no-namespace", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"evil", b"1")])]))
        layer("xattr-empty-name", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"", b"1"), xattr(b"user.kept", b"k")])]))
        layer("xattr-empty-value", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user.empty", b""), xattr(b"user.kept", b"k")])]))
        layer("xattr-huge-value", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user.big", b"v" * 65537)])]))
        layer("xattr-many", tc.end([tc.member("etc/x", b"x\n", pax=[
            xattr(b"user." + b"%03d" % i + b"n" * 240, b"v") for i in range(300)])]))
        layer("acl-minimal", tc.end([tc.member("etc/x", b"x\n", mode=0o644, pax=[
            xattr(b"system.posix_acl_access", ACL_MINIMAL)])]))
        layer("acl-extended", tc.end([tc.member("etc/x", b"x\n", mode=0o644, pax=[
            xattr(b"system.posix_acl_access", ACL_EXTENDED)])]))
        layer("cap-v3", tc.end([tc.member("bin/ping", b"#!/bin/sh\n", mode=0o755, pax=[
            xattr(b"security.capability", CAP_V3)])]))
        layer("mode-bits", tc.end([tc.member("bin/odd", b"#!/bin/sh\n", mode=0o7777777)]))

        # sparse files: 257 MiB from a few KiB of tar
        layer("sparse-big", tc.end([tc.gnu_sparse("big", 257 * MiB, [(0, b"head"),
                                                                     (256 * MiB, b"tail")])]))
        layer("sparse-small", tc.end([tc.gnu_sparse("small", 512 * 1024, [(0, b"head"),
                                                                          (300000, b"tail")])]))
        work = tempfile.mkdtemp(dir=cls.shared)
        layer("sparse-gnutar", gnu_sparse_tar(work, 300 * MiB, [(0, b"head"), (200 * MiB, b"x")]))

        # depth and length
        layer("deep", deep_tree(10000))
        layer("deep-ok", deep_tree(40))
        layer("deep-12", deep_tree(12))
        layer("long-path", tc.end([tc.member("f", b"x", pax=[(b"path", b"d/" * 2100 + b"f")])]))
        layer("long-name", tc.end([tc.member("f", b"x", pax=[(b"path", b"n" * 256)])]))
        layer("long-symlink", tc.end([tc.member("l", typeflag=b"2", linkname="x",
                                                pax=[(b"linkpath", b"t" * 5000)])]))
        layer("empty-symlink", tc.end([tc.member("l", typeflag=b"2", linkname="")]))
        layer("long-hardlink", tc.end([tc.member("f", b"x"),
                                       tc.member("h", typeflag=b"1", linkname="f",
                                                 pax=[(b"linkpath", b"d/" * 2100 + b"f")])]))

        # whiteouts
        for name in (".wh.", ".wh..", ".wh...", ".wh..wh.plnk", ".wh..wh..opq2"):
            layer("wh" + name, tc.end([tc.member("etc/" + name)]))
        layer("wh-root-dotdot", tc.end([tc.member(".wh..")]))
        layer("wh-dir", tc.end([tc.member("etc/.wh.hello/", typeflag=b"5")]))
        layer("wh-on-the-way", tc.end([tc.member("etc/.wh.sub/file", b"x")]))
        layer("wh-hardlink", tc.end([tc.member("etc/.wh.hello"),
                                     tc.member("etc/h", typeflag=b"1", linkname="etc/.wh.hello")]))
        layer("wh-valid", tc.end([tc.member("etc/.wh.hello"), tc.member("etc/sub/.wh..wh..opq"),
                                  tc.member("etc/sub/new", b"new\n")]))

        # names that say one thing to one reader and another to the next
        layer("pax-dotdot", tc.end([tc.member("benign", b"x", pax=[(b"path", b"../../etc/evil")])]))
        layer("pax-nul", tc.end([tc.member("benign", b"x", pax=[(b"path", b"nul\0../../evil")])]))
        layer("gnu-longname-dotdot", tc.end([tc.member("benign", b"x",
                                                       longname="x/" * 60 + "../../../evil")]))
        layer("gnu-longname", tc.end([tc.member("benign", b"long\n",
                                                longname="x/" * 60 + "file")]))
        layer("odd-bytes", tc.end([tc.member(b"\xff\x01/../evil", b"x")]))
        layer("hardlink-later", tc.end([tc.member("h", typeflag=b"1", linkname="later"),
                                        tc.member("later", b"x")]))

        r = cls.ctl("pull", "oci:%s:base" % cls.layout)
        assert r.returncode == 0, r.stdout + r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    @classmethod
    def add(cls, tag, tar_bytes):
        cls.digests[tag] = il.add_layer(cls.layout, "base", tar_bytes, new_tag=tag)

    @classmethod
    def ctl(cls, *args, env=None):
        return subprocess.run([CTL, "--json", "--checkout-root", cls.root] + list(args),
                              capture_output=True, text=True,
                              env=dict(os.environ, **(env or {})))

    def refs(self):
        r = subprocess.run(["ostree", "refs", "--repo=" + self.store], capture_output=True,
                           text=True, check=True)
        return sorted(r.stdout.split())

    def store_bytes(self):
        return sum(os.lstat(os.path.join(d, f)).st_blocks * 512
                   for d, _, fs in os.walk(self.store) for f in fs)

    def assert_fsck_clean(self):
        r = subprocess.run(["ostree", "fsck", "--repo=" + self.store], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("no errors found", r.stdout)

    def assert_refused(self, tag, message, code="SC_EUNSUPPORTED", env=None):
        refs = self.refs()
        r = self.ctl("pull", "oci:%s:%s" % (self.layout, tag), env=env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], code, err["message"])
        self.assertEqual(err["message"], "oci:%s:%s: layer %s: %s"
                         % (self.layout, tag, self.digests[tag], message))
        self.assertEqual(self.refs(), refs, "a refused layer changed the store's refs")
        self.assert_fsck_clean()

    def imported(self, tag, env=None):
        """Pulls, verifies and checks out @tag; returns the checkout."""
        r = self.ctl("pull", "oci:%s:%s" % (self.layout, tag), env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        name = json.loads(r.stdout)["name"]
        r = subprocess.run([CTL, "--checkout-root", self.root, "images", "verify", name],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("%s: verified" % name, r.stdout)
        self.assert_fsck_clean()
        dest = tempfile.mkdtemp(dir=self.shared)
        os.rmdir(dest)
        r = self.ctl("checkout", name, dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(shutil.rmtree, dest)
        return dest

    # ---- xattrs and modes: canonical for OSTree ----

    def test_xattrs_in_either_order(self):
        for tag in ("xattrs-sorted", "xattrs-reversed"):
            with self.subTest(tag):
                co = self.imported(tag)
                path = os.path.join(co, "etc/x")
                self.assertEqual(layer_xattrs(path), ["user.a", "user.b"])
                self.assertEqual(os.getxattr(path, "user.a"), b"1")
                self.assertEqual(os.getxattr(path, "user.b"), b"2")
                # the base image's files are still there
                self.assertTrue(os.path.isfile(os.path.join(co, "bin/busybox")))

    def test_directory_xattrs(self):
        co = self.imported("xattrs-dir")
        path = os.path.join(co, "xdir")
        self.assertEqual(layer_xattrs(path), ["user.a", "user.b"])

    def test_xattr_names_refused(self):
        self.assert_refused("xattr-twice", "entry 'etc/x' has an xattr 'user.a' that appears twice "
                            "with different values")
        self.assert_refused("xattr-no-namespace",
                            "entry 'etc/x' has an xattr 'evil' that is outside the namespaces "
                            "user., security., trusted. and system.")
        self.assert_refused("xattr-huge-value",
                            "entry 'etc/x' has an xattr 'user.big' that has a value longer than "
                            "65536 bytes")
        # each name takes 249 bytes with its NUL: the 264th passes 65536
        first_over = next(i for i in range(300) if 249 * (i + 1) > 65536)
        name = "user.%03d" % first_over + "n" * 240
        self.assert_refused("xattr-many",
                            "entry 'etc/x' has an xattr '%s...' that takes the entry's xattr "
                            "names past 65536 bytes, what a file can list" % name[:100])

    def test_xattr_empty_name_and_value(self):
        # libarchive drops a record without a name; OSTree cannot hold an
        # empty value (it reads it back as absent), so it is not given one
        for tag in ("xattr-empty-name", "xattr-empty-value"):
            with self.subTest(tag):
                co = self.imported(tag)
                path = os.path.join(co, "etc/x")
                self.assertEqual(layer_xattrs(path), ["user.kept"])

    def test_acls_the_kernel_rewrites(self):
        self.assert_refused("acl-minimal",
                            "entry 'etc/x' has xattrs that the filesystem changes when they are "
                            "stored ('system.posix_acl_access'); the store cannot hold it as the "
                            "layer gives it")
        self.assert_refused("acl-extended",
                            "entry 'etc/x' has xattrs that the filesystem changes when they are "
                            "stored (the mode 0644 to 0664); the store cannot hold it as the "
                            "layer gives it")

    def test_v3_capability_kept_as_the_kernel_reports_it(self):
        co = self.imported("cap-v3")
        self.assertEqual(os.getxattr(os.path.join(co, "bin/ping"), "security.capability"),
                         CAP_V2)

    def test_mode_bits_beyond_permissions(self):
        co = self.imported("mode-bits")
        st = os.lstat(os.path.join(co, "bin/odd"))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o7777)

    # ---- limits count what is stored ----

    def test_sparse_file_counts_its_full_size(self):
        env = {"SC_MAX_LAYER_BYTES": str(MiB)}
        before = self.store_bytes()
        self.assert_refused("sparse-big", "'big' (%d bytes) takes the layer's files past %d "
                            "bytes, the limit (SC_MAX_LAYER_BYTES)" % (257 * MiB, MiB), env=env)
        self.assert_refused("sparse-gnutar", "'sparse' (%d bytes) takes the layer's files past "
                            "%d bytes, the limit (SC_MAX_LAYER_BYTES)" % (300 * MiB, MiB), env=env)
        # refused before their data was written: the store did not grow
        self.assertLess(self.store_bytes() - before, MiB)

    def test_sparse_file_under_the_limit(self):
        co = self.imported("sparse-small", env={"SC_MAX_LAYER_BYTES": str(MiB)})
        with open(os.path.join(co, "small"), "rb") as f:
            data = f.read()
        expected = bytearray(512 * 1024)
        expected[0:4] = b"head"
        expected[300000:300004] = b"tail"
        self.assertEqual(data, bytes(expected))

    # ---- depth and length ----

    def test_deep_tree_refused_at_import(self):
        self.assert_refused("deep", "entry '%s...' has more than 256 path components, the limit "
                            "(SC_MAX_PATH_DEPTH)" % ("a/" * 50))
        # a real tree is far below the limit
        co = self.imported("deep-ok")
        with open(os.path.join(co, "a/" * 40 + "f")) as f:
            self.assertEqual(f.read(), "bottom\n")

    def test_depth_limit_can_be_changed(self):
        self.assert_refused("deep-12", "entry '%s' has more than 8 path components, the limit "
                            "(SC_MAX_PATH_DEPTH)" % ("a/" * 9), env={"SC_MAX_PATH_DEPTH": "8"})
        co = self.imported("deep-12")
        self.assertTrue(os.path.isfile(os.path.join(co, "a/" * 12 + "f")))

    def test_long_paths_refused(self):
        self.assert_refused("long-path", "entry '%s...' has a path of 4201 bytes; paths are at "
                            "most 4095 bytes, the limit (SC_MAX_PATH_BYTES)" % ("d/" * 50))
        self.assert_refused("long-path", "entry '%s...' has a path of 4201 bytes; paths are at "
                            "most 1000 bytes, the limit (SC_MAX_PATH_BYTES)" % ("d/" * 50),
                            env={"SC_MAX_PATH_BYTES": "1000"})
        self.assert_refused("long-name", "entry '%s...' has a name of 256 bytes; names are at "
                            "most 255 bytes" % ("n" * 100))

    def test_link_targets_bounded(self):
        self.assert_refused("long-symlink", "entry 'l' is a symlink to '%s...', 5000 bytes; link "
                            "targets are at most 4095 bytes, the limit (SC_MAX_PATH_BYTES)"
                            % ("t" * 100))
        self.assert_refused("empty-symlink", "entry 'l' is a symlink with an empty target")
        self.assert_refused("long-hardlink", "entry 'h' is a hardlink, and its target: entry "
                            "'%s...' has a path of 4201 bytes; paths are at most 4095 bytes, the "
                            "limit (SC_MAX_PATH_BYTES)" % ("d/" * 50))

    # ---- whiteouts ----

    def test_whiteouts_that_name_nothing(self):
        for name, target in ((".wh.", ""), (".wh..", "."), (".wh...", "..")):
            with self.subTest(name):
                self.assert_refused("wh" + name, "entry 'etc/%s' is a whiteout of '%s', which is "
                                    "not a name; a whiteout deletes one entry of its directory"
                                    % (name, target))
        self.assert_refused("wh-root-dotdot", "entry '.wh..' is a whiteout of '.', which is not a "
                            "name; a whiteout deletes one entry of its directory")

    def test_reserved_whiteout_prefix(self):
        for name in (".wh..wh.plnk", ".wh..wh..opq2"):
            with self.subTest(name):
                self.assert_refused("wh" + name, "entry 'etc/%s' is a whiteout with the reserved "
                                    "prefix '.wh..wh.'; only '.wh..wh..opq' (an opaque whiteout) "
                                    "is allowed" % name)

    def test_whiteouts_are_files(self):
        self.assert_refused("wh-dir", "entry 'etc/.wh.hello/' is a whiteout but a directory; "
                            "whiteouts are files")
        self.assert_refused("wh-on-the-way", "entry 'etc/.wh.sub/file' is inside '.wh.sub', a "
                            "whiteout; whiteouts are files, not directories")
        self.assert_refused("wh-hardlink", "entry 'etc/h' is a hardlink to 'etc/.wh.hello', a "
                            "whiteout; hardlinks must name a file")

    def test_valid_whiteouts_import(self):
        co = self.imported("wh-valid")
        self.assertFalse(os.path.lexists(os.path.join(co, "etc/hello")))
        self.assertFalse(os.path.lexists(os.path.join(co, "etc/sub/deep")))
        with open(os.path.join(co, "etc/sub/new")) as f:
            self.assertEqual(f.read(), "new\n")

    # ---- names that differ between readers ----

    def test_pax_path_wins_over_the_ustar_name(self):
        self.assert_refused("pax-dotdot", "entry '../../etc/evil' has a '..' component; layer "
                            "entries must stay inside the layer")
        self.assert_refused("gnu-longname-dotdot", "entry '%s' has a '..' component; layer "
                            "entries must stay inside the layer"
                            % ("x/" * 50 + "..."))
        co = self.imported("gnu-longname")
        with open(os.path.join(co, "x/" * 60 + "file")) as f:
            self.assertEqual(f.read(), "long\n")

    def test_pax_path_with_nul(self):
        # a C reader stops at the NUL: the entry is 'nul', and nothing else
        co = self.imported("pax-nul")
        self.assertTrue(os.path.isfile(os.path.join(co, "nul")))
        self.assertFalse(os.path.lexists(os.path.join(self.shared, "evil")))
        self.assertFalse(os.path.lexists(os.path.join(os.path.dirname(co), "evil")))

    def test_odd_bytes_shown_escaped(self):
        self.assert_refused("odd-bytes", "entry '\\xff\\x01/../evil' has a '..' component; layer "
                            "entries must stay inside the layer")

    def test_hardlink_to_a_later_file(self):
        self.assert_refused("hardlink-later", "'h' is a hardlink to 'later', which is not an "
                            "earlier file of this layer")

    # ---- the /exports scanner (inspect --remote) applies the same rules ----

    def test_remote_inspect_same_rules(self):
        for tag, message in (
                ("wh.wh..", "entry 'etc/.wh..' is a whiteout of '.', which is not a name; a "
                 "whiteout deletes one entry of its directory"),
                ("deep", "entry '%s...' has more than 256 path components, the limit "
                 "(SC_MAX_PATH_DEPTH)" % ("a/" * 50)),
                ("long-symlink", "entry 'l' is a symlink to '%s...', 5000 bytes; link targets "
                 "are at most 4095 bytes, the limit (SC_MAX_PATH_BYTES)" % ("t" * 100))):
            with self.subTest(tag):
                refs = self.refs()
                r = self.ctl("images", "inspect", "--remote", "oci:%s:%s" % (self.layout, tag))
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                err = json.loads(r.stdout)["error"]
                self.assertEqual(err["code"], "SC_EUNSUPPORTED")
                self.assertEqual(err["message"], "layer %s: %s" % (self.digests[tag], message))
                self.assertEqual(self.refs(), refs)


@NEEDS
class ExportsWhiteoutTest(unittest.TestCase):
    """inspect --remote reads /exports from the layers: an opaque whiteout at
    a layer's root hides the lower layers' /exports, as at checkout."""

    def test_opaque_whiteout_at_the_root(self):
        shared = tempfile.mkdtemp(prefix="sc-layers-exports-")
        self.addCleanup(shutil.rmtree, shared)
        layout = os.path.join(shared, "layout")
        il.build_base_image(layout, "base")
        il.add_layer(layout, "base", tc.end([tc.member(".wh..wh..opq"),
                                             tc.member("exports/manifest.json", b"{}")]),
                     new_tag="opaque")
        variables = {}
        for tag in ("base", "opaque"):
            r = subprocess.run([CTL, "--json", "--checkout-root", os.path.join(shared, "root"),
                                "images", "inspect", "--remote", "oci:%s:%s" % (layout, tag)],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            variables[tag] = {v["name"]: v for v in json.loads(r.stdout)["variables"]}
        # the base's service.template uses $PORT, its manifest.json sets it
        self.assertEqual(variables["base"]["PORT"]["files"], ["service.template"])
        # above the opaque whiteout only the built-in unit is left
        self.assertNotIn("PORT", variables["opaque"])
        self.assertEqual(variables["opaque"]["EXEC_START"]["source"], "forced")


if __name__ == "__main__":
    unittest.main(verbosity=2)
