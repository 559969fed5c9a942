#!/usr/bin/env bash
# The benchmark in its quick mode (small sizes, its own cluster): checks
# that the script runs end to end and that every policy, qilin_rbac's
# among them, returns exactly the rows the explicit tenant filter returns.
# Timings are printed but never asserted.
cd "$(dirname "$0")/../.."
passed=0
failed=0
out=$(mktemp)
if QILIN_RBAC_BENCH_NOBUILD=1 bash test/bench/run.sh --quick >"$out" 2>&1; then
    echo "ok - benchmark quick mode runs"
    passed=$((passed + 1))
else
    echo "not ok - benchmark quick mode failed"
    cat "$out"
    failed=$((failed + 1))
fi
if grep -q '^row counts agree' "$out" && ! grep -q 'MISMATCH' "$out"; then
    echo "ok - every policy returns the principal's rows, as the explicit filter does"
    passed=$((passed + 1))
else
    echo "not ok - row counts disagree"
    grep -E 'MISMATCH|DISAGREE' "$out"
    failed=$((failed + 1))
fi
if grep -q 'throughput ratio' "$out" && grep -q 'qilin_rbac / no RLS' "$out"; then
    echo "ok - the table of medians and ratios is printed"
    passed=$((passed + 1))
else
    echo "not ok - the table is incomplete"
    failed=$((failed + 1))
fi
sed -n '/^qilin_rbac benchmark/,$p' "$out"
rm -f "$out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
