"""Image store bookkeeping as podman users expect it (issue 13, items 5-7):
an image whose tag moved stays in the store by its ID ("<none>") while a
deployment (either slot) uses it, and is pruned once none does; a re-pull
of an unchanged image reads no blob; a short --name is under localhost/;
images update asks a registry only for images that came from one."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
sys.path.insert(0, os.path.join(HERE, "..", "registry"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import imagelib as il  # noqa: E402
from test_deploy import build  # noqa: E402
import registry as rg  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def have(*tools):
    return all(shutil.which(t) for t in tools)


def id_ref(image_id):
    return "ociimage/sha256_3A" + image_id


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-bk13-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "one"}})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "two"}}, {"etc/motd": "v2\n"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-bk13-root-")
        self.repo = os.path.join(self.sysroot, "var/lib/containers/atomic/.storage/ostree")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def ctl(self, *args, check=True):
        r = subprocess.run([CTL, "--sysroot", self.sysroot, *args], capture_output=True,
                           text=True, timeout=120)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def js(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def refs(self):
        return set(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                  capture_output=True, text=True).stdout.split())

    def listing(self):
        return sorted((i["repository"], i["tag"], i["id"], i["in_use"])
                      for i in self.js("images", "list")["images"])

    def config_ref(self, tag):
        return "ociimage/" + il.read_manifest(self.layout, tag)["config"]["digest"][7:]

    def fsck(self):
        subprocess.run(["ostree", "fsck", "--repo=" + self.repo], check=True,
                       capture_output=True)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree"), "needs root, umoci, ostree")
class MovedTagTest(Base):
    def test_moved_tag_keeps_image_used_by_either_slot(self):
        id1 = self.js("pull", "--name", "localhost/x:1", "oci:%s:v1" % self.layout)["id"]
        self.ctl("install", "--name", "c1", "localhost/x:1")
        with open(os.path.join(self.sysroot, "var/lib/containers/atomic/c1.0/info")) as f:
            self.assertEqual(json.load(f)["revision"], id1)
        id2 = self.js("pull", "--name", "localhost/x:1", "oci:%s:v2" % self.layout)["id"]
        self.assertNotEqual(id1, id2)
        # the new image has the name and is not in use; the old one is kept by
        # its ID, in use by c1.0 (by the recorded ID, not by the name)
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, True),
                                          ("localhost/x", "1", id2, False)])
        self.assertIn(id_ref(id1), self.refs())
        for text in (id1[:12], "sha256:" + id1, id1):
            doc = self.js("images", "inspect", text)
            self.assertEqual((doc["name"], doc["id"], doc["names"]), ("<none>", id1, []), text)
        r = self.ctl("images", "verify", id1[:12])
        self.assertEqual(r.stdout.splitlines()[-1], id1 + ": verified")
        v = self.js("images", "verify", id1[:12])
        self.assertEqual((v["name"], v["id"], v["ok"]), ("<none>", id1, True))
        # prune keeps it, with its config (its labels) and layers
        before = self.refs()
        pruned = self.js("images", "prune")
        self.assertEqual((pruned["images_removed"], pruned["refs_removed"]), (0, 0))
        self.assertEqual(self.refs(), before)
        self.assertIn(self.config_ref("v1"), before)
        # delete refuses it while used
        r = self.ctl("images", "delete", id1[:12], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("image 'sha256:%s' is used by container deployment 'c1.0'" % id1, r.stderr)
        self.assertIn(id_ref(id1), self.refs())

        # update: c1.1 runs the new image, c1.0 (the rollback) still the old one
        self.ctl("update", "c1")
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, True),
                                          ("localhost/x", "1", id2, True)])
        self.assertEqual(self.js("images", "prune")["images_removed"], 0)
        self.assertIn(self.config_ref("v1"), self.refs())
        self.ctl("checkout", id1[:12], os.path.join(self.sysroot, "co"))
        with open(os.path.join(self.sysroot, "co/etc/motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")

        # once no slot uses it, prune removes it, its config and its own layer
        self.ctl("uninstall", "c1")
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, False),
                                          ("localhost/x", "1", id2, False)])
        pruned = self.js("images", "prune")
        self.assertEqual(pruned["images_removed"], 1)
        self.assertGreaterEqual(pruned["refs_removed"], 1)
        self.assertEqual(self.listing(), [("localhost/x", "1", id2, False)])
        self.assertNotIn(id_ref(id1), self.refs())
        self.assertNotIn(self.config_ref("v1"), self.refs())
        self.assertIn(self.config_ref("v2"), self.refs())
        r = self.ctl("images", "inspect", id1[:12], check=False)
        self.assertEqual((r.returncode, r.stderr.strip().splitlines()[-1]),
                         (1, "syscontainerctl: error: image '%s' is not in the store" % id1[:12]))
        self.fsck()

    def test_name_back_and_delete_untagged(self):
        id1 = self.js("pull", "--name", "localhost/x:1", "oci:%s:v1" % self.layout)["id"]
        id2 = self.js("pull", "--name", "localhost/x:1", "oci:%s:v2" % self.layout)["id"]
        # a pull that brings the old image back under the name: no "<none>" for it
        self.ctl("pull", "--name", "localhost/x:1", "oci:%s:v1" % self.layout)
        self.assertEqual(self.listing(), [("<none>", "<none>", id2, False),
                                          ("localhost/x", "1", id1, False)])
        self.assertNotIn(id_ref(id1), self.refs())
        # a second name keeps an image: moving one of two names keeps no ID ref
        self.ctl("images", "tag", "localhost/x:1", "localhost/y:1")
        self.ctl("images", "tag", id2[:12], "localhost/x:1")
        self.assertEqual(self.listing(), [("localhost/x", "1", id2, False),
                                          ("localhost/y", "1", id1, False)])
        self.assertFalse({id_ref(id1), id_ref(id2)} & self.refs())
        # moving the last name by tag keeps it by ID; delete of the unused one removes it
        self.ctl("images", "tag", "localhost/x:1", "localhost/y:1")
        self.assertEqual(self.listing(), [("<none>", "<none>", id1, False),
                                          ("localhost/x", "1", id2, False),
                                          ("localhost/y", "1", id2, False)])
        self.ctl("images", "delete", id1[:12])
        self.assertEqual(self.listing(), [("localhost/x", "1", id2, False),
                                          ("localhost/y", "1", id2, False)])
        self.assertEqual(self.js("images", "prune")["images_removed"], 0)
        self.assertNotIn(self.config_ref("v1"), self.refs())

    def test_in_use_by_id_not_by_name(self):
        id1 = self.js("pull", "--name", "localhost/x:1", "oci:%s:v1" % self.layout)["id"]
        ck = os.path.join(self.sysroot, "var/lib/containers/atomic")
        os.makedirs(os.path.join(ck, "other.1"))
        # a slot that names the image but records another ID does not use it
        with open(os.path.join(ck, "other.1", "info"), "w") as f:
            json.dump({"image": "localhost/x:1", "revision": "0" * 64}, f)
        self.assertEqual(self.listing(), [("localhost/x", "1", id1, False)])
        with open(os.path.join(ck, "other.1", "info"), "w") as f:
            json.dump({"image": "elsewhere/y:2", "revision": id1}, f)
        self.assertEqual(self.listing(), [("localhost/x", "1", id1, True)])
        # a hostile checkout root: an info that is a fifo, or a link to a
        # file outside saying it uses the image, counts for nothing (and
        # nothing waits on the fifo)
        os.unlink(os.path.join(ck, "other.1", "info"))
        os.mkfifo(os.path.join(ck, "other.1", "info"))
        outside = os.path.join(self.sysroot, "..", os.path.basename(self.sysroot) + "-out")
        with open(outside, "w") as f:
            json.dump({"revision": id1}, f)
        try:
            os.makedirs(os.path.join(ck, "other.0"))
            os.symlink(outside, os.path.join(ck, "other.0", "info"))
            os.symlink(os.path.join(ck, "other.0"), os.path.join(ck, "linked.1"))
            self.assertEqual(self.listing(), [("localhost/x", "1", id1, False)])
        finally:
            os.unlink(outside)


    @unittest.skipIf(il.sanitized_library(), "the library is built with ASan")
    def test_python_binding(self):
        import syscontainer
        ctx = syscontainer.Context(sysroot=self.sysroot)
        id1 = ctx.pull("oci:%s:v1" % self.layout, name="x:1")["id"]
        id2 = ctx.pull("oci:%s:v2" % self.layout, name="x:1")["id"]
        self.assertEqual(sorted((i["repository"], i["id"]) for i in ctx.images()),
                         [("<none>", id1), ("localhost/x", id2)])
        self.assertEqual((ctx.inspect(id1[:12])["names"], ctx.inspect("x:1")["names"]),
                         ([], ["localhost/x:1"]))
        self.assertTrue(ctx.verify(id1[:12])["ok"])
        self.assertEqual(ctx.update_images()[0]["skipped"],
                         "pulled from oci:, not from a registry: pull it again from there")
        self.assertEqual(ctx.prune()["images_removed"], 1)
        self.assertEqual([i["id"] for i in ctx.images()], [id2])


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree"), "needs root, umoci, ostree")
class ShortNameTest(Base):
    def test_short_name_is_localhost(self):
        self.assertEqual(self.ctl("pull", "--name", "demo:1", "oci:%s:v1" % self.layout).stdout,
                         "localhost/demo:1\n")
        self.assertEqual(self.ctl("pull", "--name", "library/demo",
                                  "oci:%s:v1" % self.layout).stdout,
                         "localhost/library/demo:latest\n")
        self.assertEqual(self.ctl("pull", "--name", "example.com/demo:1",
                                  "oci:%s:v1" % self.layout).stdout, "example.com/demo:1\n")
        refs = {r for r in self.refs() if not r[9:].isalnum()}
        self.assertEqual(refs, {"ociimage/localhost_2Fdemo_3A1",
                                "ociimage/localhost_2Flibrary_2Fdemo_3Alatest",
                                "ociimage/example.com_2Fdemo_3A1"})
        # found by the short name
        self.assertEqual(self.js("images", "inspect", "demo:1")["name"], "localhost/demo:1")
        self.assertEqual(self.js("images", "inspect", "library/demo")["name"],
                         "localhost/library/demo:latest")
        doc = self.js("images", "inspect", "demo:1")
        self.assertEqual(doc["transport"], "oci")
        r = self.ctl("images", "inspect", "docker.io/library/demo:1", check=False)
        self.assertEqual((r.returncode, r.stderr.strip().splitlines()[-1]),
                         (1, "syscontainerctl: error: image 'docker.io/library/demo:1' is not in the store"))


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "ostree", "skopeo", "docker-registry"),
                     "needs root, umoci, ostree, skopeo and docker-registry")
class RegistryBookkeepingTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = rg.Registry(cls.shared)
        cls.archive = os.path.join(cls.shared, "sys.tar")
        il.run("skopeo", "copy", "oci:%s:v1" % cls.layout,
               "docker-archive:%s:quay.io/example/sys:1" % cls.archive)
        il.run("skopeo", "copy", "oci:%s:v1" % cls.layout,
               "oci-archive:%s" % os.path.join(cls.shared, "sys-oci.tar"))

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        super().tearDownClass()

    def push(self, tag, dest):
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:%s" % (self.layout, tag),
               "docker://%s/%s" % (self.registry.host, dest))

    def test_repull_makes_no_blob_request(self):
        self.push("v1", "same:1")
        ref = "%s/same:1" % self.registry.host
        self.ctl("pull", "--tls-verify=false", ref)
        before = {k: self.registry.requests(*p) for k, p in self.KINDS.items()}
        report = self.js("pull", "--tls-verify=false", ref)
        self.assertEqual((report["layers_imported"], report["bytes_read"]), (0, 0))
        seen = {k: self.registry.requests(*p) - before[k] for k, p in self.KINDS.items()}
        # no blob request at all; manifest requests (and the /v2/ version
        # check) and nothing else
        self.assertEqual(seen["blobs"], 0, seen)
        self.assertGreaterEqual(seen["manifests"], 1, seen)
        self.assertEqual(seen["all"], seen["manifests"] + seen["ping"], seen)

    KINDS = {"all": (), "blobs": ("/blobs/",), "manifests": ("/manifests/",),
             "ping": ("http.request.uri=/v2/ ",)}

    def test_update_all_skips_local_images(self):
        self.push("v1", "up:1")
        ref = "%s/up:1" % self.registry.host
        old = self.js("pull", "--tls-verify=false", ref)["id"]
        self.ctl("pull", "--name", "demo:1", "oci:%s:v1" % self.layout)
        self.ctl("pull", "docker-archive:" + self.archive)
        self.ctl("pull", "--name", "ocitar:1", "oci-archive:" + os.path.join(self.shared,
                                                                             "sys-oci.tar"))
        self.push("v2", "up:1")
        r = self.ctl("images", "update", "--all", "--tls-verify=false", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        new = self.js("images", "inspect", ref)["id"]
        self.assertNotEqual(new, old)
        self.assertEqual(sorted(r.stdout.splitlines()), sorted([
            "%s: updated %.12s -> %.12s" % (ref, old, new),
            "localhost/demo:1: skipped: pulled from oci:, not from a registry: pull it again "
            "from there",
            "localhost/ocitar:1: skipped: pulled from oci-archive:, not from a registry: pull it "
            "again from there",
            "quay.io/example/sys:1: skipped: pulled from docker-archive:, not from a registry: "
            "pull it again from there"]))
        # the registry was asked about up:1 only
        self.assertEqual(self.registry.requests("/demo/"), 0)
        self.assertEqual(self.registry.requests("/sys/"), 0)
        # --json: the same, per image (the old up:1 is still named demo:1:
        # skopeo kept the OCI manifest, so it is the same image)
        doc = self.js("images", "update", "--all", "--tls-verify=false")
        skipped = {i["name"]: i.get("skipped") for i in doc["images"]}
        self.assertEqual(skipped, {
            ref: None,
            "localhost/demo:1": "pulled from oci:, not from a registry: pull it again from there",
            "localhost/ocitar:1": "pulled from oci-archive:, not from a registry: pull it again "
                                  "from there",
            "quay.io/example/sys:1": "pulled from docker-archive:, not from a registry: pull it "
                                     "again from there"})
        self.assertFalse(any("error" in i or i["updated"] for i in doc["images"]), doc)
        self.assertEqual([i["id"] for i in doc["images"] if i["name"] == ref], [new])
        # the tag moves back: the image it leaves is kept by its ID, and
        # update skips it (it has no name to ask about)
        self.push("v1", "up:1")
        doc = self.js("images", "update", "--all", "--tls-verify=false")
        self.assertIn({"name": ref, "updated": True, "old_id": new, "id": old,
                       "layers_imported": 0}, doc["images"])
        doc = self.js("images", "update", "--all", "--tls-verify=false")
        self.assertIn({"name": "<none>", "updated": False, "id": new,
                       "skipped": "no name (its tag moved to another image): nothing to ask a "
                                  "registry for"}, doc["images"])
        # one named local image: skipped, exit 0
        r = self.ctl("--json", "images", "update", "demo:1")
        self.assertEqual(json.loads(r.stdout)["images"][0]["skipped"],
                         "pulled from oci:, not from a registry: pull it again from there")


if __name__ == "__main__":
    unittest.main(verbosity=2)
