#!/bin/sh
# The main job on a built-in default: a demo image built from the project's
# own data (data/demo), served by a registry on 127.0.0.1, pulled, installed
# into a throwaway root and run once under runc, printing each step.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh build
exec python3 scripts/demo.py
