/*
 * cache.c
 *		Per-backend authorization cache.
 *
 * For the current principal and environment the cache holds, per tenant, a
 * bitmap of the concrete permissions held there, resolved from roles,
 * templates, groups, patterns, expiry and owner intersection by resolve()
 * below, which follows the same rules as the SQL function rbac._effective
 * (used by the administrative reports) with a few kept plans and no
 * PL/pgSQL.  The map is an open-addressing table keyed by tenant id, so a
 * check is a multiply, a probe and a bit test, with no SPI and no catalog
 * access.  Role bitmaps are kept across principals, so that a new API key
 * per transaction is cheap: authentication reads the key's roles with the
 * key and fills the map directly (rbac_cache_prime_key).
 *
 * Bit positions come from the registry (rbac.actions, ordered), loaded into
 * the same cache.  Any change to the extension's tables fires a
 * statement-level trigger that sends a relcache invalidation for
 * rbac.tenants (the "sentinel"), as pg_cron does for its job cache; the
 * relcache callback below marks everything stale.  Committed invalidations
 * are WAL-logged, so hot standbys see them when they replay the change.
 * Expiring assignments and keys need no invalidation: the cache remembers
 * the first moment at which anything it was built from expires.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "cache.h"
#include "permission.h"
#include "session.h"

typedef struct RegistryEntry
{
	RbacPermParts parts;
} RegistryEntry;

typedef struct TenantEntry
{
	int64		tenant_id;		/* hash key */
	uint64		bits[FLEXIBLE_ARRAY_MEMBER];
} TenantEntry;

typedef struct RoleEntry
{
	int64		role_id;		/* hash key */
	bool		has_deny;		/* any deny bit set */
	/* registry_words of allow bits, then registry_words of deny bits */
	uint64		bits[FLEXIBLE_ARRAY_MEMBER];
} RoleEntry;

#define ROLE_DENY(r) (&(r)->bits[registry_words])

/* Role bitmaps kept at most; past this the role cache starts afresh. */
#define RBAC_ROLE_CACHE_MAX 65536

static void cache_relcache_callback(Datum arg, Oid relid);
static void cache_rebuild(bool has_principal, int64 principal_id,
						  const char *env);
static void load_registry(void);
static void load_tenants(int64 principal_id, const char *env, TimestampTz at);
static Oid	sentinel_relid(void);
static int	int64_cmp(const void *a, const void *b);
static void cache_slow_path(void);

PG_FUNCTION_INFO_V1(rbac_invalidate_trigger);
PG_FUNCTION_INFO_V1(rbac_has_permission_tenant);

/* Invalidation state: bumped by the relcache callback. */
static uint64 inval_count = 0;
static Oid	cached_sentinel = InvalidOid;

/* Registry: bit i stands for registry[i]. */
static MemoryContext RegistryContext = NULL;
static RegistryEntry *registry = NULL;
static int	registry_len = 0;
static int	registry_words = 0;
static uint64 registry_gen = 0;
static bool registry_loaded = false;

/* Role id -> bitmap of the permissions its patterns cover. */
static MemoryContext RoleContext = NULL;
static HTAB *role_map = NULL;

/*
 * Authorization map for one principal and environment: an open-addressing
 * table of tab_cap slots (a power of two), tenant ids in tab_keys and
 * their bitmaps, registry_words each, in tab_bits.
 */
static MemoryContext AuthContext = NULL;
static int	tab_cap = 0;
static int	tab_shift = 64;
static int	tab_count = 0;
static int64 *tab_keys = NULL;
static bool *tab_used = NULL;
static uint64 *tab_bits = NULL;
static bool auth_valid = false;
static bool auth_has_principal = false;
static int64 auth_principal = 0;
static bool auth_has_env = false;
static char auth_env[RBAC_ENV_MAXLEN + 1];
static TimestampTz auth_valid_until = DT_NOEND;

/* Fast-path guards: what the map was last confirmed for. */
static uint64 seen_identity_gen = 0;
static Oid	seen_userid = InvalidOid;
static TimestampTz seen_stmt = 0;

/* Mapping of the current database role to a principal (pg_role). */
static bool map_valid = false;
static Oid	map_userid = InvalidOid;
static bool map_found = false;
static int64 map_principal = 0;

/* Memo of the last tenant probed, for scans ordered by tenant. */
static int64 last_tenant = 0;
static const uint64 *last_bits = NULL;
static bool last_valid = false;

/*
 * Masks of the permissions call sites asked for lately (allocated in
 * RegistryContext, valid for one registry generation).
 */
#define MASK_MEMO_SIZE 8
typedef struct MaskMemo
{
	uint64		registry_gen;	/* 0: empty */
	int			len;
	char		text[RBAC_PERM_MAXLEN + 1];
	uint64	   *mask;
} MaskMemo;

static MaskMemo mask_memo[MASK_MEMO_SIZE];
static int	mask_memo_next = 0;

static RbacCacheStats stats;

void
rbac_cache_init(void)
{
	RegistryContext = AllocSetContextCreate(CacheMemoryContext,
											"qilin_rbac registry",
											ALLOCSET_SMALL_SIZES);
	RoleContext = AllocSetContextCreate(CacheMemoryContext,
										"qilin_rbac role cache",
										ALLOCSET_DEFAULT_SIZES);
	AuthContext = AllocSetContextCreate(CacheMemoryContext,
										"qilin_rbac authorization cache",
										ALLOCSET_DEFAULT_SIZES);
	CacheRegisterRelcacheCallback(cache_relcache_callback, (Datum) 0);
}

static void
cache_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_sentinel)
		rbac_invalidate_all();
}

/* Mark everything stale; the next check rebuilds. */
void
rbac_invalidate_all(void)
{
	inval_count++;
	stats.invalidations++;
	auth_valid = false;
	map_valid = false;
	registry_loaded = false;
	last_valid = false;
}

/*
 * Run catalog queries as the bootstrap superuser, with a safe search_path,
 * whoever called us: the application role has no rights on rbac.* and may
 * have set a hostile search_path.  The same technique as the RI triggers
 * (SetUserIdAndSecContext with SECURITY_LOCAL_USERID_CHANGE).  On error the
 * (sub)transaction abort restores both.
 */
void
rbac_priv_enter(RbacPrivState *state)
{
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	state->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
rbac_priv_exit(RbacPrivState *state)
{
	AtEOXact_GUC(false, state->save_nestlevel);
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
}

/*
 * The moment checks are made at: the start of the current statement, so a
 * statement sees one consistent answer.
 */
TimestampTz
rbac_check_time(void)
{
	return GetCurrentStatementStartTimestamp();
}

static Oid
sentinel_relid(void)
{
	Oid			nsp = get_namespace_oid("rbac", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return get_relname_relid("tenants", nsp);
}

/*
 * Statement-level trigger on every table of the extension: tell every
 * backend (and, through WAL, every standby) that the cache is stale.
 */
Datum
rbac_invalidate_trigger(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rbac_invalidate_trigger must be called as a trigger")));
	relid = sentinel_relid();
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_POINTER(NULL);
}

static void
load_registry(void)
{
	int			ret;
	uint64		i;
	MemoryContext oldcxt;

	ret = SPI_execute("SELECT resource, action FROM rbac.actions "
					  "ORDER BY resource COLLATE \"C\", action COLLATE \"C\"",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed loading the permission registry: %d", ret);

	MemoryContextReset(RegistryContext);
	MemoryContextReset(RoleContext);
	role_map = NULL;
	registry = NULL;
	registry_len = 0;
	oldcxt = MemoryContextSwitchTo(RegistryContext);
	registry = palloc0(sizeof(RegistryEntry) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *res = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *act = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		strlcpy(registry[i].parts.resource, res, sizeof(registry[i].parts.resource));
		strlcpy(registry[i].parts.action, act, sizeof(registry[i].parts.action));
	}
	MemoryContextSwitchTo(oldcxt);
	registry_len = (int) SPI_processed;
	registry_words = Max(1, (registry_len + 63) / 64);
	registry_gen++;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Home slot of a tenant in the authorization table (Fibonacci hashing). */
static inline int
tab_slot(int64 tenant_id)
{
	return (int) (((uint64) tenant_id * UINT64CONST(0x9E3779B97F4A7C15)) >> tab_shift);
}

/* The bitmap held in a tenant, or NULL when nothing is held there. */
static inline const uint64 *
tab_find(int64 tenant_id)
{
	int			slot;

	if (tab_count == 0)
		return NULL;
	slot = tab_slot(tenant_id);
	while (tab_used[slot])
	{
		if (tab_keys[slot] == tenant_id)
			return &tab_bits[slot * registry_words];
		slot = (slot + 1) & (tab_cap - 1);
	}
	return NULL;
}

/*
 * Kept plans for resolving a principal's permissions.  They are prepared
 * once per backend (the plan cache re-plans them after DDL), with every
 * name schema-qualified, and run as the bootstrap superuser.
 */
static SPIPlanPtr
keep_plan(SPIPlanPtr *slot, const char *query, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(query, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return *slot;
}

static SPIPlanPtr key_plan = NULL;
static SPIPlanPtr assign_plan = NULL;
static SPIPlanPtr roleperm_plan = NULL;

/* Run a kept plan on the latest snapshot (see load_tenants). */
static void
run_plan(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
										   InvalidSnapshot, true, false, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %d", ret);
}

static inline void
until_min(TimestampTz *until, TimestampTz t)
{
	if (t < *until)
		*until = t;
}

/*
 * The bitmaps of a role: the allow and deny patterns of the role and of
 * every role it includes, expanded against the registry.  They come from
 * rbac._role_rules(), the one place that knows how roles compose, so the
 * reports written in SQL and this cache never disagree.  Roles
 * are shared by many principals (every key issued with the same role), so
 * their bitmaps survive a change of principal and are dropped only with
 * the registry, on invalidation.
 */
static void
load_roles(int64 *role_ids, int nroles)
{
	Datum	   *missing = palloc(sizeof(Datum) * Max(nroles, 1));
	int			nmissing = 0;
	int			i;
	Datum		values[1];
	uint64		r;
	Oid			argtypes[1] = {INT8ARRAYOID};

	if (role_map == NULL ||
		hash_get_num_entries(role_map) + nroles > RBAC_ROLE_CACHE_MAX)
	{
		HASHCTL		ctl;

		MemoryContextReset(RoleContext);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = offsetof(RoleEntry, bits) + 2 * sizeof(uint64) * registry_words;
		ctl.hcxt = RoleContext;
		role_map = hash_create("qilin_rbac roles", 256, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	for (i = 0; i < nroles; i++)
	{
		bool		found;
		RoleEntry  *e = hash_search(role_map, &role_ids[i], HASH_ENTER, &found);

		if (!found)
		{
			e->has_deny = false;
			memset(e->bits, 0, 2 * sizeof(uint64) * registry_words);
			missing[nmissing++] = Int64GetDatum(role_ids[i]);
		}
	}
	if (nmissing == 0)
		return;

	values[0] = PointerGetDatum(construct_array(missing, nmissing, INT8OID,
												sizeof(int64), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	run_plan(keep_plan(&roleperm_plan,
					   "SELECT role_id, permission, deny FROM rbac._role_rules($1)",
					   1, argtypes),
			 values, NULL);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		role_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
														  SPI_tuptable->tupdesc, 1, &isnull));
		Datum		perm = SPI_getbinval(SPI_tuptable->vals[r],
										 SPI_tuptable->tupdesc, 2, &isnull);
		bool		deny = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r],
													  SPI_tuptable->tupdesc, 3, &isnull));
		RoleEntry  *e = hash_search(role_map, &role_id, HASH_FIND, NULL);
		uint64	   *target;
		RbacPermParts pattern;
		int			k;

		if (e == NULL)
			continue;
		target = deny ? ROLE_DENY(e) : e->bits;
		rbac_permission_datum_parts(perm, &pattern);
		for (k = 0; k < registry_len; k++)
			if (rbac_parts_cover(&pattern, &registry[k].parts))
			{
				target[k / 64] |= UINT64CONST(1) << (k % 64);
				if (deny)
					e->has_deny = true;
			}
	}
}

/*
 * Effective permissions of a principal at a moment, into map (tenant ->
 * bitmap): the same rules as the SQL function rbac._effective, which the
 * administrative reports use.  A key acts only in its own tenant, only
 * while live, and never beyond its owner there.  *until is lowered to the
 * first moment the answer could change without any table changing.
 */
static void
resolve(HTAB *map, int64 principal_id, const char *env, TimestampTz at,
		bool one_tenant, int64 tenant_id, TimestampTz *until, int depth)
{
	Oid			keytypes[1] = {INT8OID};
	Oid			argtypes[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		is_key = false;
	bool		has_owner = false;
	int64		owner_id = 0;
	int64	   *tenants;
	int64	   *roles;
	uint64		n,
				i;

	check_stack_depth();
	if (depth > 8)
		elog(ERROR, "API key owners nest too deeply");

	values[0] = Int64GetDatum(principal_id);
	run_plan(keep_plan(&key_plan,
					   "SELECT tenant_id, owner_id, expires_at, revoked_at "
					   "FROM rbac.api_keys WHERE principal_id OPERATOR(pg_catalog.=) $1",
					   1, keytypes),
			 values, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		key_tenant = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		Datum		d;

		is_key = true;
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
		{
			has_owner = true;
			owner_id = DatumGetInt64(d);
		}
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
		{
			if (DatumGetTimestampTz(d) <= at)
				return;
			until_min(until, DatumGetTimestampTz(d));
		}
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
		{
			if (DatumGetTimestampTz(d) <= at)
				return;
			until_min(until, DatumGetTimestampTz(d));
		}
		if (one_tenant && tenant_id != key_tenant)
			return;
		one_tenant = true;
		tenant_id = key_tenant;
	}

	values[1] = env ? CStringGetTextDatum(env) : (Datum) 0;
	nulls[1] = env ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(at);
	values[3] = one_tenant ? Int64GetDatum(tenant_id) : (Datum) 0;
	nulls[3] = one_tenant ? ' ' : 'n';
	run_plan(keep_plan(&assign_plan,
					   "WITH RECURSIVE h(id) AS ("
					   "  SELECT $1"
					   "  UNION"
					   "  SELECT gm.group_id FROM rbac.group_members gm"
					   "  JOIN h ON gm.member_id OPERATOR(pg_catalog.=) h.id) "
					   "SELECT a.tenant_id, a.role_id, a.expires_at "
					   "FROM h JOIN rbac.assignments a ON a.principal_id OPERATOR(pg_catalog.=) h.id "
					   "WHERE (a.environment IS NULL OR a.environment OPERATOR(pg_catalog.=) $2) "
					   "  AND (a.expires_at IS NULL OR a.expires_at OPERATOR(pg_catalog.>) $3) "
					   "  AND ($4 IS NULL OR a.tenant_id OPERATOR(pg_catalog.=) $4)",
					   4, argtypes),
			 values, nulls);

	/* copy out: loading roles and the owner reuse SPI_tuptable */
	n = SPI_processed;
	tenants = palloc(sizeof(int64) * Max(n, 1));
	roles = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		tenants[i] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		roles[i] = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
			until_min(until, DatumGetTimestampTz(d));
	}
	load_roles(roles, (int) n);
	for (i = 0; i < n; i++)
	{
		RoleEntry  *r = hash_search(role_map, &roles[i], HASH_FIND, NULL);
		TenantEntry *e;
		bool		found;
		int			w;

		if (r == NULL)
			continue;
		e = hash_search(map, &tenants[i], HASH_ENTER, &found);
		if (!found)
			memset(e->bits, 0, sizeof(uint64) * registry_words);
		for (w = 0; w < registry_words; w++)
			e->bits[w] |= r->bits[w];
	}

	/*
	 * A deny from any live assignment in a tenant beats every allow there,
	 * so denies are applied only once all allows are in.
	 */
	for (i = 0; i < n; i++)
	{
		RoleEntry  *r = hash_search(role_map, &roles[i], HASH_FIND, NULL);
		TenantEntry *e;
		int			w;

		if (r == NULL || !r->has_deny)
			continue;
		e = hash_search(map, &tenants[i], HASH_FIND, NULL);
		if (e == NULL)
			continue;
		for (w = 0; w < registry_words; w++)
			e->bits[w] &= ~ROLE_DENY(r)[w];
	}

	if (is_key && has_owner)
	{
		TenantEntry *mine = hash_search(map, &tenant_id, HASH_FIND, NULL);

		if (mine != NULL)
		{
			HASHCTL		ctl;
			HTAB	   *owner_map;
			TenantEntry *theirs;
			int			w;

			memset(&ctl, 0, sizeof(ctl));
			ctl.keysize = sizeof(int64);
			ctl.entrysize = offsetof(TenantEntry, bits) + sizeof(uint64) * registry_words;
			ctl.hcxt = CurrentMemoryContext;
			owner_map = hash_create("qilin_rbac owner", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			resolve(owner_map, owner_id, env, at, true, tenant_id, until, depth + 1);
			theirs = hash_search(owner_map, &tenant_id, HASH_FIND, NULL);
			for (w = 0; w < registry_words; w++)
				mine->bits[w] &= theirs ? theirs->bits[w] : 0;
			hash_destroy(owner_map);
		}
	}
	pfree(tenants);
	pfree(roles);
}

static bool
bits_empty(const uint64 *bits)
{
	int			w;

	for (w = 0; w < registry_words; w++)
		if (bits[w] != 0)
			return false;
	return true;
}

/*
 * An open-addressing table for n tenants, at most half full: a check is
 * then one multiply, a shift and usually one compare.
 */
static void
tab_alloc(int n)
{
	int			cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	tab_cap = cap;
	tab_shift = 64 - pg_leftmost_one_pos64((uint64) cap);
	tab_count = n;
	tab_keys = MemoryContextAlloc(AuthContext, sizeof(int64) * cap);
	tab_used = MemoryContextAllocZero(AuthContext, sizeof(bool) * cap);
	tab_bits = MemoryContextAllocZero(AuthContext, sizeof(uint64) * registry_words * cap);
}

static void
tab_insert(int64 tenant_id, const uint64 *bits)
{
	int			slot = tab_slot(tenant_id);

	while (tab_used[slot])
		slot = (slot + 1) & (tab_cap - 1);
	tab_used[slot] = true;
	tab_keys[slot] = tenant_id;
	memcpy(&tab_bits[slot * registry_words], bits, sizeof(uint64) * registry_words);
}

static void
load_tenants(int64 principal_id, const char *env, TimestampTz at)
{
	HASHCTL		ctl;
	HTAB	   *map;
	HASH_SEQ_STATUS seq;
	TenantEntry *e;
	TimestampTz until = DT_NOEND;
	int			n = 0;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = offsetof(TenantEntry, bits) + sizeof(uint64) * registry_words;
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("qilin_rbac resolution", 64, &ctl,
					  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/*
	 * Use the latest snapshot, not the transaction's: an invalidation that
	 * arrives inside a repeatable-read transaction must not be answered by
	 * rebuilding from data older than the change that caused it.
	 */
	resolve(map, principal_id, env, at, false, 0, &until, 0);
	auth_valid_until = until;

	/* freeze into the table; tenants where nothing is held are left out */
	hash_seq_init(&seq, map);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (!bits_empty(e->bits))
			n++;
	tab_alloc(n);
	hash_seq_init(&seq, map);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (!bits_empty(e->bits))
			tab_insert(e->tenant_id, e->bits);
	hash_destroy(map);
}

/*
 * Rebuild the registry (if stale) and the map for this principal (an empty
 * map when there is none).  Loops if an invalidation arrived while we were
 * reading, so a concurrent change is never lost.
 */
static void
cache_rebuild(bool has_principal, int64 principal_id, const char *env)
{
	RbacPrivState priv;

	stats.rebuilds++;
	for (;;)
	{
		uint64		start = inval_count;

		cached_sentinel = sentinel_relid();
		if (!OidIsValid(cached_sentinel))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("qilin_rbac is not installed in this database"),
					 errhint("Run CREATE EXTENSION qilin_rbac.")));

		MemoryContextReset(AuthContext);
		tab_cap = 0;
		tab_count = 0;
		tab_keys = NULL;
		tab_used = NULL;
		tab_bits = NULL;
		last_valid = false;
		auth_valid = false;
		auth_valid_until = DT_NOEND;

		rbac_priv_enter(&priv);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (!registry_loaded)
			load_registry();
		if (has_principal)
			load_tenants(principal_id, env, rbac_check_time());
		SPI_finish();
		rbac_priv_exit(&priv);

		registry_loaded = true;
		if (inval_count == start)
			break;
	}
	auth_valid = true;
	auth_has_principal = has_principal;
	auth_principal = principal_id;
	auth_has_env = (env != NULL);
	if (env)
		strlcpy(auth_env, env, sizeof(auth_env));
}

/* The invalidation count, to tell whether one arrived meanwhile. */
uint64
rbac_cache_inval_mark(void)
{
	return inval_count;
}

/*
 * Fill the cache for an API key that was just authenticated, from what the
 * authentication probe read along with the key: its live roles in its
 * tenant and environment, and when the first of them expires.  This is
 * what resolve() would find for a key that has no owner and belongs to no
 * group, so a new key per transaction costs no further query.  Declines
 * (and leaves the next check to rebuild as usual) whenever anything else
 * could matter: an owner, a group, a role whose bitmap is not cached, an
 * environment other than the key's, or an invalidation since mark.
 */
void
rbac_cache_prime_key(const RbacKeyPrime *k, uint64 mark)
{
	const char *env = rbac_session_environment();
	uint64	   *bits;
	int			i;

	if (inval_count != mark || !registry_loaded || role_map == NULL ||
		!OidIsValid(cached_sentinel) || k->has_owner || k->in_group ||
		env == NULL || strcmp(env, k->env) != 0)
		return;
	bits = palloc0(2 * sizeof(uint64) * registry_words);
	for (i = 0; i < k->nroles; i++)
	{
		RoleEntry  *r = hash_search(role_map, &k->roles[i], HASH_FIND, NULL);
		int			w;

		if (r == NULL)
		{
			pfree(bits);
			return;
		}
		for (w = 0; w < registry_words; w++)
		{
			bits[w] |= r->bits[w];
			bits[registry_words + w] |= ROLE_DENY(r)[w];
		}
	}
	/* denies beat allows, as in resolve() */
	for (i = 0; i < registry_words; i++)
		bits[i] &= ~bits[registry_words + i];

	stats.rebuilds++;
	MemoryContextReset(AuthContext);
	last_valid = false;
	tab_alloc(bits_empty(bits) ? 0 : 1);
	if (!bits_empty(bits))
		tab_insert(k->tenant_id, bits);
	pfree(bits);
	auth_valid_until = k->valid_until;
	auth_valid = true;
	auth_has_principal = true;
	auth_principal = k->key_id;
	auth_has_env = true;
	strlcpy(auth_env, k->env, sizeof(auth_env));
	seen_identity_gen = rbac_identity_generation;
	seen_userid = GetUserId();
}

/* The principal mapped to the current database role, if any. */
static bool
mapped_principal(int64 *principal_id)
{
	Oid			userid = GetUserId();

	if (!map_valid || map_userid != userid)
	{
		RbacPrivState priv;
		uint64		start = inval_count;
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		char	   *rolname = GetUserNameFromId(userid, false);
		int			ret;

		if (!OidIsValid(sentinel_relid()))
			return false;
		values[0] = CStringGetTextDatum(rolname);
		rbac_priv_enter(&priv);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT id FROM rbac.principals "
									"WHERE pg_role = $1::name",
									1, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_with_args failed: %d", ret);
		map_found = (SPI_processed == 1);
		if (map_found)
		{
			bool		isnull;

			map_principal = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
		rbac_priv_exit(&priv);
		map_userid = userid;
		map_valid = (inval_count == start);
	}
	*principal_id = map_principal;
	return map_found;
}

bool
rbac_current_principal_id(int64 *principal_id)
{
	const RbacIdentity *id = rbac_session_current();

	if (id != NULL)
	{
		*principal_id = id->principal_id;
		return true;
	}
	return mapped_principal(principal_id);
}

/*
 * Everything that is not a plain hit: a new identity, an invalidation, an
 * expiry.  Leaves auth_* describing the current principal.
 */
static void
cache_slow_path(void)
{
	int64		principal_id = 0;
	bool		has_principal;
	const char *env;

	stats.misses++;
	has_principal = rbac_current_principal_id(&principal_id);
	env = rbac_session_environment();

	if (!auth_valid || !registry_loaded ||
		auth_has_principal != has_principal ||
		(has_principal &&
		 (auth_principal != principal_id ||
		  auth_has_env != (env != NULL) ||
		  (env != NULL && strcmp(env, auth_env) != 0) ||
		  rbac_check_time() >= auth_valid_until)))
		cache_rebuild(has_principal, principal_id, env);

	seen_identity_gen = rbac_identity_generation;
	seen_userid = GetUserId();
}

/*
 * Make sure the cache answers for the current principal now.  The common
 * case is three comparisons.  Once per statement we also take in pending
 * invalidations, so a change committed by another session is seen by the
 * next statement even inside an open transaction block.
 */
static inline void
cache_ensure(void)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	if (unlikely(stmt != seen_stmt))
	{
		seen_stmt = stmt;
		AcceptInvalidationMessages();
		if (stmt >= auth_valid_until)
			auth_valid = false;
	}
	if (likely(auth_valid &&
			   seen_identity_gen == rbac_identity_generation &&
			   seen_userid == GetUserId()))
	{
		stats.hits++;
		return;
	}
	cache_slow_path();
}

/*
 * The call site's permission as a bit mask.  Unknown names are an error
 * here (22023), naming the unknown part.  A pattern ("pipeline.*") asks for
 * every permission it covers.
 */
static bool
compute_mask(const RbacPermParts *parts, uint64 *mask,
			 bool *resource_known, bool *action_known)
{
	bool		any = false;
	int			i;

	*resource_known = false;
	*action_known = false;
	memset(mask, 0, sizeof(uint64) * registry_words);
	for (i = 0; i < registry_len; i++)
	{
		const RbacPermParts *r = &registry[i].parts;

		if (parts->resource[0] == '*' || strcmp(parts->resource, r->resource) == 0)
			*resource_known = true;
		if (parts->action[0] == '*' || strcmp(parts->action, r->action) == 0)
			*action_known = true;
		if (rbac_parts_cover(parts, r))
		{
			mask[i / 64] |= UINT64CONST(1) << (i % 64);
			any = true;
		}
	}
	return any;
}

RbacCallSite *
rbac_callsite(FunctionCallInfo fcinfo, Datum permission)
{
	RbacCallSite *cs = (RbacCallSite *) fcinfo->flinfo->fn_extra;
	text	   *t;
	int			len;
	RbacPermParts parts;
	bool		resource_known;
	bool		action_known;
	int			i;

	cache_ensure();

	/*
	 * A constant argument (the policy's 'product.read') was parsed on the
	 * first row; it cannot change within the query.
	 */
	if (likely(cs != NULL && cs->registry_gen == registry_gen && cs->constant))
		return cs;

	t = DatumGetTextPP(permission);
	len = VARSIZE_ANY_EXHDR(t);
	if (cs != NULL && cs->registry_gen == registry_gen &&
		cs->len == len && memcmp(cs->text, VARDATA_ANY(t), len) == 0)
		return cs;

	if (cs == NULL)
	{
		cs = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RbacCallSite));
		fcinfo->flinfo->fn_extra = cs;
	}
	if (cs->mask == NULL || cs->nwords < registry_words)
	{
		if (cs->mask)
			pfree(cs->mask);
		cs->mask = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
										  sizeof(uint64) * registry_words);
	}
	cs->nwords = registry_words;
	cs->registry_gen = 0;		/* invalid until fully computed */

	/*
	 * The executor gives every execution of a statement fresh call sites;
	 * the masks of the permissions seen lately are kept with the registry
	 * so that a point lookup does not parse its policy's permission again.
	 */
	for (i = 0; i < MASK_MEMO_SIZE; i++)
	{
		MaskMemo   *m = &mask_memo[i];

		if (m->registry_gen == registry_gen && m->len == len &&
			memcmp(m->text, VARDATA_ANY(t), len) == 0)
		{
			memcpy(cs->mask, m->mask, sizeof(uint64) * registry_words);
			memcpy(cs->text, m->text, len + 1);
			cs->len = len;
			cs->constant = get_fn_expr_arg_stable(fcinfo->flinfo, PG_NARGS() - 1);
			cs->registry_gen = registry_gen;
			return cs;
		}
	}

	rbac_permission_datum_parts(permission, &parts);
	if (!compute_mask(&parts, cs->mask, &resource_known, &action_known))
	{
		if (!resource_known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown resource \"%s\"", parts.resource),
					 errdetail("Resources must be registered with rbac_register_resource before they are checked.")));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown action \"%s\" for resource \"%s\"",
						parts.action, parts.resource),
				 errdetail(action_known ? "The action is registered, but not for this resource." :
						   "No resource has this action registered.")));
	}
	memcpy(cs->text, VARDATA_ANY(t), len);
	cs->text[len] = '\0';		/* messages print it; may follow a longer one */
	cs->len = len;
	cs->constant = get_fn_expr_arg_stable(fcinfo->flinfo, PG_NARGS() - 1);
	cs->registry_gen = registry_gen;

	{
		MaskMemo   *m = &mask_memo[mask_memo_next];

		mask_memo_next = (mask_memo_next + 1) % MASK_MEMO_SIZE;
		m->mask = MemoryContextAlloc(RegistryContext, sizeof(uint64) * registry_words);
		memcpy(m->mask, cs->mask, sizeof(uint64) * registry_words);
		memcpy(m->text, cs->text, len + 1);
		m->len = len;
		m->registry_gen = registry_gen;
	}
	return cs;
}

/* Does the bitmap hold every permission of the mask? */
static inline bool
bits_cover(const uint64 *bits, const uint64 *mask, int nwords)
{
	int			w;

	for (w = 0; w < nwords; w++)
		if ((bits[w] & mask[w]) != mask[w])
			return false;
	return true;
}

/*
 * The tenants in which the current principal holds every permission of
 * cs, in ascending order, into a palloc'd array; returns how many.
 */
int
rbac_permitted_tenants(RbacCallSite *cs, int64 **tenants)
{
	int			n = 0;
	int			slot;

	*tenants = palloc(sizeof(int64) * Max(tab_count, 1));
	for (slot = 0; slot < tab_cap && tab_count > 0; slot++)
		if (tab_used[slot] &&
			bits_cover(&tab_bits[slot * registry_words], cs->mask, cs->nwords))
			(*tenants)[n++] = tab_keys[slot];
	if (n > 1)
		qsort(*tenants, n, sizeof(int64), int64_cmp);
	return n;
}

/*
 * For the planner: in how many tenants does the current principal hold
 * the permission, out of how many where it holds anything?  False when
 * the permission is unknown (the executor reports that, if it runs).
 */
bool
rbac_plan_permitted_count(Datum permission, int *count)
{
	RbacPermParts parts;
	uint64	   *mask;
	bool		resource_known;
	bool		action_known;
	int			slot;

	cache_ensure();
	{
		text	   *t = DatumGetTextPP(permission);

		if (rbac_permission_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &parts) != RBAC_PERM_OK)
			return false;
	}
	mask = palloc(sizeof(uint64) * registry_words);
	if (!compute_mask(&parts, mask, &resource_known, &action_known))
		return false;
	*count = 0;
	for (slot = 0; slot < tab_cap && tab_count > 0; slot++)
		if (tab_used[slot] &&
			bits_cover(&tab_bits[slot * registry_words], mask, registry_words))
			(*count)++;
	pfree(mask);
	return true;
}

/* Does the current principal hold every permission of cs in tenant_id? */
static inline bool
check_inline(int64 tenant_id, const RbacCallSite *cs)
{
	const uint64 *bits;

	if (last_valid && last_tenant == tenant_id)
		bits = last_bits;
	else
	{
		bits = tab_find(tenant_id);
		last_tenant = tenant_id;
		last_bits = bits;
		last_valid = true;
	}
	if (bits == NULL)
		return false;
	if (likely(cs->nwords == 1))
		return (bits[0] & cs->mask[0]) == cs->mask[0];
	return bits_cover(bits, cs->mask, cs->nwords);
}

bool
rbac_check(int64 tenant_id, RbacCallSite *cs)
{
	/* rbac_callsite ran cache_ensure for this row already */
	return check_inline(tenant_id, cs);
}

/*
 * rbac_has_permission(tenant_id bigint, permission rbac_permission)
 *
 * The hot path: one call per row under a policy.  It lives here rather
 * than in check.c beside the other checkers so that the common case (a
 * constant permission, a cache already confirmed in this statement for
 * this identity) compiles into one function: a handful of compares, a
 * multiply and a bit test.  Deny by default: NULL arguments, no principal
 * or no grant all give false.
 */
Datum
rbac_has_permission_tenant(PG_FUNCTION_ARGS)
{
	RbacCallSite *cs = (RbacCallSite *) fcinfo->flinfo->fn_extra;
	int64		tenant_id;

	if (unlikely(PG_ARGISNULL(0) || PG_ARGISNULL(1)))
		PG_RETURN_BOOL(false);
	tenant_id = PG_GETARG_INT64(0);
	if (likely(cs != NULL && cs->constant && cs->registry_gen == registry_gen &&
			   auth_valid &&
			   seen_stmt == GetCurrentStatementStartTimestamp() &&
			   seen_identity_gen == rbac_identity_generation &&
			   seen_userid == GetUserId()))
	{
		stats.hits++;
		PG_RETURN_BOOL(check_inline(tenant_id, cs));
	}
	PG_RETURN_BOOL(check_inline(tenant_id, rbac_callsite(fcinfo, PG_GETARG_DATUM(1))));
}

void
rbac_cache_stats(RbacCacheStats *out)
{
	*out = stats;
	out->tenants = tab_count;
	out->bytes = MemoryContextMemAllocated(AuthContext, true) +
		MemoryContextMemAllocated(RoleContext, true) +
		MemoryContextMemAllocated(RegistryContext, true);
}
