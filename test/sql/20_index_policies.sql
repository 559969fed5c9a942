-- A policy calling rbac_has_permission(tenant_id, ...) can use an index on
-- tenant_id: the planner support function adds
-- "tenant_id = ANY (rbac_permitted_tenants(...))" as a lossy index condition,
-- computed when the scan starts.  A prepared plan stays right when the
-- principal changes between executions.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
DROP TABLE IF EXISTS items;
DROP ROLE IF EXISTS rbac_ix_app;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT count(rbac_create_tenant('shop' || i)) FROM generate_series(1, 40) i;
SELECT rbac_create_role('reader', '{product.read}') > 0 AS role;
SELECT rbac_create_role('editor', '{product.*}') > 0 AS role;
SELECT rbac_create_principal('wide') > 0 AS principal;
SELECT count(rbac_assign_role('wide', 'reader', 'shop' || i)) FROM generate_series(1, 30) i;
SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('shop3', 'k1', '{reader}') \gset
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('shop7', 'k2', '{editor}') \gset
SELECT rbac_tenant_id('shop3') AS t3, rbac_tenant_id('shop7') AS t7,
       rbac_tenant_id('shop1') AS t1 \gset
SELECT array_agg(rbac_tenant_id('shop' || i))::text AS wide30 FROM generate_series(1, 30) i \gset

CREATE TABLE items (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, name text);
INSERT INTO items SELECT i, rbac_tenant_id('shop' || (1 + i % 40)), 'item ' || i
FROM generate_series(1, 20000) i;
CREATE INDEX ON items (tenant_id);
ANALYZE items;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY read ON items FOR SELECT USING (rbac_has_permission(tenant_id, 'product.read'));
CREATE ROLE rbac_ix_app;
GRANT SELECT ON items TO rbac_ix_app;

SET ROLE rbac_ix_app;
-- nobody: the index condition is there, and nothing comes back
EXPLAIN (COSTS OFF) SELECT count(*) FROM items;
SELECT count(*) FROM items;
SELECT rbac_permitted_tenants('product.read') AS nobody;

-- one key, one tenant: the index scan returns exactly its rows
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
EXPLAIN (COSTS OFF) SELECT * FROM items WHERE name LIKE 'item 1%';
SELECT count(*), min(tenant_id) = :t3 AS only_t3, max(tenant_id) = :t3 AS only_t3_too
FROM items;
SELECT rbac_permitted_tenants('product.read') = ARRAY[:t3]::bigint[] AS permitted;
SELECT rbac_permitted_tenants('product.update') AS cannot_update;
COMMIT;

-- a generic prepared plan executed under two keys answers for each
SET plan_cache_mode = force_generic_plan;
PREPARE q(bigint) AS SELECT count(*), bool_and(tenant_id = $1) AS all_own FROM items;
EXPLAIN (COSTS OFF) EXECUTE q(0);
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
EXECUTE q(:t3);
COMMIT;
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2 AS authenticated;
EXECUTE q(:t7);
COMMIT;
-- and after the transaction nobody is current again
EXECUTE q(:t7);

-- a principal seeing 30 of 40 tenants gets a sequential scan when planning
-- for itself; the same generic plan (made above) stays correct for it
RESET ROLE;
SELECT rbac_set_principal('wide', false) > 0 AS acting;
SET ROLE rbac_ix_app;
EXECUTE q(0);
RESET plan_cache_mode;
EXPLAIN (COSTS OFF) SELECT count(*) FROM items;
SELECT count(*) FROM items;
SELECT count(*) FROM items WHERE tenant_id = ANY (:'wide30'::bigint[]);
SELECT (SELECT count(*) FROM items) = (SELECT count(*) FROM items WHERE tenant_id = ANY (:'wide30'::bigint[])) AS same_rows;

-- the permission argument may be a parameter (not a column of the table)
PREPARE p(rbac_permission) AS SELECT count(*) FROM items WHERE rbac_has_permission(tenant_id, $1);
EXECUTE p('product.read');
EXECUTE p('product.delete');
-- a permission taken from the row itself cannot become an index condition
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM items WHERE rbac_has_permission(tenant_id, ('product.' || CASE WHEN id % 2 = 0 THEN 'read' ELSE 'update' END)::rbac_permission);
SELECT count(*) FROM items WHERE rbac_has_permission(tenant_id, ('product.' || CASE WHEN id % 2 = 0 THEN 'read' ELSE 'update' END)::rbac_permission);
RESET enable_seqscan;

-- a change of grants reaches the index condition at the next statement
RESET ROLE;
SELECT rbac_unassign_role('wide', 'reader', 'shop' || i) FROM generate_series(2, 30) i \g /dev/null
SET ROLE rbac_ix_app;
EXPLAIN (COSTS OFF) SELECT count(*) FROM items;
SELECT count(*) FROM items;
SELECT rbac_permitted_tenants('product.read') = ARRAY[:t1]::bigint[] AS only_shop1;
RESET ROLE;
SELECT rbac_reset();

DROP TABLE items;
DROP ROLE rbac_ix_app;
