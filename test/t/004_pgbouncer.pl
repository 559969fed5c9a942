# pgbouncer in transaction pooling mode: many clients, each with its own
# key, share a few server connections; every transaction authenticates
# with local => true and records what it saw.  No client may ever see a row
# of another client's tenant, and a transaction that does not authenticate
# sees nothing, even on a connection another client authenticated on a
# moment before.  In session pooling, server_reset_query = DISCARD ALL ends
# a session-level identity before the connection serves another client.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QilinRbacTest;

my $clients = 8;
my $per_client = 400;
my $pool_size = 2;

my $node = PostgreSQL::Test::Cluster->new('pooled');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nmax_connections = 40\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE shop');
fixture($node, 'shop');

# one tenant and one key per client, three products each; the keys sit in
# a table the test's application role may read (a real application would
# hold its own key)
$node->safe_psql('shop', qq{
	CREATE TABLE public.client_keys (client int PRIMARY KEY, key_id bigint, tenant_id bigint, api_key text);
	GRANT SELECT ON public.client_keys TO app;
	INSERT INTO public.client_keys
	SELECT c, k.key_id, t.id, k.api_key
	FROM generate_series(0, $clients - 1) c,
	     LATERAL (SELECT rbac_create_tenant('client_' || c) AS id) t,
	     LATERAL rbac_issue_key('client_' || c, 'key ' || c, '{reader}') k;
	INSERT INTO public.products (tenant_id, name)
	SELECT tenant_id, 'p' || client || '_' || i FROM public.client_keys, generate_series(1, 3) i;
	CREATE TABLE public.seen (client int, kind text, pid int, principal bigint,
	                          tenants bigint[], nrows bigint);
	GRANT INSERT ON public.seen TO app;
});

my $dir = $node->basedir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $nport = $node->port;
open my $ini, '>', "$dir/pgbouncer.ini" or die;
print $ini <<"CONF";
[databases]
shop = host=$host port=$nport dbname=shop
shop_session = host=$host port=$nport dbname=shop pool_mode=session pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 100
server_reset_query = DISCARD ALL
logfile = $dir/pgbouncer.log
CONF
close $ini;
open my $users, '>', "$dir/userlist.txt" or die;
print $users qq{"app" ""\n};
close $users;

my $pgbouncer = -x '/usr/sbin/pgbouncer' ? '/usr/sbin/pgbouncer' : 'pgbouncer';
my $bouncer = IPC::Run::start([ $pgbouncer, "$dir/pgbouncer.ini" ],
	'>', "$dir/pgbouncer.out", '2>&1');
my $ready = 0;
for (1 .. 100)
{
	if (run_log([ 'psql', '-XAtq', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'shop',
		'-c', 'SELECT 1' ]))
	{
		$ready = 1;
		last;
	}
	select(undef, undef, undef, 0.1);
}
ok($ready, 'pgbouncer accepts connections');

# nine transactions in ten authenticate, one in ten does not
open my $auth, '>', "$dir/auth.sql" or die;
print $auth <<'SQL';
BEGIN;
SELECT rbac_authenticate(api_key) FROM public.client_keys WHERE client = :client_id;
INSERT INTO public.seen
SELECT :client_id, 'auth', pg_backend_pid(), rbac_current_principal(),
       array_agg(DISTINCT tenant_id), count(*)
FROM public.products;
COMMIT;
SQL
close $auth;
open my $anon, '>', "$dir/anon.sql" or die;
print $anon <<'SQL';
BEGIN;
INSERT INTO public.seen
SELECT :client_id, 'anon', pg_backend_pid(), rbac_current_principal(),
       array_agg(DISTINCT tenant_id), count(*)
FROM public.products;
COMMIT;
SQL
close $anon;

my $total = $clients * $per_client;
command_ok([ 'pgbench', '-n', '-h', '127.0.0.1', '-p', $port, '-U', 'app',
	'-c', $clients, '-j', 2, '-t', $per_client,
	'-f', "$dir/auth.sql\@9", '-f', "$dir/anon.sql\@1", 'shop' ],
	"pgbench: $clients clients, $total transactions through pgbouncer");

is($node->safe_psql('shop', 'SELECT count(*) FROM public.seen'), $total,
	'every transaction recorded what it saw');
my $pids = $node->safe_psql('shop', 'SELECT count(DISTINCT pid) FROM public.seen');
ok($pids <= $pool_size, "$clients clients shared $pids server connections");
is($node->safe_psql('shop', q{
	SELECT count(*) FROM public.seen s JOIN public.client_keys k USING (client)
	WHERE s.kind = 'auth'
	  AND (s.principal IS DISTINCT FROM k.key_id OR s.nrows <> 3
	       OR s.tenants IS DISTINCT FROM ARRAY[k.tenant_id])}),
	'0', 'every authenticated transaction saw exactly its own tenant\'s rows');
is($node->safe_psql('shop', q{
	SELECT count(*) FROM public.seen
	WHERE kind = 'anon' AND (principal IS NOT NULL OR nrows <> 0)}),
	'0', 'no transaction without authentication saw a row or had an identity');
my $anon_count = $node->safe_psql('shop', q{SELECT count(*) FROM public.seen WHERE kind = 'anon'});
ok($anon_count > 0, "unauthenticated transactions ran ($anon_count)");
is($node->safe_psql('shop', q{
	SELECT count(*) > 0 FROM public.seen a
	WHERE a.kind = 'anon'
	  AND EXISTS (SELECT 1 FROM public.seen b WHERE b.kind = 'auth' AND b.pid = a.pid)}),
	't', 'unauthenticated transactions ran on connections keys had used');

# session pooling: an identity set for the session does not survive the
# pooler's DISCARD ALL into the next client's session
my $key0 = $node->safe_psql('shop', 'SELECT api_key FROM public.client_keys WHERE client = 0');
my @psql = ('psql', '-XAtq', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'shop_session');
my ($out1, $out2, $err);
IPC::Run::run([ @psql, '-c',
	"SELECT rbac_authenticate('$key0', false) IS NOT NULL, pg_backend_pid()" ],
	'>', \$out1, '2>', \$err);
IPC::Run::run([ @psql, '-c',
	"SELECT rbac_current_principal() IS NULL, pg_backend_pid(), (SELECT count(*) FROM public.products)" ],
	'>', \$out2, '2>', \$err);
chomp($out1, $out2);
my ($ok1, $pid1) = split /\|/, ($out1 // '');
my ($null2, $pid2, $rows2) = split /\|/, ($out2 // '');
is($ok1, 't', 'session pooling: first client authenticates for its session');
is($pid2, $pid1, 'session pooling: the next client gets the same server connection');
is("$null2|$rows2", 't|0', 'session pooling: after DISCARD ALL no identity and no rows');

$bouncer->signal('INT');
$bouncer->finish;
$node->stop;
done_testing();
