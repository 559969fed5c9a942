/* qilin_rbac 1.0 -> 1.1 */

\echo Use "ALTER EXTENSION qilin_rbac UPDATE TO '1.1'" to load this file. \quit

------------------------------------------------------------------------------
-- Operations
------------------------------------------------------------------------------

-- When each key was last used, to the precision of the setting
-- qilin_rbac.last_used_interval (written by rbac_authenticate at most once
-- per key per interval).  Not a column of rbac.api_keys: every write there
-- invalidates every backend's authorization cache.  No foreign key either:
-- its check would read rbac.api_keys with the caller's snapshot, which in a
-- repeatable read transaction may predate the key.
CREATE TABLE rbac.key_usage (
    key_id       bigint PRIMARY KEY,
    last_used_at timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('rbac.key_usage', '');
REVOKE ALL ON rbac.key_usage FROM PUBLIC;
GRANT SELECT ON rbac.key_usage TO rbac_admin;

CREATE FUNCTION rbac._key_usage_forget() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM rbac.key_usage u USING gone WHERE u.key_id = gone.principal_id;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION rbac._key_usage_forget() FROM PUBLIC;
CREATE TRIGGER forget_usage AFTER DELETE ON rbac.api_keys
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._key_usage_forget();

-- Every key with its tenant, its state and when it was last used (NULL:
-- not since it was issued, or not since tracking was turned on).
CREATE VIEW rbac.key_activity AS
SELECT k.principal_id AS key_id, t.name AS tenant, k.name, k.environment,
       k.display_prefix, o.name AS owner, k.created_at, u.last_used_at,
       k.expires_at, k.revoked_at,
       (k.revoked_at IS NULL OR k.revoked_at > now())
           AND (k.expires_at IS NULL OR k.expires_at > now()) AS live
FROM rbac.api_keys k
JOIN rbac.tenants t ON t.id = k.tenant_id
LEFT JOIN rbac.principals o ON o.id = k.owner_id
LEFT JOIN rbac.key_usage u ON u.key_id = k.principal_id;
REVOKE ALL ON rbac.key_activity FROM PUBLIC;
GRANT SELECT ON rbac.key_activity TO rbac_admin;

-- Live keys not used for unused_for (never used ones count from their
-- issue).  The answer is as precise as qilin_rbac.last_used_interval.
CREATE FUNCTION @extschema@.rbac_unused_keys(unused_for interval DEFAULT '30 days')
RETURNS TABLE (key_id bigint, tenant text, name text, environment text,
               display_prefix text, created_at timestamptz,
               last_used_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF unused_for IS NULL THEN
        RAISE EXCEPTION 'unused_for must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF unused_for < interval '0' THEN
        RAISE EXCEPTION 'unused_for must not be negative: "%"', unused_for
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It is how long a key has gone unused, such as ''30 days''.';
    END IF;
    RETURN QUERY
    SELECT a.key_id, a.tenant, a.name, a.environment, a.display_prefix,
           a.created_at, a.last_used_at, a.expires_at
    FROM rbac.key_activity a
    WHERE a.live AND coalesce(a.last_used_at, a.created_at) < now() - unused_for
    ORDER BY coalesce(a.last_used_at, a.created_at), a.key_id;
END
$$;

-- Live keys that expire within the given time from now.
CREATE FUNCTION @extschema@.rbac_expiring_keys(within interval DEFAULT '14 days')
RETURNS TABLE (key_id bigint, tenant text, name text, environment text,
               display_prefix text, expires_at timestamptz,
               last_used_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF within IS NULL THEN
        RAISE EXCEPTION 'within must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
    SELECT a.key_id, a.tenant, a.name, a.environment, a.display_prefix,
           a.expires_at, a.last_used_at
    FROM rbac.key_activity a
    WHERE a.live AND a.expires_at <= now() + within
    ORDER BY a.expires_at, a.key_id;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.rbac_unused_keys(interval),
                       @extschema@.rbac_expiring_keys(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rbac_unused_keys(interval),
                          @extschema@.rbac_expiring_keys(interval) TO rbac_admin;
