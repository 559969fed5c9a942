/*
 * permparse.c
 *		Parser for permission text, shared by the rbac_permission type and the
 *		fuzz harnesses.
 *
 * This file deliberately does not include postgres.h: it has no server
 * dependency so that it can be linked into a standalone libFuzzer binary.
 * Every input is treated as untrusted bytes of a given length; nothing here
 * relies on a terminating NUL.
 */
#include <string.h>

#include "permparse.h"

static bool
is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Copy one part of a permission into dst, folding ASCII upper case to lower
 * case, and check it is "*" or a valid name.
 */
static bool
parse_part(const char *s, size_t len, char *dst)
{
	size_t		i;

	if (len == 1 && s[0] == '*')
	{
		dst[0] = '*';
		dst[1] = '\0';
		return true;
	}
	if (len == 0 || len > RBAC_NAME_MAXLEN)
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		if (!(is_lower(c) || (i > 0 && (is_digit(c) || c == '_'))))
			return false;
		dst[i] = (char) c;
	}
	dst[len] = '\0';
	return true;
}

RbacPermParseResult
rbac_permission_parse(const char *s, size_t len, RbacPermParts *out)
{
	const char *dot = NULL;
	size_t		i;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return RBAC_PERM_EMPTY;
	if (len > RBAC_PERM_MAXLEN)
		return RBAC_PERM_TOO_LONG;
	if (len == 1 && s[0] == '*')
	{
		out->resource[0] = '*';
		out->action[0] = '*';
		return RBAC_PERM_OK;
	}
	for (i = 0; i < len; i++)
	{
		if (s[i] == '.')
		{
			if (dot != NULL)
				return RBAC_PERM_TOO_MANY_DOTS;
			dot = s + i;
		}
	}
	if (dot == NULL)
		return RBAC_PERM_NO_DOT;
	if (!parse_part(s, (size_t) (dot - s), out->resource))
		return RBAC_PERM_BAD_RESOURCE;
	if (!parse_part(dot + 1, len - (size_t) (dot - s) - 1, out->action))
		return RBAC_PERM_BAD_ACTION;
	return RBAC_PERM_OK;
}

/*
 * Write the canonical text of p into buf (NUL-terminated) and return its
 * length.  bufsize must be at least RBAC_PERM_MAXLEN + 1.
 */
size_t
rbac_permission_format(const RbacPermParts *p, char *buf, size_t bufsize)
{
	size_t		rlen = strlen(p->resource);
	size_t		alen = strlen(p->action);

	if (bufsize < RBAC_PERM_MAXLEN + 1)
		return 0;
	if (strcmp(p->resource, "*") == 0 && strcmp(p->action, "*") == 0)
	{
		buf[0] = '*';
		buf[1] = '\0';
		return 1;
	}
	memcpy(buf, p->resource, rlen);
	buf[rlen] = '.';
	memcpy(buf + rlen + 1, p->action, alen);
	buf[rlen + 1 + alen] = '\0';
	return rlen + 1 + alen;
}

const char *
rbac_permission_parse_detail(RbacPermParseResult r)
{
	switch (r)
	{
		case RBAC_PERM_OK:
			return "valid permission";
		case RBAC_PERM_EMPTY:
			return "A permission must not be empty.";
		case RBAC_PERM_NO_DOT:
			return "A permission is written resource.action, or \"*\" for every permission.";
		case RBAC_PERM_TOO_MANY_DOTS:
			return "A permission has exactly one \".\" between resource and action.";
		case RBAC_PERM_BAD_RESOURCE:
			return "The resource must be \"*\" or a name matching [a-z][a-z0-9_]* of at most 63 bytes.";
		case RBAC_PERM_BAD_ACTION:
			return "The action must be \"*\" or a name matching [a-z][a-z0-9_]* of at most 63 bytes.";
		case RBAC_PERM_TOO_LONG:
			return "A permission is at most 127 bytes long.";
	}
	return "invalid permission";
}

/* Does pattern cover perm?  Each part of the pattern is "*" or equal. */
bool
rbac_parts_cover(const RbacPermParts *pattern, const RbacPermParts *perm)
{
	bool		res_ok = strcmp(pattern->resource, "*") == 0 ||
		strcmp(pattern->resource, perm->resource) == 0;
	bool		act_ok = strcmp(pattern->action, "*") == 0 ||
		strcmp(pattern->action, perm->action) == 0;

	return res_ok && act_ok;
}

bool
rbac_name_is_valid(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > RBAC_NAME_MAXLEN || !is_lower((unsigned char) s[0]))
		return false;
	for (i = 1; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!(is_lower(c) || is_digit(c) || c == '_'))
			return false;
	}
	return true;
}

bool
rbac_environment_is_valid(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > RBAC_ENV_MAXLEN || !is_lower((unsigned char) s[0]))
		return false;
	for (i = 1; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!(is_lower(c) || is_digit(c)))
			return false;
	}
	return true;
}
