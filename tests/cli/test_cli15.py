"""syscontainerctl's command line (issue 15): every verb's help, every usage
error (exit 2, "syscontainerctl: VERB: REASON", the verb's usage lines),
short options, filters, --format json, -v/-vv/--log-level, --version,
boolean --tls-verify, and the tables sized to their content."""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import unittest

CTL = os.environ["SYSCONTAINERCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))

VERBS = ["render", "lint", "pull", "images", "checkout", "install", "update", "rollback",
         "inspect", "start", "stop", "run", "uninstall", "list", "mount", "umount", "info",
         "trust", "help"]
IMAGES_SUBS = ["list", "inspect", "tag", "delete", "prune", "verify", "update"]
TRUST_SUBS = ["show", "set", "default"]


def run(*args, env=None):
    return subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=120)


def run_on_terminal(args, cols, stream="stderr"):
    """@args with @stream on a terminal @cols wide (the other one a pipe):
    (exit code, what the pipe got, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    kw = {"stdout": slave, "stderr": subprocess.PIPE} if stream == "stdout" else \
        {"stdout": subprocess.PIPE, "stderr": slave}
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    p = subprocess.Popen([CTL, *args], stdin=subprocess.DEVNULL, env=env, **kw)
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 60)[0]:
        try:
            data = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not data:
            break
        seen += data
    pipe = p.stdout or p.stderr
    piped = pipe.read()
    pipe.close()
    p.wait()
    os.close(master)
    return p.returncode, piped.decode(), seen.decode()


def synopsis(*verb):
    """The usage lines of VERB [SUB]: its help up to the first blank line."""
    return run(*verb, "--help").stdout.split("\n\n")[0] + "\n"


class HelpTest(unittest.TestCase):
    def test_every_verb_help(self):
        general = run("--help").stdout
        for verb in VERBS:
            r = run(verb, "--help")
            self.assertEqual((r.returncode, r.stderr), (0, ""), verb)
            self.assertTrue(r.stdout.startswith("Usage: syscontainerctl %s" % verb), r.stdout)
            self.assertNotEqual(r.stdout, general)
            self.assertIn("\nGlobal options: see 'syscontainerctl --help'.\n", r.stdout)
            # help VERB, -h and --help before the verb say the same
            for args in (["help", verb], [verb, "-h"], ["--help", verb]):
                self.assertEqual(run(*args).stdout, r.stdout, args)

    def test_sub_command_help(self):
        for verb, subs in (("images", IMAGES_SUBS), ("trust", TRUST_SUBS)):
            for sub in subs:
                r = run(verb, sub, "--help")
                self.assertEqual((r.returncode, r.stderr), (0, ""), (verb, sub))
                lines = r.stdout.splitlines()
                self.assertTrue(lines[0].startswith("Usage: syscontainerctl %s %s" % (verb, sub)),
                                lines[0])
                # only that sub-command's forms
                for line in lines:
                    if line.startswith("   or: "):
                        self.assertTrue(line.startswith("   or: syscontainerctl %s %s" %
                                                        (verb, sub)), line)
                self.assertEqual(run("help", verb, sub).stdout, r.stdout)
        r = run("images", "list", "--help")
        self.assertEqual(r.stdout.splitlines()[0],
                         "Usage: syscontainerctl images list [-q] [-n] [-f KEY=VALUE]...")
        self.assertIn("\n  -q, --quiet          only the names (images: the IDs)\n", r.stdout)
        self.assertIn("\n  -n, --no-trunc       do not shorten IDs\n", r.stdout)
        self.assertIn("\n  -f, --filter KEY=VALUE\n", r.stdout)
        self.assertNotIn("--force", r.stdout)
        self.assertNotIn("--tls-verify", r.stdout)
        r = run("images", "delete", "--help")
        self.assertIn("--force", r.stdout)
        self.assertNotIn("--quiet", r.stdout)
        self.assertIn("--tls-verify[=true|false]", run("images", "update", "--help").stdout)
        self.assertNotIn("Options:", run("images", "tag", "--help").stdout)
        self.assertIn("-f, --pubkeysfile FILE", run("trust", "set", "--help").stdout)
        self.assertNotIn("Options:", run("trust", "show", "--help").stdout)

    def test_list_help_options(self):
        r = run("list", "--help")
        self.assertEqual(r.stdout.splitlines()[0],
                         "Usage: syscontainerctl list [-a] [-q] [-n] [-f KEY=VALUE]...")
        for opt in ("-a, --all", "-q, --quiet", "-n, --no-trunc", "-f, --filter KEY=VALUE"):
            self.assertIn("\n  " + opt, r.stdout)
        self.assertIn("--tls-verify[=true|false]", run("install", "--help").stdout)

    def test_global_help_lists_global_options(self):
        r = run("--help").stdout
        for opt in ("--format json|table", "-v, --verbose", "--log-level LEVEL", "--version"):
            self.assertIn("\n  " + opt, r)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        # the tool's version and the library's, each once
        self.assertRegex(r.stdout,
                         r"^syscontainerctl \d+\.\d+\.\d+ \(libsyscontainer \d+\.\d+\.\d+\)\n$")
        self.assertEqual(r.stdout.count("libsyscontainer"), 1)
        # (trial15b D13: with a command it is a usage error, test_cli15c)
        self.assertEqual(run("list", "--version").returncode, 2)


class UsageErrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-cli15-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def assert_usage(self, args, verb, reason, sub=None):
        r = run("--sysroot", self.tmp, *args)
        usage = synopsis(verb, sub) if sub else synopsis(verb)
        self.assertEqual((r.returncode, r.stdout), (2, ""), (args, r.stderr))
        self.assertEqual(r.stderr, "syscontainerctl: %s: %s\n%sTry 'syscontainerctl help %s'.\n"
                         % (verb, reason, usage, verb + (" " + sub if sub else "")), args)

    def test_usage_errors(self):
        for args, verb, reason in (
            (["install", "--set", "K", "x"], "install", "--set 'K': expected KEY=VALUE"),
            (["install", "--set=K", "x"], "install", "--set 'K': expected KEY=VALUE"),
            (["install", "--set", "=V", "x"], "install", "--set '=V': expected KEY=VALUE"),
            (["render", "/x", "--set", "NOEQUALS"], "render", "--set 'NOEQUALS': expected KEY=VALUE"),
            (["run", "--set", "K", "img"], "run", "--set 'K': expected KEY=VALUE"),
            (["install", "--bogus", "x"], "install", "unknown option '--bogus'"),
            (["list", "-z"], "list", "unknown option '-z'"),
            (["list", "-az"], "list", "unknown option '-z'"),
            (["lint", "-a", "/x"], "lint", "unknown option '-a'"),
            (["install", "-q", "x"], "install", "unknown option '-q'"),
            (["install", "--all", "x"], "install", "unknown option '--all'"),
            (["render"], "render", "takes one image directory (got 0 arguments)"),
            (["lint", "a", "b"], "lint", "takes one image directory (got 2 arguments)"),
            (["checkout", "a"], "checkout", "takes an image and a directory (got 1 argument)"),
            (["list", "extra"], "list", "takes no arguments (got 1 argument)"),
            (["info", "extra"], "info", "takes no arguments (got 1 argument)"),
            (["rollback"], "rollback", "takes one container name (got 0 arguments)"),
            (["inspect"], "inspect", "takes one container name"),
            (["uninstall"], "uninstall", "takes one or more container names"),
            (["install", "x", "--name"], "install", "option '--name' needs a value (NAME)"),
            (["list", "-f"], "list", "option '-f' needs a value (KEY=VALUE)"),
            (["list", "-f", "image"], "list", "--filter 'image': expected KEY=VALUE"),
            (["list", "-f", "color=red"], "list",
             "unknown filter 'color' (expected container, image, backend or runtime)"),
            (["list", "--all=yes"], "list", "option '--all' takes no value"),
            (["--json=1", "list"], "list", "option '--json' takes no value"),
            (["pull", "--tls-verify=maybe", "x"], "pull", "--tls-verify 'maybe': expected true or false"),
            (["pull", "--tls-verify", "a", "b"], "pull", "takes one source (got 2 arguments)"),
            (["pull", "--tls-verify"], "pull", "takes one source (got 0 arguments)"),
            (["pull", "--jobs", "0", "x"], "pull", "--jobs '0': expected a number from 1 to 64"),
            (["--format", "yaml", "list"], "list", "--format 'yaml': expected json or table"),
            (["--log-level", "loud", "list"], "list",
             "--log-level 'loud': expected error, warning, info or debug"),
            (["update"], "update", "takes one container name or --all (got 0 arguments)"),
            (["update", "--all", "x"], "update", "--all takes no container name and no --rebase"),
            (["images"], "images",
             "needs a command (list, inspect, tag, delete, prune, verify, update)"),
            (["images", "frob"], "images", "unknown command 'frob'"),
            (["trust"], "trust", "needs a command (show, set or default)"),
            (["trust", "frob"], "trust", "unknown command 'frob' (expected show, set or default)"),
            (["help", "frob"], "help", "unknown command 'frob'"),
            (["help", "list", "x"], "help", "list has no command 'x'"),
        ):
            self.assert_usage(args, verb, reason)

    def test_sub_command_usage_errors(self):
        for args, reason in (
            (["images", "list", "extra"], "list takes 0 arguments (got 1)"),
            (["images", "tag", "a"], "tag takes 2 arguments (got 1)"),
            (["images", "delete"], "delete takes at least 1 argument (got 0)"),
            (["images", "list", "--force"], "option '--force' is only for images delete"),
            (["images", "delete", "-q", "x"], "option '--quiet' is only for images list"),
            (["images", "tag", "-n", "a", "b"], "option '--no-trunc' is only for images list"),
            (["images", "list", "--tls-verify"], "option '--tls-verify' is only for images inspect"),
            (["images", "list", "-f", "color=red"], "unknown filter 'color' (expected repo or dangling)"),
            (["images", "list", "-f", "dangling=maybe"],
             "filter 'dangling=maybe': expected dangling=true or dangling=false"),
            (["images", "update"], "update takes an IMAGE or --all"),
        ):
            self.assert_usage(args, "images", reason, sub=args[1])
        for args, reason in (
            (["trust", "set"], "set takes one scope (got 0)"),
            (["trust", "default", "maybe"], "default 'maybe': expected accept or reject"),
            (["trust", "show", "x"], "show takes no arguments (got 1)"),
            (["trust", "show", "--type", "accept"],
             "show takes no --type, --pubkeysfile or --lookaside"),
        ):
            self.assert_usage(args, "trust", reason, sub=args[1])

    def test_no_command(self):
        for args, msg in (([], "no command given"), (["frobnicate"], "unknown command 'frobnicate'"),
                          (["--bogus"], "unknown option '--bogus'")):
            r = run(*args)
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (2, "", "syscontainerctl: %s\nTry 'syscontainerctl --help'.\n" % msg))

    def test_nothing_written_on_usage_error(self):
        run("--sysroot", self.tmp, "install", "--set", "K", "x")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_short_options_and_format(self):
        # on an empty sysroot: an empty list, in each form
        for args in (["list", "-a", "-q"], ["list", "-aq"], ["list", "-qan"],
                     ["list", "-f", "container=x", "-f", "backend=ostree"], ["list", "-fimage=x"],
                     ["images", "list", "-q", "-n"], ["images", "list", "-qn", "-f", "repo=x"],
                     ["images", "list", "-f", "dangling=true"]):
            r = run("--sysroot", self.tmp, *args)
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
            self.assertEqual(r.stdout, "" if "-q" in "".join(args) else r.stdout, args)
        for args in (["--format", "json", "list"], ["list", "--format", "json"],
                     ["list", "--format=json"], ["--json", "list"], ["list", "--json"]):
            r = run("--sysroot", self.tmp, *args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertEqual(json.loads(r.stdout), {"schema": 1, "containers": []}, args)
        r = run("--sysroot", self.tmp, "list", "--format", "table")
        self.assertEqual(r.stdout.split(), ["NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME"])
        # a value after a short flag bundle is an operand, not the flag's
        r = run("--sysroot", self.tmp, "list", "-a", "x")
        self.assertIn("list: takes no arguments (got 1 argument)", r.stderr)


sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
sys.path.insert(0, os.path.join(HERE, "..", "store"))


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class TableTest(unittest.TestCase):
    LONG = "a-container-with-a-name-much-longer-than-twenty-four"

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.shared = tempfile.mkdtemp(prefix="sc-cli15-img-")
        cls.layout = os.path.join(cls.shared, "a-layout-with-a-rather-long-directory-name")
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        cls.sysroot = os.path.join(cls.shared, "sysroot")
        os.makedirs(cls.sysroot)
        for name in (cls.LONG, "b"):
            r = run("--sysroot", cls.sysroot, "install", "--name", name, "oci:%s:v1" % cls.layout)
            assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def ctl(self, *args):
        r = run("--sysroot", self.sysroot, *args)
        self.assertEqual((r.returncode, r.stderr), (0, ""), args)
        return r.stdout

    def assert_aligned(self, text, heads, right=()):
        """Every column starts where its head does (a right-aligned one ends
        there), two spaces after the widest cell of the previous one."""
        lines = text.splitlines()
        for line in lines[1:]:
            for h in heads[1:]:
                s = lines[0].index(h)
                if h in right:
                    e = s + len(h)
                    self.assertNotEqual(line[e - 1], " ", (line, h))
                    self.assertEqual(line[e:e + 2], "  ", (line, h))
                else:
                    self.assertEqual(line[s - 2:s], "  ", (line, h))
                    self.assertNotEqual(line[s], " ", (line, h))
        # the widest cell of a column is two spaces from the next one
        return lines

    def test_list_table(self):
        out = self.ctl("list", "-a")
        lines = self.assert_aligned(out, ["NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME"])
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[0].index("IMAGE"), len(self.LONG) + 2)
        doc = json.loads(self.ctl("--json", "list"))["containers"]
        by_name = {c["name"]: c for c in doc}
        self.assertRegex(by_name["b"]["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        row = [l for l in lines if l.startswith("b ")][0]
        self.assertIn(" %s " % by_name["b"]["id"][:12], row)
        self.assertNotIn(by_name["b"]["id"], row)
        # CREATED with its zone (the tests run in UTC unless TZ says otherwise)
        self.assertRegex(row, r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+\-0-9]+ ")
        env = dict(os.environ, TZ="Asia/Tokyo")
        r = run("--sysroot", self.sysroot, "list", env=env)
        self.assertIn(" JST ", r.stdout)
        full = self.ctl("list", "--no-trunc")
        self.assertIn(" %s " % by_name["b"]["id"], full)
        self.assert_aligned(full, ["NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME"])
        self.assertEqual(self.ctl("list", "-aq"), "%s\nb\n" % self.LONG)
        self.assertEqual(self.ctl("list", "-q", "-f", "container=much"), self.LONG + "\n")
        self.assertEqual(self.ctl("list", "-q", "-f", "image=rather-long", "-f", "backend=ostree"),
                         "%s\nb\n" % self.LONG)
        self.assertEqual(self.ctl("list", "-q", "-f", "backend=docker"), "")
        self.assertEqual(self.ctl("list", "-q", "-f", "runtime=crun"), "")
        self.assertEqual(self.ctl("list", "-q", "-f", "runtime=runc", "-f", "container=b"), "b\n")
        self.assertEqual([c["name"] for c in json.loads(
            self.ctl("list", "--format", "json", "-f", "container=b"))["containers"]], ["b"])

    def test_images_table(self):
        out = self.ctl("images", "list")
        lines = self.assert_aligned(out, ["NAME", "TAG", "ID", "CREATED", "SIZE", "IN USE"],
                                    right=("SIZE",))
        img = json.loads(self.ctl("--json", "images", "list"))["images"][0]
        self.assertEqual(lines[0].index("TAG"), len(img["repository"]) + 2)
        self.assertRegex(lines[1], r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+\-0-9]+ ")
        self.assertEqual(self.ctl("images", "list", "-q"), img["id"][:12] + "\n")
        self.assertEqual(self.ctl("images", "list", "-qn"), img["id"] + "\n")
        self.assertEqual(self.ctl("images", "list", "-q", "-f", "repo=rather-long"),
                         img["id"][:12] + "\n")
        self.assertEqual(self.ctl("images", "list", "-q", "-f", "repo=nothing"), "")
        self.assertEqual(self.ctl("images", "list", "-q", "-f", "dangling=true"), "")
        self.assertEqual(self.ctl("images", "list", "-q", "-f", "dangling=false"),
                         img["id"][:12] + "\n")
        self.assertIn(" %s " % img["id"], self.ctl("images", "list", "--no-trunc"))

    def test_verbosity(self):
        layout = "oci:%s:v1" % self.layout
        levels = {}
        for args in ([], ["-v"], ["-vv"], ["-v", "-v"], ["--verbose", "--verbose"],
                     ["--log-level", "debug"], ["--log-level", "info"], ["--log-level=error"]):
            root = tempfile.mkdtemp(dir=self.shared)
            r = run("--sysroot", root, *args, "install", "--name", "v", layout)
            self.assertEqual(r.returncode, 0, r.stderr)
            # (a pull's commits differ from one run to the next)
            levels[" ".join(args)] = re.sub(r"\b[0-9a-f]{64}\b", "HEX",
                                            r.stderr.replace(root, "ROOT"))
        # -v: what the library does (systemctl); -vv: its debug lines too
        self.assertEqual(levels[""], "")
        self.assertEqual(levels["--log-level=error"], "")
        self.assertIn("syscontainerctl: systemctl --root=", levels["-v"])
        self.assertNotIn("journal ", levels["-v"])
        self.assertIn("journal ", levels["-vv"])
        self.assertEqual(levels["-vv"], levels["-v -v"])
        self.assertEqual(levels["-vv"], levels["--verbose --verbose"])
        self.assertEqual(levels["-vv"], levels["--log-level debug"])
        self.assertEqual(levels["-v"], levels["--log-level info"])

    def test_progress(self):
        root = tempfile.mkdtemp(dir=self.shared)
        args = ["--sysroot", root, "pull", "oci:%s:v1" % self.layout]
        for cols in (50, 120):
            if cols == 120:
                shutil.rmtree(root)
                os.makedirs(root)
            rc, out, term = run_on_terminal(args, cols)
            self.assertEqual((rc, out), (0, "localhost/a-layout-with-a-rather-long-directory-name:v1\n"))
            draws = [d for d in term.replace("\x1b[K", "").split("\r") if d.strip()]
            self.assertTrue(draws, term)
            for d in draws:
                self.assertLessEqual(len(d), cols - 1, d)
                self.assertRegex(d, r"^\[#* *\] [0-9.]+ [kMG]?B / [0-9.]+ [kMG]?B, layers \d/1$")
            # the bar takes the room there is, up to 64 marks
            text = draws[-1].split("] ")[1]
            self.assertEqual(len(draws[-1]), min(cols - 1, 64 + 3 + len(text)), draws[-1])
            self.assertTrue(term.endswith("\n"))
        # already in the store: nothing to draw
        self.assertEqual(run_on_terminal(args, 80), (0, out, ""))
        install = ["--sysroot", root, "install", "--name", "p", "oci:%s:v1" % self.layout]
        self.assertEqual(run_on_terminal(install, 80), (0, "p\n", ""))
        # stderr not a terminal (stdout one): no bar, not in a file
        shutil.rmtree(root)
        os.makedirs(root)
        rc, err, term = run_on_terminal(args, 80, stream="stdout")
        self.assertEqual((rc, err), (0, ""))
        self.assertNotIn("layers", term)
        # nor beside --json
        shutil.rmtree(root)
        os.makedirs(root)
        rc, out, term = run_on_terminal(["--json"] + args, 80)
        self.assertEqual((rc, term), (0, ""))

    def test_bare_tls_verify(self):
        # a boolean: the source after it stays the operand
        root = tempfile.mkdtemp(dir=self.shared)
        r = run("--sysroot", root, "pull", "--tls-verify", "oci:%s:v1" % self.layout)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("--sysroot", root, "--json", "pull", "--tls-verify=false",
                "oci:%s:v1" % self.layout)
        self.assertEqual(r.returncode, 0, r.stderr)


from cli15lib import ImageSysrootCase  # noqa: E402

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp"]


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc") and
                     shutil.which("setpriv"), "needs root, umoci, runc and setpriv")
class ErrorsTest(ImageSysrootCase):
    def ctl(self, *args, prefix=(), sysroot=True):
        return subprocess.run([*prefix, CTL, *(["--sysroot", self.sysroot] if sysroot else []),
                               *args], capture_output=True, text=True, timeout=120)

    def store(self):
        r = self.ctl("--json", "images", "list")
        return [(i["name"], i["id"]) for i in json.loads(r.stdout)["images"]] if r.stdout else None

    def tree(self):
        return sorted(os.path.relpath(os.path.join(d, n), self.sysroot)
                      for d, ds, fs in os.walk(self.sysroot) for n in ds + fs
                      if "/objects/" not in d)

    def test_non_root_needs_root_up_front(self):
        ck = os.path.join(self.shared, "ck-%d" % os.getpid())
        os.makedirs(ck, mode=0o755)
        base = ["--checkout-root", ck, "--signature-policy", os.path.join(self.shared, "nope")]
        for args, what, msg in (
                (["install", "x"], "install", "cannot write %s (Permission denied)" % ck),
                (["uninstall", "a", "b"], "uninstall", "cannot write %s (Permission denied)" % ck),
                (["update", "x"], "update", "cannot write %s (Permission denied)" % ck),
                (["rollback", "x"], "rollback", "cannot write %s (Permission denied)" % ck),
                (["pull", "x"], "pull", "cannot create %s/.storage/ostree (%s: Permission denied)"
                 % (ck, ck)),
                (["images", "prune"], "images prune",
                 "cannot create %s/.storage/ostree (%s: Permission denied)" % (ck, ck)),
                (["images", "tag", "a", "b"], "images tag",
                 "cannot create %s/.storage/ostree (%s: Permission denied)" % (ck, ck)),
                (["images", "delete", "a"], "images delete",
                 "cannot create %s/.storage/ostree (%s: Permission denied)" % (ck, ck))):
            r = self.ctl(*base, *args, prefix=NOBODY, sysroot=False)
            self.assertEqual((r.returncode, r.stdout), (1, ""), (args, r.stderr))
            self.assertEqual(r.stderr, "syscontainerctl: error: %s needs root: %s (your own "
                             "containers: --user)\n" % (what, msg))
        r = self.ctl(*base, "--json", "install", "x", prefix=NOBODY, sysroot=False)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EPERM")
        self.assertEqual(os.listdir(ck), [])
        # the policy file too
        policy = os.path.join(self.shared, "policy.json")
        with open(policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        r = self.ctl("--signature-policy", policy, "trust", "default", "reject", prefix=NOBODY,
                     sysroot=False)
        # (trial15b D14: a policy the caller named is theirs: not "needs root")
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: trust default: "
                         "cannot write %s (Permission denied)\n" % policy))
        # reading verbs run
        r = self.ctl(*base, "list", prefix=NOBODY, sysroot=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a checkout root it cannot read: not an empty list
        os.chmod(ck, 0o700)
        r = self.ctl(*base, "list", prefix=NOBODY, sysroot=False)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", "syscontainerctl: error: "
                         "cannot read the installed containers in %s: Permission denied (run as "
                         "root)\n" % ck))
        r = self.ctl(*base, "--json", "list", prefix=NOBODY, sysroot=False)
        self.assertEqual((r.returncode, json.loads(r.stdout)["error"]["code"]), (1, "SC_EPERM"))
        r = self.ctl(*base, "images", "list", prefix=NOBODY, sysroot=False)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("%s/.storage/ostree" % ck, r.stderr)
        self.assertIn("Permission denied", r.stderr)

    def test_missing_image_names_it(self):
        self.assertEqual(self.ctl("install", "--name", "m", self.image).returncode, 0)
        for args, ref in ((["install", "--name", "n", "localhost:1/demo:nope"], "localhost:1/demo:nope"),
                          (["install", "--dry-run", "localhost:1/demo:nope"], "localhost:1/demo:nope"),
                          (["update", "--rebase", "localhost:1/x:2", "m"], None)):
            before = self.tree()
            r = self.ctl(*args)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            if ref:
                self.assertTrue(r.stderr.startswith(
                    "syscontainerctl: error: image '%s' is not in the store and could not be "
                    "pulled: registry localhost:1: " % ref), r.stderr)
            self.assertEqual(self.tree(), before)

    def test_uninstall_several(self):
        for name in ("u1", "u2"):
            self.assertEqual(self.ctl("install", "--name", name, self.image).returncode, 0)
        r = self.ctl("uninstall", "u1", "bad/name", "u2")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "syscontainerctl: error: container name 'bad/name' has a "
                         "character that is not allowed at byte 4 (allowed: letters, digits, '_', "
                         "'.', '@', '-')\n")
        # the others went all the same
        self.assertEqual(self.ctl("list", "-aq").stdout, "")

    def test_oci_name_suggests_name(self):
        bad = os.path.join(self.shared, "Upper")
        if not os.path.exists(bad):
            shutil.copytree(self.layout, bad)
        r = self.ctl("pull", "oci:%s:v1" % bad)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        why = ("no image name from oci:%s:v1 (give one: pull --name NAME[:TAG]): image "
               "reference 'localhost/Upper:v1': 'Upper' is not a valid repository name component "
               "(lowercase letters, digits, and '.', '_', '__' or '-' between them)" % bad)
        self.assertEqual(r.stderr, "syscontainerctl: error: %s\n" % why)
        # install pulls the same way (its --name names the container)
        r = self.ctl("install", "--name", "c", "oci:%s:v1" % bad)
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: image 'oci:%s:v1' "
                         "is not in the store and could not be pulled: %s\n" % (bad, why)))
        self.assertIn(self.store(), ([], None))
        r = self.ctl("pull", "--name", "upper:1", "oci:%s:v1" % bad)
        self.assertEqual((r.returncode, r.stdout), (0, "localhost/upper:1\n"), r.stderr)

    def test_set_of_an_undeclared_variable(self):
        known = "(its variables: GREETING, STATE_DIRECTORY)"
        # the library's check (lib/contract/render.c), in its words; --strict:
        # refused before anything is installed
        r = self.ctl("install", "--strict", "--name", "s", "--set", "GREETNG=hi", self.image)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            1, "", "syscontainerctl: error: value GREETNG: the image declares no variable "
            "GREETNG %s\n" % known))
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd/system/s.service")))
        self.assertEqual(self.ctl("list", "-aq").stdout, "")
        r = self.ctl("--json", "install", "--strict", "--name", "s", "--set", "GREETNG=hi", self.image)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "SC_EINVAL")
        # without: a warning (once: no CLI check besides the library's), installed
        r = self.ctl("install", "--name", "s", "--set", "GREETNG=hi", "--set", "GREETING=yo", self.image)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (
            0, "s\n", "syscontainerctl: warning: value GREETNG: the image declares no variable "
            "GREETNG %s\n" % known))
        # declared ones: silent
        r = self.ctl("install", "--strict", "--name", "t", "--set", "GREETING=yo", self.image)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        # update (the image the container runs) and run IMAGE
        r = self.ctl("update", "--strict", "--set", "NOPE=1", "s")
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: value GREETNG: the "
                         "image declares no variable GREETNG %s\n" % known))
        self.assertFalse(os.path.exists(os.path.join(
            self.sysroot, "var/lib/containers/atomic/s.1")))
        r = self.ctl("run", "--strict", "--set", "NOPE=1", self.image, "true")
        self.assertEqual((r.returncode, r.stderr), (1, "syscontainerctl: error: value NOPE: the "
                         "image declares no variable NOPE %s\n" % known))

    def repo_state(self):
        """The store's refs and the number of its objects."""
        repo = os.path.join(self.sysroot, "var/lib/containers/atomic/.storage/ostree")
        if not os.path.isdir(repo):
            return None
        refs = subprocess.run(["ostree", "--repo=" + repo, "refs"], capture_output=True,
                              text=True, check=True).stdout.split()
        objects = sum(len(fs) for _, _, fs in os.walk(os.path.join(repo, "objects")))
        return sorted(refs), objects

    def test_a_failed_verb_takes_back_its_own_pull(self):
        # the image is not in the store: install --strict pulls it, fails,
        # and leaves the store as it found it (a store made empty stays)
        before = self.repo_state()
        r = self.ctl("install", "--strict", "--name", "s", "--set", "GREETNG=hi", self.image)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(self.repo_state(), (before, ([], 0)))
        self.assertEqual(self.store(), [])
        # run IMAGE the same
        r = self.ctl("run", "--strict", "--set", "NOPE=1", self.image, "true")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(self.repo_state(), (before, ([], 0)))
        # an image the store had stays when the verb fails
        r = self.ctl("pull", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        pulled = self.repo_state()
        self.assertGreater(pulled[1], 0)
        r = self.ctl("install", "--strict", "--name", "s", "--set", "GREETNG=hi", self.image)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.repo_state(), pulled)
        # and a success keeps what it pulled
        r = self.ctl("images", "delete", "localhost/layout:v1")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = self.ctl("install", "--name", "s", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([n for n, _ in self.store()], ["localhost/layout:v1"])

if __name__ == "__main__":
    unittest.main(verbosity=2)
