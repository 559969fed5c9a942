# pg_dump -Fc of a database using the extension, pg_restore into a fresh
# cluster: tenants, principals, roles, assignments, keys (they still verify
# and authenticate), last-used times and the audit log survive, and the RLS
# policies keep working.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QilinRbacTest;

my $src = PostgreSQL::Test::Cluster->new('source');
$src->init;
$src->append_conf('postgresql.conf', "fsync = off\n");
$src->start;
$src->safe_psql('postgres', 'CREATE DATABASE shop');
my $keys = fixture($src, 'shop');

# more of everything: a registered resource, a tenant role, an environment
# bound assignment, a revoked key, a last-used time
$src->safe_psql('shop', q{
	SELECT rbac_register_resource('report', '{read,export}');
	SELECT rbac_create_role('exporter', '{report.*}', 'shop_b');
	SELECT rbac_create_principal('bob', 'user', 'app');
	SELECT rbac_assign_role('bob', 'exporter', 'shop_b', 'staging');
	SELECT rbac_revoke_key(key_id, 'gone') FROM rbac_issue_key('shop_a', 'old', '{reader}');
});
is(app_read($src, 'shop', $keys->{kb}), 'b1,b2', 'source: key of shop_b reads shop_b');
my $digests = table_digests($src, 'shop');
my $audit = $src->safe_psql('shop', 'SELECT count(*) FROM rbac.audit_log');
ok($audit > 10, "source: audit log has rows ($audit)");
is($src->safe_psql('shop', 'SELECT count(*) FROM rbac.key_usage'), '1', 'source: a last-used time');

my $dump = $src->basedir . '/shop.dump';
command_ok([ 'pg_dump', '-Fc', '-d', $src->connstr('shop'), '-f', $dump ], 'pg_dump -Fc');

my $dst = PostgreSQL::Test::Cluster->new('restored');
$dst->init;
$dst->append_conf('postgresql.conf', "fsync = off\n");
$dst->start;
# roles are global objects, outside pg_dump
$dst->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE DATABASE shop');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $dst->connstr('shop'), $dump ],
	'pg_restore into a fresh cluster');

is(table_digests($dst, 'shop'), $digests, 'every table of the extension restored row for row');
is($dst->safe_psql('shop', 'SELECT count(*) FROM rbac.audit_log'), $audit, 'audit log restored');

is(app_read($dst, 'shop', $keys->{ka}), 'a1,a2,a3', 'restored: key of shop_a reads shop_a only');
is(app_read($dst, 'shop', $keys->{kb}), 'b1,b2', 'restored: key of shop_b reads shop_b only');
is(app_read($dst, 'shop', $keys->{kown}), 'a1,a2,a3', 'restored: owned key reads shop_a');
is(app_read($dst, 'shop', undef), '', 'restored: no key, no rows');
is($dst->safe_psql('shop', "SELECT valid, status FROM rbac_verify_key('$keys->{ka}')"),
	't|VALID', 'restored: key verifies');
is($dst->safe_psql('shop', "SELECT live FROM rbac.key_activity WHERE name = 'old'"), 'f',
	'restored: revoked key stays revoked');
is($dst->safe_psql('shop', "SELECT rbac_has_permission('bob', rbac_tenant_id('shop_b'), 'report.export')"),
	'f', 'restored: environment-bound assignment off outside its environment');
is($dst->safe_psql('shop', q{
	SET qilin_rbac.environment = 'staging';
	SELECT rbac_has_permission('bob', rbac_tenant_id('shop_b'), 'report.export')}),
	't', 'restored: tenant role, registered resource and assignment work');

# the restored sequences go on where they were: new rows do not collide
my $new = $dst->safe_psql('shop',
	"SELECT key_id > (SELECT max(principal_id) FROM rbac.api_keys WHERE name <> 'new') FROM rbac_issue_key('shop_a', 'new', '{reader}')");
is($new, 't', 'restored: a new key gets a fresh id');
my ($rc, $out, $err) = $dst->psql('shop', 'DELETE FROM rbac.audit_log');
like($err, qr/append-only/, 'restored: audit log still append-only');

$dst->stop;
$src->stop;
done_testing();
