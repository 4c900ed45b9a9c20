#!/bin/sh
# Runs the whole test suite: every meson suite on a normal build, then the
# unit, integration and cli suites again under AddressSanitizer (with leak
# detection) + UndefinedBehaviorSanitizer, then the fuzz suite.
# Ends with one line "tests: N passed, N failed, N skipped".
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
# -Dtest_hooks=true: the crash tests' injection, which no shipped build has
./scripts/build.sh build -Dtest_hooks=true

status=0
meson test -C build --print-errorlogs || status=1

# -Disal=disabled: this build inflates gzip layers with zlib, the fallback,
# while the normal build (and the fuzz build) uses ISA-L: both decoders run
# every suite here without another tree (lib/store/decompress.c).
./scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debug -Dtest_hooks=true -Disal=disabled
# G_SLICE=always-malloc: every GLib allocation is a malloc that LeakSanitizer
# sees; tests/lsan.supp lists the third-party leaks left alone.
G_SLICE=always-malloc LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --suite integration --suite cli --print-errorlogs ||
  status=1

# The fuzz suite: every libFuzzer target for a bounded time over its seeds
# (clang, with ASan and UBSan).
CC=clang ./scripts/build.sh build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Dfuzz_seconds=20
meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  build-fuzz/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
            print("failed: %s (%s)" % (r["name"], path.split("/")[0]))
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
exit $status
