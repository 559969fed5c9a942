/*
 * keyformat.c
 *		Generation, checking and hashing of API keys.
 *
 * A key is qk_<environment>_<random><check>: <random> is 32 base62
 * characters drawn with randombytes_uniform (about 190 bits), <check> is a
 * 32-bit BLAKE2b checksum of everything before it, in 6 base62 characters.
 * The checksum lets a scanner or rbac_verify_key reject a mistyped or
 * truncated key without a table lookup.  It is not a secret and adds no
 * strength; the random part does.
 *
 * Like permparse.c this file has no server dependency (so no postgres.h):
 * the fuzz harnesses link it directly.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "keyformat.h"

static const char base62[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Domain separation for the two uses of BLAKE2b. */
static const unsigned char check_domain[] = "qilin_rbac key checksum v1";
static const unsigned char hash_domain[] = "qilin_rbac key hash v1";

int
rbac_keyformat_init(void)
{
	return sodium_init();
}

static bool
is_base62(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		(c >= 'a' && c <= 'z');
}

/* Checksum of prefix[0..len) as RBAC_KEY_CHECK_CHARS base62 characters. */
static void
key_checksum(const char *prefix, size_t len, char out[RBAC_KEY_CHECK_CHARS])
{
	unsigned char digest[crypto_generichash_BYTES_MIN];
	uint32_t	v;
	int			i;

	crypto_generichash(digest, sizeof(digest),
					   (const unsigned char *) prefix, len,
					   check_domain, sizeof(check_domain) - 1);
	v = (uint32_t) digest[0] | ((uint32_t) digest[1] << 8) |
		((uint32_t) digest[2] << 16) | ((uint32_t) digest[3] << 24);
	/* 62^6 > 2^32, so six digits always suffice */
	for (i = RBAC_KEY_CHECK_CHARS - 1; i >= 0; i--)
	{
		out[i] = base62[v % 62];
		v /= 62;
	}
	sodium_memzero(digest, sizeof(digest));
}

/*
 * Check the shape and checksum of a key.  On success the environment label
 * is copied to env_out (RBAC_ENV_MAXLEN + 1 bytes).
 */
RbacKeyParseResult
rbac_key_parse(const char *key, size_t len, char *env_out)
{
	size_t		envlen = 0;
	size_t		bodystart;
	size_t		i;
	char		check[RBAC_KEY_CHECK_CHARS];
	int			differs;

	if (env_out)
		env_out[0] = '\0';
	if (len < 3 || memcmp(key, "qk_", 3) != 0)
		return RBAC_KEY_BAD_PREFIX;
	while (3 + envlen < len && key[3 + envlen] != '_' &&
		   envlen <= RBAC_ENV_MAXLEN)
		envlen++;
	if (3 + envlen >= len || key[3 + envlen] != '_' ||
		!rbac_environment_is_valid(key + 3, envlen))
		return RBAC_KEY_BAD_ENVIRONMENT;
	bodystart = 3 + envlen + 1;
	if (len - bodystart != RBAC_KEY_BODY_CHARS)
		return RBAC_KEY_BAD_LENGTH;
	for (i = bodystart; i < len; i++)
		if (!is_base62((unsigned char) key[i]))
			return RBAC_KEY_BAD_CHARACTER;
	key_checksum(key, len - RBAC_KEY_CHECK_CHARS, check);
	differs = sodium_memcmp(check, key + len - RBAC_KEY_CHECK_CHARS,
							RBAC_KEY_CHECK_CHARS);
	sodium_memzero(check, sizeof(check));
	if (differs != 0)
		return RBAC_KEY_BAD_CHECKSUM;
	if (env_out)
	{
		memcpy(env_out, key + 3, envlen);
		env_out[envlen] = '\0';
	}
	return RBAC_KEY_OK;
}

/*
 * Make a new key for env into out, NUL-terminated.  Returns false if env is
 * not a valid label or out is too small.
 */
bool
rbac_key_generate(const char *env, char *out, size_t outsize)
{
	size_t		envlen = strlen(env);
	size_t		pos;
	int			i;

	if (!rbac_environment_is_valid(env, envlen) ||
		outsize < 3 + envlen + 1 + RBAC_KEY_BODY_CHARS + 1)
		return false;
	memcpy(out, "qk_", 3);
	memcpy(out + 3, env, envlen);
	out[3 + envlen] = '_';
	pos = 3 + envlen + 1;
	for (i = 0; i < RBAC_KEY_RANDOM_CHARS; i++)
		out[pos++] = base62[randombytes_uniform(62)];
	key_checksum(out, pos, out + pos);
	pos += RBAC_KEY_CHECK_CHARS;
	out[pos] = '\0';
	return true;
}

/* The only form of a key that is ever stored. */
void
rbac_key_hash(const char *key, size_t len, unsigned char out[RBAC_KEY_HASH_BYTES])
{
	crypto_generichash(out, RBAC_KEY_HASH_BYTES,
					   (const unsigned char *) key, len,
					   hash_domain, sizeof(hash_domain) - 1);
}

const char *
rbac_key_parse_detail(RbacKeyParseResult r)
{
	switch (r)
	{
		case RBAC_KEY_OK:
			return "well-formed key";
		case RBAC_KEY_BAD_PREFIX:
			return "An API key starts with \"qk_\".";
		case RBAC_KEY_BAD_ENVIRONMENT:
			return "An API key names its environment after \"qk_\", as [a-z][a-z0-9]{0,15} followed by \"_\".";
		case RBAC_KEY_BAD_LENGTH:
			return "The body of an API key has the wrong length; the key may be truncated.";
		case RBAC_KEY_BAD_CHARACTER:
			return "The body of an API key holds only letters and digits.";
		case RBAC_KEY_BAD_CHECKSUM:
			return "The checksum at the end of the API key does not match; the key is mistyped.";
	}
	return "malformed key";
}
