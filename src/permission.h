/*
 * permission.h
 *		The rbac_permission base type.
 */
#ifndef QILIN_RBAC_PERMISSION_H
#define QILIN_RBAC_PERMISSION_H

#include "fmgr.h"
#include "permparse.h"

/* Parse a stored rbac_permission datum (always canonical) into parts. */
extern void rbac_permission_datum_parts(Datum d, RbacPermParts *out);
/* Parse text into parts, raising 22P02 for malformed input. */
extern void rbac_permission_parse_or_error(const char *s, size_t len,
										   RbacPermParts *out);

#endif
