-- Changes made in one session reach another at its next statement, also a
-- session that authenticated before the change and one inside an open
-- transaction block.  The second session is a dblink connection.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme');
SELECT rbac_create_principal('team', 'group');
SELECT rbac_create_principal('dev');
SELECT rbac_add_member('team', 'dev');
SELECT rbac_create_role('reader', '{product.read}');
SELECT rbac_create_role('writer', '{product.update}');
SELECT rbac_assign_role('team', 'reader', 'acme');
SELECT key_id AS k, api_key AS key FROM rbac_issue_key('acme', 'k', '{reader}') \gset

SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
    current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
CREATE FUNCTION other(q text) RETURNS text LANGUAGE sql AS $$
    SELECT r FROM dblink('other', q) AS t(r text)
$$;

-- the other session authenticates for the whole session
SELECT other(format('SELECT rbac_authenticate(%L, false)::text', :'key')) = :k::text AS authenticated;
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS can_read;

-- a revoked key stops at the other session's next statement
SELECT rbac_revoke_key(:k);
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS after_revoke;
SELECT other($$SELECT coalesce(rbac_current_principal()::text, 'none')$$) = :k::text AS identity_kept;

-- a user session: group membership and grants
SELECT other($$SELECT rbac_set_principal('dev', false)::text$$) IS NOT NULL AS set;
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS via_group;
SELECT rbac_remove_member('team', 'dev');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS after_removal;
SELECT rbac_add_member('team', 'dev');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS after_readding;

-- inside an open transaction block of the other session
SELECT dblink_exec('other', 'BEGIN');
SELECT other($$SELECT rbac_has_permission(1, 'product.update')::text$$) AS update_before;
SELECT rbac_grant_permission('reader', 'product.update');
SELECT other($$SELECT rbac_has_permission(1, 'product.update')::text$$) AS update_after_grant;
SELECT rbac_unassign_role('team', 'reader', 'acme');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS read_after_unassign;
SELECT dblink_exec('other', 'COMMIT');

-- even in a repeatable-read transaction that began before the change
SELECT rbac_assign_role('team', 'reader', 'acme');
SELECT dblink_exec('other', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS rr_before;
SELECT rbac_drop_role('reader');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS rr_after_drop;
SELECT dblink_exec('other', 'COMMIT');
SELECT other($$SELECT rbac_has_permission(1, 'product.read')::text$$) AS after_commit;

-- the other session's cache rebuilt rather than answered stale
SELECT other($$SELECT (rebuilds > 1)::text FROM rbac_cache_stats()$$) AS rebuilt;
SELECT dblink_disconnect('other');
