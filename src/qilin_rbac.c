/*
 * qilin_rbac.c
 *		Module entry point: libsodium, the session identity and the
 *		authorization cache are set up when the library is loaded.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "cache.h"
#include "keyformat.h"
#include "session.h"
#include "usage.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (rbac_keyformat_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libsodium")));
	rbac_usage_init();
	rbac_session_init();
	rbac_cache_init();

	/*
	 * Only once every setting is defined: a placeholder set before the
	 * library was loaded must still reach the setting it names.
	 */
	MarkGUCPrefixReserved("qilin_rbac");
}
