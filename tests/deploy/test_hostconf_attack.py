"""The host's configuration as an outsider attacks it: atomic.conf files as
hosts have them (YAML merge keys, folded scalars ending in a newline, the
default file atomic shipped), and registries.conf entries compared with what
containers/image (skopeo) does with the same file: a wildcard prefix
"*.example.com" against a host with a port, a wildcard entry with a
location, and version 1 locations with a trailing '/'."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "registry"))
sys.path.insert(0, os.path.dirname(__file__))
import imagelib as il  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def have(*tools):
    return all(shutil.which(t) for t in tools)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATOMIC_CONF", "ATOMIC_OSTREE_CHECKOUT_PATH", "ATOMIC_OSTREE_REPO",
                        "RUNC_PATH", "CONTAINERS_REGISTRIES_CONF", "XDG_CONFIG_HOME")}
    env.update(extra)
    return env


# atomic's own /etc/atomic.conf as packages shipped it: comments, keys the
# system containers do not use (some nested), the used ones commented out
ATOMIC_SHIPPED = """\
# Atomic CLI configuration file
#
default_scanner: openscap
default_docker: docker
# default_storage: docker
default_signer:
gpg_homedir: ~/.gnupg
registries:
  - registry.access.redhat.com
  - docker.io
sigstore_metadata_image: sigstore
# checkout_path: /var/lib/containers/atomic
# ostree_repository: /ostree/repo
# runtime: /usr/bin/runc
"""


class AtomicConfAttackTest(unittest.TestCase):
    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-hostconf-attack-")
        os.makedirs(os.path.join(self.sysroot, "etc"))
        self.conf = os.path.join(self.sysroot, "etc", "atomic.conf")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def info(self, text):
        with open(self.conf, "w") as f:
            f.write(text)
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "--json", "info"],
                           capture_output=True, text=True, timeout=60, env=clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_shipped_default_file(self):
        d = self.info(ATOMIC_SHIPPED)
        self.assertEqual(d["atomic-conf"], {"file": self.conf})
        self.assertEqual(d["checkout-root"], "/var/lib/containers/atomic")
        # the same with a BOM, CRLF line ends and a comment after each value
        d = self.info("\ufeff" + ATOMIC_SHIPPED.replace("\n", "\r\n")
                      + "checkout_path: /srv/ck   # ours\r\n")
        self.assertEqual((d["atomic-conf"], d["checkout-root"]), ({"file": self.conf}, "/srv/ck"))

    def test_merge_key_is_not_silently_dropped(self):
        # PyYAML (atomic) merges *d's keys: checkout_path is /srv/merged
        # there; skipping "<<" would install somewhere else without a word
        d = self.info("defaults: &d\n  checkout_path: /srv/merged\n<<: *d\n")
        msg = "%s line 3: merge keys ('<<') are not supported: write the keys themselves" % \
            self.conf
        self.assertEqual(d["atomic-conf"], {"file": None, "error": msg})
        self.assertEqual(d["runtime"]["error"], msg)
        # a quoted "<<" is an ordinary (unused) key
        d = self.info("'<<': x\ncheckout_path: /srv/q\n")
        self.assertEqual((d["atomic-conf"], d["checkout-root"]), ({"file": self.conf}, "/srv/q"))

    def test_control_characters_in_values(self):
        # a folded scalar keeps its final newline: "/srv/folded\n" would be
        # the checkout root, written into every unit's WorkingDirectory=
        d = self.info("checkout_path: >\n  /srv/folded\n")
        self.assertEqual(d["atomic-conf"]["error"],
                         "%s line 1: 'checkout_path' holds a control character (got "
                         "'/srv/folded\\x0a')" % self.conf)
        d = self.info("ostree_repository: \"/srv/r\\r\"\n")
        self.assertEqual(d["atomic-conf"]["error"],
                         "%s line 1: 'ostree_repository' holds a control character (got "
                         "'/srv/r\\x0d')" % self.conf)
        d = self.info("runtime: \"crun\\t\"\n")
        self.assertEqual(d["atomic-conf"]["error"],
                         "%s line 1: 'runtime' holds a control character (got 'crun\\x09')"
                         % self.conf)
        # a literal block without its newline ("|-") is a plain path
        d = self.info("checkout_path: |-\n  /srv/literal\n")
        self.assertEqual(d["checkout-root"], "/srv/literal")


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "skopeo", "docker-registry"),
                     "needs root, umoci, skopeo and docker-registry")
class RegistriesConfAttackTest(unittest.TestCase):
    """Each file is also given to skopeo (containers/image) as the reference."""

    @classmethod
    def setUpClass(cls):
        import registry as rg
        cls.shared = tempfile.mkdtemp(prefix="sc-hostconf-attack-reg-")
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
        self.tmp = tempfile.mkdtemp(prefix="sc-hostconf-attack-r-")
        self.ck = os.path.join(self.tmp, "ck")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def pull(self, conf, ref):
        return subprocess.run([CTL, "--checkout-root", self.ck, "--json", "pull",
                               "--registries-conf", conf, ref], capture_output=True, text=True,
                              timeout=120, env=clean_env())

    def skopeo(self, conf, ref):
        return subprocess.run(["skopeo", "inspect", "--raw", "--registries-conf", conf,
                               "docker://" + ref],
                              capture_output=True, text=True, timeout=120, env=clean_env())

    def assert_blocked(self, conf, ref, prefix):
        r = self.skopeo(conf, ref)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("registry %s is blocked in %s" % (prefix, conf), r.stderr)
        r = self.pull(conf, ref)
        self.assertEqual(r.returncode, 1, r.stderr)
        name = ref.rsplit(":", 1)[0]
        self.assertEqual(json.loads(r.stdout)["error"],
                         {"code": "SC_EAUTH",
                          "message": "image %s: the registry is blocked by registries.conf "
                          "(prefix \"%s\")" % (name, prefix)})
        self.assertFalse(os.path.exists(os.path.join(self.ck, ".storage")))

    def test_wildcard_block_covers_a_port(self):
        conf = self.write("wild.conf", "[[registry]]\nprefix = \"*.example.com\"\nblocked = true\n")
        self.assert_blocked(conf, "reg.example.com/foo:1", "*.example.com")
        # containers/image: ".example.com" followed by ':' matches; a port
        # must not take a host out of a blocked wildcard
        self.assert_blocked(conf, "reg.example.com:5000/foo:1", "*.example.com")
        self.assert_blocked(conf, "a.b.example.com:443/ns/foo:1", "*.example.com")

    def test_wildcard_with_location_rewrites(self):
        host = self.registry.host
        conf = self.write("wild-loc.conf", "[[registry]]\nprefix = \"*.example.com\"\n"
                          "location = \"%s\"\ninsecure = true\n" % host)
        ref = "reg.example.com/hello:latest"
        r = self.skopeo(conf, ref)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.registry.requests("/v2/hello/manifests/latest")
        r = self.pull(conf, ref)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(self.registry.requests("/v2/hello/manifests/latest"), before)

    def test_v1_trailing_slash_is_one_location(self):
        # ConvertToV2 trims '/' before merging: one entry, blocked and insecure
        conf = self.write("v1slash.conf", "[registries.block]\nregistries = ['reg.example.com/']\n"
                          "[registries.insecure]\nregistries = ['reg.example.com']\n")
        self.assert_blocked(conf, "reg.example.com/foo:1", "reg.example.com")
        self.assert_blocked(conf, "reg.example.com:5000/foo:1", "reg.example.com")


if __name__ == "__main__":
    unittest.main(verbosity=2)
