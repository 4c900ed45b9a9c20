#!/bin/sh
# `meson install` into a scratch root, then a consumer program builds with
# nothing but `pkg-config --cflags --libs libsyscontainer` and runs.
set -eu
build=${SC_BUILD_ROOT:?}
src=${SC_SOURCE_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "1..4"
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet > "$tmp/install.log" 2>&1 ||
  { echo "not ok 1 - meson install failed"; sed 's/^/# /' "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name libsyscontainer.pc | head -1)
[ -n "$pc" ] || { echo "not ok 1 - libsyscontainer.pc is not installed"; exit 1; }
hdr=$(find "$tmp/root" -path '*/include/syscontainer/syscontainer.h' | head -1)
[ -n "$hdr" ] || { echo "not ok 1 - headers are not installed under include/syscontainer"; exit 1; }
echo "ok 1 - meson install writes the library, the headers and libsyscontainer.pc"

export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
if [ -n "$(pkg-config --print-requires libsyscontainer)" ]; then
  echo "not ok 2 - public Requires: $(pkg-config --print-requires libsyscontainer)"; exit 1
fi
for dep in glib-2.0 ostree-1 libarchive jansson libsoup-3.0; do
  pkg-config --print-requires-private libsyscontainer | grep -q "^$dep" ||
    { echo "not ok 2 - $dep is not a private requirement"; exit 1; }
done
echo "ok 2 - dependencies are private (Requires.private only)"

cat > "$tmp/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <syscontainer/syscontainer.h>

int main(void)
{
  sc_values *values = NULL;
  sc_error *error = NULL;
  char *out = NULL;
  const char *tmpl = "Hello, ${WHO}! $$5";
  if (sc_values_new(&values, NULL) != SC_OK || sc_values_set(values, "WHO", "world", NULL) != SC_OK)
    return 2;
  if (sc_template_render("greeting", tmpl, strlen(tmpl), values, &out, NULL, &error) != SC_OK) {
    fprintf(stderr, "%s\n", sc_error_message(error));
    return 3;
  }
  printf("%s %s\n", out, sc_version());
  sc_free(out);
  sc_values_free(values);
  return 0;
}
C
# shellcheck disable=SC2046
if ! cc -std=c99 -Wall -Werror -o "$tmp/consumer" "$tmp/consumer.c" $(pkg-config --cflags --libs libsyscontainer) 2> "$tmp/cc.log"; then
  echo "not ok 3 - the consumer does not build with pkg-config flags"; sed 's/^/# /' "$tmp/cc.log"; exit 1
fi
echo "ok 3 - a consumer builds with pkg-config --cflags --libs libsyscontainer"
libdir=$(dirname "$(find "$tmp/root" -name 'libsyscontainer.so.0' | head -1)")
got=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer")
version=$(pkg-config --modversion libsyscontainer)
[ "$got" = "Hello, world! \$5 $version" ] || { echo "not ok 4 - consumer printed '$got'"; exit 1; }
echo "ok 4 - the consumer runs against the installed library: $got"
