#!/bin/sh
# Installs the Debian 12 packages that building and testing need, when any
# is missing. Run as root (it calls apt-get). Sourced by demo.sh and test.sh.
set -eu

SC_PACKAGES="build-essential meson ninja-build pkg-config libglib2.0-dev libostree-dev ostree
libarchive-dev libjansson-dev libsoup-3.0-dev zlib1g-dev libzstd-dev libgnutls28-dev check runc
systemd systemd-container util-linux python3 clang libclang-rt-14-dev umoci skopeo busybox-static zstd docker-registry podman
apache2-utils valgrind pandoc bash-completion zsh crun libselinux1-dev selinux-policy-default selinux-utils libyaml-dev
libgpgme-dev gnupg openssl python3-jsonschema libisal-dev libpcre2-dev xfsprogs"

missing=""
for p in $SC_PACKAGES; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing; run as root to install them" >&2
    exit 1
  fi
  echo "deps.sh: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >&2
fi
