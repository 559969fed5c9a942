/*
 * cache.h
 *		Per-backend authorization cache and privileged catalog access.
 */
#ifndef QILIN_RBAC_CACHE_H
#define QILIN_RBAC_CACHE_H

#include "fmgr.h"
#include "utils/timestamp.h"

#include "permparse.h"

/*
 * What a call site of a checker remembers between rows: the permission text
 * it last saw and the bit mask it stands for, valid for one registry
 * generation.  Lives in fn_extra.
 */
typedef struct RbacCallSite
{
	uint64		registry_gen;
	int			len;
	char		text[RBAC_PERM_MAXLEN + 1];
	bool		constant;		/* the argument cannot change within the query */
	int			nwords;
	uint64	   *mask;
} RbacCallSite;

/* Saved state of rbac_priv_enter, restored by rbac_priv_exit. */
typedef struct RbacPrivState
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} RbacPrivState;

typedef struct RbacCacheStats
{
	int64		hits;
	int64		misses;
	int64		rebuilds;
	int64		invalidations;
	int64		tenants;
	int64		bytes;
} RbacCacheStats;

/* What authentication read about a valid key, to fill the cache with. */
typedef struct RbacKeyPrime
{
	int64		key_id;
	int64		tenant_id;
	char		env[RBAC_ENV_MAXLEN + 1];
	bool		has_owner;
	bool		in_group;
	int			nroles;
	int64	   *roles;			/* live roles in its tenant and environment */
	TimestampTz valid_until;	/* first expiry or revocation still ahead */
} RbacKeyPrime;

extern void rbac_cache_init(void);
extern uint64 rbac_cache_inval_mark(void);
extern void rbac_cache_prime_key(const RbacKeyPrime *k, uint64 mark);
extern void rbac_priv_enter(RbacPrivState *state);
extern void rbac_priv_exit(RbacPrivState *state);
extern TimestampTz rbac_check_time(void);

extern RbacCallSite *rbac_callsite(FunctionCallInfo fcinfo, Datum permission);
extern bool rbac_check(int64 tenant_id, RbacCallSite *cs);
extern int	rbac_permitted_tenants(RbacCallSite *cs, int64 **tenants);
extern bool rbac_plan_permitted_count(Datum permission, int *count);
extern bool rbac_current_principal_id(int64 *principal_id);
extern void rbac_cache_stats(RbacCacheStats *stats);
extern void rbac_invalidate_all(void);

#endif
