-- Benchmark data: products over tenants, two principals ("broad" and
-- "narrow") described twice, once in qilin_rbac and once in the plain
-- tables a hand-written authorize() function would read, and API keys
-- issued in bulk for the point-lookup benchmark.
-- Variables: tenants, rows_per_tenant, broad, narrow, nkeys.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION qilin_rbac;

CREATE ROLE bench_broad LOGIN;
CREATE ROLE bench_narrow LOGIN;
CREATE ROLE bench_app LOGIN;

-- tenants 1..:tenants
INSERT INTO rbac.tenants (id, name)
SELECT i, 'shop' || i FROM generate_series(1, :tenants) i;
SELECT setval('rbac.tenants_id_seq', :tenants) \g /dev/null
SELECT rbac_create_role('reader', '{product.read}') AS reader_id \gset
SELECT rbac_create_principal('broad', 'user', 'bench_broad') AS broad_id \gset
SELECT rbac_create_principal('narrow', 'user', 'bench_narrow') AS narrow_id \gset

-- broad: every other tenant; narrow: :narrow tenants spread over the range
CREATE TABLE public.bench_grants (principal text, tenant_id bigint);
INSERT INTO bench_grants
SELECT 'broad', t FROM generate_series(1, :tenants, :tenants / :broad) t LIMIT :broad;
INSERT INTO bench_grants
SELECT 'narrow', 1 + i * (:tenants / :narrow) FROM generate_series(0, :narrow - 1) i;
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id)
SELECT CASE g.principal WHEN 'broad' THEN :broad_id ELSE :narrow_id END, :reader_id, g.tenant_id
FROM bench_grants g;

-- products, loaded in tenant order (as a table clustered on tenant_id)
CREATE TABLE public.products (
    id        bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name      text NOT NULL,
    price     numeric(10, 2) NOT NULL
);
INSERT INTO products
SELECT i, 1 + (i - 1) / :rows_per_tenant, 'product ' || i, (i % 10000) / 100.0
FROM generate_series(1, :tenants * :rows_per_tenant) i;
CREATE INDEX ON products (tenant_id);
GRANT SELECT ON products TO bench_broad, bench_narrow, bench_app;
-- the same rows without RLS, for the point lookups without authentication
CREATE TABLE public.products_plain AS SELECT * FROM products;
ALTER TABLE products_plain ADD PRIMARY KEY (id);
GRANT SELECT ON products_plain TO bench_app;
ALTER TABLE products ENABLE ROW LEVEL SECURITY;

-- What an application without qilin_rbac keeps: users, their roles per
-- tenant and the roles' permissions, with the user id in a setting.
CREATE SCHEMA app;
CREATE TABLE app.user_roles (user_id bigint, tenant_id bigint, role text,
                             PRIMARY KEY (user_id, tenant_id, role));
CREATE TABLE app.role_permissions (role text, permission text, PRIMARY KEY (role, permission));
INSERT INTO app.role_permissions VALUES ('reader', 'product.read');
INSERT INTO app.user_roles
SELECT CASE g.principal WHEN 'broad' THEN 1 ELSE 2 END, g.tenant_id, 'reader' FROM bench_grants g;
ALTER ROLE bench_broad SET app.user_id = '1';
ALTER ROLE bench_narrow SET app.user_id = '2';

-- The per-row pattern Supabase documents: a SECURITY DEFINER plpgsql
-- function asked once per row.
CREATE FUNCTION public.authorize(p_tenant bigint, requested_permission text)
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    bind_permissions int;
BEGIN
    SELECT count(*) INTO bind_permissions
    FROM app.user_roles ur
    JOIN app.role_permissions rp ON rp.role = ur.role
    WHERE ur.user_id = current_setting('app.user_id')::bigint
      AND ur.tenant_id = p_tenant
      AND rp.permission = requested_permission;
    RETURN bind_permissions > 0;
END
$$;

-- The set-based pattern: the tenants are computed once per query.
CREATE FUNCTION public.tenants_with(requested_permission text)
RETURNS SETOF bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT ur.tenant_id
    FROM app.user_roles ur
    JOIN app.role_permissions rp ON rp.role = ur.role
    WHERE ur.user_id = current_setting('app.user_id')::bigint
      AND rp.permission = requested_permission
$$;

-- API keys for the point lookups, issued in bulk the way rbac_issue_key
-- issues one (rbac._make_key): a principal, the key row with the hash of
-- a freshly generated key, and the role in the key's tenant.
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO bench_app;
CREATE TABLE bench.keys (n int PRIMARY KEY, key_id bigint, tenant_id bigint, api_key text);
GRANT SELECT ON bench.keys TO bench_app;
-- (the argument refers to i so that every row makes a new key)
CREATE TEMP TABLE gk AS
SELECT i AS n, nextval('rbac.principals_id_seq') AS key_id,
       1 + (i::bigint * 7919) % :tenants AS tenant_id, g.api_key, g.key_hash, g.display_prefix
FROM generate_series(1, :nkeys) i,
     LATERAL rbac._generate_key(CASE WHEN i > 0 THEN 'production' END) g;
INSERT INTO rbac.principals (id, name, kind)
SELECT key_id, 'apikey:' || key_id, 'api_key' FROM gk;
INSERT INTO rbac.api_keys (principal_id, tenant_id, name, environment, key_hash, display_prefix)
SELECT key_id, tenant_id, 'bench ' || n, 'production', key_hash, display_prefix FROM gk;
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment)
SELECT key_id, :reader_id, tenant_id, 'production' FROM gk;
INSERT INTO bench.keys SELECT n, key_id, tenant_id, api_key FROM gk;
DROP TABLE gk;

VACUUM ANALYZE;
-- the keys verify
SELECT count(*) = 100 AS keys_verify
FROM (SELECT api_key FROM bench.keys ORDER BY n LIMIT 100) k, rbac_verify_key(k.api_key) v
WHERE v.valid \gset
\if :keys_verify
\else
\echo 'issued keys do not verify'
SELECT 1/0;
\endif
