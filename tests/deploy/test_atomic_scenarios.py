"""atomic's integration scenarios (reference/atomic-behaviour.md 9.2), one
test per scenario, on atomic's own test images: the files of the corpus's
atomic-test-images ($SC_CORPUS) over a busybox root instead of centos,
run.sh replaced by a busybox shell script that does the same observable
thing (a greeting served on $PORT). The scenarios that need a running
systemd are in tests/system/test_atomic_scenarios_system.py; the table of
all of them is docs/atomic-scenarios.md. Skipped when the corpus is absent."""

import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402
from test_deploy import CTL, SysrootCtl  # noqa: E402

CORPUS = os.path.join(os.environ.get("SC_CORPUS", ""), "atomic-test-images")
CK = "/var/lib/containers/atomic"
SECRET = "f7a1b2c3d4e5f60718293a4b5c6d7e8f"  # atomic's $SECRET: a random string
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# the image's config.json.template names the variable (atomic: "unreplaced value for:
# ''VAR_WITH_NO_DEFAULT''"); %s: the checkout root, %s: the slot
MISSING_VAR = ("syscontainerctl: error: template '%s/%s/rootfs/exports/config.json.template': "
               "variable 'VAR_WITH_NO_DEFAULT' at line 22, col 25 is not defined (give it with "
               "--set VAR_WITH_NO_DEFAULT=VALUE, or a default in manifest.json defaultValues)\n")
# nc --sh-exec greet.sh on $PORT, as atomic's run.sh, with busybox's nc
RUN_SH = """#!/bin/sh
/bin/busybox nc -ll -p ${PORT:-8081} -e /bin/sh /usr/bin/greet.sh &
cleanup ()
{
        kill -9 $!
        exit 0
}
trap cleanup INT TERM
wait $!
"""


def corpus_files(subdir, names):
    out = {}
    for n in names:
        with open(os.path.join(CORPUS, subdir, n), "rb") as f:
            out[n] = f.read()
    return out


def image_layer(entries):
    """A layer of (path, bytes, mode) and symlinks (path, None, target),
    with the parent directories."""
    tar, dirs = [], set()
    for path, data, extra in entries:
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                tar.append(il.tinfo(d, tarfile.DIRTYPE, mode=0o755))
        if data is None:
            tar.append(il.tinfo(path, tarfile.SYMTYPE, linkname=extra))
        else:
            tar.append(il.tinfo(path, data=data, mode=extra))
    return il.make_tar(tar)


def build_images(layout):
    """atomic's four test images (Dockerfile.system, -update, -hostfs and the
    run-once image), each the busybox base plus one layer, with their labels."""
    il.run("umoci", "init", "--layout", layout)
    il.run("umoci", "new", "--image", layout + ":base")
    with open(il.BUSYBOX, "rb") as f:
        busybox = f.read()
    il.add_layer(layout, "base", il.make_tar([
        il.tinfo("bin", tarfile.DIRTYPE, mode=0o755),
        il.tinfo("bin/busybox", data=busybox, mode=0o755),
        il.tinfo("bin/sh", tarfile.SYMTYPE, linkname="busybox"),
        # centos's echo, for atomic's `run ... echo hello world`
        il.tinfo("bin/echo", tarfile.SYMTYPE, linkname="busybox"),
        il.tinfo("var", tarfile.DIRTYPE, mode=0o755),
        il.tinfo("var/run", tarfile.DIRTYPE, mode=0o755)]))
    exports = ["tmpfiles.template", "manifest.json", "service.template", "config.json.template"]

    def system(subdir, extra=()):
        f = corpus_files(subdir, exports + ["greet.sh"])
        return [("usr/bin/run.sh", RUN_SH.encode(), 0o755),
                ("usr/bin/greet.sh", f["greet.sh"], 0o755)] + \
            [("exports/" + n, f[n], 0o644) for n in exports] + list(extra)

    def labels(tag, **kv):
        il.rewrite(layout, tag, edit_config=lambda c: c.setdefault("config", {}).setdefault(
            "Labels", {}).update(kv))

    il.add_layer(layout, "base", image_layer(system("system-container-files")), new_tag="system")
    labels("system", Name="atomic-test-system")
    # atomic-test-system-new: the same files, another image, pulled by a rebase only
    il.rewrite(layout, "system", new_tag="system-new",
               edit_config=lambda c: c["config"]["Labels"].update(Name="atomic-test-system-new"))
    il.add_layer(layout, "base", image_layer(system("system-container-update-files")),
                 new_tag="system-update")
    labels("system-update", Name="atomic-test-system-update",
           summary="Updated system container image", **{"atomic.type": "system"})
    h = corpus_files("system-container-files-hostfs", ["message", "message-template"])
    hostfs = [("exports/hostfs/usr/local/lib/secret-message", h["message"], 0o644),
              ("exports/hostfs/usr/local/lib/secret-message-template", h["message-template"],
               0o644),
              ("exports/hostfs/usr/local/lib/placeholder-file", h["message"], 0o644),
              ("exports/hostfs/broken-symlink", None, "/does/not/exist")]
    il.add_layer(layout, "base", image_layer(system("system-container-files-hostfs", hostfs)),
                 new_tag="system-hostfs")
    # the empty directory /exports/hostfs/usr/local/placeholder-lib
    il.add_layer(layout, "system-hostfs", il.make_tar([il.tinfo(
        "exports/hostfs/usr/local/placeholder-lib", tarfile.DIRTYPE, mode=0o755)]))
    labels("system-hostfs", Name="atomic-test-system-hostfs",
           **{"atomic.has_install_files": "yes"})
    r = corpus_files("system-container-runonce-files", ["hi.sh", "config.json.template",
                                                        "manifest.json"])
    il.add_layer(layout, "base", image_layer([
        ("usr/bin/run.sh", r["hi.sh"], 0o755),
        ("exports/config.json.template", r["config.json.template"], 0o644),
        ("exports/manifest.json", r["manifest.json"], 0o644)]), new_tag="runonce")
    labels("runonce", **{"atomic.run": "once", "atomic.type": "system"})


class FakeDocker(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The one Docker Engine API call docker: makes, GET /images/NAME/get,
    answered with a `docker save` tar (atomic's docker: pulls)."""
    daemon_threads = True

    def __init__(self, path, images):
        self.images = images

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def address_string(self):
                return "docker"

            def do_GET(self):
                m = re.match(r"^(?:/v[0-9.]+)?/images/(.+)/get$", self.path)
                name = urllib.parse.unquote(m.group(1)) if m else None
                if name not in images:
                    body = b'{"message":"no such image"}'
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                with open(images[name], "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(path, Handler)

    def handle_error(self, request, client_address):
        pass  # the client closing a stream it has read enough of


@unittest.skipUnless(os.path.isdir(CORPUS), "the corpus (../shared/corpus) is absent")
@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc") and
                     shutil.which("skopeo"), "needs root, umoci, skopeo and runc")
class AtomicScenarios(SysrootCtl, unittest.TestCase):
    maxDiff = None
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-atomic-scen-")
        cls.layout = os.path.join(cls.shared, "layout")
        build_images(cls.layout)
        cls.img = {t: "oci:%s:%s" % (cls.layout, t)
                   for t in ("system", "system-new", "system-update", "system-hostfs", "runonce")}
        # docker save of atomic-test-system:latest, under a name that is not the image's
        cls.tar = os.path.join(cls.shared, "arbitrary-file-name.tar")
        il.run("skopeo", "copy", cls.img["system"],
               "docker-archive:%s:atomic-test-system:latest" % cls.tar)
        cls.sock = os.path.join(cls.shared, "docker.sock")
        cls.docker = FakeDocker(cls.sock, {"atomic-test-system:latest": cls.tar})
        threading.Thread(target=cls.docker.serve_forever, daemon=True).start()
        os.environ["DOCKER_HOST"] = "unix://" + cls.sock

    @classmethod
    def tearDownClass(cls):
        cls.docker.shutdown()
        cls.docker.server_close()
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-atomic-scen-")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(self.sysroot)
        self.ck = os.path.join(self.sysroot, CK.lstrip("/"))
        self.name = "test-system-container-%d" % os.getpid()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def p(self, rel):
        return os.path.join(self.sysroot, rel.lstrip("/"))

    def read(self, rel):
        with open(self.p(rel)) as f:
            return f.read()

    def exists(self, rel):
        return os.path.lexists(self.p(rel))

    def config_env(self, slot):
        with open(self.p("%s/%s/config.json" % (CK, slot))) as f:
            return json.load(f)["process"]["env"]

    def info(self, slot):
        return json.loads(self.read("%s/%s/info" % (CK, slot)))

    def current(self, name):
        return os.readlink(os.path.join(self.ck, name))

    def install_main(self):
        self.ctl("install", "--name", self.name, "--set", "RECEIVER=" + SECRET, self.img["system"])

    def images(self):
        return json.loads(self.ctl("--json", "images", "list").stdout)["images"]

    # -- test_system_containers_install.sh ------------------------------------------

    def test_install_1_files_and_units(self):
        self.install_main()
        n = self.name
        self.assertTrue(os.path.isfile(self.p("etc/tmpfiles.d/%s.conf" % n)))
        self.assertTrue(os.path.isfile(self.p("etc/systemd/system/%s.service" % n)))
        for f in (n + ".service", "tmpfiles-%s.conf" % n, "config.json", "info"):
            self.assertTrue(os.path.isfile(self.p("%s/%s.0/%s" % (CK, n, f))), f)
        self.assertEqual(self.read("etc/tmpfiles.d/%s.conf" % n),
                         "D    /run/%s   0700 - - - -\n" % n)

    def test_install_2_values_in_config(self):
        self.install_main()
        env = self.config_env(self.name + ".0")
        self.assertIn("RECEIVER=" + SECRET, env)
        self.assertIn("PORT=8081", env)

    def test_install_3_remote_rootfs(self):
        self.install_main()
        n, remote = self.name, self.name + "-remote"
        self.ctl("install", "--name", remote, "--rootfs", "%s/%s.0" % (CK, n), self.img["system"])
        self.assertTrue(os.path.isdir(self.p("%s/%s.0" % (CK, remote))))
        self.assertTrue(os.path.isfile(self.p("etc/systemd/system/%s.service" % remote)))
        # NAME-remote -> NAME-remote.0 (a link seen from inside the sysroot), whose
        # rootfs is the link (docs/containers.md, "Remote rootfs")
        self.assertEqual(self.current(remote), "%s/%s.0" % (CK, remote))
        self.assertTrue(os.path.islink(self.p("%s/%s.0/rootfs" % (CK, remote))))
        self.assertEqual(os.readlink(self.p("%s/%s.0/rootfs" % (CK, remote))),
                         "%s/%s.0/rootfs" % (CK, n))

    def test_install_4_uninstall_remote_then_main(self):
        self.install_main()
        n, remote = self.name, self.name + "-remote"
        self.ctl("install", "--name", remote, "--rootfs", "%s/%s.0" % (CK, n), self.img["system"])
        self.ctl("uninstall", remote)
        self.assertTrue(os.path.isfile(self.p("%s/%s.0/rootfs/usr/bin/greet.sh" % (CK, n))))
        for gone in ("etc/systemd/system/%s.service" % remote, "%s/%s" % (CK, remote),
                     "%s/%s.0" % (CK, remote)):
            self.assertFalse(self.exists(gone), gone)
        self.ctl("uninstall", n)
        for gone in ("etc/systemd/system/%s.service" % n, "etc/tmpfiles.d/%s.conf" % n,
                     "%s/%s" % (CK, n), "%s/%s.0" % (CK, n)):
            self.assertFalse(self.exists(gone), gone)
        self.assertEqual(os.listdir(self.ck), [".storage"])

    def test_install_5_again_and_missing_variable(self):
        self.install_main()
        # differs as documented (docs/syscontainerctl.1.md, install; reference 10 #1):
        # atomic printed "NAME already present" and exited 0 whatever the image
        r = self.ctl("install", "--name", self.name, "--set", "RECEIVER=" + SECRET,
                     self.img["system"])
        self.assertEqual(r.stdout, "%s already installed\n" % self.name)
        r = self.ctl("install", "--name", self.name, self.img["system"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: container %s is already installed "
                         "with other values (RECEIVER): use 'syscontainerctl update --set K=V "
                         "%s' to change them\n" % (self.name, self.name))
        # an image with a variable nothing defines
        r = self.ctl("install", "--name", "upd", self.img["system-update"], check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, MISSING_VAR % (self.p(CK), "upd.0"))
        self.assertFalse(self.exists("%s/upd.0" % CK))
        self.assertFalse(self.exists("etc/systemd/system/upd.service"))
        self.ctl("install", "--name", "upd", "--set", "VAR_WITH_NO_DEFAULT=Venus",
                 self.img["system-update"])
        self.assertIn("VAR_WITH_NO_DEFAULT=Venus", self.config_env("upd.0"))

    def test_install_6_dockertar(self):
        self.ctl("install", "--name", self.name, "dockertar:" + self.tar)
        self.assertTrue(os.path.isfile(self.p("etc/systemd/system/%s.service" % self.name)))
        self.assertTrue(os.path.isfile(self.p("%s/%s.0/config.json" % (CK, self.name))))

    def test_install_7_docker_daemon(self):
        self.ctl("install", "--name", self.name, "docker:atomic-test-system:latest")
        self.assertTrue(os.path.isfile(self.p("etc/systemd/system/%s.service" % self.name)))
        self.assertTrue(os.path.isfile(self.p("%s/%s.0/rootfs/usr/bin/greet.sh"
                                              % (CK, self.name))))

    def test_install_8_run_once(self):
        r = self.ctl("install", "--name", "Saturn", "--set", "RECEIVER=Pluto", self.img["runonce"])
        self.assertEqual(r.stdout, "HI Pluto from Saturn\n")
        r = self.ctl("run", "--set", "RECEIVER=Pluto", self.img["runonce"], "echo", "Hello",
                     "World")
        self.assertEqual(r.stdout, "Hello World\n")
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertFalse(self.exists("etc/systemd"))

    def test_install_9_name_ending_in_dot0(self):
        self.ctl("install", "--name", "container.0", self.img["system"])
        self.assertEqual(self.current("container.0"), CK + "/container.0.0")
        self.assertTrue(os.path.isfile(self.p("etc/systemd/system/container.0.service")))
        self.ctl("uninstall", "container.0")
        self.assertEqual(os.listdir(self.ck), [".storage"])
        self.assertFalse(self.exists("etc/systemd/system/container.0.service"))

    # -- test_system_containers_runtime.sh (the parts without a running systemd) --

    def boot_tmpfiles(self):
        """What booting the sysroot does first: its tmpfiles (the bind source
        ${RUN_DIRECTORY}/${NAME}); install on a sysroot does not run them."""
        subprocess.run(["systemd-tmpfiles", "--root", self.sysroot, "--create"], check=True,
                       capture_output=True)

    def test_runtime_1_run_stopped(self):
        self.install_main()
        self.boot_tmpfiles()
        r = self.ctl("run", self.name, "echo", "hello", "world")
        self.assertEqual(r.stdout, "hello world\n")
        r = self.ctl("--runtime", "/usr/sbin/runc", "run", self.name, "echo", "hello", "world")
        self.assertEqual(r.stdout, "hello world\n")
        # the process of the image's config: greet.sh with the container's values
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "run", self.name, "/bin/sh",
                            "/usr/bin/greet.sh"], capture_output=True, timeout=60)
        uuid = self.info(self.name + ".0")["values"]["UUID"]
        self.assertEqual(r.stdout.decode(), "HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\nHi %s "
                         "from container %s with UUID=%s\r\n" % (SECRET, self.name, uuid))

    def test_runtime_3_list(self):
        self.install_main()
        r = self.ctl("list")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME"])
        # CREATED: "YYYY-MM-DD HH:MM:SS ZONE"
        cells = lines[1].split()
        self.assertEqual(cells[0::6], [self.name, "installed"])
        self.assertEqual(cells[1:2] + cells[7:], ["localhost/layout:system", "/usr/sbin/runc"])
        self.assertEqual(len(lines), 2)
        doc = json.loads(self.ctl("--json", "list", "--all").stdout)["containers"]
        self.assertEqual([(c["name"], c["image"], c["state"], c["runtime"],
                           c["deployment"]) for c in doc],
                         [(self.name, "localhost/layout:system", "installed", "/usr/sbin/runc",
                           "%s/%s.0" % (CK, self.name))])
        self.assertEqual(doc[0]["id"], self.images()[0]["id"])

    def test_runtime_6_update_keeps_secret_and_uuid(self):
        self.install_main()
        n = self.name
        uuid = self.info(n + ".0")["values"]["UUID"]
        self.assertRegex(uuid, UUID_RE)
        r = self.ctl("update", n)
        self.assertEqual(r.stdout, "%s: latest version already installed\n" % n)
        self.assertFalse(self.exists("%s/%s.1" % (CK, n)))
        r = self.ctl("update", "--set", "PORT=8082", n)
        self.assertRegex(r.stdout, r"^%s: updated to [0-9a-f]{12} \(%s/%s\.1\)\n$"
                         % (re.escape(n), CK, re.escape(n)))
        for f in (n + ".service", "tmpfiles-%s.conf" % n, "rootfs/usr/bin/greet.sh"):
            self.assertTrue(os.path.isfile(self.p("%s/%s.1/%s" % (CK, n, f))), f)
        self.assertEqual(self.current(n), "%s/%s.1" % (CK, n))
        env = self.config_env(n + ".1")
        self.assertIn("RECEIVER=" + SECRET, env)
        self.assertIn("PORT=8082", env)
        self.assertEqual(self.info(n + ".1")["values"]["UUID"], uuid)
        self.assertIn("UUID=" + uuid, env)

    def test_runtime_7_rollback(self):
        self.install_main()
        n = self.name
        self.ctl("update", "--set", "PORT=8082", n)
        r = self.ctl("rollback", n)
        self.assertEqual(self.current(n), "%s/%s.0" % (CK, n))
        self.assertIn("PORT=8081", self.config_env(n + ".0"))
        self.assertEqual(self.read("etc/systemd/system/%s.service" % n),
                         self.read("%s/%s.0/%s.service" % (CK, n, n)))
        self.boot_tmpfiles()
        r = self.ctl("run", n, "--", "/bin/sh", "-c", "echo $PORT $RECEIVER")
        self.assertEqual(r.stdout, "8081 %s\n" % SECRET)

    def test_runtime_8_rollback_again_update_all(self):
        self.install_main()
        n = self.name
        self.ctl("update", "--set", "PORT=8082", n)
        self.ctl("rollback", n)
        self.ctl("rollback", n)
        self.assertEqual(self.current(n), "%s/%s.1" % (CK, n))
        self.assertIn("PORT=8082", self.config_env(n + ".1"))
        self.ctl("update", "--set", "PORT=8083", n)
        self.assertEqual(self.current(n), "%s/%s.0" % (CK, n))
        self.assertIn("PORT=8083", self.config_env(n + ".0"))
        # differs as documented (docs/syscontainerctl.1.md, images update; issue 13 #7):
        # atomic skipped unqualified names; we skip what did not come from a registry
        r = self.ctl("images", "update", "--all")
        self.assertEqual(r.stdout, "localhost/layout:system: skipped: pulled from oci:, not from "
                         "a registry: pull it again from there\n")
        r = self.ctl("update", "--all")
        self.assertEqual(r.stdout, "%s: latest version already installed\n" % n)

    def test_runtime_9_rebase(self):
        self.install_main()
        n = self.name
        r = self.ctl("update", "--rebase", self.img["system"], n)
        self.assertEqual(r.stdout, "%s: latest version already installed\n" % n)
        r = self.ctl("update", "--rebase", self.img["system-update"], n, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, MISSING_VAR % (self.p(CK), n + ".1"))
        self.assertEqual(self.current(n), "%s/%s.0" % (CK, n))
        self.assertFalse(self.exists("%s/%s.1" % (CK, n)))
        self.ctl("update", "--rebase", self.img["system-update"], "--set",
                 "VAR_WITH_NO_DEFAULT=Venus", n)
        self.assertEqual(self.current(n), "%s/%s.1" % (CK, n))
        self.assertIn("VAR_WITH_NO_DEFAULT=Venus", self.config_env(n + ".1"))
        self.ctl("rollback", n)
        self.assertEqual(self.current(n), "%s/%s.0" % (CK, n))
        self.assertIn("RECEIVER=" + SECRET, self.config_env(n + ".0"))
        self.assertEqual(self.info(n + ".0")["image"], "localhost/layout:system")
        # an image not in the store yet is pulled
        names = [i["repository"] + ":" + i["tag"] for i in self.images()]
        self.assertNotIn("localhost/layout:system-new", names)
        self.ctl("update", "--rebase", self.img["system-new"], n)
        self.assertEqual(self.current(n), "%s/%s.1" % (CK, n))
        self.assertIn("localhost/layout:system-new",
                      [i["repository"] + ":" + i["tag"] for i in self.images()])

    def test_runtime_10_remote_rootfs_update_rollback(self):
        self.install_main()
        n, remote = self.name, self.name + "-remote"
        self.ctl("install", "--name", remote, "--rootfs", "%s/%s.0" % (CK, n), self.img["system"])
        self.ctl("update", "--set", "PORT=8082", remote)
        self.assertEqual(self.current(remote), "%s/%s.1" % (CK, remote))
        self.assertEqual(os.readlink(self.p("%s/%s.1/rootfs" % (CK, remote))),
                         "%s/%s.0/rootfs" % (CK, n))
        self.assertIn("PORT=8082", self.config_env(remote + ".1"))
        self.ctl("rollback", remote)
        self.assertEqual(self.current(remote), "%s/%s.0" % (CK, remote))
        self.assertIn("PORT=8081", self.config_env(remote + ".0"))

    def test_runtime_11_runtime_option(self):
        self.ctl("--runtime", "/bin/ls", "install", "--name", self.name, self.img["system"])
        unit = self.read("etc/systemd/system/%s.service" % self.name)
        self.assertRegex(unit, r"(?m)^ExecStart=/bin/ls ")
        r = self.ctl("--runtime", "/nonexistent/runc", "install", "--name", "nx",
                     self.img["system"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: runtime '/nonexistent/runc' is not "
                         "installed: no executable file at that path\n")
        self.assertFalse(self.exists("%s/nx.0" % CK))

    # -- test_system_containers_images.sh ---------------------------------------------

    def names(self):
        return sorted((i["repository"], i["tag"]) for i in self.images())

    @unittest.skipUnless(shutil.which("docker-registry"), "needs docker-registry")
    def test_images_1_pull_twice(self):
        reg = rg.Registry(self.tmp)
        try:
            il.run("skopeo", "copy", "--dest-tls-verify=false", self.img["system"],
                   "docker://%s/busybox:latest" % reg.host)
            ref = "%s/busybox" % reg.host
            r = self.ctl("pull", "--tls-verify=false", ref)
            self.assertEqual(r.stdout, "%s:latest\n" % ref)
            blobs = reg.requests("http.request.method=GET", "/blobs/")
            self.assertEqual(blobs, 3)  # the config and two layers
            # the second pull fetches no layer (atomic: no "Pulling layer"), nor the config
            r = self.ctl("pull", "--tls-verify=false", ref)
            self.assertEqual(r.stdout, "%s:latest\n" % ref)
            self.assertEqual(reg.requests("http.request.method=GET", "/blobs/"), blobs)
            self.assertEqual(self.names(), [(ref, "latest")])
        finally:
            reg.stop()
        # atomic's `busybox` is docker.io/library/busybox (no network here: a --name)
        self.ctl("pull", "--name", "docker.io/busybox", self.img["system"])
        self.assertEqual(self.names(), [(ref, "latest"), ("docker.io/library/busybox", "latest")])

    def test_images_2_list_in_use(self):
        self.ctl("pull", "--name", "busybox", self.img["system"])
        # differs as documented (docs/syscontainerctl.1.md, pull --name): a short name is
        # stored under localhost/; "in use" is atomic's ">" marker
        self.assertEqual([(i["repository"], i["tag"], i["in_use"]) for i in self.images()],
                         [("localhost/busybox", "latest", False)])
        self.ctl("install", "--name", self.name, "busybox")
        self.assertEqual([i["in_use"] for i in self.images()], [True])
        self.ctl("uninstall", self.name)
        self.assertEqual([i["in_use"] for i in self.images()], [False])
        # --all's <none>: an image whose name moved stays listed by its ID
        old = self.images()[0]["id"]
        self.ctl("pull", "--name", "busybox", self.img["system-new"])
        self.assertEqual(sorted((i["repository"], i["tag"], i["id"] == old) for i in self.images()),
                         [("<none>", "<none>", True), ("localhost/busybox", "latest", False)])

    def test_images_3_delete_and_prune(self):
        self.ctl("pull", "--name", "busybox", self.img["system"])
        self.ctl("pull", "--name", "other", self.img["system-update"])
        self.ctl("install", "--name", self.name, "busybox")
        r = self.ctl("images", "delete", "busybox", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: image 'localhost/busybox:latest' is "
                         "used by container deployment '%s.0' (delete it with --force, or "
                         "uninstall the container first)\n" % self.name)
        used = [i["id"] for i in self.images() if i["repository"] == "localhost/busybox"]
        self.ctl("images", "delete", "--force", "busybox")
        # differs as documented (docs/store.md, "Images whose name moved"): the
        # name goes, the image the container runs stays, kept by its ID
        self.assertEqual(self.names(), [("<none>", "<none>"), ("localhost/other", "latest")])
        self.assertEqual([i["id"] for i in self.images() if i["repository"] == "<none>"], used)
        # the base layer, shared with the other image, stays
        self.ctl("--json", "images", "prune")
        self.assertIn("verified", self.ctl("images", "verify", "other").stdout)
        # delete by ID
        ident = [i["id"] for i in self.images() if i["repository"] == "localhost/other"][0]
        self.ctl("images", "delete", ident[:12])
        self.assertEqual(self.names(), [("<none>", "<none>")])
        self.ctl("uninstall", self.name)
        # prune then removes every <none> no deployment uses
        doc = json.loads(self.ctl("--json", "images", "prune").stdout)
        self.assertGreater(doc["refs_removed"], 0)
        self.assertEqual(self.images(), [])
        refs = subprocess.run(["ostree", "refs", "--repo",
                               os.path.join(self.ck, ".storage/ostree")],
                              capture_output=True, text=True, check=True).stdout
        self.assertEqual(refs, "")

    def test_images_4_docker_daemon_pull(self):
        r = self.ctl("pull", "docker:atomic-test-system:latest")
        self.assertEqual(r.stdout, "docker.io/library/atomic-test-system:latest\n")
        self.assertEqual(self.names(), [("docker.io/library/atomic-test-system", "latest")])
        self.ctl("images", "delete", "atomic-test-system")
        self.ctl("images", "prune")
        self.assertEqual(self.images(), [])

    def test_images_5_dockertar_pull(self):
        r = self.ctl("pull", "dockertar:" + self.tar)
        self.assertEqual(r.stdout, "docker.io/library/atomic-test-system:latest\n")
        self.assertEqual(self.names(), [("docker.io/library/atomic-test-system", "latest")])

    def test_images_6_tag(self):
        self.ctl("pull", "--name", "busybox", self.img["system"])
        self.ctl("images", "tag", "busybox", "busybox-tagged:1")
        imgs = {(i["repository"], i["tag"]): i["id"] for i in self.images()}
        self.assertEqual(sorted(imgs), [("localhost/busybox", "latest"),
                                        ("localhost/busybox-tagged", "1")])
        self.assertEqual(len(set(imgs.values())), 1)

    def test_images_7_inspect_variables(self):
        self.ctl("pull", "--name", "upd", self.img["system-update"])
        doc = json.loads(self.ctl("images", "inspect", "upd").stdout)
        self.assertEqual(doc["labels"]["atomic.type"], "system")
        var = {v["name"]: v for v in doc["variables"]}
        self.assertEqual((var["PORT"]["source"], var["PORT"]["default"]), ("manifest", "8081"))
        # atomic: "VAR_WITH_NO_DEFAULT: {DEF_VALUE}"
        self.assertEqual(var["VAR_WITH_NO_DEFAULT"]["source"], "required")
        self.assertNotIn("default", var["VAR_WITH_NO_DEFAULT"])

    def test_images_8_verify(self):
        self.ctl("pull", "--name", "busybox", self.img["system"])
        r = self.ctl("images", "verify", "busybox")
        # (the suite's policy accepts anything: no signature is needed)
        self.assertRegex(r.stdout, r"^(layer sha256:[0-9a-f]{64}: ok\n){2}"
                         r"signature: unsigned \(accepted by [^)]+\)\n"
                         r"localhost/busybox:latest: verified\n$")

    # -- test_system_containers_mount.sh ----------------------------------------------

    def mountpoint(self, d):
        return subprocess.run(["mountpoint", "-q", d]).returncode == 0

    def umount_all(self, d):
        while self.mountpoint(d):
            subprocess.run(["umount", "-l", d])

    def test_mount_1_image(self):
        self.ctl("pull", "--name", "atomic-test-system", self.img["system"])
        d = os.path.join(self.tmp, "mnt")
        os.makedirs(d)
        try:
            self.ctl("mount", "atomic-test-system", d)
            self.assertTrue(os.path.isfile(os.path.join(d, "usr/bin/greet.sh")))
            self.ctl("umount", d)
            self.assertEqual(os.listdir(d), [])
        finally:
            self.umount_all(d)

    def test_mount_2_container(self):
        self.install_main()
        d = os.path.join(self.tmp, "mnt")
        os.makedirs(d)
        try:
            self.ctl("mount", self.name, d)
            self.assertTrue(os.path.isfile(os.path.join(d, "usr/bin/greet.sh")))
            self.ctl("umount", d)
            self.assertFalse(self.mountpoint(d))
        finally:
            self.umount_all(d)

    def test_mount_3_live_refused(self):
        self.install_main()
        d = os.path.join(self.tmp, "mnt")
        os.makedirs(d)
        r = self.ctl("mount", "--live", self.name, d, check=False)
        self.assertEqual((r.returncode, r.stderr), (2, "syscontainerctl: mount: unknown option "
                                                       "'--live'\nUsage: syscontainerctl mount "
                                                       "[--shared] IMAGE|NAME DIR\nTry "
                                                       "'syscontainerctl help mount'.\n"))
        self.assertFalse(self.mountpoint(d))

    def test_mount_4_shared_http(self):
        self.ctl("pull", "--name", "atomic-test-system", self.img["system"])
        d = os.path.join(self.tmp, "mnt")
        os.makedirs(d)
        try:
            # http:REF names the image pull http:REF stored (fixed: it was "not in the
            # store"); --shared changes nothing for OSTree images (docs/syscontainerctl.1.md)
            self.ctl("mount", "--shared", "http:atomic-test-system", d)
            self.assertTrue(os.path.isfile(os.path.join(d, "usr/bin/greet.sh")))
            self.ctl("umount", d)
            for text in ("http:nothing-here", "http:", "https:///", "docker://"):
                r = self.ctl("mount", "--shared", text, d, check=False)
                self.assertEqual((r.returncode, r.stderr), (
                    1, "syscontainerctl: error: image '%s' is not in the store\n" % text))
                self.assertEqual(os.listdir(d), [])
            for text in ("https://localhost/atomic-test-system:latest",
                         "docker://atomic-test-system"):
                doc = json.loads(self.ctl("images", "inspect", text).stdout)
                self.assertEqual(doc["name"], "localhost/atomic-test-system:latest")
        finally:
            self.umount_all(d)

    # -- test_system_containers_pull.sh -----------------------------------------------

    def check_pulled_then_clean(self, source):
        r = self.ctl("pull", source)
        self.assertEqual(r.stdout, "docker.io/library/atomic-test-system:latest\n")
        self.assertEqual(self.names(), [("docker.io/library/atomic-test-system", "latest")])
        repo = os.path.join(self.ck, ".storage/ostree")
        refs = subprocess.run(["ostree", "refs", "--repo", repo], capture_output=True,
                              text=True, check=True).stdout.split()
        self.assertTrue(any("atomic-test-system" in ref for ref in refs), refs)
        self.ctl("images", "delete", "atomic-test-system")
        self.ctl("images", "prune")
        self.assertEqual(self.images(), [])
        self.assertEqual(subprocess.run(["ostree", "refs", "--repo", repo], capture_output=True,
                                        text=True, check=True).stdout, "")

    def test_pull_1_dockertar_arbitrary_file_name(self):
        # the name comes from the archive's manifest, not from the file's name
        self.check_pulled_then_clean("dockertar:" + self.tar)

    def test_pull_2_dockertar_same_name(self):
        same = os.path.join(self.tmp, "atomic-test-system.tar")
        shutil.copy(self.tar, same)
        self.check_pulled_then_clean("dockertar:" + same)

    def test_pull_3_docker_daemon(self):
        self.check_pulled_then_clean("docker:atomic-test-system:latest")

    # -- test_system_containers_rpm.sh: the host-file half (no RPM is built) ----------

    def test_rpm_host_files_copied_kept_and_removed(self):
        n = self.name
        r = self.ctl("install", "--name", n, "--set", "RECEIVER=Venus", self.img["system-hostfs"])
        lib = "usr/local/lib/"
        # the plain file keeps a literal $RECEIVER, the template is rendered, the renamed
        # file is renamed, the empty directory is created
        self.assertEqual(self.read(lib + "secret-message"), "Hello unknown $RECEIVER\n")
        self.assertEqual(self.read(lib + "secret-message-template"), "hello Venus\n")
        self.assertEqual(self.read(lib + "renamed-" + n), "Hello unknown $RECEIVER\n")
        self.assertFalse(self.exists(lib + "placeholder-file"))
        self.assertEqual(os.listdir(self.p("usr/local/placeholder-lib")), [])
        self.assertEqual(os.readlink(self.p("broken-symlink")), "/does/not/exist")
        # useLinks=false: copies, one link each
        for f in ("secret-message", "secret-message-template", "renamed-" + n):
            self.assertEqual(os.stat(self.p(lib + f)).st_nlink, 1, f)
        # a second container exporting the same files: refused, no unit or tmpfiles
        r = self.ctl("install", "--name", "other", self.img["system-hostfs"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^syscontainerctl: error: host file /usr/local/lib/\S+ "
                         r"exists and was not installed by this container")
        self.assertFalse(self.exists("etc/systemd/system/other.service"))
        self.assertFalse(self.exists("etc/tmpfiles.d/other.conf"))
        self.assertFalse(self.exists("%s/other.0" % CK))
        # a locally modified host file survives an update
        with open(self.p(lib + "secret-message"), "a") as f:
            f.write("# local\n")
        r = self.ctl("update", "--set", "RECEIVER=Mars", n)
        self.assertEqual(r.stderr, "syscontainerctl: warning: /usr/local/lib/secret-message was "
                         "modified: kept\n")
        self.assertEqual(self.read(lib + "secret-message"), "Hello unknown $RECEIVER\n# local\n")
        self.assertEqual(self.read(lib + "secret-message-template"), "hello Mars\n")
        # uninstall removes the placeholder directory and the unmodified files
        r = self.ctl("uninstall", n)
        self.assertEqual(r.stderr, "syscontainerctl: warning: /usr/local/lib/secret-message was "
                         "modified: kept\n")
        self.assertFalse(self.exists("usr/local/placeholder-lib"))
        self.assertFalse(self.exists("broken-symlink"))
        self.assertEqual(os.listdir(self.p("usr/local/lib")), ["secret-message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
