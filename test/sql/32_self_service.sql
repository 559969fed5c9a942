-- Self-service administration: an authenticated principal (a user set by a
-- trusted backend, or a key) manages keys, roles and assignments of its
-- tenant with apikey.*, role.* and user.update, and reads the tenant's
-- reports with *.read.  The audit log records the acting principal.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme') AS acme \gset
SELECT rbac_create_tenant('globex') AS globex \gset
SELECT rbac_create_principal('boss');
SELECT rbac_create_principal('dev');
SELECT rbac_create_principal('outsider');
SELECT rbac_create_role('owner', '{*}', 'acme');
SELECT rbac_create_role('super', '{*}');
SELECT rbac_assign_role('boss', 'owner', 'acme');
SELECT rbac_assign_role('outsider', 'super', 'globex');

-- the boss administers acme without rbac_admin
BEGIN;
SELECT rbac_set_principal('boss') > 0;
SET LOCAL ROLE rbac_regress_app;
SELECT rbac_create_role('builder', '{pipeline.*,channel.read}', 'acme', 'builds pipelines') > 0 AS created;
SELECT rbac_grant_permission('builder', 'dataflowtracking.read', 'acme');
SELECT rbac_revoke_permission('builder', 'channel.read', 'acme');
SELECT rbac_create_role('keyadmin', '{apikey.*,pipeline.read}', 'acme') > 0 AS created;
SELECT rbac_create_role('temp', '{order.read}', 'acme') > 0 AS created;
SELECT rbac_include_role('temp', 'builder', 'acme');
SELECT rbac_deny_permission('temp', 'pipeline.delete', 'acme');
SELECT rbac_assign_role('dev', 'builder', 'acme');
SELECT rbac_assign_role('dev', 'temp', 'acme');
SELECT rbac_unassign_role('dev', 'temp', 'acme');
SELECT rbac_drop_role('temp', 'acme');
SELECT key_id AS auto_id, api_key AS auto_key
FROM rbac_issue_key('acme', 'automation', '{keyadmin}', 'production') \gset
SELECT key_id AS never_id FROM rbac_issue_key('acme', 'never', '{builder}') \gset
SELECT key_id AS soon_id FROM rbac_issue_key('acme', 'soon', '{builder}', 'staging',
                                             expires_at => now() + interval '2 days') \gset
SELECT key_id AS all_id FROM rbac_issue_key('acme', 'everything', '{super}') \gset
SELECT name, environment, roles, owner, status FROM rbac_list_keys('acme');
COMMIT;

-- what happened, and who did it
SELECT a.action, p.name AS principal, a.db_role, a.target
FROM rbac.audit_log a LEFT JOIN rbac.principals p ON p.id = a.principal_id
WHERE a.db_role = 'rbac_regress_app' ORDER BY a.id;
SELECT rbac_effective_permissions('dev', 'acme');

-- a key with apikey.* issues, rotates and revokes keys of its tenant; the
-- keys it issues belong to its owner
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'auto_key') = :auto_id AS automation;
SELECT key_id AS k1 FROM rbac_issue_key('acme', 'issued by a key', '{keyadmin}') \gset
SELECT count(*) AS rotated FROM rbac_rotate_key(:k1, '1 hour');
SELECT rbac_revoke_key(:k1);
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'k', '{keyadmin}', 'staging')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{pipeline.read}', 'acme')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('globex', 'k', '{owner}')$$);
SELECT name, owner, status FROM rbac_list_keys('acme') WHERE name = 'issued by a key';
COMMIT;
RESET ROLE;

-- reports: keys with apikey.read, principals with user.read; a principal
-- always reads its own rights
BEGIN;
SELECT rbac_set_principal('boss') > 0;
SET LOCAL ROLE rbac_regress_app;
SELECT name, environment, status FROM rbac_keys_expiring('acme', '7 days');
SELECT name FROM rbac_keys_expiring('acme', '1 day');
SELECT name FROM rbac_keys_never_expiring('acme');
SELECT name, roles FROM rbac_keys_granting_all('acme');
SELECT * FROM rbac_tenant_principals('acme');
SELECT * FROM rbac_explain('dev', 'acme', 'pipeline.read');
SELECT array_agg(k) AS columns
FROM (SELECT jsonb_object_keys(to_jsonb(l)) AS k FROM rbac_list_keys('acme') l LIMIT 11) s;
COMMIT;
BEGIN;
SELECT rbac_set_principal('dev') > 0;
SET LOCAL ROLE rbac_regress_app;
SELECT count(*) AS own_rights FROM rbac_effective_permissions('dev', 'acme');
SELECT regress.err($$SELECT count(*) FROM rbac_effective_permissions('boss', 'acme')$$);
SELECT regress.err($$SELECT * FROM rbac_list_keys('acme')$$);
SELECT regress.err($$SELECT * FROM rbac_tenant_principals('acme')$$);
SELECT regress.err($$SELECT * FROM rbac_keys_granting_all('globex')$$);
COMMIT;

-- nobody authenticated: closed, as before
SET ROLE rbac_regress_app;
SELECT regress.err($$SELECT * FROM rbac_list_keys('acme')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{}', 'acme')$$);
SELECT regress.err($$SELECT * FROM rbac_explain('dev', 'acme', 'pipeline.read')$$);
RESET ROLE;

-- another tenant's owner sees nothing of acme
BEGIN;
SELECT rbac_set_principal('outsider') > 0;
SET LOCAL ROLE rbac_regress_app;
SELECT regress.err($$SELECT * FROM rbac_list_keys('acme')$$);
SELECT regress.err(format('SELECT rbac_revoke_key(%s)', :never_id));
SELECT regress.err($$SELECT rbac_drop_role('builder', 'acme')$$);
SELECT regress.err($$SELECT rbac_unassign_role('dev', 'builder', 'acme')$$);
COMMIT;

-- administrators keep the whole view, and a principal's user.read opens
-- the reports of its tenant only
SET ROLE rbac_regress_admin;
SELECT count(*) AS admin_lists FROM rbac_list_keys('acme');
SELECT regress.err($$SELECT * FROM rbac_list_keys('nosuch')$$);
SELECT regress.err($$SELECT * FROM rbac_keys_expiring('acme', NULL)$$);
RESET ROLE;
