/*
 * support.c
 *		Planner support for rbac_has_permission(tenant_id, permission).
 *
 * A policy "USING (rbac_has_permission(tenant_id, 'product.read'))" is a
 * function call, which an index cannot use.  This support function tells
 * the planner two things about it:
 *
 *  - its selectivity: the share of the table's tenants in which the
 *    principal planning the query holds the permission;
 *  - an index condition: on a btree index over tenant_id it offers
 *    "tenant_id = ANY (rbac_permitted_tenants(permission))".  The array is
 *    computed when the scan starts (the function is stable), so a cached
 *    or prepared plan answers for whoever is current at execution, never
 *    for whoever planned it.  The condition is lossy: the check itself
 *    stays as a filter, so the index only narrows the rows it runs on.
 *
 * The planner estimates an array that is not a constant as ten elements;
 * so that a broad principal still gets a sequential scan, the condition is
 * offered only when the planning principal sees a small share of the
 * tenants (RBAC_INDEX_MAX_FRACTION).  Either plan returns the same rows.
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"

#include "cache.h"
#include "support.h"

static bool share_of_tenants(PlannerInfo *root, Node *tenant, Node *perm,
							 double *share);
static List *index_condition(SupportRequestIndexCondition *req);

PG_FUNCTION_INFO_V1(rbac_has_permission_support);

/*
 * The share of the table's distinct tenant ids in which the current
 * principal holds a constant permission.  False if it cannot be told.
 */
static bool
share_of_tenants(PlannerInfo *root, Node *tenant, Node *perm, double *share)
{
	VariableStatData vardata;
	bool		isdefault;
	double		ndistinct;
	int			count;

	if (root == NULL || !IsA(perm, Const) || ((Const *) perm)->constisnull)
		return false;
	if (!rbac_plan_permitted_count(((Const *) perm)->constvalue, &count))
		return false;
	examine_variable(root, tenant, 0, &vardata);
	ndistinct = get_variable_numdistinct(&vardata, &isdefault);
	ReleaseVariableStats(vardata);
	if (ndistinct < 1)
		ndistinct = 1;
	*share = Min(1.0, count / ndistinct);
	return true;
}

static List *
index_condition(SupportRequestIndexCondition *req)
{
	FuncExpr   *clause;
	IndexOptInfo *index = req->index;
	Node	   *tenant;
	Node	   *perm;
	Oid			eqop;
	Oid			permitted;
	Oid			permtype;
	char	   *nspname;
	FuncExpr   *tenants;
	ScalarArrayOpExpr *saop;
	double		share;

	if (!is_funcclause(req->node))
		return NIL;
	clause = (FuncExpr *) req->node;
	if (list_length(clause->args) != 2 || req->indexarg != 0)
		return NIL;
	tenant = linitial(clause->args);
	perm = lsecond(clause->args);

	if (index->relam != BTREE_AM_OID ||
		index->opcintype[req->indexcol] != INT8OID)
		return NIL;
	eqop = get_opfamily_member(req->opfamily, INT8OID, INT8OID,
							   BTEqualStrategyNumber);
	if (!OidIsValid(eqop))
		return NIL;

	/* the permission must be fixed for the scan: no column of this table */
	if (bms_is_member(index->rel->relid, pull_varnos(req->root, perm)) ||
		contain_volatile_functions(perm))
		return NIL;

	if (share_of_tenants(req->root, tenant, perm, &share) &&
		share > RBAC_INDEX_MAX_FRACTION)
		return NIL;

	/* rbac_permitted_tenants lives beside rbac_has_permission */
	nspname = get_namespace_name(get_func_namespace(clause->funcid));
	permtype = exprType(perm);
	if (nspname == NULL)
		return NIL;
	permitted = LookupFuncName(list_make2(makeString(nspname),
										  makeString("rbac_permitted_tenants")),
							   1, &permtype, true);
	if (!OidIsValid(permitted))
		return NIL;

	tenants = makeFuncExpr(permitted, INT8ARRAYOID, list_make1(copyObject(perm)),
						   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	saop = makeNode(ScalarArrayOpExpr);
	saop->opno = eqop;
	saop->opfuncid = get_opcode(eqop);
	saop->hashfuncid = InvalidOid;
	saop->negfuncid = InvalidOid;
	saop->useOr = true;
	saop->inputcollid = InvalidOid;
	saop->args = list_make2(copyObject(tenant), tenants);
	saop->location = -1;

	req->lossy = true;
	return list_make1(saop);
}

/*
 * rbac._has_permission_support(internal) -> internal
 */
Datum
rbac_has_permission_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestIndexCondition))
	{
		List	   *conds = index_condition((SupportRequestIndexCondition *) rawreq);

		if (conds != NIL)
			PG_RETURN_POINTER(conds);
	}
	else if (IsA(rawreq, SupportRequestSelectivity))
	{
		SupportRequestSelectivity *req = (SupportRequestSelectivity *) rawreq;
		double		share;

		if (list_length(req->args) == 2 &&
			share_of_tenants(req->root, linitial(req->args), lsecond(req->args),
							 &share))
		{
			req->selectivity = share;
			PG_RETURN_POINTER(req);
		}
	}
	PG_RETURN_POINTER(NULL);
}
