-- Deny rules: a role may carry deny patterns; a deny from any live
-- assignment beats every allow, in the checks, in
-- rbac_effective_permissions and in rbac_explain, which names the role.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme') AS acme \gset
SELECT rbac_create_principal('dev');
SELECT rbac_create_principal('dev2');
SELECT rbac_create_principal('team', 'group');
SELECT rbac_add_member('team', 'dev');
SELECT rbac_create_role('builder', '{*}', 'acme');
SELECT rbac_create_role('no_secrets', '{}', 'acme', 'everything but credentials and billing');
SELECT rbac_deny_permission('no_secrets', 'credential.*', 'acme');
SELECT rbac_deny_permission('no_secrets', 'billing.*', 'acme');
SELECT role_id, permission FROM rbac.role_denies ORDER BY permission;
SELECT count(*) AS allow_rows FROM rbac.role_permissions rp
JOIN rbac.roles r ON r.id = rp.role_id WHERE r.name = 'no_secrets';
SELECT rbac_assign_role('dev', 'builder', 'acme');

-- before the deny reaches dev
SELECT rbac_has_permission('dev', :acme, 'credential.read') AS before_deny;

-- through a group: the deny beats the direct allow
SELECT rbac_assign_role('team', 'no_secrets', 'acme');
SELECT count(*) AS held,
       count(*) FILTER (WHERE p::text LIKE 'credential.%' OR p::text LIKE 'billing.%') AS secrets
FROM rbac_effective_permissions('dev', 'acme') p;
SELECT rbac_has_permission('dev', :acme, 'credential.read') AS credential_read,
       rbac_has_permission('dev', :acme, 'billing.update') AS billing_update,
       rbac_has_permission('dev', :acme, 'pipeline.delete') AS pipeline_delete,
       rbac_has_permission('dev', :acme, '*') AS everything;
SELECT * FROM rbac_explain('dev', 'acme', 'credential.read');
SELECT * FROM rbac_explain('dev', 'acme', 'credential.*');
SELECT * FROM rbac_explain('dev', 'acme', 'pipeline.read');

-- the C checker agrees, and a new deny takes effect at the next statement
SELECT rbac_set_principal('dev', false) > 0;
SET ROLE rbac_regress_app;
SELECT rbac_has_permission(:acme, 'credential.read') AS c_credential,
       rbac_has_permission(:acme, 'pipeline.delete') AS c_pipeline_delete;
RESET ROLE;
SELECT rbac_deny_permission('no_secrets', 'pipeline.delete', 'acme');
SET ROLE rbac_regress_app;
SELECT rbac_has_permission(:acme, 'pipeline.delete') AS c_pipeline_delete_denied,
       rbac_has_permission(:acme, 'pipeline.update') AS c_pipeline_update;
RESET ROLE;
SELECT rbac_remove_deny('no_secrets', 'pipeline.delete', 'acme');
SET ROLE rbac_regress_app;
SELECT rbac_has_permission(:acme, 'pipeline.delete') AS c_pipeline_delete_again;
RESET ROLE;
SELECT rbac_reset();

-- a key's own roles may deny, and its owner's denies bind it
SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('acme', 'safe', '{builder,no_secrets}') \gset
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('acme', 'owned', '{builder}', owner => 'dev') \gset
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1;
SELECT rbac_has_permission(:acme, 'credential.read') AS own_deny,
       rbac_has_permission(:acme, 'order.read') AS order_read;
COMMIT;
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2;
SELECT rbac_has_permission(:acme, 'billing.read') AS owner_deny,
       rbac_has_permission(:acme, 'order.read') AS order_read;
COMMIT;
RESET ROLE;
SELECT granted, via_role, reason FROM rbac_explain('apikey:' || :k1, 'acme', 'credential.read');
SELECT granted, via_role, reason FROM rbac_explain('apikey:' || :k2, 'acme', 'billing.read');

-- a deny limited to one environment applies only there
SELECT rbac_assign_role('dev2', 'builder', 'acme');
SELECT rbac_assign_role('dev2', 'no_secrets', 'acme', 'staging');
SELECT rbac_has_permission('dev2', :acme, 'credential.read') AS no_environment;
SET qilin_rbac.environment = 'staging';
SELECT rbac_has_permission('dev2', :acme, 'credential.read') AS in_staging;
SELECT * FROM rbac_explain('dev2', 'acme', 'credential.read');
SET qilin_rbac.environment = 'production';
SELECT rbac_has_permission('dev2', :acme, 'credential.read') AS in_production;
RESET qilin_rbac.environment;

-- a deny carried by an included role names that role
SELECT rbac_create_role('agency', '{*}', 'acme');
SELECT rbac_include_role('agency', 'no_secrets', 'acme');
SELECT rbac_create_principal('agent');
SELECT rbac_assign_role('agent', 'agency', 'acme');
SELECT * FROM rbac_explain('agent', 'acme', 'billing.read');
SELECT count(*) AS agent_perms FROM rbac_effective_permissions('agent', 'acme');

-- unassigning the deny gives the rights back
SELECT rbac_unassign_role('team', 'no_secrets', 'acme');
SELECT rbac_has_permission('dev', :acme, 'credential.read') AS deny_removed;

-- errors
SELECT regress.err($$SELECT rbac_deny_permission('no_secrets', 'credential.*', 'acme')$$);
SELECT regress.err($$SELECT rbac_deny_permission('no_secrets', 'nosuch.read', 'acme')$$);
SELECT regress.err($$SELECT rbac_deny_permission('nosuch', 'credential.read', 'acme')$$);
SELECT regress.err($$SELECT rbac_deny_permission('no_secrets', NULL, 'acme')$$);
SELECT regress.err($$SELECT rbac_deny_permission('no_secrets', 'credential.read')$$);
SELECT regress.err($$SELECT rbac_remove_deny('no_secrets', 'order.read', 'acme')$$);
SELECT regress.err($$SELECT rbac_remove_deny('no_secrets', NULL, 'acme')$$);
SET ROLE rbac_regress_app;
SELECT regress.err($$SELECT rbac_deny_permission('no_secrets', 'order.read', 'acme')$$);
RESET ROLE;

-- templates may deny too, and every change is audited
SELECT rbac_create_role('auditor', '{*.read}');
SELECT rbac_deny_permission('auditor', 'credential.read');
SELECT rbac_assign_role('dev2', 'auditor', 'acme');
SELECT rbac_has_permission('dev2', :acme, 'credential.read') AS template_deny;
SELECT action, target, details FROM rbac.audit_log
WHERE action IN ('deny_permission', 'remove_deny') ORDER BY id;
