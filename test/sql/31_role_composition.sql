-- Role composition: a role includes roles (templates included), the
-- effective set is the closure, and cycles are refused.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme') AS acme \gset
SELECT rbac_create_tenant('globex') AS globex \gset
SELECT rbac_create_principal('p');
SELECT rbac_create_role('reader', '{pipeline.read,channel.read}');
SELECT rbac_create_role('writer', '{pipeline.update}');
SELECT rbac_create_role('lead', '{queue.read}', 'acme');
SELECT rbac_create_role('secret', '{credential.read}', 'globex');

-- templates include templates; tenant roles include templates and roles
-- of their own tenant
SELECT rbac_include_role('writer', 'reader');
SELECT rbac_include_role('lead', 'writer', 'acme');
SELECT rbac_assign_role('p', 'lead', 'acme');
SELECT rbac_effective_permissions('p', 'acme');
SELECT * FROM rbac_explain('p', 'acme', 'channel.read');
SELECT rbac_has_permission('p', :acme, 'pipeline.update') AS through_template;

-- a key with the composed role: the C checker sees the closure
SELECT key_id AS k, api_key AS key FROM rbac_issue_key('acme', 'ci', '{lead}') \gset
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'key') = :k;
SELECT rbac_has_permission(:acme, 'channel.read') AS key_channel_read,
       rbac_has_permission(:acme, 'channel.update') AS key_channel_update;
COMMIT;
RESET ROLE;

-- a change to an included template reaches every role that includes it
SELECT rbac_grant_permission('reader', 'order.read');
SELECT rbac_has_permission('p', :acme, 'order.read') AS grown;
SELECT rbac_revoke_permission('reader', 'order.read');

-- a tenant role shadows a template of the same name when included
SELECT rbac_create_role('reader', '{offer.read}', 'acme');
SELECT rbac_create_role('lead2', '{}', 'acme');
SELECT rbac_include_role('lead2', 'reader', 'acme');
SELECT r.name, r.tenant_id IS NULL AS template
FROM rbac.role_includes ri JOIN rbac.roles o ON o.id = ri.role_id
JOIN rbac.roles r ON r.id = ri.included_id WHERE o.name = 'lead2';

-- no cycles, no self-inclusion, no duplicates, nothing across tenants
SELECT regress.err($$SELECT rbac_include_role('reader', 'writer')$$);
SELECT regress.err($$SELECT rbac_include_role('reader', 'reader')$$);
SELECT regress.err($$SELECT rbac_include_role('lead2', 'lead2', 'acme')$$);
SELECT rbac_include_role('lead2', 'lead', 'acme');
SELECT regress.err($$SELECT rbac_include_role('lead', 'lead2', 'acme')$$);
SELECT regress.err($$SELECT rbac_include_role('lead', 'writer', 'acme')$$);
SELECT regress.err($$SELECT rbac_include_role('writer', 'lead')$$);
SELECT regress.err($$SELECT rbac_include_role('lead', 'secret', 'acme')$$);
SELECT regress.err($$SELECT rbac_include_role('lead', NULL, 'acme')$$);
SELECT regress.err($$SELECT rbac_include_role('nosuch', 'reader', 'acme')$$);
SELECT regress.err($$SELECT rbac_remove_include('lead', 'reader', 'acme')$$);

-- removing an inclusion, or dropping the included role, shrinks the closure
SELECT rbac_remove_include('writer', 'reader');
SELECT rbac_effective_permissions('p', 'acme');
SELECT rbac_include_role('writer', 'reader');
SELECT rbac_drop_role('reader');
SELECT count(*) AS includes_left FROM rbac.role_includes ri
JOIN rbac.roles r ON r.id = ri.role_id WHERE r.name = 'writer';
SELECT rbac_effective_permissions('p', 'acme');

-- audit
SELECT action, target, details FROM rbac.audit_log
WHERE action IN ('include_role', 'remove_include') ORDER BY id;
