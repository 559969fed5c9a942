/*
 * keys.c
 *		API keys: making them, verifying them, authenticating with them.
 *
 * A key is shown once, when it is made, and then only its BLAKE2b hash is
 * kept.  Authentication hashes the presented key and probes the unique
 * index on the hash: one hash, one index probe, no write.  Nothing here
 * puts a key into an error message, and authentication errors hide the
 * statement from the server log (errhidestmt), since the statement text
 * holds the key.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "keyformat.h"
#include "session.h"

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

static SPIPlanPtr lookup_plan = NULL;

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

/*
 * Check a presented key: its shape and checksum first (no table touched),
 * then one probe of the unique index on the hash.  The key text is only
 * read in place; no copy of it is made.
 */
static void
lookup_key(text *key, KeyLookup *out)
{
	const char *k = VARDATA_ANY(key);
	size_t		len = VARSIZE_ANY_EXHDR(key);
	char		env[RBAC_ENV_MAXLEN + 1];
	unsigned char hash[RBAC_KEY_HASH_BYTES];
	bytea	   *hashval;
	Datum		values[2];
	RbacPrivState priv;
	int			ret;
	TimestampTz now = rbac_check_time();

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
	values[0] = PointerGetDatum(hashval);
	values[1] = TimestampTzGetDatum(now);

	rbac_priv_enter(&priv);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (lookup_plan == NULL)
	{
		Oid			argtypes[2] = {BYTEAOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		/*
		 * Along with the key, what the cache needs to answer for it without
		 * another query (see rbac_cache_prime_key): its live roles in its
		 * tenant and environment and the first of them to expire.
		 */
		plan = SPI_prepare("SELECT k.principal_id, k.tenant_id, k.environment, k.expires_at, "
						   "  k.revoked_at, k.owner_id, "
						   "  EXISTS (SELECT 1 FROM rbac.group_members gm "
						   "          WHERE gm.member_id = k.principal_id), "
						   "  a.roles, a.first_expiry "
						   "FROM rbac.api_keys k, LATERAL ("
						   "  SELECT array_agg(a.role_id) AS roles, min(a.expires_at) AS first_expiry"
						   "  FROM rbac.assignments a"
						   "  WHERE a.principal_id = k.principal_id AND a.tenant_id = k.tenant_id"
						   "    AND (a.environment IS NULL OR a.environment = k.environment)"
						   "    AND (a.expires_at IS NULL OR a.expires_at > $2)) a "
						   "WHERE k.key_hash = $1",
						   2, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		lookup_plan = plan;
	}
	/* latest snapshot: a revocation committed a moment ago must count */
	ret = SPI_execute_snapshot(lookup_plan, values, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %d", ret);

	if (SPI_processed == 0)
		out->status = KEY_NOT_FOUND;
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		char	   *e;
		bool		revoked = false;
		bool		expired = false;

		out->found = true;
		out->key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		out->tenant_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		e = SPI_getvalue(tup, desc, 3);
		strlcpy(out->env, e, sizeof(out->env));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
		{
			out->has_expires = true;
			out->expires_at = DatumGetTimestampTz(d);
			expired = out->expires_at <= now;
		}
		d = SPI_getbinval(tup, desc, 5, &isnull);
		if (!isnull)
			revoked = DatumGetTimestampTz(d) <= now;

		out->prime.key_id = out->key_id;
		out->prime.tenant_id = out->tenant_id;
		strlcpy(out->prime.env, out->env, sizeof(out->prime.env));
		out->prime.valid_until = DT_NOEND;
		if (out->has_expires)
			out->prime.valid_until = out->expires_at;
		if (!isnull && DatumGetTimestampTz(d) < out->prime.valid_until)
			out->prime.valid_until = DatumGetTimestampTz(d);
		(void) SPI_getbinval(tup, desc, 6, &isnull);
		out->prime.has_owner = !isnull;
		out->prime.in_group = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		d = SPI_getbinval(tup, desc, 8, &isnull);
		if (!isnull)
		{
			ArrayType  *roles = DatumGetArrayTypeP(d);
			Datum	   *elems;
			int			i;

			/* palloc'd outside SPI's memory, which SPI_finish releases */
			deconstruct_array(roles, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &elems, NULL, &out->prime.nroles);
			out->prime.roles = SPI_palloc(sizeof(int64) * Max(out->prime.nroles, 1));
			for (i = 0; i < out->prime.nroles; i++)
				out->prime.roles[i] = DatumGetInt64(elems[i]);
		}
		d = SPI_getbinval(tup, desc, 9, &isnull);
		if (!isnull && DatumGetTimestampTz(d) < out->prime.valid_until)
			out->prime.valid_until = DatumGetTimestampTz(d);

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
	SPI_finish();
	rbac_priv_exit(&priv);
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
				 errhidestmt(true)));
	}
	mark = rbac_cache_inval_mark();
	lookup_key(PG_GETARG_TEXT_PP(0), &kl);
	switch (kl.status)
	{
		case KEY_VALID:
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
				 errhidestmt(true)));
	else if (kl.status == KEY_WRONG_ENVIRONMENT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("API key authentication failed: %s", why),
				 errdetail("The key is for environment \"%s\"; this database is \"%s\".",
						   kl.env, rbac_environment_guc),
				 errhidestmt(true)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("API key authentication failed: %s", why),
			 errhidestmt(true)));
	PG_RETURN_NULL();			/* not reached */
}
