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
        self.assertEqual(d["atomic_conf"], {"file": self.conf})
        self.assertEqual(d["checkout_root"], "/var/lib/containers/atomic")
        # the same with a BOM, CRLF line ends and a comment after each value
        d = self.info("\ufeff" + ATOMIC_SHIPPED.replace("\n", "\r\n")
                      + "checkout_path: /srv/ck   # ours\r\n")
        self.assertEqual((d["atomic_conf"], d["checkout_root"]), ({"file": self.conf}, "/srv/ck"))

    def test_merge_key_is_not_silently_dropped(self):
        # PyYAML (atomic) merges *d's keys: checkout_path is /srv/merged
        # there; skipping "<<" would install somewhere else without a word
        d = self.info("defaults: &d\n  checkout_path: /srv/merged\n<<: *d\n")
        msg = "%s line 3: merge keys ('<<') are not supported: write the keys themselves" % \
            self.conf
        self.assertEqual(d["atomic_conf"], {"file": None, "error": msg})
        self.assertEqual(d["runtime"]["error"], msg)
        # a quoted "<<" is an ordinary (unused) key
        d = self.info("'<<': x\ncheckout_path: /srv/q\n")
        self.assertEqual((d["atomic_conf"], d["checkout_root"]), ({"file": self.conf}, "/srv/q"))

    def test_control_characters_in_values(self):
        # a folded scalar keeps its final newline: "/srv/folded\n" would be
        # the checkout root, written into every unit's WorkingDirectory=
        d = self.info("checkout_path: >\n  /srv/folded\n")
        self.assertEqual(d["atomic_conf"]["error"],
                         "%s line 1: 'checkout_path' holds a control character (got "
                         "'/srv/folded\\x0a')" % self.conf)
        d = self.info("ostree_repository: \"/srv/r\\r\"\n")
        self.assertEqual(d["atomic_conf"]["error"],
                         "%s line 1: 'ostree_repository' holds a control character (got "
                         "'/srv/r\\x0d')" % self.conf)
        d = self.info("runtime: \"crun\\t\"\n")
        self.assertEqual(d["atomic_conf"]["error"],
                         "%s line 1: 'runtime' holds a control character (got 'crun\\x09')"
                         % self.conf)
        # a literal block without its newline ("|-") is a plain path
        d = self.info("checkout_path: |-\n  /srv/literal\n")
        self.assertEqual(d["checkout_root"], "/srv/literal")


# Fedora 28-31's /etc/containers/registries.conf (containers-common), version 1
FEDORA_V1 = """\
# This is a system-wide configuration file used to
# keep track of registries for various container backends.
# It adheres to TOML format and does not support recursive
# lists of registries.

# The default location for this configuration file is /etc/containers/registries.conf.

# The only valid categories are: 'registries.search', 'registries.insecure',
# and 'registries.block'.

[registries.search]
registries = ['docker.io', 'registry.fedoraproject.org', 'quay.io', 'registry.access.redhat.com', 'registry.centos.org']

# If you need to access insecure registries, add the registry's fully-qualified name.
# An insecure registry is one that does not have a valid SSL certificate or only does HTTP.
[registries.insecure]
registries = []


# If you need to block pull access from a registry, uncomment the section below
# and add the registries fully-qualified name.
#
# Docker only
[registries.block]
registries = []
"""

# RHEL 8's, version 2, with an example entry made real (mirrors as tables
# and inline), CRLF line ends
RHEL8_V2 = """\
# For more information on this configuration file, see containers-registries.conf(5).
unqualified-search-registries = ["registry.fedoraproject.org", "registry.access.redhat.com", \
"registry.centos.org", "quay.io", "docker.io"]

# [[registry]]
# location = internal-registry-for-example.com/bar"
short-name-mode = "permissive"

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "registry.example.org"
mirror = [
  { location = "m1.example.org", pull-from-mirror = "digest-only" },
  { location = "m2.example.org", insecure = true },   # a comment
]
""".replace("\n", "\r\n")


class RegistriesConfSyntaxTest(unittest.TestCase):
    """Files as distributions shipped them read; each error names the line
    of the value that is wrong (not the table or key it belongs to)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-hostconf-attack-t-")
        self.file = os.path.join(self.tmp, "registries.conf")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def info(self, text):
        with open(self.file, "w", newline="") as f:
            f.write(text)
        r = subprocess.run([CTL, "--json", "info"], capture_output=True, text=True, timeout=60,
                           env=clean_env(CONTAINERS_REGISTRIES_CONF=self.file))
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["registries_conf"]

    def test_shipped_files(self):
        for text in (FEDORA_V1, RHEL8_V2):
            self.assertEqual(self.info(text), {"files": [self.file]})

    def test_empty_strings_are_unset(self):
        # containers/image: short-name-mode "" is unset, and an empty string
        # is no version 2 setting for the mixing rule (skopeo reads both)
        for text in ('short-name-mode = ""\nunqualified-search-registries = ["x.example"]\n',
                     'short-name-mode = ""\n[registries.block]\nregistries = ["b.example"]\n',
                     'additional-layer-store-auth-helper = ""\n[registries.search]\n'
                     'registries = ["x.example"]\n'):
            with self.subTest(text=text):
                self.assertEqual(self.info(text), {"files": [self.file]})
        # an empty array is one for current containers/image (hasSetField: a
        # non-nil []), as docs/registry.md follows; skopeo 1.9.3's older
        # Nonempty() let empty arrays and tables mix (noted, not followed)
        self.assertEqual(self.info('credential-helpers = []\n[registries.block]\n'
                                   'registries = ["b.example"]\n')["error"],
                         "%s line 3: mixing sysregistry v1/v2 is not supported: [registries.*] "
                         "tables (version 1, line 3) and 'credential-helpers' (version 2, line 1) "
                         "in one file" % self.file)

    def test_error_lines(self):
        cases = [
            ("[[registry]]\nlocation = \"a.example\"\n\n[[registry.mirror]]\n"
             "location = \"http://m\"\n",
             "line 4: invalid location 'http://m': URI schemes are not supported"),
            ("[[registry]]\nlocation = \"a.example\"\nmirror = [\n  {location = \"m1\"},\n"
             "  {location = \"https://m2\"},\n]\n",
             "line 5: invalid location 'https://m2': URI schemes are not supported"),
            ("[[registry]]\nlocation = \"a.example\"\nmirror-by-digest-only = true\n"
             "mirror = [\n  {location = \"m1\"},\n  {location = \"m2\", pull-from-mirror = "
             "\"all\"},\n]\n",
             "line 6: [[registry]] \"a.example\": mirror-by-digest-only and a mirror's "
             "pull-from-mirror cannot be set at the same time"),
            ("[[registry]]\nlocation = \"a.example\"\n\n[[registry.mirror]]\ninsecure = true\n",
             "line 4: [[registry]] \"a.example\": invalid condition: mirror location is unset"),
            ("unqualified-search-registries = [\n \"a.example\",\n \"b.example/ns\",\n]\n",
             "line 3: invalid unqualified-search-registries entry \"b.example/ns\": a registry "
             "host[:port] is needed"),
            (FEDORA_V1.replace("'quay.io'", "\n  'quay.io/x'"),
             "line 13: invalid unqualified-search-registries entry \"quay.io/x\": a registry "
             "host[:port] is needed"),
        ]
        for text, want in cases:
            with self.subTest(want=want):
                self.assertEqual(self.info(text), {"files": [], "error": "%s %s" % (self.file,
                                                                                  want)})


class EnvironmentAttackTest(unittest.TestCase):
    """$ATOMIC_OSTREE_CHECKOUT_PATH / $ATOMIC_OSTREE_REPO set to what is not
    an absolute path without '..' stop the commands (as the same value given
    as --checkout-root / --repo does), instead of letting atomic.conf or the
    default decide where containers go; the flag still wins over them."""

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-hostconf-attack-env-")
        os.makedirs(os.path.join(self.sysroot, "etc"))
        with open(os.path.join(self.sysroot, "etc", "atomic.conf"), "w") as f:
            f.write("checkout_path: /srv/conf\nostree_repository: /srv/repo\n")

    def tearDown(self):
        shutil.rmtree(self.sysroot)

    def ctl(self, *args, **env):
        return subprocess.run([CTL, "--sysroot", self.sysroot, "--json", *args],
                              capture_output=True, text=True, timeout=60, env=clean_env(**env))

    def test_bad_environment_paths(self):
        for var, value, cmd in (("ATOMIC_OSTREE_CHECKOUT_PATH", "rel/ck", ("list",)),
                                ("ATOMIC_OSTREE_CHECKOUT_PATH", "/srv/../etc", ("list",)),
                                ("ATOMIC_OSTREE_REPO", "repo", ("images", "list"))):
            with self.subTest(var=var, value=value):
                r = self.ctl(*cmd, **{var: value})
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertEqual(json.loads(r.stdout)["error"],
                                 {"code": "SC_EINVAL", "message": "$%s '%s': must be an absolute "
                                  "path without '..'" % (var, value)})
        # the flag wins over the environment, as over atomic.conf
        r = self.ctl("--checkout-root", "/srv/flag", "list", ATOMIC_OSTREE_CHECKOUT_PATH="rel")
        self.assertEqual(r.returncode, 0, r.stdout)
        # empty is unset (atomic: os.environ.get(...) or conf)
        r = self.ctl("info", ATOMIC_OSTREE_CHECKOUT_PATH="")
        self.assertEqual(json.loads(r.stdout)["checkout_root"], "/srv/conf")
        self.assertEqual(os.listdir(self.sysroot), ["etc"])


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

    @unittest.expectedFailure
    def test_explicit_file_keeps_user_dropins(self):
        # skopeo 1.9 (containers/image): --registries-conf FILE replaces the
        # main file only; the user's registries.conf.d still applies ("blocked
        # in FILE or ~/.config/containers/registries.conf.d"). Here the file
        # is read alone (docs/registry.md), so a drop-in's block is bypassed
        # by naming any file. Left for the lead: changing it makes every test
        # that isolates itself with --registries-conf read the host's drop-ins.
        home = os.path.join(self.tmp, "home")
        dropins = os.path.join(home, ".config", "containers", "registries.conf.d")
        os.makedirs(dropins)
        with open(os.path.join(dropins, "50-block.conf"), "w") as f:
            f.write("[[registry]]\nlocation = \"blk.example\"\nblocked = true\n")
        conf = self.write("plain.conf", "unqualified-search-registries = [\"x.example\"]\n")
        env = clean_env(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))
        r = subprocess.run(["skopeo", "inspect", "--raw", "--registries-conf", conf,
                            "docker://blk.example/a:1"], capture_output=True, text=True,
                           timeout=120, env=env)
        self.assertIn("registry blk.example is blocked in %s or %s" % (conf, dropins), r.stderr)
        r = subprocess.run([CTL, "--checkout-root", self.ck, "--json", "pull",
                            "--registries-conf", conf, "blk.example/a:1"], capture_output=True,
                           text=True, timeout=120, env=env)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EAUTH", r.stdout)

    def test_v1_trailing_slash_is_one_location(self):
        # ConvertToV2 trims '/' before merging: one entry, blocked and insecure
        conf = self.write("v1slash.conf", "[registries.block]\nregistries = ['reg.example.com/']\n"
                          "[registries.insecure]\nregistries = ['reg.example.com']\n")
        self.assert_blocked(conf, "reg.example.com/foo:1", "reg.example.com")
        self.assert_blocked(conf, "reg.example.com:5000/foo:1", "reg.example.com")


if __name__ == "__main__":
    unittest.main(verbosity=2)
