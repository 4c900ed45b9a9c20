"""Test fixtures: a real Docker Distribution registry (the docker-registry
package) on 127.0.0.1, and a small HTTP proxy in front of it that can
authenticate with Bearer tokens of its own and inject faults."""

import base64
import http.client
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_http(url, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            u = urllib.parse.urlparse(url)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
            try:
                c.request("GET", u.path)
                c.getresponse().read()
            finally:
                c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not come up" % url)


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("port %d did not open" % port)


def make_certificates(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    for name in ("server", "client"):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
            name + ".key", "-out", name + ".csr")
        ssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", name + ".crt")
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key", "client.crt",
                                             "client.key")}


class Registry:
    """docker-registry serving on 127.0.0.1:PORT, with its request log."""

    def __init__(self, workdir, htpasswd=None, proxy_of=None, tls=None, client_ca=None):
        self.port = free_port()
        self.dir = os.path.join(workdir, "registry-%d" % self.port)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "log")
        lines = ["version: 0.1", "log: {level: info, formatter: text}", "storage:",
                 "  filesystem: {rootdirectory: %s}" % os.path.join(self.dir, "data"),
                 "  delete: {enabled: true}", "http:", "  addr: 127.0.0.1:%d" % self.port]
        if tls:
            lines += ["  tls:", "    certificate: %s" % tls[0], "    key: %s" % tls[1]]
            if client_ca:
                lines += ["    clientcas: [%s]" % client_ca]
        if htpasswd:
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                for user, password in htpasswd.items():
                    f.write(subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                           capture_output=True, text=True).stdout.strip() + "\n")
            lines += ["auth:", "  htpasswd: {realm: test, path: %s}" % path]
        if proxy_of:
            lines += ["proxy: {remoteurl: %s}" % proxy_of]
        conf = os.path.join(self.dir, "config.yml")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if tls:
            wait_port(self.port)
        else:
            wait_http("http://127.0.0.1:%d/v2/" % self.port)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def requests(self, *patterns):
        """How many logged requests have every one of the patterns in their
        log line (e.g. "http.request.method=HEAD", "/manifests/")."""
        self.log.flush()
        with open(self.log_path) as f:
            return sum(1 for line in f if "http.request.uri=" in line
                       and all(p in line for p in patterns) and "response completed" in line)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Proxy:
    """Forwards to a registry; faults and auth are switched per test.

    faults: a dict; keys:
      "drop_blob": N  - the first N blob GETs send half the body, then close
      "corrupt_blob": True - flip a byte in every blob body
      "status": [code, ...] - answer these statuses first (429 carries Retry-After: 1)
      "redirect_blobs": "http://127.0.0.2:PORT" - 307 blob GETs to that origin
    bearer: issue and require tokens from /token (expire after `token_uses` uses)
    refresh_token: when set, /token gives tokens only for the OAuth2 POST
      grant_type=refresh_token with this refresh token (an identity token)
    """

    def __init__(self, upstream, bearer=False, token_uses=None, bind="127.0.0.1"):
        self.upstream = upstream
        self.bearer = bearer
        self.token_uses = token_uses
        self.faults = {}
        self.refresh_token = None
        self.seen = []  # (method, path, headers)
        self.tokens = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                proxy.handle(self, "GET")

            def do_HEAD(self):
                proxy.handle(self, "HEAD")

            def do_POST(self):
                proxy.handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer((bind, free_port(bind)), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = "http://%s:%d" % (bind, self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, h, status, body=b"", headers=None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h, method):
        with self.lock:
            self.seen.append((method, h.path, dict(h.headers)))
            statuses = self.faults.get("status")
            status = statuses.pop(0) if statuses else None
        if h.path.startswith("/token"):
            q = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
            if method == "POST":
                n = int(h.headers.get("Content-Length", "0"))
                q = urllib.parse.parse_qs(h.rfile.read(n).decode())
                with self.lock:
                    self.seen[-1] = (method, h.path, dict(h.headers), q)
            if self.refresh_token is not None and (
                    method != "POST" or q.get("grant_type") != ["refresh_token"]
                    or q.get("refresh_token") != [self.refresh_token]):
                self.reply(h, 401, b'{"error": "invalid_grant"}')
                return
            tok = base64.b64encode(os.urandom(12)).decode()
            with self.lock:
                self.tokens[tok] = self.token_uses
            self.reply(h, 200, json.dumps({"access_token": tok, "expires_in": 300,
                                           "scope": q.get("scope", [""])[0]}).encode(),
                       {"Content-Type": "application/json"})
            return
        if status is not None:
            self.reply(h, status, b"{}", {"Retry-After": "1"} if status == 429 else {})
            return
        if self.bearer:
            auth = h.headers.get("Authorization", "")
            tok = auth[7:] if auth.startswith("Bearer ") else None
            with self.lock:
                left = self.tokens.get(tok, 0) if tok else 0
                ok = tok in self.tokens and (left is None or left > 0)
                if ok and left is not None:
                    self.tokens[tok] = left - 1
            if not ok:
                repo = h.path.split("/")[2] if h.path.count("/") > 2 else ""
                self.reply(h, 401, b'{"errors": []}', {
                    "WWW-Authenticate": 'Bearer realm="%s/token",service="test",scope="repository:%s:pull"'
                    % (self.origin, repo)})
                return
        is_blob = "/blobs/" in h.path
        redirect = self.faults.get("redirect_blobs")
        if is_blob and redirect:
            self.reply(h, 307, b"", {"Location": redirect + h.path})
            return
        headers = {k: v for k, v in h.headers.items() if k in ("Accept", "Range")}
        c = http.client.HTTPConnection("127.0.0.1", int(self.upstream.split(":")[1]), timeout=30)
        try:
            c.request(method, h.path, headers=headers)
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        out_headers = {k: v for k, v in r.getheaders()
                       if k.lower() in ("content-type", "docker-content-digest", "content-range",
                                        "www-authenticate")}
        if is_blob and method == "GET" and r.status in (200, 206):
            with self.lock:
                drop = self.faults.get("drop_blob", 0)
                if drop:
                    self.faults["drop_blob"] = drop - 1
            if self.faults.get("corrupt_blob") and body:
                body = body[:-1] + bytes([body[-1] ^ 0xff])
            if drop:
                h.send_response(r.status)
                for k, v in out_headers.items():
                    h.send_header(k, v)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
        self.reply(h, r.status, body, out_headers)


class Recorder:
    """Another host (127.0.0.2) that serves blobs from the registry and records
    the headers it was sent."""

    def __init__(self, upstream):
        self.proxy = Proxy(upstream, bind="127.0.0.2")
        self.origin = self.proxy.origin

    @property
    def seen(self):
        return self.proxy.seen

    def stop(self):
        self.proxy.stop()
