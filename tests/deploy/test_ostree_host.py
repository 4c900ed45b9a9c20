"""An OSTree-booted host's layout in a sysroot: ostree/repo on the root file
system and var on a mount of its own (as ostree-prepare-root makes it, a
bind mount of ostree/deploy/OS/var, or another file system). The store is
where atomic would put it: /ostree/repo only when the checkouts can hardlink
into it, else CHECKOUT/.storage/ostree; and install, update, rollback and
uninstall work there."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_deploy import CTL, build, SysrootCtl  # noqa: E402

CHECKOUT = "var/lib/containers/atomic"


def ostree(repo, *args):
    return subprocess.run(["ostree", "--repo=" + repo, *args], capture_output=True, text=True,
                          check=True).stdout


def inodes(top):
    """(st_dev, st_ino) of every regular file below @top."""
    out = set()
    for dirpath, _, filenames in os.walk(top):
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            if os.path.isfile(os.path.join(dirpath, n)) and not os.path.islink(
                    os.path.join(dirpath, n)):
                out.add((st.st_dev, st.st_ino))
    return out


@unittest.skipUnless(os.getuid() == 0 and shutil.which("umoci") and shutil.which("ostree"),
                     "needs root (mounts), umoci and ostree")
class OstreeHostTest(SysrootCtl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="sc-ostree-host-img-")
        cls.layout = os.path.join(cls.shared, "layout")
        build(cls.layout, "v1", {"defaultValues": {"GREETING": "hello"}})
        build(cls.layout, "v2", {"defaultValues": {"GREETING": "hello v2"}},
              {"etc/motd": "motd v2\n", "exports/hostfs/etc/greeter/added": "added in v2\n"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared)

    def setUp(self):
        self.sysroot = tempfile.mkdtemp(prefix="sc-ostree-host-")
        self.repo = os.path.join(self.sysroot, "ostree", "repo")
        self.osvar = os.path.join(self.sysroot, "ostree", "deploy", "os", "var")
        self.var = os.path.join(self.sysroot, "var")
        os.makedirs(self.osvar)
        os.makedirs(self.var)
        os.makedirs(self.repo)
        ostree(self.repo, "init", "--mode=bare")
        self.mounted = False

    def tearDown(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.var], check=False)
        shutil.rmtree(self.sysroot)

    def mount(self, *args):
        subprocess.run(["mount", *args, self.var], check=True)
        self.mounted = True

    def store(self):
        return json.loads(self.ctl("--json", "images", "list").stdout)["store"]

    def no_test_links_left(self):
        left = [p for p in glob.glob(os.path.join(self.sysroot, "**", ".sc-samefs-*"),
                                     recursive=True)]
        self.assertEqual(left, [])

    def lifecycle(self, store):
        """install, update, rollback, uninstall with the store at @store
        (a path on this machine); the checkout hardlinks its objects."""
        ck = os.path.join(self.sysroot, CHECKOUT)
        self.ctl("install", "--name", "g", "oci:%s:v1" % self.layout)
        objects = inodes(os.path.join(store, "objects"))
        rootfs = inodes(os.path.join(ck, "g.0", "rootfs"))
        self.assertTrue(rootfs)
        self.assertLessEqual(rootfs, objects, "the checkout is not made of the store's objects")
        r = json.loads(self.ctl("--json", "update", "--accept-privileges", "--rebase",
                                "oci:%s:v2" % self.layout, "g").stdout)
        self.assertEqual((r["updated"], r["deployment"]), (True, "/" + CHECKOUT + "/g.1"))
        with open(os.path.join(ck, "g.1", "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd v2\n")
        with open(os.path.join(self.sysroot, "etc", "greeter", "added")) as f:
            self.assertEqual(f.read(), "added in v2\n")
        self.assertLessEqual(inodes(os.path.join(ck, "g.1", "rootfs")),
                             inodes(os.path.join(store, "objects")))
        r = json.loads(self.ctl("--json", "rollback", "g").stdout)
        self.assertEqual(r["deployment"], "/" + CHECKOUT + "/g.0")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc", "greeter", "added")))
        self.ctl("uninstall", "g")
        self.assertEqual(sorted(os.listdir(ck)), [".storage"] if store.startswith(ck) else [])
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "etc/systemd/system/g.service")))
        # both images are in that store, and it is sound
        images = json.loads(self.ctl("--json", "images", "list").stdout)["images"]
        self.assertEqual(len(images), 2)
        ostree(store, "fsck", "--quiet")
        self.no_test_links_left()

    def test_var_bind_mount_keeps_the_store_under_the_checkout_root(self):
        # same file system, same st_dev, another mount: link() fails with EXDEV
        self.mount("--bind", self.osvar)
        self.assertEqual(os.stat(self.var).st_dev, os.stat(self.repo).st_dev)
        s = self.store()
        self.assertEqual((s["path"], s["chosen"]), ("/%s/.storage/ostree" % CHECKOUT,
                                                    "checkout-root"))
        self.assertEqual(s["passed_over"], "no hardlink from /%s can reach into /ostree/repo: "
                         "Invalid cross-device link" % CHECKOUT)
        # and in words, with the runtime as --runtime names it
        reg = os.path.join(self.sysroot, "registries.conf")
        with open(reg, "w") as f:
            f.write('[registries.search]\nregistries = ["localhost"]\n')
        env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=reg)
        env.pop("ATOMIC_CONF", None)
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "--runtime", "/bin/true", "info"],
                           capture_output=True, text=True, env=env, check=True)
        self.assertEqual(r.stdout, "mode:             system\n"
                         "sysroot:          %s\n"
                         "atomic.conf:      none\n"
                         "checkout root:    /%s\n"
                         "image store:      /%s/.storage/ostree (checkout-root)\n"
                         "                  not /ostree/repo: %s\n"
                         "unit directory:   /etc/systemd/system\n"
                         "runtime:          /bin/true\n"
                         "registries.conf:  %s\n"
                         "SELinux policy:   none (nothing is labelled)\n"
                         % (self.sysroot, CHECKOUT, CHECKOUT, s["passed_over"], reg))
        # a broken atomic.conf is reported with its line, and the rest still
        conf = os.path.join(self.sysroot, "etc", "atomic.conf")
        os.makedirs(os.path.dirname(conf))
        with open(conf, "w") as f:
            f.write("checkout_path: [1, 2]\n")
        r = subprocess.run([CTL, "--sysroot", self.sysroot, "--json", "info"],
                           capture_output=True, text=True, env=env, check=True)
        info = json.loads(r.stdout)
        self.assertEqual(info["atomic_conf"]["file"], None)
        self.assertRegex(info["atomic_conf"]["error"], "^%s line 1: " % re.escape(conf))
        self.assertEqual(info["registries_conf"], {"files": [reg]})
        self.assertEqual(info["store"], s)
        self.assertEqual(info["selinux"], {"policy": None})
        # a policy that cannot be used is named, not fatal to info
        os.makedirs(os.path.join(self.sysroot, "etc", "selinux"))
        with open(os.path.join(self.sysroot, "etc", "selinux", "config"), "w") as f:
            f.write("SELINUX=enforcing\nSELINUXTYPE=missing\n")
        info = json.loads(subprocess.run([CTL, "--sysroot", self.sysroot, "--json", "info"],
                                         capture_output=True, text=True, env=env,
                                         check=True).stdout)
        self.assertEqual(info["selinux"]["policy"], None)
        self.assertIn("missing", info["selinux"]["error"])
        shutil.rmtree(os.path.join(self.sysroot, "etc", "selinux"))
        os.unlink(conf)
        os.unlink(reg)
        before = ostree(self.repo, "refs")
        self.lifecycle(os.path.join(self.sysroot, CHECKOUT, ".storage", "ostree"))
        # the host's own repository was not touched
        self.assertEqual(ostree(self.repo, "refs"), before)
        self.assertEqual(self.store()["chosen"], "existing")

    def test_var_on_another_file_system(self):
        self.mount("-t", "tmpfs", "tmpfs")
        s = self.store()
        self.assertEqual((s["path"], s["chosen"]), ("/%s/.storage/ostree" % CHECKOUT,
                                                    "checkout-root"))
        self.lifecycle(os.path.join(self.sysroot, CHECKOUT, ".storage", "ostree"))
        self.assertEqual(ostree(self.repo, "refs"), "")

    def test_var_on_the_same_mount_uses_the_hosts_repository(self):
        s = self.store()
        self.assertEqual(s, {"path": "/ostree/repo", "chosen": "ostree-host",
                             "passed_over": None})
        self.lifecycle(self.repo)
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, CHECKOUT, ".storage")))
        self.assertIn("ociimage/", ostree(self.repo, "refs"))
        self.assertEqual(self.store()["chosen"], "ostree-host")

    def test_an_existing_store_stays_where_it_is(self):
        # made while var was a mount of its own; var is a plain directory now
        self.mount("--bind", self.osvar)
        self.ctl("pull", "oci:%s:v1" % self.layout)
        self.assertEqual(self.store()["chosen"], "existing")
        subprocess.run(["umount", self.var], check=True)
        self.mounted = False
        shutil.copytree(self.osvar, self.var, symlinks=True, dirs_exist_ok=True)
        s = self.store()
        self.assertEqual((s["path"], s["chosen"]), ("/%s/.storage/ostree" % CHECKOUT, "existing"))
        images = json.loads(self.ctl("--json", "images", "list").stdout)["images"]
        self.assertEqual(len(images), 1)

    def test_images_an_earlier_tool_kept_in_the_hosts_repository_stay(self):
        # older atomic compared st_dev only and pulled into /ostree/repo
        self.mount("--bind", self.osvar)
        self.ctl("--repo", "/ostree/repo", "pull", "oci:%s:v1" % self.layout)
        s = self.store()
        self.assertEqual(s, {"path": "/ostree/repo", "chosen": "existing", "passed_over": None})
        self.ctl("install", "--name", "e", "oci:%s:v1" % self.layout)
        with open(os.path.join(self.sysroot, CHECKOUT, "e.0", "rootfs", "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, CHECKOUT, ".storage")))
        self.no_test_links_left()

    def test_explicit_repository_wins(self):
        self.mount("--bind", self.osvar)
        r = json.loads(self.ctl("--repo", "/ostree/repo", "--json", "images", "list").stdout)
        self.assertEqual(r["store"], {"path": "/ostree/repo", "chosen": "configured",
                                      "passed_over": None})
        r = json.loads(subprocess.run(
            [CTL, "--sysroot", self.sysroot, "--json", "images", "list"],
            env=dict(os.environ, ATOMIC_OSTREE_REPO="/srv/repo"), capture_output=True,
            text=True, check=True).stdout)
        self.assertEqual(r["store"]["path"], "/srv/repo")
        self.assertEqual(r["store"]["chosen"], "configured")
        # reading made nothing: no store, no checkout root
        self.assertFalse(os.path.exists(os.path.join(self.sysroot, "srv")))
        self.assertEqual(os.listdir(self.var), [])
        self.no_test_links_left()
        # a store set on another mount than the checkouts: they are copies
        self.ctl("--repo", "/ostree/repo", "install", "--name", "c", "oci:%s:v1" % self.layout)
        rootfs = os.path.join(self.sysroot, CHECKOUT, "c.0", "rootfs")
        self.assertFalse(inodes(rootfs) & inodes(os.path.join(self.repo, "objects")))
        with open(os.path.join(rootfs, "etc", "motd")) as f:
            self.assertEqual(f.read(), "motd of the image\n")
        self.assertEqual(os.stat(os.path.join(rootfs, "bin", "busybox")).st_mode & 0o777, 0o755)
        self.ctl("--repo", "/ostree/repo", "uninstall", "c")
        self.assertIn("ociimage/", ostree(self.repo, "refs"))

    def test_a_repository_config_that_is_a_link_is_passed_over(self):
        os.rename(os.path.join(self.repo, "config"), os.path.join(self.repo, "config.real"))
        os.symlink("config.real", os.path.join(self.repo, "config"))
        s = self.store()
        self.assertEqual((s["chosen"], s["passed_over"]),
                         ("checkout-root", "/ostree/repo/config is a symbolic link, not a repository's config"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
