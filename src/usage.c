/*
 * usage.c
 *		When each API key was last used, without a write per request.
 *
 * A successful authentication notes the key's use in rbac.key_usage, at
 * most once per key per qilin_rbac.last_used_interval.  That table has no
 * cache invalidation trigger (every write to rbac.api_keys marks every
 * backend's authorization cache stale, so the time is not kept there).
 *
 * - A backend-local memo remembers, per key, a moment at which the key is
 *   known to be recorded as used.  Within the interval after it, noting the
 *   key again is one hash probe: no SPI, no catalog lookup.
 * - The write happens inside the caller's transaction.  If that rolls back
 *   (or the savepoint around it does), the note is lost with it, and so is
 *   the memo entry: the next authentication tries again.
 * - Nothing is written during recovery (a hot standby simply does not
 *   advance the time), in a read-only, parallel or serializable
 *   transaction, or while the 1.0 schema, which has no rbac.key_usage, is
 *   installed (checked through the syscache, only on a memo miss).
 * - An authentication never waits for another session: the writer of a
 *   key's row first takes a private per-key lock without waiting, and a
 *   session that does not get it leaves the note to the one that has it.
 * - Only the key id and a time are written, never anything secret.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "usage.h"

static void usage_xact_callback(XactEvent event, void *arg);
static void usage_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);
static void memo_settle(bool forget, SubTransactionId subid,
						SubTransactionId parent);
static void memo_store(int64 key_id, TimestampTz noted_at, bool pending);
static bool usage_table_exists(void);
static SPIPlanPtr prepare_plan(const char *sql, int nargs, Oid *argtypes);
static bool record_use(int64 key_id, TimestampTz now, TimestampTz *noted_at,
					   bool *pending);

typedef struct UsageMemo
{
	int64		key_id;			/* hash key */
	TimestampTz noted_at;		/* the key is recorded as used at or after */
	SubTransactionId subid;		/* written by this open (sub)transaction;
								 * InvalidSubTransactionId once committed */
} UsageMemo;

/*
 * Beyond this many keys the memo starts over: a pooled backend may see a
 * great many keys, and forgetting costs only one more read per key.
 */
#define USAGE_MEMO_MAX_KEYS 10000

/*
 * Field 4 of an advisory lock tag tells its kinds apart: 1 and 2 are the
 * SQL functions' bigint and int4-pair forms.  3 is ours alone, so no
 * pg_advisory_lock() call can ever collide with it.
 */
#define USAGE_LOCK_FIELD4 3

static int	usage_interval_s = 3600;
static HTAB *usage_memo = NULL;
static int	usage_pending = 0;
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr write_plan = NULL;

void
rbac_usage_init(void)
{
	DefineCustomIntVariable("qilin_rbac.last_used_interval",
							"Precision of the last-used time of API keys.",
							"A key's last use is written at most once per key per "
							"interval; 0 turns the tracking off.",
							&usage_interval_s,
							3600,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	RegisterXactCallback(usage_xact_callback, NULL);
	RegisterSubXactCallback(usage_subxact_callback, NULL);
}

/*
 * Called by a successful authentication with the key's id.
 */
void
rbac_usage_note(int64 key_id)
{
	int64		interval = (int64) usage_interval_s * USECS_PER_SEC;
	TimestampTz now;
	TimestampTz noted_at;
	bool		pending;

	if (usage_interval_s <= 0)
		return;
	now = rbac_check_time();
	if (usage_memo != NULL)
	{
		UsageMemo  *memo = hash_search(usage_memo, &key_id, HASH_FIND, NULL);

		if (memo != NULL && now - memo->noted_at < interval)
			return;
	}
	if (RecoveryInProgress() || XactReadOnly || IsInParallelMode() ||
		IsolationIsSerializable())
		return;
	if (!usage_table_exists())
		return;
	if (record_use(key_id, now, &noted_at, &pending))
		memo_store(key_id, noted_at, pending);
}

/*
 * Read the key's row; if it is older than the interval, take the key's
 * private lock without waiting and write the new time.  Returns true with
 * the moment to remember, or false when nothing is known to be recorded
 * (another session is writing it right now).
 */
static bool
record_use(int64 key_id, TimestampTz now, TimestampTz *noted_at, bool *pending)
{
	int64		interval = (int64) usage_interval_s * USECS_PER_SEC;
	TimestampTz threshold = now - interval;
	RbacPrivState priv;
	Datum		values[3];
	LOCKTAG		tag;
	bool		done = false;
	int			ret;

	rbac_priv_enter(&priv);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (read_plan == NULL)
	{
		Oid			argtypes[1] = {INT8OID};

		read_plan = prepare_plan("SELECT last_used_at FROM rbac.key_usage "
								 "WHERE key_id = $1", 1, argtypes);
	}
	if (write_plan == NULL)
	{
		Oid			argtypes[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};

		write_plan = prepare_plan("INSERT INTO rbac.key_usage AS u (key_id, last_used_at) "
								  "VALUES ($1, $2) ON CONFLICT (key_id) DO UPDATE "
								  "SET last_used_at = excluded.last_used_at "
								  "WHERE u.last_used_at <= $3",
								  3, argtypes);
	}

	/* the latest snapshot, as for the key itself: what others committed */
	values[0] = Int64GetDatum(key_id);
	ret = SPI_execute_snapshot(read_plan, values, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %d", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull && DatumGetTimestampTz(d) > threshold)
		{
			*noted_at = DatumGetTimestampTz(d);
			*pending = false;
			done = true;
		}
	}

	if (!done)
	{
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ((uint64) key_id >> 32),
							 (uint32) key_id, USAGE_LOCK_FIELD4);
		/* held until the transaction ends, so the row is committed by then */
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			values[1] = TimestampTzGetDatum(now);
			values[2] = TimestampTzGetDatum(threshold);
			/* a fresh snapshot, taken after the lock: sees the last writer */
			ret = SPI_execute_snapshot(write_plan, values, NULL, GetLatestSnapshot(),
									   InvalidSnapshot, false, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "SPI_execute_snapshot failed: %d", ret);
			*noted_at = now;
			*pending = true;
			/* no row: another session wrote a fresh time just before */
			done = (SPI_processed == 1);
		}
	}
	SPI_finish();
	rbac_priv_exit(&priv);
	return done;
}

static SPIPlanPtr
prepare_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/* rbac.key_usage arrived with version 1.1; the same library serves 1.0. */
static bool
usage_table_exists(void)
{
	Oid			nsp = get_namespace_oid("rbac", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("key_usage", nsp));
}

static void
memo_store(int64 key_id, TimestampTz noted_at, bool pending)
{
	UsageMemo  *memo;
	bool		found;

	if (usage_memo == NULL || (hash_get_num_entries(usage_memo) >= USAGE_MEMO_MAX_KEYS &&
							   usage_pending == 0))
	{
		HASHCTL		ctl;

		if (usage_memo != NULL)
			hash_destroy(usage_memo);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(UsageMemo);
		ctl.hcxt = TopMemoryContext;
		usage_memo = hash_create("qilin_rbac key usage memo", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memo = hash_search(usage_memo, &key_id, HASH_ENTER, &found);
	if (found && memo->subid != InvalidSubTransactionId)
		usage_pending--;
	memo->noted_at = noted_at;
	memo->subid = pending ? GetCurrentSubTransactionId() : InvalidSubTransactionId;
	if (pending)
		usage_pending++;
}

/*
 * Settle the entries written by subtransaction subid (or by any, when subid
 * is invalid): forget them, or hand them to the parent (committed when the
 * parent is invalid).
 */
static void
memo_settle(bool forget, SubTransactionId subid, SubTransactionId parent)
{
	HASH_SEQ_STATUS status;
	UsageMemo  *memo;

	if (usage_pending == 0 || usage_memo == NULL)
		return;
	hash_seq_init(&status, usage_memo);
	while ((memo = hash_seq_search(&status)) != NULL)
	{
		if (memo->subid == InvalidSubTransactionId)
			continue;
		if (subid != InvalidSubTransactionId && memo->subid != subid)
			continue;
		if (forget)
		{
			usage_pending--;
			(void) hash_search(usage_memo, &memo->key_id, HASH_REMOVE, NULL);
		}
		else
		{
			memo->subid = parent;
			if (parent == InvalidSubTransactionId)
				usage_pending--;
		}
	}
}

static void
usage_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			memo_settle(false, InvalidSubTransactionId, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared transaction may yet roll back: write again later */
			memo_settle(true, InvalidSubTransactionId, InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
usage_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		memo_settle(true, mySubid, InvalidSubTransactionId);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		memo_settle(false, mySubid, parentSubid);
}
