"""The signature policy (containers-policy.json(5)) on pulls from a real
registry on 127.0.0.1 and from OCI layouts: for each policy and reference,
our verdict (accepted: the image is stored; refused: the store is as it
was, and the message names the image, the scope and the file) equals
skopeo copy's under the same policy. The files `trust` writes are read by
skopeo with the same verdicts. A missing or malformed policy refuses every
pull, naming the file (and the position).

SC_SIGNATURE_POLICY (the accept-anything policy the other tests run under)
is removed from the environment here."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
ACCEPT = [{"type": "insecureAcceptAnything"}]
REJECT = [{"type": "reject"}]


def have(*tools):
    return all(shutil.which(t) for t in tools)


@unittest.skipUnless(os.getuid() == 0 and have("skopeo", "docker-registry"),
                     "needs root, skopeo and docker-registry")
class PolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-pol-")
        cls.layout = os.path.join(cls.shared, "layout")
        il.build_base_image(cls.layout, "base")
        cls.registry = rg.Registry(cls.shared)
        cls.host = cls.registry.host
        for dest in ("hello:latest", "ns/app:1", "ns/app:2", "ns/sub/x:1", "other:1"):
            il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:base" % cls.layout,
                   "docker://%s/%s" % (cls.host, dest))
        out = il.run("skopeo", "inspect", "--tls-verify=false",
                     "docker://%s/ns/app:1" % cls.host)
        cls.digest = json.loads(out.stdout if hasattr(out, "stdout") else out)["Digest"]

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-pol-t-")
        self.checkout_root = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.checkout_root, ".storage", "ostree")
        self.policy = os.path.join(self.tmp, "policy.json")
        self.env = {k: v for k, v in os.environ.items() if k != "SC_SIGNATURE_POLICY"}
        self.env["HOME"] = self.tmp  # no ~/.config/containers/policy.json

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def ctl(self, *args):
        return subprocess.run([CTL, "--checkout-root", self.checkout_root, *args],
                              capture_output=True, text=True, timeout=120, env=self.env)

    def refs(self):
        if not os.path.exists(self.repo):
            return []
        return sorted(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def write_policy(self, doc):
        with open(self.policy, "w") as f:
            json.dump(doc, f)

    def ours(self, source):
        """True: pulled; False: refused by the policy, with the store as it
        was (any other failure fails the test)."""
        before = self.refs()
        r = self.ctl("--signature-policy", self.policy, "pull", "--tls-verify=false", source)
        if r.returncode == 0:
            self.assertNotEqual(self.refs(), before)
            return True
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.refs(), before, "a refused image left refs behind")
        self.assertRegex(r.stderr, r"(rejected|refused) by policy \(", r.stderr)
        self.assertIn(" in %s)" % self.policy, r.stderr)
        return False

    def skopeos(self, source):
        dest = os.path.join(self.tmp, "skopeo-out")
        shutil.rmtree(dest, ignore_errors=True)
        r = subprocess.run(["skopeo", "copy", "--policy", self.policy, "--src-tls-verify=false",
                            source, "oci:%s:x" % dest], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            self.assertRegex(r.stderr, r"rejected|[Ss]ignature|policy", r.stderr)
        return r.returncode == 0

    def compare(self, cases):
        """@cases: (source for us, source for skopeo, expected verdict)."""
        for ours_src, skopeo_src, expected in cases:
            with self.subTest(source=ours_src):
                self.assertEqual((self.ours(ours_src), self.skopeos(skopeo_src)),
                                 (expected, expected))

    def reg(self, name):
        return ("docker://%s/%s" % (self.host, name), "docker://%s/%s" % (self.host, name))

    # -- registry scopes ---------------------------------------------------

    def test_registry_scopes_match_skopeo(self):
        h = self.host
        self.write_policy({"default": REJECT, "transports": {"docker": {
            h: ACCEPT,                      # the host
            h + "/ns": REJECT,              # a namespace under it
            h + "/ns/app": ACCEPT,          # a repository in it
            h + "/ns/app:2": REJECT,        # one tag of it
            h + "/ns/app@" + self.digest: REJECT,
        }}})
        self.compare([
            (*self.reg("hello:latest"), True),
            (*self.reg("other:1"), True),
            (*self.reg("ns/sub/x:1"), False),
            (*self.reg("ns/app:1"), True),
            (*self.reg("ns/app:2"), False),
            (*self.reg("ns/app@" + self.digest), False),
        ])

    def test_reject_message_names_image_scope_and_file(self):
        h = self.host
        self.write_policy({"default": ACCEPT,
                           "transports": {"docker": {h + "/ns": REJECT}}})
        r = self.ctl("--signature-policy", self.policy, "pull", "--tls-verify=false",
                     "docker://%s/ns/app:1" % h)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: docker://%s/ns/app:1: rejected by "
                         "policy (transports.docker[\"%s/ns\"] in %s)\n" % (h, h, self.policy))
        self.assertEqual(self.refs(), [])

    def test_transport_default_and_unknown_transports(self):
        self.write_policy({"default": ACCEPT, "transports": {
            "docker": {"": REJECT},
            # containers/image ignores transports it does not know
            "atomic": {"whatever": ACCEPT}}})
        self.compare([(*self.reg("hello:latest"), False)])
        self.write_policy({"default": REJECT, "transports": {"docker-daemon": {"": ACCEPT}}})
        self.compare([(*self.reg("hello:latest"), False)])

    def test_signed_requirement_refuses_unsigned(self):
        # (the verification itself is signature.c's; an unsigned image is
        # refused by both under signedBy)
        key = os.path.join(self.tmp, "key.gpg")
        with open(key, "w") as f:
            f.write("not a key\n")
        self.write_policy({"default": ACCEPT, "transports": {"docker": {
            self.host + "/ns": [{"type": "insecureAcceptAnything"},
                                {"type": "signedBy", "keyType": "GPGKeys", "keyPath": key}]}}})
        self.compare([(*self.reg("ns/app:1"), False), (*self.reg("hello:latest"), True)])

    # -- oci layouts -------------------------------------------------------

    def test_oci_scopes_match_skopeo(self):
        real = os.path.realpath(self.layout)
        src = "oci:%s:base" % self.layout
        # the image's name is not part of an oci identity: DIR:IMAGE never
        # matches (skopeo 1.9)
        for scopes, expected in [({real + ":base": ACCEPT}, False),
                                 ({real: ACCEPT}, True),
                                 ({os.path.dirname(real): ACCEPT}, True),
                                 ({real + ":other": ACCEPT}, False),
                                 ({"": ACCEPT}, True),
                                 ({}, False)]:
            with self.subTest(scopes=scopes):
                self.write_policy({"default": REJECT, "transports": {"oci": scopes}})
                shutil.rmtree(self.checkout_root, ignore_errors=True)
                self.compare([(src, src, expected)])

    # -- no policy, malformed policy ---------------------------------------

    def test_missing_policy_refuses(self):
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = subprocess.run([CTL, "--sysroot", root, "--checkout-root", self.checkout_root, "pull",
                            "--tls-verify=false", "docker://%s/hello:latest" % self.host],
                           capture_output=True, text=True, timeout=120, env=self.env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: signature policy "
                         "%s/etc/containers/policy.json: No such file or directory (without a "
                         "policy file no image is accepted)\n" % root)
        self.assertEqual(self.refs(), [])
        r = self.ctl("--signature-policy", self.policy, "pull", "--tls-verify=false",
                     "docker://%s/hello:latest" % self.host)
        self.assertEqual(r.stderr, "syscontainerctl: error: signature policy %s: No such file "
                         "or directory (without a policy file no image is accepted)\n"
                         % self.policy)

    def test_malformed_policy_refuses(self):
        with open(self.policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}],\n "transports": {\n}\n')
        r = self.ctl("--signature-policy", self.policy, "pull", "--tls-verify=false",
                     "docker://%s/hello:latest" % self.host)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "syscontainerctl: error: %s:4:0: '}' expected near end of "
                         "file\n" % self.policy)
        self.assertEqual(self.refs(), [])
        self.assertFalse(self.skopeos("docker://%s/hello:latest" % self.host))
        self.write_policy({"default": ACCEPT, "transports": {"docker": {
            self.host: [{"type": "signedBy", "keyType": "GPGKeys"}]}}})
        r = self.ctl("--signature-policy", self.policy, "pull", "--tls-verify=false",
                     "docker://%s/hello:latest" % self.host)
        self.assertEqual(r.stderr, "syscontainerctl: error: %s: transports.docker[\"%s\"][0]: "
                         "exactly one of keyPath, keyPaths and keyData must be set\n"
                         % (self.policy, self.host))
        self.assertFalse(self.skopeos("docker://%s/hello:latest" % self.host))

    # -- trust verbs -------------------------------------------------------

    def trust(self, *args):
        r = self.ctl("--signature-policy", self.policy, "--registries-d",
                     os.path.join(self.tmp, "registries.d"), "trust", *args)
        return r

    def test_trust_files_read_by_skopeo(self):
        h = self.host
        r = self.trust("set", "--type", "accept", h)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: %s: the default trust policy must be set "
                             "first (trust default accept|reject)\n" % self.policy))
        self.assertFalse(os.path.exists(self.policy))
        for args in (("default", "reject"), ("set", "--type", "accept", h),
                     ("set", "--type", "reject", h + "/ns"),
                     ("set", "--type", "accept", h + "/ns/app"),
                     ("set", "-t" if False else "--type", "reject", h + "/ns/app:2")):
            r = self.trust(*args)
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
        # no temporary file is left behind
        self.assertEqual(os.listdir(self.tmp).count("policy.json"), 1)
        self.assertEqual([n for n in os.listdir(self.tmp) if n.endswith(".tmp")], [])
        self.compare([
            (*self.reg("hello:latest"), True),
            (*self.reg("ns/sub/x:1"), False),
            (*self.reg("ns/app:1"), True),
            (*self.reg("ns/app:2"), False),
        ])
        # and the default, changed to accept, for a scope no entry names
        self.trust("set", "--type", "reject", h)
        self.trust("default", "accept")
        self.compare([(*self.reg("hello:latest"), False)])
        self.assertTrue(self.skopeos("oci:%s:base" % self.layout))

    def test_trust_show_and_lookaside(self):
        key = os.path.join(self.tmp, "key.gpg")
        with open(key, "w") as f:
            f.write("KEY\n")
        self.trust("default", "accept")
        r = self.trust("set", "--type", "signedBy", "--pubkeysfile", key, "--lookaside",
                       "https://sigs.example.com/s", self.host + "/ns")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        with open(os.path.join(self.tmp, "registries.d", self.host + "-ns.yaml")) as f:
            self.assertEqual(f.read(), 'docker:\n  "%s/ns":\n    lookaside: '
                             '"https://sigs.example.com/s"\n' % self.host)
        r = self.ctl("--signature-policy", self.policy, "--registries-d",
                     os.path.join(self.tmp, "registries.d"), "--json", "trust", "show")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["default"]["type"], "accept")
        self.assertEqual(doc["scopes"], [{
            "transport": "docker", "scope": self.host + "/ns", "type": "signedBy",
            "keys": [key], "lookaside": "https://sigs.example.com/s",
            "requirements": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": key}]}])
        # a key that cannot be read is refused before the file changes
        with open(self.policy) as f:
            before = f.read()
        r = self.trust("set", "--type", "signedBy", "-f", "/nonexistent.gpg", "--lookaside",
                       "file:///srv/sigs", self.host)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "syscontainerctl: error: %s: transports.docker[\"%s\"][0]: key file "
                             "/nonexistent.gpg: No such file or directory\n"
                             % (self.policy, self.host)))
        with open(self.policy) as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(os.listdir(os.path.join(self.tmp, "registries.d")),
                         [self.host + "-ns.yaml"])
        # usage errors
        # (trial15b D9: a bad --type is a usage error, exit 2)
        r = self.trust("set", "--type", "maybe", self.host)
        self.assertEqual((r.returncode, r.stderr.splitlines()[0]),
                         (2, "syscontainerctl: trust: --type 'maybe': expected signedBy, "
                             "sigstoreSigned, accept or reject"))
        r = self.trust("set", "--type", "accept", "busybox")
        self.assertEqual(r.returncode, 1)
        self.assertIn("scope 'busybox': expected a registry", r.stderr)
        r = self.trust("default", "maybe")
        self.assertEqual((r.returncode, r.stderr),
                         (2, "syscontainerctl: trust: default 'maybe': expected accept or "
                             "reject\nUsage: syscontainerctl trust default accept|reject\n"
                             "Try 'syscontainerctl help trust default'.\n"))

    def test_sysroot_policy_confined(self):
        """Under --sysroot the sysroot's policy is read and written, through
        the confined access: its etc/containers linking to a host directory
        resolves inside the sysroot, and the host directory stays empty."""
        root = os.path.join(self.tmp, "root")
        host_dir = os.path.join(self.tmp, "host-containers")
        os.makedirs(os.path.join(root, "etc"))
        os.makedirs(host_dir)
        os.symlink(host_dir, os.path.join(root, "etc", "containers"))

        def ctl(*args):
            return subprocess.run([CTL, "--sysroot", root, "--checkout-root", self.checkout_root,
                                   *args], capture_output=True, text=True, timeout=120,
                                  env=self.env)
        r = ctl("trust", "default", "reject")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(os.listdir(host_dir), [])
        inside = os.path.join(root, host_dir.lstrip("/"), "policy.json")
        with open(inside) as f:
            self.assertEqual(json.load(f), {"default": REJECT})
        r = ctl("pull", "--tls-verify=false", "docker://%s/hello:latest" % self.host)
        self.assertEqual(r.stderr, "syscontainerctl: error: docker://%s/hello:latest: rejected "
                         "by policy (default in %s/etc/containers/policy.json)\n"
                         % (self.host, root))
        self.assertEqual(self.refs(), [])
        r = ctl("trust", "set", "--type", "accept", self.host)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = ctl("pull", "--tls-verify=false", "docker://%s/hello:latest" % self.host)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(os.listdir(host_dir), [])

    # -- the Python binding ------------------------------------------------

    @unittest.skipIf(il.sanitized_library(), "the library is built with ASan")
    def test_python_binding(self):
        import syscontainer  # (here: the module loads the library)
        regd = os.path.join(self.tmp, "registries.d")
        with syscontainer.Context(checkout_root=self.checkout_root,
                                  signature_policy=self.policy, registries_d=regd) as ctx:
            with self.assertRaises(syscontainer.Error) as e:
                ctx.trust_show()
            self.assertEqual(e.exception.code, "SC_ENOTFOUND")
            ctx.trust_default("reject")
            ctx.trust_set(self.host + "/ns/app", type="accept",
                          lookaside="file:///srv/sigs")
            shown = ctx.trust_show()
            self.assertEqual(shown["default"]["type"], "reject")
            self.assertEqual([(e["scope"], e["type"], e["lookaside"]) for e in shown["scopes"]],
                             [(self.host + "/ns/app", "accept", "file:///srv/sigs")])
            with self.assertRaises(syscontainer.Error) as e:
                ctx.trust_set(self.host, type="signedBy")
            self.assertEqual((e.exception.code, e.exception.message),
                             ("SC_EINVAL", "trust type 'signedBy': at least one public key must "
                              "be given (--pubkeysfile)"))
            with self.assertRaises(syscontainer.Error) as e:
                ctx.pull("docker://%s/hello:latest" % self.host, tls_verify=False)
            self.assertIn("rejected by policy (default in %s)" % self.policy, str(e.exception))
            self.assertEqual(self.refs(), [])
            report = ctx.pull("docker://%s/ns/app:1" % self.host, tls_verify=False)
            self.assertEqual(report["name"], "%s/ns/app:1" % self.host)


if __name__ == "__main__":
    unittest.main(verbosity=2)
