/*
 * keys.c
 *		API keys: making them, verifying them, authenticating with them.
 *
 * A key is shown once, when it is made, and then only its BLAKE2b hash is
 * kept.  Authentication hashes the presented key and probes the unique
 * index on the hash directly (no SPI): one hash, one index probe, no
 * write.  Nothing here
 * puts a key into an error message, and authentication errors hide the
 * statement and its context from the server log (errhidestmt,
 * errhidecontext), since the statement text
 * holds the key.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "keyformat.h"
#include "session.h"
#include "usage.h"

PG_FUNCTION_INFO_V1(rbac_generate_key);
PG_FUNCTION_INFO_V1(rbac_verify_key);
PG_FUNCTION_INFO_V1(rbac_authenticate);

typedef enum KeyStatus
{
	KEY_VALID,
	KEY_MALFORMED,
	KEY_NOT_FOUND,
	KEY_EXPIRED,
	KEY_REVOKED,
	KEY_WRONG_ENVIRONMENT
} KeyStatus;

static const char *const key_status_names[] = {
	"VALID", "MALFORMED", "NOT_FOUND", "EXPIRED", "REVOKED", "WRONG_ENVIRONMENT"
};

typedef struct KeyLookup
{
	KeyStatus	status;
	RbacKeyParseResult parse;
	bool		found;
	int64		key_id;
	int64		tenant_id;
	char		env[RBAC_ENV_MAXLEN + 1];
	bool		has_expires;
	TimestampTz expires_at;
	RbacKeyPrime prime;			/* for the cache, when VALID */
} KeyLookup;

/*
 * rbac._generate_key(environment text)
 *   -> (api_key text, key_hash bytea, display_prefix text)
 * Internal: called by rbac_issue_key and rbac_rotate_key, never by users.
 */
Datum
rbac_generate_key(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	char		key[RBAC_KEY_MAXLEN + 1];
	char	   *env;
	unsigned char hash[RBAC_KEY_HASH_BYTES];
	bytea	   *hashval;
	size_t		len;
	size_t		prefixlen;
	Datum		values[3];
	bool		nulls[3] = {0};
	HeapTuple	tuple;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("environment must not be NULL")));
	env = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!rbac_key_generate(env, key, sizeof(key)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid environment \"%.40s\"", env),
				 errdetail("An environment matches [a-z][a-z0-9]{0,15}.")));
	len = strlen(key);
	rbac_key_hash(key, len, hash);
	hashval = (bytea *) palloc(VARHDRSZ + RBAC_KEY_HASH_BYTES);
	SET_VARSIZE(hashval, VARHDRSZ + RBAC_KEY_HASH_BYTES);
	memcpy(VARDATA(hashval), hash, RBAC_KEY_HASH_BYTES);
	prefixlen = 3 + strlen(env) + 1 + RBAC_KEY_DISPLAY_CHARS;

	values[0] = PointerGetDatum(cstring_to_text_with_len(key, (int) len));
	values[1] = PointerGetDatum(hashval);
	values[2] = PointerGetDatum(cstring_to_text_with_len(key, (int) prefixlen));
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hash, sizeof(hash));
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* Column of a relation by name (the extension's own tables). */
static AttrNumber
column(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "column \"%s\" of \"%s\" not found", name, RelationGetRelationName(rel));
	return InvalidAttrNumber;	/* not reached */
}

/*
 * A btree index of rel whose first column is attnum.  Found once per
 * backend and table; the relcache's index list (no lock, no open) tells
 * whether it still exists.
 */
typedef struct IndexMemo
{
	Oid			relid;
	AttrNumber	attnum;
	Oid			indexid;
} IndexMemo;

#define INDEX_MEMO_SIZE 4
static IndexMemo index_memo[INDEX_MEMO_SIZE];

static Oid
index_on(Relation rel, AttrNumber attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;
	int			i;

	for (i = 0; i < INDEX_MEMO_SIZE; i++)
	{
		IndexMemo  *m = &index_memo[i];

		if (m->relid == RelationGetRelid(rel) && m->attnum == attnum &&
			list_member_oid(indexes, m->indexid))
		{
			list_free(indexes);
			return m->indexid;
		}
	}
	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);

		if (irel->rd_rel->relam == BTREE_AM_OID &&
			irel->rd_index->indkey.values[0] == attnum &&
			heap_attisnull(irel->rd_indextuple, Anum_pg_index_indpred, NULL))
			found = RelationGetRelid(irel);
		index_close(irel, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	if (!OidIsValid(found))
		elog(ERROR, "no index on column %d of \"%s\"", attnum, RelationGetRelationName(rel));
	for (i = 0; i < INDEX_MEMO_SIZE; i++)
	{
		IndexMemo  *m = &index_memo[i];

		if (m->relid == InvalidOid || i == INDEX_MEMO_SIZE - 1 ||
			(m->relid == RelationGetRelid(rel) && m->attnum == attnum))
		{
			m->relid = RelationGetRelid(rel);
			m->attnum = attnum;
			m->indexid = found;
			break;
		}
	}
	return found;
}

/* Open one of the extension's tables, or NULL if it is not installed. */
static Relation
open_table(const char *name)
{
	Oid			nsp = get_namespace_oid("rbac", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("qilin_rbac is not installed in this database"),
				 errhint("Run CREATE EXTENSION qilin_rbac.")));
	return table_open(relid, AccessShareLock);
}

/*
 * What the cache needs to answer for a valid key without another query
 * (see rbac_cache_prime_key): its live roles in its tenant and
 * environment, the first of them to expire, and whether it is in a group.
 */
static void
read_key_roles(KeyLookup *out, Snapshot snap, TimestampTz now)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	AttrNumber	a_principal,
				a_role,
				a_tenant,
				a_env,
				a_expires;
	int			cap = 4;

	rel = open_table("assignments");
	a_principal = column(rel, "principal_id");
	a_role = column(rel, "role_id");
	a_tenant = column(rel, "tenant_id");
	a_env = column(rel, "environment");
	a_expires = column(rel, "expires_at");
	out->prime.roles = palloc(sizeof(int64) * cap);
	ScanKeyInit(&key, a_principal, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(out->key_id));
	scan = systable_beginscan(rel, index_on(rel, a_principal), true, snap, 1, &key);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		if (DatumGetInt64(heap_getattr(tup, a_tenant, desc, &isnull)) != out->tenant_id)
			continue;
		d = heap_getattr(tup, a_env, desc, &isnull);
		if (!isnull && strcmp(TextDatumGetCString(d), out->env) != 0)
			continue;
		d = heap_getattr(tup, a_expires, desc, &isnull);
		if (!isnull)
		{
			if (DatumGetTimestampTz(d) <= now)
				continue;
			if (DatumGetTimestampTz(d) < out->prime.valid_until)
				out->prime.valid_until = DatumGetTimestampTz(d);
		}
		if (out->prime.nroles == cap)
		{
			cap *= 2;
			out->prime.roles = repalloc(out->prime.roles, sizeof(int64) * cap);
		}
		out->prime.roles[out->prime.nroles++] =
			DatumGetInt64(heap_getattr(tup, a_role, desc, &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	rel = open_table("group_members");
	a_principal = column(rel, "member_id");
	ScanKeyInit(&key, a_principal, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(out->key_id));
	scan = systable_beginscan(rel, index_on(rel, a_principal), true, snap, 1, &key);
	out->prime.in_group = (systable_getnext(scan) != NULL);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * Check a presented key: its shape and checksum first (no table touched),
 * then one probe of the unique index on the hash, read directly (no SPI,
 * no plan), on the latest snapshot: a revocation committed a moment ago
 * must count.  The key text is only read in place; no copy of it is made.
 * A valid key's roles are read along with it, for the cache.
 */
static void
lookup_key(text *key, KeyLookup *out)
{
	const char *k = VARDATA_ANY(key);
	size_t		len = VARSIZE_ANY_EXHDR(key);
	char		env[RBAC_ENV_MAXLEN + 1];
	unsigned char hash[RBAC_KEY_HASH_BYTES];
	bytea	   *hashval;
	TimestampTz now = rbac_check_time();
	Relation	rel;
	ScanKeyData skey;
	SysScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	AttrNumber	a_hash;

	memset(out, 0, sizeof(*out));
	out->parse = rbac_key_parse(k, len, env);
	if (out->parse != RBAC_KEY_OK)
	{
		out->status = KEY_MALFORMED;
		return;
	}
	rbac_key_hash(k, len, hash);
	hashval = (bytea *) palloc(VARHDRSZ + RBAC_KEY_HASH_BYTES);
	SET_VARSIZE(hashval, VARHDRSZ + RBAC_KEY_HASH_BYTES);
	memcpy(VARDATA(hashval), hash, RBAC_KEY_HASH_BYTES);
	sodium_memzero(hash, sizeof(hash));

	snap = RegisterSnapshot(GetLatestSnapshot());
	rel = open_table("api_keys");
	a_hash = column(rel, "key_hash");
	ScanKeyInit(&skey, a_hash, BTEqualStrategyNumber, F_BYTEAEQ,
				PointerGetDatum(hashval));
	scan = systable_beginscan(rel, index_on(rel, a_hash), true, snap, 1, &skey);
	tup = systable_getnext(scan);
	if (tup == NULL)
		out->status = KEY_NOT_FOUND;
	else
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;
		bool		revoked = false;
		bool		expired = false;

		out->found = true;
		out->key_id = DatumGetInt64(heap_getattr(tup, column(rel, "principal_id"), desc, &isnull));
		out->tenant_id = DatumGetInt64(heap_getattr(tup, column(rel, "tenant_id"), desc, &isnull));
		d = heap_getattr(tup, column(rel, "environment"), desc, &isnull);
		strlcpy(out->env, TextDatumGetCString(d), sizeof(out->env));
		out->prime.valid_until = DT_NOEND;
		d = heap_getattr(tup, column(rel, "expires_at"), desc, &isnull);
		if (!isnull)
		{
			out->has_expires = true;
			out->expires_at = DatumGetTimestampTz(d);
			expired = out->expires_at <= now;
			out->prime.valid_until = out->expires_at;
		}
		d = heap_getattr(tup, column(rel, "revoked_at"), desc, &isnull);
		if (!isnull)
		{
			/* may lie ahead: the end of a rotation's grace */
			revoked = DatumGetTimestampTz(d) <= now;
			if (DatumGetTimestampTz(d) < out->prime.valid_until)
				out->prime.valid_until = DatumGetTimestampTz(d);
		}
		(void) heap_getattr(tup, column(rel, "owner_id"), desc, &isnull);
		out->prime.has_owner = !isnull;

		if (revoked)
			out->status = KEY_REVOKED;
		else if (expired)
			out->status = KEY_EXPIRED;
		else if (rbac_environment_guc != NULL && rbac_environment_guc[0] != '\0' &&
				 strcmp(rbac_environment_guc, out->env) != 0)
			out->status = KEY_WRONG_ENVIRONMENT;
		else
			out->status = KEY_VALID;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (out->status == KEY_VALID)
	{
		out->prime.key_id = out->key_id;
		out->prime.tenant_id = out->tenant_id;
		strlcpy(out->prime.env, out->env, sizeof(out->prime.env));
		read_key_roles(out, snap, now);
	}
	UnregisterSnapshot(snap);
}

/*
 * rbac_verify_key(api_key text) -> (valid, status, key_id, tenant_id,
 * environment, expires_at).  Never raises for a bad key and never changes
 * the session.
 */
Datum
rbac_verify_key(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	KeyLookup	kl;
	Datum		values[6];
	bool		nulls[6] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
	{
		memset(&kl, 0, sizeof(kl));
		kl.status = KEY_MALFORMED;
	}
	else
		lookup_key(PG_GETARG_TEXT_PP(0), &kl);

	values[0] = BoolGetDatum(kl.status == KEY_VALID);
	values[1] = CStringGetTextDatum(key_status_names[kl.status]);
	if (kl.found)
	{
		values[2] = Int64GetDatum(kl.key_id);
		values[3] = Int64GetDatum(kl.tenant_id);
		values[4] = CStringGetTextDatum(kl.env);
		if (kl.has_expires)
			values[5] = TimestampTzGetDatum(kl.expires_at);
		else
			nulls[5] = true;
	}
	else
		nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * rbac_authenticate(api_key text, local boolean) -> bigint
 *
 * On failure the previous identity is gone (whatever the transaction does
 * next) and the error says why without echoing the key.
 */
Datum
rbac_authenticate(PG_FUNCTION_ARGS)
{
	KeyLookup	kl;
	bool		local = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	const char *why = NULL;
	uint64		mark;

	if (PG_ARGISNULL(0))
	{
		rbac_session_clear();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("API key authentication failed: no key was given"),
				 errhidestmt(true), errhidecontext(true)));
	}
	mark = rbac_cache_inval_mark();
	lookup_key(PG_GETARG_TEXT_PP(0), &kl);
	switch (kl.status)
	{
		case KEY_VALID:
			rbac_usage_note(kl.key_id);
			rbac_session_push(kl.key_id, true, kl.tenant_id, kl.env, local);
			rbac_cache_prime_key(&kl.prime, mark);
			PG_RETURN_INT64(kl.key_id);
		case KEY_MALFORMED:
			why = "the key is malformed";
			break;
		case KEY_NOT_FOUND:
			why = "the key is unknown";
			break;
		case KEY_EXPIRED:
			why = "the key has expired";
			break;
		case KEY_REVOKED:
			why = "the key has been revoked";
			break;
		case KEY_WRONG_ENVIRONMENT:
			why = "the key belongs to another environment";
			break;
	}
	rbac_session_clear();
	if (kl.status == KEY_MALFORMED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("API key authentication failed: %s", why),
				 errdetail("%s", rbac_key_parse_detail(kl.parse)),
				 errhidestmt(true), errhidecontext(true)));
	else if (kl.status == KEY_WRONG_ENVIRONMENT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("API key authentication failed: %s", why),
				 errdetail("The key is for environment \"%s\"; this database is \"%s\".",
						   kl.env, rbac_environment_guc),
				 errhidestmt(true), errhidecontext(true)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("API key authentication failed: %s", why),
			 errhidestmt(true), errhidecontext(true)));
	PG_RETURN_NULL();			/* not reached */
}
