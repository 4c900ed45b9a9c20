"""The host's configuration, end to end: /etc/atomic.conf (in a sysroot, or
$ATOMIC_CONF) deciding the checkout root, the repository and the runtime,
against the environment and the flags; the runtime recorded per container
kept by update and rollback; and registries.conf version 1 (search,
insecure, block, and drop-ins) used by real pulls from a local registry."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
sys.path.insert(0, os.path.dirname(__file__))
import imagelib as il  # noqa: E402
from test_deploy import build  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
CRUN = shutil.which("crun") or "/usr/bin/crun"


def have(*tools):
    return all(shutil.which(t) for t in tools)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATOMIC_CONF", "ATOMIC_OSTREE_CHECKOUT_PATH", "ATOMIC_OSTREE_REPO",
                        "RUNC_PATH", "CONTAINERS_REGISTRIES_CONF", "XDG_CONFIG_HOME")}
    env.update(extra)
    return env


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "runc"), "needs root, umoci and runc")
class AtomicConfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-hostconf-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n"})
        cls.v1 = "oci:%s:v1" % cls.layout
        cls.v2 = "oci:%s:v2" % cls.layout
        # a runtime of the administrator's own: a script in front of runc
        cls.script = os.path.join(cls.shared, "my-runtime")
        with open(cls.script, "w") as f:
            f.write("#!/bin/sh\nexec %s \"$@\"\n" % shutil.which("runc"))
        os.chmod(cls.script, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-hostconf-")
        self.env = clean_env()

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def ctl(self, *args, check=True, env=None):
        r = subprocess.run([CTL, "--sysroot", self.sysroot, *args], capture_output=True,
                           text=True, timeout=120, env=env or self.env)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def write(self, rel, text):
        path = os.path.join(self.sysroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def read(self, rel):
        with open(os.path.join(self.sysroot, rel)) as f:
            return f.read()

    def exec_start_runtime(self, name):
        unit = self.read("etc/systemd/system/%s.service" % name)
        m = re.search(r"(?m)^ExecStart=(\S+) ", unit)
        self.assertIsNotNone(m, unit)
        return m.group(1)

    def names(self, env=None):
        doc = json.loads(self.ctl("--json", "list", env=env).stdout)
        return sorted(c["name"] for c in doc["containers"])

    def lifecycle(self, ck, repo, env=None):
        """install, list, inspect, update, rollback, uninstall under the
        checkout root @ck and the repository @repo (as seen from the
        sysroot) that the configuration gives."""
        host_ck = os.path.join(self.sysroot, ck.lstrip("/"))
        self.ctl("install", "--name", "web", self.v1, env=env)
        self.assertEqual(os.readlink(os.path.join(host_ck, "web")), ck + "/web.0")
        self.assertIn("WorkingDirectory=%s/web.0\n" % ck,
                      self.read("etc/systemd/system/web.service"))
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot, repo.lstrip("/"), "config")))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "var/lib/containers/atomic")))
        self.assertEqual(self.names(env), ["web"])
        info = json.loads(self.ctl("inspect", "web", env=env).stdout)
        self.assertEqual(info["name"], "web")
        r = json.loads(self.ctl("--json", "update", "--rebase", self.v2, "web", env=env).stdout)
        self.assertEqual((r["updated"], r["deployment"]), (True, ck + "/web.1"))
        self.assertEqual(self.read(ck.lstrip("/") + "/web.1/rootfs/etc/motd"), "motd v2\n")
        r = json.loads(self.ctl("--json", "rollback", "web", env=env).stdout)
        self.assertEqual(r["deployment"], ck + "/web.0")
        self.ctl("uninstall", "web", env=env)
        self.assertEqual(self.names(env), [])
        self.assertFalse(os.path.lexists(os.path.join(host_ck, "web")))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd/system/web.service")))

    def test_sysroot_atomic_conf_lifecycle(self):
        self.write("etc/atomic.conf", "# the host's own\ndefault_storage: ostree\n"
                   "checkout_path: /srv/containers\nostree_repository: /srv/repo\n"
                   "registries: [docker.io]\n")
        self.lifecycle("/srv/containers", "/srv/repo")

    def test_atomic_conf_env_lifecycle(self):
        # $ATOMIC_CONF (a path on this machine) replaces the sysroot's file
        self.write("etc/atomic.conf", "checkout_path: /srv/not-this\n")
        conf = os.path.join(self.sysroot, "..", os.path.basename(self.sysroot) + ".atomic.conf")
        with open(conf, "w") as f:
            f.write("checkout_path: /opt/ck\nostree_repository: /opt/repo\n")
        try:
            self.lifecycle("/opt/ck", "/opt/repo", env=clean_env(ATOMIC_CONF=conf))
            self.assertFalse(os.path.exists(os.path.join(self.sysroot, "srv/not-this")))
        finally:
            os.unlink(conf)

    def test_installed_under_checkout_path_visible_only_with_it(self):
        self.write("etc/atomic.conf", "checkout_path: /srv/ck\n")
        self.ctl("install", "--name", "a", self.v1)
        self.assertEqual(self.names(), ["a"])
        # the conf is what finds it: without it, the default root has nothing
        os.rename(os.path.join(self.sysroot, "etc/atomic.conf"),
                  os.path.join(self.sysroot, "etc/atomic.conf.off"))
        self.assertEqual(self.names(), [])
        r = self.ctl("inspect", "a", check=False)
        self.assertEqual(r.returncode, 1)
        os.rename(os.path.join(self.sysroot, "etc/atomic.conf.off"),
                  os.path.join(self.sysroot, "etc/atomic.conf"))
        self.assertEqual(self.names(), ["a"])
        self.ctl("uninstall", "a")
        self.assertEqual(os.listdir(os.path.join(self.sysroot, "srv/ck")), [".storage"])

    def test_precedence_env_and_flags(self):
        self.write("etc/atomic.conf", "checkout_path: /srv/conf\nostree_repository: /srv/conf-repo\n")
        env = clean_env(ATOMIC_OSTREE_CHECKOUT_PATH="/srv/env",
                        ATOMIC_OSTREE_REPO="/srv/env-repo")
        # the environment before atomic.conf
        self.ctl("install", "--name", "e", self.v1, env=env)
        self.assertTrue(os.path.islink(os.path.join(self.sysroot, "srv/env/e")))
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot, "srv/env-repo/config")))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "srv/conf")))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "srv/conf-repo")))
        # the flags before the environment
        self.ctl("--checkout-root", "/srv/flag", "--repo", "/srv/flag-repo", "install",
                 "--name", "f", self.v1, env=env)
        self.assertTrue(os.path.islink(os.path.join(self.sysroot, "srv/flag/f")))
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot, "srv/flag-repo/config")))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "srv/env/f")))
        # and atomic.conf without the environment
        self.ctl("install", "--name", "c", self.v1)
        self.assertTrue(os.path.islink(os.path.join(self.sysroot, "srv/conf/c")))
        self.assertTrue(os.path.isfile(os.path.join(self.sysroot, "srv/conf-repo/config")))
        self.assertEqual(self.names(), ["c"])
        self.assertEqual(self.names(env), ["e"])

    def test_runtime_key_and_precedence(self):
        self.write("etc/atomic.conf", "runtime: %s\n" % self.script)
        self.ctl("install", "--name", "s", self.v1)
        self.assertEqual(self.exec_start_runtime("s"), self.script)
        info = json.loads(self.read("var/lib/containers/atomic/s.0/info"))
        self.assertEqual(info["runtime"], self.script)
        # $RUNC_PATH comes after atomic.conf's runtime...
        self.ctl("install", "--name", "t", self.v1, env=clean_env(RUNC_PATH=CRUN))
        self.assertEqual(self.exec_start_runtime("t"), self.script)
        # ...and counts without it
        os.unlink(os.path.join(self.sysroot, "etc/atomic.conf"))
        self.ctl("install", "--name", "u", self.v1, env=clean_env(RUNC_PATH=CRUN))
        self.assertEqual(self.exec_start_runtime("u"), CRUN)
        # --runtime before all
        self.write("etc/atomic.conf", "runtime: %s\n" % self.script)
        self.ctl("--runtime", CRUN, "install", "--name", "v", self.v1)
        self.assertEqual(self.exec_start_runtime("v"), CRUN)
        # a runtime in atomic.conf that is not there: the file and line say where
        self.write("etc/atomic.conf", "\nruntime: /no/such/runtime\n")
        r = self.ctl("install", "--name", "w", self.v1, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("runtime '/no/such/runtime' from %s/etc/atomic.conf line 2 is not "
                      "installed: no executable file at that path" % self.sysroot, r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(self.sysroot,
                                                      "var/lib/containers/atomic/w")))

    def test_runtime_kept_by_update_and_rollback(self):
        self.write("etc/atomic.conf", "runtime: %s\n" % CRUN)
        self.ctl("install", "--name", "k", self.v1)
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        # atomic.conf now names another runtime: the update keeps the container's
        self.write("etc/atomic.conf", "runtime: %s\n" % self.script)
        self.ctl("update", "--rebase", self.v2, "k")
        self.assertEqual(os.readlink(os.path.join(self.sysroot, "var/lib/containers/atomic/k")),
                         "/var/lib/containers/atomic/k.1")
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        self.assertEqual(json.loads(self.read("var/lib/containers/atomic/k.1/info"))["runtime"],
                         CRUN)
        # so does an update by environment ($RUNC_PATH) and without any conf
        os.unlink(os.path.join(self.sysroot, "etc/atomic.conf"))
        self.ctl("update", "--rebase", self.v1, "k", env=clean_env(RUNC_PATH=self.script))
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        # rollback: the previous deployment's unit, with its runtime
        self.ctl("rollback", "k")
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        # --runtime changes it, and the new deployment records it
        self.ctl("--runtime", self.script, "update", "--rebase", self.v2, "k")
        self.assertEqual(self.exec_start_runtime("k"), self.script)
        cur = os.readlink(os.path.join(self.sysroot, "var/lib/containers/atomic/k"))
        self.assertEqual(json.loads(self.read(cur.lstrip("/") + "/info"))["runtime"], self.script)
        self.ctl("rollback", "k")
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        # a recorded runtime that is gone: the update says so and changes nothing
        cur = os.readlink(os.path.join(self.sysroot, "var/lib/containers/atomic/k"))
        info_path = cur.lstrip("/") + "/info"
        info = json.loads(self.read(info_path))
        info["runtime"] = "/no/such/runtime"
        self.write(info_path, json.dumps(info))
        r = self.ctl("update", "--rebase", self.v1, "k", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("runtime '/no/such/runtime' recorded for container k is not installed: no "
                      "executable file at that path (give --runtime PATH to change it)", r.stderr)
        self.assertEqual(os.readlink(os.path.join(self.sysroot, "var/lib/containers/atomic/k")),
                         cur)
        # --runtime mends it, even for the same image (a runtime of its own is a change)
        self.ctl("--runtime", CRUN, "update", "k")
        self.assertNotEqual(os.readlink(os.path.join(self.sysroot, "var/lib/containers/atomic/k")),
                            cur)
        self.assertEqual(self.exec_start_runtime("k"), CRUN)
        # the same image and values with the same runtime: nothing to do
        r = json.loads(self.ctl("--json", "--runtime", CRUN, "update", "k").stdout)
        self.assertFalse(r["updated"])
        self.ctl("uninstall", "k")

    def test_bad_atomic_conf_stops_everything(self):
        conf = self.write("etc/atomic.conf", "checkout_path: /srv/ck\nruntime:\n  - runc\n")
        for args in (("install", "--name", "x", self.v1), ("list",), ("images", "list"),
                     ("update", "x"), ("rollback", "x"), ("uninstall", "x")):
            with self.subTest(args=args):
                r = self.ctl("--json", *args, check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                err = json.loads(r.stdout)["error"]
                self.assertEqual((err["code"], err["message"]),
                                 ("SC_EINVAL", "%s line 3: 'runtime' must be a string, not a "
                                  "list" % conf))
        self.assertEqual(sorted(os.listdir(self.sysroot)), ["etc"])
        self.assertEqual(os.listdir(os.path.join(self.sysroot, "etc")), ["atomic.conf"])
        # YAML syntax: libyaml's reason and line
        self.write("etc/atomic.conf", "checkout_path: /srv\n  nested: wrong\n")
        r = self.ctl("list", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s line 2: mapping values are not allowed in this context" % conf, r.stderr)
        # not a regular file: refused at once, nothing waits on a fifo
        os.unlink(conf)
        os.mkfifo(conf)
        r = self.ctl("list", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s: not a regular file" % conf, r.stderr)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "skopeo", "docker-registry"),
                     "needs root, umoci, skopeo and docker-registry")
class RegistriesConfV1Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import registry as rg
        cls.shared = tempfile.mkdtemp(prefix="sc-hostconf-reg-")
        layout = os.path.join(cls.shared, "layout")
        il.build_base_image(layout, "base")
        cls.registry = rg.Registry(cls.shared)
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:base" % layout,
               "docker://%s/hello:latest" % cls.registry.host)

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-hostconf-r-")
        self.ck = os.path.join(self.tmp, "ck")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def conf(self, rel, text):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ctl(self, *args, env=None, check=True):
        r = subprocess.run([CTL, "--checkout-root", self.ck, *args], capture_output=True,
                           text=True, timeout=120, env=env or clean_env())
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def test_v1_search_and_insecure(self):
        host = self.registry.host
        conf = self.conf("v1.conf", "[registries.search]\nregistries = ['%s']\n\n"
                         "[registries.insecure]\nregistries = ['%s']\n\n"
                         "[registries.block]\nregistries = []\n" % (host, host))
        # a short name through the search list, over plain HTTP as the insecure list allows
        r = self.ctl("pull", "--registries-conf", conf, "hello")
        self.assertEqual(r.stdout, "%s/hello:latest\n" % host)
        self.assertGreater(self.registry.requests("/v2/hello/manifests/latest"), 0)
        # without the insecure entry, TLS is required
        conf = self.conf("v1-secure.conf", "[registries.search]\nregistries = ['%s']\n" % host)
        r = self.ctl("pull", "--registries-conf", conf, "hello", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--tls-verify=false", r.stderr)

    def test_v1_block(self):
        host = self.registry.host
        conf = self.conf("block.conf", "[registries.block]\nregistries = ['%s']\n" % host)
        r = self.ctl("--json", "pull", "--registries-conf", conf, "--tls-verify=false",
                     "%s/hello:latest" % host, check=False)
        self.assertEqual(r.returncode, 1)
        err = json.loads(r.stdout)["error"]
        self.assertEqual((err["code"], err["message"]),
                         ("SC_EAUTH", "image %s/hello: the registry is blocked by "
                          "registries.conf (prefix \"%s\")" % (host, host)))
        self.assertFalse(os.path.exists(os.path.join(self.ck, ".storage", "ostree", "refs",
                                                     "heads", "ociimage")))

    def test_v1_main_file_and_v2_dropins(self):
        host = self.registry.host
        xdg = os.path.join(self.tmp, "xdg")
        env = clean_env(XDG_CONFIG_HOME=xdg)
        self.conf("xdg/containers/registries.conf",
                  "[registries.search]\nregistries = ['example.invalid']\n")
        # a version 2 drop-in adds to a version 1 file (containers/image allows it)
        self.conf("xdg/containers/registries.conf.d/50-local.conf",
                  "unqualified-search-registries = [\"%s\"]\n"
                  "registry = [{location = \"%s\", insecure = true}]\n" % (host, host))
        self.assertEqual(self.ctl("pull", "hello", env=env).stdout, "%s/hello:latest\n" % host)
        # a drop-in in version 1 is refused, with its file and line
        bad = self.conf("xdg/containers/registries.conf.d/60-old.conf",
                        "# old style\n[registries.insecure]\nregistries = ['x.example']\n")
        r = self.ctl("pull", "hello", env=env, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s line 3: registry must be in v2 format but is in v1 ([registries.*] "
                      "tables): a drop-in in registries.conf.d takes version 2 only" % bad,
                      r.stderr)
        os.unlink(bad)
        # one file mixing both is refused as containers/image refuses it
        mixed = self.conf("mixed.conf", "unqualified-search-registries = ['%s']\n"
                          "[registries.insecure]\nregistries = ['%s']\n" % (host, host))
        r = self.ctl("pull", "--registries-conf", mixed, "hello", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s line 3: mixing sysregistry v1/v2 is not supported: [registries.*] "
                      "tables (version 1, line 3) and 'unqualified-search-registries' "
                      "(version 2, line 1) in one file" % mixed, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
