"""Issue 15 tried by a second outside tester (/work/notes/trial15b-report.md):
path options under --sysroot (a writing verb never leaves the sysroot),
update --rebase to a name of the same image, install with another runtime,
trust set's usage errors, and smaller usage errors."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from cli15lib import CTL, HERE, ImageSysrootCase, run, synopsis

ACCEPT = os.environ["SC_SIGNATURE_POLICY"]
SCHEMAS = os.path.join(os.environ.get("SC_SOURCE_ROOT", os.path.join(HERE, "..", "..")),
                       "data", "schemas")


def valid(name, doc):
    """The schema errors of @doc against data/schemas/@name.json."""
    import jsonschema
    with open(os.path.join(SCHEMAS, name + ".json")) as f:
        v = jsonschema.Draft202012Validator(json.load(f),
                                            format_checker=jsonschema.FormatChecker())
    return [e.message for e in v.iter_errors(doc)]


def snapshot(top):
    """Every path under @top with its content (files) or kind."""
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    out[p] = f.read()
            else:
                out[p] = "dir" if os.path.isdir(p) else "other"
    return out


class SysrootPathTest(unittest.TestCase):
    """(D2) --signature-policy and --registries-d are paths of the system
    operated on: under --sysroot, inside it, as --checkout-root and --repo
    are; $SC_SIGNATURE_POLICY stays this machine's, and trust then refuses
    to write it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-cli15c-")
        self.sysroot = os.path.join(self.tmp, "root")
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(self.sysroot, "etc/containers"))
        os.makedirs(self.outside)
        # the same path exists outside: it must not be the one written
        self.host_policy = os.path.join(self.outside, "policy.json")
        with open(self.host_policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        self.env = {k: v for k, v in os.environ.items() if k != "SC_SIGNATURE_POLICY"}
        self.env["HOME"] = home

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_trust_default_writes_only_inside_the_sysroot(self):
        before = snapshot(self.outside)
        r = run("--sysroot", self.sysroot, "--signature-policy", self.host_policy,
                "--json", "trust", "default", "reject", env=self.env)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(json.loads(r.stdout), {"schema": 1, "ok": True})
        self.assertEqual(snapshot(self.outside), before)
        inside = os.path.join(self.sysroot, self.host_policy.lstrip("/"))
        with open(inside) as f:
            self.assertEqual(json.load(f)["default"], [{"type": "reject"}])
        # trust set, with a lookaside in --registries-d: inside too
        rd = os.path.join(self.outside, "registries.d")
        r = run("--sysroot", self.sysroot, "--signature-policy", self.host_policy,
                "--registries-d", rd, "trust", "set", "--type", "accept",
                "--lookaside", "https://sigs.example.com", "example.com:5000", env=self.env)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(snapshot(self.outside), before)
        with open(inside) as f:
            self.assertEqual(json.load(f)["transports"]["docker"]["example.com:5000"],
                             [{"type": "insecureAcceptAnything"}])
        self.assertEqual(os.listdir(os.path.join(self.sysroot, rd.lstrip("/"))),
                         ["example.com:5000.yaml"])
        # trust show reads the same files and names them as seen from here
        r = run("--sysroot", self.sysroot, "--signature-policy", self.host_policy,
                "--registries-d", rd, "--json", "trust", "show", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(inside, r.stdout)
        self.assertIn("https://sigs.example.com", r.stdout)

    def test_environment_policy_is_not_written_under_a_sysroot(self):
        before = snapshot(self.outside)
        env = dict(self.env, SC_SIGNATURE_POLICY=self.host_policy)
        for args in (["trust", "default", "reject"],
                     ["trust", "set", "--type", "reject", "example.com"]):
            r = run("--sysroot", self.sysroot, *args, env=env)
            self.assertEqual(r.returncode, 1, args)
            self.assertEqual(
                r.stderr,
                "syscontainerctl: error: signature policy %s is not in the sysroot %s (it comes "
                "from $SC_SIGNATURE_POLICY), and trust under --sysroot writes only inside it: "
                "give --signature-policy FILE (a path in the sysroot)\n"
                % (self.host_policy, self.sysroot))
        self.assertEqual(snapshot(self.outside), before)
        self.assertEqual(os.listdir(os.path.join(self.sysroot, "etc/containers")), [])
        # the home's policy likewise
        home_policy = os.path.join(self.env["HOME"], ".config/containers/policy.json")
        os.makedirs(os.path.dirname(home_policy))
        shutil.copy(self.host_policy, home_policy)
        r = run("--sysroot", self.sysroot, "trust", "default", "reject", env=self.env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("(it comes from your home directory)", r.stderr)
        with open(home_policy) as f:
            self.assertNotIn("reject", f.read())

    def test_escaping_link_stays_inside(self):
        # a link in the sysroot to the outside file resolves inside the sysroot
        os.symlink(self.host_policy, os.path.join(self.sysroot, "etc/containers/policy.json"))
        before = snapshot(self.outside)
        r = run("--sysroot", self.sysroot, "--signature-policy", "/etc/containers/policy.json",
                "trust", "default", "reject", env=self.env)
        self.assertEqual(snapshot(self.outside), before)
        self.assertNotEqual(r.returncode, 2, r.stderr)


class StoreCase(ImageSysrootCase):
    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual((r.returncode, r.stderr), (0, ""), (args, r.stdout))
        return r

    def info(self, name):
        slot = os.path.basename(os.readlink(os.path.join(self.checkout, name)))
        with open(os.path.join(self.checkout, slot, "info")) as f:
            return json.load(f)


class RebaseTest(StoreCase):
    """(D3, D10) update --rebase to another name of the same image moves the
    container to that name; update NAME --json gives its image."""

    def test_rebase_to_a_name_of_the_same_image(self):
        self.ok("pull", "--name", "example.com:5000/sys/greeter:1", self.image)
        self.ok("images", "tag", "example.com:5000/sys/greeter:1", "localhost/other:t1")
        self.ok("install", "--name", "web", "--set", "GREETING=Hi",
                "example.com:5000/sys/greeter:1")
        old = self.info("web")
        # dry run: says it would update, and changes nothing
        r = self.ok("--json", "update", "--rebase", "localhost/other:t1", "--dry-run", "web")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["would_update"], doc["image"], doc["id"]),
                         (True, "localhost/other:t1", old["revision"]))
        self.assertEqual(self.info("web")["image"], "example.com:5000/sys/greeter:1")
        r = self.ok("--json", "update", "--rebase", "localhost/other:t1", "web")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["updated"], doc["image"], doc["id"], doc["deployment"]),
                         (True, "localhost/other:t1", old["revision"],
                          "/var/lib/containers/atomic/web.1"))
        info = self.info("web")
        self.assertEqual((info["image"], info["values"]["IMAGE_NAME"],
                          info["values"]["GREETING"]),
                         ("localhost/other:t1", "localhost/other:t1", "Hi"))
        r = self.ok("--json", "list", "-a")
        self.assertEqual([(c["name"], c["image"]) for c in json.loads(r.stdout)["containers"]],
                         [("web", "localhost/other:t1")])
        # the same name again: nothing to do, and the document says which image
        r = self.ok("--json", "update", "--rebase", "localhost/other:t1", "web")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["updated"], doc["image"], doc["deployment"]),
                         (False, "localhost/other:t1", None))
        r = self.ok("update", "web")
        self.assertEqual(r.stdout, "web: latest version already installed\n")
        r = self.ok("--json", "update", "web")
        self.assertEqual(json.loads(r.stdout)["image"], "localhost/other:t1")
        # back to the first name by its short form: a rebase again
        r = self.ok("update", "--rebase", "example.com:5000/sys/greeter:1", "web")
        self.assertEqual(r.stdout, "web: updated to %.12s (/var/lib/containers/atomic/web.0)\n"
                         % old["revision"])
        self.assertEqual(self.info("web")["image"], "example.com:5000/sys/greeter:1")


class InstallRuntimeTest(StoreCase):
    """(D5) install of an installed container with another --runtime is a
    difference, as another image or values are: refused, naming update."""

    def test_another_runtime(self):
        self.ok("--runtime", "/usr/sbin/runc", "install", "--name", "c", self.image)
        before = snapshot(self.sysroot)
        r = self.ok("--runtime", "/usr/sbin/runc", "install", "--name", "c", self.image)
        self.assertEqual(r.stdout, "c already installed\n")
        r = self.ctl("--runtime", "runc", "install", "--name", "c", self.image)
        self.assertEqual((r.returncode, r.stdout), (0, "c already installed\n"), r.stderr)
        for args in ([], ["--dry-run"]):
            r = self.ctl("--runtime", "/usr/bin/crun", "install", "--name", "c", *args,
                         self.image)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (
                1, "", "syscontainerctl: error: container c is already installed with runtime "
                "/usr/sbin/runc, not /usr/bin/crun: use 'syscontainerctl --runtime "
                "/usr/bin/crun update c' to change it\n"), args)
        r = self.ctl("--runtime", "/nonexistent/runc", "--json", "install", "--dry-run",
                     "--name", "c", self.image)
        self.assertEqual(r.returncode, 1)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["message"], "runtime '/nonexistent/runc' is not installed: no "
                         "executable file at that path")
        self.assertEqual(snapshot(self.sysroot), before)
        with open(os.path.join(self.checkout, "c.0", "info")) as f:
            self.assertEqual(json.load(f)["runtime"], "/usr/sbin/runc")


@unittest.skipUnless(os.getuid() == 0 and shutil.which("skopeo") and
                     shutil.which("docker-registry"), "needs root, skopeo and docker-registry")
class TagAndDigestTest(unittest.TestCase):
    """(D4) NAME:TAG@DIGEST is stored as NAME:TAG (podman keeps the tag;
    the digest is the image's ID); REPO@DIGEST is listed with tag <none>
    and its digest apart."""

    @classmethod
    def setUpClass(cls):
        import imagelib as il
        import registry as rg
        cls.tmp = tempfile.mkdtemp(prefix="sc-cli15c-reg-")
        layout = os.path.join(cls.tmp, "layout")
        il.build_base_image(layout, "base")
        cls.registry = rg.Registry(cls.tmp)
        cls.host = cls.registry.host
        il.run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:base" % layout,
               "docker://%s/demo:v2" % cls.host)
        out = il.run("skopeo", "inspect", "--tls-verify=false", "docker://%s/demo:v2" % cls.host)
        cls.digest = json.loads(out.stdout if hasattr(out, "stdout") else out)["Digest"]

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.tmp)

    def test_tag_and_digest(self):
        sysroot = tempfile.mkdtemp(dir=self.tmp)

        def ctl(*args):
            r = run("--sysroot", sysroot, *args)
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
            return r
        demo = "%s/demo" % self.host
        r = ctl("--json", "pull", "--tls-verify=false", "%s:v2@%s" % (demo, self.digest))
        self.assertEqual(json.loads(r.stdout)["name"], demo + ":v2")
        ctl("pull", "--tls-verify=false", "%s@%s" % (demo, self.digest))
        r = ctl("--json", "images", "list")
        got = [(i["name"], i["repository"], i["tag"], i.get("digest"))
               for i in json.loads(r.stdout)["images"]]
        self.assertEqual(got, [("%s@%s" % (demo, self.digest), demo, "<none>", self.digest),
                               (demo + ":v2", demo, "v2", None)])
        r = ctl("images", "list", "-f", "repo=" + demo)
        lines = r.stdout.splitlines()
        self.assertEqual([line.split()[:2] for line in lines],
                         [["NAME", "TAG"], [demo, "<none>"], [demo, "v2"]])
        # both names are the same image, found by either reference
        for ref in ("%s:v2@%s" % (demo, self.digest), "%s@%s" % (demo, self.digest),
                    demo + ":v2"):
            r = ctl("--json", "images", "inspect", ref)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["id"], self.digest[len("sha256:"):], ref)


class TrustSetUsageTest(unittest.TestCase):
    """(D9) trust set's --type and key count are usage errors (exit 2), found
    before the scope, and nothing is written."""

    def test_bad_type_and_keys(self):
        tmp = tempfile.mkdtemp(prefix="sc-cli15c-")
        self.addCleanup(shutil.rmtree, tmp)
        env = {k: v for k, v in os.environ.items() if k != "SC_SIGNATURE_POLICY"}
        env["HOME"] = tmp
        usage = synopsis("trust", "set")
        self.assertTrue(usage.startswith("Usage: syscontainerctl trust set [--type"), usage)
        for args, reason in (
                (["--type", "bogus", "x"],
                 "--type 'bogus': expected signedBy, sigstoreSigned, accept or reject"),
                (["--type=accept", "--pubkeysfile", "/etc/passwd", "docker.io"],
                 "--type accept takes no --pubkeysfile (got 1)"),
                (["--type", "reject", "-f", "/a", "-f", "/b", "docker.io"],
                 "--type reject takes no --pubkeysfile (got 2)"),
                (["--type", "sigstoreSigned", "-f", "/a", "-f", "/b", "docker.io"],
                 "--type sigstoreSigned takes one --pubkeysfile (got 2)"),
                (["--type", "sigstoreSigned", "docker.io"],
                 "--type sigstoreSigned needs a public key (--pubkeysfile FILE)"),
                (["x"], "--type signedBy needs a public key (--pubkeysfile FILE)")):
            for json_opt in ([], ["--json"]):
                r = run("--sysroot", tmp, *json_opt, "trust", "set", *args, env=env)
                self.assertEqual((r.returncode, r.stdout), (2, ""), args)
                self.assertEqual(r.stderr, "syscontainerctl: trust: %s\n%sTry 'syscontainerctl "
                                 "help trust set'.\n" % (reason, usage), args)
        self.assertEqual(os.listdir(tmp), [])
        # a good type and a bad scope: the scope's error, exit 1
        r = run("--sysroot", tmp, "trust", "set", "--type", "accept", "x", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("syscontainerctl: error: scope 'x': expected a "
                                            "registry"), r.stderr)


class SmallUsageTest(unittest.TestCase):
    """(D13) --version with operands, -v with --log-level, '-- list', an
    empty filter value: usage errors (exit 2); a bad limit variable is an
    error naming it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-cli15c-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def usage(self, args, reason, verb=None):
        r = run(*args)
        self.assertEqual((r.returncode, r.stdout), (2, ""), (args, r.stderr))
        if verb:
            want = "syscontainerctl: %s: %s\n%sTry 'syscontainerctl help %s'.\n" % (
                verb.split()[0], reason, synopsis(*verb.split()), verb)
        else:
            want = "syscontainerctl: %s\nTry 'syscontainerctl --help'.\n" % reason
        self.assertEqual(r.stderr, want, args)

    def test_usage_errors(self):
        r = run("--version")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertRegex(r.stdout, r"^syscontainerctl \S+ \(libsyscontainer \S+\)\n$")
        self.usage(["--version", "extra"], "--version takes no command or argument (got 'extra')")
        self.usage(["list", "--version"], "--version takes no command or argument (got 'list')",
                   "list")
        self.usage(["--sysroot", self.tmp, "--version", "images", "list"],
                   "--version takes no command or argument (got 'images')", "images list")
        # --help still wins
        r = run("list", "--version", "--help")
        self.assertEqual((r.returncode, r.stdout), (0, synopsis("list") + r.stdout[
            len(synopsis("list")):]))
        self.usage(["-v", "--log-level", "error", "list"], "-v conflicts with --log-level error",
                   "list")
        self.usage(["--log-level", "warning", "-v", "list"],
                   "-v conflicts with --log-level warning", "list")
        self.usage(["-vv", "--log-level", "info", "list"], "-vv conflicts with --log-level info",
                   "list")
        self.usage(["--sysroot", self.tmp, "images", "list", "-f", "repo="],
                   "--filter 'repo=': the value is empty (expected KEY=VALUE)", "images list")
        self.usage(["--sysroot", self.tmp, "list", "--filter=name="],
                   "--filter 'name=': the value is empty (expected KEY=VALUE)", "list")
        # the same level twice is fine: -v is --log-level info
        for args in (["-v", "--log-level", "info"], ["--log-level=debug", "-vv"]):
            r = run("--sysroot", self.tmp, *args, "list")
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
        # after "--" the command is an operand like any other
        r = run("--sysroot", self.tmp, "--", "list")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout.split(), ["NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME"])
        self.usage(["--", "list", "--sysroot", self.tmp],
                   "takes no arguments (got 2 arguments)", "list")
        self.usage(["--"], "no command given")
        # an empty IMAGE names nothing
        for args, n in ((["delete", "a", ""], 2), (["inspect", ""], 1), (["verify", ""], 1),
                        (["tag", "", "x"], 1)):
            self.usage(["--sysroot", self.tmp, "images", *args],
                       "%s: argument %d is empty" % (args[0], n), "images " + args[0])
        # (D12) the registry options of images inspect are --remote's
        for opt in (["--platform", "linux/arm64"], ["--tls-verify=false"],
                    ["--creds", "a:b"]):
            self.usage(["--sysroot", self.tmp, "images", "inspect", *opt, "x"],
                       "option '%s' is only for images inspect --remote"
                       % option_word(opt[0]), "images inspect")

    def test_limit_variables(self):
        for name in ("SC_MAX_LAYER_BYTES", "SC_MAX_LAYER_ENTRIES", "SC_MAX_PATH_DEPTH",
                     "SC_MAX_RENDERED_BYTES", "SC_MAX_HOSTFS_FILES", "SC_MAX_EXPORTS_BYTES"):
            for value in ("abc", "0", "-1", "12k"):
                r = run("--sysroot", self.tmp, "images", "list",
                        env=dict(os.environ, **{name: value}))
                self.assertEqual((r.returncode, r.stdout, r.stderr), (
                    1, "", "syscontainerctl: error: $%s '%s': expected a positive whole "
                    "number\n" % (name, value)), (name, value))
        self.assertEqual(os.listdir(self.tmp), [])
        r = run("--sysroot", self.tmp, "images", "list",
                env=dict(os.environ, SC_MAX_LAYER_BYTES="1048576", SC_MAX_PATH_DEPTH=""))
        self.assertEqual((r.returncode, r.stderr), (0, ""))


class UninstallReasonTest(StoreCase):
    """(D15) uninstall --json of a container that is not installed says why
    in its entry (code, message), not on stderr; a failed one has a code."""

    def test_not_installed(self):
        self.ok("install", "--name", "web", self.image)
        r = self.ctl("--json", "uninstall", "web", "nope", "bad/name")
        self.assertEqual((r.returncode, r.stderr), (1, ""))
        doc = json.loads(r.stdout)
        self.assertEqual(valid("uninstall", doc), [])
        self.assertEqual(doc["containers"][1:], [
            {"name": "nope", "removed": False, "kept": [],
             "reason": {"code": "SC_ENOTFOUND", "message": "container nope is not installed"}},
            {"name": "bad/name", "code": "SC_EINVAL",
             "error": "container name 'bad/name' has a character that is not allowed at byte 4 "
                      "(allowed: letters, digits, '_', '.', '@', '-')"}])
        self.assertEqual(doc["containers"][0]["removed"], True)
        r = self.ctl("--json", "uninstall", "web")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(json.loads(r.stdout)["containers"][0]["reason"]["code"], "SC_ENOTFOUND")
        # the text output says it on stderr, once
        r = self.ctl("uninstall", "web")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, "", "syscontainerctl: warning: container web is not installed\n"))


@unittest.skipUnless(os.getuid() == 0, "needs root (mount)")
class MountJsonTest(StoreCase):
    """(D11) mount/umount --json in the documents' vocabulary: an image's
    reference, name and id; a container's name, image and id; umount's
    mounted false."""

    def test_image_and_container(self):
        self.ok("pull", "--name", "example.com:5000/sys/greeter:1", self.image)
        self.ok("install", "--name", "web", "example.com:5000/sys/greeter:1")
        img = json.loads(self.ok("--json", "images", "inspect",
                                 "example.com:5000/sys/greeter:1").stdout)
        mnt = os.path.join(self.sysroot, "mnt")
        os.makedirs(mnt)
        for what, want in (
                (img["id"][:12], {"reference": img["id"][:12],
                                  "name": "example.com:5000/sys/greeter:1", "id": img["id"],
                                  "type": "ostree-image"}),
                ("web", {"name": "web", "image": "example.com:5000/sys/greeter:1",
                         "id": img["id"], "type": "ostree-container"})):
            r = self.ok("--json", "mount", what, mnt)
            self.addCleanup(subprocess.run, ["umount", mnt], capture_output=True)
            doc = json.loads(r.stdout)
            self.assertEqual(valid("mount", doc), [])
            self.assertEqual(doc, dict(want, schema=1, dir=mnt, mounted=True))
            r = self.ok("--json", "umount", mnt)
            doc = json.loads(r.stdout)
            self.assertEqual(valid("mount", doc), [])
            self.assertEqual(doc, {"schema": 1, "dir": mnt, "type": want["type"],
                                   "mounted": False})
        r = self.ok("mount", "web", mnt)
        self.assertEqual(r.stdout, "web mounted on %s (ostree-container)\n" % mnt)
        self.ok("umount", mnt)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
HOST_CMD = ("[Unit]\nDescription=$NAME\n[Service]\nExecStartPre=+/bin/true pre\n"
            "ExecStart=$EXEC_START\nExecStop=$EXEC_STOP\n[Install]\n"
            "WantedBy=multi-user.target\n")


@unittest.skipUnless(os.getuid() == 0 and shutil.which("setpriv") and shutil.which("umoci"),
                     "needs root, setpriv and umoci")
class NonRootTest(unittest.TestCase):
    """(D7, D8) a user in system mode is told root or --user, before the
    pull; a user's unit runs its commands as the user, not as root."""

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.tmp = tempfile.mkdtemp(prefix="sc-cli15c-nr-")
        os.chmod(cls.tmp, 0o755)
        cls.layout = os.path.join(cls.tmp, "layout")
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}},
                 {"exports/service.template": HOST_CMD}, hostfs=False)
        subprocess.run(["chmod", "-R", "a+rX", cls.tmp], check=True)
        path = os.path.dirname(os.path.realpath(CTL))
        while path != "/":
            os.chmod(path, os.stat(path).st_mode | 0o755)
            path = os.path.dirname(path)
        cls.image = "oci:%s:v1" % cls.layout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def own_dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        os.chown(d, 65534, 65534)
        os.chmod(d, 0o700)
        return d

    def nobody(self, *args, env):
        return subprocess.run(NOBODY + ["--", CTL, *args], capture_output=True, text=True,
                              env=env, cwd="/", timeout=120)

    def test_system_mode_checkout_root_of_ones_own(self):
        ck = self.own_dir("ck")
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "SC_SIGNATURE_POLICY": ACCEPT}
        r = self.nobody("--checkout-root", ck, "install", "--no-enable", self.image, env=env)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", "syscontainerctl: error: install needs root: cannot write /etc/systemd/system "
            "(Permission denied) (your own containers: --user)\n"))
        self.assertEqual(os.listdir(ck), [])  # said before the pull
        r = self.nobody("--checkout-root", ck, "--json", "install", self.image, env=env)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EPERM")

    def test_unreadable_sysroot_is_named(self):
        """(D14) a sysroot the user cannot read: said as such, every verb."""
        root = os.path.join(self.tmp, "root")
        os.makedirs(root, mode=0o700)
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
        want = "sysroot %s: cannot read it: Permission denied" % root
        for args in (["list"], ["images", "list"], ["uninstall", "x"], ["images", "delete", "x"],
                     ["trust", "show"], ["trust", "default", "reject"], ["info"],
                     ["inspect", "x"]):
            r = self.nobody("--sysroot", root, *args, env=env)
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (1, "", "syscontainerctl: error: %s\n" % want), args)
        r = self.nobody("--sysroot", root, "--json", "list", env=env)
        self.assertEqual(json.loads(r.stdout)["error"], {"code": "SC_EIO", "message": want})
        self.assertEqual(os.listdir(root), [])

    def test_user_mode_info(self):
        """(D6) info says the mode, the unit directory and that the store is
        the user's own (not "configured")."""
        data, conf, run_dir = self.own_dir("i-data"), self.own_dir("i-conf"), self.own_dir("i-run")
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "XDG_DATA_HOME": data,
               "XDG_CONFIG_HOME": conf, "XDG_RUNTIME_DIR": run_dir}
        r = self.nobody("info", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "mode:             user")
        self.assertIn("checkout root:    %s/containers/atomic" % data, lines)
        self.assertIn("image store:      %s/containers/atomic/repo (user)" % data, lines)
        self.assertIn("unit directory:   %s/systemd/user" % conf, lines)
        doc = json.loads(self.nobody("--json", "info", env=env).stdout)
        self.assertEqual((doc["mode"], doc["store"]["chosen"], doc["unit_dir"]),
                         ("user", "user", conf + "/systemd/user"))
        self.assertEqual(valid("info", doc), [])
        # a store the user named is configured
        r = self.nobody("--json", "info", env=dict(env, ATOMIC_OSTREE_REPO=data + "/r"))
        self.assertEqual(json.loads(r.stdout)["store"]["chosen"], "configured")
        # root's
        r = run("--sysroot", self.tmp, "info")
        self.assertEqual(r.stdout.splitlines()[0], "mode:             system")
        self.assertIn("unit directory:   /etc/systemd/system", r.stdout.splitlines())
        # the global help gives a user's defaults too
        r = run("--help")
        self.assertIn("  --checkout-root DIR  deployments directory (default "
                      "/var/lib/containers/atomic;\n                       a user's: "
                      "~/.local/share/containers/atomic)\n", r.stdout)

    def test_user_mode_privileges_name_the_user(self):
        data, conf, run_dir = self.own_dir("data"), self.own_dir("conf"), self.own_dir("run")
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "XDG_DATA_HOME": data,
               "XDG_CONFIG_HOME": conf, "XDG_RUNTIME_DIR": run_dir, "SC_SIGNATURE_POLICY": ACCEPT}
        # a user's unit runs nothing on the host but the runtime (trial17b
        # N10): the host command is refused, not reviewed
        r = self.nobody("install", "--dry-run", "--name", "c", self.image, env=env)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(": ExecStartPre=+/bin/true pre: a user's container's unit runs nothing on "
                      "the host but its runtime", r.stderr)
        self.assertEqual(r.stdout, "")
        # the same image installed by root: root runs it
        sysroot = tempfile.mkdtemp(dir=self.tmp)
        r = run("--sysroot", sysroot, "install", "--dry-run", "--name", "c", self.image)
        self.assertIn("+ unit runs /bin/true pre as root on the host (ExecStartPre)\n", r.stdout)


MAN = os.path.join(os.environ.get("SC_SOURCE_ROOT", os.path.join(HERE, "..", "..")), "docs",
                   "syscontainerctl.1.md")
SUBS = {"images": ["list", "inspect", "tag", "delete", "prune", "verify", "update"],
        "trust": ["show", "set", "default"]}
REGISTRY = {"--platform", "--creds", "--tls-verify", "--authfile", "--registries-conf",
            "--cert-dir"}


def option_word(w):
    """--tls-verify[=false], --auto-update=registry: the option's name."""
    return re.split(r"[=\[\]]", w)[0]


class HelpManTest(unittest.TestCase):
    """(D12) every option the man page documents for a command is in its
    --help and the reverse; its usage lines name the options the man
    page's SYNOPSIS does."""

    @classmethod
    def setUpClass(cls):
        with open(MAN) as f:
            cls.lines = f.read().splitlines()

    def synopsis(self):
        """(verb[, sub]) -> options, from the man page's SYNOPSIS lines."""
        lines = self.lines[self.lines.index("# SYNOPSIS"):self.lines.index("# DESCRIPTION")]
        out = {}
        for line in lines:
            if not line.startswith("**syscontainerctl** [*GLOBAL OPTIONS*]"):
                continue
            verb = None
            for alt in line.split("[*GLOBAL OPTIONS*]", 1)[1].split(" | "):
                words = re.findall(r"\*\*([^*]+)\*\*", alt)
                first = [w for w in words if not w.startswith("-")]
                if verb in SUBS and first and first[0] in SUBS[verb]:
                    key = (verb, first[0])
                elif first and first[0] in SUBS:
                    verb, key = first[0], (first[0], first[1])
                else:
                    verb, key = first[0], (first[0],)
                out.setdefault(key, set()).update(
                    option_word(w) for w in words if w.startswith("-") and w != "--")
        return out

    def entry(self, key):
        """The text of @key's COMMANDS entries, one line."""
        head = "**" + " ".join(key)
        lines = self.lines[self.lines.index("# COMMANDS"):self.lines.index("# GLOBAL OPTIONS")]
        out, on = [], False
        for line in lines:
            if line.startswith("**"):
                on = line.startswith((head + "**", head + " ")) or (", " + head) in line
            if on:
                out.append(line)
        return re.sub(r"\s+", " ", " ".join(out))

    def help(self, key):
        """The --help of @key: its options (long names), short -> long, and
        the options its usage lines name."""
        r = run(*key, "--help")
        self.assertEqual(r.returncode, 0, key)
        opts, shorts, usage, section = set(), {}, [], "usage"
        for line in r.stdout.splitlines():
            if section == "usage" and not line.startswith(("Usage: ", "   or: ", " " * 10)):
                section = None
            if section == "usage":
                usage.append(line)
            if line == "Options:":
                section = "options"
            elif section == "options" and not line.startswith(" "):
                section = None
            m = section == "options" and re.match(r"^  (?:(-\w), )?(--[\w-]+)", line)
            if m:
                opts.add(m.group(2))
                if m.group(1):
                    shorts[m.group(1)] = m.group(2)
        named = {option_word(w)
                 for w in re.findall(r"(?<![\w-])(-{1,2}[a-z][\w-]*)", " ".join(usage))}
        return opts, shorts, named

    def test_man_page_and_help_agree(self):
        synopsis = self.synopsis()
        # every command of the usage text is in the man page's SYNOPSIS
        self.assertEqual(len(synopsis), 26, sorted(synopsis))
        for key, documented in sorted(synopsis.items()):
            opts, shorts, named = self.help(key)
            self.assertEqual(named, documented, ("usage lines", key))
            documented = {shorts.get(o, o) for o in documented}
            if "registry options of **pull** apply" in self.entry(key):
                documented |= REGISTRY
            self.assertEqual(opts, documented, key)

    def test_option_texts(self):
        # (D12) --name on pull is the image's; -a on update is every container
        r = run("help", "pull")
        self.assertIn("  --name NAME          the name to give (install, render: the "
                      "container's;\n                       pull: the image's, NAME[:TAG])\n",
                      r.stdout)
        self.assertIn("   or: syscontainerctl update --all [--auto] [--settle SECONDS] [--dry-run] "
                      "[--accept-privileges]\n", run("help", "update").stdout)
        r = run("--sysroot", "/nonexistent-sc", "update", "--all", "--settle", "3",
                "--accept-privileges", "--dry-run")
        self.assertNotEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
