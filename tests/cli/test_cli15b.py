"""Issue 15 tried by an outside tester (/work/notes/trial15-report.md): image
names with an empty repository, images delete of several images, every empty
--opt= value and repeated options as usage errors, the unreadable store's
message, update --auto-update's confirmation, pull's log lines."""

import json
import os
import re
import subprocess
import tempfile
import shutil
import unittest

from cli15lib import CTL, ImageSysrootCase, run, synopsis


class StoreCase(ImageSysrootCase):
    def names(self):
        r = self.ctl("--json", "images", "list")
        return sorted(i["name"] for i in json.loads(r.stdout)["images"])

    def refs(self):
        return sorted(subprocess.run(["ostree", "--repo=" + self.repo, "refs"],
                                     capture_output=True, text=True, check=True).stdout.split())


class ImageNameTest(StoreCase):
    def test_empty_repository_refused_everywhere(self):
        r = self.ctl("pull", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.refs()
        # (pull --name '' is a usage error: OptionValueTest)
        for args, value in ((["pull", "--name", ":t", self.image], ":t"),
                            (["pull", "--name", "@sha256:" + "a" * 64, self.image],
                             "@sha256:" + "a" * 64),
                            (["pull", "--name", "localhost/:t", self.image], "localhost/:t"),
                            (["pull", "--name", "quay.io/", self.image], "quay.io/"),
                            (["images", "tag", "localhost/layout:v1", ""], ""),
                            (["images", "tag", "localhost/layout:v1", ":x"], ":x"),
                            (["images", "tag", "localhost/layout:v1", "localhost/"], "localhost/"),
                            (["images", "tag", "localhost/layout:v1", "localhost/:x"],
                             "localhost/:x")):
            r = self.ctl(*args)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (
                1, "", "syscontainerctl: error: image name '%s': the repository name is "
                "empty\n" % value), args)
            self.assertEqual(self.refs(), before, args)
        # an explicit reference with an empty path, where a name is looked up
        r = self.ctl("images", "tag", "localhost/layout:v1", "x:")
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: image reference "
                         "'localhost/x:': tag '' is not valid ([A-Za-z0-9_][A-Za-z0-9_.-]*, at "
                         "most 128 characters)\n"))
        self.assertEqual(self.names(), ["localhost/layout:v1"])

    def test_delete_an_empty_name_an_older_build_stored(self):
        self.assertEqual(self.ctl("install", "--name", "c", self.image).returncode, 0)
        commit = subprocess.run(["ostree", "--repo=" + self.repo, "rev-parse",
                                 "ociimage/localhost_2Flayout_3Av1"], capture_output=True,
                                text=True, check=True).stdout.strip()
        for bad in ("localhost/:latest", "localhost/:x"):
            enc = "".join(c if c.isalnum() or c in ".-" else "_%02X" % ord(c) for c in bad)
            subprocess.run(["ostree", "--repo=" + self.repo, "refs",
                            "--create=ociimage/" + enc, commit], check=True)
        self.assertEqual(self.names(), ["localhost/:latest", "localhost/:x",
                                        "localhost/layout:v1"])
        # the image is in use, but not by these names: no --force needed
        r = self.ctl("images", "delete", "localhost/:latest", "localhost/:x")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        self.assertEqual(self.names(), ["localhost/layout:v1"])
        # the valid name still needs --force
        r = self.ctl("images", "delete", "localhost/layout:v1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is used by container deployment 'c.0'", r.stderr)


class ImagesDeleteTest(StoreCase):
    def test_every_target_attempted(self):
        self.assertEqual(self.ctl("pull", self.image).returncode, 0)
        for tag in ("a", "b", "c"):
            self.assertEqual(self.ctl("images", "tag", self.image, "x:" + tag).returncode, 0)
        r = self.ctl("images", "delete", "localhost/x:a", "nope", "localhost/x:b", "bad name")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "syscontainerctl: error: image 'nope' is not in the store\n"
                         "syscontainerctl: error: image 'bad name' is not in the store\n")
        self.assertEqual(self.names(), ["localhost/layout:v1", "localhost/x:c"])
        r = self.ctl("--json", "images", "delete", "nope", "localhost/x:c")
        self.assertEqual((r.returncode, r.stderr), (1, ""))
        self.assertEqual(json.loads(r.stdout), {"schema": 1, "images": [
            {"name": "nope", "error": "image 'nope' is not in the store", "code": "SC_ENOTFOUND"},
            {"name": "localhost/x:c", "deleted": True}]})
        self.assertEqual(self.names(), ["localhost/layout:v1"])
        r = self.ctl("--json", "images", "delete", "localhost/layout:v1")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"schema": 1, "images": [
            {"name": "localhost/layout:v1", "deleted": True}]}))
        self.assertEqual(self.names(), [])


class UpdateAutoUpdateTest(StoreCase):
    def test_update_says_what_it_set(self):
        self.assertEqual(self.ctl("install", "--name", "c", self.image).returncode, 0)
        info = os.path.join(self.sysroot, "var/lib/containers/atomic/c.0/info")

        def policy():
            with open(info) as f:
                return json.load(f)["auto-update"]["policy"]
        self.assertEqual(policy(), "disabled")
        for args, out in (
            (["--dry-run"], "c: latest version already installed\n"
             "c: would set automatic updates: registry (was disabled)\n"),
            ([], "c: latest version already installed\n"
             "c: automatic updates: registry (was disabled)\n"),
            ([], "c: latest version already installed\nc: automatic updates: registry "
             "(unchanged)\n")):
            r = self.ctl("update", "c", "--auto-update=registry", *args)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, out, ""), args)
        self.assertEqual(policy(), "registry")
        r = self.ctl("--json", "update", "c", "--auto-update=disabled", "--dry-run")
        self.assertEqual(json.loads(r.stdout)["auto_update"],
                         {"policy": "disabled", "from": "option", "was": "registry"})
        self.assertEqual(policy(), "registry")
        r = self.ctl("--json", "update", "c", "--auto-update=disabled")
        self.assertEqual(json.loads(r.stdout)["auto_update"],
                         {"policy": "disabled", "from": "option", "was": "registry"})
        self.assertEqual(policy(), "disabled")
        # without the option: the policy in the document, nothing more said
        r = self.ctl("update", "c")
        self.assertEqual((r.returncode, r.stdout), (0, "c: latest version already installed\n"))
        r = self.ctl("--json", "update", "c")
        self.assertEqual(json.loads(r.stdout)["auto_update"],
                         {"policy": "disabled", "from": "option", "was": "disabled"})


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class NonRootTest(StoreCase):
    def nobody(self, *args, home="/nonexistent"):
        env = {k: v for k, v in os.environ.items()
               if k not in ("GSETTINGS_BACKEND", "GIO_USE_VFS", "XDG_CACHE_HOME")}
        env["HOME"] = home
        return subprocess.run([*NOBODY, CTL, "--sysroot", self.sysroot, *args],
                              capture_output=True, text=True, env=env, timeout=120)

    def test_unreadable_store_is_said_so(self):
        self.assertEqual(self.ctl("pull", self.image).returncode, 0)
        subprocess.run(["chmod", "-R", "a+rX", self.sysroot], check=True)
        os.chmod(self.repo, 0o700)
        why = ("syscontainerctl: error: image store %s: cannot read it: Permission denied\n"
               % self.repo)
        for args in (["images", "list"], ["install", "--dry-run", "localhost/layout:v1"],
                     ["install", "--dry-run", "--tls-verify=false", "127.0.0.1:1/demo"],
                     ["run", "localhost/layout:v1", "true"]):
            r = self.nobody(*args)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", why), args)
        r = self.nobody("--json", "install", "--dry-run", "localhost/layout:v1")
        self.assertEqual(json.loads(r.stdout)["error"], {
            "code": "SC_EIO", "message": why[len("syscontainerctl: error: "):-1]})
        os.chmod(self.repo, 0o755)

    def test_delete_on_a_store_that_cannot_change_is_one_error(self):
        self.assertEqual(self.ctl("pull", self.image).returncode, 0)
        subprocess.run(["chmod", "-R", "a+rX", self.sysroot], check=True)
        # (under --sysroot the up-front root check is left to the store)
        why = "image store %s: cannot be changed: Permission denied" % self.repo
        r = self.nobody("images", "delete", "localhost/layout:v1", "nope")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, "", "syscontainerctl: error: %s\n" % why))
        r = self.nobody("--json", "images", "delete", "localhost/layout:v1", "nope")
        self.assertEqual((r.returncode, json.loads(r.stdout)),
                         (1, {"schema": 1, "error": {"code": "SC_EIO", "message": why}}))
        self.assertEqual(self.names(), ["localhost/layout:v1"])

    def test_no_dconf_lines_without_a_writable_home(self):
        # no store yet: the pull is tried (libsoup, GIO's proxy resolver)
        subprocess.run(["chmod", "a+rx", self.sysroot], check=True)
        for home in ("/nonexistent", "/proc"):
            r = self.nobody("install", "--dry-run", "--tls-verify=false", "127.0.0.1:1/demo",
                            home=home)
            self.assertEqual((r.returncode, r.stdout), (1, ""), home)
            self.assertEqual(r.stderr, "syscontainerctl: error: image '127.0.0.1:1/demo' is not "
                             "in the store and could not be pulled: registry 127.0.0.1:1: GET "
                             "/v2/: Could not connect to 127.0.0.1: Connection refused\n", home)


def value_options(*verb):
    """The options that take a value in VERB's --help (the command table):
    [(name, metavar)]; global ones from --help."""
    out = []
    for line in run(*verb, "--help").stdout.splitlines():
        m = re.match(r"^  (?:-\w, )?(--[a-z-]+) ([^\s\[]\S*)", line)
        if m:
            out.append(m.groups())
    return out


class OptionValueTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-cli15b-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def assert_usage(self, args, verb, reason, sub=None):
        r = run("--sysroot", self.tmp, *args)
        usage = synopsis(verb, sub) if sub else synopsis(verb)
        self.assertEqual((r.returncode, r.stdout), (2, ""), (args, r.stderr))
        self.assertEqual(r.stderr, "syscontainerctl: %s: %s\n%sTry 'syscontainerctl help %s'.\n"
                         % (verb, reason, usage, verb + (" " + sub if sub else "")), args)

    def test_every_empty_value_is_a_usage_error(self):
        glob = value_options()
        self.assertIn(("--sysroot", "DIR"), glob)
        self.assertGreaterEqual(len(glob), 8)
        verbs = [("install", None), ("update", None), ("render", None), ("pull", None),
                 ("run", None), ("list", None), ("images", "list"), ("images", "inspect"),
                 ("images", "update"), ("trust", "set")]
        seen = set()
        for verb, sub in verbs:
            words = [verb] + ([sub] if sub else [])
            opts = value_options(*words) + glob
            for name, meta in opts:
                seen.add(name)
                for form in ([name + "="], [name, ""]):
                    self.assert_usage(words + form + ["x"], verb, "option '%s' has an empty "
                                      "value (expected %s)" % (name, meta), sub)
        for name in ("--name", "--sysroot", "--repo", "--checkout-root", "--runtime", "--output",
                     "--platform", "--rootfs", "--rebase", "--set", "--jobs", "--settle",
                     "--format", "--log-level", "--auto-update", "--filter", "--creds",
                     "--authfile", "--image-name", "--image-id", "--type", "--pubkeysfile",
                     "--lookaside", "--cert-dir", "--registries-conf", "--registries-d",
                     "--signature-policy"):
            self.assertIn(name, seen)
        # a short option's empty value too
        self.assert_usage(["list", "-f", ""], "list",
                          "option '--filter' has an empty value (expected KEY=VALUE)")
        # --tls-verify= is a boolean's: its own check
        self.assert_usage(["pull", "--tls-verify=", "x"], "pull",
                          "--tls-verify '': expected true or false")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_repeated_options(self):
        for args, verb, opt, new, old in (
            (["install", "--name", "x", "--name", "y", "--dry-run", "i"], "install", "--name",
             "y", "x"),
            (["--sysroot", "/", "list"], "list", "--sysroot", "/", self.tmp),
            (["install", "--auto-update=registry", "--auto-update=disabled", "i"], "install",
             "--auto-update", "disabled", "registry"),
            (["pull", "--tls-verify", "--tls-verify=false", "i"], "pull", "--tls-verify",
             "false", "true"),
            (["update", "a", "--rebase", "i", "--rebase=j"], "update", "--rebase", "j", "i"),
            (["pull", "--jobs", "2", "--jobs=3", "i"], "pull", "--jobs", "3", "2"),
            (["--log-level", "info", "--log-level", "debug", "list"], "list", "--log-level",
             "debug", "info"),
        ):
            self.assert_usage(args, verb, "%s %s conflicts with %s %s" % (opt, new, opt, old))
        # the same value twice, --set and -f several times: fine
        r = run("--sysroot", self.tmp, "--sysroot", self.tmp, "list", "-a", "--all",
                "-f", "image=x", "-f", "runtime=y")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("render", os.path.join(self.tmp, "nope"), "--set", "A=1", "--set", "B=2",
                "--name", "n", "--name", "n")
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("conflicts", r.stderr)


class PullLogTest(StoreCase):
    def test_pull_logs_at_info_and_debug(self):
        r = self.ctl("pull", self.image)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(self.ctl("images", "delete", "localhost/layout:v1").returncode, 0)
        for flags in (["-v"], ["-vv"], ["--log-level", "info"], ["--log-level", "debug"]):
            r = self.ctl(*flags, "pull", self.image)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stderr.splitlines()
            manifest = [l for l in lines if ": manifest sha256:" in l]
            self.assertEqual(len(manifest), 1, lines)
            self.assertRegex(manifest[0], r"^syscontainerctl: oci:%s:v1: manifest sha256:[0-9a-f]"
                             r"{64}, to be stored as localhost/layout:v1$" % re.escape(
                                 self.layout))
            layers = [l for l in lines if re.match(r"^syscontainerctl: layer \d+/\d+ sha256:", l)]
            self.assertTrue(layers, lines)
            self.assertRegex(lines[-1], r"^syscontainerctl: localhost/layout:v1: stored \(commit "
                             r"[0-9a-f]{64}, \d+ of \d+ layers imported\)$")
        # the second pull found every layer present
        self.assertTrue(all("already in the store" in l for l in lines if "/" in l.split()[2]))
        # the registry's requests at debug level only
        for flags, seen in ((["-v"], False), (["-vv"], True), (["--log-level", "debug"], True)):
            r = self.ctl(*flags, "pull", "--tls-verify=false", "127.0.0.1:1/x")
            self.assertEqual(r.returncode, 1)
            self.assertEqual("syscontainerctl: registry 127.0.0.1:1: GET http://127.0.0.1:1/v2/\n"
                             in r.stderr, seen, r.stderr)


class ImagesOrderTest(StoreCase):
    def test_sorted_by_repository_then_tag(self):
        self.assertEqual(self.ctl("pull", self.image).returncode, 0)
        for name in ("strictt2:latest", "strictt:latest", "strictt:a", "a-b:1", "a:1", "a:10",
                     "a:2"):
            self.assertEqual(self.ctl("images", "tag", self.image, name).returncode, 0)
        want = [("localhost/a", "1"), ("localhost/a", "10"), ("localhost/a", "2"),
                ("localhost/a-b", "1"), ("localhost/layout", "v1"), ("localhost/strictt", "a"),
                ("localhost/strictt", "latest"), ("localhost/strictt2", "latest")]
        r = self.ctl("--json", "images", "list")
        self.assertEqual([(i["repository"], i["tag"]) for i in json.loads(r.stdout)["images"]],
                         want)
        r = self.ctl("images", "list")
        self.assertEqual([tuple(l.split()[:2]) for l in r.stdout.splitlines()[1:]], want)


class CompletionTest(unittest.TestCase):
    def complete(self, *words):
        r = run("__complete", *words)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        return r.stdout.splitlines()

    def test_what_the_parser_refuses_is_not_offered(self):
        # complete.c's conflicts, each one a usage error of the parser
        for line, hidden in ((["update", "--all"], ["--rebase", "--auto-update"]),
                             (["update", "x", "--rebase", "i"], ["--all", "--auto"]),
                             (["update", "x", "--auto-update=registry"], ["--all", "--auto"])):
            offered = self.complete(*line, "--")
            for opt in hidden:
                self.assertNotIn(opt, offered, line)
                given = {"--rebase": ["--rebase", "i"],
                         "--auto-update": ["--auto-update=registry"]}.get(opt, [opt])
                args = line + given
                r = run(*args, "--dry-run")
                self.assertEqual(r.returncode, 2, (args, r.stderr))

    def test_candidates_once(self):
        subs = self.complete("images", "")
        self.assertEqual(subs, ["list", "inspect", "tag", "delete", "prune", "verify", "update"])
        self.assertEqual(self.complete("help", "images", ""), subs)
        self.assertEqual(self.complete("images", "list", "-f", "dangling="),
                         ["dangling=true", "dangling=false"])
        self.assertEqual(self.complete("render", ""), [":dirs"])
        self.assertEqual(self.complete("render", "x", "--output", ""), [":dirs"])
        self.assertEqual(self.complete("--authfile", ""), [":files"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
