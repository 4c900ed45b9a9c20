"""Registry pulls against a real Docker Distribution registry on 127.0.0.1:
anonymous, Basic, Bearer (a token server of our own in front), digest
references, multi-platform indexes, re-pulls that fetch nothing; and faults
injected by a proxy: dropped connections, corrupt blobs, 429, 500, redirects
to another host. The reference for file trees is skopeo + umoci."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "store"))
import imagelib as il  # noqa: E402
import registry as rg  # noqa: E402

CTL = os.environ["SYSCONTAINERCTL"]


def have(*tools):
    return all(shutil.which(t) for t in tools)


@unittest.skipUnless(os.getuid() == 0 and have("umoci", "skopeo", "docker-registry", "htpasswd"),
                     "needs root, umoci, skopeo, docker-registry and htpasswd")
class RegistryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-reg-")
        cls.layout = os.path.join(cls.shared, "layout")
        il.build_base_image(cls.layout, "base")
        il.rewrite(cls.layout, "base", edit_config=lambda c: c.update(architecture="arm64"),
                   new_tag="arm")
        il.make_index(cls.layout, [("base", "linux", "amd64", None),
                                   ("arm", "linux", "arm64", "v8")], "multi")
        cls.registry = rg.Registry(cls.shared)
        cls.push("oci:%s:base" % cls.layout, "hello:latest")
        cls.push("oci:%s:multi" % cls.layout, "multi:1", "--all")
        cls.reference = il.umoci_unpack(cls.layout, "base", os.path.join(cls.shared, "ref"))

    @classmethod
    def push(cls, src, dest, *extra, registry=None, creds=None):
        args = ["skopeo", "copy", "--dest-tls-verify=false", *extra]
        if creds:
            args += ["--dest-creds", creds]
        il.run(*args, src, "docker://%s/%s" % ((registry or cls.registry).host, dest))

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-reg-t-")
        self.checkout_root = os.path.join(self.tmp, "ck")
        self.repo = os.path.join(self.checkout_root, ".storage", "ostree")
        self.stoppers = []

    def tearDown(self):
        for stop in self.stoppers:
            stop()
        shutil.rmtree(self.tmp)

    def ctl(self, *args, check=True, env=None):
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, *args],
                           capture_output=True, text=True, timeout=120, env=env)
        if check and r.returncode != 0:
            self.fail("syscontainerctl %s: %s" % (" ".join(args), r.stderr))
        return r

    def pull(self, ref, *extra, check=True):
        return self.ctl("pull", "--tls-verify=false", *extra, ref, check=check)

    def refs(self):
        if not os.path.exists(self.repo):
            return []
        return sorted(subprocess.run(["ostree", "--repo=" + self.repo, "refs"], check=True,
                                     capture_output=True, text=True).stdout.split())

    def proxy(self, **kw):
        p = rg.Proxy(self.registry.host, **kw)
        self.stoppers.append(p.stop)
        return p

    def assert_tree(self, name):
        out = os.path.join(self.checkout_root, "out-" + str(len(os.listdir(self.tmp))))
        self.ctl("checkout", name, out)
        a, groups = il.listing(self.reference)
        b, _ = il.listing(out)
        for rel in [k for k, v in a.items() if v[0] not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)]:
            del a[rel]
        self.assertEqual({k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}, {})
        for g in groups:
            self.assertTrue(il.same_inode(out, g))

    # -- plain pulls -----------------------------------------------------

    def test_anonymous_pull_matches_skopeo_and_umoci(self):
        ref = "%s/hello:latest" % self.registry.host
        self.assertEqual(self.pull(ref).stdout, ref + "\n")
        self.assert_tree(ref)
        # skopeo pulls the same image; umoci unpacks it: the same tree
        il.run("skopeo", "copy", "--src-tls-verify=false", "docker://" + ref,
               "oci:%s:x" % os.path.join(self.tmp, "sk"))
        theirs = il.umoci_unpack(os.path.join(self.tmp, "sk"), "x", os.path.join(self.tmp, "skb"))
        self.reference_backup, self.reference = self.reference, theirs
        try:
            self.assert_tree(ref)
        finally:
            self.reference = self.reference_backup

    def test_docker_prefix_and_digest_reference(self):
        ref = "%s/hello:latest" % self.registry.host
        report = json.loads(self.ctl("--json", "pull", "--tls-verify=false", "docker://" + ref).stdout)
        by_digest = "%s/hello@sha256:%s" % (self.registry.host, report["id"])
        self.assertEqual(self.pull(by_digest).stdout, by_digest + "\n")
        self.assertEqual(json.loads(self.ctl("--json", "images", "inspect", by_digest).stdout)["id"],
                         report["id"])
        r = self.pull("%s/hello@sha256:%s" % (self.registry.host, "0" * 64), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)

    def test_repull_fetches_no_blob(self):
        ref = "%s/hello:latest" % self.registry.host
        self.pull(ref)
        before = self.registry.requests("/blobs/")
        report = json.loads(self.ctl("--json", "pull", "--tls-verify=false", ref).stdout)
        self.assertEqual((report["layers_imported"], report["bytes_read"]), (0, 0))
        # issue 13: the config comes from the store: no blob request at all
        self.assertEqual(self.registry.requests("/blobs/"), before)

    def test_multi_platform(self):
        ref = "%s/multi:1" % self.registry.host
        self.pull(ref, "--platform", "linux/arm64", "--name", "arm")
        info = json.loads(self.ctl("--json", "images", "inspect", "arm").stdout)
        self.assertEqual(info["architecture"], "arm64")
        r = self.pull(ref, "--platform", "linux/ppc64le", check=False)
        self.assertIn("no image for linux/ppc64le in the index", r.stderr)

    def test_inspect_remote_stores_nothing(self):
        ref = "%s/hello:latest" % self.registry.host
        info = json.loads(self.ctl("--json", "images", "inspect", "--remote", "--tls-verify=false",
                                   ref).stdout)
        self.assertEqual(info["name"], ref)
        self.assertEqual(info["labels"], {"atomic.type": "system"})
        self.assertEqual(len(info["layers"]), 3)
        port = [v for v in info["variables"] if v["name"] == "PORT"][0]
        self.assertEqual((port["source"], port["default"]), ("manifest", "80"))
        self.assertFalse(os.path.exists(self.repo), "inspect --remote created the store")
        r = self.ctl("images", "inspect", "--remote", "--tls-verify=false",
                     "%s/nosuch:1" % self.registry.host, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)

    def test_update(self):
        ref = "%s/moving:1" % self.registry.host
        self.push("oci:%s:base" % self.layout, "moving:1")
        self.pull(ref)
        gets = self.registry.requests("http.request.method=GET", "/v2/moving/manifests/")
        self.assertEqual(self.ctl("images", "update", "--tls-verify=false", ref).stdout,
                         ref + ": up to date\n")
        # a HEAD answered it: no manifest body was fetched
        self.assertEqual(self.registry.requests("http.request.method=GET", "/v2/moving/manifests/"),
                         gets)
        self.assertGreater(self.registry.requests("http.request.method=HEAD",
                                                  "/v2/moving/manifests/"), 0)
        # the tag moves to a new image with one more layer
        layout = os.path.join(self.tmp, "layout")
        shutil.copytree(self.layout, layout)
        il.add_layer(layout, "base", il.make_tar([il.tinfo("etc/new", data=b"new\n")]),
                     new_tag="v2")
        self.push("oci:%s:v2" % layout, "moving:1")
        report = json.loads(self.ctl("--json", "images", "update", "--tls-verify=false",
                                     "--all").stdout)
        (item,) = [i for i in report["images"] if i["name"] == ref]
        self.assertTrue(item["updated"])
        self.assertEqual(item["layers_imported"], 1)
        self.assertNotEqual(item["old_id"], item["id"])
        out = os.path.join(self.checkout_root, "moved")
        self.ctl("checkout", ref, out)
        with open(os.path.join(out, "etc", "new")) as f:
            self.assertEqual(f.read(), "new\n")
        r = self.ctl("images", "update", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("syscontainerctl: images: update takes an IMAGE or --all\n", r.stderr)

    def test_tls_required_by_default(self):
        r = self.ctl("pull", "%s/hello:latest" % self.registry.host, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--tls-verify=false", r.stderr)
        self.assertEqual(self.refs(), [])

    # -- registries.conf -------------------------------------------------

    def conf(self, text):
        path = os.path.join(self.tmp, "registries-%d.conf" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_mirror_search_and_aliases(self):
        mirror = rg.Registry(self.tmp, proxy_of="http://" + self.registry.host)
        self.stoppers.append(mirror.stop)
        conf = self.conf('''
# the primary is unreachable: only the mirror can serve
unqualified-search-registries = ["example.invalid"]

[[registry]]
prefix = "example.invalid"
location = "127.0.0.1:1"
insecure = true

[[registry.mirror]]
location = "%s"
insecure = true

[aliases]
"app" = "example.invalid/hello"
''' % mirror.host)
        r = self.ctl("pull", "--registries-conf", conf, "example.invalid/hello:latest")
        self.assertEqual(r.stdout, "example.invalid/hello:latest\n")
        self.assertGreater(mirror.requests("/v2/hello/manifests/latest"), 0)
        self.assert_tree("example.invalid/hello:latest")
        # a short name goes through unqualified-search-registries, an alias by its table
        self.assertEqual(self.ctl("pull", "--registries-conf", conf, "hello").stdout,
                         "example.invalid/hello:latest\n")
        self.assertEqual(self.ctl("pull", "--registries-conf", conf, "app:latest").stdout,
                         "example.invalid/hello:latest\n")
        # CONTAINERS_REGISTRIES_CONF is read too
        env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=conf)
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, "pull", "hello"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.stdout, "example.invalid/hello:latest\n", r.stderr)

    def test_short_name_mode(self):
        host = self.registry.host
        two = ('short-name-mode = "%%s"\nunqualified-search-registries = ["%s", '
               '"example.invalid"]\n[[registry]]\nlocation = "%s"\ninsecure = true\n'
               '[aliases]\n"app" = "%s/hello"\n' % (host, host, host))
        conf = self.conf(two % "enforcing")
        r = self.ctl("--json", "pull", "--registries-conf", conf, "hello", check=False)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_EINVAL")
        self.assertEqual(err["message"], "short name 'hello' is ambiguous: short-name-mode is "
                         "enforcing and 2 unqualified-search registries could serve it (%s, "
                         "example.invalid): give the registry, or add an alias in "
                         "registries.conf" % host)
        # an alias, or a qualified name, is not ambiguous
        self.assertEqual(self.ctl("pull", "--registries-conf", conf, "app:latest").stdout,
                         "%s/hello:latest\n" % host)
        # permissive (and unset): tried in order
        conf = self.conf(two % "permissive")
        self.assertEqual(self.ctl("pull", "--registries-conf", conf, "hello").stdout,
                         "%s/hello:latest\n" % host)
        # one search registry is no ambiguity
        conf = self.conf('short-name-mode = "enforcing"\nunqualified-search-registries = '
                         '["%s"]\n[[registry]]\nlocation = "%s"\ninsecure = true\n'
                         % (host, host))
        self.assertEqual(self.ctl("pull", "--registries-conf", conf, "hello").stdout,
                         "%s/hello:latest\n" % host)

    def test_insecure_and_blocked_registries(self):
        host = self.registry.host
        conf = self.conf('[[registry]]\nlocation = "%s"\ninsecure = true\n' % host)
        self.ctl("pull", "--registries-conf", conf, "%s/hello:latest" % host)  # no --tls-verify
        # (containers/image refuses a prefix without a location, but "*.domain")
        conf = self.conf('[[registry]]\nprefix = "%s/hello"\nlocation = "%s/hello"\n'
                         'blocked = true\n' % (host, host))
        r = self.ctl("--json", "pull", "--registries-conf", conf, "--tls-verify=false",
                     "%s/hello:latest" % host, check=False)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_EAUTH")
        self.assertIn("blocked by registries.conf", err["message"])

    def test_registries_conf_errors_name_the_line(self):
        for text, line, message in (
                ("unqualified-search-registries = [\"a\",\n  3]\n", 2,
                 "'unqualified-search-registries' must be an array of strings (item 2 is an "
                 "integer)"),
                ("short-name-mode = \"enforcing\"\n[registries.search]\nregistries = []\n", 3,
                 "mixing sysregistry v1/v2 is not supported"),
                ("x = 1\n", 1, "unknown key 'x'"),
                ("\n[[registry]]\nlocation = {a = 1}\n", 3, "'location' must be a string"),
                ("[[registry]]\ninsecure = \"yes\"\n", 2, "'insecure' must be true or false"),
                ("[[registry.mirror]]\n", 1, "[[registry.mirror]] before any [[registry]]"),
                ("[[registry]]\nlocation = \"a\" extra\n", 2, "unexpected text after the value"),
                ("[aliases]\n\"a\" = \"unterminated\n", 2, "a string runs past the end of the line"),
                ("short-name-mode = \"strict\"\n", 1,
                 "short-name-mode must be \"enforcing\", \"permissive\" or \"disabled\"")):
            with self.subTest(text=text):
                conf = self.conf(text)
                r = self.ctl("pull", "--registries-conf", conf, "x/y:z", check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("%s line %d: %s" % (conf, line, message), r.stderr)

    def test_tls_with_certs_d(self):
        pki = os.path.join(self.tmp, "pki")
        os.makedirs(pki)
        c = rg.make_certificates(pki)
        reg = rg.Registry(self.tmp, tls=(c["server.crt"], c["server.key"]))
        self.stoppers.append(reg.stop)
        self.push("oci:%s:base" % self.layout, "secure:1", registry=reg)
        ref = "%s/secure:1" % reg.host
        r = self.ctl("pull", ref, check=False)  # the CA is unknown to the system
        self.assertEqual(r.returncode, 1)
        self.assertIn("--tls-verify=false", r.stderr)
        # without the checks: https still (this registry speaks nothing else),
        # its certificate taken as it is (the TLS probe of sc_registry_ping)
        self.ctl("pull", "--tls-verify=false", "--name", "insecure", ref)
        self.assert_tree("insecure")
        certs = os.path.join(self.tmp, "certs")
        os.makedirs(certs)
        shutil.copy(c["ca.crt"], os.path.join(certs, "ca.crt"))
        self.ctl("pull", "--cert-dir", certs, "--name", "a", ref)
        # the per-host certs.d directory, found without an option
        config = os.path.join(self.tmp, "config")
        hostdir = os.path.join(config, "containers", "certs.d", reg.host)
        os.makedirs(hostdir)
        shutil.copy(c["ca.crt"], os.path.join(hostdir, "ca.crt"))
        env = dict(os.environ, XDG_CONFIG_HOME=config)
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, "pull", "--name", "b", ref],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_tree("b")

    def test_tls_client_certificate(self):
        pki = os.path.join(self.tmp, "pki")
        os.makedirs(pki)
        c = rg.make_certificates(pki)
        reg = rg.Registry(self.tmp, tls=(c["server.crt"], c["server.key"]), client_ca=c["ca.crt"])
        self.stoppers.append(reg.stop)
        il.run("skopeo", "copy", "--dest-cert-dir", self.client_dir(c, "push"),
               "oci:%s:base" % self.layout, "docker://%s/mtls:1" % reg.host)
        certs = os.path.join(self.tmp, "certs")
        os.makedirs(certs)
        shutil.copy(c["ca.crt"], os.path.join(certs, "ca.crt"))
        r = self.ctl("pull", "--cert-dir", certs, "%s/mtls:1" % reg.host, check=False)
        self.assertEqual(r.returncode, 1)  # no client certificate
        self.ctl("pull", "--cert-dir", self.client_dir(c, "pull"), "%s/mtls:1" % reg.host)

    def client_dir(self, c, name):
        d = os.path.join(self.tmp, "client-" + name)
        os.makedirs(d)
        shutil.copy(c["ca.crt"], os.path.join(d, "ca.crt"))
        shutil.copy(c["client.crt"], os.path.join(d, "client.cert"))
        shutil.copy(c["client.key"], os.path.join(d, "client.key"))
        return d

    # -- authentication --------------------------------------------------

    def test_basic_auth(self):
        reg = rg.Registry(self.tmp, htpasswd={"alice": "s3cret"})
        self.stoppers.append(reg.stop)
        self.push("oci:%s:base" % self.layout, "private:1", registry=reg, creds="alice:s3cret")
        ref = "%s/private:1" % reg.host
        r = self.pull(ref, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("requires a login: give --creds USER[:PASSWORD]", r.stderr)
        r = self.ctl("--json", "pull", "--tls-verify=false", "--creds", "alice:wrong", ref, check=False)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EAUTH")
        self.assertNotIn("wrong", r.stdout)  # the password is never echoed
        self.pull(ref, "--creds", "alice:s3cret")
        self.assert_tree(ref)

    def test_credentials_from_auth_files(self):
        import base64
        reg = rg.Registry(self.tmp, htpasswd={"bob": "pa:ss"})
        self.stoppers.append(reg.stop)
        self.push("oci:%s:base" % self.layout, "team/app:1", registry=reg, creds="bob:pa:ss")
        ref = "%s/team/app:1" % reg.host
        auth = os.path.join(self.tmp, "auth.json")
        with open(auth, "w") as f:
            json.dump({"auths": {
                reg.host: {"auth": base64.b64encode(b"bob:wrong").decode()},
                # the most specific key wins
                reg.host + "/team": {"auth": base64.b64encode(b"bob:pa:ss").decode()}}}, f)
        self.pull(ref, "--authfile", auth, "--name", "a")
        env = dict(os.environ, REGISTRY_AUTH_FILE=auth)
        r = subprocess.run([CTL, "--checkout-root", self.checkout_root, "pull",
                            "--tls-verify=false", "--name", "b", ref], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a Docker config with a credential helper, and one with only credsStore
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        helper = os.path.join(bindir, "docker-credential-sctest")
        with open(helper, "w") as f:
            f.write("#!/bin/sh\nread server\necho \"$server\" >> %s/helper.log\n"
                    "echo '{\"ServerURL\": \"'$server'\", \"Username\": \"bob\", "
                    "\"Secret\": \"pa:ss\"}'\n" % self.tmp)
        os.chmod(helper, 0o755)
        for n, conf in enumerate(({"credHelpers": {reg.host: "sctest"}},
                                  {"auths": {}, "credsStore": "sctest"})):
            docker = os.path.join(self.tmp, "docker%d" % n)
            os.makedirs(docker)
            with open(os.path.join(docker, "config.json"), "w") as f:
                json.dump(conf, f)
            env = dict(os.environ, DOCKER_CONFIG=docker, HOME=self.tmp, XDG_RUNTIME_DIR=self.tmp,
                       PATH=bindir + ":" + os.environ["PATH"])
            env.pop("REGISTRY_AUTH_FILE", None)
            r = subprocess.run([CTL, "--checkout-root", self.checkout_root, "pull",
                                "--tls-verify=false", "--name", "c%d" % n, ref], env=env,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "helper.log")) as f:
            self.assertIn(reg.host, f.read())
        r = self.pull(ref, "--authfile", os.path.join(self.tmp, "missing.json"), check=False)
        self.assertIn("auth file %s does not exist" % os.path.join(self.tmp, "missing.json"), r.stderr)

    def test_bearer_token(self):
        proxy = self.proxy(bearer=True)
        ref = "%s/hello:latest" % proxy.host
        self.pull(ref)
        self.assert_tree(ref)
        token_requests = [p for m, p, h in proxy.seen if p.startswith("/token")]
        self.assertEqual(len(token_requests), 1)  # cached per scope
        self.assertIn("scope=repository%3Ahello%3Apull", token_requests[0])
        self.assertIn("service=test", token_requests[0])

    def test_identity_token_oauth2(self):
        """An identity token (auth.json identitytoken, or a helper's "<token>"
        user) is exchanged by the OAuth2 POST grant_type=refresh_token."""
        proxy = self.proxy(bearer=True)
        proxy.refresh_token = "refresh-me"
        ref = "%s/hello:latest" % proxy.host
        auth = os.path.join(self.tmp, "oauth.json")
        with open(auth, "w") as f:
            json.dump({"auths": {proxy.host: {"identitytoken": "refresh-me"}}}, f)
        self.pull(ref, "--authfile", auth)
        self.assert_tree(ref)
        posts = [e for e in proxy.seen if e[0] == "POST"]
        self.assertTrue(posts)
        form = posts[0][3]
        self.assertEqual((form["grant_type"], form["refresh_token"], form["service"],
                          form["scope"], form["client_id"]),
                         (["refresh_token"], ["refresh-me"], ["test"],
                          ["repository:hello:pull"], ["syscontainerctl"]))
        self.assertNotIn("refresh-me", " ".join(e[1] for e in proxy.seen))  # never in a URL
        # a credential helper answering "<token>"
        bindir = os.path.join(self.tmp, "oauth-bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "docker-credential-oauth"), "w") as f:
            f.write('#!/bin/sh\nread server\necho \'{"Username": "<token>", '
                    '"Secret": "refresh-me"}\'\n')
        os.chmod(os.path.join(bindir, "docker-credential-oauth"), 0o755)
        with open(auth, "w") as f:
            json.dump({"credHelpers": {proxy.host: "oauth"}}, f)
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
        r = self.ctl("pull", "--tls-verify=false", "--authfile", auth, "--name", "viahelper",
                     ref, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a wrong one is refused, saying what to do
        with open(auth, "w") as f:
            json.dump({"auths": {proxy.host: {"identitytoken": "stale"}}}, f)
        r = self.ctl("--json", "pull", "--tls-verify=false", "--authfile", auth, "--name", "x",
                     ref, check=False)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["code"], "SC_EAUTH")
        self.assertIn("refused the identity token (HTTP 401): log in again", err["message"])

    def test_token_expires_mid_pull(self):
        proxy = self.proxy(bearer=True, token_uses=2)
        ref = "%s/hello:latest" % proxy.host
        self.pull(ref)
        self.assertGreater(len([p for m, p, h in proxy.seen if p.startswith("/token")]), 1)
        self.assert_tree(ref)

    # -- faults ----------------------------------------------------------

    def test_dropped_connection_resumes_with_range(self):
        proxy = self.proxy()
        proxy.faults["drop_blob"] = 2
        ref = "%s/hello:latest" % proxy.host
        self.pull(ref)
        ranges = [h.get("Range") for m, p, h in proxy.seen if "/blobs/" in p and h.get("Range")]
        self.assertTrue(ranges and all(r.startswith("bytes=") for r in ranges), proxy.seen)
        self.assert_tree(ref)

    def test_corrupt_blob(self):
        # another image first (a re-pull of hello would read no blob at all:
        # the store has its config and layers)
        self.pull("%s/multi:1" % self.registry.host, "--platform", "linux/arm64", "--name", "good")
        before = self.refs()
        proxy = self.proxy()
        proxy.faults["corrupt_blob"] = True
        r = self.ctl("--json", "pull", "--tls-verify=false", "%s/hello:latest" % proxy.host, check=False)
        err = json.loads(r.stdout)["error"]
        # the config is a blob too: the first digest that fails is reported
        self.assertEqual(err["code"], "SC_EDIGEST", err)
        self.assertIn("has digest sha256:", err["message"])
        self.assertEqual(self.refs(), before)

    def test_429_and_500_are_retried(self):
        proxy = self.proxy()
        proxy.faults["status"] = [429]
        t0 = time.monotonic()
        self.pull("%s/hello:latest" % proxy.host, "--name", "a")
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)  # Retry-After: 1
        proxy.faults["status"] = [500, 503]
        self.pull("%s/hello:latest" % proxy.host, "--name", "b")
        proxy.faults["status"] = [500] * 10
        r = self.pull("%s/hello:latest" % proxy.host, "--name", "c", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 500", r.stderr)

    def test_redirect_to_another_host_drops_authorization(self):
        recorder = rg.Recorder(self.registry.host)
        self.stoppers.append(recorder.stop)
        proxy = self.proxy(bearer=True)
        proxy.faults["redirect_blobs"] = recorder.origin
        ref = "%s/hello:latest" % proxy.host
        self.pull(ref)
        self.assert_tree(ref)
        blob_gets = [h for m, p, h in recorder.seen if "/blobs/" in p]
        self.assertTrue(blob_gets)
        self.assertFalse([h for h in blob_gets if "Authorization" in h], blob_gets)
        self.assertTrue([h for m, p, h in proxy.seen
                         if "/manifests/" in p and h.get("Authorization", "").startswith("Bearer ")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
