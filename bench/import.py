#!/usr/bin/env python3
"""Layer import benchmark: syscontainerctl pull from an oci: directory, side by
side in one run with `ostree commit --tar-autocreate-parents --tree=tar=LAYER` on the same blob and
`umoci unpack` of the same image. Prints the figures and the ratios that the
targets are stated in:

  pull / ostree commit          <= 1.0   (no slower than OSTree's own importer)
  pull / umoci unpack           <= 0.6
  two-layer pull CPU / wall     >  1.5   (both cores busy)
  peak RSS of pull              <  64 MB
  re-import of present layers   <  1 s

Usage: bench/import.py [--size-mb N] [--workdir DIR] [--ctl PATH]
The layer is a tar of /usr/share, /usr/bin, /usr/include, /usr/sbin (then
/usr/lib) up to N MB (default 1400), gzip -6. Needs root, ostree and umoci.
"""

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import build_tars, timed, warm, write_layout  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1400)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench")
    ap.add_argument("--ctl", default=os.path.join(os.path.dirname(__file__), "..", "build", "cli",
                                                  "syscontainerctl"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    w = a.workdir
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    limit = a.size_mb * 1000 * 1000

    print("building layers (%d MB of files, gzip -6) ..." % a.size_mb, flush=True)
    one = os.path.join(w, "one.tar")
    halves = [os.path.join(w, "half1.tar"), os.path.join(w, "half2.tar")]
    size, count = build_tars([one], limit, 1)
    build_tars(halves, limit, 2)
    for t in [one] + halves:
        subprocess.run(["gzip", "-6", "-k", "-n", t], check=True)
    write_layout(os.path.join(w, "single"), [(one, one + ".gz")])
    write_layout(os.path.join(w, "double"), [(h, h + ".gz") for h in halves])
    tar_mb = os.path.getsize(one) / 1e6
    print("layer: %.0f MB tar (%d entries), %.0f MB gzip" % (tar_mb, count,
                                                           os.path.getsize(one + ".gz") / 1e6))
    for p in (one + ".gz", halves[0] + ".gz", halves[1] + ".gz"):
        warm(p)

    subprocess.run(["ostree", "--repo=" + os.path.join(w, "ostree"), "init", "--mode=bare"],
                   check=True)
    ostree = timed(["ostree", "--repo=" + os.path.join(w, "ostree"), "commit", "-b", "bench",
                    "--tar-autocreate-parents",
                    "--tree=tar=" + one + ".gz"])
    umoci = timed(["umoci", "unpack", "--image", os.path.join(w, "single") + ":bench",
                   os.path.join(w, "bundle")])
    ctl = os.path.abspath(a.ctl)
    pull = timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                  "oci:%s:bench" % os.path.join(w, "single")])
    again = timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                   "oci:%s:bench" % os.path.join(w, "single")])
    double = timed([ctl, "--checkout-root", os.path.join(w, "ck2"), "pull",
                    "oci:%s:bench" % os.path.join(w, "double")])

    def row(name, r):
        print("%-34s %7.2f s wall %7.2f s cpu %7.1f MB peak RSS  %6.0f MB/s" % (
            name, r[0], r[1], r[2], tar_mb / r[0]))

    print()
    row("ostree commit --tree=tar=", ostree)
    row("umoci unpack", umoci)
    row("syscontainerctl pull (1 layer)", pull)
    row("syscontainerctl pull (2 layers)", double)
    print("%-34s %7.2f s wall" % ("syscontainerctl re-pull", again[0]))
    print()
    print("pull / ostree commit        %.2f  (target <= 1.0)" % (pull[0] / ostree[0]))
    print("pull / umoci unpack         %.2f  (target <= 0.6)" % (pull[0] / umoci[0]))
    print("2-layer pull cpu / wall     %.2f  (target > 1.5 on 2 cores)" % (double[1] / double[0]))
    print("pull peak RSS               %.1f MB (target < 64)" % max(pull[2], double[2]))
    print("re-pull                     %.2f s (target < 1)" % again[0])
    if not a.keep:
        shutil.rmtree(w)


if __name__ == "__main__":
    main()
