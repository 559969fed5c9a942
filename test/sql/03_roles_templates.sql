-- Roles: templates shared by every tenant, tenant roles that shadow them,
-- patterns, grant and revoke, drop.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme'), rbac_create_tenant('globex');
SELECT rbac_create_principal('alice'), rbac_create_principal('bob');

-- a template (no tenant) and a tenant role of the same name
SELECT rbac_create_role('viewer', '{product.read,order.read}', description => 'read the catalogue');
SELECT rbac_create_role('viewer', '{product.read}', 'acme');
SELECT name, tenant_id, description FROM rbac.roles ORDER BY id;
SELECT regress.err($$SELECT rbac_create_role('viewer', '{product.read}')$$);
SELECT regress.err($$SELECT rbac_create_role('viewer', '{product.read}', 'acme')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{nosuch.read}')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{product.frob}')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{*.frob}')$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{bad}')$$);
SELECT regress.err($$SELECT rbac_create_role('x', NULL)$$);
SELECT regress.err($$SELECT rbac_create_role('x', '{product.read}', 'nosuch')$$);
SELECT regress.err($$SELECT rbac_create_role(NULL, '{product.read}')$$);
SELECT regress.err($$SELECT rbac_create_role('', '{product.read}')$$);

-- in acme the tenant role shadows the template; in globex the template applies
SELECT rbac_assign_role('alice', 'viewer', 'acme');
SELECT rbac_assign_role('alice', 'viewer', 'globex');
SELECT rbac_effective_permissions('alice', 'acme');
SELECT rbac_effective_permissions('alice', 'globex');

-- patterns expand over the registry, including resources registered later
SELECT rbac_create_role('ops', '{pipeline.*,*.read}');
SELECT rbac_assign_role('bob', 'ops', 'acme');
SELECT count(*) AS bob_perms FROM rbac_effective_permissions('bob', 'acme');
SELECT rbac_register_resource('webhook', '{create,read,fire}');
SELECT count(*) AS bob_perms_after FROM rbac_effective_permissions('bob', 'acme');
SELECT rbac_has_permission('bob', 1, 'webhook.read') AS webhook_read,
       rbac_has_permission('bob', 1, 'webhook.fire') AS webhook_fire;
SELECT regress.err($$SELECT rbac_register_resource('webhook')$$);
SELECT regress.err($$SELECT rbac_register_resource('Bad-Name')$$);
SELECT regress.err($$SELECT rbac_register_resource('ok_name', '{}')$$);
SELECT regress.err($$SELECT rbac_register_resource('ok_name', '{Bad}')$$);
SELECT regress.err($$SELECT rbac_register_resource('ok_name', NULL)$$);
SELECT regress.err($$SELECT rbac_register_resource(repeat('a', 64))$$);

-- grant and revoke change the role for everyone holding it
SELECT rbac_grant_permission('viewer', 'offer.read', 'acme');
SELECT rbac_effective_permissions('alice', 'acme');
SELECT rbac_revoke_permission('viewer', 'offer.read', 'acme');
SELECT rbac_effective_permissions('alice', 'acme');
SELECT regress.err($$SELECT rbac_grant_permission('viewer', 'product.read', 'acme')$$);
SELECT regress.err($$SELECT rbac_revoke_permission('viewer', 'offer.read', 'acme')$$);
SELECT regress.err($$SELECT rbac_grant_permission('viewer', 'nosuch.read')$$);
SELECT regress.err($$SELECT rbac_grant_permission('nosuch', 'product.read')$$);
SELECT regress.err($$SELECT rbac_grant_permission('viewer', NULL)$$);
SELECT regress.err($$SELECT rbac_grant_permission('viewer', 'product.read', 'globex')$$);

-- the pattern "*" covers everything
SELECT rbac_create_role('owner', '{*}', 'globex');
SELECT rbac_assign_role('bob', 'owner', 'globex');
SELECT count(*) = (SELECT count(*) FROM rbac.actions) AS all_perms
FROM rbac_effective_permissions('bob', 'globex');

-- dropping a role removes its assignments
SELECT rbac_drop_role('viewer', 'acme');
SELECT rbac_effective_permissions('alice', 'acme');
SELECT regress.err($$SELECT rbac_drop_role('viewer', 'acme')$$);
SELECT rbac_drop_role('viewer');
SELECT count(*) FROM rbac_effective_permissions('alice', 'globex');
SELECT regress.err($$SELECT rbac_drop_role(NULL)$$);
