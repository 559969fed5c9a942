-- Tenants, principals and groups.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme') AS acme, rbac_create_tenant('globex') AS globex;
SELECT rbac_tenant_id('acme'), rbac_tenant_id('globex'), rbac_tenant_id('nosuch');
SELECT regress.err($$SELECT rbac_create_tenant('acme')$$);
SELECT regress.err($$SELECT rbac_create_tenant(NULL)$$);
SELECT regress.err($$SELECT rbac_create_tenant('')$$);
SELECT regress.err($$SELECT rbac_create_tenant(repeat('t', 201))$$);

SELECT rbac_create_principal('alice');
SELECT rbac_create_principal('agency', 'group');
SELECT rbac_create_principal('agency_devs', 'group');
SELECT rbac_create_principal('deployer', 'service');
SELECT rbac_create_principal('alice_pg', 'user', 'rbac_regress_alice');
SELECT name, kind, pg_role FROM rbac.principals ORDER BY id;
SELECT regress.err($$SELECT rbac_create_principal('alice')$$);
SELECT regress.err($$SELECT rbac_create_principal('bob', 'robot')$$);
SELECT regress.err($$SELECT rbac_create_principal('bob', 'api_key')$$);
SELECT regress.err($$SELECT rbac_create_principal('bob', NULL)$$);
SELECT regress.err($$SELECT rbac_create_principal('bob', 'user', 'no_such_pg_role')$$);
SELECT regress.err($$SELECT rbac_create_principal('bob', 'user', 'rbac_regress_alice')$$);

-- groups nest, transitively, without cycles
SELECT rbac_add_member('agency', 'agency_devs');
SELECT rbac_add_member('agency_devs', 'alice');
SELECT regress.err($$SELECT rbac_add_member('agency', 'agency_devs')$$);
SELECT regress.err($$SELECT rbac_add_member('alice', 'agency')$$);
SELECT regress.err($$SELECT rbac_add_member('agency_devs', 'agency')$$);
SELECT regress.err($$SELECT rbac_add_member('alice', 'alice')$$);
SELECT regress.err($$SELECT rbac_add_member('agency', 'agency')$$);
SELECT regress.err($$SELECT rbac_add_member('agency', 'nobody')$$);
SELECT regress.err($$SELECT rbac_add_member('nogroup', 'alice')$$);

-- alice inherits what the outer group holds
SELECT rbac_create_role('pipeline_builder', '{pipeline.*,channel.*}');
SELECT rbac_assign_role('agency', 'pipeline_builder', 'acme');
SELECT rbac_effective_permissions('alice', 'acme');
SELECT * FROM rbac_explain('alice', 'acme', 'pipeline.update');
SELECT count(*) FROM rbac_effective_permissions('alice', 'globex');

-- removing the middle link takes it away
SELECT rbac_remove_member('agency', 'agency_devs');
SELECT count(*) FROM rbac_effective_permissions('alice', 'acme');
SELECT regress.err($$SELECT rbac_remove_member('agency', 'agency_devs')$$);
SELECT regress.err($$SELECT rbac_remove_member('agency', NULL)$$);

-- a database role mapped to a principal is its identity when nobody is
-- authenticated
SELECT rbac_assign_role('alice_pg', 'pipeline_builder', 'globex');
GRANT USAGE ON SCHEMA public TO rbac_regress_alice;
SET ROLE rbac_regress_alice;
SELECT rbac_current_principal() AS mapped_principal,
       rbac_has_permission(2, 'pipeline.read') AS globex_read,
       rbac_has_permission(1, 'pipeline.read') AS acme_read;
RESET ROLE;
SELECT rbac_current_principal() IS NULL AS superuser_unmapped;
