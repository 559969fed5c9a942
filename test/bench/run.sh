#!/usr/bin/env bash
# The benchmark: installs what is missing, builds and installs qilin_rbac,
# starts its own throwaway cluster, loads the data and prints a table of
# medians and ratios.  Run as root from anywhere:
#
#   bash test/bench/run.sh            # 1,000,000 products, 1,000 tenants, 100,000 keys
#   bash test/bench/run.sh --quick    # small sizes, a minute or two; for CI
#
# Parallel query and JIT are off in the benchmark's cluster: the checker is
# PARALLEL RESTRICTED (the identity lives in the leader), so a policy keeps
# the scan in one process anyway, and the comparison is between executors,
# not compilers.  QILIN_RBAC_BENCH_NOBUILD=1 uses the installed extension.
cd "$(dirname "$0")/../.."
. test/lib.sh
. test/bench/policy.sh

if [ "${1:-}" = "--quick" ]; then
    MODE=quick TENANTS=100 ROWS=200 BROAD=50 NARROW=5 NKEYS=2000 REPEAT=5 PGB_TIME=5
    SCALE_TENANTS=2000 SCALE_ROLES=200 SCALE_KEYS=10000 WIDE=500
else
    MODE=full TENANTS=1000 ROWS=1000 BROAD=500 NARROW=20 NKEYS=100000 REPEAT=5 PGB_TIME=30
    SCALE_TENANTS=100000 SCALE_ROLES=10000 SCALE_KEYS=1000000 WIDE=10000
fi

if [ -z "${QILIN_RBAC_BENCH_NOBUILD:-}" ]; then
    qr_install_packages
    qr_build
fi
qr_start_cluster "-c max_parallel_workers_per_gather=0 -c jit=off -c shared_buffers=512MB"

PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
PGBENCH="$PGBIN/pgbench"
OUT=$QR_DIR/results
: >"$OUT"

qr_log "loading $((TENANTS * ROWS)) products over $TENANTS tenants and $NKEYS keys ($MODE)"
"${PSQL[@]}" -v tenants=$TENANTS -v rows_per_tenant=$ROWS -v broad=$BROAD -v narrow=$NARROW \
    -v nkeys=$NKEYS -f test/bench/setup.sql
NARROW_LIST=$("${PSQL[@]}" -At -c "SELECT array_agg(tenant_id ORDER BY tenant_id) FROM bench_grants WHERE principal = 'narrow'")

set_policy() { policy_sql "$1" | "${PSQL[@]}" >/dev/null; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# rounds PRINCIPAL VARIANT...: one session runs round after round, each
# round every variant once (policy switched in between, as the table
# owner), so the noise of a shared machine falls on all variants alike.
# Round 0 warms up and is dropped.  Leaves MS[variant,principal] (the
# median in ms) and CNT[variant,principal].
rounds() {
    local p=$1 r v query
    shift
    {
        echo '\timing on'
        echo "SET app.user_id = '$([ "$p" = broad ] && echo 1 || echo 2)';"
        for r in $(seq 0 "$REPEAT"); do
            for v in "$@"; do
                query=$SCAN
                echo 'RESET ROLE;'
                case $v in
                    filter) policy_sql norls; query=$FILTERED ;;
                    floor)  echo "SET client_min_messages = warning; DROP POLICY IF EXISTS read ON products;
                                  ALTER TABLE products ENABLE ROW LEVEL SECURITY;
                                  CREATE POLICY read ON products FOR SELECT USING (tenant_id <> 0);" ;;
                    *)      policy_sql "$v" ;;
                esac
                echo "SET ROLE bench_$p;"
                echo "\\echo MARK $v $r"
                echo "$query;"
            done
        done
    } >"$QR_DIR/rounds.sql"
    "${PSQL[@]}" -At -f "$QR_DIR/rounds.sql" >"$QR_DIR/rounds.out"
    for v in "$@"; do
        MS[$v,$p]=$(awk -v v="$v" '
            /^MARK / {cur = ($2 == v && $3 > 0); next}
            cur && /^Time:/ {print $2; cur = 0}' "$QR_DIR/rounds.out" |
            sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
        CNT[$v,$p]=$(awk -v v="$v" '/^MARK / {cur = ($2 == v); next} cur && /^[0-9]+$/ {print; exit}' "$QR_DIR/rounds.out")
        qr_log "  $p, $v: median ${MS[$v,$p]} ms, ${CNT[$v,$p]} rows"
    done
}

SCAN="SELECT count(*) FROM products"
FILTERED="SELECT count(*) FROM products WHERE tenant_id = ANY ('$NARROW_LIST')"
declare -A MS CNT
failures=0
qr_log "scans, broad: $((REPEAT + 1)) rounds of no RLS, per-row SQL, set-based SQL, qilin_rbac, floor"
rounds broad norls perrow setbased qilin floor
qr_log "scans, narrow: $((REPEAT + 1)) rounds of no RLS, explicit filter, per-row SQL, set-based SQL, qilin_rbac"
rounds narrow norls filter perrow setbased qilin

# every policy must let through exactly the rows of the principal's tenants
for p in broad narrow; do
    expect=$("${PSQL[@]}" -At -c "SELECT count(*) FROM products WHERE tenant_id IN
                                  (SELECT tenant_id FROM bench_grants WHERE principal = '$p')")
    for v in perrow setbased qilin; do
        if [ "${CNT[$v,$p]}" != "$expect" ]; then
            echo "MISMATCH: $v policy gives ${CNT[$v,$p]} rows for $p, expected $expect"
            failures=$((failures + 1))
        fi
    done
done
if [ "${CNT[filter,narrow]}" != "${CNT[qilin,narrow]}" ]; then
    echo "MISMATCH: qilin_rbac gives ${CNT[qilin,narrow]} rows for narrow, the explicit filter ${CNT[filter,narrow]}"
    failures=$((failures + 1))
fi

# Point lookups: a new key per transaction, against the same transaction
# without authentication and without RLS (the same rows in products_plain).
# One pgbench run draws both scripts at random, transaction by
# transaction, so the noise of a shared machine falls on both alike; with
# a fixed number of clients, throughput is inversely proportional to the
# per-transaction latency pgbench reports for each script.
# Last-used tracking writes a key's first use in each interval; with a new
# key drawn from 100,000 in every transaction nearly every authentication
# is a first use, the worst case for it.  So the lookups run twice: with
# tracking off (qilin_rbac.last_used_interval = 0), which is what the
# authentication itself costs, and with the default interval.
lookups() {
    local out="$QR_DIR/pgbench_$1.out"
    qr_log "pgbench point lookups ($1), $((2 * PGB_TIME)) s"
    "$PGBENCH" -n -M prepared -c 2 -j 2 -T $((2 * PGB_TIME)) -r -U bench_app \
        -D nkeys=$NKEYS -D rows_per_tenant=$ROWS \
        -f test/bench/lookup_plain.sql -f test/bench/lookup_auth.sql >"$out" 2>&1
    LAT_PLAIN=$(awk '/^SQL script 1/ {s = 1} s == 1 && /latency average/ {print $5; exit}' "$out")
    LAT_AUTH=$(awk '/^SQL script 2/ {s = 1} s == 1 && /latency average/ {print $5; exit}' "$out")
    FAILED=$(awk '/number of failed transactions/ {print $5; exit}' "$out")
    STMT_AUTH=$(awk '/rbac_authenticate\(api_key\)/ {print $1; exit}' "$out")
    STMT_KEY=$(awk '/SELECT api_key AS principal/ {print $1; exit}' "$out")
    qr_log "  ms per transaction: plain $LAT_PLAIN, authenticated $LAT_AUTH"
    if [ -z "$LAT_PLAIN" ] || [ -z "$LAT_AUTH" ] || [ "$FAILED" != "0" ]; then
        cat "$out"
        echo "pgbench failed"
        failures=$((failures + 1))
        LAT_PLAIN=${LAT_PLAIN:-1} LAT_AUTH=${LAT_AUTH:-1}
    fi
}
set_policy qilin
"${PSQL[@]}" -q -c "ALTER ROLE bench_app SET qilin_rbac.last_used_interval = 0"
lookups untracked
LAT_PLAIN_OFF=$LAT_PLAIN LAT_AUTH_OFF=$LAT_AUTH STMT_AUTH_OFF=$STMT_AUTH STMT_KEY_OFF=$STMT_KEY
"${PSQL[@]}" -q -c "ALTER ROLE bench_app RESET qilin_rbac.last_used_interval"
lookups tracked
seen=$("${PSQL[@]}" -At -U bench_app <<SQL
BEGIN;
SELECT rbac_authenticate(api_key) IS NOT NULL FROM bench.keys WHERE n = 1 \g /dev/null
SELECT count(*) FROM products;
COMMIT;
SQL
)
if [ "$seen" != "$ROWS" ]; then
    echo "MISMATCH: a key sees $seen products, expected $ROWS"
    failures=$((failures + 1))
fi

qr_log "scale: $SCALE_TENANTS tenants, $SCALE_ROLES roles, $SCALE_KEYS keys"
"${PSQL[@]}" -v tenants=$TENANTS -v nkeys=$NKEYS -v scale_tenants=$SCALE_TENANTS \
    -v scale_roles=$SCALE_ROLES -v scale_keys=$SCALE_KEYS -v wide=$WIDE -f test/bench/scale.sql
declare -A SMALL_MS SMALL_CNT
for k in "${!MS[@]}"; do SMALL_MS[$k]=${MS[$k]}; SMALL_CNT[$k]=${CNT[$k]}; done
rounds broad norls qilin
MS[scale_norls]=${MS[norls,broad]}
MS[scale_qilin]=${MS[qilin,broad]}
CNT[scale_qilin]=${CNT[qilin,broad]}
for k in "${!SMALL_MS[@]}"; do MS[$k]=${SMALL_MS[$k]}; CNT[$k]=${SMALL_CNT[$k]}; done
if [ "${CNT[scale_qilin]}" != "${CNT[qilin,broad]}" ]; then
    echo "MISMATCH: at scale qilin_rbac gives ${CNT[scale_qilin]} rows for broad, before ${CNT[qilin,broad]}"
    failures=$((failures + 1))
fi
WIDE_STATS=$("${PSQL[@]}" -At -F ' ' <<SQL
BEGIN;
SELECT rbac_set_principal('wide') \g /dev/null
SELECT rbac_has_permission(1, 'product.read') \g /dev/null
SELECT tenants, bytes FROM rbac_cache_stats();
COMMIT;
SQL
)
WIDE_REBUILD=$("${PSQL[@]}" <<SQL | awk '/^MARK/ {m = 1; next} m && /^Time:/ {print $2; exit}'
BEGIN;
SELECT rbac_set_principal('wide') \g /dev/null
\timing on
\echo MARK
SELECT rbac_has_permission(1, 'product.read') \g /dev/null
COMMIT;
SQL
)

SMALL=$(ratio "${MS[qilin,broad]}" "${MS[norls,broad]}")
LARGE=$(ratio "${MS[scale_qilin]}" "${MS[scale_norls]}")
{
    echo "qilin_rbac benchmark ($MODE): $((TENANTS * ROWS)) products, $TENANTS tenants;"
    echo "broad = product.read in $BROAD tenants, narrow = in $NARROW; medians of $REPEAT interleaved rounds"
    echo
    printf '%-44s %12s %12s\n' "count(*) FROM products" "broad ms" "narrow ms"
    printf '%-44s %12s %12s\n' "no RLS" "${MS[norls,broad]}" "${MS[norls,narrow]}"
    printf '%-44s %12s %12s\n' "no RLS, WHERE tenant_id = ANY (the $NARROW)" "" "${MS[filter,narrow]}"
    printf '%-44s %12s %12s\n' "per-row SQL authorize() policy" "${MS[perrow,broad]}" "${MS[perrow,narrow]}"
    printf '%-44s %12s %12s\n' "set-based SQL policy" "${MS[setbased,broad]}" "${MS[setbased,narrow]}"
    printf '%-44s %12s %12s\n' "qilin_rbac policy" "${MS[qilin,broad]}" "${MS[qilin,narrow]}"
    printf '%-44s %12s %12s\n' "floor: policy USING (tenant_id <> 0)" "${MS[floor,broad]}" ""
    echo
    printf '%-60s %8s\n' "ratio" "value"
    printf '%-60s %8s\n' "broad:  qilin_rbac / no RLS" "$SMALL"
    printf '%-60s %8s\n' "broad:  floor (one built-in C call per row) / no RLS" "$(ratio "${MS[floor,broad]}" "${MS[norls,broad]}")"
    printf '%-60s %8s\n' "broad:  per-row SQL / qilin_rbac" "$(ratio "${MS[perrow,broad]}" "${MS[qilin,broad]}")"
    printf '%-60s %8s\n' "broad:  set-based SQL / qilin_rbac" "$(ratio "${MS[setbased,broad]}" "${MS[qilin,broad]}")"
    printf '%-60s %8s\n' "narrow: qilin_rbac / no RLS with explicit tenant list" "$(ratio "${MS[qilin,narrow]}" "${MS[filter,narrow]}")"
    printf '%-60s %8s\n' "narrow: set-based SQL / qilin_rbac" "$(ratio "${MS[setbased,narrow]}" "${MS[qilin,narrow]}")"
    printf '%-60s %8s\n' "narrow: per-row SQL / qilin_rbac" "$(ratio "${MS[perrow,narrow]}" "${MS[qilin,narrow]}")"
    echo
    echo "point lookups, a random key of $NKEYS per transaction (pgbench -M prepared -c 2, $((2 * PGB_TIME)) s, scripts mixed):"
    echo "  last-used tracking off (qilin_rbac.last_used_interval = 0):"
    printf '%-60s %8s\n' "ms per transaction without authentication and RLS" "$LAT_PLAIN_OFF"
    printf '%-60s %8s\n' "ms per transaction with rbac_authenticate and the policy" "$LAT_AUTH_OFF"
    printf '%-60s %8s\n' "  of which the statement fetching the key, plain" "$STMT_KEY_OFF"
    printf '%-60s %8s\n' "  of which the statement fetching it and authenticating" "$STMT_AUTH_OFF"
    printf '%-60s %8s\n' "throughput ratio, authenticated / plain" "$(ratio "$LAT_PLAIN_OFF" "$LAT_AUTH_OFF")"
    echo "  last-used tracking on (default interval; nearly every key is a first use):"
    printf '%-60s %8s\n' "ms per transaction without authentication and RLS" "$LAT_PLAIN"
    printf '%-60s %8s\n' "ms per transaction with rbac_authenticate and the policy" "$LAT_AUTH"
    printf '%-60s %8s\n' "  of which the statement fetching it and authenticating" "$STMT_AUTH"
    printf '%-60s %8s\n' "throughput ratio, authenticated / plain" "$(ratio "$LAT_PLAIN" "$LAT_AUTH")"
    echo
    echo "scale: $SCALE_TENANTS tenants, $SCALE_ROLES roles, $SCALE_KEYS keys:"
    printf '%-60s %8s\n' "broad scan, no RLS ms" "${MS[scale_norls]}"
    printf '%-60s %8s\n' "broad scan, qilin_rbac ms" "${MS[scale_qilin]}"
    printf '%-60s %8s\n' "broad: qilin_rbac / no RLS (small catalogue: $SMALL)" "$LARGE"
    printf '%-60s %8s\n' "change against the small catalogue (%)" "$(awk -v a="$LARGE" -v b="$SMALL" 'BEGIN {printf "%+.1f", (a / b - 1) * 100}')"
    printf '%-60s %8s\n' "cache of a principal seeing $WIDE tenants: tenants" "${WIDE_STATS% *}"
    printf '%-60s %8s\n' "cache of a principal seeing $WIDE tenants: bytes" "${WIDE_STATS#* }"
    printf '%-60s %8s\n' "building that cache (one statement), ms" "$WIDE_REBUILD"
    echo
    if [ "$failures" -eq 0 ]; then
        echo "row counts agree: every policy returns exactly the principal's rows"
    else
        echo "ROW COUNTS DISAGREE ($failures)"
    fi
} | tee "$OUT"
[ "$failures" -eq 0 ]
