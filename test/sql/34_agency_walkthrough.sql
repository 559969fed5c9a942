-- README "Delegating to an agency", statement for statement: everything
-- between the README markers is the text of the README's SQL blocks
-- (test/suites/30_readme_walkthrough.sh checks that they agree).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
DROP TABLE IF EXISTS credentials, dataflow_events;
DROP ROLE IF EXISTS shoe_shop_owner;
DROP ROLE IF EXISTS agency_anna;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- README begin
-- 1. The operator (rbac_admin) creates the tenant and the people, once.
CREATE ROLE shoe_shop_owner LOGIN;   -- the merchant's login
CREATE ROLE agency_anna LOGIN;       -- the agency developer's login
SELECT rbac_create_tenant('shoe_shop') AS shop \gset
SELECT rbac_create_principal('merchant_owner', 'user', 'shoe_shop_owner');
SELECT rbac_create_principal('agency', 'group');
SELECT rbac_create_principal('anna', 'user', 'agency_anna');
SELECT rbac_add_member('agency', 'anna');
SELECT rbac_create_role('merchant_admin', '{*}', 'shoe_shop');
SELECT rbac_assign_role('merchant_owner', 'merchant_admin', 'shoe_shop');
-- a template the agency reuses for every client
SELECT rbac_create_role('ci_deployer',
    '{pipeline.read,pipeline.update,channel.read,dataflowtracking.read}',
    description => 'what a CI pipeline needs, nothing more');

-- the application's tables, under the policy pattern
CREATE TABLE credentials (id int, tenant_id bigint, secret text);
CREATE TABLE dataflow_events (id int, tenant_id bigint, message text);
ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE dataflow_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY read ON credentials FOR SELECT
    USING (rbac_has_permission(tenant_id, 'credential.read'));
CREATE POLICY read ON dataflow_events FOR SELECT
    USING (rbac_has_permission(tenant_id, 'dataflowtracking.read'));
GRANT SELECT ON credentials, dataflow_events TO shoe_shop_owner, agency_anna;
INSERT INTO credentials VALUES (1, :shop, 'shop api secret');
INSERT INTO dataflow_events VALUES (1, :shop, 'import ok'), (2, :shop, 'export failed');

-- 2. The merchant hires the agency: everything except credentials and billing.
SET ROLE shoe_shop_owner;            -- stands for logging in as the merchant
BEGIN;
SELECT rbac_create_role('agency_delivery', '{*}', 'shoe_shop',
                        'everything except credentials and billing');
SELECT rbac_deny_permission('agency_delivery', 'credential.*', 'shoe_shop');
SELECT rbac_deny_permission('agency_delivery', 'billing.*', 'shoe_shop');
SELECT rbac_assign_role('agency', 'agency_delivery', 'shoe_shop');
COMMIT;
RESET ROLE;

-- 3. The agency issues its own CI keys, one per environment; they belong to anna.
SET ROLE agency_anna;
SELECT * FROM rbac_explain('anna', 'shoe_shop', 'credential.read');
SELECT key_id AS staging_id, api_key AS staging_key
FROM rbac_issue_key('shoe_shop', 'ci staging', '{ci_deployer}', 'staging') \gset
SELECT key_id AS production_id, api_key AS production_key
FROM rbac_issue_key('shoe_shop', 'ci production', '{ci_deployer}', 'production',
                    expires_at => now() + interval '90 days') \gset
SELECT name, environment, roles, owner, status FROM rbac_list_keys('shoe_shop');
-- nothing wider than anna holds herself: refused, and nothing is written
SELECT * FROM rbac_issue_key('shoe_shop', 'wide', '{merchant_admin}');
SELECT rbac_remove_deny('agency_delivery', 'credential.*', 'shoe_shop');
RESET ROLE;

-- 4. The merchant still owns credentials and billing.
SET ROLE shoe_shop_owner;
SELECT secret FROM credentials;
SELECT principal, role, via_principal FROM rbac_tenant_principals('shoe_shop');
SELECT name, owner FROM rbac_keys_never_expiring('shoe_shop');
RESET ROLE;
SET ROLE agency_anna;
SELECT count(*) AS agency_sees FROM credentials;
SELECT rbac_has_permission(:shop, 'billing.update') AS agency_billing;
RESET ROLE;

-- 5. Both read the data-flow tracking: anna, the merchant and the CI key.
SET ROLE agency_anna;
SELECT id, message FROM dataflow_events ORDER BY id;
RESET ROLE;
SET ROLE shoe_shop_owner;
SELECT id, message FROM dataflow_events ORDER BY id;
RESET ROLE;
BEGIN;
SET LOCAL ROLE agency_anna;
SELECT rbac_authenticate(:'production_key') = :production_id AS ci_key;
SELECT id, message FROM dataflow_events ORDER BY id;
SELECT count(*) AS ci_sees FROM credentials;
COMMIT;

-- 6. The merchant can end it at any time, and the audit log says who did what.
SET ROLE shoe_shop_owner;
SELECT rbac_revoke_key(:staging_id, 'agency contract ended');
RESET ROLE;
SELECT a.action, p.name AS principal, a.db_role, a.target
FROM rbac.audit_log a LEFT JOIN rbac.principals p ON p.id = a.principal_id
WHERE a.db_role IN ('shoe_shop_owner', 'agency_anna')
ORDER BY a.id;
-- README end

SET client_min_messages = warning;
DROP TABLE credentials, dataflow_events;
DROP EXTENSION qilin_rbac CASCADE;
DROP ROLE shoe_shop_owner;
DROP ROLE agency_anna;
RESET client_min_messages;
