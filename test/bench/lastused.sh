#!/usr/bin/env bash
# Authentication throughput with last-used tracking off and on.
#
# pgbench, as an ordinary application role, authenticates with one of 50
# keys per transaction (local => true, then one RLS-filtered read).  Runs
# alternate between qilin_rbac.last_used_interval = 0 (off), the default
# 1h, and 1s (a write per key per second: far more than anyone would set),
# and print transactions per second with the rows written to
# rbac.key_usage.  Run as root from anywhere; QILIN_RBAC_BENCH_SECONDS sets
# the length of each run (default 10), QILIN_RBAC_BENCH_CLIENTS the pgbench
# clients (default 2).
cd "$(dirname "$0")/../.."
. test/lib.sh

secs=${QILIN_RBAC_BENCH_SECONDS:-10}
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

run() {
    local interval=$1 before after tps
    psql -X -q -d bench -c "ALTER ROLE bench_app SET qilin_rbac.last_used_interval = '$interval'"
    psql -X -q -d bench -c "TRUNCATE rbac.key_usage"
    sleep 1
    before=$(written)
    tps=$(pgbench -n -M prepared -U bench_app -c "$clients" -j "$clients" -T "$secs" -f "$script" bench 2>/dev/null |
          awk '/^tps/ {print int($3)}')
    sleep 1   # let the statistics collector catch up
    after=$(written)
    printf '%-10s %10s %12s\n' "$interval" "$tps" "$((after - before))"
}

echo "last_used_interval, transactions/s ($clients clients, ${secs}s each), rows written to rbac.key_usage"
printf '%-10s %10s %12s\n' interval tps written
run 0
run 1h
run 0
run 1h
run 1s
