\set n random(1, :nkeys)
BEGIN;
SELECT rbac_authenticate(api_key) AS principal, tenant_id AS t FROM bench.keys WHERE n = :n \gset
\set id (:t - 1) * :rows_per_tenant + random(1, :rows_per_tenant)
SELECT id, name, price FROM products WHERE id = :id;
COMMIT;
