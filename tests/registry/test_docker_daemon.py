"""docker:NAME[:TAG] (atomic's pull from the local Docker daemon) against a
real daemon that speaks the Docker Engine API: `podman system service` on
a private socket, with a private --root/--runroot (the machine's podman
state is not touched), holding an image podman pulled from the loopback
registry. The reference is the same image pulled from that registry."""

import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
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
        # (no `podman system reset`: it also clears host-wide state, such as
        # networks; the private root is all there is, and it is removed here)
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

    def test_install_and_resolve_without_the_daemon(self):
        sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(sysroot)
        env = dict(os.environ, DOCKER_HOST=self.host)
        r = subprocess.run([CTL, "--sysroot", sysroot, "install", "--name", "dd",
                            "docker:" + self.ref],
                           capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual((r.returncode, r.stdout), (0, "dd\n"), r.stderr)
        listing = json.loads(subprocess.run([CTL, "--sysroot", sysroot, "--json", "list"],
                                            capture_output=True, text=True, check=True).stdout)
        (c,) = listing["containers"] if isinstance(listing, dict) else listing
        self.assertEqual(c["image"], self.ref)
        self.assertEqual(c["name"], "dd")
        with open(os.path.join(sysroot, "etc/systemd/system/dd.service")) as f:
            self.assertIn("[Service]\n", f.read())
        # the stored image answers to its docker: source without the daemon
        self.ctl("pull", "docker:" + self.ref, host=self.host)
        r = self.ctl("--json", "images", "inspect", "docker:" + self.ref, host="unix:///nonexist")
        self.assertEqual(json.loads(r.stdout)["name"], self.ref)
        self.assertEqual(json.loads(r.stdout)["transport"], "docker-daemon")
        # and no registry is asked for it on an update
        r = self.ctl("images", "update", self.ref, host="unix:///nonexist")
        self.assertEqual(r.stdout, "%s: skipped: pulled from a Docker daemon (docker:), not from "
                         "a registry: pull it again from there\n" % self.ref)

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


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        d = self.server.daemon
        d.paths.append(self.path)
        mode = d.mode
        if mode == "500":
            body = b'{"message": "boom"}'
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = d.archive if (mode != "change" or len(d.paths) == 1) else d.changed
        if mode == "garbage":
            data = b"not a tar" * 100
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.end_headers()
        try:
            if mode == "trickle":
                for i in range(0, 500, 10):
                    self.wfile.write(data[i:i + 10])
                    self.wfile.flush()
                    time.sleep(0.1)
            if mode == "slow":
                self.wfile.write(data[:1024])
                self.wfile.flush()
                time.sleep(6)
            self.wfile.write(data)
        except OSError:
            pass


class FakeDaemon:
    """A Docker Engine API of our own on a unix socket, serving a fixed
    `docker save` archive, to inject faults podman would not make."""

    def __init__(self, path, archive):
        self.archive, self.changed, self.mode, self.paths = archive, archive, "ok", []
        self.server = socketserver.ThreadingUnixStreamServer(path, _Handler)
        self.server.daemon = self
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "skopeo"), "needs root, umoci and skopeo")
class FakeDaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-fd-")
        layout = os.path.join(cls.shared, "layout")
        build_image(layout)
        tar = os.path.join(cls.shared, "image.tar")
        il.run("skopeo", "copy", "oci:%s:base" % layout, "docker-archive:%s:demo:1" % tar)
        with open(tar, "rb") as f:
            cls.archive = f.read()
        # the same archive with one byte of the busybox layer changed
        with tarfile.open(tar) as t:
            big = max((m for m in t.getmembers() if m.isfile()), key=lambda m: m.size)
        changed = bytearray(cls.archive)
        changed[big.offset_data + big.size // 2] ^= 0xff
        cls.changed = bytes(changed)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-fd-t-")
        self.root = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.root, ".storage", "ostree")
        self.sock = os.path.join(self.tmp, "d.sock")
        self.host = "unix://" + self.sock
        self.daemon = FakeDaemon(self.sock, self.archive)
        self.daemon.changed = self.changed

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.tmp)

    def pull(self, *args, env=None, check=True):
        e = dict(os.environ, DOCKER_HOST=self.host, **(env or {}))
        r = subprocess.run([CTL, "--checkout-root", self.root, "pull", *args],
                           capture_output=True, text=True, timeout=120, env=e)
        if check and r.returncode != 0:
            self.fail("pull %s: %s" % (" ".join(args), r.stderr))
        return r

    def refs(self):
        if not os.path.exists(self.repo):
            return []
        return sorted(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def test_two_requests_and_the_name_escaped(self):
        for jobs in ("1", "4"):
            shutil.rmtree(self.root, ignore_errors=True)
            self.daemon.paths.clear()
            self.assertEqual(self.pull("--jobs", jobs, "docker:localhost/demo:1").stdout,
                             "localhost/demo:1\n")
            # one pass for manifest.json and the config, one for the layers
            self.assertEqual(self.daemon.paths, ["/images/localhost%2Fdemo%3A1/get"] * 2)
        self.assertEqual(len([r for r in self.refs() if "demo" not in r]), 4)

    def test_python_binding(self):
        code = ("import syscontainer, json, sys\n"
                "with syscontainer.Context(checkout_root=sys.argv[1]) as c:\n"
                "    print(c.pull('docker:demo:1')['name'])\n"
                "    try:\n"
                "        c.pull('docker:demo@sha256:' + '0' * 64)\n"
                "    except syscontainer.Error as e:\n"
                "        print(e.code, e.message)\n")
        env = dict(os.environ, DOCKER_HOST=self.host, PYTHONPATH=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))
        lib = env.get("SC_LIBRARY", "")
        ldd = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout if lib else ""
        for line in ldd.splitlines():
            if "libasan" in line and "=>" in line:
                env["LD_PRELOAD"] = line.split("=>")[1].split()[0]
                env["ASAN_OPTIONS"] = "detect_leaks=0"  # (python's own, not ours)
        r = subprocess.run([sys.executable, "-c", code, self.root], capture_output=True,
                           text=True, env=env, timeout=120)
        self.assertEqual(r.stdout, "docker.io/library/demo:1\nSC_EINVAL docker:demo@sha256:%s: "
                         "give the image as docker:NAME[:TAG] (a digest is not supported)\n"
                         % ("0" * 64), r.stderr)

    def test_non_200(self):
        self.daemon.mode = "500"
        r = self.pull("docker:demo:1", check=False)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: docker daemon %s: image demo:1: GET /images/demo%%3A1/get "
            "answered 500 (boom)\n" % self.host)))
        self.assertEqual(self.refs(), [])

    def test_not_a_tar(self):
        self.daemon.mode = "garbage"
        r = self.pull("docker:demo:1", check=False)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: docker daemon %s: the tar header at byte 0 has a bad "
            "checksum (not a tar archive, or a damaged one)\n" % self.host)))
        self.assertEqual(self.refs(), [])

    def test_timeout(self):
        self.daemon.mode = "slow"
        start = time.monotonic()
        r = self.pull("docker:demo:1", env={"SC_REGISTRY_TIMEOUT": "2"}, check=False)
        self.assertLess(time.monotonic() - start, 6)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: docker daemon %s: image demo:1: no data for 2 s "
            "(SC_REGISTRY_TIMEOUT)\n" % self.host)))
        self.assertEqual(self.refs(), [])

    def test_min_rate(self):
        self.daemon.mode = "trickle"
        start = time.monotonic()
        r = self.pull("docker:demo:1", env={"SC_REGISTRY_MIN_RATE": "100000",
                                            "SC_REGISTRY_RATE_WINDOW": "1"}, check=False)
        self.assertLess(time.monotonic() - start, 4)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: docker daemon %s: image demo:1: less than 100000 bytes/s "
            "over 1 s (SC_REGISTRY_MIN_RATE, SC_REGISTRY_RATE_WINDOW)\n" % self.host)))
        self.assertEqual(self.refs(), [])

    def test_size_cap(self):
        r = self.pull("docker:demo:1", env={"SC_DOCKER_MAX_ARCHIVE": "100000"}, check=False)
        self.assertEqual((r.returncode, r.stderr), (1, (
            "syscontainerctl: error: docker daemon %s: image demo:1: the archive is larger than "
            "100000 bytes (SC_DOCKER_MAX_ARCHIVE)\n" % self.host)))
        self.assertEqual(self.refs(), [])

    def test_image_changed_between_the_passes(self):
        self.daemon.mode = "change"
        r = self.pull("docker:demo:1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^syscontainerctl: error: docker:demo:1: layer sha256:"
                                   r"[0-9a-f]{64}: the blob's digest is sha256:[0-9a-f]{64}; it "
                                   r"does not match the manifest\n$")
        self.assertEqual(len(self.daemon.paths), 2)
        self.assertEqual([x for x in self.refs() if "demo" in x], [])


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
