"""A hostile registry of our own (an HTTP server on 127.0.0.1 that serves a
small image and, per test, one attack on the client): oversized and
compressed bodies, answers that drip or never come, redirects and tokens
that would reach libsoup's assertions, dropped connections, lying headers.
Each attack must end in its exact error (naming the registry and the
request), quickly, without a GLib CRITICAL or WARNING, without memory
growing with what the server sends, and with the store as it was (refs
and `ostree fsck`)."""

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest
import http.server

sys.path.insert(0, os.path.dirname(__file__))
import registry as rg  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
MiB = 1 << 20
# RSS bound for a command that was sent far more than this (generous: the
# sanitizer builds' own overhead stays well below it)
RSS_BOUND_KB = 250 * 1024


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files, dirs=True):
    """A gzip tar layer of {path: bytes}: (blob, diff_id); without @dirs,
    no entries for the parent directories."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = set() if dirs else None
        for path, data in files.items():
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1 if dirs is not None else 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(ti)
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    tar = buf.getvalue()
    return gzip.compress(tar, mtime=0), sha(tar)


class Image:
    """Blobs and a manifest of an image whose layers hold @layer_files."""

    def __init__(self, layer_files, edit_config_descriptor=None):
        self.blobs = {}
        descs, diff_ids = [], []
        for i, files in enumerate(layer_files):
            # upper layers list their directories again, as umoci writes
            # them: a directory merges into the lower one
            blob, diff_id = layer(files, dirs=True)
            self.blobs[sha(blob)] = blob
            descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": sha(blob), "size": len(blob)})
            diff_ids.append(diff_id)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Labels": {"atomic.type": "system"}},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        self.config_digest = sha(config)
        self.blobs[self.config_digest] = config
        cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                 "digest": self.config_digest, "size": len(config)}
        if edit_config_descriptor:
            edit_config_descriptor(cdesc)
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": cdesc,
                                    "layers": descs}).encode()
        self.layer_digests = [d["digest"] for d in descs]


def zeros_gzip(n):
    """A gzip stream of n zero bytes (a bomb: about n/1000 bytes)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as g:
        chunk = bytes(MiB)
        for _ in range(n // MiB):
            g.write(chunk)
    return out.getvalue()


class HostileRegistry:
    """Serves images under /v2/NAME/… (anonymous, or Bearer tokens from
    /token when `bearer`); `attacks[kind]` (kind: ping, token, manifest,
    blob) replaces the answer: a function of (handler, serve_normally)."""

    def __init__(self):
        self.images = {}  # "name:ref" -> Image
        self.bearer = False
        self.attacks = {}
        self.requests = []  # (method, path, headers)
        self.lock = threading.Lock()
        self.token = "tok-" + os.urandom(8).hex()
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle(self):
                # the client tries https first: close a TLS hello at once
                # (reading it as a request line could wait for a newline)
                try:
                    if self.request.recv(1, socket.MSG_PEEK) == b"\x16":
                        return
                except OSError:
                    return
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                reg.route(self)

            def do_HEAD(self):
                reg.route(self)

            def do_POST(self):
                reg.route(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", rg.free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = "127.0.0.1:%d" % self.port
        self.origin = "http://" + self.host
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- answers -------------------------------------------------------

    @staticmethod
    def reply(h, status, body=b"", headers=None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    @staticmethod
    def raw(h, data):
        """Writes @data as is (a status line and headers of the test's
        own making) and closes the connection afterwards."""
        h.close_connection = True
        h.wfile.write(data)
        h.wfile.flush()

    def kind(self, path):
        if path == "/v2/":
            return "ping"
        if path.startswith("/token"):
            return "token"
        if "/manifests/" in path:
            return "manifest"
        if "/blobs/" in path:
            return "blob"
        return "other"

    def route(self, h):
        with self.lock:
            self.requests.append((h.command, h.path, dict(h.headers)))
        kind = self.kind(h.path)
        attack = self.attacks.get(kind)
        if attack:
            attack(h, lambda: self.serve(h, kind))
        else:
            self.serve(h, kind)

    def serve(self, h, kind):
        if kind == "ping":
            if self.bearer:
                self.challenge(h)
            else:
                self.reply(h, 200, b"{}", {"Content-Type": "application/json"})
            return
        if kind == "token":
            self.reply(h, 200, json.dumps({"token": self.token, "expires_in": 300}).encode(),
                       {"Content-Type": "application/json"})
            return
        if self.bearer and h.headers.get("Authorization") != "Bearer " + self.token:
            self.challenge(h)
            return
        parts = h.path.split("/")
        name, ref = "/".join(parts[2:-2]), parts[-1]
        if kind == "manifest":
            for key, img in self.images.items():
                if key == "%s:%s" % (name, ref) or (key.startswith(name + ":")
                                                    and sha(img.manifest) == ref):
                    self.reply(h, 200, img.manifest, {"Content-Type": MANIFEST,
                                                      "Docker-Content-Digest": sha(img.manifest)})
                    return
        if kind == "blob":
            for img in self.images.values():
                if ref in img.blobs:
                    self.reply(h, 200, img.blobs[ref],
                               {"Content-Type": "application/octet-stream"})
                    return
        self.reply(h, 404, b'{"errors": [{"code": "NOT_FOUND"}]}')

    def challenge(self, h):
        self.reply(h, 401, b'{"errors": []}', {
            "WWW-Authenticate": 'Bearer realm="%s/token",service="hostile",'
                                'scope="repository:hostile:pull"' % self.origin})

    def count(self, kind):
        with self.lock:
            return sum(1 for r in self.requests if self.kind(r[1]) == kind)


def drip(h, head, body, every):
    """Sends @head at once, then @body one byte every @every seconds."""
    h.close_connection = True
    try:
        h.wfile.write(head)
        h.wfile.flush()
        for b in body:
            time.sleep(every)
            h.wfile.write(bytes([b]))
            h.wfile.flush()
    except OSError:
        pass


def silent(h):
    """Reads the request and never answers (until the client gives up)."""
    h.close_connection = True
    try:
        h.request.settimeout(60)
        h.request.recv(1)
    except OSError:
        pass


def stream_forever(h, head, chunk=b"x" * 65536):
    h.close_connection = True
    try:
        h.wfile.write(head)
        while True:
            h.wfile.write(chunk)
    except OSError:
        pass


def chunked_forever(h):
    h.close_connection = True
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + MANIFEST.encode() +
                      b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            h.wfile.write(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
    except OSError:
        pass


@unittest.skipUnless(os.getuid() == 0 and shutil.which("ostree"), "needs root and ostree")
class HostileRegistryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sc-hreg-")
        cls.checkout_root = os.path.join(cls.tmp, "ck")
        cls.repo = os.path.join(cls.checkout_root, ".storage", "ostree")
        cls.reg = HostileRegistry()
        cls.image = Image([{"etc/motd": b"hello\n"},
                           {"exports/config.json.template": b'{"x": "$GREETING"}\n'}])
        cls.reg.images["hostile:1"] = cls.image
        cls.reg.images["other:1"] = Image([{"etc/other": b"other\n"}])
        # the store holds an image before the attacks: they must leave it
        r = cls.run_ctl(["pull", "--tls-verify=false", "%s/other:1" % cls.reg.host])
        assert r.returncode == 0, r.stderr
        cls.refs_before = cls.refs()
        assert len(cls.refs_before) == 3, cls.refs_before  # image, config, layer

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.reg.attacks = {}
        self.reg.bearer = False
        with self.reg.lock:
            self.reg.requests = []

    @classmethod
    def run_ctl(cls, args, env=None, timeout=60):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([CTL, "--checkout-root", cls.checkout_root] + args,
                              capture_output=True, text=True, timeout=timeout, env=e)

    @classmethod
    def refs(cls):
        return sorted(subprocess.run(["ostree", "--repo=" + cls.repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def ctl(self, *args, env=None, timeout=60):
        """Runs syscontainerctl --json ARGS under /usr/bin/time: (result,
        seconds, peak RSS in KiB)."""
        stats = os.path.join(self.tmp, "time")
        e = dict(os.environ)
        e.update(env or {})
        start = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", stats, CTL, "--checkout-root",
                            self.checkout_root, "--json"] + list(args),
                           capture_output=True, text=True, timeout=timeout, env=e)
        elapsed = time.monotonic() - start
        with open(stats) as f:
            rss = int(f.read().split()[-1])
        return r, elapsed, rss

    def ref(self, name="hostile:1"):
        return "%s/%s" % (self.reg.host, name)

    def assert_clean(self, r):
        for word in ("CRITICAL", "WARNING", "runtime error", "Sanitizer"):
            self.assertNotIn(word, r.stderr)
        self.assertEqual(self.refs(), self.refs_before, "the store's refs changed")
        fsck = subprocess.run(["ostree", "--repo=" + self.repo, "fsck"], capture_output=True,
                              text=True)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)

    def assert_refused(self, code, message, *args, env=None, max_seconds=20, verb="pull"):
        """The command fails with @code and exactly @message, within
        @max_seconds, with the store unchanged."""
        cmd = ([verb] if verb == "pull" else verb.split()) + ["--tls-verify=false"]
        r, elapsed, rss = self.ctl(*cmd, *(args or (self.ref(),)), env=env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = json.loads(r.stdout)["error"]
        self.assertEqual((err["code"], err["message"]), (code, message))
        self.assertLess(elapsed, max_seconds)
        self.assertLess(rss, RSS_BOUND_KB)
        self.assert_clean(r)
        return r, elapsed, rss

    def pull_ok(self, env=None, name="hostile:1"):
        r, elapsed, rss = self.ctl("pull", "--tls-verify=false", self.ref(name), env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for word in ("CRITICAL", "WARNING", "runtime error"):
            self.assertNotIn(word, r.stderr)
        # put the store back as the other tests expect it
        subprocess.run(["ostree", "--repo=" + self.repo, "refs", "--delete"] +
                       [x for x in self.refs() if x not in self.refs_before], check=True)
        self.assertEqual(self.refs(), self.refs_before)
        return r, elapsed, rss

    def mpath(self, name="hostile", ref="1"):
        return "/v2/%s/manifests/%s" % (name, ref)

    def bpath(self, digest):
        return "/v2/hostile/blobs/" + digest

    # -- the baseline ------------------------------------------------------

    def test_baseline_pull_and_inspect(self):
        """Without an attack, the image pulls and inspects: each refusal
        below is the attack's doing."""
        self.pull_ok()
        r, _, _ = self.ctl("images", "inspect", "--remote", "--tls-verify=false", self.ref())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GREETING", [v["name"] for v in json.loads(r.stdout)["variables"]])
        self.reg.bearer = True
        self.pull_ok()

    # -- bodies larger than their cap --------------------------------------

    def test_ping_bodies_are_not_read(self):
        """GET /v2/ answering with a gzip bomb (Content-Encoding: gzip, 512
        MiB of zeros), or with 2 GiB of plain bytes: the pull goes on and
        memory stays small."""
        bomb = zeros_gzip(512 * MiB)
        self.reg.attacks["ping"] = lambda h, _: self.reg.reply(
            h, 200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
        _, _, rss = self.pull_ok()
        self.assertLess(rss, RSS_BOUND_KB)
        self.reg.attacks["ping"] = lambda h, _: stream_forever(
            h, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 << 30))
        _, elapsed, rss = self.pull_ok()
        self.assertLess(rss, RSS_BOUND_KB)
        self.assertLess(elapsed, 20)

    def test_huge_token(self):
        """A 2 GiB token answer: refused by its Content-Length, or (without
        one) at the 1 MiB cap; a gzip bomb as Content-Encoding is not
        inflated."""
        self.reg.bearer = True
        realm = "token server %s/token" % self.reg.origin
        self.reg.attacks["token"] = lambda h, _: stream_forever(
            h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2147483648\r\n\r\n{\"token\": \"")
        self.assert_refused("SC_ENETWORK", "registry %s: %s: the answer has 2147483648 bytes, more "
                            "than the limit of 1048576" % (self.reg.host, realm))
        self.reg.attacks["token"] = lambda h, _: stream_forever(
            h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"token\": \"")
        self.assert_refused("SC_ENETWORK", "registry %s: %s: the answer is larger than the limit "
                            "of 1048576 bytes" % (self.reg.host, realm))
        bomb = zeros_gzip(512 * MiB)
        self.reg.attacks["token"] = lambda h, _: self.reg.reply(
            h, 200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
        self.assert_refused("SC_EAUTH", "registry %s: the token server %s/token sent no token"
                            % (self.reg.host, self.reg.origin))

    def test_huge_manifest(self):
        """A manifest past 4 MiB: with a Content-Length, chunked without
        end, or close-delimited."""
        what = "registry %s: GET %s" % (self.reg.host, self.mpath())
        big = b" " * (5 * MiB)
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 200, big, {"Content-Type": MANIFEST})
        self.assert_refused("SC_ENETWORK", what + ": the answer has 5242880 bytes, more than the "
                            "limit of 4194304")
        self.reg.attacks["manifest"] = lambda h, _: chunked_forever(h)
        self.assert_refused("SC_ENETWORK", what + ": the answer is larger than the limit of "
                            "4194304 bytes")
        self.reg.attacks["manifest"] = lambda h, _: stream_forever(
            h, b"HTTP/1.1 200 OK\r\nContent-Type: " + MANIFEST.encode() + b"\r\n\r\n")
        self.assert_refused("SC_ENETWORK", what + ": the answer is larger than the limit of "
                            "4194304 bytes")

    def test_huge_index_entry(self):
        """An index whose platform manifest is past the cap: the same cap
        for every manifest fetched."""
        digest = sha(b"x")
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": MANIFEST, "digest": digest, "size": 1,
             "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()

        def attack(h, _):
            if h.path.endswith("/1"):
                self.reg.reply(h, 200, index, {"Content-Type": INDEX})
            else:
                chunked_forever(h)
        self.reg.attacks["manifest"] = attack
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: the answer is larger than the "
                            "limit of 4194304 bytes" % (self.reg.host, self.mpath(ref=digest)),
                            "--platform", "linux/amd64", self.ref())

    def test_json_that_costs_more_than_its_size(self):
        """A manifest under the 4 MiB cap that would parse into hundreds of
        megabytes ("[{},{},...]"): refused before it is parsed."""
        # (~3.9 MB: parsed, some 330 MB, past the suite's RSS bound)
        body = b'{"schemaVersion": 2, "layers": [' + b",".join([b"{}"] * 1300000) + b"]}"
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 200, body, {"Content-Type": MANIFEST})
        self.assert_refused(
            "SC_EIO", "%s: the JSON document holds more than 100000 values, the limit"
            % self.ref())
        deep = b"[" * 100 + b"]" * 100
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 200, deep, {"Content-Type": MANIFEST})
        self.assert_refused("SC_EIO", "%s: the JSON document nests deeper than 64 levels"
                            % self.ref())

    def test_too_many_layers(self):
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": sha(b"%d" % i), "size": 1} for i in range(1001)]
        body = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(b"c"),
            "size": 1}, "layers": layers}).encode()
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 200, body, {"Content-Type": MANIFEST})
        self.assert_refused("SC_EUNSUPPORTED", "%s: the manifest lists 1001 layers; at most 1000 "
                            "are supported" % self.ref())

    def test_a_failed_layer_stops_the_pull(self):
        """Every layer answers 404: the pull stops at the first failures
        instead of asking for each of them."""
        img = Image([{"f%d" % i: b"%d" % i} for i in range(40)])
        self.reg.images["many:1"] = img
        self.reg.attacks["blob"] = lambda h, serve: (
            self.reg.reply(h, 404, b'{"errors": []}') if h.path.split("/")[-1] != img.config_digest
            else serve())
        r, _, _ = self.ctl("pull", "--tls-verify=false", self.ref("many:1"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertLessEqual(self.reg.count("blob"), 1 + 8,
                             "layers were still fetched after one had failed")
        self.assert_clean(r)

    def test_index_platforms_are_shown_escaped(self):
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": MANIFEST, "digest": sha(b"%d" % i), "size": 1,
             "platform": {"os": "\x1b]0;owned\x07\n", "architecture": "a" * 100}}
            for i in range(30)]}).encode()
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 200, index, {"Content-Type": INDEX})
        r, _, _ = self.ctl("pull", "--tls-verify=false", self.ref())
        err = json.loads(r.stdout)["error"]["message"]
        self.assertNotIn("\x1b", err)
        self.assertNotIn("\n", err)
        self.assertIn("\\x1b]0;owned\\x07\\x0a/" + "a" * 40 + "...", err)
        self.assertTrue(err.endswith(" and 10 more)"), err)
        self.assertLess(len(err), 4000)

    def test_huge_config(self):
        """A config descriptor past 8 MiB is refused before it is fetched;
        a config blob longer than its descriptor is cut there (and then
        fails its digest)."""
        img = Image([{"a": b"a"}], lambda d: d.update(size=9 * MiB))
        self.reg.images["big:1"] = img
        self.assert_refused("SC_EIO", "%s: config %s: its descriptor says 9437184 bytes, more "
                            "than the limit of 8388608" % (self.ref("big:1"), img.config_digest),
                            self.ref("big:1"))
        self.assertEqual(self.reg.count("blob"), 0)
        img = Image([{"a": b"a"}])
        self.reg.images["long:1"] = img
        config = img.blobs[img.config_digest]
        self.reg.attacks["blob"] = lambda h, serve: (
            stream_forever(h, b"HTTP/1.1 200 OK\r\n\r\n" + config) if h.path.endswith(
                img.config_digest) else serve())
        # the stream stops at the descriptor's size: the rest is never read
        _, elapsed, rss = self.pull_ok(name="long:1")
        self.assertLess(elapsed, 20)
        self.assertLess(rss, RSS_BOUND_KB)

    def test_config_descriptor_without_size(self):
        img = Image([{"a": b"a"}], lambda d: d.pop("size"))
        self.reg.images["nosize:1"] = img
        self.assert_refused("SC_EIO", "%s: config %s: the manifest's descriptor has no valid size"
                            % (self.ref("nosize:1"), img.config_digest), self.ref("nosize:1"))
        img = Image([{"a": b"a"}], lambda d: d.update(size=-1))
        self.reg.images["negsize:1"] = img
        self.assert_refused("SC_EIO", "%s: config %s: the manifest's descriptor has no valid size"
                            % (self.ref("negsize:1"), img.config_digest), self.ref("negsize:1"))

    def test_inspect_remote_exports_total(self):
        """/exports over several layers past the total cap (each file under
        the 4 MiB file limit): inspect --remote stops at the layer that
        passes it, with the default cap (64 MiB) and an overridden one."""
        layers = [{"exports/f%02d" % i: bytes(4 * MiB - 1024)} for i in range(17)]
        img = Image(layers)
        self.reg.images["exports:1"] = img
        r, elapsed, rss = self.assert_refused(
            "SC_EIO", "layer %s: with /exports/f16, /exports would hold more than %d bytes, "
            "the limit (SC_MAX_EXPORTS_BYTES)" % (img.layer_digests[16], 64 * MiB),
            self.ref("exports:1"), verb="images inspect --remote")
        self.assertLess(rss, 64 * MiB // 1024 + RSS_BOUND_KB)
        self.assert_refused(
            "SC_EIO", "layer %s: with /exports/f01, /exports would hold more than 5000000 "
            "bytes, the limit (SC_MAX_EXPORTS_BYTES)" % img.layer_digests[1],
            self.ref("exports:1"), verb="images inspect --remote",
            env={"SC_MAX_EXPORTS_BYTES": "5000000"})
        # within one layer too: the limit is checked before each file is read
        one = Image([{"exports/g%02d" % i: bytes(1000) for i in range(10)}])
        self.reg.images["exports:2"] = one
        self.assert_refused(
            "SC_EIO", "layer %s: with /exports/g05, /exports would hold more than 5000 bytes, "
            "the limit (SC_MAX_EXPORTS_BYTES)" % one.layer_digests[0],
            self.ref("exports:2"), verb="images inspect --remote",
            env={"SC_MAX_EXPORTS_BYTES": "5000"})

    # -- time: drips and silence -------------------------------------------

    def test_drip_feed_manifest(self):
        """A manifest answer (or its headers) one byte every half second:
        the request ends at its deadline (SC_REGISTRY_TIMEOUT=4; long enough for the
        ping on a loaded machine)."""
        env = {"SC_REGISTRY_TIMEOUT": "4"}
        what = "registry %s: GET %s" % (self.reg.host, self.mpath())
        m = self.image.manifest
        self.reg.attacks["manifest"] = lambda h, _: drip(
            h, b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (MANIFEST.encode(), len(m)), m, 0.5)
        self.assert_refused("SC_ENETWORK", what + ": no complete answer within 4 s "
                            "(SC_REGISTRY_TIMEOUT)", env=env, max_seconds=12)
        self.reg.attacks["manifest"] = lambda h, _: drip(
            h, b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 100, 0.5)
        self.assert_refused("SC_ENETWORK", what + ": no complete answer within 4 s "
                            "(SC_REGISTRY_TIMEOUT)", env=env, max_seconds=12)

    def test_drip_feed_blob(self):
        """A layer at 5 bytes per half second with a minimum of 1000
        bytes/s over 4 s: the pull ends after one window, not after the
        blob."""
        env = {"SC_REGISTRY_MIN_RATE": "1000", "SC_REGISTRY_RATE_WINDOW": "4"}
        digest = self.image.layer_digests[0]
        blob = self.image.blobs[digest]

        def attack(h, serve):
            if h.path.endswith(digest):
                h.close_connection = True
                try:
                    h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(blob))
                    for i in range(0, len(blob), 5):
                        h.wfile.write(blob[i:i + 5])
                        h.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass
            else:
                serve()
        self.reg.attacks["blob"] = attack
        self.assert_refused("SC_ENETWORK", "%s: registry %s: GET %s: less than 1000 bytes/s over "
                            "4 s (SC_REGISTRY_MIN_RATE, SC_REGISTRY_RATE_WINDOW)"
                            % (self.ref(), self.reg.host, self.bpath(digest)), env=env,
                            max_seconds=14)

    def test_silent_server(self):
        """No answer at all: to the ping, to the token request, to a
        manifest, to a blob (before its headers)."""
        env = {"SC_REGISTRY_TIMEOUT": "4", "SC_REGISTRY_RATE_WINDOW": "4"}
        self.reg.attacks["ping"] = lambda h, _: silent(h)
        self.assert_refused("SC_ENETWORK", "registry %s: GET /v2/: no complete answer within 4 s "
                            "(SC_REGISTRY_TIMEOUT)" % self.reg.host, env=env, max_seconds=12)
        self.reg.attacks = {"token": lambda h, _: silent(h)}
        self.reg.bearer = True
        self.assert_refused("SC_ENETWORK", "registry %s: token server %s/token: no complete answer "
                            "within 4 s (SC_REGISTRY_TIMEOUT)" % (self.reg.host, self.reg.origin),
                            env=env, max_seconds=12)
        self.reg.bearer = False
        self.reg.attacks = {"manifest": lambda h, _: silent(h)}
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: no complete answer within 4 s "
                            "(SC_REGISTRY_TIMEOUT)" % (self.reg.host, self.mpath()), env=env,
                            max_seconds=12)
        self.reg.attacks = {"blob": lambda h, _: silent(h)}
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: less than 1024 bytes/s over 4 s "
                            "(SC_REGISTRY_MIN_RATE, SC_REGISTRY_RATE_WINDOW)"
                            % (self.reg.host, self.bpath(self.image.config_digest)), env=env,
                            max_seconds=12)

    def test_retry_after_does_not_outlast_the_deadline(self):
        """429 with an enormous Retry-After: the wait is cut at the
        deadline."""
        self.reg.attacks["manifest"] = lambda h, _: self.reg.reply(
            h, 429, b"{}", {"Retry-After": "99999999999999999999999"})
        # (6 s: under ASan on a loaded machine the ping before it once took 4)
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: no complete answer within 6 s "
                            "(SC_REGISTRY_TIMEOUT)" % (self.reg.host, self.mpath()),
                            env={"SC_REGISTRY_TIMEOUT": "6"}, max_seconds=15)

    # -- URLs and header values that libsoup would assert on ----------------

    def redirect(self, kind, location):
        self.reg.attacks[kind] = lambda h, _: self.raw(
            h, b"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location +
            b"\r\nContent-Length: 0\r\n\r\n")

    raw = staticmethod(HostileRegistry.raw)

    def test_redirect_to_file_url(self):
        """A blob (or a manifest) redirected to file:///etc/passwd, to
        data:, to a URL without a host, to one with user information."""
        config = self.image.config_digest
        for location, why in ((b"file:///etc/passwd", "not an http or https URL"),
                              (b"data:,hello", "not an http or https URL"),
                              (b"http:///v2/", "the URL has no valid host"),
                              (b"http://user:pw@127.0.0.1:1/x", "the URL holds user information")):
            self.redirect("blob", location)
            self.assert_refused("SC_ENETWORK", "registry %s: GET %s (redirected to %s): refusing "
                                "URL '%s': %s" % (self.reg.host, self.bpath(config),
                                                  location.decode(), location.decode(), why))
        self.reg.attacks = {}
        self.redirect("manifest", b"file:///etc/passwd")
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s (redirected to file:///etc/passwd): "
                            "refusing URL 'file:///etc/passwd': not an http or https URL"
                            % (self.reg.host, self.mpath()))

    def test_redirect_with_crlf(self):
        """A Location whose escapes decode to a line break, in the host or
        the path, or with raw control characters: refused, or (in the
        path) sent escaped as given, never as a line break."""
        # GUri decodes the host of the redirect target: a line break
        self.redirect("manifest", b"http://127.0.0.1%0d%0aX-Injected%20yes/x")
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s (redirected to "
                            "http://127.0.0.1\\x0d\\x0aX-Injected yes/x): refusing URL "
                            "'http://127.0.0.1\\x0d\\x0aX-Injected yes/x': not printable ASCII"
                            % (self.reg.host, self.mpath()))
        self.redirect("manifest", b"http://127.0.0.1%0d%0aX-Injected:%20yes/x")
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: refusing the redirect to "
                            "'http://127.0.0.1%%0d%%0aX-Injected:%%20yes/x': not a valid URL"
                            % (self.reg.host, self.mpath()))
        self.redirect("manifest", b"http://127.0.0.1/a\x01b")
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: refusing the redirect to "
                            "'http://127.0.0.1/a\\x01b': not printable ASCII"
                            % (self.reg.host, self.mpath()))
        injected = "%s/v2/x%%0d%%0aX-Injected:%%20yes" % self.reg.origin
        self.redirect("manifest", injected.encode())
        self.assert_refused("SC_ENOTFOUND", "registry %s: %s not found" % (self.reg.host,
                                                                      self.mpath()))
        with self.reg.lock:
            seen = [r for r in self.reg.requests if r[1].startswith("/v2/x")]
        # sent escaped (GUri writes the escapes in upper case)
        self.assertEqual([r[1] for r in seen], ["/v2/x%0D%0AX-Injected:%20yes"])
        self.assertNotIn("X-Injected", seen[0][2])

    def test_redirect_loop(self):
        self.redirect("manifest", self.mpath().encode())
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s (redirected to %s%s): more than 5 "
                            "redirects" % (self.reg.host, self.mpath(), self.reg.origin,
                                           self.mpath()))
        self.assertEqual(self.reg.count("manifest"), 6)

    def test_token_with_crlf(self):
        """Tokens that would add a header line, or are not printable
        ASCII: refused before they reach a request."""
        self.reg.bearer = True
        msg = ("registry %s: the token server %s/token sent a token with characters that are "
               "not printable ASCII" % (self.reg.host, self.reg.origin))
        for token in ("abc\r\nX-Injected: yes", "abc\n", "a\x7fb", "caf\u00e9", "a\tb"):
            self.reg.attacks["token"] = lambda h, _, t=token: self.reg.reply(
                h, 200, json.dumps({"token": t}).encode(), {"Content-Type": "application/json"})
            self.assert_refused("SC_EAUTH", msg)
        # NUL: not even JSON to jansson
        self.reg.attacks["token"] = lambda h, _: self.reg.reply(h, 200, b'{"token": "a\\u0000b"}')
        self.assert_refused("SC_EAUTH", "registry %s: the token server %s/token sent no token"
                            % (self.reg.host, self.reg.origin))
        with self.reg.lock:
            self.assertFalse(any("X-Injected" in r[2] for r in self.reg.requests))

    def test_realm_with_control_characters(self):
        """A Bearer realm whose host decodes to a line break, or that is
        not http(s)."""
        self.reg.bearer = True
        for realm, why in (("http://127.0.0.1%0d%0a/token", "the URL has no valid host"),
                           ("file:///etc/passwd", "not an http or https URL")):
            self.reg.attacks["manifest"] = lambda h, _, r=realm: self.reg.reply(
                h, 401, b"{}", {"WWW-Authenticate": 'Bearer realm="%s",service="s"' % r})
            url = realm + ("?service=s&scope=repository%3Ahostile%3Apull")
            self.assert_refused("SC_ENETWORK", "registry %s: the token realm: refusing URL '%s': %s"
                                % (self.reg.host, url, why))

    def test_enormous_www_authenticate(self):
        """A 401 whose challenge is larger than libsoup takes: a clear
        error; one just below it (60 KiB of parameters): parsed, and the
        realm still used."""
        big = "Bearer realm=\"%s/token\",service=\"s\",%s" % (
            self.reg.origin, ",".join("k%d=\"v\"" % i for i in range(6000)))
        self.reg.attacks["manifest"] = lambda h, serve: (
            serve() if h.headers.get("Authorization") else
            self.reg.reply(h, 401, b"{}", {"WWW-Authenticate": big}))
        self.pull_ok()
        self.reg.attacks["manifest"] = lambda h, _: stream_forever(
            h, b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"", b"a" * 65536)
        r, _, _ = self.assert_refused("SC_ENETWORK", "registry %s: GET %s: Header too big"
                                      % (self.reg.host, self.mpath()))

    def test_expires_in_extremes(self):
        """expires_in of 2^63-1, -2^63, 1e300, a string: the token is used
        (for at least a minute and at most a day) and the pull makes one
        token request. UBSan catches the overflow this clamps."""
        self.reg.bearer = True
        for value in ("9223372036854775807", "-9223372036854775808", "1e300", '"soon"', "0"):
            with self.reg.lock:
                self.reg.requests = []
            self.reg.attacks["token"] = lambda h, _, v=value: self.reg.reply(
                h, 200, ('{"token": "%s", "expires_in": %s}' % (self.reg.token, v)).encode())
            self.pull_ok()
            self.assertEqual(self.reg.count("token"), 1, value)

    # -- connections that break --------------------------------------------

    def test_connection_dropped_mid_body(self):
        """The answer stops short of its Content-Length: the error names
        the registry and the request (manifest, token, blob)."""
        short = lambda h, _: self.raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{")
        self.reg.attacks["manifest"] = short
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: Connection terminated unexpectedly"
                            % (self.reg.host, self.mpath()))
        self.reg.attacks = {"token": short}
        self.reg.bearer = True
        self.assert_refused("SC_ENETWORK", "registry %s: token server %s/token: Connection "
                            "terminated unexpectedly" % (self.reg.host, self.reg.origin))
        self.reg.bearer = False
        config = self.image.config_digest
        self.reg.attacks = {"blob": short}
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: the connection dropped at byte 1 of "
                            "%d 4 times: Connection terminated unexpectedly"
                            % (self.reg.host, self.bpath(config),
                               len(self.image.blobs[config])))

    def test_resume_with_wrong_range(self):
        """A blob dropped halfway, then resumed from a Content-Range that
        starts elsewhere: refused, naming the registry and the request."""
        config = self.image.config_digest
        data = self.image.blobs[config]
        half = len(data) // 2

        def attack(h, _):
            if "Range" not in h.headers:
                self.raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) +
                         data[:half])
            else:
                self.reg.reply(h, 206, data, {"Content-Range": "bytes 0-%d/%d\x1b[0m"
                                              % (len(data) - 1, len(data))})
        self.reg.attacks["blob"] = attack
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: asked to resume at byte %d, "
                            "the registry sent Content-Range 'bytes 0-%d/%d\\x1b[0m'"
                            % (self.reg.host, self.bpath(config), half, len(data) - 1,
                               len(data)))

    def test_update_check_with_a_silent_head(self):
        """images update asks with HEAD first: a HEAD that never answers
        ends at the deadline and the check goes on with GET."""
        self.reg.attacks["manifest"] = lambda h, serve: silent(h) if h.command == "HEAD" \
            else serve()
        r, elapsed, _ = self.ctl("images", "update", "--tls-verify=false", self.ref("other:1"),
                                 env={"SC_REGISTRY_TIMEOUT": "4"})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(json.loads(r.stdout)["images"][0]["updated"])
        self.assertGreater(elapsed, 4)
        self.assertLess(elapsed, 12)
        self.assert_clean(r)

    def test_content_length_lies(self):
        """A Content-Length shorter than the body: only that much is read
        (the manifest is then not JSON)."""
        m = self.image.manifest
        self.reg.attacks["manifest"] = lambda h, _: self.raw(
            h, b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 10\r\n\r\n"
            % MANIFEST.encode() + m)
        self.assert_refused("SC_EIO", "%s: the manifest is not a JSON object: premature end of "
                            "input near '\"schemaVe'" % self.ref())

    def test_status_line_with_escape_sequences(self):
        """A reason phrase with terminal escapes is quoted escaped."""
        self.reg.attacks["manifest"] = lambda h, _: self.raw(
            h, b"HTTP/1.1 500 \x1b[31mRED\r\nContent-Length: 0\r\n\r\n")
        self.assert_refused("SC_ENETWORK", "registry %s: GET %s: HTTP 500 '\\x1b[31mRED'"
                            % (self.reg.host, self.mpath()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
