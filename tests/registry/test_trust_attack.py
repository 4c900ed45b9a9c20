"""Attacks on the signature policy and its verification (issue 14), as a
hostile lookaside server, a hostile signer and a careless admin: OpenPGP
key states (subkeys, expired, revoked, secret keys in a key file),
signature shapes (two signers, detached, cleartext, armored), lookaside
URL and HTTP behaviour, keyData as admins paste it, concurrent `trust
set`. Each verdict is compared with skopeo 1.9's under the same policy
where skopeo can run it (its dir: transport reads signature-N files)."""

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402

HELPER = os.environ.get("SC_SIG_HELPER")
CTL = os.environ.get("SYSCONTAINERCTL")
REF = "r.example/a/b:v1"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def have(*tools):
    return all(shutil.which(t) for t in tools)


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(CONFIG), "size": len(CONFIG)},
    "layers": []}).encode()
DIGEST = sha(MANIFEST)
SIGDIR = "a/b@sha256=" + DIGEST.split(":")[1]


class Handler(http.server.SimpleHTTPRequestHandler):
    """The lookaside; /token/... answers only with ?token=1, /status/N/...
    answers N, /to-file/... redirects to file://."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/token/"):
            if query != "token=1":
                self.send_error(403)
                return
            self.path = path[len("/token"):]
        elif path.startswith("/status/"):
            self.send_error(int(path.split("/")[2]))
            return
        elif path.startswith("/to-file/"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        super().do_GET()


@unittest.skipUnless(HELPER and CTL and os.getuid() == 0 and
                     have("gpg", "gpgconf", "skopeo", "docker-registry", "ostree"),
                     "needs the test hooks (sig-helper), syscontainerctl, root, gpg, skopeo, "
                     "docker-registry and ostree")
class TrustAttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sc-trustatk-")
        cls.gnupg = os.path.join(cls.dir, "gnupg")
        os.mkdir(cls.gnupg, 0o700)
        cls.env = dict(os.environ, GNUPGHOME=cls.gnupg)
        cls.payload = os.path.join(cls.dir, "payload")
        with open(cls.payload, "w") as f:
            json.dump({"critical": {"type": "atomic container signature",
                                    "image": {"docker-manifest-digest": DIGEST},
                                    "identity": {"docker-reference": REF}},
                       "optional": {"creator": "test"}}, f)
        cls.fpr, cls.subfpr = {}, {}
        # plain: a primary key that signs; expiring: one that expires in 2s
        cls.gen("plain", "ed25519", "sign", "never")
        cls.gen("other", "ed25519", "sign", "never")
        cls.gen("expiring", "ed25519", "sign", "seconds=2")
        cls.gen("revoked", "ed25519", "sign", "never")
        # sub: a certify-only primary, a signing subkey, an encryption one
        cls.gen("sub", "ed25519", "cert", "never")
        cls.gpg("--quick-add-key", cls.fpr["sub"], "ed25519", "sign", "never")
        cls.gpg("--quick-add-key", cls.fpr["sub"], "cv25519", "encr", "never")
        cls.gen("sub", None, None, None)  # (its subkeys' fingerprints)
        cls.sigs = {}
        for name, signers, how in (("plain", ["plain"], "--sign"),
                                   ("armored", ["plain"], "--armor --sign"),
                                   ("clear", ["plain"], "--clearsign"),
                                   ("detached", ["plain"], "--detach-sign"),
                                   ("two", ["plain", "other"], "--sign"),
                                   ("expiring", ["expiring"], "--sign"),
                                   ("revoked", ["revoked"], "--sign"),
                                   ("sub", ["sub"], "--sign")):
            out = os.path.join(cls.dir, "sig-" + name)
            args = []
            for s in signers:
                args += ["--local-user", cls.fpr[s]]
            cls.gpg("--yes", *args, "--output", out, *how.split(), cls.payload)
            with open(out, "rb") as f:
                cls.sigs[name] = f.read()
        # revoked: the revocation certificate gpg made, imported
        with open(os.path.join(cls.gnupg, "openpgp-revocs.d", cls.fpr["revoked"] + ".rev")) as f:
            rev = f.read().replace(":-----BEGIN", "-----BEGIN")
        cls.gpg("--import", input=rev)
        cls.keys = {}
        for who in ("plain", "other", "expiring", "revoked", "sub"):
            cls.keys[who] = cls.export(who)
        time.sleep(3)  # "expiring" has expired
        handler = lambda *a: Handler(*a, directory=cls.dir)  # noqa: E731
        cls.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.base = "http://127.0.0.1:%d" % cls.http.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        subprocess.run(["gpgconf", "--homedir", cls.gnupg, "--kill", "all"],
                       capture_output=True)
        shutil.rmtree(cls.dir)

    @classmethod
    def gpg(cls, *args, input=None):
        return subprocess.run(["gpg", "--batch", "--passphrase", "", "--pinentry-mode",
                               "loopback", *args], check=True, capture_output=True,
                              text=input is not None, input=input, env=cls.env).stdout

    @classmethod
    def gen(cls, who, algo, usage, expire):
        if algo:
            cls.gpg("--quick-gen-key", "%s <%s@example.com>" % (who, who), algo, usage, expire)
        out = cls.gpg("--with-colons", "--list-keys", "<%s@example.com>" % who).decode()
        fprs = [ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:")]
        cls.fpr[who] = fprs[0]
        cls.subfpr[who] = fprs[1:]

    @classmethod
    def export(cls, who, secret=False):
        path = os.path.join(cls.dir, who + (".sec" if secret else ".asc"))
        data = cls.gpg("--armor", "--export-secret-keys" if secret else "--export",
                       cls.fpr[who])
        with open(path, "wb") as f:
            f.write(data)
        return path

    # ---- helpers ----

    def lookaside(self, files):
        """A lookaside directory of its own: {n: bytes}; its path."""
        d = tempfile.mkdtemp(dir=self.dir, prefix="la-")
        os.makedirs(os.path.join(d, SIGDIR))
        for n, data in files.items():
            with open(os.path.join(d, SIGDIR, "signature-%d" % n), "wb") as f:
                f.write(data)
        return d

    def ours(self, sig_files, key, lookaside=None, env=None):
        la = lookaside or "file://" + self.lookaside(sig_files)
        man = os.path.join(self.dir, "manifest")
        with open(man, "wb") as f:
            f.write(MANIFEST)
        p = subprocess.run([HELPER, "check", "--type", "signedBy", "--ref", REF, "--repo", "a/b",
                            "--manifest", man, "--key", key, "--lookaside", la],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assertNotIn("CRITICAL", p.stderr)
        return p.returncode, p.stdout.strip() or p.stderr.strip(), la

    def skopeo(self, sig, policy_req):
        """skopeo 1.9's verdict: copy dir: (signature-1 = @sig) to dir:."""
        src = tempfile.mkdtemp(dir=self.dir, prefix="src-")
        for name, data in (("manifest.json", MANIFEST), (sha(CONFIG)[7:], CONFIG),
                           ("signature-1", sig),
                           ("version", b"Directory Transport Version: 1.1\n")):
            with open(os.path.join(src, name), "wb") as f:
                f.write(data)
        pol = os.path.join(src, "policy.json")
        req = dict(policy_req, signedIdentity={"type": "exactReference",
                                               "dockerReference": REF})
        with open(pol, "w") as f:
            json.dump({"default": [req]}, f)
        p = subprocess.run(["skopeo", "--policy", pol, "copy", "dir:" + src,
                            "dir:" + src + "-out"], capture_output=True, text=True,
                           env=dict(os.environ, GNUPGHOME=os.path.join(self.dir, "nohome")))
        return p.returncode, p.stderr

    def head(self, la):
        return "image %s: policy scope default: %s/%s/signature-1: " % (REF, la, SIGDIR)

    # ---- key states and signature shapes ----

    def test_key_states_and_shapes(self):
        """Each case: our verdict (exact message) and skopeo 1.9's."""
        cases = [
            # signature, key, ours (None: accepted with that signer), skopeo accepts
            ("plain", "plain", None, "plain", True),
            ("armored", "plain", None, "plain", None),  # (dir: wants binary; lookaside reads both)
            ("clear", "plain", None, "plain", None),
            ("expiring", "expiring", "invalid signature: Key expired", None, False),
            ("revoked", "revoked", "invalid signature: Certificate revoked", None, False),
            ("two", "plain", "invalid signature: more than one signature", None, False),
            ("detached", "plain", "invalid signature: Bad signature", None, False),
            ("plain", "other", "unknown key: signed by key %s, not a policy key"
             % self.fpr["plain"], None, False),
            # a signing subkey of a policy key: accepted as containers/image does since
            # 5.36 (containers/image#2905); skopeo 1.9 refused it (docs/trust.md)
            ("sub", "sub", None, "sub", False),
        ]
        for sig, key, why, signer, skopeo_ok in cases:
            with self.subTest(sig=sig, key=key):
                rc, out, la = self.ours({1: self.sigs[sig]}, self.keys[key])
                if why is None:
                    self.assertEqual((rc, out), (0, "signer: %s" % self.fpr[signer]))
                else:
                    self.assertEqual((rc, out), (1, self.head(la) + why))
                if skopeo_ok is not None:
                    src, err = self.skopeo(self.sigs[sig], {
                        "type": "signedBy", "keyType": "GPGKeys", "keyPath": self.keys[key]})
                    self.assertEqual(src == 0, skopeo_ok, err)
                    if not skopeo_ok:
                        self.assertIn("Source image rejected", err)

    def test_revoked_signing_subkey(self):
        # the subkey that made the signature revoked afterwards: refused
        home = os.path.join(self.dir, "gnupg-subrev")
        shutil.copytree(self.gnupg, home, ignore=shutil.ignore_patterns("S.*"))
        env = dict(self.env, GNUPGHOME=home)
        subprocess.run(["gpg", "--batch", "--command-fd", "0", "--pinentry-mode", "loopback",
                        "--passphrase", "", "--edit-key", self.fpr["sub"]],
                       input="key 1\nrevkey\ny\n0\n\ny\nsave\n", text=True, env=env,
                       capture_output=True, check=True)
        key = os.path.join(self.dir, "sub-revoked.asc")
        with open(key, "wb") as f:
            f.write(subprocess.run(["gpg", "--batch", "--armor", "--export", self.fpr["sub"]],
                                   env=env, capture_output=True, check=True).stdout)
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        rc, out, la = self.ours({1: self.sigs["sub"]}, key)
        self.assertEqual((rc, out), (1, self.head(la) + "invalid signature: Certificate revoked"))

    def test_secret_key_in_key_file(self):
        """A key file holding a secret key too (a careless admin): the
        signature is checked, and neither the temporary keyring nor a
        gpg-agent it started is left behind; the user's keyring (which has
        every key here) is never consulted."""
        mixed = os.path.join(self.dir, "mixed.asc")
        with open(mixed, "wb") as f:
            for path in (self.keys["other"], self.export("plain", secret=True)):
                with open(path, "rb") as k:
                    f.write(k.read())
        tmp = tempfile.mkdtemp(dir=self.dir, prefix="tmp-")
        env = dict(self.env, TMPDIR=tmp)  # GNUPGHOME: the keyring that has all keys
        rc, out, _ = self.ours({1: self.sigs["plain"]}, mixed, env=env)
        self.assertEqual((rc, out), (0, "signer: %s" % self.fpr["plain"]))
        rc, out, la = self.ours({1: self.sigs["sub"]}, mixed, env=env)
        self.assertEqual((rc, out), (1, self.head(la) + "unknown key: signed by key %s, not a "
                                     "policy key" % self.subfpr["sub"][0]))
        self.assertEqual(os.listdir(tmp), [])
        for _ in range(50):  # an agent removes itself once its home is gone
            ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True,
                                text=True).stdout
            live = [ln for ln in ps.splitlines() if tmp in ln and not ln.startswith("Z")]
            if not live:
                break
            time.sleep(0.1)
        self.assertEqual(live, [])

    # ---- the lookaside ----

    def test_lookaside_query_and_http_errors(self):
        la = self.lookaside({1: self.sigs["plain"]})
        rel = os.path.relpath(la, self.dir)
        # a lookaside behind a token in the query: the path goes before it
        rc, out, _ = self.ours({}, self.keys["plain"],
                               lookaside="%s/token/%s/?token=1" % (self.base, rel))
        self.assertEqual((rc, out), (0, "signer: %s" % self.fpr["plain"]))
        url = "%s/token/%s/%s/signature-1" % (self.base, rel, SIGDIR)
        rc, out, _ = self.ours({}, self.keys["plain"], lookaside="%s/token/%s" % (self.base, rel))
        self.assertEqual((rc, out), (1, "image %s: policy scope default: GET %s: HTTP 403 "
                                     "'Forbidden'" % (REF, url)))
        # not 404 is an error, not the end of the list (containers/image)
        rc, out, _ = self.ours({}, self.keys["plain"], lookaside=self.base + "/status/403")
        self.assertEqual((rc, out), (1, "image %s: policy scope default: GET "
                                     "%s/status/403/%s/signature-1: HTTP 403 'Forbidden'"
                                     % (REF, self.base, SIGDIR)))
        # a redirect to file:// is not followed
        rc, out, _ = self.ours({}, self.keys["plain"], lookaside=self.base + "/to-file")
        self.assertEqual(rc, 1)
        self.assertIn("GET %s/to-file/%s/signature-1 (redirected to file:///etc/passwd)"
                      % (self.base, SIGDIR), out)
        # signature-1 missing, signature-2 there: the list ends at the first gap
        d = self.lookaside({2: self.sigs["plain"]})
        rc, out, _ = self.ours({}, self.keys["plain"], lookaside="file://" + d)
        self.assertEqual((rc, out), (1, "image %s: policy scope default: no signature (none in "
                                     "the lookaside)" % REF))

    # ---- the policy as admins write it ----

    def test_keydata_with_line_breaks(self):
        """keyData wrapped as `base64` prints it: accepted by skopeo, and by us."""
        with open(self.keys["plain"], "rb") as f:
            armored = f.read()
        binary = subprocess.run(["gpg", "--dearmor"], input=armored, capture_output=True,
                                check=True).stdout
        b64 = base64.b64encode(binary).decode()
        wrapped = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76)) + "\n"
        req = {"type": "signedBy", "keyType": "GPGKeys", "keyData": wrapped}
        rc, err = self.skopeo(self.sigs["plain"], req)
        self.assertEqual(rc, 0, err)
        pol = os.path.join(self.dir, "keydata.json")
        with open(pol, "w") as f:
            json.dump({"default": [req]}, f)
        p = subprocess.run([CTL, "--signature-policy", pol, "trust", "show", "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["default"]["requirements"][0]["keyData"], wrapped)
        # a space is not a line break: both refuse
        req["keyData"] = b64[:8] + " " + b64[8:]
        rc, err = self.skopeo(self.sigs["plain"], req)
        self.assertNotEqual(rc, 0)
        with open(pol, "w") as f:
            json.dump({"default": [req]}, f)
        p = subprocess.run([CTL, "--signature-policy", pol, "trust", "show"],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr.strip()),
                         (1, "syscontainerctl: error: %s: default[0]: keyData must be a base64 "
                          "string" % pol))

    def test_concurrent_trust_set(self):
        """trust set run 24 times at once: every scope is there after."""
        pol = os.path.join(self.dir, "concurrent", "policy.json")
        os.makedirs(os.path.dirname(pol))
        with open(pol, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        procs = [subprocess.Popen([CTL, "--signature-policy", pol, "trust", "set", "--type",
                                   "reject", "r%d.example" % i], stderr=subprocess.PIPE)
                 for i in range(24)]
        for p in procs:
            self.assertEqual(p.wait(), 0, p.stderr.read())
            p.stderr.close()
        with open(pol) as f:
            doc = json.load(f)
        self.assertEqual(sorted(doc["transports"]["docker"]),
                         sorted("r%d.example" % i for i in range(24)))
        self.assertEqual(os.listdir(os.path.dirname(pol)), ["policy.json"])


    # ---- a pull with no lookaside configured ----

    def test_builtin_lookaside(self):
        """registries.d naming no lookaside: signatures are read from
        file:///var/lib/containers/sigstore (root), where `skopeo copy
        --sign-by` writes them then, as skopeo reads them."""
        ns = "sc-trustatk-%d" % os.getpid()
        top = os.path.join("/var/lib/containers/sigstore", ns)
        self.assertFalse(os.path.exists(top))
        tmp = tempfile.mkdtemp(dir=self.dir, prefix="pull-")
        registry = rg.Registry(tmp)
        try:
            layout = os.path.join(tmp, "layout")
            il.build_base_image(layout, "base")
            empty = os.path.join(tmp, "registries.d")
            os.mkdir(empty)
            name = "%s/%s/app" % (registry.host, ns)
            subprocess.run(["skopeo", "--registries.d", empty, "copy", "--dest-tls-verify=false",
                            "--sign-by", self.fpr["plain"], "oci:%s:base" % layout,
                            "docker://%s:1" % name], check=True, capture_output=True,
                           env=self.env)
            sigs = os.listdir(top)
            self.assertEqual(len(sigs), 1)
            self.assertTrue(sigs[0].startswith("app@sha256="), sigs)
            for key, accepted in (("plain", True), ("other", False)):
                with self.subTest(key=key):
                    pol = os.path.join(tmp, "policy-%s.json" % key)
                    with open(pol, "w") as f:
                        json.dump({"default": [{"type": "reject"}], "transports": {"docker": {
                            registry.host: [{"type": "signedBy", "keyType": "GPGKeys",
                                             "keyPath": self.keys[key]}]}}}, f)
                    ck = os.path.join(tmp, "ck-" + key)
                    env = {k: v for k, v in os.environ.items() if k != "SC_SIGNATURE_POLICY"}
                    env["HOME"] = tmp
                    p = subprocess.run([CTL, "--checkout-root", ck, "--signature-policy", pol,
                                        "--registries-d", empty, "pull", "--tls-verify=false",
                                        "docker://%s:1" % name], capture_output=True, text=True,
                                       timeout=120, env=env)
                    s = subprocess.run(["skopeo", "--registries.d", empty, "--policy", pol,
                                        "copy", "--remove-signatures", "--src-tls-verify=false",
                                        "docker://%s:1" % name,
                                        "oci:%s:x" % os.path.join(tmp, "out-" + key)],
                                       capture_output=True, text=True, timeout=120,
                                       env=dict(os.environ, GNUPGHOME=os.path.join(tmp, "nohome")))
                    self.assertEqual((p.returncode == 0, s.returncode == 0),
                                     (accepted, accepted), (p.stderr, s.stderr))
                    if not accepted:
                        self.assertIn("file://%s/app@sha256=" % top, p.stderr)
                        self.assertIn("unknown key: signed by key %s, not a policy key"
                                      % self.fpr["plain"], p.stderr)
        finally:
            registry.stop()
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
