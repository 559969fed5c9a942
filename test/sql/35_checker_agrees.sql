-- The C checker and the SQL resolution behind the reports must agree on
-- every principal, tenant and permission: groups, templates, shadowing,
-- composition, denies, environments, expiry, keys and owners together.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('t1') > 0, rbac_create_tenant('t2') > 0, rbac_create_tenant('t3') > 0;
SELECT rbac_create_principal('agency', 'group') > 0, rbac_create_principal('devs', 'group') > 0;
SELECT rbac_create_principal('anna') > 0, rbac_create_principal('ben') > 0,
       rbac_create_principal('svc', 'service') > 0;
SELECT rbac_add_member('agency', 'devs'), rbac_add_member('devs', 'anna');

SELECT rbac_create_role('builder', '{pipeline.*,channel.*,dataflowtracking.read}') > 0;
SELECT rbac_create_role('everything', '{*}') > 0;
SELECT rbac_create_role('reader', '{*.read}') > 0;
SELECT rbac_create_role('builder', '{pipeline.read}', 't2') > 0;   -- shadows the template in t2
SELECT rbac_create_role('no_secrets', '{}') > 0;
SELECT rbac_deny_permission('no_secrets', 'credential.*');
SELECT rbac_deny_permission('no_secrets', 'billing.*');
SELECT rbac_create_role('agency_all', '{}') > 0;
SELECT rbac_include_role('agency_all', 'everything');
SELECT rbac_include_role('agency_all', 'no_secrets');

SELECT rbac_assign_role('agency', 'agency_all', 't1');
SELECT rbac_assign_role('devs', 'builder', 't2');
SELECT rbac_assign_role('anna', 'reader', 't3', 'staging');
SELECT rbac_assign_role('ben', 'everything', 't1');
SELECT rbac_assign_role('ben', 'no_secrets', 't2');
SELECT rbac_assign_role('ben', 'reader', 't2');
SELECT rbac_assign_role('svc', 'builder', 't1', NULL, now() + interval '1 day');
SELECT key_id AS k1 FROM rbac_issue_key('t1', 'anna ci', '{everything}', owner => 'anna') \gset
SELECT key_id AS k2 FROM rbac_issue_key('t2', 'ben ci', '{builder,reader}', 'staging', owner => 'ben') \gset
SELECT key_id AS k3 FROM rbac_issue_key('t1', 'plain', '{agency_all}') \gset

-- every principal but groups, every tenant, every registered permission
CREATE TEMP TABLE verdicts (principal text, env text, tenant bigint, perm text,
                            checker boolean, resolved boolean);
GRANT ALL ON verdicts TO PUBLIC;
DO $$
DECLARE
    p record;
    e text;
BEGIN
    FOR p IN SELECT id, name FROM rbac.principals WHERE kind <> 'group' ORDER BY id LOOP
        FOREACH e IN ARRAY ARRAY['', 'staging', 'production'] LOOP
            PERFORM set_config('qilin_rbac.environment', e, true);
            PERFORM rbac_set_principal(p.name);
            INSERT INTO verdicts
            SELECT p.name, rbac_current_environment(), t.id, c::text,
                   rbac_has_permission(t.id, c),
                   EXISTS (SELECT 1
                           FROM rbac._effective(p.id, rbac_current_environment(),
                                                statement_timestamp()) x
                           WHERE x.tenant_id = t.id AND x.permission = c)
            FROM rbac.tenants t, rbac._catalog() c;
            PERFORM rbac_reset();
        END LOOP;
    END LOOP;
END
$$;

SELECT count(*) AS compared, count(*) FILTER (WHERE checker) AS granted,
       count(*) FILTER (WHERE checker IS DISTINCT FROM resolved) AS disagreements
FROM verdicts;
SELECT * FROM verdicts WHERE checker IS DISTINCT FROM resolved ORDER BY 1, 2, 3, 4 LIMIT 10;

-- spot checks of the rules the comparison covers
SELECT principal, env, tenant, perm, checker FROM verdicts
WHERE (principal, tenant, perm) IN (('anna', 1, 'credential.read'), ('anna', 1, 'pipeline.delete'),
                                    ('anna', 2, 'pipeline.update'), ('anna', 3, 'order.read'),
                                    ('ben', 2, 'billing.read'), ('ben', 2, 'order.read'))
ORDER BY 1, 3, 4, 2;
SELECT principal, tenant, perm, bool_or(checker) AS granted FROM verdicts
WHERE principal IN ('apikey:' || :k1, 'apikey:' || :k2, 'apikey:' || :k3)
  AND perm IN ('credential.read', 'pipeline.update', 'order.read')
GROUP BY 1, 2, 3 HAVING bool_or(checker) ORDER BY 1, 2, 3;
