#!/usr/bin/env bash
# Random SQL from sqlsmith against a database with the extension and the
# demo scenario (tenants, groups, roles, keys, RLS-protected tables), once
# as the application role and once as an administrator.  The server must
# never crash, and no error raised in the extension's C code may carry the
# catch-all SQLSTATE XX000.
#
# QILIN_RBAC_SQLSMITH_QUERIES sets the queries per run (default 3000) and
# QILIN_RBAC_SQLSMITH_SEED the seed (default 1, so a failure reproduces).
cd "$(dirname "$0")/../.."
. test/lib.sh
qr_install_packages sqlsmith

passed=0
failed=0
ok() { echo "ok $*"; passed=$((passed + 1)); }
not_ok() { echo "FAILED $*"; failed=$((failed + 1)); }

queries=${QILIN_RBAC_SQLSMITH_QUERIES:-3000}
seed=${QILIN_RBAC_SQLSMITH_SEED:-1}
# a cluster of our own: its log is judged, and restart_after_crash=off
# makes a crash impossible to miss
QILIN_RBAC_PORT=$((${QILIN_RBAC_PORT:-55432} + 30))
qr_start_cluster
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "ALTER SYSTEM SET log_error_verbosity = verbose" \
     -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] %e '" \
     -c "ALTER SYSTEM SET restart_after_crash = off" \
     -c "ALTER SYSTEM SET statement_timeout = '5s'" \
     -c "ALTER SYSTEM SET track_functions = 'all'" \
     -c "SELECT pg_reload_conf()" >/dev/null
createdb() { "$PGBIN/createdb" "$@"; }
createdb smith
PGDATABASE=smith psql -f test/demo.sql >"$QR_DIR/demo.out" 2>&1
PGDATABASE=smith psql <<'SQL'
CREATE ROLE smith_app LOGIN;
CREATE ROLE smith_admin LOGIN IN ROLE rbac_admin;
GRANT SELECT, UPDATE ON pipelines, credentials, billing, dataflow_events, what_i_see TO smith_app;
GRANT SELECT ON pipelines, credentials, billing, dataflow_events TO smith_admin;
-- keys for sqlsmith to find in a table: one live, one revoked
CREATE TABLE presented_keys (api_key text);
GRANT SELECT ON presented_keys TO smith_app, smith_admin;
INSERT INTO presented_keys SELECT api_key FROM rbac_issue_key('shoe_shop', 'smith', '{ci_deployer}');
INSERT INTO presented_keys SELECT api_key FROM rbac_issue_key('other_shop', 'smith', '{ci_deployer}');
SELECT rbac_revoke_key(max(principal_id)) FROM rbac.api_keys;
-- surface for random queries to reach the type, its operators and the
-- checkers: permission columns, malformed text, views calling the functions
CREATE TABLE perms (p rbac_permission, t text);
INSERT INTO perms
SELECT p::rbac_permission, t
FROM unnest(ARRAY['*', 'pipeline.*', '*.read', 'pipeline.read', 'pipeline.update', 'channel.read',
                  'credential.read', 'billing.read', 'order.delete', 'apikey.create'],
            ARRAY['PIPELINE.READ', 'pipeline.', '*.*.*', 'nosuch.read', 'pipeline.nosuch', '',
                  'qk_production_', 'ｐ.read', repeat('x', 300), 'x'' OR 1=1 --']) AS u(p, t);
CREATE VIEW checks AS
    SELECT p, t, rbac_has_permission(1, p) AS held, rbac_has_permission(p) AS held_here,
           p @> 'pipeline.read' AS covers_read
    FROM perms;
CREATE VIEW key_checks AS
    SELECT k.api_key, v.* FROM presented_keys k, LATERAL rbac_verify_key(k.api_key) v;
CREATE VIEW who AS
    SELECT rbac_current_principal() AS principal, rbac_current_tenant() AS tenant,
           rbac_current_environment() AS environment;
GRANT SELECT ON perms, checks, key_checks, who TO smith_app, smith_admin;
SQL
# count only what sqlsmith calls
PGDATABASE=smith psql -c "SELECT pg_stat_reset()" >/dev/null
started=$(psql -At -c "SELECT pg_postmaster_start_time()")

for who in smith_app smith_admin; do
    qr_log "sqlsmith as $who: $queries queries, seed $seed"
    set +e
    timeout 300 sqlsmith --target="host=$PGHOST port=$PGPORT dbname=smith user=$who" \
        --seed="$seed" --max-queries="$queries" --exclude-catalog >"$QR_DIR/sqlsmith-$who.out" 2>&1
    rc=$?
    set -e
    tail -n 5 "$QR_DIR/sqlsmith-$who.out"
    # sqlsmith exits non-zero when it loses its connection, i.e. a crash
    if [ "$rc" -eq 0 ]; then ok "sqlsmith as $who finished"; else not_ok "sqlsmith as $who finished (exit $rc)"; fi
done

if [ "$(psql -At -c "SELECT pg_postmaster_start_time()" 2>/dev/null)" = "$started" ] &&
    ! grep -qE 'terminated by signal|was terminated|exited with exit code [^01]|PANIC|TRAP:' "$QR_DIR/server.log"; then
    ok "the server never crashed or restarted"
else
    grep -E 'terminated by signal|was terminated|exited with exit code|PANIC|TRAP:' "$QR_DIR/server.log" | head || true
    not_ok "the server never crashed or restarted"
fi

# With verbose errors, each ERROR line carries its SQLSTATE (from %e) and
# is followed by a LOCATION line naming the C function and file.  An error
# is the extension's when that function is defined in src/.
ours=$(awk '
    / ERROR:  / { code = $0; sub(/.*ERROR:  /, "", code); sub(/:.*/, "", code); pending = 1; next }
    pending && /LOCATION:  / { loc = $0; sub(/.*LOCATION:  /, "", loc); print code, loc; pending = 0; next }
    pending && !/^\t|DETAIL:|HINT:|CONTEXT:|STATEMENT:/ { pending = 0 }
' "$QR_DIR/server.log" | while read -r code func file; do
    func=${func%,}
    if grep -qE "^$func\(" src/*.c 2>/dev/null; then echo "$code $func $file"; fi
done | sort | uniq -c | sort -rn)
echo "errors raised in the extension's code (count, SQLSTATE, function, file):"
echo "${ours:-  none}"
if echo "$ours" | grep -q ' XX000 '; then
    not_ok "no XX000 error from the extension"
else
    ok "no XX000 error from the extension"
fi

# statistics reach the view with a delay; wait for them
sleep 1
reached=$(PGDATABASE=smith psql -At -c "
    SELECT count(*)
    FROM pg_stat_user_functions s
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = s.funcid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qilin_rbac'
    WHERE s.calls > 0")
echo "extension functions sqlsmith's queries called: $reached"
if [ "$reached" -gt 0 ]; then ok "the random SQL reached the extension"; else not_ok "the random SQL reached the extension"; fi
errors=$(grep -c ' ERROR:  ' "$QR_DIR/server.log" || true)
echo "errors logged in all: $errors"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
