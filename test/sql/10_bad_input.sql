-- Bad input for every function of the contract: NULLs, empty and oversized
-- strings, unknown names, malformed permissions, garbage and truncated
-- keys.  Each gives its SQLSTATE (or, for the checkers and verify, a
-- denial), never a crash.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;
SELECT rbac_create_tenant('acme');
SELECT rbac_create_principal('p');
SELECT rbac_create_role('r', '{product.read}');
SELECT key_id AS k, api_key AS key FROM rbac_issue_key('acme', 'k', '{r}') \gset

CREATE TEMP TABLE cases (id serial, q text);
INSERT INTO cases (q) VALUES
-- rbac_register_resource
($$SELECT rbac_register_resource(NULL)$$),
($$SELECT rbac_register_resource('')$$),
($$SELECT rbac_register_resource(repeat('a', 1000000))$$),
($$SELECT rbac_register_resource('x; DROP TABLE rbac.tenants; --')$$),
($$SELECT rbac_register_resource('ok', '{NULL}')$$),
($$SELECT rbac_register_resource('ok', ARRAY[''])$$),
-- rbac_create_tenant / rbac_tenant_id
($$SELECT rbac_create_tenant(repeat('a', 1000000))$$),
($$SELECT rbac_create_tenant(E'acme\x01')$$),
($$SELECT rbac_tenant_id(NULL)$$),
($$SELECT rbac_tenant_id(repeat('a', 1000000))$$),
($$SELECT rbac_tenant_id($q$'; DROP TABLE rbac.tenants; --$q$)$$),
-- rbac_create_principal
($$SELECT rbac_create_principal(NULL)$$),
($$SELECT rbac_create_principal('')$$),
($$SELECT rbac_create_principal(repeat('a', 1000000))$$),
($$SELECT rbac_create_principal('q', '')$$),
($$SELECT rbac_create_principal('q', 'user', '')$$),
-- membership
($$SELECT rbac_add_member(NULL, 'p')$$),
($$SELECT rbac_add_member('', 'p')$$),
($$SELECT rbac_add_member('p', 'p')$$),
($$SELECT rbac_add_member(repeat('g', 1000000), 'p')$$),
($$SELECT rbac_remove_member('p', NULL)$$),
($$SELECT rbac_remove_member('nobody', 'p')$$),
-- roles
($$SELECT rbac_create_role('x', '{product.read,NULL}')$$),
($$SELECT rbac_create_role('x', ARRAY['pipeline.'])$$),
($$SELECT rbac_create_role('x', ARRAY[repeat('a', 1000000)])$$),
($$SELECT rbac_create_role(repeat('x', 1000000), '{product.read}')$$),
($$SELECT rbac_create_role('x', '{product.read}', '')$$),
($$SELECT rbac_grant_permission(NULL, 'product.read')$$),
($$SELECT rbac_grant_permission('r', 'product.nope')$$),
($$SELECT rbac_grant_permission('r', 'no.read')$$),
($$SELECT rbac_grant_permission('r', 'not a permission')$$),
($$SELECT rbac_revoke_permission('r', NULL)$$),
($$SELECT rbac_revoke_permission('nosuch', 'product.read')$$),
($$SELECT rbac_drop_role('')$$),
($$SELECT rbac_drop_role('nosuch')$$),
($$SELECT rbac_drop_role('r', 'nosuch')$$),
-- assignments
($$SELECT rbac_assign_role(NULL, 'r', 'acme')$$),
($$SELECT rbac_assign_role('p', NULL, 'acme')$$),
($$SELECT rbac_assign_role('p', 'r', '')$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', repeat('e', 1000000))$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', 'prod uction')$$),
($$SELECT rbac_assign_role('apikey:' || (SELECT min(principal_id) FROM rbac.api_keys), 'r', 'acme')$$),
($$SELECT rbac_unassign_role('p', 'r', 'acme')$$),
($$SELECT rbac_unassign_role('p', 'r', NULL)$$),
-- keys
($$SELECT * FROM rbac_issue_key(NULL, 'k', '{r}')$$),
($$SELECT * FROM rbac_issue_key('acme', repeat('k', 1000000), '{r}')$$),
($$SELECT * FROM rbac_issue_key('acme', 'k', '{NULL}')$$),
($$SELECT * FROM rbac_issue_key('acme', 'k', '{r}', NULL)$$),
($$SELECT * FROM rbac_issue_key('acme', 'k', '{r}', '')$$),
($$SELECT * FROM rbac_issue_key('acme', 'k', '{r}', repeat('e', 1000000))$$),
($$SELECT * FROM rbac_issue_key('acme', 'k', '{r}', owner => '')$$),
($$SELECT rbac_revoke_key(NULL)$$),
($$SELECT rbac_revoke_key(-9223372036854775808)$$),
($$SELECT rbac_revoke_key(9223372036854775807)$$),
($$SELECT * FROM rbac_rotate_key(NULL)$$),
($$SELECT * FROM rbac_rotate_key(0)$$),
($$SELECT * FROM rbac_rotate_key(9223372036854775807, NULL)$$),
-- session
($$SELECT rbac_authenticate(NULL)$$),
($$SELECT rbac_authenticate('')$$),
($$SELECT rbac_authenticate(repeat('k', 1000000))$$),
($$SELECT rbac_authenticate('qk_')$$),
($$SELECT rbac_authenticate('qk__')$$),
($$SELECT rbac_authenticate('qk_production_')$$),
($$SELECT rbac_authenticate('qk_PRODUCTION_' || repeat('a', 38))$$),
($$SELECT rbac_authenticate('qk_production_' || repeat('a', 38))$$),
($$SELECT rbac_authenticate('qk_production_' || repeat('!', 38))$$),
($$SELECT rbac_authenticate('qk_averyveryverylongenvironment_' || repeat('a', 38))$$),
($$SELECT rbac_authenticate(convert_from('\x716b5fc3a9'::bytea, 'UTF8'))$$),
($$SELECT rbac_authenticate('x'' OR 1=1 --')$$),
($$SELECT rbac_set_principal(repeat('p', 1000000))$$),
($$SELECT rbac_set_principal('p', NULL)$$),
-- checks
($$SELECT rbac_has_permission(1, 'nosuch.read')$$),
($$SELECT rbac_has_permission(1, 'product.nosuch')$$),
($$SELECT rbac_has_permission(1, '*.nosuch')$$),
($$SELECT rbac_has_permission(1, 'garbage')$$),
($$SELECT rbac_has_permission(1, repeat('a', 1000000))$$),
($$SELECT rbac_has_permission('nosuch.read')$$),
($$SELECT rbac_has_permission('nobody', 1, 'product.read')$$),
($$SELECT rbac_has_permission(NULL::text, 1, 'product.read')$$),
($$SELECT rbac_has_permission('p', 1, 'nosuch.read')$$),
($$SELECT rbac_require(1, 'product.read')$$),
($$SELECT rbac_require(NULL, 'product.read')$$),
($$SELECT rbac_require(1, NULL)$$),
($$SELECT rbac_require(1, 'nosuch.read')$$),
($$SELECT rbac_effective_permissions(NULL, 'acme')$$),
($$SELECT rbac_effective_permissions('p', NULL)$$),
($$SELECT rbac_effective_permissions('p', 'nosuch')$$),
($$SELECT rbac_effective_permissions(repeat('p', 1000000), 'acme')$$),
($$SELECT * FROM rbac_explain('p', 'acme', NULL)$$),
($$SELECT * FROM rbac_explain('p', 'acme', 'nosuch.read')$$),
($$SELECT * FROM rbac_explain('nobody', 'acme', 'product.read')$$);

SELECT id, regexp_replace(regress.err(q), '[0-9]{6,}', 'N', 'g') AS result FROM cases ORDER BY id;

-- checks that deny rather than raise
SELECT rbac_has_permission(NULL::bigint, 'product.read') AS null_tenant,
       rbac_has_permission(1, NULL) AS null_perm,
       rbac_has_permission(NULL::rbac_permission) AS null_perm1,
       rbac_has_permission(-1, 'product.read') AS negative_tenant,
       rbac_has_permission(9223372036854775807, 'product.read') AS huge_tenant,
       rbac_has_permission('p', NULL, 'product.read') AS admin_null_tenant;
SELECT valid, status FROM rbac_verify_key('qk_production_' || repeat('a', 38));
SELECT valid, status FROM rbac_verify_key(convert_from('\x716b5fc3a9'::bytea, 'UTF8'));
-- a failed authentication never echoes the key back
SELECT position(substr(:'key', 15) IN regress.err(format('SELECT rbac_authenticate(%L)', left(:'key', -1)))) AS echoed;
-- nothing above changed the catalogue
SELECT (SELECT count(*) FROM rbac.tenants) AS tenants, (SELECT count(*) FROM rbac.principals) AS principals,
       (SELECT count(*) FROM rbac.roles) AS roles, (SELECT count(*) FROM rbac.resources) AS resources;
