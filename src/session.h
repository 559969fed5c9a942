/*
 * session.h
 *		The identity of the current principal, held in backend memory.
 */
#ifndef QILIN_RBAC_SESSION_H
#define QILIN_RBAC_SESSION_H

#include "permparse.h"

typedef struct RbacIdentity
{
	int64		principal_id;
	bool		has_tenant;		/* set for API keys: their only tenant */
	int64		tenant_id;
	bool		has_env;		/* set for API keys: their environment */
	char		env[RBAC_ENV_MAXLEN + 1];
	bool		local;			/* ends with the transaction */
	SubTransactionId subid;		/* set in this (sub)transaction; Invalid once
								 * committed */
	struct RbacIdentity *prev;
} RbacIdentity;

/* Bumped whenever the current identity or environment may have changed. */
extern uint64 rbac_identity_generation;
extern char *rbac_environment_guc;

extern void rbac_session_init(void);
extern void rbac_session_push(int64 principal_id, bool has_tenant,
							  int64 tenant_id, const char *env, bool local);
extern void rbac_session_clear(void);
extern const RbacIdentity *rbac_session_current(void);
extern const char *rbac_session_environment(void);

#endif
