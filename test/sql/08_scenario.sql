-- The product story: a merchant owns its tenant, hires an agency that
-- builds pipelines and channels but never sees credentials or billing,
-- gives its CI a narrow key per environment, and both read the data-flow
-- tracking (execution logs).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
DROP TABLE IF EXISTS pipelines, channels, credentials, billing, dataflow_events;
RESET client_min_messages;

SELECT rbac_create_tenant('shoe_shop') AS shop;
SELECT rbac_create_tenant('other_merchant') AS other;

-- people and teams
SELECT rbac_create_principal('merchant_owner');
SELECT rbac_create_principal('agency', 'group');
SELECT rbac_create_principal('agency_dev_anna');
SELECT rbac_add_member('agency', 'agency_dev_anna');

-- roles: templates the agency reuses across clients, and the merchant's own
SELECT rbac_create_role('pipeline_builder',
    '{pipeline.*,channel.*,connector.read,dataflowtracking.read,queue.read}',
    description => 'build and run integrations');
SELECT rbac_create_role('ci_deployer',
    '{pipeline.read,pipeline.update,channel.read,dataflowtracking.read}',
    description => 'what a CI pipeline needs, nothing more');
SELECT rbac_create_role('merchant_admin', '{*}', 'shoe_shop');

SELECT rbac_assign_role('merchant_owner', 'merchant_admin', 'shoe_shop');
SELECT rbac_assign_role('agency', 'pipeline_builder', 'shoe_shop');

-- CI keys, one per environment, owned by the agency developer
SELECT key_id AS dev_id, api_key AS dev_key FROM rbac_issue_key('shoe_shop', 'ci development', '{ci_deployer}', 'development', owner => 'agency_dev_anna') \gset
SELECT key_id AS stg_id, api_key AS stg_key FROM rbac_issue_key('shoe_shop', 'ci staging', '{ci_deployer}', 'staging', owner => 'agency_dev_anna') \gset
SELECT key_id AS prd_id, api_key AS prd_key FROM rbac_issue_key('shoe_shop', 'ci production', '{ci_deployer}', 'production', owner => 'agency_dev_anna') \gset
SELECT key_id AS own_id, api_key AS own_key FROM rbac_issue_key('shoe_shop', 'merchant automation', '{merchant_admin}') \gset

-- what each principal holds
SELECT rbac_effective_permissions('agency_dev_anna', 'shoe_shop');
SELECT rbac_effective_permissions('apikey:' || :prd_id, 'shoe_shop');
SELECT count(*) AS merchant_perms FROM rbac_effective_permissions('merchant_owner', 'shoe_shop');
SELECT * FROM rbac_explain('agency_dev_anna', 'shoe_shop', 'credential.read');
SELECT * FROM rbac_explain('agency_dev_anna', 'shoe_shop', 'pipeline.create');
SELECT * FROM rbac_explain('merchant_owner', 'shoe_shop', 'billing.update');
SELECT rbac_has_permission('agency_dev_anna', 2, 'pipeline.read') AS agency_in_other_merchant;

-- application tables under the policy pattern
CREATE TABLE pipelines (id int, tenant_id bigint, name text);
CREATE TABLE channels (id int, tenant_id bigint, name text);
CREATE TABLE credentials (id int, tenant_id bigint, secret text);
CREATE TABLE billing (id int, tenant_id bigint, plan text);
CREATE TABLE dataflow_events (id int, tenant_id bigint, message text);
INSERT INTO pipelines VALUES (1, 1, 'shopware 6 -> qilin'), (2, 1, 'qilin -> marketplace'), (3, 2, 'other');
INSERT INTO channels VALUES (1, 1, 'marketplace'), (2, 2, 'other');
INSERT INTO credentials VALUES (1, 1, 'shopware api secret'), (2, 2, 'other secret');
INSERT INTO billing VALUES (1, 1, 'enterprise'), (2, 2, 'basic');
INSERT INTO dataflow_events VALUES (1, 1, 'import ok'), (2, 1, 'export failed'), (3, 2, 'other');
DO $$
DECLARE
    t text;
    r text;
BEGIN
    FOR t, r IN VALUES ('pipelines', 'pipeline'), ('channels', 'channel'),
                       ('credentials', 'credential'), ('billing', 'billing'),
                       ('dataflow_events', 'dataflowtracking')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY sel ON %I FOR SELECT USING (rbac_has_permission(tenant_id, %L))', t, r || '.read');
        EXECUTE format('CREATE POLICY upd ON %I FOR UPDATE USING (rbac_has_permission(tenant_id, %L))', t, r || '.update');
        EXECUTE format('GRANT SELECT, UPDATE ON %I TO rbac_regress_app', t);
    END LOOP;
END
$$;

-- a view of what the current principal can see, table by table
CREATE FUNCTION visible() RETURNS TABLE (pipelines bigint, channels bigint, credentials bigint,
                                         billing bigint, dataflow_events bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM pipelines), (SELECT count(*) FROM channels),
           (SELECT count(*) FROM credentials), (SELECT count(*) FROM billing),
           (SELECT count(*) FROM dataflow_events)
$$;

SET ROLE rbac_regress_app;

-- the production CI key: pipelines, channels and logs of the shop, no secrets
BEGIN;
SELECT rbac_authenticate(:'prd_key') = :prd_id;
SELECT * FROM visible();
UPDATE pipelines SET name = name || ' v2' RETURNING id, name;
UPDATE channels SET name = 'renamed' RETURNING id;
COMMIT;

-- the merchant's own key sees everything of the shop, nothing of others
BEGIN;
SELECT rbac_authenticate(:'own_key') = :own_id;
SELECT * FROM visible();
SELECT secret FROM credentials;
SELECT plan FROM billing;
COMMIT;
RESET ROLE;

-- the agency developer acting directly (a trusted backend sets it)
BEGIN;
SELECT rbac_set_principal('agency_dev_anna') > 0;
SET LOCAL ROLE rbac_regress_app;
SELECT * FROM visible();
COMMIT;

-- separate environments: a staging key does nothing in a production database
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET qilin_rbac.environment = 'production';
SET qilin_rbac.environment = 'production';
SELECT status FROM rbac_verify_key(:'stg_key');
SELECT status FROM rbac_verify_key(:'prd_key');
SELECT regress.err(format('SELECT rbac_authenticate(%L)', :'dev_key'));
ALTER DATABASE :"db" RESET qilin_rbac.environment;
RESET qilin_rbac.environment;

-- the agency developer leaves: the keys she owns lose everything at once
SELECT rbac_remove_member('agency', 'agency_dev_anna');
SET ROLE rbac_regress_app;
BEGIN;
SELECT rbac_authenticate(:'prd_key') = :prd_id;
SELECT * FROM visible();
COMMIT;
RESET ROLE;
