-- Assignments: limited to an environment, expiring, unassigned.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

SELECT rbac_create_tenant('acme');
SELECT rbac_create_principal('dev');
SELECT rbac_create_role('deployer', '{pipeline.update}');
SELECT rbac_create_role('reader', '{pipeline.read}');

SELECT rbac_assign_role('dev', 'reader', 'acme');
SELECT rbac_assign_role('dev', 'deployer', 'acme', 'staging');
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'acme', 'staging')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'acme', 'Prod')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'acme', '')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'acme', 'averyveryverylongenv')$$);
SELECT regress.err($$SELECT rbac_assign_role('nobody', 'deployer', 'acme')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'nosuch', 'acme')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'nosuch')$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', NULL)$$);
SELECT regress.err($$SELECT rbac_assign_role('dev', 'deployer', 'acme', NULL, now() - interval '1 day')$$);

-- with no current environment, the staging-only assignment does not apply
SELECT rbac_current_environment();
SELECT rbac_effective_permissions('dev', 'acme');
SELECT rbac_set_principal('dev', false) > 0 AS set;
SELECT rbac_has_permission(1, 'pipeline.read') AS read, rbac_has_permission(1, 'pipeline.update') AS update;

-- the database's environment makes it apply
SET qilin_rbac.environment = 'staging';
SELECT rbac_current_environment();
SELECT rbac_effective_permissions('dev', 'acme');
SELECT rbac_has_permission(1, 'pipeline.update') AS update_in_staging;
SET qilin_rbac.environment = 'production';
SELECT rbac_has_permission(1, 'pipeline.update') AS update_in_production;
SELECT * FROM rbac_explain('dev', 'acme', 'pipeline.update');
SET qilin_rbac.environment = 'staging';
SELECT * FROM rbac_explain('dev', 'acme', 'pipeline.update');
RESET qilin_rbac.environment;
SELECT rbac_reset();
SELECT regress.err($$SET qilin_rbac.environment = 'Not Valid'$$);

-- only superusers may set the environment
SET ROLE rbac_regress_app;
SELECT regress.err($$SET qilin_rbac.environment = 'production'$$);
SELECT regress.err($$SELECT set_config('qilin_rbac.environment', 'production', false)$$);
RESET ROLE;

-- expiry is honoured without any table change
SELECT rbac_create_principal('temp');
SELECT rbac_assign_role('temp', 'reader', 'acme', NULL, clock_timestamp() + interval '2 seconds');
SELECT rbac_set_principal('temp', false) > 0 AS set;
SELECT rbac_has_permission(1, 'pipeline.read') AS before_expiry;
SELECT pg_sleep(2.1);
SELECT rbac_has_permission(1, 'pipeline.read') AS after_expiry;
SELECT count(*) FROM rbac_effective_permissions('temp', 'acme');
SELECT rbac_reset();

-- unassign, exactly as assigned
SELECT regress.err($$SELECT rbac_unassign_role('dev', 'deployer', 'acme')$$);
SELECT rbac_unassign_role('dev', 'deployer', 'acme', 'staging');
SELECT regress.err($$SELECT rbac_unassign_role('dev', 'deployer', 'acme', 'staging')$$);
SELECT count(*) FROM rbac.assignments a JOIN rbac.principals p ON p.id = a.principal_id
WHERE p.name = 'dev';
