#!/usr/bin/env bash
# Build the libFuzzer harnesses and run each for a bounded time.
#
#   bash test/fuzz/run.sh            # 60 seconds per harness (what CI runs)
#   bash test/fuzz/run.sh 3600       # a longer run: one hour per harness
#   bash test/fuzz/run.sh 600 keyformat   # one harness only
#
# The committed seed corpus (test/fuzz/corpus/<harness>) is read, never
# written: new inputs go to a scratch directory, kept with QILIN_RBAC_KEEP=1.
# A failing input is saved as test/fuzz/build/crash-* and the script exits
# non-zero.  Reproduce one with: test/fuzz/build/fuzz_<harness> <file>.
# Needs clang (libFuzzer) and libsodium-dev.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(permission keyformat)

CC=${FUZZ_CC:-clang}
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror -Wno-unused-parameter -I../../src"
mkdir -p build
$CC $CFLAGS -o build/fuzz_permission fuzz_permission.c ../../src/permparse.c
$CC $CFLAGS -o build/fuzz_keyformat fuzz_keyformat.c ../../src/keyformat.c ../../src/permparse.c -lsodium

scratch=$(mktemp -d /tmp/qilin_rbac_fuzz.XXXXXX)
if [ -z "${QILIN_RBAC_KEEP:-}" ]; then trap 'rm -rf "$scratch"' EXIT; fi

status=0
for h in "${harnesses[@]}"; do
    mkdir -p "$scratch/$h"
    echo "== fuzz_$h for ${seconds}s"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "build/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
            -max_len=512 -dict="$h.dict" -print_final_stats=1 \
            -artifact_prefix="build/crash-$h-" \
            "$scratch/$h" "corpus/$h" >"$scratch/$h.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$scratch/$h.log" | tail -n 2 || true
        echo "ok fuzz_$h"
    else
        tail -n 40 "$scratch/$h.log"
        echo "FAILED fuzz_$h (see test/fuzz/build/crash-$h-*)"
        status=1
    fi
done
exit $status
