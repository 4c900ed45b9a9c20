#!/bin/sh
# The main job on a built-in default: render the bundled demo image's
# exports exactly as an install would, into a throwaway root, and print
# every file. (Later this grows into pull + install + start.)
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh build

root=$(mktemp -d /tmp/syscontainer-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT
ctl=./build/cli/syscontainerctl

echo "== syscontainerctl lint data/demo"
$ctl lint data/demo
echo
echo "== syscontainerctl --sysroot $root render data/demo --name demo --set GREETING=Hi"
$ctl --sysroot "$root" render data/demo --name demo --set GREETING=Hi \
  --output "$root/var/lib/containers/atomic/demo.0"
echo
for f in "$root"/var/lib/containers/atomic/demo.0/*; do
  echo "---- ${f#"$root"}"
  cat "$f"
done
