#!/usr/bin/env python3
"""Registry pull benchmark, against a docker-registry on 127.0.0.1, side by
side in one run: from nothing to a checked-out root filesystem,

  syscontainerctl pull + syscontainerctl checkout
  skopeo copy docker://... oci:... + umoci unpack

for (a) a single-layer image and (b) a four-layer image of the same files,
then (c) a second image that shares all but its top layer with (b).
Targets: (a) <= 0.6, (b) <= 0.5 of the skopeo+umoci time; (c) under 10% of
(b)'s pull; peak RSS under 64 MB.

Usage: bench/registry.py [--size-mb N] [--workdir DIR] [--ctl PATH]
Needs root, docker-registry, skopeo and umoci.
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "registry"))
from benchlib import build_tars, timed, warm, write_layout  # noqa: E402
import registry as rg  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1400)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench-registry")
    ap.add_argument("--ctl", default=os.path.join(HERE, "..", "build", "cli", "syscontainerctl"))
    a = ap.parse_args()
    w = a.workdir
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    ctl = os.path.abspath(a.ctl)
    limit = a.size_mb * 1000 * 1000

    print("building layers (%d MB of files, gzip -6) ..." % a.size_mb, flush=True)
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

    reg = rg.Registry(w)
    try:
        for name in ("single", "four", "five"):
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false",
                            "oci:%s:bench" % os.path.join(w, name),
                            "docker://%s/%s:bench" % (reg.host, name)], check=True,
                           capture_output=True)
        results = {}
        for name in ("single", "four"):
            ref = "%s/%s:bench" % (reg.host, name)
            ck = os.path.join(w, "ck-" + name)
            pull = timed([ctl, "--checkout-root", ck, "pull", "--tls-verify=false", ref])
            co = timed([ctl, "--checkout-root", ck, "checkout", ref, os.path.join(ck, "root")])
            sk = timed(["skopeo", "copy", "--src-tls-verify=false", "docker://" + ref,
                        "oci:%s:x" % os.path.join(w, "sk-" + name)])
            um = timed(["umoci", "unpack", "--image", "%s:x" % os.path.join(w, "sk-" + name),
                        os.path.join(w, "um-" + name)])
            results[name] = (pull, co, sk, um)
        ck = os.path.join(w, "ck-four")
        ref5 = "%s/five:bench" % reg.host
        second = timed([ctl, "--checkout-root", ck, "pull", "--tls-verify=false", ref5])
    finally:
        reg.stop()

    print()
    for name, (pull, co, sk, um) in results.items():
        ours, theirs = pull[0] + co[0], sk[0] + um[0]
        print("%-7s pull %6.2f s + checkout %5.2f s = %6.2f s | skopeo %6.2f s + umoci %6.2f s = "
              "%6.2f s | ratio %.2f | RSS %.1f MB (skopeo %.1f, umoci %.1f)" % (
                  name, pull[0], co[0], ours, sk[0], um[0], theirs, ours / theirs,
                  max(pull[2], co[2]), sk[2], um[2]))
    print("second image sharing all but its top layer: %.2f s (%.1f%% of the four-layer pull)"
          % (second[0], 100 * second[0] / results["four"][0][0]))
    print()
    print("(a) single layer: %.2f (target <= 0.6)" % (
        (results["single"][0][0] + results["single"][1][0]) /
        (results["single"][2][0] + results["single"][3][0])))
    print("(b) four layers:  %.2f (target <= 0.5)" % (
        (results["four"][0][0] + results["four"][1][0]) /
        (results["four"][2][0] + results["four"][3][0])))
    print("(c) shared layers: %.1f%% (target < 10%%)" % (100 * second[0] / results["four"][0][0]))
    print("peak RSS: %.1f MB (target < 64)" % max(max(r[0][2], r[1][2]) for r in results.values()))
    shutil.rmtree(w)


if __name__ == "__main__":
    main()
