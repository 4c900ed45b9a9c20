"""The image store, end to end through syscontainerctl: images built with umoci
and skopeo, pulled from oci:, oci-archive: and docker-archive:, checked out, and
compared with what `umoci unpack` makes of the same image; bad input of every
kind; concurrent pulls and prunes."""

import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import unittest

import imagelib as il

CTL = os.environ["SYSCONTAINERCTL"]


def have(tool):
    return shutil.which(tool) is not None


@unittest.skipUnless(os.getuid() == 0 and have("umoci") and have("skopeo"),
                     "needs root, umoci and skopeo")
class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-store-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        il.build_base_image(cls.layout, "base")
        # a fourth, hand-made layer: an opaque directory, a device node, a fifo
        cls.opaque_tar = tar = il.make_tar([
            il.tinfo("etc/sub", tarfile.DIRTYPE, mode=0o750),
            il.tinfo("etc/sub/.wh..wh..opq"),
            il.tinfo("etc/sub/fresh", data=b"fresh\n"),
            il.tinfo("dev-null", tarfile.CHRTYPE),
            il.tinfo("fifo", tarfile.FIFOTYPE),
        ])
        il.add_layer(cls.layout, "base", tar, compression="gzip", new_tag="full")
        # the same layer zstd-compressed (umoci 0.4 cannot unpack zstd)
        il.add_layer(cls.layout, "base", tar, compression="zstd", new_tag="zstd")
        cls.reference = il.umoci_unpack(cls.layout, "full", os.path.join(cls.shared, "ref"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-store-")
        self.checkout_root = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.checkout_root, ".storage", "ostree")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def ctl(self, *args, check=True):
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                             r.stderr))
        return r

    def ctl_json(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def refs(self):
        if not os.path.exists(self.repo):
            return []
        return sorted(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def fsck(self):
        r = subprocess.run(["ostree", "--repo=" + self.repo, "fsck", "--quiet"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def assert_same_tree(self, ours, theirs):
        a, groups_a = il.listing(theirs)
        b, _ = il.listing(ours)
        # device nodes, fifos and sockets are skipped on import (umoci keeps them)
        for rel in [k for k, v in a.items() if v[0] not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)]:
            del a[rel]
            self.assertNotIn(rel, b)
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        self.assertEqual(diff, {}, "checkout differs from umoci unpack (umoci, ours)")
        for group in groups_a:
            self.assertTrue(il.same_inode(ours, group), "not hardlinked: %s" % group)

    def pull_and_compare(self, source, name):
        report = self.ctl_json("pull", source)
        self.assertEqual(report["name"], name)
        out = os.path.join(self.checkout_root, "out")
        self.ctl("checkout", name, out)
        self.assert_same_tree(out, self.reference)
        self.fsck()
        return report

    # -- sources ---------------------------------------------------------

    def test_oci_layout(self):
        report = self.pull_and_compare("oci:%s:full" % self.layout, "localhost/layout:full")
        self.assertEqual((report["layers"], report["layers_imported"]), (4, 4))
        manifest = il.read_manifest(self.layout, "full")
        # atomic's layout: one ref per layer and config, one per image name
        hexes = [l["digest"][7:] for l in manifest["layers"]] + [manifest["config"]["digest"][7:]]
        self.assertEqual(self.refs(), sorted(["ociimage/" + h for h in hexes] +
                                             ["ociimage/localhost_2Flayout_3Afull"]))
        meta = subprocess.run(["ostree", "--repo=" + self.repo, "show", "--print-metadata-key",
                               "docker.uncompressed_digest", "ociimage/" + hexes[0]],
                              capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(self.layout, "blobs", "sha256", manifest["config"]["digest"][7:])) as f:
            self.assertEqual(meta, "'%s'" % json.load(f)["rootfs"]["diff_ids"][0])
        # device node and fifo skipped, setuid kept, owners kept
        out = os.path.join(self.checkout_root, "out")
        self.assertFalse(os.path.lexists(os.path.join(out, "dev-null")))
        self.assertEqual(oct(os.stat(os.path.join(out, "bin", "suid")).st_mode & 0o7777), "0o4755")
        self.assertEqual(os.listdir(os.path.join(out, "etc", "sub")), ["fresh"])  # opaque
        # the checkout is hardlinks into the store
        hello = os.stat(os.path.join(out, "etc", "hello"))
        objects = os.path.join(self.repo, "objects")
        self.assertTrue(any(os.lstat(os.path.join(d, f)).st_ino == hello.st_ino
                            for d, _, files in os.walk(objects) for f in files))

    def test_zstd_and_uncompressed_layers(self):
        self.ctl("pull", "oci:%s:zstd" % self.layout)
        out = os.path.join(self.checkout_root, "zstd")
        self.ctl("checkout", "localhost/layout:zstd", out)
        self.assert_same_tree(out, self.reference)
        layout = self.copy_layout()
        il.add_layer(layout, "base", self.opaque_tar, compression="none", new_tag="plain")
        self.ctl("pull", "oci:%s:plain" % layout)
        out = os.path.join(self.checkout_root, "plain")
        self.ctl("checkout", "localhost/layout:plain", out)
        self.assert_same_tree(out, self.reference)

    def test_oci_archive(self):
        archive = os.path.join(self.tmp, "img.tar")
        il.run("skopeo", "copy", "oci:%s:full" % self.layout, "oci-archive:%s:full" % archive)
        self.pull_and_compare("oci-archive:%s:full" % archive, "localhost/img:full")

    def test_docker_archive(self):
        archive = os.path.join(self.tmp, "img.tar")
        il.run("skopeo", "copy", "oci:%s:full" % self.layout,
               "docker-archive:%s:quay.io/example/sys:1.0" % archive)
        self.pull_and_compare("docker-archive:" + archive, "quay.io/example/sys:1.0")
        # dockertar: is atomic's spelling of the same source
        self.assertEqual(self.ctl("pull", "dockertar:" + archive).stdout,
                         "quay.io/example/sys:1.0\n")

    def test_name_option_and_repull(self):
        # a short --name is under localhost/, as podman keeps it (issue 13)
        self.assertEqual(self.ctl("pull", "--name", "sys", "oci:%s:base" % self.layout).stdout,
                         "localhost/sys:latest\n")
        report = self.ctl_json("pull", "--name", "sys", "oci:%s:full" % self.layout)
        # the three layers shared with :base are not read again
        self.assertEqual((report["layers"], report["layers_imported"]), (4, 1))
        report = self.ctl_json("pull", "--name", "sys", "oci:%s:full" % self.layout)
        self.assertEqual((report["layers_imported"], report["bytes_read"]), (0, 0))

    def test_multi_platform_index(self):
        layout = self.copy_layout()
        arm = il.rewrite(layout, "base", edit_config=lambda c: c.update(architecture="arm64"),
                         new_tag="arm")
        il.make_index(layout, [("base", "linux", "amd64", None), ("arm", "linux", "arm64", "v8")],
                      "multi")
        if os.uname().machine == "x86_64":  # the default is this machine's platform
            self.ctl("pull", "--name", "host", "oci:%s:multi" % layout)
            self.assertEqual(self.ctl_json("images", "inspect", "host")["architecture"], "amd64")
        report = self.ctl_json("pull", "--name", "arm", "--platform", "linux/arm64",
                               "oci:%s:multi" % layout)
        self.assertEqual(report["id"], arm[7:])
        self.assertEqual(self.ctl_json("images", "inspect", "arm")["architecture"], "arm64")
        r = self.ctl("pull", "--platform", "linux/s390x", "oci:%s:multi" % layout, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no image for linux/s390x in the index (it has: linux/amd64, linux/arm64/v8)",
                      r.stderr)
        r = self.ctl("pull", "--platform", "linux", "oci:%s:multi" % layout, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("platform 'linux': expected OS/ARCHITECTURE[/VARIANT]", r.stderr)

    def test_progress_bar_on_a_terminal(self):
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(CTL, [CTL, "--checkout-root", self.checkout_root, "pull",
                           "oci:%s:full" % self.layout])
        output = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, output)
        text = output.decode()
        # (issue 15: the bar is fitted to the terminal's width)
        self.assertRegex(text, r"\r\[#+\] [0-9.]+ [kM]B / [0-9.]+ [kM]B, layers 4/4\x1b\[K")
        self.assertTrue(text.rstrip().endswith("localhost/layout:full"), text)
        # not on a pipe
        self.assertEqual(self.ctl("pull", "oci:%s:full" % self.layout).stderr, "")

    # -- operations ------------------------------------------------------

    def test_list_inspect_tag_delete_prune(self):
        self.assertEqual(self.ctl_json("images", "list")["images"], [])
        self.assertFalse(os.path.exists(self.repo), "a read-only command created the store")
        self.ctl("pull", "oci:%s:full" % self.layout)
        images = self.ctl_json("images", "list")["images"]
        self.assertEqual(len(images), 1)
        img = images[0]
        self.assertEqual((img["repository"], img["tag"], img["in_use"]), ("localhost/layout", "full", False))
        with open(os.path.join(self.layout, "blobs", "sha256",
                               il.read_manifest(self.layout, "full")["config"]["digest"][7:])) as f:
            config = json.load(f)
        self.assertEqual(img["created"], config["created"])
        self.assertGreater(img["size"], os.path.getsize("/bin/busybox"))

        info = self.ctl_json("images", "inspect", img["id"][:10])
        self.assertEqual(info["labels"], {"atomic.type": "system"})
        self.assertEqual(len(info["layers"]), 4)
        self.assertTrue(all(l["present"] for l in info["layers"]))
        port = [v for v in info["variables"] if v["name"] == "PORT"][0]
        self.assertEqual((port["source"], port["default"]), ("manifest", "80"))
        # the source string names the image too
        self.assertEqual(self.ctl_json("images", "inspect", "oci:%s:full" % self.layout)["id"], img["id"])

        self.ctl("images", "tag", "localhost/layout:full", "example.com/sys:2")
        names = self.ctl_json("images", "inspect", "example.com/sys:2")["names"]
        self.assertEqual(sorted(names), ["example.com/sys:2", "localhost/layout:full"])
        self.ctl("images", "delete", "localhost/layout:full")
        self.assertEqual([i["repository"] for i in self.ctl_json("images", "list")["images"]],
                         ["example.com/sys"])
        pruned = self.ctl_json("images", "prune")
        self.assertEqual(pruned["refs_removed"], 0)  # still named as example.com/sys:2
        self.ctl("images", "delete", img["id"][:12])
        pruned = self.ctl_json("images", "prune")
        self.assertEqual(pruned["refs_removed"], 5)  # 4 layers and the config
        self.assertGreater(pruned["objects_removed"], 0)
        self.assertEqual(self.refs(), [])
        self.fsck()

    def test_reads_atomic_era_names(self):
        # atomic stored "atomic-test-system" as ociimage/atomic-test-system_3Alatest
        self.ctl("pull", "oci:%s:base" % self.layout)
        subprocess.run(["ostree", "--repo=" + self.repo, "refs", "--create",
                        "ociimage/atomic-test-system_3Alatest", "ociimage/localhost_2Flayout_3Abase"],
                       check=True)
        info = self.ctl_json("images", "inspect", "atomic-test-system")
        self.assertEqual(info["name"], "atomic-test-system:latest")
        self.assertIn(("atomic-test-system", "latest"),
                      [(i["repository"], i["tag"]) for i in self.ctl_json("images", "list")["images"]])
        out = os.path.join(self.checkout_root, "out")
        self.ctl("checkout", "atomic-test-system", out)
        self.assertTrue(os.path.isfile(os.path.join(out, "bin", "busybox")))

    def test_delete_refuses_image_in_use(self):
        report = json.loads(self.ctl("--json", "pull", "oci:%s:full" % self.layout).stdout)
        slot = os.path.join(self.checkout_root, "sys.0")
        os.makedirs(slot)
        # in use by the image ID the deployment recorded (issue 13: never by
        # the name, which may have moved to another image since)
        with open(os.path.join(slot, "info"), "w") as f:
            json.dump({"image": "localhost/layout:full", "revision": report["id"]}, f)
        r = self.ctl("images", "delete", "localhost/layout:full", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("image 'localhost/layout:full' is used by container deployment 'sys.0'", r.stderr)
        self.assertTrue(self.ctl_json("images", "list")["images"][0]["in_use"])
        self.ctl("images", "delete", "--force", "localhost/layout:full")

    def test_verify_finds_damage(self):
        self.ctl("pull", "oci:%s:full" % self.layout)
        self.assertEqual(self.ctl("images", "verify", "localhost/layout:full").stdout.splitlines()[-1],
                         "localhost/layout:full: verified")
        out = os.path.join(self.checkout_root, "out")
        self.ctl("checkout", "localhost/layout:full", out)
        # the checkout shares inodes with the store: damage one object
        os.chmod(os.path.join(out, "etc", "hello"), 0o644)
        with open(os.path.join(out, "etc", "hello"), "w") as f:
            f.write("tampered\n")
        r = self.ctl("--json", "images", "verify", "localhost/layout:full", check=False)
        self.assertEqual(r.returncode, 1)
        report = json.loads(r.stdout)
        self.assertFalse(report["ok"])
        bad = [l for l in report["layers"] if not l["ok"]]
        # /etc/hello is in the first two layers: both hold the damaged object
        self.assertEqual(len(bad), 2)
        for layer in bad:
            self.assertIn("Corrupted file object", layer["problem"])

    def test_checkout_refusals(self):
        self.ctl("pull", "oci:%s:full" % self.layout)
        busy = os.path.join(self.tmp, "busy")
        os.makedirs(busy)
        open(os.path.join(busy, "x"), "w").close()
        r = self.ctl("checkout", "localhost/layout:full", busy, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("checkout directory %s exists and is not empty" % busy, r.stderr)
        other_fs = tempfile.mkdtemp(dir="/dev/shm")
        try:
            # on another file system the checkout copies what it cannot link
            self.ctl("checkout", "localhost/layout:full", os.path.join(other_fs, "x"))
            self.assertEqual(os.listdir(other_fs), ["x"])
            self.assertEqual(os.stat(os.path.join(other_fs, "x")).st_dev,
                             os.stat(other_fs).st_dev)
        finally:
            shutil.rmtree(other_fs)
        r = self.ctl("checkout", "nosuch", os.path.join(self.tmp, "n"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("image 'nosuch' is not in the store", r.stderr)

    # -- bad input -------------------------------------------------------

    def bad_pull(self, source, message, code="SC_EDIGEST"):
        self.ctl("pull", "--name", "good", "oci:%s:base" % self.layout)
        before = self.refs()
        r = self.ctl("--json", "pull", source, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], code, err["message"])
        self.assertIn(message, err["message"])
        self.assertEqual(self.refs(), before, "a failed pull changed the refs")
        self.fsck()

    def copy_layout(self):
        dst = os.path.join(self.tmp, "layout")
        shutil.copytree(self.layout, dst)
        return dst

    def last_layer_blob(self, layout, tag):
        digest = il.read_manifest(layout, tag)["layers"][-1]["digest"]
        return os.path.join(layout, "blobs", "sha256", digest[7:]), digest

    def test_truncated_blob(self):
        layout = self.copy_layout()
        path, digest = self.last_layer_blob(layout, "full")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        self.bad_pull("oci:%s:full" % layout, "layer %s: truncated" % digest)

    def test_blob_digest_mismatch(self):
        layout = self.copy_layout()
        tar = il.make_tar([il.tinfo("x", data=b"x" * 100)])
        digest = il.add_layer(layout, "base", tar, compression="none", new_tag="bad")
        path = os.path.join(layout, "blobs", "sha256", digest[7:])
        with open(path, "r+b") as f:
            f.seek(600)
            f.write(b"y")  # same size, other bytes
        self.bad_pull("oci:%s:bad" % layout,
                      "layer %s: the blob's digest is sha256:" % digest)

    def test_diff_id_mismatch(self):
        layout = self.copy_layout()
        tar = il.make_tar([il.tinfo("x", data=b"x")])
        il.add_layer(layout, "base", tar, new_tag="bad", diff_id="sha256:" + "0" * 64)
        self.bad_pull("oci:%s:bad" % layout, "the config's diff_id is sha256:" + "0" * 64)

    def test_diff_id_count_mismatch(self):
        layout = self.copy_layout()
        il.rewrite(layout, "base", edit_config=lambda c: c["rootfs"]["diff_ids"].pop(),
                   new_tag="bad")
        self.bad_pull("oci:%s:bad" % layout, "the manifest lists 3 layers but the config 2 diff_ids")

    def test_diff_id_not_a_digest(self):
        # a diff_id that is not a digest would leave its layer unchecked
        for bad, code, message in (
                (123, "SC_EDIGEST", "config: diff_id 0 is not a digest string"),
                ("sha256:abc", "SC_EDIGEST", "config: diff_id 0: digest 'sha256:abc': expected "
                                             "sha256: and 64 lowercase hexadecimal digits")):
            with self.subTest(diff_id=bad):
                layout = self.copy_layout()
                il.rewrite(layout, "base", new_tag="bad",
                           edit_config=lambda c: c["rootfs"]["diff_ids"].__setitem__(0, bad))
                self.bad_pull("oci:%s:bad" % layout, message, code=code)
                shutil.rmtree(layout)

    def test_escaping_paths(self):
        for name, message in (("../evil", "entry '../evil' has a '..' component"),
                              ("a/../../evil", "has a '..' component"),
                              ("/etc/evil", "entry '/etc/evil' has an absolute path")):
            with self.subTest(name=name):
                layout = self.copy_layout()
                il.add_layer(layout, "base", il.make_tar([il.tinfo(name, data=b"x")]), new_tag="bad")
                self.bad_pull("oci:%s:bad" % layout, message, code="SC_EUNSUPPORTED")
                shutil.rmtree(layout)

    def test_hardlink_outside_layer(self):
        layout = self.copy_layout()
        tar = il.make_tar([il.tinfo("etc/link", tarfile.LNKTYPE, linkname="etc/hello")])
        il.add_layer(layout, "base", tar, new_tag="bad")
        self.bad_pull("oci:%s:bad" % layout,
                      "'etc/link' is a hardlink to 'etc/hello', which is not an earlier file of "
                      "this layer", code="SC_EUNSUPPORTED")

    def test_not_a_tar(self):
        layout = self.copy_layout()
        il.add_layer(layout, "base", b"this is not a tar archive" * 40, new_tag="bad")
        self.bad_pull("oci:%s:bad" % layout, "not a valid tar archive", code="SC_EUNSUPPORTED")

    def test_missing_blob(self):
        layout = self.copy_layout()
        path, digest = self.last_layer_blob(layout, "full")
        os.unlink(path)
        self.bad_pull("oci:%s:full" % layout, "blob %s" % digest, code="SC_ENOTFOUND")

    def test_wrong_media_type_and_schema1(self):
        layout = self.copy_layout()
        il.rewrite(layout, "base", edit_manifest=lambda m: m.update(mediaType="text/plain"),
                   new_tag="bad")
        index = json.load(open(os.path.join(layout, "index.json")))
        for m in index["manifests"]:
            if m["annotations"]["org.opencontainers.image.ref.name"] == "bad":
                m["mediaType"] = "text/plain"
        json.dump(index, open(os.path.join(layout, "index.json"), "w"))
        self.bad_pull("oci:%s:bad" % layout, "unsupported manifest media type 'text/plain'",
                      code="SC_EUNSUPPORTED")
        il.rewrite(layout, "base", edit_manifest=lambda m: m.update(
            schemaVersion=1, mediaType="application/vnd.docker.distribution.manifest.v1+json"),
            new_tag="v1")
        self.bad_pull("oci:%s:v1" % layout, "Docker schema 1 manifests are not supported",
                      code="SC_EUNSUPPORTED")

    def test_malformed_json(self):
        layout = self.copy_layout()
        with open(os.path.join(layout, "index.json"), "w") as f:
            f.write("{\"manifests\": [")
        self.bad_pull("oci:%s:base" % layout, "index.json: invalid JSON at line 1", code="SC_EIO")

    def test_non_ascii_names(self):
        # pax records names as UTF-8; they must survive whatever the locale is
        layout = self.copy_layout()
        tar = il.make_tar([il.tinfo("etc/caf\u00e9-\u65e5\u672c", data=b"x"),
                           il.tinfo("etc/l\u00efnk", tarfile.SYMTYPE, linkname="caf\u00e9")])
        il.add_layer(layout, "base", tar, new_tag="utf8")
        env = dict(os.environ, LANG="C", LC_ALL="C")
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, "pull",
                            "oci:%s:utf8" % layout], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.checkout_root, "out")
        self.ctl("checkout", "localhost/layout:utf8", out)
        self.assertTrue(os.path.isfile(os.path.join(out, "etc", "caf\u00e9-\u65e5\u672c")))
        self.assertEqual(os.readlink(os.path.join(out, "etc", "l\u00efnk")), "caf\u00e9")

    def test_decompression_and_entry_bombs(self):
        layout = self.copy_layout()
        # 64 MB of zeros in a 64 kB blob; the limit is 16 MB
        bomb = il.make_tar([il.tinfo("zeros", data=bytes(64 * 1024 * 1024))])
        digest = il.add_layer(layout, "base", bomb, new_tag="bomb")
        self.assertLess(os.path.getsize(os.path.join(layout, "blobs", "sha256", digest[7:])),
                        200 * 1024)
        many = il.make_tar([il.tinfo("f%d" % i) for i in range(3000)])
        il.add_layer(layout, "base", many, new_tag="many")
        os.environ["SC_MAX_LAYER_BYTES"] = str(16 * 1024 * 1024)
        os.environ["SC_MAX_LAYER_ENTRIES"] = "2000"
        try:
            self.bad_pull("oci:%s:bomb" % layout, "inflates to more than 16777216 bytes, the limit",
                          code="SC_EUNSUPPORTED")
            self.bad_pull("oci:%s:many" % layout, "has more than 2000 entries, the limit",
                          code="SC_EUNSUPPORTED")
        finally:
            del os.environ["SC_MAX_LAYER_BYTES"]
            del os.environ["SC_MAX_LAYER_ENTRIES"]
        # with the default limits both are fine
        self.ctl("pull", "oci:%s:many" % layout)

    def test_layer_listed_twice(self):
        layout = self.copy_layout()
        m = il.read_manifest(layout, "base")
        dup = dict(m["layers"][0])
        il.rewrite(layout, "base", edit_manifest=lambda m: m["layers"].append(dup),
                   edit_config=lambda c: c["rootfs"]["diff_ids"].append(c["rootfs"]["diff_ids"][0]),
                   new_tag="dup")
        report = self.ctl_json("pull", "oci:%s:dup" % layout)
        self.assertEqual((report["layers"], report["layers_imported"]), (4, 3))
        self.fsck()

    # -- concurrency -----------------------------------------------------

    def test_concurrent_pulls_and_prune(self):
        archive = os.path.join(self.tmp, "img.tar")
        il.run("skopeo", "copy", "oci:%s:full" % self.layout, "oci-archive:%s:full" % archive)
        self.ctl("pull", "--name", "old", "oci:%s:base" % self.layout)
        self.ctl("images", "delete", "old")
        results = []

        def work(args):
            results.append(self.ctl(*args, check=False))

        threads = [threading.Thread(target=work, args=(a,)) for a in (
            ("pull", "--name", "one", "oci:%s:full" % self.layout),
            ("pull", "--name", "two", "oci-archive:%s:full" % archive),
            ("images", "prune"), ("pull", "--name", "three", "oci:%s:base" % self.layout))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("one", "two", "three"):
            self.assertEqual(self.ctl("images", "verify", name).returncode, 0)
        self.fsck()
        out = os.path.join(self.checkout_root, "out")
        self.ctl("checkout", "two", out)
        self.assert_same_tree(out, self.reference)


if __name__ == "__main__":
    unittest.main(verbosity=2)
