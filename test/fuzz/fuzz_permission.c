/*
 * fuzz_permission.c
 *		libFuzzer harness for src/permparse.c: permission text, resource and
 *		action names, environment labels.
 *
 * Built with -fsanitize=fuzzer,address,undefined, so a read past the given
 * length (the input buffer is exactly that long and has no terminating
 * NUL) or any undefined behaviour stops the run.  Beyond "does not crash"
 * it checks what the type relies on:
 *
 *  - parse agrees with an independent reference written from the grammar
 *    (result code and both parts);
 *  - a parsed permission formats to canonical text that parses back to the
 *    same parts and formats to the same text (a fixed point), holds no
 *    upper case, and is the input folded to lower case (except "*.*",
 *    whose canonical form is "*");
 *  - ASCII case never changes the result;
 *  - the name and environment checks agree with their references, and
 *    every valid environment label is a valid name;
 *  - "covers" agrees with its definition on a pair of inputs split at the
 *    first newline, is reflexive, and "*" covers everything.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "permparse.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); \
	abort(); } } while (0)

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* [a-z][a-z0-9_]* of at most 63 bytes, written as a character class test */
static int
ref_name(const char *s, size_t len)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyz";
	static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	size_t		i;

	if (len < 1 || len > 63)
		return 0;
	if (s[0] == '\0' || strchr(first, s[0]) == NULL)
		return 0;
	for (i = 1; i < len; i++)
		if (s[i] == '\0' || strchr(rest, s[i]) == NULL)
			return 0;
	return 1;
}

/* [a-z][a-z0-9]{0,15} */
static int
ref_env(const char *s, size_t len)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyz";
	static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t		i;

	if (len < 1 || len > 16)
		return 0;
	if (s[0] == '\0' || strchr(first, s[0]) == NULL)
		return 0;
	for (i = 1; i < len; i++)
		if (s[i] == '\0' || strchr(rest, s[i]) == NULL)
			return 0;
	return 1;
}

/* One part of a permission, folded: "*" or a name. */
static int
ref_part(const char *s, size_t len, char *out)
{
	size_t		i;

	if (len == 1 && s[0] == '*')
	{
		strcpy(out, "*");
		return 1;
	}
	if (len > 63)
		return 0;
	for (i = 0; i < len; i++)
		out[i] = (char) lower((unsigned char) s[i]);
	out[len] = '\0';
	return ref_name(out, len);
}

/* The grammar, read independently of the implementation. */
static RbacPermParseResult
ref_parse(const char *s, size_t len, RbacPermParts *out)
{
	const char *dot;
	size_t		ndots = 0;
	size_t		i;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return RBAC_PERM_EMPTY;
	if (len > 127)
		return RBAC_PERM_TOO_LONG;
	if (len == 1 && s[0] == '*')
	{
		strcpy(out->resource, "*");
		strcpy(out->action, "*");
		return RBAC_PERM_OK;
	}
	for (i = 0; i < len; i++)
		ndots += (s[i] == '.');
	if (ndots == 0)
		return RBAC_PERM_NO_DOT;
	if (ndots > 1)
		return RBAC_PERM_TOO_MANY_DOTS;
	dot = memchr(s, '.', len);
	if (!ref_part(s, (size_t) (dot - s), out->resource))
	{
		memset(out, 0, sizeof(*out));
		return RBAC_PERM_BAD_RESOURCE;
	}
	if (!ref_part(dot + 1, len - (size_t) (dot - s) - 1, out->action))
	{
		memset(out, 0, sizeof(*out));
		return RBAC_PERM_BAD_ACTION;
	}
	return RBAC_PERM_OK;
}

static void
check_one(const char *s, size_t len, RbacPermParts *parsed, RbacPermParseResult *result)
{
	RbacPermParts p;
	RbacPermParts ref;
	RbacPermParseResult r = rbac_permission_parse(s, len, &p);
	RbacPermParseResult rr = ref_parse(s, len, &ref);
	char	   *folded;
	size_t		i;

	CHECK(r == rr);
	CHECK(rbac_permission_parse_detail(r) != NULL);
	if (r == RBAC_PERM_OK)
	{
		char		buf[RBAC_PERM_MAXLEN + 1];
		char		buf2[RBAC_PERM_MAXLEN + 1];
		RbacPermParts again;
		size_t		n,
					n2;

		CHECK(strcmp(p.resource, ref.resource) == 0);
		CHECK(strcmp(p.action, ref.action) == 0);
		CHECK(strcmp(p.resource, "*") == 0 || rbac_name_is_valid(p.resource, strlen(p.resource)));
		CHECK(strcmp(p.action, "*") == 0 || rbac_name_is_valid(p.action, strlen(p.action)));

		n = rbac_permission_format(&p, buf, sizeof(buf));
		CHECK(n > 0 && n <= RBAC_PERM_MAXLEN && strlen(buf) == n);
		for (i = 0; i < n; i++)
			CHECK(!(buf[i] >= 'A' && buf[i] <= 'Z'));
		CHECK(rbac_permission_parse(buf, n, &again) == RBAC_PERM_OK);
		CHECK(memcmp(&again, &p, sizeof(p)) == 0);
		n2 = rbac_permission_format(&again, buf2, sizeof(buf2));
		CHECK(n2 == n && memcmp(buf, buf2, n) == 0);
		/* canonical text is the input folded, except "*.*" -> "*" */
		if (n == 1 && buf[0] == '*')
			CHECK(len == 1 || len == 3);
		else
		{
			CHECK(n == len);
			for (i = 0; i < len; i++)
				CHECK(buf[i] == lower((unsigned char) s[i]));
		}
		/* a too small buffer is refused, not overrun */
		CHECK(rbac_permission_format(&p, buf2, RBAC_PERM_MAXLEN) == 0);
		/* reflexive, and "*" covers everything */
		CHECK(rbac_parts_cover(&p, &p));
		{
			RbacPermParts all;

			CHECK(rbac_permission_parse("*", 1, &all) == RBAC_PERM_OK);
			CHECK(rbac_parts_cover(&all, &p));
		}
	}

	/* ASCII case never matters */
	folded = malloc(len ? len : 1);
	for (i = 0; i < len; i++)
		folded[i] = (char) lower((unsigned char) s[i]);
	{
		RbacPermParts pf;

		CHECK(rbac_permission_parse(folded, len, &pf) == r);
		if (r == RBAC_PERM_OK)
			CHECK(memcmp(&pf, &p, sizeof(p)) == 0);
	}
	free(folded);

	*parsed = p;
	*result = r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *nl = memchr(s, '\n', size);
	RbacPermParts p;
	RbacPermParseResult r;
	int			name_ok = rbac_name_is_valid(s, size);
	int			env_ok = rbac_environment_is_valid(s, size);

	/* the whole input as a name and as an environment label */
	CHECK(name_ok == ref_name(s, size));
	CHECK(env_ok == ref_env(s, size));
	if (env_ok)
		CHECK(name_ok);

	/* the whole input as a permission */
	check_one(s, size, &p, &r);

	/* two permissions split at the first newline: pattern and permission */
	if (nl != NULL)
	{
		RbacPermParts a;
		RbacPermParts b;
		RbacPermParseResult ra;
		RbacPermParseResult rb;

		check_one(s, (size_t) (nl - s), &a, &ra);
		check_one(nl + 1, size - (size_t) (nl - s) - 1, &b, &rb);
		if (ra == RBAC_PERM_OK && rb == RBAC_PERM_OK)
		{
			int			res = strcmp(a.resource, "*") == 0 || strcmp(a.resource, b.resource) == 0;
			int			act = strcmp(a.action, "*") == 0 || strcmp(a.action, b.action) == 0;
			int			cov = rbac_parts_cover(&a, &b);

			CHECK(cov == (res && act));
			/* both ways only when equal */
			if (cov && rbac_parts_cover(&b, &a))
				CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		}
	}
	return 0;
}
