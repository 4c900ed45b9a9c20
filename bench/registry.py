#!/usr/bin/env python3
"""Registry pull benchmark, against a docker-registry on 127.0.0.1, side by
side in one run: from nothing to a checked-out root filesystem,

  syscontainerctl pull + syscontainerctl checkout
  skopeo copy docker://... oci:... + umoci unpack
  podman pull into a scratch containers-storage (vfs; overlay where it works)

for (a) a single-layer image and (b) a four-layer image of the same files,
then (c) a second image that shares all but a small top layer with (b),
pulled and checked out into (b)'s store, and (d) a re-pull of (b) while it
is present. Every step runs --runs times (each run from empty stores);
medians, the spread (min-max) and issue 16's goals with PASS or MISS are
printed:

  (a) ours <= 0.40x skopeo+umoci, <= 0.5x podman pull (vfs)
  (b) ours <= 0.30x skopeo+umoci
  (c) second image's pull + checkout <= 0.05x the first's (b)
  peak RSS of ours < 64 MB; (d) re-pull < 0.1 s

Usage: bench/registry.py [--size-mb N] [--runs N] [--with-load] [--workdir DIR] [--ctl PATH]
Needs root, docker-registry, skopeo, umoci and podman.
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "registry"))
from benchlib import (Goals, Load, Series, build_tars, common_args, finish_workdir,  # noqa: E402
                      prepare_workdir, remove_and_settle, row, timed, total, write_layout)
import registry as rg  # noqa: E402

PODMAN_DRIVERS = ("vfs", "overlay")


# podman refuses a runroot longer than 50 characters (overlay): a short one
RUNROOT = "/tmp/scpb.%d" % os.getpid()


def podman_store(w, driver, tag):
    return ["--root", os.path.join(w, "podman-%s-%s" % (driver, tag)),
            "--runroot", os.path.join(RUNROOT, "%s-%s" % (driver, tag)), "--storage-driver", driver]


def podman(w, driver, ref, tag):
    """podman pulling @ref into a containers-storage of its own under @w."""
    return ["podman", *podman_store(w, driver, tag), "--events-backend", "none", "--cgroup-manager",
            "cgroupfs", "pull", "--quiet", "--tls-verify=false", ref]


def podman_works(w, driver, ref):
    """Whether podman can pull with @driver here (overlay needs a kernel and
    a file system that let it mount)."""
    r = subprocess.run(podman(w, driver, ref, "probe"), capture_output=True, text=True)
    clean(w, driver, "probe")
    if r.returncode != 0:
        print("podman --storage-driver %s does not work here: %s" % (
            driver, (r.stderr.strip().splitlines() or ["?"])[-1]))
    return r.returncode == 0


def clean(w, driver, tag):
    if os.path.isdir(os.path.join(w, "podman-%s-%s" % (driver, tag))):
        # an overlay store holds mounts and read-only bits: podman's own reset
        subprocess.run(["podman", *podman_store(w, driver, tag), "system", "reset", "--force"],
                       capture_output=True)
        shutil.rmtree(os.path.join(w, "podman-%s-%s" % (driver, tag)), ignore_errors=True)
        shutil.rmtree(os.path.join(RUNROOT, "%s-%s" % (driver, tag)), ignore_errors=True)


def build(w, size_mb):
    limit = size_mb * 1000 * 1000
    print("building layers (%d MB of files, gzip -6) ..." % size_mb, flush=True)
    one = os.path.join(w, "one.tar")
    quarters = [os.path.join(w, "q%d.tar" % i) for i in range(4)]
    build_tars([one], limit, 1)
    build_tars(quarters, limit, 4)
    top = os.path.join(w, "top.tar")
    build_tars([top], 2 * 1000 * 1000, 1)  # a small top layer for (c)
    for t in [one, top] + quarters:
        subprocess.run(["gzip", "-6", "-k", "-n", t], check=True)
    write_layout(os.path.join(w, "single"), [(one, one + ".gz")])
    write_layout(os.path.join(w, "four"), [(q, q + ".gz") for q in quarters])
    write_layout(os.path.join(w, "five"), [(q, q + ".gz") for q in quarters] + [(top, top + ".gz")])
    write_layout(os.path.join(w, "tiny"), [(top, top + ".gz")])


def one_run(a, w, ctl, reg, drivers, s, last):
    """Every pipeline once, from empty stores; appends to the Series in @s."""
    for name in ("single", "four"):
        ref = "%s/%s:bench" % (reg.host, name)
        ck = os.path.join(w, "ck-" + name)
        s[name, "pull"].add(timed([ctl, "--checkout-root", ck, "pull", "--tls-verify=false", ref]))
        s[name, "checkout"].add(timed([ctl, "--checkout-root", ck, "checkout", ref,
                                       os.path.join(ck, "root")]))
        s[name, "skopeo"].add(timed(["skopeo", "copy", "--src-tls-verify=false", "docker://" + ref,
                                     "oci:%s:x" % os.path.join(w, "sk-" + name)]))
        s[name, "umoci"].add(timed(["umoci", "unpack", "--image",
                                    "%s:x" % os.path.join(w, "sk-" + name),
                                    os.path.join(w, "um-" + name)]))
        for driver in drivers:
            s[name, "podman-" + driver].add(timed(podman(w, driver, ref, name)))
    ck = os.path.join(w, "ck-four")
    ref4 = "%s/four:bench" % reg.host
    ref5 = "%s/five:bench" % reg.host
    s["second", "pull"].add(timed([ctl, "--checkout-root", ck, "pull", "--tls-verify=false", ref5]))
    s["second", "checkout"].add(timed([ctl, "--checkout-root", ck, "checkout", ref5,
                                       os.path.join(ck, "root5")]))
    s["repull", "pull"].add(timed([ctl, "--checkout-root", ck, "pull", "--tls-verify=false", ref4]))
    # what the run made is removed after its last timed step (benchlib)
    for name in ("single", "four"):
        for driver in drivers:
            clean(w, driver, name)
    remove_and_settle(w, [os.path.join(w, "%s-%s" % (kind, name))
                          for kind in ("ck", "sk", "um") for name in ("single", "four")],
                      last=last)


def report(s, drivers, runs):
    print()
    print("medians of %d run(s), spread min-max in brackets" % runs)
    for name in ("single", "four"):
        print("%s:" % name)
        row("  syscontainerctl pull", s[name, "pull"])
        row("  syscontainerctl checkout", s[name, "checkout"])
        ours = total(s[name, "pull"], s[name, "checkout"])
        row("  = ours (pull + checkout)", ours)
        row("  skopeo copy", s[name, "skopeo"])
        row("  umoci unpack", s[name, "umoci"])
        sk = total(s[name, "skopeo"], s[name, "umoci"])
        row("  = skopeo + umoci", sk, "  ratio ours/them %.2f" % (ours.wall() / sk.wall()))
        for driver in drivers:
            pd = s[name, "podman-" + driver]
            row("  podman pull (%s)" % driver, pd, "  ratio ours/podman %.2f" % (
                ours.wall() / pd.wall()))
    second = total(s["second", "pull"], s["second", "checkout"])
    print("second image (shares all but a small top layer with four):")
    row("  syscontainerctl pull", s["second", "pull"])
    row("  syscontainerctl checkout", s["second", "checkout"])
    row("  = ours (pull + checkout)", second)
    row("re-pull of the present four-layer image", s["repull", "pull"])

    print()
    g = Goals()
    one = total(s["single", "pull"], s["single", "checkout"])
    four = total(s["four", "pull"], s["four", "checkout"])
    g.check("(a) one layer: ours / skopeo+umoci", one.wall() /
            total(s["single", "skopeo"], s["single", "umoci"]).wall(), 0.40)
    if "vfs" in drivers:
        g.check("(a) one layer: ours / podman pull (vfs)",
                one.wall() / s["single", "podman-vfs"].wall(), 0.5)
    if "overlay" in drivers:
        # not a goal of the issue's: shown against the same limit
        g.check("(a) one layer: ours / podman pull (overlay)",
                one.wall() / s["single", "podman-overlay"].wall(), 0.5)
    g.check("(b) four layers: ours / skopeo+umoci", four.wall() /
            total(s["four", "skopeo"], s["four", "umoci"]).wall(), 0.30)
    g.check("(c) second image sharing its base / the first", second.wall() / four.wall(), 0.05)
    g.check("peak RSS of ours (pull, checkout)", max(
        s[k, step].rss() for k in ("single", "four", "second") for step in ("pull", "checkout")),
        64, "MB")
    g.check("(d) re-pull of a present image", s["repull", "pull"].wall(), 0.1, "s")
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1400)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench-registry")
    ap.add_argument("--ctl", default=os.path.join(HERE, "..", "build", "cli", "syscontainerctl"))
    common_args(ap)
    a = ap.parse_args()
    w = prepare_workdir(a)
    ctl = os.path.abspath(a.ctl)
    build(w, a.size_mb)

    reg = rg.Registry(w)
    try:
        for name in ("single", "four", "five", "tiny"):
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false",
                            "oci:%s:bench" % os.path.join(w, name),
                            "docker://%s/%s:bench" % (reg.host, name)], check=True,
                           capture_output=True)
        drivers = [d for d in PODMAN_DRIVERS
                   if podman_works(w, d, "%s/tiny:bench" % reg.host)]
        s = {}
        for name in ("single", "four"):
            for step in ["pull", "checkout", "skopeo", "umoci"] + ["podman-" + d for d in drivers]:
                s[name, step] = Series()
        for key in (("second", "pull"), ("second", "checkout"), ("repull", "pull")):
            s[key] = Series()
        with Load(a.with_load):
            for i in range(a.runs):
                print("run %d of %d%s ..." % (i + 1, a.runs, " (one core kept busy)"
                                              if a.with_load else ""), flush=True)
                one_run(a, w, ctl, reg, drivers, s, last=i + 1 == a.runs)
    finally:
        reg.stop()
        shutil.rmtree(RUNROOT, ignore_errors=True)
    g = report(s, drivers, a.runs)
    finish_workdir(a)
    print("%d goal(s) missed" % g.missed if g.missed else "every goal met")


if __name__ == "__main__":
    main()
