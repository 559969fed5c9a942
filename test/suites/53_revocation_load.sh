#!/usr/bin/env bash
# Revocation under load.  pgbench clients, as an ordinary application role,
# each transaction authenticate with one of 40 keys and count the rows an
# RLS policy lets them read, recording when they started.  Meanwhile
# another session revokes keys, removes key owners from the group that
# gives them their rights, and unassigns roles, recording for each change a
# moment after its COMMIT returned.  Then:
#
#  - no authentication started after a key's revocation was committed
#    succeeds;
#  - no read started after a change was committed sees a row the change
#    took away, also inside a transaction that authenticated before it;
#  - the only error is 28000, and there is no deadlock;
#  - the test has teeth: reads succeeded before the changes and reads were
#    attempted after them.
#
# QILIN_RBAC_LOAD_SECONDS sets the length of the pgbench run (default 20).
cd "$(dirname "$0")/../.."
. test/lib.sh

passed=0
failed=0
ok() { echo "ok $*"; passed=$((passed + 1)); }
not_ok() { echo "FAILED $*"; failed=$((failed + 1)); }
check_zero() {  # check_zero description query
    local n
    n=$(psql -At -c "$2")
    if [ "$n" = "0" ]; then ok "$1"; else not_ok "$1 ($n)"; fi
}

seconds=${QILIN_RBAC_LOAD_SECONDS:-20}
QILIN_RBAC_PORT=$((${QILIN_RBAC_PORT:-55432} + 40))
qr_start_cluster
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] %e '" \
     -c "ALTER SYSTEM SET deadlock_timeout = '100ms'" \
     -c "SELECT pg_reload_conf()" >/dev/null
"$PGBIN/createdb" load
export PGDATABASE=load

psql <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION qilin_rbac;
DROP ROLE IF EXISTS load_app;
CREATE ROLE load_app LOGIN;
SELECT rbac_create_tenant('shop');
SELECT rbac_create_principal('team', 'group');
SELECT rbac_create_principal('u' || i) FROM generate_series(1, 8) i;
SELECT rbac_create_role('reader', '{product.read}');
-- u1..u4 read through the group, u5..u8 through their own assignment
SELECT rbac_add_member('team', 'u' || i) FROM generate_series(1, 4) i;
SELECT rbac_assign_role('team', 'reader', 'shop');
SELECT rbac_assign_role('u' || i, 'reader', 'shop') FROM generate_series(5, 8) i;

CREATE TABLE items (id int, tenant_id bigint);
INSERT INTO items SELECT i, rbac_tenant_id('shop') FROM generate_series(1, 100) i;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY read ON items FOR SELECT USING (rbac_has_permission(tenant_id, 'product.read'));
GRANT SELECT ON items TO load_app;

-- The test's own bookkeeping: keys 1..40, each owned by u1..u8 in turn.
CREATE SCHEMA load;
GRANT USAGE ON SCHEMA load TO load_app;
CREATE TABLE load.keyring (n int PRIMARY KEY, key_id bigint, owner text, api_key text);
INSERT INTO load.keyring
SELECT n, k.key_id, 'u' || ((n - 1) % 8 + 1), k.api_key
FROM generate_series(1, 40) n,
     LATERAL rbac_issue_key('shop', 'key ' || n, '{reader}', owner => 'u' || ((n - 1) % 8 + 1)) k;
GRANT SELECT ON load.keyring TO load_app;
CREATE TABLE load.reads (id bigserial PRIMARY KEY, client int, n int,
                         t_auth timestamptz, auth_state text,
                         t_count timestamptz, nrows bigint);
GRANT INSERT, UPDATE, SELECT ON load.reads TO load_app;
GRANT USAGE ON SEQUENCE load.reads_id_seq TO load_app;
CREATE TABLE load.changes (id serial PRIMARY KEY, kind text, key_id bigint, owner text,
                           visible_at timestamptz);

-- Authenticate for the rest of the transaction; a refusal is recorded with
-- its SQLSTATE instead of aborting the pgbench client.
CREATE FUNCTION load.try_auth(p_n int, p_client int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_t timestamptz := clock_timestamp();
    v_state text := 'ok';
BEGIN
    BEGIN
        PERFORM rbac_authenticate((SELECT api_key FROM load.keyring WHERE n = p_n));
    EXCEPTION WHEN OTHERS THEN
        v_state := SQLSTATE;
    END;
    INSERT INTO load.reads (client, n, t_auth, auth_state) VALUES (p_client, p_n, v_t, v_state);
END
$$;
SQL

cat >"$QR_DIR/read.sql" <<'EOF'
\set n random(1, 40)
BEGIN;
SELECT load.try_auth(:n, :client_id);
UPDATE load.reads SET t_count = statement_timestamp(), nrows = (SELECT count(*) FROM items) WHERE id = currval('load.reads_id_seq');
COMMIT;
EOF

# One long transaction that authenticates with key 2 (the first to be
# revoked) and keeps counting, every 0.1 s for 5 s, across its revocation.
{
    echo "BEGIN;"
    echo "SELECT load.try_auth(2, 0);"
    echo "UPDATE load.reads SET t_count = statement_timestamp(), nrows = (SELECT count(*) FROM items) WHERE id = currval('load.reads_id_seq');"
    for i in $(seq 1 50); do
        echo "INSERT INTO load.reads (client, n, t_auth, auth_state, t_count, nrows)"
        echo "  SELECT 0, 2, f.t_auth, f.auth_state, statement_timestamp(), (SELECT count(*) FROM items)"
        echo "  FROM (SELECT t_auth, auth_state FROM load.reads WHERE client = 0 ORDER BY id LIMIT 1) f;"
        echo "SELECT pg_sleep(0.1);"
    done
    echo "COMMIT;"
} >"$QR_DIR/long.sql"

# The changes: every even key revoked, u1..u4 removed from the group,
# u5..u8 lose their assignment, interleaved, one every 0.4 s.  Each is
# recorded, and its visible_at is taken in a statement sent after COMMIT
# returned.
{
    echo "SELECT pg_sleep(2);"
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        echo "BEGIN;"
        echo "SELECT rbac_revoke_key(key_id) FROM load.keyring WHERE n = $((2 * i));"
        echo "INSERT INTO load.changes (kind, key_id) SELECT 'revoke', key_id FROM load.keyring WHERE n = $((2 * i));"
        echo "COMMIT;"
        echo "UPDATE load.changes SET visible_at = clock_timestamp() WHERE id = currval('load.changes_id_seq');"
        echo "SELECT pg_sleep(0.4);"
        if [ $((i % 5)) -eq 0 ]; then
            u=$((i / 5))
            echo "BEGIN;"
            echo "SELECT rbac_remove_member('team', 'u$u');"
            echo "INSERT INTO load.changes (kind, owner) VALUES ('remove_member', 'u$u');"
            echo "COMMIT;"
            echo "UPDATE load.changes SET visible_at = clock_timestamp() WHERE id = currval('load.changes_id_seq');"
            echo "SELECT pg_sleep(0.4);"
            echo "BEGIN;"
            echo "SELECT rbac_unassign_role('u$((u + 4))', 'reader', 'shop');"
            echo "INSERT INTO load.changes (kind, owner) VALUES ('unassign_role', 'u$((u + 4))');"
            echo "COMMIT;"
            echo "UPDATE load.changes SET visible_at = clock_timestamp() WHERE id = currval('load.changes_id_seq');"
            echo "SELECT pg_sleep(0.4);"
        fi
    done
} >"$QR_DIR/changes.sql"

qr_log "pgbench: 4 clients reading for ${seconds}s while keys, members and roles are revoked"
set +e
psql -f "$QR_DIR/changes.sql" >"$QR_DIR/changes.out" 2>&1 &
changer=$!
psql -U load_app -f "$QR_DIR/long.sql" >"$QR_DIR/long.out" 2>&1 &
long=$!
"$PGBIN/pgbench" -n -U load_app -c 4 -j 2 -T "$seconds" -f "$QR_DIR/read.sql" load >"$QR_DIR/pgbench.out" 2>&1
bench_rc=$?
wait "$changer"
changer_rc=$?
wait "$long"
long_rc=$?
set -e
grep -E 'number of (transactions actually processed|failed)|tps|aborted' "$QR_DIR/pgbench.out" || true
if [ "$bench_rc" -eq 0 ]; then ok "pgbench finished without errors"; else tail -n 20 "$QR_DIR/pgbench.out"; not_ok "pgbench finished without errors (exit $bench_rc)"; fi
if [ "$changer_rc" -eq 0 ]; then ok "every change committed"; else tail -n 20 "$QR_DIR/changes.out"; not_ok "every change committed"; fi
if [ "$long_rc" -eq 0 ]; then ok "the long transaction finished"; else tail -n 20 "$QR_DIR/long.out"; not_ok "the long transaction finished"; fi

psql -At -F ' ' -c "SELECT 'reads:', count(*), 'authenticated:', count(*) FILTER (WHERE auth_state = 'ok'),
                            'refused:', count(*) FILTER (WHERE auth_state <> 'ok') FROM load.reads" \
     -c "SELECT 'changes:', count(*), 'committed:', count(visible_at) FROM load.changes"

check_zero "no authentication with a key after its revocation committed" "
    SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
    JOIN load.changes c ON c.kind = 'revoke' AND c.key_id = k.key_id
    WHERE r.auth_state = 'ok' AND r.t_auth > c.visible_at"
check_zero "no rows through a revoked key after the revocation committed, also in open transactions" "
    SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
    JOIN load.changes c ON c.kind = 'revoke' AND c.key_id = k.key_id
    WHERE r.nrows > 0 AND r.t_count > c.visible_at"
check_zero "no rows through a key after its owner lost the role (group member removed, role unassigned)" "
    SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
    JOIN load.changes c ON c.kind IN ('remove_member', 'unassign_role') AND c.owner = k.owner
    WHERE r.nrows > 0 AND r.t_count > c.visible_at"
check_zero "every refusal is 28000" "
    SELECT count(*) FROM load.reads WHERE auth_state NOT IN ('ok', '28000')"
check_zero "every read finished" "SELECT count(*) FROM load.reads WHERE nrows IS NULL"
check_zero "an authenticated read of a live key before any change sees every row" "
    SELECT count(*) FROM load.reads r
    WHERE r.auth_state = 'ok' AND r.t_count < (SELECT min(c.visible_at) - interval '1 second' FROM load.changes c)
      AND r.nrows <> 100"
# teeth: the properties above were exercised both ways
n=$(psql -At -c "
    SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
    JOIN load.changes c ON c.kind = 'revoke' AND c.key_id = k.key_id
    WHERE r.auth_state = 'ok' AND r.t_auth < c.visible_at AND r.t_count > c.visible_at")
echo "reads in a transaction that authenticated before the key's revocation, made after it: $n"
if [ "$n" -gt 0 ]; then ok "reads were made inside a transaction across a revocation"; else not_ok "reads were made inside a transaction across a revocation"; fi
n=$(psql -At -c "
    SELECT least(
      (SELECT count(*) FROM load.reads WHERE auth_state = 'ok' AND nrows = 100),
      (SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
       JOIN load.changes c ON c.kind = 'revoke' AND c.key_id = k.key_id WHERE r.t_auth > c.visible_at),
      (SELECT count(*) FROM load.reads r JOIN load.keyring k USING (n)
       JOIN load.changes c ON c.kind <> 'revoke' AND c.owner = k.owner WHERE r.t_count > c.visible_at))")
if [ "$n" -gt 0 ]; then ok "reads were made both before and after each kind of change"; else not_ok "reads were made both before and after each kind of change"; fi

errors=$(grep -cE ' (ERROR|FATAL|PANIC):  ' "$QR_DIR/server.log" || true)
deadlocks=$(grep -c 'deadlock detected' "$QR_DIR/server.log" || true)
if [ "$errors" -eq 0 ] && [ "$deadlocks" -eq 0 ]; then
    ok "no error and no deadlock in the server log"
else
    grep -E ' (ERROR|FATAL|PANIC):  |deadlock' "$QR_DIR/server.log" | head || true
    not_ok "no error and no deadlock in the server log ($errors errors, $deadlocks deadlocks)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
