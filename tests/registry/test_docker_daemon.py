"""docker:NAME[:TAG] (atomic's pull from the local Docker daemon) against a
real daemon that speaks the Docker Engine API: `podman system service` on
a private socket, with a private --root/--runroot (the machine's podman
state is not touched), holding an image podman pulled from the loopback
registry. The reference is the same image pulled from that registry."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def have(*tools):
    return all(shutil.which(t) for t in tools)


@unittest.skipUnless(os.getuid() == 0 and have("podman", "umoci", "skopeo", "docker-registry"),
                     "needs root, podman, umoci, skopeo and docker-registry")
class DockerDaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.service = cls.registry = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def podman(cls, *args):
        r = subprocess.run(cls.podman_args + list(args), env=cls.penv, capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError("podman %s: %s" % (" ".join(args), r.stderr))

    @classmethod
    def start(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-dd-")
        cls.layout = os.path.join(cls.shared, "layout")
        build_image(cls.layout)
        cls.registry = rg.Registry(cls.shared)
        cls.ref = "%s/hello:1" % cls.registry.host
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:base" % cls.layout,
               "docker://" + cls.ref)
        cls.podman_args = ["podman", "--root", os.path.join(cls.shared, "root"),
                           "--runroot", os.path.join(cls.shared, "runroot"),
                           "--tmpdir", os.path.join(cls.shared, "ptmp"),
                           "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                           "--events-backend", "file"]
        cls.sock = os.path.join(cls.shared, "docker.sock")
        cls.host = "unix://" + cls.sock
        env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(cls.shared, "xdg"),
                   CONTAINERS_REGISTRIES_CONF=os.path.join(cls.shared, "registries.conf"))
        with open(env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
            f.write('unqualified-search-registries = []\n')
        os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
        cls.penv = env
        with open(os.path.join(cls.shared, "service.log"), "w") as log:
            cls.service = subprocess.Popen(cls.podman_args + ["system", "service", "--time=0",
                                                              cls.host],
                                           env=env, stdout=subprocess.DEVNULL, stderr=log,
                                           start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(cls.sock):
            if time.monotonic() > deadline or cls.service.poll() is not None:
                raise RuntimeError("podman system service did not start")
            time.sleep(0.1)
        cls.podman("pull", "-q", "--tls-verify=false", cls.ref)
        cls.podman("tag", cls.ref, "localhost/demo:2")

    @classmethod
    def tearDownClass(cls):
        if cls.service and cls.service.poll() is None:
            os.killpg(cls.service.pid, signal.SIGTERM)
            try:
                cls.service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(cls.service.pid, signal.SIGKILL)
                cls.service.wait()
        if cls.registry:
            cls.registry.stop()
        subprocess.run(cls.podman_args + ["system", "reset", "--force"], env=cls.penv,
                       capture_output=True)
        shutil.rmtree(cls.shared, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-dd-t-")
        self.root = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.root, ".storage", "ostree")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def ctl(self, *args, root=None, host=None, check=True):
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        if host is not None:
            env["DOCKER_HOST"] = host
        r = subprocess.run([CTL, "--checkout-root", root or self.root, *args],
                           capture_output=True, text=True, timeout=300, env=env)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def refs(self, repo=None):
        repo = repo or self.repo
        if not os.path.exists(repo):
            return []
        return sorted(subprocess.run(["ostree", "--repo=" + repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def manifest(self, repo):
        (ref,) = [x for x in self.refs(repo) if "hello" in x]
        return subprocess.run(["ostree", "--repo=" + repo, "cat", ref, "/manifest.json"],
                              check=True, capture_output=True).stdout

    def tree(self, root, name):
        out = os.path.join(self.tmp, "out-%d" % len(os.listdir(self.tmp)))
        self.ctl("checkout", name, out, root=root)
        listing, _ = il.listing(out)
        return listing

    def test_pull_matches_the_registry_pull(self):
        r = self.ctl("--json", "pull", "docker:" + self.ref, host=self.host)
        mine = json.loads(r.stdout)
        self.assertEqual(mine["name"], self.ref)
        reg_root = os.path.join(self.tmp, "reg")
        theirs = json.loads(self.ctl("--json", "pull", "--tls-verify=false", self.ref,
                                     root=reg_root).stdout)
        a = json.loads(self.ctl("--json", "images", "inspect", self.ref).stdout)
        b = json.loads(self.ctl("--json", "images", "inspect", self.ref, root=reg_root).stdout)
        self.assertEqual(a["labels"], b["labels"])
        self.assertEqual(len(a["layers"]), 3)
        self.assertEqual(len(a["layers"]), len(b["layers"]))
        mine_m, theirs_m = self.manifest(self.repo), self.manifest(os.path.join(
            reg_root, ".storage", "ostree"))
        # the ID is the digest of the manifest synthesized from the archive
        # (its layers are the uncompressed diff_ids), as for docker-archive:
        self.assertEqual(mine["id"], hashlib.sha256(mine_m).hexdigest())
        self.assertEqual(theirs["id"], hashlib.sha256(theirs_m).hexdigest())
        self.assertNotEqual(mine["id"], theirs["id"])
        doc, reg_doc = json.loads(mine_m), json.loads(theirs_m)
        # the same config (podman keeps its bytes): the same digest
        self.assertEqual(doc["config"]["digest"], reg_doc["config"]["digest"])
        config = json.loads(subprocess.run(il_cat_config(self.repo, doc["config"]["digest"]),
                                           check=True, capture_output=True).stdout)
        self.assertEqual([l["digest"] for l in doc["layers"]], config["rootfs"]["diff_ids"])
        self.assertEqual([l["mediaType"] for l in doc["layers"]],
                         ["application/vnd.oci.image.layer.v1.tar"] * 3)
        # the same file tree
        self.assertEqual(self.tree(self.root, self.ref), self.tree(reg_root, self.ref))

    def test_short_name_and_default_tag(self):
        r = self.ctl("pull", "docker:localhost/demo:2", host=self.host)
        self.assertEqual(r.stdout, "localhost/demo:2\n")
        # no tag: "latest", which the daemon does not have
        before = self.refs()
        r = self.ctl("pull", "docker:localhost/demo", host=self.host, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("docker daemon %s: no such image localhost/demo:latest (" % self.host,
                      r.stderr)
        self.assertEqual(self.refs(), before)

    def test_repull_imports_no_layer(self):
        self.ctl("pull", "docker:" + self.ref, host=self.host)
        report = json.loads(self.ctl("--json", "pull", "docker:" + self.ref,
                                     host=self.host).stdout)
        self.assertEqual(report["layers_imported"], 0)

    def test_missing_image(self):
        self.ctl("pull", "docker:" + self.ref, host=self.host)
        before = self.refs()
        r = self.ctl("pull", "docker:nosuch/image:9", host=self.host, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         "syscontainerctl: error: docker daemon %s: no such image nosuch/image:9 "
                         "(failed to find image nosuch/image:9: docker.io/nosuch/image:9: image "
                         "not known)\n" % self.host)
        self.assertEqual(self.refs(), before)

    def test_missing_socket(self):
        gone = os.path.join(self.tmp, "nosuch.sock")
        r = self.ctl("pull", "docker:" + self.ref, host="unix://" + gone, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("docker daemon unix://%s: no daemon: No such file or directory" % gone,
                      r.stderr)
        self.assertEqual(self.refs(), [])
        # a file that is not a socket
        plain = os.path.join(self.tmp, "plain")
        open(plain, "w").close()
        r = self.ctl("pull", "docker:" + self.ref, host="unix://" + plain, check=False)
        self.assertIn("docker daemon unix://%s: no daemon: not a socket" % plain, r.stderr)
        # a socket nobody listens on
        dead = os.path.join(self.tmp, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()
        r = self.ctl("pull", "docker:" + self.ref, host="unix://" + dead, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("docker daemon unix://%s: no daemon answers: " % dead, r.stderr)
        self.assertEqual(self.refs(), [])

    def test_non_unix_docker_host(self):
        for host in ("tcp://127.0.0.1:2375", "unix://relative.sock", "ssh://h"):
            r = self.ctl("pull", "docker:" + self.ref, host=host, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("DOCKER_HOST %s: only a unix socket (unix:///PATH) is supported for "
                          "docker: sources" % host, r.stderr)
        self.assertEqual(self.refs(), [])

    def test_digest_refused(self):
        r = self.ctl("pull", "docker:hello@sha256:" + "0" * 64, host=self.host, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("give the image as docker:NAME[:TAG] (a digest is not supported)", r.stderr)

    def test_docker_slashes_is_still_a_registry(self):
        r = self.ctl("pull", "--tls-verify=false", "docker://" + self.ref, host="tcp://x:1")
        self.assertEqual(r.stdout, self.ref + "\n")


def build_image(layout):
    """Three layers: files, a hard link, a symbolic link, a setuid file, an
    owner; then a whiteout and an added file; then /exports. (podman's vfs
    driver cannot apply imagelib's base image, whose second layer turns a
    directory into a file.)"""
    il.run("umoci", "init", "--layout", layout)
    il.run("umoci", "new", "--image", "%s:base" % layout)
    with open(il.BUSYBOX, "rb") as f:
        busybox = f.read()
    d, r, l, h = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    il.add_layer(layout, "base", il.make_tar([
        il.tinfo("bin", d, mode=0o755), il.tinfo("bin/busybox", r, busybox, 0o755),
        il.tinfo("bin/sh", l, linkname="busybox"), il.tinfo("etc", d, mode=0o755),
        il.tinfo("etc/hello", r, b"hello\n"), il.tinfo("etc/hello-hardlink", h,
                                                      linkname="etc/hello"),
        il.tinfo("etc/gone", r, b"gone\n"), il.tinfo("etc/owned", r, b"x\n", uid=1000, gid=1001),
        il.tinfo("bin/suid", r, b"#!/bin/sh\n", 0o4755)]))
    il.add_layer(layout, "base", il.make_tar([
        il.tinfo("etc", d, mode=0o755), il.tinfo("etc/.wh.gone", r),
        il.tinfo("etc/new", r, b"new\n")]))
    il.add_layer(layout, "base", il.make_tar([
        il.tinfo("exports", d, mode=0o755),
        il.tinfo("exports/service.template", r, b"[Service]\nExecStart=$EXEC_START\n"),
        il.tinfo("exports/manifest.json", r, b'{"defaultValues": {"PORT": "80"}}')]))
    il.run("umoci", "config", "--image", "%s:base" % layout, "--config.label",
           "atomic.type=system", "--config.cmd", "/bin/sh")


def il_cat_config(repo, digest):
    hexd = digest.split(":", 1)[1]
    return ["ostree", "--repo=" + repo, "cat", "ociimage/" + hexd, "/content"]


if __name__ == "__main__":
    unittest.main(verbosity=2)
