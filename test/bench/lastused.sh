#!/usr/bin/env bash
# Authentication throughput with last-used tracking off and on.
#
# pgbench, as an ordinary application role, authenticates with one of 50
# keys per transaction (local => true, then one RLS-filtered read).  Runs
# alternate between qilin_rbac.last_used_interval = 0 (off), the default
# 1h, and 1s (a write per key per second: far more than anyone would set),
# and print transactions per second with the rows written to
# rbac.key_usage, round by round, and the median of each.  Run as root
# from anywhere; QILIN_RBAC_BENCH_SECONDS sets the length of each run
# (default 4), QILIN_RBAC_BENCH_ROUNDS the rounds (default 5),
# QILIN_RBAC_BENCH_CLIENTS the pgbench clients (default 2).
cd "$(dirname "$0")/../.."
. test/lib.sh

secs=${QILIN_RBAC_BENCH_SECONDS:-4}
rounds=${QILIN_RBAC_BENCH_ROUNDS:-5}
clients=${QILIN_RBAC_BENCH_CLIENTS:-2}
qr_install_packages
qr_build
qr_start_cluster

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE ROLE bench_app LOGIN;
CREATE DATABASE bench;
\c bench
CREATE EXTENSION qilin_rbac;
SELECT rbac_create_role('reader', '{product.read}') \g /dev/null
CREATE TABLE bench_keys (n int PRIMARY KEY, api_key text);
GRANT SELECT ON bench_keys TO bench_app;
CREATE TABLE products (id serial PRIMARY KEY, tenant_id bigint NOT NULL, name text);
ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY read ON products FOR SELECT USING (rbac_has_permission(tenant_id, 'product.read'));
GRANT SELECT ON products TO bench_app;
INSERT INTO bench_keys
SELECT n, k.api_key
FROM generate_series(1, 50) n,
     LATERAL (SELECT rbac_create_tenant('tenant_' || n) AS id) t,
     LATERAL rbac_issue_key('tenant_' || n, 'key ' || n, '{reader}') k;
INSERT INTO products (tenant_id, name)
SELECT rbac_tenant_id('tenant_' || n), 'p' || i FROM generate_series(1, 50) n, generate_series(1, 20) i;
ANALYZE;
SQL

script=$QR_DIR/auth.sql
cat >"$script" <<'SQL'
\set k random(1, 50)
BEGIN;
SELECT rbac_authenticate(api_key) FROM bench_keys WHERE n = :k;
SELECT count(*) FROM products;
COMMIT;
SQL

written() {
    psql -X -At -d bench -c "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relid = 'rbac.key_usage'::regclass"
}

# run INTERVAL: one pgbench run with that setting; prints "tps written"
run() {
    local interval=$1 before after tps
    psql -X -q -d bench -c "ALTER ROLE bench_app SET qilin_rbac.last_used_interval = '$interval'"
    psql -X -q -d bench -c "TRUNCATE rbac.key_usage"
    sleep 0.5
    before=$(written)
    tps=$(pgbench -n -M prepared -U bench_app -c "$clients" -j "$clients" -T "$secs" -f "$script" bench 2>/dev/null |
          awk '/^tps/ {print int($3)}')
    sleep 0.7   # let the statistics catch up
    after=$(written)
    echo "$tps $((after - before))"
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# warm up caches and the plan caches of the server before measuring
pgbench -n -M prepared -U bench_app -c "$clients" -j "$clients" -T 3 -f "$script" bench >/dev/null 2>&1

# The settings take turns within each round, so that load from elsewhere
# on the machine falls on all of them alike; the medians are the result.
settings="0 1h 1s"
echo "transactions/s ($clients clients, ${secs}s per run; rows written to rbac.key_usage in brackets)"
printf '%-8s' round; for s in $settings; do printf '%16s' "interval=$s"; done; echo
declare -A results
for r in $(seq 1 "$rounds"); do
    printf '%-8s' "$r"
    for s in $settings; do
        read -r tps w < <(run "$s")
        results[$s]+="$tps "
        printf '%16s' "$tps ($w)"
    done
    echo
done
printf '%-8s' median
for s in $settings; do printf '%16s' "$(echo "${results[$s]}" | tr ' ' '\n' | grep . | median)"; done
echo
