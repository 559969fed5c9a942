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

# Further suites: each test/suites/*.sh runs against the installed
# extension (and may start clusters of its own), prints its own results and
# ends with a line "N passed, M failed".  They run in name order.
for suite in test/suites/*.sh; do
    [ -e "$suite" ] || continue
    qr_log "suite $(basename "$suite" .sh)"
    set +e
    bash "$suite" 2>&1 | tee "$QR_DIR/suite.out"
    rc=${PIPESTATUS[0]}
    set -e
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$QR_DIR/suite.out" | tail -n 1 || true)
    if [ -n "$line" ]; then
        passed=$((passed + $(echo "$line" | awk '{print $1}')))
        failed=$((failed + $(echo "$line" | awk '{print $3}')))
    fi
    if [ "$rc" -ne 0 ] && ! echo "$line" | grep -qE ', [1-9][0-9]* failed'; then
        qr_log "suite $(basename "$suite" .sh) exited with $rc"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
