#!/usr/bin/env python3
"""Layer import benchmark: syscontainerctl pull from an oci: directory, side by
side in one run with `ostree commit --tar-autocreate-parents --tree=tar=LAYER` on the same blob and
`umoci unpack` of the same image. Every step runs --runs times (default 3, from empty stores); prints medians,
the spread (min-max), and issue 16's goals with PASS or MISS:

  pull / ostree commit          <= 0.50
  peak RSS of pull              <  64 MB
  re-pull of present layers     <  0.1 s

and, for information, pull / umoci unpack and the two-layer pull's CPU / wall
(both cores busy: > 1.5 on 2 cores).

Usage: bench/import.py [--size-mb N] [--runs N] [--with-load] [--workdir DIR] [--ctl PATH]
The layer is a tar of /usr/share, /usr/bin, /usr/include, /usr/sbin (then
/usr/lib) up to N MB (default 1400), gzip -6. Needs root, ostree and umoci.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Goals, Load, Series, build_tars, common_args, finish_workdir,  # noqa: E402
                      prepare_workdir, remove_and_settle, row, timed, warm, write_layout)

def host_has_policy():
    """Whether this host's /etc/selinux/config asks for labels (then our
    import labels every object, and `ostree commit --selinux-policy=/` is
    the peer that writes the same objects)."""
    try:
        with open("/etc/selinux/config") as f:
            return any(line.strip().split("=", 1) in (["SELINUX", "enforcing"],
                                                       ["SELINUX", "permissive"]) for line in f)
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1400)
    ap.add_argument("--workdir", default="/var/tmp/sc-bench")
    ap.add_argument("--ctl", default=os.path.join(os.path.dirname(__file__), "..", "build", "cli",
                                                  "syscontainerctl"))
    ap.add_argument("--keep", action="store_true")
    common_args(ap)
    a = ap.parse_args()
    w = prepare_workdir(a)
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

    ctl = os.path.abspath(a.ctl)
    s = {k: Series() for k in ("ostree", "ostree-se", "umoci", "pull", "again", "double")}
    labelled = host_has_policy()
    with Load(a.with_load):
        for i in range(a.runs):
            print("run %d of %d%s ..." % (i + 1, a.runs, " (one core kept busy)"
                                          if a.with_load else ""), flush=True)
            repo = os.path.join(w, "ostree")
            subprocess.run(["ostree", "--repo=" + repo, "init", "--mode=bare"], check=True)
            s["ostree"].add(timed(["ostree", "--repo=" + repo, "commit", "-b", "bench",
                                   "--tar-autocreate-parents", "--tree=tar=" + one + ".gz"]))
            if labelled:
                # the same output as ours on a host with a policy: labelled objects
                subprocess.run(["ostree", "--repo=" + repo + "-se", "init", "--mode=bare"],
                               check=True)
                s["ostree-se"].add(timed(["ostree", "--repo=" + repo + "-se", "commit", "-b",
                                          "bench", "--selinux-policy=/", "--tar-autocreate-parents",
                                          "--tree=tar=" + one + ".gz"]))
            s["umoci"].add(timed(["umoci", "unpack", "--image",
                                  os.path.join(w, "single") + ":bench",
                                  os.path.join(w, "bundle")]))
            s["pull"].add(timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                                 "oci:%s:bench" % os.path.join(w, "single")]))
            s["again"].add(timed([ctl, "--checkout-root", os.path.join(w, "ck1"), "pull",
                                  "oci:%s:bench" % os.path.join(w, "single")]))
            s["double"].add(timed([ctl, "--checkout-root", os.path.join(w, "ck2"), "pull",
                                   "oci:%s:bench" % os.path.join(w, "double")]))
            remove_and_settle(w, [os.path.join(w, d) for d in ("ostree", "ostree-se", "bundle",
                                                                "ck1", "ck2")], last=i + 1 == a.runs)

    print()
    print("medians of %d run(s), spread min-max in brackets; MB/s of the %.0f MB tar" % (
        a.runs, tar_mb))
    for name, key in (("ostree commit --tree=tar=", "ostree"),
                      ("ostree commit --selinux-policy=/", "ostree-se"), ("umoci unpack", "umoci"),
                      ("syscontainerctl pull (1 layer)", "pull"),
                      ("syscontainerctl pull (2 layers)", "double"),
                      ("syscontainerctl re-pull", "again")):
        if not s[key].runs:
            continue
        row(name, s[key], "  %6.0f MB/s" % (tar_mb / s[key].wall()) if key != "again" else "")
    print()
    print("pull / umoci unpack         %.2f" % (s["pull"].wall() / s["umoci"].wall()))
    print("2-layer pull cpu / wall     %.2f  (both cores busy: > 1.5 on 2 cores)" % (
        s["double"].cpu() / s["double"].wall()))
    if labelled:
        print("pull / ostree commit --selinux-policy=/   %.2f  (the same labelled objects; "
              "information, not a goal)" % (s["pull"].wall() / s["ostree-se"].wall()))
    g = Goals()
    g.check("import of one layer: pull / ostree commit --tree=tar=",
            s["pull"].wall() / s["ostree"].wall(), 0.50)
    g.check("peak RSS of pull", max(s["pull"].rss(), s["double"].rss()), 64, "MB")
    g.check("re-pull of present layers", s["again"].wall(), 0.1, "s")
    print("%d goal(s) missed" % g.missed if g.missed else "every goal met")
    if not a.keep:
        finish_workdir(a)


if __name__ == "__main__":
    main()
