"""Signature fetching and verification (lib/source/signature.c, issue 14),
driven through sig-helper (built with -Dtest_hooks=true) against real
signers: GPG keys made here, images signed by `skopeo copy --sign-by` into
a lookaside directory (read as file:// and over HTTP), and sigstore
signatures made with openssl and pushed as cosign lays them out into the
loopback registry. Each refusal is asserted by its exact message."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import registry as rg  # noqa: E402

from sigtools import (ANNOTATION, MAX_BODY, Quiet, QuietServer, attach, cosign_payload,  # noqa: E402,E501
                      get_manifest, gpg_keys, gpg_stop, have, p256_key, push_signed,
                      p256_key_id, p256_sign, sha)

HELPER = os.environ.get("SC_SIG_HELPER")


@unittest.skipUnless(HELPER and os.getuid() == 0 and have("gpg", "skopeo", "openssl",
                                                         "docker-registry"),
                     "needs the test hooks (sig-helper), root, gpg, skopeo, openssl and "
                     "docker-registry")
class SignatureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sc-sig-")
        cls.env, cls.fpr, cls.keyfile = gpg_keys(cls.dir, ("alice", "mallory"))
        cls.registry = rg.Registry(cls.dir)
        cls.host = cls.registry.host
        cls.repo = "sig/app"
        cls.name = "%s/%s" % (cls.host, cls.repo)
        cls.staging = os.path.join(cls.dir, "lookaside")
        # v1, v2 signed by alice; v3 by mallory; unsigned not at all
        cls.manifest, cls.digest = push_signed(cls.dir, cls.registry, cls.repo,
                                               "sigstore-staging", cls.staging, cls.env, cls.fpr)
        for tag in cls.manifest:
            with open(os.path.join(cls.dir, "manifest-" + tag), "wb") as f:
                f.write(cls.manifest[tag])
        handler = lambda *a: Quiet(*a, directory=cls.dir)  # noqa: E731
        cls.http = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.http_base = "http://127.0.0.1:%d" % cls.http.server_address[1]
        # sigstore: a P-256 key pair (and another one nobody trusts)
        for who in ("cosign", "stranger"):
            p256_key(cls.dir, who)

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        cls.registry.stop()
        gpg_stop(cls.env)
        shutil.rmtree(cls.dir)

    @classmethod
    def get_manifest(cls, ref):
        return get_manifest(cls.registry.port, cls.repo, ref)

    # ---- helpers ----

    def check(self, tag="v1", ref=None, keys=("alice",), identity=None, lookaside=None,
              typ="signedBy", attachments=False, scope="127.0.0.1"):
        args = [HELPER, "check", "--type", typ, "--scope", scope,
                "--ref", ref or "%s:%s" % (self.name, tag),
                "--manifest", os.path.join(self.dir, "manifest-" + tag)]
        for k in keys:
            args += ["--key", self.keyfile.get(k) or os.path.join(self.dir, k)]
        if identity:
            args += ["--identity", identity]
        if lookaside is not None:
            args += ["--lookaside", lookaside]
        if attachments:
            args += ["--registry", self.host, "--attachments"]
        args += ["--repo", self.repo]
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertNotIn("CRITICAL", p.stderr)
        self.assertNotIn("WARNING", p.stderr)
        return p

    def accepted(self, *a, signer=None, **kw):
        p = self.check(*a, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "signer: %s\n" % (signer or self.fpr["alice"]))

    def refused(self, message, *a, **kw):
        p = self.check(*a, **kw)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertEqual(p.stderr.strip(), message)

    def sigdir(self, tag):
        return "%s@%s=%s" % (self.repo, *self.digest[tag].split(":"))

    def lookaside_copy(self, files):
        """A lookaside of its own: {(tag, n): bytes}."""
        d = tempfile.mkdtemp(dir=self.dir, prefix="la-")
        for (tag, n), data in files.items():
            os.makedirs(os.path.join(d, self.sigdir(tag)), exist_ok=True)
            with open(os.path.join(d, self.sigdir(tag), "signature-%d" % n), "wb") as f:
                f.write(data)
        return d

    def sig(self, tag, n=1):
        with open(os.path.join(self.staging, self.sigdir(tag), "signature-%d" % n), "rb") as f:
            return f.read()

    def where(self, tag="v1", base=None, n=1):
        return "%s/%s/signature-%d" % (base or "file://" + self.staging, self.sigdir(tag), n)

    def head(self, tag="v1", ref=None):
        return "image %s: policy scope 127.0.0.1: " % (ref or "%s:%s" % (self.name, tag))

    # ---- simple signing ----

    def test_gpg_valid_file_and_http(self):
        self.accepted(lookaside="file://" + self.staging)
        self.accepted(lookaside=self.http_base + "/lookaside")
        self.accepted(lookaside=self.http_base + "/lookaside/")  # a trailing slash
        self.accepted("v2", lookaside="file://" + self.staging)

    def test_gpg_unsigned(self):
        self.refused(self.head("unsigned") + "no signature (none in the lookaside)", "unsigned",
                     lookaside="file://" + self.staging)
        self.refused(self.head("unsigned") + "no signature (none in the lookaside)", "unsigned",
                     lookaside=self.http_base + "/lookaside")
        self.refused(self.head() + "no signature (no lookaside configured)")

    def test_gpg_unknown_key(self):
        self.refused(self.head("v3") + "%s: unknown key: signed by key %s, not a policy key"
                     % (self.where("v3"), self.fpr["mallory"]), "v3",
                     lookaside="file://" + self.staging)
        # the user's keyring (which has mallory) is never used
        p = subprocess.run([HELPER, "check", "--type", "signedBy", "--ref",
                            "%s:v3" % self.name, "--repo", self.repo, "--manifest",
                            os.path.join(self.dir, "manifest-v3"), "--key",
                            self.keyfile["alice"], "--lookaside", "file://" + self.staging],
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown key: signed by key %s" % self.fpr["mallory"], p.stderr)
        # both keys trusted: mallory's signature is accepted
        self.accepted("v3", keys=("alice", "mallory"), lookaside="file://" + self.staging,
                      signer=self.fpr["mallory"])

    def test_gpg_tampered(self):
        sig = bytearray(self.sig("v1"))
        sig[len(sig) // 2] ^= 0x01
        d = self.lookaside_copy({("v1", 1): bytes(sig)})
        p = self.check(lookaside="file://" + d)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.startswith(self.head() + self.where(base="file://" + d)
                                            + ": invalid signature: "), p.stderr)
        # a bad signature then a good one: accepted
        d = self.lookaside_copy({("v1", 1): bytes(sig), ("v1", 2): self.sig("v1")})
        self.accepted(lookaside="file://" + d)

    def test_gpg_signature_of_another_manifest(self):
        d = self.lookaside_copy({("v1", 1): self.sig("v2")})
        self.refused(self.head() + "%s: digest mismatch: signed %s, the manifest is %s"
                     % (self.where(base="file://" + d), self.digest["v2"], self.digest["v1"]),
                     lookaside="file://" + d)

    def test_gpg_limits(self):
        d = self.lookaside_copy({("v1", 1): b"x" * (MAX_BODY + 1)})
        self.refused(self.head() + "%s: is %d bytes; at most %d are allowed"
                     % (self.where(base="file://" + d), MAX_BODY + 1, MAX_BODY),
                     lookaside="file://" + d)
        rel = os.path.relpath(d, self.dir)
        url = self.where(base="%s/%s" % (self.http_base, rel))
        self.refused(self.head() + "registry 127.0.0.1:%d: GET %s: the answer has %d bytes, "
                     "more than the limit of %d" % (self.http.server_address[1], url,
                                                   MAX_BODY + 1, MAX_BODY),
                     lookaside="%s/%s" % (self.http_base, rel))
        d = self.lookaside_copy({("v1", n): self.sig("v1") for n in range(1, 66)})
        self.refused(self.head() + "lookaside file://%s: more than 64 signatures of %s"
                     % (d, self.digest["v1"]), lookaside="file://" + d)
        # 64 are read (the last one good)
        d = self.lookaside_copy({("v1", n): b"junk" for n in range(1, 64)})
        with open(os.path.join(d, self.sigdir("v1"), "signature-64"), "wb") as f:
            f.write(self.sig("v1"))
        self.accepted(lookaside="file://" + d)

    def test_gpg_compressed_bomb(self):
        # a small signature whose payload expands past the body limit
        big = os.path.join(self.dir, "big")
        with open(big, "wb") as f:
            f.write(b"{" + b" " * (MAX_BODY + 10) + b"}")
        subprocess.run(["gpg", "--batch", "--yes", "-z", "9", "--local-user", self.fpr["alice"],
                        "--output", big + ".sig", "--sign", big], check=True, env=self.env,
                       capture_output=True)
        with open(big + ".sig", "rb") as f:
            sig = f.read()
        self.assertLess(len(sig), 100000)
        d = self.lookaside_copy({("v1", 1): sig})
        p = self.check(lookaside="file://" + d)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(), self.head() + self.where(base="file://" + d)
                         + ": invalid signature: the signed payload is larger than %d bytes"
                         % MAX_BODY)

    def test_gpg_bad_lookaside(self):
        self.refused(self.head() + "lookaside ftp://x: not an http://, https:// or file:// URL",
                     lookaside="ftp://x")
        p = subprocess.run([HELPER, "check", "--type", "signedBy", "--scope", "127.0.0.1",
                            "--ref", "%s:v1" % self.name, "--repo", "sig/../../etc",
                            "--manifest", os.path.join(self.dir, "manifest-v1"),
                            "--key", self.keyfile["alice"],
                            "--lookaside", "file://" + self.staging],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr.strip()),
                         (1, self.head() + "lookaside: 'sig/../../etc' is not a repository path"))
        # a signature that is not a regular file
        d = self.lookaside_copy({})
        os.makedirs(os.path.join(d, self.sigdir("v1"), "signature-1"))
        self.refused(self.head() + "%s: not a regular file" % self.where(base="file://" + d),
                     lookaside="file://" + d)

    # ---- identity rules ----

    def test_identity_rules(self):
        la = "file://" + self.staging
        v1 = "%s:v1" % self.name
        by_digest = "%s@%s" % (self.name, self.digest["v1"])
        ok = [
            (None, v1), ("matchRepoDigestOrExact", by_digest),
            ("matchExact", v1), ("matchRepository", "%s:other" % self.name),
            ("exactReference=" + v1, "elsewhere.example/x:y"),
            ("exactRepository=" + self.name, "elsewhere.example/x:y"),
            ("remapIdentity=mirror.example/sig,%s/sig" % self.host, "mirror.example/sig/app:v1"),
            ("remapIdentity=mirror.example/sig,%s/sig" % self.host, v1),
            ("remapIdentity=mirror.example/sig,%s/sig" % self.host,
             "mirror.example/sig/app@" + self.digest["v1"]),
            ("matchRepository", "%s@%s" % (self.name, self.digest["v1"])),
        ]
        for identity, ref in ok:
            with self.subTest(identity=identity, ref=ref):
                self.accepted(ref=ref, identity=identity, lookaside=la)
        bad = [
            (None, "%s:latest" % self.name),
            ("matchRepoDigestOrExact", "%s/sig/other@%s" % (self.host, self.digest["v1"])),
            ("matchExact", by_digest),
            # a tag and a digest: the tag decides (the exact reference)
            ("matchRepoDigestOrExact", "%s:v2@%s" % (self.name, self.digest["v1"])),
            ("matchRepository", "%s/sig/other:v1" % self.host),
            ("exactReference=%s:v2" % self.name, v1),
            ("exactRepository=%s/sig/other" % self.host, v1),
            ("remapIdentity=mirror.example/sig,%s/sig" % self.host, "mirror.example/sigx/app:v1"),
            ("remapIdentity=mirror.example/sig,%s/sig" % self.host, "mirror.example/sig/app:v2"),
        ]
        for identity, ref in bad:
            with self.subTest(identity=identity, ref=ref):
                self.refused(self.head(ref=ref) + "%s: identity mismatch: signed %s, pulling %s"
                             % (self.where(), v1, ref), ref=ref, identity=identity, lookaside=la)

    def test_identity_normalization(self):
        """The rules over references as containers/image normalizes them
        (no signatures needed: sig-helper identity)."""
        def ident(rule, intended, signed):
            p = subprocess.run([HELPER, "identity", rule, intended, signed],
                               capture_output=True, text=True)
            return p.stdout.strip() or p.stderr.strip()
        digest = "sha256:" + "b" * 64
        cases = [
            ("matchRepoDigestOrExact", "docker.io/library/busybox:latest", "busybox:latest",
             "match"),
            # a signed name without a tag is not "latest"
            ("matchRepoDigestOrExact", "docker.io/library/busybox:latest", "busybox",
             "identity mismatch: signed busybox, pulling docker.io/library/busybox:latest"),
            ("matchExact", "busybox", "busybox",
             "identity mismatch: signed busybox, pulling docker.io/library/busybox"),
            ("matchRepository", "busybox:1", "docker.io/library/busybox@" + digest, "match"),
            ("matchRepoDigestOrExact", "quay.io/a/b@" + digest, "quay.io/a/b:any", "match"),
            ("matchRepoDigestOrExact", "quay.io/a/b", "quay.io/a/b",
             "identity mismatch: signed quay.io/a/b, pulling quay.io/a/b"),
            ("exactReference=quay.io/a/b", "x.example/y:z", "quay.io/a/b",
             "identity mismatch: signed quay.io/a/b, pulling x.example/y:z"),
            ("exactRepository=busybox", "x.example/y:z", "docker.io/library/busybox:9",
             "match"),
            ("remapIdentity=quay.io/a,r.example/mirror", "quay.io/a:1", "r.example/mirror:1",
             "match"),
            ("remapIdentity=quay.io/a,r.example/mirror", "quay.io/ab:1", "r.example/mirrorb:1",
             "identity mismatch: signed r.example/mirrorb:1, pulling quay.io/ab:1"),
            ("matchRepoDigestOrExact", "quay.io/a:1", "Quay.io/A:1",
             "identity mismatch: the signed reference is invalid: image reference 'Quay.io/A:1': "
             "'A' is not a valid repository name component (lowercase letters, digits, and '.', "
             "'_', '__' or '-' between them)"),
        ]
        for rule, intended, signed, want in cases:
            with self.subTest(rule=rule, intended=intended, signed=signed):
                self.assertEqual(ident(rule, intended, signed), want)

    # ---- payloads ----

    def test_payload_parser(self):
        good = {"critical": {"type": "atomic container signature",
                             "image": {"docker-manifest-digest": "sha256:" + "a" * 64},
                             "identity": {"docker-reference": "x.example/a:b"}},
                "optional": {"creator": "me", "timestamp": 1}}

        def parse(doc, sigstore=False):
            path = os.path.join(self.dir, "payload.json")
            with open(path, "w") as f:
                f.write(doc if isinstance(doc, str) else json.dumps(doc))
            return subprocess.run([HELPER, "payload", path] + (["sigstore"] if sigstore else []),
                                  capture_output=True, text=True)
        p = parse(good)
        self.assertEqual((p.returncode, p.stdout),
                         (0, "digest: sha256:%s\nreference: x.example/a:b\n" % ("a" * 64)))
        path = os.path.join(self.dir, "payload.json")
        cases = [
            (dict(good, extra=1), 'the payload has an unknown field "extra"'),
            ({"critical": good["critical"]}, 'the payload has no "optional"'),
            (dict(good, optional={"timestamp": "x"}),
             "optional.creator is not a string or optional.timestamp not an integer"),
            (dict(good, critical=dict(good["critical"], type="cosign container image signature")),
             'critical.type is "cosign container image signature", not '
             '"atomic container signature"'),
            (dict(good, critical=dict(good["critical"], image={"docker-manifest-digest": 1})),
             "critical.image.docker-manifest-digest is not a string"),
            (dict(good, critical=dict(good["critical"], identity={})),
             'critical.identity has no "docker-reference"'),
            ('{"critical": {}, "critical": {}, "optional": {}}',
             "not valid JSON: duplicate object key near '\"critical\"' at byte 27"),
        ]
        for doc, why in cases:
            with self.subTest(why=why):
                p = parse(doc)
                self.assertEqual((p.returncode, p.stderr.strip()), (1, "%s: %s" % (path, why)))
        # cosign's "optional": null is a sigstore payload's right only
        cos = dict(good, critical=dict(good["critical"], type="cosign container image signature"),
                   optional=None)
        self.assertEqual(parse(cos, True).returncode, 0)
        self.assertEqual(parse(dict(good, optional=None)).stderr.strip(),
                         "%s: optional is not a JSON object" % path)

    # ---- sigstore attachments ----

    def cosign_payload(self, tag="v1", ref=None):
        return cosign_payload(ref or "%s:%s" % (self.name, tag), self.digest[tag])

    def sign(self, payload, key="cosign"):
        return p256_sign(os.path.join(self.dir, key + ".key"), payload,
                         os.path.join(self.dir, "payload"))

    def attach(self, tag, layers):
        """The cosign attachment of @tag: layers [(payload, annotation or None, size)]."""
        attach(self.registry.port, self.repo, self.digest[tag], layers)

    def key_id(self, key="cosign"):
        return p256_key_id(os.path.join(self.dir, key + ".key.pub"))

    def sigstore(self, tag="v1", **kw):
        kw.setdefault("keys", ("cosign.key.pub",))
        return self.check(tag, typ="sigstoreSigned", attachments=True, **kw)

    def test_sigstore(self):
        att = "signature attachment %s:%s-%s.sig" % (self.repo, *self.digest["v1"].split(":"))
        # none yet
        p = self.sigstore()
        self.assertEqual(p.stderr.strip(), self.head() + "no signature (no sigstore attachment "
                         "in the registry)")
        good = self.cosign_payload()
        tampered = good.replace(b"cosign container", b"cosign  container")
        other = self.cosign_payload("v2")
        self.attach("v1", [(tampered, self.sign(good), None), (good, "!!!!", None),
                           (good, None, None), (good, self.sign(good, "stranger"), None),
                           (other, self.sign(other), None)])
        not_made = "invalid signature: not made by any of the policy's 1 key(s)"
        self.assertEqual(self.sigstore().stderr.strip(), self.head() + "; ".join([
            "%s layer 0: %s" % (att, not_made),
            "%s layer 1: invalid signature: %s is not valid base64" % (att, ANNOTATION),
            "%s layer 2: invalid signature: no %s annotation" % (att, ANNOTATION),
            "%s layer 3: %s" % (att, not_made),
            "%s layer 4: digest mismatch: signed %s, the manifest is %s"
            % (att, self.digest["v2"], self.digest["v1"])]))
        # the stranger's key trusted too: layer 3 is accepted
        p = self.sigstore(keys=("cosign.key.pub", "stranger.key.pub"))
        self.assertEqual((p.returncode, p.stdout), (0, "signer: %s\n" % self.key_id("stranger")))
        # a good one added (the tag replaced): accepted, with the key's ID
        self.attach("v1", [(good, self.sign(good), None)])
        p = self.sigstore()
        self.assertEqual((p.returncode, p.stdout), (0, "signer: %s\n" % self.key_id()))
        # identity rules apply alike
        p = self.sigstore(ref="%s:v9" % self.name)
        self.assertEqual(p.stderr.strip(), self.head(ref="%s:v9" % self.name)
                         + "%s layer 0: identity mismatch: signed %s:v1, pulling %s:v9"
                         % (att, self.name, self.name))
        # a GPG key is not a sigstore key
        p = self.sigstore(keys=("alice",))
        self.assertEqual(p.stderr.strip(), self.head() + "%s layer 0: policy key 1: not a PEM "
                         "public key" % att)

    def test_sigstore_limits(self):
        att = "signature attachment %s:%s-%s.sig" % (self.repo, *self.digest["v2"].split(":"))
        good = self.cosign_payload("v2")
        self.attach("v2", [(good, self.sign(good), MAX_BODY + 1)])
        self.assertEqual(self.sigstore("v2").stderr.strip(),
                         self.head("v2") + "signature layer %s: %d bytes, more than the limit "
                         "of %d" % (sha(good), MAX_BODY + 1, MAX_BODY))
        self.attach("v2", [(good, self.sign(good), None)] * 65)
        self.assertEqual(self.sigstore("v2").stderr.strip(),
                         self.head("v2") + "%s: more than 64 signatures" % att)
        # a size that lies: the digest check
        self.attach("v2", [(good, self.sign(good), len(good) - 1)])
        p = self.sigstore("v2")
        self.assertEqual(p.returncode, 1)
        self.assertIn("signature layer %s: the registry sent" % sha(good), p.stderr)

    def test_reject_and_accept(self):
        self.refused(self.head() + "rejected", typ="reject")
        p = self.check(typ="insecureAcceptAnything")
        self.assertEqual((p.returncode, p.stdout), (0, "signer: \n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
