/* qilin_rbac 1.0: role-based access control inside PostgreSQL */

\echo Use "CREATE EXTENSION qilin_rbac" to load this file. \quit

-- The administrative role.  Roles are cluster-wide, so it may already exist
-- (from another database, or from an earlier install).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rbac_admin') THEN
        CREATE ROLE rbac_admin NOLOGIN;
    END IF;
END
$$;

------------------------------------------------------------------------------
-- The rbac_permission type
------------------------------------------------------------------------------

CREATE TYPE @extschema@.rbac_permission;

CREATE FUNCTION @extschema@.rbac_permission_in(cstring) RETURNS @extschema@.rbac_permission
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.rbac_permission_out(@extschema@.rbac_permission) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.rbac_permission_recv(internal) RETURNS @extschema@.rbac_permission
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.rbac_permission_send(@extschema@.rbac_permission) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.rbac_permission (
    INPUT = @extschema@.rbac_permission_in,
    OUTPUT = @extschema@.rbac_permission_out,
    RECEIVE = @extschema@.rbac_permission_recv,
    SEND = @extschema@.rbac_permission_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = main,
    CATEGORY = 'S'
);
COMMENT ON TYPE @extschema@.rbac_permission IS
    'resource.action, or a pattern: resource.*, *.action, *';

-- text converts implicitly so ARRAY['pipeline.read'] and text columns work
-- as arguments; the other way needs an explicit cast.
CREATE CAST (text AS @extschema@.rbac_permission) WITH INOUT AS IMPLICIT;
CREATE CAST (varchar AS @extschema@.rbac_permission) WITH INOUT AS IMPLICIT;
CREATE CAST (@extschema@.rbac_permission AS text) WITH INOUT AS ASSIGNMENT;

CREATE FUNCTION @extschema@.rbac_permission_eq(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_ne(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_lt(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_le(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_gt(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_ge(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_cmp(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_hash(@extschema@.rbac_permission) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.rbac_permission_covers(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.rbac_permission_covered_by(@extschema@.rbac_permission, @extschema@.rbac_permission) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_eq, COMMUTATOR = OPERATOR(@extschema@.=),
    NEGATOR = OPERATOR(@extschema@.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
    HASHES, MERGES);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_ne, COMMUTATOR = OPERATOR(@extschema@.<>),
    NEGATOR = OPERATOR(@extschema@.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_lt, COMMUTATOR = OPERATOR(@extschema@.>),
    NEGATOR = OPERATOR(@extschema@.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_le, COMMUTATOR = OPERATOR(@extschema@.>=),
    NEGATOR = OPERATOR(@extschema@.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_gt, COMMUTATOR = OPERATOR(@extschema@.<),
    NEGATOR = OPERATOR(@extschema@.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_ge, COMMUTATOR = OPERATOR(@extschema@.<=),
    NEGATOR = OPERATOR(@extschema@.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR @extschema@.@> (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_covers, COMMUTATOR = OPERATOR(@extschema@.<@),
    RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.<@ (
    LEFTARG = @extschema@.rbac_permission, RIGHTARG = @extschema@.rbac_permission,
    PROCEDURE = @extschema@.rbac_permission_covered_by, COMMUTATOR = OPERATOR(@extschema@.@>),
    RESTRICT = contsel, JOIN = contjoinsel);

CREATE OPERATOR CLASS @extschema@.rbac_permission_btree_ops
    DEFAULT FOR TYPE @extschema@.rbac_permission USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.rbac_permission_cmp(@extschema@.rbac_permission, @extschema@.rbac_permission);

CREATE OPERATOR CLASS @extschema@.rbac_permission_hash_ops
    DEFAULT FOR TYPE @extschema@.rbac_permission USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.rbac_permission_hash(@extschema@.rbac_permission);

------------------------------------------------------------------------------
-- Tables, in a schema of their own that application roles cannot use
------------------------------------------------------------------------------

CREATE SCHEMA rbac;
REVOKE ALL ON SCHEMA rbac FROM PUBLIC;
GRANT USAGE ON SCHEMA rbac TO rbac_admin;

CREATE TABLE rbac.resources (
    name        text PRIMARY KEY
                CHECK (name ~ '^[a-z][a-z0-9_]*$' AND octet_length(name) <= 63),
    builtin     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rbac.actions (
    resource    text NOT NULL REFERENCES rbac.resources (name) ON DELETE CASCADE,
    action      text NOT NULL
                CHECK (action ~ '^[a-z][a-z0-9_]*$' AND octet_length(action) <= 63),
    builtin     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (resource, action)
);

CREATE SEQUENCE rbac.tenants_id_seq;
CREATE TABLE rbac.tenants (
    id          bigint PRIMARY KEY DEFAULT nextval('rbac.tenants_id_seq'),
    name        text NOT NULL UNIQUE CHECK (name <> '' AND octet_length(name) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE rbac.tenants_id_seq OWNED BY rbac.tenants.id;

CREATE SEQUENCE rbac.principals_id_seq;
CREATE TABLE rbac.principals (
    id          bigint PRIMARY KEY DEFAULT nextval('rbac.principals_id_seq'),
    name        text NOT NULL UNIQUE CHECK (name <> '' AND octet_length(name) <= 200),
    kind        text NOT NULL CHECK (kind IN ('user', 'group', 'service', 'api_key')),
    pg_role     name UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE rbac.principals_id_seq OWNED BY rbac.principals.id;

CREATE TABLE rbac.group_members (
    group_id    bigint NOT NULL REFERENCES rbac.principals (id) ON DELETE CASCADE,
    member_id   bigint NOT NULL REFERENCES rbac.principals (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id),
    CHECK (group_id <> member_id)
);
CREATE INDEX ON rbac.group_members (member_id);

CREATE SEQUENCE rbac.roles_id_seq;
CREATE TABLE rbac.roles (
    id          bigint PRIMARY KEY DEFAULT nextval('rbac.roles_id_seq'),
    name        text NOT NULL CHECK (name <> '' AND octet_length(name) <= 200),
    tenant_id   bigint REFERENCES rbac.tenants (id) ON DELETE CASCADE,  -- NULL: template
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (tenant_id, name)
);

ALTER SEQUENCE rbac.roles_id_seq OWNED BY rbac.roles.id;

CREATE TABLE rbac.role_permissions (
    role_id     bigint NOT NULL REFERENCES rbac.roles (id) ON DELETE CASCADE,
    permission  @extschema@.rbac_permission NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE SEQUENCE rbac.assignments_id_seq;
CREATE TABLE rbac.assignments (
    id          bigint PRIMARY KEY DEFAULT nextval('rbac.assignments_id_seq'),
    principal_id bigint NOT NULL REFERENCES rbac.principals (id) ON DELETE CASCADE,
    role_id     bigint NOT NULL REFERENCES rbac.roles (id) ON DELETE CASCADE,
    tenant_id   bigint NOT NULL REFERENCES rbac.tenants (id) ON DELETE CASCADE,
    environment text CHECK (environment ~ '^[a-z][a-z0-9]{0,15}$'),
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (principal_id, role_id, tenant_id, environment)
);
ALTER SEQUENCE rbac.assignments_id_seq OWNED BY rbac.assignments.id;
CREATE INDEX ON rbac.assignments (role_id);
CREATE INDEX ON rbac.assignments (tenant_id);

-- Every key is a principal of its own (kind api_key); its id is the key id.
CREATE TABLE rbac.api_keys (
    principal_id bigint PRIMARY KEY REFERENCES rbac.principals (id) ON DELETE CASCADE,
    tenant_id   bigint NOT NULL REFERENCES rbac.tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name <> '' AND octet_length(name) <= 200),
    environment text NOT NULL CHECK (environment ~ '^[a-z][a-z0-9]{0,15}$'),
    key_hash    bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    display_prefix text NOT NULL,
    description text,
    owner_id    bigint REFERENCES rbac.principals (id) ON DELETE CASCADE,
    expires_at  timestamptz,
    revoked_at  timestamptz,    -- may lie in the future: the end of a rotation's grace
    revoke_reason text,
    rotated_from bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON rbac.api_keys (tenant_id);
CREATE INDEX ON rbac.api_keys (owner_id);

CREATE TABLE rbac.audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal_id bigint,        -- the acting principal, if one was current
    db_role     name NOT NULL,  -- the acting database role
    action      text NOT NULL,
    tenant_id   bigint,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON rbac.audit_log (at);

-- pg_dump keeps the contents; built-in registrations are recreated by
-- CREATE EXTENSION and so are left out.
SELECT pg_catalog.pg_extension_config_dump('rbac.resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('rbac.actions', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('rbac.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.tenants_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.principals', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.principals_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.group_members', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.roles', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.roles_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.role_permissions', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.assignments', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.assignments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.audit_log_id_seq', '');

INSERT INTO rbac.resources (name, builtin)
SELECT r, true
FROM unnest(ARRAY['pipeline', 'channel', 'connector', 'credential', 'dataflowtracking',
                  'queue', 'product', 'order', 'offer', 'billing', 'user', 'role',
                  'apikey']) AS r;
INSERT INTO rbac.actions (resource, action, builtin)
SELECT r.name, a, true
FROM rbac.resources r, unnest(ARRAY['create', 'read', 'update', 'delete']) AS a;

------------------------------------------------------------------------------
-- Cache invalidation: any change to these tables marks every backend's
-- authorization cache stale (and replays on standbys).
------------------------------------------------------------------------------

CREATE FUNCTION rbac._invalidate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rbac_invalidate_trigger' LANGUAGE C;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['resources', 'actions', 'tenants', 'principals',
                             'group_members', 'roles', 'role_permissions',
                             'assignments', 'api_keys']
    LOOP
        EXECUTE format('CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE '
                       'ON rbac.%I FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate()', t);
        EXECUTE format('CREATE TRIGGER invalidate_cache_truncate AFTER TRUNCATE '
                       'ON rbac.%I FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate()', t);
    END LOOP;
END
$$;

-- The audit log is append-only, even for its owner (superusers may still
-- disable the trigger deliberately).
CREATE FUNCTION rbac._audit_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'rbac.audit_log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Audit rows cannot be updated or deleted.';
END
$$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON rbac.audit_log
    FOR EACH ROW EXECUTE FUNCTION rbac._audit_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON rbac.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._audit_append_only();

------------------------------------------------------------------------------
-- Session and checks (C)
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.rbac_authenticate(api_key text, local boolean DEFAULT true)
    RETURNS bigint AS 'MODULE_PATHNAME', 'rbac_authenticate'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.rbac_set_principal(principal text, local boolean DEFAULT true)
    RETURNS bigint AS 'MODULE_PATHNAME', 'rbac_set_principal'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.rbac_reset() RETURNS void
    AS 'MODULE_PATHNAME', 'rbac_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.rbac_current_principal() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rbac_current_principal' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.rbac_current_tenant() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rbac_current_tenant' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.rbac_current_environment() RETURNS text
    AS 'MODULE_PATHNAME', 'rbac_current_environment' LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.rbac_verify_key(api_key text,
    OUT valid boolean, OUT status text, OUT key_id bigint, OUT tenant_id bigint,
    OUT environment text, OUT expires_at timestamptz)
    RETURNS record AS 'MODULE_PATHNAME', 'rbac_verify_key'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Not STRICT: a NULL tenant or permission denies (false) rather than
-- yielding NULL.
-- The planner support function estimates the check's selectivity and lets
-- an index on tenant_id serve a policy (see src/support.c).
CREATE FUNCTION rbac._has_permission_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rbac_has_permission_support' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.rbac_has_permission(tenant_id bigint, permission @extschema@.rbac_permission)
    RETURNS boolean AS 'MODULE_PATHNAME', 'rbac_has_permission_tenant'
    LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT rbac._has_permission_support;
-- The tenants in which the current principal holds a permission; what an
-- index scan under a policy looks up.
CREATE FUNCTION @extschema@.rbac_permitted_tenants(permission @extschema@.rbac_permission)
    RETURNS bigint[] AS 'MODULE_PATHNAME', 'rbac_permitted_tenants_sql'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.rbac_has_permission(permission @extschema@.rbac_permission)
    RETURNS boolean AS 'MODULE_PATHNAME', 'rbac_has_permission_current'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.rbac_require(tenant_id bigint, permission @extschema@.rbac_permission)
    RETURNS void AS 'MODULE_PATHNAME', 'rbac_require'
    LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.rbac_cache_stats(OUT hits bigint, OUT misses bigint,
    OUT rebuilds bigint, OUT invalidations bigint, OUT tenants bigint, OUT bytes bigint)
    RETURNS record AS 'MODULE_PATHNAME', 'rbac_cache_stats_sql'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION rbac._caller_role() RETURNS name
    AS 'MODULE_PATHNAME', 'rbac_caller_role' LANGUAGE C STABLE;
CREATE FUNCTION rbac._generate_key(environment text,
    OUT api_key text, OUT key_hash bytea, OUT display_prefix text)
    RETURNS record AS 'MODULE_PATHNAME', 'rbac_generate_key' LANGUAGE C VOLATILE;

------------------------------------------------------------------------------
-- Resolution of effective permissions for the administrative reports.
-- The C cache resolves the same rules itself (src/cache.c) and reads role
-- rules through rbac._role_rules; test 35_checker_agrees keeps the two in
-- agreement.
------------------------------------------------------------------------------

-- Every registered concrete permission.
CREATE FUNCTION rbac._catalog() RETURNS SETOF @extschema@.rbac_permission
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (a.resource || '.' || a.action)::@extschema@.rbac_permission
    FROM rbac.actions a
$$;

-- The rules of roles as the C cache reads them: for each role asked for,
-- the patterns it allows or denies, those of the roles it includes among
-- them.  In 1.0 a role is just its own grants.
CREATE FUNCTION rbac._role_rules(p_roles bigint[])
RETURNS TABLE (role_id bigint, permission @extschema@.rbac_permission, deny boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT rp.role_id, rp.permission, false
    FROM rbac.role_permissions rp
    WHERE rp.role_id = ANY (p_roles)
$$;

-- The principal and every group it belongs to, transitively.
CREATE FUNCTION rbac._holders(p_principal bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE h(id) AS (
        SELECT p_principal
        UNION
        SELECT gm.group_id FROM rbac.group_members gm JOIN h ON gm.member_id = h.id
    )
    SELECT id FROM h
$$;

-- Concrete permissions held per tenant from live assignments, before any
-- key rules: (tenant_id, permission, role_id, holder_id).
CREATE FUNCTION rbac._granted(p_principal bigint, p_env text, p_at timestamptz,
                              p_tenant bigint)
RETURNS TABLE (tenant_id bigint, permission @extschema@.rbac_permission,
               role_id bigint, holder_id bigint, pattern @extschema@.rbac_permission,
               environment text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.tenant_id, c.perm, a.role_id, a.principal_id, rp.permission, a.environment
    FROM rbac._holders(p_principal) h(id)
    JOIN rbac.assignments a ON a.principal_id = h.id
    JOIN rbac.role_permissions rp ON rp.role_id = a.role_id
    JOIN rbac._catalog() c(perm) ON rp.permission OPERATOR(@extschema@.@>) c.perm
    WHERE (a.environment IS NULL OR a.environment = p_env)
      AND (a.expires_at IS NULL OR a.expires_at > p_at)
      AND (p_tenant IS NULL OR a.tenant_id = p_tenant)
$$;

-- Effective permissions of a principal at a moment, in one tenant or all:
-- for an API key only in its own tenant, only while it is live, and never
-- beyond what its owner holds there.
CREATE FUNCTION rbac._effective(p_principal bigint, p_env text, p_at timestamptz,
                                p_tenant bigint DEFAULT NULL)
RETURNS TABLE (tenant_id bigint, permission @extschema@.rbac_permission)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    k rbac.api_keys;
BEGIN
    SELECT * INTO k FROM rbac.api_keys WHERE principal_id = p_principal;
    IF FOUND THEN
        IF (k.revoked_at IS NOT NULL AND k.revoked_at <= p_at)
           OR (k.expires_at IS NOT NULL AND k.expires_at <= p_at)
           OR (p_tenant IS NOT NULL AND p_tenant <> k.tenant_id) THEN
            RETURN;
        END IF;
        p_tenant := k.tenant_id;
    END IF;

    RETURN QUERY
        SELECT DISTINCT g.tenant_id, g.permission
        FROM rbac._granted(p_principal, p_env, p_at, p_tenant) g
        WHERE k.owner_id IS NULL
           OR EXISTS (SELECT 1
                      FROM rbac._effective(k.owner_id, p_env, p_at, k.tenant_id) o
                      WHERE o.permission OPERATOR(@extschema@.=) g.permission);
END
$$;

------------------------------------------------------------------------------
-- Helpers for the administrative functions
------------------------------------------------------------------------------

CREATE FUNCTION rbac._audit(p_action text, p_tenant bigint, p_target text,
                            p_details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO rbac.audit_log (principal_id, db_role, action, tenant_id, target, details)
    VALUES (@extschema@.rbac_current_principal(), rbac._caller_role(), p_action, p_tenant,
            p_target, coalesce(p_details, '{}'))
$$;

-- A required text argument: 22004 when NULL, 22023 when empty or too long.
CREATE FUNCTION rbac._required(p_value text, p_what text, p_maxlen int DEFAULT 200)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', p_what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_value = '' THEN
        RAISE EXCEPTION '% must not be empty', p_what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_value ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION '% must not contain control characters', p_what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(p_value) > p_maxlen THEN
        RAISE EXCEPTION '% is too long', p_what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('At most %s bytes are allowed; %s were given.',
                                  p_maxlen, octet_length(p_value));
    END IF;
    RETURN p_value;
END
$$;

-- Quote a name for a message, bounded so hostile input cannot flood logs.
CREATE FUNCTION rbac._shown(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN length(p_value) > 64 THEN left(p_value, 64) || '...' ELSE p_value END
$$;

CREATE FUNCTION rbac._environment(p_env text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rbac._required(p_env, 'environment', 16);
    IF p_env !~ '^[a-z][a-z0-9]{0,15}$' THEN
        RAISE EXCEPTION 'invalid environment "%"', rbac._shown(p_env)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An environment matches [a-z][a-z0-9]{0,15}, for example production.';
    END IF;
    RETURN p_env;
END
$$;

CREATE FUNCTION rbac._tenant(p_name text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM rbac._required(p_name, 'tenant');
    SELECT id INTO v_id FROM rbac.tenants WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', rbac._shown(p_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v_id;
END
$$;

CREATE FUNCTION rbac._principal(p_name text) RETURNS rbac.principals
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v rbac.principals;
BEGIN
    PERFORM rbac._required(p_name, 'principal');
    SELECT * INTO v FROM rbac.principals WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'principal "%" does not exist', rbac._shown(p_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v;
END
$$;

-- A role by name as seen from a tenant: the tenant's own role shadows a
-- template of the same name.  p_tenant NULL means templates only.
CREATE FUNCTION rbac._role(p_name text, p_tenant bigint) RETURNS rbac.roles
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v rbac.roles;
BEGIN
    PERFORM rbac._required(p_name, 'role');
    SELECT * INTO v FROM rbac.roles
    WHERE name = p_name AND (tenant_id = p_tenant OR tenant_id IS NULL)
    ORDER BY tenant_id NULLS LAST
    LIMIT 1;
    IF NOT FOUND THEN
        IF p_tenant IS NULL THEN
            RAISE EXCEPTION 'template role "%" does not exist', rbac._shown(p_name)
                USING ERRCODE = 'undefined_object';
        END IF;
        RAISE EXCEPTION 'role "%" does not exist in tenant "%" nor as a template',
            rbac._shown(p_name), (SELECT t.name FROM rbac.tenants t WHERE t.id = p_tenant)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v;
END
$$;

-- A permission (or pattern) that may be granted: every name in it must be
-- registered.
CREATE FUNCTION rbac._check_permission(p_perm @extschema@.rbac_permission)
RETURNS @extschema@.rbac_permission
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_text text := p_perm::text;
    v_res text;
    v_act text;
BEGIN
    IF p_perm IS NULL THEN
        RAISE EXCEPTION 'permission must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v_text = '*' THEN
        RETURN p_perm;
    END IF;
    v_res := split_part(v_text, '.', 1);
    v_act := split_part(v_text, '.', 2);
    IF v_res <> '*' AND NOT EXISTS (SELECT 1 FROM rbac.resources WHERE name = v_res) THEN
        RAISE EXCEPTION 'unknown resource "%" in permission "%"', v_res, v_text
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Register it first with rbac_register_resource().';
    END IF;
    IF v_act <> '*' AND NOT EXISTS (SELECT 1 FROM rbac.actions
                                    WHERE action = v_act AND (v_res = '*' OR resource = v_res)) THEN
        RAISE EXCEPTION 'unknown action "%" in permission "%"', v_act, v_text
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN v_res = '*' THEN 'No resource has this action.'
                                ELSE format('Resource "%s" has no such action.', v_res) END;
    END IF;
    RETURN p_perm;
END
$$;

------------------------------------------------------------------------------
-- Administration
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.rbac_register_resource(name text,
    actions text[] DEFAULT '{create,read,update,delete}')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_action text;
BEGIN
    PERFORM rbac._required(name, 'resource name', 63);
    IF name !~ '^[a-z][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'invalid resource name "%"', rbac._shown(name)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A resource name matches [a-z][a-z0-9_]* and is at most 63 bytes.';
    END IF;
    IF actions IS NULL THEN
        RAISE EXCEPTION 'actions must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(actions) = 0 THEN
        RAISE EXCEPTION 'a resource needs at least one action' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH v_action IN ARRAY actions LOOP
        PERFORM rbac._required(v_action, 'action name', 63);
        IF v_action !~ '^[a-z][a-z0-9_]*$' THEN
            RAISE EXCEPTION 'invalid action name "%"', rbac._shown(v_action)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An action name matches [a-z][a-z0-9_]* and is at most 63 bytes.';
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM rbac.resources r WHERE r.name = rbac_register_resource.name) THEN
        RAISE EXCEPTION 'resource "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO rbac.resources (name) VALUES (rbac_register_resource.name);
    INSERT INTO rbac.actions (resource, action)
        SELECT DISTINCT rbac_register_resource.name, a FROM unnest(actions) a;
    PERFORM rbac._audit('register_resource', NULL, name,
                        jsonb_build_object('actions', to_jsonb(actions)));
END
$$;

CREATE FUNCTION @extschema@.rbac_create_tenant(name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM rbac._required(name, 'tenant name');
    INSERT INTO rbac.tenants (name) VALUES (rbac_create_tenant.name)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'tenant "%" already exists', rbac._shown(name)
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('create_tenant', v_id, name);
    RETURN v_id;
END
$$;

CREATE FUNCTION @extschema@.rbac_tenant_id(name text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.id FROM rbac.tenants t WHERE t.name = rbac_tenant_id.name
$$;

CREATE FUNCTION @extschema@.rbac_create_principal(name text, kind text DEFAULT 'user',
                                                  pg_role name DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM rbac._required(name, 'principal name');
    PERFORM rbac._required(kind, 'kind');
    IF kind NOT IN ('user', 'group', 'service') THEN
        RAISE EXCEPTION 'invalid principal kind "%"', rbac._shown(kind)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A principal is a user, a group or a service; API keys are made with rbac_issue_key().';
    END IF;
    IF pg_role IS NOT NULL THEN
        IF pg_role = '' THEN
            RAISE EXCEPTION 'pg_role must not be empty' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = pg_role) THEN
            RAISE EXCEPTION 'role "%" does not exist', pg_role USING ERRCODE = 'undefined_object';
        END IF;
        IF EXISTS (SELECT 1 FROM rbac.principals p WHERE p.pg_role = rbac_create_principal.pg_role) THEN
            RAISE EXCEPTION 'database role "%" is already mapped to a principal', pg_role
                USING ERRCODE = 'duplicate_object';
        END IF;
    END IF;
    INSERT INTO rbac.principals (name, kind, pg_role)
        VALUES (rbac_create_principal.name, rbac_create_principal.kind, rbac_create_principal.pg_role)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'principal "%" already exists', rbac._shown(name)
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('create_principal', NULL, name,
                        jsonb_build_object('kind', kind, 'pg_role', pg_role));
    RETURN v_id;
END
$$;

CREATE FUNCTION @extschema@.rbac_add_member(group_name text, member_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g rbac.principals := rbac._principal(group_name);
    m rbac.principals := rbac._principal(member_name);
BEGIN
    IF g.kind <> 'group' THEN
        RAISE EXCEPTION 'principal "%" is not a group', rbac._shown(group_name)
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF m.kind = 'api_key' THEN
        RAISE EXCEPTION 'API keys cannot join groups'
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A key holds only the roles it was issued with.';
    END IF;
    -- serialize membership changes so two concurrent additions cannot
    -- close a cycle that neither sees
    LOCK TABLE rbac.group_members IN SHARE ROW EXCLUSIVE MODE;
    IF g.id = m.id OR m.id IN (SELECT rbac._holders(g.id)) THEN
        RAISE EXCEPTION 'adding "%" to "%" would make a cycle',
            rbac._shown(member_name), rbac._shown(group_name)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Groups may nest, but never contain themselves.';
    END IF;
    INSERT INTO rbac.group_members (group_id, member_id) VALUES (g.id, m.id)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" is already a member of "%"',
            rbac._shown(member_name), rbac._shown(group_name)
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('add_member', NULL, group_name,
                        jsonb_build_object('member', member_name));
END
$$;

CREATE FUNCTION @extschema@.rbac_remove_member(group_name text, member_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g rbac.principals := rbac._principal(group_name);
    m rbac.principals := rbac._principal(member_name);
BEGIN
    DELETE FROM rbac.group_members WHERE group_id = g.id AND member_id = m.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" is not a member of "%"',
            rbac._shown(member_name), rbac._shown(group_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM rbac._audit('remove_member', NULL, group_name,
                        jsonb_build_object('member', member_name));
END
$$;

CREATE FUNCTION @extschema@.rbac_create_role(name text, permissions @extschema@.rbac_permission[],
                                             tenant text DEFAULT NULL,
                                             description text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_tenant bigint;
    v_id bigint;
    v_perm @extschema@.rbac_permission;
BEGIN
    PERFORM rbac._required(name, 'role name');
    IF permissions IS NULL THEN
        RAISE EXCEPTION 'permissions must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an empty array for a role without permissions.';
    END IF;
    IF tenant IS NOT NULL THEN
        v_tenant := rbac._tenant(tenant);
    END IF;
    FOREACH v_perm IN ARRAY permissions LOOP
        PERFORM rbac._check_permission(v_perm);
    END LOOP;
    INSERT INTO rbac.roles (name, tenant_id, description)
        VALUES (rbac_create_role.name, v_tenant, rbac_create_role.description)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RAISE EXCEPTION '% "%" already exists',
            CASE WHEN v_tenant IS NULL THEN 'template role' ELSE 'role' END, rbac._shown(name)
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO rbac.role_permissions (role_id, permission)
        SELECT DISTINCT v_id, p FROM unnest(permissions) p;
    PERFORM rbac._audit('create_role', v_tenant, name,
                        jsonb_build_object('permissions', to_jsonb(permissions::text[]),
                                           'template', v_tenant IS NULL));
    RETURN v_id;
END
$$;

-- The role addressed by (name, tenant) in the administration functions: a
-- tenant role when tenant is given, else a template.  No shadowing here:
-- changing a role must say exactly which one.
CREATE FUNCTION rbac._role_exact(p_name text, p_tenant text) RETURNS rbac.roles
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v rbac.roles;
    v_tenant bigint;
BEGIN
    PERFORM rbac._required(p_name, 'role');
    IF p_tenant IS NOT NULL THEN
        v_tenant := rbac._tenant(p_tenant);
    END IF;
    SELECT * INTO v FROM rbac.roles r
    WHERE r.name = p_name AND r.tenant_id IS NOT DISTINCT FROM v_tenant;
    IF NOT FOUND THEN
        IF v_tenant IS NULL THEN
            RAISE EXCEPTION 'template role "%" does not exist', rbac._shown(p_name)
                USING ERRCODE = 'undefined_object';
        END IF;
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', rbac._shown(p_name), rbac._shown(p_tenant)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v;
END
$$;

CREATE FUNCTION @extschema@.rbac_grant_permission(role text, permission @extschema@.rbac_permission,
                                                  tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r rbac.roles := rbac._role_exact(role, tenant);
BEGIN
    PERFORM rbac._check_permission(permission);
    INSERT INTO rbac.role_permissions (role_id, permission) VALUES (r.id, permission)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" already grants "%"', rbac._shown(role), permission
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('grant_permission', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

CREATE FUNCTION @extschema@.rbac_revoke_permission(role text, permission @extschema@.rbac_permission,
                                                   tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r rbac.roles := rbac._role_exact(role, tenant);
BEGIN
    IF permission IS NULL THEN
        RAISE EXCEPTION 'permission must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM rbac.role_permissions rp
        WHERE rp.role_id = r.id AND rp.permission OPERATOR(@extschema@.=) rbac_revoke_permission.permission;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not grant "%"', rbac._shown(role), permission
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM rbac._audit('revoke_permission', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

CREATE FUNCTION @extschema@.rbac_drop_role(role text, tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r rbac.roles := rbac._role_exact(role, tenant);
    v_assignments bigint;
BEGIN
    SELECT count(*) INTO v_assignments FROM rbac.assignments WHERE role_id = r.id;
    DELETE FROM rbac.roles WHERE id = r.id;
    PERFORM rbac._audit('drop_role', r.tenant_id, role,
                        jsonb_build_object('assignments_removed', v_assignments));
END
$$;

CREATE FUNCTION @extschema@.rbac_assign_role(principal text, role text, tenant text,
                                             environment text DEFAULT NULL,
                                             expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p rbac.principals := rbac._principal(principal);
    v_tenant bigint := rbac._tenant(tenant);
    r rbac.roles := rbac._role(role, v_tenant);
BEGIN
    IF environment IS NOT NULL THEN
        PERFORM rbac._environment(environment);
    END IF;
    IF p.kind = 'api_key' THEN
        RAISE EXCEPTION 'roles cannot be assigned to an API key after it is issued'
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Issue a new key with the roles it needs, or rotate it.';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'expires_at lies in the past' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment, expires_at)
        VALUES (p.id, r.id, v_tenant, rbac_assign_role.environment, rbac_assign_role.expires_at)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" already has role "%" in tenant "%"%',
            rbac._shown(principal), rbac._shown(role), rbac._shown(tenant),
            CASE WHEN environment IS NULL THEN '' ELSE format(' for environment "%s"', environment) END
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('assign_role', v_tenant, principal,
                        jsonb_build_object('role', role, 'template', r.tenant_id IS NULL,
                                           'environment', environment, 'expires_at', expires_at));
END
$$;

CREATE FUNCTION @extschema@.rbac_unassign_role(principal text, role text, tenant text,
                                               environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p rbac.principals := rbac._principal(principal);
    v_tenant bigint := rbac._tenant(tenant);
    r rbac.roles := rbac._role(role, v_tenant);
BEGIN
    IF environment IS NOT NULL THEN
        PERFORM rbac._environment(environment);
    END IF;
    DELETE FROM rbac.assignments a
        WHERE a.principal_id = p.id AND a.role_id = r.id AND a.tenant_id = v_tenant
          AND a.environment IS NOT DISTINCT FROM rbac_unassign_role.environment;
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" does not have role "%" in tenant "%"%',
            rbac._shown(principal), rbac._shown(role), rbac._shown(tenant),
            CASE WHEN environment IS NULL THEN '' ELSE format(' for environment "%s"', environment) END
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM rbac._audit('unassign_role', v_tenant, principal,
                        jsonb_build_object('role', role, 'environment', environment));
END
$$;

------------------------------------------------------------------------------
-- API keys
------------------------------------------------------------------------------

-- Make one key principal with its assignments; shared by issue and rotate.
CREATE FUNCTION rbac._make_key(p_tenant bigint, p_name text, p_roles bigint[],
                               p_env text, p_expires timestamptz, p_description text,
                               p_owner bigint, p_rotated_from bigint,
                               OUT key_id bigint, OUT api_key text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
BEGIN
    g := rbac._generate_key(p_env);
    key_id := nextval('rbac.principals_id_seq');
    INSERT INTO rbac.principals (id, name, kind) VALUES (key_id, 'apikey:' || key_id, 'api_key');
    INSERT INTO rbac.api_keys (principal_id, tenant_id, name, environment, key_hash,
                               display_prefix, description, owner_id, expires_at, rotated_from)
        VALUES (key_id, p_tenant, p_name, p_env, g.key_hash, g.display_prefix,
                p_description, p_owner, p_expires, p_rotated_from);
    -- the key's roles apply only in its own tenant and environment
    INSERT INTO rbac.assignments (principal_id, role_id, tenant_id, environment)
        SELECT key_id, r, p_tenant, p_env FROM unnest(p_roles) r;
    api_key := g.api_key;
END
$$;

CREATE FUNCTION @extschema@.rbac_issue_key(tenant text, name text, roles text[],
                                           environment text DEFAULT 'production',
                                           expires_at timestamptz DEFAULT NULL,
                                           description text DEFAULT NULL,
                                           owner text DEFAULT NULL)
RETURNS TABLE (key_id bigint, api_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_tenant bigint := rbac._tenant(tenant);
    v_role text;
    v_role_ids bigint[] := '{}';
    v_owner rbac.principals;
BEGIN
    PERFORM rbac._required(name, 'key name');
    PERFORM rbac._environment(environment);
    IF roles IS NULL THEN
        RAISE EXCEPTION 'roles must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(roles) = 0 THEN
        RAISE EXCEPTION 'a key needs at least one role'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A key without roles could do nothing.';
    END IF;
    FOREACH v_role IN ARRAY roles LOOP
        v_role_ids := v_role_ids || (rbac._role(v_role, v_tenant)).id;
    END LOOP;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'expires_at lies in the past' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner IS NOT NULL THEN
        v_owner := rbac._principal(owner);
        IF v_owner.kind = 'api_key' THEN
            RAISE EXCEPTION 'an API key cannot own another key' USING ERRCODE = 'wrong_object_type';
        END IF;
    END IF;
    SELECT m.key_id, m.api_key INTO key_id, api_key
    FROM rbac._make_key(v_tenant, name, ARRAY(SELECT DISTINCT unnest(v_role_ids)),
                        environment, expires_at, description, v_owner.id, NULL) m;
    PERFORM rbac._audit('issue_key', v_tenant, name,
                        jsonb_build_object('key_id', key_id, 'roles', to_jsonb(roles),
                                           'environment', environment, 'owner', owner,
                                           'expires_at', expires_at));
    RETURN NEXT;
END
$$;

CREATE FUNCTION @extschema@.rbac_revoke_key(key_id bigint, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k rbac.api_keys;
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO k FROM rbac.api_keys WHERE principal_id = key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'API key % does not exist', key_id USING ERRCODE = 'undefined_object';
    END IF;
    IF k.revoked_at IS NOT NULL AND k.revoked_at <= now() THEN
        RAISE EXCEPTION 'API key % is already revoked', key_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE rbac.api_keys SET revoked_at = now(), revoke_reason = reason
        WHERE principal_id = key_id;
    PERFORM rbac._audit('revoke_key', k.tenant_id, k.name,
                        jsonb_build_object('key_id', key_id, 'reason', reason));
END
$$;

CREATE FUNCTION rbac._rotate_key(v_old bigint, grace interval,
                                  OUT key_id bigint, OUT api_key text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k rbac.api_keys;
    v_roles bigint[];
BEGIN
    IF v_old IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF grace IS NULL THEN
        RAISE EXCEPTION 'grace must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF grace < '0'::interval THEN
        RAISE EXCEPTION 'grace must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO k FROM rbac.api_keys ak WHERE ak.principal_id = v_old FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'API key % does not exist', v_old USING ERRCODE = 'undefined_object';
    END IF;
    IF (k.revoked_at IS NOT NULL AND k.revoked_at <= now())
       OR (k.expires_at IS NOT NULL AND k.expires_at <= now()) THEN
        RAISE EXCEPTION 'API key % is no longer valid and cannot be rotated', v_old
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Issue a new key instead.';
    END IF;
    SELECT array_agg(a.role_id ORDER BY a.role_id) INTO v_roles
        FROM rbac.assignments a WHERE a.principal_id = v_old;
    SELECT m.key_id, m.api_key INTO key_id, api_key
    FROM rbac._make_key(k.tenant_id, k.name, coalesce(v_roles, '{}'), k.environment,
                        k.expires_at, k.description, k.owner_id, v_old) m;
    UPDATE rbac.api_keys
        SET revoked_at = least(coalesce(revoked_at, 'infinity'), now() + grace),
            revoke_reason = format('rotated to key %s', key_id)
        WHERE principal_id = v_old;
    PERFORM rbac._audit('rotate_key', k.tenant_id, k.name,
                        jsonb_build_object('old_key_id', v_old, 'new_key_id', key_id,
                                           'grace_seconds', extract(epoch FROM grace)));
END
$$;

-- A wrapper, since plpgsql cannot name an input and an output parameter
-- alike, and the contract names both key_id.
CREATE FUNCTION @extschema@.rbac_rotate_key(key_id bigint, grace interval DEFAULT '0')
RETURNS TABLE (key_id bigint, api_key text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key_id, r.api_key FROM rbac._rotate_key($1, $2) r
$$;

------------------------------------------------------------------------------
-- Reports
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.rbac_has_permission(principal text, tenant_id bigint,
                                                permission @extschema@.rbac_permission)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p rbac.principals := rbac._principal(principal);
    v_wanted @extschema@.rbac_permission[];
BEGIN
    IF tenant_id IS NULL OR permission IS NULL THEN
        RETURN false;
    END IF;
    PERFORM rbac._check_permission(permission);
    v_wanted := ARRAY(SELECT c FROM rbac._catalog() c
                      WHERE permission OPERATOR(@extschema@.@>) c);
    RETURN cardinality(v_wanted) > 0 AND NOT EXISTS (
        SELECT unnest(v_wanted)
        EXCEPT
        SELECT e.permission
        FROM rbac._effective(p.id, rbac._env_of(p.id), statement_timestamp(),
                             rbac_has_permission.tenant_id) e);
END
$$;

-- The environment checks about a principal are made in: a key's own, else
-- the current one.
CREATE FUNCTION rbac._env_of(p_principal bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT environment FROM rbac.api_keys WHERE principal_id = p_principal),
                    @extschema@.rbac_current_environment())
$$;

CREATE FUNCTION @extschema@.rbac_effective_permissions(principal text, tenant text)
RETURNS SETOF @extschema@.rbac_permission
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p rbac.principals := rbac._principal(principal);
    v_tenant bigint := rbac._tenant(tenant);
BEGIN
    RETURN QUERY
        SELECT e.permission
        FROM rbac._effective(p.id, rbac._env_of(p.id), statement_timestamp(), v_tenant) e
        ORDER BY e.permission::text COLLATE "C";
END
$$;

CREATE FUNCTION @extschema@.rbac_explain(principal text, tenant text,
                                         permission @extschema@.rbac_permission)
RETURNS TABLE (granted boolean, via_role text, via_principal text, environment text,
               reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p rbac.principals := rbac._principal(principal);
    v_tenant bigint := rbac._tenant(tenant);
    v_env text := rbac._env_of(p.id);
    v_at timestamptz := statement_timestamp();
    k rbac.api_keys;
    v_owner_ok boolean := true;
    v_owner_name text;
    v_any boolean := false;
    r record;
BEGIN
    PERFORM rbac._check_permission(permission);
    SELECT * INTO k FROM rbac.api_keys WHERE principal_id = p.id;
    IF FOUND THEN
        IF k.revoked_at IS NOT NULL AND k.revoked_at <= v_at THEN
            RETURN QUERY SELECT false, NULL::text, principal, k.environment, 'the key is revoked';
            RETURN;
        END IF;
        IF k.expires_at IS NOT NULL AND k.expires_at <= v_at THEN
            RETURN QUERY SELECT false, NULL::text, principal, k.environment, 'the key has expired';
            RETURN;
        END IF;
        IF k.tenant_id <> v_tenant THEN
            RETURN QUERY SELECT false, NULL::text, principal, k.environment,
                'an API key acts only in its own tenant';
            RETURN;
        END IF;
        IF k.owner_id IS NOT NULL THEN
            SELECT name INTO v_owner_name FROM rbac.principals WHERE id = k.owner_id;
            v_owner_ok := NOT EXISTS (
                SELECT c FROM rbac._catalog() c WHERE permission OPERATOR(@extschema@.@>) c
                EXCEPT
                SELECT o.permission FROM rbac._effective(k.owner_id, v_env, v_at, v_tenant) o);
        END IF;
    END IF;

    FOR r IN
        SELECT ro.name AS role_name, hp.name AS holder_name, g.environment AS env,
               bool_and(x.held) AS covers
        FROM (SELECT DISTINCT g0.role_id, g0.holder_id, g0.environment
              FROM rbac._granted(p.id, v_env, v_at, v_tenant) g0) g
        JOIN rbac.roles ro ON ro.id = g.role_id
        JOIN rbac.principals hp ON hp.id = g.holder_id
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM rbac._granted(p.id, v_env, v_at, v_tenant) g1
                           WHERE g1.role_id = g.role_id AND g1.holder_id = g.holder_id
                             AND g1.permission OPERATOR(@extschema@.=) c) AS held
            FROM rbac._catalog() c WHERE permission OPERATOR(@extschema@.@>) c) x
        GROUP BY ro.name, hp.name, g.environment
        ORDER BY ro.name COLLATE "C", hp.name COLLATE "C"
    LOOP
        IF r.covers THEN
            v_any := true;
            granted := v_owner_ok;
            via_role := r.role_name;
            via_principal := r.holder_name;
            environment := r.env;
            reason := CASE
                WHEN NOT v_owner_ok THEN format('role "%s" grants it, but the key''s owner "%s" does not hold it',
                                                r.role_name, v_owner_name)
                WHEN r.holder_name = principal THEN format('granted by role "%s"', r.role_name)
                ELSE format('granted by role "%s" through group "%s"', r.role_name, r.holder_name)
            END;
            RETURN NEXT;
        END IF;
    END LOOP;
    IF NOT v_any THEN
        RETURN QUERY SELECT false, NULL::text, NULL::text, v_env,
            format('no live assignment in tenant "%s" grants "%s"', tenant, permission::text);
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rbac FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA rbac FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA rbac FROM PUBLIC;

-- Administrators read everything but change it only through the functions,
-- so every change is audited.  Key hashes stay unreadable.
GRANT SELECT ON rbac.resources, rbac.actions, rbac.tenants, rbac.principals,
                rbac.group_members, rbac.roles, rbac.role_permissions,
                rbac.assignments, rbac.audit_log TO rbac_admin;
GRANT SELECT (principal_id, tenant_id, name, environment, display_prefix, description,
              owner_id, expires_at, revoked_at, revoke_reason, rotated_from, created_at)
    ON rbac.api_keys TO rbac_admin;

DO $$
DECLARE
    f regprocedure;
    public_fns text[] := ARRAY['rbac_authenticate', 'rbac_verify_key', 'rbac_reset',
                               'rbac_current_principal', 'rbac_current_tenant',
                               'rbac_current_environment', 'rbac_require'];
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
             AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'qilin_rbac'
        WHERE p.pronamespace = '@extschema@'::regnamespace
          AND p.proname LIKE 'rbac\_%'
          AND p.proname NOT LIKE 'rbac\_permission\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO rbac_admin', f);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    @extschema@.rbac_authenticate(text, boolean),
    @extschema@.rbac_verify_key(text),
    @extschema@.rbac_reset(),
    @extschema@.rbac_current_principal(),
    @extschema@.rbac_current_tenant(),
    @extschema@.rbac_current_environment(),
    @extschema@.rbac_has_permission(bigint, @extschema@.rbac_permission),
    @extschema@.rbac_has_permission(@extschema@.rbac_permission),
    @extschema@.rbac_permitted_tenants(@extschema@.rbac_permission),
    @extschema@.rbac_require(bigint, @extschema@.rbac_permission)
TO PUBLIC;
