#!/bin/sh
# Configures (once) and builds the project into BUILD_DIR (default: build).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
if [ $# -gt 0 ]; then shift; fi
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >&2
elif [ $# -gt 0 ]; then
  meson setup --reconfigure "$dir" "$@" >&2
fi
ninja -C "$dir" >&2
