#!/usr/bin/env python3
"""The main job on a built-in default, step by step: a demo image built from
data/demo (busybox + its /exports) with umoci, served by a docker-registry on
127.0.0.1, pulled, installed into a throwaway root, and run once under runc.
Everything happens under one temporary directory, removed at the end."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "registry"))
import registry as rg  # noqa: E402

CTL = os.environ.get("SYSCONTAINERCTL") or os.path.join(TOP, "build", "cli", "syscontainerctl")


def step(text):
    print("\n== " + text, flush=True)


def run(*args, **kw):
    print("$ " + " ".join(args), flush=True)
    r = subprocess.run(args, text=True, capture_output=True, **kw)
    if r.stdout:
        print(r.stdout, end="")
    if r.returncode != 0:
        sys.exit("failed (%d): %s" % (r.returncode, r.stderr))
    return r.stdout


def main():
    work = tempfile.mkdtemp(prefix="syscontainer-demo.")
    reg = None
    try:
        step("build the demo image: busybox + data/demo/exports (umoci)")
        layout = os.path.join(work, "oci")
        bundle = os.path.join(work, "bundle")
        run("umoci", "init", "--layout", layout)
        run("umoci", "new", "--image", layout + ":1.0")
        run("umoci", "unpack", "--image", layout + ":1.0", bundle)
        root = os.path.join(bundle, "rootfs")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "srv", "www"))
        shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
        for tool in ("sh", "echo", "tee", "date"):
            os.symlink("busybox", os.path.join(root, "bin", tool))
        shutil.copytree(os.path.join(TOP, "data", "demo", "exports"), os.path.join(root, "exports"))
        run("umoci", "repack", "--image", layout + ":1.0", bundle)
        run("umoci", "config", "--image", layout + ":1.0", "--config.label", "atomic.type=system")

        step("serve it from a registry on 127.0.0.1")
        reg = rg.Registry(work)
        ref = "%s/demo:1.0" % reg.host
        run("skopeo", "copy", "--dest-tls-verify=false", "oci:%s:1.0" % layout, "docker://" + ref)

        sysroot = os.path.join(work, "root")
        os.makedirs(sysroot)
        ctl = [CTL, "--sysroot", sysroot]
        step("pull it into the image store")
        run(*ctl, "pull", "--tls-verify=false", ref)
        run(*ctl, "images", "list")

        step("install it into a throwaway root (%s)" % sysroot)
        run(*ctl, "install", "--name", "demo", "--set", "GREETING=Hello, world", ref)
        run(*ctl, "list")
        slot = os.path.join(sysroot, "var/lib/containers/atomic/demo.0")
        for name in ("etc/systemd/system/demo.service", "etc/tmpfiles.d/demo.conf"):
            print("---- /" + name)
            print(open(os.path.join(sysroot, name)).read(), end="")

        step("run it once under runc, as its unit would")
        # inside the throwaway root: the bind source tmpfiles would create,
        # and the rootfs given by absolute path
        cfg = json.load(open(os.path.join(slot, "config.json")))
        cfg["root"]["path"] = os.path.join(slot, "rootfs")
        for m in cfg["mounts"]:
            if m.get("type") == "bind":
                m["source"] = os.path.join(sysroot, m["source"].lstrip("/"))
                os.makedirs(m["source"], exist_ok=True)
        runbundle = os.path.join(work, "run")
        os.makedirs(runbundle)
        json.dump(cfg, open(os.path.join(runbundle, "config.json"), "w"))
        run("runc", "run", "syscontainer-demo-%d" % os.getpid(), cwd=runbundle)
        page = os.path.join(sysroot, "var/lib/demo/www/index.html")
        print("---- /var/lib/demo/www/index.html (written by the container)")
        print(open(page).read(), end="")

        step("uninstall it")
        run(*ctl, "uninstall", "demo")
        run(*ctl, "list")
    finally:
        if reg:
            reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
