"""Shared by the signature tests (test_signature.py, test_trust_e2e.py):
real signers made in the test — GPG keys (`gpg --batch`), P-256 keys
(openssl) — images in OCI layouts, cosign attachments pushed into the
loopback registry (tests/registry/registry.py), a quiet HTTP server for a
lookaside."""

import base64
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import subprocess
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
COSIGN = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
MAX_BODY = 4 * 1024 * 1024


def have(*tools):
    return all(shutil.which(t) for t in tools)


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_layout(path, text):
    """A one-layer OCI image at @path (tag "t") whose file says @text."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def blob(data):
        with open(os.path.join(blobs, hashlib.sha256(data).hexdigest()), "wb") as f:
            f.write(data)
        return sha(data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("hello")
        data = text.encode()
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    layer = buf.getvalue()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": blob(layer), "size": len(layer)}]}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": blob(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that stops reading an oversized body


def gpg_keys(d, names):
    """GPG signing keys made in @d/gnupg for @names: (env with GNUPGHOME,
    {name: fingerprint}, {name: armored public key file})."""
    gnupg = os.path.join(d, "gnupg")
    os.mkdir(gnupg, 0o700)
    env = dict(os.environ, GNUPGHOME=gnupg)
    fpr, keyfile = {}, {}
    for who in names:
        run("gpg", "--batch", "--passphrase", "", "--quick-gen-key",
            "%s <%s@example.com>" % (who, who), "ed25519", "sign", "never", env=env)
        out = run("gpg", "--batch", "--with-colons", "--list-keys", who, env=env).stdout
        fpr[who] = [ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:")][0]
        keyfile[who] = os.path.join(d, who + ".asc")
        with open(keyfile[who], "w") as f:
            f.write(run("gpg", "--batch", "--armor", "--export", fpr[who], env=env).stdout)
    return env, fpr, keyfile


def gpg_stop(env):
    subprocess.run(["gpgconf", "--homedir", env["GNUPGHOME"], "--kill", "all"],
                   capture_output=True)


def p256_key(d, who):
    """A P-256 key pair: @d/@who.key and @d/@who.key.pub (PEM)."""
    key = os.path.join(d, who + ".key")
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    run("openssl", "ec", "-in", key, "-pubout", "-out", key + ".pub")
    return key


def p256_key_id(pub):
    """The signer name we show for a sigstore key: SHA256 of its DER."""
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def cosign_payload(ref, digest):
    return json.dumps({"critical": {
        "identity": {"docker-reference": ref},
        "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature"}, "optional": None}).encode()


def p256_sign(key, payload, scratch):
    """base64 ECDSA-SHA256 signature of @payload by the PEM key @key."""
    with open(scratch, "wb") as f:
        f.write(payload)
    out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, scratch],
                         check=True, capture_output=True).stdout
    return base64.b64encode(out).decode()


def get_manifest(port, repo, ref):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": OCI_MANIFEST})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (r.status, body)
    return body


def push_blob(port, repo, data):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/v2/%s/blobs/uploads/" % repo)
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    loc = loc[loc.index("/v2/"):] if "://" in loc else loc
    c.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha(data), body=data,
              headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 201, r.status
    return sha(data)


def attach(port, repo, digest, layers):
    """The cosign attachment of the manifest @digest in @repo: layers
    [(payload, annotation or None, size or None)], as cosign lays them out
    (the sha256-<hex>.sig tag)."""
    config = b'{"architecture":"","os":""}'
    man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": push_blob(port, repo, config), "size": len(config)},
           "layers": []}
    for payload, b64, size in layers:
        layer = {"mediaType": COSIGN, "digest": push_blob(port, repo, payload),
                 "size": len(payload) if size is None else size}
        if b64 is not None:
            layer["annotations"] = {ANNOTATION: b64}
        man["layers"].append(layer)
    body = json.dumps(man).encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("PUT", "/v2/%s/manifests/%s-%s.sig" % (repo, *digest.split(":")),
              body=body, headers={"Content-Type": OCI_MANIFEST})
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 201, r.status


def push_signed(d, registry, repo, staging_key, staging, env, fpr):
    """Pushes v1, v2 (signed by alice), v3 (by mallory) and unsigned to
    REGISTRY/REPO, skopeo writing the signatures into @staging through a
    registries.d of its own (@staging_key: lookaside-staging, or its old
    name sigstore-staging). Returns ({tag: manifest}, {tag: digest})."""
    name = "%s/%s" % (registry.host, repo)
    regd = os.path.join(d, "registries.d-sign")
    os.mkdir(regd)
    with open(os.path.join(regd, "sign.yaml"), "w") as f:
        f.write("docker:\n  %s:\n    %s: file://%s\n" % (registry.host, staging_key, staging))
    manifest, digest = {}, {}
    for tag, signer in (("v1", "alice"), ("v2", "alice"), ("v3", "mallory"), ("unsigned", None)):
        layout = os.path.join(d, "img-" + tag)
        oci_layout(layout, "image " + tag)
        args = ["skopeo", "--registries.d", regd, "copy", "--dest-tls-verify=false"]
        if signer:
            args += ["--sign-by", fpr[signer]]
        run(*args, "oci:%s:t" % layout, "docker://%s:%s" % (name, tag), env=env)
        manifest[tag] = get_manifest(registry.port, repo, tag)
        digest[tag] = sha(manifest[tag])
    return manifest, digest
