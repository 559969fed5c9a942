-- Session scoping of the identity: transaction-local by default, undone by
-- a rolled-back savepoint, session-level on request, cleared by
-- rbac_reset(), DISCARD ALL and a failed authentication; not forgeable.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme');
SELECT rbac_create_role('reader', '{product.read}');
SELECT rbac_create_principal('svc', 'service');
SELECT rbac_create_principal('other', 'service');
SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('acme', 'one', '{reader}') \gset
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('acme', 'two', '{reader}') \gset

-- local (default): ends with the transaction
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS in_tx;
SELECT rbac_current_principal() = :k1 AS current;
COMMIT;
SELECT rbac_current_principal() IS NULL AS ended_at_commit;

BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS in_tx;
ROLLBACK;
SELECT rbac_current_principal() IS NULL AS ended_at_rollback;

-- a rolled-back savepoint undoes what it set
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1;
SAVEPOINT s1;
SELECT rbac_authenticate(:'key2') = :k2;
SELECT rbac_current_principal() = :k2 AS inner_key;
ROLLBACK TO SAVEPOINT s1;
SELECT rbac_current_principal() = :k1 AS restored_outer;
SAVEPOINT s2;
SELECT rbac_authenticate(:'key2') = :k2;
RELEASE SAVEPOINT s2;
SELECT rbac_current_principal() = :k2 AS released_keeps;
COMMIT;
SELECT rbac_current_principal() IS NULL AS ended;

-- nested savepoints: commit of the inner one, rollback of the outer one
BEGIN;
SAVEPOINT a;
SAVEPOINT b;
SELECT rbac_authenticate(:'key1') = :k1;
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
SELECT rbac_current_principal() IS NULL AS undone_through_release;
COMMIT;

-- session level: survives commits, ends with rbac_reset()
SELECT rbac_authenticate(:'key1', local => false) = :k1 AS session;
SELECT rbac_current_principal() = :k1 AS still_there;
SELECT rbac_has_permission(1, 'product.read') AS can_read;
SELECT rbac_reset();
SELECT rbac_current_principal() IS NULL AS reset;
SELECT rbac_has_permission(1, 'product.read') AS can_read_after_reset;

-- a session identity set in a transaction that rolls back is undone
BEGIN;
SELECT rbac_authenticate(:'key1', false) = :k1;
ROLLBACK;
SELECT rbac_current_principal() IS NULL AS not_kept;

-- SET LOCAL semantics: a local identity over a session one ends at commit,
-- and the session one comes back
SELECT rbac_authenticate(:'key1', false) = :k1;
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2;
COMMIT;
SELECT rbac_current_principal() = :k1 AS session_back;
-- a session identity set after a local one in the same transaction wins
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2;
SELECT rbac_set_principal('svc', false) > 0;
COMMIT;
SELECT (SELECT name FROM rbac.principals WHERE id = rbac_current_principal()) AS now_current;

-- DISCARD ALL clears it
DISCARD ALL;
SELECT rbac_current_principal() IS NULL AS discarded;

-- a failed authentication clears the previous principal, also a session
-- one and also inside a savepoint that is rolled back
SELECT rbac_authenticate(:'key1', false) = :k1;
SELECT regress.err($$SELECT rbac_authenticate('qk_production_nope')$$);
SELECT rbac_current_principal() IS NULL AS cleared_by_failure;
SELECT rbac_authenticate(:'key1', false) = :k1;
BEGIN;
SAVEPOINT s;
SELECT regress.err($$SELECT rbac_authenticate('garbage')$$);
ROLLBACK TO SAVEPOINT s;
SELECT rbac_current_principal() IS NULL AS still_cleared;
COMMIT;

-- rbac_set_principal is for trusted roles only
SELECT rbac_set_principal('svc') > 0 AS superuser_may;
SET ROLE rbac_regress_app;
SELECT regress.err($$SELECT rbac_set_principal('svc')$$);
RESET ROLE;
SET ROLE rbac_regress_admin;
BEGIN;
SELECT rbac_set_principal('svc') > 0 AS admin_may;
SELECT rbac_current_tenant() IS NULL AS no_tenant_for_services;
COMMIT;
RESET ROLE;
SELECT regress.err($$SELECT rbac_set_principal('nobody')$$);
SELECT regress.err($$SELECT rbac_set_principal(NULL)$$);
SELECT regress.err($$SELECT rbac_set_principal('')$$);

-- nothing in the settings can forge an identity
SET ROLE rbac_regress_app;
SELECT regress.err($$SET qilin_rbac.principal = '1'$$);
SELECT regress.err($$SELECT set_config('qilin_rbac.principal', '1', false)$$);
SELECT regress.err($$SELECT set_config('qilin_rbac.environment', 'production', false)$$);
SELECT rbac_current_principal() IS NULL AS nobody;
SELECT rbac_has_permission(1, 'product.read') AS denied;
-- the application role can authenticate
SELECT rbac_authenticate(:'key1', false) = :k1 AS app_authenticated;
SELECT rbac_has_permission(1, 'product.read') AS app_can_read;
SELECT rbac_reset();
RESET ROLE;
