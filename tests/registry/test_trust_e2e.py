"""Signature verification end to end (issue 14, docs/trust.md "Requiring
signed system containers on a host"): GPG keys made here, images pushed to
the loopback registry and signed by `skopeo copy --sign-by` into a
lookaside (registries.d `lookaside-staging`), read over HTTP and as
file://; sigstore signatures made with openssl and pushed as cosign
attachments. For each case `syscontainerctl pull` and `skopeo copy` run
under the same policy and registries.d and must agree (skopeo 1.9 has no
sigstoreSigned: those cases are ours only). A refusal is SC_ESIGNATURE
with the exact message, and leaves the store's refs and objects as they
were. The accepted signatures are kept with the image: `images inspect`
shows who signed, `images verify` re-checks them offline against the
current policy."""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
sys.path.insert(0, os.path.join(HERE, "..", "store"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import registry as rg  # noqa: E402
from sigtools import (Quiet, QuietServer, attach, cosign_payload, get_manifest,  # noqa: E402
                      gpg_keys, gpg_stop, have, p256_key, p256_key_id, p256_sign, push_signed,
                      run)

CTL = os.environ.get("SYSCONTAINERCTL")


def can_build_system_image():
    return have("umoci") and os.path.exists("/bin/busybox") or have("umoci", "busybox")


@unittest.skipUnless(CTL and os.getuid() == 0 and have("gpg", "skopeo", "openssl", "ostree",
                                                      "docker-registry"),
                     "needs root, syscontainerctl, gpg, skopeo, openssl, ostree and "
                     "docker-registry")
class TrustE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sc-trust-e2e-")
        cls.env_gpg, cls.fpr, cls.keyfile = gpg_keys(cls.dir, ("alice", "bob", "mallory"))
        cls.registry = rg.Registry(cls.dir)
        cls.host = cls.registry.host
        cls.repo = "e2e/app"
        cls.name = "%s/%s" % (cls.host, cls.repo)
        cls.staging = os.path.join(cls.dir, "lookaside")
        cls.manifest, cls.digest = push_signed(cls.dir, cls.registry, cls.repo,
                                               "lookaside-staging", cls.staging, cls.env_gpg,
                                               cls.fpr)
        # the same image under a mirror's name, for remapIdentity (its
        # signatures are the original's, looked up under the mirror's path)
        run("skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "docker://%s:v1" % cls.name, "docker://%s/mirror/app:v1" % cls.host)
        assert get_manifest(cls.registry.port, "mirror/app", "v1") == cls.manifest["v1"]
        shutil.copytree(os.path.join(cls.staging, cls.sigdir("v1")),
                        os.path.join(cls.staging, cls.sigdir("v1", "mirror/app")))
        # sigstore: a P-256 key pair, its signature of v1 attached in the registry
        cls.cosign = p256_key(cls.dir, "cosign")
        p256_key(cls.dir, "stranger")
        payload = cosign_payload("%s:v1" % cls.name, cls.digest["v1"])
        cls.cosign_b64 = p256_sign(cls.cosign, payload, os.path.join(cls.dir, "payload"))
        cls.cosign_payload = payload
        attach(cls.registry.port, cls.repo, cls.digest["v1"], [(payload, cls.cosign_b64, None)])
        cls.cosign_id = p256_key_id(cls.cosign + ".pub")
        handler = lambda *a: Quiet(*a, directory=cls.dir)  # noqa: E731
        cls.http = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.http_base = "http://127.0.0.1:%d" % cls.http.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        cls.registry.stop()
        gpg_stop(cls.env_gpg)
        shutil.rmtree(cls.dir)

    @classmethod
    def sigdir(cls, tag, repo=None):
        return "%s@%s=%s" % (repo or cls.repo, *cls.digest[tag].split(":"))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="t-", dir=self.dir)
        self.ck = os.path.join(self.tmp, "ck")
        self.store = os.path.join(self.ck, ".storage", "ostree")
        self.policy = os.path.join(self.tmp, "policy.json")
        self.regd = os.path.join(self.tmp, "registries.d")
        os.mkdir(self.regd)
        self.env = {k: v for k, v in os.environ.items() if k != "SC_SIGNATURE_POLICY"}
        self.env["HOME"] = self.tmp  # no ~/.config/containers

    def tearDown(self):
        shutil.rmtree(self.tmp)

    # ---- set-up of one case ----

    def lookaside(self, url=None, attachments=False):
        """registries.d for the registry: @url as its lookaside (default:
        the staging directory as file://), sigstore attachments or not."""
        with open(os.path.join(self.regd, "e2e.yaml"), "w") as f:
            f.write("docker:\n  %s:\n    lookaside: %s\n%s" % (
                self.host, url or "file://" + self.staging,
                "    use-sigstore-attachments: true\n" if attachments else ""))

    def lookaside_copy(self, files):
        """A lookaside of its own: {tag: [signature bytes, ...]}."""
        d = tempfile.mkdtemp(dir=self.tmp, prefix="la-")
        for tag, sigs in files.items():
            os.makedirs(os.path.join(d, self.sigdir(tag)))
            for n, data in enumerate(sigs, 1):
                with open(os.path.join(d, self.sigdir(tag), "signature-%d" % n), "wb") as f:
                    f.write(data)
        return "file://" + d

    def sig(self, tag):
        with open(os.path.join(self.staging, self.sigdir(tag), "signature-1"), "rb") as f:
            return f.read()

    def write_policy(self, reqs, scope=None):
        """@reqs for the registry (or @scope); everything else rejected."""
        doc = {"default": [{"type": "reject"}],
               "transports": {"docker": {scope or self.host: reqs}}}
        with open(self.policy, "w") as f:
            json.dump(doc, f)

    def signed_by(self, who=("alice",), how="keyPath", identity=None):
        req = {"type": "signedBy", "keyType": "GPGKeys"}
        if how == "keyPath":
            req["keyPath"] = self.keyfile[who[0]]
        elif how == "keyPaths":
            req["keyPaths"] = [self.keyfile[w] for w in who]
        else:
            with open(self.keyfile[who[0]], "rb") as f:
                req["keyData"] = base64.b64encode(f.read()).decode()
        if identity:
            req["signedIdentity"] = identity
        return req

    def sigstore_signed(self, how="keyPath", key=None, identity=None):
        key = key or self.cosign
        req = {"type": "sigstoreSigned"}
        if how == "keyPath":
            req["keyPath"] = key + ".pub"
        else:
            with open(key + ".pub", "rb") as f:
                req["keyData"] = base64.b64encode(f.read()).decode()
        if identity:
            req["signedIdentity"] = identity
        return req

    # ---- running both ----

    def ctl(self, *args):
        return subprocess.run([CTL, "--checkout-root", self.ck, "--signature-policy",
                               self.policy, "--registries-d", self.regd, *args],
                              capture_output=True, text=True, timeout=180, env=self.env)

    def store_state(self):
        """The store's refs and objects (path listing)."""
        if not os.path.exists(self.store):
            return ([], [])
        refs = subprocess.run(["ostree", "--repo=" + self.store, "refs"], check=True,
                              capture_output=True, text=True).stdout.split()
        objs = []
        for dirpath, _, files in os.walk(os.path.join(self.store, "objects")):
            objs += [os.path.join(dirpath, f) for f in files]
        return (sorted(refs), sorted(objs))

    def skopeo(self, ref):
        dest = os.path.join(self.tmp, "skopeo-out")
        shutil.rmtree(dest, ignore_errors=True)
        # (an oci: layout cannot hold signatures: skopeo verifies, then drops them)
        r = subprocess.run(["skopeo", "copy", "--policy", self.policy, "--registries.d",
                            self.regd, "--src-tls-verify=false", "--remove-signatures",
                            "docker://" + ref,
                            "oci:%s:x" % dest], capture_output=True, text=True, timeout=180,
                           env=self.env)
        return r

    def accepted(self, ref, skopeo=True, verb="pull"):
        """@ref accepted by us (and by skopeo): the pull's JSON report."""
        r = self.ctl("--json", verb, "--tls-verify=false", "docker://" + ref)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        if skopeo:
            s = self.skopeo(ref)
            self.assertEqual(s.returncode, 0, "skopeo refused what we accepted: " + s.stderr)
        return json.loads(r.stdout)

    def refused(self, ref, message, skopeo=True):
        """@ref refused by us with @message (SC_ESIGNATURE), the store as it
        was; and by skopeo."""
        before = self.store_state()
        r = self.ctl("--json", "pull", "--tls-verify=false", "docker://" + ref)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["message"], message)
        self.assertEqual(err["code"], "SC_ESIGNATURE")
        self.assertEqual(self.store_state(), before, "a refused image changed the store")
        if skopeo:
            s = self.skopeo(ref)
            self.assertNotEqual(s.returncode, 0, "skopeo accepted what we refused")
        return err

    def head(self, ref, index=0, scope=None):
        """The start of our refusal of @ref by requirement @index."""
        scope = scope or self.host
        return ("docker://%s: refused by policy (transports.docker[\"%s\"][%d] in %s): image %s: "
                "policy scope transports.docker[\"%s\"]: " % (ref, scope, index, self.policy,
                                                              ref, scope))

    def inspect_trust(self, ref):
        r = self.ctl("--json", "images", "inspect", ref)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["trust"]

    def verify(self, ref):
        r = self.ctl("images", "verify", ref)
        j = self.ctl("--json", "images", "verify", ref)
        return r, json.loads(j.stdout)

    # ---- accepted ----

    def test_signed_by_each_key_form(self):
        v1 = "%s:v1" % self.name
        for how, who, la in (("keyPath", ("alice",), None),
                             ("keyPaths", ("bob", "alice"), self.http_base + "/lookaside"),
                             ("keyData", ("alice",), "file://" + self.staging)):
            with self.subTest(how=how):
                shutil.rmtree(self.ck, ignore_errors=True)
                self.write_policy([self.signed_by(who, how)])
                self.lookaside(la)
                self.accepted(v1)
                trust = self.inspect_trust(v1)
                self.assertEqual(trust["scope"], 'transports.docker["%s"]' % self.host)
                self.assertEqual(trust["identity"], v1)
                self.assertEqual(trust["digest"], self.digest["v1"])
                self.assertEqual([(s["signer"], s["type"], s["format"], s["requirement"])
                                  for s in trust["signed_by"]],
                                 [(self.fpr["alice"], "signedBy", "simple", 0)])

    def test_identity_rules(self):
        self.lookaside()
        v1 = "%s:v1" % self.name
        cases = [
            ({"type": "matchRepoDigestOrExact"}, "%s@%s" % (self.name, self.digest["v1"])),
            ({"type": "matchExact"}, v1),
            ({"type": "matchRepository"}, v1),
            ({"type": "exactReference", "dockerReference": v1}, v1),
            ({"type": "exactRepository", "dockerRepository": self.name}, v1),
            ({"type": "remapIdentity", "prefix": "%s/mirror" % self.host,
              "signedPrefix": "%s/e2e" % self.host}, "%s/mirror/app:v1" % self.host),
        ]
        for identity, ref in cases:
            with self.subTest(identity=identity["type"]):
                self.write_policy([self.signed_by(identity=identity)])
                self.accepted(ref)

    def test_sigstore_signed(self):
        # skopeo 1.9 knows no sigstoreSigned: ours only
        v1 = "%s:v1" % self.name
        self.lookaside(attachments=True)
        for how in ("keyPath", "keyData"):
            with self.subTest(how=how):
                shutil.rmtree(self.ck, ignore_errors=True)
                self.write_policy([self.sigstore_signed(how)])
                self.accepted(v1, skopeo=False)
                self.assertEqual([s["signer"] for s in self.inspect_trust(v1)["signed_by"]],
                                 [self.cosign_id])
        # both kinds required, both kept
        self.write_policy([self.signed_by(), self.sigstore_signed()])
        self.accepted(v1, skopeo=False)
        self.assertEqual([(s["signer"], s["type"], s["requirement"])
                          for s in self.inspect_trust(v1)["signed_by"]],
                         [(self.fpr["alice"], "signedBy", 0),
                          (self.cosign_id, "sigstoreSigned", 1)])
        self.assertEqual(self.verify(v1)[1]["trust"]["message"],
                         "signed by %s, %s" % (self.fpr["alice"], self.cosign_id))
        # the kept signatures are the raw ones (the image commit's metadata)
        refs = self.store_state()[0]
        image_ref = [r for r in refs if "e2e" in r]
        self.assertEqual(len(image_ref), 1, refs)
        meta = subprocess.run(["ostree", "--repo=" + self.store, "show", "--print-metadata-key",
                               "syscontainer.trust", image_ref[0]],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn(self.cosign_b64, meta)
        self.assertIn(base64.b64encode(self.cosign_payload).decode(), meta)
        self.assertIn(base64.b64encode(self.sig("v1")).decode(), meta)

    # ---- refused ----

    def test_refusals(self):
        v1 = "%s:v1" % self.name
        self.write_policy([self.signed_by()])
        self.lookaside()
        # unsigned
        ref = "%s:unsigned" % self.name
        self.refused(ref, self.head(ref) + "no signature (none in the lookaside)")
        # unknown key
        ref = "%s:v3" % self.name
        self.refused(ref, self.head(ref) + "file://%s/%s/signature-1: unknown key: signed by key "
                     "%s, not a policy key" % (self.staging, self.sigdir("v3"),
                                               self.fpr["mallory"]))
        # a signature of another manifest
        la = self.lookaside_copy({"v1": [self.sig("v2")]})
        self.lookaside(la)
        self.refused(v1, self.head(v1) + "%s/%s/signature-1: digest mismatch: signed %s, the "
                     "manifest is %s" % (la, self.sigdir("v1"), self.digest["v2"],
                                         self.digest["v1"]))
        # tampered
        sig = bytearray(self.sig("v1"))
        sig[len(sig) // 2] ^= 0x01
        la = self.lookaside_copy({"v1": [bytes(sig)]})
        self.lookaside(la)
        before = self.store_state()
        r = self.ctl("--json", "pull", "--tls-verify=false", "docker://" + v1)
        err = json.loads(r.stdout)["error"]
        self.assertEqual((r.returncode, err["code"]), (1, "SC_ESIGNATURE"))
        self.assertTrue(err["message"].startswith(
            self.head(v1) + "%s/%s/signature-1: invalid signature: " % (la, self.sigdir("v1"))),
            err["message"])
        self.assertEqual(self.store_state(), before)
        self.assertNotEqual(self.skopeo(v1).returncode, 0)
        # wrong identity
        self.lookaside()
        other = "%s:v2" % self.name
        self.write_policy([self.signed_by(identity={"type": "exactReference",
                                                    "dockerReference": other})])
        self.refused(v1, self.head(v1) + "file://%s/%s/signature-1: identity mismatch: signed "
                     "%s, pulling %s" % (self.staging, self.sigdir("v1"), v1, v1))
        # (containers/image's rule: the signature must name @other; the
        # message shows what is pulled, not what the rule requires)
        # the same manifest under another repository (a mirror), its
        # signature naming the original: refused without remapIdentity
        self.write_policy([self.signed_by()])
        mirror = "%s/mirror/app:v1" % self.host
        self.refused(mirror, self.head(mirror) + "file://%s/%s/signature-1: identity mismatch: "
                     "signed %s, pulling %s" % (self.staging, self.sigdir("v1", "mirror/app"),
                                                v1, mirror))
        # one of two requirements failing
        self.write_policy([self.signed_by(), self.signed_by(("bob",))])
        self.refused(v1, self.head(v1, 1) + "file://%s/%s/signature-1: unknown key: signed by "
                     "key %s, not a policy key" % (self.staging, self.sigdir("v1"),
                                                   self.fpr["alice"]))
        # a reject scope (the repository's, more specific than the registry's)
        doc = {"default": [{"type": "insecureAcceptAnything"}],
               "transports": {"docker": {self.host: [self.signed_by()],
                                         self.name: [{"type": "reject"}]}}}
        with open(self.policy, "w") as f:
            json.dump(doc, f)
        self.refused(v1, "docker://%s: rejected by policy (transports.docker[\"%s\"] in %s)"
                     % (v1, self.name, self.policy))
        # sigstore: no attachment read (ours only)
        self.write_policy([self.sigstore_signed()])
        self.refused(v1, self.head(v1) + "no signature (use-sigstore-attachments is not set)",
                     skopeo=False)
        self.lookaside(attachments=True)
        self.write_policy([self.sigstore_signed(key=os.path.join(self.dir, "stranger.key"))])
        self.refused(v1, self.head(v1) + "signature attachment %s:%s-%s.sig layer 0: invalid "
                     "signature: not made by any of the policy's 1 key(s)"
                     % (self.repo, *self.digest["v1"].split(":")), skopeo=False)
        self.assertEqual(self.store_state(), ([], []))

    def test_policy_that_does_not_parse(self):
        self.lookaside()
        with open(self.policy, "w") as f:
            f.write('{"default": [{"type": "reject"}]\n')
        v1 = "%s:v1" % self.name
        r = self.ctl("--json", "pull", "--tls-verify=false", "docker://" + v1)
        err = json.loads(r.stdout)["error"]
        self.assertEqual((r.returncode, err["code"]), (1, "SC_EINVAL"))
        self.assertTrue(err["message"].startswith(self.policy + ":2:0: "), err["message"])
        self.assertEqual(self.store_state(), ([], []))
        self.assertNotEqual(self.skopeo(v1).returncode, 0)

    # ---- kept with the image ----

    def test_inspect_and_verify_offline(self):
        v1 = "%s:v1" % self.name
        self.write_policy([self.signed_by()])
        # a lookaside server of this test's own, stopped once pulled
        server = QuietServer(("127.0.0.1", 0), lambda *a: Quiet(*a, directory=self.dir))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.lookaside("http://127.0.0.1:%d/lookaside" % server.server_address[1])
        try:
            self.accepted(v1)
        finally:
            server.shutdown()
            server.server_close()
        r, doc = self.verify(v1)
        self.assertEqual((r.returncode, doc["ok"], doc["trust"]),
                         (0, True, {"ok": True, "status": "verified",
                                    "message": "signed by %s" % self.fpr["alice"]}))
        self.assertIn("signature: signed by %s\n" % self.fpr["alice"], r.stdout)
        # offline: the lookaside is gone, and the registry is not asked
        asked = self.registry.requests("/v2/")
        r, doc = self.verify(v1)
        self.assertEqual(doc["trust"]["status"], "verified")
        # the kept signatures follow a tag; the policy then changes
        self.assertEqual(self.ctl("images", "tag", v1, "localhost/mine:1").returncode, 0)
        self.assertEqual(self.inspect_trust("localhost/mine:1")["signed_by"][0]["signer"],
                         self.fpr["alice"])
        self.write_policy([self.signed_by(("bob",))])
        r, doc = self.verify(v1)
        msg = ("signature no longer accepted: transports.docker[\"%s\"][0] in %s: image %s: "
               "policy scope transports.docker[\"%s\"]: kept signature 1: unknown key: signed "
               "by key %s, not a policy key" % (self.host, self.policy, v1, self.host,
                                                self.fpr["alice"]))
        self.assertEqual((r.returncode, doc["ok"], doc["trust"]),
                         (1, False, {"ok": False, "status": "refused", "message": msg}))
        self.assertIn("signature: %s\n" % msg, r.stdout)
        # and rejected outright
        self.write_policy([{"type": "reject"}])
        r, doc = self.verify(v1)
        self.assertEqual(doc["trust"]["message"], "signature no longer accepted: "
                         "transports.docker[\"%s\"][0] in %s: image %s: policy scope "
                         "transports.docker[\"%s\"]: rejected" % (self.host, self.policy,
                                                                  v1, self.host))
        self.assertEqual(self.registry.requests("/v2/"), asked, "verify asked the registry")
        # deleted with the image: no trust record left once pruned
        self.assertEqual(self.ctl("images", "delete", v1).returncode, 0)
        self.assertEqual(self.ctl("images", "delete", "localhost/mine:1").returncode, 0)
        self.assertEqual(self.ctl("images", "prune").returncode, 0)
        self.assertEqual(self.store_state()[0], [])

    def test_record_bound_to_image(self):
        """A trust record moved onto another image's commit (store write
        access) is not believed: it is checked against the image's own
        manifest digest."""
        v1, v2 = "%s:v1" % self.name, "%s:v2" % self.name
        self.write_policy([self.signed_by()])
        self.lookaside()
        self.accepted(v1, skopeo=False)
        self.accepted(v2, skopeo=False)
        refs = self.store_state()[0]

        def image_ref(tag):
            found = [r for r in refs if r.endswith("_3A" + tag) and "e2e" in r]
            self.assertEqual(len(found), 1, refs)
            return found[0]
        record = subprocess.run(["ostree", "--repo=" + self.store, "show",
                                 "--print-metadata-key=syscontainer.trust", image_ref("v1")],
                                capture_output=True, text=True, check=True).stdout.strip()
        keep = ["--keep-metadata=" + k for k in ("docker.manifest", "docker.digest", "signatures",
                                                 "syscontainer.transport",
                                                 "syscontainer.source")]
        run("ostree", "--repo=" + self.store, "commit", "-b", image_ref("v2"),
            "--tree=ref=" + image_ref("v2"), *keep,
            "--add-metadata=syscontainer.trust=" + record)
        r, doc = self.verify(v2)
        self.assertEqual((r.returncode, doc["ok"], doc["trust"]),
                         (1, False, {"ok": False, "status": "refused", "message":
                                     "signature no longer accepted: the trust record is of %s, "
                                     "not of this image (%s)" % (self.digest["v1"],
                                                                 self.digest["v2"])}))
        self.assertEqual(self.verify(v1)[1]["trust"]["status"], "verified")

    def test_unsigned_accepted(self):
        ref = "%s:unsigned" % self.name
        self.write_policy([{"type": "insecureAcceptAnything"}])
        self.lookaside()
        self.accepted(ref)
        self.assertEqual(self.inspect_trust(ref)["signed_by"], [])
        r, doc = self.verify(ref)
        self.assertEqual((r.returncode, doc["trust"]),
                         (0, {"ok": True, "status": "unsigned", "message":
                              "unsigned (accepted by transports.docker[\"%s\"])" % self.host}))
        # a policy that now wants a signature: no longer accepted
        self.write_policy([self.signed_by()])
        r, doc = self.verify(ref)
        self.assertEqual((r.returncode, doc["trust"]["message"]),
                         (1, "signature no longer accepted: transports.docker[\"%s\"][0] in %s: "
                          "image %s: policy scope transports.docker[\"%s\"]: no signature (none "
                          "kept with the image)" % (self.host, self.policy, ref, self.host)))

    def test_python_binding(self):
        lib = os.environ.get("SC_LIBRARY")
        if lib and "libasan" in subprocess.run(["ldd", lib], capture_output=True,
                                               text=True).stdout:
            self.skipTest("the library links ASan: Python cannot load it")
        import syscontainer
        self.assertEqual(syscontainer.CODES[-15], "SC_ESIGNATURE")
        self.write_policy([self.signed_by()])
        self.lookaside()
        v1, v3 = "%s:v1" % self.name, "%s:v3" % self.name
        with syscontainer.Context(checkout_root=self.ck, signature_policy=self.policy,
                                  registries_d=self.regd) as ctx:
            with self.assertRaises(syscontainer.Error) as e:
                ctx.pull("docker://" + v3, tls_verify=False)
            self.assertEqual((e.exception.code, e.exception.message),
                             ("SC_ESIGNATURE", self.head(v3) + "file://%s/%s/signature-1: "
                              "unknown key: signed by key %s, not a policy key"
                              % (self.staging, self.sigdir("v3"), self.fpr["mallory"])))
            self.assertEqual(self.store_state(), ([], []))
            ctx.pull("docker://" + v1, tls_verify=False)
            self.assertEqual(ctx.inspect(v1)["trust"]["signed_by"][0]["signer"],
                             self.fpr["alice"])
            self.assertEqual(ctx.verify(v1)["trust"]["status"], "verified")

    # ---- docs/trust.md "Requiring signed system containers on a host" ----

    @unittest.skipUnless(have("umoci") and os.path.exists("/bin/busybox"),
                         "needs umoci and /bin/busybox (a system container image)")
    def test_walkthrough_install(self):
        from test_deploy import build  # noqa: E402 (needs umoci only here)
        layout = os.path.join(self.tmp, "layout")
        build(layout, "1", {"defaultValues": {"GREETING": "hello"}})
        build(layout, "2", {"defaultValues": {"GREETING": "unsigned"}})
        signd = os.path.join(self.tmp, "sign.d")
        os.mkdir(signd)
        with open(os.path.join(signd, "sign.yaml"), "w") as f:
            f.write("docker:\n  %s:\n    lookaside-staging: file://%s\n" % (self.host,
                                                                           self.staging))
        sysimg = "%s/e2e/sys" % self.host
        for tag, signer in (("1", "alice"), ("2", None)):
            run("skopeo", "--registries.d", signd, "copy", "--dest-tls-verify=false",
                *(["--sign-by", self.fpr[signer]] if signer else []),
                "oci:%s:%s" % (layout, tag), "docker://%s:%s" % (sysimg, tag), env=self.env_gpg)
        sysroot = os.path.join(self.tmp, "sysroot")
        os.mkdir(sysroot)

        def ctl(*args):
            return subprocess.run([CTL, "--sysroot", sysroot, *args], capture_output=True,
                                  text=True, timeout=180, env=self.env)

        def ok(*args):
            r = ctl(*args)
            self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(args), r.stderr))
            return r
        # 1. the signer's public key on the host
        os.makedirs(os.path.join(sysroot, "etc/pki/containers"))
        shutil.copy(self.keyfile["alice"], os.path.join(sysroot, "etc/pki/containers/alice.gpg"))
        # 2. nothing accepted by default; the registry's e2e namespace signed
        #    by that key, its signatures in the lookaside (written to registries.d)
        ok("trust", "default", "reject")
        ok("trust", "set", "--type", "signedBy", "--pubkeysfile", "/etc/pki/containers/alice.gpg",
           "--lookaside", self.http_base + "/lookaside", "%s/e2e" % self.host)
        show = json.loads(ok("--json", "trust", "show").stdout)
        self.assertIn("%s/e2e" % self.host, json.dumps(show))
        # 3. pull, 4. install
        ok("pull", "--tls-verify=false", "docker://%s:1" % sysimg)
        ok("install", "--tls-verify=false", "--name", "greeter", "docker://%s:1" % sysimg)
        # 5. inspect: who signed
        trust = json.loads(ok("--json", "images", "inspect", "%s:1" % sysimg).stdout)["trust"]
        self.assertEqual([(s["signer"], s["type"]) for s in trust["signed_by"]],
                         [(self.fpr["alice"], "signedBy")])
        self.assertEqual(trust["scope"], 'transports.docker["%s/e2e"]' % self.host)
        # 6. verify, offline
        r = ok("images", "verify", "%s:1" % sysimg)
        self.assertIn("signature: signed by %s\n" % self.fpr["alice"], r.stdout)
        # an unsigned image is refused, by install too: nothing stored, nothing installed
        store = os.path.join(sysroot, "ostree", "repo")
        before = subprocess.run(["ostree", "--repo=" + store, "refs"], capture_output=True,
                                text=True).stdout
        r = ctl("--json", "install", "--tls-verify=false", "--name", "other",
                "docker://%s:2" % sysimg)
        err = json.loads(r.stdout)["error"]
        ref = "%s:2" % sysimg
        policy = os.path.join(sysroot, "etc/containers/policy.json")
        self.assertEqual((r.returncode, err["code"], err["message"]),
                         (1, "SC_ESIGNATURE",
                          "image 'docker://%s' is not in the store and could not be pulled: "
                          "docker://%s: refused by policy (transports.docker[\"%s/e2e\"][0] in "
                          "%s): image %s: policy scope transports.docker[\"%s/e2e\"]: no "
                          "signature (none in the lookaside)"
                          % (ref, ref, self.host, policy, ref, self.host)))
        self.assertEqual(subprocess.run(["ostree", "--repo=" + store, "refs"],
                                        capture_output=True, text=True).stdout, before)
        names = [c["name"] for c in json.loads(ok("--json", "list").stdout)["containers"]]
        self.assertEqual(names, ["greeter"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
