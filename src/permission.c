/*
 * permission.c
 *		The rbac_permission type: "resource.action", "resource.*", "*.action"
 *		or "*", stored as its canonical lower-case text.
 *
 * Because the stored form is canonical, equality, ordering and hashing are
 * plain byte operations.  Whether the names are registered is not checked
 * here (a type input function must not depend on table contents); grants
 * and checks do that.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "permission.h"

PG_FUNCTION_INFO_V1(rbac_permission_in);
PG_FUNCTION_INFO_V1(rbac_permission_out);
PG_FUNCTION_INFO_V1(rbac_permission_recv);
PG_FUNCTION_INFO_V1(rbac_permission_send);
PG_FUNCTION_INFO_V1(rbac_permission_eq);
PG_FUNCTION_INFO_V1(rbac_permission_ne);
PG_FUNCTION_INFO_V1(rbac_permission_lt);
PG_FUNCTION_INFO_V1(rbac_permission_le);
PG_FUNCTION_INFO_V1(rbac_permission_gt);
PG_FUNCTION_INFO_V1(rbac_permission_ge);
PG_FUNCTION_INFO_V1(rbac_permission_cmp);
PG_FUNCTION_INFO_V1(rbac_permission_hash);
PG_FUNCTION_INFO_V1(rbac_permission_covers);
PG_FUNCTION_INFO_V1(rbac_permission_covered_by);

void
rbac_permission_parse_or_error(const char *s, size_t len, RbacPermParts *out)
{
	RbacPermParseResult r = rbac_permission_parse(s, len, out);

	if (r != RBAC_PERM_OK)
	{
		/* quote at most a bounded prefix of hostile input */
		int			shown = len > 64 ? pg_mbcliplen(s, (int) len, 64) : (int) len;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type rbac_permission: \"%.*s\"%s",
						shown, s, len > (size_t) shown ? "..." : ""),
				 errdetail("%s", rbac_permission_parse_detail(r)),
				 errhint("Write resource.action, resource.*, *.action or *, for example \"pipeline.read\".")));
	}
}

static text *
parts_to_text(const RbacPermParts *p)
{
	char		buf[RBAC_PERM_MAXLEN + 1];
	size_t		n = rbac_permission_format(p, buf, sizeof(buf));

	return cstring_to_text_with_len(buf, (int) n);
}

void
rbac_permission_datum_parts(Datum d, RbacPermParts *out)
{
	text	   *t = DatumGetTextPP(d);

	rbac_permission_parse_or_error(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out);
}

Datum
rbac_permission_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	RbacPermParts p;

	rbac_permission_parse_or_error(s, strlen(s), &p);
	PG_RETURN_TEXT_P(parts_to_text(&p));
}

Datum
rbac_permission_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* Binary input re-validates: a client could send anything. */
Datum
rbac_permission_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *s = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);
	RbacPermParts p;

	rbac_permission_parse_or_error(s, (size_t) nbytes, &p);
	pfree(s);
	PG_RETURN_TEXT_P(parts_to_text(&p));
}

Datum
rbac_permission_send(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static int
permission_cmp(FunctionCallInfo fcinfo)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	int			la = VARSIZE_ANY_EXHDR(a);
	int			lb = VARSIZE_ANY_EXHDR(b);
	int			r = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	if (r != 0)
		return r;
	return (la > lb) - (la < lb);
}

Datum
rbac_permission_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) == 0);
}

Datum
rbac_permission_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) != 0);
}

Datum
rbac_permission_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) < 0);
}

Datum
rbac_permission_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) <= 0);
}

Datum
rbac_permission_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) > 0);
}

Datum
rbac_permission_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(permission_cmp(fcinfo) >= 0);
}

Datum
rbac_permission_cmp(PG_FUNCTION_ARGS)
{
	int			r = permission_cmp(fcinfo);

	PG_RETURN_INT32((r > 0) - (r < 0));
}

Datum
rbac_permission_hash(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	return hash_any((unsigned char *) VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* pattern @> permission: every part of the pattern is "*" or equal */
Datum
rbac_permission_covers(PG_FUNCTION_ARGS)
{
	RbacPermParts pattern;
	RbacPermParts perm;

	rbac_permission_datum_parts(PG_GETARG_DATUM(0), &pattern);
	rbac_permission_datum_parts(PG_GETARG_DATUM(1), &perm);
	PG_RETURN_BOOL(rbac_parts_cover(&pattern, &perm));
}

Datum
rbac_permission_covered_by(PG_FUNCTION_ARGS)
{
	RbacPermParts perm;
	RbacPermParts pattern;

	rbac_permission_datum_parts(PG_GETARG_DATUM(0), &perm);
	rbac_permission_datum_parts(PG_GETARG_DATUM(1), &pattern);
	PG_RETURN_BOOL(rbac_parts_cover(&pattern, &perm));
}
