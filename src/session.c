/*
 * session.c
 *		Who is acting: the principal set by rbac_authenticate or
 *		rbac_set_principal.
 *
 * The identity lives only in this backend's memory, so no SET or
 * set_config can forge it.  It follows the rules of SET and SET LOCAL: an
 * identity set with local => true ends with its transaction, one set in a
 * savepoint that is rolled back is undone, and a session-level identity
 * survives commits until rbac_reset(), DISCARD ALL or a failed
 * authentication.  The states form a stack; each records the
 * subtransaction that pushed it so aborts can pop exactly what they undo.
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "session.h"

static void session_xact_callback(XactEvent event, void *arg);
static void session_subxact_callback(SubXactEvent event,
									 SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);
static void session_process_utility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc);
static bool check_environment(char **newval, void **extra, GucSource source);
static void assign_environment(const char *newval, void *extra);

uint64		rbac_identity_generation = 1;
char	   *rbac_environment_guc = NULL;

static RbacIdentity *ident_top = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

void
rbac_session_init(void)
{
	DefineCustomStringVariable("qilin_rbac.environment",
							   "Environment of this database (development, staging, production, ...).",
							   "Used as the current environment when the principal is not an API key. "
							   "Only superusers can set it; meant for ALTER DATABASE ... SET.",
							   &rbac_environment_guc,
							   "",
							   PGC_SUSET,
							   0,
							   check_environment,
							   assign_environment,
							   NULL);

	RegisterXactCallback(session_xact_callback, NULL);
	RegisterSubXactCallback(session_subxact_callback, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = session_process_utility;
}

static bool
check_environment(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!rbac_environment_is_valid(*newval, strlen(*newval)))
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("An environment matches [a-z][a-z0-9]{0,15}.");
		return false;
	}
	return true;
}

static void
assign_environment(const char *newval, void *extra)
{
	rbac_identity_generation++;
}

static void
pop_one(void)
{
	RbacIdentity *top = ident_top;

	ident_top = top->prev;
	pfree(top);
}

void
rbac_session_push(int64 principal_id, bool has_tenant, int64 tenant_id,
				  const char *env, bool local)
{
	RbacIdentity *id = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(RbacIdentity));

	id->principal_id = principal_id;
	id->has_tenant = has_tenant;
	id->tenant_id = tenant_id;
	if (env != NULL)
	{
		id->has_env = true;
		strlcpy(id->env, env, sizeof(id->env));
	}
	id->local = local;
	id->subid = GetCurrentSubTransactionId();
	id->prev = ident_top;
	ident_top = id;
	rbac_identity_generation++;
}

/* Forget every identity at once, whatever the transaction does next. */
void
rbac_session_clear(void)
{
	while (ident_top != NULL)
		pop_one();
	rbac_identity_generation++;
}

const RbacIdentity *
rbac_session_current(void)
{
	return ident_top;
}

const char *
rbac_session_environment(void)
{
	if (ident_top != NULL && ident_top->has_env)
		return ident_top->env;
	if (rbac_environment_guc != NULL && rbac_environment_guc[0] != '\0')
		return rbac_environment_guc;
	return NULL;
}

static void
session_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			{
				/*
				 * As with SET after SET LOCAL: what survives is the topmost
				 * session-level identity; everything local ends here.
				 */
				RbacIdentity *keep = ident_top;

				if (ident_top == NULL)
					break;
				while (keep != NULL && keep->local)
					keep = keep->prev;
				while (ident_top != keep)
					pop_one();
				if (keep != NULL)
				{
					RbacIdentity *below = keep->prev;

					keep->prev = NULL;
					keep->subid = InvalidSubTransactionId;
					while (below != NULL)
					{
						RbacIdentity *next = below->prev;

						pfree(below);
						below = next;
					}
				}
				rbac_identity_generation++;
				break;
			}
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (ident_top != NULL && ident_top->subid != InvalidSubTransactionId)
			{
				while (ident_top != NULL &&
					   ident_top->subid != InvalidSubTransactionId)
					pop_one();
				rbac_identity_generation++;
			}
			break;
		default:
			break;
	}
}

static void
session_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	RbacIdentity *id;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			if (ident_top != NULL && ident_top->subid == mySubid)
			{
				while (ident_top != NULL && ident_top->subid == mySubid)
					pop_one();
				rbac_identity_generation++;
			}
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			for (id = ident_top; id != NULL; id = id->prev)
				if (id->subid == mySubid)
					id->subid = parentSubid;
			break;
		default:
			break;
	}
}

/* DISCARD ALL resets the session for a pooler: the identity goes too. */
static void
session_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DiscardStmt) &&
		((DiscardStmt *) parsetree)->target == DISCARD_ALL)
		rbac_session_clear();

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}
