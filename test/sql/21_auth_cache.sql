-- Authentication fills the cache for the key it accepts, from the roles it
-- read with the key, so the next check needs no query.  The shortcut must
-- give exactly the answers a full rebuild gives: only the key's tenant,
-- only assignments for its environment, never beyond its owner, and a
-- revocation or a change of grants seen at the next statement.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('north') AS north, rbac_create_tenant('south') AS south \gset
SELECT rbac_create_role('reader', '{product.read, order.read}') > 0 AS role;
SELECT rbac_create_role('writer', '{product.update}') > 0 AS role;
SELECT rbac_create_principal('owner') > 0 AS principal;
SELECT rbac_assign_role('owner', 'reader', 'north');
SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('north', 'k1', '{reader}') \gset
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('north', 'k2', '{reader}') \gset
SELECT key_id AS k3, api_key AS key3 FROM rbac_issue_key('north', 'k3', '{reader, writer}', owner => 'owner') \gset
SELECT key_id AS k4, api_key AS key4 FROM rbac_issue_key('south', 'k4', '{reader}') \gset

-- the first key of the session is resolved by a full rebuild
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
SELECT rbac_has_permission(:north, 'product.read') AS k1_reads_north;
COMMIT;

-- the next key with known roles is filled by authentication: its first
-- check is a hit, not a miss
SELECT misses AS misses_before, rebuilds AS rebuilds_before FROM rbac_cache_stats() \gset
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2 AS authenticated;
SELECT rbac_has_permission(:north, 'product.read') AS k2_reads_north,
       rbac_has_permission(:north, 'order.read') AS k2_reads_orders,
       rbac_has_permission(:north, 'product.update') AS k2_cannot_update,
       rbac_has_permission(:south, 'product.read') AS k2_not_in_south,
       rbac_has_permission('product.read') AS k2_in_own_tenant;
SELECT misses - :misses_before AS new_misses, rebuilds - :rebuilds_before AS new_rebuilds
FROM rbac_cache_stats();
COMMIT;

-- a key with an owner takes the full path, and never exceeds its owner
BEGIN;
SELECT rbac_authenticate(:'key3') = :k3 AS authenticated;
SELECT rbac_has_permission(:north, 'product.read') AS k3_reads,
       rbac_has_permission(:north, 'product.update') AS k3_cannot_update_owner_cannot;
COMMIT;

-- a key in another tenant
BEGIN;
SELECT rbac_authenticate(:'key4') = :k4 AS authenticated;
SELECT rbac_has_permission(:south, 'product.read') AS k4_reads_south,
       rbac_has_permission(:north, 'product.read') AS k4_not_in_north;
COMMIT;

-- grants to the key outside its environment or tenant count for nothing
-- (the functions refuse to add roles to an issued key; the tables could
-- still be written directly, and the answer must not change)
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment)
SELECT :k2, r.id, t.id, e
FROM rbac.roles r, rbac.tenants t, (VALUES ('staging'), (NULL)) v(e)
WHERE r.name = 'writer' AND ((t.name = 'north' AND e = 'staging') OR (t.name = 'south' AND e IS NULL));
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;  -- roles cached again
COMMIT;
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2 AS authenticated;
SELECT rbac_has_permission(:north, 'product.update') AS staging_grant_ignored,
       rbac_has_permission(:south, 'product.update') AS other_tenant_ignored,
       rbac_has_permission(:north, 'product.read') AS still_reads;
COMMIT;
-- a grant in its own tenant and environment counts at once
INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment)
SELECT :k2, r.id, :north, 'production' FROM rbac.roles r WHERE r.name = 'writer';
BEGIN;
SELECT rbac_authenticate(:'key2') = :k2 AS authenticated;
SELECT rbac_has_permission(:north, 'product.update') AS production_grant_counts;
COMMIT;

-- a role that gains a permission: seen by the next key authenticated
SELECT rbac_grant_permission('reader', 'product.delete');
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
SELECT rbac_has_permission(:north, 'product.delete') AS new_grant_counts;
COMMIT;

-- a session-long identity: a revocation is seen at the next statement
SELECT rbac_authenticate(:'key2', false) = :k2 AS authenticated;
SELECT rbac_has_permission(:north, 'product.read') AS before_revoke;
SELECT rbac_revoke_key(:k2);
SELECT rbac_has_permission(:north, 'product.read') AS after_revoke;
SELECT rbac_reset();
SELECT (rbac_verify_key(:'key2')).status;
