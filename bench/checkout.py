#!/usr/bin/env python3
"""Checkout benchmark: `syscontainerctl checkout` of a two-layer image (hardlinks
into the store, every path confined, no recursion), side by side in one run with
OSTree's own union checkout of the same layer commits (`ostree checkout --union
-H`, what the library used before its confined checkout) and `umoci unpack` of
the same image. Prints the figures and the ratios:

  checkout / ostree checkout    <= 1.2   (confinement costs nothing visible)
  checkout / umoci unpack       <= 0.3   (hardlinks, not copies)
  checkout / checkout with SC_CHECKOUT_WORKERS=1   (what the workers gain)

Every step runs --runs times (default 3), side by side in each run; medians
and the spread (min-max) are printed. --with-load keeps one core busy.

With --ctl-before PATH, an older syscontainerctl is timed on the same store as
well (for before/after figures of a change).

Usage: bench/checkout.py [--size-mb N] [--runs N] [--with-load] [--workdir DIR] [--ctl PATH]
                         [--ctl-before PATH]
The layers are tars of /usr/share, /usr/bin, /usr/include, /usr/sbin (then
/usr/lib) up to N MB together (default 600). Needs root, ostree and umoci.
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Load, Series, build_tars, common_args, finish_workdir,  # noqa: E402
                      prepare_workdir, row, timed, write_layout)


def layer_commits(repo, layout):
    """The store's commit of each layer of the bench image, in order."""
    with open(os.path.join(layout, "index.json")) as f:
        mdigest = json.load(f)["manifests"][0]["digest"].split(":")[1]
    with open(os.path.join(layout, "blobs", "sha256", mdigest)) as f:
        layers = json.load(f)["layers"]
    out = []
    for layer in layers:
        ref = "ociimage/" + layer["digest"].split(":")[1]
        out.append(subprocess.run(["ostree", "--repo=" + repo, "rev-parse", ref], check=True,
                                  capture_output=True, text=True).stdout.strip())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=600)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench-checkout")
    ap.add_argument("--ctl", default=os.path.join(os.path.dirname(__file__), "..", "build", "cli",
                                                  "syscontainerctl"))
    ap.add_argument("--ctl-before")
    ap.add_argument("--keep", action="store_true")
    common_args(ap)
    a = ap.parse_args()
    w = prepare_workdir(a)

    print("building layers (%d MB of files) ..." % a.size_mb, flush=True)
    halves = [os.path.join(w, "half1.tar"), os.path.join(w, "half2.tar")]
    size, count = build_tars(halves, a.size_mb * 1000 * 1000, 2)
    for t in halves:
        subprocess.run(["gzip", "-1", "-k", "-n", t], check=True)
    layout = os.path.join(w, "layout")
    write_layout(layout, [(h, h + ".gz") for h in halves])
    ck = os.path.join(w, "ck")
    ctl = os.path.abspath(a.ctl)
    subprocess.run([ctl, "--checkout-root", ck, "pull", "oci:%s:bench" % layout], check=True,
                   capture_output=True)
    repo = os.path.join(ck, ".storage", "ostree")
    commits = layer_commits(repo, layout)
    print("image: %d files, %.0f MB, 2 layers" % (count, size / 1e6))

    def ours(binary, label, workers=None):
        env = ["env", "SC_CHECKOUT_WORKERS=%d" % workers] if workers else []
        return lambda i: timed(env + [binary, "--checkout-root", ck, "checkout",
                                      "localhost/layout:bench",
                                      os.path.join(ck, "out-%s-%d" % (label, i))])

    def ostree(i):
        dest = os.path.join(ck, "ostree-%d" % i)
        script = " && ".join("ostree --repo=%s checkout --union -H %s %s" % (repo, c, dest)
                             for c in commits)
        return timed(["sh", "-c", script])

    def umoci(i):
        return timed(["umoci", "unpack", "--image", layout + ":bench",
                      os.path.join(w, "bundle-%d" % i)])

    steps = [("ostree checkout --union -H", ostree), ("umoci unpack", umoci),
             ("syscontainerctl checkout", ours(ctl, "now")),
             ("syscontainerctl checkout (1 worker)", ours(ctl, "one", 1))]
    if a.ctl_before:
        steps.append(("syscontainerctl checkout (before)",
                      ours(os.path.abspath(a.ctl_before), "before")))
    t = {name: Series() for name, _ in steps}
    with Load(a.with_load):
        for i in range(a.runs):  # side by side in each run
            for name, fn in steps:
                t[name].add(fn(i))
    print()
    print("medians of %d run(s), spread min-max in brackets" % a.runs)
    for name, _ in steps:
        row(name, t[name], "  %8.0f files/s" % (count / t[name].wall()))
    ours_s = t["syscontainerctl checkout"].wall()
    print()
    print("checkout / ostree checkout     %.2f  (target <= 1.2)" % (
        ours_s / t["ostree checkout --union -H"].wall()))
    print("checkout / umoci unpack        %.2f  (target <= 0.3)" % (
        ours_s / t["umoci unpack"].wall()))
    print("checkout / 1 worker            %.2f  (the workers' gain)" % (
        ours_s / t["syscontainerctl checkout (1 worker)"].wall()))
    if a.ctl_before:
        print("checkout / checkout before     %.2f" % (
            ours_s / t["syscontainerctl checkout (before)"].wall()))
    if not a.keep:
        finish_workdir(a)


if __name__ == "__main__":
    main()
