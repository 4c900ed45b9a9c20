#!/bin/sh
# Every public header compiles alone as C89 with -pedantic (and as C++), and
# includes nothing but the C library and our own headers.
set -eu
src=${SC_SOURCE_ROOT:?}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
for h in "$src"/include/syscontainer/*.h; do
  name=$(basename "$h")
  n=$((n + 1))
  printf '#include <syscontainer/%s>\nint main(void) { return 0; }\n' "$name" > "$tmp/t.c"
  if ! $cc -std=c89 -pedantic -Werror -Wall -Wextra -I"$src/include" -c "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
    echo "not ok $n - $name does not compile alone as C89"; cat "$tmp/err" | sed 's/^/# /'; fail=1; continue
  fi
  if command -v c++ > /dev/null 2>&1 &&
     ! c++ -x c++ -Werror -Wall -I"$src/include" -c "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
    echo "not ok $n - $name does not compile as C++"; sed 's/^/# /' "$tmp/err"; fail=1; continue
  fi
  bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include' "$h" | grep -vE '<(stddef|stdint|stdio)\.h>|<syscontainer/' || true)
  if [ -n "$bad" ]; then
    echo "not ok $n - $name includes a dependency header: $bad"; fail=1; continue
  fi
  echo "ok $n - $name compiles alone (C89 -pedantic, C++) and includes no dependency"
done
echo "1..$n"
exit $fail
