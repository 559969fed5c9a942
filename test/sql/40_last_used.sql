-- Last-used tracking of API keys: written at most once per key per
-- qilin_rbac.last_used_interval, in a table of its own that never
-- invalidates the authorization cache, never in a read-only or rolled back
-- transaction.  Keys are kept in psql variables and never printed.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SHOW qilin_rbac.last_used_interval;
SELECT rbac_create_tenant('usage_a') IS NOT NULL AS tenant;
SELECT rbac_create_role('reader', '{product.read}') IS NOT NULL AS role;
SELECT key_id AS k1, api_key AS key1 FROM rbac_issue_key('usage_a', 'k1', '{reader}') \gset
SELECT key_id AS k2, api_key AS key2 FROM rbac_issue_key('usage_a', 'k2', '{reader}') \gset
SELECT key_id AS k3, api_key AS key3 FROM rbac_issue_key('usage_a', 'k3', '{reader}') \gset
SELECT key_id AS k4, api_key AS key4 FROM rbac_issue_key('usage_a', 'k4', '{reader}') \gset
SELECT key_id AS k5, api_key AS key5 FROM rbac_issue_key('usage_a', 'k5', '{reader}') \gset

-- the table has no cache invalidation trigger, and holds nothing yet
SELECT tgname FROM pg_trigger WHERE tgrelid = 'rbac.key_usage'::regclass ORDER BY 1;
SELECT count(*) AS rows_before FROM rbac.key_usage;

-- the first authentication writes the time, without invalidating any cache
SELECT invalidations AS inval_before FROM rbac_cache_stats() \gset
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
SELECT rbac_authenticate(:'key2') = :k2 AS authenticated;
RESET ROLE;
SELECT invalidations - :inval_before AS invalidations_caused FROM rbac_cache_stats();
SELECT key_id = :k1 AS is_k1, last_used_at <= now() AND last_used_at > now() - interval '1 minute' AS recent
FROM rbac.key_usage ORDER BY key_id LIMIT 1;
SELECT xmin::text AS xmin_k1 FROM rbac.key_usage WHERE key_id = :k1 \gset

-- again, within the interval: no write at all
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
BEGIN;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
COMMIT;
RESET ROLE;
SELECT xmin::text = :'xmin_k1' AS row_untouched FROM rbac.key_usage WHERE key_id = :k1;

-- the memo of this backend spares even the read: a row moved back by hand
-- stays as it is here, and a new session (no memo) writes it
UPDATE rbac.key_usage SET last_used_at = now() - interval '2 hours' WHERE key_id = :k1;
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
RESET ROLE;
SELECT last_used_at < now() - interval '1 hour' AS still_old FROM rbac.key_usage WHERE key_id = :k1;
\c
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
RESET ROLE;
SELECT last_used_at > now() - interval '1 minute' AS advanced FROM rbac.key_usage WHERE key_id = :k1;

-- a shorter interval: a row older than it is written again
UPDATE rbac.key_usage SET last_used_at = now() - interval '1 minute' WHERE key_id = :k1;
\c
SET qilin_rbac.last_used_interval = '2h';
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
RESET ROLE;
SELECT last_used_at < now() - interval '30 seconds' AS kept_within_2h FROM rbac.key_usage WHERE key_id = :k1;
SET qilin_rbac.last_used_interval = '30s';
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key1') = :k1 AS authenticated;
RESET ROLE;
SELECT last_used_at > now() - interval '30 seconds' AS written_past_30s FROM rbac.key_usage WHERE key_id = :k1;
RESET qilin_rbac.last_used_interval;

-- a rolled back transaction does not advance it, nor does a rolled back
-- savepoint; the next authentication writes it
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'key3') = :k3 AS authenticated;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT rbac_authenticate(:'key4') = :k4 AS authenticated;
ROLLBACK TO SAVEPOINT s;
COMMIT;
RESET ROLE;
SELECT count(*) AS rows_k3_k4 FROM rbac.key_usage WHERE key_id IN (:k3, :k4);
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key3') = :k3 AS authenticated;
BEGIN;
SAVEPOINT s;
SELECT rbac_authenticate(:'key4') = :k4 AS authenticated;
RELEASE SAVEPOINT s;
COMMIT;
RESET ROLE;
SELECT count(*) AS rows_k3_k4 FROM rbac.key_usage WHERE key_id IN (:k3, :k4);

-- read-only transactions, a failed authentication and tracking turned off
-- write nothing
SET ROLE rbac_regress_app;
BEGIN READ ONLY;
SELECT rbac_authenticate(:'key5') = :k5 AS authenticated;
COMMIT;
RESET ROLE;
SELECT key_id AS k7, api_key AS key7 FROM rbac_issue_key('usage_a', 'k7', '{reader}') \gset
SELECT rbac_revoke_key(:k7);
SET ROLE rbac_regress_app;
SELECT regress.err(format('SELECT rbac_authenticate(%L)', :'key7'));
RESET ROLE;
SET qilin_rbac.last_used_interval = 0;
SET ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key5') = :k5 AS authenticated;
RESET ROLE;
RESET qilin_rbac.last_used_interval;
SELECT count(*) AS rows_k5_k7 FROM rbac.key_usage WHERE key_id IN (:k5, :k7);

-- the setting is for superusers only
SET ROLE rbac_regress_app;
SELECT regress.err('SET qilin_rbac.last_used_interval = 0');
RESET ROLE;

-- keys unused for a while (never used ones count from their issue), and
-- keys about to expire; revoked keys are not listed
UPDATE rbac.key_usage SET last_used_at = now() - interval '40 days' WHERE key_id = :k3;
SELECT rbac_revoke_key(:k2);
UPDATE rbac.key_usage SET last_used_at = now() - interval '40 days' WHERE key_id = :k2;
SELECT name, last_used_at IS NOT NULL AS used FROM rbac_unused_keys('30 days');
SELECT name FROM rbac_unused_keys('0') ORDER BY name;
SELECT key_id AS k6, api_key AS key6 FROM rbac_issue_key('usage_a', 'k6', '{reader}',
    expires_at => now() + interval '7 days') \gset
SELECT name FROM rbac_expiring_keys('14 days');
SELECT count(*) AS expiring_tomorrow FROM rbac_expiring_keys('1 day');
SELECT name, live, last_used_at IS NOT NULL AS used FROM rbac.key_activity ORDER BY key_id;
SELECT regress.err('SELECT * FROM rbac_unused_keys(NULL)');
SELECT regress.err('SELECT * FROM rbac_unused_keys(''-1 day'')');
SELECT regress.err('SELECT * FROM rbac_expiring_keys(NULL)');

-- administrators read them; application roles do not
SET ROLE rbac_regress_admin;
SELECT count(*) > 0 AS admin_reads FROM rbac_unused_keys('0');
SELECT count(*) > 0 AS admin_reads_view FROM rbac.key_activity;
SET ROLE rbac_regress_app;
SELECT regress.err('SELECT * FROM rbac_unused_keys()');
SELECT regress.err('SELECT * FROM rbac_expiring_keys()');
SELECT regress.err('SELECT * FROM rbac.key_usage');
RESET ROLE;

-- a repeatable read transaction whose snapshot predates the key: the key
-- is found (keys are looked up in the latest snapshot) and its use noted
SELECT dblink_connect('issuer', format('dbname=%s port=%s host=%s', current_database(),
    current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) >= 0 AS snapshot_taken FROM rbac.key_usage;
SELECT key_id AS k8, api_key AS key8 FROM dblink('issuer',
    $$SELECT key_id, api_key FROM rbac_issue_key('usage_a', 'k8', '{reader}')$$)
    AS t(key_id bigint, api_key text) \gset
SET LOCAL ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key8') = :k8 AS authenticated;
COMMIT;
SELECT count(*) AS rows_k8 FROM rbac.key_usage WHERE key_id = :k8;
SELECT dblink_disconnect('issuer');
-- a serializable transaction writes nothing
BEGIN ISOLATION LEVEL SERIALIZABLE;
SET LOCAL ROLE rbac_regress_app;
SELECT rbac_authenticate(:'key6') = :k6 AS authenticated;
COMMIT;
SELECT count(*) AS rows_k6 FROM rbac.key_usage WHERE key_id = :k6;

-- deleting keys (here with their tenant) deletes their usage rows
DELETE FROM rbac.tenants WHERE name = 'usage_a';
SELECT count(*) AS rows_left FROM rbac.key_usage;
