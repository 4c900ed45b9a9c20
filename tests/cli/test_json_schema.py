"""Every verb's --json output against its schema (data/schemas/, documented
in docs/json.md), on a test sysroot: one document per invocation, indented
by two, and the error document for a verb that fails."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import jsonschema

CTL = os.environ["SYSCONTAINERCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(os.environ.get("SC_SOURCE_ROOT", os.path.join(HERE, "..", "..")),
                       "data", "schemas")
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
sys.path.insert(0, os.path.join(HERE, "..", "store"))

CONFIG = """{
  "process": {"terminal": false, "args": ["/bin/sh"]},
  "root": {"path": "rootfs", "readonly": true}
}
"""
SERVICE = "[Service]\nExecStart=$EXEC_START\n"


def schema(name):
    with open(os.path.join(SCHEMAS, name + ".json")) as f:
        return json.load(f)


def validator(name):
    """The schema @name's validator, formats checked (date-time)."""
    return jsonschema.Draft202012Validator(schema(name),
                                           format_checker=jsonschema.FormatChecker())


class SchemaFilesTest(unittest.TestCase):
    def test_documents_are_closed_and_created_is_rfc3339(self):
        for name in sorted(os.listdir(SCHEMAS)):
            s = schema(name[:-5])
            self.assertIs(s.get("additionalProperties"), False, name)

            def walk(node, path):
                if isinstance(node, dict):
                    for k, v in node.get("properties", {}).items():
                        if k == "created" and "info" not in path:
                            self.assertEqual(v.get("format"), "date-time", (name, path))
                            self.assertIn("pattern", v, (name, path))
                        walk(v, path + [k])
                    for k in ("items", "oneOf", "anyOf"):
                        walk(node.get(k), path)
                elif isinstance(node, list):
                    for x in node:
                        walk(x, path)
            walk(s, [])
        v = validator("list")
        good = {"schema": 1, "containers": [{"name": "a", "state": "installed",
                                             "created": "2026-11-30T23:23:31Z"}]}
        self.assertEqual([e.message for e in v.iter_errors(good)], [])
        bads = ["2026-11-30 23:23:31", "2026-11-30T23:23:31+01:00"]
        # a date the pattern lets through, which only the format check
        # refuses (when jsonschema has its date-time checker)
        if "date-time" in jsonschema.FormatChecker().checkers:
            bads.append("2026-13-45T99:99:99Z")
        for bad in bads:
            doc = {"schema": 1, "containers": [{"name": "a", "state": "installed",
                                                "created": bad}]}
            self.assertFalse(v.is_valid(doc), bad)
        self.assertFalse(validator("pull").is_valid({"schema": 1, "name": "a", "id": "0" * 64,
                                                     "reference": "x", "extra": 1}))

    def test_schemas_are_valid(self):
        names = sorted(os.listdir(SCHEMAS))
        self.assertIn("error.json", names)
        for name in names:
            s = schema(name[:-5])
            jsonschema.Draft202012Validator.check_schema(s)
            self.assertEqual(s["$schema"], "https://json-schema.org/draft/2020-12/schema")
            self.assertEqual(s["properties"]["schema"], {"const": 1}, name)

    def test_error_schema_refuses(self):
        v = jsonschema.Draft202012Validator(schema("error"))
        self.assertTrue(v.is_valid({"schema": 1, "error": {"code": "SC_EIO", "message": "x"}}))
        for bad in ({"schema": 1}, {"schema": 2, "error": {"code": "SC_EIO", "message": "x"}},
                    {"schema": 1, "error": {"code": "EIO", "message": "x"}},
                    {"schema": 1, "error": {"code": "SC_EIO"}}):
            self.assertFalse(v.is_valid(bad), bad)
        v = jsonschema.Draft202012Validator(schema("list"))
        self.assertFalse(v.is_valid({"schema": 1, "containers": [
            {"name": "a", "state": "installed", "created": 1796081011}]}))


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("runc"),
                     "needs root, umoci and runc")
class EveryVerbTest(unittest.TestCase):
    """Each verb the general help lists, run with --json."""

    @classmethod
    def setUpClass(cls):
        import test_deploy as td
        cls.tmp = tempfile.mkdtemp(prefix="sc-json-")
        cls.layout = os.path.join(cls.tmp, "layout")
        td.build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        td.build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
                 {"etc/motd": "v2\n"})
        # a config whose created is not in UTC
        td.build(cls.layout, "tz", {"defaultValues": {"GREETING": "x"}})
        td.il.run("umoci", "config", "--image", "%s:tz" % cls.layout,
                  "--created", "2020-01-01T12:00:00+02:00")
        cls.sysroot = os.path.join(cls.tmp, "sysroot")
        os.makedirs(cls.sysroot)
        cls.exports = os.path.join(cls.tmp, "exports")
        os.makedirs(cls.exports)
        for name, text in (("config.json.template", CONFIG), ("service.template", SERVICE)):
            with open(os.path.join(cls.exports, name), "w") as f:
                f.write(text)
        # (under --sysroot, --signature-policy is a path in the sysroot)
        cls.policy = "/etc/sc-test/policy.json"
        os.makedirs(os.path.join(cls.sysroot, "etc/sc-test"))
        with open(os.path.join(cls.sysroot, cls.policy.lstrip("/")), "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        cls.seen = set()

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", os.path.join(cls.tmp, "mnt")], capture_output=True)
        shutil.rmtree(cls.tmp)

    def js(self, name, *args, rc=0):
        """syscontainerctl --json ARGS: exit @rc, one document, indented by
        two, valid against data/schemas/@name.json."""
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "--signature-policy", self.policy,
                            "--json", *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, rc, (args, r.stdout, r.stderr))
        doc = json.loads(r.stdout)  # a second document would not parse
        self.assertEqual(r.stdout, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", args)
        errors = sorted(validator(name).iter_errors(doc), key=str)
        self.assertEqual([e.message for e in errors], [], (args, name))
        self.seen.add(args[0] if args[0] not in ("images", "trust") else " ".join(args[:2]))
        return doc

    def test_every_verb(self):
        v1, v2 = "oci:%s:v1" % self.layout, "oci:%s:v2" % self.layout
        self.js("render", "render", self.exports)
        self.js("lint", "lint", self.exports)
        pulled = self.js("pull", "pull", v1)
        self.js("pull", "pull", "--tls-verify", v2)
        images = self.js("images-list", "images", "list")["images"]
        self.assertEqual(sorted(i["name"] for i in images),
                         ["localhost/layout:v1", "localhost/layout:v2"])
        for i in images:
            self.assertEqual(i["name"], "%s:%s" % (i["repository"], i["tag"]))
        self.js("images-list", "images", "list", "-f", "repo=layout", "-q")
        self.assertEqual(self.js("images-inspect", "images", "inspect", pulled["name"])["id"],
                         pulled["id"])
        # created in UTC, whatever zone the image's config gave
        tz = self.js("pull", "pull", "oci:%s:tz" % self.layout)
        self.assertEqual(self.js("images-inspect", "images", "inspect", tz["name"])["created"],
                         "2020-01-01T10:00:00Z")
        self.assertEqual([i["created"] for i in self.js("images-list", "images", "list")["images"]
                          if i["id"] == tz["id"]], ["2020-01-01T10:00:00Z"])
        self.assertEqual(self.js("images-delete", "images", "delete", tz["name"])["images"],
                         [{"name": tz["name"], "deleted": True}])
        self.js("ok", "images", "tag", pulled["name"], "extra:1")
        self.js("images-verify", "images", "verify", "extra:1")
        self.js("images-update", "images", "update", "extra:1")
        self.js("images-update", "images", "update", "--all")
        self.js("images-delete", "images", "delete", "extra:1", "nosuch:1", rc=1)
        self.js("images-prune", "images", "prune")
        self.js("ok", "checkout", pulled["name"], os.path.join(self.tmp, "co"))
        self.js("install", "install", "--dry-run", "--name", "a", v1)
        inst = self.js("install", "install", "--name", "a", v1)
        self.js("install", "install", "--name", "b", v1)
        self.assertEqual(self.js("install", "install", "--name", "a", v1)["already_installed"],
                         True)
        self.js("update", "update", "--dry-run", "--rebase", v2, "a")
        upd = self.js("update", "update", "--rebase", v2, "a")
        self.js("update-all", "update", "--all")
        back = self.js("rollback", "rollback", "a")
        # rollback names the image it went back to as update does
        self.assertEqual((back["id"], back["image"]), (inst["id"], inst["image"]))
        self.assertNotEqual(upd["id"], back["id"])
        listed = self.js("list", "list", "-a")["containers"]
        self.assertEqual([c["name"] for c in listed], ["a", "b"])
        self.js("list", "list", "-f", "container=a")
        ins = self.js("inspect", "inspect", "a")
        self.assertEqual((ins["id"], ins["created"]), (listed[0]["id"], listed[0]["created"]))
        os.makedirs(os.path.join(self.tmp, "mnt"))
        self.js("mount", "mount", pulled["name"], os.path.join(self.tmp, "mnt"))
        self.js("mount", "umount", os.path.join(self.tmp, "mnt"))
        self.js("info", "info")
        self.js("trust-show", "trust", "show")
        self.js("ok", "trust", "set", "--type", "reject", "example.com")
        self.js("ok", "trust", "default", "accept")
        # start and stop need a running systemd: in a sysroot their error
        self.js("error", "start", "a", rc=1)
        self.js("error", "stop", "a", rc=1)
        # several containers: one document, a result each, the failure too
        doc = self.js("uninstall", "uninstall", "a", "nosuch/x", "b", rc=1)
        self.assertEqual([c["name"] for c in doc["containers"]], ["a", "nosuch/x", "b"])
        self.assertEqual([("error" in c, c.get("removed")) for c in doc["containers"]],
                         [(False, True), (True, None), (False, True)])
        self.assertEqual(self.js("list", "list", "-a")["containers"], [])
        self.js("uninstall", "uninstall", "a")
        self.js("error", "pull", "oci:%s:nosuchtag" % self.layout, rc=1)
        self.js("error", "inspect", "nosuch", rc=1)
        # every verb of the general help, but help and run (the command's
        # own output), went through here
        usage = subprocess.run([CTL, "--help"], capture_output=True, text=True).stdout
        commands = usage.split("Commands:\n")[1].split("\n\n")[0]
        verbs = set()
        for line in commands.splitlines():
            words = line.split()
            if line.startswith("  ") and not line.startswith("    ") and words:
                verbs.add(words[0] if words[0] not in ("images", "trust")
                          else " ".join(words[:2]))
                if words[0] == "start":
                    verbs.add("stop")
        verbs -= {"help", "run"}
        self.assertEqual(verbs - self.seen, set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
