-- The scale case: grow the catalogue to :scale_tenants tenants,
-- :scale_roles roles and :scale_keys keys in all (the point-lookup keys
-- included), written directly into the extension's tables; the keys added
-- here carry hashes of nothing and are never presented.  Then a principal
-- that sees :wide tenants.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
INSERT INTO rbac.tenants (id, name)
SELECT i, 'shop' || i FROM generate_series(:tenants + 1, :scale_tenants) i;
SELECT setval('rbac.tenants_id_seq', :scale_tenants) \g /dev/null

CREATE TEMP TABLE sr AS
SELECT nextval('rbac.roles_id_seq') AS id, i, 1 + (i::bigint * 37) % :scale_tenants AS tenant_id
FROM generate_series(1, :scale_roles - 1) i;
INSERT INTO rbac.roles (id, name, tenant_id) SELECT id, 'role' || i, tenant_id FROM sr;
INSERT INTO rbac.role_permissions (role_id, permission)
SELECT sr.id, p::rbac_permission
FROM sr, unnest(ARRAY['product.read', 'order.*', 'pipeline.read']) p;

CREATE TEMP TABLE sk AS
SELECT nextval('rbac.principals_id_seq') AS id, i, 1 + (i::bigint * 7919) % :scale_tenants AS tenant_id
FROM generate_series(1, :scale_keys - :nkeys) i;
INSERT INTO rbac.principals (id, name, kind) SELECT id, 'apikey:' || id, 'api_key' FROM sk;
INSERT INTO rbac.api_keys (principal_id, tenant_id, name, environment, key_hash, display_prefix)
SELECT id, tenant_id, 'scale ' || i, 'production', sha256(('scale ' || i)::bytea), 'qk_production_none'
FROM sk;
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment)
SELECT sk.id, (SELECT min(id) FROM sr) + sk.i % (:scale_roles - 1), sk.tenant_id, 'production'
FROM sk;

SELECT rbac_create_principal('wide') AS wide_id \gset
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id)
SELECT :wide_id, r.id, t
FROM rbac.roles r, generate_series(1, :scale_tenants, :scale_tenants / :wide) t
WHERE r.name = 'reader' AND r.tenant_id IS NULL;
VACUUM ANALYZE;
