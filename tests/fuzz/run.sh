#!/bin/sh
# Runs one libFuzzer target for a bounded time over its seed corpus; new
# inputs go to a scratch directory, never into the source tree.
# Usage: run.sh TARGET SEED_DIR SECONDS
set -eu
target=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
# Every GLib allocation a plain malloc, so that leaks in objects GLib would
# take from its slice allocator are seen too.
export G_SLICE=always-malloc
set +e
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" > "$work/log" 2>&1
rc=$?
set -e
tail -20 "$work/log"
if [ $rc -ne 0 ]; then
  for f in "$work"/artifacts/*; do
    [ -f "$f" ] && { echo "crash input $(basename "$f") (base64):"; base64 "$f" | head -50; }
  done
  exit 1
fi
