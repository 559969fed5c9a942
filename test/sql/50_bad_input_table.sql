-- Hostile input, as a table: every public function and the type fed NULLs,
-- empty strings, 1 MB strings (ASCII and multibyte), non-ASCII look-alikes,
-- invalid UTF-8 arriving through bytea conversion, negative and huge ids,
-- infinite timestamps and SQL-injection-shaped names.  Each row shows the
-- SQLSTATE and message (or "ok"); messages stay short whatever the input.
-- Complements 10_bad_input.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;
SELECT rbac_create_tenant('acme') AS acme \gset
SELECT rbac_create_principal('p') IS NOT NULL AS p;
SELECT rbac_create_principal('g', 'group') IS NOT NULL AS g;
SELECT rbac_create_role('r', '{product.read}') IS NOT NULL AS r;
SELECT key_id AS k, api_key AS key FROM rbac_issue_key('acme', 'k', '{r}') \gset
SELECT key_id AS k2 FROM rbac_issue_key('acme', 'k2', '{r}') \gset

-- Cases name the fixtures as {ACME}, {K}, {K2} and {KEY} (the secret, as a
-- literal), filled in only when run, so the listing never shows a key.
-- Each case runs alone: any identity it sets is dropped after it.
CREATE TABLE regress.ctx (acme bigint, k bigint, k2 bigint, key text);
INSERT INTO regress.ctx VALUES (:acme, :k, :k2, :'key');
GRANT SELECT ON regress.ctx TO PUBLIC;
CREATE FUNCTION regress.run(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c regress.ctx;
    r text;
BEGIN
    SELECT * INTO c FROM regress.ctx;
    q := replace(replace(replace(replace(q, '{ACME}', c.acme::text), '{K}', c.k::text),
                         '{K2}', c.k2::text), '{KEY}', quote_literal(c.key));
    r := regress.err(q);
    PERFORM rbac_reset();
    RETURN regexp_replace(r, '[0-9]{6,}', 'N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION regress.run(text) TO PUBLIC;
-- a value check inside a case: "ok" when true, P0001 otherwise
CREATE FUNCTION regress.yes(b boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF b IS NOT TRUE THEN
        RAISE EXCEPTION 'unexpected result';
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION regress.yes(boolean) TO PUBLIC;

CREATE TABLE regress.bad (id serial, q text);
GRANT SELECT ON regress.bad TO PUBLIC;
INSERT INTO regress.bad (q) VALUES
-- the type: multibyte and look-alike input, bounded quoting of huge input
($$SELECT 'pipeline.réad'::rbac_permission$$),
($$SELECT 'ｐｉｐｅｌｉｎｅ.read'::rbac_permission$$),
($$SELECT E'pipeline.read\u200b'::rbac_permission$$),
($$SELECT E'pipeline\u202e.read'::rbac_permission$$),
($$SELECT repeat('é', 500000)::rbac_permission$$),
($$SELECT ('pipeline.' || repeat('é', 500000))::rbac_permission$$),
($$SELECT ' pipeline.read'::rbac_permission$$),
($$SELECT 'pipeline.read '::rbac_permission$$),
($$SELECT 'pipeline..read'::rbac_permission$$),
($$SELECT '*.*.*'::rbac_permission$$),
($$SELECT '**'::rbac_permission$$),
($$SELECT 'pipe*.read'::rbac_permission$$),
($$SELECT (repeat('a', 63) || '.' || repeat('b', 64))::rbac_permission$$),
($$SELECT ''::varchar::rbac_permission$$),
($$SELECT regress.yes('PIPELINE.*'::rbac_permission::text = 'pipeline.*')$$),
($$SELECT regress.yes('*.*'::rbac_permission::text = '*')$$),
-- invalid UTF-8 never reaches the extension: the conversion refuses it
($$SELECT convert_from('\x706970656c696e652eff'::bytea, 'UTF8')::rbac_permission$$),
($$SELECT rbac_authenticate(convert_from('\x716b5fc3'::bytea, 'UTF8'))$$),
($$SELECT rbac_create_tenant(convert_from('\xc0af'::bytea, 'UTF8'))$$),
-- ... while bytes valid in another encoding arrive converted, and are refused
($$SELECT convert_from('\x706970656c696e652ee9'::bytea, 'LATIN1')::rbac_permission$$),
($$SELECT rbac_authenticate(convert_from('\x716b5fe9'::bytea, 'LATIN1'))$$),
-- names: the limit is 200 bytes, not characters
($$SELECT regress.yes(rbac_create_tenant(repeat('é', 100)) > 0)$$),
($$SELECT rbac_create_tenant(repeat('é', 101))$$),
($$SELECT rbac_create_principal(repeat('é', 500000))$$),
($$SELECT rbac_create_principal(E'a\u0085b')$$),
($$SELECT rbac_create_principal(E'tab\there')$$),
($$SELECT rbac_create_principal('p', 'USER')$$),
($$SELECT rbac_create_principal('q', 'api_key')$$),
($$SELECT rbac_create_principal('q', 'user', 'no_such_database_role')$$),
($$SELECT rbac_create_principal('q', 'user', repeat('x', 1000000))$$),
-- SQL-injection-shaped names are just names: stored, found, quoted
($$SELECT regress.yes(rbac_create_tenant($x$'); DROP TABLE rbac.tenants; --$x$) > 0)$$),
($$SELECT regress.yes(rbac_tenant_id($x$'); DROP TABLE rbac.tenants; --$x$) > {ACME})$$),
($$SELECT regress.yes(rbac_create_principal($x$Robert"); DROP SCHEMA rbac CASCADE; --$x$) > 0)$$),
($$SELECT regress.yes(rbac_create_role('%s %I %L $1 \', '{product.read}') > 0)$$),
($$SELECT rbac_assign_role($x$Robert"); DROP SCHEMA rbac CASCADE; --$x$, '%s %I %L $1 \', $x$'); DROP TABLE rbac.tenants; --$x$)$$),
($$SELECT regress.yes((SELECT array_agg(e::text) FROM rbac_effective_permissions($x$Robert"); DROP SCHEMA rbac CASCADE; --$x$, $x$'); DROP TABLE rbac.tenants; --$x$) e) = '{product.read}')$$),
($$SELECT rbac_drop_role('%s %I %L $1 \')$$),
($$SELECT regress.yes(rbac_tenant_id('acme'' OR ''1''=''1') IS NULL)$$),
($$SELECT regress.yes(rbac_tenant_id('%') IS NULL)$$),
($$SELECT regress.yes(rbac_tenant_id('acm_') IS NULL)$$),
($$SELECT rbac_set_principal('p'' OR ''1''=''1')$$),
($$SELECT rbac_set_principal('%')$$),
-- register_resource: arrays of every shape
($$SELECT rbac_register_resource('res', '{}')$$),
($$SELECT rbac_register_resource('res', ARRAY[repeat('a', 64)])$$),
($$SELECT rbac_register_resource('res', ARRAY['Read'])$$),
($$SELECT rbac_register_resource('res', ARRAY['read', 'read'])$$),
($$SELECT regress.yes((SELECT count(*) FROM rbac.actions WHERE resource = 'res') = 1)$$),
($$SELECT rbac_register_resource('Res')$$),
($$SELECT rbac_register_resource(repeat('a', 64))$$),
($$SELECT rbac_register_resource('pipeline')$$),
-- roles and grants
($$SELECT regress.yes(rbac_create_role('r2', '{}') > 0)$$),
($$SELECT rbac_create_role('r', '{product.read}')$$),
($$SELECT rbac_create_role('r3', '{product.read}', repeat('t', 1000000))$$),
($$SELECT regress.yes(rbac_create_role('r3', '{product.read}', NULL, repeat('d', 1000000)) > 0)$$),
($$SELECT rbac_grant_permission('r', 'product.read')$$),
($$SELECT rbac_grant_permission('r', NULL)$$),
($$SELECT rbac_grant_permission('r', '*', '')$$),
($$SELECT rbac_revoke_permission('r', 'product.*')$$),
($$SELECT rbac_revoke_permission('r', repeat('x', 1000000))$$),
-- membership
($$SELECT rbac_add_member('g', 'g')$$),
($$SELECT rbac_add_member('g', 'apikey:' || {K})$$),
($$SELECT rbac_add_member('g', repeat('m', 1000000))$$),
($$SELECT rbac_remove_member('g', 'p')$$),
-- assignments: timestamps at the edges
($$SELECT rbac_assign_role('p', 'r', 'acme', NULL, '-infinity')$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', NULL, 'infinity')$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', NULL, 'infinity')$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', 'Production')$$),
($$SELECT rbac_assign_role('p', 'r', 'acme', 'production_1')$$),
($$SELECT rbac_unassign_role('p', 'r', 'acme', repeat('e', 1000000))$$),
($$SELECT rbac_unassign_role('p', 'r', 'acme')$$),
-- keys: ids at the edges, timestamps and intervals at the edges
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{}')$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', 'production', '-infinity')$$),
($$SELECT regress.yes((SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', 'production', 'infinity')) = 1)$$),
($$SELECT count(*) FROM rbac_issue_key('acme', E'k\n2', '{r}')$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', 'a123456789abcdefg')$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', '1production')$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', owner => 'apikey:' || {K})$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', '{r}', owner => 'nobody')$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', ARRAY['r', NULL])$$),
($$SELECT count(*) FROM rbac_issue_key('acme', 'k2', ARRAY[repeat('r', 1000000)])$$),
($$SELECT rbac_revoke_key(-1)$$),
($$SELECT count(*) FROM rbac_rotate_key(-9223372036854775808)$$),
($$SELECT count(*) FROM rbac_rotate_key(1, '-1 second')$$),
($$SELECT count(*) FROM rbac_rotate_key({K2}, '100000000 years')$$),
-- session
($$SELECT rbac_authenticate({KEY} || ' ')$$),
($$SELECT rbac_authenticate(' ' || {KEY})$$),
($$SELECT rbac_authenticate(upper({KEY}))$$),
($$SELECT rbac_authenticate({KEY} || E'\n')$$),
($$SELECT rbac_authenticate({KEY} || {KEY})$$),
($$SELECT rbac_authenticate(repeat('é', 500000))$$),
($$SELECT rbac_authenticate('qk_production_' || repeat('é', 38))$$),
($$SELECT regress.yes(rbac_authenticate({KEY}, NULL) = {K} AND rbac_has_permission('product.read'))$$),
($$SELECT rbac_set_principal('')$$),
($$SELECT rbac_set_principal(NULL)$$),
($$SELECT regress.yes(rbac_set_principal('apikey:' || {K}) = {K} AND rbac_has_permission({ACME}, 'product.read'))$$),
($$SET qilin_rbac.environment = 'Production'$$),
($$SET qilin_rbac.environment = 'abcdefghijklmnopq'$$),
($$SELECT set_config('qilin_rbac.environment', repeat('e', 1000000), true)$$),
($$SET qilin_rbac.nosuch = 'x'$$),
-- checks: ids at the edges, patterns, huge input
($$SELECT regress.yes(NOT rbac_has_permission(-9223372036854775808, 'product.read'))$$),
($$SELECT regress.yes(NOT rbac_has_permission(0, '*'))$$),
($$SELECT regress.yes(NOT rbac_has_permission({ACME}, 'PRODUCT.READ'))$$),
($$SELECT rbac_has_permission({ACME}, repeat('é', 500000))$$),
($$SELECT regress.yes(NOT rbac_has_permission('p', -1, 'product.read'))$$),
($$SELECT regress.yes(NOT rbac_has_permission('p', {ACME}, NULL))$$),
($$SELECT rbac_has_permission(repeat('p', 1000000), {ACME}, 'product.read')$$),
($$SELECT rbac_require(-9223372036854775808, 'product.read')$$),
($$SELECT rbac_require(9223372036854775807, '*')$$),
($$SELECT rbac_require({ACME}, repeat('x', 1000000))$$),
($$SELECT regress.yes((SELECT bool_or(granted) FROM rbac_explain('p', 'acme', '*')) = false)$$),
($$SELECT count(*) FROM rbac_explain('p', repeat('t', 1000000), 'product.read')$$),
($$SELECT count(*) FROM rbac_explain(NULL, 'acme', 'product.read')$$),
($$SELECT regress.yes((SELECT status FROM rbac_verify_key(repeat('k', 1000000))) = 'MALFORMED')$$),
($$SELECT regress.yes((SELECT status FROM rbac_verify_key('')) = 'MALFORMED')$$),
($$SELECT regress.yes((SELECT status FROM rbac_verify_key({KEY})) = 'VALID')$$),
-- last, since they end the key {K}
($$SELECT rbac_revoke_key({K}, repeat('why', 400000))$$),
($$SELECT rbac_revoke_key({K})$$),
($$SELECT count(*) FROM rbac_rotate_key({K})$$),
($$SELECT rbac_authenticate({KEY})$$),
($$SELECT regress.yes((SELECT status FROM rbac_verify_key({KEY})) = 'REVOKED')$$);

SELECT id, left(q, 60) AS query, left(regress.run(q), 200) AS result FROM regress.bad ORDER BY id;
-- every message is short, whatever the size of the input, except
-- PostgreSQL's own for a refused setting, which quotes the value in full
-- (only a superuser can get that far)
SELECT id, left(q, 60) AS long_message FROM regress.bad WHERE octet_length(regress.run(q)) > 300;

-- the same calls as the application role: administration is refused
-- (42501) before any argument is looked at; the public functions answer
-- as they do for anyone (the key {K} was revoked by the pass above)
SET ROLE rbac_regress_app;
SELECT id, left(regress.run(q), 200) AS result FROM regress.bad ORDER BY id;
RESET ROLE;

-- a call site that checked a longer permission and then lacks a shorter
-- one names the shorter one exactly (the remembered text is terminated)
SELECT rbac_assign_role('p', 'r', 'acme');
BEGIN;
SELECT rbac_set_principal('p') > 0 AS acting;
SELECT regress.err($q$SELECT rbac_require(rbac_tenant_id('acme'), x)
                      FROM (VALUES ('product.read'::rbac_permission), ('order.read')) v(x)$q$);
COMMIT;

-- nothing above left an identity behind or took a key's secret into the
-- catalogue
SELECT rbac_current_principal() AS principal, rbac_current_tenant() AS tenant;
SELECT count(*) AS secrets_stored FROM rbac.api_keys WHERE display_prefix = :'key'
   OR description = :'key' OR revoke_reason LIKE '%' || substr(:'key', 15) || '%';
SELECT count(*) AS secrets_audited FROM rbac.audit_log WHERE details::text LIKE '%' || substr(:'key', 15) || '%';
-- the tables are intact after the injection-shaped names
SELECT (SELECT count(*) FROM rbac.tenants) AS tenants, to_regclass('rbac.tenants') IS NOT NULL AS tenants_table;
DROP TABLE regress.bad, regress.ctx;
DROP FUNCTION regress.run(text), regress.yes(boolean);

-- free text that is copied into the audit log has a size limit
SELECT regress.err($$SELECT * FROM rbac_issue_key('acme', 'long', '{r}', description => repeat('d', 1001))$$);
SELECT regress.err($$SELECT rbac_create_role('long', '{product.read}', description => repeat('d', 1001))$$);
SELECT regress.err($$SELECT rbac_revoke_key((SELECT min(principal_id) FROM rbac.api_keys), repeat('r', 1000000))$$);
SELECT count(*) AS unchanged FROM rbac.api_keys WHERE revoke_reason IS NOT NULL AND length(revoke_reason) > 1000;
