-- Shared fixtures for the regression suite: application roles and a helper
-- that turns an error into "SQLSTATE: message" so every expected error
-- shows its code.
SET client_min_messages = warning;
DROP ROLE IF EXISTS rbac_regress_app;
DROP ROLE IF EXISTS rbac_regress_admin;
DROP ROLE IF EXISTS rbac_regress_alice;
CREATE ROLE rbac_regress_app LOGIN;
CREATE ROLE rbac_regress_alice LOGIN;
CREATE ROLE rbac_regress_admin LOGIN;
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.err(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION regress.err(text) TO PUBLIC;
SELECT regress.err('SELECT 1/0');
SELECT regress.err('SELECT 1');
-- rbac_admin is created by the extension when missing; create it here so
-- the membership can be granted once
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rbac_admin') THEN
        CREATE ROLE rbac_admin NOLOGIN;
    END IF;
END $$;
GRANT rbac_admin TO rbac_regress_admin;
