# Upgrades: install version 1.0, fill it, update to the current version
# and check that everything still works, and that the updated extension has
# exactly the objects, columns, constraints, triggers, indexes and
# privileges of a fresh install.  The current library also serves the 1.0
# schema until the update.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QilinRbacTest;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'qilin_rbac'");
$node->safe_psql('postgres', 'CREATE DATABASE old; CREATE DATABASE fresh');

# version 1.0, filled and used
$node->safe_psql('old', "CREATE EXTENSION qilin_rbac VERSION '1.0'");
my $keys = fixture($node, 'old');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'qilin_rbac'"),
	'1.0', 'version 1.0 installed');
is(app_read($node, 'old', $keys->{ka}), 'a1,a2,a3', '1.0: key of shop_a reads shop_a only');
is(app_read($node, 'old', $keys->{kb}), 'b1,b2', '1.0: key of shop_b reads shop_b only');
is(app_read($node, 'old', undef), '', '1.0: no key, no rows');
is($node->safe_psql('old', "SELECT to_regclass('rbac.key_usage') IS NULL"), 't',
	'1.0: no last-used table, and authentication goes on without it');
my ($id_kb) = $node->safe_psql('old', "SELECT key_id FROM rbac_verify_key('$keys->{kb}')");
$node->safe_psql('old', "SELECT rbac_revoke_key($id_kb)");
my $columns_before = table_columns($node, 'old');
my $before = table_digests($node, 'old');

# update
$node->safe_psql('old', "ALTER EXTENSION qilin_rbac UPDATE TO '$default'");
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'qilin_rbac'"),
	$default, "updated to $default");
# what the update adds is left out: the tables and columns of 1.0 compare
is(table_digests($node, 'old', $columns_before), $before, 'the data is untouched by the update');
is(app_read($node, 'old', $keys->{ka}), 'a1,a2,a3', 'updated: key of shop_a reads shop_a only');
is(app_read($node, 'old', $keys->{kown}), 'a1,a2,a3', 'updated: owned key reads shop_a');
is(app_read($node, 'old', undef), '', 'updated: no key, no rows');
is($node->safe_psql('old', "SELECT status FROM rbac_verify_key('$keys->{kb}')"),
	'REVOKED', 'updated: revoked key stays revoked');
is($node->safe_psql('old', "SELECT string_agg(name, ',' ORDER BY name) FROM rbac.key_activity WHERE last_used_at IS NOT NULL"),
	'ka,kown', 'updated: last-used tracking starts');
$node->safe_psql('old', q{
	SELECT rbac_create_tenant('shop_c');
	SELECT rbac_issue_key('shop_c', 'kc', '{reader}');
});
is($node->safe_psql('old', "SELECT string_agg(name, ',' ORDER BY name) FROM rbac_unused_keys('0')"),
	'ka,kc,kown', 'updated: new functions work');

# a fresh install of the same version has the same objects
$node->safe_psql('fresh', 'CREATE EXTENSION qilin_rbac');
my %catalog = (
	'extension members' => q{
		SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
		FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND e.extname = 'qilin_rbac' ORDER BY 1},
	'columns of rbac tables' => q{
		SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       pg_get_expr(ad.adbin, ad.adrelid)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		WHERE c.relnamespace = 'rbac'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY 1, 2},
	'constraints' => q{
		SELECT conrelid::regclass, conname, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'rbac'::regnamespace ORDER BY 1, 2},
	'indexes' => q{
		SELECT indexdef FROM pg_indexes WHERE schemaname = 'rbac' ORDER BY 1},
	'triggers' => q{
		SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = 'rbac'::regnamespace AND NOT t.tgisinternal ORDER BY 1},
	'function definitions and privileges' => q{
		SELECT p.oid::regprocedure, md5(pg_get_functiondef(p.oid)), p.proacl
		FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
		     AND d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
		JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qilin_rbac'
		WHERE p.prokind <> 'a' ORDER BY 1::text},
	'relation privileges' => q{
		SELECT relname, relkind, relacl FROM pg_class
		WHERE relnamespace = 'rbac'::regnamespace ORDER BY 1},
	'dumped configuration' => q{
		SELECT c::regclass, e.extcondition[i]
		FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS u(c, i)
		WHERE e.extname = 'qilin_rbac' ORDER BY 1::text},
	'schema privileges' => q{
		SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'rbac'},
);
for my $what (sort keys %catalog)
{
	my $old = $node->safe_psql('old', $catalog{$what});
	my $new = $node->safe_psql('fresh', $catalog{$what});
	ok($new ne '', "fresh install lists $what");
	is($old, $new, "updated and fresh installs have the same $what");
}

$node->stop;
done_testing();
