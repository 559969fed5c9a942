-- The escalation suite: an attacker holding apikey.create, role.create and
-- user.update (and a little pipeline work) but not credential.read tries
-- every path to the credentials.  Each attempt fails with 42501 naming
-- what is missing, and none leaves anything behind: not a row in any
-- table, not an audit row.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('shop') AS shop \gset
SELECT rbac_create_tenant('other') AS other \gset
SELECT rbac_create_principal('owner');
SELECT rbac_create_principal('attacker', 'user', 'rbac_regress_alice');
SELECT rbac_create_principal('mule');
SELECT rbac_create_principal('team', 'group');
SELECT rbac_add_member('team', 'attacker');
SELECT rbac_create_role('merchant_admin', '{*}', 'shop');
SELECT rbac_create_role('delegate', '{apikey.create,role.create,user.update,pipeline.read,pipeline.update,dataflowtracking.read}', 'shop');
SELECT rbac_create_role('secrets', '{credential.read}', 'shop');
SELECT rbac_create_role('vault', '{credential.*}');
SELECT rbac_create_role('super', '{*}');
SELECT rbac_create_role('reader', '{pipeline.read}', 'shop');
SELECT rbac_assign_role('owner', 'merchant_admin', 'shop');
SELECT rbac_assign_role('attacker', 'delegate', 'shop');
-- in staging only, the attacker may read credentials
SELECT rbac_assign_role('attacker', 'secrets', 'shop', 'staging');
SELECT key_id AS owner_key_id FROM rbac_issue_key('shop', 'merchant automation', '{merchant_admin}') \gset

-- the attacker's legitimate starting point: a staging key from its
-- staging assignment, and a key of its own in production
SET ROLE rbac_regress_alice;
SELECT key_id AS stg_id, api_key AS stg_key
FROM rbac_issue_key('shop', 'staging work', '{delegate,secrets}', 'staging') \gset
SELECT key_id AS own_id, api_key AS own_key
FROM rbac_issue_key('shop', 'own', '{reader}') \gset
SELECT rbac_create_role('mine', '{pipeline.read}', 'shop');
RESET ROLE;
SELECT rbac_effective_permissions('attacker', 'shop');

-- a snapshot of everything, to prove the attempts change nothing
CREATE TEMP VIEW state AS
SELECT 'roles' AS t, count(*) AS n FROM rbac.roles
UNION ALL SELECT 'role_permissions', count(*) FROM rbac.role_permissions
UNION ALL SELECT 'role_denies', count(*) FROM rbac.role_denies
UNION ALL SELECT 'role_includes', count(*) FROM rbac.role_includes
UNION ALL SELECT 'assignments', count(*) FROM rbac.assignments
UNION ALL SELECT 'principals', count(*) FROM rbac.principals
UNION ALL SELECT 'api_keys', count(*) FROM rbac.api_keys
UNION ALL SELECT 'revoked', count(*) FROM rbac.api_keys WHERE revoked_at IS NOT NULL
UNION ALL SELECT 'audit_log', count(*) FROM rbac.audit_log;
CREATE TEMP TABLE snapshot AS SELECT * FROM state;

CREATE TEMP TABLE attempts (id serial, path text, q text);
INSERT INTO attempts (path, q) VALUES
-- a key with a wider role
('key with a wider role', $$SELECT * FROM rbac_issue_key('shop', 'k', '{secrets}')$$),
('key with a wider template', $$SELECT * FROM rbac_issue_key('shop', 'k', '{vault}')$$),
('key with everything', $$SELECT * FROM rbac_issue_key('shop', 'k', '{reader,merchant_admin}')$$),
('key owned by the merchant', $$SELECT * FROM rbac_issue_key('shop', 'k', '{reader}', owner => 'owner')$$),
-- a new role with credential.* or *, or a pattern like *.read
('role with credential.*', $$SELECT rbac_create_role('x', '{credential.*}', 'shop')$$),
('role with credential.read', $$SELECT rbac_create_role('x', '{pipeline.read,credential.read}', 'shop')$$),
('role with *', $$SELECT rbac_create_role('x', '{*}', 'shop')$$),
('role with *.read', $$SELECT rbac_create_role('x', '{*.read}', 'shop')$$),
('role with pipeline.* (holds only some)', $$SELECT rbac_create_role('x', '{pipeline.*}', 'shop')$$),
('template role', $$SELECT rbac_create_role('x', '{pipeline.read}')$$),
-- changing roles needs role.update, which it lacks
('widen its own role', $$SELECT rbac_grant_permission('mine', 'credential.read', 'shop')$$),
('include a wider template', $$SELECT rbac_include_role('mine', 'vault', 'shop')$$),
('change a template', $$SELECT rbac_grant_permission('super', 'credential.read')$$),
-- assigning itself or a group an existing wider role or template
('assign itself a wider role', $$SELECT rbac_assign_role('attacker', 'secrets', 'shop')$$),
('assign itself a wider template', $$SELECT rbac_assign_role('attacker', 'vault', 'shop')$$),
('assign its group a wider template', $$SELECT rbac_assign_role('team', 'super', 'shop')$$),
('assign an accomplice the merchant role', $$SELECT rbac_assign_role('mule', 'merchant_admin', 'shop')$$),
('widen its staging role to every environment', $$SELECT rbac_assign_role('mule', 'secrets', 'shop')$$),
('move its staging role to production', $$SELECT rbac_assign_role('mule', 'secrets', 'shop', 'production')$$),
('strip the merchant', $$SELECT rbac_unassign_role('owner', 'merchant_admin', 'shop')$$),
('add to the merchant', $$SELECT rbac_assign_role('owner', 'reader', 'shop')$$),
-- acting on another tenant
('key in another tenant', $$SELECT * FROM rbac_issue_key('other', 'k', '{super}', 'development')$$),
('role in another tenant', $$SELECT rbac_create_role('x', '{pipeline.read}', 'other')$$),
('assignment in another tenant', $$SELECT rbac_assign_role('mule', 'super', 'other')$$),
('probe an unknown tenant', $$SELECT rbac_create_role('x', '{pipeline.read}', 'nosuch')$$),
-- its staging key in production
('production key from a staging assignment', $$SELECT * FROM rbac_issue_key('shop', 'k', '{secrets}', 'production')$$),
-- rotating and revoking keys needs apikey.update / apikey.delete
('rotate the merchant key', $$SELECT * FROM rbac_rotate_key(OWNER_KEY)$$),
('revoke the merchant key', $$SELECT rbac_revoke_key(OWNER_KEY)$$),
-- administrator-only functions stay closed
('make itself an identity', $$SELECT rbac_set_principal('owner')$$),
('join a group', $$SELECT rbac_add_member('team', 'mule')$$),
('write the tables', $$INSERT INTO rbac.assignments (principal_id, role_id, tenant_id) VALUES (1, 1, 1)$$),
('read the key hashes', $$SELECT key_hash FROM rbac.api_keys$$);
UPDATE attempts SET q = replace(q, 'OWNER_KEY', :'owner_key_id');
GRANT SELECT ON attempts TO PUBLIC;

SET ROLE rbac_regress_alice;
SELECT id, path, regress.err(q) FROM attempts ORDER BY id;
RESET ROLE;

-- its staging key acts in staging only: it cannot issue for production,
-- and in a production database it is refused outright
BEGIN;
SELECT rbac_authenticate(:'stg_key') = :stg_id AS staging_key;
SET LOCAL ROLE rbac_regress_app;
SELECT regress.err($$SELECT * FROM rbac_issue_key('shop', 'k', '{secrets}', 'production')$$);
SELECT regress.err($$SELECT * FROM rbac_issue_key('shop', 'k', '{reader}', 'production')$$);
COMMIT;
SET qilin_rbac.environment = 'production';
SELECT status FROM rbac_verify_key(:'stg_key');
RESET qilin_rbac.environment;

-- the production key it owns holds no more than it does
BEGIN;
SELECT rbac_authenticate(:'own_key') = :own_id AS own_key;
SET LOCAL ROLE rbac_regress_app;
SELECT regress.err($$SELECT * FROM rbac_issue_key('shop', 'k', '{reader}')$$);
SELECT rbac_has_permission(:shop, 'credential.read') AS key_reads_credentials;
COMMIT;

-- nothing changed: no table, no audit row
SELECT count(*) AS tables_compared,
       count(*) FILTER (WHERE s.n <> c.n) AS changed
FROM snapshot s JOIN state c USING (t);

-- even given apikey.update, apikey.delete, role.update and role.delete,
-- and bound by a deny rule on its group
SELECT rbac_grant_permission('delegate', 'apikey.update', 'shop');
SELECT rbac_grant_permission('delegate', 'apikey.delete', 'shop');
SELECT rbac_grant_permission('delegate', 'role.update', 'shop');
SELECT rbac_grant_permission('delegate', 'role.delete', 'shop');
SELECT rbac_create_role('no_secrets', '{}', 'shop');
SELECT rbac_deny_permission('no_secrets', 'credential.*', 'shop');
SELECT rbac_assign_role('team', 'no_secrets', 'shop');
-- the deny reaches its staging key through the owner
SELECT granted, reason FROM rbac_explain('apikey:' || :stg_id, 'shop', 'credential.read');
TRUNCATE snapshot;
INSERT INTO snapshot SELECT * FROM state;
TRUNCATE attempts;
INSERT INTO attempts (path, q) VALUES
('rotate the merchant key', $$SELECT * FROM rbac_rotate_key(OWNER_KEY)$$),
('revoke the merchant key', $$SELECT rbac_revoke_key(OWNER_KEY)$$),
('widen its own role', $$SELECT rbac_grant_permission('mine', 'credential.read', 'shop')$$),
('include a wider role', $$SELECT rbac_include_role('mine', 'secrets', 'shop')$$),
('include a wider template', $$SELECT rbac_include_role('mine', 'vault', 'shop')$$),
('change the merchant role', $$SELECT rbac_deny_permission('merchant_admin', 'billing.*', 'shop')$$),
('lift the deny from its group', $$SELECT rbac_unassign_role('team', 'no_secrets', 'shop')$$),
('lift the deny from the role', $$SELECT rbac_remove_deny('no_secrets', 'credential.*', 'shop')$$),
('drop the deny role', $$SELECT rbac_drop_role('no_secrets', 'shop')$$),
('widen the staging role it holds', $$SELECT rbac_grant_permission('secrets', 'credential.update', 'shop')$$);
UPDATE attempts SET q = replace(q, 'OWNER_KEY', :'owner_key_id');
SET ROLE rbac_regress_alice;
SELECT id, path, regress.err(q) FROM attempts ORDER BY id;
RESET ROLE;

-- nothing changed: no table, no audit row
SELECT count(*) AS tables_compared,
       count(*) FILTER (WHERE s.n <> c.n) AS changed
FROM snapshot s JOIN state c USING (t);

-- rotating a key whose role was widened behind its back does not carry
-- the new permission into a fresh key
SELECT rbac_grant_permission('reader', 'credential.read', 'shop');
TRUNCATE snapshot;
INSERT INTO snapshot SELECT * FROM state;
SET ROLE rbac_regress_alice;
SELECT regress.err(format('SELECT * FROM rbac_rotate_key(%s)', :own_id));
RESET ROLE;
SELECT count(*) AS tables_compared,
       count(*) FILTER (WHERE s.n <> c.n) AS changed
FROM snapshot s JOIN state c USING (t);
SELECT rbac_revoke_permission('reader', 'credential.read', 'shop');

-- after all that, only the merchant and its key read credentials
SELECT rbac_effective_permissions('attacker', 'shop');
SELECT count(*) AS credential_holders
FROM rbac.principals p
WHERE rbac_has_permission(p.name, :shop, 'credential.read');

-- what it holds it can still delegate, and the audit log names it
SET ROLE rbac_regress_alice;
SELECT rbac_assign_role('mule', 'reader', 'shop');
SELECT count(*) AS issued FROM rbac_issue_key('shop', 'ci', '{reader}', 'staging');
RESET ROLE;
SELECT a.action, p.name AS principal, a.db_role, a.target
FROM rbac.audit_log a JOIN rbac.principals p ON p.id = a.principal_id
ORDER BY a.id DESC LIMIT 2;
