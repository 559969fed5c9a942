# Shared by the TAP tests: ports from QILIN_RBAC_PORT upward, and one
# fixture (two shops, a template role, a group, keys, an RLS table).
package QilinRbacTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(fixture app_read table_digests table_columns);

# Pick ports from the project's port base instead of a random one, so
# concurrent checkouts on one machine keep out of each other's way.
{
	no warnings 'redefine';
	my $next = ($ENV{QILIN_RBAC_PORT} || 59000) + 10;
	*PostgreSQL::Test::Cluster::get_free_port = sub {
		while (1)
		{
			my $port = $next++;
			next if grep { $_->port == $port } @PostgreSQL::Test::Cluster::all_nodes;
			next unless PostgreSQL::Test::Cluster::can_bind('127.0.0.1', $port);
			return $port;
		}
	};
}

# Tenants shop_a (products a1..a3) and shop_b (b1, b2); a template role
# "reader" (product.read); a group "team" holding it in shop_a with member
# alice; keys: ka (shop_a), kb (shop_b), kown (shop_a, owned by alice).
# Returns { ka => secret, kb => ..., kown => ... }.
sub fixture
{
	my ($node, $db) = @_;
	$node->safe_psql($db, q{
		SET client_min_messages = warning;
		DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') THEN
				CREATE ROLE app LOGIN;
			END IF;
		END $$;
		CREATE EXTENSION IF NOT EXISTS qilin_rbac;
		SELECT rbac_create_tenant('shop_a'), rbac_create_tenant('shop_b');
		SELECT rbac_create_role('reader', '{product.read}');
		SELECT rbac_create_principal('team', 'group'), rbac_create_principal('alice');
		SELECT rbac_add_member('team', 'alice');
		SELECT rbac_assign_role('team', 'reader', 'shop_a');
		CREATE TABLE public.products (id serial PRIMARY KEY, tenant_id bigint NOT NULL, name text);
		ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
		CREATE POLICY read ON public.products FOR SELECT
			USING (rbac_has_permission(tenant_id, 'product.read'));
		GRANT SELECT ON public.products TO app;
		INSERT INTO public.products (tenant_id, name)
		SELECT rbac_tenant_id(t), n
		FROM (VALUES ('shop_a', 'a1'), ('shop_a', 'a2'), ('shop_a', 'a3'),
					 ('shop_b', 'b1'), ('shop_b', 'b2')) v(t, n);
	});
	my %keys;
	$keys{ka} = $node->safe_psql($db,
		"SELECT api_key FROM rbac_issue_key('shop_a', 'ka', '{reader}')");
	$keys{kb} = $node->safe_psql($db,
		"SELECT api_key FROM rbac_issue_key('shop_b', 'kb', '{reader}')");
	$keys{kown} = $node->safe_psql($db,
		"SELECT api_key FROM rbac_issue_key('shop_a', 'kown', '{reader}', owner => 'alice')");
	return \%keys;
}

# In one transaction as the role app: authenticate with the key (unless
# undef), then list the product names it can read, comma-separated.
sub app_read
{
	my ($node, $db, $key) = @_;
	my $auth = defined $key ? "SELECT rbac_authenticate('$key') IS NOT NULL;" : "SELECT true;";
	my $out = $node->safe_psql($db,
		"BEGIN; $auth SELECT 'rows:' || coalesce(string_agg(name, ',' ORDER BY name), '') FROM public.products; COMMIT;",
		extra_params => [ '-U', 'app' ]);
	return $out =~ /^rows:(.*)$/m ? $1 : "unexpected output: $out";
}

# The columns of each table of the extension: { table => "a, b, c" }.
sub table_columns
{
	my ($node, $db) = @_;
	my %cols = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql($db, q{
		SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'rbac'::regnamespace AND c.relkind = 'r'
		  AND a.attnum > 0 AND NOT a.attisdropped
		GROUP BY c.relname});
	return \%cols;
}

# One digest per table of the extension (all rows, in a stable order), to
# compare two databases; with $cols (from table_columns) only those tables
# and columns.  Built-in resources are made anew by CREATE EXTENSION, so
# their creation time is left out.
sub table_digests
{
	my ($node, $db, $cols) = @_;
	$cols //= table_columns($node, $db);
	my @out;
	for my $t (sort keys %$cols)
	{
		my $row = $t eq 'resources'
		  ? "(t.name, t.builtin, CASE WHEN NOT t.builtin THEN t.created_at END)::text"
		  : "ROW($cols->{$t})::text";
		my $d = $node->safe_psql($db,
			"SELECT count(*) || ':' || md5(coalesce(string_agg($row, '|' ORDER BY $row), '')) FROM rbac.\"$t\" t");
		push @out, "$t=$d";
	}
	return join(' ', @out);
}

1;
