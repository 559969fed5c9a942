-- API keys: issue, verify, authenticate, revoke, rotate, expire.
-- Keys are kept in psql variables and never printed.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme'), rbac_create_tenant('globex');
SELECT rbac_create_role('ci', '{pipeline.read,pipeline.update,channel.read,dataflowtracking.read}');

SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('acme', 'ci', '{ci}') \gset
SELECT :k1 AS key_id;
-- the format: qk_<environment>_<body>, body of 38 letters and digits
SELECT :'key1' ~ '^qk_production_[A-Za-z0-9]{38}$' AS well_formed;
-- only a hash and a short prefix are stored; the secret is nowhere
SELECT name, environment, display_prefix = left(:'key1', 18) AS prefix_ok,
       octet_length(key_hash) AS hash_bytes
FROM rbac.api_keys WHERE principal_id = :k1;
SELECT count(*) AS tables_holding_secret
FROM rbac.api_keys k, rbac.audit_log a, rbac.principals p
WHERE position(:'key1' IN k::text) > 0 OR position(:'key1' IN a::text) > 0
   OR position(:'key1' IN p::text) > 0;
SELECT count(*) AS audit_rows_with_secret FROM rbac.audit_log WHERE position(substr(:'key1', 15) IN details::text) > 0;
-- the key is a principal of its own
SELECT name = 'apikey:' || :k1 AS principal_name, kind FROM rbac.principals WHERE id = :k1;
-- two keys never collide
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('acme', 'ci staging', '{ci}', 'staging') \gset
SELECT :'key1' <> :'key2' AS distinct_keys;

-- verify: VALID, and every failure status, without raising
SELECT valid, status, key_id = :k1 AS same_id, tenant_id, environment, expires_at FROM rbac_verify_key(:'key1');
SELECT valid, status, key_id, tenant_id FROM rbac_verify_key('qk_production_short');
SELECT valid, status FROM rbac_verify_key(NULL);
SELECT valid, status FROM rbac_verify_key('');
SELECT valid, status FROM rbac_verify_key(repeat('q', 1000000));
-- one character changed: the checksum catches it (MALFORMED, not NOT_FOUND)
SELECT valid, status FROM rbac_verify_key(overlay(:'key1' placing
    CASE WHEN substr(:'key1', 20, 1) = 'a' THEN 'b' ELSE 'a' END from 20 for 1));
-- truncated
SELECT valid, status FROM rbac_verify_key(left(:'key1', -1));
-- a well-formed key that was never issued
SELECT valid, status FROM rbac_verify_key(
    (SELECT api_key FROM rbac._generate_key('production')));
-- verify does not change the session
SELECT rbac_current_principal() IS NULL AS nobody;

-- authenticate
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
SELECT rbac_current_principal() = :k1 AS principal, rbac_current_tenant() AS tenant,
       rbac_current_environment() AS env;
SELECT rbac_has_permission('pipeline.update') AS own_tenant,
       rbac_has_permission(1, 'pipeline.read') AS tenant1,
       rbac_has_permission(2, 'pipeline.read') AS other_tenant,
       rbac_has_permission(1, 'credential.read') AS not_granted;
COMMIT;

-- failures raise 28000, say why, never echo the key, and clear the identity
SELECT rbac_authenticate(:'key1', false) = :k1 AS authenticated;
\set VERBOSITY default
SELECT rbac_authenticate('qk_production_abc');
SELECT rbac_current_principal() IS NULL AS cleared;
SELECT rbac_authenticate(NULL);
SELECT rbac_authenticate('not a key at all');
SELECT rbac_authenticate((SELECT api_key FROM rbac._generate_key('production')));

-- revoke
SELECT rbac_revoke_key(:k2, 'leaked in a log');
SELECT valid, status FROM rbac_verify_key(:'key2');
SELECT rbac_authenticate(:'key2');
SELECT revoke_reason FROM rbac.api_keys WHERE principal_id = :k2;
SELECT regress.err(format('SELECT rbac_revoke_key(%s)', :k2));
SELECT regress.err($$SELECT rbac_revoke_key(999999)$$);
SELECT regress.err($$SELECT rbac_revoke_key(NULL)$$);
SELECT regress.err($$SELECT rbac_revoke_key(-1)$$);

-- rotate without grace: the old key stops at once
SELECT key_id AS k3, api_key AS key3 FROM rbac_rotate_key(:k1) \gset
SELECT :k3 <> :k1 AS new_id;
SELECT status FROM rbac_verify_key(:'key1');
SELECT valid, status, tenant_id, environment FROM rbac_verify_key(:'key3');
-- same tenant, environment and roles
SELECT a.tenant_id, a.environment, r.name
FROM rbac.assignments a JOIN rbac.roles r ON r.id = a.role_id WHERE a.principal_id = :k3;
SELECT rotated_from = :k1 AS linked FROM rbac.api_keys WHERE principal_id = :k3;

-- rotate with grace: both work until the grace ends
SELECT key_id AS k4, api_key AS key4 FROM rbac_rotate_key(:k3, interval '1 hour') \gset
SELECT status FROM rbac_verify_key(:'key3');
SELECT status FROM rbac_verify_key(:'key4');
SELECT revoked_at > now() + interval '59 minutes' AS grace_end FROM rbac.api_keys WHERE principal_id = :k3;
SELECT regress.err(format('SELECT * FROM rbac_rotate_key(%s, interval %L)', :k4, '-1 hour'));
SELECT regress.err(format('SELECT * FROM rbac_rotate_key(%s)', :k2));
SELECT regress.err($$SELECT * FROM rbac_rotate_key(999999)$$);
SELECT regress.err($$SELECT * FROM rbac_rotate_key(NULL)$$);

-- expiry
SELECT key_id AS k5, api_key AS key5
FROM rbac_issue_key('acme', 'short lived', '{ci}', expires_at => clock_timestamp() + interval '2 seconds') \gset
SELECT status FROM rbac_verify_key(:'key5');
SELECT pg_sleep(2.1);
SELECT valid, status, expires_at IS NOT NULL AS has_expiry FROM rbac_verify_key(:'key5');
SELECT rbac_authenticate(:'key5');
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{ci}', expires_at => now() - interval '1 day')$$);

-- the database's environment rejects keys of other environments
SELECT key_id AS k6, api_key AS key6 FROM rbac_issue_key('acme', 'dev key', '{ci}', 'development') \gset
SET qilin_rbac.environment = 'production';
SELECT valid, status, environment FROM rbac_verify_key(:'key6');
SELECT rbac_authenticate(:'key6');
SELECT status FROM rbac_verify_key(:'key4');
RESET qilin_rbac.environment;
SELECT status FROM rbac_verify_key(:'key6');

-- issue errors
SELECT regress.err($$SELECT * FROM rbac_issue_key('nosuch', 'x', '{ci}')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{nosuch}')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{}')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', NULL)$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', NULL, '{ci}')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', '', '{ci}')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{ci}', 'Prod')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{ci}', 'qk_x_y')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'x', '{ci}', owner => 'nobody')$$);

-- owner intersection: a key never holds more than its owner, now
SELECT rbac_create_principal('carol');
SELECT rbac_create_role('reader', '{pipeline.read}');
SELECT rbac_assign_role('carol', 'reader', 'acme');
SELECT key_id AS k7, api_key AS key7 FROM rbac_issue_key('acme', 'carol key', '{ci}', owner => 'carol') \gset
BEGIN;
SELECT rbac_authenticate(:'key7') = :k7;
SELECT rbac_has_permission(1, 'pipeline.read') AS read, rbac_has_permission(1, 'pipeline.update') AS update;
COMMIT;
SELECT rbac_effective_permissions('apikey:' || :k7, 'acme');
SELECT * FROM rbac_explain('apikey:' || :k7, 'acme', 'pipeline.update');
-- the owner loses the role: so does the key
SELECT rbac_unassign_role('carol', 'reader', 'acme');
SELECT count(*) FROM rbac_effective_permissions('apikey:' || :k7, 'acme');
SELECT regress.err(format('SELECT * FROM rbac_issue_key(%L, %L, %L, owner => %L)', 'acme', 'k', '{ci}', 'apikey:' || :k7));
SELECT rbac_reset();
