/* qilin_rbac 1.0 -> 1.1 */

\echo Use "ALTER EXTENSION qilin_rbac UPDATE TO '1.1'" to load this file. \quit

-- Delegation: self-service administration for authenticated principals,
-- deny rules, role composition and reports readable by tenants.
--
-- Who decides: a caller whose database role is a superuser or has the
-- privileges of rbac_admin takes the administrator path, unchanged from
-- 1.0.  Anyone else must be an authenticated principal (a key, a
-- principal set by a trusted role, or a login role mapped with pg_role)
-- holding the matching permission in the tenant it acts on, in the current
-- environment, and can put into keys, roles and assignments only what it
-- holds itself there.  Every refusal is 42501 and, since it is raised
-- before or after the change inside the same function, leaves nothing
-- behind.

-- Deny patterns of a role: a deny from any live assignment beats every
-- allow.  A table of its own so nothing that reads role_permissions as
-- grants can mistake a deny for an allow.
CREATE TABLE rbac.role_denies (
    role_id     bigint NOT NULL REFERENCES rbac.roles (id) ON DELETE CASCADE,
    permission  @extschema@.rbac_permission NOT NULL,
    PRIMARY KEY (role_id, permission)
);

-- Role composition: role_id grants (and denies) what included_id does.
CREATE TABLE rbac.role_includes (
    role_id     bigint NOT NULL REFERENCES rbac.roles (id) ON DELETE CASCADE,
    included_id bigint NOT NULL REFERENCES rbac.roles (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, included_id),
    CHECK (role_id <> included_id)
);
CREATE INDEX ON rbac.role_includes (included_id);

SELECT pg_catalog.pg_extension_config_dump('rbac.role_denies', '');
SELECT pg_catalog.pg_extension_config_dump('rbac.role_includes', '');

CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE ON rbac.role_denies
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate();
CREATE TRIGGER invalidate_cache_truncate AFTER TRUNCATE ON rbac.role_denies
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE ON rbac.role_includes
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate();
CREATE TRIGGER invalidate_cache_truncate AFTER TRUNCATE ON rbac.role_includes
    FOR EACH STATEMENT EXECUTE FUNCTION rbac._invalidate();

REVOKE ALL ON rbac.role_denies, rbac.role_includes FROM PUBLIC;
GRANT SELECT ON rbac.role_denies, rbac.role_includes TO rbac_admin;

------------------------------------------------------------------------------
-- Resolution with composition and denies
------------------------------------------------------------------------------

-- A role and every role it includes, transitively.
CREATE FUNCTION rbac._role_closure(p_role bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE down(id) AS (
        SELECT p_role
        UNION
        SELECT ri.included_id FROM rbac.role_includes ri JOIN down ON ri.role_id = down.id
    )
    SELECT id FROM down
$$;

-- The allow patterns a role grants, its included roles' among them.
CREATE FUNCTION rbac._role_patterns(p_role bigint) RETURNS @extschema@.rbac_permission[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY(SELECT DISTINCT rp.permission
                 FROM rbac._role_closure(p_role) c(id)
                 JOIN rbac.role_permissions rp ON rp.role_id = c.id)
$$;

-- What the C cache reads for a role: its allows and denies and those of
-- every role it includes, attributed to the role asked for.
CREATE OR REPLACE FUNCTION rbac._role_rules(p_roles bigint[])
RETURNS TABLE (role_id bigint, permission @extschema@.rbac_permission, deny boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE closure(root, id) AS (
        SELECT r, r FROM unnest(p_roles) r
        UNION
        SELECT c.root, ri.included_id
        FROM closure c JOIN rbac.role_includes ri ON ri.role_id = c.id
    )
    SELECT c.root, rp.permission, false
    FROM closure c JOIN rbac.role_permissions rp ON rp.role_id = c.id
    UNION ALL
    SELECT c.root, rd.permission, true
    FROM closure c JOIN rbac.role_denies rd ON rd.role_id = c.id
$$;

-- Live assignments with each role expanded to its closure; role_id stays
-- the assigned role, so reports name the assignment that grants.
CREATE OR REPLACE FUNCTION rbac._granted(p_principal bigint, p_env text, p_at timestamptz,
                                         p_tenant bigint)
RETURNS TABLE (tenant_id bigint, permission @extschema@.rbac_permission,
               role_id bigint, holder_id bigint, pattern @extschema@.rbac_permission,
               environment text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE live AS (
        SELECT a.id, a.tenant_id, a.role_id, a.principal_id, a.environment
        FROM rbac._holders(p_principal) h(id)
        JOIN rbac.assignments a ON a.principal_id = h.id
        WHERE (a.environment IS NULL OR a.environment = p_env)
          AND (a.expires_at IS NULL OR a.expires_at > p_at)
          AND (p_tenant IS NULL OR a.tenant_id = p_tenant)
    ), closure(assignment_id, role_id) AS (
        SELECT l.id, l.role_id FROM live l
        UNION
        SELECT c.assignment_id, ri.included_id
        FROM closure c JOIN rbac.role_includes ri ON ri.role_id = c.role_id
    )
    SELECT l.tenant_id, c.perm, l.role_id, l.principal_id, rp.permission, l.environment
    FROM live l
    JOIN closure cl ON cl.assignment_id = l.id
    JOIN rbac.role_permissions rp ON rp.role_id = cl.role_id
    JOIN rbac._catalog() c(perm) ON rp.permission OPERATOR(@extschema@.@>) c.perm
$$;

-- The same for deny patterns: which concrete permissions live assignments
-- deny, and which role carries the deny (deny_role_id; role_id is the
-- assigned role that includes it).
CREATE FUNCTION rbac._denied(p_principal bigint, p_env text, p_at timestamptz,
                             p_tenant bigint)
RETURNS TABLE (tenant_id bigint, permission @extschema@.rbac_permission,
               role_id bigint, holder_id bigint, pattern @extschema@.rbac_permission,
               environment text, deny_role_id bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE live AS (
        SELECT a.id, a.tenant_id, a.role_id, a.principal_id, a.environment
        FROM rbac._holders(p_principal) h(id)
        JOIN rbac.assignments a ON a.principal_id = h.id
        WHERE (a.environment IS NULL OR a.environment = p_env)
          AND (a.expires_at IS NULL OR a.expires_at > p_at)
          AND (p_tenant IS NULL OR a.tenant_id = p_tenant)
    ), closure(assignment_id, role_id) AS (
        SELECT l.id, l.role_id FROM live l
        UNION
        SELECT c.assignment_id, ri.included_id
        FROM closure c JOIN rbac.role_includes ri ON ri.role_id = c.role_id
    )
    SELECT l.tenant_id, c.perm, l.role_id, l.principal_id, rd.permission, l.environment,
           rd.role_id
    FROM live l
    JOIN closure cl ON cl.assignment_id = l.id
    JOIN rbac.role_denies rd ON rd.role_id = cl.role_id
    JOIN rbac._catalog() c(perm) ON rd.permission OPERATOR(@extschema@.@>) c.perm
$$;

-- Allows minus denies; for an API key only in its own tenant, only while
-- it is live, and never beyond what its owner holds there (the owner's
-- own denies included).
CREATE OR REPLACE FUNCTION rbac._effective(p_principal bigint, p_env text, p_at timestamptz,
                                           p_tenant bigint DEFAULT NULL)
RETURNS TABLE (tenant_id bigint, permission @extschema@.rbac_permission)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    k rbac.api_keys;
    v_denies boolean;
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

    -- the cache rebuilds through here: skip the deny pass while no role
    -- denies anything
    v_denies := EXISTS (SELECT 1 FROM rbac.role_denies);
    IF k.owner_id IS NULL AND NOT v_denies THEN
        RETURN QUERY
            SELECT DISTINCT g.tenant_id, g.permission
            FROM rbac._granted(p_principal, p_env, p_at, p_tenant) g;
    ELSIF k.owner_id IS NULL THEN
        RETURN QUERY
            SELECT g.tenant_id, g.permission
            FROM rbac._granted(p_principal, p_env, p_at, p_tenant) g
            EXCEPT
            SELECT d.tenant_id, d.permission
            FROM rbac._denied(p_principal, p_env, p_at, p_tenant) d;
    ELSE
        RETURN QUERY
            (SELECT g.tenant_id, g.permission
             FROM rbac._granted(p_principal, p_env, p_at, p_tenant) g
             EXCEPT
             SELECT d.tenant_id, d.permission
             FROM rbac._denied(p_principal, p_env, p_at, p_tenant) d)
            INTERSECT
            SELECT o.tenant_id, o.permission
            FROM rbac._effective(k.owner_id, p_env, p_at, k.tenant_id) o;
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Who is acting, and what it may do
------------------------------------------------------------------------------

-- Whether the database role that called in (as SET ROLE left it) is a
-- superuser or has the privileges of rbac_admin: the administrator path.
CREATE FUNCTION rbac._is_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = rbac._caller_role())
            THEN true
        WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'rbac_admin')
            THEN false
        ELSE pg_catalog.pg_has_role(rbac._caller_role(), 'rbac_admin', 'USAGE')
    END
$$;

-- The acting principal.  Inside a SECURITY DEFINER function the C code
-- sees the function's owner as the database role, so a login role mapped
-- with pg_role is looked up here by the caller's role instead.
CREATE FUNCTION rbac._actor() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(@extschema@.rbac_current_principal(),
                    (SELECT p.id FROM rbac.principals p WHERE p.pg_role = rbac._caller_role()))
$$;

-- The audit log records the acting principal, mapped login roles included.
CREATE OR REPLACE FUNCTION rbac._audit(p_action text, p_tenant bigint, p_target text,
                                       p_details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO rbac.audit_log (principal_id, db_role, action, tenant_id, target, details)
    VALUES (rbac._actor(), rbac._caller_role(), p_action, p_tenant,
            p_target, coalesce(p_details, '{}'))
$$;

CREATE FUNCTION rbac._principal_name(p_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT rbac._shown(p.name) FROM rbac.principals p WHERE p.id = p_id
$$;

CREATE FUNCTION rbac._tenant_name(p_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT rbac._shown(t.name) FROM rbac.tenants t WHERE t.id = p_id
$$;

-- The entry check of every function open to principals: NULL on the
-- administrator path, else the acting principal.  Nobody authenticated
-- finds the function as closed as in 1.0.
CREATE FUNCTION rbac._gate(p_function text, p_permission text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint;
BEGIN
    IF rbac._is_admin() THEN
        RETURN NULL;
    END IF;
    v_actor := rbac._actor();
    IF v_actor IS NULL THEN
        RAISE EXCEPTION 'permission denied for function %', p_function
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It needs rbac_admin, or an authenticated principal holding "%s" in the tenant.',
                                  p_permission),
                  HINT = 'Authenticate with rbac_authenticate() first.';
    END IF;
    RETURN v_actor;
END
$$;

-- Whether a principal holds one concrete permission in a tenant and
-- environment, denies and key rules applied.
CREATE FUNCTION rbac._holds(p_principal bigint, p_tenant bigint, p_env text, p_permission text)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1
                   FROM rbac._effective(p_principal, p_env, statement_timestamp(), p_tenant) e
                   WHERE e.permission OPERATOR(@extschema@.=) p_permission::@extschema@.rbac_permission)
$$;

-- The acting principal must hold p_permission in the tenant, in the
-- current environment.  p_where names the object for the message.
CREATE FUNCTION rbac._require_self(p_actor bigint, p_tenant bigint, p_permission text,
                                   p_where text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_tenant IS NULL
       OR NOT rbac._holds(p_actor, p_tenant, @extschema@.rbac_current_environment(), p_permission) THEN
        RAISE EXCEPTION 'permission denied: "%" is required %', p_permission, p_where
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Principal "%s" does not hold it there%s.',
                                  rbac._principal_name(p_actor),
                                  CASE WHEN @extschema@.rbac_current_environment() IS NULL THEN ''
                                       ELSE format(' in environment "%s"',
                                                   @extschema@.rbac_current_environment()) END);
    END IF;
END
$$;

-- A tenant named by the acting principal.  An unknown tenant is refused
-- like one where it holds nothing, so principals cannot probe names.
CREATE FUNCTION rbac._self_tenant(p_actor bigint, p_name text, p_permission text)
RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM rbac._required(p_name, 'tenant');
    SELECT t.id INTO v_id FROM rbac.tenants t WHERE t.name = p_name;
    PERFORM rbac._require_self(p_actor, v_id, p_permission,
                               format('in tenant "%s"', rbac._shown(p_name)));
    RETURN v_id;
END
$$;

-- Template roles are shared by every tenant: only administrators change them.
CREATE FUNCTION rbac._no_template(p_action text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'permission denied: % a template role requires rbac_admin', p_action
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Template roles are shared by every tenant.',
              HINT = 'Name the tenant to work on a tenant role.';
END
$$;

-- Whether a principal holds a pattern as a pattern: some live allow
-- pattern covers it (and, for a key with an owner, the owner's too).  A
-- wildcard granted on this basis cannot come to cover an action
-- registered later that the grantor does not hold.
CREATE FUNCTION rbac._holds_pattern(p_principal bigint, p_tenant bigint, p_env text,
                                    p_pattern @extschema@.rbac_permission)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM rbac._granted(p_principal, p_env, statement_timestamp(), p_tenant) g
                   WHERE g.pattern OPERATOR(@extschema@.@>) p_pattern)
       AND coalesce((SELECT rbac._holds_pattern(k.owner_id, p_tenant, p_env, p_pattern)
                     FROM rbac.api_keys k
                     WHERE k.principal_id = p_principal AND k.owner_id IS NOT NULL), true)
$$;

-- No escalation through content: every permission a pattern covers must be
-- held by the acting principal in the tenant and environment, and a
-- wildcard must be held as a wildcard.
CREATE FUNCTION rbac._check_grantable(p_actor bigint, p_tenant bigint, p_env text,
                                      p_patterns @extschema@.rbac_permission[])
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_held text[];
    v_pattern @extschema@.rbac_permission;
    v_missing text;
    v_where text;
BEGIN
    v_held := ARRAY(SELECT e.permission::text
                    FROM rbac._effective(p_actor, p_env, statement_timestamp(), p_tenant) e);
    v_where := format('tenant "%s"%s', rbac._tenant_name(p_tenant),
                      CASE WHEN p_env IS NULL THEN '' ELSE format(' in environment "%s"', p_env) END);
    FOREACH v_pattern IN ARRAY coalesce(p_patterns, '{}') LOOP
        SELECT c::text INTO v_missing
        FROM rbac._catalog() c
        WHERE v_pattern OPERATOR(@extschema@.@>) c AND NOT (c::text = ANY (v_held))
        ORDER BY c::text COLLATE "C"
        LIMIT 1;
        IF v_missing IS NOT NULL THEN
            RAISE EXCEPTION 'permission denied: "%" is not held by principal "%" in %',
                v_missing, rbac._principal_name(p_actor), v_where
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = format('A principal grants only what it holds itself; "%s" covers "%s".',
                                      v_pattern::text, v_missing);
        END IF;
        IF strpos(v_pattern::text, '*') > 0
           AND NOT rbac._holds_pattern(p_actor, p_tenant, p_env, v_pattern) THEN
            RAISE EXCEPTION 'permission denied: the pattern "%" is not held by principal "%" in %',
                v_pattern::text, rbac._principal_name(p_actor), v_where
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A wildcard is granted only by a principal that holds it as a wildcard, so it cannot grow with later registrations.',
                      HINT = 'List the permissions instead.';
        END IF;
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- No escalation through side effects: a change made by a principal may
-- touch only principals whose rights it holds itself, before and after the
-- change, in every environment in use in the tenant.
------------------------------------------------------------------------------

-- The environments rights are compared in: NULL (assignments for every
-- environment), each one in use in the tenant, the current one and p_extra.
CREATE FUNCTION rbac._envs(p_tenant bigint, p_extra text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY[NULL::text] || ARRAY(
        SELECT DISTINCT e FROM (
            SELECT a.environment FROM rbac.assignments a WHERE a.tenant_id = p_tenant
            UNION SELECT k.environment FROM rbac.api_keys k WHERE k.tenant_id = p_tenant
            UNION SELECT @extschema@.rbac_current_environment()
            UNION SELECT p_extra) s(e)
        WHERE e IS NOT NULL ORDER BY e)
$$;

-- Rights as 'environment:permission' strings ('' for NULL, which no
-- environment name can be).
CREATE FUNCTION rbac._rights(p_principal bigint, p_tenant bigint, p_envs text[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY(SELECT DISTINCT coalesce(v.env, '') || ':' || f.permission::text
                 FROM unnest(p_envs) v(env)
                 CROSS JOIN LATERAL rbac._effective(p_principal, v.env, statement_timestamp(),
                                                    p_tenant) f)
$$;

-- Principals and every member of them, transitively (a change to a
-- group's assignments reaches its members).
CREATE FUNCTION rbac._with_members(p_ids bigint[]) RETURNS bigint[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE m(id) AS (
        SELECT unnest(p_ids)
        UNION
        SELECT gm.member_id FROM rbac.group_members gm JOIN m ON gm.group_id = m.id
    )
    SELECT ARRAY(SELECT id FROM m WHERE id IS NOT NULL ORDER BY id)
$$;

-- Everyone a change to a role reaches: holders of the role and of every
-- role that includes it, with their members.
CREATE FUNCTION rbac._role_reach(p_role bigint) RETURNS bigint[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE up(id) AS (
        SELECT p_role
        UNION
        SELECT ri.role_id FROM rbac.role_includes ri JOIN up ON ri.included_id = up.id
    )
    SELECT rbac._with_members(ARRAY(SELECT DISTINCT a.principal_id
                                    FROM rbac.assignments a JOIN up ON a.role_id = up.id))
$$;

-- The first right in p_rights missing from p_held, shown for a message.
CREATE FUNCTION rbac._first_missing(p_rights text[], p_held text[],
                                    OUT environment text, OUT permission text)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(split_part(r, ':', 1), ''), split_part(r, ':', 2)
    FROM (SELECT unnest(p_rights) EXCEPT SELECT unnest(p_held)) s(r)
    ORDER BY r COLLATE "C"
    LIMIT 1
$$;

-- Before a change: every principal it reaches must hold nothing the actor
-- lacks.  Returns what the after-check compares against.  Self-service
-- changes in one tenant are serialized, so two of them cannot each pass
-- on a state the other is changing; VOLATILE so that the statements after
-- the lock see what the previous holder committed.
CREATE FUNCTION rbac._guard_before(p_actor bigint, p_tenant bigint, p_reach bigint[],
                                   p_extra_env text, OUT envs text[], OUT held text[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    m record;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('qilin_rbac delegation', p_tenant));
    envs := rbac._envs(p_tenant, p_extra_env);
    held := rbac._rights(p_actor, p_tenant, envs);
    FOREACH v_id IN ARRAY coalesce(p_reach, '{}') LOOP
        SELECT * INTO m FROM rbac._first_missing(rbac._rights(v_id, p_tenant, envs), held);
        IF m.permission IS NOT NULL THEN
            RAISE EXCEPTION 'permission denied: principal "%" holds "%" in tenant "%"%, which principal "%" does not',
                rbac._principal_name(v_id), m.permission, rbac._tenant_name(p_tenant),
                CASE WHEN m.environment IS NULL THEN '' ELSE format(' in environment "%s"', m.environment) END,
                rbac._principal_name(p_actor)
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A principal changes only roles, keys and assignments of principals with no more rights than itself.';
        END IF;
    END LOOP;
END
$$;

-- After a change: no principal it reaches may have gained anything the
-- actor did not hold before (the actor included: it cannot lift a deny
-- that binds itself).  Raising here undoes the change.
CREATE FUNCTION rbac._guard_after(p_actor bigint, p_tenant bigint, p_reach bigint[],
                                  p_envs text[], p_held text[])
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    m record;
BEGIN
    FOREACH v_id IN ARRAY coalesce(p_reach, '{}') LOOP
        SELECT * INTO m FROM rbac._first_missing(rbac._rights(v_id, p_tenant, p_envs), p_held);
        IF m.permission IS NOT NULL THEN
            RAISE EXCEPTION 'permission denied: the change would give principal "%" "%" in tenant "%"%, which principal "%" does not hold',
                rbac._principal_name(v_id), m.permission, rbac._tenant_name(p_tenant),
                CASE WHEN m.environment IS NULL THEN '' ELSE format(' in environment "%s"', m.environment) END,
                rbac._principal_name(p_actor)
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A principal gives only what it holds itself.';
        END IF;
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Keys, open to principals holding apikey.create / .delete / .update
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.rbac_issue_key(tenant text, name text, roles text[],
                                                      environment text DEFAULT 'production',
                                                      expires_at timestamptz DEFAULT NULL,
                                                      description text DEFAULT NULL,
                                                      owner text DEFAULT NULL)
RETURNS TABLE (key_id bigint, api_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_issue_key', 'apikey.create');
    v_tenant bigint;
    v_role text;
    v_role_ids bigint[] := '{}';
    v_patterns @extschema@.rbac_permission[] := '{}';
    v_owner rbac.principals;
    v_owner_id bigint;
BEGIN
    IF v_actor IS NULL THEN
        v_tenant := rbac._tenant(tenant);
    ELSE
        v_tenant := rbac._self_tenant(v_actor, tenant, 'apikey.create');
    END IF;
    PERFORM rbac._required(name, 'key name');
    PERFORM rbac._free_text(description, 'description');
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
    v_owner_id := v_owner.id;
    IF v_actor IS NOT NULL THEN
        -- a key issued by a principal is owned by it (a key's by the key's
        -- owner), so the owner intersection keeps it below its issuer
        v_owner_id := coalesce((SELECT k.owner_id FROM rbac.api_keys k WHERE k.principal_id = v_actor),
                               CASE WHEN EXISTS (SELECT 1 FROM rbac.api_keys k WHERE k.principal_id = v_actor)
                                    THEN NULL ELSE v_actor END);
        IF owner IS NOT NULL AND v_owner.id IS DISTINCT FROM v_owner_id THEN
            RAISE EXCEPTION 'permission denied: a key issued by principal "%" cannot be owned by "%"',
                rbac._principal_name(v_actor), rbac._shown(owner)
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A principal issues keys that it owns itself; only administrators name another owner.';
        END IF;
        owner := (SELECT pr.name FROM rbac.principals pr WHERE pr.id = v_owner_id);
        v_patterns := ARRAY(SELECT DISTINCT unnest(rbac._role_patterns(r)) FROM unnest(v_role_ids) r);
        PERFORM rbac._check_grantable(v_actor, v_tenant, environment, v_patterns);
    END IF;
    SELECT m.key_id, m.api_key INTO key_id, api_key
    FROM rbac._make_key(v_tenant, name, ARRAY(SELECT DISTINCT unnest(v_role_ids)),
                        environment, expires_at, description, v_owner_id, NULL) m;
    PERFORM rbac._audit('issue_key', v_tenant, name,
                        jsonb_build_object('key_id', key_id, 'roles', to_jsonb(roles),
                                           'environment', environment, 'owner', owner,
                                           'expires_at', expires_at));
    RETURN NEXT;
END
$$;

-- A key addressed by a principal: it must hold p_permission in the key's
-- tenant, and the key may hold nothing the principal lacks.  An unknown
-- key is refused like a foreign one.
CREATE FUNCTION rbac._self_key(p_actor bigint, p_key bigint, p_permission text,
                               OUT envs text[], OUT held text[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_tenant bigint;
BEGIN
    SELECT k.tenant_id INTO v_tenant FROM rbac.api_keys k WHERE k.principal_id = p_key;
    PERFORM rbac._require_self(p_actor, v_tenant, p_permission,
                               format('in the tenant of API key %s', p_key));
    SELECT g.envs, g.held INTO envs, held
    FROM rbac._guard_before(p_actor, v_tenant, ARRAY[p_key], NULL) g;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_revoke_key(key_id bigint, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_revoke_key', 'apikey.delete');
    k rbac.api_keys;
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM rbac._free_text(reason, 'reason');
    SELECT * INTO k FROM rbac.api_keys WHERE principal_id = key_id FOR UPDATE;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._self_key(v_actor, key_id, 'apikey.delete');
    END IF;
    IF k.principal_id IS NULL THEN
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

-- Rotation by a principal: the new key gets the old one's roles, so they
-- must still be within the principal's rights in the key's environment.
CREATE OR REPLACE FUNCTION rbac._rotate_key(v_old bigint, grace interval,
                                            OUT key_id bigint, OUT api_key text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_rotate_key', 'apikey.update');
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
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._self_key(v_actor, v_old, 'apikey.update');
    END IF;
    IF k.principal_id IS NULL THEN
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
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._check_grantable(
            v_actor, k.tenant_id, k.environment,
            ARRAY(SELECT DISTINCT unnest(rbac._role_patterns(r)) FROM unnest(v_roles) r));
    END IF;
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

------------------------------------------------------------------------------
-- Roles, open to principals holding role.create / .update / .delete
------------------------------------------------------------------------------

-- A tenant role a principal is about to change: it must hold the
-- permission in the role's tenant, hold everything the role grants, and
-- the change may reach only principals with no more rights than it.
CREATE FUNCTION rbac._self_role(p_actor bigint, p_role text, p_tenant text, p_permission text,
                                p_what text, OUT role rbac.roles, OUT envs text[],
                                OUT held text[], OUT reach bigint[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_tenant IS NULL THEN
        PERFORM rbac._required(p_role, 'role');
        PERFORM rbac._no_template(p_what);
    END IF;
    PERFORM rbac._self_tenant(p_actor, p_tenant, p_permission);
    role := rbac._role_exact(p_role, p_tenant);
    PERFORM rbac._check_grantable(p_actor, role.tenant_id, @extschema@.rbac_current_environment(),
                                  rbac._role_patterns(role.id));
    reach := rbac._role_reach(role.id);
    SELECT g.envs, g.held INTO envs, held
    FROM rbac._guard_before(p_actor, role.tenant_id, reach, NULL) g;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_create_role(name text,
                                                        permissions @extschema@.rbac_permission[],
                                                        tenant text DEFAULT NULL,
                                                        description text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_create_role', 'role.create');
    v_tenant bigint;
    v_id bigint;
    v_perm @extschema@.rbac_permission;
BEGIN
    PERFORM rbac._required(name, 'role name');
    PERFORM rbac._free_text(description, 'description');
    IF permissions IS NULL THEN
        RAISE EXCEPTION 'permissions must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an empty array for a role without permissions.';
    END IF;
    IF v_actor IS NOT NULL THEN
        IF tenant IS NULL THEN
            PERFORM rbac._no_template('creating');
        END IF;
        v_tenant := rbac._self_tenant(v_actor, tenant, 'role.create');
    ELSIF tenant IS NOT NULL THEN
        v_tenant := rbac._tenant(tenant);
    END IF;
    FOREACH v_perm IN ARRAY permissions LOOP
        PERFORM rbac._check_permission(v_perm);
    END LOOP;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._check_grantable(v_actor, v_tenant, @extschema@.rbac_current_environment(),
                                      permissions);
    END IF;
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

CREATE OR REPLACE FUNCTION @extschema@.rbac_grant_permission(role text,
                                                             permission @extschema@.rbac_permission,
                                                             tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_grant_permission', 'role.update');
    r rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    PERFORM rbac._check_permission(permission);
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._check_grantable(v_actor, r.tenant_id, @extschema@.rbac_current_environment(),
                                      ARRAY[permission]);
    END IF;
    INSERT INTO rbac.role_permissions (role_id, permission) VALUES (r.id, permission)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" already grants "%"', rbac._shown(role), permission
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('grant_permission', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_revoke_permission(role text,
                                                              permission @extschema@.rbac_permission,
                                                              tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_revoke_permission', 'role.update');
    r rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    IF permission IS NULL THEN
        RAISE EXCEPTION 'permission must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM rbac.role_permissions rp
        WHERE rp.role_id = r.id AND rp.permission OPERATOR(@extschema@.=) rbac_revoke_permission.permission;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not grant "%"', rbac._shown(role), permission
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('revoke_permission', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_drop_role(role text, tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_drop_role', 'role.delete');
    r rbac.roles;
    g record;
    v_assignments bigint;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.delete', 'dropping');
        r := g.role;
    END IF;
    SELECT count(*) INTO v_assignments FROM rbac.assignments WHERE role_id = r.id;
    DELETE FROM rbac.roles WHERE id = r.id;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('drop_role', r.tenant_id, role,
                        jsonb_build_object('assignments_removed', v_assignments));
END
$$;

-- Deny patterns: what a role's holders must not do, whatever else allows it.
CREATE FUNCTION @extschema@.rbac_deny_permission(role text, permission @extschema@.rbac_permission,
                                                 tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_deny_permission', 'role.update');
    r rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    PERFORM rbac._check_permission(permission);
    INSERT INTO rbac.role_denies (role_id, permission) VALUES (r.id, permission)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" already denies "%"', rbac._shown(role), permission
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM rbac._audit('deny_permission', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

CREATE FUNCTION @extschema@.rbac_remove_deny(role text, permission @extschema@.rbac_permission,
                                             tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_remove_deny', 'role.update');
    r rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    IF permission IS NULL THEN
        RAISE EXCEPTION 'permission must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM rbac.role_denies rd
        WHERE rd.role_id = r.id AND rd.permission OPERATOR(@extschema@.=) rbac_remove_deny.permission;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not deny "%"', rbac._shown(role), permission
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('remove_deny', r.tenant_id, role,
                        jsonb_build_object('permission', permission::text));
END
$$;

-- Composition: role grants (and denies) what included does.  A tenant
-- role includes roles of its tenant or templates, a template only
-- templates; no cycles.
CREATE FUNCTION @extschema@.rbac_include_role(role text, included text, tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_include_role', 'role.update');
    r rbac.roles;
    i rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    i := rbac._role(included, r.tenant_id);
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._check_grantable(v_actor, r.tenant_id, @extschema@.rbac_current_environment(),
                                      rbac._role_patterns(i.id));
    END IF;
    -- serialize composition changes so two concurrent inclusions cannot
    -- close a cycle that neither sees
    LOCK TABLE rbac.role_includes IN SHARE ROW EXCLUSIVE MODE;
    IF r.id IN (SELECT rbac._role_closure(i.id)) THEN
        RAISE EXCEPTION 'including "%" in "%" would make a cycle',
            rbac._shown(included), rbac._shown(role)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Roles may include roles, but never themselves.';
    END IF;
    INSERT INTO rbac.role_includes (role_id, included_id) VALUES (r.id, i.id)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" already includes "%"', rbac._shown(role), rbac._shown(included)
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('include_role', r.tenant_id, role,
                        jsonb_build_object('included', included,
                                           'included_template', i.tenant_id IS NULL));
END
$$;

CREATE FUNCTION @extschema@.rbac_remove_include(role text, included text, tenant text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_remove_include', 'role.update');
    r rbac.roles;
    i rbac.roles;
    g record;
BEGIN
    IF v_actor IS NULL THEN
        r := rbac._role_exact(role, tenant);
    ELSE
        g := rbac._self_role(v_actor, role, tenant, 'role.update', 'changing');
        r := g.role;
    END IF;
    i := rbac._role(included, r.tenant_id);
    DELETE FROM rbac.role_includes ri WHERE ri.role_id = r.id AND ri.included_id = i.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not include "%"', rbac._shown(role), rbac._shown(included)
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, r.tenant_id, g.reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('remove_include', r.tenant_id, role,
                        jsonb_build_object('included', included));
END
$$;

------------------------------------------------------------------------------
-- Assignments, open to principals holding user.update
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.rbac_assign_role(principal text, role text, tenant text,
                                                        environment text DEFAULT NULL,
                                                        expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_assign_role', 'user.update');
    p rbac.principals;
    v_tenant bigint;
    r rbac.roles;
    g record;
    v_reach bigint[];
BEGIN
    IF v_actor IS NULL THEN
        p := rbac._principal(principal);
        v_tenant := rbac._tenant(tenant);
    ELSE
        v_tenant := rbac._self_tenant(v_actor, tenant, 'user.update');
        p := rbac._principal(principal);
    END IF;
    r := rbac._role(role, v_tenant);
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
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._check_grantable(v_actor, v_tenant, environment, rbac._role_patterns(r.id));
        v_reach := rbac._with_members(ARRAY[p.id]);
        g := rbac._guard_before(v_actor, v_tenant, v_reach, environment);
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
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, v_tenant, v_reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('assign_role', v_tenant, principal,
                        jsonb_build_object('role', role, 'template', r.tenant_id IS NULL,
                                           'environment', environment, 'expires_at', expires_at));
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_unassign_role(principal text, role text, tenant text,
                                                          environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate('rbac_unassign_role', 'user.update');
    p rbac.principals;
    v_tenant bigint;
    r rbac.roles;
    g record;
    v_reach bigint[];
BEGIN
    IF v_actor IS NULL THEN
        p := rbac._principal(principal);
        v_tenant := rbac._tenant(tenant);
    ELSE
        v_tenant := rbac._self_tenant(v_actor, tenant, 'user.update');
        p := rbac._principal(principal);
    END IF;
    r := rbac._role(role, v_tenant);
    IF environment IS NOT NULL THEN
        PERFORM rbac._environment(environment);
    END IF;
    IF v_actor IS NOT NULL THEN
        v_reach := rbac._with_members(ARRAY[p.id]);
        g := rbac._guard_before(v_actor, v_tenant, v_reach, environment);
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
    IF v_actor IS NOT NULL THEN
        PERFORM rbac._guard_after(v_actor, v_tenant, v_reach, g.envs, g.held);
    END IF;
    PERFORM rbac._audit('unassign_role', v_tenant, principal,
                        jsonb_build_object('role', role, 'environment', environment));
END
$$;

------------------------------------------------------------------------------
-- Reports: principals read their own rights, and a tenant's with the
-- matching *.read permission
------------------------------------------------------------------------------

-- Raises unless the caller may read p_permission-guarded facts of the
-- tenant; a principal may always read its own rights.  Administrators
-- pass without a lookup, so their errors keep their order.
CREATE FUNCTION rbac._gate_read(p_function text, p_permission text, p_tenant text,
                                p_principal text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_actor bigint := rbac._gate(p_function, p_permission);
BEGIN
    IF v_actor IS NULL THEN
        RETURN true;
    END IF;
    IF p_principal IS NOT NULL
       AND EXISTS (SELECT 1 FROM rbac.principals p WHERE p.id = v_actor AND p.name = p_principal) THEN
        RETURN true;
    END IF;
    PERFORM rbac._self_tenant(v_actor, p_tenant, p_permission);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_effective_permissions(principal text, tenant text)
RETURNS SETOF @extschema@.rbac_permission
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_gate boolean := rbac._gate_read('rbac_effective_permissions', 'user.read', tenant, principal);
    p rbac.principals := rbac._principal(principal);
    v_tenant bigint := rbac._tenant(tenant);
BEGIN
    RETURN QUERY
        SELECT e.permission
        FROM rbac._effective(p.id, rbac._env_of(p.id), statement_timestamp(), v_tenant) e
        ORDER BY e.permission::text COLLATE "C";
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.rbac_explain(principal text, tenant text,
                                                    permission @extschema@.rbac_permission)
RETURNS TABLE (granted boolean, via_role text, via_principal text, environment text,
               reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_gate boolean := rbac._gate_read('rbac_explain', 'user.read', tenant, principal);
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

    -- a deny from any live assignment beats every allow: name the roles
    -- that deny
    FOR r IN
        SELECT DISTINCT dr.name COLLATE "C" AS deny_role, ar.name COLLATE "C" AS assigned_role,
               hp.name COLLATE "C" AS holder_name, d.environment AS env
        FROM rbac._denied(p.id, v_env, v_at, v_tenant) d
        JOIN rbac.roles dr ON dr.id = d.deny_role_id
        JOIN rbac.roles ar ON ar.id = d.role_id
        JOIN rbac.principals hp ON hp.id = d.holder_id
        WHERE rbac_explain.permission OPERATOR(@extschema@.@>) d.permission
        ORDER BY 1, 2, 3
    LOOP
        v_any := true;
        granted := false;
        via_role := r.deny_role;
        via_principal := r.holder_name;
        environment := r.env;
        reason := format('denied by role "%s"', r.deny_role)
            || CASE WHEN r.assigned_role <> r.deny_role
                    THEN format(', included in role "%s"', r.assigned_role) ELSE '' END
            || CASE WHEN r.holder_name <> principal
                    THEN format(', through group "%s"', r.holder_name) ELSE '' END;
        RETURN NEXT;
    END LOOP;
    IF v_any THEN
        RETURN;
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

-- Every key of a tenant, for humans: never a hash, only the display prefix.
CREATE FUNCTION rbac._key_rows(p_tenant bigint)
RETURNS TABLE (key_id bigint, name text, environment text, display_prefix text, roles text[],
               owner text, status text, expires_at timestamptz, revoked_at timestamptz,
               created_at timestamptz, description text, grants_all boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.principal_id, k.name, k.environment, k.display_prefix,
           ARRAY(SELECT r.name FROM rbac.assignments a JOIN rbac.roles r ON r.id = a.role_id
                 WHERE a.principal_id = k.principal_id ORDER BY r.name COLLATE "C"),
           o.name,
           CASE WHEN k.revoked_at IS NOT NULL AND k.revoked_at <= now() THEN 'REVOKED'
                WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'EXPIRED'
                WHEN k.revoked_at IS NOT NULL THEN 'ROTATING'
                ELSE 'ACTIVE' END,
           k.expires_at, k.revoked_at, k.created_at, k.description,
           EXISTS (SELECT 1 FROM rbac.assignments a
                   CROSS JOIN LATERAL unnest(rbac._role_patterns(a.role_id)) rp(p)
                   WHERE a.principal_id = k.principal_id AND rp.p::text = '*')
    FROM rbac.api_keys k
    LEFT JOIN rbac.principals o ON o.id = k.owner_id
    WHERE k.tenant_id = p_tenant
    ORDER BY k.principal_id
$$;

CREATE FUNCTION @extschema@.rbac_list_keys(tenant text)
RETURNS TABLE (key_id bigint, name text, environment text, display_prefix text, roles text[],
               owner text, status text, expires_at timestamptz, revoked_at timestamptz,
               created_at timestamptz, description text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rbac._gate_read('rbac_list_keys', 'apikey.read', tenant);
    RETURN QUERY
        SELECT k.key_id, k.name, k.environment, k.display_prefix, k.roles, k.owner, k.status,
               k.expires_at, k.revoked_at, k.created_at, k.description
        FROM rbac._key_rows(rbac._tenant(tenant)) k;
END
$$;

-- Live keys that expire before now() + within.
CREATE FUNCTION @extschema@.rbac_keys_expiring(tenant text, within interval DEFAULT '30 days')
RETURNS TABLE (key_id bigint, name text, environment text, display_prefix text, roles text[],
               owner text, status text, expires_at timestamptz, revoked_at timestamptz,
               created_at timestamptz, description text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rbac._gate_read('rbac_keys_expiring', 'apikey.read', tenant);
    IF within IS NULL THEN
        RAISE EXCEPTION 'within must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT k.key_id, k.name, k.environment, k.display_prefix, k.roles, k.owner, k.status,
               k.expires_at, k.revoked_at, k.created_at, k.description
        FROM rbac._key_rows(rbac._tenant(tenant)) k
        WHERE k.status IN ('ACTIVE', 'ROTATING') AND k.expires_at <= now() + within
        ORDER BY k.expires_at, k.key_id;
END
$$;

-- Live keys with no expiry and no rotation pending.
CREATE FUNCTION @extschema@.rbac_keys_never_expiring(tenant text)
RETURNS TABLE (key_id bigint, name text, environment text, display_prefix text, roles text[],
               owner text, status text, expires_at timestamptz, revoked_at timestamptz,
               created_at timestamptz, description text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rbac._gate_read('rbac_keys_never_expiring', 'apikey.read', tenant);
    RETURN QUERY
        SELECT k.key_id, k.name, k.environment, k.display_prefix, k.roles, k.owner, k.status,
               k.expires_at, k.revoked_at, k.created_at, k.description
        FROM rbac._key_rows(rbac._tenant(tenant)) k
        WHERE k.status = 'ACTIVE' AND k.expires_at IS NULL;
END
$$;

-- Live keys one of whose roles (included roles counted) grants "*".
CREATE FUNCTION @extschema@.rbac_keys_granting_all(tenant text)
RETURNS TABLE (key_id bigint, name text, environment text, display_prefix text, roles text[],
               owner text, status text, expires_at timestamptz, revoked_at timestamptz,
               created_at timestamptz, description text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rbac._gate_read('rbac_keys_granting_all', 'apikey.read', tenant);
    RETURN QUERY
        SELECT k.key_id, k.name, k.environment, k.display_prefix, k.roles, k.owner, k.status,
               k.expires_at, k.revoked_at, k.created_at, k.description
        FROM rbac._key_rows(rbac._tenant(tenant)) k
        WHERE k.status IN ('ACTIVE', 'ROTATING') AND k.grants_all;
END
$$;

-- Users, groups and services with a live assignment in the tenant, one row
-- per principal and assignment it holds, directly or through a group
-- (via_principal).  Keys are reported by the key functions.
CREATE FUNCTION @extschema@.rbac_tenant_principals(tenant text)
RETURNS TABLE (principal text, kind text, role text, via_principal text, environment text,
               expires_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_tenant bigint;
BEGIN
    PERFORM rbac._gate_read('rbac_tenant_principals', 'user.read', tenant);
    v_tenant := rbac._tenant(tenant);
    RETURN QUERY
        WITH RECURSIVE reach(member_id, holder_id, assignment_id) AS (
            SELECT a.principal_id, a.principal_id, a.id
            FROM rbac.assignments a
            WHERE a.tenant_id = v_tenant AND (a.expires_at IS NULL OR a.expires_at > now())
            UNION
            SELECT gm.member_id, r.holder_id, r.assignment_id
            FROM reach r JOIN rbac.group_members gm ON gm.group_id = r.member_id
        )
        SELECT m.name, m.kind, ro.name, h.name, a.environment, a.expires_at
        FROM reach x
        JOIN rbac.principals m ON m.id = x.member_id
        JOIN rbac.principals h ON h.id = x.holder_id
        JOIN rbac.assignments a ON a.id = x.assignment_id
        JOIN rbac.roles ro ON ro.id = a.role_id
        WHERE m.kind <> 'api_key'
        ORDER BY m.name COLLATE "C", ro.name COLLATE "C", h.name COLLATE "C",
                 a.environment COLLATE "C" NULLS FIRST;
END
$$;

------------------------------------------------------------------------------
-- Privileges: the functions above decide inside who may do what, so they
-- are open to PUBLIC; internals stay closed.
------------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
             AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'qilin_rbac'
        WHERE p.pronamespace = 'rbac'::regnamespace
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    @extschema@.rbac_issue_key(text, text, text[], text, timestamptz, text, text),
    @extschema@.rbac_revoke_key(bigint, text),
    @extschema@.rbac_rotate_key(bigint, interval),
    @extschema@.rbac_create_role(text, @extschema@.rbac_permission[], text, text),
    @extschema@.rbac_grant_permission(text, @extschema@.rbac_permission, text),
    @extschema@.rbac_revoke_permission(text, @extschema@.rbac_permission, text),
    @extschema@.rbac_drop_role(text, text),
    @extschema@.rbac_deny_permission(text, @extschema@.rbac_permission, text),
    @extschema@.rbac_remove_deny(text, @extschema@.rbac_permission, text),
    @extschema@.rbac_include_role(text, text, text),
    @extschema@.rbac_remove_include(text, text, text),
    @extschema@.rbac_assign_role(text, text, text, text, timestamptz),
    @extschema@.rbac_unassign_role(text, text, text, text),
    @extschema@.rbac_effective_permissions(text, text),
    @extschema@.rbac_explain(text, text, @extschema@.rbac_permission),
    @extschema@.rbac_list_keys(text),
    @extschema@.rbac_keys_expiring(text, interval),
    @extschema@.rbac_keys_never_expiring(text),
    @extschema@.rbac_keys_granting_all(text),
    @extschema@.rbac_tenant_principals(text)
TO PUBLIC, rbac_admin;

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

------------------------------------------------------------------------------
-- Limits on free text
------------------------------------------------------------------------------

-- Descriptions and revocation reasons are copied into the audit log: keep
-- them to a size a human writes.  NULL is allowed.
CREATE FUNCTION rbac._free_text(p_value text, p_what text, p_maxlen int DEFAULT 1000)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF octet_length(p_value) > p_maxlen THEN
        RAISE EXCEPTION '% is too long', p_what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('At most %s bytes are allowed; %s were given.',
                                  p_maxlen, octet_length(p_value));
    END IF;
    RETURN p_value;
END
$$;
REVOKE ALL ON FUNCTION rbac._free_text(text, text, int) FROM PUBLIC;
