#!/bin/sh
# The shared library exports exactly the functions that the public headers
# declare, all named sc_*, all under the version node of the linker script.
set -eu
src=${SC_SOURCE_ROOT:?}
lib=${SC_LIBRARY:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
# Declarations: "SC_API <type> [*]name(" possibly over two lines.
cat "$src"/include/syscontainer/*.h | tr '\n' ' ' | grep -oE 'SC_API [^;(]*\(' |
  sed -E 's/.*[ *](sc_[a-z0-9_]+) *\($/\1/' | grep -E '^sc_[a-z0-9_]+$' | sort -u > "$tmp/declared"

echo "1..5"
if diff -u "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
  echo "ok 1 - exported symbols equal the $(wc -l < "$tmp/declared") declared functions"
else
  echo "not ok 1 - exported symbols differ from the declarations (- declared, + exported)"
  sed 's/^/# /' "$tmp/diff"; exit 1
fi
if grep -v '^sc_' "$tmp/exported"; then
  echo "not ok 2 - a symbol outside sc_* is exported"; exit 1
fi
echo "ok 2 - every exported symbol is sc_*"
if nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '@@LIBSYSCONTAINER_0$' | grep .; then
  echo "not ok 3 - a symbol is outside the LIBSYSCONTAINER_0 version node"; exit 1
fi
echo "ok 3 - every symbol carries the LIBSYSCONTAINER_0 version"
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libsyscontainer.so.0" ] || { echo "not ok 4 - SONAME is '$soname'"; exit 1; }
echo "ok 4 - SONAME is libsyscontainer.so.0"
# The crash tests' injection is compiled in only with -Dtest_hooks=true.
if grep -q SC_TEST_KILL_AT "$lib"; then has=1; else has=0; fi
if [ "$has" = "${SC_TEST_HOOKS:-0}" ]; then
  echo "ok 5 - crash injection compiled in: $has (test_hooks=${SC_TEST_HOOKS:-0})"
else
  echo "not ok 5 - crash injection compiled in: $has, but test_hooks=${SC_TEST_HOOKS:-0}"; exit 1
fi
