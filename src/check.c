/*
 * check.c
 *		The checkers called from row-level security policies, and the
 *		functions that report who is acting.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "cache.h"
#include "session.h"

PG_FUNCTION_INFO_V1(rbac_has_permission_current);
PG_FUNCTION_INFO_V1(rbac_require);
PG_FUNCTION_INFO_V1(rbac_permitted_tenants_sql);
PG_FUNCTION_INFO_V1(rbac_current_principal);
PG_FUNCTION_INFO_V1(rbac_current_tenant);
PG_FUNCTION_INFO_V1(rbac_current_environment);
PG_FUNCTION_INFO_V1(rbac_cache_stats_sql);
PG_FUNCTION_INFO_V1(rbac_caller_role);
PG_FUNCTION_INFO_V1(rbac_set_principal);
PG_FUNCTION_INFO_V1(rbac_reset);

/* rbac_has_permission(tenant_id, permission), the policy form, is in cache.c */

/*
 * rbac_permitted_tenants(permission rbac_permission) -> bigint[]
 *
 * The tenants in which the current principal holds the permission, in
 * ascending order.  The planner support function of rbac_has_permission
 * turns a policy's check into "tenant_id = ANY (rbac_permitted_tenants(...))"
 * for an index scan; being stable, it is evaluated once when the scan
 * starts, so a cached plan always answers for the principal of the moment.
 */
Datum
rbac_permitted_tenants_sql(PG_FUNCTION_ARGS)
{
	RbacCallSite *cs;
	int64	   *tenants;
	Datum	   *elems;
	int			n,
				i;

	if (PG_ARGISNULL(0))
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT8OID));
	cs = rbac_callsite(fcinfo, PG_GETARG_DATUM(0));
	n = rbac_permitted_tenants(cs, &tenants);
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(tenants[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* rbac_has_permission(permission): in the authenticated key's tenant */
Datum
rbac_has_permission_current(PG_FUNCTION_ARGS)
{
	const RbacIdentity *id;
	RbacCallSite *cs;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	cs = rbac_callsite(fcinfo, PG_GETARG_DATUM(0));
	id = rbac_session_current();
	if (id == NULL || !id->has_tenant)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(rbac_check(id->tenant_id, cs));
}

/* rbac_require(tenant_id, permission): raise 42501 unless held */
Datum
rbac_require(PG_FUNCTION_ARGS)
{
	RbacCallSite *cs;
	int64		principal_id;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("permission must not be NULL")));
	cs = rbac_callsite(fcinfo, PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: \"%s\" is required, but no tenant was given",
						cs->text)));
	if (!rbac_current_principal_id(&principal_id))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: \"%s\" is required in tenant " INT64_FORMAT ", but nobody is authenticated",
						cs->text, PG_GETARG_INT64(0)),
				 errhint("Call rbac_authenticate() first.")));
	if (!rbac_check(PG_GETARG_INT64(0), cs))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: principal " INT64_FORMAT " lacks \"%s\" in tenant " INT64_FORMAT,
						principal_id, cs->text, PG_GETARG_INT64(0))));
	PG_RETURN_VOID();
}

Datum
rbac_current_principal(PG_FUNCTION_ARGS)
{
	int64		principal_id;

	if (!rbac_current_principal_id(&principal_id))
		PG_RETURN_NULL();
	PG_RETURN_INT64(principal_id);
}

Datum
rbac_current_tenant(PG_FUNCTION_ARGS)
{
	const RbacIdentity *id = rbac_session_current();

	if (id == NULL || !id->has_tenant)
		PG_RETURN_NULL();
	PG_RETURN_INT64(id->tenant_id);
}

Datum
rbac_current_environment(PG_FUNCTION_ARGS)
{
	const char *env = rbac_session_environment();

	if (env == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(env));
}

Datum
rbac_cache_stats_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	RbacCacheStats s;
	Datum		values[6];
	bool		nulls[6] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rbac_cache_stats(&s);
	values[0] = Int64GetDatum(s.hits);
	values[1] = Int64GetDatum(s.misses);
	values[2] = Int64GetDatum(s.rebuilds);
	values[3] = Int64GetDatum(s.invalidations);
	values[4] = Int64GetDatum(s.tenants);
	values[5] = Int64GetDatum(s.bytes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * The database role that called into the extension, as SET ROLE left it:
 * inside a SECURITY DEFINER function current_user is the owner, but the
 * outer user id is still the caller.  For the audit log.
 */
Datum
rbac_caller_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false))));
}

static bool
caller_is_trusted(void)
{
	Oid			admin = get_role_oid("rbac_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * rbac_set_principal(principal text, local boolean): act as a principal
 * without a key.  For trusted roles only (superuser, rbac_admin), e.g. a
 * backend service that has authenticated its user by other means.
 */
Datum
rbac_set_principal(PG_FUNCTION_ARGS)
{
	text	   *name;
	bool		local;
	RbacPrivState priv;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			ret;
	int64		principal_id;
	bool		has_tenant = false;
	int64		tenant_id = 0;
	char		env[RBAC_ENV_MAXLEN + 1];
	bool		has_env = false;

	if (!caller_is_trusted())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set the principal"),
				 errdetail("Only superusers and members of rbac_admin may call rbac_set_principal."),
				 errhint("Application roles authenticate with rbac_authenticate().")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("principal must not be NULL")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("local must not be NULL")));
	name = PG_GETARG_TEXT_PP(0);
	local = PG_GETARG_BOOL(1);
	if (VARSIZE_ANY_EXHDR(name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("principal must not be empty")));

	values[0] = PointerGetDatum(name);
	rbac_priv_enter(&priv);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT p.id, k.tenant_id, k.environment "
								"FROM rbac.principals p "
								"LEFT JOIN rbac.api_keys k ON k.principal_id = p.id "
								"WHERE p.name = $1",
								1, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %d", ret);
	if (SPI_processed != 1)
	{
		char	   *shown = text_to_cstring(name);
		bool		cut = strlen(shown) > 64;

		if (cut)
			shown[pg_mbcliplen(shown, strlen(shown), 64)] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("principal \"%s%s\" does not exist", shown, cut ? "..." : "")));
	}
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		principal_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
		{
			char	   *e = SPI_getvalue(tup, desc, 3);

			has_tenant = true;
			tenant_id = DatumGetInt64(d);
			has_env = true;
			strlcpy(env, e, sizeof(env));
		}
	}
	SPI_finish();
	rbac_priv_exit(&priv);

	rbac_session_push(principal_id, has_tenant, tenant_id,
					  has_env ? env : NULL, local);
	PG_RETURN_INT64(principal_id);
}

Datum
rbac_reset(PG_FUNCTION_ARGS)
{
	rbac_session_clear();
	PG_RETURN_VOID();
}
