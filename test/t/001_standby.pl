# A streaming hot standby: authentication, key verification and
# RLS-filtered reads work there without writing, and a key revoked, a role
# changed or a member removed on the primary is honoured on the standby as
# soon as it is replayed, also by sessions that authenticated before.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QilinRbacTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "fsync = off\n");
$primary->start;
my $keys = fixture($primary, 'postgres');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

sub replay { $primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert')); }

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# reads on the standby
is(app_read($standby, 'postgres', $keys->{ka}), 'a1,a2,a3', 'standby: key of shop_a reads shop_a only');
is(app_read($standby, 'postgres', $keys->{kb}), 'b1,b2', 'standby: key of shop_b reads shop_b only');
is(app_read($standby, 'postgres', undef), '', 'standby: no key, no rows');
is($standby->safe_psql('postgres', "SELECT valid, status FROM rbac_verify_key('$keys->{ka}')",
		extra_params => [ '-U', 'app' ]),
	't|VALID', 'standby: rbac_verify_key');
is(app_read($standby, 'postgres', $keys->{kown}), 'a1,a2,a3', 'standby: owned key reads shop_a');

# last use is not tracked on a standby (nothing may be written there), and
# the primary tracks it
is($standby->safe_psql('postgres', 'SELECT count(*) FROM rbac.key_usage'), '0',
	'standby: authentication wrote no last-used time');
is(app_read($primary, 'postgres', $keys->{kb}), 'b1,b2', 'primary: key of shop_b reads shop_b');
replay();
is($standby->safe_psql('postgres', 'SELECT count(*) FROM rbac.key_usage'), '1',
	'primary: last-used time written and replayed');

# sessions on the standby that authenticate once, for the whole session
my %bg;
for my $k (qw(ka kb kown))
{
	$bg{$k} = $standby->background_psql('postgres', extra_params => [ '-U', 'app' ]);
	$bg{$k}->query_safe("SELECT rbac_authenticate('$keys->{$k}', false)");
}
my $list = "SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM public.products";
is($bg{ka}->query_safe($list), 'a1,a2,a3', 'session ka reads shop_a');
is($bg{kb}->query_safe($list), 'b1,b2', 'session kb reads shop_b');
is($bg{kown}->query_safe($list), 'a1,a2,a3', 'session kown reads shop_a');

# a role changed on the primary
$primary->safe_psql('postgres', "SELECT rbac_revoke_permission('reader', 'product.read')");
replay();
is($bg{kb}->query_safe($list), '', 'role changed: authenticated standby session loses access');
is(app_read($standby, 'postgres', $keys->{kb}), '', 'role changed: new standby session sees nothing');
$primary->safe_psql('postgres', "SELECT rbac_grant_permission('reader', 'product.read')");
replay();
is($bg{kb}->query_safe($list), 'b1,b2', 'role changed back: access returns');

# a member removed on the primary: the key owned by alice loses what she loses
$primary->safe_psql('postgres', "SELECT rbac_remove_member('team', 'alice')");
replay();
is($bg{kown}->query_safe($list), '', 'member removed: owned key session sees nothing');
is($bg{ka}->query_safe($list), 'a1,a2,a3', 'member removed: other keys unaffected');

# a key revoked on the primary
my ($id_ka) = $primary->safe_psql('postgres',
	"SELECT key_id FROM rbac_verify_key('$keys->{ka}')");
$primary->safe_psql('postgres', "SELECT rbac_revoke_key($id_ka, 'test')");
replay();
is($bg{ka}->query_safe($list), '', 'key revoked: authenticated standby session sees nothing');
is($standby->safe_psql('postgres', "SELECT status FROM rbac_verify_key('$keys->{ka}')"),
	'REVOKED', 'key revoked: standby reports REVOKED');
my ($rc, $out, $err) = $standby->psql('postgres',
	"SELECT rbac_authenticate('$keys->{ka}')", extra_params => [ '-U', 'app' ]);
like($err, qr/the key has been revoked/, 'key revoked: standby refuses authentication');
unlike($err, qr/\Q$keys->{ka}\E/, 'the refusal does not echo the key');
is($bg{kb}->query_safe($list), 'b1,b2', 'key revoked: other sessions unaffected');

$_->quit for values %bg;
$standby->stop;
$primary->stop;
done_testing();
