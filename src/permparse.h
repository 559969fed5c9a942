/*
 * permparse.h
 *		Parsing of permission text ("resource.action" and its patterns) and of
 *		resource, action and environment names.
 *
 * Pure C with no server dependency, so the fuzz harnesses can link it.
 */
#ifndef QILIN_RBAC_PERMPARSE_H
#define QILIN_RBAC_PERMPARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest resource or action name, in bytes (like NAMEDATALEN - 1). */
#define RBAC_NAME_MAXLEN 63
/* Longest environment label: [a-z][a-z0-9]{0,15}. */
#define RBAC_ENV_MAXLEN 16
/* Longest canonical permission: name "." name. */
#define RBAC_PERM_MAXLEN (RBAC_NAME_MAXLEN * 2 + 1)

typedef enum RbacPermParseResult
{
	RBAC_PERM_OK = 0,
	RBAC_PERM_EMPTY,
	RBAC_PERM_NO_DOT,
	RBAC_PERM_TOO_MANY_DOTS,
	RBAC_PERM_BAD_RESOURCE,
	RBAC_PERM_BAD_ACTION,
	RBAC_PERM_TOO_LONG
} RbacPermParseResult;

/*
 * A parsed permission: each part is a name or "*" (any).  The canonical
 * text of "*.*" is "*".
 */
typedef struct RbacPermParts
{
	char		resource[RBAC_NAME_MAXLEN + 1];
	char		action[RBAC_NAME_MAXLEN + 1];
} RbacPermParts;

extern RbacPermParseResult rbac_permission_parse(const char *s, size_t len,
												 RbacPermParts *out);
extern size_t rbac_permission_format(const RbacPermParts *p, char *buf,
									 size_t bufsize);
extern const char *rbac_permission_parse_detail(RbacPermParseResult r);
extern bool rbac_parts_cover(const RbacPermParts *pattern,
							 const RbacPermParts *perm);

/* "[a-z][a-z0-9_]*", at most RBAC_NAME_MAXLEN bytes, exactly (no folding). */
extern bool rbac_name_is_valid(const char *s, size_t len);
/* "[a-z][a-z0-9]{0,15}" */
extern bool rbac_environment_is_valid(const char *s, size_t len);

#endif
