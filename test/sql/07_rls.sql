-- Row-level security on application tables, as a non-superuser
-- application role: SELECT, INSERT, UPDATE and DELETE.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
DROP TABLE IF EXISTS products, orders, pipelines, credentials;
RESET client_min_messages;

SELECT rbac_create_tenant('acme') AS acme, rbac_create_tenant('globex') AS globex;
SELECT rbac_create_role('catalog_editor', '{product.*,order.read}');
SELECT rbac_create_role('pipeline_builder', '{pipeline.*}');
SELECT rbac_create_role('secrets', '{credential.*}');
SELECT rbac_create_role('product_reader', '{product.read}');
SELECT key_id AS ed, api_key AS editor FROM rbac_issue_key('acme', 'editor', '{catalog_editor,pipeline_builder}') \gset
SELECT key_id AS gl, api_key AS globex_key FROM rbac_issue_key('globex', 'globex all', '{catalog_editor,pipeline_builder,secrets}') \gset
SELECT key_id AS rd, api_key AS reader FROM rbac_issue_key('acme', 'reader', '{product_reader}') \gset

CREATE TABLE products (id int PRIMARY KEY, tenant_id bigint, name text);
CREATE TABLE orders (id int PRIMARY KEY, tenant_id bigint NOT NULL, total numeric);
CREATE TABLE pipelines (id int PRIMARY KEY, tenant_id bigint NOT NULL, name text);
CREATE TABLE credentials (id int PRIMARY KEY, tenant_id bigint NOT NULL, secret text);
INSERT INTO products VALUES (1, 1, 'acme shoe'), (2, 1, 'acme hat'), (3, 2, 'globex lamp'), (4, NULL, 'orphan');
INSERT INTO orders VALUES (1, 1, 10), (2, 2, 20);
INSERT INTO pipelines VALUES (1, 1, 'shopware import'), (2, 2, 'globex export');
INSERT INTO credentials VALUES (1, 1, 'acme-secret'), (2, 2, 'globex-secret');

-- the policy pattern, for each table and its resource
DO $$
DECLARE
    t text;
    r text;
BEGIN
    FOR t, r IN VALUES ('products', 'product'), ('orders', 'order'),
                       ('pipelines', 'pipeline'), ('credentials', 'credential')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY sel ON %I FOR SELECT USING (rbac_has_permission(tenant_id, %L))', t, r || '.read');
        EXECUTE format('CREATE POLICY upd ON %I FOR UPDATE USING (rbac_has_permission(tenant_id, %L))', t, r || '.update');
        EXECUTE format('CREATE POLICY ins ON %I FOR INSERT WITH CHECK (rbac_has_permission(tenant_id, %L))', t, r || '.create');
        EXECUTE format('CREATE POLICY del ON %I FOR DELETE USING (rbac_has_permission(tenant_id, %L))', t, r || '.delete');
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rbac_regress_app', t);
    END LOOP;
END
$$;

SET ROLE rbac_regress_app;

-- nobody authenticated: nothing visible, nothing writable
SELECT count(*) FROM products;
SELECT count(*) FROM credentials;
INSERT INTO products VALUES (10, 1, 'sneaky');
UPDATE products SET name = 'x';
DELETE FROM products;

-- the acme editor
BEGIN;
SELECT rbac_authenticate(:'editor') = :ed;
SELECT id, tenant_id, name FROM products ORDER BY id;
SELECT id, tenant_id FROM orders ORDER BY id;
SELECT id, name FROM pipelines ORDER BY id;
SELECT count(*) AS credentials_visible FROM credentials;
INSERT INTO products VALUES (5, 1, 'acme sock');
SELECT regress.err($$INSERT INTO products VALUES (6, 2, 'into globex')$$);
SELECT regress.err($$INSERT INTO products VALUES (7, NULL, 'no tenant')$$);
UPDATE products SET name = name || ' (edited)' RETURNING id, name;
-- moving a row to another tenant fails the update policy's check
SELECT regress.err($$UPDATE products SET tenant_id = 2 WHERE id = 5$$);
DELETE FROM products WHERE id = 2 RETURNING id;
DELETE FROM products WHERE id = 3 RETURNING id;
UPDATE orders SET total = 0 RETURNING id;
UPDATE credentials SET secret = 'stolen' RETURNING id;
DELETE FROM credentials RETURNING id;
COMMIT;

-- read-only key: sees products, changes nothing
BEGIN;
SELECT rbac_authenticate(:'reader') = :rd;
SELECT id, name FROM products ORDER BY id;
UPDATE products SET name = 'x' RETURNING id;
DELETE FROM products RETURNING id;
SELECT regress.err($$INSERT INTO products VALUES (8, 1, 'nope')$$);
COMMIT;

-- globex key sees only globex, including its credentials
BEGIN;
SELECT rbac_authenticate(:'globex_key') = :gl;
SELECT id, tenant_id, name FROM products ORDER BY id;
SELECT id, secret FROM credentials ORDER BY id;
COMMIT;

-- after the transaction the identity is gone again
SELECT count(*) FROM products;
RESET ROLE;

-- the data as the owner sees it
SELECT id, tenant_id, name FROM products ORDER BY id;
SELECT id, secret FROM credentials ORDER BY id;

-- a forged tenant in a query does not help
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'reader') = :rd;
SELECT count(*) FROM products WHERE tenant_id = 2;
SELECT count(*) FROM products WHERE rbac_has_permission(2, 'product.read') OR true;
COMMIT;
RESET ROLE;
