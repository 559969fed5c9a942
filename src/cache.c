/*
 * cache.c
 *		Per-backend authorization cache.
 *
 * For the current principal and environment the cache holds, per tenant, a
 * bitmap of the concrete permissions held there, already resolved from
 * roles, templates, groups, patterns, expiry and owner intersection by the
 * SQL function rbac._effective.  A check is then a hash probe and a bit
 * test, with no SPI and no catalog access.
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

static void cache_relcache_callback(Datum arg, Oid relid);
static void cache_rebuild(bool has_principal, int64 principal_id,
						  const char *env);
static void load_registry(void);
static void load_tenants(int64 principal_id, const char *env, TimestampTz at);
static Oid	sentinel_relid(void);
static void cache_slow_path(void);

PG_FUNCTION_INFO_V1(rbac_invalidate_trigger);

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

/* Authorization map for one principal and environment. */
static MemoryContext AuthContext = NULL;
static HTAB *tenant_map = NULL;
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
static TenantEntry *last_entry = NULL;
static bool last_valid = false;

static RbacCacheStats stats;

void
rbac_cache_init(void)
{
	RegistryContext = AllocSetContextCreate(CacheMemoryContext,
											"qilin_rbac registry",
											ALLOCSET_SMALL_SIZES);
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

/* Index of a concrete permission in the registry, or -1. */
static int
registry_index(const RbacPermParts *p)
{
	int			lo = 0,
				hi = registry_len - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(registry[mid].parts.resource, p->resource);

		if (c == 0)
			c = strcmp(registry[mid].parts.action, p->action);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void
load_tenants(int64 principal_id, const char *env, TimestampTz at)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	SPIPlanPtr	plan;
	int			ret;
	uint64		i;
	HASHCTL		ctl;

	values[0] = Int64GetDatum(principal_id);
	if (env)
		values[1] = CStringGetTextDatum(env);
	else
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';
	}
	values[2] = TimestampTzGetDatum(at);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = offsetof(TenantEntry, bits) + sizeof(uint64) * registry_words;
	ctl.hcxt = AuthContext;
	tenant_map = hash_create("qilin_rbac tenants", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/*
	 * Use the latest snapshot, not the transaction's: an invalidation that
	 * arrives inside a repeatable-read transaction must not be answered by
	 * rebuilding from data older than the change that caused it.
	 */
	plan = SPI_prepare("SELECT tenant_id, permission FROM rbac._effective($1, $2, $3)",
					   3, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %d", ret);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		tenant = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		Datum		perm = SPI_getbinval(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 2, &isnull);
		RbacPermParts parts;
		int			idx;
		TenantEntry *e;
		bool		found;

		rbac_permission_datum_parts(perm, &parts);
		idx = registry_index(&parts);
		if (idx < 0)
			continue;			/* registered after the registry was read */
		e = hash_search(tenant_map, &tenant, HASH_ENTER, &found);
		if (!found)
			memset(e->bits, 0, sizeof(uint64) * registry_words);
		e->bits[idx / 64] |= UINT64CONST(1) << (idx % 64);
	}

	plan = SPI_prepare("SELECT rbac._next_change($1, $2)", 2,
					   (Oid[]) {INT8OID, TIMESTAMPTZOID});
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	values[1] = TimestampTzGetDatum(at);
	nulls[1] = ' ';
	ret = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %d", ret);
	auth_valid_until = DT_NOEND;
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			auth_valid_until = DatumGetTimestampTz(d);
	}
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
		tenant_map = NULL;
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
RbacCallSite *
rbac_callsite(FunctionCallInfo fcinfo, Datum permission)
{
	RbacCallSite *cs = (RbacCallSite *) fcinfo->flinfo->fn_extra;
	text	   *t = DatumGetTextPP(permission);
	int			len = VARSIZE_ANY_EXHDR(t);
	RbacPermParts parts;
	bool		any = false;
	bool		resource_known = false;
	bool		action_known = false;
	int			i;

	cache_ensure();

	if (likely(cs != NULL && cs->registry_gen == registry_gen &&
			   cs->len == len && memcmp(cs->text, VARDATA_ANY(t), len) == 0))
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
	memset(cs->mask, 0, sizeof(uint64) * registry_words);
	cs->registry_gen = 0;		/* invalid until fully computed */

	rbac_permission_datum_parts(permission, &parts);
	for (i = 0; i < registry_len; i++)
	{
		const RbacPermParts *r = &registry[i].parts;

		if (parts.resource[0] == '*' || strcmp(parts.resource, r->resource) == 0)
			resource_known = true;
		if (parts.action[0] == '*' || strcmp(parts.action, r->action) == 0)
			action_known = true;
		if (rbac_parts_cover(&parts, r))
		{
			cs->mask[i / 64] |= UINT64CONST(1) << (i % 64);
			any = true;
		}
	}
	if (!any)
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
	cs->registry_gen = registry_gen;
	return cs;
}

/* Does the current principal hold every permission of cs in tenant_id? */
bool
rbac_check(int64 tenant_id, RbacCallSite *cs)
{
	TenantEntry *e;
	int			w;

	/* rbac_callsite ran cache_ensure for this row already */
	if (!auth_has_principal || tenant_map == NULL)
		return false;
	if (last_valid && last_tenant == tenant_id)
		e = last_entry;
	else
	{
		e = hash_search(tenant_map, &tenant_id, HASH_FIND, NULL);
		last_tenant = tenant_id;
		last_entry = e;
		last_valid = true;
	}
	if (e == NULL)
		return false;
	for (w = 0; w < cs->nwords; w++)
		if ((e->bits[w] & cs->mask[w]) != cs->mask[w])
			return false;
	return true;
}

void
rbac_cache_stats(RbacCacheStats *out)
{
	*out = stats;
	out->tenants = tenant_map ? hash_get_num_entries(tenant_map) : 0;
	out->bytes = MemoryContextMemAllocated(AuthContext, true) +
		MemoryContextMemAllocated(RegistryContext, true);
}
