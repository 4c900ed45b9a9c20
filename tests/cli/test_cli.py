"""syscontainerctl: options, exit codes, output formats, files written."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

CTL = os.environ["SYSCONTAINERCTL"]
CORPUS = os.environ.get("SC_CORPUS", "")

CONFIG = """{
  "process": {"terminal": false, "args": ["/bin/sh"], "env": ["PORT=$PORT"]},
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [{"destination": "/d", "type": "bind", "source": "/srv/$NAME", "options": ["rbind"]}]
}
"""
SERVICE = "[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\nWorkingDirectory=$DESTDIR\n"


def run(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sc-cli-")
        self.image = os.path.join(self.tmp, "web")
        self.sysroot = os.path.join(self.tmp, "sysroot")
        os.makedirs(self.image)
        os.makedirs(self.sysroot)
        self.write("config.json.template", CONFIG)
        self.write("service.template", SERVICE)
        self.write("manifest.json", '{"defaultValues": {"PORT": "8080"}}')

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        with open(os.path.join(self.image, name), "w") as f:
            f.write(text)

    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("render DIR", r.stdout)
        self.assertIn("--checkout-root DIR", r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^syscontainerctl \d+\.\d+\.\d+ \(libsyscontainer \d+\.\d+\.\d+\)\n$")

    # The first line of each command's own help (VERB --help, help VERB).
    VERB_USAGE = {
        "render": "render DIR [--name N] [--set K=V]... [--strict] [--output OUT]",
        "lint": "lint DIR",
        "pull": "pull SOURCE [--name NAME[:TAG]] [--platform OS/ARCH[/VARIANT]] [--jobs N]",
        "images": "images list [-q] [-n] [-f KEY=VALUE]...",
        "checkout": "checkout IMAGE DIR",
        "install": "install IMAGE [--name N] [--set K=V]... [--strict] [--now] [--no-enable]",
        "update": "update NAME [--rebase IMAGE] [--set K=V]... [--strict]",
        "rollback": "rollback NAME",
        "inspect": "inspect NAME",
        "start": "start NAME",
        "stop": "stop NAME",
        "run": "run NAME [--] [CMD...]",
        "uninstall": "uninstall NAME...",
        "list": "list [-a] [-q] [-n] [-f KEY=VALUE]...",
        "help": "help [COMMAND [SUBCOMMAND]]",
    }

    def test_verb_help(self):
        general = run("--help").stdout
        for verb, usage in self.VERB_USAGE.items():
            for args in ([verb, "--help"], [verb, "-h"], ["--help", verb], ["help", verb],
                         ["--json", verb, "x", "--help"]):
                r = run(*args)
                self.assertEqual((r.returncode, r.stderr), (0, ""), args)
                self.assertEqual(r.stdout.splitlines()[0], "Usage: syscontainerctl " + usage, args)
                self.assertNotEqual(r.stdout, general, args)
            # every command is in the general usage, with its usage line
            self.assertIn(" " + usage.split(" [--")[0], general)
        r = run("images", "--help")
        self.assertIn("\n   or: syscontainerctl images update IMAGE | --all\n", r.stdout)
        self.assertIn("\n  --force              delete an image even if a container uses it\n",
                      r.stdout)
        self.assertNotIn("Options:", run("lint", "--help").stdout)
        # help without a command, and an unknown command's --help: the general usage
        for args in (["help"], ["frobnicate", "--help"], ["--help"]):
            r = run(*args)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, general, ""), args)
        help_usage = "Usage: syscontainerctl help [COMMAND [SUBCOMMAND]]\nTry 'syscontainerctl help help'.\n"
        for args, msg in ((["help", "frobnicate"], "help: unknown command 'frobnicate'"),
                          (["help", "render", "lint"], "help: render has no command 'lint'"),
                          (["help", "render", "lint", "x"],
                           "help: takes at most a command and its sub-command (got 3 arguments)"),
                          (["help", "--name", "x", "render"], "help: unknown option '--name'")):
            r = run(*args)
            self.assertEqual((r.returncode, r.stdout), (2, ""), args)
            self.assertEqual(r.stderr, "syscontainerctl: %s\n%s" % (msg, help_usage))
        r = run("render", "--bogus", "--help")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertEqual(r.stderr, "syscontainerctl: render: unknown option '--bogus'\n"
                         "Usage: syscontainerctl render DIR [--name N] [--set K=V]... [--strict] "
                         "[--output OUT]\n"
                         "                               [--image-name NAME] [--image-id ID]\n"
                         "Try 'syscontainerctl help render'.\n")

    # the options every pulling verb takes, in its option list but not
    # repeated in its usage lines
    PULL_OPTIONS = {"--platform", "--creds", "--tls-verify", "--authfile", "--registries-conf",
                    "--cert-dir"}

    def test_usage_names_every_option(self):
        # the usage lines are written by hand: each option of the verb's
        # option list (from the option table) must be in them
        for verb in self.VERB_USAGE:
            out = run(verb, "--help").stdout
            usage = out.split("\n\n")[0]
            listed = out.split("\nOptions:\n")[1] if "\nOptions:\n" in out else ""
            names = {line.split()[0] for line in listed.splitlines()
                     if line.startswith("  --") or line.startswith("  -")}
            names = {n.rstrip(",").split("[")[0] for n in names}
            for name in names - self.PULL_OPTIONS:
                self.assertIn(name, usage, "%s: %s is not in its usage lines" % (verb, name))

    def test_verb_help_lists_exactly_its_options(self):
        """The options a command's help lists are the ones it accepts."""
        listed = {}
        for verb in self.VERB_USAGE:
            lines = run(verb, "--help").stdout.split("\nOptions:\n")
            opts = lines[1].split("\n\n")[0] if len(lines) > 1 else ""
            # "  --opt [VALUE]  help", the help after two spaces
            # ("-a, --all", "--tls-verify[=true|false]": a flag)
            left = [re.sub(r"^-\w, ", "", l[2:].split("  ")[0]).split()
                    for l in opts.splitlines() if l.startswith("  -")]
            listed[verb] = {words[-2 if len(words) > 1 else -1].split("[")[0]: len(words) > 1
                            for words in left}
        every = {o: v for opts in listed.values() for o, v in opts.items()}
        self.assertIn("--tls-verify", listed["install"])
        self.assertNotIn("--all", listed["install"])
        values = {"--jobs": "1", "--settle": "1", "--tls-verify": "true", "--set": "K=V",
                  "--filter": "K=V", "--auto-update": "registry"}
        for verb in self.VERB_USAGE:
            for opt, takes_value in every.items():
                arg = "%s=%s" % (opt, values.get(opt, "x")) if takes_value else opt
                r = run(verb, arg, "--help")
                if opt in listed[verb]:
                    self.assertEqual(r.returncode, 0, (verb, arg, r.stderr))
                else:
                    self.assertEqual(r.returncode, 2, (verb, arg))
                    self.assertIn("%s: unknown option '%s'" % (verb, opt), r.stderr)

    def test_usage_errors_exit_2(self):
        for args, msg in ((["frobnicate"], "unknown command 'frobnicate'"),
                          ([], "no command given"),
                          (["render", "--bogus", self.image], "render: unknown option '--bogus'"),
                          (["lint", "--name", "x", self.image], "lint: unknown option '--name'"),
                          (["render"], "render: takes one image directory (got 0 arguments)"),
                          (["render", self.image, "--set"], "render: option '--set' needs a value (K=V)"),
                          (["--json=1", "lint", self.image], "lint: option '--json' takes no value"),
                          (["update", "--all", "x"],
                           "update: --all takes no container name and no --rebase"),
                          (["update", "--settle", "3", "x"], "update: --settle is for --controlled updates"),
                          (["update", "--controlled", "--settle", "0", "x"],
                           "update: --settle '0': expected seconds, more than 0 and at most 3600"),
                          (["update"], "update: takes one container name or --all (got 0 arguments)"),
                          (["install", "--all", "x"], "install: unknown option '--all'")):
            r = run(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stderr.splitlines()[0], "syscontainerctl: " + msg, args)
            self.assertEqual(r.stdout, "")

    def test_render_to_stdout(self):
        r = run("--sysroot", self.sysroot, "render", self.image, "--set", "PORT=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("# config.json\n{\n"))
        self.assertIn('"PORT=1"', r.stdout)
        runc = shutil.which("runc", path="/usr/sbin:/sbin:" + os.environ["PATH"])
        # the unit owns its container: delegated, runc's cgroupfs driver, the
        # container in a child of the unit's cgroup
        self.assertIn("\n# web.service\n[Service]\nDelegate=yes\nExecStart=%s run 'web'\n"
                      "ExecStop=%s kill 'web'\nWorkingDirectory=/var/lib/containers/atomic/web.0\n"
                      "ExecStopPost=-%s delete --force 'web'\n\n# tmpfiles-web.conf\n"
                      % (runc, runc, runc), r.stdout)
        self.assertIn('"cgroupsPath": "web.service/container"', r.stdout)
        self.assertIn("\n# tmpfiles-web.conf\nd    /srv/web   0700", r.stdout)

    def test_render_with_crun_and_an_image_cgroups_path(self):
        """crun reads a relative cgroupsPath from the root: the absolute path
        under the unit's slice; the image's own path is replaced, said on
        stderr."""
        if not os.path.exists("/usr/bin/crun"):
            self.skipTest("needs crun")
        with open(os.path.join(self.image, "config.json.template")) as f:
            cfg = json.load(f)
        cfg.setdefault("linux", {})["cgroupsPath"] = "machine.slice:libpod:$NAME"
        self.write("config.json.template", json.dumps(cfg))
        self.write("service.template", SERVICE + "Slice=web-front.slice\n")
        r = run("--json", "--runtime", "/usr/bin/crun", "--sysroot", self.sysroot, "render",
                self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(json.loads(doc["files"]["config.json"])["linux"]["cgroupsPath"],
                         "/web.slice/web-front.slice/web.service/container")
        self.assertIn("ExecStart=/usr/bin/crun run 'web'\n", doc["files"]["web.service"])
        self.assertNotIn("--systemd-cgroup", doc["files"]["web.service"])
        self.assertEqual(r.stderr, "syscontainerctl: warning: %s/config.json.template: "
                         "linux.cgroupsPath \"machine.slice:libpod:web\" replaced by "
                         "'/web.slice/web-front.slice/web.service/container': the container "
                         "lives in its unit's cgroup\n" % self.image)

    def test_render_json_and_global_options(self):
        r = run("render", "--json", "--name", "api", "--checkout-root", "/opt/ck",
                "--sysroot", self.sysroot, self.image, "--set=PORT=2")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["schema"], 1)
        self.assertEqual(doc["name"], "api")
        self.assertEqual(doc["values"]["DESTDIR"], "/opt/ck/api.0")
        self.assertEqual(doc["values"]["PORT"], "2")
        self.assertEqual(doc["values"]["ATOMIC"], os.path.realpath(CTL))
        self.assertEqual(sorted(doc["files"]), ["api.service", "config.json", "tmpfiles-api.conf"])

    def test_render_output_files(self):
        out = os.path.join(self.tmp, "slot")
        r = run("--sysroot", self.sysroot, "render", self.image, "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         [out + "/config.json", out + "/web.service", out + "/tmpfiles-web.conf"])
        self.assertEqual(sorted(os.listdir(out)), ["config.json", "tmpfiles-web.conf", "web.service"])
        with open(os.path.join(out, "web.service")) as f:
            unit = f.read()
        self.assertIn("WorkingDirectory=/var/lib/containers/atomic/web.0\n", unit)
        self.assertIn(" run 'web'\n", unit)

    def test_render_errors_exit_1(self):
        self.write("service.template", "[Service]\nExecStart=$NOPE\n")
        r = run("render", self.image)
        self.assertEqual(r.returncode, 1)
        self.assertIn("service.template': variable 'NOPE' at line 2, col 11 is not defined", r.stderr)
        self.assertEqual(r.stdout, "")
        r = run("--json", "render", self.image)
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["error"]["code"], "SC_ETEMPLATE")
        self.assertIn("variable 'NOPE'", doc["error"]["message"])
        out = os.path.join(self.tmp, "never")
        r = run("render", self.image, "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(out), "a failed render wrote files")

    def test_render_bad_name_and_runtime(self):
        r = run("render", self.image, "--name", "a/b")
        self.assertEqual(r.returncode, 1)
        self.assertIn("container name 'a/b' has a character that is not allowed", r.stderr)
        bad = os.path.join(self.tmp, "bad name")
        shutil.copytree(self.image, bad)
        r = run("render", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("(taken from the directory name; give one with --name)", r.stderr)
        r = run("--runtime", "/does/not/exist", "render", self.image)
        self.assertEqual(r.returncode, 1)
        self.assertIn("runtime '/does/not/exist' is not installed", r.stderr)
        r = run("--sysroot", os.path.join(self.tmp, "missing"), "render", self.image)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sysroot '%s': No such file or directory" % os.path.join(self.tmp, "missing"),
                      r.stderr)

    def test_lint_exit_codes(self):
        r = run("lint", self.image)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "%s: 0 errors, 0 warnings\n" % self.image)
        self.write("service.template", "[Service]\nExecStart=$EXEC_START $1\n")
        r = run("lint", self.image)
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: service.template: template 'service.template': invalid placeholder "
                      "at line 2, col 23", r.stdout)
        r = run("lint", "--json", self.image)
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["errors"], doc["findings"][0]["check"]), (1, "template-syntax"))
        r = run("lint", os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file or directory", r.stderr)

    @unittest.skipUnless(os.path.isdir(CORPUS), "the image corpus is absent")
    def test_lint_corpus_image(self):
        d = os.path.join(CORPUS, "atomic-system-containers", "images", "kubeadm")
        r = run("lint", d)
        self.assertEqual(r.returncode, 0)
        self.assertIn("warning: config.json.template: mount source /run: use ${RUN_DIRECTORY} "
                      "instead of /run [mount-run-directory]", r.stdout)

    @unittest.skipUnless(os.path.isdir(CORPUS), "the image corpus is absent")
    def test_lint_linux_capabilities(self):
        # hello-world (and atomic's test images) give capabilities under
        # linux, where runtimes ignore them: a warning, not an error
        d = os.path.join(CORPUS, "atomic-system-containers", "images", "hello-world")
        r = run("lint", d)
        self.assertEqual(r.returncode, 0)
        self.assertIn("warning: config.json.template: linux.capabilities is not part of the "
                      "runtime spec and runtimes ignore it: put the capability sets in "
                      "process.capabilities [linux-capabilities]", r.stdout)
        r = run("lint", os.path.join(CORPUS, "atomic-system-containers", "images", "kubeadm"))
        self.assertNotIn("linux-capabilities", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
