-- The agency/merchant story, end to end.  Run by test/demo.sh.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS qilin_rbac;
RESET client_min_messages;

\echo
\echo '== 1. The merchant "shoe_shop" and another merchant, each a tenant'
SELECT rbac_create_tenant('shoe_shop') AS shoe_shop, rbac_create_tenant('other_shop') AS other_shop;

\echo '== 2. People: the merchant owner, and an agency team with one developer'
SELECT rbac_create_principal('merchant_owner'), rbac_create_principal('agency', 'group'),
       rbac_create_principal('anna_from_agency');
SELECT rbac_add_member('agency', 'anna_from_agency');

\echo '== 3. Roles: two templates the agency reuses for every client, and the merchant''s own'
SELECT rbac_create_role('pipeline_builder', '{pipeline.*,channel.*,connector.read,dataflowtracking.read}');
SELECT rbac_create_role('ci_deployer', '{pipeline.read,pipeline.update,channel.read,dataflowtracking.read}');
SELECT rbac_create_role('merchant_admin', '{*}', 'shoe_shop');
SELECT rbac_assign_role('merchant_owner', 'merchant_admin', 'shoe_shop');
SELECT rbac_assign_role('agency', 'pipeline_builder', 'shoe_shop');

\echo '== 4. Keys: CI keys per environment owned by the agency developer, and the merchant''s key'
SELECT key_id AS ci_prod_id, api_key AS ci_prod FROM rbac_issue_key('shoe_shop', 'ci production', '{ci_deployer}', 'production', owner => 'anna_from_agency') \gset
SELECT key_id AS ci_stg_id, api_key AS ci_stg FROM rbac_issue_key('shoe_shop', 'ci staging', '{ci_deployer}', 'staging', owner => 'anna_from_agency') \gset
SELECT key_id AS merchant_id, api_key AS merchant FROM rbac_issue_key('shoe_shop', 'merchant automation', '{merchant_admin}') \gset
SELECT principal_id AS key_id, name, environment, display_prefix || '...' AS shown_as
FROM rbac.api_keys ORDER BY principal_id;

\echo '== 5. Application tables, protected by the policy pattern'
CREATE TABLE pipelines (id int, tenant_id bigint, name text);
CREATE TABLE credentials (id int, tenant_id bigint, secret text);
CREATE TABLE billing (id int, tenant_id bigint, plan text);
CREATE TABLE dataflow_events (id int, tenant_id bigint, message text);
INSERT INTO pipelines VALUES (1, 1, 'Shopware 6 -> Qilin'), (2, 1, 'Qilin -> marketplace'), (3, 2, 'other shop import');
INSERT INTO credentials VALUES (1, 1, 'shopware api secret'), (2, 2, 'other secret');
INSERT INTO billing VALUES (1, 1, 'enterprise plan'), (2, 2, 'basic plan');
INSERT INTO dataflow_events VALUES (1, 1, 'import ok'), (2, 1, 'export failed: timeout'), (3, 2, 'other');
ALTER TABLE pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing ENABLE ROW LEVEL SECURITY;
ALTER TABLE dataflow_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY read ON pipelines FOR SELECT USING (rbac_has_permission(tenant_id, 'pipeline.read'));
CREATE POLICY write ON pipelines FOR UPDATE USING (rbac_has_permission(tenant_id, 'pipeline.update'));
CREATE POLICY read ON credentials FOR SELECT USING (rbac_has_permission(tenant_id, 'credential.read'));
CREATE POLICY read ON billing FOR SELECT USING (rbac_has_permission(tenant_id, 'billing.read'));
CREATE POLICY read ON dataflow_events FOR SELECT USING (rbac_has_permission(tenant_id, 'dataflowtracking.read'));
SET client_min_messages = warning;
DROP ROLE IF EXISTS demo_app;
RESET client_min_messages;
CREATE ROLE demo_app;
GRANT SELECT, UPDATE ON pipelines, credentials, billing, dataflow_events TO demo_app;
CREATE VIEW what_i_see AS
    SELECT 'pipelines' AS table_name, string_agg(name, ', ' ORDER BY id) AS rows FROM pipelines
    UNION ALL SELECT 'credentials', string_agg(secret, ', ' ORDER BY id) FROM credentials
    UNION ALL SELECT 'billing', string_agg(plan, ', ' ORDER BY id) FROM billing
    UNION ALL SELECT 'dataflow_events', string_agg(message, ', ' ORDER BY id) FROM dataflow_events;
ALTER VIEW what_i_see SET (security_invoker = true);
GRANT SELECT ON what_i_see TO demo_app;

SET ROLE demo_app;
\echo
\echo '== 6. The application role with no key sees nothing'
SELECT * FROM what_i_see;

\echo '== 7. The production CI key: pipelines and execution logs of shoe_shop; no credentials, no billing'
BEGIN;
SELECT rbac_authenticate(:'ci_prod') AS authenticated_as_key;
SELECT * FROM what_i_see;
UPDATE pipelines SET name = name || ' (deployed)' RETURNING id, name;
COMMIT;

\echo '== 8. The merchant''s key: everything of shoe_shop, nothing of other_shop'
BEGIN;
SELECT rbac_authenticate(:'merchant') AS authenticated_as_key;
SELECT * FROM what_i_see;
COMMIT;

\echo '== 9. A staging key is refused by a production database'
RESET ROLE;
SET qilin_rbac.environment = 'production';
SELECT status FROM rbac_verify_key(:'ci_stg');
RESET qilin_rbac.environment;

\echo '== 10. Why may (or may not) the agency developer read credentials?'
SELECT * FROM rbac_explain('anna_from_agency', 'shoe_shop', 'credential.read');
SELECT * FROM rbac_explain('anna_from_agency', 'shoe_shop', 'pipeline.update');

\echo '== 11. The key leaks: revoke it, and it is refused at once'
SELECT rbac_revoke_key(:ci_prod_id, 'pasted into a public CI log');
SET ROLE demo_app;
\set ON_ERROR_STOP off
SELECT rbac_authenticate(:'ci_prod');
\set ON_ERROR_STOP on
RESET ROLE;

\echo '== 12. Every change above is in the audit log'
SELECT id, db_role, action, tenant_id, target FROM rbac.audit_log ORDER BY id;
