#!/usr/bin/env bash
# libFuzzer harnesses for the parsers of untrusted text (permission text,
# names, environments, the API key format and checksum), each for a bounded
# time from the committed seed corpus.  QILIN_RBAC_FUZZ_SECONDS changes the
# time per harness (default 60).
cd "$(dirname "$0")/../.."
. test/lib.sh
qr_install_packages clang libclang-rt-14-dev

passed=0
failed=0
set +e
bash test/fuzz/run.sh "${QILIN_RBAC_FUZZ_SECONDS:-60}" 2>&1 | tee /tmp/qilin_rbac_fuzz.$$.out
set -e
passed=$(grep -c '^ok fuzz_' /tmp/qilin_rbac_fuzz.$$.out || true)
failed=$(grep -c '^FAILED fuzz_' /tmp/qilin_rbac_fuzz.$$.out || true)
# a build failure runs no harness at all
if [ $((passed + failed)) -ne 2 ]; then failed=$((2 - passed)); fi
rm -f /tmp/qilin_rbac_fuzz.$$.out
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
