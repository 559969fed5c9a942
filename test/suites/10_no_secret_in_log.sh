#!/usr/bin/env bash
# A failed authentication must not leave the key in the server log: not as
# the failing STATEMENT, not in a CONTEXT line of a function that called
# rbac_authenticate, not in a DETAIL.  Runs against the main test cluster
# and reads its log ($QILIN_RBAC_SERVER_LOG, set by test/lib.sh).
set -euo pipefail
log="$QILIN_RBAC_SERVER_LOG"
db=qilin_rbac_logcheck
passed=0
failed=0
check() {
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAILED: $1 (expected $3, got $2)"; fi
}

psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION qilin_rbac;
ALTER DATABASE qilin_rbac_logcheck SET log_min_error_statement = 'error';
ALTER DATABASE qilin_rbac_logcheck SET log_error_verbosity = 'verbose';
SELECT rbac_create_tenant('acme');
SELECT rbac_create_role('r', '{product.read}');
CREATE FUNCTION login(k text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN rbac_authenticate(k);
END
$$;
SQL
key=$(psql -X -qAt -d "$db" -c "SELECT api_key FROM rbac_issue_key('acme', 'k', '{r}')")
body=${key#qk_production_}
check "a key was issued" "${#body}" 38
psql -X -qAt -d "$db" -c "SELECT rbac_revoke_key(key_id) FROM rbac_verify_key('$key')" >/dev/null

before=$(grep -c 'API key authentication failed' "$log" || true)
# a revoked key, a truncated one and a mistyped one, directly, from a DO
# block and through a function; also verify
for k in "$key" "${key%?}" "${key%?}x"; do
    psql -X -q -d "$db" -c "SELECT rbac_authenticate('$k')" 2>/dev/null || true
    psql -X -q -d "$db" -c "DO \$\$ BEGIN PERFORM rbac_authenticate('$k'); END \$\$" 2>/dev/null || true
    psql -X -q -d "$db" -c "SELECT login('$k')" 2>/dev/null || true
    psql -X -q -d "$db" -c "SELECT * FROM rbac_verify_key('$k')" >/dev/null 2>&1 || true
done
# let the logger catch up
psql -X -q -d "$db" -c "SELECT pg_sleep(0.2)" >/dev/null
after=$(grep -c 'API key authentication failed' "$log" || true)
check "the failures were logged" "$((after - before))" 9
# the random part of the key, or any 20 characters of it, never appears
check "the key is not in the log" "$(grep -c "${body:0:20}" "$log" || true)" 0
check "no statement of a failed authentication is logged" \
    "$(grep -c 'STATEMENT:.*rbac_authenticate' "$log" || true)" 0

psql -X -q -c "DROP DATABASE $db"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
