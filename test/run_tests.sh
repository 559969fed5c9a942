#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as
# errors, starts a throwaway cluster and runs the regression suite
# (pg_regress through make installcheck).  Run as root from anywhere.
cd "$(dirname "$0")/.."
. test/lib.sh

qr_install_packages
qr_build
qr_start_cluster

passed=0
failed=0
qr_log "regression suite (make installcheck)"
set +e
make -s installcheck PG_CONFIG="$PGBIN/pg_config" 2>&1 | tee "$QR_DIR/installcheck.out"
rc=${PIPESTATUS[0]}
set -e
passed=$((passed + $(grep -cE '^(ok|test) .* (ok|\.\.\. ok)' "$QR_DIR/installcheck.out" || true)))
failed=$((failed + $(grep -cE 'FAILED|failed \(ignored\)' "$QR_DIR/installcheck.out" || true)))
if [ "$rc" -ne 0 ]; then
    [ -f regression.diffs ] && cat regression.diffs
    [ "$failed" -gt 0 ] || failed=1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
