-- The audit log: one row per change, with who acted; append-only; closed
-- to application roles.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_register_resource('report', '{read,export}');
SELECT rbac_create_tenant('acme');
SELECT rbac_create_principal('team', 'group');
SELECT rbac_create_principal('ann');
SELECT rbac_add_member('team', 'ann');
SELECT rbac_create_role('viewer', '{report.read}', 'acme', 'reads reports');
SELECT rbac_grant_permission('viewer', 'report.export', 'acme');
SELECT rbac_revoke_permission('viewer', 'report.export', 'acme');
SELECT rbac_assign_role('team', 'viewer', 'acme', 'staging');
SELECT rbac_unassign_role('team', 'viewer', 'acme', 'staging');
SELECT rbac_remove_member('team', 'ann');
SELECT key_id AS k, api_key AS key FROM rbac_issue_key('acme', 'auditor key', '{viewer}') \gset
SELECT key_id AS k2 FROM rbac_rotate_key(:k, '1 day') \gset
SELECT rbac_revoke_key(:k2, 'done');

-- an administrator acting through SET ROLE is recorded as itself
SET ROLE rbac_regress_admin;
SELECT rbac_create_principal('by_admin');
-- with a principal current, the principal is recorded too
BEGIN;
SELECT rbac_set_principal('ann') > 0;
SELECT rbac_create_tenant('globex') > 0;
COMMIT;
SELECT rbac_drop_role('viewer', 'acme');
RESET ROLE;

SELECT id, db_role, principal_id IS NOT NULL AS with_principal, action,
       tenant_id, regexp_replace(target, '[0-9]+', 'N', 'g') AS target,
       details - 'key_id' - 'new_key_id' - 'old_key_id' - 'expires_at' AS details
FROM rbac.audit_log ORDER BY id;
SELECT count(*) FILTER (WHERE at IS NULL) AS missing_time FROM rbac.audit_log;

-- failed changes leave no row
SELECT count(*) AS before FROM rbac.audit_log \gset
SELECT regress.err($$SELECT rbac_create_tenant('acme')$$);
SELECT regress.err($$SELECT rbac_assign_role('nobody', 'viewer', 'acme')$$);
SELECT regress.err($$SELECT rbac_authenticate('qk_production_bad')$$);
SELECT count(*) - :before AS new_rows FROM rbac.audit_log;

-- append-only, even for the owner
SELECT regress.err($$UPDATE rbac.audit_log SET action = 'x'$$);
SELECT regress.err($$DELETE FROM rbac.audit_log$$);
SELECT regress.err($$TRUNCATE rbac.audit_log$$);

-- administrators may read it but not write it directly
SET ROLE rbac_regress_admin;
SELECT count(*) > 0 AS admin_reads FROM rbac.audit_log;
SELECT regress.err($$INSERT INTO rbac.audit_log (db_role, action) VALUES ('x', 'forged')$$);
SELECT regress.err($$SELECT key_hash FROM rbac.api_keys$$);
RESET ROLE;

-- application roles see nothing of it
SET ROLE rbac_regress_app;
SELECT regress.err($$SELECT count(*) FROM rbac.audit_log$$);
SELECT regress.err($$SELECT count(*) FROM rbac.api_keys$$);
SELECT regress.err($$INSERT INTO rbac.audit_log (db_role, action) VALUES ('x', 'forged')$$);
SELECT regress.err($$SELECT rbac_create_tenant('mine')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'mine', '{viewer}')$$);
SELECT regress.err($$SELECT rbac._generate_key('production')$$);
SELECT regress.err($$SELECT * FROM rbac._effective(1, NULL, now())$$);
RESET ROLE;
