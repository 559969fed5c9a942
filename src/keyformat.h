/*
 * keyformat.h
 *		The API key format qk_<environment>_<body>, its checksum and its
 *		storage hash.
 *
 * Pure C plus libsodium, no server dependency, so the fuzz harnesses can
 * link it.
 */
#ifndef QILIN_RBAC_KEYFORMAT_H
#define QILIN_RBAC_KEYFORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "permparse.h"

/* Random part of the body: base62 characters, about 190 bits. */
#define RBAC_KEY_RANDOM_CHARS 32
/* Checksum at the end of the body: 32 bits written as 6 base62 characters. */
#define RBAC_KEY_CHECK_CHARS 6
#define RBAC_KEY_BODY_CHARS (RBAC_KEY_RANDOM_CHARS + RBAC_KEY_CHECK_CHARS)
/* "qk_" env "_" body */
#define RBAC_KEY_MAXLEN (3 + RBAC_ENV_MAXLEN + 1 + RBAC_KEY_BODY_CHARS)
/* Characters of the body shown to humans in the display prefix. */
#define RBAC_KEY_DISPLAY_CHARS 4
#define RBAC_KEY_HASH_BYTES 32

typedef enum RbacKeyParseResult
{
	RBAC_KEY_OK = 0,
	RBAC_KEY_BAD_PREFIX,
	RBAC_KEY_BAD_ENVIRONMENT,
	RBAC_KEY_BAD_LENGTH,
	RBAC_KEY_BAD_CHARACTER,
	RBAC_KEY_BAD_CHECKSUM
} RbacKeyParseResult;

extern int	rbac_keyformat_init(void);
extern RbacKeyParseResult rbac_key_parse(const char *key, size_t len,
										 char *env_out);
extern bool rbac_key_generate(const char *env, char *out, size_t outsize);
extern void rbac_key_hash(const char *key, size_t len,
						  unsigned char out[RBAC_KEY_HASH_BYTES]);
extern const char *rbac_key_parse_detail(RbacKeyParseResult r);

#endif
