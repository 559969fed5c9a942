-- The rbac_permission type: canonical form, errors, operators, opclasses.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS qilin_rbac CASCADE;
CREATE EXTENSION qilin_rbac;
RESET client_min_messages;

-- canonical lower-case text
SELECT 'pipeline.read'::rbac_permission, 'Pipeline.READ'::rbac_permission,
       'pipeline.*'::rbac_permission, '*.read'::rbac_permission,
       '*'::rbac_permission, '*.*'::rbac_permission,
       'data_flow2.x_1'::rbac_permission;

-- malformed input: 22P02 with the offending text and what was expected
SELECT 'pipeline'::rbac_permission;
SELECT ''::rbac_permission;
SELECT 'a.b.c'::rbac_permission;
SELECT '.read'::rbac_permission;
SELECT 'pipeline.'::rbac_permission;
SELECT '1pipeline.read'::rbac_permission;
SELECT 'pipe line.read'::rbac_permission;
SELECT 'pipeline.re-ad'::rbac_permission;
SELECT 'pipe*.read'::rbac_permission;
SELECT ' pipeline.read'::rbac_permission;
SELECT regress.err($$SELECT (repeat('a', 64) || '.read')::rbac_permission$$);
SELECT (repeat('a', 63) || '.' || repeat('b', 63))::rbac_permission = (repeat('a', 63) || '.' || repeat('b', 63))::rbac_permission AS longest_ok;
SELECT regress.err($$SELECT (repeat('x', 1000000))::rbac_permission$$);
SELECT regress.err($$SELECT convert_from('\xc3a92e72656164'::bytea, 'UTF8')::rbac_permission$$);

-- unknown names are accepted by the type; they are caught at grant/check
SELECT 'nosuch.thing'::rbac_permission;

-- equality and ordering compare canonical forms
SELECT 'PIPELINE.read'::rbac_permission = 'pipeline.READ'::rbac_permission AS eq,
       'pipeline.read'::rbac_permission <> 'pipeline.update'::rbac_permission AS ne,
       'channel.read'::rbac_permission < 'pipeline.read'::rbac_permission AS lt,
       '*.*'::rbac_permission = '*'::rbac_permission AS star_eq;

-- @> : the pattern covers the permission
SELECT p::rbac_permission AS pattern, q::rbac_permission AS perm,
       p::rbac_permission @> q::rbac_permission AS covers,
       q::rbac_permission <@ p::rbac_permission AS covered_by
FROM (VALUES ('*', 'pipeline.read'), ('pipeline.*', 'pipeline.read'),
             ('pipeline.*', 'channel.read'), ('*.read', 'pipeline.read'),
             ('*.read', 'pipeline.update'), ('pipeline.read', 'pipeline.read'),
             ('pipeline.read', 'pipeline.*'), ('pipeline.*', '*.read'),
             ('*', '*')) v(p, q);

-- btree and hash operator classes: indexes, DISTINCT, GROUP BY, hash joins
CREATE TABLE perms (p rbac_permission);
INSERT INTO perms VALUES ('pipeline.read'), ('PIPELINE.READ'), ('channel.read'), ('*'), ('order.*');
CREATE INDEX perms_btree ON perms USING btree (p);
CREATE INDEX perms_hash ON perms USING hash (p);
SELECT p, count(*) FROM perms GROUP BY p ORDER BY p;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM perms WHERE p = 'pipeline.read';
SELECT * FROM perms WHERE p = 'pipeline.read';
RESET enable_seqscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT count(*) FROM perms a JOIN perms b ON a.p = b.p;
RESET enable_mergejoin;
RESET enable_nestloop;
CREATE UNIQUE INDEX perms_unique ON perms (p);
DROP TABLE perms;

-- binary output is the canonical text
SELECT rbac_permission_send('pipeline.read');

-- casts
SELECT 'pipeline.read'::text::rbac_permission, 'pipeline.read'::rbac_permission::text;
SELECT ARRAY['pipeline.read', 'Channel.Read']::rbac_permission[];
